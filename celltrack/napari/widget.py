"""The "Track cells" dock widget: run CellTrack on an image layer (a time-lapse T x Y x X) inside napari.

The widget runs exactly what ``tools/track_video.py MOVIE --output OUT`` runs: the movie layer is saved as
a TIFF stack in a temporary folder and :func:`celltrack.tracking.track_movie.track_movie_frames` tracks it
into the output folder (CTC result, tracks.csv, tracks.geff, overlay, lineage, summary), one frame at a
time in a napari ``thread_worker``, so the viewer stays responsive; the progress bar moves with each saved
frame. At the end the result folder is opened with :func:`celltrack.napari.reader.read_result` and its
labels and tracks layers are added. Cancel stops after the frame being tracked and removes the files the
run wrote (:func:`~celltrack.tracking.track_movie.remove_outputs`).

The model is the one shipped in ``celltrack/model_zoo`` unless a config and weights (both) are chosen, as
for track_video; "overrides" takes track_video's trailing ``KEY VALUE`` pairs
(``CELLTRACK.TRACKER.METHOD global``). Without an output folder the results go to a new temporary folder,
named in the status line and in the layers' ``metadata["celltrack_result"]``. An input that cannot be used
shows one line, ``error: <what>: <what is wrong>. <what to do>``, as the tools print it.
"""
from __future__ import annotations

import re
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import tifffile
from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, ProgressBar, PushButton
from napari.layers import Image, Layer
from napari.qt.threading import GeneratorWorker, thread_worker

from .. import model_zoo
from ..cli import USER_ERRORS, error_line, load_config
from ..data.movie import DataError
from .reader import read_result


def devices() -> list[str]:
    """The devices the widget offers: ``cpu``, and ``cuda`` when torch sees a GPU (listed first then)."""
    import torch

    return ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]


def movie_of(layer: Image) -> np.ndarray:
    """An image layer's data as a (T, Y, X) movie (a 2-D image is one frame); DataError for anything else
    (RGB, channels or z-slices)."""
    data = layer.data[0] if layer.multiscale else layer.data  # full resolution
    if layer.rgb:
        raise DataError(f"layer '{layer.name}': is an RGB image; CellTrack tracks one channel. Split it "
                        f"(right-click the layer > Split RGB) and choose one channel.")
    if data.ndim not in (2, 3):
        raise DataError(f"layer '{layer.name}': has {data.ndim} dimensions {tuple(data.shape)}; CellTrack tracks a "
                        f"time-lapse (T, Y, X). Split the channels or z-slices (right-click the layer > Split Stack) "
                        f"and choose one plane.")
    movie = np.asarray(data)
    return movie[None] if movie.ndim == 2 else movie


