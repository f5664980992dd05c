"""KL divergence of a diagonal Gaussian posterior to the prior N(0, I)."""
from typing import Optional

import torch
import torch.nn as nn
from mmagic.registry import MODELS

from .batch_reduction import reduce_over_ranks

_REDUCTIONS = ('none', 'mean', 'sum')


def check_reduction(reduction: str, owner: str) -> None:
    """Raises a clear error for an unknown reduction.

    Args:
        reduction (str): The requested reduction.
        owner (str): The loss class that was configured, for the message.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f'{owner}: reduction={reduction!r} is not supported; '
                         f'use one of {_REDUCTIONS} in its config.')


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) of each sample, summed over latents.

    This is the paper's L_REG: 1/2 * sum_j (mu_j^2 + sigma_j^2 - log
    sigma_j^2 - 1), computed in float32 for AMP safety.

    Args:
        mu (Tensor): Posterior means, shape (N, D).
        logvar (Tensor): Posterior log-variances, shape (N, D).

    Returns:
        Tensor: KL of each sample, shape (N,).
    """
    mu, logvar = mu.float(), logvar.float()
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)
    return kl.flatten(1).sum(dim=1)


@MODELS.register_module()
class GaussianKLLoss(nn.Module):
    """KL divergence of q(z|x) = N(mu, diag(exp(logvar))) to N(0, I).

    The KL is summed over latent dimensions (as the paper and the authors'
    code do) and then reduced over the batch.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        reduction (str): Reduction over the batch: 'mean' (the authors'
            code), 'sum' (over the global batch in distributed training,
            see ``batch_reduction.global_sum``) or 'none' (per-sample KL,
            shape (N,)). Defaults to 'mean'.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean'):
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self,
                mu: torch.Tensor,
                logvar: torch.Tensor,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Computes the weighted KL.

        Args:
            mu (Tensor): Posterior means, shape (N, D).
            logvar (Tensor): Posterior log-variances, shape (N, D).
            reduction_override (str, optional): Overrides ``reduction`` for
                this call (the IntroVAE model asks for 'none' to feed the
                per-sample KL to the margin hinge).

        Returns:
            Tensor: The weighted KL.
        """
        reduction = reduction_override or self.reduction
        check_reduction(reduction, type(self).__name__)
        kl = reduce_over_ranks(gaussian_kl(mu, logvar), reduction)
        return self.loss_weight * kl
