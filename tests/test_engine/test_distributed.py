"""Distributed training on CPU through the Runner: 2 ranks == 1 process.

One ``torchrun`` launch (2 processes, gloo, CPU) runs ``tools/train.py``'s
``main`` with ``--launcher pytorch`` for tiny 16x16 IntroVAE configs on 24
synthetic faces, 3 iterations each (1 plain-VAE, 2 introspective), with SGD
(whose step is proportional to the gradient, so a gradient that is summed
instead of averaged shows; Adam would hide it), 2 images per rank, sharded
by mmengine's ``InfiniteSampler``:

* ``dist_sync``: the configs' wrapper with ``sync_bn=True``. With the
  model's noise drawn for the global batch (``global_batch_randn``), the
  hinge on the global batch mean and BatchNorm over the global batch, the
  2-rank run must equal the single-process run on 4 images per step
  (``single``) within :data:`TOLERANCE`: the same images (checked), the same
  noise, the same statistics, gradients averaged exactly once;
* ``dist_rank_bn``: the same without ``sync_bn`` (BatchNorm statistics per
  rank, the configs' default): the ranks still agree bit for bit, but miss
  the single-process run by far more than the tolerance; that is what the
  README states it costs.

After the group is destroyed, rank 0 runs the single-process reference
(``--launcher none``) in the same process, to save a second start-up of
mmagic. Each run dumps its weights (after training and at the start) and
the image names of each batch through a small hook in the tmp dir.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
from conftest import (REPO, free_port, load_tool, run_or_fail, subprocess_env,
                      write_train_config)
from mmengine.config import Config

from mmintrovae.utils.dist import adapt_dist_cfg_to_device

ITERS = 3
TOLERANCE = 1e-5

HOOK_MODULE = '''
"""Test-only hook: dumps weights and batch image names of each rank."""
import os.path as osp

import torch
from mmagic.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def _weights(runner):
    model = runner.model
    model = model.module if is_model_wrapper(model) else model
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@HOOKS.register_module()
class DumpWeightsHook(Hook):
    priority = 'LOWEST'

    def before_train(self, runner):
        self.paths = []
        self.initial = _weights(runner)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.paths.append(
            [osp.basename(s.gt_path) for s in data_batch['data_samples']])

    def after_train(self, runner):
        torch.save(
            dict(final=_weights(runner), initial=self.initial,
                 paths=self.paths),
            osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
'''

DRIVER = '''
"""Runs tools/train.py's main for several configs in one (torchrun) process:
first the distributed runs, then (rank 0 only, group destroyed) the
single-process ones."""
import json
import sys

import torch.distributed as dist
from conftest import load_tool

plan = json.load(open(sys.argv[1]))
tool = load_tool('train')
for cfg, work_dir in plan['distributed']:
    sys.argv = ['train.py', cfg, '--work-dir', work_dir, '--launcher',
                'pytorch']
    tool.main()
rank = dist.get_rank()
dist.destroy_process_group()
if rank == 0:
    for cfg, work_dir in plan['single']:
        sys.argv = ['train.py', cfg, '--work-dir', work_dir]
        tool.main()
'''

# On tests/configs/tiny_train.py.
CONFIG = '''
_base_ = [{base!r}]
model = dict(vae_warmup_iters=1)  # iteration 1: VAE step; 2, 3: introspective
model_wrapper_cfg = dict(sync_bn={sync_bn})
train_dataloader = dict(
    batch_size={batch_size}, dataset=dict(data_root={data_root!r}))
train_cfg = dict(max_iters={iters})
optim_wrapper = dict(
    encoder=dict(optimizer=dict(_delete_=True, type='SGD', lr=1e-4)),
    decoder=dict(optimizer=dict(_delete_=True, type='SGD', lr=1e-4)))
default_hooks = dict(checkpoint=dict(interval={iters}, max_keep_ckpts=1))
visualizer = dict(name={vis_name!r})
custom_imports = dict(imports=['mmintrovae', 'ivae_test_dump_hook'])
custom_hooks = [
    dict(type='IntroVAEStabilityGuardHook'),
    dict(type='DumpWeightsHook'),
]
'''


def _make_data(tmp: Path) -> Path:
    """24 synthetic faces."""
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    faces = tmp / 'faces'
    make_synthetic_faces(str(faces), 24, size=16, seed=0, val_fraction=0.)
    return faces


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Trains the four runs; returns {name: [dump of rank 0, rank 1...]}."""
    if not torch_dist.is_available() or not torch_dist.is_gloo_available():
        pytest.skip('torch.distributed with gloo is not available')
    tmp = tmp_path_factory.mktemp('dist')
    faces = _make_data(tmp)
    (tmp / 'ivae_test_dump_hook.py').write_text(HOOK_MODULE)
    (tmp / 'driver.py').write_text(DRIVER)
    # Distinct config names: mmengine names loggers and message hubs after
    # the config and the second, and these runs share one process.
    runs = dict(
        dist_sync=dict(batch_size=2, sync_bn=True),
        dist_rank_bn=dict(batch_size=2, sync_bn=False),
        single=dict(batch_size=4, sync_bn=True))
    configs = {
        name:
        write_train_config(
            tmp / f'{name}.py', CONFIG, data_root=faces, iters=ITERS, **fields)
        for name, fields in runs.items()
    }
    work = {name: tmp / f'work_{name}' for name in runs}
    plan = dict(
        distributed=[[configs[name], str(work[name])]
                     for name in ('dist_sync', 'dist_rank_bn')],
        single=[[configs['single'], str(work['single'])]])
    (tmp / 'plan.json').write_text(json.dumps(plan))
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        '--nproc_per_node=2', '--master_addr=127.0.0.1',
        f'--master_port={free_port()}',
        str(tmp / 'driver.py'),
        str(tmp / 'plan.json')
    ]
    proc = run_or_fail(
        cmd,
        'distributed training',
        cwd=tmp,
        env=subprocess_env(
            tmp, REPO / 'tests', REPO, unset=['CUDA_VISIBLE_DEVICES']))
    assert "'nccl' -> 'gloo'" in proc.stdout + proc.stderr
    dumps = {}
    for name, folder in work.items():
        ranks = 2 if name.startswith('dist') else 1
        dumps[name] = [
            torch.load(folder / f'rank{r}.pth', weights_only=True)
            for r in range(ranks)
        ]
        assert (folder / f'iter_{ITERS}.pth').is_file()
    return dumps


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a
               if a[k].is_floating_point())


