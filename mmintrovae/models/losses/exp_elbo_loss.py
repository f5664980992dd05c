"""Soft-IntroVAE's exponential ELBO term for generated images."""
import torch
import torch.nn as nn
from mmagic.registry import MODELS


@MODELS.register_module()
class ExpELBOLoss(nn.Module):
    """``loss_weight * mean_i exp(-2 * scale * E_i)`` (Soft-IntroVAE).

    ``E_i = beta_rec * L_r(x_i) + beta_neg * KL(x_i)`` is the (weighted)
    negative ELBO of a generated image, its reconstruction error after one
    more encode/decode plus its KL. Minimising the exponential of the
    negative energy is the soft counterpart of IntroVAE's hinge
    ``[m - KL]^+``: it pushes the ELBO of fakes down smoothly instead of up
    to a hard margin (Daniel & Tamar, CVPR 2021, eq. 6).

    Args:
        loss_weight (float): Weight; Soft-IntroVAE uses 0.25 for each of the
            reconstructed and the sampled images. Defaults to 0.25.
    """

    def __init__(self, loss_weight: float = 0.25):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, neg_elbo: torch.Tensor, scale: float) -> torch.Tensor:
        """Computes the weighted batch mean of ``exp(-2 * scale * E)``.

        Args:
            neg_elbo (Tensor): Per-sample weighted negative ELBO, shape (N,).
            scale (float): ``1 / (C * H * W)`` in Soft-IntroVAE.

        Returns:
            Tensor: The loss (float32).
        """
        return self.loss_weight * torch.exp(
            -2 * scale * neg_elbo.float()).mean()
