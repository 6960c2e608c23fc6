#!/usr/bin/env bash
# The test command: installs system packages, builds everything, runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build
