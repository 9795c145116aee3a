"""CTCEvaluator in detectron2's evaluation loop: an untrained tiny model on a tiny synthetic sequence."""
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

import celltrack  # noqa: F401
from celltrack.config import get_celltrack_cfg
from celltrack.data import PairedFrameMapper, make_synthetic_sequence, register_ctc_dataset
from celltrack.evaluation import CTCEvaluator, write_tracked_sequence
from celltrack.tracking.tracker import Detections, Tracker
from detectron2.data import build_detection_test_loader
from detectron2.evaluation import inference_on_dataset
from detectron2.modeling import build_model

TINY = str(Path(__file__).parents[2] / "configs" / "CellTrack-R18-FPN-tiny.yaml")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A registered 4-frame 96x96 synthetic CTC sequence; returns (name, root)."""
    root = tmp_path_factory.mktemp("eval") / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=4, num_cells=5, height=96, width=96, seed=3, cell_radius=(7.0, 10.0))
    name = f"synthetic-eval-{uuid.uuid4().hex[:8]}"
    register_ctc_dataset(name, root, sequences=["01"])
    return name, root


@pytest.fixture(scope="module")
def cfg(dataset):
    # An untrained model scores every box about 0.5: keep them all, but few, so that cells get tracked.
    cfg = get_celltrack_cfg(TINY, ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0, "CELLTRACK.TRACKER.MIN_SCORE", 0.0,
                                   "TEST.DETECTIONS_PER_IMAGE", 8, "INPUT.MIN_SIZE_TEST", 96,
                                   "DATASETS.TEST", (dataset[0],)])
    cfg.freeze()
    return cfg


def test_evaluator_tracks_writes_and_scores(dataset, cfg, tmp_path):
    from ctc_metrics import validate_sequence

    name, _ = dataset
    torch.manual_seed(0)
    model = build_model(cfg)
    loader = build_detection_test_loader(cfg, name, mapper=PairedFrameMapper(cfg, is_train=False))
    evaluator = CTCEvaluator(cfg, name, output_dir=str(tmp_path), model=model)
    results = inference_on_dataset(model, loader, evaluator)

    scores = results["Synthetic/01"]
    assert scores["Valid"] == 1.0
    for key in ("SEG", "DET", "TRA", "LNK", "CT", "TF", "BIO(2)"):
        assert 0.0 <= scores[key] <= 1.0, key
    assert all(isinstance(value, float) for value in scores.values())  # detectron2's EvalHook needs numbers
    result_dir = tmp_path / "Synthetic" / "01_RES"
    assert len(list(result_dir.glob("mask*.tif"))) == 4 and (result_dir / "res_track.txt").is_file()
    assert validate_sequence(str(result_dir), threads=1)["Valid"] == 1


def test_evaluator_needs_ctc_metadata(cfg):
    with pytest.raises(ValueError, match="register_ctc_dataset"):
        CTCEvaluator(cfg, "not-a-ctc-dataset")


def test_write_tracked_sequence_handles_empty_frames(tmp_path):
    labels = np.zeros((20, 20), dtype=np.int32)
    labels[2:6, 2:6] = 1
    frames = [Detections(np.array([[3.5, 3.5]]), labels), Detections(np.zeros((0, 2))),
              Detections(np.array([[3.5, 3.5]]), labels)]
    lineage = write_tracked_sequence(frames, Tracker(), tmp_path / "01_RES", (20, 20))
    assert lineage.tolist() == [[1, 0, 0, 0], [2, 2, 2, 0]]
    assert len(list((tmp_path / "01_RES").glob("mask*.tif"))) == 3


def test_evaluator_without_model_loads_the_weights(dataset, cfg, tmp_path):
    name, _ = dataset
    torch.manual_seed(0)
    model = build_model(cfg)
    torch.save({"model": model.state_dict()}, tmp_path / "weights.pth")
    evaluator = CTCEvaluator(cfg, name)
    with pytest.raises(ValueError, match="MODEL.WEIGHTS is empty"):
        evaluator._track_head()
    weighted = cfg.clone()
    weighted.defrost()
    weighted.MODEL.WEIGHTS = str(tmp_path / "weights.pth")
    head = CTCEvaluator(weighted, name)._track_head()
    assert torch.equal(head.visual.embedding.weight, model.roi_heads.track_head.visual.embedding.weight)
