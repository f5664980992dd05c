"""IntroVAE and Soft-IntroVAE against the best plain VAE: same networks,
data and budget, every arm tuned the same way.

    python tools/study.py [--plan configs/studies/fashion-mnist-32.py]
        [--iters 1200 5000 10000] [--seeds 0 1 2] [--num-eval 10000]
        [--select-images 5000] [--work-dir work_dirs/study] [--data-root DIR]

The plan names the arms (a config each, the last word on which is the
baseline), the candidates of each arm's selection (sets of config options),
the seeds, the budgets and the splits. For every budget the study

1. selects: trains every candidate once (the plan's ``select_seed``) on the
   training images less the last ``select_images`` and scores it by FID on
   those held-back images; each arm keeps its lowest-FID candidate;
2. reports: trains each pick with every seed on the same images and
   evaluates it on the held-out test split (``val/``), which no selection
   saw: FID (offline Inception), SWD, reconstruction PSNR/SSIM; every ratio
   is to the picked baseline.

Runs go through the product's own ``tools/train.py``, ``tools/test.py`` and
``tools/sample.py``; each lives in its folder under the work dir with the
exact config it ran (``config.py``) and its logs. Finished runs are skipped,
so an interrupted study (or one given a new budget) continues where it
stopped. A run stopped by the stability guard is reported as such. Written
to the work dir: ``study.md`` and ``study.json`` (tables, the sweep, every
run), ``study_ratio.png`` (FID ratio against the budget) and
``study_samples_<iters>.png`` (the picks' first-seed sample grids side by
side).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config, DictAction
# tools/studying/, beside this script (on sys.path when it runs)
from studying.plan import (ROOT, WARMUP_SHARE, Arm, Candidate, Plan,
                           StudyError, check_numbers, check_option_keys,
                           load_plan, write_splits)
from studying.report import (METRICS, markdown, pick, ratio_plot, side_by_side,
                             summarise)

from mmintrovae.utils import read_config
from mmintrovae.utils.fileio import write_atomic

DEFAULT_PLAN = 'configs/studies/fashion-mnist-32.py'
GUARD_ERROR = 'TrainingDivergedError'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--plan', default=DEFAULT_PLAN)
    parser.add_argument(
        '--iters',
        nargs='+',
        type=int,
        help="training budgets in iterations (default: the plan's)")
    parser.add_argument(
        '--seeds',
        nargs='+',
        type=int,
        help="report seeds (default: the plan's)")
    parser.add_argument(
        '--num-eval',
        type=int,
        help="images of every metric (default: the plan's; at most the "
        'split)')
    parser.add_argument(
        '--select-images',
        type=int,
        help='training images held back for the selection')
    parser.add_argument('--data-root', help='override the data folder')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='key=value overrides of every run\'s config, as tools/train.py '
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


def apply_options(plan: Plan, args: argparse.Namespace) -> Plan:
    """The plan with the command line's budgets, seeds and sizes."""
    for key, attr in (('iters', 'budgets'), ('seeds', 'seeds'),
                      ('num_eval', 'num_eval'), ('select_images',
                                                 'select_images')):
        value = getattr(args, key)
        if value is not None:
            setattr(plan, attr, value)
    check_numbers(plan, 'the command line')
    return plan


def run_config(arm: Arm, cand: Candidate, seed: int, iters: int, split: str,
               splits: Dict[str, str], plan: Plan,
               args: argparse.Namespace) -> Config:
    """The config of one run.

    Args:
        split (str): Where it is evaluated: ``select`` (the held-back
            training images) or ``test`` (``val/``).
    """
    options = dict(args.cfg_options)
    options.update({
        k: v
        for k, v in cand.options.items() if k != WARMUP_SHARE
    })
    cfg = read_config(arm.config, options)
    share = cand.options.get(WARMUP_SHARE)
    if share is None:  # the config's own share of its own budget
        share = cfg.model.get('vae_warmup_iters', 0) / \
            cfg.train_cfg.max_iters
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_begin = iters + 1  # no validation while training
    cfg.default_hooks.checkpoint.interval = iters
    cfg.model.vae_warmup_iters = int(round(share * iters))
    train = cfg.train_dataloader.dataset
    if args.data_root:
        train.data_root = args.data_root
    train.update(ann_file=splits['fit'], data_prefix=dict(gt='train'))
    train.pop('indices', None)
    num = plan.num_eval
    for key in ('val', 'test'):
        dataset = cfg[f'{key}_dataloader'].dataset
        if args.data_root:
            dataset.data_root = args.data_root
        if split == 'select':
            num = min(num, plan.select_images)
            dataset.update(
                ann_file=splits['select'], data_prefix=dict(gt='train'))
            dataset.pop('indices', None)
        else:
            dataset.indices = num
        for metric in cfg[f'{key}_evaluator'].metrics:
            for field in ('fake_nums', 'real_nums'):
                if field in metric:
                    metric[field] = num
    return cfg


def run_logged(cmd: List[str], log: str) -> int:
    """Runs a command with its output in ``log``; returns its exit code."""
    print('  $ ' + ' '.join(cmd), flush=True)
    with open(log, 'w') as f:
        return subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)


