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
