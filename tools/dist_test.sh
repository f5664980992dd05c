#!/usr/bin/env bash
# Distributed testing with torchrun: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [ARGS]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
if [ -z "$CONFIG" ] || [ -z "$GPUS" ] || [ -z "$CHECKPOINT" ]; then
  echo "usage: bash $0 CONFIG CHECKPOINT NUM_PROCESSES [test.py arguments]" >&2
  exit 2
fi
exec bash "$(dirname "$0")/torchrun.sh" "$GPUS" "$(dirname "$0")/test.py" \
    "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
