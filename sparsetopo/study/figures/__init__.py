"""Figures of the study. Functions take data (frames, matrices) and return a Figure.

Figure code only reads numbers computed elsewhere; notebooks save each figure
through :class:`sparsetopo.study.findings.Findings`.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from numpy.typing import ArrayLike

from ...nnstd.heatmap import distance_heatmap as _heatmap

__all__ = ["style", "interval_errors", "distance_heatmap", "heatmap_grid", "line_with_band", "embedding_paths"]

#: Seed of seaborn's bootstrapped confidence bands, so a figure redraws identically.
BOOTSTRAP_SEED = 0


def style() -> None:
    """The study's look: white grid, readable fonts."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=1.0)


def interval_errors(estimate: ArrayLike, low: ArrayLike, high: ArrayLike) -> np.ndarray:
    """Error-bar lengths ``[[estimate - low], [high - estimate]]`` for ``errorbar``, clipped at 0: an estimate may
    lie a rounding error (or, for a percentile bootstrap, a little more) outside its interval, and matplotlib
    refuses negative lengths; the bar then ends at the estimate. NaN stays NaN (no bar)."""
    est, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (estimate, low, high))
    return np.clip(np.vstack([est - lo, hi - est]), 0.0, None)


def distance_heatmap(matrix: np.ndarray, labels: Sequence[str] | None = None, *, title: str = "", ax=None,
                     vmin: float = 0.0, vmax: float | None = 1.0, cbar_label: str = "NNSTD", annotate: bool | None = None):
    """Heatmap of a square distance matrix (:func:`sparsetopo.nnstd.heatmap.distance_heatmap`). Returns the Axes."""
    ax = _heatmap(matrix, labels, ax=ax, title=title, vmin=vmin, vmax=vmax, cbar_label=cbar_label, annotate=annotate)
    ax.grid(False)
    return ax


