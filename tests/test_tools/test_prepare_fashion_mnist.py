"""Tests for tools/prepare_fashion_mnist.py on small hand-made idx files."""
import gzip
import os
import os.path as osp
import struct
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(
    0, osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'tools'))
import prepare_fashion_mnist as prep  # noqa: E402


def write_idx(path, array, magic):
    """Writes ``array`` (uint8) as a gzipped idx file."""
    header = struct.pack(f'>{1 + array.ndim}I', magic, *array.shape)
    with gzip.open(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_source(folder, num_train=5, num_val=3):
    """A Fashion-MNIST-shaped source folder; returns the images."""
    rng = np.random.default_rng(0)
    images = {}
    for prefix, n in (('train', num_train), ('t10k', num_val)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        write_idx(
            osp.join(folder, f'{prefix}-images-idx3-ubyte.gz'), imgs,
            prep.IMAGES_MAGIC)
        write_idx(
            osp.join(folder, f'{prefix}-labels-idx1-ubyte.gz'),
            np.arange(n) % 10, prep.LABELS_MAGIC)
        images[prefix] = imgs
    return images


def test_converts_pads_and_labels(tmp_path):
    src, out = tmp_path / 'src', tmp_path / 'out'
    src.mkdir()
    images = make_source(str(src))
    assert prep.main(['--src', str(src), '--out', str(out)]) == 0
    assert sorted(os.listdir(out /
                             'train')) == [f'{i:05d}.png' for i in range(5)]
    assert len(os.listdir(out / 'val')) == 3
    img = cv2.imread(str(out / 'val' / '00002.png'), cv2.IMREAD_UNCHANGED)
    assert img.shape == (32, 32, 3)
    # The original in the middle, 2 px of zero background, equal channels.
    np.testing.assert_array_equal(img[2:30, 2:30, 0], images['t10k'][2])
    np.testing.assert_array_equal(img[:, :, 0], img[:, :, 2])
    assert img[:2].max() == 0 and img[:, 30:].max() == 0
    labels = (out / 'train_labels.txt').read_text().split()
    assert labels == ['0', '1', '2', '3', '4']
    assert 'MIT' in (out / 'README.txt').read_text()


def test_rerun_skips_existing_and_limit(tmp_path):
    src, out = tmp_path / 'src', tmp_path / 'out'
    src.mkdir()
    make_source(str(src))
    assert prep.convert(
        str(src), str(out), limit=2) == dict(
            train=dict(written=2, skipped=0), val=dict(written=2, skipped=0))
    counts = prep.convert(str(src), str(out))
    assert counts['train'] == dict(written=3, skipped=2)
    assert not [n for n in os.listdir(out / 'train') if n.endswith('.tmp')]


def test_missing_source_names_the_package(tmp_path, capsys):
    rc = prep.main(
        ['--src',
         str(tmp_path / 'none'), '--out',
         str(tmp_path / 'out')])
    assert rc == 2
    err = capsys.readouterr().err
    assert 'apt-get install dataset-fashion-mnist' in err
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('damage', ['magic', 'truncated', 'count'])
def test_damaged_files_are_named(tmp_path, damage):
    src = tmp_path / 'src'
    src.mkdir()
    make_source(str(src))
    bad = src / 't10k-images-idx3-ubyte.gz'
    if damage == 'magic':
        write_idx(str(bad), np.zeros((3, 28, 28)), 1234)
        expected = 'magic number 1234'
    elif damage == 'truncated':
        data = bad.read_bytes()
        bad.write_bytes(data[:len(data) // 2])
        expected = 'gzip'
    else:
        write_idx(str(bad), np.zeros((4, 28, 28)), prep.IMAGES_MAGIC)
        expected = '4 images but'
    with pytest.raises(prep.PrepareError) as info:
        prep.convert(str(src), str(tmp_path / 'out'))
    assert expected in str(info.value)
    assert 't10k' in str(info.value)


@pytest.mark.skipif(
    not osp.isdir(prep.DEFAULT_SRC), reason='dataset-fashion-mnist absent')
def test_real_files_read():
    train = prep.splits(prep.DEFAULT_SRC)[0]
    assert prep.read_idx(train.images,
                         prep.IMAGES_MAGIC).shape == (60000, 28, 28)
    assert prep.read_idx(train.labels, prep.LABELS_MAGIC).max() == 9
