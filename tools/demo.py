#!/usr/bin/env python
"""`make demo`: CellTrack from nothing to a tracked, scored movie, on CPU, in one command.

1. Generate two synthetic time-lapse movies with exact ground truth (celltrack.data.synthetic).
2. Train a small CellTrack on the first (configs/CellTrack-R18-FPN-demo.yaml).
3. Track the second with tools/track_video.py.
4. Score it with the official CTC measures through tools/evaluate.py.

Everything lands in one folder (default demo_output/). Re-running reuses the generated data and the
trained model; pass --fresh to start over.
"""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import celltrack  # noqa: F401  (compat shims + registrations, before detectron2)
from celltrack.cli import ToolParser, tool
from celltrack.config import get_celltrack_cfg
from celltrack.data import make_synthetic_sequence, register_ctc_dataset
from celltrack.trainer import CellTrackTrainer

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "CellTrack-R18-FPN-demo.yaml"
MOVIE = dict(num_frames=40, num_cells=10, height=192, width=192, cell_radius=(8.0, 12.0), cell_cycle=(20, 50))


def run(*command) -> None:
    """Run a CellTrack tool; if it fails, it has said why: stop with its exit status."""
    print("$", " ".join(map(str, command)), flush=True)
    status = subprocess.run([sys.executable, *map(str, command)], cwd=REPO).returncode
    if status:
        raise SystemExit(status)


@tool()
def main(argv=None) -> int:
    parser = ToolParser(description=__doc__)
    parser.add_argument("--output", default=str(REPO / "demo_output"), help="demo folder (default demo_output/)")
    parser.add_argument("--fresh", action="store_true", help="delete the demo folder first")
    parser.add_argument("opts", nargs="*", help="config overrides for training, e.g. SOLVER.MAX_ITER 100")
    args = parser.parse_intermixed_args(argv)
    out = Path(args.output).resolve()
    if args.fresh and out.exists():
        shutil.rmtree(out)
    began = time.perf_counter()

    data = out / "data" / "Synthetic"
    for sequence, seed in (("01", 1), ("02", 2)):
        if not (data / f"{sequence}_GT" / "TRA" / "man_track.txt").exists():
            make_synthetic_sequence(data, sequence, seed=seed, **MOVIE)
    print(f"synthetic movies: {data}/01 (training), {data}/02 (tracking)")

    weights = out / "model" / "model_final.pth"
    if not weights.exists():
        register_ctc_dataset("demo-synthetic/01", data, sequences=["01"])
        cfg = get_celltrack_cfg(str(CONFIG), ["DATASETS.TRAIN", "('demo-synthetic/01',)", "DATASETS.TEST", "()",
                                              "OUTPUT_DIR", str(out / "model"), *args.opts])
        trainer = CellTrackTrainer(cfg)
        trainer.resume_or_load(resume=True)
        trainer.train()
    trained = time.perf_counter()

    tracking = out / "tracking"
    run("tools/track_video.py", data / "02", "--config-file", CONFIG, "--weights", weights, "--output", tracking,
        "--overwrite")
    run("tools/evaluate.py", tracking / "res", data / "02_GT", "--json", out / "metrics.json")
    scores = json.loads((out / "metrics.json").read_text())["scores"]
    summary = json.loads((tracking / "summary.json").read_text())
    print(f"\nCellTrack demo finished in {time.perf_counter() - began:.0f} s "
          f"(training {trained - began:.0f} s).")
    print(f"  TRA {scores.get('TRA', float('nan')):.3f}  DET {scores.get('DET', float('nan')):.3f}  "
          f"SEG {scores.get('SEG', float('nan')):.3f}  cells {summary['cells']}  tracks {summary['tracks']}  "
          f"divisions {summary['divisions']}")
    print(f"  results:  {tracking}/res (CTC), tracks.csv, overlay.mp4 (frames in overlay/), lineage.png")
    print(f"  metrics:  {out / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
