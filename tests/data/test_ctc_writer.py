"""Property test of CTCTrackWriter: any movie of births, deaths, divisions and gaps, written frame by frame
(and resumed from its state at any frame), is a valid CTC result that reads back to the same lineage."""
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tifffile
from ctc_metrics.scripts.validate import validate_sequence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celltrack.data.ctc import CTCTrackWriter, read_lineage

GRID, CELL = 4, 4  # cells sit in the squares of a 4x4 grid of 4x4 pixels: a 16x16 frame
EVENTS = ("stay", "stay", "stay", "die", "divide", "gap")


@st.composite
def movies(draw):
    """``(frames, parents)``: frames are ``{label: square}`` per frame, parents ``{daughter: mother}``.

    Labels are never reused and may exceed 16 bits; a cell in a gap misses 1-2 frames and comes back.
    """
    num_frames = draw(st.integers(1, 8))
    used: set[int] = set()

    def new_label():
        label = draw(st.integers(1, 70000))
        while label in used:
            label += 1
        used.add(label)
        return label

    def free_squares(taken):
        return [square for square in range(GRID * GRID) if square not in taken]

    alive = {new_label(): square for square in draw(st.sets(st.integers(0, GRID * GRID - 1), min_size=1,
                                                             max_size=5))}
    hidden: dict[int, int] = {}  # label -> frames it stays away
    frames, parents = [], {}
    for frame in range(num_frames):
        if frame:
            for label in list(alive):
                event = draw(st.sampled_from(EVENTS))
                free = free_squares(alive.values())
                if event == "die":
                    del alive[label]
                elif event == "gap":
                    hidden[label] = draw(st.integers(1, 2))
                    del alive[label]
                elif event == "divide" and len(free) >= 2:
                    del alive[label]
                    for square in draw(st.permutations(free))[:2]:
                        daughter = new_label()
                        alive[daughter], parents[daughter] = square, label
            for label in list(hidden):
                hidden[label] -= 1
                free = free_squares(alive.values())
                if hidden[label] < 0 and free:
                    alive[label] = draw(st.sampled_from(free))
                    del hidden[label]
            for _ in range(draw(st.integers(0, 2))):
                free = free_squares(alive.values())
                if free:
                    alive[new_label()] = draw(st.sampled_from(free))
        frames.append(dict(alive))
    return frames, parents


def render(cells: dict) -> np.ndarray:
    labels = np.zeros((GRID * CELL, GRID * CELL), np.int64)
    for label, square in cells.items():
        y, x = divmod(square, GRID)
        labels[y * CELL:(y + 1) * CELL, x * CELL:(x + 1) * CELL] = label
    return labels


def runs(frames: list) -> set:
    """Every unbroken stretch of frames a label is present: ``(label, begin, end)``."""
    stretches = set()
    for label in {label for cells in frames for label in cells}:
        present = [frame for frame, cells in enumerate(frames) if label in cells]
        begin = present[0]
        for previous, frame in zip(present, present[1:] + [None]):
            if frame != previous + 1:
                stretches.add((label, begin, previous))
                begin = frame
    return stretches


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(movie=movies(), known_length=st.booleans(), resume_at=st.integers(0, 8))
def test_written_movies_are_valid_and_read_back_to_their_lineage(movie, known_length, resume_at):
    frames, parents = movie
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "01_RES"
        num_frames = len(frames) if known_length else None
        writer = CTCTrackWriter(out, num_frames=num_frames)
        for frame, cells in enumerate(frames):
            if frame == resume_at:  # an interrupted run continues from the saved state
                state = json.loads(json.dumps(writer.state_dict()))  # what a resumed run reads back
                writer = CTCTrackWriter(out, num_frames=num_frames)
                writer.load_state_dict(state)
            writer.write_frame(frame, render(cells))
        table = writer.close(parents)

        digits = 3 if known_length else 4
        names = sorted(path.name for path in out.glob("mask*.tif"))
        assert names == [f"mask{frame:0{digits}d}.tif" for frame in range(len(frames))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert validate_sequence(str(out), threads=1)["Valid"] == 1
        lineage = read_lineage(out / "res_track.txt")
        np.testing.assert_array_equal(lineage, table)
        masks = [tifffile.imread(out / name) for name in names]

    # Which cell each written track is, read from the pixels of its square.
    cell_of = {}
    for frame, cells in enumerate(frames):
        for label, square in cells.items():
            y, x = divmod(square, GRID)
            written = int(masks[frame][y * CELL, x * CELL])
            assert cell_of.setdefault(written, label) == label, "a written track holds two cells"
    tracks = {int(label): (int(begin), int(end), int(parent)) for label, begin, end, parent in lineage}
    assert set(tracks) == set(cell_of)
    # Each unbroken stretch of a cell is one track ...
    assert {(cell_of[label], begin, end) for label, (begin, end, _) in tracks.items()} == runs(frames)
    # ... whose parent is the cell's previous stretch, or else its mother's last stretch before it.
    for label, (begin, _, parent) in tracks.items():
        cell = cell_of[label]
        earlier = [t for t, (b, e, _) in tracks.items() if cell_of[t] == cell and e < begin]
        mother = [t for t, (b, e, _) in tracks.items() if cell_of[t] == parents.get(cell) and e < begin]
        expected = max(earlier or mother, key=lambda t: tracks[t][1], default=0)
        assert parent == expected, (cell, begin)
