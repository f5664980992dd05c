"""Helpers for the tools that load a trained model: build it from a config,
load a checkpoint with a clear error on a mismatch, draw image grids."""
from .model_loading import (CheckpointMismatchError, checkpoint_mismatches,
                            load_model, to_uint8_grid)

__all__ = [
    'CheckpointMismatchError', 'checkpoint_mismatches', 'load_model',
    'to_uint8_grid'
]