def heatmap_grid(matrices: Sequence[np.ndarray], titles: Sequence[str], labels: Sequence[str] | None = None, *,
                 suptitle: str = "", vmax: float | None = 1.0, cbar_label: str = "NNSTD", ncols: int | None = None):
    """Several distance heatmaps side by side on a shared colour scale. Returns the Figure.

    The matrices may differ in size (for example our chain's networks beside the published ones): ``labels`` name
    the rows of every matrix of that many rows, the others are numbered from 0; cells are annotated in matrices
    of at most 6 rows."""
    k = len(matrices)
    ncols = ncols or min(k, 4)
    nrows = int(np.ceil(k / ncols))
    sizes = [np.asarray(m).shape[0] for m in matrices]
    size = 0.3 * max(sizes) + 2.2
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 0.9), squeeze=False)
    for ax, m, t, n in zip(axes.flat, matrices, titles, sizes):
        names = labels if labels is not None and len(labels) == n else None
        distance_heatmap(m, names, title=t, ax=ax, vmax=vmax, cbar_label=cbar_label, annotate=n <= 6)
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def line_with_band(frame: pd.DataFrame, x: str, y: str, hue: str | None = None, *, ax=None, xlabel: str = "",
                   ylabel: str = "", title: str = "", hline: float | None = None, hline_label: str = "",
                   logx: bool = False, errorbar=("ci", 95), marker: str = "o"):
    """Mean of ``y`` against ``x`` with a 95% confidence band over repeats. Returns the Axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    sns.lineplot(data=frame, x=x, y=y, hue=hue, errorbar=errorbar, marker=marker, ax=ax, seed=BOOTSTRAP_SEED)
    if hline is not None:
        ax.axhline(hline, color="black", linestyle="--", linewidth=1.2, label=hline_label or None)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    if hline_label or hue:
        ax.legend(fontsize=8)
    return ax


def embedding_paths(coords: np.ndarray, runs: Sequence[str], epochs: Sequence[int], *, groups: Sequence[str] | None = None,
                    ax=None, title: str = "", xlabel: str = "MDS 1", ylabel: str = "MDS 2"):
    """2-D embedding of snapshots with a line following each run through training.

    Parameters
    ----------
    coords : ``(n_snapshots, 2)``
    runs : run label of each snapshot
    epochs : epoch of each snapshot (lines follow increasing epoch)
    groups : colour group of each snapshot (default: the run)
    """
    coords = np.asarray(coords)
    frame = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "run": list(runs), "epoch": list(epochs),
                          "group": list(groups) if groups is not None else list(runs)})
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))
    palette = dict(zip(frame["group"].unique(), sns.color_palette("tab10", frame["group"].nunique())))
    for _run, part in frame.groupby("run", sort=False):
        part = part.sort_values("epoch")
        color = palette[part["group"].iloc[0]]
        ax.plot(part["x"], part["y"], "-", color=color, alpha=0.6, linewidth=1)
        ax.scatter(part["x"].iloc[0], part["y"].iloc[0], marker="o", color=color, s=40, edgecolor="black", zorder=3)
        ax.scatter(part["x"].iloc[-1], part["y"].iloc[-1], marker="*", color=color, s=120, edgecolor="black", zorder=3)
    handles = [plt.Line2D([], [], color=c, label=g) for g, c in palette.items()]
    handles += [plt.Line2D([], [], marker="o", linestyle="", color="grey", label="start"),
                plt.Line2D([], [], marker="*", linestyle="", color="grey", markersize=10, label="end")]
    ax.legend(handles=handles, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------
# NNSTD worked example, baselines and grouped points (notebooks 01 and 03)
# ---------------------------------------------------------------------------

__all__ += ["nnstd_example_graphs", "cost_matrices", "panels_with_baseline", "grouped_points"]


def _inverse(matching: np.ndarray) -> np.ndarray:
    inv = np.empty_like(np.asarray(matching))
    inv[np.asarray(matching)] = np.arange(len(matching))
    return inv


def nnstd_example_graphs(first: Sequence[np.ndarray], second: Sequence[np.ndarray], matchings: Sequence[np.ndarray], *,
                         titles: Sequence[str] = ("first network", "second network"), suptitle: str = ""):
    """Two small layered networks side by side, matched neurons in the same colour.

    Neurons are drawn in their own numbering (input at the bottom). A hidden
    or output neuron of the second network gets the colour of the first
    network's neuron it is matched to (``matchings[k][a]`` is the second
    network's neuron matched to the first's ``a``). Edges without a
    counterpart in the other network under the matching are drawn red and
    dashed. Returns the Figure.
    """
    first = [np.asarray(m, dtype=bool) for m in first]
    second = [np.asarray(m, dtype=bool) for m in second]
    n_layers = len(first)
    widths = [first[0].shape[1]] + [m.shape[0] for m in first]
    palette = sns.color_palette("tab10", max(widths[1:]))
    inverse = [_inverse(m) for m in matchings]

    def counterpart(k: int, out: int, inp: int, of_second: bool) -> bool:
        # is the edge inp -> out of layer k present in the other network?
        if of_second:
            a_out = inverse[k][out]
            a_in = inp if k == 0 else inverse[k - 1][inp]
            return bool(first[k][a_out, a_in])
        b_out = matchings[k][out]
        b_in = inp if k == 0 else matchings[k - 1][inp]
        return bool(second[k][b_out, b_in])

    fig, axes = plt.subplots(1, 2, figsize=(10, 0.9 * max(widths) + 1.8))
    for ax, masks, title, of_second in zip(axes, (first, second), titles, (False, True)):
        pos = {(l, i): (i - (w - 1) / 2, l) for l, w in enumerate(widths) for i in range(w)}
        for k, m in enumerate(masks):
            for out, inp in zip(*np.nonzero(m)):
                shared = counterpart(k, out, inp, of_second)
                (x0, y0), (x1, y1) = pos[(k, inp)], pos[(k + 1, out)]
                ax.plot([x0, x1], [y0, y1], color="grey" if shared else "crimson", linestyle="-" if shared else "--",
                        linewidth=1.0 if shared else 2.0, zorder=1)
        for (l, i), (x, y) in pos.items():
            if l == 0:
                color = "lightgrey"
            else:
                a = inverse[l - 1][i] if of_second else i
                color = palette[a % len(palette)]
            ax.scatter([x], [y], s=420, color=color, edgecolor="black", zorder=2)
            ax.text(x, y, str(i), ha="center", va="center", fontsize=9, zorder=3)
        ax.set_yticks(range(n_layers + 1))
        ax.set_yticklabels(["input"] + [f"hidden {l}" for l in range(1, n_layers)] + ["output"])
        ax.set_xticks([])
        ax.set_xlim(-(max(widths) + 1) / 2, (max(widths) + 1) / 2)
        ax.set_ylim(-0.5, n_layers + 0.5)
        ax.grid(False)
        ax.set_title(title)
    handles = [plt.Line2D([], [], color="grey", label="edge with a counterpart under the matching"),
               plt.Line2D([], [], color="crimson", linestyle="--", linewidth=2, label="edge without a counterpart")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(suptitle or "Neurons labelled by their own index; matched neurons share a colour")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def cost_matrices(costs: Sequence[np.ndarray], matchings: Sequence[np.ndarray], *, suptitle: str = ""):
    """NNSTD cost matrix of every layer with the optimal matching outlined.

    Rows are the first network's neurons, columns the second network's
    neurons (its inputs renumbered by the matching below). Each title gives
    the layer distance as matched cost over width. Returns the Figure.
    """
    from matplotlib.patches import Rectangle

    k = len(costs)
    fig, axes = plt.subplots(1, k, figsize=(3.4 * k + 0.6, 3.4), squeeze=False)
    for layer, (ax, c, m) in enumerate(zip(axes[0], costs, matchings)):
        c = np.asarray(c)
        _heatmap(c, ax=ax, vmin=0, vmax=1, annotate=True, colorbar=layer == k - 1, cbar_label="cost (1 - Jaccard)")
        ax.grid(False)
        for a, b in enumerate(m):
            ax.add_patch(Rectangle((b - 0.5, a - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
        total = float(c[np.arange(len(m)), m].sum())
        ax.set_title(f"layer {layer}: {total:.2f} / {len(m)} = {total / len(m):.3f}", fontsize=10)
        ax.set_xlabel("second network neuron")
        ax.set_ylabel("first network neuron")
    fig.suptitle(suptitle or "Cost matrices; red boxes: optimal matching")
    fig.tight_layout()
    return fig


def panels_with_baseline(frame: pd.DataFrame, x: str, y: str, panel: str, *, baseline: pd.DataFrame | None = None,
                         hue: str | None = None, units: str | None = None, panel_titles: dict | None = None,
                         xlabel: str = "", ylabel: str = "", suptitle: str = "", baseline_label: str = "random topologies",
                         ncols: int | None = None, sharey: bool = True, marker: str = "o"):
    """One panel per value of ``panel``: ``y`` against ``x`` and a baseline band.

    Parameters
    ----------
    frame : tidy data.
    x, y, panel, hue : column names; lines show the mean of ``y`` with a 95%
        confidence band over repeats, or one line per ``units`` value.
    baseline : optional frame with columns ``panel`` (same name), ``baseline``,
        ``ci_low``, ``ci_high``: drawn as a dashed line with its band.
    panel_titles : optional map from panel value to title.

    Returns
    -------
    matplotlib.figure.Figure
        One legend for all panels, below them.
    """
    panels = list(dict.fromkeys(frame[panel]))
    ncols = ncols or min(len(panels), 4)
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, 3.6 * nrows), squeeze=False, sharey=sharey)
    legend: dict = {}
    for ax, value in zip(axes.flat, panels):
        part = frame[frame[panel] == value]
        if units is not None:
            sns.lineplot(data=part, x=x, y=y, hue=hue, units=units, estimator=None, marker=marker, ax=ax, alpha=0.8)
        else:
            sns.lineplot(data=part, x=x, y=y, hue=hue, errorbar=("ci", 95), marker=marker, ax=ax,
                         seed=BOOTSTRAP_SEED)
        if baseline is not None:
            row = baseline[baseline[panel].astype(str) == str(value)]
            if len(row):
                row = row.iloc[0]
                ax.axhline(row["baseline"], color="black", linestyle="--", linewidth=1.2, label=baseline_label)
                ax.axhspan(row["ci_low"], row["ci_high"], color="black", alpha=0.15, linewidth=0)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.set_title((panel_titles or {}).get(value, f"{panel} {value}"))
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(ylabel or y)
        if pd.api.types.is_integer_dtype(frame[x]):
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    if legend:
        fig.legend(legend.values(), legend.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(legend), 4), fontsize=9, frameon=False)
    return fig


def grouped_points(frame: pd.DataFrame, x: str, y: str, *, order: Sequence[str] | None = None, ax=None,
                   xlabel: str | None = None, ylabel: str | None = None, title: str = "", hline: float | None = None,
                   hline_label: str = ""):
    """Every value of ``y`` per group ``x`` as a dot, with the group mean and its 95% CI. Returns the Axes.

    The dots are spread sideways by a seeded jitter, so the same frame always draws the same figure.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(1.3 * frame[x].nunique() + 3, 4))
    order = list(order) if order is not None else list(pd.unique(frame[x]))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    for i, group in enumerate(order):
        values = frame.loc[frame[x] == group, y].to_numpy(dtype=float)
        ax.scatter(i + rng.uniform(-0.15, 0.15, values.size), values, color="grey", alpha=0.7, s=36, zorder=2)
    sns.pointplot(data=frame, x=x, y=y, order=order, ax=ax, errorbar=("ci", 95), seed=BOOTSTRAP_SEED, color="black", linestyle="none",
                  markers="_", markersize=20, capsize=0.2)
    if hline is not None:
        ax.axhline(hline, color="crimson", linestyle="--", linewidth=1, label=hline_label or None)
        if hline_label:
            ax.legend(fontsize=8)
    ax.set_xlabel(x if xlabel is None else xlabel)
    ax.set_ylabel(y if ylabel is None else ylabel)
    ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------
