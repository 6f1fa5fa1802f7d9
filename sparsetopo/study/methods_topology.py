"""Notebook ``06_methods`` as an experiment definition: do sparse-training methods find different topologies?

Every method trains the same network (widths, Erdős–Rényi ε edge counts in every sparse layer, the output layer
dense) with the same recipe and budget: ``static`` (the Erdős–Rényi start kept), ``set`` (SET: after every epoch
prune the fraction ζ closest to zero, regrow at random), ``rigl`` (RigL: every ΔT steps drop the smallest
magnitudes, grow where the dense gradient is largest), ``snip`` (SNIP: prune once at initialisation by
``|w ∂L/∂w|``, then static) and ``gmp`` (gradual magnitude pruning from dense to the same edge counts). Each
method trains ``n_seeds`` runs; every run has its own training and topology seed (method ``j`` of
:data:`ORDER`, run ``i``: ``seed + 1000 j + i``), so no two runs share a start.

:func:`run` trains (or reads back) every run, checks that each method really acted on its topology
(:func:`check_methods_acted`), and computes: the NNSTD between the seeds of each method at every shared snapshot
(per sparse layer and their mean, jackknife intervals over networks), the NNSTD between every two runs at the
last epoch reduced to a method × method matrix, the Erdős–Rényi null (independent graphs with the same edge
counts) and the degree-preserving null of every pair of methods (graphs with the degrees of one run of each),
accuracy with the convergence check, the explored-parameter rate, and the verdicts of :mod:`.verdicts`;
:func:`claims` records them with the notebook's headlines; :func:`context` holds the numbers the Markdown
templates in ``templates/06_methods/`` need; the figures are drawn by :mod:`sparsetopo.study.figures.methods_topology`.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd

from ..parallel import show_progress
from ..store.config import RunConfig, run_id
from . import run_groups as G
from . import verdicts as V
from .common import baseline_frame, layer_matrix, sparse_layers
from .figures.methods_topology import figures
from .findings import Findings
from .params import StudyParameters, check_int, check_optional, check_real, check_sequence, check_str

__all__ = ["ORDER", "NAMES", "K_LAST", "CONVERGENCE_THRESHOLD", "ALPHA", "SEED_BLOCK", "Decided", "method_name",
           "method_configs", "check_methods_acted", "between_methods", "spearman_ci", "within_verdicts",
           "null_verdicts", "rank_verdict", "accuracy_verdicts", "Parameters", "Result", "run", "analyse", "claims",
           "rule_context", "context", "figures"]

#: Every method the notebook knows, in the order they are shown (and whose position picks a method's seed block).
ORDER = ("static", "set", "rigl", "snip", "gmp")
#: How each method is named in sentences and figures.
NAMES = {"static": "static", "set": "SET", "rigl": "RigL", "snip": "SNIP", "gmp": "GMP"}
#: Accuracy: mean of the last K epochs; convergence threshold (0.1 accuracy point).
K_LAST = 5
CONVERGENCE_THRESHOLD = 0.001
#: Family-wise error rate of a claim with several rows, split over them by Bonferroni.
ALPHA = 0.05
#: Seeds of method ``j`` of :data:`ORDER`: ``seed + SEED_BLOCK * j + i``.
SEED_BLOCK = 1000
DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10", "digits": "digits"}


def method_name(method: str) -> str:
    """``"RigL"`` for ``"rigl"``; unknown names unchanged."""
    return NAMES.get(method, str(method))


# ---------------------------------------------------------------------------
# the design and the runs
# ---------------------------------------------------------------------------


def method_configs(params: "Parameters") -> dict[str, dict[str, RunConfig]]:
    """Method -> run label (``"rigl0"``, ...) -> RunConfig, every method with the same network, edge counts,
    recipe, budget and snapshots; method ``j`` of :data:`ORDER` seeds its runs ``seed + 1000 j + i`` (training
    and topology)."""
    p = params
    out: dict[str, dict[str, RunConfig]] = {}
    for method in p.methods:
        block = p.seed + SEED_BLOCK * ORDER.index(method)
        options: dict[str, Any] = {}
        if method == "set":
            options = dict(zeta=p.zeta)
        elif method == "rigl":
            options = dict(method_options=(("drop_fraction", p.rigl_drop_fraction),
                                           ("update_every", p.rigl_update_every), ("update_end", p.rigl_update_end)))
        elif method == "gmp":
            options = dict(method_options=(("prune_start_epoch", p.gmp_prune_start_epoch),
                                           ("prune_end_epoch", p.gmp_prune_end_epoch),
                                           ("prune_every", p.gmp_prune_every)))
        out[method] = {f"{method}{i}": RunConfig(
            dataset=p.dataset, hidden=tuple(p.hidden), method=method, epsilon=p.epsilon, epochs=p.epochs, lr=p.lr,
            lr_schedule=p.lr_schedule, batch_size=p.batch_size, seed=block + i, topology_seed=block + i,
            train_samples=p.train_samples, backend=p.backend, snapshot_epochs=tuple(p.snapshot_epochs), **options)
            for i in range(p.n_seeds)}
    return out


def _train(configs: Mapping[str, Mapping[str, RunConfig]], *, runs_root: str, n_jobs: int) -> tuple[pd.DataFrame, dict]:
    """Every run through the run store (finished ones reused): the sweep's tidy table plus ``label`` and
    ``method``, and label -> :class:`~sparsetopo.store.runs.Run`."""
    from .. import store

    flat = {label: c for group in configs.values() for label, c in group.items()}
    frame = store.sweep(list(flat.values()), n_jobs=n_jobs, root=runs_root, progress=show_progress())
    runs = {label: store.load_run(store.run_directory(c, runs_root)) for label, c in flat.items()}
    label_of = {runs[label].directory.name: label for label in flat}
    frame["label"] = frame["run_id"].map(label_of)
    frame["method"] = frame["label"].str.rstrip("0123456789")
    return frame, runs


def _edges(topology) -> list[int]:
    return [int(np.count_nonzero(m)) for m in topology]


def check_methods_acted(runs: Mapping, groups: Mapping[str, Sequence[str]], configs: Mapping[str, RunConfig]) -> None:
    """Raise ``RuntimeError`` when a run's records show that its method never changed its topology.

    SET and RigL must have regrown connections; gradual magnitude pruning must end with fewer edges than it
    started with (it starts dense); SNIP must not end on the Erdős–Rényi graph a static run of its configuration
    starts from (what a loop that ignores SNIP would train). A training loop that does not apply a method
    would otherwise give runs that look like static ones under the method's name.
    """
    from ..training.loop import initial_masks

    for method, labels in groups.items():
        for label in labels:
            run = runs[label]
            epochs = sorted(run.snapshot_epochs())
            first, last = run.topology(epochs[0]), run.topology(epochs[-1])
            why = ""
            if method in ("set", "rigl") and not sum(sum(r.get("regrown", [0])) for r in run.records):
                why = "no connection was ever regrown"
            elif method == "gmp" and sum(_edges(first)) <= sum(_edges(last)):
                why = f"it started with {sum(_edges(first))} edges and ended with {sum(_edges(last))}"
            elif method == "snip":
                widths = [last[0].shape[1]] + [m.shape[0] for m in last]
                er = initial_masks(configs[label].replace(method="static", method_options=None), widths)
                if all(np.array_equal(a, b) for a, b in zip(er, last)):
                    why = "it ends on the Erdős–Rényi graph of its own seed, as if never pruned by SNIP"
            if why:
                raise RuntimeError(f"run {label} ({run.directory.name}) was stored as method {method!r} but {why}: "
                                   f"this training loop does not apply the {method_name(method)} updater; delete the "
                                   f"run folder and train with a loop that does")


def between_methods(matrix, groups: Mapping[str, Sequence[str]], labels: Sequence[str],
                    sparse: Sequence[int]) -> pd.DataFrame:
    """Mean NNSTD between the runs of every two methods (and within each: pairs of different runs) from one
    :class:`~sparsetopo.nnstd.pairwise.DistanceMatrix` over all runs (rows in ``labels`` order).

    Returns
    -------
    pd.DataFrame
        ``a``, ``b`` (methods, every ordered pair), ``layer`` (sparse layers and ``"mean"`` over them), ``nnstd``.
    """
    index = {label: i for i, label in enumerate(labels)}
    rows = []
    for layer in [str(k) for k in sparse] + ["mean"]:
        m = layer_matrix(matrix, layer, sparse)
        for a, b in itertools.product(groups, repeat=2):
            ia, ib = [index[x] for x in groups[a]], [index[x] for x in groups[b]]
            sub = m[np.ix_(ia, ib)]
            value = sub[np.triu_indices(len(ia), 1)].mean() if a == b else sub.mean()
            rows.append({"a": a, "b": b, "layer": layer, "nnstd": float(value)})
    return pd.DataFrame(rows)


def spearman_ci(x: Sequence[float], y: Sequence[float], strata: Sequence[str], *, n_boot: int = 2000,
                confidence: float = 0.95, seed: int = 0) -> V.Interval:
    """Spearman's ρ between ``x`` and ``y`` with a percentile bootstrap interval that resamples the runs within
    each stratum (each method keeps its number of runs, as in the design).

    Replicates where either resampled variable is constant (ρ undefined) are dropped; the interval is NaN when
    fewer than half of them are left.
    """
    from scipy.stats import spearmanr

    x, y, strata = np.asarray(x, float), np.asarray(y, float), np.asarray(strata)

    def rho(i: np.ndarray) -> float:
        if np.ptp(x[i]) == 0 or np.ptp(y[i]) == 0:
            return float("nan")
        return float(spearmanr(x[i], y[i]).statistic)

    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(strata == s) for s in dict.fromkeys(strata.tolist())]
    reps = np.array([rho(np.concatenate([rng.choice(g, g.size) for g in groups])) for _ in range(int(n_boot))])
    reps = reps[np.isfinite(reps)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha]) if reps.size >= n_boot / 2 else (np.nan, np.nan)
    return V.Interval(rho(np.arange(x.size)), float(low), float(high), float(confidence),
                      "bootstrap over runs within methods", int(x.size))


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    """One decided claim: its name, the :class:`~sparsetopo.study.verdicts.Verdict`, how it was measured, the
    numbers beside it, its kind (``"distance"``, ``"null"``, ``"rank"`` or ``"accuracy"``) and a short label."""

    claim: str
    verdict: V.Verdict
    detail: str
    spread: str = ""
    kind: str = "distance"
    short: str = ""


def _mean_pair(m: np.ndarray) -> float:
    return float(m[np.triu_indices(len(m), 1)].mean())


def within_verdicts(within: Mapping[str, np.ndarray], *, epoch: int, margin: V.Margin, n_boot: int = 2000,
                    seed: int = 0) -> list[Decided]:
    """"RigL runs of different seeds end closer to each other than SET runs do": SET-within minus RigL-within
    mean NNSTD (over sparse layers) at ``epoch``, bootstrap resampling the networks of both, superiority.
    ``within``: method -> network-level matrix between its runs. Nothing when either method is absent."""
    if "set" not in within or "rigl" not in within:
        return []
    ci = V.pair_difference_ci(within["set"], within["rigl"], n_boot=n_boot, seed=seed)
    return [Decided(f"RigL runs of different seeds end closer to each other than SET runs do (epoch {epoch})",
                    V.superiority(ci.estimate, ci.ci, margin),
                    "mean NNSTD (over sparse layers) between SET's runs minus between RigL's runs; 95% bootstrap "
                    "interval resampling the networks of both methods",
                    f"SET {_mean_pair(within['set']):.4f}, RigL {_mean_pair(within['rigl']):.4f}",
                    short=f"SET within - RigL within, epoch {epoch}")]


def null_verdicts(between: Mapping[tuple[str, str], np.ndarray], degree: Mapping[tuple[str, str], float], *,
                  epoch: int, margin: V.Margin, n_boot: int = 2000, seed: int = 0,
                  alpha: float = ALPHA) -> list[Decided]:
    """"Methods end closer to each other than to the null", one row per pair of methods ``(a, b)``: the
    degree-preserving null of the pair minus the mean NNSTD between their runs (over sparse layers), interval
    by a bootstrap that resamples the runs of both methods at the Bonferroni level ``1 - alpha / pairs``,
    superiority. ``between``: pair -> ``(n_a, n_b)`` network-level distances; ``degree``: pair -> null mean."""
    pairs = list(between)
    if not pairs:
        return []
    confidence = 1 - alpha / len(pairs)
    level = f"{100 * confidence:.2f}% bootstrap interval (Bonferroni: {alpha:g} over {len(pairs)} pairs)"
    out = []
    for a, b in pairs:
        ci = V.network_bootstrap_ci(between[(a, b)], between=True, n_boot=n_boot, confidence=confidence, seed=seed)
        null = degree[(a, b)]
        out.append(Decided(
            f"{method_name(a)} and {method_name(b)} end closer to each other than random graphs with their degrees "
            f"(epoch {epoch})", V.superiority(null - ci.estimate, (null - ci.high, null - ci.low), margin),
            f"degree-preserving null (random graphs with the degrees of one {method_name(a)} and one "
            f"{method_name(b)} run) minus the mean NNSTD (over sparse layers) between their runs; {level} "
            "resampling the runs of both methods", f"between {ci.estimate:.4f}, null {null:.4f}", kind="null",
            short=f"{method_name(a)} – {method_name(b)}: null - between"))
    return out


def rank_verdict(accuracy: pd.DataFrame, *, margin: V.Margin, n_boot: int = 2000, seed: int = 0) -> list[Decided]:
    """"The explored-parameter rate ranks the methods' accuracy": Spearman's ρ over every run between its
    explored-parameter rate and its last-5 mean accuracy, bootstrap resampling runs within methods,
    superiority over ``margin``. Nothing with fewer than two methods."""
    if accuracy["method"].nunique() < 2:
        return []
    ci = spearman_ci(accuracy["explored_rate"], accuracy["last5"], accuracy["method"], n_boot=n_boot, seed=seed)
    means = accuracy.groupby("method", sort=False)[["explored_rate", "last5"]].mean()
    spread = "; ".join(f"{method_name(m)} {row.explored_rate:.3f} → {row.last5:.4f}" for m, row in means.iterrows())
    return [Decided("The explored-parameter rate ranks the methods' accuracy (Spearman's ρ over runs)",
                    V.superiority(ci.estimate, ci.ci, margin),
                    f"Spearman's ρ between each run's explored-parameter rate and its last-{K_LAST}-epoch mean test "
                    f"accuracy over all {ci.n} runs; 95% bootstrap interval resampling runs within each method",
                    "explored rate → accuracy, method means: " + spread, kind="rank",
                    short="Spearman ρ(explored rate, accuracy)")]


def accuracy_verdicts(accuracy: pd.DataFrame, *, margin: V.Margin) -> list[Decided]:
    """"RigL reaches at least SET's accuracy at equal epochs": RigL minus SET last-5 mean accuracy, Welch 95%
    interval over seeds, non-inferiority, capped at inconclusive unless every run of both converged."""
    from ..stats import format_mean_ci

    values = {m: part["last5"].to_numpy() for m, part in accuracy.groupby("method")}
    if "set" not in values or "rigl" not in values:
        return []
    ci = V.difference_ci(values["rigl"], values["set"])
    involved = accuracy[accuracy["method"].isin(["rigl", "set"])]
    unconverged = involved.loc[~involved["converged"], "label"].tolist()
    verdict = V.unless_converged(V.non_inferiority(ci.estimate, ci.ci, margin), not unconverged,
                                 reason=f"{len(unconverged)} of {len(involved)} runs: {', '.join(unconverged)}")
    epochs = int(involved["epochs"].max())
    return [Decided(f"RigL reaches at least SET's accuracy at equal epochs ({epochs})", verdict,
                    f"mean over seeds of the last-{K_LAST}-epoch mean test accuracy, RigL minus SET; Welch 95% interval",
                    f"RigL {format_mean_ci(values['rigl'].tolist())}; SET {format_mean_ci(values['set'].tolist())}",
                    kind="accuracy", short="RigL - SET accuracy")]


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / context / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``06_methods``: the names, types and meanings of its ``parameters`` cell."""

    NOTEBOOK: ClassVar[str] = "06_methods"

    methods: tuple
    seed: int
    n_seeds: int
    hidden: tuple
    epsilon: float
    epochs: int
    lr: float
    lr_schedule: str
    batch_size: int
    train_samples: int | None
    backend: str
    snapshot_epochs: tuple
    zeta: float
    rigl_drop_fraction: float
    rigl_update_every: int
    rigl_update_end: float
    gmp_prune_start_epoch: int
    gmp_prune_end_epoch: int | None
    gmp_prune_every: int
    baseline_pairs: int
    n_boot: int
    distance_margin: float
    distance_margin_why: str
    accuracy_margin: float
    accuracy_margin_why: str
    rank_margin: float
    rank_margin_why: str

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = lambda n, v: check_int(n, v, minimum=1)  # noqa: E731
        self._set("methods", check_sequence("methods", self.methods, lambda n, v: check_str(n, v, choices=ORDER),
                                            unique=True))
        self._set("methods", tuple(m for m in ORDER if m in self.methods))
        self._set("seed", check_int("seed", self.seed, minimum=0))
        self._set("n_seeds", check_int("n_seeds", self.n_seeds, minimum=3))
        if self.n_seeds > SEED_BLOCK:
            raise ValueError(f"parameter n_seeds must be <= {SEED_BLOCK} (the seed block of one method), got {self.n_seeds}")
        self._set("hidden", check_sequence("hidden", self.hidden, positive))
        self._set("epsilon", check_real("epsilon", self.epsilon, minimum=0, exclusive_minimum=True))
        self._set("epochs", check_int("epochs", self.epochs, minimum=2 * K_LAST))
        self._set("lr", check_real("lr", self.lr, minimum=0, exclusive_minimum=True))
        self._set("lr_schedule", check_str("lr_schedule", self.lr_schedule, choices=("constant", "cosine", "step")))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("train_samples", check_optional("train_samples", self.train_samples, positive))
        self._set("backend", check_str("backend", self.backend, choices=("masked", "sparse", "auto")))
        self._set("snapshot_epochs", check_sequence("snapshot_epochs", self.snapshot_epochs, lambda n, v: check_int(
            n, v, minimum=0, maximum=self.epochs), increasing=True))
        self._set("zeta", check_real("zeta", self.zeta, minimum=0, exclusive_minimum=True, maximum=1))
        self._set("rigl_drop_fraction", check_real("rigl_drop_fraction", self.rigl_drop_fraction, minimum=0,
                                                   exclusive_minimum=True, maximum=1))
        self._set("rigl_update_every", check_int("rigl_update_every", self.rigl_update_every, minimum=1))
        self._set("rigl_update_end", check_real("rigl_update_end", self.rigl_update_end, minimum=0,
                                                exclusive_minimum=True, maximum=1))
        self._set("gmp_prune_start_epoch", check_int("gmp_prune_start_epoch", self.gmp_prune_start_epoch, minimum=0,
                                                     maximum=self.epochs - 1))
        self._set("gmp_prune_end_epoch", check_optional("gmp_prune_end_epoch", self.gmp_prune_end_epoch, lambda n, v: (
            check_int(n, v, minimum=self.gmp_prune_start_epoch + 1, maximum=self.epochs))))
        self._set("gmp_prune_every", check_int("gmp_prune_every", self.gmp_prune_every, minimum=1))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        self._set("n_boot", check_int("n_boot", self.n_boot, minimum=100))
        for name in ("distance_margin", "accuracy_margin", "rank_margin"):
            self._set(name, check_real(name, getattr(self, name), minimum=0, exclusive_minimum=True))
        for name in ("distance_margin_why", "accuracy_margin_why", "rank_margin_why"):
            self._set(name, check_str(name, getattr(self, name)))

    def margins(self) -> dict[str, V.Margin]:
        """``"distance"``, ``"accuracy"`` and ``"rank"`` margins with their justifications."""
        return {k: V.Margin(getattr(self, f"{k}_margin"), getattr(self, f"{k}_margin_why"))
                for k in ("distance", "accuracy", "rank")}

    @property
    def method_pairs(self) -> list[tuple[str, str]]:
        """Every two different methods, in :data:`ORDER`."""
        return list(itertools.combinations(self.methods, 2))


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``06_methods`` computed (see :func:`run`): the configurations and runs, their learning
    curves (``frame``), the methods' shared snapshot epochs, the sparse layers, within-method matrices
    ``(method, epoch) -> DistanceMatrix`` and their intervals, the all-runs matrix at the last epoch and its
    method × method means, the Erdős–Rényi null (as a table) and the degree-preserving null of every pair of
    methods, accuracy and explored rate per run, the edges each method ends with, the verdicts, descriptions
    and timings."""

    K_LAST: ClassVar[int] = K_LAST
    ORDER: ClassVar[tuple] = ORDER

    params: Parameters
    configs: dict
    groups: dict
    frame: pd.DataFrame
    runs: dict
    epochs: dict
    last: int
    widths: list
    sparse: list
    matrices: dict
    intervals: pd.DataFrame
    all_runs: Any
    method_matrix: pd.DataFrame
    er: pd.DataFrame
    degree: pd.DataFrame
    accuracy: pd.DataFrame
    edges: dict
    decided: list
    descriptions: list
    seconds: dict

    def within(self, method: str, layer: str = "mean", epoch: int | None = None) -> np.ndarray:
        """The matrix between ``method``'s runs at ``epoch`` (default the last), one layer or ``"mean"``."""
        return layer_matrix(self.matrices[(method, self.last if epoch is None else epoch)], layer, self.sparse)

    def er_level(self, layer: str = "mean") -> float:
        """The Erdős–Rényi null's mean NNSTD for one sparse layer or ``"mean"`` over them."""
        b = self.er.set_index("layer")["baseline"]
        return float(np.mean([b[str(k)] for k in self.sparse])) if layer == "mean" else float(b[str(layer)])

    def degree_level(self, a: str, b: str, layer: str = "mean") -> float:
        """The degree-preserving null of methods ``a`` and ``b`` for one sparse layer or ``"mean"``."""
        row = self.degree[(self.degree["a"] == a) & (self.degree["b"] == b) & (self.degree["layer"] == str(layer))]
        return float(row["baseline"].iloc[0])

    @staticmethod
    def name(method: str) -> str:
        return method_name(method)


