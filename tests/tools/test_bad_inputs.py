"""What a new user gets wrong, tool by tool (issue #13).

Every row makes one bad input with the synthetic generator or tifffile, runs a tool and checks the
convention of ``celltrack.cli``: exit status 2 and one line ``error: <file/frame>: <what is wrong>.
<what to do>`` as the last thing on stderr, no traceback, and nothing that was there before changed
(inputs, earlier results, an interrupted run's state); Ctrl-C exits 130 with the ``--resume`` hint.
The tests after the table cover the runs that used to end with a wrong result and exit status 0.

Tools run in-process (``main(argv)``: seconds) except the rows marked ``subprocess``.
"""
import functools
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import cv2
import numpy as np
import pytest
import tifffile
import torch
from ctc_metrics.scripts.validate import validate_sequence

from celltrack.data.geff import read_geff
from celltrack.data.synthetic import make_synthetic_sequence
from celltrack.tracking.predictor import CellTrackPredictor

REPO = Path(__file__).parents[2]
TINY_CONFIG = REPO / "configs" / "CellTrack-R18-FPN-tiny.yaml"
TOOLS = {"track_video": "tools/track_video.py", "evaluate": "tools/evaluate.py", "train_net": "tools/train_net.py",
         "trk_to_ctc": "datasets/trk_to_ctc.py", "make_synthetic": "datasets/make_synthetic.py",
         "convert": "tools/convert.py"}
# error: <file/frame>: <what is wrong>. <what to do>   (the last part ends with a full stop)
ERROR_LINE = re.compile(r"error: \S.*?: .+\.")


