"""CellTrackPredictor.detect on a tiny trained model: the mask head's cut (CELLTRACK.MASK_THRESHOLD) and mirrored pass
(CELLTRACK.MASK_FLIP)."""
import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances

from celltrack.data import read_frame
from celltrack.tracking.predictor import CellTrackPredictor


def tiny_model_and_frame(trained_tiny, min_score=None):
    """The tiny trained model's config (its weights; ``min_score`` if given) and a frame of its movie."""
    cfg, weights, root = trained_tiny
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    if min_score is not None:
        cfg.CELLTRACK.TRACKER.MIN_SCORE = min_score
    return cfg, read_frame(sorted((root / "01").glob("t*.tif"))[3])


def test_mask_threshold_grows_masks_as_it_falls_and_keeps_the_detections(trained_tiny):
    cfg, image = tiny_model_and_frame(trained_tiny, min_score=0.05)
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


def test_mask_flip_reads_the_mirrored_frame_at_the_mirrored_box(trained_tiny):
    """On a frame that is its own mirror image, a box centred on the mirror line is its own mirror box: the
    mirrored pass must give exactly the plain mask probabilities mirrored (a box mirrored about the wrong
    line, or the masks flipped the wrong way, would not)."""
    cfg, image = tiny_model_and_frame(trained_tiny)
    image = np.concatenate([image[:, :64], image[:, :64][:, ::-1]], axis=1)  # 128 wide, mirror line x = 64
    predictor = CellTrackPredictor(cfg)
    inputs = predictor.model_input(image)
    assert tuple(inputs["image"].shape[1:]) == image.shape  # network input = frame: boxes in frame pixels
    cells = Instances(image.shape, pred_boxes=Boxes(torch.tensor([[50.0, 30.0, 78.0, 61.0], [57.0, 80.0, 71.0, 99.0]])),
                      pred_classes=torch.zeros(2, dtype=torch.long))
    with torch.no_grad():
        features = predictor.model.backbone(predictor.model.preprocess_image([inputs]).tensor)
        plain = predictor.model.roi_heads._forward_mask(features, [cells])[0].pred_masks
        mirrored = predictor._mirrored_masks(inputs, cells)
    assert mirrored.shape == plain.shape
    assert torch.allclose(mirrored, plain.flip(-1), atol=1e-5)
    assert not torch.allclose(mirrored, plain, atol=1e-3)  # the masks are not symmetric themselves


def test_mask_flip_changes_only_the_masks(trained_tiny):
    cfg, image = tiny_model_and_frame(trained_tiny, min_score=0.05)
    plain = CellTrackPredictor(cfg).detect(image)
    cfg.CELLTRACK.MASK_FLIP = True
    flipped = CellTrackPredictor(cfg).detect(image)
    assert len(plain) > 0
    assert torch.equal(plain.pred_boxes.tensor, flipped.pred_boxes.tensor) and torch.equal(plain.scores, flipped.scores)
    assert torch.equal(plain.visual_embeddings, flipped.visual_embeddings)
    assert not torch.equal(plain.pred_masks, flipped.pred_masks)