def _accuracy(frame: pd.DataFrame, groups: Mapping, configs: Mapping, runs: Mapping) -> pd.DataFrame:
    seeds = {label: c.seed for label, c in configs.items()}
    acc = G.accuracy_table(frame, groups, seeds, k=K_LAST, threshold=CONVERGENCE_THRESHOLD)
    acc = acc.rename(columns={"setting": "method"})
    acc["explored_rate"] = [float(runs[label].summary["explored_rate"]) for label in acc["label"]]
    return acc


def _null_tables(reference: Mapping[str, Any], methods: Sequence[str], sparse: Sequence[int], p: Parameters,
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The Erdős–Rényi null of the first method's reference topology, and the degree-preserving null of every
    pair of methods (same method included), as tables; ``(a, b) -> Calibration`` of the latter."""
    from ..nnstd.pairwise import random_baseline

    def calibrate(first, second=None, null="er"):
        return random_baseline(first, other=second, n_pairs=p.baseline_pairs, seed=p.seed, null=null, n_jobs=p.n_jobs,
                               progress=show_progress(), cache_dir=p.cache_dir)

    er = baseline_frame(calibrate(reference[methods[0]]), sparse)
    rows, calibrations = [], {}
    for a, b in itertools.combinations_with_replacement(methods, 2):
        cal = calibrate(reference[a], None if a == b else reference[b], "degree")
        calibrations[(a, b)] = cal
        table = baseline_frame(cal, sparse)
        for pair in {(a, b), (b, a)}:
            rows += [{"a": pair[0], "b": pair[1], **row} for row in table.to_dict("records")]
    return er, pd.DataFrame(rows), calibrations


def _descriptions(r: dict, p: Parameters) -> list[dict]:
    """Claims that are not verdicts: each method's within NNSTD against both nulls, edges, accuracy,
    convergence and explored rate."""
    out, last, sparse = [], r["last"], r["sparse"]
    er = float(np.mean([r["er"].set_index("layer")["baseline"][str(k)] for k in sparse]))
    deg = r["degree"].set_index(["a", "b", "layer"])["baseline"]
    for m in p.methods:
        within = layer_matrix(r["matrices"][(m, last)], "mean", sparse)
        ci = V.ratio_ci(within, er, n_boot=p.n_boot, seed=p.seed)
        null = float(deg[(m, m, "mean")])
        out.append({"claim": f"NNSTD between {method_name(m)}'s runs / Erdős–Rényi null (epoch {last})",
                    "measured": ci.estimate, "kind": "ratio", "method": m,
                    "spread": f"95% CI [{ci.low:.3f}, {ci.high:.3f}] (bootstrap over {ci.n} networks); between runs "
                              f"{_mean_pair(within):.4f}, Erdős–Rényi null {er:.4f}, degree-preserving null {null:.4f}",
                    "detail": "mean over pairs of runs and sparse layers, over the mean NNSTD between independent "
                              "Erdős–Rényi graphs with the same edge counts"})
    edges = r["edges"]
    same = len({tuple(e) for e in edges.values()}) == 1
    out.append({"claim": f"Every method ends with the same edges per layer (epoch {last})", "measured": float(same),
                "kind": "edges", "spread": "; ".join(f"{method_name(m)} {e}" for m, e in edges.items()),
                "detail": "1 when every run of every method ends with the same edge count in each layer, else 0"})
    acc = r["accuracy"]
    for m in p.methods:
        part = acc[acc["method"] == m]
        out.append({"claim": f"Accuracy of {method_name(m)} (last-{K_LAST}-epoch mean, epoch {int(part['epochs'].max())})",
                    "measured": float(part["last5"].mean()), "kind": "accuracy", "method": m,
                    "spread": f"SD {part['last5'].std(ddof=1):.4f} over {len(part)} runs; converged "
                              f"{int(part['converged'].sum())} of {len(part)}; explored-parameter rate "
                              f"{part['explored_rate'].mean():.4f}",
                    "detail": "mean over seeds of the mean test accuracy of the last epochs"})
    n_conv = int(acc["converged"].sum())
    out.append({"claim": f"Runs converged at epoch {p.epochs} (last-{K_LAST} mean moved < {CONVERGENCE_THRESHOLD:g} "
                         f"from the {K_LAST} before)", "measured": float(n_conv), "kind": "convergence",
                "spread": f"{n_conv} of {len(acc)}; not converged: {', '.join(acc.loc[~acc['converged'], 'label']) or 'none'}",
                "detail": f"largest |moved| {acc['moved'].abs().max():.4f}"})
    return out


def run(params: Parameters) -> Result:
    """Train (or read back) every run, then compute every distance, null, accuracy and verdict the notebook shows
    (:func:`analyse`).

    Raises
    ------
    RuntimeError
        When a stored run shows that the training loop did not apply its method (:func:`check_methods_acted`).
    """
    if not isinstance(params, Parameters):
        raise TypeError(f"params must be methods_topology.Parameters, got {type(params).__name__}")
    clock = time.perf_counter()
    configs = method_configs(params)
    frame, runs = _train(configs, runs_root=params.runs_root, n_jobs=params.n_jobs)
    return analyse(params, configs, frame, runs, seconds={"training": time.perf_counter() - clock})


def analyse(params: Parameters, configs: Mapping[str, Mapping[str, RunConfig]], frame: pd.DataFrame,
            runs: Mapping, *, seconds: Mapping[str, float] | None = None) -> Result:
    """Everything :func:`run` computes once the runs exist.

    Parameters
    ----------
    params : the notebook's parameters.
    configs : method -> run label -> RunConfig (:func:`method_configs`).
    frame : tidy learning curves with ``label``, ``method``, ``epoch`` and ``test_acc``.
    runs : run label -> anything with ``snapshot_epochs()``, ``topology(epoch)``, ``records`` (the per-epoch
        metrics), ``summary`` (with ``explored_rate`` and ``train_seconds``) and ``directory``.
    seconds : timings so far (``"training"``), completed with ``"distances"``.

    Raises
    ------
    RuntimeError
        When a run's method never acted on its topology (:func:`check_methods_acted`).
    """
    from ..nnstd.pairwise import pairwise_nnstd

    p, clock = params, time.perf_counter()
    seconds = dict(seconds or {})
    groups = {m: tuple(labels) for m, labels in configs.items()}
    flat = {label: c for group in configs.values() for label, c in group.items()}
    check_methods_acted(runs, groups, flat)
    epochs = G.shared_snapshots(runs, groups)
    last = int(p.epochs)
    labels = G.labels_of(groups)
    finals = {label: runs[label].topology(last) for label in labels}
    sparse = sparse_layers(finals[labels[0]])
    widths = [int(finals[labels[0]][0].shape[1])] + [int(m.shape[0]) for m in finals[labels[0]]]
    matrices = G.group_matrices(runs, groups, epochs, n_jobs=p.n_jobs, cache_dir=p.cache_dir)
    all_runs = pairwise_nnstd([finals[x] for x in labels], labels=labels, n_jobs=p.n_jobs, progress=show_progress(),
                              cache_dir=p.cache_dir)
    reference = {m: finals[groups[m][0]] for m in p.methods}
    er, degree, _ = _null_tables(reference, p.methods, sparse, p)
    seconds["distances"] = time.perf_counter() - clock
    accuracy = _accuracy(frame, groups, flat, runs)
    edges = {m: _edges(finals[groups[m][0]]) for m in p.methods}
    if any(_edges(finals[x]) != edges[m] for m in p.methods for x in groups[m]):
        edges = {m: sorted({tuple(_edges(finals[x])) for x in groups[m]}) for m in p.methods}
    r = dict(params=p, configs=flat, groups=groups, frame=frame, runs=dict(runs), epochs=epochs, last=last,
             widths=widths, sparse=sparse, matrices=matrices, intervals=G.interval_frame(matrices, sparse),
             all_runs=all_runs, method_matrix=between_methods(all_runs, groups, labels, sparse), er=er, degree=degree,
             accuracy=accuracy, edges=edges)
    margins = p.margins()
    net = layer_matrix(all_runs, "mean", sparse)
    index = {label: i for i, label in enumerate(labels)}
    between = {(a, b): net[np.ix_([index[x] for x in groups[a]], [index[x] for x in groups[b]])]
               for a, b in p.method_pairs}
    levels = degree.set_index(["a", "b", "layer"])["baseline"]
    decided = within_verdicts({m: layer_matrix(matrices[(m, last)], "mean", sparse) for m in p.methods}, epoch=last,
                              margin=margins["distance"], n_boot=p.n_boot, seed=p.seed)
    decided += null_verdicts(between, {k: float(levels[(*k, "mean")]) for k in between}, epoch=last,
                             margin=margins["distance"], n_boot=p.n_boot, seed=p.seed)
    decided += rank_verdict(accuracy, margin=margins["rank"], n_boot=p.n_boot, seed=p.seed)
    decided += accuracy_verdicts(accuracy, margin=margins["accuracy"])
    return Result(**r, decided=decided, descriptions=_descriptions(r, p), seconds=seconds)


def _setting(p: Parameters, r: Result | None = None) -> str:
    data = "the full training split" if p.train_samples is None else f"{p.train_samples:,} samples"
    widths = "-".join(map(str, r.widths)) if r is not None else "-".join(["in", *map(str, p.hidden), "out"])
    return (f"{widths}, ε = {p.epsilon:g} in every hidden layer (output dense), {DATASET_NAMES.get(p.dataset, p.dataset)}, "
            f"{p.epochs} epochs on {data}, {p.n_seeds} seeds per method ({', '.join(map(method_name, p.methods))})")


def claims(result: Result) -> Findings:
    """The findings of notebook ``06_methods``: verdicts, descriptions (``holds=None``), the numbers behind every
    figure, and the headlines that answer the notebook's question."""
    r, p = result, result.params
    findings = Findings("06_methods", p.figures_dir, parameters=p.as_dict())
    for d in r.decided:
        findings.claim_verdict(d.claim, d.verdict, detail=d.detail, spread=d.spread)
    for d in r.descriptions:
        findings.claim(d["claim"], measured=d["measured"], holds=None, detail=d["detail"], spread=d["spread"])
    table = pd.DataFrame([{"label": label, "method": G.group_of(r.groups, label), "seed": c.seed,
                           "run_id": run_id(c)} for label, c in r.configs.items()])
    findings.add_data("design", {"methods": list(p.methods), "edges": r.edges, "sparse_layers": r.sparse,
                                 "runs": table.drop(columns="run_id")})
    findings.add_data("within_methods", r.intervals)
    findings.add_data("method_matrix", r.method_matrix)
    findings.add_data("nulls", {"er": r.er, "degree": r.degree})
    findings.add_data("accuracy", {"runs": r.accuracy, "curves": r.frame[["label", "method", "epoch", "test_acc"]]})
    findings.add_data("seconds", r.seconds)
    setting = _setting(p, r)
    kinds = {d.kind: [] for d in r.decided}
    for d in r.decided:
        kinds[d.kind].append(d.claim)
    if "distance" in kinds:
        findings.headline("Gradient-driven growth (RigL) ends closer across seeds than random regrowth (SET)",
                          kinds["distance"], setting)
    if "null" in kinds:
        findings.headline("Different sparse-training methods end closer to each other than to random graphs with "
                          "their degrees", kinds["null"], setting + "; Bonferroni over the pairs of methods")
    if "rank" in kinds:
        findings.headline("The explored-parameter rate ranks the methods' accuracy", kinds["rank"], setting)
    if "accuracy" in kinds:
        findings.headline("RigL reaches at least SET's accuracy at equal epochs (the RigL paper's ordering)",
                          kinds["accuracy"], setting)
    return findings


def rule_context(params: Parameters) -> dict[str, Any]:
    """The numbers the rules template needs, from the parameters alone (the rules are fixed before the runs)."""
    p = params
    pairs = len(p.method_pairs)
    return {"p": p, "k_last": K_LAST, "threshold": CONVERGENCE_THRESHOLD, "alpha": ALPHA, "n_pairs": pairs,
            "confidence": 1 - ALPHA / pairs if pairs else None, "names": [method_name(m) for m in p.methods],
            "has": {m: m in p.methods for m in ORDER}, "margins": p.margins(), "last": p.epochs}


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the templates of ``templates/06_methods/`` need, claims read back from ``findings``."""
    r, p = result, result.params
    by_name = {c.claim: c for c in findings.claims}

    def rows(kind: str) -> list[dict]:
        out = []
        for d in r.decided:
            if d.kind == kind:
                c = by_name[d.claim]
                out.append({"claim": c.claim, "short": d.short, "measured": c.measured, "ci": c.rule["ci"],
                            "verdict": c.verdict, "note": c.rule["note"], "spread": c.spread, "margin": c.rule["margin"]})
        return out

    acc = r.accuracy
    mm = r.method_matrix[r.method_matrix["layer"] == "mean"].set_index(["a", "b"])["nnstd"]
    within = {m: {"name": method_name(m), "start": float(r.intervals.query(
        "series == @m and layer == 'mean'").sort_values("epoch")["nnstd"].iloc[0]),
        "start_epoch": int(min(r.epochs[m])), "end": float(mm[(m, m)]),
        "layers": {str(k): _mean_pair(r.within(m, str(k))) for k in r.sparse},
        "degree": r.degree_level(m, m), "ratio": float(mm[(m, m)]) / r.er_level()} for m in p.methods}
    pairs = [{"a": method_name(a), "b": method_name(b), "nnstd": float(mm[(a, b)]), "degree": r.degree_level(a, b)}
             for a, b in p.method_pairs]
    per_method = [{"name": method_name(m), "mean": float(part["last5"].mean()), "sd": float(part["last5"].std(ddof=1)),
                   "min": float(part["last5"].min()), "max": float(part["last5"].max()),
                   "converged": int(part["converged"].sum()), "n": len(part),
                   "explored": float(part["explored_rate"].mean()), "explored_sd": float(part["explored_rate"].std(ddof=1))}
                  for m, part in acc.groupby("method", sort=False)]
    er_sd = float(r.er.set_index("layer").loc["mean", "sd"])
    deg_sd = r.degree[r.degree["layer"] == "mean"]["sd"]
    pair_sd = {m: float(np.std(r.within(m)[np.triu_indices(p.n_seeds, 1)], ddof=1)) for m in p.methods}
    return {**rule_context(p), "r": r, "n_runs": len(r.runs), "widths": list(r.widths), "edges": r.edges, "epochs": r.epochs, "seconds": r.seconds,
            "trained": sum(run.summary["train_seconds"] for run in r.runs.values()), "sparse": r.sparse,
            "er": {str(k): r.er_level(str(k)) for k in r.sparse} | {"mean": r.er_level()}, "within": within,
            "pairs": pairs, "per_method": per_method, "accuracy_rows": acc.round(4).to_dict("records"),
            "n_converged": int(acc["converged"].sum()), "noise": {"er_sd": er_sd, "degree_sd_max": float(deg_sd.max()),
                                                                  "pair_sd": pair_sd},
            "within_rows": rows("distance"), "null_rows": rows("null"), "rank_rows": rows("rank"),
            "accuracy_verdicts": rows("accuracy"),
            "same_edges": next(c for c in findings.claims if c.claim.startswith("Every method ends")).measured == 1.0}
