"""'sum' reductions mean the sum over the global batch on several ranks.

One ``torchrun`` launch (2 processes, gloo, CPU) runs this file as its
worker script. Posteriors ``mu = x + w_mu``, ``logvar = y * w_logvar`` of a
global batch of 8 share two parameter vectors. Each rank computes
``GaussianKLLoss(reduction='sum')`` plus ``MarginHingeLoss(per_sample=True,
reduction='sum')`` on its rows (every second one, as mmengine's samplers
shard), backpropagates, and averages the parameters' gradients over ranks,
as the model does before each optimizer step. Value and averaged gradient
must equal one process's on the whole batch; the control (mmagic's plain
``reduce_loss``, a sum over the rank's rows) gives half the gradient.
"""
import sys

import pytest
import torch
import torch.distributed as torch_dist
from conftest import REPO, free_port, run_or_fail, subprocess_env

WORLD_SIZE = 2
MARGIN = 2.5


def _inputs():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, 5, generator=gen)
    y = 0.3 * torch.randn(8, 5, generator=gen)
    return x, y


def _losses(control: bool = False):
    from mmagic.models.losses.loss_wrapper import reduce_loss

    from mmintrovae.models.losses import (GaussianKLLoss, MarginHingeLoss,
                                          kl_loss, margin_loss)
    kl = GaussianKLLoss(reduction='sum')
    hinge = MarginHingeLoss(margin=MARGIN, per_sample=True, reduction='sum')

    def total(mu, logvar):
        saved = kl_loss.reduce_over_ranks, margin_loss.reduce_over_ranks
        if control:
            kl_loss.reduce_over_ranks = reduce_loss
            margin_loss.reduce_over_ranks = reduce_loss
        try:
            per_sample = kl(mu, logvar, reduction_override='none')
            return kl(mu, logvar) + hinge(per_sample)
        finally:
            kl_loss.reduce_over_ranks, margin_loss.reduce_over_ranks = saved

    return total


def _value_and_grads(x, y, control=False):
    """The loss and the gradients of the shared parameters."""
    w_mu = torch.full((5, ), 0.2, requires_grad=True)
    w_logvar = torch.full((5, ), 1.5, requires_grad=True)
    loss = _losses(control)(x + w_mu, y * w_logvar)
    loss.backward()
    return float(loss), w_mu.grad, w_logvar.grad


def _worker(out_path: str) -> None:
    import conftest  # noqa: F401
    from mmengine.dist import all_reduce_params
    torch_dist.init_process_group(backend='gloo')
    rank = torch_dist.get_rank()
    x, y = _inputs()
    results = {}
    for name in ('global', 'control'):
        value, g_mu, g_logvar = _value_and_grads(
            x[rank::WORLD_SIZE],
            y[rank::WORLD_SIZE],
            control=name == 'control')
        # The model's gradient averaging (reduce_gradients).
        all_reduce_params([g_mu, g_logvar], op='mean')
        results[name] = dict(value=value, mu=g_mu, logvar=g_logvar)
    gathered = [None] * WORLD_SIZE
    torch_dist.all_gather_object(gathered, results)
    if rank == 0:
        torch.save(gathered, out_path)
    torch_dist.destroy_process_group()


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    if not torch_dist.is_available() or not torch_dist.is_gloo_available():
        pytest.skip('torch.distributed with gloo is not available')
    out = tmp_path_factory.mktemp('reduction') / 'ranks.pth'
    run_or_fail([
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        f'--nproc_per_node={WORLD_SIZE}', '--master_addr=127.0.0.1',
        f'--master_port={free_port()}', __file__,
        str(out)
    ],
                'the 2-rank losses',
                env=subprocess_env(REPO / 'tests', REPO),
                timeout=240)
    return torch.load(out, weights_only=True)


def test_sum_over_ranks_equals_one_process(ranks):
    x, y = _inputs()
    value, g_mu, g_logvar = _value_and_grads(x, y)
    # Some samples' hinge is active, some not: the test is not vacuous.
    from mmintrovae.models.losses import gaussian_kl
    kl = gaussian_kl(x + 0.2, y * 1.5)
    assert (kl < MARGIN).any() and (kl > MARGIN).any(), kl
    for result in ranks:
        assert result['global']['value'] == pytest.approx(value, rel=1e-6)
        assert torch.allclose(result['global']['mu'], g_mu, rtol=1e-5)
        assert torch.allclose(result['global']['logvar'], g_logvar, rtol=1e-5)


def test_plain_sum_gives_a_fraction_of_the_gradient(ranks):
    """Control: mmagic's local sum, after averaging, is 1/world_size of the
    single-process gradient."""
    x, y = _inputs()
    _, g_mu, g_logvar = _value_and_grads(x, y)
    control = ranks[0]['control']
    assert torch.allclose(control['mu'] * WORLD_SIZE, g_mu, rtol=1e-5)
    assert torch.allclose(control['logvar'] * WORLD_SIZE, g_logvar, rtol=1e-5)


if __name__ == '__main__':
    _worker(sys.argv[1])
