"""CellTrack's modeling parts; importing this registers them in detectron2's registries."""
from .meta_arch import CellTrackRCNN
from .position_encoding import relative_position_encoding
from .roi_heads import CellTrackROIHeads
from .track_head import TRACK_HEAD_REGISTRY, SiameseTrackHead, build_track_head

__all__ = [
    "CellTrackRCNN",
    "CellTrackROIHeads",
    "SiameseTrackHead",
    "TRACK_HEAD_REGISTRY",
    "build_track_head",
    "relative_position_encoding",
]
