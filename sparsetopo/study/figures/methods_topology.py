"""Figures of notebook ``06_methods`` (:mod:`sparsetopo.study.methods_topology`), drawn from its ``Result``.

:func:`figures` returns every figure by name: ``within_over_training``, ``method_matrix``, ``learning_curves``,
``explored_vs_accuracy`` and ``verdicts``. Figure code only reads numbers the study computed.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import verdicts as V
from . import grouped_points, interval_errors, method_palette, style

__all__ = ["figures"]

_VERDICT_COLOURS = {V.HOLDS: "tab:green", V.DOES_NOT_HOLD: "tab:red", V.INCONCLUSIVE: "tab:grey"}
_MARKERS = {"static": "s", "set": "o", "rigl": "^", "snip": "D", "gmp": "v"}
_KIND_TITLES = {"distance": "within-method distance (NNSTD)", "null": "closer than the degree-preserving null (NNSTD)",
                "rank": "explored-parameter rate against accuracy (Spearman's ρ)",
                "accuracy": "accuracy (last-5 mean test accuracy)"}


def _palette(r) -> dict:
    colours = method_palette(r.ORDER)
    return {m: colours[m] for m in r.params.methods}


def _budget(r) -> str:
    p = r.params
    data = "the whole training split" if p.train_samples is None else f"{p.train_samples:,} training samples"
    return f"{'-'.join(map(str, r.widths))}, ε = {p.epsilon:g}, {p.epochs} epochs on {data}, {p.n_seeds} seeds per method"


def _within_over_training(r):
    """One panel per sparse layer and one for their mean: each method's mean NNSTD between its runs against
    epoch (jackknife interval), the Erdős–Rényi null (grey) and each method's degree-preserving null (dotted)."""
    colours, methods = _palette(r), list(r.params.methods)
    layers = [str(k) for k in r.sparse] + ["mean"]
    fig, axes = plt.subplots(1, len(layers), figsize=(4.6 * len(layers), 4.4), sharey=True, squeeze=False)
    width = 0.012 * max(r.last, 1)
    offsets = dict(zip(methods, np.linspace(-1, 1, len(methods)) * width if len(methods) > 1 else [0.0]))
    for ax, layer in zip(axes[0], layers):
        part = r.intervals[r.intervals["layer"] == layer]
        for m in methods:
            s = part[part["series"] == m].sort_values("epoch")
            y = s["nnstd"].to_numpy()
            ax.errorbar(s["epoch"].to_numpy() + offsets[m], y, yerr=interval_errors(y, s["low"], s["high"]),
                        color=colours[m], marker=_MARKERS.get(m, "o"), markersize=5, capsize=2, linewidth=1.4,
                        label=f"{r.name(m)}: between its seeds")
            ax.axhline(r.degree_level(m, m, layer), color=colours[m], linestyle=":", linewidth=1.2)
        ax.axhline(r.er_level(layer), color="grey", linestyle="--", linewidth=1.4, label="Erdős–Rényi null")
        ax.plot([], [], color="black", linestyle=":", label="degree-preserving null (method's colour)")
        ax.set_title(f"layer {layer}" if layer != "mean" else "mean over sparse layers")
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("NNSTD between runs of one method (mean over pairs)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, bbox_to_anchor=(0.5, -0.14))
    fig.suptitle(f"Within-method NNSTD over training (95% jackknife interval over networks); nulls at epoch {r.last}. "
                 f"{_budget(r)}", fontsize=10)
    fig.tight_layout()
    return fig


def _method_matrix(r):
    """Method × method mean NNSTD at the last epoch (diagonal: within one method), and the degree-preserving
    null of each pair minus it (positive: closer than random graphs with their degrees)."""
    methods = list(r.params.methods)
    names = [r.name(m) for m in methods]
    mm = r.method_matrix[r.method_matrix["layer"] == "mean"].set_index(["a", "b"])["nnstd"]
    values = np.array([[mm[(a, b)] for b in methods] for a in methods])
    gap = np.array([[r.degree_level(a, b) - mm[(a, b)] for b in methods] for a in methods])
    fig, axes = plt.subplots(1, 2, figsize=(5.2 * 2 + 1.6, 0.7 * len(methods) + 3.2))
    for ax, data, title, cmap, lims in (
            (axes[0], values, f"mean NNSTD (over sparse layers), epoch {r.last}", "viridis", (0, max(1e-9, r.er_level()))),
            (axes[1], gap, "degree-preserving null minus mean NNSTD", "RdBu", (-np.abs(gap).max() - 1e-9,
                                                                                   np.abs(gap).max() + 1e-9))):
        image = ax.imshow(data, cmap=cmap, vmin=lims[0], vmax=lims[1])
        for i in range(len(methods)):
            for j in range(len(methods)):
                dark = data[i, j] < 0.6 * lims[1] if cmap == "viridis" else abs(data[i, j]) > 0.6 * lims[1]
                ax.text(j, i, f"{data[i, j]:.3f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels(names)
        ax.set_yticks(range(len(methods)))
        ax.set_yticklabels(names)
        ax.grid(False)
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(f"Between methods: every pair of runs at epoch {r.last}, averaged per pair of methods (diagonal: "
                 f"pairs of different seeds of one method). Erdős–Rényi null {r.er_level():.3f}", fontsize=10)
    fig.tight_layout()
    return fig


def _learning_curves(r):
    colours, methods = _palette(r), list(r.params.methods)
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1.6, 1]})
    for m in methods:
        for i, (_, part) in enumerate(r.frame[r.frame["method"] == m].groupby("label")):
            axes[0].plot(part["epoch"], part["test_acc"], color=colours[m], linewidth=0.9, alpha=0.75,
                         label=r.name(m) if i == 0 else None)
    axes[0].axvspan(r.last - r.K_LAST + 0.5, r.last + 0.5, color="grey", alpha=0.12, label=f"last {r.K_LAST} epochs")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("test accuracy")
    axes[0].set_ylim(max(0.0, float(r.frame["test_acc"].quantile(0.02)) - 0.02), 1.0)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_title("every run", fontsize=10)
    acc = r.accuracy.assign(name=r.accuracy["method"].map(r.name))
    grouped_points(acc, x="name", y="last5", order=[r.name(m) for m in methods], ax=axes[1], xlabel="",
                   ylabel=f"last-{r.K_LAST}-epoch mean test accuracy", title="every run (mean, 95% CI)")
    fig.suptitle(f"Test accuracy: {_budget(r)}", fontsize=10)
    fig.tight_layout()
    return fig


