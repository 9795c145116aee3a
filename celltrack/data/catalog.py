"""Datasets named in a config ("<CTC dataset>/<sequence>") are registered on demand."""
import os
from pathlib import Path
from typing import Iterable

from detectron2.data import DatasetCatalog

from .ctc import register_ctc_dataset


def data_root(cfg) -> Path:
    """CELLTRACK.DATA_ROOT, else $CELLTRACK_DATA, else ./datasets."""
    return Path(cfg.CELLTRACK.DATA_ROOT or os.environ.get("CELLTRACK_DATA", "datasets"))


def register_named_sequences(names: Iterable[str], cfg) -> None:
    """Register each "<dataset>/<sequence>" found under the data root, unless already registered.

    Names that are already in DatasetCatalog (registered by user code) are left alone.
    """
    root = data_root(cfg)
    for name in names:
        if name in DatasetCatalog.list():
            continue
        dataset, _, sequence = name.rpartition("/")
        folder = root / dataset
        if not dataset or not (folder / sequence).is_dir():
            raise FileNotFoundError(
                f"dataset '{name}': expected a CTC sequence folder {folder / sequence} (name datasets "
                f"'<dataset>/<sequence>' and set CELLTRACK.DATA_ROOT or CELLTRACK_DATA to the folder holding "
                f"<dataset>/), or register '{name}' yourself in DatasetCatalog before training"
            )
        register_ctc_dataset(name, folder, sequences=[sequence])
