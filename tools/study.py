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
stopped (a run killed while training goes on from its latest checkpoint);
``--collect`` trains nothing and writes the tables of the runs finished so
far; ``--save-records DIR`` copies the finished runs' records out (no
checkpoints), to be copied into the work dir of another checkout, where
the study goes on from them; ``--only ARM[/CANDIDATE] ...`` runs only
those runs (a share of the study, e.g. one arm per machine, their folders
merged later) and collects the rest. A run stopped by the stability
guard is reported as such. Written to the work dir: ``study.md`` and
``study.json`` (tables, the sweep, every run), ``study_ratio.png`` (FID
ratio against the budget) and ``study_samples_<iters>.png`` (the picks'
first-seed sample grids side by side).
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction
# tools/studying/, beside this script (on sys.path when it runs)
from studying.plan import (ROOT, WARMUP_SHARE, Arm, Candidate, Plan,
                           StudyError, check_numbers, check_option_keys,
                           load_plan, write_splits)
from studying.records import same_run, save_records
from studying.report import (METRICS, NOT_RUN, PRUNED, markdown, pick, rank,
                             ratio_plot, side_by_side, summarise)

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
        '--collect',
        action='store_true',
        help='train nothing: write the tables of the runs finished so far '
        '(the others "not run"), e.g. of a study still running or stopped')
    parser.add_argument(
        '--only',
        nargs='+',
        metavar='ARM[/CANDIDATE]',
        help='run only these arms (selection and report runs) or these '
        'selection candidates; the other runs are collected as --collect')
    parser.add_argument(
        '--save-records',
        metavar='DIR',
        help='then copy every finished run\'s record (config.py, '
        'train.json, result.json, the first seed\'s sample grid; no '
        'checkpoint) to DIR, at the same place as below the work dir; '
        'DIR may hold {iters}, the budget (e.g. docs/study_cpu_{iters}/runs)'
        '; copy them back into a work dir to go on in another checkout')
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
    plan.budgets = sorted(plan.budgets)  # promotion goes small to large
    return plan


def check_only(plan: Plan, only: Optional[Sequence[str]]) -> None:
    """Raises StudyError for an ``--only`` entry the plan does not have."""
    for entry in only or ():
        arm_name, _, cand_name = entry.partition('/')
        arm = plan.arms.get(arm_name)
        if arm is None:
            raise StudyError(f'--only {entry}: the plan {plan.path} has no '
                             f'arm {arm_name!r}; its arms: {list(plan.arms)}')
        names = [c.name for c in arm.candidates]
        if cand_name and cand_name not in names:
            raise StudyError(f'--only {entry}: arm {arm_name!r} has no '
                             f'candidate {cand_name!r}; its candidates: '
                             f'{names}')


def check_records_dir(dest: Optional[str]) -> None:
    """Raises StudyError for a ``--save-records`` folder that names another
    placeholder than ``{iters}`` (before any run, not after the study)."""
    if dest is None:
        return
    try:
        dest.format(iters='0')
    except (KeyError, IndexError, ValueError) as err:
        raise StudyError(f'--save-records {dest}: the only placeholder it '
                         f'may hold is {{iters}} (the budget), not {err}; '
                         f'e.g. docs/study_cpu_{{iters}}/runs') from err


def skipped(args: argparse.Namespace, arm: str, cand: Optional[str]) -> bool:
    """Whether a run is only collected: ``--collect``, or ``--only`` not
    naming it (``cand`` is None for a report run, which only its arm's
    name selects)."""
    if args.collect:
        return True
    if not args.only:
        return False
    return arm not in args.only and (cand is None
                                     or f'{arm}/{cand}' not in args.only)


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
    # A killed run goes on from its latest checkpoint (only the last is
    # kept); the final one is always saved (save_last).
    cfg.default_hooks.checkpoint.interval = min(iters, plan.checkpoint_every)
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


def _last_checkpoint(work: str) -> Optional[str]:
    """The checkpoint ``work/last_checkpoint`` names, if it is there (in
    ``work``: a run folder copied from elsewhere names the original's)."""
    last = osp.join(work, 'last_checkpoint')
    if not osp.isfile(last):
        return None
    with open(last) as f:
        ckpt = f.read().strip()
    here = osp.isfile(ckpt) and osp.samefile(osp.dirname(ckpt), work)
    return ckpt if here else None


