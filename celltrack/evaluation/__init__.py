"""Evaluation: the official Cell Tracking Challenge measures (through py-ctcmetrics) and CTCEvaluator.

- :func:`evaluate_ctc` scores any CTC result folder against a CTC ground-truth folder;
- :class:`CTCEvaluator` is the detectron2 ``DatasetEvaluator`` that ``tools/train_net.py`` uses: it links
  the model's detections with CellTrack's tracker and scores each test sequence.
"""
from celltrack import compat  # noqa: F401  (must run before anything imports detectron2)

from .ctc_metrics import DEFAULT_METRICS, SUMMARY_KEYS, InvalidResultError, evaluate_ctc, format_metrics
from .evaluator import CTCEvaluator, write_tracked_sequence

__all__ = [
    "CTCEvaluator", "DEFAULT_METRICS", "InvalidResultError", "SUMMARY_KEYS", "evaluate_ctc", "format_metrics",
    "write_tracked_sequence",
]
