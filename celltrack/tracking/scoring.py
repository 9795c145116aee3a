"""Scoring candidate pairs between two frames: candidates, mask IoU and the track head's similarities.

What the tracker computes for every rule before it links (``Tracker._link``) and when it closes gaps;
the rules themselves are in ``celltrack.tracking.rules`` and ``link_model``.
"""
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from .detections import Detections, _to_numpy
from .linking import HEADS, candidate_pairs, mask_overlaps, merge_pairs, pair_values

__all__ = ["Similarity", "score_pairs", "head_similarities"]

# similarity(embeddings_t, embeddings_prev, pairs) -> {"visual": (E,), "spatial": (E,)} in [0, 1].
# Embeddings are {"visual": (N, D), "spatial": (N, D')} arrays or tensors (after the shared FC); pairs is
# an (E, 2) int64 numpy array of (index in t, index in t-1). A track head's similarity takes tensors on
# its device: ``predictor.track_head_similarity`` adapts it (what the predictor and the evaluator pass).
Similarity = Callable[[Mapping[str, Any], Mapping[str, Any], np.ndarray], Mapping[str, Any]]


def score_pairs(
    detections: Detections,
    previous: Detections,
    similarity: Optional[Similarity],
    num_candidates: int,
    max_distance: float,
    cells: Optional[np.ndarray] = None,
    previous_cells: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, Dict[str, np.ndarray], np.ndarray]:
    """Candidate pairs between (a subset of) two frames, their similarities per head and mask IoU.

    Args:
        detections, previous: the cells of frame t and of an earlier frame.
        similarity: the track head's similarity (``Similarity``), or None (overlap only).
        num_candidates, max_distance: nearest t-1 cells by centre scored per cell, and how far (px).
        cells, previous_cells: (n,) and (m,) indices of the cells to pair (default: all).

    Returns:
        ``(pairs (E, 2), {head: (E,) similarities in [0, 1]}, (E,) mask IoU)``.
    """
    num_prev = previous.num_cells
    if cells is None:
        pairs = candidate_pairs(detections.centers, previous.centers, num_candidates, max_distance)
    else:
        sub = candidate_pairs(
            detections.centers[cells], previous.centers[previous_cells], num_candidates, max_distance
        )
        pairs = np.stack([cells[sub[:, 0]], previous_cells[sub[:, 1]]], axis=1)
    overlap_pairs, overlap_iou = np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    if detections.labels is not None and previous.labels is not None:
        overlap_pairs, overlap_iou = mask_overlaps(detections.labels, previous.labels, detections.areas, previous.areas)
        if cells is not None:
            keep = _member(overlap_pairs[:, 0], cells, detections.num_cells) & _member(
                overlap_pairs[:, 1], previous_cells, num_prev
            )
            overlap_pairs, overlap_iou = overlap_pairs[keep], overlap_iou[keep]
    pairs = merge_pairs(pairs, overlap_pairs, num_prev=num_prev)
    iou = pair_values(pairs, overlap_pairs, overlap_iou, num_prev)
    return pairs, head_similarities(similarity, detections, previous, pairs), iou

def head_similarities(similarity: Optional[Similarity], detections: Detections, previous: Detections,
                      pairs: np.ndarray) -> Dict[str, np.ndarray]:
    """{head: (E,) similarity in [0, 1]} of the pairs, for the heads both frames have embeddings of; checked."""
    heads = [name for name in HEADS if name in detections.embeddings and name in previous.embeddings]
    if similarity is None or not heads:
        return {}
    if len(pairs) == 0:
        return {name: np.zeros(0) for name in heads}
    scores = similarity(
        {name: detections.embeddings[name] for name in heads},
        {name: previous.embeddings[name] for name in heads},
        pairs,
    )
    result = {}
    for name in heads:
        if name not in scores:
            raise ValueError(f"Tracker: similarity returned no {name!r} scores (got {sorted(scores)})")
        values = _to_numpy(scores[name]).astype(np.float64).reshape(-1)
        if values.shape != (len(pairs),) or not ((values >= 0) & (values <= 1)).all():
            value_range = f"{values.min()}..{values.max()}" if values.size else "empty"
            raise ValueError(
                f"Tracker: similarity must return {len(pairs)} {name} scores in [0, 1], got shape "
                f"{values.shape}, values {value_range}"
            )
        result[name] = values
    return result


def _member(indices: np.ndarray, subset: np.ndarray, size: int) -> np.ndarray:
    """(len(indices),) bool: which indices (all < size) are in ``subset``."""
    mask = np.zeros(size, dtype=bool)
    mask[subset] = True
    return mask[indices]
