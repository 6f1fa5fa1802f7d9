"""Controlled experiments on NNSTD: what it measures and whether it behaves like a distance.

Notebook ``01_nnstd`` calls the study API at the end of this module
(:class:`Parameters`, :func:`run`, :func:`claims`, :func:`figures`,
:func:`notes`); :func:`run` goes through these steps:

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

from ..nnstd.distance import layer_cost_matrix, nnstd
from ..nnstd.pairwise import DistanceMatrix, cached_nnstd
from ..parallel import parallel_map
from ..topology.masks import (
    as_topology,
    densities,
    edge_counts,
    permute_hidden_neurons,
    random_topology,
    rewire_fraction,
)
from .findings import Findings
from .params import StudyParameters, check_bool, check_int, check_real, check_sequence

__all__ = [
    "WorkedExample",
    "worked_example",
    "sparse_layers",
    "identity_checks",
    "chain_frame",
    "fraction_sweep",
    "baseline_frame",
    "growth_correlation",
    "Parameters",
    "Published",
    "Result",
    "run",
    "notes",
    "claims",
    "figures",
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

    A progress bar follows the package's verbosity (:func:`sparsetopo.set_verbosity`).

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
    results = parallel_map(_distance_to_base, jobs, n_jobs=n_jobs, desc="rewired copies")
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


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``01_nnstd`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    seed : seed of the perturbed network, the chain, the sweep, the baselines.
    hidden : hidden widths of the perturbed network (input and output come from the dataset).
    epsilon : Erdős–Rényi ε of the perturbed network (> 0; no training needed).
    chain_length : networks in the perturbation chain (>= 3, for a rank correlation).
    chain_fraction : fraction of the previous network's edges each chain step moves, in (0, 1].
    sweep_fractions : rewired fractions in [0, 1] (>= 3, distinct).
    sweep_repeats : independent rewirings per fraction.
    baseline_pairs : random topology pairs of the baseline (>= 2, for an interval).
    n_permutations : renumbered copies per network in the identity checks.
    example_widths : widths of the two tiny networks of the worked example (>= 3 layers of widths).
    example_density : their density, in (0, 1].
    example_seed : seed of the worked example.
    use_published : compare the topologies published with the paper's code (skipped when absent).
    published_epochs : their saved epochs to compare (each one of ``PUBLISHED_EPOCHS``).
    growth_threshold : "NNSTD grows with perturbation" holds when Spearman's rho exceeds it, in (-1, 1).
    agreement_tolerance : largest deviation from the published numbers that counts as agreement (> 0).
    baseline_tolerance : a copy with all edges moved lies within this of the random baseline (> 0).
    """

    figures_dir: str = "../figures/01_nnstd"
    seed: int = 0
    hidden: tuple = (784, 784, 784)
    epsilon: float = 5.0
    chain_length: int = 20
    chain_fraction: float = 0.01
    sweep_fractions: tuple = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
    sweep_repeats: int = 3
    baseline_pairs: int = 16
    n_permutations: int = 3
    example_widths: tuple = (5, 4, 4, 2)
    example_density: float = 0.5
    example_seed: int = 3
    use_published: bool = True
    published_epochs: tuple = (0, 10, 20, 30, 40, 50, 100, 150, 190)
    growth_threshold: float = 0.9
    agreement_tolerance: float = 1e-6
    baseline_tolerance: float = 0.02

    def __post_init__(self) -> None:
        from .published import PUBLISHED_EPOCHS

        super().__post_init__()
        positive = lambda n, v: check_int(n, v, minimum=1)  # noqa: E731
        self._set("seed", check_int("seed", self.seed, minimum=0))
        self._set("hidden", check_sequence("hidden", self.hidden, positive))
        self._set("epsilon", check_real("epsilon", self.epsilon, minimum=0, exclusive_minimum=True))
        self._set("chain_length", check_int("chain_length", self.chain_length, minimum=3))
        self._set("chain_fraction", check_real("chain_fraction", self.chain_fraction, minimum=0,
                                               exclusive_minimum=True, maximum=1))
        self._set("sweep_fractions", check_sequence(
            "sweep_fractions", self.sweep_fractions, lambda n, v: check_real(n, v, minimum=0, maximum=1),
            min_length=3, unique=True))
        self._set("sweep_repeats", check_int("sweep_repeats", self.sweep_repeats, minimum=1))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        self._set("n_permutations", check_int("n_permutations", self.n_permutations, minimum=1))
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

        self._set("published_epochs", check_sequence("published_epochs", self.published_epochs, epoch, unique=True))
        self._set("growth_threshold", check_real("growth_threshold", self.growth_threshold, minimum=-1, maximum=1))
        self._set("agreement_tolerance", check_real("agreement_tolerance", self.agreement_tolerance, minimum=0,
                                                    exclusive_minimum=True))
        self._set("baseline_tolerance", check_real("baseline_tolerance", self.baseline_tolerance, minimum=0,
                                                   exclusive_minimum=True))