def _safe_name(name: str) -> str:
    """A layer name as a file name: letters, digits, ``-``, ``_`` and ``.``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "movie"


@thread_worker
def track_frames(cfg, movie_path: Path, out_dir: Path, running: dict):
    """The worker's generator: build the predictor (loads the weights), then track ``movie_path`` into
    ``out_dir`` with :func:`~celltrack.tracking.track_movie.track_movie_frames`; yields the number of frames
    done, returns track_movie's summary. ``running["frames"]`` is that generator, for the caller to close
    when the worker is aborted (between two frames)."""
    from ..tracking.predictor import CellTrackPredictor
    from ..tracking.track_movie import track_movie_frames

    predictor = CellTrackPredictor(cfg)
    yield 0
    frames = running["frames"] = track_movie_frames(predictor, movie_path, out_dir)
    try:
        while True:
            yield next(frames) + 1
    except StopIteration as finished:
        return finished.value


class TrackWidget(Container):
    """Dock widget: image layer -> CellTrack -> labels and tracks layers (module docstring).

    ``napari_viewer``: the viewer (napari passes it by this name); its image layers are the choices.
    After a run, ``result`` is the output folder and ``worker`` the finished worker.
    """

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self.worker: Optional[GeneratorWorker] = None
        self.result: Optional[Path] = None
        self._movie_dir: Optional[Path] = None
        self._running: dict = {}
        self.image = ComboBox(label="movie", choices=self._image_layers,
                              tooltip="image layer to track: a time-lapse (T, Y, X)")
        self.config_file = FileEdit(label="config", mode="r", filter="*.yaml", nullable=True,
                                    tooltip="the config the weights were trained with (empty: the shipped model, "
                                            f"{model_zoo.DEFAULT_MODEL})")
        self.weights = FileEdit(label="weights", mode="r", filter="*.pth", nullable=True,
                                tooltip="trained CellTrack checkpoint (.pth) (empty: the shipped model's)")
        self.overrides = LineEdit(label="overrides", value="",
                                  tooltip="config KEY VALUE pairs, e.g. CELLTRACK.TRACKER.METHOD global")
        self.device = ComboBox(label="device", choices=devices())
        self.output = FileEdit(label="output folder", mode="d", nullable=True,
                               tooltip="a new or empty folder for the results (empty: a new temporary folder)")
        self.run_button = PushButton(text="Track cells")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="frames", min=0, max=1, value=0)
        self.status = Label(value="")
        super().__init__(widgets=[self.image, self.config_file, self.weights, self.overrides, self.device, self.output,
                                  self.run_button, self.cancel_button, self.progress, self.status])
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self.image.reset_choices)

    def _image_layers(self, _widget=None) -> list:
        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Image)]

    def say(self, line: str) -> None:
        """Show ``line`` in the status line (and the viewer's status bar)."""
        self.status.value = line
        self.viewer.status = line

    def _config(self):
        config_file, weights = self.config_file.value, self.weights.value
        if (config_file is None) != (weights is None):
            raise DataError(f"{config_file or weights}: a config and its weights go together (the config the "
                            f"weights were trained with); choose both, or neither for the shipped model.")
        if config_file is None:
            folder = model_zoo.model_folder()
            config_file, weights = folder / "config.yaml", folder / "model_final.pth"
        try:
            opts = shlex.split(self.overrides.value)
        except ValueError as error:
            raise DataError(f"overrides '{self.overrides.value}': {error}. Give KEY VALUE pairs.") from error
        if len(opts) % 2:
            raise DataError(f"overrides '{self.overrides.value}': expected KEY VALUE pairs, got {len(opts)} words. "
                            f"Give each key its value.")
        cfg = load_config(str(config_file), opts + ["MODEL.WEIGHTS", str(weights), "MODEL.DEVICE", self.device.value])
        cfg.freeze()
        return cfg

    def run(self) -> Optional[GeneratorWorker]:
        """Start tracking the chosen layer; returns the started worker (None when an input is refused, the
        status line then says why)."""
        if self.worker is not None and self.worker.is_running:
            return None
        layer = self.image.value
        try:
            if layer is None:
                raise DataError("movie: no image layer to track. Open a time-lapse (T, Y, X) first.")
            cfg = self._config()
            movie = movie_of(layer)
            if self.output.value is not None and self.output.value.exists() and any(self.output.value.iterdir()):
                raise DataError(f"{self.output.value}: is not empty. Choose a new or empty output folder.")
        except USER_ERRORS as error:
            self.say(error_line(error))
            return None
        work = Path(tempfile.mkdtemp(prefix="celltrack-napari-"))
        out_dir = self.output.value or work / _safe_name(layer.name)
        self._movie_dir = work / "movie"
        self._movie_dir.mkdir()
        movie_path = self._movie_dir / f"{_safe_name(layer.name)}.tif"
        tifffile.imwrite(movie_path, movie, metadata={"axes": "TYX"})
        self.result, self._name, self._work = Path(out_dir), layer.name, work
        self._created = not self.result.exists()
        self.progress.max, self.progress.value = len(movie), 0
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.say(f"loading the model for '{layer.name}' ...")
        self._running = {}
        # errored is ours: a user error becomes the status line instead of napari's re-raise
        self.worker = track_frames(cfg, movie_path, self.result, self._running, _connect={
            "yielded": self._frame_done, "returned": self._finished, "errored": self._failed,
            "aborted": self._cancelled, "finished": self._cleanup})
        return self.worker

    def cancel(self) -> None:
        """Stop the run after the frame being tracked (its files are removed)."""
        if self.worker is not None and self.worker.is_running:
            self.say("cancelling ...")
            self.worker.quit()

    def _frame_done(self, done: int) -> None:
        self.progress.value = done
        last = done == self.progress.max
        self.say(f"tracking '{self._name}': {done}/{self.progress.max} frames" + (", writing the results ..." * last))

    def _finished(self, summary: dict) -> None:
        for data, kwargs, layer_type in read_result(self.result, name=self._name):
            self.viewer.add_layer(Layer.create(data, kwargs, layer_type))
        self.say(f"'{self._name}': {summary['cells']} cells, {summary['tracks']} tracks, {summary['divisions']} "
                 f"divisions; results in {self.result}")

    def _failed(self, error: Exception) -> None:
        if isinstance(error, USER_ERRORS):
            self.say(error_line(error))
        else:  # a bug in CellTrack: the status line says so, napari shows the traceback
            self.say(f"CellTrack failed ({type(error).__name__}: {error}); please report it.")
            raise error

    def _cancelled(self) -> None:
        from ..tracking.track_movie import remove_outputs

        frames = self._running.pop("frames", None)
        if frames is not None:  # stopped between two frames: end the run as Ctrl-C would, then drop its files
            frames.close()
        remove_outputs(self.result)
        if self._created and self.result.is_dir() and not any(self.result.iterdir()):
            self.result.rmdir()
        self.say(f"'{self._name}': cancelled; nothing was kept.")
        self.result = None

    def _cleanup(self) -> None:
        shutil.rmtree(self._movie_dir, ignore_errors=True)
        if not any(self._work.iterdir()):  # the results went elsewhere (or were cancelled)
            self._work.rmdir()
        self.run_button.enabled, self.cancel_button.enabled = True, False
