"""Resizes CelebA-HQ into the folders the IntroVAE configs read.

Example::

    python tools/prepare_celeba_hq.py path/to/CelebA-HQ-img \\
        --out data/celeba_hq --resolutions 128 256 1024 --workers 8

For each resolution R it writes ``OUT/R/train/`` and ``OUT/R/val/``. The
images are sorted by name in natural order (``2.jpg`` before ``10.jpg``) and
the last ``--num-val`` go to ``val``: with the 30,000 images of CelebA-HQ
and the default 1,000 that leaves the 29,000 training images the IntroVAE
authors used. Each output is written to a temporary file and renamed, and
outputs that already exist are skipped, so an interrupted run can simply be
started again.
"""
import argparse
import multiprocessing
import os
import os.path as osp
import re
import sys
from contextlib import closing
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from mmintrovae.utils.fileio import write_atomic

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
EXPECTED_SIDE = 1024
SPLITS = ('train', 'val')


class PrepareError(Exception):
    """A problem with the input or the options, explained for the user."""


class Task(NamedTuple):
    """One source image and where its resized copies go.

    Attributes:
        src (str): The source image.
        outputs (tuple): ``(resolution, output path)`` pairs.
        ext (str): The output format, ``png`` or ``jpg``.
        quality (int): The JPEG quality, when ``ext`` is ``jpg``.
    """

    src: str
    outputs: tuple
    ext: str
    quality: int


def natural_key(name: str) -> list:
    """Sorts names with numbers by value: ``2.jpg`` before ``10.jpg``.

    Args:
        name (str): A file name.

    Returns:
        list: The sort key.
    """
    return [(0, int(part), '') if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r'(\d+)', name) if part]


def _describe_expected() -> str:
    """Says what the source folder should hold, for error messages.

    Returns:
        str: The description.
    """
    suffixes = ', '.join(f'*{s}' for s in IMAGE_SUFFIXES)
    return (f'expected a folder holding the CelebA-HQ images '
            f'({EXPECTED_SIDE}x{EXPECTED_SIDE}, named {suffixes}) '
            'directly inside it')


def list_sources(src: str) -> List[str]:
    """Lists the images of the source folder in natural name order.

    Args:
        src (str): The source folder.

    Returns:
        list: The image paths.

    Raises:
        PrepareError: If the folder is missing or holds no images.
    """
    if not osp.exists(src):
        raise PrepareError(
            f'source folder {src!r} does not exist; {_describe_expected()}')
    if not osp.isdir(src):
        raise PrepareError(
            f'source {src!r} is not a folder; {_describe_expected()}')
    entries = sorted(os.listdir(src), key=natural_key)
    names = [
        n for n in entries if osp.splitext(n)[1].lower() in IMAGE_SUFFIXES
        and osp.isfile(osp.join(src, n))
    ]
    if not names:
        subdirs = [n for n in entries if osp.isdir(osp.join(src, n))]
        hint = (f' (it has sub-folders: {", ".join(subdirs[:5])}; point at '
                'the one holding the images)' if subdirs else '')
        raise PrepareError(f'source folder {src!r} has no images{hint}; '
                           f'{_describe_expected()}')
    return [osp.join(src, n) for n in names]


def split_sources(paths: Sequence[str], num_val: int) -> Dict[str, List[str]]:
    """Puts the last ``num_val`` images in ``val``, the others in ``train``.

    Args:
        paths (Sequence[str]): The sorted image paths.
        num_val (int): The number of validation images.

    Returns:
        dict: Split name to its image paths.

    Raises:
        PrepareError: If ``num_val`` is negative or leaves no training
            image.
    """
    if num_val < 0:
        raise PrepareError(f'--num-val must be >= 0, got {num_val}')
    if num_val >= len(paths):
        raise PrepareError(
            f'only {len(paths)} images found; --num-val {num_val} would '
            'leave none for training')
    cut = len(paths) - num_val
    return {'train': list(paths[:cut]), 'val': list(paths[cut:])}


