"""Track a whole movie into one output folder: CTC results, tracks table, overlay movie, lineage picture.

Output folder layout::

    res/maskTTT.tif, res/res_track.txt   CTC results (what TrackMate, napari-ctc-io, py-ctcmetrics read)
    tracks.csv                           track_id, frame, y, x, area, parent (a napari tracks layer)
    tracks.geff/                         the same tracks as a GEFF graph (celltrack.data.geff)
    overlay/TTTT.png, overlay.mp4        frames with cells coloured by track and their ids
    lineage.png                          the lineage tree
    summary.json                         counts and time per frame

Every file appears atomically (written under a temporary name, then renamed). The tracker's state is
saved after each frame in ``.resume/`` with a fingerprint of the run (movie, label images, config,
weights), so an interrupted run continues with ``resume=True``, and only with the same inputs. Memory
holds one frame at a time, whatever the movie's length. ``overwrite=True`` removes exactly the files a
run writes (:data:`OUTPUTS`, :data:`OUTPUT_TREES`), never others; a run that fails before its first frame
is saved leaves the folder as it found it.

Several movies (:func:`track_movies`) go to one such folder each, ``out_dir/<movie name>/``, shared among
the processes of detectron2's ``launch``.
"""
import csv
import glob
import hashlib
import json
import pickle
import re
import shutil
import time
from pathlib import Path
from typing import Generator, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from ..data.ctc import CTCTrackWriter
from ..data.geff import write_geff
from ..data.movie import IMAGE_SUFFIXES, TIFF_SUFFIXES, VIDEO_SUFFIXES, DataError, movie_length, read_movie
from .lineage import count_divisions
from .linking import centers_from_labels
from .predictor import CellTrackPredictor, track_label_image
from .visualize import overlay_frame, plot_lineage, write_movie

