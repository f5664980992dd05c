"""Tests of tools/benchmark.py: its plain baseline and a CPU smoke run."""
import copy
import json
import math
import os
import os.path as osp
import sys

import pytest
import torch
from conftest import (TINY_SIZE, load_tool, make_batch, run_or_fail,
                      tiny_model_cfg)
from mmagic.registry import MODELS
from mmengine import MessageHub
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

tool = load_tool('benchmark')  # and tools/ on sys.path, for benchmarking
from benchmarking.plain_loop import PlainLoop  # noqa: E402
from benchmarking.runner_mode import _runner_hooks  # noqa: E402
from benchmarking.step_modes import VARIANTS, variant_cfg  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'benchmark.py')
DEMO = osp.join(ROOT, 'configs', 'introvae_demo-64.py')


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest, and steadiest on a busy machine, on one
    thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _optim_cfg(lr: float = 1e-3) -> Config:
    wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=lr, betas=(0.5, 0.999)))
    return Config(
        dict(
            optim_wrapper=dict(
                constructor='MultiOptimWrapperConstructor',
                encoder=wrapper,
                decoder=copy.deepcopy(wrapper))))


@pytest.mark.parametrize('overrides', [
    dict(),
    dict(
        authors_weights=dict(weight_rec=0.05, weight_kl=1.0, weight_neg=0.5),
        loss_config=dict(
            margin_loss=dict(
                type='MarginHingeLoss', margin=1000., per_sample=True),
            rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum'))),
    dict(
        alpha=0.5,
        beta=2.0,
        loss_config=dict(
            kl_loss=dict(type='GaussianKLLoss', loss_weight=0.5),
            margin_loss=dict(type='MarginHingeLoss', margin=1000.),
            rec_loss=dict(type='MSELoss', reduction='mean'))),
])
def test_plain_loop_computes_what_the_product_does(overrides):
    """Same weights and draws: the plain baseline and train_step agree, so
    the benchmark compares the same math."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(**overrides))
    cfg = _optim_cfg()
    batch = make_batch()
    plain = PlainLoop(model, cfg, torch.device('cpu'))
    x = tool.real_images(model, batch)
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    MessageHub.get_current_instance().update_info('iter', 0)
    for it in range(3):
        torch.manual_seed(it)
        ours = plain.step(x)
        torch.manual_seed(it)
        theirs = model.train_step(batch, optim)
        for key in ('loss_encoder', 'loss_decoder'):
            torch.testing.assert_close(
                ours[key], theirs[key], rtol=1e-5, atol=1e-5)
    for net in ('encoder', 'decoder'):
        for a, b in zip(
                getattr(plain, net).parameters(),
                getattr(model, net).parameters()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_plain_loop_refuses_other_losses():
    model = MODELS.build(
        tiny_model_cfg(loss_config=dict(rec_loss=dict(type='L1Loss'))))
    with pytest.raises(ValueError, match='rec_loss of type MSELoss'):
        PlainLoop(model, _optim_cfg(), torch.device('cpu'))


def test_runner_hooks_drop_pictures_and_saving():
    cfg = Config.fromfile(DEMO)
    default_hooks, custom_hooks = _runner_hooks(cfg)
    assert default_hooks['checkpoint']['interval'] >= 10**9
    assert default_hooks['checkpoint']['save_last'] is False
    assert default_hooks['logger']['interval'] == 50  # as the config
    types = [h['type'] for h in custom_hooks]
    assert types == ['IntroVAEStabilityGuardHook']


def _positive(value) -> bool:
    return isinstance(value,
                      (int, float)) and math.isfinite(value) and value > 0


def test_cli_smoke_run_on_the_demo_config(tmp_path):
    """A tiny CPU run: table, ratios, data line and JSON (no timings)."""
    out = tmp_path / 'bench.json'
    # One thread: on a busy 2-core machine two OpenMP threads can make a
    # step ten times slower.
    # In tmp_path the demo's data folder does not exist: --data generates.
    proc = run_or_fail([
        sys.executable, TOOL, DEMO, '--iters', '2', '--warmup', '1',
        '--batch-size', '4', '--device', 'cpu', '--data', '--data-samples',
        '8', '--json', out
    ],
                       'benchmark',
                       cwd=tmp_path,
                       env=dict(os.environ, OMP_NUM_THREADS='1'))
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith('mode'))
    for column in ('ms/iter', 'min ms', 'images/s', 'peak MiB', 'TFLOP/s',
                   'time/plain', 'speed-up', 'mem/plain'):
        assert column in header
    for mode in ('plain', 'product', 'runner'):
        row = next(line for line in lines if line.startswith(mode + ' '))
        assert len(row.split()) == 9
    assert any(line.startswith('product/plain:') for line in lines)
    assert any(line.startswith('runner/plain:') for line in lines)
    assert 'generated 64x64' in proc.stdout

    report = json.loads(out.read_text())
    assert report['batch_size'] == 4 and report['image_size'] == 64
    assert _positive(report['flops_per_iter'])
    for mode in ('plain', 'product', 'runner'):
        numbers = report['modes'][mode]
        for key in ('ms_per_iter', 'ms_per_iter_min', 'images_per_s',
                    'tflops'):
            assert _positive(numbers[key]), (mode, key, numbers[key])
        assert math.isfinite(numbers['peak_mem_mib'])
        assert len(numbers['ms_per_iter_all']) == 2
    assert set(report['ratios']) == {'product/plain', 'runner/plain'}
    assert all(_positive(v) for v in report['ratios'].values())
    assert _positive(report['data']['images_per_s_per_worker'])
    assert report['data']['workers_needed'] >= 1


def test_variant_configs_set_each_switch():
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO)
    fp32 = variant_cfg(cfg, VARIANTS['fp32'])
    assert fp32.model.get('compile') is None
    assert fp32.optim_wrapper.encoder.get('type', 'OptimWrapper') == \
        'OptimWrapper'
    # A GPU config's fast-path defaults are undone for the fp32 baseline.
    gpu = variant_cfg(
        Config.fromfile(osp.join(ROOT, 'configs', 'introvae_celeba-256.py')),
        VARIANTS['fp32'])
    assert not gpu.model.channels_last
    for name in ('encoder', 'decoder'):
        assert gpu.optim_wrapper[name].type == 'OptimWrapper'
        assert gpu.optim_wrapper[name].optimizer.fused is False
        assert 'device_types' not in gpu.optim_wrapper[name]
    every = variant_cfg(cfg, VARIANTS['all'])
    assert every.model.channels_last and every.model.compile
    for name in ('encoder', 'decoder'):
        assert every.optim_wrapper[name].type == 'BF16OptimWrapper'
        assert every.optim_wrapper[name].optimizer.fused is True
    assert cfg.model.get('channels_last') is None  # the input is untouched


def test_cli_variants_smoke_run(tmp_path):
    """--variants: a row per switch with its speed-up over plain (CI)."""
    out = tmp_path / 'variants.json'
    proc = run_or_fail([
        sys.executable, TOOL, DEMO, '--variants', '--iters', '1', '--warmup',
        '1', '--batch-size', '2', '--device', 'cpu', '--json', out
    ],
                       'benchmark --variants',
                       cwd=tmp_path,
                       env=dict(os.environ, OMP_NUM_THREADS='1'),
                       timeout=900)
    report = json.loads(out.read_text())
    names = [
        'plain', 'fp32', '+bf16', '+channels_last', '+fused_adam', '+compile',
        'all'
    ]
    assert list(report['modes']) == names
    for name in names[1:]:
        assert _positive(report['ratios'][f'{name}/plain']), name
        row = next(line for line in proc.stdout.splitlines()
                   if line.startswith(name + ' '))
        assert len(row.split()) == 9


def test_soft_objective_variants_are_timed_against_fp32():
    """plain reproduces IntroVAE only: for Soft-IntroVAE --variants drops
    its row and takes the ratios to fp32; the other modes refuse it."""
    soft = MODELS.build(tiny_model_cfg(type='SoftIntroVAE', loss_config={}))
    with pytest.raises(ValueError, match="type=IntroVAE only"):
        PlainLoop(soft, _optim_cfg(), torch.device('cpu'))
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'soft-introvae_fashion-mnist-32.py'))
    bench = tool.Bench(cfg, soft, tool.make_samples(2, TINY_SIZE),
                       torch.device('cpu'), 0, 1)
    args = tool.parse_args([DEMO, '--variants'])
    report = dict(notes=[])
    assert not tool.plain_reproduces(bench)
    assert tool.reference_mode(args, bench, report, False) == 'fp32'
    assert args.modes == list(tool.VARIANTS)
    assert 'ratios are to fp32' in report['notes'][0]
    timed = {
        name: dict(ms_per_iter_all=[t, 2 * t])
        for name, t in (('fp32', 10.), ('+compile', 5.))
    }
    assert tool.ratios(timed, 'fp32') == {'+compile/fp32': 0.5}
    # Without --variants plain stays the reference (and refuses to run).
    args = tool.parse_args([DEMO])
    assert tool.reference_mode(args, bench, report, False) == 'plain'
