#!/usr/bin/env bash
# Weight-only PTQ of mlp and lenet5 (Fashion-MNIST, 10 epochs, seed 0) at INT4 in groups of 32
# and 128 (fp16 scales), per-channel INT4 (fp32 scales), MXFP4, MXFP8 and FP8 E4M3 per channel /
# per tensor: test accuracy and storage bits per weight (scales included) in one table.
#   usage: benchmarks/formats_ptq.sh [debug|release] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-release}"
OUT="${2:-runs/formats-ptq}"
scripts/build-plugins.sh "$CONFIG" >/dev/null
LATHE="$(swift build -c "$CONFIG" --show-bin-path)/lathe"
COMMON=(--threads 1 --no-latency --plain)
mkdir -p "$OUT"
for model in mlp lenet5; do
    [[ -f "$OUT/$model/model.safetensors" ]] ||
        "$LATHE" train --model "$model" --epochs 10 --seed 0 --out "$OUT/$model" "${COMMON[@]}" >"$OUT/$model-train.log"
done
run() { # NAME METHOD [--param K=V ...]
    local name="$1" method="$2"; shift 2
    for model in mlp lenet5; do
        "$LATHE" quantize --checkpoint "$OUT/$model/model.safetensors" --method "$method" "$@" \
            --out "$OUT/q-$model-$name" "${COMMON[@]}" >"$OUT/q-$model-$name.log"
    done
}
run int4-g32 formats/int_group --param bits=4 --param group_size=32
run int4-g128 formats/int_group --param bits=4 --param group_size=128
run int4-per-channel uniform/symmetric --param bits=4 --param per_channel=true
run mxfp4 formats/mxfp4
run mxfp8 formats/mxfp8
run fp8-e4m3-per-channel formats/fp8 --param format=e4m3 --param per_channel=true
run fp8-e4m3-per-tensor formats/fp8 --param format=e4m3 --param per_channel=false
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
names = ["int4-g32", "int4-g128", "int4-per-channel", "mxfp4", "mxfp8", "fp8-e4m3-per-channel", "fp8-e4m3-per-tensor"]
print("| format | mlp acc (%) | mlp bits/weight | lenet5 acc (%) | lenet5 bits/weight |")
print("| --- | --- | --- | --- | --- |")
fp32 = {}
for name in names:
    cells = []
    for model in ["mlp", "lenet5"]:
        q = json.load(open(os.path.join(out, f"q-{model}-{name}", "metrics.json")))["quantization"]
        fp32[model] = q["fp32_accuracy"]
        cells += [f"{100 * q['accuracy']:.2f}", f"{q['bits_per_weight']:.4f}"]
    print(f"| {name} | " + " | ".join(cells) + " |")
print(f"| fp32 | {100 * fp32['mlp']:.2f} | 32 | {100 * fp32['lenet5']:.2f} | 32 |")
PY
