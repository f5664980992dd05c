#!/usr/bin/env bash
# Distributed training with torchrun: bash tools/dist_train.sh CONFIG GPUS [ARGS]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
CONFIG=$1
GPUS=$2
if [ -z "$CONFIG" ] || [ -z "$GPUS" ]; then
  echo "usage: bash $0 CONFIG NUM_PROCESSES [train.py arguments]" >&2
  exit 2
fi
exec bash "$(dirname "$0")/torchrun.sh" "$GPUS" "$(dirname "$0")/train.py" \
    "$CONFIG" --launcher pytorch "${@:3}"
