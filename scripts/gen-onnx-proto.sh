#!/usr/bin/env bash
# Generates Sources/LatheONNX/Generated/onnx.pb.swift (the Swift types of the ONNX schema) from
# Sources/LatheONNX/Proto/onnx.proto. The generated file is committed: builds and CI never run this
# script, so they need neither protoc nor swift-protobuf's plugin (whose first build takes minutes).
# Run it again only after changing onnx.proto or the swift-protobuf version in Package.swift.
#
# What it does:
#   1. installs protoc from Debian's protobuf-compiler if `protoc` is missing;
#   2. checks out apple/swift-protobuf at the version Package.swift names (git resolves github.com
#      as usual, through its url.insteadOf settings where there are any) and builds its
#      protoc-gen-swift in release mode, outside the repository (LATHE_PROTOGEN_DIR, default
#      /tmp/lathe-protoc-gen-swift; kept between runs, so a second run builds nothing);
#   3. runs protoc with --swift_out (Visibility=Public: LatheONNX's public API returns these types)
#      and replaces the generated file only once protoc has succeeded.
# Idempotent: the same inputs give a byte-identical onnx.pb.swift.
#
# Usage: scripts/gen-onnx-proto.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO_DIR="$ROOT/Sources/LatheONNX/Proto"
OUT_DIR="$ROOT/Sources/LatheONNX/Generated"
WORK="${LATHE_PROTOGEN_DIR:-/tmp/lathe-protoc-gen-swift}"
start=$SECONDS

# The version of swift-protobuf that Package.swift depends on: the generator must match the runtime.
VERSION="$(sed -nE 's|.*"https://github.com/apple/swift-protobuf", *(from\|exact): *"([0-9]+\.[0-9]+\.[0-9]+)".*|\2|p' "$ROOT/Package.swift" | head -n 1)"
if [[ -z "$VERSION" ]]; then
    echo "gen-onnx-proto: no swift-protobuf version (from: or exact:) found in $ROOT/Package.swift" >&2
    exit 1
fi

# 1. protoc
if ! command -v protoc >/dev/null 2>&1; then
    echo "gen-onnx-proto: protoc not found; installing Debian's protobuf-compiler" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y protobuf-compiler
fi

# 2. protoc-gen-swift at $VERSION
SRC="$WORK/swift-protobuf-$VERSION"
if [[ -d "$SRC/.git" ]] && [[ "$(git -C "$SRC" describe --tags --exact-match 2>/dev/null || true)" != "$VERSION" ]]; then
    rm -rf "$SRC" # not the tag we want (or a broken checkout): start again
fi
if [[ ! -d "$SRC/.git" ]]; then
    mkdir -p "$WORK"
    rm -rf "$SRC.tmp"
    git -c advice.detachedHead=false clone --quiet --branch "$VERSION" https://github.com/apple/swift-protobuf "$SRC.tmp"
    mv "$SRC.tmp" "$SRC"
fi
echo "gen-onnx-proto: building protoc-gen-swift $VERSION in $WORK (a first build takes minutes)" >&2
swift build --package-path "$SRC" --product protoc-gen-swift -c release --scratch-path "$WORK/build-$VERSION" >&2
PLUGIN="$(swift build --package-path "$SRC" -c release --scratch-path "$WORK/build-$VERSION" --show-bin-path)/protoc-gen-swift"
PLUGIN_VERSION="$("$PLUGIN" --version)"
if [[ "$PLUGIN_VERSION" != "protoc-gen-swift $VERSION" ]]; then
    echo "gen-onnx-proto: $PLUGIN reports '$PLUGIN_VERSION', expected protoc-gen-swift $VERSION" >&2
    exit 1
fi

# 3. generate into a temporary folder, then replace the committed file
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
protoc \
    --plugin="protoc-gen-swift=$PLUGIN" \
    --swift_opt=Visibility=Public \
    --swift_out="$TMP" \
    --proto_path="$PROTO_DIR" \
    onnx.proto
mkdir -p "$OUT_DIR"
mv "$TMP/onnx.pb.swift" "$OUT_DIR/onnx.pb.swift"

echo "gen-onnx-proto: wrote ${OUT_DIR#"$ROOT"/}/onnx.pb.swift ($(wc -l <"$OUT_DIR/onnx.pb.swift") lines) with $(protoc --version) and $PLUGIN_VERSION in $((SECONDS - start)) s" >&2
