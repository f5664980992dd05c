"""Bad images: named in a clear error, or skipped as the config says."""
import cv2
import numpy as np
import pytest
import torch
from mmagic.registry import DATASETS, MODELS, TRANSFORMS

from mmintrovae.datasets import UnreadableImageError


def write_png(path, shape, value=128):
    cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path


@pytest.fixture
def bad_files(tmp_path):
    good = write_png(tmp_path / 'good.png', (8, 8, 3))
    garbage = tmp_path / 'garbage.png'
    garbage.write_bytes(b'not an image at all')
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    truncated = tmp_path / 'truncated.png'
    truncated.write_bytes(good.read_bytes()[:40])
    return dict(good=good, garbage=garbage, empty=empty, truncated=truncated)


@pytest.mark.parametrize('name', ['garbage', 'empty', 'truncated'])
def test_unreadable_image_is_named(bad_files, name):
    load = TRANSFORMS.build(dict(type='LoadImageOrSkip', key='gt'))
    with pytest.raises(UnreadableImageError) as err:
        load(dict(gt_path=str(bad_files[name])))
    message = str(err.value)
    assert str(bad_files[name]) in message
    assert "on_error='skip'" in message


@pytest.mark.parametrize('name', ['garbage', 'empty', 'truncated'])
def test_unreadable_image_is_skipped_when_asked(bad_files, name):
    load = TRANSFORMS.build(
        dict(type='LoadImageOrSkip', key='gt', on_error='skip'))
    assert load(dict(gt_path=str(bad_files[name]))) is None
    assert load.skipped == 1


def test_training_dataset_skips_bad_files_and_keeps_good_ones(tmp_path):
    folder = tmp_path / 'train'
    folder.mkdir()
    for i in range(3):
        write_png(folder / f'{i}.png', (8, 8, 3), value=50 * i)
    (folder / 'bad.png').write_bytes(b'\x89PNG broken')
    dataset = DATASETS.build(
        dict(
            type='BasicImageDataset',
            data_root=str(tmp_path),
            data_prefix=dict(gt='train'),
            pipeline=[
                dict(type='LoadImageOrSkip', key='gt', on_error='skip'),
                dict(type='PackInputs')
            ]))
    assert len(dataset) == 4
    items = [dataset[i] for i in range(len(dataset))]
    assert all(item['data_samples'].gt_img.shape == (3, 8, 8)
               for item in items)


@pytest.mark.parametrize('shape', [(8, 8), (8, 8, 4)], ids=['grey', 'rgba'])
def test_grey_and_rgba_images_become_three_channels(tmp_path, shape):
    path = tmp_path / 'img.png'
    cv2.imwrite(str(path), np.full(shape, 200, np.uint8))
    load = TRANSFORMS.build(
        dict(type='LoadImageOrSkip', key='gt', color_type='color'))
    assert load(dict(gt_path=str(path)))['gt'].shape == (8, 8, 3)


def test_wrong_image_size_is_a_clear_error(build_model):
    model = build_model()  # 16x16 model
    with pytest.raises(ValueError, match=r'shape \(N, 3, 16, 16\).*Resize'):
        model.encoder(torch.zeros(2, 3, 32, 32))


def test_bad_on_error_value_is_named():
    with pytest.raises(ValueError, match="on_error='ignore'"):
        TRANSFORMS.build(
            dict(type='LoadImageOrSkip', key='gt', on_error='ignore'))


def test_channels_that_do_not_fit_name_both_values():
    with pytest.raises(ValueError) as err:
        MODELS.build(
            dict(
                type='IntroVAEDecoder',
                image_size=256,
                channels=[32, 64, 128],
                latent_dim=8))
    assert 'channels=[32, 64, 128]' in str(err.value)
    assert 'image_size=256' in str(err.value)
    assert '6 entries' in str(err.value)
