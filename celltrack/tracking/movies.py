"""Several movies in one command: find them, give each its output folder, share them among processes."""
import glob
import json
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..data.movie import IMAGE_SUFFIXES, TIFF_SUFFIXES, VIDEO_SUFFIXES, DataError, movie_length
from .predictor import CellTrackPredictor
from .sinks import save_atomically
from .track_movie import STATE, check_output_dir, track_movie


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
    save_atomically(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    return summary
