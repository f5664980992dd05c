"""Saves and restores the random number generators' states with checkpoints.

mmengine's Runner restores weights, optimizer states (and so the EMA, part
of the model), the iteration, the message hub and the seed when it resumes,
and ``IterBasedTrainLoop`` replays the sampler by fetching (and discarding)
the ``iter`` batches already trained on. It does not save the states of the
random number generators: a resumed process starts from the config's seed.
IntroVAE draws ``torch.randn`` noise twice per step and the data pipeline
draws numpy numbers (``Flip``), so without this hook a resumed run draws
other noise than the uninterrupted run and its losses and weights drift
apart from the first resumed iteration on.

:class:`RNGStateHook` adds the states of torch's CPU generator, the CUDA
generators (when CUDA is available), numpy's global generator and Python's
``random`` module to every checkpoint the Runner saves (key
``'rng_state'``), as tensors, ints and tuples only, so that the file still
loads with ``torch.load(weights_only=True)`` and needs no allow-list entry.

When training resumes it restores them at the point where the saving run
was: right before the first batch after the checkpoint is fetched, i.e.
after ``IterBasedTrainLoop`` has replayed the skipped batches (replaying
runs the data pipeline, which draws numbers from numpy's generator when
``num_workers=0``). For other loops (epoch-based) they are restored in
``before_train_epoch``. A checkpoint loaded with ``load_from`` but without
``resume`` (fine-tuning) leaves the generators alone.

Distributed runs: each rank has its own generators (identical with
mmengine's default ``diff_rank_seed=False``, different with True), but only
rank 0 writes checkpoints, and ``before_save_checkpoint`` runs on rank 0
only. So right before ``CheckpointHook`` saves (the same test it makes,
``checkpoint_schedule``), every rank's states are gathered to rank 0, and
the checkpoint holds them under ``'ranks'`` (one entry per rank). On resume
with the same world size, every rank restores its own entry; with another
world size, or from a checkpoint without ``'ranks'``, every rank restores
rank 0's states, with a warning. Data-loader worker processes
(``num_workers > 0``) are re-seeded by mmengine's ``worker_init_fn`` and
replayed by the skipped batches, so they need no saved state.
"""
import logging
import random
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from mmagic.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from .checkpoint_schedule import (checkpoint_due_after_epoch,
                                  checkpoint_due_after_iter)

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']

CHECKPOINT_KEY = 'rng_state'


