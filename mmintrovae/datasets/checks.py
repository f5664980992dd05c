"""Checks a config's dataset folders before training starts."""
import os
import os.path as osp
from typing import Iterator, Sequence, Tuple

SPLITS = ('train', 'val', 'test')
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def _image_folders(dataset: dict, key: str) -> Iterator[Tuple[str, str]]:
    """Yields (config key, folder) for each image folder of a dataset cfg."""
    if 'dataset' in dataset:  # RepeatDataset and other wrappers
        yield from _image_folders(dataset['dataset'], f'{key}.dataset')
        return
    if 'datasets' in dataset:  # ConcatDataset
        for i, child in enumerate(dataset['datasets']):
            yield from _image_folders(child, f'{key}.datasets[{i}]')
        return
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix') or {}
    folders = prefix.values() if isinstance(prefix, dict) else [prefix]
    for folder in folders or ['']:
        yield f'{key}.data_root', osp.join(root, folder)


def _has_image(folder: str) -> bool:
    """Whether the folder (or a subfolder) holds an image file."""
    for _, _, files in os.walk(folder, followlinks=True):
        if any(f.lower().endswith(IMAGE_EXTENSIONS) for f in files):
            return True
    return False


def check_dataset_folders(cfg, splits: Sequence[str] = SPLITS) -> None:
    """Fails early, naming the folder and config key, on missing data.

    Args:
        cfg (Config): The full config.
        splits (Sequence[str]): Which of ``train_dataloader``,
            ``val_dataloader`` and ``test_dataloader`` to check.

    Raises:
        FileNotFoundError: If a dataset folder is missing or has no image.
    """
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader or 'dataset' not in loader:
            continue
        dataset = loader['dataset']
        if isinstance(dataset, dict) and dataset.get('type') in (
                'mmagic.BasicImageDataset', 'BasicImageDataset') or (
                    isinstance(dataset, dict) and 'dataset' in dataset):
            for key, folder in _image_folders(dataset,
                                              f'{split}_dataloader.dataset'):
                _check_folder(key, folder)


def _check_folder(key: str, folder: str) -> None:
    """Raises a clear error if ``folder`` is missing or has no image."""
    hint = ('Generate the demo data with `python tools/make_demo_data.py`, '
            'prepare CelebA-HQ with `python tools/prepare_celeba_hq.py`, or '
            f'point {key} (--cfg-options {key}=PATH) at your images.')
    if not osp.isdir(folder):
        raise FileNotFoundError(
            f'Dataset folder {osp.abspath(folder)!r} (from {key}) does not '
            f'exist. {hint}')
    if not _has_image(folder):
        raise FileNotFoundError(
            f'Dataset folder {osp.abspath(folder)!r} (from {key}) holds no '
            f'image ({", ".join(IMAGE_EXTENSIONS)}). {hint}')
