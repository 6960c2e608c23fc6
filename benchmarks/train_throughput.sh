#!/usr/bin/env bash
# Benchmark (issue 2): LeNet-5, one epoch of Fashion-MNIST, Lathe vs PyTorch (Debian's
# python3-torch, the same libtorch 1.13), identical recipe and thread count, in one run.
# Prints both images/second and the ratio. Usage: benchmarks/train_throughput.sh [THREADS] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-$(nproc)}"
REPEATS="${2:-3}"
# lathe runs libgomp with a bounded spin (OMP_WAIT_POLICY=ACTIVE, GOMP_SPINCOUNT=1000) unless
# told otherwise (see Sources/LatheCLI/main.swift); give the PyTorch peer the same environment.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-ACTIVE}"
export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"
scripts/bootstrap.sh --with-benchmark-peers
swift build -c release --product lathe >/dev/null
LATHE="$(swift build -c release --show-bin-path)/lathe"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

lathe_rates=(); torch_rates=()
for r in $(seq "$REPEATS"); do
    "$LATHE" train --model lenet5 --epochs 1 --batch-size 128 --lr 0.05 --momentum 0.9 --weight-decay 5e-4 \
        --lr-schedule constant --threads "$THREADS" --limit-test 1000 --out "$OUT/run$r" --plain 2>/dev/null >/dev/null
    lathe_rates+=("$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['training']['imagesPerSecond'])" "$OUT/run$r/metrics.json")")
    torch_rates+=("$(/usr/bin/python3 benchmarks/pytorch_lenet5_epoch.py "$THREADS" 2>/dev/null | sed -n 's/images_per_second=//p')")
done
/usr/bin/python3 - "$THREADS" "${lathe_rates[*]}" "${torch_rates[*]}" <<'PY'
import statistics, sys
threads = sys.argv[1]
lathe = [float(v) for v in sys.argv[2].split()]
torch = [float(v) for v in sys.argv[3].split()]
ml, mt = statistics.median(lathe), statistics.median(torch)
import os
print(f"lenet5 1 epoch, batch 128, SGD momentum 0.9, {threads} thread(s), OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}, median of {len(lathe)} runs")
print(f"  lathe   : {ml:8.0f} img/s   runs: {', '.join(f'{v:.0f}' for v in lathe)}")
print(f"  pytorch : {mt:8.0f} img/s   runs: {', '.join(f'{v:.0f}' for v in torch)}")
print(f"  ratio lathe/pytorch: {ml / mt:.2f}x  (target >= 1.10x)")
PY
