#!/usr/bin/env bash
# Builds the host and the first-party plugins, collects the plugin libraries in .build/plugins/,
# and (re)registers them: `lathe plugins add --first-party` describes each library in a child
# process and writes its sha256 pin to registry/.pins/NAME.sha256 (git-ignored: the tracked
# registry/NAME.toml holds no pin, so a build leaves the checkout clean; the host verifies every
# library against its pin before loading it). Part of the normal build: the README's commands
# and scripts/test.sh run it.
#   usage: scripts/build-plugins.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-release}"
swift build -c "$CONFIG" --product lathe
swift build -c "$CONFIG" --product LatheUniform
swift build -c "$CONFIG" --product LatheKD
swift build -c "$CONFIG" --product LatheDistillLosses
swift build -c "$CONFIG" --product LatheLowBit
swift build -c "$CONFIG" --product LatheLearnable
swift build -c "$CONFIG" --product LatheFormats
swift build -c "$CONFIG" --product LatheCalib
swift build -c "$CONFIG" --product LatheLowRank
BIN="$(swift build -c "$CONFIG" --show-bin-path)"
OUT=.build/plugins
mkdir -p "$OUT"
# Copy through a temp name and rename, so a registered library is never half-written.
install_lib() { cp "$1" "$OUT/.$2.tmp" && mv "$OUT/.$2.tmp" "$OUT/$2"; }
install_lib "$BIN/libLatheUniform.so" libLatheUniform.so
install_lib "$BIN/libLatheKD.so" libLatheKD.so
install_lib "$BIN/libLatheDistillLosses.so" libLatheDistillLosses.so
install_lib "$BIN/libLatheLowBit.so" libLatheLowBit.so
install_lib "$BIN/libLatheLearnable.so" libLatheLearnable.so
install_lib "$BIN/libLatheFormats.so" libLatheFormats.so
install_lib "$BIN/libLatheCalib.so" libLatheCalib.so
install_lib "$BIN/libLatheLowRank.so" libLatheLowRank.so
# Rust: a cdylib from plain rustc (no crates), against the SDK's Rust bindings.
RUSTC="$(command -v rustc || echo "$HOME/.cargo/bin/rustc")"
"$RUSTC" --edition 2021 --crate-type cdylib -C opt-level=3 -C debuginfo=0 --remap-path-prefix="$PWD=." \
    -o "$OUT/.libprune.so.tmp" Plugins/rust-prune/src/lib.rs
mv "$OUT/.libprune.so.tmp" "$OUT/libprune.so"
for lib in libLatheUniform.so libLatheKD.so libLatheDistillLosses.so libLatheLowBit.so libLatheLearnable.so libLatheFormats.so libLatheCalib.so libLatheLowRank.so libprune.so; do
    "$BIN/lathe" plugins add "$OUT/$lib" --first-party --registry registry >/dev/null
done
"$BIN/lathe" plugins list --registry registry
