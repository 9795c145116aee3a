"""CTCEvaluator: detectron2's evaluation loop, answered with tracking measures.

detectron2's ``inference_on_dataset`` runs the model over every frame of the test datasets and hands the
outputs to an evaluator. CellTrack's evaluator links those cells into tracks with CellTrack's tracker
(exactly as :class:`~celltrack.tracking.predictor.CellTrackPredictor` does, through the same
``detections_from_instances``), writes each sequence as a CTC result folder and scores it against the
sequence's ground truth with the official CTC measures (:func:`~celltrack.evaluation.ctc_metrics.evaluate_ctc`).
"""
from __future__ import annotations

import logging
import re
import tempfile
import time
import zlib
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from ..data.movie import DataError
from ..tracking.frame_loop import precomputed, track_frames
from ..tracking.predictor import (detection_score, detections_from_instances, embed_positions, instance_embeddings,
                                  track_head_similarity)
from ..tracking.sinks import CTCResultSink
from ..tracking.tracker import Detections, Tracker
from .ctc_metrics import DEFAULT_METRICS, evaluate_ctc

__all__ = ["CTCEvaluator", "write_tracked_sequence"]

logger = logging.getLogger(__name__)


def write_tracked_sequence(frames: Iterable[Detections], tracker: Tracker, out_dir,
                           image_size: Tuple[int, int], num_frames: Optional[int] = None) -> np.ndarray:
    """Link the cells of a movie, frame by frame, and write the tracks as a CTC result folder.

    Args:
        frames: the Detections of frames 0, 1, 2, ... (label image: cell i has label i + 1).
        tracker: a fresh :class:`Tracker` (its state is the movie so far).
        out_dir: result folder (``maskTTT.tif`` + ``res_track.txt``), e.g. ``.../02_RES``; created.
        image_size: (H, W) of the frames, for frames without cells (whose label image may be None).
        num_frames: movie length if known (more than 1000 frames need 4-digit names).

    Returns:
        The lineage as written, (T, 4) rows ``[label, begin, end, parent]``.
    """
    ctc = CTCResultSink(out_dir, num_frames=num_frames)
    track_frames(((None, detections) for detections in frames), precomputed, tracker, [ctc], image_size=image_size)
    return ctc.lineage


def _pack(detections: Detections) -> dict:
    """A frame's cells in a few kB: the label image deflated (it is mostly runs), embeddings as numpy."""
    labels = np.asarray(detections.labels, dtype=np.uint16)
    return {"shape": labels.shape, "labels": zlib.compress(labels.tobytes(), 1), "centers": detections.centers,
            "embeddings": {name: torch.as_tensor(value).cpu().numpy() for name, value in detections.embeddings.items()},
            "scores": detections.scores}


def _unpack(packed: dict) -> Detections:
    labels = np.frombuffer(zlib.decompress(packed["labels"]), dtype=np.uint16).reshape(packed["shape"])
    return Detections(packed["centers"], labels.astype(np.int32), packed["embeddings"], packed.get("scores"))


def _clear_result(folder: Path) -> None:
    """Remove an earlier result (our own file names only) so that a new one is not mixed with it."""
    if folder.is_dir():
        for path in folder.iterdir():
            if re.fullmatch(r"mask\d{3,4}\.tif|res_track\.txt", path.name):
                path.unlink()


