"""The introspective margin hinge [m - E]^+ of IntroVAE and EBGAN."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.registry import MODELS

from .kl_loss import check_reduction, reduce_over_batch


@MODELS.register_module()
class MarginHingeLoss(nn.Module):
    """The margin hinge ``[m - E]^+ = max(0, m - E)`` on an energy ``E``.

    In IntroVAE the energy is the KL of a generated image's posterior, and
    the encoder minimises ``[m - KL(Enc(ng(x_s)))]^+`` to push the KL of
    reconstructions and samples above the margin (paper, eq. 10). The same
    hinge scores fakes in EBGAN with a discriminator's energy.

    Args:
        margin (float): The margin ``m``; must be positive. Its scale depends
            on the KL's reductions and on the data range (see the configs).
            Defaults to 100.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        per_sample (bool): If False (the authors' code), the hinge is applied
            to the batch mean of the energy: ``[m - mean(E)]^+``. If True,
            to each sample, then reduced: ``reduce([m - E_i]^+)``.
            Defaults to False.
        reduction (str): Batch reduction when ``per_sample`` is True: 'mean',
            'sum' or 'none'. Defaults to 'mean'.
    """

    def __init__(self,
                 margin: float = 100.,
                 loss_weight: float = 1.0,
                 per_sample: bool = False,
                 reduction: str = 'mean'):
        super().__init__()
        if not margin > 0:
            raise ValueError(
                f'MarginHingeLoss: margin={margin!r} must be positive; set '
                'the margin (model.loss_config.margin_loss.margin) to a value '
                'above the KL of real images, e.g. 100-500.')
        check_reduction(reduction, type(self).__name__)
        self.margin = float(margin)
        self.loss_weight = loss_weight
        self.per_sample = per_sample
        self.reduction = reduction

    def forward(self, energy: torch.Tensor) -> torch.Tensor:
        """Computes the weighted hinge.

        Args:
            energy (Tensor): Energy of each sample, shape (N,), or an already
                reduced scalar.

        Returns:
            Tensor: The weighted hinge.
        """
        if self.per_sample:
            hinge = reduce_over_batch(
                F.relu(self.margin - energy.flatten()), self.reduction)
        else:
            hinge = F.relu(self.margin - energy.mean())
        return self.loss_weight * hinge
