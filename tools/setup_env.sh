#!/usr/bin/env bash
# Sets up the project's virtual environment at .venv (or $VENV) on a fresh machine:
# torch + torchvision, mmengine, mmagic 1.2.0 and what its imports need, mmcv 2.1.0 without
# its compiled ops (mmcv-lite plus a stand-in for mmcv._ext; MMCV_OPS=1 builds the ops once
# and reuses them from a wheel cache), gradio for tools/demo_app.py, the
# test tools (with Debian's chromium + chromium-driver, as root), and mmintrovae itself in
# editable mode. Safe to re-run: finished steps are skipped quickly.
#
#   bash tools/setup_env.sh            # or: make setup
#   MMCV_OPS=1 bash tools/setup_env.sh # or: make setup MMCV_OPS=1 (mmcv's C++ ops, ~15 min once)
#
# Environment: VENV (default .venv), PYTHON (interpreter for the venv, default python3),
# MMINTROVAE_WHEEL_CACHE (default ~/.cache/mmintrovae/wheels) where the mmcv wheel is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv=${VENV:-.venv}
python=${PYTHON:-python3}
cache=${MMINTROVAE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmintrovae/wheels}
log_dir=${root}/.setup-logs
mkdir -p "$log_dir" "$cache"
step() { printf '\n[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
start=$(date +%s)

if [ ! -x "$venv/bin/python" ]; then
  step "creating the virtual environment $venv with $($python --version 2>&1)"
  "$python" -m venv "$venv"
fi
py="$root/$venv/bin/python"
pip() { "$py" -m pip --disable-pip-version-check "$@"; }

step "pip, setuptools<81 (mmengine and mmcv's build use pkg_resources), wheel"
pip install -q -U pip 'setuptools<81' wheel

if ! "$py" -c 'import torch, torchvision' 2>/dev/null; then
  step "torch 2.14.1 + torchvision 0.29.1 (the pair that imports together with mmagic; ~1-3 min)"
fi
pip install -q -c requirements/constraints.txt torch==2.14.1 torchvision==0.29.1

step "mmengine, mmagic's runtime imports, pluggy, opencv, gradio (requirements/runtime.txt, app.txt)"
pip install -q -c requirements/constraints.txt -r requirements/runtime.txt -r requirements/app.txt
pip install -q --no-deps mmagic==1.2.0

site_dir=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
standin_pth="$site_dir/mmintrovae-mmcv-ext.pth"
has_real_ops() {
  "$py" -c 'import mmcv, mmcv._ext as e, sys; sys.exit(mmcv.__version__ != "2.1.0" or getattr(e, "mmintrovae_standin", False))' 2>/dev/null
}
if [ "${MMCV_OPS:-0}" = 0 ]; then
  # mmcv-lite is mmcv 2.1.0's Python code without the compiled ops (a wheel on
  # PyPI, seconds to install). mmagic imports mmcv.ops, which loads mmcv._ext:
  # mmintrovae/utils/mmcv_ext_standin.py answers for it, through a .pth file
  # that Python runs at every start; it only acts when no real mmcv._ext exists.
  if has_real_ops; then
    step "mmcv 2.1.0 with its compiled ops is already installed: kept (the stand-in stays inactive)"
  else
    step "mmcv 2.1.0 without compiled ops (mmcv-lite; IntroVAE calls no mmcv op; MMCV_OPS=1 builds them)"
    pip install -q --no-deps mmcv-lite==2.1.0
  fi
  # One line that Python's site module executes at start-up: it loads the
  # stand-in by its path (the mmintrovae package itself is not imported).
  printf "import importlib.util as u, sys; s = u.spec_from_file_location('mmintrovae_mmcv_ext_standin', '%s'); m = sys.modules.setdefault(s.name, u.module_from_spec(s)); s.loader.exec_module(m); m.install()\n" \
    "$root/mmintrovae/utils/mmcv_ext_standin.py" > "$standin_pth"
elif has_real_ops; then
  step "mmcv 2.1.0 with ops already installed"
else
  wheel=$(ls "$cache"/mmcv-2.1.0-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    build_log="$log_dir/build_mmcv.log"
    step "building mmcv 2.1.0 with its C++ ops (MMCV_OPS=1): this takes about 15 minutes on 2 cores, once per machine."
    echo "  The wheel is kept in $cache and reused by later set-ups. Build log: $build_log"
    # Torch >= 2.10 headers require C++20, but mmcv 2.1.0's setup.py passes -std=c++17 last:
    # a compiler wrapper appends -std=gnu++20 after every other argument.
    cc_dir=$(mktemp -d)
    printf '#!/bin/sh\nexec %s "$@" -std=gnu++20\n' "$(command -v g++)" > "$cc_dir/g++"
    chmod +x "$cc_dir/g++"
    build_dir=$(mktemp -d)
    ( CXX="$cc_dir/g++" MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(nproc) \
        "$py" -m pip wheel --no-cache-dir --no-build-isolation --no-deps -w "$build_dir" mmcv==2.1.0 \
        > "$build_log" 2>&1 ) &
    builder=$!
    t0=$(date +%s)
    while kill -0 "$builder" 2>/dev/null; do
      sleep 30
      kill -0 "$builder" 2>/dev/null || break
      printf '  ... still building mmcv (%d min %02d s elapsed, log: %s)\n' \
        $(( ($(date +%s) - t0) / 60 )) $(( ($(date +%s) - t0) % 60 )) "$build_log"
    done
    if ! wait "$builder"; then
      echo "ERROR: building mmcv 2.1.0 failed. The last lines of $build_log:" >&2
      tail -n 25 "$build_log" >&2
      echo "Fix the cause above (a compiler, torch's headers, setuptools<81) and re-run $0." >&2
      exit 1
    fi
    mv "$build_dir"/mmcv-2.1.0-*.whl "$cache"/
    wheel=$(ls "$cache"/mmcv-2.1.0-*.whl | head -n 1)
    step "mmcv built in $(( ($(date +%s) - t0) / 60 )) min"
  else
    step "reusing the built mmcv wheel $wheel (delete it to rebuild)"
  fi
  # mmcv-lite and mmcv install the same package folder: only one may stay.
  pip uninstall -q -y mmcv-lite 2>/dev/null || true
  pip install -q --no-deps --force-reinstall "$wheel"
fi
if [ "${MMCV_OPS:-0}" != 0 ]; then
  rm -f "$standin_pth"  # real ops: no stand-in (it would stay inactive anyway)
fi

step "test and lint tools (requirements/tests.txt), mmintrovae in editable mode"
pip install -q -c requirements/constraints.txt -r requirements/tests.txt
pip install -q --no-deps --no-build-isolation -e .

fm=/usr/share/datasets/fashion-mnist
if [ -f "$fm/t10k-labels-idx1-ubyte.gz" ]; then
  step "Fashion-MNIST (the demo's data) is installed in $fm"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  step "Fashion-MNIST, the demo's data: apt-get install dataset-fashion-mnist (Debian/Ubuntu, 30 MB, MIT licence)"
  { apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }; } \
    || echo "  WARNING: could not install dataset-fashion-mnist; 'make demo-faces' trains on synthetic faces instead." >&2
else
  echo "  NOTE: the demo's data is Debian's dataset-fashion-mnist: run 'sudo apt-get install dataset-fashion-mnist'" >&2
  echo "  (or 'make demo-faces' for the synthetic faces); the tests do not need it." >&2
fi

# The browser that tests/test_tools/test_demo_app.py drives (selenium + Debian's chromedriver).
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  step "chromium and chromedriver (the browser of the page's test) are installed"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  step "chromium + chromium-driver, the browser of the page's test: apt-get install (Debian/Ubuntu, about 100 MB)"
  chromium_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }
  chromium_install || { apt-get update -q >/dev/null 2>&1 && chromium_install; } \
    || { echo "ERROR: 'apt-get install chromium chromium-driver' failed; run it by hand to see why, then re-run $0." >&2; exit 1; }
else
  echo "ERROR: the tests drive the app page (tools/demo_app.py) in Chromium, which is missing. Run" >&2
  echo "  sudo apt-get install chromium chromium-driver" >&2
  echo "(Debian/Ubuntu; chromium and chromedriver must be on PATH), then re-run $0." >&2
  exit 1
fi

"$py" -c 'import mmagic.models, mmagic.evaluation, mmagic.datasets, mmcv.ops, mmintrovae' \
  || { echo "ERROR: the environment $venv does not import mmagic + mmintrovae; see above." >&2; exit 1; }
step "ready in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s: activate with 'source $venv/bin/activate'"
