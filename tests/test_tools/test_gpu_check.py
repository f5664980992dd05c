"""tools/gpu_check.sh and tools/benchmark_sync_bn.py on the CPU.

CI has no GPU: the check's own flow (its report, its steps' time limits,
its derived training config, the 2-process dist_train step) is driven here
with ``GPU_CHECK_DEVICE=cpu`` on a few iterations, and the sync_bn
benchmark runs its two processes on a tiny config.
"""
import json
import subprocess
import sys

from conftest import REPO, TINY_TRAIN_CONFIG, load_tool, subprocess_env

SCRIPT = REPO / 'tools' / 'gpu_check.sh'


def _check(tmp_path, **env) -> subprocess.CompletedProcess:
    full = subprocess_env(REPO / 'tests', REPO)
    full.update(OUT=str(tmp_path), GPU_CHECK_DEVICE='cpu', **env)
    return subprocess.run(['bash', str(SCRIPT)],
                          env=full,
                          capture_output=True,
                          text=True,
                          timeout=600)


def test_missing_environment_names_the_fix(tmp_path):
    proc = _check(tmp_path, PY='/bin/false', GPU_DIR=str(tmp_path / 'none'))
    assert proc.returncode == 1
    report = (tmp_path / 'gpu_check' / 'report.md').read_text()
    assert (f"ERROR: /bin/false does not import mmagic and mmintrovae, and "
            f"{tmp_path / 'none'}/whl is missing: run 'bash tools/"
            "gpu_prepare.sh' (make gpu-prepare) on a machine with the package "
            'registries and carry .gpu to this one.') in report


def test_failed_setup_stops_the_check(tmp_path):
    """A .gpu/whl without wheels: the set-up step fails, says so, and no
    other step runs."""
    (tmp_path / 'gpu' / 'whl').mkdir(parents=True)
    proc = _check(tmp_path, PY='/bin/false', GPU_DIR=str(tmp_path / 'gpu'))
    assert proc.returncode == 1
    report = (tmp_path / 'gpu_check' / 'report.md').read_text()
    assert '- setup: FAILED (rc 1)' in report, report
    assert report.rstrip().endswith('set-up failed: nothing else can run.')
    assert '- train:' not in report


def test_check_trains_tests_and_runs_two_processes(tmp_path):
    """The train, test and dist steps of the check, on the CPU, with the
    check's derived config (the Fashion-MNIST network, 4 and 3 iterations,
    on 32 px synthetic faces)."""
    data = tmp_path / 'data'
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    make_synthetic_faces(
        str(data / 'fashion_mnist'), 40, size=32, seed=0, val_fraction=0.5)
    proc = _check(
        tmp_path,
        GPU_DIR=str(data.parent / 'gpu'),
        GPU_CHECK_ITERS='4',
        GPU_CHECK_STEPS='train dist',
        GPU_CHECK_DIST_ITERS='3',
        GPU_CHECK_NUM_EVAL='16',
        GPU_CHECK_TIME_SCALE='4',
        GPU_CHECK_DATA=str(data / 'fashion_mnist'))
    report = (tmp_path / 'gpu_check' / 'report.md').read_text()
    assert proc.returncode == 0, report + proc.stderr[-3000:]
    for step in ('train: ok', 'test: ok', 'dist: ok'):
        assert f'- {step}' in report, report
    metrics = json.loads((tmp_path / 'gpu_check' / 'metrics.json').read_text())
    assert 'PSNR' in json.dumps(metrics), metrics
    assert (tmp_path / 'gpu_check' / 'dist' / 'iter_3.pth').is_file()


def test_sync_bn_benchmark_prints_both_modes(tmp_path):
    out = tmp_path / 'syncbn.json'
    proc = subprocess.run([
        sys.executable,
        str(REPO / 'tools' / 'benchmark_sync_bn.py'),
        str(TINY_TRAIN_CONFIG), '--nproc', '2', '--iters', '2', '--warmup',
        '1', '--device', 'cpu', '--json',
        str(out)
    ],
                          env=subprocess_env(REPO / 'tests', REPO),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result['world_size'] == 2 and result['backend'] == 'gloo'
    assert set(result['modes']) == {'per-rank BN', 'sync_bn'}
    assert result['sync_over_per_rank'] > 0
    assert '| sync_bn |' in proc.stdout
