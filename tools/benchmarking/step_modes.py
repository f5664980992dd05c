"""The benchmark's step modes: the plain loop, ``train_step``, variants."""
import copy
import time
from typing import Dict, List, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from torch import nn

from .memory import MemoryMeter, synchronize
from .plain_loop import PlainLoop, real_images


class Bench:
    """What every mode shares: config, model, batch, device, counts.

    Args:
        cfg (Config): The config.
        model (nn.Module): The built model, on the CPU (never trained).
        samples (list[dict]): One batch of packed samples.
        device (torch.device): Where to train.
        warmup (int): Untimed iterations.
        iters (int): Timed iterations.
    """

    def __init__(self, cfg: Config, model: nn.Module, samples: List[dict],
                 device: torch.device, warmup: int, iters: int):
        self.cfg, self.model, self.samples = cfg, model, samples
        self.device, self.warmup, self.iters = device, warmup, iters
        self.batch = pseudo_collate(samples)

    def copy_model(self) -> nn.Module:
        """A deep copy of the initial model on the device."""
        return copy.deepcopy(self.model).to(self.device)


class PlainMode:
    """The plain PyTorch loop on pre-normalised device tensors.

    Args:
        bench (Bench): The shared setup.
    """

    name = 'plain'

    def __init__(self, bench: Bench):
        model = bench.copy_model()
        self.x = real_images(model, bench.batch)
        self.loop = PlainLoop(model, bench.cfg, bench.device)

    def step(self) -> None:
        """One training iteration."""
        self.loop.step(self.x)


class ProductMode:
    """``model.train_step`` on the collated uint8 batch.

    Args:
        bench (Bench): The shared setup.
    """

    name = 'product'

    def __init__(self, bench: Bench):
        self.model = bench.copy_model()
        self.optim_wrapper = build_optim_wrapper(
            self.model, copy.deepcopy(bench.cfg.optim_wrapper))
        self.batch = bench.batch

    def step(self) -> None:
        """One training iteration."""
        self.model.train_step(self.batch, self.optim_wrapper)


# --variants: name -> switches applied to the config (tools/benchmark.py
# --variants; README "Speed"). 'fp32' is the config as it is.
VARIANTS = {
    'fp32': {},
    '+bf16': dict(bf16=True),
    '+channels_last': dict(channels_last=True),
    '+fused_adam': dict(fused_adam=True),
    '+compile': dict(compile=True),
    'all': dict(bf16=True, channels_last=True, fused_adam=True, compile=True),
}


def variant_cfg(cfg: Config, switches: dict) -> Config:
    """The config in fp32 eager form, with one variant's switches set.

    Every variant starts from the same fp32 eager config (``OptimWrapper``,
    unfused Adam, contiguous memory, no compile), whatever the config sets,
    so ``fp32`` is the baseline even for the GPU configs, whose defaults
    are the fast path.

    Args:
        cfg (Config): The benchmarked config.
        switches (dict): Any of ``bf16`` (``BF16OptimWrapper`` for both
            networks), ``channels_last`` and ``compile`` (model options),
            ``fused_adam`` (``fused=True`` for both Adam optimizers).

    Returns:
        Config: A modified copy.
    """
    cfg = copy.deepcopy(cfg)
    cfg.model.channels_last = bool(switches.get('channels_last'))
    cfg.model.compile = True if switches.get('compile') else None
    for name in ('encoder', 'decoder'):
        wrapper = cfg.optim_wrapper[name]
        kind = wrapper.get('type', 'OptimWrapper')
        if kind not in ('OptimWrapper', 'BF16OptimWrapper'):
            raise SystemExit(
                f'--variants: optim_wrapper.{name}.type is {kind!r}; the '
                'variants need OptimWrapper or BF16OptimWrapper.')
        wrapper.pop('device_types', None)
        wrapper.type = ('BF16OptimWrapper'
                        if switches.get('bf16') else 'OptimWrapper')
        wrapper.optimizer.fused = bool(switches.get('fused_adam'))
    return cfg


class VariantMode(ProductMode):
    """``model.train_step`` of the config with one variant's switches,
    from the same initial weights as every other mode.

    Args:
        bench (Bench): The shared setup.
        name (str): A key of :data:`VARIANTS`.
    """

    def __init__(self, bench: Bench, name: str):
        from mmagic.registry import MODELS
        self.name = name
        cfg = variant_cfg(bench.cfg, VARIANTS[name])
        model = MODELS.build(copy.deepcopy(cfg.model))
        model.load_state_dict(bench.model.state_dict())
        model.vae_warmup_iters = 0  # as build_benchmark_model
        self.model = model.to(bench.device).train()
        self.optim_wrapper = build_optim_wrapper(
            self.model, copy.deepcopy(cfg.optim_wrapper))
        self.batch = bench.batch


STEP_MODES = dict(plain=PlainMode, product=ProductMode)

StepMode = Union[PlainMode, ProductMode, VariantMode]


def build_step_mode(name: str, bench: Bench) -> StepMode:
    """The step mode called ``name`` (a mode or a variant)."""
    if name in VARIANTS:
        return VariantMode(bench, name)
    return STEP_MODES[name](bench)


def warm_up(name: str, bench: Bench, meter: MemoryMeter) -> tuple:
    """Builds a step mode and runs its warm-up under the memory meter.

    Returns:
        tuple: The mode and its peak memory in MiB.
    """
    torch.manual_seed(0)
    meter.start()
    try:
        mode = build_step_mode(name, bench)
        for _ in range(bench.warmup):
            mode.step()
    finally:
        peak = meter.stop()
    return mode, peak


def timed_round(modes: Sequence[StepMode], device: torch.device,
                times: Dict[str, List[float]]) -> None:
    """One timed iteration of each mode, appended to ``times``."""
    for mode in modes:
        synchronize(device)
        start = time.perf_counter()
        mode.step()
        synchronize(device)
        times[mode.name].append(time.perf_counter() - start)
