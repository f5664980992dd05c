"""Data sets and data tools of mmintrovae."""
from .checks import check_dataset_folders
from .synthetic_faces import make_synthetic_faces
from .transforms import LoadImageOrSkip, UnreadableImageError

__all__ = [
    'check_dataset_folders', 'make_synthetic_faces', 'LoadImageOrSkip',
    'UnreadableImageError'
]
