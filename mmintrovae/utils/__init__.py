"""Utilities for mmintrovae's tools."""
from .config import add_runner_arguments, enable_amp, load_config, read_config
from .dist import adapt_dist_cfg_to_device

__all__ = [
    'add_runner_arguments', 'adapt_dist_cfg_to_device', 'enable_amp',
    'load_config', 'read_config'
]
