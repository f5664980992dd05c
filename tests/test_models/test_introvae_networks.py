"""The residual blocks, and the encoder/decoder ``block`` option.

``IntroVAEResBlock`` normalises the sum (BN after the residual add, as
IntroVAE's ``networks.py``); ``SoftIntroVAEResBlock`` normalises the
residual branch only (BN before the add, as ``ResidualBlock`` in
Soft-IntroVAE's ``soft_intro_vae/train_soft_intro_vae.py``).
"""
import copy
from typing import List

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import make_batch, make_optim_wrappers, tiny_model_cfg
from mmagic.registry import MODELS

from mmintrovae.models import IntroVAEDecoder, IntroVAEEncoder, SoftIntroVAE
from mmintrovae.models.introvae.introvae_modules import (IntroVAEResBlock,
                                                         SoftIntroVAEResBlock)

BLOCKS = {'introvae': IntroVAEResBlock, 'soft_introvae': SoftIntroVAEResBlock}
SIZE = 32
CHANNELS = (8, 16, 16)  # 4 * 2**3 = 32; the last level keeps 16 channels
LATENT = 6
CHANNEL_PAIRS = [(8, 8), (8, 16)]


def _randomise_bn(block: nn.Module, seed: int = 0) -> None:
    """Gives every BatchNorm non-trivial affine parameters and statistics,
    so that eval-mode outputs depend on each of them."""
    gen = torch.Generator().manual_seed(seed)
    for bn in (block.bn1, block.bn2):
        c = bn.num_features
        with torch.no_grad():
            bn.weight.copy_(0.5 + torch.rand(c, generator=gen))
            bn.bias.copy_(torch.randn(c, generator=gen))
            bn.running_mean.copy_(torch.randn(c, generator=gen))
            bn.running_var.copy_(0.5 + torch.rand(c, generator=gen))


