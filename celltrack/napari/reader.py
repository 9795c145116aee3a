"""Open a CellTrack result in napari: the cells as a labels layer, their tracks and lineage as a tracks layer.

napari calls :func:`get_reader` (the ``celltrack.read_result`` reader of ``napari.yaml``) with the path
dropped on the viewer or given to ``napari PATH`` / ``viewer.open(PATH, plugin="celltrack")``. It accepts

* a ``tools/track_video.py`` output folder (``--output``, one movie): its ``res/`` is read;
* a CTC result folder (``maskTTT.tif`` + ``res_track.txt``, CellTrack's or another tool's), or CTC ground
  truth (``man_trackTTT.tif`` + ``man_track.txt``, e.g. ``01_GT/TRA``).

The CTC folder is the whole result (``tracks.csv`` and ``tracks.geff`` are derived from it): the masks
become a labels layer whose values are the track ids (each track has its colour), and the graph of
:func:`celltrack.data.geff.ctc_to_graph` (one point per cell per frame at the centroid of its mask)
becomes a tracks layer whose ``graph`` holds the lineage (``{track_id: [parent_id]}`` from the ``P``
column of ``res_track.txt``). Masks that disagree with the lineage are refused with one line naming the
mask file, frame and track. This module does not import napari: it returns napari's ``LayerData`` tuples.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from ..data.ctc import read_lineage
from ..data.geff import CTC_LAYOUTS, _ctc_files, ctc_to_graph
from ..data.movie import read_frame

PathLike = Union[str, Path]
LayerData = tuple  # (data, layer keyword arguments, layer type), napari's LayerDataTuple
# Folder names that say what a CTC folder is rather than which movie; the layers take their parent's name.
GENERIC_NAMES = ("res", "TRA")


def ctc_folder(path: PathLike) -> Optional[Path]:
    """The CTC folder of ``path``: ``path/res`` for a track_video output folder, ``path`` itself when it
    holds a lineage file (``res_track.txt`` or ``man_track.txt``); None when it is neither."""
    path = Path(path)
    for folder in (path / "res", path):
        if any((folder / lineage_name).is_file() for _, lineage_name in CTC_LAYOUTS):
            return folder
    return None


def get_reader(path: Union[PathLike, list]) -> Optional[Callable[[PathLike], list[LayerData]]]:
    """napari's reader hook: :func:`read_result` for a folder :func:`ctc_folder` recognises, else None
    (napari then offers the path to its other readers)."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    return read_result if ctc_folder(path) is not None else None


def read_ctc(folder: PathLike) -> tuple[np.ndarray, np.ndarray, dict[int, list[int]], dict[str, np.ndarray]]:
    """Read a CTC folder for napari.

    Returns ``(masks, tracks, graph, features)``: ``masks`` (T, Y, X) label images (value = track id, 0 =
    background, the masks' own dtype); ``tracks`` (N, 4) float rows ``[track_id, frame, y, x]`` (pixels),
    one per cell per frame, sorted by track then frame, as napari's tracks layer takes them; ``graph``
    ``{track_id: [parent_id]}`` for every track with a parent; ``features`` per row: ``area`` (pixels) and
    ``lineage_id`` (track id of the lineage's first ancestor). Raises
    :class:`~celltrack.data.movie.DataError` naming the file when ``folder`` is not a CTC folder or its
    masks disagree with its lineage.
    """
    folder = Path(folder)
    graph_arrays = ctc_to_graph(folder)  # checks masks against the lineage
    mask_files, lineage_path = _ctc_files(folder)
    masks = np.stack([read_frame(path, frame) for frame, path in sorted(mask_files.items())])
    props = graph_arrays["node_props"]
    order = np.lexsort((props["t"], props["track_id"]))
    tracks = np.stack([props["track_id"], props["t"], props["y"], props["x"]], axis=1)[order].astype(np.float64)
    lineage = read_lineage(lineage_path)
    graph = {int(label): [int(parent)] for label, _, _, parent in lineage.tolist() if parent}
    features = {"area": props["area"][order], "lineage_id": props["lineage_id"][order]}
    return masks, tracks, graph, features


def layer_name(path: PathLike) -> str:
    """The name layers of ``path`` get: the folder's name, or its parent's for ``res`` and ``TRA``."""
    path = Path(path).resolve()
    return path.parent.name if path.name in GENERIC_NAMES else path.name


def read_result(path: PathLike, name: Optional[str] = None) -> list[LayerData]:
    """A CellTrack output folder or CTC folder (module docstring) as napari layers: ``[labels, tracks]``
    (only ``[labels]`` when no cell was found: napari has no empty tracks layer).

    ``name``: what the layers are called (``"<name> masks"``, ``"<name> tracks"``; default
    :func:`layer_name`). Both layers' ``metadata["celltrack_result"]`` is the CTC folder read.
    """
    if isinstance(path, (list, tuple)):
        path = path[0]
    folder = ctc_folder(path)
    if folder is None:  # napari only calls this for folders get_reader accepts; a direct caller may not
        folder = Path(path)
    masks, tracks, graph, features = read_ctc(folder)
    name = name or layer_name(path)
    metadata = {"celltrack_result": str(folder)}
    labels = (masks, {"name": f"{name} masks", "metadata": metadata, "opacity": 0.6}, "labels")
    if not len(tracks):  # napari's tracks layer cannot be empty
        return [labels]
    track_layer = (tracks, {"name": f"{name} tracks", "graph": graph, "features": features, "metadata": metadata,
                            "tail_length": 10, "tail_width": 3}, "tracks")
    return [labels, track_layer]
