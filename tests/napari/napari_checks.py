"""Checks shared by the napari tests (this folder is on sys.path: pytest's default import mode)."""
import functools

import numpy as np
import tifffile

from celltrack.data.ctc import read_lineage


@functools.lru_cache(maxsize=None)
def opengl_available() -> bool:
    """Whether Qt can make an OpenGL context current (napari's canvas needs one); needs a QApplication."""
    from qtpy.QtGui import QOffscreenSurface, QOpenGLContext

    context, surface = QOpenGLContext(), QOffscreenSurface()
    surface.create()
    return context.create() and context.makeCurrent(surface)


def ctc_masks(folder, prefix="mask"):
    return np.stack([tifffile.imread(path) for path in sorted(folder.glob(f"{prefix}*.tif"))])


def assert_tracks_match_lineage(layer, lineage_path):
    """Rows [track_id, frame, y, x]: each track present exactly on frames B..E of its lineage line; the
    layer's graph is the lineage's parents."""
    lineage = read_lineage(lineage_path)
    data = layer.data
    assert data.shape == (int((lineage[:, 2] - lineage[:, 1] + 1).sum()), 4)
    for label, begin, end, _ in lineage.tolist():
        frames = data[data[:, 0] == label, 1]
        assert frames.tolist() == list(range(begin, end + 1)), label
    assert layer.graph == {label: [parent] for label, _, _, parent in lineage.tolist() if parent}
