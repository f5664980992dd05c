"""DeferredRuntimeInfoHook logs what mmengine's RuntimeInfoHook logs, with
one device-to-host transfer per logger interval."""
import numpy as np
import pytest
import torch
from conftest import tiny_runner_cfg
from mmengine.runner import Runner

import mmintrovae.engine.deferred_runtime_info_hook as deferred
from mmintrovae.engine import DeferredRuntimeInfoHook


def _run(tmp_path, runtime_info, max_iters=10, interval=4):
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=max_iters,
        custom_hooks=[],
        ckpt_interval=6,
        randomness=dict(seed=0, deterministic=True),
        model=None)
    cfg['default_hooks']['logger'] = dict(type='LoggerHook', interval=interval)
    cfg['default_hooks']['runtime_info'] = runtime_info
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_same_history_fewer_transfers(tmp_path, monkeypatch):
    calls = []
    real = deferred.stack_scalars
    monkeypatch.setattr(deferred, 'stack_scalars',
                        lambda rows: calls.append(len(rows)) or real(rows))
    ours = _run(tmp_path / 'ours', dict(type='DeferredRuntimeInfoHook'))
    theirs = _run(tmp_path / 'theirs', dict(type='RuntimeInfoHook'))
    for key in ('train/loss_ae', 'train/kl_real', 'train/loss_encoder'):
        a = ours.message_hub.get_scalar(key).data[0]
        b = theirs.message_hub.get_scalar(key).data[0]
        assert len(a) == 10
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
    # Reads at iterations 4, 6 (checkpoint), 8 and the end (10).
    assert calls == [4, 2, 2, 2]
    checkpoint = torch.load(
        str(tmp_path / 'ours' / 'work' / 'iter_6.pth'),
        map_location='cpu',
        weights_only=False)
    logged = checkpoint['message_hub']['log_scalars']['train/loss_ae']
    assert logged.data[0].shape[0] == 6  # the checkpoint has every value


def test_stack_scalars_keeps_order_and_numbers():
    rows = [dict(a=torch.tensor(1.5), b=2), dict(c=torch.tensor([3.]))]
    assert deferred.stack_scalars(rows) == [[1.5, 2.0], [3.0]]


def test_interval_is_checked():
    with pytest.raises(ValueError, match='runtime_info'):
        DeferredRuntimeInfoHook(interval=0)
