#!/usr/bin/env bash
# Run HERE (a machine with the package registries, after `make setup` and `make data`), from the
# repository root: fills .gpu/ (ignored by git, < 64 MiB) with what tools/gpu_check.sh needs on a
# GPU machine without network:
#   .gpu/whl/   the wheels of ../shared/gpu/device-wheels.txt for CPython 3.12, plus mmcv-lite 2.1.0
#               (mmcv without compiled ops: nothing is built there), pluggy (imported by mmintrovae)
#               and psutil (by tools/benchmarking/memory.py): the device may lack them;
#   .gpu/data/fashion_mnist/  the first 10,000 images of each Fashion-MNIST split, converted as
#               `make data` does (from Debian's dataset-fashion-mnist).
# Then run the check on the device in one call, carrying .gpu:
#   bash tools/gpu_check.sh            (make gpu-check; the report lands in $OUT or work_dirs/gpu_check)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED_GPU:-../shared/gpu}
py=${PYTHON:-.venv/bin/python}
[ -x "$py" ] || { echo "gpu_prepare.sh: run 'make setup' first (no $py)" >&2; exit 1; }
mkdir -p .gpu/whl
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
"$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${plat[@]}" -d .gpu/whl -r "$shared/device-wheels.txt" mmcv-lite==2.1.0 psutil pluggy
if [ ! -d .gpu/data/fashion_mnist/val ]; then
  "$py" tools/prepare_fashion_mnist.py --out .gpu/data/fashion_mnist --limit 10000
fi
du -sh .gpu/whl .gpu/data
echo "carry .gpu and run: bash tools/gpu_check.sh"
