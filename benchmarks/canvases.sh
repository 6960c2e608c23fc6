#!/usr/bin/env bash
# fmnist-detect / fmnist-seg canvases at their default sizes (20k train, 2k val, 4k test):
# generation from the installed Fashion-MNIST, then verification of the cached files (sha256
# against the manifest), each timed by `lathe data`, in a fresh cache folder.
#
#   usage: benchmarks/canvases.sh        LATHE=path/to/lathe (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
LATHE="${LATHE:-$(swift build -c release --show-bin-path)/lathe}"
[[ -x "$LATHE" ]] || swift build -c release --product lathe
cache=$(mktemp -d /tmp/lathe-canvases.XXXXXX)
trap 'rm -rf "$cache"' EXIT
echo "== generate"; "$LATHE" data fmnist-detect --cache "$cache"
echo "== verify";   "$LATHE" data fmnist-detect --cache "$cache"
echo "machine: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
