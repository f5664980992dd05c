# Soft-IntroVAE (Daniel & Tamar, CVPR 2021) on CelebA-HQ at 256x256: the
# IntroVAE network layout and data with Soft-IntroVAE's residual block (BN
# before the add) and objective (type='SoftIntroVAE'), which replaces the
# hard margin by an exponential ELBO of the fakes and is far easier to
# stabilise. Settings of its README (soft_intro_vae/) for CelebA-HQ:
# beta_kl 0.5, beta_rec 1.0, beta_neg 1024, latent 256, batch 8, Adam 2e-4,
# channels (64, 128, 256, 512, 512, 512); gamma_r = 1e-8. Data range
# [0, 1], L_r = per-image sum of squared errors (batch mean), scaled by
# 1 / (C*H*W).
# FID: the authors' repository gives none for this ResNet setup at 256 px
# (soft_intro_vae/README.md quotes no FID). The 18.63 on CelebA-HQ 256 in
# that repository (style_soft_intro_vae/README.md, checkpoint
# celebahq_fid_18.63_epoch_230.pth) is Style-Soft-IntroVAE's: ALAE's
# style-based networks with other weights (beta_kl 0.2, beta_rec 0.1,
# beta_neg 512, z 512), not a reference for this config.
_base_ = [
    '_base_/models/soft_introvae.py',
    '_base_/datasets/image_folder.py',
    '_base_/schedules/gpu_fast.py',
]

data_root = 'data/celeba_hq/256'
model = dict(
    image_size=256,  # given to the encoder and the decoder
    channels=(64, 128, 256, 512, 512, 512),
    latent_dim=256,
    soft_weights=dict(beta_rec=1.0, beta_kl=0.5, beta_neg=1024., gamma_r=1e-8),
    ema_config=dict(momentum=0.001),
    channels_last=True)  # the GPU fast path, with schedules/gpu_fast.py

train_dataloader = dict(batch_size=8, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

# 500 epochs of 29,000 images at batch 8, as introvae_celeba-256.py's 500.
train_cfg = dict(by_epoch=False, max_iters=906250, val_interval=50000)
auto_scale_lr = dict(enable=False, base_batch_size=8)
