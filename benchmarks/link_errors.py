#!/usr/bin/env python
"""Every linking error of the tracker rules on a movie's ground-truth cells, one by one, with the evidence.

    python benchmarks/link_errors.py --sequence Fluo-N2DH-GOWT1/01 --data ../shared/data

The movie's TRA markers are its cells (identities removed, as in the benchmark's GT rows); the model's track
head embeds them and each rule of ``--methods`` links them with the config's options for given cells
(``tracker.GIVEN_CELLS``). Each cell of frame t > 0 is then judged against the ground truth: its link to t-1
is right (the same track, or its mother for a daughter), **missed** (a new track where the truth goes on),
**wrong** (another t-1 cell) or **false** (linked where the truth starts a track). For every missed or wrong
link the true pair's candidate evidence is printed: displacement, areas and, for the learned rule, the link
model's features and probability (``link_model.LINK_FEATURES``) and the heads' raw similarities. Writes
``--out`` (default benchmarks/link_errors.json). For finding why a rule loses links on validation movies;
the test sequence (Fluo-N2DH-SIM+ 02) is refused.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import DEFAULT_CONFIG, DEFAULT_WEIGHTS, REPO, data_folder  # noqa: E402
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.ctc import load_ctc_sequence, read_lineage, remove_identities, track_labels  # noqa: E402
from celltrack.data.movie import read_frame  # noqa: E402
from celltrack.tracking.link_model import LINK_FEATURES  # noqa: E402
from celltrack.tracking.predictor import CellTrackPredictor  # noqa: E402
from celltrack.tracking.scoring import score_pairs  # noqa: E402
from celltrack.tracking.tracker import GIVEN_CELLS, Detections, Tracker  # noqa: E402

TEST_SEQUENCES = ("Fluo-N2DH-SIM+/02",)


def ground_truth_movie(predictor, root: Path, sequence: str) -> list:
    """[(track id of each cell, Detections)] per frame: TRA markers as cells (random order), embedded."""
    frames = []
    for record in tqdm(load_ctc_sequence(root, sequence, mask_source=("TRA",)), desc="embedding GT cells"):
        by_track = track_labels(record)
        labels = remove_identities(by_track, np.random.default_rng([0, record["frame"]]))
        track_of = np.zeros(labels.max(initial=0) + 1, dtype=np.int64)
        track_of[labels.ravel()] = by_track.ravel()
        _, detections = predictor.segment(read_frame(record["file_name"], record["frame"]), labels)
        frames.append((track_of[1:], detections))
    return frames


def true_links(tracks: np.ndarray, previous_tracks: np.ndarray, parent_of: dict) -> np.ndarray:
    """(N,) index in t-1 of each cell's true predecessor (its own track, else its mother), -1 for none."""
    where = {int(track): j for j, track in enumerate(previous_tracks)}
    return np.array([where.get(int(track), where.get(parent_of.get(int(track), 0), -1)) for track in tracks],
                    dtype=np.int64)


def evidence(cfg, predictor, detections: Detections, previous: Detections, cell: int, mother: int) -> dict:
    """The true pair's candidate evidence (see the module docstring)."""
    shift = detections.centers[cell] - previous.centers[mother]
    row = {"displacement_px": round(float(np.hypot(*shift)), 1), "area": float(detections.areas[cell]),
           "area_before": float(previous.areas[mother])}
    options = Tracker.from_config(cfg)
    pairs, similarities, iou = score_pairs(detections, previous, predictor.similarity, options["num_candidates"],
                                           options["max_distance"])
    own = np.flatnonzero(pairs[:, 0] == cell)
    row["candidates"] = len(own)
    match = own[pairs[own, 1] == mother]
    if len(match) == 0:
        row["candidate"] = False  # beyond the gate and not overlapping
        return row
    k = int(match[0])
    row.update({"candidate": True, "iou": round(float(iou[k]), 3),
                **{f"{head}_similarity": round(float(values[k]), 3) for head, values in similarities.items()}})
    model = options["link_model"]
    if model is not None:
        features = model.link_features(pairs, similarities, iou, detections.centers, previous.centers,
                                       detections.areas, previous.areas)
        row.update({name: round(float(value), 3) for name, value in zip(LINK_FEATURES, features[k])})
        row["link_probability"] = round(float(model.link_probability(features[k:k + 1])[0]), 3)
    return row


