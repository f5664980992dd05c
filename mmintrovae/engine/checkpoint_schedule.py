"""When mmengine's ``CheckpointHook`` is about to save a checkpoint.

``Runner.save_checkpoint`` (and with it every ``before_save_checkpoint``
hook) runs on rank 0 only. Hooks that need all ranks around a checkpoint
(the RNG states of every rank, one stop decision for all ranks) act in
``after_train_iter``/``after_train_epoch`` with a priority above
``CheckpointHook``'s (VERY_LOW), when these functions say that the hook
will save after this iteration or epoch: the same test ``CheckpointHook``
makes.
"""
from typing import List

from mmengine.hooks import CheckpointHook

__all__ = ['checkpoint_due_after_epoch', 'checkpoint_due_after_iter']


def _checkpoint_hooks(runner) -> List[CheckpointHook]:
    return [h for h in runner.hooks if isinstance(h, CheckpointHook)]


def checkpoint_due_after_iter(runner) -> bool:
    """Whether a ``CheckpointHook`` saves after the current iteration.

    Args:
        runner (Runner): The runner, in ``after_train_iter``.

    Returns:
        bool: True if a checkpoint will be written after this iteration.
    """
    return any(not hook.by_epoch and (
        hook.every_n_train_iters(runner, hook.interval, hook.save_begin) or
        (hook.save_last and hook.is_last_train_iter(runner)))
               for hook in _checkpoint_hooks(runner))


def checkpoint_due_after_epoch(runner) -> bool:
    """Whether a ``CheckpointHook`` saves after the current epoch.

    Args:
        runner (Runner): The runner, in ``after_train_epoch``.

    Returns:
        bool: True if a checkpoint will be written after this epoch.
    """
    return any(
        hook.by_epoch and (
            hook.every_n_epochs(runner, hook.interval, hook.save_begin) or
            (hook.save_last and hook.is_last_train_epoch(runner)))
        for hook in _checkpoint_hooks(runner))
