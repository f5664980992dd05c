"""The Soft-IntroVAE objective (Daniel & Tamar, CVPR 2021), a second
objective of :class:`IntroVAE` chosen with ``objective='soft_introvae'``."""
from typing import Dict

import torch
from mmengine.optim import OptimWrapper
from torch import Tensor

from .introvae_inference import reparameterize


class SoftIntroVAEObjectiveMixin:
    """Adds :meth:`soft_introspective_step` to :class:`IntroVAE`.

    With ``s = 1 / (C * H * W)`` and per-image errors and KLs,

    ``L_E = s * (b_rec * L_r(x) + b_kl * KL(x)) + 1/4 * sum_{y in x_r, x_p}
    mean exp(-2 s (b_rec * L_r(y') + b_neg * KL(y)))``

    ``L_D = s * (b_rec * L_r(x) + b_kl / 2 * (KL(x_r) + KL(x_p)) +
    gamma_r * b_rec / 2 * (L_r(x_r') + L_r(x_p')))``

    where ``y'`` is ``y`` encoded and decoded once more. As in the
    reference code, the encoder sees x_r and x_p detached, but the error of
    x_r's re-reconstruction is measured against the x_r it came from,
    through which it reaches the encoder; the decoder's second pass decodes
    detached codes.
    """

    def soft_introspective_step(self, x: Tensor, enc_optim: OptimWrapper,
                                dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """One encoder update, then one decoder update, of Soft-IntroVAE.

        Args:
            x (Tensor): Real images, preprocessed.
            enc_optim (OptimWrapper): The encoder's optimizer wrapper.
            dec_optim (OptimWrapper): The decoder's optimizer wrapper.

        Returns:
            dict[str, Tensor]: Detached values to log.
        """
        w = self.soft_weights
        scale = 1.0 / x[0].numel()
        with enc_optim.optim_context(self.encoder):
            # z_p ~ N(0, I); Z <- Enc(x); x_r <- Dec(Z), x_p <- Dec(z_p)
            z_p = torch.randn(x.shape[0], self.latent_dim, device=x.device)
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

        return self._detach(
            loss_ae=loss_ae,
            kl_real=kl_real,
            kl_rec_enc=kl_rec_e.mean(),
            kl_fake_enc=kl_fake_e.mean(),
            kl_rec_dec=kl_rec_d,
            kl_fake_dec=kl_fake_d,
            exp_elbo_rec=exp_elbo_rec,
            exp_elbo_fake=exp_elbo_fake,
            loss_encoder=loss_encoder,
            loss_decoder=loss_decoder)
