"""Write a tracking result as a CTC folder, one frame at a time (:class:`CTCTrackWriter`)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Optional

import numpy as np

from .ctc_format import MAX_LABEL, write_label_image, write_lineage


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
        """Everything needed to continue writing after a restart, as plain values (JSON-safe lists)."""
        return {
            "digits": self.digits, "next_frame": self.next_frame, "shape": list(self._shape or ()),
            "tracks": [[label, *span] for label, span in self._tracks.items()],
            "segments": [[label, list(segments)] for label, segments in self._segments.items()],
            "max_label": self._max_label, "lowest_free": self._lowest_free,
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Continue from :meth:`state_dict`: the next frame written is ``state["next_frame"]``."""
        missing = {"digits", "next_frame", "shape", "tracks", "segments", "max_label", "lowest_free"} - set(state)
        if missing:
            raise ValueError(f"CTCTrackWriter.load_state_dict: the state lacks {sorted(missing)}; it was not saved "
                             f"by a CTCTrackWriter")
        if int(state["digits"]) != self.digits:
            raise ValueError(f"{self.out_dir}: the saved state names frames with {state['digits']} digits, this "
                             f"writer with {self.digits} (another movie length)")
        self.next_frame = int(state["next_frame"])
        self._shape = tuple(int(n) for n in state["shape"]) or None
        self._tracks = {int(label): [int(v) for v in span] for label, *span in state["tracks"]}
        self._segments = {int(label): [int(v) for v in segments] for label, segments in state["segments"]}
        self._max_label, self._lowest_free = int(state["max_label"]), int(state["lowest_free"])

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
