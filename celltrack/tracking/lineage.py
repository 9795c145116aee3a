"""The lineage of a tracked movie: one row per track, (track_id, first_frame, last_frame, parent_id).

This is the content of a Cell Tracking Challenge ``res_track.txt`` ("L B E P"): track ids start at 1,
parent_id 0 means no parent, a track is present in every frame from first_frame to last_frame, and a
parent ends before its children begin. A parent with two children is a division; a parent with one
child is a track continued after a gap (the CTC format allows no gap inside one track).
"""
from typing import Dict, Optional

import numpy as np

__all__ = ["LineageTable", "LostTracks", "PendingDivisions", "check_lineage", "divisions", "count_divisions"]

COLUMNS = ("track_id", "first_frame", "last_frame", "parent_id")


class LineageTable:
    """A growing lineage: new tracks get the ids 1, 2, 3, ... in order of creation.

    Rows are kept in numpy arrays indexed by ``track_id - 1`` so that extending every live track by one
    frame is one vectorised assignment, whatever the number of cells. A track merged into another
    (:meth:`merge`) or discarded (:meth:`discard`) keeps its row, marked by first_frame -1, so ids stay
    indices; ``rows()`` leaves it out.
    """

    def __init__(self, rows: np.ndarray = None):
        """Args: rows: optional (T, 4) rows with track ids 1..T in order, e.g. from ``table()``, to resume."""
        rows = np.zeros((0, 4), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1, 4)
        if not np.array_equal(rows[:, 0], np.arange(1, len(rows) + 1)):
            raise ValueError("LineageTable: rows must have track ids 1..T in order")
        self._size = len(rows)
        self._data = np.zeros((max(1024, 2 * len(rows)), 3), dtype=np.int64)  # first, last, parent
        self._data[: len(rows)] = rows[:, 1:]

    def __len__(self) -> int:
        return self._size

    def new_tracks(self, frame: int, parent_ids: np.ndarray) -> np.ndarray:
        """Start len(parent_ids) tracks in ``frame``; returns their (n,) int64 track ids."""
        parent_ids = np.asarray(parent_ids, dtype=np.int64).reshape(-1)
        count = len(parent_ids)
        if self._size + count > len(self._data):
            grown = np.zeros((2 * (self._size + count), 3), dtype=np.int64)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        rows = self._data[self._size : self._size + count]
        rows[:, 0] = frame
        rows[:, 1] = frame
        rows[:, 2] = parent_ids
        track_ids = np.arange(self._size + 1, self._size + count + 1, dtype=np.int64)
        self._size += count
        return track_ids

    def extend(self, track_ids: np.ndarray, frame: int) -> None:
        """Record that the tracks ``track_ids`` (n,) are present in ``frame`` (their new last frame)."""
        self._data[np.asarray(track_ids, dtype=np.int64) - 1, 1] = frame

    def parent_of(self, track_ids: np.ndarray) -> np.ndarray:
        """(n,) parent_id of each track (0 for none, and for track id 0: a discarded cell)."""
        track_ids = np.asarray(track_ids, dtype=np.int64)
        return np.where(track_ids > 0, self._data[np.maximum(track_ids, 1) - 1, 2], 0)

    def set_parent(self, track_id: int, parent_id: int) -> None:
        self._data[int(track_id) - 1, 2] = parent_id

    def children(self, track_id: int) -> np.ndarray:
        """Ids of the tracks whose parent is ``track_id``."""
        return np.flatnonzero(self._data[: self._size, 2] == track_id) + 1

    def merge(self, track_id: int, into: int) -> None:
        """Track ``track_id`` is the continuation of ``into`` (which ends the frame before it begins): ``into``
        now lasts until ``track_id``'s last frame and adopts its children; ``track_id``'s row is removed."""
        source, target = int(track_id) - 1, int(into) - 1
        self._data[target, 1] = self._data[source, 1]
        self._data[: self._size, 2][self._data[: self._size, 2] == track_id] = into
        self._data[source] = (-1, -1, 0)

    def lengths(self, track_ids: np.ndarray) -> np.ndarray:
        """(n,) frames from first to last of each track."""
        first, last = self._data[np.asarray(track_ids, dtype=np.int64) - 1, :2].T
        return last - first + 1

    def short_lone_tracks(self, track_ids: np.ndarray, min_length: int) -> np.ndarray:
        """The tracks among ``track_ids`` that last fewer than ``min_length`` frames and have neither a parent
        nor children."""
        track_ids = np.unique(np.asarray(track_ids, dtype=np.int64))
        first, last, parent = self._data[track_ids - 1].T
        track_ids = track_ids[(parent == 0) & (last - first + 1 < min_length) & (first >= 0)]
        return track_ids[~np.isin(track_ids, self._data[: self._size, 2])] if len(track_ids) else track_ids

    def discard(self, track_ids: np.ndarray) -> None:
        """Remove tracks without parent or children (their rows, as :meth:`merge` removes one)."""
        self._data[np.asarray(track_ids, dtype=np.int64) - 1] = (-1, -1, 0)

    def table(self) -> np.ndarray:
        """(T, 4) rows of every id 1..T, merged and discarded tracks included (first_frame -1): the state to resume from."""
        ids = np.arange(1, self._size + 1, dtype=np.int64)
        return np.concatenate([ids[:, None], self._data[: self._size]], axis=1)

    def rows(self) -> np.ndarray:
        """(T, 4) int64 rows (track_id, first_frame, last_frame, parent_id), sorted by track_id."""
        table = self.table()
        return table[table[:, 1] >= 0]


