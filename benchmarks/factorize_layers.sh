#!/usr/bin/env bash
# Issue 15: what low-rank factorization buys on the layers it replaces. `lathe factorize` with
# lowrank/svd at half of each layer's MACs (rank_rule = "macs", amount = 0.5) on convnet (conv2,
# fc1) and mlp (fc1), then each factorized layer timed alone against the dense layer it replaced
# (Lathe's interleaved latency phase, one thread, batch 1 and 256, median with its 95% interval)
# and the same shapes in PyTorch (benchmarks/pytorch_factorized_layers.py, Debian python3-torch,
# one thread) in the same run. The model is trained for 1 epoch on 10000 images first (timing
# depends on shapes only).
#   usage: benchmarks/factorize_layers.sh [LATENCY_BUDGET_SECONDS]   (default 60)
# Measure on a quiet machine: other processes on the same cores make the numbers noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET="${1:-60}"
[[ -x .build/release/lathe && -f .build/plugins/libLatheLowRank.so ]] || scripts/build-plugins.sh release >/dev/null
BIN=.build/release/lathe
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpu(s); load $(cut -d' ' -f1-3 /proc/loadavg)"
for spec in convnet:conv2,fc1 mlp:fc1; do
    model="${spec%%:*}"
    layers=()
    IFS=, read -ra names <<< "${spec#*:}"
    for n in "${names[@]}"; do layers+=(--layer "$n"); done
    echo "== $model: lowrank/svd at 50% of the MACs of ${spec#*:}"
    "$BIN" factorize --model "$model" --epochs 1 --limit-train 10000 --limit-test 1000 --threads 1 --plain \
        --param rank_rule=macs --param amount=0.5 "${layers[@]}" --latency-budget "$BUDGET" --out "$OUT/$model" 2>/dev/null \
        | grep -E '^(  latency|  [a-z0-9]+: rank)' | sed 's/^  latency /lathe  /; s/^  /lathe  /'
    /usr/bin/python3 benchmarks/pytorch_factorized_layers.py "$OUT/$model/model.safetensors" "$OUT/$model/metrics.json" | sed 's/^/torch  /'
done
