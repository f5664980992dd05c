"""The introspective margin hinge [m - E]^+ of IntroVAE and EBGAN."""
import logging
import math
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.registry import MODELS
from mmengine.dist import all_reduce
from mmengine.logging import print_log

from .batch_reduction import global_mean, reduce_over_ranks
from .kl_loss import check_reduction


@MODELS.register_module()
class MarginHingeLoss(nn.Module):
    """The margin hinge ``[m - E]^+ = max(0, m - E)`` on an energy ``E``.

    In IntroVAE the energy is the KL of a generated image's posterior, and
    the encoder minimises ``[m - KL(Enc(ng(x_s)))]^+`` to push the KL of
    reconstructions and samples above the margin (paper, eq. 10). The same
    hinge scores fakes in EBGAN with a discriminator's energy.

    ``margin='auto'`` sets m itself: the model reports the KL of real images
    during the last ``auto_window`` iterations of its plain-VAE warm-up
    (:meth:`observe`), and at the first introspective iteration the margin
    becomes ``auto_factor`` times their mean (:meth:`calibrate`). The margin
    and the running sums are buffers, so they are saved in checkpoints and
    are the same after ``--resume``.

    Which margin wins when a checkpoint is loaded (``--resume`` or
    ``load_from``): a numeric ``margin`` in the config always does (so a
    run resumed after changing it, as the stability guard advises, trains
    with the new m), and the log says when it replaces the checkpoint's;
    with ``margin='auto'`` the checkpoint's measured margin is kept.

    Args:
        margin (float | str): The margin ``m`` (positive), or ``'auto'``.
            Its scale depends on the KL's reductions and on the data range
            (see the configs). Defaults to 100.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        per_sample (bool): If False (the authors' code), the hinge is applied
            to the batch mean of the energy: ``[m - mean(E)]^+``; in
            distributed training the mean is over the batches of all ranks,
            as one process on the whole batch would compute it. If True, to
            each sample, then reduced: ``reduce([m - E_i]^+)``.
            Defaults to False.
        reduction (str): Batch reduction when ``per_sample`` is True: 'mean',
            'sum' (over the global batch in distributed training) or
            'none'. Defaults to 'mean'.
        auto_factor (float): With ``margin='auto'``, m = factor * the mean
            KL of real images at the end of the warm-up. Defaults to 1.5.
        auto_window (int): With ``margin='auto'``, how many of the last
            warm-up iterations the mean is taken over. Defaults to 50.
    """

    def __init__(self,
                 margin: Union[float, str] = 100.,
                 loss_weight: float = 1.0,
                 per_sample: bool = False,
                 reduction: str = 'mean',
                 auto_factor: float = 1.5,
                 auto_window: int = 50):
        super().__init__()
        self.auto = margin == 'auto'
        if self.auto:
            if not (auto_factor > 0 and int(auto_window) >= 1):
                raise ValueError(
                    'MarginHingeLoss: with margin=\'auto\', auto_factor='
                    f'{auto_factor!r} must be > 0 and auto_window='
                    f'{auto_window!r} >= 1 (model.loss_config.margin_loss).')
            # Not set yet: calibrate() fills it. A negative value, not NaN,
            # so checkpoints of uncalibrated models hold only finite numbers
            # (the stability guard refuses to save NaN weights).
            margin = -1.
        elif isinstance(margin, str) or not margin > 0:
            raise ValueError(
                f'MarginHingeLoss: margin={margin!r} must be positive or '
                "'auto'; set the margin (model.loss_config.margin_loss."
                'margin) to a value above the KL of real images, e.g. '
                "100-500, or to 'auto' to set it from the warm-up.")
        check_reduction(reduction, type(self).__name__)
        self.register_buffer('margin_value', torch.tensor(float(margin)))
        self.register_buffer('observed_sum', torch.tensor(0.))
        self.register_buffer('observed_count', torch.tensor(0.))
        self.loss_weight = loss_weight
        self.per_sample = per_sample
        self.reduction = reduction
        self.auto_factor = float(auto_factor)
        self.auto_window = int(auto_window)
        # The margin the config gives (None for 'auto'): it wins over a
        # loaded checkpoint's (_load_from_state_dict).
        self._configured_margin = None if self.auto else float(margin)
        # Host-side copy of "margin_value > 0": once set, the margin never
        # goes back (only loading a state dict can change it), so the step
        # does not read the buffer from the device on every call.
        self._known_calibrated = float(margin) > 0

    @property
    def margin(self) -> float:
        """The margin m (NaN while an automatic margin is not set yet)."""
        value = float(self.margin_value)
        return value if value > 0 else math.nan

    @property
    def calibrated(self) -> bool:
        """Whether the margin has a value (read from the device only until
        it has one)."""
        if not self._known_calibrated:
            self._known_calibrated = float(self.margin_value) > 0
        return self._known_calibrated

    @torch.no_grad()
    def observe(self, kl_real: torch.Tensor) -> None:
        """Adds a warm-up iteration's batch-mean KL of real images.

        Averaged over all ranks, so every rank calibrates the same margin.

        Args:
            kl_real (Tensor): The batch-mean KL of real images.
        """
        value = kl_real.detach().float().mean().clone()
        all_reduce(value, op='mean')
        self.observed_sum += value.to(self.observed_sum.device)
        self.observed_count += 1

    @torch.no_grad()
    def calibrate(self) -> float:
        """Sets ``m = auto_factor * mean(observed KL)`` once.

        Returns:
            float: The margin.

        Raises:
            RuntimeError: If no KL was observed, or their mean is not
                finite.
        """
        if not self.calibrated:
            if self.observed_count < 1:
                raise RuntimeError(
                    "MarginHingeLoss: margin='auto' saw no warm-up iteration; "
                    'set model.vae_warmup_iters > 0 (the margin is measured '
                    'from the KL of real images at its end) or give a number '
                    'as model.loss_config.margin_loss.margin.')
            count = int(self.observed_count)
            mean_kl = float(self.observed_sum / self.observed_count)
            if not math.isfinite(mean_kl):
                raise RuntimeError(
                    "MarginHingeLoss: margin='auto' cannot set m: the mean "
                    f'KL of real images over the last {count} warm-up '
                    f'iterations is {mean_kl} (the plain-VAE warm-up '
                    'diverged). Lower the learning rate (optim_wrapper.'
                    'encoder/decoder.optimizer.lr), or give a number as '
                    'model.loss_config.margin_loss.margin.')
            self.margin_value.fill_(self.auto_factor * mean_kl)
        return self.margin

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Loads the margin's buffers; a numeric config margin wins.

        Checkpoints written before the margin was a buffer hold no
        ``margin_value``/``observed_*``: the configured values are kept for
        them instead of reporting missing keys. With a numeric ``margin``
        the loaded ``margin_value`` is replaced by it, with a warning when
        they differ (see the class docstring).
        """
        for name, buffer in self._buffers.items():
            state_dict.setdefault(prefix + name, buffer.detach().clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._known_calibrated = False  # read the loaded margin again
        configured = self._configured_margin
        if configured is None:
            return
        loaded = float(self.margin_value)
        # Compared at the buffer's precision (0.1 is not a float32).
        if loaded != float(self.margin_value.new_tensor(configured)):
            saved = f'm = {loaded:g}' if loaded > 0 else "an unset 'auto' m"
            print_log(
                f'MarginHingeLoss ({prefix.rstrip(".") or "margin"}): the '
                f'checkpoint has {saved}; the config\'s margin='
                f'{configured:g} is used instead (model.loss_config.'
                "margin_loss.margin; set it to 'auto' to keep a measured "
                'margin).', 'current', logging.WARNING)
            self.margin_value.fill_(configured)
        self._known_calibrated = True

    def forward(self, energy: torch.Tensor) -> torch.Tensor:
        """Computes the weighted hinge.

        Args:
            energy (Tensor): Energy of each sample, shape (N,), or an already
                reduced scalar.

        Returns:
            Tensor: The weighted hinge.
        """
        if not self.calibrated:
            raise RuntimeError(
                "MarginHingeLoss: margin='auto' is used before calibrate(); "
                'the model calls it at the end of its plain-VAE warm-up.')
        margin = self.margin_value.to(energy.dtype)
        if self.per_sample:
            hinge = reduce_over_ranks(
                F.relu(margin - energy.flatten()), self.reduction)
        else:
            hinge = F.relu(margin - global_mean(energy))
        return self.loss_weight * hinge
