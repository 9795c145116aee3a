"""tools/track_video.py end to end on a generated movie, with a tiny model trained in a fixture."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from ctc_metrics.scripts.validate import validate_sequence

from celltrack.data.geff import read_geff

REPO = Path(__file__).parents[2]
TOOL = REPO / "tools" / "track_video.py"


def run_tool(*args, check=True):
    result = subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, cwd=REPO)
    if check and result.returncode != 0:
        raise AssertionError(result.stdout + result.stderr)
    return result


def base_args(trained_tiny, movie, out):
    cfg, weights, _ = trained_tiny
    return [movie, "--config-file", REPO / "configs" / "CellTrack-R18-FPN-tiny.yaml", "--weights", weights,
            "--output", out, "MODEL.DEVICE", "cpu", "CELLTRACK.TRACKER.MIN_SCORE", "0.05"]


def test_detect_and_track_writes_every_output(trained_tiny, tmp_path):
    _, _, root = trained_tiny
    out = tmp_path / "run"
    result = run_tool(*base_args(trained_tiny, root / "01", out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 10
    for name in ("res/res_track.txt", "tracks.csv", "tracks.geff", "overlay.mp4", "lineage.png", "overlay/0000.png"):
        assert (out / name).exists(), name
    assert validate_sequence(str(out / "res"), threads=1)["Valid"] == 1
    graph, _ = read_geff(out / "tracks.geff")
    assert graph.number_of_nodes() == summary["cells"]
    assert "divisions" in result.stdout
    assert not (out / ".resume").exists()


def test_link_given_masks_recovers_ground_truth_tracks(trained_tiny, tmp_path):
    _, _, root = trained_tiny
    out = tmp_path / "linked"
    run_tool(*base_args(trained_tiny, root / "01", out), "--masks", root / "01_GT" / "SEG")
    gt_tracks = np.loadtxt(root / "01_GT" / "TRA" / "man_track.txt", dtype=int, ndmin=2)
    summary = json.loads((out / "summary.json").read_text())
    total_cells = sum(len(np.unique(tifffile.imread(p))) - 1 for p in sorted((root / "01_GT" / "SEG").glob("*.tif")))
    assert summary["cells"] == total_cells
    with open(out / "tracks.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == total_cells and set(rows[0]) == {"track_id", "frame", "y", "x", "area", "parent"}
    # Each GT mask keeps one track id per frame: the result has a track per GT track at most a few more.
    assert abs(summary["tracks"] - len(gt_tracks)) <= max(2, len(gt_tracks) // 3)


def test_refuses_non_empty_output_and_resumes(trained_tiny, tmp_path):
    _, _, root = trained_tiny
    out = tmp_path / "safe"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    refused = run_tool(*base_args(trained_tiny, root / "01", out), check=False)
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert (out / "keep.txt").read_text() == "user data"

    nothing = run_tool(*base_args(trained_tiny, root / "01", tmp_path / "fresh"), "--resume", check=False)
    assert nothing.returncode == 2 and "nothing to resume" in nothing.stderr


def test_resume_continues_an_interrupted_run(trained_tiny, tmp_path):
    import celltrack  # noqa: F401
    from celltrack.tracking.predictor import CellTrackPredictor
    from celltrack.tracking.track_movie import track_movie

    cfg, weights, root = trained_tiny
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    predictor = CellTrackPredictor(cfg)
    labels = root / "01_GT" / "SEG"
    full = track_movie(predictor, root / "01", tmp_path / "full", masks=labels)

    class Interrupt(Exception):
        pass

    calls = {"n": 0}
    original = predictor.__class__.segment

    def interrupted(self, image, labels=None, neighbours=(None, None)):
        calls["n"] += 1
        if calls["n"] == 5:
            raise Interrupt
        return original(self, image, labels, neighbours)

    predictor.__class__.segment = interrupted
    try:
        with pytest.raises(Interrupt):
            track_movie(predictor, root / "01", tmp_path / "part", masks=labels)
    finally:
        predictor.__class__.segment = original
    saved = sorted(path.name for path in (tmp_path / "part" / ".resume").iterdir())
    # JSON + arrays, no pickle; 4 frames linked, 3 written (outputs lag DIVISION_PERSISTENCE - 1 frames)
    assert saved == ["state-000003.npz", "state.json"]
    assert not (tmp_path / "part" / "tracks.csv").exists()  # nothing half-finished under a final name
    resumed = track_movie(predictor, root / "01", tmp_path / "part", masks=labels, resume=True)
    assert resumed["tracks"] == full["tracks"] and resumed["cells"] == full["cells"]
    assert (tmp_path / "part" / "tracks.csv").read_text() == (tmp_path / "full" / "tracks.csv").read_text()
    for name in ("tracks.csv", "res/res_track.txt", "res/mask007.tif"):
        assert (tmp_path / "part" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name


def test_temporal_smoothing_reads_each_frames_neighbours_also_when_resumed(trained_tiny, tmp_path):
    import celltrack  # noqa: F401
    from celltrack.data import read_frame
    from celltrack.tracking.predictor import CellTrackPredictor
    from celltrack.tracking.track_movie import track_movie

    cfg, weights, root = trained_tiny
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    cfg.CELLTRACK.TRACKER.MIN_SCORE = 0.05
    cfg.CELLTRACK.TEMPORAL_SMOOTHING, cfg.CELLTRACK.TEMPORAL_SMOOTHING_NOISE = 0.25, 0.0  # every frame
    predictor = CellTrackPredictor(cfg)
    movie = [read_frame(path) for path in sorted((root / "01").glob("t*.tif"))]
    seen, original, interrupt = [], predictor.model_input, {"at": None}

    class Interrupt(Exception):
        pass

    def recorded(image, neighbours=(None, None)):
        index = next(i for i, frame in enumerate(movie) if np.array_equal(frame, image))
        seen.append((index, *(None if n is None else next(i for i, f in enumerate(movie) if np.array_equal(f, n))
                              for n in neighbours)))
        if index == interrupt["at"]:
            raise Interrupt
        return original(image, neighbours)

    predictor.model_input = recorded
    full = track_movie(predictor, root / "01", tmp_path / "full")
    assert seen == [(0, None, 1)] + [(i, i - 1, i + 1) for i in range(1, 9)] + [(9, 8, None)]
    seen.clear()
    interrupt["at"] = 6
    with pytest.raises(Interrupt):
        track_movie(predictor, root / "01", tmp_path / "part")
    seen.clear()
    interrupt["at"] = None
    resumed = track_movie(predictor, root / "01", tmp_path / "part", resume=True)
    assert seen[0][1] is not None  # the first frame segmented after the resume has its previous frame too
    assert resumed["cells"] == full["cells"]
    assert full["frames_smoothed_in_time"] == resumed["frames_smoothed_in_time"] == 10
    assert (tmp_path / "part" / "tracks.csv").read_text() == (tmp_path / "full" / "tracks.csv").read_text()


def test_resume_refuses_a_foreign_or_damaged_state(trained_tiny, tmp_path):
    import json

    import celltrack  # noqa: F401
    from celltrack.data.movie import DataError
    from celltrack.tracking.predictor import CellTrackPredictor
    from celltrack.tracking.track_movie import STATE, track_movie

    cfg, weights, root = trained_tiny
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    out, labels = tmp_path / "run", root / "01_GT" / "SEG"
    (out / ".resume").mkdir(parents=True)
    (out / STATE).write_bytes(b"\x80\x04pickled")  # e.g. the pickle an older version wrote
    with pytest.raises(DataError, match="cannot be read as a CellTrack saved state"):
        track_movie(CellTrackPredictor(cfg), root / "01", out, masks=labels, resume=True)
    (out / STATE).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(DataError, match="is not a CellTrack saved state"):
        track_movie(CellTrackPredictor(cfg), root / "01", out, masks=labels, resume=True)


def test_track_movie_frames_yields_each_frame_and_stops_resumably(trained_tiny, tmp_path):
    import celltrack  # noqa: F401
    from celltrack.tracking.predictor import CellTrackPredictor
    from celltrack.tracking.track_movie import track_movie, track_movie_frames

    cfg, weights, root = trained_tiny
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    predictor, labels = CellTrackPredictor(cfg), root / "01_GT" / "SEG"
    full = track_movie(predictor, root / "01", tmp_path / "full", masks=labels)
    frames = track_movie_frames(predictor, root / "01", tmp_path / "part", masks=labels)
    assert [next(frames) for _ in range(4)] == [0, 1, 2, 3]
    frames.close()  # as the napari widget's Cancel: frames 0-3 saved, resumable
    assert (tmp_path / "part" / ".resume" / "state.json").exists() and not (tmp_path / "part" / "tracks.csv").exists()
    resumed = track_movie_frames(predictor, root / "01", tmp_path / "part", masks=labels, resume=True)
    done = []
    with pytest.raises(StopIteration) as finished:
        while True:
            done.append(next(resumed))
    assert done == list(range(4, 10)) and finished.value.value["cells"] == full["cells"]
    assert (tmp_path / "part" / "res" / "res_track.txt").read_text() == (
        tmp_path / "full" / "res" / "res_track.txt"
    ).read_text()


def test_movie_numbered_from_one_and_progress_total(trained_tiny, tmp_path):
    import shutil

    import celltrack  # noqa: F401
    from celltrack.data.movie import movie_length
    from celltrack.tracking.predictor import CellTrackPredictor
    from celltrack.tracking.track_movie import track_movie

    cfg, weights, root = trained_tiny
    movie, labels = tmp_path / "movie", tmp_path / "labels"
    movie.mkdir()
    labels.mkdir()
    for t in range(10):  # a microscope export starting at 1
        shutil.copy(root / "01" / f"t{t:03d}.tif", movie / f"img_{t + 1:03d}.tif")
        shutil.copy(root / "01_GT" / "SEG" / f"man_seg{t:03d}.tif", labels / f"cells_{t + 1:03d}.tif")
    assert movie_length(movie) == 10
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = str(weights)
    summary = track_movie(CellTrackPredictor(cfg), movie, tmp_path / "out", masks=labels)
    assert summary["frames"] == 10
    assert (tmp_path / "out" / "res" / "mask000.tif").exists() and (tmp_path / "out" / "res" / "mask009.tif").exists()


def test_weights_that_do_not_match_the_config_are_refused(trained_tiny, tmp_path):
    _, weights, root = trained_tiny
    wrong = run_tool(root / "01", "--config-file", REPO / "configs" / "CellTrack-R18-FPN-demo.yaml", "--weights",
                     weights, "--output", tmp_path / "out", check=False)
    assert wrong.returncode == 2
    assert "does not match the model built from the config" in wrong.stderr and "fpn" in wrong.stderr.lower()
    missing = run_tool(*base_args(trained_tiny, root / "01", tmp_path / "out2")[:4], tmp_path / "nope.pth",
                       "--output", tmp_path / "out2", check=False)
    assert missing.returncode == 2 and "nope.pth: no such weights file" in missing.stderr


def test_several_movies_in_two_processes_match_one_process(trained_tiny, tmp_path):
    from celltrack.data.synthetic import make_synthetic_sequence

    data, labels = tmp_path / "data", tmp_path / "labels"
    labels.mkdir()
    for seed, name in enumerate(("a", "b", "c")):
        make_synthetic_sequence(data, name, num_frames=4, num_cells=3, height=64, width=64, seed=seed,
                                cell_radius=(6.0, 9.0))
        (data / f"{name}_GT" / "SEG").rename(labels / name)
    movies = [data / name for name in ("a", "b", "c")]

    def run(out, *extra):
        return run_tool(*movies, *base_args(trained_tiny, movies[0], out)[1:], "--masks", labels, *extra)

    run(tmp_path / "one")
    result = run(tmp_path / "two", "--num-gpus", 2)
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["processes"] == 2 and list(summary["movies"]) == ["a", "b", "c"]
    for name in ("a", "b", "c"):
        for file in ("res/res_track.txt", "tracks.csv"):
            assert (tmp_path / "one" / name / file).read_bytes() == (tmp_path / "two" / name / file).read_bytes()
        assert summary["movies"][name]["frames"] == 4 and (tmp_path / "two" / name / "tracks.geff").is_dir()
    assert "tracking 3 movies" in result.stdout

    # each movie resumable on its own: a finished movie is kept, a missing one tracked again
    import shutil

    shutil.rmtree(tmp_path / "two" / "b")
    kept = (tmp_path / "two" / "a" / "tracks.csv").stat().st_mtime_ns
    run_tool(*base_args(trained_tiny, data, tmp_path / "two"), "--masks", labels, "--resume")  # a folder of movies
    assert (tmp_path / "two" / "a" / "tracks.csv").stat().st_mtime_ns == kept
    assert (tmp_path / "one" / "b" / "tracks.csv").read_bytes() == (tmp_path / "two" / "b" / "tracks.csv").read_bytes()
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["processes"] == 1
