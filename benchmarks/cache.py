"""The detections cache: each model's cells (or embedded GT cells) per frame, computed once per sequence."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from celltrack.data import read_frame
from celltrack.tracking.predictor import CellTrackPredictor
from celltrack.tracking.tracker import Detections
from common import HEADS
from sequences import SequenceData
from variants import Model


def cache_key(*parts) -> str:
    text = json.dumps([str(part) for part in parts])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def weights_identity(path: str) -> str:
    stat = Path(path).stat()
    return f"{Path(path).resolve()}:{stat.st_size}:{int(stat.st_mtime)}"


def detections_cache(args, work: Path, model: Model, seq: SequenceData, cells: str) -> Path:
    """The cache folder of one model's cells on one sequence (a new key when anything that matters changes)."""
    return work / "cache" / cache_key(weights_identity(model.weights), model.config_file, model.opts, args.device,
                                      cells, seq.name, seq.num_frames)


def fill_cache(predictor: CellTrackPredictor, seq: SequenceData, cache: Path, gt_masks: bool) -> Optional[float]:
    """Detect (or, with ``gt_masks``, embed the GT cells) in every frame into ``cache``; return s/frame.

    One ``tTTT.npz`` per frame: ``labels`` (uint16, cell i = i + 1), ``centers``, ``scores`` and the
    embeddings of each head; frames already there are kept, so an interrupted run continues.
    """
    cache.mkdir(parents=True, exist_ok=True)
    seconds, counted = 0.0, 0
    for frame, path in enumerate(seq.frame_paths):
        target = cache / f"t{frame:04d}.npz"
        if target.exists():
            continue
        image = read_frame(path, frame)
        given = seq.gt_labels(frame) if gt_masks else None
        start = time.perf_counter()
        cells, detections = predictor.segment(image, given)
        scores = cells.scores.numpy()
        seconds += time.perf_counter() - start
        counted += 1
        embeddings = {name: cells.get(f"{name}_embeddings").cpu().numpy() for name in HEADS
                      if cells.has(f"{name}_embeddings")}
        partial = cache / f"t{frame:04d}.partial.npz"
        np.savez(partial, labels=detections.labels.astype(np.uint16), centers=detections.centers, scores=scores,
                 **embeddings)
        partial.replace(target)
    return seconds / counted if counted else None  # None: every frame came from the cache


def cached_frames(cache: Path, num_frames: int, heads: Sequence[str]) -> Iterator[Detections]:
    for frame in range(num_frames):
        with np.load(cache / f"t{frame:04d}.npz") as stored:
            embeddings = {name: stored[name] for name in heads if name in stored.files}
            yield Detections(stored["centers"], stored["labels"].astype(np.int32), embeddings)


def cached_labels(cache: Path, num_frames: int) -> Iterator[np.ndarray]:
    for frame in range(num_frames):
        with np.load(cache / f"t{frame:04d}.npz") as stored:
            yield stored["labels"].astype(np.int32)
