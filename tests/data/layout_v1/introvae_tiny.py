# A tiny IntroVAE (16x16, channels (4, 8), latent 6) with a warm-up, an EMA
# decoder and an automatic margin: the config of the layout-v1 checkpoint
# (tests/test_models/test_checkpoint_layout.py).
_base_ = ['../../configs/tiny_train.py']

model = dict(
    vae_warmup_iters=2,
    loss_config=dict(margin_loss=dict(type='MarginHingeLoss', margin='auto')),
    ema_config=dict(momentum=0.5))
train_cfg = dict(max_iters=4)
default_hooks = dict(checkpoint=dict(interval=4))
visualizer = dict(name='layout_v1_introvae')
