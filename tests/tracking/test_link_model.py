"""The learned linker: features, logistic fit, and the rule that turns probabilities into links."""
import numpy as np
import pytest

from celltrack.config import get_celltrack_cfg
from celltrack.tracking.link_model import (
    DIVISION_FEATURES, LINK_FEATURES, LinkModel, candidate_margins, fit_link_weights, fit_logistic, learned_rule,
    lone_agreement)
from celltrack.tracking.tracker import Detections, Tracker


def test_fit_logistic_finds_the_deciding_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (2.0 * x[:, 1] - 1.0 + 0.3 * rng.normal(size=2000) > 0).astype(float)
    w = fit_logistic(x, y)
    assert w[1] > 3 * max(abs(w[0]), abs(w[2])) and w[1] > 2  # feature 1 decides, with its sign
    assert w[3] < 0  # the bias carries the offset


def test_rule_links_one_to_one_and_refuses_unlikely_links():
    pairs = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 1]])
    probability = np.array([0.9, 0.6, 0.7, 0.8, 0.3])
    links = learned_rule(pairs, probability, 3, 2, np.zeros((0, 3), np.int64), np.zeros(0))
    assert links.matched.tolist() == [0, 1, -1] and not links.is_daughter.any()


def test_rule_calls_a_likely_division_and_keeps_the_mother_when_a_fragment_appears():
    pairs = np.array([[0, 0], [1, 0], [2, 1]])
    probability = np.array([0.9, 0.2, 0.95])
    divisions = np.array([[0, 0, 1]])
    unlikely = learned_rule(pairs, probability, 3, 2, divisions, np.array([0.1]))
    assert unlikely.matched.tolist() == [0, -1, 1] and not unlikely.is_daughter.any()  # mother goes on
    likely = learned_rule(pairs, probability, 3, 2, divisions, np.array([0.8]))
    assert likely.matched.tolist() == [0, 0, 1] and likely.is_daughter.tolist() == [True, True, False]


def test_rule_never_divides_a_mother_that_continues_into_a_third_cell():
    pairs = np.array([[0, 0], [1, 0], [2, 0]])
    probability = np.array([0.95, 0.1, 0.1])
    links = learned_rule(pairs, probability, 3, 1, np.array([[0, 1, 2]]), np.array([0.9]))
    assert links.matched.tolist() == [0, -1, -1] and not links.is_daughter.any()


def test_rescue_links_only_cells_both_steps_leave_open():
    # Cell 0 continues t-1 cell 0; cell 1's only candidates are t-1 cell 0 (taken) and t-1 cell 1 (open, weak);
    # cell 2 is a daughter of t-1 cell 2, and its weak pair to t-1 cell 3 must not undo that.
    pairs = np.array([[0, 0], [1, 0], [1, 1], [2, 2], [2, 3], [3, 2]])
    probability = np.array([0.9, 0.3, 0.08, 0.4, 0.3, 0.9])
    divisions, division_probability = np.array([[2, 2, 3]]), np.array([0.9])
    off = learned_rule(pairs, probability, 4, 4, divisions, division_probability)
    assert off.matched.tolist() == [0, -1, 2, 2]
    rescued = learned_rule(pairs, probability, 4, 4, divisions, division_probability, rescue_threshold=0.05)
    assert rescued.matched.tolist() == [0, 1, 2, 2] and rescued.is_daughter.tolist() == [False, False, True, True]
    assert learned_rule(pairs, probability, 4, 4, divisions, division_probability,
                        rescue_threshold=0.1).matched.tolist() == [0, -1, 2, 2]  # below the threshold


def test_rescue_links_one_to_one_by_log_odds():
    # Two open cells and two open t-1 cells: the rescue takes the assignment with the most total log-odds
    # above the threshold's (0 -> 0 and 1 -> 1, not 0 -> 1 alone), never two cells to one t-1 cell.
    pairs = np.array([[0, 0], [0, 1], [1, 1]])
    probability = np.array([0.3, 0.4, 0.3])
    rescued = learned_rule(pairs, probability, 2, 2, np.zeros((0, 3), np.int64), np.zeros(0), rescue_threshold=0.04)
    assert rescued.matched.tolist() == [0, 1] and not rescued.is_daughter.any()


def _model():
    link = np.zeros(len(LINK_FEATURES) + 1)
    link[LINK_FEATURES.index("distance")], link[-1] = -4.0, 2.0  # likely within half the scale
    division = np.zeros(len(DIVISION_FEATURES) + 1)
    division[DIVISION_FEATURES.index("area_sum")], division[-1] = -6.0, 4.0  # daughters' areas add up to < 2/3
    return LinkModel(tuple(link), tuple(division), displacement_scale=10.0)


