"""Pictures people look at: a frame overlaid with its tracked cells, and the lineage tree."""
from pathlib import Path

import cv2
import numpy as np

from ..data.normalize import DEFAULT_PERCENTILES


def track_colors(track_ids: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 BGR colours, fixed per track id so that a cell keeps its colour through the movie."""
    hues = (np.asarray(track_ids, dtype=np.int64) * 47) % 180
    hsv = np.stack([hues, np.full_like(hues, 200), np.full_like(hues, 255)], axis=1).astype(np.uint8)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2BGR)[0]


def overlay_frame(image: np.ndarray, track_labels: np.ndarray, parent_of: dict = None) -> np.ndarray:
    """Frame with cells coloured by track, outlined, and their track ids written at their centres.

    Args:
        image: (H, W) raw frame (any dtype; shown with a 1-99.8 percentile stretch).
        track_labels: (H, W) label image whose values are track ids (0 = background).
        parent_of: track id -> parent id; daughters (parent != 0) get "id<parent" to show divisions.

    Returns:
        (sH, sW, 3) uint8 BGR picture, s = an integer upscaling (nearest neighbour) that makes small
        frames at least 512 px wide so that the ids stay legible; s = 1 for larger frames.
    """
    scale = max(1, 512 // max(image.shape))
    if scale > 1:
        image = cv2.resize(image.astype(np.float32), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        track_labels = cv2.resize(track_labels.astype(np.int32), None, fx=scale, fy=scale,
                                  interpolation=cv2.INTER_NEAREST)
    low, high = np.percentile(image, DEFAULT_PERCENTILES)  # the network's stretch
    gray = np.clip((image.astype(np.float32) - low) / max(high - low, 1e-6), 0, 1)
    picture = np.repeat((gray * 255).astype(np.uint8)[..., None], 3, axis=2)
    ids = np.unique(track_labels)
    ids = ids[ids > 0]
    if len(ids) == 0:
        return picture
    lookup = np.zeros((int(ids.max()) + 1, 3), dtype=np.uint8)
    lookup[ids] = track_colors(ids)
    colored = lookup[track_labels]
    inside = track_labels > 0
    picture[inside] = (0.55 * picture[inside] + 0.45 * colored[inside]).astype(np.uint8)
    edges = inside & (cv2.morphologyEx(track_labels.astype(np.float32), cv2.MORPH_GRADIENT, np.ones((3, 3))) > 0)
    picture[edges] = colored[edges]
    for track_id in ids:
        ys, xs = np.nonzero(track_labels == track_id)
        parent = (parent_of or {}).get(int(track_id), 0)
        text = f"{track_id}<{parent}" if parent else str(track_id)
        cv2.putText(picture, text, (int(xs.mean()) - 6, int(ys.mean()) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return picture


def write_movie(frame_files, path: Path, fps: float = 5.0) -> None:
    """Assemble PNG frames (in order) into an MP4 movie at ``path``."""
    frame_files = list(frame_files)
    if not frame_files:
        return
    first = cv2.imread(str(frame_files[0]))
    height, width = first.shape[:2]
    temporary = path.with_name(path.stem + ".partial" + path.suffix)
    writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for file in frame_files:
        writer.write(cv2.imread(str(file)))
    writer.release()
    temporary.replace(path)


def plot_lineage(lineage: np.ndarray, path: Path, title: str = "") -> None:
    """Lineage tree picture: one horizontal line per track over its frames, divisions as vertical links.

    Args:
        lineage: (T, 4) rows track_id, first_frame, last_frame, parent_id (CTC ``res_track.txt``).
        path: PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in lineage}
    children = {}
    for track, (_, _, parent) in rows.items():
        children.setdefault(parent if parent in rows else 0, []).append(track)
    order = []

    def visit(track):  # depth-first, so daughters sit next to their mother
        order.append(track)
        for child in sorted(children.get(track, []), key=lambda t: rows[t][0]):
            visit(child)

    for root in sorted(children.get(0, []), key=lambda t: (rows[t][0], t)):
        visit(root)
    height = max(3.0, min(0.12 * len(order), 40.0))
    figure, axes = plt.subplots(figsize=(10, height))
    y_of = {track: y for y, track in enumerate(order)}
    for track, y in y_of.items():
        first, last, parent = rows[track]
        color = track_colors([track])[0][::-1] / 255.0
        axes.plot([first, last + 1], [y, y], color=color, linewidth=2, solid_capstyle="butt")
        if parent in y_of:
            axes.plot([first, first], [y_of[parent], y], color="0.4", linewidth=0.8)
    axes.invert_yaxis()
    axes.set_xlabel("frame")
    axes.set_ylabel("track (depth-first by lineage)")
    divisions = sum(1 for c in children if c and len(children[c]) >= 2)
    axes.set_title(title or f"{len(rows)} tracks, {divisions} divisions")
    if len(order) <= 60:
        axes.set_yticks(range(len(order)), [str(t) for t in order], fontsize=6)
    figure.tight_layout()
    temporary = path.with_name(path.stem + ".partial.png")
    figure.savefig(temporary, dpi=120)
    plt.close(figure)
    temporary.replace(path)
