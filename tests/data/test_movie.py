import inspect

import cv2
import numpy as np
import pytest
import tifffile

from celltrack.data.movie import DataError, read_frame, read_movie


def _frames(count=4, shape=(48, 64), dtype=np.uint16):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, shape).astype(dtype) for _ in range(count)]


def test_folder_of_frames_is_read_lazily_in_order(tmp_path):
    frames = _frames()
    for index, image in enumerate(frames):
        tifffile.imwrite(tmp_path / f"t{index:03d}.tif", image)
    (tmp_path / "t002.tif").write_bytes(b"not a tiff")  # only reached when frame 2 is read
    movie = read_movie(tmp_path)
    assert inspect.isgenerator(movie)
    assert next(movie)[0] == 0 and next(movie)[0] == 1
    with pytest.raises(DataError, match=r"t002\.tif \(frame 2\).*cannot be read"):
        next(movie)


def test_ctc_raw_folder(ctc_root):
    read = list(read_movie(ctc_root / "01"))
    assert [frame for frame, _ in read] == list(range(8))
    np.testing.assert_array_equal(read[3][1], tifffile.imread(ctc_root / "01" / "t003.tif"))


def test_png_folder_with_numbers_anywhere_in_the_name(tmp_path):
    for index, image in enumerate(_frames(3, dtype=np.uint8)):
        cv2.imwrite(str(tmp_path / f"img_{index + 10}_gfp.png"), image)
    assert [frame for frame, _ in read_movie(tmp_path)] == [10, 11, 12]


def test_multipage_tiff(tmp_path):
    stack = np.stack(_frames(5))
    tifffile.imwrite(tmp_path / "movie.tif", stack)
    read = list(read_movie(tmp_path / "movie.tif"))
    assert [frame for frame, _ in read] == list(range(5))
    np.testing.assert_array_equal(np.stack([image for _, image in read]), stack)


def test_video(tmp_path):
    path = tmp_path / "movie.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for image in _frames(3, dtype=np.uint8):
        writer.write(np.repeat(image[:, :, None], 3, axis=2))
    writer.release()
    read = list(read_movie(path))
    assert [frame for frame, _ in read] == [0, 1, 2]
    assert all(image.shape == (48, 64) for _, image in read)


def test_frames_of_different_sizes(tmp_path):
    tifffile.imwrite(tmp_path / "t000.tif", np.zeros((48, 64), np.uint16))
    tifffile.imwrite(tmp_path / "t001.tif", np.zeros((50, 64), np.uint16))
    with pytest.raises(DataError, match=r"t001\.tif \(frame 1\).*differs from the first frame"):
        list(read_movie(tmp_path))


def test_missing_frame_in_folder(tmp_path):
    for index in (0, 1, 3):
        tifffile.imwrite(tmp_path / f"t{index:03d}.tif", np.zeros((8, 8), np.uint16))
    with pytest.raises(DataError, match=r"not contiguous: frame\(s\) 2 missing"):
        list(read_movie(tmp_path))


def test_colour_frame_is_rejected_but_gray_rgb_accepted(tmp_path):
    color = np.random.default_rng(0).integers(0, 255, (16, 16, 3)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "color.tif", color)
    with pytest.raises(DataError, match=r"color\.tif \(frame 4\).*3 different colour channels"):
        read_frame(tmp_path / "color.tif", frame=4)
    gray = np.repeat(color[:, :, :1], 3, axis=2)
    tifffile.imwrite(tmp_path / "gray.tif", gray)
    np.testing.assert_array_equal(read_frame(tmp_path / "gray.tif"), gray[..., 0])


def test_multichannel_stack_is_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "hyper.tif", np.zeros((3, 2, 16, 16), np.uint16), imagej=True,
                     metadata={"axes": "TCYX"})
    with pytest.raises(DataError, match=r"hyper\.tif: holds 2 channels"):
        list(read_movie(tmp_path / "hyper.tif"))


def test_unreadable_and_unsupported_input(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list(read_movie(tmp_path / "nothing.tif"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="unsupported movie type"):
        list(read_movie(tmp_path / "notes.txt"))
    (tmp_path / "broken.avi").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"broken\.avi"):
        list(read_movie(tmp_path / "broken.avi"))
