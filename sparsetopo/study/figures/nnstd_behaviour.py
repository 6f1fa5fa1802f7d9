"""Figures of notebook ``01_nnstd`` (:mod:`sparsetopo.study.nnstd_behaviour`): functions of its ``Result``."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ...stats import mean_ci
from . import cost_matrices, distance_heatmap, heatmap_grid, nnstd_example_graphs, panels_with_baseline

__all__ = ["figures"]


def _bands(ax, frame: pd.DataFrame, x: str, lo: str, hi: str, y: str, label: str, color: str) -> None:
    ax.plot(frame[x], frame[y], marker="o", color=color, label=label)
    ax.fill_between(frame[x], frame[lo], frame[hi], color=color, alpha=0.25, linewidth=0)


def _chain_summary(chains: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (layer, pos), part in chains.groupby(["layer", "position"], sort=False):
        m, lo, hi = mean_ci(part["nnstd_to_start"].to_numpy())
        rows.append({"layer": layer, "position": int(pos), "mean": m, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def _epoch_label(epoch: int, first: int) -> str:
    return f"epoch {epoch} (first saved snapshot)" if epoch == first else f"epoch {epoch}"


def perturbation_chain(result) -> plt.Figure:
    """The first chain's pairwise matrix, and the distance to the start along every chain."""
    p = result.params
    n_chains = int(result.chains["chain"].nunique())
    summary = _chain_summary(result.chains)
    base = result.baseline.set_index("layer")
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    distance_heatmap(result.chain_network(), ax=axes[0], vmax=None,
                     title="NNSTD between the networks of the first chain", cbar_label="NNSTD (sparse layers)")
    axes[0].set_xlabel("chain position")
    axes[0].set_ylabel("chain position")
    axes[0].xaxis.set_major_locator(MaxNLocator(11, integer=True))
    axes[0].yaxis.set_major_locator(MaxNLocator(11, integer=True))
    net = summary[summary["layer"] == "mean"]
    _bands(axes[1], net, "position", "ci_low", "ci_high", "mean", f"mean, 95% CI over {n_chains} chains", "C0")
    axes[1].axhline(base.loc["mean", "baseline"], color="black", linestyle="--", label="random topologies (Erdős–Rényi)")
    axes[1].axhline(result.baseline_degree.set_index("layer").loc["mean", "baseline"], color="black", linestyle=":",
                    label="random, same degree sequences")
    noise = result.tie_noise_of("1% chain, first to last")
    axes[1].errorbar([net["position"].max()], [net["mean"].iloc[-1]], yerr=[[0], [noise]], color="C3", capsize=4,
                     label=f"tie noise at the last step ({noise:.3f})")
    axes[1].set_xlabel(f"steps since the start (each moves {p.chain_fraction:.0%} of the edges)")
    axes[1].set_ylabel("NNSTD to the start (mean over sparse layers)")
    axes[1].set_title("Network distance along the chains")
    axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[1].legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig


def perturbation_chain_layers(result) -> plt.Figure:
    """Distance to the start along the chains, one panel per sparse layer and one for the network."""
    p, names = result.params, result.layer_names()
    n_chains = int(result.chains["chain"].nunique())
    summary = _chain_summary(result.chains)
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
    return fig


def rewired_fraction_sweep(result) -> plt.Figure:
    """NNSTD to the original against the fraction of edges moved, with the random baseline."""
    p, names = result.params, result.layer_names()
    panel_titles = {key: names[key] for key in [str(k) for k in result.layers] + ["mean"]}
    sweep = result.sweep
    fig = panels_with_baseline(
        sweep[sweep["layer"].isin(panel_titles)], x="rewired_percent", y="nnstd", panel="layer",
        baseline=result.baseline, panel_titles=panel_titles, xlabel="edges moved (%)",
        ylabel="NNSTD to the original", baseline_label="random topologies (Erdős–Rényi)",
        suptitle=f"NNSTD after moving a fraction of the edges (mean, 95% CI over {p.sweep_repeats} rewirings); "
                 f"dashed: Erdős–Rényi, dotted: same degree sequences ({p.baseline_pairs} pairs each)")
    degree = result.baseline_degree.set_index("layer")
    for ax, layer in zip(fig.axes, panel_titles):
        ax.axhline(degree.loc[layer, "baseline"], color="black", linestyle=":", linewidth=1.2)
    return fig


