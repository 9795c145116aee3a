"""Retrain only the linker, with the detector frozen: minutes on a CPU instead of hours.

Three steps on the training movies' ground truth (``cfg.DATASETS.TRAIN``), on **full frames** (the
position encoding of a cell is the one it gets at inference, not one cut by a training crop):

1. Every ground-truth cell of every frame is pooled from the frozen backbone once (its box, as
   ``track_video.py --masks`` embeds a given segmentation).
2. The track head (visual + spatial Siamese branches, ``MODEL.TRACK_HEAD.*``, e.g. another position
   encoding) is trained on exactly the pairs the tracker scores: every cell of t against its candidate
   cells of t-1 (nearest by centre within the distance gate, plus every overlapping cell). Labels are
   "same cell"; a daughter and its mother are *not* the same cell (divisions have their own model).
3. The link and division models of ``celltrack.tracking.link_model`` are fitted on the same candidates
   with the trained head's similarities; the displacement scale and the distance gate come from the
   training data's displacements.

The result is a weights file (the detector unchanged, the new track head) and a config whose
``CELLTRACK.TRACKER`` holds the fitted models (METHOD "learned"): use both with ``track_video.py``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import pycocotools.mask as mask_util
import torch
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model
from detectron2.structures import Boxes
from torch.nn import functional as F
from tqdm import tqdm

from .checkpoint import load_trained_weights
from .data.movie import read_frame
from .modeling.position_encoding import POSITION_ENCODINGS
from .modeling.track_head import build_track_head
from .tracking.link_model import (DIVISION_FEATURES, LINK_FEATURES, LinkModel, decided_divisions, describe,
                                  fit_link_weights, fit_logistic)
from .tracking.linking import candidate_pairs, mask_overlaps, merge_pairs, pair_values
from .tracking.predictor import CellTrackPredictor, boxes_from_labels
from .tracking.tracker import Detections

logger = logging.getLogger(__name__)


@dataclass
class FramePair:
    """Ground-truth cells of frames t-1 and t of one movie, as the linker sees them."""

    features: torch.Tensor  # (N_t, C, P, P) pooled ROI features of t (float16)
    positions: torch.Tensor  # (N_t, encoding) position encodings of t
    previous: int  # index of the FramePair of t-1 in the list, -1 for a sequence's first frame
    centers: np.ndarray  # (N_t, 2) centroids, frame pixels
    areas: np.ndarray  # (N_t,) pixels
    track_ids: np.ndarray  # (N_t,) ground-truth track of each cell
    parent_ids: np.ndarray  # (N_t,) parent track (0 = none)
    overlaps: tuple  # (pairs (K, 2), iou (K,)) with t-1


def _track_labels(record: dict) -> np.ndarray:
    labels = np.zeros((record["height"], record["width"]), dtype=np.int64)
    for annotation in record["annotations"]:
        labels[mask_util.decode(annotation["segmentation"]).astype(bool)] = annotation["track_id"]
    return labels


def detected_cells(predictor: CellTrackPredictor, image: np.ndarray, track_labels: np.ndarray):
    """The detector's cells of a frame as a label image (cells 1..N) and each cell's ground-truth track:
    the track whose mask it overlaps with IoU >= 0.5, else a unique negative id (a false detection)."""
    _, detections = predictor.segment(image)
    present = np.unique(track_labels)
    present = present[present > 0]
    lookup = np.zeros(int(track_labels.max(initial=0)) + 1, dtype=np.int64)
    lookup[present] = np.arange(1, len(present) + 1)
    pairs, iou = mask_overlaps(detections.labels, lookup[track_labels])
    tracks = -np.arange(1, detections.num_cells + 1, dtype=np.int64)
    matched = iou >= 0.5
    tracks[pairs[matched, 0]] = present[pairs[matched, 1]]
    return detections.labels, tracks


@torch.no_grad()
def collect_frames(cfg, model, records: List[dict], detected: bool = False) -> List[FramePair]:
    """Pool every ground-truth cell of ``records`` (one or more sequences) from the frozen model; with
    ``detected``, the detector's own cells instead, labelled with the ground-truth track they match."""
    predictor = CellTrackPredictor(cfg, model=model)
    roi_heads = model.roi_heads
    encode = POSITION_ENCODINGS[cfg.MODEL.TRACK_HEAD.POSITION_ENCODING]
    frames: List[FramePair] = []
    last = {}  # sequence -> (frame, index, labels)
    for record in tqdm(sorted(records, key=lambda r: (r["sequence"], r["frame"])), desc="pooling GT cells"):
        image = read_frame(record["file_name"], record["frame"])
        track_labels = _track_labels(record)
        present = np.unique(track_labels)
        present = present[present > 0]
        parent_of = {a["track_id"]: a["parent_id"] for a in record["annotations"]}
        if detected:
            cell_labels, present = detected_cells(predictor, image, track_labels)
            detections = Detections.from_labels(cell_labels)
        else:
            detections = Detections.from_labels(track_labels)
        inputs = predictor.model_input(image)
        features = model.backbone(model.preprocess_image([inputs]).tensor)
        scale = inputs["image"].shape[1] / image.shape[0]
        boxes = boxes_from_labels(detections.labels, detections.num_cells) * scale
        pooled = roi_heads.box_pooler([features[f] for f in roi_heads.box_in_features],
                                      [Boxes(torch.as_tensor(boxes, device=model.device))])
        centers = torch.as_tensor(detections.centers * scale, dtype=torch.float32)
        positions = encode(centers, cfg.MODEL.TRACK_HEAD.NUM_NEIGHBORS, cfg.MODEL.TRACK_HEAD.POSITION_SCALE)
        previous = last.get(record["sequence"])
        linked = previous is not None and previous[0] == record["frame"] - 1
        overlaps = mask_overlaps(detections.labels, previous[2]) if linked else (np.zeros((0, 2), np.int64), np.zeros(0))
        frames.append(FramePair(pooled.half().cpu(), positions, previous[1] if linked else -1, detections.centers,
                                np.bincount(detections.labels.ravel(), minlength=len(present) + 1)[1:].astype(float),
                                present, np.array([parent_of.get(t, 0) for t in present], dtype=np.int64),
                                overlaps))
        last[record["sequence"]] = (record["frame"], len(frames) - 1, detections.labels)
    return frames


