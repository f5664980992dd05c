"""Helpers shared by the models."""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.dist import all_reduce_params, get_rank, get_world_size
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm


def reduce_gradients(params: List[torch.nn.Parameter]) -> None:
    """Averages the parameters' gradients over all ranks, once, in place.

    IntroVAE runs several forward passes of each network and two backward
    passes per step; letting DistributedDataParallel's hooks average
    gradients there is fragile (see ``mmintrovae.engine``'s wrapper). The
    model calls this right before each optimizer step instead. A no-op when
    training is not distributed.

    Args:
        params (list[Parameter]): Parameters about to be updated.
    """
    if get_world_size() == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        all_reduce_params(grads, op='mean')


@contextmanager
def frozen_running_stats(module: nn.Module) -> Iterator[None]:
    """Forward passes inside leave BatchNorm running statistics unchanged.

    Train-mode BatchNorm still normalises with the batch's statistics (the
    training numerics do not change); only the running mean/var that eval
    mode uses are not updated: momentum is 0 for the duration (running =
    (1 - 0) * running + 0 * batch). Layers with ``momentum=None``
    (cumulative average) are left alone.

    Args:
        module (nn.Module): The network whose BatchNorm layers to freeze.
    """
    layers = [
        m for m in module.modules() if isinstance(m, _BatchNorm)
        and m.track_running_stats and m.momentum is not None
    ]
    saved = [m.momentum for m in layers]
    for m in layers:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(layers, saved):
            m.momentum = momentum


def global_batch_randn(shape: Sequence[int],
                       device: Optional[torch.device] = None,
                       dtype: Optional[torch.dtype] = None) -> Tensor:
    """Standard normal noise: this rank's rows of one draw for all ranks.

    In distributed training every rank's generators hold the same state
    (mmengine seeds all ranks alike unless ``randomness.diff_rank_seed``).
    A plain ``torch.randn`` would then give every rank the same noise: 8
    ranks of 2 images would decode the same 2 prior samples. Instead each
    rank draws the noise of the whole batch, ``(world_size * n, ...)``, and
    keeps rows ``rank, rank + world_size, ...``: the rows that mmengine's
    samplers (``DefaultSampler``, ``InfiniteSampler``) give this rank's
    images, which take every ``world_size``-th index. So a distributed step
    sees exactly the noise a single process would draw for the whole batch,
    and the generators stay identical on all ranks. Without a process group
    it is ``torch.randn(shape)``, the same draws as before.

    Args:
        shape (Sequence[int]): This rank's shape, batch first.
        device (torch.device, optional): Where to draw.
        dtype (torch.dtype, optional): The dtype (default float32).

    Returns:
        Tensor: Noise of ``shape``.
    """
    shape = tuple(shape)
    world_size = get_world_size()
    if world_size == 1:
        return torch.randn(shape, device=device, dtype=dtype)
    full = torch.randn(
        (shape[0] * world_size, ) + shape[1:], device=device, dtype=dtype)
    return full[get_rank()::world_size].contiguous()


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """Draws z = mu + exp(logvar / 2) * eps with eps ~ N(0, I).

    ``eps`` comes from :func:`global_batch_randn`, so distributed ranks
    draw distinct noise, the rows a single process would give their images.

    Args:
        mu (Tensor): Posterior means (N, D).
        logvar (Tensor): Posterior log-variances (N, D).

    Returns:
        Tensor: A sample of q(z|x), differentiable in mu and logvar.
    """
    eps = global_batch_randn(mu.shape, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps
