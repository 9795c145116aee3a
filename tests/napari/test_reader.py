"""celltrack/napari/reader.py: a track_video output folder and CTC folders opened in napari."""
import shutil

import numpy as np
import pytest
import tifffile

pytest.importorskip("napari", reason="napari is not installed: pip install -e .[napari] runs these tests")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed: pip install -e .[napari] runs these tests")

from celltrack.data.ctc import read_lineage  # noqa: E402
from celltrack.data.movie import DataError  # noqa: E402
from celltrack.napari.reader import get_reader, read_result  # noqa: E402
from napari_checks import assert_tracks_match_lineage, ctc_masks  # noqa: E402


def test_opens_a_track_video_output_as_labels_and_tracks(viewer, tracked_result):
    out, _ = tracked_result
    layers = viewer.open(out, plugin="celltrack")
    assert [type(layer).__name__ for layer in layers] == ["Labels", "Tracks"]
    labels, tracks = layers
    assert labels.name == f"{out.name} masks" and tracks.name == f"{out.name} tracks"
    masks = ctc_masks(out / "res")
    assert labels.data.shape == masks.shape and np.array_equal(labels.data, masks)
    assert_tracks_match_lineage(tracks, out / "res" / "res_track.txt")
    assert tracks.graph, "the synthetic movie has divisions: the graph must hold them"
    # each point sits at the centroid of its cell's mask in that frame
    track_id, frame, y, x = tracks.data[len(tracks.data) // 2]
    ys, xs = np.nonzero(masks[int(frame)] == track_id)
    assert (y, x) == pytest.approx((ys.mean(), xs.mean()))
    assert labels.metadata["celltrack_result"] == str(out / "res")


def test_opens_a_ctc_result_folder_and_ground_truth(tracked_result):
    out, movie = tracked_result
    (labels, kwargs, kind), (tracks, track_kwargs, _) = read_result(out / "res")
    assert kind == "labels" and kwargs["name"] == f"{out.name} masks"  # "res" takes its parent's name
    assert np.array_equal(labels, ctc_masks(out / "res"))
    gt = movie.parent / "01_GT" / "TRA"
    (gt_labels, _, _), (gt_tracks, gt_kwargs, _) = read_result(gt)
    assert np.array_equal(gt_labels, ctc_masks(gt, "man_track"))
    lineage = read_lineage(gt / "man_track.txt")
    assert gt_kwargs["graph"] == {label: [parent] for label, _, _, parent in lineage.tolist() if parent}
    assert sorted(set(gt_tracks[:, 0].astype(int))) == sorted(lineage[:, 0].tolist())


def test_leaves_other_paths_to_other_readers(tracked_result):
    out, movie = tracked_result
    assert get_reader(str(out)) is read_result and get_reader([str(out / "res")]) is read_result
    assert get_reader(str(movie)) is None  # frames, not a result
    assert get_reader(str(out / "tracks.csv")) is None
    assert get_reader([str(out), str(out)]) is None


def test_masks_that_disagree_with_the_lineage_are_refused(tracked_result, tmp_path):
    out, _ = tracked_result
    broken = tmp_path / "broken"
    shutil.copytree(out / "res", broken)
    mask = tifffile.imread(broken / "mask003.tif")
    label = int(mask.max())
    mask[mask == label] = 0
    tifffile.imwrite(broken / "mask003.tif", mask)
    with pytest.raises(DataError, match=rf"mask003.tif \(frame 3\): track {label} is listed in .*res_track.txt"):
        read_result(broken)


def test_a_result_without_cells_opens_as_empty_masks(viewer, tmp_path):
    from celltrack.data.ctc import write_ctc_results

    write_ctc_results(tmp_path / "res", [np.zeros((16, 16), np.uint16)] * 3)
    (labels,) = viewer.open(tmp_path / "res", plugin="celltrack")
    assert labels.data.shape == (3, 16, 16) and not labels.data.any()
