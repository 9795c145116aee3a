"""The CTC sequences a benchmark reports on, what counts as training data, and one scored row."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from celltrack.config import get_celltrack_cfg
from celltrack.data.ctc import RAW_PATTERN, cut_ground_truth, load_ctc_sequence, remove_identities, track_labels
from celltrack.data.movie import numbered_files
from celltrack.evaluation import evaluate_ctc
from common import REPO, fresh, log


@dataclass
class SequenceData:
    """One CTC sequence to report on, limited to its first ``num_frames`` frames."""

    dataset: str
    sequence: str
    root: Path
    frame_paths: List[Path]
    gt_dir: Path  # the GT folder, or a truncated copy of it in the work folder
    records: Optional[List[dict]] = field(default=None, repr=False)
    training_data: bool = False  # the evaluated model was trained (or laptrack tuned) on this sequence

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.sequence}"

    @property
    def num_frames(self) -> int:
        return len(self.frame_paths)

    def gt_labels(self, frame: int, seed: int = 0) -> np.ndarray:
        """GT masks of a frame, identities removed (the same random relabelling on every call): the TRA markers,
        the tracking ground truth, in every frame. On Fluo-N2DH-SIM+ they are the gold masks; on GOWT1 01, whose
        gold masks cover some cells of 30 frames, gold masks where they exist and eroded markers elsewhere would
        make a cell's area and centre jump (up to 7x, 31 px) between frames, which no segmentation does."""
        if self.records is None:
            self.records = load_ctc_sequence(self.root, self.sequence, mask_source=("TRA",))[: self.num_frames]
        return remove_identities(track_labels(self.records[frame]), np.random.default_rng([seed, frame]))

    def gt_label_frames(self) -> Iterator[np.ndarray]:
        return (self.gt_labels(frame) for frame in range(self.num_frames))


def find_sequences(data: Path, names: Sequence[str], max_frames: Optional[int], work: Path) -> List[SequenceData]:
    """Each "<dataset>/<NN>" found under ``data`` (with its GT), cut to ``max_frames`` frames when given."""
    found = []
    for name in names:
        dataset, _, sequence = name.rpartition("/")
        root, gt_dir = data / dataset, data / dataset / f"{sequence}_GT"
        if not (root / sequence).is_dir() or not (gt_dir / "TRA").is_dir():
            log(f"accuracy: {root / sequence} (with {sequence}_GT/TRA) not found; skipping {name}")
            continue
        frames = numbered_files(root / sequence, RAW_PATTERN)
        if max_frames and max_frames < len(frames):
            gt_dir = cut_ground_truth(root, sequence, 0, max_frames, fresh(work / "gt" / dataset / f"{sequence}_GT"))
        found.append(SequenceData(dataset, sequence, root, [frames[t] for t in sorted(frames)][: max_frames or None],
                                  gt_dir))
    return found


def training_sequences(dataset_names: Sequence[str]) -> Dict[str, str]:
    """The sequences a model has seen, from its ``DATASETS.TRAIN``: ``{"<dataset>/<NN>": the name there}``.

    A frame range (``"Fluo-N2DH-SIM+/01[0:55]"``) is dropped from the key: the whole sequence counts as
    training data, since the frames of a sequence share its cells and imaging.
    """
    return {re.sub(r"\[[^\]]*\]$", "", name): name for name in dataset_names}


def config_training_sequences(config_file: str) -> Dict[str, str]:
    """:func:`training_sequences` of a config file's ``DATASETS.TRAIN`` (a path relative to the repository)."""
    return training_sequences(get_celltrack_cfg(str(REPO / config_file)).DATASETS.TRAIN)


def mark_training_data(sequences: Sequence[SequenceData], config_file: str, laptrack: dict) -> Dict[str, str]:
    """Set ``training_data`` on the sequences the model was trained on or laptrack was tuned on; return
    ``{"<dataset>/<NN>": why}`` for each such sequence."""
    why: Dict[str, List[str]] = {}
    for sequence, name in config_training_sequences(config_file).items():
        why.setdefault(sequence, []).append(f"CellTrack trained on {name} (DATASETS.TRAIN of {config_file})")
    if laptrack.get("sequence"):
        why.setdefault(laptrack["sequence"], []).append("laptrack's options tuned on it")
    for seq in sequences:
        seq.training_data = seq.name in why
    return {sequence: "; ".join(reasons) for sequence, reasons in why.items()}


def _row(method: str, seq: SequenceData, uses_gt_masks: bool, **values) -> dict:
    return {"method": method, "dataset": seq.dataset, "sequence": seq.sequence, "uses_gt_masks": uses_gt_masks,
            "training_data": seq.training_data, **values}


def score_row(method: str, seq: SequenceData, result_dir: Path, args, *, uses_gt_masks: bool, cells: str,
              seconds: float, note: str = "") -> dict:
    """A result folder scored by py-ctcmetrics against the sequence's GT, as a row of results.json."""
    scores = evaluate_ctc(result_dir, seq.gt_dir, threads=args.threads, strict=False)
    row = _row(method, seq, uses_gt_masks, cells=cells, frames=seq.num_frames, **scores, link_seconds=round(seconds, 2),
               **({"note": note} if note else {}))
    summary = "  ".join(f"{key} {scores[key]:.3f}" for key in ("SEG", "DET", "TRA", "CT", "BC(2)", "BIO(2)")
                        if scores.get(key) is not None)
    log(f"  {method:32s} {'GT masks' if uses_gt_masks else cells:10s} {summary}")
    return row


def skipped_row(method: str, seq: SequenceData, uses_gt_masks: bool, reason: str) -> dict:
    log(f"  {method:32s} skipped: {reason}")
    return _row(method, seq, uses_gt_masks, skipped=reason)
