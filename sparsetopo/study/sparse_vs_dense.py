"""Sparse versus dense without topology search (notebook ``02_sparse_vs_dense``).

Dense MLPs and *static* sparse MLPs of the same shape (a fixed Erdős–Rényi
mask drawn once, never rewired) are trained over a grid of densities, several
seeds each. This module builds that grid of run configurations, summarises
final test accuracy against density with confidence intervals over seeds,
decides at which densities sparse matches or beats dense, and measures how far
apart (NNSTD) the static networks are compared with independent random
topologies.

Matching rule
-------------
A sparse configuration *matches* dense when its mean final test accuracy over
seeds is at least the dense mean minus ``tolerance`` (0.005, half a
percentage point), **or** when the two Student-t confidence intervals over
seeds overlap. It *beats* dense when its mean is above the dense mean, and
*significantly beats* it when its whole interval lies above the dense one.

Densities
---------
``density`` is the fraction of the dense network's weights that the sparse
network keeps, counted over all layers (the output layer stays dense, as in
the paper), biases excluded. ``n_parameters`` adds the biases.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import store
from ..parallel import show_progress
from ..stats import format_mean_ci, mean_ci
from ..store.config import RunConfig
from .findings import Findings
from .params import StudyParameters, check_int, check_real, check_sequence

__all__ = [
    "MATCH_TOLERANCE",
    "density_grid",
    "results_table",
    "match_verdict",
    "accuracy_summary",
    "learning_curves",
    "StaticDistances",
    "static_distances",
    "describe_accuracy",
    "describe_distances",
    "record_findings",
    "Parameters",
    "Result",
    "run",
    "notes",
    "claims",
    "figures",
]

#: Sparse "matches" dense when its mean is at least dense mean minus this (or the CIs overlap).
MATCH_TOLERANCE = 0.005
#: Same-density static networks count as "as far apart as random" above this fraction of the baseline.
FAR_FRACTION = 0.9
#: Accuracy spread over seeds (max - min) below which topologies "reach similar accuracy".
SIMILAR_ACCURACY = 0.01


def density_grid(
    dataset: str,
    hidden: Sequence[int],
    epsilons: Sequence[float],
    seeds: Sequence[int],
    *,
    epochs: int,
    include_dense: bool = True,
    **run_options: Any,
) -> list[RunConfig]:
    """Run configurations of the comparison: dense plus static sparse at each ε.

    Parameters
    ----------
    dataset : str
        Any name :func:`sparsetopo.data.load_dataset` accepts.
    hidden : sequence of int
        Hidden widths, shared by every network.
    epsilons : sequence of float
        Erdős–Rényi ε of the static networks (``round(ε (n_in + n_out))``
        edges per hidden layer; the output layer is dense).
    seeds : sequence of int
        One run per seed and configuration (the seed draws weights, batch
        order and the static mask).
    epochs : int
    include_dense : bool
        Add the dense network for every seed.
    **run_options
        Other :class:`~sparsetopo.store.config.RunConfig` fields (``lr``, ``batch_size``, ...).

    Returns
    -------
    list of RunConfig
        Dense runs first, then static runs by increasing ε, seeds innermost.
    """
    epsilons = [float(e) for e in epsilons]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed (two or more for confidence intervals)")
    if any(e <= 0 for e in epsilons):
        raise ValueError(f"epsilons must be positive, got {epsilons}")
    if len(set(epsilons)) != len(epsilons) or len(set(seeds)) != len(seeds):
        raise ValueError(f"epsilons and seeds must not repeat, got {epsilons} and {seeds}")
    base = dict(dataset=dataset, hidden=tuple(hidden), epochs=int(epochs), **run_options)
    configs = []
    if include_dense:
        configs += [RunConfig(method="dense", seed=s, **base) for s in seeds]
    configs += [RunConfig(method="static", epsilon=e, density=None, seed=s, **base) for e in sorted(epsilons) for s in seeds]
    return configs


def results_table(configs: Sequence[RunConfig], root: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per finished run of ``configs``: accuracy, size and density.

    Columns: ``run_id, method, epsilon, seed, final_test_acc, best_test_acc,
    n_weights`` (edges over all layers), ``dense_weights``, ``density``
    (``n_weights / dense_weights``), ``density_pct``, ``hidden_density``
    (edges over possible edges of the hidden layers), ``n_parameters``
    (weights plus biases), ``train_seconds``.
    """
    rows = []
    for config in configs:
        run = store.load_run(store.run_directory(config, root))
        widths = run.summary["widths"]
        sizes = [widths[k] * widths[k + 1] for k in range(len(widths) - 1)]
        edges = [int(e) for e in run.summary["edges"]]
        rows.append(
            {
                "run_id": run.directory.name,
                "method": config.method,
                "epsilon": math.nan if config.epsilon is None else float(config.epsilon),
                "seed": config.seed,
                "final_test_acc": run.final_test_acc,
                "best_test_acc": float(run.summary["best_test_acc"]),
                "n_weights": sum(edges),
                "dense_weights": sum(sizes),
                "density": sum(edges) / sum(sizes),
                "density_pct": 100.0 * sum(edges) / sum(sizes),
                "hidden_density": sum(edges[:-1]) / sum(sizes[:-1]),
                "n_parameters": int(run.summary["n_parameters"]),
                "train_seconds": float(run.summary["train_seconds"]),
            }
        )
    return pd.DataFrame(rows)


