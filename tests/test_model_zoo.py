"""The shipped model: it loads from the package alone, and track_video uses it when given no weights."""
import json
import sys
from pathlib import Path

import numpy as np
import tifffile
import torch

from celltrack import model_zoo
from celltrack.data.synthetic import make_synthetic_sequence
from celltrack.tracking.link_model import LinkModel
from celltrack.tracking.predictor import CellTrackPredictor

sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))
import track_video  # noqa: E402


def test_the_shipped_model_is_small_and_loads_into_its_config():
    folder = model_zoo.model_folder()
    assert (folder / "model_final.pth").stat().st_size <= 40e6 and (folder / "MODEL_CARD.md").is_file()
    state = torch.load(folder / "model_final.pth", weights_only=True)["model"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    cfg = model_zoo.get_config()
    # The shipped rule is the one benchmarks/linker_validation.py chose, and its fitted models are this
    # version's (LinkModel.from_config refuses weights fitted for other features).
    validation = json.loads((Path(__file__).parents[1] / "benchmarks" / "linker_validation.json").read_text())
    assert cfg.CELLTRACK.TRACKER.METHOD == validation["chosen_rule"]
    assert cfg.CELLTRACK.TRACKER.MIN_TRACK_LENGTH == validation["chosen_min_track_length"]
    assert cfg.CELLTRACK.TRACKER.MAX_GAP == validation["chosen_max_gap"]
    assert cfg.CELLTRACK.TRACKER.FILL_GAPS == validation["chosen_fill_gaps"]
    assert cfg.CELLTRACK.TRACKER.RESCUE_THRESHOLD == validation["chosen_rescue_threshold"]
    area_sum = json.loads((Path(__file__).parents[1] / "benchmarks" / "linker_validation_area_sum.json").read_text())
    assert cfg.CELLTRACK.TRACKER.DIVISION_MAX_AREA_SUM == area_sum["chosen_division_max_area_sum"]
    assert cfg.CELLTRACK.TRACKER.DIVISION_MOTHER_IOU == area_sum["chosen_division_mother_iou"]
    scores = json.loads((Path(__file__).parents[1] / "benchmarks" / "linker_validation_continue.json").read_text())
    assert cfg.CELLTRACK.TRACKER.MIN_SCORE == scores["chosen_min_score"]
    assert (cfg.CELLTRACK.TRACKER.CONTINUE_SCORE >= cfg.CELLTRACK.TRACKER.MIN_SCORE) == (scores["chosen_continue_score"] >= 1)
    assert cfg.CELLTRACK.TRACKER.TEMPORAL_MASKS == scores["chosen_temporal_masks"]
    # Temporal smoothing: its gate is temporal_smoothing.json's; it is off because tracking the validation movies'
    # own cells with it lost to the shipped setting without it (the same rule as above).
    smoothing = json.loads((Path(__file__).parents[1] / "benchmarks" / "temporal_smoothing.json").read_text())["chosen"]
    assert cfg.CELLTRACK.TEMPORAL_SMOOTHING_NOISE == smoothing["TEMPORAL_SMOOTHING_NOISE"]
    smoothed = json.loads((Path(__file__).parents[1] / "benchmarks" / "linker_validation_continue_smoothing.json").read_text())
    without = scores["means"][scores["chosen"]]
    with_it = smoothed["means"][smoothed["chosen"]]
    assert (cfg.CELLTRACK.TEMPORAL_SMOOTHING > 0) == (sum(with_it[k] for k in ("SEG", "TRA", "CT")) >
                                                      sum(without[k] for k in ("SEG", "TRA", "CT")))
    assert LinkModel.from_config(cfg) is not None
    predictor = CellTrackPredictor(cfg)  # refuses weights that do not fit
    assert next(predictor.model.parameters()).dtype == torch.float32


def test_track_video_needs_no_weights(tmp_path):
    root = tmp_path / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=3, num_cells=4, height=96, width=96, seed=5)
    out = tmp_path / "out"
    assert track_video.main([str(root / "01"), "--output", str(out), "--masks", str(root / "01_GT" / "SEG")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 3
    cells = [len(np.unique(tifffile.imread(root / "01_GT" / "SEG" / f"man_seg{t:03d}.tif"))) - 1 for t in range(3)]
    assert summary["cells"] == sum(cells)
    assert track_video.main([str(root / "01"), "--output", str(tmp_path / "x"), "--weights", "w.pth"]) == 2


def test_given_masks_are_never_discarded_as_short_tracks(tmp_path):
    # MIN_TRACK_LENGTH (5 in the shipped config) removes the detector's flickers; a cell the user segmented is
    # kept even when it is seen in one frame only.
    assert model_zoo.get_config().CELLTRACK.TRACKER.MIN_TRACK_LENGTH > 2
    (tmp_path / "movie").mkdir()
    (tmp_path / "masks").mkdir()
    yy, xx = np.mgrid[:96, :96]
    for t in range(4):
        labels = np.zeros((96, 96), np.uint16)
        labels[(xx - 30 - t) ** 2 + (yy - 40) ** 2 <= 64] = 1
        if t == 1:
            labels[(xx - 75) ** 2 + (yy - 70) ** 2 <= 64] = 2  # seen in frame 1 only
        tifffile.imwrite(tmp_path / "movie" / f"t{t:03d}.tif", (100 + 400 * (labels > 0)).astype(np.uint16))
        tifffile.imwrite(tmp_path / "masks" / f"man_seg{t:03d}.tif", labels)
    out = tmp_path / "out"
    assert track_video.main([str(tmp_path / "movie"), "--output", str(out), "--masks", str(tmp_path / "masks")]) == 0
    assert json.loads((out / "summary.json").read_text())["cells"] == 5
    assert len(np.unique(tifffile.imread(out / "res" / "mask001.tif"))) == 3  # background and both cells


def test_given_masks_get_no_gap_closing(tmp_path):
    # MAX_GAP / FILL_GAPS (on in the shipped config) bridge the detector's misses; a given cell that vanishes
    # has left, and a cell that appears near where it was is another cell: no parent link, no filled frame.
    cfg = model_zoo.get_config().CELLTRACK.TRACKER
    assert cfg.MAX_GAP >= 1 and cfg.FILL_GAPS
    (tmp_path / "movie").mkdir()
    (tmp_path / "masks").mkdir()
    yy, xx = np.mgrid[:96, :96]
    for t in range(10):
        labels = np.zeros((96, 96), np.uint16)
        labels[(xx - 30) ** 2 + (yy - 40) ** 2 <= 64] = 1
        if t != 6:  # frames 0-5 one cell, 7-9 another at nearly the same place
            labels[(xx - 70 - (t > 6)) ** 2 + (yy - 70) ** 2 <= 64] = 2 if t < 6 else 3
        tifffile.imwrite(tmp_path / "movie" / f"t{t:03d}.tif", (100 + 400 * (labels > 0)).astype(np.uint16))
        tifffile.imwrite(tmp_path / "masks" / f"man_seg{t:03d}.tif", labels)
    out = tmp_path / "out"
    assert track_video.main([str(tmp_path / "movie"), "--output", str(out), "--masks", str(tmp_path / "masks")]) == 0
    lineage = np.loadtxt(out / "res" / "res_track.txt", dtype=int).reshape(-1, 4)
    assert len(lineage) == 3 and (lineage[:, 3] == 0).all()
    assert len(np.unique(tifffile.imread(out / "res" / "mask006.tif"))) == 2  # background and the still cell
