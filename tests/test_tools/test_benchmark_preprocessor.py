"""Smoke run of tools/benchmark_preprocessor.py (CI runs it like this)."""
from conftest import load_tool


def test_prints_a_row_per_case(capsys):
    tool = load_tool('benchmark_preprocessor')
    tool.main(['--sizes', '8x4', '16x2', '--repeats', '2'])
    rows = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith('| 8 x 4 |') or line.startswith('| 16 x 2 |')
    ]
    assert len(rows) == 2
    for row in rows:
        ref_ms, fast_ms, ratio = row.strip('|').split('|')[1:4]
        assert float(ref_ms) > 0 and float(fast_ms) > 0
        assert ratio.strip().endswith('x')