def judge(cfg, predictor, frames: list, parent_of: dict, method: str) -> dict:
    """Link the movie with one rule; the counts and every error."""
    options = {**Tracker.from_config(cfg, similarity=predictor.similarity), **GIVEN_CELLS, "method": method}
    tracker = Tracker(**options)
    counts = {"right": 0, "missed": 0, "wrong": 0, "false": 0}
    errors = []
    previous = None
    for frame, (tracks, detections) in enumerate(frames):
        ids, parents = tracker.update(frame, detections)
        if previous is not None:
            previous_tracks, previous_ids, previous_detections = previous
            truth = true_links(tracks, previous_tracks, parent_of)
            where = {int(track): j for j, track in enumerate(previous_ids)}
            linked = np.array([where.get(int(i), where.get(int(p), -1) if p else -1) for i, p in zip(ids, parents)])
            for cell in np.flatnonzero(linked != truth):
                kind = "missed" if linked[cell] < 0 else "false" if truth[cell] < 0 else "wrong"
                counts[kind] += 1
                error = {"frame": frame, "track": int(tracks[cell]), "kind": kind,
                         "linked_to": int(previous_tracks[linked[cell]]) if linked[cell] >= 0 else 0,
                         "truth": int(previous_tracks[truth[cell]]) if truth[cell] >= 0 else 0}
                if truth[cell] >= 0:
                    error["true_pair"] = evidence(cfg, predictor, detections, previous_detections, cell, truth[cell])
                errors.append(error)
            counts["right"] += int((linked == truth).sum())
        previous = (tracks, ids, detections)
    return {"method": method, "counts": counts, "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequence", default="Fluo-N2DH-GOWT1/01", help="<dataset>/<NN>, a validation movie")
    parser.add_argument("--config-file", default=DEFAULT_CONFIG)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, help="the trained model (default: the shipped one)")
    parser.add_argument("--data", help="CTC data folder (default $CELLTRACK_DATA, else ../shared/data)")
    parser.add_argument("--methods", nargs="+", default=["learned", "global"])
    parser.add_argument("--out", default=str(HERE / "link_errors.json"))
    args = parser.parse_args()
    if args.sequence in TEST_SEQUENCES:
        print(f"link_errors: {args.sequence} is the test sequence; diagnose on a validation movie instead", file=sys.stderr)
        return 2
    dataset, sequence = args.sequence.rsplit("/", 1)
    root = data_folder(args.data) / dataset
    if not (root / f"{sequence}_GT" / "TRA" / "man_track.txt").is_file():
        print(f"link_errors: {root / (sequence + '_GT') / 'TRA' / 'man_track.txt'} not found (--data)", file=sys.stderr)
        return 2
    cfg = get_celltrack_cfg(str(REPO / args.config_file))
    cfg.MODEL.WEIGHTS = str(REPO / args.weights)
    predictor = CellTrackPredictor(cfg)
    frames = ground_truth_movie(predictor, root, sequence)
    parent_of = {int(label): int(parent) for label, _, _, parent in read_lineage(root / f"{sequence}_GT" / "TRA" / "man_track.txt")}
    results = []
    for method in args.methods:
        results.append(judge(cfg, predictor, frames, parent_of, method))
        print(f"{method}: {results[-1]['counts']}")
        for error in results[-1]["errors"]:
            print(f"  frame {error['frame']} track {error['track']}: {error['kind']} (linked to {error['linked_to']}, "
                  f"truth {error['truth']}) {error.get('true_pair', '')}")
    command = (f"python benchmarks/link_errors.py --sequence {args.sequence} --config-file {args.config_file} "
               f"--weights {args.weights} --methods " + " ".join(args.methods))
    Path(args.out).write_text(json.dumps({"command": command, "sequence": args.sequence, "rules": results}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
