"""Tests of the synthetic cartoon face generator and its CLI."""
import json
import os
import os.path as osp
from itertools import combinations

import cv2
import numpy as np
import pytest
from conftest import load_tool

synthetic_faces = load_tool('synthetic_faces')
make_synthetic_faces = synthetic_faces.make_synthetic_faces


def _read_all(folder: str) -> dict:
    """Reads every file of a data set folder.

    Args:
        folder (str): The data set folder.

    Returns:
        dict: Relative path to the file's bytes.
    """
    files = {}
    for split in ('train', 'val'):
        for name in sorted(os.listdir(osp.join(folder, split))):
            with open(osp.join(folder, split, name), 'rb') as f:
                files[f'{split}/{name}'] = f.read()
    return files


def _load_images(folder: str) -> np.ndarray:
    """Loads the images of one split folder.

    Args:
        folder (str): The split folder.

    Returns:
        np.ndarray: The stacked images, (N, H, W, 3).
    """
    names = sorted(os.listdir(folder))
    return np.stack([cv2.imread(osp.join(folder, n)) for n in names])


def test_counts_split_and_meta(tmp_path):
    out = str(tmp_path / 'faces')
    result = make_synthetic_faces(out, 20, size=32, val_fraction=0.25)
    assert result == dict(out_dir=out, train=15, val=5, size=32, skipped=False)
    assert sorted(os.listdir(out)) == ['meta.json', 'train', 'val']
    names = [f'{i:05d}.png' for i in range(15)]
    assert sorted(os.listdir(osp.join(out, 'train'))) == names
    assert sorted(os.listdir(osp.join(out, 'val'))) == names[:5]
    with open(osp.join(out, 'meta.json')) as f:
        meta = json.load(f)
    assert (meta['num_images'], meta['size'], meta['seed'],
            meta['val_fraction']) == (20, 32, 0, 0.25)


@pytest.mark.parametrize('num, fraction, expected', [
    (1, 0.1, (1, 0)),
    (2, 0.1, (1, 1)),
    (10, 0.0, (10, 0)),
    (3000, 0.1, (2700, 300)),
])
def test_split_counts(num, fraction, expected):
    assert synthetic_faces._split_counts(num, fraction) == expected


def test_same_seed_gives_identical_bytes(tmp_path):
    first = str(tmp_path / 'a')
    second = str(tmp_path / 'b')
    make_synthetic_faces(first, 12, size=32, seed=3)
    make_synthetic_faces(second, 12, size=32, seed=3)
    assert _read_all(first) == _read_all(second)


def test_other_seed_gives_other_images(tmp_path):
    make_synthetic_faces(str(tmp_path / 'a'), 6, size=32, seed=0)
    make_synthetic_faces(str(tmp_path / 'b'), 6, size=32, seed=1)
    first = _read_all(str(tmp_path / 'a'))
    second = _read_all(str(tmp_path / 'b'))
    assert not set(first.values()) & set(second.values())


def test_images_do_not_depend_on_the_count():
    small = [synthetic_faces.draw_face(i, 32, 5) for i in range(4)]
    again = [synthetic_faces.draw_face(i, 32, 5) for i in reversed(range(4))]
    for img, other in zip(small, reversed(again)):
        np.testing.assert_array_equal(img, other)


@pytest.mark.parametrize('size', [32, 64])
def test_image_size_dtype_channels(tmp_path, size):
    out = str(tmp_path / 'faces')
    make_synthetic_faces(out, 4, size=size, val_fraction=0.25)
    for split in ('train', 'val'):
        for name in os.listdir(osp.join(out, split)):
            img = cv2.imread(osp.join(out, split, name), cv2.IMREAD_UNCHANGED)
            assert img.shape == (size, size, 3)
            assert img.dtype == np.uint8


def test_images_differ_visibly(tmp_path):
    out = str(tmp_path / 'faces')
    make_synthetic_faces(out, 16, size=32, val_fraction=0.0)
    imgs = _load_images(osp.join(out, 'train')).astype(np.float32)
    for a, b in combinations(range(len(imgs)), 2):
        assert np.abs(imgs[a] - imgs[b]).mean() > 5.0
    # Every pixel varies across the set, and each image has structure.
    assert imgs.std(axis=0).mean() > 20.0
    assert min(img.std() for img in imgs) > 10.0


def test_skips_a_complete_data_set(tmp_path):
    out = str(tmp_path / 'faces')
    make_synthetic_faces(out, 8, size=32)
    path = osp.join(out, 'train', '00000.png')
    before = os.stat(path).st_mtime_ns
    result = make_synthetic_faces(out, 8, size=32)
    assert result['skipped'] is True
    assert os.stat(path).st_mtime_ns == before


def test_regenerates_when_parameters_or_files_change(tmp_path):
    out = str(tmp_path / 'faces')
    make_synthetic_faces(out, 8, size=32, seed=0)
    old = _read_all(out)
    result = make_synthetic_faces(out, 8, size=32, seed=1)
    assert result['skipped'] is False
    assert _read_all(out) != old
    os.remove(osp.join(out, 'val', '00000.png'))
    assert make_synthetic_faces(out, 8, size=32, seed=1)['skipped'] is False
    assert osp.exists(osp.join(out, 'val', '00000.png'))
    assert sorted(os.listdir(tmp_path)) == ['faces']


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing_draw(index, size=64, seed=0):
        calls.append(index)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return np.zeros((size, size, 3), np.uint8)

    monkeypatch.setattr(synthetic_faces, 'draw_face', failing_draw)
    with pytest.raises(KeyboardInterrupt):
        make_synthetic_faces(str(tmp_path / 'faces'), 8, size=32)
    assert os.listdir(tmp_path) == []


def test_refuses_a_folder_with_other_files(tmp_path):
    out = tmp_path / 'faces'
    out.mkdir()
    (out / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='notes.txt'):
        make_synthetic_faces(str(out), 4, size=32)
    assert os.listdir(out) == ['notes.txt']
    assert os.listdir(tmp_path) == ['faces']


@pytest.mark.parametrize('kwargs', [
    dict(num_images=0),
    dict(num_images=4, size=4),
    dict(num_images=4, seed=-1),
    dict(num_images=4, val_fraction=1.0),
    dict(num_images=4, val_fraction=-0.1),
])
def test_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        make_synthetic_faces(str(tmp_path / 'faces'), **kwargs)


def test_make_demo_data_cli(tmp_path, capsys):
    tool = load_tool('make_demo_data')
    out = str(tmp_path / 'faces')
    args = ['--out', out, '--num', '10', '--size', '32', '--seed', '2']
    assert tool.main(args) == 0
    assert '9 train + 1 val' in capsys.readouterr().out
    assert tool.main(args) == 0
    assert 'already present' in capsys.readouterr().out
    assert tool.main(['--out', out, '--num', '0']) == 2
    assert 'num_images' in capsys.readouterr().err
