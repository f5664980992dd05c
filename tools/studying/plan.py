"""The study's plan file: arms, their candidates, seeds, budgets, splits."""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Candidate options that are not config keys.
WARMUP_SHARE = 'warmup_share'
# Iterations between a run's checkpoints (the plan's ``checkpoint_every``):
# what a run killed while training loses at most.
CHECKPOINT_EVERY = 500


class StudyError(Exception):
    """A problem with the options or the plan, explained for the user."""


@dataclass
class Candidate:
    """One setting of an arm: a name and its config overrides."""
    name: str
    options: Dict[str, object]


@dataclass
class Arm:
    """A model config and the candidates its selection compares."""
    name: str
    config: str
    candidates: List[Candidate]


@dataclass
class Plan:
    """What the study runs (see ``configs/studies/fashion-mnist-32.py``)."""
    path: str
    arms: Dict[str, Arm]
    baseline: str
    seeds: List[int]
    budgets: List[int]
    select_images: int
    select_seed: int
    num_eval: int
    checkpoint_every: int = CHECKPOINT_EVERY
    # At every budget after the smallest, an arm's selection trains only
    # its ``promote`` best candidates of the budget before (None: all).
    promote: Optional[int] = None


def _need(cfg: Config, key: str, path: str):
    if key not in cfg:
        raise StudyError(f'{path}: the plan has no `{key}`; see '
                         'configs/studies/fashion-mnist-32.py.')
    return cfg[key]


def _arm(name: str, spec: dict, path: str) -> Arm:
    where = f'{path}: arms[{name!r}]'
    config = spec.get('config')
    if not config:
        raise StudyError(f'{where} has no `config`.')
    config_path = config if osp.isabs(config) else osp.join(ROOT, config)
    if not osp.isfile(config_path):
        raise StudyError(f'{where}.config: no config file {config_path}')
    candidates = []
    for i, cand in enumerate(spec.get('candidates') or [dict(name='config')]):
        cand_name = cand.get('name')
        if not cand_name or '/' in cand_name:
            raise StudyError(f'{where}.candidates[{i}] needs a `name` '
                             '(a folder name, no "/").')
        options = dict(cand.get('options') or {})
        share = options.get(WARMUP_SHARE)
        if share is not None and not 0 <= share < 1:
            raise StudyError(f'{where}.candidates[{i}].options.warmup_share'
                             f'={share!r}: give a share in [0, 1).')
        candidates.append(Candidate(cand_name, options))
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise StudyError(f'{where}: candidate names repeat: {names}')
    return Arm(name, config_path, candidates)


def load_plan(path: str) -> Plan:
    """Reads and checks a plan file.

    Raises:
        StudyError: For a missing file, key or config, or bad values.
    """
    full = path if osp.isabs(path) else osp.join(ROOT, path)
    if not osp.isfile(full):
        raise StudyError(f'--plan {path}: no such file; the default is '
                         'configs/studies/fashion-mnist-32.py')
    cfg = Config.fromfile(full)
    arms = {
        name: _arm(name, spec, path)
        for name, spec in _need(cfg, 'arms', path).items()
    }
    baseline = _need(cfg, 'baseline', path)
    if baseline not in arms:
        raise StudyError(f'{path}: baseline={baseline!r} is not one of the '
                         f'arms {sorted(arms)}.')
    if len(arms) < 2:
        raise StudyError(f'{path}: give at least two arms (one baseline).')
    plan = Plan(
        path=full,
        arms=arms,
        baseline=baseline,
        seeds=list(_need(cfg, 'seeds', path)),
        budgets=list(_need(cfg, 'budgets', path)),
        select_images=int(_need(cfg, 'select_images', path)),
        select_seed=int(_need(cfg, 'select_seed', path)),
        num_eval=int(_need(cfg, 'num_eval', path)),
        checkpoint_every=int(cfg.get('checkpoint_every', CHECKPOINT_EVERY)),
        promote=cfg.get('promote'))
    check_numbers(plan, path)
    return plan


def check_numbers(plan: Plan, where: str) -> None:
    """Refuses budgets, sizes and seeds that cannot run."""
    if not plan.budgets or min(plan.budgets) < 1:
        raise StudyError(f'{where}: budgets {plan.budgets}: give iteration '
                         'counts of at least 1.')
    if not plan.seeds:
        raise StudyError(f'{where}: seeds: give at least one seed.')
    if plan.select_images < 2:
        raise StudyError(f'{where}: select_images={plan.select_images}: '
                         'hold back at least 2 training images.')
    if plan.num_eval < 2:
        raise StudyError(f'{where}: num_eval={plan.num_eval}: give at '
                         'least 2.')
    if plan.promote is not None and (not isinstance(plan.promote, int)
                                     or plan.promote < 1):
        raise StudyError(f'{where}: promote={plan.promote!r}: give the '
                         'number of candidates (at least 1) an arm keeps '
                         'from one budget to the next, or None to train '
                         'all of them at every budget.')
    if len(set(plan.budgets)) != len(plan.budgets):
        raise StudyError(f'{where}: budgets {plan.budgets}: a budget is '
                         'given twice.')
    if plan.checkpoint_every < 1:
        raise StudyError(f'{where}: checkpoint_every='
                         f'{plan.checkpoint_every}: give at least 1 '
                         '(iterations between checkpoints).')


def write_splits(data_root: str, select_images: int,
                 out_dir: str) -> Dict[str, str]:
    """Splits ``data_root/train`` into the fit and the selection images.

    The selection images are the last ``select_images`` of the sorted file
    names; both lists are annotation files of mmagic's BasicImageDataset
    (names relative to ``train/``).

    Returns:
        dict: ``fit`` and ``select``: the paths of the two lists.

    Raises:
        StudyError: When the folder is missing or too small.
    """
    from mmintrovae.utils.fileio import write_atomic
    train = osp.join(data_root, 'train')
    if not osp.isdir(train):
        raise StudyError(f'no training folder {train}: run `make data` or '
                         'give --data-root')
    exts = ('.png', '.jpg', '.jpeg', '.bmp')
    names = sorted(n for n in os.listdir(train) if n.lower().endswith(exts))
    if len(names) < select_images + 2:
        raise StudyError(
            f'{train} holds {len(names)} images: too few to hold back '
            f'select_images={select_images} and train on the rest; lower '
            '--select-images.')
    cut = len(names) - select_images
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for split, part in (('fit', names[:cut]), ('select', names[cut:])):
        paths[split] = osp.join(out_dir, f'{split}.txt')
        write_atomic(paths[split], ('\n'.join(part) + '\n').encode())
    return paths


def check_option_keys(plan: Plan) -> None:
    """Refuses a candidate option that names no key of its arm's config
    (a typo would otherwise add an unused key and change nothing)."""
    for arm in plan.arms.values():
        cfg = Config.fromfile(arm.config).to_dict()
        for cand in arm.candidates:
            for key in cand.options:
                if key == WARMUP_SHARE:
                    continue
                node = cfg
                for part in key.split('.'):
                    if not isinstance(node, dict) or part not in node:
                        raise StudyError(
                            f'{plan.path}: arms[{arm.name!r}] candidate '
                            f'{cand.name!r}: option {key!r} is not a key of '
                            f'{osp.relpath(arm.config, ROOT)}; check the '
                            'spelling.')
                    node = node[part]