def get_rng_state() -> Dict[str, Any]:
    """The states of torch (CPU, CUDA), numpy and ``random``.

    Returns:
        dict: Tensors, ints, floats, strings and tuples only (loadable with
        ``torch.load(weights_only=True)``).
    """
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state(
        legacy=True)
    version, internal, gauss_next = random.getstate()
    state = dict(
        torch=torch.get_rng_state(),
        numpy=dict(
            bit_generator=str(name),
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        python=dict(
            version=int(version),
            internal=torch.tensor(internal, dtype=torch.int64),
            gauss_next=None if gauss_next is None else float(gauss_next)))
    if torch.cuda.is_available():
        state['cuda'] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restores states that :func:`get_rng_state` returned.

    Args:
        state (dict): The states. CUDA states are restored only when CUDA is
            available and the number of devices matches.
    """
    torch.set_rng_state(state['torch'].cpu())
    np_state = state['numpy']
    np.random.set_state(
        (np_state['bit_generator'], np_state['keys'].numpy().astype(np.uint32),
         np_state['pos'], np_state['has_gauss'], np_state['cached_gaussian']))
    py_state = state['python']
    random.setstate((py_state['version'],
                     tuple(int(v) for v in py_state['internal'].tolist()),
                     py_state['gauss_next']))
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
        else:
            print_log(
                f'RNGStateHook: the checkpoint has {len(cuda)} CUDA RNG '
                f'states, this machine {torch.cuda.device_count()} devices; '
                'CUDA generators are not restored.', 'current',
                logging.WARNING)


class _RestoreBeforeNextBatch:
    """Wraps a train loop's data iterator: restores the RNG states right
    before batch number ``skip + 1`` is fetched, then puts the original
    iterator back."""

    def __init__(self, loop, state: Dict[str, Any], skip: int):
        self._loop = loop
        self._iterator = loop.dataloader_iterator
        self._state = state
        self._skip = skip

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip > 0:
            self._skip -= 1
            return next(self._iterator)
        set_rng_state(self._state)
        self._loop.dataloader_iterator = self._iterator
        return next(self._iterator)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Saves the RNG states in checkpoints and restores them on resume.

    Add it to a config with ``custom_hooks = [dict(type='RNGStateHook')]``.
    See the module docstring for what is saved, when it is restored, and
    what happens in distributed runs.
    """

    # Above CheckpointHook (VERY_LOW): the states are gathered before it
    # saves.
    priority = 'NORMAL'

    def __init__(self) -> None:
        self._loaded: Optional[Dict[str, Any]] = None
        self._pending: Optional[Dict[str, Any]] = None
        self._gathered: Optional[Tuple[int, List[Dict[str, Any]]]] = None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Gathers every rank's states when a checkpoint follows."""
        if get_world_size() > 1 and checkpoint_due_after_iter(runner):
            self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        """Gathers every rank's states when a checkpoint follows."""
        if get_world_size() > 1 and checkpoint_due_after_epoch(runner):
            self._gather(runner)

    def _gather(self, runner) -> None:
        """All ranks' states, kept (on rank 0) for the coming checkpoint."""
        self._gathered = (runner.iter, all_gather_object(get_rng_state()))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Adds the current states (and the iteration) to the checkpoint;
        in distributed runs, every rank's (gathered right before)."""
        state = get_rng_state()
        state['iter'] = int(checkpoint.get('meta', {}).get('iter', -1))
        state['world_size'] = int(get_world_size())
        gathered, self._gathered = self._gathered, None
        if get_world_size() > 1:
            if gathered is not None and gathered[0] == runner.iter:
                state['ranks'] = gathered[1]
            else:
                print_log(
                    'RNGStateHook: this checkpoint was not announced by '
                    "CheckpointHook's interval (e.g. save_best); it holds "
                    "rank 0's RNG states only, so resuming it on several "
                    'ranks is not exact.', 'current', logging.WARNING)
        checkpoint[CHECKPOINT_KEY] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keeps the saved states; they are applied when training goes on."""
        self._loaded = checkpoint.get(CHECKPOINT_KEY)
        if self._loaded is None:
            print_log(
                'RNGStateHook: the checkpoint has no RNG states (saved '
                'without this hook); a resumed run draws other random '
                'numbers than the uninterrupted one would have.', 'current',
                logging.WARNING)

    def before_train(self, runner) -> None:
        """Arms the restore if this run resumes the checkpoint's iteration."""
        state, self._loaded = self._loaded, None
        if state is None or runner.iter == 0 or state['iter'] != runner.iter:
            return  # nothing loaded, or load_from without resume
        state = self._state_of_this_rank(state)
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            # IterBasedTrainLoop replays `iter` batches before the next one.
            loop.dataloader_iterator = _RestoreBeforeNextBatch(
                loop, state, skip=runner.iter)
        else:
            self._pending = state

    def before_train_epoch(self, runner) -> None:
        """Restores the states for loops without a data iterator."""
        state = self._pending
        if state is not None:
            self._pending = None
            set_rng_state(state)

    @staticmethod
    def _state_of_this_rank(state: Dict[str, Any]) -> Dict[str, Any]:
        """This rank's saved states, or rank 0's (with a warning) where the
        checkpoint has none for it."""
        world_size, rank = get_world_size(), get_rank()
        ranks = state.get('ranks')
        if ranks is not None and len(ranks) == world_size:
            return ranks[rank]
        saved_world = state.get('world_size', 1)
        if saved_world != world_size:
            print_log(
                f'RNGStateHook: the checkpoint was saved with world size '
                f'{saved_world}, this run has {world_size}; the data shards '
                "and each rank's noise differ, so resuming is not exact "
                "(rank 0's RNG states restored on every rank).", 'current',
                logging.WARNING)
        elif world_size > 1:
            print_log(
                "RNGStateHook: the checkpoint holds rank 0's RNG states "
                'only; every rank restores them, which is exact only when '
                'all ranks had the same states (randomness.diff_rank_seed='
                'False).', 'current', logging.WARNING)
        return state
