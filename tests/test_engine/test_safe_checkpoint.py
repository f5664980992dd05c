"""Tests of mmintrovae.engine.safe_checkpoint (CPU, a few seconds).

A real mmengine Runner trains a tiny model for 2 iterations and saves
checkpoints; a new Runner resumes from them with ``weights_only=True`` forced
(``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1``), which only works with the allow-list.
"""
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys
import uuid

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.dataset import BaseDataset
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from mmintrovae.engine import (SAFE_GLOBAL_NAMES, CorruptCheckpointError,
                               UnsafeCheckpointError, install_safe_globals,
                               install_safe_local_loader,
                               load_checkpoint_safely)

_SIDE_EFFECTS = []


def _record_side_effect(*args):
    """What a malicious pickle would run; must never be called."""
    _SIDE_EFFECTS.append(args)
    return 'executed'


class _Custom:
    """An arbitrary user class stored in a checkpoint's meta."""

    def __init__(self, value=1):
        self.value = value


class _Exploit:
    """Pickles as a call of ``_record_side_effect``."""

    def __reduce__(self):
        return (_record_side_effect, ('pwned', ))


class _HistoryBufferAttr:
    """Pickles as ``getattr(HistoryBuffer, 'update')`` (not allow-listed)."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'update'))


@MODELS.register_module(name='SafeCkptToyModel', force=True)
class _ToyModel(BaseModel):
    """A tiny auto-encoder with BatchNorm (buffers) for the Runner."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 2)
        self.norm = nn.BatchNorm1d(2)
        self.dec = nn.Linear(2, 4)

    def forward(self, inputs, data_samples=None, mode='tensor', **kwargs):
        """Reconstruction loss in 'loss' mode, the output otherwise."""
        x = torch.stack(inputs)
        y = self.dec(self.norm(self.enc(x)))
        if mode == 'loss':
            return dict(loss_rec=((y - x)**2).mean())
        return y


@DATASETS.register_module(name='SafeCkptToyDataset', force=True)
class _ToyDataset(BaseDataset):
    """Eight 4-vectors in memory; numpy arrays in its metainfo."""

    METAINFO = dict(
        dataset_type='toy',
        classes=np.array(['face', 'background']),
        mean=np.array([0.5, 0.5], dtype=np.float32))

    def load_data_list(self):
        """Returns the samples (no files)."""
        return [dict(inputs=torch.full((4, ), float(i))) for i in range(8)]


def _runner(work_dir, max_iters, resume=False, load_from=None):
    """A Runner built the way tools/train.py builds one (from a Config)."""
    cfg = Config(
        dict(
            model=dict(type='SafeCkptToyModel'),
            work_dir=work_dir,
            experiment_name=f'safe_ckpt_{uuid.uuid4().hex[:8]}',
            train_dataloader=dict(
                dataset=dict(
                    type='SafeCkptToyDataset',
                    # From a config, nested dicts become ConfigDicts, which
                    # the Runner saves in meta['dataset_meta'].
                    metainfo=dict(extra=dict(source='test', ids=[1, 2])),
                    serialize_data=False),
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='pseudo_collate'),
                batch_size=2,
                num_workers=0),
            train_cfg=dict(by_epoch=False, max_iters=max_iters),
            optim_wrapper=dict(
                optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.999))),
            param_scheduler=[
                dict(type='MultiStepLR', milestones=[1, 3], by_epoch=False)
            ],
            default_hooks=dict(
                checkpoint=dict(
                    type='CheckpointHook', interval=1, by_epoch=False),
                logger=dict(type='LoggerHook', interval=1)),
            randomness=dict(seed=0),
            resume=resume,
            load_from=load_from,
            launcher='none',
            default_scope='mmengine',
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            log_level='WARNING'))
    return Runner.from_cfg(cfg)


@pytest.fixture(autouse=True)
def _weights_only_forced(monkeypatch):
    """Every torch.load here is weights_only=True, whatever its caller says;
    torch's allow-list and mmengine's loaders are restored afterwards."""
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    monkeypatch.setenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', '1')
    allowlist = torch.serialization.get_safe_globals()
    schemes = CheckpointLoader._schemes.copy()
    _SIDE_EFFECTS.clear()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(allowlist)
    CheckpointLoader._schemes = schemes


