#!/usr/bin/env python
"""Choose laptrack's options on training data, so that the benchmark's ``laptrack`` rows are a tuned peer.

    python benchmarks/tune_laptrack.py            # ~10 min on 2 CPU cores; writes benchmarks/laptrack_tuned.json

laptrack links the ground-truth masks of the training sequence Fluo-N2DH-SIM+ 01, identities removed
(exactly the benchmark's linking-only input, ``SequenceData.gt_labels``), once per point of a small grid
of ``max_distance`` x ``split_distance`` x ``gap_frames``; py-ctcmetrics scores each result
(``celltrack.evaluation.evaluate_ctc``). Only a sequence in the training set of the config the benchmark
uses (``DATASETS.TRAIN``) may be tuned on: Fluo-N2DH-SIM+ 02 and any other test sequence never choose
anything.

Selection: the highest CT (complete tracks: the measure a linker is for), ties broken by BC(2) (divisions
found), then BIO(2); among points that still tie, the one with the fewest options changed from
LAPTRACK_DEFAULTS, then the first in grid order. That last rule matters: GT masks have no missed cells, so
they often cannot tell gap closing settings apart (nor a larger ``max_distance`` once no cell moves that
far), and where the training data is silent laptrack keeps its default (gap closing on, which it needs on
detections that miss cells). The chosen options, every grid point's scores and the command go to
``benchmarks/laptrack_tuned.json`` (committed), which ``benchmarks/run.py`` reads through
``baselines.laptrack_options``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import LAPTRACK_DEFAULTS, LAPTRACK_TUNED, link_laptrack  # noqa: E402
from celltrack.collect_env import versions  # noqa: E402
from celltrack.evaluation import evaluate_ctc  # noqa: E402
from common import DEFAULT_CONFIG, HERE, REPO, data_folder, fresh, json_safe, log, now  # noqa: E402
from sequences import config_training_sequences, find_sequences  # noqa: E402

TUNING_SEQUENCE = "Fluo-N2DH-SIM+/01"
# split_distance goes past the nuclei's radius: on SIM+ 01 GT masks the best is 60 px (50 and 70 lose).
GRID = {"max_distance": (20.0, 30.0, 40.0, 50.0), "split_distance": (20.0, 30.0, 40.0, 50.0, 60.0, 70.0),
        "gap_frames": (0, 1, 2)}
# The selection criterion, in order; ties after all three: fewest changes from the defaults, then grid order.
SELECTION = ("CT", "BC(2)", "BIO(2)")
# SEG is 1 on GT masks; BIO(2) comes with CT, TF, BC(2) and CCA.
METRICS = ("Valid", "DET", "TRA", "LNK", "CT", "TF", "BC(2)", "CCA")
REPORTED = ("DET", "TRA", "LNK", "CT", "TF", "BC(2)", "CCA", "BIO(2)", "divisions", "gt_divisions")


def selection_key(point: dict) -> tuple:
    """Larger is better: CT, then BC(2), then BIO(2) (a missing measure counts as -1), then fewer options
    that differ from LAPTRACK_DEFAULTS."""
    scores = point["scores"]
    changed = sum(point.get(key, value) != value for key, value in LAPTRACK_DEFAULTS.items())
    return tuple(-1.0 if scores.get(key) is None else scores[key] for key in SELECTION) + (-changed,)


def choose(grid: list) -> dict:
    """The grid point with the largest :func:`selection_key`; the first of equals (``max`` keeps the first)."""
    return max(grid, key=selection_key)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="CTC data folder (default $CELLTRACK_DATA, else ../shared/data)")
    parser.add_argument("--sequence", default=TUNING_SEQUENCE,
                        help="<dataset>/<NN> to tune on; must be a training sequence of --config-file")
    parser.add_argument("--config-file", default=DEFAULT_CONFIG, help="the benchmark's config (its DATASETS.TRAIN)")
    parser.add_argument("--out", default=str(LAPTRACK_TUNED), help="the JSON to write")
    parser.add_argument("--work-dir", default=str(HERE / "work" / "tune-laptrack"), help="scratch folder")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.chdir(REPO)
    training = config_training_sequences(args.config_file)
    if args.sequence not in training:
        raise SystemExit(f"tune_laptrack: {args.sequence} is not a training sequence of {args.config_file} "
                         f"(DATASETS.TRAIN gives {sorted(training)}); tuning on a test sequence would leak it "
                         f"into the benchmark. Pick one of those.")
    data, work = data_folder(args.data), Path(args.work_dir).resolve()
    found = find_sequences(data, [args.sequence], None, work)
    if not found:
        raise SystemExit(f"tune_laptrack: {data / args.sequence} (with its _GT/TRA) not found; set CELLTRACK_DATA")
    seq = found[0]
    command = ("python benchmarks/tune_laptrack.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    start = time.perf_counter()
    log(f"tune_laptrack: {seq.name}, {seq.num_frames} frames of GT masks")
    frames = list(seq.gt_label_frames())
    grid = []
    for values in itertools.product(*GRID.values()):
        options = dict(zip(GRID, values))
        link_laptrack(frames, fresh(work / "result"), **options)
        scores = evaluate_ctc(work / "result", seq.gt_dir, metrics=METRICS, threads=1, strict=False)
        grid.append({**options, "scores": {key: scores.get(key) for key in REPORTED}})
        log("  " + "  ".join(f"{key} {value:g}" for key, value in options.items()) + "   "
            + "  ".join(f"{key} {scores[key]:.3f}" for key in SELECTION if scores.get(key) is not None))
    best = choose(grid)
    chosen = {key: best[key] for key in LAPTRACK_DEFAULTS}
    defaults = next(point for point in grid if all(point[key] == value for key, value in LAPTRACK_DEFAULTS.items()))
    wall = time.perf_counter() - start
    tuned = {
        "chosen": chosen, "chosen_scores": best["scores"],
        "sequence": seq.name, "frames": seq.num_frames,
        "input": "GT masks with identities removed (benchmarks/run.py SequenceData.gt_labels, seed 0)",
        "selection": "highest CT, ties broken by BC(2), then BIO(2), then fewest options changed from the "
                     "defaults, then grid order",
        "grid_options": {key: list(values) for key, values in GRID.items()},
        "defaults": LAPTRACK_DEFAULTS, "defaults_scores": defaults["scores"],
        "grid": grid, "command": command, "config_file": args.config_file,
        "date": now(), "wall_seconds": round(wall, 1),
        "versions": {key: value for key, value in versions(REPO).items()
                     if key in ("laptrack", "py-ctcmetrics", "git")},
    }
    Path(args.out).write_text(json.dumps(json_safe(tuned), indent=2) + "\n")
    log(f"tune_laptrack: chose {chosen} (CT {best['scores']['CT']:.3f}, BC(2) {best['scores']['BC(2)']:.3f}, "
        f"BIO(2) {best['scores']['BIO(2)']:.3f}; defaults CT {defaults['scores']['CT']:.3f}) in {wall:.0f} s; "
        f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
