"""Groups of stored runs: the snapshots they share, NNSTD between the runs of each group with intervals that
resample networks, each run's distance to its own start, and accuracy at a budget with convergence.

A *group* is a name and the labels of its runs (``{"b": ("b0", "b1", ...), ...}``); ``runs`` maps each label to a
:class:`~sparsetopo.store.runs.Run` (anything with ``snapshot_epochs()`` and ``topology(epoch)``). Nothing here
depends on how the runs were trained; notebook 03 groups SET runs by how their starts relate.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..parallel import show_progress
from . import verdicts as V
from .common import layer_matrix

__all__ = ["labels_of", "group_of", "shared_snapshots", "comparable_epoch", "group_matrices", "interval_frame",
           "distance_to_start", "accuracy_table"]


def labels_of(groups: Mapping[str, Sequence[str]]) -> list[str]:
    """Every run label, group by group."""
    return [label for labels in groups.values() for label in labels]


def group_of(groups: Mapping[str, Sequence[str]], label: str) -> str:
    """The group a run label belongs to (KeyError when none)."""
    for key, labels in groups.items():
        if label in labels:
            return key
    raise KeyError(label)


def shared_snapshots(runs: Mapping, groups: Mapping[str, Sequence[str]]) -> dict[str, list[int]]:
    """Group -> the snapshot epochs all of its runs saved."""
    return {key: sorted(set.intersection(*(set(runs[label].snapshot_epochs()) for label in labels)))
            for key, labels in groups.items()}


def comparable_epoch(first: Sequence[int], second: Sequence[int]) -> int:
    """The last snapshot epoch at which two groups of dynamic-sparse runs have been rewired equally often.

    SET rewires after every epoch but the last, so the final snapshot of a shorter run has one rewiring fewer
    than the same epoch inside a longer run: a common epoch counts only if it is before both runs' last
    epochs, or is the last epoch of both.
    """
    end_a, end_b = max(first), max(second)
    common = [e for e in set(first) & set(second) if e < min(end_a, end_b) or e == end_a == end_b]
    if not common:
        raise ValueError(f"no comparable snapshot epoch in {sorted(first)} and {sorted(second)}")
    return int(max(common))


def group_matrices(runs: Mapping, groups: Mapping[str, Sequence[str]], epochs: Mapping[str, Sequence[int]], *,
                   n_jobs: int = 1, cache_dir: str | os.PathLike | None = None) -> dict:
    """Pairwise NNSTD between the runs of each group at each of its ``epochs``:
    ``(group, epoch) -> DistanceMatrix``, groups in the order of ``groups``."""
    from ..nnstd.pairwise import pairwise_nnstd

    return {(key, int(epoch)): pairwise_nnstd([runs[label].topology(epoch) for label in labels], labels=labels,
                                              n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir)
            for key, labels in groups.items() for epoch in epochs[key]}


def interval_frame(matrices: Mapping, sparse: Sequence[int], confidence: float = 0.95) -> pd.DataFrame:
    """Mean pairwise NNSTD of every ``(series, epoch) -> DistanceMatrix`` with a delete-one-network jackknife
    interval (the pairs of ``n`` networks share networks and are not independent).

    Returns
    -------
    pd.DataFrame
        ``series``, ``epoch``, ``layer`` (``"0"``, ..., and ``"mean"`` over the ``sparse`` layers),
        ``nnstd`` (mean over pairs), ``low``, ``high``, ``n_networks``.
    """
    rows = []
    for (series, epoch), matrix in matrices.items():
        for layer in [str(k) for k in sparse] + ["mean"]:
            ci = V.network_jackknife_ci(layer_matrix(matrix, layer, sparse), confidence=confidence)
            rows.append({"series": series, "epoch": int(epoch), "layer": layer, "nnstd": ci.estimate,
                         "low": ci.low, "high": ci.high, "n_networks": ci.n})
    return pd.DataFrame(rows)


def distance_to_start(runs: Mapping, groups: Mapping[str, Sequence[str]], sparse: Sequence[int], *,
                      n_jobs: int = 1, cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Each run's NNSTD to its own initial topology at every snapshot epoch.

    Returns
    -------
    pd.DataFrame
        ``label``, ``setting`` (its group), ``epoch``, ``layer`` (sparse layers and ``"mean"`` over them), ``nnstd``.
    """
    from ..nnstd.pairwise import trajectory_nnstd

    rows = []
    for key, labels in groups.items():
        for label in labels:
            run = runs[label]
            epochs = list(run.snapshot_epochs())
            traj = trajectory_nnstd([run.topology(e) for e in epochs], labels=epochs, n_jobs=n_jobs, progress=False,
                                    cache_dir=cache_dir)
            for epoch, row in traj.iterrows():
                values = {str(k): float(row[f"to_first_layer{k}"]) for k in sparse}
                values["mean"] = float(np.mean([values[str(k)] for k in sparse]))
                rows += [{"label": label, "setting": key, "epoch": int(epoch), "layer": layer, "nnstd": v}
                         for layer, v in values.items()]
    return pd.DataFrame(rows)


def accuracy_table(frame: pd.DataFrame, groups: Mapping[str, Sequence[str]], seeds: Mapping[str, int],
                   budget: int | None = None, labels: Sequence[str] | None = None, *, k: int = 5,
                   threshold: float = 0.001) -> pd.DataFrame:
    """Accuracy of every run (or of ``labels``) over its first ``budget`` epochs (default all).

    ``frame`` is a tidy learning-curve table with ``label``, ``epoch`` and ``test_acc``; ``seeds`` maps a label
    to its training seed. With a constant learning rate the first ``budget`` epochs of a longer run are the
    run of ``budget`` epochs, so runs of different lengths compare at equal budget.

    Returns
    -------
    pd.DataFrame
        ``label``, ``setting`` (its group), ``training_seed``, ``epochs``, ``last5`` (mean of the last ``k``
        epochs), ``final``, ``best``, ``moved`` (that mean minus the ``k`` before), ``converged``
        (:func:`~sparsetopo.study.verdicts.convergence_table` with ``threshold``).
    """
    if budget is not None:
        frame = frame[frame["epoch"] <= budget]
    labels = labels_of(groups) if labels is None else list(labels)
    rows = []
    for label in labels:
        curve = frame[frame["label"] == label].sort_values("epoch")["test_acc"].to_numpy(dtype=float)
        summary = V.curve_summary(curve, k=k, threshold=threshold)
        rows.append({"label": label, "setting": group_of(groups, label), "training_seed": seeds[label],
                     "epochs": len(curve), "last5": summary["last"], "final": summary["final"], "best": summary["best"],
                     "moved": summary["moved"], "converged": summary["converged"]})
    return pd.DataFrame(rows)
