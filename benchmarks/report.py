"""RESULTS.md and the plots, generated from results.json (``benchmarks/run.py`` calls :func:`write_report`).

Regenerate without rerunning anything: ``python benchmarks/report.py [benchmarks/results.json]``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

# Columns of the accuracy tables: py-ctcmetrics' keys.
COLUMNS = ("SEG", "DET", "TRA", "LNK", "CT", "TF", "BC(2)", "CCA", "BIO(2)")
PLOTTED = ("SEG", "DET", "TRA", "CT", "BC(2)", "BIO(2)")
SIM, GOWT1, SIM01 = ("Fluo-N2DH-SIM+", "02"), ("Fluo-N2DH-GOWT1", "01"), ("Fluo-N2DH-SIM+", "01")
# The tracker rule of the default configuration (the shipped model's CELLTRACK.TRACKER.METHOD): the
# ``celltrack`` rows use it, and the linker's speed targets apply to it.
DEFAULT_RULE = "learned"
# Linker rules in the scale section's table and plot, the default first.
LINKER_RULES = ("learned", "global", "paper")
# Issue 10's speed target: seconds per frame of the shipped model on a frame of Fluo-N2DH-SIM+ 02's size (H, W).
SPEED_FRAME, MAX_SECONDS_PER_FRAME = (773, 739), 1.5


def _number(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _rows(results: dict, dataset: str, sequence: str, uses_gt_masks: Optional[bool] = None) -> List[dict]:
    return [row for row in results.get("accuracy", []) if row["dataset"] == dataset and row["sequence"] == sequence
            and (uses_gt_masks is None or row["uses_gt_masks"] == uses_gt_masks)]


def _training_data(results: dict, dataset: str, sequence: str) -> bool:
    """Whether the sequence's rows say the evaluated model was trained (or laptrack tuned) on it."""
    return any(row.get("training_data") for row in _rows(results, dataset, sequence))


def _name(results: dict, dataset: str, sequence: str, short: Optional[str] = None) -> str:
    """``"<dataset> <NN>"`` (or ``short``), with " (training data)" where the rows are marked so."""
    marker = " (training data)" if _training_data(results, dataset, sequence) else ""
    return (short or f"{dataset} {sequence}") + marker


def _row(results: dict, dataset_sequence, method: str, uses_gt_masks: bool) -> Optional[dict]:
    return next((row for row in _rows(results, *dataset_sequence, uses_gt_masks)
                 if row["method"] == method and "skipped" not in row), None)


# ------------------------------------------------------------------------------------------- targets
def _other_segmentations(results: dict, dataset_sequence) -> List[dict]:
    """The rows on cells that are not CellTrack's own (e.g. classical+laptrack); ValueError when there are none."""
    rows = [row for row in _rows(results, *dataset_sequence, False)
            if "skipped" not in row and row.get("cells") not in ("celltrack", "gt")]
    if not rows:
        raise ValueError("no row of another segmentation")
    return rows


def _division_tolerance(truth: int) -> int:
    """How far a predicted division count may be from the truth's ``truth``: ±30 %, or ±3 below 10 divisions."""
    return 3 if truth < 10 else 3 * truth // 10  # in integers: counts are, and no rounding at the edge


def _link_costs(row: dict) -> str:
    """What TRA charges for links, as shares of its normaliser AOGM_0: wrong or mislabelled links (ED + EC, the
    linker's errors) and missing links (1.5 EA: also every link of a cell the detector missed or merged with a
    neighbour). "" without the AOGM counts."""
    if not all(row.get(key) is not None for key in ("AOGM_0", "AOGM_ED", "AOGM_EC", "AOGM_EA")) or not row["AOGM_0"]:
        return ""
    wrong, missing = (row["AOGM_ED"] + row["AOGM_EC"]) / row["AOGM_0"], 1.5 * row["AOGM_EA"] / row["AOGM_0"]
    return f" (TRA's link costs: wrong links {wrong:.4f}, missing links {missing:.4f})"


