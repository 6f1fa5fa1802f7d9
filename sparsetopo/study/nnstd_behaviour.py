"""Controlled experiments on NNSTD: what it measures and whether it behaves like a distance.

Notebook ``01_nnstd`` calls the study API at the end of this module
(:class:`Parameters`, :func:`run`, :func:`claims`, :func:`figures`,
:func:`notes`, :func:`discussion`); :func:`run` goes through these steps:

* :func:`worked_example` builds two tiny networks and spells out NNSTD on
  them: the cost matrix of every layer (after the renumbering chosen by the
  layer below), the matching, and the layer distances.
* :func:`identity_checks` measures NNSTD of a network against itself and
  against copies whose hidden neurons were renumbered, under both tie-breaks:
  the published code's (``"solver"``, the paper's metric) and this project's
  structural one (``"structure"``).
* :func:`chains_frame` follows independent chains of the paper's kind
  (:func:`sparsetopo.topology.masks.perturbation_chain`, each network moving
  1 % of the previous one's edges) and :func:`chain_frame` reads the pairwise
  matrix of the first chain.
* :func:`fraction_sweep` rewires a growing fraction of one network's edges
  and measures NNSTD to the original; :func:`baseline_frame` lays the
  random-topology baseline (:func:`sparsetopo.nnstd.pairwise.random_baseline`)
  out beside it.
* :func:`tie_noise` measures, for representative pairs of every comparison,
  how far the other optimal matchings move NNSTD
  (:func:`sparsetopo.nnstd.distance.tie_spread`): the resolution of the
  measurement.

The network-level NNSTD of this module is the mean over the **sparse** layers
(:func:`sparse_mean`): a dense layer always has NNSTD 0, and averaging it in
would shrink every network distance by a quarter (three sparse layers and a
dense output layer). Per-layer values are kept everywhere. The one exception
is the comparison with the numbers the published code printed, whose mean
runs over all layers as that code computes it.

Verdicts (:mod:`sparsetopo.study.verdicts`) compare a difference's
confidence interval with a margin fixed in the parameters; intervals of
statistics over pairs of networks resample networks
(:func:`~sparsetopo.study.verdicts.network_bootstrap_ci`).

All randomness goes through explicit seeds; every NNSTD pair is cached on
disk through :mod:`sparsetopo.nnstd.pairwise` when a ``cache_dir`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from ..nnstd.distance import TIE_BREAKS, layer_cost_matrix, nnstd, tie_spread
from ..nnstd.pairwise import DistanceMatrix, cached_nnstd
from ..parallel import parallel_map
from ..stats import mean_ci
from ..topology.masks import (
    as_topology,
    densities,
    edge_counts,
    permute_hidden_neurons,
    random_topology,
    rewire_fraction,
)
from . import verdicts as V
from .common import baseline_frame, sparse_layers, sparse_mean
from .findings import Findings
from .params import StudyParameters, check_bool, check_int, check_real, check_sequence

__all__ = [
    "WorkedExample",
    "worked_example",
    "sparse_layers",
    "sparse_mean",
    "identity_checks",
    "chain_frame",
    "chains_frame",
    "chain_growth",
    "fraction_sweep",
    "sweep_steps",
    "baseline_frame",
    "tie_noise",
    "resolution_table",
    "pair_summary",
    "equivalent_rewiring",
    "weakest",
    "published_edges",
    "TIE_LABELS",
    "MARGIN_JUSTIFICATIONS",
    "Parameters",
    "Published",
    "Result",
    "run",
    "notes",
    "claims",
    "figures",
    "discussion",
]

#: How the two tie-breaks are named wherever a number depends on them.
TIE_LABELS = {
    "solver": "published tie-break (the paper's metric)",
    "structure": "structural tie-break (this project's extension)",
}

#: Why each margin of :class:`Parameters` has its value (recorded with every verdict). The spreads cited
#: were measured in a calibration run of the default profile (seed 0; tie noise over 7 tied optimal matchings,
#: network NNSTD over the sparse layers); every run reports its own tie noise and spreads beside them.
MARGIN_JUSTIFICATIONS = {
    "invariance_margin": (
        "half the network NNSTD between networks 1% apart (0.019-0.026 over 5 chains at the published density, "
        "default profile), about the smallest tie noise of pairs of published networks (0.008; up to 0.026): a "
        "renumbered copy must lie closer to its original than half of the paper's smallest perturbation"),
    "growth_margin": (
        "about one 1% step (0.019-0.026) and four times the tie noise of the chain's first-to-last pair (0.0045), "
        "default profile: the growth must exceed one step and what another tied matching can move"),
    "step_margin": (
        "the largest tie noise of rewired copies of this network (0.0066 at 1% moved; 0.0013 at 100% and 0.0011 "
        "for random pairs), default profile, rounded up: a step must exceed what another tied matching can move"),
    "baseline_margin": (
        "five times the pair-to-pair standard deviation of the random baseline (0.0020) and seven times the tie "
        "noise of random pairs (0.0011-0.0013), default profile; also under half of one 1% step (0.023)"),
    "training_margin": (
        "the largest tie noise of pairs of published networks (0.026 at the first saved snapshot, 0.008-0.022 "
        "at later epochs; default profile), rounded up"),
    "agreement_tolerance": (
        "the published numbers are printed with six decimals, so rounding alone deviates by up to 5e-7; "
        "1e-6 leaves room for the last bit of the float sums"),
}

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
# sparse layers and the network-level distance
# ---------------------------------------------------------------------------


def _matrix_sparse_mean(matrix: DistanceMatrix, layers: Sequence[int]) -> np.ndarray:
    return matrix.layers[list(layers)].mean(axis=0)


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
        layers = sparse_layers(topology)
        copies = [("identical", [m.copy() for m in topology])]
        copies += [(f"permuted_{i}", permute_hidden_neurons(topology, seed=rng)) for i in range(n_permutations)]
        for check, copy in copies:
            for tie_break in tie_breaks:
                r = nnstd(copy, topology, method=method, tie_break=tie_break)
                row = {"network": name, "check": check, "tie_break": tie_break,
                       "nnstd": sparse_mean(r.layer_distances, layers), "max_layer": max(r.layer_distances)}
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
    network = _matrix_sparse_mean(matrix, layers)
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
                    "nnstd_to_start": float(sparse_mean(start, layers) if layer == "mean" else start[layer]),
                    "nnstd_to_previous": float(sparse_mean(prev, layers) if layer == "mean" else prev[layer]),
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
    layers : sparse layers averaged into the network distance (default :func:`sparse_layers` of ``base``).

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
    layers = sparse_layers(base) if layers is None else list(layers)
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
                     "nnstd": sparse_mean(result.layer_distances, layers)})
    return pd.DataFrame(rows)


def rewired_copy(base: Sequence[Any], fraction: float, seed: int, index: int, repeat: int) -> list:
    """The copy of ``base`` that :func:`fraction_sweep` measures for fraction number ``index``, repeat ``repeat``."""
    return rewire_fraction(base, fraction, seed=np.random.default_rng([int(seed), int(index), int(repeat)]))


def _distance_to_base(item: tuple):
    copy, base, method, tie_break, cache_dir = item
    return cached_nnstd(copy, base, method=method, tie_break=tie_break, cache_dir=cache_dir,
                        use_cache=cache_dir is not None)


def sweep_steps(sweep: pd.DataFrame, margin: "V.Margin", *, confidence: float = 0.95) -> pd.DataFrame:
    """Each step of the rewired-fraction sweep (network distance) as a superiority verdict.

    For consecutive fractions ``f_i < f_{i+1}``, the difference of the mean NNSTD over the
    independent rewirings, its Welch interval, and :func:`~sparsetopo.study.verdicts.superiority`
    with ``margin`` (the step must exceed the margin).

    Returns
    -------
    pd.DataFrame
        One row per step: ``from_percent``, ``to_percent``, ``difference``, ``low``, ``high``,
        ``verdict`` and the :class:`~sparsetopo.study.verdicts.Verdict` itself (``verdict_obj``).
    """
    mean = sweep[sweep["layer"] == "mean"]
    groups = {f: part["nnstd"].to_numpy() for f, part in mean.groupby("fraction")}
    fractions = sorted(groups)
    rows = []
    for a, b in zip(fractions, fractions[1:]):
        ci = V.difference_ci(groups[b], groups[a], confidence=confidence)
        v = V.superiority(ci.estimate, ci.ci, margin)
        rows.append({"from_percent": 100 * a, "to_percent": 100 * b, "difference": ci.estimate, "low": ci.low,
                     "high": ci.high, "verdict": v.verdict, "verdict_obj": v})
    return pd.DataFrame(rows)


def weakest(verdicts: Sequence["V.Verdict"]) -> "V.Verdict":
    """The verdict of "every one of these holds" (an intersection-union test): the weakest member.

    Any "does not hold" decides (the one with the lowest upper bound); else any "inconclusive"
    (the one with the lowest lower bound); else all hold and the one with the lowest lower bound
    is returned. The intersection-union test needs no multiplicity correction.
    """
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("weakest() needs at least one verdict")
    failed = [v for v in verdicts if v.verdict == V.DOES_NOT_HOLD]
    if failed:
        return min(failed, key=lambda v: v.high)
    open_ = [v for v in verdicts if v.verdict == V.INCONCLUSIVE]
    return min(open_ or verdicts, key=lambda v: (np.nan_to_num(v.low, nan=-np.inf)))


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
        means = sparse_mean(ts.layer_distances, layers)
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


# ---------------------------------------------------------------------------
# statistics over pairs of networks
# ---------------------------------------------------------------------------


def pair_summary(matrix: np.ndarray, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Mean, range and network-bootstrap interval of the pairwise distances of one group of networks."""
    m = np.asarray(matrix, dtype=float)
    iu = np.triu_indices(m.shape[0], k=1)
    ci = V.network_bootstrap_ci(m, n_boot=n_boot, seed=seed, confidence=confidence)
    return {"mean": ci.estimate, "ci_low": ci.low, "ci_high": ci.high, "min": float(m[iu].min()),
            "max": float(m[iu].max()), "networks": int(m.shape[0]), "pairs": int(iu[0].size)}


