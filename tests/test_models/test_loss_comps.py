"""Loss components in mmagic's loss_comps style, and the GAN example."""
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmagic.registry import MODELS

from mmintrovae.models.losses import MarginHingeLossComps

CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'dcgan-margin-hinge_demo-64.py')

# sample 0: 1/2 (1 + 1 - 0 - 1) + 1/2 (0 + 2 - log 2 - 1); sample 1: 0
MU = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
LOGVAR = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
KL0 = 0.5 + 0.5 * (1.0 - math.log(2.0))


@pytest.fixture(autouse=True)
def mmagic_scope():
    """Builds by short names in mmagic's scope, whatever ran before."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmagic'):
        yield


def test_margin_hinge_comps_direct_args():
    energy = torch.tensor([0.5, 3.0])
    batch = MODELS.build(dict(type='MarginHingeLossComps', margin=2.0))
    assert isinstance(batch, MarginHingeLossComps)
    assert batch.loss_name() == 'loss_margin_hinge'
    assert batch(energy).item() == pytest.approx(0.25)  # [2 - 1.75]^+
    assert batch(energy=torch.tensor([5.0])).item() == 0.0
    per = MODELS.build(
        dict(
            type='MarginHingeLossComps',
            margin=2.0,
            per_sample=True,
            loss_weight=2.0))
    assert per(energy).item() == pytest.approx(1.5)  # 2 * mean(1.5, 0)
    per_sum = MODELS.build(
        dict(
            type='MarginHingeLossComps',
            margin=2.0,
            per_sample=True,
            reduction='sum'))
    assert per_sum(energy).item() == pytest.approx(1.5)  # 1.5 + 0


def test_margin_hinge_comps_with_data_info():
    comp = MODELS.build(
        dict(
            type='MarginHingeLossComps',
            margin=2.0,
            per_sample=True,
            data_info=dict(energy='disc_pred_fake')))
    # a discriminator's output has shape (N, 1)
    pred = torch.tensor([[0.5], [3.0]], requires_grad=True)
    outputs = dict(disc_pred_fake=pred, disc_pred_real=-pred)
    loss = comp(outputs)
    assert loss.item() == pytest.approx(0.75)  # mean(1.5, 0)
    assert comp(outputs_dict=outputs).item() == pytest.approx(0.75)
    loss.backward()  # only the sample below the margin gets a gradient
    assert pred.grad.flatten().tolist() == pytest.approx([-0.5, 0.0])


def test_comps_reuse_the_plain_modules():
    energy = torch.randn(5) * 3
    comp = MarginHingeLossComps(margin=1.0, per_sample=True)
    plain = MODELS.build(
        dict(type='MarginHingeLoss', margin=1.0, per_sample=True))
    assert comp(energy).item() == pytest.approx(plain(energy).item())


def test_comps_check_their_config():
    with pytest.raises(ValueError, match='must start with "loss_"'):
        MarginHingeLossComps(margin=1.0, loss_name='margin_hinge')
    with pytest.raises(ValueError, match='margin.*must be positive'):
        MarginHingeLossComps(margin=0.)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['pred'\]"):
        MarginHingeLossComps(margin=1.0, data_info=dict(pred='x'))
    comp = MarginHingeLossComps(margin=1.0, data_info=dict(energy='kl'))
    with pytest.raises(KeyError, match="'kl'.*not among"):
        comp(dict(mu=MU))
    with pytest.raises(NotImplementedError, match='outputs dict'):
        comp(MU, LOGVAR)


def _write_images(folder, num: int = 16, size: int = 64) -> None:
    """Writes ``num`` random RGB PNGs into ``folder``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(num):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        assert cv2.imwrite(str(folder / f'{i:03d}.png'), img)


def test_dcgan_example_trains_with_the_margin_hinge(tmp_path):
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    _write_images(tmp_path / 'train')
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = str(tmp_path)
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg.max_iters = 3
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 100
    runner = Runner.from_cfg(cfg)

    class Snapshot(Hook):
        """Copies the discriminator once the Runner has initialised it."""

        def before_train(self, runner) -> None:
            self.state = {
                k: v.detach().clone()
                for k, v in runner.model.discriminator.state_dict().items()
            }

    snapshot = Snapshot()
    runner.register_hook(snapshot)
    runner.train()

    hub = runner.message_hub
    hinge = hub.get_scalar('train/loss_margin_hinge').current()
    assert math.isfinite(hinge) and hinge >= 0
    # the hinge is one of the terms of the discriminator's total loss
    total = hub.get_scalar('train/loss').current()
    terms = sum(
        hub.get_scalar(f'train/{k}').current()
        for k in ('loss_disc_fake', 'loss_disc_real', 'loss_margin_hinge'))
    assert total == pytest.approx(terms, rel=1e-5)
    assert math.isfinite(hub.get_scalar('train/loss_disc_fake_g').current())

    weights = runner.model.discriminator.state_dict()
    changed = [
        k for k, v in snapshot.state.items()
        if v.is_floating_point() and not torch.equal(v, weights[k])
    ]
    assert any('conv' in k and k.endswith('weight') for k in changed)
