"""The Tracker on hand-built movies: each linking rule, empty frames, divisions, gaps, and the lineage."""

import numpy as np
import pytest
import torch

from celltrack.tracking import Detections, Tracker, check_lineage, count_divisions
from celltrack.tracking.benchmark import synthetic_movie
from celltrack.tracking.similarity import distance_similarity
from celltrack.tracking.state import load_state, save_state

SHAPE = (80, 100)
SIMILARITY = distance_similarity(scale=1.0)  # same identity -> 1, identities 1 apart -> 0.37


def cell(x, y, visual, spatial=None, radius=5):
    """One disc-shaped cell; ``visual`` / ``spatial`` are 1-D embeddings (the cell's "identity")."""
    return (x, y, radius, visual, visual if spatial is None else spatial)


def frame(*cells):
    """Detections of hand-placed cells, in the order given."""
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    labels = np.zeros(SHAPE, dtype=np.int32)
    for label, (x, y, radius, _, _) in enumerate(cells, start=1):
        labels[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] = label
    centers = np.array([[c[0], c[1]] for c in cells], dtype=float).reshape(-1, 2)
    embeddings = {
        "visual": np.array([[c[3]] for c in cells], dtype=float).reshape(-1, 1),
        "spatial": np.array([[c[4]] for c in cells], dtype=float).reshape(-1, 1),
    }
    return Detections(centers, labels, embeddings)


def track(movie, **options):
    """Run a tracker over a list of Detections: ([track_ids per frame], [parent_ids per frame], lineage)."""
    options.setdefault("method", "paper")  # the tests below were written for the paper's rule
    tracker = Tracker(similarity=options.pop("similarity", SIMILARITY), **options)
    results = [tracker.update(t, detections) for t, detections in enumerate(movie)]
    rows = tracker.lineage()
    check_lineage(rows)
    return [r[0].tolist() for r in results], [r[1].tolist() for r in results], rows.tolist()


# --- the paper's rule --------------------------------------------------------------------------
def test_first_frame_gets_new_ids():
    ids, parents, rows = track([frame(cell(20, 20, 0), cell(50, 20, 1), cell(80, 20, 2))])
    assert ids == [[1, 2, 3]] and parents == [[0, 0, 0]]
    assert rows == [[1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0]]


def test_inherit_follows_the_cell_not_the_detector_order():
    movie = [
        frame(cell(20, 20, 0), cell(50, 20, 1), cell(80, 20, 2)),
        frame(cell(82, 22, 2), cell(21, 20, 0), cell(49, 23, 1)),
    ]
    ids, parents, rows = track(movie)
    assert ids[1] == [3, 1, 2] and parents[1] == [0, 0, 0]
    assert [r[2] for r in rows] == [1, 1, 1]  # every track lasts until frame 1


def test_inherit_by_embeddings_without_overlap():
    # Both cells jump farther than their size; the heads agree on who is who.
    movie = [frame(cell(20, 20, 0), cell(50, 20, 1)), frame(cell(50, 40, 0), cell(20, 40, 1))]
    ids, _, _ = track(movie)
    assert ids[1] == [1, 2]


def test_overlap_fallback_when_heads_disagree():
    # The visual head points to cell A, the spatial head to cell B: the larger overlap (A) decides.
    movie = [frame(cell(20, 20, 0), cell(50, 20, 5)), frame(cell(22, 20, visual=0, spatial=5))]
    ids, _, _ = track(movie)
    assert ids[1] == [1]


def test_new_cell_when_heads_disagree_and_overlap_is_below_alpha():
    movie = [frame(cell(20, 20, 0), cell(50, 20, 5)), frame(cell(35, 50, visual=0, spatial=5))]
    ids, parents, rows = track(movie)
    assert ids[1] == [3] and parents[1] == [0]
    assert rows[:2] == [[1, 0, 0, 0], [2, 0, 0, 0]]  # both tracks end: nothing took them


def test_division_two_claimants():
    movie = [
        frame(cell(30, 30, 0), cell(70, 30, 5)),
        frame(cell(70, 31, 5), cell(25, 30, 0.1, radius=4), cell(35, 30, 0.2, radius=4)),
        frame(cell(24, 30, 0.1, radius=4), cell(36, 31, 0.2, radius=4), cell(70, 32, 5)),
    ]
    ids, parents, rows = track(movie)
    assert ids[1] == [2, 3, 4] and parents[1] == [0, 1, 1]
    assert ids[2] == [3, 4, 2] and parents[2] == [1, 1, 0]
    assert rows == [[1, 0, 0, 0], [2, 0, 2, 0], [3, 1, 2, 1], [4, 1, 2, 1]]  # the mother ends at t-1
    assert count_divisions(rows) == 1


