"""Gaps filled (``FILL_GAPS``): a track resumed after frames its cell was missed in goes on through them, each
missed frame getting the cell's last mask moved along the way, written like any cell; where the moved mask
would have no pixel of its own the gap stays a parent link; an interrupted run resumes to the same."""

import numpy as np
import pytest
import tifffile
import torch

from celltrack.config import get_celltrack_cfg
from celltrack.tracking import Detections, Tracker, check_lineage, track_frames
from celltrack.tracking.frame_loop import frame_steps, precomputed
from celltrack.tracking.sinks import CTCResultSink
from celltrack.tracking.state import load_state, save_state

from test_min_track_length import Pixels as Recorder
from test_tracker import SHAPE, SIMILARITY, cell, frame



class Pixels(Recorder):
    """Also keeps each frame's cell areas, in the order written."""

    def write(self, tracked):
        super().write(tracked)
        self.areas = getattr(self, "areas", {})
        self.areas[tracked.frame] = np.bincount(tracked.labels.ravel(), minlength=tracked.detections.num_cells + 1)[1:]


OTHER = cell(80, 60, 5)
# A moves right by 4 px a frame and is missed in frames 2 and 3; OTHER stays put.
MOVIE = [frame(cell(20, 30, 0), OTHER), frame(cell(24, 30, 0), OTHER), frame(OTHER), frame(OTHER),
         frame(cell(36, 30, 0), OTHER), frame(cell(40, 30, 0), OTHER)]


def run(movie, tmp_path=None, **options):
    recorder, sinks = Pixels(), []
    if tmp_path is not None:
        sinks.append(CTCResultSink(tmp_path, num_frames=len(movie)))
    tracker = Tracker(similarity=SIMILARITY, method="global", max_distance=25.0, **options)
    lineage = track_frames(((None, d) for d in movie), precomputed, tracker, [recorder, *sinks], image_size=SHAPE)
    check_lineage(lineage)
    return recorder, lineage.tolist(), tracker


def test_a_resumed_track_goes_on_through_its_filled_gap(tmp_path):
    _, lineage, _ = run(MOVIE, max_gap=2)
    assert lineage == [[1, 0, 1, 0], [2, 0, 5, 0], [3, 4, 5, 1]]  # the CTC form of a gap: a parent, one child
    recorder, lineage, tracker = run(MOVIE, tmp_path, max_gap=2, fill_gaps=True)
    assert tracker.lag == 2
    assert lineage == [[1, 0, 5, 0], [2, 0, 5, 0]]
    assert [recorder.frames[t][0] for t in range(6)] == [[1, 2], [1, 2], [2, 1], [2, 1], [1, 2], [1, 2]]
    for t, x in ((2, 28), (3, 32)):  # A's frame-1 disc, moved 4 px a frame towards its frame-4 place
        written = tifffile.imread(tmp_path / f"mask00{t}.tif")
        expected = frame(cell(x, 30, 0)).labels == 1
        np.testing.assert_array_equal(written == 1, expected)
        assert (written == 2).sum() == (MOVIE[0].labels == 2).sum()  # OTHER untouched
    assert np.loadtxt(tmp_path / "res_track.txt", dtype=int).tolist() == lineage


def test_a_filled_cell_takes_only_free_pixels_and_needs_one():
    # A moves 10 px a frame; in frame 2, where A is missed, another cell sits over part of A's way.
    fast = [frame(cell(10, 30, 0), OTHER), frame(cell(20, 30, 0), OTHER)]
    blocked = fast + [frame(OTHER, cell(33, 38, 7)), frame(cell(40, 30, 0), OTHER)]
    recorder, lineage, _ = run(blocked, max_gap=1, fill_gaps=True)
    assert lineage == [[1, 0, 3, 0], [2, 0, 3, 0], [3, 2, 2, 0]]
    assert recorder.frames[2][0] == [2, 3, 1]  # the filled cell comes after the detected ones
    assert recorder.labels[2] == [1, 2, 3]
    filled = frame(cell(30, 30, 0)).labels == 1
    assert 0 < recorder.areas[2][2] < filled.sum()  # only the pixels the other cell leaves free
    # Covered entirely: the gap stays a parent link.
    covered = fast + [frame(OTHER, cell(30, 30, 7, radius=6)), frame(cell(40, 30, 0), OTHER)]
    _, lineage, _ = run(covered, max_gap=1, fill_gaps=True)
    assert lineage == [[1, 0, 1, 0], [2, 0, 3, 0], [3, 2, 2, 0], [4, 3, 3, 1]]


def test_the_config_sets_it():
    cfg = get_celltrack_cfg(opts=["CELLTRACK.TRACKER.MAX_GAP", 3, "CELLTRACK.TRACKER.FILL_GAPS", True,
                                  "CELLTRACK.TRACKER.MIN_TRACK_LENGTH", 0])
    tracker = Tracker(cfg, similarity=SIMILARITY)
    assert tracker.fill_gaps and tracker.lag == 3
    assert not Tracker(similarity=SIMILARITY, fill_gaps=True).fill_gaps  # max_gap 0: nothing to fill


def test_torch_embeddings_are_filled_too():
    movie = [Detections(d.centers, d.labels, {k: torch.as_tensor(v) for k, v in d.embeddings.items()}) for d in MOVIE]
    _, lineage, tracker = run(movie, max_gap=2, fill_gaps=True)
    assert lineage == [[1, 0, 5, 0], [2, 0, 5, 0]]


def test_an_interrupted_loop_resumes_to_the_same_outputs(tmp_path):
    expected, expected_lineage, _ = run(MOVIE, max_gap=2, fill_gaps=True)
    options = dict(similarity=SIMILARITY, method="global", max_distance=25.0, max_gap=2, fill_gaps=True)
    first, tracker = Pixels(), Tracker(**options)
    steps = frame_steps(((None, d) for d in MOVIE), precomputed, tracker, [first], image_size=SHAPE,
                        after_frame=lambda f: save_state(tmp_path / "state.json", {"frame": f + 1,
                                                         "tracker": tracker.state_dict()}, step=f + 1))
    assert [next(steps) for _ in range(2)] == [0, 1]  # frames 2-3 linked, A not yet resumed
    steps.close()
    state = load_state(tmp_path / "state.json")
    resumed, second = Tracker(**options), Pixels()
    resumed.load_state_dict(state["tracker"])
    lineage = track_frames(((None, d) for d in MOVIE), precomputed, resumed, [second], image_size=SHAPE,
                           start_frame=state["frame"])
    assert {**first.frames, **second.frames} == expected.frames
    assert {**first.labels, **second.labels} == expected.labels
    assert lineage.tolist() == expected_lineage


@pytest.mark.parametrize("shift", [(3, -2), (-200, 0), (0.4, 0.6)])
def test_moved_mask(shift):
    detections = frame(cell(20, 30, 0))
    moved = detections.moved_mask(0, np.array(shift))
    dx, dy = np.round(shift).astype(int)
    if abs(dx) >= SHAPE[1]:
        assert not moved.any()
    else:
        np.testing.assert_array_equal(moved, frame(cell(20 + dx, 30 + dy, 0)).labels == 1)
