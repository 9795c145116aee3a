"""Linking cells of frame t to cells of frame t-1: pure functions over arrays.

Conventions used throughout:

* Cells of a frame are indexed 0..N-1 in detector order. In a label image (H, W) cell i has label i + 1
  and 0 is background.
* Centres are (x, y) in pixels, as in ``celltrack.modeling.position_encoding``.
* A *pair* is a row (i_t, j_prev) of an (E, 2) int64 array: cell i_t of frame t with cell j_prev of frame
  t-1. Pair arrays returned here are sorted by (i_t, j_prev) and hold no duplicates, so that ties are
  broken the same way on every run.
* Similarities are per pair, in [0, 1], one (E,) array per head of the track head ("visual", "spatial").
* The outcome of a linking rule is ``Links``: for each cell of t, the t-1 cell it continues (or divides
  from), and whether it is a daughter of a division.

Scores are only computed for candidate pairs (nearest centres plus every overlapping pair), never for all
N_t x N_prev pairs, so that linking stays near-linear in the number of cells.
"""
from typing import Mapping, NamedTuple, Optional, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

# Label-image geometry lives in .labels and the model-free test similarity in .similarity; both are
# re-exported here for code that imported them from linking.
from .labels import _as_label_image, centers_from_labels, labels_from_masks  # noqa: F401
from .similarity import distance_similarity  # noqa: F401

__all__ = [
    "Links",
    "candidate_pairs",
    "mask_overlaps",
    "merge_pairs",
    "pair_values",
    "fuse_similarities",
    "link_weights",
    "overlap_allows",
    "runs",
    "best_pair_per_cell",
    "paper_claims",
    "resolve_claims",
    "paper_rule",
    "max_weight_matching",
    "global_rule",
    "labels_from_masks",
    "centers_from_labels",
    "distance_similarity",
]

HEADS = ("visual", "spatial")

# max_weight_matching solves frames with at most this many N_t x N_prev cell pairs (~300 cells) on the dense
# weight table, which is then faster than building the sparse graph (e.g. 0.17 vs 0.63 ms at 100 cells).
DENSE_MATCHING_CELLS = 90_000


class Links(NamedTuple):
    """How the cells of frame t link to frame t-1.

    matched: (N_t,) int64, the t-1 cell each cell continues or divides from; -1 for a new cell.
    is_daughter: (N_t,) bool, True where the cell is one of two daughters of ``matched``.
    """

    matched: np.ndarray
    is_daughter: np.ndarray


def _empty_pairs() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.int64)


def _no_links(num_t: int) -> Links:
    return Links(np.full(num_t, -1, dtype=np.int64), np.zeros(num_t, dtype=bool))


def candidate_pairs(
    centers_t: np.ndarray,
    centers_prev: np.ndarray,
    num_candidates: int = 10,
    max_distance: float = np.inf,
) -> np.ndarray:
    """Pairs of each cell in t with its nearest cells in t-1, by centre distance.

    Args:
        centers_t: (N_t, 2) centres (x, y) in pixels of the cells in frame t.
        centers_prev: (N_prev, 2) centres of the cells in frame t-1.
        num_candidates: k, at most this many t-1 cells per cell of t.
        max_distance: pixels; farther t-1 cells are never candidates (inf: no limit).

    Returns:
        (E, 2) int64 pairs (i_t, j_prev), sorted, E <= N_t * k. Cost O((N_t + N_prev) log N_prev).
    """
    centers_t = np.asarray(centers_t, dtype=np.float64).reshape(-1, 2)
    centers_prev = np.asarray(centers_prev, dtype=np.float64).reshape(-1, 2)
    if num_candidates < 1:
        raise ValueError(f"candidate_pairs: num_candidates must be >= 1, got {num_candidates}")
    if len(centers_t) == 0 or len(centers_prev) == 0:
        return _empty_pairs()
    k = min(num_candidates, len(centers_prev))
    _, nearest = cKDTree(centers_prev).query(centers_t, k=k, distance_upper_bound=max_distance)
    # Each cell's k distinct neighbours, by index in t-1: the pairs come out sorted and unique. cKDTree marks
    # "none within max_distance" with N_prev, which sorts last.
    nearest = np.sort(nearest.reshape(len(centers_t), k), axis=1).ravel().astype(np.int64)
    cells = np.repeat(np.arange(len(centers_t), dtype=np.int64), k)
    found = nearest < len(centers_prev)
    return np.stack([cells[found], nearest[found]], axis=1)