def test_three_claimants_keep_the_two_best_as_daughters():
    movie = [
        frame(cell(40, 40, 0)),
        frame(cell(32, 40, 0.0, radius=4), cell(48, 40, 0.1, radius=4), cell(40, 52, 0.6, radius=4)),
    ]
    ids, parents, rows = track(movie)
    assert ids[1] == [2, 3, 4] and parents[1] == [1, 1, 0]  # the weakest claimant starts a new track
    assert count_divisions(rows) == 1


def test_track_ends_when_nothing_matches():
    movie = [frame(cell(20, 20, 0), cell(60, 20, 1)), frame(cell(20, 21, 0)), frame(cell(20, 22, 0))]
    _, _, rows = track(movie)
    assert rows == [[1, 0, 2, 0], [2, 0, 0, 0]]


def test_one_cell_over_many_frames():
    movie = [frame(cell(20 + t, 20, 0)) for t in range(5)]
    ids, parents, rows = track(movie)
    assert ids == [[1]] * 5 and parents == [[0]] * 5 and rows == [[1, 0, 4, 0]]


def test_empty_frames():
    empty = Detections(np.zeros((0, 2)))
    movie = [empty, frame(cell(20, 20, 0), cell(50, 20, 1)), frame(), frame(cell(20, 20, 0)), empty]
    ids, parents, rows = track(movie)
    assert ids == [[], [1, 2], [], [3], []]
    assert rows == [[1, 1, 1, 0], [2, 1, 1, 0], [3, 3, 3, 0]]


def test_all_cells_vanish_and_new_ones_appear():
    before = frame(cell(10, 10, 0), cell(30, 10, 1), cell(50, 10, 2))
    after = frame(cell(20, 70, 10), cell(60, 70, 11))
    # The paper's rule has no similarity threshold: bound the candidates by distance...
    ids, parents, _ = track([before, after], max_distance=20)
    assert ids[1] == [4, 5] and parents[1] == [0, 0]
    # ...or use the global rule, which needs a fused similarity of min_similarity.
    ids, parents, _ = track([before, after], method="global")
    assert ids[1] == [4, 5] and parents[1] == [0, 0]
    # Without either, both far cells claim what both heads rank first, however dissimilar: a division
    # (the paper's rule as written).
    ids, parents, _ = track([before, after])
    assert ids[1] == [4, 5] and parents[1] == [3, 3]


def test_overlap_only_without_similarity():
    movie = [frame(cell(20, 20, 0), cell(50, 20, 1)), frame(cell(51, 21, 7), cell(21, 19, 9))]
    ids, _, _ = track(movie, similarity=None)
    assert ids[1] == [2, 1]


# --- beyond the paper -------------------------------------------------------------------------
def test_global_and_paper_differ_on_a_crowded_claim():
    # Both new cells look most like A (identity 0). The paper's rule calls a division; the global rule
    # gives A to the better match and B (identity 1) to the other, whose similarity to B is >= 0.5.
    movie = [frame(cell(20, 20, 0), cell(70, 20, 1)), frame(cell(20, 60, 0), cell(70, 60, 0.35))]
    ids, parents, rows = track(movie, method="paper")
    assert ids[1] == [3, 4] and parents[1] == [1, 1] and count_divisions(rows) == 1
    ids, parents, rows = track(movie, method="global")
    assert ids[1] == [1, 2] and parents[1] == [0, 0] and count_divisions(rows) == 0


def test_global_division():
    movie = [frame(cell(40, 40, 0)), frame(cell(34, 40, 0.1, radius=4), cell(46, 40, 0.2, radius=4))]
    ids, parents, rows = track(movie, method="global")
    assert ids[1] == [2, 3] and parents[1] == [1, 1] and count_divisions(rows) == 1


MISSING_ONE_FRAME = [
    frame(cell(20, 20, 0), cell(60, 20, 3)),
    frame(cell(60, 21, 3)),
    frame(cell(60, 22, 3), cell(21, 20, 0)),
]
# Without a distance bound the paper's rule would let the returning cell claim the only t-1 cell (a
# false division), since agreement of the heads needs no minimum similarity.
NEAR = 25.0


def test_paper_rule_without_distance_bound_divides_onto_the_only_candidate():
    ids, parents, _ = track(MISSING_ONE_FRAME)
    assert ids[2] == [3, 4] and parents[2] == [2, 2]


def test_without_gap_closing_a_returning_cell_is_new():
    ids, parents, rows = track(MISSING_ONE_FRAME, max_gap=0, max_distance=NEAR)
    assert ids[2] == [2, 3] and parents[2] == [0, 0]


