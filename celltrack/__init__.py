"""CellTrack: Mask R-CNN with a Siamese tracking head (CellTrack R-CNN), as a Detectron2 extension.

Importing the package installs the compatibility shims (before anything from detectron2) and registers
CellTrack's parts in detectron2's registries.
"""
from . import compat  # noqa: F401  (must come first)
from . import modeling  # noqa: F401  (registers CellTrackRCNN, CellTrackROIHeads, SiameseTrackHead)
from .config import add_celltrack_config  # noqa: F401

__version__ = "0.1.0"
