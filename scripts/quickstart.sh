#!/usr/bin/env bash
# The main job: installs system packages, builds Lathe (release), trains LeNet-5 on
# Fashion-MNIST with the default recipe and evaluates the checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build-plugins.sh release
LATHE="$(swift build -c release --show-bin-path)/lathe"
"$LATHE" train --model lenet5 --epochs 10 --out runs/quickstart-lenet5 "$@"
"$LATHE" eval runs/quickstart-lenet5/model.safetensors
