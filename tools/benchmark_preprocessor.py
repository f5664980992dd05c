"""Times mmagic's DataPreprocessor against BatchedDataPreprocessor.

    python tools/benchmark_preprocessor.py [--sizes 32x64 256x16]
        [--repeats 50] [--device cpu]

Each SIZExBATCH case builds a batch as the training dataloader gives it
(uint8 ``gt_img`` tensors in DataSamples, ``PackInputs``' layout), runs both
preprocessors in training mode on copies of it, checks that they agree
(within 1e-6) and prints the median milliseconds of each and their ratio.
"""
import argparse
import copy
import statistics
import time
from typing import List, Optional, Sequence

import torch
from mmagic.registry import MODELS
from mmagic.structures import DataSample

import mmintrovae  # noqa: F401  (registers BatchedDataPreprocessor)

KINDS = ('DataPreprocessor', 'BatchedDataPreprocessor')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--sizes', nargs='+', default=['32x64', '256x16'])
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def make_batch(size: int, num: int) -> dict:
    """A collated batch of random uint8 BGR images, as PackInputs makes."""
    gen = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(num):
        sample = DataSample(
            gt_img=torch.randint(
                0, 256, (3, size, size), dtype=torch.uint8, generator=gen))
        sample.set_metainfo(
            dict(gt_channel_order='bgr', gt_color_type='color'))
        samples.append(sample)
    return dict(inputs={}, data_samples=samples)


def time_case(size: int, num: int, repeats: int, device: str) -> List[float]:
    """Median ms of each preprocessor on one batch; checks they agree."""
    batch = make_batch(size, num)
    outputs, medians = [], []
    for kind in KINDS:
        pre = MODELS.build(dict(type=kind, mean=0., std=255.)).to(device)
        times = []
        for _ in range(repeats + 3):
            data = copy.deepcopy(batch)
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            start = time.perf_counter()
            out = pre(data, True)
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        outputs.append(out['data_samples'].gt_img)
        medians.append(1e3 * statistics.median(times[3:]))
    torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=1e-6)
    return medians


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Prints one row per case."""
    args = parse_args(argv)
    print(f'| image px x batch | mmagic ms | batched ms | ratio |  '
          f'({args.device}, median of {args.repeats})')
    print('|---|---|---|---|')
    for case in args.sizes:
        size, num = (int(v) for v in case.lower().split('x'))
        ref, fast = time_case(size, num, args.repeats, args.device)
        print(f'| {size} x {num} | {ref:.2f} | {fast:.2f} | '
              f'{fast / ref:.2f}x |')


if __name__ == '__main__':
    main()
