#!/usr/bin/env bash
# The test command: installs system packages, builds everything, runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# Builds lathe and the first-party plugins (C, Swift, Rust) and pins them (registry/.pins/, git-ignored).
scripts/build-plugins.sh debug
swift build --build-tests
# The Slurm executor's tests start the local Slurm (scripts/slurm-local.sh) and leave it running;
# stop it afterwards unless it ran before.
slurm_was_running=0
scripts/slurm-local.sh status >/dev/null 2>&1 && slurm_was_running=1
trap '((slurm_was_running)) || scripts/slurm-local.sh stop >/dev/null 2>&1 || true' EXIT
swift test --skip-build
