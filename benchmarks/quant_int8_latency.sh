#!/usr/bin/env bash
# Real int8 vs fp32 latency (batch 1 and 256) of the sequential zoo models on every quantized
# engine libtorch provides here (QNNPACK, oneDNN), and the accuracy of true integer arithmetic
# against the fake-quant simulation. Latency does not depend on training, so each model gets
# a short training run; 8-bit symmetric per-channel weights, static 8-bit affine activations.
#   usage: benchmarks/quant_int8_latency.sh [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-1}"
scripts/build-plugins.sh release >/dev/null
LATHE=.build/release/lathe
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $THREADS thread(s)"
for model in mlp lenet5 convnet; do
    echo "== $model"
    "$LATHE" quantize --model "$model" --epochs 1 --limit-train 5000 --limit-test 2000 --threads "$THREADS" \
        --param bits=8 --param per_channel=true --activations static --int8 --plain --out "$(mktemp -d)" 2>/dev/null \
        | grep -E "fp32 accuracy|real int8"
done