def refit_link_models(cfg, linker_cfg, with_detections: bool = False) -> tuple:
    """Keep a retrained linker's track head and refit only its link and division models, on the ground-truth
    cells of ``cfg.DATASETS.TRAIN`` and, ``with_detections``, on the detector's own cells too (fragments,
    duplicates and missed cells; benchmarks/linker_validation.py found this worse on ground-truth cells of
    other movies). ``linker_cfg``: a config written by :func:`train_linker` (its weights in MODEL.WEIGHTS).
    Returns (the refitted config, report)."""
    model = build_model(linker_cfg).eval()
    load_trained_weights(model, linker_cfg.MODEL.WEIGHTS)
    records = [record for name in cfg.DATASETS.TRAIN for record in DatasetCatalog.get(name)]
    frames = collect_frames(linker_cfg, model, records)
    statistics = displacement_statistics(frames)
    detected = collect_frames(linker_cfg, model, records, detected=True) if with_detections else []
    linker, counts = fit_link_model(linker_cfg, model.roi_heads.track_head, concatenate(frames, detected), statistics)
    fitted = linker_cfg.clone()
    fitted.defrost()
    linker.write_to(fitted.CELLTRACK.TRACKER)
    return fitted, {"frames": len(frames), "detected_frames": len(detected), **statistics, **counts}


def concatenate(*lists: List[FramePair]) -> List[FramePair]:
    """One list of several lists of frames (each list's ``previous`` indices shifted to the new positions)."""
    result: List[FramePair] = []
    for frames in lists:
        offset = len(result)
        for frame in frames:
            frame.previous = frame.previous + offset if frame.previous >= 0 else -1
        result += frames
    return result


