"""Helpers shared by the models."""
from typing import List

import torch
from mmengine.dist import all_reduce_params, get_world_size


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
