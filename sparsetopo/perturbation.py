"""Controlled experiments on NNSTD: what it measures and whether it behaves like a distance.

Notebook ``01_nnstd`` calls one function of this module per step:

* :func:`worked_example` builds two tiny networks and spells out NNSTD on
  them: the cost matrix of every layer (after the renumbering chosen by the
  layer below), the matching, and the layer distances.
* :func:`identity_checks` measures NNSTD of a network against itself and
  against copies whose hidden neurons were renumbered (both should be 0).
* :func:`perturbation_chain` builds the paper's chain of networks, each
  moving 1 % of the previous one's edges; :func:`chain_frame` turns its
  pairwise NNSTD matrix into distance against chain position.
* :func:`fraction_sweep` rewires a growing fraction of one network's edges
  and measures NNSTD to the original; :func:`baseline_frame` lays the
  random-topology baseline (:func:`sparsetopo.distances.random_baseline`)
  out beside it; :func:`growth_correlation` summarises "NNSTD grows with
  perturbation" as a Spearman rank correlation.
* :func:`published_root`, :func:`load_published_runs`,
  :func:`published_pairwise` and :func:`published_agreement` read the
  topologies published with the paper's NNSTD code, compare them pairwise
  at several epochs, and check our implementation against the published
  code's printed numbers (:data:`PUBLISHED_REFERENCE`).

All randomness goes through explicit seeds; every NNSTD pair is cached on
disk through :mod:`sparsetopo.distances` when a ``cache_dir`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .distances import DistanceMatrix, cached_nnstd, pairwise_nnstd
from .nnstd import layer_cost_matrix, nnstd
from .topology import (
    as_topology,
    densities,
    load_published,
    permute_hidden_neurons,
    random_topology,
    rewire_fraction,
)

__all__ = [
    "PUBLISHED_REFERENCE",
    "PUBLISHED_RUNS",
    "PUBLISHED_EPOCHS",
    "WorkedExample",
    "worked_example",
    "sparse_layers",
    "identity_checks",
    "perturbation_chain",
    "chain_frame",
    "fraction_sweep",
    "baseline_frame",
    "growth_correlation",
    "published_root",
    "load_published_runs",
    "published_pairwise",
    "published_frame",
    "published_gap_correlation",
    "published_agreement",
]

#: Numbers printed by the paper's published NNSTD code
#: (github.com/Shiweiliuiiiiiii/Sparse_Topology_Distance) for
#: ``first = e5_s0_w1``, ``second = e5_s0_w0`` of its published topologies:
#: per-layer distances at two epochs and the network mean at epoch 190.
PUBLISHED_REFERENCE: dict[str, Any] = {
    "source": "printed by the paper's NNSTD code, github.com/Shiweiliuiiiiiii/Sparse_Topology_Distance",
    "first": "e5_s0_w1",
    "second": "e5_s0_w0",
    "layers": {0: (0.290237, 0.244549, 0.198133, 0.0), 190: (0.471445, 0.506789, 0.452657, 0.0)},
    "mean": {190: 0.357723},
    # the published numbers are printed with six decimals
    "printed_digits": 6,
}

#: Run folders of the published topologies (under ``official_nnstd_topo/topo``).
PUBLISHED_RUNS = tuple(f"e5_s0_w{i}" for i in range(10))
#: Epochs saved for every published run.
PUBLISHED_EPOCHS = (0, 10, 20, 30, 40, 50, 100, 150, 190)


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
    method, tie_break : as in :func:`sparsetopo.nnstd.nnstd`.

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


def perturbation_chain(base: Sequence[Any], length: int, *, fraction: float = 0.01, seed: int = 0) -> list[list[np.ndarray]]:
    """The paper's chain: each network moves ``fraction`` of the previous one's edges.

    Parameters
    ----------
    base : topology
        The chain's first network.
    length : int
        Number of perturbation steps; the chain holds ``length + 1`` networks.
    fraction : float
        Fraction of every sparse layer's edges moved per step
        (:func:`sparsetopo.topology.rewire_fraction`; dense layers stay).
    seed : int

    Returns
    -------
    list of topologies
        ``[base, step 1, ..., step length]``.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    chain = [[m.copy() for m in as_topology(base, name="base")]]
    rng = np.random.default_rng([int(seed), 0xC4A1])
    for _ in range(length):
        chain.append(rewire_fraction(chain[-1], fraction, seed=rng))
    return chain


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
    cache_dir : NNSTD cache folder (see :mod:`sparsetopo.distances`).
    method, tie_break : as in :func:`sparsetopo.nnstd.nnstd`.
    progress : show a tqdm bar.

    Returns
    -------
    pd.DataFrame
        One row per fraction, repeat and layer (``layer`` = ``"mean"`` for
        the network distance): ``fraction``, ``rewired_percent``,
        ``repeat``, ``layer``, ``nnstd``. The perturbed copy is the first
        argument of NNSTD (the later network first, as everywhere).
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

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
            jobs.append(delayed(cached_nnstd)(copy, base, method=method, tie_break=tie_break, cache_dir=cache_dir,
                                              use_cache=cache_dir is not None))
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    rows = []
    for (f, r), result in zip(keys, tqdm(results, total=len(keys), desc="rewired copies", disable=not progress)):
        for k, d in enumerate(result.layer_distances):
            rows.append({"fraction": f, "rewired_percent": 100 * f, "repeat": r, "layer": str(k), "nnstd": float(d)})
        rows.append({"fraction": f, "rewired_percent": 100 * f, "repeat": r, "layer": "mean", "nnstd": float(result.mean)})
    return pd.DataFrame(rows)


