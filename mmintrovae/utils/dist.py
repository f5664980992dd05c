"""Distributed set-up that also works on machines without a CUDA device.

Every mmintrovae config asks for ``env_cfg.dist_cfg.backend='nccl'``, which
needs GPUs. ``bash tools/dist_train.sh CONFIG N`` on a CPU-only machine
(CI, a laptop, the tests) therefore needs two changes, which
:func:`adapt_dist_cfg_to_device` makes when CUDA is not available:

1. the backend becomes ``'gloo'`` (torch's CPU backend);
2. mmengine 0.10.7's ``init_dist`` (``_init_dist_pytorch``) calls
   ``torch.cuda.set_device(local_rank)`` unconditionally before
   ``init_process_group``; without an NVIDIA driver that raises
   ``RuntimeError: Found no NVIDIA driver on your system``. Instead of
   patching torch or mmengine, the default process group is initialised
   here, with the config's ``dist_cfg`` (gloo, ``timeout`` in seconds, other
   ``init_process_group`` arguments), from the variables that torchrun sets
   (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``). mmengine's
   ``Runner.setup_env`` only calls ``init_dist`` when no process group
   exists yet, so it then skips it, and everything else (rank, world size,
   the model wrapper, samplers, collectives) goes through the normal path.

Only ``--launcher pytorch`` (torchrun, ``tools/dist_train.sh``) is handled
on CPU; mmengine's ``slurm`` and ``mpi`` launchers call
``torch.cuda.set_device`` as well and are refused with a clear message.
With CUDA available nothing changes.
"""
import datetime
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

__all__ = ['adapt_dist_cfg_to_device']

# The backends that need a CUDA device.
_CUDA_BACKENDS = ('nccl', )
_TORCHRUN_VARIABLES = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')


def adapt_dist_cfg_to_device(cfg: Config) -> Config:
    """Makes a distributed config run where there is no CUDA device, or
    fewer GPUs than processes.

    Call it in a tool right after loading the config (``cfg.launcher`` must
    be set, as ``mmintrovae.utils.load_config`` does). Does nothing when the
    launcher is ``'none'``, or with a GPU per process. With more processes
    than GPUs and gloo, it initialises the group so that the processes
    share the GPUs (NCCL gets a clear error). Without CUDA it switches
    ``env_cfg.dist_cfg.backend`` from ``'nccl'`` to ``'gloo'`` and, for the
    ``pytorch`` launcher, initialises the default process group itself so
    that mmengine's ``init_dist`` (which calls ``torch.cuda.set_device``) is
    skipped. See the module docstring.

    Args:
        cfg (Config): The config; ``env_cfg.dist_cfg`` is changed in place.

    Returns:
        Config: ``cfg``.

    Raises:
        RuntimeError: The launcher is ``slurm`` or ``mpi`` on a machine
            without CUDA, the backend is not usable on CPU, a torchrun
            variable is missing, or NCCL is asked for with fewer GPUs than
            processes.
    """
    launcher = cfg.get('launcher', 'none') or 'none'
    if launcher == 'none':
        return cfg
    if cfg.get('env_cfg') is None:
        cfg.env_cfg = ConfigDict()
    if cfg.env_cfg.get('dist_cfg') is None:
        cfg.env_cfg.dist_cfg = ConfigDict()
    dist_cfg = cfg.env_cfg.dist_cfg
    backend = dist_cfg.get('backend', 'nccl')
    if torch.cuda.is_available():
        _share_gpus(launcher, backend, dist_cfg)
        return cfg
    if backend in _CUDA_BACKENDS:
        print_log(
            f"No CUDA device: env_cfg.dist_cfg.backend '{backend}' -> "
            "'gloo' (distributed training on CPU).", 'current')
        dist_cfg.backend = backend = 'gloo'
    if backend != 'gloo':
        raise RuntimeError(
            f'Distributed training without a CUDA device needs the gloo '
            f"backend; env_cfg.dist_cfg.backend is '{backend}'.")
    if launcher != 'pytorch':
        raise RuntimeError(
            f"--launcher {launcher} needs a CUDA device: mmengine's "
            f'init_dist calls torch.cuda.set_device for it. On CPU, start the '
            'processes with torchrun (bash tools/dist_train.sh CONFIG N, or '
            'python -m torch.distributed.run ... --launcher pytorch).')
    if dist_cfg.get('init_backend', 'torch') != 'torch':
        raise RuntimeError(
            f"env_cfg.dist_cfg.init_backend='{dist_cfg.init_backend}' needs "
            "a CUDA device; use init_backend='torch' (the default) on CPU.")
    if not torch_dist.is_initialized():
        _init_cpu_process_group(dist_cfg)
    return cfg


def _share_gpus(launcher: str, backend: str, dist_cfg: ConfigDict) -> None:
    """More processes on this machine than GPUs (e.g. 2 on one GPU).

    mmengine's ``init_dist`` calls ``torch.cuda.set_device(local_rank)``,
    which fails for a local rank without its own GPU. With gloo the ranks
    can share GPUs: the group is initialised here and each process uses GPU
    ``local_rank % device_count``. NCCL refuses two ranks on one GPU, which
    gets a clear error instead of NCCL's. With a GPU per process nothing
    changes.
    """
    local_world = int(os.environ.get('LOCAL_WORLD_SIZE', 1))
    gpus = torch.cuda.device_count()
    if launcher != 'pytorch' or local_world <= gpus:
        return
    if backend != 'gloo':
        raise RuntimeError(
            f'{local_world} processes on this machine but {gpus} GPU(s): '
            f"env_cfg.dist_cfg.backend='{backend}' needs a GPU per process "
            '(NCCL refuses two ranks on one GPU). Start as many processes '
            "as GPUs, or set env_cfg.dist_cfg.backend='gloo' (e.g. "
            '--cfg-options env_cfg.dist_cfg.backend=gloo) to share them.')
    device = int(os.environ.get('LOCAL_RANK', 0)) % gpus
    torch.cuda.set_device(device)
    print_log(
        f'{local_world} processes share {gpus} GPU(s) over gloo: this one '
        f'uses cuda:{device}.', 'current')
    if not torch_dist.is_initialized():
        _init_cpu_process_group(dist_cfg)


def _init_cpu_process_group(dist_cfg: ConfigDict) -> None:
    """``init_process_group`` as mmengine's ``_init_dist_pytorch`` calls it,
    without ``torch.cuda.set_device`` (gloo)."""
    missing = [v for v in _TORCHRUN_VARIABLES if v not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch expects the variables torchrun sets; '
            f'{", ".join(missing)} missing. Start the processes with '
            'bash tools/dist_train.sh CONFIG N or python -m '
            'torch.distributed.run --nproc_per_node N tools/train.py CONFIG '
            '--launcher pytorch.')
    kwargs = {
        k: v
        for k, v in dist_cfg.items() if k not in ('backend', 'init_backend')
    }
    timeout = kwargs.get('timeout')
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)
