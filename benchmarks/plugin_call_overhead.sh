#!/usr/bin/env bash
# Per-call overhead of the plugin host: the same no-op quantizer (Tests/Fixtures/plugins/noop.c,
# six hyperparameters of every libffi type, 1-element tensors) called
#   (a) through the host: hyperparameter check, libffi call, DLPack views, output canary fill,
#       input copies compared after the call, qparams copy and validation, output unwritten and
#       finiteness check (`lathe plugins bench`), and
#   (b) directly from C through its function pointer (the plugin's own work).
# Prints both and the host overhead (a - b). Target: median overhead <= 2 us.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --product lathe >/dev/null
LATHE="$(swift build -c release --show-bin-path)/lathe"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -o "$WORK/libnoop.so" Tests/Fixtures/plugins/noop.c
cc -std=c11 -O2 -I Sources/CLathePlugin/include -o "$WORK/direct" benchmarks/plugin_direct_call.c -ldl
ITER="${1:-200000}"
HOST_LINE="$("$LATHE" plugins bench "$WORK/libnoop.so" identity --iterations "$ITER" --repeats 7 | grep "per call through the host")"
HOST_US="$(echo "$HOST_LINE" | sed -E 's/.*median ([0-9.]+) us.*/\1/')"
DIRECT_NS="$("$WORK/direct" "$WORK/libnoop.so" identity "$ITER")"
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "noop quantizer, 1 element, 6 hyperparameters (i32, f32, bool, enum, i64, f64), $ITER calls x 7 repeats"
echo "  through the host : ${HOST_US} us per call (median of repeats)"
echo "  direct C call    : $(python3 -c "print(f'{$DIRECT_NS/1000:.3f}')") us per call (best of 5)"
python3 -c "o=$HOST_US-$DIRECT_NS/1000; print(f'  host overhead    : {o:.3f} us per call (target <= 2 us): {\"OK\" if o <= 2 else \"OVER TARGET\"}')"
