"""Notebook ``03_evolution`` as an experiment definition: how SET moves sparse topologies (the paper's Fig. 4).

The paper's claim (C3): SET, which after every epoch prunes the fraction ζ of the weights closest to zero
and regrows as many connections at random, finds many very different topologies that all perform well.

Every run is a SET run (the dense output layer never rewired) of the published networks' shape with their
edge counts in its sparse layers, in three settings (:func:`experiment_configs`):

``b`` the 1 % chain (Fig. 4): one Erdős–Rényi network and a chain in which each network moves 1 % of the
    previous one's edges; by default one shared training seed, as the published folders ``e5_s0_w0`` ...
    ``e5_s0_w9`` suggest; ``a`` the chain's first network with independent training seeds; ``c``
    independent starts and seeds. Seeds come from disjoint blocks (``seed``, ``seed + 1000 + i``,
    ``seed + 2000 + i``).

:func:`run` trains (or reads back) every run and computes the between-run NNSTD of each setting at each
snapshot, intervals that resample networks, accuracy, and the verdicts of :mod:`.verdicts`;
:func:`claims` records them (with the notebook's headlines); :func:`context` holds the numbers the
Markdown templates in ``templates/03_evolution/`` need; the figures are drawn by
:mod:`sparsetopo.study.figures.set_trajectories`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from ..parallel import show_progress
from ..store.config import RunConfig, run_id
from ..topology.masks import save_topology
from . import run_groups as G
from . import topology_panel as TP
from . import verdicts as V
from .common import baseline_frame, baseline_value, layer_matrix, sparse_layers
from .figures.set_trajectories import figures
from .findings import Findings
from .params import StudyParameters, check_bool, check_int, check_optional, check_real, check_sequence, check_str

__all__ = ["SETTINGS", "ORDER", "PUBLISHED", "REJECTION", "K_LAST", "PANEL", "PANEL_TESTS", "Experiment",
           "setting_name", "experiment_configs", "train_experiment", "run_accuracy", "Decided", "distance_verdicts",
           "accuracy_verdicts", "sampler_ablation", "panel_verdicts", "topology_panel", "Parameters", "Result", "run", "claims", "context", "rule_context", "figures"]

#: Setting key -> what its runs share and what they change (in the order they are shown).
SETTINGS = {"b": "1% chain (Fig. 4)", "a": "one start, independent seeds", "c": "independent starts"}
ORDER = ("b", "a", "c")
#: Series names of the published networks and of the chain trained with rejection regrowth.
PUBLISHED = "published"
REJECTION = "b, rejection regrowth"
#: Regrowth samplers: ``rejection`` is the SET reference's (and the published code's), ``choice`` this library's
#: default; the ablation trains the first chain with the other one.
SAMPLERS = ("rejection", "choice")
#: Seed blocks of settings a and c (the chain uses ``seed`` or ``seed + i``).
SEED_BLOCKS = {"a": 1000, "c": 2000}
#: Accuracy: mean of the last K epochs; convergence threshold (0.1 accuracy point).
K_LAST = 5
CONVERGENCE_THRESHOLD = 0.001
DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
#: The topology panel: metric -> the layers one run's value averages ("sparse": the sparse layers; "network").
PANEL = {"in_degree_gini": "sparse", "out_degree_gini": "sparse", "dead_neurons": "network",
         "unconnected_inputs": "network", "effective_nodes": "network", "effective_paths": "network",
         "ramanujan_gap": "sparse"}
#: The panel's tested metrics: key -> (metric, null model it is tested against, rule), and the claims' words.
PANEL_TESTS = {"gini": ("in_degree_gini", "er", "superiority"),
               "unconnected": ("unconnected_inputs", "er", "superiority"),
               "spectral": ("ramanujan_gap", "degree", "equivalence")}
PANEL_CLAIMS = {
    "gini": ("SET training skews the fan-in beyond random graphs with the same edge counts",
             "in-degree Gini minus its Erdős–Rényi null, mean over sparse layers"),
    "unconnected": ("SET leaves input features unconnected that random graphs with the same edge counts connect",
                    "fraction of input features without a weight minus its Erdős–Rényi null"),
    "spectral": ("Beyond its degree sequences, a SET network's layers are as expander-like as random graphs with "
                 "the same degrees", "Ramanujan gap minus its degree-preserving null, mean over sparse layers")}
PANEL_VALUES = {"gini": "in-degree Gini (mean over sparse layers)",
                "unconnected": "fraction of input features without a weight",
                "spectral": "Ramanujan gap (mean over sparse layers)"}
#: Family-wise error rate of the panel's claims, split over them by Bonferroni.
PANEL_ALPHA = 0.05
#: Edges per network (all layers) from which the panel is spread over ``n_jobs`` processes: starting a pool costs
#: seconds, more than the whole panel of small networks.
PANEL_POOL_EDGES = 10_000


def ablation_series(sampler: str) -> str:
    """Series name of the first chain retrained with ``sampler`` regrowth (the sampler ablation)."""
    return f"b, {sampler} regrowth"


def setting_name(key: str) -> str:
    """``"b: 1% chain (Fig. 4)"`` for ``"b"``; ``"published"`` and other keys unchanged."""
    return f"{key}: {SETTINGS[key]}" if key in SETTINGS else str(key)


# ---------------------------------------------------------------------------
# the design and the runs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """Configurations of the experiment: ``configs`` (run label -> RunConfig; ``"b0"`` ... the first chain,
    ``"b1.0"`` ... the further chains, ``"a0"`` ... one start, ``"c0"`` ... independent starts, ``"s0"`` ... the
    static arm, ``"d0"`` ... the dense arm), ``settings`` (setting of :data:`ORDER` -> labels; ``"b"`` is the first
    chain), ``chains`` (every chain's labels, the first chain first), ``arms`` (``"static"``/``"dense"`` -> labels,
    when trained), the widths, the edges per layer of every start, the chain's step and seed sharing, and the first
    chain's saved topologies (step 0 first)."""

    configs: dict
    settings: dict
    widths: tuple
    layer_edges: tuple
    chain_fraction: float = 0.01
    chain_shared_seed: bool = True
    chain_paths: tuple = field(default=())
    chains: tuple = field(default=())
    arms: dict = field(default_factory=dict)

    @property
    def groups(self) -> dict:
        """Every group of runs: the settings, the further chains (``"chain 1"``, ...) and the arms."""
        extra = {f"chain {k}": labels for k, labels in enumerate(self.chains) if k > 0}
        return {**self.settings, **extra, **self.arms}

    def setting_of(self, label: str) -> str:
        return G.group_of(self.groups, label)

    def labels(self) -> list[str]:
        return G.labels_of(self.groups)

    def table(self) -> pd.DataFrame:
        """One row per run: label, setting, method, training seed, initial topology, run id."""
        rows = []
        for label in self.labels():
            config = self.configs[label]
            start = ("dense" if config.method == "dense" else
                     Path(config.initial_topology).stem.rsplit("-", 1)[-1] if config.initial_topology
                     else f"random, seed {config.effective_topology_seed}")
            rows.append({"label": label, "setting": setting_name(self.setting_of(label)), "method": config.method,
                         "training_seed": config.seed, "initial_topology": start, "run_id": run_id(config)})
        return pd.DataFrame(rows)


def _chain_paths(base: RunConfig, widths: Sequence[int], seed: int, chain_runs: int, chain_fraction: float,
                 runs_root: str | os.PathLike) -> list[Path]:
    """A chain's topologies (an Erdős–Rényi start drawn with ``seed``, then ``chain_runs - 1`` steps that each move
    ``chain_fraction`` of the previous network's edges), saved under ``runs_root/initial_topologies``."""
    from ..topology.masks import perturbation_chain, random_topology

    start = random_topology(widths, layer_edges=base.layer_edges, seed=seed)
    chain = perturbation_chain(start, chain_runs - 1, fraction=chain_fraction, seed=seed)
    folder = Path(runs_root) / "initial_topologies"
    tag = f"{base.dataset}-h{'x'.join(map(str, base.hidden))}-edges{sum(base.layer_edges)}-s{seed}"
    paths = []
    for i, masks in enumerate(chain):
        path = folder / f"{tag}-chain{chain_fraction:g}-step{i:02d}.npz"
        save_topology(path, masks, chain_step=i, chain_fraction=chain_fraction, seed=seed)
        paths.append(path)
    return paths


