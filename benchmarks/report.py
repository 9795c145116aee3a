"""RESULTS.md and the plots, generated from results.json (``benchmarks/run.py`` calls :func:`write_report`).

Regenerate without rerunning anything: ``python benchmarks/report.py [benchmarks/results.json]``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, List, Optional

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


def _number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


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
    for row in _rows(results, *dataset_sequence, uses_gt_masks):
        if row["method"] == method and "skipped" not in row:
            return row
    return None


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


def targets(results: dict) -> List[dict]:
    """Issue 10's (detection) and issue 11's (linking) targets, each {"target", "measured", "met"} (met None
    when not measured). "celltrack" is the default configuration (DEFAULT_RULE); "own detections" are
    CellTrack's (``uses_gt_masks`` false), "GT masks" the linking-only rows."""
    checks: List[dict] = []

    def check(target: str, measured: Callable[[], Optional[str]], met: Callable[[], Optional[bool]]) -> None:
        try:
            checks.append({"target": target, "measured": measured(), "met": met()})
        except (TypeError, KeyError, ValueError):  # a row or value this run did not produce
            checks.append({"target": target, "measured": "not measured", "met": None})

    sim, gowt1_name, sim01 = (_name(results, *SIM, "SIM+ 02"), _name(results, *GOWT1, "GOWT1 01"),
                              _name(results, *SIM01, "SIM+ 01"))
    own = {key: _row(results, key, "celltrack", False) for key in (SIM, GOWT1, SIM01)}
    linking = {key: _row(results, key, "celltrack", True) for key in (SIM, GOWT1)}

    # Issue 10: detection (CellTrack's own cells, default configuration).
    for key, bound in (("DET", 0.93), ("SEG", 0.70), ("TRA", 0.92)):
        check(f"#10 {sim}, own detections: {key} >= {bound:.2f}, above every other segmentation's row",
              lambda key=key: f"{_number(own[SIM][key])} (" + ", ".join(
                  f"{row['method']} {_number(row[key])}" for row in _other_segmentations(results, SIM)) + ")",
              lambda key=key, bound=bound: own[SIM][key] >= bound
              and all(own[SIM][key] > row[key] for row in _other_segmentations(results, SIM)))
    for key, bound in (("DET", 0.96), ("SEG", 0.80)):
        check(f"#10 {gowt1_name}, own detections: {key} >= {bound:.2f}", lambda key=key: _number(own[GOWT1][key]),
              lambda key=key, bound=bound: own[GOWT1][key] >= bound)
    check(f"#10 {sim01}, own detections: DET >= 0.98", lambda: _number(own[SIM01]["DET"]),
          lambda: own[SIM01]["DET"] >= 0.98)
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
        others = [_row(results, SIM, method, True) for method in ("iou", "laptrack")]
        check(f"#11 {sim}, GT masks: celltrack {key} >= {bound:.2f}, above iou and laptrack",
              lambda key=key, others=others: f"{_number(linking[SIM][key])} (iou {_number(others[0][key])}, "
                                              f"laptrack {_number(others[1][key])})",
              lambda key=key, bound=bound, others=others: linking[SIM][key] >= bound
              and all(linking[SIM][key] > other[key] for other in others))
    ablation = _row(results, SIM, "celltrack-no-spatial-head", True)
    check(f"#11 {sim}, GT masks: both heads beat the visual head alone (celltrack-no-spatial-head) by >= 0.02 CT",
          lambda: f"{_number(linking[SIM]['CT'])} vs {_number(ablation['CT'])} "
                  f"({linking[SIM]['CT'] - ablation['CT']:+.3f})",
          lambda: linking[SIM]["CT"] - ablation["CT"] >= 0.02 - 1e-9)  # 1e-9: a difference of exactly 0.02
    for key, name in ((SIM, sim), (GOWT1, gowt1_name)):
        check(f"#11 {name}, own detections: divisions within ±30 % of the truth's (±3 below 10)",
              lambda key=key: f"{own[key]['divisions']} vs {own[key]['gt_divisions']} in the truth "
                              f"(allowed ±{_division_tolerance(own[key]['gt_divisions'])})",
              lambda key=key: abs(own[key]["divisions"] - own[key]["gt_divisions"])
              <= _division_tolerance(own[key]["gt_divisions"]))
        check(f"#11 {name}, own detections: DET - TRA <= 0.5 points (0.005)",
              lambda key=key: _number(own[key]["DET"] - own[key]["TRA"], 4),
              lambda key=key: own[key]["DET"] - own[key]["TRA"] <= 0.005 + 1e-9)  # 1e-9: as above
    classical = _row(results, GOWT1, "classical+laptrack", False)
    check(f"#11 {gowt1_name}, own detections: celltrack CT above classical+laptrack",
          lambda: f"{_number(own[GOWT1]['CT'])} vs {_number(classical['CT'])}",
          lambda: own[GOWT1]["CT"] > classical["CT"])
    others = [_row(results, GOWT1, method, True) for method in ("iou", "laptrack")]
    check(f"#11 {gowt1_name}, GT masks: celltrack CT above iou and laptrack",
          lambda: f"{_number(linking[GOWT1]['CT'])} (iou {_number(others[0]['CT'])}, "
                  f"laptrack {_number(others[1]['CT'])})",
          lambda: all(linking[GOWT1]["CT"] > other["CT"] for other in others))
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
def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _accuracy_table(rows: List[dict]) -> List[str]:
    body = []
    for row in rows:
        if "skipped" in row:
            continue
        body.append([f"`{row['method']}`", row["cells"]] + [_number(row.get(key)) for key in COLUMNS[:3]]
                    + [_number(row["DET"] - row["TRA"] if row.get("DET") is not None and row.get("TRA") is not None
                               else None)]
                    + [_number(row.get(key)) for key in COLUMNS[3:]]
                    + [f"{row.get('divisions', 'n/a')} / {row.get('gt_divisions', 'n/a')}"])
    return _table(["method", "cells", *COLUMNS[:3], "DET−TRA", *COLUMNS[3:], "divisions / GT"], body)


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


