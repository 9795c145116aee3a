"""What CellTrack is compared with: a linker and a segmentation a user has for free.

Both work on plain label images (``(H, W)`` integers, 0 = background, one value per cell); the linker
writes its tracks as a CTC result folder, so that it is scored as CellTrack's results are.

* :func:`link_iou` - CellTrack's own tracker with no track head: links by mask overlap alone, so that it
  differs from CellTrack only by the learned scores.
* :func:`link_laptrack` - laptrack's LAP tracker on cell centroids, with gap closing and splitting (the
  benchmark tunes its options on training data: ``benchmarks/tune_laptrack.py``).
* :func:`classical_segmentation` - percentile normalisation, Otsu's threshold on log intensity and a
  distance-transform watershed.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Optional

import numpy as np
import pandas as pd
from scipy import ndimage

from celltrack.data.ctc_writer import CTCTrackWriter
from celltrack.data.normalize import percentile_normalize
from celltrack.tracking.tracker import Detections, Tracker

from .evaluator import write_tracked_sequence

__all__ = ["LAPTRACK_DEFAULTS", "CLASSICAL_DEFAULTS", "classical_segmentation", "link_iou", "link_laptrack"]

# laptrack's options here, in pixels (squared distances are laptrack's cost). Nuclei in Fluo-N2DH-SIM+
# and GOWT1 are ~55-60 px across and move a few px per frame; daughters appear ~15-30 px from the
# mother's centroid.
LAPTRACK_DEFAULTS = {"max_distance": 30.0, "gap_frames": 2, "split_distance": 30.0}
# Classical pipeline options (pixels): Gaussian smoothing, smallest cell kept, least distance between
# two cells' centres (watershed seeds).
CLASSICAL_DEFAULTS = {"sigma": 2.0, "min_area": 200, "min_distance": 15}


def link_iou(frames: Iterable[np.ndarray], out_dir, alpha: float = 0.1, num_frames: Optional[int] = None,
             method: str = "global", division_persistence: int = 0, min_track_length: int = 0, max_gap: int = 0,
             fill_gaps: bool = False) -> np.ndarray:
    """Link label images by mask overlap: CellTrack's tracker with no track head (``similarity=None``); write
    ``out_dir``; return the lineage written, (T, 4) rows ``[label, begin, end, parent]``.

    Args:
        frames: label images of frames 0, 1, 2, ...
        out_dir: CTC result folder.
        alpha: least mask IoU of a link, and of a second daughter (``division_min_score``: without learned
            scores a link's weight is its IoU alone, and the tracker's 0.5 would find almost no division).
        num_frames: frames in the movie, if known (for the writer).
        method: the tracker's assignment; pass the config's ``CELLTRACK.TRACKER.METHOD`` (a rule that needs
            no learned weights) to follow CellTrack's default.
        division_persistence: frames both daughters of a division must last (``Tracker``; 0 = off).
        min_track_length: least frames of a track without parent or daughters (``Tracker``; 0 = off).
        max_gap, fill_gaps: frames a lost track may be resumed after (by IoU >= ``alpha`` with its last cell)
            and whether its gap is filled (``Tracker``; 0 = off).
    """
    frames = iter(frames)
    first = next(frames)
    detections = (Detections.from_labels(labels) for labels in itertools.chain([first], frames))
    tracker = Tracker(similarity=None, method=method, alpha=alpha, division_min_score=alpha,
                      division_persistence=division_persistence, min_track_length=min_track_length,
                      max_gap=max_gap, fill_gaps=fill_gaps)
    return write_tracked_sequence(detections, tracker, out_dir, first.shape, num_frames)


def _centroids(frames: Iterable[np.ndarray]) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """One row per cell (frame, label, y, x) and the frames themselves."""
    rows, kept = [], []
    for frame, labels in enumerate(frames):
        labels = np.asarray(labels)
        kept.append(labels)
        present = np.unique(labels)
        present = present[present > 0]
        if len(present) == 0:
            continue
        y, x = np.array(ndimage.center_of_mass(np.ones_like(labels), labels, present)).reshape(-1, 2).T
        rows.append(pd.DataFrame({"frame": frame, "label": present, "y": y, "x": x}))
    columns = {"frame": int, "label": int, "y": float, "x": float}
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(columns)).astype(columns)
    return table, kept


def link_laptrack(frames: Iterable[np.ndarray], out_dir, max_distance: float = LAPTRACK_DEFAULTS["max_distance"],
                  gap_frames: int = LAPTRACK_DEFAULTS["gap_frames"],
                  split_distance: float = LAPTRACK_DEFAULTS["split_distance"]) -> np.ndarray:
    """Link label images with laptrack (LAP on centroids + gap closing + splitting); write ``out_dir``.

    Args:
        frames: label images of frames 0, 1, 2, ...
        out_dir: CTC result folder.
        max_distance: pixels a cell may move between frames (also across a gap).
        gap_frames: the largest frame difference gap closing bridges (laptrack's gap_closing_max_frame_count:
            1 rejoins track segments in consecutive frames, 2 also bridges one missing frame; 0 = no gap closing).
        split_distance: pixels from a mother to a daughter's first position.

    Returns:
        The lineage written, (T, 4) rows ``[label, begin, end, parent]``. A track laptrack carries across a
        gap becomes a new CTC track whose parent is the earlier one (CTC forbids gaps within a track).
    """
    from laptrack import LapTrack

    cells, kept = _centroids(frames)
    tracker = LapTrack(cutoff=max_distance ** 2, gap_closing_cutoff=max_distance ** 2 if gap_frames > 0 else False,
                       gap_closing_max_frame_count=gap_frames, splitting_cutoff=split_distance ** 2)
    if len(cells):
        tracks, splits, _ = tracker.predict_dataframe(cells, ["y", "x"], only_coordinate_cols=False)
    else:
        tracks, splits = cells.assign(track_id=[]), pd.DataFrame()
    writer = CTCTrackWriter(out_dir, num_frames=len(kept))
    by_frame = {frame: group for frame, group in tracks.groupby("frame")}
    for frame, labels in enumerate(kept):
        lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int64)
        group = by_frame.get(frame)
        if group is not None:
            lookup[group["label"].to_numpy()] = group["track_id"].to_numpy() + 1  # laptrack counts from 0
        writer.write_frame(frame, lookup[labels])
    parents = {} if splits.empty else {  # laptrack returns a split table without columns when none
        int(child) + 1: int(parent) + 1 for parent, child in zip(splits["parent_track_id"], splits["child_track_id"])}
    return writer.close(parents)


def classical_segmentation(image: np.ndarray, sigma: float = CLASSICAL_DEFAULTS["sigma"],
                           min_area: int = CLASSICAL_DEFAULTS["min_area"],
                           min_distance: int = CLASSICAL_DEFAULTS["min_distance"]) -> np.ndarray:
    """Segment nuclei the way a user without a trained model would.

    Percentile normalisation (as CellTrack's input), Gaussian smoothing, Otsu's threshold on the log
    intensity (fluorescence is closer to log-normal than normal, so the log separates dim nuclei from
    background better), holes filled, small objects dropped, touching nuclei split by a watershed on
    the distance transform seeded at its local maxima.

    Args:
        image: raw ``(H, W)`` frame.
        sigma, min_area, min_distance: smoothing (px), smallest cell kept (px^2), least distance between
            two seeds (px).

    Returns:
        ``(H, W)`` int32 label image, cells 1..N.
    """
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    normalized = ndimage.gaussian_filter(percentile_normalize(image), sigma)
    log_intensity = np.log1p(255.0 * normalized)
    if np.ptp(log_intensity) == 0:
        return np.zeros(image.shape, dtype=np.int32)
    foreground = ndimage.binary_fill_holes(log_intensity > threshold_otsu(log_intensity))
    foreground = remove_small_objects(foreground, max_size=min_area)
    distance = ndimage.distance_transform_edt(foreground)
    components, _ = ndimage.label(foreground)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=components, exclude_border=False)
    markers = np.zeros(image.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=foreground).astype(np.int32)
    sizes = np.bincount(labels.ravel())
    labels[sizes[labels] < min_area] = 0
    return labels