@functools.lru_cache(maxsize=None)
def tool_module(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / TOOLS[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(name: str, argv, capsys, in_subprocess: bool = False) -> tuple[int, str]:
    """Run a tool as a user would; return (exit status, stderr)."""
    argv = [str(arg) for arg in argv]
    if in_subprocess:
        done = subprocess.run([sys.executable, str(REPO / TOOLS[name]), *argv], capture_output=True, text=True,
                              cwd=REPO, timeout=300)
        return done.returncode, done.stderr
    capsys.readouterr()
    try:
        status = tool_module(name).main(argv)
    except SystemExit as exit:  # argparse
        status = exit.code
    return status, capsys.readouterr().err


def interrupt_at(monkeypatch, frame: int) -> None:
    """Ctrl-C while the predictor works on ``frame``."""
    original = CellTrackPredictor.segment

    def interrupted(self, image, labels=None, neighbours=(None, None)):
        if self.frames == frame:  # frames segmented so far, this run's and a resumed run's
            raise KeyboardInterrupt
        return original(self, image, labels, neighbours)

    monkeypatch.setattr(CellTrackPredictor, "segment", interrupted)


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
            for path in sorted(folder.rglob("*"))}


def write_trk(path: Path) -> None:
    """A minimal DeepCell .trk: two 16x16 frames, one cell."""
    tracked = np.zeros((2, 16, 16, 1), np.int32)
    tracked[:, 4:8, 4:8] = 1
    members = {"raw.npy": np.zeros((2, 16, 16, 1), np.uint16), "tracked.npy": tracked,
               "lineage.json": {"1": {"label": 1, "frames": [0, 1], "daughters": [], "parent": None,
                                      "capped": False, "frame_div": None}}}
    with tarfile.open(path, "w") as archive:
        for name, content in members.items():
            buffer = io.BytesIO()
            if name.endswith(".npy"):
                np.save(buffer, content)
            else:
                buffer.write(json.dumps(content).encode())
            info = tarfile.TarInfo(name)
            info.size = buffer.tell()
            buffer.seek(0)
            archive.addfile(info, buffer)


class Case:
    """The inputs of one row, in ``tmp``: a 4-frame 64x64 movie (``data/01``) with its GT, and an output folder."""

    def __init__(self, tmp: Path, request, monkeypatch, capsys):
        self.tmp, self.request, self.monkeypatch, self.capsys = tmp, request, monkeypatch, capsys
        self.root = tmp / "data"
        make_synthetic_sequence(self.root, "01", num_frames=4, num_cells=3, height=64, width=64, seed=0,
                                cell_radius=(6.0, 9.0))
        self.movie, self.labels, self.gt = self.root / "01", self.root / "01_GT" / "SEG", self.root / "01_GT"
        self.out = tmp / "out"

    @property
    def weights(self) -> Path:
        return self.request.getfixturevalue("trained_tiny")[1]

    def track(self, movie=None, *extra, weights=None, out=None) -> list:
        """track_video arguments with the tiny trained model."""
        return [movie or self.movie, "--config-file", TINY_CONFIG, "--weights", weights or self.weights,
                "--output", out or self.out, *extra, "CELLTRACK.TRACKER.MIN_SCORE", "0.05"]

    def folder(self, name: str, images) -> Path:
        """A movie folder ``name`` of the given 2-D frames (``t000.tif``, ...)."""
        folder = self.tmp / name
        folder.mkdir()
        for frame, image in enumerate(images):
            tifffile.imwrite(folder / f"t{frame:03d}.tif", image)
        return folder

    def frames(self, folder=None) -> list:
        return [tifffile.imread(path) for path in sorted(Path(folder or self.movie).glob("*.tif"))]

    def hyperstack(self, axes: str) -> Path:
        """The movie as an ImageJ hyperstack with a second axis of 3 z-slices or 2 channels."""
        repeat = 3 if "Z" in axes else 2
        path = self.tmp / f"movie_{axes}.tif"
        tifffile.imwrite(path, np.stack([np.stack([image] * repeat) for image in self.frames()]), imagej=True,
                         metadata={"axes": axes})
        return path

    def interrupted(self, *argv) -> None:
        """An interrupted track_video run in ``self.out`` (Ctrl-C at frame 2), the state saved."""
        with self.monkeypatch.context() as patch:
            interrupt_at(patch, 2)
            assert run_tool("track_video", argv or self.track(), self.capsys)[0] == 130
        assert (self.out / ".resume" / "state.json").exists()

    def weights_file(self, name: str, content: bytes) -> Path:
        (self.tmp / name).write_bytes(content)
        return self.tmp / name

    def result(self) -> Path:
        """A perfect CTC result for ``data/01``: its GT tracking masks renamed."""
        result = self.tmp / "01_RES"
        result.mkdir()
        for path in sorted((self.gt / "TRA").glob("man_track*.tif")):
            shutil.copy(path, result / path.name.replace("man_track", "mask"))
        shutil.copy(self.gt / "TRA" / "man_track.txt", result / "res_track.txt")
        return result


# ------------------------------------------------------------------------------------------- makers
def fewer_labels(case):
    labels = case.folder("labels", case.frames(case.labels)[:3])
    return case.track(None, "--masks", labels)


def more_labels(case):
    labels = case.folder("labels", case.frames(case.labels) + case.frames(case.labels)[-1:])
    return case.track(None, "--masks", labels)


def resume_other_movie(case):
    case.interrupted()
    make_synthetic_sequence(case.root, "02", num_frames=6, num_cells=3, height=64, width=64, seed=5)
    return case.track(case.root / "02", "--resume")


def resume_other_config(case):
    case.interrupted()
    return case.track(None, "--resume", "CELLTRACK.TRACKER.MAX_GAP", "2")


def resume_other_weights(case):
    case.interrupted()
    checkpoint = torch.load(case.weights, map_location="cpu")
    name = next(iter(checkpoint["model"]))
    checkpoint["model"][name] = checkpoint["model"][name] + 1
    torch.save(checkpoint, case.tmp / "other.pth")
    return case.track(None, "--resume", weights=case.tmp / "other.pth")


def resume_and_overwrite(case):
    case.interrupted()
    return case.track(None, "--resume", "--overwrite")


def two_movies_of_one_name(case):
    other = case.tmp / "other" / "01"
    shutil.copytree(case.movie, other)
    return case.track(None, other)


def several_movies_one_without_labels(case):
    make_synthetic_sequence(case.root, "02", num_frames=4, num_cells=3, height=64, width=64, seed=1)
    labels = case.tmp / "labels"
    shutil.copytree(case.labels, labels / "01")
    return case.track(None, case.root / "02", "--masks", labels)


def several_movies_one_corrupt(case):
    """Two movies: 01 and a copy whose frame 2 is corrupt."""
    movie = corrupt_frame(2)(case)[0]
    for name in ("01", "movie"):
        shutil.copytree(case.labels, case.tmp / "labels" / name)
    return case.track(None, movie, "--masks", case.tmp / "labels")


def truncated_weights(case):
    data = Path(case.weights).read_bytes()
    return case.track(weights=case.weights_file("cut.pth", data[: len(data) // 2]))


def tiff_as_weights(case):
    tifffile.imwrite(case.tmp / "image.tif", np.zeros((8, 8), np.uint8))
    return case.track(weights=case.weights_file("image.pth", (case.tmp / "image.tif").read_bytes()))


def ctrl_c(case):
    interrupt_at(case.monkeypatch, 2)
    return case.track()


def corrupt_frame(frame: int):
    def make(case):
        movie = case.folder("movie", case.frames())
        (movie / f"t{frame:03d}.tif").write_bytes(b"II*\x00 not really a TIFF")
        return case.track(movie)
    return make


def mixed_sizes(case):
    images = case.frames()
    images[2] = images[2][:48]
    return case.track(case.folder("movie", images))


def colour_png(case):
    folder = case.tmp / "png"
    folder.mkdir()
    for frame in range(3):
        cv2.imwrite(str(folder / f"img_{frame}.png"), np.random.default_rng(frame).integers(0, 255, (64, 64, 3),
                                                                                           dtype=np.uint8))
    return case.track(folder)


def earlier_result(case):
    (case.out / "res").mkdir(parents=True)
    (case.out / "res" / "mask000.tif").write_bytes(b"an earlier result")
    (case.out / "notes.txt").write_text("the user's notes")
    return case.track()


def labels_of_another_size(case):
    return case.track(None, "--masks", case.folder("labels", [image[:32, :32] for image in case.frames(case.labels)]))


def float_labels(case):
    return case.track(None, "--masks", case.folder("labels", [image.astype(np.float32)
                                                              for image in case.frames(case.labels)]))


def bad_man_track(case):
    data = case.tmp / "ctc"
    shutil.copytree(case.root, data / "Synthetic")
    (data / "Synthetic" / "01_GT" / "TRA" / "man_track.txt").write_text("1 0 3 0\n2 0 x 0\n")
    return ["--config-file", TINY_CONFIG, "DATASETS.TRAIN", "('Synthetic/01',)", "DATASETS.TEST", "()",
            "CELLTRACK.DATA_ROOT", data, "SOLVER.MAX_ITER", "1", "OUTPUT_DIR", case.tmp / "train"]


def result_lineage(text: str):
    def make(case):
        result = case.result()
        (result / "res_track.txt").write_text(text(result))
        return [result, case.gt]
    return make


def label_missing_from_lineage(case):
    result = case.result()
    labels = tifffile.imread(result / "mask000.tif")
    labels[:3, :3] = 999
    tifffile.imwrite(result / "mask000.tif", labels)
    return [result, case.gt]


def one_mask_short(case):
    result = case.result()
    (result / "mask003.tif").unlink()
    return [result, case.gt]


def lineage_line_changed(change):
    """res_track.txt with its first line changed by ``change(label, begin, end, parent)``."""
    def text(result):
        lines = (result / "res_track.txt").read_text().splitlines()
        lines[0] = " ".join(map(str, change(*map(int, lines[0].split()))))
        return "\n".join(lines) + "\n"
    return text


def existing_trk_target(case):
    write_trk(case.tmp / "movie.trk")
    (case.tmp / "converted" / "01").mkdir(parents=True)
    (case.tmp / "converted" / "01" / "t000.tif").write_bytes(b"an earlier conversion")
    return [case.tmp / "movie.trk", case.tmp / "converted"]


class Row(NamedTuple):
    tool: str
    make: Callable  # Case -> argv
    status: int
    message: str  # a fragment of the error line
    may_change: Optional[str] = None  # a path under tmp a row may write (an interrupted run's state, a log)
    subprocess: bool = False


ROWS = {
    # 1. label images must match the movie frame for frame
    "fewer label images than frames": Row("track_video", fewer_labels, 2, "3 label images for the 4 frames"),
    "more label images than frames": Row("track_video", more_labels, 2, "5 label images for the 4 frames"),
    # 2. hyperstacks: axes from the metadata
    "ImageJ TZYX hyperstack": Row("track_video", lambda c: c.track(c.hyperstack("TZYX")), 2,
                                  "holds 3 z-slices (axes TZYX"),
    "ImageJ TCYX hyperstack": Row("track_video", lambda c: c.track(c.hyperstack("TCYX")), 2,
                                  "holds 2 channels (axes TCYX"),
    "--z out of range": Row("track_video", lambda c: c.track(c.hyperstack("TZYX"), "--z", 3), 2,
                            "--z 3 is out of range"),
    "--z on a folder": Row("track_video", lambda c: c.track(None, "--z", 0), 2, "pick a plane of a TIFF hyperstack"),
    # 4. resume only the same run
    "resume with another movie": Row("track_video", resume_other_movie, 2,
                                     "differs from this one in its movie (path, frames"),
    "resume with another config": Row("track_video", resume_other_config, 2, "differs from this one in its config"),
    "resume with other weights": Row("track_video", resume_other_weights, 2, "differs from this one in its weights"),
    # 6. weights files that are not checkpoints
    "text file as weights": Row("track_video", lambda c: c.track(weights=c.weights_file("notes.pth", b"hello\n")), 2,
                                "notes.pth: is a text file, not a PyTorch checkpoint"),
    "empty weights file": Row("track_video", lambda c: c.track(weights=c.weights_file("empty.pth", b"")), 2,
                              "empty.pth: the weights file is empty"),
    "truncated weights": Row("track_video", truncated_weights, 2, "cut.pth: cannot be read as a checkpoint"),
    "TIFF as weights": Row("track_video", tiff_as_weights, 2, "image.pth: is a TIFF image, not a PyTorch checkpoint"),
    "missing weights": Row("track_video", lambda c: c.track(weights=c.tmp / "nope.pth"), 2,
                           "nope.pth: no such weights file"),
    "wrong config for the weights": Row(
        "track_video", lambda c: [c.movie, "--config-file", REPO / "configs" / "CellTrack-R18-FPN-demo.yaml",
                                  "--weights", c.weights, "--output", c.out], 2,
        "does not match the model built from the config"),
    # 7. one line instead of a traceback
    "trk_to_ctc on a non-.trk file": Row("trk_to_ctc", lambda c: [c.weights_file("movie.trk", b"text"), c.tmp / "ctc"],
                                         2, "movie.trk: cannot be read as a DeepCell"),
    "train_net with a bad man_track.txt": Row("train_net", bad_man_track, 2, "man_track.txt:2: '2 0 x 0' is not four",
                                              may_change="train", subprocess=True),
    "--output is a file": Row("track_video", lambda c: c.track(out=c.weights_file("out.txt", b"")), 2,
                              "out.txt: is a file, not a folder"),
    "Ctrl-C": Row("track_video", ctrl_c, 130, "--resume", may_change="out"),
    # 8. a run that fails before its first frame leaves nothing behind
    "corrupt first frame": Row("track_video", corrupt_frame(0), 2, "t000.tif (frame 0): cannot be read"),
    "float label images": Row("track_video", float_labels, 2, "(frame 0): expected an integer label image"),
    # 9. one exit status for every invalid result; --resume with --overwrite
    "result lineage: parent not listed": Row(
        "evaluate", result_lineage(lineage_line_changed(lambda label, begin, end, parent: (label, begin, end, 99))),
        2, "parent 99 of track 1 is not listed"),
    "result lineage: label not in res_track.txt": Row("evaluate", label_missing_from_lineage, 2,
                                                      "finds this result invalid: Label 999"),
    "result lineage: span disagrees with masks": Row(
        "evaluate", result_lineage(lineage_line_changed(lambda label, begin, end, parent: (label, begin, 1, parent))),
        2, "finds this result invalid"),
    "--resume with --overwrite": Row("track_video", resume_and_overwrite, 2, "--overwrite and --resume contradict"),
    # already right before issue #13, kept right
    "empty folder": Row("track_video", lambda c: c.track(c.folder("empty", [])), 2, "no frame files found"),
    "corrupt TIFF mid-movie": Row("track_video", corrupt_frame(2), 2, "t002.tif (frame 2): cannot be read",
                                  may_change="out"),
    "frames of mixed sizes": Row("track_video", mixed_sizes, 2, "t002.tif (frame 2): frame size (48, 64) differs",
                                 may_change="out"),
    "colour PNG": Row("track_video", colour_png, 2, "img_0.png (frame 0): has 3 different colour channels"),
    "missing movie": Row("track_video", lambda c: c.track(c.tmp / "nowhere"), 2, "nowhere: does not exist"),
    "non-empty output": Row("track_video", earlier_result, 2, "out: is not empty"),
    "resume with nothing to resume": Row("track_video", lambda c: c.track(None, "--resume"), 2, "nothing to resume"),
    "label images of another size": Row("track_video", labels_of_another_size, 2,
                                        "(frame 0): label image size (32, 32) differs"),
    "unknown config key": Row("track_video", lambda c: c.track(None, "NOT.A_KEY", "1"), 2,
                              "Non-existent key: NOT.A_KEY"),
    "unknown mirroring": Row("track_video", lambda c: c.track(None, "CELLTRACK.MIRRORED_DETECTION", "('diagonal',)"), 2,
                             "unknown mirroring 'diagonal'; use any of horizontal, vertical, both"),
    "missing config file": Row("track_video", lambda c: [c.movie, "--config-file", c.tmp / "cfg.yaml", "--weights",
                                                         c.weights, "--output", c.out], 2, "cfg.yaml: no such config"),
    "missing argument": Row("track_video", lambda c: [c.movie], 2, "the following arguments are required"),
    "missing GT": Row("evaluate", lambda c: [c.result(), c.tmp / "nowhere_GT"], 2, "TRA: GT tracking folder"),
    "result shorter than the GT": Row("evaluate", one_mask_short, 2, "3 result masks for 4 GT frames"),
    "sequence exists (make_synthetic)": Row("make_synthetic", lambda c: [c.root, "--sequence", "01", "--frames", 2], 2,
                                            "01: already holds a sequence"),
    "zero frames (make_synthetic)": Row("make_synthetic", lambda c: [c.tmp / "new", "--frames", 0], 2,
                                        "0 is not a positive integer"),
    "sequence exists (trk_to_ctc)": Row("trk_to_ctc", existing_trk_target, 2, "01: already holds a sequence"),
    "several movies: a pattern that matches nothing": Row(
        "track_video", lambda c: c.track(c.tmp / "movies" / "*.tif"), 2, "movies/*.tif: matches no movie"),
    "several movies: two of one name": Row("track_video", two_movies_of_one_name, 2, "has the name '01' of"),
    "several movies: no label images for one": Row("track_video", several_movies_one_without_labels, 2,
                                                   "no label images for the movie"),
    "several movies: two machines, no --dist-url": Row(
        "track_video", lambda c: c.track(None, shutil.copytree(c.movie, c.tmp / "02"), "--num-machines", 2), 2,
        "--dist-url auto: finds a port on this machine only"),
    "several movies: one unreadable, the other tracked": Row("track_video", several_movies_one_corrupt, 2,
                                                             "1 of 2 movies could not be tracked", may_change="out"),
    "convert a movie, not a result": Row("convert", lambda c: [c.movie, "--to", "geff", "--output", c.tmp / "t.geff"],
                                         2, "01: is not a CTC result"),
    "convert into an existing file": Row("convert", lambda c: [c.result(), "--to", "geff", "--output",
                                                               c.weights_file("t.geff", b"mine")], 2,
                                         "t.geff: already exists"),
}


@pytest.fixture
def case(tmp_path, request, monkeypatch, capsys):
    return Case(tmp_path, request, monkeypatch, capsys)


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_input(name, case, capsys):
    row = ROWS[name]
    argv = row.make(case)
    before = snapshot(case.tmp)
    status, stderr = run_tool(row.tool, argv, capsys, in_subprocess=row.subprocess)

    assert status == row.status, stderr
    assert "Traceback" not in stderr, stderr
    last_line = stderr.strip().splitlines()[-1]
    assert row.message in last_line, stderr
    if row.status == 2:
        assert [line for line in stderr.splitlines() if line.startswith("error:")] == [last_line]
        assert ERROR_LINE.fullmatch(last_line), last_line
    after = snapshot(case.tmp)
    if row.may_change:
        before, after = ({path: data for path, data in files.items() if not path.startswith(row.may_change)}
                         for files in (before, after))
    assert after == before, "the tool changed files it was given or left some behind"


# ------------------------------------------------------------- runs that used to end wrong with status 0
def test_debug_shows_the_traceback(case):
    status, stderr = run_tool("track_video", case.track(case.tmp / "nowhere", "--debug"), None, in_subprocess=True)
    assert status == 2 and "Traceback" in stderr and "DataError" in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: ") and "nowhere: does not exist" in stderr


def test_overwrite_replaces_exactly_what_the_tool_wrote(case, capsys):
    make_synthetic_sequence(case.root, "02", num_frames=6, num_cells=3, height=64, width=64, seed=4)
    six = case.root / "02"
    assert run_tool("track_video", case.track(six, "--masks", case.root / "02_GT" / "SEG"), capsys)[0] == 0
    (case.out / "notes.txt").write_text("the user's notes")
    (case.out / "overlay" / "figure.png").write_bytes(b"the user's figure")
    assert run_tool("track_video", case.track(None, "--masks", case.labels, "--overwrite"), capsys)[0] == 0

    assert sorted(p.name for p in (case.out / "res").iterdir()) == [f"mask{t:03d}.tif" for t in range(4)] + [
        "res_track.txt"]
    assert sorted(p.name for p in (case.out / "overlay").iterdir()) == [f"{t:04d}.png" for t in range(4)] + [
        "figure.png"]
    assert (case.out / "notes.txt").read_text() == "the user's notes"
    assert json.loads((case.out / "summary.json").read_text())["frames"] == 4
    assert {int(row.split(",")[1]) for row in (case.out / "tracks.csv").read_text().splitlines()[1:]} == set(range(4))
    assert int(cv2.VideoCapture(str(case.out / "overlay.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    graph, _ = read_geff(case.out / "tracks.geff")
    assert {data["t"] for _, data in graph.nodes(data=True)} == set(range(4))
    assert not (case.out / "tracks.geff.partial").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate_sequence(str(case.out / "res"), threads=1)["Valid"] == 1
    assert run_tool("evaluate", [case.out / "res", case.gt], capsys)[0] == 0


def test_rerun_after_a_failure_before_the_first_frame(case, capsys):
    labels = case.folder("labels", [image.astype(np.float32) for image in case.frames(case.labels)])
    assert run_tool("track_video", case.track(None, "--masks", labels), capsys)[0] == 2
    assert not case.out.exists()
    assert run_tool("track_video", case.track(None, "--masks", case.labels), capsys)[0] == 0


def test_a_chosen_plane_of_a_hyperstack_is_tracked(case, capsys):
    status, stderr = run_tool("track_video", case.track(case.hyperstack("TZYX"), "--z", 1, "--masks", case.labels),
                              capsys)
    assert status == 0, stderr
    assert json.loads((case.out / "summary.json").read_text())["frames"] == 4


@pytest.fixture
def one_thread():
    """Tiny frames run faster on one thread: their small convolutions gain nothing from a hand-off."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_1001_frames_track_and_resume_after_an_interruption_at_frame_1000(case, monkeypatch, capsys, trained_tiny,
                                                                         one_thread):
    root = case.tmp / "long"
    make_synthetic_sequence(root, "01", num_frames=1001, num_cells=3, height=32, width=32, seed=0,
                            cell_radius=(4.0, 6.0), drift=(0.0, 0.0), speed=0.3)
    # 64-pixel network input: the smallest the tiny model's feature pyramid takes, to keep this test short.
    argv = case.track(root / "01", "--masks", root / "01_GT" / "SEG", "INPUT.MIN_SIZE_TEST", "64",
                      "INPUT.MAX_SIZE_TEST", "64")
    with monkeypatch.context() as patch:
        interrupt_at(patch, 1000)
        status, stderr = run_tool("track_video", argv, capsys)
    assert status == 130 and "--resume" in stderr
    # Frames are written DIVISION_PERSISTENCE - 1 = 1 frame behind the linking (frame 999: linked, saved).
    assert (case.out / "res" / "mask0998.tif").exists() and not (case.out / "res" / "mask0999.tif").exists()
    assert not (case.out / "res" / "res_track.txt").exists()
    status, stderr = run_tool("track_video", argv + ["--resume"], capsys)
    assert status == 0, stderr

    masks = sorted(p.name for p in (case.out / "res").glob("mask*.tif"))
    assert masks == [f"mask{t:04d}.tif" for t in range(1001)]
    assert json.loads((case.out / "summary.json").read_text())["frames"] == 1001
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate_sequence(str(case.out / "res"), threads=1)["Valid"] == 1


def test_several_movies_one_unreadable_does_not_stop_the_other(case, capsys):
    status, stderr = run_tool("track_video", several_movies_one_corrupt(case), capsys)
    assert status == 2 and "t002.tif (frame 2): cannot be read" in stderr
    summary = json.loads((case.out / "summary.json").read_text())
    assert summary["movies"]["01"]["frames"] == 4 and "error" in summary["movies"]["movie"]
    assert (case.out / "01" / "res" / "res_track.txt").exists()
    assert (case.out / "movie" / ".resume" / "state.json").exists()  # frames 0-1 saved: --resume continues it
