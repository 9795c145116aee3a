"""Paired-frame dataset mapper: frame t and an earlier frame t - gap of the same sequence, augmented alike.

CellTrack R-CNN trains its Siamese tracking head on pairs of adjacent frames. For a record (frame t) the
mapper returns frame t and its ``"previous"`` frame t - gap (gap random in 1..``MAX_FRAME_GAP`` when
training, 1 otherwise; shortened to the nearest earlier frame that exists). Both frames get the *same*
geometric augmentation (the transforms sampled on frame t are replayed on t - gap), so positions and
identities stay comparable, and the same simulated acquisition (contrast, gamma, illumination, blur,
noise level) with noise drawn independently, as two real frames of one movie differ.

Temporal smoothing (``CELLTRACK.AUGMENT.TEMPORAL_SMOOTHING``): in that share of the pairs, each frame's
network input is averaged with its neighbours' in time (frames t-1 and t+1 of the same sequence, the same
acquisition, their own noise) exactly as the predictor does on a noisy movie
(``CELLTRACK.TEMPORAL_SMOOTHING``), so the network learns to outline a cell in an averaged frame. A
neighbour outside the dataset (a sequence's ends, frames held back by a slice) gives its weight to the frame.

Frame-0 pairing: the first frame of a sequence has no earlier frame. With ``first_frame="repeat"``
(default) it is paired with itself: every cell keeps its identity, nothing divides or appears, which
is a true (if easy) pair and never breaks a loader. ``"skip"`` returns None instead, which detectron2's
training loader answers by drawing another frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pycocotools.mask as mask_util
import torch
from detectron2.config import configurable
from detectron2.data import DatasetCatalog
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, Boxes, Instances

from .movie import DataError, read_frame, where
from .normalize import (DEFAULT_PERCENTILES, gaussian_smooth, percentile_normalize, temporal_smooth,
                        to_network_input)

FIRST_FRAME_PAIRINGS = ("repeat", "skip")


def build_paired_augmentations(cfg, is_train: bool) -> list[T.Augmentation]:
    """Geometric augmentations shared by both frames of a pair.

    Training: random crop (``CELLTRACK.AUGMENT.CROP_SIZE`` (h, w) in input pixels; (0, 0) = none),
    ``ResizeShortestEdge(INPUT.MIN_SIZE_TRAIN, INPUT.MAX_SIZE_TRAIN)``, horizontal and vertical flips
    (``AUGMENT.FLIP``) and a rotation by 0/90/180/270 degrees (``AUGMENT.ROTATE_90``). Test:
    ``ResizeShortestEdge(INPUT.MIN_SIZE_TEST, INPUT.MAX_SIZE_TEST)`` only (size 0 = no resize).
    """
    if not is_train:
        return [T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, "choice")]
    augmentations: list[T.Augmentation] = []
    crop_height, crop_width = cfg.CELLTRACK.AUGMENT.CROP_SIZE
    if crop_height > 0 and crop_width > 0:
        augmentations.append(T.RandomCrop("absolute", (crop_height, crop_width)))
    augmentations.append(T.ResizeShortestEdge(
        cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN, cfg.INPUT.MIN_SIZE_TRAIN_SAMPLING))
    if cfg.CELLTRACK.AUGMENT.FLIP:
        augmentations += [T.RandomFlip(horizontal=True, vertical=False),
                          T.RandomFlip(horizontal=False, vertical=True)]
    if cfg.CELLTRACK.AUGMENT.ROTATE_90:  # exact for multiples of 90 degrees (no interpolation blur)
        augmentations.append(T.RandomRotation([0, 90, 180, 270], expand=True, sample_style="choice"))
    return augmentations


@dataclass(frozen=True)
class PhotometricRanges:
    """Ranges of the acquisition-like photometric augmentation (``CELLTRACK.AUGMENT.*``, meanings there).

    Each ``(low, high)`` is sampled uniformly, except ``gamma`` (log-uniform).
    """
    contrast: tuple[float, float] = (0.2, 1.25)
    cell_contrast: tuple[float, float] = (0.25, 1.5)
    gamma: tuple[float, float] = (0.6, 1.8)
    background_offset: float = 0.1
    illumination: float = 0.3
    blur_sigma: tuple[float, float] = (0.0, 1.5)
    gaussian_noise: tuple[float, float] = (0.0, 0.12)
    poisson_noise: tuple[float, float] = (0.0, 0.1)

    @classmethod
    def from_config(cls, cfg) -> "PhotometricRanges":
        a = cfg.CELLTRACK.AUGMENT
        return cls(tuple(a.CONTRAST), tuple(a.CELL_CONTRAST), tuple(a.GAMMA), a.BACKGROUND_OFFSET, a.ILLUMINATION, tuple(a.BLUR_SIGMA),
                   tuple(a.GAUSSIAN_NOISE), tuple(a.POISSON_NOISE))


def sample_acquisition(ranges: PhotometricRanges, rng=np.random) -> dict:
    """Draw one "microscope setting" from ``ranges``: the values :func:`photometric_augment` applies.

    Both frames of a training pair share a setting (one movie is one acquisition); their noise is drawn
    independently. ``rng`` is ``np.random`` (detectron2 seeds it per worker) or a ``np.random.Generator``.
    """
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return {
        "contrast": rng.uniform(*ranges.contrast),
        "cell_contrast": ranges.cell_contrast,
        "cell_seed": int(rng.randint(2**31)) if rng is np.random else int(rng.integers(2**31)),
        "gamma": float(np.exp(rng.uniform(np.log(ranges.gamma[0]), np.log(ranges.gamma[1])))),
        "offset": rng.uniform(-ranges.background_offset, ranges.background_offset),
        "illumination": (rng.uniform(0.0, ranges.illumination), np.cos(angle), np.sin(angle)),
        "blur_sigma": rng.uniform(*ranges.blur_sigma),
        "gaussian_noise": rng.uniform(*ranges.gaussian_noise),
        "poisson_noise": rng.uniform(*ranges.poisson_noise),
    }


def cell_contrast_factors(acquisition: dict, track_ids) -> dict:
    """``{track_id: factor}``, log-uniform in ``acquisition["cell_contrast"]``; the same cell gets the same
    factor in both frames of a pair (a cell's brightness is a property of the cell)."""
    low, high = np.log(acquisition["cell_contrast"])
    return {int(t): float(np.exp(np.random.default_rng([acquisition["cell_seed"], int(t)]).uniform(low, high)))
            for t in track_ids}


def photometric_augment(image: np.ndarray, acquisition: dict, rng=np.random,
                        cells: Optional[np.ndarray] = None) -> np.ndarray:
    """Make a normalised ``(H, W)`` frame in [0, 1] look acquired by another microscope (``acquisition``
    from :func:`sample_acquisition`).

    In order: gamma; the signal above the background (the median) scaled by ``contrast`` (< 1: dimmer
    cells) and, inside each cell of ``cells`` (an ``(H, W)`` label image of track ids, 0 = none), by the
    cell's own factor (:func:`cell_contrast_factors`: dim and bright nuclei side by side); a linear illumination ramp of relative amplitude ``illumination``; a background ``offset``;
    optical blur; signal-dependent (Poisson-like, standard deviation ``poisson_noise * sqrt(signal)``) and
    additive Gaussian noise. Returns float32 in [0, 1]; the caller then preprocesses it exactly as at
    inference (smoothing, percentile normalisation).
    """
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) ** np.float32(acquisition["gamma"])
    background = np.float32(np.median(image))
    gain = np.float32(acquisition["contrast"])
    if cells is not None and cells.any():
        ids = np.unique(cells[cells > 0])
        lookup = np.ones(int(ids.max()) + 1, dtype=np.float32)
        factors = cell_contrast_factors(acquisition, ids)
        lookup[ids] = [factors[int(t)] for t in ids]
        gain = gain * lookup[cells]
    image = background + (image - background) * gain
    amplitude, cos, sin = acquisition["illumination"]
    if amplitude > 0:
        ys = np.linspace(-1.0, 1.0, image.shape[0], dtype=np.float32)[:, None]
        xs = np.linspace(-1.0, 1.0, image.shape[1], dtype=np.float32)[None, :]
        image = image * (1.0 + np.float32(amplitude) * (np.float32(cos) * xs + np.float32(sin) * ys))
    image = gaussian_smooth(image + np.float32(acquisition["offset"]), acquisition["blur_sigma"])
    noise_std = np.sqrt(acquisition["gaussian_noise"] ** 2
                        + acquisition["poisson_noise"] ** 2 * np.clip(image, 0.0, None)).astype(np.float32)
    image = image + noise_std * rng.standard_normal(image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0)