def experiment_configs(base: RunConfig, *, chain_runs: int, same_start_runs: int, independent_runs: int,
                       runs_root: str | os.PathLike, chain_fraction: float = 0.01, chain_shared_seed: bool = True,
                       other_epochs: int | None = None, chains: int = 1, static_runs: int = 0,
                       dense_runs: int = 0, dense_epochs: int | None = None) -> Experiment:
    """Configurations of settings b (chains), a (one start) and c (independent starts), and of the arms.

    ``base`` is a SET config with ``layer_edges`` (every layer, the dense output included); its ``seed`` seeds
    the first chain's start, the chain and (when shared) the chain's training; chain ``k`` uses ``seed + k``
    (``chains`` < 1000, so the seeds stay apart from settings a and c). Each setting needs >= 3 runs
    (network-resampling intervals). The chains' topologies are saved under ``runs_root/initial_topologies``.
    Settings a and c train ``other_epochs`` (default ``base.epochs``) with ``base``'s snapshots up to it.
    The static arm (``static_runs``, 0 or >= 3) trains setting c's first starts and seeds without rewiring for
    ``base.epochs``; the dense arm (``dense_runs``, 0 or >= 3) trains the dense network of the same shape with
    setting c's seeds for ``dense_epochs`` (default ``base.epochs``).
    """
    if base.method != "set":
        raise ValueError(f"base must be a SET config (method='set'), got method={base.method!r}")
    if base.initial_topology is not None or base.layer_edges is None:
        raise ValueError("base must give layer_edges (every layer) and no initial_topology")
    for name, n in (("chain_runs", chain_runs), ("same_start_runs", same_start_runs),
                    ("independent_runs", independent_runs)):
        if int(n) < 3:
            raise ValueError(f"{name} must be >= 3 (network-resampling intervals need three networks), got {n}")
    if not 1 <= int(chains) < 1000:
        raise ValueError(f"chains must lie in [1, 999] (chain k trains with seed + k), got {chains}")
    for name, n in (("static_runs", static_runs), ("dense_runs", dense_runs)):
        if int(n) != 0 and int(n) < 3:
            raise ValueError(f"{name} must be 0 (no arm) or >= 3 (intervals over runs need three), got {n}")
    if int(static_runs) > int(independent_runs) or int(dense_runs) > int(independent_runs):
        raise ValueError(f"the static and dense arms take setting c's seeds: static_runs ({static_runs}) and "
                         f"dense_runs ({dense_runs}) must not exceed independent_runs ({independent_runs})")
    s = int(base.seed)
    widths = run_widths(base)
    from_file = dict(layer_edges=None, topology_seed=None)
    other = int(base.epochs if other_epochs is None else other_epochs)
    if not 1 <= other <= base.epochs:
        raise ValueError(f"other_epochs must lie in [1, {base.epochs}] (the chain's epochs), got {other_epochs}")
    dense_budget = int(base.epochs if dense_epochs is None else dense_epochs)
    if not 1 <= dense_budget <= base.epochs:
        raise ValueError(f"dense_epochs must lie in [1, {base.epochs}] (the chain's epochs), got {dense_epochs}")
    shorter = dict(epochs=other, snapshot_epochs=None if base.snapshot_epochs is None else
                   tuple(e for e in base.snapshot_epochs if e <= other))
    configs, chain_labels, first_paths = {}, [], []
    for k in range(int(chains)):
        seed = s + k
        paths = _chain_paths(base, widths, seed, chain_runs, chain_fraction, runs_root)
        labels = [f"b{i}" if k == 0 else f"b{k}.{i}" for i in range(chain_runs)]
        configs.update({label: base.replace(initial_topology=str(path), seed=seed if chain_shared_seed else seed + i,
                                            **from_file) for i, (label, path) in enumerate(zip(labels, paths))})
        chain_labels.append(tuple(labels))
        first_paths = first_paths or paths
    configs.update({f"a{i}": base.replace(initial_topology=str(first_paths[0]), seed=s + SEED_BLOCKS["a"] + i,
                                          **from_file, **shorter) for i in range(same_start_runs)})
    independent = {f"c{i}": base.replace(seed=s + SEED_BLOCKS["c"] + i, topology_seed=s + SEED_BLOCKS["c"] + i,
                                         **shorter) for i in range(independent_runs)}
    configs.update(independent)
    settings = {"b": chain_labels[0], **{key: tuple(label for label in configs if label[0] == key) for key in "ac"}}
    settings = {key: settings[key] for key in ORDER}
    arms = {}
    if static_runs:
        arms["static"] = tuple(f"s{i}" for i in range(static_runs))
        configs.update({f"s{i}": independent[f"c{i}"].replace(method="static", epochs=base.epochs,
                                                             snapshot_epochs=(0,))
                        for i in range(static_runs)})
    if dense_runs:
        arms["dense"] = tuple(f"d{i}" for i in range(dense_runs))
        configs.update({f"d{i}": RunConfig(dataset=base.dataset, hidden=base.hidden, method="dense", lr=base.lr,
                                           batch_size=base.batch_size, epochs=dense_budget,
                                           seed=independent[f"c{i}"].seed, train_samples=base.train_samples,
                                           momentum=base.momentum, weight_decay=base.weight_decay,
                                           data_seed=base.data_seed, device=base.device)
                        for i in range(dense_runs)})
    return Experiment(configs=configs, settings=settings, widths=tuple(widths), layer_edges=tuple(base.layer_edges),
                      chain_fraction=float(chain_fraction), chain_shared_seed=bool(chain_shared_seed),
                      chain_paths=tuple(first_paths), chains=tuple(chain_labels), arms=arms)


def run_widths(config: RunConfig) -> list[int]:
    """Layer widths of a config's network: features, hidden widths, classes (read from the data)."""
    from ..data import dataset_info

    return dataset_info(config.dataset, validation_fraction=config.validation_fraction).widths(config.hidden)


def train_experiment(experiment: Experiment, *, runs_root: str | os.PathLike, n_jobs: int = 1) -> tuple[pd.DataFrame, dict]:
    """Train every run through the run store (finished runs are reused): :func:`sparsetopo.store.runs.sweep`'s
    tidy table plus ``label`` and ``setting``, and run label -> :class:`~sparsetopo.store.runs.Run`."""
    from .. import store

    labels = experiment.labels()
    configs = [experiment.configs[label] for label in labels]
    frame = store.sweep(configs, n_jobs=n_jobs, root=runs_root, progress=show_progress())
    runs = {label: store.load_run(store.run_directory(c, runs_root)) for label, c in zip(labels, configs)}
    label_of = {runs[label].directory.name: label for label in labels}
    frame["label"] = frame["run_id"].map(label_of)
    frame["setting"] = frame["label"].map(experiment.setting_of)
    return frame, runs


def run_accuracy(frame: pd.DataFrame, experiment: Experiment, budget: int | None = None,
                 labels: Sequence[str] | None = None, *, k: int = K_LAST,
                 threshold: float = CONVERGENCE_THRESHOLD) -> pd.DataFrame:
    """:func:`~sparsetopo.study.run_groups.accuracy_table` of the settings' runs: last-``k`` mean, final, best and
    the plateau check (``threshold``) over the first ``budget`` epochs."""
    seeds = {label: config.seed for label, config in experiment.configs.items()}
    return G.accuracy_table(frame, experiment.settings, seeds, budget, labels, k=k, threshold=threshold)


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    """One decided claim: its name, the :class:`~sparsetopo.study.verdicts.Verdict`, how it was measured, the
    numbers beside it, its kind (``"distance"`` or ``"accuracy"``) and a short label for the figure."""

    claim: str
    verdict: V.Verdict
    detail: str
    spread: str = ""
    kind: str = "distance"
    short: str = ""


def _mean_pair(m: np.ndarray) -> float:
    return float(m[np.triu_indices(len(m), 1)].mean())


def _by_layer(matrix, sparse: Sequence[int]) -> dict[str, np.ndarray]:
    return {str(k): layer_matrix(matrix, k, sparse) for k in [*sparse, "mean"]}


def distance_verdicts(ours: dict[str, np.ndarray], published: dict[str, np.ndarray] | None,
                      same_start: np.ndarray, chain: np.ndarray, *, epoch: int, same_epoch: int, margin: V.Margin,
                      n_boot: int = 2000, seed: int = 0) -> list[Decided]:
    """The distance claims (``d`` = difference of mean pairwise NNSTD, interval by
    :func:`~sparsetopo.study.verdicts.pair_difference_ci`).

    ``ours``/``published``: layer (``"0"``, ..., ``"mean"``) -> the chain's / the published runs' matrix at
    ``epoch``: per sparse layer, equivalence and non-inferiority of ours - published within ``margin``.
    ``same_start``, ``chain``: settings a's and b's network-level matrices at ``same_epoch``: equivalence.
    """
    out = []
    detail = ("mean NNSTD over the pairs of the chain's runs minus that of the published runs; 95% bootstrap "
              "interval resampling the networks of both groups")
    for layer in [k for k in ours if k != "mean"] if published is not None else []:
        ci = V.pair_difference_ci(ours[layer], published[layer], n_boot=n_boot, seed=seed)
        where = f"layer {layer}, epoch {epoch}"
        spread = f"ours {_mean_pair(ours[layer]):.4f}, published {_mean_pair(published[layer]):.4f}"
        short = f"layer {layer}, epoch {epoch}: chain - published"
        out.append(Decided(f"The chain's SET runs end as far apart as the published runs ({where})",
                           V.equivalence(ci.estimate, ci.ci, margin), detail, spread, short=short))
        out.append(Decided(f"The chain's SET runs end at least as far apart as the published runs ({where})",
                           V.non_inferiority(ci.estimate, ci.ci, margin), detail, spread, short=short))
    ci = V.pair_difference_ci(same_start, chain, n_boot=n_boot, seed=seed)
    out.append(Decided(
        f"Runs from one start with independent seeds end as far apart as the chain's runs (epoch {same_epoch})",
        V.equivalence(ci.estimate, ci.ci, margin),
        "mean NNSTD (over sparse layers) between setting a's runs minus between the chain's runs; 95% bootstrap "
        "interval resampling networks", f"a {_mean_pair(same_start):.4f}, chain {_mean_pair(chain):.4f}",
        short=f"mean of layers, epoch {same_epoch}: one start (a) - chain (b)"))
    return out


def accuracy_verdicts(accuracy: pd.DataFrame, *, margin: V.Margin, k: int = K_LAST) -> list[Decided]:
    """Equivalence of the last-``k`` mean accuracy (Welch interval) of the chain (b) and of one start (a), each
    against independent starts (c); capped at inconclusive unless every run involved converged."""
    from ..stats import format_mean_ci

    out = []
    values = {key: part["last5"].to_numpy() for key, part in accuracy.groupby("setting")}
    converged = {key: bool(part["converged"].all()) for key, part in accuracy.groupby("setting")}
    for key, text in (("b", "the chain's runs"), ("a", "runs from one start with independent seeds")):
        if key not in values or "c" not in values:
            continue
        ci = V.difference_ci(values[key], values["c"])
        involved = accuracy["setting"].isin([key, "c"])
        unconverged = accuracy[involved & ~accuracy["converged"]]["label"].tolist()
        verdict = V.unless_converged(V.equivalence(ci.estimate, ci.ci, margin), converged[key] and converged["c"],
                                     reason=f"{len(unconverged)} of {int(involved.sum())} runs still moving: "
                                            f"{', '.join(unconverged)}")
        out.append(Decided(f"SET reaches the same accuracy from {text} as from independent starts", verdict,
                           f"mean over runs of the last-{k}-epoch mean test accuracy, setting {key} minus "
                           f"setting c; Welch 95% interval",
                           f"{key}: {format_mean_ci(values[key].tolist())}; c: {format_mean_ci(values['c'].tolist())}",
                           kind="accuracy", short=f"setting {key} - setting c"))
    return out


