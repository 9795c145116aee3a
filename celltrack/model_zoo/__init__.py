"""Trained CellTrack models that ship with the package, so tracking needs no training and no download.

Each model is a folder here: ``config.yaml`` (the complete config, linker models included),
``model_final.pth`` (weights in float16, loaded into a float32 model) and ``MODEL_CARD.md`` (what it was
trained on, the commands, and its benchmark scores).

    from celltrack import model_zoo
    cfg = model_zoo.get_config()                 # MODEL.WEIGHTS already points at the shipped weights
"""
from __future__ import annotations

from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = "CellTrack-R18-FPN-cpu"


def list_models() -> list[str]:
    """Names of the models shipped here."""
    return sorted(p.name for p in HERE.iterdir() if (p / "config.yaml").is_file() and (p / "model_final.pth").is_file())


def model_folder(name: str = DEFAULT_MODEL) -> Path:
    folder = HERE / name
    if not (folder / "config.yaml").is_file() or not (folder / "model_final.pth").is_file():
        raise FileNotFoundError(f"{folder}: no shipped model '{name}' (shipped: {', '.join(list_models()) or 'none'})")
    return folder


def get_config(name: str = DEFAULT_MODEL, opts=()):
    """The model's config with MODEL.WEIGHTS set to its weights file, then ``opts`` (KEY VALUE ...)."""
    from ..config import get_celltrack_cfg

    folder = model_folder(name)
    return get_celltrack_cfg(str(folder / "config.yaml"), ["MODEL.WEIGHTS", str(folder / "model_final.pth"), *opts])


def slim_checkpoint(source, target) -> int:
    """Save the model weights of checkpoint ``source`` (a CellTrack ``.pth``) in float16 to ``target``,
    without the optimizer; returns the size in bytes. Used to add a model to the zoo."""
    state = torch.load(source, map_location="cpu", weights_only=True)["model"]
    slim = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"model": slim}, target)
    return Path(target).stat().st_size
