"""Whether a run folder's record is the run the study would start now.

A run folder keeps the exact config it ran (``config.py``); a finished run
is reused only when that config is the one the study builds today. Paths in
a config are absolute (mmengine joins a relative ``ann_file`` to
``data_root``), so a record copied to another checkout (the committed
``docs/study_cpu_*/runs``, a share run on another machine) holds the
folder it was run from. :func:`same_run` compares the two configs with that
folder swapped for today's, when the record shows one: its training split
file lay at the same place relative to it as today's does to the current
directory.

:func:`save_records` copies the finished runs' records out of a work dir
(e.g. into ``docs/study_cpu_<iters>/runs``), so that a later checkout can
put them back and go on with the study.
"""
import os
import os.path as osp
from typing import Any, Dict, Iterable, Optional

from mmengine.config import Config

from mmintrovae.utils.fileio import write_atomic

# Keys tools/train.py and tools/test.py set in the config.py they keep in
# the run folder: not part of what the run is.
RUNTIME_KEYS = ('launcher', 'work_dir', 'resume', 'load_from')


def moved_from(recorded: Config, cfg: Config) -> Optional[str]:
    """The folder (ending in a separator) a record was run from, where it is
    not the current directory; None otherwise.

    The anchor is the training split file, which every study run lists as
    ``train_dataloader.dataset.ann_file`` under the study's work dir: if
    today's lies at ``<cwd>/<rel>`` and the record's at ``<old>/<rel>``,
    the record was run from ``<old>``.
    """
    old = recorded.get('train_dataloader', {}).get('dataset',
                                                   {}).get('ann_file')
    new = cfg.get('train_dataloader', {}).get('dataset', {}).get('ann_file')
    here = os.getcwd().rstrip(os.sep) + os.sep
    if not (isinstance(old, str) and isinstance(new, str)) or old == new \
            or not new.startswith(here):
        return None
    rel = new[len(here):]
    if not old.endswith(os.sep + rel) or not osp.isabs(old):
        return None
    return old[:-len(rel)]


def rebase(value: Any, old: str, new: str) -> Any:
    """``value`` with every string that starts with ``old`` starting with
    ``new`` instead, through dicts, lists and tuples."""
    if isinstance(value, str):
        return new + value[len(old):] if value.startswith(old) else value
    if isinstance(value, dict):
        return {k: rebase(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(rebase(v, old, new) for v in value)
    return value


def _content(cfg: Config) -> dict:
    """What a config computes: without the runner's keys and without the
    checkpoint interval (saving a checkpoint changes nothing the run
    computes, so a run of another ``checkpoint_every`` is the same run)."""
    d = {k: v for k, v in cfg.to_dict().items() if k not in RUNTIME_KEYS}
    hooks = dict(d.get('default_hooks') or {})
    checkpoint = dict(hooks.get('checkpoint') or {})
    checkpoint.pop('interval', None)
    hooks['checkpoint'] = checkpoint
    d['default_hooks'] = hooks
    return d


def same_run(cfg_file: str, cfg: Config) -> bool:
    """Whether the run folder's ``cfg_file`` ran ``cfg``, wherever the
    folder was run from (see :func:`moved_from`)."""
    if not osp.isfile(cfg_file):
        return False
    recorded = Config.fromfile(cfg_file)
    old, new = _content(recorded), _content(cfg)
    folder = moved_from(recorded, cfg)
    if folder is not None:
        old = rebase(old, folder, os.getcwd().rstrip(os.sep) + os.sep)
    return old == new


# What a finished run folder keeps that the study reads back: the config it
# ran, its training's exit code and time, its result and (a report run of
# the first seed) the sample grid of the side-by-side figure.
RECORD_FILES = ('config.py', 'train.json', 'result.json',
                osp.join('grids', 'samples.png'))


def save_records(runs: Iterable[Dict[str, Any]], work_dir: str,
                 dest: str) -> int:
    """Copies the records of the finished ``runs`` out of ``work_dir``.

    Each run folder's :data:`RECORD_FILES` (those it has) go to the same
    place below ``dest`` as the folder is below ``work_dir``, each written
    whole or not at all; checkpoints and logs stay behind. A run with no
    ``result.json`` (not run, pruned, or still training) is left out.

    Args:
        runs: The study's runs (``work_dir`` and ``status`` each).
        work_dir (str): The study's work dir.
        dest (str): The folder of the records; may hold ``{iters}``, which
            is replaced by the budget of each run's folder (``iters<N>``).

    Returns:
        int: How many runs' records were saved.
    """
    saved = 0
    for run in runs:
        folder = run['work_dir']  # below work_dir: the study names them
        if not osp.isfile(osp.join(folder, 'result.json')):
            continue
        rel = osp.relpath(folder, work_dir)
        iters = rel.split(os.sep)[0][len('iters'):]
        target = osp.join(dest.format(iters=iters), rel)
        for name in RECORD_FILES:
            src = osp.join(folder, name)
            if osp.isfile(src):
                os.makedirs(osp.dirname(osp.join(target, name)), exist_ok=True)
                with open(src, 'rb') as f:
                    write_atomic(osp.join(target, name), f.read())
        saved += 1
    return saved
