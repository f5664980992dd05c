"""bn_stats='real': only real images move the encoder's running statistics;
the training step's numbers are those of bn_stats='all'."""
import copy

import pytest
import torch
from conftest import make_batch, make_optim_wrappers, tiny_model_cfg
from mmagic.registry import MODELS
from mmengine import MessageHub

from mmintrovae.models.utils import frozen_running_stats


def _bn_buffers(module):
    return {
        k: v.clone()
        for k, v in module.state_dict().items() if 'running_' in k
    }


@pytest.mark.parametrize('objective', ['introvae', 'soft_introvae'])
def test_running_stats_follow_real_images_only(objective):
    extra = {} if objective == 'introvae' else dict(
        type='SoftIntroVAE', loss_config={})
    torch.manual_seed(0)
    real = MODELS.build(tiny_model_cfg(bn_stats='real', **extra))
    every = MODELS.build(tiny_model_cfg(bn_stats='all', **extra))
    every.load_state_dict(real.state_dict())
    # What one pass over the real batch alone does to the statistics.
    only_real = copy.deepcopy(real.encoder).train()
    batch = make_batch(4, seed=1)
    x = real._real_images(real.data_preprocessor(copy.deepcopy(batch), True))
    only_real(x)
    MessageHub.get_current_instance().update_info('iter', 0)
    logs = {}
    for name, model in (('real', real), ('all', every)):
        torch.manual_seed(5)
        logs[name] = model.train_step(
            copy.deepcopy(batch), make_optim_wrappers(model))
    for key in logs['real']:  # the same training numbers
        torch.testing.assert_close(logs['real'][key], logs['all'][key])
    want = _bn_buffers(only_real)
    got = _bn_buffers(real.encoder)
    for key in want:
        torch.testing.assert_close(got[key], want[key])
    moved = _bn_buffers(every.encoder)
    assert any(not torch.allclose(moved[k], want[k]) for k in want)


def test_frozen_running_stats_restores_momentum():
    bn = torch.nn.BatchNorm2d(3, momentum=0.3)
    before = bn.running_mean.clone()
    with frozen_running_stats(bn):
        out = bn(torch.randn(4, 3, 2, 2) + 5)
    assert torch.equal(bn.running_mean, before)
    assert bn.momentum == 0.3
    assert abs(float(out.mean())) < 1e-5  # still batch statistics
    with pytest.raises(ValueError, match='bn_stats'):
        MODELS.build(tiny_model_cfg(bn_stats='fake'))
