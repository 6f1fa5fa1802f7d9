"""Figures of notebook ``04_lottery_tickets``: functions of a :class:`~sparsetopo.study.lottery_tickets.Result`."""

from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ...stats import mean_ci
from ..lottery_tickets import SET_RUN, Result, arm_order
from ..verdicts import network_bootstrap_ci
from . import BOOTSTRAP_SEED, block_heatmap, distance_vs_baseline, embedding_scatter, imp_trajectory, method_palette, style

__all__ = ["figures", "set_ceiling", "imp_rounds", "learning_curves", "accuracy_vs_cost", "set_cost",
           "relative_distance", "nnstd_matrix", "nnstd_embedding"]

_MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*", "<", ">"]
#: (colour, line style) of the dense network's accuracy at each of its budgets, shortest first.
_DENSE_STYLES = [("black", "--"), ("dimgrey", "-."), ("grey", ":"), ("darkgrey", (0, (5, 1)))]


def figures(result: Result) -> dict[str, Figure]:
    """Every figure of the notebook by name, in the order it shows them (closed in pyplot: show them with
    :func:`sparsetopo.study.notebook.show`)."""
    style()
    out = {name: draw(result) for name, draw in (
        ("set_ceiling", set_ceiling), ("imp_rounds", imp_rounds), ("learning_curves", learning_curves),
        ("accuracy_vs_cost", accuracy_vs_cost), ("set_cost", set_cost), ("relative_distance", relative_distance),
        ("nnstd_matrix", nnstd_matrix), ("nnstd_embedding", nnstd_embedding))}
    for fig in out.values():
        plt.close(fig)
    return out


def set_ceiling(r: Result) -> Figure:
    """SET's test accuracy per epoch (its whole run) against the dense network's accuracy at each of its budgets
    (mean over seeds, 95% CI band), SET's budgets marked."""
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    palette = method_palette(arm_order(r.runs))
    colour = palette[r.imp_equal_arm]
    sns.lineplot(data=r.curves[r.curves["arm"] == SET_RUN], x="epoch", y="test_acc", errorbar=("ci", 95),
                 color=colour, label="SET at the ticket's size", ax=ax, seed=BOOTSTRAP_SEED)
    lows, highs = [], []
    for (b, arm), (shade, dashes) in zip(sorted(r.dense_budgets.items()), itertools.cycle(_DENSE_STYLES)):
        m, lo, hi = mean_ci(r.runs[r.runs["arm"] == arm]["acc"].to_numpy())
        ax.axhline(m, color=shade, linestyle=dashes, linewidth=1, label=f"dense, {b} epochs ({m:.4f})")
        ax.axhspan(lo, hi, color=shade, alpha=0.08, linewidth=0)
        lows.append(lo)
        highs.append(hi)
    for b, arm in r.budgets.items():
        ax.axvline(b, color="grey", linestyle=":", linewidth=1)
        ax.text(b, 1.0, f" {arm.removeprefix('SET, ')}", transform=ax.get_xaxis_transform(), rotation=90,
                va="top", ha="right", fontsize=7, color="grey", zorder=5,
                bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=0.5))
    ax.set_xscale("log")
    ax.set_xlabel("epoch of the SET run (log scale)")
    ax.set_ylabel("test accuracy (mean over seeds, 95% CI)")
    part = r.curves[(r.curves["arm"] == SET_RUN) & (r.curves["epoch"] >= 2)]["test_acc"]
    ax.set_ylim(float(min(part.quantile(0.02), *lows)) - 0.01, float(max(part.max(), *highs)) + 0.01)
    ax.set_title(f"{r.params.dataset}: SET's ceiling against the dense network")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def imp_rounds(r: Result) -> Figure:
    """Accuracy of every IMP round against density, with the arms at the ticket's size (equal epochs) as points."""
    p = r.params
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    rounds = r.rounds.rename(columns={"acc": "test_acc"})
    others = r.runs[r.runs["arm"].isin(["dense", "ticket mask, re-init", "random static", r.equal_epochs_arm])]
    others = others.rename(columns={"arm": "method", "acc": "test_acc"})
    imp_trajectory(rounds, others, order=arm_order(r.runs), ax=ax,
                   title=f"{p.dataset}: IMP rounds and the arms at the ticket's size, {p.epochs} epochs each")
    ax.set_ylabel("test accuracy (mean of the last 5 epochs)")
    return fig