def published_edges(root: Any, widths: Sequence[int], epoch: int) -> list[int] | None:
    """Edges per layer for a network of ``widths`` at the published density, read from the published files.

    Mean edge count per layer over the ten published runs at ``epoch`` (rounded); when ``widths``
    differ from the published ones (same number of layers), the published per-layer *densities*
    applied to ``widths``. ``None`` when the layer counts differ.
    """
    from . import published as published_data

    runs = published_data.load_published_runs(root, [epoch])[epoch]
    counts = np.array([edge_counts(t) for t in runs], dtype=float).mean(axis=0)
    shapes = [m.shape for m in runs[0]]
    if len(shapes) != len(widths) - 1:
        return None
    out = []
    for k, (n_out, n_in) in enumerate(shapes):
        size = widths[k + 1] * widths[k]
        if (n_out, n_in) == (widths[k + 1], widths[k]):
            out.append(int(round(counts[k])))
        else:
            out.append(max(1, min(size, int(round(counts[k] / (n_out * n_in) * size)))))
    return out


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / figures / notes / discussion
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``01_nnstd`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    seed : seed of the perturbed network, the chains, the sweep, the baselines, the renumberings.
    hidden : hidden widths of the perturbed network (input and output come from the dataset).
    epsilon : Erdős–Rényi ε of the perturbed network when the published density is not used (> 0).
    edges_from_published : give the perturbed network the published networks' edge counts per layer
        (mean over the ten runs at the first saved snapshot; their densities when the widths differ);
        ε is used when the published files are absent or have another number of layers.
    chain_length : 1% steps of each perturbation chain (>= 2).
    chain_fraction : fraction of the previous network's edges each chain step moves, in (0, 1].
    chain_seeds : independent chains (each from its own random start; >= 2, for an interval).
    sweep_fractions : rewired fractions in [0, 1] (>= 3, distinct).
    sweep_repeats : independent rewirings per fraction (>= 2, for an interval).
    baseline_pairs : random topology pairs of the baseline (>= 2, for an interval).
    n_permutations : renumbered copies per network in the identity checks (>= 2, for an interval).
    tie_shuffles : renumberings per pair in the tie-noise measurement (:func:`tie_noise`).
    tie_pairs : pairs per comparison whose tie noise is measured (>= 1).
    n_boot : bootstrap replicates of the network-bootstrap intervals (>= 100).
    example_widths : widths of the two tiny networks of the worked example (>= 3 layers of widths).
    example_density : their density, in (0, 1].
    example_seed : seed of the worked example.
    use_published : compare the topologies published with the paper's code (skipped when absent).
    published_epochs : their saved epochs to compare (each one of ``PUBLISHED_EPOCHS``, >= 2).
    published_runs : how many of the ten published runs are compared (the first ones, ``w0`` ...; >= 3, for a
        bootstrap over networks).
    invariance_margin : equivalence margin of "a renumbered copy is at NNSTD 0" (> 0).
    growth_margin : superiority margin of "NNSTD grows along the 1% chain" (>= 0).
    step_margin : superiority margin of every step of the rewired-fraction sweep (>= 0).
    baseline_margin : equivalence margin of "a copy with every edge moved is as far as random topologies" (> 0).
    training_margin : superiority margin of the published networks' comparisons over epochs and with
        the random baseline (>= 0).
    agreement_tolerance : equivalence margin of the agreement with the published numbers (> 0).

    Every margin's justification is in :data:`MARGIN_JUSTIFICATIONS`.
    """

    NOTEBOOK: ClassVar[str] = "01_nnstd"

    seed: int
    hidden: tuple
    epsilon: float
    edges_from_published: bool
    chain_length: int
    chain_fraction: float
    chain_seeds: int
    sweep_fractions: tuple
    sweep_repeats: int
    baseline_pairs: int
    n_permutations: int
    tie_shuffles: int
    tie_pairs: int
    n_boot: int
    example_widths: tuple
    example_density: float
    example_seed: int
    use_published: bool
    published_epochs: tuple
    published_runs: int
    invariance_margin: float
    growth_margin: float
    step_margin: float
    baseline_margin: float
    training_margin: float
    agreement_tolerance: float

    def __post_init__(self) -> None:
        from .published import PUBLISHED_EPOCHS

        super().__post_init__()
        positive = lambda n, v: check_int(n, v, minimum=1)  # noqa: E731
        self._set("seed", check_int("seed", self.seed, minimum=0))
        self._set("hidden", check_sequence("hidden", self.hidden, positive))
        self._set("epsilon", check_real("epsilon", self.epsilon, minimum=0, exclusive_minimum=True))
        self._set("edges_from_published", check_bool("edges_from_published", self.edges_from_published))
        self._set("chain_length", check_int("chain_length", self.chain_length, minimum=2))
        self._set("chain_fraction", check_real("chain_fraction", self.chain_fraction, minimum=0,
                                               exclusive_minimum=True, maximum=1))
        self._set("chain_seeds", check_int("chain_seeds", self.chain_seeds, minimum=2))
        self._set("sweep_fractions", check_sequence(
            "sweep_fractions", self.sweep_fractions, lambda n, v: check_real(n, v, minimum=0, maximum=1),
            min_length=3, unique=True))
        self._set("sweep_repeats", check_int("sweep_repeats", self.sweep_repeats, minimum=2))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        self._set("n_permutations", check_int("n_permutations", self.n_permutations, minimum=2))
        self._set("tie_shuffles", check_int("tie_shuffles", self.tie_shuffles, minimum=0))
        self._set("tie_pairs", check_int("tie_pairs", self.tie_pairs, minimum=1))
        self._set("n_boot", check_int("n_boot", self.n_boot, minimum=100))
        self._set("example_widths", check_sequence("example_widths", self.example_widths, positive, min_length=3))
        self._set("example_density", check_real("example_density", self.example_density, minimum=0,
                                                exclusive_minimum=True, maximum=1))
        self._set("example_seed", check_int("example_seed", self.example_seed, minimum=0))
        self._set("use_published", check_bool("use_published", self.use_published))

        def epoch(n: str, v: Any) -> int:
            v = check_int(n, v, minimum=0)
            if v not in PUBLISHED_EPOCHS:
                raise ValueError(f"parameter {n} must be a published epoch {list(PUBLISHED_EPOCHS)}, got {v!r}")
            return v

        self._set("published_epochs", check_sequence("published_epochs", self.published_epochs, epoch, unique=True,
                                                     increasing=True, min_length=2))
        self._set("published_runs", check_int("published_runs", self.published_runs, minimum=3, maximum=10))
        for name in ("invariance_margin", "baseline_margin", "agreement_tolerance"):
            self._set(name, check_real(name, getattr(self, name), minimum=0, exclusive_minimum=True))
        for name in ("growth_margin", "step_margin", "training_margin"):
            self._set(name, check_real(name, getattr(self, name), minimum=0))

    def margin(self, name: str) -> V.Margin:
        """The margin ``name`` (a field of this class) with its justification."""
        return V.Margin(getattr(self, name), f"{name}: {MARGIN_JUSTIFICATIONS[name]}")


@dataclass(frozen=True, eq=False)
class Published:
    """The published topologies' part of a :class:`Result` (present only when the data root holds them).

    Attributes
    ----------
    root : folder of the published topologies.
    matrices : epoch -> pairwise NNSTD of the runs compared (per layer; the ``mean`` attribute runs over all layers).
    layers : sparse layers of the published networks.
    table : tidy pairwise distances over epochs (sparse layers, and ``"mean"`` over the sparse layers).
    summary : per epoch and layer (``"mean"`` included): mean pairwise NNSTD, its network-bootstrap
        interval, and the smallest and largest pair.
    baseline : random baseline of networks of their shape (from :func:`baseline_frame`).
    gap : per epoch, Spearman correlation of distance with the gap between run indices.
    agreement : our NNSTD against the numbers the published code printed.
    moved_apart : network-bootstrap interval of mean NNSTD at the last epoch minus at the first.
    """

    root: Any
    matrices: dict
    layers: list
    table: pd.DataFrame
    summary: pd.DataFrame
    baseline: pd.DataFrame
    gap: pd.DataFrame
    agreement: pd.DataFrame
    moved_apart: Any

    @property
    def epochs(self) -> list[int]:
        return sorted(self.matrices)

    def network(self, epoch: int) -> np.ndarray:
        """Network-level (sparse-layer mean) pairwise matrix at ``epoch``."""
        return _matrix_sparse_mean(self.matrices[epoch], self.layers)


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``01_nnstd`` computed (see :func:`run`).

    Attributes
    ----------
    params : the parameters of the run.
    example : the worked example.
    widths : widths of the perturbed network (dataset input and output around ``params.hidden``).
    base : the perturbed network, ``(n_out, n_in)`` bool per layer.
    base_source : how its edge counts were chosen (a sentence).
    layers : its sparse layers.
    identity : :func:`identity_checks` of the perturbed network (and a trained published one).
    chain_matrix : pairwise NNSTD of the first perturbation chain.
    chain_table : :func:`chain_frame` of it.
    chains : :func:`chains_frame` of every chain; growth : :func:`chain_growth` of it.
    sweep : :func:`fraction_sweep` of the perturbed network.
    calibration : random baseline of the perturbed network's shape; baseline : :func:`baseline_frame` of it.
    noise : :func:`tie_noise` of representative pairs of every comparison.
    published : the published topologies' comparisons, or ``None`` when not used or absent.
    """

    params: Parameters
    example: WorkedExample
    widths: list
    base: list
    base_source: str
    layers: list
    identity: pd.DataFrame
    chain_matrix: DistanceMatrix
    chain_table: pd.DataFrame
    chains: pd.DataFrame
    growth: pd.DataFrame
    sweep: pd.DataFrame
    calibration: Any
    baseline: pd.DataFrame
    noise: pd.DataFrame
    published: Published | None

    def layer_names(self) -> dict[str, str]:
        """Panel titles: ``"0"`` -> ``"layer 0"``, ..., ``"mean"`` -> ``"network (mean over sparse layers)"``."""
        return {**{str(k): f"layer {k}" for k in range(len(self.base))}, "mean": "network (mean over sparse layers)"}

    def resolution(self) -> pd.DataFrame:
        """:func:`resolution_table` of :attr:`noise`."""
        return resolution_table(self.noise)

    def tie_noise_of(self, comparison: str, tie_break: str = "structure") -> float:
        """Largest measured tie noise (sparse-layer mean) of the comparisons whose name starts with ``comparison``."""
        rows = self.noise[self.noise["comparison"].str.startswith(comparison) & (self.noise["tie_break"] == tie_break)]
        return float(rows["spread"].max()) if len(rows) else float("nan")


def _published_pairs(n: int, k: int) -> list[tuple[int, int]]:
    """``k`` disjoint pairs ``(2i + 1, 2i)`` of ``n`` networks (the later index first)."""
    return [(2 * i + 1, 2 * i) for i in range(min(k, n // 2))]


def run(params: Parameters) -> Result:
    """Compute everything notebook ``01_nnstd`` shows (NNSTD pairs cached under ``params.cache_dir``).

    Raises
    ------
    TypeError
        When ``params`` is not a :class:`Parameters`.
    """
    from ..data import load_dataset
    from ..nnstd.pairwise import pairwise_nnstd, random_baseline, trajectory_nnstd
    from ..parallel import show_progress
    from ..topology.masks import perturbation_chain
    from . import published as published_data

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be nnstd_behaviour.Parameters, got {type(params).__name__}")
    p, cache_dir, progress = params, params.cache_dir, show_progress()
    example = worked_example(list(p.example_widths), density=p.example_density, seed=p.example_seed)
    widths = load_dataset(p.dataset).widths(p.hidden)
    root = published_data.published_root() if p.use_published else None
    first_saved = published_data.PUBLISHED_EPOCHS[0]
    edges = published_edges(root, widths, first_saved) if (root is not None and p.edges_from_published) else None

    def start(seed: int) -> list:
        if edges is not None:
            return random_topology(widths, layer_edges=edges, seed=seed)
        return random_topology(widths, epsilon=p.epsilon, seed=seed)

    if edges is not None:
        same_shape = all(w == 784 for w in widths[:-1]) and len(widths) == 5 and widths[-1] == 10
        base_source = ("the published networks' edge counts per layer (mean over the ten runs at the first saved "
                       f"snapshot): {edges}" if same_shape else
                       f"the published networks' densities per layer applied to widths {widths}: {edges} edges")
    else:
        why = ("use of the published files is off" if root is None and not p.use_published else
               "the published files are absent" if root is None else
               "edges_from_published is off" if not p.edges_from_published else
               "the published networks have another number of layers")
        base_source = f"Erdős–Rényi ε = {p.epsilon:g} ({why})"
    base = start(p.seed)
    layers = sparse_layers(base)
    still = [k for k in layers if round(p.chain_fraction * int(base[k].sum())) < 1]
    if still:
        raise ValueError(f"chain_fraction={p.chain_fraction} moves no edge of layers {still} (edges per layer "
                         f"{edge_counts(base)}); raise chain_fraction, the widths or the density")

    checked = {"random network": base}
    last_epoch = max(p.published_epochs)
    if root is not None:
        checked[f"published w0, epoch {last_epoch} (trained)"] = published_data.load_published_runs(
            root, [last_epoch], runs=["e5_s0_w0"])[last_epoch][0]
    identity = identity_checks(checked, n_permutations=p.n_permutations, seed=p.seed)

    chains = [perturbation_chain(base if c == 0 else start(p.seed + c), p.chain_length, fraction=p.chain_fraction,
                                 seed=p.seed + c) for c in range(p.chain_seeds)]
    chain_matrix = pairwise_nnstd(chains[0], labels=range(len(chains[0])), n_jobs=p.n_jobs, progress=progress,
                                  cache_dir=cache_dir)
    chain_table = chain_frame(chain_matrix, fraction=p.chain_fraction, layers=layers)
    trajectories = [trajectory_nnstd(chain, n_jobs=p.n_jobs, progress=progress, cache_dir=cache_dir)
                    for chain in chains]
    chain_tidy = chains_frame(trajectories, layers, fraction=p.chain_fraction)
    sweep = fraction_sweep(base, list(p.sweep_fractions), n_repeats=p.sweep_repeats, seed=p.seed, n_jobs=p.n_jobs,
                           cache_dir=cache_dir, layers=layers)
    calibration = random_baseline(base, n_pairs=p.baseline_pairs, seed=p.seed, n_jobs=p.n_jobs, progress=progress,
                                  cache_dir=cache_dir)

    # tie noise of representative pairs of every comparison
    rng = np.random.default_rng([p.seed, 7])
    pairs: list = []
    for name, net in checked.items():
        pairs.append((f"renumbered copy of the {name}", permute_hidden_neurons(net, seed=rng), net))
    pairs.append(("1% chain, one step", chains[0][1], chains[0][0]))
    pairs.append(("1% chain, first to last", chains[0][-1], chains[0][0]))
    nonzero = [(i, f) for i, f in enumerate(p.sweep_fractions) if f > 0]
    for j in sorted(set(np.linspace(0, len(nonzero) - 1, min(p.tie_pairs, len(nonzero))).round().astype(int))):
        i, f = nonzero[j]
        pairs.append((f"rewired copy, {100 * f:g}% moved", rewired_copy(base, f, p.seed, i, 0), base))
    for pair in range(min(p.tie_pairs, p.baseline_pairs)):
        a, b = (random_topology(widths, layer_edges=edge_counts(base), seed=np.random.default_rng([p.seed, pair, s]))
                for s in (0, 1))
        pairs.append(("random pair", a, b))
    run_names = published_data.PUBLISHED_RUNS[:p.published_runs]
    pub_runs = published_data.load_published_runs(root, list(p.published_epochs), runs=run_names) if root else {}
    for e, nets in pub_runs.items():
        for i, j in _published_pairs(len(nets), p.tie_pairs):
            pairs.append((f"published networks, epoch {e}", nets[i], nets[j]))
    noise = tie_noise(pairs, layers=layers, tie_break="structure", n_shuffles=p.tie_shuffles, seed=p.seed,
                      n_jobs=p.n_jobs)
    copies = [t for t in pairs if t[0].startswith("renumbered copy")]
    noise = pd.concat([noise, tie_noise(copies, layers=layers, tie_break="solver", n_shuffles=p.tie_shuffles,
                                        seed=p.seed, n_jobs=p.n_jobs)], ignore_index=True)

    published = None
    if root is not None:
        matrices = published_data.published_pairwise(root, list(p.published_epochs), runs=run_names, n_jobs=p.n_jobs,
                                                     cache_dir=cache_dir)
        epochs = sorted(matrices)
        pub_layers = sparse_layers(pub_runs[epochs[0]][0])
        table = published_data.published_frame(matrices)
        table = table[table["layer"].isin([str(k) for k in pub_layers])]
        network_rows = (table.groupby(["epoch", "first", "second"], sort=False)["nnstd"].mean().reset_index()
                        .assign(layer="mean"))
        table = pd.concat([table, network_rows[table.columns]], ignore_index=True)
        summary = []
        for e in epochs:
            for layer in [str(k) for k in pub_layers] + ["mean"]:
                m = (_matrix_sparse_mean(matrices[e], pub_layers) if layer == "mean"
                     else matrices[e].layers[int(layer)])
                summary.append({"epoch": e, "layer": layer, **pair_summary(m, n_boot=p.n_boot, seed=p.seed)})
        last_net = pub_runs[epochs[-1]][0]
        pub_baseline = baseline_frame(random_baseline(last_net, n_pairs=p.baseline_pairs, seed=p.seed,
                                                      n_jobs=p.n_jobs, progress=progress, cache_dir=cache_dir),
                                      pub_layers)
        moved = V.network_bootstrap_ci(_matrix_sparse_mean(matrices[epochs[-1]], pub_layers)
                                       - _matrix_sparse_mean(matrices[epochs[0]], pub_layers),
                                       n_boot=p.n_boot, seed=p.seed)
        published = Published(root=root, matrices=matrices, layers=pub_layers, table=table,
                              summary=pd.DataFrame(summary), baseline=pub_baseline,
                              gap=published_data.published_gap_correlation(table),
                              agreement=published_data.published_agreement(root), moved_apart=moved)
    return Result(params=p, example=example, widths=widths, base=base, base_source=base_source, layers=layers,
                  identity=identity, chain_matrix=chain_matrix, chain_table=chain_table, chains=chain_tidy,
                  growth=chain_growth(chain_tidy), sweep=sweep, calibration=calibration,
                  baseline=baseline_frame(calibration, layers), noise=noise, published=published)


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------


def rules(params: Parameters) -> str:
    """The verdict rules and margins of notebook ``01_nnstd`` as Markdown (shown before any number)."""
    p = params
    lines = [
        "**Verdict rules** (fixed before the numbers; `sparsetopo.study.verdicts`). Each claim compares a "
        "difference's 95% confidence interval [low, high] with a margin m from the parameters: *equivalence* "
        "holds when -m < low and high < m, does not hold when the interval lies wholly outside ±m; *superiority* "
        "holds when low > m, does not hold when high < m; anything else is *inconclusive*. The network-level "
        "NNSTD is the mean over the sparse layers. The resolution of every comparison is its tie noise "
        "(max - min over the tied optimal matchings, `tie_spread`), reported beside it.",
        "",
        "| claim | rule | difference and interval | margin | why this margin |",
        "|---|---|---|---|---|",
        f"| a renumbered copy is at NNSTD 0, per network and tie-break | equivalence | mean NNSTD of "
        f"{p.n_permutations} renumbered copies, Student-t over the copies | {p.invariance_margin:g} | "
        f"{MARGIN_JUSTIFICATIONS['invariance_margin']} |",
        f"| NNSTD grows along the 1% chain | superiority | NNSTD(last, start) - NNSTD(step 1, start) per chain, "
        f"Student-t over {p.chain_seeds} independent chains | {p.growth_margin:g} | "
        f"{MARGIN_JUSTIFICATIONS['growth_margin']} |",
        f"| NNSTD increases at every step of the rewired-fraction sweep | superiority of every step "
        f"(intersection-union: the weakest step decides) | difference of the mean NNSTD of consecutive fractions, "
        f"Welch over {p.sweep_repeats} rewirings each | {p.step_margin:g} | {MARGIN_JUSTIFICATIONS['step_margin']} |",
        f"| a copy with every edge moved is as far as random topologies | equivalence | NNSTD(100% rewired) - "
        f"random baseline, Welch over {p.sweep_repeats} rewirings and {p.baseline_pairs} random pairs | "
        f"{p.baseline_margin:g} | {MARGIN_JUSTIFICATIONS['baseline_margin']} |",
        f"| the published runs move apart during training | superiority | mean pairwise NNSTD at the last epoch "
        f"minus at the first saved snapshot, bootstrap over networks ({p.n_boot} replicates) | "
        f"{p.training_margin:g} | {MARGIN_JUSTIFICATIONS['training_margin']} |",
        f"| the published runs stay closer than random topologies | superiority | random baseline minus mean "
        f"pairwise NNSTD at the last epoch, bootstrap over networks (widened by the baseline's own interval) | "
        f"{p.training_margin:g} | {MARGIN_JUSTIFICATIONS['training_margin']} |",
        f"| this implementation reproduces the published code's printed numbers | equivalence | ours minus "
        f"printed, over every printed value (deterministic: the interval is their range) | "
        f"{p.agreement_tolerance:g} | {MARGIN_JUSTIFICATIONS['agreement_tolerance']} |",
        "",
        "Rows that cannot fail (NNSTD of an identical copy, the baseline's level, the distance between the "
        "published networks at their first saved snapshot) are recorded as descriptions (verdict n/a).",
    ]
    return "\n".join(lines)


def _identity_claims(result: Result) -> list[tuple[str, V.Verdict, str, str]]:
    """``(claim, verdict, detail, spread)`` of the permutation check per tie-break and network."""
    p, ident = result.params, result.identity
    out = []
    for tie_break in ("structure", "solver"):
        for network in dict.fromkeys(ident["network"]):
            rows = ident[(ident["network"] == network) & (ident["tie_break"] == tie_break)
                         & (ident["check"] != "identical")]
            m, lo, hi = mean_ci(rows["nnstd"].to_numpy())
            v = V.equivalence(m, (lo, hi), p.margin("invariance_margin"))
            noise = result.tie_noise_of(f"renumbered copy of the {network}", tie_break)
            layer_cols = sorted(c for c in rows.columns if c.startswith("layer_"))
            worst = {c.removeprefix("layer_"): float(rows[c].max()) for c in layer_cols}
            out.append((
                f"NNSTD of a neuron-permuted copy is 0 — {TIE_LABELS[tie_break]}, {network}", v,
                f"mean over {len(rows)} copies with renumbered hidden neurons of NNSTD to the original (mean over "
                f"sparse layers); largest per layer {', '.join(f'{k}: {x:.4f}' for k, x in worst.items())}",
                f"95% CI [{lo:.4f}, {hi:.4f}] over {len(rows)} renumberings; tie noise {noise:.4f}"))
    return out


def _chain_verdict(result: Result) -> V.Verdict:
    g = result.growth["growth"].to_numpy()
    m, lo, hi = mean_ci(g)
    return V.superiority(m, (lo, hi), result.params.margin("growth_margin"))


def _sweep_verdict(result: Result) -> tuple[V.Verdict, pd.DataFrame]:
    steps = sweep_steps(result.sweep, result.params.margin("step_margin"))
    return weakest(list(steps["verdict_obj"])), steps


def equivalent_rewiring(result: Result, distance: float) -> float:
    """The percentage of moved edges at which the sweep's mean network NNSTD equals ``distance`` (linear
    interpolation between the swept fractions; NaN outside the swept range)."""
    sweep = result.sweep
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean().sort_index()
    if not means.min() <= distance <= means.max():
        return float("nan")
    return float(np.interp(distance, means.to_numpy(), 100 * means.index.to_numpy(dtype=float)))


def _full_rewire(result: Result) -> np.ndarray | None:
    sweep = result.sweep
    rows = sweep[(sweep["layer"] == "mean") & (sweep["fraction"] == 1.0)]
    return rows["nnstd"].to_numpy() if len(rows) else None


def _baseline_samples(result: Result) -> np.ndarray:
    return sparse_mean(np.asarray(result.calibration.samples), result.layers)


def _baseline_verdict(result: Result) -> tuple[V.Verdict, Any] | None:
    full = _full_rewire(result)
    if full is None:
        return None
    ci = V.difference_ci(full, _baseline_samples(result))
    return V.equivalence(ci.estimate, ci.ci, result.params.margin("baseline_margin")), ci


def _published_verdicts(result: Result) -> dict[str, V.Verdict]:
    pub, p = result.published, result.params
    moved = pub.moved_apart
    out = {"moved": V.superiority(moved.estimate, moved.ci, p.margin("training_margin"))}
    last = pub.summary[(pub.summary["epoch"] == pub.epochs[-1]) & (pub.summary["layer"] == "mean")].iloc[0]
    base = pub.baseline.set_index("layer").loc["mean"]
    estimate = float(base["baseline"] - last["mean"])
    ci = (float(base["ci_low"] - last["ci_high"]), float(base["ci_high"] - last["ci_low"]))
    out["closer"] = V.superiority(estimate, ci, p.margin("training_margin"))
    dev = (pub.agreement["measured"] - pub.agreement["published"]).to_numpy()
    worst = float(dev[np.argmax(np.abs(dev))])
    out["agreement"] = V.equivalence(worst, (float(dev.min()), float(dev.max())), p.margin("agreement_tolerance"))
    return out


def claims(result: Result) -> Findings:
    """The findings of notebook ``01_nnstd``: every claim with its measured number and verdict (rules in
    :func:`rules`), descriptions with verdict n/a, and the numbers behind every figure; the parameters
    recorded are ``result.params``."""
    p = result.params
    findings = Findings("01_nnstd", p.figures_dir, parameters=p.as_dict())
    ex = result.example
    findings.add_data("worked_example_networks", {
        "first": [m.astype(int) for m in ex.first], "second": [m.astype(int) for m in ex.second],
        "matchings": ex.matchings})
    findings.add_data("worked_example_costs", {"costs": ex.costs, "matchings": ex.matchings,
                                               "layer_distances": ex.layer_distances, "nnstd": ex.mean})
    findings.add_data("network", {"widths": result.widths, "edges": edge_counts(result.base),
                                  "sparse_layers": result.layers, "source": result.base_source})
    findings.add_data("identity_checks", result.identity)
    findings.add_data("tie_noise", result.noise)
    findings.add_data("perturbation_chain", {"first_chain": result.chain_table, "chains": result.chains,
                                             "growth": result.growth})
    findings.add_data("perturbation_chain_layers", result.chains)
    verdict, steps = _sweep_verdict(result)
    findings.add_data("rewired_fraction_sweep", {"sweep": result.sweep, "random_baseline": result.baseline,
                                                 "steps": steps.drop(columns="verdict_obj")})
    pub = result.published
    if pub is not None:
        ends = _published_ends(pub)
        findings.add_data("published_heatmaps", {str(e): pub.network(e) for e in pub.epochs})
        findings.add_data("published_layers", {f"epoch{e}_layer{k}": pub.matrices[e].layers[k]
                                               for e in ends for k in pub.layers})
        findings.add_data("published_over_epochs", {"summary": pub.summary, "random_baseline": pub.baseline,
                                                    "index_gap_spearman": pub.gap})

    ident = result.identity
    same = ident[ident["check"] == "identical"]
    findings.claim("NNSTD of identical topologies is 0", measured=float(same["max_layer"].max()), holds=None,
                   spread=f"max over {same['network'].nunique()} networks x both tie-breaks",
                   detail="description (a check of the implementation, no sampling): largest layer distance of a "
                          "network against an identical copy, under the published and the structural tie-break")
    for name, v, detail, spread in _identity_claims(result):
        findings.claim_verdict(name, v, detail=detail, spread=spread)

    growth = result.growth
    step_noise = result.tie_noise_of("1% chain, one step")
    findings.claim("NNSTD between networks 1% apart", measured=float(growth["first_step"].mean()), holds=None,
                   spread=f"range {growth['first_step'].min():.4f}-{growth['first_step'].max():.4f} over "
                          f"{len(growth)} chains; tie noise {step_noise:.4f}",
                   detail="description: network NNSTD (mean over sparse layers) between a network and the copy "
                          f"that moved {p.chain_fraction:.0%} of its edges (first step of each chain)")
    findings.claim_verdict(
        "NNSTD grows along the 1% chain", _chain_verdict(result),
        detail=f"NNSTD of the last network ({p.chain_length} steps) to the start minus that of the first step, "
               f"mean over {len(growth)} independent chains (Student-t)",
        spread=f"growth {growth['growth'].min():.4f}-{growth['growth'].max():.4f} over chains; tie noise "
               f"{result.tie_noise_of('1% chain, first to last'):.4f} (first to last)")
    step = steps.set_index(steps["verdict_obj"].map(id)).loc[id(verdict)]
    findings.claim_verdict(
        "NNSTD increases at every step of the rewired-fraction sweep", verdict,
        detail=f"weakest of {len(steps)} steps ({step['from_percent']:g}% -> {step['to_percent']:g}% moved) "
               f"decides; each step: Welch interval of the difference of mean NNSTD over {p.sweep_repeats} "
               f"rewirings; steps holding: {int((steps['verdict'] == V.HOLDS).sum())} of {len(steps)}",
        spread=f"tie noise of rewired copies up to {result.tie_noise_of('rewired copy'):.4f}")
    base = result.baseline.set_index("layer").loc["mean"]
    findings.claim("Random-topology baseline", measured=float(base["baseline"]), holds=None,
                   spread=f"95% CI [{base['ci_low']:.4f}, {base['ci_high']:.4f}] over {p.baseline_pairs} pairs "
                          f"(SD {base['sd']:.4f}); tie noise {result.tie_noise_of('random pair'):.4f}",
                   detail="description: mean network NNSTD (sparse layers) between independent random topologies "
                          "with the perturbed network's layer shapes and edge counts")
    full = _baseline_verdict(result)
    if full is not None:
        v, ci = full
        findings.claim_verdict(
            "A copy with every edge moved is as far as random topologies", v,
            detail=f"NNSTD of copies with 100% of the edges moved minus the random baseline (Welch, "
                   f"{p.sweep_repeats} rewirings vs {p.baseline_pairs} random pairs)",
            spread=f"tie noise {result.tie_noise_of('rewired copy, 100'):.4f} (100% moved), "
                   f"{result.tie_noise_of('random pair'):.4f} (random pairs)")
    if pub is None:
        findings.claim("Agreement with the published values", measured=None, holds=None,
                       detail="the published topologies are not available under the data root")
        return findings
    first, last = pub.epochs[0], pub.epochs[-1]
    summ = pub.summary[pub.summary["layer"] == "mean"].set_index("epoch")
    noise_first = result.tie_noise_of(f"published networks, epoch {first}")
    noise_last = result.tie_noise_of(f"published networks, epoch {last}")
    findings.claim(f"Published networks at the first saved snapshot (epoch {first})",
                   measured=float(summ.loc[first, "mean"]), holds=None,
                   spread=f"network-bootstrap 95% CI [{summ.loc[first, 'ci_low']:.4f}, "
                          f"{summ.loc[first, 'ci_high']:.4f}], pairs {summ.loc[first, 'min']:.4f}-"
                          f"{summ.loc[first, 'max']:.4f}; tie noise {noise_first:.4f}",
                   detail=f"description: mean pairwise network NNSTD (sparse layers) of {p.published_runs} published runs at "
                          f"epoch_{first:03d}, the first saved snapshot (not the untrained start: networks 1% apart "
                          f"are {growth['first_step'].mean():.4f} apart)")
    moved_pct = equivalent_rewiring(result, float(summ.loc[first, "mean"]))
    findings.claim(f"Rewired fraction as far as the published pairs at epoch {first}", measured=moved_pct, holds=None,
                   spread=f"from the {len(p.sweep_fractions)} swept fractions (linear interpolation)",
                   detail="description: percentage of edges moved at which a rewired copy of the untrained network "
                          "(same density) lies as far from its original as the published runs lie from each other "
                          "at their first saved snapshot (mean over pairs)")
    pv = _published_verdicts(result)
    findings.claim_verdict(
        f"The published runs move apart during training (epoch {last} vs the first saved snapshot)", pv["moved"],
        detail=f"mean pairwise NNSTD at epoch {last} ({summ.loc[last, 'mean']:.4f}) minus at epoch {first}, "
               f"network bootstrap of the per-pair differences ({p.n_boot} replicates over the {p.published_runs} networks)",
        spread=f"tie noise {noise_first:.4f} (epoch {first}), {noise_last:.4f} (epoch {last})")
    findings.claim_verdict(
        f"The published runs at epoch {last} stay closer than random topologies", pv["closer"],
        detail=f"random baseline for their shape ({pub.baseline.set_index('layer').loc['mean', 'baseline']:.4f}) "
               f"minus their mean pairwise NNSTD; interval: the network bootstrap widened by the baseline's CI",
        spread=f"ratio to the baseline {summ.loc[last, 'mean'] / pub.baseline.set_index('layer').loc['mean', 'baseline']:.3f}; "
               f"tie noise {noise_last:.4f}")
    agreement = pub.agreement
    findings.add_data("published_agreement", agreement)
    findings.claim_verdict(
        "Agreement with the published values", pv["agreement"],
        detail=f"ours minus printed over the per-layer and all-layer mean NNSTD of e5_s0_w1 vs e5_s0_w0 "
               f"(method='exact', {TIE_LABELS['solver']}); the printed mean runs over all four layers, as the "
               f"published code computes it",
        spread=f"{len(agreement)} values (epochs {sorted(int(e) for e in agreement['epoch'].unique())}); "
               f"largest |deviation| {agreement['abs_deviation'].max():.2e}")
    return findings


def _published_ends(pub: Published) -> list[int]:
    epochs = pub.epochs
    return [epochs[0], epochs[-1]] if len(epochs) > 1 else epochs


def _epoch_label(epoch: int, first: int) -> str:
    return f"epoch {epoch} (first saved snapshot)" if epoch == first else f"epoch {epoch}"


# ---------------------------------------------------------------------------
# notes and discussion
# ---------------------------------------------------------------------------


def notes(result: Result) -> dict[str, str]:
    """One paragraph of measured numbers per section of the notebook (keys ``"example"``, ``"network"``,
    ``"published"``, ``"identity"``, ``"chain"``, ``"sweep"``, ``"resolution"``, ``"epochs"``,
    ``"agreement"``)."""
    p, ex = result.params, result.example
    growth, pub = result.growth, result.published
    base = result.baseline.set_index("layer").loc["mean"]
    ident = result.identity
    permuted = ident[ident["check"] != "identical"].groupby(["network", "tie_break"])["nnstd"].agg(["mean", "max"])
    identity = "; ".join(
        f"{net}, {TIE_LABELS[tb]}: mean {row['mean']:.4f}, max {row['max']:.4f} (tie noise "
        f"{result.tie_noise_of(f'renumbered copy of the {net}', tb):.4f})"
        for (net, tb), row in permuted.iterrows())
    full = _full_rewire(result)
    _, steps = _sweep_verdict(result)
    if pub is not None:
        rows = pub.summary[(pub.summary["layer"] == "mean") & (pub.summary["epoch"] == pub.epochs[0])]
        first_row = rows.iloc[0]
    out = {
        "example": f"Layer distances {', '.join(f'{d:.3f}' for d in ex.layer_distances)}; NNSTD = their mean = "
                   f"{ex.mean:.4f} (every layer of the example is sparse).",
        "network": f"{p.dataset}: {result.widths[0]} features, {result.widths[-1]} classes -> widths "
                   f"{result.widths}\nedges per layer {edge_counts(result.base)} from {result.base_source}; "
                   f"densities {[round(d, 4) for d in densities(result.base)]}; sparse layers {result.layers} "
                   f"(a dense layer always has NNSTD 0, so the network distance is the mean over the sparse layers)",
        "published": "Published topologies: " + (
            "not used (use_published=False)" if not p.use_published else
            "not found under the data root (official_nnstd_topo/topo); their sections are skipped."
            if pub is None else f"found, epochs {pub.epochs}."),
        "identity": f"Renumbered copies (network NNSTD over sparse layers): {identity}.",
        "chain": f"{len(growth)} independent chains of {p.chain_length} steps of {p.chain_fraction:.0%}: one step "
                 f"moves the network NNSTD by {growth['mean_step'].mean():.4f} on average (tie noise "
                 f"{result.tie_noise_of('1% chain, one step'):.4f}); the last network lies "
                 f"{growth['to_last'].mean():.4f} from the start (tie noise "
                 f"{result.tie_noise_of('1% chain, first to last'):.4f}), "
                 f"{growth['growth'].mean():.4f} more than the first step.",
        "sweep": f"Random pairs: {base['baseline']:.4f} [{base['ci_low']:.4f}, {base['ci_high']:.4f}] (tie noise "
                 f"{result.tie_noise_of('random pair'):.4f})"
                 + (f"; all edges moved: {full.mean():.4f}" if full is not None else "; 100% is not swept")
                 + f". Smallest step of the sweep: {steps['difference'].min():.4f} "
                   f"({steps.loc[steps['difference'].idxmin(), 'from_percent']:g}% -> "
                   f"{steps.loc[steps['difference'].idxmin(), 'to_percent']:g}%); tie noise of rewired copies up to "
                   f"{result.tie_noise_of('rewired copy'):.4f}.",
        "resolution": "Tie noise = max - min of the network NNSTD (sparse layers) over "
                      f"{3 + p.tie_shuffles} tied optimal matchings per pair (exact and sparse solver, arguments "
                      f"swapped, {p.tie_shuffles} renumberings of the second network).",
        "epochs": "Skipped: the published topologies are not available." if pub is None else
        f"epoch_{pub.epochs[0]:03d} is the first saved snapshot, not the untrained start: its pairs are already "
        f"{first_row['min']:.3f}-{first_row['max']:.3f} apart (network NNSTD), where networks 1% apart are "
        f"{growth['first_step'].mean():.3f} apart. Tie noise of the published pairs, epoch by epoch: "
        + ", ".join(f"{e}: {result.tie_noise_of(f'published networks, epoch {e}'):.3f}" for e in pub.epochs) + ".",
        "agreement": "Skipped: the published topologies are not available." if pub is None
        else f"Largest deviation from the published numbers: {pub.agreement['abs_deviation'].max():.2e} "
             f"(they are printed with six decimals).",
    }
    return out


def discussion(result: Result, findings: Findings) -> str:
    """The body of the notebook's closing "Discussion and limitations" (Markdown), every number read from
    ``findings`` (the claims of :func:`claims`)."""
    by = {c.claim: c for c in findings.claims}

    def get(prefix: str):
        return next((c for c in findings.claims if c.claim.startswith(prefix)), None)

    def num(x: float) -> str:
        return f"{x:.4f}" if x == 0 or abs(x) >= 1e-3 else f"{x:.2e}"

    def verdict(c, interval: str = "95% CI") -> str:
        if c is None:
            return "not measured"
        if c.rule is None:
            return num(c.measured) if c.measured is not None else "n/a"
        lo, hi = c.rule["ci"]
        return (f"**{c.verdict}** ({num(c.measured)}, {interval} [{num(lo)}, {num(hi)}], "
                f"margin {c.rule['margin']:g})")

    p = result.params
    perm = [c for c in findings.claims if c.claim.startswith("NNSTD of a neuron-permuted copy is 0")]
    perm_text = "; ".join(f"{c.claim.split(' — ', 1)[1]}: {verdict(c)}" for c in perm)
    step = by.get("NNSTD between networks 1% apart")
    base = get("Random-topology baseline")
    lines = []
    lines.append(
        f"- **Renumbering.** A copy with renumbered hidden neurons should be at distance 0. {perm_text}. The paper's "
        "metric (the published tie-break) is not invariant to renumbering where neurons are tied (typically neurons "
        "without inputs); the structural tie-break, this project's extension, removes that noise for copies and "
        "gives the published numbers for different networks.")
    lines.append(
        f"- **Perturbation.** Networks 1% apart are {step.measured:.4f} apart ({step.spread}). Growth along the "
        f"chain: {verdict(get('NNSTD grows along the 1% chain'))}. Every step of the rewired-fraction sweep: "
        f"{verdict(get('NNSTD increases at every step'))}. A copy with every edge moved against random topologies "
        f"(baseline {base.measured:.4f}): {verdict(get('A copy with every edge moved'))}.")
    pub = get("The published runs move apart")
    if pub is not None:
        first = get("Published networks at the first saved snapshot")
        moved = get("Rewired fraction as far as the published pairs")
        lines.append(
            f"- **Published networks.** At their first saved snapshot the {p.published_runs} runs compared are already "
            f"{first.measured:.4f} "
            f"apart ({first.spread}), as far as a copy with {moved.measured:.1f}% of its edges moved, where networks "
            f"1% apart are {step.measured:.4f} apart: epoch_000 is not the untrained start. Moving "
            f"apart during training: {verdict(pub)}. Staying closer than random topologies: "
            f"{verdict(get('The published runs at epoch'))}. Agreement with the published code's printed numbers: "
            f"{verdict(get('Agreement with the published values'), 'range of the deviations')}.")
    lines += [
        "",
        "Limitations:",
        f"- The tie noise is measured on {p.tie_pairs} representative pair(s) per comparison and "
        f"{3 + p.tie_shuffles} tied matchings each; it is a lower bound on the spread over all optimal matchings.",
        f"- The network NNSTD here averages the {len(result.layers)} sparse layers only; the published code averages "
        f"all {len(result.base)} layers, including the dense output layer (always 0), so its network numbers are "
        f"{len(result.layers)}/{len(result.base)} of ours. Per-layer values are the same under both conventions.",
        f"- The perturbed networks are untrained Erdős–Rényi graphs (edges per layer from "
        f"{findings.data['network']['source']}); the chain and the sweep say how NNSTD responds to moved edges, "
        "not how training moves them.",
        "- The published runs' settings are inferred from their files (784-784-784-784-10, about 3,800 edges per "
        "sparse layer at the first saved snapshot, fewer later); the dataset is not recorded with the topologies "
        "(their logged test accuracy points to Fashion-MNIST, an inference), and when epoch_000 was saved relative "
        "to the first rewiring is not known: the rewired-fraction equivalent above is a comparison with an "
        "untrained network of the same density, not a measurement of what happened before that snapshot.",
    ]
    if pub is None:
        lines.append("- The published topologies were not available: their claims are not tested in this run.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------


def _bands(ax, frame: pd.DataFrame, x: str, lo: str, hi: str, y: str, label: str, color: str) -> None:
    ax.plot(frame[x], frame[y], marker="o", color=color, label=label)
    ax.fill_between(frame[x], frame[lo], frame[hi], color=color, alpha=0.25, linewidth=0)


def _chain_summary(chains: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (layer, pos), part in chains.groupby(["layer", "position"], sort=False):
        m, lo, hi = mean_ci(part["nnstd_to_start"].to_numpy())
        rows.append({"layer": layer, "position": int(pos), "mean": m, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``01_nnstd``, by the name it is saved under (closed: show with ``display``).

    Names: ``worked_example_networks``, ``worked_example_costs``, ``perturbation_chain``,
    ``perturbation_chain_layers``, ``rewired_fraction_sweep`` and, when the published topologies
    were compared, ``published_heatmaps``, ``published_layers``, ``published_over_epochs``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from . import figures as plots

    p, ex = result.params, result.example
    names = result.layer_names()
    out: dict[str, Any] = {}
    out["worked_example_networks"] = plots.nnstd_example_graphs(ex.first, ex.second, ex.matchings)
    out["worked_example_costs"] = plots.cost_matrices(ex.costs, ex.matchings)

    n_chains = int(result.chains["chain"].nunique())
    summary = _chain_summary(result.chains)
    base = result.baseline.set_index("layer")
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    plots.distance_heatmap(_matrix_sparse_mean(result.chain_matrix, result.layers), ax=axes[0], vmax=None,
                           title="NNSTD between the networks of the first chain", cbar_label="NNSTD (sparse layers)")
    axes[0].set_xlabel("chain position")
    axes[0].set_ylabel("chain position")
    for ax in axes[:1]:
        ax.xaxis.set_major_locator(MaxNLocator(11, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(11, integer=True))
    net = summary[summary["layer"] == "mean"]
    _bands(axes[1], net, "position", "ci_low", "ci_high", "mean", f"mean, 95% CI over {n_chains} chains", "C0")
    axes[1].axhline(base.loc["mean", "baseline"], color="black", linestyle="--", label="random topologies")
    noise = result.tie_noise_of("1% chain, first to last")
    axes[1].errorbar([net["position"].max()], [net["mean"].iloc[-1]], yerr=[[0], [noise]], color="C3", capsize=4,
                     label=f"tie noise at the last step ({noise:.3f})")
    axes[1].set_xlabel(f"steps since the start (each moves {p.chain_fraction:.0%} of the edges)")
    axes[1].set_ylabel("NNSTD to the start (mean over sparse layers)")
    axes[1].set_title("Network distance along the chains")
    axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[1].legend(fontsize=8, loc="center right")
    fig.tight_layout()
    out["perturbation_chain"] = fig

    panels = [str(k) for k in result.layers] + ["mean"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), sharey=True, squeeze=False)
    for ax, layer in zip(axes[0], panels):
        part = summary[summary["layer"] == layer]
        _bands(ax, part, "position", "ci_low", "ci_high", "mean", f"mean, 95% CI over {n_chains} chains", "C0")
        ax.set_title(names[layer])
        ax.set_xlabel("1% steps since the start")
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    axes[0][0].set_ylabel("NNSTD to the start")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Distance along {n_chains} independent {p.chain_fraction:.0%}-perturbation chains, one panel per "
                 "sparse layer")
    fig.tight_layout()
    out["perturbation_chain_layers"] = fig

    panel_titles = {key: names[key] for key in panels}
    sweep = result.sweep
    out["rewired_fraction_sweep"] = plots.panels_with_baseline(
        sweep[sweep["layer"].isin(panel_titles)], x="rewired_percent", y="nnstd", panel="layer",
        baseline=result.baseline, panel_titles=panel_titles, xlabel="edges moved (%)",
        ylabel="NNSTD to the original",
        suptitle=f"NNSTD after moving a fraction of the edges (mean, 95% CI over {p.sweep_repeats} rewirings); "
                 f"dashed: random topologies ({p.baseline_pairs} pairs)")

    pub = result.published
    if pub is not None:
        epochs = pub.epochs
        first = epochs[0]
        top = max(float(pub.network(e).max()) for e in epochs)
        out["published_heatmaps"] = plots.heatmap_grid(
            [pub.network(e) for e in epochs], [_epoch_label(e, first) for e in epochs], pub.matrices[first].labels,
            vmax=top, ncols=min(3, len(epochs)),
            suptitle=f"NNSTD (mean over the sparse layers) between {p.published_runs} published networks")
        ends = _published_ends(pub)
        top = max(float(pub.matrices[e].layers[k].max()) for e in ends for k in pub.layers)
        out["published_layers"] = plots.heatmap_grid(
            [pub.matrices[e].layers[k] for e in ends for k in pub.layers],
            [f"{_epoch_label(e, first)}, layer {k}" for e in ends for k in pub.layers], pub.matrices[first].labels,
            vmax=top, ncols=len(pub.layers),
            suptitle="NNSTD per layer between the published networks, first saved snapshot and last epoch")
        pub_titles = {**{str(k): f"layer {k}" for k in pub.layers}, "mean": "network (mean over sparse layers)"}
        fig, axes = plt.subplots(1, len(pub_titles), figsize=(4.3 * len(pub_titles), 3.6), sharey=True, squeeze=False)
        pbase = pub.baseline.set_index("layer")
        for ax, (layer, title) in zip(axes[0], pub_titles.items()):
            part = pub.summary[pub.summary["layer"] == layer].sort_values("epoch")
            _bands(ax, part, "epoch", "ci_low", "ci_high", "mean", "mean pair, 95% CI (bootstrap over networks)",
                   "C0")
            ax.fill_between(part["epoch"], part["min"], part["max"], color="C0", alpha=0.08, linewidth=0,
                            label="closest to farthest pair")
            ax.axhline(pbase.loc[layer, "baseline"], color="black", linestyle="--", label="random topologies")
            ax.set_title(title)
            ax.set_xlabel(f"training epoch ({first} = first saved snapshot)")
        axes[0][0].set_ylabel("NNSTD between published networks")
        handles, labels = axes[0][0].get_legend_handles_labels()
        n_pairs = p.published_runs * (p.published_runs - 1) // 2
        fig.suptitle(f"Pairwise NNSTD of {p.published_runs} published networks over training ({n_pairs} pairs per epoch)")
        fig.tight_layout()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=9,
                   frameon=False)
        out["published_over_epochs"] = fig
    for fig in out.values():
        plt.close(fig)
    return out