def output_path(out: str, res: int, split: str, src: str, ext: str) -> str:
    """Returns where the resized copy of one image goes.

    Args:
        out (str): The output root.
        res (int): The resolution.
        split (str): ``train`` or ``val``.
        src (str): The source image.
        ext (str): The output format.

    Returns:
        str: ``out/res/split/<source name>.<ext>``.
    """
    stem = osp.splitext(osp.basename(src))[0]
    return osp.join(out, str(res), split, f'{stem}.{ext}')


def make_tasks(splits: dict, out: str, resolutions: Sequence[int], ext: str,
               quality: int) -> List[Task]:
    """Makes one task per source image, in name order.

    Args:
        splits (dict): Split name to its image paths.
        out (str): The output root.
        resolutions (Sequence[int]): The output sides in pixels.
        ext (str): The output format.
        quality (int): The JPEG quality.

    Returns:
        list: The tasks.
    """
    tasks = []
    for split in SPLITS:
        for src in splits[split]:
            outputs = tuple(
                (r, output_path(out, r, split, src, ext)) for r in resolutions)
            tasks.append(Task(src, outputs, ext, quality))
    return tasks


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Converts a decoded image of any layout to 8-bit, 3-channel BGR.

    Args:
        img (np.ndarray): The image as ``cv2.IMREAD_UNCHANGED`` reads it.

    Returns:
        np.ndarray: A (H, W, 3) uint8 image.
    """
    if img.dtype == np.uint16:
        img = (img // 257).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2 or img.shape[2] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def resize(img: np.ndarray, res: int) -> np.ndarray:
    """Resizes to ``res`` x ``res``: area when shrinking, else bicubic.

    Args:
        img (np.ndarray): The image.
        res (int): The output side in pixels.

    Returns:
        np.ndarray: The resized image (the input if it already fits).
    """
    h, w = img.shape[:2]
    if (h, w) == (res, res):
        return img
    shrink = res < h or res < w
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return cv2.resize(img, (res, res), interpolation=interp)


def encode(img: np.ndarray, ext: str, quality: int) -> bytes:
    """Encodes an image as PNG or JPEG.

    Args:
        img (np.ndarray): The BGR image.
        ext (str): ``png`` or ``jpg``.
        quality (int): The JPEG quality.

    Returns:
        bytes: The encoded file.
    """
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == 'jpg' else []
    ok, buf = cv2.imencode(f'.{ext}', img, params)
    if not ok:
        raise RuntimeError(f'OpenCV could not encode an image as {ext}')
    return buf.tobytes()


def _same_format(src: str, ext: str) -> bool:
    """Tells whether a source file already has the output format.

    Args:
        src (str): The source image.
        ext (str): The output format.

    Returns:
        bool: True if its bytes can be copied unchanged.
    """
    suffix = osp.splitext(src)[1].lower()
    return suffix == f'.{ext}' or (ext == 'jpg' and suffix == '.jpeg')


def _read_bytes(path: str) -> bytes:
    """Reads a whole file.

    Args:
        path (str): The file.

    Returns:
        bytes: Its content.
    """
    with open(path, 'rb') as f:
        return f.read()


def process(task: Task) -> dict:
    """Writes the missing resized copies of one image.

    An output at the source's own size and format is a byte copy, so JPEGs
    are not compressed twice.

    Args:
        task (Task): The image and its outputs.

    Returns:
        dict: ``src``, ``status`` (``done``, ``present`` or ``bad``),
        ``written`` (files written), ``shape`` (the decoded height and
        width, or None) and ``message`` for a bad image.
    """
    todo = [(r, p) for r, p in task.outputs if not osp.exists(p)]
    result = dict(src=task.src, status='present', written=0, shape=None)
    if not todo:
        return result
    raw = cv2.imread(task.src, cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        return dict(
            result, status='bad', message=f'cannot read image {task.src!r}')
    img = to_bgr8(raw)
    plain = img is raw and _same_format(task.src, task.ext)
    for res, path in todo:
        if plain and img.shape[:2] == (res, res):
            write_atomic(path, _read_bytes(task.src))
        else:
            write_atomic(path,
                         encode(resize(img, res), task.ext, task.quality))
    return dict(result, status='done', written=len(todo), shape=img.shape[:2])


def _init_worker() -> None:
    """Keeps each worker's OpenCV to one thread: the pool is parallel."""
    cv2.setNumThreads(1)


