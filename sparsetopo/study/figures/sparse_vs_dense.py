"""Figures of notebook ``02_sparse_vs_dense``: functions of a :class:`~sparsetopo.study.sparse_vs_dense.Result`
that return a :class:`matplotlib.figure.Figure` (not registered with pyplot, so nothing displays by itself)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import seaborn as sns
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import verdicts as V
from ..sparse_vs_dense import CLAIM_MATCH, DENSE, DROPOUT, K_LAST, Result, arm_order, full_rate_epochs
from . import style

__all__ = ["figures", "gap_figure", "seeds_figure", "curves_figure", "detail_curves_figure"]

_VERDICT_STYLE = {V.HOLDS: dict(fill=True, marker="o"), V.INCONCLUSIVE: dict(fill=False, marker="o"),
                  V.DOES_NOT_HOLD: dict(fill=True, marker="X")}


def _panel_title(result: Result, dataset: str) -> str:
    d = result.data.set_index("dataset").loc[dataset]
    return (f"{dataset}: {d['widths']}\n{d['train_used']} train samples, {d['repetitions']} reps, "
            f"{d['epochs']}/{d['static_epochs']} epochs")


def _dataset_panels(result: Result, *, height: float):
    """``(names, fig, axes)``: one panel per dataset, three to a row, unused panels switched off."""
    names = [s.name for s in result.settings]
    ncols = min(3, len(names))
    nrows = int(math.ceil(len(names) / ncols))
    fig = Figure(figsize=(4.6 * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return names, fig, axes


def gap_figure(result: Result) -> Figure:
    """The summary figure: static minus reference accuracy against the hidden layers' density, one panel per
    dataset."""
    p = result.params
    names, fig, axes = _dataset_panels(result, height=3.7)
    references = p.references
    colours = dict(zip((DENSE, DROPOUT), ("tab:blue", "tab:orange")))
    offsets = dict(zip((DENSE, DROPOUT), (0.95, 1.05))) if len(references) > 1 else {DENSE: 1.0}
    table = result.comparisons[result.comparisons["claim"] == CLAIM_MATCH]
    for ax, name in zip(axes.flat, names):
        part = table[table["dataset"] == name]
        margin = float(part["margin"].iloc[0])
        densities = sorted(part["density"].unique())
        ax.axhspan(-100 * margin, 100 * margin, color="grey", alpha=0.15, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axhline(-100 * margin, color="black", linewidth=0.8, linestyle="--")
        for reference in references:
            rows = part[part["reference"] == reference].sort_values("density")
            for r in rows.itertuples():
                style_ = _VERDICT_STYLE[r.verdict]
                x = r.density * offsets[reference]
                ax.errorbar([x], [100 * r.estimate], yerr=[[100 * (r.estimate - r.low)], [100 * (r.high - r.estimate)]],
                            color=colours[reference], marker=style_["marker"], markersize=7, capsize=3,
                            markerfacecolor=colours[reference] if style_["fill"] else "white", linestyle="none")
                ax.annotate(r.arm.replace("static ", ""), (x, 100 * r.high), textcoords="offset points",
                            xytext=(0, 4), ha="center", fontsize=7)
            ax.plot(rows["density"] * offsets[reference], 100 * rows["estimate"], color=colours[reference],
                    linewidth=0.8, alpha=0.6)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.FixedLocator(densities))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{100 * v:.2g}%"))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.set_xlim(densities[0] * 0.6, densities[-1] * 1.6)
        ax.set_title(_panel_title(result, name), fontsize=9)
        ax.set_xlabel("density of the hidden layers")
        ax.set_ylabel("static − reference (points)")
    handles = [Line2D([], [], color=colours[r], marker="o", linestyle="none", label=f"vs {r}") for r in references]
    handles += [Line2D([], [], color="black", marker=s["marker"], markerfacecolor="black" if s["fill"] else "white",
                       linestyle="none", label=w) for w, s in _VERDICT_STYLE.items()]
    handles += [Line2D([], [], color="black", linestyle="--", label="−margin")]
    fig.suptitle(f"Static sparse minus reference accuracy (mean of the last {K_LAST} epochs; bars: "
                 f"{100 * result.level:.4g}% Welch intervals, Bonferroni over datasets x static arms)", fontsize=10)
    fig.tight_layout()
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=9, frameon=False)
    return fig


def curves_figure(result: Result) -> Figure:
    """Mean test accuracy per epoch of every arm, one panel per dataset (y zoomed on the last half)."""
    names, fig, axes = _dataset_panels(result, height=3.6)
    density = dict(zip(result.arms["arm"], result.arms["density"]))
    arms = arm_order(result.curves["arm"], density)
    palette = dict(zip(arms, sns.color_palette("tab10", len(arms))))
    schedule = result.params.lr_schedule
    for ax, name in zip(axes.flat, names):
        part = result.curves[result.curves["dataset"] == name]
        setting = next(s for s in result.settings if s.name == name)
        for epochs in sorted({setting.epochs, setting.static_epochs}):
            full = full_rate_epochs(schedule, epochs)
            if full < epochs:
                ax.axvline(full + 0.5, color="grey", linestyle=":", linewidth=1)
        mean = part.groupby(["arm", "epoch"])["test_acc"].mean().reset_index()
        for arm in arms:
            m = mean[mean["arm"] == arm]
            ax.plot(m["epoch"], m["test_acc"], color=palette[arm], linestyle="--" if arm in (DENSE, DROPOUT) else "-",
                    label=arm, linewidth=1.4)
        late = mean[mean["epoch"] >= mean["epoch"].max() / 4]["test_acc"]
        spread = max(float(late.max() - late.min()), 0.01)
        ax.set_ylim(float(late.min()) - 0.3 * spread, min(1.0, float(late.max()) + 0.3 * spread))
        ax.set_title(_panel_title(result, name), fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (mean over runs)")
    fig.tight_layout()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=9,
               frameon=False)
    return fig


def seeds_figure(result: Result) -> Figure:
    """Accuracy of every run (dots) with the arm's mean and 95% interval, one panel per dataset."""
    names, fig, axes = _dataset_panels(result, height=3.6)
    short = {DENSE: "dense", DROPOUT: "dense\n+dropout"}
    for ax, name in zip(axes.flat, names):
        arms = result.arms[result.arms["dataset"] == name].reset_index(drop=True)
        runs = result.runs[result.runs["dataset"] == name]
        for i, a in arms.iterrows():
            acc = runs[runs["arm"] == a["arm"]]["acc"].to_numpy()
            jitter = np.linspace(-0.15, 0.15, len(acc))
            ax.scatter(i + jitter, 100 * acc, s=14, color="grey", alpha=0.8, zorder=2)
            ax.errorbar([i], [100 * a["acc_mean"]], yerr=[[100 * (a["acc_mean"] - a["acc_low"])],
                                                          [100 * (a["acc_high"] - a["acc_mean"])]],
                        color="black", marker="_", markersize=18, capsize=4, zorder=3)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels([short.get(a, a.replace("static ", "")) for a in arms["arm"]], fontsize=8)
        low, high = ax.get_ylim()
        ax.set_ylim(max(low, 0.0), min(high, 100.5))
        ax.set_title(_panel_title(result, name), fontsize=9)
        ax.set_ylabel(f"test accuracy, last {K_LAST} epochs (%)")
    fig.tight_layout()
    return fig


