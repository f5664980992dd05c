"""Shared fixtures: tiny IntroVAE models and batches on the CPU."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import mmintrovae  # noqa: F401  (registers the project's modules)

init_default_scope('mmagic')

TINY_SIZE = 16
TINY_CHANNELS = (4, 8)
TINY_LATENT = 6


def tiny_model_cfg(**overrides) -> dict:
    """A 16x16 IntroVAE config with data in [0, 1], for fast CPU tests."""
    cfg = dict(
        type='IntroVAE',
        encoder=dict(
            type='IntroVAEEncoder',
            image_size=TINY_SIZE,
            channels=TINY_CHANNELS,
            latent_dim=TINY_LATENT),
        decoder=dict(
            type='IntroVAEDecoder',
            image_size=TINY_SIZE,
            channels=TINY_CHANNELS,
            latent_dim=TINY_LATENT),
        data_preprocessor=dict(type='DataPreprocessor', mean=0., std=255.),
        loss_config=dict(
            margin_loss=dict(type='MarginHingeLoss', margin=1000.)))
    cfg.update(copy.deepcopy(overrides))
    return cfg


def make_batch(batch_size: int = 4, seed: int = 0, size: int = TINY_SIZE):
    """A collated batch as mmagic's pipeline (PackInputs) produces it."""
    from mmagic.datasets.transforms import PackInputs
    from mmengine.dataset import pseudo_collate
    rng = np.random.default_rng(seed)
    pack = PackInputs()
    items = [
        pack(dict(gt=rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
        for _ in range(batch_size)
    ]
    return pseudo_collate(items)


def make_optim_wrappers(model, lr: float = 1e-3, accumulative_counts=1):
    """An OptimWrapperDict with Adam for the encoder and the decoder."""
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    return OptimWrapperDict(
        encoder=OptimWrapper(
            torch.optim.Adam(model.encoder.parameters(), lr=lr),
            accumulative_counts=accumulative_counts),
        decoder=OptimWrapper(
            torch.optim.Adam(model.decoder.parameters(), lr=lr),
            accumulative_counts=accumulative_counts))


@pytest.fixture(autouse=True)
def mmagic_scope():
    """Every test starts in mmagic's registry scope (a Runner built with
    another default_scope in an earlier test must not leak into this one)."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmagic'):
        yield


@pytest.fixture
def build_model():
    """Builds a tiny IntroVAE from the registry, with config overrides."""
    from mmagic.registry import MODELS

    def _build(**overrides):
        torch.manual_seed(0)
        return MODELS.build(tiny_model_cfg(**overrides))

    return _build
