# The front door: set-up, the demo, tests, lint, benchmarks.
PY ?= .venv/bin/python
CONFIG ?= configs/introvae_fashion-mnist-32.py
WORK_DIR ?= work_dirs/introvae_fashion-mnist-32
STUDY_ARGS ?=
APP_CKPT ?=
APP_ARGS ?=
# 1: build mmcv's compiled C++ ops (~15 min on 2 cores, once); 0: mmcv-lite + a stand-in.
MMCV_OPS ?= 0
# The order of `make test` (pytest-randomly's seed); a new one each run.
ifndef TEST_SEED
TEST_SEED := $(shell date +%s)
endif

.PHONY: setup demo demo-run data data-faces demo-faces study app test test-fast lint format benchmark gpu-prepare gpu-check clean

setup:  ## Create .venv with torch, mmcv (no compiled ops unless MMCV_OPS=1), mmengine, mmagic, the project
	MMCV_OPS=$(MMCV_OPS) bash tools/setup_env.sh

data: setup  ## Convert Fashion-MNIST (Debian's dataset-fashion-mnist) to 32x32 PNGs
	$(PY) tools/prepare_fashion_mnist.py --out data/fashion_mnist

data-faces: setup  ## The fallback data set: deterministic synthetic faces (64x64)
	$(PY) tools/make_demo_data.py --out data/synthetic_faces

demo: data  ## Set up, train IntroVAE on Fashion-MNIST, evaluate it, write grids and metrics
	$(MAKE) demo-run

demo-faces: data-faces  ## The demo on the synthetic faces (no Fashion-MNIST needed)
	$(MAKE) demo-run CONFIG=configs/introvae_demo-64.py WORK_DIR=work_dirs/introvae_demo-64

demo-run:  ## Train, evaluate and sample CONFIG into WORK_DIR (no set-up)
	$(PY) tools/train.py $(CONFIG) --work-dir $(WORK_DIR)
	$(PY) tools/test.py $(CONFIG) $$(cat $(WORK_DIR)/last_checkpoint) --work-dir $(WORK_DIR) --out $(WORK_DIR)/metrics.json
	$(PY) tools/sample.py $(CONFIG) $$(cat $(WORK_DIR)/last_checkpoint) --out-dir $(WORK_DIR)/grids

study: data  ## Tune each arm on held-back images, then the picks over 3 seeds vs the best VAE (configs/studies/): tables + plots in work_dirs/study
	$(PY) tools/study.py $(STUDY_ARGS)

app:  ## Sample/reconstruct/interpolate in the browser: APP_CKPT, or WORK_DIR's last checkpoint
	@ckpt="$(APP_CKPT)"; [ -n "$$ckpt" ] || ckpt=$$(cat $(WORK_DIR)/last_checkpoint 2>/dev/null) \
	  || { echo "No checkpoint in $(WORK_DIR): run 'make demo' first, or pass APP_CKPT=FILE.pth" >&2; exit 1; }; \
	echo "$(PY) tools/demo_app.py $(CONFIG) $$ckpt $(APP_ARGS)"; \
	$(PY) tools/demo_app.py $(CONFIG) "$$ckpt" $(APP_ARGS)

test: setup  ## Set up, then run the whole test suite, in a random order (TEST_SEED=N repeats one)
	@echo "test order: pytest-randomly seed $(TEST_SEED) (make test TEST_SEED=$(TEST_SEED) repeats it)"
	$(PY) -m pytest tests -q -p randomly --randomly-seed=$(TEST_SEED)

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

gpu-prepare: data  ## Wheels and data for the GPU check into .gpu/ (run here, with the registries)
	PYTHON=$(PY) bash tools/gpu_prepare.sh

gpu-check:  ## On a machine with one CUDA GPU (carrying .gpu): every CUDA path, one report
	bash tools/gpu_check.sh

clean:
	rm -rf work_dirs .pytest_cache
