"""Times IntroVAE's training step: plain PyTorch, the model, the Runner.

    python tools/benchmark.py CONFIG [--iters 20] [--warmup 5]
        [--batch-size N] [--device cpu|cuda] [--modes plain,product,runner]
        [--variants]
        [--data] [--data-samples 64] [--json OUT]

All modes run in this one process, start from deep copies of one built
model and train on the same synthetic batch (random uint8 images at the
config's resolution, batch size from ``train_dataloader``):

* ``plain``: the same algorithm written out in plain fp32 PyTorch (two Adam
  optimizers, the authors' order of updates, the model's loss weights) on
  pre-normalised tensors that are already on the device;
* ``product``: ``model.train_step(batch, optim_wrapper)`` on the collated
  uint8 batch, as a dataloader delivers it (preprocessing included), with
  the config's optimizer wrappers;
* ``runner``: the same step driven by mmengine's Runner with the config's
  hooks (visualization and checkpoints off), fed from an in-memory dataset.

Each mode first warms up alone (its peak memory is measured then); the
timed iterations then interleave the modes, one iteration of each in turn,
so that other load on the machine slows them alike. The report gives the
median ms/iter, images/s, peak memory, TFLOP/s (FLOPs of one plain
iteration counted by ``torch.utils.flop_counter``) and the time ratios
product/plain and runner/plain. The plain-VAE warm-up of the config is
skipped: every mode times the introspective step.

``--data`` also times the config's loading pipeline in this process (one
thread, as a dataloader worker), i.e. the images/s one worker delivers,
and the number of workers needed to keep up with the product's speed.

On a CPU shared with other jobs, torch's threads can stall each other;
``OMP_NUM_THREADS=1`` gives steadier numbers there.

``--variants`` times the fast-path switches instead (plain, then the
config's ``train_step`` as ``fp32``, ``+bf16`` (``BF16OptimWrapper``),
``+channels_last``, ``+fused_adam``, ``+compile`` (``model.compile``) and
``all`` of them), each from the same weights, interleaved, with its speed-up
over plain (images/s ratio) and its peak memory over plain's. A compiled
variant compiles during its warm-up, so give it a few warm-up iterations.
"""
import argparse
import copy
import ctypes
import gc
import json
import math
import os
import os.path as osp
import statistics
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch import Tensor, nn
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

import mmintrovae  # noqa: F401  (registers modules, loads plugins)
from mmintrovae.plugins import resolve_config

MODES = ('plain', 'product', 'runner')
MIB = 2.0**20
NEVER = 10**9  # an interval that no benchmark reaches


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv`` if None.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(
        description='Time the IntroVAE training step')
    parser.add_argument('config', help='config file path or preset name')
    parser.add_argument(
        '--iters', type=int, default=20, help='timed iterations per mode')
    parser.add_argument(
        '--warmup', type=int, default=5, help='untimed iterations first')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='images per step (default: train_dataloader.batch_size)')
    parser.add_argument(
        '--device',
        choices=['cpu', 'cuda'],
        help='default: cuda if available, else cpu')
    parser.add_argument(
        '--modes',
        default=','.join(MODES),
        help='comma-separated subset of plain,product,runner')
    parser.add_argument(
        '--data',
        action='store_true',
        help='also time the data pipeline of train_dataloader')
    parser.add_argument(
        '--data-samples',
        type=int,
        default=64,
        help='images read by --data (and generated if the folder is absent)')
    parser.add_argument(
        '--variants',
        action='store_true',
        help='time the fast-path switches instead of --modes: plain, fp32 '
        '(the config), +bf16, +channels_last, +fused_adam, +compile, all')
    parser.add_argument('--json', help='write the numbers to this file')
    args = parser.parse_args(argv)
    args.modes = (['plain'] + list(VARIANTS)
                  if args.variants else _parse_modes(args.modes))
    if min(args.iters, args.warmup, args.data_samples) < 1:
        parser.error('--iters, --warmup and --data-samples must be >= 1 '
                     '(peak memory is measured during the warm-up).')
    return args