def _soft_reference(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Soft-IntroVAE's order written out from the block's own layers:
    conv1 -> bn1 -> LeakyReLU(0.2) -> conv2 -> bn2 -> + shortcut(x) ->
    LeakyReLU(0.2)."""
    out = F.leaky_relu(block.bn1(block.conv1(x)), 0.2)
    out = block.bn2(block.conv2(out))
    return F.leaky_relu(out + block.shortcut(x), 0.2)


def _introvae_reference(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """IntroVAE's order: ... conv2 -> + shortcut(x) -> bn2 -> LeakyReLU."""
    out = F.leaky_relu(block.bn1(block.conv1(x)), 0.2)
    out = block.conv2(out) + block.shortcut(x)
    return F.leaky_relu(block.bn2(out), 0.2)


@pytest.mark.parametrize('train', [False, True], ids=['eval', 'train'])
@pytest.mark.parametrize('c_in,c_out', CHANNEL_PAIRS)
def test_soft_block_matches_hand_written_composition(c_in, c_out, train):
    torch.manual_seed(0)
    block = SoftIntroVAEResBlock(c_in, c_out)
    _randomise_bn(block)
    block.train(train)
    x = torch.randn(4, c_in, 6, 6) + 1.5
    # a copy for the reference, so that train-mode BN statistics are
    # updated once in each
    ref_layers = copy.deepcopy(block)
    out = block(x)
    assert torch.allclose(out, _soft_reference(ref_layers, x), atol=1e-6)
    # ... and not IntroVAE's order with the same weights
    assert not torch.allclose(
        out, _introvae_reference(copy.deepcopy(ref_layers), x), atol=1e-3)


@pytest.mark.parametrize('c_in,c_out', CHANNEL_PAIRS)
def test_introvae_block_still_normalises_the_sum(c_in, c_out):
    torch.manual_seed(0)
    block = IntroVAEResBlock(c_in, c_out)
    _randomise_bn(block)
    block.eval()
    x = torch.randn(4, c_in, 6, 6) + 1.5
    assert torch.allclose(block(x), _introvae_reference(block, x), atol=1e-6)


@pytest.mark.parametrize('c_in,c_out', CHANNEL_PAIRS)
def test_only_the_introvae_block_normalises_after_the_add(c_in, c_out):
    """Without the final activation, in train mode with BN's initial affine
    (weight 1, bias 0), the IntroVAE block's output is the BatchNorm of the
    sum: zero mean and unit variance per channel. The soft block adds the
    shortcut after its BatchNorm, so its output keeps the shortcut's mean.
    """
    torch.manual_seed(0)
    x = torch.randn(8, c_in, 6, 6) + 3.0  # a shortcut mean far from 0
    means = {}
    for name, cls in BLOCKS.items():
        block = cls(c_in, c_out).train()
        block.act = nn.Identity()  # keep the pre-activation output
        out = block(x)
        per_channel = out.transpose(0, 1).flatten(1)
        means[name] = per_channel.mean(1)
        if name == 'introvae':
            assert torch.allclose(means[name], torch.zeros(c_out), atol=1e-5)
            assert torch.allclose(
                per_channel.var(1, unbiased=False),
                torch.ones(c_out),
                atol=1e-3)
        else:
            # the normalised branch has zero mean, so the output's mean is
            # the shortcut's
            shortcut_mean = block.shortcut(x).transpose(0, 1).flatten(1)
            assert torch.allclose(
                means[name], shortcut_mean.mean(1), atol=1e-4)
    # ... which is far from BatchNorm's zero (x has mean 3)
    assert means['soft_introvae'].abs().max() > 1.0


@pytest.mark.parametrize('name', list(BLOCKS))
@pytest.mark.parametrize('c_in,c_out', CHANNEL_PAIRS)
def test_block_shapes_and_shortcut(name, c_in, c_out):
    block = BLOCKS[name](c_in, c_out)
    x = torch.randn(2, c_in, 8, 8)
    assert block(x).shape == (2, c_out, 8, 8)
    if c_in == c_out:
        assert isinstance(block.shortcut, nn.Identity)
    else:
        # a bias-free 1x1 conv, and no BatchNorm on the shortcut
        assert isinstance(block.shortcut, nn.Conv2d)
        assert block.shortcut.kernel_size == (1, 1)
        assert block.shortcut.bias is None
    assert [type(m) for m in block.modules()].count(nn.BatchNorm2d) == 2


def test_both_blocks_have_the_same_parameter_names():
    keys = {
        name: list(cls(8, 16).state_dict())
        for name, cls in BLOCKS.items()
    }
    assert keys['introvae'] == keys['soft_introvae']


def _res_blocks(net: nn.Module) -> List[nn.Module]:
    return [
        m for m in net.modules()
        if isinstance(m, (IntroVAEResBlock, SoftIntroVAEResBlock))
    ]


def test_soft_encoder_and_decoder_build_and_run_at_32px():
    torch.manual_seed(0)
    encoder, decoder = (
        MODELS.build(
            dict(
                type=network,
                image_size=SIZE,
                channels=CHANNELS,
                latent_dim=LATENT,
                block='soft_introvae'))
        for network in ('IntroVAEEncoder', 'IntroVAEDecoder'))
    for net in (encoder, decoder):
        assert net.block == 'soft_introvae'
        blocks = _res_blocks(net)
        # encoder: 2 down-sampling levels + 1 at 4x4; decoder: 3 + 1
        assert len(blocks) == (3 if net is encoder else 4)
        assert all(type(b) is SoftIntroVAEResBlock for b in blocks)

    x = torch.rand(2, 3, SIZE, SIZE)
    mu, logvar = encoder(x)
    assert mu.shape == logvar.shape == (2, LATENT)
    y = decoder(mu)
    assert y.shape == (2, 3, SIZE, SIZE)
    (y.square().mean() + logvar.mean()).backward()
    assert all(p.grad is not None for p in encoder.parameters())
    assert all(p.grad is not None for p in decoder.parameters())


def test_soft_introvae_model_builds_and_trains_a_step_at_32px():
    nets = dict(
        image_size=SIZE,
        channels=CHANNELS,
        latent_dim=LATENT,
        block='soft_introvae')
    cfg = tiny_model_cfg(
        type='SoftIntroVAE',
        loss_config={},
        encoder=dict(type='IntroVAEEncoder', **nets),
        decoder=dict(type='IntroVAEDecoder', **nets))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    assert isinstance(model, SoftIntroVAE)
    assert model.encoder.block == model.decoder.block == 'soft_introvae'
    log_vars = model.train_step(
        make_batch(2, size=SIZE), make_optim_wrappers(model))
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values())


def _bn_keys(prefix: str) -> List[str]:
    return [
        f'{prefix}.{k}' for k in ('weight', 'bias', 'running_mean',
                                  'running_var', 'num_batches_tracked')
    ]


def _block_keys(prefix: str, shortcut: bool) -> List[str]:
    keys = [f'{prefix}.shortcut.weight'] if shortcut else []
    return keys + [
        f'{prefix}.conv1.weight', *_bn_keys(f'{prefix}.bn1'),
        f'{prefix}.conv2.weight', *_bn_keys(f'{prefix}.bn2')
    ]


