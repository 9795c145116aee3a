"""The Cell Tracking Challenge (CTC) file format: file names, the lineage file, label images.

A CTC folder holds one 16-bit label image per frame (``maskTTT.tif`` in a result, ``man_trackTTT.tif`` in
ground truth; 3 digits, 4 past 1000 frames) and a lineage file (``res_track.txt`` / ``man_track.txt``),
one track per line: ``L B E P`` = label, first frame, last frame, parent label (0 = none). Datasets are
read by ``ctc_dataset``, results written by ``ctc_writer``. ``cut_ground_truth`` and ``remove_identities``
make evaluation inputs from a GT folder (a frame range; GT masks without track identities).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import numpy as np
import tifffile

from .movie import DataError

RAW_PATTERN = re.compile(r"t(\d{3,4})\.tif")
SEG_PATTERN = re.compile(r"man_seg(\d{3,4})\.tif")
TRA_PATTERN = re.compile(r"man_track(\d{3,4})\.tif")
MASK_PATTERN = re.compile(r"mask(\d{3,4})\.tif")  # a result's label images
MAX_LABEL = 65535  # CTC masks are 16-bit


# ----------------------------------------------------------------------------------------- lineage
def _parse_lineage(path) -> tuple[np.ndarray, dict[int, int]]:
    """Read and validate ``man_track.txt`` / ``res_track.txt``; also return ``{label: line number}``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: lineage file missing; every CTC sequence needs it ('L B E P' per track).")
    rows, line_of = [], {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4 or not all(re.fullmatch(r"-?\d+", field) for field in fields):
            raise DataError(f"{path}:{number}: '{line}' is not four integers 'L B E P'.")
        label, begin, end, parent = map(int, fields)
        problem = (
            "the label must be positive" if label <= 0
            else f"label {label} is listed twice (also line {line_of.get(label)})" if label in line_of
            else "the first frame B must be >= 0" if begin < 0
            else "the last frame E comes before the first frame B" if end < begin
            else "the parent must be 0 (none) or a positive label" if parent < 0
            else "a track cannot be its own parent" if parent == label
            else None
        )
        if problem:
            raise DataError(f"{path}:{number}: '{line}': {problem}.")
        rows.append((label, begin, end, parent))
        line_of[label] = number
    table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    end_of = dict(zip(table[:, 0].tolist(), table[:, 2].tolist()))
    for label, begin, _, parent in table.tolist():
        if parent == 0:
            continue
        if parent not in end_of:
            raise DataError(f"{path}:{line_of[label]}: parent {parent} of track {label} is not listed.")
        if end_of[parent] >= begin:
            raise DataError(
                f"{path}:{line_of[label]}: track {label} begins at frame {begin} but its parent {parent} "
                f"(line {line_of[parent]}) ends at frame {end_of[parent]}; a parent must end before its "
                f"daughters begin."
            )
    return table, line_of


def read_lineage(path) -> np.ndarray:
    """Read a CTC lineage file (``man_track.txt`` / ``res_track.txt``).

    Returns ``(N, 4)`` int64 rows ``[label, begin, end, parent]`` in file order (frames are 0-based,
    ``parent`` 0 = none). Raises :class:`DataError` naming ``file:line`` for malformed lines, duplicate
    labels, missing parents and parents that do not end before their daughters begin.
    """
    return _parse_lineage(path)[0]


def _replace_atomically(path: Path, write) -> None:
    """Call ``write(temporary_path)``, then move the result over ``path`` in one step."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_lineage(path, table: np.ndarray) -> None:
    """Write ``(N, 4)`` rows ``[label, begin, end, parent]`` as a CTC lineage file, atomically."""
    rows = np.asarray(table).tolist()
    lines = "".join(f"{label} {begin} {end} {parent}\n" for label, begin, end, parent in rows)
    _replace_atomically(Path(path), lambda temporary: temporary.write_text(lines))


def write_label_image(path, labels: np.ndarray, compression: Optional[str] = None) -> None:
    """Write a 2-D label image as a uint16 TIFF, atomically (CTC masks are 16-bit)."""
    _replace_atomically(Path(path), lambda temporary: tifffile.imwrite(
        temporary, np.asarray(labels, dtype=np.uint16), compression=compression))


def cut_ground_truth(root, sequence: str, first: int, stop: int, out) -> Path:
    """``<root>/<sequence>_GT`` of frames first..stop-1, renumbered from 0, written to ``out``.

    TRA and SEG images are copied under their new frame numbers (same digit count); the lineage keeps the
    tracks alive in the cut, clipped to it, and a parent only where the parent is in the cut and the
    daughter begins inside it. A folder the GT lacks (e.g. SEG) stays absent. Returns ``out``.
    """
    gt, out = Path(root) / f"{sequence}_GT", Path(out)
    for kind, prefix in (("TRA", "man_track"), ("SEG", "man_seg")):
        if not (gt / kind).is_dir():
            continue
        (out / kind).mkdir(parents=True, exist_ok=True)
        for source in (gt / kind).glob(f"{prefix}*.tif"):
            digits = source.stem[len(prefix):]
            if digits.isdigit() and first <= int(digits) < stop:
                target = out / kind / f"{prefix}{int(digits) - first:0{len(digits)}d}.tif"
                target.write_bytes(source.read_bytes())
    rows = []
    lineage = read_lineage(gt / "TRA" / "man_track.txt")
    alive = {int(label) for label, begin, end, _ in lineage if begin < stop and end >= first}
    for label, begin, end, parent in lineage.tolist():
        if label in alive:
            rows.append([label, max(begin, first) - first, min(end, stop - 1) - first,
                         parent if parent in alive and begin >= first else 0])
    write_lineage(out / "TRA" / "man_track.txt", np.array(rows))
    return out


def remove_identities(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Relabel the cells of a GT frame 1..N in a random order, so that no track id leaks to a linker."""
    present = np.unique(labels)
    present = present[present > 0]
    lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
    lookup[present] = rng.permutation(len(present)) + 1
    return lookup[labels]
