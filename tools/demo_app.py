"""A page to look at a trained IntroVAE in the browser (gradio, on the CPU).

    python tools/demo_app.py CONFIG CHECKPOINT [--port 7860]
        [--host 127.0.0.1] [--device cpu]

Three tabs. **Sample**: images decoded from prior noise
``z = temperature * N(0, I)``, drawn here from a seed. **Reconstruct**: an
uploaded image, centre-cropped to a square and resized to the model's size,
beside the decoding of its posterior mean, with the PSNR between the two.
**Interpolate**: the straight line between the posterior means of two
uploaded images, or between the prior codes of two seeds, decoded in a
strip. Where the checkpoint has an EMA decoder, a choice picks ``ema`` or
``orig`` for every tab, as ``tools/sample.py --decoder`` does.

Uploads are read by this tool, not by gradio, and refused with a message on
the page (the app keeps running) when they are not an image, larger than
20 MB or more than 4096 px a side. Grey, grey + alpha, palette, RGBA, CMYK
and 16-bit images are converted to RGB, dropping any alpha channel, and the
page says so. A checkpoint that does not match the config stops the
start-up with both names and the keys at fault.
"""
import argparse
import math
import os
import os.path as osp
import sys
from functools import wraps
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import gradio as gr
import numpy as np
import torch
from mmagic.evaluation.metrics import psnr
from PIL import Image, UnidentifiedImageError

import mmintrovae  # noqa: F401  (registers modules, loads plugins)
from mmintrovae.apis import load_model, to_uint8_grid

MAX_MB = 20
MAX_BYTES = MAX_MB * 2**20
MAX_SIDE = 4096
LIMITS = f'at most {MAX_MB} MB and {MAX_SIDE} px a side'
# gradio's own cap on what it accepts at all; ours (MAX_MB) names the limits.
UPLOAD_GUARD = '64mb'
MAX_SEED = 2**31 - 1
MAX_SAMPLES = 64
MAX_STEPS = 16
MAX_TEMPERATURE = 3.0
# Outputs are enlarged (nearest neighbour) until a model image is this wide.
DISPLAY_SIDE = 128
SOURCES = ('two seeds', 'two images')
MODE_NAMES = {
    '1': 'black-and-white',
    'L': 'grey',
    'LA': 'grey + alpha',
    'P': 'palette',
    'PA': 'palette + alpha',
    'RGBA': 'RGBA',
    'CMYK': 'CMYK',
    'I': '32-bit grey',
    'I;16': '16-bit grey',
}


class InputError(ValueError):
    """Something the user gave that the app refuses, worded for the page."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        description='A browser page to sample, reconstruct and interpolate '
        'with an IntroVAE checkpoint')
    parser.add_argument('config', help='config file path or preset name')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument(
        '--host',
        default='127.0.0.1',
        help='address to listen on (0.0.0.0 opens it to the network)')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


# ----------------------------------------------------------------------
# Pure functions: uploads, resizing, checks of the page's values.
# ----------------------------------------------------------------------
def read_image(path: Optional[str],
               what: str = 'an image') -> Tuple[np.ndarray, str]:
    """Reads an upload as an RGB uint8 array, refusing what is not an image.

    Args:
        path (str, optional): The uploaded file.
        what (str): How the page calls the upload, for messages.

    Returns:
        tuple[np.ndarray, str]: The image (H, W, 3), RGB, uint8, and what
        converting it to RGB did ('' for an RGB image).

    Raises:
        InputError: No file, a file over the limits, or not an image.
    """
    if not path:
        raise InputError(f'No file: upload {what} first.')
    name = osp.basename(path)
    size = osp.getsize(path)
    if size > MAX_BYTES:
        raise InputError(f'{name} is {size / 2**20:.1f} MB: images must be '
                         f'{LIMITS}.')
    try:
        with Image.open(path) as image:
            width, height = image.size
            if max(width, height) > MAX_SIDE:
                raise InputError(f'{name} is {width}x{height} px: images '
                                 f'must be {LIMITS}.')
            image.load()
            return to_rgb(image), conversion_note(image)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(
            f'{name} is far too large: images must be {LIMITS}.') from None
    except (OSError, SyntaxError, ValueError) as exc:
        reason = ''
        if not isinstance(exc, UnidentifiedImageError):
            reason = ': ' + str(exc).replace(path, name)
        raise InputError(f'{name} is not an image this app can read (PNG, '
                         f'JPEG, BMP, WebP, TIFF, ...){reason}.') from None


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL image as RGB uint8; 16/32-bit grey is scaled to 8 bits."""
    if image.mode.startswith('I'):  # 16-bit PNGs open as 'I' or 'I;16'
        grey = np.asarray(image, dtype=np.float64) / 257.
        image = Image.fromarray(grey.round().clip(0, 255).astype(np.uint8))
    return np.asarray(image.convert('RGB'))


