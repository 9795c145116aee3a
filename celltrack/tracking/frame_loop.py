"""The frame loop: the one place where a movie's frames meet the tracker.

:func:`frame_steps` (run through by :func:`track_frames`) owns one movie: it reads the frames in order, has each segmented (the predictor's
``segment``, or cells computed earlier), feeds the cells to the tracker and hands every tracked frame to
the output sinks (``celltrack.tracking.sinks``: CTC result, tracks table, overlay, GEFF, ...), each of
which writes per frame and finishes with the tracker's lineage. ``tools/track_video.py`` (through
``track_movie``), the evaluator (``write_tracked_sequence``) and the benchmarks all track through it.
Parents come from the tracker's lineage alone.

A sink is any object with ``write(tracked: TrackedFrame)``, ``close(lineage)`` and, to resume,
``state_dict()`` / ``load_state_dict(state)`` (plain values and numpy arrays, see ``tracking.state``).
"""
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generator, Iterable, Optional, Protocol, Sequence, Tuple

import numpy as np

from .labels import track_label_image
from .tracker import Detections, Tracker

# segment(image, given) -> (cells or None, Detections): one frame's cells, ready to link. ``given`` is
# what the frame source yields beside the image (a label image to link, a cached frame, or None).
Segment = Callable[[Any, Any], Tuple[Any, Detections]]


@dataclass
class TrackedFrame:
    """One frame after linking: what every sink gets.

    Attributes:
        frame: index in the movie, from 0.
        image: the raw frame (None when tracking cells computed earlier, without their images).
        cells: the predictor's ``Instances`` (None for cells computed earlier, or linked before a resume);
            cells the tracker filled into a gap come after them in ``detections`` and have none.
        detections: the cells as linked: ``labels`` (cell i has label i + 1), ``centers`` (mask centroids).
        track_ids, parent_ids: (N,) int64, from the tracker (parent 0 = none).
        labels: (H, W) label image of the cells (zeros for a frame without cells and without labels).
    """

    frame: int
    image: Optional[np.ndarray]
    cells: Any
    detections: Detections
    track_ids: np.ndarray
    parent_ids: np.ndarray
    labels: np.ndarray

    def track_labels(self) -> np.ndarray:
        """(H, W) label image whose values are track ids (the CTC ``maskTTT.tif``)."""
        return track_label_image(self.labels, self.track_ids)


def precomputed(image, detections: Detections) -> Tuple[None, Detections]:
    """``segment`` for cells computed earlier (cached, or by the evaluator's model run): linked as they are."""
    return None, detections


class Sink(Protocol):
    def write(self, tracked: TrackedFrame) -> None: ...

    def close(self, lineage: np.ndarray) -> None: ...


def track_frames(
    frames: Iterable[Tuple[Any, Any]],
    segment: Segment,
    tracker: Tracker,
    sinks: Sequence[Sink] = (),
    **options,
) -> np.ndarray:
    """Track a movie to its end: :func:`frame_steps` (same arguments) run through; returns the lineage."""
    steps = frame_steps(frames, segment, tracker, sinks, **options)
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            return finished.value


def frame_steps(
    frames: Iterable[Tuple[Any, Any]],
    segment: Segment,
    tracker: Tracker,
    sinks: Sequence[Sink] = (),
    *,
    start_frame: int = 0,
    image_size: Optional[Tuple[int, int]] = None,
    after_frame: Optional[Callable[[int], None]] = None,
    timings: Optional[Dict[str, float]] = None,
) -> Generator[int, None, np.ndarray]:
    """The frame loop: segment, link and write every frame, yielding each frame's index once every sink has
    it; then close the sinks and return the lineage. A frame is written once its track ids are final,
    ``tracker.lag`` frames after it is linked (a division on probation, ``Tracker``'s
    ``division_persistence``, may still be undone; a short track, ``min_track_length``, discarded: its cells
    are not written). A caller that shows progress or may stop the run (the
    napari widget) steps through it; closing it stops after the last frame yielded.

    Args:
        frames: ``(image, given)`` per frame, frames 0, 1, 2, ... (``given`` goes to ``segment``).
        segment: ``segment(image, given) -> (cells, Detections)``, e.g. ``CellTrackPredictor.segment``.
        tracker: holds the movie so far (fresh, or loaded from a saved state for ``start_frame``).
        sinks: written in order for every frame, closed in order with the tracker's lineage.
        start_frame: frames before it were written before (a resumed run): read, not segmented. Frames
            from it to ``tracker.last_frame`` were linked but not yet written: the tracker's cells are written.
        image_size: (H, W) for frames whose Detections carry no label image (default: the image's).
        after_frame: called with the index of each frame once every sink has it, and after linking a frame
            that leaves nothing to write yet with the index of the last frame written (save state here).
        timings: its "linking" entry is increased by the seconds spent in the tracker.

    Returns:
        The tracker's lineage, (T, 4) rows ``[track_id, first_frame, last_frame, parent_id]``.
    """
    waiting: deque = deque()  # (frame, image, cells) linked, whose track ids (and cells) may still change
    for frame, (image, given) in enumerate(frames):
        if frame < start_frame:
            continue
        if tracker.last_frame is not None and frame <= tracker.last_frame:
            # Linked before the run was interrupted, not yet written: the tracker holds its cells.
            waiting.append((frame, image, None))
            continue
        cells, detections = segment(image, given)
        start = time.perf_counter()
        tracker.update(frame, detections)
        if timings is not None:
            timings["linking"] = timings.get("linking", 0.0) + time.perf_counter() - start
        waiting.append((frame, image, cells))
        if waiting[0][0] > frame - tracker.lag and after_frame is not None:
            after_frame(waiting[0][0] - 1)  # linked, nothing to write yet: save what was linked
        while waiting and waiting[0][0] <= frame - tracker.lag:
            yield _write(*waiting.popleft(), tracker, sinks, image_size, after_frame)
    while waiting:
        yield _write(*waiting.popleft(), tracker, sinks, image_size, after_frame)
    lineage = tracker.lineage()
    for sink in sinks:
        sink.close(lineage)
    return lineage


def _write(frame: int, image, cells, tracker: Tracker, sinks: Sequence[Sink],
           image_size, after_frame) -> int:
    """Hand one frame, with its final track ids and cells, to every sink; then ``after_frame``."""
    detections = tracker.frame_detections(frame)  # with the cells filled into a gap (``fill_gaps``), after the others
    track_ids, parent_ids = tracker.frame_ids(frame)
    discarded = track_ids == 0  # cells of a short track the tracker discarded (``min_track_length``)
    if discarded.any():
        detections, track_ids, parent_ids = detections.select(~discarded), track_ids[~discarded], parent_ids[~discarded]
        cells = cells[~discarded[:len(cells)]] if cells is not None else None
    labels = detections.labels
    if labels is None:
        labels = np.zeros(image_size or np.shape(image)[:2], dtype=np.int32)
    tracked = TrackedFrame(frame, image, cells, detections, track_ids, parent_ids, labels)
    for sink in sinks:
        sink.write(tracked)
    if after_frame is not None:
        after_frame(frame)
    return frame