def markdown(results: dict) -> str:
    meta = results.get("meta", {})
    lines = ["# CellTrack benchmark", "",
             "Generated by `benchmarks/run.py` from `benchmarks/results.json`; do not edit by hand. "
             "Measures: py-ctcmetrics (the CTC measures, independent of CellTrack).", ""]
    lines += ["## How it was run", ""]
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
                     f"alpha {iou['alpha']:g}, division_min_score {iou['division_min_score']:g}")
    if accuracy_run.get("training_data"):
        lines.append("- **training data** (marked in every table): " + "; ".join(
            f"{sequence}: {why}" for sequence, why in accuracy_run["training_data"].items()))
    machine = meta.get("machine", {})
    lines += ["", f"- **machine**: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
              + (f", {machine['memory_gb']} GB" if "memory_gb" in machine else "")
              + (f", GPU {machine['gpu']}" if "gpu" in machine else ", no GPU")
              + f"; torch threads {machine.get('torch_threads', '?')}; {machine.get('platform', '')}",
              "- **versions**: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()), ""]

    lines += ["## Targets (issues 10, 11 and 14)", "",
              f"`celltrack` is the default configuration (the shipped model, '{DEFAULT_RULE}' rule); "
              "#10: detection, #11: linking, #14: many movies.", ""]
    marks = {True: "yes", False: "**no**", None: "not measured"}
    lines += _table(["target", "measured", "met"],
                    [[check["target"], check["measured"], marks[check["met"]]] for check in targets(results)])

    accuracy = results.get("accuracy", [])
    lines += ["", "## Accuracy", ""]
    if not accuracy:
        lines += ["Not run, or no data (set `CELLTRACK_DATA`).", ""]
    datasets = list(dict.fromkeys((row["dataset"], row["sequence"]) for row in accuracy))  # in run order
    for dataset, sequence in datasets:
        frames = next((row["frames"] for row in _rows(results, dataset, sequence) if "frames" in row), "?")
        name, trained = _name(results, dataset, sequence), _training_data(results, dataset, sequence)
        lines += [f"### {dataset} {sequence} ({frames} frames{', training data' if trained else ''})", ""]
        if trained:
            why = meta.get("sections", {}).get("accuracy", {}).get("training_data", {}).get(f"{dataset}/{sequence}")
            lines += [f"**Training data**: {why or 'see training_data in results.json'}. These rows show fit, "
                      "not generalisation (`training_data: true`).", ""]
        lines += [f"{name}, cells from CellTrack's detector (or the classical segmentation); every linking row links "
                  "the same detections:", ""]
        lines += _accuracy_table(_rows(results, dataset, sequence, False))
        lines += ["", f"{name}, linking only: GT masks with identities removed (`uses_gt_masks: true`):", ""]
        lines += _accuracy_table(_rows(results, dataset, sequence, True))
        skipped = [row for row in _rows(results, dataset, sequence) if "skipped" in row]
        if skipped:
            lines += ["", "Skipped:"] + [f"- `{row['method']}`{' (GT masks)' if row['uses_gt_masks'] else ''}: "
                                         f"{row['skipped']}" for row in skipped]
        lines.append("")
    notes = {row["method"]: row["note"] for row in accuracy if row.get("note")}
    if notes:
        # Results from before the baselines carried notes: what those rows were.
        notes.setdefault("iou", "CellTrack's tracker without a track head (mask IoU >= 0.1, two claimants = a division)")
        notes.setdefault("laptrack", "LAP on centroids with gap closing and splitting (options in results.json meta)")
        lines += ["Rows:"] + [f"- `{method}`: {note}" for method, note in notes.items()] + [""]
    if accuracy:
        lines += ["![accuracy](accuracy.png)", ""]

    speed = results.get("speed", {})
    lines += ["## Speed", ""]
    inference = speed.get("inference")
    if inference:
        lines += [f"Inference on {inference['frames']} frames of {inference['frame_size'][0]}x{inference['frame_size'][1]} "
                  f"({inference['source']}), device {inference['device']}, "
                  f"{'trained weights' if inference['trained_weights'] else 'untrained weights'}; median per frame:", ""]
        lines += _table(["pipeline", "s/frame", "frames/s"], [
            ["Mask R-CNN alone (same weights, no track head, no tracker)",
             f"{inference['maskrcnn_seconds_per_frame']:.3f}", f"{inference['maskrcnn_fps']:.2f}"],
            ["CellTrack (+ track head embeddings + tracker)", f"{inference['celltrack_seconds_per_frame']:.3f}",
             f"{inference['celltrack_fps']:.2f}"]])
        lines += ["", f"Extra cost of CellTrack: {inference['overhead_percent']:+.1f} % "
                  f"(linking alone {inference['celltrack_linking_ms_per_frame']:.1f} ms/frame).", ""]
    training = speed.get("training")
    if training:
        lines += [f"Training ({training['source']}, {training['iterations']} timed iterations, median):", ""]
        lines += _table(["model", "s/iteration", "images/s", "pairs/s"], [
            [label.replace("_", " "), f"{training[label]['seconds_per_iteration']:.2f}",
             f"{training[label]['images_per_second']:.2f}", f"{training[label]['pairs_per_second']:.2f}"]
            for label in ("with_track_head", "without_track_head")])
        lines += ["", f"Track head training cost: {training['overhead_percent']:+.1f} %.", ""]
    sharding = speed.get("sharding")
    if sharding and "not_measured" not in sharding:
        lines += [f"Many movies (`{sharding['command']}`): {sharding['movies']} synthetic movies of "
                  f"{sharding['frames_per_movie']} frames ({sharding['frame_size'][0]}x{sharding['frame_size'][1]}, "
                  f"{sharding['cells']}):", ""]
        lines += _table(["processes", "wall s", "outputs"], [
            ["1", f"{sharding['one_process_wall_seconds']:.1f}", "reference"],
            ["2 (gloo, CPU)", f"{sharding['two_processes_wall_seconds']:.1f}",
             "identical" if sharding["identical_outputs"] else "**differ**: " + ", ".join(sharding["differing_files"])]])
        lines += ["", f"Speed-up {sharding['speedup']:.2f}x over {sharding['files_compared']} output files compared byte for "
                      "byte (summary.json without its timing fields).", ""]
    elif sharding:
        lines += [f"Many movies: not measured ({sharding['not_measured']}).", ""]
    if not speed:
        lines += ["Not run.", ""]

    scale = results.get("scale", {})
    lines += ["## Scale", ""]
    linker = scale.get("linker")
    if linker:
        cells = sorted({row["num_cells"] for row in linker["rows"]})
        by = {(row["method"], row["num_cells"]): row["ms_per_frame"] for row in linker["rows"]}
        lines += [f"Linker time per frame (synthetic cells, {linker['frames']} frames, "
                  "`celltrack.tracking.benchmark`), ms:", ""]
        exponent = linker.get("exponent", {})
        lines += _table(["rule"] + [f"{n} cells" for n in cells] + ["exponent (100+)", "exponent (last two)"],
                        [[method + (" (default)" if method == DEFAULT_RULE else "")]
                         + [f"{by[(method, n)]:.2f}" if (method, n) in by else "n/a" for n in cells]
                         + [_number(exponent.get(method, {}).get("fit_100_and_up"), 2),
                            _number(exponent.get(method, {}).get("last_two"), 2)]
                         for method in LINKER_RULES if any(row["method"] == method for row in linker["rows"])])
        lines += ["", f"{linker['note']}.", "", "![linker scaling](linker_scaling.png)", ""]
    memory = scale.get("memory")
    if memory:
        if "runs" in memory:
            lines += [f"Peak memory of `tools/track_video.py` ({memory['model']}, {memory['frame_size'][0]}x"
                      f"{memory['frame_size'][1]} synthetic frames, separate processes):", ""]
            lines += _table(["frames", "peak RSS (MB)", "wall (s)", "frames/s"],
                            [[str(run["frames"]), f"{run['peak_rss_mb']:.0f}", f"{run['seconds']:.0f}",
                              f"{run['fps']:.2f}"] for run in memory["runs"]])
            lines += ["", f"Growth: {memory['growth_percent']:+.1f} %.", ""]
        else:
            lines += [f"Peak memory of `tools/track_video.py`: not measured — {memory['not_measured']}.", ""]
    if not scale:
        lines += ["Not run.", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------- plots
def plot_accuracy(results: dict, path: Path) -> bool:
    """Grouped bars: one panel per sequence and cell source, one group per method. False if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [row for row in results.get("accuracy", []) if "skipped" not in row]
    panels = list(dict.fromkeys((row["dataset"], row["sequence"], row["uses_gt_masks"]) for row in rows))
    trained_on = {(row["dataset"], row["sequence"]) for row in rows if row.get("training_data")}
    if not panels:
        return False
    figure, axes = plt.subplots(len(panels), 1, figsize=(12, 3.2 * len(panels)), squeeze=False)
    for axis, (dataset, sequence, gt) in zip(axes[:, 0], panels):
        chosen = [row for row in rows if (row["dataset"], row["sequence"], row["uses_gt_masks"]) == (dataset, sequence, gt)]
        width = 0.8 / len(PLOTTED)
        for k, key in enumerate(PLOTTED):
            values = [row.get(key) if row.get(key) is not None else np.nan for row in chosen]
            axis.bar(np.arange(len(chosen)) + (k - len(PLOTTED) / 2 + 0.5) * width, values, width, label=key)
        axis.set_xticks(np.arange(len(chosen)))
        axis.set_xticklabels([row["method"] for row in chosen], rotation=20, ha="right", fontsize=8)
        axis.set_ylim(0, 1.05)
        axis.set_title(f"{dataset} {sequence}{' (training data)' if (dataset, sequence) in trained_on else ''}: " + ("GT masks, identities removed (linking only)" if gt
                                                    else "cells from the detector / segmentation"), fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    figure.legend(*axes[0, 0].get_legend_handles_labels(), ncol=len(PLOTTED), fontsize=8, loc="upper center")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (3.2 * len(panels))))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def plot_linker(results: dict, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    linker = results.get("scale", {}).get("linker")
    if not linker:
        return False
    figure, axis = plt.subplots(figsize=(6, 4.5))
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
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_report(results: dict, out: Path) -> None:
    """Write RESULTS.md, accuracy.png and linker_scaling.png into ``out``."""
    out = Path(out)
    plot_accuracy(results, out / "accuracy.png")
    plot_linker(results, out / "linker_scaling.png")
    (out / "RESULTS.md").write_text(markdown(results))


if __name__ == "__main__":
    results_path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results.json")
    write_report(json.loads(results_path.read_text()), results_path.parent)
