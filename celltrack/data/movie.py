"""Read time-lapse frames: one image file, a folder of frames, a multi-page TIFF, or a video.

CellTrack works on single-channel (grayscale) 2-D frames. Everything here hands out ``(H, W)`` arrays
in the file's own dtype (8/16-bit or float); intensity normalisation happens later
(:mod:`celltrack.data.normalize`). Every error is a :class:`DataError` whose message names the file,
the frame and what to do about it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np
import tifffile

TIFF_SUFFIXES = (".tif", ".tiff")
IMAGE_SUFFIXES = TIFF_SUFFIXES + (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv")
VIDEO_TOLERANCE = 8  # grey levels by which a lossy codec may make the channels of a gray video differ


class DataError(ValueError):
    """Input data that CellTrack cannot use. The message names the file, the frame and the fix."""


def where(path, frame: Optional[int] = None) -> str:
    """``'path'`` or ``'path (frame 7)'``: the prefix of every data error message."""
    return f"{path}" if frame is None else f"{path} (frame {frame})"


def as_single_channel(image: np.ndarray, path, frame: Optional[int] = None, tolerance: int = 0) -> np.ndarray:
    """Return ``image`` as ``(H, W)``.

    Accepts ``(H, W)``, a singleton channel (``(H, W, 1)`` / ``(1, H, W)``) and colour images whose
    R, G, B differ by at most ``tolerance`` grey levels (grayscale saved as colour; lossy video codecs
    need a few levels), which become their channel mean. Anything else raises a :class:`DataError`
    naming ``path`` and ``frame``.
    """
    if image.ndim == 3 and 1 in (image.shape[0], image.shape[-1]):
        image = image[0] if image.shape[0] == 1 else image[..., 0]
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        color = image[..., :3]
        spread = color.max(axis=2).astype(np.int64) - color.min(axis=2)
        if spread.max() <= tolerance:
            return np.rint(color.mean(axis=2)).astype(image.dtype)
        raise DataError(
            f"{where(path, frame)}: has {image.shape[-1]} different colour channels (shape {image.shape}); "
            f"CellTrack expects one grayscale channel. Save the fluorescence channel alone, "
            f"e.g. tifffile.imwrite(path, image[..., c])."
        )
    raise DataError(
        f"{where(path, frame)}: has shape {image.shape}; expected one 2-D grayscale frame (H, W). "
        f"Split channels, z-slices or time points into separate single-channel frames."
    )


def read_frame(path, frame: Optional[int] = None) -> np.ndarray:
    """Read one 2-D frame (TIFF, PNG, JPEG, BMP) as ``(H, W)`` in the file's dtype."""
    path = Path(path)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            image = tifffile.imread(path)
        else:
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise OSError("OpenCV could not decode it")
        if np.asarray(image).size == 0:
            raise OSError("it holds no pixels")
    except Exception as error:  # any decoder failure means the same thing: the file is unusable
        raise DataError(
            f"{where(path, frame)}: cannot be read as an image ({type(error).__name__}: {error}). "
            f"Check that the file is complete and not corrupted; re-export it if needed."
        ) from error
    return as_single_channel(np.asarray(image), path, frame)


def numbered_files(folder, pattern: re.Pattern) -> dict[int, Path]:
    """Files in ``folder`` whose name matches ``pattern`` (group 1 = frame number), by frame number.

    Raises :class:`DataError` if two files claim the same frame number.
    """
    files: dict[int, Path] = {}
    for path in sorted(Path(folder).iterdir()):
        match = pattern.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        frame = int(match.group(1))
        if frame in files:
            raise DataError(
                f"{where(path, frame)}: frame {frame} also comes from {files[frame].name}; "
                f"keep one file per frame."
            )
        files[frame] = path
    return files


