#!/usr/bin/env python
"""How a trained model's segmentation holds as the acquisition dims, and the inference settings that hold best.

    python benchmarks/acquisition_ladder.py --data ../shared/data

The validation frames (default Fluo-N2DH-SIM+ 01 frames 55-64, held back from the shipped model's training)
are re-acquired at each rung of ``LADDER``: the cells' signal above the background scaled down, each cell by
its own factor on top (dim and bright nuclei side by side), with more read-out and shot noise at each rung.
The model (default: the shipped one) segments every rung with each inference setting of the grid
(``CELLTRACK.INPUT_SMOOTHING`` x ``CELLTRACK.MASK_THRESHOLD``) and py-ctcmetrics scores SEG and DET against
the frames' ground truth. The best setting: the highest SEG averaged over all rungs (a user's microscope may
be any of them), then DET, ties to the shipped config's values. At the best setting
``CELLTRACK.TRACKER.MIN_SCORE`` is swept the same way (highest mean DET, then SEG). Writes
``--out``/acquisition_ladder.json and .png. Never looks at a test sequence.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from celltrack import model_zoo  # noqa: E402
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.ctc import cut_ground_truth, load_ctc_sequence  # noqa: E402
from celltrack.data.mapper import photometric_augment  # noqa: E402
from celltrack.data.movie import read_frame  # noqa: E402
from celltrack.data.normalize import percentile_normalize  # noqa: E402
from training_curve import detect_all, held_back_frames, scored  # noqa: E402

HERE = Path(__file__).resolve().parent
PLAIN = dict(cell_contrast=(1.0, 1.0), cell_seed=0, gamma=1.0, offset=0.0, illumination=(0.0, 1.0, 0.0), blur_sigma=0.0,
             poisson_noise=0.0)
# (name, acquisition for photometric_augment; None = the frames as acquired), in units of the normalised frame.
LADDER = (("as acquired", None),
          ("contrast 0.55, noise 0.06", dict(PLAIN, contrast=0.55, gaussian_noise=0.06)),
          ("contrast 0.4, cells 0.5-1, noise 0.08", dict(PLAIN, contrast=0.4, cell_contrast=(0.5, 1.0),
                                                        gaussian_noise=0.08, poisson_noise=0.03)),
          ("contrast 0.3, cells 0.5-1, noise 0.10", dict(PLAIN, contrast=0.3, cell_contrast=(0.5, 1.0),
                                                        gaussian_noise=0.10, poisson_noise=0.05)),
          ("contrast 0.2, cells 0.5-1, noise 0.12", dict(PLAIN, contrast=0.2, cell_contrast=(0.5, 1.0),
                                                        gaussian_noise=0.12, poisson_noise=0.05)))
SMOOTHINGS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
THRESHOLDS = (0.4, 0.45, 0.5)
MIN_SCORES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)  # raw detections: score >= 0.05


def ladder_versions(root: Path, sequence: str, first: int, stop: int) -> dict:
    """``{"_rung<i>": images}``: frames ``first:stop`` re-acquired at each rung of ``LADDER``."""
    records = [r for r in load_ctc_sequence(root, sequence) if first <= r["frame"] < stop]
    images = [read_frame(r["file_name"], r["frame"]) for r in records]
    cells = [read_frame(root / f"{sequence}_GT" / "TRA" / f"man_track{r['frame']:03d}.tif", r["frame"]) for r in records]
    versions = {}
    for rung, (_, acquisition) in enumerate(LADDER):
        rng = np.random.default_rng(rung)
        versions[f"_rung{rung}"] = images if acquisition is None else [
            (photometric_augment(percentile_normalize(image), acquisition, rng=rng, cells=label) * 65535).astype(np.uint16)
            for image, label in zip(images, cells)]
    return versions


def mean(row: dict, key: str) -> float:
    return float(np.mean([row[f"{key}_rung{rung}"] for rung in range(len(LADDER))]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", help="the model's config (default: the shipped model's)")
    parser.add_argument("--weights", help="default: the config's MODEL.WEIGHTS")
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--validation", default="Fluo-N2DH-SIM+/01[55:65]", help="held-back frames")
    parser.add_argument("--out", default=str(HERE))
    parser.add_argument("--smoothings", type=float, nargs="+", default=SMOOTHINGS, help="INPUT_SMOOTHING values")
    parser.add_argument("--thresholds", type=float, nargs="+", default=THRESHOLDS, help="MASK_THRESHOLD values")
    parser.add_argument("--box-scale", type=float, help="CELLTRACK.MASK_BOX_SCALE (default: the config's)")
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file) if args.config_file else model_zoo.get_config()
    weights = args.weights or cfg.MODEL.WEIGHTS
    root, sequence, first, stop = held_back_frames(args.data, args.validation)
    versions = ladder_versions(root, sequence, first, stop)
    min_score, overlap = cfg.CELLTRACK.TRACKER.MIN_SCORE, cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD
    if args.box_scale:
        cfg.CELLTRACK.MASK_BOX_SCALE = args.box_scale
    shipped = (cfg.CELLTRACK.INPUT_SMOOTHING, cfg.CELLTRACK.MASK_THRESHOLD)
    rows, detections = [], {}
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        gt = cut_ground_truth(root, sequence, first, stop, temporary / "GT")
        for smoothing in args.smoothings:
            setting = cfg.clone()
            setting.CELLTRACK.INPUT_SMOOTHING = smoothing
            for threshold in args.thresholds:
                detected = detect_all(setting, weights, versions, cfg.CELLTRACK.MASK_BOX_SCALE, threshold,
                                      cfg.CELLTRACK.MASK_FLIP)
                detections[smoothing, threshold] = detected
                row = {"INPUT_SMOOTHING": smoothing, "MASK_THRESHOLD": threshold,
                       **scored(detected, min_score, overlap, gt, temporary / f"s{smoothing}-t{threshold}")}
                row.update(SEG_mean=mean(row, "SEG"), DET_mean=mean(row, "DET"))
                rows.append(row)
                print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
        best = max(rows, key=lambda r: (round(r["SEG_mean"], 4), round(r["DET_mean"], 4),
                                        (r["INPUT_SMOOTHING"], r["MASK_THRESHOLD"]) == shipped))
        chosen = (best["INPUT_SMOOTHING"], best["MASK_THRESHOLD"])
        sweep = []
        for score in MIN_SCORES:
            row = {"MIN_SCORE": score, **scored(detections[chosen], score, overlap, gt, temporary / f"m{score}")}
            row.update(SEG_mean=mean(row, "SEG"), DET_mean=mean(row, "DET"))
            sweep.append(row)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    score = max(sweep, key=lambda r: (round(r["DET_mean"], 4), round(r["SEG_mean"], 4), r["MIN_SCORE"] == min_score))
    command = ("python benchmarks/acquisition_ladder.py" + (f" --config-file {args.config_file}" if args.config_file else "")
               + (f" --weights {args.weights}" if args.weights else "") + f" --validation '{args.validation}'"
               + ("" if tuple(args.smoothings) == SMOOTHINGS else " --smoothings " + " ".join(map(str, args.smoothings)))
               + ("" if tuple(args.thresholds) == THRESHOLDS else " --thresholds " + " ".join(map(str, args.thresholds)))
               + (f" --box-scale {args.box_scale}" if args.box_scale else ""))
    result = {"validation": args.validation, "command": command,
              "ladder": [{"rung": rung, "name": name, "acquisition": acquisition}
                         for rung, (name, acquisition) in enumerate(LADDER)],
              "settings": {"MIN_SCORE": min_score, "MASK_OVERLAP_THRESHOLD": overlap,
                           "MASK_BOX_SCALE": cfg.CELLTRACK.MASK_BOX_SCALE, "MASK_FLIP": cfg.CELLTRACK.MASK_FLIP,
                           "shipped INPUT_SMOOTHING, MASK_THRESHOLD": list(shipped)},
              "rows": rows, "min_score_sweep": sweep,
              "best": {"INPUT_SMOOTHING": chosen[0], "MASK_THRESHOLD": chosen[1], "MIN_SCORE": score["MIN_SCORE"],
                       "rule": "highest SEG averaged over the rungs, then DET (ties: the shipped values); then "
                               "MIN_SCORE at it by the highest mean DET, then SEG (ties: the shipped value)"}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "acquisition_ladder.json").write_text(json.dumps(result, indent=1) + "\n")
    figure, axes = plt.subplots(1, 2, figsize=(12, 4))
    for threshold in args.thresholds:
        for smoothing in args.smoothings:
            row = next(r for r in rows if r["INPUT_SMOOTHING"] == smoothing and r["MASK_THRESHOLD"] == threshold)
            for axis, key in zip(axes, ("SEG", "DET")):
                axis.plot(range(len(LADDER)), [row[f"{key}_rung{rung}"] for rung in range(len(LADDER))],
                          "o-" if (smoothing, threshold) == chosen else ".:", lw=2 if (smoothing, threshold) == chosen else 0.8,
                          label=f"smoothing {smoothing}, mask {threshold}")
    for axis, key in zip(axes, ("SEG", "DET")):
        axis.set_xticks(range(len(LADDER)), [name.replace(", noise", "\nnoise") for name, _ in LADDER], fontsize=7)
        axis.set(ylabel=key, title=f"{key}: {args.validation} (held back), dimmer to the right")
    axes[0].legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(out / "acquisition_ladder.png", dpi=80)
    print(f"best: {result['best']}; wrote {out / 'acquisition_ladder.json'} and {out / 'acquisition_ladder.png'}")


if __name__ == "__main__":
    main()
