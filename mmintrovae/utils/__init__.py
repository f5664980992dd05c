"""Utilities for mmintrovae's tools."""
from .config import enable_amp, load_config
from .dist import adapt_dist_cfg_to_device

__all__ = ['adapt_dist_cfg_to_device', 'enable_amp', 'load_config']
