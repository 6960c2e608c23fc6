#!/usr/bin/env bash
# Weight-only PTQ of mlp and lenet5 (Fashion-MNIST, 10 epochs, seeds $SEEDS, default "0 1 2") at
# INT4 in groups of 32 and 128 (fp16 scales), per-channel INT4 (fp32 scales), MXFP4, MXFP8 and
# FP8 E4M3 per channel / per tensor: test accuracy (mean over the seeds, and each seed) and
# storage bits per weight (scales included) in one table.
#   usage: [SEEDS="0 1 2"] benchmarks/formats_ptq.sh [debug|release] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-release}"
OUT="${2:-runs/formats-ptq}"
SEEDS="${SEEDS:-0 1 2}"
scripts/build-plugins.sh "$CONFIG" >/dev/null
LATHE="$(swift build -c "$CONFIG" --show-bin-path)/lathe"
COMMON=(--threads 1 --no-latency --plain)
NAMES=(int4-g32 int4-g128 int4-per-channel mxfp4 mxfp8 fp8-e4m3-per-channel fp8-e4m3-per-tensor)
declare -A ARGS=(
    [int4-g32]="formats/int_group --param bits=4 --param group_size=32"
    [int4-g128]="formats/int_group --param bits=4 --param group_size=128"
    [int4-per-channel]="uniform/symmetric --param bits=4 --param per_channel=true"
    [mxfp4]="formats/mxfp4"
    [mxfp8]="formats/mxfp8"
    [fp8-e4m3-per-channel]="formats/fp8 --param format=e4m3 --param per_channel=true"
    [fp8-e4m3-per-tensor]="formats/fp8 --param format=e4m3 --param per_channel=false"
)
for seed in $SEEDS; do
    for model in mlp lenet5; do
        dir="$OUT/seed$seed"
        mkdir -p "$dir"
        [[ -f "$dir/$model/model.safetensors" ]] ||
            "$LATHE" train --model "$model" --epochs 10 --seed "$seed" --out "$dir/$model" "${COMMON[@]}" >"$dir/$model-train.log"
        for name in "${NAMES[@]}"; do
            [[ -f "$dir/q-$model-$name/metrics.json" ]] && continue
            read -r -a args <<<"${ARGS[$name]}"
            "$LATHE" quantize --checkpoint "$dir/$model/model.safetensors" --method "${args[@]}" \
                --out "$dir/q-$model-$name" "${COMMON[@]}" >"$dir/q-$model-$name.log"
        done
    done
done
python3 - "$OUT" "${NAMES[@]}" <<'PY'
import json, os, sys
out, names = sys.argv[1], sys.argv[2:]
seeds = sorted(d for d in os.listdir(out) if d.startswith("seed"))
def load(seed, model, name):
    return json.load(open(os.path.join(out, seed, f"q-{model}-{name}", "metrics.json")))["quantization"]
def cell(values):
    mean = sum(values) / len(values)
    return f"{100 * mean:.2f} ({', '.join(f'{100 * v:.2f}' for v in values)})"
print(f"seeds: {', '.join(s[4:] for s in seeds)}; accuracy: mean (each seed)")
print("| format | mlp acc (%) | mlp bits/weight | lenet5 acc (%) | lenet5 bits/weight |")
print("| --- | --- | --- | --- | --- |")
for name in names:
    cells = []
    for model in ["mlp", "lenet5"]:
        runs = [load(s, model, name) for s in seeds]
        cells += [cell([r["accuracy"] for r in runs]), f"{runs[0]['bits_per_weight']:.4f}"]
    print(f"| {name} | " + " | ".join(cells) + " |")
fp32 = {m: cell([load(s, m, names[0])["fp32_accuracy"] for s in seeds]) for m in ["mlp", "lenet5"]}
print(f"| fp32 | {fp32['mlp']} | 32 | {fp32['lenet5']} | 32 |")
PY