def candidates(frame: FramePair, previous: FramePair, num_candidates: int, max_distance: float):
    """The tracker's candidate pairs (t, t-1), their IoU, and whether each is the same cell."""
    pairs = candidate_pairs(frame.centers, previous.centers, num_candidates, max_distance)
    pairs = merge_pairs(pairs, frame.overlaps[0], num_prev=len(previous.centers))
    iou = pair_values(pairs, frame.overlaps[0], frame.overlaps[1], len(previous.centers))
    return pairs, iou, frame.track_ids[pairs[:, 0]] == previous.track_ids[pairs[:, 1]]


def displacement_statistics(frames: List[FramePair]) -> Dict[str, float]:
    """Median displacement of a cell between frames (the scale) and the distance gate (pixels): 1.25 x
    the 99.9th percentile of cell and mother-to-daughter displacements."""
    moves, births = [], []
    for frame in frames:
        if frame.previous < 0:
            continue
        previous = frames[frame.previous]
        index = {t: i for i, t in enumerate(previous.track_ids)}
        for i, (track, parent) in enumerate(zip(frame.track_ids, frame.parent_ids)):
            if track in index:
                moves.append(np.linalg.norm(frame.centers[i] - previous.centers[index[track]]))
            elif parent in index:
                births.append(np.linalg.norm(frame.centers[i] - previous.centers[index[parent]]))
    gate = 1.25 * float(np.percentile(np.r_[moves, births], 99.9))
    return {"displacement_scale": max(float(np.median(moves)), 1.0), "max_distance": gate,
            "moves": len(moves), "daughters": len(births)}


def train_track_head(cfg, head: torch.nn.Module, frames: List[FramePair], max_distance: float,
                     epochs: int, learning_rate: float = 1e-3) -> List[float]:
    """Train ``head`` on the tracker's candidate pairs of every consecutive frame pair; mean loss per epoch."""
    optimizer = torch.optim.Adam(head.parameters(), lr=learning_rate)
    steps = [(i, candidates(f, frames[f.previous], cfg.CELLTRACK.TRACKER.NUM_CANDIDATES, max_distance))
             for i, f in enumerate(frames) if f.previous >= 0]
    history = []
    generator = torch.Generator().manual_seed(cfg.SEED if cfg.SEED >= 0 else 0)
    for _ in tqdm(range(epochs), desc="training the track head"):
        total = 0.0
        for step in torch.randperm(len(steps), generator=generator).tolist():
            i, (pairs, _, same) = steps[step]
            frame, previous = frames[i], frames[frames[i].previous]
            embeddings_t = head.embed(frame.features.float(), frame.positions)
            embeddings_prev = head.embed(previous.features.float(), previous.positions)
            pairs_tensor = torch.as_tensor(pairs)
            losses = [F.binary_cross_entropy_with_logits(
                head._branch(name).logits(embeddings_t[name][pairs_tensor[:, 0]], embeddings_prev[name][pairs_tensor[:, 1]]),
                torch.as_tensor(same, dtype=torch.float32)) for name in embeddings_t]
            loss = sum(losses) / len(losses)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        history.append(total / max(len(steps), 1))
    return history