def train_and_evaluate(cfg: Config, work: str, info: dict,
                       sample: bool) -> dict:
    """One run: train, test and (``sample``) sample, each once.

    Returns:
        dict: ``info`` with ``status`` ('done', 'guard stop' or 'failed'),
        the metrics, the training time and the run folder.
    """
    os.makedirs(work, exist_ok=True)
    result_file = osp.join(work, 'result.json')
    if osp.isfile(result_file):
        with open(result_file) as f:
            return json.load(f)
    cfg_file = osp.join(work, 'config.py')
    cfg.dump(cfg_file)
    py, tools = sys.executable, osp.join(ROOT, 'tools')
    t0 = time.time()
    rc = run_logged(
        [py, osp.join(tools, 'train.py'), cfg_file, '--work-dir', work],
        osp.join(work, 'train.out'))
    result = dict(info, work_dir=work, train_s=round(time.time() - t0))
    if rc != 0:
        with open(osp.join(work, 'train.out'), errors='replace') as f:
            guard = GUARD_ERROR in f.read()
        result['status'] = 'guard stop' if guard else 'failed'
        print(
            f'  training {result["status"]} (exit {rc}), see '
            f'{work}/train.out',
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
        if sample and rc == 0:
            rc = run_logged([
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


def study_budget(iters: int, plan: Plan, splits: Dict[str, str],
                 args: argparse.Namespace) -> dict:
    """Selection, then the report runs of the picks, at one budget."""
    root = osp.join(args.work_dir, f'iters{iters}')
    select, picks = {}, {}
    for arm in plan.arms.values():
        select[arm.name] = []
        for cand in arm.candidates:
            print(
                f'[study {iters} its] select {arm.name} / {cand.name}',
                flush=True)
            cfg = run_config(arm, cand, plan.select_seed, iters, 'select',
                             splits, plan, args)
            info = dict(
                arm=arm.name,
                candidate=cand.name,
                options=cand.options,
                seed=plan.select_seed)
            select[arm.name].append(
                train_and_evaluate(
                    cfg,
                    osp.join(root, 'select', arm.name, cand.name),
                    info,
                    sample=False))
        picks[arm.name] = pick(select[arm.name])
    runs = []
    for seed in plan.seeds:  # seed-major: every arm has results early
        for arm in plan.arms.values():
            if picks[arm.name] is None:
                continue
            cand = next(c for c in arm.candidates if c.name == picks[arm.name])
            print(
                f'[study {iters} its] {arm.name} ({cand.name}) seed {seed}',
                flush=True)
            cfg = run_config(arm, cand, seed, iters, 'test', splits, plan,
                             args)
            info = dict(arm=arm.name, candidate=cand.name, seed=seed)
            runs.append(
                train_and_evaluate(
                    cfg,
                    osp.join(root, arm.name, f'seed{seed}'),
                    info,
                    sample=True))
    report = summarise(runs, list(plan.arms), plan.baseline, args.fid_ratio,
                       args.psnr_drop)
    grids = {
        f"{r['arm']} ({r['candidate']})":
        osp.join(r['work_dir'], 'grids', 'samples.png')
        for r in runs if r['seed'] == plan.seeds[0] and r['status'] == 'done'
    }
    side_by_side(grids, osp.join(args.work_dir, f'study_samples_{iters}.png'))
    return dict(select=select, picks=picks, runs=runs, report=report)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the study; returns 0, or 2 for bad options or a bad plan."""
    args = parse_args(argv)
    try:
        plan = apply_options(load_plan(args.plan), args)
        check_option_keys(plan)
        data_root = args.data_root or read_config(
            next(iter(plan.arms.values())).config,
            args.cfg_options).train_dataloader.dataset.data_root
        data_root = data_root if osp.isabs(data_root) else osp.join(
            os.getcwd(), data_root)
        args.data_root = data_root
        split_dir = osp.abspath(osp.join(args.work_dir, 'splits'))
        splits = write_splits(data_root, plan.select_images, split_dir)
    except StudyError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    by_budget = {
        str(iters): study_budget(iters, plan, splits, args)
        for iters in plan.budgets
    }
    study = dict(
        command='python tools/study.py ' +
        ' '.join(sys.argv[1:] if argv is None else argv),
        plan=osp.relpath(plan.path, ROOT),
        baseline=plan.baseline,
        seeds=plan.seeds,
        budgets=plan.budgets,
        select_images=plan.select_images,
        select_seed=plan.select_seed,
        num_eval=plan.num_eval,
        machine=f'{os.cpu_count()} CPU cores',
        date=time.strftime('%Y-%m-%d'),
        by_budget=by_budget)
    write_atomic(
        osp.join(args.work_dir, 'study.json'),
        json.dumps(study, indent=2).encode())
    report = markdown(study)
    write_atomic(osp.join(args.work_dir, 'study.md'), report.encode())
    ratio_plot(study, osp.join(args.work_dir, 'study_ratio.png'),
               args.fid_ratio)
    print(report)
    print(f'Wrote study.md, study.json, study_ratio.png and the sample '
          f'grids to {args.work_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
