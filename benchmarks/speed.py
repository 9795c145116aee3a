"""The speed section: frames/s against the same Mask R-CNN, training images/s with and without the track head,
and many movies tracked by 1 and 2 processes (issue 14)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch

from accuracy import cache_key
from celltrack.config import get_celltrack_cfg
from celltrack.data import make_synthetic_sequence, read_frame
from celltrack.data.ctc import RAW_PATTERN
from celltrack.data.movie import numbered_files
from celltrack.tracking.frame_loop import track_frames
from celltrack.tracking.predictor import CellTrackPredictor, neighbouring
from common import REPO, fresh, log, track_video
from variants import Model, build_models, missing_weights, model_cfg
from detectron2.modeling import build_model  # noqa: I001  (after celltrack: its compat shims come first)


def sim_or_synthetic(folder: Path, fallback: Path, height: int, width: int, **options) -> Tuple[Path, str]:
    """A Fluo-N2DH-SIM+ sequence ``folder``, else a synthetic one of that size (made once at ``fallback``), and
    where the frames come from."""
    if folder.is_dir():
        return folder, str(folder)
    if not fallback.is_dir():
        make_synthetic_sequence(fallback.parent, fallback.name, height=height, width=width, seed=0,
                                cell_radius=(20.0, 30.0), **options)
    return fallback, f"synthetic {height}x{width} (SIM+ data not found)"


def speed_frames(data: Path, work: Path, count: int) -> Tuple[List[np.ndarray], str]:
    """Frames at Fluo-N2DH-SIM+ size: its first ``count`` frames of sequence 02, else synthetic ones."""
    folder, source = sim_or_synthetic(data / "Fluo-N2DH-SIM+" / "02", work / "speed-movie" / "01", 773, 739,
                                      num_frames=count, num_cells=40)
    frames = numbered_files(folder, RAW_PATTERN)
    return [read_frame(frames[t], t) for t in sorted(frames)[:count]], source


def plain_mask_rcnn(cfg, celltrack_model: torch.nn.Module) -> torch.nn.Module:
    """The same Mask R-CNN with the same weights, without the track head (and without a tracker)."""
    plain_cfg = cfg.clone()
    plain_cfg.defrost()
    plain_cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    plain_cfg.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    model = build_model(plain_cfg)
    missing, unexpected = model.load_state_dict(celltrack_model.state_dict(), strict=False)
    if missing or any(not key.startswith("roi_heads.track_head.") for key in unexpected):
        raise RuntimeError(f"plain Mask R-CNN does not match CellTrack's weights: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    return model.eval()


def measure_inference(args, data: Path, work: Path) -> dict:
    """Frames/s of CellTrack (detection + embeddings + tracker) vs the same Mask R-CNN, interleaved per frame."""
    model = build_models(args)["main"]
    trained = missing_weights(model) is None
    cfg = model_cfg(args, model if trained else Model("main", args.config_file))  # untrained: MODEL.WEIGHTS ""
    if not trained:
        log(f"speed: {missing_weights(model)}; timing an untrained model (speed only)")
    torch.manual_seed(0)
    predictor = CellTrackPredictor(cfg, model=None if trained else build_model(cfg))
    plain = plain_mask_rcnn(cfg, predictor.model)
    frames, source = speed_frames(data, work, args.speed_frames + 1)
    plain_times, segment_times, timings, last = [], [], {"linking": 0.0}, {}

    @torch.no_grad()
    def segment(image, neighbours):  # the plain Mask R-CNN, then CellTrack (with its temporal smoothing), on the same frame
        inputs = predictor.model_input(image)
        start = time.perf_counter()
        cells = plain.inference([inputs])[0]["instances"].to("cpu")
        cells = cells[cells.scores >= predictor.min_score]
        middle = time.perf_counter()
        tracked = predictor.segment(image, None, neighbours)
        plain_times.append(middle - start)
        segment_times.append(time.perf_counter() - middle)
        last["cells"] = len(tracked[0])
        return tracked

    track_frames(neighbouring(frames), segment, predictor.make_tracker(), timings=timings)
    # CellTrack's time per frame: detection + embeddings + the tracker's mean time per frame (a frame's output
    # waits Tracker.lag frames, so the tracker's time is not split by frame); the first frame warms up both models.
    linking_s = timings["linking"] / len(frames)
    celltrack_times = np.array(segment_times)[1:] + linking_s
    plain_times = plain_times[1:]
    plain_s, celltrack_s = float(np.median(plain_times)), float(np.median(celltrack_times))
    return {
        "frames": len(plain_times), "frame_size": list(frames[0].shape), "source": source,
        "weights": model.weights if trained else None, "trained_weights": trained, "device": args.device,
        "torch_threads": torch.get_num_threads(), "cells_last_frame": last["cells"],
        "maskrcnn_seconds_per_frame": plain_s, "celltrack_seconds_per_frame": celltrack_s,
        "maskrcnn_fps": 1 / plain_s, "celltrack_fps": 1 / celltrack_s,
        "overhead_percent": 100 * (celltrack_s / plain_s - 1),
        "celltrack_linking_ms_per_frame": 1e3 * linking_s,
    }


def measure_training(args, data: Path, work: Path) -> dict:
    """Training images/s with and without the track head (same config, data, seed; both frames of a pair count)."""
    from detectron2.data import DatasetCatalog, build_detection_train_loader
    from detectron2.engine import SimpleTrainer
    from detectron2.solver import build_optimizer
    from detectron2.utils.events import EventStorage

    from celltrack.data import PairedFrameMapper, register_ctc_dataset

    folder, source = sim_or_synthetic(data / "Fluo-N2DH-SIM+" / "01", work / "train-movie" / "Synthetic" / "01", 512,
                                      512, num_frames=8, num_cells=30)
    root = folder.parent
    name = f"benchmark-train-{cache_key(root)}"
    if name not in DatasetCatalog.list():
        register_ctc_dataset(name, root, sequences=["01"])
    measured = {"source": source, "iterations": args.train_iters, "warmup_iterations": 2}
    for label, extra in (("with_track_head", []), ("without_track_head", ["MODEL.ROI_HEADS.NAME", "StandardROIHeads"])):
        cfg = get_celltrack_cfg(str(REPO / args.config_file),
                                ["MODEL.DEVICE", args.device, "DATASETS.TRAIN", (name,), "MODEL.WEIGHTS", ""] + extra)
        torch.manual_seed(cfg.SEED if cfg.SEED >= 0 else 0)
        np.random.seed(0)
        model = build_model(cfg)
        model.train()
        trainer = SimpleTrainer(model, build_detection_train_loader(cfg, mapper=PairedFrameMapper(cfg, is_train=True)),
                                build_optimizer(cfg, model))
        times = []
        with EventStorage(0) as storage:
            trainer.storage = storage
            for iteration in range(args.train_iters + 2):
                storage.iter = trainer.iter = iteration
                start = time.perf_counter()
                trainer.run_step()
                if iteration >= 2:
                    times.append(time.perf_counter() - start)
        images = 2 * cfg.SOLVER.IMS_PER_BATCH  # each input is a (t-1, t) pair: both frames go through the model
        step = float(np.median(times))
        measured[label] = {"seconds_per_iteration": step, "images_per_second": images / step,
                           "pairs_per_second": cfg.SOLVER.IMS_PER_BATCH / step}
        del trainer, model
    measured["overhead_percent"] = 100 * (measured["with_track_head"]["seconds_per_iteration"]
                                          / measured["without_track_head"]["seconds_per_iteration"] - 1)
    return measured


# Timing fields of track_video's summary.json: the only fields allowed to differ between two runs.
TIMING_KEYS = ("seconds_per_frame", "wall_seconds_this_run", "processes")


def _without_timings(value):
    if isinstance(value, dict):
        return {key: _without_timings(item) for key, item in value.items() if key not in TIMING_KEYS}
    return value


def _outputs(folder: Path) -> dict:
    """{relative path: bytes} of every file under ``folder``; summary.json files without their timing fields."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name == "summary.json":
            data = json.dumps(_without_timings(json.loads(data)), sort_keys=True).encode()
        found[str(path.relative_to(folder))] = data
    return found


