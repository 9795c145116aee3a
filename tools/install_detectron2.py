#!/usr/bin/env python
"""Make detectron2 importable in the running Python environment.

* If ``import detectron2`` already works (for example the official build from source, with its compiled
  ops), it is used untouched.
* Otherwise the Python package of the PyPI sdist ``pb1-detectron2==0.6`` (the official v0.6 Python sources,
  byte for byte, without the C++ sources, so pip cannot build it) is downloaded with pip, its sha256 is
  checked, it is unpacked unchanged under ``<env>/src/`` and a ``.pth`` file puts it on ``sys.path``.
  ``celltrack.compat`` then supplies what the missing compiled extension and newer libraries break.

Run it with the environment's own interpreter: ``.venv/bin/python tools/install_detectron2.py``.
"""
import hashlib
import importlib.util
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

SDIST = "pb1-detectron2==0.6"
SDIST_FILE = "pb1-detectron2-0.6.tar.gz"
SDIST_SHA256 = "5d2e9e51e523ec72f6a31cca04b0a515492e9514b773a3d134cedc0677170b29"
PTH_NAME = "detectron2-pb1.pth"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    site_packages = Path(sysconfig.get_paths()["purelib"])
    pth = site_packages / PTH_NAME
    spec = importlib.util.find_spec("detectron2")
    if spec is not None and not pth.exists():
        print(f"detectron2 already importable from {Path(spec.origin).parent}: using it untouched")
        return 0
    if spec is not None:
        print(f"detectron2 (registry copy) already installed via {pth}")
        return 0

    target = Path(sys.prefix) / "src"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # --no-build-isolation: pip still prepares metadata, and the sdist's setup.py imports torch.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--no-build-isolation", "-q", "-d", tmp, SDIST],
            check=True,
        )
        archive = Path(tmp) / SDIST_FILE
        digest = sha256(archive)
        if digest != SDIST_SHA256:
            sys.exit(
                f"error: {archive.name} has sha256 {digest}, expected {SDIST_SHA256}. The registry copy "
                f"of detectron2 changed; refusing to install it. Build the official detectron2 instead "
                f"(see README.md, 'Official detectron2')."
            )
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("pb1-detectron2-0.6/detectron2/")]
            tar.extractall(target, members=members, filter="data")
    package_root = target / "pb1-detectron2-0.6"
    pth.write_text(f"{package_root}\n")
    print(f"installed detectron2 0.6 (Python-only registry copy, sha256 verified) at {package_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
