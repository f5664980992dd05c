"""Exact resume on 2 ranks: 6 iterations == 3, stop, resume, 3 more.

Two ``torchrun`` launches (2 processes, gloo, CPU) run ``tools/train.py``
with ``--launcher pytorch``: a tiny 16x16 IntroVAE (Adam, EMA decoder,
random horizontal Flip with ``num_workers=0``, so numpy draws in each rank's
main process, VAE warm-up for 4 iterations and ``margin='auto'`` measured
over iterations 3 and 4, ``sync_bn``), trained 6 iterations with a
checkpoint every 3; then resumed from ``iter_3.pth`` into another work dir.
``randomness.diff_rank_seed=True`` gives every rank its own generator
states, so resuming is exact only if every rank gets its own states back
(``RNGStateHook`` gathers them into the checkpoint's ``rng_state.ranks``).

Checked bit for bit: the logged values of iterations 4-6, the final weights
(EMA and margin included), optimizer states and every rank's RNG states.
Control, in the second launch: the same resume from a copy of
``iter_3.pth`` without ``rng_state.ranks`` (rank 0's states restored on
every rank, the behaviour before) does not reproduce the run.
"""
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import (REPO, assert_nested_close, free_port, load_tool,
                      logged_scalars, run_or_fail, subprocess_env,
                      write_train_config)

from mmintrovae.engine.safe_checkpoint import load_checkpoint_safely

# Runs each plan's train.py argument lists in one process.
DRIVER = REPO / 'tests' / 'train_driver.py'

# On tests/configs/tiny_train.py.
CONFIG = '''
_base_ = [{base!r}]
model = dict(
    vae_warmup_iters=4,
    loss_config=dict(margin_loss=dict(
        type='MarginHingeLoss', margin='auto', auto_window=2)),
    ema_config=dict(momentum=0.1))
model_wrapper_cfg = dict(sync_bn=True)
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='color'),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root={data_root!r}, pipeline=train_pipeline))
train_cfg = dict(max_iters=6)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=3, max_keep_ckpts=3))
randomness = dict(seed=0, deterministic=True, diff_rank_seed=True)
visualizer = dict(name={vis_name!r})
'''


def _launch(tmp: Path, name: str, runs: list) -> None:
    """Trains ``runs`` (train.py argument lists) in one torchrun launch."""
    plan = tmp / f'{name}.json'
    runs = [argv + ['--launcher', 'pytorch'] for argv in runs]
    plan.write_text(json.dumps(dict(runs=runs)))
    run_or_fail([
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        '--nproc_per_node=2', '--master_addr=127.0.0.1',
        f'--master_port={free_port()}', DRIVER, plan
    ],
                f'2-rank training ({name})',
                cwd=tmp,
                env=subprocess_env(
                    REPO / 'tests', REPO, unset=['CUDA_VISIBLE_DEVICES']),
                timeout=400)


@pytest.fixture(scope='module')
def resumed(tmp_path_factory):
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    tmp = tmp_path_factory.mktemp('dist_resume')
    faces = tmp / 'faces'
    make_synthetic_faces(str(faces), 16, size=16, seed=1, val_fraction=0.)
    # Two config files: runs of one process must not share a visualizer
    # (it would write the second run's scalars into the first's work dir).
    config, control_config = (
        write_train_config(tmp / f'{name}.py', CONFIG, data_root=faces)
        for name in ('dist_resume', 'dist_resume_rank0'))
    full, part, control = tmp / 'full', tmp / 'resumed', tmp / 'rank0_rng'
    _launch(tmp, 'full', [[config, '--work-dir', str(full)]])
    iter_3 = full / 'iter_3.pth'
    # The control's checkpoint: rank 0's states only, as before.
    stripped = tmp / 'iter_3_rank0_rng.pth'
    checkpoint = torch.load(iter_3, weights_only=False)
    del checkpoint['rng_state']['ranks']
    torch.save(checkpoint, stripped)
    _launch(
        tmp, 'resume',
        [[
            config, '--work-dir',
            str(part), '--resume', '--cfg-options', f'load_from={iter_3}'
        ],
         [
             control_config, '--work-dir',
             str(control), '--resume', '--cfg-options', f'load_from={stripped}'
         ]])
    return full, part, control


def test_checkpoint_holds_every_ranks_rng_state(resumed):
    full, _, _ = resumed
    state = load_checkpoint_safely(str(full / 'iter_3.pth'))['rng_state']
    assert state['world_size'] == 2 and len(state['ranks']) == 2
    rank0, rank1 = state['ranks']
    # diff_rank_seed: the ranks' generators differ, so rank 0's states
    # restored on rank 1 would be wrong.
    assert not torch.equal(rank0['torch'], rank1['torch'])
    assert not torch.equal(rank0['numpy']['keys'], rank1['numpy']['keys'])
    # Rank 0's entry is the states saved at the top level.
    assert torch.equal(rank0['torch'], state['torch'])


def test_resume_on_two_ranks_is_bit_exact(resumed):
    full, part, _ = resumed
    expected, got = logged_scalars(full), logged_scalars(part)
    assert sorted(expected) == [1, 2, 3, 4, 5, 6] and sorted(got) == [4, 5, 6]
    assert 'loss_vae' in got[4] and 'loss_encoder' in got[6]
    for it in (4, 5, 6):
        assert got[it] == expected[it], it
    a = load_checkpoint_safely(str(full / 'iter_6.pth'))
    b = load_checkpoint_safely(str(part / 'iter_6.pth'))
    assert any(k.startswith('decoder_ema.') for k in a['state_dict'])
    assert a['state_dict']['margin_loss.margin_value'] > 0
    assert_nested_close(a['state_dict'], b['state_dict'], 'state_dict')
    assert_nested_close(a['optimizer'], b['optimizer'], 'optimizer')
    assert_nested_close(a['rng_state'], b['rng_state'], 'rng_state')


def test_resume_with_rank0_states_only_is_not_exact(resumed):
    """Control: every rank restoring rank 0's states changes rank 1's noise
    and flips, and with them the run."""
    full, _, control = resumed
    assert sorted(logged_scalars(control)) == [4, 5, 6]
    a = load_checkpoint_safely(str(full / 'iter_6.pth'))['state_dict']
    b = load_checkpoint_safely(str(control / 'iter_6.pth'))['state_dict']
    diff = max((a[k].double() - b[k].double()).abs().max().item() for k in a
               if a[k].is_floating_point())
    assert diff > 1e-4, diff
