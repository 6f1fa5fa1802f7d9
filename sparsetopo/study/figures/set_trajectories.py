"""Figures of notebook ``03_evolution`` (:mod:`sparsetopo.study.set_trajectories`), drawn from its ``Result``.

:func:`figures` returns every figure by name: ``between_runs``, ``heatmaps``, ``verdicts``, ``accuracy``,
``distance_to_start``, ``topology_panel``, ``panel_verdicts``, with several chains ``trajectory``, with the static or
dense arm ``arms`` and, with the sampler ablation, ``regrowth_sampler``. Figure code only reads numbers
the study computed; the series names and the last-k window come with the result.
"""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .. import verdicts as V
from ..common import baseline_value, layer_matrix
from . import grouped_points, heatmap_grid, interval_errors, style

__all__ = ["figures"]

_STYLE = {
    "published": dict(color="black", marker="s", linestyle="-"),
    "b": dict(color="tab:blue", marker="o", linestyle="-"),
    "a": dict(color="tab:orange", marker="^", linestyle="--"),
    "c": dict(color="tab:green", marker="D", linestyle=":"),
    "b, rejection regrowth": dict(color="tab:purple", marker="v", linestyle="-."),
    "b, choice regrowth": dict(color="tab:purple", marker="v", linestyle="-."),
}
#: Colours of the chains (whole-trajectory figure) and of the arms (SET is setting c).
_CHAIN_COLOURS = ("tab:blue", "tab:cyan", "tab:olive", "tab:brown", "tab:pink")
_ARM_STYLE = {"SET": dict(color="tab:green", linestyle="-"), "static": dict(color="tab:orange", linestyle="--"),
              "dense": dict(color="tab:red", linestyle=":")}
_VERDICT_COLOURS = {V.HOLDS: "tab:green", V.DOES_NOT_HOLD: "tab:red", V.INCONCLUSIVE: "tab:grey"}
#: Colour of an interval that two rules decided differently (drawn once, both verdicts in its label).
_MIXED = "black"


def _budget(p) -> str:
    data = "the whole training split" if p.train_samples is None else f"{p.train_samples:,} training samples"
    if p.accuracy_budget == p.epochs:
        return f"{p.epochs} epochs on {data}"
    return f"chain {p.epochs} epochs, settings a and c {p.accuracy_budget} epochs, on {data}"


def _series_label(r, series: str) -> str:
    return "published (200 epochs, full data)" if series == r.PUBLISHED else f"ours, {r.series_name(series)}"


def _titles(r) -> dict[str, str]:
    return {**{str(k): f"layer {k}" for k in r.sparse}, "mean": "mean over sparse layers"}


def _dodged(ax, r, frame: pd.DataFrame, series: Sequence[str], width: float) -> None:
    """Mean and interval per series against epoch, each series shifted by a fraction of ``width``."""
    offsets = np.linspace(-1, 1, len(series)) * width if len(series) > 1 else [0.0]
    for s, dx in zip(series, offsets):
        part = frame[frame["series"] == s].sort_values("epoch")
        if part.empty:
            continue
        st = _STYLE[s]
        y = part["nnstd"].to_numpy()
        ax.errorbar(part["epoch"].to_numpy() + dx, y, yerr=interval_errors(y, part["low"], part["high"]),
                    color=st["color"], marker=st["marker"], linestyle=st["linestyle"], markersize=5, capsize=2,
                    linewidth=1.4, label=_series_label(r, s))


def _layer_panels(r, frame: pd.DataFrame, series: Sequence[str], *, width: float, height: float, ylabel: str,
                  baseline_label: str, published_extras: bool = False):
    """One panel per sparse layer and one for their mean: ``frame`` (series, epoch, layer, nnstd, low, high)
    dodged, the random baseline, and with ``published_extras`` the published edge counts' baseline and the
    last common epoch."""
    layers = [str(k) for k in r.sparse] + ["mean"]
    fig, axes = plt.subplots(1, len(layers), figsize=(4.6 * len(layers), height), sharey=True, squeeze=False)
    for ax, layer in zip(axes[0], layers):
        _dodged(ax, r, frame[frame["layer"] == layer], series, width=width)
        ax.axhline(baseline_value(r.baseline, layer, r.sparse), color="grey", linestyle="--", linewidth=1.2,
                   label=baseline_label)
        if published_extras and r.published is not None:
            ax.axhline(baseline_value(r.published.baseline, layer, r.sparse), color="black", linestyle=":",
                       linewidth=1.2, label="random baseline (published edge counts)")
        if published_extras:
            ax.axvline(r.last_common, color="crimson", linewidth=0.8, alpha=0.6)
        ax.set_title(_titles(r)[layer])
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel(ylabel)
    return fig, axes