def _train(cfg: Config, work: str, cfg_file: str) -> dict:
    """Trains once; an interrupted run of the same config is continued.

    A run killed after its last checkpoint is not trained again; one killed
    earlier goes on from its latest checkpoint (``tools/train.py --resume``,
    bit for bit the same run). ``train.json`` keeps the exit code and the
    time of a training that ended, so a later call reuses them.

    Returns:
        dict: ``rc`` (exit code), ``train_s`` (None where a killed run's
        time is unknown) and ``resumed``.
    """
    train_file = osp.join(work, 'train.json')
    same = same_run(cfg_file, cfg)
    # A record moved from another folder names a checkpoint that is not
    # here: it trains again rather than test or resume from nothing.
    ckpt = _last_checkpoint(work) if same else None
    if ckpt is not None and osp.isfile(train_file):
        with open(train_file) as f:
            done = json.load(f)
        if done['rc'] == 0:
            return done
    resume = ckpt is not None
    if resume and osp.basename(ckpt) == f'iter_{cfg.train_cfg.max_iters}.pth':
        print(f'  trained before it was interrupted: {ckpt}', flush=True)
        return dict(rc=0, train_s=None, resumed=True)
    cfg.dump(cfg_file)
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), cfg_file, '--work-dir', work
    ]
    t0 = time.time()
    rc = run_logged(cmd + ['--resume'] * resume, osp.join(work, 'train.out'))
    done = dict(rc=rc, train_s=round(time.time() - t0), resumed=resume)
    write_atomic(train_file, json.dumps(done).encode())
    return done


def train_and_evaluate(cfg: Config,
                       work: str,
                       info: dict,
                       sample: bool,
                       collect: bool = False) -> dict:
    """One run: train, test and (``sample``) sample, each once.

    A finished run (``result.json``) is reused only if it ran this very
    config; an interrupted one is continued (see ``_train``). With
    ``collect`` nothing runs: a run not finished is returned as 'not run'.

    Returns:
        dict: ``info`` with ``status`` ('done', 'guard stop', 'failed' or
        'not run'), the metrics, the training time and the run folder.
    """
    result_file = osp.join(work, 'result.json')
    cfg_file = osp.join(work, 'config.py')
    if osp.isfile(result_file):
        if not same_run(cfg_file, cfg):
            raise StudyError(
                f'{work} finished with another config than this study '
                f'would run (other --num-eval, --cfg-options, data or '
                f'plan?): a result is reused only for the same config; '
                f'give another --work-dir, or delete {work} to rerun it')
        with open(result_file) as f:  # where it is now (a record moved
            return dict(json.load(f), work_dir=work)  # from elsewhere)
    if collect:
        return dict(info, work_dir=work, status=NOT_RUN, train_s=None)
    os.makedirs(work, exist_ok=True)
    trained = _train(cfg, work, cfg_file)
    rc = trained['rc']
    result = dict(
        info,
        work_dir=work,
        train_s=trained['train_s'],
        resumed=trained['resumed'])
    py, tools = sys.executable, osp.join(ROOT, 'tools')
    ckpt = _last_checkpoint(work) if rc == 0 else None
    if rc != 0:
        with open(osp.join(work, 'train.out'), errors='replace') as f:
            guard = GUARD_ERROR in f.read()
        result['status'] = 'guard stop' if guard else 'failed'
        print(
            f'  training {result["status"]} (exit {rc}), see '
            f'{work}/train.out',
            flush=True)
    elif ckpt is None:
        result['status'] = 'failed'
        print(
            f'  training ended (exit 0) without a checkpoint in {work}, see '
            f'{work}/train.out',
            flush=True)
    else:
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


def promoted(plan: Plan, arm: Arm,
             before: Optional[Tuple[int, dict]]) -> Optional[Dict[str, str]]:
    """Which of an arm's candidates its selection trains at this budget.

    Args:
        before (tuple, optional): The budget before this one and its
            result (``study_budget``'s), None at the smallest budget.

    Returns:
        dict or None: None where every candidate trains (no ``promote`` in
        the plan, or the smallest budget); else candidate -> why it is not
        trained ('' for the promoted ones: the ``promote`` lowest-FID
        finished candidates of the budget before). While the selection
        before is not finished, no candidate is promoted and every one
        reads 'waiting'.
    """
    if plan.promote is None or before is None:
        return None
    iters, result = before
    done_before = result['select'][arm.name]
    if any(c['status'] == NOT_RUN for c in done_before):
        return {c.name: 'waiting' for c in arm.candidates}
    ranked = rank(done_before)
    why = {}
    for cand in arm.candidates:
        place = ranked.index(cand.name) if cand.name in ranked else None
        if place is None:
            why[cand.name] = f'not finished at {iters} its'
        elif place >= plan.promote:
            why[cand.name] = (f'FID rank {place + 1} of {len(ranked)} at '
                              f'{iters} its')
        else:
            why[cand.name] = ''
    return why


