"""The margin hinge of a 2-rank step is decided on the global batch mean.

``MarginHingeLoss(per_sample=False)`` computes ``[m - mean(E)]^+`` with
``global_mean``: the mean over the batches of all ranks, with the gradient
through each rank's local mean. So one distributed step must be exactly
the authors' single process on the whole batch. This module checks it:

* one ``torchrun`` launch (2 processes, gloo, CPU) runs this file as its
  worker script (``__main__`` below). Each rank builds the same tiny 16x16
  IntroVAE (fixed seed, every ``BatchNorm2d`` replaced by ``nn.Identity``
  so that no batch statistic depends on the split), wraps it in
  ``IntroVAEDistributedWrapper`` (the configs' ``model_wrapper_cfg``; the
  model averages its gradients over ranks), and runs one introspective
  ``train_step`` (``vae_warmup_iters=0``, SGD, a fixed numeric margin) on
  its half (4 images) of a global batch of 8;
* ``torch.randn`` / ``torch.randn_like`` are patched in every run so that
  their k-th call returns the k-th of a few fixed global noise tensors (8
  rows): rank r gets rows ``4r:4r+4`` and the single-process run all 8, so
  the computation is the same apart from the split;
* the margin lies between the global mean KL of the fakes
  ``Enc(Dec(z_p))`` and the larger of the two ranks' half means (measured
  with a forward pass of the initial model): the global hinge is active,
  while a hinge on each rank's local mean would be inactive on one rank
  and active on the other. That is what lets the comparison fail;
* the parameters of both ranks are gathered, and must equal each other and
  a single-process ``train_step`` on the whole batch (same init, same
  noise) within 1e-5;
* control, in the same launch: with ``global_mean`` replaced by the local
  mean (the bug this guards against) the 2-rank parameters must differ
  from the reference by much more than the tolerance.

SGD is used because its step is proportional to the gradient (Adam's first
step is ``lr * sign(grad)`` and would hide most differences), and the
hinge has weight ``HINGE_WEIGHT`` so that its effect is measurable after one
step. Measured: 1.5e-8 between the 2-rank and the single-process weights,
1.1e-2 with the per-rank hinge (about 25 s on 2 busy CPU cores).
"""
import contextlib
import sys

import pytest
import torch
import torch.distributed as torch_dist
import torch.nn as nn
from conftest import REPO, free_port, run_or_fail, subprocess_env

WORLD_SIZE = 2
GLOBAL_BATCH = 8
LATENT_DIM = 6  # conftest.TINY_LATENT
NOISE_DRAWS = 2  # z_p, then the reparameterisation noise of z
LR = 1e-3
# The untrained encoder's KL is ~0.01, so the hinge's gradient is tiny next
# to L_AE's (~100): with weight 1 a per-rank hinge changes the weights by
# only ~1e-5 after one step. This weight makes it ~1e-2, far above the
# tolerance, without changing what the hinge decides.
HINGE_WEIGHT = 1000.
TOLERANCE = 1e-5


