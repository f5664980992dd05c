# IntroVAE on CelebA-HQ at 256x256, the authors' 256 px setting
# (run_256.sh): batch 16, m = 120, weight_rec 0.05, weight_kl 1.0,
# weight_neg 0.5, Adam lr 2e-4 (default betas), no VAE warm-up, 500 epochs
# on 29,000 training images = 906,250 iterations at batch 16.
#
# Data: `python tools/prepare_celeba_hq.py CELEBA_HQ_1024_DIR` writes
# data/celeba_hq/256/{train,val}. Range [0, 1] (ToTensor in their code);
# L_AE = per-image sum of squared errors (no 1/2), batch mean; the margin is
# applied to the batch-mean KL. `authors_weights` gives their weights their
# meaning (alpha_E = 0.5*w_neg*w_kl, alpha_G = 0.5*w_kl, beta = w_rec).
#
# 8 GPUs: `bash tools/dist_train.sh configs/introvae_celeba-256.py 8` with
# 2 images per GPU keeps their total batch of 16.
_base_ = [
    '_base_/models/introvae.py',
    '_base_/datasets/image_folder.py',
    '_base_/schedules/gpu_fast.py',
]

image_size = 256
channels = (32, 64, 128, 256, 512, 512)
latent_dim = 512
data_root = 'data/celeba_hq/256'
total_batch = 16

model = dict(
    image_size=image_size,  # given to the encoder and the decoder
    channels=channels,
    latent_dim=latent_dim,
    loss_config=dict(
        margin_loss=dict(type='MarginHingeLoss', margin=120.),
        rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum')),
    authors_weights=dict(weight_rec=0.05, weight_kl=1.0, weight_neg=0.5),
    ema_config=dict(momentum=0.001),
    channels_last=True)  # the GPU fast path, with schedules/gpu_fast.py

train_dataloader = dict(
    batch_size=total_batch,  # per GPU; use 2 per GPU on 8 GPUs
    dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

train_cfg = dict(by_epoch=False, max_iters=906250, val_interval=50000)
auto_scale_lr = dict(enable=False, base_batch_size=total_batch)
