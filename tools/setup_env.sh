#!/usr/bin/env bash
# Create (or complete) CellTrack's virtual environment: torch, detectron2, then celltrack itself.
# Usage: tools/setup_env.sh VENV   (the Makefile calls it; TORCH_PACKAGES and PYTHON may be overridden)
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
torch_packages=${TORCH_PACKAGES:-"torch==2.14.1 torchvision==0.29.1"}

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip="$venv/bin/python -m pip"
# Install torch only if absent, so a user's own CUDA build stays.
if ! "$venv/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  $pip install -q $torch_packages
fi
"$venv/bin/python" tools/install_detectron2.py
$pip install -q -e ".[dev,napari]"   # napari: the plugin and its tests (tests/napari), ~40 s
"$venv/bin/python" -m celltrack.collect_env