def run_tasks(tasks: List[Task], workers: int) -> Iterator[dict]:
    """Processes the tasks, in this process or in a pool.

    Args:
        tasks (list): The tasks.
        workers (int): The number of processes; 1 runs them here.

    Yields:
        dict: Each task's result, in completion order.
    """
    if workers <= 1:
        for task in tasks:
            yield process(task)
        return
    # 'spawn': forking a process that already runs threads (torch's or
    # OpenCV's pools, e.g. inside a test session) can deadlock the workers.
    context = multiprocessing.get_context('spawn')
    with context.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(process, tasks, chunksize=4)


class Summary:
    """Counts what a run did and what to warn about.

    Attributes:
        written (int): Files written.
        present (int): Images whose outputs all existed already.
        bad (list): Messages for the images that could not be read.
        non_square (int): Images that were not square.
        wrong_size (int): Square images of another size than 1024.
        strays (list): Output files this run would not write.
    """

    def __init__(self) -> None:
        self.written = 0
        self.present = 0
        self.bad: List[str] = []
        self.non_square = 0
        self.wrong_size = 0
        self.strays: List[str] = []

    def add(self, result: dict) -> None:
        """Counts one task's result.

        Args:
            result (dict): What :func:`process` returned.
        """
        self.written += result['written']
        self.present += result['status'] == 'present'
        if result['status'] == 'bad':
            self.bad.append(result['message'])
        shape = result['shape']
        if shape is None:
            return
        if shape[0] != shape[1]:
            self.non_square += 1
        elif shape[0] != EXPECTED_SIDE:
            self.wrong_size += 1


def find_strays(tasks: List[Task], out: str,
                resolutions: Sequence[int]) -> List[str]:
    """Finds output files this run would not write, e.g. from another split.

    A file left in ``val`` by an earlier run with a different ``--num-val``
    would leak validation images into training, or the other way around.

    Args:
        tasks (list): This run's tasks.
        out (str): The output root.
        resolutions (Sequence[int]): The resolutions.

    Returns:
        list: The stray paths, sorted.
    """
    expected = {p for task in tasks for _, p in task.outputs}
    strays = []
    for res in resolutions:
        for split in SPLITS:
            folder = osp.join(out, str(res), split)
            paths = [osp.join(folder, n) for n in os.listdir(folder)]
            strays += [
                p for p in paths
                if p not in expected and not osp.basename(p).startswith('.')
            ]
    return sorted(strays)


def prepare(src: str,
            out: str = 'data/celeba_hq',
            resolutions: Sequence[int] = (128, 256, 1024),
            num_val: int = 1000,
            workers: int = 1,
            skip_bad: bool = False,
            ext: str = 'png',
            quality: int = 95,
            progress: bool = True) -> Summary:
    """Writes the resized train/val copies of the CelebA-HQ images.

    Args:
        src (str): The folder holding the source images.
        out (str): The output root. Defaults to ``data/celeba_hq``.
        resolutions (Sequence[int]): The output sides in pixels.
            Defaults to (128, 256, 1024).
        num_val (int): The number of validation images, taken from the end
            of the sorted names. Defaults to 1000.
        workers (int): The number of processes. Defaults to 1.
        skip_bad (bool): Whether to skip unreadable images (and report
            them) instead of stopping. Defaults to False.
        ext (str): The output format, ``png`` or ``jpg``. Defaults to png.
        quality (int): The JPEG quality. Defaults to 95.
        progress (bool): Whether to show a progress bar. Defaults to True.

    Returns:
        Summary: What was done.

    Raises:
        PrepareError: For a missing or empty source folder, bad options, or
            an unreadable image without ``skip_bad``.
    """
    if not resolutions or min(resolutions) < 1:
        raise PrepareError(f'--resolutions must be positive sides in '
                           f'pixels, got {list(resolutions)}')
    resolutions = sorted(set(resolutions))
    splits = split_sources(list_sources(src), num_val)
    tasks = make_tasks(splits, out, resolutions, ext, quality)
    for res in resolutions:
        for split in SPLITS:
            os.makedirs(osp.join(out, str(res), split), exist_ok=True)
    summary = Summary()
    bar = tqdm(
        total=len(tasks), unit='img', disable=not progress, desc='CelebA-HQ')
    # closing() ends the pool at once if an unreadable image stops the run.
    with bar, closing(run_tasks(tasks, workers)) as results:
        for result in results:
            bar.update()
            summary.add(result)
            if result['status'] != 'bad':
                continue
            if not skip_bad:
                raise PrepareError(f"{result['message']}; fix or remove it, "
                                   'or pass --skip-bad to skip it')
            tqdm.write(f"skipping: {result['message']}", file=sys.stderr)
    summary.strays = find_strays(tasks, out, resolutions)
    return summary


