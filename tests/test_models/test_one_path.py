"""One way to do each thing: the reconstruction loss module is the one that
is called, and prior codes come from one sampler (``noise_fn``)."""
import pytest
import torch
import torch.nn as nn
from conftest import TINY_LATENT, make_batch, make_optim_wrappers
from mmagic.models.losses import MSELoss
from mmagic.registry import MODELS


@MODELS.register_module(force=True)
class CountingMSELoss(MSELoss):
    """mmagic's MSELoss that counts its calls and the reductions seen."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def forward(self, pred, target, weight=None, **kwargs):
        self.seen.append(self.reduction)
        return super().forward(pred, target, weight, **kwargs)


@MODELS.register_module(force=True)
class BatchMeanOnlyLoss(nn.Module):
    """A custom loss that ignores ``reduction``: always one number."""

    def __init__(self, reduction: str = 'sum'):
        super().__init__()
        self.reduction = reduction

    def forward(self, pred, target):
        return ((pred - target)**2).mean()


@pytest.mark.parametrize('model_type', ['IntroVAE', 'SoftIntroVAE'])
def test_the_configured_rec_loss_is_the_one_called(build_model, model_type):
    kwargs = dict(type=model_type)
    if model_type == 'SoftIntroVAE':
        kwargs['loss_config'] = {}
    model = build_model(**kwargs)
    model.rec_loss = MODELS.build(
        dict(type='CountingMSELoss', loss_weight=0.5, reduction='sum'))
    x = torch.rand(2, 3, 16, 16)
    y = torch.rand(2, 3, 16, 16)
    errors = model.rec_per_sample(x, y)
    expected = 0.5 * ((x - y)**2).flatten(1).sum(1)
    assert torch.allclose(errors, expected)
    model.train_step(make_batch(4), make_optim_wrappers(model))
    # Called per pixel every time, and its configured reduction is back.
    assert len(model.rec_loss.seen) >= 2
    assert set(model.rec_loss.seen) == {'none'}
    assert model.rec_loss.reduction == 'sum'


def test_a_rec_loss_that_ignores_reduction_is_refused(build_model):
    with pytest.raises(ValueError, match='must return per-pixel errors'):
        build_model(loss_config=dict(rec_loss=dict(type='BatchMeanOnlyLoss')))


def test_noise_fn_with_a_generator_is_reproducible(build_model):
    model = build_model()
    codes = model.noise_fn(
        num_batches=3, generator=torch.Generator().manual_seed(5))
    again = torch.randn(
        3, TINY_LATENT, generator=torch.Generator().manual_seed(5))
    assert torch.equal(codes, again)
    # Without one, the global generator (as the training steps draw).
    torch.manual_seed(7)
    drawn = model.noise_fn(num_batches=3)
    torch.manual_seed(7)
    assert torch.equal(drawn, torch.randn(3, TINY_LATENT))
    torch.manual_seed(7)
    assert torch.equal(model.prior_sample(torch.zeros(3, 3, 16, 16)), drawn)
