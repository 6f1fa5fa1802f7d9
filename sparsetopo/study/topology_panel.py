"""The topology metric panel of groups of stored runs, each value beside its null models.

A *group* is a name and the labels of its runs (``{"b": ("b0", "b1", ...), "published": (...)}``, as in
:mod:`.run_groups`); ``runs`` maps each label to a run folder (a :class:`~sparsetopo.store.runs.Run`, anything
with a ``directory``, or a path of the run store's or the published layout). Everything is computed by
:func:`sparsetopo.metrics.metrics_frame` from the stored snapshots, cached by content, one worker per run and
null model.

:func:`panel_frame` is the tidy table of every metric, layer, run, epoch and null model;
:func:`run_statistics` reduces it to one number per run, epoch, metric and null (the mean over chosen layers of
the value, of the null's mean, and their difference, the *excess over the null*); :func:`group_summary` is the
table a figure draws (mean and range over a group's runs); :func:`mean_interval` is the Student-t interval of a
mean over runs, the unit of replication (layers and null draws are never treated as independent samples).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import metrics_frame
from ..parallel import parallel_map, show_progress
from ..stats import mean_ci
from . import verdicts as V

__all__ = ["NULLS", "panel_frame", "run_statistics", "group_summary", "mean_interval", "layer_names"]

#: The null models every value is compared with: Erdős–Rényi with exact counts, and degree-preserving.
NULLS = ("er", "degree")


def layer_names(layers: Sequence[int] | str) -> list[str]:
    """Row labels of :func:`~sparsetopo.metrics.metrics_frame` for layer indices (``"network"`` as it is)."""
    return ["network"] if layers == "network" else [f"layer_{int(k)}" for k in layers]


def _directory(run: Any) -> str:
    return str(Path(getattr(run, "directory", run)))


def _one(item: tuple) -> pd.DataFrame:
    label, directory, epochs, metrics, null, draws, seed, cache_dir = item
    return metrics_frame(directory, list(metrics), list(epochs), null=null, draws=draws, seed=seed, labels=[label],
                         cache_dir=cache_dir)


def panel_frame(runs: Mapping[str, Any], groups: Mapping[str, Sequence[str]], epochs: Mapping[str, Sequence[int]],
                metrics: Sequence[str], *, nulls: Sequence[str] = NULLS, draws: int = 16, seed: int = 0,
                cache_dir: str | os.PathLike | None = None, n_jobs: int = 1) -> pd.DataFrame:
    """Every metric of every run of every group at its group's ``epochs``, against each null model.

    Returns
    -------
    pd.DataFrame
        :func:`~sparsetopo.metrics.metrics_frame`'s columns (``run`` holds the label) plus ``group``; one row per
        group, run, epoch, metric, layer and null model. Draw ``i`` of a snapshot's null is seeded by
        ``(seed, i)`` whatever the run, so an Erdős–Rényi null depends only on the layers' shapes and counts.
    """
    items = [(label, _directory(runs[label]), tuple(int(e) for e in epochs[key]), tuple(metrics), null, int(draws),
              int(seed), None if cache_dir is None else str(cache_dir))
             for key, labels in groups.items() for label in labels for null in nulls]
    frames = parallel_map(_one, items, n_jobs=n_jobs, desc="topology panel", progress=show_progress())
    group = {label: key for key, labels in groups.items() for label in labels}
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "group", frame["run"].map(group))
    frame["epoch"] = frame["epoch"].astype(int)
    return frame


def run_statistics(frame: pd.DataFrame, layers: Mapping[str, Sequence[int] | str]) -> pd.DataFrame:
    """One number per group, run, epoch, metric and null: the mean over the metric's ``layers``.

    Parameters
    ----------
    frame : from :func:`panel_frame`.
    layers : metric -> layer indices whose values are averaged (e.g. the sparse layers), or ``"network"`` for the
        metric's network value. Metrics not named are dropped.

    Returns
    -------
    pd.DataFrame
        ``group, run, epoch, metric, null, value, null_mean, excess, null_sd``: ``excess = value - null_mean``;
        ``null_sd`` is the standard deviation over draws of the layers' mean, ``sqrt(sum of the layers' null
        variances) / n_layers`` (every layer of a null draw is drawn independently).
    """
    parts = []
    for metric, chosen in layers.items():
        part = frame[(frame["metric"] == metric) & frame["layer"].isin(layer_names(chosen))]
        if part.empty:
            continue
        part = part.assign(var=part["null_std"] ** 2)
        agg = part.groupby(["group", "run", "epoch", "metric", "null"], sort=False).agg(
            value=("value", "mean"), null_mean=("null_mean", "mean"), var=("var", "sum"), n=("layer", "size"))
        agg["excess"] = agg["value"] - agg["null_mean"]
        agg["null_sd"] = np.sqrt(agg.pop("var")) / agg.pop("n")
        parts.append(agg.reset_index())
    columns = ["group", "run", "epoch", "metric", "null", "value", "null_mean", "excess", "null_sd"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def group_summary(statistics: pd.DataFrame) -> pd.DataFrame:
    """Per group, epoch, metric and null: the mean, smallest and largest value over the group's runs, the mean
    null level and null spread over draws, and the number of runs (what a figure draws)."""
    return (statistics.groupby(["group", "epoch", "metric", "null"], sort=False)
            .agg(value=("value", "mean"), low=("value", "min"), high=("value", "max"), null_mean=("null_mean", "mean"),
                 null_sd=("null_sd", "mean"), runs=("run", "nunique"))
            .reset_index())


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> V.Interval:
    """Student-t interval of the mean of ``values``, one per run (NaN bounds with fewer than two runs)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return V.Interval(float(x.mean()) if x.size else np.nan, np.nan, np.nan, confidence, "t over runs", int(x.size))
    m, low, high = mean_ci(x, confidence=confidence)
    return V.Interval(m, low, high, float(confidence), "t over runs", int(x.size))
