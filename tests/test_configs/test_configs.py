"""Every config in configs/ loads, builds its model and data, and trains.

The configs are globbed, so a new config is covered without editing this
file. Each one gets a few synthetic faces at its own resolution in a
temporary folder (never the repository's data/), laid out as its
dataloaders' ``data_root`` / ``data_prefix`` expect.
"""
import copy
import glob
import math
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from conftest import load_tool
from mmagic.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmintrovae  # noqa: F401  (registers the project's modules)
from mmintrovae.models import IntroVAE

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py')))
TRAIN_TOOL = osp.join(ROOT, 'tools', 'train.py')
DEMO_CONFIG = osp.join(ROOT, 'configs', 'introvae_demo-64.py')

NUM_TRAIN, NUM_VAL = 4, 2
# Above this side a CPU step is slow (tens of seconds): one image a batch.
LARGE_SIDE = 512
# A generous bound, so that a hung training run fails instead of blocking.
TRAIN_TIMEOUT_S = 1800
DATA_KEY = 'train_dataloader.dataset.data_root'


def _name(path: str) -> str:
    """Returns the config's file name without ``.py``, the test id."""
    return osp.splitext(osp.basename(path))[0]


def _is_introvae(path: str) -> bool:
    """Whether a config's model is an IntroVAE (decided at collection).

    A config that cannot even be loaded counts as an IntroVAE one, so that
    every test runs on it and reports the error, instead of the whole
    module failing to collect.
    """
    try:
        cfg = Config.fromfile(path)
        return issubclass(MODELS.get(cfg.model.type), IntroVAE)
    except Exception:  # the tests report it
        return True


INTROVAE_CONFIGS = [p for p in CONFIGS if _is_introvae(p)]


def _image_size(cfg: Config) -> int:
    """The side of the square images the config's model works on.

    IntroVAE models have it as ``model.image_size`` (given to both
    networks); other models from the config's top-level ``image_size``.
    """
    if issubclass(MODELS.get(cfg.model.type), IntroVAE):
        return cfg.model.image_size
    assert 'image_size' in cfg, (
        f'{cfg.filename}: no top-level image_size; teach _image_size() the '
        'resolution of this kind of model')
    return cfg.image_size


def _batch_size(size: int) -> int:
    """Two images a batch, one for the large (1024 px) configs."""
    return 1 if size > LARGE_SIDE else 2


def _innermost_dataset(dataset: dict) -> dict:
    """Follows dataset wrappers (RepeatDataset ...) to the image dataset."""
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def _lean_loader(loader_cfg: dict, data_root: str, batch_size: int) -> dict:
    """A copy of a dataloader config on ``data_root``, in this process.

    Also checks that each ``data_prefix`` folder exists under the root, so
    a config expecting another layout fails here with a clear message.
    """
    loader_cfg = copy.deepcopy(loader_cfg)
    loader_cfg.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    dataset = _innermost_dataset(loader_cfg['dataset'])
    dataset['data_root'] = data_root
    prefix = dataset.get('data_prefix') or {}
    folders = prefix.values() if isinstance(prefix, dict) else [prefix]
    for folder in folders:
        assert osp.isdir(osp.join(data_root, folder)), (
            f'data_prefix folder {folder!r} is not one of the synthetic '
            f'splits {os.listdir(data_root)}')
    return loader_cfg


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """Makes (once per side) 4 training and 2 validation faces.

    Returns:
        callable: ``faces(size)`` gives the data root, with ``train/`` and
        ``val/`` folders of ``size`` x ``size`` PNG files.
    """
    roots = {}
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces

    def _faces(size: int) -> str:
        if size not in roots:
            root = str(tmp_path_factory.mktemp(f'faces{size}') / 'data')
            make_synthetic_faces(
                root,
                NUM_TRAIN + NUM_VAL,
                size=size,
                seed=0,
                val_fraction=NUM_VAL / (NUM_TRAIN + NUM_VAL))
            roots[size] = root
        return roots[size]

    return _faces


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_builds_and_trains_a_step(path, faces):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    size = _image_size(cfg)
    data_root = faces(size)
    batch_size = _batch_size(size)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    introvae = isinstance(model, IntroVAE)
    if introvae:
        assert model.encoder.image_size == size
        assert model.decoder.image_size == size

    batches = {}
    for split in ('train', 'val'):
        loader_cfg = cfg.get(f'{split}_dataloader')
        if not loader_cfg:
            continue
        loader = Runner.build_dataloader(
            _lean_loader(loader_cfg, data_root, batch_size), seed=0)
        batch = next(iter(loader))
        samples = batch['data_samples']
        assert len(samples) == batch_size, split
        for sample in samples:
            assert tuple(sample.gt_img.shape) == (3, size, size), split
        batches[split] = batch
    assert 'train' in batches

    if not introvae:
        return  # other models: built, and their data loads
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    MessageHub.get_current_instance().update_info('iter', 0)
    log_vars = model.train_step(batches['train'], optim_wrapper)
    assert 'loss_ae' in log_vars
    for key, value in log_vars.items():
        assert math.isfinite(float(value)), (key, value)


