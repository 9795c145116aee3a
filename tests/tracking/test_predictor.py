"""CellTrackPredictor.detect on a tiny trained model: CELLTRACK.MASK_THRESHOLD cuts the mask head's probability."""
import numpy as np
import torch

from celltrack.data import read_frame
from celltrack.tracking.predictor import CellTrackPredictor


def test_mask_threshold_grows_masks_as_it_falls_and_keeps_the_detections(trained_tiny):
    cfg, weights, root = trained_tiny
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    cfg.CELLTRACK.TRACKER.MIN_SCORE = 0.05
    image = read_frame(sorted((root / "01").glob("t*.tif"))[3])
    detected = {}
    for threshold in (0.3, 0.5, 0.7):
        cfg.CELLTRACK.MASK_THRESHOLD = threshold
        detected[threshold] = CellTrackPredictor(cfg).detect(image)
    assert len(detected[0.5]) > 0
    for low, high in ((0.3, 0.5), (0.5, 0.7)):
        assert torch.equal(detected[low].pred_boxes.tensor, detected[high].pred_boxes.tensor)
        assert torch.equal(detected[low].scores, detected[high].scores)
        low_masks, high_masks = detected[low].pred_masks.numpy(), detected[high].pred_masks.numpy()
        assert not (high_masks & ~low_masks).any()  # a pixel above the higher cut is above the lower one
        assert low_masks.sum() > high_masks.sum()
