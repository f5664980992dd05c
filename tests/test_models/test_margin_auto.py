"""MarginHingeLoss(margin='auto'): measured from the warm-up, then fixed."""
import math

import pytest
import torch
from conftest import make_batch, make_optim_wrappers
from mmagic.registry import MODELS

from mmintrovae.models.losses import MarginHingeLoss


def test_auto_margin_is_factor_times_mean_of_observed_kl():
    hinge = MODELS.build(
        dict(type='MarginHingeLoss', margin='auto', auto_factor=2.0))
    assert hinge.auto and not hinge.calibrated and math.isnan(hinge.margin)
    with pytest.raises(RuntimeError, match='before calibrate'):
        hinge(torch.tensor([1.0]))
    hinge.observe(torch.tensor(10.0))
    hinge.observe(torch.tensor([20.0, 40.0]))  # a batch: its mean, 30
    assert hinge.calibrate() == pytest.approx(2.0 * (10 + 30) / 2)
    assert hinge.calibrated
    # Set once: later observations do not move it.
    hinge.observe(torch.tensor(1000.0))
    assert hinge.calibrate() == pytest.approx(40.0)
    assert hinge(torch.tensor([30.0, 40.0])).item() == pytest.approx(5.0)


def test_auto_margin_without_observations_names_the_fix():
    hinge = MarginHingeLoss(margin='auto')
    with pytest.raises(RuntimeError, match='vae_warmup_iters > 0'):
        hinge.calibrate()


@pytest.mark.parametrize('kwargs, match', [
    (dict(margin='big'), "positive or 'auto'"),
    (dict(margin='auto', auto_factor=0.), 'auto_factor=0.0 must be > 0'),
    (dict(margin='auto', auto_window=0), 'auto_window=0'),
])
def test_bad_auto_margin_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MarginHingeLoss(**kwargs)


def test_margin_and_its_statistics_are_in_the_state_dict():
    hinge = MarginHingeLoss(margin='auto')
    hinge.observe(torch.tensor(8.0))
    hinge.calibrate()
    state = hinge.state_dict()
    assert state['margin_value'].item() == pytest.approx(12.0)
    fresh = MarginHingeLoss(margin='auto')
    fresh.load_state_dict(state)
    assert fresh.calibrated and fresh.margin == pytest.approx(12.0)
    assert fresh.observed_count.item() == 1


def test_old_checkpoints_without_the_buffers_keep_the_config_margin():
    hinge = MarginHingeLoss(margin=70.)
    result = hinge.load_state_dict({}, strict=True)
    assert not result.missing_keys and hinge.margin == 70.


def test_model_rejects_auto_margin_without_warmup(build_model):
    with pytest.raises(ValueError, match='vae_warmup_iters=0'):
        build_model(
            loss_config=dict(
                margin_loss=dict(type='MarginHingeLoss', margin='auto')))


def test_loss_comps_reject_auto_margin():
    with pytest.raises(ValueError, match="margin='auto'"):
        MODELS.build(dict(type='MarginHingeLossComps', margin='auto'))


def test_model_calibrates_at_the_first_introspective_step(build_model):
    from mmengine import MessageHub
    model = build_model(
        vae_warmup_iters=3,
        loss_config=dict(
            margin_loss=dict(
                type='MarginHingeLoss',
                margin='auto',
                auto_factor=1.5,
                auto_window=2)))
    optim = make_optim_wrappers(model)
    hub = MessageHub.get_current_instance()
    kl_real = []
    for it in range(4):
        hub.update_info('iter', it)
        log = model.train_step(make_batch(seed=it), optim)
        kl_real.append(log['kl_real'].item())
        if it < 3:
            assert 'loss_vae' in log and not model.margin_loss.calibrated
    # Iterations 1 and 2 are the last two of the warm-up.
    expected = 1.5 * (kl_real[1] + kl_real[2]) / 2
    assert model.margin_loss.margin == pytest.approx(expected, rel=1e-5)
    assert log['margin'].item() == pytest.approx(expected, rel=1e-5)
    assert 'loss_encoder' in log


def test_uncalibrated_margin_saves_finite_numbers():
    """A model that never calibrates (e.g. the soft objective) must not put
    NaN into its checkpoint: the stability guard refuses NaN weights."""
    hinge = MarginHingeLoss(margin='auto')
    assert all(torch.isfinite(v).all() for v in hinge.state_dict().values())
    assert not hinge.calibrated


@pytest.fixture
def logged(monkeypatch):
    """The messages margin_loss hands to mmengine's print_log."""
    from mmintrovae.models.losses import margin_loss
    messages = []
    monkeypatch.setattr(margin_loss, 'print_log',
                        lambda msg, *args, **kwargs: messages.append(msg))
    return messages


def test_numeric_config_margin_wins_over_the_checkpoints(logged):
    """--resume/load_from after changing margin= trains with the new m, and
    the log says so; the same m loads silently."""
    saved = MarginHingeLoss(margin=120.).state_dict()
    hinge = MarginHingeLoss(margin=200.)
    hinge.load_state_dict(saved)
    assert hinge.margin == 200.
    assert hinge(torch.tensor([150.])).item() == pytest.approx(50.)
    out = ' '.join(logged)
    assert ("the checkpoint has m = 120; the config's margin=200 is used "
            'instead (model.loss_config.margin_loss.margin') in out
    same = MarginHingeLoss(margin=0.1)
    same.load_state_dict(MarginHingeLoss(margin=0.1).state_dict())
    assert len(logged) == 1  # nothing for the same m
    # An uncalibrated 'auto' checkpoint loaded into a numeric config.
    numeric = MarginHingeLoss(margin=50.)
    numeric.load_state_dict(MarginHingeLoss(margin='auto').state_dict())
    assert numeric.margin == 50. and numeric.calibrated
    assert "the checkpoint has an unset 'auto' m" in logged[-1]


def test_auto_margin_keeps_the_checkpoints_measured_margin():
    measured = MarginHingeLoss(margin='auto')
    measured.observe(torch.tensor(8.))
    measured.calibrate()
    resumed = MarginHingeLoss(margin='auto')
    resumed.load_state_dict(measured.state_dict())
    assert resumed.calibrated and resumed.margin == pytest.approx(12.)


@pytest.mark.parametrize('bad', [math.nan, math.inf])
def test_auto_margin_refuses_a_diverged_warmup(bad):
    hinge = MarginHingeLoss(margin='auto')
    hinge.observe(torch.tensor(3.))
    hinge.observe(torch.tensor(bad))
    with pytest.raises(RuntimeError) as err:
        hinge.calibrate()
    message = str(err.value)
    assert (f'the mean KL of real images over the last 2 warm-up iterations '
            f'is {float(bad)} (the plain-VAE warm-up diverged)') in message
    assert 'model.loss_config.margin_loss.margin' in message
    assert not hinge.calibrated
