"""The accuracy section: every CellTrack variant and every peer on each sequence, detected and GT cells.

CellTrack's rows link cached cells (:mod:`cache`) with each variant's tracker through the evaluator's frame
loop (``write_tracked_sequence``); the peers (:mod:`baselines`) link the very same cells.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

from baselines import CLASSICAL_DEFAULTS, baseline_linkers, baseline_rows, classical_row, describe_laptrack, iou_method, laptrack_options
from cache import cached_frames, detections_cache, fill_cache
from celltrack.config import get_celltrack_cfg
from celltrack.data import read_frame
from celltrack.evaluation import write_tracked_sequence
from celltrack.tracking.predictor import CellTrackPredictor
from celltrack.tracking.tracker import Tracker
from common import REPO, fresh, log, timed
from sequences import SequenceData, find_sequences, mark_training_data, score_row, skipped_row
from variants import VARIANTS, Model, build_models, missing_weights, model_cfg


def celltrack_rows(seq: SequenceData, gt_masks: bool, models: Dict[str, Model],
                   predictors: Dict[str, CellTrackPredictor], args, work: Path) -> Tuple[List[dict], Dict[str, float]]:
    """Every CellTrack variant on one sequence: detect (or embed the GT cells) once per model, then link the
    cached cells with each variant's tracker. Returns the rows and the seconds per frame of each model."""
    cells, rows, timings = ("gt" if gt_masks else "celltrack"), [], {}
    shape = read_frame(seq.frame_paths[0], 0).shape
    for key, model in models.items():
        variants = [variant for variant in VARIANTS if variant.model == key]
        reason = missing_weights(model)
        if reason:
            rows += [skipped_row(variant.method, seq, gt_masks, reason) for variant in variants]
            continue
        cache = detections_cache(args, work, model, seq, cells)
        timings[key] = fill_cache(predictors[key], seq, cache, gt_masks)
        similarity = predictors[key].similarity
        for variant in variants:
            tracker = Tracker(model_cfg(args, model, variant.tracker_opts), similarity=similarity)
            result_dir = fresh(work / "results" / seq.name / f"{variant.method}{'@gt' if gt_masks else ''}")
            frames = cached_frames(cache, seq.num_frames, variant.heads)
            _, seconds = timed(write_tracked_sequence, frames, tracker, result_dir, shape, seq.num_frames)
            rows.append(score_row(variant.method, seq, result_dir, args, uses_gt_masks=gt_masks, cells=cells,
                                  seconds=seconds, note=variant.note))
    return rows, timings


def run_accuracy(args, data: Path, work: Path) -> Tuple[List[dict], dict]:
    """All accuracy rows for the chosen sequences, and the run's parameters (with detection s/frame)."""
    sequences = find_sequences(data, args.sequences, args.max_frames, work)
    laptrack, provenance = laptrack_options(args.laptrack_options)
    if provenance["source"] != "tuned":
        log(f"accuracy: {provenance['note']}")
    training = mark_training_data(sequences, args.config_file, provenance)
    tracker = get_celltrack_cfg(str(REPO / args.config_file)).CELLTRACK.TRACKER
    linkers = baseline_linkers(tracker.METHOD, tracker.ALPHA, laptrack, describe_laptrack(laptrack, provenance))
    models = build_models(args)
    predictors = {key: CellTrackPredictor(model_cfg(args, model)) for key, model in models.items()
                  if missing_weights(model) is None}
    rows, timings = [], {}
    for seq in sequences:
        log(f"accuracy: {seq.name}, {seq.num_frames} frames" + (" (training data)" if seq.training_data else ""))
        for gt_masks in (False, True):
            celltrack, seconds = celltrack_rows(seq, gt_masks, models, predictors, args, work)
            rows += celltrack + baseline_rows(seq, gt_masks, models, linkers, args, work)
            timings.update({f"{seq.name} {'GT masks' if gt_masks else 'detected'} {key}": value
                            for key, value in seconds.items()})
        rows.append(classical_row(seq, laptrack, args, work))
    parameters = {"laptrack": laptrack, "laptrack_source": provenance, "classical": CLASSICAL_DEFAULTS,
                  "iou": {"method": iou_method(tracker.METHOD), "alpha": tracker.ALPHA,
                          "division_min_score": tracker.ALPHA},
                  "training_data": training,
                  "weights": {key: model.weights for key, model in models.items()}, "config_file": args.config_file,
                  "seconds_per_frame": timings, "max_frames": args.max_frames}
    return rows, parameters
