"""evaluate_ctc: the GT scored against itself is perfect, damage lowers the scores, bad folders fail loudly."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from celltrack.data import CTCTrackWriter, make_synthetic_sequence
from celltrack.data.movie import DataError
from celltrack.evaluation import InvalidResultError, evaluate_ctc, format_metrics


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    """``<tmp>/Synthetic/01`` + ``01_GT`` (SEG and TRA in every frame), with divisions."""
    root = tmp_path_factory.mktemp("ctc") / "Synthetic"
    lineage = make_synthetic_sequence(root, "01", num_frames=8, num_cells=8, height=96, width=96, seed=1,
                                      cell_radius=(6.0, 9.0), cell_cycle=(3, 6))
    assert (np.bincount(lineage[:, 3])[1:] == 2).any(), "the fixture must hold a division"
    return root


def gt_masks(root: Path) -> list:
    return [tifffile.imread(path) for path in sorted((root / "01_GT" / "SEG").glob("man_seg*.tif"))]


def write_result(out_dir: Path, masks: list, lineage: np.ndarray) -> Path:
    writer = CTCTrackWriter(out_dir, num_frames=len(masks))
    for frame, labels in enumerate(masks):
        writer.write_frame(frame, labels)
    writer.close({label: parent for label, _, _, parent in lineage.tolist() if parent})
    return out_dir


def gt_lineage(root: Path) -> np.ndarray:
    return np.loadtxt(root / "01_GT" / "TRA" / "man_track.txt", dtype=np.int64, ndmin=2)


def test_perfect_result_scores_one(sequence, tmp_path):
    result = write_result(tmp_path / "01_RES", gt_masks(sequence), gt_lineage(sequence))
    scores = evaluate_ctc(result, sequence / "01_GT")
    for key in ("SEG", "DET", "TRA", "LNK", "CT", "TF", "BC(2)", "BIO(2)"):
        assert scores[key] == pytest.approx(1.0), key
    assert scores["Valid"] == 1 and scores["divisions"] == scores["gt_divisions"] > 0
    assert "TRA" in format_metrics(scores) and "n/a" not in format_metrics(scores, ("SEG", "TRA"))


def test_damaged_result_scores_lower(sequence, tmp_path):
    masks, lineage = gt_masks(sequence), gt_lineage(sequence)
    # Swap the identities of two cells in frame 5, and drop a cell in frame 2.
    first, second = lineage[(lineage[:, 1] <= 4) & (lineage[:, 2] >= 5), 0][:2]
    damaged = []
    for frame, labels in enumerate(masks):
        labels = labels.copy()
        if frame == 5:
            labels = np.where(labels == first, second, np.where(labels == second, first, labels))
        if frame == 2:
            labels[labels == labels.max()] = 0
        damaged.append(labels)
    result = tmp_path / "01_RES"
    writer = CTCTrackWriter(result, num_frames=len(damaged))
    for frame, labels in enumerate(damaged):
        writer.write_frame(frame, labels)
    writer.close()  # no parents: every division is lost
    scores = evaluate_ctc(result, sequence / "01_GT")
    assert scores["Valid"] == 1
    assert scores["TRA"] < 1.0 and scores["DET"] < 1.0 and scores["CT"] < 1.0 and scores["SEG"] < 1.0
    assert scores["BC(2)"] == 0.0 and scores["divisions"] == 0


def test_partial_and_missing_segmentation_gt(sequence, tmp_path):
    gt = tmp_path / "01_GT"
    shutil.copytree(sequence / "01_GT", gt)
    for frame in (0, 1, 3, 5, 6):  # SEG annotated on some frames only, as in Fluo-N2DH-GOWT1
        (gt / "SEG" / f"man_seg{frame:03d}.tif").unlink()
    result = write_result(tmp_path / "01_RES", gt_masks(sequence), gt_lineage(sequence))
    assert evaluate_ctc(result, gt)["SEG"] == pytest.approx(1.0)
    shutil.rmtree(gt / "SEG")
    scores = evaluate_ctc(result, gt)
    assert "SEG" not in scores and scores["TRA"] == pytest.approx(1.0)


def test_bad_folders_name_the_file_and_frame(sequence, tmp_path):
    result = write_result(tmp_path / "01_RES", gt_masks(sequence), gt_lineage(sequence))
    (result / "mask003.tif").unlink()
    with pytest.raises(DataError, match=r"01_RES \(frame 3\)"):
        evaluate_ctc(result, sequence / "01_GT")
    with pytest.raises(DataError, match="TRA"):
        evaluate_ctc(result, tmp_path / "nowhere")


def test_invalid_result_is_reported(sequence, tmp_path):
    result = write_result(tmp_path / "01_RES", gt_masks(sequence), gt_lineage(sequence))
    labels = tifffile.imread(result / "mask000.tif")
    labels[:3, :3] = 999  # a label that res_track.txt does not list
    tifffile.imwrite(result / "mask000.tif", labels)
    with pytest.raises(InvalidResultError, match="999"):
        evaluate_ctc(result, sequence / "01_GT")
    assert evaluate_ctc(result, sequence / "01_GT", strict=False)["Valid"] == 0
