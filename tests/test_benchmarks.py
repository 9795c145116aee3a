"""The benchmark's baselines and report, on a tiny synthetic sequence (the real data is never needed)."""
import json
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import tifffile

from celltrack.data import make_synthetic_sequence
from celltrack.evaluation import evaluate_ctc

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from baselines import (  # noqa: E402
    LAPTRACK_DEFAULTS, classical_segmentation, laptrack_options, link_iou, link_laptrack, remove_identities)
from report import markdown, targets  # noqa: E402
from run import baseline_linkers, find_sequences, mark_training_data, training_sequences, truncated_gt  # noqa: E402
from tune_laptrack import choose  # noqa: E402


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=6, num_cells=6, height=96, width=96, seed=2,
                            cell_radius=(7.0, 10.0), cell_cycle=(3, 6), signal=(150.0, 250.0))
    return root


def gt_frames(root: Path):
    rng = np.random.default_rng(0)
    return [remove_identities(tifffile.imread(path), rng)
            for path in sorted((root / "01_GT" / "SEG").glob("man_seg*.tif"))]


@pytest.mark.parametrize("link", [link_iou, partial(link_iou, method="paper"), link_laptrack,
                                  partial(link_laptrack, gap_frames=0)],
                         ids=["iou", "iou-paper", "laptrack", "laptrack-no-gaps"])
def test_linkers_on_gt_masks(sequence, tmp_path, link):
    link(gt_frames(sequence), tmp_path / "01_RES")
    scores = evaluate_ctc(tmp_path / "01_RES", sequence / "01_GT")
    assert scores["SEG"] == pytest.approx(1.0) and scores["DET"] == pytest.approx(1.0)
    assert scores["TRA"] > 0.9


def test_remove_identities_keeps_the_cells():
    labels = np.array([[0, 5, 5], [9, 9, 0]])
    relabelled = remove_identities(labels, np.random.default_rng(0))
    assert sorted(np.unique(relabelled)) == [0, 1, 2] and ((relabelled > 0) == (labels > 0)).all()


def test_classical_segmentation_finds_bright_cells(sequence):
    image = tifffile.imread(sequence / "01" / "t000.tif")
    truth = tifffile.imread(sequence / "01_GT" / "SEG" / "man_seg000.tif")
    labels = classical_segmentation(image, min_area=30, min_distance=5)
    assert labels.max() >= 0.5 * len(np.unique(truth)[1:])
    assert ((labels > 0) & (truth > 0)).sum() > 0.5 * (truth > 0).sum()


def test_truncated_gt_is_a_valid_shorter_sequence(sequence, tmp_path):
    gt = truncated_gt(sequence / "01_GT", 3, tmp_path / "01_GT")
    assert len(list((gt / "TRA").glob("man_track*.tif"))) == 3
    lineage = np.loadtxt(gt / "TRA" / "man_track.txt", dtype=int, ndmin=2)
    assert lineage[:, 2].max() == 2 and lineage[:, 1].max() <= 2
    link_iou(gt_frames(sequence)[:3], tmp_path / "01_RES")
    assert evaluate_ctc(tmp_path / "01_RES", gt)["DET"] == pytest.approx(1.0)


def test_report_renders_partial_results():
    row = {"method": "celltrack", "dataset": "Fluo-N2DH-SIM+", "sequence": "02", "uses_gt_masks": False,
           "cells": "celltrack", "frames": 3, "SEG": 0.9, "DET": 0.99, "TRA": 0.98, "divisions": 1, "gt_divisions": 1}
    results = {"accuracy": [row, {"method": "celltrack-no-visual-head", "dataset": "Fluo-N2DH-SIM+", "sequence": "02",
                                  "uses_gt_masks": False, "skipped": "weights not found"}], "meta": {}}
    text = markdown(results)
    assert "| `celltrack` | celltrack | 0.900 | 0.990 | 0.980 | 0.010 |" in text and "weights not found" in text
    met = {check["target"]: check["met"] for check in targets(results)}
    assert met["SIM+ 02, own detections: TRA >= 0.97"] is True
    assert met["speed: track head + tracker cost <= 10 % extra (frames/s)"] is None


def test_laptrack_options_tuned_or_defaults(tmp_path):
    options, provenance = laptrack_options(tmp_path / "missing.json")
    assert options == LAPTRACK_DEFAULTS and provenance["source"] == "untuned defaults"
    assert "tune_laptrack.py" in provenance["note"]
    tuned = tmp_path / "laptrack_tuned.json"
    tuned.write_text(json.dumps({"chosen": {"max_distance": 40, "split_distance": 20.0, "gap_frames": 1},
                                 "chosen_scores": {"CT": 0.8}, "sequence": "Synthetic/01", "selection": "highest CT",
                                 "command": "python benchmarks/tune_laptrack.py"}))
    options, provenance = laptrack_options(tuned)
    assert options == {"max_distance": 40.0, "split_distance": 20.0, "gap_frames": 1}
    assert isinstance(options["gap_frames"], int) and isinstance(options["max_distance"], float)
    assert provenance["source"] == "tuned" and provenance["sequence"] == "Synthetic/01"
    tuned.write_text(json.dumps({"chosen": {"max_distance": 40}}))
    with pytest.raises(ValueError, match="laptrack_tuned.json"):
        laptrack_options(tuned)


