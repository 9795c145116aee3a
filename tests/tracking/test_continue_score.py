"""Cells scored below ``min_score`` (``CELLTRACK.TRACKER.CONTINUE_SCORE`` up to ``MIN_SCORE``) may only continue a
track: a dim nucleus scored low for a few frames stays one track, a low-scored flicker starts nothing and is not
written, and a low-scored cell never takes a track from a cell above the score nor becomes a daughter."""

import numpy as np
import pytest

from celltrack.config import get_celltrack_cfg
from celltrack.tracking import Detections, Tracker, check_lineage, track_frames
from celltrack.tracking.frame_loop import precomputed
from celltrack.tracking.state import load_state, save_state

from test_min_track_length import Pixels
from test_tracker import SHAPE, SIMILARITY, cell, frame

A, B, FLICKER = cell(20, 40, 0), cell(70, 40, 5), cell(45, 15, 9)
MOTHER, LEFT, RIGHT = cell(50, 40, 3, radius=7), cell(44, 40, 3), cell(56, 40, 3)


def scored(detections: Detections, *scores) -> Detections:
    return Detections(detections.centers, detections.labels, detections.embeddings, np.array(scores, dtype=float))


def run(movie, **options):
    """(frames as written: {frame: [track ids]}, lineage rows) of the frame loop over ``movie``."""
    recorder = Pixels()
    tracker = Tracker(similarity=SIMILARITY, method="global", **options)
    lineage = track_frames(((None, d) for d in movie), precomputed, tracker, [recorder], image_size=SHAPE)
    check_lineage(lineage)
    return {t: ids for t, (ids, _) in recorder.frames.items()}, lineage.tolist(), recorder


# A is scored high in frames 0-1 and 5, low in frames 2-4; B is high throughout; the flicker is low whenever seen.
DIM = [scored(frame(A, B), 0.9, 0.9), scored(frame(A, B), 0.9, 0.9), scored(frame(A, B, FLICKER), 0.3, 0.9, 0.3),
       scored(frame(A, B, FLICKER), 0.3, 0.9, 0.3), scored(frame(A, B), 0.3, 0.9), scored(frame(A, B), 0.9, 0.9)]


def test_a_dim_cell_stays_one_track_and_a_low_flicker_starts_nothing():
    written, lineage, recorder = run(DIM, min_score=0.5)
    assert lineage == [[1, 0, 5, 0], [2, 0, 5, 0]]
    assert all(written[t] == [1, 2] for t in range(6))  # the flicker is never written
    assert recorder.labels[2] == [1, 2]  # its pixels are background
    # Without scores every cell counts: the flicker is a track of its own.
    plain = [Detections(d.centers, d.labels, d.embeddings) for d in DIM]
    assert run(plain, min_score=0.5)[1] == [[1, 0, 5, 0], [2, 0, 5, 0], [3, 2, 3, 0]]
    # Dropping the low cells instead (what MIN_SCORE alone did) breaks A's track.
    dropped = [d.select(d.scores >= 0.5) for d in DIM]
    assert run(dropped, min_score=0.5)[1] == [[1, 0, 1, 0], [2, 0, 5, 0], [3, 5, 5, 0]]


def test_a_low_cell_continues_only_a_track_nothing_else_continued():
    # A high and a low detection of the same cell in frame 1 (a duplicate): the high one continues the track.
    movie = [scored(frame(A), 0.9), scored(frame(cell(21, 40, 0), cell(19, 41, 0)), 0.9, 0.3), scored(frame(A), 0.9)]
    written, lineage, _ = run(movie, min_score=0.5)
    assert lineage == [[1, 0, 2, 0]] and written[1] == [1]


def test_a_low_cell_is_never_a_daughter():
    movie = [scored(frame(MOTHER), 0.9), scored(frame(LEFT, RIGHT), 0.9, 0.3)]
    written, lineage, _ = run(movie, min_score=0.5, alpha=0.05, division_min_score=0.1)
    assert lineage == [[1, 0, 1, 0]] and written[1] == [1]  # the mother goes on; the low right cell is dropped
    both_high = [scored(frame(MOTHER), 0.9), scored(frame(LEFT, RIGHT), 0.9, 0.9)]
    assert [row[3] for row in run(both_high, min_score=0.5, alpha=0.05, division_min_score=0.1)[1]] == [0, 1, 1]


