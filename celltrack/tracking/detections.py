"""``Detections``: the cells of one frame as the tracker links them (centres, label image, embeddings)."""
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Optional

import numpy as np

from .labels import cell_areas, centers_from_labels, labels_from_masks
from .linking import HEADS


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, possibly on the GPU; torch is not needed otherwise
        x = x.detach().cpu().numpy()
    return np.asarray(x)


@dataclass(frozen=True)
class Detections:
    """The cells of one frame, in detector order: cell i has label i + 1 in ``labels``.

    Attributes:
        centers: (N, 2) float64 centres (x, y) in pixels.
        labels: (H, W) integer label image (0 background) or None when there are no masks, in which
            case nothing links by overlap.
        embeddings: {"visual": (N, D), "spatial": (N, D')} arrays or tensors for the heads that are on,
            passed untouched to the tracker's ``similarity``; empty for overlap-only linking.
        scores: (N,) float64 detector scores, or None for cells known for sure (given label images,
            cells filled into a gap). The tracker lets a cell scored below its ``min_score`` only continue a
            track (``Tracker``'s ``min_score``).
    """

    centers: np.ndarray
    labels: Optional[np.ndarray] = None
    embeddings: Mapping[str, Any] = field(default_factory=dict)
    scores: Optional[np.ndarray] = None

    def __post_init__(self):
        centers = np.asarray(self.centers, dtype=np.float64)
        if centers.size == 0:
            centers = centers.reshape(0, 2)
        if centers.ndim != 2 or centers.shape[1] != 2:
            raise ValueError(f"Detections: centers must be (N, 2) (x, y), got shape {centers.shape}")
        if not np.isfinite(centers).all():
            raise ValueError("Detections: centers contain NaN or inf (a cell with an empty mask?)")
        object.__setattr__(self, "centers", centers)
        num_cells = len(centers)
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"Detections: labels must be an (H, W) integer image, got {labels.dtype} {labels.shape}"
                )
            if labels.size and (labels.min() < 0 or labels.max() > num_cells):
                raise ValueError(
                    f"Detections: labels must lie in 0..{num_cells} (cell i has label i + 1), "
                    f"found {labels.min()}..{labels.max()}"
                )
            object.__setattr__(self, "labels", labels)
        unknown = set(self.embeddings) - set(HEADS)
        if unknown:
            raise ValueError(f"Detections: unknown embedding heads {sorted(unknown)}; expected some of {HEADS}")
        for name, embedding in self.embeddings.items():
            if len(embedding) != num_cells:
                raise ValueError(f"Detections: {name} embeddings have {len(embedding)} rows for {num_cells} cells")
        if self.scores is not None:
            scores = _to_numpy(self.scores).astype(np.float64).reshape(-1)
            if len(scores) != num_cells:
                raise ValueError(f"Detections: {len(scores)} scores for {num_cells} cells")
            object.__setattr__(self, "scores", scores)

    @property
    def num_cells(self) -> int:
        return len(self.centers)

    def select(self, keep: np.ndarray) -> "Detections":
        """The cells where ``keep`` (N,) bool is True, in order, relabelled 1..K (their pixels only)."""
        keep = np.asarray(keep, dtype=bool)
        labels = self.labels
        if labels is not None:
            lookup = np.zeros(self.num_cells + 1, dtype=labels.dtype)
            lookup[1:][keep] = np.arange(1, keep.sum() + 1)
            labels = lookup[labels]
        embeddings = {name: value[keep] for name, value in self.embeddings.items()}  # numpy or torch alike
        return Detections(self.centers[keep], labels, embeddings, None if self.scores is None else self.scores[keep])

    def moved_mask(self, cell: int, shift: np.ndarray) -> np.ndarray:
        """(H, W) bool: the pixels of cell ``cell`` (label ``cell + 1``) moved by ``shift`` (x, y), rounded
        to whole pixels; what leaves the frame is cut."""
        mask = self.labels == cell + 1
        dx, dy = np.round(shift).astype(int)
        moved = np.zeros_like(mask)
        height, width = mask.shape
        moved[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            mask[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
        return moved

    def with_cell(self, center: np.ndarray, mask: Optional[np.ndarray], embeddings: Mapping[str, Any]) -> "Detections":
        """These cells and one more after them (label N + 1): ``mask`` (H, W) bool is painted where no cell
        is (None without a label image), ``embeddings`` holds its (1, D) row per head. Its score, if the
        others have scores, is 1: a cell the tracker placed, not a detector's guess."""
        labels = self.labels
        if labels is not None:
            labels = labels.copy()
            labels[mask & (labels == 0)] = self.num_cells + 1
        joined = {}
        for name, value in self.embeddings.items():
            if hasattr(value, "detach"):  # torch, as the predictor's cells carry them
                import torch

                joined[name] = torch.cat([value, torch.as_tensor(embeddings[name]).to(value)])
            else:
                joined[name] = np.concatenate([value, _to_numpy(embeddings[name])])
        scores = None if self.scores is None else np.append(self.scores, 1.0)
        return Detections(np.vstack([self.centers, np.reshape(center, (1, 2))]), labels, joined, scores)

    @cached_property
    def areas(self) -> np.ndarray:
        """(N,) pixel area of each cell in the label image (NaN without one); counted once per frame."""
        if self.labels is None:
            return np.full(self.num_cells, np.nan)
        return cell_areas(self.labels, self.num_cells).astype(np.float64)

    @classmethod
    def from_labels(cls, labels: np.ndarray, embeddings: Optional[Mapping[str, Any]] = None) -> "Detections":
        """Cells of a label image (e.g. Cellpose output or CTC ground truth), centres from the masks.

        Labels need not be consecutive: cells are ordered by label value and relabelled 1..N, so
        ``embeddings`` rows must follow the same order.
        """
        labels = np.asarray(labels)
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
            raise ValueError(
                f"Detections.from_labels: expected a non-negative (H, W) integer image, got {labels.dtype} "
                f"{labels.shape}"
            )
        present = np.flatnonzero(np.bincount(labels.ravel())[1:]) + 1 if labels.size else np.zeros(0, np.int64)
        if len(present) and present[-1] != len(present):
            lookup = np.zeros(present[-1] + 1, dtype=np.int32)
            lookup[present] = np.arange(1, len(present) + 1)
            labels = lookup[labels]
        return cls(centers_from_labels(labels, len(present)), labels, dict(embeddings or {}))

    @classmethod
    def from_masks(
        cls,
        masks: np.ndarray,
        embeddings: Optional[Mapping[str, Any]] = None,
        centers: Optional[np.ndarray] = None,
    ) -> "Detections":
        """Cells from (N, H, W) instance masks in detector order (earlier masks win contested pixels).

        ``centers`` (N, 2) defaults to the centroid of each mask; pass box centres for empty masks.
        """
        masks = _to_numpy(masks).astype(bool, copy=False)
        if centers is None:
            if masks.ndim != 3:
                raise ValueError(f"Detections.from_masks: expected (N, H, W) masks, got shape {masks.shape}")
            area = masks.sum(axis=(1, 2)).astype(np.float64)
            if (area == 0).any():
                raise ValueError(
                    f"Detections.from_masks: masks {np.flatnonzero(area == 0)[:5]} are empty; pass centers "
                    "(e.g. the box centres) for them"
                )
            y = (masks.sum(axis=2) * np.arange(masks.shape[1])).sum(axis=1) / area
            x = (masks.sum(axis=1) * np.arange(masks.shape[2])).sum(axis=1) / area
            centers = np.stack([x, y], axis=1)
        return cls(centers, labels_from_masks(masks), dict(embeddings or {}))


def _window(labels: np.ndarray, value: int, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """(bottom - top, right - left) bool: pixels of label ``value`` in that window, False outside the frame."""
    window = np.zeros((bottom - top, right - left), dtype=bool)
    height, width = labels.shape
    y0, y1, x0, x1 = max(top, 0), min(bottom, height), max(left, 0), min(right, width)
    if y0 < y1 and x0 < x1:
        window[y0 - top:y1 - top, x0 - left:x1 - left] = labels[y0:y1, x0:x1] == value
    return window


def voted_labels(current: Detections, track_ids: np.ndarray, before: Detections, before_ids: np.ndarray,
                 after: Detections, after_ids: np.ndarray) -> np.ndarray:
    """(H, W) label image of ``current`` (cell i = label i + 1) whose masks are each the per-pixel majority of
    three: the cell's own mask and its track's masks in the frames before and after, each moved to the middle
    of their two mask centroids (a temporal median of the cell's shape: a detector's mask
    jitters with each frame's noise, a nucleus changes slowly). A cell missing from either neighbour frame
    (a track's first or last frame, a daughter's first), of track id 0, or that the vote would empty keeps its
    own mask; pixels of other cells are never taken.

    Args:
        current, before, after: the cells of frames t, t-1, t+1 (with label images).
        track_ids, before_ids, after_ids: (N,) track id of each of their cells (0: none).
    """
    from scipy import ndimage

    labels = current.labels
    voted = labels.copy()
    boxes = ndimage.find_objects(labels, max_label=current.num_cells)
    neighbours = []
    for cells, ids in ((before, before_ids), (after, after_ids)):
        index = {int(track): cell for cell, track in enumerate(ids) if track > 0}
        neighbours.append((cells, index, ndimage.find_objects(cells.labels, max_label=cells.num_cells)))
    for cell, track in enumerate(np.asarray(track_ids)):
        if track <= 0 or boxes[cell] is None:
            continue
        found = [(cells, index[int(track)], found_boxes) for cells, index, found_boxes in neighbours
                 if int(track) in index and found_boxes[index[int(track)]] is not None]
        if len(found) < 2:
            continue
        # each neighbour moved to the middle of the two (the track's motion, not the centroid of this frame's
        # mask, which the errors the vote is to correct would pull)
        middle = (found[0][0].centers[found[0][1]] + found[1][0].centers[found[1][1]]) / 2
        shifts = [np.round(middle - cells.centers[other]).astype(int)[::-1] for cells, other, _ in found]
        spans = [(boxes[cell][0].start, boxes[cell][0].stop, boxes[cell][1].start, boxes[cell][1].stop)]
        spans += [(box[0].start + dy, box[0].stop + dy, box[1].start + dx, box[1].stop + dx)
                  for (_, other, found_boxes), (dy, dx) in zip(found, shifts) for box in [found_boxes[other]]]
        top, bottom = min(s[0] for s in spans), max(s[1] for s in spans)
        left, right = min(s[2] for s in spans), max(s[3] for s in spans)
        own = _window(labels, cell + 1, top, bottom, left, right)
        votes = own.astype(np.int8)
        for (cells, other, _), (dy, dx) in zip(found, shifts):
            votes += _window(cells.labels, other + 1, top - dy, bottom - dy, left - dx, right - dx)
        majority = votes >= 2
        if not majority.any():
            continue
        y0, y1, x0, x1 = max(top, 0), min(bottom, labels.shape[0]), max(left, 0), min(right, labels.shape[1])
        crop = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
        mine, free = voted[y0:y1, x0:x1], labels[y0:y1, x0:x1]
        kept = majority[crop] & (((free == 0) & (mine == 0)) | (free == cell + 1))
        if kept.any():
            mine[(mine == cell + 1) & ~kept] = 0
            mine[kept] = cell + 1
    return voted
