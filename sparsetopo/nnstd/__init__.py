"""NNSTD, the neural network sparse topology distance, and what is computed with it.

:mod:`.distance`  the distance of two networks: cost matrices, exact and sparse assignment, tie handling,
                  layers of different widths and convolutional layers
:mod:`.pairwise`  pairwise matrices (parallel, cached on disk), trajectories, the random baseline, MDS
:mod:`.probes`    controlled probes: a worked example, renumbered and rewired copies, perturbation chains, tie noise

The main names of the first two are available from this package directly.
"""

from .distance import METHODS, TIE_BREAKS, NNSTDResult, nnstd, tie_spread
from .pairwise import (
    Calibration,
    DistanceMatrix,
    cached_nnstd,
    mds_embedding,
    pairwise_nnstd,
    random_baseline,
    trajectory_nnstd,
)

__all__ = ["nnstd", "tie_spread", "NNSTDResult", "METHODS", "TIE_BREAKS", "DistanceMatrix", "Calibration",
           "cached_nnstd", "pairwise_nnstd", "trajectory_nnstd", "random_baseline", "mds_embedding"]
