"""2 ranks x n images train exactly what one process trains on 2n.

One ``torchrun`` launch (2 processes, gloo, CPU) runs this file as its
worker script (``__main__`` below). Nothing is patched in the runs that
must match: the noise is the product's (``global_batch_randn``), the
BatchNorm layers are the wrapper's ``SyncBatchNorm2d``
(``IntroVAEDistributedWrapper(sync_bn=True)``), the hinge is decided on the
global batch mean. Each rank builds the same tiny 16x16 model with
BatchNorm (same seed), takes its rows of a global batch of 8 (every second
image, as mmengine's samplers shard), and runs ``train_step`` with SGD (its
step is proportional to the gradient; Adam's ``lr * sign(grad)`` first
steps would hide differences). The single-process reference runs the same
steps on the whole batches, in the test process. Arms:

* ``introvae``, ``soft``: IntroVAE and Soft-IntroVAE, 3 steps (1 plain-VAE
  warm-up step, then 2 introspective ones): both ranks must end with equal
  weights, equal to the reference within :data:`TOLERANCE`;
* controls, each of which must miss the reference by far more than the
  tolerance: ``rank_noise`` (the model's noise drawn per rank with
  ``torch.randn``, the old behaviour: every rank draws the same noise),
  ``rank_bn`` (no ``sync_bn``: BatchNorm statistics per rank);
* ``hinge`` and its control ``local_hinge``: one introspective step with a
  margin between the global mean KL of the fakes and the larger of the two
  ranks' means (so a per-rank hinge is active on one rank only), weighted
  so its effect shows after one step; the control replaces ``global_mean``
  by the local mean.

Measured on 2 CPU cores (2026-12-04): 2-rank vs one process 1.2e-7
(IntroVAE), 1.5e-7 (Soft), 4.3e-7 (hinge); the ranks' weights bit-identical;
the controls miss by 4.1e-2 (per-rank noise), 2.0e-2 (per-rank BatchNorm),
3.7e-1 (per-rank hinge), while training moved the weights by 0.4-0.7. The
module takes about 15 s.
"""
import contextlib
import sys

import pytest
import torch
import torch.distributed as torch_dist
from conftest import REPO, free_port, run_or_fail, subprocess_env

WORLD_SIZE = 2
GLOBAL_BATCH = 8
STEPS = 3
LR = 1e-3
TOLERANCE = 1e-5
# The untrained encoder's KL is ~0.01, so with weight 1 the hinge moves the
# weights by ~1e-5 in one step; this weight makes its effect ~1e-2.
HINGE_WEIGHT = 1000.

ARMS = ('introvae', 'soft', 'rank_noise', 'rank_bn', 'hinge', 'local_hinge')


# ----------------------------------------------------------------------
# Shared by the workers and the single-process reference.
# ----------------------------------------------------------------------
def _model_cfg(arm: str, margin: float) -> dict:
    from conftest import tiny_model_cfg
    if arm == 'soft':
        return tiny_model_cfg(type='SoftIntroVAE', vae_warmup_iters=1)
    if arm in ('hinge', 'local_hinge'):
        return tiny_model_cfg(
            vae_warmup_iters=0,
            loss_config=dict(
                margin_loss=dict(
                    type='MarginHingeLoss',
                    margin=margin,
                    loss_weight=HINGE_WEIGHT)))
    return tiny_model_cfg(vae_warmup_iters=1)


def _steps(arm: str) -> int:
    return 1 if arm in ('hinge', 'local_hinge') else STEPS


def _build_model(arm: str, margin: float = 1.):
    """The tiny model with BatchNorm, always with the same init."""
    from mmagic.registry import MODELS
    from mmengine.registry import DefaultScope
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(_model_cfg(arm, margin))
    assert any(
        isinstance(m, torch.nn.BatchNorm2d) for m in model.encoder.modules())
    return model


def _sgd(model):
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    return OptimWrapperDict(
        encoder=OptimWrapper(
            torch.optim.SGD(model.encoder.parameters(), lr=LR)),
        decoder=OptimWrapper(
            torch.optim.SGD(model.decoder.parameters(), lr=LR)))


def _global_batch(step: int) -> dict:
    from conftest import make_batch
    return make_batch(GLOBAL_BATCH, seed=step)


