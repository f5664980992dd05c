"""SyncBatchNorm2d outside a process group, and the conversion.

Its distributed behaviour (global statistics and gradients over 2 gloo
ranks equal one process on the whole batch) is checked in
tests/test_engine/test_distributed_batch.py and test_distributed.py.
"""
import torch
import torch.nn as nn

from mmintrovae.models import SyncBatchNorm2d, convert_sync_batchnorm


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
        nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4, momentum=None)))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net


def test_conversion_keeps_parameters_buffers_and_outputs():
    plain, synced = _net(), _net()
    weight = synced[1].weight
    convert_sync_batchnorm(synced)
    assert type(synced[1]) is SyncBatchNorm2d
    assert type(synced[2][1]) is SyncBatchNorm2d
    assert synced[2][1].momentum is None
    assert synced[1].weight is weight  # the same Parameter object
    assert plain.state_dict().keys() == synced.state_dict().keys()
    x = torch.randn(6, 3, 8, 8)
    for _ in range(2):  # train mode: batch statistics, running stats move
        assert torch.allclose(plain(x), synced(x), atol=1e-5)
    for key, value in plain.state_dict().items():
        assert torch.allclose(
            value.float(), synced.state_dict()[key].float(), atol=1e-6), key
    plain.eval(), synced.eval()
    assert torch.allclose(plain(x), synced(x), atol=1e-5)


def test_a_batchnorm_module_itself_is_converted():
    bn = nn.BatchNorm2d(3)
    assert type(convert_sync_batchnorm(bn)) is SyncBatchNorm2d