def mask_overlaps(labels_t: np.ndarray, labels_prev: np.ndarray, areas_t: Optional[np.ndarray] = None,
                  areas_prev: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Mask IoU of every pair of cells that share at least one pixel.

    One pass over the pixels: the (label_t, label_prev) codes of pixels that are foreground in both
    images are counted: in a table of all N_t x N_prev codes (``np.bincount``, O(P + N_t N_prev)) while it
    is small against the P overlapping pixels (at most 32 entries per pixel, 4M in all: scanning the table
    costs ~0.3 us per 1000 entries, sorting ~40 us per 1000 pixels), else with ``np.unique`` (O(P log P)).

    Args:
        labels_t: (H, W) non-negative integer label image of frame t (cell i has label i + 1).
        labels_prev: (H, W) label image of frame t-1.
        areas_t, areas_prev: (N_t,), (N_prev,) pixel areas of labels 1..N when the caller has them
            (``Detections.areas``); counted here otherwise.

    Returns:
        pairs: (M, 2) int64 sorted pairs (i_t, j_prev) with a non-empty intersection.
        iou: (M,) float64 intersection over union of the two masks, in (0, 1].
    """
    labels_t = _as_label_image(labels_t, "mask_overlaps: labels_t")
    labels_prev = _as_label_image(labels_prev, "mask_overlaps: labels_prev")
    if labels_t.shape != labels_prev.shape:
        raise ValueError(
            f"mask_overlaps: label images of frames t and t-1 differ in size, {labels_t.shape} vs "
            f"{labels_prev.shape}; every frame of a sequence must have the same size"
        )
    flat_t = labels_t.ravel()
    flat_prev = labels_prev.ravel()
    if flat_t.size == 0:
        return _empty_pairs(), np.zeros(0)
    if flat_t.min() < 0 or flat_prev.min() < 0:
        raise ValueError("mask_overlaps: label images must be >= 0 (0 is background)")
    area_t = np.bincount(flat_t) if areas_t is None else np.concatenate([[0], areas_t])
    area_prev = np.bincount(flat_prev) if areas_prev is None else np.concatenate([[0], areas_prev])
    both = (flat_t > 0) & (flat_prev > 0)
    codes = flat_t[both].astype(np.int64) * area_prev.size + flat_prev[both]
    table_size = area_t.size * area_prev.size
    if table_size <= max(min(32 * codes.size, 1 << 22), 1 << 16):  # few labels: count codes in one table
        intersection = np.bincount(codes, minlength=table_size)
        codes = np.flatnonzero(intersection != 0)
        intersection = intersection[codes]
    else:  # many labels: sort the overlapping pixels' codes instead of a huge count table
        codes, intersection = np.unique(codes, return_counts=True)
    label_t, label_prev = np.divmod(codes, area_prev.size)
    iou = intersection / (area_t[label_t] + area_prev[label_prev] - intersection)
    return np.stack([label_t - 1, label_prev - 1], axis=1), iou


def _pair_codes(pairs: np.ndarray, num_prev: int) -> np.ndarray:
    return pairs[:, 0] * num_prev + pairs[:, 1]


def merge_pairs(*pairs: np.ndarray, num_prev: int) -> np.ndarray:
    """Union of pair arrays, sorted by (i_t, j_prev), without duplicates.

    Args:
        pairs: any number of (E_k, 2) int arrays of (i_t, j_prev).
        num_prev: N_prev, the number of cells in t-1 (all j_prev < num_prev).

    Returns:
        (E, 2) int64.
    """
    stacked = np.concatenate([np.asarray(p, dtype=np.int64).reshape(-1, 2) for p in pairs] or [_empty_pairs()])
    if len(stacked) == 0:
        return _empty_pairs()
    codes = np.sort(_pair_codes(stacked, num_prev))
    codes = codes[runs(codes)[0]]  # unique
    return np.stack(np.divmod(codes, num_prev), axis=1)


def pair_values(
    pairs: np.ndarray, known_pairs: np.ndarray, known_values: np.ndarray, num_prev: int, fill: float = 0.0
) -> np.ndarray:
    """Look up per-pair values (e.g. IoU) for ``pairs``; pairs not in ``known_pairs`` get ``fill``.

    Args:
        pairs: (E, 2) pairs to look up.
        known_pairs: (M, 2) sorted unique pairs (as returned by ``mask_overlaps``).
        known_values: (M,) their values.
        num_prev: N_prev.

    Returns:
        (E,) float64.
    """
    values = np.full(len(pairs), fill, dtype=np.float64)
    if len(pairs) == 0 or len(known_pairs) == 0:
        return values
    known_codes = _pair_codes(known_pairs, num_prev)
    codes = _pair_codes(pairs, num_prev)
    where = np.searchsorted(known_codes, codes).clip(max=len(known_codes) - 1)
    hit = known_codes[where] == codes
    values[hit] = known_values[where[hit]]
    return values


def fuse_similarities(similarities: Mapping[str, np.ndarray], num_pairs: int) -> np.ndarray:
    """Mean of the heads' similarities per pair: (E,) in [0, 1]; zeros when no head is on."""
    scores = [np.asarray(similarities[name], dtype=np.float64) for name in HEADS if name in similarities]
    if not scores:
        return np.zeros(num_pairs)
    return np.mean(scores, axis=0)


def runs(keys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(starts, sizes): the index of the first element and the length of each run of equal values in
    ``keys`` (grouped, e.g. sorted): how pairs sorted by a cell are split into that cell's candidates."""
    change = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    sizes = np.empty_like(starts)
    sizes[:-1] = starts[1:] - starts[:-1]
    sizes[-1:] = len(keys) - starts[-1:]
    return starts, sizes


def best_pair_per_cell(cells: np.ndarray, values: np.ndarray, num_cells: int) -> np.ndarray:
    """Index of the pair with the largest value for each cell (argmax within groups).

    Args:
        cells: (E,) int, the cell each pair belongs to (e.g. ``pairs[:, 0]``).
        values: (E,) values to maximise.
        num_cells: number of cells.

    Returns:
        (num_cells,) int64 index into the E pairs; -1 for a cell with no pair. Ties go to the earliest pair.
    """
    best = np.full(num_cells, -1, dtype=np.int64)
    if len(cells) == 0:
        return best
    values = np.asarray(values, dtype=np.float64)
    if (cells[1:] >= cells[:-1]).all():
        # Pairs grouped by cell (the usual case): O(E) segment maxima instead of a sort.
        starts, sizes = runs(cells)
        is_max = values == np.repeat(np.maximum.reduceat(values, starts), sizes)
        first_max = np.minimum.reduceat(np.where(is_max, np.arange(len(cells)), len(cells)), starts)
        best[cells[starts]] = first_max
        return best
    order = np.lexsort((-values, cells))  # stable: ties keep pair order
    sorted_cells = cells[order]
    first = runs(sorted_cells)[0]
    best[sorted_cells[first]] = order[first]
    return best


def max_weight_matching(pairs: np.ndarray, weights: np.ndarray, num_t: int, num_prev: int) -> np.ndarray:
    """One-to-one assignment of t cells to t-1 cells maximising the total weight; cells may stay unmatched.

    The sparse form of ``scipy.optimize.linear_sum_assignment`` (LAPJVsp), so the cost grows with the
    number of pairs, not N_t x N_prev (small frames, up to ``DENSE_MATCHING_CELLS`` cell pairs: the dense
    form, faster there). Unmatched cells are modelled as in laptrack: every cell of t gets a
    private "new" partner and every cell of t-1 a private "end" partner, and each candidate pair (i, j)
    also links "end of j" to "new of i", so a perfect matching always exists and its cost is a constant
    minus the total weight of the real links.

    Args:
        pairs: (E, 2) unique pairs (i_t, j_prev) allowed to link.
        weights: (E,) positive weights (a link of weight <= 0 is never better than no link).
        num_t, num_prev: N_t, N_prev.

    Returns:
        (N_t,) int64 matched t-1 cell per cell of t; -1 for unmatched.
    """
    matched = np.full(num_t, -1, dtype=np.int64)
    keep = np.asarray(weights) > 0
    pairs, weights = pairs[keep], np.asarray(weights, dtype=np.float64)[keep]
    if len(pairs) == 0:
        return matched
    if num_t * num_prev <= DENSE_MATCHING_CELLS:
        # Same optimum: any matching of the pairs is an assignment of the table with 0 for "no pair", and an
        # assignment's zero entries are cells left unmatched.
        table = np.zeros((num_t, num_prev))
        table[pairs[:, 0], pairs[:, 1]] = weights
        row_index, col_index = linear_sum_assignment(table, maximize=True)
        real = table[row_index, col_index] > 0
        matched[row_index[real]] = col_index[real]
        return matched
    # LAPJVsp needs non-zero weights; shifting every edge by the same constant keeps the optimum because
    # every perfect matching of this square graph has exactly num_t + num_prev edges.
    base = weights.max() + 1.0
    cells_t, cells_prev = pairs[:, 0], pairs[:, 1]
    t_range, prev_range = np.arange(num_t), np.arange(num_prev)
    rows = np.concatenate([cells_t, num_t + cells_prev, t_range, num_t + prev_range])
    cols = np.concatenate([cells_prev, num_prev + cells_t, num_prev + t_range, prev_range])
    costs = np.concatenate([base - weights, np.full(len(pairs) + num_t + num_prev, base)])
    size = num_t + num_prev
    graph = csr_matrix((costs, (rows, cols)), shape=(size, size))
    row_index, col_index = min_weight_full_bipartite_matching(graph)
    real = (row_index < num_t) & (col_index < num_prev)
    matched[row_index[real]] = col_index[real]
    return matched


# The linking rules (the paper's per-cell rule, the global assignment) live in .rules; re-exported here for
# code that imported them from linking. Imported last: rules builds on the helpers above.
from .rules import global_rule, link_weights, overlap_allows, paper_claims, paper_rule, resolve_claims  # noqa: E402,F401
