"""The Siamese track head: how alike a cell in frame t is to a cell in frame t-1."""
from typing import Dict, Optional

import torch
from torch import nn
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.utils.registry import Registry

from .position_encoding import position_encoding_dim

TRACK_HEAD_REGISTRY = Registry("TRACK_HEAD")
TRACK_HEAD_REGISTRY.__doc__ = "Track heads: embed cells and score (t, t-1) pairs of cells."


class SiameseBranch(nn.Module):
    """One Siamese branch: shared FC embedding, difference, FC to a similarity in [0, 1].

    The embedding of each cell is computed once (``embed``) and reused against every partner cell
    (``similarity``), which is what lets the tracker reuse frame t's embeddings as t-1 for frame t+1.
    The difference is taken in absolute value: that makes the score symmetric in the two cells and
    lets a single FC express "small difference = same cell", which a signed difference cannot.
    """

    def __init__(self, input_dim: int, fc_dim: int):
        super().__init__()
        self.embedding = nn.Linear(input_dim, fc_dim)
        self.score = nn.Linear(fc_dim, 1)
        for layer in (self.embedding, self.score):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, *input) -> (N, fc_dim) cell embeddings."""
        return F.relu(self.embedding(x.flatten(1)))

    def logits(self, embedding_t: torch.Tensor, embedding_prev: torch.Tensor) -> torch.Tensor:
        """Paired embeddings (E, fc_dim), (E, fc_dim) -> (E,) logits of "same cell"."""
        return self.score((embedding_t - embedding_prev).abs()).squeeze(1)

    def similarity(self, embedding_t: torch.Tensor, embedding_prev: torch.Tensor) -> torch.Tensor:
        """Paired embeddings -> (E,) similarity in [0, 1]."""
        return torch.sigmoid(self.logits(embedding_t, embedding_prev))


@TRACK_HEAD_REGISTRY.register()
class SiameseTrackHead(nn.Module):
    """Visual branch over ROI features and spatial branch over the relative position encoding.

    Either branch may be off (the paper's ablation). The track loss is binary cross-entropy on
    (t, t-1) pairs of cells, averaged over the branches that are on.
    """

    @configurable
    def __init__(
        self,
        *,
        roi_feature_dim: int,
        position_dim: int,
        fc_dim: int = 256,
        visual_on: bool = True,
        spatial_on: bool = True,
        loss_weight: float = 1.0,
    ):
        """
        Args:
            roi_feature_dim: C * P * P, the flattened size of one cell's pooled ROI feature.
            position_dim: length of one cell's position encoding (2n for the paper's, see
                ``position_encoding.position_encoding_dim``).
            fc_dim: width of the shared embedding FC (paper: 256).
        """
        super().__init__()
        if not (visual_on or spatial_on):
            raise ValueError("MODEL.TRACK_HEAD: at least one of VISUAL_ON and SPATIAL_ON must be True")
        self.visual = SiameseBranch(roi_feature_dim, fc_dim) if visual_on else None
        self.spatial = SiameseBranch(position_dim, fc_dim) if spatial_on else None
        self.loss_weight = loss_weight
        self.position_dim = position_dim

    @classmethod
    def from_config(cls, cfg, roi_feature_dim: int):
        head = cfg.MODEL.TRACK_HEAD
        return {
            "roi_feature_dim": roi_feature_dim,
            "position_dim": position_encoding_dim(head.POSITION_ENCODING, head.NUM_NEIGHBORS),
            "fc_dim": head.FC_DIM,
            "visual_on": head.VISUAL_ON,
            "spatial_on": head.SPATIAL_ON,
            "loss_weight": head.LOSS_WEIGHT,
        }

    def embed(self, roi_features: torch.Tensor, positions: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Embed cells once: {"visual": (N, fc_dim), "spatial": (N, fc_dim)} for the branches that are on."""
        embeddings = {}
        if self.visual is not None:
            embeddings["visual"] = self.visual.embed(roi_features)
        if self.spatial is not None:
            embeddings["spatial"] = self.spatial.embed(positions)
        return embeddings

    def similarity(
        self, embeddings_t: Dict[str, torch.Tensor], embeddings_prev: Dict[str, torch.Tensor], pairs: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        """Score candidate pairs.

        Args:
            embeddings_t, embeddings_prev: outputs of ``embed`` for frame t and frame t-1.
            pairs: (E, 2) long, rows (index in t, index in t-1).

        Returns:
            {"visual": (E,), "spatial": (E,)} similarities in [0, 1], for the branches that are on.
        """
        return {
            name: self._branch(name).similarity(embeddings_t[name][pairs[:, 0]], embeddings_prev[name][pairs[:, 1]])
            for name in embeddings_t
        }

    def losses(
        self,
        embeddings_t: Dict[str, torch.Tensor],
        embeddings_prev: Dict[str, torch.Tensor],
        pairs: torch.Tensor,
        labels: torch.Tensor,
    ) -> Dict[str, torch.Tensor]:
        """Binary cross-entropy of pairs labelled 1 (same cell) / 0, mean over the branches: ``loss_track``."""
        if pairs.numel() == 0:
            # Keep every parameter in the graph so that distributed training does not stall.
            zero = sum(p.sum() * 0.0 for p in self.parameters())
            return {"loss_track": zero}
        per_branch = [
            F.binary_cross_entropy_with_logits(
                self._branch(name).logits(embeddings_t[name][pairs[:, 0]], embeddings_prev[name][pairs[:, 1]]),
                labels.float(),
            )
            for name in embeddings_t
        ]
        return {"loss_track": self.loss_weight * sum(per_branch) / len(per_branch)}

    def _branch(self, name: str) -> Optional[SiameseBranch]:
        return getattr(self, name)


def build_track_head(cfg, roi_feature_dim: int) -> nn.Module:
    """Build the track head named by ``cfg.MODEL.TRACK_HEAD.NAME``."""
    return TRACK_HEAD_REGISTRY.get(cfg.MODEL.TRACK_HEAD.NAME)(cfg, roi_feature_dim)
