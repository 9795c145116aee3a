"""Print the environment CellTrack runs in: ``python -m celltrack.collect_env``."""
import platform
import sys
from pathlib import Path


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


if __name__ == "__main__":
    print(collect_env())
