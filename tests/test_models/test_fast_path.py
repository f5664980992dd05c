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


def test_all_switches_through_the_runner(tmp_path):
    """bf16 + channels_last + fused Adam + compile: the Runner trains, and
    the checkpoint loads into a plain eager model (same state dict keys)."""
    optimizer = dict(
        type='BF16OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-3, fused=True))
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=6,
        custom_hooks=[dict(type='IntroVAEStabilityGuardHook')],
        ckpt_interval=6,
        model=_model_cfg(channels_last=True, compile=True),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            encoder=copy.deepcopy(optimizer),
            decoder=copy.deepcopy(optimizer)))
    cfg['model']['vae_warmup_iters'] = 3
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    assert len(hub.get_scalar('train/loss_encoder').data[0]) == 3
    for key in ('loss_ae', 'kl_real', 'kl_fake_enc'):
        assert np.isfinite(hub.get_scalar(f'train/{key}').data[0]).all()
    checkpoint = torch.load(
        str(tmp_path / 'work' / 'iter_6.pth'), map_location='cpu')
    plain = MODELS.build(_model_cfg())
    plain.load_state_dict(checkpoint['state_dict'], strict=True)
