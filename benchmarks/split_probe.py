#!/usr/bin/env python
"""Would splitting merged detections help? A probe on validation movies (not a shipped setting).

    python benchmarks/split_probe.py [--data ../shared/data] [--config-file CONFIG --weights WEIGHTS] [--no-splits]

The shipped detector sometimes covers two touching nuclei with one detection (a CTC "split" error, AOGM
NS: both nuclei score 0 in SEG, one of them misses in DET and its links miss in TRA). On the synthetic
nuclei of ``linker_validation`` (two touching ellipses) this is its main error. This probe tries the
classical fix on the detector's label images: a distance-transform watershed of each detected cell,
seeded by the h-maxima (depth ``H`` px) of the distance to the cell's edge, on the cell's mask as detected
(``mask``) or on the part of it above the Otsu threshold of its box in the smoothed network input
(``otsu``: the dark seam between two nuclei is cut out first). A cell is split in two only when it is one
connected piece, both parts hold >= 20 % of it and the neck between them is at most ``RATIO`` times the
smaller part's half-width. py-ctcmetrics scores SEG and DET of the split label images (no linking). The
model is the shipped one unless ``--config-file`` / ``--weights`` name another; ``--no-splits`` scores only
its own detections (a model's validation rows).

Movies (``linker_validation.validation_movies``; never SIM+ 02): SIM+ 01 frames 55-64 (held back),
SIM+ 01 dimmer, GOWT1 01 (training data) and synthetic A / B. Writes benchmarks/split_probe.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.morphology import h_maxima
from skimage.segmentation import watershed
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from celltrack import model_zoo  # noqa: E402
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.ctc import CTCTrackWriter  # noqa: E402
from celltrack.data.normalize import to_network_input  # noqa: E402
from celltrack.evaluation import evaluate_ctc  # noqa: E402
from celltrack.tracking.predictor import CellTrackPredictor, detections_from_instances  # noqa: E402
from linker_validation import validation_movies  # noqa: E402

MOVIES = ("SIM+ 01 [55:65]", "SIM+ 01 dimmer", "GOWT1 01", "synthetic A", "synthetic B")
SETTINGS = [("mask", 2.0, 0.7)] + [("otsu", depth, ratio) for ratio in (0.5, 0.7) for depth in (1.0, 2.0, 3.0)]


def split_cells(labels: np.ndarray, image: np.ndarray, seeds: str, depth: float, ratio: float,
                min_part: float = 0.2) -> tuple:
    """(label image with each touching pair of nuclei split in two, number of cells split); module docstring."""
    out, next_label, splits = labels.astype(np.int32), int(labels.max()) + 1, 0
    for label, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        box = tuple(slice(max(s.start - 2, 0), s.stop + 2) for s in box)
        mask = labels[box] == label
        if mask.sum() < 100 or ndi.label(mask)[1] != 1:  # tiny, or pieces of one detection
            continue
        inside = mask
        if seeds == "otsu":
            crop = image[box]
            inside = ndi.binary_opening(mask & (crop > threshold_otsu(crop)))
        distance = ndi.distance_transform_edt(inside)
        markers, count = ndi.label(h_maxima(distance, depth) & inside)
        if count != 2:
            continue
        parts = watershed(-distance, markers, mask=mask)
        if np.bincount(parts.ravel())[1:].min() < min_part * mask.sum():
            continue
        seam = (parts == 1) & ndi.binary_dilation(parts == 2)
        half_width = min(distance[parts == 1].max(), distance[parts == 2].max())
        if seam.any() and distance[seam].max() > ratio * half_width:
            continue
        out[box][parts == 2] = next_label
        next_label, splits = next_label + 1, splits + 1
    return out, splits


def scored(frames: list, gt: Path, out: Path) -> dict:
    writer = CTCTrackWriter(out, num_frames=len(frames))
    for frame, labels in enumerate(frames):
        writer.write_frame(frame, labels)
    writer.close({})
    return {key: float(value) for key, value in evaluate_ctc(out, gt, metrics=("SEG", "DET")).items() if value is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--config-file", help="the model's config (default: the shipped model's)")
    parser.add_argument("--weights", help="default: the config's MODEL.WEIGHTS")
    parser.add_argument("--no-splits", action="store_true", help="only the detector's own cells, no split tried")
    parser.add_argument("--out", default=str(HERE / "split_probe.json"))
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file) if args.config_file else model_zoo.get_config()
    if args.weights:
        cfg.MODEL.WEIGHTS = args.weights
    settings = [] if args.no_splits else SETTINGS
    predictor = CellTrackPredictor(cfg)
    smoothing, percentiles = cfg.CELLTRACK.INPUT_SMOOTHING, tuple(cfg.CELLTRACK.NORMALIZE_PERCENTILES)
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        for movie, (images, _, gt) in validation_movies(Path(args.data), work).items():
            if movie not in MOVIES:
                continue
            labels = [detections_from_instances(predictor.detect(image), cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD)[1].labels
                      for image in tqdm(images, desc=f"detecting {movie}")]
            smoothed = [to_network_input(image, percentiles, smoothing)[..., 0] for image in images]
            rows.append({"movie": movie, "split": "none", **scored(labels, gt, work / f"{len(rows)}")})
            print(json.dumps(rows[-1]), flush=True)
            for seeds, depth, ratio in settings:
                split = [split_cells(frame, image, seeds, depth, ratio) for frame, image in zip(labels, smoothed)]
                rows.append({"movie": movie, "split": f"{seeds} H {depth:g} RATIO {ratio:g}",
                             "cells_split": int(sum(count for _, count in split)),
                             **scored([frame for frame, _ in split], gt, work / f"{len(rows)}")})
                print(json.dumps(rows[-1]), flush=True)
    names = ["none"] + [f"{s} H {d:g} RATIO {r:g}" for s, d, r in settings]
    means = {name: {key: float(np.mean([r[key] for r in rows if r["split"] == name])) for key in ("SEG", "DET")}
             for name in names}
    real = {name: {key: float(np.mean([r[key] for r in rows if r["split"] == name and "synthetic" not in r["movie"]]))
                   for key in ("SEG", "DET")} for name in names}
    command = ("python benchmarks/split_probe.py" + (f" --config-file {args.config_file}" if args.config_file else "")
               + (f" --weights {args.weights}" if args.weights else "") + (" --no-splits" if args.no_splits else ""))
    Path(args.out).write_text(json.dumps({"command": command, "model": cfg.MODEL.WEIGHTS, "movies": list(MOVIES),
                                          "means": means, "means_real_movies": real, "rows": rows}, indent=1) + "\n")
    for name in names:
        print(f"{name:24s} mean SEG {means[name]['SEG']:.4f} DET {means[name]['DET']:.4f} | real movies SEG "
              f"{real[name]['SEG']:.4f} DET {real[name]['DET']:.4f}")


if __name__ == "__main__":
    main()
