"""Score a tracking result with the official Cell Tracking Challenge measures, through py-ctcmetrics.

CellTrack does not implement any measure itself: :func:`evaluate_ctc` checks the two folders, then hands
them to py-ctcmetrics (an independent implementation of the CTC evaluation software) and returns its
numbers under its own key names:

* technical: ``SEG``, ``DET``, ``TRA`` (with ``AOGM``, ``AOGM_0`` and the error counts ``AOGM_NS`` ...
  ``AOGM_EC``), ``LNK``, ``OP_CSB``, ``OP_CTB``;
* biological: ``CT``, ``TF``, ``BC(i)``, ``CCA``, ``BIO(i)`` for i = 0..3 (the temporal tolerance of a
  division, in frames), with ``gt_divisions`` and ``tp_div(i)`` / ``fp_div(i)`` / ``fn_div(i)``;
* ``Valid`` (1 when py-ctcmetrics accepts the result) and ``divisions``, the number of divisions in the
  result (tracks with two or more daughters, counted by py-ctcmetrics' own rule) to set against
  ``gt_divisions``.

"Where the GT allows": ``SEG`` (and the measures built on it) only when ``GT/SEG`` exists; it is then
computed over the frames that have a ``man_segTTT.tif`` and over the cells those frames annotate, as
py-ctcmetrics does (Fluo-N2DH-GOWT1 annotates 30 frames, most of them partially). ``BC(i)`` is None when
the GT has no division, ``CCA`` when no GT track both begins and ends with a division; ``BIO(i)``
averages the biological measures that are not None.

Folders (the CTC layout)::

    RESULT_DIR/maskTTT.tif, RESULT_DIR/res_track.txt           e.g. .../Fluo-N2DH-SIM+/02_RES
    GT_DIR/TRA/man_trackTTT.tif, GT_DIR/TRA/man_track.txt      e.g. .../Fluo-N2DH-SIM+/02_GT
    GT_DIR/SEG/man_segTTT.tif                                  (optional)
"""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from ..data.ctc_format import MASK_PATTERN, MAX_LABEL, TRA_PATTERN, read_lineage
from ..data.movie import DataError

__all__ = ["DEFAULT_METRICS", "SUMMARY_KEYS", "InvalidResultError", "evaluate_ctc", "format_metrics"]

# What to ask py-ctcmetrics for (its identifiers). BC(2) makes it compute BC(0..3) and, with CT, TF and
# CCA, BIO(0..3).
DEFAULT_METRICS = ("Valid", "SEG", "DET", "TRA", "LNK", "CT", "TF", "BC(2)", "CCA")
# The keys a summary table shows, in order (py-ctcmetrics' names, plus our ``divisions``).
SUMMARY_KEYS = ("SEG", "DET", "TRA", "LNK", "CT", "TF", "BC(2)", "CCA", "BIO(2)", "divisions", "gt_divisions")



class InvalidResultError(DataError):
    """py-ctcmetrics judged a result folder invalid (the CTC would score it 0); the message says why."""


def _frames(folder: Path, pattern: re.Pattern, what: str) -> list[int]:
    """Frame numbers of the files in ``folder`` named by ``pattern``; raise unless they are 0..T-1."""
    frames = sorted(int(match.group(1)) for match in map(pattern.fullmatch, (p.name for p in folder.iterdir()))
                    if match)
    if not frames:
        raise DataError(f"{folder}: no {what} files; expected the CTC layout (see celltrack.evaluation.ctc_metrics).")
    missing = sorted(set(range(frames[-1] + 1)) - set(frames))
    if missing:
        raise DataError(f"{folder} (frame {missing[0]}): {what} file missing; frames must be 0..{frames[-1]} "
                        f"without gaps.")
    return frames


def _check_folders(result_dir: Path, gt_dir: Path) -> None:
    """Raise a DataError naming the folder (and frame) for anything py-ctcmetrics would assert on."""
    tra_dir = gt_dir / "TRA"
    for path, what in ((result_dir, "result folder"), (tra_dir, "GT tracking folder (GT_DIR/TRA)")):
        if not path.is_dir():
            raise DataError(f"{path}: {what} does not exist. Check the path.")
    for path in (result_dir / "res_track.txt", tra_dir / "man_track.txt"):
        if not path.is_file():
            raise DataError(f"{path}: lineage file missing; a CTC folder needs it ('L B E P' per track).")
    result_frames = _frames(result_dir, MASK_PATTERN, "result mask (maskTTT.tif)")
    gt_frames = _frames(tra_dir, TRA_PATTERN, "GT tracking mask (man_trackTTT.tif)")
    if len(result_frames) != len(gt_frames):
        raise DataError(
            f"{result_dir}: {len(result_frames)} result masks for {len(gt_frames)} GT frames in {tra_dir}; a result "
            f"needs one maskTTT.tif per frame of the sequence (an empty mask for a frame without cells).")
    # py-ctcmetrics offsets result labels by the largest GT label inside a uint16 image: past 65535 they
    # would wrap around and be scored as other cells without any error.
    result_max = int(read_lineage(result_dir / "res_track.txt")[:, 0].max(initial=0))
    gt_max = int(read_lineage(tra_dir / "man_track.txt")[:, 0].max(initial=0))
    if result_max + gt_max + 1 > MAX_LABEL:
        raise DataError(
            f"{result_dir}/res_track.txt: track labels up to {result_max} with GT labels up to {gt_max} overflow "
            f"the 16-bit arithmetic of py-ctcmetrics; renumber the result's tracks from 1 (CTCTrackWriter does).")


