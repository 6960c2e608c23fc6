#!/usr/bin/env bash
# Throughput of each quantizer plugin on a 1M-element float32 tensor through the host
# (GB/s of input). Target: >= 1 GB/s for the uniform quantizers (memory-bound).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-plugins.sh release >/dev/null
LATHE=.build/release/lathe
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); 1 thread; 1M float32 elements"
bench() { # LIB METHOD ITERATIONS
    printf '%-22s ' "$2"
    "$LATHE" plugins bench "$1" "$2" --elements 1048576 --iterations "$3" --repeats 3 | tail -1 | sed 's/^ *//'
}
for m in affine symmetric; do bench .build/plugins/libLatheUniform.so "$m" 200; done
if [[ -f .build/plugins/libLatheLowBit.so ]]; then
    for m in binary ternary pow2; do bench .build/plugins/libLatheLowBit.so "$m" 100; done
    bench .build/plugins/libLatheLowBit.so kmeans 3
fi
