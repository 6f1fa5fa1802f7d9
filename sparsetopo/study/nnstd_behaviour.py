"""Notebook ``01_nnstd`` as an experiment definition: does NNSTD behave like a distance between sparse topologies?

:class:`Parameters` (defaults in the notebook's ``parameters`` cell), :func:`run` computes everything,
:func:`claims` decides every claim by a rule of :mod:`sparsetopo.study.verdicts`, :func:`figures` draws
(:mod:`sparsetopo.study.figures.nnstd_behaviour`) and :func:`context` hands the numbers to the notebook's
Markdown templates (``sparsetopo/study/templates/01_nnstd/``).

:func:`run` builds an untrained network at the published networks' density and asks NNSTD the controlled
questions of :mod:`sparsetopo.nnstd.probes` — a worked example, identity and renumbered copies under both
tie-breaks (the published code's ``"solver"``, the paper's metric, and this project's ``"structure"``),
independent 1%-perturbation chains, a rewired-fraction sweep against the random-topology baseline, the tie
noise of every comparison — then compares the topologies published with the paper's code over their saved
epochs and against the numbers that code printed.

The network-level NNSTD is the mean over the **sparse** layers (a dense layer always has NNSTD 0); the one
exception is the comparison with the published code's printed numbers, whose mean runs over all layers as that
code computes it. All randomness goes through explicit seeds; NNSTD pairs are cached under ``params.cache_dir``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..nnstd.pairwise import DistanceMatrix
from ..nnstd.probes import (
    WorkedExample,
    chain_frame,
    chain_growth,
    chains_frame,
    fraction_sweep,
    identity_checks,
    resolution_table,
    rewired_copy,
    tie_noise,
    worked_example,
)
from ..stats import mean_ci
from ..topology.masks import densities, edge_counts, permute_hidden_neurons, random_topology
from . import published as published_data
from . import verdicts as V
from .common import baseline_frame, sparse_layers, sparse_mean
from .findings import Findings
from .params import StudyParameters, check_bool, check_int, check_real, check_sequence
from .published import PublishedComparison

__all__ = [
    "TIE_LABELS",
    "MARGIN_JUSTIFICATIONS",
    "Parameters",
    "Result",
    "run",
    "claims",
    "context",
    "figures",
    "sweep_steps",
    "equivalent_rewiring",
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


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``01_nnstd``: one field per line of its ``parameters`` cell, whose comment says
    what the value means (the checks below enforce the ranges stated there).

    ``edges_from_published`` gives the perturbed network the published networks' mean edge counts per layer at
    their first saved snapshot (their densities when the widths differ); ε is used when the published files are
    absent or have another number of layers. Every margin's justification is in :data:`MARGIN_JUSTIFICATIONS`.
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
            if v not in published_data.PUBLISHED_EPOCHS:
                raise ValueError(f"parameter {n} must be a published epoch {list(published_data.PUBLISHED_EPOCHS)}, "
                                 f"got {v!r}")
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
class Result:
    """Everything notebook ``01_nnstd`` computed (see :func:`run`).

    Attributes
    ----------
    params : the parameters of the run.
    example : the worked example (:func:`sparsetopo.nnstd.probes.worked_example`).
    widths : widths of the perturbed network (dataset input and output around ``params.hidden``).
    base : the perturbed network, ``(n_out, n_in)`` bool per layer.
    base_source : how its edge counts were chosen (a sentence).
    published_density : whether those edge counts are the published networks'.
    layers : its sparse layers.
    identity : :func:`~sparsetopo.nnstd.probes.identity_checks` of the perturbed network (and a trained
        published one).
    chain_matrix : pairwise NNSTD of the first perturbation chain; chain_table : its
        :func:`~sparsetopo.nnstd.probes.chain_frame`.
    chains : :func:`~sparsetopo.nnstd.probes.chains_frame` of every chain; growth : its
        :func:`~sparsetopo.nnstd.probes.chain_growth`.
    sweep : :func:`~sparsetopo.nnstd.probes.fraction_sweep` of the perturbed network.
    calibration : Erdős–Rényi baseline of the perturbed network's shape; baseline : :func:`baseline_frame` of it.
    calibration_degree, baseline_degree : the same for the degree-preserving null (random networks with the
        perturbed network's in- and out-degree sequences).
    edge_sets : NNSTD beside the plain edge-set distance (Jaccard of the edge sets, no neuron matching), network
        means over the sparse layers: one row per ``comparison`` (``chain``, ``sweep``, ``published``,
        ``random pairs``, ``renumbered copy``) and ``x`` (chain position, percentage moved, epoch).
    noise : :func:`~sparsetopo.nnstd.probes.tie_noise` of representative pairs of every comparison.
    published : :func:`~sparsetopo.study.published.compare_published` of the runs compared, or ``None`` when
        the published topologies are not used or absent.
    """

    params: Parameters
    example: WorkedExample
    widths: list
    base: list
    base_source: str
    published_density: bool
    layers: list
    identity: pd.DataFrame
    chain_matrix: DistanceMatrix
    chain_table: pd.DataFrame
    chains: pd.DataFrame
    growth: pd.DataFrame
    sweep: pd.DataFrame
    calibration: Any
    baseline: pd.DataFrame
    calibration_degree: Any
    baseline_degree: pd.DataFrame
    edge_sets: pd.DataFrame
    noise: pd.DataFrame
    published: PublishedComparison | None

    def layer_names(self) -> dict[str, str]:
        """Panel titles: ``"0"`` -> ``"layer 0"``, ..., ``"mean"`` -> ``"network (mean over sparse layers)"``."""
        return {**{str(k): f"layer {k}" for k in range(len(self.base))}, "mean": "network (mean over sparse layers)"}

    def chain_network(self) -> np.ndarray:
        """Network-level (sparse-layer mean) pairwise matrix of the first chain."""
        return _matrix_sparse_mean(self.chain_matrix, self.layers)

    def identity_table(self) -> pd.DataFrame:
        """:attr:`identity` with one column per tie-break (network NNSTD and largest layer distance)."""
        return self.identity.pivot_table(index=["network", "check"], columns="tie_break",
                                         values=["nnstd", "max_layer"], sort=False)

    def steps(self) -> pd.DataFrame:
        """:func:`sweep_steps` of the sweep against ``step_margin`` (without the verdict objects)."""
        return sweep_steps(self.sweep, self.params.margin("step_margin")).drop(columns="verdict_obj")

    def resolution(self) -> pd.DataFrame:
        """:func:`~sparsetopo.nnstd.probes.resolution_table` of :attr:`noise`."""
        return resolution_table(self.noise)

    def tie_noise_of(self, comparison: str, tie_break: str = "structure") -> float:
        """Largest measured tie noise (sparse-layer mean) of the comparisons whose name starts with ``comparison``."""
        rows = self.noise[self.noise["comparison"].str.startswith(comparison) & (self.noise["tie_break"] == tie_break)]
        return float(rows["spread"].max()) if len(rows) else float("nan")


def _matrix_sparse_mean(matrix: DistanceMatrix, layers) -> np.ndarray:
    return matrix.layers[list(layers)].mean(axis=0)


def _edge_set_distance(first, second, layers) -> float:
    """Jaccard distance of the edge sets (no neuron matching), mean over ``layers``."""
    from ..metrics.graph import as_graph
    from ..metrics.overlap import edge_jaccard

    return float(np.mean(edge_jaccard(as_graph(first), as_graph(second)).layers[list(layers)]))


def _edge_set_frame(p: "Parameters", base, layers, chains, chain_tidy, sweep, random_pairs, pub_runs,
                    published) -> pd.DataFrame:
    """NNSTD beside the edge-set distance for every comparison of the notebook (network means)."""
    rows = []
    net = chain_tidy[chain_tidy["layer"] == "mean"].groupby("position")["nnstd_to_start"].mean()
    for pos in net.index:
        jac = np.mean([_edge_set_distance(chain[int(pos)], chain[0], layers) for chain in chains])
        rows.append({"comparison": "chain", "x": float(pos), "nnstd": float(net.loc[pos]), "edge_set": float(jac)})
    mean_sweep = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean()
    for i, f in enumerate(p.sweep_fractions):
        jac = np.mean([_edge_set_distance(rewired_copy(base, f, p.seed, i, r), base, layers)
                       for r in range(p.sweep_repeats)])
        rows.append({"comparison": "sweep", "x": 100.0 * f, "nnstd": float(mean_sweep.loc[f]), "edge_set": float(jac)})
    rows.append({"comparison": "random pairs", "x": float("nan"),
                 "nnstd": float(np.mean([_pair_nnstd(a, b, layers) for a, b in random_pairs])),
                 "edge_set": float(np.mean([_edge_set_distance(a, b, layers) for a, b in random_pairs]))})
    copy = permute_hidden_neurons(base, seed=np.random.default_rng([p.seed, 11]))
    rows.append({"comparison": "renumbered copy", "x": float("nan"), "nnstd": _pair_nnstd(copy, base, layers),
                 "edge_set": _edge_set_distance(copy, base, layers)})
    if published is not None:
        summary = published.network_summary().set_index("epoch")
        for e, nets in sorted(pub_runs.items()):
            pairs = [(i, j) for i in range(len(nets)) for j in range(i)]
            jac = np.mean([_edge_set_distance(nets[i], nets[j], published.layers) for i, j in pairs])
            rows.append({"comparison": "published", "x": float(e), "nnstd": float(summary.loc[e, "mean"]),
                         "edge_set": float(jac)})
    return pd.DataFrame(rows, columns=["comparison", "x", "nnstd", "edge_set"])


def _pair_nnstd(first, second, layers) -> float:
    """Network NNSTD of one pair: mean of the layer distances over ``layers`` (structural tie-break)."""
    from ..nnstd.distance import nnstd

    return float(np.mean(np.asarray(nnstd(first, second).layer_distances)[list(layers)]))


def _published_pairs(n: int, k: int) -> list[tuple[int, int]]:
    """``k`` disjoint pairs ``(2i + 1, 2i)`` of ``n`` networks (the later index first)."""
    return [(2 * i + 1, 2 * i) for i in range(min(k, n // 2))]


def run(params: Parameters) -> Result:
    """Compute everything notebook ``01_nnstd`` shows (NNSTD pairs cached under ``params.cache_dir``).

    Raises
    ------
    TypeError
        When ``params`` is not a :class:`Parameters`.
    ValueError
        When a chain step would move no edge of some sparse layer.
    """
    from ..data import load_dataset
    from ..nnstd.pairwise import pairwise_nnstd, random_baseline, trajectory_nnstd
    from ..parallel import show_progress
    from ..topology.masks import perturbation_chain

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be nnstd_behaviour.Parameters, got {type(params).__name__}")
    p, cache_dir, progress = params, params.cache_dir, show_progress()
    example = worked_example(list(p.example_widths), density=p.example_density, seed=p.example_seed)
    widths = load_dataset(p.dataset).widths(p.hidden)
    root = published_data.published_root() if p.use_published else None
    first_saved = published_data.PUBLISHED_EPOCHS[0]
    edges = (published_data.published_edges(root, widths, first_saved)
             if (root is not None and p.edges_from_published) else None)

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
    calibration_degree = random_baseline(base, n_pairs=p.baseline_pairs, seed=p.seed, null="degree", n_jobs=p.n_jobs,
                                         progress=progress, cache_dir=cache_dir)

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
    random_pairs = [tuple(random_topology(widths, layer_edges=edge_counts(base),
                                          seed=np.random.default_rng([p.seed, pair, s])) for s in (0, 1))
                    for pair in range(max(min(p.tie_pairs, p.baseline_pairs), 2))]
    for a, b in random_pairs[:min(p.tie_pairs, p.baseline_pairs)]:
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

    published = None if root is None else published_data.compare_published(
        root, p.published_epochs, runs=run_names, n_boot=p.n_boot, baseline_pairs=p.baseline_pairs, seed=p.seed,
        n_jobs=p.n_jobs, cache_dir=cache_dir)
    edge_sets = _edge_set_frame(p, base, layers, chains, chain_tidy, sweep, random_pairs, pub_runs, published)
    return Result(params=p, example=example, widths=widths, base=base, base_source=base_source,
                  published_density=edges is not None, layers=layers, identity=identity, chain_matrix=chain_matrix,
                  chain_table=chain_table, chains=chain_tidy, growth=chain_growth(chain_tidy), sweep=sweep,
                  calibration=calibration, baseline=baseline_frame(calibration, layers),
                  calibration_degree=calibration_degree, baseline_degree=baseline_frame(calibration_degree, layers),
                  edge_sets=edge_sets, noise=noise,
                  published=published)


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------


def sweep_steps(sweep: pd.DataFrame, margin: V.Margin, *, confidence: float = 0.95) -> pd.DataFrame:
    """Each step of the rewired-fraction sweep (network distance) as a superiority verdict.

    For consecutive fractions ``f_i < f_{i+1}``: the difference of the mean NNSTD over the independent
    rewirings, its Welch interval, and :func:`~sparsetopo.study.verdicts.superiority` with ``margin``.

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


def equivalent_rewiring(result: Result, distance: float) -> float:
    """The percentage of moved edges at which the sweep's mean network NNSTD equals ``distance`` (linear
    interpolation between the swept fractions; NaN outside the swept range)."""
    sweep = result.sweep
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean().sort_index()
    if not means.min() <= distance <= means.max():
        return float("nan")
    return float(np.interp(distance, means.to_numpy(), 100 * means.index.to_numpy(dtype=float)))


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


def _full_rewire(result: Result) -> np.ndarray | None:
    sweep = result.sweep
    rows = sweep[(sweep["layer"] == "mean") & (sweep["fraction"] == 1.0)]
    return rows["nnstd"].to_numpy() if len(rows) else None


def _published_verdicts(result: Result) -> dict[str, V.Verdict]:
    pub, p = result.published, result.params
    moved = pub.moved_apart
    out = {"moved": V.superiority(moved.estimate, moved.ci, p.margin("training_margin"))}
    last = pub.summary[(pub.summary["epoch"] == pub.epochs[-1]) & (pub.summary["layer"] == "mean")].iloc[0]
    base = pub.degree_baseline.set_index("layer").loc["mean"]  # trained networks: the degree-preserving null
    estimate = float(base["baseline"] - last["mean"])
    ci = (float(base["ci_low"] - last["ci_high"]), float(base["ci_high"] - last["ci_low"]))
    out["closer"] = V.superiority(estimate, ci, p.margin("training_margin"))
    dev = (pub.agreement["measured"] - pub.agreement["published"]).to_numpy()
    worst = float(dev[np.argmax(np.abs(dev))])
    out["agreement"] = V.equivalence(worst, (float(dev.min()), float(dev.max())), p.margin("agreement_tolerance"))
    return out


#: The paper's claims this notebook answers (the headlines of its findings).
DISTANCE = "NNSTD behaves like a distance between sparse topologies"
PUBLISHED_RUNS_CLAIM = "Published SET runs move apart but stay closer than random topologies"
AGREEMENT = "This implementation agrees with the published NNSTD code"


def claims(result: Result) -> Findings:
    """The findings of notebook ``01_nnstd``: every claim with its measured number and verdict (rules in the
    ``rules`` template), descriptions with verdict n/a, the numbers behind every figure, and the headlines that
    answer the paper's claims; the parameters recorded are ``result.params``."""
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
    steps = sweep_steps(result.sweep, p.margin("step_margin"))
    verdict = V.weakest(list(steps["verdict_obj"]))
    findings.add_data("rewired_fraction_sweep", {"sweep": result.sweep, "random_baseline": result.baseline,
                                                 "degree_preserving_baseline": result.baseline_degree,
                                                 "steps": steps.drop(columns="verdict_obj")})
    findings.add_data("nnstd_vs_edge_sets", {"edge_sets": result.edge_sets})
    pub = result.published
    if pub is not None:
        findings.add_data("published_heatmaps", {str(e): pub.network(e) for e in pub.epochs})
        findings.add_data("published_layers", {f"epoch{e}_layer{k}": pub.matrices[e].layers[k]
                                               for e in pub.ends for k in pub.layers})
        findings.add_data("published_over_epochs", {"summary": pub.summary, "random_baseline": pub.baseline,
                                                    "degree_preserving_baseline": pub.degree_baseline,
                                                    "index_gap_spearman": pub.gap})

    ident = result.identity
    same = ident[ident["check"] == "identical"]
    findings.claim("NNSTD of identical topologies is 0", measured=float(same["max_layer"].max()), holds=None,
                   spread=f"max over {same['network'].nunique()} networks x both tie-breaks",
                   detail="description (a check of the implementation, no sampling): largest layer distance of a "
                          "network against an identical copy, under the published and the structural tie-break")
    distance_claims = []
    for name, v, detail, spread in _identity_claims(result):
        distance_claims.append(findings.claim_verdict(name, v, detail=detail, spread=spread).claim)

    growth = result.growth
    step_noise = result.tie_noise_of("1% chain, one step")
    findings.claim("NNSTD between networks 1% apart", measured=float(growth["first_step"].mean()), holds=None,
                   spread=f"range {growth['first_step'].min():.4f}-{growth['first_step'].max():.4f} over "
                          f"{len(growth)} chains; tie noise {step_noise:.4f}",
                   detail="description: network NNSTD (mean over sparse layers) between a network and the copy "
                          f"that moved {p.chain_fraction:.0%} of its edges (first step of each chain)")
    m, lo, hi = mean_ci(growth["growth"].to_numpy())
    findings.claim_verdict(
        "NNSTD grows along the 1% chain", V.superiority(m, (lo, hi), p.margin("growth_margin")),
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
    distance_claims += ["NNSTD grows along the 1% chain", "NNSTD increases at every step of the rewired-fraction sweep"]
    base = result.baseline.set_index("layer").loc["mean"]
    findings.claim("Random-topology baseline", measured=float(base["baseline"]), holds=None,
                   spread=f"95% CI [{base['ci_low']:.4f}, {base['ci_high']:.4f}] over {p.baseline_pairs} pairs "
                          f"(SD {base['sd']:.4f}); tie noise {result.tie_noise_of('random pair'):.4f}",
                   detail="description: mean network NNSTD (sparse layers) between independent random topologies "
                          "with the perturbed network's layer shapes and edge counts")
    degree = result.baseline_degree.set_index("layer").loc["mean"]
    edge_sets = result.edge_sets.set_index("comparison")
    copy = edge_sets.loc["renumbered copy"]
    findings.claim("Edge-set distance of a renumbered copy", measured=float(copy["edge_set"]), holds=None,
                   spread=f"NNSTD of the same pair {copy['nnstd']:.4f}; random pairs: edge-set distance "
                          f"{edge_sets.loc['random pairs', 'edge_set']:.4f}, NNSTD {edge_sets.loc['random pairs', 'nnstd']:.4f}",
                   detail="description: Jaccard distance of the edge sets (1 - shared edges / all edges, no neuron "
                          "matching; mean over sparse layers) between the random network and a copy with renumbered "
                          "hidden neurons, the same network: what NNSTD's matching removes")
    full = _full_rewire(result)
    if full is not None:
        ci = V.difference_ci(full, sparse_mean(np.asarray(result.calibration.samples), result.layers))
        distance_claims.append(findings.claim_verdict(
            "A copy with every edge moved is as far as random topologies",
            V.equivalence(ci.estimate, ci.ci, p.margin("baseline_margin")),
            detail=f"NNSTD of copies with 100% of the edges moved minus the random baseline (Welch, "
                   f"{p.sweep_repeats} rewirings vs {p.baseline_pairs} random pairs)",
            spread=f"tie noise {result.tie_noise_of('rewired copy, 100'):.4f} (100% moved), "
                   f"{result.tie_noise_of('random pair'):.4f} (random pairs); degree-preserving baseline "
                   f"{degree['baseline']:.4f} [{degree['ci_low']:.4f}, {degree['ci_high']:.4f}] (Erdős–Rényi "
                   f"{base['baseline']:.4f}): the untrained network's degrees are Erdős–Rényi's, so the Erdős–Rényi "
                   f"null is the reference here").claim)
    density = ("the published SET networks' edge counts" if result.published_density
               else f"Erdős–Rényi ε = {p.epsilon:g}")
    findings.headline(DISTANCE, distance_claims, setting=(
        f"untrained {'-'.join(map(str, result.widths))} topologies ({density}); {p.chain_seeds} chains of "
        f"{p.chain_length} {p.chain_fraction:.0%} steps, {len(p.sweep_fractions)} rewired fractions × "
        f"{p.sweep_repeats}, {p.baseline_pairs} random pairs"))
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
    pub_base = pub.degree_baseline.set_index("layer").loc["mean", "baseline"]
    pub_er = pub.baseline.set_index("layer").loc["mean", "baseline"]
    moved = findings.claim_verdict(
        f"The published runs move apart during training (epoch {last} vs the first saved snapshot)", pv["moved"],
        detail=f"mean pairwise NNSTD at epoch {last} ({summ.loc[last, 'mean']:.4f}) minus at epoch {first}, "
               f"network bootstrap of the per-pair differences ({p.n_boot} replicates over the {p.published_runs} networks)",
        spread=f"tie noise {noise_first:.4f} (epoch {first}), {noise_last:.4f} (epoch {last})")
    closer = findings.claim_verdict(
        f"The published runs at epoch {last} stay closer than random topologies", pv["closer"],
        detail=f"degree-preserving random baseline for their shape and degree sequences ({pub_base:.4f}; the "
               f"reference for trained networks) minus their mean pairwise NNSTD; interval: the network bootstrap "
               f"widened by the baseline's CI",
        spread=f"ratio to the degree-preserving baseline {summ.loc[last, 'mean'] / pub_base:.3f}, to the "
               f"Erdős–Rényi one ({pub_er:.4f}) {summ.loc[last, 'mean'] / pub_er:.3f}; tie noise {noise_last:.4f}")
    pub_sets = result.edge_sets[result.edge_sets["comparison"] == "published"].set_index("x")
    if float(last) in pub_sets.index:
        row = pub_sets.loc[float(last)]
        findings.claim(f"Edge-set distance of the published networks at epoch {last}", measured=float(row["edge_set"]),
                       holds=None,
                       spread=f"NNSTD {row['nnstd']:.4f}; at epoch {first}: edge-set distance "
                              f"{pub_sets.loc[float(first), 'edge_set']:.4f}, NNSTD {pub_sets.loc[float(first), 'nnstd']:.4f}",
                       detail="description: mean over pairs of published networks of the Jaccard distance of their "
                              "edge sets (no neuron matching; mean over sparse layers): how far apart they look "
                              "without NNSTD's matching")
    agreement = pub.agreement
    findings.add_data("published_agreement", agreement)
    findings.claim_verdict(
        "Agreement with the published values", pv["agreement"],
        detail=f"ours minus printed over the per-layer and all-layer mean NNSTD of e5_s0_w1 vs e5_s0_w0 "
               f"(method='exact', {TIE_LABELS['solver']}); the printed mean runs over all four layers, as the "
               f"published code computes it",
        spread=f"{len(agreement)} values (epochs {sorted(int(e) for e in agreement['epoch'].unique())}); "
               f"largest |deviation| {agreement['abs_deviation'].max():.2e}")
    findings.headline(PUBLISHED_RUNS_CLAIM, [moved.claim, closer.claim], setting=(
        f"{p.published_runs} of the ten SET runs published with the paper's code "
        f"({'-'.join(map(str, pub.widths))}), epoch {first} (first saved snapshot) vs {last}"))
    findings.headline(AGREEMENT, ["Agreement with the published values"], setting=(
        f"e5_s0_w1 vs e5_s0_w0 of the published runs, epochs "
        f"{', '.join(str(int(e)) for e in agreement['epoch'].unique())}; exact solver, published tie-break"))
    return findings


# ---------------------------------------------------------------------------
# what the notebook's templates and figures read
# ---------------------------------------------------------------------------


def _claim_numbers(claim) -> dict | None:
    """A recorded claim as the numbers a template reads: ``measured``, ``verdict``, ``spread`` and, for a
    claim a rule decided, ``rule``, ``low``, ``high``, ``margin`` and ``bound`` (the margin at which the verdict
    would change: the lower bound for superiority, the larger absolute bound for equivalence)."""
    if claim is None:
        return None
    measured = None if claim.measured is None or np.isnan(claim.measured) else claim.measured
    out = {"name": claim.claim, "measured": measured, "verdict": claim.verdict or "n/a", "spread": claim.spread,
           "rule": None}
    if claim.rule is not None:
        low, high = claim.rule["ci"]
        out.update(rule=claim.rule["rule"], low=low, high=high, margin=claim.rule["margin"],
                   bound=low if claim.rule["rule"] == "superiority" else max(abs(low), abs(high)))
    return out


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the templates of ``templates/01_nnstd/`` read (every claim from ``findings``)."""
    p, ex, pub = result.params, result.example, result.published
    growth = result.growth
    base = result.baseline.set_index("layer").loc["mean"]
    steps = sweep_steps(result.sweep, p.margin("step_margin"))
    smallest = steps.loc[steps["difference"].idxmin()]
    weakest = V.weakest(list(steps["verdict_obj"]))
    decider = steps[[v is weakest for v in steps["verdict_obj"]]].iloc[0]  # the step that decides the sweep's claim
    full = _full_rewire(result)
    permuted = result.identity[result.identity["check"] != "identical"]

    def claim(prefix: str) -> dict | None:
        return _claim_numbers(next((c for c in findings.claims if c.claim.startswith(prefix)), None))

    out: dict[str, Any] = {
        "p": p,
        "why": MARGIN_JUSTIFICATIONS,
        "example": {"layer_distances": list(ex.layer_distances), "mean": ex.mean},
        "network": {"widths": result.widths, "edges": edge_counts(result.base), "source": result.base_source,
                    "densities": [round(d, 4) for d in densities(result.base)], "layers": result.layers,
                    "n_layers": len(result.base)},
        "identity": [{"network": net, "tie_break": TIE_LABELS[tb], "mean": float(part["nnstd"].mean()),
                      "max": float(part["nnstd"].max()),
                      "noise": result.tie_noise_of(f"renumbered copy of the {net}", tb)}
                     for (net, tb), part in permuted.groupby(["network", "tie_break"], sort=False)],
        "chain": {"n": len(growth), "first_step": float(growth["first_step"].mean()),
                  "mean_step": float(growth["mean_step"].mean()), "step_noise": result.tie_noise_of("1% chain, one step"),
                  "to_last": float(growth["to_last"].mean()), "growth": float(growth["growth"].mean()),
                  "last_noise": result.tie_noise_of("1% chain, first to last")},
        "sweep": {"baseline": float(base["baseline"]), "ci_low": float(base["ci_low"]), "ci_high": float(base["ci_high"]),
                  "pair_noise": result.tie_noise_of("random pair"), "full": None if full is None else float(full.mean()),
                  "smallest": float(smallest["difference"]), "smallest_from": float(smallest["from_percent"]),
                  "smallest_to": float(smallest["to_percent"]), "copy_noise": result.tie_noise_of("rewired copy"),
                  "decider_from": float(decider["from_percent"]), "decider_to": float(decider["to_percent"]),
                  "degree_baseline": float(result.baseline_degree.set_index("layer").loc["mean", "baseline"])},
        "tie_variants": 3 + p.tie_shuffles,
        "edge_sets": {"random": float(result.edge_sets.set_index("comparison").loc["random pairs", "edge_set"])},
        "settings": {key: next((h["setting"] for h in findings.headlines if h["paper_claim"] == claim), None)
                     for key, claim in [("distance", DISTANCE), ("published", PUBLISHED_RUNS_CLAIM),
                                        ("agreement", AGREEMENT)]},
        "claims": {
            "permuted": [dict(_claim_numbers(c), label=c.claim.split(" — ", 1)[1]) for c in findings.claims
                         if c.claim.startswith("NNSTD of a neuron-permuted copy is 0")],
            **{key: claim(prefix) for key, prefix in [
                ("identical", "NNSTD of identical topologies is 0"), ("one_step", "NNSTD between networks 1% apart"), ("growth", "NNSTD grows along the 1% chain"),
                ("steps", "NNSTD increases at every step"), ("baseline", "Random-topology baseline"),
                ("full", "A copy with every edge moved"), ("first", "Published networks at the first saved snapshot"),
                ("equivalent", "Rewired fraction as far as the published pairs"),
                ("moved", "The published runs move apart"), ("closer", "The published runs at epoch"),
                ("agreement", "Agreement with the published values"),
                ("edge_sets_copy", "Edge-set distance of a renumbered copy"),
                ("edge_sets_published", "Edge-set distance of the published networks")]}},
        "pub": None,
    }
    if pub is not None:
        first = pub.network_summary().set_index("epoch").loc[pub.epochs[0]]
        out["pub"] = {"epochs": pub.epochs, "first": pub.epochs[0], "last": pub.epochs[-1],
                      "first_min": float(first["min"]), "first_max": float(first["max"]),
                      "noise": {e: result.tie_noise_of(f"published networks, epoch {e}") for e in pub.epochs},
                      "max_deviation": float(pub.agreement["abs_deviation"].max()),
                      "widths": pub.widths, "n_layers": len(pub.widths) - 1, "layers": pub.layers}
    return out


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``01_nnstd`` by the name it is saved under
    (:func:`sparsetopo.study.figures.nnstd_behaviour.figures`)."""
    from .figures.nnstd_behaviour import figures as draw

    return draw(result)
