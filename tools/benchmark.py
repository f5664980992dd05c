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
import json
import math
import os
import os.path as osp
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from benchmarking.memory import MemoryMeter
from benchmarking.plain_loop import _check_loss_types, count_flops, real_images
from benchmarking.report import format_report, ratios, summarise
from benchmarking.runner_mode import run_runner
from benchmarking.step_modes import (VARIANTS, Bench, ProductMode, timed_round,
                                     warm_up)
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import mmintrovae  # noqa: F401  (registers modules, loads plugins)
from mmintrovae.utils import read_config

MODES = ('plain', 'product', 'runner')


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


def build_benchmark_model(cfg: Config, notes: List[str]) -> nn.Module:
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


def amp_note(cfg: Config) -> Optional[str]:
    """A remark when the config trains with mixed precision."""
    types = [
        str(v.get('type', '')) for v in cfg.optim_wrapper.values()
        if isinstance(v, dict)
    ]
    if any('Amp' in t for t in types + [str(cfg.optim_wrapper.get('type'))]):
        return 'product/runner use AmpOptimWrapper; plain is fp32.'
    return None


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


def _dataset_cfg(cfg: Config, num: int, size: int, tmp_dir: str) -> tuple:
    """The train dataset config, pointed at generated images if needed.

    Returns:
        tuple: The dataset config and where its images come from.
    """
    from synthetic_faces import make_synthetic_faces  # tools/, beside this

    from mmintrovae.datasets import check_dataset_folders
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
    init_default_scope('mmagic')
    cfg = read_config(args.config)
    device = select_device(args.device)
    torch.backends.cudnn.benchmark = bool(
        (cfg.get('env_cfg') or {}).get('cudnn_benchmark', False))
    notes = [n for n in [amp_note(cfg)] if n]
    model = build_benchmark_model(cfg, notes)
    size = model.encoder.image_size
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
        f'plain reproduces IntroVAE only (model.type='
        f'{type(bench.model).__name__!r}): no plain row, ratios are to fp32 '
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
