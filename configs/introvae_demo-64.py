# IntroVAE on 64x64 synthetic faces that `tools/make_demo_data.py` draws
# (3,000 images, deterministic, no download): `make demo-faces`, the
# fallback demo. Sized to train in about 10 minutes on 2 CPU cores.
#
# Data range [0, 1] (BatchedDataPreprocessor mean=0, std=255), L_AE = 1/2 *
# per-image sum of squared errors (batch mean), KL summed over latents.
_base_ = [
    '_base_/models/introvae.py',
    '_base_/datasets/synthetic_faces.py',
    '_base_/schedules/cpu_1200iters.py',
]

model = dict(
    image_size=64,  # given to the encoder and the decoder
    channels=(16, 32, 64, 128),
    latent_dim=64,
    # m a little above the KL of real images (about 25-30 here); a small
    # alpha and a large beta keep reconstructions improving during the
    # short adversarial phase (alpha 0.25, beta 0.5, m 60 made L_AE rise
    # from 117 to 200 in the same 700 iterations).
    loss_config=dict(margin_loss=dict(type='MarginHingeLoss', margin=40.)),
    alpha=0.1,
    beta=1.0,
    vae_warmup_iters=300)

train_cfg = dict(max_iters=1000, val_begin=1001)
default_hooks = dict(checkpoint=dict(interval=500, max_keep_ckpts=2))
custom_hooks = [
    dict(type='IntroVAEVisualizationHook', interval=200),
    dict(type='IntroVAEStabilityGuardHook'),
]
