"""The benchmark's ``runner`` mode: the step driven by mmengine's Runner."""
import copy
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence
from unittest import mock

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch.utils.data import Dataset

from .memory import MemoryMeter, synchronize
from .step_modes import Bench, StepMode, timed_round

NEVER = 10**9  # an interval that no benchmark reaches


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
