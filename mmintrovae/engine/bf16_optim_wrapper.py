"""An optimizer wrapper for bfloat16 autocast on any device, no loss scale."""
from contextlib import contextmanager
from typing import Sequence

import torch
import torch.nn as nn
from mmagic.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` autocasts to bfloat16.

    mmengine's ``AmpOptimWrapper`` always builds a ``GradScaler`` and only
    accepts CUDA-like devices. bfloat16 has float32's exponent range, so it
    needs no loss scaling; this wrapper only opens
    ``torch.autocast(device_type, dtype=torch.bfloat16)`` around the
    forward passes made in ``optim_context`` (on the device of the module's
    parameters, so it works on CPU and GPU) and otherwise behaves as
    ``OptimWrapper``: float32 master weights, gradients and optimizer
    state. IntroVAE's losses cast their inputs to float32 themselves.

    ``tools/train.py --amp`` (or ``--amp bf16``) switches a config's
    wrappers to this type; in a config write
    ``dict(type='BF16OptimWrapper', optimizer=...)``.

    Args:
        device_types (Sequence[str]): Device types autocast is used on;
            elsewhere the wrapper trains in float32. Defaults to
            ``('cuda', 'cpu')``. The GPU configs give ``('cuda',)``: CPUs
            without bfloat16 units run bf16 convolutions several times
            slower than float32, so a GPU config tried on a CPU stays fp32.
        *args, **kwargs: Arguments of ``OptimWrapper`` (``optimizer``,
            ...).
    """

    def __init__(self,
                 *args,
                 device_types: Sequence[str] = ('cuda', 'cpu'),
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.device_types = tuple(device_types)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient accumulation context of ``OptimWrapper``, in bfloat16
        autocast on the device of ``model``'s parameters (if its type is one
        of ``device_types``)."""
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(
                device_type=device_type,
                dtype=torch.bfloat16,
                enabled=device_type in self.device_types):
            yield
