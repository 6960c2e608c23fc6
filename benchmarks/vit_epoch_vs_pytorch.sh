#!/usr/bin/env bash
# Benchmark (issue 14): one epoch of vit-tiny on Fashion-MNIST, Lathe vs PyTorch (Debian's
# python3-torch, the same libtorch 1.13), the same model (benchmarks/pytorch_vit_epoch.py builds
# Lathe's vit-tiny layer for layer and prints its parameter count), the same recipe (AdamW lr 1e-3,
# decoupled weight decay 0.05, batch 128, constant rate, label smoothing 0.1) and thread count,
# in one run. Prints seconds per epoch for both and the ratio (PyTorch seconds / Lathe seconds:
# above 1 means Lathe is faster). Usage: benchmarks/vit_epoch_vs_pytorch.sh [THREADS] [REPEATS]
# (LATHE=/path/to/lathe times that binary instead of this tree's release build.)
#
# Two figures per peer, each the median over REPEATS runs:
#   epoch  - wall time of the training loop over the 60000 images (evaluation excluded);
#   steady - median wall time of a full-batch step times the steps of an epoch, timed the same
#            way in both loops; it moves far less under interference on a shared machine.
# Runs alternate which peer goes first, so a slow spell hits both.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-$(nproc)}"
REPEATS="${2:-3}"
# The same libgomp and OpenBLAS environment as lathe's own defaults (see train_throughput.sh).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-ACTIVE}"
export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"
scripts/bootstrap.sh --with-benchmark-peers
if [[ -z "${LATHE:-}" ]]; then
    swift build -c release --product lathe >/dev/null
    LATHE="$(swift build -c release --show-bin-path)/lathe"
fi
if ! "$LATHE" models | awk '{print $1}' | grep -qx vit-tiny; then
    echo "error: this lathe has no model 'vit-tiny' (its zoo: $("$LATHE" models | awk '{print $1}' | paste -sd' '));" \
        "build it from a tree with the ViT models of issue 14" >&2
    exit 1
fi
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

run_lathe() {
    "$LATHE" train --model vit-tiny --epochs 1 --batch-size 128 --optimizer adamw --lr 1e-3 --weight-decay 0.05 \
        --lr-schedule constant --warmup-epochs 0 --label-smoothing 0.1 --threads "$THREADS" --limit-test 1000 --no-latency \
        --out "$OUT/run$1" --plain >"$OUT/lathe-run$1.log" 2>&1 || { cat "$OUT/lathe-run$1.log" >&2; exit 1; }
    /usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1])); t=m['training']; print(t['trainingSeconds'], t['medianStepSeconds'], m['cost']['parameters'])" \
        "$OUT/run$1/metrics.json" >>"$OUT/lathe.txt"
}
run_torch() {
    /usr/bin/python3 benchmarks/pytorch_vit_epoch.py "$THREADS" 2>/dev/null \
        | sed -n 's/seconds_per_epoch=//p; s/median_step_seconds=//p; s/parameters=//p' | paste -sd' ' >>"$OUT/torch.txt"
}
for r in $(seq "$REPEATS"); do
    if (( r % 2 )); then run_lathe "$r"; run_torch; else run_torch; run_lathe "$r"; fi
done
/usr/bin/python3 - "$THREADS" "$OUT/lathe.txt" "$OUT/torch.txt" <<'PY'
import math, os, statistics, sys
threads, steps = sys.argv[1], math.ceil(60000 / 128)
lathe_rows = [line.split() for line in open(sys.argv[2]) if line.strip()]
torch_rows = [line.split() for line in open(sys.argv[3]) if line.strip()]
# lathe: seconds, median step, parameters; pytorch: parameters, seconds, median step.
lathe_epoch, lathe_steady = [float(r[0]) for r in lathe_rows], [float(r[1]) * steps for r in lathe_rows]
torch_epoch, torch_steady = [float(r[1]) for r in torch_rows], [float(r[2]) * steps for r in torch_rows]
lathe_params, torch_params = lathe_rows[0][2], torch_rows[0][0]
print(f"vit-tiny 1 epoch, batch 128, AdamW, {threads} thread(s), "
      f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')} "
      f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT')}, median of {len(lathe_epoch)} runs (seconds/epoch)")
print(f"  parameters: lathe {lathe_params}, pytorch {torch_params}{'' if lathe_params == torch_params else '  (DIFFERENT MODELS)'}")
for label, lathe, torch in (("epoch ", lathe_epoch, torch_epoch), ("steady", lathe_steady, torch_steady)):
    ml, mt = statistics.median(lathe), statistics.median(torch)
    print(f"  {label}  lathe {ml:8.1f} s   pytorch {mt:8.1f} s   ratio {mt / ml:.2f}x  (pytorch/lathe; target >= 1.0x)")
    print(f"          runs lathe: {', '.join(f'{v:.1f}' for v in lathe)}")
    print(f"          runs torch: {', '.join(f'{v:.1f}' for v in torch)}")
PY
