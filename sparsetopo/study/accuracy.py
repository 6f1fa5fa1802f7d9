"""Accuracy of stored runs as tables: one row per run, one row per arm, one row per epoch.

A run's accuracy is the mean test accuracy of its last ``k`` epochs, and it has
converged when that mean moved by less than ``threshold`` from the ``k`` epochs
before (:func:`sparsetopo.study.verdicts.convergence`). An *arm* is a group of
runs that differ only in their seed; ``arm`` maps a run's config to its arm's name.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Sequence

import pandas as pd

from .. import store
from ..stats import mean_ci
from ..store.config import RunConfig
from . import verdicts as V

__all__ = ["run_table", "arm_table", "curve_table"]


def run_table(configs: Sequence[RunConfig], root: str | os.PathLike | None = None, *,
              arm: Callable[[RunConfig], str], k: int = 5, threshold: float = 0.001) -> pd.DataFrame:
    """One row per finished run of ``configs`` (read from the run store under ``root``).

    Columns: ``dataset, arm, method, density`` (NaN for dense), ``dropout, seed, acc`` (mean test
    accuracy of the last ``k`` epochs), ``train_acc`` (the same on the training samples),
    ``final_acc, best_acc, converged, moved`` (last-``k`` mean minus the ``k`` before; NaN and not
    converged with fewer than ``2 k`` epochs), ``epochs, n_weights`` (edges over all layers),
    ``weight_fraction`` (of the dense network's), ``train_seconds, run_id``.
    """
    rows = []
    for config in configs:
        run = store.load_run(store.run_directory(config, root))
        curve = [float(r["test_acc"]) for r in run.records]
        widths = run.summary["widths"]
        dense_weights = sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1))
        edges = sum(int(e) for e in run.summary["edges"])
        summary = V.curve_summary(curve, k=k, threshold=threshold)
        last = min(k, len(curve))
        rows.append({
            "dataset": config.dataset, "arm": arm(config), "method": config.method,
            "density": math.nan if config.density is None else float(config.density),
            "dropout": float(config.dropout), "seed": int(config.seed), "acc": summary["last"],
            "train_acc": V.last_k_mean([float(r["train_acc"]) for r in run.records], last),
            "final_acc": summary["final"], "best_acc": summary["best"], "converged": summary["converged"],
            "moved": summary["moved"],
            "epochs": len(curve), "n_weights": edges, "weight_fraction": edges / dense_weights,
            "train_seconds": float(run.summary["train_seconds"]), "run_id": run.directory.name,
        })
    return pd.DataFrame(rows)


def arm_table(runs: pd.DataFrame, confidence: float = 0.95, *,
              order: Callable[[Sequence[str]], list[str]] = lambda arms: list(dict.fromkeys(arms))) -> pd.DataFrame:
    """Per dataset and arm of a :func:`run_table`: ``dataset, arm, density, n, acc_mean, acc_low, acc_high``
    (a t interval over seeds at ``confidence``), ``acc_sd, final_mean, best_mean, train_mean, n_unconverged,
    weight_fraction``. Datasets in order of appearance, arms in ``order(arms)``."""
    rows = []
    for dataset in dict.fromkeys(runs["dataset"]):
        part = runs[runs["dataset"] == dataset]
        for name in order(list(part["arm"])):
            a = part[part["arm"] == name]
            m, lo, hi = mean_ci(a["acc"].tolist(), confidence)
            rows.append({
                "dataset": dataset, "arm": name, "density": float(a["density"].iloc[0]), "n": len(a),
                "acc_mean": m, "acc_low": lo, "acc_high": hi,
                "acc_sd": float(a["acc"].std(ddof=1)) if len(a) > 1 else math.nan,
                "final_mean": float(a["final_acc"].mean()), "best_mean": float(a["best_acc"].mean()),
                "train_mean": float(a["train_acc"].mean()), "n_unconverged": int((~a["converged"]).sum()),
                "weight_fraction": float(a["weight_fraction"].mean()),
            })
    return pd.DataFrame(rows)


def curve_table(configs: Sequence[RunConfig], root: str | os.PathLike | None = None, *,
                arm: Callable[[RunConfig], str]) -> pd.DataFrame:
    """Per-epoch test accuracy of every run: ``dataset, arm, seed, epoch, test_acc``."""
    frames = []
    for config in configs:
        run = store.load_run(store.run_directory(config, root))
        frames.append(pd.DataFrame({"dataset": config.dataset, "arm": arm(config), "seed": config.seed,
                                    "epoch": [int(r["epoch"]) for r in run.records],
                                    "test_acc": [float(r["test_acc"]) for r in run.records]}))
    return pd.concat(frames, ignore_index=True)