def _explored_vs_accuracy(r):
    colours = _palette(r)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for m in r.params.methods:
        part = r.accuracy[r.accuracy["method"] == m]
        ax.scatter(part["explored_rate"], part["last5"], color=colours[m], marker=_MARKERS.get(m, "o"), s=46,
                   edgecolor="black", linewidth=0.5, label=r.name(m), zorder=3)
    rank = [d for d in r.decided if d.kind == "rank"]
    title = "explored-parameter rate against accuracy, every run"
    if rank:
        v = rank[0].verdict
        title += f"\nSpearman's ρ = {v.estimate:.2f} [{v.low:.2f}, {v.high:.2f}] ({v.rule}, margin {v.margin:g}: {v.verdict})"
    ax.set_xlabel("explored-parameter rate (share of all weights ever active)")
    ax.set_ylabel(f"last-{r.K_LAST}-epoch mean test accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _verdicts(r):
    """Every decided difference with its interval, one panel per kind of claim, against its rule's margin
    (superiority: the line at +margin the interval must clear; non-inferiority: the line at -margin)."""
    kinds = [k for k in _KIND_TITLES if any(d.kind == k for d in r.decided)]
    if not kinds:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.text(0.5, 0.5, "no claim decided with these methods", ha="center", va="center")
        ax.axis("off")
        return fig
    counts = [sum(d.kind == k for d in r.decided) + 1.2 for k in kinds]
    fig, axes = plt.subplots(len(kinds), 1, figsize=(9, 0.45 * sum(counts) + 1.2 * len(kinds)), squeeze=False,
                             gridspec_kw={"height_ratios": counts})
    for ax, kind in zip(axes[:, 0], kinds):
        rows = [d for d in r.decided if d.kind == kind]
        for y, d in enumerate(rows):
            v = d.verdict
            edge = -v.margin if v.rule == "non-inferiority" else v.margin
            ax.plot([edge, edge], [y - 0.4, y + 0.4], color="tab:green", linewidth=2)
            low, high = (v.estimate if np.isnan(v.low) else v.low), (v.estimate if np.isnan(v.high) else v.high)
            ax.errorbar([v.estimate], [y], xerr=[[v.estimate - low], [high - v.estimate]], fmt="o",
                        color=_VERDICT_COLOURS[v.verdict], capsize=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{d.short} — {d.verdict.rule}: {d.verdict.verdict}" for d in rows], fontsize=8)
        ax.set_ylim(len(rows) - 0.4, -0.6)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_title(_KIND_TITLES[kind], fontsize=10)
    axes[-1, 0].set_xlabel("estimate with its interval; green line: the margin the rule compares with")
    fig.suptitle(f"Every verdict (green holds, red does not hold, grey inconclusive). {_budget(r)}", fontsize=10)
    fig.tight_layout()
    return fig


def figures(result) -> dict[str, Any]:
    """Every figure of notebook ``06_methods`` by name (closed in pyplot: show them with
    :func:`sparsetopo.study.notebook.show`, save them with ``Findings.save_figures``)."""
    style()
    out = {"within_over_training": _within_over_training(result), "method_matrix": _method_matrix(result),
           "learning_curves": _learning_curves(result), "explored_vs_accuracy": _explored_vs_accuracy(result),
           "verdicts": _verdicts(result)}
    for f in out.values():
        plt.close(f)
    return out
