#!/usr/bin/env bash
# Issue 15 cost benchmark: calib/gptq (C, one thread, float64) against the same algorithm in
# PyTorch (benchmarks/gptq_reference.py, Debian python3-torch, one thread) on the same layers and
# the same calibration Gram matrices: `lathe solve --save-statistics` saves what the plugin saw,
# and the reference solves exactly that and compares its W' with the plugin's.
#   usage: benchmarks/gptq_vs_python.sh [BITS] [MODEL[=CHECKPOINT] ...]   (default: 4 mlp vit-tiny)
# A model without a checkpoint is trained first for 1 epoch on 10000 images (the timing does not
# depend on how well it is trained). Prints, per model, each layer's solver time on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
BITS="${1:-4}"
shift || true
MODELS=("$@")
[[ ${#MODELS[@]} -gt 0 ]] || MODELS=(mlp vit-tiny)
[[ -x .build/release/lathe && -f .build/plugins/libLatheCalib.so ]] || scripts/build-plugins.sh release >/dev/null
BIN=.build/release/lathe
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpu(s); load $(cut -d' ' -f1-3 /proc/loadavg)"
for spec in "${MODELS[@]}"; do
    model="${spec%%=*}"
    if [[ "$spec" == *=* ]]; then
        checkpoint="${spec#*=}"
    else
        "$BIN" train --model "$model" --epochs 1 --limit-train 10000 --limit-test 1000 --threads 1 --plain --out "$OUT/$model" >/dev/null 2>&1
        checkpoint="$OUT/$model/model.safetensors"
    fi
    "$BIN" solve --checkpoint "$checkpoint" --param "bits=$BITS" --threads 1 --plain --out "$OUT/$model-gptq" \
        --save-statistics "$OUT/$model-stats.safetensors" >/dev/null 2>&1
    echo "== $model, GPTQ $BITS-bit per row, 8 calibration batches of 128 images"
    python3 - "$OUT/$model-gptq/metrics.json" <<'PY'
import json, sys
layers = json.load(open(sys.argv[1]))["solve"]["layers"]
for l in layers:
    print(f"lathe  {l['name']}: solver {l['solverSeconds']:.3f} s (statistics pass {l['statisticsSeconds']:.3f} s)")
print(f"lathe  total solver {sum(l['solverSeconds'] for l in layers):.3f} s")
PY
    /usr/bin/python3 benchmarks/gptq_reference.py "$OUT/$model-stats.safetensors" "$OUT/$model-gptq/model.safetensors" --bits "$BITS" | sed 's/^/torch  /'
done
