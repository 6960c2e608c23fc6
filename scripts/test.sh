#!/usr/bin/env bash
# The test command: installs system packages, builds everything, runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# Builds lathe and the first-party plugins (C, Swift, Rust) and pins them (registry/.pins/, git-ignored).
scripts/build-plugins.sh debug
swift build --build-tests
swift test --skip-build
