"""IntroVAE (Huang et al., NeurIPS 2018) as an mmagic model."""
from typing import Dict, Optional, Union

from mmagic.registry import MODELS
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import Tensor

from ..base_models import BaseIntrospectiveVAE, ModelType, WarmupWeights
from ..utils import reparameterize
from .introvae_weights import IntroVAEWeights


@MODELS.register_module()
class IntroVAE(BaseIntrospectiveVAE):
    """Introspective VAE: a VAE whose encoder is also the discriminator.

    Each introspective step is Algorithm 1 of the paper: encode x, decode
    the posterior sample (x_r) and a prior sample (x_p), update the encoder
    with ``L_E = L_REG(x) + alpha * sum_s [m - L_REG(ng(x_s))]^+ + beta *
    L_AE``, then the decoder with ``L_G = alpha * sum_s L_REG(x_s) + beta *
    L_AE``, where the updated encoder judges x_r and x_p. The decoder's
    outputs are shared by both updates (the decoder has not stepped in
    between); each backward is restricted to the parameters it updates.

    ``margin`` and ``beta`` depend on the data range: mean=0, std=255 gives
    [0, 1] (the authors' code), mmagic's default 127.5/127.5 gives [-1, 1],
    which quadruples L_AE.

    Where the loss weights live (one rule): a loss module's ``loss_weight``
    is part of the term's definition (L_AE's 1/2 is
    ``rec_loss.loss_weight=0.5``), and every coefficient between terms is in
    :attr:`weights` (:class:`IntroVAEWeights`, from ``alpha``/``beta`` or
    ``authors_weights``).

    Args:
        encoder (dict | nn.Module): The encoder, e.g. ``IntroVAEEncoder``.
        decoder (dict | nn.Module): The decoder, e.g. ``IntroVAEDecoder``.
        data_preprocessor (dict, optional): mmagic's ``DataPreprocessor``.
        loss_config (dict, optional): ``kl_loss`` (L_REG), ``margin_loss``
            (the hinge; ``margin='auto'`` measures m at the end of the
            warm-up) and ``rec_loss`` (L_AE, any mmagic pixel loss), all
            three; their defaults are in :attr:`base_config`.
        alpha (float, optional): The paper's weight of the adversarial terms
            (default 0.25). 0 trains a plain VAE.
        beta (float, optional): The paper's weight of L_AE (default 0.5).
        authors_weights (dict, optional): Instead of alpha/beta, the authors'
            ``weight_rec``, ``weight_kl``, ``weight_neg``, with their meaning
            (see :class:`IntroVAEWeights`).
        objective (str, optional): Removed; only there to tell configs
            written for it what to use instead (``type='SoftIntroVAE'``).
        soft_weights (dict, optional): Removed likewise (a
            :class:`SoftIntroVAE` argument).
        **kwargs: ``vae_warmup_iters``, ``ema_config``, ``channels_last``,
            ``compile``, ``bn_stats``, ``image_size``, ``channels``,
            ``latent_dim``: see :class:`BaseIntrospectiveVAE`.
    """

    loss_names = ('kl_loss', 'margin_loss', 'rec_loss')
    base_config = 'configs/_base_/models/introvae.py'

    def __init__(self,
                 encoder: ModelType,
                 decoder: ModelType,
                 data_preprocessor: Optional[dict] = None,
                 loss_config: Optional[dict] = None,
                 alpha: Optional[float] = None,
                 beta: Optional[float] = None,
                 authors_weights: Optional[dict] = None,
                 objective: Optional[str] = None,
                 soft_weights: Optional[dict] = None,
                 **kwargs: Union[int, bool, dict, str, None]):
        if objective is not None or soft_weights is not None:
            raise ValueError(
                'IntroVAE: model.objective and model.soft_weights were '
                "removed from IntroVAE. For Soft-IntroVAE set model.type="
                "'SoftIntroVAE' with its model.soft_weights (see configs/"
                '_base_/models/soft_introvae.py); for IntroVAE drop both '
                'keys.')
        weights = IntroVAEWeights.from_config(alpha, beta, authors_weights)
        super().__init__(encoder, decoder, data_preprocessor, loss_config,
                         **kwargs)
        self.weights = weights
        if self.margin_loss.auto and self.vae_warmup_iters == 0:
            raise ValueError(
                "IntroVAE: model.loss_config.margin_loss.margin='auto' sets "
                'm from the KL of real images at the end of the plain-VAE '
                'warm-up, but model.vae_warmup_iters=0; set it > 0 (e.g. a '
                'fifth of the iterations) or give the margin as a number.')

    @property
    def warmup_weights(self) -> WarmupWeights:
        """The warm-up minimises ``warmup_kl * L_REG + warmup_rec * L_AE``.
        """
        return WarmupWeights(self.weights.warmup_kl, self.weights.warmup_rec)

    def introspective_step(self, x: Tensor, enc_optim: OptimWrapper,
                           dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """Algorithm 1: one encoder update, then one decoder update.

        Args:
            x (Tensor): Real images, preprocessed.
            enc_optim (OptimWrapper): The encoder's optimizer wrapper.
            dec_optim (OptimWrapper): The decoder's optimizer wrapper.

        Returns:
            dict[str, Tensor]: Detached values to log.
        """
        self._calibrate_margin()
        w = self.weights
        with enc_optim.optim_context(self.encoder):
            # Z <- Enc(X), Z_p ~ N(0, I), X_r <- Dec(Z), X_p <- Dec(Z_p)
            # (Z_p is drawn first, as the authors' loop does.)
            z_p = self.prior_sample(x)
            mu, logvar = self.encoder(x)
            z = reparameterize(mu, logvar)
            x_r, x_p = self.decoder(z), self.decoder(z_p)
            loss_ae = self.reconstruction_loss(x_r, x)
            kl_real = self.kl_loss(mu, logvar)
            # The encoder judges ng(X_r) and ng(X_p): no gradient reaches
            # the decoder through the margin terms.
            kl_rec_e = self.kl_per_sample(x_r.detach())
            kl_fake_e = self.kl_per_sample(x_p.detach())
            hinge_rec = self.margin_loss(kl_rec_e)
            hinge_fake = self.margin_loss(kl_fake_e)
            loss_encoder = (
                w.kl_real * kl_real + w.hinge * (hinge_rec + hinge_fake) +
                w.rec * loss_ae)
        # theta_E <- theta_E - eta * grad_E(L_E); the decoder's graph is kept
        # for its own update, which uses the same X_r, X_p and L_AE.
        self._update(enc_optim, loss_encoder, self.encoder, retain_graph=True)

        with dec_optim.optim_context(self.decoder):
            # The updated encoder judges X_r and X_p, now with gradients.
            kl_rec_d = self.kl_loss(*self.judge(x_r))
            kl_fake_d = self.kl_loss(*self.judge(x_p))
            loss_decoder = (
                w.adversarial * (kl_rec_d + kl_fake_d) + w.rec * loss_ae)
        # theta_G <- theta_G - eta * grad_G(L_G); the encoder is not updated.
        self._update(dec_optim, loss_decoder, self.decoder)

        kls = (kl_rec_e, kl_fake_e, kl_rec_d, kl_fake_d)
        return self._game_logs(
            loss_ae, kl_real, kls, (loss_encoder, loss_decoder),
            dict(
                hinge_rec=hinge_rec,
                hinge_fake=hinge_fake,
                margin=self.margin_loss.margin_value))

    def vae_step(self, x: Tensor, enc_optim: OptimWrapper,
                 dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """The warm-up step; with ``margin='auto'`` the KL of real images of
        its last ``auto_window`` iterations is fed to the margin."""
        log_vars = super().vae_step(x, enc_optim, dec_optim)
        hinge = self.margin_loss
        if hinge.auto and (self.current_iter
                           >= self.vae_warmup_iters - hinge.auto_window):
            hinge.observe(log_vars['kl_real'])
        return log_vars

    def _calibrate_margin(self) -> None:
        """Sets an automatic margin at the first introspective iteration."""
        hinge = self.margin_loss
        if hinge.auto and not hinge.calibrated:
            count = int(hinge.observed_count)
            margin = hinge.calibrate()
            print_log(
                f"IntroVAE: margin='auto' set m = {margin:.3f} "
                f'({hinge.auto_factor:g} x the mean KL of real images over '
                f'the last {count} warm-up iterations)',
                logger='current')
