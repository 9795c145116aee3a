"""The rows CellTrack is benchmarked as: trained models and the tracker options of each row (``VARIANTS``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from celltrack.config import get_celltrack_cfg
from common import HEADS, REPO

# The paper's ablation: linkers trained as the shipped one was (tools/train_linker.py with the detector frozen,
# then the link models refitted on ground-truth cells) with one head off; the detector (and the other head's
# starting weights) are the shipped model's.
ZOO = "celltrack/model_zoo/CellTrack-R18-FPN-cpu"
ABLATION_LINKERS = {"no-spatial": ("MODEL.TRACK_HEAD.SPATIAL_ON", "False"), "no-visual": ("MODEL.TRACK_HEAD.VISUAL_ON", "False")}


@dataclass(frozen=True)
class Model:
    """A trained CellTrack model: its config overrides and weights (None = not given)."""

    key: str
    config_file: str
    weights: Optional[str] = None
    how_to_train: str = ""
    opts: Tuple = ()


@dataclass(frozen=True)
class Variant:
    """A CellTrack row: which model, which tracker options, which heads' scores the tracker reads."""

    method: str
    model: str = "main"
    tracker_opts: Tuple = ()
    heads: Tuple[str, ...] = HEADS
    note: str = ""


# The ablation linkers are compared under the rule the default uses (their own configs' fitted models).
DEFAULT_RULE = ("CELLTRACK.TRACKER.METHOD", "learned")
VARIANTS = (
    Variant("celltrack", note="default configuration (the shipped model): the learned link and division models "
                              "(logistic over head margins, overlap, displacement, area; fitted on the training movies; "
                              "rule chosen by benchmarks/linker_validation.py)"),
    Variant("celltrack-global", tracker_opts=("CELLTRACK.TRACKER.METHOD", "global"),
            note="one-to-one assignment of the averaged head scores + IoU within the learned distance gate"),
    Variant("celltrack-paper", tracker_opts=("CELLTRACK.TRACKER.METHOD", "paper", "CELLTRACK.TRACKER.DIVISION_PERSISTENCE", 0),
            note="the paper's per-cell fusion rule (visual and spatial argmax agree, else overlap); every division stands"),
    Variant("celltrack-no-persistence", tracker_opts=("CELLTRACK.TRACKER.DIVISION_PERSISTENCE", 0),
            note="default, but every division stands at once (no look-ahead for both daughters persisting)"),
    Variant("celltrack-no-track-filter", tracker_opts=("CELLTRACK.TRACKER.MIN_TRACK_LENGTH", 0),
            note="default, but short tracks without parent or daughters (a detector's flickers) are kept"),
    Variant("celltrack-gap2", tracker_opts=("CELLTRACK.TRACKER.MAX_GAP", 2), note="default + gap closing over 2 frames"),
    Variant("celltrack-no-spatial-head", model="no-spatial", heads=("visual",), tracker_opts=DEFAULT_RULE,
            note="paper's ablation: linker trained the same way without the spatial head"),
    Variant("celltrack-no-visual-head", model="no-visual", heads=("spatial",), tracker_opts=DEFAULT_RULE,
            note="paper's ablation: linker trained the same way without the visual head"),
    Variant("celltrack-visual-scores-only", heads=("visual",),
            note="full model; the tracker reads only the visual head's scores (not a trained ablation)"),
    Variant("celltrack-spatial-scores-only", heads=("spatial",),
            note="full model; the tracker reads only the spatial head's scores (not a trained ablation)"),
)


def build_models(args) -> Dict[str, Model]:
    models = {"main": Model("main", args.config_file, args.weights,
                            "python tools/train_net.py --config-file configs/CellTrack-R18-FPN-cpu.yaml, then "
                            "tools/train_linker.py (celltrack/model_zoo/CellTrack-R18-FPN-cpu/MODEL_CARD.md)")}
    for key, (option, value) in ABLATION_LINKERS.items():
        folder = Path(getattr(args, f"linker_{key.replace('-', '_')}") or f"output/linker-{key}")
        train = (f"python tools/train_linker.py --config-file {ZOO}/config.yaml --weights "
                 f"{ZOO}/model_final.pth --output {folder}-head MODEL.TRACK_HEAD.POSITION_ENCODING polar "
                 f"MODEL.TRACK_HEAD.NUM_NEIGHBORS 8 {option} {value} CELLTRACK.TRACKER.MIN_SCORE 0.3 "
                 f"CELLTRACK.MASK_OVERLAP_THRESHOLD 0.3 && python tools/train_linker.py --config-file "
                 f"configs/CellTrack-R18-FPN-cpu.yaml --weights {folder}-head/model_final.pth --output {folder} "
                 f"--refit {folder}-head && cp {folder}-head/model_final.pth {folder}/")
        models[key] = Model(key, str(folder / "config.yaml"), str(folder / "model_final.pth"), train)
    return models


def missing_weights(model: Model) -> Optional[str]:
    """Why a model cannot be used, or None."""
    option = "--weights" if model.key == "main" else f"--linker-{model.key}"
    if not model.weights:
        return f"no weights given ({option}); train them with `{model.how_to_train}`"
    if not Path(model.weights).is_file():
        return f"weights {model.weights} not found ({option}); train them with `{model.how_to_train}`"
    return None


def model_cfg(args, model: Model, extra: Sequence = ()):
    opts = list(model.opts) + ["MODEL.WEIGHTS", model.weights or "", "MODEL.DEVICE", args.device] + list(extra)
    return get_celltrack_cfg(str(REPO / model.config_file), opts)
