"""Checkpoints: detectron2's DetectionCheckpointer, with a clear error for files torch will not load safely."""
import pickle

from detectron2.checkpoint import DetectionCheckpointer


class UnsafeCheckpointError(RuntimeError):
    """A weights file holds pickled Python objects beyond tensors, so loading it could run code."""


class WeightsMismatchError(ValueError):
    """Trained weights that do not fit the model built from the config."""


class CellTrackCheckpointer(DetectionCheckpointer):
    """DetectionCheckpointer that never turns pickle execution back on for ``.pth`` files.

    torch >= 2.6 loads ``.pth`` files with ``weights_only=True``: tensors, numbers, strings and containers
    only. CellTrack's own checkpoints (model, optimizer, scheduler, iteration) load that way. A file that
    needs more is refused with an error naming it, instead of being loaded with ``weights_only=False``.
    Detectron2 model-zoo ``.pkl`` files are plain pickles by design: they are read only when the user
    names one in ``MODEL.WEIGHTS``, i.e. chooses to trust it.
    """

    def _load_file(self, filename):
        try:
            return super()._load_file(filename)
        except pickle.UnpicklingError as error:
            raise UnsafeCheckpointError(
                f"{filename}: torch refuses to load this file with weights_only=True because it contains "
                f"Python objects other than tensors (loading it could execute code). CellTrack does not turn "
                f"that off. If you trust the file, re-save its state_dict as plain tensors, e.g. "
                f"torch.save({{'model': torch.load(path, weights_only=False)['model']}}, 'clean.pth'), and pass "
                f"clean.pth as MODEL.WEIGHTS. Original error: {str(error).splitlines()[0]}"
            ) from error

    def _load_model(self, checkpoint):
        self.incompatible = super()._load_model(checkpoint)
        return self.incompatible


def load_trained_weights(model, weights: str) -> None:
    """Load weights for inference, refusing any that do not fit the model.

    Training may start from partly matching weights (e.g. COCO Mask R-CNN); inference may not: a
    missing or differently shaped parameter would leave part of the model random without a word.
    """
    from pathlib import Path

    if not weights:
        raise FileNotFoundError("no weights given (MODEL.WEIGHTS / --weights): inference needs a trained model")
    if not Path(weights).is_file():
        raise FileNotFoundError(f"{weights}: no such weights file")
    checkpointer = CellTrackCheckpointer(model)
    checkpointer.load(weights)
    problems = checkpointer.incompatible
    if problems is not None and (problems.missing_keys or problems.incorrect_shapes):
        examples = [f"{name} {tuple(have)} in the file vs {tuple(want)} in the model"
                    for name, have, want in problems.incorrect_shapes[:3]] + problems.missing_keys[:3]
        raise WeightsMismatchError(
            f"{weights} does not match the model built from the config: {len(problems.missing_keys)} parameters "
            f"missing, {len(problems.incorrect_shapes)} of another shape (e.g. {'; '.join(examples)}). Pass the "
            f"config file the weights were trained with."
        )
