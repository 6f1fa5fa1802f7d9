"""The topologies published with the paper's NNSTD code, and the numbers its code printed.

The folder ``<data root>/official_nnstd_topo/topo/e5_s0_w{0..9}`` holds ten SET
runs of a 784-784-784-784-10 network, their topology saved at nine epochs
(``epoch_000`` is the first saved snapshot). This module finds that folder,
reads it, compares the runs pairwise and checks our NNSTD against the
published code's printed numbers (:data:`PUBLISHED_REFERENCE`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..nnstd.distance import nnstd
from ..nnstd.pairwise import DistanceMatrix, pairwise_nnstd
from ..parallel import show_progress
from ..topology.masks import load_published

__all__ = [
    "PUBLISHED_REFERENCE",
    "PUBLISHED_RUNS",
    "PUBLISHED_EPOCHS",
    "published_root",
    "load_published_runs",
    "published_pairwise",
    "published_frame",
    "published_gap_correlation",
    "published_agreement",
]

#: Numbers printed by the paper's published NNSTD code
#: (github.com/Shiweiliuiiiiiii/Sparse_Topology_Distance) for
#: ``first = e5_s0_w1``, ``second = e5_s0_w0`` of its published topologies:
#: per-layer distances at two epochs and the network mean at epoch 190.
PUBLISHED_REFERENCE: dict[str, Any] = {
    "source": "printed by the paper's NNSTD code, github.com/Shiweiliuiiiiiii/Sparse_Topology_Distance",
    "first": "e5_s0_w1",
    "second": "e5_s0_w0",
    "layers": {0: (0.290237, 0.244549, 0.198133, 0.0), 190: (0.471445, 0.506789, 0.452657, 0.0)},
    "mean": {190: 0.357723},
    # the published numbers are printed with six decimals
    "printed_digits": 6,
}

#: Run folders of the published topologies (under ``official_nnstd_topo/topo``).
PUBLISHED_RUNS = tuple(f"e5_s0_w{i}" for i in range(10))
#: Epochs saved for every published run.
PUBLISHED_EPOCHS = (0, 10, 20, 30, 40, 50, 100, 150, 190)



# ---------------------------------------------------------------------------
# the published topologies
# ---------------------------------------------------------------------------


def published_root(data_root: str | os.PathLike | None = None) -> Path | None:
    """Folder of the published topologies, or None when the data root lacks them.

    Looks for ``<data root>/official_nnstd_topo/topo/e5_s0_w{0..9}`` (the data
    root as in :func:`sparsetopo.data.data_root`).
    """
    from ..data import published_topologies_dir

    root = published_topologies_dir(data_root)
    if not all((root / run).is_dir() for run in PUBLISHED_RUNS):
        return None
    return root


def load_published_runs(root: str | os.PathLike, epochs: Sequence[int],
                        runs: Sequence[str] = PUBLISHED_RUNS) -> dict[int, list[list[np.ndarray]]]:
    """The published topologies: epoch -> one topology per run (in ``runs`` order)."""
    root = Path(root)
    return {int(e): [load_published(root / run, int(e)) for run in runs] for e in epochs}


def published_pairwise(
    root: str | os.PathLike,
    epochs: Sequence[int],
    *,
    runs: Sequence[str] = PUBLISHED_RUNS,
    n_jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
    method: str = "auto",
    tie_break: str = "structure",
) -> dict[int, DistanceMatrix]:
    """Pairwise NNSTD between the published runs at each epoch.

    Returns
    -------
    dict
        epoch -> :class:`~sparsetopo.nnstd.pairwise.DistanceMatrix` labelled
        ``w0`` ... ``w9``.
    """
    labels = [run.rsplit("_", 1)[-1] for run in runs]
    out = {}
    for epoch, topologies in load_published_runs(root, epochs, runs).items():
        out[epoch] = pairwise_nnstd(topologies, labels=labels, n_jobs=n_jobs, progress=show_progress(),
                                    cache_dir=cache_dir, method=method, tie_break=tie_break)
    return out


def published_frame(matrices: dict[int, DistanceMatrix]) -> pd.DataFrame:
    """Off-diagonal pairs of :func:`published_pairwise` as a tidy table.

    Returns
    -------
    pd.DataFrame
        One row per epoch, pair ``i > j`` and layer (``"mean"`` included):
        ``epoch``, ``first``, ``second``, ``layer``, ``nnstd``.
    """
    rows = []
    for epoch, matrix in matrices.items():
        n = len(matrix.labels)
        for i in range(n):
            for j in range(i):
                for k in range(matrix.layers.shape[0]):
                    rows.append({"epoch": epoch, "first": matrix.labels[i], "second": matrix.labels[j],
                                 "layer": str(k), "nnstd": float(matrix.layers[k, i, j])})
                rows.append({"epoch": epoch, "first": matrix.labels[i], "second": matrix.labels[j],
                             "layer": "mean", "nnstd": float(matrix.mean[i, j])})
    return pd.DataFrame(rows)


def published_gap_correlation(frame: pd.DataFrame) -> pd.DataFrame:
    """Does NNSTD between published runs grow with the gap between their indices?

    Parameters
    ----------
    frame : from :func:`published_frame` (labels ``w<i>``).

    Returns
    -------
    pd.DataFrame
        One row per epoch, one column per layer in ``frame``: Spearman's rho
        between ``|i - j|`` and NNSTD over all pairs ``(w<i>, w<j>)``.
    """
    from scipy.stats import spearmanr

    def run_index(labels: pd.Series) -> pd.Series:
        return labels.str.extract(r"(\d+)$", expand=False).astype(int)

    frame = frame.copy()
    frame["index_gap"] = (run_index(frame["first"]) - run_index(frame["second"])).abs()
    rows = []
    for epoch, part in frame.groupby("epoch"):
        row = {"epoch": int(epoch)}
        for layer, p in part.groupby("layer", sort=False):
            row[f"spearman_layer_{layer}"] = float(spearmanr(p["index_gap"], p["nnstd"]).statistic)
        rows.append(row)
    return pd.DataFrame(rows)


def published_agreement(root: str | os.PathLike) -> pd.DataFrame:
    """Our NNSTD against the published code's printed numbers.

    Computes ``nnstd(first, second, method="exact", tie_break="solver")``
    (the published code's solver and tie behaviour) for the pair and epochs
    of :data:`PUBLISHED_REFERENCE`.

    Returns
    -------
    pd.DataFrame
        One row per epoch and layer (``layer`` = ``"mean"`` where a published
        mean exists): ``epoch``, ``layer``, ``published``, ``measured``,
        ``abs_deviation`` = ``|measured - published|`` (at most 5e-7 when
        they agree: the published values are printed with six decimals).
    """
    root = Path(root)
    ref = PUBLISHED_REFERENCE
    rows = []
    for epoch, published in ref["layers"].items():
        first = load_published(root / ref["first"], epoch)
        second = load_published(root / ref["second"], epoch)
        result = nnstd(first, second, method="exact", tie_break="solver")
        pairs = [(str(k), p, m) for k, (p, m) in enumerate(zip(published, result.layer_distances))]
        if epoch in ref["mean"]:
            pairs.append(("mean", ref["mean"][epoch], result.mean))
        for layer, p, m in pairs:
            rows.append({"epoch": epoch, "layer": layer, "published": float(p), "measured": float(m),
                         "abs_deviation": abs(float(m) - float(p))})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# edge counts and logged accuracy of the published runs (notebook 03)
# ---------------------------------------------------------------------------

__all__ += ["published_layer_edges", "published_accuracy"]


def published_layer_edges(root: str | os.PathLike, epoch: int = 0) -> tuple[int, ...]:
    """Edges per layer of the published networks at ``epoch``: the mean over the ten runs, rounded.

    The dense output layer's count (784 x 10) is included, as ``RunConfig.layer_edges`` wants.
    """
    topologies = load_published_runs(root, [epoch])[epoch]
    counts = np.array([[int(m.sum()) for m in t] for t in topologies])
    return tuple(int(round(c)) for c in counts.mean(axis=0))


def published_accuracy(root: str | os.PathLike) -> pd.DataFrame:
    """The test accuracy logged by the published runs (``<run>/testacc.txt``, one line per epoch).

    Line ``i`` is taken as epoch ``i + 1``. Runs without a log are skipped.

    Returns
    -------
    pd.DataFrame
        ``run``, ``epoch``, ``test_acc``.
    """
    rows = []
    for name in PUBLISHED_RUNS:
        path = Path(root) / name / "testacc.txt"
        if not path.exists():
            continue
        values = np.loadtxt(path, ndmin=1)
        rows += [{"run": name.rsplit("_", 1)[-1], "epoch": i + 1, "test_acc": float(v)} for i, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["run", "epoch", "test_acc"])