# ----------------------------------------------------------------------
# Shared by the workers and the single-process reference.
# ----------------------------------------------------------------------
def _drop_batchnorm(module: nn.Module) -> None:
    """Replaces every BatchNorm2d by an identity, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.Identity())
        else:
            _drop_batchnorm(child)


def _build_model(margin: float):
    """The tiny IntroVAE without BatchNorm, always with the same init."""
    from conftest import tiny_model_cfg
    from mmagic.registry import MODELS
    from mmengine.registry import DefaultScope
    cfg = tiny_model_cfg(
        vae_warmup_iters=0,
        loss_config=dict(
            margin_loss=dict(
                type='MarginHingeLoss',
                margin=margin,
                loss_weight=HINGE_WEIGHT)))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg)
    _drop_batchnorm(model)
    assert not any(
        isinstance(m, nn.modules.batchnorm._BatchNorm)
        for m in model.modules())
    return model


def _sgd(model):
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    return OptimWrapperDict(
        encoder=OptimWrapper(
            torch.optim.SGD(model.encoder.parameters(), lr=LR)),
        decoder=OptimWrapper(
            torch.optim.SGD(model.decoder.parameters(), lr=LR)))


def _global_batch() -> dict:
    from conftest import make_batch
    return make_batch(GLOBAL_BATCH, seed=0)


def _global_noise() -> list:
    gen = torch.Generator().manual_seed(1)
    return [
        torch.randn(GLOBAL_BATCH, LATENT_DIM, generator=gen)
        for _ in range(NOISE_DRAWS)
    ]


def _shard(batch, rank: int):
    """This rank's images of a collated batch (lists of samples; PackInputs
    leaves ``inputs`` an empty dict)."""
    if isinstance(batch, dict):
        return {key: _shard(value, rank) for key, value in batch.items()}
    assert len(batch) == GLOBAL_BATCH
    size = GLOBAL_BATCH // WORLD_SIZE
    return batch[rank * size:(rank + 1) * size]


class NoiseFeed:
    """Replaces torch.randn/randn_like by slices of global noise tensors.

    The k-th call returns rows ``rank * n:(rank + 1) * n`` of the k-th
    global tensor, where n is the requested batch size; with
    ``world_size=1`` the whole tensor.
    """

    def __init__(self, draws: list, rank: int = 0, world_size: int = 1):
        self.draws = draws
        self.rank = rank
        self.world_size = world_size
        self.used = 0

    def _next(self, shape, dtype, device) -> torch.Tensor:
        shape = tuple(shape)
        assert self.used < len(self.draws), 'more noise draws than expected'
        full = self.draws[self.used]
        self.used += 1
        size = shape[0]
        assert full.shape == (size * self.world_size, ) + shape[1:], (
            f'noise draw {self.used}: asked for {shape}, the global tensor '
            f'is {tuple(full.shape)}')
        part = full[self.rank * size:(self.rank + 1) * size]
        return part.to(dtype=dtype or torch.float32, device=device).clone()

    def randn(self, *size, dtype=None, device=None, **kwargs):
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            size = size[0]
        return self._next(size, dtype, device)

    def randn_like(self, ref, dtype=None, device=None, **kwargs):
        return self._next(ref.shape, dtype or ref.dtype, device or ref.device)

    @contextlib.contextmanager
    def patch(self):
        saved = torch.randn, torch.randn_like
        torch.randn, torch.randn_like = self.randn, self.randn_like
        try:
            yield self
        finally:
            torch.randn, torch.randn_like = saved


@contextlib.contextmanager
def _local_hinge():
    """The bug guarded against: the hinge on each rank's local mean."""
    from mmintrovae.models.losses import margin_loss
    saved = margin_loss.global_mean
    margin_loss.global_mean = lambda values: values.mean()
    try:
        yield
    finally:
        margin_loss.global_mean = saved


def _train_step(model, data: dict, feed: NoiseFeed) -> dict:
    """One train_step (model or wrapper) with the fed noise; returns the
    weights and the logged values."""
    module = getattr(model, 'module', model)
    with feed.patch():
        log_vars = model.train_step(data, _sgd(module))
    assert feed.used == NOISE_DRAWS, feed.used
    return dict(
        state={
            k: v.detach().clone()
            for k, v in module.state_dict().items()
        },
        log={
            k: float(v)
            for k, v in log_vars.items()
        })


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
    data = _shard(_global_batch(), rank)
    results = {}
    for name, context in (('global', contextlib.nullcontext), ('local',
                                                               _local_hinge)):
        model = IntroVAEDistributedWrapper(_build_model(plan['margin']))
        feed = NoiseFeed(plan['noise'], rank, WORLD_SIZE)
        with context():
            results[name] = _train_step(model, data, feed)
    gathered = [None] * WORLD_SIZE
    torch_dist.all_gather_object(gathered, results)
    if rank == 0:
        torch.save(gathered, out_path)
    torch_dist.barrier()
    torch_dist.destroy_process_group()


