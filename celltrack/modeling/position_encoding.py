"""Relative position encoding: where a cell's nearest neighbours lie, seen from the cell."""
import torch


def relative_position_encoding(
    centers: torch.Tensor,
    num_neighbors: int,
    scale: float,
    reference: torch.Tensor = None,
    exclude: torch.Tensor = None,
) -> torch.Tensor:
    """Offsets (dx, dy) from each cell's centre to its ``num_neighbors`` nearest cells, nearest first.

    Args:
        centers: (N, 2) cell centres (x, y) in pixels.
        num_neighbors: n, the number of neighbours encoded (paper: 4).
        scale: pixels per unit; offsets are divided by it so that typical values are O(1).
        reference: (M, 2) centres the neighbours are drawn from; default ``centers`` itself, in which case
            a cell is never its own neighbour. Training passes the ground-truth centres here.
        exclude: (N,) index into ``reference`` of each cell's own entry (-1 for none), never chosen as a
            neighbour. Needed when ``reference`` is not ``centers``.

    Returns:
        (N, 2n) tensor ``[dx_1, dy_1, ..., dx_n, dy_n] / scale``. A frame with fewer than n+1 cells has
        fewer than n neighbours: the missing slots are zeros, so "no neighbour" reads as "no offset"
        and the encoding keeps its length.
    """
    n_cells = centers.shape[0]
    encoding = centers.new_zeros((n_cells, 2 * num_neighbors))
    if reference is None:
        reference = centers
        exclude = torch.arange(n_cells, device=centers.device)
    if n_cells == 0 or reference.shape[0] == 0:
        return encoding
    distances = torch.cdist(centers, reference)  # (N, M)
    if exclude is not None:
        own = exclude >= 0
        distances[own.nonzero()[:, 0], exclude[own]] = float("inf")
    k = min(num_neighbors, reference.shape[0])
    nearest_distance, nearest = distances.topk(k, dim=1, largest=False)  # (N, k), nearest first
    offsets = (reference[nearest] - centers[:, None, :]) / scale  # (N, k, 2)
    offsets[torch.isinf(nearest_distance)] = 0.0  # the excluded self when M <= n
    encoding[:, : 2 * k] = offsets.reshape(n_cells, 2 * k)
    return encoding
