#!/usr/bin/env python
"""Training and validation curves of a CellTrack run, and the detection thresholds chosen on validation frames.

    python benchmarks/training_curve.py --run output/cpu-v2 --config-file configs/CellTrack-R18-FPN-cpu.yaml

Validation frames are frames of a training movie the run never trained on (default Fluo-N2DH-SIM+ 01
frames 55-64, held back by the config's ``"Fluo-N2DH-SIM+/01[0:55]"``): every checkpoint of ``--run``
segments them, as acquired and under linker_validation's ``DIMMER`` acquisition (``SEG_dimmer``,
``DET_dimmer``), and py-ctcmetrics scores SEG and DET against their ground truth (cut to those frames).
A run that continued an earlier one (``MODEL.WEIGHTS`` of a finished run): ``--continues`` the earlier
curve's JSON and ``--start`` the weights it started from; the earlier curve comes first, this run's
iterations follow on from it, and the start weights are scored as its last point.
On the last checkpoint, ``CELLTRACK.MASK_BOX_SCALE`` is chosen by the mean SEG as acquired and dimmer, then
``CELLTRACK.TRACKER.MIN_SCORE`` and ``CELLTRACK.MASK_OVERLAP_THRESHOLD`` by the mean DET (then SEG). Writes
``--out``/training_curve.json and training_curve.png (loss curve from the run's metrics.json, validation
curve, sweep). Never looks at a test sequence.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
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
from celltrack.data.mapper import photometric_augment  # noqa: E402
from celltrack.data.movie import read_frame  # noqa: E402
from celltrack.data.normalize import percentile_normalize  # noqa: E402
from celltrack.evaluation import evaluate_ctc  # noqa: E402
from celltrack.tracking.linking import labels_from_masks  # noqa: E402
from celltrack.tracking.predictor import CellTrackPredictor, suppress_overlapping_masks  # noqa: E402
from linker_validation import DIMMER  # noqa: E402

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


def held_back_frames(data: str, validation: str) -> tuple:
    """``(dataset folder, sequence, first, stop)`` of a validation spec ``"<dataset>/<sequence>[first:stop]"``."""
    match = re.fullmatch(r"(.+)/(\w+)\[(\d+):(\d+)\]", validation)
    if match is None:
        print(f"error: --validation {validation!r}: expected '<dataset>/<sequence>[first:stop]', "
              "e.g. 'Fluo-N2DH-SIM+/01[55:65]'", file=sys.stderr)
        raise SystemExit(2)
    dataset, sequence, first, stop = match.groups()
    return Path(data) / dataset, sequence, int(first), int(stop)


def validation_versions(root: Path, sequence: str, first: int, stop: int) -> dict:
    """Frames ``first:stop`` of a sequence as acquired (suffix "") and under ``DIMMER`` ("_dimmer")."""
    records = [r for r in load_ctc_sequence(root, sequence) if first <= r["frame"] < stop]
    images = [read_frame(r["file_name"], r["frame"]) for r in records]
    rng = np.random.default_rng(0)
    dimmer = [(photometric_augment(percentile_normalize(image), DIMMER, rng=rng) * 65535).astype(np.uint16)
              for image in images]
    return {"": images, "_dimmer": dimmer}


def detect_all(cfg, weights: Path, versions: dict, box_scale: float = 1.0, mask_threshold: float = 0.5,
               mask_flip: bool = False) -> dict:
    """Raw detections (score >= 0.05) of each version of the validation frames ({suffix: images})."""
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    cfg.CELLTRACK.TRACKER.MIN_SCORE = 0.05
    cfg.CELLTRACK.MASK_BOX_SCALE = box_scale
    cfg.CELLTRACK.MASK_THRESHOLD = mask_threshold
    cfg.CELLTRACK.MASK_FLIP = mask_flip
    predictor = CellTrackPredictor(cfg)
    return {suffix: [predictor.detect(image) for image in images] for suffix, images in versions.items()}


def scored(detected: dict, min_score: float, overlap: float, gt: Path, out: Path) -> dict:
    """SEG and DET (py-ctcmetrics) of each version's detections, keys suffixed by the version."""
    row = {}
    for suffix, frames in detected.items():
        result = segment(frames, min_score, overlap, out.with_name(out.name + suffix))
        row.update({f"{key}{suffix}": value for key, value in evaluate_ctc(result, gt, metrics=("SEG", "DET")).items()})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="OUTPUT_DIR of a training run (checkpoints, metrics.json)")
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--validation", default="Fluo-N2DH-SIM+/01[55:65]", help="held-back frames")
    parser.add_argument("--out", default=str(HERE))
    parser.add_argument("--continues", help="training_curve.json of the run this one continued")
    parser.add_argument("--start", help="the weights this run started from (MODEL.WEIGHTS), scored first")
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file)
    root, sequence, first, stop = held_back_frames(args.data, args.validation)
    versions = validation_versions(root, sequence, first, stop)
    run = Path(args.run)
    checkpoints = sorted(run.glob("model_*.pth"), key=lambda p: (p.stem == "model_final", p.stem))
    earlier = json.loads(Path(args.continues).read_text()) if args.continues else {"checkpoints": [], "loss": []}
    offset = earlier["checkpoints"][-1]["iteration"] if earlier["checkpoints"] else 0
    command = (f"python benchmarks/training_curve.py --run RUN --config-file {args.config_file} --validation "
               f"'{args.validation}'" + (f" --continues {args.continues} --start {args.start}" if args.continues else ""))
    result = {"validation": args.validation, "command": command,
              "checkpoints": [dict(c, run="earlier") for c in earlier["checkpoints"]], "box_scale": [], "sweep": []}
    points = ([(offset, Path(args.start), "start")] if args.start else []) + [
        (offset + (int(c.stem.split("_")[1]) + 1 if c.stem != "model_final" else cfg.SOLVER.MAX_ITER), c, c.name)
        for c in checkpoints]
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        gt = cut_ground_truth(root, sequence, first, stop, temporary / "GT")
        min_score, overlap = cfg.CELLTRACK.TRACKER.MIN_SCORE, cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD
        for iteration, checkpoint, name in points:
            detected = detect_all(cfg, checkpoint, versions)  # the last checkpoint's are swept below
            result["checkpoints"].append({"iteration": iteration, "file": str(name),
                                          **scored(detected, min_score, overlap, gt, temporary / str(name))})
            print(result["checkpoints"][-1], flush=True)
        # MASK_BOX_SCALE first (highest mean SEG, then DET; ties: the smaller), then the thresholds at it.
        by_scale = {1.0: detected}
        for box_scale in (1.0, 1.1, 1.2, 1.3):
            if box_scale not in by_scale:  # 1.0: the last checkpoint's detections above
                by_scale[box_scale] = detect_all(cfg, checkpoint, versions, box_scale)
            row = {"MASK_BOX_SCALE": box_scale, **scored(by_scale[box_scale], min_score, overlap, gt,
                                                        temporary / f"box{box_scale}")}
            result["box_scale"].append(row)
            print(row, flush=True)
        box = max(result["box_scale"], key=lambda r: (round(r["SEG"] + r["SEG_dimmer"], 4),
                                                      round(r["DET"] + r["DET_dimmer"], 4), -r["MASK_BOX_SCALE"]))
        detected = by_scale[box["MASK_BOX_SCALE"]]
        for score in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            for overlap in (0.3, 0.5, 0.7, 1.0):
                row = {"MIN_SCORE": score, "MASK_OVERLAP_THRESHOLD": overlap,
                       **scored(detected, score, overlap, gt, temporary / f"s{score}-{overlap}")}
                result["sweep"].append(row)
                print(row, flush=True)
    # The choice: highest DET, then SEG, averaged over the frames as acquired and dimmer (a user's microscope
    # may be either); among equals the higher MIN_SCORE and the lower overlap threshold.
    best = max(result["sweep"], key=lambda r: (round(r["DET"] + r["DET_dimmer"], 4), round(r["SEG"] + r["SEG_dimmer"], 4),
                                               r["MIN_SCORE"], -r["MASK_OVERLAP_THRESHOLD"]))
    result["chosen"] = {"MASK_BOX_SCALE": box["MASK_BOX_SCALE"], "MIN_SCORE": best["MIN_SCORE"],
                        "MASK_OVERLAP_THRESHOLD": best["MASK_OVERLAP_THRESHOLD"],
                        "rule": "mean over the validation frames as acquired and dimmer: MASK_BOX_SCALE by the "
                                "highest SEG (ties: the smaller), then the thresholds at it by the highest DET, then "
                                "SEG (ties: higher MIN_SCORE, lower overlap)"}
    print(f"chosen: {result['chosen']}")
    losses = [json.loads(line) for line in (run / "metrics.json").read_text().splitlines() if line.strip()]
    losses = [m for m in losses if "total_loss" in m]
    result["loss"] = earlier["loss"] + [{"iteration": offset + m["iteration"] + 1, "total_loss": m["total_loss"], "loss_mask": m.get("loss_mask"),
                       "loss_track": m.get("loss_track")} for m in losses]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "training_curve.json").write_text(json.dumps(result, indent=1) + "\n")
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].plot([m["iteration"] for m in result["loss"]], [m["total_loss"] for m in result["loss"]], label="total")
    axes[0].plot([m["iteration"] for m in result["loss"]], [m["loss_mask"] for m in result["loss"]], label="mask")
    axes[0].plot([m["iteration"] for m in result["loss"]], [m["loss_track"] for m in result["loss"]], label="track")
    axes[0].set(xlabel="iteration", ylabel="training loss", title="loss (training crops)")
    axes[0].legend()
    for key in ("DET", "SEG", "DET_dimmer", "SEG_dimmer"):
        shown = [c for c in result["checkpoints"] if key in c]
        axes[1].plot([c["iteration"] for c in shown], [c[key] for c in shown], "o-" if "dimmer" not in key else "s--",
                     label=key.replace("_dimmer", " (dimmer)"))
    if offset:
        axes[1].axvline(offset, color="grey", lw=0.8)
        axes[0].axvline(offset, color="grey", lw=0.8)
    axes[1].set(xlabel="iteration", title=f"validation: {args.validation} (held back)", ylim=(0.5, 1))
    axes[1].legend()
    for overlap in (0.3, 0.5, 0.7, 1.0):
        rows = [s for s in result["sweep"] if s["MASK_OVERLAP_THRESHOLD"] == overlap]
        axes[2].plot([s["MIN_SCORE"] for s in rows], [(s["DET"] + s["DET_dimmer"]) / 2 for s in rows], "o-",
                     label=f"overlap {overlap}")
    axes[2].set(xlabel="MIN_SCORE", ylabel="DET (mean: as acquired, dimmer)", title="thresholds, last checkpoint")
    axes[2].legend()
    figure.tight_layout()
    figure.savefig(out / "training_curve.png", dpi=80)
    print(f"wrote {out / 'training_curve.json'} and {out / 'training_curve.png'}")


if __name__ == "__main__":
    main()
