"""Output sinks: each writes one format, one tracked frame at a time (see ``frame_loop``).

Every sink takes :class:`~celltrack.tracking.frame_loop.TrackedFrame` s in order through ``write``, finishes
with the tracker's lineage in ``close``, and has ``state_dict()`` / ``load_state_dict()`` so that an
interrupted run continues where it stopped (plain values, saved by ``tracking.state`` without pickle).
A new format is a new class here with those four methods.
"""
import csv
import shutil
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np

from ..data.ctc_writer import CTCTrackWriter
from ..data.geff import write_geff
from .frame_loop import TrackedFrame
from .state import expect_keys
from .visualize import overlay_frame, plot_lineage, write_movie

CSV_COLUMNS = ["track_id", "frame", "y", "x", "area", "parent"]


def save_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name, then rename it to ``path`` (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_bytes(data)
    temporary.replace(path)


def parents_of(lineage: np.ndarray) -> Dict[int, int]:
    """{track_id: parent_id} of the tracks with a parent, from (T, 4) lineage rows."""
    return {int(track): int(parent) for track, _, _, parent in np.asarray(lineage).tolist() if parent}


class CTCResultSink:
    """``maskTTT.tif`` per frame and ``res_track.txt`` at the end (:class:`CTCTrackWriter`).

    ``written`` is the last frame's label image as written (track ids, renumbered where CTC needs it);
    ``lineage`` the table written at ``close``.
    """

    def __init__(self, out_dir, num_frames: Optional[int] = None):
        self.writer = CTCTrackWriter(out_dir, num_frames=num_frames)
        self.written: Optional[np.ndarray] = None
        self.lineage: Optional[np.ndarray] = None

    def write(self, tracked: TrackedFrame) -> None:
        self.written = self.writer.write_frame(tracked.frame, tracked.track_labels())

    def close(self, lineage: np.ndarray) -> None:
        self.lineage = self.writer.close(parents_of(lineage))

    def state_dict(self) -> Dict[str, Any]:
        return self.writer.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.writer.load_state_dict(state)


class TracksTableSink:
    """``tracks.csv``: one row per cell per frame, ``track_id, frame, y, x, area, parent``; (y, x) is the
    cell's centre, the centroid of its mask (pixels, 2 decimals). Written to ``tracks.csv.partial`` and
    renamed at ``close``; ``cells`` counts the rows."""

    def __init__(self, path):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.bytes, self.cells = 0, 0

    def write(self, tracked: TrackedFrame) -> None:
        detections, frame = tracked.detections, tracked.frame
        areas = np.bincount(tracked.labels.ravel(), minlength=detections.num_cells + 1)[1:]
        if not self.bytes:
            self.partial.write_text(",".join(CSV_COLUMNS) + "\n")
        with open(self.partial, "a", newline="") as rows:
            out = csv.writer(rows)
            for i, (x, y) in enumerate(detections.centers):
                out.writerow([int(tracked.track_ids[i]), frame, round(float(y), 2), round(float(x), 2),
                              int(areas[i]), int(tracked.parent_ids[i])])
        self.bytes = self.partial.stat().st_size
        self.cells += detections.num_cells

    def close(self, lineage: np.ndarray) -> None:
        if not self.bytes:  # a movie without frames: the header alone
            self.partial.write_text(",".join(CSV_COLUMNS) + "\n")
        self.partial.replace(self.path)

    def state_dict(self) -> Dict[str, Any]:
        return {"bytes": self.bytes, "cells": self.cells}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        expect_keys(state, ("bytes", "cells"), "TracksTableSink")
        self.bytes, self.cells = int(state["bytes"]), int(state["cells"])
        if self.bytes:
            if not self.partial.is_file() or self.partial.stat().st_size < self.bytes:
                raise ValueError(f"{self.partial}: missing or shorter than the saved state says ({self.bytes} bytes)")
            with open(self.partial, "r+") as rows:
                rows.truncate(self.bytes)  # rows of a frame after the last saved state


class OverlaySink:
    """``overlay/TTTT.png`` per frame (cells coloured by track, ``id<parent`` for daughters), then
    ``overlay.mp4`` and ``lineage.png`` at ``close``. Draws the labels ``ctc`` wrote (its renumbering)."""

    def __init__(self, out_dir, ctc: CTCResultSink, fps: float = 5.0, title: str = ""):
        self.folder, self.out_dir = Path(out_dir) / "overlay", Path(out_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ctc, self.fps, self.title = ctc, fps, title
        self.frames = 0

    def write(self, tracked: TrackedFrame) -> None:
        import cv2

        parents = {int(track): int(parent) for track, parent in zip(tracked.track_ids, tracked.parent_ids) if parent}
        picture = overlay_frame(tracked.image, self.ctc.written.astype(np.int64), parents)
        ok, data = cv2.imencode(".png", picture)
        if not ok:
            raise RuntimeError(f"{self.folder}: could not encode the overlay of frame {tracked.frame}")
        save_atomically(self.folder / f"{tracked.frame:04d}.png", data.tobytes())
        self.frames = tracked.frame + 1

    def close(self, lineage: np.ndarray) -> None:
        write_movie([self.folder / f"{frame:04d}.png" for frame in range(self.frames)], self.out_dir / "overlay.mp4",
                    self.fps)
        plot_lineage(self.ctc.lineage if self.ctc.lineage is not None else lineage, self.out_dir / "lineage.png",
                     title=self.title)

    def state_dict(self) -> Dict[str, Any]:
        return {"frames": self.frames}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        expect_keys(state, ("frames",), "OverlaySink")
        self.frames = int(state["frames"])


class GeffSink:
    """``tracks.geff``: the CTC result folder as a GEFF graph, written at ``close`` (after the CTC sink)."""

    def __init__(self, result_dir, path):
        self.result_dir, self.path = Path(result_dir), Path(path)

    def write(self, tracked: TrackedFrame) -> None:
        pass

    def close(self, lineage: np.ndarray) -> None:
        temporary = self.path.with_name(self.path.name + ".partial")
        for path in (temporary, self.path):  # left by a run interrupted after writing them
            if path.is_dir():
                shutil.rmtree(path)
        write_geff(self.result_dir, temporary)
        temporary.replace(self.path)

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass
