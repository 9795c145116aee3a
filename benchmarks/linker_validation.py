#!/usr/bin/env python
"""Where the linker's choices are made: tracker rules and the link models' penalty, on validation movies.

    python benchmarks/linker_validation.py [--config-file CONFIG] [--weights WEIGHTS] [--data ../shared/data] [--area-sums]
        [--lone-agreement] [--continue-scores]

The test movie (Fluo-N2DH-SIM+ 02) is never used. The validation movies are the ground-truth cells
(identities removed) of:

* ``SIM+ 01 [55:65]``: frames held back from every training step of the shipped model;
* ``SIM+ 01 dimmer``: all of SIM+ 01 under another acquisition -- the cells' signal above the
  background x0.55 and Gaussian noise 0.06 of the normalised range added (what ``CELLTRACK.AUGMENT``
  covers), so the visual head sees frames unlike its training data;
* ``SIM+ 01 every 2nd frame``: all of SIM+ 01 with cells moving twice as far between frames;
* ``GOWT1 01``: the other training movie (another cell type and microscope; TRA markers as cells);
* ``synthetic A`` / ``synthetic B``: movies of ``celltrack.data.synthetic`` at the nuclei's scale (radius
  14-22 px, 512x512, 60 frames, ~50 cells, ~30 divisions), B dimmer and faster; the only movies here that no
  part of the shipped model (detector, track head, link models) was trained on, so the ones that show
  whether the linker generalises (the heads are near perfect on their own training movies).

Each is linked by every tracker rule of the config, by the learned rule with link and division models
refitted on the ground truth of the config's DATASETS.TRAIN with each penalty of ``PENALTIES``, and by
the tuned laptrack; scored with py-ctcmetrics. The default rule and the fit's penalty
(``CELLTRACK.TRACKER.FIT_PENALTY``) are the best mean CT over the six movies; so are
``CELLTRACK.TRACKER.DIVISION_PERSISTENCE`` and ``RESCUE_THRESHOLD`` (the learned rule with the shipped link
models and each value of ``PERSISTENCES`` / ``RESCUES``; the other rows use the config's values).

Ground-truth cells have no false detections, so ``CELLTRACK.TRACKER.MIN_TRACK_LENGTH`` (which discards
short tracks: a detector's flickers) is chosen on the same six movies' cells as the config's detector finds
them (rows with ``"cells": "own"``; the config's tracker with each value of ``TRACK_LENGTHS``): the best mean
CT, ties to the shorter. So are ``MAX_GAP`` and ``FILL_GAPS`` (each pair of ``GAPS``, the other options the
config's; ties to the shorter gap, then to not filling): a detector misses cells that ground-truth cells never
lack. Own rows also carry SEG (filled gaps are masks). For reference (no choice), the IoU peer of the
benchmark links both kinds of cells (``IOU_ROWS``: CellTrack's tracker with the learned scores off and the
config's options; on own cells its track filter and gaps too). Writes benchmarks/linker_validation.json.

``--continue-scores`` chooses ``MIN_SCORE``, ``CONTINUE_SCORE`` and ``TEMPORAL_MASKS`` on the own cells of the six
movies and of SIM+ 01 at the acquisition ladder's dimmest rung (``choose_continue_score``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import tifffile
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import celltrack  # noqa: E402,F401
from baselines import baseline_linkers, iou_track_options, laptrack_options, link_laptrack, remove_identities  # noqa: E402
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.catalog import register_named_sequences  # noqa: E402
from celltrack.data.ctc import cut_ground_truth, load_ctc_sequence, read_lineage, write_lineage  # noqa: E402
from celltrack.data.mapper import photometric_augment  # noqa: E402
from celltrack.data.movie import read_frame  # noqa: E402
from celltrack.data.normalize import percentile_normalize  # noqa: E402
from celltrack.data.synthetic import make_synthetic_sequence  # noqa: E402
from celltrack.evaluation import evaluate_ctc  # noqa: E402
from celltrack.evaluation.evaluator import write_tracked_sequence  # noqa: E402
from celltrack.linker_trainer import collect_frames, displacement_statistics, fit_link_model  # noqa: E402
from celltrack.tracking.link_model import LINK_FEATURES, LinkModel  # noqa: E402
from celltrack.tracking.predictor import CellTrackPredictor, neighbouring  # noqa: E402
from celltrack.tracking.tracker import GIVEN_CELLS, METHODS, Tracker  # noqa: E402
from detectron2.data import DatasetCatalog  # noqa: E402

METRICS = ("DET", "TRA", "CT", "TF", "BC(2)", "CCA", "BIO(2)")
PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1)
PERSISTENCES = (0, 2, 3, 4)  # CELLTRACK.TRACKER.DIVISION_PERSISTENCE
RESCUES = (1.0, 0.2, 0.1, 0.05, 0.02)  # CELLTRACK.TRACKER.RESCUE_THRESHOLD (1.0: off)
TRACK_LENGTHS = (0, 2, 3, 4, 5, 7, 10)  # CELLTRACK.TRACKER.MIN_TRACK_LENGTH (0: off), on the detector's own cells
GAPS = ((0, False), (1, False), (2, False), (1, True), (2, True), (3, True))  # (MAX_GAP, FILL_GAPS), own cells
# (CELLTRACK.TRACKER.MIN_SCORE, CONTINUE_SCORE (1.0: off), TEMPORAL_MASKS), on the detector's own cells
CELL_OPTIONS = tuple((start, keep, temporal) for start in (0.2, 0.4) for keep in (1.0, 0.1) for temporal in (False, True))
AREA_SUMS = (0.0, 2.0, 1.5, 1.25)  # CELLTRACK.TRACKER.DIVISION_MAX_AREA_SUM (0: no bound)
MOTHER_IOUS = (0.0, 0.3)  # CELLTRACK.TRACKER.DIVISION_MOTHER_IOU, with each bound
BOUNDS = [(0.0, 0.0)] + [(bound, iou) for bound in AREA_SUMS[1:] for iou in MOTHER_IOUS]
DIMMER = dict(contrast=0.55, cell_contrast=(1.0, 1.0), cell_seed=0, gamma=1.0, offset=0.0, illumination=(0.0, 1.0, 0.0),
              blur_sigma=0.0, gaussian_noise=0.06, poisson_noise=0.0)


IOU_ROWS = {"gt": "iou (CellTrack's assignment)", "own": "iou (CellTrack's assignment, track filter and gaps)"}


def area_sum_name(bound: float, iou: float) -> str:
    if bound == 0:
        return "celltrack (learned, division area sum unbounded)"
    return f"celltrack (learned, division area sum <= {bound:g}{f' where a daughter has IoU >= {iou:g}' if iou else ''})"


def gap_name(max_gap: int, fill: bool) -> str:
    return f"celltrack (max gap {max_gap}{', filled' if fill else ''})"


def dimmer_movie(root: Path, out: Path, acquisition: dict = DIMMER) -> Path:
    """SIM+ 01 under another acquisition, ``DIMMER`` by default (same ground truth; per-cell contrast factors,
    if the acquisition has them, by TRA marker)."""
    (out / "01").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for path in sorted((root / "01").glob("t*.tif")):
        cells = read_frame(root / "01_GT" / "TRA" / f"man_track{path.stem[1:]}.tif", 0)
        image = photometric_augment(percentile_normalize(read_frame(path, 0)), acquisition, rng=rng, cells=cells)
        tifffile.imwrite(out / "01" / path.name, (image * 65535).astype(np.uint16))
    shutil.copytree(root / "01_GT", out / "01_GT")
    return out


def every_second_frame(root: Path, out: Path) -> Path:
    """SIM+ 01 frames 0, 2, 4, ... renumbered, with the lineage cut to the kept frames (a track seen in
    no kept frame is dropped and its daughters re-parented to its own parent)."""
    for folder in ("01", "01_GT/TRA", "01_GT/SEG"):
        (out / folder).mkdir(parents=True)
    kept = range(0, len(list((root / "01").glob("t*.tif"))), 2)
    for new, old in enumerate(kept):
        for folder, prefix in (("01", "t"), ("01_GT/TRA", "man_track"), ("01_GT/SEG", "man_seg")):
            source = root / folder / f"{prefix}{old:03d}.tif"
            if source.exists():
                shutil.copy(source, out / folder / f"{prefix}{new:03d}.tif")
    lineage = read_lineage(root / "01_GT" / "TRA" / "man_track.txt")
    parent_of = {int(track): int(parent) for track, _, _, parent in lineage}
    rows = {int(t): [int(t), (b + 1) // 2, e // 2, int(p)] for t, b, e, p in lineage if (b + 1) // 2 <= e // 2}
    for row in rows.values():
        while row[3] and row[3] not in rows:
            row[3] = parent_of.get(row[3], 0)
    write_lineage(out / "01_GT" / "TRA" / "man_track.txt", np.array(sorted(rows.values()), dtype=np.int64))
    return out


def ground_truth_cells(root: Path, sequence: str, frames: range) -> list:
    """Label images of every cell's TRA marker (the tracking ground truth; as ``sequences.gt_labels``),
    identities removed."""
    records = load_ctc_sequence(root, sequence, mask_source=("TRA",))
    result = []
    for frame in frames:
        record = records[frame]
        labels = np.zeros((record["height"], record["width"]), dtype=np.int32)
        for annotation in record["annotations"]:
            labels[mask_util.decode(annotation["segmentation"]).astype(bool)] = annotation["track_id"]
        result.append(remove_identities(labels, np.random.default_rng([0, frame])))
    return result


# The two synthetic movies' motion and acquisition (B: dimmer, noisier and faster).
SYNTHETIC_A = dict(speed=2.0, drift=(0.5, 0.3))
SYNTHETIC_B = dict(speed=3.0, drift=(0.0, 0.8), signal=(15.0, 45.0), noise=7.0)


def synthetic_movie(out: Path, seed: int, sequence: str = "01", num_frames: int = 60, **options) -> Path:
    """A ``celltrack.data.synthetic`` movie at the scale of the nuclei (``sequence`` under ``out``)."""
    make_synthetic_sequence(out, sequence, num_frames=num_frames, num_cells=30, height=512, width=512, seed=seed,
                            cell_radius=(14.0, 22.0), cell_cycle=(25, 70), **options)
    return out


def validation_movies(data: Path, work: Path) -> dict:
    """name -> (raw frames, GT cells, GT folder)."""
    sim = data / "Fluo-N2DH-SIM+"
    movies = {}
    for name, root, sequence, frames in (
        ("SIM+ 01 [55:65]", sim, "01", range(55, 65)),
        ("SIM+ 01 dimmer", dimmer_movie(sim, work / "dimmer"), "01", None),
        ("SIM+ 01 every 2nd frame", every_second_frame(sim, work / "every2"), "01", None),
        ("GOWT1 01", data / "Fluo-N2DH-GOWT1", "01", None),
        ("synthetic A", synthetic_movie(work / "synthetic-a", 11, **SYNTHETIC_A), "01", None),
        ("synthetic B", synthetic_movie(work / "synthetic-b", 12, **SYNTHETIC_B), "01", None),
    ):
        paths = sorted((root / sequence).glob("t*.tif"))
        frames = frames or range(len(paths))
        gt = (cut_ground_truth(root, sequence, frames.start, frames.stop, work / f"gt-{len(movies)}")
              if frames.start > 0 else root / f"{sequence}_GT")
        movies[name] = ([read_frame(paths[t], t) for t in frames], ground_truth_cells(root, sequence, frames), gt)
    return movies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", default="celltrack/model_zoo/CellTrack-R18-FPN-cpu/config.yaml")
    parser.add_argument("--weights", default="celltrack/model_zoo/CellTrack-R18-FPN-cpu/model_final.pth")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--summarise", action="store_true",
                        help="only redo the choices from the rows of benchmarks/linker_validation.json")
    parser.add_argument("--area-sums", action="store_true",
                        help="only choose DIVISION_MAX_AREA_SUM and DIVISION_MOTHER_IOU (rows for each of BOUNDS, on "
                             "both kinds of cells, the config's other options); writes "
                             "benchmarks/linker_validation_area_sum.json")
    parser.add_argument("--continue-scores", action="store_true",
                        help="only choose MIN_SCORE, CONTINUE_SCORE and TEMPORAL_MASKS (the detector's own cells of the six "
                             "movies and of SIM+ 01 at the acquisition ladder's dimmest rung, each of CELL_OPTIONS); writes "
                             "benchmarks/linker_validation_continue.json")
    parser.add_argument("--lone-agreement", action="store_true",
                        help="only choose whether the link model's lone_agreement counts (the config's link model as "
                             "fitted, and with that weight 0: the one-step fit); writes "
                             "benchmarks/linker_validation_lone.json")
    args = parser.parse_args()
    if args.summarise:
        return summarise(json.loads((HERE / "linker_validation.json").read_text())["rows"], args.config_file)
    cfg = get_celltrack_cfg(args.config_file, ["MODEL.WEIGHTS", args.weights, "CELLTRACK.DATA_ROOT", args.data])
    predictor = CellTrackPredictor(cfg)
    head = predictor.model.roi_heads.track_head
    if args.area_sums:
        return choose_area_sum(cfg, predictor, Path(args.data), args.config_file)
    if args.lone_agreement:
        return choose_lone_agreement(cfg, predictor, Path(args.data), args.config_file)
    if args.continue_scores:
        return choose_continue_score(cfg, Path(args.data), args.config_file)
    register_named_sequences(cfg.DATASETS.TRAIN, cfg)
    training = collect_frames(cfg, predictor.model, [r for name in cfg.DATASETS.TRAIN for r in DatasetCatalog.get(name)])
    statistics = displacement_statistics(training)
    linkers = {f"celltrack ({rule})": {"method": rule} for rule in METHODS}
    linkers.update({f"celltrack (learned, persistence {k})": {"method": "learned", "division_persistence": k}
                    for k in PERSISTENCES})
    linkers.update({f"celltrack (learned, rescue {r:g})": {"method": "learned", "rescue_threshold": r} for r in RESCUES})
    for penalty in PENALTIES:
        model, _ = fit_link_model(cfg, head, training, statistics, l2=penalty)
        linkers[f"celltrack (learned, refitted, l2 {penalty:g})"] = {"method": "learned", "link_model": model}
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        for movie, (images, labels, gt) in validation_movies(Path(args.data), work).items():
            cells = [predictor.segment(image, given)[1] for image, given in
                     tqdm(list(zip(images, labels)), desc=f"embedding {movie}")]
            own = [predictor.segment(image, None, around)[1]
                   for image, around in tqdm(neighbouring(images), total=len(images), desc=f"detecting {movie}")]
            runs = [(name, {**GIVEN_CELLS, **options}, cells, "gt") for name, options in linkers.items()]
            runs += [(f"celltrack (min track length {k})", {"min_track_length": k}, own, "own") for k in TRACK_LENGTHS]
            runs += [(gap_name(*gap), {"max_gap": gap[0], "fill_gaps": gap[1]}, own, "own") for gap in GAPS]
            rows += [run_row(cfg, predictor, movie, name, options, frames, kind, images, gt, work)
                     for name, options, frames, kind in runs]
            # The IoU peer (CellTrack's tracker, learned scores off), on both kinds of cells, with the config's
            # options: for reference, not a choice.
            config = cfg.CELLTRACK.TRACKER
            for name, frames, kind in ((IOU_ROWS["gt"], labels, "gt"), (IOU_ROWS["own"], [d.labels for d in own], "own")):
                iou = baseline_linkers(config.METHOD, config.ALPHA, config.DIVISION_PERSISTENCE, {}, "",
                                       **iou_track_options(config, kind == "gt"))[0]
                shutil.rmtree(work / "iou", ignore_errors=True)
                iou.link(frames, work / "iou")
                metrics = METRICS + (("SEG",) if kind == "own" else ())
                rows.append({"movie": movie, "method": name, "cells": kind, **evaluate_ctc(work / "iou", gt, metrics=metrics)})
                print({k: rows[-1][k] for k in ("movie", "method", *METRICS, "divisions")}, flush=True)
            shutil.rmtree(work / "laptrack", ignore_errors=True)
            link_laptrack(labels, work / "laptrack", **laptrack_options()[0])
            rows.append({"movie": movie, "method": "laptrack (tuned on SIM+ 01)", "cells": "gt",
                         **evaluate_ctc(work / "laptrack", gt, metrics=METRICS)})
            print({k: rows[-1][k] for k in ("movie", "method", *METRICS, "divisions")}, flush=True)
    summarise(rows, args.config_file)


def run_row(cfg, predictor, movie: str, name: str, options: dict, frames: list, kind: str, images: list, gt: Path,
            work: Path) -> dict:
    """One tracker on one movie's cells, scored (the own cells' masks: SEG too)."""
    tracker = Tracker(cfg, similarity=predictor.similarity, **options)
    out = work / "result"
    shutil.rmtree(out, ignore_errors=True)
    write_tracked_sequence(frames, tracker, out, images[0].shape, len(images))
    metrics = METRICS + (("SEG",) if kind == "own" else ())
    row = {"movie": movie, "method": name, "cells": kind, **evaluate_ctc(out, gt, metrics=metrics)}
    print({k: row[k] for k in ("movie", "method", "cells", *METRICS, "divisions")}, flush=True)
    return row


def movie_cells(predictor, data: Path, work: Path):
    """Each validation movie as (name, frames, GT folder, its ground-truth cells embedded, the detector's cells)."""
    for movie, (images, labels, gt) in validation_movies(data, work).items():
        cells = [predictor.segment(image, given)[1] for image, given in
                 tqdm(list(zip(images, labels)), desc=f"embedding {movie}")]
        own = [predictor.segment(image, None, around)[1]
               for image, around in tqdm(neighbouring(images), total=len(images), desc=f"detecting {movie}")]
        yield movie, images, gt, cells, own


def choose_area_sum(cfg, predictor, data: Path, config_file: str) -> None:
    """``--area-sums``: the learned rule with each (area sum, mother IoU) of ``BOUNDS`` on the six movies'
    ground-truth and own cells. Chosen: the best mean CT on ground-truth cells (ties: no bound, then the
    looser: larger area sum, higher IoU), as for the persistence and the rescue; the own cells' means are
    recorded beside it."""
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        for movie, images, gt, cells, own in movie_cells(predictor, data, work):
            for bound, iou in BOUNDS:
                name = area_sum_name(bound, iou)
                options = {"division_max_area_sum": bound if bound > 0 else np.inf, "division_mother_iou": iou}
                rows.append(run_row(cfg, predictor, movie, name, {**GIVEN_CELLS, **options}, cells, "gt", images, gt,
                                    work))
                rows.append(run_row(cfg, predictor, movie, name, options, own, "own", images, gt, work))
    means = {kind: {area_sum_name(*b): {m: float(np.mean([r[m] for r in rows if r["method"] == area_sum_name(*b)
                                                          and r["cells"] == kind])) for m in ("DET", "TRA", "CT", "BC(2)")}
                    for b in BOUNDS} for kind in ("gt", "own")}
    best = max(BOUNDS, key=lambda b: (round(means["gt"][area_sum_name(*b)]["CT"], 4), b[0] == 0, b[0], b[1]))
    result = {"command": "python benchmarks/linker_validation.py --area-sums", "config_file": config_file,
              "movies": sorted({r["movie"] for r in rows}), "means": means,
              "chosen_division_max_area_sum": best[0], "chosen_division_mother_iou": best[1],
              "rule": "best mean CT on the ground-truth cells of the six movies; ties: no bound, then the looser "
                      "(larger area sum, higher IoU)", "rows": rows}
    (HERE / "linker_validation_area_sum.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"means: {json.dumps(means, indent=1)}\nchosen DIVISION_MAX_AREA_SUM {best[0]}, DIVISION_MOTHER_IOU {best[1]}; "
          f"wrote {HERE / 'linker_validation_area_sum.json'}")


def choose_lone_agreement(cfg, predictor, data: Path, config_file: str) -> None:
    """``--lone-agreement``: the learned rule with the config's link model, and with its ``lone_agreement`` weight
    set to 0 (exactly the link model fitted without that feature: the two-step fit's first step), on the six
    movies' ground-truth and own cells. Chosen: the best mean CT on ground-truth cells (ties: off); the own
    cells' means (CT + TRA, as for the other own-cell choices) are recorded beside it."""
    fitted = LinkModel.from_config(cfg)
    weights = list(fitted.link_weights)
    weights[LINK_FEATURES.index("lone_agreement")] = 0.0
    models = {"celltrack (learned, lone agreement fitted)": fitted,
              "celltrack (learned, lone agreement off)": dataclasses.replace(fitted, link_weights=tuple(weights))}
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        for movie, images, gt, cells, own in movie_cells(predictor, data, work):
            for name, model in models.items():
                rows.append(run_row(cfg, predictor, movie, name, {**GIVEN_CELLS, "link_model": model}, cells, "gt",
                                    images, gt, work))
                rows.append(run_row(cfg, predictor, movie, name, {"link_model": model}, own, "own", images, gt, work))
    means = {kind: {name: {m: float(np.mean([r[m] for r in rows if r["method"] == name and r["cells"] == kind]))
                           for m in ("DET", "TRA", "CT", "BC(2)")} for name in models} for kind in ("gt", "own")}
    names = list(models)
    best = max(names, key=lambda name: (round(means["gt"][name]["CT"], 4), name == names[1]))
    result = {"command": "python benchmarks/linker_validation.py --lone-agreement", "config_file": config_file,
              "link_weights": dict(zip(LINK_FEATURES + ("bias",), fitted.link_weights)),
              "movies": sorted({r["movie"] for r in rows}), "means": means, "chosen": best,
              "rule": "best mean CT on the ground-truth cells of the six movies; ties: off", "rows": rows}
    (HERE / "linker_validation_lone.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"means: {json.dumps(means, indent=1)}\nchosen: {best}; wrote {HERE / 'linker_validation_lone.json'}")


def cell_options_name(start: float, keep: float, temporal: bool) -> str:
    return (f"celltrack (min score {start:g}, continue score {'off' if keep >= start else f'{keep:g}'}, temporal masks "
            f"{'on' if temporal else 'off'})")


def choose_continue_score(cfg, data: Path, config_file: str) -> None:
    """``--continue-scores``: the config's tracker on the detector's own cells with each (MIN_SCORE, CONTINUE_SCORE,
    TEMPORAL_MASKS) of ``CELL_OPTIONS`` (cells scored from CONTINUE_SCORE up to MIN_SCORE may only continue a track;
    masks voted with the frames before and after), on the six movies and on SIM+ 01 under the acquisition
    ladder's dimmest rung (nuclei at 0.1-0.2 of their contrast: what the options are for). Each frame is
    detected once down to the lowest score; each setting keeps the cells scored at least the lower of its two,
    then one detection per nucleus and the spatial embeddings among those kept, as the predictor does. Chosen:
    the best mean SEG + TRA + CT over the seven movies (the options change masks as well as tracks; ties: the
    config's MIN_SCORE, then continuing off, then temporal masks off, then the higher scores)."""
    from acquisition_ladder import LADDER

    cfg = cfg.clone()
    cfg.defrost()
    cfg.CELLTRACK.TRACKER.CONTINUE_SCORE = min(min(option[:2]) for option in CELL_OPTIONS)
    predictor = CellTrackPredictor(cfg)
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        movies = validation_movies(data, work)
        sim = data / "Fluo-N2DH-SIM+"
        dimmest = dimmer_movie(sim, work / "dimmest", LADDER[-1][1])
        paths = sorted((dimmest / "01").glob("t*.tif"))
        movies["SIM+ 01 dimmest"] = ([read_frame(path, t) for t, path in enumerate(paths)], None, dimmest / "01_GT")
        for movie, (images, _, gt) in movies.items():
            detected = [predictor.detect(image, around)
                        for image, around in tqdm(neighbouring(images), total=len(images), desc=f"detecting {movie}")]
            for least in sorted({min(start, keep) for start, keep, _ in CELL_OPTIONS}):
                own = [predictor.kept_cells(cells[cells.scores >= least], image.shape)[1]
                       for cells, image in zip(detected, images)]
                for start, keep, temporal in CELL_OPTIONS:
                    if min(start, keep) == least:
                        rows.append(run_row(cfg, predictor, movie, cell_options_name(start, keep, temporal),
                                            {"min_score": start, "temporal_masks": temporal}, own, "own", images, gt, work))
    names = list(dict.fromkeys(r["method"] for r in rows))
    means = {name: {m: float(np.mean([r[m] for r in rows if r["method"] == name])) for m in ("SEG", "DET", "TRA", "CT")}
             for name in names}
    shipped = cfg.CELLTRACK.TRACKER.MIN_SCORE

    def rank(option):
        mean = means[cell_options_name(*option)]
        return round(mean["SEG"] + mean["TRA"] + mean["CT"], 4), option[0] == shipped, option[1] >= option[0], not option[2], option

    best = max(CELL_OPTIONS, key=rank)
    result = {"command": "python benchmarks/linker_validation.py --continue-scores", "config_file": config_file,
              "movies": list(dict.fromkeys(r["movie"] for r in rows)), "means": means, "chosen": cell_options_name(*best),
              "chosen_min_score": best[0], "chosen_continue_score": best[1], "chosen_temporal_masks": best[2],
              "rule": "best mean SEG + TRA + CT on the detector's own cells of the seven movies; ties: the config's "
                      "MIN_SCORE, then continuing off, then temporal masks off, then the higher scores",
              "rows": rows}
    (HERE / "linker_validation_continue.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"means: {json.dumps(means, indent=1)}\nchosen: {cell_options_name(*best)}; wrote {HERE / 'linker_validation_continue.json'}")


def summarise(rows: list, config_file: str) -> None:
    """The choices from the rows (mean CT over the six movies; own cells: mean CT + TRA); writes the JSON."""
    methods = {r["method"] for r in rows}
    mean_ct = {name: float(np.mean([r["CT"] for r in rows if r["method"] == name])) for name in methods}
    own_means = {name: {m: float(np.mean([r[m] for r in rows if r["method"] == name])) for m in ("SEG", "DET", "TRA", "CT")}
                 for name in methods if {r["cells"] for r in rows if r["method"] == name} == {"own"}}
    best_penalty = max(PENALTIES, key=lambda p: mean_ct[f"celltrack (learned, refitted, l2 {p:g})"])
    best_rule = max(METHODS, key=lambda rule: mean_ct[f"celltrack ({rule})"])
    # Ties go to the shorter probation (outputs lag it by k - 1 frames).
    best_persistence = max(PERSISTENCES, key=lambda k: (round(mean_ct[f"celltrack (learned, persistence {k})"], 4), -k))
    # Ties go to the higher threshold (fewer links made on weak evidence).
    best_rescue = max(RESCUES, key=lambda r: (round(mean_ct[f"celltrack (learned, rescue {r:g})"], 4), r))
    # On own cells a choice also drops or adds cells, so it is judged by mean CT + TRA (CT alone favours
    # discarding ever more short tracks, real cells among them). Ties go to the shorter (fewer cells
    # discarded, outputs lag it by k - 1 frames); for gaps to the shorter gap, then to not filling.
    def own_score(name: str) -> float:
        return round(own_means[name]["CT"] + own_means[name]["TRA"], 4)

    best_length = max(TRACK_LENGTHS, key=lambda k: (own_score(f"celltrack (min track length {k})"), -k))
    best_gap = max(GAPS, key=lambda g: (own_score(gap_name(*g)), -g[0], not g[1]))
    result = {"command": "python benchmarks/linker_validation.py", "config_file": config_file,
              "movies": sorted({r["movie"] for r in rows}), "mean_CT": mean_ct, "chosen_l2": best_penalty,
              "chosen_rule": best_rule, "chosen_division_persistence": best_persistence,
              "chosen_rescue_threshold": best_rescue, "own_cells_means": own_means,
              "chosen_min_track_length": best_length, "chosen_max_gap": best_gap[0], "chosen_fill_gaps": best_gap[1],
              "rows": rows}
    (HERE / "linker_validation.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"mean CT: {json.dumps(mean_ct, indent=1)}\nchosen l2 {best_penalty}, rule {best_rule}, "
          f"division persistence {best_persistence}, rescue threshold {best_rescue}, min track length {best_length}, "
          f"max gap {best_gap[0]} (fill gaps {best_gap[1]}); "
          f"wrote {HERE / 'linker_validation.json'}")


if __name__ == "__main__":
    main()
