# The front door: set-up, the demo, tests, lint, benchmarks.
PY ?= .venv/bin/python
CONFIG ?= configs/introvae_demo-64.py
WORK_DIR ?= work_dirs/introvae_demo-64

.PHONY: setup demo data train evaluate test test-fast lint format benchmark clean

setup:  ## Create .venv with torch, mmcv (built once), mmengine, mmagic, the project
	bash tools/setup_env.sh

data: setup  ## Generate the demo data set (deterministic synthetic faces)
	$(PY) tools/make_demo_data.py --out data/synthetic_faces

demo: data  ## Set up, train the demo config, evaluate it, write grids and metrics
	$(PY) tools/train.py $(CONFIG) --work-dir $(WORK_DIR)
	$(PY) tools/test.py $(CONFIG) $$(cat $(WORK_DIR)/last_checkpoint) --work-dir $(WORK_DIR) --out $(WORK_DIR)/metrics.json
	$(PY) tools/sample.py $(CONFIG) $$(cat $(WORK_DIR)/last_checkpoint) --out-dir $(WORK_DIR)/grids

test: setup  ## Set up, then run the whole test suite
	$(PY) -m pytest tests -q

test-fast:  ## The test suite in an existing environment
	$(PY) -m pytest tests -q -x

lint:  ## flake8, isort, yapf and docstring coverage (interrogate) as mmagic (setup.cfg)
	$(PY) -m flake8 mmintrovae tools tests configs
	$(PY) -m isort --check-only --diff mmintrovae tools tests
	$(PY) -m yapf --diff --recursive mmintrovae tools tests
	$(PY) -m interrogate mmintrovae

format:  ## Apply isort and yapf
	$(PY) -m isort mmintrovae tools tests
	$(PY) -m yapf --in-place --recursive mmintrovae tools tests

benchmark:  ## Time the training step (see README "Speed")
	$(PY) tools/benchmark.py $(CONFIG)

clean:
	rm -rf work_dirs .pytest_cache