def annotations_to_instances(annotations: list[dict], image_size: tuple[int, int]) -> Instances:
    """detectron2's conversion (``gt_boxes``, ``gt_classes``, ``gt_masks`` as BitMasks) plus
    ``gt_track_ids`` / ``gt_parent_ids`` (int64) and ``gt_mask_valid`` (bool: the mask is an outline the
    mask head may learn). Boxes are recomputed from the transformed masks (tight after crops and
    rotations), except for cells without a valid mask, which keep their transformed ``bbox``; cells
    cropped away entirely are dropped.
    """
    if annotations:
        instances = utils.annotations_to_instances(annotations, image_size, mask_format="bitmask")
        instances.gt_boxes = instances.gt_masks.get_bounding_boxes()
    else:  # detectron2's version cannot stack zero masks
        instances = Instances(image_size)
        instances.gt_boxes = Boxes(torch.zeros((0, 4)))
        instances.gt_classes = torch.zeros(0, dtype=torch.int64)
        instances.gt_masks = BitMasks(torch.zeros((0, *image_size), dtype=torch.bool))
    # Cells known only from a tracking marker (no outline): their box comes from the record's (scaled)
    # marker box, and the mask head does not learn from them (see celltrack.data.ctc, "Sparse masks").
    mask_valid = torch.tensor([a.get("mask_valid", True) for a in annotations], dtype=torch.bool)
    if annotations and not mask_valid.all():
        marker_boxes = Boxes(torch.tensor(np.array([a["bbox"] for a in annotations]), dtype=torch.float32))
        marker_boxes.clip(image_size)
        instances.gt_boxes.tensor[~mask_valid] = marker_boxes.tensor[~mask_valid]
        seen = instances.gt_masks.tensor.flatten(1).any(1)  # marker not cropped away
        instances.gt_boxes.tensor[~seen] = 0
    instances.gt_mask_valid = mask_valid
    instances.gt_track_ids = torch.tensor([a["track_id"] for a in annotations], dtype=torch.int64)
    instances.gt_parent_ids = torch.tensor([a.get("parent_id", 0) for a in annotations], dtype=torch.int64)
    return utils.filter_empty_instances(instances)


