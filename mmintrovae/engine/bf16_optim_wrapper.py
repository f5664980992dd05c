"""An optimizer wrapper for bfloat16 autocast on any device, no loss scale."""
from contextlib import contextmanager

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
    """

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient accumulation context of ``OptimWrapper``, in bfloat16
        autocast on the device of ``model``'s parameters."""
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=torch.bfloat16):
            yield
