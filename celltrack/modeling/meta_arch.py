"""CellTrackRCNN: Mask R-CNN that trains on (t-1, t) pairs of frames."""
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN


@META_ARCH_REGISTRY.register()
class CellTrackRCNN(GeneralizedRCNN):
    """GeneralizedRCNN whose training inputs are pairs from ``PairedFrameMapper``.

    Each training input is frame t with frame t-1 under ``"previous"``; they are flattened into one
    batch ordered (t-1, t, t-1, t, ...), so the backbone, RPN and box/mask heads learn from both frames
    and ``CellTrackROIHeads`` pairs their cells. Inference takes single frames, as Mask R-CNN does.
    """

    def forward(self, batched_inputs):
        if self.training:
            batched_inputs = [frame for pair in batched_inputs for frame in (pair["previous"], pair)]
        return super().forward(batched_inputs)
