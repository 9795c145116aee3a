import importlib.util
from pathlib import Path

import numpy as np
import tifffile

from celltrack.data.ctc import load_ctc_sequence, read_lineage
from celltrack.data.synthetic import make_synthetic_sequence

REPO = Path(__file__).resolve().parents[2]


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        make_synthetic_sequence(tmp_path / name, num_frames=4, num_cells=5, height=64, width=64, seed=seed)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")


def test_tiny_movie_has_exact_gt(tmp_path):
    # (No timing here: a timed unit test fails on a loaded machine; speed is the benchmarks' business.)
    lineage = make_synthetic_sequence(tmp_path / "Synthetic", "02", num_frames=8, num_cells=8, height=128,
                                      width=128, seed=0, cell_cycle=(3, 12))
    written = read_lineage(tmp_path / "Synthetic" / "02_GT" / "TRA" / "man_track.txt")
    np.testing.assert_array_equal(lineage, written)
    records = load_ctc_sequence(tmp_path / "Synthetic", "02")  # validates lineage against every mask
    assert {record["mask_source"] for record in records} == {"SEG"}
    raw = tifffile.imread(tmp_path / "Synthetic" / "02" / "t000.tif")
    segmentation = tifffile.imread(tmp_path / "Synthetic" / "02_GT" / "SEG" / "man_seg000.tif")
    assert raw.dtype == np.uint16 and segmentation.dtype == np.uint16
    background, cells = raw[segmentation == 0], raw[segmentation > 0]
    assert 80 < np.median(background) < 100 and 2 < background.std() < 15  # dim, noisy, SIM+-like
    assert np.median(cells) > np.median(background) + 20


def test_movie_has_divisions_entries_exits_and_touching_cells(tmp_path):
    lineage = make_synthetic_sequence(tmp_path, num_frames=20, num_cells=12, height=128, width=128, seed=1,
                                      cell_cycle=(5, 15), entry_rate=0.5, speed=2.0, drift=(1.0, 0.5))
    labels, begins, ends, parents = lineage.T
    daughters = parents[parents > 0]
    assert len(daughters) >= 4 and all(np.count_nonzero(daughters == p) <= 2 for p in daughters)
    assert np.any((begins > 0) & (parents == 0)), "a cell entering the field"
    divided = set(daughters.tolist())
    assert any(end < 19 and label not in divided for label, end in zip(labels, ends)), "a cell leaving"
    segmentation = tifffile.imread(tmp_path / "01_GT" / "SEG" / "man_seg010.tif")
    left, right = segmentation[:, :-1], segmentation[:, 1:]
    assert np.any((left > 0) & (right > 0) & (left != right)), "touching cells"


def test_marker_scale_gives_small_markers_inside_the_masks(tmp_path):
    make_synthetic_sequence(tmp_path, num_frames=2, num_cells=6, height=96, width=96, seed=2, marker_scale=0.5)
    segmentation = tifffile.imread(tmp_path / "01_GT" / "SEG" / "man_seg001.tif")
    markers = tifffile.imread(tmp_path / "01_GT" / "TRA" / "man_track001.tif")
    assert np.array_equal(segmentation[markers > 0], markers[markers > 0])
    assert 0 < (markers > 0).sum() < 0.5 * (segmentation > 0).sum()


def test_many_cells(tmp_path):
    lineage = make_synthetic_sequence(tmp_path, num_frames=3, num_cells=500, height=512, width=512, seed=3,
                                      cell_radius=(5.0, 8.0))
    assert len(lineage) >= 450
    assert len(np.unique(tifffile.imread(tmp_path / "01_GT" / "TRA" / "man_track002.tif"))) > 400


def test_command_line(tmp_path):
    spec = importlib.util.spec_from_file_location("make_synthetic", REPO / "datasets" / "make_synthetic.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main([str(tmp_path / "Demo"), "--sequence", "03", "--frames", "3", "--cells", "4",
                 "--height", "64", "--width", "64", "--seed", "1"])
    assert len(load_ctc_sequence(tmp_path / "Demo", "03")) == 3
