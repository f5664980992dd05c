"""BatchNorm over the global batch of all ranks, on CPU (gloo) and GPU.

In data-parallel training each rank's BatchNorm normalises with the
statistics of its own n images, so 8 ranks x 2 images do not compute what
one process on 16 does; with 2 images per GPU (CelebA-HQ at 1024 px) those
statistics are also very noisy. torch's ``SyncBatchNorm`` fixes that on
GPUs only (it raises for CPU tensors, also with gloo). :class:`SyncBatchNorm2d`
does it with two all-reduces per training forward pass, on any backend:

* forward: every rank contributes the per-channel sum, sum of squares and
  count of its batch; the all-reduced totals give the global mean and the
  biased variance, with which each rank normalises its own images, and the
  running statistics move as one process would move them (unbiased variance
  over the global count);
* backward: the gradient of those totals is all-reduced, so that once the
  model averages parameter gradients over ranks, every gradient equals the
  single-process gradient on the whole batch.

It is a subclass of ``nn.BatchNorm2d`` with the same parameters and buffers
(checkpoints are interchangeable); in eval mode, and without a process
group, it is plain BatchNorm. :func:`convert_sync_batchnorm` swaps the
layers of a model in place; ``IntroVAEDistributedWrapper(sync_bn=True)``
calls it.
"""
import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.dist import get_world_size
from torch import Tensor

__all__ = ['SyncBatchNorm2d', 'convert_sync_batchnorm']


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient is summed over ranks as well."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        total = tensor.clone()
        torch_dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        total = grad.contiguous().clone()
        torch_dist.all_reduce(total)
        return total


class SyncBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training statistics are those of the batches
    of all ranks (see the module docstring). Arguments as ``BatchNorm2d``.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Normalises ``x`` with the global batch's statistics in training.

        Args:
            x (Tensor): Features (N, C, H, W).

        Returns:
            Tensor: The normalised features (float32 when ``x`` is a lower
            precision, as BatchNorm under autocast).
        """
        if not self.training or get_world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        xf = x.float()
        channels = xf.shape[1]
        count = xf.new_full((1, ), xf.numel() / channels)
        local = torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count])
        total = _AllReduceSum.apply(local)
        n = total[-1]
        mean = total[:channels] / n
        var = (total[channels:2 * channels] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), n.detach())
        scale = torch.rsqrt(var + self.eps)
        shift = -mean * scale
        if self.affine:
            scale = scale * self.weight
            shift = shift * self.weight + self.bias
        return xf * scale[None, :, None, None] + shift[None, :, None, None]

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor,
                              n: Tensor) -> None:
        """Moves the running statistics as ``BatchNorm2d`` does, with the
        global batch (unbiased variance over all ranks' count)."""
        self.num_batches_tracked.add_(1)
        if self.momentum is None:  # cumulative moving average
            factor = 1.0 / float(self.num_batches_tracked)
        else:
            factor = self.momentum
        unbiased = var * (n / (n - 1).clamp_min(1))
        self.running_mean.mul_(1 - factor).add_(
            factor * mean.to(self.running_mean.dtype))
        self.running_var.mul_(1 - factor).add_(
            factor * unbiased.to(self.running_var.dtype))


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replaces every ``nn.BatchNorm2d`` in ``module`` by
    :class:`SyncBatchNorm2d`, in place, keeping parameters and buffers.

    Args:
        module (nn.Module): A model (its children are replaced).

    Returns:
        nn.Module: ``module``, or the converted layer if ``module`` itself
        is a ``BatchNorm2d``.
    """
    if type(module) is nn.BatchNorm2d:
        sync = SyncBatchNorm2d(module.num_features, module.eps,
                               module.momentum, module.affine,
                               module.track_running_stats)
        sync.load_state_dict(module.state_dict())
        if module.affine:
            # The same Parameter objects: anything holding them stays valid.
            sync.weight, sync.bias = module.weight, module.bias
        sync.train(module.training)
        return sync
    for name, child in module.named_children():
        converted = convert_sync_batchnorm(child)
        if converted is not child:
            setattr(module, name, converted)
    return module
