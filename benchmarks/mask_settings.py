#!/usr/bin/env python
"""CELLTRACK.MASK_THRESHOLD and CELLTRACK.MASK_FLIP of a trained model, measured on validation frames.

    python benchmarks/mask_settings.py --data ../shared/data

The model (default: the shipped one, with its config's detection settings) segments the validation frames
(default Fluo-N2DH-SIM+ 01 frames 55-64, held back from its training) as acquired and under
linker_validation's ``DIMMER`` acquisition, with the mask head's probability cut at each threshold, without and
with the mirrored pass (``MASK_FLIP``); py-ctcmetrics scores SEG and DET against their ground truth. The best:
the highest mean SEG (as acquired, dimmer), then DET, ties to no mirrored pass and to the threshold nearest
Mask R-CNN's 0.5. Writes ``--out``/mask_settings.json and .png. Never looks at a test sequence.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from celltrack import model_zoo  # noqa: E402
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.ctc import cut_ground_truth  # noqa: E402
from training_curve import detect_all, held_back_frames, scored, validation_versions  # noqa: E402

HERE = Path(__file__).resolve().parent
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", help="the model's config (default: the shipped model's)")
    parser.add_argument("--weights", help="default: the config's MODEL.WEIGHTS")
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--validation", default="Fluo-N2DH-SIM+/01[55:65]", help="held-back frames")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file) if args.config_file else model_zoo.get_config()
    weights = args.weights or cfg.MODEL.WEIGHTS
    root, sequence, first, stop = held_back_frames(args.data, args.validation)
    versions = validation_versions(root, sequence, first, stop)
    min_score, overlap = cfg.CELLTRACK.TRACKER.MIN_SCORE, cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        gt = cut_ground_truth(root, sequence, first, stop, temporary / "GT")
        for flip in (False, True):
            for threshold in THRESHOLDS:
                detected = detect_all(cfg, weights, versions, cfg.CELLTRACK.MASK_BOX_SCALE, threshold, flip)
                rows.append({"MASK_FLIP": flip, "MASK_THRESHOLD": threshold,
                             **scored(detected, min_score, overlap, gt, temporary / f"t{threshold}-{flip}")})
                print(rows[-1], flush=True)
    best = max(rows, key=lambda r: (round(r["SEG"] + r["SEG_dimmer"], 4), round(r["DET"] + r["DET_dimmer"], 4),
                                    not r["MASK_FLIP"], -abs(r["MASK_THRESHOLD"] - 0.5)))
    result = {"validation": args.validation,
              "command": "python benchmarks/mask_settings.py" + (f" --config-file {args.config_file}" if args.config_file else "")
              + (f" --weights {args.weights}" if args.weights else "") + f" --validation '{args.validation}'",
              "settings": {"MIN_SCORE": min_score, "MASK_OVERLAP_THRESHOLD": overlap,
                           "MASK_BOX_SCALE": cfg.CELLTRACK.MASK_BOX_SCALE},
              "rows": rows, "best": {"MASK_FLIP": best["MASK_FLIP"], "MASK_THRESHOLD": best["MASK_THRESHOLD"],
                                     "rule": "highest mean SEG as acquired and dimmer, then DET; ties: no mirrored "
                                             "pass, then the threshold nearest 0.5"}}
    out = Path(args.out)
    (out / "mask_settings.json").write_text(json.dumps(result, indent=1) + "\n")
    figure, axis = plt.subplots(figsize=(6, 4))
    for flip in (False, True):
        shown = [r for r in rows if r["MASK_FLIP"] == flip]
        for key in ("SEG", "SEG_dimmer"):
            axis.plot([r["MASK_THRESHOLD"] for r in shown], [r[key] for r in shown], "o-" if "dimmer" not in key else "s--",
                      label=key.replace("_dimmer", " (dimmer)") + (", mirrored pass" if flip else ""))
    axis.axvline(best["MASK_THRESHOLD"], color="grey", lw=0.8)
    axis.set(xlabel="MASK_THRESHOLD", ylabel="SEG", title=f"validation: {args.validation} (held back)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "mask_settings.png", dpi=80)
    print(f"best: {result['best']}; wrote {out / 'mask_settings.json'} and {out / 'mask_settings.png'}")


if __name__ == "__main__":
    main()
