"""Track a whole movie into one output folder: CTC results, tracks table, overlay movie, lineage picture.

Output folder layout::

    res/maskTTT.tif, res/res_track.txt   CTC results (what TrackMate, napari-ctc-io, py-ctcmetrics read)
    tracks.csv                           track_id, frame, y, x, area, parent (a napari tracks layer)
    overlay/TTT.png, overlay.mp4         frames with cells coloured by track and their ids
    lineage.png                          the lineage tree
    summary.json                         counts and time per frame

Every file appears atomically (written under a temporary name, then renamed). The tracker's state is
saved after each frame in ``.resume/``, so an interrupted run continues with ``resume=True``; memory
holds one frame at a time, whatever the movie's length.
"""
import csv
import json
import pickle
import time
from pathlib import Path
from typing import Iterable, Iterator, Optional, Tuple

import numpy as np
from tqdm import tqdm

from ..data.ctc import CTCTrackWriter
from ..data.movie import DataError, movie_length, read_movie
from .lineage import count_divisions
from .linking import centers_from_labels
from .predictor import CellTrackPredictor, track_label_image
from .visualize import overlay_frame, plot_lineage, write_movie

CSV_COLUMNS = ["track_id", "frame", "y", "x", "area", "parent"]
STATE = ".resume/state.pkl"


def check_output_dir(out_dir: Path, overwrite: bool, resume: bool) -> None:
    """Refuse to mix a new run into a non-empty folder unless told to overwrite or resume."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        if resume:
            raise FileNotFoundError(f"{out_dir}: nothing to resume (no earlier run there); drop --resume")
        return
    if resume:
        if not (out_dir / STATE).exists():
            raise FileNotFoundError(f"{out_dir / STATE}: no saved state to resume from; run without --resume "
                                    f"into an empty folder, or pass --overwrite")
        return
    if not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; choose another folder, pass --overwrite to replace "
                              f"its results, or --resume to continue an interrupted run")


def _save_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_bytes(data)
    temporary.replace(path)


def _paired_frames(movie: Iterable, masks: Optional[Path]) -> Iterator[Tuple[int, np.ndarray, Optional[np.ndarray]]]:
    if masks is None:
        for frame, image in movie:
            yield frame, image, None
        return
    label_frames = read_movie(masks)
    for (frame, image), given in zip(movie, label_frames):
        labels = given[1]
        if labels.shape != image.shape:
            raise DataError(f"{masks} (frame {frame}): label image size {labels.shape} differs from the movie "
                            f"frame's {image.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{masks} (frame {frame}): expected an integer label image, got {labels.dtype}")
        yield frame, image, labels
    if next(label_frames, None) is not None:
        raise DataError(f"{masks}: more label images than movie frames")


def track_movie(
    predictor: CellTrackPredictor,
    movie_path: Path,
    out_dir: Path,
    masks: Optional[Path] = None,
    overwrite: bool = False,
    resume: bool = False,
    fps: float = 5.0,
) -> dict:
    """Track ``movie_path`` (folder of frames, TIFF stack or video) into ``out_dir``; return the summary.

    ``masks``: a folder (or stack) of label images, one per frame, to link instead of detecting.
    """
    out_dir = Path(out_dir)
    check_output_dir(out_dir, overwrite, resume)
    (out_dir / "overlay").mkdir(parents=True, exist_ok=True)
    writer = CTCTrackWriter(out_dir / "res")
    rows_path = out_dir / "tracks.csv.partial"
    start_frame, num_cells, parent_of = 0, 0, {}
    predictor.reset()
    if resume:
        state = pickle.loads((out_dir / STATE).read_bytes())  # our own file, in the folder the user named
        predictor.tracker.load_state_dict(state["tracker"])
        predictor.frame = start_frame = state["frame"]
        predictor.timings = state["timings"]
        writer.__dict__.update(state["writer"])
        num_cells, parent_of = state["num_cells"], state["parent_of"]
        with open(rows_path, "r+") as rows:
            rows.truncate(state["rows_bytes"])
    else:
        rows_path.write_text(",".join(CSV_COLUMNS) + "\n")

    began = time.perf_counter()
    frames = _paired_frames(read_movie(movie_path), Path(masks) if masks else None)
    progress = tqdm(frames, desc=f"tracking {Path(movie_path).name}", unit="frame",
                    total=movie_length(movie_path))
    # Frames are counted from 0 whatever the movie's own numbering (a folder may start at t001).
    for frame, (_, image, labels) in enumerate(progress):
        if frame < start_frame:
            continue
        cells = predictor(image, labels)
        track_ids = cells.pred_track_ids.numpy()
        parents = cells.pred_parent_ids.numpy()
        for track_id, parent in zip(track_ids, parents):
            if parent:
                parent_of[int(track_id)] = int(parent)
        written = writer.write_frame(frame, track_label_image(predictor.last_labels, track_ids))
        areas = np.bincount(predictor.last_labels.ravel(), minlength=len(cells) + 1)[1:]
        with open(rows_path, "a", newline="") as rows:
            out = csv.writer(rows)
            for i, (x, y) in enumerate(centers_from_labels(predictor.last_labels, len(cells))):
                out.writerow([int(track_ids[i]), frame, round(float(y), 2), round(float(x), 2), int(areas[i]),
                              int(parents[i])])
        overlay = overlay_frame(image, written.astype(np.int64), parent_of)
        _save_png(out_dir / "overlay" / f"{frame:04d}.png", overlay)
        num_cells += len(cells)
        state = {
            "frame": frame + 1,
            "tracker": predictor.tracker.state_dict(),
            "timings": predictor.timings,
            "writer": {k: v for k, v in writer.__dict__.items() if k not in ("out_dir",)},
            "num_cells": num_cells,
            "parent_of": parent_of,
            "rows_bytes": rows_path.stat().st_size,
        }
        _save_atomically(out_dir / STATE, pickle.dumps(state))
    progress.close()
    if predictor.frame == 0:
        raise DataError(f"{movie_path}: the movie has no frames")

    lineage = writer.close(parent_of)
    rows_path.replace(out_dir / "tracks.csv")
    write_movie(sorted((out_dir / "overlay").glob("*.png")), out_dir / "overlay.mp4", fps)
    plot_lineage(lineage, out_dir / "lineage.png", title=f"{Path(movie_path).name}: lineage")
    num_frames = predictor.frame
    summary = {
        "movie": str(movie_path),
        "frames": num_frames,
        "cells": int(num_cells),
        "tracks": int(len(lineage)),
        "divisions": int(count_divisions(lineage)),
        "linked_given_masks": masks is not None,
        "seconds_per_frame": {
            "detection" if masks is None else "embedding": predictor.timings["detection"] / num_frames,
            "linking": predictor.timings["linking"] / num_frames,
        },
        "wall_seconds_this_run": time.perf_counter() - began,
    }
    _save_atomically(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    (out_dir / STATE).unlink()
    (out_dir / STATE).parent.rmdir()
    return summary


def _save_png(path: Path, picture: np.ndarray) -> None:
    import cv2

    ok, data = cv2.imencode(".png", picture)
    if not ok:
        raise RuntimeError(f"{path}: could not encode the overlay picture")
    _save_atomically(path, data.tobytes())
