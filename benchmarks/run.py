#!/usr/bin/env python
"""CellTrack's benchmark in one command: accuracy against baselines, speed, scale (issue 6).

    python benchmarks/run.py                                   # everything; ~1 h on 2 CPU cores
    python benchmarks/run.py --only accuracy --max-frames 10   # a quick check that it runs end to end
    python benchmarks/run.py --only speed scale --out /tmp/bench

Data: the Cell Tracking Challenge sets under $CELLTRACK_DATA (default ../shared/data next to the
repository); the accuracy section, and the real frames of the speed section, are skipped cleanly when
they are absent. Outputs (``--out``, default benchmarks/): results.json, RESULTS.md (generated from it,
never edited by hand), accuracy.png and linker_scaling.png. A run of some sections (``--only``) keeps the
other sections of an existing results.json. Scratch files (detections cache, CTC results, movies) go to
``--work-dir`` (default benchmarks/work/, ignored by git); a rerun reuses cached detections.

Accuracy rows, all scored by py-ctcmetrics (``celltrack.evaluation.evaluate_ctc``):

* cells from CellTrack's detector (``uses_gt_masks`` false): ``celltrack`` (the default configuration a
  user gets: one-to-one assignment), ``celltrack-paper`` (the paper's per-cell rule), ``celltrack-gap2``
  (default + gap closing over 2 frames), the paper's ablation ``celltrack-no-spatial-head`` / ``celltrack-no-visual-head`` (models
  trained with one head off: pass their weights, else the rows say so and are skipped), the labelled
  extras ``celltrack-visual-scores-only`` / ``celltrack-spatial-scores-only`` (the full model, its tracker
  reading one head's scores: not a trained ablation), and ``iou`` (CellTrack's tracker and assignment
  with the learned scores off), ``iou-paper-rule`` (the same with the paper's per-cell rule) and
  ``laptrack`` linking the very same detections;
* ``classical+laptrack``: Otsu/watershed segmentation linked by laptrack;
* linking only (``uses_gt_masks`` true): the same CellTrack rows, ``iou`` and ``laptrack`` on the GT masks
  with identities removed (track_video.py's ``--masks`` mode; where the GT has no complete segmentation,
  as most GOWT1 frames, the TRA markers stand for the cells).

Peers are fair: laptrack's options are the ones ``benchmarks/tune_laptrack.py`` chose on the training
sequence Fluo-N2DH-SIM+ 01 (``benchmarks/laptrack_tuned.json``; LAPTRACK_DEFAULTS, said so in the report,
when the file is missing), and ``iou`` uses the config's ``CELLTRACK.TRACKER.METHOD`` and ``ALPHA``. Every
row carries ``training_data``: true on a sequence the evaluated model was trained on (the config's
``DATASETS.TRAIN``, frame ranges dropped) or laptrack was tuned on; RESULTS.md marks those tables. The
training sequence itself can be scored too (``--sequences Fluo-N2DH-SIM+/01``, in the defaults) to show
how far the test scores are from the training ones.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import celltrack  # noqa: E402,F401  (compat shims before detectron2)
import pycocotools.mask as mask_util  # noqa: E402
import torch  # noqa: E402

from baselines import (  # noqa: E402
    CLASSICAL_DEFAULTS, LAPTRACK_TUNED, classical_segmentation, laptrack_options, link_iou, link_laptrack,
    remove_identities)
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data import load_ctc_sequence, read_frame  # noqa: E402
from celltrack.data.ctc import RAW_PATTERN, read_lineage, write_lineage  # noqa: E402
from celltrack.data.movie import numbered_files  # noqa: E402
from celltrack.evaluation import evaluate_ctc, write_tracked_sequence  # noqa: E402
from celltrack.tracking.frame_loop import LinkingClock, track_frames  # noqa: E402
from celltrack.tracking.predictor import CellTrackPredictor  # noqa: E402
from celltrack.tracking.tracker import Detections, Tracker  # noqa: E402

SECTIONS = ("accuracy", "speed", "scale")
# Test sequence first; then the training sequences (marked as such in the report), to show the gap.
DEFAULT_SEQUENCES = ("Fluo-N2DH-SIM+/02", "Fluo-N2DH-GOWT1/01", "Fluo-N2DH-SIM+/01")
# The model a user gets: the one shipped in the package (celltrack/model_zoo).
DEFAULT_CONFIG = "celltrack/model_zoo/CellTrack-R18-FPN-cpu/config.yaml"
DEFAULT_WEIGHTS = "celltrack/model_zoo/CellTrack-R18-FPN-cpu/model_final.pth"
# The paper's ablation: linkers retrained (tools/train_linker.py) on the shipped detector with one head off.
ABLATION_LINKERS = {"no-spatial": ("MODEL.TRACK_HEAD.SPATIAL_ON", "False"), "no-visual": ("MODEL.TRACK_HEAD.VISUAL_ON", "False")}
HEADS = ("visual", "spatial")


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------------------------------ variants
@dataclass(frozen=True)
class Model:
    """A trained CellTrack model: its config overrides and weights (None = not given)."""

    key: str
    config_file: str
    weights: Optional[str] = None
    how_to_train: str = ""
    opts: Tuple = ()


@dataclass(frozen=True)
class Variant:
    """A CellTrack row: which model, which tracker options, which heads' scores the tracker reads."""

    method: str
    model: str = "main"
    tracker_opts: Tuple = ()
    heads: Tuple[str, ...] = HEADS
    note: str = ""


