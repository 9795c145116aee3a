"""Cell Tracking Challenge (CTC) datasets: read and validate them, register them with detectron2.

Layout of a CTC dataset folder ``root`` (e.g. ``.../Fluo-N2DH-SIM+``) and sequence ``NN``::

    NN/tTTT.tif                  raw frames, 8- or 16-bit, 3 digits (4 when a sequence has >1000 frames)
    NN_GT/TRA/man_trackTTT.tif   tracking markers: pixel value = track label, every cell in every frame
    NN_GT/TRA/man_track.txt      lineage, one track per line: "L B E P" = label, first frame, last frame,
                                 parent label (0 = none)
    NN_GT/SEG/man_segTTT.tif     gold segmentation, often for a subset of frames / cells
    NN_ST/SEG/man_segTTT.tif     silver segmentation (optional)

**Records** (one per frame, light: paths and compressed masks, never pixel arrays)::

    {"file_name": raw frame path, "height", "width", "image_id": "<dataset>/<NN>/<frame>",
     "sequence": "<dataset>/<NN>" (e.g. "Fluo-N2DH-SIM+/01"), "frame": int,
     "mask_source": "SEG" | "ST" | "TRA" (where this frame's masks came from),
     "annotations": [{"bbox": [x0, y0, x1, y1], "bbox_mode": BoxMode.XYXY_ABS,
                      "segmentation": COCO RLE dict (counts as str), "category_id": 0, "iscrowd": 0,
                      "track_id": int, "parent_id": int (0 = none), "mask_valid": bool}]}

``track_id`` is the TRA label; ``parent_id`` is the lineage parent of the whole track, the same on every
frame of it: a cell divided between frames t-1 and t when its track begins at t and ``parent_id != 0``.

**Mask policy** (``mask_source``, an ordered tuple of "SEG", "ST", "TRA"): identities always come from
TRA; the outlines of a frame come from the first of "SEG" / "ST" in the tuple whose file for that frame
exists and is *complete*. A segmentation is complete for a frame when every TRA marker is covered for
more than half of its pixels by a segment (the CTC SEG matching rule) and no segment covers two markers.
Segments then take the track id of the marker they cover; segments that cover no marker are dropped.

**Sparse masks.** When no complete segmentation exists for a frame: with "TRA" in ``mask_source`` the
TRA markers are taken as outlines (right for data whose TRA labels are full masks, e.g. DeepCell
``.trk``); without it, cells covered by a (partial) segmentation keep that outline and the others are
known from their marker only. Such a cell's annotation has ``"mask_valid": False``: it trains the box,
class and track heads but not the mask head (markers such as Fluo-N2DH-GOWT1's are eroded blobs, and
would teach the mask head to under-segment), and its ``bbox`` is the marker's box scaled about its centre
by the median outline/marker box ratio of the sequence's cells that have both (1 when none does).
Default ``("SEG", "ST")``: gold masks where complete (all frames of Fluo-N2DH-SIM+), else silver truth,
else sparse masks. ``mask_source`` of a record: "SEG", "ST", "TRA", "partial SEG", "partial ST" or
"markers".
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
import tifffile
from scipy import ndimage
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from .ctc_format import RAW_PATTERN, SEG_PATTERN, TRA_PATTERN, _parse_lineage, read_lineage  # noqa: F401
from .movie import DataError, check_contiguous, numbered_files, read_frame, where
from .rle import label_image_to_rles

MASK_SOURCES = ("SEG", "ST", "TRA")  # the sources a mask_source may name
DEFAULT_MASK_SOURCE = ("SEG", "ST")


def segments_as_tracks(segments: np.ndarray, markers: np.ndarray, partial: bool = False) -> Optional[np.ndarray]:
    """Relabel a segmentation with the track ids of the TRA markers its segments cover.

    A segment takes a marker's id when it covers more than half of the marker's pixels. Returns the
    relabelled ``(H, W)`` image, or None when the segmentation is incomplete (a marker is not taken, or
    one segment takes two markers). Segments that take no marker become background. With ``partial``
    an incomplete segmentation is relabelled as far as it goes: untaken markers are simply absent, and
    a segment that takes two markers is dropped.
    """
    inside = markers > 0
    marker_ids, marker_sizes = np.unique(markers[inside], return_counts=True)
    pairs, overlaps = np.unique(
        (markers[inside].astype(np.int64) << 32) | segments[inside].astype(np.int64), return_counts=True)
    pair_markers, pair_segments = pairs >> 32, pairs & 0xFFFFFFFF
    taken = (pair_segments > 0) & (2 * overlaps > marker_sizes[np.searchsorted(marker_ids, pair_markers)])
    taken_markers, taken_segments = pair_markers[taken], pair_segments[taken]
    segment_ids, takes = np.unique(taken_segments, return_counts=True)
    if partial:
        single = ~np.isin(taken_segments, segment_ids[takes > 1])
        taken_markers, taken_segments = taken_markers[single], taken_segments[single]
    elif len(taken_markers) != len(marker_ids) or (takes > 1).any():
        return None
    lookup = np.zeros(int(segments.max(initial=0)) + 1, dtype=np.int64)
    lookup[taken_segments] = taken_markers
    return lookup[segments]


def _read_labels(path: Path, frame: int, shape: tuple[int, int]) -> np.ndarray:
    labels = read_frame(path, frame)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where(path, frame)}: label image has dtype {labels.dtype}; expected integers.")
    if labels.shape != shape:
        raise DataError(
            f"{where(path, frame)}: size {labels.shape} differs from the raw frame's {shape}.")
    return labels


def _frame_shape(path: Path, frame: int) -> tuple[int, int]:
    """Size of a raw frame from its TIFF header, without reading the pixels."""
    try:
        with tifffile.TiffFile(path) as tiff:
            shape = tuple(size for size in tiff.series[0].shape if size != 1)
    except Exception as error:  # any decoder failure means the file is unusable
        raise DataError(
            f"{where(path, frame)}: cannot be read as a TIFF ({type(error).__name__}: {error}). "
            f"Check that the file is complete; re-export it if needed.") from error
    if len(shape) != 2:
        raise DataError(
            f"{where(path, frame)}: has shape {shape}; expected one 2-D grayscale frame. Save the "
            f"fluorescence channel alone, one time point per file.")
    return shape


# ---------------------------------------------------------------------------------------- sequences
def list_sequences(root) -> list[str]:
    """Names (``"01"``, ``"02"``, ...) of the sequences in ``root`` that have tracking GT."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder does not exist.")
    names = sorted(p.name for p in root.iterdir() if re.fullmatch(r"\d{2,}", p.name) and p.is_dir()
                   and (root / f"{p.name}_GT" / "TRA").is_dir())
    if not names:
        raise DataError(f"{root}: no sequence with tracking GT (NN/ next to NN_GT/TRA/).")
    return names


