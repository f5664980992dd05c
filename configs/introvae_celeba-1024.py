# IntroVAE on CelebA-HQ at 1024x1024, the authors' 1024 px setting
# (run_1024.sh): channels 16..512, latent 512, m = 500, weight_rec 0.01,
# weight_kl 1.0, weight_neg 1.0, 4 epochs of plain-VAE warm-up, Adam 2e-4.
# They trained on 4 GPUs x 3 images (batch 12). Here:
#   bash tools/dist_train.sh configs/introvae_celeba-1024.py 8
# runs 8 GPUs x 2 images (batch 16); 29,000 images / 16 = 1,812 iterations
# per epoch, so the 4-epoch warm-up is 7,250 iterations and 300,000
# iterations are about 165 epochs (their epoch count at 1024 px is not
# published; this is our choice). Data range [0, 1], L_AE per-image sum
# (no 1/2), hinge on the batch-mean KL, as their code.
#
# Data: `python tools/prepare_celeba_hq.py CELEBA_HQ_1024_DIR` writes
# data/celeba_hq/1024/{train,val}. Decoding + resizing a 1024 px PNG costs
# tens of ms per image: 6 workers per GPU (see README "Speed").
_base_ = ['./introvae_celeba-256.py']

image_size = 1024
channels = (16, 32, 64, 128, 256, 512, 512, 512)
latent_dim = 512
data_root = 'data/celeba_hq/1024'

model = dict(
    encoder=dict(
        image_size=image_size, channels=channels, latent_dim=latent_dim),
    decoder=dict(
        image_size=image_size, channels=channels, latent_dim=latent_dim),
    loss_config=dict(margin_loss=dict(type='MarginHingeLoss', margin=500.)),
    authors_weights=dict(weight_rec=0.01, weight_kl=1.0, weight_neg=1.0),
    vae_warmup_iters=7250)

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
    batch_size=2,
    num_workers=6,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=6,
    dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=300000, val_interval=25000)
auto_scale_lr = dict(base_batch_size=16)

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
