import torch

import celltrack  # noqa: F401
from celltrack.modeling import relative_position_encoding


def test_offsets_nearest_first_and_scaled():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 20.0], [30.0, 30.0]])
    encoding = relative_position_encoding(centers, num_neighbors=2, scale=10.0)
    assert encoding.shape == (4, 4)
    # Cell 0: nearest is (10, 0) then (0, 20).
    assert torch.allclose(encoding[0], torch.tensor([1.0, 0.0, 0.0, 2.0]))
    # Cell 3 at (30, 30): nearest (0, 20) [dist ~31.6], then (10, 0) [dist 36.1].
    assert torch.allclose(encoding[3], torch.tensor([-3.0, -1.0, -2.0, -3.0]))


def test_fewer_cells_than_neighbours_pads_with_zeros():
    centers = torch.tensor([[5.0, 5.0], [8.0, 9.0]])
    encoding = relative_position_encoding(centers, num_neighbors=4, scale=1.0)
    assert encoding.shape == (2, 8)
    assert torch.allclose(encoding[0], torch.tensor([3.0, 4.0, 0, 0, 0, 0, 0, 0]))
    single = relative_position_encoding(centers[:1], num_neighbors=4, scale=1.0)
    assert torch.count_nonzero(single) == 0
    empty = relative_position_encoding(centers[:0], num_neighbors=4, scale=1.0)
    assert empty.shape == (0, 8)


def test_reference_set_with_excluded_self():
    # Proposals encoded against ground-truth centres: a proposal's own cell is not its neighbour.
    proposals = torch.tensor([[1.0, 1.0], [10.0, 10.0]])
    reference = torch.tensor([[0.0, 0.0], [10.0, 12.0], [20.0, 0.0]])
    encoding = relative_position_encoding(
        proposals, num_neighbors=1, scale=1.0, reference=reference, exclude=torch.tensor([0, 1])
    )
    assert torch.allclose(encoding[0], torch.tensor([9.0, 11.0]))
    assert torch.allclose(encoding[1], torch.tensor([-10.0, -10.0]))


def test_translation_invariant():
    centers = torch.rand(20, 2) * 100
    shifted = centers + torch.tensor([37.0, -12.0])
    assert torch.allclose(
        relative_position_encoding(centers, 4, 50.0), relative_position_encoding(shifted, 4, 50.0), atol=1e-5
    )


def test_polar_occupancy_is_order_independent_and_smooth():
    from celltrack.modeling.position_encoding import polar_occupancy_encoding, position_encoding_dim

    rng = torch.Generator().manual_seed(0)
    centers = torch.rand(12, 2, generator=rng) * 200
    encoding = polar_occupancy_encoding(centers, 6, 32.0)
    assert encoding.shape == (12, position_encoding_dim("polar", 6))
    order = torch.randperm(12, generator=rng)
    torch.testing.assert_close(polar_occupancy_encoding(centers[order], 6, 32.0), encoding[order])
    # two neighbours trading ranks: the ordered slots jump, the grid barely moves
    cell = torch.tensor([[100.0, 100.0], [130.0, 100.0], [100.0, 131.0]])
    swapped = torch.tensor([[100.0, 100.0], [131.0, 100.0], [100.0, 130.0]])
    from celltrack.modeling.position_encoding import relative_position_encoding

    slots = (relative_position_encoding(cell, 2, 32.0)[0] - relative_position_encoding(swapped, 2, 32.0)[0]).abs().max()
    grid = (polar_occupancy_encoding(cell, 2, 32.0)[0] - polar_occupancy_encoding(swapped, 2, 32.0)[0]).abs().max()
    assert slots > 0.9 and grid < 0.1
