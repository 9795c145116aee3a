#!/usr/bin/env python
"""Score a CTC tracking result with the official Cell Tracking Challenge measures (py-ctcmetrics).

    python tools/evaluate.py RESULT_DIR GT_DIR [--json scores.json]
    python tools/evaluate.py demo_output/res datasets/Synthetic/02_GT

RESULT_DIR holds maskTTT.tif + res_track.txt (CellTrack's or any other tool's); GT_DIR is the sequence's
ground truth, e.g. .../Fluo-N2DH-SIM+/02_GT with TRA/ (and SEG/ where annotated). Prints SEG, DET, TRA,
LNK, CT, TF, BC(2), CCA, BIO(2) and the divisions found vs in the GT ("n/a" where the GT does not allow
a measure); --json writes every number py-ctcmetrics returns.

Exit status: 0 scored; 2 the result cannot be scored (a folder or file is unusable, or the result is
invalid, e.g. its lineage disagrees with its masks: one line says which file and why; --debug shows the
traceback); 130 interrupted.
"""
import json
import sys
from pathlib import Path

import celltrack  # noqa: F401  (compat shims before detectron2)
from celltrack.cli import ToolParser, tool
from celltrack.evaluation import evaluate_ctc, format_metrics


def parse_args(argv=None):
    parser = ToolParser(description=__doc__)
    parser.add_argument("result_dir", help="CTC result folder (maskTTT.tif, res_track.txt)")
    parser.add_argument("gt_dir", help="CTC ground-truth folder (TRA/, optional SEG/), e.g. .../02_GT")
    parser.add_argument("--json", help="also write every score to this JSON file")
    parser.add_argument("--threads", type=int, default=1, help="processes for matching frames (0 = one per CPU)")
    return parser.parse_args(argv)


@tool()
def main(argv=None) -> int:
    args = parse_args(argv)
    scores = evaluate_ctc(args.result_dir, args.gt_dir, threads=args.threads)
    print(f"{args.result_dir} vs {args.gt_dir}")
    print(format_metrics(scores))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"result_dir": str(args.result_dir), "gt_dir": str(args.gt_dir), "scores": scores}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
