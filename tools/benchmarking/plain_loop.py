"""The plain PyTorch baseline of the benchmark: IntroVAE's step in fp32.

A small, independent transcription of :meth:`IntroVAE.introspective_step`
(the model's networks, loss weights and Adam settings), so that the
product's overhead over bare PyTorch can be timed; a test checks that one
step of it equals one step of the model.
"""
import copy
from typing import Dict

import torch
import torch.nn.functional as F
from mmagic.models.losses.loss_wrapper import reduce_loss
from mmengine.config import Config
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from mmintrovae.models import IntroVAE


def real_images(model: nn.Module, batch: dict) -> Tensor:
    """The batch as the model trains on it, on the model's device."""
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    return data['data_samples'].gt_img.detach()


def adam_kwargs(optim_cfg: dict) -> dict:
    """Adam's arguments from one optimizer wrapper config.

    Args:
        optim_cfg (dict): e.g. ``optim_wrapper.encoder``.

    Returns:
        dict: ``lr`` and whichever of ``betas``, ``eps``,
        ``weight_decay`` the config sets.
    """
    optimizer = optim_cfg['optimizer']
    keys = ('lr', 'betas', 'eps', 'weight_decay')
    return {k: optimizer[k] for k in keys if k in optimizer}


class PlainLosses:
    """The model's loss settings, as plain tensor functions.

    Args:
        model (nn.Module): An ``IntroVAE`` whose ``weights``, ``kl_loss``
            (GaussianKLLoss), ``margin_loss`` (MarginHingeLoss) and
            ``rec_loss`` (mmagic's MSELoss) give the coefficients.
    """

    def __init__(self, model: nn.Module):
        _check_loss_types(model)
        self.weights = model.weights
        self.kl_weight = model.kl_loss.loss_weight
        self.kl_reduction = model.kl_loss.reduction
        self.margin = model.margin_loss.margin
        self.hinge_weight = model.margin_loss.loss_weight
        self.per_sample = model.margin_loss.per_sample
        self.hinge_reduction = model.margin_loss.reduction
        self.rec_weight = model.rec_loss.loss_weight
        self.rec_sum = model.rec_loss.reduction == 'sum'

    def kl_each(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """Weighted KL of each posterior to N(0, I), shape (N,)."""
        kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)
        return self.kl_weight * kl.flatten(1).sum(1)

    def kl(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """Weighted KL reduced over the batch (L_REG)."""
        return reduce_loss(self.kl_each(mu, logvar), self.kl_reduction)

    def hinge(self, kl_each: Tensor) -> Tensor:
        """The margin hinge [m - KL]^+ on per-sample KLs."""
        if self.per_sample:
            hinge = reduce_loss(
                F.relu(self.margin - kl_each), self.hinge_reduction)
        else:
            hinge = F.relu(self.margin - kl_each.mean())
        return self.hinge_weight * hinge

    def rec(self, x_r: Tensor, x: Tensor) -> Tensor:
        """L_AE: weighted squared error, per-image sum or pixel mean."""
        if self.rec_sum:
            return self.rec_weight * (x_r - x).pow(2).sum() / x.shape[0]
        return self.rec_weight * (x_r - x).pow(2).mean()


def _check_loss_types(model: nn.Module) -> None:
    """Raises if the plain baseline cannot reproduce the model's losses."""
    if type(model) is not IntroVAE:
        raise ValueError(f'plain mode reproduces type=IntroVAE only, got '
                         f'model.type={type(model).__name__!r}; run with '
                         '--modes product,runner, or --variants (timed '
                         'against fp32).')
    expected = dict(
        kl_loss='GaussianKLLoss',
        margin_loss='MarginHingeLoss',
        rec_loss='MSELoss')
    for name, cls_name in expected.items():
        got = type(getattr(model, name)).__name__
        if got != cls_name:
            raise ValueError(f'plain mode reproduces model.loss_config.{name}'
                             f' of type {cls_name} only, got {got}; run '
                             'with --modes product,runner.')
    if getattr(model.rec_loss, 'sample_wise', False):
        raise ValueError('plain mode: rec_loss.sample_wise is not supported.')


class PlainLoop:
    """IntroVAE's step in plain fp32 PyTorch, in the authors' order.

    Each backward is restricted to the parameters it updates, as the
    product does (the authors' unrestricted ``lossE.backward`` plus their
    missing ``zero_grad`` give the decoder the same gradient, with more
    FLOPs).

    Args:
        model (nn.Module): The IntroVAE to copy networks and losses from.
        cfg (Config): The config, for the optimizers' settings.
        device (torch.device): Where to train.
    """

    def __init__(self, model: nn.Module, cfg: Config, device: torch.device):
        self.encoder = copy.deepcopy(model.encoder).to(device)
        self.decoder = copy.deepcopy(model.decoder).to(device)
        self.latent_dim = model.latent_dim
        self.losses = PlainLosses(model)
        self.opt_e = torch.optim.Adam(self.encoder.parameters(),
                                      **adam_kwargs(cfg.optim_wrapper.encoder))
        self.opt_g = torch.optim.Adam(self.decoder.parameters(),
                                      **adam_kwargs(cfg.optim_wrapper.decoder))

    def step(self, x: Tensor) -> Dict[str, Tensor]:
        """One encoder update, then one decoder update.

        Args:
            x (Tensor): Pre-normalised real images on the device.

        Returns:
            dict[str, Tensor]: The two losses, detached.
        """
        loss, w = self.losses, self.losses.weights
        noise = torch.randn(x.shape[0], self.latent_dim, device=x.device)
        fake = self.decoder(noise)
        mu, logvar = self.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = self.decoder(z)
        kl_rec = loss.kl_each(*self.encoder(rec.detach()))
        kl_fake = loss.kl_each(*self.encoder(fake.detach()))
        loss_rec = loss.rec(rec, x)
        loss_e = (
            w.kl_real * loss.kl(mu, logvar) + w.hinge *
            (loss.hinge(kl_rec) + loss.hinge(kl_fake)) + w.rec * loss_rec)
        self.opt_e.zero_grad()
        self.opt_g.zero_grad()
        loss_e.backward(
            inputs=list(self.encoder.parameters()), retain_graph=True)
        self.opt_e.step()
        loss_g = (
            w.adversarial *
            (loss.kl(*self.encoder(rec)) + loss.kl(*self.encoder(fake))) +
            w.rec * loss_rec)
        loss_g.backward(inputs=list(self.decoder.parameters()))
        self.opt_g.step()
        return dict(loss_encoder=loss_e.detach(), loss_decoder=loss_g.detach())


def count_flops(model: nn.Module, cfg: Config, x: Tensor) -> int:
    """FLOPs of one plain iteration (forward, backward), by FlopCounterMode.

    Only matrix multiplications and convolutions are counted, as
    ``torch.utils.flop_counter`` does.

    Args:
        model (nn.Module): The model (a copy is trained).
        cfg (Config): The config.
        x (Tensor): Pre-normalised images on the device.

    Returns:
        int: FLOPs per iteration.
    """
    plain = PlainLoop(model, cfg, x.device)
    with FlopCounterMode(display=False) as counter:
        plain.step(x)
    return int(counter.get_total_flops())
