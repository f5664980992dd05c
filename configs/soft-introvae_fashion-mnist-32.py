# Soft-IntroVAE (Daniel & Tamar, CVPR 2021) on Fashion-MNIST at 32x32: the
# same networks, data and budget as introvae_fashion-mnist-32.py, with
# Soft-IntroVAE's objective and residual block (BN before the add). Weights
# as its README for CIFAR-10 (32x32): beta_kl 1, beta_rec 1, beta_neg 256.
# L_r = per-image sum of squared errors (batch mean), scaled by 1/(C*H*W).
_base_ = [
    '_base_/models/soft_introvae.py',
    '_base_/datasets/fashion_mnist.py',
    '_base_/schedules/cpu_1200iters.py',
]

model = dict(
    image_size=32,  # given to the encoder and the decoder
    channels=(32, 64, 128),
    latent_dim=32,
    decoder=dict(upsample='bilinear'),  # as introvae_fashion-mnist-32
    soft_weights=dict(beta_rec=1.0, beta_kl=1.0, beta_neg=256., gamma_r=1e-8),
    vae_warmup_iters=300)
