"""tools/study.py: a smoke run through train.py/test.py/sample.py, and its
table arithmetic on hand-made results."""
import json
import os
import time

import cv2
import pytest
from conftest import load_tool

study = load_tool('study')


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    """The default three arms, 3 iterations (2 warm-up), one seed, on 24
    generated 32x32 images, evaluated on 8 held-out ones."""
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    tmp = tmp_path_factory.mktemp('study')
    make_synthetic_faces(
        str(tmp / 'data'), 24, size=32, seed=3, val_fraction=1 / 3)
    argv = [
        '--seeds', '5', '--iters', '3', '--warmup', '2', '--num-eval', '8',
        '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(tmp / 'study')
    ]
    old = os.environ.get('OMP_NUM_THREADS')
    os.environ['OMP_NUM_THREADS'] = '1'
    try:
        t0 = time.time()
        assert study.main(argv) == 0
        first_s = time.time() - t0
        t0 = time.time()
        assert study.main(argv) == 0  # everything done: only the report
        second_s = time.time() - t0
    finally:
        if old is None:
            del os.environ['OMP_NUM_THREADS']
        else:
            os.environ['OMP_NUM_THREADS'] = old
    return tmp / 'study', first_s, second_s


def test_smoke_run_writes_table_json_and_picture(smoke):
    work, _, _ = smoke
    result = json.loads((work / 'study.json').read_text())
    assert list(result['arms']) == ['introvae', 'soft-introvae', 'vae']
    assert result['baseline'] == 'vae'
    assert result['iters'] == 3 and result['warmup'] == 2
    assert [r['status'] for r in result['runs']] == ['done'] * 3
    for arm in ('introvae', 'soft-introvae'):
        metrics = result['arms'][arm]['metrics']
        assert set(metrics) == {'FID', 'SWD', 'PSNR', 'SSIM'}
        assert metrics['PSNR']['n'] == 1 and metrics['PSNR']['mean'] > 0
        assert result['arms'][arm]['fid_ratio'] == pytest.approx(
            metrics['FID']['mean'] /
            result['arms']['vae']['metrics']['FID']['mean'])
    report = (work / 'study.md').read_text()
    for arm in ('introvae', 'soft-introvae', 'vae'):
        assert f'| {arm} |' in report
    assert 'introvae FID <= 0.7 x vae FID' in report
    picture = cv2.imread(str(work / 'study_samples.png'))
    grid = cv2.imread(str(work / 'vae' / 'seed5' / 'grids' / 'samples.png'))
    assert picture.shape[1] == 3 * grid.shape[1] + 2 * 8
    assert picture.shape[0] == grid.shape[0] + 28


def test_each_run_records_the_config_it_ran(smoke):
    from mmengine.config import Config
    work, _, _ = smoke
    soft = Config.fromfile(str(work / 'soft-introvae' / 'seed5' / 'config.py'))
    assert soft.randomness.seed == 5
    assert soft.train_cfg.max_iters == 3 and soft.model.vae_warmup_iters == 2
    assert soft.model.type == 'SoftIntroVAE'
    assert soft.test_dataloader.dataset.indices == 8
    fid = [m for m in soft.test_evaluator.metrics if m['prefix'] == 'FID']
    assert fid[0]['fake_nums'] == fid[0]['real_nums'] == 8
    vae = Config.fromfile(str(work / 'vae' / 'seed5' / 'config.py'))
    assert vae.model.alpha == 0.
    assert (work / 'introvae' / 'seed5' / 'iter_3.pth').is_file()


def test_finished_runs_are_not_repeated(smoke):
    _, first_s, second_s = smoke
    assert second_s < first_s / 5


def _run(arm, seed, status='done', **metrics):
    return dict(
        arm=arm,
        seed=seed,
        status=status,
        train_s=1,
        work_dir='x',
        metrics=metrics)


def test_summary_ratios_targets_and_guard_stops():
    args = study.parse_args([])
    runs = [
        _run('intro', 0, FID=60., SWD=1., PSNR=20., SSIM=.5),
        _run('intro', 1, FID=80., SWD=1., PSNR=21., SSIM=.5),
        _run('soft', 0, 'guard stop'),
        _run('soft', 1, FID=120., SWD=1., PSNR=19., SSIM=.5),
        _run('vae', 0, FID=100., SWD=2., PSNR=22., SSIM=.6),
        _run('vae', 1, FID=100., SWD=2., PSNR=22., SSIM=.6),
    ]
    summary = study.summarise(runs, ['intro', 'soft', 'vae'], args)
    intro = summary['arms']['intro']
    assert intro['metrics']['FID']['mean'] == 70.
    assert intro['metrics']['FID']['std'] == pytest.approx(14.142, abs=1e-3)
    assert intro['fid_ratio'] == pytest.approx(0.7)
    assert intro['psnr_diff'] == pytest.approx(-1.5)
    assert summary['arms']['soft']['guard_stops'] == 1
    assert summary['arms']['soft']['metrics']['FID']['n'] == 1
    met = {t['what']: t['met'] for t in summary['targets']}
    assert met['intro FID <= 0.7 x vae FID'] is True
    assert met['intro PSNR within 1 dB of vae'] is False
    assert met['soft FID <= 0.7 x vae FID'] is False
    assert met['no run stopped by the stability guard or failed'] is False


@pytest.mark.parametrize('argv, message', [
    (['--arms', 'vae'], 'write NAME=CONFIG'),
    (['--arms', 'a=configs/nope.py', 'b=configs/nope.py'], 'no config file'),
    (['--arms', 'vae=configs/vae_fashion-mnist-32.py'], 'at least two arms'),
    (['--iters', '0'], '--iters 0'),
])
def test_bad_options_are_explained(argv, message, tmp_path, capsys):
    assert study.main(argv + ['--work-dir', str(tmp_path / 'w')]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'w').exists()
