"""Tests of tools/prepare_celeba_hq.py on tiny generated source images."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'prepare_celeba_hq.py')

tool = load_tool('prepare_celeba_hq')


@pytest.fixture
def src(tmp_path):
    """Six 64x64 source images, named 0..5, two of them JPEG."""
    folder = tmp_path / 'src'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        suffix = 'jpg' if i in (1, 4) else 'png'
        cv2.imwrite(str(folder / f'{i}.{suffix}'), img)
    return folder


def _run(*args: str) -> int:
    """Runs the tool's main in this process, without a progress bar.

    One worker unless the arguments say otherwise: a pool costs more than
    it saves on six tiny images.

    Args:
        *args (str): The command line arguments.

    Returns:
        int: The exit status.
    """
    return tool.main(['--workers', '1', *map(str, args), '--no-progress'])


def _names(folder) -> list:
    """Lists a folder's file names, sorted.

    Args:
        folder: The folder.

    Returns:
        list: The names.
    """
    return sorted(os.listdir(folder))


def _check_layout(out, resolutions=(16, 32)) -> None:
    """Checks the split folders and the image sizes.

    Args:
        out: The output root.
        resolutions (tuple): The expected resolutions.
    """
    assert _names(out) == sorted(str(r) for r in resolutions)
    for res in resolutions:
        train = [f'{i}.png' for i in range(4)]
        assert _names(out / str(res) / 'train') == train
        assert _names(out / str(res) / 'val') == ['4.png', '5.png']
        for split in ('train', 'val'):
            for name in _names(out / str(res) / split):
                img = cv2.imread(
                    str(out / str(res) / split / name), cv2.IMREAD_UNCHANGED)
                assert img.shape == (res, res, 3)
                assert img.dtype == np.uint8


def test_layout_and_sizes(src, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _run(src, '--out', out, '--resolutions', 16, 32, '--num-val',
                2) == 0
    _check_layout(out)
    captured = capsys.readouterr()
    assert 'wrote 12 files' in captured.out
    # 64x64 sources are square but not 1024x1024: a warning, not an error.
    assert '6 were square but not 1024x1024' in captured.err


def test_in_process_pool(src, tmp_path):
    out = tmp_path / 'out'
    assert _run(src, '--out', out, '--resolutions', 16, 32, '--num-val', 2,
                '--workers', 2) == 0
    _check_layout(out)


def test_subprocess_with_workers_and_resume(src, tmp_path):
    out = tmp_path / 'out'
    args = [src, '--out', out, '--resolutions', 16, 32, '--num-val', 2]
    cmd = [sys.executable, TOOL, *map(str, args), '--workers', '2']
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    _check_layout(out)
    path = out / '16' / 'train' / '0.png'
    before = os.stat(path).st_mtime_ns
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert 'wrote 0 files' in second.stdout
    assert '6 images were already done' in second.stdout
    assert os.stat(path).st_mtime_ns == before


def test_missing_folder(tmp_path, capsys):
    missing = tmp_path / 'nowhere'
    assert _run(missing, '--out', tmp_path / 'out') == 1
    err = capsys.readouterr().err
    assert str(missing) in err
    assert 'does not exist' in err
    assert 'CelebA-HQ' in err and '*.png' in err


def test_empty_folder(tmp_path, capsys):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no images here')
    assert _run(empty, '--out', tmp_path / 'out') == 1
    err = capsys.readouterr().err
    assert str(empty) in err
    assert 'has no images' in err
    assert 'CelebA-HQ' in err


def test_corrupt_image_stops_without_skip_bad(src, tmp_path, capsys):
    (src / '2.png').write_bytes(b'not an image')
    assert _run(src, '--out', tmp_path / 'out', '--resolutions', 16,
                '--num-val', 2) == 1
    err = capsys.readouterr().err
    assert str(src / '2.png') in err
    assert '--skip-bad' in err


def test_skip_bad(src, tmp_path, capsys):
    (src / '2.png').write_bytes(b'not an image')
    out = tmp_path / 'out'
    assert _run(src, '--out', out, '--resolutions', 16, 32, '--num-val', 2,
                '--skip-bad') == 0
    err = capsys.readouterr().err
    assert 'skipped 1 unreadable image' in err
    assert str(src / '2.png') in err
    for res in ('16', '32'):
        assert _names(out / res / 'train') == ['0.png', '1.png', '3.png']
        assert _names(out / res / 'val') == ['4.png', '5.png']


def test_non_square_is_resized_with_warning(src, tmp_path, capsys):
    cv2.imwrite(str(src / '0.png'), np.zeros((64, 48, 3), np.uint8))
    out = tmp_path / 'out'
    assert _run(src, '--out', out, '--resolutions', 16, '--num-val', 2) == 0
    img = cv2.imread(str(out / '16' / 'train' / '0.png'))
    assert img.shape == (16, 16, 3)
    assert '1 were not square' in capsys.readouterr().err


def test_stray_files_from_another_split_are_reported(src, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _run(src, '--out', out, '--resolutions', 16, '--num-val', 2) == 0
    capsys.readouterr()
    assert _run(src, '--out', out, '--resolutions', 16, '--num-val', 1) == 0
    captured = capsys.readouterr()
    assert 'wrote 1 files' in captured.out
    assert '1 files under' in captured.err
    assert str(out / '16' / 'val' / '4.png') in captured.err


def test_num_val_must_leave_training_images(src, tmp_path, capsys):
    assert _run(src, '--out', tmp_path / 'out', '--num-val', 6) == 1
    assert 'only 6 images' in capsys.readouterr().err


def test_natural_order_split():
    names = [f'{i}.jpg' for i in range(12)]
    shuffled = sorted(names)  # '10.jpg' sorts before '2.jpg' as text
    ordered = sorted(shuffled, key=tool.natural_key)
    assert ordered == names
    splits = tool.split_sources(ordered, 2)
    assert splits['val'] == ['10.jpg', '11.jpg']


def test_same_size_same_format_is_copied(src, tmp_path):
    out = tmp_path / 'out'
    assert _run(src, '--out', out, '--resolutions', 64, '--num-val', 2,
                '--ext', 'jpg') == 0
    copy = out / '64' / 'train' / '1.jpg'
    assert copy.read_bytes() == (src / '1.jpg').read_bytes()
