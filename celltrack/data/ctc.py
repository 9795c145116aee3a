"""Cell Tracking Challenge (CTC) data, one module per job, gathered here for ``from celltrack.data.ctc import``:

* ``ctc_format``: file names, the lineage file (``L B E P``), label images;
* ``rle``: label images as COCO RLE;
* ``ctc_dataset``: reading, validating and registering CTC datasets with detectron2;
* ``ctc_writer``: writing a tracking result (``CTCTrackWriter``).
"""
from .ctc_dataset import (  # noqa: F401
    DEFAULT_MASK_SOURCE, MASK_SOURCES, list_sequences, load_ctc_sequence, register_ctc_dataset, segments_as_tracks,
    track_labels)
from .ctc_format import (  # noqa: F401
    MASK_PATTERN, MAX_LABEL, RAW_PATTERN, SEG_PATTERN, TRA_PATTERN, cut_ground_truth, read_lineage, remove_identities,
    write_label_image, write_lineage)
from .ctc_writer import CTCTrackWriter, write_ctc_results  # noqa: F401
from .rle import label_image_to_rles  # noqa: F401