# The ablation linkers are compared under the rule the default uses (their own configs' fitted models).
DEFAULT_RULE = ("CELLTRACK.TRACKER.METHOD", "learned")
VARIANTS = (
    Variant("celltrack", note="default configuration (the shipped model): the learned link and division models "
                              "(logistic over head margins, overlap, displacement, area; fitted on the training movies; "
                              "rule chosen by benchmarks/linker_validation.py)"),
    Variant("celltrack-global", tracker_opts=("CELLTRACK.TRACKER.METHOD", "global"),
            note="one-to-one assignment of the averaged head scores + IoU within the learned distance gate"),
    Variant("celltrack-paper", tracker_opts=("CELLTRACK.TRACKER.METHOD", "paper"),
            note="the paper's per-cell fusion rule (visual and spatial argmax agree, else overlap)"),
    Variant("celltrack-gap2", tracker_opts=("CELLTRACK.TRACKER.MAX_GAP", 2), note="default + gap closing over 2 frames"),
    Variant("celltrack-no-spatial-head", model="no-spatial", heads=("visual",), tracker_opts=DEFAULT_RULE,
            note="paper's ablation: linker trained the same way without the spatial head"),
    Variant("celltrack-no-visual-head", model="no-visual", heads=("spatial",), tracker_opts=DEFAULT_RULE,
            note="paper's ablation: linker trained the same way without the visual head"),
    Variant("celltrack-visual-scores-only", heads=("visual",),
            note="full model; the tracker reads only the visual head's scores (not a trained ablation)"),
    Variant("celltrack-spatial-scores-only", heads=("spatial",),
            note="full model; the tracker reads only the spatial head's scores (not a trained ablation)"),
)


def build_models(args) -> Dict[str, Model]:
    models = {"main": Model("main", args.config_file, args.weights,
                            "python tools/train_net.py --config-file configs/CellTrack-R18-FPN-cpu.yaml, then "
                            "tools/train_linker.py (celltrack/model_zoo/CellTrack-R18-FPN-cpu/MODEL_CARD.md)")}
    for key, (option, value) in ABLATION_LINKERS.items():
        folder = Path(getattr(args, f"linker_{key.replace('-', '_')}") or f"output/linker-{key}")
        train = (f"python tools/train_linker.py --config-file configs/CellTrack-R18-FPN-cpu.yaml --weights "
                 f"{args.weights} --output {folder} MODEL.TRACK_HEAD.POSITION_ENCODING polar "
                 f"MODEL.TRACK_HEAD.NUM_NEIGHBORS 8 {option} {value}")
        models[key] = Model(key, str(folder / "config.yaml"), str(folder / "model_final.pth"), train)
    return models


