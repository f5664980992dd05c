# Soft-IntroVAE (Daniel & Tamar, CVPR 2021) on Fashion-MNIST at 32x32: the
# same networks, data and budget as introvae_fashion-mnist-32.py, with
# Soft-IntroVAE's objective and residual block (BN before the add). Weights
# as its README for CIFAR-10 (32x32): beta_kl 1, beta_rec 1, beta_neg 256.
# L_r = per-image sum of squared errors (batch mean), scaled by 1/(C*H*W).
_base_ = ['./introvae_fashion-mnist-32.py']

model = dict(
    objective='soft_introvae',
    encoder=dict(block='soft_introvae'),
    decoder=dict(block='soft_introvae'),
    loss_config=dict(
        rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum'),
        # Unused by the soft objective; a number instead of the base's
        # margin='auto', which would only log an uncalibrated margin.
        margin_loss=dict(_delete_=True, type='MarginHingeLoss', margin=100.)),
    alpha=None,
    beta=None,
    authors_weights=None,
    soft_weights=dict(beta_rec=1.0, beta_kl=1.0, beta_neg=256., gamma_r=1e-8))
