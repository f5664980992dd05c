# The Soft-IntroVAE model (Daniel & Tamar, CVPR 2021) with its defaults:
# IntroVAE's networks with Soft-IntroVAE's residual block (BN before the
# add) and objective; configs override the sizes and soft_weights.
# Data range [0, 1] (mean 0, std 255); L_r = per-image sum of squared
# errors (batch mean), scaled by 1/(C*H*W) in the objective.
model = dict(
    type='SoftIntroVAE',
    data_preprocessor=dict(
        type='BatchedDataPreprocessor', mean=0., std=255.),
    encoder=dict(type='IntroVAEEncoder', in_channels=3, block='soft_introvae'),
    decoder=dict(
        type='IntroVAEDecoder', out_channels=3, block='soft_introvae'),
    # The one place the loss modules' and soft_weights' defaults are
    # written (SoftIntroVAE has none of its own); configs set what they
    # change.
    loss_config=dict(
        kl_loss=dict(type='GaussianKLLoss', reduction='mean'),
        rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum'),
        exp_elbo_loss=dict(type='ExpELBOLoss', loss_weight=0.25)),
    soft_weights=dict(beta_rec=1.0, beta_kl=1.0, beta_neg=256., gamma_r=1e-8),
    vae_warmup_iters=0)