def detail_curves_figure(result: Result) -> Figure:
    """Per-seed learning curves on the detail dataset (``params.dataset``), one panel per arm."""
    name = result.params.detail_dataset
    part = result.curves[result.curves["dataset"] == name]
    arms = arm_order(part["arm"], dict(zip(result.arms["arm"], result.arms["density"])))
    fig = Figure(figsize=(3.0 * len(arms), 3.2))
    axes = fig.subplots(1, len(arms), sharey=True, squeeze=False)
    late = part[part["epoch"] >= part["epoch"].max() / 3]["test_acc"]
    for ax, arm in zip(axes.flat, arms):
        for seed, c in part[part["arm"] == arm].groupby("seed"):
            ax.plot(c["epoch"], c["test_acc"], linewidth=1, label=f"rep. seed {seed}")
        ax.set_title(arm, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(float(late.min()) - 0.005, min(1.0, float(late.max()) + 0.005))
    axes.flat[0].set_ylabel("test accuracy")
    fig.suptitle(_panel_title(result, name).replace("\n", ", "), fontsize=10)
    fig.tight_layout()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=8,
               frameon=False)
    return fig


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``02_sparse_vs_dense`` by name: ``gap_vs_density`` (the summary across
    datasets), ``accuracy_per_seed``, ``learning_curves``, ``learning_curves_detail``."""
    style()
    return {"gap_vs_density": gap_figure(result), "accuracy_per_seed": seeds_figure(result),
            "learning_curves": curves_figure(result), "learning_curves_detail": detail_curves_figure(result)}
