"""The scale section: linker time against the number of cells, and peak memory against movie length."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch

from celltrack.config import get_celltrack_cfg
from common import REPO, fresh, log
from variants import DEFAULT_RULE, build_models, missing_weights


def measure_linker(args) -> dict:
    """Linker ms/frame vs cells for each rule (the default is "learned"), and the fitted exponent of
    the growth, on the synthetic movies of ``celltrack.tracking.benchmark``.

    Every rule is timed by its ``benchmark_linker``; "learned" with the shipped config's fitted
    ``LinkModel`` when there is one, else a hand-set one: time depends on how many links and divisions
    pass the thresholds, not on the exact weights. The hand-set weights favour, as fitted ones do, high head similarity and
    overlap, a small displacement (``displacement_scale`` 2 px: the movie's per-frame step) and, for a
    division, similar daughters close to the mother and to each other. Each row's ``divisions`` shows how
    a rule links the movie (20 frames, the default, hold 1, 18 and 90 divisions at 10, 100 and 1000 cells;
    these weights find 1, 14 and 89).
    """
    from celltrack.tracking.benchmark import benchmark_linker
    from celltrack.tracking.link_model import DIVISION_FEATURES, LINK_FEATURES, LinkModel

    # One weight per feature, in the order of LINK_FEATURES / DIVISION_FEATURES, then the bias.
    link_weights = dict(visual_margin=1.0, spatial_margin=1.0, iou=2.0, distance=-0.5, distance_squared=-0.1, area_change=-1.0)
    division_weights = dict(visual_mother=0.5, spatial_mother=0.5, near_daughter=-0.3, far_daughter=-0.5,
                            daughter_spacing=0.0, midpoint_offset=-1.0, area_sum=0.0, area_imbalance=-1.0, iou_sum=1.0)
    link_model = LinkModel(tuple(link_weights[name] for name in LINK_FEATURES) + (0.0,),
                           tuple(division_weights[name] for name in DIVISION_FEATURES) + (2.0,), displacement_scale=2.0)
    config_file = getattr(args, "config_file", None)
    if config_file and (REPO / config_file).is_file():  # the shipped model's fitted weights, when there are some
        link_model = LinkModel.from_config(get_celltrack_cfg(str(REPO / config_file))) or link_model

    rules = ("learned", "global", "paper")
    rows = []
    for method in rules:
        for cells in args.linker_cells:
            result = benchmark_linker(cells, num_frames=args.linker_frames, method=method,
                                      link_model=link_model if method == "learned" else None)
            rows.append({"method": method, "num_cells": cells, "ms_per_frame": result["ms_per_frame"],
                         "max_ms": result["max_ms"], "divisions": int(result["divisions"])})
            log(f"scale: linker {method:7s} {cells:5d} cells: {result['ms_per_frame']:.2f} ms/frame")
    exponents = {}
    for method in rules:
        points = [(row["num_cells"], row["ms_per_frame"]) for row in rows if row["method"] == method and row["num_cells"] >= 100]
        if len(points) >= 2:
            n, ms = np.log(np.array(points)).T
            exponents[method] = {"fit_100_and_up": float(np.polyfit(n, ms, 1)[0]),
                                 "last_two": float((ms[-1] - ms[-2]) / (n[-1] - n[-2]))}
    return {"frames": args.linker_frames, "rows": rows, "exponent": exponents, "default": DEFAULT_RULE[1],
            "learned_weights": {"link": list(link_model.link_weights), "division": list(link_model.division_weights),
                                "displacement_scale": link_model.displacement_scale},
            "note": "ms/frame = k * cells^exponent fitted on a log-log scale; 1 = linear, n log n fits ~1.1; "
                    "'learned' with hand-set weights (timing only)"}


def max_rss_of(command: List[str], log_path: Path) -> Tuple[int, float, int]:
    """Run ``command``; return (its peak resident memory in bytes, wall seconds, exit status)."""
    start = time.perf_counter()
    with open(log_path, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of this child alone
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen, so it does not wait again
    return usage.ru_maxrss * 1024, time.perf_counter() - start, process.returncode  # Linux reports KiB


def measure_memory(args, work: Path) -> dict:
    """Peak memory of tools/track_video.py on a long and a short synthetic movie (separate processes)."""
    script = REPO / "tools" / "track_video.py"
    if not script.is_file():
        return {"not_measured": "tools/track_video.py does not exist yet"}
    from celltrack.data import make_synthetic_sequence

    model = build_models(args)["main"]
    config, weights, note, opts = args.config_file, model.weights, "trained weights", []
    if missing_weights(model):
        from detectron2.modeling import build_model

        config = "configs/CellTrack-R18-FPN-tiny.yaml"
        weights = str(work / "memory-tiny-untrained.pth")
        torch.manual_seed(0)
        torch.save({"model": build_model(get_celltrack_cfg(str(REPO / config), ["MODEL.DEVICE", "cpu"])).state_dict()},
                   weights)
        note = f"untrained tiny model, at most 20 cells per frame ({missing_weights(model)})"
        opts = ["TEST.DETECTIONS_PER_IMAGE", "20"]  # an untrained detector keeps hundreds of boxes per frame
    longest = max(args.memory_frames)
    size = args.memory_size
    root = work / f"memory-movie-{longest}x{size}"
    if not (root / "01" / f"t{longest - 1:03d}.tif").is_file():
        make_synthetic_sequence(root, "01", num_frames=longest, num_cells=12, height=size, width=size, seed=0,
                                cell_radius=(8.0, 12.0))
    runs = []
    for count in sorted(args.memory_frames):
        movie = fresh(work / f"memory-frames-{count}")
        movie.mkdir(parents=True)
        for frame in range(count):
            (movie / f"t{frame:03d}.tif").symlink_to((root / "01" / f"t{frame:03d}.tif").resolve())
        out = fresh(work / f"memory-output-{count}")
        command = [sys.executable, str(script), str(movie), "--config-file", str(REPO / config), "--weights", weights,
                   "--output", str(out), "--device", args.device] + opts
        log(f"scale: track_video on {count} frames of {size}x{size}")
        rss, seconds, status = max_rss_of(command, work / f"memory-{count}.log")
        if status != 0:
            return {"not_measured": f"tools/track_video.py failed (exit {status}) on {count} frames; "
                                    f"see {work / f'memory-{count}.log'}", "command": " ".join(command)}
        runs.append({"frames": count, "peak_rss_mb": rss / 2**20, "seconds": seconds, "fps": count / seconds})
    short, long = runs[0], runs[-1]
    return {"runs": runs, "frame_size": [size, size], "model": note, "config_file": config,
            "growth_percent": 100 * (long["peak_rss_mb"] / short["peak_rss_mb"] - 1)}
