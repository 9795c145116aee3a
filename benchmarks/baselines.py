"""The peers of the accuracy section: ``iou``, ``laptrack`` and ``classical+laptrack`` rows.

* :func:`link_iou` - the IoU-overlap linker: CellTrack's tracker with no track head (``similarity=None``)
  and the same assignment as CellTrack's default, so it differs from CellTrack only by the learned scores.
* ``link_laptrack`` and ``classical_segmentation`` (``celltrack.evaluation.baselines``): laptrack on
  centroids, its options tuned on training data by ``benchmarks/tune_laptrack.py`` (:func:`laptrack_options`
  reads them), and Otsu/watershed segmentation.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from cache import cached_labels, detections_cache
from celltrack.data import read_frame
from celltrack.data.ctc import remove_identities  # noqa: F401  (re-exported: linker_validation.py imports it here)
from celltrack.evaluation import write_tracked_sequence
from celltrack.evaluation.baselines import (  # noqa: F401
    CLASSICAL_DEFAULTS, LAPTRACK_DEFAULTS, classical_segmentation, link_laptrack)
from celltrack.tracking.tracker import Detections, Tracker
from common import fresh, timed
from sequences import SequenceData, score_row, skipped_row
from variants import Model, missing_weights

# laptrack's options chosen on training data (Fluo-N2DH-SIM+ 01 GT masks) by benchmarks/tune_laptrack.py.
LAPTRACK_TUNED = Path(__file__).resolve().parent / "laptrack_tuned.json"


def link_iou(frames: Iterable[np.ndarray], out_dir, alpha: float = 0.1, num_frames: Optional[int] = None,
             method: str = "global") -> np.ndarray:
    """Link label images by mask overlap (see module docstring); write ``out_dir``; return the lineage.

    Args:
        frames: label images of frames 0, 1, 2, ...
        out_dir: CTC result folder.
        alpha: least mask IoU of a link, and of a second daughter (``division_min_score``: without learned
            scores a link's weight is its IoU alone, and the tracker's 0.5 would find almost no division).
        num_frames: frames in the movie, if known (for the writer).
        method: the tracker's assignment, CellTrack's default ("global"); pass the config's
            ``CELLTRACK.TRACKER.METHOD`` so that this row follows CellTrack's default.
    """
    frames = iter(frames)
    first = next(frames)
    detections = (Detections.from_labels(labels) for labels in itertools.chain([first], frames))
    tracker = Tracker(similarity=None, method=method, alpha=alpha, division_min_score=alpha)
    return write_tracked_sequence(detections, tracker, out_dir, first.shape, num_frames)


def laptrack_options(path=LAPTRACK_TUNED) -> Tuple[dict, dict]:
    """laptrack's options for the benchmark: those ``benchmarks/tune_laptrack.py`` chose, else the defaults.

    Args:
        path: the JSON tune_laptrack.py writes (default ``benchmarks/laptrack_tuned.json``).

    Returns:
        ``(options, provenance)``: ``options`` has the keyword arguments of :func:`link_laptrack`;
        ``provenance`` says where they come from (``source``, and for tuned values ``file``, ``sequence``,
        ``selection``, ``scores`` on the tuning sequence and ``command``).

    Raises:
        ValueError naming the file when it exists but lacks an option (rerun tune_laptrack.py).
    """
    path = Path(path)
    if not path.is_file():
        return dict(LAPTRACK_DEFAULTS), {
            "source": "untuned defaults",
            "note": f"{path} not found, so laptrack runs with LAPTRACK_DEFAULTS (untuned); choose its options "
                    f"on training data with `python benchmarks/tune_laptrack.py`"}
    tuned = json.loads(path.read_text())
    chosen = tuned.get("chosen", {})
    missing = sorted(set(LAPTRACK_DEFAULTS) - set(chosen))
    if missing:
        raise ValueError(f"{path}: 'chosen' lacks {missing}; rerun `python benchmarks/tune_laptrack.py` to rewrite it")
    options = {key: type(LAPTRACK_DEFAULTS[key])(chosen[key]) for key in LAPTRACK_DEFAULTS}
    return options, {"source": "tuned", "file": path.name, "sequence": tuned.get("sequence"),
                     "selection": tuned.get("selection"), "scores": tuned.get("chosen_scores"),
                     "command": tuned.get("command")}


def describe_laptrack(options: dict, provenance: dict) -> str:
    """One line: laptrack's options and where they come from."""
    values = ", ".join(f"{key} {value:g}" for key, value in options.items())
    if provenance["source"] == "tuned":
        return (f"LAP on centroids with gap closing and splitting; {values}: tuned on {provenance['sequence']} "
                f"GT masks (training data; benchmarks/{provenance['file']})")
    return f"LAP on centroids with gap closing and splitting; {values}: UNTUNED defaults ({provenance['note']})"


