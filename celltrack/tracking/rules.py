"""The linking rules: from scored candidate pairs to ``Links`` (pure functions over arrays).

* ``paper_rule``: the paper's per-cell rule (``paper_claims``, then ``resolve_claims``: two claimants to
  one t-1 cell are a division).
* ``global_rule``: one-to-one assignment of the whole frame (``linking.max_weight_matching``), then
  divisions.

The learned rule is ``link_model.learned_rule``. Conventions (pairs, similarities, ``Links``) are those of
``celltrack.tracking.linking``, which builds the candidate pairs and their overlaps.
"""
from typing import Mapping

import numpy as np

from .linking import HEADS, Links, _no_links, best_pair_per_cell, fuse_similarities, max_weight_matching, pair_values, runs

__all__ = ["paper_claims", "resolve_claims", "overlap_allows", "link_weights", "paper_rule", "global_rule"]


def paper_claims(
    pairs: np.ndarray,
    similarities: Mapping[str, np.ndarray],
    iou: np.ndarray,
    num_t: int,
    alpha: float = 0.1,
) -> np.ndarray:
    """The paper's per-cell rule: the t-1 cell that each cell of t claims.

    A cell claims the t-1 cell that is the best match of both the visual and the spatial head if the two
    agree; otherwise the t-1 cell with the largest mask IoU, if that IoU is at least ``alpha``; otherwise
    nothing (a new cell). With one head on, its best match always "agrees"; with none, only overlap links.

    Args:
        pairs: (E, 2) sorted candidate pairs (i_t, j_prev).
        similarities: {"visual": (E,), "spatial": (E,)} for the heads that are on.
        iou: (E,) mask IoU of each pair.
        num_t: N_t.
        alpha: minimum IoU of an overlap link (paper: 0.1).

    Returns:
        (N_t,) int64 index of the claimed t-1 cell; -1 for none. Several cells may claim one t-1 cell.
    """
    cells = pairs[:, 0]
    claims = np.full(num_t, -1, dtype=np.int64)
    heads = [name for name in HEADS if name in similarities]
    agree = np.zeros(num_t, dtype=bool)
    if heads:
        best = [best_pair_per_cell(cells, similarities[name], num_t) for name in heads]
        has_pair = best[0] >= 0
        agree = has_pair.copy()
        for other in best[1:]:
            agree[has_pair] &= pairs[other[has_pair], 1] == pairs[best[0][has_pair], 1]
        claims[agree] = pairs[best[0][agree], 1]
    best_overlap = best_pair_per_cell(cells, iou, num_t)
    overlap_ok = ~agree & (best_overlap >= 0)
    overlap_ok[overlap_ok] = overlap_allows(iou[best_overlap[overlap_ok]], alpha)
    claims[overlap_ok] = pairs[best_overlap[overlap_ok], 1]
    return claims


def resolve_claims(claims: np.ndarray, claim_scores: np.ndarray, num_prev: int) -> Links:
    """Turn claims into links: one claimant inherits, two are daughters, more keep the best two.

    With three or more claimants to one t-1 cell, the two with the highest ``claim_scores`` become the
    daughters and the others become new cells: a third claimant is more often a false detection or a
    fragment than a third daughter, and a new track costs less to fix than a wrong lineage link.

    Args:
        claims: (N_t,) int, the claimed t-1 cell of each cell of t, -1 for none.
        claim_scores: (N_t,) score of each claim (higher is better); ties go to the lower cell index.
        num_prev: N_prev.

    Returns:
        ``Links``.
    """
    claims = np.asarray(claims, dtype=np.int64)
    matched = claims.copy()
    is_daughter = np.zeros(len(claims), dtype=bool)
    claimants = np.flatnonzero(claims >= 0)
    if len(claimants) == 0:
        return Links(matched, is_daughter)
    order = claimants[np.lexsort((-np.asarray(claim_scores, dtype=np.float64)[claimants], claims[claimants]))]
    parents = claims[order]
    group_start, group_size = runs(parents)
    rank = np.arange(len(order)) - np.repeat(group_start, group_size)
    size = np.repeat(group_size, group_size)
    is_daughter[order[(size >= 2) & (rank < 2)]] = True
    matched[order[rank >= 2]] = -1
    return Links(matched, is_daughter)