#: First epoch of the whole-trajectory comparison: the published networks' first snapshot (labelled 0) was saved
#: after training had begun, so it is not compared with an untrained start.
TRAJECTORY_FROM = 10
#: Family-wise error rate of the whole-trajectory claims (Bonferroni over the sparse layers) and of the arm claims
#: (Bonferroni over the comparisons).
TRAJECTORY_ALPHA = 0.05
ARMS_ALPHA = 0.05
#: Arm comparisons: (first, second, rule, claim); ``SET`` is setting c (independent starts and seeds).
ARM_COMPARISONS = (
    ("SET", "dense", "non-inferiority", "SET networks match or beat the dense network of the same shape"),
    ("SET", "dense", "superiority", "SET networks beat the dense network of the same shape"),
    ("static", "dense", "non-inferiority", "Static sparse networks match or beat the dense network of the same shape"),
    ("SET", "static", "superiority", "SET networks beat static sparse networks with the same edge counts"),
)


def window_mean(matrix: np.ndarray, n: int) -> float:
    """Mean pairwise value of every run of ``n`` consecutive networks of a chain's ``matrix``, averaged over the
    windows (``len(matrix) - n + 1`` of them): the published ten-network chain read at the size of ours.

    Raises
    ------
    ValueError
        When ``n`` is below 2 or above the number of networks.
    """
    m = np.asarray(matrix, dtype=float)
    if not 2 <= int(n) <= len(m):
        raise ValueError(f"a window needs 2 to {len(m)} networks (the matrix's size), got {n}")
    return float(np.mean([_mean_pair(m[w:w + n, w:w + n]) for w in range(len(m) - n + 1)]))


def trajectory_table(chains: dict[str, dict[int, Any]], published: dict[int, Any], sparse: Sequence[int],
                     epochs: Sequence[int]) -> pd.DataFrame:
    """Each chain's mean pairwise NNSTD against the published chain's at every epoch of ``epochs``.

    ``chains``: chain name -> epoch -> DistanceMatrix of its networks; ``published``: epoch -> DistanceMatrix of
    the published chain, read as the mean over its windows of as many consecutive networks as the chain has
    (:func:`window_mean`).

    Returns
    -------
    pd.DataFrame
        ``chain``, ``epoch``, ``layer`` (sparse layers and ``"mean"``), ``ours``, ``published``, ``gap``
        (ours minus published).
    """
    rows = []
    for name, by_epoch in chains.items():
        for e in epochs:
            for layer in [str(k) for k in sparse] + ["mean"]:
                ours = layer_matrix(by_epoch[e], layer, sparse)
                theirs = window_mean(layer_matrix(published[e], layer, sparse), len(ours))
                rows.append({"chain": name, "epoch": int(e), "layer": layer, "ours": _mean_pair(ours),
                             "published": theirs, "gap": _mean_pair(ours) - theirs})
    return pd.DataFrame(rows)


def trajectory_verdicts(table: pd.DataFrame, sparse: Sequence[int], margin: V.Margin, *,
                        alpha: float = TRAJECTORY_ALPHA) -> list[Decided]:
    """Per sparse layer: each chain's mean absolute gap to the published chain over the epochs of ``table``
    (:func:`trajectory_table`), one number per chain (the unit of replication); Student-t interval over the chains
    at the Bonferroni level over the layers; **equivalence** within ``margin`` (the gap is >= 0, so the rule reads
    whether its interval ends below the margin)."""
    family = len(sparse)
    confidence = 1 - alpha / family
    epochs = sorted(table["epoch"].unique())
    out = []
    for layer in [str(k) for k in sparse]:
        part = table[table["layer"] == layer]
        gaps = part.assign(abs_gap=part["gap"].abs()).groupby("chain")["abs_gap"].mean()
        signed = part.groupby("chain")["gap"].mean()
        ci = TP.mean_interval(gaps.to_numpy(), confidence)
        out.append(Decided(
            f"Over the whole trajectory, our chains' SET runs stay as far apart as the published runs (layer {layer}, "
            f"epochs {epochs[0]}-{epochs[-1]})", V.equivalence(ci.estimate, ci.ci, margin),
            f"per chain, the mean over epochs {', '.join(map(str, epochs))} of |mean NNSTD between the chain's runs "
            f"minus that of the published chain's windows of as many consecutive networks|; Student-t "
            f"{100 * confidence:.2f}% interval over {ci.n} chains (Bonferroni: {alpha:g} over {family} layers)",
            f"per chain {', '.join(f'{v:.4f}' for v in gaps)}; signed mean gap "
            f"{', '.join(f'{v:+.4f}' for v in signed)}", short=f"layer {layer}: mean |chain - published| over epochs"))
    return out


def arm_accuracy(frame: pd.DataFrame, experiment: Experiment, budget: int, *, k: int,
                 threshold: float) -> pd.DataFrame:
    """:func:`~sparsetopo.study.run_groups.accuracy_table` of setting c (as ``"SET"``), the static and the dense
    arm at ``budget`` epochs, with each run's training accuracy at that epoch (``train_acc``)."""
    groups = {"SET": experiment.settings["c"], **experiment.arms}
    seeds = {label: experiment.configs[label].seed for labels in groups.values() for label in labels}
    acc = G.accuracy_table(frame, groups, seeds, budget, k=k, threshold=threshold)
    at = frame[frame["epoch"] == budget].set_index("label")["train_acc"]
    return acc.assign(train_acc=acc["label"].map(at))


def arm_verdicts(acc: pd.DataFrame, margin: V.Margin, *, budget: int, k: int,
                 alpha: float = ARMS_ALPHA) -> list[Decided]:
    """The rules of :data:`ARM_COMPARISONS` on the last-``k`` mean test accuracy at ``budget`` (Welch interval at
    the Bonferroni level over the comparisons), each capped at inconclusive unless every run involved plateaued."""
    from ..stats import format_mean_ci

    present = [c for c in ARM_COMPARISONS if {c[0], c[1]} <= set(acc["setting"])]
    family = max(len(present), 1)
    confidence = 1 - alpha / family
    out = []
    for first, second, rule, claim in present:
        a = acc[acc["setting"] == first]
        b = acc[acc["setting"] == second]
        ci = V.difference_ci(a["last5"].to_numpy(), b["last5"].to_numpy(), confidence)
        involved = pd.concat([a, b])
        flat = involved[~involved["converged"]]["label"].tolist()
        verdict = V.unless_converged(V.decide(rule, ci.estimate, ci.ci, margin), not flat,
                                     reason=f"{len(flat)} of {len(involved)} runs still moving: {', '.join(flat)}")
        out.append(Decided(f"{claim} (epoch {budget})", verdict,
                           f"mean over runs of the last-{k}-epoch mean test accuracy at epoch {budget}, {first} minus "
                           f"{second}; Welch {100 * confidence:.2f}% interval (Bonferroni: {alpha:g} over {family} "
                           f"comparisons)", f"{first}: {format_mean_ci(a['last5'].tolist())}; {second}: "
                                             f"{format_mean_ci(b['last5'].tolist())}",
                           kind="accuracy", short=f"{first} - {second}, epoch {budget}"))
    return out


def sampler_ablation(experiment: Experiment, runs: dict, epochs: Sequence[int], sparse: Sequence[int],
                     published: dict[str, np.ndarray] | None, *, last_common: int, params: Parameters,
                     choice=None) -> dict:
    """The first chain trained again with the other regrowth sampler (``r0`` ...: same starts, seed, data and
    recipe; :attr:`Parameters.ablation_sampler`).

    Returns ``labels``, ``series`` (the ablation's series name), ``runs``, ``frame``, ``matrices``
    (``(series, epoch) -> DistanceMatrix``), ``intervals``, ``accuracy`` (last-``plateau_window`` mean per run,
    both samplers) and ``decided``: per sparse layer at ``last_common``, equivalence of the ablation chain with the
    published runs (when given), and at network level the choice chain minus the rejection chain, superiority.
    ``choice``: the runs' own chain's matrix at ``last_common`` (computed when not given).
    """
    from .. import store
    from ..nnstd.pairwise import pairwise_nnstd

    p, chain = params, experiment.settings["b"]
    other, series = p.ablation_sampler, ablation_series(p.ablation_sampler)
    labels = [f"r{i}" for i in range(len(chain))]
    configs = [experiment.configs[b].replace(regrow_sampler=p.ablation_sampler) for b in chain]
    frame = store.sweep(configs, n_jobs=p.n_jobs, root=p.runs_root, progress=show_progress())
    rejection = {label: store.load_run(store.run_directory(c, p.runs_root)) for label, c in zip(labels, configs)}
    matrices = {(series, int(e)): pairwise_nnstd([rejection[label].topology(e) for label in labels], labels=labels,
                                                    n_jobs=p.n_jobs, progress=show_progress(), cache_dir=p.cache_dir)
                for e in epochs}
    margin, _ = p.margins()
    decided, at = [], matrices[(series, last_common)]
    for layer in [str(k) for k in sparse] if published is not None else []:
        mine = layer_matrix(at, layer, sparse)
        ci = V.pair_difference_ci(mine, published[layer], n_boot=p.n_boot, seed=p.seed)
        decided.append(Decided(
            f"With {other} regrowth, the chain's SET runs end as far apart as the published runs "
            f"(layer {layer}, epoch {last_common})", V.equivalence(ci.estimate, ci.ci, margin),
            f"mean NNSTD over the pairs of the chain's runs trained with {other} regrowth minus that of the "
            "published runs; 95% bootstrap interval resampling the networks of both groups",
            f"ours ({other}) {_mean_pair(mine):.4f}, published {_mean_pair(published[layer]):.4f}",
            short=f"layer {layer}, epoch {last_common}: {other} chain - published"))
    if choice is None:
        choice = pairwise_nnstd([runs[label].topology(last_common) for label in chain], labels=list(chain),
                                n_jobs=p.n_jobs, progress=False, cache_dir=p.cache_dir)
    by_sampler = {p.regrow_sampler: layer_matrix(choice, "mean", sparse), other: layer_matrix(at, "mean", sparse)}
    ci = V.pair_difference_ci(by_sampler["choice"], by_sampler["rejection"], n_boot=p.n_boot, seed=p.seed)
    decided.append(Decided(
        f"The regrowth sampler changes how far apart the chain's runs end (choice minus rejection, epoch {last_common})",
        V.superiority(ci.estimate, ci.ci, margin),
        "mean NNSTD (over sparse layers) between the chain's runs with choice regrowth minus with rejection "
        "regrowth (the runs' own sampler is " + p.regrow_sampler + "); 95% bootstrap interval resampling networks",
        short=f"mean of layers, epoch {last_common}: choice chain - rejection chain"))
    rows = []
    for sampler, group in ((p.regrow_sampler, {b: runs[b] for b in chain}), (other, rejection)):
        for label, one in group.items():
            curve = [rec["test_acc"] for rec in one.records]
            conv = V.convergence(curve, k=p.plateau_window, threshold=p.plateau_threshold)
            rows.append({"sampler": sampler, "label": label, "last5": V.last_k_mean(curve, p.plateau_window),
                         "final": curve[-1], "best": max(curve), "converged": conv.converged})
    return {"labels": labels, "series": series, "runs": rejection, "frame": frame, "matrices": matrices,
            "intervals": G.interval_frame(matrices, sparse), "accuracy": pd.DataFrame(rows), "decided": decided}


