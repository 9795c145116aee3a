"""Export a CTC tracking result as a GEFF graph (https://liveimagetrackingtools.org/geff), through the
``geff`` package.

GEFF is the graph exchange format of the tracking tools (motile, napari plugins, traccuracy, TrackMate
converters): a zarr folder ``tracks.geff`` holding a directed graph whose nodes are cells in a frame and
whose edges link a cell to itself in a later frame or to its daughters.

The graph of a CTC folder (``maskTTT.tif`` + ``res_track.txt``, or ``man_trackTTT.tif`` +
``man_track.txt``):

* a node per cell per frame, with the properties ``t`` (frame, from 0), ``y``, ``x`` (the centroid of its
  mask, pixels), ``area`` (pixels), ``track_id`` (the CTC label of its track), ``seg_id`` (its label value
  in that frame's mask, so ``mask[t] == seg_id`` is its outline) and ``lineage_id`` (the track id of its
  lineage's first ancestor);
* an edge between consecutive frames of one track, and an edge from a parent's last node to the first
  node of each track that names it as parent (a division, or one track continued after a gap).

``track_id`` is declared as the GEFF tracklet property when every track is a maximal unbranched path
(no parent has exactly one daughter), ``lineage_id`` always as the lineage property.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import numpy as np

from .ctc_format import read_lineage
from .movie import DataError, check_contiguous, numbered_files, read_frame

NODE_PROPERTIES = ("t", "y", "x", "area", "track_id", "seg_id", "lineage_id")
# (mask file name pattern, lineage file name) of a CTC result and of CTC ground truth (TRA)
CTC_LAYOUTS = ((re.compile(r"mask(\d{3,4})\.tif"), "res_track.txt"),
               (re.compile(r"man_track(\d{3,4})\.tif"), "man_track.txt"))


def _ctc_files(folder: Path) -> tuple[dict[int, Path], Path]:
    """The mask files (by frame) and the lineage file of a CTC folder; DataError if it is not one."""
    if not folder.is_dir():
        raise DataError(f"{folder}: does not exist or is not a folder. Give a CTC result folder (maskTTT.tif + "
                        f"res_track.txt), e.g. results/movie1/res.")
    for pattern, lineage_name in CTC_LAYOUTS:
        masks = numbered_files(folder, pattern)
        if masks or (folder / lineage_name).is_file():
            if not masks:
                raise DataError(f"{folder}: has {lineage_name} but no mask files ({pattern.pattern}). Give the "
                                f"folder that holds both.")
            check_contiguous(masks, folder, "mask")
            if min(masks) != 0:
                raise DataError(f"{folder}: the first mask is frame {min(masks)}; CTC frames start at 0. Renumber "
                                f"the masks from 0.")
            return masks, folder / lineage_name
    raise DataError(f"{folder}: is not a CTC result (no maskTTT.tif + res_track.txt, nor man_trackTTT.tif + "
                    f"man_track.txt). Give the folder that holds them, e.g. results/movie1/res.")


def ctc_to_graph(folder) -> dict:
    """Read a CTC folder as graph arrays (module docstring for what the nodes and edges are).

    Returns ``{"node_ids": (N,) int64, "node_props": {name: (N,) array}, "edge_ids": (E, 2) int64,
    "tracklets": bool}``; nodes are numbered in (frame, label) order. ``tracklets``: whether ``track_id`` is
    a GEFF tracklet (no track continues into exactly one daughter). Raises :class:`DataError` naming the
    file (and frame or lineage line) when the folder is not a CTC folder or its masks disagree with the
    lineage.
    """
    folder = Path(folder)
    masks, lineage_path = _ctc_files(folder)
    lineage = read_lineage(lineage_path)
    span = {label: (begin, end) for label, begin, end, _ in lineage.tolist()}
    parent_of = {label: parent for label, _, _, parent in lineage.tolist()}
    columns: dict[str, list] = {name: [] for name in NODE_PROPERTIES}
    nodes_of: dict[int, list[int]] = {}  # track label -> its node ids, in time order
    for frame, path in sorted(masks.items()):
        labels = read_frame(path, frame)
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{path} (frame {frame}): expected a 2-D integer label image, got {labels.dtype} "
                            f"{labels.shape}. CTC masks are 16-bit label images.")
        present = np.unique(labels)
        present = present[present > 0]
        alive = {label for label, (begin, end) in span.items() if begin <= frame <= end}
        wrong = sorted(set(present.tolist()).symmetric_difference(alive))
        if wrong:
            label = wrong[0]
            raise DataError(f"{path} (frame {frame}): track {label} " + (
                f"is in the mask but not listed for this frame in {lineage_path}" if label in present.tolist() else
                f"is listed in {lineage_path} for frames {span[label][0]}..{span[label][1]} but absent from the "
                f"mask") + ". Fix the mask or the lineage line.")
        index = np.searchsorted(present, labels)  # label -> position in ``present``, background included
        inside = labels > 0
        areas = np.bincount(index[inside], minlength=len(present))
        rows, cols = np.nonzero(inside)
        y = np.bincount(index[inside], weights=rows, minlength=len(present)) / np.maximum(areas, 1)
        x = np.bincount(index[inside], weights=cols, minlength=len(present)) / np.maximum(areas, 1)
        for i, label in enumerate(present.tolist()):
            nodes_of.setdefault(label, []).append(len(columns["t"]))
            for name, value in (("t", frame), ("y", y[i]), ("x", x[i]), ("area", areas[i]), ("track_id", label),
                                ("seg_id", label), ("lineage_id", _root(label, parent_of))):
                columns[name].append(value)
    edges = [(a, b) for nodes in nodes_of.values() for a, b in zip(nodes[:-1], nodes[1:])]
    edges += [(nodes_of[parent][-1], nodes_of[label][0]) for label, parent in parent_of.items() if parent]
    daughters = np.bincount([parent for parent in parent_of.values() if parent], minlength=1)
    dtypes = {"t": np.int64, "y": np.float64, "x": np.float64, "area": np.int64}
    return {
        "node_ids": np.arange(len(columns["t"]), dtype=np.int64),
        "node_props": {name: np.asarray(values, dtype=dtypes.get(name, np.int64)) for name, values in columns.items()},
        "edge_ids": np.asarray(edges, dtype=np.int64).reshape(-1, 2),
        "tracklets": not (daughters == 1).any(),
    }


def _root(label: int, parent_of: dict[int, int]) -> int:
    while parent_of.get(label):
        label = parent_of[label]
    return label


def write_geff(folder, geff_path, overwrite: bool = False, zarr_format: int = 2) -> dict:
    """Write the CTC folder ``folder`` as the GEFF graph ``geff_path`` (a zarr folder, e.g. ``tracks.geff``).

    The metadata's ``extra["celltrack"]["source"]`` is ``folder`` relative to ``geff_path``.
    ``overwrite``: replace a GEFF already there (anything else at ``geff_path`` is refused). Returns
    ``{"nodes": N, "edges": E}``. Raises :class:`DataError` as :func:`ctc_to_graph` does, and for an
    existing ``geff_path`` without ``overwrite``.
    """
    import geff
    from geff.core_io import write_arrays
    from geff_spec import Axis, GeffMetadata

    geff_path = Path(geff_path)
    if geff_path.exists() and not (overwrite and geff_path.is_dir() and _is_geff(geff_path)):
        raise DataError(f"{geff_path}: already exists. Choose another output" + (
            " or pass --overwrite." if not overwrite else "; it is not a GEFF, so it is not replaced."))
    graph = ctc_to_graph(folder)
    track_props = {"lineage": "lineage_id"}
    if graph["tracklets"]:
        track_props["tracklet"] = "track_id"
    metadata = GeffMetadata(
        geff_version=geff.__version__,
        directed=True,
        axes=[Axis(name="t", type="time"), Axis(name="y", type="space", unit="pixel"),
              Axis(name="x", type="space", unit="pixel")],
        node_props_metadata={},
        edge_props_metadata={},
        track_node_props=track_props,
        extra={"celltrack": {"source": os.path.relpath(Path(folder).resolve(), geff_path.resolve()),
                             "seg_id": "label value of the node's cell in the CTC mask of frame t"}},
    )
    write_arrays(geff_store=str(geff_path), node_ids=graph["node_ids"],
                 node_props={name: {"values": values, "missing": None} for name, values in graph["node_props"].items()},
                 edge_ids=graph["edge_ids"], edge_props={}, metadata=metadata, zarr_format=zarr_format,
                 overwrite=overwrite)
    return {"nodes": len(graph["node_ids"]), "edges": len(graph["edge_ids"])}


def _is_geff(path: Path) -> bool:
    from geff.core_io import check_for_geff

    return bool(check_for_geff(str(path)))


def read_geff(geff_path, node_props: Optional[list] = None):
    """Read a GEFF graph as a ``networkx.DiGraph`` (node attributes = node properties) and its metadata."""
    import geff

    return geff.read(str(geff_path), node_props=node_props)