@dataclass(frozen=True)
class Linker:
    """A baseline linker row: ``link(label_frames, result_dir)`` writes a CTC result."""

    method: str
    link: Callable
    note: str


# The rule ``iou`` uses for each tracker rule that needs learned weights: the same one-to-one assignment,
# of mask IoU instead of learned link probabilities.
WITHOUT_LEARNED_WEIGHTS = {"learned": "global"}


def iou_method(method: str) -> str:
    """The tracker rule of the ``iou`` row for CellTrack's rule ``method`` (the config's CELLTRACK.TRACKER.METHOD)."""
    return WITHOUT_LEARNED_WEIGHTS.get(method, method)


def baseline_linkers(method: str, alpha: float, laptrack: dict, laptrack_note: str) -> List[Linker]:
    """``iou`` with CellTrack's assignment ``method`` (:func:`iou_method`) and overlap threshold ``alpha``
    (the config's CELLTRACK.TRACKER.METHOD and ALPHA) and the learned scores off, the same with the paper's
    per-cell rule when that is not the default, and ``laptrack`` with the options ``laptrack``."""

    def iou(rule: str) -> Callable:
        return lambda frames, out_dir: link_iou(frames, out_dir, alpha=alpha, method=rule)

    rule = iou_method(method)
    assignment = (f"its default '{rule}' assignment" if rule == method
                  else f"the '{rule}' assignment (its default '{method}' rule without learned weights)")
    linkers = [Linker("iou", iou(rule), f"CellTrack's tracker with the learned scores off: {assignment} of mask IoU "
                                        f"(IoU >= {alpha:g}; a second daughter needs IoU >= {alpha:g})")]
    if rule != "paper":
        linkers.append(Linker("iou-paper-rule", iou("paper"),
                              f"as `iou` with the paper's per-cell rule (each cell continues its best overlap, "
                              f"IoU >= {alpha:g}; two cells taking one = a division)"))
    linkers.append(Linker("laptrack", lambda frames, out_dir: link_laptrack(frames, out_dir, **laptrack),
                          laptrack_note))
    return linkers


def baseline_rows(seq: SequenceData, gt_masks: bool, models: Dict[str, Model], linkers: Sequence[Linker], args,
                  work: Path) -> List[dict]:
    """The baseline linkers on the same cells as CellTrack: its detections, or the GT masks."""
    if gt_masks:
        label_frames, cells = seq.gt_label_frames, "gt"
    elif missing_weights(models["main"]) is None:
        cache = detections_cache(args, work, models["main"], seq, "celltrack")
        label_frames, cells = (lambda: cached_labels(cache, seq.num_frames)), "celltrack"
    else:
        return [skipped_row(linker.method, seq, False, "needs CellTrack's detections (--weights)")
                for linker in linkers]
    rows = []
    for linker in linkers:
        result_dir = fresh(work / "results" / seq.name / f"{linker.method}{'@gt' if gt_masks else ''}")
        _, seconds = timed(linker.link, label_frames(), result_dir)
        rows.append(score_row(linker.method, seq, result_dir, args, uses_gt_masks=gt_masks, cells=cells,
                              seconds=seconds, note=linker.note))
    return rows


def classical_row(seq: SequenceData, laptrack: dict, args, work: Path) -> dict:
    """Otsu + watershed segmentation, linked by laptrack: what a user has without a trained model."""
    result_dir = fresh(work / "results" / seq.name / "classical+laptrack")
    segmented = (classical_segmentation(read_frame(path, frame)) for frame, path in enumerate(seq.frame_paths))
    _, seconds = timed(link_laptrack, segmented, result_dir, **laptrack)
    return score_row("classical+laptrack", seq, result_dir, args, uses_gt_masks=False, cells="classical",
                     seconds=seconds, note="segmentation and linking time together; laptrack's options as `laptrack`")
