#!/usr/bin/env python
"""CELLTRACK.MIRRORED_DETECTION of a trained model on validation movies: what each set of mirrored passes gains.

    python benchmarks/mirrored_detection.py --data ../shared/data [--config-file CONFIG] [--weights WEIGHTS]

The validation movies of ``mask_errors.py`` (SIM+ 01 frames 55-64, held back from training, and GOWT1 01 frames
21-39, scored on its frames 21, 31, 33 and 39, which have every cell outlined) are re-acquired at each rung of
``acquisition_ladder.LADDER`` and segmented by the predictor as ``track_video`` does, with each set of ``SETS``.
Per rung and set: SEG over the reference cells (the Jaccard of each one's match, 0 unmatched), the share of them
matched, and the seconds per frame. The rule, fixed before the run: the set with the highest SEG over every
reference cell of every rung of both movies, among the sets whose time per frame is at most twice the plain
detector's (the speed target of issue #10 leaves room for about one more pass of the shipped model; the speed
benchmark measures it), ties to the fewer passes. Writes ``--out``/mirrored_detection.json. Never looks at a
test sequence.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from acquisition_ladder import LADDER, ladder_versions
from celltrack import model_zoo
from celltrack.config import get_celltrack_cfg
from celltrack.data.movie import read_frame
from celltrack.tracking.predictor import CellTrackPredictor
from mask_errors import MOVIES, matched_cells

HERE = Path(__file__).resolve().parent
SETS = ((), ("horizontal",), ("horizontal", "vertical"), ("horizontal", "vertical", "both"))


def name(mirrors: tuple) -> str:
    return "+".join(mirrors) or "off"


def choose(overall: dict) -> tuple:
    """The docstring's rule on ``{name(set): {"SEG", "seconds per frame"}}``."""
    plain = overall["off"]["seconds per frame"]
    affordable = [m for m in SETS if overall[name(m)]["seconds per frame"] <= 2 * plain]
    return max(affordable, key=lambda m: (round(overall[name(m)]["SEG"], 4), -len(m)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", help="the model's config (default: the shipped model's)")
    parser.add_argument("--weights", help="the model's weights (default: the config's MODEL.WEIGHTS)")
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file) if args.config_file else model_zoo.get_config()
    cfg.defrost()
    if args.weights:
        cfg.MODEL.WEIGHTS = args.weights
    predictors = {}
    for mirrors in SETS:
        cfg.CELLTRACK.MIRRORED_DETECTION = mirrors
        predictors[mirrors] = CellTrackPredictor(cfg)
    jaccards = {mirrors: [] for mirrors in SETS}
    seconds = {mirrors: [] for mirrors in SETS}
    rows = []
    for dataset, sequence, first, stop, outlined in MOVIES:
        root = Path(args.data) / dataset
        references = {t: read_frame(root / f"{sequence}_GT" / "SEG" / f"man_seg{t:03d}.tif", t) for t in outlined}
        for rung, images in enumerate(ladder_versions(root, sequence, first, stop).values()):
            these = {mirrors: [] for mirrors in SETS}
            for t, image in tqdm(list(zip(range(first, stop), images)), desc=f"{dataset} {sequence} rung {rung}"):
                if t not in references:
                    continue
                for mirrors, predictor in predictors.items():
                    start = time.perf_counter()
                    labels = predictor.segment(image)[1].labels
                    seconds[mirrors].append(time.perf_counter() - start)
                    these[mirrors].append(matched_cells(labels, references[t])[:, 0])
            row = {"movie": f"{dataset} {sequence} [{first}:{stop}]", "rung": LADDER[rung][0]}
            for mirrors in SETS:
                values = np.concatenate(these[mirrors])
                jaccards[mirrors].append(values)
                row[f"SEG {name(mirrors)}"] = float(values.mean())
                row[f"matched {name(mirrors)}"] = float((values > 0).mean())
            rows.append(row)
            tqdm.write("  ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{value}" for key, value in row.items()))
    overall = {name(m): {"SEG": float(np.concatenate(jaccards[m]).mean()), "seconds per frame": float(np.mean(seconds[m]))}
               for m in SETS}
    chosen = choose(overall)
    best = max(SETS, key=lambda m: (round(overall[name(m)]["SEG"], 4), -len(m)))
    result = {"command": "python benchmarks/mirrored_detection.py --data ../shared/data"
              + (f" --config-file {args.config_file}" if args.config_file else "")
              + (f" --weights {args.weights}" if args.weights else ""),
              "model": args.weights or args.config_file or "the shipped model",
              "rule": "highest SEG over every reference cell of every rung, among the sets at most twice the plain "
                      "detector's seconds per frame; ties to fewer passes",
              "overall": overall, "chosen": list(chosen), "best_at_any_cost": list(best), "rows": rows}
    print(json.dumps({k: result[k] for k in ("overall", "chosen", "best_at_any_cost")}, indent=1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mirrored_detection.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out / 'mirrored_detection.json'}")


if __name__ == "__main__":
    main()
