"""Writes the synthetic cartoon face data set used by the demo configs.

Example::

    python tools/make_demo_data.py --out data/synthetic_faces --num 3000

The images depend only on ``--seed`` (and ``--size``); running the tool again
with the same options returns at once, leaving the files untouched.
"""
import argparse
import sys
import time
from typing import List, Optional

# tools/synthetic_faces.py, beside this file: numpy and OpenCV only, so this
# tool starts quickly (importing mmintrovae would import torch and mmagic).
from synthetic_faces import make_synthetic_faces


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
        result = make_synthetic_faces(
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