def test_tuning_selects_ct_then_bc_then_bio_then_defaults():
    def point(name, ct, bc, bio, **options):
        return {"name": name, **LAPTRACK_DEFAULTS, **options, "scores": {"CT": ct, "BC(2)": bc, "BIO(2)": bio}}

    assert choose([point("a", 0.7, 0.9, 0.9), point("b", 0.8, 0.1, 0.1)])["name"] == "b"
    assert choose([point("a", 0.8, 0.1, 0.9), point("b", 0.8, 0.5, 0.1)])["name"] == "b"
    assert choose([point("a", 0.8, 0.5, 0.1), point("b", 0.8, 0.5, 0.2), point("c", 0.8, None, 0.9)])["name"] == "b"
    # Equal scores (e.g. gap closing on GT masks, which miss no cell): keep the defaults where data is silent.
    assert choose([point("a", 0.8, 0.5, 0.2, gap_frames=0, split_distance=50.0),
                   point("b", 0.8, 0.5, 0.2, split_distance=50.0)])["name"] == "b"
    assert choose([point("a", 0.8, 0.5, 0.2, gap_frames=0), point("b", 0.8, 0.5, 0.2, gap_frames=1)])["name"] == "a"


def test_iou_rows_follow_the_tracker_default():
    methods = [linker.method for linker in baseline_linkers("global", 0.1, LAPTRACK_DEFAULTS, "note")]
    assert methods == ["iou", "iou-paper-rule", "laptrack"]
    paper = baseline_linkers("paper", 0.1, LAPTRACK_DEFAULTS, "note")
    assert [linker.method for linker in paper] == ["iou", "laptrack"]
    learned = baseline_linkers("learned", 0.1, LAPTRACK_DEFAULTS, "note")  # needs weights: iou takes its assignment
    assert [linker.method for linker in learned] == methods and "'global' assignment" in learned[0].note


def test_training_sequences_are_marked(sequence, tmp_path):
    assert training_sequences(["Fluo-N2DH-SIM+/01[0:55]", "Fluo-N2DH-GOWT1/01"]) == {
        "Fluo-N2DH-SIM+/01": "Fluo-N2DH-SIM+/01[0:55]", "Fluo-N2DH-GOWT1/01": "Fluo-N2DH-GOWT1/01"}
    config = tmp_path / "trained.yaml"
    config.write_text('DATASETS:\n  TRAIN: ("Synthetic/01[0:4]",)\n')
    sequences = find_sequences(sequence.parent, ["Synthetic/01"], None, tmp_path / "work")
    why = mark_training_data(sequences, str(config), {"source": "untuned defaults"})
    assert sequences[0].training_data and "Synthetic/01[0:4]" in why["Synthetic/01"]
    config.write_text('DATASETS:\n  TRAIN: ("Synthetic/02",)\n')
    mark_training_data(sequences, str(config), {"source": "tuned", "sequence": "Other/01"})
    assert not sequences[0].training_data


def test_report_marks_training_data():
    def row(method, dataset, sequence, training, **scores):
        return {"method": method, "dataset": dataset, "sequence": sequence, "uses_gt_masks": False,
                "training_data": training, "cells": "celltrack", "frames": 3, **scores}

    results = {"accuracy": [row("celltrack", "Fluo-N2DH-SIM+", "02", False, DET=0.9, TRA=0.9),
                            row("celltrack", "Fluo-N2DH-GOWT1", "01", True, DET=0.95, TRA=0.94),
                            row("classical+laptrack", "Fluo-N2DH-GOWT1", "01", True, DET=0.8, TRA=0.8)],
               "meta": {"sections": {"accuracy": {
                   "command": "python benchmarks/run.py", "date": "today", "wall_seconds": 1,
                   "laptrack": {"max_distance": 40.0},
                   "laptrack_source": {"source": "untuned defaults", "note": "no file"},
                   "training_data": {"Fluo-N2DH-GOWT1/01": "CellTrack trained on Fluo-N2DH-GOWT1/01"}}}}}
    text = markdown(results)
    assert "### Fluo-N2DH-GOWT1 01 (3 frames, training data)" in text
    assert "Fluo-N2DH-GOWT1 01 (training data), linking only" in text
    assert "### Fluo-N2DH-SIM+ 02 (3 frames)" in text and "SIM+ 02 (training data)" not in text
    assert "CellTrack trained on Fluo-N2DH-GOWT1/01" in text and "max_distance 40 — no file" in text
    met = {check["target"]: check["met"] for check in targets(results)}
    assert met["GOWT1 01 (training data): celltrack above classical+laptrack on DET"] is True
