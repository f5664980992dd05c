"""Building a trained model from its config and checkpoint.

Shared by ``tools/sample.py`` and ``tools/demo_app.py``. A checkpoint that
does not fit the config fails before any weight is copied, with one
:class:`CheckpointMismatchError` naming both files and every missing,
unexpected or differently shaped key (torch's own message names neither
file).
"""
import re
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
from torchvision.utils import make_grid

from ..utils import read_config

__all__ = [
    'CheckpointMismatchError', 'checkpoint_mismatches', 'load_model',
    'to_uint8_grid'
]

# Keys listed per kind of mismatch in an error message; the rest is counted.
MAX_LISTED = 8


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose weights do not fit the model its config builds."""


def load_model(config: str,
               checkpoint: str,
               device: str = 'cpu') -> Tuple[Config, nn.Module]:
    """Reads a config, builds its model and loads the checkpoint's weights.

    Args:
        config (str): Config file path or preset name (see
            :func:`mmintrovae.utils.read_config`).
        checkpoint (str): A checkpoint file of mmengine's Runner (or a bare
            state dict).
        device (str): Where the model goes. Defaults to ``'cpu'``.

    Returns:
        tuple[Config, nn.Module]: The config and the model, in eval mode on
        ``device``.

    Raises:
        CheckpointMismatchError: The checkpoint's keys or shapes differ from
            the model's.
    """
    from mmagic.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = read_config(config)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    model = MODELS.build(cfg.model)
    state_dict = _read_state_dict(checkpoint)
    problems = checkpoint_mismatches(model, state_dict)
    if problems:
        raise CheckpointMismatchError(
            f'The checkpoint {checkpoint} does not match the model of the '
            f'config {config}:\n  ' + '\n  '.join(problems) +
            '\nPass the config the checkpoint was trained with.')
    load_state_dict(model, state_dict, strict=True)
    return cfg, model.to(device).eval()


def checkpoint_mismatches(model: nn.Module,
                          state_dict: Dict[str, torch.Tensor]) -> List[str]:
    """What keeps ``state_dict`` from loading strictly into ``model``.

    Args:
        model (nn.Module): The model built from the config.
        state_dict (dict): The checkpoint's weights.

    Returns:
        list[str]: One line per kind of problem (missing keys, unexpected
        keys, shape mismatches); empty when the checkpoint fits.
    """
    expected = model.state_dict()
    # mmengine's strict loading ignores BatchNorm counters, so do we.
    missing = [
        k for k in expected
        if k not in state_dict and 'num_batches_tracked' not in k
    ]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f'{k}: checkpoint {tuple(v.shape)}, model '
        f'{tuple(expected[k].shape)}' for k, v in state_dict.items()
        if k in expected and hasattr(v, 'shape')
        and tuple(v.shape) != tuple(expected[k].shape)
    ]
    kinds = {
        'missing from the checkpoint': missing,
        'not in the model': unexpected,
        'of a different shape': shapes,
    }
    return [
        f'{len(keys)} key(s) {what}: {_listing(keys)}'
        for what, keys in kinds.items() if keys
    ]


def to_uint8_grid(images: torch.Tensor, model, nrow: int) -> np.ndarray:
    """Model-space images to one BGR uint8 grid, via the preprocessor."""
    pixels = model.data_preprocessor.destruct(images, None)  # BGR, 0..255
    grid = make_grid(pixels.float().cpu(), nrow=nrow, padding=2)
    return grid.permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def _read_state_dict(checkpoint: str) -> Dict[str, torch.Tensor]:
    """The weights of a checkpoint, without DDP's ``module.`` prefix."""
    data = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(data, dict):
        raise CheckpointMismatchError(
            f'No state_dict found in the checkpoint {checkpoint}')
    state_dict = data.get('state_dict', data)
    metadata = getattr(state_dict, '_metadata', None)
    revised = type(state_dict)(
        (re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    if metadata is not None:
        revised._metadata = metadata
    return revised


def _listing(keys: List[str]) -> str:
    """The first keys, comma-separated, and how many more there are."""
    text = ', '.join(keys[:MAX_LISTED])
    if len(keys) > MAX_LISTED:
        text += f', ... ({len(keys) - MAX_LISTED} more)'
    return text
