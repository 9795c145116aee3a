#!/usr/bin/env python
"""A data folder for training with synthetic touching nuclei beside the real sequences (an experiment).

    python benchmarks/synthetic_training_data.py --data ../shared/data --out ../synthdata
    CELLTRACK_DATA=../synthdata python tools/train_net.py --config-file configs/CellTrack-R18-FPN-cpu.yaml \
        DATASETS.TRAIN '("Fluo-N2DH-SIM+/01[0:55]","Fluo-N2DH-GOWT1/01","Synthetic-Nuclei/01","Synthetic-Nuclei/02")' \
        DATASETS.TEST "()" OUTPUT_DIR output/cpu-synth-s1

``--out`` gets links to the real datasets of ``--data`` and ``Synthetic-Nuclei/01`` and ``/02``: 30 frames each of
``celltrack.data.synthetic`` at the nuclei's scale (as linker_validation's synthetic A and B, other seeds: 101,
102; 02 dimmer, noisier and faster), where nuclei often touch -- what the shipped detector merges
(``benchmarks/split_probe.py``). Judge a model trained on it on SIM+ 01 frames 55-64 (training_curve.py), never
on SIM+ 02; linker_validation's synthetic A / B (seeds 11, 12) stay unseen.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from linker_validation import SYNTHETIC_A, SYNTHETIC_B, synthetic_movie  # noqa: E402

SEQUENCES = {"01": (101, SYNTHETIC_A), "02": (102, SYNTHETIC_B)}  # sequence: (seed, linker_validation's movie)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--out", required=True, help="new data folder (links to --data's datasets + Synthetic-Nuclei)")
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()
    data, out = Path(args.data).resolve(), Path(args.out)
    problem = (f"--data {args.data} is not a folder" if not data.is_dir() else
               f"{out / 'Synthetic-Nuclei'} exists; choose a new --out" if (out / "Synthetic-Nuclei").exists() else None)
    if problem:
        print(f"synthetic_training_data.py: {problem}", file=sys.stderr)
        sys.exit(2)
    out.mkdir(parents=True, exist_ok=True)
    for dataset in sorted(p for p in data.iterdir() if p.is_dir()):
        if not (out / dataset.name).exists():
            (out / dataset.name).symlink_to(dataset)
    for sequence, (seed, options) in SEQUENCES.items():
        synthetic_movie(out / "Synthetic-Nuclei", seed, sequence, args.frames, **options)
    print(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")


if __name__ == "__main__":
    main()
