"""Sparse versus dense without topology search, across datasets (notebook ``02_sparse_vs_dense``).

The paper's claim: a *static* random sparse MLP (an Erdős–Rényi mask drawn
once, never rewired) can match or beat the dense MLP of the same shape. For
every dataset of the run, three kinds of arm are trained with the same
recipe, several independent seeds each:

* ``dense``: the dense MLP;
* ``dense + dropout``: the same with dropout on every hidden activation;
* ``static <d>%``: the static sparse MLP whose hidden-layer weight matrices
  keep a fraction ``d`` of their entries (the output layer stays dense, as in
  the paper), one arm per density of the grid.

Accuracy
--------
The accuracy of a run is the mean test accuracy of its last ``K_LAST = 5``
epochs (final and best epoch reported beside it). A run has converged when
that mean moved by less than ``CONVERGENCE_THRESHOLD = 0.001`` from the mean
of the 5 epochs before (:func:`sparsetopo.study.verdicts.convergence`).

Verdict rule (fixed before the numbers)
---------------------------------------
For each dataset, density ``d`` and reference arm (dense, dense + dropout),
the difference ``static d - reference`` of mean accuracy over seeds gets a
Welch interval at confidence ``1 - (1 - confidence) / n_densities``
(Bonferroni over the densities, since the claim picks any density). The
margin ``m`` of a dataset is ``margin_multiple`` times the seed-to-seed
standard deviation of dense accuracy measured on that dataset in calibration
runs (other seeds than the study's; :func:`calibration_spread`).

* *Static matches or beats dense* (non-inferiority): holds for a density when
  the interval lies above ``-m``, does not hold when it lies below ``-m``,
  inconclusive otherwise. For the dataset it holds when some density holds,
  does not hold when every density does not hold, and is inconclusive
  otherwise. The recorded interval is that of the deciding density.
* *Static beats dense* (superiority, margin 0): the same with ``0`` in place
  of ``-m`` and "above" for "better than".

A verdict on arms with an unconverged run is capped at inconclusive
(:func:`sparsetopo.study.verdicts.unless_converged`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import store
from ..parallel import show_progress
from ..stats import mean_ci
from ..store.config import RunConfig
from . import verdicts as V
from .findings import Findings
from .params import StudyParameters, check_int, check_real, check_sequence, check_str

__all__ = [
    "K_LAST",
    "CONVERGENCE_THRESHOLD",
    "DENSE",
    "DROPOUT",
    "static_arm",
    "DatasetSetting",
    "dataset_settings",
    "arm_configs",
    "study_configs",
    "results_table",
    "arm_table",
    "dataset_margin",
    "compare",
    "aggregate",
    "comparisons",
    "dataset_verdicts",
    "calibration_spread",
    "learning_curves",
    "record_findings",
    "discussion",
    "describe_grid",
    "margin_table",
    "convergence_report",
    "arm_report",
    "verdict_table",
    "gap_figure",
    "Parameters",
    "Result",
    "run",
    "notes",
    "claims",
    "figures",
]

#: Accuracy of a run: mean test accuracy of its last K_LAST epochs.
K_LAST = 5
#: A run converged when its last-K_LAST mean moved by less than this from the K_LAST epochs before.
CONVERGENCE_THRESHOLD = 0.001
DENSE = "dense"
#: Small high-dimensional microarray sets that can stand in for the paper's Lung and CLL_SUB_111.
MICROARRAY_STAND_INS = ("TOX_171", "Prostate_GE", "ALLAML", "GLIOMA", "lung_discrete", "leukemia", "lymphoma",
                        "colon", "nci9")
DROPOUT = "dense + dropout"
REFERENCES = (DENSE, DROPOUT)
CLAIM_MATCH = "matches or beats"
CLAIM_BEAT = "beats"


#: The default profile's datasets (the notebook's parameters cell and params/default hold the same).
DEFAULT_DATASETS: dict[str, dict[str, Any]] = {
    "fashion_mnist": {"hidden": [200, 200, 200], "epochs": 40, "batch_size": 32, "lr": 0.02, "train_samples": 3000,
                      "calibration_sd": 0.0017},
    "mnist": {"hidden": [200, 200, 200], "epochs": 40, "batch_size": 32, "lr": 0.02, "train_samples": 3000,
              "calibration_sd": 0.0012},
    "COIL20": {"hidden": [500, 500, 500], "epochs": 40, "batch_size": 32, "lr": 0.01, "train_samples": None,
               "calibration_sd": 0.0},
    "Isolet": {"hidden": [500, 500, 500], "epochs": 40, "batch_size": 32, "lr": 0.01, "train_samples": None,
               "calibration_sd": 0.0063},
    "madelon": {"hidden": [500, 500, 500], "epochs": 40, "batch_size": 64, "lr": 0.01, "train_samples": None,
                "calibration_sd": 0.0099},
    "TOX_171": {"hidden": [500, 500, 500], "epochs": 40, "batch_size": 16, "lr": 0.01, "train_samples": None,
                "calibration_sd": 0.0219},
}


def static_arm(density: float) -> str:
    """Name of the static arm of per-layer ``density`` (e.g. ``"static 4%"``)."""
    return f"static {100 * float(density):g}%"


# ---------------------------------------------------------------------------
# datasets and run configurations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSetting:
    """How one dataset is trained in this study.

    Attributes
    ----------
    name : dataset name (:func:`sparsetopo.data.available_datasets`).
    hidden : hidden widths of every network on it.
    epochs, batch_size, lr : training budget and SGD learning rate of every run on it.
    train_samples : train on this many samples of the training split (a stratified
        seeded subset, ``RunConfig.train_samples``); ``None`` = all.
    calibration_sd : seed-to-seed standard deviation of dense accuracy (mean of the last
        5 epochs) measured on this dataset in calibration runs; the margin is a multiple of it.
    """

    name: str
    hidden: tuple
    epochs: int
    batch_size: int
    lr: float
    train_samples: int | None
    calibration_sd: float


_SETTING_KEYS = ("hidden", "epochs", "batch_size", "lr", "train_samples", "calibration_sd")


def dataset_settings(datasets: Mapping[str, Mapping[str, Any]]) -> list[DatasetSetting]:
    """The :class:`DatasetSetting` of every entry of a ``datasets`` parameter (name -> fields), in order.

    Raises
    ------
    TypeError, ValueError
        For a missing or unknown field or a value out of range (named).
    """
    if not isinstance(datasets, Mapping) or not datasets:
        raise TypeError(f"parameter datasets must be a non-empty mapping of dataset name -> settings, got {datasets!r}")
    out = []
    for name, fields in datasets.items():
        check_str("datasets key", name)
        if not isinstance(fields, Mapping):
            raise TypeError(f"parameter datasets[{name!r}] must be a mapping with keys {list(_SETTING_KEYS)}, got {fields!r}")
        unknown = sorted(set(fields) - set(_SETTING_KEYS))
        missing = [k for k in _SETTING_KEYS if k not in fields]
        if unknown or missing:
            raise ValueError(f"parameter datasets[{name!r}]: unknown keys {unknown}, missing keys {missing} "
                             f"(expected {list(_SETTING_KEYS)})")
        p = f"datasets[{name!r}]"
        out.append(DatasetSetting(
            name=name,
            hidden=check_sequence(f"{p}.hidden", fields["hidden"], lambda n, v: check_int(n, v, minimum=1)),
            epochs=check_int(f"{p}.epochs", fields["epochs"], minimum=2 * K_LAST),
            batch_size=check_int(f"{p}.batch_size", fields["batch_size"], minimum=1),
            lr=check_real(f"{p}.lr", fields["lr"], minimum=0, exclusive_minimum=True),
            train_samples=None if fields["train_samples"] is None else check_int(
                f"{p}.train_samples", fields["train_samples"], minimum=1),
            calibration_sd=check_real(f"{p}.calibration_sd", fields["calibration_sd"], minimum=0),
        ))
    return out


def arm_configs(setting: DatasetSetting, densities: Sequence[float], seeds: Sequence[int], *,
                lr_schedule: str, dropout: float, backend: str) -> list[RunConfig]:
    """Run configurations of one dataset: dense, dense + dropout, then static by increasing density.

    Every run shares the widths, epochs, batch size, learning rate and schedule;
    seeds are innermost. A run's ``seed`` draws its weights, batch order, dropout
    masks and (static arms) its mask, so the seeds of an arm are independent
    runs. Topology snapshots are kept at the first and last epoch only.
    """
    densities = sorted(float(d) for d in densities)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be non-empty and distinct, got {seeds}")
    if len(set(densities)) != len(densities) or any(not 0 < d < 1 for d in densities):
        raise ValueError(f"densities must be distinct and in (0, 1), got {densities}")
    base = dict(dataset=setting.name, hidden=tuple(setting.hidden), epochs=setting.epochs,
                batch_size=setting.batch_size, lr=setting.lr, lr_schedule=lr_schedule, snapshot_every=setting.epochs)
    if setting.train_samples is not None:
        base["train_samples"] = setting.train_samples
    configs = [RunConfig(method="dense", seed=s, **base) for s in seeds]
    configs += [RunConfig(method="dense", dropout=dropout, seed=s, **base) for s in seeds]
    configs += [RunConfig(method="static", epsilon=None, density=d, backend=backend, seed=s, **base)
                for d in densities for s in seeds]
    return configs


def arm_of(config: RunConfig) -> str:
    """The arm a run belongs to (:data:`DENSE`, :data:`DROPOUT` or :func:`static_arm`)."""
    if config.method == "dense":
        return DROPOUT if config.dropout > 0 else DENSE
    return static_arm(config.density)


def study_configs(params: "Parameters") -> list[RunConfig]:
    """Every run of the study, dataset by dataset in the order of ``params.datasets``."""
    return [c for s in params.settings for c in arm_configs(
        s, params.densities, params.seeds, lr_schedule=params.lr_schedule, dropout=params.dropout,
        backend=params.backend)]


# ---------------------------------------------------------------------------
# per-run and per-arm tables
# ---------------------------------------------------------------------------


def results_table(configs: Sequence[RunConfig], root: str | os.PathLike | None = None, *,
                  k: int = K_LAST, threshold: float = CONVERGENCE_THRESHOLD) -> pd.DataFrame:
    """One row per finished run of ``configs``.

    Columns: ``dataset, arm, method, density`` (per-layer density of the hidden layers,
    NaN for dense), ``dropout, seed, acc`` (mean test accuracy of the last ``k`` epochs), ``train_acc``
    (the same on the training samples, measured during the epoch),
    ``final_acc, best_acc, converged, moved`` (last-``k`` mean minus the ``k`` before),
    ``epochs, n_weights`` (edges over all layers), ``weight_fraction`` (of the dense
    network's weights), ``train_seconds, run_id``.
    """
    rows = []
    for config in configs:
        run = store.load_run(store.run_directory(config, root))
        curve = [float(r["test_acc"]) for r in run.records]
        widths = run.summary["widths"]
        dense_weights = sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1))
        edges = sum(int(e) for e in run.summary["edges"])
        if len(curve) >= 2 * k:
            conv = V.convergence(curve, k=k, threshold=threshold)
            converged, moved = conv.converged, conv.moved
        else:
            converged, moved = False, math.nan
        rows.append({
            "dataset": config.dataset,
            "arm": arm_of(config),
            "method": config.method,
            "density": math.nan if config.density is None else float(config.density),
            "dropout": float(config.dropout),
            "seed": int(config.seed),
            "acc": V.last_k_mean(curve, min(k, len(curve))),
            "train_acc": V.last_k_mean([float(r["train_acc"]) for r in run.records], min(k, len(curve))),
            "final_acc": curve[-1],
            "best_acc": max(curve),
            "converged": bool(converged),
            "moved": moved,
            "epochs": len(curve),
            "n_weights": edges,
            "weight_fraction": edges / dense_weights,
            "train_seconds": float(run.summary["train_seconds"]),
            "run_id": run.directory.name,
        })
    return pd.DataFrame(rows)


def _arm_order(arms: Sequence[str]) -> list[str]:
    static = sorted((a for a in set(arms) if a not in REFERENCES), key=lambda a: float(a.split()[1].rstrip("%")))
    return [a for a in REFERENCES if a in set(arms)] + static


def arm_table(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per dataset and arm: seeds, accuracy (mean, CI over seeds, SD), final and best, convergence.

    Columns: ``dataset, arm, density, n, acc_mean, acc_low, acc_high, acc_sd, final_mean,
    best_mean, train_mean, n_unconverged, weight_fraction``. Datasets in order of appearance, arms
    dense, dense + dropout, then static by density.
    """
    rows = []
    for dataset in dict.fromkeys(runs["dataset"]):
        part = runs[runs["dataset"] == dataset]
        for arm in _arm_order(part["arm"]):
            a = part[part["arm"] == arm]
            m, lo, hi = mean_ci(a["acc"].tolist(), confidence)
            rows.append({
                "dataset": dataset, "arm": arm, "density": float(a["density"].iloc[0]), "n": len(a),
                "acc_mean": m, "acc_low": lo, "acc_high": hi,
                "acc_sd": float(a["acc"].std(ddof=1)) if len(a) > 1 else math.nan,
                "final_mean": float(a["final_acc"].mean()), "best_mean": float(a["best_acc"].mean()),
                "train_mean": float(a["train_acc"].mean()),
                "n_unconverged": int((~a["converged"]).sum()),
                "weight_fraction": float(a["weight_fraction"].mean()),
            })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# margins and verdicts
# ---------------------------------------------------------------------------


def dataset_margin(setting: DatasetSetting, multiple: float, calibration_seeds: Sequence[int],
                   n_test: int) -> V.Margin:
    """The non-inferiority margin of a dataset, with the sentence why.

    ``multiple`` x its calibration SD, where an SD below one test sample's worth of
    accuracy (``1 / n_test``, the resolution of the measurement) counts as ``1 / n_test``.
    """
    resolution = 1.0 / int(n_test)
    sd = max(setting.calibration_sd, resolution)
    floor = (f", floored at one test sample's worth of accuracy (1/{n_test} = {resolution:.4f}), the resolution "
             f"of the measurement" if setting.calibration_sd < resolution else "")
    return V.Margin(
        multiple * sd,
        f"{multiple:g} x the seed-to-seed standard deviation ({setting.calibration_sd:.4f}) of dense accuracy "
        f"(mean of the last {K_LAST} epochs) on {setting.name} in calibration runs with seeds "
        f"{', '.join(str(s) for s in calibration_seeds)} (not the seeds compared here), same recipe{floor}",
    )


ZERO_MARGIN = V.Margin(0.0, "better than the reference at all: the whole interval above 0")


def compare(sparse: Sequence[float], reference: Sequence[float], *, claim: str, margin: V.Margin,
            confidence: float, converged: bool) -> V.Verdict:
    """Verdict on one static arm against one reference arm (accuracies over seeds).

    ``claim`` is :data:`CLAIM_MATCH` (non-inferiority with ``margin``) or
    :data:`CLAIM_BEAT` (superiority with margin 0, ``margin`` unused). The
    interval is Welch's at ``confidence`` (already Bonferroni-adjusted by the
    caller); ``converged=False`` caps the verdict at inconclusive.
    """
    ci = V.difference_ci(sparse, reference, confidence)
    if claim == CLAIM_MATCH:
        verdict = V.non_inferiority(ci.estimate, ci.ci, margin)
    elif claim == CLAIM_BEAT:
        verdict = V.superiority(ci.estimate, ci.ci, ZERO_MARGIN)
    else:
        raise ValueError(f"claim must be {CLAIM_MATCH!r} or {CLAIM_BEAT!r}, got {claim!r}")
    return V.unless_converged(verdict, converged, "an unconverged run in one of the two arms")


def aggregate(per_density: Sequence[V.Verdict]) -> tuple[int, V.Verdict]:
    """The dataset's verdict from its densities' verdicts, and the index of the deciding density.

    Holds when some density holds (the one with the highest lower bound decides);
    does not hold when every density does not hold (the one with the highest upper
    bound, the nearest to holding, is shown); otherwise inconclusive (the
    inconclusive density with the highest lower bound is shown).
    """
    if not per_density:
        raise ValueError("no densities to aggregate")

    def best(indices, key):
        return max(indices, key=lambda i: (key(per_density[i]) if not math.isnan(key(per_density[i])) else -math.inf))

    holds = [i for i, v in enumerate(per_density) if v.verdict == V.HOLDS]
    if holds:
        i = best(holds, lambda v: v.low)
    elif all(v.verdict == V.DOES_NOT_HOLD for v in per_density):
        i = best(range(len(per_density)), lambda v: v.high)
    else:
        i = best([i for i, v in enumerate(per_density) if v.verdict == V.INCONCLUSIVE], lambda v: v.low)
    return i, per_density[i]


def comparisons(runs: pd.DataFrame, margins: Mapping[str, V.Margin], *, confidence: float = 0.95) -> pd.DataFrame:
    """Every static arm against each reference arm, for both claims, per dataset.

    The interval of each difference is Welch's at ``1 - (1 - confidence) / n_densities``.

    Returns
    -------
    DataFrame
        One row per dataset, reference, density and claim: ``dataset, reference, arm, density,
        claim, estimate, low, high, margin, interval_confidence, converged, verdict, note`` and
        ``verdict_obj`` (the :class:`~sparsetopo.study.verdicts.Verdict`).
    """
    rows = []
    for dataset in dict.fromkeys(runs["dataset"]):
        part = runs[runs["dataset"] == dataset]
        static = part[part["method"] == "static"]
        densities = sorted(static["density"].unique())
        level = 1 - (1 - confidence) / len(densities)
        for reference in REFERENCES:
            ref = part[part["arm"] == reference]
            if ref.empty:
                continue
            for density in densities:
                arm = static[static["density"] == density]
                converged = bool(arm["converged"].all() and ref["converged"].all())
                for claim in (CLAIM_MATCH, CLAIM_BEAT):
                    v = compare(arm["acc"].tolist(), ref["acc"].tolist(), claim=claim, margin=margins[dataset],
                                confidence=level, converged=converged)
                    rows.append({"dataset": dataset, "reference": reference, "arm": static_arm(density),
                                 "density": float(density), "claim": claim, "estimate": v.estimate, "low": v.low,
                                 "high": v.high, "margin": v.margin, "interval_confidence": level,
                                 "converged": converged, "verdict": v.verdict, "note": v.note, "verdict_obj": v})
    return pd.DataFrame(rows)


def dataset_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset, reference and claim: the aggregated verdict (:func:`aggregate`) and its density."""
    rows = []
    for (dataset, reference, claim), part in table.groupby(["dataset", "reference", "claim"], sort=False):
        part = part.sort_values("density")
        i, v = aggregate(list(part["verdict_obj"]))
        counts = part["verdict"].value_counts()
        rows.append({"dataset": dataset, "reference": reference, "claim": claim,
                     "deciding_arm": part["arm"].iloc[i], "estimate": v.estimate, "low": v.low, "high": v.high,
                     "margin": v.margin, "verdict": v.verdict,
                     "per_density": ", ".join(f"{a}: {w}" for a, w in zip(part["arm"], part["verdict"])),
                     "n_holds": int(counts.get(V.HOLDS, 0)), "verdict_obj": v})
    return pd.DataFrame(rows)


def calibration_spread(params: "Parameters", seeds: Sequence[int]) -> pd.DataFrame:
    """Train the dense arm of every dataset with ``seeds`` and measure its seed-to-seed SD.

    This is how each ``calibration_sd`` of a profile is measured, before and apart
    from the study's runs (use seeds the study does not use). Returns ``dataset,
    n, acc_mean, acc_sd, n_unconverged``.
    """
    configs = [c for s in params.settings for c in arm_configs(
        s, [0.5], seeds, lr_schedule=params.lr_schedule, dropout=params.dropout,
        backend=params.backend) if c.method == "dense" and c.dropout == 0]
    store.sweep(configs, n_jobs=params.n_jobs, root=params.runs_root, progress=show_progress())
    runs = results_table(configs, root=params.runs_root)
    out = runs.groupby("dataset", sort=False).agg(n=("acc", "size"), acc_mean=("acc", "mean"), acc_sd=("acc", "std"),
                                                  n_unconverged=("converged", lambda c: int((~c).sum())))
    return out.reset_index()


def learning_curves(configs: Sequence[RunConfig], root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Per-epoch test accuracy of every run: ``dataset, arm, seed, epoch, test_acc``."""
    frames = []
    for config in configs:
        run = store.load_run(store.run_directory(config, root))
        frames.append(pd.DataFrame({"dataset": config.dataset, "arm": arm_of(config), "seed": config.seed,
                                    "epoch": [int(r["epoch"]) for r in run.records],
                                    "test_acc": [float(r["test_acc"]) for r in run.records]}))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``02_sparse_vs_dense`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    dataset : the dataset whose per-seed learning curves are drawn in detail (one of ``datasets``).
    datasets : dataset name -> ``{hidden, epochs, batch_size, lr, train_samples, calibration_sd}``
        (:class:`DatasetSetting`), in the order of the tables and panels.
    densities : per-layer densities of the static arms' hidden layers (distinct, in (0, 1)).
    seeds : one run per seed and arm (distinct, >= 0); at least 2.
    lr_schedule : schedule of every run's learning rate (SGD, momentum 0.9, weight decay 2e-4).
    dropout : dropout rate of the ``dense + dropout`` arm, in (0, 1).
    backend : backend of the static arms (``sparse``, ``auto`` or ``masked``; speed only).
    margin_multiple : a dataset's non-inferiority margin is this times its ``calibration_sd``.
    calibration_seeds : the seeds the ``calibration_sd`` values were measured with (none of ``seeds``).
    confidence : family-wise confidence of a dataset's verdict (Bonferroni over densities).
    """

    NOTEBOOK: ClassVar[str] = "02_sparse_vs_dense"

    datasets: Any
    densities: tuple
    seeds: tuple
    lr_schedule: str
    dropout: float
    backend: str
    margin_multiple: float
    calibration_seeds: tuple
    confidence: float

    def __post_init__(self) -> None:
        super().__post_init__()
        settings = dataset_settings(self.datasets)
        object.__setattr__(self, "_settings", settings)
        names = [s.name for s in settings]
        if self.dataset not in names:
            raise ValueError(f"parameter dataset ({self.dataset!r}) must be one of datasets {names}")
        self._set("densities", check_sequence("densities", self.densities, lambda n, v: check_real(
            n, v, minimum=0, maximum=0.999, exclusive_minimum=True), unique=True))
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), unique=True,
                                          min_length=2))
        self._set("lr_schedule", check_str("lr_schedule", self.lr_schedule, choices=("constant", "cosine", "step")))
        self._set("dropout", check_real("dropout", self.dropout, minimum=0, maximum=0.95, exclusive_minimum=True))
        self._set("backend", check_str("backend", self.backend, choices=("sparse", "auto", "masked")))
        self._set("margin_multiple", check_real("margin_multiple", self.margin_multiple, minimum=0,
                                                exclusive_minimum=True))
        self._set("calibration_seeds", check_sequence("calibration_seeds", self.calibration_seeds,
                                                      lambda n, v: check_int(n, v, minimum=0), unique=True,
                                                      min_length=2))
        shared = sorted(set(self.seeds) & set(self.calibration_seeds))
        if shared:
            raise ValueError(f"calibration_seeds must differ from seeds (the margin is fixed apart from the study's "
                             f"runs), both hold {shared}")
        self._set("confidence", check_real("confidence", self.confidence, minimum=0.5, maximum=0.999))

    @property
    def settings(self) -> list[DatasetSetting]:
        """The :class:`DatasetSetting` of every dataset, in order."""
        return self._settings

    def margins(self) -> dict[str, V.Margin]:
        """The non-inferiority margin of every dataset (:func:`dataset_margin`; reads each test split's size)."""
        from ..data import dataset_info

        return {s.name: dataset_margin(s, self.margin_multiple, self.calibration_seeds, dataset_info(s.name).n_test)
                for s in self.settings}


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``02_sparse_vs_dense`` computed (see :func:`run`).

    Attributes
    ----------
    params : the parameters; data : one row per dataset (sizes, widths, budget, preprocessing).
    configs : every run configuration; runs : :func:`results_table`; arms : :func:`arm_table`.
    comparisons : :func:`comparisons`; verdicts : :func:`dataset_verdicts`.
    curves : :func:`learning_curves`; seconds : wall time of :func:`run` (training or reading back).
    """

    params: Parameters
    data: pd.DataFrame
    configs: list
    runs: pd.DataFrame
    arms: pd.DataFrame
    comparisons: pd.DataFrame
    verdicts: pd.DataFrame
    curves: pd.DataFrame
    seconds: float


def _data_table(params: Parameters) -> pd.DataFrame:
    from ..data import dataset_info, load_dataset

    rows = []
    margins = params.margins()
    for s in params.settings:
        info = dataset_info(s.name)
        data = load_dataset(s.name)
        rows.append({"dataset": s.name, "n_features": info.n_features, "n_classes": info.n_classes,
                     "n_train": info.n_train, "train_used": s.train_samples or info.n_train, "n_test": info.n_test,
                     "preprocessing": data.preprocessing,
                     "widths": "-".join(str(w) for w in [info.n_features, *s.hidden, info.n_classes]),
                     "epochs": s.epochs, "batch_size": s.batch_size, "lr": s.lr, "calibration_sd": s.calibration_sd,
                     "margin": margins[s.name].value})
    return pd.DataFrame(rows)


def _longest_first(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """Dense runs of the biggest datasets first, so two workers finish together."""
    def cost(c: RunConfig) -> float:
        width = sum(c.hidden) * (1.0 if c.method == "dense" else 4 * float(c.density))
        return width * c.epochs * (c.train_samples or 2000) / c.batch_size ** 0.25

    return sorted(configs, key=cost, reverse=True)


def run(params: Parameters) -> Result:
    """Train (or read back from the run store) every arm of every dataset, then compare."""
    if not isinstance(params, Parameters):
        raise TypeError(f"params must be sparse_vs_dense.Parameters, got {type(params).__name__}")
    p = params
    start = time.perf_counter()
    data = _data_table(p)
    configs = study_configs(p)
    store.sweep(_longest_first(configs), n_jobs=p.n_jobs, root=p.runs_root, progress=show_progress())
    runs = results_table(configs, root=p.runs_root)
    table = comparisons(runs, p.margins(), confidence=p.confidence)
    return Result(params=p, data=data, configs=configs, runs=runs, arms=arm_table(runs, p.confidence),
                  comparisons=table, verdicts=dataset_verdicts(table), curves=learning_curves(configs, p.runs_root),
                  seconds=time.perf_counter() - start)


def _points(x: float) -> str:
    return f"{100 * x:+.2f}"


def _interval(v: V.Verdict | pd.Series) -> str:
    return f"{100 * v.estimate:+.2f} [{100 * v.low:+.2f}, {100 * v.high:+.2f}] points"


def record_findings(findings: Findings, result: Result) -> pd.DataFrame:
    """Add the notebook's claims (verdicts by the module's rule, descriptions with ``holds=None``)."""
    p, arms, runs = result.params, result.arms, result.runs
    unconverged = runs[~runs["converged"]]
    findings.claim(
        "Runs converged (last-5-epoch mean test accuracy moved < 0.1 point from the 5 epochs before)",
        measured=float(len(runs) - len(unconverged)), holds=None,
        spread=f"{len(runs) - len(unconverged)} of {len(runs)} runs; unconverged: "
        + (", ".join(f"{r.dataset} {r.arm} s{r.seed} ({100 * r.moved:+.2f} pt)" for r in unconverged.itertuples())
           or "none"),
        detail="description: convergence of every run; a verdict involving an unconverged run is capped at "
               "inconclusive")
    for s in p.settings:
        a = arms[arms["dataset"] == s.name].set_index("arm")
        d = a.loc[DENSE]
        findings.claim(
            f"Dense accuracy on {s.name} (mean of the last {K_LAST} epochs)",
            measured=float(d["acc_mean"]), holds=None,
            spread=f"[{d['acc_low']:.4f}, {d['acc_high']:.4f}] (n={int(d['n'])}); seed SD {d['acc_sd']:.4f} "
                   f"in this run vs {s.calibration_sd:.4f} in calibration; final {d['final_mean']:.4f}, "
                   f"best {d['best_mean']:.4f}",
            detail="description: the reference of the verdicts, 95% t interval over seeds")
        do = a.loc[DROPOUT]
        ci = V.difference_ci(runs[(runs["dataset"] == s.name) & (runs["arm"] == DROPOUT)]["acc"],
                             runs[(runs["dataset"] == s.name) & (runs["arm"] == DENSE)]["acc"], p.confidence)
        findings.claim(
            f"Dropout {p.dropout:g} changes dense accuracy on {s.name} by",
            measured=ci.estimate, holds=None,
            spread=f"[{ci.low:.4f}, {ci.high:.4f}] (Welch 95%); dense + dropout {do['acc_mean']:.4f}",
            detail="description: dense + dropout minus dense, mean of the last 5 epochs")
    v = result.verdicts
    for s in p.settings:
        for reference in REFERENCES:
            for claim in (CLAIM_MATCH, CLAIM_BEAT):
                row = v[(v["dataset"] == s.name) & (v["reference"] == reference) & (v["claim"] == claim)].iloc[0]
                rule = (f"non-inferiority, margin {row['margin']:.4f}" if claim == CLAIM_MATCH
                        else "superiority, margin 0")
                findings.claim_verdict(
                    f"{s.name}: some static density {claim} {reference}",
                    row["verdict_obj"],
                    spread=f"deciding arm {row['deciding_arm']}: {_interval(row['verdict_obj'])}; per density: "
                           f"{row['per_density']}",
                    detail=f"{rule}; static minus {reference} accuracy (mean of the last {K_LAST} epochs), Welch "
                           f"interval at {100 * (1 - (1 - p.confidence) / len(p.densities)):.4g}% (Bonferroni over "
                           f"{len(p.densities)} densities); holds if some density holds, does not hold if all do not")
    return findings.table()


def discussion(result: Result, notebook_seconds: float | None = None) -> str:
    """The notebook's closing "Discussion and limitations" (Markdown), its numbers from the result."""
    p, v, runs, data = result.params, result.verdicts, result.runs, result.data
    match = v[(v["reference"] == DENSE) & (v["claim"] == CLAIM_MATCH)]
    beat = v[(v["reference"] == DENSE) & (v["claim"] == CLAIM_BEAT)]
    match_do = v[(v["reference"] == DROPOUT) & (v["claim"] == CLAIM_MATCH)]

    def count(frame, word):
        names = list(frame.loc[frame["verdict"] == word, "dataset"])
        return f"{len(names)} ({', '.join(names) or 'none'})"

    lines = ["## Discussion and limitations", ""]
    lines.append(
        f"**What the runs say.** Against the dense MLP trained with the same recipe, the claim that some static "
        f"random sparse network matches or beats it (non-inferiority) holds on {count(match, V.HOLDS)}, does not "
        f"hold on {count(match, V.DOES_NOT_HOLD)} and is inconclusive on {count(match, V.INCONCLUSIVE)} of the "
        f"{len(match)} datasets. That some static network is *better* than dense (superiority) holds on "
        f"{count(beat, V.HOLDS)}. Against dense with dropout {p.dropout:g}, non-inferiority holds on "
        f"{count(match_do, V.HOLDS)} and does not hold on {count(match_do, V.DOES_NOT_HOLD)}.")
    lines.append("")
    per = []
    for r in match.itertuples():
        margin = r.margin
        capped = " (capped: an unconverged run)" if r.verdict_obj.note else ""
        per.append(f"{r.dataset}: {r.deciding_arm} {_interval(r.verdict_obj)} against margin "
                   f"{100 * margin:.2f} → {r.verdict}{capped}")
    lines.append("Deciding densities against dense: " + "; ".join(per) + ".")
    lines.append("")
    unconverged = runs[~runs["converged"]]
    lines.append(
        f"**Budgets.** {len(runs)} runs, {len(p.seeds)} independent seeds per arm; "
        + "; ".join(f"{r.dataset} {r.widths}, {r.train_used} training samples, {r.epochs} epochs"
                    for r in data.itertuples())
        + f". A {p.lr_schedule} learning-rate schedule, so the last epochs train at a small rate: a "
        f"flat curve there shows that training settled under this budget, not that a longer budget could not "
        f"change the ranking. {len(unconverged)} of {len(runs)} runs did not meet the convergence rule"
        + (" (" + ", ".join(f"{dataset} {arm}: {len(part)} of {len(p.seeds)} seeds"
                            for (dataset, arm), part in unconverged.groupby(["dataset", "arm"], sort=False)) + ")"
           if len(unconverged) else "") + ".")
    fit = []
    for dataset in dict.fromkeys(result.arms["dataset"]):
        a = result.arms[result.arms["dataset"] == dataset].set_index("arm")
        sparsest = a[a.index.str.startswith("static")].sort_values("density").iloc[0]
        fit.append(f"{dataset} {100 * a.loc[DENSE, 'train_mean']:.1f} vs {100 * sparsest['train_mean']:.1f} "
                   f"({sparsest.name})")
    lines[-1] += (" Training accuracy (mean of the last 5 epochs) of dense against the sparsest static arm: "
                  + "; ".join(fit) + ". Where a static arm has not fitted its training data, part of its gap to "
                  "dense is capacity or budget, not topology.")
    lines.append("")
    small = data[data["n_test"] < 100]
    sd = result.arms[result.arms["arm"] == DENSE].set_index("dataset")["acc_sd"]
    stand_in = [d for d in data["dataset"] if d in MICROARRAY_STAND_INS]
    subset = data[data["train_used"] < data["n_train"]]
    narrow = data[[any(int(w) < 1000 for w in ws.split("-")[1:-1]) for ws in data["widths"]]]
    lines.append(
        "**Limitations.** The margins are multiples of seed-to-seed spreads, so they are as wide as each dataset is "
        "noisy: "
        + ", ".join(f"{r.dataset} {100 * r.margin:.2f} points" for r in data.itertuples())
        + ". The seed-to-seed SD of dense accuracy in this run (calibration in brackets): "
        + ", ".join(f"{r.dataset} {100 * sd[r.dataset]:.2f} ({100 * r.calibration_sd:.2f})" for r in data.itertuples())
        + " points. A verdict of *holds* therefore means \"no worse than dense by more than the margin\", not \"equal\". "
        + (f"On {', '.join(small['dataset'])} the test split has "
           f"{', '.join(str(n) for n in small['n_test'])} samples, so one test sample is worth "
           f"{', '.join(f'{100 / n:.1f}' for n in small['n_test'])} points and the intervals are wide. "
           if len(small) else "")
        + "The best of several densities is tested, so the intervals are Bonferroni-widened; a single density "
        "chosen in advance would give narrower ones. Seeds are not paired between arms (Welch intervals). "
        + (f"The paper's Lung and CLL_SUB_111 sets are not available offline; {', '.join(stand_in)} (microarray "
           "data with few samples and thousands of features) stands in for them. " if stand_in else "")
        + (f"{', '.join(subset['dataset'])} train on a stratified subset of their training split "
           f"({', '.join(f'{r.train_used} of {r.n_train}' for r in subset.itertuples())} samples). " if len(subset)
           else "")
        + ("The hidden layers (" + "; ".join(
            f"{hidden} on {', '.join(part['dataset'])}" for hidden, part in narrow.assign(
                hidden=["-".join(w.split("-")[1:-1]) for w in narrow["widths"]]).groupby("hidden", sort=False))
           + ") are narrower than the paper's 1000-1000-1000; the `paper` profile uses the published widths and "
           "the full data. " if len(narrow) else "")
        + "Which topologies the static networks have was not compared here: independent Erdős–Rényi masks of one "
        "density are as far apart as the random baseline by construction (notebook 01 measures NNSTD).")
    lines.append("")
    total = "" if notebook_seconds is None else f" (the whole notebook {notebook_seconds / 60:.1f} minutes)"
    lines.append(f"Training or reading back the runs took {result.seconds / 60:.1f} minutes of wall time with "
                 f"{p.n_jobs} worker processes{total}.")
    return "\n".join(lines)


def describe_grid(params: Parameters) -> str:
    """One sentence on the grid of runs (from the parameters, before any run)."""
    p = params
    n = len(p.settings) * (2 + len(p.densities)) * len(p.seeds)
    return (f"{n} runs: {len(p.settings)} datasets x (dense, dense + dropout {p.dropout:g}, static at "
            f"{', '.join(f'{100 * d:g}%' for d in sorted(p.densities))} of each hidden layer's weights) x "
            f"{len(p.seeds)} seeds; SGD with momentum 0.9, weight decay 2e-4, each dataset's learning rate with a "
            f"{p.lr_schedule} schedule; static arms on the {p.backend!r} backend")


def margin_table(params: Parameters) -> pd.DataFrame:
    """Each dataset's budget and non-inferiority margin with its justification (before any run)."""
    rows = []
    margins = params.margins()
    for s in params.settings:
        m = margins[s.name]
        rows.append({"dataset": s.name, "hidden": "-".join(map(str, s.hidden)), "epochs": s.epochs,
                     "batch": s.batch_size, "lr": s.lr, "train samples": "all" if s.train_samples is None else s.train_samples,
                     "calibration SD (points)": round(100 * s.calibration_sd, 3),
                     "margin (points)": round(100 * m.value, 3), "justification": m.justification})
    return pd.DataFrame(rows)


def convergence_report(result: Result) -> pd.DataFrame:
    """Convergence per dataset and arm: runs, unconverged runs and the largest last-5 movement (points)."""
    runs = result.runs
    rows = []
    for (dataset, arm), part in runs.groupby(["dataset", "arm"], sort=False):
        bad = part[~part["converged"]]
        rows.append({"dataset": dataset, "arm": arm, "runs": len(part), "unconverged": len(bad),
                     "largest |moved| (points)": round(100 * float(part["moved"].abs().max()), 3),
                     "unconverged seeds": ", ".join(str(s) for s in bad["seed"])})
    return pd.DataFrame(rows)


def arm_report(result: Result) -> pd.DataFrame:
    """The per-arm table of the notebook, accuracies in points."""
    a = result.arms
    out = pd.DataFrame({"dataset": a["dataset"], "arm": a["arm"], "seeds": a["n"],
                        "acc (last 5)": (100 * a["acc_mean"]).round(2),
                        "95% CI": [f"[{100 * lo:.2f}, {100 * hi:.2f}]" for lo, hi in zip(a["acc_low"], a["acc_high"])],
                        "seed SD": (100 * a["acc_sd"]).round(2), "final": (100 * a["final_mean"]).round(2),
                        "best": (100 * a["best_mean"]).round(2), "train acc (last 5)": (100 * a["train_mean"]).round(2),
                        "unconverged": a["n_unconverged"],
                        "weights kept": [f"{100 * w:.3g}%" for w in a["weight_fraction"]]})
    return out


def notes(result: Result) -> dict[str, str]:
    """Sentences for the notebook: ``"grid"`` (the runs) and ``"margins"`` (each dataset's margin and why)."""
    return {"grid": describe_grid(result.params),
            "margins": "; ".join(f"{name}: {m.value:.4f} ({m.justification})"
                                 for name, m in result.params.margins().items())}


def verdict_table(result: Result) -> pd.DataFrame:
    """The per-dataset verdict table of the notebook (accuracies and differences in points)."""
    a = result.arms.set_index(["dataset", "arm"])
    rows = []
    for r in result.verdicts.itertuples():
        ref = a.loc[(r.dataset, r.reference)]
        rows.append({"dataset": r.dataset, "reference": r.reference, "claim": f"static {r.claim} {r.reference}",
                     "reference acc": f"{100 * ref['acc_mean']:.2f}",
                     "deciding arm": r.deciding_arm,
                     "difference [CI] (points)": f"{100 * r.estimate:+.2f} [{100 * r.low:+.2f}, {100 * r.high:+.2f}]",
                     "margin (points)": f"{100 * r.margin:.2f}", "verdict": r.verdict,
                     "per density": r.per_density})
    return pd.DataFrame(rows)


def claims(result: Result) -> Findings:
    """The findings of notebook ``02_sparse_vs_dense`` and the numbers behind every figure."""
    p = result.params
    findings = Findings("02_sparse_vs_dense", p.figures_dir, parameters=p.as_dict())
    findings.add_data("datasets", result.data)
    findings.add_data("arms", result.arms)
    findings.add_data("runs", result.runs)
    findings.add_data("comparisons", result.comparisons.drop(columns="verdict_obj"))
    findings.add_data("learning_curves", result.curves.groupby(["dataset", "arm", "epoch"], sort=False)["test_acc"]
                      .mean().reset_index())
    findings.add_data("execution", {"seconds": result.seconds, "n_jobs": p.n_jobs, "runs": len(result.configs)})
    record_findings(findings, result)
    return findings


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------

_VERDICT_STYLE = {V.HOLDS: dict(fill=True, marker="o"), V.INCONCLUSIVE: dict(fill=False, marker="o"),
                  V.DOES_NOT_HOLD: dict(fill=True, marker="X")}


def _panel_title(result: Result, dataset: str) -> str:
    d = result.data.set_index("dataset").loc[dataset]
    return f"{dataset}: {d['widths']}\n{d['train_used']} train samples, {d['epochs']} epochs"


def _dataset_panels(params, *, height: float):
    """``(names, fig, axes)``: one panel per dataset of ``params``, three to a row, unused panels switched off."""
    import matplotlib.pyplot as plt

    names = [s.name for s in params.settings]
    ncols = min(3, len(names))
    nrows = int(math.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, height * nrows), squeeze=False)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return names, fig, axes


def gap_figure(result: Result):
    """The summary figure: static minus reference accuracy against density, one panel per dataset."""
    from matplotlib import ticker
    from matplotlib.lines import Line2D

    p = result.params
    names, fig, axes = _dataset_panels(p, height=3.7)
    colours = dict(zip(REFERENCES, ("tab:blue", "tab:orange")))
    offsets = dict(zip(REFERENCES, (0.92, 1.08)))
    table = result.comparisons[result.comparisons["claim"] == CLAIM_MATCH]
    densities = sorted(p.densities)
    for ax, name in zip(axes.flat, names):
        part = table[table["dataset"] == name]
        margin = float(part["margin"].iloc[0])
        ax.axhspan(-100 * margin, 100 * margin, color="grey", alpha=0.15, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axhline(-100 * margin, color="black", linewidth=0.8, linestyle="--")
        for reference in REFERENCES:
            rows = part[part["reference"] == reference]
            for r in rows.itertuples():
                style = _VERDICT_STYLE[r.verdict]
                x = r.density * offsets[reference]
                ax.errorbar([x], [100 * r.estimate], yerr=[[100 * (r.estimate - r.low)], [100 * (r.high - r.estimate)]],
                            color=colours[reference], marker=style["marker"], markersize=7, capsize=3,
                            markerfacecolor=colours[reference] if style["fill"] else "white", linestyle="none")
            ax.plot(rows["density"] * offsets[reference], 100 * rows["estimate"], color=colours[reference],
                    linewidth=0.8, alpha=0.6)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.FixedLocator(densities))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{100 * v:g}%"))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.set_xlim(densities[0] * 0.6, densities[-1] * 1.6)
        ax.set_title(_panel_title(result, name), fontsize=9)
        ax.set_xlabel("density of the hidden layers")
        ax.set_ylabel("static − reference (points)")
    handles = [Line2D([], [], color=colours[r], marker="o", linestyle="none", label=f"vs {r}") for r in REFERENCES]
    handles += [Line2D([], [], color="black", marker=s["marker"], markerfacecolor="black" if s["fill"] else "white",
                       linestyle="none", label=w) for w, s in _VERDICT_STYLE.items()]
    handles += [Line2D([], [], color="black", linestyle="--", label="−margin")]
    fig.suptitle(f"Static sparse minus reference accuracy (mean of the last {K_LAST} epochs, {len(p.seeds)} seeds per arm; "
                 f"bars: {100 * (1 - (1 - p.confidence) / len(densities)):.4g}% Welch intervals)", fontsize=10)
    fig.tight_layout()
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=9, frameon=False)
    return fig


def curves_figure(result: Result):
    """Mean test accuracy per epoch of every arm, one panel per dataset (y zoomed on the last half)."""
    import seaborn as sns

    p = result.params
    names, fig, axes = _dataset_panels(p, height=3.6)
    arms = _arm_order(result.curves["arm"])
    palette = dict(zip(arms, sns.color_palette("tab10", len(arms))))
    styles = {a: ("--" if a in REFERENCES else "-") for a in arms}
    for ax, name in zip(axes.flat, names):
        part = result.curves[result.curves["dataset"] == name]
        mean = part.groupby(["arm", "epoch"])["test_acc"].mean().reset_index()
        for arm in arms:
            m = mean[mean["arm"] == arm]
            ax.plot(m["epoch"], m["test_acc"], color=palette[arm], linestyle=styles[arm], label=arm, linewidth=1.4)
        late = mean[mean["epoch"] >= mean["epoch"].max() / 2]["test_acc"]
        spread = max(float(late.max() - late.min()), 0.01)
        ax.set_ylim(float(late.min()) - 0.3 * spread, min(1.0, float(late.max()) + 0.3 * spread))
        ax.set_title(_panel_title(result, name), fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (mean over seeds)")
    fig.tight_layout()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=9,
               frameon=False)
    return fig


def seeds_figure(result: Result):
    """Accuracy of every run (dots) with the arm's mean and 95% interval, one panel per dataset."""

    p = result.params
    names, fig, axes = _dataset_panels(p, height=3.6)
    short = {DENSE: "dense", DROPOUT: "dense\n+dropout"}
    for ax, name in zip(axes.flat, names):
        arms = result.arms[result.arms["dataset"] == name].reset_index(drop=True)
        runs = result.runs[result.runs["dataset"] == name]
        for i, a in arms.iterrows():
            acc = runs[runs["arm"] == a["arm"]]["acc"].to_numpy()
            jitter = np.linspace(-0.15, 0.15, len(acc))
            ax.scatter(i + jitter, 100 * acc, s=14, color="grey", alpha=0.8, zorder=2)
            ax.errorbar([i], [100 * a["acc_mean"]], yerr=[[100 * (a["acc_mean"] - a["acc_low"])],
                                                          [100 * (a["acc_high"] - a["acc_mean"])]],
                        color="black", marker="_", markersize=18, capsize=4, zorder=3)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels([short.get(a, a.replace("static ", "")) for a in arms["arm"]], fontsize=8)
        low, high = ax.get_ylim()
        ax.set_ylim(max(low, 0.0), min(high, 100.5))
        ax.set_title(_panel_title(result, name), fontsize=9)
        ax.set_ylabel(f"test accuracy, last {K_LAST} epochs (%)")
    fig.tight_layout()
    return fig


def detail_curves_figure(result: Result):
    """Per-seed learning curves on ``params.dataset``, one panel per arm."""
    import matplotlib.pyplot as plt

    p = result.params
    part = result.curves[result.curves["dataset"] == p.dataset]
    arms = _arm_order(part["arm"])
    fig, axes = plt.subplots(1, len(arms), figsize=(3.0 * len(arms), 3.2), sharey=True, squeeze=False)
    late = part[part["epoch"] >= part["epoch"].max() / 3]["test_acc"]
    for ax, arm in zip(axes.flat, arms):
        for seed, c in part[part["arm"] == arm].groupby("seed"):
            ax.plot(c["epoch"], c["test_acc"], linewidth=1, label=f"seed {seed}")
        ax.set_title(arm, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(float(late.min()) - 0.005, min(1.0, float(late.max()) + 0.005))
    axes.flat[0].set_ylabel("test accuracy")
    fig.suptitle(_panel_title(result, p.dataset).replace("\n", ", "), fontsize=10)
    fig.tight_layout()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=8,
               frameon=False)
    return fig


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``02_sparse_vs_dense`` by name (closed: show with ``display``):
    ``gap_vs_density`` (the summary across datasets), ``accuracy_per_seed``, ``learning_curves``,
    ``learning_curves_detail``."""
    import matplotlib.pyplot as plt

    out = {"gap_vs_density": gap_figure(result), "accuracy_per_seed": seeds_figure(result),
           "learning_curves": curves_figure(result), "learning_curves_detail": detail_curves_figure(result)}
    for fig in out.values():
        plt.close(fig)
    return out
