# IntroVAE on CelebA(-HQ) at 128x128 with the paper's weighting, as
# third-party reimplementations at 128 px: m = 110, alpha = 0.25,
# beta = 0.5, latent 256, L_AE = 1/2 per-image sum of squared errors, data
# in [0, 1], batch 64, Adam 2e-4, 2 epochs (900 iterations) of plain-VAE
# warm-up, 200 epochs of 29,000 images.
#
# Data: `python tools/prepare_celeba_hq.py CELEBA_HQ_1024_DIR` writes
# data/celeba_hq/128/{train,val}.
_base_ = ['./introvae_celeba-256.py']

image_size = 128
channels = (32, 64, 128, 256, 512)
latent_dim = 256
data_root = 'data/celeba_hq/128'

model = dict(
    encoder=dict(
        image_size=image_size, channels=channels, latent_dim=latent_dim),
    decoder=dict(
        image_size=image_size, channels=channels, latent_dim=latent_dim),
    loss_config=dict(
        margin_loss=dict(type='MarginHingeLoss', margin=110.),
        rec_loss=dict(type='MSELoss', loss_weight=0.5, reduction='sum')),
    alpha=0.25,
    beta=0.5,
    authors_weights=None,
    vae_warmup_iters=900)

train_pipeline = [
    dict(
        type='LoadImageOrSkip', key='gt', color_type='color',
        on_error='skip'),  # log and skip unreadable files
    dict(type='Resize', keys='gt', scale=(image_size, image_size),
         interpolation='bicubic'),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='LoadImageOrSkip', key='gt', color_type='color'),
    dict(type='Resize', keys='gt', scale=(image_size, image_size),
         interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=90000, val_interval=10000)
auto_scale_lr = dict(base_batch_size=64)

_metric_shape = (3, image_size, image_size)
metrics = [
    dict(
        type='OfflineFrechetInceptionDistance',
        prefix='FID-1k',
        fake_nums=1000,
        real_nums=1000,
        sample_model='ema'),
    dict(
        type='SWD',
        prefix='SWD',
        fake_nums=1000,
        sample_model='ema',
        image_shape=_metric_shape),
    dict(type='MS_SSIM', prefix='MS-SSIM', fake_nums=1000,
         sample_model='ema'),
    dict(type='PSNR', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='SSIM', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='MSE', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
]
val_evaluator = dict(type='Evaluator', metrics=metrics)
test_evaluator = val_evaluator
