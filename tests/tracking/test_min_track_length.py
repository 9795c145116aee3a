"""Short tracks discarded (``MIN_TRACK_LENGTH``): a detector's flicker is not written, real tracks, daughters,
resumed tracks and tracks still going at the end of the movie are, and an interrupted run resumes to the same."""

import numpy as np
import pytest
import tifffile
import torch

from celltrack.config import get_celltrack_cfg
from celltrack.tracking import Detections, Tracker, check_lineage, track_frames
from celltrack.tracking.frame_loop import frame_steps, precomputed
from celltrack.tracking.sinks import CTCResultSink
from celltrack.tracking.state import load_state, save_state

from test_division_persistence import DAUGHTERS, MOTHER, Recorder
from test_tracker import SHAPE, SIMILARITY, cell, frame

A, FLICKER, B = cell(20, 40, 0), cell(70, 40, 5), cell(45, 15, 9)
# A lasts the whole movie; the flicker is seen in frames 2-3 only; B appears in frame 4 and is still there at the end.
MOVIE = [frame(A), frame(A), frame(A, FLICKER), frame(A, FLICKER), frame(A, B), frame(A, B)]


class Pixels(Recorder):
    """Also keeps each frame's label values (which cells were written)."""

    def write(self, tracked):
        super().write(tracked)
        self.labels = getattr(self, "labels", {})
        self.labels[tracked.frame] = sorted(np.unique(tracked.labels[tracked.labels > 0]).tolist())


def run(movie, tmp_path=None, **options):
    recorder, sinks = Pixels(), []
    if tmp_path is not None:
        sinks.append(CTCResultSink(tmp_path, num_frames=len(movie)))
    tracker = Tracker(similarity=SIMILARITY, method="global", **options)
    lineage = track_frames(((None, d) for d in movie), precomputed, tracker, [recorder, *sinks], image_size=SHAPE)
    check_lineage(lineage)
    return recorder, lineage.tolist(), tracker


def test_a_flicker_is_discarded_and_never_written(tmp_path):
    kept, kept_lineage, _ = run(MOVIE)
    assert kept_lineage == [[1, 0, 5, 0], [2, 2, 3, 0], [3, 4, 5, 0]]
    recorder, lineage, tracker = run(MOVIE, tmp_path, min_track_length=3)
    assert tracker.lag == 2
    assert lineage == [[1, 0, 5, 0], [3, 4, 5, 0]]  # B is shorter too, but the movie ended first
    assert [recorder.frames[t][0] for t in range(6)] == [[1], [1], [1], [1], [1, 3], [1, 3]]
    assert recorder.labels[2] == recorder.labels[3] == [1]  # the flicker's pixels are background
    for t in (2, 3):
        assert np.unique(tifffile.imread(tmp_path / f"mask00{t}.tif")).tolist() == [0, 1]
    assert np.loadtxt(tmp_path / "res_track.txt", dtype=int).tolist() == lineage
    # Long enough for 2.
    assert run(MOVIE, min_track_length=2)[1] == kept_lineage


def test_daughters_and_resumed_tracks_are_not_lone():
    divided = [MOTHER, DAUGHTERS, DAUGHTERS, frame(cell(40, 40, 0))]
    _, lineage, _ = run(divided, min_track_length=5)
    assert lineage == run(divided)[1] and [row[3] for row in lineage] == [0, 1, 1]  # short daughters: a parent
    gap = [frame(A, FLICKER), frame(A, FLICKER), frame(A, FLICKER), frame(A), frame(A, FLICKER), frame(A), frame(A)]
    _, lineage, _ = run(gap, max_gap=1, min_track_length=3)
    assert lineage == [[1, 0, 6, 0], [2, 0, 2, 0], [3, 4, 4, 2]]  # resumed: a parent link with one child
    _, lineage, _ = run(gap, min_track_length=3)
    assert lineage == [[1, 0, 6, 0], [2, 0, 2, 0]]
    # A track shorter than min_track_length is not resumed (flickers are not chained into a track).
    flickers = [frame(A), frame(A, FLICKER), frame(A), frame(A, FLICKER), frame(A, FLICKER), frame(A), frame(A)]
    _, lineage, _ = run(flickers, max_gap=1, min_track_length=3)
    assert lineage == [[1, 0, 6, 0]]
    assert run(flickers, max_gap=1)[1] == [[1, 0, 6, 0], [2, 1, 1, 0], [3, 3, 4, 2]]


def test_the_config_sets_it():
    cfg = get_celltrack_cfg(opts=["CELLTRACK.TRACKER.MIN_TRACK_LENGTH", 4, "CELLTRACK.TRACKER.MAX_GAP", 1])
    tracker = Tracker(cfg, similarity=SIMILARITY)
    assert tracker.min_track_length == 4 and tracker.lag == 4
    with pytest.raises(ValueError, match="min_track_length"):
        Tracker(similarity=SIMILARITY, min_track_length=-1)


def test_an_interrupted_loop_resumes_to_the_same_outputs(tmp_path):
    expected, expected_lineage, _ = run(MOVIE, min_track_length=3)
    first, tracker = Recorder(), Tracker(similarity=SIMILARITY, method="global", min_track_length=3)
    steps = frame_steps(((None, d) for d in MOVIE), precomputed, tracker, [first], image_size=SHAPE,
                        after_frame=lambda f: save_state(tmp_path / "state.json", {"frame": f + 1,
                                                         "tracker": tracker.state_dict()}, step=f + 1))
    assert [next(steps) for _ in range(2)] == [0, 1]  # the flicker is on probation in linked frames 2-3
    steps.close()
    state = load_state(tmp_path / "state.json")
    resumed, second = Tracker(similarity=SIMILARITY, method="global", min_track_length=3), Recorder()
    resumed.load_state_dict(state["tracker"])
    lineage = track_frames(((None, d) for d in MOVIE), precomputed, resumed, [second], image_size=SHAPE,
                           start_frame=state["frame"])
    assert {**first.frames, **second.frames} == expected.frames
    assert lineage.tolist() == expected_lineage


@pytest.mark.parametrize("as_tensor", [False, True])
def test_detections_select_relabels_the_cells_kept(as_tensor):
    detections = frame(A, FLICKER, B)
    if as_tensor:
        detections = Detections(detections.centers, detections.labels,
                                {k: torch.as_tensor(v) for k, v in detections.embeddings.items()})
    kept = detections.select(np.array([True, False, True]))
    assert kept.num_cells == 2 and np.unique(kept.labels).tolist() == [0, 1, 2]
    np.testing.assert_array_equal(kept.labels == 2, detections.labels == 3)
    np.testing.assert_array_equal(kept.centers, detections.centers[[0, 2]])
    assert np.asarray(kept.embeddings["visual"]).ravel().tolist() == [0, 9]