def overlap_allows(iou: np.ndarray, alpha: float) -> np.ndarray:
    """(E,) bool: the masks overlap (IoU > 0) by at least ``alpha``."""
    return (iou > 0) & (iou >= alpha)


def link_weights(similarities: Mapping[str, np.ndarray], iou: np.ndarray) -> np.ndarray:
    """Score of a link, (E,) in [0, 2]: fused similarity (mean of the heads) plus mask IoU.

    The IoU term is the overlap fallback of the global rule and the tie-breaker of both rules: when the
    heads are unsure (similarities near 0.5 everywhere) links follow the overlap.
    """
    return fuse_similarities(similarities, len(iou)) + iou


def paper_rule(
    pairs: np.ndarray,
    similarities: Mapping[str, np.ndarray],
    iou: np.ndarray,
    num_t: int,
    num_prev: int,
    alpha: float = 0.1,
) -> Links:
    """The paper's rule: ``paper_claims`` per cell, then ``resolve_claims`` (two claimants = a division).

    Claims are ranked by ``link_weights`` when more than two cells claim one t-1 cell.
    Arguments are those of ``paper_claims``; returns ``Links``.
    """
    if len(pairs) == 0:
        return _no_links(num_t)
    claims = paper_claims(pairs, similarities, iou, num_t, alpha)
    weights = link_weights(similarities, iou)
    claimed = claims >= 0
    claim_scores = np.zeros(num_t)
    claim_scores[claimed] = pair_values(
        np.stack([np.flatnonzero(claimed), claims[claimed]], axis=1), pairs, weights, num_prev
    )
    return resolve_claims(claims, claim_scores, num_prev)


def global_rule(
    pairs: np.ndarray,
    similarities: Mapping[str, np.ndarray],
    iou: np.ndarray,
    num_t: int,
    num_prev: int,
    alpha: float = 0.1,
    min_similarity: float = 0.5,
    division_min_score: float = 0.5,
) -> Links:
    """One-to-one assignment of the whole frame, then divisions.

    1. A pair may link if its fused similarity is at least ``min_similarity`` or its IoU at least ``alpha``
       (the overlap fallback).
    2. Links maximise the total ``link_weights`` (fused similarity + IoU), one t-1 cell per t cell.
    3. Division: a cell left unmatched takes its best allowed t-1 cell if that cell is already taken by
       exactly one cell and the pair's weight is at least ``division_min_score``; the two become daughters.
       Among several such claimants to one t-1 cell, the highest weight wins; the others stay new.

    Args:
        pairs, similarities, iou, num_t, alpha: as in ``paper_claims``.
        num_prev: N_prev.
        min_similarity: fused similarity from which a pair may link without overlap.
        division_min_score: minimum link weight (in [0, 2]) of a second daughter.

    Returns:
        ``Links``.
    """
    if len(pairs) == 0:
        return _no_links(num_t)
    fused = fuse_similarities(similarities, len(pairs))
    weights = fused + iou
    allowed = (fused >= min_similarity) | overlap_allows(iou, alpha)
    matched = max_weight_matching(pairs[allowed], weights[allowed], num_t, num_prev)
    is_daughter = np.zeros(num_t, dtype=bool)

    taken_by = np.full(num_prev, -1, dtype=np.int64)
    taken_by[matched[matched >= 0]] = np.flatnonzero(matched >= 0)
    open_pair = (
        allowed
        & (matched[pairs[:, 0]] < 0)
        & (taken_by[pairs[:, 1]] >= 0)
        & (weights >= division_min_score)
    )
    best = best_pair_per_cell(pairs[:, 0][open_pair], weights[open_pair], num_t)
    claimants = np.flatnonzero(best >= 0)
    if len(claimants) == 0:
        return Links(matched, is_daughter)
    claimed_pair = np.flatnonzero(open_pair)[best[claimants]]
    parents, scores = pairs[claimed_pair, 1], weights[claimed_pair]
    order = np.lexsort((-scores, parents))  # stable: equal scores go to the lower cell index
    first = order[runs(parents[order])[0]]
    matched[claimants[first]] = parents[first]
    is_daughter[claimants[first]] = True
    is_daughter[taken_by[parents[first]]] = True
    return Links(matched, is_daughter)
