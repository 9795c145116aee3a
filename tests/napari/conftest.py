"""Fixtures of the napari plugin's tests: a CellTrack result to open, the plugin registered, a viewer.

The tests run headless: Qt's offscreen platform, and OpenGL from the X server pytest-xvfb starts when
Xvfb is installed (``apt install xvfb``). Without OpenGL the viewer is napari's ``ViewerModel`` (the same
layers, no canvas) and the screenshot test is skipped. Without napari (``pip install -e .[napari]``) every
test here is skipped, each module saying so.
"""
import os
from pathlib import Path

import pytest
from napari_checks import opengl_available

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt creates the QApplication

MANIFEST = Path(__file__).parents[2] / "celltrack" / "napari" / "napari.yaml"


@pytest.fixture
def celltrack_plugin(npe2pm):
    """CellTrack's manifest registered with npe2's test plugin manager (the file in this checkout, whether
    or not the package is installed with its entry point)."""
    from npe2 import PluginManifest

    npe2pm.register(PluginManifest.from_file(MANIFEST))
    return npe2pm


@pytest.fixture
def viewer(qapp, celltrack_plugin, make_napari_viewer):
    """A napari viewer with CellTrack's plugin; napari's ``ViewerModel`` where there is no OpenGL."""
    if opengl_available():
        return make_napari_viewer()
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture(scope="session")
def tracked_result(trained_tiny, tmp_path_factory):
    """A finished track_movie output folder: the tiny model's linker on a synthetic movie's own masks (so
    the tracks and divisions are real ones). Returns (output folder, raw movie folder)."""
    from celltrack.data.synthetic import make_synthetic_sequence
    from celltrack.tracking.predictor import CellTrackPredictor
    from celltrack.tracking.track_movie import track_movie

    cfg, weights, _ = trained_tiny
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    root = tmp_path_factory.mktemp("napari_result") / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=12, num_cells=10, height=192, width=192, seed=4,
                            cell_radius=(7.0, 11.0), cell_cycle=(4, 14))
    out = root.parent / "synthetic-01"
    track_movie(CellTrackPredictor(cfg), root / "01", out, masks=root / "01_GT" / "SEG")
    return out, root / "01"
