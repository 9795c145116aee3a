"""A model-free similarity in the tracker's terms, for tests and the synthetic linker benchmark."""
from typing import Mapping

import numpy as np


def distance_similarity(scale: float = 1.0):
    """A model-free similarity for tests and benchmarks: exp(-|e_t - e_prev| / scale) per head.

    Returns a function with the tracker's ``similarity`` signature over numpy embeddings (N, D).
    """

    def similarity(
        embeddings_t: Mapping[str, np.ndarray], embeddings_prev: Mapping[str, np.ndarray], pairs: np.ndarray
    ) -> dict:
        return {
            name: np.exp(
                -np.linalg.norm(
                    np.asarray(embeddings_t[name])[pairs[:, 0]] - np.asarray(embeddings_prev[name])[pairs[:, 1]],
                    axis=1,
                )
                / scale
            )
            for name in embeddings_t
        }

    return similarity
