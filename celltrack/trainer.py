"""CellTrackTrainer: detectron2's DefaultTrainer with CellTrack's loader, evaluator and checkpointer."""
import logging
import os

from detectron2.data import build_detection_test_loader, build_detection_train_loader
from detectron2.engine import DefaultTrainer

from .checkpoint import CellTrackCheckpointer
from .data import PairedFrameMapper
from .data.movie import DataError

logger = logging.getLogger("detectron2.celltrack.trainer")  # detectron2's handlers: the console and log.txt


def freeze_all_but(model, names) -> None:
    """Freeze every parameter of ``model`` outside the modules ``names`` (CELLTRACK.TRAIN_ONLY); none
    is unfrozen (what FREEZE_AT froze stays frozen). Empty ``names``: nothing changes."""
    if not names:
        return
    modules = dict(model.named_modules())
    unknown = [name for name in names if name not in modules]
    if unknown:
        children = ", ".join(name for name, _ in model.named_children())
        raise DataError(f"CELLTRACK.TRAIN_ONLY names {', '.join(unknown)}, which the model does not have; name "
                        f"modules of the model such as roi_heads.mask_head (its parts: {children})")
    for name, parameter in model.named_parameters():
        if not any(name == module or name.startswith(module + ".") for module in names):
            parameter.requires_grad_(False)


class CellTrackTrainer(DefaultTrainer):
    """Overrides only what differs from DefaultTrainer: paired-frame loader, CTC evaluator, safe checkpoints."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.checkpointer = CellTrackCheckpointer(
            self._trainer.model, cfg.OUTPUT_DIR, trainer=self, optimizer=self.optimizer, scheduler=self.scheduler
        )
        # The hooks captured the default checkpointer; build them again around this one.
        self._hooks = []
        self.register_hooks(self.build_hooks())

    @classmethod
    def build_model(cls, cfg):
        model = super().build_model(cfg)
        if not cfg.MODEL.WEIGHTS and cfg.MODEL.BACKBONE.FREEZE_AT > 0:
            logger.warning(
                "MODEL.BACKBONE.FREEZE_AT %d with no MODEL.WEIGHTS: the frozen backbone stages (the stem, then res2, ...) "
                "stay at their random initialisation, as in the shipped CPU recipe (detectron2's default, meant for a "
                "pretrained backbone); MODEL.BACKBONE.FREEZE_AT 0 trains them (README, 'Detection settings')",
                cfg.MODEL.BACKBONE.FREEZE_AT)
        freeze_all_but(model, cfg.CELLTRACK.TRAIN_ONLY)
        return model

    @classmethod
    def build_train_loader(cls, cfg):
        return build_detection_train_loader(cfg, mapper=PairedFrameMapper(cfg, is_train=True))

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_detection_test_loader(cfg, dataset_name, mapper=PairedFrameMapper(cfg, is_train=False))

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        # The tracker scores links with the model's own track head, which build_evaluator cannot reach.
        if evaluators is None:
            from .evaluation import CTCEvaluator

            evaluators = [
                CTCEvaluator(cfg, name, output_dir=os.path.join(cfg.OUTPUT_DIR, "inference"), model=model)
                for name in cfg.DATASETS.TEST
            ]
        return super().test(cfg, model, evaluators)
