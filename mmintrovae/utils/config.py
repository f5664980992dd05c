"""Reading configs: the one way every tool and the APIs load a config."""
import os
import os.path as osp
from argparse import ArgumentParser, Namespace
from typing import Optional

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from ..plugins import resolve_config


def read_config(name: str, cfg_options: Optional[dict] = None) -> Config:
    """Reads a config by file path or plugin name, with overrides.

    Args:
        name (str): A config file, or a name that a plugin's preset or
            config directory provides (see
            :func:`mmintrovae.plugins.resolve_config`).
        cfg_options (dict, optional): ``key=value`` overrides merged into
            the config, as ``--cfg-options`` gives them. Defaults to None.

    Returns:
        Config: The config; ``cfg.filename`` is the file it was read from.

    Raises:
        FileNotFoundError: ``name`` is neither a file nor a known name.
    """
    cfg = Config.fromfile(resolve_config(name))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def add_runner_arguments(parser: ArgumentParser, example: str) -> None:
    """Adds the options :func:`load_config` reads besides the config.

    ``--cfg-options``, ``--launcher`` and ``--local_rank``, as mmagic's
    tools have them.

    Args:
        parser (ArgumentParser): The tool's parser.
        example (str): A ``key=value`` for the ``--cfg-options`` help.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config keys, e.g. {example}')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: Namespace) -> Config:
    """Loads a config the way mmagic's train and test tools do.

    :func:`read_config` reads ``args.config`` (a file or a plugin's config
    name) with ``--cfg-options``; then ``--work-dir`` and
    ``--launcher`` are applied; the work dir defaults to
    ``./work_dirs/<config name>``.

    Args:
        args (Namespace): Parsed command-line arguments.

    Returns:
        Config: The config, ready for ``Runner.from_cfg``.
    """
    cfg = read_config(args.config, getattr(args, 'cfg_options', None))
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(cfg.filename))[0])
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(getattr(args, 'local_rank', 0))
    return cfg


AMP_DTYPES = ('bf16', 'fp16')


def enable_amp(cfg: Config, dtype: str = 'bf16') -> None:
    """Switches every optimizer wrapper of the config to mixed precision.

    ``'bf16'``: :class:`~mmintrovae.engine.BF16OptimWrapper`, bfloat16
    autocast without loss scaling, on CPU or GPU. ``'fp16'``: mmengine's
    ``AmpOptimWrapper`` with float16 and a dynamic ``GradScaler`` (GPU
    only). The encoder's and the decoder's wrappers are switched alike.

    Args:
        cfg (Config): The config; ``optim_wrapper`` is changed in place.
        dtype (str): ``'bf16'`` (default) or ``'fp16'``.

    Raises:
        ValueError: For another dtype, or a wrapper that is neither
            ``OptimWrapper`` nor already a mixed-precision one.
    """
    if dtype not in AMP_DTYPES:
        raise ValueError(f'--amp {dtype!r}: choose one of {AMP_DTYPES}.')
    target = 'BF16OptimWrapper' if dtype == 'bf16' else 'AmpOptimWrapper'
    optim = cfg.optim_wrapper
    wrappers = ([optim] if 'type' in optim else
                [v for v in optim.values() if isinstance(v, dict)])
    for wrapper in wrappers:  # check all before changing any
        kind = wrapper.get('type', 'OptimWrapper')
        if kind not in ('OptimWrapper', target):
            raise ValueError(
                f"--amp {dtype} needs optim_wrapper type 'OptimWrapper', got "
                f"{kind!r}; set {target} in the config instead.")
    for wrapper in wrappers:
        if wrapper.get('type', 'OptimWrapper') == target:
            print_log(f'{target} is already set in the config.', 'current')
            continue
        wrapper['type'] = target
        if dtype == 'fp16':
            wrapper.setdefault('loss_scale', 'dynamic')
            wrapper.setdefault('dtype', 'float16')