def outlined_cells(record: dict) -> np.ndarray:
    """``(H, W)`` label image (track ids) of the record's cells that have an outline (``mask_valid``)."""
    cells = np.zeros((record["height"], record["width"]), dtype=np.int64)
    for annotation in record.get("annotations", []):
        if annotation.get("mask_valid", True) and isinstance(annotation.get("segmentation"), dict):
            cells[mask_util.decode(annotation["segmentation"]).astype(bool)] = annotation["track_id"]
    return cells


class PairedFrameMapper:
    """Map a frame record to ``{"image", ..., "instances", "previous": {...}}`` for CellTrack training.

    Output (both frames; ``"previous"`` has the same keys, without a nested ``"previous"``):
    ``"image"`` float32 ``(3, H, W)`` in 0..255 (percentile-normalised, 3 equal channels: see
    :mod:`celltrack.data.normalize`), ``"height"`` / ``"width"`` (original size, for postprocessing),
    ``"file_name"``, ``"image_id"``, ``"sequence"``, ``"frame"``, and ``"instances"`` with ``gt_boxes``,
    ``gt_classes``, ``gt_masks`` (BitMasks), ``gt_track_ids``, ``gt_parent_ids``.
    Use with ``build_detection_train_loader(cfg, mapper=PairedFrameMapper(cfg, True))``.
    """

    @configurable
    def __init__(self, is_train: bool, *, augmentations: list[T.Augmentation], dataset_dicts: list[dict],
                 max_frame_gap: int = 1, percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
                 smoothing: float = 0.0, photometric: Optional[PhotometricRanges] = None,
                 first_frame: str = "repeat", temporal_smoothing: float = 0.0,
                 temporal_smoothing_share: float = 0.0):
        """
        Args:
            is_train: random frame gap (else gap 1).
            augmentations: geometric augmentations applied identically to both frames.
            dataset_dicts: every record of the sequences, to find frame t - gap (give the unfiltered
                list: detectron2's loader drops frames without cells, which may still be a previous frame).
            max_frame_gap: largest gap between the frames of a pair (the paper pairs adjacent frames: 1).
            percentiles: low/high intensity percentiles mapped to 0/1.
            smoothing: Gaussian sigma (pixels) of the preprocessing, as at inference.
            photometric: ranges of the acquisition-like augmentation (None = off); one setting per pair,
                noise drawn per frame.
            first_frame: pairing of a sequence's first frame, "repeat" or "skip" (module docstring).
            temporal_smoothing: each neighbour's weight in a frame smoothed in time (module docstring).
            temporal_smoothing_share: share of the pairs whose frames are smoothed in time (0 = none).
        """
        if not 0.0 <= temporal_smoothing_share <= 1.0:
            raise ValueError(f"CELLTRACK.AUGMENT.TEMPORAL_SMOOTHING is a share of the training pairs, in 0..1; "
                             f"got {temporal_smoothing_share}")
        if temporal_smoothing_share > 0 and not 0.0 < temporal_smoothing <= 0.5:
            raise ValueError(f"CELLTRACK.AUGMENT.TEMPORAL_SMOOTHING {temporal_smoothing_share} smooths training pairs in "
                             f"time at the weight CELLTRACK.TEMPORAL_SMOOTHING, which must be in (0, 0.5]; got "
                             f"{temporal_smoothing}")
        if first_frame not in FIRST_FRAME_PAIRINGS:
            raise ValueError(f"first_frame must be one of {FIRST_FRAME_PAIRINGS}, got {first_frame!r}")
        if max_frame_gap < 1:
            raise ValueError(f"max_frame_gap must be >= 1, got {max_frame_gap}")
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.records = {(record["sequence"], record["frame"]): record for record in dataset_dicts}
        self.max_frame_gap = max_frame_gap
        self.percentiles = tuple(percentiles)
        self.smoothing = smoothing
        self.photometric = photometric
        self.first_frame = first_frame
        self.temporal_smoothing = temporal_smoothing
        self.temporal_smoothing_share = temporal_smoothing_share

    @classmethod
    def from_config(cls, cfg, is_train: bool = True, dataset_dicts: Optional[list[dict]] = None) -> dict:
        if dataset_dicts is None:
            names = cfg.DATASETS.TRAIN if is_train else cfg.DATASETS.TEST
            dataset_dicts = [record for name in names for record in DatasetCatalog.get(name)]
        return {
            "is_train": is_train,
            "augmentations": build_paired_augmentations(cfg, is_train),
            "dataset_dicts": dataset_dicts,
            "max_frame_gap": cfg.CELLTRACK.MAX_FRAME_GAP,
            "percentiles": tuple(cfg.CELLTRACK.NORMALIZE_PERCENTILES),
            "smoothing": cfg.CELLTRACK.INPUT_SMOOTHING,
            "photometric": PhotometricRanges.from_config(cfg)
            if is_train and cfg.CELLTRACK.AUGMENT.PHOTOMETRIC else None,
            "temporal_smoothing": cfg.CELLTRACK.TEMPORAL_SMOOTHING,
            "temporal_smoothing_share": cfg.CELLTRACK.AUGMENT.TEMPORAL_SMOOTHING if is_train else 0.0,
        }

    def previous_record(self, record: dict) -> Optional[dict]:
        """The earlier record paired with ``record``: frame - gap if it exists, else the nearest
        earlier frame; for a first frame ``record`` itself ("repeat") or None ("skip")."""
        gap = np.random.randint(1, self.max_frame_gap + 1) if self.is_train else 1
        for step in range(gap, 0, -1):
            earlier = self.records.get((record["sequence"], record["frame"] - step))
            if earlier is not None:
                return earlier
        return record if self.first_frame == "repeat" else None

    def load_image(self, record: dict, acquisition: Optional[dict] = None) -> np.ndarray:
        """Raw frame -> ``(H, W, 3)`` float32 network input; with ``acquisition`` (see
        :func:`sample_acquisition`) photometrically augmented first, then preprocessed as at inference."""
        raw = read_frame(record["file_name"], record["frame"])
        utils.check_image_size(record, raw)
        if acquisition is not None:
            raw = photometric_augment(percentile_normalize(raw, *self.percentiles), acquisition,
                                      cells=outlined_cells(record))
        return to_network_input(raw, self.percentiles, self.smoothing)

    def smoothed_in_time(self, record: dict, image: np.ndarray, loaded: dict,
                         acquisition: Optional[dict] = None) -> np.ndarray:
        """``image`` (the network input of ``record``) averaged with its neighbours' in time (module
        docstring); ``loaded`` maps ``(sequence, frame)`` to network inputs already made for this pair, so a
        frame that is both a pair's frame and a neighbour enters with the same noise, as at inference."""
        neighbours = []
        for step in (-1, 1):
            neighbour = self.records.get((record["sequence"], record["frame"] + step))
            if neighbour is not None:
                key = (neighbour["sequence"], neighbour["frame"])
                if key not in loaded:
                    loaded[key] = self.load_image(neighbour, acquisition)
                self.check_same_size(neighbour, loaded[key], record, image)
                neighbour = loaded[key]
            neighbours.append(neighbour)
        return temporal_smooth(image, *neighbours, self.temporal_smoothing)

    @staticmethod
    def check_same_size(other: dict, other_image: np.ndarray, record: dict, image: np.ndarray) -> None:
        if other_image.shape != image.shape:
            raise DataError(
                f"{where(other['file_name'], other['frame'])}: size {other_image.shape[:2]} differs "
                f"from {where(record['file_name'], record['frame'])} {image.shape[:2]}; every frame of a "
                f"sequence must have the same size.")

    def frame_dict(self, record: dict, image: np.ndarray, transforms: T.TransformList) -> dict:
        """Output dict of one (already transformed) frame; ``transforms`` are applied to its annotations."""
        image_size = image.shape[:2]
        annotations = [utils.transform_instance_annotations(dict(annotation), transforms, image_size)
                       for annotation in record.get("annotations", []) if not annotation.get("iscrowd", 0)]
        return {
            # clipped: a float image resized by interpolation may overshoot 255 by a rounding error
            "image": torch.as_tensor(np.ascontiguousarray(np.clip(image, 0, 255).transpose(2, 0, 1))),
            "height": record["height"], "width": record["width"], "file_name": record["file_name"],
            "image_id": record.get("image_id"), "sequence": record["sequence"], "frame": record["frame"],
            "instances": annotations_to_instances(annotations, image_size),
        }

    def __call__(self, record: dict) -> Optional[dict]:
        previous = self.previous_record(record)
        if previous is None:
            return None
        acquisition = sample_acquisition(self.photometric) if self.photometric is not None else None
        image, previous_image = self.load_image(record, acquisition), self.load_image(previous, acquisition)
        self.check_same_size(previous, previous_image, record, image)
        if self.temporal_smoothing_share > 0 and np.random.rand() < self.temporal_smoothing_share:
            loaded = {(previous["sequence"], previous["frame"]): previous_image,
                      (record["sequence"], record["frame"]): image}
            image, previous_image = (self.smoothed_in_time(record, image, loaded, acquisition),
                                     self.smoothed_in_time(previous, previous_image, loaded, acquisition))
        aug_input = T.AugInput(image)
        transforms = self.augmentations(aug_input)
        result = self.frame_dict(record, aug_input.image, transforms)
        result["previous"] = self.frame_dict(previous, transforms.apply_image(previous_image), transforms)
        return result
