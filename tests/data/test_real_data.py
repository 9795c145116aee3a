"""Optional: the real Cell Tracking Challenge sequences load without error.

Reads ``$CELLTRACK_DATA`` (default ``../shared/data`` next to the repository); skips when absent. Run
with ``-s`` to see the counts (frames, cells, tracks, divisions) as the loader sees them.
"""
import collections
import os
from pathlib import Path

import pytest

from celltrack.data.ctc import load_ctc_sequence, read_lineage
from celltrack.data.mapper import PairedFrameMapper

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CELLTRACK_DATA", REPO.parent / "shared" / "data"))
SEQUENCES = [("Fluo-N2DH-SIM+", "01"), ("Fluo-N2DH-SIM+", "02"), ("Fluo-N2DH-GOWT1", "01")]


@pytest.mark.parametrize("dataset, sequence", SEQUENCES)
def test_real_sequence_loads(dataset, sequence):
    root = DATA / dataset
    if not (root / sequence).is_dir():
        pytest.skip(f"{root / sequence} not found (set CELLTRACK_DATA)")
    records = load_ctc_sequence(root, sequence)
    lineage = read_lineage(root / f"{sequence}_GT" / "TRA" / "man_track.txt")
    counts = {
        "frames": len(records),
        "cells": sum(len(record["annotations"]) for record in records),
        "tracks": len(lineage),
        "divisions": len(set(lineage[lineage[:, 3] > 0, 3].tolist())),  # mothers with daughters
        "daughter_tracks": int((lineage[:, 3] > 0).sum()),
        "mask_source": dict(collections.Counter(record["mask_source"] for record in records)),
    }
    print(f"\n{dataset}/{sequence}: {counts}")
    assert counts["frames"] > 0 and counts["cells"] > 0
    assert [record["frame"] for record in records] == list(range(len(records)))
    pair = PairedFrameMapper(is_train=True, augmentations=[], dataset_dicts=records)(records[1])
    assert len(pair["instances"]) == len(records[1]["annotations"])
    assert len(pair["previous"]["instances"]) == len(records[0]["annotations"])
