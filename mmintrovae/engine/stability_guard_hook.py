"""Stops a diverging IntroVAE run before it saves a broken checkpoint."""
import math
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmagic.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from .deferred_runtime_info_hook import (check_interval, logger_interval,
                                         stack_scalars)

_ADVICE = ('Try a lower learning rate (optim_wrapper.encoder/decoder.'
           'optimizer.lr), a larger margin (model.loss_config.margin_loss.'
           'margin), or a longer plain-VAE warm-up (model.vae_warmup_iters).')


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite or runaway value; see the message."""


@HOOKS.register_module()
class IntroVAEStabilityGuardHook(Hook):
    """Checks each step's losses and every checkpoint before it is written.

    After each iteration (before ``CheckpointHook`` runs) it checks the
    logged values: a NaN or infinite term, or a KL above ``max_kl``, stops
    training with a :class:`TrainingDivergedError` that names the term, the
    iteration, the last good checkpoint and what to try. Before any
    checkpoint is written it checks that every weight is finite, so a
    broken model never replaces the last good checkpoint.

    Args:
        max_kl (float): Largest KL (of real, reconstructed or sampled
            images) considered sane. Defaults to 1e5.
        kl_keys (Sequence[str]): Logged KL terms compared with ``max_kl``.
        interval (int | str): Read the values from the device every
            ``interval`` iterations (one host synchronisation for all of
            them) and before every checkpoint; ``'logger'`` (default) uses
            the ``LoggerHook``'s interval. A NaN is then reported within
            ``interval`` iterations, naming the iteration it appeared in,
            and never reaches a checkpoint. 1 checks every iteration.
    """

    # Above CheckpointHook (VERY_LOW), so a bad step stops before a save.
    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 max_kl: float = 1e5,
                 kl_keys: Sequence[str] = ('kl_real', 'kl_rec_enc',
                                           'kl_fake_enc', 'kl_rec_dec',
                                           'kl_fake_dec'),
                 interval: Union[int, str] = 'logger'):
        if not max_kl > 0:
            raise ValueError(f'IntroVAEStabilityGuardHook: max_kl={max_kl} '
                             'must be positive.')
        check_interval(interval, 'IntroVAEStabilityGuardHook')
        self.max_kl = max_kl
        self.kl_keys = tuple(kl_keys)
        self.interval = interval
        self._pending: List[Tuple[int, dict]] = []

    def before_train(self, runner) -> None:
        """Resolves ``interval='logger'``."""
        if self.interval == 'logger':
            self.interval = logger_interval(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Keeps the step's values; checks them every ``interval`` steps."""
        if outputs:
            self._pending.append((runner.iter, dict(outputs)))
        interval = self.interval if isinstance(self.interval, int) else 1
        if (runner.iter + 1) % interval == 0:
            self._check_pending(runner)

    def after_train(self, runner) -> None:
        """Checks what the last iterations left."""
        self._check_pending(runner)

    def _check_pending(self, runner) -> None:
        """Reads the kept values in one transfer and raises on the first
        non-finite value or runaway KL, naming its iteration."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        rows = stack_scalars([outputs for _, outputs in pending])
        for (at_iter, outputs), values in zip(pending, rows):
            for key, value in zip(outputs, values):
                if not math.isfinite(value):
                    self._stop(runner, f'{key} = {value}', at_iter)
                if key in self.kl_keys and value > self.max_kl:
                    self._stop(
                        runner, f'{key} = {value:.4g} exceeds max_kl='
                        f'{self.max_kl:g} (custom_hooks IntroVAEStability'
                        'GuardHook.max_kl)', at_iter)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuses to save a checkpoint after a bad step or with weights
        that are not all finite."""
        self._check_pending(runner)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                self._stop(runner, f'the weight {name} is not finite')

    def _stop(self, runner, what: str, at_iter: Optional[int] = None) -> None:
        last = self._last_checkpoint(runner)
        where = (f'The last good checkpoint is {last}; fix the config and '
                 'continue from it with --resume.'
                 if last else 'No checkpoint was saved before this point.')
        raise TrainingDivergedError(
            f'IntroVAE training diverged at iteration '
            f'{(runner.iter if at_iter is None else at_iter) + 1}: '
            f'{what}. Training stopped; no checkpoint was written from that '
            f'iteration. {where} {_ADVICE}')

    @staticmethod
    def _last_checkpoint(runner) -> Optional[str]:
        marker = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(marker):
            with open(marker) as f:
                return f.read().strip() or None
        return None
