"""The environment record kept with benchmark results (``celltrack.collect_env``)."""
from pathlib import Path

from celltrack.collect_env import PACKAGES, machine, versions


def test_machine_and_versions_describe_this_run(tmp_path):
    info = machine()
    assert {"cpu", "cores", "platform", "torch_threads"} <= set(info) and info["cores"] >= 1
    found = versions(Path(__file__).parents[1])
    assert set(found) == {"python", "celltrack", *PACKAGES, "git"} and found["torch"] != "missing"
    assert versions(tmp_path)["git"] == "unknown"  # not a git checkout
