"""The topologies published with the paper's NNSTD code, and the numbers its code printed.

The folder ``<data root>/official_nnstd_topo/topo/e5_s0_w{0..9}`` holds ten SET
runs of a 784-784-784-784-10 network, their topology saved at nine epochs
(``epoch_000`` is the first saved snapshot). This module finds that folder,
reads it, compares the runs pairwise and checks our NNSTD against the
published code's printed numbers (:data:`PUBLISHED_REFERENCE`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..nnstd.distance import nnstd
from ..nnstd.pairwise import DistanceMatrix, pairwise_nnstd, random_baseline
from ..parallel import show_progress
from ..topology.masks import edge_counts, load_published, widths_of
from .common import baseline_frame, pair_summary, sparse_layers
from .verdicts import network_bootstrap_ci

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
    "published_edges",
    "PublishedComparison",
    "compare_published",
    "published_layer_edges",
    "published_accuracy",
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


def published_edges(root: Any, widths: Sequence[int], epoch: int) -> list[int] | None:
    """Edges per layer for a network of ``widths`` at the published density, read from the published files.

    Mean edge count per layer over the ten published runs at ``epoch`` (rounded); when ``widths``
    differ from the published ones (same number of layers), the published per-layer *densities*
    applied to ``widths``. ``None`` when the layer counts differ.
    """
    runs = load_published_runs(root, [epoch])[epoch]
    counts = np.array([edge_counts(t) for t in runs], dtype=float).mean(axis=0)
    shapes = [m.shape for m in runs[0]]
    if len(shapes) != len(widths) - 1:
        return None
    out = []
    for k, (n_out, n_in) in enumerate(shapes):
        size = widths[k + 1] * widths[k]
        if (n_out, n_in) == (widths[k + 1], widths[k]):
            out.append(int(round(counts[k])))
        else:
            out.append(max(1, min(size, int(round(counts[k] / (n_out * n_in) * size)))))
    return out


@dataclass(frozen=True, eq=False)
class PublishedComparison:
    """The published runs compared pairwise over their saved epochs (:func:`compare_published`).

    Attributes
    ----------
    root : folder of the published topologies.
    widths : their layer widths.
    matrices : epoch -> pairwise NNSTD of the runs compared (per layer; the ``mean`` attribute runs over all layers).
    layers : their sparse layers.
    table : tidy pairwise distances over epochs (sparse layers, and ``"mean"`` over the sparse layers).
    summary : per epoch and layer (``"mean"`` included): mean pairwise NNSTD, its network-bootstrap
        interval, and the smallest and largest pair (:func:`~sparsetopo.study.common.pair_summary`).
    baseline : Erdős–Rényi baseline of networks of their shape and edge counts
        (:func:`~sparsetopo.study.common.baseline_frame`).
    degree_baseline : degree-preserving baseline: random networks with the degree sequences of the first run
        at the last epoch compared (the chance level for trained networks, whose degrees are skewed).
    gap : per epoch, Spearman correlation of distance with the gap between run indices.
    agreement : our NNSTD against the numbers the published code printed (:func:`published_agreement`).
    moved_apart : network-bootstrap interval of mean NNSTD at the last epoch minus at the first.
    """

    root: Any
    widths: list
    matrices: dict
    layers: list
    table: pd.DataFrame
    summary: pd.DataFrame
    baseline: pd.DataFrame
    degree_baseline: pd.DataFrame
    gap: pd.DataFrame
    agreement: pd.DataFrame
    moved_apart: Any

    @property
    def epochs(self) -> list[int]:
        return sorted(self.matrices)

    @property
    def ends(self) -> list[int]:
        """The first saved snapshot and the last epoch compared."""
        return [self.epochs[0], self.epochs[-1]] if len(self.epochs) > 1 else self.epochs

    def network(self, epoch: int) -> np.ndarray:
        """Network-level (sparse-layer mean) pairwise matrix at ``epoch``."""
        return self.matrices[epoch].layers[list(self.layers)].mean(axis=0)

    def network_summary(self) -> pd.DataFrame:
        """The ``"mean"`` rows of :attr:`summary`: one row per epoch."""
        return self.summary[self.summary["layer"] == "mean"].reset_index(drop=True)


def compare_published(root: str | os.PathLike, epochs: Sequence[int], *, runs: Sequence[str] = PUBLISHED_RUNS,
                      n_boot: int = 2000, baseline_pairs: int = 16, seed: int = 0, n_jobs: int = 1,
                      cache_dir: str | os.PathLike | None = None) -> PublishedComparison:
    """Compare the published ``runs`` pairwise at ``epochs`` (structural tie-break), with network-bootstrap
    intervals, the random baselines of their shape (Erdős–Rényi and degree-preserving, ``baseline_pairs`` pairs
    each), the correlation with the run index gap and the agreement with the published code's printed numbers."""
    matrices = published_pairwise(root, list(epochs), runs=runs, n_jobs=n_jobs, cache_dir=cache_dir)
    epochs = sorted(matrices)
    nets = load_published_runs(root, [epochs[0], epochs[-1]], runs=runs[:1])
    layers = sparse_layers(nets[epochs[0]][0])
    table = published_frame(matrices)
    table = table[table["layer"].isin([str(k) for k in layers])]
    network_rows = (table.groupby(["epoch", "first", "second"], sort=False)["nnstd"].mean().reset_index()
                    .assign(layer="mean"))
    table = pd.concat([table, network_rows[table.columns]], ignore_index=True)

    def network(e: int) -> np.ndarray:
        return matrices[e].layers[list(layers)].mean(axis=0)

    summary = [{"epoch": e, "layer": layer,
                **pair_summary(network(e) if layer == "mean" else matrices[e].layers[int(layer)], n_boot=n_boot,
                               seed=seed)}
               for e in epochs for layer in [str(k) for k in layers] + ["mean"]]
    last_net = nets[epochs[-1]][0]
    baseline = baseline_frame(random_baseline(last_net, n_pairs=baseline_pairs, seed=seed, n_jobs=n_jobs,
                                              progress=show_progress(), cache_dir=cache_dir), layers)
    degree_baseline = baseline_frame(random_baseline(last_net, n_pairs=baseline_pairs, seed=seed, null="degree",
                                                     n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir),
                                     layers)
    moved = network_bootstrap_ci(network(epochs[-1]) - network(epochs[0]), n_boot=n_boot, seed=seed)
    return PublishedComparison(root=root, widths=widths_of(last_net),
                               matrices=matrices, layers=layers, table=table, summary=pd.DataFrame(summary),
                               baseline=baseline, degree_baseline=degree_baseline, gap=published_gap_correlation(table),
                               agreement=published_agreement(root), moved_apart=moved)


# ---------------------------------------------------------------------------
# edge counts and logged accuracy of the published runs (notebook 03)
# ---------------------------------------------------------------------------


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
