#!/usr/bin/env bash
# Benchmark: Lathe's max-pool kernel vs ATen's (same libtorch) on LeNet-5's pooling inputs.
# Usage: benchmarks/pool_kernel.sh [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-1}"
scripts/bootstrap.sh
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
# The shim's pooling and error-handling units, compiled as the package compiles them (the
# Swift toolchain's clang, -O2).
"$(dirname "$(readlink -f "$(command -v swift)")")/clang++" -O2 -std=c++17 -isystem /usr/include/torch/csrc/api/include -I Sources/CTorch/include -I Sources/CTorch \
    benchmarks/pool_kernel.cpp Sources/CTorch/pool.cpp Sources/CTorch/engine.cpp Sources/CTorch/tensor.cpp \
    -ltorch_cpu -lc10 -o "$OUT/pool_kernel"
OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-ACTIVE}" GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}" \
    OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}" "$OUT/pool_kernel" "$THREADS"