def _excess(stats: pd.DataFrame, group: str, epoch: int, key: str, column: str = "excess") -> pd.Series:
    metric, null, _ = PANEL_TESTS[key]
    rows = stats[(stats["group"] == group) & (stats["epoch"] == epoch) & (stats["metric"] == metric)
                 & (stats["null"] == null)]
    return rows.set_index("run")[column]


def _panel_test(stats: pd.DataFrame, group: str, epoch: int, key: str, margin: V.Margin,
                confidence: float) -> tuple[V.Verdict, np.ndarray]:
    """The rule of ``PANEL_TESTS[key]`` on one group's excess over the null at ``epoch``, t interval over runs."""
    x = _excess(stats, group, epoch, key).to_numpy()
    ci = TP.mean_interval(x, confidence)
    return V.decide(PANEL_TESTS[key][2], ci.estimate, ci.ci, margin), x


def panel_verdicts(stats: pd.DataFrame, margins: dict[str, V.Margin], *, epoch: int, common: int | None = None,
                   alpha: float = PANEL_ALPHA) -> list[Decided]:
    """The panel's claims from :func:`~sparsetopo.study.topology_panel.run_statistics` (groups ``"c"``, ``"b"`` and
    :data:`PUBLISHED`), each on one number per run (the unit of replication), Bonferroni over the claims decided.

    Per key of :data:`PANEL_TESTS`: setting c's excess over the null at ``epoch``, Student-t interval over runs,
    superiority (Gini, unconnected inputs) or equivalence (spectral) within the key's margin; with ``common``, the
    chain's excess minus the published runs' at ``common``, Welch interval, equivalence.
    """
    family = len(PANEL_TESTS) * (1 if common is None else 2)
    confidence = 1 - alpha / family
    level = f"{100 * confidence:.2f}% interval (Bonferroni: {alpha:g} over {family} claims)"
    out = []
    for key, (metric, null, _) in PANEL_TESTS.items():
        claim, what = PANEL_CLAIMS[key]
        verdict, x = _panel_test(stats, "c", epoch, key, margins[key], confidence)
        out.append(Decided(f"{claim} ({what}; setting c, epoch {epoch})", verdict,
                           f"per run of setting c (independent starts and seeds): {what}; Student-t {level} over runs",
                           f"{len(x)} runs, SD {np.std(x, ddof=1) if len(x) > 1 else float('nan'):.4f}",
                           kind="topology", short=f"setting c, epoch {epoch}: {metric} - {null} null"))
    for key, (metric, null, _) in PANEL_TESTS.items() if common is not None else ():
        ours, theirs = _excess(stats, "b", common, key).to_numpy(), _excess(stats, PUBLISHED, common, key).to_numpy()
        ci = V.difference_ci(ours, theirs, confidence)
        out.append(Decided(f"The chain's SET runs reproduce the published runs' {PANEL_CLAIMS[key][1]} (epoch {common})",
                           V.equivalence(ci.estimate, ci.ci, margins[key]),
                           f"mean over the chain's runs minus mean over the published runs of the {PANEL_CLAIMS[key][1]}"
                           f"; Welch {level}", f"chain {ours.mean():.4f}, published {theirs.mean():.4f}",
                           kind="topology", short=f"chain - published, epoch {common}: {metric} - {null} null"))
    return out


def _panel_descriptions(stats: pd.DataFrame, epoch: int, series: Sequence[tuple[str, int]]) -> list[dict]:
    """Per tested metric: setting c at ``epoch`` minus its own static start (epoch 0), and each ``(group, epoch)``
    of ``series`` against the null (95% intervals over runs; descriptions, not verdicts)."""
    out = []
    for key in PANEL_TESTS:
        what, value = PANEL_CLAIMS[key][1], PANEL_VALUES[key]
        moved = (_excess(stats, "c", epoch, key, "value") - _excess(stats, "c", 0, key, "value")).dropna()
        ci = TP.mean_interval(moved.to_numpy())
        out.append({"claim": f"{value[0].upper()}{value[1:]} of setting c's runs at epoch {epoch} minus their static start "
                             "(epoch 0)", "measured": ci.estimate, "key": key, "kind": "static",
                    "spread": f"95% interval [{ci.low:.4f}, {ci.high:.4f}] over {ci.n} runs",
                    "detail": "a static network never changes its topology, so each run's epoch-0 topology is the "
                              "static network of its edge counts; per run, the value after training minus at epoch 0"})
        for group, e in series:
            x = _excess(stats, group, e, key)
            ci = TP.mean_interval(x.to_numpy())
            sd = _excess(stats, group, e, key, "null_sd").mean()
            out.append({"claim": f"{what[0].upper()}{what[1:]} ({setting_name(group)}, epoch {e})",
                        "measured": ci.estimate, "key": key, "kind": "null", "group": group, "epoch": e,
                        "spread": f"95% interval [{ci.low:.4f}, {ci.high:.4f}] over {ci.n} runs; the null's SD over "
                                  f"draws {sd:.4f}", "detail": "mean over runs of the value minus the null's mean"})
    return out


