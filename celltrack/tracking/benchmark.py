"""Speed of the linker on synthetic cells: ``python -m celltrack.tracking.benchmark``.

The movie is made at the level of detections (discs in a label image, embeddings per cell), not images:
cells on a jittered grid drift, some vanish, some appear, some divide. Embeddings are a per-lineage random
vector plus noise, scored by ``similarity.distance_similarity`` in place of the track head.
"""
import argparse
import time
from typing import Dict, Iterator, List, Sequence

import numpy as np

from .lineage import count_divisions
from .link_model import DIVISION_FEATURES, LINK_FEATURES, LinkModel
from .similarity import distance_similarity
from .tracker import Detections, Tracker

__all__ = ["synthetic_movie", "benchmark_linker", "timing_link_model"]

SPACING = 16.0  # pixels between neighbouring cells
RADIUS = 5  # pixels


def _paint(centers: np.ndarray, radii: np.ndarray, shape) -> np.ndarray:
    """(H, W) int32 label image of discs; cell i -> label i + 1, later discs over earlier ones."""
    labels = np.zeros(shape, dtype=np.int32)
    for radius in np.unique(radii):
        cells = np.flatnonzero(radii == radius)
        dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        inside = dy**2 + dx**2 <= radius**2
        dy, dx = dy[inside], dx[inside]
        y = np.clip(np.rint(centers[cells, 1, None] + dy), 0, shape[0] - 1).astype(np.int64)
        x = np.clip(np.rint(centers[cells, 0, None] + dx), 0, shape[1] - 1).astype(np.int64)
        labels[y, x] = (cells + 1)[:, None]
    return labels


def synthetic_movie(
    num_cells: int,
    num_frames: int,
    embedding_dim: int = 16,
    motion: float = 1.5,
    vanish_rate: float = 0.01,
    appear_rate: float = 0.01,
    division_rate: float = 0.005,
    seed: int = 0,
) -> Iterator[Detections]:
    """Yield ``num_frames`` Detections of about ``num_cells`` cells each (label image, centres, embeddings).

    Args:
        num_cells: cells in the first frame, on a jittered grid ``SPACING`` pixels apart.
        embedding_dim: D of the "visual" and "spatial" embeddings.
        motion: standard deviation in pixels of each cell's step per frame.
        vanish_rate, appear_rate, division_rate: per cell and frame.
    """
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(num_cells)))
    shape = (int(side * SPACING), int(side * SPACING))
    grid_y, grid_x = np.divmod(np.arange(num_cells), side)
    centers = np.stack([grid_x, grid_y], axis=1) * SPACING + SPACING / 2 + rng.normal(0, 2, (num_cells, 2))
    identity = rng.normal(size=(num_cells, embedding_dim))
    radii = np.full(num_cells, RADIUS)
    for _ in range(num_frames):
        centers = np.clip(centers, 0, np.array(shape[::-1]) - 1)
        noisy = identity + rng.normal(0, 0.1, identity.shape)
        spatial = identity + rng.normal(0, 0.1, identity.shape)
        yield Detections(centers.copy(), _paint(centers, radii, shape), {"visual": noisy, "spatial": spatial})
        count = len(centers)
        centers = centers + rng.normal(0, motion, centers.shape)
        divide = rng.random(count) < division_rate
        keep = (rng.random(count) >= vanish_rate) & ~divide
        offsets = rng.normal(0, 1, (int(divide.sum()), 2))
        offsets = 3.0 * offsets / np.linalg.norm(offsets, axis=1, keepdims=True).clip(1e-6)
        daughters = np.concatenate([centers[divide] + offsets, centers[divide] - offsets])
        num_new = rng.binomial(count, appear_rate)
        centers = np.concatenate([centers[keep], daughters, rng.random((num_new, 2)) * shape[::-1]])
        identity = np.concatenate(
            [
                identity[keep],
                np.tile(identity[divide], (2, 1)) + rng.normal(0, 0.2, (len(daughters), embedding_dim)),
                rng.normal(size=(num_new, embedding_dim)),
            ]
        )
        radii = np.concatenate([radii[keep], np.full(len(daughters), RADIUS - 1), np.full(num_new, RADIUS)])