def targets(results: dict) -> List[dict]:
    """Issue 10's (detection), 11's (linking) and 14's (many movies) targets, each {"target", "measured",
    "met"} (met None when not measured). "celltrack" is the default configuration (DEFAULT_RULE); "own
    detections" are CellTrack's (``uses_gt_masks`` false), "GT masks" the linking-only rows."""
    checks: List[dict] = []

    def check(target: str, measured: Callable[[], Optional[str]], met: Callable[[], Optional[bool]]) -> None:
        try:
            checks.append({"target": target, "measured": measured(), "met": met()})
        except (TypeError, KeyError, ValueError):  # a row or value this run did not produce
            checks.append({"target": target, "measured": "not measured", "met": None})

    def above(target: str, row: Optional[dict], key: str, bound: Optional[float], peers=lambda: ()) -> None:
        """``row[key]`` at least ``bound`` (if any) and above ``key`` of every row ``peers()`` gives."""
        check(target, lambda: _number(row[key]) + (" (" + ", ".join(f"{peer['method']} {_number(peer[key])}"
                                                                   for peer in peers()) + ")" if peers() else ""),
              lambda: (bound is None or row[key] >= bound) and all(row[key] > peer[key] for peer in peers()))

    name = {key: _name(results, *key, short)
            for key, short in ((SIM, "SIM+ 02"), (GOWT1, "GOWT1 01"), (SIM01, "SIM+ 01"))}
    own = {key: _row(results, key, "celltrack", False) for key in name}
    linking = {key: _row(results, key, "celltrack", True) for key in (SIM, GOWT1)}
    peers = {key: [_row(results, key, method, True) for method in ("iou", "laptrack")] for key in (SIM, GOWT1)}

    # Issue 10: detection (CellTrack's own cells, default configuration).
    for key, bound in (("DET", 0.93), ("SEG", 0.70), ("TRA", 0.92)):
        above(f"#10 {name[SIM]}, own detections: {key} >= {bound:.2f}, above every other segmentation's row",
              own[SIM], key, bound, lambda: _other_segmentations(results, SIM))
    for where, key, bound in ((GOWT1, "DET", 0.96), (GOWT1, "SEG", 0.80), (SIM01, "DET", 0.98)):
        above(f"#10 {name[where]}, own detections: {key} >= {bound:.2f}", own[where], key, bound)
    inference = results.get("speed", {}).get("inference", {})
    check(f"#10 speed: the shipped model, one {SPEED_FRAME[0]}x{SPEED_FRAME[1]} frame (SIM+ 02) <= "
          f"{MAX_SECONDS_PER_FRAME:g} s (detection + track head + tracker)",
          lambda: (f"{inference['celltrack_seconds_per_frame']:.2f} s on {inference['frame_size'][0]}x"
                   f"{inference['frame_size'][1]}, {inference['device']}, {inference.get('weights')}"
                   + ("" if inference["trained_weights"] else " (untrained weights: not the shipped model)")),
          lambda: (inference["celltrack_seconds_per_frame"] <= MAX_SECONDS_PER_FRAME
                   if inference["trained_weights"] and tuple(inference["frame_size"]) == SPEED_FRAME else None))

    # Issue 11: linking.
    for key, bound in (("CT", 0.90), ("BC(2)", 0.92), ("BIO(2)", 0.92)):
        above(f"#11 {name[SIM]}, GT masks: celltrack {key} >= {bound:.2f}, above iou and laptrack", linking[SIM], key,
              bound, lambda: peers[SIM])
    ablation = _row(results, SIM, "celltrack-no-spatial-head", True)
    check(f"#11 {name[SIM]}, GT masks: both heads beat the visual head alone (celltrack-no-spatial-head) by >= 0.02 CT",
          lambda: f"{_number(linking[SIM]['CT'])} vs {_number(ablation['CT'])} "
                  f"({linking[SIM]['CT'] - ablation['CT']:+.3f})",
          lambda: linking[SIM]["CT"] - ablation["CT"] >= 0.02 - 1e-9)  # 1e-9: a difference of exactly 0.02
    for key in (SIM, GOWT1):
        check(f"#11 {name[key]}, own detections: divisions within ±30 % of the truth's (±3 below 10)",
              lambda key=key: f"{own[key]['divisions']} vs {own[key]['gt_divisions']} in the truth "
                              f"(allowed ±{_division_tolerance(own[key]['gt_divisions'])})",
              lambda key=key: abs(own[key]["divisions"] - own[key]["gt_divisions"])
              <= _division_tolerance(own[key]["gt_divisions"]))
        check(f"#11 {name[key]}, own detections: DET - TRA <= 0.5 points (0.005)",
              lambda key=key: _number(own[key]["DET"] - own[key]["TRA"], ".4f") + _link_costs(own[key]),
              lambda key=key: own[key]["DET"] - own[key]["TRA"] <= 0.005 + 1e-9)  # 1e-9: as above
    classical = _row(results, GOWT1, "classical+laptrack", False)
    check(f"#11 {name[GOWT1]}, own detections: celltrack CT above classical+laptrack",
          lambda: f"{_number(own[GOWT1]['CT'])} vs {_number(classical['CT'])}",
          lambda: own[GOWT1]["CT"] > classical["CT"])
    above(f"#11 {name[GOWT1]}, GT masks: celltrack CT above iou and laptrack", linking[GOWT1], "CT", None,
          lambda: peers[GOWT1])
    linker = {(row["method"], row["num_cells"]): row["ms_per_frame"]
              for row in results.get("scale", {}).get("linker", {}).get("rows", [])}
    for cells, bound in ((100, 2.0), (1000, 50.0)):
        check(f"#11 linker: <= {bound:g} ms/frame at {cells} cells ('{DEFAULT_RULE}' rule, the default)",
              lambda cells=cells: f"{linker[(DEFAULT_RULE, cells)]:.2f} ms",
              lambda cells=cells, bound=bound: linker[(DEFAULT_RULE, cells)] <= bound)

    # Issue 14: many movies shared among processes.
    sharding = results.get("speed", {}).get("sharding", {})
    check("#14 sharded tracking of 4 synthetic movies, 2 CPU processes: identical outputs to one process",
          lambda: (f"{'identical' if sharding['identical_outputs'] else 'differ: ' + ', '.join(sharding['differing_files'])}"
                   f" ({sharding['files_compared']} files); {sharding['two_processes_wall_seconds']:.1f} s vs "
                   f"{sharding['one_process_wall_seconds']:.1f} s in one process"),
          lambda: sharding["identical_outputs"])
    return checks


