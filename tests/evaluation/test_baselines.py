"""What CellTrack is compared with (``celltrack.evaluation.baselines``), on a tiny synthetic sequence."""
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import tifffile

from celltrack.data.ctc import load_ctc_sequence, remove_identities, track_labels
from celltrack.evaluation import evaluate_ctc
from celltrack.evaluation.baselines import classical_segmentation, link_iou, link_laptrack


@pytest.fixture(scope="module")
def sequence(bright_sequence) -> Path:
    return bright_sequence


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


def test_track_labels_are_the_gt_cells(sequence):
    record = load_ctc_sequence(sequence, "01")[0]
    truth = tifffile.imread(sequence / "01_GT" / "SEG" / "man_seg000.tif")
    assert (track_labels(record) == truth).all()


def test_classical_segmentation_finds_bright_cells(sequence):
    image = tifffile.imread(sequence / "01" / "t000.tif")
    truth = tifffile.imread(sequence / "01_GT" / "SEG" / "man_seg000.tif")
    labels = classical_segmentation(image, min_area=30, min_distance=5)
    assert labels.max() >= 0.5 * len(np.unique(truth)[1:])
    assert ((labels > 0) & (truth > 0)).sum() > 0.5 * (truth > 0).sum()


def test_link_iou_closes_and_fills_a_gap_like_the_tracker(tmp_path):
    """A cell missed in frame 2 of 5: with MAX_GAP 1 and FILL_GAPS one track through all frames, its gap
    filled with the moved mask; without, two tracks (the CTC result holds what the tracker decided)."""
    frames = []
    for t in range(5):
        labels = np.zeros((40, 60), np.int32)
        labels[10:20, 5 + 2 * t:15 + 2 * t] = 1
        labels[25:35, 40:50] = 2  # a second, still cell
        if t == 2:
            labels[labels == 1] = 0
        frames.append(labels)
    plain = link_iou(frames, tmp_path / "plain", num_frames=5)
    assert len(plain) == 3
    filled = link_iou(frames, tmp_path / "filled", num_frames=5, max_gap=1, fill_gaps=True)
    assert len(filled) == 2 and sorted(filled[:, 2] - filled[:, 1]) == [4, 4]
    moving = filled[filled[:, 0] != tifffile.imread(tmp_path / "filled" / "mask000.tif")[30, 45]][0, 0]
    gap = tifffile.imread(tmp_path / "filled" / "mask002.tif") == moving
    assert gap.sum() == 100 and gap[10:20, 9:19].all()