def _parse_modes(text: str) -> List[str]:
    """Splits and checks ``--modes``."""
    modes = [m.strip() for m in text.split(',') if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise SystemExit(f'--modes: unknown {unknown}; use some of {MODES}')
    return modes


# ----------------------------------------------------------------------
# Config, model and batch.
# ----------------------------------------------------------------------
def load_config(name: str) -> Config:
    """Loads a config by path or plugin name, with mmagic's scope.

    Args:
        name (str): A config file or a name ``resolve_config`` knows.

    Returns:
        Config: The config.
    """
    init_default_scope('mmagic')
    return Config.fromfile(resolve_config(name))


def image_size_of(cfg: Config) -> int:
    """The training resolution: ``model.encoder.image_size``."""
    return int(cfg.model.encoder.image_size)


def build_model(cfg: Config, notes: List[str]) -> nn.Module:
    """Builds the config's model on the CPU, seeded, in training mode.

    The plain-VAE warm-up is switched off so that every mode times the
    introspective step.

    Args:
        cfg (Config): The config.
        notes (list[str]): Remarks for the report, appended to.

    Returns:
        nn.Module: The model; each mode trains a deep copy of it.
    """
    from mmagic.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model)).train()
    if getattr(model, 'vae_warmup_iters', 0):
        notes.append(f'model.vae_warmup_iters={model.vae_warmup_iters} set '
                     'to 0: every mode times the introspective step.')
        model.vae_warmup_iters = 0
    hinge = getattr(model, 'margin_loss', None)
    if getattr(hinge, 'auto', False) and not hinge.calibrated:
        # No warm-up to measure m from: a margin the hinge is active under
        # (the cost of a step does not depend on its value).
        hinge.margin_value.fill_(100.)
        notes.append("margin='auto' set to 100 (no warm-up is timed).")
    if getattr(model, 'decoder_ema', None) is not None:
        notes.append('product/runner also update the EMA decoder; plain '
                     'does not.')
    return model


