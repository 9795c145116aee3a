"""The linking rules as pure functions, on hand-built pairs, scores and label images."""
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from celltrack.tracking import linking
from celltrack.tracking.linking import (
    best_pair_per_cell,
    candidate_pairs,
    centers_from_labels,
    distance_similarity,
    global_rule,
    labels_from_masks,
    mask_overlaps,
    max_weight_matching,
    merge_pairs,
    pair_values,
    paper_claims,
    paper_rule,
    resolve_claims,
    runs,
)
from celltrack.tracking.labels import cell_areas


def _pairs(*rows):
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


# --- candidates and overlaps ------------------------------------------------------------------
def test_candidate_pairs_nearest_and_max_distance():
    centers_prev = np.array([[0.0, 0.0], [10.0, 0.0], [100.0, 0.0]])
    centers_t = np.array([[1.0, 0.0], [99.0, 0.0]])
    pairs = candidate_pairs(centers_t, centers_prev, num_candidates=2)
    np.testing.assert_array_equal(pairs, _pairs((0, 0), (0, 1), (1, 1), (1, 2)))
    pairs = candidate_pairs(centers_t, centers_prev, num_candidates=2, max_distance=5.0)
    np.testing.assert_array_equal(pairs, _pairs((0, 0), (1, 2)))
    # More candidates asked for than there are cells.
    assert len(candidate_pairs(centers_t, centers_prev, num_candidates=10)) == 6


@pytest.mark.parametrize("num_t, num_prev", [(0, 3), (3, 0), (0, 0)])
def test_candidate_pairs_empty(num_t, num_prev):
    pairs = candidate_pairs(np.zeros((num_t, 2)), np.zeros((num_prev, 2)))
    assert pairs.shape == (0, 2) and pairs.dtype == np.int64


def test_mask_overlaps_iou():
    labels_prev = np.zeros((4, 6), dtype=np.uint16)
    labels_prev[:, 0:2] = 1  # 8 pixels
    labels_prev[:, 4:6] = 2  # 8 pixels
    labels_t = np.zeros((4, 6), dtype=np.int32)
    labels_t[:, 1:3] = 1  # 8 pixels, 4 shared with prev 1
    labels_t[0, 5] = 2  # 1 pixel inside prev 2
    labels_t[3, 3] = 3  # touches nothing
    pairs, iou = mask_overlaps(labels_t, labels_prev)
    np.testing.assert_array_equal(pairs, _pairs((0, 0), (1, 1)))
    np.testing.assert_allclose(iou, [4 / 12, 1 / 8])


@pytest.mark.parametrize("num_cells", [3, 400])  # a small count table, and sorting the pixels' codes
def test_mask_overlaps_matches_pixel_count(num_cells):
    rng = np.random.default_rng(1)
    labels_t = rng.integers(0, num_cells + 1, (40, 50)).astype(np.int32)
    labels_prev = rng.integers(0, num_cells + 1, (40, 50)).astype(np.int32)
    pairs, iou = mask_overlaps(labels_t, labels_prev)
    for (i, j), value in zip(pairs, iou):
        a, b = labels_t == i + 1, labels_prev == j + 1
        assert value == pytest.approx((a & b).sum() / (a | b).sum())
    both = (labels_t > 0) & (labels_prev > 0)
    assert len(pairs) == len(set(zip(labels_t[both], labels_prev[both])))
    # Areas the caller already counted (Detections.areas) give the same overlaps.
    known = mask_overlaps(labels_t, labels_prev, cell_areas(labels_t, num_cells).astype(float),
                          cell_areas(labels_prev, num_cells).astype(float))
    np.testing.assert_array_equal(known[0], pairs)
    np.testing.assert_array_equal(known[1], iou)


def test_mask_overlaps_empty_and_mismatched():
    pairs, iou = mask_overlaps(np.zeros((5, 5), np.int32), np.zeros((5, 5), np.int32))
    assert pairs.shape == (0, 2) and iou.shape == (0,)
    with pytest.raises(ValueError, match="differ in size"):
        mask_overlaps(np.zeros((5, 5), np.int32), np.zeros((5, 6), np.int32))
    with pytest.raises(ValueError, match="integer label image"):
        mask_overlaps(np.zeros((5, 5)), np.zeros((5, 5)))


def test_merge_pairs_and_pair_values():
    merged = merge_pairs(_pairs((1, 0), (0, 2)), _pairs((0, 2), (0, 1)), num_prev=3)
    np.testing.assert_array_equal(merged, _pairs((0, 1), (0, 2), (1, 0)))
    values = pair_values(merged, _pairs((0, 2), (1, 0)), np.array([0.5, 0.7]), num_prev=3)
    np.testing.assert_allclose(values, [0.0, 0.5, 0.7])
    assert pair_values(merged, _pairs(), np.zeros(0), num_prev=3).tolist() == [0, 0, 0]


