"""Batch reductions that mean the same on one process and on several.

Data-parallel training averages each parameter's gradient over the ranks
(``mmintrovae.models.utils.reduce_gradients``, or DDP in other mmagic
models). For a loss that is a batch *mean* this is exact: with equal batch
sizes the average of the ranks' gradients is the gradient of the mean over
the global batch. A batch *sum* is not: each rank sums its own n samples,
and averaging gives 1/R of the gradient of the sum over all R * n samples,
and a loss that decides something on the batch mean (the margin hinge of
the authors' code) decides it on each rank's part alone. The functions here
make both mean what they mean in one process on the whole batch.
"""
import torch
from mmagic.models.losses.loss_wrapper import reduce_loss
from mmengine.dist import all_reduce, get_world_size

__all__ = ['global_mean', 'global_sum', 'reduce_over_ranks']


def _with_global_value(local: torch.Tensor,
                       op: str,
                       grad_scale: float = 1.) -> torch.Tensor:
    """``local`` all-reduced over ranks (``op``) as the value, with the
    gradient of ``grad_scale * local``."""
    total = local.detach().clone()
    all_reduce(total, op=op)
    scaled = local * grad_scale if grad_scale != 1 else local
    return scaled + (total - scaled.detach())


def global_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over the batches of all ranks, differentiable.

    The value is the mean over every rank's batch (equal batch sizes); the
    gradient flows through the local mean only. After the model averages
    gradients over ranks, a loss written on this mean gets exactly the
    gradient of the same loss on the whole batch in one process. Without a
    process group it is the plain mean.

    Args:
        values (Tensor): Values of this rank's samples (any shape).

    Returns:
        Tensor: A scalar.
    """
    local = values.mean()
    if get_world_size() == 1:
        return local
    return _with_global_value(local, 'mean')


def global_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum of ``values`` over the batches of all ranks, differentiable.

    The value is the sum over every rank's batch; the gradient is the world
    size times the gradient of the local sum, so that once gradients are
    averaged over ranks it is the gradient of the sum over the whole batch,
    as in one process. Without a process group it is the plain sum.

    Args:
        values (Tensor): Values of this rank's samples (any shape).

    Returns:
        Tensor: A scalar.
    """
    local = values.sum()
    world_size = get_world_size()
    if world_size == 1:
        return local
    return _with_global_value(local, 'sum', grad_scale=world_size)


def reduce_over_ranks(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """mmagic's ``reduce_loss`` with ``'sum'`` over the global batch.

    ``'none'`` and ``'mean'`` are mmagic's (a local mean already has the
    right gradient after averaging); ``'sum'`` is :func:`global_sum`.

    Args:
        values (Tensor): Per-sample values of this rank.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.

    Returns:
        Tensor: The reduced values.
    """
    if reduction == 'sum':
        return global_sum(values)
    return reduce_loss(values, reduction)
