"""Track a whole movie into one output folder: CTC results, tracks table, GEFF, overlay movie, lineage picture.

Output folder layout::

    res/maskTTT.tif, res/res_track.txt   CTC results (what TrackMate, napari-ctc-io, py-ctcmetrics read)
    tracks.csv                           track_id, frame, y, x, area, parent (a napari tracks layer)
    tracks.geff/                         the same tracks as a GEFF graph (celltrack.data.geff)
    overlay/TTTT.png, overlay.mp4        frames with cells coloured by track and their ids
    lineage.png                          the lineage tree
    summary.json                         counts and time per frame

The frames go through :func:`~celltrack.tracking.frame_loop.track_frames` into the sinks of
``tracking.sinks``. Every file appears atomically (written under a temporary name, then renamed). After
each frame the state of the predictor, the tracker and the sinks is saved in ``.resume/`` (JSON + ``.npz``,
``tracking.state``) with a fingerprint of the run (movie, label images, config, weights), so an interrupted
run continues with ``resume=True``, and only with the same inputs. Memory holds one frame at a time,
whatever the movie's length. ``overwrite=True`` removes exactly the files a run writes (:data:`OUTPUTS`,
:data:`OUTPUT_TREES`), never others; a run that fails before its first frame is saved leaves the folder as
it found it. Several movies: ``tracking.movies``.
"""
import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from typing import Generator, Iterable, Iterator, Optional, Tuple

import numpy as np
from tqdm import tqdm

from ..data.movie import VIDEO_SUFFIXES, DataError, movie_length, read_movie
from .frame_loop import frame_steps
from .lineage import count_divisions
from .predictor import CellTrackPredictor, neighbouring
from .sinks import CTCResultSink, GeffSink, OverlaySink, TracksTableSink, save_atomically
from .state import load_state, save_state

STATE = ".resume/state.json"
# Every file a run writes, relative to the output folder, with the temporary names they pass through.
OUTPUTS = re.compile(r"(res/mask\d{3,}\.tif|res/res_track\.txt|overlay/\d{4,}\.png|overlay(\.partial)?\.mp4|"
                     r"tracks\.csv|lineage\.png|summary\.json|\.resume/state\.json|\.resume/state-\d+\.npz)"
                     r"(\.partial|\.tmp)?")
OUTPUT_FOLDERS = ("res", "overlay", ".resume")
# Folders a run writes whole (a GEFF is a zarr folder), with the temporary name they pass through.
OUTPUT_TREES = ("tracks.geff", "tracks.geff.partial")


def check_output_dir(out_dir: Path, overwrite: bool, resume: bool) -> None:
    """Refuse to mix a new run into a non-empty folder unless told to overwrite or resume."""
    if overwrite and resume:
        raise DataError(f"{out_dir}: --overwrite and --resume contradict each other (replace the earlier results, "
                        f"or continue them). Pass only one of them.")
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: is a file, not a folder. Give --output a new or empty folder.")
    empty = not out_dir.exists() or not any(out_dir.iterdir())
    if resume and empty:
        raise DataError(f"{out_dir}: nothing to resume (no earlier run there). Drop --resume.")
    if resume and not (out_dir / STATE).exists():
        raise DataError(f"{out_dir / STATE}: no saved state to resume from (the run there finished, or the folder "
                        f"is not a CellTrack run). Run without --resume into an empty folder, or with --overwrite.")
    if not resume and not empty and not overwrite:
        raise DataError(f"{out_dir}: is not empty. Choose another folder, pass --overwrite to replace its results, "
                        f"or --resume to continue an interrupted run.")


def remove_outputs(out_dir: Path) -> None:
    """Delete the files a run writes (:data:`OUTPUTS`, :data:`OUTPUT_TREES`), and their folders when that leaves
    them empty."""
    for name in OUTPUT_TREES:
        if (out_dir / name).is_dir():
            shutil.rmtree(out_dir / name)
    folders = [out_dir / name for name in OUTPUT_FOLDERS if (out_dir / name).is_dir()]
    for folder in [out_dir] * out_dir.is_dir() + folders:
        for path in folder.iterdir():
            if path.is_file() and OUTPUTS.fullmatch(path.relative_to(out_dir).as_posix()):
                path.unlink()
    for folder in folders:
        if not any(folder.iterdir()):
            folder.rmdir()


def exact_length(path) -> Optional[int]:
    """Frame count of a folder or TIFF stack; None for a video, whose container may miscount."""
    return None if Path(path).suffix.lower() in VIDEO_SUFFIXES else movie_length(path)