# -------------------------------------------------------------------------------------------- tables
Column = Tuple[str, object, str]  # (header, the record's key, format spec of its values)


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _table_of(records: Sequence[dict], columns: Sequence[Column]) -> List[str]:
    """A markdown table, a row per record and a column per ``(header, key, spec)``: ``format(record[key], spec)``,
    "n/a" where the value is None or absent."""
    return _table([header for header, _, _ in columns],
                  [[_number(record.get(key), spec) for _, key, spec in columns] for record in records])


def _accuracy_table(rows: List[dict]) -> List[str]:
    records = [{**row, "method": f"`{row['method']}`",
                "DET−TRA": None if row.get("DET") is None or row.get("TRA") is None else row["DET"] - row["TRA"],
                "divisions / GT": f"{row.get('divisions', 'n/a')} / {row.get('gt_divisions', 'n/a')}"}
               for row in rows if "skipped" not in row]
    keys = ("method", "cells", *COLUMNS[:3], "DET−TRA", *COLUMNS[3:], "divisions / GT")
    return _table_of(records, [(key, key, ".3f" if key in COLUMNS or key == "DET−TRA" else "") for key in keys])


def _laptrack_line(accuracy_run: dict) -> str:
    """laptrack's options as run, and where they came from (tuned on training data, or untuned defaults)."""
    values = ", ".join(f"{key} {value:g}" for key, value in accuracy_run["laptrack"].items())
    source = accuracy_run.get("laptrack_source") or {"source": "not recorded"}
    if source["source"] == "tuned":
        scores = source.get("scores") or {}
        there = ", ".join(f"{key} {_number(scores.get(key))}" for key in ("CT", "BC(2)", "BIO(2)"))
        return (f"{values} — tuned on {source.get('sequence')} GT masks (training data) by `{source.get('command')}`; "
                f"{source.get('selection')}; there {there} (benchmarks/{source.get('file')})")
    return f"{values} — {source.get('note', 'provenance not recorded (a run before tuning existed)')}"