@pytest.mark.parametrize("method", ["paper", "global"])
def test_gap_closing_resumes_a_lost_track(method):
    ids, parents, rows = track(MISSING_ONE_FRAME, max_gap=1, method=method, max_distance=NEAR)
    # CTC forbids gaps inside a track: the resumed cell gets a new id whose parent is the lost track.
    assert ids[2] == [2, 3] and parents[2] == [0, 1]
    assert rows == [[1, 0, 0, 0], [2, 0, 2, 0], [3, 2, 2, 1]]
    assert count_divisions(rows) == 0


def test_gap_closing_respects_max_gap_and_similarity():
    missing_two = [MISSING_ONE_FRAME[0], MISSING_ONE_FRAME[1], frame(cell(60, 22, 3))] + [MISSING_ONE_FRAME[2]]
    _, parents, _ = track(missing_two, max_gap=1, max_distance=NEAR)
    assert parents[3] == [0, 0]
    _, parents, _ = track(missing_two, max_gap=2, max_distance=NEAR)
    assert parents[3] == [0, 1]
    # A different-looking cell near the lost one, not overlapping it, does not resume it.
    stranger = MISSING_ONE_FRAME[:2] + [frame(cell(60, 22, 3), cell(30, 30, 4))]
    _, parents, _ = track(stranger, max_gap=1, max_distance=NEAR)
    assert parents[2] == [0, 0]


def test_divided_mother_is_not_resumed():
    tracker = Tracker(similarity=SIMILARITY, method="paper", max_gap=2)
    tracker.update(0, frame(cell(40, 40, 0)))
    tracker.update(1, frame(cell(34, 40, 0.1, radius=4), cell(46, 40, 0.2, radius=4)))
    tracker.update(2, frame())
    lost = tracker.state_dict()["lost"]["track_ids"].tolist()
    assert 1 not in lost and sorted(lost) == [2, 3]


def test_state_dict_resumes_exactly(tmp_path):
    movie = list(synthetic_movie(40, 8, seed=3))
    reference = Tracker(similarity=SIMILARITY, method="paper", max_gap=2)
    expected = [reference.update(t, d)[0].tolist() for t, d in enumerate(movie)]
    first = Tracker(similarity=SIMILARITY, method="paper", max_gap=2)
    for t, d in enumerate(movie[:4]):
        first.update(t, d)
    resumed = Tracker(similarity=SIMILARITY, method="paper", max_gap=2)
    save_state(tmp_path / "state.json", first.state_dict(), step=4)  # JSON + .npz, as track_video saves it
    resumed.load_state_dict(load_state(tmp_path / "state.json"))
    got = [resumed.update(t, d)[0].tolist() for t, d in enumerate(movie) if t >= 4]
    assert got == expected[4:]
    np.testing.assert_array_equal(resumed.lineage(), reference.lineage())


@pytest.mark.parametrize("method", ["paper", "global"])
@pytest.mark.parametrize("max_gap", [0, 2])
def test_synthetic_movie_gives_a_consistent_lineage(method, max_gap):
    tracker = Tracker(similarity=distance_similarity(2.0), method=method, max_gap=max_gap)
    seen = {}
    for t, detections in enumerate(synthetic_movie(60, 12, vanish_rate=0.03, division_rate=0.03, seed=1)):
        track_ids, parent_ids = tracker.update(t, detections)
        assert len(np.unique(track_ids)) == len(track_ids)  # one cell per track and frame
        for track_id, parent_id in zip(track_ids.tolist(), parent_ids.tolist()):
            seen.setdefault(track_id, []).append((t, parent_id))
    rows = tracker.lineage()
    check_lineage(rows)
    for track_id, first, last, parent in rows.tolist():
        frames = [t for t, _ in seen[track_id]]
        assert frames == list(range(first, last + 1))  # no gap inside a track
        assert {p for _, p in seen[track_id]} == {parent}


# --- wiring -----------------------------------------------------------------------------------
def test_works_with_the_siamese_track_head():
    from celltrack.modeling.track_head import SiameseTrackHead

    torch.manual_seed(0)
    head = SiameseTrackHead(roi_feature_dim=12, position_dim=8, fc_dim=16).eval()
    tracker = Tracker(similarity=head.similarity)
    features, positions = torch.randn(3, 12), torch.randn(3, 8)
    with torch.no_grad():
        for t in range(3):
            detections = frame(cell(20, 20, 0), cell(50, 20, 1), cell(80, 20, 2))
            detections = Detections(detections.centers, detections.labels, head.embed(features, positions))
            track_ids, parent_ids = tracker.update(t, detections)
    assert track_ids.shape == (3,) and parent_ids.shape == (3,)
    check_lineage(tracker.lineage())


