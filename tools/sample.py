"""Writes image grids from a checkpoint: samples, reconstructions, paths.

    python tools/sample.py CONFIG CHECKPOINT [--out-dir DIR] [--num 64]
        [--images FOLDER] [--steps 8] [--decoder orig|ema] [--seed 0]

``samples.png``: decoded prior samples. ``reconstructions.png``: pairs of
rows, real images above their reconstructions. ``interpolations.png``: one
row per image pair, decoding the line between their posterior means.
Real images come from ``--images`` or the config's val dataset.
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.config import Config

import mmintrovae  # noqa: F401  (registers modules, loads plugins)
from mmintrovae.apis import load_model, to_uint8_grid
from mmintrovae.utils.fileio import write_atomic


def parse_args() -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description='Sample an IntroVAE')
    parser.add_argument('config', help='config file path or preset name')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', default='samples', help='output folder')
    parser.add_argument('--num', type=int, default=64, help='samples')
    parser.add_argument('--images', help='folder of images to reconstruct')
    parser.add_argument('--num-real', type=int, default=16)
    parser.add_argument(
        '--steps', type=int, default=8, help='points per interpolation row')
    parser.add_argument('--decoder', choices=['orig', 'ema'], default='orig')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def real_batch(cfg: Config, folder: str, num: int) -> torch.Tensor:
    """Preprocessed real images from a folder or the val dataset."""
    from mmagic.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset_cfg = cfg.val_dataloader.dataset.copy()
    if folder:
        dataset_cfg.update(data_root=folder, data_prefix=dict(gt=''))
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise FileNotFoundError(
            f'No images in {folder or dataset_cfg.get("data_root")!r} to '
            'reconstruct; pass --images FOLDER.')
    items = [dataset[i] for i in range(min(num, len(dataset)))]
    return pseudo_collate(items)


def write_image(path: str, image: np.ndarray) -> None:
    """Writes a PNG atomically (a crash leaves no half-written file)."""
    ok, png = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'Could not encode {path} as PNG')
    write_atomic(path, png.tobytes())


def main() -> None:
    """Samples, reconstructs and interpolates; writes three grids."""
    args = parse_args()
    cfg, model = load_model(args.config, args.checkpoint, args.device)
    use_ema = args.decoder == 'ema'
    torch.manual_seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    nrow = int(np.ceil(np.sqrt(args.num)))
    samples = model.sample(args.num, use_ema=use_ema)
    write_image(
        osp.join(args.out_dir, 'samples.png'),
        to_uint8_grid(samples, model, nrow))

    data = model.data_preprocessor(
        real_batch(cfg, args.images, args.num_real), True)
    real = data['data_samples'].gt_img
    rec = model.reconstruct(real, use_ema=use_ema)
    row = min(8, len(real))
    pairs = [
        t for i in range(0, len(real), row)
        for t in (real[i:i + row], rec[i:i + row])
    ]
    write_image(
        osp.join(args.out_dir, 'reconstructions.png'),
        to_uint8_grid(torch.cat(pairs), model, row))

    paths = [
        model.interpolate(real[i], real[i + 1], args.steps, use_ema)
        for i in range(0,
                       len(real) - 1, 2)
    ]
    write_image(
        osp.join(args.out_dir, 'interpolations.png'),
        to_uint8_grid(torch.cat(paths), model, args.steps))
    print(f'Wrote samples.png, reconstructions.png and interpolations.png '
          f'to {args.out_dir} (decoder: {args.decoder}).')


if __name__ == '__main__':
    main()
