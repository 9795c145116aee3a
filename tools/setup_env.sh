#!/usr/bin/env bash
# Create (or complete) CellTrack's virtual environment: torch, detectron2, then celltrack itself.
# Usage: tools/setup_env.sh VENV   (the Makefile calls it; TORCH_PACKAGES and PYTHON may be overridden)
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
torch_packages=${TORCH_PACKAGES:-"torch==2.14.1 torchvision==0.29.1"}

# Refuse to start an install the disk cannot hold (pip would stop half way with "No space left on device").
# MiB measured in a complete environment: PyPI's x86_64 torch 2.14.1 is a CUDA build, 5.4 GB with its nvidia
# libraries and triton; detectron2, napari and the test tools add 1.4 GB. The check asks a little less.
need_mib() {
  local want=$1 dir
  dir=$(realpath -m "$venv")
  while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  local free_kib
  free_kib=$(df -Pk "$dir" | awk 'NR==2 {print $4}')
  if [ "$free_kib" -lt $((want * 1024)) ]; then
    echo "setup_env.sh: $((free_kib / 1024)) MiB free on $dir, the environment needs about $want MiB: free disk space (or set VENV to another disk) and rerun" >&2
    exit 2
  fi
}

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip="$venv/bin/python -m pip"
# Install torch only if absent, so a user's own CUDA build stays.
if ! "$venv/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  need_mib "${ENV_DISK_MIB:-6500}"   # ENV_DISK_MIB=0 skips the check (a smaller TORCH_PACKAGES build)
  $pip install -q $torch_packages
fi
"$venv/bin/python" tools/install_detectron2.py
$pip install -q -e ".[dev,napari]"   # napari: the plugin and its tests (tests/napari), ~40 s
"$venv/bin/python" -m celltrack.collect_env