def check_contiguous(frames, folder, what: str = "frame") -> None:
    """Raise :class:`DataError` unless the sorted frame numbers have no gaps."""
    frames = sorted(frames)
    if not frames:
        raise DataError(f"{folder}: no {what} files found. Check the path and the file names.")
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    if missing:
        shown = ", ".join(str(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise DataError(
            f"{folder}: {what} files are not contiguous: frame(s) {shown} missing between "
            f"{frames[0]} and {frames[-1]}. Restore the missing files or renumber the frames."
        )


# A frame file of a movie folder: an image whose last number is the frame index.
FRAME_FILE = re.compile(
    rf"(?:.*\D)?(\d+)\D*({'|'.join(re.escape(suffix) for suffix in IMAGE_SUFFIXES)})", re.IGNORECASE
)


def _folder_frames(folder: Path) -> Iterator[tuple[int, np.ndarray, Path]]:
    files = numbered_files(folder, FRAME_FILE)
    check_contiguous(files, folder)
    for frame, path in sorted(files.items()):
        yield frame, read_frame(path, frame), path


def _tiff_pages(series, path: Path, channel: Optional[int], z: Optional[int]) -> list[int]:
    """Page index of each time point of a TIFF series, read from its axes (ImageJ/OME metadata).

    Axes outside a page are time (``T``, or ``I``/``Q`` when the file does not say), z (``Z``) and
    channel (``C``). A movie is 2-D + time: z-slices and channels must be chosen (``z``, ``channel``)
    rather than read as extra time points, and at most one axis may be time.
    """
    leading = len(series.shape) - len(series.pages[0].shape)
    axes, shape = series.axes.upper()[:leading], series.shape[:leading]
    index, time_axes = [0] * leading, []
    for position, (axis, size) in enumerate(zip(axes, shape)):
        if axis in "CZ":
            name, option, chosen = ("channels", "--channel", channel) if axis == "C" else ("z-slices", "--z", z)
            if chosen is None and size > 1:
                raise DataError(
                    f"{path}: holds {size} {name} (axes {series.axes}, shape {series.shape}); CellTrack tracks "
                    f"2-D frames over time. Choose one with {option} N (0..{size - 1})" + (
                        "; if the z-slices are time points, make them frames (Fiji: Image > Properties) and "
                        "save again." if axis == "Z" else "."))
            if chosen is not None and not 0 <= chosen < size:
                raise DataError(f"{path}: {option} {chosen} is out of range; the file has {size} {name} "
                                f"(axes {series.axes}). Pass a value from 0 to {size - 1}.")
            index[position] = chosen or 0
        elif size > 1:
            time_axes.append(position)
    for option, chosen, axis in (("--channel", channel, "C"), ("--z", z, "Z")):
        if chosen is not None and axis not in axes:
            raise DataError(f"{path}: {option} given but the file has no {axis} axis (axes {series.axes}). "
                            f"Drop {option}.")
    if len(time_axes) > 1:
        raise DataError(
            f"{path}: has {len(time_axes)} stacked axes (axes {series.axes}, shape {series.shape}) and no "
            f"metadata saying which is time. Save a 2-D+T stack (T, Y, X), e.g. from Fiji with its axes set.")
    pages = []
    for time_point in range(shape[time_axes[0]] if time_axes else 1):
        if time_axes:
            index[time_axes[0]] = time_point
        pages.append(int(np.ravel_multi_index(index, shape)) if leading else 0)
    return pages


def _open_tiff(path: Path):
    try:
        tiff = tifffile.TiffFile(path)
        return tiff, tiff.series[0]
    except Exception as error:
        raise DataError(f"{path}: cannot be read as a TIFF ({type(error).__name__}: {error}). Check that the "
                        f"file is complete and not corrupted; re-export it if needed.") from error


def _tiff_frames(path: Path, channel: Optional[int], z: Optional[int]) -> Iterator[tuple[int, np.ndarray, Path]]:
    tiff, series = _open_tiff(path)
    with tiff:
        for frame, page in enumerate(_tiff_pages(series, path, channel, z)):
            try:
                image = tiff.asarray(series=0, key=page)
            except Exception as error:
                raise DataError(
                    f"{where(path, frame)}: page cannot be decoded ({type(error).__name__}: {error}). Check that "
                    f"the file is complete; re-export it if needed."
                ) from error
            yield frame, as_single_channel(image, path, frame), path


def _video_frames(path: Path) -> Iterator[tuple[int, np.ndarray, Path]]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DataError(f"{path}: OpenCV cannot open this video. Convert it, e.g. to a multi-page TIFF.")
    try:
        frame = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            yield frame, as_single_channel(image, path, frame, tolerance=VIDEO_TOLERANCE), path
            frame += 1
    finally:
        capture.release()
    if frame == 0:
        raise DataError(f"{path}: the video has no readable frame. Convert it, e.g. to a multi-page TIFF.")


def movie_length(path) -> Optional[int]:
    """Number of frames of a movie without decoding it; None if it cannot tell.

    Exact for folders and TIFF stacks; for a video it is what the container claims (a progress-bar
    total, not a count to rely on).
    """
    path = Path(path)
    try:
        if path.is_dir():
            return len(numbered_files(path, FRAME_FILE))
        if path.suffix.lower() in TIFF_SUFFIXES:
            tiff, series = _open_tiff(path)
            with tiff:
                leading = len(series.shape) - len(series.pages[0].shape)
                stacked = [size for axis, size in zip(series.axes.upper(), series.shape[:leading])
                           if axis not in "CZ"]
                return max(stacked, default=1)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            capture = cv2.VideoCapture(str(path))
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            capture.release()
            return count or None
    except Exception:  # the reader itself reports unreadable input, naming file and frame
        return None
    return 1 if path.suffix.lower() in IMAGE_SUFFIXES else None


def read_movie(path, channel: Optional[int] = None, z: Optional[int] = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, image (H, W))`` lazily, one frame at a time, from a movie.

    ``path`` is a folder of numbered frames (``t000.tif``, ``img_12.png``, ...; the last number in the
    name is the frame index, and numbers must be contiguous), a TIFF (one frame or a ``(T, Y, X)``
    stack; a hyperstack with channels or z-slices needs ``channel`` / ``z`` to pick one), or a video
    file OpenCV can decode (frames numbered from 0). Raises :class:`DataError`, naming file and frame,
    for unreadable input, multi-channel frames or frames of differing sizes.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: does not exist. Check the path.")
    if (channel is not None or z is not None) and (path.is_dir() or path.suffix.lower() not in TIFF_SUFFIXES):
        raise DataError(f"{path}: --channel and --z pick a plane of a TIFF hyperstack; this is not a TIFF file. "
                        f"Drop them.")
    if path.is_dir():
        frames = _folder_frames(path)
    elif path.suffix.lower() in TIFF_SUFFIXES:
        frames = _tiff_frames(path, channel, z)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        frames = _video_frames(path)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        frames = iter([(0, read_frame(path, 0), path)])
    else:
        raise DataError(
            f"{path}: unsupported movie type '{path.suffix}'. Give a folder of frames, a TIFF stack "
            f"or a video ({', '.join(VIDEO_SUFFIXES)})."
        )
    first_shape = None
    for frame, image, source in frames:
        if first_shape is None:
            first_shape = image.shape
        elif image.shape != first_shape:
            raise DataError(
                f"{where(source, frame)}: frame size {image.shape} differs from the first frame's "
                f"{first_shape}; all frames of a movie must have the same size."
            )
        yield frame, image
