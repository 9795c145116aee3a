import numpy as np
import pytest
import tifffile
import torch
from detectron2.config import CfgNode, get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_train_loader
from detectron2.structures import BitMasks

from celltrack.config import add_celltrack_config
from celltrack.data.ctc import load_ctc_sequence, register_ctc_dataset, write_lineage
from celltrack.data.mapper import (
    PairedFrameMapper, PhotometricRanges, cell_contrast_factors, photometric_augment, sample_acquisition)
from celltrack.data.movie import DataError
from celltrack.data.normalize import to_network_input
from celltrack.data.synthetic import make_synthetic_sequence


def _cfg(**celltrack) -> CfgNode:
    """A CellTrack config with small input sizes; ``celltrack`` overrides CELLTRACK(.AUGMENT) keys."""
    cfg = get_cfg()
    add_celltrack_config(cfg)
    cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN = (64, 96, 128), 1000
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = 0, 1000
    for key, value in celltrack.items():
        node = cfg.CELLTRACK.AUGMENT if key in cfg.CELLTRACK.AUGMENT else cfg.CELLTRACK
        node[key] = value
    return cfg


@pytest.fixture
def still_pair(tmp_path):
    """Records of a 96x128 sequence whose frame 1 is an exact copy of frame 0."""
    root = tmp_path / "Still"
    make_synthetic_sequence(root, num_frames=1, num_cells=6, height=96, width=128, seed=4)
    for folder, prefix in (("01", "t"), ("01_GT/SEG", "man_seg"), ("01_GT/TRA", "man_track")):
        (root / folder / f"{prefix}001.tif").write_bytes((root / folder / f"{prefix}000.tif").read_bytes())
    labels = np.unique(tifffile.imread(root / "01_GT" / "TRA" / "man_track000.tif"))[1:]
    write_lineage(root / "01_GT" / "TRA" / "man_track.txt", [[label, 0, 1, 0] for label in labels])
    return load_ctc_sequence(root, "01")


def _masks(frame: dict) -> dict[int, torch.Tensor]:
    instances = frame["instances"]
    return dict(zip(instances.gt_track_ids.tolist(), instances.gt_masks.tensor))


def test_output_follows_the_contract(ctc_root):
    records = load_ctc_sequence(ctc_root, "01")
    mapper = PairedFrameMapper(_cfg(), True, dataset_dicts=records)
    out = mapper(records[4])
    assert out["previous"]["frame"] == 3 and "previous" not in out["previous"]
    for frame, record in ((out, records[4]), (out["previous"], records[3])):
        assert {k: frame[k] for k in ("file_name", "sequence", "frame", "height", "width", "image_id")} == {
            k: record[k] for k in ("file_name", "sequence", "frame", "height", "width", "image_id")}
        image, instances = frame["image"], frame["instances"]
        assert image.dtype == torch.float32 and image.shape[0] == 3 and 0 <= image.min() <= image.max() <= 255
        assert instances.image_size == tuple(image.shape[1:])
        assert isinstance(instances.gt_masks, BitMasks) and instances.gt_masks.tensor.shape[1:] == image.shape[1:]
        assert instances.gt_track_ids.dtype == instances.gt_parent_ids.dtype == torch.int64
        assert not instances.gt_classes.any() and len(instances) == len(record["annotations"])


def test_daughters_point_to_a_parent_in_the_previous_frame(ctc_root):
    records = load_ctc_sequence(ctc_root, "01")
    mapper = PairedFrameMapper(_cfg(), True, dataset_dicts=records)
    births = 0
    for record in records[1:]:
        out = mapper(record)
        previous_ids = set(out["previous"]["instances"].gt_track_ids.tolist())
        current = out["instances"]
        for track_id, parent_id in zip(current.gt_track_ids.tolist(), current.gt_parent_ids.tolist()):
            if track_id not in previous_ids and parent_id:
                assert parent_id in previous_ids
                births += 1
    assert births > 0


def test_random_gap_and_first_frame(ctc_root):
    records = load_ctc_sequence(ctc_root, "01")
    mapper = PairedFrameMapper(_cfg(MAX_FRAME_GAP=3), True, dataset_dicts=records)
    np.random.seed(0)
    assert {mapper.previous_record(records[5])["frame"] for _ in range(40)} == {2, 3, 4}
    assert {mapper.previous_record(records[1])["frame"] for _ in range(10)} == {0}
    assert mapper(records[0])["previous"]["frame"] == 0  # "repeat": frame 0 pairs with itself
    skipping = PairedFrameMapper(_cfg(), True, dataset_dicts=records, first_frame="skip")
    assert skipping(records[0]) is None
    with pytest.raises(ValueError, match="first_frame"):
        PairedFrameMapper(_cfg(), True, dataset_dicts=records, first_frame="next")


