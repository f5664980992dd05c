"""Stops a diverging IntroVAE run before it saves a broken checkpoint."""
import math
import os.path as osp
from typing import Optional, Sequence

import torch
from mmagic.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

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
    """

    # Above CheckpointHook (VERY_LOW), so a bad step stops before a save.
    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 max_kl: float = 1e5,
                 kl_keys: Sequence[str] = ('kl_real', 'kl_rec_enc',
                                           'kl_fake_enc', 'kl_rec_dec',
                                           'kl_fake_dec')):
        if not max_kl > 0:
            raise ValueError(f'IntroVAEStabilityGuardHook: max_kl={max_kl} '
                             'must be positive.')
        self.max_kl = max_kl
        self.kl_keys = tuple(kl_keys)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Raises if a logged value is non-finite or a KL ran away."""
        if not outputs:
            return
        keys = list(outputs)
        values = torch.stack(
            [torch.as_tensor(outputs[k]).detach().float().cpu() for k in keys])
        for key, value in zip(keys, values.tolist()):
            if not math.isfinite(value):
                self._stop(runner, f'{key} = {value}')
            if key in self.kl_keys and value > self.max_kl:
                self._stop(
                    runner, f'{key} = {value:.4g} exceeds max_kl='
                    f'{self.max_kl:g} (custom_hooks IntroVAEStabilityGuard'
                    'Hook.max_kl)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuses to save a checkpoint whose weights are not all finite."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                self._stop(runner, f'the weight {name} is not finite')

    def _stop(self, runner, what: str) -> None:
        last = self._last_checkpoint(runner)
        where = (f'The last good checkpoint is {last}; fix the config and '
                 'continue from it with --resume.'
                 if last else 'No checkpoint was saved before this point.')
        raise TrainingDivergedError(
            f'IntroVAE training diverged at iteration {runner.iter + 1}: '
            f'{what}. Training stopped; no checkpoint was written for this '
            f'iteration. {where} {_ADVICE}')

    @staticmethod
    def _last_checkpoint(runner) -> Optional[str]:
        marker = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(marker):
            with open(marker) as f:
                return f.read().strip() or None
        return None