@pytest.fixture(scope='module')
def trained_dir(tmp_path_factory):
    """A work_dir after 2 iterations: iter_1.pth, iter_2.pth."""
    work_dir = str(tmp_path_factory.mktemp('trained'))
    runner = _runner(work_dir, max_iters=2)
    runner.train()
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    return work_dir


@pytest.fixture
def work_dir(trained_dir, tmp_path):
    """A private copy of ``trained_dir`` (its last_checkpoint rewritten)."""
    copy = str(tmp_path / 'work')
    shutil.copytree(trained_dir, copy)
    with open(osp.join(copy, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(copy, 'iter_2.pth'))
    return copy


def test_runner_checkpoint_needs_exactly_the_allowlist(work_dir):
    """Without the allow-list torch refuses the Runner's own checkpoint; with
    it nothing in the file is left unaccounted for."""
    ckpt = osp.join(work_dir, 'iter_2.pth')
    torch.serialization.clear_safe_globals()
    unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(ckpt))
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in unsafe
    assert 'mmengine.config.config.ConfigDict' in unsafe
    assert unsafe <= set(SAFE_GLOBAL_NAMES)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, weights_only=True)

    install_safe_globals()
    assert torch.serialization.get_unsafe_globals_in_checkpoint(ckpt) == []
    ckpt_dict = torch.load(ckpt, weights_only=True)
    assert ckpt_dict['meta']['iter'] == 2
    assert isinstance(ckpt_dict['meta']['dataset_meta']['extra'], ConfigDict)
    buffer = ckpt_dict['message_hub']['log_scalars']['train/loss_rec']
    assert isinstance(buffer, HistoryBuffer)
    assert np.isfinite(buffer.mean())  # statistics methods came back


def test_install_is_idempotent():
    """A second call adds nothing; after clear_safe_globals it re-adds."""
    install_safe_globals()
    first = torch.serialization.get_safe_globals()
    install_safe_globals()
    assert len(torch.serialization.get_safe_globals()) == len(first)
    assert set(torch.serialization.get_safe_globals()) == set(first)
    torch.serialization.clear_safe_globals()  # also torch's own entries
    install_safe_globals()
    names = {name for _, name in torch.serialization.get_safe_globals()}
    assert names == set(SAFE_GLOBAL_NAMES)


def test_new_runner_resumes_with_weights_only(work_dir):
    """A new Runner with resume=True continues from iter 2 to iter 4."""
    first_ckpt = osp.join(work_dir, 'iter_1.pth')
    mtime = os.stat(first_ckpt).st_mtime_ns
    install_safe_globals()
    runner = _runner(work_dir, max_iters=4, resume=True)
    runner.train()
    assert runner.iter == 4
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    # It resumed rather than started again: iter_1.pth was not rewritten,
    # and the loss history holds the 2 resumed and the 2 new values.
    assert os.stat(first_ckpt).st_mtime_ns == mtime
    history = runner.message_hub.get_scalar('train/loss_rec').data[0]
    assert len(history) == 4
    # The resumed checkpoint loads safely as well.
    assert load_checkpoint_safely(osp.join(work_dir,
                                           'iter_4.pth'))['meta']['iter'] == 4


def _checkpoint_with(work_dir, name, **meta_items):
    """The Runner's iter_2.pth with extra objects in its meta, saved as
    ``name``."""
    install_safe_globals()
    ckpt = torch.load(osp.join(work_dir, 'iter_2.pth'), weights_only=True)
    ckpt['meta'].update(meta_items)
    path = osp.join(work_dir, name)
    torch.save(ckpt, path)
    return path


def test_unknown_class_is_refused_with_a_clear_message(work_dir):
    """A pickled custom object in meta: refused, naming class and file."""
    path = _checkpoint_with(work_dir, 'custom.pth', custom=_Custom(3))
    qualname = f'{_Custom.__module__}.{_Custom.__qualname__}'
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_safely(path)
    message = str(info.value)
    assert qualname in message
    assert path in message
    assert 'add_safe_globals' in message and 'custom_imports' in message
    assert info.value.rejected == qualname
    assert info.value.filename == path
    assert isinstance(info.value, pickle.UnpicklingError)

    # The trusted-file escape hatch stays weights_only and is per call.
    ckpt = load_checkpoint_safely(path, extra_safe_globals=[_Custom])
    assert ckpt['meta']['custom'].value == 3
    assert _Custom not in torch.serialization.get_safe_globals()
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_safely(path)