def test_both_frames_get_the_same_geometric_augmentation(still_pair):
    cfg = _cfg(PHOTOMETRIC=False, CROP_SIZE=(80, 100))
    mapper = PairedFrameMapper(cfg, True, dataset_dicts=still_pair)
    shapes, images = set(), set()
    for seed in range(12):
        np.random.seed(seed)
        out = mapper(still_pair[1])
        current, previous = out, out["previous"]
        assert previous["frame"] == 0
        assert torch.equal(current["image"], previous["image"])
        assert torch.equal(current["instances"].gt_boxes.tensor, previous["instances"].gt_boxes.tensor)
        current_masks, previous_masks = _masks(current), _masks(previous)
        assert current_masks.keys() == previous_masks.keys() and current_masks
        assert all(torch.equal(current_masks[t], previous_masks[t]) for t in current_masks)
        inside = torch.stack(list(current_masks.values())).any(0)  # masks still sit on the cells
        assert current["image"][0][inside].mean() > current["image"][0][~inside].mean() + 40
        shapes.add(tuple(current["image"].shape[1:]))
        images.add(hash(current["image"].numpy().tobytes()))
    assert any(h > w for h, w in shapes) and any(h < w for h, w in shapes)  # rotated and not
    assert len(images) == 12


def test_photometric_noise_is_independent_per_frame(still_pair):
    mapper = PairedFrameMapper(_cfg(FLIP=False, ROTATE_90=False), True, dataset_dicts=still_pair)
    np.random.seed(1)
    out = mapper(still_pair[1])
    assert not torch.equal(out["image"], out["previous"]["image"])
    assert all(torch.equal(out["instances"].gt_masks.tensor[i], out["previous"]["instances"].gt_masks.tensor[i])
               for i in range(len(out["instances"])))
    ranges = PhotometricRanges()
    augmented = photometric_augment(np.linspace(0, 1, 100).reshape(10, 10),
                                    sample_acquisition(ranges, np.random.default_rng(0)), np.random.default_rng(0))
    assert augmented.dtype == np.float32 and 0 <= augmented.min() <= augmented.max() <= 1


def test_acquisition_covers_dim_noisy_and_uneven_frames():
    """Extremes of the ranges: contrast compressed to 0.2x, noise 0.12, a 30 % illumination ramp."""
    image = np.full((64, 64), 0.1, np.float32)
    image[16:48, 16:48] = 0.6  # one cell, 0.5 above background
    cells = np.zeros((64, 64), np.int64)
    cells[16:48, 16:48] = 7
    acquisition = {"contrast": 0.2, "cell_contrast": (1.0, 1.0), "cell_seed": 0, "gamma": 1.0, "offset": 0.0,
                   "illumination": (0.3, 1.0, 0.0), "blur_sigma": 0.0, "gaussian_noise": 0.12, "poisson_noise": 0.0}
    out = photometric_augment(image, acquisition, np.random.default_rng(0), cells)
    inside, outside = out[16:48, 16:48], out[:, :8]
    assert abs((np.median(inside) - np.median(outside)) - 0.1) < 0.03  # 0.2 x 0.5
    assert abs(outside.std() - 0.12) < 0.03
    quiet = dict(acquisition, gaussian_noise=0.0, contrast=1.0)
    ramp = photometric_augment(image, quiet, np.random.default_rng(0))
    assert ramp[:, -1].mean() / ramp[:, 0].mean() > 1.5  # brighter on the right: (1 + 0.3) / (1 - 0.3)


def test_a_cell_keeps_its_contrast_factor_in_both_frames():
    acquisition = sample_acquisition(PhotometricRanges(cell_contrast=(0.25, 1.5)), np.random.default_rng(3))
    first, second = cell_contrast_factors(acquisition, [4, 9]), cell_contrast_factors(acquisition, [9, 4, 12])
    assert first[4] == second[4] and first[9] == second[9] and first[4] != first[9]
    assert all(0.25 <= factor <= 1.5 for factor in second.values())


def test_test_mode_uses_the_inference_normalisation(ctc_root):
    records = load_ctc_sequence(ctc_root, "01")
    mapper = PairedFrameMapper(_cfg(MAX_FRAME_GAP=3), False, dataset_dicts=records)
    out = mapper(records[6])
    assert out["previous"]["frame"] == 5
    raw = tifffile.imread(records[6]["file_name"])
    smoothing = _cfg().CELLTRACK.INPUT_SMOOTHING
    assert smoothing > 0
    np.testing.assert_array_equal(out["image"].numpy(), to_network_input(raw, smoothing=smoothing).transpose(2, 0, 1))


def test_plugs_into_detectron2_train_loader(ctc_root):
    name = "test_mapper_loader"
    register_ctc_dataset(name, ctc_root)
    try:
        cfg = _cfg(CROP_SIZE=(64, 64))
        cfg.DATASETS.TRAIN = (name,)
        cfg.DATALOADER.NUM_WORKERS = 0
        cfg.SOLVER.IMS_PER_BATCH = 2
        loader = build_detection_train_loader(cfg, mapper=PairedFrameMapper(cfg, True))
        batch = next(iter(loader))
        assert len(batch) == 2 and all("previous" in item for item in batch)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_frames_of_a_pair_must_have_the_same_size(tmp_path):
    records = []
    for frame, size in ((0, 32), (1, 40)):
        path = tmp_path / f"t{frame:03d}.tif"
        tifffile.imwrite(path, np.random.default_rng(frame).integers(0, 500, (size, size)).astype(np.uint16))
        records.append({"file_name": str(path), "height": size, "width": size, "sequence": "X/01",
                        "frame": frame, "image_id": f"X/01/{frame}", "annotations": []})
    mapper = PairedFrameMapper(_cfg(), True, dataset_dicts=records)
    with pytest.raises(DataError, match=r"t000\.tif \(frame 0\): size \(32, 32\) differs from .*t001\.tif"):
        mapper(records[1])


