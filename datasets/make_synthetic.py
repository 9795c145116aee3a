#!/usr/bin/env python
"""Write a synthetic fluorescence time-lapse with exact ground truth as a Cell Tracking Challenge dataset.

Example (a 200-frame demo sequence and a scale benchmark)::

    python datasets/make_synthetic.py datasets/Synthetic --sequence 01 --frames 200 --cells 30 \\
        --height 512 --width 512 --seed 0
    python datasets/make_synthetic.py /tmp/Scale --frames 1000 --cells 2000 --height 2048 --width 2048 \\
        --radius 6 10
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from celltrack.cli import ToolParser, positive_int, tool  # noqa: E402
from celltrack.data.movie import DataError  # noqa: E402
from celltrack.data.synthetic import make_synthetic_sequence  # noqa: E402


@tool()
def main(argv=None) -> int:
    parser = ToolParser(description=__doc__)
    parser.add_argument("root", type=Path, help="dataset folder to write (e.g. datasets/Synthetic)")
    parser.add_argument("--sequence", default="01", help="sequence folder name (default 01)")
    parser.add_argument("--frames", type=positive_int, default=50, help="number of frames")
    parser.add_argument("--cells", type=positive_int, default=20, help="initial number of cells")
    parser.add_argument("--height", type=positive_int, default=256, help="frame height in pixels")
    parser.add_argument("--width", type=positive_int, default=256, help="frame width in pixels")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    parser.add_argument("--radius", type=float, nargs=2, default=(8.0, 12.0), metavar=("MIN", "MAX"),
                        help="range of cell radii in pixels")
    parser.add_argument("--cell-cycle", type=int, nargs=2, default=(30, 90), metavar=("MIN", "MAX"),
                        help="range of frames between divisions")
    parser.add_argument("--marker-scale", type=float, default=1.0,
                        help="TRA marker size relative to the cell (1 = full masks as in SIM+, 0.5 = blobs)")
    args = parser.parse_args(argv)
    for folder in (args.root / args.sequence, args.root / f"{args.sequence}_GT"):
        if folder.is_dir() and any(folder.iterdir()):  # a shorter movie would leave the old frames behind
            raise DataError(f"{folder}: already holds a sequence. Choose another --sequence or root, or delete it "
                            f"first.")
    lineage = make_synthetic_sequence(
        args.root, args.sequence, num_frames=args.frames, num_cells=args.cells, height=args.height,
        width=args.width, seed=args.seed, cell_radius=tuple(args.radius), cell_cycle=tuple(args.cell_cycle),
        marker_scale=args.marker_scale)
    print(f"wrote {args.root / args.sequence}: {args.frames} frames, {len(lineage)} tracks, "
          f"{len(set(lineage[lineage[:, 3] > 0, 3].tolist()))} divisions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
