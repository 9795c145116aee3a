#!/usr/bin/env python
"""How strongly to regularise the learned link and division models, chosen across datasets (never on a test movie).

    python benchmarks/linker_regularization.py --config-file celltrack/model_zoo/CellTrack-R18-FPN-cpu/config.yaml

The models are fitted on one training dataset's ground-truth cells and scored on the other's (GOWT1 01
-> SIM+ 01 and SIM+ 01 -> GOWT1 01), with the shipped track head: links and divisions decided by
``learned_rule`` on every consecutive frame pair, compared with the ground truth (F1 of the links that
continue a cell, F1 of the divisions, a division counting when mother and both daughters are right).
The penalty with the best mean of the two F1s over both directions is the default of
``linker_trainer.fit_link_model``. Writes benchmarks/linker_regularization.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import celltrack  # noqa: F401
from celltrack.checkpoint import load_trained_weights
from celltrack.config import get_celltrack_cfg
from celltrack.data.catalog import register_named_sequences
from celltrack.linker_trainer import collect_frames, displacement_statistics, fit_link_model, candidates
from celltrack.tracking.link_model import learned_rule
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model

HERE = Path(__file__).resolve().parent
PENALTIES = (1e-3, 1e-2, 1e-1, 1.0)


def f1(true: set, predicted: set) -> float:
    hits = len(true & predicted)
    return 2 * hits / max(len(true) + len(predicted), 1)


def score(cfg, head, frames, linker) -> dict:
    """Link and division F1 of ``linker`` on every consecutive pair of ``frames``."""
    import torch

    true_links, links, true_divisions, divisions = set(), set(), set(), set()
    for index, frame in enumerate(frames):
        if frame.previous < 0:
            continue
        previous = frames[frame.previous]
        pairs, iou, _ = candidates(frame, previous, cfg.CELLTRACK.TRACKER.NUM_CANDIDATES, cfg.CELLTRACK.TRACKER.MAX_DISTANCE)
        with torch.no_grad():
            e_t = head.embed(frame.features.float(), frame.positions)
            e_p = head.embed(previous.features.float(), previous.positions)
            similarities = {k: v.numpy() for k, v in head.similarity(e_t, e_p, torch.as_tensor(pairs)).items()}
        features = linker.link_features(pairs, similarities, iou, frame.centers, previous.centers, frame.areas, previous.areas)
        probability = linker.link_probability(features)
        options = linker.division_candidates(pairs, probability)
        division_probability = linker.division_probability(linker.division_features(
            options, pairs, features, frame.centers, previous.centers, frame.areas, previous.areas))
        result = learned_rule(pairs, probability, len(frame.centers), len(previous.centers), options, division_probability)
        where = {t: j for j, t in enumerate(previous.track_ids)}
        for i, (track, parent) in enumerate(zip(frame.track_ids, frame.parent_ids)):
            if track in where:
                true_links.add((index, i, where[track]))
        mothers = {}
        for i, parent in enumerate(frame.parent_ids):
            if parent in where and frame.track_ids[i] not in where:
                mothers.setdefault(where[parent], []).append(i)
        true_divisions |= {(index, m, tuple(sorted(d))) for m, d in mothers.items() if len(d) == 2}
        predicted = {}
        for i, (j, daughter) in enumerate(zip(result.matched, result.is_daughter)):
            if j >= 0 and not daughter:
                links.add((index, i, int(j)))
            elif j >= 0:
                predicted.setdefault(int(j), []).append(i)
        divisions |= {(index, m, tuple(sorted(d))) for m, d in predicted.items()}
    return {"link_f1": f1(true_links, links), "division_f1": f1(true_divisions, divisions),
            "true_divisions": len(true_divisions), "predicted_divisions": len(divisions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", default="celltrack/model_zoo/CellTrack-R18-FPN-cpu/config.yaml")
    parser.add_argument("--weights", default="celltrack/model_zoo/CellTrack-R18-FPN-cpu/model_final.pth")
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file, ["MODEL.WEIGHTS", args.weights])
    datasets = {"SIM+ 01": "Fluo-N2DH-SIM+/01[0:55]", "GOWT1 01": "Fluo-N2DH-GOWT1/01"}
    register_named_sequences(datasets.values(), cfg)
    model = build_model(cfg).eval()
    load_trained_weights(model, cfg.MODEL.WEIGHTS)
    head = model.roi_heads.track_head
    frames = {name: collect_frames(cfg, model, DatasetCatalog.get(dataset)) for name, dataset in datasets.items()}
    rows = []
    for penalty in PENALTIES:
        for train, test in (("GOWT1 01", "SIM+ 01"), ("SIM+ 01", "GOWT1 01")):
            statistics = displacement_statistics(frames[train])
            linker, _ = fit_link_model(cfg, head, frames[train], statistics, l2=penalty)
            rows.append({"l2": penalty, "fit_on": train, "scored_on": test, **score(cfg, head, frames[test], linker)})
            print(rows[-1], flush=True)
    means = {p: np.mean([(r["link_f1"] + r["division_f1"]) / 2 for r in rows if r["l2"] == p]) for p in PENALTIES}
    chosen = max(PENALTIES, key=lambda p: (round(means[p], 4), p))
    result = {"command": "python benchmarks/linker_regularization.py", "rows": rows,
              "mean_f1": {str(p): float(v) for p, v in means.items()}, "chosen_l2": chosen,
              "rule": "best mean of link F1 and division F1 over both directions; ties: the stronger penalty"}
    (HERE / "linker_regularization.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"chosen l2 {chosen}; wrote {HERE / 'linker_regularization.json'}")


if __name__ == "__main__":
    main()
