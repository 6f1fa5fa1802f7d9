"""How SET moves sparse topologies: runs from similar and from different starts.

Notebook ``03_evolution`` calls one function of this module per step.

Design (:func:`experiment_configs`)
-----------------------------------
One *shared run* (topology seed ``s``, training seed ``s``) belongs to all
three settings; each setting then changes one thing about it:

``a`` same start
    the same initial topology, other training seeds (weights, batch order,
    SET regrowth);
``b`` 1 %-perturbation chain (the setting of the paper's Fig. 4)
    the same training seed, initial topology ``i`` of a chain in which each
    network moves 1 % of the previous one's edges
    (:func:`sparsetopo.perturbation.perturbation_chain`), saved under the
    runs root and passed as ``RunConfig.initial_topology``;
``c`` independent starts
    the same training seed, independent random initial topologies (other
    topology seeds).

Static sparse (fixed random masks) and dense runs of the same shape and
hyperparameters, with other seeds, are the accuracy references.

Analysis
--------
:func:`snapshots` lists every saved topology of every SET run;
:func:`pairwise_nnstd` of all of them gives one matrix from which
:func:`between_runs` (distance between the runs of a setting at each epoch),
:func:`to_start` (each run's distance to its own initial topology) and
:func:`matrix_at` (all runs at one epoch) are read, and on which
:func:`sparsetopo.nnstd.pairwise.mds_embedding` embeds. :func:`divergence_summary`,
:func:`accuracy_summary` and :func:`add_claims` turn them into the
notebook's findings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..store.config import RunConfig, run_id
from ..nnstd.pairwise import DistanceMatrix
from ..topology.masks import save_topology

__all__ = [
    "SETTINGS",
    "SHARED_LABEL",
    "Experiment",
    "setting_name",
    "group_name",
    "run_widths",
    "experiment_configs",
    "train_experiment",
    "snapshots",
    "between_runs",
    "to_start",
    "matrix_at",
    "pick_epochs",
    "explored_frame",
    "accuracy_frame",
    "divergence_summary",
    "accuracy_summary",
    "add_claims",
]

#: Setting key -> what its runs share and what they change.
SETTINGS = {
    "a": "same start, other seeds",
    "b": "1%-perturbation chain",
    "c": "independent starts",
}
SHARED_LABEL = "abc0"


@dataclass(frozen=True)
class Experiment:
    """Configurations of the SET-trajectory experiment.

    Attributes
    ----------
    configs : dict
        Run label -> :class:`~sparsetopo.store.config.RunConfig`, each run once:
        ``"abc0"`` (the shared run), ``"a1"``, ..., ``"b1"``, ..., ``"c1"``,
        ..., ``"static0"``, ..., ``"dense0"``, ...
    groups : dict
        Run label -> ``"a"``, ``"b"``, ``"c"``, ``"shared"``, ``"static"`` or
        ``"dense"``.
    settings : dict
        Setting key (``"a"``, ``"b"``, ``"c"``) -> labels of its SET runs,
        the shared run first.
    widths : tuple of int
        Layer widths, input first.
    chain_fraction : float
        Edges moved per step of setting b's chain.
    """

    configs: dict
    groups: dict
    settings: dict
    widths: tuple
    chain_fraction: float = 0.01
    chain_paths: tuple = field(default=())

    def set_labels(self) -> list[str]:
        """Labels of the SET runs, each once, the shared run first."""
        return [label for label, group in self.groups.items() if group in ("shared", *SETTINGS)]

    def table(self) -> pd.DataFrame:
        """One row per run: label, group, method, seeds, run id."""
        rows = []
        for label, config in self.configs.items():
            rows.append({"label": label, "group": self.groups[label], "method": config.method, "seed": config.seed,
                         "topology_seed": config.effective_topology_seed,
                         "initial_topology": Path(config.initial_topology).name if config.initial_topology else "",
                         "run_id": run_id(config)})
        return pd.DataFrame(rows)


def run_widths(config: RunConfig) -> list[int]:
    """Layer widths of a config's network: features, hidden widths, classes (read from the data)."""
    from ..data import dataset_info

    return dataset_info(config.dataset, validation_fraction=config.validation_fraction).widths(config.hidden)