def topology_panel(r: dict, p: Parameters) -> dict:
    """The metric panel (:data:`PANEL`) of every SET run at its setting's snapshots and of the published runs at
    theirs, against both null models (``p.panel_draws`` draws each, cached under the runs root), reduced to one
    number per run, with the verdicts (:func:`panel_verdicts`) and descriptions."""
    from .published import PUBLISHED_RUNS

    runs, groups, epochs = dict(r["runs"]), dict(r["experiment"].settings), dict(r["setting_epochs"])
    pub = r["published"]
    if pub is not None:
        runs.update({name: Path(pub.root) / name for name in PUBLISHED_RUNS})
        groups[PUBLISHED], epochs[PUBLISHED] = PUBLISHED_RUNS, list(pub.epochs)
    jobs = p.n_jobs if sum(r["experiment"].layer_edges) >= PANEL_POOL_EDGES else 1
    frame = TP.panel_frame(runs, groups, epochs, list(PANEL), draws=p.panel_draws, seed=p.seed, n_jobs=jobs,
                           cache_dir=Path(p.runs_root) / ".cache" / "metrics")
    stats = TP.run_statistics(frame, {m: r["sparse"] if how == "sparse" else "network" for m, how in PANEL.items()})
    epoch, common = int(r["setting_epochs"]["c"][-1]), (r["last_common"] if pub is not None else None)
    series = [("b", int(r["setting_epochs"]["b"][-1]))]
    decided = panel_verdicts(stats, p.panel_margins(), epoch=epoch, common=common)
    checks = []  # setting c's rules applied to the published runs' own data (shown, not recorded as claims)
    if pub is not None:
        series += [(PUBLISHED, e) for e in sorted({common, pub.epochs[-1]})]
        confidence = 1 - PANEL_ALPHA / (2 * len(PANEL_TESTS))
        checks = [{"key": key, "epoch": e, "verdict": _panel_test(stats, PUBLISHED, e, key, margin, confidence)[0]}
                  for e in sorted({common, pub.epochs[-1]}) for key, margin in p.panel_margins().items()]
    return {"statistics": stats, "summary": TP.group_summary(stats), "epoch": epoch, "common": common,
            "decided": decided, "published_checks": checks, "descriptions": _panel_descriptions(stats, epoch, series)}


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / context / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``03_evolution``: the names, types and meanings of its ``parameters`` cell."""

    NOTEBOOK: ClassVar[str] = "03_evolution"

    seed: int
    hidden: tuple
    layer_edges: tuple | None
    zeta: float
    epochs: int
    other_epochs: int | None
    lr: float
    batch_size: int
    train_samples: int | None
    backend: str
    snapshot_epochs: tuple
    chain_runs: int
    chains: int
    regrow_sampler: str
    same_start_runs: int
    independent_runs: int
    static_runs: int
    dense_runs: int
    dense_epochs: int | None
    chain_fraction: float
    chain_shared_seed: bool
    plateau_window: int
    plateau_threshold: float
    plateau_threshold_why: str
    baseline_pairs: int
    use_published: bool
    n_boot: int
    distance_margin: float
    distance_margin_why: str
    accuracy_margin: float
    accuracy_margin_why: str
    heatmap_epochs: tuple | None
    sampler_ablation: bool
    panel_draws: int
    panel_gini_margin: float
    panel_gini_margin_why: str
    panel_unconnected_margin: float
    panel_unconnected_margin_why: str
    panel_spectral_margin: float
    panel_spectral_margin_why: str

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = lambda n, v: check_int(n, v, minimum=1)  # noqa: E731
        self._set("seed", check_int("seed", self.seed, minimum=0))
        self._set("hidden", check_sequence("hidden", self.hidden, positive))
        self._set("layer_edges", check_optional("layer_edges", self.layer_edges,
                                                lambda n, v: check_sequence(n, v, positive)))
        self._set("zeta", check_real("zeta", self.zeta, minimum=0, exclusive_minimum=True, maximum=1))
        self._set("epochs", check_int("epochs", self.epochs, minimum=2 * K_LAST))
        self._set("other_epochs", check_optional("other_epochs", self.other_epochs, lambda n, v: check_int(
            n, v, minimum=2 * K_LAST, maximum=self.epochs)))
        self._set("plateau_window", check_int("plateau_window", self.plateau_window, minimum=1))
        if 2 * self.plateau_window > min(self.epochs, self.other_epochs or self.epochs):
            raise ValueError(f"parameter plateau_window ({self.plateau_window}) needs 2 x plateau_window epochs in "
                             f"every run; epochs {self.epochs}, other_epochs {self.other_epochs}")
        self._set("lr", check_real("lr", self.lr, minimum=0, exclusive_minimum=True))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("train_samples", check_optional("train_samples", self.train_samples, positive))
        self._set("backend", check_str("backend", self.backend, choices=("masked", "sparse", "auto")))
        self._set("snapshot_epochs", check_sequence("snapshot_epochs", self.snapshot_epochs, lambda n, v: check_int(
            n, v, minimum=0, maximum=self.epochs), increasing=True))
        for name in ("chain_runs", "same_start_runs", "independent_runs"):
            self._set(name, check_int(name, getattr(self, name), minimum=3))
        self._set("chains", check_int("chains", self.chains, minimum=1, maximum=999))
        self._set("regrow_sampler", check_str("regrow_sampler", self.regrow_sampler, choices=SAMPLERS))
        for name in ("static_runs", "dense_runs"):
            value = check_int(name, getattr(self, name), minimum=0, maximum=self.independent_runs)
            if value in (1, 2):
                raise ValueError(f"parameter {name} must be 0 (no arm) or at least 3 (intervals over runs), got {value}")
            self._set(name, value)
        self._set("dense_epochs", check_optional("dense_epochs", self.dense_epochs, lambda n, v: check_int(
            n, v, minimum=2 * self.plateau_window, maximum=self.epochs)))
        self._set("plateau_threshold", check_real("plateau_threshold", self.plateau_threshold, minimum=0,
                                                  exclusive_minimum=True))
        self._set("plateau_threshold_why", check_str("plateau_threshold_why", self.plateau_threshold_why))
        self._set("chain_fraction", check_real("chain_fraction", self.chain_fraction, minimum=0,
                                               exclusive_minimum=True, maximum=1))
        for name in ("chain_shared_seed", "use_published", "sampler_ablation"):
            self._set(name, check_bool(name, getattr(self, name)))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        self._set("n_boot", check_int("n_boot", self.n_boot, minimum=100))
        for name in ("distance_margin", "accuracy_margin", *(f"panel_{k}_margin" for k in PANEL_TESTS)):
            self._set(name, check_real(name, getattr(self, name), minimum=0, exclusive_minimum=True))
        for name in ("distance_margin_why", "accuracy_margin_why", *(f"panel_{k}_margin_why" for k in PANEL_TESTS)):
            self._set(name, check_str(name, getattr(self, name)))
        self._set("panel_draws", check_int("panel_draws", self.panel_draws, minimum=2))
        self._set("heatmap_epochs", check_optional("heatmap_epochs", self.heatmap_epochs, lambda n, v: check_sequence(
            n, v, lambda m, e: check_int(m, e, minimum=0), unique=True)))

    def base_config(self, layer_edges: Sequence[int]) -> RunConfig:
        """The SET configuration every run derives from."""
        return RunConfig(dataset=self.dataset, hidden=tuple(self.hidden), method="set", layer_edges=tuple(layer_edges),
                         zeta=self.zeta, regrow_sampler=self.regrow_sampler, epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, seed=self.seed,
                         train_samples=self.train_samples, backend=self.backend,
                         snapshot_epochs=tuple(self.snapshot_epochs))

    def experiment(self, base: RunConfig) -> Experiment:
        """The experiment these parameters define around ``base`` (:meth:`base_config`)."""
        return experiment_configs(base, chain_runs=self.chain_runs, same_start_runs=self.same_start_runs,
                                  independent_runs=self.independent_runs, runs_root=self.runs_root,
                                  chain_fraction=self.chain_fraction, chain_shared_seed=self.chain_shared_seed,
                                  other_epochs=self.other_epochs, chains=self.chains, static_runs=self.static_runs,
                                  dense_runs=self.dense_runs, dense_epochs=self.dense_epochs)

    @property
    def ablation_sampler(self) -> str:
        """The regrowth sampler of the ablation (the one the runs do not use)."""
        return next(s for s in SAMPLERS if s != self.regrow_sampler)

    @property
    def accuracy_budget(self) -> int:
        """Epochs at which the accuracy of every setting is compared."""
        return self.epochs if self.other_epochs is None else min(self.epochs, self.other_epochs)

    def margins(self) -> tuple[V.Margin, V.Margin]:
        """(distance margin, accuracy margin) with their justifications."""
        return (V.Margin(self.distance_margin, self.distance_margin_why),
                V.Margin(self.accuracy_margin, self.accuracy_margin_why))

    def panel_margins(self) -> dict[str, V.Margin]:
        """Margin of each tested panel metric (:data:`PANEL_TESTS`) with its justification."""
        return {k: V.Margin(getattr(self, f"panel_{k}_margin"), getattr(self, f"panel_{k}_margin_why"))
                for k in PANEL_TESTS}


@dataclass(frozen=True, eq=False)
class Published:
    """The published networks (when the data root holds them): their folder, saved epochs, matrices
    (``("published", epoch) -> DistanceMatrix``), random baseline of their shape at the last common epoch,
    logged test accuracy, and edge counts at epoch 0 and at their last epoch."""

    root: Any
    epochs: list
    matrices: dict
    baseline: pd.DataFrame
    accuracy: pd.DataFrame
    layer_edges: dict


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``03_evolution`` computed (see :func:`run`): the runs and their learning curves
    (``frame``), each setting's shared snapshot epochs, the sparse layers, between-run matrices
    ``(setting, epoch) -> DistanceMatrix`` and their intervals (published ones included), each run's distance to
    its start, the random baseline (Erdős–Rényi with the runs' edge counts) and the degree-preserving baselines
    ``(series, epoch) -> frame`` drawn from a trained network of each series at its last epoch (the chance level
    for trained networks, whose degrees are skewed), accuracy at the compared budget (the chain's also at its own), the published
    networks, the epochs the verdicts compare at, the verdicts (``decided``), the descriptions, timings, the
    sampler ablation (:func:`sampler_ablation`) when run, and the topology panel (:func:`topology_panel`)."""

    K_LAST: ClassVar[int] = K_LAST
    PUBLISHED: ClassVar[str] = PUBLISHED
    REJECTION: ClassVar[str] = REJECTION

    params: Parameters
    base: RunConfig
    experiment: Experiment
    frame: pd.DataFrame
    runs: dict
    epochs: list
    setting_epochs: dict
    sparse: list
    matrices: dict
    intervals: pd.DataFrame
    start: pd.DataFrame
    calibration: Any
    baseline: pd.DataFrame
    degree_baselines: dict
    accuracy: pd.DataFrame
    chain_accuracy: pd.DataFrame
    published: Published | None
    last_common: int
    same_epoch: int
    decided: list
    descriptions: list
    seconds: dict
    ablation: dict | None = None
    panel: dict | None = None
    trajectory: pd.DataFrame | None = None
    arms: pd.DataFrame | None = None

    def ours(self, epoch: int, key: str = "b") -> dict[str, np.ndarray]:
        """Layer -> matrix of setting ``key`` at ``epoch`` (sparse layers and ``"mean"``)."""
        return _by_layer(self.matrices[(key, epoch)], self.sparse)

    @staticmethod
    def series_name(series: str) -> str:
        return setting_name(series)