def _check_mask_source(mask_source: Sequence[str]) -> tuple[str, ...]:
    mask_source = (mask_source,) if isinstance(mask_source, str) else tuple(mask_source)
    unknown = [source for source in mask_source if source not in MASK_SOURCES]
    if unknown or not mask_source:
        raise ValueError(f"mask_source must be a sequence of {MASK_SOURCES}, got {mask_source}.")
    return mask_source


def _check_markers(markers, frame, tra_path, lineage, lineage_path, line_of) -> None:
    """Raise unless the labels of a TRA frame are exactly the tracks the lineage says are alive."""
    present = set(np.unique(markers).tolist()) - {0}
    unknown = sorted(present - set(line_of))
    if unknown:
        raise DataError(
            f"{where(tra_path, frame)}: track label(s) {unknown} are absent from {lineage_path}. Add an "
            f"'L B E P' line for each, or remove them from the mask.")
    alive = lineage[(lineage[:, 1] <= frame) & (lineage[:, 2] >= frame), 0].tolist()
    mismatched = sorted(present.symmetric_difference(alive))
    if mismatched:
        label = mismatched[0]
        begin, end = lineage[lineage[:, 0] == label, 1:3][0].tolist()
        raise DataError(
            f"{where(tra_path, frame)}: track {label} " + (
                f"is in the mask but {lineage_path}:{line_of[label]} says it lives in frames {begin}..{end}."
                if label in present else
                f"should be in this frame ({lineage_path}:{line_of[label]} says frames {begin}..{end}) but "
                f"the mask has no pixel with that label.") + " Fix the mask or the lineage line.")
    if not present:
        warnings.warn(
            f"{where(tra_path, frame)}: empty tracking GT (no cell in this frame). The frame is kept with "
            f"no annotations; detectron2 drops it from training when DATALOADER.FILTER_EMPTY_ANNOTATIONS "
            f"is on, and it still serves as the previous frame of a pair.", stacklevel=3)