# Accuracy against density or cost, block distance matrices, embeddings (notebooks 02 and 04)
# ---------------------------------------------------------------------------

__all__ += ["accuracy_vs_density", "distance_vs_baseline", "block_heatmap", "cost_scatter", "embedding_scatter",
            "imp_trajectory", "method_palette"]


def _compact(v: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def _plain_log_axis(axis, subs: Sequence[float] = (1.0, 2.0, 3.0, 5.0), compact: bool = False) -> None:
    """Log-scale tick labels as plain numbers (1, 2, 3, 5, 10, ...; or 5k, 10k, 1M) instead of 2x10^1."""
    from matplotlib import ticker

    axis.set_major_locator(ticker.LogLocator(base=10, subs=tuple(subs)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _compact(v) if compact else f"{v:,.6g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _accuracy_limits(ax) -> None:
    """Keep the y axis within [0, 1] (accuracy) even where a small-sample CI reaches beyond."""
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, 0.0), min(high, 1.005))


_MARKERS = ("o", "s", "D", "^", "v", "P", "X")


def method_palette(order: Sequence[str]) -> dict:
    """One tab10 colour per method name, in ``order`` (the same colours in every figure)."""
    return dict(zip(order, sns.color_palette("tab10", len(order))))


def accuracy_vs_density(summary: pd.DataFrame, runs: pd.DataFrame | None = None, *, dense_weights: int | None = None,
                        ax=None, title: str = "", ylabel: str = "final test accuracy"):
    """Sparse accuracy (mean and 95% CI band) against density, with the dense level and its band.

    Parameters
    ----------
    summary : frame with ``method`` ("dense" or a sparse method), ``density_pct``,
        ``acc_mean``, ``acc_low``, ``acc_high`` (one row per configuration) and
        optionally ``matches_dense`` (bool): configurations that do not match
        are drawn as hollow markers.
    runs : optional frame with ``method``, ``density_pct``, ``final_test_acc``:
        every seed drawn as a small dot.
    dense_weights : weight count of the dense network; adds a top axis in weights.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    dense = summary[summary["method"] == "dense"]
    for method, part in summary[summary["method"] != "dense"].groupby("method", sort=False):
        part = part.sort_values("density_pct")
        line, = ax.plot(part["density_pct"], part["acc_mean"], "-", label=f"{method} sparse (mean, 95% CI)")
        color = line.get_color()
        ax.fill_between(part["density_pct"], part["acc_low"], part["acc_high"], color=color, alpha=0.25, linewidth=0)
        matches = part["matches_dense"].astype(bool) if "matches_dense" in part else pd.Series(True, index=part.index)
        ax.scatter(part.loc[matches, "density_pct"], part.loc[matches, "acc_mean"], s=45, color=color, zorder=4,
                   label="matches dense (stated rule)" if "matches_dense" in part else None)
        ax.scatter(part.loc[~matches, "density_pct"], part.loc[~matches, "acc_mean"], s=45, facecolor="white",
                   edgecolor=color, linewidth=1.5, zorder=4, label="does not match dense" if (~matches).any() else None)
        if runs is not None:
            seeds = runs[runs["method"] == method]
            ax.scatter(seeds["density_pct"], seeds["final_test_acc"], s=10, color=color, alpha=0.5, zorder=3)
    if len(dense):
        d = dense.iloc[0]
        ax.axhline(d["acc_mean"], color="black", linestyle="--", linewidth=1.2, label="dense (mean, 95% CI)")
        ax.axhspan(d["acc_low"], d["acc_high"], color="black", alpha=0.12, linewidth=0)
        ax.scatter([d["density_pct"]], [d["acc_mean"]], marker="*", s=140, color="black", zorder=4)
        if runs is not None:
            seeds = runs[runs["method"] == "dense"]
            ax.scatter(seeds["density_pct"], seeds["final_test_acc"], s=10, color="black", alpha=0.5, zorder=3)
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis)
    ax.set_xlabel("density (% of the dense network's weights, log scale)")
    ax.set_ylabel(ylabel)
    _accuracy_limits(ax)
    if dense_weights:
        top = ax.secondary_xaxis("top", functions=(lambda p: np.asarray(p) * dense_weights / 100.0,
                                                   lambda w: np.asarray(w) * 100.0 / dense_weights))
        _plain_log_axis(top.xaxis, subs=(1.0, 2.0, 5.0), compact=True)
        top.set_xlabel("weights (count)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def distance_vs_baseline(frame: pd.DataFrame, *, x: str = "density_pct", ax=None, title: str = "",
                         xlabel: str = "density (% of the dense network's weights, log scale)", ylabel: str = "NNSTD",
                         label: str = "between networks of different seeds (mean, min-max)",
                         baseline_label: str = "independent random topologies (mean, 95% CI)", logx: bool = True):
    """Measured NNSTD per group (mean with min-max bars) next to the random baseline band.

    ``frame`` has ``x`` (numeric, or category names drawn in frame order),
    ``nnstd_mean``, ``nnstd_min``, ``nnstd_max``, ``random_mean``,
    ``random_low``, ``random_high``. Returns the Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    numeric = pd.api.types.is_numeric_dtype(frame[x])
    f = frame.sort_values(x) if numeric else frame
    xs = f[x].to_numpy() if numeric else np.arange(len(f))
    ax.plot(xs, f["random_mean"], "--", color="black", label=baseline_label)
    ax.fill_between(xs, f["random_low"], f["random_high"], color="black", alpha=0.15, linewidth=0)
    yerr = np.vstack([f["nnstd_mean"] - f["nnstd_min"], f["nnstd_max"] - f["nnstd_mean"]])
    ax.errorbar(xs, f["nnstd_mean"], yerr=yerr, fmt="o", capsize=4, color="tab:blue", label=label)
    if numeric and logx:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
    if not numeric:
        ax.set_xticks(xs)
        ax.set_xticklabels(list(f[x]), rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def block_heatmap(matrix: np.ndarray, groups: Sequence[str], *, labels: Sequence[str] | None = None, ax=None,
                  title: str = "", cbar_label: str = "NNSTD", vmin: float = 0.0, vmax: float | None = 1.0,
                  annotate: bool | None = None):
    """Distance heatmap whose rows/columns come in consecutive groups, with the blocks outlined.

    Group names label the block centres on the x axis; the y axis names every
    row with ``labels`` (or the groups too when ``labels`` is None). Returns the Axes.
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    groups = list(groups)
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries for a {n}x{n} matrix; give one group per row")
    if ax is None:
        _, ax = plt.subplots(figsize=(min(0.42 * n + 3.5, 14), min(0.38 * n + 2.8, 12.5)))
    if annotate is None:
        annotate = n <= 20
    _heatmap(matrix, ax=ax, vmin=vmin, vmax=vmax, annotate=annotate, cbar_label=cbar_label, ticklabels=False)
    ax.grid(False)
    starts = [i for i in range(n) if i == 0 or groups[i] != groups[i - 1]]
    bounds = starts + [n]
    for b in bounds[1:-1]:
        ax.axhline(b - 0.5, color="white", linewidth=2.5)
        ax.axvline(b - 0.5, color="white", linewidth=2.5)
    centres = [(a + b) / 2 - 0.5 for a, b in zip(bounds[:-1], bounds[1:])]
    names = [groups[a] for a in starts]
    ax.set_xticks(centres)
    ax.set_xticklabels(names, rotation=30, ha="right")
    if labels is None:
        ax.set_yticks(centres)
        ax.set_yticklabels(names, rotation=0)
    else:
        ax.set_yticks(np.arange(n))
        ax.set_yticklabels(list(labels), rotation=0, fontsize=7 if n > 12 else 9)
    ax.set_title(title)
    return ax


def _mean_ci(values) -> tuple[float, float, float]:
    from ...stats import mean_ci

    return mean_ci(np.asarray(values, dtype=float))


def cost_scatter(frame: pd.DataFrame, x: str, y: str = "test_acc", hue: str = "method", *,
                 order: Sequence[str] | None = None, ax=None, xlabel: str = "", ylabel: str | None = None,
                 title: str = "", logx: bool = True, plain_ticks: bool = False, legend: bool = True):
    """Accuracy against cost: every seed as a faint dot, each group's mean with 95% CI bars on both axes.

    ``order`` fixes the groups and their colours (:func:`method_palette`);
    ``plain_ticks`` labels a log x axis 1, 2, 3, 5, 10, ... instead of powers of ten. Returns the Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    order = list(order) if order is not None else list(dict.fromkeys(frame[hue]))
    palette = method_palette(order)
    for name in order:
        part = frame[frame[hue] == name]
        if part.empty:
            continue
        color = palette[name]
        ax.scatter(part[x], part[y], color=color, alpha=0.35, s=18, zorder=2)
        mx, lx, hx = _mean_ci(part[x])
        my, ly, hy = _mean_ci(part[y])
        ax.errorbar([mx], [my], xerr=[[mx - lx], [hx - mx]], yerr=[[my - ly], [hy - my]],
                    fmt=_MARKERS[order.index(name) % len(_MARKERS)], color=color, markersize=8,
                    markeredgecolor="black", capsize=4, label=name, zorder=3)
    if logx:
        ax.set_xscale("log")
        if plain_ticks:
            _plain_log_axis(ax.xaxis)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(y if ylabel is None else ylabel)
    _accuracy_limits(ax)
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    return ax


def embedding_scatter(coords: np.ndarray, groups: Sequence[str], *, labels: Sequence[str] | None = None, ax=None,
                      order: Sequence[str] | None = None, title: str = "", xlabel: str = "MDS 1 (NNSTD units)",
                      ylabel: str = "MDS 2 (NNSTD units)", palette: dict | None = None):
    """2-D embedding of networks, one colour per group, optional text label per point. Returns the Axes.

    ``palette`` (group -> colour) keeps a notebook's colours across its figures; default :func:`method_palette`.
    """
    coords = np.asarray(coords)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))
    names = list(dict.fromkeys(groups))
    full = list(order) if order is not None else names
    palette = {**method_palette(full), **(palette or {})}
    g = np.asarray(list(groups))
    for name in names:
        sel = g == name
        ax.scatter(coords[sel, 0], coords[sel, 1], color=palette[name], s=70, edgecolor="black", label=name, zorder=3,
                   marker=_MARKERS[full.index(name) % len(_MARKERS)], alpha=0.85)
    if labels is not None:
        for (px, py), text in zip(coords, labels):
            ax.annotate(str(text), (px, py), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def imp_trajectory(rounds: pd.DataFrame, others: pd.DataFrame | None = None, *, ax=None, title: str = "",
                   order: Sequence[str] | None = None, imp_label: str = "IMP ticket"):
    """Accuracy of every IMP round against density (mean and 95% CI over seeds), with other methods as points.

    Parameters
    ----------
    rounds : frame with ``density_pct``, ``test_acc`` (one row per seed and round).
    others : optional frame with ``method``, ``density_pct``, ``test_acc``
        (one row per seed): each method's mean with 95% CI bars.
    order : method names fixing the colours (:func:`method_palette`); the
        rounds take the colour of ``imp_label``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    names = list(order) if order is not None else ([imp_label] + ([] if others is None else list(dict.fromkeys(others["method"]))))
    palette = method_palette(names)
    sns.lineplot(data=rounds, x="density_pct", y="test_acc", errorbar=("ci", 95), seed=BOOTSTRAP_SEED, marker="o",
                 color=palette.get(imp_label, "tab:grey"), label="IMP rounds (mean, 95% CI; last = ticket)", ax=ax)
    if others is not None:
        shown = [n for n in names if n != imp_label and not others[others["method"] == n].empty]
        for i, name in enumerate(shown):
            part = others[others["method"] == name]
            m, lo, hi = _mean_ci(part["test_acc"])
            # dodge methods of equal density sideways (a few % on the log axis) so none hides another
            x = part["density_pct"].mean() * 10 ** (0.012 * (i - (len(shown) - 1) / 2))
            ax.errorbar([x], [m], yerr=[[m - lo], [hi - m]], fmt=_MARKERS[names.index(name) % len(_MARKERS)],
                        color=palette[name], markersize=8, markeredgecolor="black", capsize=4, label=name, zorder=3)
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis)
    ax.set_xlabel("density (% of the dense network's weights, log scale)")
    ax.set_ylabel("final test accuracy")
    _accuracy_limits(ax)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax
