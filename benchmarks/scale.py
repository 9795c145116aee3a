"""The scale section: linker time against the number of cells, and peak memory against movie length."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from celltrack.config import get_celltrack_cfg
from celltrack.data import make_synthetic_sequence
from celltrack.tracking.benchmark import benchmark_linker, timing_link_model
from celltrack.tracking.link_model import LinkModel
from celltrack.tracking.tracker import Tracker
from common import REPO, fresh, log, track_video
from variants import DEFAULT_RULE, build_models, missing_weights

RULES = ("learned", "global", "paper")


def measure_linker(args) -> dict:
    """Linker ms/frame vs cells for each rule (the default is "learned"; the median of ``args.linker_repeats``
    runs of each movie), and the fitted exponent of the growth, on the synthetic movies of
    ``celltrack.tracking.benchmark``: "learned" with the shipped config's fitted ``LinkModel`` when there is
    one, else ``timing_link_model``'s hand-set one. Each row's
    ``divisions`` shows how a rule links the movie. Every rule with the config's DIVISION_PERSISTENCE,
    MIN_TRACK_LENGTH, MAX_GAP and FILL_GAPS, "learned" with its RESCUE_THRESHOLD, DIVISION_MAX_AREA_SUM and
    DIVISION_MOTHER_IOU."""
    link_model, cfg = timing_link_model(), get_celltrack_cfg()
    weights = "timing_link_model's hand-set weights"
    config_file = getattr(args, "config_file", None)
    if config_file and (REPO / config_file).is_file():  # the shipped model's fitted weights, when there are some
        cfg = get_celltrack_cfg(str(REPO / config_file))
        fitted = LinkModel.from_config(cfg)
        if fitted is not None:
            link_model, weights = fitted, f"the fitted weights of {config_file}"
    config = Tracker.from_config(cfg)  # the config's options as the Tracker reads them (0 = no bound: inf)
    rescue = config["rescue_threshold"]
    options = {key: config[key] for key in ("division_persistence", "min_track_length", "max_gap", "fill_gaps",
                                            "division_max_area_sum", "division_mother_iou")}
    rows, repeats = [], max(1, getattr(args, "linker_repeats", 1))
    benchmark_linker(10, num_frames=3, method="learned", link_model=link_model)  # warm-up (first calls), not timed
    for method in RULES:
        for cells in args.linker_cells:
            runs = [benchmark_linker(cells, num_frames=args.linker_frames, method=method,
                                     link_model=link_model if method == "learned" else None,
                                     rescue_threshold=rescue, **options) for _ in range(repeats)]
            times = [run["ms_per_frame"] for run in runs]
            rows.append({"method": method, "num_cells": cells, "ms_per_frame": float(np.median(times)),
                         "runs_ms_per_frame": times, "max_ms": max(run["max_ms"] for run in runs),
                         "divisions": int(runs[0]["divisions"])})
            log(f"scale: linker {method:7s} {cells:5d} cells: {np.median(times):.2f} ms/frame "
                f"(median of {repeats}: {min(times):.2f}-{max(times):.2f})")
    exponents = {}
    for method in RULES:
        points = [(row["num_cells"], row["ms_per_frame"]) for row in rows if row["method"] == method and row["num_cells"] >= 100]
        if len(points) >= 2:
            n, ms = np.log(np.array(points)).T
            exponents[method] = {"fit_100_and_up": float(np.polyfit(n, ms, 1)[0]),
                                 "last_two": float((ms[-1] - ms[-2]) / (n[-1] - n[-2]))}
    return {"frames": args.linker_frames, "rows": rows, "exponent": exponents, "default": DEFAULT_RULE[1],
            "learned_weights": {"link": list(link_model.link_weights), "division": list(link_model.division_weights),
                                "displacement_scale": link_model.displacement_scale},
            "repeats": repeats,
            "note": f"ms/frame: the median of {repeats} runs of each movie (runs_ms_per_frame: each run's mean); "
                    "ms/frame = k * cells^exponent fitted on a log-log scale; 1 = linear, n log n fits ~1.1; "
                    f"'learned' with {weights} and RESCUE_THRESHOLD {rescue}; every rule with "
                    + ", ".join(f"{key.upper()} {value}" for key, value in options.items())}


def measure_memory(args, work: Path) -> dict:
    """Peak memory of tools/track_video.py on a long and a short synthetic movie (separate processes)."""
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
    longest, size = max(args.memory_frames), args.memory_size
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
        log(f"scale: track_video on {count} frames of {size}x{size}")
        rss, seconds, status, command = track_video(
            [str(movie), "--config-file", str(REPO / config), "--weights", weights, "--output", str(out), "--device",
             args.device] + opts, work / f"memory-{count}.log")
        if status != 0:
            return {"not_measured": f"tools/track_video.py failed (exit {status}) on {count} frames; "
                                    f"see {work / f'memory-{count}.log'}", "command": " ".join(command)}
        runs.append({"frames": count, "peak_rss_mb": rss / 2**20, "seconds": seconds, "fps": count / seconds})
    short, long = runs[0], runs[-1]
    return {"runs": runs, "frame_size": [size, size], "model": note, "config_file": config,
            "growth_percent": 100 * (long["peak_rss_mb"] / short["peak_rss_mb"] - 1)}
