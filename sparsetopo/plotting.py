"""Figures of the study. Functions take data (frames, matrices) and return a Figure.

Figure code only reads numbers computed elsewhere; notebooks save each figure
through :class:`sparsetopo.report.Findings`.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline") else None
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

__all__ = ["style", "distance_heatmap", "heatmap_grid", "line_with_band", "embedding_paths"]


def style() -> None:
    """The study's look: white grid, readable fonts."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=1.0)


def distance_heatmap(matrix: np.ndarray, labels: Sequence[str] | None = None, *, title: str = "", ax=None,
                     vmin: float = 0.0, vmax: float | None = 1.0, cbar_label: str = "NNSTD", annotate: bool | None = None):
    """Heatmap of a square distance matrix. Returns the Axes."""
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * n + 2.5, 0.4 * n + 2))
    if annotate is None:
        annotate = n <= 12
    sns.heatmap(matrix, ax=ax, vmin=vmin, vmax=vmax, cmap="viridis", square=True, annot=annotate, fmt=".2f",
                annot_kws={"fontsize": 7}, xticklabels=labels if labels is not None else "auto",
                yticklabels=labels if labels is not None else "auto", cbar_kws={"label": cbar_label, "shrink": 0.8})
    ax.set_title(title)
    return ax


def heatmap_grid(matrices: Sequence[np.ndarray], titles: Sequence[str], labels: Sequence[str] | None = None, *,
                 suptitle: str = "", vmax: float | None = 1.0, cbar_label: str = "NNSTD", ncols: int | None = None):
    """Several distance heatmaps side by side on a shared colour scale. Returns the Figure."""
    k = len(matrices)
    ncols = ncols or min(k, 4)
    nrows = int(np.ceil(k / ncols))
    n = np.asarray(matrices[0]).shape[0]
    size = 0.3 * n + 2.2
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 0.9), squeeze=False)
    for ax, m, t in zip(axes.flat, matrices, titles):
        distance_heatmap(m, labels, title=t, ax=ax, vmax=vmax, cbar_label=cbar_label, annotate=n <= 6)
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
    sns.lineplot(data=frame, x=x, y=y, hue=hue, errorbar=errorbar, marker=marker, ax=ax)
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
    for run, part in frame.groupby("run", sort=False):
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
