"""Label-image geometry: pure functions over (H, W) integer label images (cell i has label i + 1, 0 is
background) and (N, H, W) instance masks.

A cell's centre is the centroid of its pixels in the label image (:func:`centers_from_labels`), everywhere:
the tracker's candidates and distances, the spatial embeddings at inference, ``tracks.csv`` and the GEFF.
"""
from typing import Optional

import numpy as np


def _as_label_image(labels: np.ndarray, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: expected an (H, W) integer label image, got {labels.dtype} {labels.shape}")
    return labels


def labels_from_masks(masks: np.ndarray) -> np.ndarray:
    """Paint instance masks into one label image; where masks overlap, the earlier mask wins.

    Detectron2 sorts instances by descending score, so the most confident cell keeps a contested pixel.

    Args:
        masks: (N, H, W) bool (or 0/1) masks.

    Returns:
        (H, W) int32 label image, cell i -> label i + 1, background 0. A mask entirely covered by earlier
        masks has no pixel left (area 0); it still links by its embeddings but never by overlap.
    """
    masks = np.asarray(masks).astype(bool, copy=False)
    if masks.ndim != 3:
        raise ValueError(f"labels_from_masks: expected (N, H, W) masks, got shape {masks.shape}")
    if masks.shape[0] == 0:
        return np.zeros(masks.shape[1:], dtype=np.int32)
    first = masks.argmax(axis=0).astype(np.int32) + 1
    return np.where(masks.any(axis=0), first, 0).astype(np.int32)


def centers_from_labels(labels: np.ndarray, num_cells: Optional[int] = None) -> np.ndarray:
    """Centroids (x, y) in pixels of labels 1..num_cells: (num_cells, 2) float64; NaN for an empty label."""
    labels = _as_label_image(labels, "centers_from_labels")
    if num_cells is None:
        num_cells = int(labels.max()) if labels.size else 0
    flat = labels.ravel()
    height, width = labels.shape
    size = max(num_cells + 1, int(flat.max()) + 1 if flat.size else 1)
    area = np.bincount(flat, minlength=size)[1 : num_cells + 1].astype(np.float64)
    y = np.bincount(flat, weights=np.repeat(np.arange(height, dtype=np.float64), width), minlength=size)
    x = np.bincount(flat, weights=np.tile(np.arange(width, dtype=np.float64), height), minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([x[1 : num_cells + 1] / area, y[1 : num_cells + 1] / area], axis=1)


def boxes_from_labels(labels: np.ndarray, num_cells: int) -> np.ndarray:
    """(num_cells, 4) XYXY boxes of cells 1..num_cells of a label image (pixels; end exclusive)."""
    boxes = np.zeros((num_cells, 4), dtype=np.float32)
    ys, xs = np.nonzero(labels)
    cells = labels[ys, xs] - 1
    boxes[:, 0] = boxes[:, 1] = np.inf
    np.minimum.at(boxes[:, 0], cells, xs)
    np.minimum.at(boxes[:, 1], cells, ys)
    np.maximum.at(boxes[:, 2], cells, xs + 1)
    np.maximum.at(boxes[:, 3], cells, ys + 1)
    return boxes


def track_label_image(labels: np.ndarray, track_ids: np.ndarray) -> np.ndarray:
    """Label image of cells (cell i = label i + 1) -> label image of track ids (CTC ``maskTTT.tif``)."""
    lookup = np.concatenate([[0], np.asarray(track_ids, dtype=np.int64)])
    return lookup[labels]


def cell_areas(labels: np.ndarray, num_cells: int) -> np.ndarray:
    """(num_cells,) int64 pixel count of labels 1..num_cells."""
    return np.bincount(np.asarray(labels).ravel(), minlength=num_cells + 1)[1 : num_cells + 1]
