"""Loss modules against hand-computed values."""
import math

import pytest
import torch
from mmagic.registry import MODELS


def test_gaussian_kl_hand_computed():
    loss = MODELS.build(dict(type='GaussianKLLoss'))
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # sample 0: 1/2 (1 + 1 - 0 - 1) + 1/2 (0 + 2 - log 2 - 1); sample 1: 0
    kl0 = 0.5 + 0.5 * (1.0 - math.log(2.0))
    per_sample = loss(mu, logvar, reduction_override='none')
    assert per_sample.tolist() == pytest.approx([kl0, 0.0], abs=1e-6)
    assert loss(mu, logvar).item() == pytest.approx(kl0 / 2, abs=1e-6)
    summed = MODELS.build(
        dict(type='GaussianKLLoss', reduction='sum', loss_weight=2.0))
    assert summed(mu, logvar).item() == pytest.approx(2 * kl0, abs=1e-6)


def test_gaussian_kl_is_zero_at_the_prior_and_float32_under_half():
    loss = MODELS.build(dict(type='GaussianKLLoss'))
    zeros = torch.zeros(3, 5, dtype=torch.bfloat16)
    out = loss(zeros, zeros)
    assert out.dtype == torch.float32 and out.item() == 0.0


def test_margin_hinge_on_batch_mean_and_per_sample():
    energy = torch.tensor([50.0, 150.0])
    batch = MODELS.build(dict(type='MarginHingeLoss', margin=100.))
    assert batch(energy).item() == 0.0  # [100 - mean(50, 150)]^+ = 0
    assert batch(torch.tensor([40.0, 60.0])).item() == pytest.approx(50.0)
    per = MODELS.build(
        dict(type='MarginHingeLoss', margin=100., per_sample=True))
    assert per(energy).item() == pytest.approx(25.0)  # mean(50, 0)
    per_sum = MODELS.build(
        dict(
            type='MarginHingeLoss',
            margin=100.,
            per_sample=True,
            reduction='sum',
            loss_weight=0.5))
    assert per_sum(energy).item() == pytest.approx(25.0)  # 0.5 * (50 + 0)


@pytest.mark.parametrize('margin', [0, -5.0])
def test_margin_must_be_positive(margin):
    with pytest.raises(ValueError, match='margin.*must be positive'):
        MODELS.build(dict(type='MarginHingeLoss', margin=margin))


def test_unknown_reduction_is_named():
    with pytest.raises(ValueError, match="reduction='avg'"):
        MODELS.build(dict(type='GaussianKLLoss', reduction='avg'))


def test_reconstruction_loss_sum_over_pixels_mean_over_batch(build_model):
    model = build_model()  # paper default: MSELoss(0.5, 'sum') / N
    x = torch.zeros(2, 3, 4, 4)
    x_r = torch.ones(2, 3, 4, 4)
    # 1/2 * sum over 48 pixels of 1^2 = 24 per image, averaged over 2 images
    assert model.reconstruction_loss(x_r, x).item() == pytest.approx(24.0)
    mean_model = build_model(
        loss_config=dict(rec_loss=dict(type='L1Loss', reduction='mean')))
    assert mean_model.reconstruction_loss(x_r, x).item() == pytest.approx(1.)
