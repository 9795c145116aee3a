"""tools/train_net.py as users run it: one process, and two CPU processes through detectron2's launch."""
import subprocess
import sys
from pathlib import Path

from celltrack.data.synthetic import make_synthetic_sequence

REPO = Path(__file__).parents[2]


def train(tmp_path, *extra):
    root = tmp_path / "data"
    make_synthetic_sequence(root / "Synthetic", "01", num_frames=4, num_cells=4, height=96, width=96, seed=0)
    command = [
        sys.executable, str(REPO / "tools" / "train_net.py"),
        "--config-file", str(REPO / "configs" / "CellTrack-R18-FPN-tiny.yaml"), *extra,
        "DATASETS.TRAIN", "('Synthetic/01',)", "DATASETS.TEST", "()", "CELLTRACK.DATA_ROOT", str(root),
        "SOLVER.MAX_ITER", "3", "SOLVER.WARMUP_ITERS", "1", "SOLVER.STEPS", "()", "SOLVER.CHECKPOINT_PERIOD", "2",
        "OUTPUT_DIR", str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_train_then_resume(tmp_path):
    first = train(tmp_path)
    assert (tmp_path / "out" / "model_final.pth").exists()
    assert "FREEZE_AT 2 with no MODEL.WEIGHTS" in first.stdout + first.stderr  # random stem and res2, frozen
    resumed = train(tmp_path, "--resume")
    assert "Starting training from iteration 3" in resumed.stdout


def test_two_process_cpu_distributed_training(tmp_path):
    result = train(tmp_path, "--num-gpus", "2", "--dist-url", "auto", "MODEL.BACKBONE.FREEZE_AT", "0")
    log = (tmp_path / "out" / "log.txt").read_text()
    assert "World size: 2" in log and "with no MODEL.WEIGHTS" not in log
    assert "loss_track" in log and (tmp_path / "out" / "model_final.pth").exists(), result.stderr[-2000:]


def test_train_only_fine_tunes_the_named_modules_and_keeps_the_rest(tmp_path):
    import torch

    train(tmp_path / "first")
    start = tmp_path / "first" / "out" / "model_final.pth"
    train(tmp_path / "heads", "MODEL.WEIGHTS", str(start), "CELLTRACK.TRAIN_ONLY", "('roi_heads.mask_head',)")
    before = torch.load(start, map_location="cpu", weights_only=False)["model"]
    after = torch.load(tmp_path / "heads" / "out" / "model_final.pth", map_location="cpu", weights_only=False)["model"]
    changed = {name for name in before if not torch.equal(before[name].float(), after[name].float())}
    assert changed and all(name.startswith("roi_heads.mask_head.") for name in changed), sorted(changed)[:5]


def test_train_only_naming_no_module_is_a_user_error(tmp_path):
    root = tmp_path / "data"
    make_synthetic_sequence(root / "Synthetic", "01", num_frames=2, num_cells=2, height=64, width=64, seed=0)
    result = subprocess.run([
        sys.executable, str(REPO / "tools" / "train_net.py"),
        "--config-file", str(REPO / "configs" / "CellTrack-R18-FPN-tiny.yaml"), "DATASETS.TRAIN", "('Synthetic/01',)",
        "DATASETS.TEST", "()", "CELLTRACK.DATA_ROOT", str(root), "CELLTRACK.TRAIN_ONLY", "('roi_heads.mask',)",
        "OUTPUT_DIR", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]  # detectron2's log lines come first
    assert "Traceback" not in result.stderr and last.startswith("error: CELLTRACK.TRAIN_ONLY names roi_heads.mask,")
    assert "roi_heads.mask_head" in last
