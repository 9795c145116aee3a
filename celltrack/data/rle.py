"""Run-length encoding of label images as COCO RLE dicts (what dataset records carry instead of pixels)."""
from __future__ import annotations

import numpy as np
import pycocotools.mask as mask_util


def label_image_to_rles(labels: np.ndarray) -> dict[int, dict]:
    """COCO RLE of every label in a ``(H, W)`` label image, in one pass over the pixels.

    Returns ``{label: {"size": [H, W], "counts": str}}`` (compressed RLE, counts decoded to ASCII so
    records pickle and serialise to JSON) for every non-zero label.
    """
    height, width = labels.shape
    flat = np.asarray(labels).ravel(order="F")  # COCO runs go down the columns
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [flat.size]))
    values = flat[starts]
    order = np.argsort(values, kind="stable")  # group the runs of each label, keeping their order
    starts, ends, values = starts[order], ends[order], values[order]
    groups = np.flatnonzero(np.diff(values)) + 1
    rles = {}
    for group_starts, group_ends in zip(np.split(starts, groups), np.split(ends, groups)):
        label = int(flat[group_starts[0]])
        if label == 0:
            continue
        counts = np.empty(2 * len(group_starts) + 1, dtype=np.int64)
        counts[0:-1:2] = group_starts - np.concatenate(([0], group_ends[:-1]))  # background before run
        counts[1::2] = group_ends - group_starts  # run of this label
        counts[-1] = flat.size - group_ends[-1]
        counts = counts[:-1] if counts[-1] == 0 else counts  # canonical form, as pycocotools encodes
        rle = mask_util.frPyObjects({"counts": counts.tolist(), "size": [height, width]}, height, width)
        rle["counts"] = rle["counts"].decode("ascii")
        rles[label] = rle
    return rles
