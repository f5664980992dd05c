#!/usr/bin/env bash
# torchrun on this machine or several: bash tools/torchrun.sh NUM_PROCESSES SCRIPT [ARGS]
# (used by dist_train.sh and dist_test.sh). Multi-node: set NNODES,
# NODE_RANK, MASTER_ADDR (and PORT) on every node; PYTHON picks the interpreter.
export PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$1" \
    --master_port="${PORT:-29500}" \
    "$2" "${@:3}"
