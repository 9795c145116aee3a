#!/usr/bin/env python
"""Linking on held-back frames: the tracker rules on ground-truth cells the linker never trained on.

    python benchmarks/linker_validation.py [--config-file CONFIG] [--weights WEIGHTS]

Fluo-N2DH-SIM+ 01 frames 55-64 are held back from every training step of the shipped model (detector and
linker train on ``Fluo-N2DH-SIM+/01[0:55]``). Their ground-truth cells (identities removed) are linked by
each tracker rule of CellTrack and by the tuned laptrack, and scored with py-ctcmetrics. This is where
the default rule is chosen; the test sequence (SIM+ 02) is never used for it. Writes
benchmarks/linker_validation.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import celltrack  # noqa: E402,F401
from baselines import laptrack_options, link_laptrack  # noqa: E402
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.movie import read_frame  # noqa: E402
from celltrack.evaluation import evaluate_ctc  # noqa: E402
from celltrack.tracking.frame_loop import track_frames  # noqa: E402
from celltrack.tracking.predictor import CellTrackPredictor  # noqa: E402
from celltrack.tracking.sinks import CTCResultSink  # noqa: E402
from training_curve import cut_ground_truth  # noqa: E402

METRICS = ("TRA", "CT", "BC(2)", "BIO(2)")
RULES = ("learned", "global", "paper")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", default="celltrack/model_zoo/CellTrack-R18-FPN-cpu/config.yaml")
    parser.add_argument("--weights", default="celltrack/model_zoo/CellTrack-R18-FPN-cpu/model_final.pth")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--frames", type=int, nargs=2, default=(55, 65), help="first, stop")
    args = parser.parse_args()
    root, (first, stop) = Path(args.data) / "Fluo-N2DH-SIM+", args.frames
    images = [read_frame(root / "01" / f"t{t:03d}.tif", t) for t in range(first, stop)]
    labels = [read_frame(root / "01_GT" / "SEG" / f"man_seg{t:03d}.tif", t).astype(np.int32) for t in range(first, stop)]
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        gt = cut_ground_truth(root, "01", first, stop, temporary / "GT")
        for rule in RULES:
            cfg = get_celltrack_cfg(args.config_file, ["MODEL.WEIGHTS", args.weights, "CELLTRACK.TRACKER.METHOD", rule])
            predictor = CellTrackPredictor(cfg)
            track_frames(zip(images, labels), predictor.segment, predictor.make_tracker(),
                         [CTCResultSink(temporary / rule, num_frames=len(images))])
            rows.append({"method": f"celltrack ({rule})", **evaluate_ctc(temporary / rule, gt, metrics=METRICS)})
            print({k: rows[-1][k] for k in ("method", *METRICS, "divisions")}, flush=True)
        link_laptrack(labels, temporary / "laptrack", **laptrack_options()[0])
        rows.append({"method": "laptrack (tuned on SIM+ 01)", **evaluate_ctc(temporary / "laptrack", gt, metrics=METRICS)})
        print({k: rows[-1][k] for k in ("method", *METRICS, "divisions")}, flush=True)
    result = {"command": "python benchmarks/linker_validation.py", "frames": f"Fluo-N2DH-SIM+ 01 [{first}:{stop}]",
              "config_file": args.config_file, "rows": rows}
    (HERE / "linker_validation.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"wrote {HERE / 'linker_validation.json'}")


if __name__ == "__main__":
    main()
