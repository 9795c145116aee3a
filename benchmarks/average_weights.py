#!/usr/bin/env python
"""Average the weights of CellTrack checkpoints of one architecture (a "model soup"), for the validation ladder.

    python benchmarks/average_weights.py --out output/soups/shipped+unfrozen_final.pth \\
        celltrack/model_zoo/CellTrack-R18-FPN-cpu/model_final.pth output/cpu-unfrozen/model_final.pth

Floating-point tensors are averaged in float32 (float16 shipped weights included); other tensors must agree.
Exit status 2 with one line when the checkpoints do not hold the same parameters.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from celltrack.cli import ToolParser, tool  # noqa: E402
from celltrack.data.movie import DataError  # noqa: E402


def average(paths) -> dict:
    states = [torch.load(p, map_location="cpu", weights_only=True)["model"] for p in paths]
    for path, state in zip(paths[1:], states[1:]):
        if set(state) != set(states[0]) or any(state[k].shape != states[0][k].shape for k in state):
            raise DataError(f"{path}: does not hold the parameters of {paths[0]} (another architecture or config)")
    averaged = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            averaged[key] = sum(state[key].float() for state in states) / len(states)
        elif all(torch.equal(state[key], first) for state in states):
            averaged[key] = first
        else:
            raise DataError(f"{key}: a non-float tensor that differs between the checkpoints; they cannot be averaged")
    return averaged


@tool()
def main(argv=None) -> int:
    parser = ToolParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("checkpoints", nargs="+", help="two or more CellTrack .pth files")
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        raise DataError("give two or more checkpoints to average")
    if args.out.exists():
        raise FileExistsError(f"{args.out}: exists; choose another --out")
    averaged = average(args.checkpoints)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": averaged}, args.out)
    print(f"wrote {args.out}: the mean of {len(args.checkpoints)} checkpoints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
