"""Per-image intensity normalisation, shared by training (the mapper) and inference (the predictor).

Microscopy frames are 8- or 16-bit with dataset-specific ranges (Fluo-N2DH-SIM+: background ~90 of
65535; GOWT1: 8-bit). Mapping each frame's low/high percentiles to 0/1 makes them comparable, and
replicating the result to three 0..255 channels lets COCO-pretrained Mask R-CNN weights and detectron2's
default ``PIXEL_MEAN`` / ``PIXEL_STD`` apply unchanged (three equal channels make BGR vs RGB moot).
"""
from __future__ import annotations

import numpy as np

DEFAULT_PERCENTILES = (1.0, 99.8)


def percentile_normalize(image: np.ndarray, low: float = 1.0, high: float = 99.8) -> np.ndarray:
    """Map the ``low`` / ``high`` percentiles of ``image`` to 0 / 1.

    Args:
        image: ``(H, W)``, any real dtype.
        low, high: percentiles in 0..100, ``low < high``.

    Returns:
        ``(H, W)`` float32, clipped to [0, 1] so the network input stays bounded (only the
        ``100 - high`` % brightest pixels saturate). A flat image (both percentiles equal) maps to 0.
    """
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got low={low}, high={high}")
    image = np.asarray(image, dtype=np.float32)
    lower, upper = np.percentile(image, (low, high))
    if upper <= lower:
        return np.zeros(image.shape, dtype=np.float32)
    normalized = (image - np.float32(lower)) / np.float32(upper - lower)
    return np.clip(normalized, 0.0, 1.0, out=normalized)


def unit_to_network_input(image: np.ndarray) -> np.ndarray:
    """Turn a normalised ``(H, W)`` image in 0..1 into the network's ``(H, W, 3)`` float32 in 0..255."""
    scaled = np.clip(image, 0.0, 1.0).astype(np.float32) * np.float32(255.0)
    return np.repeat(scaled[:, :, None], 3, axis=2)


def to_network_input(image: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES) -> np.ndarray:
    """Raw ``(H, W)`` frame -> ``(H, W, 3)`` float32 in 0..255: percentile-normalised, 3 equal channels."""
    low, high = percentiles
    return unit_to_network_input(percentile_normalize(image, low, high))
