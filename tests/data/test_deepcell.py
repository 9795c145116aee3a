import importlib.util
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from detectron2.data import DatasetCatalog, MetadataCatalog

from celltrack.data.ctc import load_ctc_sequence, read_lineage
from celltrack.data.deepcell import read_trk, register_trk_dataset, trk_to_ctc
from celltrack.data.movie import DataError

REPO = Path(__file__).resolve().parents[2]


def save_trk(path: Path, raw: np.ndarray, tracked: np.ndarray, lineage) -> None:
    """Write a DeepCell .trk (one movie, ``lineage.json``) or .trks (a list, ``lineages.json``)."""
    name = "lineages.json" if isinstance(lineage, list) else "lineage.json"
    with tarfile.open(path, "w:gz") as archive:
        for member, data in ((name, json.dumps(lineage).encode()), ("raw.npy", raw), ("tracked.npy", tracked)):
            if isinstance(data, np.ndarray):
                buffer = io.BytesIO()
                np.save(buffer, data)
                data = buffer.getvalue()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def deepcell_lineage(tracked: np.ndarray, parents: dict[int, int]) -> dict:
    """DeepCell lineage json of a ``(T, H, W)`` label movie."""
    lineage = {}
    for label in sorted(set(np.unique(tracked).tolist()) - {0}):
        frames = [t for t in range(len(tracked)) if (tracked[t] == label).any()]
        daughters = [d for d, p in parents.items() if p == label]
        lineage[str(label)] = {"label": label, "frames": frames, "daughters": daughters,
                               "parent": parents.get(label) or None, "capped": bool(daughters),
                               "frame_div": frames[-1] + 1 if daughters else None}
    return lineage


def _synthetic_movie(root):
    """Raw, tracked (``(T, H, W, 1)``) and parents of the synthetic CTC sequence ``root/01``."""
    raw = np.stack([tifffile.imread(root / "01" / f"t{t:03d}.tif") for t in range(8)])[..., None]
    tracked = np.stack([tifffile.imread(root / "01_GT" / "TRA" / f"man_track{t:03d}.tif")
                        for t in range(8)])[..., None]
    lineage = read_lineage(root / "01_GT" / "TRA" / "man_track.txt")
    return raw, tracked, {label: parent for label, _, _, parent in lineage.tolist()}


def test_trk_converts_to_the_same_records(ctc_root, tmp_path):
    raw, tracked, parents = _synthetic_movie(ctc_root)
    save_trk(tmp_path / "movie.trk", raw, tracked, deepcell_lineage(tracked[..., 0], parents))
    [movie] = read_trk(tmp_path / "movie.trk")
    assert movie.raw.shape == movie.tracked.shape == (8, 128, 128)
    assert trk_to_ctc(tmp_path / "movie.trk", tmp_path / "RAW264.7") == ["01"]
    converted = load_ctc_sequence(tmp_path / "RAW264.7", "01")
    original = load_ctc_sequence(ctc_root, "01", mask_source=("TRA",))
    assert [r["annotations"] for r in converted] == [r["annotations"] for r in original]
    assert converted[0]["sequence"] == "RAW264.7/01"
    np.testing.assert_array_equal(tifffile.imread(converted[3]["file_name"]), raw[3, ..., 0])


def test_trks_with_two_movies_and_a_track_gap(tmp_path):
    tracked = np.zeros((2, 4, 16, 16, 1), np.int32)
    tracked[:, :, 2:6, 2:6] = 1
    tracked[1, 2, 2:6, 2:6] = 0  # movie 1: cell 1 missing in frame 2
    raw = np.random.default_rng(0).integers(0, 255, tracked.shape).astype(np.uint8)
    lineages = [deepcell_lineage(tracked[b, ..., 0], {}) for b in range(2)]
    save_trk(tmp_path / "movies.trks", raw, tracked, lineages)
    name = "test_trks_dataset"
    assert register_trk_dataset(name, tmp_path / "movies.trks", tmp_path / "Movies") == ["01", "02"]
    try:
        with pytest.warns(UserWarning, match=r"man_track002\.tif \(frame 2\): empty tracking GT"):
            records = DatasetCatalog.get(name)
        assert [r["sequence"] for r in records] == ["Movies/01"] * 4 + ["Movies/02"] * 4
        np.testing.assert_array_equal(read_lineage(tmp_path / "Movies" / "02_GT" / "TRA" / "man_track.txt"),
                                      [[1, 0, 1, 0], [2, 3, 3, 1]])  # CTC: a gap starts a new track
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_multichannel_raw_needs_a_channel(tmp_path):
    tracked = np.zeros((2, 8, 8, 1), np.int32)
    tracked[:, 1:3, 1:3] = 1
    raw = np.stack([np.full((2, 8, 8), 10), np.full((2, 8, 8), 20)], axis=-1).astype(np.uint16)
    save_trk(tmp_path / "two.trk", raw, tracked, deepcell_lineage(tracked[..., 0], {}))
    with pytest.raises(DataError, match=r"two\.trk: raw\.npy has 2 channels .* Pass channel=<index>"):
        read_trk(tmp_path / "two.trk")
    assert (read_trk(tmp_path / "two.trk", channel=1)[0].raw == 20).all()


def test_bad_trk_files(tmp_path):
    tracked = np.zeros((3, 8, 8, 1), np.int32)
    tracked[:, 1:3, 1:3] = 1
    tracked[2, 5:7, 5:7] = 4
    raw = np.zeros((3, 8, 8, 1), np.uint16)
    save_trk(tmp_path / "unknown.trk", raw, tracked, deepcell_lineage(tracked[:2, ..., 0], {}))
    with pytest.raises(DataError, match=r"unknown\.trk \(movie 0, frame 2\): label\(s\) \[4\] are absent"):
        read_trk(tmp_path / "unknown.trk")
    lineage = deepcell_lineage(tracked[..., 0], {})
    lineage["4"]["parent"] = 1  # parent 1 does not list 4 as a daughter
    save_trk(tmp_path / "orphan.trk", raw, tracked, lineage)
    with pytest.raises(DataError, match=r"orphan\.trk \(movie 0\): cell 4 has parent 1, which does not list it"):
        read_trk(tmp_path / "orphan.trk")
    lineage["1"]["daughters"] = [4]  # consistent now, but 1 is still alive when 4 begins
    save_trk(tmp_path / "overlap.trk", raw, tracked, lineage)
    with pytest.raises(DataError, match=r"overlap\.trk \(movie 0\): inconsistent lineage: .*parent 1 is still"):
        trk_to_ctc(tmp_path / "overlap.trk", tmp_path / "out")
    (tmp_path / "broken.trk").write_bytes(b"not a tar")
    with pytest.raises(DataError, match=r"broken\.trk: cannot be read as a DeepCell"):
        read_trk(tmp_path / "broken.trk")


def test_command_line(ctc_root, tmp_path):
    raw, tracked, parents = _synthetic_movie(ctc_root)
    save_trk(tmp_path / "movie.trk", raw, tracked, deepcell_lineage(tracked[..., 0], parents))
    spec = importlib.util.spec_from_file_location("trk_to_ctc", REPO / "datasets" / "trk_to_ctc.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main([str(tmp_path / "movie.trk"), str(tmp_path / "Converted")])
    assert len(load_ctc_sequence(tmp_path / "Converted", "01")) == 8
