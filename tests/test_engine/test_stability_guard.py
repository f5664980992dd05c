"""The stability guard stops a diverging run and keeps the good checkpoint."""
import os.path as osp

import pytest
import torch
from conftest import tiny_runner_cfg
from mmagic.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmintrovae.engine import TrainingDivergedError, load_checkpoint_safely


@HOOKS.register_module(force=True)
class _PoisonWeightsHook(Hook):
    """Test helper: writes NaN into a decoder weight before one iteration."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            with torch.no_grad():
                runner.model.decoder.fc[0].weight.fill_(float('nan'))


def test_nan_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=8,
        custom_hooks=[
            dict(type='IntroVAEStabilityGuardHook'),
            dict(type='_PoisonWeightsHook', at_iter=4),
        ])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(TrainingDivergedError) as err:
        runner.train()
    message = str(err.value)
    assert 'iteration 5' in message
    assert 'nan' in message.lower()
    assert 'iter_3.pth' in message  # the last good checkpoint is named
    assert 'lower learning rate' in message and 'vae_warmup_iters' in message
    work = tmp_path / 'work'
    assert not (work / 'iter_6.pth').exists()
    state = load_checkpoint_safely(str(work / 'iter_3.pth'))['state_dict']
    assert all(
        torch.isfinite(v).all() for v in state.values()
        if v.is_floating_point())
    assert osp.isfile(work / 'last_checkpoint')
    with open(work / 'last_checkpoint') as f:
        assert f.read().strip().endswith('iter_3.pth')


def test_runaway_kl_is_named(tmp_path):
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=2,
        custom_hooks=[dict(type='IntroVAEStabilityGuardHook', max_kl=1e-3)])
    with pytest.raises(TrainingDivergedError, match='kl_real = .* max_kl'):
        Runner.from_cfg(cfg).train()


def test_broken_weights_are_never_saved(tmp_path):
    """Weights that went non-finite while every logged loss was finite."""
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=3,
        ckpt_interval=1,
        custom_hooks=[dict(type='IntroVAEStabilityGuardHook')])
    runner = Runner.from_cfg(cfg)
    runner.train()
    with torch.no_grad():
        runner.model.encoder.fc.bias[0] = float('inf')
    with pytest.raises(TrainingDivergedError, match='encoder.fc.bias'):
        runner.save_checkpoint(runner.work_dir, 'broken.pth')
    assert not (tmp_path / 'work' / 'broken.pth').exists()


def _poisoned_runner(tmp_path, ckpt_interval: int) -> Runner:
    """12 iterations, guard interval 4, NaN weights before iteration 5."""
    return Runner.from_cfg(
        tiny_runner_cfg(
            tmp_path,
            max_iters=12,
            ckpt_interval=ckpt_interval,
            custom_hooks=[
                dict(type='IntroVAEStabilityGuardHook', interval=4),
                dict(type='_PoisonWeightsHook', at_iter=4),
            ]))


def test_deferred_check_stops_within_interval_before_any_bad_save(tmp_path):
    """interval=4: values are read every 4 iterations and before each
    checkpoint; a NaN at iteration 5 stops the run at the iteration-6
    checkpoint, which is not written, and names iteration 5."""
    runner = _poisoned_runner(tmp_path, ckpt_interval=3)
    with pytest.raises(TrainingDivergedError) as err:
        runner.train()
    assert 'iteration 5:' in str(err.value)
    assert 'iter_3.pth' in str(err.value)
    assert runner.iter + 1 <= 5 + 4  # stopped within the interval
    work = tmp_path / 'work'
    assert (work / 'iter_3.pth').exists()
    assert not (work / 'iter_6.pth').exists()


def test_deferred_check_without_checkpoints_stops_at_the_interval(tmp_path):
    runner = _poisoned_runner(tmp_path, ckpt_interval=1000)
    with pytest.raises(TrainingDivergedError, match='iteration 5:'):
        runner.train()
    assert runner.iter + 1 == 8  # the first read after the NaN


def test_guard_interval_follows_the_logger(tmp_path):
    from mmintrovae.engine import IntroVAEStabilityGuardHook
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=2,
        custom_hooks=[dict(type='IntroVAEStabilityGuardHook')],
        default_hooks=dict(logger=dict(type='LoggerHook', interval=7)))
    runner = Runner.from_cfg(cfg)
    runner.train()
    guard = next(
        h for h in runner.hooks if isinstance(h, IntroVAEStabilityGuardHook))
    assert guard.interval == 7
    with pytest.raises(ValueError, match='interval=0'):
        IntroVAEStabilityGuardHook(interval=0)