def test_continue_score_detects_the_low_cells_and_hands_their_scores_to_the_tracker(trained_tiny):
    cfg, image = tiny_model_and_frame(trained_tiny, min_score=0.05)
    every = CellTrackPredictor(cfg).detect(image)
    assert len(every) > 1
    cut = float(every.scores[len(every) // 2])  # half the cells score below it
    cfg.CELLTRACK.TRACKER.MIN_SCORE = cut
    assert len(CellTrackPredictor(cfg).detect(image)) < len(every)
    cfg.CELLTRACK.TRACKER.CONTINUE_SCORE = 0.05
    predictor = CellTrackPredictor(cfg)
    cells, detections = predictor.segment(image)
    assert torch.equal(predictor.detect(image).scores, every.scores)  # detected down to CONTINUE_SCORE
    assert np.array_equal(detections.scores, cells.scores.numpy()) and (detections.scores < cut).any()
    assert predictor.make_tracker().min_score == cut  # only the cells above MIN_SCORE may start tracks


def test_neighbouring_pairs_each_frame_with_the_frames_before_and_after():
    from celltrack.tracking.predictor import neighbouring

    assert list(neighbouring([])) == []
    assert list(neighbouring(["a"])) == [("a", (None, None))]
    assert list(neighbouring(iter("abc"))) == [("a", (None, "b")), ("b", ("a", "c")), ("c", ("b", None))]


def test_temporal_smoothing_averages_a_noisy_frame_with_its_neighbours_only(trained_tiny):
    from celltrack.data.normalize import noise_level, temporal_smooth, to_network_input

    cfg, image = tiny_model_and_frame(trained_tiny)
    cfg, frames = cfg.clone(), [read_frame(path) for path in sorted((trained_tiny[2] / "01").glob("t*.tif"))[2:5]]
    cfg.CELLTRACK.TEMPORAL_SMOOTHING = 0.25
    noise = noise_level(frames[1])
    plain = CellTrackPredictor(cfg).model_input(frames[1])["image"]
    previous, frame, following = (to_network_input(frame, cfg.CELLTRACK.NORMALIZE_PERCENTILES, cfg.CELLTRACK.INPUT_SMOOTHING)
                                  for frame in frames)
    expected = temporal_smooth(frame, previous, following, 0.25)
    for gate, smoothed in ((noise / 2, True), (noise * 2, False)):
        cfg.CELLTRACK.TEMPORAL_SMOOTHING_NOISE = gate
        predictor = CellTrackPredictor(cfg)
        assert predictor.smooths_in_time(frames[1], (frames[0], frames[2])) is smoothed
        given = predictor.model_input(frames[1], (frames[0], frames[2]))["image"]
        if smoothed:
            assert torch.allclose(given, torch.as_tensor(expected.transpose(2, 0, 1)), atol=1e-3)
            assert not torch.allclose(given, plain)
            before, after = predictor.segment(frames[1])[1], predictor.segment(frames[1], None, (frames[0], frames[2]))[1]
            assert not np.array_equal(before.labels, after.labels) or len(before.centers) == 0
        else:
            assert torch.equal(given, plain)
    cfg.CELLTRACK.TEMPORAL_SMOOTHING = 0.0  # off: the neighbours are not read
    assert not CellTrackPredictor(cfg).smooths_in_time(frames[1], (frames[0], frames[2]))


def test_temporal_smoothing_refuses_neighbours_of_another_size(trained_tiny):
    import pytest

    cfg, image = tiny_model_and_frame(trained_tiny)
    cfg = cfg.clone()
    cfg.CELLTRACK.TEMPORAL_SMOOTHING, cfg.CELLTRACK.TEMPORAL_SMOOTHING_NOISE = 0.25, 0.0
    with pytest.raises(ValueError, match="same size"):
        CellTrackPredictor(cfg).model_input(image, (image[:-1], None))


def test_mirrored_detection_adds_the_mirrored_frames_cells_mirrored_back(trained_tiny):
    """With CELLTRACK.MIRRORED_DETECTION the cells are the plain frame's (unchanged, embeddings included) and the
    mirrored frame's, whose boxes, scores and masks are those the plain detector finds in the mirrored frame,
    mirrored back; their embeddings are read from the plain frame at their boxes."""
    cfg, image = tiny_model_and_frame(trained_tiny, min_score=0.05)
    plain_predictor = CellTrackPredictor(cfg)
    plain = plain_predictor.detect(image)
    for mirroring, axes in (("horizontal", (1,)), ("vertical", (0,)), ("both", (0, 1))):
        in_mirror = plain_predictor.detect(np.ascontiguousarray(np.flip(image, axes)))
        cfg.CELLTRACK.MIRRORED_DETECTION = (mirroring,)
        both = CellTrackPredictor(cfg).detect(image)
        assert len(plain) > 0 and len(in_mirror) > 0 and len(both) == len(plain) + len(in_mirror)
        assert torch.equal(both.scores, both.scores.sort(descending=True).values)
        height, width = image.shape
        expected = in_mirror.pred_boxes.tensor.clone()
        if 1 in axes:
            expected[:, [0, 2]] = width - in_mirror.pred_boxes.tensor[:, [2, 0]]
        if 0 in axes:
            expected[:, [1, 3]] = height - expected[:, [3, 1]]
        for found, masks, flipped in ((plain, plain.pred_masks, False), (in_mirror, in_mirror.pred_masks, True)):
            for i in range(len(found)):
                box = expected[i] if flipped else found.pred_boxes.tensor[i]
                match = torch.where((both.pred_boxes.tensor - box).abs().max(1).values < 1e-3)[0]
                assert len(match) == 1, (mirroring, i)
                j = int(match[0])
                assert torch.isclose(both.scores[j], found.scores[i])
                mask = torch.flip(masks[i], axes) if flipped else masks[i]
                assert (both.pred_masks[j] != mask).float().mean() < 0.01  # pasting may round an edge pixel
                if not flipped:
                    assert torch.allclose(both.visual_embeddings[j], found.visual_embeddings[i], atol=1e-5)
    cfg.CELLTRACK.MIRRORED_DETECTION = ("diagonal",)
    with pytest.raises(ValueError, match="MIRRORED_DETECTION.*'diagonal'"):
        CellTrackPredictor(cfg)