def match_verdict(
    sparse: Sequence[float],
    dense: Sequence[float],
    *,
    tolerance: float = MATCH_TOLERANCE,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Does a sparse configuration match or beat dense? (See the module docstring.)

    Parameters
    ----------
    sparse, dense : sequence of float
        Final test accuracies, one per seed.
    tolerance : float
        Accuracy a match may fall short of the dense mean by.

    Returns
    -------
    dict
        ``gap`` (mean sparse - mean dense), ``within_tolerance``,
        ``ci_overlap``, ``matches`` (either), ``beats`` (gap > 0) and
        ``significantly_beats`` (sparse CI above the dense CI).
    """
    if len(sparse) == 0 or len(dense) == 0:
        raise ValueError(f"need accuracies of both sides, got {len(sparse)} sparse and {len(dense)} dense values")
    ms, ls, hs = mean_ci(sparse, confidence)
    md, ld, hd = mean_ci(dense, confidence)
    within = bool(ms >= md - tolerance)
    overlap = bool(ls <= hd and ld <= hs)
    return {
        "gap": ms - md,
        "within_tolerance": within,
        "ci_overlap": overlap,
        "matches": within or overlap,
        "beats": bool(ms > md),
        "significantly_beats": bool(ls > hd),
    }


def accuracy_summary(table: pd.DataFrame, *, tolerance: float = MATCH_TOLERANCE, confidence: float = 0.95) -> pd.DataFrame:
    """Final test accuracy per configuration, with its interval and verdict against dense.

    Parameters
    ----------
    table : DataFrame
        :func:`results_table` output (must contain dense runs).

    Returns
    -------
    DataFrame
        One row per configuration (dense first, then static by increasing
        density): ``method, epsilon, density, density_pct, hidden_density,
        n_weights, n_parameters, n_seeds, acc_mean, acc_low, acc_high,
        acc_range`` (max - min over seeds), ``gap`` to the dense mean,
        ``matches_dense, beats_dense, significantly_beats_dense``.
    """
    dense = table.loc[table["method"] == "dense", "final_test_acc"].to_numpy()
    if dense.size == 0:
        raise ValueError("table holds no dense run; build the grid with include_dense=True")
    rows = []
    keys = table.assign(eps_key=table["epsilon"].fillna(-1.0)).groupby(["method", "eps_key"], sort=False)
    for (method, _), part in keys:
        acc = part["final_test_acc"].to_numpy()
        m, lo, hi = mean_ci(acc, confidence)
        verdict = match_verdict(acc, dense, tolerance=tolerance, confidence=confidence)
        rows.append(
            {
                "method": method,
                "epsilon": part["epsilon"].iloc[0],
                "density": part["density"].mean(),
                "density_pct": part["density_pct"].mean(),
                "hidden_density": part["hidden_density"].mean(),
                "n_weights": int(round(part["n_weights"].mean())),
                "n_parameters": int(round(part["n_parameters"].mean())),
                "n_seeds": len(acc),
                "acc_mean": m,
                "acc_low": lo,
                "acc_high": hi,
                "acc_range": float(acc.max() - acc.min()),
                "gap": verdict["gap"],
                "matches_dense": verdict["matches"],
                "beats_dense": verdict["beats"],
                "significantly_beats_dense": verdict["significantly_beats"],
            }
        )
    out = pd.DataFrame(rows)
    order = np.lexsort((out["density"].to_numpy(), (out["method"] != "dense").to_numpy()))
    return out.iloc[order].reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class StaticDistances:
    """NNSTD among the static networks of the grid.

    Attributes
    ----------
    matrix : DistanceMatrix
        All static networks, ordered by density then seed.
    networks : DataFrame
        One row per network in matrix order: ``label, epsilon, seed, density_pct``.
    pairs : DataFrame
        One row per unordered pair: ``epsilon_a, epsilon_b, seed_a, seed_b,
        same_density, nnstd``.
    per_density : DataFrame
        One row per ε: NNSTD between same-density networks of different seeds
        (``nnstd_mean, nnstd_min, nnstd_max, n_pairs``) next to the random
        baseline of that density (``random_mean, random_low, random_high``)
        and ``ratio = nnstd_mean / random_mean``.
    """

    matrix: Any
    networks: pd.DataFrame
    pairs: pd.DataFrame
    per_density: pd.DataFrame


def static_distances(
    configs: Sequence[RunConfig],
    root: str | os.PathLike | None = None,
    *,
    baseline_pairs: int = 10,
    seed: int = 0,
    n_jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
) -> StaticDistances:
    """NNSTD between every two static networks, and the random baseline per density.

    Networks of different densities are comparable (same layer shapes). The
    baseline of a density draws ``baseline_pairs`` pairs of independent
    random topologies with its exact per-layer edge counts
    (:func:`sparsetopo.nnstd.pairwise.random_baseline`).
    """
    from ..nnstd.pairwise import pairwise_nnstd, random_baseline

    static = sorted((c for c in configs if c.method == "static"), key=lambda c: (c.epsilon, c.seed))
    if len(static) < 2:
        raise ValueError(f"need at least two static runs to compare, got {len(static)}")
    runs = [store.load_run(store.run_directory(c, root)) for c in static]
    topologies = [r.topology() for r in runs]
    total = [sum(m.size for m in t) for t in topologies]
    networks = pd.DataFrame(
        {
            "label": [f"ε={c.epsilon:g} s{c.seed}" for c in static],
            "epsilon": [float(c.epsilon) for c in static],
            "seed": [c.seed for c in static],
            "density_pct": [100.0 * sum(int(m.sum()) for m in t) / n for t, n in zip(topologies, total)],
        }
    )
    matrix = pairwise_nnstd(topologies, labels=networks["label"], n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir)
    n = len(static)
    pairs = pd.DataFrame(
        [
            {
                "epsilon_a": networks.at[i, "epsilon"],
                "epsilon_b": networks.at[j, "epsilon"],
                "seed_a": networks.at[i, "seed"],
                "seed_b": networks.at[j, "seed"],
                "same_density": bool(networks.at[i, "epsilon"] == networks.at[j, "epsilon"]),
                "nnstd": float(matrix.mean[i, j]),
            }
            for i in range(n)
            for j in range(i)
        ]
    )
    rows = []
    for eps, part in networks.groupby("epsilon", sort=True):
        same = pairs[(pairs["epsilon_a"] == eps) & (pairs["epsilon_b"] == eps)]["nnstd"]
        calib = random_baseline(topologies[part.index[0]], n_pairs=baseline_pairs, seed=seed, n_jobs=n_jobs,
                                progress=show_progress(), cache_dir=cache_dir)
        mean = float(same.mean()) if len(same) else math.nan
        rows.append(
            {
                "epsilon": eps,
                "density_pct": part["density_pct"].mean(),
                "nnstd_mean": mean,
                "nnstd_min": float(same.min()) if len(same) else math.nan,
                "nnstd_max": float(same.max()) if len(same) else math.nan,
                "n_pairs": len(same),
                "random_mean": calib.mean,
                "random_low": calib.ci[0],
                "random_high": calib.ci[1],
                "ratio": mean / calib.mean if calib.mean > 0 else math.nan,
            }
        )
    return StaticDistances(matrix=matrix, networks=networks, pairs=pairs, per_density=pd.DataFrame(rows))


def learning_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch test accuracy of a :func:`sparsetopo.store.runs.sweep` frame, labelled by network.

    Returns ``network`` ("dense" or "static ε=<ε>"), ``epsilon``, ``seed``,
    ``epoch``, ``test_acc``, ordered dense first then by ε.
    """
    out = frame[["method", "epsilon", "seed", "epoch", "test_acc"]].copy()
    out["epsilon"] = out["epsilon"].astype(float)
    out["network"] = [
        "dense" if m == "dense" else f"{m} ε={e:g}" for m, e in zip(out["method"], out["epsilon"])
    ]
    out = out.assign(_dense=out["method"] != "dense").sort_values(["_dense", "epsilon", "seed", "epoch"])
    return out.drop(columns="_dense").reset_index(drop=True)


def _pct(x: float) -> str:
    return f"{x:.3g}%"


def describe_accuracy(summary: pd.DataFrame, *, tolerance: float = MATCH_TOLERANCE) -> str:
    """A sentence on where sparse matches dense, computed from :func:`accuracy_summary`."""
    dense = summary[summary["method"] == "dense"].iloc[0]
    sparse = summary[summary["method"] != "dense"]
    matched = sparse[sparse["matches_dense"]]
    best = sparse.loc[sparse["acc_mean"].idxmax()]
    text = f"Dense reaches {dense['acc_mean']:.4f} [{dense['acc_low']:.4f}, {dense['acc_high']:.4f}]. "
    if len(matched):
        text += (
            f"Static sparse networks match it (mean ≥ dense − {tolerance} or overlapping 95% CIs) at "
            f"{', '.join(_pct(d) for d in matched['density_pct'])} of the dense weights; "
        )
    else:
        text += "No static sparse network matches it; "
    text += (
        f"the best static network (ε={best['epsilon']:g}, {_pct(best['density_pct'])} of the weights, "
        f"{int(best['n_parameters'])} parameters) reaches {best['acc_mean']:.4f}, "
        f"{best['gap']:+.4f} against dense."
    )
    return text


def describe_distances(distances: StaticDistances) -> str:
    """A sentence comparing same-density NNSTD with the random baseline."""
    d = distances.per_density
    return (
        f"Same-density static networks from different seeds are at NNSTD "
        f"{d['nnstd_mean'].min():.3f}–{d['nnstd_mean'].max():.3f} (by density), "
        f"{d['ratio'].min():.2f}–{d['ratio'].max():.2f} times the distance between independent random topologies."
    )


def record_findings(
    findings: Findings,
    table: pd.DataFrame,
    summary: pd.DataFrame,
    distances: StaticDistances,
    *,
    tolerance: float = MATCH_TOLERANCE,
) -> pd.DataFrame:
    """Add the notebook's claims, each measured from the run; return the findings table."""
    dense_acc = table.loc[table["method"] == "dense", "final_test_acc"].tolist()
    sparse = summary[summary["method"] != "dense"]
    matched = sparse[sparse["matches_dense"]]
    best = sparse.loc[sparse["acc_mean"].idxmax()]
    best_acc = table.loc[(table["method"] == "static") & (table["epsilon"] == best["epsilon"]), "final_test_acc"].tolist()

    findings.claim(
        "Dense accuracy (final test accuracy of the dense MLP)",
        measured=float(np.mean(dense_acc)),
        holds=None,
        spread=format_mean_ci(dense_acc),
        detail="mean and 95% CI over seeds of the last epoch's test accuracy; the reference for every other claim",
    )
    findings.claim(
        "Static sparse networks match dense accuracy with a fraction of the weights",
        measured=None if matched.empty else float(matched["density_pct"].min()),
        holds=not matched.empty,
        spread="" if matched.empty else "matching densities (% of dense weights): " + ", ".join(f"{d:.3g}" for d in matched["density_pct"]),
        detail=f"lowest density (% of dense weights) whose mean is >= dense mean - {tolerance} or whose 95% CI overlaps dense's",
    )
    beaten = sparse[sparse["beats_dense"]]
    findings.claim(
        "Some static sparse network beats dense on average",
        measured=float(best["gap"]),
        holds=not beaten.empty,
        spread=f"best: ε={best['epsilon']:g}, {format_mean_ci(best_acc)}; significantly above dense: "
        + (", ".join(f"ε={e:g}" for e in sparse.loc[sparse["significantly_beats_dense"], "epsilon"]) or "none"),
        detail="best static mean accuracy minus dense mean; holds when any static mean exceeds the dense mean",
    )
    findings.claim(
        "Fraction of the dense weights used by the best static network",
        measured=float(best["density"]),
        holds=bool(best["density"] < 0.5),
        spread=f"{int(best['n_weights'])} of {int(table['dense_weights'].iloc[0])} weights",
        detail="n_weights / dense weights of the configuration with the highest mean accuracy; holds below 0.5",
    )
    d = distances.per_density
    ratio = d["ratio"].dropna()
    findings.claim(
        "Same-density static networks are as far apart as random topologies (NNSTD / random baseline)",
        measured=float(ratio.mean()) if len(ratio) else None,
        holds=bool(len(ratio) and ratio.min() >= FAR_FRACTION),
        spread=", ".join(f"ε={e:g}: {n:.3f} vs {r:.3f}" for e, n, r in zip(d["epsilon"], d["nnstd_mean"], d["random_mean"])),
        detail=f"mean over densities of (mean NNSTD between seeds) / (random baseline); holds when every density is >= {FAR_FRACTION}",
    )
    spread_acc = sparse["acc_range"]
    findings.claim(
        "Very different topologies of equal density reach similar accuracy (max-min over seeds)",
        measured=float(spread_acc.max()),
        holds=bool(spread_acc.max() < SIMILAR_ACCURACY and len(ratio) and ratio.min() >= FAR_FRACTION),
        spread=", ".join(f"ε={e:g}: {r:.4f}" for e, r in zip(sparse["epsilon"], spread_acc)),
        detail=f"largest accuracy range over seeds among static densities; holds when < {SIMILAR_ACCURACY} "
        "while the same networks are as far apart as random ones",
    )
    return findings.table()


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``02_sparse_vs_dense`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    hidden : hidden widths, shared by dense and sparse networks.
    epsilons : Erdős–Rényi ε of the static networks (positive, distinct; output layer dense).
    seeds : one run per seed and network (distinct, >= 0).
    epochs, lr, batch_size : training of every run (positive).
    match_tolerance : sparse matches dense when its mean is at least the dense mean minus this
        (or the 95% CIs overlap); >= 0.
    baseline_pairs : random topology pairs per density for the NNSTD baseline (>= 2).
    """

    figures_dir: str = "../figures/02_sparse_vs_dense"
    hidden: tuple = (256, 256)
    epsilons: tuple = (1, 2, 5, 10, 20, 50)
    seeds: tuple = (0, 1, 2)
    epochs: int = 30
    lr: float = 0.01
    batch_size: int = 128
    match_tolerance: float = MATCH_TOLERANCE
    baseline_pairs: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("hidden", check_sequence("hidden", self.hidden, lambda n, v: check_int(n, v, minimum=1)))
        self._set("epsilons", check_sequence("epsilons", self.epsilons, lambda n, v: check_real(
            n, v, minimum=0, exclusive_minimum=True), unique=True))
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), unique=True))
        self._set("epochs", check_int("epochs", self.epochs, minimum=1))
        self._set("lr", check_real("lr", self.lr, minimum=0, exclusive_minimum=True))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("match_tolerance", check_real("match_tolerance", self.match_tolerance, minimum=0))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``02_sparse_vs_dense`` computed (see :func:`run`).

    Attributes
    ----------
    params : the parameters of the run.
    widths : layer widths of every network, input first.
    description : one-line description of the dataset.
    configs : the run configurations (:func:`density_grid`).
    curves : per-epoch records of every run (:func:`sparsetopo.store.runs.sweep`).
    runs : :func:`results_table`; summary : :func:`accuracy_summary`; learning : :func:`learning_curves`.
    distances : :func:`static_distances`.
    """

    params: Parameters
    widths: list
    description: str
    configs: list
    curves: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    learning: pd.DataFrame
    distances: StaticDistances


def run(params: Parameters) -> Result:
    """Train (or read back from the run store) the grid, then summarise and compare topologies."""
    from ..data import load_dataset

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be sparse_vs_dense.Parameters, got {type(params).__name__}")
    p = params
    data = load_dataset(p.dataset)
    configs = density_grid(p.dataset, list(p.hidden), list(p.epsilons), list(p.seeds), epochs=p.epochs, lr=p.lr,
                           batch_size=p.batch_size)
    curves = store.sweep(configs, n_jobs=p.n_jobs, root=p.runs_root, progress=show_progress())
    runs = results_table(configs, root=p.runs_root)
    distances = static_distances(configs, root=p.runs_root, baseline_pairs=p.baseline_pairs, n_jobs=p.n_jobs,
                                 cache_dir=p.cache_dir)
    return Result(params=p, widths=data.widths(p.hidden), description=data.describe(),
                  configs=configs, curves=curves, runs=runs,
                  summary=accuracy_summary(runs, tolerance=p.match_tolerance),
                  learning=learning_curves(curves), distances=distances)


def notes(result: Result) -> dict[str, str]:
    """Sentences of measured numbers for the notebook (keys ``"data"``, ``"grid"``, ``"accuracy"``, ``"distances"``)."""
    p = result.params
    return {
        "data": result.description,
        "grid": f"{len(result.configs)} runs: widths {result.widths}, {p.epochs} epochs each",
        "accuracy": describe_accuracy(result.summary, tolerance=p.match_tolerance),
        "distances": describe_distances(result.distances),
    }


def claims(result: Result) -> Findings:
    """The findings of notebook ``02_sparse_vs_dense`` (claims by :func:`record_findings`'s rules, and the
    numbers behind every figure); the parameters recorded are ``result.params``."""
    p = result.params
    findings = Findings("02_sparse_vs_dense", p.figures_dir, parameters=p.as_dict())
    findings.add_data("accuracy_vs_density", result.summary)
    findings.add_data("runs", result.runs)
    findings.add_data("learning_curves",
                      result.learning.groupby(["network", "epoch"], sort=False)["test_acc"].mean().reset_index())
    findings.add_data("nnstd_static_matrix", result.distances.matrix.frame())
    findings.add_data("nnstd_vs_random_baseline", result.distances.per_density)
    record_findings(findings, result.runs, result.summary, result.distances, tolerance=p.match_tolerance)
    return findings


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``02_sparse_vs_dense`` by name (closed: show with ``display``):
    ``accuracy_vs_density``, ``learning_curves``, ``nnstd_static_matrix``, ``nnstd_vs_random_baseline``."""
    import matplotlib.pyplot as plt

    from . import figures as plots

    p, out = result.params, {}
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    plots.accuracy_vs_density(result.summary, result.runs, dense_weights=int(result.runs["dense_weights"].iloc[0]),
                              ax=ax, title=f"{p.dataset}: static sparse vs dense MLP {result.widths}")
    out["accuracy_vs_density"] = fig
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    plots.line_with_band(result.learning, x="epoch", y="test_acc", hue="network", ax=ax, xlabel="epoch",
                         ylabel="test accuracy",
                         title=f"{p.dataset}: test accuracy during training (mean, 95% CI over seeds)")
    out["learning_curves"] = fig
    d = result.distances
    fig, ax = plt.subplots(figsize=(9, 8))
    plots.block_heatmap(d.matrix.mean, [f"ε={e:g}" for e in d.networks["epsilon"]], labels=d.networks["label"], ax=ax,
                        title="NNSTD between static networks (blocks: ε, seeds within)",
                        cbar_label="NNSTD (mean over layers)")
    out["nnstd_static_matrix"] = fig
    fig, ax = plt.subplots(figsize=(7, 4.3))
    plots.distance_vs_baseline(d.per_density, ax=ax,
                               title="NNSTD between same-density static networks vs random topologies")
    out["nnstd_vs_random_baseline"] = fig
    for fig in out.values():
        plt.close(fig)
    return out
