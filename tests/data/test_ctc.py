import json
import warnings

import numpy as np
import pycocotools.mask as mask_util
import pytest
import tifffile
from ctc_metrics.scripts.validate import validate_sequence
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from celltrack.data.ctc import (
    CTCTrackWriter,
    label_image_to_rles,
    load_ctc_sequence,
    read_lineage,
    register_ctc_dataset,
    write_ctc_results,
    write_lineage,
)
from celltrack.data.movie import DataError
from celltrack.data.synthetic import make_synthetic_sequence


def _tra(root, frame):
    return tifffile.imread(root / "01_GT" / "TRA" / f"man_track{frame:03d}.tif")


def _parents(root):
    lineage = read_lineage(root / "01_GT" / "TRA" / "man_track.txt")
    return {label: parent for label, _, _, parent in lineage.tolist()}


def _mask(annotation):
    return mask_util.decode(annotation["segmentation"]).astype(bool)


# ------------------------------------------------------------------------------------ records
def test_records_follow_the_contract(ctc_root):
    records = load_ctc_sequence(ctc_root, "01")
    parent_of = _parents(ctc_root)
    assert [record["frame"] for record in records] == list(range(8))
    json.dumps(records)  # light: paths and compressed masks only
    for record in records:
        frame = record["frame"]
        assert record["sequence"] == "Synthetic/01" and record["image_id"] == f"Synthetic/01/{frame}"
        assert record["file_name"] == str(ctc_root / "01" / f"t{frame:03d}.tif")
        assert (record["height"], record["width"]) == (128, 128) and record["mask_source"] == "SEG"
        markers = _tra(ctc_root, frame)
        assert sorted(a["track_id"] for a in record["annotations"]) == sorted(set(np.unique(markers)) - {0})
        for annotation in record["annotations"]:
            mask = _mask(annotation)
            assert np.array_equal(mask, markers == annotation["track_id"])
            ys, xs = np.nonzero(mask)
            assert annotation["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert annotation["bbox_mode"] == BoxMode.XYXY_ABS
            assert (annotation["category_id"], annotation["iscrowd"]) == (0, 0)
            assert annotation["parent_id"] == parent_of[annotation["track_id"]]
    assert any(a["parent_id"] for record in records for a in record["annotations"])


def test_rles_match_pycocotools():
    labels = np.zeros((30, 20), np.uint16)
    labels[0:30, 0:3] = 2  # a column-spanning run
    labels[5:9, 4:15] = 7
    labels[29, 19] = 9  # last pixel
    rles = label_image_to_rles(labels)
    assert sorted(rles) == [2, 7, 9]
    for label, rle in rles.items():
        expected = mask_util.encode(np.asfortranarray((labels == label).astype(np.uint8)))
        assert rle["counts"] == expected["counts"].decode()
    assert label_image_to_rles(np.zeros((4, 4), np.uint16)) == {}


def test_register_ctc_dataset(ctc_root):
    name = "test_register_ctc_dataset"
    register_ctc_dataset(name, ctc_root, ["01"])
    try:
        assert len(DatasetCatalog.get(name)) == 8
        metadata = MetadataCatalog.get(name)
        assert metadata.thing_classes == ["cell"] and metadata.root == str(ctc_root)
        assert metadata.sequences == ["01"] and metadata.sequence_names == ["Synthetic/01"]
        assert metadata.mask_source == ["SEG", "ST"]
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    with pytest.raises(DataError, match="sequence folder missing"):
        register_ctc_dataset(name + "_bad", ctc_root, ["07"])


# -------------------------------------------------------------------------------- mask policy
@pytest.fixture
def marker_root(tmp_path):
    """GOWT1-like: TRA markers are small blobs inside the SEG masks."""
    root = tmp_path / "Markers"
    make_synthetic_sequence(root, "01", num_frames=4, num_cells=6, height=96, width=96, seed=3,
                            cell_radius=(7.0, 10.0), marker_scale=0.5)
    return root


def test_masks_come_from_complete_seg_else_st_else_sparse(marker_root):
    seg_dir = marker_root / "01_GT" / "SEG"
    seg1 = tifffile.imread(seg_dir / "man_seg001.tif")
    # SEG labels need not equal track ids: renumber frame 0's segments
    seg0 = tifffile.imread(seg_dir / "man_seg000.tif")
    tifffile.imwrite(seg_dir / "man_seg000.tif", np.where(seg0 > 0, seg0 + 100, 0).astype(np.uint16))
    # frame 1: one cell missing from SEG (incomplete), silver truth complete
    tifffile.imwrite(seg_dir / "man_seg001.tif", np.where(seg1 == seg1.max(), 0, seg1).astype(np.uint16))
    (marker_root / "01_ST" / "SEG").mkdir(parents=True)
    tifffile.imwrite(marker_root / "01_ST" / "SEG" / "man_seg001.tif", seg1)
    (seg_dir / "man_seg002.tif").unlink()  # frame 2: no SEG, no ST
    seg3 = tifffile.imread(seg_dir / "man_seg003.tif")  # frame 3: one cell missing from SEG, no ST
    missing = int(seg3.max())
    tifffile.imwrite(seg_dir / "man_seg003.tif", np.where(seg3 == missing, 0, seg3).astype(np.uint16))
    records = load_ctc_sequence(marker_root, "01")
    assert [record["mask_source"] for record in records] == ["SEG", "ST", "markers", "partial SEG"]
    for record in records:
        markers = _tra(marker_root, record["frame"])
        masks = {a["track_id"]: _mask(a) for a in record["annotations"]}
        valid = {a["track_id"]: a["mask_valid"] for a in record["annotations"]}
        assert sorted(masks) == sorted(set(np.unique(markers)) - {0})  # identities always from TRA
        for track_id, mask in masks.items():
            marker = markers == track_id
            assert (mask & marker).sum() * 2 > marker.sum()
            # a cell without an outline keeps its marker and is flagged: the mask head skips it
            assert np.array_equal(mask, marker) == (not valid[track_id])
        assert all(valid.values()) == (record["mask_source"] in ("SEG", "ST"))
    assert [a["mask_valid"] for a in records[3]["annotations"]].count(False) == 1
    # marker-only boxes are scaled by the sequence's outline/marker box ratio (markers here: half size)
    marker_only = next(a for a in records[2]["annotations"])
    x0, y0, x1, y1 = marker_only["bbox"]
    mx, my, mw, mh = mask_util.toBbox(marker_only["segmentation"])
    assert 1.5 < (x1 - x0) / mw < 2.5 and 1.5 < (y1 - y0) / mh < 2.5
    for track_id, mask in {a["track_id"]: _mask(a) for a in records[0]["annotations"]}.items():
        assert np.array_equal(mask, tifffile.imread(seg_dir / "man_seg000.tif") == track_id + 100)
    only_tra = load_ctc_sequence(marker_root, "01", mask_source=("TRA",))
    assert {record["mask_source"] for record in only_tra} == {"TRA"}
    assert all(a["mask_valid"] for record in only_tra for a in record["annotations"])
    with pytest.raises(ValueError, match="mask_source"):
        load_ctc_sequence(marker_root, "01", mask_source=("GOLD",))


def test_eight_bit_raw_and_four_digit_names(ctc_root):
    gt = ctc_root / "01_GT"
    for frame in range(8):
        raw = tifffile.imread(ctc_root / "01" / f"t{frame:03d}.tif")
        (ctc_root / "01" / f"t{frame:03d}.tif").unlink()
        tifffile.imwrite(ctc_root / "01" / f"t{frame:04d}.tif", (raw // 2).astype(np.uint8))
        for folder, prefix in (("SEG", "man_seg"), ("TRA", "man_track")):
            (gt / folder / f"{prefix}{frame:03d}.tif").rename(gt / folder / f"{prefix}{frame:04d}.tif")
    records = load_ctc_sequence(ctc_root, "01")
    assert len(records) == 8 and records[5]["file_name"].endswith("t0005.tif")


# ------------------------------------------------------------------------------------ lineage
@pytest.mark.parametrize("text, message", [
    ("1 0 5 0\n2 0 x 0\n", r"man_track\.txt:2: '2 0 x 0' is not four integers"),
    ("1 0 5 0\n1 6 7 0\n", r"man_track\.txt:2: .*label 1 is listed twice \(also line 1\)"),
    ("1 0 5 0\n2 6 4 1\n", r"man_track\.txt:2: .*last frame E comes before the first frame B"),
    ("1 0 5 0\n2 6 7 3\n", r"man_track\.txt:2: parent 3 of track 2 is not listed"),
    ("1 0 5 0\n2 5 7 1\n", r"man_track\.txt:2: track 2 begins at frame 5 but its parent 1 \(line 1\) ends "
                            r"at frame 5"),
])
def test_bad_lineage_names_file_and_line(tmp_path, text, message):
    (tmp_path / "man_track.txt").write_text(text)
    with pytest.raises(DataError, match=message):
        read_lineage(tmp_path / "man_track.txt")


def test_lineage_round_trip(tmp_path):
    table = np.array([[1, 0, 4, 0], [2, 5, 9, 1], [3, 5, 7, 1]])
    write_lineage(tmp_path / "res_track.txt", table)
    np.testing.assert_array_equal(read_lineage(tmp_path / "res_track.txt"), table)
    assert list(tmp_path.iterdir()) == [tmp_path / "res_track.txt"]  # no temporary left behind


# ---------------------------------------------------------------------------------- bad input
def test_missing_frame(ctc_root):
    (ctc_root / "01" / "t003.tif").unlink()
    with pytest.raises(DataError, match=r"01: raw frame \(tTTT.tif\) files are not contiguous: frame\(s\) 3 "):
        load_ctc_sequence(ctc_root, "01")


def test_missing_tracking_frame(ctc_root):
    (ctc_root / "01_GT" / "TRA" / "man_track005.tif").unlink()
    with pytest.raises(DataError, match=r"TRA \(frame 5\): no man_track file for raw frame t005\.tif"):
        load_ctc_sequence(ctc_root, "01")


def test_frames_of_different_sizes(ctc_root):
    tifffile.imwrite(ctc_root / "01" / "t004.tif", np.zeros((130, 128), np.uint16))
    with pytest.raises(DataError, match=r"t004\.tif \(frame 4\): size \(130, 128\) differs"):
        load_ctc_sequence(ctc_root, "01")


def test_unreadable_tiff(ctc_root):
    (ctc_root / "01" / "t002.tif").write_bytes(b"II*\x00 truncated")
    with pytest.raises(DataError, match=r"t002\.tif \(frame 2\): cannot be read as a TIFF"):
        load_ctc_sequence(ctc_root, "01")


def test_multichannel_frame(ctc_root):
    raw = tifffile.imread(ctc_root / "01" / "t001.tif")
    tifffile.imwrite(ctc_root / "01" / "t001.tif", np.stack([raw, raw // 2], axis=-1))
    with pytest.raises(DataError, match=r"t001\.tif \(frame 1\): has shape \(128, 128, 2\); expected one 2-D"):
        load_ctc_sequence(ctc_root, "01")


def test_track_label_absent_from_lineage(ctc_root):
    markers = _tra(ctc_root, 6)
    markers[:3, :3] = 999
    tifffile.imwrite(ctc_root / "01_GT" / "TRA" / "man_track006.tif", markers)
    with pytest.raises(DataError, match=r"man_track006\.tif \(frame 6\): track label\(s\) \[999\] are absent "
                                        r"from .*man_track\.txt"):
        load_ctc_sequence(ctc_root, "01")


def test_track_missing_from_its_mask(ctc_root):
    markers = _tra(ctc_root, 0)
    label = int(markers.max())
    tifffile.imwrite(ctc_root / "01_GT" / "TRA" / "man_track000.tif", np.where(markers == label, 0, markers))
    with pytest.raises(DataError, match=rf"man_track000\.tif \(frame 0\): track {label} should be in this "
                                        rf"frame \(.*man_track\.txt:\d+ says frames 0\.\.\d+\)"):
        load_ctc_sequence(ctc_root, "01")


def test_empty_gt_frame_warns_and_is_kept(tmp_path):
    root = tmp_path / "Empty"
    for folder in ("01", "01_GT/TRA"):
        (root / folder).mkdir(parents=True)
    for frame in range(3):
        tifffile.imwrite(root / "01" / f"t{frame:03d}.tif", np.full((16, 16), 100, np.uint16))
        markers = np.zeros((16, 16), np.uint16)
        if frame != 1:
            markers[4:8, 4:8] = frame + 1
        tifffile.imwrite(root / "01_GT" / "TRA" / f"man_track{frame:03d}.tif", markers)
    (root / "01_GT" / "TRA" / "man_track.txt").write_text("1 0 0 0\n3 2 2 0\n")
    with pytest.warns(UserWarning, match=r"man_track001\.tif \(frame 1\): empty tracking GT"):
        records = load_ctc_sequence(root, "01")
    assert [len(record["annotations"]) for record in records] == [1, 0, 1]


# ------------------------------------------------------------------------------------- writer
def _result_frames(root, num_frames=8):
    return [_tra(root, frame) for frame in range(num_frames)]


def test_written_results_pass_ctc_validation(ctc_root, tmp_path):
    gt_lineage = read_lineage(ctc_root / "01_GT" / "TRA" / "man_track.txt")
    out = tmp_path / "01_RES"
    table = write_ctc_results(out, _result_frames(ctc_root), _parents(ctc_root))
    np.testing.assert_array_equal(table, gt_lineage)
    np.testing.assert_array_equal(read_lineage(out / "res_track.txt"), gt_lineage)
    assert sorted(p.name for p in out.iterdir()) == [f"mask{f:03d}.tif" for f in range(8)] + ["res_track.txt"]
    assert tifffile.imread(out / "mask003.tif").dtype == np.uint16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate_sequence(str(out), threads=1)["Valid"] == 1


def test_write_then_read_round_trip(ctc_root, tmp_path):
    """GT written by the writer (ground_truth=True) reads back to the same records."""
    original = load_ctc_sequence(ctc_root, "01", mask_source=("TRA",))
    copy = tmp_path / "copy" / "Synthetic"
    (copy / "01").mkdir(parents=True)
    for frame in range(8):
        name = f"t{frame:03d}.tif"
        (copy / "01" / name).write_bytes((ctc_root / "01" / name).read_bytes())
    writer = CTCTrackWriter(copy / "01_GT" / "TRA", ground_truth=True)
    for frame, labels in enumerate(_result_frames(ctc_root)):
        writer.write_frame(frame, labels)
    writer.close(_parents(ctc_root))
    again = load_ctc_sequence(copy, "01", mask_source=("TRA",))
    assert [r["annotations"] for r in again] == [r["annotations"] for r in original]


def test_writer_splits_tracks_with_gaps_and_renumbers_large_labels(tmp_path):
    frames = [np.zeros((12, 12), np.int64) for _ in range(6)]
    for frame in (0, 1, 3):  # label 5 vanishes at frame 2 and comes back
        frames[frame][1:4, 1:4] = 5
    for frame in (4, 5):  # daughter of 5, with a label too large for 16 bits
        frames[frame][6:9, 6:9] = 70000
    frames[2][8:10, 8:10] = 6  # a cell whose label collides with nothing yet
    table = write_ctc_results(tmp_path, frames, parents={70000: 5})
    np.testing.assert_array_equal(table, [[5, 0, 1, 0], [6, 2, 2, 0], [7, 3, 3, 5], [8, 4, 5, 7]])
    assert tifffile.imread(tmp_path / "mask003.tif")[2, 2] == 7
    assert tifffile.imread(tmp_path / "mask005.tif")[7, 7] == 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate_sequence(str(tmp_path), threads=1)["Valid"] == 1


def test_writer_rejects_bad_input(tmp_path):
    writer = CTCTrackWriter(tmp_path)
    with pytest.raises(ValueError, match="got frame 1, expected frame 0"):
        writer.write_frame(1, np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError, match="non-negative integer label image"):
        writer.write_frame(0, np.zeros((4, 4), np.float32))
    labels = np.zeros((4, 4), np.uint16)
    labels[0, 0], labels[3, 3] = 1, 2
    writer.write_frame(0, labels)
    with pytest.raises(ValueError, match="track 2 begins at frame 0 while its parent 1 is still present"):
        writer.close({2: 1})
    with pytest.raises(ValueError, match="links track 9 to parent 1, but track 9 is in no written frame"):
        writer.close({9: 1})


def test_lineage_longer_than_the_movie(ctc_root):
    path = ctc_root / "01_GT" / "TRA" / "man_track.txt"
    path.write_text(path.read_text() + "500 3 20 0\n")
    with pytest.raises(DataError, match=r"man_track\.txt:\d+: track 500 ends at frame 20, after the last frame 7"):
        load_ctc_sequence(ctc_root, "01")
