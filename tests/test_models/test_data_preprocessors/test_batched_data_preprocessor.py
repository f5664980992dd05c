"""BatchedDataPreprocessor gives mmagic's DataPreprocessor's outputs."""
import copy

import cv2
import numpy as np
import pytest
import torch
from conftest import make_optim_wrappers, tiny_model_cfg
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate

from mmintrovae.models import BatchedDataPreprocessor


def _pipeline_batch(tmp_path, num=5, size=12, color_type='color'):
    """A batch as the training dataloader makes it: files -> pipeline."""
    rng = np.random.default_rng(0)
    pipeline = Compose([
        dict(type='LoadImageFromFile', key='gt', color_type=color_type),
        dict(type='PackInputs'),
    ])
    items = []
    for i in range(num):
        path = str(tmp_path / f'{i}.png')
        cv2.imwrite(path, rng.integers(0, 256, (size, size, 3), np.uint8))
        items.append(pipeline(dict(gt_path=path)))
    return pseudo_collate(items)


def _both(**kwargs):
    ref = MODELS.build(dict(type='DataPreprocessor', **kwargs))
    fast = MODELS.build(dict(type='BatchedDataPreprocessor', **kwargs))
    assert isinstance(fast, BatchedDataPreprocessor)
    return ref, fast


def _assert_same(out_ref, out_fast, key='gt_img'):
    ref, fast = out_ref['data_samples'], out_fast['data_samples']
    assert isinstance(fast, DataSample)
    assert set(ref.keys()) == set(fast.keys())
    torch.testing.assert_close(fast.get(key), ref.get(key), rtol=0, atol=1e-6)
    assert fast.get(key).dtype == ref.get(key).dtype
    assert set(ref.metainfo_keys()) == set(fast.metainfo_keys())
    for name in ref.metainfo_keys():
        a, b = ref.metainfo[name], fast.metainfo[name]
        assert len(a) == len(b), name
        for x, y in zip(a, b):
            if isinstance(x, torch.Tensor):
                torch.testing.assert_close(y, x, rtol=0, atol=0)
            else:
                assert x == y, name
    torch.testing.assert_close(out_fast['inputs'], out_ref['inputs'])


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize(
    'kwargs', [
        dict(mean=0., std=255.),
        dict(mean=[127.5, 100., 50.], std=[127.5, 60., 30.]),
        dict(mean=0., std=255., output_channel_order='RGB'),
    ],
    ids=['introvae', 'per-channel', 'to-rgb'])
def test_same_outputs_as_mmagic(tmp_path, kwargs, training):
    batch = _pipeline_batch(tmp_path)
    ref, fast = _both(**kwargs)
    out_ref = ref(copy.deepcopy(batch), training)
    out_fast = fast(copy.deepcopy(batch), training)
    _assert_same(out_ref, out_fast)
    if training and 'output_channel_order' in kwargs:
        # The conversion really happened (not both skipped it).
        raw = torch.stack([s.gt_img for s in batch['data_samples']]).float()
        torch.testing.assert_close(out_fast['data_samples'].gt_img,
                                   raw[:, [2, 1, 0]] / 255.)


def test_unstacked_batches_go_through_mmagic(tmp_path):
    batch = _pipeline_batch(tmp_path)
    ref, fast = _both(mean=0., std=255., stack_data_sample=False)
    out_ref = ref(copy.deepcopy(batch), True)
    out_fast = fast(copy.deepcopy(batch), True)
    assert isinstance(out_fast['data_samples'], list)
    for a, b in zip(out_ref['data_samples'], out_fast['data_samples']):
        torch.testing.assert_close(b.gt_img, a.gt_img, rtol=0, atol=0)
        assert a.metainfo_keys() == b.metainfo_keys()


def test_mixed_shapes_are_not_batched(tmp_path):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    samples = (
        _pipeline_batch(tmp_path / 'a', num=2, size=12)['data_samples'] +
        _pipeline_batch(tmp_path / 'b', num=1, size=10)['data_samples'])
    _, fast = _both(mean=0., std=255.)
    assert fast._batch_orders(samples) is None
    # LoadImageFromFile's channel order, lower case.
    assert fast._batch_orders(samples[:2]) == {'gt_img': 'bgr'}


def test_trains_an_introvae_step(tmp_path):
    """The model trains with it and sees the same images as with mmagic's."""
    batch = _pipeline_batch(tmp_path, num=4, size=16)
    losses = {}
    for kind in ('DataPreprocessor', 'BatchedDataPreprocessor'):
        torch.manual_seed(0)
        model = MODELS.build(
            tiny_model_cfg(
                data_preprocessor=dict(type=kind, mean=0., std=255.)))
        torch.manual_seed(1)
        losses[kind] = model.train_step(
            copy.deepcopy(batch), make_optim_wrappers(model))
    for name, value in losses['DataPreprocessor'].items():
        torch.testing.assert_close(
            losses['BatchedDataPreprocessor'][name], value, rtol=0, atol=0)