def experiment_configs(
    base: RunConfig,
    *,
    n_runs: int,
    runs_root: str | os.PathLike,
    chain_fraction: float = 0.01,
    n_reference_seeds: int | None = None,
    reference_snapshot_every: int | None = None,
) -> Experiment:
    """Configurations of settings a, b, c and of the static and dense references.

    Parameters
    ----------
    base : RunConfig
        A SET config (dataset, widths, ε, epochs, lr, snapshots ...); its
        ``seed`` seeds the shared run (topology and training).
    n_runs : int
        SET runs per setting, the shared run included (>= 2).
    runs_root : path
        Run store; setting b's initial topologies are saved in its
        ``initial_topologies`` folder.
    chain_fraction : float
        Fraction of edges moved per step of setting b's chain.
    n_reference_seeds : int, optional
        Static and dense runs each (default ``n_runs``), seeds
        ``base.seed + i``.
    reference_snapshot_every : int, optional
        ``snapshot_every`` of the static and dense runs (default: RunConfig's
        default, so that other notebooks' runs of the same shape are shared).

    Returns
    -------
    Experiment
    """
    from ..topology.masks import perturbation_chain
    from ..training.loop import initial_masks

    if base.method != "set":
        raise ValueError(f"base must be a SET config (method='set'), got method={base.method!r}")
    if base.initial_topology is not None:
        raise ValueError("base must draw its own initial topology (initial_topology=None)")
    if n_runs < 2:
        raise ValueError(f"n_runs must be >= 2 (runs per setting, the shared run included), got {n_runs}")
    s = base.seed
    shared = base.replace(topology_seed=s, seed=s)
    configs = {SHARED_LABEL: shared}
    groups = {SHARED_LABEL: "shared"}
    settings = {key: [SHARED_LABEL] for key in SETTINGS}
    for i in range(1, n_runs):
        configs[f"a{i}"] = shared.replace(seed=s + i)
        groups[f"a{i}"] = "a"
        settings["a"].append(f"a{i}")

    widths = run_widths(base)
    chain = perturbation_chain(initial_masks(shared, widths), n_runs - 1, fraction=chain_fraction, seed=s)
    folder = Path(runs_root) / "initial_topologies"
    paths = []
    for i in range(1, n_runs):
        path = folder / f"{run_id(shared)}-chain{chain_fraction:g}-step{i:02d}.npz"
        save_topology(path, chain[i], chain_step=i, chain_fraction=chain_fraction, start=run_id(shared))
        paths.append(path)
        configs[f"b{i}"] = shared.replace(initial_topology=str(path))
        groups[f"b{i}"] = "b"
        settings["b"].append(f"b{i}")
    for i in range(1, n_runs):
        configs[f"c{i}"] = shared.replace(topology_seed=s + i)
        groups[f"c{i}"] = "c"
        settings["c"].append(f"c{i}")

    n_ref = n_runs if n_reference_seeds is None else int(n_reference_seeds)
    snapshot_every = RunConfig().snapshot_every if reference_snapshot_every is None else int(reference_snapshot_every)
    for method in ("static", "dense"):
        for i in range(n_ref):
            ref = base.replace(method=method, seed=s + i, topology_seed=None, snapshot_every=snapshot_every,
                               snapshot_epochs=None)
            configs[f"{method}{i}"] = ref
            groups[f"{method}{i}"] = method
    return Experiment(configs=configs, groups=groups, settings={k: tuple(v) for k, v in settings.items()},
                      widths=tuple(widths), chain_fraction=float(chain_fraction), chain_paths=tuple(paths))


