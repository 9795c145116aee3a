"""CellTrackROIHeads: Mask R-CNN's ROI heads plus the Siamese track head."""
from typing import Dict, List, Optional

import torch

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling import ROI_HEADS_REGISTRY, StandardROIHeads
from detectron2.structures import Boxes, Instances

from .position_encoding import POSITION_ENCODINGS
from .track_head import build_track_head


@ROI_HEADS_REGISTRY.register()
class CellTrackROIHeads(StandardROIHeads):
    """StandardROIHeads (box + mask) with a fourth branch that learns which cells are the same cell.

    Training: the batch holds (t-1, t) pairs of frames in that order (``CellTrackRCNN`` flattens them:
    images 2i and 2i+1). Foreground proposals of both frames are paired across the two frames and
    labelled from the track ids of the ground-truth cells they matched; ``loss_track`` joins the losses.

    Inference: every detected cell gets ``visual_embeddings`` and ``spatial_embeddings`` (the track
    head's shared-FC outputs), computed once per frame; the tracker scores them against frame t-1.
    """

    @configurable
    def __init__(
        self,
        *,
        track_head: torch.nn.Module,
        num_neighbors: int,
        position_scale: float,
        position_encoding: str = "nearest",
        proposals_per_frame: int,
        pairs_per_image: int,
        positive_pair_fraction: float,
        daughter_is_positive: bool,
        mask_box_scale: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.mask_box_scale = mask_box_scale
        self.track_head = track_head
        self.num_neighbors = num_neighbors
        self.position_scale = position_scale
        self.position_encoding = POSITION_ENCODINGS[position_encoding]
        self.proposals_per_frame = proposals_per_frame
        self.pairs_per_image = pairs_per_image
        self.positive_pair_fraction = positive_pair_fraction
        self.daughter_is_positive = daughter_is_positive

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        channels = input_shape[cfg.MODEL.ROI_HEADS.IN_FEATURES[0]].channels
        resolution = cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION
        head = cfg.MODEL.TRACK_HEAD
        ret.update(
            track_head=build_track_head(cfg, channels * resolution * resolution),
            num_neighbors=head.NUM_NEIGHBORS,
            position_scale=head.POSITION_SCALE,
            position_encoding=head.POSITION_ENCODING,
            proposals_per_frame=head.PROPOSALS_PER_FRAME,
            pairs_per_image=head.PAIRS_PER_IMAGE,
            positive_pair_fraction=head.POSITIVE_FRACTION,
            daughter_is_positive=head.DAUGHTER_IS_POSITIVE,
            mask_box_scale=cfg.CELLTRACK.MASK_BOX_SCALE,
        )
        return ret

    def forward(self, images, features, proposals, targets=None):
        if not self.training:
            return super().forward(images, features, proposals, targets)
        if len(proposals) % 2:
            raise ValueError("CellTrackROIHeads trains on (t-1, t) pairs: the batch must hold an even number of frames")
        proposals = self.label_and_sample_proposals(proposals, targets)
        losses = self._forward_box(features, proposals)
        losses.update(self._forward_mask(features, proposals))
        losses.update(self._forward_track(features, proposals, targets))
        return proposals, losses

    def _forward_mask(self, features, instances):
        """StandardROIHeads' mask branch; in training, proposals matched to a cell without a valid mask
        (``gt_mask_valid`` False: known from a tracking marker only) are left out of the mask loss."""
        if self.training:
            instances = [x[x.gt_mask_valid | (x.gt_classes == self.num_classes)] if x.has("gt_mask_valid") else x
                         for x in instances]
        return super()._forward_mask(features, instances)

    def forward_with_given_boxes(self, features, instances):
        detected = [x.pred_boxes for x in instances]
        if self.mask_box_scale != 1.0:  # the mask head reads enlarged boxes; masks are pasted into them
            for cells in instances:
                cells.pred_boxes = scaled_about_centres(cells.pred_boxes, self.mask_box_scale)
        instances = super().forward_with_given_boxes(features, instances)
        return self.embed_cells(features, instances, detected)

    def embed_cells(self, features: Dict[str, torch.Tensor], instances: List[Instances],
                    boxes: Optional[List[Boxes]] = None) -> List[Instances]:
        """Add ``visual_embeddings`` / ``spatial_embeddings`` (N, FC_DIM) to each frame's cells.

        ``instances`` carry ``pred_boxes`` in network-input coordinates (or ``boxes`` gives the boxes to
        read); this is also how a segmentation the user already has (``track_video.py --masks``) is
        embedded: boxes of the given cells.
        """
        boxes = boxes if boxes is not None else [x.pred_boxes for x in instances]
        roi_features = self.box_pooler([features[f] for f in self.box_in_features], boxes)
        positions = cat([self._encode_positions(b.get_centers()) for b in boxes])
        embeddings = self.track_head.embed(roi_features, positions)
        counts = [len(x) for x in instances]
        for name, values in embeddings.items():
            for cells, part in zip(instances, values.split(counts)):
                cells.set(f"{name}_embeddings", part)
        return instances

    def _encode_positions(self, centers, reference=None, exclude=None):
        return self.position_encoding(centers, self.num_neighbors, self.position_scale, reference, exclude)

    def embed_positions(self, centers: torch.Tensor) -> torch.Tensor:
        """(N, FC_DIM) spatial embeddings of one frame's cells from their centres (network-input pixels).

        The predictor calls this once the frame's final cells are known: the neighbours of a cell must be
        the cells that are tracked, not low-score or duplicate boxes that are dropped later.
        """
        return self.track_head.spatial.embed(self._encode_positions(centers))

    def _forward_track(self, features, proposals: List[Instances], targets: List[Instances]):
        cells, positions = [], []
        for frame_proposals, target in zip(proposals, targets):
            foreground = frame_proposals[frame_proposals.gt_classes != self.num_classes]
            if len(foreground) == 0 or not foreground.has("gt_track_ids"):
                foreground = frame_proposals[:0]
                cells.append(foreground)
                positions.append(features[self.box_in_features[0]].new_zeros((0, self.track_head.position_dim)))
                continue
            keep = torch.randperm(len(foreground), device=foreground.gt_classes.device)[: self.proposals_per_frame]
            foreground = foreground[keep]
            cells.append(foreground)
            # The matched ground-truth cell of a proposal is excluded from its own neighbours.
            own = (foreground.gt_track_ids[:, None] == target.gt_track_ids[None, :]).float().argmax(1)
            positions.append(
                self._encode_positions(foreground.proposal_boxes.get_centers(), target.gt_boxes.get_centers(), own)
            )
        roi_features = self.box_pooler(
            [features[f] for f in self.box_in_features], [c.proposal_boxes for c in cells]
        )
        embeddings = self.track_head.embed(roi_features, cat(positions))
        pairs, labels = self._sample_pairs(cells)
        return self.track_head.losses(embeddings, embeddings, pairs, labels)

    def _sample_pairs(self, cells: List[Instances]):
        """(E, 2) pairs of indices into the concatenated cells of all frames, rows (cell in t, cell in t-1),
        and (E,) labels: 1 when both are the same cell (or, with DAUGHTER_IS_POSITIVE, daughter and mother)."""
        offsets = [0]
        for c in cells:
            offsets.append(offsets[-1] + len(c))
        device = next(self.track_head.parameters()).device
        all_pairs, all_labels = [], []
        for p in range(0, len(cells), 2):
            previous, current = cells[p], cells[p + 1]
            if len(previous) == 0 or len(current) == 0:
                continue
            same = current.gt_track_ids[:, None] == previous.gt_track_ids[None, :]
            if self.daughter_is_positive:
                same |= current.gt_parent_ids[:, None] == previous.gt_track_ids[None, :]
            positive, negative = same.nonzero(), (~same).nonzero()
            num_positive = min(len(positive), int(self.pairs_per_image * self.positive_pair_fraction))
            num_negative = min(len(negative), self.pairs_per_image - num_positive)
            positive = positive[torch.randperm(len(positive), device=device)[:num_positive]]
            negative = negative[torch.randperm(len(negative), device=device)[:num_negative]]
            pairs = torch.cat([positive, negative])
            pairs[:, 0] += offsets[p + 1]
            pairs[:, 1] += offsets[p]
            all_pairs.append(pairs)
            all_labels.append(torch.cat([pairs.new_ones(num_positive), pairs.new_zeros(num_negative)]))
        if not all_pairs:
            return torch.zeros((0, 2), dtype=torch.long, device=device), torch.zeros(0, device=device)
        return torch.cat(all_pairs), torch.cat(all_labels)


def scaled_about_centres(boxes: Boxes, scale: float) -> Boxes:
    """``boxes`` with width and height times ``scale``, centres kept."""
    corners = boxes.tensor
    centres, half = (corners[:, :2] + corners[:, 2:]) / 2, (corners[:, 2:] - corners[:, :2]) / 2 * scale
    return Boxes(torch.cat([centres - half, centres + half], dim=1))