def _descriptions(r: dict, p: Parameters) -> list[dict]:
    """Claims that are not verdicts: ratios to the random baseline, starts, accuracy, convergence."""
    out, sparse, epoch = [], r["sparse"], r["last_common"]
    pub = r["published"]
    layers = [str(k) for k in sparse] + ["mean"]
    groups = [(key, r["matrices"], r["baseline"], sorted({r["setting_epochs"][key][-1]} | ({epoch} if key == "b"
                                                                                         else set())))
              for key in ORDER]
    if pub is not None:
        groups.append((PUBLISHED, pub.matrices, pub.baseline, sorted({epoch, pub.epochs[-1]})))
    for key, matrices, baseline, epochs in groups:
        for e in epochs:
            for layer in layers:
                b = baseline_value(baseline, layer, sparse)
                ci = V.ratio_ci(layer_matrix(matrices[(key, e)], layer, sparse), b, n_boot=p.n_boot, seed=p.seed)
                whose = ("the published runs over the random baseline of their shape and edge counts" if key == PUBLISHED
                         else "the setting's runs over the random baseline")
                out.append({"claim": f"NNSTD between runs / random baseline ({setting_name(key)}, layer {layer}, "
                                     f"epoch {e})", "measured": ci.estimate,
                            "spread": f"95% CI [{ci.low:.3f}, {ci.high:.3f}] (bootstrap over {ci.n} networks)",
                            "detail": f"mean NNSTD between {whose} {b:.4f}",
                            "ratio": {"series": key, "layer": layer, "epoch": e, "ratio": ci.estimate,
                                      "low": ci.low, "high": ci.high, "baseline": b}})
                degree = r["degree_baselines"].get((key, e))
                if degree is not None:
                    d = baseline_value(degree, layer, sparse)
                    ci = V.ratio_ci(layer_matrix(matrices[(key, e)], layer, sparse), d, n_boot=p.n_boot, seed=p.seed)
                    out.append({"claim": f"NNSTD between runs / degree-preserving baseline ({setting_name(key)}, layer "
                                         f"{layer}, epoch {e})", "measured": ci.estimate,
                                "spread": f"95% CI [{ci.low:.3f}, {ci.high:.3f}] (bootstrap over {ci.n} networks)",
                                "detail": f"mean NNSTD between random networks with the in- and out-degree sequences "
                                          f"of one of these runs at epoch {e} {d:.4f} (Erdős–Rényi {b:.4f}); the "
                                          "reference for trained networks",
                                "degree_ratio": {"series": key, "layer": layer, "epoch": e, "ratio": ci.estimate,
                                                 "low": ci.low, "high": ci.high, "baseline": d}})
    first = min(r["epochs"])
    for key in ORDER:
        out.append({"claim": f"NNSTD between runs at the start ({setting_name(key)}, epoch {first})",
                    "measured": _mean_pair(layer_matrix(r["matrices"][(key, first)], "mean", sparse)), "spread": "",
                    "detail": "mean over pairs and sparse layers; the start is the design (the chain moves 1% per "
                              "step, setting a shares one start, setting c draws independent starts), so this row "
                              "describes and does not test"})
    if 1 in r["setting_epochs"]["b"]:
        spread = "" if pub is None else ("published networks at their first saved snapshot (labelled epoch 0): "
                                         f"{_mean_pair(layer_matrix(pub.matrices[(PUBLISHED, 0)], 'mean', sparse)):.4f}")
        out.append({"claim": "NNSTD between the chain's runs after one epoch of SET",
                    "measured": _mean_pair(layer_matrix(r["matrices"][("b", 1)], "mean", sparse)), "spread": spread,
                    "detail": "mean over pairs and sparse layers, after the first epoch's rewiring"})
    acc, chain = r["accuracy"], r["chain_accuracy"]
    budget, full = int(acc["epochs"].max()), int(chain["epochs"].max())
    w, threshold = p.plateau_window, p.plateau_threshold
    trajectory = r.get("trajectory")
    if trajectory is not None:
        for layer in [str(k) for k in sparse]:
            curves = trajectory[trajectory["layer"] == layer].pivot(index="epoch", columns="chain", values="ours")
            pairs = [float(np.mean(np.abs(curves[x] - curves[y]))) for i, x in enumerate(curves.columns)
                     for y in curves.columns[i + 1:]]
            out.append({"claim": f"Mean absolute gap between our chains' trajectories (layer {layer}, epochs "
                                 f"{curves.index.min()}-{curves.index.max()})", "measured": float(np.mean(pairs)),
                        "spread": f"{len(pairs)} pairs of chains: {', '.join(f'{v:.4f}' for v in pairs)}",
                        "detail": "how far two replicate chains of this design lie apart over the trajectory: the "
                                  "scale against which the gap to the published chain is read"})
    arms = r.get("arms")
    if arms is not None:
        at = int(arms["epochs"].max())
        for name, part in arms.groupby("setting", sort=False):
            out.append({"claim": f"Accuracy of the {name} arm at epoch {at} (last-{w}-epoch mean test accuracy)",
                        "measured": float(part["last5"].mean()),
                        "spread": f"{len(part)} runs, min {part['last5'].min():.4f}, max {part['last5'].max():.4f}; "
                                  f"training accuracy {part['train_acc'].mean():.4f} (min {part['train_acc'].min():.4f})"
                                  f"; plateaued {int(part['converged'].sum())} of {len(part)}",
                        "detail": "training accuracy is the running mean over the epoch's batches; a dense network "
                                  "near 1 fits its training data (the over-parameterised model of the claim)"})
    out.append({"claim": f"Range of accuracy over all {len(acc)} SET runs (last-{w}-epoch mean, epoch {budget})",
                "measured": float(acc["last5"].max() - acc["last5"].min()),
                "spread": f"min {acc['last5'].min():.4f}, max {acc['last5'].max():.4f}; final "
                          f"{acc['final'].min():.4f}-{acc['final'].max():.4f}; best "
                          f"{acc['best'].min():.4f}-{acc['best'].max():.4f}",
                "detail": f"largest minus smallest last-{w} mean test accuracy"})
    n_conv = int(acc["converged"].sum())
    unconverged = acc.loc[~acc["converged"], "label"].tolist()
    out.append({"claim": f"SET runs plateaued at epoch {budget} (last-{w} mean moved < {threshold:g} from the {w} "
                         "before)",
                "measured": float(n_conv),
                "spread": f"{n_conv} of {len(acc)}; still moving: {', '.join(unconverged) or 'none'}",
                "detail": f"largest |moved| {acc['moved'].abs().max():.4f}"})
    if full > budget:
        out.append({"claim": f"Accuracy of the chain's runs at epoch {full} (last-{w}-epoch mean)",
                    "measured": float(chain["last5"].mean()),
                    "spread": f"min {chain['last5'].min():.4f}, max {chain['last5'].max():.4f}; plateaued "
                              f"{int(chain['converged'].sum())} of {len(chain)}; largest |moved| "
                              f"{chain['moved'].abs().max():.4f}",
                    "detail": "the chain trains longer than settings a and c; described, not compared"})
    if pub is not None and len(pub.accuracy):
        part = pub.accuracy[(pub.accuracy["epoch"] > full - w) & (pub.accuracy["epoch"] <= full)]
        means = part.groupby("run")["test_acc"].mean()
        out.append({"claim": f"Published runs' logged accuracy at epochs {full - w + 1}-{full} (mean of {w})",
                    "measured": float(means.mean()), "spread": f"{len(means)} runs with logs, SD {means.std(ddof=1):.4f}",
                    "detail": "read from the published testacc.txt (full training data; the evaluation split is "
                              "not documented), for scale only: budgets differ"})
    return out


def run(params: Parameters) -> Result:
    """Train (or read back) every run, then compute every distance, interval and verdict the notebook shows."""
    from ..nnstd.pairwise import random_baseline
    from . import published as pubs

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be set_trajectories.Parameters, got {type(params).__name__}")
    p, clock = params, time.perf_counter()
    root = pubs.published_root() if p.use_published else None
    if p.layer_edges is None and root is None:
        raise ValueError("layer_edges is None (the published networks' counts) but the published networks are not "
                         "available (use_published is false or the data root lacks them); give layer_edges")
    base = p.base_config(tuple(p.layer_edges) if p.layer_edges is not None else pubs.published_layer_edges(root, 0))
    experiment = p.experiment(base)
    frame, runs = train_experiment(experiment, runs_root=p.runs_root, n_jobs=p.n_jobs)
    seconds = {"training": time.perf_counter() - clock}
    clock = time.perf_counter()
    by_setting = G.shared_snapshots(runs, experiment.settings)
    epochs = by_setting["b"]
    first_topology = runs[experiment.settings["b"][0]].topology(0)
    sparse = sparse_layers(first_topology)
    matrices = G.group_matrices(runs, experiment.settings, by_setting, n_jobs=p.n_jobs, cache_dir=p.cache_dir)
    calibration = random_baseline(first_topology, n_pairs=p.baseline_pairs, seed=p.seed, n_jobs=p.n_jobs,
                                  progress=show_progress(), cache_dir=p.cache_dir)
    published, common = None, epochs
    if root is not None and list(p.hidden) == [784, 784, 784] and p.dataset == "fashion_mnist":
        pub_epochs = list(pubs.PUBLISHED_EPOCHS)
        pub = pubs.published_pairwise(root, pub_epochs, n_jobs=p.n_jobs, cache_dir=p.cache_dir)
        common = sorted(set(epochs) & set(pub_epochs)) or epochs
        net = pubs.load_published_runs(root, [common[-1]], runs=[pubs.PUBLISHED_RUNS[0]])[common[-1]][0]
        pub_baseline = baseline_frame(random_baseline(net, n_pairs=p.baseline_pairs, seed=p.seed, n_jobs=p.n_jobs,
                                                      progress=show_progress(), cache_dir=p.cache_dir))
        published = Published(root=root, epochs=pub_epochs, matrices={(PUBLISHED, e): m for e, m in pub.items()},
                              baseline=pub_baseline, accuracy=pubs.published_accuracy(root),
                              layer_edges={e: pubs.published_layer_edges(root, e) for e in (0, pub_epochs[-1])})
    last_common = int(common[-1])
    same_epoch = G.comparable_epoch(by_setting["a"], by_setting["b"])
    trained = {(key, by_setting[key][-1]): runs[experiment.settings[key][0]].topology(by_setting[key][-1])
               for key in ORDER}
    trained[("b", last_common)] = runs[experiment.settings["b"][0]].topology(last_common)
    if published is not None:
        for e in sorted({last_common, published.epochs[-1]}):
            trained[(PUBLISHED, e)] = pubs.load_published_runs(root, [e], runs=[pubs.PUBLISHED_RUNS[0]])[e][0]
    degree_baselines = {where: baseline_frame(random_baseline(net, n_pairs=p.baseline_pairs, seed=p.seed, null="degree",
                                                              n_jobs=p.n_jobs, progress=show_progress(),
                                                              cache_dir=p.cache_dir))
                        for where, net in trained.items()}
    plateau = dict(k=p.plateau_window, threshold=p.plateau_threshold)
    r = dict(params=p, base=base, experiment=experiment, frame=frame, runs=runs, epochs=epochs,
             setting_epochs=by_setting, sparse=sparse, matrices=matrices,
             intervals=G.interval_frame({**matrices, **(published.matrices if published else {})}, sparse),
             start=G.distance_to_start(runs, experiment.settings, sparse, n_jobs=p.n_jobs, cache_dir=p.cache_dir),
             calibration=calibration, baseline=baseline_frame(calibration), degree_baselines=degree_baselines,
             accuracy=run_accuracy(frame, experiment, p.accuracy_budget, **plateau),
             chain_accuracy=run_accuracy(frame, experiment, labels=experiment.settings["b"], **plateau),
             published=published, last_common=last_common, same_epoch=same_epoch)
    ours = _by_layer(matrices[("b", last_common)], sparse)
    theirs = None if published is None else _by_layer(published.matrices[(PUBLISHED, last_common)], sparse)
    distance_margin, accuracy_margin = p.margins()
    decided = distance_verdicts(ours, theirs, layer_matrix(matrices[("a", same_epoch)], "mean", sparse),
                                layer_matrix(matrices[("b", same_epoch)], "mean", sparse), epoch=last_common,
                                same_epoch=same_epoch, margin=distance_margin, n_boot=p.n_boot, seed=p.seed)
    decided += accuracy_verdicts(r["accuracy"], margin=accuracy_margin, k=p.plateau_window)
    trajectory = None
    if published is not None and len(experiment.chains) >= 2:
        chain_epochs = sorted(set.intersection(*(set(G.shared_snapshots(runs, {"x": labels})["x"])
                                                 for labels in experiment.chains)))
        along = [e for e in chain_epochs if e in set(published.epochs) and e >= TRAJECTORY_FROM]
        groups = {f"chain {k}": labels for k, labels in enumerate(experiment.chains)}
        chain_matrices = G.group_matrices(runs, groups, {key: along for key in groups}, n_jobs=p.n_jobs,
                                          cache_dir=p.cache_dir)
        by_chain = {key: {e: chain_matrices[(key, e)] for e in along} for key in groups}
        trajectory = trajectory_table(by_chain, {e: published.matrices[(PUBLISHED, e)] for e in along}, sparse, along)
        decided += trajectory_verdicts(trajectory, sparse, distance_margin)
    arms = None
    if experiment.arms:
        arm_budget = min(int(c.epochs) for label, c in experiment.configs.items()
                         if experiment.setting_of(label) in ("c", *experiment.arms))
        arms = arm_accuracy(frame, experiment, arm_budget, **plateau)
        decided += arm_verdicts(arms, accuracy_margin, budget=arm_budget, k=p.plateau_window)
    r.update(trajectory=trajectory, arms=arms)
    descriptions = _descriptions(r, p)
    ablation = None
    if p.sampler_ablation:
        ablation = sampler_ablation(experiment, runs, epochs, sparse, theirs, last_common=last_common, params=p,
                                    choice=matrices[("b", last_common)])
        decided += ablation["decided"]
    seconds["distances"] = time.perf_counter() - clock
    clock = time.perf_counter()
    panel = topology_panel(r, p)
    seconds["panel"] = time.perf_counter() - clock
    return Result(**r, decided=decided, descriptions=descriptions, seconds=seconds, ablation=ablation, panel=panel)


