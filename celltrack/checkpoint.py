"""Checkpoints: detectron2's DetectionCheckpointer, with one-line errors for weights files it cannot use."""
import pickle
from pathlib import Path

from detectron2.checkpoint import DetectionCheckpointer

# First bytes of files that people pass as weights by mistake, and what they are.
_NOT_WEIGHTS = {b"II*\x00": "a TIFF image", b"MM\x00*": "a TIFF image", b"\x89PNG": "a PNG image",
                b"\xff\xd8\xff": "a JPEG image", b"\x89HDF": "an HDF5 file (Keras/TensorFlow weights?)",
                b"\x1f\x8b": "a gzip archive"}
_ZIP, _PICKLE = b"PK\x03\x04", b"\x80"  # torch.save's format since 1.6; older torch.save and .pkl files


class WeightsError(ValueError):
    """A weights file that cannot be used: unreadable, unsafe, or not fitting the model."""


class UnsafeCheckpointError(WeightsError):
    """A weights file holds pickled Python objects beyond tensors, so loading it could run code."""


class WeightsMismatchError(WeightsError):
    """Trained weights that do not fit the model built from the config."""


def _check_weights_file(filename) -> None:
    """Raise :class:`WeightsError` unless ``filename`` starts like a checkpoint (torch zip or pickle)."""
    path = Path(filename)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise WeightsError(f"{path}: the weights file is empty (0 bytes). Copy or download it again.")
    if head.startswith((_ZIP, _PICKLE)):
        return
    kind = next((name for magic, name in _NOT_WEIGHTS.items() if head.startswith(magic)), None)
    if kind is None:
        try:
            head.decode("utf-8")
            kind = "a text file"
        except UnicodeDecodeError:
            kind = f"an unknown file (it begins with bytes {head!r})"
    raise WeightsError(f"{path}: is {kind}, not a PyTorch checkpoint. Pass the model_final.pth (or "
                       f"model_NNNNNNN.pth) that training wrote.")


class CellTrackCheckpointer(DetectionCheckpointer):
    """DetectionCheckpointer that never turns pickle execution back on for ``.pth`` files.

    torch >= 2.6 loads ``.pth`` files with ``weights_only=True``: tensors, numbers, strings and containers
    only. CellTrack's own checkpoints (model, optimizer, scheduler, iteration) load that way. A file that
    needs more is refused with an error naming it, instead of being loaded with ``weights_only=False``.
    Detectron2 model-zoo ``.pkl`` files are plain pickles by design: they are read only when the user
    names one in ``MODEL.WEIGHTS``, i.e. chooses to trust it.

    Files that are not checkpoints at all (empty, text, images, truncated downloads) raise
    :class:`WeightsError` naming the file and what it is.
    """

    def load(self, path, *args, **kwargs):
        if path and "://" not in path and not Path(path).is_file():
            raise WeightsError(f"{path}: no such weights file. Check the path given as --weights / MODEL.WEIGHTS.")
        return super().load(path, *args, **kwargs)

    def _load_file(self, filename):
        _check_weights_file(filename)
        try:
            loaded = super()._load_file(filename)
        except pickle.UnpicklingError as error:
            if filename.endswith(".pkl"):  # a plain pickle by design: this error means a damaged file
                raise WeightsError(f"{filename}: cannot be read as a pickled checkpoint ({error}). Copy or "
                                   f"download it again.") from error
            raise UnsafeCheckpointError(
                f"{filename}: torch refuses to load this file with weights_only=True because it contains "
                f"Python objects other than tensors (loading it could execute code). CellTrack does not turn "
                f"that off. If you trust the file, re-save its state_dict as plain tensors, e.g. "
                f"torch.save({{'model': torch.load(path, weights_only=False)['model']}}, 'clean.pth'), and pass "
                f"clean.pth as MODEL.WEIGHTS. Original error: {str(error).splitlines()[0]}"
            ) from error
        except (EOFError, RuntimeError, IndexError, KeyError, ValueError, TypeError) as error:
            # What torch and pickle raise for a cut-off or damaged file; their first sentence says which.
            raise WeightsError(
                f"{filename}: cannot be read as a checkpoint ({type(error).__name__}: {str(error).split('. ')[0]}). "
                f"If it was cut short or damaged in transfer, copy or download it again."
            ) from error
        if not isinstance(loaded.get("model"), dict):
            raise WeightsError(f"{filename}: holds no model weights (a {type(loaded['model']).__name__}). Pass the "
                               f"model_final.pth that training wrote.")
        return loaded

    def _load_model(self, checkpoint):
        self.incompatible = super()._load_model(checkpoint)
        return self.incompatible


def load_trained_weights(model, weights: str) -> None:
    """Load weights for inference, refusing any that do not fit the model.

    Training may start from partly matching weights (e.g. COCO Mask R-CNN); inference may not: a
    missing or differently shaped parameter would leave part of the model random without a word.
    """
    if not weights:
        raise WeightsError("MODEL.WEIGHTS: no weights given; inference needs a trained model. Pass --weights.")
    checkpointer = CellTrackCheckpointer(model)
    checkpointer.load(weights)
    problems = checkpointer.incompatible
    if problems is not None and (problems.missing_keys or problems.incorrect_shapes):
        examples = [f"{name} {tuple(have)} in the file vs {tuple(want)} in the model"
                    for name, have, want in problems.incorrect_shapes[:3]] + problems.missing_keys[:3]
        raise WeightsMismatchError(
            f"{weights}: does not match the model built from the config ({len(problems.missing_keys)} parameters "
            f"missing, {len(problems.incorrect_shapes)} of another shape, e.g. {'; '.join(examples)}). Pass the "
            f"config file the weights were trained with."
        )