class CTCEvaluator(DatasetEvaluator):
    """Track the model's detections per sequence and score them with the CTC measures.

    Works on datasets registered by :func:`celltrack.data.register_ctc_dataset` (its metadata gives the
    dataset ``root`` and ``sequences``; the records give ``sequence`` and ``frame``). ``process`` keeps a
    compact copy of each frame's cells (deflated label image, centres, embeddings); ``evaluate`` gathers
    them on the main process, links each sequence in frame order with a :class:`Tracker` built from
    ``cfg.CELLTRACK.TRACKER`` and the model's track head, writes ``<output_dir>/<dataset>/<NN>_RES`` (a
    temporary folder without ``output_dir``) and scores it against ``<root>/<NN>_GT``.

    ``evaluate`` returns ``{"<dataset>/<NN>": {"SEG": ..., "DET": ..., "TRA": ..., ...}}`` with
    py-ctcmetrics' key names and only the measures the GT allows (detectron2 wants numbers only).

    The tracker needs the weights of the model being evaluated: pass ``model`` (detectron2's
    ``build_evaluator`` has no access to it; ``CellTrackTrainer.test`` should pass it). Without it, the
    track head is loaded from ``cfg.MODEL.WEIGHTS``, which is right for ``--eval-only`` only.
    """

    def __init__(self, cfg, dataset_name: str, output_dir: Optional[str] = None, *,
                 model: Optional[torch.nn.Module] = None, metrics: Sequence[str] = DEFAULT_METRICS,
                 threads: int = 1):
        """
        Args:
            cfg: the CellTrack config (tracker options, MIN_SCORE, MODEL.WEIGHTS for the fallback).
            dataset_name: a dataset registered with ``register_ctc_dataset``.
            output_dir: where the CTC result folders go (kept); None = a temporary folder.
            model: the model being evaluated (possibly wrapped in DistributedDataParallel).
            metrics: py-ctcmetrics identifiers, see :data:`~celltrack.evaluation.ctc_metrics.DEFAULT_METRICS`.
            threads: processes py-ctcmetrics matches frames with (0 = one per CPU).
        """
        metadata = MetadataCatalog.get(dataset_name)
        if not hasattr(metadata, "root") or not hasattr(metadata, "sequences"):
            raise ValueError(
                f"CTCEvaluator: dataset '{dataset_name}' has no CTC metadata (root, sequences); register it with "
                f"celltrack.data.register_ctc_dataset so the evaluator can find its ground truth.")
        root = Path(metadata.root)
        self._gt_dirs = {f"{root.name}/{sequence}": root / f"{sequence}_GT" for sequence in metadata.sequences}
        for name, gt_dir in self._gt_dirs.items():
            if not (gt_dir / "TRA").is_dir():
                raise DataError(f"{gt_dir / 'TRA'}: missing; CTCEvaluator scores sequence {name} against it.")
        self._cfg = cfg.clone()
        self._dataset_name = dataset_name
        self._output_dir = Path(output_dir) if output_dir else None
        self._model = model
        self._metrics = tuple(metrics)
        self._threads = threads
        self._min_score = detection_score(cfg)
        self._overlap_threshold = cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD
        self.reset()

    def reset(self) -> None:
        self._frames: List[Tuple[str, int, dict]] = []

    def process(self, inputs: List[dict], outputs: List[dict]) -> None:
        """Keep the cells of each frame. ``inputs`` carry ``sequence`` and ``frame`` (PairedFrameMapper)."""
        for record, output in zip(inputs, outputs):
            for key in ("sequence", "frame"):
                if key not in record:
                    raise KeyError(f"CTCEvaluator: the input of {record.get('file_name', '?')} has no '{key}'; "
                                   f"use the CTC dataset records with PairedFrameMapper(cfg, is_train=False).")
            cells = output["instances"].to("cpu")
            cells, detections = detections_from_instances(cells[cells.scores >= self._min_score],
                                                          self._overlap_threshold)
            embed_positions(self._roi_heads(), cells, detections.centers,
                            record["image"].shape[-2] / record["height"] if "image" in record else 1.0)
            detections = Detections(detections.centers, detections.labels, instance_embeddings(cells), detections.scores)
            self._frames.append((record["sequence"], int(record["frame"]), _pack(detections)))

    def evaluate(self) -> Dict[str, Dict[str, float]]:
        frames = self._frames
        if comm.get_world_size() > 1:
            comm.synchronize()
            frames = [frame for part in comm.gather(frames, dst=0) for frame in part]
            if not comm.is_main_process():
                return {}
        by_sequence: Dict[str, Dict[int, dict]] = defaultdict(dict)
        for sequence, frame, packed in frames:
            by_sequence[sequence][frame] = packed
        if not by_sequence:
            logger.warning(f"CTCEvaluator: no frames of '{self._dataset_name}' were processed.")
            return {}
        similarity = track_head_similarity(self._track_head())
        with tempfile.TemporaryDirectory(prefix="celltrack-eval-") as temporary:
            output_dir = self._output_dir or Path(temporary)
            results: Dict[str, Dict[str, float]] = OrderedDict()
            for sequence in sorted(by_sequence):
                results[sequence] = self._evaluate_sequence(sequence, by_sequence[sequence], similarity, output_dir)
        return results

    def _evaluate_sequence(self, sequence: str, frames: Dict[int, dict], similarity, output_dir: Path) -> Dict[str, float]:
        if sequence not in self._gt_dirs:
            raise DataError(f"CTCEvaluator: sequence '{sequence}' is not one of dataset '{self._dataset_name}' "
                            f"({sorted(self._gt_dirs)}).")
        missing = sorted(set(range(max(frames) + 1)) - set(frames))
        if missing:
            raise DataError(f"CTCEvaluator: sequence '{sequence}' (frame {missing[0]}): no output for this frame; "
                            f"a sequence is tracked from frame 0 without gaps.")
        result_dir = output_dir / f"{sequence}_RES"  # <dataset>/<NN>_RES, the CTC submission layout
        _clear_result(result_dir)
        start = time.perf_counter()
        tracker = Tracker(self._cfg, similarity=similarity)
        packed = [frames[frame] for frame in range(len(frames))]
        lineage = write_tracked_sequence(map(_unpack, packed), tracker, result_dir, packed[0]["shape"], len(packed))
        linked = time.perf_counter() - start
        scores = evaluate_ctc(result_dir, self._gt_dirs[sequence], self._metrics, threads=self._threads, strict=False)
        logger.info(f"CTCEvaluator: {sequence}: {len(packed)} frames, {len(lineage)} tracks linked in {linked:.1f} s, "
                    f"scored in {time.perf_counter() - start - linked:.1f} s; results in {result_dir}")
        return {name: float(value) for name, value in scores.items() if value is not None}

    def _track_head(self) -> torch.nn.Module:
        return self._roi_heads().track_head

    def _roi_heads(self) -> torch.nn.Module:
        if self._model is None:
            from detectron2.modeling import build_model

            from ..checkpoint import CellTrackCheckpointer

            weights = self._cfg.MODEL.WEIGHTS
            if not weights:
                raise ValueError("CTCEvaluator: no model given and cfg.MODEL.WEIGHTS is empty; pass the model being "
                                 "evaluated (CTCEvaluator(..., model=model)) so its track head scores the links.")
            logger.warning(f"CTCEvaluator: no model given; linking with the track head of {weights} "
                           f"(right for --eval-only, not for evaluation during training).")
            self._model = build_model(self._cfg)
            CellTrackCheckpointer(self._model).load(weights)
        model = self._model.module if hasattr(self._model, "module") else self._model  # DistributedDataParallel
        return model.roi_heads