def measure_sharding(args, work: Path) -> dict:
    """Issue 14: tools/track_video.py on 4 synthetic movies, in 1 process and in 2 (``--num-gpus 2``: gloo
    processes on CPU); wall times, and whether every output file is byte-identical (summary.json files
    compared without their timing fields and process count). The cells are the movies' GT masks
    (``--masks``), linked by the shipped model, so that the run stays short on 2 CPU cores."""
    movies, masks = work / "sharding-movies", work / "sharding-masks"
    names = [f"{index:02d}" for index in range(1, 5)]
    if not all((movies / name / "t011.tif").is_file() for name in names):
        fresh(movies), fresh(masks)
        for index, name in enumerate(names):
            make_synthetic_sequence(movies, name, num_frames=12, num_cells=10, height=160, width=160, seed=index)
            (masks / name).mkdir(parents=True)
            for frame in sorted((movies / f"{name}_GT" / "SEG").glob("man_seg*.tif")):
                (masks / name / f"t{frame.stem[len('man_seg'):]}.tif").symlink_to(frame.resolve())
    runs, outputs = {}, {}
    for processes in (1, 2):
        out = fresh(work / f"sharding-output-{processes}")
        log(f"speed: track_video on {len(names)} movies, {processes} process(es)")
        _, runs[processes], status, command = track_video(
            [str(movies), "--masks", str(masks), "--output", str(out), "--config-file", str(REPO / args.config_file),
             "--weights", str(REPO / args.weights), "--device", args.device, "--num-gpus", str(processes)],
            work / f"sharding-{processes}.log")
        if status != 0:
            return {"not_measured": f"tools/track_video.py failed (exit {status}) with {processes} process(es); "
                                    f"see {work / f'sharding-{processes}.log'}", "command": " ".join(command)}
        outputs[processes] = _outputs(out)
    differing = sorted(path for path in set(outputs[1]) | set(outputs[2]) if outputs[1].get(path) != outputs[2].get(path))
    return {"movies": len(names), "frames_per_movie": 12, "frame_size": [160, 160], "cells": "GT masks, --masks",
            "files_compared": len(outputs[1]), "identical_outputs": not differing, "differing_files": differing,
            "one_process_wall_seconds": runs[1], "two_processes_wall_seconds": runs[2],
            "speedup": runs[1] / runs[2], "command": "python tools/track_video.py MOVIES --masks MASKS --num-gpus 2"}
