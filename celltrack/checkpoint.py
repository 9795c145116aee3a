"""Checkpoints: detectron2's DetectionCheckpointer, with a clear error for files torch will not load safely."""
import pickle

from detectron2.checkpoint import DetectionCheckpointer


class UnsafeCheckpointError(RuntimeError):
    """A weights file holds pickled Python objects beyond tensors, so loading it could run code."""


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
