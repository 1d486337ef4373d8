#!/usr/bin/env bash
# The GPU measurements in one script: the training throughput, then the checkpoint whose goals
# the CPU cannot reach (periphery_0.8) trained further from its shipped weights.
#
# Usage, from the repository root of a clone on a machine with an NVIDIA GPU:
#
#   make setup                                  # or any Python with requirements.txt installed
#   PYTHON=.venv/bin/python OUT=runs/device bash scripts/device_session.sh
#
# The settings below are environment variables (defaults beside them). It takes about MINUTES + 2
# minutes and, once set up, no network. A CPU rehearsal with small settings:
#   OUT=/tmp/dev MINUTES=0.3 SIZE=256 BATCH=32 STEPS=2 CHECKPOINTS=/tmp/ck bash scripts/device_session.sh
# (/tmp/ck a copy of checkpoints/).
#
# The checkpoint is shipped into $CHECKPOINTS (checkpoints/ by default) as train.ship_demo does.
# Writes under $OUT: device.log (everything printed, progress bars left out), that checkpoint's
# .safetensors and .json, its run's metrics.jsonl and the regenerated checkpoints README. To adopt
# the result in another clone: copy the two checkpoint files into its checkpoints/, then run
# `python -m train.ship_demo --table-only` and `pytest tests/test_shipped_checkpoints.py` there.
set -uo pipefail
OUT=${OUT:-runs/device}
PY=${PYTHON:-python3}
MINUTES=${MINUTES:-5}            # training time; the rest of the script takes about 2 minutes
SIZE=${SIZE:-100000}             # training images held on the GPU
DATASET=${DATASET:-photos}       # periphery_0.8's own training data (its demo entry in focusmim_core/experiments.py)
BATCH=${BATCH:-512}              # the paper's batch
RATE=${RATE:-1e-3}               # the reference README's rate for the masked periphery
ONLY=${ONLY:-periphery_0.8}
STEPS=${STEPS:-20}              # timed steps of each pipeline in bench_train
CHECKPOINTS=${CHECKPOINTS:-checkpoints}
export PYTHONPATH=. PYTHONUNBUFFERED=1
mkdir -p "$OUT"
work=$(mktemp -d)

{
    date -u
    nvidia-smi -L 2>/dev/null || echo "no nvidia-smi: running on the CPU"
    $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

    echo "== training throughput: our batched pipeline and the per-sample DataLoader baseline"
    timeout 120 $PY -m bench.bench_train --steps "$STEPS" --batch "$BATCH"

    echo "== one epoch of $SIZE $DATASET images at batch $BATCH (the README's goal: 100,000 images <= 5 s)"
    timeout 150 $PY -m train.pretrain --dataset "$DATASET" --size "$SIZE" --batch-size "$BATCH" --epochs 3 \
        --masking-mode periphery --masking-ratio 0.8 --output-path "$work/epoch" --save-every 1000
    $PY -c "import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f'epoch {r[\"epoch\"]}: {r[\"seconds\"]:.2f} s, {r[\"images_per_second\"]:,.0f} img/s')" "$work/epoch/metrics.jsonl"

    echo "== $ONLY trained from the shipped weights for $MINUTES min"
    $PY -m train.ship_demo --continue --only $ONLY --dataset "$DATASET" --size "$SIZE" --batch-size "$BATCH" \
        --learning-rate "$RATE" --budget-minutes "$MINUTES" --runs "$work/runs" --checkpoints "$CHECKPOINTS"
    echo "ship_demo exit $?"
    for name in $ONLY; do
        cp "$CHECKPOINTS/$name.safetensors" "$CHECKPOINTS/$name.json" "$OUT/"
        cp "$work"/runs/*/"$name"/metrics.jsonl "$OUT/$name.metrics.jsonl" 2>/dev/null
    done
    cp "$CHECKPOINTS/README.md" "$OUT/checkpoints_README.md"
    date -u
} 2>&1 | tr '\r' '\n' | grep --line-buffered -v "s/step\|step/s\|it/s\|s/it" | tee "$OUT/device.log"
