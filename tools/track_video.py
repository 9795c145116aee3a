#!/usr/bin/env python
"""Segment and track cells in a movie with a trained CellTrack model.

    python tools/track_video.py MOVIE --output results/movie1   # the model shipped in celltrack/model_zoo
    python tools/track_video.py MOVIE --config-file configs/CellTrack-R18-FPN-cpu.yaml \
        --weights output/cpu/model_final.pth --output results/movie1   # a model you trained
    python tools/track_video.py MOVIE ... --masks MY_LABELS/     # link a segmentation you already have
    python tools/track_video.py MOVIE ... --resume               # continue an interrupted run

MOVIE is a folder of frames, a TIFF stack (T, Y, X) or a video file; a TIFF hyperstack with channels or
z-slices needs --channel / --z. Trailing KEY VALUE pairs override the config, e.g.
CELLTRACK.TRACKER.METHOD global.

Exit status: 0 done; 2 an input cannot be used (one line says which file and what to do; --debug shows
the traceback); 130 interrupted (--resume continues).
"""
import json
import sys

import celltrack  # noqa: F401  (compat shims + registrations, before detectron2)
from celltrack import model_zoo
from celltrack.cli import ToolParser, load_config, tool
from celltrack.data.movie import DataError
from celltrack.tracking.predictor import CellTrackPredictor
from celltrack.tracking.track_movie import track_movie


def parse_args(argv=None):
    parser = ToolParser(description=__doc__)
    parser.add_argument("movie", help="folder of frames, TIFF stack or video")
    parser.add_argument("--config-file", help="the config the weights were trained with (default: the shipped "
                        f"model's, celltrack/model_zoo/{model_zoo.DEFAULT_MODEL})")
    parser.add_argument("--weights", help="trained CellTrack checkpoint (.pth) (default: the shipped model's)")
    parser.add_argument("--output", required=True, help="output folder (must be empty unless --overwrite/--resume)")
    parser.add_argument("--masks", help="label images per frame (folder or stack) to link instead of detecting")
    parser.add_argument("--channel", type=int, help="channel to track in a TIFF hyperstack with several (from 0)")
    parser.add_argument("--z", type=int, help="z-slice to track in a TIFF hyperstack with several (from 0)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: the config's MODEL.DEVICE)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of an earlier run in --output (other files are kept)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --output (same movie, config and weights)")
    parser.add_argument("--fps", type=float, default=5.0, help="frame rate of overlay.mp4")
    parser.add_argument("opts", nargs="*", help="config overrides: KEY VALUE ...")
    return parser.parse_intermixed_args(argv)


@tool(resumable=True)
def main(argv=None) -> int:
    args = parse_args(argv)
    if (args.config_file is None) != (args.weights is None):
        raise DataError(f"{args.config_file or args.weights}: --config-file and --weights go together (the "
                        f"config the weights were trained with); pass both, or neither for the shipped model.")
    if args.config_file is None:
        folder = model_zoo.model_folder()
        args.config_file, args.weights = str(folder / "config.yaml"), str(folder / "model_final.pth")
    opts = list(args.opts) + ["MODEL.WEIGHTS", args.weights]
    if args.device:
        opts += ["MODEL.DEVICE", args.device]
    cfg = load_config(args.config_file, opts)
    cfg.freeze()
    predictor = CellTrackPredictor(cfg)
    summary = track_movie(predictor, args.movie, args.output, masks=args.masks, overwrite=args.overwrite,
                          resume=args.resume, fps=args.fps, channel=args.channel, z=args.z)
    print(json.dumps(summary, indent=2))
    print(f"results in {args.output}: res/ (CTC), tracks.csv, tracks.geff, overlay.mp4, lineage.png, summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
