# IntroVAE on CelebA(-HQ) at 128x128 with the paper's weighting, as
# third-party reimplementations at 128 px: m = 110, alpha = 0.25,
# beta = 0.5, latent 256, L_AE = 1/2 per-image sum of squared errors, data
# in [0, 1], batch 64, Adam 2e-4, 2 epochs (900 iterations) of plain-VAE
# warm-up, 200 epochs of 29,000 images.
#
# Data: `python tools/prepare_celeba_hq.py CELEBA_HQ_1024_DIR` writes
# data/celeba_hq/128/{train,val}.
_base_ = [
    '_base_/models/introvae.py',
    '_base_/datasets/image_folder.py',
    '_base_/schedules/gpu_fast.py',
]

image_size = 128
channels = (32, 64, 128, 256, 512)
latent_dim = 256
data_root = 'data/celeba_hq/128'

model = dict(
    image_size=image_size,  # given to the encoder and the decoder
    channels=channels,
    latent_dim=latent_dim,
    loss_config=dict(margin_loss=dict(type='MarginHingeLoss', margin=110.)),
    alpha=0.25,
    beta=0.5,
    vae_warmup_iters=900,
    ema_config=dict(momentum=0.001),
    channels_last=True)  # the GPU fast path, with schedules/gpu_fast.py

# The base's pipelines and metrics at this size (index 1: the Resize, SWD).
train_pipeline, val_pipeline = _base_.train_pipeline, _base_.val_pipeline
train_pipeline[1].scale = val_pipeline[1].scale = (image_size, image_size)
metrics = _base_.metrics
metrics[1].image_shape = (3, image_size, image_size)
val_evaluator = dict(metrics=metrics)
test_evaluator = val_evaluator

train_dataloader = dict(
    batch_size=64,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(by_epoch=False, max_iters=90000, val_interval=10000)
auto_scale_lr = dict(enable=False, base_batch_size=64)
