#!/usr/bin/env bash
# torchrun on this machine or several: bash tools/torchrun.sh NUM_PROCESSES SCRIPT [ARGS]
# (used by dist_train.sh and dist_test.sh). Multi-node: set NNODES,
# NODE_RANK, MASTER_ADDR (and PORT) on every node; PYTHON picks the interpreter.
GPUS=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
export PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$SCRIPT" "${@:3}"
