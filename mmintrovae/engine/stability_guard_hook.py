"""Stops a diverging IntroVAE run before it saves a broken checkpoint."""
import math
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmagic.registry import HOOKS
from mmengine.dist import (all_reduce, broadcast_object_list, get_rank,
                           get_world_size)
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from .checkpoint_schedule import checkpoint_due_after_iter
from .deferred_runtime_info_hook import (check_interval, logger_interval,
                                         stack_scalars)

# (iteration, what went wrong) of a failed check.
Failure = Tuple[int, str]

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

    In distributed training the ranks decide together: at each check the
    earliest failure of any rank is all-reduced, so every rank stops at the
    same iteration with the same message (naming the rank that saw it),
    instead of one rank raising while the others wait in the next
    all-reduce until the process group's timeout.

    Args:
        max_kl (float): Largest KL (of real, reconstructed or sampled
            images) considered sane. Defaults to 1e5.
        kl_keys (Sequence[str]): Logged KL terms compared with ``max_kl``.
        interval (int | str): Read the values from the device every
            ``interval`` iterations (one host synchronisation for all of
            them, and in distributed runs one all-reduce of a number) and
            before every checkpoint; ``'logger'`` (default) uses the
            ``LoggerHook``'s interval. A NaN is then reported within
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
        # The iteration whose weights all ranks found finite before a save.
        self._weights_checked_at: Optional[int] = None

    def before_train(self, runner) -> None:
        """Resolves ``interval='logger'``."""
        if self.interval == 'logger':
            self.interval = logger_interval(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Keeps the step's values; checks them every ``interval`` steps,
        and them and the weights before a checkpoint."""
        if outputs:
            self._pending.append((runner.iter, dict(outputs)))
        interval = self.interval if isinstance(self.interval, int) else 1
        saving = checkpoint_due_after_iter(runner)
        if saving or (runner.iter + 1) % interval == 0:
            self._check(runner, weights=saving)

    def after_train(self, runner) -> None:
        """Checks what the last iterations left."""
        self._check(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuses to save a checkpoint after a bad step or with weights
        that are not all finite (rank 0 only, where mmengine saves: the
        ranks already decided together in ``after_train_iter``)."""
        weights = self._weights_checked_at != runner.iter
        failure = self._first_failure(runner, weights)
        if failure is not None:
            raise TrainingDivergedError(self._message(runner, *failure))

    def _check(self, runner, weights: bool = False) -> None:
        """Checks the kept values (and the weights) on every rank and stops
        all ranks on the earliest failure of any."""
        failure = self._first_failure(runner, weights)
        if get_world_size() > 1:
            failure = self._agree(runner, failure)
        elif failure is not None:
            failure = self._message(runner, *failure)
        if failure is not None:
            raise TrainingDivergedError(failure)
        if weights:
            self._weights_checked_at = runner.iter

    def _first_failure(self, runner, weights: bool) -> Optional[Failure]:
        """The first non-finite value or runaway KL among the kept values
        (read in one transfer), else the first non-finite weight."""
        pending, self._pending = self._pending, []
        if pending:
            rows = stack_scalars([outputs for _, outputs in pending])
            for (at_iter, outputs), values in zip(pending, rows):
                for key, value in zip(outputs, values):
                    if not math.isfinite(value):
                        return at_iter, f'{key} = {value}'
                    if key in self.kl_keys and value > self.max_kl:
                        return at_iter, (
                            f'{key} = {value:.4g} exceeds max_kl='
                            f'{self.max_kl:g} (custom_hooks IntroVAEStability'
                            'GuardHook.max_kl)')
        if weights:
            model = runner.model.module if is_model_wrapper(
                runner.model) else runner.model
            for name, tensor in model.state_dict().items():
                if tensor.is_floating_point(
                ) and not torch.isfinite(tensor).all():
                    return runner.iter, f'the weight {name} is not finite'
        return None

    def _agree(self, runner, failure: Optional[Failure]) -> Optional[str]:
        """The message of the earliest failure over all ranks (ties: the
        lowest rank), the same on every rank; None if no rank failed."""
        world_size, rank = get_world_size(), get_rank()
        never = torch.iinfo(torch.int64).max
        key = torch.tensor(never if failure is None else failure[0] *
                           world_size + rank)
        all_reduce(key, op='min')
        key = int(key)
        if key == never:
            return None
        src = key % world_size
        message = [None]
        if rank == src:
            message[0] = self._message(runner, failure[0],
                                       f'{failure[1]} on rank {src}')
        broadcast_object_list(message, src=src)
        return message[0]

    def _message(self, runner, at_iter: int, what: str) -> str:
        last = self._last_checkpoint(runner)
        where = (f'The last good checkpoint is {last}; fix the config and '
                 'continue from it with --resume.'
                 if last else 'No checkpoint was saved before this point.')
        return (f'IntroVAE training diverged at iteration {at_iter + 1}: '
                f'{what}. Training stopped; no checkpoint was written from '
                f'that iteration. {where} {_ADVICE}')

    @staticmethod
    def _last_checkpoint(runner) -> Optional[str]:
        marker = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(marker):
            with open(marker) as f:
                return f.read().strip() or None
        return None
