"""How SET moves sparse topologies: runs from similar and from different starts.

Notebook ``03_evolution`` calls the study API at the end of this module
(:class:`Parameters`, :func:`run`, :func:`claims`, :func:`figures`,
:func:`notes`), built from the steps below.

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

from ..nnstd.pairwise import DistanceMatrix
from ..parallel import show_progress
from ..store.config import RunConfig, run_id
from ..topology.masks import save_topology
from .findings import Findings
from .params import StudyParameters, check_int, check_optional, check_real, check_sequence

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
    "Parameters",
    "Result",
    "run",
    "notes",
    "claims",
    "figures",
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


def train_experiment(experiment: Experiment, *, runs_root: str | os.PathLike, n_jobs: int = 1) -> tuple[pd.DataFrame, dict]:
    """Train every run of the experiment through the run store (finished runs are reused).

    Returns
    -------
    frame : pd.DataFrame
        :func:`sparsetopo.store.runs.sweep`'s tidy table plus ``label`` and ``group``.
    runs : dict
        Run label -> :class:`~sparsetopo.store.runs.Run`.
    """
    from .. import store

    labels = list(experiment.configs)
    configs = [experiment.configs[label] for label in labels]
    frame = store.sweep(configs, n_jobs=n_jobs, root=runs_root, progress=show_progress())
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


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``03_evolution`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    seed : seed of the shared run (topology and training); other runs derive theirs from it.
    hidden : hidden widths; epsilon : Erdős–Rényi ε (> 0); zeta : SET's rewired fraction per epoch, in (0, 1).
    epochs, lr, batch_size : training of every run.
    snapshot_every : save the topology every this many epochs (>= 1).
    snapshot_epochs : explicit snapshot epochs (overrides ``snapshot_every``), or ``None``.
    runs_per_setting : SET runs per setting, the shared run included (>= 2, for pairs).
    reference_seeds : static and dense reference runs each (>= 1).
    chain_fraction : edges each chain step moves (setting b), in (0, 1].
    baseline_pairs : random topology pairs of the NNSTD baseline (>= 2).
    heatmap_epochs : snapshot epochs of the heatmaps, or ``None`` for a default pick.
    mds_seed : seed of the MDS embedding.
    divergence_margin, baseline_ratio, static_tolerance, dense_tolerance : thresholds of the findings
        (see :func:`add_claims`).
    """

    figures_dir: str = "../figures/03_evolution"
    seed: int = 0
    hidden: tuple = (256, 256)
    epsilon: float = 20.0
    zeta: float = 0.3
    epochs: int = 30
    lr: float = 0.01
    batch_size: int = 128
    snapshot_every: int = 5
    snapshot_epochs: tuple | None = (0, 1, 2, 3, 5, 10, 15, 20, 25, 30)
    runs_per_setting: int = 4
    reference_seeds: int = 3
    chain_fraction: float = 0.01
    baseline_pairs: int = 16
    heatmap_epochs: tuple | None = None
    mds_seed: int = 0
    divergence_margin: float = 0.1
    baseline_ratio: float = 0.9
    static_tolerance: float = 0.005
    dense_tolerance: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        epoch = lambda n, v: check_int(n, v, minimum=0)  # noqa: E731
        self._set("seed", check_int("seed", self.seed, minimum=0))
        self._set("hidden", check_sequence("hidden", self.hidden, lambda n, v: check_int(n, v, minimum=1)))
        self._set("epsilon", check_real("epsilon", self.epsilon, minimum=0, exclusive_minimum=True))
        self._set("zeta", check_real("zeta", self.zeta, minimum=0, exclusive_minimum=True, maximum=1))
        self._set("epochs", check_int("epochs", self.epochs, minimum=1))
        self._set("lr", check_real("lr", self.lr, minimum=0, exclusive_minimum=True))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("snapshot_every", check_int("snapshot_every", self.snapshot_every, minimum=1))
        self._set("snapshot_epochs", check_optional("snapshot_epochs", self.snapshot_epochs, lambda n, v: check_sequence(
            n, v, lambda m, e: check_int(m, e, minimum=0, maximum=self.epochs), increasing=True)))
        self._set("runs_per_setting", check_int("runs_per_setting", self.runs_per_setting, minimum=2))
        self._set("reference_seeds", check_int("reference_seeds", self.reference_seeds, minimum=1))
        self._set("chain_fraction", check_real("chain_fraction", self.chain_fraction, minimum=0,
                                               exclusive_minimum=True, maximum=1))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        self._set("heatmap_epochs", check_optional("heatmap_epochs", self.heatmap_epochs,
                                                   lambda n, v: check_sequence(n, v, epoch, unique=True)))
        self._set("mds_seed", check_int("mds_seed", self.mds_seed, minimum=0))
        self._set("divergence_margin", check_real("divergence_margin", self.divergence_margin, minimum=0))
        self._set("baseline_ratio", check_real("baseline_ratio", self.baseline_ratio, minimum=0,
                                               exclusive_minimum=True))
        self._set("static_tolerance", check_real("static_tolerance", self.static_tolerance, minimum=0))
        self._set("dense_tolerance", check_real("dense_tolerance", self.dense_tolerance, minimum=0))

    def base_config(self) -> RunConfig:
        """The shared run's configuration (every other run derives from it)."""
        return RunConfig(dataset=self.dataset, hidden=tuple(self.hidden), method="set", epsilon=self.epsilon,
                         zeta=self.zeta, epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, seed=self.seed,
                         snapshot_every=self.snapshot_every,
                         snapshot_epochs=None if self.snapshot_epochs is None else tuple(self.snapshot_epochs))


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``03_evolution`` computed (see :func:`run`).

    Attributes
    ----------
    params, base, experiment : the parameters, the shared run's config and :func:`experiment_configs`.
    frame, runs : :func:`train_experiment`.
    topologies, index : :func:`snapshots` of the SET runs; matrix : their pairwise NNSTD.
    calibration, baseline : random-topology baseline (and its :func:`~.nnstd_behaviour.baseline_frame`).
    layers : sparse layers; shown_epochs : heatmap epochs; at : epoch -> :func:`matrix_at`.
    start : :func:`to_start`; between : :func:`between_runs`; divergence : :func:`divergence_summary`.
    coords : ``(n_snapshots, 2)`` MDS embedding; explored : :func:`explored_frame`; density : network density.
    accuracy : :func:`accuracy_frame`; summary : :func:`accuracy_summary`.
    """

    params: Parameters
    base: RunConfig
    experiment: Experiment
    frame: pd.DataFrame
    runs: dict
    topologies: list
    index: pd.DataFrame
    matrix: DistanceMatrix
    calibration: Any
    baseline: pd.DataFrame
    layers: list
    shown_epochs: list
    at: dict
    start: pd.DataFrame
    between: pd.DataFrame
    divergence: pd.DataFrame
    coords: np.ndarray
    explored: pd.DataFrame
    density: float
    accuracy: pd.DataFrame
    summary: dict

    def panel_titles(self) -> dict[str, str]:
        return {**{str(k): f"layer {k}" for k in self.layers}, "mean": "network (mean over layers)"}


def run(params: Parameters) -> Result:
    """Train (or read back) every run, then compute every distance and summary the notebook shows."""
    from ..nnstd.pairwise import mds_embedding, pairwise_nnstd, random_baseline
    from ..topology.masks import total_density
    from .nnstd_behaviour import baseline_frame, sparse_layers

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be set_trajectories.Parameters, got {type(params).__name__}")
    p = params
    base = p.base_config()
    experiment = experiment_configs(base, n_runs=p.runs_per_setting, runs_root=p.runs_root,
                                    chain_fraction=p.chain_fraction, n_reference_seeds=p.reference_seeds)
    frame, runs = train_experiment(experiment, runs_root=p.runs_root, n_jobs=p.n_jobs)
    topologies, index = snapshots(runs, experiment.set_labels(), experiment.groups)
    matrix = pairwise_nnstd(topologies, labels=index["name"], n_jobs=p.n_jobs, progress=show_progress(),
                            cache_dir=p.cache_dir)
    calibration = random_baseline(topologies[0], n_pairs=p.baseline_pairs, seed=p.seed, n_jobs=p.n_jobs,
                                  cache_dir=p.cache_dir)
    baseline = baseline_frame(calibration)
    layers = sparse_layers(topologies[0])
    shown_epochs = list(p.heatmap_epochs or pick_epochs(index, n=4))
    at = {e: matrix_at(matrix, index, e, labels=experiment.set_labels()) for e in shown_epochs}
    start = to_start(matrix, index)
    start["group_name"] = start["group"].map(group_name)
    between = between_runs(matrix, index, experiment.settings)
    explored = explored_frame(frame)
    explored["group_name"] = explored["group"].map(group_name)
    accuracy = accuracy_frame(runs, experiment.groups)
    accuracy["group_name"] = accuracy["group"].map(group_name)
    return Result(params=p, base=base, experiment=experiment, frame=frame, runs=runs, topologies=topologies,
                  index=index, matrix=matrix, calibration=calibration, baseline=baseline, layers=layers,
                  shown_epochs=shown_epochs, at=at, start=start, between=between,
                  divergence=divergence_summary(between, baseline, layers),
                  coords=mds_embedding(matrix.mean, seed=p.mds_seed), explored=explored,
                  density=total_density(topologies[0]), accuracy=accuracy, summary=accuracy_summary(accuracy))


def notes(result: Result) -> dict[str, str]:
    """Sentences of measured numbers for the notebook (keys ``"design"``, ``"training"``, ``"snapshots"``,
    ``"to_start"``, ``"explored"``, ``"accuracy"``)."""
    r = result
    seconds = sum(run.summary["train_seconds"] for run in r.runs.values())
    last_epoch = int(r.start["epoch"].max())
    final_start = r.start[(r.start["epoch"] == last_epoch) & (r.start["layer"] == "mean")]["nnstd"]
    final_explored = r.explored[r.explored["epoch"] == r.explored["epoch"].max()]["explored_rate"]
    s = r.summary
    return {
        "design": f"widths {list(r.experiment.widths)}; SET snapshots at epochs {r.base.snapshot_schedule()}",
        "training": f"{len(r.runs)} runs, {seconds:.0f} s of training in total (summed over runs, as recorded when "
                    f"each was trained).",
        "snapshots": f"{len(r.topologies)} snapshots of {len(r.experiment.set_labels())} SET runs; "
                     f"sparse layers {r.layers}",
        "to_start": f"At epoch {last_epoch} the runs are {final_start.mean():.3f} (min {final_start.min():.3f}, "
                    f"max {final_start.max():.3f}) from their initial topologies; independent random topologies "
                    f"are {r.calibration.mean:.3f} apart.",
        "explored": f"After {int(r.explored['epoch'].max())} epochs SET has activated {final_explored.mean():.3f} of "
                    f"all possible connections (at any time {r.density:.3f} are active): "
                    f"{final_explored.mean() / r.density:.1f} times the density.",
        "accuracy": f"SET {np.mean(s['set']):.4f} (worst {min(s['set']):.4f}), static {np.mean(s['static']):.4f}, "
                    f"dense {np.mean(s['dense']):.4f}: worst SET run minus static mean "
                    f"{s['min_set_minus_static']:+.4f}, SET mean minus dense mean {s['set_minus_dense']:+.4f}.",
    }


def claims(result: Result) -> Findings:
    """The findings of notebook ``03_evolution`` (claims by :func:`add_claims`'s rules, and the numbers
    behind every figure); the parameters recorded are ``result.params``."""
    r, p = result, result.params
    findings = Findings("03_evolution", p.figures_dir, parameters=p.as_dict())
    first = r.at[r.shown_epochs[0]]
    findings.add_data("run_heatmaps", {"labels": first.labels, **{str(e): r.at[e].mean for e in r.shown_epochs}})
    findings.add_data("distance_to_start", r.start)
    findings.add_data("distance_between_runs", r.between)
    findings.add_data("divergence_summary", r.divergence)
    findings.add_data("mds_trajectories", r.index.assign(x=r.coords[:, 0], y=r.coords[:, 1]))
    findings.add_data("explored_rate", r.explored)
    findings.add_data("accuracy", {"final": r.accuracy,
                                   "curves": r.frame[["label", "group", "method", "epoch", "test_acc"]]})
    add_claims(findings, r.divergence, r.summary, margin=p.divergence_margin, baseline_ratio=p.baseline_ratio,
               static_tolerance=p.static_tolerance, dense_tolerance=p.dense_tolerance)
    return findings


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``03_evolution`` by name (closed: show with ``display``): ``run_heatmaps``,
    ``distance_to_start``, ``distance_between_runs``, ``mds_trajectories``, ``explored_rate``, ``accuracy``."""
    import matplotlib.pyplot as plt

    from . import figures as plots

    r, out = result, {}
    titles = r.panel_titles()
    first = r.at[r.shown_epochs[0]]
    out["run_heatmaps"] = plots.heatmap_grid(
        [r.at[e].mean for e in r.shown_epochs], [f"epoch {e}" for e in r.shown_epochs], first.labels,
        vmax=float(r.calibration.mean) * 1.05, ncols=len(r.shown_epochs),
        suptitle="NNSTD (mean over layers) between SET runs (a: same start, b: 1% chain, c: independent starts)")
    out["distance_to_start"] = plots.panels_with_baseline(
        r.start[r.start["layer"].isin(titles)], x="epoch", y="nnstd", panel="layer", hue="group_name", units="label",
        baseline=r.baseline, panel_titles=titles, xlabel="epoch", ylabel="NNSTD to the run's initial topology",
        suptitle="How far each SET run moves from its own initial topology; dashed: random topologies")
    out["distance_between_runs"] = plots.panels_with_baseline(
        r.between[r.between["layer"].isin(titles)], x="epoch", y="nnstd", panel="layer", hue="setting_name",
        baseline=r.baseline, panel_titles=titles, xlabel="epoch", ylabel="NNSTD between runs",
        suptitle="Distance between the runs of each setting (mean, 95% CI over pairs); dashed: random topologies")
    ax = plots.embedding_paths(r.coords, runs=r.index["label"], epochs=r.index["epoch"],
                               groups=r.index["group"].map(group_name),
                               title="MDS of all SET snapshots (NNSTD, mean over layers)")
    out["mds_trajectories"] = ax.figure
    ax = plots.line_with_band(r.explored, x="epoch", y="explored_rate", hue="group_name", xlabel="epoch",
                              ylabel="fraction of all possible connections ever active",
                              title="Parameters explored by SET", hline=r.density,
                              hline_label="density of the network (static mask)")
    out["explored_rate"] = ax.figure
    order = [group_name(g) for g in ("shared", "a", "b", "c", "static", "dense")]
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [1.4, 1]})
    plots.grouped_points(r.accuracy, x="group_name", y="final_test_acc", order=order, ax=axes[0], xlabel="",
                         ylabel="final test accuracy", title="Final test accuracy of every run (mean, 95% CI)")
    axes[0].tick_params(axis="x", rotation=25)
    for label in axes[0].get_xticklabels():
        label.set_horizontalalignment("right")
    plots.line_with_band(r.frame, x="epoch", y="test_acc", hue="method", ax=axes[1], xlabel="epoch",
                         ylabel="test accuracy", title="Test accuracy over training (mean, 95% CI)", marker="")
    fig.tight_layout()
    out["accuracy"] = fig
    for fig in out.values():
        plt.close(fig)
    return out