def _shard(batch, rank: int):
    """This rank's images of a collated batch, as mmengine's samplers
    shard: indices rank, rank + world_size, ..."""
    if isinstance(batch, dict):
        return {key: _shard(value, rank) for key, value in batch.items()}
    assert len(batch) == GLOBAL_BATCH
    return batch[rank::WORLD_SIZE]


@contextlib.contextmanager
def _control(arm: str):
    """The bugs the controls reintroduce."""
    from mmintrovae.models import utils
    from mmintrovae.models.base_models import vae_inference
    from mmintrovae.models.losses import margin_loss
    patches = []
    if arm == 'rank_noise':

        def per_rank(shape, device=None, dtype=None):
            return torch.randn(tuple(shape), device=device, dtype=dtype)

        patches = [(utils, 'global_batch_randn', per_rank),
                   (vae_inference, 'global_batch_randn', per_rank)]
    elif arm == 'local_hinge':
        patches = [(margin_loss, 'global_mean', lambda v: v.mean())]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def _train(model, arm: str, rank: int = None) -> dict:
    """``_steps(arm)`` train steps; returns the weights and the logs."""
    from mmengine import MessageHub
    module = getattr(model, 'module', model)
    hub = MessageHub.get_instance(f'dist_batch_{arm}_{rank}')
    optim = _sgd(module)
    logs = []
    with _control(arm):
        for step in range(_steps(arm)):
            hub.update_info('iter', step)
            data = _global_batch(step)
            if rank is not None:
                data = _shard(data, rank)
            logs.append({
                k: float(v)
                for k, v in model.train_step(data, optim).items()
            })
    return dict(
        state={
            k: v.detach().clone()
            for k, v in module.state_dict().items()
        },
        logs=logs,
        sync_bn=sum(
            type(m).__name__ == 'SyncBatchNorm2d' for m in module.modules()))


# ----------------------------------------------------------------------
# The worker (this file run by torchrun).
# ----------------------------------------------------------------------
def _worker(plan_path: str, out_path: str) -> None:
    import conftest  # noqa: F401  (mmagic's scope, mmintrovae's modules)

    from mmintrovae.engine.model_wrapper import IntroVAEDistributedWrapper
    torch.set_num_threads(1)
    torch_dist.init_process_group(backend='gloo')
    rank = torch_dist.get_rank()
    assert torch_dist.get_world_size() == WORLD_SIZE
    plan = torch.load(plan_path, weights_only=True)
    results = {}
    for arm in ARMS:
        model = IntroVAEDistributedWrapper(
            _build_model(arm, plan['margin']), sync_bn=arm != 'rank_bn')
        results[arm] = _train(model, arm, rank)
    gathered = [None] * WORLD_SIZE
    torch_dist.all_gather_object(gathered, results)
    if rank == 0:
        torch.save(gathered, out_path)
    torch_dist.barrier()
    torch_dist.destroy_process_group()


