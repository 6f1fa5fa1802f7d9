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

from ..store import runs as store
from ..store.config import RunConfig
from ..stats import format_mean_ci, mean_ci
from .findings import Findings

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
    progress: bool = True,
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
    matrix = pairwise_nnstd(topologies, labels=networks["label"], n_jobs=n_jobs, progress=progress, cache_dir=cache_dir)
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
                                progress=progress, cache_dir=cache_dir)
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
