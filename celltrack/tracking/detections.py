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
    """

    centers: np.ndarray
    labels: Optional[np.ndarray] = None
    embeddings: Mapping[str, Any] = field(default_factory=dict)

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
        return Detections(self.centers[keep], labels, embeddings)

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
        is (None without a label image), ``embeddings`` holds its (1, D) row per head."""
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
        return Detections(np.vstack([self.centers, np.reshape(center, (1, 2))]), labels, joined)

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
