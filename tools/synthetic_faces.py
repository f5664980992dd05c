"""A deterministic generator of synthetic cartoon faces for demos and tests.

The faces are drawn with OpenCV only, so a tiny, learnable data set can be
made on any machine in seconds, without downloading CelebA-HQ. Every image is
drawn from its own random generator, seeded by ``(seed, index)``: the
content of an image does not depend on how many images are made or in what
order, and the same seed always gives byte-identical PNG files.

Layout written by :func:`make_synthetic_faces`::

    out_dir/
        meta.json      # the parameters, used to skip regeneration
        train/00000.png ...
        val/00000.png ...
"""
import json
import math
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['make_synthetic_faces', 'draw_face']

# Bump when the drawing changes, so that stale data sets are regenerated.
GENERATOR_VERSION = 1
META_FILE = 'meta.json'
SPLITS = ('train', 'val')

# Colour palettes, in OpenCV's BGR order.
SKIN_TONES = (
    (200, 215, 240),  # pale pink
    (189, 224, 255),  # very light
    (160, 200, 241),  # light
    (130, 180, 224),  # light tan
    (110, 160, 198),  # tan
    (90, 135, 176),  # medium brown
    (66, 105, 141),  # brown
    (45, 75, 100),  # dark brown
)
HAIR_COLOURS = (
    (20, 20, 25),  # black
    (30, 50, 90),  # dark brown
    (40, 90, 160),  # brown
    (90, 170, 230),  # blond
    (150, 150, 150),  # grey
    (40, 40, 160),  # red
    (230, 230, 235),  # white
    (120, 60, 30),  # dark blue
)
IRIS_COLOURS = (
    (30, 60, 100),  # brown
    (160, 110, 40),  # blue
    (80, 140, 60),  # green
    (120, 120, 120),  # grey
    (20, 30, 40),  # very dark
    (180, 160, 60),  # light blue
)

Point = Tuple[int, int]
Colour = Tuple[float, float, float]


