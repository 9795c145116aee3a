#!/usr/bin/env python
"""Segment and track cells in a movie with a trained CellTrack model.

    python tools/track_video.py MOVIE --output results/movie1   # the model shipped in celltrack/model_zoo
    python tools/track_video.py MOVIE --config-file configs/CellTrack-R18-FPN-cpu.yaml \
        --weights output/cpu/model_final.pth --output results/movie1   # a model you trained
    python tools/track_video.py MOVIE ... --masks MY_LABELS/     # link a segmentation you already have
    python tools/track_video.py MOVIE ... --resume               # continue an interrupted run
    python tools/track_video.py MOVIE1 MOVIE2 ... --output results --num-gpus 4   # several movies, 4 processes
    python tools/track_video.py MOVIES/ --output results         # every movie in a folder (or 'movies/*.tif')

MOVIE is a folder of frames, a TIFF stack (T, Y, X) or a video file; a TIFF hyperstack with channels or
z-slices needs --channel / --z. Trailing KEY VALUE pairs override the config, e.g.
CELLTRACK.TRACKER.METHOD global (they begin at the first UPPER.CASE key).

Several movies (several MOVIE arguments, a folder of movies: sub-folders of frames, TIFF stacks, videos;
or a quoted glob pattern) go to --output/<movie name>/, one folder per movie, each resumable on its own,
with --output/summary.json collecting their summaries. They are shared among the processes of
detectron2's launch: --num-gpus N per machine (N CPU processes without GPUs), --num-machines,
--machine-rank and --dist-url as for tools/train_net.py. --masks is then a folder with one entry per
movie, named after it (MASKS/<name>/ or MASKS/<name>.tif).

Exit status: 0 done; 2 an input cannot be used (one line says which file and what to do; --debug shows
the traceback); 130 interrupted (--resume continues).
"""
import json
import re
import sys
from pathlib import Path

import celltrack  # noqa: F401  (compat shims + registrations, before detectron2)
from celltrack import model_zoo
from celltrack.cli import ToolParser, load_config, positive_int, tool
from celltrack.data.movie import DataError
from celltrack.tracking.predictor import CellTrackPredictor
from celltrack.tracking.movies import check_movies_output_dir, find_movies, masks_of, track_movies
from celltrack.tracking.track_movie import track_movie
from detectron2.engine import launch

# Where the config overrides begin among the positional arguments: the first KEY (unless a file of that name exists).
CONFIG_KEY = re.compile(r"[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+")


def parse_args(argv=None):
    parser = ToolParser(description=__doc__)
    parser.add_argument("movie", nargs="+", metavar="MOVIE",
                        help="folder of frames, TIFF stack or video; several, a folder of movies or a glob pattern")
    parser.add_argument("--config-file", help="the config the weights were trained with (default: the shipped "
                        f"model's, celltrack/model_zoo/{model_zoo.DEFAULT_MODEL})")
    parser.add_argument("--weights", help="trained CellTrack checkpoint (.pth) (default: the shipped model's)")
    parser.add_argument("--output", required=True, help="output folder (must be empty unless --overwrite/--resume); "
                        "with several movies, one folder per movie in it")
    parser.add_argument("--masks", help="label images per frame (folder or stack) to link instead of detecting; "
                        "with several movies, a folder with one such entry per movie, named after it")
    parser.add_argument("--channel", type=int, help="channel to track in a TIFF hyperstack with several (from 0)")
    parser.add_argument("--z", type=int, help="z-slice to track in a TIFF hyperstack with several (from 0)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: the config's MODEL.DEVICE)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of an earlier run in --output (other files are kept)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --output (same movie, config and weights)")
    parser.add_argument("--fps", type=float, default=5.0, help="frame rate of overlay.mp4")
    parser.add_argument("--num-gpus", type=positive_int, default=1,
                        help="processes per machine for several movies (GPUs; CPU processes without GPUs)")
    parser.add_argument("--num-machines", type=positive_int, default=1, help="machines sharing several movies")
    parser.add_argument("--machine-rank", type=int, default=0, help="the rank of this machine (unique per machine)")
    parser.add_argument("--dist-url", default="auto",
                        help="initialization URL for pytorch distributed, e.g. tcp://HOST:PORT (auto: this machine)")
    args = parser.parse_intermixed_args(argv)
    # "opts" would take nothing after MOVIE's nargs="+": the overrides are cut off at their first key.
    first_key = next((i for i, text in enumerate(args.movie) if CONFIG_KEY.fullmatch(text) and not Path(text).exists()),
                     len(args.movie))
    args.movie, args.opts = args.movie[:first_key], args.movie[first_key:]
    if not args.movie:
        parser.error("the following arguments are required: MOVIE")
    return args


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
    movies, several = find_movies(args.movie)
    if several:
        return track_several(cfg, movies, args)
    predictor = CellTrackPredictor(cfg)
    summary = track_movie(predictor, movies[0], args.output, masks=args.masks, overwrite=args.overwrite,
                          resume=args.resume, fps=args.fps, channel=args.channel, z=args.z)
    print(json.dumps(summary, indent=2))
    print(f"results in {args.output}: res/ (CTC), tracks.csv, tracks.geff, overlay.mp4, lineage.png, summary.json")
    return 0


def track_several(cfg, movies, args) -> int:
    """Several movies, one output folder each, shared among detectron2's launch processes."""
    output = Path(args.output)
    if args.num_machines > 1 and args.dist_url == "auto":
        raise DataError(f"--dist-url {args.dist_url}: finds a port on this machine only, and --num-machines is "
                        f"{args.num_machines}. Pass --dist-url tcp://HOST:PORT of machine 0 on every machine.")
    masks = masks_of(movies, args.masks)
    check_movies_output_dir(output, args.overwrite, args.resume)
    print(f"tracking {len(movies)} movies into {output}/<name>/: {', '.join(path.name for path in movies)}")
    options = {"fps": args.fps, "channel": args.channel, "z": args.z}
    launch(track_movies, args.num_gpus, args.num_machines, args.machine_rank, args.dist_url,
           args=(cfg, movies, output, masks, args.overwrite, args.resume, options))
    if args.machine_rank != 0:  # the summary is written by process 0, on machine 0
        return 0
    summary = json.loads((output / "summary.json").read_text())
    print(json.dumps(summary, indent=2))
    failed = {name: movie["error"] for name, movie in summary["movies"].items() if "error" in movie}
    for name, line in failed.items():  # one "error:" line ends the output, as for every tool
        print(f"{name}: {line[len('error: '):]}", file=sys.stderr)
    if failed:
        print(f"error: {output / 'summary.json'}: {len(failed)} of {len(movies)} movies could not be tracked (above). "
              f"Fix their inputs and run the same command with --resume to track them.", file=sys.stderr)
        return 2
    print(f"results in {output}/<movie name>/ (res/, tracks.csv, tracks.geff, overlay.mp4, lineage.png, summary.json) "
          f"and {output / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
