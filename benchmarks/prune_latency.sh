#!/bin/sh
# Dense vs 50%-output-channel-pruned (physically removed) latency of convnet and lenet5, and of
# vit-small with 50% of its MLP neurons and, separately, 50% of its attention heads removed, at
# batch 1 and 256, with the speedup. Each model is trained briefly, pruned with L1-filter scores
# (weights do not change the timing, shapes do) and its channels removed; `lathe prune` then
# measures the dense and the pruned model alternately (median of 50 runs at batch 1 and 10 at
# batch 256, best of 3 rounds each) and prints both with the speedup.
#
#   benchmarks/prune_latency.sh [THREADS] [EPOCHS]
#
# Measure on a quiet machine: other processes on the same cores make the numbers noisy.
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-1}
EPOCHS=${2:-1}
swift build -c release --scratch-path .build-prune --product lathe >/dev/null
B=.build-prune/release/lathe
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "threads: $THREADS"
for MODEL in convnet lenet5; do
    echo "== $MODEL: dense vs 50% of output channels removed (prune/l1-filter, physical)"
    "$B" prune --model "$MODEL" --epochs "$EPOCHS" --limit-train 10000 --limit-test 1000 --threads "$THREADS" \
        --criterion prune/l1-filter --sparsity 0.5 --finetune-epochs 0 --physical --plain \
        --registry registry --out "$OUT/$MODEL" 2>/dev/null | grep -E '^(dense|pruned|speedup):'
done
for GROUP in neuron head; do
    echo "== vit-small: dense vs 50% of its ${GROUP}s removed (prune/l1-filter, physical)"
    "$B" prune --model vit-small --epochs "$EPOCHS" --limit-train 10000 --limit-test 1000 --threads "$THREADS" \
        --criterion prune/l1-filter --groups "$GROUP" --sparsity 0.5 --finetune-epochs 0 --physical --plain \
        --registry registry --out "$OUT/vit-small-$GROUP" 2>/dev/null | grep -E '^(dense|pruned|speedup):'
done
