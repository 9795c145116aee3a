"""The peers of the accuracy section (``celltrack.evaluation.baselines``) as rows: ``iou`` and ``iou-paper-rule``
(``link_iou``: CellTrack's tracker and assignment with the learned scores off), ``laptrack`` (options tuned on
training data by ``benchmarks/tune_laptrack.py``, read by :func:`laptrack_options`), and ``classical+laptrack``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Tuple

from celltrack.tracking.tracker import GIVEN_CELLS
from celltrack.data.ctc import remove_identities  # noqa: F401  (re-exported: linker_validation.py imports it here)
from celltrack.evaluation.baselines import (  # noqa: F401
    CLASSICAL_DEFAULTS, LAPTRACK_DEFAULTS, classical_segmentation, link_iou, link_laptrack)

# laptrack's options chosen on training data (Fluo-N2DH-SIM+ 01 GT masks) by benchmarks/tune_laptrack.py.
LAPTRACK_TUNED = Path(__file__).resolve().parent / "laptrack_tuned.json"


def laptrack_options(path=LAPTRACK_TUNED) -> Tuple[dict, dict]:
    """laptrack's options for the benchmark: those ``benchmarks/tune_laptrack.py`` chose, else the defaults.

    Returns ``(options, provenance)``: the keyword arguments of ``link_laptrack``, and where they come from
    (``source``; for tuned values ``file``, ``sequence``, ``selection``, ``scores`` there and ``command``).
    Raises ValueError naming the file when it exists but lacks an option (rerun tune_laptrack.py).
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


def iou_track_options(tracker, given_cells: bool) -> dict:
    """:func:`baseline_linkers`' track filter and gaps for CellTrack's config ``tracker`` (CELLTRACK.TRACKER):
    its MIN_TRACK_LENGTH, MAX_GAP and FILL_GAPS on detected cells, none on given cells (``GIVEN_CELLS``)."""
    return dict(GIVEN_CELLS) if given_cells else {"min_track_length": tracker.MIN_TRACK_LENGTH,
                                                  "max_gap": tracker.MAX_GAP, "fill_gaps": tracker.FILL_GAPS}


def baseline_linkers(method: str, alpha: float, persistence: int, laptrack: dict, laptrack_note: str,
                     min_track_length: int = 0, max_gap: int = 0, fill_gaps: bool = False) -> List[Linker]:
    """``iou`` with CellTrack's assignment ``method`` (:func:`iou_method`), overlap threshold ``alpha``, division
    persistence, least track length and gap closing (the config's CELLTRACK.TRACKER.METHOD, ALPHA,
    DIVISION_PERSISTENCE, MIN_TRACK_LENGTH, MAX_GAP, FILL_GAPS) and the learned scores off, the paper's per-cell
    rule (no persistence, no gaps) when that is not the default, and ``laptrack`` with the options ``laptrack``."""

    def iou(rule: str, persistence: int, min_length: int, gap: int = 0, fill: bool = False) -> Callable:
        return lambda frames, out_dir: link_iou(frames, out_dir, alpha=alpha, method=rule,
                                                division_persistence=persistence, min_track_length=min_length,
                                                max_gap=gap, fill_gaps=fill)

    rule = iou_method(method)
    assignment = (f"its default '{rule}' assignment" if rule == method
                  else f"the '{rule}' assignment (its default '{method}' rule without learned weights)")
    shortest = (f"; tracks without parent or daughters shorter than {min_track_length} frames discarded"
                if min_track_length > 1 else "")
    gaps = (f"; a track lost for up to {max_gap} frames resumed by IoU >= {alpha:g} with its last cell"
            + (", its gap filled" if fill_gaps else "") if max_gap > 0 else "")
    linkers = [Linker("iou", iou(rule, persistence, min_track_length, max_gap, fill_gaps),
                      f"CellTrack's tracker with the learned scores off: {assignment} of mask IoU (IoU >= {alpha:g}; "
                      f"a second daughter needs IoU >= {alpha:g}; both daughters must last {persistence} frames"
                      f"{shortest}{gaps})")]
    if rule != "paper":
        linkers.append(Linker("iou-paper-rule", iou("paper", 0, 0),
                              f"as `iou` with the paper's per-cell rule (each cell continues its best overlap, "
                              f"IoU >= {alpha:g}; two cells taking one = a division)"))
    linkers.append(Linker("laptrack", lambda frames, out_dir: link_laptrack(frames, out_dir, **laptrack),
                          laptrack_note))
    return linkers
