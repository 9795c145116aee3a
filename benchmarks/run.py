#!/usr/bin/env python
"""CellTrack's benchmark in one command: accuracy against baselines, speed, scale (issue 6).

    python benchmarks/run.py                                   # everything; ~1 h on 2 CPU cores
    python benchmarks/run.py --only accuracy --max-frames 10   # a quick check that it runs end to end
    python benchmarks/run.py --only speed scale --out /tmp/bench

Data: the Cell Tracking Challenge sets under $CELLTRACK_DATA (default ../shared/data next to the
repository); the accuracy section, and the real frames of the speed section, are skipped cleanly when
they are absent. Outputs (``--out``, default benchmarks/): results.json, RESULTS.md (generated from it,
never edited by hand), accuracy.png and linker_scaling.png. A run of some sections (``--only``) keeps the
other sections of an existing results.json. Scratch files (detections cache, CTC results, movies) go to
``--work-dir`` (default benchmarks/work/, ignored by git); a rerun reuses cached detections.

The sections are modules of this folder: ``accuracy`` (with ``baselines``, ``sequences`` and ``variants``:
``VARIANTS`` are the CellTrack rows), ``speed``, ``scale``, and ``report``.

Accuracy rows, scored by py-ctcmetrics (``celltrack.evaluation.evaluate_ctc``; RESULTS.md notes what each
row is): the CellTrack variants (``celltrack`` is the default configuration a user gets; the paper's
ablation rows need models trained with one head off, else they say so and are skipped) and the peers
``iou``, ``iou-paper-rule`` and ``laptrack``, all linking the very same cells: CellTrack's detections
(``uses_gt_masks`` false; with ``classical+laptrack``, Otsu/watershed segmentation linked by laptrack), and
the GT masks with identities removed (``uses_gt_masks`` true: track_video.py's ``--masks`` mode; where the
GT has no complete segmentation, as most GOWT1 frames, the TRA markers stand for the cells).

Peers are fair: laptrack's options are the ones ``benchmarks/tune_laptrack.py`` chose on the training
sequence Fluo-N2DH-SIM+ 01 (``benchmarks/laptrack_tuned.json``; LAPTRACK_DEFAULTS, said so in the report,
when the file is missing), and ``iou`` uses the config's ``CELLTRACK.TRACKER.METHOD`` and ``ALPHA``. Every
row carries ``training_data``: true on a sequence the evaluated model was trained on (the config's
``DATASETS.TRAIN``, frame ranges dropped) or laptrack was tuned on; RESULTS.md marks those tables. The
training sequence itself can be scored too (``--sequences Fluo-N2DH-SIM+/01``, in the defaults) to show
how far the test scores are from the training ones.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import run_accuracy  # noqa: E402
from baselines import LAPTRACK_TUNED  # noqa: E402
from celltrack.collect_env import machine, versions  # noqa: E402
from common import DEFAULT_CONFIG, DEFAULT_WEIGHTS, HERE, REPO, data_folder, json_safe, log, now  # noqa: E402
from report import write_report  # noqa: E402
from scale import measure_linker, measure_memory  # noqa: E402
from speed import measure_inference, measure_sharding, measure_training  # noqa: E402

SECTIONS = ("accuracy", "speed", "scale")
# Test sequence first; then the training sequences (marked as such in the report), to show the gap.
DEFAULT_SEQUENCES = ("Fluo-N2DH-SIM+/02", "Fluo-N2DH-GOWT1/01", "Fluo-N2DH-SIM+/01")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--data", help="CTC data folder (default $CELLTRACK_DATA, else ../shared/data)")
    parser.add_argument("--sequences", nargs="+", default=list(DEFAULT_SEQUENCES),
                        help="<dataset>/<NN> to report on (training sequences are scored too, marked as such)")
    parser.add_argument("--max-frames", type=int, help="only the first N frames of each sequence (quick runs)")
    parser.add_argument("--config-file", default=DEFAULT_CONFIG)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, help="the trained CellTrack model")
    for head in ("spatial", "visual"):  # the paper's ablation
        parser.add_argument(f"--linker-no-{head}", help=f"tools/train_linker.py output trained with MODEL.TRACK_HEAD."
                            f"{head.upper()}_ON False (default output/linker-no-{head})")
    parser.add_argument("--laptrack-options", default=str(LAPTRACK_TUNED),
                        help="laptrack's tuned options (benchmarks/tune_laptrack.py); defaults when missing")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="py-ctcmetrics processes")
    parser.add_argument("--speed-frames", type=int, default=10, help="frames timed for frames/s")
    parser.add_argument("--train-iters", type=int, default=8, help="training iterations timed (after 2 warm-up)")
    parser.add_argument("--linker-cells", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--linker-frames", type=int, default=20)
    parser.add_argument("--linker-repeats", type=int, default=5,
                        help="runs of each linker movie; ms/frame is their median (a shared machine's speed varies)")
    parser.add_argument("--memory-frames", type=int, nargs=2, default=[50, 500], help="short and long movie")
    parser.add_argument("--memory-size", type=int, default=160, help="frame size (px) of the memory movies")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json, RESULTS.md and the plots")
    parser.add_argument("--work-dir", default=str(HERE / "work"), help="scratch folder (caches, CTC results)")
    return parser.parse_args(argv)


def run_section(section: str, args, data: Path, work: Path):
    """One section's results, and its parameters for the run's record."""
    if section == "speed":
        return {"inference": measure_inference(args, data, work), "training": measure_training(args, data, work),
                "sharding": measure_sharding(args, work)}, {}
    if section == "scale":
        return {"linker": measure_linker(args), "memory": measure_memory(args, work)}, {}
    if not data.is_dir():
        log(f"accuracy: data folder {data} not found (set CELLTRACK_DATA); skipping")
        return [], {"skipped": f"data folder {data} not found"}
    return run_accuracy(args, data, work)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.chdir(REPO)  # relative paths (config, weights) are the repository's
    data, work, out = data_folder(args.data), Path(args.work_dir).resolve(), Path(args.out).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results.setdefault("meta", {}).setdefault("sections", {})
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for section in (section for section in SECTIONS if section in args.only):
        log(f"--- {section}")
        start = time.perf_counter()
        results[section], parameters = run_section(section, args, data, work)
        results["meta"]["sections"][section] = {"command": command, "date": now(),
                                                "wall_seconds": round(time.perf_counter() - start, 1),
                                                "data": str(data), **parameters}
    results["meta"].update({"command": command, "machine": machine(), "versions": versions(REPO), "date": now()})
    results_path.write_text(json.dumps(json_safe(results), indent=2))
    write_report(results, out)
    log(f"wrote {results_path}, {out / 'RESULTS.md'} and the plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
