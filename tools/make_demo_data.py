"""Writes the synthetic cartoon face data set used by the demo configs.

Example::

    python tools/make_demo_data.py --out data/synthetic_faces --num 3000

The images depend only on ``--seed`` (and ``--size``); running the tool again
with the same options returns at once, leaving the files untouched.
"""
import argparse
import importlib.util
import os.path as osp
import sys
import time
from types import ModuleType
from typing import List, Optional

GENERATOR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'mmintrovae', 'datasets',
    'synthetic_faces.py')


def load_generator() -> ModuleType:
    """Loads the generator module straight from its file.

    Importing the ``mmintrovae`` package registers its modules with mmagic,
    which imports torch; loading the one file keeps this tool down to numpy
    and OpenCV, and quick to start.

    Returns:
        ModuleType: The ``synthetic_faces`` module.
    """
    spec = importlib.util.spec_from_file_location('_synthetic_faces',
                                                  GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """make_demo_data's options from ``argv`` (``sys.argv[1:]`` if None)."""
    parser = argparse.ArgumentParser(
        description='Write a deterministic data set of synthetic cartoon '
        'faces (PNG) into OUT/train and OUT/val.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = parser.add_argument
    add('--out', default='data/synthetic_faces', help='the data set folder')
    add('--num', type=int, default=3000, help='images in both splits')
    add('--size', type=int, default=64, help='image side in pixels')
    add('--seed', type=int, default=0, help='random seed')
    add('--val-fraction', type=float, default=0.1, help='share for val/')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Writes the data set ``argv`` asks for and prints what was done.

    Returns:
        int: The exit status: 0 on success, 2 for bad options or an output
        folder holding other files.
    """
    args = parse_args(argv)
    start = time.time()
    try:
        result = load_generator().make_synthetic_faces(
            args.out,
            args.num,
            size=args.size,
            seed=args.seed,
            val_fraction=args.val_fraction)
    except (ValueError, FileExistsError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if result['skipped']:
        action = 'already present, nothing written'
    else:
        action = f'written in {time.time() - start:.1f} s'
    print(f"synthetic faces in {result['out_dir']} ({action}): "
          f"{result['train']} train + {result['val']} val images, "
          f"{result['size']}x{result['size']} px, seed {args.seed}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