def missing_weights(model: Model) -> Optional[str]:
    """Why a model cannot be used, or None."""
    option = "--weights" if model.key == "main" else f"--linker-{model.key}"
    if not model.weights:
        return f"no weights given ({option}); train them with `{model.how_to_train}`"
    if not Path(model.weights).is_file():
        return f"weights {model.weights} not found ({option}); train them with `{model.how_to_train}`"
    return None


def model_cfg(args, model: Model, extra: Sequence = ()):
    opts = list(model.opts) + ["MODEL.WEIGHTS", model.weights or "", "MODEL.DEVICE", args.device] + list(extra)
    return get_celltrack_cfg(str(REPO / model.config_file), opts)


# ------------------------------------------------------------------------------------------- sequences
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
    """A view of ``gt_dir`` with its first ``num_frames`` frames only (links, and a cut lineage)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    for folder, prefix in (("TRA", "man_track"), ("SEG", "man_seg")):
        if not (gt_dir / folder).is_dir():
            continue
        (out_dir / folder).mkdir(parents=True)
        for path in (gt_dir / folder).glob(f"{prefix}*.tif"):
            if int(path.stem[len(prefix):]) < num_frames:
                (out_dir / folder / path.name).symlink_to(path.resolve())
    lineage = read_lineage(gt_dir / "TRA" / "man_track.txt")
    lineage = lineage[lineage[:, 1] < num_frames].copy()
    lineage[:, 2] = np.minimum(lineage[:, 2], num_frames - 1)
    write_lineage(out_dir / "TRA" / "man_track.txt", lineage)
    return out_dir


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


# ----------------------------------------------------------------------------------- detection cache
def cache_key(*parts) -> str:
    text = json.dumps([str(part) for part in parts])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def weights_identity(path: str) -> str:
    stat = Path(path).stat()
    return f"{Path(path).resolve()}:{stat.st_size}:{int(stat.st_mtime)}"


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


# ------------------------------------------------------------------------------------------ accuracy
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


def fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    return folder


def timed(function, *arguments, **options) -> Tuple[object, float]:
    start = time.perf_counter()
    value = function(*arguments, **options)
    return value, time.perf_counter() - start


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


def detections_cache(args, work: Path, model: Model, seq: SequenceData, cells: str) -> Path:
    """The cache folder of one model's cells on one sequence (a new key when anything that matters changes)."""
    return work / "cache" / cache_key(weights_identity(model.weights), model.config_file, model.opts, args.device,
                                      cells, seq.name, seq.num_frames)


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


def describe_laptrack(options: dict, provenance: dict) -> str:
    """One line: laptrack's options and where they come from."""
    values = ", ".join(f"{key} {value:g}" for key, value in options.items())
    if provenance["source"] == "tuned":
        return (f"LAP on centroids with gap closing and splitting; {values}: tuned on {provenance['sequence']} "
                f"GT masks (training data; benchmarks/{provenance['file']})")
    return f"LAP on centroids with gap closing and splitting; {values}: UNTUNED defaults ({provenance['note']})"


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


# --------------------------------------------------------------------------------------------- speed
def speed_frames(data: Path, work: Path, count: int) -> Tuple[List[np.ndarray], str]:
    """Frames at Fluo-N2DH-SIM+ size: its first ``count`` frames of sequence 02, else synthetic ones."""
    folder = data / "Fluo-N2DH-SIM+" / "02"
    if folder.is_dir():
        frames = numbered_files(folder, RAW_PATTERN)
        return [read_frame(frames[t], t) for t in sorted(frames)[:count]], str(folder)
    from celltrack.data import make_synthetic_sequence

    root = work / "speed-movie"
    if not (root / "01").is_dir():
        make_synthetic_sequence(root, "01", num_frames=count, num_cells=40, height=773, width=739, seed=0,
                                cell_radius=(20.0, 30.0))
    frames = numbered_files(root / "01", RAW_PATTERN)
    return [read_frame(frames[t], t) for t in sorted(frames)[:count]], "synthetic 773x739 (SIM+ data not found)"


