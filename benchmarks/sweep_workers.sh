#!/usr/bin/env bash
# Sweep throughput with 1 worker vs 2 workers (1 intra-op thread each) on the same trials, in
# one run: 8 quantization trials (4 configurations x 2 seeds) on cached baselines, so only the
# trials themselves are timed. Prints trials per minute for each and the ratio (target >= 1.7x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-plugins.sh release >/dev/null
LATHE=.build/release/lathe
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
spec() { # NAME
cat <<SPEC
name = "$1"
model = "lenet5"
seeds = [0, 1]
limit_train = 10000
limit_test = 2000
[baseline]
epochs = 1
[[groups]]
name = "qat"
stages = [{ kind = "quantize", method = "uniform/symmetric", params = { per_channel = true }, workflow = "qat", qat_epochs = 1 }]
grid = { "quantize.params.bits" = [8, 6, 4, 3] }
SPEC
}
# Warm the shared cache (baselines) once, untimed.
spec warm > "$WORK/warm.toml"
"$LATHE" sweep "$WORK/warm.toml" --out "$WORK/warm" --workers 2 --no-report --plain >/dev/null 2>&1
for workers in 1 2; do
    spec "w$workers" > "$WORK/w$workers.toml"
    mkdir -p "$WORK/w$workers" && ln -s "$WORK/warm/cache" "$WORK/w$workers/cache"
    start=$(date +%s.%N)
    "$LATHE" sweep "$WORK/w$workers.toml" --out "$WORK/w$workers" --workers "$workers" --no-report --plain >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$workers $(python3 -c "print($end - $start)")" >> "$WORK/times"
done
python3 - "$WORK/times" <<'PY'
import sys
t = dict(line.split() for line in open(sys.argv[1]))
one, two = float(t["1"]), float(t["2"])
trials = 10  # 8 trials + 2 baselines (cache hits)
print(f"machine: 2 vCPU; lenet5 QAT trials on 10k images, 1 thread per worker, {trials} trials per sweep")
print(f"  1 worker : {one:6.1f} s  ({60 * trials / one:5.1f} trials/min)")
print(f"  2 workers: {two:6.1f} s  ({60 * trials / two:5.1f} trials/min)")
print(f"  throughput ratio 2 workers / 1 worker: {one / two:.2f}x (target >= 1.7x)")
PY
