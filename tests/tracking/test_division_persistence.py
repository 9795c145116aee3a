"""Divisions on probation (``DIVISION_PERSISTENCE``): a fragment taken as a second daughter is undone
without cutting the mother's track, real divisions stand, and the frame loop writes only final ids."""

import numpy as np
import pytest

from celltrack.tracking import Tracker, check_lineage, track_frames
from celltrack.tracking.frame_loop import frame_steps, precomputed
from celltrack.tracking.state import load_state, save_state

from test_tracker import SIMILARITY, cell, frame


class Recorder:
    """A sink that keeps what it is given: {frame: (track_ids, parent_ids)}."""

    def __init__(self):
        self.frames = {}

    def write(self, tracked):
        self.frames[tracked.frame] = (tracked.track_ids.tolist(), tracked.parent_ids.tolist())

    def close(self, lineage):
        self.lineage = lineage.tolist()

    def state_dict(self):
        return {"frames": sorted(self.frames)}


MOTHER = frame(cell(40, 40, 0))
# Frame 1: the mother and a small fragment beside it; both claim the mother (a "division").
WITH_FRAGMENT = frame(cell(38, 40, 0.1), cell(48, 40, 0.2, radius=3))
ALONE = frame(cell(38, 40, 0.1))
DAUGHTERS = frame(cell(34, 40, 0.1, radius=4), cell(46, 40, 0.2, radius=4))


def run(movie, persistence):
    recorder = Recorder()
    tracker = Tracker(similarity=SIMILARITY, method="paper", division_persistence=persistence)
    lineage = track_frames(((None, d) for d in movie), precomputed, tracker, [recorder], image_size=(80, 100))
    check_lineage(lineage)
    return recorder, lineage.tolist()


def test_a_fragment_daughter_is_undone_and_the_mother_goes_on():
    movie = [MOTHER, WITH_FRAGMENT, ALONE, ALONE, ALONE]
    recorder, lineage = run(movie, persistence=0)
    assert [row[3] for row in lineage] == [0, 1, 1]  # the fragment divides the mother's track at frame 1
    recorder, lineage = run(movie, persistence=3)
    assert recorder.frames[1] == ([1, 3], [0, 0])
    assert [recorder.frames[t][0] for t in range(5)] == [[1], [1, 3], [1], [1], [1]]
    assert lineage == [[1, 0, 4, 0], [3, 1, 1, 0]]  # track 2 (the daughter that went on) was merged into 1
    assert recorder.lineage == lineage


def test_a_division_whose_daughters_persist_stands():
    movie = [MOTHER, DAUGHTERS, DAUGHTERS, DAUGHTERS, DAUGHTERS]
    (recorder, lineage), (immediate, immediate_lineage) = run(movie, persistence=3), run(movie, persistence=0)
    assert recorder.frames == immediate.frames and lineage == immediate_lineage
    assert lineage == [[1, 0, 0, 0], [2, 1, 4, 1], [3, 1, 4, 1]]


@pytest.mark.parametrize("persistence", [2, 3])
def test_a_short_daughter_counts_only_within_its_probation(persistence):
    # The second daughter lasts 2 frames: too short for persistence 3, long enough for 2.
    movie = [MOTHER, DAUGHTERS, DAUGHTERS, ALONE, ALONE]
    _, lineage = run(movie, persistence)
    divided = [row[3] for row in lineage if row[3]]
    assert divided == ([1, 1] if persistence == 2 else [])


def test_a_division_at_the_end_of_the_movie_stands():
    _, lineage = run([MOTHER, MOTHER, DAUGHTERS], persistence=3)
    assert [row[3] for row in lineage] == [0, 1, 1]


def test_an_interrupted_loop_resumes_to_the_same_outputs(tmp_path):
    movie = [MOTHER, WITH_FRAGMENT, ALONE, MOTHER, DAUGHTERS, DAUGHTERS, DAUGHTERS]
    expected, expected_lineage = run(movie, persistence=3)
    first, tracker = Recorder(), Tracker(similarity=SIMILARITY, method="paper", division_persistence=3)
    steps = frame_steps(((None, d) for d in movie), precomputed, tracker, [first], image_size=(80, 100),
                        after_frame=lambda f: save_state(tmp_path / "state.json", {"frame": f + 1,
                                                         "tracker": tracker.state_dict()}, step=f + 1))
    assert [next(steps) for _ in range(3)] == [0, 1, 2]  # written frames; the tracker has linked 0-4
    assert tracker.last_frame == 4
    steps.close()
    state = load_state(tmp_path / "state.json")
    resumed, second = Tracker(similarity=SIMILARITY, method="paper", division_persistence=3), Recorder()
    resumed.load_state_dict(state["tracker"])
    lineage = track_frames(((None, d) for d in movie), precomputed, resumed, [second], image_size=(80, 100),
                           start_frame=state["frame"])
    assert {**first.frames, **second.frames} == expected.frames
    np.testing.assert_array_equal(lineage, expected_lineage)
