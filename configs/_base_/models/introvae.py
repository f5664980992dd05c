# The IntroVAE model with the paper's defaults; configs override the sizes.
# The optimizers are in _base_/schedules/.
# Data range: the preprocessor below maps uint8 pixels to [0, 1] (mean 0,
# std 255) as the authors' code (ToTensor, no normalisation). mmagic's usual
# mean=127.5, std=127.5 gives [-1, 1] and makes L_AE four times larger, so
# beta and the margin m would have to change with it.
model = dict(
    type='IntroVAE',
    # Images stay in mmagic's BGR order end to end (the networks do not
    # care; metrics and visualizers expect BGR). BatchedDataPreprocessor is
    # mmagic's DataPreprocessor with the same outputs, normalising the
    # batch as one tensor (tools/benchmark_preprocessor.py).
    data_preprocessor=dict(
        type='BatchedDataPreprocessor', mean=0., std=255.),
    encoder=dict(type='IntroVAEEncoder', in_channels=3),
    decoder=dict(type='IntroVAEDecoder', out_channels=3),
    # The one place the loss modules' defaults are written: IntroVAE has
    # none of its own, so a config's dump in its work dir names every loss
    # it trained with. Configs inheriting this file set what they change.
    loss_config=dict(
        # L_REG: KL summed over latents, averaged over the batch.
        kl_loss=dict(type='GaussianKLLoss', reduction='mean'),
        # [m - KL]^+ on the batch-mean KL (the authors' code).
        margin_loss=dict(type='MarginHingeLoss', margin=100.),
        # L_AE = 1/2 * per-image sum of squared errors, batch mean (paper).
        rec_loss=dict(type='MSELoss', loss_weight=0.5, reduction='sum')),
    # alpha/beta (the paper's, default 0.25/0.5) or authors_weights: set
    # one of them in a config.
    vae_warmup_iters=0)
