"""The CTC sequences a benchmark reports on, what counts as training data, and one scored row."""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util

from celltrack.config import get_celltrack_cfg
from celltrack.data.ctc import RAW_PATTERN, cut_ground_truth, load_ctc_sequence, remove_identities
from celltrack.data.movie import numbered_files
from celltrack.evaluation import evaluate_ctc
from common import REPO, log


@dataclass
class SequenceData:
    """One CTC sequence to report on, limited to its first ``num_frames`` frames."""

    dataset: str
    sequence: str
    root: Path
    frame_paths: List[Path]
    gt_dir: Path  # the GT folder, or a truncated view of it in the work folder
    records: Optional[List[dict]] = field(default=None, repr=False)
    training_data: bool = False  # the evaluated model was trained (or laptrack tuned) on this sequence

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.sequence}"

    @property
    def num_frames(self) -> int:
        return len(self.frame_paths)

    def gt_labels(self, frame: int, seed: int = 0) -> np.ndarray:
        """GT masks of a frame, identities removed (the same random relabelling on every call).

        Every cell of the frame is there: its SEG mask where the SEG frame annotates it, else its TRA
        marker (as the data loader reads them; on GOWT1 01, markers in most frames)."""
        if self.records is None:
            self.records = load_ctc_sequence(self.root, self.sequence)[: self.num_frames]
        record = self.records[frame]
        labels = np.zeros((record["height"], record["width"]), dtype=np.int32)
        for annotation in record["annotations"]:
            labels[mask_util.decode(annotation["segmentation"]).astype(bool)] = annotation["track_id"]
        return remove_identities(labels, np.random.default_rng([seed, frame]))

    def gt_label_frames(self) -> Iterator[np.ndarray]:
        return (self.gt_labels(frame) for frame in range(self.num_frames))


def training_sequences(dataset_names: Sequence[str]) -> Dict[str, str]:
    """The sequences a model has seen, from its ``DATASETS.TRAIN``: ``{"<dataset>/<NN>": the name there}``.

    A frame range (``"Fluo-N2DH-SIM+/01[0:55]"``) is dropped from the key: the whole sequence counts as
    training data, since the frames of a sequence share its cells and imaging.
    """
    return {re.sub(r"\[[^\]]*\]$", "", name): name for name in dataset_names}


def config_training_sequences(config_file: str) -> Dict[str, str]:
    """:func:`training_sequences` of a config file's ``DATASETS.TRAIN`` (a path relative to the repository)."""
    return training_sequences(get_celltrack_cfg(str(REPO / config_file)).DATASETS.TRAIN)


def truncated_gt(gt_dir: Path, num_frames: int, out_dir: Path) -> Path:
    """A copy of ``gt_dir`` with its first ``num_frames`` frames only (and a cut lineage)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    return cut_ground_truth(gt_dir.parent, gt_dir.name[: -len("_GT")], 0, num_frames, out_dir)


def find_sequences(data: Path, names: Sequence[str], max_frames: Optional[int], work: Path) -> List[SequenceData]:
    found = []
    for name in names:
        dataset, _, sequence = name.rpartition("/")
        root = data / dataset
        if not (root / sequence).is_dir() or not (root / f"{sequence}_GT" / "TRA").is_dir():
            log(f"accuracy: {root / sequence} (with {sequence}_GT/TRA) not found; skipping {name}")
            continue
        frames = numbered_files(root / sequence, RAW_PATTERN)
        paths = [frames[frame] for frame in sorted(frames)]
        gt_dir = root / f"{sequence}_GT"
        if max_frames and max_frames < len(paths):
            paths = paths[:max_frames]
            gt_dir = truncated_gt(gt_dir, max_frames, work / "gt" / dataset / f"{sequence}_GT")
        found.append(SequenceData(dataset, sequence, root, paths, gt_dir))
    return found


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


def score_row(method: str, seq: SequenceData, result_dir: Path, args, *, uses_gt_masks: bool, cells: str,
              seconds: float, note: str = "") -> dict:
    scores = evaluate_ctc(result_dir, seq.gt_dir, threads=args.threads, strict=False)
    row = {"method": method, "dataset": seq.dataset, "sequence": seq.sequence, "uses_gt_masks": uses_gt_masks,
           "training_data": seq.training_data, "cells": cells, "frames": seq.num_frames, **scores,
           "link_seconds": round(seconds, 2)}
    if note:
        row["note"] = note
    summary = "  ".join(f"{key} {scores[key]:.3f}" for key in ("SEG", "DET", "TRA", "CT", "BC(2)", "BIO(2)")
                        if scores.get(key) is not None)
    log(f"  {method:32s} {'GT masks' if uses_gt_masks else cells:10s} {summary}")
    return row


def skipped_row(method: str, seq: SequenceData, uses_gt_masks: bool, reason: str) -> dict:
    log(f"  {method:32s} skipped: {reason}")
    return {"method": method, "dataset": seq.dataset, "sequence": seq.sequence, "uses_gt_masks": uses_gt_masks,
            "training_data": seq.training_data, "skipped": reason}
