"""What every benchmark script shares: paths, the shipped model, logging, scratch folders, tools/track_video.py."""
from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np

import celltrack  # noqa: F401  (compat shims before detectron2)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The model a user gets: the one shipped in the package (celltrack/model_zoo).
DEFAULT_CONFIG = "celltrack/model_zoo/CellTrack-R18-FPN-cpu/config.yaml"
DEFAULT_WEIGHTS = "celltrack/model_zoo/CellTrack-R18-FPN-cpu/model_final.pth"
HEADS = ("visual", "spatial")


def data_folder(given) -> Path:
    """The CTC data: ``--data``, else $CELLTRACK_DATA, else ../shared/data next to the repository."""
    return Path(given or os.environ.get("CELLTRACK_DATA") or REPO.parent / "shared" / "data")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


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


def track_video(arguments: List[str], log_path: Path) -> Tuple[int, float, int, List[str]]:
    """Run tools/track_video.py with ``arguments`` (its output to ``log_path``); return its peak resident memory
    (bytes), wall seconds, exit status and the command."""
    command = [sys.executable, str(REPO / "tools" / "track_video.py"), *arguments]
    start = time.perf_counter()
    with open(log_path, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of this child alone
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen, so it does not wait again
    return usage.ru_maxrss * 1024, time.perf_counter() - start, process.returncode, command  # Linux reports KiB


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
