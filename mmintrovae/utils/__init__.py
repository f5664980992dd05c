"""Utilities for mmintrovae's tools."""
from .config import enable_amp, load_config

__all__ = ['enable_amp', 'load_config']
