"""celltrack/napari/widget.py: CellTrack run from napari on an image layer, in a worker thread."""
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import tifffile

pytest.importorskip("napari", reason="napari is not installed: pip install -e .[napari] runs these tests")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed: pip install -e .[napari] runs these tests")

from celltrack.data.ctc import read_lineage  # noqa: E402
from celltrack.napari.widget import TrackWidget  # noqa: E402

from napari_checks import assert_tracks_match_lineage, ctc_masks, opengl_available  # noqa: E402

REPO = Path(__file__).parents[2]
TINY_CONFIG = REPO / "configs" / "CellTrack-R18-FPN-tiny.yaml"


def movie_of(folder):
    return np.stack([tifffile.imread(path) for path in sorted(Path(folder).glob("t*.tif"))])


def tiny_widget(viewer, trained_tiny, movie, output=None):
    _, weights, _ = trained_tiny
    viewer.add_image(movie, name="cells")
    widget = TrackWidget(viewer)
    widget.config_file.value, widget.weights.value = TINY_CONFIG, weights
    widget.overrides.value = "CELLTRACK.TRACKER.MIN_SCORE 0.05"  # the tiny model is barely trained
    widget.output.value = output
    return widget


def test_tracks_an_image_layer_and_adds_the_result(viewer, trained_tiny, qtbot, tmp_path):
    _, _, root = trained_tiny
    movie = movie_of(root / "01")
    widget = tiny_widget(viewer, trained_tiny, movie, output=tmp_path / "out")
    assert widget.image.value is viewer.layers["cells"]
    widget.run_button.native.click()
    progress = []
    widget.worker.yielded.connect(progress.append)
    assert not widget.run_button.enabled and widget.cancel_button.enabled
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=60000)

    assert progress == list(range(len(movie) + 1)) and widget.progress.value == len(movie)
    assert widget.result == tmp_path / "out" and (widget.result / "tracks.geff").is_dir()
    labels, tracks = viewer.layers["cells masks"], viewer.layers["cells tracks"]
    masks = ctc_masks(widget.result / "res")
    assert masks.shape == movie.shape and masks.max() > 0
    assert np.array_equal(labels.data, masks)
    assert_tracks_match_lineage(tracks, widget.result / "res" / "res_track.txt")
    tracked = len(read_lineage(widget.result / "res" / "res_track.txt"))
    assert f"{tracked} tracks" in widget.status.value and str(widget.result) in widget.status.value
    assert not widget._work.exists()  # the temporary copy of the movie is gone (the results went to --output)


def test_cancel_stops_and_removes_the_run(viewer, trained_tiny, qtbot, tmp_path, monkeypatch):
    from celltrack.tracking.predictor import CellTrackPredictor

    _, _, root = trained_tiny
    gate, track = threading.Event(), CellTrackPredictor.__call__

    def held_at_frame_2(self, image, labels=None):  # frame 2 waits for Cancel, so the run cannot end first
        if self.frame == 2:
            assert gate.wait(30)
        return track(self, image, labels)

    monkeypatch.setattr(CellTrackPredictor, "__call__", held_at_frame_2)
    widget = tiny_widget(viewer, trained_tiny, movie_of(root / "01"), output=tmp_path / "out")
    worker = widget.run()
    worker.yielded.connect(lambda done: (widget.cancel_button.native.click(), gate.set()) if done == 2 else None)
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=60000)
    # the worker stops at its next check, before frame 2 or after it (Cancel comes while it starts frame 2)
    assert widget.progress.value in (2, 3) and "cancelled" in widget.status.value
    assert not (tmp_path / "out").exists()  # every file of the run removed, and the folder it created
    assert [layer.name for layer in viewer.layers] == ["cells"]


def test_inputs_that_cannot_be_used_say_so_in_one_line(viewer, trained_tiny, qtbot, tmp_path):
    _, weights, _ = trained_tiny
    viewer.add_image(np.zeros((2, 3, 32, 32), dtype=np.uint16), name="hyperstack")
    widget = TrackWidget(viewer)
    assert widget.run() is None
    assert widget.status.value.startswith("error: layer 'hyperstack': has 4 dimensions") and "\n" not in \
        widget.status.value
    widget.weights.value = weights
    assert widget.run() is None and widget.status.value.startswith(f"error: {weights}: a config and its weights")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("user data")
    viewer.layers.clear()
    viewer.add_image(np.zeros((2, 32, 32), dtype=np.uint16), name="movie")
    widget.weights.value, widget.output.value = None, tmp_path / "full"
    assert widget.image.value is viewer.layers["movie"]
    assert widget.run() is None and widget.status.value == (f"error: {tmp_path / 'full'}: is not empty. Choose a new "
                                                            f"or empty output folder.")
    widget.output.value, widget.overrides.value = None, "CELLTRACK.NO_SUCH_KEY 1"
    assert widget.run() is None and "NO_SUCH_KEY" in widget.status.value
    # found only when the worker loads the model: the same line, from the worker
    widget.config_file.value, widget.weights.value, widget.overrides.value = TINY_CONFIG, tmp_path / "nope.pth", ""
    assert widget.run() is not None
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=30000)
    assert widget.status.value.startswith(f"error: {tmp_path / 'nope.pth'}: no such weights file")
    assert [layer.name for layer in viewer.layers] == ["movie"]


def test_screenshot_of_a_result(viewer, tracked_result, tmp_path):
    """The README's picture: a result opened over its movie, the Track cells widget docked.
    ``CELLTRACK_SCREENSHOT=docs/napari.png python -m pytest tests/napari -k screenshot`` writes it there."""
    if not opengl_available():
        pytest.skip("no OpenGL for napari's canvas: install Xvfb (apt install xvfb); pytest-xvfb then starts it")
    out, movie_folder = tracked_result
    viewer.add_image(movie_of(movie_folder), name="movie", colormap="gray")
    viewer.open(out, plugin="celltrack")
    _, widget = viewer.window.add_plugin_dock_widget("celltrack", "Track cells")  # as Plugins > CellTrack does
    assert isinstance(widget, TrackWidget) and widget.image.value is viewer.layers["movie"]
    viewer.window.resize(1400, 820)
    viewer.reset_view()
    viewer.dims.set_current_step(0, 8)
    picture = viewer.screenshot(path=tmp_path / "napari.png", canvas_only=False)
    assert picture.ndim == 3 and picture.shape[0] > 300 and len(np.unique(picture.reshape(-1, 4), axis=0)) > 50
    if os.environ.get("CELLTRACK_SCREENSHOT"):
        shutil.copyfile(tmp_path / "napari.png", REPO / os.environ["CELLTRACK_SCREENSHOT"])  # absolute: as given