def test_runner_resume_refuses_unknown_class(work_dir):
    """mmengine's own resume path refuses it too; through the safe local
    loader with the clear message."""
    path = _checkpoint_with(work_dir, 'custom.pth', custom=_Custom())
    install_safe_globals()
    with pytest.raises(pickle.UnpicklingError, match='_Custom'):
        _runner(work_dir, max_iters=4, resume=True, load_from=path).train()

    install_safe_local_loader()
    with pytest.raises(UnsafeCheckpointError, match='_Custom') as info:
        _runner(work_dir, max_iters=4, resume=True, load_from=path).train()
    assert path in str(info.value)


def test_code_in_the_pickle_never_runs(work_dir):
    """A pickle that calls a function is refused before calling it."""
    path = _checkpoint_with(work_dir, 'exploit.pth', x=_Exploit())
    with pytest.raises(UnsafeCheckpointError, match='_record_side_effect'):
        load_checkpoint_safely(path)
    assert _SIDE_EFFECTS == []


def test_getattr_only_resolves_allowlisted_attributes(work_dir):
    """``builtins.getattr`` is bound to a restricted version: the pickle may
    reach HistoryBuffer.min etc., not any other attribute."""
    path = _checkpoint_with(work_dir, 'attr.pth', x=_HistoryBufferAttr())
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_safely(path)
    assert 'HistoryBuffer.update' in str(info.value)


def test_object_arrays_are_refused(work_dir):
    """numpy object arrays can hold anything; their dtype is not allowed."""
    path = _checkpoint_with(
        work_dir, 'objects.pth', x=np.array([1, 'a'], dtype=object))
    with pytest.raises(UnsafeCheckpointError, match='ObjectDType'):
        load_checkpoint_safely(path)


@pytest.mark.parametrize('damage', ['half', 'last_byte', 'empty', 'bytes'])
def test_damaged_file_gives_the_corrupt_file_error(work_dir, damage):
    """Truncated or overwritten files: the error names the file, says it is
    corrupt and points at the previous checkpoint."""
    path = osp.join(work_dir, 'iter_2.pth')
    with open(path, 'rb') as f:
        data = f.read()
    if damage == 'half':
        data = data[:len(data) // 2]
    elif damage == 'last_byte':
        data = data[:-1]
    elif damage == 'empty':
        data = b''
    else:  # a run of bytes in the middle overwritten: CRC mismatch
        middle = len(data) // 2
        data = data[:middle] + bytes(64) + data[middle + 64:]
    with open(path, 'wb') as f:
        f.write(data)

    with pytest.raises(CorruptCheckpointError) as info:
        load_checkpoint_safely(path)
    message = str(info.value)
    assert path in message
    assert 'truncated or corrupt' in message
    assert 'iter_1.pth' in message  # the previous checkpoint


def test_runner_resume_of_truncated_checkpoint(work_dir):
    """With the safe local loader, resuming a truncated last checkpoint
    raises the corrupt-file error that suggests iter_1.pth."""
    path = osp.join(work_dir, 'iter_2.pth')
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 3)
    install_safe_local_loader()
    with pytest.raises(CorruptCheckpointError, match='iter_1.pth'):
        _runner(work_dir, max_iters=4, resume=True).train()


def test_missing_file():
    """A path that is no file: FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_checkpoint_safely('/nonexistent/nowhere.pth')


def test_importing_mmintrovae_routes_mmengine_loading(work_dir):
    """The product's loads (``--resume``, ``load_from``, the tools'
    CHECKPOINT all go through mmengine's CheckpointLoader) get the clear
    errors: importing mmintrovae installs the safe local loader."""
    path = osp.join(work_dir, 'iter_2.pth')
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 3)
    code = ('import mmintrovae\n'
            'from mmengine.runner.checkpoint import CheckpointLoader\n'
            f'CheckpointLoader.load_checkpoint({path!r}, map_location="cpu")')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode != 0
    assert 'CorruptCheckpointError' in result.stderr
    assert 'truncated or corrupt' in result.stderr
    assert 'iter_1.pth' in result.stderr