# ----------------------------------------------------------------------
# The tests.
# ----------------------------------------------------------------------
def _choose_margin() -> dict:
    """The KL of the first step's fakes, and a margin between their global
    mean and the larger of the two ranks' means."""
    model = _build_model('hinge')  # consumes the RNG as the runs do
    with torch.no_grad():
        z_p = torch.randn(GLOBAL_BATCH, model.latent_dim)  # the step's 1st
        kl_fake = model.kl_per_sample(model.decoder(z_p))
    halves = torch.stack(
        [kl_fake[r::WORLD_SIZE].mean() for r in range(WORLD_SIZE)])
    mean = float(kl_fake.mean())
    return dict(
        margin=(mean + float(halves.max())) / 2,
        mean=mean,
        halves=halves.tolist())


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The 2-rank runs of every arm and the single-process references."""
    if not torch_dist.is_available() or not torch_dist.is_gloo_available():
        pytest.skip('torch.distributed with gloo is not available')
    tmp = tmp_path_factory.mktemp('dist_batch')
    kl = _choose_margin()
    low, high = sorted(kl['halves'])
    assert kl['mean'] < kl['margin'] < high
    assert high - low > 1e-3 * abs(kl['mean']), kl
    plan, out = tmp / 'plan.pth', tmp / 'ranks.pth'
    torch.save(dict(margin=kl['margin']), plan)
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        f'--nproc_per_node={WORLD_SIZE}', '--master_addr=127.0.0.1',
        f'--master_port={free_port()}', __file__,
        str(plan),
        str(out)
    ]
    run_or_fail(
        cmd,
        'the 2-rank runs',
        cwd=tmp,
        env=subprocess_env(
            REPO / 'tests', REPO, unset=['CUDA_VISIBLE_DEVICES']),
        timeout=300)
    ranks = torch.load(out, weights_only=True)
    references = {
        arm: _train(_build_model(arm, kl['margin']), arm)
        for arm in ('introvae', 'soft', 'hinge')
    }
    return dict(ranks=ranks, references=references, kl=kl)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a
               if a[k].is_floating_point())


def _network_state(state: dict) -> dict:
    return {
        k: v
        for k, v in state.items() if k.startswith(('encoder.', 'decoder.'))
    }


@pytest.mark.parametrize('arm', ['introvae', 'soft', 'hinge'])
def test_two_ranks_equal_one_process_on_the_whole_batch(runs, arm):
    rank0, rank1 = (r[arm] for r in runs['ranks'])
    reference = runs['references'][arm]
    # The wrapper converted every BatchNorm; the reference has none.
    assert rank0['sync_bn'] > 0 and reference['sync_bn'] == 0
    assert _max_diff(rank0['state'], rank1['state']) <= TOLERANCE
    diff = _max_diff(rank0['state'], reference['state'])
    assert diff <= TOLERANCE, (
        f'{arm}: 2-rank weights differ from one process on the whole batch '
        f'by {diff:.3g}')
    # The BatchNorm running statistics are the global batch's too.
    assert any('running_var' in k for k in rank0['state'])
    # Training moved the weights far beyond the tolerance.
    initial = _network_state(_build_model(arm).state_dict())
    assert _max_diff(_network_state(reference['state']),
                     initial) > 100 * TOLERANCE
    # The losses of the last step, as one process logged them.
    for key in ('kl_rec_enc', 'kl_fake_enc'):
        assert (rank0['logs'][-1][key] + rank1['logs'][-1][key]) / 2 == (
            pytest.approx(reference['logs'][-1][key], rel=1e-4))
    if arm == 'hinge':
        assert reference['logs'][0]['hinge_fake'] > 0
        assert rank0['logs'][0]['hinge_fake'] == pytest.approx(
            reference['logs'][0]['hinge_fake'], rel=1e-5)


@pytest.mark.parametrize('arm,reference', [('rank_noise', 'introvae'),
                                           ('rank_bn', 'introvae'),
                                           ('local_hinge', 'hinge')])
def test_controls_miss_one_process(runs, arm, reference):
    """Per-rank noise, per-rank BatchNorm and a per-rank hinge are each
    detected by the comparison above."""
    rank0, rank1 = (r[arm] for r in runs['ranks'])
    # Gradients (and buffers) are still averaged: the ranks agree ...
    assert _max_diff(
        _network_state(rank0['state']),
        _network_state(rank1['state'])) <= TOLERANCE
    # ... but not with one process on the whole batch.
    diff = _max_diff(rank0['state'], runs['references'][reference]['state'])
    assert diff > 100 * TOLERANCE, (
        f'{arm} changed the weights by only {diff:.3g}: the comparison '
        'cannot tell it from the correct distributed step')
    if arm == 'local_hinge':
        hinges = sorted(r[arm]['logs'][0]['hinge_fake'] for r in runs['ranks'])
        assert hinges[0] == 0 and hinges[1] > 0, hinges


def test_ranks_draw_distinct_noise(runs):
    """With the product's noise the ranks' samples differ; with per-rank
    ``torch.randn`` (the control) every rank decodes the same z_p, so the
    ranks' KL of their samples is the same number (same synced weights)."""
    for step in (1, 2):  # the introspective steps
        kl = [
            r['introvae']['logs'][step]['kl_fake_enc'] for r in runs['ranks']
        ]
        assert kl[0] != kl[1], kl
        kl = [
            r['rank_noise']['logs'][step]['kl_fake_enc'] for r in runs['ranks']
        ]
        assert kl[0] == kl[1], kl


if __name__ == '__main__':
    _worker(*sys.argv[1:3])
