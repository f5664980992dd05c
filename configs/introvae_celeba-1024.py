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
_base_ = [
    '_base_/models/introvae.py',
    '_base_/datasets/image_folder.py',
    '_base_/schedules/gpu_fast.py',
]

image_size = 1024
channels = (16, 32, 64, 128, 256, 512, 512, 512)
latent_dim = 512
data_root = 'data/celeba_hq/1024'

model = dict(
    image_size=image_size,  # given to the encoder and the decoder
    channels=channels,
    latent_dim=latent_dim,
    loss_config=dict(
        margin_loss=dict(type='MarginHingeLoss', margin=500.),
        rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum')),
    authors_weights=dict(weight_rec=0.01, weight_kl=1.0, weight_neg=1.0),
    vae_warmup_iters=7250,
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
    batch_size=2,
    num_workers=6,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=6,
    dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(by_epoch=False, max_iters=300000, val_interval=25000)
auto_scale_lr = dict(enable=False, base_batch_size=16)