def learning_curves(r: Result) -> Figure:
    """Test accuracy per epoch, one panel per arm at the ticket's size, each beside the dense network."""
    arms = ["IMP ticket", "ticket mask, re-init", "random static", r.equal_epochs_arm]
    fig, axes = plt.subplots(1, len(arms), figsize=(4 * len(arms), 4), sharey=True)
    palette = method_palette(arm_order(r.runs))
    dense = r.curves[r.curves["arm"] == "dense"]
    curves = r.curves[r.curves["epoch"] <= r.params.epochs]
    for ax, arm in zip(axes, arms):
        sns.lineplot(data=dense, x="epoch", y="test_acc", errorbar=("ci", 95), color="black", linestyle="--",
                     label="dense", ax=ax, seed=BOOTSTRAP_SEED)
        source = SET_RUN if arm == r.equal_epochs_arm else arm
        sns.lineplot(data=curves[curves["arm"] == source], x="epoch", y="test_acc", errorbar=("ci", 95),
                     color=palette[arm], label=arm, ax=ax, seed=BOOTSTRAP_SEED)
        ax.set_title(arm, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("test accuracy (mean over seeds, 95% CI)")
    lo = float(curves[curves["epoch"] >= 2]["test_acc"].quantile(0.02))
    axes[0].set_ylim(lo - 0.01, float(curves["test_acc"].max()) + 0.01)
    fig.tight_layout()
    return fig


def accuracy_vs_cost(r: Result) -> Figure:
    """Accuracy of every arm against the training MACs spent to obtain it (the ticket: its whole search)."""
    order = arm_order(r.runs)
    palette = method_palette(order)
    fig, ax = plt.subplots(figsize=(8.5, 5))
    # arms sharing a MAC value (random static and SET at equal epochs) are dodged sideways
    xs = {a: float(r.runs.loc[r.runs["arm"] == a, "macs_to_obtain"].mean()) for a in order}
    groups: dict[float, list[str]] = {}
    for a in order:
        groups.setdefault(round(math.log10(xs[a]), 2), []).append(a)
    for a in order:
        part = r.runs[r.runs["arm"] == a]
        same = groups[round(math.log10(xs[a]), 2)]
        f = 10 ** (0.03 * (same.index(a) - (len(same) - 1) / 2))
        m, lo, hi = mean_ci(part["acc"].to_numpy())
        ax.scatter(part["macs_to_obtain"] * f, part["acc"], color=palette[a], alpha=0.35, s=16, zorder=2)
        ax.errorbar([xs[a] * f], [m], yerr=[[m - lo], [hi - m]], fmt=_MARKERS[order.index(a) % len(_MARKERS)],
                    color=palette[a], markeredgecolor="black", markersize=8, capsize=4, label=a, zorder=3)
    ax.axvline(r.imp_macs, color="grey", linestyle=":", label="MACs of one IMP search")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # labels far enough apart to read
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.0e}".replace("e+", "e")))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training MACs to obtain the network (log scale; ticket and re-init: plus the whole search)")
    ax.set_ylabel("test accuracy (mean of the last 5 epochs)")
    ax.set_title(f"{r.params.dataset}: accuracy against training cost at the ticket's size")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: no marker hidden
    fig.tight_layout()
    return fig


