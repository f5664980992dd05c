"""Config handling shared by ``tools/train.py`` and ``tools/test.py``."""
import os
import os.path as osp
from argparse import Namespace

from mmengine.config import Config
from mmengine.logging import print_log

from ..plugins import resolve_config


def load_config(args: Namespace) -> Config:
    """Loads a config the way mmagic's tools do, plus plugin config names.

    ``args.config`` may be a file, or a name that a plugin's config
    directory or preset provides. ``--cfg-options``, ``--work-dir`` and
    ``--launcher`` are applied; the work dir defaults to
    ``./work_dirs/<config name>``.

    Args:
        args (Namespace): Parsed command-line arguments.

    Returns:
        Config: The config, ready for ``Runner.from_cfg``.
    """
    path = resolve_config(args.config)
    cfg = Config.fromfile(path)
    cfg.launcher = args.launcher
    if getattr(args, 'cfg_options', None):
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(getattr(args, 'local_rank', 0))
    return cfg


def enable_amp(cfg: Config) -> None:
    """Switches every optimizer wrapper of the config to AmpOptimWrapper.

    Args:
        cfg (Config): The config; ``optim_wrapper`` is changed in place.
    """
    optim = cfg.optim_wrapper
    wrappers = ([optim] if 'type' in optim else
                [v for v in optim.values() if isinstance(v, dict)])
    for wrapper in wrappers:
        if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log('AMP is already enabled in the config.', 'current')
            continue
        if wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
            raise ValueError(
                f"--amp needs optim_wrapper type 'OptimWrapper', got "
                f"{wrapper['type']!r}; set AmpOptimWrapper in the config.")
        wrapper['type'] = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
