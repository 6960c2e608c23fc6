#!/usr/bin/env bash
# Throughput of each quantizer plugin on a 1M-element float32 tensor through the host
# (GB/s of input). Target: >= 1 GB/s for the uniform quantizers (memory-bound).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-plugins.sh release >/dev/null
LATHE=.build/release/lathe
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); 1 thread; 1M float32 elements"
bench() { # LIB METHOD ITERATIONS [--param K=V ...]
    printf '%-22s ' "$2 ${*:4}"
    "$LATHE" plugins bench "$1" "$2" --elements 1048576 --iterations "$3" --repeats 3 "${@:4}" | grep throughput | sed "s/^ *//"
}
for m in affine symmetric; do bench .build/plugins/libLatheUniform.so "$m" 200; done
if [[ -f .build/plugins/libLatheLowBit.so ]]; then
    # Per tensor: the benchmark tensor is 1-D, so per channel would mean 1M one-element channels.
    for m in binary ternary; do bench .build/plugins/libLatheLowBit.so "$m" 100 --param per_channel=false; done
    bench .build/plugins/libLatheLowBit.so pow2 100
    bench .build/plugins/libLatheLowBit.so kmeans 3
fi
