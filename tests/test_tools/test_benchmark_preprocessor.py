"""Smoke run of tools/benchmark_preprocessor.py (CI runs it like this)."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_preprocessor',
        osp.join(ROOT, 'tools', 'benchmark_preprocessor.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prints_a_row_per_case(capsys):
    _tool().main(['--sizes', '8x4', '16x2', '--repeats', '2'])
    rows = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith('| 8 x 4 |') or line.startswith('| 16 x 2 |')
    ]
    assert len(rows) == 2
    for row in rows:
        ref_ms, fast_ms, ratio = row.strip('|').split('|')[1:4]
        assert float(ref_ms) > 0 and float(fast_ms) > 0
        assert ratio.strip().endswith('x')