# ----------------------------------------------------------------------
# The test.
# ----------------------------------------------------------------------
def _choose_margin(noise: list) -> dict:
    """The KL of the fakes of the initial model, and a margin between the
    global mean and the larger half mean."""
    model = _build_model(margin=1.)
    with torch.no_grad():
        data = model.data_preprocessor(_global_batch(), True)
        x = model._real_images(data)
        kl_fake = model.kl_per_sample(model.decoder(noise[0]))
        mu, logvar = model.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * noise[1]
        kl_rec = model.kl_per_sample(model.decoder(z))
    halves = kl_fake.view(WORLD_SIZE, -1).mean(1)
    mean = float(kl_fake.mean())
    margin = (mean + float(halves.max())) / 2
    return dict(
        margin=margin,
        fake_mean=mean,
        fake_halves=halves.tolist(),
        rec_mean=float(kl_rec.mean()))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The 2-rank runs (global and local hinge) and the reference."""
    if not torch_dist.is_available() or not torch_dist.is_gloo_available():
        pytest.skip('torch.distributed with gloo is not available')
    tmp = tmp_path_factory.mktemp('dist_hinge')
    noise = _global_noise()
    kl = _choose_margin(noise)
    low, high = sorted(kl['fake_halves'])
    # The split separates the halves well, so a per-rank hinge is active on
    # one rank and inactive on the other, by a clear gap.
    assert kl['fake_mean'] < kl['margin'] < high
    assert high - low > 1e-3 * abs(kl['fake_mean']), kl
    # The rec hinge is not decided by rounding either.
    assert abs(kl['margin'] - kl['rec_mean']) > 1e-3 * kl['margin'], kl
    plan = tmp / 'plan.pth'
    out = tmp / 'ranks.pth'
    torch.save(dict(margin=kl['margin'], noise=noise), plan)
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        f'--nproc_per_node={WORLD_SIZE}', '--master_addr=127.0.0.1',
        f'--master_port={free_port()}', __file__,
        str(plan),
        str(out)
    ]
    run_or_fail(
        cmd,
        'the 2-rank run',
        cwd=tmp,
        env=subprocess_env(
            REPO / 'tests', REPO, unset=['CUDA_VISIBLE_DEVICES']),
        timeout=240)
    ranks = torch.load(out, weights_only=True)
    reference = _train_step(
        _build_model(kl['margin']), _global_batch(), NoiseFeed(noise))
    return dict(ranks=ranks, reference=reference, kl=kl)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a
               if a[k].is_floating_point())


def _network_state(state: dict) -> dict:
    return {
        k: v
        for k, v in state.items() if k.startswith(('encoder.', 'decoder.'))
    }


def test_two_ranks_equal_single_process(runs):
    rank0, rank1 = (r['global'] for r in runs['ranks'])
    reference = runs['reference']
    # The global hinge is active, on both ranks as in one process.
    assert reference['log']['hinge_fake'] > 0
    for rank in (rank0, rank1):
        assert rank['log']['hinge_fake'] == pytest.approx(
            reference['log']['hinge_fake'], rel=1e-5)
    assert _max_diff(rank0['state'], rank1['state']) <= TOLERANCE
    diff = _max_diff(rank0['state'], reference['state'])
    assert diff <= TOLERANCE, (
        f'2-rank weights differ from the single-process step by {diff:.3g}')
    # The step moved the weights far beyond the tolerance.
    initial = _network_state(_build_model(runs['kl']['margin']).state_dict())
    moved = _max_diff(_network_state(reference['state']), initial)
    assert moved > 100 * TOLERANCE


def test_local_hinge_differs_from_single_process(runs):
    """Control: the hinge on each rank's local mean is detected."""
    rank0, rank1 = (r['local'] for r in runs['ranks'])
    # Inactive on one rank, active on the other.
    hinges = sorted([rank0['log']['hinge_fake'], rank1['log']['hinge_fake']])
    assert hinges[0] == 0 and hinges[1] > 0, hinges
    # Gradients are still averaged, so the ranks agree with each other ...
    assert _max_diff(rank0['state'], rank1['state']) <= TOLERANCE
    # ... but not with the single-process step.
    diff = _max_diff(rank0['state'], runs['reference']['state'])
    assert diff > 100 * TOLERANCE, (
        f'a per-rank hinge changed the weights by only {diff:.3g}: the test '
        'cannot tell it from the global hinge')


if __name__ == '__main__':
    _worker(*sys.argv[1:3])