def test_a_cell_known_from_its_marker_keeps_the_scaled_box(marker_root_records):
    records = marker_root_records
    mapper = PairedFrameMapper(_cfg(FLIP=False, ROTATE_90=False, PHOTOMETRIC=False), False, dataset_dicts=records)
    out = mapper(records[1])
    instances = out["instances"]
    assert not instances.gt_mask_valid.any()
    expected = torch.tensor([a["bbox"] for a in records[1]["annotations"]], dtype=torch.float32)
    expected[:, 0::2] = expected[:, 0::2].clamp(0, 96)
    expected[:, 1::2] = expected[:, 1::2].clamp(0, 96)
    order = [a["track_id"] for a in records[1]["annotations"]]
    assert instances.gt_track_ids.tolist() == order
    torch.testing.assert_close(instances.gt_boxes.tensor, expected)
    # larger than the marker's own box
    assert (instances.gt_boxes.area() > instances.gt_masks.get_bounding_boxes().area()).all()


@pytest.fixture
def marker_root_records(tmp_path):
    """GOWT1-like sequence whose SEG is gone: every cell is known from its (half-size) TRA marker only,
    with its box scaled by the ratio measured on frame 0 (kept)."""
    root = tmp_path / "Markers"
    make_synthetic_sequence(root, "01", num_frames=3, num_cells=5, height=96, width=96, seed=3,
                            cell_radius=(7.0, 10.0), marker_scale=0.5)
    for frame in (1, 2):
        (root / "01_GT" / "SEG" / f"man_seg{frame:03d}.tif").unlink()
    return load_ctc_sequence(root, "01")


def test_temporal_smoothing_averages_each_frame_with_its_neighbours(ctc_root):
    records = load_ctc_sequence(ctc_root, "01")
    inputs = [to_network_input(tifffile.imread(record["file_name"]), smoothing=1.5) for record in records]

    def expected(t):  # the predictor's average: a missing neighbour's weight goes to the frame
        neighbours = [inputs[s] if 0 <= s < len(inputs) else inputs[t] for s in (t - 1, t + 1)]
        return 0.5 * inputs[t] + 0.25 * neighbours[0] + 0.25 * neighbours[1]

    mapper = PairedFrameMapper(is_train=True, augmentations=[], dataset_dicts=records, smoothing=1.5,
                               temporal_smoothing=0.25, temporal_smoothing_share=1.0)
    for t in (4, len(records) - 1, 0):
        out = mapper(records[t])
        for frame in (out, out["previous"]):
            image = frame["image"].numpy().transpose(1, 2, 0)
            assert np.allclose(image, expected(frame["frame"]), atol=1e-3)
            assert not np.allclose(image, inputs[frame["frame"]], atol=1e-3)
    plain = PairedFrameMapper(is_train=True, augmentations=[], dataset_dicts=records, smoothing=1.5)(records[4])
    assert np.allclose(plain["image"].numpy().transpose(1, 2, 0), inputs[4], atol=1e-3)
    # a slice of the sequence: frames outside it are no neighbours
    cut = PairedFrameMapper(is_train=True, augmentations=[], dataset_dicts=records[:5], smoothing=1.5,
                            temporal_smoothing=0.25, temporal_smoothing_share=1.0)(records[4])
    assert np.allclose(cut["image"].numpy().transpose(1, 2, 0), 0.75 * inputs[4] + 0.25 * inputs[3], atol=1e-3)


def test_temporal_smoothing_share_comes_from_the_config(ctc_root):
    records = load_ctc_sequence(ctc_root, "01")
    cfg = _cfg()
    cfg.CELLTRACK.TEMPORAL_SMOOTHING, cfg.CELLTRACK.AUGMENT.TEMPORAL_SMOOTHING = 0.25, 0.5
    assert PairedFrameMapper.from_config(cfg, True, records)["temporal_smoothing_share"] == 0.5
    assert PairedFrameMapper.from_config(cfg, False, records)["temporal_smoothing_share"] == 0.0
    np.random.seed(0)
    mapper = PairedFrameMapper(cfg, True, dataset_dicts=records)
    assert mapper.temporal_smoothing == 0.25
    cfg.CELLTRACK.TEMPORAL_SMOOTHING = 0.0
    with pytest.raises(ValueError, match="CELLTRACK.TEMPORAL_SMOOTHING"):
        PairedFrameMapper(cfg, True, dataset_dicts=records)
    with pytest.raises(ValueError, match="share"):
        PairedFrameMapper(is_train=True, augmentations=[], dataset_dicts=records, temporal_smoothing_share=1.5)
