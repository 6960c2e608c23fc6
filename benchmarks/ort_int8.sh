#!/usr/bin/env bash
# ONNX Runtime int8 (QDQ export) against ONNX Runtime fp32 and libtorch's int8 engines, for the
# sequential zoo models: accuracy of the QDQ model in ONNX Runtime against Lathe's simulated int8
# model, and latency at batch 1 and 256 on one thread.
#
# Per model: `lathe train` (EPOCHS on the full training set), `lathe quantize` of that checkpoint
# (8-bit symmetric per-channel weights, static 8-bit affine activations, --int8 for libtorch's
# real int8 engines and their latency), `lathe export` of the fp32 checkpoint and of the quantized
# one with --qdq, both with --verify on the test set (the QDQ check: ONNX Runtime's accuracy within
# 0.2 point of the simulation at the exported activation code widths); then scripts/ort_bench.py
# times the two ONNX models interleaved and lists the kernels ONNX Runtime ran.
#
#   usage: benchmarks/ort_int8.sh     (environment overrides below)
#     LATHE=.build/release/lathe  PYTHON=$LATHE_PYTHON or .venv/bin/python  EPOCHS=2  THREADS=1 (timing)
#     TRAIN_THREADS=$THREADS (training, calibration and the export checks)
#     MODELS="lenet5 convnet mlp"  OUT=runs/ort-int8  LIMIT_TRAIN= LIMIT_TEST= (empty: full sets)
#     RUNS=200,20 (ORT timed rounds at batch 1, 256)  BUILD=1 (0: use LATHE as built)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS="${EPOCHS:-2}"
THREADS="${THREADS:-1}"
TRAIN_THREADS="${TRAIN_THREADS:-$THREADS}"
MODELS="${MODELS:-lenet5 convnet mlp}"
OUT="${OUT:-runs/ort-int8}"
RUNS="${RUNS:-200,20}"
PYTHON="${PYTHON:-${LATHE_PYTHON:-.venv/bin/python}}"
if [[ "${BUILD:-1}" == 1 && -z "${LATHE:-}" ]]; then scripts/build-plugins.sh release >/dev/null; fi
LATHE="${LATHE:-.build/release/lathe}"
limits=()
[[ -n "${LIMIT_TRAIN:-}" ]] && limits+=(--limit-train "$LIMIT_TRAIN")
[[ -n "${LIMIT_TEST:-}" ]] && limits+=(--limit-test "$LIMIT_TEST")
mkdir -p "$OUT"
{
    echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
         "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512bw|avx512_vnni|avx_vnni)$' | xargs)"
    echo "onnxruntime $("$PYTHON" -c 'import onnxruntime; print(onnxruntime.__version__)'); $THREADS thread(s); $EPOCHS epoch(s)"
} | tee "$OUT/machine.txt"
for model in $MODELS; do
    d="$OUT/$model"
    mkdir -p "$d"
    echo "== $model"
    "$LATHE" train --model "$model" --epochs "$EPOCHS" --threads "$TRAIN_THREADS" "${limits[@]}" --plain --out "$d/train" > "$d/train.log"
    "$LATHE" quantize --checkpoint "$d/train/model.safetensors" --param bits=8 --param per_channel=true --activations static --int8 \
        --threads "$THREADS" "${limits[@]}" --plain --out "$d/quant" > "$d/quantize.log"
    grep -E "fp32 accuracy|real int8" "$d/quantize.log"
    "$LATHE" export "$d/train/model.safetensors" -o "$d/fp32.onnx" --verify --threads "$TRAIN_THREADS" "${limits[@]}" | tee "$d/export-fp32.log"
    "$LATHE" export "$d/quant/model.safetensors" --qdq -o "$d/int8.onnx" --verify --threads "$TRAIN_THREADS" "${limits[@]}" | tee "$d/export-qdq.log"
    # The same export with 8-bit input codes (no Clip), checked against the 8-bit simulation: a
    # CPU without VNNI saturates, the check says so and writes nothing (not an error here); the
    # unchecked file is timed beside the others, to show what the 7-bit Clip costs.
    "$LATHE" export "$d/quant/model.safetensors" --qdq --activation-bits 8 -o "$d/int8-8bit-checked.onnx" --verify --threads "$TRAIN_THREADS" \
        "${limits[@]}" > "$d/export-qdq-8bit.log" 2>&1 || true
    grep -E "ONNX Runtime" "$d/export-qdq-8bit.log" | sed 's/^/8-bit codes: /' || true
    "$LATHE" export "$d/quant/model.safetensors" --qdq --activation-bits 8 -o "$d/int8-8bit.onnx" > /dev/null
    "$PYTHON" scripts/ort_bench.py "fp32=$d/fp32.onnx" "int8=$d/int8.onnx" "int8-8bit=$d/int8-8bit.onnx" --threads "$THREADS" --runs "$RUNS" \
        --json "$d/ort.json" | tee "$d/ort.log"
done
"$PYTHON" - "$OUT" $MODELS <<'EOF'
import json, re, sys
out, models = sys.argv[1], sys.argv[2:]
check = re.compile(r"ONNX Runtime check on (\d+) test images: accuracy ([\d.]+)% \((.*?) ([\d.]+)%\), largest logit difference ([\d.e+-]+)")
def parse(path):
    try:
        m = check.search(open(path).read())
    except FileNotFoundError:
        return None
    return m and {"images": int(m[1]), "ort": float(m[2]), "lathe": float(m[4]), "logit": float(m[5])}
print("\nmodel    sim int8 (8b/7b in)  ORT QDQ   diff    | ORT fp32 b1  int8 b1   fp32 b256  int8 b256 (ms, median [p25-p75]) | libtorch engine: fp32 b1, int8 b1, fp32 b256, int8 b256 (median ms)")
for model in models:
    q = json.load(open(f"{out}/{model}/quant/metrics.json"))["quantization"]
    e = parse(f"{out}/{model}/export-qdq.log")
    o = json.load(open(f"{out}/{model}/ort.json"))["models"]
    def lat(name, i):
        r = o[name]["latency"][i]
        return f"{r['median_ms']:.3f} [{r['p25_ms']:.3f}-{r['p75_ms']:.3f}]"
    sim7 = e["lathe"] if e else float("nan")
    ort = e["ort"] if e else float("nan")
    line = f"{model:8s} {100*q['accuracy']:.2f}/{sim7:.2f}        {ort:.2f}   {ort-sim7:+.2f}  | {lat('fp32',0)} {lat('int8',0)} {lat('fp32',1)} {lat('int8',1)}"
    line8 = f"         (int8 with 8-bit input codes, saturating, no Clip: b1 {lat('int8-8bit',0)}, b256 {lat('int8-8bit',1)})"
    engines = "; ".join(f"{r['engine']}: {r['fp32Latency'][0]['medianMilliseconds']:.3f}, {r['latency'][0]['medianMilliseconds']:.3f}, "
                        f"{r['fp32Latency'][1]['medianMilliseconds']:.2f}, {r['latency'][1]['medianMilliseconds']:.2f} "
                        f"(acc {100*r['accuracy']:.2f}%, sim {100*r['simulatedAccuracy']:.2f}%, {r.get('activation_bits', 8)}-bit in)"
                        for r in q["int8"])
    print(line + " | " + engines)
    print(line8)
    print(f"         ORT int8 kernels: {o['int8']['kernels']}")
EOF