def _network_keys(state: dict):
    return [k for k in state if k.startswith(('encoder.', 'decoder.'))]


@pytest.mark.parametrize('name', ['dist_sync', 'dist_rank_bn'])
def test_ranks_agree_on_sharded_data(runs, name):
    rank0, rank1 = runs[name]
    # The ranks trained on different images ...
    for paths0, paths1 in zip(rank0['paths'], rank1['paths']):
        assert not set(paths0) & set(paths1)
    # ... which together are exactly the single-process run's batches.
    single = runs['single'][0]
    assert len(single['paths']) == ITERS
    for paths0, paths1, paths in zip(rank0['paths'], rank1['paths'],
                                     single['paths']):
        assert sorted(paths0 + paths1) == sorted(paths)
    # Same start, and every parameter and buffer equal at the end.
    for key in rank0['initial']:
        assert torch.equal(rank0['initial'][key], rank1['initial'][key]), key
    for key in rank0['final']:
        assert torch.equal(rank0['final'][key], rank1['final'][key]), key
    keys = _network_keys(rank0['final'])
    assert any(k.endswith('running_mean') for k in keys)
    # Training changed the weights (the agreement is not vacuous).
    moved = max((rank0['final'][k] - rank0['initial'][k]).abs().max().item()
                for k in keys if rank0['final'][k].is_floating_point())
    assert moved > 1e-3


def test_two_ranks_equal_one_process_on_the_whole_batch(runs):
    """sync_bn: 2 ranks x 2 images == 1 process x 4 images (SGD, 3 steps)."""
    rank0 = runs['dist_sync'][0]
    single = runs['single'][0]
    assert _max_diff(rank0['initial'], single['initial']) == 0
    diff = _max_diff(rank0['final'], single['final'])
    assert diff <= TOLERANCE, (
        f'2-rank weights differ from the single-process run by {diff:.3g}')
    # Training moved the weights far more than the tolerance: a summed
    # (2x) gradient, per-rank noise or statistics would show.
    moved = _max_diff(single['final'], single['initial'])
    assert moved > 100 * TOLERANCE


def test_per_rank_batchnorm_is_not_one_process(runs):
    """Without sync_bn each rank normalises its own 2 images: the ranks
    agree, but the run is not the single process on 4 images."""
    diff = _max_diff(runs['dist_rank_bn'][0]['final'],
                     runs['single'][0]['final'])
    assert diff > 100 * TOLERANCE, diff