def test_runs_of_equal_keys():
    starts, sizes = runs(np.array([2, 2, 5, 7, 7, 7]))
    assert starts.tolist() == [0, 2, 3] and sizes.tolist() == [2, 1, 3]
    starts, sizes = runs(np.zeros(0, np.int64))
    assert starts.shape == sizes.shape == (0,)


def test_best_pair_per_cell_ties_go_to_first_pair():
    cells = np.array([0, 0, 0, 2, 2])
    values = np.array([0.3, 0.9, 0.9, 0.1, 0.0])
    np.testing.assert_array_equal(best_pair_per_cell(cells, values, 4), [1, -1, 3, -1])


# --- the paper's rule ---------------------------------------------------------------------------
# Cell 0 of t with candidates 0, 1, 2 of t-1 (pairs 0, 1, 2).
PAIRS = _pairs((0, 0), (0, 1), (0, 2))


def test_paper_claims_inherit_when_heads_agree():
    similarities = {"visual": np.array([0.2, 0.9, 0.1]), "spatial": np.array([0.3, 0.8, 0.2])}
    iou = np.array([0.9, 0.0, 0.0])  # agreement wins over overlap
    assert paper_claims(PAIRS, similarities, iou, 1).tolist() == [1]


def test_paper_claims_overlap_fallback_when_heads_disagree():
    similarities = {"visual": np.array([0.2, 0.9, 0.1]), "spatial": np.array([0.3, 0.2, 0.8])}
    assert paper_claims(PAIRS, similarities, np.array([0.05, 0.0, 0.4]), 1).tolist() == [2]
    # Best overlap below alpha: a new cell.
    assert paper_claims(PAIRS, similarities, np.array([0.05, 0.09, 0.0]), 1, alpha=0.1).tolist() == [-1]
    assert paper_claims(PAIRS, similarities, np.array([0.05, 0.09, 0.0]), 1, alpha=0.09).tolist() == [1]


def test_paper_claims_one_head_or_none():
    iou = np.array([0.5, 0.0, 0.0])
    assert paper_claims(PAIRS, {"visual": np.array([0.1, 0.2, 0.7])}, iou, 1).tolist() == [2]
    assert paper_claims(PAIRS, {}, iou, 1).tolist() == [0]
    assert paper_claims(PAIRS, {}, np.zeros(3), 1).tolist() == [-1]


def test_resolve_claims_inherit_division_and_three_claimants():
    # Cell 0 alone claims t-1 cell 0; cells 1, 2 claim 1 (division); cells 3, 4, 5 claim 2; cell 6 is new.
    claims = np.array([0, 1, 1, 2, 2, 2, -1])
    scores = np.array([1.0, 0.5, 0.6, 0.2, 0.9, 0.7, 0.0])
    links = resolve_claims(claims, scores, num_prev=3)
    assert links.matched.tolist() == [0, 1, 1, -1, 2, 2, -1]
    assert links.is_daughter.tolist() == [False, True, True, False, True, True, False]


def test_resolve_claims_ties_keep_lower_cell_index():
    links = resolve_claims(np.array([0, 0, 0]), np.array([0.5, 0.5, 0.5]), num_prev=1)
    assert links.matched.tolist() == [0, 0, -1]


def test_paper_rule_division_and_new_cell():
    # Two cells of t both best match t-1 cell 0; a third cell has no candidate at all.
    pairs = _pairs((0, 0), (0, 1), (1, 0), (1, 1))
    similarities = {"visual": np.array([0.9, 0.1, 0.8, 0.3]), "spatial": np.array([0.9, 0.2, 0.7, 0.1])}
    links = paper_rule(pairs, similarities, np.zeros(4), num_t=3, num_prev=2)
    assert links.matched.tolist() == [0, 0, -1]
    assert links.is_daughter.tolist() == [True, True, False]


def test_paper_rule_without_pairs():
    links = paper_rule(_pairs(), {}, np.zeros(0), num_t=2, num_prev=0)
    assert links.matched.tolist() == [-1, -1] and not links.is_daughter.any()


