"""The parts of ``tools/benchmark.py``: the plain baseline, the step and
Runner modes, the memory meter and the report."""
