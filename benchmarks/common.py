"""What every benchmark script shares: paths, the shipped model, logging, scratch folders, the run's record."""
from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Tuple

import numpy as np

import celltrack  # noqa: F401  (compat shims before detectron2)
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The model a user gets: the one shipped in the package (celltrack/model_zoo).
DEFAULT_CONFIG = "celltrack/model_zoo/CellTrack-R18-FPN-cpu/config.yaml"
DEFAULT_WEIGHTS = "celltrack/model_zoo/CellTrack-R18-FPN-cpu/model_final.pth"
HEADS = ("visual", "spatial")


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


def fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    return folder


def timed(function, *arguments, **options) -> Tuple[object, float]:
    start = time.perf_counter()
    value = function(*arguments, **options)
    return value, time.perf_counter() - start


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "torch_threads": torch.get_num_threads()}
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "celltrack": celltrack.__version__}
    for package in ("torch", "detectron2", "py-ctcmetrics", "laptrack", "numpy", "scikit-image"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            import detectron2

            found[package] = getattr(detectron2, "__version__", "unknown") if package == "detectron2" else "missing"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        found["git"] = commit + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        found["git"] = "unknown"
    return found


def json_safe(value):
    """numpy numbers -> Python numbers, NaN and inf -> None (strict JSON), recursively."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
