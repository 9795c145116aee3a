"""What CellTrack is compared with: linkers and a segmentation a user has for free.

Every function works on plain label images (``(H, W)`` integers, 0 = background, one value per cell)
and writes its tracks as a CTC result folder, so that all rows of the benchmark are scored the same way.

* :func:`link_iou` - the IoU-overlap linker: CellTrack's tracker with no track head (``similarity=None``)
  and the same assignment as CellTrack's default (``method="global"``: one-to-one assignment of mask IoU,
  IoU >= alpha, then a second daughter with IoU >= alpha = a division), so it differs from CellTrack only
  by the learned similarities.
* :func:`link_laptrack` - laptrack's LAP tracker on cell centroids, with gap closing and splitting; its
  options tuned on training data by ``benchmarks/tune_laptrack.py`` (:func:`laptrack_options` reads them).
* :func:`classical_segmentation` - percentile normalisation, Otsu's threshold on log intensity and a
  distance-transform watershed.
* :func:`remove_identities` - GT masks as a segmentation without track identities (linking-only rows).
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Iterable, Optional, Tuple

import numpy as np
import pandas as pd
from scipy import ndimage

from celltrack.data.ctc import CTCTrackWriter
from celltrack.data.normalize import percentile_normalize
from celltrack.evaluation import write_tracked_sequence
from celltrack.tracking.tracker import Detections, Tracker

__all__ = ["LAPTRACK_DEFAULTS", "LAPTRACK_TUNED", "CLASSICAL_DEFAULTS", "classical_segmentation", "laptrack_options",
           "link_iou", "link_laptrack", "remove_identities"]

# laptrack's options here, in pixels (squared distances are laptrack's cost). Nuclei in Fluo-N2DH-SIM+
# and GOWT1 are ~55-60 px across and move a few px per frame; daughters appear ~15-30 px from the
# mother's centroid.
LAPTRACK_DEFAULTS = {"max_distance": 30.0, "gap_frames": 2, "split_distance": 30.0}
# laptrack's options chosen on training data (Fluo-N2DH-SIM+ 01 GT masks) by benchmarks/tune_laptrack.py.
LAPTRACK_TUNED = Path(__file__).resolve().parent / "laptrack_tuned.json"
# Classical pipeline options (pixels): Gaussian smoothing, smallest cell kept, least distance between
# two cells' centres (watershed seeds).
CLASSICAL_DEFAULTS = {"sigma": 2.0, "min_area": 200, "min_distance": 15}


def remove_identities(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Relabel the cells of a GT frame 1..N in a random order, so that no track id leaks to a linker."""
    present = np.unique(labels)
    present = present[present > 0]
    lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
    lookup[present] = rng.permutation(len(present)) + 1
    return lookup[labels]


def link_iou(frames: Iterable[np.ndarray], out_dir, alpha: float = 0.1, num_frames: Optional[int] = None,
             method: str = "global") -> np.ndarray:
    """Link label images by mask overlap (see module docstring); write ``out_dir``; return the lineage.

    Args:
        frames: label images of frames 0, 1, 2, ...
        out_dir: CTC result folder.
        alpha: least mask IoU of a link, and of a second daughter (``division_min_score``: without learned
            scores a link's weight is its IoU alone, and the tracker's 0.5 would find almost no division).
        num_frames: frames in the movie, if known (for the writer).
        method: the tracker's assignment, CellTrack's default ("global"); pass the config's
            ``CELLTRACK.TRACKER.METHOD`` so that this row follows CellTrack's default.
    """
    frames = iter(frames)
    first = next(frames)
    detections = (Detections.from_labels(labels) for labels in itertools.chain([first], frames))
    tracker = Tracker(similarity=None, method=method, alpha=alpha, division_min_score=alpha)
    return write_tracked_sequence(detections, tracker, out_dir, first.shape, num_frames)


def laptrack_options(path=LAPTRACK_TUNED) -> Tuple[dict, dict]:
    """laptrack's options for the benchmark: those ``benchmarks/tune_laptrack.py`` chose, else the defaults.

    Args:
        path: the JSON tune_laptrack.py writes (default ``benchmarks/laptrack_tuned.json``).

    Returns:
        ``(options, provenance)``: ``options`` has the keyword arguments of :func:`link_laptrack`;
        ``provenance`` says where they come from (``source``, and for tuned values ``file``, ``sequence``,
        ``selection``, ``scores`` on the tuning sequence and ``command``).

    Raises:
        ValueError naming the file when it exists but lacks an option (rerun tune_laptrack.py).
    """
    path = Path(path)
    if not path.is_file():
        return dict(LAPTRACK_DEFAULTS), {
            "source": "untuned defaults",
            "note": f"{path} not found, so laptrack runs with LAPTRACK_DEFAULTS (untuned); choose its options "
                    f"on training data with `python benchmarks/tune_laptrack.py`"}
    tuned = json.loads(path.read_text())
    chosen = tuned.get("chosen", {})
    missing = sorted(set(LAPTRACK_DEFAULTS) - set(chosen))
    if missing:
        raise ValueError(f"{path}: 'chosen' lacks {missing}; rerun `python benchmarks/tune_laptrack.py` to rewrite it")
    options = {key: type(LAPTRACK_DEFAULTS[key])(chosen[key]) for key in LAPTRACK_DEFAULTS}
    return options, {"source": "tuned", "file": path.name, "sequence": tuned.get("sequence"),
                     "selection": tuned.get("selection"), "scores": tuned.get("chosen_scores"),
                     "command": tuned.get("command")}


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
