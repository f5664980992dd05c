"""Converts Fashion-MNIST into the image folders the IntroVAE configs read.

Example::

    python tools/prepare_fashion_mnist.py --out data/fashion_mnist

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017, Zalando Research; MIT
licence) holds 70,000 photographs of clothing, 28x28 grey: 60,000 for
training and 10,000 for testing. Debian and Ubuntu ship the original files
in the package ``dataset-fashion-mnist`` under
``/usr/share/datasets/fashion-mnist/`` (``make setup`` installs it where it
can), so no download is needed.

Each image is padded by 2 pixels of background to 32x32 (the networks halve
the side per stage), copied to three channels and written as
``OUT/train/00000.png`` ... and ``OUT/val/00000.png`` ... (the test split),
with the labels in ``OUT/train_labels.txt`` and ``OUT/val_labels.txt`` (one
per line, in file order). Every file is written to a temporary file and
renamed, and images that already exist are skipped, so an interrupted run
can simply be started again.
"""
import argparse
import gzip
import os
import os.path as osp
import struct
import sys
import zlib
from typing import List, NamedTuple, Optional, Sequence

import cv2
import numpy as np

from mmintrovae.utils.fileio import write_atomic

DEFAULT_SRC = '/usr/share/datasets/fashion-mnist'
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
SIDE = 28
CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
           'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
README = """Fashion-MNIST, converted by tools/prepare_fashion_mnist.py

Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
Algorithms. Han Xiao, Kashif Rasul, Roland Vollgraf. arXiv:1708.07747, 2017.
Zalando Research, https://github.com/zalandoresearch/fashion-mnist
Licence: MIT (The MIT License (MIT) Copyright (c) 2017 Zalando SE).

Source: {src}
train/: {num_train} images of the training split; val/: {num_val} images
of the test split. 28x28 grey, padded by 2 px to {size}x{size}, 3 channels.
train_labels.txt / val_labels.txt: the class index of each image, in file
order; classes: {classes}.
"""


class PrepareError(Exception):
    """A problem with the input or the options, explained for the user."""


class Split(NamedTuple):
    """One split of the data set and its source files.

    Attributes:
        name (str): The output folder, ``train`` or ``val``.
        images (str): The idx3 file of its images.
        labels (str): The idx1 file of its labels.
    """

    name: str
    images: str
    labels: str


def splits(src: str) -> List[Split]:
    """The two splits with their files under ``src``.

    Args:
        src (str): The folder of the original ``*-ubyte.gz`` files.

    Returns:
        list[Split]: ``train`` (the training set) and ``val`` (the test set).
    """
    return [
        Split(name, osp.join(src, f'{prefix}-images-idx3-ubyte.gz'),
              osp.join(src, f'{prefix}-labels-idx1-ubyte.gz'))
        for name, prefix in (('train', 'train'), ('val', 't10k'))
    ]


def read_idx(path: str, magic: int) -> np.ndarray:
    """Reads a gzipped idx file of unsigned bytes.

    Args:
        path (str): The ``.gz`` file.
        magic (int): The expected magic number: 2051 for images (shape
            (N, rows, cols)), 2049 for labels (shape (N,)).

    Returns:
        np.ndarray: The uint8 array.

    Raises:
        PrepareError: If the file is missing, not gzip, truncated, or not
            an idx file of that kind.
    """
    if not osp.isfile(path):
        raise PrepareError(
            f'{path} does not exist. Install Debian/Ubuntu\'s Fashion-MNIST '
            'with `sudo apt-get install dataset-fashion-mnist` (make setup '
            'does it when run as root), or pass the folder that holds the '
            'original *-ubyte.gz files with --src.')
    try:
        with gzip.open(path, 'rb') as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise PrepareError(f'{path} is not a complete gzip file ({e}); '
                           'reinstall dataset-fashion-mnist or replace the '
                           'file.') from e
    dims = 3 if magic == IMAGES_MAGIC else 1
    header = 4 * (1 + dims)
    if len(data) < header:
        raise PrepareError(f'{path} is too short for an idx header.')
    found, *shape = struct.unpack(f'>{1 + dims}I', data[:header])
    if found != magic:
        raise PrepareError(
            f'{path} has magic number {found}, expected {magic} (an idx '
            f'{"image" if dims == 3 else "label"} file); the --src folder '
            'must hold the original Fashion-MNIST files.')
    size = int(np.prod(shape))
    if len(data) - header != size:
        raise PrepareError(
            f'{path} holds {len(data) - header} bytes of data, its header '
            f'announces {size} (shape {tuple(shape)}): the file is truncated '
            'or corrupt; reinstall dataset-fashion-mnist.')
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def to_image(grey: np.ndarray, size: int) -> np.ndarray:
    """Pads a 28x28 grey image with background to ``size`` and makes it BGR.

    Args:
        grey (np.ndarray): The (28, 28) uint8 image.
        size (int): The output side, at least 28.

    Returns:
        np.ndarray: The (size, size, 3) uint8 image.
    """
    before = (size - SIDE) // 2
    after = size - SIDE - before
    padded = np.pad(grey, ((before, after), (before, after)))
    return np.repeat(padded[:, :, None], 3, axis=2)


