"""A short run through mmengine's Runner on real images learns."""
import numpy as np
import pytest
import torch
from conftest import TINY_SIZE, tiny_model_cfg
from mmengine.runner import Runner

from mmintrovae.datasets import make_synthetic_faces


@pytest.mark.parametrize(
    'rec_loss', [
        dict(type='MSELoss', loss_weight=0.5, reduction='sum'),
        dict(type='L1Loss', reduction='sum'),
    ],
    ids=['mmagic-MSELoss', 'mmagic-L1Loss'])
def test_short_run_lowers_reconstruction_error(tmp_path, rec_loss):
    data_root = tmp_path / 'faces'
    make_synthetic_faces(str(data_root), 40, size=TINY_SIZE, seed=3)
    model = tiny_model_cfg(
        vae_warmup_iters=20,
        loss_config=dict(
            rec_loss=rec_loss,
            margin_loss=dict(type='MarginHingeLoss', margin=20.)))
    cfg = dict(
        default_scope='mmagic',
        model=model,
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            batch_size=8,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='BasicImageDataset',
                data_root=str(data_root),
                data_prefix=dict(gt='train'),
                pipeline=[
                    dict(type='LoadImageOrSkip', key='gt'),
                    dict(type='Flip', keys=['gt'], direction='horizontal'),
                    dict(type='PackInputs')
                ])),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            encoder=dict(
                type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3)),
            decoder=dict(
                type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3))),
        train_cfg=dict(by_epoch=False, max_iters=60),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1000)),
        custom_hooks=[dict(type='IntroVAEStabilityGuardHook')],
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
