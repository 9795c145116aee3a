#!/usr/bin/env python
"""Convert a Cell Tracking Challenge (CTC) result folder into another tracking format.

    python tools/convert.py RESULT_DIR --to geff --output tracks.geff
    python tools/convert.py results/movie1/res --to geff --output results/movie1/tracks.geff --overwrite

RESULT_DIR holds maskTTT.tif + res_track.txt (CellTrack's or any other tool's result) or, for ground
truth, man_trackTTT.tif + man_track.txt. GEFF (a zarr folder) is the graph format of motile, the napari
tracking plugins and traccuracy: a node per cell per frame (t, y, x, area, track_id, seg_id = its label in
that frame's mask, lineage_id), an edge per link and per division (celltrack/data/geff.py).

Exit status: 0 done; 2 an input cannot be used (one line says which file and what to do; --debug shows
the traceback); 130 interrupted.
"""
import sys

import celltrack  # noqa: F401  (compat shims before detectron2)
from celltrack.cli import ToolParser, tool
from celltrack.data.geff import write_geff

FORMATS = ("geff",)


def parse_args(argv=None):
    parser = ToolParser(description=__doc__)
    parser.add_argument("result_dir",
                        help="CTC folder (maskTTT.tif + res_track.txt, or man_trackTTT.tif + man_track.txt)")
    parser.add_argument("--to", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--output", required=True, help="the file or folder to write, e.g. tracks.geff")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier conversion at --output")
    return parser.parse_args(argv)


@tool()
def main(argv=None) -> int:
    args = parse_args(argv)
    counts = write_geff(args.result_dir, args.output, overwrite=args.overwrite)
    print(f"{args.output}: {counts['nodes']} nodes (cells in frames), {counts['edges']} edges (links and divisions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
