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
  # Refuse an install the disk cannot hold (pip would stop half way with "No space left on device"). The
  # complete environment is 6.8 GB: PyPI's x86_64 torch 2.14.1 is a CUDA build, 5.4 GB with its nvidia libraries
  # and triton; detectron2, napari and the test tools add 1.4 GB. ENV_DISK_MIB=0 skips it (a smaller torch build).
  need_mib=${ENV_DISK_MIB:-6500}
  free_mib=$(( $(df -Pk "$venv" | awk 'NR==2 {print $4}') / 1024 ))
  if [ "$free_mib" -lt "$need_mib" ]; then
    echo "setup_env.sh: $free_mib MiB free on $venv, the environment needs about $need_mib MiB: free disk space (or set VENV to another disk) and rerun" >&2
    exit 2
  fi
  $pip install -q $torch_packages
fi
"$venv/bin/python" tools/install_detectron2.py
$pip install -q -e ".[dev,napari]"   # napari: the plugin and its tests (tests/napari), ~40 s
"$venv/bin/python" -m celltrack.collect_env
