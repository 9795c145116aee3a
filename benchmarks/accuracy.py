"""The accuracy section: every CellTrack variant and every peer on each sequence, on detected and on GT cells.

Each model's cells (or the embedded GT cells) are computed once per sequence into a cache; CellTrack's rows
link the cached cells with each variant's tracker through the evaluator's frame loop
(``write_tracked_sequence``), and the peers (:mod:`baselines`) link the very same cells.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from baselines import (CLASSICAL_DEFAULTS, Linker, baseline_linkers, describe_laptrack, iou_method, iou_track_options,
                       laptrack_options)
from celltrack.config import get_celltrack_cfg
from celltrack.data import read_frame
from celltrack.evaluation import write_tracked_sequence
from celltrack.evaluation.baselines import classical_segmentation, link_laptrack
from celltrack.tracking.predictor import CellTrackPredictor, detection_score, neighbouring
from celltrack.tracking.tracker import GIVEN_CELLS, Detections, Tracker
from common import HEADS, REPO, fresh, log, timed
from sequences import SequenceData, find_sequences, mark_training_data, score_row, skipped_row
from variants import VARIANTS, Model, build_models, missing_weights, model_cfg


# ------------------------------------------------------------------------------------------------ the cache
def cache_key(*parts) -> str:
    return hashlib.sha1(json.dumps([str(part) for part in parts]).encode()).hexdigest()[:12]


def cell_settings(args, model: Model) -> str:
    """The model's config as far as it shapes its cells: all of it but the linking options (which the cached
    cells do not depend on) and the least score detected -- a changed MASK_BOX_SCALE, or a MIN_SCORE or
    CONTINUE_SCORE that changes what is detected, is a new cache key."""
    cfg = model_cfg(args, model)
    cfg.defrost()
    least = detection_score(cfg)
    cfg.CELLTRACK.pop("TRACKER")
    return f"{cfg.dump()}detection score: {least}"


def detections_cache(args, work: Path, model: Model, seq: SequenceData, cells: str) -> Path:
    """The cache folder of one model's cells on one sequence (a new key when anything that matters changes)."""
    weights = Path(model.weights)
    identity = f"{weights.resolve()}:{weights.stat().st_size}:{int(weights.stat().st_mtime)}"
    return work / "cache" / cache_key(identity, cell_settings(args, model), args.device, cells, seq.name,
                                      seq.num_frames)


def fill_cache(predictor: CellTrackPredictor, seq: SequenceData, cache: Path, gt_masks: bool) -> Optional[float]:
    """Detect (or, with ``gt_masks``, embed the GT cells) in every frame into ``cache``; return s/frame.

    One ``tTTT.npz`` per frame: ``labels`` (uint16, cell i = i + 1), ``centers``, ``scores`` and the
    embeddings of each head; frames already there are kept, so an interrupted run continues.
    """
    cache.mkdir(parents=True, exist_ok=True)
    seconds, counted = 0.0, 0
    images = (read_frame(path, frame) for frame, path in enumerate(seq.frame_paths))
    for frame, (image, neighbours) in enumerate(neighbouring(images)):  # neighbours: CELLTRACK.TEMPORAL_SMOOTHING
        target = cache / f"t{frame:04d}.npz"
        if target.exists():
            continue
        given = seq.gt_labels(frame) if gt_masks else None
        start = time.perf_counter()
        cells, detections = predictor.segment(image, given, neighbours)
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


def cached_frames(cache: Path, num_frames: int, heads: Sequence[str], min_score: float = 0.0) -> Iterator[Detections]:
    """The cached cells of each frame; only those scored ``min_score`` or more (the baselines: cells that
    CellTrack's tracker lets start a track, not those it keeps only to continue one, CONTINUE_SCORE)."""
    for frame in range(num_frames):
        with np.load(cache / f"t{frame:04d}.npz") as stored:
            embeddings = {name: stored[name] for name in heads if name in stored.files}
            scores = stored["scores"] if "scores" in stored.files else None
            cells = Detections(stored["centers"], stored["labels"].astype(np.int32), embeddings, scores)
        yield cells if scores is None or min_score <= 0 else cells.select(cells.scores >= min_score)


# ------------------------------------------------------------------------------------------------- the rows
def result_dir(work: Path, seq: SequenceData, method: str, gt_masks: bool) -> Path:
    return fresh(work / "results" / seq.name / f"{method}{'@gt' if gt_masks else ''}")


