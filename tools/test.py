"""Evaluates a checkpoint with the config's test metrics, as mmagic's tool.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--cfg-options KEY=VALUE ...] [--launcher pytorch]
"""
import argparse
import json
import os
import os.path as osp

from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmintrovae  # noqa: F401  (registers modules, loads plugins)
from mmintrovae.datasets import check_dataset_folders
from mmintrovae.utils import add_runner_arguments, load_config
from mmintrovae.utils.dist import adapt_dist_cfg_to_device
from mmintrovae.utils.fileio import write_atomic


class MetricsCollector(Hook):
    """Keeps the metrics of the test loop (mmagic's MultiTestLoop does not
    return them from ``Runner.test``)."""

    priority = 'LOWEST'

    def __init__(self):
        self.metrics = None

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Stores the metrics the evaluator computed."""
        self.metrics = metrics


def parse_args() -> argparse.Namespace:
    """Parses the command line (the flags of mmagic's tools/test.py)."""
    parser = argparse.ArgumentParser(description='Test an IntroVAE model')
    parser.add_argument('config', help='config file path or preset name')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs go')
    parser.add_argument('--out', help='also write the metrics to this JSON')
    add_runner_arguments(parser, 'test_dataloader.batch_size=4')
    return parser.parse_args()


def main() -> None:
    """Builds the Runner, loads the checkpoint, runs the test loop."""
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'Checkpoint {args.checkpoint!r} does not exist; pass a .pth '
            'file from a work dir (e.g. work_dirs/NAME/iter_1000.pth).')
    cfg = load_config(args)
    adapt_dist_cfg_to_device(cfg)
    cfg.load_from = args.checkpoint
    # Test the weights only. The config.py that `train.py --resume` leaves
    # in its work dir says resume=True, with which the Runner would also
    # restore the training state, the random number generators among it:
    # the samples of FID/SWD would then depend on whether training had been
    # interrupted, not on the seed.
    cfg.resume = False
    check_dataset_folders(cfg, splits=('test', ))
    runner = Runner.from_cfg(cfg)
    collector = MetricsCollector()
    runner.register_hook(collector)
    runner.test()
    metrics = collector.metrics
    print(json.dumps(metrics, indent=2, default=float))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        write_atomic(args.out,
                     json.dumps(metrics, indent=2, default=float).encode())


if __name__ == '__main__':
    main()
