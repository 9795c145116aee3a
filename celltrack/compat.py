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

* detectron2 v0.6's ``launch`` asserts CUDA and hard-codes NCCL, and ``create_ddp_model`` always passes
  ``device_ids`` (which torch rejects for CPU modules), so multi-process training cannot run on CPU.
  The worker is replaced by the current upstream one (GLOO without GPUs) and CPU models get no
  ``device_ids``: ``tools/train_net.py --num-gpus 2 MODEL.DEVICE cpu`` then trains with 2 CPU processes.

``detectron2.model_zoo`` needs ``pkg_resources`` (gone from setuptools 81); CellTrack never imports it and
ships its configs in ``configs/`` instead.
"""
import importlib.util
import sys
import types
import warnings

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
    """Stand-in for ``detectron2._C``: importable, but every op raises a clear error when used.

    detectron2's own ``collect_env_info`` (run by ``default_setup``) asks it for build information; it
    answers that nothing was compiled.
    """

    __file__ = "(none: detectron2 installed without its compiled extension)"

    def get_compiler_version(self) -> str:
        return "none (detectron2._C not compiled)"

    def get_cuda_version(self) -> str:
        return "none (detectron2._C not compiled)"

    def has_cuda(self) -> bool:
        return False

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


def _distributed_worker(
    local_rank, main_func, world_size, num_gpus_per_machine, machine_rank, dist_url, args, timeout=None
):
    """detectron2's launch worker as upstream has it now: NCCL with GPUs, GLOO on CPU."""
    import torch
    import torch.distributed as dist
    from detectron2.utils import comm

    has_gpu = torch.cuda.is_available()
    if has_gpu:
        assert num_gpus_per_machine <= torch.cuda.device_count()
    global_rank = machine_rank * num_gpus_per_machine + local_rank
    dist.init_process_group(
        backend="NCCL" if has_gpu else "GLOO",
        init_method=dist_url,
        world_size=world_size,
        rank=global_rank,
        **({"timeout": timeout} if timeout is not None else {}),
    )
    for i in range(world_size // num_gpus_per_machine):
        group = dist.new_group(list(range(i * num_gpus_per_machine, (i + 1) * num_gpus_per_machine)))
        if i == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group
    if has_gpu:
        torch.cuda.set_device(local_rank)
    comm.synchronize()
    main_func(*args)


def _cpu_distributed_training() -> None:
    import importlib
    import inspect

    defaults = importlib.import_module("detectron2.engine.defaults")
    launch = importlib.import_module("detectron2.engine.launch")

    if "cuda is not available" in inspect.getsource(launch._distributed_worker):
        launch._distributed_worker = _distributed_worker
    if getattr(defaults.create_ddp_model, "__celltrack__", False):
        return
    create_ddp_model = defaults.create_ddp_model

    def create_ddp_model_cpu_aware(model, **kwargs):
        if next(model.parameters()).device.type == "cpu":
            kwargs.setdefault("device_ids", None)
        return create_ddp_model(model, **kwargs)

    create_ddp_model_cpu_aware.__celltrack__ = True
    defaults.create_ddp_model = create_ddp_model_cpu_aware


def apply() -> None:
    """Install every shim that this environment needs. Idempotent."""
    # detectron2 v0.6 scripts a few helpers at import; torch 2.14 warns about it on every start.
    warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated", category=FutureWarning)
    _pillow_linear()
    _numpy_aliases()
    _stand_in_for_compiled_ops()
    _cpu_distributed_training()


apply()
