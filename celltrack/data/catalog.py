"""Datasets named in a config ("<CTC dataset>/<sequence>", optionally "[first:stop]" frames) are
registered on demand."""
import os
import re
from pathlib import Path
from typing import Iterable

from detectron2.data import DatasetCatalog

from .ctc_dataset import register_ctc_dataset


def data_root(cfg) -> Path:
    """CELLTRACK.DATA_ROOT, else $CELLTRACK_DATA, else ./datasets."""
    return Path(cfg.CELLTRACK.DATA_ROOT or os.environ.get("CELLTRACK_DATA", "datasets"))


def register_named_sequences(names: Iterable[str], cfg) -> None:
    """Register each "<dataset>/<sequence>" found under the data root, unless already registered.

    Names that are already in DatasetCatalog (registered by user code) are left alone. A name may end
    in a frame range, "Fluo-N2DH-SIM+/01[0:55]" (frames 0..54), e.g. to hold frames back for validation.
    """
    root = data_root(cfg)
    for name in names:
        if name in DatasetCatalog.list():
            continue
        dataset, _, sequence = name.rpartition("/")
        sequence, frames = _frame_range(name, sequence)
        folder = root / dataset
        if not dataset or not (folder / sequence).is_dir():
            raise FileNotFoundError(
                f"dataset '{name}': expected a CTC sequence folder {folder / sequence} (name datasets "
                f"'<dataset>/<sequence>' and set CELLTRACK.DATA_ROOT or CELLTRACK_DATA to the folder holding "
                f"<dataset>/), or register '{name}' yourself in DatasetCatalog before training"
            )
        register_ctc_dataset(name, folder, sequences=[sequence], frames=frames)


def _frame_range(name: str, sequence: str):
    """"01[0:55]" -> ("01", (0, 55)): frames 0..54, Python slice rules; "01" -> ("01", None)."""
    match = re.fullmatch(r"(\w+)\[(\d*):(\d*)\]", sequence)
    if match is None:
        if "[" in sequence:
            raise ValueError(f"dataset '{name}': a frame range is written '<dataset>/<sequence>[first:stop]', "
                             f"e.g. 'Fluo-N2DH-SIM+/01[0:55]'")
        return sequence, None
    first, stop = match.group(2), match.group(3)
    return match.group(1), (int(first) if first else 0, int(stop) if stop else None)