def test_from_config():
    from detectron2.config import get_cfg

    from celltrack.config import add_celltrack_config

    cfg = get_cfg()
    add_celltrack_config(cfg)
    cfg.CELLTRACK.TRACKER.METHOD = "global"
    cfg.CELLTRACK.TRACKER.MAX_GAP = 2
    tracker = Tracker(cfg, similarity=SIMILARITY)
    assert (tracker.method, tracker.max_gap, tracker.alpha, tracker.similarity) == ("global", 2, 0.1, SIMILARITY)
    assert tracker.max_distance == np.inf


def test_errors_are_loud():
    tracker = Tracker(similarity=SIMILARITY)
    tracker.update(3, frame(cell(20, 20, 0)))
    with pytest.raises(ValueError, match="consecutive"):
        tracker.update(5, frame(cell(20, 20, 0)))
    with pytest.raises(ValueError, match="method"):
        Tracker(method="greedy")
    bad = Tracker(similarity=lambda a, b, pairs: {"visual": np.full(len(pairs), 2.0), "spatial": np.ones(len(pairs))})
    bad.update(0, frame(cell(20, 20, 0)))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        bad.update(1, frame(cell(20, 20, 0)))
    with pytest.raises(ValueError, match="labels must lie"):
        Detections(np.zeros((1, 2)), np.full((4, 4), 2, dtype=np.int32))
    with pytest.raises(ValueError, match="rows for"):
        Detections(np.zeros((2, 2)), None, {"visual": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="NaN"):
        Detections(np.full((1, 2), np.nan))


def test_detections_from_labels_and_masks():
    labels = np.zeros((10, 10), dtype=np.uint16)
    labels[1:3, 1:3] = 7
    labels[6:9, 5:8] = 3
    detections = Detections.from_labels(labels)
    assert detections.num_cells == 2
    np.testing.assert_allclose(detections.centers, [[6.0, 7.0], [1.5, 1.5]])  # ordered by label: 3, then 7
    assert set(np.unique(detections.labels)) == {0, 1, 2}
    masks = np.stack([labels == 3, labels == 7])
    from_masks = Detections.from_masks(masks)
    np.testing.assert_array_equal(from_masks.labels, detections.labels)
    np.testing.assert_allclose(from_masks.centers, detections.centers)


# --- on the project's synthetic CTC movie ------------------------------------------------------
def _ground_truth_links(frames, parent_of):
    """{(frame, label in t-1, label in t)} for continuations and divisions of the ground truth."""
    links = set()
    for t in range(1, len(frames)):
        before, now = set(np.unique(frames[t - 1])) - {0}, set(np.unique(frames[t])) - {0}
        for label in now:
            source = label if label in before else parent_of.get(label, 0)
            if source in before:
                links.add((t, int(source), int(label)))
    return links


@pytest.mark.parametrize("method", ["paper", "global"])
def test_links_the_synthetic_ctc_movie(ctc_root, method):
    import tifffile

    from celltrack.data.ctc import read_lineage

    lineage = read_lineage(ctc_root / "01_GT" / "TRA" / "man_track.txt")
    parent_of = {int(label): int(parent) for label, _, _, parent in lineage}
    frames = [tifffile.imread(path) for path in sorted((ctc_root / "01_GT" / "SEG").glob("man_seg*.tif"))]
    # Stand-in for the track head: a random vector per ground-truth track, a daughter's near its mother's.
    rng = np.random.default_rng(0)
    identity = {0: np.zeros(8)}
    for label, _, _, parent in lineage.tolist():
        identity[label] = identity[parent] + rng.normal(0, 0.3 if parent else 1.0, 8)
    tracker = Tracker(similarity=distance_similarity(2.0), method=method)
    found, label_of_track = set(), {}
    for t, labels in enumerate(frames):
        present = np.flatnonzero(np.bincount(labels.ravel())[1:]) + 1
        vectors = np.array([identity[label] + rng.normal(0, 0.1, 8) for label in present]).reshape(-1, 8)
        detections = Detections.from_labels(labels, {"visual": vectors, "spatial": vectors})
        track_ids, parent_ids = tracker.update(t, detections)
        for label, track_id, parent_id in zip(present.tolist(), track_ids.tolist(), parent_ids.tolist()):
            source = label_of_track.get((t - 1, track_id)) or label_of_track.get((t - 1, parent_id))
            if source:
                found.add((t, source, label))
            label_of_track[(t, track_id)] = label
    check_lineage(tracker.lineage())
    expected = _ground_truth_links(frames, parent_of)
    correct = len(found & expected)
    assert correct >= 0.95 * len(expected) and correct >= 0.95 * len(found)