def plain_mask_rcnn(cfg, celltrack_model: torch.nn.Module) -> torch.nn.Module:
    """The same Mask R-CNN with the same weights, without the track head (and without a tracker)."""
    from detectron2.modeling import build_model

    plain_cfg = cfg.clone()
    plain_cfg.defrost()
    plain_cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    plain_cfg.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    model = build_model(plain_cfg)
    missing, unexpected = model.load_state_dict(celltrack_model.state_dict(), strict=False)
    if missing or any(not key.startswith("roi_heads.track_head.") for key in unexpected):
        raise RuntimeError(f"plain Mask R-CNN does not match CellTrack's weights: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    return model.eval()


def measure_inference(args, data: Path, work: Path) -> dict:
    """Frames/s of CellTrack (detection + embeddings + tracker) vs the same Mask R-CNN, interleaved per frame."""
    model = build_models(args)["main"]
    trained = missing_weights(model) is None
    cfg = model_cfg(args, model if trained else Model("main", args.config_file))
    if not trained:
        cfg.MODEL.WEIGHTS = ""
        log(f"speed: {missing_weights(model)}; timing an untrained model (speed only)")
    torch.manual_seed(0)
    predictor = CellTrackPredictor(cfg) if trained else CellTrackPredictor(cfg, model=_untrained(cfg))
    plain = plain_mask_rcnn(cfg, predictor.model)
    frames, source = speed_frames(data, work, args.speed_frames + 1)
    plain_times, segment_times, clock, last = [], [], LinkingClock(), {}

    @torch.no_grad()
    def segment(image, _):  # the plain Mask R-CNN, then CellTrack, on the same frame
        inputs = predictor.model_input(image)
        start = time.perf_counter()
        cells = plain.inference([inputs])[0]["instances"].to("cpu")
        cells = cells[cells.scores >= predictor.min_score]
        middle = time.perf_counter()
        tracked = predictor.segment(image)
        plain_times.append(middle - start)
        segment_times.append(time.perf_counter() - middle)
        last["cells"] = len(tracked[0])
        return tracked

    track_frames(((image, None) for image in frames), segment, predictor.make_tracker(), [clock],
                 timings=clock.timings)
    # CellTrack's time per frame: detection + embeddings + the tracker; the first frame warms up both models.
    celltrack_times = (np.array(segment_times) + np.array(clock.seconds))[1:]
    plain_times = plain_times[1:]
    plain_s, celltrack_s = float(np.median(plain_times)), float(np.median(celltrack_times))
    return {
        "frames": len(plain_times), "frame_size": list(frames[0].shape), "source": source,
        "weights": model.weights if trained else None, "trained_weights": trained, "device": args.device,
        "torch_threads": torch.get_num_threads(), "cells_last_frame": last["cells"],
        "maskrcnn_seconds_per_frame": plain_s, "celltrack_seconds_per_frame": celltrack_s,
        "maskrcnn_fps": 1 / plain_s, "celltrack_fps": 1 / celltrack_s,
        "overhead_percent": 100 * (celltrack_s / plain_s - 1),
        "celltrack_linking_ms_per_frame": 1e3 * clock.timings["linking"] / len(frames),
    }


def _untrained(cfg) -> torch.nn.Module:
    from detectron2.modeling import build_model

    return build_model(cfg)


def measure_training(args, data: Path, work: Path) -> dict:
    """Training images/s with and without the track head (same config, data, seed; both frames of a pair count)."""
    from detectron2.data import DatasetCatalog, build_detection_train_loader
    from detectron2.engine import SimpleTrainer
    from detectron2.modeling import build_model
    from detectron2.solver import build_optimizer
    from detectron2.utils.events import EventStorage

    from celltrack.data import PairedFrameMapper, make_synthetic_sequence, register_ctc_dataset

    root = data / "Fluo-N2DH-SIM+"
    source = str(root / "01")
    if not (root / "01").is_dir():
        root = work / "train-movie" / "Synthetic"
        if not (root / "01").is_dir():
            make_synthetic_sequence(root, "01", num_frames=8, num_cells=30, height=512, width=512, seed=0,
                                    cell_radius=(20.0, 30.0))
        source = "synthetic 512x512 (SIM+ data not found)"
    name = f"benchmark-train-{cache_key(root)}"
    if name not in DatasetCatalog.list():
        register_ctc_dataset(name, root, sequences=["01"])
    measured = {"source": source, "iterations": args.train_iters, "warmup_iterations": 2}
    for label, extra in (("with_track_head", []), ("without_track_head", ["MODEL.ROI_HEADS.NAME", "StandardROIHeads"])):
        cfg = get_celltrack_cfg(str(REPO / args.config_file),
                                ["MODEL.DEVICE", args.device, "DATASETS.TRAIN", (name,), "MODEL.WEIGHTS", ""] + extra)
        torch.manual_seed(cfg.SEED if cfg.SEED >= 0 else 0)
        np.random.seed(0)
        model = build_model(cfg)
        model.train()
        trainer = SimpleTrainer(model, build_detection_train_loader(cfg, mapper=PairedFrameMapper(cfg, is_train=True)),
                                build_optimizer(cfg, model))
        times = []
        with EventStorage(0) as storage:
            trainer.storage = storage
            for iteration in range(args.train_iters + 2):
                storage.iter = trainer.iter = iteration
                start = time.perf_counter()
                trainer.run_step()
                if iteration >= 2:
                    times.append(time.perf_counter() - start)
        images = 2 * cfg.SOLVER.IMS_PER_BATCH  # each input is a (t-1, t) pair: both frames go through the model
        step = float(np.median(times))
        measured[label] = {"seconds_per_iteration": step, "images_per_second": images / step,
                           "pairs_per_second": cfg.SOLVER.IMS_PER_BATCH / step}
        del trainer, model
    measured["overhead_percent"] = 100 * (measured["with_track_head"]["seconds_per_iteration"]
                                          / measured["without_track_head"]["seconds_per_iteration"] - 1)
    return measured


# --------------------------------------------------------------------------------------------- scale
def measure_linker(args) -> dict:
    """Linker ms/frame vs cells for each rule (the default is "learned"), and the fitted exponent of
    the growth, on the synthetic movies of ``celltrack.tracking.benchmark``.

    Every rule is timed by its ``benchmark_linker``; "learned" with the shipped config's fitted
    ``LinkModel`` when there is one, else a hand-set one: time depends on how many links and divisions
    pass the thresholds, not on the exact weights. The hand-set weights favour, as fitted ones do, high head similarity and
    overlap, a small displacement (``displacement_scale`` 2 px: the movie's per-frame step) and, for a
    division, similar daughters close to the mother and to each other. Each row's ``divisions`` shows how
    a rule links the movie (20 frames, the default, hold 1, 18 and 90 divisions at 10, 100 and 1000 cells;
    these weights find 1, 14 and 89).
    """
    from celltrack.tracking.benchmark import benchmark_linker
    from celltrack.tracking.link_model import DIVISION_FEATURES, LINK_FEATURES, LinkModel

    # One weight per feature, in the order of LINK_FEATURES / DIVISION_FEATURES, then the bias.
    link_weights = dict(visual_margin=1.0, spatial_margin=1.0, iou=2.0, distance=-0.5, distance_squared=-0.1, area_change=-1.0)
    division_weights = dict(visual_mother=0.5, spatial_mother=0.5, near_daughter=-0.3, far_daughter=-0.5,
                            daughter_spacing=0.0, midpoint_offset=-1.0, area_sum=0.0, area_imbalance=-1.0, iou_sum=1.0)
    link_model = LinkModel(tuple(link_weights[name] for name in LINK_FEATURES) + (0.0,),
                           tuple(division_weights[name] for name in DIVISION_FEATURES) + (2.0,), displacement_scale=2.0)
    config_file = getattr(args, "config_file", None)
    if config_file and (REPO / config_file).is_file():  # the shipped model's fitted weights, when there are some
        link_model = LinkModel.from_config(get_celltrack_cfg(str(REPO / config_file))) or link_model

    rules = ("learned", "global", "paper")
    rows = []
    for method in rules:
        for cells in args.linker_cells:
            result = benchmark_linker(cells, num_frames=args.linker_frames, method=method,
                                      link_model=link_model if method == "learned" else None)
            rows.append({"method": method, "num_cells": cells, "ms_per_frame": result["ms_per_frame"],
                         "max_ms": result["max_ms"], "divisions": int(result["divisions"])})
            log(f"scale: linker {method:7s} {cells:5d} cells: {result['ms_per_frame']:.2f} ms/frame")
    exponents = {}
    for method in rules:
        points = [(row["num_cells"], row["ms_per_frame"]) for row in rows if row["method"] == method and row["num_cells"] >= 100]
        if len(points) >= 2:
            n, ms = np.log(np.array(points)).T
            exponents[method] = {"fit_100_and_up": float(np.polyfit(n, ms, 1)[0]),
                                 "last_two": float((ms[-1] - ms[-2]) / (n[-1] - n[-2]))}
    return {"frames": args.linker_frames, "rows": rows, "exponent": exponents, "default": DEFAULT_RULE[1],
            "learned_weights": {"link": list(link_model.link_weights), "division": list(link_model.division_weights),
                                "displacement_scale": link_model.displacement_scale},
            "note": "ms/frame = k * cells^exponent fitted on a log-log scale; 1 = linear, n log n fits ~1.1; "
                    "'learned' with hand-set weights (timing only)"}


def max_rss_of(command: List[str], log_path: Path) -> Tuple[int, float, int]:
    """Run ``command``; return (its peak resident memory in bytes, wall seconds, exit status)."""
    start = time.perf_counter()
    with open(log_path, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of this child alone
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen, so it does not wait again
    return usage.ru_maxrss * 1024, time.perf_counter() - start, process.returncode  # Linux reports KiB


def measure_memory(args, work: Path) -> dict:
    """Peak memory of tools/track_video.py on a long and a short synthetic movie (separate processes)."""
    script = REPO / "tools" / "track_video.py"
    if not script.is_file():
        return {"not_measured": "tools/track_video.py does not exist yet"}
    from celltrack.data import make_synthetic_sequence

    model = build_models(args)["main"]
    config, weights, note, opts = args.config_file, model.weights, "trained weights", []
    if missing_weights(model):
        from detectron2.modeling import build_model

        config = "configs/CellTrack-R18-FPN-tiny.yaml"
        weights = str(work / "memory-tiny-untrained.pth")
        torch.manual_seed(0)
        torch.save({"model": build_model(get_celltrack_cfg(str(REPO / config), ["MODEL.DEVICE", "cpu"])).state_dict()},
                   weights)
        note = f"untrained tiny model, at most 20 cells per frame ({missing_weights(model)})"
        opts = ["TEST.DETECTIONS_PER_IMAGE", "20"]  # an untrained detector keeps hundreds of boxes per frame
    longest = max(args.memory_frames)
    size = args.memory_size
    root = work / f"memory-movie-{longest}x{size}"
    if not (root / "01" / f"t{longest - 1:03d}.tif").is_file():
        make_synthetic_sequence(root, "01", num_frames=longest, num_cells=12, height=size, width=size, seed=0,
                                cell_radius=(8.0, 12.0))
    runs = []
    for count in sorted(args.memory_frames):
        movie = fresh(work / f"memory-frames-{count}")
        movie.mkdir(parents=True)
        for frame in range(count):
            (movie / f"t{frame:03d}.tif").symlink_to((root / "01" / f"t{frame:03d}.tif").resolve())
        out = fresh(work / f"memory-output-{count}")
        command = [sys.executable, str(script), str(movie), "--config-file", str(REPO / config), "--weights", weights,
                   "--output", str(out), "--device", args.device] + opts
        log(f"scale: track_video on {count} frames of {size}x{size}")
        rss, seconds, status = max_rss_of(command, work / f"memory-{count}.log")
        if status != 0:
            return {"not_measured": f"tools/track_video.py failed (exit {status}) on {count} frames; "
                                    f"see {work / f'memory-{count}.log'}", "command": " ".join(command)}
        runs.append({"frames": count, "peak_rss_mb": rss / 2**20, "seconds": seconds, "fps": count / seconds})
    short, long = runs[0], runs[-1]
    return {"runs": runs, "frame_size": [size, size], "model": note, "config_file": config,
            "growth_percent": 100 * (long["peak_rss_mb"] / short["peak_rss_mb"] - 1)}


# ---------------------------------------------------------------------------------------------- meta
def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "torch_threads": torch.get_num_threads()}
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "celltrack": celltrack.__version__}
    for package in ("torch", "detectron2", "py-ctcmetrics", "laptrack", "numpy", "scikit-image"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            import detectron2

            found[package] = getattr(detectron2, "__version__", "unknown") if package == "detectron2" else "missing"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        found["git"] = commit + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        found["git"] = "unknown"
    return found


def json_safe(value):
    """numpy numbers -> Python numbers, NaN and inf -> None (strict JSON), recursively."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--data", help="CTC data folder (default $CELLTRACK_DATA, else ../shared/data)")
    parser.add_argument("--sequences", nargs="+", default=list(DEFAULT_SEQUENCES),
                        help="<dataset>/<NN> to report on (training sequences are scored too, marked as such)")
    parser.add_argument("--max-frames", type=int, help="only the first N frames of each sequence (quick runs)")
    parser.add_argument("--config-file", default=DEFAULT_CONFIG)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, help="the trained CellTrack model")
    parser.add_argument("--linker-no-spatial", help="tools/train_linker.py output trained with MODEL.TRACK_HEAD.SPATIAL_ON "
                        "False (default output/linker-no-spatial)")
    parser.add_argument("--linker-no-visual", help="tools/train_linker.py output trained with MODEL.TRACK_HEAD.VISUAL_ON "
                        "False (default output/linker-no-visual)")
    parser.add_argument("--laptrack-options", default=str(LAPTRACK_TUNED),
                        help="laptrack's tuned options (benchmarks/tune_laptrack.py); defaults when missing")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="py-ctcmetrics processes")
    parser.add_argument("--speed-frames", type=int, default=10, help="frames timed for frames/s")
    parser.add_argument("--train-iters", type=int, default=8, help="training iterations timed (after 2 warm-up)")
    parser.add_argument("--linker-cells", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--linker-frames", type=int, default=20)
    parser.add_argument("--memory-frames", type=int, nargs=2, default=[50, 500], help="short and long movie")
    parser.add_argument("--memory-size", type=int, default=160, help="frame size (px) of the memory movies")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json, RESULTS.md and the plots")
    parser.add_argument("--work-dir", default=str(HERE / "work"), help="scratch folder (caches, CTC results)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from report import write_report

    args = parse_args(argv)
    os.chdir(REPO)  # relative paths (config, weights) are the repository's
    data = Path(args.data or os.environ.get("CELLTRACK_DATA") or REPO.parent / "shared" / "data")
    work, out = Path(args.work_dir).resolve(), Path(args.out).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results.setdefault("meta", {}).setdefault("sections", {})
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for section in SECTIONS:
        if section not in args.only:
            continue
        log(f"--- {section}")
        start = time.perf_counter()
        if section == "accuracy":
            if not data.is_dir():
                log(f"accuracy: data folder {data} not found (set CELLTRACK_DATA); skipping")
                results["accuracy"], parameters = [], {"skipped": f"data folder {data} not found"}
            else:
                results["accuracy"], parameters = run_accuracy(args, data, work)
        elif section == "speed":
            results["speed"] = {"inference": measure_inference(args, data, work),
                                "training": measure_training(args, data, work)}
            parameters = {}
        else:
            results["scale"] = {"linker": measure_linker(args), "memory": measure_memory(args, work)}
            parameters = {}
        results["meta"]["sections"][section] = {
            "command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(time.perf_counter() - start, 1), "data": str(data), **parameters}
    results["meta"].update({"command": command, "machine": machine(), "versions": versions(),
                            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    results_path.write_text(json.dumps(json_safe(results), indent=2))
    write_report(results, out)
    log(f"wrote {results_path}, {out / 'RESULTS.md'} and the plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