def _file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _movie_fingerprint(path, channel: Optional[int] = None, z: Optional[int] = None) -> dict:
    """Which movie this is: its path, frame count, frame size and dtype, and a hash of its first frame."""
    frames = read_movie(path, channel=channel, z=z)
    _, first = next(frames, (None, None))
    frames.close()
    if first is None:
        raise DataError(f"{path}: the movie has no frames. Check the path.")
    return {"path": str(Path(path).resolve()), "frames": movie_length(path), "size": list(first.shape),
            "dtype": str(first.dtype), "first_frame": hashlib.sha256(first.tobytes()).hexdigest()}


def run_fingerprint(cfg, movie_path, masks=None, channel: Optional[int] = None, z: Optional[int] = None) -> dict:
    """What a run's results depend on: movie, label images, config and weights (by content).

    Reads the first frame of the movie and of the label images, so unreadable input fails here, before
    anything is written.
    """
    config = cfg.clone()
    config.defrost()
    # The weights count by content (below); a run may continue on another device.
    config.MODEL.WEIGHTS, config.MODEL.DEVICE = "", ""
    weights = cfg.MODEL.WEIGHTS
    return {
        "movie": _movie_fingerprint(movie_path, channel, z),
        "masks": _movie_fingerprint(masks) if masks else None,
        "config": hashlib.sha256(config.dump().encode()).hexdigest(),
        "weights": _file_sha256(weights) if weights and Path(weights).is_file() else None,
    }


def _check_same_run(saved: dict, current: dict, state_path: Path) -> None:
    """Raise unless an interrupted run's fingerprint is this run's."""
    differing = []
    for name, value in current.items():
        if isinstance(value, dict) and isinstance(saved.get(name), dict) and saved[name] != value:
            differing.append(f"{name} ({', '.join(key for key in value if saved[name].get(key) != value[key])})")
        elif saved.get(name) != value:
            differing.append(name)
    if differing:
        movie = saved.get("movie") or {}
        raise DataError(
            f"{state_path}: the interrupted run there differs from this one in its {', '.join(differing)}: it tracked "
            f"{movie.get('path', 'an unknown movie')} ({movie.get('frames', '?')} frames). Resume with the same "
            f"movie, label images, config and weights, or start over with --overwrite.")


def _paired_frames(movie: Iterable, masks: Optional[Path]) -> Iterator[Tuple[int, np.ndarray, Optional[np.ndarray]]]:
    if masks is None:
        for frame, image in movie:
            yield frame, image, None
        return
    label_frames = read_movie(masks)
    for frame, image in movie:
        given = next(label_frames, None)
        if given is None:
            raise DataError(f"{masks}: has fewer label images than the movie has frames (none for frame {frame}). "
                            f"Give one label image per frame.")
        labels = given[1]
        if labels.shape != image.shape:
            raise DataError(f"{masks} (frame {frame}): label image size {labels.shape} differs from the movie "
                            f"frame's {image.shape}. Give label images of the movie's size.")
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{masks} (frame {frame}): expected an integer label image, got {labels.dtype}. Save "
                            f"the labels as integers (e.g. uint16, 0 = background).")
        yield frame, image, labels
    if next(label_frames, None) is not None:
        raise DataError(f"{masks}: has more label images than the movie has frames. Give one label image per frame.")


def track_movie(
    predictor: CellTrackPredictor,
    movie_path: Path,
    out_dir: Path,
    masks: Optional[Path] = None,
    overwrite: bool = False,
    resume: bool = False,
    fps: float = 5.0,
    channel: Optional[int] = None,
    z: Optional[int] = None,
) -> dict:
    """Track ``movie_path`` (folder of frames, TIFF stack or video) into ``out_dir``; return the summary.

    ``masks``: a folder (or stack) of label images, one per frame, to link instead of detecting.
    ``channel``, ``z``: the plane to track in a TIFF hyperstack with channels or z-slices.
    Raises :class:`DataError` for unusable input, a non-empty ``out_dir`` (unless ``overwrite`` or
    ``resume``), a ``resume`` whose saved run had other inputs, and a saved state that is not one.
    """
    frames = track_movie_frames(predictor, movie_path, out_dir, masks, overwrite, resume, fps, channel, z)
    while True:
        try:
            next(frames)
        except StopIteration as finished:
            return finished.value