def _frame(centers, radius, size=96):
    yy, xx = np.mgrid[:size, :size]
    labels = np.zeros((size, size), np.int32)
    for i, ((x, y), r) in enumerate(zip(centers, radius)):
        labels[(yy - y) ** 2 + (xx - x) ** 2 <= r**2] = i + 1
    return Detections.from_labels(labels)


def test_tracker_learned_rule_divides_by_the_fitted_evidence():
    tracker = Tracker(method="learned", link_model=_model())
    tracker.update(0, _frame([(30, 30), (70, 70)], [10, 10]))
    track_ids, parent_ids = tracker.update(1, _frame([(27, 30), (33, 30), (71, 70)], [5, 5, 10]))
    assert parent_ids[0] == parent_ids[1] != 0 and track_ids[0] != track_ids[1]  # a division
    assert parent_ids[2] == 0 and track_ids[2] == 2  # the other cell goes on
    tracker = Tracker(method="learned", link_model=_model())
    tracker.update(0, _frame([(30, 30)], [10]))
    track_ids, parent_ids = tracker.update(1, _frame([(30, 30), (45, 30)], [10, 4]))
    assert track_ids[0] == 1 and parent_ids.tolist() == [0, 0]  # a fragment beside it: no division


def test_tracker_refuses_a_division_that_is_the_mother_going_on_beside_a_newcomer():
    def run(**options):
        tracker = Tracker(method="learned", link_model=_model(), **options)
        tracker.update(0, _frame([(30, 30)], [10]))
        return tracker.update(1, _frame([(27, 30), (33, 30)], [5, 5]))[1]  # daughters' areas: ~0.5 of the mother's

    assert (run() == 1).all() and (run(division_max_area_sum=0.6) == 1).all()
    assert (run(division_max_area_sum=0.4) == 0).all()  # no division: the bound says they are too large
    # ... unless the bound needs a daughter that plainly is the mother (here each overlaps her by IoU ~0.25)
    assert (run(division_max_area_sum=0.4, division_mother_iou=0.5) == 1).all()
    assert (run(division_max_area_sum=0.4, division_mother_iou=0.1) == 0).all()
    cfg = get_celltrack_cfg(None, ["CELLTRACK.TRACKER.DIVISION_MAX_AREA_SUM", 1.5])
    assert Tracker(cfg, link_model=_model()).division_max_area_sum == 1.5
    cfg = get_celltrack_cfg(None, ["CELLTRACK.TRACKER.DIVISION_MAX_AREA_SUM", 0.0])
    assert Tracker(cfg, link_model=_model()).division_max_area_sum == np.inf  # 0: no bound
    with pytest.raises(ValueError, match="division_max_area_sum"):
        Tracker(method="learned", link_model=_model(), division_max_area_sum=0)


def test_tracker_rescues_a_cell_that_moved_farther_than_usual():
    def run(**options):
        tracker = Tracker(method="learned", link_model=_model(), **options)
        tracker.update(0, _frame([(30, 30), (70, 70)], [8, 8]))
        return tracker.update(1, _frame([(38, 30), (70, 70)], [8, 8]))[0]  # 8 px: p = 0.23

    assert run().tolist() == [3, 2]  # the moved cell starts a new track
    assert run(rescue_threshold=0.1).tolist() == [1, 2]
    cfg = get_celltrack_cfg(None, ["CELLTRACK.TRACKER.RESCUE_THRESHOLD", 0.1])
    assert Tracker(cfg, link_model=_model()).rescue_threshold == 0.1


def test_learned_rule_needs_fitted_weights():
    cfg = get_celltrack_cfg()
    cfg.CELLTRACK.TRACKER.METHOD = "learned"
    with pytest.raises(ValueError, match="train_linker"):
        Tracker(cfg)
    cfg.CELLTRACK.TRACKER.LINK_WEIGHTS = [0.0, 1.0]
    with pytest.raises(ValueError, match="fitted for other features"):  # e.g. a config of an older version
        Tracker(cfg)
    cfg.CELLTRACK.TRACKER.LINK_FEATURES = list(LINK_FEATURES)
    cfg.CELLTRACK.TRACKER.DIVISION_FEATURES = list(DIVISION_FEATURES)
    with pytest.raises(ValueError, match=f"LINK_WEIGHTS: expected {len(LINK_FEATURES) + 1} numbers"):
        Tracker(cfg)


