"""Per-image preprocessing, shared by training (the mapper) and inference (the predictor).

Microscopy frames are 8- or 16-bit with dataset-specific ranges (Fluo-N2DH-SIM+: background ~90 of
65535; GOWT1: 8-bit). Each frame is first smoothed with a small Gaussian (``CELLTRACK.INPUT_SMOOTHING``:
dim nuclei sit barely above shot and read-out noise, and averaging a few pixels lifts them out of it
without moving an outline of a 30-90 px nucleus), then its low/high percentiles are mapped to 0/1,
which makes frames of any microscope comparable. The result is replicated to three 0..255 channels so
COCO-pretrained Mask R-CNN weights and detectron2's default ``PIXEL_MEAN`` / ``PIXEL_STD`` apply
unchanged (three equal channels make BGR vs RGB moot).
"""
from __future__ import annotations

import cv2
import numpy as np

DEFAULT_PERCENTILES = (1.0, 99.8)


def percentile_normalize(image: np.ndarray, low: float = DEFAULT_PERCENTILES[0],
                         high: float = DEFAULT_PERCENTILES[1]) -> np.ndarray:
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


def gaussian_smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """``(H, W)`` image -> float32 image blurred by a Gaussian of ``sigma`` pixels (0 = unchanged)."""
    image = np.asarray(image, dtype=np.float32)
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT)


def unit_to_network_input(image: np.ndarray) -> np.ndarray:
    """Turn a normalised ``(H, W)`` image in 0..1 into the network's ``(H, W, 3)`` float32 in 0..255."""
    scaled = np.clip(image, 0.0, 1.0).astype(np.float32) * np.float32(255.0)
    return np.repeat(scaled[:, :, None], 3, axis=2)


def to_network_input(image: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
                     smoothing: float = 0.0) -> np.ndarray:
    """Raw ``(H, W)`` frame -> ``(H, W, 3)`` float32 in 0..255: smoothed by a Gaussian of ``smoothing``
    pixels, percentile-normalised, 3 equal channels."""
    low, high = percentiles
    return unit_to_network_input(percentile_normalize(gaussian_smooth(image, smoothing), low, high))


def noise_level(image: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES) -> float:
    """Robust standard deviation of the pixel noise of a raw ``(H, W)`` frame, in percentile-normalised units
    (0..1 is the frame's ``percentiles`` range): 1.4826 x the median absolute deviation of the differences of
    neighbouring pixels, / sqrt(2). Nuclei outlines are a small share of the differences, so the median reads
    the noise, not the cells. 0.02-0.03 for Fluo-N2DH-SIM+ 01 and GOWT1 01 as acquired. An 8-bit frame whose noise
    is below one grey level may read 0 (most differences are 0): a clean frame, as it should be for the gate."""
    image = percentile_normalize(image, *percentiles)
    differences = np.concatenate([np.diff(image, axis=1).ravel(), np.diff(image, axis=0).ravel()])
    deviation = np.median(np.abs(differences - np.median(differences)))
    return float(1.4826 * deviation / np.sqrt(2.0))


def temporal_smooth(network_image: np.ndarray, previous: np.ndarray | None, following: np.ndarray | None,
                    weight: float) -> np.ndarray:
    """``network_image`` averaged with the same frame's neighbours in time (network inputs of frames t-1 and
    t+1, ``(H, W, 3)``; None at a movie's ends), each neighbour weighing ``weight`` and the frame the rest
    (``CELLTRACK.TEMPORAL_SMOOTHING``). A missing neighbour's weight goes to the frame itself, so a movie's
    first and last frames are not shifted towards one side."""
    averaged = network_image * np.float32(1.0 - 2.0 * weight)
    for neighbour in (previous, following):
        averaged += np.float32(weight) * (network_image if neighbour is None else neighbour)
    return averaged
