#!/usr/bin/env bash
# The main job: installs system packages, builds Lathe and its first-party plugins (release),
# runs the quickstart sweep (sweeps/quickstart.toml: quantizers, pruning criteria and
# distillation losses side by side, 3 seeds, each trial in its own process, then every model timed alone) and writes its
# report. Ends by printing the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build-plugins.sh release
LATHE=.build/release/lathe
# A fresh clone starts clean; a rerun completes (or reuses) the recorded sweep.
RESUME=()
[[ -f runs/quickstart/results.db ]] && RESUME=(--resume)
"$LATHE" sweep sweeps/quickstart.toml --out runs/quickstart "${RESUME[@]}" "$@"
