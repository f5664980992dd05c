# Soft-IntroVAE (Daniel & Tamar, CVPR 2021) on CelebA-HQ at 256x256: the
# IntroVAE network layout and data with Soft-IntroVAE's residual block (BN
# before the add, block='soft_introvae') and objective='soft_introvae',
# which replaces the hard margin by an exponential ELBO of the fakes and is
# far easier to stabilise. Settings of its README (soft_intro_vae/) for
# CelebA-HQ: beta_kl 0.5, beta_rec 1.0, beta_neg 1024, latent 256, batch 8,
# Adam 2e-4, channels (64, 128, 256, 512, 512, 512); gamma_r = 1e-8. Data
# range [0, 1], L_r = per-image sum of squared errors (batch mean), scaled
# by 1 / (C*H*W).
# FID: the authors' repository gives none for this ResNet setup at 256 px
# (soft_intro_vae/README.md quotes no FID). The 18.63 on CelebA-HQ 256 in
# that repository (style_soft_intro_vae/README.md, checkpoint
# celebahq_fid_18.63_epoch_230.pth) is Style-Soft-IntroVAE's: ALAE's
# style-based networks with other weights (beta_kl 0.2, beta_rec 0.1,
# beta_neg 512, z 512), not a reference for this config.
_base_ = ['./introvae_celeba-256.py']

latent_dim = 256
channels = (64, 128, 256, 512, 512, 512)

model = dict(
    objective='soft_introvae',
    encoder=dict(
        channels=channels, latent_dim=latent_dim, block='soft_introvae'),
    decoder=dict(
        channels=channels, latent_dim=latent_dim, block='soft_introvae'),
    loss_config=dict(
        rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum'),
        exp_elbo_loss=dict(type='ExpELBOLoss', loss_weight=0.25)),
    alpha=None,
    beta=None,
    authors_weights=None,
    soft_weights=dict(beta_rec=1.0, beta_kl=0.5, beta_neg=1024., gamma_r=1e-8),
    vae_warmup_iters=0)

train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(base_batch_size=8)
