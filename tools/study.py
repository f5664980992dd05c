"""IntroVAE vs Soft-IntroVAE vs a plain VAE: same networks, data, budget.

    python tools/study.py [--seeds 0 1 2] [--iters 2000] [--warmup 500]
        [--num-eval 2000] [--work-dir work_dirs/study] [--data-root DIR]

Each arm (``--arms NAME=CONFIG ...``; default the three Fashion-MNIST 32x32
configs) is trained with every seed through the product's own
``tools/train.py``, evaluated on the held-out split by ``tools/test.py``
(FID with the offline Inception, SWD, reconstruction PSNR/SSIM) and sampled
by ``tools/sample.py``. The tool then writes, into the work dir:

- ``study.md`` and ``study.json``: per-arm mean and standard deviation over
  the seeds, the ratio of each arm's FID to the baseline's, the change in
  reconstruction PSNR, the targets and how each run ended;
- ``study_samples.png``: the first seed's sample grids side by side.

Every run lives in ``WORK_DIR/ARM/seedS`` with the exact config it ran
(``config.py``) and its logs; finished runs are skipped, so an interrupted
study is continued by running the same command again. A run stopped by the
stability guard is reported as such, not dropped.
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config, DictAction

from mmintrovae.utils import read_config
from mmintrovae.utils.fileio import write_atomic

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_ARMS = (
    'introvae=configs/introvae_fashion-mnist-32.py',
    'soft-introvae=configs/soft-introvae_fashion-mnist-32.py',
    'vae=configs/vae_fashion-mnist-32.py',
)
# Reported metric -> the key tools/test.py writes (mmagic's prefix/name).
METRICS = {
    'FID': 'FID/fid',
    'SWD': 'SWD/avg',
    'PSNR': 'rec/PSNR',
    'SSIM': 'rec/SSIM',
}
GUARD_ERROR = 'TrainingDivergedError'


class StudyError(Exception):
    """A problem with the options, explained for the user."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        '--arms',
        nargs='+',
        default=list(DEFAULT_ARMS),
        help='NAME=CONFIG pairs; the last is the baseline')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument(
        '--iters', type=int, help='training iterations (default: config)')
    parser.add_argument(
        '--warmup', type=int, help='plain-VAE warm-up iterations')
    parser.add_argument(
        '--num-eval',
        type=int,
        help='held-out images for every metric (default: config)')
    parser.add_argument('--data-root', help='override the data folder')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='key=value overrides of every arm\'s config, as tools/train.py '
        '(e.g. model.compile=True)')
    parser.add_argument('--work-dir', default='work_dirs/study')
    parser.add_argument(
        '--fid-ratio',
        type=float,
        default=0.7,
        help='target: arm FID <= this x baseline FID')
    parser.add_argument(
        '--psnr-drop',
        type=float,
        default=1.0,
        help='target: arm PSNR >= baseline PSNR - this (dB)')
    return parser.parse_args(argv)


def parse_arms(specs: Sequence[str]) -> Dict[str, str]:
    """``NAME=CONFIG`` pairs as an ordered dict, checked.

    Raises:
        StudyError: For a malformed pair, a missing config or < 2 arms.
    """
    arms = {}
    for spec in specs:
        name, sep, config = spec.partition('=')
        if not sep or not name or not config:
            raise StudyError(f'--arms {spec!r}: write NAME=CONFIG, e.g. '
                             'vae=configs/vae_fashion-mnist-32.py')
        path = config if osp.isabs(config) else osp.join(ROOT, config)
        if not osp.isfile(path):
            raise StudyError(f'--arms {spec!r}: no config file {path}')
        arms[name] = path
    if len(arms) < 2:
        raise StudyError('--arms: give at least two arms; the last one is '
                         'the baseline the others are compared with.')
    return arms


def run_config(config: str, seed: int, args: argparse.Namespace) -> Config:
    """The arm's config with the study's seed, budget and evaluation size."""
    cfg = read_config(config, args.cfg_options)
    cfg.randomness = dict(seed=seed, deterministic=False)
    if args.iters is not None:
        cfg.train_cfg.max_iters = args.iters
    iters = cfg.train_cfg.max_iters
    cfg.train_cfg.val_begin = iters + 1  # no validation while training
    cfg.default_hooks.checkpoint.interval = iters
    if args.warmup is not None:
        cfg.model.vae_warmup_iters = args.warmup
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        if args.data_root:
            dataset.data_root = args.data_root
        if args.num_eval and split != 'train':
            dataset.indices = args.num_eval
    if args.num_eval:
        for split in ('val', 'test'):
            for metric in cfg[f'{split}_evaluator'].metrics:
                for key in ('fake_nums', 'real_nums'):
                    if key in metric:
                        metric[key] = args.num_eval
    return cfg


