"""Cell Tracking Challenge (CTC) datasets: read and validate them, register them with detectron2,
and write tracking results in the CTC format.

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

import os
import re
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
import tifffile
from scipy import ndimage
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from .movie import DataError, check_contiguous, numbered_files, read_frame, where

RAW_PATTERN = re.compile(r"t(\d{3,4})\.tif")
SEG_PATTERN = re.compile(r"man_seg(\d{3,4})\.tif")
TRA_PATTERN = re.compile(r"man_track(\d{3,4})\.tif")
MASK_SOURCES = ("SEG", "ST", "TRA")
DEFAULT_MASK_SOURCE = ("SEG", "ST")
MAX_LABEL = 65535  # CTC masks are 16-bit


# ----------------------------------------------------------------------------------------- lineage
def _parse_lineage(path) -> tuple[np.ndarray, dict[int, int]]:
    """Read and validate ``man_track.txt`` / ``res_track.txt``; also return ``{label: line number}``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: lineage file missing; every CTC sequence needs it ('L B E P' per track).")
    rows, line_of = [], {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4 or not all(re.fullmatch(r"-?\d+", field) for field in fields):
            raise DataError(f"{path}:{number}: '{line}' is not four integers 'L B E P'.")
        label, begin, end, parent = map(int, fields)
        problem = (
            "the label must be positive" if label <= 0
            else f"label {label} is listed twice (also line {line_of.get(label)})" if label in line_of
            else "the first frame B must be >= 0" if begin < 0
            else "the last frame E comes before the first frame B" if end < begin
            else "the parent must be 0 (none) or a positive label" if parent < 0
            else "a track cannot be its own parent" if parent == label
            else None
        )
        if problem:
            raise DataError(f"{path}:{number}: '{line}': {problem}.")
        rows.append((label, begin, end, parent))
        line_of[label] = number
    table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    end_of = dict(zip(table[:, 0].tolist(), table[:, 2].tolist()))
    for label, begin, _, parent in table.tolist():
        if parent == 0:
            continue
        if parent not in end_of:
            raise DataError(f"{path}:{line_of[label]}: parent {parent} of track {label} is not listed.")
        if end_of[parent] >= begin:
            raise DataError(
                f"{path}:{line_of[label]}: track {label} begins at frame {begin} but its parent {parent} "
                f"(line {line_of[parent]}) ends at frame {end_of[parent]}; a parent must end before its "
                f"daughters begin."
            )
    return table, line_of


def read_lineage(path) -> np.ndarray:
    """Read a CTC lineage file (``man_track.txt`` / ``res_track.txt``).

    Returns ``(N, 4)`` int64 rows ``[label, begin, end, parent]`` in file order (frames are 0-based,
    ``parent`` 0 = none). Raises :class:`DataError` naming ``file:line`` for malformed lines, duplicate
    labels, missing parents and parents that do not end before their daughters begin.
    """
    return _parse_lineage(path)[0]


def _replace_atomically(path: Path, write) -> None:
    """Call ``write(temporary_path)``, then move the result over ``path`` in one step."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_lineage(path, table: np.ndarray) -> None:
    """Write ``(N, 4)`` rows ``[label, begin, end, parent]`` as a CTC lineage file, atomically."""
    rows = np.asarray(table).tolist()
    lines = "".join(f"{label} {begin} {end} {parent}\n" for label, begin, end, parent in rows)
    _replace_atomically(Path(path), lambda temporary: temporary.write_text(lines))


def write_label_image(path, labels: np.ndarray, compression: Optional[str] = None) -> None:
    """Write a 2-D label image as a uint16 TIFF, atomically (CTC masks are 16-bit)."""
    _replace_atomically(Path(path), lambda temporary: tifffile.imwrite(
        temporary, np.asarray(labels, dtype=np.uint16), compression=compression))


# ------------------------------------------------------------------------------------------- masks
def label_image_to_rles(labels: np.ndarray) -> dict[int, dict]:
    """COCO RLE of every label in a ``(H, W)`` label image, in one pass over the pixels.

    Returns ``{label: {"size": [H, W], "counts": str}}`` (compressed RLE, counts decoded to ASCII so
    records pickle and serialise to JSON) for every non-zero label.
    """
    height, width = labels.shape
    flat = np.asarray(labels).ravel(order="F")  # COCO runs go down the columns
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [flat.size]))
    values = flat[starts]
    order = np.argsort(values, kind="stable")  # group the runs of each label, keeping their order
    starts, ends, values = starts[order], ends[order], values[order]
    groups = np.flatnonzero(np.diff(values)) + 1
    rles = {}
    for group_starts, group_ends in zip(np.split(starts, groups), np.split(ends, groups)):
        label = int(flat[group_starts[0]])
        if label == 0:
            continue
        counts = np.empty(2 * len(group_starts) + 1, dtype=np.int64)
        counts[0:-1:2] = group_starts - np.concatenate(([0], group_ends[:-1]))  # background before run
        counts[1::2] = group_ends - group_starts  # run of this label
        counts[-1] = flat.size - group_ends[-1]
        counts = counts[:-1] if counts[-1] == 0 else counts  # canonical form, as pycocotools encodes
        rle = mask_util.frPyObjects({"counts": counts.tolist(), "size": [height, width]}, height, width)
        rle["counts"] = rle["counts"].decode("ascii")
        rles[label] = rle
    return rles


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


# ------------------------------------------------------------------------------------------ results
class CTCTrackWriter:
    """Write a tracking result as a CTC folder, streamed one frame at a time.

    Frames must come in order 0, 1, 2, ... as ``(H, W)`` integer label images whose value is the track
    id (0 = background). The writer derives each track's first and last frame from the masks, so
    ``res_track.txt`` always agrees with them. CTC forbids gaps inside a track: a label that reappears
    after missing frames becomes a new track whose parent is its earlier segment; labels above 65535
    are renumbered. Both renumberings show in the label images :meth:`write_frame` returns.
    Every file is written atomically (temporary name, then ``os.replace``).

    Args:
        out_dir: output folder, e.g. ``.../01_RES`` (created).
        num_frames: movie length if known: up to 1000 frames have 3-digit names (``mask000.tif``), more
            have 4. None (a stream of unknown length) uses 4 digits from the start, which every CTC
            tool reads too.
        ground_truth: write GT names (``man_trackTTT.tif`` + ``man_track.txt``) instead of results
            (``maskTTT.tif`` + ``res_track.txt``).
        compression: TIFF compression (None = uncompressed, which every CTC tool reads; "zlib" is smaller).
    """

    def __init__(self, out_dir, num_frames: Optional[int] = None, ground_truth: bool = False,
                 compression: Optional[str] = None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.digits = 3 if num_frames is not None and num_frames <= 1000 else 4
        self.mask_prefix, self.track_file = (
            ("man_track", "man_track.txt") if ground_truth else ("mask", "res_track.txt"))
        self.compression = compression
        self.next_frame = 0
        self._shape: Optional[tuple[int, int]] = None
        self._tracks: dict[int, list[int]] = {}  # written label -> [begin, end, parent]
        self._segments: dict[int, list[int]] = {}  # input label -> its written labels, in time order
        self._max_label = 0
        self._lowest_free = 1  # once labels reach 65535, renumbered tracks take free labels from the bottom

    def mask_path(self, frame: int) -> Path:
        return self.out_dir / f"{self.mask_prefix}{frame:0{self.digits}d}.tif"

    def write_frame(self, frame: int, labels: np.ndarray) -> np.ndarray:
        """Write frame ``frame``; return the uint16 label image as written (after any renumbering)."""
        labels = np.asarray(labels)
        if frame != self.next_frame:
            raise ValueError(f"{self.out_dir}: got frame {frame}, expected frame {self.next_frame}; "
                             f"write frames in order 0, 1, 2, ... without gaps.")
        if frame >= 10 ** self.digits:
            raise ValueError(f"{self.out_dir}: frame {frame} needs more than {self.digits} digits; pass the "
                             f"true num_frames (or None) to CTCTrackWriter.")
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) or labels.min(initial=0) < 0:
            raise ValueError(f"{self.out_dir} (frame {frame}): expected a 2-D non-negative integer label "
                             f"image, got dtype {labels.dtype} shape {labels.shape}.")
        self._shape = self._shape or labels.shape
        if labels.shape != self._shape:
            raise ValueError(f"{self.out_dir} (frame {frame}): size {labels.shape} differs from frame 0's "
                             f"{self._shape}.")
        present = np.unique(labels)
        present = present[present > 0]
        written = np.array([self._written_label(int(label), frame) for label in present], dtype=np.int64)
        if np.array_equal(written, present):
            out = labels.astype(np.uint16)
        else:
            index = np.clip(np.searchsorted(present, labels), 0, len(present) - 1)
            out = np.where(labels > 0, written[index], 0).astype(np.uint16)
        write_label_image(self.mask_path(frame), out, self.compression)
        self.next_frame += 1
        return out

    def _written_label(self, label: int, frame: int) -> int:
        segments = self._segments.setdefault(label, [])
        if segments and self._tracks[segments[-1]][1] == frame - 1:
            self._tracks[segments[-1]][1] = frame
            return segments[-1]
        written = label if label <= MAX_LABEL and label not in self._tracks else self._max_label + 1
        if written > MAX_LABEL:
            while self._lowest_free in self._tracks:
                self._lowest_free += 1
            written = self._lowest_free
        if written > MAX_LABEL:
            raise ValueError(f"{self.out_dir} (frame {frame}): more than {MAX_LABEL} track segments; "
                             f"CTC masks are 16-bit.")
        self._tracks[written] = [frame, frame, segments[-1] if segments else 0]
        segments.append(written)
        self._max_label = max(self._max_label, written)
        return written

    def state_dict(self) -> dict:
        """Everything needed to continue writing after a restart (plain Python values; pickle them)."""
        return {key: value for key, value in vars(self).items() if key != "out_dir"}

    def load_state_dict(self, state: Mapping) -> None:
        """Continue from :meth:`state_dict`: the next frame written is ``state["next_frame"]``."""
        vars(self).update(state)

    def close(self, parents: Optional[Mapping[int, int]] = None) -> np.ndarray:
        """Write the lineage file and return it as ``(N, 4)`` rows ``[label, begin, end, parent]``.

        ``parents`` maps a track id to its parent's track id (as given to :meth:`write_frame`; 0 or
        absent = none). A daughter is linked to the last segment of its parent that ends before it begins.
        """
        for label, parent in (parents or {}).items():
            if not parent:
                continue
            for track in (label, parent):
                if track not in self._segments:
                    raise ValueError(f"{self.out_dir}: parents links track {label} to parent {parent}, "
                                     f"but track {track} is in no written frame.")
            first = self._segments[label][0]
            begin = self._tracks[first][0]
            before = [s for s in self._segments[parent] if self._tracks[s][1] < begin]
            if not before:
                raise ValueError(
                    f"{self.out_dir}: track {label} begins at frame {begin} while its parent {parent} is "
                    f"still present (frame {self._tracks[self._segments[parent][0]][0]} on); a parent must "
                    f"end before its daughters begin.")
            self._tracks[first][2] = before[-1]
        table = np.array([[label, *span] for label, span in sorted(self._tracks.items())],
                         dtype=np.int64).reshape(-1, 4)
        write_lineage(self.out_dir / self.track_file, table)
        return table


def write_ctc_results(out_dir, label_images: Iterable[np.ndarray], parents: Optional[Mapping[int, int]] = None,
                      num_frames: Optional[int] = None) -> np.ndarray:
    """Write label images (frames 0, 1, ...) and parent links as a CTC result; return the lineage.

    Convenience wrapper around :class:`CTCTrackWriter` (see it for the rules); ``num_frames`` defaults
    to ``len(label_images)`` when it has one.
    """
    if num_frames is None and hasattr(label_images, "__len__"):
        num_frames = len(label_images)
    writer = CTCTrackWriter(out_dir, num_frames=num_frames)
    for frame, labels in enumerate(label_images):
        writer.write_frame(frame, labels)
    return writer.close(parents)
