#!/usr/bin/env python
"""Convert a DeepCell tracking file (.trk: one movie, .trks: several) to Cell Tracking Challenge folders.

Each movie becomes a sequence NN (01, 02, ...) of OUT_ROOT with raw frames, NN_GT/TRA (tracked labels +
man_track.txt) and NN_GT/SEG. Example::

    python datasets/trk_to_ctc.py data/RAW264.7/train.trks datasets/RAW264.7 --channel 0
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from celltrack.cli import ToolParser, tool  # noqa: E402
from celltrack.data.deepcell import trk_to_ctc  # noqa: E402


@tool()
def main(argv=None) -> int:
    parser = ToolParser(description=__doc__)
    parser.add_argument("trk", type=Path, help="the .trk or .trks file")
    parser.add_argument("out_root", type=Path, help="CTC dataset folder to write (e.g. datasets/RAW264.7)")
    parser.add_argument("--channel", type=int, default=None, help="raw channel to keep when there are several")
    parser.add_argument("--first-sequence", type=int, default=1, help="number of the first sequence (default 1)")
    args = parser.parse_args(argv)
    sequences = trk_to_ctc(args.trk, args.out_root, channel=args.channel, first_sequence=args.first_sequence)
    print(f"wrote {len(sequences)} sequence(s) to {args.out_root}: {', '.join(sequences)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