def run_logged(cmd: List[str], log: str) -> int:
    """Runs a command with its output in ``log``; returns its exit code."""
    print('  $ ' + ' '.join(cmd), flush=True)
    with open(log, 'w') as f:
        return subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)


def train_and_evaluate(name: str, config: str, seed: int,
                       args: argparse.Namespace) -> dict:
    """One run: train, test, sample (each skipped when already done).

    Returns:
        dict: ``status`` ('done', 'guard stop' or 'failed'), the metrics,
        the training time, the run folder.
    """
    work = osp.join(args.work_dir, name, f'seed{seed}')
    os.makedirs(work, exist_ok=True)
    result_file = osp.join(work, 'result.json')
    if osp.isfile(result_file):
        with open(result_file) as f:
            return json.load(f)
    cfg_file = osp.join(work, 'config.py')
    run_config(config, seed, args).dump(cfg_file)
    py = sys.executable
    tools = osp.join(ROOT, 'tools')
    t0 = time.time()
    rc = run_logged(
        [py, osp.join(tools, 'train.py'), cfg_file, '--work-dir', work],
        osp.join(work, 'train.out'))
    result = dict(
        arm=name, seed=seed, work_dir=work, train_s=round(time.time() - t0))
    if rc != 0:
        with open(osp.join(work, 'train.out'), errors='replace') as f:
            guard = GUARD_ERROR in f.read()
        result['status'] = 'guard stop' if guard else 'failed'
        print(
            f'  {name} seed {seed}: training {result["status"]} '
            f'(exit {rc}), see {work}/train.out',
            flush=True)
    else:
        with open(osp.join(work, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        metrics_file = osp.join(work, 'metrics.json')
        rc = run_logged([
            py,
            osp.join(tools, 'test.py'), cfg_file, ckpt, '--work-dir', work,
            '--out', metrics_file
        ], osp.join(work, 'test.out'))
        rc = rc or run_logged([
            py,
            osp.join(tools, 'sample.py'), cfg_file, ckpt, '--out-dir',
            osp.join(work, 'grids'), '--seed', '0'
        ], osp.join(work, 'sample.out'))
        if rc != 0:
            result['status'] = 'failed'
        else:
            with open(metrics_file) as f:
                raw = json.load(f)
            result['status'] = 'done'
            result['metrics'] = {
                k: float(raw[v])
                for k, v in METRICS.items() if v in raw
            }
    write_atomic(result_file, json.dumps(result, indent=2).encode())
    return result


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean)**2 for v in values) / (n - 1) if n > 1 else 0.
    return dict(mean=mean, std=math.sqrt(var), n=n)


def summarise(runs: List[dict], arms: Sequence[str],
              args: argparse.Namespace) -> dict:
    """Per-arm statistics, ratios to the baseline and the targets."""
    baseline = arms[-1]
    summary = {}
    for arm in arms:
        done = [r for r in runs if r['arm'] == arm and r['status'] == 'done']
        summary[arm] = dict(
            runs=sum(r['arm'] == arm for r in runs),
            guard_stops=sum(r['arm'] == arm and r['status'] == 'guard stop'
                            for r in runs),
            failed=sum(r['arm'] == arm and r['status'] == 'failed'
                       for r in runs),
            metrics={
                k: mean_std([r['metrics'][k] for r in done])
                for k in METRICS
                if done and all(k in r['metrics'] for r in done)
            })
    base = summary[baseline]['metrics']
    targets = []
    for arm in arms[:-1]:
        m = summary[arm]['metrics']
        if 'FID' in m and 'FID' in base:
            ratio = m['FID']['mean'] / base['FID']['mean']
            summary[arm]['fid_ratio'] = ratio
            targets.append(
                dict(
                    what=f'{arm} FID <= {args.fid_ratio:g} x {baseline} FID',
                    value=f'{ratio:.3f}x',
                    met=ratio <= args.fid_ratio))
        if 'PSNR' in m and 'PSNR' in base:
            diff = m['PSNR']['mean'] - base['PSNR']['mean']
            summary[arm]['psnr_diff'] = diff
            targets.append(
                dict(
                    what=f'{arm} PSNR within {args.psnr_drop:g} dB of '
                    f'{baseline}',
                    value=f'{diff:+.2f} dB',
                    met=diff >= -args.psnr_drop))
    stops = sum(s['guard_stops'] + s['failed'] for s in summary.values())
    targets.append(
        dict(
            what='no run stopped by the stability guard or failed',
            value=str(stops),
            met=stops == 0))
    return dict(baseline=baseline, arms=summary, targets=targets)


