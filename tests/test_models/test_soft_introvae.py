"""The Soft-IntroVAE objective against a transcription of its reference."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import make_batch, make_optim_wrappers, tiny_model_cfg
from mmagic.registry import MODELS
from test_introvae import (assert_params_equal, params, set_iter,
                           steps_beside_reference)


def test_exp_elbo_hand_computed():
    loss = MODELS.build(dict(type='ExpELBOLoss'))
    neg_elbo = torch.tensor([0.0, 10.0])
    expected = 0.25 * (1.0 + math.exp(-2 * 0.1 * 10.0)) / 2
    assert loss(neg_elbo, scale=0.1).item() == pytest.approx(expected)


class SoftIntroLoop:
    """A transcription of Soft-IntroVAE's reference training iteration
    (``train_soft_intro_vae.py``: requires_grad toggling, MSE summed per
    image, ``calc_kl`` per image, batch means)."""

    def __init__(self,
                 encoder,
                 decoder,
                 beta_rec,
                 beta_kl,
                 beta_neg,
                 gamma_r,
                 lr=1e-3):
        self.encoder, self.decoder = encoder, decoder
        self.beta_rec, self.beta_kl = beta_rec, beta_kl
        self.beta_neg, self.gamma_r = beta_neg, gamma_r
        self.optimizer_e = torch.optim.Adam(encoder.parameters(), lr=lr)
        self.optimizer_d = torch.optim.Adam(decoder.parameters(), lr=lr)

    @staticmethod
    def reparameterize(mu, logvar):
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    @staticmethod
    def calc_kl(logvar, mu, reduce='mean'):
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return kl.mean() if reduce == 'mean' else kl

    @staticmethod
    def calc_rec(x, recon_x, reduction='mean'):
        err = F.mse_loss(
            recon_x.view(x.size(0), -1),
            x.view(x.size(0), -1),
            reduction='none').sum(1)
        return err.mean() if reduction == 'mean' else err

    def model(self, x):
        mu, logvar = self.encoder(x)
        z = self.reparameterize(mu, logvar)
        return mu, logvar, z, self.decoder(z)

    def train(self, real):
        scale = 1 / real[0].numel()
        noise = torch.randn(real.size(0), self.encoder.latent_dim)
        b_rec, b_kl, b_neg = self.beta_rec, self.beta_kl, self.beta_neg
        # =========== Update E ================
        for p in self.encoder.parameters():
            p.requires_grad = True
        for p in self.decoder.parameters():
            p.requires_grad = False
        fake = self.decoder(noise)
        real_mu, real_logvar, z, rec = self.model(real)
        loss_rec = self.calc_rec(real, rec)
        lossE_real_kl = self.calc_kl(real_logvar, real_mu)
        rec_mu, rec_logvar, z_rec, rec_rec = self.model(rec.detach())
        fake_mu, fake_logvar, z_fake, rec_fake = self.model(fake.detach())
        fake_kl_e = self.calc_kl(fake_logvar, fake_mu, reduce='none')
        rec_kl_e = self.calc_kl(rec_logvar, rec_mu, reduce='none')
        loss_fake_rec = self.calc_rec(fake, rec_fake, reduction='none')
        loss_rec_rec = self.calc_rec(rec, rec_rec, reduction='none')
        exp_elbo_fake = (
            -2 * scale *
            (b_rec * loss_fake_rec + b_neg * fake_kl_e)).exp().mean()
        exp_elbo_rec = (
            -2 * scale *
            (b_rec * loss_rec_rec + b_neg * rec_kl_e)).exp().mean()
        lossE = scale * (b_rec * loss_rec + b_kl * lossE_real_kl) + 0.25 * (
            exp_elbo_fake + exp_elbo_rec)
        self.optimizer_e.zero_grad()
        lossE.backward()
        self.optimizer_e.step()
        # ========= Update D ==================
        for p in self.encoder.parameters():
            p.requires_grad = False
        for p in self.decoder.parameters():
            p.requires_grad = True
        fake = self.decoder(noise)
        rec = self.decoder(z.detach())
        loss_rec = self.calc_rec(real, rec)
        rec_mu, rec_logvar = self.encoder(rec)
        z_rec = self.reparameterize(rec_mu, rec_logvar)
        fake_mu, fake_logvar = self.encoder(fake)
        z_fake = self.reparameterize(fake_mu, fake_logvar)
        rec_rec = self.decoder(z_rec.detach())
        rec_fake = self.decoder(z_fake.detach())
        loss_rec_rec = self.calc_rec(rec.detach(), rec_rec)
        loss_fake_rec = self.calc_rec(fake.detach(), rec_fake)
        rec_kl = self.calc_kl(rec_logvar, rec_mu)
        fake_kl = self.calc_kl(fake_logvar, fake_mu)
        lossD = scale * (
            loss_rec * b_rec +
            (rec_kl + fake_kl) * 0.5 * b_kl + self.gamma_r * 0.5 * b_rec *
            (loss_rec_rec + loss_fake_rec))
        self.optimizer_d.zero_grad()
        lossD.backward()
        self.optimizer_d.step()
        for p in self.encoder.parameters():
            p.requires_grad = True
        return dict(
            loss_encoder=lossE,
            loss_decoder=lossD,
            kl_real=lossE_real_kl,
            exp_elbo_rec=0.25 * exp_elbo_rec,
            exp_elbo_fake=0.25 * exp_elbo_fake,
            kl_rec_dec=rec_kl,
            kl_fake_dec=fake_kl)


def test_soft_objective_matches_reference_loop():
    # beta_neg small enough that the exp-ELBO terms carry real gradients.
    weights = dict(beta_rec=1.0, beta_kl=0.5, beta_neg=4.0, gamma_r=0.3)
    torch.manual_seed(0)
    model = MODELS.build(
        tiny_model_cfg(
            type='SoftIntroVAE', soft_weights=weights, loss_config={}))
    ref = SoftIntroLoop(
        copy.deepcopy(model.encoder), copy.deepcopy(model.decoder), **weights)
    for _, ours, theirs in steps_beside_reference(model,
                                                  lambda x, _: ref.train(x), 3,
                                                  50):
        assert theirs['exp_elbo_rec'] > 1e-3  # the term is active
        for key, value in theirs.items():
            torch.testing.assert_close(
                ours[key], value.detach(), rtol=1e-5, atol=1e-6)
        assert_params_equal(params(model.encoder), params(ref.encoder), 1e-5)
        assert_params_equal(params(model.decoder), params(ref.decoder), 1e-5)


def test_soft_short_run_stays_finite(build_model):
    model = build_model(
        type='SoftIntroVAE',
        loss_config={},
        soft_weights=dict(beta_neg=256.),
        vae_warmup_iters=2)
    optim = make_optim_wrappers(model, lr=2e-4)
    for it in range(8):
        set_iter(it)
        log_vars = model.train_step(make_batch(seed=it), optim)
        assert all(torch.isfinite(v) for v in log_vars.values()), log_vars
    assert 'exp_elbo_rec' in log_vars


def test_soft_config_errors_are_named(build_model):
    soft = dict(type='SoftIntroVAE', loss_config={})
    with pytest.raises(ValueError, match=r"model.alpha.*model.soft_weights"):
        build_model(**soft, alpha=0.3)
    with pytest.raises(KeyError, match='model.soft_weights'):
        build_model(**soft, soft_weights=dict(bet=1))
    # a config written for the removed objective switch says what to use
    for old in (dict(objective='soft_introvae'), dict(soft_weights={})):
        with pytest.raises(
                ValueError, match=r"removed.*model.type='SoftIntroVAE'"):
            build_model(**old)
    # the margin belongs to IntroVAE: the key is refused, naming the others
    with pytest.raises(KeyError, match=r"\['margin_loss'\].*exp_elbo_loss"):
        build_model(
            type='SoftIntroVAE',
            loss_config=dict(margin_loss=dict(type='MarginHingeLoss')))
