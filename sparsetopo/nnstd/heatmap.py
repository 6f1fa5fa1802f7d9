"""A heatmap of a distance (or cost) matrix (matplotlib only; the command line and the study both draw with it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # annotations only
    from matplotlib.axes import Axes

__all__ = ["distance_heatmap"]


def distance_heatmap(matrix: np.ndarray, labels: Sequence[str] | None = None, *, ax: Axes | None = None, title: str = "",
                     vmin: float = 0.0, vmax: float | None = 1.0, cbar_label: str = "NNSTD",
                     annotate: bool | None = None, cmap: str = "viridis", colorbar: bool = True,
                     ticklabels: bool = True) -> Axes:
    """Draw ``matrix`` ``(n, m)`` (usually square) as a heatmap; returns the Axes.

    Parameters
    ----------
    matrix : (n, m) array of distances or costs
    labels : n tick labels (default 0..n-1)
    ax : Axes to draw on (default a new figure sized to n)
    vmin, vmax : colour scale (``vmax=None``: the matrix maximum)
    annotate : write each value in its cell (default when n <= 12)
    colorbar, ticklabels : draw the colour bar and the row/column labels

    Cell ``(i, j)`` is centred on ``(x=j, y=i)``: cell edges lie at half-integers.
    """
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
    n, n_cols = matrix.shape
    labels = [str(i) for i in range(n)] if labels is None else [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for a matrix of {n} rows")
    if ax is None:
        size = max(3.0, 0.45 * n + 2.0)
        _, ax = plt.subplots(figsize=(size + 1.0, size))
    vmax = float(np.nanmax(matrix)) if vmax is None else vmax
    image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap, interpolation="none")
    if ticklabels:
        ax.set_xticks(range(n_cols), labels=labels if n_cols == n else [str(j) for j in range(n_cols)], rotation=90,
                      fontsize=7 if n > 12 else 9)
        ax.set_yticks(range(n), labels=labels, fontsize=7 if n > 12 else 9)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if annotate if annotate is not None else n <= 12:
        middle = vmin + (vmax - vmin) / 2
        for i in range(n):
            for j in range(n_cols):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] < middle else "black")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=cbar_label)
    ax.set_title(title)
    return ax
