"""The stability guard stops every rank together on a NaN seen by one.

Two processes (gloo, CPU), started by hand as torchrun would start them
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_*``), each with its own
output, run ``tools/train.py --launcher pytorch`` on a tiny IntroVAE with a
checkpoint after every iteration and the process group's timeout at 600 s.
A test-only hook, on rank 1 only, replaces the logged ``loss_ae`` of
iteration 3 by NaN, as a diverging rank would log it (rank 0's values stay
finite). Both ranks must raise the same ``TrainingDivergedError`` (naming
iteration 3 and rank 1) within seconds, not after the timeout, and no
checkpoint from iteration 3 on may exist.
"""
import os
import re
import subprocess
import sys
import time

import pytest
import torch.distributed as torch_dist
from conftest import (REPO, free_port, load_tool, subprocess_env,
                      write_train_config)

TIMEOUT_S = 600
POISON_ITER = 3  # 1-based, as the messages count

POISON_HOOK = '''
"""Test-only hook: rank 1 logs a NaN loss_ae at one iteration."""
import os.path as osp
import time

from mmagic.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook


@HOOKS.register_module()
class PoisonRankOneHook(Hook):
    priority = 'HIGH'  # before the guard (ABOVE_NORMAL)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if get_rank() == 1 and runner.iter + 1 == {poison_iter}:
            outputs['loss_ae'] = outputs['loss_ae'] * float('nan')
            with open(osp.join(runner.work_dir, 'poisoned_at'), 'w') as f:
                f.write(repr(time.time()))
'''

# On tests/configs/tiny_train.py.
CONFIG = '''
_base_ = [{base!r}]
train_dataloader = dict(dataset=dict(data_root={data_root!r}))
train_cfg = dict(max_iters=6)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=10))
env_cfg = dict(dist_cfg=dict(backend='nccl', timeout={timeout}))
visualizer = dict(name={vis_name!r})
custom_imports = dict(imports=['mmintrovae', 'ivae_test_poison_hook'])
custom_hooks = [
    dict(type='IntroVAEStabilityGuardHook', interval=1),
    dict(type='PoisonRankOneHook'),
]
'''


def test_nan_on_one_rank_stops_both_at_once(tmp_path):
    if not torch_dist.is_available() or not torch_dist.is_gloo_available():
        pytest.skip('torch.distributed with gloo is not available')
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    faces = tmp_path / 'faces'
    make_synthetic_faces(str(faces), 16, size=16, seed=0, val_fraction=0.)
    (tmp_path / 'ivae_test_poison_hook.py').write_text(
        POISON_HOOK.format(poison_iter=POISON_ITER))
    config = write_train_config(
        tmp_path / 'dist_guard.py', CONFIG, data_root=faces, timeout=TIMEOUT_S)
    work = tmp_path / 'work'
    env = subprocess_env(
        tmp_path, REPO / 'tests', REPO, unset=['CUDA_VISIBLE_DEVICES'])
    env.update(
        WORLD_SIZE='2', MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    cmd = [
        sys.executable,
        str(REPO / 'tools' / 'train.py'), config, '--work-dir',
        str(work), '--launcher', 'pytorch'
    ]
    procs = [
        subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True) for rank in (0, 1)
    ]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=TIMEOUT_S / 2)
        outputs.append(out)
    ended = time.time()
    poisoned = float((work / 'poisoned_at').read_text())

    messages = []
    for rank, (proc, out) in enumerate(zip(procs, outputs)):
        assert proc.returncode != 0, f'rank {rank} went on:\n{out[-3000:]}'
        found = re.findall(r'TrainingDivergedError: (.*)', out)
        assert found, f'rank {rank} stopped otherwise:\n{out[-3000:]}'
        messages.append(found[-1])
    # The same message on both ranks, naming the iteration and the rank.
    assert messages[0] == messages[1], messages
    assert messages[0].startswith(
        f'IntroVAE training diverged at iteration {POISON_ITER}: '
        'loss_ae = nan on rank 1.'), messages[0]
    # Both stopped within seconds of the NaN, far from the group's timeout.
    assert ended - poisoned < 60, f'{ended - poisoned:.1f} s'
    # The last good checkpoint is the one before; none from the NaN on.
    assert (work / f'iter_{POISON_ITER - 1}.pth').is_file()
    assert not (work / f'iter_{POISON_ITER}.pth').exists()
    assert f'iter_{POISON_ITER - 1}.pth' in messages[0]
    assert os.path.basename(
        (work / 'last_checkpoint').read_text().strip()) == (
            f'iter_{POISON_ITER - 1}.pth')
