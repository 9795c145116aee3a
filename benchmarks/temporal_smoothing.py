#!/usr/bin/env python
"""CELLTRACK.TEMPORAL_SMOOTHING and TEMPORAL_SMOOTHING_NOISE of a trained model, chosen on validation movies.

    python benchmarks/temporal_smoothing.py --data ../shared/data [--config-file CONFIG] [--weights WEIGHTS] [--out DIR]

The validation movies of ``mask_errors.py`` (SIM+ 01 frames 55-64, held back from training, and GOWT1 01
frames 21-39, scored on its frames 21, 31, 33 and 39, which have every cell outlined) are re-acquired at each
rung of ``acquisition_ladder.LADDER`` (each frame with its own noise) and segmented by the predictor as
``track_video`` does, each frame's network input averaged with its neighbours' at each weight of ``WEIGHTS``
(0: off). Per frame: its ``noise_level`` and, per reference cell, the Jaccard of its match (the SEG
criterion; 0 unmatched). Rules, fixed before the run:

1. the weight: the highest SEG over every reference cell of every rung of both movies (a user's microscope
   may be any of them), every frame smoothed;
2. the noise gate: frames noisier than it are smoothed at that weight, the others not; candidates are the
   midpoints between consecutive frames' noise levels (and 0); the highest SEG as in 1, ties to the lowest.

Writes ``--out``/temporal_smoothing.json. Never looks at a test sequence.

    python benchmarks/temporal_smoothing.py --data ../shared/data --noise-of Fluo-N2DH-SIM+/01 Fluo-N2DH-SIM+/02

only reads the frames of the sequences named: each frame's ``noise_level`` and how many frames the model's
``TEMPORAL_SMOOTHING_NOISE`` lets smooth (what the benchmark's tracking of them does), into
``--out``/temporal_smoothing_noise.json. No model runs, no score: nothing is chosen from it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from acquisition_ladder import LADDER, ladder_versions
from celltrack import model_zoo
from celltrack.config import get_celltrack_cfg
from celltrack.data.movie import read_frame
from celltrack.data.normalize import noise_level
from celltrack.tracking.predictor import CellTrackPredictor, neighbouring
from mask_errors import MOVIES, matched_cells

HERE = Path(__file__).resolve().parent
WEIGHTS = (0.0, 1 / 6, 0.25, 1 / 3)  # each neighbour's; 1/3: the plain mean of three frames


def seg(frames: list, key) -> float:
    """SEG over every reference cell of ``frames`` (dicts with per-weight Jaccards), each frame's Jaccards
    taken at ``key(frame)``."""
    return float(np.mean(np.concatenate([frame["jaccard"][key(frame)] for frame in frames])))


def choose(frames: list) -> dict:
    """The rules of the docstring, on the per-frame rows."""
    by_weight = {weight: seg(frames, lambda frame, w=weight: w) for weight in WEIGHTS}
    weight = max(WEIGHTS[1:], key=lambda w: (round(by_weight[w], 4), -w))
    levels = sorted({frame["noise"] for frame in frames})
    candidates = [0.0] + [(a + b) / 2 for a, b in zip(levels, levels[1:])]
    by_gate = {gate: seg(frames, lambda frame, g=gate: weight if frame["noise"] > g else 0.0) for gate in candidates}
    gate = max(candidates, key=lambda g: (round(by_gate[g], 4), -g))
    return {"TEMPORAL_SMOOTHING": weight, "TEMPORAL_SMOOTHING_NOISE": round(gate, 3),
            "SEG_every_frame_by_weight": {f"{w:.4f}": by_weight[w] for w in WEIGHTS},
            "SEG_at_the_gate": by_gate[gate], "SEG_off": by_weight[0.0]}


def report_noise(cfg, data: Path, sequences: list, out: Path) -> None:
    """Each sequence's frames' ``noise_level``s and how many are above the config's gate (see the docstring)."""
    gate, rows = cfg.CELLTRACK.TEMPORAL_SMOOTHING_NOISE, []
    for name in sequences:
        dataset, sequence = name.rsplit("/", 1)
        paths = sorted((data / dataset / sequence).glob("t*.tif"))
        if not paths:
            raise SystemExit(f"error: no frames t*.tif in {data / dataset / sequence}; name a sequence as DATASET/NN")
        levels = np.array([noise_level(read_frame(path, t), tuple(cfg.CELLTRACK.NORMALIZE_PERCENTILES))
                           for t, path in enumerate(tqdm(paths, desc=name))])
        rows.append({"sequence": name, "frames": len(levels), "noise min": float(levels.min()),
                     "noise median": float(np.median(levels)), "noise max": float(levels.max()),
                     "frames above the gate": int((levels > gate).sum())})
        print("  ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}" for key, value in rows[-1].items()))
    out.mkdir(parents=True, exist_ok=True)
    (out / "temporal_smoothing_noise.json").write_text(json.dumps(
        {"command": "python benchmarks/temporal_smoothing.py --data ../shared/data --noise-of " + " ".join(sequences),
         "TEMPORAL_SMOOTHING": cfg.CELLTRACK.TEMPORAL_SMOOTHING, "TEMPORAL_SMOOTHING_NOISE": gate, "rows": rows},
        indent=1) + "\n")
    print(f"wrote {out / 'temporal_smoothing_noise.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", help="the model's config (default: the shipped model's)")
    parser.add_argument("--weights", help="the model's weights (default: the config's MODEL.WEIGHTS)")
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--out", default=str(HERE))
    parser.add_argument("--noise-of", nargs="+", metavar="DATASET/SEQUENCE",
                        help="only report the noise of these sequences' frames against the model's gate")
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file) if args.config_file else model_zoo.get_config()
    if args.weights:
        cfg.defrost()
        cfg.MODEL.WEIGHTS = args.weights
    if args.noise_of:
        report_noise(cfg, Path(args.data), args.noise_of, Path(args.out))
        return
    predictor = CellTrackPredictor(cfg)
    predictor.temporal_smoothing_noise = -1.0  # every frame smoothed; the gate is chosen below
    frames, rows = [], []
    for dataset, sequence, first, stop, outlined in MOVIES:
        root = Path(args.data) / dataset
        references = {t: read_frame(root / f"{sequence}_GT" / "SEG" / f"man_seg{t:03d}.tif", t) for t in outlined}
        for rung, images in enumerate(ladder_versions(root, sequence, first, stop).values()):
            for t, (image, neighbours) in zip(range(first, stop), neighbouring(images)):
                if t not in references:
                    continue
                jaccard = {}
                for weight in WEIGHTS:
                    predictor.temporal_smoothing = weight
                    labels = predictor.segment(image, None, neighbours)[1].labels
                    jaccard[weight] = matched_cells(labels, references[t])[:, 0]
                frames.append({"movie": f"{dataset} {sequence}", "rung": rung, "frame": t,
                               "noise": noise_level(image, predictor.percentiles), "jaccard": jaccard})
            these = [frame for frame in frames if frame["movie"] == f"{dataset} {sequence}" and frame["rung"] == rung]
            rows.append({"movie": f"{dataset} {sequence} [{first}:{stop}]", "rung": LADDER[rung][0],
                         "noise (median)": float(np.median([frame["noise"] for frame in these])),
                         **{f"SEG at {w:.4f}": seg(these, lambda frame, w=w: w) for w in WEIGHTS}})
            tqdm.write("  ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{value}"
                                 for key, value in rows[-1].items()))
    chosen = choose(frames)
    print(json.dumps(chosen, indent=1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "temporal_smoothing.json").write_text(json.dumps(
        {"command": "python benchmarks/temporal_smoothing.py --data ../shared/data"
         + (f" --config-file {args.config_file}" if args.config_file else "")
         + (f" --weights {args.weights}" if args.weights else "") + (f" --out {args.out}" if args.out != str(HERE) else ""),
         "model": args.weights or args.config_file or "the shipped model", "chosen": chosen, "rows": rows,
         "frames": [{"movie": frame["movie"], "rung": frame["rung"], "frame": frame["frame"], "noise": frame["noise"]}
                    for frame in frames]}, indent=1) + "\n")
    print(f"wrote {out / 'temporal_smoothing.json'}")


if __name__ == "__main__":
    main()
