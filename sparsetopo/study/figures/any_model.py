"""Figures of notebook ``05_any_model`` (NNSTD of pruned CNNs)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from . import style

__all__ = ["figures", "nnstd_per_layer"]

#: One colour per comparison, the chance level in grey.
COLORS = {"same parent": "#4c72b0", "different seeds": "#dd8452", "random": "#8c8c8c"}


def nnstd_per_layer(layers, nested_floor: float, amounts: tuple):
    """Grouped bars per layer (same parent, different seeds, random with its 95% interval) and the dashed
    cost of nested input sets. ``layers`` is :attr:`sparsetopo.study.any_model.Result.layers`. Returns the
    Figure (closed in pyplot)."""
    x = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    width = 0.27
    for i, name in enumerate(("same parent", "different seeds", "random")):
        values = layers[name].to_numpy()
        yerr = None
        if name == "random":
            yerr = np.vstack([values - layers["random_ci_low"], layers["random_ci_high"] - values])
        ax.bar(x + (i - 1) * width, values, width, label=name, color=COLORS[name], yerr=yerr, capsize=3)
    ax.axhline(nested_floor, color="black", linestyle="--", linewidth=1, label="nested input sets at these densities")
    ax.set_xticks(x, [f"{n}\n{k}" for n, k in zip(layers["layer"], layers["kind"])], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("NNSTD (0 = same topology)")
    a0, a1 = amounts
    ax.set_title(f"Per-layer NNSTD of CNNs pruned at {a0:.0%} and {a1:.0%} (torch.nn.utils.prune)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    plt.close(fig)
    return fig


def figures(result: Any) -> dict[str, Any]:
    """``{"nnstd_per_layer": Figure}`` of a :class:`sparsetopo.study.any_model.Result`, in the study's style."""
    style()
    return {"nnstd_per_layer": nnstd_per_layer(result.layers, result.means["nested floor"], result.params.amounts)}
