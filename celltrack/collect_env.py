"""The environment CellTrack runs in: ``python -m celltrack.collect_env`` prints it; :func:`machine` and
:func:`versions` record it (e.g. with benchmark results)."""
import os
import platform
import subprocess
import sys
from pathlib import Path

# The packages whose versions a result depends on (distribution names).
PACKAGES = ("torch", "detectron2", "py-ctcmetrics", "laptrack", "numpy", "scikit-image")


def collect_env() -> str:
    import torch

    from celltrack import compat  # installs shims before detectron2 loads
    import detectron2

    d2_path = Path(detectron2.__file__).parent
    source = (
        "registry copy pb1-detectron2 0.6 (Python only)"
        if "pb1-detectron2" in str(d2_path)
        else "user-installed (e.g. official build from source)"
    )
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} device(s))"
    else:
        device = "cpu"
    rows = [
        ("Python", sys.version.split()[0]),
        ("platform", platform.platform()),
        ("torch", f"{torch.__version__} (threads: {torch.get_num_threads()})"),
        ("device", device),
        ("detectron2", f"{detectron2.__version__} at {d2_path}"),
        ("detectron2 source", source),
        ("detectron2 compiled ops", "yes" if compat.has_compiled_ops() else "no (rotated boxes, deformable conv unavailable)"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def machine() -> dict:
    """{"cpu" (model name), "cores", "platform", "torch_threads", "memory_gb" (where known), "gpu" (if any)}."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
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


def versions(repo=None) -> dict:
    """{"python", "celltrack", each of ``PACKAGES`` ("missing" when absent), "git"}: "git" is the commit of the
    checkout ``repo`` (default: the one holding this package), "(uncommitted changes)" added when dirty."""
    from importlib.metadata import PackageNotFoundError, version

    import celltrack

    found = {"python": platform.python_version(), "celltrack": celltrack.__version__}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            import detectron2

            found[package] = getattr(detectron2, "__version__", "unknown") if package == "detectron2" else "missing"
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                               text=True).stdout.strip()
        found["git"] = commit + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        found["git"] = "unknown"
    return found


if __name__ == "__main__":
    print(collect_env())