def set_cost(r: Result) -> Figure:
    """SET's learning curve against the MACs spent, with the targets, where seeds reach them and the cost of one
    search."""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    palette = method_palette(arm_order(r.runs))
    curve = r.curves[r.curves["arm"] == SET_RUN]
    sns.lineplot(data=curve, x="macs", y="test_acc", errorbar=None, color=palette[r.imp_equal_arm],
                 label="SET run (mean over seeds)", ax=ax)
    for target, linestyle in (("dense", "--"), ("ticket", "-.")):
        acc = float(r.reach.loc[r.reach["target"] == target, "target_acc"].iloc[0])
        ax.axhline(acc, color="black", linestyle=linestyle, linewidth=1,
                   label=f"target: {target} accuracy minus the margin ({acc:.4f})")
    ax.axvline(r.imp_macs, color="grey", linestyle=":", label="MACs of one IMP search")
    got = r.reach[r.reach["reached"]]
    for target, marker in (("dense", "o"), ("ticket", "s")):
        part = got[got["target"] == target]
        if len(part):
            ax.scatter(part["macs"], part["target_acc"], marker=marker, facecolor="none", edgecolor="black", s=50,
                       zorder=4, label=f"a seed first reaches the {target} target")
    ax.set_xscale("log")
    ax.set_xlabel("training MACs of the SET run so far (log scale)")
    ax.set_ylabel("test accuracy (mean over seeds)")
    lo = float(curve[curve["epoch"] >= 3]["test_acc"].min())
    ax.set_ylim(lo - 0.005, float(r.curves["test_acc"].max()) + 0.01)
    ax.set_title("SET's learning curve against cost, with the targets and the cost of IMP")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def relative_distance(r: Result) -> Figure:
    """Mean NNSTD over the degree-preserving null of tickets, SET networks and the published networks."""
    d, p = r.distances, r.params
    rows = []
    for name, matrix in (("tickets", d.relative("IMP ticket")), ("SET networks", d.relative("SET"))):
        ci = network_bootstrap_ci(matrix, n_boot=p.n_boot, seed=BOOTSTRAP_SEED)
        rows.append((name, ci.estimate, ci.low, ci.high))
    if r.published is not None:
        ci = r.published.interval
        rows.append((f"published (epoch {r.published.epoch})", ci.estimate, ci.low, ci.high))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    palette = method_palette(arm_order(r.runs))
    colours = [palette["IMP ticket"], palette[r.imp_equal_arm], "grey"]
    for i, (_, m, lo, hi) in enumerate(rows):
        ax.bar(i, m, color=colours[i], alpha=0.8)
        if not (math.isnan(lo) or math.isnan(hi)):
            ax.errorbar([i], [m], yerr=[[m - lo], [hi - m]], color="black", capsize=5)
    if r.published is not None:
        ax.axhline(r.published.interval.estimate - p.topology_margin, color="black", linestyle="--", linewidth=1,
                   label=f"published minus the margin ({p.topology_margin:g})")
        ax.legend(fontsize=8, loc="lower right")
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(rows)), [row[0] for row in rows])
    ax.set_ylabel("mean NNSTD / degree-preserving null")
    ax.set_title("How far apart, relative to random graphs with the same degrees")
    fig.tight_layout()
    return fig


def nnstd_matrix(r: Result) -> Figure:
    """NNSTD between every two networks in blocks, and each block's mean against the random baseline."""
    d = r.distances
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.3), gridspec_kw={"width_ratios": [1.25, 1]})
    block_heatmap(d.matrix.mean, d.groups, labels=d.matrix.labels, ax=axes[0], title="NNSTD between networks",
                  cbar_label="NNSTD (mean over layers)")
    bars = d.blocks.drop(columns=["nnstd_min", "nnstd_max"]).rename(columns={"ci_low": "nnstd_min", "ci_high": "nnstd_max"})
    distance_vs_baseline(bars, x="block", logx=False, ax=axes[1], xlabel="pair of groups",
                         label="mean over pairs (bars: 95% CI, bootstrap over networks)",
                         title="block means vs random topologies")
    fig.tight_layout()
    return fig


def nnstd_embedding(r: Result) -> Figure:
    """Metric MDS of the NNSTD matrix, coloured as the other figures colour the groups."""
    d = r.distances
    fig, ax = plt.subplots(figsize=(7, 6))
    arms = method_palette(arm_order(r.runs))
    colours = {"IMP ticket": arms.get("IMP ticket"), "random static": arms.get("random static"),
               "SET": arms[r.imp_equal_arm]}
    embedding_scatter(d.coords, d.groups, labels=[f"s{s}" for s in d.seeds], ax=ax,
                      order=["IMP ticket", "SET", "random static"],
                      palette={k: v for k, v in colours.items() if v is not None},
                      title=f"MDS of the NNSTD matrix (Erdős–Rényi baseline: {d.baseline.mean:.3f})")
    return fig