def conversion_note(image: Image.Image) -> str:
    """What :func:`to_rgb` does to an image, for the page ('' if nothing).
    """
    transparent = 'transparency' in image.info
    if image.mode == 'RGB' and not transparent:
        return ''
    note = f'converted from {MODE_NAMES.get(image.mode, image.mode)} to RGB'
    if 'A' in image.mode or transparent:
        note += ' (alpha dropped)'
    return note


def fit_to_model(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crops an image to a square and resizes it to ``size``.

    Args:
        rgb (np.ndarray): An image (H, W, 3), uint8.
        size (int): The model's side length.

    Returns:
        np.ndarray: The image (size, size, 3), uint8 (area interpolation
        when shrinking, bicubic when enlarging).
    """
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = rgb[top:top + side, left:left + side]
    if side == size:
        return np.ascontiguousarray(square)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(square, (size, size), interpolation=interpolation)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Repeats every pixel ``factor`` times in both directions."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def check_number(name: str, value, low: float, high: float,
                 integer: bool) -> float:
    """A value from the page, checked to lie in [low, high].

    Raises:
        InputError: A missing, non-numeric or out-of-range value.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f'{name} must be a number, not {value!r}.') from None
    if integer and not number.is_integer():  # also inf and nan
        raise InputError(f'{name} must be a whole number, not {value}.')
    if not low <= number <= high:
        raise InputError(f'{name} must be between {low:g} and {high:g}, '
                         f'not {number:g}.')
    return int(number) if integer else number