def _supersample(size: int) -> int:
    """Returns the factor images are drawn larger by, before downscaling.

    Args:
        size (int): The output's side in pixels.

    Returns:
        int: 4, or less for large images, so the canvas stays <= 2048 px.
    """
    return int(min(4, max(1, 2048 // size)))


def _pick(rng: np.random.Generator, palette: Sequence[Tuple[int, int, int]],
          jitter: float) -> Colour:
    """Picks a palette colour and jitters each channel.

    Args:
        rng (np.random.Generator): The image's random generator.
        palette (Sequence): The BGR colours.
        jitter (float): The largest change of a channel.

    Returns:
        tuple: The BGR colour, each channel in [0, 255].
    """
    base = np.asarray(palette[rng.integers(len(palette))], np.float64)
    colour = np.clip(base + rng.uniform(-jitter, jitter, 3), 0, 255)
    return tuple(float(c) for c in colour)


def _scale(colour: Colour, factor: float) -> Colour:
    """Darkens (factor < 1) or lightens (factor > 1) a colour.

    Args:
        colour (tuple): A BGR colour.
        factor (float): The multiplier of each channel.

    Returns:
        tuple: The scaled colour, clipped to [0, 255].
    """
    return tuple(float(min(255.0, c * factor)) for c in colour)


def _pt(x: float, y: float) -> Point:
    """Rounds a point to integer pixel coordinates for OpenCV.

    Args:
        x (float): The column.
        y (float): The row.

    Returns:
        tuple: The rounded (x, y).
    """
    return int(round(x)), int(round(y))


def _background(rng: np.random.Generator, side: int) -> np.ndarray:
    """Makes a background with a vertical gradient of a random colour.

    Args:
        rng (np.random.Generator): The image's random generator.
        side (int): The canvas side in pixels.

    Returns:
        np.ndarray: A (side, side, 3) uint8 canvas.
    """
    top = rng.uniform(40, 235, 3)
    bottom = top * rng.uniform(0.6, 0.9)
    t = np.linspace(0.0, 1.0, side)[:, None]
    column = top[None, :] * (1.0 - t) + bottom[None, :] * t
    column = np.round(column).astype(np.uint8)[:, None, :]
    return cv2.resize(column, (side, side), interpolation=cv2.INTER_NEAREST)


def _face_geometry(rng: np.random.Generator, side: int) -> Dict[str, float]:
    """Draws the face ellipse's centre, half-axes and tilt.

    Args:
        rng (np.random.Generator): The image's random generator.
        side (int): The canvas side in pixels.

    Returns:
        dict: ``cx``, ``cy``, ``a`` (half-width), ``b`` (half-height) in
        pixels and ``angle`` in degrees.
    """
    a = side * rng.uniform(0.25, 0.35)
    b = min(a * rng.uniform(1.1, 1.4), side * 0.44)
    cx = side * (0.5 + rng.uniform(-0.08, 0.08))
    cy = side * (0.53 + rng.uniform(-0.05, 0.05))
    return dict(cx=cx, cy=cy, a=a, b=b, angle=rng.uniform(-10.0, 10.0))


# The _draw_* helpers share their arguments: ``img`` is the supersampled BGR
# canvas, drawn on in place; ``g`` is the face geometry of _face_geometry, in
# canvas pixels; ``rng`` is the image's random generator, whose draws must stay
# in the same order (or GENERATOR_VERSION must be bumped). Colours are BGR.


def _draw_hair_back(img: np.ndarray, g: Dict[str, float],
                    colour: Colour) -> None:
    """Draws the hair behind the head: the upper half of a larger ellipse."""
    axes = _pt(g['a'] * 1.12, g['b'] * 1.08)
    cv2.ellipse(img, _pt(g['cx'], g['cy']), axes, g['angle'], 180, 360, colour,
                -1, cv2.LINE_AA)


def _draw_fringe(img: np.ndarray, g: Dict[str, float], colour: Colour,
                 depth: float) -> None:
    """Draws a hair band across the forehead.

    Args:
        colour (tuple): The hair colour.
        depth (float): How far down the band reaches, as a fraction of the
            face's half-height.
    """
    centre = _pt(g['cx'], g['cy'] - g['b'] * (1.0 - depth) * 0.55)
    axes = _pt(g['a'] * 1.0, g['b'] * 0.5)
    cv2.ellipse(img, centre, axes, g['angle'], 180, 360, colour, -1,
                cv2.LINE_AA)


def _draw_eye(img: np.ndarray, centre: Tuple[float, float], radius: float,
              iris: Colour, look: Tuple[float, float]) -> None:
    """Draws one eye: white, iris, pupil and a highlight.

    Args:
        centre (tuple): The eye's (x, y).
        radius (float): The radius of the eye white.
        iris (tuple): The iris colour.
        look (tuple): The gaze offset of the iris, in units of ``radius``.
    """
    x, y = centre
    ix, iy = x + look[0] * radius, y + look[1] * radius
    cv2.circle(img, _pt(x, y), max(1, int(radius)), (245, 245, 245), -1,
               cv2.LINE_AA)
    cv2.circle(img, _pt(ix, iy), max(1, int(radius * 0.6)), iris, -1,
               cv2.LINE_AA)
    cv2.circle(img, _pt(ix, iy), max(1, int(radius * 0.28)), (10, 10, 10), -1,
               cv2.LINE_AA)
    cv2.circle(img, _pt(ix - radius * 0.2, iy - radius * 0.2),
               max(1, int(radius * 0.12)), (255, 255, 255), -1, cv2.LINE_AA)


def _draw_eyes(img: np.ndarray, rng: np.random.Generator, g: Dict[str, float],
               brow_colour: Colour) -> None:
    """Draws both eyes and their eyebrows, mirrored about the face's axis.

    Args:
        brow_colour (tuple): The eyebrow colour.
    """
    a, b = g['a'], g['b']
    ey = g['cy'] - b * rng.uniform(0.05, 0.25)
    dx = a * rng.uniform(0.32, 0.48)
    radius = a * rng.uniform(0.12, 0.2)
    iris = _pick(rng, IRIS_COLOURS, 20.0)
    look = (rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2))
    brow_gap = radius * rng.uniform(1.4, 2.1)
    brow_len = radius * rng.uniform(1.0, 1.5)
    brow_tilt = rng.uniform(-0.35, 0.35) * radius
    thickness = max(1, int(radius * rng.uniform(0.25, 0.5)))
    for side in (-1.0, 1.0):
        ex = g['cx'] + side * dx
        _draw_eye(img, (ex, ey), radius, iris, look)
        inner = _pt(ex - side * brow_len * 0.9, ey - brow_gap + brow_tilt)
        outer = _pt(ex + side * brow_len, ey - brow_gap - brow_tilt)
        cv2.line(img, inner, outer, brow_colour, thickness, cv2.LINE_AA)


def _draw_nose(img: np.ndarray, rng: np.random.Generator, g: Dict[str, float],
               skin: Colour) -> None:
    """Draws a small nose below the eyes: an ellipse darker than ``skin``."""
    centre = _pt(g['cx'], g['cy'] + g['b'] * rng.uniform(0.1, 0.2))
    axes = _pt(g['a'] * rng.uniform(0.06, 0.12),
               g['b'] * rng.uniform(0.04, 0.08))
    cv2.ellipse(img, centre, axes, 0, 0, 360, _scale(skin, 0.8), -1,
                cv2.LINE_AA)


def _draw_mouth(img: np.ndarray, rng: np.random.Generator,
                g: Dict[str, float]) -> None:
    """Draws the mouth as a parabola: a smile, a straight line or a frown."""
    my = g['cy'] + g['b'] * rng.uniform(0.38, 0.55)
    half = g['a'] * rng.uniform(0.25, 0.5)
    # > 0: the middle sags below the corners (a smile); < 0: a frown.
    curve = half * rng.uniform(-0.3, 0.6)
    xs = np.linspace(-1.0, 1.0, 17)
    pts = np.stack([g['cx'] + xs * half, my + curve * (1.0 - xs**2)], 1)
    colour = (rng.uniform(30, 70), rng.uniform(30, 60), rng.uniform(120, 200))
    thickness = max(1, int(g['a'] * rng.uniform(0.025, 0.06)))
    cv2.polylines(img, [np.round(pts).astype(np.int32)], False, colour,
                  thickness, cv2.LINE_AA)


def _shade(img: np.ndarray, mask: np.ndarray, g: Dict[str, float],
           rng: np.random.Generator) -> np.ndarray:
    """Lights the face from a random direction with a smooth linear ramp.

    Args:
        img (np.ndarray): The (size, size, 3) uint8 image.
        mask (np.ndarray): The face's coverage in [0, 1], (size, size).
        g (dict): The face geometry, in output pixels.
        rng (np.random.Generator): The image's random generator.

    Returns:
        np.ndarray: The shaded uint8 image.
    """
    size = img.shape[0]
    theta = rng.uniform(0.0, 2.0 * math.pi)
    strength = rng.uniform(0.05, 0.18)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    ramp = ((xs - g['cx']) * math.cos(theta) +
            (ys - g['cy']) * math.sin(theta)) / max(g['b'], 1.0)
    gain = 1.0 + strength * np.clip(ramp, -1.0, 1.0) * mask
    out = img.astype(np.float32) * gain[:, :, None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def draw_face(index: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Draws one synthetic cartoon face.

    The image depends only on ``(seed, index, size)``.

    Args:
        index (int): The image's index in the data set.
        size (int): The side of the square image in pixels. Defaults to 64.
        seed (int): The data set's seed. Defaults to 0.

    Returns:
        np.ndarray: A (size, size, 3) uint8 image in BGR order.
    """
    rng = np.random.default_rng([seed, index])
    scale = _supersample(size)
    side = size * scale
    img = _background(rng, side)
    g = _face_geometry(rng, side)
    skin = _pick(rng, SKIN_TONES, 15.0)
    hair = _pick(rng, HAIR_COLOURS, 15.0)
    has_hair = rng.random() < 0.75
    if has_hair:
        _draw_hair_back(img, g, hair)
    mask = np.zeros((side, side), np.uint8)
    for canvas, colour in ((img, skin), (mask, 255)):
        cv2.ellipse(canvas, _pt(g['cx'], g['cy']), _pt(g['a'], g['b']),
                    g['angle'], 0, 360, colour, -1, cv2.LINE_AA)
    if has_hair:
        _draw_fringe(img, g, hair, rng.uniform(0.0, 0.35))
    brow = _scale(hair, 0.6) if has_hair else _scale(skin, 0.45)
    _draw_eyes(img, rng, g, brow)
    _draw_nose(img, rng, g, skin)
    _draw_mouth(img, rng, g)
    if scale > 1:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
    g_out = {k: (v / scale if k != 'angle' else v) for k, v in g.items()}
    return _shade(img, mask.astype(np.float32) / 255.0, g_out, rng)


def _split_counts(num_images: int, val_fraction: float) -> Tuple[int, int]:
    """Splits the image count into training and validation counts.

    A positive fraction gives at least one validation image, and at least
    one training image is kept when there are two or more images.

    Args:
        num_images (int): The number of images.
        val_fraction (float): The share of validation images, in [0, 1).

    Returns:
        tuple: ``(num_train, num_val)``.
    """
    num_val = int(math.floor(num_images * val_fraction + 0.5))
    if val_fraction > 0:
        num_val = max(num_val, 1)
    num_val = min(num_val, num_images - 1)
    return num_images - num_val, num_val


def _expected_files(num_train: int, num_val: int,
                    num_images: int) -> Dict[str, List[str]]:
    """Lists the file names each split folder must hold.

    Args:
        num_train (int): The number of training images.
        num_val (int): The number of validation images.
        num_images (int): The total, which sets the names' width.

    Returns:
        dict: Split name to its sorted file names.
    """
    width = max(5, len(str(max(num_images - 1, 0))))
    return {
        split: [f'{i:0{width}d}.png' for i in range(count)]
        for split, count in zip(SPLITS, (num_train, num_val))
    }


def _read_meta(out_dir: str) -> Optional[dict]:
    """Reads ``meta.json`` of a data set folder.

    Args:
        out_dir (str): The data set folder.

    Returns:
        dict, optional: The metadata, or None if missing or unreadable.
    """
    try:
        with open(osp.join(out_dir, META_FILE), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _is_complete(out_dir: str, meta: dict, expected: dict) -> bool:
    """Checks whether a folder already holds exactly the wanted data set.

    Args:
        out_dir (str): The data set folder.
        meta (dict): The wanted metadata.
        expected (dict): Split name to the file names it must hold.

    Returns:
        bool: True if the metadata and the file names all match.
    """
    if _read_meta(out_dir) != meta:
        return False
    for split, names in expected.items():
        folder = osp.join(out_dir, split)
        if not osp.isdir(folder) or sorted(os.listdir(folder)) != names:
            return False
    return True


def _write_image(path: str, index: int, size: int, seed: int) -> None:
    """Draws one face and writes it as a PNG file.

    Args:
        path (str): The file to write.
        index (int): The image's index in the data set.
        size (int): The image side in pixels.
        seed (int): The data set's seed.
    """
    ok, buf = cv2.imencode('.png', draw_face(index, size, seed))
    if not ok:
        raise RuntimeError(f'OpenCV could not encode {path} as PNG')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _write_split(folder: str, names: List[str], first: int, size: int,
                 seed: int) -> None:
    """Draws and writes the images of one split.

    Args:
        folder (str): The split folder, created here.
        names (list): The file names, in order.
        first (int): The data set index of the first image.
        size (int): The image side in pixels.
        seed (int): The data set's seed.
    """
    os.makedirs(folder)
    for offset, name in enumerate(names):
        _write_image(osp.join(folder, name), first + offset, size, seed)


def _install(tmp_dir: str, out_dir: str) -> None:
    """Moves a finished data set into place, replacing an older one.

    Args:
        tmp_dir (str): The finished data set, next to ``out_dir``.
        out_dir (str): The destination.

    Raises:
        FileExistsError: If ``out_dir`` holds files that are not a data
            set of this generator, which are never deleted.
    """
    if not osp.exists(out_dir):
        os.replace(tmp_dir, out_dir)
        return
    ours = set(SPLITS) | {META_FILE}
    strangers = sorted(set(os.listdir(out_dir)) - ours)
    if strangers:
        raise FileExistsError(
            f'{out_dir!r} holds files that are not a synthetic face data '
            f'set ({", ".join(strangers[:5])}); choose another folder or '
            'empty it')
    old = tempfile.mkdtemp(prefix='.old-', dir=osp.dirname(out_dir))
    os.replace(out_dir, osp.join(old, 'data'))
    os.replace(tmp_dir, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _check_args(num_images: int, size: int, seed: int,
                val_fraction: float) -> None:
    """Validates the arguments of :func:`make_synthetic_faces`.

    Args:
        num_images (int): The number of images.
        size (int): The image side in pixels.
        seed (int): The seed.
        val_fraction (float): The share of validation images.

    Raises:
        ValueError: If an argument is out of range.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    if size < 8:
        raise ValueError(f'size must be >= 8 pixels, got {size}')
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f'val_fraction must be in [0, 1), got '
                         f'{val_fraction}')


def make_synthetic_faces(out_dir: str,
                         num_images: int,
                         size: int = 64,
                         seed: int = 0,
                         val_fraction: float = 0.1) -> dict:
    """Writes a data set of synthetic cartoon faces as PNG files.

    The last ``round(num_images * val_fraction)`` images go to ``val/``,
    the others to ``train/``; each split's files are named ``00000.png``
    onwards. If ``out_dir`` already holds exactly this data set (same
    parameters in ``meta.json`` and the expected file names), nothing is
    written. Otherwise the data set is written to a temporary folder next to
    ``out_dir`` and renamed into place, so an interrupted run never leaves a
    partial data set behind.

    Args:
        out_dir (str): The data set folder.
        num_images (int): The number of images in both splits together.
        size (int): The side of the square images in pixels. Defaults to 64.
        seed (int): The seed, >= 0; the same seed gives byte-identical
            files. Defaults to 0.
        val_fraction (float): The share of validation images, in [0, 1).
            Defaults to 0.1.

    Returns:
        dict: ``out_dir``, ``train`` and ``val`` (the counts), ``size``
        and ``skipped`` (True if the data set was already there).

    Raises:
        ValueError: If an argument is out of range.
        FileExistsError: If ``out_dir`` holds unrelated files.
    """
    params = dict(
        num_images=num_images, size=size, seed=seed, val_fraction=val_fraction)
    _check_args(**params)
    out_dir = osp.abspath(out_dir)
    num_train, num_val = _split_counts(num_images, val_fraction)
    expected = _expected_files(num_train, num_val, num_images)
    # meta.json: the arguments, the split they give and the drawing's version.
    meta = dict(
        params,
        train=num_train,
        val=num_val,
        generator_version=GENERATOR_VERSION)
    result = dict(out_dir=out_dir, train=num_train, val=num_val, size=size)
    if _is_complete(out_dir, meta, expected):
        return dict(result, skipped=True)
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix='.tmp-synthetic-faces-', dir=parent)
    os.chmod(tmp_dir, 0o755)  # mkdtemp makes it private (0o700)
    try:
        _write_split(
            osp.join(tmp_dir, 'train'), expected['train'], 0, size, seed)
        _write_split(
            osp.join(tmp_dir, 'val'), expected['val'], num_train, size, seed)
        with open(osp.join(tmp_dir, META_FILE), 'w', encoding='utf-8') as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        # Another process may have finished the same data set meanwhile.
        if not _is_complete(out_dir, meta, expected):
            _install(tmp_dir, out_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return dict(result, skipped=False)
