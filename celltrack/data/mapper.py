"""Paired-frame dataset mapper: frame t and an earlier frame t - gap of the same sequence, augmented alike.

CellTrack R-CNN trains its Siamese tracking head on pairs of adjacent frames. For a record (frame t) the
mapper returns frame t and its ``"previous"`` frame t - gap (gap random in 1..``MAX_FRAME_GAP`` when
training, 1 otherwise; shortened to the nearest earlier frame that exists). Both frames get the *same*
geometric augmentation (the transforms sampled on frame t are replayed on t - gap), so positions and
identities stay comparable, and *independent* photometric augmentation, as two real frames differ.

Frame-0 pairing: the first frame of a sequence has no earlier frame. With ``first_frame="repeat"``
(default) it is paired with itself: every cell keeps its identity, nothing divides or appears, which
is a true (if easy) pair and never breaks a loader. ``"skip"`` returns None instead, which detectron2's
training loader answers by drawing another frame.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import DatasetCatalog
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, Boxes, Instances

from .movie import DataError, read_frame, where
from .normalize import DEFAULT_PERCENTILES, percentile_normalize, unit_to_network_input

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


def photometric_augment(image: np.ndarray, rng=np.random) -> np.ndarray:
    """Random gamma, contrast, brightness and Gaussian noise on a normalised ``(H, W)`` image in [0, 1].

    ``rng`` is ``np.random`` (detectron2 seeds it per worker) or a ``np.random.Generator``. Returns
    float32 in [0, 1].
    """
    image = np.clip(image, 0.0, 1.0) ** np.exp(rng.uniform(np.log(0.7), np.log(1.4)))
    mean = image.mean()
    image = (image - mean) * rng.uniform(0.75, 1.25) + mean + rng.uniform(-0.1, 0.1)
    image = image + rng.normal(0.0, rng.uniform(0.0, 0.03), image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def annotations_to_instances(annotations: list[dict], image_size: tuple[int, int]) -> Instances:
    """detectron2's conversion (``gt_boxes``, ``gt_classes``, ``gt_masks`` as BitMasks) plus
    ``gt_track_ids`` / ``gt_parent_ids`` (int64). Boxes are recomputed from the transformed masks
    (tight after crops and rotations) and cells cropped away entirely are dropped.
    """
    if annotations:
        instances = utils.annotations_to_instances(annotations, image_size, mask_format="bitmask")
        instances.gt_boxes = instances.gt_masks.get_bounding_boxes()
    else:  # detectron2's version cannot stack zero masks
        instances = Instances(image_size)
        instances.gt_boxes = Boxes(torch.zeros((0, 4)))
        instances.gt_classes = torch.zeros(0, dtype=torch.int64)
        instances.gt_masks = BitMasks(torch.zeros((0, *image_size), dtype=torch.bool))
    instances.gt_track_ids = torch.tensor([a["track_id"] for a in annotations], dtype=torch.int64)
    instances.gt_parent_ids = torch.tensor([a.get("parent_id", 0) for a in annotations], dtype=torch.int64)
    return utils.filter_empty_instances(instances)


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
                 photometric: bool = False, first_frame: str = "repeat"):
        """
        Args:
            is_train: random frame gap (else gap 1).
            augmentations: geometric augmentations applied identically to both frames.
            dataset_dicts: every record of the sequences, to find frame t - gap (give the unfiltered
                list: detectron2's loader drops frames without cells, which may still be a previous frame).
            max_frame_gap: largest gap between the frames of a pair (the paper pairs adjacent frames: 1).
            percentiles: low/high intensity percentiles mapped to 0/1.
            photometric: random per-frame gamma/contrast/brightness/noise.
            first_frame: pairing of a sequence's first frame, "repeat" or "skip" (module docstring).
        """
        if first_frame not in FIRST_FRAME_PAIRINGS:
            raise ValueError(f"first_frame must be one of {FIRST_FRAME_PAIRINGS}, got {first_frame!r}")
        if max_frame_gap < 1:
            raise ValueError(f"max_frame_gap must be >= 1, got {max_frame_gap}")
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.records = {(record["sequence"], record["frame"]): record for record in dataset_dicts}
        self.max_frame_gap = max_frame_gap
        self.percentiles = tuple(percentiles)
        self.photometric = photometric
        self.first_frame = first_frame

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
            "photometric": is_train and cfg.CELLTRACK.AUGMENT.PHOTOMETRIC,
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

    def load_image(self, record: dict) -> np.ndarray:
        """Raw frame -> ``(H, W, 3)`` float32 network input, photometrically augmented if enabled."""
        raw = read_frame(record["file_name"], record["frame"])
        utils.check_image_size(record, raw)
        image = percentile_normalize(raw, *self.percentiles)
        if self.photometric:
            image = photometric_augment(image)
        return unit_to_network_input(image)

    def frame_dict(self, record: dict, image: np.ndarray, transforms: T.TransformList) -> dict:
        """Output dict of one (already transformed) frame; ``transforms`` are applied to its annotations."""
        image_size = image.shape[:2]
        annotations = [utils.transform_instance_annotations(dict(annotation), transforms, image_size)
                       for annotation in record.get("annotations", []) if not annotation.get("iscrowd", 0)]
        return {
            "image": torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "height": record["height"], "width": record["width"], "file_name": record["file_name"],
            "image_id": record.get("image_id"), "sequence": record["sequence"], "frame": record["frame"],
            "instances": annotations_to_instances(annotations, image_size),
        }

    def __call__(self, record: dict) -> Optional[dict]:
        previous = self.previous_record(record)
        if previous is None:
            return None
        image, previous_image = self.load_image(record), self.load_image(previous)
        if previous_image.shape != image.shape:
            raise DataError(
                f"{where(previous['file_name'], previous['frame'])}: size {previous_image.shape[:2]} differs "
                f"from {where(record['file_name'], record['frame'])} {image.shape[:2]}; both frames of a "
                f"pair must have the same size.")
        aug_input = T.AugInput(image)
        transforms = self.augmentations(aug_input)
        result = self.frame_dict(record, aug_input.image, transforms)
        result["previous"] = self.frame_dict(previous, transforms.apply_image(previous_image), transforms)
        return result