def study_budget(iters: int,
                 plan: Plan,
                 splits: Dict[str, str],
                 args: argparse.Namespace,
                 before: Optional[Tuple[int, dict]] = None) -> dict:
    """Selection, then the report runs of the picks, at one budget.

    Args:
        before (tuple, optional): The next smaller budget and its result,
            whose selection decides which candidates are promoted to this
            one (the plan's ``promote``).
    """
    root = osp.join(args.work_dir, f'iters{iters}')
    select, picks = {}, {}
    for arm in plan.arms.values():
        select[arm.name] = []
        why = promoted(plan, arm, before)
        for cand in arm.candidates:
            work = osp.join(root, 'select', arm.name, cand.name)
            info = dict(
                arm=arm.name,
                candidate=cand.name,
                options=cand.options,
                seed=plan.select_seed)
            if why is not None and why[cand.name] == 'waiting':
                select[arm.name].append(
                    dict(info, work_dir=work, status=NOT_RUN, train_s=None))
                continue
            if why is not None and why[cand.name]:
                select[arm.name].append(
                    dict(
                        info,
                        work_dir=work,
                        status=PRUNED,
                        pruned=why[cand.name]))
                continue
            print(
                f'[study {iters} its] select {arm.name} / {cand.name}',
                flush=True)
            cfg = run_config(arm, cand, plan.select_seed, iters, 'select',
                             splits, plan, args)
            select[arm.name].append(
                train_and_evaluate(
                    cfg,
                    work,
                    info,
                    sample=False,
                    collect=skipped(args, arm.name, cand.name)))
        # No pick before every candidate has had its run.
        finished = all(c['status'] != NOT_RUN for c in select[arm.name])
        picks[arm.name] = pick(select[arm.name]) if finished else None
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
                    sample=True,
                    collect=skipped(args, arm.name, None)))
    report = summarise([r for r in runs if r['status'] != NOT_RUN],
                       list(plan.arms), plan.baseline, args.fid_ratio,
                       args.psnr_drop)
    grids = {
        f"{r['arm']} ({r['candidate']})":
        osp.join(r['work_dir'], 'grids', 'samples.png')
        for r in runs if r['seed'] == plan.seeds[0] and r['status'] == 'done'
    }
    side_by_side(grids, osp.join(args.work_dir, f'study_samples_{iters}.png'))
    return dict(select=select, picks=picks, runs=runs, report=report)


def machine() -> str:
    """The CPU the study ran on, e.g. ``2 CPU cores (Intel(R) Xeon(R) ...)``:
    the machines of different sessions differ in speed by more than 2x."""
    model = None
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip()
                          for line in f if line.startswith('model name')),
                         None)
    model = model or platform.processor() or platform.machine()
    return f'{os.cpu_count()} CPU cores ({model})'


def not_run(by_budget: Dict[str, dict]) -> List[str]:
    """The folders of the runs a collected study has not finished; the
    report runs of an arm whose selection is not finished are not known
    yet and not listed."""
    runs = []
    for b in by_budget.values():
        runs += [c for cands in b['select'].values() for c in cands]
        runs += b['runs']
    return [r['work_dir'] for r in runs if r['status'] == NOT_RUN]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the study; returns 0, or 2 for bad options, a bad plan or a
    finished run whose config differs from the one it would run now."""
    args = parse_args(argv)
    try:
        plan = apply_options(load_plan(args.plan), args)
        check_only(plan, args.only)
        check_records_dir(args.save_records)
        check_option_keys(plan)
        data_root = args.data_root or read_config(
            next(iter(plan.arms.values())).config,
            args.cfg_options).train_dataloader.dataset.data_root
        data_root = data_root if osp.isabs(data_root) else osp.join(
            os.getcwd(), data_root)
        args.data_root = data_root
        split_dir = osp.abspath(osp.join(args.work_dir, 'splits'))
        splits = write_splits(data_root, plan.select_images, split_dir)
        by_budget, before = {}, None
        for iters in plan.budgets:  # smallest first (apply_options)
            by_budget[str(iters)] = study_budget(iters, plan, splits, args,
                                                 before)
            before = (iters, by_budget[str(iters)])
    except StudyError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
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
        machine=machine(),
        date=time.strftime('%Y-%m-%d'),
        not_run=not_run(by_budget),
        by_budget=by_budget)
    write_atomic(
        osp.join(args.work_dir, 'study.json'),
        json.dumps(study, indent=2).encode())
    report = markdown(study)
    write_atomic(osp.join(args.work_dir, 'study.md'), report.encode())
    ratio_plot(study, osp.join(args.work_dir, 'study_ratio.png'),
               args.fid_ratio)
    print(report)
    if args.save_records:
        runs = [
            c for budget in by_budget.values()
            for cands in budget['select'].values() for c in cands
        ] + [r for budget in by_budget.values() for r in budget['runs']]
        saved = save_records(runs, args.work_dir, args.save_records)
        print(f'Saved the records of {saved} finished runs to '
              f'{args.save_records}')
    print(f'Wrote study.md, study.json, study_ratio.png and the sample '
          f'grids to {args.work_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