def make_samples(num: int, size: int, seed: int = 0) -> List[dict]:
    """Random uint8 images, packed by ``PackInputs`` as the pipeline does.

    Args:
        num (int): Number of images.
        size (int): Side of the square images.
        seed (int): Seed of the pixels.

    Returns:
        list[dict]: One packed sample (``inputs``, ``data_samples``) each.
    """
    from mmagic.datasets.transforms import PackInputs
    rng = np.random.default_rng(seed)
    pack = PackInputs()
    return [
        pack(dict(gt=rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
        for _ in range(num)
    ]


def real_images(model: nn.Module, batch: dict) -> Tensor:
    """The batch as the model trains on it, on the model's device."""
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    return data['data_samples'].gt_img.detach()


def adam_kwargs(optim_cfg: dict) -> dict:
    """Adam's arguments from one optimizer wrapper config.

    Args:
        optim_cfg (dict): e.g. ``optim_wrapper.encoder``.

    Returns:
        dict: ``lr`` and whichever of ``betas``, ``eps``,
        ``weight_decay`` the config sets.
    """
    optimizer = optim_cfg['optimizer']
    keys = ('lr', 'betas', 'eps', 'weight_decay')
    return {k: optimizer[k] for k in keys if k in optimizer}


def amp_note(cfg: Config) -> Optional[str]:
    """A remark when the config trains with mixed precision."""
    types = [
        str(v.get('type', '')) for v in cfg.optim_wrapper.values()
        if isinstance(v, dict)
    ]
    if any('Amp' in t for t in types + [str(cfg.optim_wrapper.get('type'))]):
        return 'product/runner use AmpOptimWrapper; plain is fp32.'
    return None


# ----------------------------------------------------------------------
# The plain PyTorch baseline.
# ----------------------------------------------------------------------
class PlainLosses:
    """The model's loss settings, as plain tensor functions.

    Args:
        model (nn.Module): An ``IntroVAE`` whose ``weights``, ``kl_loss``
            (GaussianKLLoss), ``margin_loss`` (MarginHingeLoss) and
            ``rec_loss`` (mmagic's MSELoss) give the coefficients.
    """

    def __init__(self, model: nn.Module):
        _check_loss_types(model)
        self.weights = model.weights
        self.kl_weight = model.kl_loss.loss_weight
        self.kl_reduction = model.kl_loss.reduction
        self.margin = model.margin_loss.margin
        self.hinge_weight = model.margin_loss.loss_weight
        self.per_sample = model.margin_loss.per_sample
        self.hinge_reduction = model.margin_loss.reduction
        self.rec_weight = model.rec_loss.loss_weight
        self.rec_sum = model.rec_loss.reduction == 'sum'

    def kl_each(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """Weighted KL of each posterior to N(0, I), shape (N,)."""
        kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)
        return self.kl_weight * kl.flatten(1).sum(1)

    def kl(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """Weighted KL reduced over the batch (L_REG)."""
        return _reduce(self.kl_each(mu, logvar), self.kl_reduction)

    def hinge(self, kl_each: Tensor) -> Tensor:
        """The margin hinge [m - KL]^+ on per-sample KLs."""
        if self.per_sample:
            hinge = _reduce(
                F.relu(self.margin - kl_each), self.hinge_reduction)
        else:
            hinge = F.relu(self.margin - kl_each.mean())
        return self.hinge_weight * hinge

    def rec(self, x_r: Tensor, x: Tensor) -> Tensor:
        """L_AE: weighted squared error, per-image sum or pixel mean."""
        if self.rec_sum:
            return self.rec_weight * (x_r - x).pow(2).sum() / x.shape[0]
        return self.rec_weight * (x_r - x).pow(2).mean()


def _reduce(values: Tensor, reduction: str) -> Tensor:
    """Reduces per-sample values: 'mean', 'sum' or 'none'."""
    if reduction == 'mean':
        return values.mean()
    return values.sum() if reduction == 'sum' else values


def _check_loss_types(model: nn.Module) -> None:
    """Raises if the plain baseline cannot reproduce the model's losses."""
    objective = getattr(model, 'objective', 'introvae')
    if objective != 'introvae':
        raise ValueError(f"plain mode reproduces objective='introvae' only, "
                         f'got model.objective={objective!r}; run with '
                         '--modes product,runner, or --variants (timed '
                         'against fp32).')
    expected = dict(
        kl_loss='GaussianKLLoss',
        margin_loss='MarginHingeLoss',
        rec_loss='MSELoss')
    for name, cls_name in expected.items():
        got = type(getattr(model, name)).__name__
        if got != cls_name:
            raise ValueError(f'plain mode reproduces model.loss_config.{name}'
                             f' of type {cls_name} only, got {got}; run '
                             'with --modes product,runner.')
    if getattr(model.rec_loss, 'sample_wise', False):
        raise ValueError('plain mode: rec_loss.sample_wise is not supported.')


class PlainLoop:
    """IntroVAE's step in plain fp32 PyTorch, in the authors' order.

    Each backward is restricted to the parameters it updates, as the
    product does (the authors' unrestricted ``lossE.backward`` plus their
    missing ``zero_grad`` give the decoder the same gradient, with more
    FLOPs).

    Args:
        model (nn.Module): The IntroVAE to copy networks and losses from.
        cfg (Config): The config, for the optimizers' settings.
        device (torch.device): Where to train.
    """

    def __init__(self, model: nn.Module, cfg: Config, device: torch.device):
        self.encoder = copy.deepcopy(model.encoder).to(device)
        self.decoder = copy.deepcopy(model.decoder).to(device)
        self.latent_dim = model.latent_dim
        self.losses = PlainLosses(model)
        self.opt_e = torch.optim.Adam(self.encoder.parameters(),
                                      **adam_kwargs(cfg.optim_wrapper.encoder))
        self.opt_g = torch.optim.Adam(self.decoder.parameters(),
                                      **adam_kwargs(cfg.optim_wrapper.decoder))

    def step(self, x: Tensor) -> Dict[str, Tensor]:
        """One encoder update, then one decoder update.

        Args:
            x (Tensor): Pre-normalised real images on the device.

        Returns:
            dict[str, Tensor]: The two losses, detached.
        """
        loss, w = self.losses, self.losses.weights
        noise = torch.randn(x.shape[0], self.latent_dim, device=x.device)
        fake = self.decoder(noise)
        mu, logvar = self.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = self.decoder(z)
        kl_rec = loss.kl_each(*self.encoder(rec.detach()))
        kl_fake = loss.kl_each(*self.encoder(fake.detach()))
        loss_rec = loss.rec(rec, x)
        loss_e = (
            w.kl_real * loss.kl(mu, logvar) + w.hinge *
            (loss.hinge(kl_rec) + loss.hinge(kl_fake)) + w.rec * loss_rec)
        self.opt_e.zero_grad()
        self.opt_g.zero_grad()
        loss_e.backward(
            inputs=list(self.encoder.parameters()), retain_graph=True)
        self.opt_e.step()
        loss_g = (
            w.adversarial *
            (loss.kl(*self.encoder(rec)) + loss.kl(*self.encoder(fake))) +
            w.rec * loss_rec)
        loss_g.backward(inputs=list(self.decoder.parameters()))
        self.opt_g.step()
        return dict(loss_encoder=loss_e.detach(), loss_decoder=loss_g.detach())


def count_flops(model: nn.Module, cfg: Config, x: Tensor) -> int:
    """FLOPs of one plain iteration (forward, backward), by FlopCounterMode.

    Only matrix multiplications and convolutions are counted, as
    ``torch.utils.flop_counter`` does.

    Args:
        model (nn.Module): The model (a copy is trained).
        cfg (Config): The config.
        x (Tensor): Pre-normalised images on the device.

    Returns:
        int: FLOPs per iteration.
    """
    plain = PlainLoop(model, cfg, x.device)
    with FlopCounterMode(display=False) as counter:
        plain.step(x)
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------
# Timing and memory.
# ----------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (all fields size_t)."""
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',
                     'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')
    ]


def _cpu_memory_reader() -> Tuple[Callable[[], int], str]:
    """A function returning the process' CPU memory in bytes, and its kind.

    glibc's ``mallinfo2`` gives the heap in use (malloc'ed and mmap'ed
    blocks, where torch's CPU tensors live); without it, the resident set
    size from /proc/self/statm.
    """
    try:
        mallinfo2 = ctypes.CDLL('libc.so.6').mallinfo2
        mallinfo2.restype = _MallInfo2

        def heap() -> int:
            info = mallinfo2()
            return info.uordblks + info.hblkhd

        return heap, 'CPU heap in use (glibc mallinfo2)'
    except (OSError, AttributeError):
        page = os.sysconf('SC_PAGE_SIZE')

        def rss() -> int:
            with open('/proc/self/statm') as f:
                return int(f.read().split()[1]) * page

        return rss, 'CPU resident set size (/proc/self/statm)'


class MemoryMeter:
    """Peak memory of a mode above the memory in use when it started.

    On CUDA, ``torch.cuda.max_memory_allocated`` after a reset; on the CPU,
    a thread samples the process' memory every ``interval`` seconds. The
    peak covers the mode's set-up and warm-up: its weights, optimizer
    state, gradients and activations.

    Args:
        device (torch.device): The device trained on.
        interval (float): CPU sampling period in seconds.
    """

    def __init__(self, device: torch.device, interval: float = 0.005):
        self.device, self.interval = device, interval
        if device.type == 'cuda':
            self.kind = 'CUDA max_memory_allocated'
        else:
            self._read, self.kind = _cpu_memory_reader()
        self.kind += ' above the start of the mode (set-up and warm-up)'
        self._thread, self._stop = None, threading.Event()
        self._base = self._peak = 0

    def start(self) -> None:
        """Resets the peak and starts measuring."""
        gc.collect()
        if self.device.type == 'cuda':
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return
        self._base = self._peak = self._read()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._read())

    def stop(self) -> float:
        """Stops measuring (a no-op if stopped).

        Returns:
            float: The peak above the start in MiB.
        """
        if self.device.type == 'cuda':
            synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            return (peak - self._base) / MIB
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._peak = max(self._peak, self._read())
        return (self._peak - self._base) / MIB


