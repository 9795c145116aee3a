#!/usr/bin/env python
"""Training and validation curves of a CellTrack run, and the detection thresholds chosen on validation frames.

    python benchmarks/training_curve.py --run output/cpu-v2 --config-file configs/CellTrack-R18-FPN-cpu.yaml

Validation frames are frames of a training movie the run never trained on (default Fluo-N2DH-SIM+ 01
frames 55-64, held back by the config's ``"Fluo-N2DH-SIM+/01[0:55]"``): every checkpoint of ``--run``
segments them, and py-ctcmetrics scores SEG and DET against their ground truth (cut to those frames).
On the last checkpoint, ``CELLTRACK.TRACKER.MIN_SCORE`` and ``CELLTRACK.MASK_OVERLAP_THRESHOLD`` are
swept on the same frames. Writes ``--out``/training_curve.json and training_curve.png (loss curve from
the run's metrics.json, validation curve, sweep). Never looks at a test sequence.
"""
from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import celltrack  # noqa: E402,F401
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.ctc import CTCTrackWriter, cut_ground_truth, load_ctc_sequence  # noqa: E402
from celltrack.data.movie import read_frame  # noqa: E402
from celltrack.evaluation import evaluate_ctc  # noqa: E402
from celltrack.tracking.linking import labels_from_masks  # noqa: E402
from celltrack.tracking.predictor import CellTrackPredictor, suppress_overlapping_masks  # noqa: E402

HERE = Path(__file__).resolve().parent


def segment(frames: list, min_score: float, overlap: float, out: Path) -> Path:
    """Detected cells of cached raw detections, filtered, written as a CTC result (identities unused)."""
    writer = CTCTrackWriter(out, num_frames=len(frames))
    for frame, cells in enumerate(frames):
        cells = cells[cells.scores >= min_score]
        if len(cells) > 1:
            cells = cells[torch.as_tensor(suppress_overlapping_masks(cells.pred_masks.numpy(), overlap))]
        labels = labels_from_masks(cells.pred_masks.numpy()) if len(cells) else np.zeros(frames[0].image_size, np.int32)
        writer.write_frame(frame, labels)
    writer.close({})
    return out


def detect_all(cfg, weights: Path, images: list) -> list:
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    cfg.CELLTRACK.TRACKER.MIN_SCORE = 0.05
    predictor = CellTrackPredictor(cfg)
    return [predictor.detect(image) for image in images]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="OUTPUT_DIR of a training run (checkpoints, metrics.json)")
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--validation", default="Fluo-N2DH-SIM+/01[55:65]", help="held-back frames")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file)
    dataset, sequence, first, stop = re.fullmatch(r"(.+)/(\w+)\[(\d+):(\d+)\]", args.validation).groups()
    first, stop, root = int(first), int(stop), Path(args.data) / dataset
    records = [r for r in load_ctc_sequence(root, sequence) if first <= r["frame"] < stop]
    images = [read_frame(r["file_name"], r["frame"]) for r in records]
    run = Path(args.run)
    checkpoints = sorted(run.glob("model_*.pth"), key=lambda p: (p.stem == "model_final", p.stem))
    result = {"validation": args.validation, "command": "python benchmarks/training_curve.py --run RUN "
              f"--config-file {args.config_file} --validation '{args.validation}'", "checkpoints": [], "sweep": []}
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        gt = cut_ground_truth(root, sequence, first, stop, temporary / "GT")
        min_score, overlap = cfg.CELLTRACK.TRACKER.MIN_SCORE, cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD
        for checkpoint in checkpoints:
            frames = detect_all(cfg, checkpoint, images)
            scores = evaluate_ctc(segment(frames, min_score, overlap, temporary / checkpoint.stem), gt,
                                  metrics=("SEG", "DET"))
            iteration = int(checkpoint.stem.split("_")[1]) + 1 if checkpoint.stem != "model_final" else cfg.SOLVER.MAX_ITER
            result["checkpoints"].append({"iteration": iteration, "file": checkpoint.name, **scores})
            print(result["checkpoints"][-1], flush=True)
        for score in (0.3, 0.4, 0.5, 0.6, 0.7):
            for overlap in (0.3, 0.5, 0.7, 1.0):
                scores = evaluate_ctc(segment(frames, score, overlap, temporary / f"s{score}-{overlap}"), gt,
                                      metrics=("SEG", "DET"))
                result["sweep"].append({"MIN_SCORE": score, "MASK_OVERLAP_THRESHOLD": overlap, **scores})
                print(result["sweep"][-1], flush=True)
    # The choice: highest DET, then SEG; among equals the higher MIN_SCORE and the lower overlap threshold.
    best = max(result["sweep"], key=lambda r: (round(r["DET"], 4), round(r["SEG"], 4), r["MIN_SCORE"],
                                               -r["MASK_OVERLAP_THRESHOLD"]))
    result["chosen"] = {"MIN_SCORE": best["MIN_SCORE"], "MASK_OVERLAP_THRESHOLD": best["MASK_OVERLAP_THRESHOLD"],
                        "rule": "highest DET, then SEG, on the validation frames; ties: higher MIN_SCORE, lower overlap"}
    print(f"chosen: {result['chosen']}")
    losses = [json.loads(line) for line in (run / "metrics.json").read_text().splitlines() if line.strip()]
    losses = [m for m in losses if "total_loss" in m]
    result["loss"] = [{"iteration": m["iteration"] + 1, "total_loss": m["total_loss"], "loss_mask": m.get("loss_mask"),
                       "loss_track": m.get("loss_track")} for m in losses]
    out = Path(args.out)
    (out / "training_curve.json").write_text(json.dumps(result, indent=1) + "\n")
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].plot([m["iteration"] for m in result["loss"]], [m["total_loss"] for m in result["loss"]], label="total")
    axes[0].plot([m["iteration"] for m in result["loss"]], [m["loss_mask"] for m in result["loss"]], label="mask")
    axes[0].plot([m["iteration"] for m in result["loss"]], [m["loss_track"] for m in result["loss"]], label="track")
    axes[0].set(xlabel="iteration", ylabel="training loss", title="loss (training crops)")
    axes[0].legend()
    for key in ("DET", "SEG"):
        axes[1].plot([c["iteration"] for c in result["checkpoints"]], [c[key] for c in result["checkpoints"]], "o-", label=key)
    axes[1].set(xlabel="iteration", title=f"validation: {args.validation} (held back)", ylim=(0, 1))
    axes[1].legend()
    for overlap in (0.3, 0.5, 0.7, 1.0):
        rows = [s for s in result["sweep"] if s["MASK_OVERLAP_THRESHOLD"] == overlap]
        axes[2].plot([s["MIN_SCORE"] for s in rows], [s["DET"] for s in rows], "o-", label=f"overlap {overlap}")
    axes[2].set(xlabel="MIN_SCORE", ylabel="DET", title="thresholds, last checkpoint")
    axes[2].legend()
    figure.tight_layout()
    figure.savefig(out / "training_curve.png", dpi=80)
    print(f"wrote {out / 'training_curve.json'} and {out / 'training_curve.png'}")


if __name__ == "__main__":
    main()
