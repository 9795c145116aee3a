"""Synthetic fluorescence time-lapse movies with exact ground truth, written as a CTC dataset.

Loosely modelled on Fluo-N2DH-SIM+ (dim textured nuclei, ~90 background with noise, 16-bit): cells
are textured ellipses that random-walk with a common drift, grow, divide into two daughters, enter
through the borders and leave the field; neighbours touch and partly occlude each other (the top cell
owns the contested pixels, so SEG/TRA stay exact). The simulation keeps every cell as a row of a few
arrays and renders all cells of a frame at once, streaming each frame to disk, so it scales from a
128x128 test movie (milliseconds) to thousands of cells and frames. Same seed, same files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import tifffile
from scipy import ndimage
from scipy.spatial import cKDTree

from .ctc_format import MAX_LABEL, write_label_image, write_lineage

_TEXTURE_SIZE = 128
_RENDER_CHUNK = 256  # cells rendered together; bounds temporary memory


def _new_cells(rng: np.random.Generator, labels: np.ndarray, y: np.ndarray, x: np.ndarray,
               cell_radius: tuple[float, float], signal: tuple[float, float],
               cell_cycle: tuple[int, int], speed: float) -> dict[str, np.ndarray]:
    """State of newly appearing cells: one array per property, one row per cell."""
    n = len(labels)
    radius = rng.uniform(*cell_radius, n)
    return {
        "label": labels.astype(np.int64), "parent": np.zeros(n, np.int64), "y": y, "x": x,
        "vy": rng.normal(0, speed, n), "vx": rng.normal(0, speed, n),
        "radius": radius, "target_radius": radius.copy(), "elongation": rng.uniform(1.0, 1.35, n),
        "angle": rng.uniform(0, np.pi, n), "brightness": rng.uniform(*signal, n),
        "texture_y": rng.integers(0, _TEXTURE_SIZE, n), "texture_x": rng.integers(0, _TEXTURE_SIZE, n),
        "age": np.zeros(n, np.int64), "cycle": rng.integers(cell_cycle[0], cell_cycle[1] + 1, n),
    }


def _select(cells: dict[str, np.ndarray], rows) -> dict[str, np.ndarray]:
    return {key: value[rows] for key, value in cells.items()}


def _concatenate(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: np.concatenate((first[key], second[key])) for key in first}


def _push_apart(cells: dict[str, np.ndarray], overlap: float = 0.8, iterations: int = 2) -> None:
    """Move overlapping neighbours apart until their distance is ``overlap`` x the sum of radii.

    ``overlap < 1`` lets neighbours touch and slightly overlap (occlusion), as dense nuclei do.
    """
    if len(cells["y"]) < 2:
        return
    reach = 2 * float((cells["radius"] * cells["elongation"]).max())
    for _ in range(iterations):
        positions = np.stack((cells["y"], cells["x"]), axis=1)
        pairs = cKDTree(positions).query_pairs(reach, output_type="ndarray")
        if not len(pairs):
            return
        first, second = pairs[:, 0], pairs[:, 1]
        offset = positions[first] - positions[second]
        distance = np.maximum(np.linalg.norm(offset, axis=1), 1e-6)
        shortfall = overlap * (cells["radius"][first] + cells["radius"][second]) - distance
        push = (np.maximum(shortfall, 0) / 2 / distance)[:, None] * offset
        for key, column in (("y", 0), ("x", 1)):
            np.add.at(cells[key], first, push[:, column])
            np.add.at(cells[key], second, -push[:, column])


def _render(cells: dict[str, np.ndarray], texture: np.ndarray, height: int, width: int,
            marker_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rasterise all cells.

    Returns ``segmentation`` and ``markers`` (uint16 ``(H, W)`` label images; a marker is the part of
    the visible cell inside its ellipse shrunk by ``marker_scale``), ``signal`` (float32 ``(H, W)``,
    the cells' fluorescence before blur and noise) and ``seen`` (bool per cell: has a marker pixel,
    hence a mask pixel). Later rows are drawn on top.
    """
    n = len(cells["label"])
    half = int(np.ceil((cells["radius"] * cells["elongation"]).max(initial=1.0))) + 1
    dy, dx = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1), indexing="ij")
    pixels, owners, values, cores = [], [], [], []
    for start in range(0, max(n, 1), _RENDER_CHUNK):  # one empty chunk when every cell has left the field
        rows = slice(start, start + _RENDER_CHUNK)
        cy, cx = np.round(cells["y"][rows]).astype(np.int64), np.round(cells["x"][rows]).astype(np.int64)
        ry = dy + (cy - cells["y"][rows])[:, None, None]  # pixel centre relative to the cell centre
        rx = dx + (cx - cells["x"][rows])[:, None, None]
        cos, sin = np.cos(cells["angle"][rows])[:, None, None], np.sin(cells["angle"][rows])[:, None, None]
        major = (cells["radius"][rows] * cells["elongation"][rows])[:, None, None]
        minor = (cells["radius"][rows] / cells["elongation"][rows])[:, None, None]
        rho2 = ((cos * rx + sin * ry) / major) ** 2 + ((cos * ry - sin * rx) / minor) ** 2
        py, px = cy[:, None, None] + dy, cx[:, None, None] + dx
        cell, i, j = np.nonzero((rho2 <= 1) & (py >= 0) & (py < height) & (px >= 0) & (px < width))
        grain = texture[(i + cells["texture_y"][rows][cell]) % _TEXTURE_SIZE,
                        (j + cells["texture_x"][rows][cell]) % _TEXTURE_SIZE]
        shading = 0.55 + 0.45 * (1 - rho2[cell, i, j])  # brighter centre, dimmer rim
        pixels.append(py[cell, i, j] * width + px[cell, i, j])
        owners.append(cell + start)
        values.append(cells["brightness"][rows][cell] * shading * (1 + 0.7 * grain))
        cores.append(rho2[cell, i, j] <= marker_scale ** 2)
    pixel, owner = np.concatenate(pixels), np.concatenate(owners)
    top = np.full(height * width, -1, dtype=np.int64)
    np.maximum.at(top, pixel, owner)
    visible = top[pixel] == owner
    core = visible & np.concatenate(cores)
    segmentation = np.zeros(height * width, np.uint16)
    segmentation[pixel[visible]] = cells["label"][owner[visible]]
    markers = np.zeros(height * width, np.uint16)
    markers[pixel[core]] = cells["label"][owner[core]]
    signal = np.zeros(height * width, np.float32)
    signal[pixel[visible]] = np.concatenate(values)[visible]
    seen = np.bincount(owner[core], minlength=n) > 0
    shape = (height, width)
    return segmentation.reshape(shape), markers.reshape(shape), signal.reshape(shape), seen


