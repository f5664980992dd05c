"""Trains an mmintrovae model with mmengine's Runner, as mmagic's tool.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher pytorch]

CONFIG is a config file, or a name from an installed plugin's config
directory or presets (``demo``, ``celeba-1024``, ...).
"""
import argparse

from mmengine.logging import print_log
from mmengine.runner import Runner

import mmintrovae  # noqa: F401  (registers modules, loads plugins)
from mmintrovae.datasets import check_dataset_folders
from mmintrovae.utils import add_runner_arguments, enable_amp, load_config
from mmintrovae.utils.dist import adapt_dist_cfg_to_device


def parse_args() -> argparse.Namespace:
    """Parses the command line (the flags of mmagic's tools/train.py)."""
    parser = argparse.ArgumentParser(description='Train an IntroVAE model')
    parser.add_argument('config', help='config file path or preset name')
    parser.add_argument('--work-dir', help='where logs and models go')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='resume from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        nargs='?',
        const='bf16',
        choices=['bf16', 'fp16'],
        help='mixed precision: bf16 (the default of a bare --amp; autocast, '
        'no loss scaling, CPU or GPU) or fp16 (GradScaler, GPU only)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the total batch size (auto_scale_lr in cfg)')
    add_runner_arguments(parser, 'train_cfg.max_iters=100')
    return parser.parse_args()


def main() -> None:
    """Builds the Runner from the config and trains."""
    args = parse_args()
    cfg = load_config(args)
    adapt_dist_cfg_to_device(cfg)
    if args.amp:
        enable_amp(cfg, args.amp)
    if args.resume:
        cfg.resume = True
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in (
                cfg.auto_scale_lr or {}):
            raise KeyError('--auto-scale-lr needs auto_scale_lr = dict('
                           'base_batch_size=...) in the config.')
        cfg.auto_scale_lr.enable = True
    check_dataset_folders(cfg)
    runner = Runner.from_cfg(cfg)
    print_log(f'Working directory: {cfg.work_dir}', 'current')
    runner.train()
    print_log(f'Checkpoints and logs saved under {cfg.work_dir}', 'current')


if __name__ == '__main__':
    main()