@pytest.mark.parametrize('tool,positional', [
    ('train', ['cfg.py']),
    ('test', ['cfg.py', 'ckpt.pth']),
])
def test_dist_sh_command(tmp_path, tool, positional):
    """tools/dist_{train,test}.sh run torchrun (tools/torchrun.sh) with the
    launcher and the port."""
    fake = tmp_path / 'fake_python'
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" '
                    '"PYTHONPATH=$PYTHONPATH"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake), PORT='29999')
    script = str(REPO / 'tools' / f'dist_{tool}.sh')
    cmd = ['bash', script, *positional, '2', '--work-dir', 'w']
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = proc.stdout.splitlines()
    assert args[:2] == ['-m', 'torch.distributed.run']
    assert '--nproc_per_node=2' in args
    assert '--master_port=29999' in args
    script_at = args.index(str(REPO / 'tools' / f'{tool}.py'))
    expected = [*positional, '--launcher', 'pytorch', '--work-dir', 'w']
    assert args[script_at + 1:] == expected + [args[-1]]
    assert args[-1].startswith('PYTHONPATH=')


# ----------------------------------------------------------------------
# adapt_dist_cfg_to_device
# ----------------------------------------------------------------------
def _torchrun_env(monkeypatch, **extra: str) -> None:
    """The variables torchrun sets for a world of one process (+ extra)."""
    env = dict(
        RANK='0',
        WORLD_SIZE='1',
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(free_port()),
        **extra)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def _cfg(launcher: str) -> Config:
    return Config(
        dict(
            launcher=launcher,
            env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))


def test_adapt_dist_cfg_no_launcher_or_cuda(monkeypatch):
    cfg = adapt_dist_cfg_to_device(_cfg('none'))
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')  # a GPU per process
    cfg = adapt_dist_cfg_to_device(_cfg('pytorch'))
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert not torch_dist.is_initialized()


def test_more_processes_than_gpus(monkeypatch):
    """2 processes on 1 GPU: NCCL is refused with the fix named; gloo gets
    its group here and each process its GPU (local_rank % GPUs)."""
    if torch_dist.is_initialized():
        pytest.skip('a process group already exists in this process')
    devices = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    monkeypatch.setattr(torch.cuda, 'set_device', devices.append)
    _torchrun_env(monkeypatch, LOCAL_RANK='1', LOCAL_WORLD_SIZE='2')
    with pytest.raises(RuntimeError) as err:
        adapt_dist_cfg_to_device(_cfg('pytorch'))
    assert str(err.value) == (
        "2 processes on this machine but 1 GPU(s): env_cfg.dist_cfg.backend="
        "'nccl' needs a GPU per process (NCCL refuses two ranks on one GPU). "
        'Start as many processes as GPUs, or set env_cfg.dist_cfg.backend='
        "'gloo' (e.g. --cfg-options env_cfg.dist_cfg.backend=gloo) to share "
        'them.')
    assert not devices and not torch_dist.is_initialized()
    cfg = _cfg('pytorch')
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    try:
        adapt_dist_cfg_to_device(cfg)
        assert devices == [0]  # local rank 1 on the only GPU
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def test_adapt_dist_cfg_cpu_initialises_gloo(monkeypatch):
    if torch.cuda.is_available():
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    if torch_dist.is_initialized():
        pytest.skip('a process group already exists in this process')
    _torchrun_env(monkeypatch, LOCAL_RANK='0')
    cfg = _cfg('pytorch')
    try:
        adapt_dist_cfg_to_device(cfg)
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert torch_dist.get_world_size() == 1
        # Idempotent: a second call keeps the group.
        adapt_dist_cfg_to_device(cfg)
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def test_adapt_dist_cfg_cpu_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='torchrun'):
        adapt_dist_cfg_to_device(_cfg('slurm'))
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    if not torch_dist.is_initialized():
        with pytest.raises(RuntimeError, match='MASTER_ADDR'):
            adapt_dist_cfg_to_device(_cfg('pytorch'))
    cfg = _cfg('pytorch')
    cfg.env_cfg.dist_cfg.backend = 'mpi'
    with pytest.raises(RuntimeError, match='gloo'):
        adapt_dist_cfg_to_device(cfg)