# The state dict keys of the networks before the ``block`` option existed
# (checkpoints saved then must still load): 16 px, channels (4, 8).
OLD_ENCODER_KEYS = [
    'main.0.weight', *_bn_keys('main.1'),
    *_block_keys('main.4', shortcut=True),
    *_block_keys('main.6', shortcut=False), 'fc.weight', 'fc.bias'
]
OLD_DECODER_KEYS = [
    'fc.0.weight', 'fc.0.bias', *_block_keys('main.0', shortcut=False),
    *_block_keys('main.2', shortcut=True),
    *_block_keys('main.4', shortcut=False), 'main.5.weight', 'main.5.bias'
]


@pytest.mark.parametrize(
    'cls,old_keys', [(IntroVAEEncoder, OLD_ENCODER_KEYS),
                     (IntroVAEDecoder, OLD_DECODER_KEYS)],
    ids=['encoder', 'decoder'])
def test_default_block_keeps_state_dict_keys_and_outputs(cls, old_keys):
    torch.manual_seed(0)
    default = cls(16, (4, 8), LATENT)
    torch.manual_seed(0)
    explicit = cls(16, (4, 8), LATENT, block='introvae')
    assert default.block == 'introvae'
    assert list(default.state_dict()) == old_keys
    assert list(explicit.state_dict()) == old_keys
    assert all(type(b) is IntroVAEResBlock for b in _res_blocks(default))
    # an old-style checkpoint loads strictly, and the default forward is
    # that of IntroVAE's block
    explicit.load_state_dict(copy.deepcopy(default.state_dict()), strict=True)
    default.eval()
    explicit.eval()
    if cls is IntroVAEEncoder:
        x = torch.rand(2, 3, 16, 16)
        assert torch.equal(torch.cat(default(x)), torch.cat(explicit(x)))
    else:
        z = torch.randn(2, LATENT)
        assert torch.equal(default(z), explicit(z))
    # the soft networks have the same keys (the same parameters, in a
    # different order of operations)
    soft = cls(16, (4, 8), LATENT, block='soft_introvae')
    assert list(soft.state_dict()) == old_keys


@pytest.mark.parametrize(
    'cls,key', [(IntroVAEEncoder, 'model.encoder.block'),
                (IntroVAEDecoder, 'model.decoder.block')],
    ids=['encoder', 'decoder'])
@pytest.mark.parametrize('value', ['soft-introvae', 'IntroVAE', None, 1])
def test_bad_block_value_raises_value_error(cls, key, value):
    with pytest.raises(ValueError) as info:
        cls(SIZE, CHANNELS, LATENT, block=value)
    message = str(info.value)
    assert f'{key}={value!r}' in message
    assert "'introvae'" in message and "'soft_introvae'" in message


def test_bad_block_in_a_model_config_names_the_config_key():
    cfg = tiny_model_cfg()
    cfg['encoder']['block'] = 'soft'
    with pytest.raises(ValueError, match=r"model\.encoder\.block='soft'"):
        MODELS.build(cfg)


def test_bilinear_upsampling_keeps_the_parameters_and_changes_the_output():
    torch.manual_seed(0)
    nearest = IntroVAEDecoder(SIZE, CHANNELS, LATENT)
    bilinear = IntroVAEDecoder(SIZE, CHANNELS, LATENT, upsample='bilinear')
    assert nearest.upsample == 'nearest'
    ups = [m for m in bilinear.modules() if isinstance(m, nn.Upsample)]
    assert len(ups) == len(CHANNELS)
    assert all(m.mode == 'bilinear' for m in ups)
    # no parameters of its own: a nearest checkpoint loads strictly
    bilinear.load_state_dict(nearest.state_dict(), strict=True)
    nearest.eval()
    bilinear.eval()
    z = torch.randn(2, LATENT)
    out_nearest, out_bilinear = nearest(z), bilinear(z)
    assert out_bilinear.shape == out_nearest.shape == (2, 3, SIZE, SIZE)
    assert not torch.allclose(out_bilinear, out_nearest)


@pytest.mark.parametrize('value', ['bicubic', 'Nearest', None])
def test_bad_upsample_value_names_the_config_key(value):
    with pytest.raises(
            ValueError, match=rf"model\.decoder\.upsample={value!r}"):
        IntroVAEDecoder(SIZE, CHANNELS, LATENT, upsample=value)
