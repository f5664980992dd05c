"""The model-level ``image_size``/``channels``/``latent_dim`` of IntroVAE."""
import pytest
import torch
from conftest import base_model_cfg
from mmagic.registry import MODELS

from mmintrovae.models import IntroVAEEncoder

SIZES = dict(image_size=16, channels=(4, 8), latent_dim=6)


def _build(**model):
    torch.manual_seed(0)
    base = base_model_cfg(model.get('type', 'IntroVAE'))
    cfg = dict(
        type='IntroVAE',
        encoder=dict(type='IntroVAEEncoder'),
        decoder=dict(type='IntroVAEDecoder'),
        loss_config=base['loss_config'])
    if 'soft_weights' in base:
        cfg['soft_weights'] = base['soft_weights']
    cfg.update(model)
    return MODELS.build(cfg)


@pytest.mark.parametrize('model_type', ['IntroVAE', 'SoftIntroVAE'])
def test_model_sizes_build_the_same_networks_as_per_network_sizes(model_type):
    once = _build(type=model_type, **SIZES)
    twice = _build(
        type=model_type,
        encoder=dict(type='IntroVAEEncoder', **SIZES),
        decoder=dict(type='IntroVAEDecoder', **SIZES))
    assert once.encoder.image_size == once.decoder.image_size == 16
    assert once.latent_dim == 6
    a, b = once.state_dict(), twice.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_network_dict_keeps_its_own_value():
    model = _build(
        decoder=dict(
            type='IntroVAEDecoder', upsample='bilinear', channels=(8, 16)),
        **SIZES)
    assert model.decoder.upsample == 'bilinear'
    # The decoder's own channels (last stage 16), the model's for the
    # encoder (last stage 8): the linear layers at 4x4 say which.
    assert model.decoder.fc[0].out_features == 16 * 4 * 4
    assert model.encoder.fc.in_features == 8 * 4 * 4


@pytest.mark.parametrize('key,value', [('image_size', 32), ('latent_dim', 7)])
def test_networks_that_disagree_are_named(key, value):
    encoder = dict(type='IntroVAEEncoder', **dict(SIZES, **{key: value}))
    if key == 'image_size':
        encoder['channels'] = (4, 8, 8)
    with pytest.raises(ValueError, match=f'model.{key} once'):
        _build(encoder=encoder, **SIZES)


def test_sizes_with_a_built_network_are_refused():
    with pytest.raises(
            ValueError,
            match=r"model.encoder is an already "
            r'built IntroVAEEncoder'):
        _build(encoder=IntroVAEEncoder(**SIZES), **SIZES)