@dataclass(frozen=True, eq=False)
class Published:
    """The published topologies' part of a :class:`Result` (present only when the data root holds them).

    Attributes
    ----------
    root : folder of the published topologies.
    matrices : epoch -> pairwise NNSTD of the ten runs.
    layers : sparse layers of the published networks.
    table : tidy pairwise distances over epochs (sparse layers and ``"mean"``).
    baseline : random baseline of networks of their shape (from :func:`baseline_frame`).
    gap : per epoch, Spearman correlation of distance with the gap between run indices.
    agreement : our NNSTD against the numbers the published code printed.
    """

    root: Any
    matrices: dict
    layers: list
    table: pd.DataFrame
    baseline: pd.DataFrame
    gap: pd.DataFrame
    agreement: pd.DataFrame

    @property
    def epochs(self) -> list[int]:
        return sorted(self.matrices)


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``01_nnstd`` computed (see :func:`run`).

    Attributes
    ----------
    params : the parameters of the run.
    example : the worked example.
    widths : widths of the perturbed network (dataset input and output around ``params.hidden``).
    base : the perturbed network, ``(n_out, n_in)`` bool per layer.
    layers : its sparse layers.
    identity : :func:`identity_checks` of the perturbed network (and a published one).
    chain_matrix : pairwise NNSTD of the perturbation chain.
    chain_table : :func:`chain_frame` of it.
    sweep : :func:`fraction_sweep` of the perturbed network.
    calibration : random baseline of the perturbed network's shape.
    baseline : :func:`baseline_frame` of ``calibration``.
    published : the published topologies' comparisons, or ``None`` when not used or absent.
    """

    params: Parameters
    example: WorkedExample
    widths: list
    base: list
    layers: list
    identity: pd.DataFrame
    chain_matrix: DistanceMatrix
    chain_table: pd.DataFrame
    sweep: pd.DataFrame
    calibration: Any
    baseline: pd.DataFrame
    published: Published | None

    def layer_names(self) -> dict[str, str]:
        """Panel titles: ``"0"`` -> ``"layer 0"``, ..., ``"mean"`` -> ``"network (mean over layers)"``."""
        return {**{str(k): f"layer {k}" for k in range(len(self.base))}, "mean": "network (mean over layers)"}


def run(params: Parameters) -> Result:
    """Compute everything notebook ``01_nnstd`` shows (NNSTD pairs cached under ``params.cache_dir``).

    Raises
    ------
    TypeError
        When ``params`` is not a :class:`Parameters`.
    """
    from ..data import load_dataset
    from ..nnstd.pairwise import pairwise_nnstd, random_baseline
    from ..parallel import show_progress
    from ..topology.masks import perturbation_chain
    from . import published as published_data

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be nnstd_behaviour.Parameters, got {type(params).__name__}")
    p, cache_dir, progress = params, params.cache_dir, show_progress()
    example = worked_example(list(p.example_widths), density=p.example_density, seed=p.example_seed)
    ds = load_dataset(p.dataset)
    widths = ds.widths(p.hidden)
    base = random_topology(widths, epsilon=p.epsilon, seed=p.seed)
    layers = sparse_layers(base)
    root = published_data.published_root() if p.use_published else None
    checked = {"random": base}
    if root is not None:
        checked["published w0, epoch 190"] = published_data.load_published_runs(root, [190], runs=["e5_s0_w0"])[190][0]
    identity = identity_checks(checked, n_permutations=p.n_permutations, seed=p.seed)

    chain = perturbation_chain(base, p.chain_length, fraction=p.chain_fraction, seed=p.seed)
    chain_matrix = pairwise_nnstd(chain, labels=range(len(chain)), n_jobs=p.n_jobs, progress=progress,
                                  cache_dir=cache_dir)
    chain_table = chain_frame(chain_matrix, fraction=p.chain_fraction)
    sweep = fraction_sweep(base, list(p.sweep_fractions), n_repeats=p.sweep_repeats, seed=p.seed, n_jobs=p.n_jobs,
                           cache_dir=cache_dir)
    calibration = random_baseline(base, n_pairs=p.baseline_pairs, seed=p.seed, n_jobs=p.n_jobs, progress=progress,
                                  cache_dir=cache_dir)
    published = None
    if root is not None:
        matrices = published_data.published_pairwise(root, list(p.published_epochs), n_jobs=p.n_jobs,
                                                     cache_dir=cache_dir)
        epochs = sorted(matrices)
        pub_layers = sparse_layers(published_data.load_published_runs(root, [epochs[0]])[epochs[0]][0])
        table = published_data.published_frame(matrices)
        table = table[table["layer"].isin([str(k) for k in pub_layers] + ["mean"])]
        last_net = published_data.load_published_runs(root, [epochs[-1]], runs=["e5_s0_w0"])[epochs[-1]][0]
        pub_baseline = baseline_frame(random_baseline(last_net, n_pairs=p.baseline_pairs, seed=p.seed,
                                                      n_jobs=p.n_jobs, progress=progress, cache_dir=cache_dir))
        published = Published(root=root, matrices=matrices, layers=pub_layers, table=table, baseline=pub_baseline,
                              gap=published_data.published_gap_correlation(table),
                              agreement=published_data.published_agreement(root))
    return Result(params=p, example=example, widths=widths, base=base, layers=layers, identity=identity,
                  chain_matrix=chain_matrix, chain_table=chain_table, sweep=sweep, calibration=calibration,
                  baseline=baseline_frame(calibration), published=published)


def _identity_maxima(result: Result) -> tuple[pd.Series, pd.Series, pd.Series]:
    ident = result.identity
    same = ident.loc[ident["check"] == "identical", "nnstd"]
    permuted = ident[(ident["check"] != "identical") & (ident["tie_break"] == "structure")]["nnstd"]
    solver = ident[(ident["check"] != "identical") & (ident["tie_break"] == "solver")]["nnstd"]
    return same, permuted, solver


def _sweep_means(result: Result) -> tuple[pd.Series, float | None]:
    sweep = result.sweep
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean()
    full = float(means.loc[1.0]) if 1.0 in means.index else None
    return means, full


def notes(result: Result) -> dict[str, str]:
    """One sentence of measured numbers per section of the notebook (keys ``"example"``, ``"network"``,
    ``"published"``, ``"identity"``, ``"chain"``, ``"sweep"``, ``"agreement"``)."""
    p, ex = result.params, result.example
    same, permuted, solver = _identity_maxima(result)
    rho_chain = growth_correlation(result.chain_table, "position", "nnstd_to_start")
    table = result.chain_table
    step = table[(table["layer"] == "mean") & (table["position"] > 0)]["nnstd_to_previous"]
    rho_sweep = growth_correlation(result.sweep, "fraction", "nnstd")
    _, full = _sweep_means(result)
    cal = result.calibration
    out = {
        "example": f"Layer distances {', '.join(f'{d:.3f}' for d in ex.layer_distances)}; "
                   f"NNSTD = their mean = {ex.mean:.4f}.",
        "network": f"{p.dataset}: {result.widths[0]} features, {result.widths[-1]} classes -> widths {result.widths}\n"
                   f"edges per layer {edge_counts(result.base)}, densities "
                   f"{[round(d, 4) for d in densities(result.base)]}; sparse layers {result.layers} "
                   f"(a dense layer always has NNSTD 0)",
        "published": "Published topologies: " + (
            "not used (use_published=False)" if not p.use_published else
            "not found under the data root (official_nnstd_topo/topo); sections 2 and 5 skip them."
            if result.published is None else f"found, epochs {result.published.epochs}."),
        "identity": f"Identical copies: max NNSTD {same.max():.3g}; renumbered copies: max {permuted.max():.3g} "
                    f"(published code's tie-break: max {solver.max():.3g}).",
        "chain": f"Spearman correlation of NNSTD to the first network with chain position: {rho_chain:.4f}; "
                 f"one step moves NNSTD by {step.mean():.4f} on average (min {step.min():.4f}, max {step.max():.4f}).",
        "sweep": f"Spearman correlation of NNSTD with the rewired fraction: {rho_sweep:.4f}. Random pairs: "
                 f"{cal.mean:.4f} [{cal.ci[0]:.4f}, {cal.ci[1]:.4f}]"
                 + (f"; all edges moved: {full:.4f}." if full is not None else "; 100% is not among the fractions."),
        "agreement": "Skipped: the published topologies are not available (see section 2)." if result.published is None
        else f"Largest deviation from the published numbers: {result.published.agreement['abs_deviation'].max():.2e} "
             f"(they are printed with six decimals).",
    }
    return out


def claims(result: Result) -> Findings:
    """The findings of notebook ``01_nnstd``: every claim with its measured number and verdict, and the
    numbers behind every figure; the parameters recorded are ``result.params``.

    Verdict rules (thresholds from the parameters): identical and renumbered copies hold at exactly 0;
    growth holds when Spearman's rho > ``growth_threshold``; the random baseline holds when a copy with
    all edges moved lies within ``baseline_tolerance`` of it; agreement holds when the largest deviation
    from the published numbers is below ``agreement_tolerance``.
    """
    p = result.params
    findings = Findings("01_nnstd", p.figures_dir, parameters=p.as_dict())
    ex = result.example
    findings.add_data("worked_example_networks", {
        "first": [m.astype(int) for m in ex.first], "second": [m.astype(int) for m in ex.second],
        "matchings": ex.matchings})
    findings.add_data("worked_example_costs", {"costs": ex.costs, "matchings": ex.matchings,
                                               "layer_distances": ex.layer_distances, "nnstd": ex.mean})
    findings.add_data("identity_checks", result.identity)
    findings.add_data("perturbation_chain", result.chain_table)
    findings.add_data("rewired_fraction_sweep", {"sweep": result.sweep, "random_baseline": result.baseline})
    pub = result.published
    if pub is not None:
        ends = _published_ends(pub)
        findings.add_data("published_heatmaps", {str(e): pub.matrices[e].mean for e in pub.epochs})
        findings.add_data("published_layers", {f"epoch{e}_layer{k}": pub.matrices[e].layers[k]
                                               for e in ends for k in pub.layers})
        findings.add_data("published_over_epochs", {
            "pairs": pub.table.groupby(["epoch", "layer"])["nnstd"].describe().reset_index(),
            "random_baseline": pub.baseline})

    same, permuted, solver = _identity_maxima(result)
    findings.claim("NNSTD of identical topologies is 0", measured=float(same.max()), holds=bool(same.max() == 0.0),
                   spread=f"max over {len(same)} networks",
                   detail="largest NNSTD of a network against an identical copy; holds if exactly 0")
    findings.claim("NNSTD of a neuron-permuted copy is 0", measured=float(permuted.max()),
                   holds=bool(permuted.max() == 0.0), spread=f"max over {len(permuted)} copies",
                   detail=f"largest NNSTD against copies with renumbered hidden neurons (tie_break='structure'); "
                          f"holds if exactly 0; the published code's tie-break gives up to {solver.max():.4f}")
    rho_chain = growth_correlation(result.chain_table, "position", "nnstd_to_start")
    findings.claim("NNSTD grows with perturbation (1% chain)", measured=rho_chain,
                   holds=bool(rho_chain > p.growth_threshold),
                   spread=f"{result.chain_matrix.mean.shape[0]} networks",
                   detail=f"Spearman rank correlation of NNSTD to the chain's first network with chain position; "
                          f"holds if > {p.growth_threshold}")
    rho_sweep = growth_correlation(result.sweep, "fraction", "nnstd")
    means, full = _sweep_means(result)
    cal = result.calibration
    findings.claim("NNSTD grows with perturbation (rewired-fraction sweep)", measured=rho_sweep,
                   holds=bool(rho_sweep > p.growth_threshold),
                   spread=f"{len(means)} fractions x {p.sweep_repeats} rewirings",
                   detail=f"Spearman rank correlation of NNSTD to the original with the moved fraction; "
                          f"holds if > {p.growth_threshold}")
    findings.claim("Random-topology baseline", measured=cal.mean,
                   holds=None if full is None else bool(abs(full - cal.mean) <= p.baseline_tolerance),
                   spread=f"95% CI [{cal.ci[0]:.4f}, {cal.ci[1]:.4f}] over {p.baseline_pairs} pairs",
                   detail=f"mean NNSTD between independent random topologies of the same shape and edge counts; "
                          f"holds if a copy with all edges moved lies within {p.baseline_tolerance} of it")
    if pub is None:
        findings.claim("Agreement with the published values", measured=None, holds=None,
                       detail="the published topologies are not available under the data root")
    else:
        agreement = pub.agreement
        findings.add_data("published_agreement", agreement)
        worst = float(agreement["abs_deviation"].max())
        findings.claim("Agreement with the published values", measured=worst,
                       holds=bool(worst < p.agreement_tolerance),
                       spread=f"{len(agreement)} values (epochs {sorted(int(e) for e in agreement['epoch'].unique())})",
                       detail=f"max |ours - published| over the per-layer and mean NNSTD of e5_s0_w1 vs e5_s0_w0 "
                              f"(method='exact', tie_break='solver'); holds if < {p.agreement_tolerance:g}")
    return findings


def _published_ends(pub: Published) -> list[int]:
    epochs = pub.epochs
    return [epochs[0], epochs[-1]] if len(epochs) > 1 else epochs


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``01_nnstd``, by the name it is saved under (closed: show with ``display``).

    Names: ``worked_example_networks``, ``worked_example_costs``, ``perturbation_chain``,
    ``rewired_fraction_sweep`` and, when the published topologies were compared, ``published_heatmaps``,
    ``published_layers``, ``published_over_epochs``.
    """
    import matplotlib.pyplot as plt

    from . import figures as plots

    p, ex = result.params, result.example
    names = result.layer_names()
    out: dict[str, Any] = {}
    out["worked_example_networks"] = plots.nnstd_example_graphs(ex.first, ex.second, ex.matchings)
    out["worked_example_costs"] = plots.cost_matrices(ex.costs, ex.matchings)

    table = result.chain_table
    shown = table[table["layer"].isin([str(k) for k in result.layers] + ["mean"])]
    shown = shown.assign(layer=shown["layer"].map(names))
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    plots.distance_heatmap(result.chain_matrix.mean, ax=axes[0], vmax=None,
                           title="NNSTD (mean over layers) between chain networks", cbar_label="NNSTD")
    axes[0].set_xlabel("chain position")
    axes[0].set_ylabel("chain position")
    plots.line_with_band(shown, x="position", y="nnstd_to_start", hue="layer", ax=axes[1], errorbar=None,
                         xlabel=f"steps since the first network (each moves {p.chain_fraction:.0%} of the edges)",
                         ylabel="NNSTD to the first network", title="Distance along the chain, per layer")
    fig.tight_layout()
    out["perturbation_chain"] = fig

    panel_titles = {key: names[key] for key in [str(k) for k in result.layers] + ["mean"]}
    sweep = result.sweep
    out["rewired_fraction_sweep"] = plots.panels_with_baseline(
        sweep[sweep["layer"].isin(panel_titles)], x="rewired_percent", y="nnstd", panel="layer",
        baseline=result.baseline, panel_titles=panel_titles, xlabel="edges moved (%)",
        ylabel="NNSTD to the original",
        suptitle="NNSTD after moving a fraction of the edges (mean, 95% CI over rewirings); dashed: random topologies")

    pub = result.published
    if pub is not None:
        epochs = pub.epochs
        top = max(float(pub.matrices[e].mean.max()) for e in epochs)
        out["published_heatmaps"] = plots.heatmap_grid(
            [pub.matrices[e].mean for e in epochs], [f"epoch {e}" for e in epochs], pub.matrices[epochs[0]].labels,
            vmax=top, ncols=min(3, len(epochs)), suptitle="NNSTD (mean over layers) between the ten published networks")
        ends = _published_ends(pub)
        top = max(float(pub.matrices[e].layers[k].max()) for e in ends for k in pub.layers)
        out["published_layers"] = plots.heatmap_grid(
            [pub.matrices[e].layers[k] for e in ends for k in pub.layers],
            [f"epoch {e}, layer {k}" for e in ends for k in pub.layers], pub.matrices[ends[0]].labels, vmax=top,
            ncols=len(pub.layers), suptitle="NNSTD per layer between the published networks, first and last epoch")
        pub_titles = {**{str(k): f"layer {k}" for k in pub.layers}, "mean": "network (mean over layers)"}
        out["published_over_epochs"] = plots.panels_with_baseline(
            pub.table, x="epoch", y="nnstd", panel="layer", baseline=pub.baseline, panel_titles=pub_titles,
            xlabel="training epoch", ylabel="NNSTD between published networks",
            suptitle="Pairwise NNSTD of the published networks over training (mean, 95% CI over 45 pairs); "
                     "dashed: random topologies")
    for fig in out.values():
        plt.close(fig)
    return out