def convert(src: str,
            out: str,
            size: int = 32,
            limit: Optional[int] = None) -> dict:
    """Writes both splits as PNG folders under ``out``.

    Args:
        src (str): The folder of the original ``*-ubyte.gz`` files.
        out (str): The output folder.
        size (int): The output side (28 keeps the original). Defaults to 32.
        limit (int, optional): Keep only the first ``limit`` images of each
            split (for quick trials). Defaults to None (all).

    Returns:
        dict: For each split, ``written`` and ``skipped`` counts.

    Raises:
        PrepareError: If the input or the options are wrong.
    """
    if size < SIDE:
        raise PrepareError(f'--size {size} is smaller than the images '
                           f'({SIDE}); use 32 (the configs) or 28.')
    if limit is not None and limit < 1:
        raise PrepareError(f'--limit {limit} must be at least 1.')
    loaded = []
    for split in splits(src):
        images = read_idx(split.images, IMAGES_MAGIC)
        labels = read_idx(split.labels, LABELS_MAGIC)
        if images.shape[1:] != (SIDE, SIDE):
            raise PrepareError(f'{split.images} holds images of '
                               f'{images.shape[1:]}, expected 28x28.')
        if len(images) != len(labels):
            raise PrepareError(
                f'{split.images} holds {len(images)} images but '
                f'{split.labels} {len(labels)} labels; the files do not '
                'belong together.')
        loaded.append((split, images[:limit], labels[:limit]))
    counts = {}
    for split, images, labels in loaded:
        folder = osp.join(out, split.name)
        os.makedirs(folder, exist_ok=True)
        written = 0
        for index, grey in enumerate(images):
            path = osp.join(folder, f'{index:05d}.png')
            if osp.exists(path):
                continue
            ok, png = cv2.imencode('.png', to_image(grey, size))
            if not ok:
                raise PrepareError(f'could not encode {path} as PNG.')
            write_atomic(path, png.tobytes())
            written += 1
        text = ''.join(f'{label}\n' for label in labels)
        write_atomic(osp.join(out, f'{split.name}_labels.txt'), text.encode())
        counts[split.name] = dict(
            written=written, skipped=len(images) - written)
    write_atomic(
        osp.join(out, 'README.txt'),
        README.format(
            src=osp.abspath(src),
            num_train=len(loaded[0][1]),
            num_val=len(loaded[1][1]),
            size=size,
            classes=', '.join(f'{i} {c}'
                              for i, c in enumerate(CLASSES))).encode())
    return counts


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """prepare_fashion_mnist's options from ``argv`` (``sys.argv[1:]`` if
    None)."""
    parser = argparse.ArgumentParser(
        description='Convert Fashion-MNIST (idx.gz) to 32x32 PNG folders.')
    parser.add_argument(
        '--src',
        default=DEFAULT_SRC,
        help='folder of the original *-ubyte.gz files '
        f'(default: {DEFAULT_SRC}, package dataset-fashion-mnist)')
    parser.add_argument(
        '--out', default='data/fashion_mnist', help='output folder')
    parser.add_argument(
        '--size', type=int, default=32, help='output side (default 32)')
    parser.add_argument(
        '--limit', type=int, help='keep the first N images of each split')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the conversion.

    Args:
        argv (Sequence[str], optional): The arguments.

    Returns:
        int: 0 on success, 2 for a problem with the input or options.
    """
    args = parse_args(argv)
    try:
        counts = convert(args.src, args.out, args.size, args.limit)
    except PrepareError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    for name, count in counts.items():
        print(f'{osp.join(args.out, name)}: {count["written"]} written, '
              f'{count["skipped"]} already there')
    return 0


if __name__ == '__main__':
    sys.exit(main())