# --- the global rule ---------------------------------------------------------------------------
@pytest.mark.parametrize("dense_limit", [0, 10**6])  # the sparse graph, the dense table
def test_max_weight_matching_matches_linear_sum_assignment(monkeypatch, dense_limit):
    monkeypatch.setattr(linking, "DENSE_MATCHING_CELLS", dense_limit)
    rng = np.random.default_rng(0)
    for _ in range(20):
        num_t, num_prev = rng.integers(1, 9, size=2)
        dense = rng.random((num_t, num_prev)) * (rng.random((num_t, num_prev)) < 0.5)
        pairs = np.argwhere(dense > 0)
        matched = max_weight_matching(pairs, dense[dense > 0], num_t, num_prev)
        rows, cols = linear_sum_assignment(dense, maximize=True)
        got = dense[np.flatnonzero(matched >= 0), matched[matched >= 0]]
        assert got.sum() == pytest.approx(dense[rows, cols].sum())
        assert (got > 0).all()
        kept = matched[matched >= 0]
        assert len(np.unique(kept)) == len(kept)  # one-to-one


def test_max_weight_matching_leaves_cells_unmatched():
    matched = max_weight_matching(_pairs((0, 0), (1, 0)), np.array([0.4, 0.6]), num_t=3, num_prev=2)
    assert matched.tolist() == [-1, 0, -1]
    assert max_weight_matching(_pairs(), np.zeros(0), 2, 2).tolist() == [-1, -1]


def test_global_rule_one_to_one_where_paper_divides():
    # Both cells of t prefer t-1 cell 0, but cell 1 also resembles t-1 cell 1 well enough.
    pairs = _pairs((0, 0), (0, 1), (1, 0), (1, 1))
    similarities = {"visual": np.array([0.95, 0.1, 0.9, 0.7]), "spatial": np.array([0.95, 0.1, 0.9, 0.7])}
    iou = np.zeros(4)
    paper = paper_rule(pairs, similarities, iou, 2, 2)
    assert paper.matched.tolist() == [0, 0] and paper.is_daughter.all()
    best = global_rule(pairs, similarities, iou, 2, 2)
    assert best.matched.tolist() == [0, 1] and not best.is_daughter.any()


def test_global_rule_division_step():
    # Only one t-1 cell: the matching takes the better cell, the other becomes the second daughter.
    pairs = _pairs((0, 0), (1, 0), (2, 0))
    similarities = {"visual": np.array([0.9, 0.8, 0.55]), "spatial": np.array([0.9, 0.8, 0.55])}
    links = global_rule(pairs, similarities, np.zeros(3), 3, 1)
    assert links.matched.tolist() == [0, 0, -1]
    assert links.is_daughter.tolist() == [True, True, False]
    # A second daughter needs a weight of at least division_min_score.
    links = global_rule(pairs, similarities, np.zeros(3), 3, 1, division_min_score=0.85)
    assert links.matched.tolist() == [0, -1, -1] and not links.is_daughter.any()


def test_global_rule_thresholds_and_overlap_fallback():
    pairs = _pairs((0, 0), (1, 1))
    similarities = {"visual": np.array([0.3, 0.3]), "spatial": np.array([0.3, 0.3])}
    links = global_rule(pairs, similarities, np.array([0.0, 0.2]), 2, 2, alpha=0.1, min_similarity=0.5)
    assert links.matched.tolist() == [-1, 1]
    links = global_rule(pairs, similarities, np.array([0.0, 0.2]), 2, 2, min_similarity=0.3)
    assert links.matched.tolist() == [0, 1]


# --- helpers ------------------------------------------------------------------------------------
def test_labels_from_masks_earlier_mask_wins():
    masks = np.zeros((2, 3, 3), dtype=bool)
    masks[0, :2, :2] = True
    masks[1, 1:, 1:] = True
    np.testing.assert_array_equal(labels_from_masks(masks), [[1, 1, 0], [1, 1, 2], [0, 2, 2]])
    assert labels_from_masks(np.zeros((0, 3, 4), bool)).shape == (3, 4)


def test_centers_from_labels_is_x_y():
    labels = np.zeros((5, 7), dtype=np.int32)
    labels[1, 2:5] = 1  # y = 1, x = 3
    labels[4, 6] = 3
    centers = centers_from_labels(labels)
    np.testing.assert_allclose(centers[[0, 2]], [[3.0, 1.0], [6.0, 4.0]])
    assert np.isnan(centers[1]).all()


def test_distance_similarity():
    similarity = distance_similarity(scale=2.0)
    scores = similarity({"visual": np.array([[0.0], [4.0]])}, {"visual": np.array([[0.0]])}, _pairs((0, 0), (1, 0)))
    np.testing.assert_allclose(scores["visual"], [1.0, np.exp(-2.0)])


def test_paper_claims_alpha_zero_still_needs_overlap():
    similarities = {"visual": np.array([0.2, 0.9, 0.1]), "spatial": np.array([0.3, 0.2, 0.8])}
    assert paper_claims(PAIRS, similarities, np.zeros(3), 1, alpha=0.0).tolist() == [-1]