# ----------------------------------------------------------------------
# The model behind the page.
# ----------------------------------------------------------------------
class ModelPage:
    """The loaded model and what the page's buttons do with it.

    Every method takes the page's values and returns images as RGB uint8
    arrays, enlarged for display, plus a status line.

    Args:
        model (nn.Module): An IntroVAE in eval mode.
    """

    def __init__(self, model) -> None:
        self.model = model
        self.size = model.encoder.image_size
        self.latent_dim = model.latent_dim
        self.scale = max(1, DISPLAY_SIDE // self.size)
        self.device = next(model.parameters()).device

    @property
    def decoders(self) -> List[str]:
        """'ema' and 'orig' when the checkpoint has an EMA decoder."""
        if getattr(self.model, 'decoder_ema', None) is None:
            return ['orig']
        return ['ema', 'orig']

    def sample(self, seed, num, temperature,
               decoder: str) -> Tuple[np.ndarray, str]:
        """A grid of images decoded from seeded, scaled prior noise."""
        seed = check_number('Seed', seed, 0, MAX_SEED, True)
        num = check_number('Number', num, 1, MAX_SAMPLES, True)
        temperature = check_number('Temperature', temperature, 0,
                                   MAX_TEMPERATURE, False)
        noise = self.prior_noise(seed, num, temperature)
        images = self.model.sample(num, self._use_ema(decoder), noise)
        grid = self._display(images, math.ceil(math.sqrt(num)))
        return grid, (f'{num} samples, seed {seed}, temperature '
                      f'{temperature:g}, decoder {decoder}.')

    def reconstruct(self, path: Optional[str],
                    decoder: str) -> Tuple[np.ndarray, np.ndarray, str]:
        """An upload at the model's size and its reconstruction, with PSNR.
        """
        fitted, notes = self._upload(path, 'an image')
        rec = self.model.reconstruct(
            self.to_model(fitted), use_ema=self._use_ema(decoder))
        rec_rgb = self._rgb(rec, 1)
        # mmagic's PSNR metric: peak 255, no crop, no colour conversion.
        value = psnr(fitted, rec_rgb, input_order='HWC', channel_order='rgb')
        status = (f'PSNR {value:.2f} dB (reconstruction vs. the '
                  f'{self.size}x{self.size} input, decoder {decoder}); '
                  f'{notes}.')
        shown = enlarge(fitted, self.scale)
        return shown, enlarge(rec_rgb, self.scale), status

    def interpolate(self, source: str, path_a: Optional[str],
                    path_b: Optional[str], seed_a, seed_b, steps, temperature,
                    decoder: str) -> Tuple[np.ndarray, str]:
        """A strip decoding the line between two images or two seeds."""
        steps = check_number('Steps', steps, 2, MAX_STEPS, True)
        use_ema = self._use_ema(decoder)
        if source == 'two images':
            image_a, notes_a = self._upload(path_a, 'image A')
            image_b, notes_b = self._upload(path_b, 'image B')
            images = self.model.interpolate(
                self.to_model(image_a), self.to_model(image_b), steps, use_ema)
            what = f'A: {notes_a}; B: {notes_b}'
        elif source == 'two seeds':
            temperature = check_number('Temperature', temperature, 0,
                                       MAX_TEMPERATURE, False)
            seed_a = check_number('Seed A', seed_a, 0, MAX_SEED, True)
            seed_b = check_number('Seed B', seed_b, 0, MAX_SEED, True)
            code_a = self.prior_noise(seed_a, 1, temperature)
            code_b = self.prior_noise(seed_b, 1, temperature)
            t = torch.linspace(0, 1, steps, device=self.device)[:, None]
            images = self.model.decode((1 - t) * code_a + t * code_b, use_ema)
            what = f'seeds {seed_a} and {seed_b}, temperature {temperature:g}'
        else:
            raise InputError(f'Interpolate between {" or ".join(SOURCES)}, '
                             f'not {source!r}.')
        status = f'{steps} steps from A to B ({what}), decoder {decoder}.'
        return self._display(images, steps), status

    def prior_noise(self, seed: int, num: int,
                    temperature: float) -> torch.Tensor:
        """``temperature * N(0, I)`` codes (num, latent_dim) from a seed,
        drawn by the model's own sampler of prior codes."""
        noise = self.model.noise_fn(
            num_batches=num, generator=torch.Generator().manual_seed(seed))
        return temperature * noise

    def to_model(self, rgb: np.ndarray) -> torch.Tensor:
        """An RGB uint8 image as the model's input (1, C, H, W), through the
        same PackInputs + data preprocessor as training (BGR, as mmagic's
        image loading gives)."""
        from mmagic.datasets.transforms import PackInputs
        from mmengine.dataset import pseudo_collate
        packed = PackInputs()(dict(gt=np.ascontiguousarray(rgb[..., ::-1])))
        data = self.model.data_preprocessor(pseudo_collate([packed]), True)
        return data['data_samples'].gt_img

    def _upload(self, path: Optional[str],
                what: str) -> Tuple[np.ndarray, str]:
        """An upload read, converted and fitted, and what was done to it."""
        rgb, converted = read_image(path, what)
        height, width = rgb.shape[:2]
        notes = [f'{osp.basename(path)}: {width}x{height} px']
        if converted:
            notes.append(converted)
        if (height, width) != (self.size, self.size):
            notes.append(f'centre-cropped and resized to '
                         f'{self.size}x{self.size}')
        return fit_to_model(rgb, self.size), ', '.join(notes)

    def _use_ema(self, decoder: str) -> bool:
        """Whether the page's decoder choice is the EMA decoder."""
        if decoder not in self.decoders:
            raise InputError(f'Decoder {decoder!r}: this checkpoint has '
                             f'{" and ".join(self.decoders)}.')
        return decoder == 'ema'

    def _rgb(self, images: torch.Tensor, nrow: int) -> np.ndarray:
        """Model-space images as one RGB uint8 grid."""
        return np.ascontiguousarray(
            to_uint8_grid(images, self.model, nrow)[..., ::-1])

    def _display(self, images: torch.Tensor, nrow: int) -> np.ndarray:
        """A grid, enlarged for the page."""
        return enlarge(self._rgb(images, nrow), self.scale)


def on_page(method: Callable, num_images: int) -> Callable:
    """Wraps a :class:`ModelPage` method for gradio: an :class:`InputError`
    clears the images and puts its message in the status box."""

    @wraps(method)
    def handler(*args):
        try:
            return method(*args)
        except InputError as exc:
            return (None, ) * num_images + (f'Error: {exc}', )

    return handler


# ----------------------------------------------------------------------
# The page.
# ----------------------------------------------------------------------
def build_demo(page: ModelPage, title: str) -> gr.Blocks:
    """The gradio page: a decoder choice and three tabs.

    Args:
        page (ModelPage): The model behind the page.
        title (str): A line naming the config and checkpoint.

    Returns:
        gr.Blocks: The page, not launched.
    """
    with gr.Blocks(title='mmintrovae', analytics_enabled=False) as demo:
        gr.Markdown(f'### IntroVAE: {title}\n{page.size}x{page.size} px, '
                    f'{page.latent_dim} latent dimensions.')
        decoder = gr.Radio(
            page.decoders,
            value=page.decoders[0],
            label='Decoder',
            info=('EMA or original decoder' if len(page.decoders) > 1 else
                  'this checkpoint has no EMA decoder'),
            elem_id='decoder')
        with gr.Tab('Sample'):
            _sample_tab(page, decoder)
        with gr.Tab('Reconstruct'):
            _reconstruct_tab(page, decoder)
        with gr.Tab('Interpolate'):
            _interpolate_tab(page, decoder)
    return demo


def _image(label: str, elem_id: str) -> gr.Image:
    """An output image, sent as PNG (no lossy re-encoding)."""
    return gr.Image(
        label=label, format='png', interactive=False, elem_id=elem_id)


def _status(elem_id: str) -> gr.Textbox:
    """The status line of a tab."""
    return gr.Textbox(label='Status', interactive=False, elem_id=elem_id)


def _seed(label: str, value: int, elem_id: str) -> gr.Number:
    """A seed box."""
    return gr.Number(
        value,
        label=label,
        precision=0,
        minimum=0,
        maximum=MAX_SEED,
        elem_id=elem_id)


def _temperature(elem_id: str) -> gr.Slider:
    """The scale of the prior noise."""
    return gr.Slider(
        0,
        MAX_TEMPERATURE,
        value=1.0,
        step=0.05,
        label='Temperature (scale of the prior noise)',
        elem_id=elem_id)


def _upload(label: str, elem_id: str) -> gr.File:
    """An image upload, read by :func:`read_image` (not by gradio)."""
    return gr.File(
        label=f'{label} ({LIMITS})',
        file_types=['image'],
        type='filepath',
        elem_id=elem_id)


def _sample_tab(page: ModelPage, decoder: gr.Radio) -> None:
    """Seed, number and temperature; a grid of samples."""
    with gr.Row():
        seed = _seed('Seed', 0, 'sample-seed')
        num = gr.Slider(
            1,
            MAX_SAMPLES,
            value=16,
            step=1,
            label='Number',
            elem_id='sample-num')
        temperature = _temperature('sample-temperature')
    button = gr.Button('Generate', variant='primary', elem_id='sample-button')
    output = _image('Samples', 'sample-output')
    status = _status('sample-status')
    button.click(
        on_page(page.sample, 1), [seed, num, temperature, decoder],
        [output, status])


def _reconstruct_tab(page: ModelPage, decoder: gr.Radio) -> None:
    """An upload; the input at the model's size beside its reconstruction.
    """
    upload = _upload('An image', 'rec-upload')
    button = gr.Button('Reconstruct', variant='primary', elem_id='rec-button')
    with gr.Row():
        shown = _image(f'Input at {page.size}x{page.size}', 'rec-input')
        output = _image('Reconstruction', 'rec-output')
    status = _status('rec-status')
    handler = on_page(page.reconstruct, 2)
    for event in (upload.upload, button.click):
        event(handler, [upload, decoder], [shown, output, status])


def _interpolate_tab(page: ModelPage, decoder: gr.Radio) -> None:
    """Two seeds or two uploads, a number of steps; the decoded line."""
    source = gr.Radio(
        list(SOURCES),
        value=SOURCES[0],
        label='Between',
        elem_id='interp-source')
    with gr.Row():
        seed_a = _seed('Seed A', 0, 'interp-seed-a')
        seed_b = _seed('Seed B', 1, 'interp-seed-b')
        temperature = _temperature('interp-temperature')
    with gr.Row():
        file_a = _upload('Image A', 'interp-upload-a')
        file_b = _upload('Image B', 'interp-upload-b')
    steps = gr.Slider(
        2, MAX_STEPS, value=8, step=1, label='Steps', elem_id='interp-steps')
    button = gr.Button(
        'Interpolate', variant='primary', elem_id='interp-button')
    output = _image('From A to B', 'interp-output')
    status = _status('interp-status')
    button.click(
        on_page(page.interpolate, 1),
        [source, file_a, file_b, seed_a, seed_b, steps, temperature, decoder],
        [output, status])


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Loads the model (or exits naming what is wrong) and serves the page.
    """
    args = parse_args(argv)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        _, model = load_model(args.config, args.checkpoint, args.device)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        sys.exit(f'demo_app: cannot start with the config {args.config} and '
                 f'the checkpoint {args.checkpoint}:\n{exc}')
    channels = model.encoder.in_channels
    if channels != 3:
        sys.exit(f'demo_app: the config {args.config} has {channels}-channel '
                 'images; this page shows 3-channel (RGB) models only.')
    title = f'{args.config}, {args.checkpoint}'
    demo = build_demo(ModelPage(model), title)
    demo.queue(default_concurrency_limit=1).launch(
        server_name=args.host,
        server_port=args.port,
        max_file_size=UPLOAD_GUARD,
        show_api=False,
        ssr_mode=False)


if __name__ == '__main__':
    main()
