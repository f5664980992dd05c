"""mmengine's RuntimeInfoHook with the logged values read every N steps."""
from typing import List, Optional, Sequence

import torch
from mmagic.registry import HOOKS
from mmengine.hooks import LoggerHook, RuntimeInfoHook


def logger_interval(runner) -> int:
    """The interval of the runner's ``LoggerHook`` (1 if it has none)."""
    for hook in runner.hooks:
        if isinstance(hook, LoggerHook):
            return max(1, int(hook.interval))
    return 1


def check_interval(interval, where: str) -> None:
    """Raises a ValueError naming ``where`` unless ``interval`` is an int
    >= 1 or ``'logger'``."""
    if interval != 'logger' and not (isinstance(interval, int)
                                     and interval >= 1):
        raise ValueError(f"{where}: interval={interval!r} must be an "
                         "integer >= 1 or 'logger'.")


def stack_scalars(rows: Sequence[dict]) -> List[List[float]]:
    """The values of a list of ``{name: scalar}`` dicts as Python floats,
    with one device-to-host transfer per device instead of one per value.

    Args:
        rows (Sequence[dict]): Per iteration, its logged values (tensors
            with one element, or numbers).

    Returns:
        list[list[float]]: ``rows``' values in their order.
    """
    flat = [value for row in rows for value in row.values()]
    out: List[Optional[float]] = [None] * len(flat)
    by_device = {}
    for i, value in enumerate(flat):
        if isinstance(value, torch.Tensor):
            by_device.setdefault(value.device, []).append(i)
        else:
            out[i] = float(value)
    for indices in by_device.values():
        stacked = torch.stack(
            [flat[i].detach().float().reshape(()) for i in indices])
        for i, value in zip(indices, stacked.cpu().tolist()):
            out[i] = value
    result, start = [], 0
    for row in rows:
        result.append(out[start:start + len(row)])
        start += len(row)
    return result


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """``RuntimeInfoHook`` that copies the training step's logged values to
    the message hub every ``interval`` iterations instead of every one.

    mmengine's hook calls ``MessageHub.update_scalar`` per value per
    iteration, and each call reads the tensor to the host (``.item()``), a
    device synchronisation that stalls a GPU's queue a dozen times a step.
    This hook keeps the step's (detached) tensors and, every ``interval``
    iterations, reads them all in one transfer and updates the message hub
    with every iteration's values in order, so the logged history, its
    smoothing and the ``LoggerHook`` lines are the same as mmengine's.

    Use it as ``default_hooks.runtime_info`` (the configs' default runtime
    does). Everything else is mmengine's ``RuntimeInfoHook``.

    Args:
        interval (int | str): Iterations between transfers; ``'logger'``
            (default) uses the ``LoggerHook``'s interval, so the values are
            in the hub exactly when the logger prints them.
    """

    def __init__(self, interval='logger'):
        check_interval(interval,
                       'DeferredRuntimeInfoHook (default_hooks.runtime_info)')
        self.interval = interval
        self._pending: List[dict] = []

    def before_train(self, runner) -> None:
        """Resolves ``interval='logger'``, then as mmengine."""
        if self.interval == 'logger':
            self.interval = logger_interval(runner)
        super().before_train(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Keeps the values; hands them to the hub every ``interval``."""
        if outputs is not None:
            self._pending.append(dict(outputs))
        interval = self.interval if isinstance(self.interval, int) else 1
        if (runner.iter + 1) % interval == 0:
            self.flush(runner)

    def after_train(self, runner) -> None:
        """Hands over what the last iterations left, then as mmengine."""
        self.flush(runner)
        super().after_train(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Flushes, so a checkpoint's message hub has every value."""
        if self._pending:
            self.flush(runner)
            checkpoint['message_hub'] = runner.message_hub.state_dict()
        super().before_save_checkpoint(runner, checkpoint)

    def flush(self, runner) -> None:
        """Updates the message hub with the kept values, in order."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        for outputs, values in zip(pending, stack_scalars(pending)):
            for key, value in zip(outputs, values):
                runner.message_hub.update_scalar(f'train/{key}', value)
