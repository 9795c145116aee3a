"""Linking detections into tracks: the paper's rule, a global assignment, gap closing, the lineage."""
from .lineage import LineageTable, check_lineage, count_divisions, divisions
from .linking import Links, global_rule, mask_overlaps, paper_rule
from .tracker import METHODS, Detections, Similarity, Tracker
from .labels import centers_from_labels, labels_from_masks, track_label_image
from .predictor import CellTrackPredictor, neighbouring
from .frame_loop import TrackedFrame, track_frames

__all__ = [
    "CellTrackPredictor",
    "TrackedFrame",
    "centers_from_labels",
    "labels_from_masks",
    "neighbouring",
    "track_frames",
    "track_label_image",
    "Detections",
    "LineageTable",
    "Links",
    "METHODS",
    "Similarity",
    "Tracker",
    "check_lineage",
    "count_divisions",
    "divisions",
    "global_rule",
    "mask_overlaps",
    "paper_rule",
]
