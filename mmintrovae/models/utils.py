"""Helpers shared by the models."""
from contextlib import contextmanager
from typing import Iterator, List

import torch
import torch.nn as nn
from mmengine.dist import all_reduce_params, get_world_size
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


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """Draws z = mu + exp(logvar / 2) * eps with eps ~ N(0, I).

    Args:
        mu (Tensor): Posterior means (N, D).
        logvar (Tensor): Posterior log-variances (N, D).

    Returns:
        Tensor: A sample of q(z|x), differentiable in mu and logvar.
    """
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