def celltrack_rows(seq: SequenceData, gt_masks: bool, models: Dict[str, Model],
                   predictors: Dict[str, CellTrackPredictor], args, work: Path) -> Tuple[List[dict], Dict[str, float]]:
    """Every CellTrack variant on one sequence: detect (or embed the GT cells) once per model, then link the
    cached cells with each variant's tracker. Returns the rows and the seconds per frame of each model."""
    cells, rows, timings = ("gt TRA markers" if gt_masks else "celltrack"), [], {}
    shape = read_frame(seq.frame_paths[0], 0).shape
    for key, model in models.items():
        variants = [variant for variant in VARIANTS if variant.model == key]
        if key not in predictors:  # the models are those found when the run started, even if weights appear later
            reason = missing_weights(model) or "its weights appeared after this run started: rerun"
            rows += [skipped_row(variant.method, seq, gt_masks, reason) for variant in variants]
            continue
        cache = detections_cache(args, work, model, seq, cells)
        timings[key] = fill_cache(predictors[key], seq, cache, gt_masks)
        for variant in variants:
            tracker = Tracker(model_cfg(args, model, variant.tracker_opts), similarity=predictors[key].similarity,
                              **(GIVEN_CELLS if gt_masks else {}))  # as track_video --masks
            out = result_dir(work, seq, variant.method, gt_masks)
            frames = cached_frames(cache, seq.num_frames, variant.heads)
            _, seconds = timed(write_tracked_sequence, frames, tracker, out, shape, seq.num_frames)
            rows.append(score_row(variant.method, seq, out, args, uses_gt_masks=gt_masks, cells=cells,
                                  seconds=seconds, note=variant.note))
    return rows, timings


def baseline_rows(seq: SequenceData, gt_masks: bool, models: Dict[str, Model], linkers: Sequence[Linker], args,
                  work: Path) -> List[dict]:
    """The baseline linkers on the same cells as CellTrack: its detections, or the GT masks."""
    if gt_masks:
        label_frames, cells = seq.gt_label_frames, "gt"
    elif missing_weights(models["main"]) is None:
        cache = detections_cache(args, work, models["main"], seq, "celltrack")
        min_score = model_cfg(args, models["main"]).CELLTRACK.TRACKER.MIN_SCORE
        label_frames, cells = (lambda: (cell.labels for cell in cached_frames(cache, seq.num_frames, (), min_score))), \
            "celltrack"
    else:
        return [skipped_row(linker.method, seq, False, "needs CellTrack's detections (--weights)")
                for linker in linkers]
    rows = []
    for linker in linkers:
        out = result_dir(work, seq, linker.method, gt_masks)
        _, seconds = timed(linker.link, label_frames(), out)
        rows.append(score_row(linker.method, seq, out, args, uses_gt_masks=gt_masks, cells=cells, seconds=seconds,
                              note=linker.note))
    return rows


def classical_row(seq: SequenceData, laptrack: dict, args, work: Path) -> dict:
    """Otsu + watershed segmentation, linked by laptrack: what a user has without a trained model."""
    out = result_dir(work, seq, "classical+laptrack", False)
    segmented = (classical_segmentation(read_frame(path, frame)) for frame, path in enumerate(seq.frame_paths))
    _, seconds = timed(link_laptrack, segmented, out, **laptrack)
    return score_row("classical+laptrack", seq, out, args, uses_gt_masks=False, cells="classical",
                     seconds=seconds, note="segmentation and linking time together; laptrack's options as `laptrack`")


def run_accuracy(args, data: Path, work: Path) -> Tuple[List[dict], dict]:
    """All accuracy rows for the chosen sequences, and the run's parameters (with detection s/frame)."""
    sequences = find_sequences(data, args.sequences, args.max_frames, work)
    laptrack, provenance = laptrack_options(args.laptrack_options)
    if provenance["source"] != "tuned":
        log(f"accuracy: {provenance['note']}")
    training = mark_training_data(sequences, args.config_file, provenance)
    tracker = get_celltrack_cfg(str(REPO / args.config_file)).CELLTRACK.TRACKER
    # On GT masks no track is discarded and no gap closed (MIN_TRACK_LENGTH and MAX_GAP are for the detector's
    # flickers and misses: tracker.GIVEN_CELLS), as for CellTrack's rows.
    linkers = {gt_masks: baseline_linkers(tracker.METHOD, tracker.ALPHA, tracker.DIVISION_PERSISTENCE, laptrack,
                                          describe_laptrack(laptrack, provenance), **iou_track_options(tracker, gt_masks))
               for gt_masks in (False, True)}
    models = build_models(args)
    predictors = {key: CellTrackPredictor(model_cfg(args, model)) for key, model in models.items()
                  if missing_weights(model) is None}
    rows, timings = [], {}
    for seq in sequences:
        log(f"accuracy: {seq.name}, {seq.num_frames} frames" + (" (training data)" if seq.training_data else ""))
        for gt_masks in (False, True):
            celltrack, seconds = celltrack_rows(seq, gt_masks, models, predictors, args, work)
            rows += celltrack + baseline_rows(seq, gt_masks, models, linkers[gt_masks], args, work)
            timings.update({f"{seq.name} {'GT masks' if gt_masks else 'detected'} {key}": value
                            for key, value in seconds.items()})
        rows.append(classical_row(seq, laptrack, args, work))
    parameters = {"laptrack": laptrack, "laptrack_source": provenance, "classical": CLASSICAL_DEFAULTS,
                  "iou": {"method": iou_method(tracker.METHOD), "alpha": tracker.ALPHA,
                          "division_min_score": tracker.ALPHA, "division_persistence": tracker.DIVISION_PERSISTENCE,
                          **iou_track_options(tracker, False), "on_gt_masks": iou_track_options(tracker, True)},
                  "training_data": training,
                  "weights": {key: model.weights for key, model in models.items()}, "config_file": args.config_file,
                  "seconds_per_frame": timings, "max_frames": args.max_frames}
    return rows, parameters
