import numpy as np
import pytest

from celltrack.data.normalize import percentile_normalize, to_network_input


def test_percentiles_map_to_zero_and_one():
    image = np.arange(100 * 100, dtype=np.uint16).reshape(100, 100)
    normalized = percentile_normalize(image, 1.0, 99.0)
    low, high = np.percentile(image, (1.0, 99.0))
    assert normalized.dtype == np.float32 and normalized.shape == image.shape
    assert normalized.min() == 0.0 and normalized.max() == 1.0
    middle = image.ravel()[5000]
    assert normalized.ravel()[5000] == pytest.approx((middle - low) / (high - low), abs=1e-6)


def test_bit_depth_does_not_matter():
    rng = np.random.default_rng(0)
    image8 = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    image16 = image8.astype(np.uint16) * 257
    np.testing.assert_allclose(percentile_normalize(image8), percentile_normalize(image16), atol=1e-6)


def test_flat_image_gives_zeros_not_nan():
    assert not percentile_normalize(np.full((8, 8), 7, np.uint16)).any()


@pytest.mark.parametrize("low, high", [(50.0, 50.0), (-1.0, 99.0), (1.0, 101.0)])
def test_bad_percentiles_raise(low, high):
    with pytest.raises(ValueError, match="percentiles"):
        percentile_normalize(np.zeros((4, 4)), low, high)


def test_network_input_is_three_equal_channels_in_0_255():
    image = np.random.default_rng(1).integers(80, 300, (40, 50)).astype(np.uint16)
    network_input = to_network_input(image, (1.0, 99.8))
    assert network_input.shape == (40, 50, 3) and network_input.dtype == np.float32
    assert network_input.min() >= 0.0 and network_input.max() <= 255.0
    assert np.array_equal(network_input[..., 0], network_input[..., 2])
    np.testing.assert_allclose(network_input[..., 1], 255 * percentile_normalize(image, 1.0, 99.8), rtol=1e-6)


def test_noise_level_reads_the_noise_not_the_nuclei():
    from celltrack.data.normalize import noise_level

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:200, :200]
    nuclei = sum(((yy - y) ** 2 + (xx - x) ** 2 < 15 ** 2).astype(float) for y, x in ((50, 50), (120, 80), (60, 150)))
    clean = 100 + 50 * nuclei
    levels = [noise_level(clean + rng.normal(0, sigma, clean.shape)) for sigma in (1.0, 5.0, 10.0)]
    assert levels[0] < levels[1] < levels[2]
    # In units of the frame's normalised range (~50 grey levels of nuclei above background plus the noise's tails).
    assert 0.5 * 5 / 50 / 1.5 < levels[1] < 5 / 50
    assert noise_level(clean) == 0.0


def test_temporal_smooth_weighs_the_neighbours_and_keeps_the_ends_unshifted():
    from celltrack.data.normalize import temporal_smooth

    frames = [np.full((4, 5, 3), value, dtype=np.float32) for value in (0.0, 100.0, 200.0)]
    assert np.allclose(temporal_smooth(frames[1], frames[0], frames[2], 0.25), 100.0)
    assert np.allclose(temporal_smooth(frames[1], frames[0], None, 0.25), 75.0)  # the missing one: the frame itself
    assert np.allclose(temporal_smooth(frames[1], None, frames[2], 1 / 3), 100 / 3 * 2 + 200 / 3)
    assert np.allclose(temporal_smooth(frames[1], frames[0], frames[2], 0.0), 100.0)
