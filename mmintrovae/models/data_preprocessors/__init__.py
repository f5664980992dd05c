"""Data preprocessors of mmintrovae, registered in mmagic's ``MODELS``."""
from .batched_data_preprocessor import BatchedDataPreprocessor

__all__ = ['BatchedDataPreprocessor']
