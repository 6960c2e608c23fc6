#!/usr/bin/env bash
# Installs the Debian packages Lathe needs (idempotent). Runs apt-get update before installing.
#   libtorch-dev          the engine (libtorch 1.13, CPU) and its headers
#   libopenblas0-pthread  fast BLAS at run time (without it matmul uses the reference BLAS)
#   dataset-fashion-mnist the default data set
#   libdlpack-dev         <dlpack/dlpack.h>, the tensor view of the plugin ABI
#   libffi-dev            typed plugin calls
#   zlib1g-dev            gzip-compressed IDX files
#   gcc                   plugin fixtures and scaffolded C plugins are compiled by the tests
#   rustc                 only if no Rust toolchain is on PATH (the Rust first-party plugin)
#   python3-torch         the PyTorch peer for benchmarks (same libtorch), and the models the
#                         ONNX import tests write with torch.onnx.export
#   python3-pandas, python3-matplotlib  notebooks/ (run by the tests with /usr/bin/python3)
#   python3-venv          the project-local .venv holding scripts/python-requirements.txt
#                         (Python's safetensors, the oracle of the checkpoint format tests)
#   slurmctld slurmd slurm-client munge  the local Slurm of scripts/slurm-local.sh, which the Slurm
#                         executor's tests start (nothing is started here)
#   (scripts/screenshot-report.sh installs chromium itself when it is used)
set -euo pipefail
packages=(libtorch-dev libopenblas0-pthread dataset-fashion-mnist libdlpack-dev libffi-dev zlib1g-dev libsqlite3-dev python3-pandas python3-matplotlib python3-venv python3-torch slurmctld slurmd slurm-client munge)
command -v cc >/dev/null || packages+=(gcc libc6-dev)
command -v rustc >/dev/null || [[ -x "$HOME/.cargo/bin/rustc" ]] || packages+=(rustc)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests' Python packages, pinned, from PyPI into .venv (gitignored); skipped when the
# installed set already matches the requirements file.
root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/scripts/python-requirements.txt"
venv="$root/.venv"
if ! cmp -s "$requirements" "$venv/.installed-requirements.txt"; then
    echo "bootstrap: installing $(grep -v '^#' "$requirements" | tr '\n' ' ')into $venv" >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: -r "$requirements"
    cp "$requirements" "$venv/.installed-requirements.txt"
fi