def track_movie_frames(
    predictor: CellTrackPredictor,
    movie_path: Path,
    out_dir: Path,
    masks: Optional[Path] = None,
    overwrite: bool = False,
    resume: bool = False,
    fps: float = 5.0,
    channel: Optional[int] = None,
    z: Optional[int] = None,
) -> Generator[int, None, dict]:
    """:func:`track_movie` one frame at a time, for a caller that shows progress or may stop the run (the
    napari widget): a generator that yields each frame's index (from 0) once its results are saved, and
    returns the summary. Closing it stops the run as Ctrl-C does (``resume=True`` continues it).
    """
    out_dir, masks = Path(out_dir), Path(masks) if masks else None
    check_output_dir(out_dir, overwrite, resume)
    fingerprint = run_fingerprint(predictor.cfg, movie_path, masks, channel, z)
    num_frames = exact_length(movie_path)
    num_labels = exact_length(masks) if masks else num_frames
    if num_frames and num_labels and num_labels != num_frames:
        raise DataError(f"{masks}: {num_labels} label images for the {num_frames} frames of {movie_path}. Give "
                        f"one label image per frame.")
    state = None
    if resume:
        state = load_state(out_dir / STATE)
        if not isinstance(state, dict) or not isinstance(state.get("fingerprint"), dict):
            raise DataError(f"{out_dir / STATE}: holds no run fingerprint; it is not a track_video state. Start "
                            f"over with --overwrite.")
        _check_same_run(state["fingerprint"], fingerprint, out_dir / STATE)
    elif overwrite:
        remove_outputs(out_dir)
    created = not out_dir.exists()
    try:
        return (yield from _track(predictor, movie_path, out_dir, masks, fps, channel, z, num_frames,
                                  fingerprint, state))
    except BaseException:
        if not (out_dir / STATE).exists():  # no frame saved: nothing to resume, so leave no trace
            remove_outputs(out_dir)
            if created and out_dir.is_dir() and not any(out_dir.iterdir()):
                out_dir.rmdir()
        raise


def _track(predictor, movie_path, out_dir: Path, masks: Optional[Path], fps: float, channel, z,
           num_frames: Optional[int], fingerprint: dict, state: Optional[dict]) -> Generator[int, None, dict]:
    """Build the tracker and the sinks (from ``state`` when resuming), step through the frame loop (yielding
    each frame's index once saved), write the summary and return it."""
    # Names need the movie's length up front; an unknown length (a video) gets 4 digits from the start.
    ctc = CTCResultSink(out_dir / "res", num_frames=num_frames)
    table = TracksTableSink(out_dir / "tracks.csv")
    sinks = {"ctc": ctc, "table": table,
             "overlay": OverlaySink(out_dir, ctc, fps, title=f"{Path(movie_path).name}: lineage"),
             "geff": GeffSink(out_dir / "res", out_dir / "tracks.geff")}
    tracker = predictor.make_tracker(given_cells=masks is not None)
    predictor.reset()
    timings, start_frame = {"linking": 0.0}, 0
    if state is not None:
        try:
            predictor.load_state_dict(state["predictor"])
            tracker.load_state_dict(state["tracker"])
            for name, sink in sinks.items():
                sink.load_state_dict(state["sinks"][name])
            timings, start_frame = {"linking": float(state["linking_seconds"])}, int(state["frame"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"{out_dir / STATE}: cannot be resumed from ({error}). The saved state is damaged or "
                            f"from another version; start over with --overwrite.") from None

    def save(frame: int) -> None:
        save_state(out_dir / STATE, {
            "fingerprint": fingerprint, "frame": frame + 1, "linking_seconds": timings["linking"],
            "predictor": predictor.state_dict(), "tracker": tracker.state_dict(),
            "sinks": {name: sink.state_dict() for name, sink in sinks.items()},
        }, step=frame + 1)

    began = time.perf_counter()
    frames = tqdm(_paired_frames(read_movie(movie_path, channel=channel, z=z), masks),
                  desc=f"tracking {Path(movie_path).name}", unit="frame", total=movie_length(movie_path))
    # Frames are counted from 0 whatever the movie's own numbering (a folder may start at t001).
    # Each frame goes to the predictor with its raw neighbours in time (CELLTRACK.TEMPORAL_SMOOTHING).
    movie = ((image, (labels, tuple(None if frame is None else frame[1] for frame in around)))
             for (_, image, labels), around in neighbouring(frames))

    def segment(image, given):
        labels, neighbours = given
        return predictor.segment(image, labels, neighbours)

    try:
        yield from frame_steps(movie, segment, tracker, list(sinks.values()), start_frame=start_frame,
                               after_frame=save, timings=timings)
    finally:  # the progress bar's last line before any error message
        frames.close()

    length = predictor.frames
    summary = {
        "movie": str(movie_path),
        "frames": length,
        "cells": int(table.cells),
        "tracks": int(len(ctc.lineage)),
        "divisions": int(count_divisions(ctc.lineage)),
        "linked_given_masks": masks is not None,
        # frames whose network input was averaged with their neighbours' (CELLTRACK.TEMPORAL_SMOOTHING: noisy frames)
        "frames_smoothed_in_time": predictor.smoothed_frames,
        "seconds_per_frame": {
            "detection" if masks is None else "embedding": predictor.seconds / length,
            "linking": timings["linking"] / length,
        },
        "wall_seconds_this_run": time.perf_counter() - began,
    }
    save_atomically(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    shutil.rmtree(out_dir / STATE.split("/")[0])
    return summary