# ------------------------------------------------------------------------------------------ sections
def _how_it_was_run(meta: dict) -> List[str]:
    lines = ["## How it was run", ""]
    for section, info in meta.get("sections", {}).items():
        lines.append(f"- **{section}**: `{info['command']}` — {info['date']}, {info['wall_seconds']:.0f} s wall"
                     + (f", first {info['max_frames']} frames only" if info.get("max_frames") else "")
                     + (f" ({info['skipped']})" if info.get("skipped") else ""))
    accuracy_run = meta.get("sections", {}).get("accuracy", {})
    if accuracy_run.get("laptrack"):
        lines.append("- **laptrack options**: " + _laptrack_line(accuracy_run))
    if accuracy_run.get("iou"):
        iou = accuracy_run["iou"]
        lines.append(f"- **iou**: CellTrack's tracker, '{iou['method']}' assignment, learned scores off, "
                     f"alpha {iou['alpha']:g}, division_min_score {iou['division_min_score']:g}, division_persistence "
                     f"{iou.get('division_persistence', 0)}, min_track_length {iou.get('min_track_length', 0)}, "
                     f"max_gap {iou.get('max_gap', 0)}, fill_gaps {iou.get('fill_gaps', False)} (on GT masks: "
                     + ", ".join(f"{k} {v}" for k, v in iou.get("on_gt_masks", {}).items()) + ")")
    if accuracy_run.get("training_data"):
        lines.append("- **training data** (marked in every table): " + "; ".join(
            f"{sequence}: {why}" for sequence, why in accuracy_run["training_data"].items()))
    machine = meta.get("machine", {})
    return lines + ["", f"- **machine**: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
                    + (f", {machine['memory_gb']} GB" if "memory_gb" in machine else "")
                    + (f", GPU {machine['gpu']}" if "gpu" in machine else ", no GPU")
                    + f"; torch threads {machine.get('torch_threads', '?')}; {machine.get('platform', '')}",
                    "- **versions**: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()), ""]


def _targets(results: dict) -> List[str]:
    marks = {True: "yes", False: "**no**", None: "not measured"}
    return ["## Targets (issues 10, 11 and 14)", "",
            f"`celltrack` is the default configuration (the shipped model, '{DEFAULT_RULE}' rule); "
            "#10: detection, #11: linking, #14: many movies.", ""] + _table_of(
        [{**check, "met": marks[check["met"]]} for check in targets(results)],
        [("target", "target", ""), ("measured", "measured", ""), ("met", "met", "")])


# The accuracy tables of a sequence: its rows on detected cells, then on GT masks.
CELL_SOURCES = ((False, "cells from CellTrack's detector (or the classical segmentation); every linking row links "
                        "the same detections"),
                (True, "linking only: GT masks with identities removed (`uses_gt_masks: true`)"))


def _accuracy(results: dict) -> List[str]:
    accuracy, lines = results.get("accuracy", []), ["", "## Accuracy", ""]
    if not accuracy:
        lines += ["Not run, or no data (set `CELLTRACK_DATA`).", ""]
    why_training = results.get("meta", {}).get("sections", {}).get("accuracy", {}).get("training_data", {})
    for dataset, sequence in dict.fromkeys((row["dataset"], row["sequence"]) for row in accuracy):  # in run order
        frames = next((row["frames"] for row in _rows(results, dataset, sequence) if "frames" in row), "?")
        name, trained = _name(results, dataset, sequence), _training_data(results, dataset, sequence)
        lines += [f"### {dataset} {sequence} ({frames} frames{', training data' if trained else ''})", ""]
        if trained:
            why = why_training.get(f"{dataset}/{sequence}") or "see training_data in results.json"
            lines += [f"**Training data**: {why}. These rows show fit, not generalisation (`training_data: true`).", ""]
        for uses_gt_masks, cells in CELL_SOURCES:
            lines += [f"{name}, {cells}:", ""] + _accuracy_table(_rows(results, dataset, sequence, uses_gt_masks))
            lines.append("")
        skipped = [row for row in _rows(results, dataset, sequence) if "skipped" in row]
        if skipped:
            lines += ["Skipped:"] + [f"- `{row['method']}`{' (GT masks)' if row['uses_gt_masks'] else ''}: "
                                     f"{row['skipped']}" for row in skipped] + [""]
    notes = {row["method"]: row["note"] for row in accuracy if row.get("note")}
    if notes:
        # Results from before the baselines carried notes: what those rows were.
        notes.setdefault("iou", "CellTrack's tracker without a track head (mask IoU >= 0.1, two claimants = a division)")
        notes.setdefault("laptrack", "LAP on centroids with gap closing and splitting (options in results.json meta)")
        lines += ["Rows:"] + [f"- `{method}`: {note}" for method, note in notes.items()] + [""]
    return lines + (["![accuracy](accuracy.png)", ""] if accuracy else [])


def _speed(speed: dict) -> List[str]:
    lines = ["## Speed", ""]
    inference, training, sharding = (speed.get(part) for part in ("inference", "training", "sharding"))
    if inference:
        pipelines = {"maskrcnn": "Mask R-CNN alone (same weights, no track head, no tracker)",
                     "celltrack": "CellTrack (+ track head embeddings + tracker)"}
        lines += [f"Inference on {inference['frames']} frames of {inference['frame_size'][0]}x{inference['frame_size'][1]} "
                  f"({inference['source']}), device {inference['device']}, "
                  f"{'trained weights' if inference['trained_weights'] else 'untrained weights'}; median per frame:", ""]
        lines += _table_of([{"pipeline": text, "seconds": inference[f"{key}_seconds_per_frame"],
                             "fps": inference[f"{key}_fps"]} for key, text in pipelines.items()],
                           [("pipeline", "pipeline", ""), ("s/frame", "seconds", ".3f"), ("frames/s", "fps", ".2f")])
        lines += ["", f"Extra cost of CellTrack: {inference['overhead_percent']:+.1f} % "
                  f"(linking alone {inference['celltrack_linking_ms_per_frame']:.1f} ms/frame).", ""]
    if training:
        lines += [f"Training ({training['source']}, {training['iterations']} timed iterations, median):", ""]
        lines += _table_of([{"model": label.replace("_", " "), **training[label]}
                            for label in ("with_track_head", "without_track_head")],
                           [("model", "model", ""), ("s/iteration", "seconds_per_iteration", ".2f"),
                            ("images/s", "images_per_second", ".2f"), ("pairs/s", "pairs_per_second", ".2f")])
        lines += ["", f"Track head training cost: {training['overhead_percent']:+.1f} %.", ""]
    if sharding and "not_measured" not in sharding:
        lines += [f"Many movies (`{sharding['command']}`): {sharding['movies']} synthetic movies of "
                  f"{sharding['frames_per_movie']} frames ({sharding['frame_size'][0]}x{sharding['frame_size'][1]}, "
                  f"{sharding['cells']}):", ""]
        lines += _table_of(
            [{"processes": "1", "wall": sharding["one_process_wall_seconds"], "outputs": "reference"},
             {"processes": "2 (gloo, CPU)", "wall": sharding["two_processes_wall_seconds"], "outputs": "identical"
              if sharding["identical_outputs"] else "**differ**: " + ", ".join(sharding["differing_files"])}],
            [("processes", "processes", ""), ("wall s", "wall", ".1f"), ("outputs", "outputs", "")])
        lines += ["", f"Speed-up {sharding['speedup']:.2f}x over {sharding['files_compared']} output files compared byte for "
                      "byte (summary.json without its timing fields).", ""]
    elif sharding:
        lines += [f"Many movies: not measured ({sharding['not_measured']}).", ""]
    return lines + ([] if speed else ["Not run.", ""])


def _scale(scale: dict) -> List[str]:
    lines, linker, memory = ["## Scale", ""], scale.get("linker"), scale.get("memory")
    if linker:
        cells = sorted({row["num_cells"] for row in linker["rows"]})
        by = {(row["method"], row["num_cells"]): row["ms_per_frame"] for row in linker["rows"]}
        lines += [f"Linker time per frame (synthetic cells, {linker['frames']} frames, "
                  "`celltrack.tracking.benchmark`), ms:", ""]
        lines += _table_of(
            [{"rule": method + (" (default)" if method == DEFAULT_RULE else ""),
              **linker.get("exponent", {}).get(method, {}), **{n: by.get((method, n)) for n in cells}}
             for method in LINKER_RULES if any(row["method"] == method for row in linker["rows"])],
            [("rule", "rule", ""), *((f"{n} cells", n, ".2f") for n in cells),
             ("exponent (100+)", "fit_100_and_up", ".2f"), ("exponent (last two)", "last_two", ".2f")])
        lines += ["", f"{linker['note']}.", "", "![linker scaling](linker_scaling.png)", ""]
    if memory and "runs" in memory:
        lines += [f"Peak memory of `tools/track_video.py` ({memory['model']}, {memory['frame_size'][0]}x"
                  f"{memory['frame_size'][1]} synthetic frames, separate processes):", ""]
        lines += _table_of(memory["runs"], [("frames", "frames", ""), ("peak RSS (MB)", "peak_rss_mb", ".0f"),
                                            ("wall (s)", "seconds", ".0f"), ("frames/s", "fps", ".2f")])
        lines += ["", f"Growth: {memory['growth_percent']:+.1f} %.", ""]
    elif memory:
        lines += [f"Peak memory of `tools/track_video.py`: not measured — {memory['not_measured']}.", ""]
    return lines + ([] if scale else ["Not run.", ""])


def markdown(results: dict) -> str:
    lines = ["# CellTrack benchmark", "",
             "Generated by `benchmarks/run.py` from `benchmarks/results.json`; do not edit by hand. "
             "Measures: py-ctcmetrics (the CTC measures, independent of CellTrack).", ""]
    lines += _how_it_was_run(results.get("meta", {})) + _targets(results) + _accuracy(results)
    lines += _speed(results.get("speed", {})) + _scale(results.get("scale", {}))
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------- plots
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> bool:
    figure.savefig(path, dpi=110)
    _pyplot().close(figure)
    return True


def plot_accuracy(results: dict, path: Path) -> bool:
    """Grouped bars: one panel per sequence and cell source, one group per method. False if nothing to plot."""
    import numpy as np

    rows = [row for row in results.get("accuracy", []) if "skipped" not in row]
    panels = list(dict.fromkeys((row["dataset"], row["sequence"], row["uses_gt_masks"]) for row in rows))
    trained_on = {(row["dataset"], row["sequence"]) for row in rows if row.get("training_data")}
    if not panels:
        return False
    figure, axes = _pyplot().subplots(len(panels), 1, figsize=(12, 3.2 * len(panels)), squeeze=False)
    for axis, (dataset, sequence, gt) in zip(axes[:, 0], panels):
        chosen = [row for row in rows if (row["dataset"], row["sequence"], row["uses_gt_masks"]) == (dataset, sequence, gt)]
        width = 0.8 / len(PLOTTED)
        for k, key in enumerate(PLOTTED):
            values = [row.get(key) if row.get(key) is not None else np.nan for row in chosen]
            axis.bar(np.arange(len(chosen)) + (k - len(PLOTTED) / 2 + 0.5) * width, values, width, label=key)
        axis.set_xticks(np.arange(len(chosen)))
        axis.set_xticklabels([row["method"] for row in chosen], rotation=20, ha="right", fontsize=8)
        axis.set_ylim(0, 1.05)
        axis.set_title(f"{dataset} {sequence}{' (training data)' if (dataset, sequence) in trained_on else ''}: "
                       + ("GT masks, identities removed (linking only)" if gt
                          else "cells from the detector / segmentation"), fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    figure.legend(*axes[0, 0].get_legend_handles_labels(), ncol=len(PLOTTED), fontsize=8, loc="upper center")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (3.2 * len(panels))))
    return _save(figure, path)


