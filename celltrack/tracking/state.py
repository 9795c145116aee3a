"""Saved state for ``--resume``: a JSON file of plain values beside a ``.npz`` of arrays, never a pickle.

A state is a tree of dicts, lists, strings, numbers and numpy arrays (what the ``state_dict()`` methods of
the predictor, the tracker and the output sinks return). :func:`save_state` writes the arrays to
``<name>-<step>.npz`` and the rest, with the arrays replaced by references, to ``<name>.json`` (which names
its ``.npz`` and carries its sha256); :func:`load_state` reads it back with ``allow_pickle=False`` and
refuses a file that is not such a state, or whose arrays are missing or altered.
"""
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Dict

import numpy as np

from ..data.movie import DataError

FORMAT = "celltrack-resume-state"
VERSION = 1
_ARRAY = "__array__"


def _flatten(value: Any, arrays: Dict[str, np.ndarray]) -> Any:
    if hasattr(value, "detach"):  # a torch tensor, possibly on the GPU
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {_ARRAY: key}
    if isinstance(value, dict):
        if any(not isinstance(key, str) for key in value):
            raise TypeError(f"save_state: dict keys must be strings, got {sorted(map(repr, value))[:3]}")
        return {key: _flatten(item, arrays) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_flatten(item, arrays) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"save_state: cannot save a {type(value).__name__} (plain values and numpy arrays only)")


def _restore(value: Any, arrays, path: Path) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            if value[_ARRAY] not in arrays:
                raise DataError(f"{path}: refers to array {value[_ARRAY]!r}, which its .npz lacks. The saved state "
                                f"is damaged; start over with --overwrite.")
            return arrays[value[_ARRAY]]
        return {key: _restore(item, arrays, path) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore(item, arrays, path) for item in value]
    return value


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_bytes(data)
    temporary.replace(path)


def save_state(path, state: Dict[str, Any], step: int) -> None:
    """Write ``state`` as ``path`` (JSON) + ``<path stem>-<step>.npz``; both appear atomically, the JSON
    last, so an interruption leaves the previous state readable; older ``.npz`` files are then removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: Dict[str, np.ndarray] = {}
    tree = _flatten(state, arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    npz = path.with_name(f"{path.stem}-{step:06d}.npz")
    _write_atomically(npz, data)
    document = {"format": FORMAT, "version": VERSION, "arrays": npz.name,
                "arrays_sha256": hashlib.sha256(data).hexdigest(), "state": tree}
    _write_atomically(path, json.dumps(document).encode())
    for old in path.parent.glob(f"{path.stem}-*.npz"):
        if old != npz:
            old.unlink()


def load_state(path) -> Dict[str, Any]:
    """Read a state written by :func:`save_state`; :class:`DataError` naming the file if it is not one."""
    path = Path(path)
    damaged = f"Start over with --overwrite (the saved state cannot be used)."
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot be read as a CellTrack saved state ({error}). {damaged}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DataError(f"{path}: is not a CellTrack saved state. {damaged}")
    if document.get("version") != VERSION:
        raise DataError(f"{path}: saved state version {document.get('version')!r}, this CellTrack reads version "
                        f"{VERSION}. {damaged}")
    npz = path.with_name(str(document.get("arrays", "")))
    if npz.parent != path.parent or not npz.name.endswith(".npz") or not npz.is_file():
        raise DataError(f"{path}: its arrays ({npz.name or 'unnamed'}) are missing. {damaged}")
    data = npz.read_bytes()
    if hashlib.sha256(data).hexdigest() != document.get("arrays_sha256"):
        raise DataError(f"{npz}: does not match {path.name} (altered or cut off). {damaged}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError) as error:
        raise DataError(f"{npz}: cannot be read ({error}). {damaged}") from None
    return _restore(document.get("state"), arrays, path)


def expect_keys(state: Any, keys, owner: str) -> None:
    """Raise ValueError unless ``state`` is a dict holding ``keys`` (for the ``load_state_dict`` methods)."""
    if not isinstance(state, dict):
        raise ValueError(f"{owner}.load_state_dict: expected a dict, got {type(state).__name__}")
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(f"{owner}.load_state_dict: the state lacks {missing}; it was not saved by this {owner}")