def train_experiment(experiment: Experiment, *, runs_root: str | os.PathLike, n_jobs: int = 1,
                     progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Train every run of the experiment through the run store (finished runs are reused).

    Returns
    -------
    frame : pd.DataFrame
        :func:`sparsetopo.store.runs.sweep`'s tidy table plus ``label`` and ``group``.
    runs : dict
        Run label -> :class:`~sparsetopo.store.runs.Run`.
    """
    from ..store import runs as store

    labels = list(experiment.configs)
    configs = [experiment.configs[label] for label in labels]
    frame = store.sweep(configs, n_jobs=n_jobs, root=runs_root, progress=progress)
    runs = {label: store.load_run(store.run_directory(c, runs_root)) for label, c in zip(labels, configs)}
    label_of = {runs[label].directory.name: label for label in labels}
    frame["label"] = frame["run_id"].map(label_of)
    frame["group"] = frame["label"].map(experiment.groups)
    return frame, runs


# ---------------------------------------------------------------------------
# snapshots and distances
# ---------------------------------------------------------------------------


def snapshots(runs: dict, labels: Sequence[str], groups: dict | None = None) -> tuple[list, pd.DataFrame]:
    """Every saved topology of the given runs.

    Parameters
    ----------
    runs : run label -> :class:`~sparsetopo.store.runs.Run`
    labels : which runs, in order.
    groups : optional run label -> group, copied into the index.

    Returns
    -------
    topologies : list of topologies, run by run, epochs increasing.
    index : pd.DataFrame
        One row per topology: ``label``, ``group``, ``epoch``, ``name``
        (``"<label>@<epoch>"``).
    """
    topologies, rows = [], []
    for label in labels:
        run = runs[label]
        for epoch in run.snapshot_epochs():
            topologies.append(run.topology(epoch))
            rows.append({"label": label, "group": (groups or {}).get(label, ""), "epoch": int(epoch),
                         "name": f"{label}@{epoch}"})
    return topologies, pd.DataFrame(rows)


def setting_name(key: str) -> str:
    """``"a: same start, other seeds"`` for ``"a"``; other keys unchanged."""
    return f"{key}: {SETTINGS[key]}" if key in SETTINGS else str(key)


def group_name(group: str) -> str:
    """Legend name of a run group: settings spelled out, the shared run explained."""
    if group == "shared":
        return f"shared run ({SHARED_LABEL}: a0 = b0 = c0)"
    return setting_name(group)


def pick_epochs(index: pd.DataFrame, n: int = 4) -> list[int]:
    """Up to ``n`` snapshot epochs common to all runs: the first, the second, then evenly up to the last."""
    common = sorted(set.intersection(*(set(part["epoch"]) for _, part in index.groupby("label"))))
    if len(common) <= n:
        return common
    rest = common[2:]
    picks = [rest[int(round(i))] for i in np.linspace(0, len(rest) - 1, n - 2)]
    return sorted(set(common[:2] + picks))


def _layer_names(matrix: DistanceMatrix) -> list:
    return list(range(matrix.layers.shape[0])) + ["mean"]


def _values(matrix: DistanceMatrix, layer) -> np.ndarray:
    return matrix.mean if layer == "mean" else matrix.layers[layer]


def between_runs(matrix: DistanceMatrix, index: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """NNSTD between the runs of each setting at each common snapshot epoch.

    Parameters
    ----------
    matrix : pairwise NNSTD of the snapshots listed by ``index``.
    index : from :func:`snapshots`.
    settings : setting -> run labels.

    Returns
    -------
    pd.DataFrame
        One row per setting, epoch, pair of runs and layer (``"mean"``
        included): ``setting``, ``setting_name`` (``"a: same start, other
        seeds"``, ...), ``epoch``, ``run_1``, ``run_2``, ``layer``, ``nnstd``.
    """
    position = {(r.label, r.epoch): i for i, r in enumerate(index.itertuples())}
    rows = []
    for setting, labels in settings.items():
        epochs = sorted(set.intersection(*(set(index.loc[index["label"] == l, "epoch"]) for l in labels)))
        for epoch in epochs:
            for x in range(len(labels)):
                for y in range(x + 1, len(labels)):
                    i, j = position[(labels[x], epoch)], position[(labels[y], epoch)]
                    for layer in _layer_names(matrix):
                        rows.append({"setting": setting, "setting_name": setting_name(setting), "epoch": epoch, "run_1": labels[x], "run_2": labels[y],
                                     "layer": str(layer), "nnstd": float(_values(matrix, layer)[i, j])})
    return pd.DataFrame(rows)


def to_start(matrix: DistanceMatrix, index: pd.DataFrame) -> pd.DataFrame:
    """Each run's NNSTD to its own initial topology (epoch 0), per layer and on average.

    Returns
    -------
    pd.DataFrame
        One row per run, snapshot epoch and layer: ``label``, ``group``,
        ``epoch``, ``layer``, ``nnstd``.
    """
    rows = []
    for label, part in index.groupby("label", sort=False):
        part = part.sort_values("epoch")
        start = part.index[part["epoch"] == 0]
        if len(start) == 0:
            raise ValueError(f"run {label} has no epoch-0 snapshot")
        s = start[0]
        for i, r in part.iterrows():
            for layer in _layer_names(matrix):
                rows.append({"label": label, "group": r["group"], "epoch": int(r["epoch"]), "layer": str(layer),
                             "nnstd": float(_values(matrix, layer)[i, s])})
    return pd.DataFrame(rows)


def matrix_at(matrix: DistanceMatrix, index: pd.DataFrame, epoch: int, labels: Sequence[str] | None = None) -> DistanceMatrix:
    """The sub-matrix of the runs' snapshots at one epoch, labelled by run."""
    at = index[index["epoch"] == int(epoch)]
    if at.empty:
        raise ValueError(f"no snapshots at epoch {epoch}; epochs: {sorted(index['epoch'].unique())}")
    row_of = dict(zip(at["label"], at.index))
    labels = list(at["label"]) if labels is None else list(labels)
    missing = [l for l in labels if l not in row_of]
    if missing:
        raise ValueError(f"runs {missing} have no snapshot at epoch {epoch}")
    rows = [int(row_of[l]) for l in labels]
    sel = np.ix_(rows, rows)
    return DistanceMatrix(labels=tuple(index.loc[rows, "label"]), layers=matrix.layers[(slice(None),) + sel],
                          mean=matrix.mean[sel])


# ---------------------------------------------------------------------------
# training records
# ---------------------------------------------------------------------------


def explored_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Explored-parameter rate of the SET runs per epoch.

    The rate is the fraction of all possible connections that have been
    active at some point of the run (``explored_rate`` of the records).

    Returns
    -------
    pd.DataFrame
        ``label``, ``group``, ``epoch``, ``explored_rate`` (plus per-layer
        ``explored_rate_layer<k>``).
    """
    part = frame[frame["method"] == "set"]
    out = part[["label", "group", "epoch", "explored_rate"]].copy()
    layers = np.array(part["explored_rate_layers"].tolist())
    for k in range(layers.shape[1]):
        out[f"explored_rate_layer{k}"] = layers[:, k]
    return out.reset_index(drop=True)


def accuracy_frame(runs: dict, groups: dict) -> pd.DataFrame:
    """Final test accuracy of every run: ``label``, ``group``, ``method``, ``final_test_acc``."""
    rows = [{"label": label, "group": groups[label], "method": run.config.method,
             "final_test_acc": run.final_test_acc} for label, run in runs.items()]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# findings
# ---------------------------------------------------------------------------


def divergence_summary(between: pd.DataFrame, baseline: pd.DataFrame, layers: Sequence[int]) -> pd.DataFrame:
    """Initial and final distance between the runs of each setting, per layer, against chance.

    Parameters
    ----------
    between : from :func:`between_runs`.
    baseline : from :func:`sparsetopo.perturbation.baseline_frame`.
    layers : which layers (typically the sparse ones).

    Returns
    -------
    pd.DataFrame
        One row per setting and layer: ``setting``, ``layer``,
        ``initial`` (mean over pairs at epoch 0), ``final`` (mean at the
        last common epoch), ``final_values`` (list over pairs),
        ``baseline``, ``ratio`` = final / baseline.
    """
    base = baseline.set_index("layer")["baseline"]
    rows = []
    for setting, part in between.groupby("setting", sort=False):
        first, last = part["epoch"].min(), part["epoch"].max()
        for layer in layers:
            p = part[part["layer"] == str(layer)]
            final = p.loc[p["epoch"] == last, "nnstd"].to_numpy()
            b = float(base.loc[str(layer)])
            rows.append({"setting": setting, "layer": int(layer),
                         "initial": float(p.loc[p["epoch"] == first, "nnstd"].mean()),
                         "final": float(final.mean()), "final_values": final.tolist(), "final_epoch": int(last),
                         "baseline": b, "ratio": float(final.mean() / b) if b > 0 else float("nan")})
    return pd.DataFrame(rows)


def accuracy_summary(accuracy: pd.DataFrame) -> dict[str, Any]:
    """SET against static and dense final test accuracy.

    Returns
    -------
    dict
        ``set`` / ``static`` / ``dense``: lists of final accuracies;
        ``min_set_minus_static`` = worst SET run minus the static mean;
        ``set_minus_dense`` = SET mean minus dense mean.
    """
    acc = {m: accuracy.loc[accuracy["method"] == m, "final_test_acc"].tolist() for m in ("set", "static", "dense")}
    for m, values in acc.items():
        if not values:
            raise ValueError(f"no {m} runs in the accuracy table")
    return {
        **acc,
        "min_set_minus_static": float(min(acc["set"]) - np.mean(acc["static"])),
        "set_minus_dense": float(np.mean(acc["set"]) - np.mean(acc["dense"])),
    }


def add_claims(findings, divergence: pd.DataFrame, accuracy: dict, *, margin: float, baseline_ratio: float,
               static_tolerance: float = 0.005, dense_tolerance: float = 0.01) -> None:
    """Record the notebook's claims, every number computed from the summaries.

    * per setting a and b and layer: "Final distance between SET runs from
      ... (layer k)": the final mean distance; holds when it exceeds the
      initial one by more than ``margin``;
    * per setting: "SET runs approach the random baseline (...)": final /
      baseline averaged over the layers; holds when at least
      ``baseline_ratio``;
    * "Every SET run reaches the static sparse accuracy": worst SET run minus
      the static mean; holds when >= ``-static_tolerance``;
    * "SET accuracy compared with dense": SET mean minus dense mean; holds
      when >= ``-dense_tolerance``.
    """
    from ..stats import format_mean_ci

    starts = {"a": "the same start", "b": "1%-perturbed starts", "c": "independent starts"}
    for row in divergence.itertuples():
        if row.setting not in ("a", "b"):
            continue
        findings.claim(
            f"Final distance between SET runs from {starts[row.setting]} (layer {row.layer})",
            measured=row.final, holds=row.final > row.initial + margin,
            spread=format_mean_ci(row.final_values),
            detail=f"mean NNSTD over pairs of runs at epoch {row.final_epoch} (initial {row.initial:.4f}); "
                   f"holds if final > initial + {margin}",
        )
    for setting, part in divergence.groupby("setting", sort=False):
        ratios = part["ratio"].to_numpy()
        findings.claim(
            f"SET runs approach the random baseline ({starts[setting]}, final/baseline)",
            measured=float(np.mean(ratios)), holds=bool(np.mean(ratios) >= baseline_ratio),
            spread="per layer: " + ", ".join(f"{r:.3f}" for r in ratios),
            detail=f"final mean NNSTD between runs over the random-topology baseline, averaged over layers "
                   f"{list(part['layer'])}; holds if >= {baseline_ratio}",
        )
    findings.claim(
        "Every SET run reaches the static sparse accuracy",
        measured=accuracy["min_set_minus_static"], holds=accuracy["min_set_minus_static"] >= -static_tolerance,
        spread=f"SET {format_mean_ci(accuracy['set'])}; static {format_mean_ci(accuracy['static'])}",
        detail=f"worst SET run minus mean static test accuracy; holds if >= -{static_tolerance}",
    )
    findings.claim(
        "SET accuracy compared with dense",
        measured=accuracy["set_minus_dense"], holds=accuracy["set_minus_dense"] >= -dense_tolerance,
        spread=f"SET {format_mean_ci(accuracy['set'])}; dense {format_mean_ci(accuracy['dense'])}",
        detail=f"mean SET minus mean dense test accuracy; holds if >= -{dense_tolerance}",
    )