def test_fitted_model_round_trips_through_the_config():
    cfg = get_celltrack_cfg()
    _model().write_to(cfg.CELLTRACK.TRACKER)
    cfg.CELLTRACK.TRACKER.METHOD = "learned"
    assert LinkModel.from_config(cfg) == _model()
    Tracker(cfg)


def test_margins_rank_a_cell_s_candidates_whatever_the_head_s_overall_level():
    pairs = np.array([[0, 0], [0, 1], [0, 2], [1, 1], [2, 0], [2, 2]])
    decisive = np.array([9.0, -9.0, -7.0, 5.0, 8.0, 8.0])
    margins = candidate_margins(pairs, decisive)
    # cell 0: its best leads the runner-up by 16, the others trail the best; a lone candidate (cell 1) has
    # nothing to be ranked against (0); a tie (cell 2) gives 0.
    assert margins.tolist() == [16.0, -18.0, -16.0, 0.0, 0.0, 0.0]
    saturated = np.array([9.2, 9.1, 9.2, 9.2, 9.2, 9.2])  # a head that calls every pair "same"
    assert np.abs(candidate_margins(pairs, saturated)[[0, 1, 2, 4, 5]]).max() <= 0.1 + 1e-9
    # a head that calls every pair "different" (a movie unlike its training data) still ranks: the best
    # candidate keeps positive evidence instead of being pushed below "a new cell"
    doubtful = np.array([-3.0, -6.0, -8.0, -4.0, -5.0, -7.0])
    assert candidate_margins(pairs, doubtful).tolist() == [3.0, -3.0, -5.0, 0.0, 2.0, -2.0]


def test_lone_agreement_is_the_weaker_head_s_belief_in_a_lone_candidate():
    pairs = np.array([[0, 0], [0, 1], [1, 1], [2, 0], [3, 2]])
    visual = np.array([9.0, 9.0, 6.0, 4.0, 5.0])
    spatial = np.array([9.0, 9.0, 2.0, -3.0, 7.0])
    # cells 0 (two candidates) gets nothing; cell 1: the weaker head (2); cell 2: a head doubts it -> 0 (no
    # penalty); cell 3: 5.
    assert lone_agreement(pairs, [visual, spatial]).tolist() == [0.0, 0.0, 2.0, 0.0, 5.0]
    assert lone_agreement(pairs, [visual]).tolist() == [0.0, 0.0, 6.0, 4.0, 5.0]  # one head on
    assert lone_agreement(pairs, []).tolist() == [0.0] * 5  # no head: no evidence


def test_two_step_fit_holds_the_first_weights_and_lifts_only_agreeing_lone_candidates():
    rng = np.random.default_rng(1)
    n = 3000
    features = np.zeros((n, len(LINK_FEATURES)))
    distance, agreement = LINK_FEATURES.index("distance"), LINK_FEATURES.index("lone_agreement")
    features[:, distance] = rng.uniform(0, 10, n)
    same = features[:, distance] < 4 + rng.normal(0, 0.5, n)
    # Far true pairs the heads agree on (lone, moved far): only the second step can explain them.
    far_true = rng.random(n) < 0.05
    same |= far_true
    features[far_true, agreement] = 6.0
    weights = fit_link_weights(features, same.astype(float), 1e-4)
    first = np.delete(np.arange(len(LINK_FEATURES)), agreement)
    alone = fit_logistic(features[:, first], same.astype(float), 1e-4)
    np.testing.assert_allclose(weights[first], alone[:-1])  # the first step is the fit without the feature
    assert weights[-1] == alone[-1] and weights[agreement] > 0.5
    model = LinkModel(tuple(weights), (0.0,) * (len(DIVISION_FEATURES) + 1), displacement_scale=1.0)
    far = np.zeros((2, len(LINK_FEATURES)))
    far[:, distance], far[1, agreement] = 8.0, 6.0
    low, lifted = model.link_probability(far)
    assert low < 0.2 < 0.8 < lifted


def test_learned_gap_closing_resumes_by_the_link_model():
    def run(x):  # the cell is missed in frame 1 and comes back at x in frame 2
        tracker = Tracker(method="learned", link_model=_model(), max_gap=1)
        tracker.update(0, _frame([(30, 30), (70, 70)], [8, 8]))
        tracker.update(1, _frame([(70, 70)], [8]))
        return tracker.update(2, _frame([(x, 30), (70, 70)], [8, 8]))[1]

    assert run(33).tolist() == [1, 0]  # 3 px: p = 0.69, resumed (a parent link with one child)
    assert run(40).tolist() == [0, 0]  # 10 px: p = 0.12, below the link threshold: a new track
