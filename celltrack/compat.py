"""Compatibility shims that let the Python-only detectron2 v0.6 run on current libraries.

Import this module before anything from detectron2 (``celltrack/__init__.py`` does). Every shim checks
for the problem it fixes first, so on the official, compiled, current detectron2 and on old libraries
it does nothing. The shims, and why each exists:

* ``detectron2._C`` is missing in the registry copy ``pb1-detectron2==0.6`` (its C++ sources are not
  shipped). Only rotated-box and deformable-convolution ops use it, but ``detectron2.layers`` imports it
  at import time. A stand-in module lets the import succeed; touching any op on it raises
  :class:`MissingCompiledOpError`, which names the op and says how to get the compiled build.
* Pillow 10 removed ``Image.LINEAR`` (an alias of ``BILINEAR``), which detectron2 v0.6 reads at import
  time as a default argument.
* NumPy 1.24 removed the aliases ``np.int`` / ``np.float``, which detectron2 v0.6 uses while building a
  training loader (class histogram) and in two evaluators.

``detectron2.model_zoo`` needs ``pkg_resources`` (gone from setuptools 81); CellTrack never imports it and
ships its configs in ``configs/`` instead.
"""
import importlib.util
import sys
import types

import numpy as np
from PIL import Image

OFFICIAL_BUILD_HINT = (
    "Build the official detectron2 from source (needs a C++ compiler and internet): "
    "pip install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git' "
    "-- CellTrack uses it automatically once `import detectron2` finds it."
)


class MissingCompiledOpError(NotImplementedError):
    """A detectron2 op that exists only in its compiled C++/CUDA extension was called."""


class _MissingCompiledOps(types.ModuleType):
    """Stand-in for ``detectron2._C``: importable, but every op raises a clear error when used."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise MissingCompiledOpError(
            f"detectron2 op '{name}' needs detectron2's compiled extension (detectron2._C), which this "
            f"installation lacks (the Python-only registry copy pb1-detectron2 0.6). "
            f"CellTrack's Mask R-CNN does not use it; a config that turns on rotated boxes or deformable "
            f"convolutions does. {OFFICIAL_BUILD_HINT}"
        )


def has_compiled_ops() -> bool:
    """True when detectron2's C++/CUDA extension is really present (the official build)."""
    module = sys.modules.get("detectron2._C")
    if module is not None:
        return not isinstance(module, _MissingCompiledOps)
    return importlib.util.find_spec("detectron2._C") is not None


def _stand_in_for_compiled_ops() -> None:
    if has_compiled_ops():
        return
    stand_in = _MissingCompiledOps("detectron2._C")
    sys.modules["detectron2._C"] = stand_in
    import detectron2

    detectron2._C = stand_in


def _pillow_linear() -> None:
    if not hasattr(Image, "LINEAR"):
        Image.LINEAR = Image.BILINEAR


def _numpy_aliases() -> None:
    for name, builtin in (("int", int), ("float", float)):
        if name not in np.__dict__:
            setattr(np, name, builtin)


def apply() -> None:
    """Install every shim that this environment needs. Idempotent."""
    _pillow_linear()
    _numpy_aliases()
    _stand_in_for_compiled_ops()


apply()