# ----------------------------------------------------------------------
# The modes. Each warms up alone (its memory is measured then); the timed
# iterations interleave the modes, one iteration of each in turn, so that
# load from other processes slows them alike.
# ----------------------------------------------------------------------
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
        model.vae_warmup_iters = 0  # as build_model
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


class PackedDataset(Dataset):
    """An in-memory dataset of samples already packed by ``PackInputs``.

    Args:
        samples (list[dict]): The samples, returned as they are.
    """

    metainfo: dict = {}

    def __init__(self, samples: List[dict]):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        return self.samples[index]


class IterTimesHook(Hook):
    """Times each training iteration of the Runner.

    An iteration runs from the end of this hook's previous call (the hook
    comes last) to the end of the next ``after_train_iter`` call: batch
    fetch, ``train_step`` and every hook. Between iterations it calls
    ``on_iter(index)``, outside the timed span. It also restores the
    initial weights before training, since the Runner may re-initialise
    them.

    Args:
        device (torch.device): Synchronised before each time stamp.
        state (dict): The initial ``state_dict`` of the model.
        on_iter (callable): Called with the iteration's index.
    """

    priority = 'LOWEST'

    def __init__(self, device: torch.device, state: dict,
                 on_iter: Callable[[int], None]):
        self.device, self.state, self.on_iter = device, state, on_iter
        self.times: List[float] = []
        self._start = 0.0

    def _now(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def before_train(self, runner) -> None:
        """Restores the initial weights, then starts the clock."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.load_state_dict(self.state)
        self._start = self._now()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Records the iteration, runs ``on_iter``, restarts the clock."""
        self.times.append(self._now() - self._start)
        self.on_iter(len(self.times) - 1)
        self._start = self._now()


def _runner_hooks(cfg: Config) -> tuple:
    """The config's default and custom hooks, minus pictures and saving."""
    default_hooks = copy.deepcopy(dict(cfg.get('default_hooks') or {}))
    for key in [
            k for k, v in default_hooks.items()
            if 'Visualization' in str((v or {}).get('type', k))
    ]:
        default_hooks.pop(key)
    checkpoint = default_hooks.get('checkpoint')
    if checkpoint:
        checkpoint.update(interval=NEVER, save_last=False, save_best=None)
    custom_hooks = [
        copy.deepcopy(h) for h in cfg.get('custom_hooks') or []
        if 'Visualization' not in str(h.get('type', ''))
    ]
    return default_hooks, custom_hooks


def build_runner(bench: Bench, work_dir: str, timer: IterTimesHook) -> Runner:
    """A Runner of the config's product step on the in-memory batch.

    The config's hooks, log processor, visualizer and environment are kept;
    the visualization hook goes, checkpoints are never saved, there is no
    validation, the log level is WARNING (the logger hook still formats and
    records at its interval) and the batch comes from a
    :class:`PackedDataset` in the main process (``num_workers=0``).

    Args:
        bench (Bench): The shared setup.
        work_dir (str): A temporary work dir.
        timer (IterTimesHook): The hook that records the iterations.

    Returns:
        Runner: Ready to ``train()`` for warmup + iters iterations.
    """
    cfg, total = bench.cfg, bench.warmup + bench.iters
    default_hooks, custom_hooks = _runner_hooks(cfg)
    loader = dict(
        batch_size=len(bench.samples),
        num_workers=0,
        sampler=dict(type='InfiniteSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        dataset=PackedDataset(bench.samples))
    # mmengine moves the model to get_device(); honour --device instead.
    with mock.patch('mmengine.runner.runner.get_device',
                    lambda: bench.device.type):
        return Runner(
            model=copy.deepcopy(bench.model),
            work_dir=work_dir,
            train_dataloader=loader,
            train_cfg=dict(
                by_epoch=False, max_iters=total, val_interval=NEVER),
            optim_wrapper=copy.deepcopy(cfg.optim_wrapper),
            param_scheduler=copy.deepcopy(cfg.get('param_scheduler')),
            default_hooks=default_hooks,
            custom_hooks=custom_hooks + [timer],
            log_processor=copy.deepcopy(cfg.get('log_processor')),
            log_level='WARNING',
            visualizer=copy.deepcopy(cfg.get('visualizer')),
            default_scope=cfg.get('default_scope', 'mmagic'),
            env_cfg=copy.deepcopy(cfg.get('env_cfg', dict())),
            randomness=dict(seed=0))


def run_runner(bench: Bench, others: Sequence[StepMode],
               times: Dict[str, List[float]], meter: MemoryMeter) -> float:
    """Trains with the Runner; its timed iterations interleave ``others``.

    Args:
        bench (Bench): The shared setup.
        others (Sequence): Warmed-up step modes, timed between the
            Runner's timed iterations.
        times (dict): Per-mode iteration times, filled in.
        meter (MemoryMeter): Measures the Runner's set-up and warm-up.

    Returns:
        float: The Runner's peak memory in MiB.
    """
    peak = []

    def on_iter(index: int) -> None:
        if index == bench.warmup - 1:
            peak.append(meter.stop())
        if index >= bench.warmup:
            timed_round(others, bench.device, times)

    timer = IterTimesHook(bench.device,
                          copy.deepcopy(bench.model.state_dict()), on_iter)
    torch.manual_seed(0)
    meter.start()
    try:
        with tempfile.TemporaryDirectory(prefix='introvae-bench-') as tmp:
            runner = build_runner(bench, tmp, timer)
            runner.train()
            _close_visualizer(runner)
    finally:
        peak.append(meter.stop())
    times['runner'] = timer.times[bench.warmup:]
    return peak[0]


def _close_visualizer(runner: Runner) -> None:
    """Closes the vis backends' files before the work dir goes."""
    for backend in getattr(runner.visualizer, '_vis_backends', {}).values():
        if hasattr(backend, 'close'):
            backend.close()


def run_modes(names: Sequence[str], bench: Bench,
              meter: MemoryMeter) -> Dict[str, dict]:
    """Warms each mode up alone, then times them interleaved.

    Args:
        names (Sequence[str]): Modes, from 'plain', 'product', 'runner'.
        bench (Bench): The shared setup.
        meter (MemoryMeter): Measures each mode's peak memory.

    Returns:
        dict: Per mode, ``times_s`` (timed iterations) and ``peak_mem_mib``.
    """
    steps, peaks = [], {}
    for name in names:
        if name != 'runner':
            mode, peaks[name] = warm_up(name, bench, meter)
            steps.append(mode)
    times = {mode.name: [] for mode in steps}
    if 'runner' in names:
        peaks['runner'] = run_runner(bench, steps, times, meter)
    else:
        for _ in range(bench.iters):
            timed_round(steps, bench.device, times)
    return {
        name: dict(times_s=times[name], peak_mem_mib=peaks[name])
        for name in names
    }


def summarise(result: dict, batch_size: int, flops: Optional[int]) -> dict:
    """Median ms/iter, images/s and TFLOP/s of a mode's timings.

    Args:
        result (dict): ``times_s`` and ``peak_mem_mib`` of a mode.
        batch_size (int): Images per iteration.
        flops (int, optional): FLOPs per iteration.

    Returns:
        dict: The mode's numbers.
    """
    median = statistics.median(result['times_s'])
    summary = dict(
        ms_per_iter=1e3 * median,
        ms_per_iter_min=1e3 * min(result['times_s']),
        images_per_s=batch_size / median,
        peak_mem_mib=result['peak_mem_mib'],
        ms_per_iter_all=[1e3 * t for t in result['times_s']])
    if flops:
        summary['tflops'] = flops / median / 1e12
    return summary


def ratios(modes: Dict[str, dict], base: str = 'plain') -> Dict[str, float]:
    """Time ratios of every other mode to ``base``, pair by pair.

    The timed iterations interleave the modes, so the i-th iterations of
    two modes ran back to back; the ratio is the median of their ratios,
    which cancels slow changes in the machine's load.

    Args:
        modes (dict): Per-mode summaries from :func:`summarise`.
        base (str): The reference mode: 'plain', or 'fp32' for
            ``--variants`` of an objective plain cannot reproduce.

    Returns:
        dict: ``'<mode>/<base>'`` (e.g. ``'product/plain'``,
        ``'+bf16/plain'``) for every measured mode but ``base``.
    """
    if base not in modes:
        return {}
    times = modes[base]['ms_per_iter_all']
    return {
        f'{name}/{base}':
        statistics.median(
            a / b for a, b in zip(modes[name]['ms_per_iter_all'], times))
        for name in modes if name != base
    }


# ----------------------------------------------------------------------
# The data pipeline (--data).
# ----------------------------------------------------------------------
def _dataset_cfg(cfg: Config, num: int, size: int, tmp_dir: str) -> tuple:
    """The train dataset config, pointed at generated images if needed.

    Returns:
        tuple: The dataset config and where its images come from.
    """
    from mmintrovae.datasets import check_dataset_folders, make_synthetic_faces
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    try:
        check_dataset_folders(
            dict(train_dataloader=dict(dataset=ds_cfg)), splits=('train', ))
        return ds_cfg, f'config data_root {ds_cfg.get("data_root")}'
    except FileNotFoundError:
        pass
    root = osp.join(tmp_dir, 'faces')
    make_synthetic_faces(root, num, size, val_fraction=0.0)
    ds_cfg.data_root = root
    ds_cfg.data_prefix = dict(gt='train')
    return ds_cfg, (f'{num} generated {size}x{size} PNG images (the config'
                    "'s folder has no images)")


def _worker_threads(cfg: Config) -> None:
    """Threads as a dataloader worker has them (torch 1, OpenCV config)."""
    import cv2
    mp_cfg = (cfg.get('env_cfg') or {}).get('mp_cfg') or {}
    cv2.setNumThreads(int(mp_cfg.get('opencv_num_threads', 0)))
    torch.set_num_threads(1)


def benchmark_data(cfg: Config, num: int, size: int) -> dict:
    """Images/s of the train pipeline in one process (one worker).

    Args:
        cfg (Config): The config.
        num (int): Images to read (generated if the folder is absent).
        size (int): Side of generated images.

    Returns:
        dict: ``source``, ``images`` and ``images_per_s_per_worker``.
    """
    from mmagic.registry import DATASETS
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix='introvae-data-') as tmp_dir:
        ds_cfg, source = _dataset_cfg(cfg, num, size, tmp_dir)
        dataset = DATASETS.build(ds_cfg)
        try:
            _worker_threads(cfg)
            for i in range(min(2, len(dataset))):  # file client, caches
                dataset[i]
            start = time.perf_counter()
            for i in range(num):
                dataset[i % len(dataset)]
            seconds = time.perf_counter() - start
        finally:
            torch.set_num_threads(threads)
    return dict(
        source=source, images=num, images_per_s_per_worker=num / seconds)


def workers_needed(data: dict, modes: Dict[str, dict]) -> None:
    """Adds the workers needed to feed the fastest measured product mode."""
    for name in ('product', 'runner', 'plain'):
        if name in modes:
            speed = modes[name]['images_per_s']
            data['fed_mode'] = name
            data['workers_needed'] = math.ceil(speed /
                                               data['images_per_s_per_worker'])
            return


# ----------------------------------------------------------------------
# The report.
# ----------------------------------------------------------------------
def format_table(modes: Dict[str, dict],
                 pair_ratios: Dict[str, float],
                 base: str = 'plain') -> str:
    """A plain text table of the modes' numbers.

    Args:
        modes (dict): Per-mode summaries from :func:`summarise`.
        pair_ratios (dict): From :func:`ratios`.
        base (str): The reference mode of the ratio columns.

    Returns:
        str: The table.
    """
    head = (f'{"mode":<14} {"ms/iter":>9} {"min ms":>9} {"images/s":>9} '
            f'{"peak MiB":>9} {"TFLOP/s":>8} {"time/" + base:>10} '
            f'{"speed-up":>8} {"mem/" + base:>9}')
    lines = [head, '-' * len(head)]
    plain_mem = modes.get(base, {}).get('peak_mem_mib')
    for name, m in modes.items():
        ratio = 1.0 if name == base else pair_ratios.get(f'{name}/{base}')
        mem = m['peak_mem_mib'] / plain_mem if plain_mem else None
        lines.append(
            f'{name:<14} {m["ms_per_iter"]:9.2f} {m["ms_per_iter_min"]:9.2f} '
            f'{m["images_per_s"]:9.1f} {m["peak_mem_mib"]:9.1f} '
            f'{_cell(m.get("tflops"), 8, 4)} {_cell(ratio, 10, 3)} '
            f'{_cell(1 / ratio if ratio else None, 8, 2)} '
            f'{_cell(mem, 9, 2)}')
    return '\n'.join(lines)


def _cell(value: Optional[float], width: int, digits: int) -> str:
    """A right-aligned number, or '-' if there is none."""
    if value is None:
        return f'{"-":>{width}}'
    return f'{value:{width}.{digits}f}'


def format_report(report: dict) -> str:
    """The whole report: setup, table, ratios, data, notes."""
    lines = [
        f'config: {report["config"]}',
        f'device: {report["device_name"]}, torch threads: '
        f'{report["torch_threads"]}',
        f'batch {report["batch_size"]} x {report["image_size"]}px, warm-up '
        f'{report["warmup"]}, timed {report["iters"]} (median)',
        f'memory: {report["memory_kind"]}',
    ]
    if report.get('flops_per_iter'):
        lines.append(f'FLOPs/iter ({report["flops_of"]}, FlopCounterMode): '
                     f'{report["flops_per_iter"] / 1e9:.2f} GFLOP')
    lines += [
        '',
        format_table(report['modes'], report['ratios'],
                     report.get('base', 'plain')), ''
    ]
    lines += [
        f'{k}: {v:.3f}x (median of per-iteration ratios)'
        for k, v in report['ratios'].items()
    ]
    data = report.get('data')
    if data:
        lines += [
            f'data: {data["images_per_s_per_worker"]:.1f} images/s per '
            f'worker ({data["images"]} images from {data["source"]})',
            f'data: {data.get("workers_needed", "-")} worker(s) needed to '
            f'feed {data.get("fed_mode", "-")}'
        ]
    lines += [f'note: {n}' for n in report['notes']]
    return '\n'.join(lines)


def select_device(name: Optional[str]) -> torch.device:
    """``--device``, defaulting to CUDA when available."""
    if name is None:
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available.')
    return torch.device(name)


def _device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({os.cpu_count()} cores)'


def prepare(args: argparse.Namespace) -> tuple:
    """Builds the config, model, batch and shared setup.

    Returns:
        tuple: ``(bench, report)``; ``report`` holds the setup's fields.
    """
    cfg = load_config(args.config)
    device = select_device(args.device)
    torch.backends.cudnn.benchmark = bool(
        (cfg.get('env_cfg') or {}).get('cudnn_benchmark', False))
    notes = [n for n in [amp_note(cfg)] if n]
    model = build_model(cfg, notes)
    size = image_size_of(cfg)
    batch_size = args.batch_size or cfg.train_dataloader.batch_size
    samples = make_samples(batch_size, size)
    bench = Bench(cfg, model, samples, device, args.warmup, args.iters)
    report = dict(
        config=args.config,
        device=device.type,
        device_name=_device_name(device),
        torch_threads=torch.get_num_threads(),
        batch_size=batch_size,
        image_size=size,
        warmup=args.warmup,
        iters=args.iters,
        notes=notes)
    return bench, report


def plain_reproduces(bench: Bench) -> bool:
    """Whether the plain loop can run the config's objective and losses."""
    try:
        _check_loss_types(bench.model)
    except ValueError:
        return False
    return True


def step_flops(bench: Bench, plain: bool) -> int:
    """FLOPs of one plain iteration, or of the config's step."""
    model = bench.copy_model()
    if plain:
        return count_flops(model, bench.cfg, real_images(model, bench.batch))
    mode = ProductMode(bench)
    with FlopCounterMode(display=False) as counter:
        mode.step()
    return int(counter.get_total_flops())


def reference_mode(args: argparse.Namespace, bench: Bench, report: dict,
                   plain_ok: bool) -> str:
    """The mode the ratios are to; drops plain from ``--variants`` where
    it cannot reproduce the objective (Soft-IntroVAE)."""
    if plain_ok or not args.variants:
        return 'plain'
    args.modes = [m for m in args.modes if m != 'plain']
    report['notes'].append(
        f'plain reproduces IntroVAE only (model.objective='
        f'{bench.model.objective!r}): no plain row, ratios are to fp32 '
        '(the same step with every switch off).')
    return 'fp32'


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Runs the benchmark, prints the report and maybe writes JSON.

    Args:
        argv (Sequence[str], optional): Command-line arguments.

    Returns:
        dict: The report.
    """
    args = parse_args(argv)
    bench, report = prepare(args)
    plain_ok = plain_reproduces(bench)
    base = reference_mode(args, bench, report, plain_ok)
    flops = step_flops(bench, plain=plain_ok)
    meter = MemoryMeter(bench.device)
    report.update(
        memory_kind=meter.kind,
        base=base,
        flops_of='plain' if plain_ok else 'the config\'s step',
        flops_per_iter=flops)
    modes = {
        name: summarise(result, report['batch_size'], flops)
        for name, result in run_modes(args.modes, bench, meter).items()
    }
    report.update(modes=modes, ratios=ratios(modes, base))
    if args.data:
        report['data'] = benchmark_data(bench.cfg, args.data_samples,
                                        report['image_size'])
        workers_needed(report['data'], modes)
    print(format_report(report))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