def report(summary: Summary, out: str) -> None:
    """Prints what was done and the warnings.

    Args:
        summary (Summary): What :func:`prepare` returned.
        out (str): The output root.
    """
    print(f'wrote {summary.written} files under {out}; '
          f'{summary.present} images were already done')
    if summary.non_square or summary.wrong_size:
        print(
            f'warning: of the images read in this run, '
            f'{summary.non_square} were not square and '
            f'{summary.wrong_size} were square but not '
            f'{EXPECTED_SIDE}x{EXPECTED_SIDE}; all were resized to '
            'each resolution anyway',
            file=sys.stderr)
    if summary.bad:
        print(
            f'warning: skipped {len(summary.bad)} unreadable image(s):',
            file=sys.stderr)
        for message in summary.bad:
            print(f'  {message}', file=sys.stderr)
    if summary.strays:
        print(
            f'warning: {len(summary.strays)} files under {out} are not '
            'part of this split (left by a run with other options?), '
            f'e.g. {summary.strays[0]}; delete them so train and val '
            'do not overlap',
            file=sys.stderr)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """prepare_celeba_hq's options from ``argv`` (``sys.argv[1:]`` if None)."""
    parser = argparse.ArgumentParser(
        description='Resize CelebA-HQ images into OUT/<res>/train and '
        'OUT/<res>/val for each resolution.')
    parser.add_argument(
        'src',
        help='folder holding the CelebA-HQ '
        '1024x1024 images (*.png, *.jpg)')
    parser.add_argument(
        '--out',
        default='data/celeba_hq',
        help='output root (default: %(default)s)')
    parser.add_argument(
        '--resolutions',
        type=int,
        nargs='+',
        default=[128, 256, 1024],
        help='output sides in pixels (default: %(default)s)')
    parser.add_argument(
        '--num-val',
        type=int,
        default=1000,
        help='the last N images by name go to val '
        '(default: %(default)s)')
    workers = min(8, os.cpu_count() or 1)
    parser.add_argument(
        '--workers',
        type=int,
        default=workers,
        help='processes (default: %(default)s)')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='skip and report unreadable images instead of '
        'stopping')
    parser.add_argument(
        '--ext',
        choices=('png', 'jpg'),
        default='png',
        help='output format (default: %(default)s)')
    parser.add_argument(
        '--quality',
        type=int,
        default=95,
        help='JPEG quality for --ext jpg '
        '(default: %(default)s)')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Resizes and splits CelebA-HQ as ``argv`` asks, then reports.

    Returns:
        int: The exit status: 0 on success, 1 on a :class:`PrepareError`.
    """
    args = parse_args(argv)
    try:
        summary = prepare(args.src, args.out, args.resolutions, args.num_val,
                          args.workers, args.skip_bad, args.ext, args.quality,
                          not args.no_progress)
    except PrepareError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    report(summary, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
