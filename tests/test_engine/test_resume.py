"""Exact resume: 6 iterations in one go == 3, stop, resume, 3 more.

A tiny 16x16 IntroVAE (Adam, an EMA decoder, a random horizontal Flip in
the pipeline, VAE warm-up for 4 iterations so that the resumed part crosses
into the introspective steps) trains 6 iterations with a checkpoint every
3, in one process. A NEW process resumes from ``iter_3.pth``
(``--resume`` with ``load_from``) into another work dir and trains to 6.
Both runs use ``randomness=dict(seed=0, deterministic=True)`` and
``num_workers=0``.

Exactness needs, besides what mmengine's Runner restores (weights and EMA,
optimizer moments, iteration, message hub; ``IterBasedTrainLoop`` replays
the sampler by fetching the 3 trained batches again), the random number
generators' states: IntroVAE draws ``torch.randn`` noise every step and
``Flip`` draws numpy numbers. ``RNGStateHook`` saves them in the checkpoint
and restores them right before the first new batch is fetched. The test
checks that iterations 4-6 log the same losses and that the final weights,
EMA and optimizer states are the same; and, as a control in the second
process, that resuming without the hook does not reproduce the losses.
The margin is ``'auto'``: measured over iterations 3 and 4, on both sides
of the resume, it must come out the same.
"""
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import (REPO, assert_nested_close, load_tool, logged_scalars,
                      run_or_fail, subprocess_env, write_train_config)

from mmintrovae.engine.safe_checkpoint import load_checkpoint_safely

TOLERANCE = 1e-6

# Runs each plan's train.py argument lists in one process.
DRIVER = REPO / 'tests' / 'train_driver.py'

# On tests/configs/tiny_train.py.
CONFIG = '''
_base_ = [{base!r}]
model = dict(
    vae_warmup_iters=4,
    # m is measured over the warm-up's last 2 iterations, which the resume
    # at iteration 3 splits between the two processes.
    loss_config=dict(margin_loss=dict(
        type='MarginHingeLoss', margin='auto', auto_window=2)),
    ema_config=dict(momentum=0.1))
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='color'),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root={data_root!r}, pipeline=train_pipeline))
train_cfg = dict(max_iters=6)
# The base runtime has RNGStateHook in default_hooks; the control run
# rebuilds default_hooks without it (_delete_=True).
default_hooks = dict(
    {delete}logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=3, max_keep_ckpts=3))
visualizer = dict(name={vis_name!r})
custom_imports = dict(
    imports=['mmintrovae', 'mmintrovae.engine.rng_state_hook'])
'''
WITH_RNG_HOOK = ''
WITHOUT_RNG_HOOK = '_delete_=True, '


def _run(tmp: Path, name: str, runs: list) -> None:
    """Trains ``runs`` (train.py argument lists) in one new process."""
    plan = tmp / f'{name}.json'
    plan.write_text(json.dumps(dict(runs=runs)))
    run_or_fail([sys.executable, DRIVER, plan],
                f'training ({name})',
                cwd=tmp,
                env=subprocess_env(REPO / 'tests', REPO))


@pytest.fixture(scope='module')
def resumed(tmp_path_factory):
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    tmp = tmp_path_factory.mktemp('resume')
    make_synthetic_faces(
        str(tmp / 'faces'), 10, size=16, seed=1, val_fraction=0.)
    faces = str(tmp / 'faces')
    config = write_train_config(
        tmp / 'resume_tiny.py', CONFIG, data_root=faces, delete=WITH_RNG_HOOK)
    control = write_train_config(
        tmp / 'resume_tiny_no_rng_hook.py',
        CONFIG,
        data_root=faces,
        delete=WITHOUT_RNG_HOOK)
    full, part, bare = tmp / 'full', tmp / 'resumed', tmp / 'no_rng_hook'
    _run(tmp, 'full', [[str(config), '--work-dir', str(full)]])
    iter_3 = str(full / 'iter_3.pth')
    _run(tmp, 'resume', [
        [
            str(config), '--work-dir',
            str(part), '--resume', '--cfg-options', f'load_from={iter_3}'
        ],
        [
            str(control), '--work-dir',
            str(bare), '--resume', '--cfg-options', f'load_from={iter_3}'
        ],
    ])
    return full, part, bare


def test_resume_reproduces_losses(resumed):
    full, part, _ = resumed
    expected, got = logged_scalars(full), logged_scalars(part)
    assert sorted(expected) == [1, 2, 3, 4, 5, 6]
    assert sorted(got) == [4, 5, 6]
    # Iteration 4 is a VAE step, 5 and 6 are introspective steps.
    assert 'loss_vae' in got[4] and 'loss_encoder' in got[6]
    for it in (4, 5, 6):
        assert got[it].keys() == expected[it].keys(), it
        for key, value in expected[it].items():
            assert got[it][key] == pytest.approx(
                value, rel=TOLERANCE, abs=TOLERANCE), (it, key)


def test_resume_reproduces_weights_ema_and_optimizer(resumed):
    full, part, _ = resumed
    a = load_checkpoint_safely(str(full / 'iter_6.pth'))
    b = load_checkpoint_safely(str(part / 'iter_6.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == 6
    assert any(k.startswith('decoder_ema.') for k in a['state_dict'])
    assert_nested_close(a['state_dict'], b['state_dict'], 'state_dict',
                        TOLERANCE)
    assert_nested_close(a['optimizer'], b['optimizer'], 'optimizer', TOLERANCE)
    # The generators end in the same state too.
    assert_nested_close(a['rng_state'], b['rng_state'], 'rng_state', TOLERANCE)


def test_checkpoint_rng_state_loads_weights_only(resumed):
    full, _, _ = resumed
    state = load_checkpoint_safely(str(full / 'iter_3.pth'))['rng_state']
    assert state['iter'] == 3
    assert set(state) >= {'torch', 'numpy', 'python', 'iter', 'world_size'}
    assert state['torch'].dtype == torch.uint8


def test_auto_margin_is_the_same_after_resume(resumed):
    """m = 1.5 x the mean KL of real images of iterations 3 and 4, whether
    or not the run was resumed between them."""
    full, part, _ = resumed
    expected, got = logged_scalars(full), logged_scalars(part)
    margin = 1.5 * (expected[3]['kl_real'] + expected[4]['kl_real']) / 2
    for it in (5, 6):
        assert expected[it]['margin'] == pytest.approx(margin, rel=1e-5)
        assert got[it]['margin'] == pytest.approx(margin, rel=1e-5)
    state = load_checkpoint_safely(str(part / 'iter_6.pth'))['state_dict']
    assert state['margin_loss.margin_value'].item() == pytest.approx(
        margin, rel=1e-5)
    assert state['margin_loss.observed_count'].item() == 2


def test_resume_without_rng_hook_is_not_exact(resumed):
    """Control: the weights and optimizer are restored, the noise is not."""
    full, _, bare = resumed
    expected, got = logged_scalars(full), logged_scalars(bare)
    assert got[4]['loss_ae'] != pytest.approx(
        expected[4]['loss_ae'], rel=TOLERANCE, abs=TOLERANCE)
