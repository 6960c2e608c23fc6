#!/usr/bin/env bash
# (Re)writes docs/sweep-spec.md, the sweep spec reference, from the schema the validator uses
# (`lathe sweep --spec-reference`). The SpecReferenceTests drift test fails until it is rerun
# after a key, a default, a choice or a range changes.
#   usage: scripts/gen-spec-doc.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-debug}"
swift build -c "$CONFIG" --product lathe
BIN="$(swift build -c "$CONFIG" --show-bin-path)"
mkdir -p docs
# Through a temp file and a rename, so a failed run leaves the old reference in place.
tmp=$(mktemp docs/.sweep-spec.md.XXXXXX)
trap 'rm -f "$tmp"' EXIT
"$BIN/lathe" sweep --spec-reference >"$tmp"
chmod 644 "$tmp"
mv "$tmp" docs/sweep-spec.md
trap - EXIT
echo "wrote docs/sweep-spec.md"
