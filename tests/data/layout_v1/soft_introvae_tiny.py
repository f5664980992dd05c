# A tiny Soft-IntroVAE (16x16, channels (4, 8), latent 6) with a warm-up and
# an EMA decoder: the config of the layout-v1 checkpoint
# (tests/test_models/test_checkpoint_layout.py).
_base_ = ['../../configs/tiny_train.py']

model = dict(
    _delete_=True,
    type='SoftIntroVAE',
    data_preprocessor=dict(type='BatchedDataPreprocessor', mean=0., std=255.),
    encoder=dict(type='IntroVAEEncoder', in_channels=3, block='soft_introvae'),
    decoder=dict(
        type='IntroVAEDecoder', out_channels=3, block='soft_introvae'),
    image_size=16,
    channels=(4, 8),
    latent_dim=6,
    loss_config=dict(
        kl_loss=dict(type='GaussianKLLoss', reduction='mean'),
        rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum'),
        exp_elbo_loss=dict(type='ExpELBOLoss', loss_weight=0.25)),
    soft_weights=dict(beta_rec=1.0, beta_kl=1.0, beta_neg=256., gamma_r=1e-8),
    vae_warmup_iters=2,
    ema_config=dict(momentum=0.5))
train_cfg = dict(max_iters=4)
default_hooks = dict(checkpoint=dict(interval=4))
visualizer = dict(name='layout_v1_soft_introvae')