def load_ctc_sequence(root, sequence: str, mask_source: Sequence[str] = DEFAULT_MASK_SOURCE) -> list[dict]:
    """Read and validate one CTC sequence (``root/sequence`` + GT) into per-frame records.

    Args:
        root: dataset folder, e.g. ``.../Fluo-N2DH-SIM+``; the record ``sequence`` is ``"<root name>/<NN>"``.
        sequence: sequence folder name, e.g. ``"01"``.
        mask_source: priority order of mask sources (see the module docstring).

    Returns:
        One record per frame, in frame order (format in the module docstring).

    Raises:
        DataError naming the file, frame (and lineage line) for missing or non-contiguous frames, frames
        of different sizes, unreadable or multi-channel TIFFs, and TRA labels that disagree with
        ``man_track.txt``. An empty GT frame only warns (see :func:`_check_markers`).
    """
    root, mask_source = Path(root), _check_mask_source(mask_source)
    raw_dir, tra_dir = root / sequence, root / f"{sequence}_GT" / "TRA"
    for folder in (raw_dir, tra_dir):
        if not folder.is_dir():
            raise DataError(f"{folder}: folder missing; expected the CTC layout NN/ + NN_GT/TRA/.")
    raw_files = numbered_files(raw_dir, RAW_PATTERN)
    check_contiguous(raw_files, raw_dir, "raw frame (tTTT.tif)")
    tra_files = numbered_files(tra_dir, TRA_PATTERN)
    unmatched = sorted(set(raw_files) ^ set(tra_files))
    if unmatched:
        frame = unmatched[0]
        raise DataError(
            f"{where(tra_dir, frame)}: " + (
                f"no man_track file for raw frame {raw_files[frame].name}; TRA GT must cover every frame."
                if frame in raw_files else f"{tra_files[frame].name} has no raw frame t{frame:03d}.tif."))
    lineage_path = tra_dir / "man_track.txt"
    lineage, line_of = _parse_lineage(lineage_path)
    parent_of = dict(zip(lineage[:, 0].tolist(), lineage[:, 3].tolist()))
    last_frame = max(raw_files)
    beyond = lineage[lineage[:, 2] > last_frame]
    if len(beyond):
        label, _, end, _ = beyond[0].tolist()
        raise DataError(f"{lineage_path}:{line_of[label]}: track {label} ends at frame {end}, after the last "
                        f"frame {last_frame} of {raw_dir}. Fix the lineage line or restore the frames.")
    segmentations = {
        "SEG": root / f"{sequence}_GT" / "SEG", "ST": root / f"{sequence}_ST" / "SEG"}
    segmentations = {source: numbered_files(folder, SEG_PATTERN) if folder.is_dir() else {}
                     for source, folder in segmentations.items()}
    name, shape, records, box_ratios = f"{root.name}/{sequence}", None, [], []
    for frame, raw_path in sorted(raw_files.items()):
        frame_shape = _frame_shape(raw_path, frame)
        shape = shape or frame_shape
        if frame_shape != shape:
            raise DataError(
                f"{where(raw_path, frame)}: size {frame_shape} differs from the sequence's first frame "
                f"{shape}; all frames of a sequence must have the same size.")
        markers = _read_labels(tra_files[frame], frame, shape)
        _check_markers(markers, frame, tra_files[frame], lineage, lineage_path, line_of)
        outlines, source = _frame_masks(frame, markers, segmentations, mask_source)
        marker_only = np.where(np.isin(markers, np.unique(outlines)), 0, markers)
        box_ratios.append(_box_ratios(outlines, markers))
        records.append({
            "file_name": str(raw_path), "height": shape[0], "width": shape[1],
            "image_id": f"{name}/{frame}", "sequence": name, "frame": frame, "mask_source": source,
            "annotations": _annotations(outlines, parent_of) + _annotations(marker_only, parent_of, False)})
    ratios = np.concatenate(box_ratios)
    scale = np.median(ratios, axis=0) if len(ratios) else np.ones(2)
    for annotation in (a for record in records for a in record["annotations"] if not a["mask_valid"]):
        x0, y0, x1, y1 = annotation["bbox"]
        half_width, half_height = (x1 - x0) * scale[0] / 2, (y1 - y0) * scale[1] / 2
        annotation["bbox"] = [float((x0 + x1) / 2 - half_width), float((y0 + y1) / 2 - half_height),
                              float((x0 + x1) / 2 + half_width), float((y0 + y1) / 2 + half_height)]
    return records