def baseline_frame(calibration) -> pd.DataFrame:
    """A random-topology :class:`~sparsetopo.distances.Calibration` as a tidy table.

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


# ---------------------------------------------------------------------------
# the published topologies
# ---------------------------------------------------------------------------


def published_root(data_root: str | os.PathLike | None = None) -> Path | None:
    """Folder of the published topologies, or None when the data root lacks them.

    Looks for ``<data root>/official_nnstd_topo/topo/e5_s0_w{0..9}`` (the data
    root as in :func:`sparsetopo.data.data_root`).
    """
    from .data import data_root as resolve

    root = resolve(data_root) / "official_nnstd_topo" / "topo"
    if not all((root / run).is_dir() for run in PUBLISHED_RUNS):
        return None
    return root


def load_published_runs(root: str | os.PathLike, epochs: Sequence[int],
                        runs: Sequence[str] = PUBLISHED_RUNS) -> dict[int, list[list[np.ndarray]]]:
    """The published topologies: epoch -> one topology per run (in ``runs`` order)."""
    root = Path(root)
    return {int(e): [load_published(root / run, int(e)) for run in runs] for e in epochs}


def published_pairwise(
    root: str | os.PathLike,
    epochs: Sequence[int],
    *,
    runs: Sequence[str] = PUBLISHED_RUNS,
    n_jobs: int = 1,
    progress: bool = False,
    cache_dir: str | os.PathLike | None = None,
    method: str = "auto",
    tie_break: str = "structure",
) -> dict[int, DistanceMatrix]:
    """Pairwise NNSTD between the published runs at each epoch.

    Returns
    -------
    dict
        epoch -> :class:`~sparsetopo.distances.DistanceMatrix` labelled
        ``w0`` ... ``w9``.
    """
    labels = [run.rsplit("_", 1)[-1] for run in runs]
    out = {}
    for epoch, topologies in load_published_runs(root, epochs, runs).items():
        out[epoch] = pairwise_nnstd(topologies, labels=labels, n_jobs=n_jobs, progress=progress,
                                    cache_dir=cache_dir, method=method, tie_break=tie_break)
    return out


def published_frame(matrices: dict[int, DistanceMatrix]) -> pd.DataFrame:
    """Off-diagonal pairs of :func:`published_pairwise` as a tidy table.

    Returns
    -------
    pd.DataFrame
        One row per epoch, pair ``i > j`` and layer (``"mean"`` included):
        ``epoch``, ``first``, ``second``, ``layer``, ``nnstd``.
    """
    rows = []
    for epoch, matrix in matrices.items():
        n = len(matrix.labels)
        for i in range(n):
            for j in range(i):
                for k in range(matrix.layers.shape[0]):
                    rows.append({"epoch": epoch, "first": matrix.labels[i], "second": matrix.labels[j],
                                 "layer": str(k), "nnstd": float(matrix.layers[k, i, j])})
                rows.append({"epoch": epoch, "first": matrix.labels[i], "second": matrix.labels[j],
                             "layer": "mean", "nnstd": float(matrix.mean[i, j])})
    return pd.DataFrame(rows)


def published_gap_correlation(frame: pd.DataFrame) -> pd.DataFrame:
    """Does NNSTD between published runs grow with the gap between their indices?

    Parameters
    ----------
    frame : from :func:`published_frame` (labels ``w<i>``).

    Returns
    -------
    pd.DataFrame
        One row per epoch, one column per layer in ``frame``: Spearman's rho
        between ``|i - j|`` and NNSTD over all pairs ``(w<i>, w<j>)``.
    """
    from scipy.stats import spearmanr

    def run_index(labels: pd.Series) -> pd.Series:
        return labels.str.extract(r"(\d+)$", expand=False).astype(int)

    frame = frame.copy()
    frame["index_gap"] = (run_index(frame["first"]) - run_index(frame["second"])).abs()
    rows = []
    for epoch, part in frame.groupby("epoch"):
        row = {"epoch": int(epoch)}
        for layer, p in part.groupby("layer", sort=False):
            row[f"spearman_layer_{layer}"] = float(spearmanr(p["index_gap"], p["nnstd"]).statistic)
        rows.append(row)
    return pd.DataFrame(rows)


def published_agreement(root: str | os.PathLike) -> pd.DataFrame:
    """Our NNSTD against the published code's printed numbers.

    Computes ``nnstd(first, second, method="exact", tie_break="solver")``
    (the published code's solver and tie behaviour) for the pair and epochs
    of :data:`PUBLISHED_REFERENCE`.

    Returns
    -------
    pd.DataFrame
        One row per epoch and layer (``layer`` = ``"mean"`` where a published
        mean exists): ``epoch``, ``layer``, ``published``, ``measured``,
        ``abs_deviation`` = ``|measured - published|`` (at most 5e-7 when
        they agree: the published values are printed with six decimals).
    """
    root = Path(root)
    ref = PUBLISHED_REFERENCE
    rows = []
    for epoch, published in ref["layers"].items():
        first = load_published(root / ref["first"], epoch)
        second = load_published(root / ref["second"], epoch)
        result = nnstd(first, second, method="exact", tie_break="solver")
        pairs = [(str(k), p, m) for k, (p, m) in enumerate(zip(published, result.layer_distances))]
        if epoch in ref["mean"]:
            pairs.append(("mean", ref["mean"][epoch], result.mean))
        for layer, p, m in pairs:
            rows.append({"epoch": epoch, "layer": layer, "published": float(p), "measured": float(m),
                         "abs_deviation": abs(float(m) - float(p))})
    return pd.DataFrame(rows)
