"""tools/train_linker.py: retrain the linker of a trained model with its detector frozen."""
import json
import sys
from pathlib import Path

import numpy as np
import tifffile
import torch

from celltrack.config import get_celltrack_cfg
from celltrack.tracking.frame_loop import track_frames
from celltrack.tracking.link_model import LINK_FEATURES
from celltrack.tracking.predictor import CellTrackPredictor

sys.path.insert(0, str(Path(__file__).parents[2] / "tools"))
import train_linker  # noqa: E402


def test_retrains_the_linker_and_writes_a_config_that_tracks(trained_tiny, tmp_path):
    cfg, weights, root = trained_tiny
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(cfg.dump())
    out = tmp_path / "linker"
    assert train_linker.main(["--config-file", str(config_file), "--weights", str(weights), "--output", str(out),
                              "--epochs", "2", "--device", "cpu", "MODEL.TRACK_HEAD.POSITION_ENCODING", "polar"]) == 0
    report = json.loads((out / "linker_report.json").read_text())
    assert report["frames"] == 10 and report["pairs"] > 0 and report["displacement_scale"] > 0
    fitted = get_celltrack_cfg(str(out / "config.yaml"))
    assert fitted.CELLTRACK.TRACKER.METHOD == "learned" and len(fitted.CELLTRACK.TRACKER.LINK_WEIGHTS) == len(LINK_FEATURES) + 1
    assert fitted.MODEL.TRACK_HEAD.POSITION_ENCODING == "polar" and fitted.CELLTRACK.TRACKER.MAX_DISTANCE > 0
    # the detector is unchanged, the track head is the new one
    old, new = torch.load(weights, weights_only=True)["model"], torch.load(out / "model_final.pth", weights_only=True)["model"]
    assert torch.equal(old["backbone.bottom_up.stem.conv1.weight"], new["backbone.bottom_up.stem.conv1.weight"])
    assert new["roi_heads.track_head.spatial.embedding.weight"].shape[1] == 32
    predictor = CellTrackPredictor(fitted)  # loads without a mismatch
    frames = [(tifffile.imread(root / "01" / f"t{frame:03d}.tif"),
               tifffile.imread(root / "01_GT" / "SEG" / f"man_seg{frame:03d}.tif")) for frame in range(3)]
    for image, labels in frames:
        assert len(predictor(image, labels=labels)) == len(np.unique(labels)) - 1
    assert track_frames(frames, predictor.segment, predictor.make_tracker()).shape[1] == 4  # the learned rule
    # refit only the link models, on ground-truth and detected cells; the head (weights) stays
    refit = tmp_path / "refit"
    assert train_linker.main(["--config-file", str(config_file), "--weights", str(out / "model_final.pth"),
                              "--output", str(refit), "--refit-on-detections", str(out)]) == 0
    refitted = get_celltrack_cfg(str(refit / "config.yaml"))
    assert refitted.MODEL.WEIGHTS == str(out / "model_final.pth") and not (refit / "model_final.pth").exists()
    assert json.loads((refit / "linker_report.json").read_text())["detected_frames"] == 10
    # options after the flags apply to the refit: a heavy penalty pulls every weight towards 0
    heavy = tmp_path / "heavy"
    assert train_linker.main(["--config-file", str(config_file), "--weights", str(out / "model_final.pth"),
                              "--output", str(heavy), "--refit", str(out), "CELLTRACK.TRACKER.FIT_PENALTY", "10.0"]) == 0
    penalised = get_celltrack_cfg(str(heavy / "config.yaml")).CELLTRACK.TRACKER
    assert penalised.FIT_PENALTY == 10.0 and fitted.CELLTRACK.TRACKER.FIT_PENALTY == 1e-4
    assert np.abs(penalised.LINK_WEIGHTS[:-1]).sum() < 0.5 * np.abs(fitted.CELLTRACK.TRACKER.LINK_WEIGHTS[:-1]).sum()
    assert train_linker.main(["--config-file", str(config_file), "--weights", str(weights), "--output", str(out)]) == 2
    bad_device = ["--config-file", str(config_file), "--weights", str(weights), "--output", str(tmp_path / "d")]
    assert train_linker.main(bad_device + ["--device", "gpu7"]) == 2
    if not torch.cuda.is_available():
        assert train_linker.main(bad_device + ["--device", "cuda"]) == 2