def _between_runs(r, frame: pd.DataFrame, series: Sequence[str], title: str, *, height: float, ncol: int,
                  legend_y: float, published_extras: bool):
    xmax = max(r.intervals["epoch"].max(), 1)
    fig, axes = _layer_panels(r, frame, series, width=0.012 * xmax, height=height,
                              ylabel="NNSTD between runs (mean over pairs)",
                              baseline_label="random baseline (our edge counts)", published_extras=published_extras)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, bbox_to_anchor=(0.5, legend_y))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _heatmaps(r):
    p = r.params
    shown = list(p.heatmap_epochs) if p.heatmap_epochs else sorted({min(r.epochs), r.epochs[len(r.epochs) // 2],
                                                                      r.last_common})
    shown = [e for e in shown if ("b", e) in r.matrices]
    mats = [layer_matrix(r.matrices[("b", e)], "mean", r.sparse) for e in shown]
    names = [f"ours (chain), epoch {e}" for e in shown]
    if r.published is not None:
        for e in shown:
            if (r.PUBLISHED, e) in r.published.matrices:
                mats.append(layer_matrix(r.published.matrices[(r.PUBLISHED, e)], "mean", r.sparse))
                names.append(f"published, epoch {e}" + (" (first saved snapshot)" if e == 0 else ""))
    n = len(r.experiment.settings["b"])
    return heatmap_grid(mats, names, [str(i) for i in range(n)], ncols=len(shown),
                        vmax=float(np.mean([baseline_value(r.baseline, str(k), r.sparse) for k in r.sparse])),
                        suptitle="NNSTD (mean over sparse layers) between the chain's networks, by chain position; "
                                 "colour scale ends at the random baseline")


def _verdicts(r):
    """Each decided interval once: rows that two rules decide on the same interval (equivalence and
    non-inferiority of one difference) share one point, coloured by the verdict when both agree and black
    when they differ, with every rule's verdict in the row's label."""
    p = r.params
    kinds = [k for k in ("distance", "accuracy") if any(d.kind == k for d in r.decided)]
    rows = {}
    for kind in kinds:
        groups: dict[tuple, list] = {}
        for d in r.decided:
            if d.kind == kind:
                v = d.verdict
                groups.setdefault((d.short or d.claim, v.estimate, v.low, v.high), []).append(d)
        rows[kind] = list(groups.items())
    heights = [len(rows[k]) + 1.2 for k in kinds]
    fig, axes = plt.subplots(len(kinds), 1, figsize=(9, 0.45 * sum(heights) + 1.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, kind in zip(axes[:, 0], kinds):
        m = rows[kind][0][1][0].verdict.margin
        ax.axvspan(-m, m, color="tab:green", alpha=0.1)
        ax.axvline(0, color="black", linewidth=0.8)
        labels = []
        for y, ((short, estimate, low, high), decided) in enumerate(rows[kind]):
            words = {d.verdict.verdict for d in decided}
            colour = _VERDICT_COLOURS[words.pop()] if len(words) == 1 else _MIXED
            ax.errorbar([estimate], [y], xerr=[[estimate - low], [high - estimate]], fmt="o", color=colour, capsize=3)
            labels.append(f"{short} — " + ", ".join(f"{d.verdict.rule}: {d.verdict.verdict}" for d in decided))
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_ylim(len(labels) - 0.4, -0.6)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        unit = "NNSTD" if kind == "distance" else f"test accuracy (last-{p.plateau_window} mean)"
        ax.set_xlabel(f"difference in {unit}; shaded: ±margin {m:g}", fontsize=9)
        data = "the whole training split" if p.train_samples is None else f"{p.train_samples:,} training samples"
        ax.set_title(f"{kind} claims" + (f" (ours: {_budget(p)})" if kind == "distance" else
                                         f" (every setting at epoch {p.accuracy_budget}, on {data})"), fontsize=10)
    fig.tight_layout()
    return fig


def _accuracy(r):
    p, order = r.params, list(r.experiment.settings)
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.2), gridspec_kw={"width_ratios": [1, 1, 1, 0.9]})
    last = int(r.frame["epoch"].max())
    pub_acc = None
    if r.published is not None and len(r.published.accuracy):
        pub_acc = r.published.accuracy[r.published.accuracy["epoch"] <= last]
    for ax, key in zip(axes[:3], order):
        for _, part in r.frame[r.frame["setting"] == key].groupby("label"):
            ax.plot(part["epoch"], part["test_acc"], color=_STYLE[key]["color"], linewidth=0.8, alpha=0.7)
        if p.accuracy_budget < last:
            ax.axvline(p.accuracy_budget, color="crimson", linewidth=0.8, alpha=0.6)
        if pub_acc is not None:
            upto = int(r.frame.loc[r.frame["setting"] == key, "epoch"].max())
            mean = pub_acc[pub_acc["epoch"] <= upto].groupby("epoch")["test_acc"].mean()
            ax.plot(mean.index, mean.to_numpy(), color="black", linestyle="--", linewidth=1.2,
                    label="published runs, mean (full data)")
            ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"{r.series_name(key)}: {len(r.experiment.settings[key])} runs", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(max(0.0, float(r.frame["test_acc"].quantile(0.02)) - 0.02), 1.0)
    axes[0].set_ylabel("test accuracy")
    acc = r.accuracy.assign(name=r.accuracy["setting"].map(r.series_name))
    grouped_points(acc, x="name", y="last5", order=[r.series_name(k) for k in order], ax=axes[3], xlabel="",
                   ylabel=f"last-{p.plateau_window}-epoch mean test accuracy",
                   title=f"every run at epoch {p.accuracy_budget} (mean, 95% CI)")
    axes[3].tick_params(axis="x", rotation=20)
    for lab in axes[3].get_xticklabels():
        lab.set_horizontalalignment("right")
    fig.suptitle(f"Test accuracy: ours {_budget(p)} (red line: epoch {p.accuracy_budget}, where the settings are "
                 f"compared); published logs drawn over the same epochs", fontsize=10)
    fig.tight_layout()
    return fig


def _distance_to_start(r):
    start = (r.start.groupby(["setting", "epoch", "layer"])["nnstd"].agg(["mean", "min", "max"]).reset_index()
             .rename(columns={"setting": "series", "mean": "nnstd", "min": "low", "max": "high"}))
    fig, axes = _layer_panels(r, start, list(r.experiment.settings), width=0.02 * max(r.epochs), height=4.2,
                              ylabel="NNSTD to the run's own initial topology", baseline_label="random baseline")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.08))
    fig.suptitle(f"How far each run moves from its start (mean, bars: min-max over runs; settings shifted sideways, "
                 f"where they coincide); {_budget(r.params)}", fontsize=10)
    fig.tight_layout()
    return fig


