"""DeepCell tracking files (``.trk``: one movie, ``.trks``: several), e.g. the paper's RAW264.7 data.

A ``.trk``/``.trks`` is a tar archive of ``raw.npy`` (``(T, H, W, C)``; ``(B, T, H, W, C)`` in a
``.trks``), ``tracked.npy`` (same shape with C = 1; value = cell label) and ``lineage.json`` (``.trk``:
``{label: {"label", "frames", "daughters", "parent", "capped", "frame_div"}}``) or ``lineages.json``
(``.trks``: a list of those, one per movie).

Rather than a second record format, each movie is converted once to a CTC sequence on disk and read by
:mod:`celltrack.data.ctc`: records stay light (paths) and get the same validation. DeepCell allows a
label to vanish and come back; CTC does not, so such a track is split and the later part gets the
earlier part as parent (see :class:`~celltrack.data.ctc_writer.CTCTrackWriter`).
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import NamedTuple, Optional, Sequence

import numpy as np
import tifffile

from .ctc_dataset import DEFAULT_MASK_SOURCE, register_ctc_dataset
from .ctc_format import write_label_image
from .ctc_writer import CTCTrackWriter
from .movie import DataError


class TrkMovie(NamedTuple):
    """One movie of a ``.trk``/``.trks``: ``raw`` ``(T, H, W)``, ``tracked`` ``(T, H, W)`` labels, and
    ``parents`` ``{label: parent label (0 = none)}`` for every label of the lineage."""

    raw: np.ndarray
    tracked: np.ndarray
    parents: dict[int, int]


def _member(archive: tarfile.TarFile, path: Path, *names: str) -> bytes:
    for name in names:
        try:
            return archive.extractfile(name).read()
        except KeyError:
            continue
    raise DataError(f"{path}: not a DeepCell .trk/.trks: no {' or '.join(names)} inside.")


def _parents(lineage: dict, path: Path, movie: int) -> dict[int, int]:
    """``{label: parent}`` from a DeepCell lineage, checking that parents and daughters agree."""
    lineage = {int(label): entry for label, entry in lineage.items()}
    parents = {label: int(entry.get("parent") or 0) for label, entry in lineage.items()}
    for label, entry in lineage.items():
        for daughter in entry.get("daughters") or []:
            if parents.get(int(daughter)) != label:
                raise DataError(
                    f"{path} (movie {movie}): cell {label} lists daughter {daughter}, whose parent is "
                    f"{parents.get(int(daughter), 'missing from the lineage')}. Fix the lineage json.")
        parent = parents[label]
        if parent and label not in [int(d) for d in (lineage.get(parent) or {}).get("daughters") or []]:
            raise DataError(
                f"{path} (movie {movie}): cell {label} has parent {parent}, which does not list it as a "
                f"daughter{'' if parent in lineage else ' (the parent is missing from the lineage)'}.")
    return parents


def _single_channel(array: np.ndarray, path: Path, what: str, channel: Optional[int]) -> np.ndarray:
    """``(B, T, H, W, C)`` -> ``(B, T, H, W)``, keeping ``channel`` (needed when C > 1)."""
    if array.ndim != 5:
        raise DataError(f"{path}: {what} has shape {array.shape}; expected (T, H, W, C) or (B, T, H, W, C).")
    if array.shape[-1] == 1:
        return array[..., 0]
    if channel is None:
        raise DataError(
            f"{path}: {what} has {array.shape[-1]} channels (shape {array.shape}); CellTrack uses one. "
            f"Pass channel=<index> to pick the nuclear/fluorescence channel.")
    return array[..., channel]


def read_trk(path, channel: Optional[int] = None) -> list[TrkMovie]:
    """Read a DeepCell ``.trk``/``.trks`` into one :class:`TrkMovie` per movie.

    ``channel`` picks the raw channel when there are several. Raises :class:`DataError` naming the file,
    movie and frame for unreadable archives, shape or channel mismatches, labels missing from the
    lineage, and parents and daughters that disagree.
    """
    path = Path(path)
    try:
        with tarfile.open(path) as archive:
            raw = np.load(io.BytesIO(_member(archive, path, "raw.npy")), allow_pickle=False)
            tracked = np.load(io.BytesIO(_member(archive, path, "tracked.npy")), allow_pickle=False)
            lineages = json.loads(_member(archive, path, "lineages.json", "lineage.json"))
    except DataError:
        raise
    except (tarfile.TarError, OSError, ValueError) as error:  # ValueError: bad .npy or json
        raise DataError(f"{path}: cannot be read as a DeepCell .trk/.trks ({type(error).__name__}: "
                        f"{error}).") from error
    lineages = lineages if isinstance(lineages, list) else [lineages]
    if raw.ndim == 4:  # a .trk holds one movie: add the batch axis
        raw, tracked = raw[None], tracked[None]
    raw = _single_channel(raw, path, "raw.npy", channel)
    tracked = _single_channel(tracked, path, "tracked.npy", None)
    if raw.shape != tracked.shape or len(lineages) != raw.shape[0]:
        raise DataError(f"{path}: raw {raw.shape}, tracked {tracked.shape} and {len(lineages)} lineage(s) "
                        f"do not describe the same movies.")
    if not np.issubdtype(tracked.dtype, np.integer):
        tracked = tracked.astype(np.int64)
    movies = []
    for movie, lineage in enumerate(lineages):
        parents = _parents(lineage, path, movie)
        for frame, labels in enumerate(tracked[movie]):
            unknown = sorted(set(np.unique(labels).tolist()) - {0} - set(parents))
            if unknown:
                raise DataError(f"{path} (movie {movie}, frame {frame}): label(s) {unknown} are absent from "
                                f"the lineage json. Add them or remove them from tracked.npy.")
        movies.append(TrkMovie(raw[movie], tracked[movie], parents))
    return movies


def trk_to_ctc(path, root, channel: Optional[int] = None, first_sequence: int = 1) -> list[str]:
    """Convert a ``.trk``/``.trks`` to CTC sequences ``root/NN`` (NN = 01, 02, ...); return their names.

    Writes raw frames (dtype kept), ``NN_GT/TRA`` (tracked labels + ``man_track.txt``) and ``NN_GT/SEG``
    (the same labels: DeepCell masks are complete segmentations). Refuses (:class:`DataError`) to write
    into a sequence folder that already holds files.
    """
    root, sequences, movies = Path(root), [], read_trk(path, channel)
    for index in range(len(movies)):  # never mix a new movie into an old one (e.g. a longer one)
        for folder in (root / f"{first_sequence + index:02d}", root / f"{first_sequence + index:02d}_GT"):
            if folder.is_dir() and any(folder.iterdir()):
                raise DataError(f"{folder}: already holds a sequence. Convert into another folder, choose another "
                                f"--first-sequence, or delete it first.")
    for index, movie in enumerate(movies):
        sequence = f"{first_sequence + index:02d}"
        num_frames = len(movie.raw)
        digits = 4 if num_frames > 1000 else 3
        raw_dir, seg_dir = root / sequence, root / f"{sequence}_GT" / "SEG"
        raw_dir.mkdir(parents=True, exist_ok=True)
        seg_dir.mkdir(parents=True, exist_ok=True)
        writer = CTCTrackWriter(root / f"{sequence}_GT" / "TRA", num_frames=num_frames, ground_truth=True)
        present: set[int] = set()
        for frame in range(num_frames):
            tifffile.imwrite(raw_dir / f"t{frame:0{digits}d}.tif", movie.raw[frame])
            labels = writer.write_frame(frame, movie.tracked[frame])
            write_label_image(seg_dir / f"man_seg{frame:0{digits}d}.tif", labels)
            present.update(np.unique(movie.tracked[frame]).tolist())
        try:
            writer.close({label: parent for label, parent in movie.parents.items() if label in present})
        except ValueError as error:
            raise DataError(f"{path} (movie {index}): inconsistent lineage: {error}") from error
        sequences.append(sequence)
    return sequences


def register_trk_dataset(name: str, path, root, channel: Optional[int] = None,
                         mask_source: Sequence[str] = DEFAULT_MASK_SOURCE) -> list[str]:
    """Register a ``.trk``/``.trks`` with detectron2 as dataset ``name``, via CTC folders in ``root``.

    Converts with :func:`trk_to_ctc` unless ``root/01`` already exists (delete ``root`` to convert
    again), then calls :func:`~celltrack.data.ctc.register_ctc_dataset`. Returns the sequence names.
    """
    root = Path(root)
    if (root / "01").is_dir():
        sequences = sorted(p.name for p in root.iterdir() if (root / f"{p.name}_GT").is_dir())
    else:
        sequences = trk_to_ctc(path, root, channel)
    register_ctc_dataset(name, root, sequences, mask_source)
    return sequences
