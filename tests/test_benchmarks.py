"""The benchmark's baselines and report, on a tiny synthetic sequence (the real data is never needed)."""
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from celltrack.data import make_synthetic_sequence
from celltrack.evaluation import evaluate_ctc

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from baselines import classical_segmentation, link_iou, link_laptrack, remove_identities  # noqa: E402
from report import markdown, targets  # noqa: E402
from run import truncated_gt  # noqa: E402


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


@pytest.mark.parametrize("link", [link_iou, link_laptrack])
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
