"""Shared fixtures: tiny IntroVAE models and batches on the CPU, and the
helpers of the tests that import tools/ scripts or run child processes."""
import copy
import importlib.util
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Dict, Optional, Sequence, Union

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import mmintrovae  # noqa: F401  (registers the project's modules)

init_default_scope('mmagic')

TINY_SIZE = 16
TINY_CHANNELS = (4, 8)
TINY_LATENT = 6

REPO = Path(__file__).resolve().parents[1]
# The _base_ of the training configs that subprocess tests write: the demo
# config at TINY_SIZE, no validation, logging every iteration.
TINY_TRAIN_CONFIG = REPO / 'tests' / 'configs' / 'tiny_train.py'

PathLike = Union[str, os.PathLike]


def load_tool(name: str) -> ModuleType:
    """Imports the script ``tools/<name>.py`` (tools/ is not a package).

    The module is registered in ``sys.modules`` under ``name``, and tools/
    is put on ``sys.path``, so that pickle and spawned worker processes (a
    worker pool, for one) find its functions.

    Args:
        name (str): The script's name without ``.py``.

    Returns:
        ModuleType: The executed module.
    """
    tools = str(REPO / 'tools')
    if tools not in sys.path:
        sys.path.append(tools)
    spec = importlib.util.spec_from_file_location(name, f'{tools}/{name}.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for torchrun's master)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def subprocess_env(*paths: PathLike, unset: Sequence[str] = ()) -> dict:
    """This process's environment for a child Python process.

    Args:
        *paths (str | os.PathLike): Folders put first on ``PYTHONPATH``.
        unset (Sequence[str]): Variables removed from the environment.

    Returns:
        dict: The environment, with one OpenMP/MKL thread and Python's
        warnings off.
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [*map(str, paths), env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    env['PYTHONWARNINGS'] = 'ignore'
    for key in unset:
        env.pop(key, None)
    return env


def run_or_fail(cmd: Sequence[PathLike],
                what: str,
                cwd: Optional[PathLike] = None,
                env: Optional[Dict[str, str]] = None,
                timeout: float = 300,
                tail: int = 6000) -> subprocess.CompletedProcess:
    """Runs a command, capturing its text output; fails the test unless it
    exits with 0.

    Args:
        cmd (Sequence[str | os.PathLike]): The command and its arguments.
        what (str): What the command does, for the failure message.
        cwd (str | os.PathLike, optional): Its working directory.
        env (dict, optional): Its environment (default: this process's).
        timeout (float): Seconds before ``subprocess.TimeoutExpired``.
        tail (int): How many of the last characters of stdout and of
            stderr the failure message shows.

    Returns:
        subprocess.CompletedProcess: The finished process.
    """
    proc = subprocess.run([str(arg) for arg in cmd],
                          cwd=None if cwd is None else str(cwd),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f'{what} failed (rc {proc.returncode}):\n'
                    f'{proc.stdout[-tail:]}\n{proc.stderr[-tail:]}')
    return proc


def write_train_config(path: Path, template: str, **fields: object) -> str:
    """Writes a training config for a subprocess test from ``template``.

    The template is formatted with ``base`` (:data:`TINY_TRAIN_CONFIG`),
    ``vis_name`` (the file's stem: the runs of one process must not share
    mmengine's default 'visualizer' instance) and ``fields``; paths among
    them are given as strings.

    Args:
        path (Path): The config file to write.
        template (str): The config's text, with ``str.format`` fields.
        **fields: The template's other fields.

    Returns:
        str: The config's path.
    """
    fields = {
        key: str(value) if isinstance(value, os.PathLike) else value
        for key, value in fields.items()
    }
    path.write_text(
        template.format(
            base=str(TINY_TRAIN_CONFIG), vis_name=path.stem, **fields))
    return str(path)


def logged_scalars(work_dir: Path) -> dict:
    """``{iter: logged values}`` from a run's ``*/vis_data/scalars.json``
    (without the timings, which differ between runs)."""
    import json
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    assert len(files) == 1, files
    out = {}
    for line in files[0].read_text().splitlines():
        record = json.loads(line)
        for key in ('time', 'data_time', 'step'):
            record.pop(key, None)
        out[record.pop('iter')] = record
    return out


def assert_nested_close(a, b, what: str, tolerance: float = 0.) -> None:
    """Nested checkpoint contents (dicts, lists, tensors, numbers) are equal:
    floating-point tensors within ``tolerance`` (0: bit for bit), the rest
    exactly.

    Args:
        a, b: The two values.
        what (str): Where in the checkpoint, for the failure message.
        tolerance (float): Largest absolute difference of float tensors.
    """
    if isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for key in a:
            assert_nested_close(a[key], b[key], f'{what}.{key}', tolerance)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_nested_close(x, y, f'{what}[{i}]', tolerance)
    elif isinstance(a, torch.Tensor):
        assert a.shape == b.shape and a.dtype == b.dtype, what
        if a.is_floating_point() and tolerance > 0:
            diff = (a.double() - b.double()).abs().max().item() \
                if a.numel() else 0.
            assert diff <= tolerance, f'{what} differs by {diff:.3g}'
        else:
            assert torch.equal(a, b), what
    else:
        assert a == b, what


BASE_MODEL_CONFIGS = dict(
    IntroVAE=REPO / 'configs' / '_base_' / 'models' / 'introvae.py',
    SoftIntroVAE=REPO / 'configs' / '_base_' / 'models' / 'soft_introvae.py')


def base_model_cfg(model_type: str) -> dict:
    """``model`` of the ``_base_`` config of ``IntroVAE`` or
    ``SoftIntroVAE``: the one place their loss (and weight) defaults are."""
    from mmengine.config import Config
    return Config.fromfile(str(BASE_MODEL_CONFIGS[model_type])).model.to_dict()


def tiny_model_cfg(**overrides) -> dict:
    """A 16x16 IntroVAE config with data in [0, 1], for fast CPU tests.

    The losses (and Soft-IntroVAE's ``soft_weights``) are the ``_base_``
    config's, a config file's ``_base_`` would give: an override's
    ``loss_config`` entries replace those of the same name (without one,
    IntroVAE's margin is 1000); ``soft_weights`` are merged likewise.
    """
    overrides = copy.deepcopy(overrides)
    model_type = overrides.get('type', 'IntroVAE')
    base = base_model_cfg(model_type) if model_type in BASE_MODEL_CONFIGS \
        else {}
    losses = dict(base.get('loss_config', {}))
    if 'loss_config' in overrides:
        losses.update(overrides.pop('loss_config') or {})
    elif model_type == 'IntroVAE':
        losses['margin_loss'] = dict(type='MarginHingeLoss', margin=1000.)
    if model_type == 'SoftIntroVAE':
        weights = overrides.get('soft_weights') or {}
        overrides['soft_weights'] = dict(base['soft_weights'], **weights)
    cfg = dict(
        type='IntroVAE',
        encoder=dict(
            type='IntroVAEEncoder',
            image_size=TINY_SIZE,
            channels=TINY_CHANNELS,
            latent_dim=TINY_LATENT),
        decoder=dict(
            type='IntroVAEDecoder',
            image_size=TINY_SIZE,
            channels=TINY_CHANNELS,
            latent_dim=TINY_LATENT),
        data_preprocessor=dict(type='DataPreprocessor', mean=0., std=255.),
        loss_config=losses)
    cfg.update(overrides)
    return cfg


def make_batch(batch_size: int = 4, seed: int = 0, size: int = TINY_SIZE):
    """A collated batch as mmagic's pipeline (PackInputs) produces it."""
    from mmagic.datasets.transforms import PackInputs
    from mmengine.dataset import pseudo_collate
    rng = np.random.default_rng(seed)
    pack = PackInputs()
    items = [
        pack(dict(gt=rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
        for _ in range(batch_size)
    ]
    return pseudo_collate(items)


def make_optim_wrappers(model, lr: float = 1e-3, accumulative_counts=1):
    """An OptimWrapperDict with Adam for the encoder and the decoder."""
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    return OptimWrapperDict(
        encoder=OptimWrapper(
            torch.optim.Adam(model.encoder.parameters(), lr=lr),
            accumulative_counts=accumulative_counts),
        decoder=OptimWrapper(
            torch.optim.Adam(model.decoder.parameters(), lr=lr),
            accumulative_counts=accumulative_counts))


@pytest.fixture(autouse=True)
def restore_environ():
    """Every test starts with the environment the session started with:
    the tools' config loading sets ``LOCAL_RANK`` as mmagic's tools do, and
    a later test's launcher must not take it for a torchrun worker's."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def mmagic_scope():
    """Every test starts in mmagic's registry scope (a Runner built with
    another default_scope in an earlier test must not leak into this one)."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmagic'):
        yield


@pytest.fixture
def build_model():
    """Builds a tiny IntroVAE from the registry, with config overrides."""
    from mmagic.registry import MODELS

    def _build(**overrides):
        torch.manual_seed(0)
        return MODELS.build(tiny_model_cfg(**overrides))

    return _build


def tiny_runner_cfg(tmp_path,
                    max_iters: int,
                    custom_hooks: list,
                    ckpt_interval: int = 3,
                    model: dict = None,
                    num_images: int = 12,
                    data_seed: int = 0,
                    batch_size: int = 4,
                    lr: float = 1e-3,
                    flip: bool = False,
                    **extra) -> dict:
    """A Runner config training a tiny IntroVAE on generated faces."""
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    data_root = tmp_path / 'data'
    make_synthetic_faces(
        str(data_root), num_images, size=TINY_SIZE, seed=data_seed)
    pipeline = [dict(type='LoadImageOrSkip', key='gt')]
    if flip:
        pipeline.append(dict(type='Flip', keys=['gt'], direction='horizontal'))
    pipeline.append(dict(type='PackInputs'))
    optimizer = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=lr))
    cfg = dict(
        default_scope='mmagic',
        model=model or tiny_model_cfg(),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            batch_size=batch_size,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='BasicImageDataset',
                data_root=str(data_root),
                data_prefix=dict(gt='train'),
                pipeline=pipeline)),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            encoder=copy.deepcopy(optimizer),
            decoder=copy.deepcopy(optimizer)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook', interval=ckpt_interval, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=custom_hooks,
        randomness=dict(seed=0),
        # Runners named by their start second share a MessageHub when two
        # start within one second; a unique name keeps their logs apart.
        experiment_name=f'tiny_{uuid.uuid4().hex}')
    cfg.update(extra)
    return cfg
