"""Data sets and data tools of mmintrovae."""
from .checks import check_dataset_folders
from .transforms import LoadImageOrSkip, UnreadableImageError

__all__ = ['check_dataset_folders', 'LoadImageOrSkip', 'UnreadableImageError']
