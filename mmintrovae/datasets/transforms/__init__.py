"""Data transforms of mmintrovae, registered in mmagic's ``TRANSFORMS``."""
from .loading import LoadImageOrSkip, UnreadableImageError

__all__ = ['LoadImageOrSkip', 'UnreadableImageError']