def _train_options(cfg: Config, data_root: str) -> list:
    """``--cfg-options`` for a 2-iteration run of tools/train.py.

    One image a batch; iteration 0 is a plain-VAE step and iteration 1 an
    introspective one (``vae_warmup_iters=1``). Validation and test are
    switched off entirely (a None dataloader, loop config and evaluator,
    as mmengine's Runner accepts), so the run builds no metric and the
    dataset check looks at the training folder only. The checkpoint comes
    from the CheckpointHook's ``save_last``; the visualization grid after
    training keeps 2 prior samples instead of 16.
    """
    options = {
        'train_cfg.max_iters': 2,
        'train_dataloader.batch_size': 1,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        DATA_KEY: data_root,
        'model.vae_warmup_iters': 1,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1000,
    }
    for split in ('val', 'test'):
        for key in ('cfg', 'dataloader', 'evaluator'):
            options[f'{split}_{key}'] = None
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if hook['type'].split('.')[-1] == 'IntroVAEVisualizationHook':
            options[f'custom_hooks.{i}.num_samples'] = 2
    return [f'{key}={value}' for key, value in options.items()]


def _run_train(config: str, work_dir: str, options: list):
    """Runs tools/train.py in a subprocess from the repository root.

    Returns:
        subprocess.CompletedProcess: With ``stdout`` and ``stderr`` text.
    """
    cmd = [
        sys.executable, TRAIN_TOOL, config, '--work-dir', work_dir,
        '--cfg-options', *options
    ]
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S)


def _tail(result, lines: int = 40) -> str:
    """The last lines of a finished process's stderr, for failures."""
    return '\n'.join(result.stderr.splitlines()[-lines:])


@pytest.mark.parametrize('path', INTROVAE_CONFIGS, ids=_name)
def test_train_tool_runs_two_iterations(path, faces, tmp_path):
    cfg = Config.fromfile(path)
    data_root = faces(_image_size(cfg))
    work_dir = tmp_path / 'work'
    result = _run_train(path, str(work_dir), _train_options(cfg, data_root))
    assert result.returncode == 0, _tail(result)

    checkpoint = work_dir / 'iter_2.pth'
    assert checkpoint.is_file(), sorted(os.listdir(work_dir))
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    assert len(logs) == 1, logs
    with open(logs[0], encoding='utf-8') as f:
        log = f.read()
    assert 'Iter(train) [2/2]' in log
    # both kinds of step ran: the VAE warm-up and the introspective game
    for key in ('loss_ae', 'loss_vae', 'loss_encoder', 'loss_decoder'):
        assert key in log, key
    checkpoint.unlink()  # up to 660 MB (1024 px); tmp dirs are kept


@pytest.mark.parametrize('case', ['missing', 'empty'])
def test_train_tool_names_a_missing_dataset_folder(case, tmp_path):
    data_root = tmp_path / 'data'
    if case == 'empty':
        (data_root / 'train').mkdir(parents=True)
        (data_root / 'train' / 'notes.txt').write_text('not an image')
    result = _run_train(DEMO_CONFIG, str(tmp_path / 'work'),
                        [f'{DATA_KEY}={data_root}'])
    assert result.returncode != 0
    folder = osp.join(str(data_root), 'train')
    reason = 'does not exist' if case == 'missing' else 'holds no image'
    assert 'FileNotFoundError' in result.stderr, _tail(result)
    message = f'Dataset folder {folder!r} (from {DATA_KEY}) {reason}'
    assert message in result.stderr, _tail(result)
    # raised by the check before training: no frame inside torch
    frames = re.findall(r'^\s*File "([^"]+)"', result.stderr, re.M)
    assert not any(re.search(r'[/\\]torch[/\\]', f) for f in frames), frames
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


GPU_CONFIGS = [
    p for p in CONFIGS if _is_introvae(p) and Config.fromfile(
        p).optim_wrapper.encoder.get('type') == 'BF16OptimWrapper'
]


@pytest.mark.parametrize('path', GPU_CONFIGS, ids=_name)
def test_multi_gpu_configs_normalise_over_all_ranks(path):
    """The GPU configs (run with tools/dist_train.sh) wrap the model with
    sync_bn, which turns every BatchNorm2d into SyncBatchNorm2d."""
    from mmintrovae.engine import IntroVAEDistributedWrapper
    from mmintrovae.models import SyncBatchNorm2d
    cfg = Config.fromfile(path)
    assert cfg.model_wrapper_cfg == dict(
        type='IntroVAEDistributedWrapper', sync_bn=True)
    model_cfg = copy.deepcopy(cfg.model)
    # A small network of the same kind: the conversion does not depend on
    # the size, and 1024 px networks are slow to build.
    model_cfg.update(image_size=16, channels=(4, 8), latent_dim=4)
    if 'ema_config' in model_cfg:
        model_cfg.pop('ema_config')
    init_default_scope('mmagic')
    model = MODELS.build(model_cfg)
    wrapper = IntroVAEDistributedWrapper(
        model, **{
            k: v
            for k, v in cfg.model_wrapper_cfg.items() if k != 'type'
        })
    layers = [
        m for m in wrapper.modules() if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert layers and all(type(m) is SyncBatchNorm2d for m in layers)
