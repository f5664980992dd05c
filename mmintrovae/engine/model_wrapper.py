"""A distributed wrapper for models that average their own gradients."""
from typing import Any, Dict

import torch
import torch.nn as nn
from mmengine.dist import all_reduce_params, broadcast, get_world_size
from mmengine.registry import MODEL_WRAPPERS

from ..models.sync_batchnorm import convert_sync_batchnorm


@MODEL_WRAPPERS.register_module()
class IntroVAEDistributedWrapper(nn.Module):
    """Runs one model replica per rank; the model averages its gradients.

    IntroVAE runs the encoder three or five times and the decoder twice per
    step, with two backward passes restricted to different parameters.
    DistributedDataParallel averages gradients from autograd hooks armed by
    each forward, which is fragile with several forwards per backward and
    backward passes over part of a graph (mmagic's
    ``MMSeparateDistributedDataParallel`` can leave ranks with different
    weights there). This wrapper does not hook autograd: it broadcasts rank
    0's weights once at start, the model averages the gradients of each
    update exactly once before its optimizer steps
    (``mmintrovae.models.utils.reduce_gradients``), and after each step the
    floating-point buffers (BatchNorm statistics) are averaged, so every
    rank holds the same model.

    With ``sync_bn=True`` every ``BatchNorm2d`` of the model becomes a
    :class:`~mmintrovae.models.sync_batchnorm.SyncBatchNorm2d`, which
    normalises with the statistics of all ranks' batches (on gloo and NCCL
    alike); then, with the noise the model draws for the global batch
    (``global_batch_randn``) and the hinge on the global batch mean, a
    distributed step computes what one process does on the whole batch.
    The wrapper is only built in distributed runs, so a single-process run
    of the same config keeps plain BatchNorm; the layers have the same
    parameters and buffers, so checkpoints load either way.

    Args:
        module (nn.Module): The model (an ``IntroVAE``).
        average_buffers (bool): Average buffers over ranks after each train
            step. Defaults to True.
        sync_bn (bool): Normalise with the global batch's statistics (two
            small all-reduces per BatchNorm layer and forward pass, see the
            README's "Distributed training"). Defaults to False.
    """

    def __init__(self,
                 module: nn.Module,
                 average_buffers: bool = True,
                 sync_bn: bool = False):
        super().__init__()
        self.module = module
        self.average_buffers = average_buffers
        self.sync_bn = bool(sync_bn)
        if self.sync_bn:
            convert_sync_batchnorm(module)
        for tensor in list(module.parameters()) + list(module.buffers()):
            broadcast(tensor.data, src=0)

    def train_step(self, data: Any, optim_wrapper) -> Dict[str, torch.Tensor]:
        """The model's train step, then buffer averaging.

        Args:
            data: A batch from the dataloader.
            optim_wrapper (OptimWrapperDict): The optimizer wrappers.

        Returns:
            dict[str, Tensor]: The model's log values.
        """
        log_vars = self.module.train_step(data, optim_wrapper)
        if self.average_buffers and get_world_size() > 1:
            buffers = [
                b for b in self.module.buffers() if b.is_floating_point()
            ]
            if buffers:
                all_reduce_params(buffers, op='mean')
        return log_vars

    def val_step(self, data: Any) -> list:
        """The model's val step (each rank evaluates its shard)."""
        return self.module.val_step(data)

    def test_step(self, data: Any) -> list:
        """The model's test step (each rank evaluates its shard)."""
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        """Calls the model."""
        return self.module(*args, **kwargs)