def evaluate_ctc(result_dir, gt_dir, metrics: Sequence[str] = DEFAULT_METRICS, threads: int = 1,
                 strict: bool = True) -> Dict[str, Optional[float]]:
    """Score the CTC result in ``result_dir`` against the CTC ground truth in ``gt_dir`` (py-ctcmetrics).

    Args:
        result_dir: folder with ``maskTTT.tif`` (one per frame) and ``res_track.txt``.
        gt_dir: folder with ``TRA/`` (and optionally ``SEG/``), e.g. ``.../Fluo-N2DH-SIM+/02_GT``.
        metrics: py-ctcmetrics identifiers (default :data:`DEFAULT_METRICS`); ``SEG`` is dropped when the
            GT has no ``SEG/`` folder.
        threads: processes py-ctcmetrics matches frames with (0 = one per CPU).
        strict: raise :class:`InvalidResultError` when py-ctcmetrics finds the result invalid; with
            False, return its answer (``Valid`` 0, every measure None).

    Returns:
        ``{name: value}`` with py-ctcmetrics' keys (module docstring) plus ``divisions``; a value is None
        where the GT does not allow the measure. A result without any cell has ``Valid`` 0 and no measure.

    Raises:
        DataError naming the folder and frame for missing or misnumbered files and lineage errors;
        InvalidResultError (a DataError) for results py-ctcmetrics rejects, with its reasons.
    """
    from ctc_metrics import evaluate_sequence
    from ctc_metrics.metrics.biological.bc import get_ids_that_ends_with_split
    from ctc_metrics.utils.filesystem import read_tracking_file

    result_dir, gt_dir = Path(result_dir), Path(gt_dir)
    _check_folders(result_dir, gt_dir)
    metrics = [name for name in metrics if name != "SEG" or (gt_dir / "SEG").is_dir()]
    result_tracks = read_tracking_file(str(result_dir / "res_track.txt"))
    if len(result_tracks) == 0:
        if strict:
            raise InvalidResultError(f"{result_dir}: the result has no cell in any frame (res_track.txt is empty). "
                                     f"There is nothing to score; check the run that wrote it.")
        warnings.warn(f"{result_dir}: the result has no cell in any frame; py-ctcmetrics cannot score it.")
        return {"Valid": 0, "divisions": 0}
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        # py-ctcmetrics appends to the list it is given; hand it a copy.
        scores = evaluate_sequence(str(result_dir), str(gt_dir), metrics=list(metrics), threads=threads)
    if "Valid" in scores and not scores["Valid"]:
        reasons = "; ".join(sorted({str(w.message) for w in caught})) or "no reason given"
        if strict:
            raise InvalidResultError(f"{result_dir}: py-ctcmetrics finds this result invalid: {reasons}. Make "
                                     f"res_track.txt agree with the masks (CTCTrackWriter writes valid results).")
        warnings.warn(f"{result_dir}: py-ctcmetrics finds this result invalid: {reasons}")
    scores = {name: _plain(value) for name, value in scores.items()}
    scores["divisions"] = int(len(get_ids_that_ends_with_split(result_tracks)))
    return scores


def _plain(value):
    """numpy scalars -> Python numbers (JSON-serialisable); None stays None."""
    if value is None:
        return None
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return float(value)


def format_metrics(scores: Dict[str, Optional[float]], keys: Sequence[str] = SUMMARY_KEYS) -> str:
    """Two-line plain-text table (header, values) of ``keys``; "n/a" where a measure is None or absent."""
    cells = []
    for key in keys:
        value = scores.get(key)
        text = "n/a" if value is None else f"{value:d}" if isinstance(value, int) else f"{value:.4f}"
        cells.append((key, text))
    widths = [max(len(key), len(text)) for key, text in cells]
    header = "  ".join(key.rjust(width) for (key, _), width in zip(cells, widths))
    values = "  ".join(text.rjust(width) for (_, text), width in zip(cells, widths))
    return f"{header}\n{values}"
