"""Controlled experiments on NNSTD: what it measures and whether it behaves like a distance.

Notebook ``01_nnstd`` calls one function of this module per step:

* :func:`worked_example` builds two tiny networks and spells out NNSTD on
  them: the cost matrix of every layer (after the renumbering chosen by the
  layer below), the matching, and the layer distances.
* :func:`identity_checks` measures NNSTD of a network against itself and
  against copies whose hidden neurons were renumbered (both should be 0).
* :func:`chain_frame` turns the pairwise NNSTD matrix of the paper's chain
  (:func:`sparsetopo.topology.masks.perturbation_chain`, each network moving 1 % of
  the previous one's edges) into distance against chain position.
* :func:`fraction_sweep` rewires a growing fraction of one network's edges
  and measures NNSTD to the original; :func:`baseline_frame` lays the
  random-topology baseline (:func:`sparsetopo.nnstd.pairwise.random_baseline`)
  out beside it; :func:`growth_correlation` summarises "NNSTD grows with
  perturbation" as a Spearman rank correlation.

All randomness goes through explicit seeds; every NNSTD pair is cached on
disk through :mod:`sparsetopo.nnstd.pairwise` when a ``cache_dir`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..nnstd.pairwise import DistanceMatrix, cached_nnstd
from ..nnstd.distance import layer_cost_matrix, nnstd
from ..parallel import parallel_map
from ..topology.masks import (
    as_topology,
    densities,
    permute_hidden_neurons,
    random_topology,
    rewire_fraction,
)

__all__ = [
    "WorkedExample",
    "worked_example",
    "sparse_layers",
    "identity_checks",
    "chain_frame",
    "fraction_sweep",
    "baseline_frame",
    "growth_correlation",
]

# ---------------------------------------------------------------------------
# the worked example
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WorkedExample:
    """NNSTD between two small networks, step by step.

    Attributes
    ----------
    first, second : list of np.ndarray
        The two topologies, ``(n_out, n_in)`` bool per layer.
    costs : tuple of np.ndarray
        Per layer k, ``(n_out_k, n_out_k)`` float64 cost matrix: rows are the
        first network's neurons, columns the second network's neurons in its
        own numbering, its inputs renumbered by the matching of layer k - 1.
    matchings : tuple of np.ndarray
        Per layer, ``matchings[k][a]`` = the second network's neuron matched
        to the first network's neuron ``a``.
    layer_distances : tuple of float
        Matched cost of each layer over its width.
    mean : float
        NNSTD of the two networks (mean of ``layer_distances``).
    """

    first: list
    second: list
    costs: tuple
    matchings: tuple
    layer_distances: tuple
    mean: float

    def frame(self) -> pd.DataFrame:
        """One row per layer: width, matched cost, layer distance, matching."""
        rows = []
        for k, (c, m, d) in enumerate(zip(self.costs, self.matchings, self.layer_distances)):
            matched = c[np.arange(len(m)), m]
            rows.append({"layer": k, "n_out": len(m), "matched_cost_sum": float(matched.sum()),
                         "layer_distance": float(d), "matching": [int(x) for x in m]})
        return pd.DataFrame(rows)


def worked_example(
    widths: Sequence[int] = (5, 4, 4, 2),
    *,
    density: float = 0.5,
    moved_edges: int = 1,
    moved_layer: int = 0,
    seed: int = 0,
    method: str = "exact",
    tie_break: str = "structure",
) -> WorkedExample:
    """Two tiny networks and their NNSTD, with every intermediate step.

    The first network is Erdős–Rényi (every layer sparse, output included).
    The second is the same graph with its hidden neurons renumbered and
    ``moved_edges`` edges of layer ``moved_layer`` moved to empty positions,
    so the example shows NNSTD seeing through the renumbering and picking
    up the moved edges.

    Parameters
    ----------
    widths : layer widths, input first.
    density : fraction of possible edges per layer.
    moved_edges : edges moved in the second network.
    moved_layer : layer whose edges are moved.
    seed : seed of the topology, the renumbering and the move.
    method, tie_break : as in :func:`sparsetopo.nnstd.distance.nnstd`.

    Returns
    -------
    WorkedExample
    """
    widths = [int(w) for w in widths]
    first = random_topology(widths, density=density, seed=seed, sparse_output=True)
    if not 0 <= moved_layer < len(first):
        raise ValueError(f"moved_layer={moved_layer} is not a layer index of a {len(first)}-layer network")
    n_edges = int(first[moved_layer].sum())
    if not 0 <= moved_edges <= n_edges:
        raise ValueError(f"moved_edges={moved_edges} must be in [0, {n_edges}] (edges of layer {moved_layer})")
    second = permute_hidden_neurons(first, seed=seed + 1)
    if moved_edges:
        second = rewire_fraction(second, moved_edges / n_edges, seed=seed + 2, layers=[moved_layer])
    result = nnstd(first, second, method=method, tie_break=tie_break)
    costs = []
    previous = None
    for k, (a, b) in enumerate(zip(first, second)):
        # the second network's input matched to the first's neuron a takes index a
        b_renumbered = b if previous is None else b[:, previous]
        costs.append(layer_cost_matrix(a, b_renumbered))
        previous = np.asarray(result.matchings[k])
    return WorkedExample(
        first=first,
        second=second,
        costs=tuple(costs),
        matchings=tuple(np.asarray(m) for m in result.matchings),
        layer_distances=tuple(result.layer_distances),
        mean=float(result.mean),
    )


# ---------------------------------------------------------------------------
# identity and renumbering
# ---------------------------------------------------------------------------


def sparse_layers(topology: Sequence[Any]) -> list[int]:
    """Indices of the layers that are not dense (NNSTD of a dense layer is always 0)."""
    return [k for k, d in enumerate(densities(as_topology(topology))) if d < 1.0]


def identity_checks(
    topologies: dict[str, Sequence[Any]],
    *,
    n_permutations: int = 3,
    seed: int = 0,
    method: str = "auto",
) -> pd.DataFrame:
    """NNSTD of networks against themselves and against renumbered copies.

    Parameters
    ----------
    topologies : dict name -> topology
    n_permutations : renumbered copies per network.
    seed : seed of the renumberings.
    method : NNSTD solver path.

    Returns
    -------
    pd.DataFrame
        One row per network and check, columns ``network``, ``check``
        (``"identical"`` or ``"permuted_<i>"``), ``tie_break``
        (``"structure"``, the default; for permuted copies also ``"solver"``,
        the published code's choice among tied matchings), ``nnstd`` (mean
        over layers) and ``max_layer`` (largest layer distance).
    """
    rows = []
    rng = np.random.default_rng(seed)
    for name, topology in topologies.items():
        topology = as_topology(topology, name=name)
        same = nnstd(topology, [m.copy() for m in topology], method=method)
        rows.append({"network": name, "check": "identical", "tie_break": "structure",
                     "nnstd": same.mean, "max_layer": max(same.layer_distances)})
        for i in range(n_permutations):
            copy = permute_hidden_neurons(topology, seed=rng)
            for tie_break in ("structure", "solver"):
                r = nnstd(copy, topology, method=method, tie_break=tie_break)
                rows.append({"network": name, "check": f"permuted_{i}", "tie_break": tie_break,
                             "nnstd": r.mean, "max_layer": max(r.layer_distances)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# controlled perturbation
# ---------------------------------------------------------------------------


def chain_frame(matrix: DistanceMatrix, *, fraction: float = 0.01) -> pd.DataFrame:
    """Distance of every chain network to the first one, per layer and on average.

    Parameters
    ----------
    matrix : pairwise NNSTD of the chain, in chain order.
    fraction : rewired fraction per step (to label the rows).

    Returns
    -------
    pd.DataFrame
        One row per chain position and layer (``layer`` = ``"mean"`` for the
        network distance): ``position``, ``steps_rewired_percent``,
        ``layer``, ``nnstd_to_start``, ``nnstd_to_previous``.
    """
    n = matrix.mean.shape[0]
    rows = []
    for p in range(n):
        for layer in list(range(matrix.layers.shape[0])) + ["mean"]:
            values = matrix.mean if layer == "mean" else matrix.layers[layer]
            rows.append({
                "position": p,
                "steps_rewired_percent": 100.0 * fraction * p,
                "layer": str(layer),
                "nnstd_to_start": float(values[p, 0]),
                "nnstd_to_previous": float(values[p, p - 1]) if p > 0 else 0.0,
            })
    return pd.DataFrame(rows)


def fraction_sweep(
    base: Sequence[Any],
    fractions: Sequence[float],
    *,
    n_repeats: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
    method: str = "auto",
    tie_break: str = "structure",
    progress: bool = False,
) -> pd.DataFrame:
    """NNSTD between a network and copies with a fraction of its edges moved.

    Parameters
    ----------
    base : topology
    fractions : fractions in [0, 1] of every sparse layer's edges moved.
    n_repeats : independent rewirings per fraction.
    seed : int
    n_jobs : joblib worker processes.
    cache_dir : NNSTD cache folder (see :mod:`sparsetopo.nnstd.pairwise`).
    method, tie_break : as in :func:`sparsetopo.nnstd.distance.nnstd`.
    progress : show a tqdm bar.

    Returns
    -------
    pd.DataFrame
        One row per fraction, repeat and layer (``layer`` = ``"mean"`` for
        the network distance): ``fraction``, ``rewired_percent``,
        ``repeat``, ``layer``, ``nnstd``. The perturbed copy is the first
        argument of NNSTD (the later network first, as everywhere).
    """
    base = as_topology(base, name="base")
    fractions = [float(f) for f in fractions]
    if any(not 0 <= f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in [0, 1], got {fractions}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
    jobs, keys = [], []
    for i, f in enumerate(fractions):
        for r in range(n_repeats):
            copy = rewire_fraction(base, f, seed=np.random.default_rng([int(seed), i, r]))
            keys.append((f, r))
            jobs.append((copy, base, method, tie_break, cache_dir))
    results = parallel_map(_distance_to_base, jobs, n_jobs=n_jobs, desc="rewired copies", progress=progress)
    rows = []
    for (f, r), result in zip(keys, results):
        for k, d in enumerate(result.layer_distances):
            rows.append({"fraction": f, "rewired_percent": 100 * f, "repeat": r, "layer": str(k), "nnstd": float(d)})
        rows.append({"fraction": f, "rewired_percent": 100 * f, "repeat": r, "layer": "mean", "nnstd": float(result.mean)})
    return pd.DataFrame(rows)


def _distance_to_base(item: tuple):
    copy, base, method, tie_break, cache_dir = item
    return cached_nnstd(copy, base, method=method, tie_break=tie_break, cache_dir=cache_dir,
                        use_cache=cache_dir is not None)


def baseline_frame(calibration) -> pd.DataFrame:
    """A random-topology :class:`~sparsetopo.nnstd.pairwise.Calibration` as a tidy table.

    Returns
    -------
    pd.DataFrame
        One row per layer plus ``"mean"``: ``layer`` (``"0"``, ``"1"``, ...,
        ``"mean"``), ``baseline``, ``ci_low``, ``ci_high``.
    """
    frame = calibration.frame()
    layers = [name.removeprefix("layer_") for name in frame.index]
    return pd.DataFrame({
        "layer": layers,
        "baseline": frame["random_mean"].to_numpy(),
        "ci_low": frame["ci_low"].to_numpy(),
        "ci_high": frame["ci_high"].to_numpy(),
    })


def growth_correlation(frame: pd.DataFrame, x: str, y: str, *, layer: str = "mean") -> float:
    """Spearman rank correlation of ``y`` with ``x`` over the rows of one layer.

    Parameters
    ----------
    frame : tidy frame with a ``layer`` column (from :func:`chain_frame` or
        :func:`fraction_sweep`).
    x, y : column names (e.g. ``"position"`` and ``"nnstd_to_start"``).
    layer : which layer's rows (default the network mean).

    Returns
    -------
    float
        Spearman's rho in [-1, 1]; NaN when ``y`` is constant.
    """
    from scipy.stats import spearmanr

    part = frame[frame["layer"] == str(layer)]
    if len(part) < 3:
        raise ValueError(f"need at least 3 rows of layer {layer!r} for a rank correlation, got {len(part)}")
    rho = spearmanr(part[x].to_numpy(), part[y].to_numpy()).statistic
    return float(rho)