class LostTracks:
    """Tracks that ended without dividing and may still be resumed (``Tracker``'s ``max_gap``): each one's
    id, last frame and the index of its cell there, as (L,) int64 arrays. ``state``: a :meth:`state_dict`."""

    KEYS = ("track_ids", "frames", "cells")

    def __init__(self, state: Optional[Dict] = None):
        self.track_ids, self.frames, self.cells = (np.asarray((state or {}).get(key, ()), dtype=np.int64).reshape(-1)
                                                   for key in self.KEYS)

    def add(self, track_ids: np.ndarray, frame: int, cells: np.ndarray) -> None:
        self.track_ids = np.concatenate([self.track_ids, track_ids])
        self.frames = np.concatenate([self.frames, np.full(len(track_ids), frame, dtype=np.int64)])
        self.cells = np.concatenate([self.cells, np.asarray(cells, dtype=np.int64)])

    def forget(self, drop: np.ndarray) -> np.ndarray:
        """Forget the tracks where ``drop`` (L,) bool is True; returns their ids."""
        forgotten = self.track_ids[drop]
        self.track_ids, self.frames, self.cells = self.track_ids[~drop], self.frames[~drop], self.cells[~drop]
        return forgotten

    def state_dict(self) -> Dict[str, np.ndarray]:
        return {key: getattr(self, key).copy() for key in self.KEYS}


class PendingDivisions:
    """Divisions on probation: a division stands once both daughters have been seen in their first
    ``persistence`` frames (``CELLTRACK.TRACKER.DIVISION_PERSISTENCE``; <= 1: at once).

    When one daughter's track ends sooner while the other goes on, the short one was a fragment or a
    duplicate next to the mother, not a daughter: the division is undone. The daughter that went on is
    merged into the mother's track (which so is not cut) and the short track loses its parent. A short
    daughter that itself divided, or two daughters ending together, leave the division standing.
    ``rows``: (P, 4) int64 (mother, daughter, daughter, first frame of the daughters).
    """

    def __init__(self, persistence: int, rows: Optional[np.ndarray] = None):
        self.persistence = int(persistence)
        self.rows = np.zeros((0, 4), np.int64) if rows is None else np.asarray(rows, np.int64).reshape(-1, 4)

    def update(self, lineage: LineageTable, frame: int, track_ids: np.ndarray, daughters: np.ndarray) -> Dict[int, int]:
        """After ``frame`` is linked (``track_ids`` (N,) of its cells, ``daughters`` (N,) bool: born of a
        division in it): undo, confirm or keep each pending division, then add this frame's.

        Undoing edits ``lineage`` and renames the merged daughter in ``track_ids`` (in place); returns
        {merged daughter: mother} for the caller's other copies of track ids.
        """
        if self.persistence <= 1:
            return {}
        renamed: Dict[int, int] = {}
        pending = []
        seen = set(track_ids.tolist()) if len(self.rows) else set()
        for mother, first, second, birth in self.rows.tolist():
            mother = renamed.get(mother, mother)
            if first in seen and second in seen:
                if frame - birth + 1 < self.persistence:
                    pending.append((mother, first, second, birth))
                continue
            ended, kept = (first, second) if second in seen else (second, first)
            if kept not in seen or len(lineage.children(ended)):
                continue
            lineage.set_parent(ended, 0)
            lineage.merge(kept, into=mother)
            track_ids[track_ids == kept] = mother
            seen.discard(kept)
            seen.add(mother)
            renamed[kept] = mother
        if daughters.any():
            born, parents = track_ids[daughters], lineage.parent_of(track_ids[daughters])
            mothers, counts = np.unique(parents, return_counts=True)
            for mother in mothers[counts == 2]:
                pending.append((int(mother), *born[parents == mother].tolist(), frame))
        self.rows = np.asarray(pending, dtype=np.int64).reshape(-1, 4)
        return renamed


def check_lineage(rows: np.ndarray) -> None:
    """Raise ValueError, naming the track, unless ``rows`` (T, 4) is a valid CTC lineage.

    Valid means: track ids >= 1 and unique; first_frame <= last_frame; every parent_id is 0 or an
    existing track other than itself that ends before the child begins.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
    track_ids, first, last, parents = rows.T
    if (track_ids < 1).any():
        raise ValueError(f"lineage: track ids must be >= 1, found {track_ids[track_ids < 1][:5]}")
    unique, counts = np.unique(track_ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"lineage: track ids occur twice: {unique[counts > 1][:5]}")
    bad = np.flatnonzero(first > last)
    if len(bad):
        raise ValueError(f"lineage: track {track_ids[bad[0]]} ends (frame {last[bad[0]]}) before it begins")
    last_by_id: Dict[int, int] = dict(zip(track_ids.tolist(), last.tolist()))
    for track_id, begin, parent in zip(track_ids.tolist(), first.tolist(), parents.tolist()):
        if parent == 0:
            continue
        if parent == track_id or parent not in last_by_id:
            raise ValueError(f"lineage: track {track_id} has parent {parent}, which is not another track")
        if last_by_id[parent] >= begin:
            raise ValueError(
                f"lineage: parent {parent} of track {track_id} lasts until frame {last_by_id[parent]}, "
                f"not before the child begins (frame {begin})"
            )


def divisions(rows: np.ndarray) -> np.ndarray:
    """Parents with two or more children: (D,) int64 parent track ids, sorted."""
    parents = np.asarray(rows, dtype=np.int64).reshape(-1, 4)[:, 3]
    parents = parents[parents > 0]
    ids, counts = np.unique(parents, return_counts=True)
    return ids[counts >= 2]


def count_divisions(rows: np.ndarray) -> int:
    """Number of divisions in a lineage (T, 4)."""
    return int(len(divisions(rows)))
