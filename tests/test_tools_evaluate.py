"""tools/evaluate.py scores a CTC result folder from the command line."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from celltrack.data import make_synthetic_sequence

SCRIPT = Path(__file__).parents[1] / "tools" / "evaluate.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_evaluate_cli(tmp_path):
    root = tmp_path / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=4, num_cells=4, height=64, width=64, seed=0)
    result = tmp_path / "01_RES"  # the GT tracking masks, renamed, are a perfect DET/TRA result
    result.mkdir()
    for path in sorted((root / "01_GT" / "TRA").glob("man_track*.tif")):
        shutil.copy(path, result / path.name.replace("man_track", "mask"))
    shutil.copy(root / "01_GT" / "TRA" / "man_track.txt", result / "res_track.txt")

    done = run(result, root / "01_GT", "--json", tmp_path / "scores.json")
    assert done.returncode == 0, done.stderr
    header, values = done.stdout.strip().splitlines()[-2:]
    assert header.split()[:3] == ["SEG", "DET", "TRA"] and values.split()[1:3] == ["1.0000", "1.0000"]
    scores = json.loads((tmp_path / "scores.json").read_text())["scores"]
    assert scores["TRA"] == 1.0 and scores["Valid"] == 1

    (result / "mask002.tif").unlink()
    failed = run(result, root / "01_GT")
    assert failed.returncode == 2 and "frame 2" in failed.stderr
