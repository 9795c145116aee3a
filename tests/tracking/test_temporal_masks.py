"""Temporal masks (``CELLTRACK.TRACKER.TEMPORAL_MASKS``): each cell's written mask is the majority of its own and
its track's masks in the frames before and after, moved to the middle of their centroids."""

import numpy as np

from celltrack.config import get_celltrack_cfg
from celltrack.tracking import Detections, Tracker, check_lineage, track_frames
from celltrack.tracking.detections import voted_labels
from celltrack.tracking.frame_loop import precomputed

from test_division_persistence import Recorder


class Pixels(Recorder):
    """Also keeps each frame's label image as written."""

    def write(self, tracked):
        super().write(tracked)
        self.written = getattr(self, "written", {})
        self.written[tracked.frame] = tracked.labels.copy()

SHAPE = (60, 80)


def disc(labels, x, y, radius, value):
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    labels[(xx - x) ** 2 + (yy - y) ** 2 <= radius ** 2] = value
    return labels


def cells(*discs):
    labels = np.zeros(SHAPE, dtype=np.int32)
    for value, (x, y, radius) in enumerate(discs, start=1):
        disc(labels, x, y, radius, value)
    return Detections.from_labels(labels)


def test_a_notch_in_one_frame_is_voted_away_and_moving_cells_are_aligned():
    before, after = cells((20, 30, 8), (60, 30, 6)), cells((24, 30, 8), (60, 30, 6))
    current = cells((22, 30, 8), (60, 30, 6))
    notched = current.labels.copy()
    notched[27:34, 26:31] = 0  # a bite out of cell 1's right edge in this frame only
    current = Detections.from_labels(notched)
    ids = np.array([1, 2])
    voted = voted_labels(current, ids, before, ids, after, ids)
    expected = disc(np.zeros(SHAPE, np.int32), 22, 30, 8, 1)
    def jaccard(labels):
        return ((labels == 1) & (expected == 1)).sum() / ((labels == 1) | (expected == 1)).sum()

    # the bite is filled: the two neighbours, moved to the middle of their centroids, agree there
    assert jaccard(notched) < 0.86 and jaccard(voted) > 0.95
    assert (voted == 2).sum() == (current.labels == 2).sum()  # an unchanged cell keeps its mask


def test_cells_without_both_neighbours_and_other_cells_pixels_are_kept():
    before, current, after = cells((20, 30, 8)), cells((20, 30, 8), (36, 30, 8)), cells((20, 30, 8), (36, 30, 8))
    # cell 2 is new in this frame (a track's first frame): kept as it is; cell 1 never takes cell 2's pixels
    voted = voted_labels(current, np.array([1, 2]), before, np.array([1]), after, np.array([1, 2]))
    assert np.array_equal(voted, current.labels)
    # track id 0 (an unconfirmed cell) is never voted
    assert np.array_equal(voted_labels(current, np.array([0, 0]), before, np.array([1]), after, np.array([1, 2])),
                          current.labels)


def test_the_tracker_writes_voted_masks_one_frame_late():
    movie = [cells((20, 30, 8)), cells((22, 30, 8)), cells((24, 30, 8)), cells((26, 30, 8))]
    notched = movie[1].labels.copy()
    notched[:, 24:] = 0
    movie[1] = Detections.from_labels(notched)
    areas = {}
    for temporal in (False, True):
        recorder = Pixels()
        tracker = Tracker(similarity=None, method="global", temporal_masks=temporal)
        assert tracker.lag == int(temporal)
        lineage = track_frames(((None, d) for d in movie), precomputed, tracker, [recorder], image_size=SHAPE)
        check_lineage(lineage)
        assert lineage.tolist() == [[1, 0, 3, 0]] and sorted(recorder.frames) == [0, 1, 2, 3]
        areas[temporal] = [(recorder.written[t] == 1).sum() for t in range(4)]
    full = (movie[0].labels == 1).sum()
    assert areas[False] == [full, (notched == 1).sum(), full, full]
    assert areas[True][0] == areas[True][3] == full and areas[True][1] > 0.95 * full  # the first and last: as they are
    cfg = get_celltrack_cfg(None, ["CELLTRACK.TRACKER.TEMPORAL_MASKS", "True"])
    assert Tracker(cfg).temporal_masks
