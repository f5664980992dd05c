"""Times a distributed IntroVAE step with and without ``sync_bn``.

    python tools/benchmark_sync_bn.py CONFIG [--nproc 2] [--iters 20]
        [--warmup 3] [--batch-size N] [--device cpu|cuda] [--json OUT]

Starts ``--nproc`` processes with torchrun (gloo on the CPU; on GPUs NCCL
with one GPU per process, or gloo when there are fewer GPUs than processes:
NCCL refuses two ranks on one device) and, in each, builds the
config's model twice from the same weights: wrapped in
``IntroVAEDistributedWrapper`` with per-rank BatchNorm, and with
``sync_bn=True`` (``SyncBatchNorm2d``: two all-reduces per BatchNorm layer
and forward pass, and their backward). Both train on the same synthetic
batch (random uint8 images at the config's size, the config's per-rank batch
size), introspective steps only; the timed iterations interleave the two,
so other load slows them alike. Rank 0 prints the median ms per iteration of
each, its images/s over all ranks, and the ratio sync / per-rank.
"""
import argparse
import copy
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.distributed as torch_dist
from benchmark import build_benchmark_model  # tools/, beside this file
from mmengine import MessageHub
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mmintrovae  # noqa: F401  (registers the modules)
from mmintrovae.engine import IntroVAEDistributedWrapper
from mmintrovae.utils import read_config

# The launched processes read the command line from here: torchrun would
# take options such as --nproc as abbreviations of its own.
ARGV_VARIABLE = 'MMINTROVAE_BENCHMARK_SYNC_BN_ARGV'


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (``argv``, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='config file path or preset name')
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument(
        '--backend',
        choices=['nccl', 'gloo'],
        default=None,
        help='default: nccl with a GPU per process, else gloo')
    parser.add_argument('--json', default=None, help='also write the result')
    return parser.parse_args(argv)


def _launch(args: argparse.Namespace) -> int:
    """Re-runs this script under torchrun with ``--nproc`` processes."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        f'--nproc_per_node={args.nproc}', '--master_addr=127.0.0.1',
        f'--master_port={port}', __file__
    ]
    env = dict(os.environ, **{ARGV_VARIABLE: json.dumps(sys.argv[1:])})
    return subprocess.call(cmd, env=env)


def _batch(size: int, image_size: int) -> dict:
    from mmagic.datasets.transforms import PackInputs
    rng = np.random.default_rng(torch_dist.get_rank())
    pack = PackInputs()
    return pseudo_collate([
        pack(
            dict(
                gt=rng.integers(
                    0, 256, (image_size, image_size, 3), dtype=np.uint8)))
        for _ in range(size)
    ])


def _worker(args: argparse.Namespace) -> None:
    cuda = args.device == 'cuda'
    backend = args.backend or ('nccl' if cuda and torch.cuda.device_count()
                               >= int(os.environ['WORLD_SIZE']) else 'gloo')
    torch_dist.init_process_group(backend)
    rank, world = torch_dist.get_rank(), torch_dist.get_world_size()
    device = torch.device('cpu')
    if cuda:
        device = torch.device(
            'cuda',
            int(os.environ['LOCAL_RANK']) % torch.cuda.device_count())
        torch.cuda.set_device(device)
    cfg = read_config(args.config)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    # tools/benchmark.py's model: introspective steps only, a set margin.
    base = build_benchmark_model(cfg, notes=[])
    size = args.batch_size or cfg.train_dataloader.batch_size
    batch = _batch(size, base.decoder.image_size)
    MessageHub.get_instance('benchmark_sync_bn').update_info('iter', 0)
    modes = {}
    for name, sync_bn in (('per-rank BN', False), ('sync_bn', True)):
        model = copy.deepcopy(base).to(device)
        wrapper = IntroVAEDistributedWrapper(model, sync_bn=sync_bn)
        optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        modes[name] = (wrapper, optim, [])

    def step(wrapper, optim) -> float:
        if cuda:
            torch.cuda.synchronize(device)
        torch_dist.barrier()
        start = time.perf_counter()
        wrapper.train_step(batch, optim)
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for _ in range(args.warmup):
        for wrapper, optim, _times in modes.values():
            step(wrapper, optim)
    for _ in range(args.iters):
        for wrapper, optim, times in modes.values():
            times.append(step(wrapper, optim))
    if rank == 0:
        result = dict(
            config=args.config,
            device=torch.cuda.get_device_name(device) if cuda else 'cpu',
            world_size=world,
            backend=backend,
            batch_per_rank=size,
            iters=args.iters,
            modes={
                name:
                dict(
                    ms_per_iter=1e3 * statistics.median(times),
                    images_per_s=world * size / statistics.median(times))
                for name, (_w, _o, times) in modes.items()
            })
        per_rank, sync = (
            result['modes'][k]['ms_per_iter']
            for k in ('per-rank BN', 'sync_bn'))
        result['sync_over_per_rank'] = sync / per_rank
        print(f"{args.config}: {world} ranks x {size} images on "
              f"{result['device']} ({backend}), median of {args.iters} "
              'iterations')
        print('| BatchNorm | ms/iter | images/s |')
        print('| --- | --- | --- |')
        for name, row in result['modes'].items():
            print(f"| {name} | {row['ms_per_iter']:.1f} | "
                  f"{row['images_per_s']:.1f} |")
        print(f"sync_bn / per-rank step time: "
              f"{result['sync_over_per_rank']:.3f}x")
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(result, f, indent=1)
    torch_dist.destroy_process_group()


def main() -> None:
    """Launches the processes, or is one of them."""
    # The launched workers find their command line in ARGV_VARIABLE; its
    # absence (not LOCAL_RANK, which a shell or a caller may have set)
    # means this is the launcher.
    if ARGV_VARIABLE not in os.environ:
        sys.exit(_launch(parse_args()))
    _worker(parse_args(json.loads(os.environ[ARGV_VARIABLE])))


if __name__ == '__main__':
    main()
