#!/usr/bin/env bash
# Host cost of a learnable quantizer (ABI 1.1), the QAT path: forward + backward per call through
# a MethodInstance (Tests/Fixtures/plugins/learn_scale.c, `lsq`: one scalar learnable `s`, a
# learned-step quantizer with a straight-through backward), via `lathe plugins bench --backward`.
#   (a) 1 element: per-call host overhead (the plugin's own work on one element is a few ns).
#       Each call: call context, learnable shapes from their rules, canary-filled outputs (output,
#       input gradient, learnable gradient) verified written and finite, qparams validated; the
#       input and the learnable passed as private copies verified unchanged on QAT's sample of
#       calls (InputVerification.standard: the first 8 of an instance, then 1 in 64).
#       Target: median <= 5 us for forward + backward. Measured twice: with each call's outputs
#       dropped before the next call, so that the instance reuses them (OutputSlot: only tensors
#       nothing else holds), and with the outputs held until the next call (--hold-outputs: what a
#       training step does with a weight quantizer's output in its graph), a new tensor per output.
#   (b) 1M float32 elements: throughput of forward + backward (GB/s of float32 input per
#       forward + backward pair).
# For reference: the forward alone, and the 1.0 no-op quantizer through the plain call path.
# (c) the first-party learnable/lsq on 1M elements, the same way: target >= 1 GB/s.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lathe >/dev/null
swift build -c release --product LatheLearnable >/dev/null
LATHE="$(swift build -c release --show-bin-path)/lathe"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -o "$WORK/liblearn_scale.so" Tests/Fixtures/plugins/learn_scale.c -lm
cc -std=c11 -O2 -shared -fPIC -I Sources/CLathePlugin/include -o "$WORK/libnoop.so" Tests/Fixtures/plugins/noop.c
ITER="${1:-200000}"
# Wall clock per call, and this thread's CPU time per call (on a machine shared with other work
# the wall clock also counts the time spent waiting for a core).
wall() { sed -nE 's/.*per call through the host: median ([0-9.]+) us.*/\1/p'; }
cpu() { sed -nE 's/.*thread CPU time per call: median ([0-9.]+) us.*/\1/p'; }
throughput() { sed -nE 's/.*throughput: ([0-9.]+) GB\/s.*/\1/p'; }
bench() { "$LATHE" plugins bench "$@" --repeats 7; }
FB="$(bench "$WORK/liblearn_scale.so" lsq --backward --iterations "$ITER")"
FB_HELD="$(bench "$WORK/liblearn_scale.so" lsq --backward --iterations "$ITER" --hold-outputs)"
FWD="$(bench "$WORK/liblearn_scale.so" lsq --iterations "$ITER")"
NOOP="$(bench "$WORK/libnoop.so" identity --iterations "$ITER")"
BIG="$("$LATHE" plugins bench "$WORK/liblearn_scale.so" lsq --backward --elements 1048576 --iterations 100 --repeats 5)"
LSQ="$("$LATHE" plugins bench "$(swift build -c release --show-bin-path)/libLatheLearnable.so" lsq --backward --elements 1048576 --iterations 100 --repeats 5)"
LSQ_STRICT="$("$LATHE" plugins bench "$(swift build -c release --show-bin-path)/libLatheLearnable.so" lsq --backward --elements 1048576 --iterations 100 --repeats 5 --verify-every-call)"
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); 1 thread; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "learn_scale/lsq (scalar learnable, 4 bits), 1 element, $ITER calls x 7 repeats (median of repeats): wall / thread CPU"
echo "  forward + backward through a method instance : $(echo "$FB" | wall) / $(echo "$FB" | cpu) us per call (outputs dropped: reused)"
echo "  the same, each call's outputs held            : $(echo "$FB_HELD" | wall) / $(echo "$FB_HELD" | cpu) us per call (new outputs every call)"
echo "  forward alone through the instance           : $(echo "$FWD" | wall) / $(echo "$FWD" | cpu) us per call"
echo "  1.0 no-op quantizer, plain call (reference)  : $(echo "$NOOP" | wall) / $(echo "$NOOP" | cpu) us per call"
verdict() { python3 -c "w, c = $(echo "$2" | wall), $(echo "$2" | cpu); print(f'  forward + backward target <= 5 us, $1: wall {\"OK\" if w <= 5 else \"OVER TARGET\"}, CPU {\"OK\" if c <= 5 else \"OVER TARGET\"}')"; }
verdict "outputs dropped" "$FB"
verdict "outputs held" "$FB_HELD"
echo "learn_scale/lsq forward + backward on 1M float32 elements (100 calls x 5 repeats):"
echo "  median $(echo "$BIG" | wall) us wall, $(echo "$BIG" | cpu) us CPU per forward + backward; throughput $(echo "$BIG" | throughput) GB/s of float32 input (wall)"
echo "first-party learnable/lsq (Esser et al. 2020) forward + backward on 1M float32 elements through the host (target >= 1 GB/s):"
echo "  median $(echo "$LSQ" | wall) us wall, $(echo "$LSQ" | cpu) us CPU per forward + backward; throughput $(echo "$LSQ" | throughput) GB/s of float32 input (wall)"
echo "  the same with every call's inputs verified (private copies compared afterwards, --verify-every-call):"
echo "  median $(echo "$LSQ_STRICT" | wall) us wall, $(echo "$LSQ_STRICT" | cpu) us CPU per forward + backward; throughput $(echo "$LSQ_STRICT" | throughput) GB/s of float32 input (wall)"