CSV_COLUMNS = ["track_id", "frame", "y", "x", "area", "parent"]
STATE = ".resume/state.pkl"
# Every file a run writes, relative to the output folder, with the temporary names they pass through.
OUTPUTS = re.compile(r"(res/mask\d{3,}\.tif|res/res_track\.txt|overlay/\d{4,}\.png|overlay(\.partial)?\.mp4|"
                     r"tracks\.csv|lineage\.png|summary\.json|\.resume/state\.pkl)(\.partial|\.tmp)?")
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
    ``resume``) and a ``resume`` whose saved run had other inputs.
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
        state = pickle.loads((out_dir / STATE).read_bytes())  # our own file, in the folder the user named
        _check_same_run(state.get("fingerprint", {}), fingerprint, out_dir / STATE)
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
    """The frame loop of :func:`track_movie` and the files written at its end; ``state``: resume from it.
    Yields each frame's index once it is saved; returns the summary."""
    (out_dir / "overlay").mkdir(parents=True, exist_ok=True)
    # Names need the movie's length up front; an unknown length (a video) gets 4 digits from the start.
    writer = CTCTrackWriter(out_dir / "res", num_frames=num_frames)
    rows_path = out_dir / "tracks.csv.partial"
    start_frame, num_cells, parent_of = 0, 0, {}
    predictor.reset()
    if state is not None:
        predictor.tracker.load_state_dict(state["tracker"])
        predictor.frame = start_frame = state["frame"]
        predictor.timings = state["timings"]
        writer.load_state_dict(state["writer"])
        num_cells, parent_of = state["num_cells"], state["parent_of"]
        with open(rows_path, "r+") as rows:
            rows.truncate(state["rows_bytes"])
    else:
        rows_path.write_text(",".join(CSV_COLUMNS) + "\n")

    began = time.perf_counter()
    frames = _paired_frames(read_movie(movie_path, channel=channel, z=z), masks)
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
            "fingerprint": fingerprint,
            "frame": frame + 1,
            "tracker": predictor.tracker.state_dict(),
            "timings": predictor.timings,
            "writer": writer.state_dict(),
            "num_cells": num_cells,
            "parent_of": parent_of,
            "rows_bytes": rows_path.stat().st_size,
        }
        _save_atomically(out_dir / STATE, pickle.dumps(state))
        yield frame
    progress.close()

    length = predictor.frame
    lineage = writer.close(parent_of)
    rows_path.replace(out_dir / "tracks.csv")
    write_movie([out_dir / "overlay" / f"{frame:04d}.png" for frame in range(length)], out_dir / "overlay.mp4", fps)
    plot_lineage(lineage, out_dir / "lineage.png", title=f"{Path(movie_path).name}: lineage")
    _write_geff_atomically(out_dir / "res", out_dir / "tracks.geff")
    summary = {
        "movie": str(movie_path),
        "frames": length,
        "cells": int(num_cells),
        "tracks": int(len(lineage)),
        "divisions": int(count_divisions(lineage)),
        "linked_given_masks": masks is not None,
        "seconds_per_frame": {
            "detection" if masks is None else "embedding": predictor.timings["detection"] / length,
            "linking": predictor.timings["linking"] / length,
        },
        "wall_seconds_this_run": time.perf_counter() - began,
    }
    _save_atomically(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    (out_dir / STATE).unlink()
    (out_dir / STATE).parent.rmdir()
    return summary


def _write_geff_atomically(result_dir: Path, geff_path: Path) -> None:
    """Write the GEFF of ``result_dir`` under a temporary name, then move it to ``geff_path`` (a folder)."""
    temporary = geff_path.with_name(geff_path.name + ".partial")
    for path in (temporary, geff_path):  # left by a run interrupted after writing them
        if path.is_dir():
            shutil.rmtree(path)
    write_geff(result_dir, temporary)
    temporary.replace(geff_path)


def _save_png(path: Path, picture: np.ndarray) -> None:
    import cv2

    ok, data = cv2.imencode(".png", picture)
    if not ok:
        raise RuntimeError(f"{path}: could not encode the overlay picture")
    _save_atomically(path, data.tobytes())


# ------------------------------------------------------------------------------------------ many movies
def _holds_frames(folder: Path) -> bool:
    """Whether ``folder`` is one movie: it holds image files, the first of them a single frame."""
    images = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    return bool(images) and (images[0].suffix.lower() not in TIFF_SUFFIXES or (movie_length(images[0]) or 1) == 1)


def _movies_in(folder: Path) -> list:
    """The movies a folder holds: sub-folders of frames, TIFF stacks and videos (empty: it is one movie)."""
    if _holds_frames(folder):
        return []
    return [path for path in sorted(folder.iterdir())
            if (_holds_frames(path) if path.is_dir() else path.suffix.lower() in TIFF_SUFFIXES + VIDEO_SUFFIXES)]


def find_movies(inputs: Sequence[str]) -> Tuple[List[Path], bool]:
    """The movies named by track_video's MOVIE arguments, and whether they are several.

    Each input is a movie (folder of frames, TIFF stack, video), a folder of movies (sub-folders of frames,
    TIFF stacks, videos; other entries, e.g. a CTC ``NN_GT`` folder, are skipped) or a glob pattern
    (``'movies/*.tif'``). "Several" follows from the command, not from the count: more than one input, a
    folder of movies or a pattern each give one output folder per movie; a folder that holds no movie is one
    movie (which says what is wrong with it when read). Raises :class:`DataError` for a pattern that matches
    nothing and for two movies of one name.
    """
    movies, several = [], len(inputs) > 1
    for text in inputs:
        path = Path(text)
        inside = _movies_in(path) if path.is_dir() else []
        if inside:
            movies += inside
            several = True
        elif not path.exists() and glob.has_magic(text):
            matches = sorted(Path(match) for match in glob.glob(text))
            if not matches:
                raise DataError(f"{text}: matches no movie. Check the pattern (quote it so that the shell leaves it "
                                f"to track_video).")
            movies += matches
            several = True
        else:
            movies.append(path)  # read_movie names what is wrong with it
    by_name: dict = {}
    for movie in movies:
        if movie_name(movie) in by_name:
            raise DataError(f"{movie}: has the name '{movie_name(movie)}' of {by_name[movie_name(movie)]}, and each "
                            f"movie gets the output folder of its name. Rename one of them, or track them apart.")
        by_name[movie_name(movie)] = movie
    return movies, several


def movie_name(movie) -> str:
    """The name of a movie's output folder: a folder's name, a file's name without its suffix."""
    movie = Path(movie)
    return movie.name if movie.is_dir() else movie.stem


def masks_of(movies: Sequence[Path], masks: Optional[Path]) -> List[Optional[Path]]:
    """Each movie's label images in ``masks``, a folder holding one entry per movie named after it
    (``masks/<name>/`` or ``masks/<name>.tif``); DataError naming the first movie without any."""
    if masks is None:
        return [None] * len(movies)
    found = []
    for movie in movies:
        candidates = [Path(masks) / movie_name(movie)] + [Path(masks) / (movie_name(movie) + suffix)
                                                          for suffix in TIFF_SUFFIXES]
        given = next((path for path in candidates if path.exists()), None)
        if given is None:
            raise DataError(f"{masks}: no label images for the movie {movie} (expected {candidates[0]}/ or "
                            f"{candidates[1]}). With several movies, --masks is a folder holding one entry per movie, "
                            f"named after it.")
        found.append(given)
    return found


def check_movies_output_dir(out_dir: Path, overwrite: bool, resume: bool) -> None:
    """:func:`check_output_dir` for the top folder of several movies (whose saved states are per movie)."""
    if overwrite and resume:
        check_output_dir(out_dir, overwrite, resume)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: is a file, not a folder. Give --output a new or empty folder.")
    empty = not out_dir.exists() or not any(out_dir.iterdir())
    if resume and empty:
        raise DataError(f"{out_dir}: nothing to resume (no earlier run there). Drop --resume.")
    if not resume and not empty and not overwrite:
        raise DataError(f"{out_dir}: is not empty. Choose another folder, pass --overwrite to replace the results of "
                        f"the movies tracked into it, or --resume to continue an interrupted run.")


def track_movies(cfg, movies: Sequence[Path], out_dir: Path, masks: Sequence[Optional[Path]], overwrite: bool = False,
                 resume: bool = False, options: Optional[dict] = None) -> Optional[dict]:
    """Track several movies into ``out_dir/<movie name>/``, shared among the processes of detectron2's ``launch``.

    Called in every process: process ``rank`` of ``world`` tracks movies ``rank, rank + world, ...`` with its
    own predictor (built from ``cfg``) through :func:`track_movie`; ``options`` (``fps``, ``channel``, ``z``) go to
    it. The arguments are positional, as ``launch(track_movies, ..., args=(...))`` passes them. Each movie's folder
    is resumable on its own: with ``resume``, a movie finished earlier is kept, an interrupted one
    continues and one not begun starts. A movie whose input cannot be used does not stop the others: its
    summary is ``{"movie": path, "error": "<the error line>"}``. Process 0 writes ``out_dir/summary.json``,
    ``{"processes": world, "movies": {name: summary}}`` in the movies' order, and returns it; the others
    return None.
    """
    from detectron2.utils import comm

    from ..cli import USER_ERRORS, error_line

    out_dir = Path(out_dir)
    rank, world = comm.get_rank(), comm.get_world_size()
    summaries, predictor, failure = {}, None, None
    try:
        predictor = CellTrackPredictor(cfg)
    except USER_ERRORS as error:  # the same in every process: reported for each movie
        failure = error_line(error)
    for movie, labels in list(zip(movies, masks))[rank::world]:
        movie_dir = out_dir / movie_name(movie)
        if failure:
            summaries[movie_name(movie)] = {"movie": str(movie), "error": failure}
            continue
        try:
            if resume and not (movie_dir / STATE).exists() and (movie_dir / "summary.json").exists():
                summaries[movie_name(movie)] = json.loads((movie_dir / "summary.json").read_text())
                continue  # finished before the interruption
            started = movie_dir.is_dir() and any(movie_dir.iterdir())
            summaries[movie_name(movie)] = track_movie(predictor, movie, movie_dir, masks=labels, overwrite=overwrite,
                                                       resume=resume and started, **(options or {}))
        except USER_ERRORS as error:
            summaries[movie_name(movie)] = {"movie": str(movie), "error": error_line(error)}
    gathered = comm.gather(summaries)
    if not comm.is_main_process():
        return None
    found = {name: summary for part in gathered for name, summary in part.items()}
    summary = {"processes": world, "movies": {movie_name(movie): found[movie_name(movie)] for movie in movies}}
    _save_atomically(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    return summary
