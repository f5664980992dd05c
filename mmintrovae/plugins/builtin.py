"""mmintrovae's own plugin: its configs, through the hooks.

Its modules are not registered here: their classes carry
``@MODELS.register_module()`` (and the like) and ``import mmintrovae``
imports them, as in every OpenMMLab package.

Its implementations are ``tryfirst``: pluggy calls them before those of
installed plugins, which can then extend or override what they return.
"""
import os.path as osp
from typing import Dict, List

from .hookspecs import hookimpl

_CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(__file__))), 'configs')


@hookimpl(tryfirst=True)
def mmintrovae_config_dirs() -> List[str]:
    """The repository's ``configs/`` (present in a source checkout)."""
    return [_CONFIG_DIR] if osp.isdir(_CONFIG_DIR) else []


@hookimpl(tryfirst=True)
def mmintrovae_config_presets() -> Dict[str, str]:
    """Short names for the main configs."""
    names = {
        'demo': 'introvae_demo-64.py',
        'celeba-128': 'introvae_celeba-128.py',
        'celeba-256': 'introvae_celeba-256.py',
        'celeba-1024': 'introvae_celeba-1024.py',
    }
    return {
        name: osp.join(_CONFIG_DIR, file)
        for name, file in names.items()
        if osp.isfile(osp.join(_CONFIG_DIR, file))
    }