def claims(result: Result) -> Findings:
    """The findings of notebook ``03_evolution``: verdicts, descriptions (``holds=None``), the numbers behind
    every figure, and the headlines that answer the paper's claim C3."""
    r, p = result, result.params
    findings = Findings("03_evolution", p.figures_dir, parameters=p.as_dict())
    for d in r.decided:
        findings.claim_verdict(d.claim, d.verdict, detail=d.detail, spread=d.spread)
    for d in r.descriptions:
        findings.claim(d["claim"], measured=d["measured"], holds=None, detail=d["detail"], spread=d["spread"])
    findings.add_data("design", {"layer_edges": list(r.experiment.layer_edges), "widths": list(r.experiment.widths),
                                 "runs": r.experiment.table().drop(columns="run_id"),
                                 "last_common_epoch": r.last_common, "sparse_layers": r.sparse})
    findings.add_data("between_runs", r.intervals)
    findings.add_data("ratios", pd.DataFrame([d["ratio"] for d in r.descriptions if "ratio" in d]))
    findings.add_data("degree_ratios", pd.DataFrame([d["degree_ratio"] for d in r.descriptions if "degree_ratio" in d]))
    findings.add_data("baseline", {"ours": r.baseline,
                                   "published": None if r.published is None else r.published.baseline})
    findings.add_data("distance_to_start", r.start)
    findings.add_data("accuracy", {"runs": r.accuracy, "curves": r.frame[["label", "setting", "epoch", "test_acc"]]})
    if r.ablation is not None:
        acc = r.ablation["accuracy"]
        mean, sd = acc.groupby("sampler")["last5"].mean(), acc.groupby("sampler")["last5"].std()
        findings.claim("Accuracy of the chain's runs by regrowth sampler (last-5 mean at the chain's last epoch, "
                       "rejection minus choice)", measured=float(mean["rejection"] - mean["choice"]), holds=None,
                       detail="a description: the sampler is not expected to change accuracy",
                       spread=f"choice {mean['choice']:.4f} (SD {sd['choice']:.4f}), rejection "
                              f"{mean['rejection']:.4f} (SD {sd['rejection']:.4f}); converged "
                              f"{int(acc['converged'].sum())} of {len(acc)}")
        findings.add_data("sampler_ablation", {"between_runs": r.ablation["intervals"], "accuracy": acc})
    if r.panel is not None:
        for d in r.panel["decided"]:
            findings.claim_verdict(d.claim, d.verdict, detail=d.detail, spread=d.spread)
        for d in r.panel["descriptions"]:
            findings.claim(d["claim"], measured=d["measured"], holds=None, detail=d["detail"], spread=d["spread"])
        findings.add_data("topology_panel", {"runs": r.panel["statistics"], "settings": r.panel["summary"]})
    if r.trajectory is not None:
        findings.add_data("trajectory", r.trajectory)
    if r.arms is not None:
        findings.add_data("arms", {"runs": r.arms, "curves": r.frame[r.frame["setting"].isin(
            ["c", *r.experiment.arms])][["label", "setting", "epoch", "test_acc", "train_acc"]]})
    findings.add_data("seconds", r.seconds)
    _headlines(r, findings)
    return findings


def _headlines(r: Result, findings: Findings) -> None:
    p = r.params
    data = "the full training split" if p.train_samples is None else f"{p.train_samples:,} samples"
    budget = f"{p.epochs}" + ("" if p.accuracy_budget == p.epochs else f"/{p.accuracy_budget}")
    setting = (f"{'-'.join(map(str, r.experiment.widths))} SET, ζ={p.zeta:g}, {DATASET_NAMES.get(p.dataset, p.dataset)}, "
               f"{budget} epochs on {data}, {'a chain' if p.chains == 1 else f'{p.chains} chains'} of {p.chain_runs} "
               f"networks {100 * p.chain_fraction:g}% apart")
    far = [d.claim for d in r.decided if d.claim.startswith("The chain's SET runs end")]  # against the published
    ratio = f"NNSTD between runs / random baseline ({setting_name('b')}, layer mean, epoch {r.last_common})"
    findings.headline("SET runs from nearly the same start end far apart in topology (C3, Fig. 4)", far or [ratio],
                      setting + (f", against the published networks (200 epochs, full data) at epoch {r.last_common}"
                                 if far else ""))
    alike = [d.claim for d in r.decided if d.claim.startswith("SET reaches the same accuracy")]
    if alike:
        findings.headline("…yet SET runs perform alike (C3)", alike, setting)
    whole = [d.claim for d in r.decided if d.claim.startswith("Over the whole trajectory")]
    if whole:
        findings.headline("Over the whole trajectory, SET chains stay as far apart as the published chain (C3, Fig. 4)",
                          whole, setting + f", each against the published chain's windows of {p.chain_runs} networks")
    arms = [d.claim for d in r.decided if d.short.startswith(("SET - ", "static - "))]
    if arms:
        budget_arms = int(r.arms["epochs"].max())
        findings.headline("SET's very different networks outperform the dense network of the same shape (C3), and "
                          "static sparse networks match it (C2)", arms,
                          f"{'-'.join(map(str, r.experiment.widths))}, {DATASET_NAMES.get(p.dataset, p.dataset)}, "
                          f"{data}: SET (setting c), static and dense arms compared at epoch {budget_arms}")
    sampler = [d.claim for d in (r.ablation or {}).get("decided", [])]
    if sampler:
        findings.headline("The regrowth sampler (ours or the SET reference's) moves how far apart the runs end "
                          "(ablation)", sampler, setting + f", the first chain retrained with {p.ablation_sampler} "
                                                           "regrowth")
    if r.panel is not None:
        findings.headline("What SET training does to a topology beyond its edge count (this project's extension, "
                          "with null models)", [d.claim for d in r.panel["decided"]],
                          setting + f"; setting c ({p.independent_runs} runs) at epoch {r.panel['epoch']}, each against "
                          f"{p.panel_draws} draws of each null model" + (
                              f"; the chain against the published networks at epoch {r.panel['common']}"
                              if r.panel["common"] is not None else ""))