#: The panel's metrics drawn, with their axis labels; the first four are functions of the degrees.
_PANEL_SHOWN = {"in_degree_gini": "in-degree Gini (mean over sparse layers)",
                "out_degree_gini": "out-degree Gini (mean over sparse layers)",
                "dead_neurons": "dead neurons (fraction of all neurons)",
                "unconnected_inputs": "input features without a weight (fraction)",
                "effective_paths": "effective paths (log10)",
                "ramanujan_gap": "Ramanujan gap: bound - σ2 (mean over sparse layers)"}
_NULL_NAMES = {"er": "Erdős–Rényi", "degree": "degree-preserving"}
_DEGREE_DETERMINED = ("in_degree_gini", "out_degree_gini", "dead_neurons", "unconnected_inputs")
_NULL_BANDS = {("b", "er"): dict(color="grey", alpha=0.3, label="Erdős–Rényi null, ours (mean ± 2 SD over draws)"),
               ("published", "er"): dict(facecolor="none", edgecolor="grey", hatch="///", linewidth=0.0,
                                         label="Erdős–Rényi null, published edge counts"),
               ("b", "degree"): dict(color="tab:blue", alpha=0.18, label="degree-preserving null, the chain"),
               ("published", "degree"): dict(facecolor="none", edgecolor="tab:blue", hatch="\\\\", linewidth=0.0,
                                             label="degree-preserving null, published runs")}