def _step(cells: dict[str, np.ndarray], rng: np.random.Generator, next_label: int, height: int, width: int,
          settings: dict) -> tuple[dict[str, np.ndarray], int]:
    """Advance the population one frame: move, grow, divide, let cells enter. Returns (cells, next_label)."""
    n = len(cells["label"])
    speed = settings["speed"]
    cells["vy"] = 0.8 * cells["vy"] + rng.normal(0, 0.6 * speed, n)
    cells["vx"] = 0.8 * cells["vx"] + rng.normal(0, 0.6 * speed, n)
    cells["y"] = cells["y"] + cells["vy"] + settings["drift"][0]
    cells["x"] = cells["x"] + cells["vx"] + settings["drift"][1]
    cells["radius"] += 0.08 * (cells["target_radius"] - cells["radius"])
    cells["angle"] += rng.normal(0, 0.05, n)
    cells["brightness"] = np.clip(cells["brightness"] * rng.normal(1, 0.02, n), *settings["signal"])
    cells["age"] += 1

    room = min(settings["max_cells"] - n, MAX_LABEL + 1 - next_label)
    dividing = np.flatnonzero(cells["age"] >= cells["cycle"])[: max(room // 2, 0)]
    if len(dividing):
        mothers = _select(cells, dividing)
        daughters = _concatenate(mothers, mothers)
        count = len(dividing)
        daughters["label"] = np.arange(next_label, next_label + 2 * count)
        daughters["parent"] = np.tile(mothers["label"], 2)
        side = np.repeat([1.0, -1.0], count)
        shift = 0.5 * daughters["radius"] * daughters["elongation"] * side
        daughters["y"] = daughters["y"] + shift * np.sin(daughters["angle"])
        daughters["x"] = daughters["x"] + shift * np.cos(daughters["angle"])
        daughters["radius"] = daughters["radius"] / np.sqrt(2)  # half the area; grows back
        daughters["angle"] = daughters["angle"] + np.pi / 2 + rng.normal(0, 0.3, 2 * count)
        daughters["age"] = np.zeros(2 * count, np.int64)
        daughters["cycle"] = rng.integers(settings["cell_cycle"][0], settings["cell_cycle"][1] + 1, 2 * count)
        daughters["texture_y"] = rng.integers(0, _TEXTURE_SIZE, 2 * count)
        cells = _concatenate(_select(cells, np.setdiff1d(np.arange(n), dividing)), daughters)
        next_label += 2 * count
        room -= 2 * count

    entering = min(rng.poisson(settings["entry_rate"]), max(room, 0))
    if entering:
        border = rng.integers(0, 4, entering)  # top, bottom, left, right
        along = rng.uniform(0, 1, entering)
        radius_in = 0.3 * settings["cell_radius"][1]  # centre just inside the border: partly visible
        y = np.select([border == 0, border == 1], [radius_in, height - 1 - radius_in], along * (height - 1))
        x = np.select([border == 2, border == 3], [radius_in, width - 1 - radius_in], along * (width - 1))
        labels = np.arange(next_label, next_label + entering)
        newcomers = _new_cells(rng, labels, y, x, settings["cell_radius"], settings["signal"],
                               settings["cell_cycle"], settings["speed"])
        newcomers["age"] = rng.integers(0, settings["cell_cycle"][0], entering)
        cells = _concatenate(cells, newcomers)
        next_label += entering
    _push_apart(cells)
    return cells, next_label


def _texture_tile(rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in [-1, 1] (chromatin-like grain), tiled over every cell."""
    noise = rng.normal(size=(2, _TEXTURE_SIZE, _TEXTURE_SIZE))
    fine = ndimage.gaussian_filter(noise[0], 1.5, mode="wrap")
    blobs = ndimage.gaussian_filter(noise[1], 4.0, mode="wrap")  # bright chromatin clumps, dark nucleoli
    grain = fine / fine.std() + 1.5 * blobs / blobs.std()
    return np.clip(grain / (2 * grain.std()), -1, 1).astype(np.float32)


def make_synthetic_sequence(
    root, sequence: str = "01", num_frames: int = 8, num_cells: int = 8, height: int = 128,
    width: int = 128, seed: int = 0, *, cell_radius: tuple[float, float] = (8.0, 12.0),
    speed: float = 1.0, drift: tuple[float, float] = (0.3, 0.2), cell_cycle: tuple[int, int] = (30, 90),
    entry_rate: Optional[float] = None, max_cells: Optional[int] = None, marker_scale: float = 1.0,
    background: float = 90.0, signal: tuple[float, float] = (40.0, 110.0), noise: float = 5.0,
) -> np.ndarray:
    """Simulate a movie and write it as CTC sequence ``root/sequence`` with exact GT.

    Writes ``NN/tTTT.tif`` (uint16 raw), ``NN_GT/SEG/man_segTTT.tif`` (full masks),
    ``NN_GT/TRA/man_trackTTT.tif`` (markers) and ``NN_GT/TRA/man_track.txt``; labels are track ids in
    both SEG and TRA. Frame names have 3 digits, 4 above 1000 frames.

    Args:
        root: dataset folder (created).
        sequence: sequence folder name.
        num_frames, num_cells, height, width: movie length, initial cell count, frame size (pixels).
        seed: random seed; the same arguments give byte-identical files.
        cell_radius: range of cell radii (pixels).
        speed: random-walk step (pixels/frame); drift: common (dy, dx) motion (pixels/frame).
        cell_cycle: range of frames between divisions (first divisions come earlier: initial ages are
            random). Fluo-N2DH-SIM+ divides roughly once per 60 frames.
        entry_rate: mean number of cells entering per frame (default ``num_cells / 50``).
        max_cells: no division or entry above this many cells (default ``2 * num_cells``). New tracks
            also stop once the 65535 16-bit labels are used.
        marker_scale: TRA marker = visible cell inside its ellipse scaled by this (1 = the whole cell,
            as in SIM+; ~0.5 gives GOWT1-like blobs).
        background, signal, noise: background level, range of cell brightness above it, and noise
            standard deviation (16-bit grey values; SIM+ has ~92, ~60 and ~5).

    Returns:
        The lineage as ``(N, 4)`` int64 rows ``[label, begin, end, parent]``.
    """
    rng = np.random.default_rng(seed)
    settings = dict(speed=speed, drift=drift, cell_cycle=cell_cycle, signal=signal, cell_radius=cell_radius,
                    entry_rate=num_cells / 50 if entry_rate is None else entry_rate,
                    max_cells=2 * num_cells if max_cells is None else max_cells)
    root = Path(root)
    raw_dir, seg_dir, tra_dir = root / sequence, root / f"{sequence}_GT" / "SEG", root / f"{sequence}_GT" / "TRA"
    for folder in (raw_dir, seg_dir, tra_dir):
        folder.mkdir(parents=True, exist_ok=True)
    digits = 4 if num_frames > 1000 else 3
    texture = _texture_tile(rng)
    ramp = np.add.outer(np.linspace(-0.5, 0.5, height) * rng.normal(),
                        np.linspace(-0.5, 0.5, width) * rng.normal())
    illumination = (background * (1 + 0.1 * ramp)).astype(np.float32)  # uneven illumination

    cells = _new_cells(rng, np.arange(1, num_cells + 1), rng.uniform(0, height - 1, num_cells),
                       rng.uniform(0, width - 1, num_cells), cell_radius, signal, cell_cycle, speed)
    cells["age"] = rng.integers(0, cells["cycle"])  # desynchronised: divisions spread over the movie
    _push_apart(cells, iterations=5)
    next_label, spans = num_cells + 1, {}  # spans: label -> [begin, end, parent]
    for frame in range(num_frames):
        if frame:
            cells, next_label = _step(cells, rng, next_label, height, width, settings)
        while True:  # a cell with no visible marker or pixel has left the field (or is hidden): end it
            segmentation, markers, fluorescence, seen = _render(cells, texture, height, width, marker_scale)
            if seen.all():
                break
            cells = _select(cells, seen)
        for label, parent in zip(cells["label"].tolist(), cells["parent"].tolist()):
            spans.setdefault(label, [frame, frame, parent])[1] = frame
        image = illumination * rng.normal(1, 0.02) + ndimage.gaussian_filter(fluorescence, 1.2)
        shot_noise = 0.3 * (image - background).clip(0)  # brighter pixels are noisier
        image += rng.normal(0, 1, image.shape).astype(np.float32) * np.sqrt(noise ** 2 + shot_noise)
        name = f"{frame:0{digits}d}.tif"
        tifffile.imwrite(raw_dir / f"t{name}", np.clip(np.rint(image), 0, 65535).astype(np.uint16))
        write_label_image(seg_dir / f"man_seg{name}", segmentation)
        write_label_image(tra_dir / f"man_track{name}", markers)
    lineage = np.array([[label, *span] for label, span in sorted(spans.items())], dtype=np.int64).reshape(-1, 4)
    write_lineage(tra_dir / "man_track.txt", lineage)
    return lineage