def test_low_cells_do_not_chain_into_a_track():
    movie = [scored(frame(A, FLICKER), 0.9, 0.3)] * 4
    written, lineage, _ = run(movie, min_score=0.5)
    assert lineage == [[1, 0, 3, 0]] and all(ids == [1] for ids in written.values())


def test_gap_closing_and_track_filter_with_low_cells():
    # A lost in frame 2, low in frame 3, high again in 4: the low cell continues nothing (A was not in frame 2),
    # and the gap closes from frame 4 to frame 1 as without it.
    movie = [scored(frame(A, B), 0.9, 0.9), scored(frame(A, B), 0.9, 0.9), scored(frame(B), 0.9),
             scored(frame(A, B), 0.3, 0.9), scored(frame(A, B), 0.9, 0.9)]
    without = [scored(frame(A, B), 0.9, 0.9), scored(frame(A, B), 0.9, 0.9), scored(frame(B), 0.9), scored(frame(B), 0.9),
               scored(frame(A, B), 0.9, 0.9)]
    options = dict(min_score=0.5, max_gap=2, min_track_length=2)
    assert run(movie, **options)[1] == run(without, **options)[1] == [[1, 0, 1, 0], [2, 0, 4, 0], [3, 4, 4, 1]]


def test_state_dict_resumes_exactly(tmp_path):
    whole = Tracker(similarity=SIMILARITY, method="global", min_score=0.5)
    expected = [whole.update(t, d)[0].tolist() for t, d in enumerate(DIM)]
    first = Tracker(similarity=SIMILARITY, method="global", min_score=0.5)
    ids = [first.update(t, d)[0].tolist() for t, d in enumerate(DIM[:3])]
    save_state(tmp_path / "state.json", first.state_dict(), step=2)
    second = Tracker(similarity=SIMILARITY, method="global", min_score=0.5)
    second.load_state_dict(load_state(tmp_path / "state.json"))
    ids += [second.update(t, d)[0].tolist() for t, d in enumerate(DIM[3:], start=3)]
    assert ids == expected and second.lineage().tolist() == whole.lineage().tolist()
    assert expected[2] == [1, 2, 0]  # the unconfirmed flicker: track id 0


def test_scores_travel_with_the_cells():
    detections = scored(frame(A, B, FLICKER), 0.9, 0.2, 0.7)
    assert detections.select(np.array([True, False, True])).scores.tolist() == [0.9, 0.7]
    mask = np.zeros(SHAPE, dtype=bool)
    mask[:3, :3] = True
    assert detections.with_cell((1.0, 1.0), mask, {k: v[:1] for k, v in detections.embeddings.items()}).scores[-1] == 1
    with pytest.raises(ValueError, match="2 scores for 3 cells"):
        Detections(detections.centers, detections.labels, {}, np.ones(2))


def test_config():
    cfg = get_celltrack_cfg(None, ["CELLTRACK.TRACKER.MIN_SCORE", "0.4", "CELLTRACK.TRACKER.CONTINUE_SCORE", "0.1"])
    assert Tracker(cfg).min_score == 0.4


def test_only_a_track_that_lasted_min_track_length_is_continued():
    # A is high in frames 0-1 only (2 frames), then low: with min_track_length 3 its low cells continue nothing.
    movie = [scored(frame(A, B), 0.9, 0.9), scored(frame(A, B), 0.9, 0.9)] + [scored(frame(A, B), 0.3, 0.9)] * 3
    assert run(movie, min_score=0.5)[1] == [[1, 0, 4, 0], [2, 0, 4, 0]]
    written, lineage, _ = run(movie, min_score=0.5, min_track_length=3)
    assert lineage == [[2, 0, 4, 0]] and all(ids == [2] for ids in written.values())  # A's 2 frames: a flicker
    longer = [scored(frame(A, B), 0.9, 0.9)] * 3 + [scored(frame(A, B), 0.3, 0.9)] * 3
    assert run(longer, min_score=0.5, min_track_length=3)[1] == [[1, 0, 5, 0], [2, 0, 5, 0]]
