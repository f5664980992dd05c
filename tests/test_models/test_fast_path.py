"""The fast-path switches (bf16 autocast, channels_last, fused Adam,
torch.compile) train the model and follow the fp32 eager losses."""
import copy

import numpy as np
import pytest
import torch
from conftest import make_batch, tiny_model_cfg, tiny_runner_cfg
from mmagic.registry import MODELS
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.runner import Runner

from mmintrovae.engine import BF16OptimWrapper

STEPS = 50
TRACKED = ('loss_ae', 'kl_real', 'kl_rec_enc', 'kl_fake_enc')
# name -> (model options, optimizer wrapper type, Adam options)
VARIANTS = {
    'bf16': ({}, BF16OptimWrapper, {}),
    'channels_last': (dict(channels_last=True), OptimWrapper, {}),
    'fused_adam': ({}, OptimWrapper, dict(fused=True)),
    'compile': (dict(compile=True), OptimWrapper, {}),
}


def _model_cfg(**options):
    return tiny_model_cfg(
        vae_warmup_iters=10,
        loss_config=dict(margin_loss=dict(type='MarginHingeLoss', margin=20.)),
        **options)


def _train(model, wrapper_type, adam, steps=STEPS):
    optims = OptimWrapperDict(
        **{
            name:
            wrapper_type(
                torch.optim.Adam(
                    getattr(model, name).parameters(), lr=2e-4, **adam))
            for name in ('encoder', 'decoder')
        })
    from mmengine import MessageHub
    hub = MessageHub.get_current_instance()
    logs = {key: [] for key in TRACKED}
    for step in range(steps):
        hub.update_info('iter', step)
        torch.manual_seed(step)
        out = model.train_step(make_batch(8, seed=step), optims)
        for key in TRACKED:
            if key in out:
                logs[key].append(float(out[key]))
    return logs


def _windowed(values, width=10):
    values = np.asarray(values)
    return values[:len(values) // width * width].reshape(-1, width).mean(1)


@pytest.mark.parametrize('name', list(VARIANTS))
def test_variant_follows_fp32_eager(name):
    options, wrapper_type, adam = VARIANTS[name]
    torch.manual_seed(0)
    reference = MODELS.build(_model_cfg())
    state = copy.deepcopy(reference.state_dict())
    fast = MODELS.build(_model_cfg(**options))
    fast.load_state_dict(state)
    expected = _train(reference, OptimWrapper, {})
    got = _train(fast, wrapper_type, adam)
    assert len(got['kl_fake_enc']) == STEPS - 10  # the game ran
    for key in TRACKED:
        want, have = _windowed(expected[key]), _windowed(got[key])
        rel = np.abs(have - want) / np.maximum(np.abs(want), 1e-3)
        assert rel.max() <= 2e-2, (name, key, rel)
    if name == 'channels_last':
        assert fast.encoder.main[0].weight.is_contiguous(
            memory_format=torch.channels_last)


def test_bf16_autocasts_the_networks_only():
    model = MODELS.build(_model_cfg())
    wrapper = BF16OptimWrapper(torch.optim.Adam(model.encoder.parameters()))
    x = torch.rand(2, 3, 16, 16)
    with wrapper.optim_context(model.encoder):
        mu, logvar = model.encoder(x)
        kl = model.kl_loss(mu, logvar)
    assert mu.dtype == torch.bfloat16
    assert kl.dtype == torch.float32  # losses compute in float32
    assert not hasattr(wrapper, 'loss_scaler')  # no GradScaler
    # device_types=('cuda',), as the GPU configs: float32 on the CPU.
    gpu_only = BF16OptimWrapper(
        torch.optim.Adam(model.encoder.parameters()), device_types=('cuda', ))
    with gpu_only.optim_context(model.encoder):
        assert model.encoder(x)[0].dtype == torch.float32


def test_compile_option_is_checked():
    with pytest.raises(TypeError, match='model.compile'):
        MODELS.build(_model_cfg(compile='fast'))


# name -> (model options, optimizer wrapper type name, Adam options)
RUNNER_VARIANTS = {
    'bf16': ({}, 'BF16OptimWrapper', {}),
    'channels_last': (dict(channels_last=True), 'OptimWrapper', {}),
    'fused_adam': ({}, 'OptimWrapper', dict(fused=True)),
    'compile': (dict(compile=True), 'OptimWrapper', {}),
    'all': (dict(channels_last=True,
                 compile=True), 'BF16OptimWrapper', dict(fused=True)),
}


def _runner(tmp_path, options, wrapper_type, adam):
    optimizer = dict(
        type=wrapper_type, optimizer=dict(type='Adam', lr=2e-4, **adam))
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=STEPS,
        custom_hooks=[dict(type='IntroVAEStabilityGuardHook')],
        ckpt_interval=STEPS,
        num_images=16,
        batch_size=8,
        model=_model_cfg(**options),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            encoder=copy.deepcopy(optimizer),
            decoder=copy.deepcopy(optimizer)))
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    return {
        key: np.asarray(hub.get_scalar(f'train/{key}').data[0])
        for key in TRACKED
    }


@pytest.fixture(scope='module')
def fp32_runner_logs(tmp_path_factory):
    """The fp32 eager Runner run every switch is compared with."""
    return _runner(tmp_path_factory.mktemp('fp32'), {}, 'OptimWrapper', {})


@pytest.mark.parametrize('name', list(RUNNER_VARIANTS))
def test_switch_through_the_runner(name, tmp_path, fp32_runner_logs):
    """Each switch, as a config option, trains 50 steps through the Runner
    from the same seed as the fp32 eager run and logs the same losses
    (relative 2e-2 on 10-step means, as above); its checkpoint loads into
    a plain eager model (same state dict keys)."""
    logs = _runner(tmp_path, *RUNNER_VARIANTS[name])
    assert len(logs['kl_fake_enc']) == STEPS - 10  # the game ran
    for key in TRACKED:
        assert np.isfinite(logs[key]).all(), (name, key)
        want = _windowed(fp32_runner_logs[key])
        have = _windowed(logs[key])
        rel = np.abs(have - want) / np.maximum(np.abs(want), 1e-3)
        assert rel.max() <= 2e-2, (name, key, rel)
    checkpoint = torch.load(
        str(tmp_path / 'work' / f'iter_{STEPS}.pth'), map_location='cpu')
    plain = MODELS.build(_model_cfg())
    plain.load_state_dict(checkpoint['state_dict'], strict=True)
