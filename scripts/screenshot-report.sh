#!/usr/bin/env bash
# Takes a headless-Chromium screenshot of a report page (to check what a reader sees).
#   scripts/screenshot-report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
# Installs Debian's chromium (and a sans-serif font) when missing. Default window: 1400x2000.
set -euo pipefail
if (($# < 2)); then
    echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2
    exit 2
fi
page=$1 out=$2 size=${3:-1400x2000}
[[ -f "$page" ]] || { echo "screenshot-report: no such file: $page" >&2; exit 1; }
[[ "$size" =~ ^[0-9]+x[0-9]+$ ]] || { echo "screenshot-report: size '$size': expected WIDTHxHEIGHT" >&2; exit 2; }
if ! command -v chromium >/dev/null; then
    echo "screenshot-report: installing chromium" >&2
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
abs_page=$(realpath "$page")
# A file:// URL with the path percent-encoded (spaces, '#', '?').
url=$(python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).as_uri())' "$abs_page" 2>/dev/null || echo "file://$abs_page")
mkdir -p "$(dirname "$out")"
abs_out=$(realpath -m "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$abs_out"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$abs_out" --window-size="${size/x/,}" "$url" >/dev/null 2>"$profile/chromium.log" || {
    cat "$profile/chromium.log" >&2
    exit 1
}
[[ -s "$abs_out" ]] || { echo "screenshot-report: chromium wrote no screenshot" >&2; cat "$profile/chromium.log" >&2; exit 1; }
echo "$abs_out"