def _topology_panel(r):
    """Each panel metric against epoch: every setting and the published runs (mean over runs, bars min-max),
    beside the bands (null mean ± 2 SD over draws) of the Erdős–Rényi null and, for the metrics the degrees do not
    fix, the degree-preserving null."""
    summary = r.panel["summary"]
    groups = [g for g in (r.PUBLISHED, "b", "a", "c") if g in set(summary["group"])]
    xmax = float(summary["epoch"].max())
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.4), squeeze=False)
    offsets = dict(zip(groups, np.linspace(-1, 1, len(groups)) * 0.008 * xmax))
    for ax, (metric, label) in zip(axes.flat, _PANEL_SHOWN.items()):
        for (group, null), band in _NULL_BANDS.items():
            part = summary[(summary["group"] == group.replace("published", r.PUBLISHED)) & (summary["metric"] == metric)
                           & (summary["null"] == null)].sort_values("epoch")
            if part.empty or (null == "degree" and metric in _DEGREE_DETERMINED):
                continue
            ax.fill_between(part["epoch"], part["null_mean"] - 2 * part["null_sd"], part["null_mean"] + 2 * part["null_sd"],
                            step=None, zorder=1, **band)
        for group in groups:
            part = summary[(summary["group"] == group) & (summary["metric"] == metric) & (summary["null"] == "er")]
            part = part.sort_values("epoch")
            st, y = _STYLE[group], part["value"].to_numpy()
            ax.errorbar(part["epoch"].to_numpy() + offsets[group], y,
                        yerr=interval_errors(y, part["low"], part["high"]), color=st["color"],
                        marker=st["marker"], linestyle=st["linestyle"], markersize=4, capsize=2, linewidth=1.2,
                        label=_series_label(r, group), zorder=3)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("epoch")
        ax.yaxis.set_major_locator(MaxNLocator(6))
    handles, labels = axes[0][0].get_legend_handles_labels()
    more, extra = axes[1][2].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    seen.update({k: h for h, k in zip(more, extra) if k not in seen})
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(f"The topology panel along SET trajectories, each value beside its null models "
                 f"({r.params.panel_draws} draws each; bars: min-max over runs). Ours: {_budget(r.params)}", fontsize=10)
    fig.tight_layout()
    return fig


def _panel_verdicts(r):
    """One panel per tested metric: each decided excess (or difference of excesses) with its Bonferroni interval,
    the margin shaded (equivalence: ±margin; superiority: the line at +margin)."""
    decided = r.panel["decided"]
    shorts = [d.short.split(": ")[-1] for d in decided]
    keys = list(dict.fromkeys(shorts))
    fig, axes = plt.subplots(1, len(keys), figsize=(5.4 * len(keys), 1.6 + 0.8 * max(shorts.count(k) for k in keys)),
                             squeeze=False)
    for ax, key in zip(axes[0], keys):
        rows = [d for d, s in zip(decided, shorts) if s == key]
        for y, d in enumerate(rows):
            v = d.verdict
            if v.rule == "equivalence":
                ax.fill_between([-v.margin, v.margin], y - 0.4, y + 0.4, color="tab:green", alpha=0.12, linewidth=0)
            else:
                ax.plot([v.margin, v.margin], [y - 0.4, y + 0.4], color="tab:green", linewidth=2)
            low, high = (v.estimate if np.isnan(v.low) else v.low), (v.estimate if np.isnan(v.high) else v.high)
            ax.errorbar([v.estimate], [y], xerr=[[v.estimate - low], [high - v.estimate]], fmt="o",
                        color=_VERDICT_COLOURS[v.verdict], capsize=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{d.short.split(': ')[0]}\n{d.verdict.rule}: {d.verdict.verdict}" for d in rows], fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        metric, null = key.split(" - ")
        ax.set_title(f"{_PANEL_SHOWN[metric]}\nminus its {_NULL_NAMES[null.split()[0]]} null", fontsize=9)
        ax.set_xlabel("excess over the null (or its difference)", fontsize=8)
    fig.suptitle("The panel's verdicts: Bonferroni intervals over runs against the margin (shaded ±margin: "
                 "equivalence; green line: superiority's margin)", fontsize=10)
    fig.tight_layout()
    return fig


def _trajectory(r):
    """Mean pairwise NNSTD of every chain against epoch, per sparse layer, over the published chain's windows."""
    t = r.trajectory
    layers = [str(k) for k in r.sparse] + ["mean"]
    fig, axes = plt.subplots(1, len(layers), figsize=(4.3 * len(layers), 3.9), sharey=False)
    for ax, layer in zip(np.atleast_1d(axes), layers):
        part = t[t["layer"] == layer]
        for i, (name, chain) in enumerate(part.groupby("chain", sort=True)):
            chain = chain.sort_values("epoch")
            ax.plot(chain["epoch"], chain["ours"], marker="o", markersize=4, linewidth=1.2,
                    color=_CHAIN_COLOURS[i % len(_CHAIN_COLOURS)], label=f"ours, {name}")
        pub = part.groupby("epoch")["published"].first()
        ax.plot(pub.index, pub.to_numpy(), color="black", marker="s", markersize=5, linewidth=1.8,
                label=f"published chain, windows of {r.params.chain_runs}")
        ax.set_title(_titles(r)[layer], fontsize=10)
        ax.set_xlabel("epoch")
    np.atleast_1d(axes)[0].set_ylabel("mean NNSTD between a chain's runs")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(f"Whole trajectories: each of our chains against the published chain ({_budget(r.params)})",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _arms(r):
    """Test accuracy of SET (setting c), static and dense runs against epoch, and each run's value at the budget."""
    acc, p = r.arms, r.params
    budget = int(acc["epochs"].max())
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.2), gridspec_kw={"width_ratios": [1.2, 1.2, 0.8]})
    curves = r.frame[r.frame["label"].isin(acc["label"])]
    for name in acc["setting"].unique():
        labels = set(acc.loc[acc["setting"] == name, "label"])
        part = curves[curves["label"].isin(labels)]
        st = _ARM_STYLE.get(name, dict(color="tab:grey", linestyle="-"))
        for ax, column in ((axes[0], "test_acc"), (axes[1], "train_acc")):
            for i, (_, run) in enumerate(part.groupby("label")):
                ax.plot(run["epoch"], run[column], linewidth=0.9, alpha=0.8, label=name if i == 0 else None, **st)
    for ax, what in ((axes[0], "test accuracy"), (axes[1], "training accuracy (running mean over the epoch)")):
        ax.axvline(budget, color="crimson", linewidth=0.8, alpha=0.6)
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.legend(fontsize=8, loc="lower right")
    low = float(curves["test_acc"].quantile(0.05))
    axes[0].set_ylim(max(0.0, low - 0.02), min(1.0, float(curves["test_acc"].max()) + 0.01))
    axes[1].set_ylim(max(0.0, float(curves["train_acc"].quantile(0.05)) - 0.02), 1.005)
    grouped_points(acc, x="setting", y="last5", order=list(acc["setting"].unique()), ax=axes[2], xlabel="",
                   ylabel=f"last-{p.plateau_window}-epoch mean test accuracy",
                   title=f"every run at epoch {budget} (mean, 95% CI)")
    fig.suptitle(f"SET (setting c), static and dense networks of one shape on {_budget(p)} (red line: epoch {budget}, "
                 "where the arms are compared; the dense arm stops there)", fontsize=10)
    fig.tight_layout()
    return fig


