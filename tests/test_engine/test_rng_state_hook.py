"""RNGStateHook's choice of states per rank, and its warnings.

The 2-rank runs are in test_distributed_resume.py; here the rank and world
size are set by hand to reach every branch, and the warnings are read from
what the hook hands to mmengine's ``print_log``.
"""
from types import SimpleNamespace

import pytest
import torch

from mmintrovae.engine import rng_state_hook
from mmintrovae.engine.rng_state_hook import RNGStateHook, get_rng_state


@pytest.fixture
def ranks(monkeypatch):
    """Sets (rank, world size) as the hook sees them; returns the logged
    warnings."""
    logged = []
    monkeypatch.setattr(rng_state_hook, 'print_log',
                        lambda msg, *args, **kwargs: logged.append(msg))

    def place(rank: int, world_size: int):
        monkeypatch.setattr(rng_state_hook, 'get_rank', lambda: rank)
        monkeypatch.setattr(rng_state_hook, 'get_world_size',
                            lambda: world_size)

    return place, logged


def _saved(world_size: int, with_ranks: bool) -> dict:
    state = get_rng_state()
    state.update(iter=3, world_size=world_size)
    if with_ranks:
        torch.manual_seed(1)
        other = get_rng_state()
        state['ranks'] = [get_rng_state(), other]
    return state


def test_each_rank_restores_its_own_states(ranks):
    place, logged = ranks
    state = _saved(2, with_ranks=True)
    place(1, 2)
    assert RNGStateHook._state_of_this_rank(state) is state['ranks'][1]
    place(0, 2)
    assert RNGStateHook._state_of_this_rank(state) is state['ranks'][0]
    assert not logged


def test_rank0_states_only_warns_on_several_ranks(ranks):
    place, logged = ranks
    state = _saved(2, with_ranks=False)
    place(1, 2)
    assert RNGStateHook._state_of_this_rank(state) is state
    assert logged == [
        "RNGStateHook: the checkpoint holds rank 0's RNG states only; every "
        'rank restores them, which is exact only when all ranks had the same '
        'states (randomness.diff_rank_seed=False).'
    ]


def test_other_world_size_warns(ranks):
    place, logged = ranks
    state = _saved(2, with_ranks=True)
    place(0, 4)
    assert RNGStateHook._state_of_this_rank(state) is state
    assert logged == [
        'RNGStateHook: the checkpoint was saved with world size 2, this run '
        "has 4; the data shards and each rank's noise differ, so resuming is "
        "not exact (rank 0's RNG states restored on every rank)."
    ]


def test_unannounced_checkpoint_on_several_ranks_warns(ranks):
    """A save CheckpointHook's interval did not announce (save_best) holds
    rank 0's states only, and says so."""
    place, logged = ranks
    place(0, 2)
    hook = RNGStateHook()
    checkpoint = dict(meta=dict(iter=5))
    hook.before_save_checkpoint(SimpleNamespace(iter=4), checkpoint)
    assert 'ranks' not in checkpoint['rng_state']
    assert checkpoint['rng_state']['world_size'] == 2
    assert logged == [
        'RNGStateHook: this checkpoint was not announced by CheckpointHook\'s'
        " interval (e.g. save_best); it holds rank 0's RNG states only, so "
        'resuming it on several ranks is not exact.'
    ]
    # Announced: the gathered states of that iteration go in, silently.
    hook._gathered = (4, ['r0', 'r1'])
    hook.before_save_checkpoint(SimpleNamespace(iter=4), checkpoint)
    assert checkpoint['rng_state']['ranks'] == ['r0', 'r1']
    assert len(logged) == 1