def plot_linker(results: dict, path: Path) -> bool:
    linker = results.get("scale", {}).get("linker")
    if not linker:
        return False
    figure, axis = _pyplot().subplots(figsize=(6, 4.5))
    for method in LINKER_RULES:
        points = sorted((row["num_cells"], row["ms_per_frame"]) for row in linker["rows"] if row["method"] == method)
        if points:
            cells, ms = zip(*points)
            exponent = linker.get("exponent", {}).get(method, {}).get("fit_100_and_up")
            axis.loglog(cells, ms, "o-", label=f"{method} rule" + (", the default" if method == DEFAULT_RULE else "")
                        + (f" (exponent {exponent:.2f})" if exponent else ""))
    anchor = [row for row in linker["rows"] if row["method"] == DEFAULT_RULE and row["num_cells"] == 100]
    if anchor:
        cells = sorted({row["num_cells"] for row in linker["rows"]})
        axis.loglog(cells, [anchor[0]["ms_per_frame"] * n / 100 for n in cells], "k:", label="linear reference")
    axis.plot([100, 1000], [2, 50], "rx", markersize=10, label="targets (2 ms @ 100, 50 ms @ 1000)")
    axis.set_xlabel("cells per frame")
    axis.set_ylabel("linker ms per frame")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def write_report(results: dict, out: Path) -> None:
    """Write RESULTS.md, accuracy.png and linker_scaling.png into ``out``."""
    out = Path(out)
    plot_accuracy(results, out / "accuracy.png")
    plot_linker(results, out / "linker_scaling.png")
    (out / "RESULTS.md").write_text(markdown(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default=str(Path(__file__).parent / "results.json"),
                        help="results.json; RESULTS.md and the plots go next to it")
    results_path = Path(parser.parse_args().results)
    write_report(json.loads(results_path.read_text()), results_path.parent)