def published_over_epochs(result) -> plt.Figure:
    """Mean pairwise NNSTD of the published networks over their saved epochs, per layer and for the network."""
    p, pub = result.params, result.published
    first = pub.epochs[0]
    titles = {**{str(k): f"layer {k}" for k in pub.layers}, "mean": "network (mean over sparse layers)"}
    fig, axes = plt.subplots(1, len(titles), figsize=(4.3 * len(titles), 3.6), sharey=True, squeeze=False)
    base, degree = pub.baseline.set_index("layer"), pub.degree_baseline.set_index("layer")
    for ax, (layer, title) in zip(axes[0], titles.items()):
        part = pub.summary[pub.summary["layer"] == layer].sort_values("epoch")
        _bands(ax, part, "epoch", "ci_low", "ci_high", "mean", "mean pair, 95% CI (bootstrap over networks)", "C0")
        ax.fill_between(part["epoch"], part["min"], part["max"], color="C0", alpha=0.08, linewidth=0,
                        label="closest to farthest pair")
        ax.axhline(base.loc[layer, "baseline"], color="black", linestyle="--", label="random (Erdős–Rényi)")
        ax.axhline(degree.loc[layer, "baseline"], color="black", linestyle=":",
                   label="random, same degree sequences (the reference)")
        ax.set_title(title)
        ax.set_xlabel(f"training epoch ({first} = first saved snapshot)")
    axes[0][0].set_ylabel("NNSTD between published networks")
    handles, labels = axes[0][0].get_legend_handles_labels()
    n_pairs = p.published_runs * (p.published_runs - 1) // 2
    fig.suptitle(f"Pairwise NNSTD of {p.published_runs} published networks over training ({n_pairs} pairs per epoch)")
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=9,
               frameon=False)
    return fig


def nnstd_vs_edge_sets(result) -> plt.Figure:
    """NNSTD beside the edge-set distance (no neuron matching) along the chains, the sweep and the published runs."""
    frame = result.edge_sets
    panels = [("chain", "steps since the start (1% each)", "1% perturbation chains (mean over chains)"),
              ("sweep", "edges moved (%)", "rewired copies (mean over rewirings)"),
              ("published", "training epoch", "published networks (mean over pairs)")]
    panels = [p for p in panels if (frame["comparison"] == p[0]).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), sharey=True, squeeze=False)
    random = frame[frame["comparison"] == "random pairs"].iloc[0]
    for ax, (name, xlabel, title) in zip(axes[0], panels):
        part = frame[frame["comparison"] == name].sort_values("x")
        ax.plot(part["x"], part["nnstd"], marker="o", color="C0", label="NNSTD (neurons matched)")
        ax.plot(part["x"], part["edge_set"], marker="s", color="C1", label="edge-set distance (no matching)")
        if name != "published":
            ax.axhline(random["nnstd"], color="C0", linestyle="--", linewidth=1, label="random pairs, NNSTD")
            ax.axhline(random["edge_set"], color="C1", linestyle="--", linewidth=1, label="random pairs, edge sets")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("distance (mean over sparse layers)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle("What the neuron matching adds: NNSTD against the Jaccard distance of the edge sets")
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=9,
               frameon=False)
    return fig


def figures(result) -> dict[str, Any]:
    """Every figure of notebook ``01_nnstd``, by the name it is saved under (closed in pyplot).

    Names: ``worked_example_networks``, ``worked_example_costs``, ``perturbation_chain``,
    ``perturbation_chain_layers``, ``rewired_fraction_sweep``, ``nnstd_vs_edge_sets`` and, when the published topologies
    were compared, ``published_heatmaps``, ``published_layers``, ``published_over_epochs``.
    """
    ex = result.example
    out: dict[str, Any] = {
        "worked_example_networks": nnstd_example_graphs(ex.first, ex.second, ex.matchings),
        "worked_example_costs": cost_matrices(ex.costs, ex.matchings),
        "perturbation_chain": perturbation_chain(result),
        "perturbation_chain_layers": perturbation_chain_layers(result),
        "rewired_fraction_sweep": rewired_fraction_sweep(result),
        "nnstd_vs_edge_sets": nnstd_vs_edge_sets(result),
    }
    pub = result.published
    if pub is not None:
        first = pub.epochs[0]
        labels = pub.matrices[first].labels
        out["published_heatmaps"] = heatmap_grid(
            [pub.network(e) for e in pub.epochs], [_epoch_label(e, first) for e in pub.epochs], labels,
            vmax=float(pub.degree_baseline.set_index("layer").loc["mean", "baseline"]), ncols=min(3, len(pub.epochs)),
            suptitle=f"NNSTD (mean over the sparse layers) between {result.params.published_runs} published networks; "
                     "colour scale from 0 to the degree-preserving random baseline")
        out["published_layers"] = heatmap_grid(
            [pub.matrices[e].layers[k] for e in pub.ends for k in pub.layers],
            [f"{_epoch_label(e, first)}, layer {k}" for e in pub.ends for k in pub.layers], labels,
            vmax=max(float(pub.degree_baseline.set_index("layer").loc[str(k), "baseline"]) for k in pub.layers),
            ncols=len(pub.layers),
            suptitle="NNSTD per layer between the published networks, first saved snapshot and last epoch; colour "
                     "scale from 0 to the largest layer's degree-preserving random baseline")
        out["published_over_epochs"] = published_over_epochs(result)
    for fig in out.values():
        plt.close(fig)
    return out
