"""CellTrack data layer: read (CTC, DeepCell, movies), normalise, pair frames for training, synthesise.

Nothing here registers datasets on import; call :func:`register_ctc_dataset` /
:func:`register_trk_dataset` with your paths.
"""
from .ctc import (
    CTCTrackWriter,
    load_ctc_sequence,
    read_lineage,
    register_ctc_dataset,
    write_ctc_results,
    write_lineage,
)
from .deepcell import read_trk, register_trk_dataset, trk_to_ctc
from .mapper import PairedFrameMapper, build_paired_augmentations
from .movie import DataError, read_frame, read_movie
from .normalize import percentile_normalize, to_network_input
from .synthetic import make_synthetic_sequence

__all__ = [
    "CTCTrackWriter", "DataError", "PairedFrameMapper", "build_paired_augmentations", "load_ctc_sequence",
    "make_synthetic_sequence", "percentile_normalize", "read_frame", "read_lineage", "read_movie",
    "read_trk", "register_ctc_dataset", "register_trk_dataset", "to_network_input", "trk_to_ctc",
    "write_ctc_results", "write_lineage",
]
