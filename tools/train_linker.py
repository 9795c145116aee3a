#!/usr/bin/env python
"""Retrain only the linker (track head + link and division models) with the detector frozen.

    python tools/train_linker.py --config-file configs/CellTrack-R18-FPN-cpu.yaml \\
        --weights output/cpu/model_final.pth --output output/linker \\
        MODEL.TRACK_HEAD.POSITION_ENCODING polar MODEL.TRACK_HEAD.NUM_NEIGHBORS 8

Trains on the ground truth of the config's DATASETS.TRAIN (full frames; minutes on a CPU). Options after
the flags change the linker being trained (MODEL.TRACK_HEAD.*, CELLTRACK.TRACKER.*). Writes
``OUTPUT/model_final.pth`` (the frozen detector + the new track head), ``OUTPUT/config.yaml`` (the config
with the fitted link models, METHOD learned) and ``OUTPUT/linker_report.json``; track with
``track_video.py MOVIE --config-file OUTPUT/config.yaml --output ...``.
"""
import argparse
import json
import sys
import logging
from pathlib import Path

import torch

import celltrack  # noqa: F401  (compat shims + registrations, before detectron2)
from celltrack.cli import ToolParser, load_config, tool
from celltrack.data.movie import DataError
from celltrack.data.catalog import register_named_sequences
from celltrack.linker_trainer import refit_link_models, train_linker


def check_device(name: str) -> None:
    """Refuse a --device that torch cannot use, in one line."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DataError(f"--device {name}: not a device torch knows; pass cpu or cuda (cuda:1 for the second GPU)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DataError(f"--device {name}: this torch ({torch.__version__}) sees no CUDA GPU; pass --device cpu")


@tool()
def main(argv=None) -> int:
    parser = ToolParser(description=__doc__)
    parser.add_argument("--config-file", required=True, help="config the detector was trained with")
    parser.add_argument("--weights", required=True, help="trained CellTrack weights (the detector is kept)")
    parser.add_argument("--output", required=True, help="folder for model_final.pth, config.yaml, linker_report.json")
    parser.add_argument("--epochs", type=int, default=15, help="passes over the training frame pairs")
    parser.add_argument("--device", help="where the frozen detector runs (cpu, cuda); default: the config's MODEL.DEVICE")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier result in --output")
    parser.add_argument("--refit", metavar="LINKER_DIR",
                        help="keep the track head of an earlier train_linker output and refit only the link and "
                             "division models, on ground-truth cells (options after the flags apply to its config, "
                             "e.g. CELLTRACK.TRACKER.FIT_PENALTY)")
    parser.add_argument("--refit-on-detections", metavar="LINKER_DIR",
                        help="as --refit, on ground-truth cells and the detector's own cells")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs for the new linker")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.device:
        check_device(args.device)
    cfg = load_config(args.config_file, ["MODEL.WEIGHTS", args.weights] + (["MODEL.DEVICE", args.device] if args.device else []))
    new_cfg = load_config(args.config_file, args.opts)
    register_named_sequences(cfg.DATASETS.TRAIN, cfg)
    output = Path(args.output)
    written = [output / name for name in ("model_final.pth", "config.yaml", "linker_report.json")]
    if any(path.exists() for path in written) and not args.overwrite:
        raise FileExistsError(f"{output}: holds an earlier linker (model_final.pth, config.yaml); choose another "
                              f"--output or pass --overwrite")
    output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.SEED if cfg.SEED >= 0 else 0)
    if args.refit and args.refit_on_detections:
        raise ValueError("--refit and --refit-on-detections: give one")
    if args.refit or args.refit_on_detections:
        earlier = Path(args.refit or args.refit_on_detections)
        linker_cfg = load_config(str(earlier / "config.yaml"), ["MODEL.WEIGHTS", args.weights, *args.opts])
        fitted, report = refit_link_models(cfg, linker_cfg, with_detections=bool(args.refit_on_detections))
    else:
        model, fitted, report = train_linker(cfg, new_cfg, args.epochs)
        weights = output / "model_final.pth"
        torch.save({"model": model.state_dict()}, weights)
        fitted.MODEL.WEIGHTS = str(weights)
    (output / "config.yaml").write_text(fitted.dump())
    (output / "linker_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    print(f"wrote {output / 'config.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
