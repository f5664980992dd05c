"""Soft-IntroVAE (Daniel & Tamar, CVPR 2021) as an mmagic model."""
from typing import Dict, Optional, Union

from mmagic.registry import MODELS
from mmengine.optim import OptimWrapper
from torch import Tensor

from ..base_models import BaseIntrospectiveVAE, ModelType, WarmupWeights
from ..utils import reparameterize
from .introvae_weights import SoftIntroVAEWeights


@MODELS.register_module()
class SoftIntroVAE(BaseIntrospectiveVAE):
    """IntroVAE's networks trained with the Soft-IntroVAE objective.

    The hard margin is replaced by an exponential ELBO of the fakes, which
    is far easier to stabilise. With ``s = 1 / (C * H * W)`` and per-image
    errors and KLs,

    ``L_E = s * (b_rec * L_r(x) + b_kl * KL(x)) + 1/4 * sum_{y in x_r, x_p}
    mean exp(-2 s (b_rec * L_r(y') + b_neg * KL(y)))``

    ``L_D = s * (b_rec * L_r(x) + b_kl / 2 * (KL(x_r) + KL(x_p)) +
    gamma_r * b_rec / 2 * (L_r(x_r') + L_r(x_p')))``

    where ``y'`` is ``y`` encoded and decoded once more. As in the
    reference code (``soft_intro_vae/train_soft_intro_vae.py``), the encoder
    sees x_r and x_p detached, but the error of x_r's re-reconstruction is
    measured against the x_r it came from, through which it reaches the
    encoder; the decoder's second pass decodes detached codes. The
    plain-VAE warm-up minimises ``b_kl * KL(x) + b_rec * L_r(x)``.

    Training, sampling, evaluation and the options ``vae_warmup_iters``,
    ``ema_config``, ``channels_last``, ``compile`` and ``bn_stats`` are
    those of :class:`BaseIntrospectiveVAE`; the rule for loss weights is
    :class:`IntroVAE`'s.

    Args:
        encoder (dict | nn.Module): The encoder, e.g. ``IntroVAEEncoder``
            with ``block='soft_introvae'``.
        decoder (dict | nn.Module): The decoder.
        data_preprocessor (dict, optional): mmagic's ``DataPreprocessor``.
        loss_config (dict): ``kl_loss``, ``rec_loss`` (L_r: a per-image
            sum, batch mean) and ``exp_elbo_loss``; their defaults are in
            :attr:`base_config`.
        soft_weights (dict): ``beta_rec``, ``beta_kl``, ``beta_neg``,
            ``gamma_r`` (see :class:`SoftIntroVAEWeights`), all four;
            their defaults are in :attr:`base_config` too.
        **kwargs: The options of :class:`BaseIntrospectiveVAE`.
    """

    loss_names = ('kl_loss', 'rec_loss', 'exp_elbo_loss')
    base_config = 'configs/_base_/models/soft_introvae.py'

    def __init__(self,
                 encoder: ModelType,
                 decoder: ModelType,
                 data_preprocessor: Optional[dict] = None,
                 loss_config: Optional[dict] = None,
                 soft_weights: Optional[dict] = None,
                 **kwargs: Union[int, bool, dict, str, None]):
        paper_weights = {'alpha', 'beta', 'authors_weights'} & set(kwargs)
        if paper_weights:
            raise ValueError(
                f'SoftIntroVAE: model.{sorted(paper_weights)[0]} is an '
                'IntroVAE weight; set the weights in model.soft_weights '
                '(beta_rec, beta_kl, beta_neg, gamma_r) instead.')
        weights = SoftIntroVAEWeights.from_config(soft_weights,
                                                  self.base_config)
        super().__init__(encoder, decoder, data_preprocessor, loss_config,
                         **kwargs)
        self.soft_weights = weights

    @property
    def warmup_weights(self) -> WarmupWeights:
        """The warm-up minimises ``b_kl * KL(x) + b_rec * L_r(x)``."""
        return WarmupWeights(self.soft_weights.beta_kl,
                             self.soft_weights.beta_rec)

    def introspective_step(self, x: Tensor, enc_optim: OptimWrapper,
                           dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """One encoder update, then one decoder update: the class
        docstring's L_E and L_D. Arguments and return value as
        :meth:`BaseIntrospectiveVAE.introspective_step`.
        """
        w = self.soft_weights
        scale = 1.0 / x[0].numel()
        with enc_optim.optim_context(self.encoder):
            # z_p ~ N(0, I); Z <- Enc(x); x_r <- Dec(Z), x_p <- Dec(z_p)
            z_p = self.prior_sample(x)
            mu, logvar = self.encoder(x)
            x_r = self.decoder(reparameterize(mu, logvar))
            x_p = self.decoder(z_p)
            loss_ae = self.reconstruction_loss(x_r, x)
            kl_real = self.kl_loss(mu, logvar)
            # The ELBO of the fakes, as the encoder judges them.
            mu_r, logvar_r = self.judge(x_r.detach())
            mu_f, logvar_f = self.judge(x_p.detach())
            rec_rec_e = self.rec_per_sample(
                self.decoder(reparameterize(mu_r, logvar_r)), x_r)
            rec_fake_e = self.rec_per_sample(
                self.decoder(reparameterize(mu_f, logvar_f)), x_p)
            kl_rec_e = self.kl_loss(mu_r, logvar_r, reduction_override='none')
            kl_fake_e = self.kl_loss(mu_f, logvar_f, reduction_override='none')
            exp_elbo_rec = self.exp_elbo_loss(
                w.beta_rec * rec_rec_e + w.beta_neg * kl_rec_e, scale)
            exp_elbo_fake = self.exp_elbo_loss(
                w.beta_rec * rec_fake_e + w.beta_neg * kl_fake_e, scale)
            loss_encoder = (
                scale * (w.beta_rec * loss_ae + w.beta_kl * kl_real) +
                exp_elbo_rec + exp_elbo_fake)
        self._update(enc_optim, loss_encoder, self.encoder, retain_graph=True)

        with dec_optim.optim_context(self.decoder):
            # The updated encoder judges x_r and x_p (shared: the decoder
            # has not stepped), then the decoder re-decodes their codes.
            mu_r, logvar_r = self.judge(x_r)
            mu_f, logvar_f = self.judge(x_p)
            x_rr = self.decoder(reparameterize(mu_r, logvar_r).detach())
            x_fr = self.decoder(reparameterize(mu_f, logvar_f).detach())
            rec_rec_d = self.reconstruction_loss(x_rr, x_r.detach())
            rec_fake_d = self.reconstruction_loss(x_fr, x_p.detach())
            kl_rec_d = self.kl_loss(mu_r, logvar_r)
            kl_fake_d = self.kl_loss(mu_f, logvar_f)
            loss_decoder = scale * (
                w.beta_rec * loss_ae + 0.5 * w.beta_kl *
                (kl_rec_d + kl_fake_d) + 0.5 * w.gamma_r * w.beta_rec *
                (rec_rec_d + rec_fake_d))
        self._update(dec_optim, loss_decoder, self.decoder)

        kls = (kl_rec_e, kl_fake_e, kl_rec_d, kl_fake_d)
        return self._game_logs(
            loss_ae, kl_real, kls, (loss_encoder, loss_decoder),
            dict(exp_elbo_rec=exp_elbo_rec, exp_elbo_fake=exp_elbo_fake))