def timing_link_model() -> LinkModel:
    """Hand-set link and division models for timing the "learned" rule on :func:`synthetic_movie`.

    Time depends on how many links and divisions pass the thresholds, not on the exact weights. These favour,
    as fitted ones do, high head margins and overlap, a small displacement (``displacement_scale`` 2 px: the
    movie's per-frame step) and, for a division, similar daughters close to the mother and to each other. The
    20-frame movies hold 1, 18 and 90 divisions at 10, 100 and 1000 cells; these weights find 1, 13 and 117.
    """
    link = dict(visual_margin=1.0, spatial_margin=1.0, iou=2.0, distance=-0.5, distance_squared=-0.1, area_change=-1.0,
                lone_agreement=0.0)
    division = dict(near_daughter=-0.3, far_daughter=-0.5, daughter_spacing=0.0, midpoint_offset=-1.0, area_sum=0.0,
                    area_imbalance=-1.0)
    # One weight per feature, in the order of LINK_FEATURES / DIVISION_FEATURES, then the bias.
    return LinkModel(tuple(link[name] for name in LINK_FEATURES) + (0.0,),
                     tuple(division[name] for name in DIVISION_FEATURES) + (3.0,), displacement_scale=2.0)


def benchmark_linker(
    num_cells: int,
    num_frames: int = 20,
    method: str = "paper",
    max_gap: int = 0,
    num_candidates: int = 10,
    seed: int = 0,
    link_model=None,
    division_persistence: int = 0,
    rescue_threshold: float = 1.0,
    min_track_length: int = 0,
    fill_gaps: bool = False,
    division_max_area_sum: float = np.inf,
    division_mother_iou: float = 0.0,
) -> Dict[str, float]:
    """Time ``Tracker.update`` per frame on a synthetic movie (the movie is made before timing starts; each
    frame's own update, whatever ``Tracker.lag`` delays its output by).

    ``link_model``: the fitted models the "learned" rule needs (``link_model.LinkModel``; e.g.
    :func:`timing_link_model`). ``division_persistence``, ``rescue_threshold``, ``min_track_length``,
    ``fill_gaps`` (with ``max_gap``): the ``Tracker``'s (pass the config's to time its default).

    Returns:
        {"num_cells", "ms_per_frame" (mean over frames after the first), "max_ms", "tracks", "divisions"}.
    """
    movie: List[Detections] = list(synthetic_movie(num_cells, num_frames, seed=seed))
    tracker = Tracker(
        similarity=distance_similarity(scale=2.0), method=method, max_gap=max_gap, num_candidates=num_candidates,
        link_model=link_model, division_persistence=division_persistence, rescue_threshold=rescue_threshold,
        min_track_length=min_track_length, fill_gaps=fill_gaps, division_max_area_sum=division_max_area_sum,
        division_mother_iou=division_mother_iou,
    )
    linked = []  # ms in Tracker.update per frame, after the first (frame 0 links nothing)
    for frame, detections in enumerate(movie):
        start = time.perf_counter()
        tracker.update(frame, detections)
        linked.append((time.perf_counter() - start) * 1e3)
    linked = np.array(linked[1:])
    rows = tracker.lineage()
    return {
        "num_cells": float(num_cells),
        "ms_per_frame": float(linked.mean()),
        "max_ms": float(linked.max()),
        "tracks": float(len(rows)),
        "divisions": float(count_divisions(rows)),
    }


def main(argv: Sequence[str] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=["paper", "global"])
    parser.add_argument("--max-gap", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args(argv)
    print(f"{'cells':>6} {'method':>7} {'gap':>4} {'ms/frame':>9} {'max ms':>8} {'tracks':>7} {'divisions':>9}")
    for num_cells in args.cells:
        for method in args.methods:
            for max_gap in args.max_gap:
                result = benchmark_linker(num_cells, args.frames, method=method, max_gap=max_gap)
                print(
                    f"{num_cells:>6} {method:>7} {max_gap:>4} {result['ms_per_frame']:>9.2f} {result['max_ms']:>8.2f} "
                    f"{int(result['tracks']):>7} {int(result['divisions']):>9}"
                )


if __name__ == "__main__":
    main()