def rule_context(params: Parameters) -> dict[str, Any]:
    """The numbers the rules template needs, from the parameters alone (the rules are fixed before the runs)."""
    from .published import PUBLISHED_EPOCHS

    p = params
    chain = sorted(set(p.snapshot_epochs) | {0, p.epochs})
    other = sorted({e for e in chain if e <= p.accuracy_budget} | {p.accuracy_budget})
    common = sorted(set(chain) & set(PUBLISHED_EPOCHS))
    rule_epoch = common[-1] if p.use_published and common else None
    family = len(PANEL_TESTS) * (1 if rule_epoch is None else 2)
    trajectory = [e for e in chain if e in set(PUBLISHED_EPOCHS) and e >= TRAJECTORY_FROM]
    arm_budget = min([p.accuracy_budget] + ([p.dense_epochs or p.epochs] if p.dense_runs else []))
    arms = [c for c in ARM_COMPARISONS if (c[0] != "static" and c[1] != "static" or p.static_runs)
            and (c[1] != "dense" or p.dense_runs)] if (p.static_runs or p.dense_runs) else []
    return {"p": p, "k_last": p.plateau_window, "threshold": p.plateau_threshold, "rule_epoch": rule_epoch,
            "trajectory_rules": {"epochs": trajectory, "family": len(p.hidden), "alpha": TRAJECTORY_ALPHA,
                                 "confidence": 1 - TRAJECTORY_ALPHA / len(p.hidden), "from": TRAJECTORY_FROM}
            if p.use_published and p.chains >= 2 and trajectory else None,
            "arm_rules": {"budget": arm_budget, "comparisons": [{"first": a, "second": b, "rule": rule, "claim": claim}
                                                                for a, b, rule, claim in arms],
                          "alpha": ARMS_ALPHA, "confidence": 1 - ARMS_ALPHA / max(len(arms), 1)} if arms else None,
            "rule_same_epoch": G.comparable_epoch(other, chain),
            "panel_rules": {"epoch": p.accuracy_budget, "family": family, "alpha": PANEL_ALPHA,
                            "confidence": 1 - PANEL_ALPHA / family, "margins": p.panel_margins()}}


def _panel_context(r: Result, findings: Findings) -> dict[str, Any] | None:
    """The panel's numbers for the templates: verdict rows, the spreads beside the margins, the static-network
    rows, the rules applied to the published runs, and a table of every metric against both nulls."""
    if r.panel is None:
        return None
    by_name, panel, stats = {c.claim: c for c in findings.claims}, r.panel, r.panel["statistics"]

    def row(key: str, d: Decided) -> dict:
        c = by_name[d.claim]
        return {"claim": c.claim, "label": PANEL_VALUES[key], "measured": c.measured, "ci": c.rule["ci"],
                "verdict": c.verdict, "rule": c.rule["rule"], "margin": c.rule["margin"], "spread": c.spread,
                "short": d.short}

    n = len(PANEL_TESTS)
    noise = {key: {"label": PANEL_VALUES[key], "static_sd": float(_excess(stats, "c", 0, key).std(ddof=1)),
                   "null_sd": float(_excess(stats, "c", 0, key, "null_sd").mean()),
                   "value": float(_excess(stats, "c", 0, key, "null_mean").mean())} for key in PANEL_TESTS}
    summary = panel["summary"].set_index(["group", "epoch", "metric", "null"])
    columns = [("c", panel["epoch"]), ("b", int(r.setting_epochs["b"][-1]))]
    if r.published is not None:
        columns += [(PUBLISHED, e) for e in sorted({panel["common"], r.published.epochs[-1]})]
    table = [{"metric": m, "null": null, "cells": [
        {k: float(summary.loc[(g, e, m, null), k]) for k in ("value", "null_mean")} for g, e in columns]}
        for m in PANEL for null in TP.NULLS]
    return {"tests": {key: row(key, d) for key, d in zip(PANEL_TESTS, panel["decided"][:n])},
            "reproduce": {key: row(key, d) for key, d in zip(PANEL_TESTS, panel["decided"][n:])},
            "noise": noise, "epoch": panel["epoch"], "common": panel["common"],
            "static": [{"label": PANEL_VALUES[d["key"]], "measured": d["measured"], "spread": by_name[d["claim"]].spread}
                       for d in panel["descriptions"] if d["kind"] == "static"],
            "checks": [{**c, "label": PANEL_VALUES[c["key"]], "verdict": c["verdict"].verdict}
                       for c in panel["published_checks"]],
            "columns": [f"{setting_name(g)}, epoch {e}" for g, e in columns], "table": table,
            "degree_determined": ["in_degree_gini", "out_degree_gini", "dead_neurons", "unconnected_inputs"],
            "seconds": r.seconds.get("panel", 0.0)}


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the templates of ``templates/03_evolution/`` need, claims read back from ``findings``."""
    r, p = result, result.params
    by_name = {c.claim: c for c in findings.claims}
    acc = r.accuracy
    table = r.intervals[r.intervals.layer == "mean"].set_index(["series", "epoch"])["nnstd"]
    ratios = {(x["series"], x["epoch"]): x for x in (d["ratio"] for d in r.descriptions if "ratio" in d)
              if x["layer"] == "mean"}
    degree_ratios = {(x["series"], x["epoch"]): x for x in (d["degree_ratio"] for d in r.descriptions
                                                              if "degree_ratio" in d) if x["layer"] == "mean"}
    pub_end = None if r.published is None else r.published.epochs[-1]

    def claim(prefix: str):
        return next((c for c in findings.claims if c.claim.startswith(prefix)), None)

    def decided(prefix: str | tuple[str, ...]) -> list[dict]:
        rows = []
        for d in r.decided:
            if d.claim.startswith(prefix):
                c = by_name[d.claim]
                rows.append({"claim": c.claim, "label": c.claim.split("(")[-1].rstrip(")"), "measured": c.measured,
                             "ci": c.rule["ci"], "verdict": c.verdict, "note": c.rule["note"], "spread": c.spread,
                             "short": d.short, "alone": V.decide(c.rule["rule"], c.measured, c.rule["ci"], V.Margin(
                                 c.rule["margin"], c.rule["justification"])).verdict})
        return rows

    sampler = None
    if r.ablation is not None:
        stats = r.ablation["accuracy"].groupby("sampler")[["last5", "final", "best"]].agg(["mean", "std"])
        sampler = [{"sampler": s, **{f"{col}_{agg}": float(stats.loc[s, (col, agg)]) for col, agg in stats.columns}}
                   for s in stats.index]
    return {**rule_context(p), "r": r, "n_runs": len(r.runs), "widths": list(r.experiment.widths),
            "edges": list(r.experiment.layer_edges), "epochs": r.epochs, "seconds": r.seconds,
            "trained": sum(run.summary["train_seconds"] for run in r.runs.values()),
            "runs": r.experiment.table().to_dict("records"), "sparse": r.sparse, "last_common": r.last_common,
            "same_epoch": r.same_epoch, "first": min(r.epochs),
            "baseline": {k: baseline_value(r.baseline, str(k), r.sparse) for k in r.sparse},
            "published": None if r.published is None else {
                "edges_first": list(r.published.layer_edges[0]), "last": max(r.published.layer_edges),
                "edges_last": list(r.published.layer_edges[max(r.published.layer_edges)]), "end": pub_end,
                "baseline": {k: baseline_value(r.published.baseline, str(k), r.sparse) for k in r.sparse},
                "first": float(table[(PUBLISHED, 0)])},
            "start": {key: float(table[(key, min(r.epochs))]) for key in ORDER},
            "one_epoch": float(table[("b", 1)]) if 1 in r.epochs else None,
            "accuracy": {key: {"name": setting_name(key), "mean": acc.loc[acc.setting == key, "last5"].mean(),
                               "min": acc.loc[acc.setting == key, "last5"].min(),
                               "max": acc.loc[acc.setting == key, "last5"].max(),
                               "sd": acc.loc[acc.setting == key, "last5"].std(ddof=1)} for key in ORDER},
            "accuracy_rows": acc.round(4).to_dict("records"), "n_converged": int(acc["converged"].sum()),
            "unconverged": acc.loc[~acc["converged"], "label"].tolist(), "largest_move": acc["moved"].abs().max(),
            "pair_sd": {k: float(v[np.triu_indices(len(v), 1)].std(ddof=1))
                        for k, v in r.ours(r.last_common).items() if k != "mean"},
            "ratio": {"chain": ratios.get(("b", r.last_common)), "published": ratios.get((PUBLISHED, r.last_common)),
                      "published_end": ratios.get((PUBLISHED, pub_end))},
            "degree_ratio": {"chain": degree_ratios.get(("b", r.last_common)),
                             "published": degree_ratios.get((PUBLISHED, r.last_common)),
                             "published_end": degree_ratios.get((PUBLISHED, pub_end))},
            "reproduction": decided("The chain's SET runs end as far apart"),
            "at_least": decided("The chain's SET runs end at least"), "same_start": decided("Runs from one start"),
            "accuracy_verdicts": decided("SET reaches the same accuracy"),
            "rejection": decided("With rejection regrowth"), "effect": decided("The regrowth sampler changes"),
            "sampler": sampler, "one": claim("NNSTD between the chain's runs after one epoch"),
            "sampler_accuracy": claim("Accuracy of the chain's runs by regrowth sampler"),
            "range": claim("Range of accuracy"), "converged": claim("SET runs plateaued"),
            "panel": _panel_context(r, findings),
            "chain_full": claim("Accuracy of the chain's runs at epoch"),
            "trajectory": decided("Over the whole trajectory"),
            "dense_weights": int(sum(a * b for a, b in zip(r.experiment.widths[:-1], r.experiment.widths[1:]))),
            "hidden_density": [e / (a * b) for e, a, b in zip(r.experiment.layer_edges, r.experiment.widths[:-1],
                                                                r.experiment.widths[1:])][:len(r.sparse)],
            "chain_gaps": [c for c in findings.claims if c.claim.startswith("Mean absolute gap between our chains")],
            "arms": decided(tuple(c[3] for c in ARM_COMPARISONS)),
            "arm_rows": None if r.arms is None else r.arms.round(4).to_dict("records"),
            "arm_levels": [c for c in findings.claims if c.claim.startswith("Accuracy of the ") and " arm at epoch "
                           in c.claim],
            "published_accuracy": claim("Published runs' logged accuracy")}
