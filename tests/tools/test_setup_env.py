"""tools/setup_env.sh refuses, with one line and exit 2, an install the disk cannot hold."""
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "tools" / "setup_env.sh"


def test_too_little_disk_stops_before_torch_is_installed(tmp_path):
    venv = tmp_path / "env"
    result = subprocess.run(
        ["bash", str(SCRIPT), str(venv)], capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "ENV_DISK_MIB": str(10**12)},
    )
    assert result.returncode == 2, result.stderr
    assert f"MiB free on {tmp_path}" in result.stderr and "needs about 1000000000000 MiB" in result.stderr
    assert not list(venv.glob("lib/python*/site-packages/torch"))  # nothing half installed