@torch.no_grad()
def fit_link_model(cfg, head: torch.nn.Module, frames: List[FramePair], statistics: Dict[str, float],
                   l2: Optional[float] = None) -> tuple:
    """Fit the link and division models on the candidates of every consecutive frame pair, with the penalty
    ``l2`` (default ``CELLTRACK.TRACKER.FIT_PENALTY``).

    Returns the :class:`LinkModel` and a dict of counts (pairs, divisions, division candidate recall).
    """
    l2 = cfg.CELLTRACK.TRACKER.FIT_PENALTY if l2 is None else l2
    scale = statistics["displacement_scale"]
    unfitted = LinkModel((0.0,) * (len(LINK_FEATURES) + 1), (0.0,) * (len(DIVISION_FEATURES) + 1), scale)
    per_frame = []
    for frame in frames:
        if frame.previous < 0:
            continue
        previous = frames[frame.previous]
        pairs, iou, same = candidates(frame, previous, cfg.CELLTRACK.TRACKER.NUM_CANDIDATES, statistics["max_distance"])
        embeddings_t = head.embed(frame.features.float(), frame.positions)
        embeddings_prev = head.embed(previous.features.float(), previous.positions)
        similarities = {k: v.numpy() for k, v in head.similarity(embeddings_t, embeddings_prev, torch.as_tensor(pairs)).items()}
        features = unfitted.link_features(pairs, similarities, iou, frame.centers, previous.centers, frame.areas,
                                          previous.areas)
        per_frame.append((frame, previous, pairs, features, same))
    link_weights = fit_link_weights(np.concatenate([p[3] for p in per_frame]), np.concatenate([p[4] for p in per_frame]), l2)
    linker = LinkModel(tuple(link_weights), unfitted.division_weights, scale)
    division_x, division_y, true_divisions = [], [], 0
    for frame, previous, pairs, features, _ in per_frame:
        # Only the divisions the rule will decide on: those the one-to-one links leave open.
        _, divisions = decided_divisions(linker, pairs, linker.link_probability(features), len(frame.centers),
                                         len(previous.centers), cfg.CELLTRACK.TRACKER.LINK_THRESHOLD)
        division_x.append(linker.division_features(divisions, pairs, features, frame.centers, previous.centers,
                                                   frame.areas, previous.areas))
        mother_track = previous.track_ids[divisions[:, 0]]
        division_y.append((frame.parent_ids[divisions[:, 1]] == mother_track)
                          & (frame.parent_ids[divisions[:, 2]] == mother_track)
                          & ~np.isin(mother_track, frame.track_ids))
        parents, counts = np.unique(frame.parent_ids[~np.isin(frame.track_ids, previous.track_ids)], return_counts=True)
        true_divisions += int(((counts == 2) & np.isin(parents, previous.track_ids)).sum())
    division_y = np.concatenate(division_y)
    division_weights = fit_logistic(np.concatenate(division_x), division_y, l2)
    linker = LinkModel(tuple(link_weights), tuple(division_weights), scale)
    logger.info(f"link model: {describe(link_weights, LINK_FEATURES)}")
    logger.info(f"division model: {describe(division_weights, DIVISION_FEATURES)}")
    counts = {"pairs": int(sum(len(p[2]) for p in per_frame)), "divisions": true_divisions,
              "divisions_among_candidates": int(division_y.sum())}
    return linker, counts


def train_linker(cfg, new_cfg, epochs: int = 15) -> tuple:
    """Freeze the model of ``cfg`` (MODEL.WEIGHTS), retrain its track head as ``new_cfg`` describes it,
    fit the link model. Returns (model with the new head, fitted ``new_cfg``, report dict)."""
    model = build_model(cfg).eval()
    load_trained_weights(model, cfg.MODEL.WEIGHTS)
    records = [record for name in cfg.DATASETS.TRAIN for record in DatasetCatalog.get(name)]
    collect_cfg = cfg.clone()
    collect_cfg.defrost()
    collect_cfg.MODEL.TRACK_HEAD = new_cfg.MODEL.TRACK_HEAD.clone()
    frames = collect_frames(collect_cfg, model, records)
    statistics = displacement_statistics(frames)
    head = build_track_head(new_cfg, model.roi_heads.track_head.visual.embedding.in_features
                            if model.roi_heads.track_head.visual is not None else 1)
    old_state = model.roi_heads.track_head.state_dict()
    head.load_state_dict({k: v for k, v in old_state.items() if k in head.state_dict()
                          and head.state_dict()[k].shape == v.shape}, strict=False)
    head.train()
    history = train_track_head(new_cfg, head, frames, statistics["max_distance"], epochs)
    head.eval()
    linker, counts = fit_link_model(new_cfg, head, frames, statistics)
    model.roi_heads.track_head = head
    model.roi_heads.position_encoding = POSITION_ENCODINGS[new_cfg.MODEL.TRACK_HEAD.POSITION_ENCODING]
    model.roi_heads.num_neighbors = new_cfg.MODEL.TRACK_HEAD.NUM_NEIGHBORS
    fitted = new_cfg.clone()
    fitted.defrost()
    tracker = fitted.CELLTRACK.TRACKER
    tracker.METHOD = "learned"
    linker.write_to(tracker)
    tracker.MAX_DISTANCE = round(statistics["max_distance"], 1)
    report = {"frames": len(frames), "loss_per_epoch": [round(x, 4) for x in history], **statistics, **counts}
    return model, fitted, report
