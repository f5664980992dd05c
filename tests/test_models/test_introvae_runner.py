"""Runs through mmengine's Runner: a short run on real images learns;
mmagic's VisualizationHook samples the model."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import tiny_model_cfg, tiny_runner_cfg
from mmengine.runner import Runner


@pytest.mark.parametrize(
    'rec_loss', [
        dict(type='MSELoss', loss_weight=0.5, reduction='sum'),
        dict(type='L1Loss', reduction='sum'),
    ],
    ids=['mmagic-MSELoss', 'mmagic-L1Loss'])
def test_short_run_lowers_reconstruction_error(tmp_path, rec_loss):
    model = tiny_model_cfg(
        vae_warmup_iters=20,
        loss_config=dict(
            rec_loss=rec_loss,
            margin_loss=dict(type='MarginHingeLoss', margin=20.)))
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=60,
        custom_hooks=[dict(type='IntroVAEStabilityGuardHook')],
        ckpt_interval=1000,
        model=model,
        num_images=40,
        data_seed=3,
        batch_size=8,
        lr=2e-3,
        flip=True,
        visualizer=dict(
            type='Visualizer',
            name=f'vis_{rec_loss["type"]}',
            vis_backends=[dict(type='VisBackend')]),
        randomness=dict(seed=0, deterministic=True))
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    loss_ae = hub.get_scalar('train/loss_ae').data[0]
    assert len(loss_ae) == 60
    assert np.mean(loss_ae[-10:]) < 0.6 * np.mean(loss_ae[:5])
    for key in ('loss_ae', 'kl_real', 'loss_encoder', 'loss_decoder',
                'kl_fake_dec', 'hinge_rec'):
        assert np.isfinite(hub.get_scalar(f'train/{key}').data[0]).all(), key
    # The introspective phase ran after the warm-up.
    assert len(hub.get_scalar('train/loss_encoder').data[0]) == 40
    assert torch.isfinite(
        torch.cat([p.flatten() for p in runner.model.parameters()])).all()


def test_mmagic_visualization_hook_samples_through_noise_fn(tmp_path):
    """mmagic's own VisualizationHook ('GAN' sampler: model.noise_fn, then
    test_step) draws IntroVAE samples in a Runner."""
    cfg = tiny_runner_cfg(
        tmp_path,
        max_iters=2,
        custom_hooks=[
            dict(
                type='VisualizationHook',
                interval=2,
                vis_kwargs_list=[dict(type='GAN', name='fake')],
                n_samples=4)
        ],
        ckpt_interval=1000,
        visualizer=dict(
            type='Visualizer',
            name='vis_mmagic_hook',
            vis_backends=[dict(type='VisBackend')]))
    runner = Runner.from_cfg(cfg)
    runner.train()
    pictures = sorted(p.name for p in Path(cfg['work_dir']).rglob('*.png'))
    assert pictures == ['fake_2.png'], pictures
    grid = cv2.imread(str(next(Path(cfg['work_dir']).rglob('fake_2.png'))))
    # 4 samples of 16x16 in one grid (2 x 2, 2 px padding), not blank.
    assert grid.shape == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2, 3)
    assert grid.std() > 1