def _box_ratios(outlines: np.ndarray, markers: np.ndarray) -> np.ndarray:
    """(K, 2) width and height ratios of outline box to marker box, for the cells that have both."""
    outline_boxes, marker_boxes = ndimage.find_objects(outlines), ndimage.find_objects(markers)
    ratios = [[(o[1].stop - o[1].start) / (m[1].stop - m[1].start), (o[0].stop - o[0].start) / (m[0].stop - m[0].start)]
              for o, m in zip(outline_boxes, marker_boxes) if o is not None and m is not None]
    return np.array(ratios, dtype=np.float64).reshape(-1, 2)


def _frame_masks(frame: int, markers: np.ndarray, segmentations: Mapping[str, Mapping[int, Path]],
                 mask_source: Sequence[str]) -> tuple[np.ndarray, str]:
    """Outlines of one frame labelled by track id, and their source (module docstring, "Mask policy").
    Cells absent from the outlines are known from their TRA marker only."""
    found = {}
    for source in mask_source:
        path = segmentations.get(source, {}).get(frame)
        if path is not None:
            found[source] = _read_labels(path, frame, markers.shape)
            tracks = segments_as_tracks(found[source], markers)
            if tracks is not None:
                return tracks, source
    if "TRA" in mask_source:
        return markers, "TRA"
    for source, segments in found.items():
        return segments_as_tracks(segments, markers, partial=True), f"partial {source}"
    return np.zeros_like(markers), "markers"


def _annotations(masks: np.ndarray, parent_of: Mapping[int, int], mask_valid: bool = True) -> list[dict]:
    annotations = []
    for track_id, rle in label_image_to_rles(masks).items():
        x, y, w, h = mask_util.toBbox(rle).tolist()
        annotations.append({
            "bbox": [x, y, x + w, y + h], "bbox_mode": BoxMode.XYXY_ABS, "segmentation": rle,
            "category_id": 0, "iscrowd": 0, "track_id": track_id, "parent_id": int(parent_of[track_id]),
            "mask_valid": mask_valid})
    return annotations


def track_labels(record: dict) -> np.ndarray:
    """``(H, W)`` int64 label image of every cell of a record (its outline, else its TRA marker), by track id."""
    labels = np.zeros((record["height"], record["width"]), dtype=np.int64)
    for annotation in record["annotations"]:
        labels[mask_util.decode(annotation["segmentation"]).astype(bool)] = annotation["track_id"]
    return labels


def register_ctc_dataset(name: str, root, sequences: Optional[Sequence[str]] = None,
                         mask_source: Sequence[str] = DEFAULT_MASK_SOURCE,
                         frames: Optional[tuple[int, Optional[int]]] = None) -> None:
    """Register CTC sequences as one detectron2 dataset ``name``.

    ``DatasetCatalog.get(name)`` loads and validates them lazily (:func:`load_ctc_sequence`), one record
    per frame. ``MetadataCatalog.get(name)`` gets ``thing_classes=["cell"]``, ``root`` (the dataset
    folder), ``sequences`` (the NN folder names), ``sequence_names`` (record ``sequence`` values) and
    ``mask_source``.

    Args:
        name: dataset name for ``cfg.DATASETS.TRAIN`` / ``TEST``.
        root: dataset folder, e.g. ``.../Fluo-N2DH-SIM+``.
        sequences: e.g. ``["01"]``; None = every sequence with ``NN_GT/TRA``.
        mask_source: priority order of mask sources (module docstring).
        frames: ``(first, stop)``: only frames first..stop-1 of each sequence (stop None = to the end).
    """
    root, mask_source = Path(root), _check_mask_source(mask_source)
    first, stop = frames or (0, None)
    sequences = list(sequences) if sequences is not None else list_sequences(root)
    for sequence in sequences:
        if not (root / sequence).is_dir():
            raise DataError(f"{root / sequence}: sequence folder missing (registering dataset '{name}').")
    DatasetCatalog.register(
        name, lambda: [record for sequence in sequences
                       for record in load_ctc_sequence(root, sequence, mask_source)
                       if record["frame"] >= first and (stop is None or record["frame"] < stop)])
    MetadataCatalog.get(name).set(
        thing_classes=["cell"], root=str(root), sequences=list(sequences),
        sequence_names=[f"{root.name}/{sequence}" for sequence in sequences], mask_source=list(mask_source))