def markdown(study: dict) -> str:
    """The study as a Markdown report."""
    fmt = dict(FID='.1f', SWD='.1f', PSNR='.2f', SSIM='.3f')
    lines = [
        '# IntroVAE study', '', f"`{study['command']}`  ",
        f"seeds {study['seeds']}, "
        f"{study['iters']} iterations ({study['warmup']} plain-VAE warm-up), "
        f"{study['num_eval']} held-out images per metric; "
        f"{study['machine']}; {study['date']}", '',
        '| arm | FID | FID / ' + study['baseline'] +
        ' | SWD | rec PSNR (dB) | rec SSIM | runs | guard stops |',
        '|---|---|---|---|---|---|---|---|'
    ]
    for arm, s in study['arms'].items():
        cells = []
        for key in METRICS:
            m = s['metrics'].get(key)
            cells.append(f"{m['mean']:{fmt[key]}} ± {m['std']:{fmt[key]}}"
                         if m else 'n/a')
        ratio = f"{s['fid_ratio']:.3f}" if 'fid_ratio' in s else '1'
        lines.append(f'| {arm} | {cells[0]} | {ratio} | {cells[1]} | '
                     f"{cells[2]} | {cells[3]} | {s['runs']} | "
                     f"{s['guard_stops'] + s['failed']} |")
    lines += ['', '| target | measured | met |', '|---|---|---|']
    lines += [
        f"| {t['what']} | {t['value']} | {'yes' if t['met'] else 'no'} |"
        for t in study['targets']
    ]
    lines += [
        '', 'Per run:', '', '| arm | seed | status | train s | FID | SWD |'
        ' PSNR | SSIM |', '|---|---|---|---|---|---|---|---|'
    ]
    for r in study['runs']:
        m = r.get('metrics', {})
        vals = ' | '.join(f'{m[k]:{fmt[k]}}' if k in m else 'n/a'
                          for k in METRICS)
        lines.append(f"| {r['arm']} | {r['seed']} | {r['status']} | "
                     f"{r['train_s']} | {vals} |")
    return '\n'.join(lines) + '\n'


def side_by_side(grids: Dict[str, str], out: str) -> None:
    """Writes the arms' sample grids next to each other, titled."""
    tiles = []
    for name, path in grids.items():
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            continue
        band = np.full((28, image.shape[1], 3), 255, np.uint8)
        cv2.putText(band, name, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([band, image]))
        tiles.append(np.full((tiles[-1].shape[0], 8, 3), 255, np.uint8))
    if tiles:
        height = max(t.shape[0] for t in tiles)
        tiles = [
            np.pad(
                t, ((0, height - t.shape[0]), (0, 0), (0, 0)),
                constant_values=255) for t in tiles[:-1]
        ]
        ok, png = cv2.imencode('.png', np.concatenate(tiles, axis=1))
        write_atomic(out, png.tobytes())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the study; returns 0, or 2 for bad options."""
    args = parse_args(argv)
    try:
        arms = parse_arms(args.arms)
        if args.iters is not None and args.iters < 1:
            raise StudyError(f'--iters {args.iters}: give at least 1.')
        if args.num_eval is not None and args.num_eval < 2:
            raise StudyError(f'--num-eval {args.num_eval}: give at least 2.')
    except StudyError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    os.makedirs(args.work_dir, exist_ok=True)
    runs = []
    for seed in args.seeds:  # seed-major: every arm has results early
        for name, config in arms.items():
            print(f'[study] {name} seed {seed}', flush=True)
            runs.append(train_and_evaluate(name, config, seed, args))
    cfg = run_config(next(iter(arms.values())), args.seeds[0], args)
    study = summarise(runs, list(arms), args)
    study.update(
        command='python tools/study.py ' +
        ' '.join(sys.argv[1:] if argv is None else argv),
        seeds=args.seeds,
        iters=cfg.train_cfg.max_iters,
        warmup=cfg.model.vae_warmup_iters,
        num_eval=cfg.test_dataloader.dataset.get('indices', 'all'),
        machine=f'{os.cpu_count()} CPU cores',
        date=time.strftime('%Y-%m-%d'),
        runs=runs)
    write_atomic(
        osp.join(args.work_dir, 'study.json'),
        json.dumps(study, indent=2).encode())
    report = markdown(study)
    write_atomic(osp.join(args.work_dir, 'study.md'), report.encode())
    grids = {
        r['arm']: osp.join(r['work_dir'], 'grids', 'samples.png')
        for r in runs if r['seed'] == args.seeds[0] and r['status'] == 'done'
    }
    side_by_side(grids, osp.join(args.work_dir, 'study_samples.png'))
    print(report)
    print(f'Wrote study.md, study.json and study_samples.png to '
          f'{args.work_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
