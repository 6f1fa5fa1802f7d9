"""Controlled probes of NNSTD: how the distance responds to known changes of a topology.

A researcher who wants to know what NNSTD does on their own networks can ask it
the same questions the paper's study asks, with these functions:

* :func:`worked_example` spells NNSTD out on two tiny networks: the cost matrix
  of every layer (after the renumbering chosen by the layer below), the
  matching, and the layer distances.
* :func:`identity_checks` measures NNSTD of networks against themselves and
  against copies whose hidden neurons were renumbered, under each tie-break.
* :func:`chain_frame` and :func:`chains_frame` lay out distances along
  perturbation chains (:func:`sparsetopo.topology.masks.perturbation_chain`);
  :func:`chain_growth` sums each chain up.
* :func:`fraction_sweep` rewires a growing fraction of one network's edges
  (:func:`rewired_copy`) and measures NNSTD to the original.
* :func:`tie_noise` measures, for representative pairs of a comparison, how far
  other optimal matchings move NNSTD (:func:`sparsetopo.nnstd.distance.tie_spread`),
  and :func:`resolution_table` keeps the largest per comparison: the resolution
  of the measurement.

The network-level value of every function here is the mean over the
``layers`` given (by default the sparse ones, :func:`sparse_layer_indices`): a
dense layer always has NNSTD 0 and would shrink every network distance.
Per-layer values are kept everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..parallel import parallel_map
from ..topology.masks import as_topology, densities, permute_hidden_neurons, random_topology, rewire_fraction
from .distance import TIE_BREAKS, layer_cost_matrix, nnstd, tie_spread
from .pairwise import DistanceMatrix, cached_nnstd

__all__ = [
    "WorkedExample",
    "worked_example",
    "sparse_layer_indices",
    "layer_mean",
    "identity_checks",
    "chain_frame",
    "chains_frame",
    "chain_growth",
    "fraction_sweep",
    "rewired_copy",
    "tie_noise",
    "resolution_table",
]


def sparse_layer_indices(topology: Sequence[Any]) -> list[int]:
    """Indices of the layers that are not dense (NNSTD of a dense layer is always 0)."""
    return [k for k, d in enumerate(densities(as_topology(topology))) if d < 1.0]


def layer_mean(layer_values: Any, layers: Sequence[int]) -> Any:
    """The mean of per-layer values (on the last axis) over ``layers``: a float, or an array without that axis."""
    layers = list(layers)
    if not layers:
        raise ValueError("a network-level NNSTD needs at least one sparse layer")
    out = np.asarray(layer_values, dtype=float)[..., layers].mean(axis=-1)
    return float(out) if out.ndim == 0 else out


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


def identity_checks(
    topologies: dict[str, Sequence[Any]],
    *,
    n_permutations: int = 3,
    seed: int = 0,
    method: str = "auto",
    tie_breaks: Sequence[str] = TIE_BREAKS,
) -> pd.DataFrame:
    """NNSTD of networks against themselves and against renumbered copies, under each tie-break.

    Parameters
    ----------
    topologies : dict name -> topology
    n_permutations : renumbered copies per network (the same copies for every tie-break).
    seed : seed of the renumberings.
    method : NNSTD solver path.
    tie_breaks : the tie-breaks compared (``"structure"``, ``"solver"``).

    Returns
    -------
    pd.DataFrame
        One row per network, check and tie-break: ``network``, ``check`` (``"identical"`` or
        ``"permuted_<i>"``), ``tie_break``, ``nnstd`` (mean over the network's sparse layers),
        ``max_layer`` (largest layer distance) and ``layer_<k>`` per layer. The copy is the
        first argument of NNSTD.
    """
    rows = []
    rng = np.random.default_rng(seed)
    for name, topology in topologies.items():
        topology = as_topology(topology, name=name)
        layers = sparse_layer_indices(topology)
        copies = [("identical", [m.copy() for m in topology])]
        copies += [(f"permuted_{i}", permute_hidden_neurons(topology, seed=rng)) for i in range(n_permutations)]
        for check, copy in copies:
            for tie_break in tie_breaks:
                r = nnstd(copy, topology, method=method, tie_break=tie_break)
                row = {"network": name, "check": check, "tie_break": tie_break,
                       "nnstd": layer_mean(r.layer_distances, layers), "max_layer": max(r.layer_distances)}
                row.update({f"layer_{k}": float(d) for k, d in enumerate(r.layer_distances)})
                rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# controlled perturbation
# ---------------------------------------------------------------------------


def chain_frame(matrix: DistanceMatrix, *, fraction: float = 0.01, layers: Sequence[int] | None = None) -> pd.DataFrame:
    """Distance of every chain network to the first one, per layer and for the network.

    Parameters
    ----------
    matrix : pairwise NNSTD of the chain, in chain order.
    fraction : rewired fraction per step (to label the rows).
    layers : the sparse layers averaged into the network distance (default: every layer whose
        distances are not all 0).

    Returns
    -------
    pd.DataFrame
        One row per chain position and layer (``layer`` = ``"mean"`` for the network distance,
        the mean over ``layers``): ``position``, ``steps_rewired_percent``, ``layer``,
        ``nnstd_to_start``, ``nnstd_to_previous``.
    """
    if layers is None:
        layers = [k for k in range(matrix.layers.shape[0]) if matrix.layers[k].any()] or [0]
    network = matrix.layers[list(layers)].mean(axis=0)
    n = network.shape[0]
    rows = []
    for p in range(n):
        for layer in list(range(matrix.layers.shape[0])) + ["mean"]:
            values = network if layer == "mean" else matrix.layers[layer]
            rows.append({
                "position": p,
                "steps_rewired_percent": 100.0 * fraction * p,
                "layer": str(layer),
                "nnstd_to_start": float(values[p, 0]),
                "nnstd_to_previous": float(values[p, p - 1]) if p > 0 else 0.0,
            })
    return pd.DataFrame(rows)


def chains_frame(trajectories: Sequence[pd.DataFrame], layers: Sequence[int], *,
                 fraction: float = 0.01) -> pd.DataFrame:
    """Tidy distances along several chains.

    Parameters
    ----------
    trajectories : one :func:`sparsetopo.nnstd.pairwise.trajectory_nnstd` frame per chain (index = position).
    layers : sparse layers averaged into the network distance.
    fraction : rewired fraction per step.

    Returns
    -------
    pd.DataFrame
        One row per chain, position and layer (``"mean"`` = mean over ``layers``): ``chain``,
        ``position``, ``steps_rewired_percent``, ``layer``, ``nnstd_to_start``, ``nnstd_to_previous``
        (NaN at position 0).
    """
    rows = []
    for c, traj in enumerate(trajectories):
        n_layers = sum(1 for col in traj.columns if col.startswith("to_first_layer"))
        for p, (_, row) in enumerate(traj.iterrows()):
            start = [row[f"to_first_layer{k}"] for k in range(n_layers)]
            prev = [row[f"to_previous_layer{k}"] for k in range(n_layers)]
            for layer in list(range(n_layers)) + ["mean"]:
                rows.append({
                    "chain": c, "position": p, "steps_rewired_percent": 100.0 * fraction * p, "layer": str(layer),
                    "nnstd_to_start": float(layer_mean(start, layers) if layer == "mean" else start[layer]),
                    "nnstd_to_previous": float(layer_mean(prev, layers) if layer == "mean" else prev[layer]),
                })
    return pd.DataFrame(rows)


def chain_growth(chains: pd.DataFrame) -> pd.DataFrame:
    """Per chain: network NNSTD of the first step, of the last network, and the growth between them.

    Returns
    -------
    pd.DataFrame
        One row per chain: ``chain``, ``steps``, ``first_step`` (NNSTD of position 1 to the start),
        ``to_last`` (of the last position to the start), ``growth`` = ``to_last - first_step``,
        ``mean_step`` (mean NNSTD between consecutive networks).
    """
    rows = []
    for c, part in chains[chains["layer"] == "mean"].groupby("chain"):
        part = part.sort_values("position")
        first = float(part.loc[part["position"] == 1, "nnstd_to_start"].iloc[0])
        last = float(part["nnstd_to_start"].iloc[-1])
        rows.append({"chain": int(c), "steps": int(part["position"].max()), "first_step": first, "to_last": last,
                     "growth": last - first, "mean_step": float(part["nnstd_to_previous"].iloc[1:].mean())})
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
    layers: Sequence[int] | None = None,
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
    layers : sparse layers averaged into the network distance (default :func:`sparse_layer_indices` of ``base``).

    A progress bar follows the package's verbosity (:func:`sparsetopo.set_verbosity`).

    Returns
    -------
    pd.DataFrame
        One row per fraction, repeat and layer (``layer`` = ``"mean"`` for the network distance,
        the mean over ``layers``): ``fraction``, ``rewired_percent``, ``repeat``, ``layer``,
        ``nnstd``. The perturbed copy is the first argument of NNSTD (the later network first,
        as everywhere).
    """
    base = as_topology(base, name="base")
    layers = sparse_layer_indices(base) if layers is None else list(layers)
    fractions = [float(f) for f in fractions]
    if any(not 0 <= f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in [0, 1], got {fractions}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
    jobs, keys = [], []
    for i, f in enumerate(fractions):
        for r in range(n_repeats):
            jobs.append((rewired_copy(base, f, seed, i, r), base, method, tie_break, cache_dir))
            keys.append((f, r))
    results = parallel_map(_distance_to_base, jobs, n_jobs=n_jobs, desc="rewired copies")
    rows = []
    for (f, r), result in zip(keys, results):
        for k, d in enumerate(result.layer_distances):
            rows.append({"fraction": f, "rewired_percent": 100 * f, "repeat": r, "layer": str(k), "nnstd": float(d)})
        rows.append({"fraction": f, "rewired_percent": 100 * f, "repeat": r, "layer": "mean",
                     "nnstd": layer_mean(result.layer_distances, layers)})
    return pd.DataFrame(rows)


def rewired_copy(base: Sequence[Any], fraction: float, seed: int, index: int, repeat: int) -> list:
    """The copy of ``base`` that :func:`fraction_sweep` measures for fraction number ``index``, repeat ``repeat``."""
    return rewire_fraction(base, fraction, seed=np.random.default_rng([int(seed), int(index), int(repeat)]))


def _distance_to_base(item: tuple):
    copy, base, method, tie_break, cache_dir = item
    return cached_nnstd(copy, base, method=method, tie_break=tie_break, cache_dir=cache_dir,
                        use_cache=cache_dir is not None)


# ---------------------------------------------------------------------------
# tie noise: the resolution of a comparison
# ---------------------------------------------------------------------------


def tie_noise(
    pairs: Sequence[tuple[str, Sequence[Any], Sequence[Any]]],
    *,
    layers: Sequence[int],
    tie_break: str = "structure",
    n_shuffles: int = 4,
    seed: int = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Tie noise of representative pairs of each comparison (:func:`sparsetopo.nnstd.distance.tie_spread`).

    Every variant solves each layer optimally and differs only in which tied optimal matching feeds
    the next layer (exact solver, sparse solver, arguments swapped, ``n_shuffles`` renumberings of
    the second network). The spread (max - min over the variants) is the resolution of that
    comparison: differences below it are within what another optimal matching gives.

    Parameters
    ----------
    pairs : ``(comparison, first, second)`` triples; several pairs may share a comparison name.
    layers : sparse layers averaged into the network-level spread.
    tie_break : rule under test, as in :func:`~sparsetopo.nnstd.distance.tie_spread`.
    n_shuffles, seed : renumberings of the second network, and their seed.
    n_jobs : worker processes.

    Returns
    -------
    pd.DataFrame
        One row per pair: ``comparison``, ``pair`` (index within the comparison), ``tie_break``,
        ``variants``, ``nnstd`` (sparse-layer mean of the exact solver's result), ``spread``
        (max - min of the sparse-layer mean over the variants) and ``spread_layer_<k>`` per layer.
    """
    items, names = [], []
    counts: dict[str, int] = {}
    for name, first, second in pairs:
        items.append((first, second, n_shuffles, seed, tie_break))
        names.append((name, counts.get(name, 0)))
        counts[name] = counts.get(name, 0) + 1
    spreads = parallel_map(_tie_item, items, n_jobs=n_jobs, desc="tie noise")
    rows = []
    for (name, i), ts in zip(names, spreads):
        means = layer_mean(ts.layer_distances, layers)
        row = {"comparison": name, "pair": i, "tie_break": tie_break, "variants": len(ts.labels),
               "nnstd": float(means[0]), "spread": float(means.max() - means.min())}
        row.update({f"spread_layer_{k}": float(s) for k, s in enumerate(ts.spread)})
        rows.append(row)
    return pd.DataFrame(rows)


def _tie_item(item: tuple):
    first, second, n_shuffles, seed, tie_break = item
    return tie_spread(first, second, n_shuffles=n_shuffles, seed=seed, tie_break=tie_break)


def resolution_table(noise: pd.DataFrame) -> pd.DataFrame:
    """The largest tie noise of each comparison (one row per comparison and tie-break, in order of appearance)."""
    layer_cols = [c for c in noise.columns if c.startswith("spread_layer_")]
    out = noise.groupby(["comparison", "tie_break"], sort=False).agg(
        pairs=("pair", "size"), nnstd=("nnstd", "mean"), tie_noise=("spread", "max"),
        **{c.replace("spread_", "tie_noise_"): (c, "max") for c in layer_cols})
    return out.reset_index()