def figures(result) -> dict[str, Any]:
    """Every figure of notebook ``03_evolution`` by name (closed in pyplot: show them with
    :func:`sparsetopo.study.notebook.show`, save them with ``Findings.save_figures``)."""
    style()
    r, p = result, result.params
    series = [s for s in (r.PUBLISHED, "b", "a", "c") if s in set(r.intervals["series"])]
    out = {"between_runs": _between_runs(
        r, r.intervals, series, f"Between-run NNSTD (95% jackknife interval over networks); red line: last common "
        f"epoch {r.last_common}. Ours: {_budget(p)}", height=4.4, ncol=3, legend_y=-0.12, published_extras=True),
        "heatmaps": _heatmaps(r), "verdicts": _verdicts(r), "accuracy": _accuracy(r),
        "distance_to_start": _distance_to_start(r)}
    if r.panel is not None:
        out.update(topology_panel=_topology_panel(r), panel_verdicts=_panel_verdicts(r))
    if r.trajectory is not None:
        out["trajectory"] = _trajectory(r)
    if r.arms is not None:
        out["arms"] = _arms(r)
    if r.ablation is not None:
        frame = pd.concat([r.intervals[r.intervals["series"].isin([r.PUBLISHED, "b"])], r.ablation["intervals"]])
        shown = [s for s in (r.PUBLISHED, "b", r.ablation["series"]) if s in set(frame["series"])]
        out["regrowth_sampler"] = _between_runs(
            r, frame, shown, f"The first chain with {p.regrow_sampler} regrowth (the runs' sampler) and with "
            f"{p.ablation_sampler} regrowth, same starts, seed and budget ({_budget(p)}); 95% jackknife intervals "
            "over networks", height=4.2, ncol=4, legend_y=-0.1, published_extras=False)
    for f in out.values():
        plt.close(f)
    return out
