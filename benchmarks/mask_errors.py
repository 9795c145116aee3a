#!/usr/bin/env python
"""What kind of error the shipped model's masks make as the acquisition dims: too small, too large, or ragged.

    python benchmarks/mask_errors.py --data ../shared/data

Each validation movie (SIM+ 01 frames 55-64, held back from training, and GOWT1 01 frames 21-39, whose frames 21,
31, 33 and 39 have every cell outlined) is re-acquired at each rung of ``acquisition_ladder.LADDER`` and
segmented by the predictor as ``track_video`` does (one detection per nucleus, no linking). For each reference
cell (SEG ground truth) the detected cell covering more than half of it is its match (the SEG criterion), and
the row gives: the share matched, the mean Jaccard of the matched (``J|matched``; SEG ~ share x J|matched), the
median area of the matched cell over the reference's, and the mean share of the reference's pixels it covers
(recall) and of its own pixels inside the reference (precision). Writes ``--out``/mask_errors.json. Never
looks at a test sequence.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from acquisition_ladder import LADDER, ladder_versions
from celltrack import model_zoo
from celltrack.data.movie import read_frame
from celltrack.tracking.predictor import CellTrackPredictor, neighbouring

HERE = Path(__file__).resolve().parent
# (dataset, sequence, first, stop, frames with every cell outlined)
MOVIES = (("Fluo-N2DH-SIM+", "01", 55, 65, tuple(range(55, 65))), ("Fluo-N2DH-GOWT1", "01", 21, 40, (21, 31, 33, 39)))


def matched_cells(labels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(R, 4) per reference cell: Jaccard (0 unmatched), area ratio, recall, precision (NaN unmatched)."""
    rows = []
    for cell in np.unique(reference)[1:]:
        mask = reference == cell
        found, counts = np.unique(labels[mask], return_counts=True)
        counts, found = counts[found > 0], found[found > 0]
        if not len(found) or counts.max() <= 0.5 * mask.sum():
            rows.append((0.0, np.nan, np.nan, np.nan))
            continue
        detected = labels == found[counts.argmax()]
        inside = (mask & detected).sum()
        rows.append((inside / (mask | detected).sum(), detected.sum() / mask.sum(), inside / mask.sum(), inside / detected.sum()))
    return np.array(rows).reshape(-1, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    predictor = CellTrackPredictor(model_zoo.get_config())
    rows = []
    for dataset, sequence, first, stop, outlined in MOVIES:
        root = Path(args.data) / dataset
        references = {t: read_frame(root / f"{sequence}_GT" / "SEG" / f"man_seg{t:03d}.tif", t) for t in outlined}
        for rung, images in enumerate(ladder_versions(root, sequence, first, stop).values()):
            around = dict(zip(range(first, stop), (neighbours for _, neighbours in neighbouring(images))))
            cells = np.concatenate([matched_cells(predictor.segment(images[t - first], None, around[t])[1].labels, reference)
                                    for t, reference in references.items()])
            matched = cells[:, 0] > 0
            rows.append({"movie": f"{dataset} {sequence} [{first}:{stop}]", "rung": LADDER[rung][0],
                         "reference_cells": len(cells), "SEG (approx.)": float(cells[:, 0].mean()),
                         "matched": float(matched.mean()), "J|matched": float(cells[matched, 0].mean()),
                         "area ratio (median)": float(np.median(cells[matched, 1])),
                         "recall": float(cells[matched, 2].mean()), "precision": float(cells[matched, 3].mean())})
            print("  ".join(f"{key} {value:.3f}" if isinstance(value, float) else f"{value}" for key, value in rows[-1].items()),
                  flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mask_errors.json").write_text(json.dumps(
        {"command": "python benchmarks/mask_errors.py --data ../shared/data", "model": "the shipped model",
         "rows": rows}, indent=1) + "\n")
    print(f"wrote {out / 'mask_errors.json'}")


if __name__ == "__main__":
    main()
