"""Static random sparse MLPs against the dense MLP of the same shape (notebook ``02_sparse_vs_dense``).

The paper's claim: a *static* random sparse MLP (an Erdős–Rényi mask drawn once, never rewired) can match or beat
the dense MLP of the same shape. On every dataset of the study the arms are ``dense`` (over-parameterised: three
hidden layers of 1000 by default, so that it fits its training data), optionally ``dense + dropout``, and static
arms whose hidden layers keep a fraction ``d`` of their weights (``static <d>%``) or follow the paper's Erdős–Rényi
rule with ``ε`` (``static ε=<ε>``: ``round(ε (n_in + n_out))`` edges per hidden layer); the output layer stays dense.

Rules stated before the numbers (the notebook's ``rules`` template):

* **Repetitions.** Repetition ``i`` of every arm trains with ``seeds[i]`` as both its training seed and its
  ``data_seed`` (the train/test split of a scikit-feature set, the training subset of MNIST), so split variance
  enters the intervals. A dataset uses the first ``repetitions`` seeds (:func:`derived_setting`).
* **Plateau before the first decay.** Each arm's schedule must let it plateau before its learning rate first
  decays: the arm's mean test-accuracy curve over its first :func:`full_rate_epochs` epochs (the decay itself
  would flatten any curve) moved less than ``plateau_threshold`` between its last two windows of
  ``plateau_window`` epochs (:func:`~sparsetopo.study.verdicts.plateau_before`). Dense arms and static arms have
  their own budgets (``epochs`` and ``static_epochs``), because sparse arms climb more slowly. A verdict involving
  an arm that did not plateau is capped at inconclusive, and the arm is reported.
* **Margin at the same n.** Dense calibration runs with ``calibration_seeds`` (as many as the dataset's
  repetitions, seeds and splits apart from the compared runs) give the run-to-run SD; the margin is
  ``margin_multiple`` standard deviations of a difference of two means of ``n`` runs
  (:func:`~sparsetopo.study.verdicts.mean_difference_margin`).
* **Multiplicity.** Every static arm of every dataset is compared with each reference through one Welch interval
  at the Bonferroni level over datasets x static arms (:func:`interval_level`); "matches or beats"
  (non-inferiority, margin m) and "beats" (superiority, margin 0) are read off the same interval.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import pandas as pd

from .. import store
from ..parallel import show_progress
from ..store.config import RunConfig
from . import verdicts as V
from .accuracy import arm_table, curve_table, run_table
from .findings import Findings
from .params import StudyParameters, check_int, check_optional, check_real, check_sequence, check_str

__all__ = [
    "K_LAST", "DENSE", "DROPOUT", "CLAIM_MATCH", "CLAIM_BEAT", "SCHEDULES", "static_arm", "arm_of", "arm_order",
    "derived_setting", "DatasetSetting", "resolve_settings", "full_rate_epochs", "hidden_density", "arm_configs",
    "calibration_configs", "interval_level", "dataset_margin", "plateau_table", "compare", "aggregate",
    "comparisons", "dataset_verdicts", "Parameters", "Result", "run", "claims", "context", "settings_table",
    "plateau_report", "arm_report", "verdict_summary",
]

logger = logging.getLogger(__name__)

#: Accuracy of a run: mean test accuracy of its last K_LAST epochs (after the decays; the plateau is checked before).
K_LAST = 5
DENSE = "dense"
DROPOUT = "dense + dropout"
CLAIM_MATCH = "matches or beats"
CLAIM_BEAT = "beats"
#: Schedules with a full-rate phase before the first decay, on which the plateau rule can be read.
SCHEDULES = ("step", "constant")
#: Small high-dimensional microarray sets that can stand in for the paper's Lung and CLL_SUB_111.
MICROARRAY_STAND_INS = ("TOX_171", "Prostate_GE", "ALLAML", "GLIOMA", "lung_discrete", "leukemia", "lymphoma",
                        "colon", "nci9")
#: Fields of a dataset's setting (``settings`` entries may give any of them).
SETTING_KEYS = ("hidden", "epochs", "static_epochs", "batch_size", "lr", "train_samples", "repetitions")
#: A training split larger than this trains on a stratified subset of SUBSET samples drawn by the data seed.
LARGE = 10_000
SUBSET = 10_000
#: Repetitions of a large dataset (its dense runs cost most of the budget); small ones use every seed.
LARGE_REPETITIONS = 3


def static_arm(density: float | None = None, epsilon: float | None = None) -> str:
    """Name of a static arm: ``"static 4%"`` (per-layer ``density``) or ``"static ε=20"`` (Erdős–Rényi ``epsilon``)."""
    if (density is None) == (epsilon is None):
        raise ValueError("give exactly one of density and epsilon")
    return f"static {100 * float(density):g}%" if density is not None else f"static ε={float(epsilon):g}"


def arm_of(config: RunConfig) -> str:
    """The arm a run belongs to (:data:`DENSE`, :data:`DROPOUT` or :func:`static_arm`)."""
    if config.method == "dense":
        return DROPOUT if config.dropout > 0 else DENSE
    return static_arm(config.density, None) if config.density is not None else static_arm(None, config.epsilon)


def arm_order(arms: Sequence[str], densities: Mapping[str, float] | None = None) -> list[str]:
    """References first, then static arms by hidden-layer density (``densities``: arm -> density; without it
    density arms by their number and ε arms by ε, after them)."""
    present = list(dict.fromkeys(arms))
    static = [a for a in present if a not in (DENSE, DROPOUT)]

    def key(a: str) -> tuple:
        if densities is not None and a in densities:
            return (0, float(densities[a]))
        word = a.split()[1]
        return (1, float(word[2:])) if word.startswith("ε=") else (0, float(word.rstrip("%")) / 100)

    return [a for a in (DENSE, DROPOUT) if a in present] + sorted(static, key=key)


# ---------------------------------------------------------------------------
# datasets: settings from their size, overrides, run configurations
# ---------------------------------------------------------------------------


def derived_setting(n_train: int, n_features: int) -> dict[str, Any]:
    """The setting of a dataset that ``settings`` does not name, from its size alone (pure).

    Every dataset gets three hidden layers of 1000 (the paper's over-parameterised MLP). A training split of more
    than :data:`LARGE` samples trains on a stratified subset of :data:`SUBSET` drawn by the data seed, batches of
    128, learning rate 0.05, 30 epochs for the dense arms and 60 for the static ones, :data:`LARGE_REPETITIONS`
    repetitions; a smaller one on all its samples, batches of 32 (16 below 500 samples), rate 0.01, 40 and 80
    epochs, every seed (``repetitions`` None). With the step schedule the first decay comes after half the epochs.
    """
    large = int(n_train) > LARGE
    return {"hidden": (1000,) * 3, "epochs": 30 if large else 40, "static_epochs": 60 if large else 80,
            "batch_size": 128 if large else (16 if n_train < 500 else 32), "lr": 0.05 if large else 0.01,
            "train_samples": SUBSET if large else None, "repetitions": LARGE_REPETITIONS if large else None}


@dataclass(frozen=True)
class DatasetSetting:
    """How one dataset is trained in this study.

    Attributes
    ----------
    name : dataset name (:func:`sparsetopo.data.available_datasets`).
    hidden, batch_size, lr : widths of the hidden layers and the optimiser of every run on it.
    epochs, static_epochs : epochs of the dense arms (and calibration runs) and of the static arms.
    train_samples : a stratified subset of the training split of this size drawn by the data seed; ``None``: all.
    repetitions : runs per arm (the first ``repetitions`` of ``seeds``, and as many calibration runs).
    """

    name: str
    hidden: tuple
    epochs: int
    static_epochs: int
    batch_size: int
    lr: float
    train_samples: int | None
    repetitions: int


def _check_fields(name: str, fields: Any, *, window: int | None = None) -> dict[str, Any]:
    """The fields of one ``settings`` entry, checked (any subset of :data:`SETTING_KEYS`); epochs need room for two
    plateau windows before the first decay when ``window`` is given (checked in :func:`resolve_settings`)."""
    if not isinstance(fields, Mapping):
        raise TypeError(f"parameter settings[{name!r}] must be a mapping with keys among {list(SETTING_KEYS)}, "
                        f"got {fields!r}")
    unknown = sorted(set(fields) - set(SETTING_KEYS))
    if unknown:
        raise ValueError(f"parameter settings[{name!r}]: unknown keys {unknown} (allowed: {list(SETTING_KEYS)})")
    p = f"settings[{name!r}]"
    checks = {
        "hidden": lambda v: check_sequence(f"{p}.hidden", v, lambda n, w: check_int(n, w, minimum=1)),
        "epochs": lambda v: check_int(f"{p}.epochs", v, minimum=K_LAST),
        "static_epochs": lambda v: check_int(f"{p}.static_epochs", v, minimum=K_LAST),
        "batch_size": lambda v: check_int(f"{p}.batch_size", v, minimum=1),
        "lr": lambda v: check_real(f"{p}.lr", v, minimum=0, exclusive_minimum=True),
        "train_samples": lambda v: check_optional(f"{p}.train_samples", v, lambda n, w: check_int(n, w, minimum=1)),
        "repetitions": lambda v: check_optional(f"{p}.repetitions", v, lambda n, w: check_int(n, w, minimum=2)),
    }
    return {k: checks[k](v) for k, v in fields.items()}


def full_rate_epochs(schedule: str, epochs: int) -> int:
    """Epochs trained at the full learning rate before ``schedule`` first lowers it (all of them for ``constant``),
    from :func:`sparsetopo.training.trainer.full_rate_epochs`, the rule the runs train with."""
    from ..training.trainer import full_rate_epochs as leading_full_rate

    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)} (a full-rate phase to read a plateau on), "
                         f"got {schedule!r}")
    return leading_full_rate(schedule, epochs)


def resolve_settings(params: "Parameters") -> list[DatasetSetting]:
    """The setting of every study dataset: :func:`derived_setting` of its size, then its ``settings`` entry.

    A derived ``repetitions`` is capped at the number of ``seeds``; one given in ``settings`` must not exceed it.

    Raises
    ------
    ValueError
        When a given ``repetitions`` exceeds ``len(seeds)``, or an arm's epochs leave fewer than
        ``2 x plateau_window`` epochs at the full rate (each naming the parameter).
    """
    from ..data import dataset_info

    out = []
    for name in params.study_datasets:
        info = dataset_info(name)
        given = _check_fields(name, params.override(name))
        fields = {**derived_setting(info.n_train, info.n_features), **given}
        n = fields["repetitions"]
        if "repetitions" in given and n is not None and n > len(params.seeds):
            raise ValueError(f"parameter settings[{name!r}].repetitions ({n}) exceeds the {len(params.seeds)} seeds "
                             f"(and calibration_seeds) given")
        fields["repetitions"] = len(params.seeds) if n is None else min(n, len(params.seeds))
        for key in ("epochs", "static_epochs"):
            full = full_rate_epochs(params.lr_schedule, fields[key])
            if full < 2 * params.plateau_window:
                raise ValueError(f"parameter settings[{name!r}].{key}: {fields[key]} epochs leave {full} at the full "
                                 f"rate under the {params.lr_schedule} schedule, fewer than 2 x plateau_window "
                                 f"({2 * params.plateau_window}) for the plateau check")
        out.append(DatasetSetting(name=name, **{**fields, "hidden": tuple(fields["hidden"])}))
    return out


def hidden_density(widths: Sequence[int], *, density: float | None = None, epsilon: float | None = None) -> float:
    """Fraction of the hidden layers' possible weights a static arm keeps (every layer but the dense output), from
    :func:`sparsetopo.topology.masks.random_layer_edges`; 1.0 for a dense arm (neither given)."""
    from ..topology.masks import random_layer_edges

    if density is None and epsilon is None:
        return 1.0
    edges = random_layer_edges(widths, density=density, epsilon=epsilon)[:-1]
    possible = [widths[i] * widths[i + 1] for i in range(len(widths) - 2)]
    return float(sum(edges) / sum(possible))


def arm_configs(setting: DatasetSetting, densities: Sequence[float], epsilons: Sequence[float],
                seeds: Sequence[int], *, lr_schedule: str, dropout: float | None, backend: str) -> list[RunConfig]:
    """Run configurations of one dataset: dense, dense + dropout (when ``dropout``), static by density, static by ε.

    Repetition ``i`` uses ``seeds[i]`` as training seed (weights, batch order, dropout, mask) *and* as
    ``data_seed`` (split or training subset), in every arm; only the first ``setting.repetitions`` seeds are used.
    Dense arms train ``setting.epochs``, static arms ``setting.static_epochs``. Topology snapshots are kept at the
    first and last epoch only.
    """
    densities = [float(d) for d in densities]
    epsilons = [float(e) for e in epsilons]
    seeds = [int(s) for s in seeds][: setting.repetitions]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must hold at least 2 distinct entries for the repetitions, got {seeds}")
    if len(set(densities)) != len(densities) or any(not 0 < d < 1 for d in densities):
        raise ValueError(f"densities must be distinct and in (0, 1), got {densities}")
    if len(set(epsilons)) != len(epsilons) or any(not e > 0 for e in epsilons):
        raise ValueError(f"epsilons must be distinct and > 0, got {epsilons}")
    if not densities and not epsilons:
        raise ValueError("give at least one static arm (densities or epsilons)")
    base = dict(dataset=setting.name, hidden=tuple(setting.hidden), batch_size=setting.batch_size, lr=setting.lr,
                lr_schedule=lr_schedule)
    if setting.train_samples is not None:
        base["train_samples"] = setting.train_samples
    dense = dict(base, epochs=setting.epochs, snapshot_every=setting.epochs)
    static = dict(base, method="static", backend=backend, epochs=setting.static_epochs,
                  snapshot_every=setting.static_epochs)
    configs = [RunConfig(method="dense", seed=s, data_seed=s, **dense) for s in seeds]
    if dropout:
        configs += [RunConfig(method="dense", dropout=dropout, seed=s, data_seed=s, **dense) for s in seeds]
    configs += [RunConfig(epsilon=None, density=d, seed=s, data_seed=s, **static) for d in densities for s in seeds]
    configs += [RunConfig(epsilon=e, seed=s, data_seed=s, **static) for e in epsilons for s in seeds]
    return configs


def _configs(params: "Parameters", setting: DatasetSetting, seeds: Sequence[int]) -> list[RunConfig]:
    return arm_configs(setting, params.densities, params.epsilons, seeds, lr_schedule=params.lr_schedule,
                       dropout=params.dropout, backend=params.backend)


def calibration_configs(params: "Parameters", settings: Sequence[DatasetSetting]) -> list[RunConfig]:
    """The dense calibration runs: per dataset the first ``repetitions`` of ``calibration_seeds`` (seed and
    split), as many as the compared arms have, with the dense recipe."""
    return [c for s in settings for c in _configs(params, s, params.calibration_seeds) if arm_of(c) == DENSE]


# ---------------------------------------------------------------------------
# margins, plateaus and verdicts
# ---------------------------------------------------------------------------


def interval_level(confidence: float, n_datasets: int, n_static: int) -> float:
    """Confidence of each comparison's interval: Bonferroni over ``n_datasets x n_static`` comparisons with one
    reference, so that every interval of a headline covers at ``confidence`` together."""
    return V.bonferroni_level(confidence, int(n_datasets) * int(n_static))


def dataset_margin(name: str, calibration: Sequence[float], n: int, multiple: float, n_test: int,
                   why: str = "") -> V.Margin:
    """The non-inferiority margin of one dataset: ``multiple`` standard deviations of a difference of two means of
    ``n`` runs, the SD measured over the dense calibration runs (``calibration``, their accuracies) and floored at
    one test sample's worth of accuracy (``1 / n_test``, the resolution of the measurement)."""
    if len(calibration) != int(n):
        raise ValueError(f"the margin of {name} needs a calibration at the same n: {len(calibration)} calibration "
                         f"runs for {n} repetitions")
    margin = V.mean_difference_margin(calibration, int(n), multiple,
                                      f"dense accuracy (mean of the last {K_LAST} epochs) on {name} in calibration "
                                      f"runs with their own seeds and splits", floor=1.0 / int(n_test),
                                      floor_why=f"one test sample in {n_test}")
    return V.Margin(margin.value, margin.justification + (f". {why}" if why else ""))


def plateau_table(curves: pd.DataFrame, full_rate: Mapping[tuple[str, str], int], *, window: int,
                  threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The plateau rule on every run and every arm.

    Parameters
    ----------
    curves : :func:`~sparsetopo.study.accuracy.curve_table` (``dataset, arm, seed, epoch, test_acc``).
    full_rate : ``(dataset, arm) -> epochs at the full rate`` (:func:`full_rate_epochs`).
    window, threshold : the rule: the last ``window`` full-rate epochs' mean minus the ``window`` before, in
        absolute value, below ``threshold``.

    Returns
    -------
    (runs, arms)
        ``runs``: ``dataset, arm, seed, moved, plateaued`` (each run's own curve); ``arms``: ``dataset, arm, n,
        full_rate, moved, plateaued`` (the decisive check, on the arm's mean curve over runs) and
        ``runs_plateaued``.
    """
    run_rows, arm_rows = [], []
    for (dataset, arm), part in curves.groupby(["dataset", "arm"], sort=False):
        full = int(full_rate[(dataset, arm)])
        per_run = []
        for seed, c in part.groupby("seed", sort=False):
            check = V.plateau_before(c.sort_values("epoch")["test_acc"].to_numpy(), full, k=window,
                                     threshold=threshold)
            per_run.append(check.converged)
            run_rows.append({"dataset": dataset, "arm": arm, "seed": int(seed), "moved": check.moved,
                             "plateaued": check.converged})
        mean = part.groupby("epoch")["test_acc"].mean().sort_index().to_numpy()
        check = V.plateau_before(mean, full, k=window, threshold=threshold)
        arm_rows.append({"dataset": dataset, "arm": arm, "n": len(per_run), "full_rate": full, "moved": check.moved,
                         "plateaued": check.converged, "runs_plateaued": int(sum(per_run))})
    return pd.DataFrame(run_rows), pd.DataFrame(arm_rows)


ZERO_MARGIN = V.Margin(0.0, "better than the reference at all: the whole interval above 0")


def compare(sparse: Sequence[float], reference: Sequence[float], *, margin: V.Margin, confidence: float,
            plateaued: bool) -> dict[str, V.Verdict]:
    """Both verdicts on one static arm against one reference arm (accuracies over repetitions), read off one Welch
    interval at ``confidence``: :data:`CLAIM_MATCH` (non-inferiority with ``margin``) and :data:`CLAIM_BEAT`
    (superiority with margin 0). ``plateaued=False`` caps both at inconclusive."""
    ci = V.difference_ci(sparse, reference, confidence)
    verdicts = {CLAIM_MATCH: V.non_inferiority(ci.estimate, ci.ci, margin),
                CLAIM_BEAT: V.superiority(ci.estimate, ci.ci, ZERO_MARGIN)}
    return {claim: V.unless_converged(v, plateaued, "an arm that did not plateau before its first decay")
            for claim, v in verdicts.items()}


def aggregate(per_density: Sequence[V.Verdict]) -> tuple[int, V.Verdict]:
    """The dataset's verdict from its static arms' verdicts, and the index of the deciding arm.

    Holds when some arm holds (the highest lower bound decides); does not hold when every arm does not hold (the
    highest upper bound is shown); otherwise inconclusive (the inconclusive arm with the highest lower bound).
    """
    if not per_density:
        raise ValueError("no static arms to aggregate")

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


def comparisons(runs: pd.DataFrame, margins: Mapping[str, V.Margin], plateau: pd.DataFrame, *, level: float,
                references: Sequence[str] = (DENSE,)) -> pd.DataFrame:
    """Every static arm against each reference, per dataset, both claims from one Welch interval at ``level``
    (:func:`interval_level`). ``runs`` has ``dataset, arm, method, hidden_density, acc``; ``plateau`` is the arm
    table of :func:`plateau_table`. Columns: ``dataset, reference, arm, density, claim, estimate, low, high, margin,
    interval_confidence, plateaued, verdict, note, verdict_obj``."""
    flat = plateau.set_index(["dataset", "arm"])["plateaued"]
    rows = []
    for dataset in dict.fromkeys(runs["dataset"]):
        part = runs[runs["dataset"] == dataset]
        static = part[part["method"] == "static"]
        arms = arm_order(static["arm"], dict(zip(static["arm"], static["hidden_density"])))
        for reference in references:
            ref = part[part["arm"] == reference]
            if ref.empty:
                continue
            for arm in arms:
                a = static[static["arm"] == arm]
                plateaued = bool(flat[(dataset, arm)] and flat[(dataset, reference)])
                for claim, v in compare(a["acc"].tolist(), ref["acc"].tolist(), margin=margins[dataset],
                                        confidence=level, plateaued=plateaued).items():
                    rows.append({"dataset": dataset, "reference": reference, "arm": arm,
                                 "density": float(a["hidden_density"].iloc[0]), "claim": claim, "estimate": v.estimate,
                                 "low": v.low, "high": v.high, "margin": v.margin, "interval_confidence": level,
                                 "plateaued": plateaued, "verdict": v.verdict, "note": v.note, "verdict_obj": v})
    return pd.DataFrame(rows)


def dataset_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset, reference and claim: the aggregated verdict (:func:`aggregate`) and its arm."""
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


# ---------------------------------------------------------------------------
# the experiment: Parameters -> run -> claims / context
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``02_sparse_vs_dense`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    dataset : one of ``datasets``: the dataset whose per-run curves are drawn in detail; any other registered
        dataset: the study runs on that dataset alone.
    datasets : the study's datasets, in the order of the tables and panels.
    settings : dataset name -> some of :data:`SETTING_KEYS`, replacing what :func:`derived_setting` gives.
    densities : per-layer densities of static arms (distinct, in (0, 1)).
    epsilons : Erdős–Rényi ε of static arms (distinct, > 0); the paper's setting is 20.
    seeds : repetition ``i`` trains with ``seeds[i]`` as seed and data seed (distinct, >= 0, at least 2).
    calibration_seeds : as many seeds as ``seeds``, none of them, for the dense calibration runs.
    lr_schedule : :data:`SCHEDULES` (SGD, momentum 0.9, weight decay 2e-4).
    dropout : dropout rate of a ``dense + dropout`` reference arm in (0, 0.95]; None: no such arm.
    backend : backend of the static arms (``sparse``, ``auto`` or ``masked``; speed only).
    plateau_window, plateau_threshold, plateau_threshold_why : the plateau rule and why its threshold.
    margin_multiple, margin_multiple_why : the margin in standard deviations of a difference of two means of n
        runs, and why that multiple.
    confidence : family-wise confidence of each headline's intervals (Bonferroni over datasets x static arms).
    """

    NOTEBOOK: ClassVar[str] = "02_sparse_vs_dense"

    datasets: tuple
    settings: Any
    densities: tuple
    epsilons: tuple
    seeds: tuple
    calibration_seeds: tuple
    lr_schedule: str
    dropout: float | None
    backend: str
    plateau_window: int
    plateau_threshold: float
    plateau_threshold_why: str
    margin_multiple: float
    margin_multiple_why: str
    confidence: float

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("datasets", check_sequence("datasets", self.datasets, check_str, unique=True))
        _check_known("dataset", self.dataset)
        for i, name in enumerate(self.datasets):
            _check_known(f"datasets[{i}]", name)
        if not isinstance(self.settings, Mapping):
            raise TypeError(f"parameter settings must be a mapping of dataset name -> settings, got {self.settings!r}")
        for name, fields in self.settings.items():
            _check_known(f"settings key {name!r}", name)
            _check_fields(name, fields)
        self._set("densities", check_sequence("densities", self.densities, lambda n, v: check_real(
            n, v, minimum=0, maximum=0.999, exclusive_minimum=True), unique=True, min_length=0))
        self._set("epsilons", check_sequence("epsilons", self.epsilons, lambda n, v: check_real(
            n, v, minimum=0, exclusive_minimum=True), unique=True, min_length=0))
        if not self.densities and not self.epsilons:
            raise ValueError("parameters densities and epsilons are both empty: give at least one static arm")
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), unique=True,
                                          min_length=2))
        self._set("calibration_seeds", check_sequence("calibration_seeds", self.calibration_seeds,
                                                      lambda n, v: check_int(n, v, minimum=0), unique=True,
                                                      min_length=2))
        if len(self.calibration_seeds) != len(self.seeds):
            raise ValueError(f"parameter calibration_seeds must hold as many seeds as seeds ({len(self.seeds)}): the "
                             f"margin is calibrated at the same number of runs, got {len(self.calibration_seeds)}")
        shared = sorted(set(self.seeds) & set(self.calibration_seeds))
        if shared:
            raise ValueError(f"parameter calibration_seeds must differ from seeds (the margin is fixed apart from the "
                             f"compared runs), both hold {shared}")
        self._set("lr_schedule", check_str("lr_schedule", self.lr_schedule, choices=SCHEDULES))
        self._set("dropout", check_optional("dropout", self.dropout, lambda n, v: check_real(
            n, v, minimum=0, maximum=0.95, exclusive_minimum=True)))
        self._set("backend", check_str("backend", self.backend, choices=("sparse", "auto", "masked")))
        self._set("plateau_window", check_int("plateau_window", self.plateau_window, minimum=1))
        self._set("plateau_threshold", check_real("plateau_threshold", self.plateau_threshold, minimum=0,
                                                  exclusive_minimum=True))
        self._set("plateau_threshold_why", check_str("plateau_threshold_why", self.plateau_threshold_why))
        self._set("margin_multiple", check_real("margin_multiple", self.margin_multiple, minimum=0,
                                                exclusive_minimum=True))
        self._set("margin_multiple_why", check_str("margin_multiple_why", self.margin_multiple_why))
        self._set("confidence", check_real("confidence", self.confidence, minimum=0.5, maximum=0.999))

    @property
    def alone(self) -> bool:
        """Whether ``dataset`` is not one of ``datasets``, so the study runs on it alone."""
        return self.dataset.lower() not in {n.lower() for n in self.datasets}

    @property
    def study_datasets(self) -> tuple[str, ...]:
        """The datasets the study runs on: ``datasets``, or ``(dataset,)`` when it is not one of them."""
        return (self.dataset,) if self.alone else self.datasets

    @property
    def detail_dataset(self) -> str:
        """The study dataset whose per-run curves are drawn (``dataset`` as spelled in ``datasets``)."""
        return next(n for n in self.study_datasets if n.lower() == self.dataset.lower())

    @property
    def references(self) -> tuple[str, ...]:
        """The reference arms: dense, and dense + dropout when ``dropout`` is given."""
        return (DENSE, DROPOUT) if self.dropout else (DENSE,)

    @property
    def n_static(self) -> int:
        """Number of static arms per dataset."""
        return len(self.densities) + len(self.epsilons)

    def override(self, name: str) -> dict[str, Any]:
        """The ``settings`` entry of dataset ``name`` (names match case-insensitively; ``{}`` if none)."""
        return next((dict(v) for k, v in self.settings.items() if k.lower() == name.lower()), {})


def _check_known(parameter: str, name: Any) -> None:
    """A dataset name :func:`sparsetopo.data.load_dataset` knows under the data root, else a one-line error."""
    from ..data import available_datasets, data_root

    check_str(parameter, name)
    known = available_datasets()
    if name.lower() not in {k.lower() for k in known}:
        raise ValueError(f"parameter {parameter}: no dataset {name!r} under the data root {data_root()} (register yours "
                         f"with sparsetopo.data.register_arrays); known: {', '.join(known)}")


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``02_sparse_vs_dense`` computed (see :func:`run`).

    Attributes
    ----------
    params : the parameters; settings : each study dataset's :class:`DatasetSetting`.
    data : one row per dataset (sizes, widths, budgets, repetitions, calibration SD and margin).
    margins : dataset -> :class:`~sparsetopo.study.verdicts.Margin`.
    calibration : :func:`~sparsetopo.study.accuracy.run_table` of the calibration runs.
    configs : every compared run; runs, arms, curves : their tables (``runs`` with ``hidden_density``, and
        ``converged``/``moved`` holding each run's own plateau check before its first decay).
    plateau : the decisive plateau check per dataset and arm (:func:`plateau_table`).
    level : confidence of each interval; comparisons : :func:`comparisons`; verdicts : :func:`dataset_verdicts`.
    seconds : wall time of :func:`run` (training or reading back).
    """

    params: Parameters
    settings: list
    data: pd.DataFrame
    margins: dict
    calibration: pd.DataFrame
    configs: list
    runs: pd.DataFrame
    arms: pd.DataFrame
    plateau: pd.DataFrame
    level: float
    comparisons: pd.DataFrame
    verdicts: pd.DataFrame
    curves: pd.DataFrame
    seconds: float


def _longest_first(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """The most expensive runs first (dense runs of the large datasets), so two workers finish together."""
    def cost(c: RunConfig) -> float:
        width = sum(c.hidden) * (1.0 if c.method == "dense" else 4 * float(c.density or 0.05))
        return width * c.epochs * (c.train_samples or 2000) / c.batch_size ** 0.25

    return sorted(configs, key=cost, reverse=True)


def _widths(setting: DatasetSetting) -> list[int]:
    from ..data import dataset_info

    return dataset_info(setting.name).widths(setting.hidden)


def _data_table(settings: Sequence[DatasetSetting], margins: Mapping[str, V.Margin],
                calibration: pd.DataFrame) -> pd.DataFrame:
    from ..data import dataset_info, load_dataset

    rows = []
    for s in settings:
        info = dataset_info(s.name)
        cal = calibration.loc[calibration["dataset"] == s.name, "acc"]
        rows.append({"dataset": s.name, "n_features": info.n_features, "n_classes": info.n_classes,
                     "n_train": info.n_train, "train_used": s.train_samples or info.n_train, "n_test": info.n_test,
                     "preprocessing": load_dataset(s.name).preprocessing,
                     "widths": "-".join(str(w) for w in _widths(s)), "epochs": s.epochs,
                     "static_epochs": s.static_epochs, "batch_size": s.batch_size, "lr": s.lr,
                     "repetitions": s.repetitions, "calibration_sd": float(cal.std(ddof=1)),
                     "calibration_mean": float(cal.mean()), "margin": margins[s.name].value})
    return pd.DataFrame(rows)


def run(params: Parameters) -> Result:
    """Train (or read back from the run store) the calibration runs and every arm of every study dataset, check the
    plateaus, fix the margins from the calibration runs, then compare."""
    from ..data import dataset_info

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be sparse_vs_dense.Parameters, got {type(params).__name__}")
    p = params
    start = time.perf_counter()
    settings = resolve_settings(p)
    calibration_runs = calibration_configs(p, settings)
    configs = [c for s in settings for c in _configs(p, s, p.seeds)]
    store.sweep(_longest_first(configs + calibration_runs), n_jobs=p.n_jobs, root=p.runs_root,
                progress=show_progress())
    calibration = run_table(calibration_runs, p.runs_root, arm=arm_of)
    margins = {s.name: dataset_margin(s.name, calibration.loc[calibration["dataset"] == s.name, "acc"].tolist(),
                                      s.repetitions, p.margin_multiple, dataset_info(s.name).n_test,
                                      p.margin_multiple_why)
               for s in settings}
    runs = run_table(configs, p.runs_root, arm=arm_of, k=K_LAST)
    widths = {s.name: _widths(s) for s in settings}
    runs["hidden_density"] = [hidden_density(widths[c.dataset], density=c.density, epsilon=c.epsilon)
                              if c.method == "static" else 1.0 for c in configs]
    curves = curve_table(configs, p.runs_root, arm=arm_of)
    full_rate = {(c.dataset, arm_of(c)): full_rate_epochs(p.lr_schedule, c.epochs) for c in configs}
    per_run, plateau = plateau_table(curves, full_rate, window=p.plateau_window, threshold=p.plateau_threshold)
    checked = per_run.set_index(["dataset", "arm", "seed"])
    keys = list(zip(runs["dataset"], runs["arm"], runs["seed"]))
    runs["converged"] = [bool(checked.loc[k, "plateaued"]) for k in keys]
    runs["moved"] = [float(checked.loc[k, "moved"]) for k in keys]
    order = dict(zip(runs["arm"], runs["hidden_density"]))
    level = interval_level(p.confidence, len(settings), p.n_static)
    table = comparisons(runs, margins, plateau, level=level, references=p.references)
    arms = arm_table(runs, p.confidence, order=lambda names: arm_order(names, order))
    density = runs.groupby(["dataset", "arm"])["hidden_density"].first()
    arms["density"] = [float(density[(d, a)]) for d, a in zip(arms["dataset"], arms["arm"])]
    return Result(params=p, settings=settings, data=_data_table(settings, margins, calibration), margins=margins,
                  calibration=calibration, configs=configs, runs=runs, arms=arms, plateau=plateau,
                  level=level, comparisons=table, verdicts=dataset_verdicts(table), curves=curves,
                  seconds=time.perf_counter() - start)


def _interval(v: V.Verdict) -> str:
    return f"{100 * v.estimate:+.2f} [{100 * v.low:+.2f}, {100 * v.high:+.2f}] points"


def claim_name(dataset: str, claim: str, reference: str) -> str:
    """The name of a dataset's verdict in the findings (e.g. ``"mnist: some static density beats dense"``)."""
    return f"{dataset}: some static density {claim} {reference}"


PLATEAU_CLAIM = "Every arm plateaued before its first learning-rate decay"


def _hidden(widths: str) -> str:
    """``"784-1000-1000-1000-10"`` -> ``"3×1000"`` (``"64-32-16-10"`` -> ``"32-16"``)."""
    hidden = widths.split("-")[1:-1]
    return f"{len(hidden)}×{hidden[0]}" if len(set(hidden)) == 1 else "-".join(hidden)


def _static_names(p: Parameters) -> str:
    return "/".join([f"{100 * d:g}%" for d in sorted(p.densities)] + [f"ε={e:g}" for e in sorted(p.epsilons)])


def _setting_line(result: Result) -> str:
    """The setting of the headline in a few words."""
    p, data = result.params, result.data
    groups = []
    for hidden, part in data.assign(hidden=[_hidden(w) for w in data["widths"]]).groupby("hidden", sort=False):
        groups.append(f"{hidden} hidden on " + ", ".join(
            f"{r.dataset} ({r.train_used:,} train, {r.repetitions} reps)" for r in part.itertuples()))
    return (f"{'; '.join(groups)}; static {_static_names(p)} vs dense, seeds and splits varied together, "
            f"Bonferroni over {len(result.settings)} datasets x {p.n_static} static arms")


def claims(result: Result) -> Findings:
    """The findings of notebook ``02_sparse_vs_dense``: descriptions, the plateau check, verdicts by the rule,
    headlines, and the numbers behind every figure."""
    p, arms, runs, v = result.params, result.arms, result.runs, result.verdicts
    findings = Findings("02_sparse_vs_dense", p.figures_dir, parameters=p.as_dict())
    for name, frame in (("datasets", result.data), ("arms", arms), ("runs", runs), ("plateau", result.plateau),
                        ("calibration", result.calibration),
                        ("comparisons", result.comparisons.drop(columns="verdict_obj"))):
        findings.add_data(name, frame)
    findings.add_data("learning_curves", result.curves.groupby(["dataset", "arm", "epoch"], sort=False)["test_acc"]
                      .mean().reset_index())
    findings.add_data("execution", {"seconds": result.seconds, "n_jobs": p.n_jobs,
                                    "runs": len(result.configs) + len(result.calibration)})
    flat = result.plateau
    missed = flat[~flat["plateaued"]]
    findings.claim(
        PLATEAU_CLAIM, measured=float(flat["plateaued"].sum()), holds=missed.empty,
        spread=f"{int(flat['plateaued'].sum())} of {len(flat)} arms; did not: "
        + (", ".join(f"{r.dataset} {r.arm} ({100 * r.moved:+.2f} pt over epochs {r.full_rate - 2 * p.plateau_window + 1}"
                     f"-{r.full_rate})" for r in missed.itertuples()) or "none"),
        detail=f"check: the arm's mean test accuracy over its last {p.plateau_window} full-rate epochs minus the "
               f"{p.plateau_window} before moved less than {p.plateau_threshold:g} ({p.plateau_threshold_why}); a "
               f"verdict involving an arm that did not is capped at inconclusive")
    for s in result.settings:
        a = arms[arms["dataset"] == s.name].set_index("arm")
        d = a.loc[DENSE]
        row = result.data.set_index("dataset").loc[s.name]
        findings.claim(
            f"Dense training accuracy on {s.name} (mean of the last {K_LAST} epochs)", measured=float(d["train_mean"]),
            holds=None, spread=f"test {d['acc_mean']:.4f} [{d['acc_low']:.4f}, {d['acc_high']:.4f}] (n={int(d['n'])}); "
                               f"run SD {d['acc_sd']:.4f}, calibration SD {row['calibration_sd']:.4f}",
            detail="description: whether the over-parameterised dense network fits its training data (running "
                   "accuracy over each epoch's batches)")
        if DROPOUT in a.index:
            here = runs[runs["dataset"] == s.name]
            ci = V.difference_ci(here[here["arm"] == DROPOUT]["acc"], here[here["arm"] == DENSE]["acc"], p.confidence)
            findings.claim(
                f"Dropout {p.dropout:g} changes dense accuracy on {s.name} by", measured=ci.estimate, holds=None,
                spread=f"[{ci.low:.4f}, {ci.high:.4f}] (Welch 95%)",
                detail=f"description: dense + dropout minus dense, mean of the last {K_LAST} epochs")
    for s in result.settings:
        for reference in p.references:
            for claim in (CLAIM_MATCH, CLAIM_BEAT):
                row = v[(v["dataset"] == s.name) & (v["reference"] == reference) & (v["claim"] == claim)].iloc[0]
                rule = (f"non-inferiority, margin {row['margin']:.4f}" if claim == CLAIM_MATCH
                        else "superiority, margin 0")
                findings.claim_verdict(
                    claim_name(s.name, claim, reference), row["verdict_obj"],
                    spread=f"deciding arm {row['deciding_arm']}: {_interval(row['verdict_obj'])}; per arm: "
                           f"{row['per_density']}",
                    detail=f"{rule}; static minus {reference} accuracy (mean of the last {K_LAST} epochs) over "
                           f"{s.repetitions} repetitions, Welch interval at {100 * result.level:.4g}% (Bonferroni over "
                           f"{len(result.settings)} datasets x {p.n_static} static arms); holds if some arm holds, "
                           f"does not hold if all do not")
    setting = _setting_line(result)
    findings.headline("Static sparse matches or beats dense",
                      [claim_name(s.name, CLAIM_MATCH, DENSE) for s in result.settings], setting)
    findings.headline("Static sparse beats dense",
                      [claim_name(s.name, CLAIM_BEAT, DENSE) for s in result.settings], setting)
    return findings


# ---------------------------------------------------------------------------
# what the notebook shows: tables and the templates' numbers
# ---------------------------------------------------------------------------


def settings_table(result: Result) -> pd.DataFrame:
    """Each dataset's size, widths, budgets, repetitions, calibration SD and margin, in points."""
    d = result.data
    return pd.DataFrame({
        "dataset": d["dataset"], "train / test": [f"{u} of {n} / {t}" for u, n, t in
                                                  zip(d["train_used"], d["n_train"], d["n_test"])],
        "widths": d["widths"], "epochs (dense / static)": [f"{e} / {s}" for e, s in zip(d["epochs"], d["static_epochs"])],
        "batch": d["batch_size"], "lr": d["lr"], "repetitions": d["repetitions"],
        "calibration SD (points)": (100 * d["calibration_sd"]).round(3),
        "margin (points)": (100 * d["margin"]).round(3)})


def plateau_report(result: Result) -> pd.DataFrame:
    """The plateau check per dataset and arm: full-rate epochs, movement of the arm's mean curve (points), verdict,
    and how many of its runs plateaued on their own curves."""
    t = result.plateau
    return pd.DataFrame({
        "dataset": t["dataset"], "arm": t["arm"], "full-rate epochs": t["full_rate"],
        "moved (points)": (100 * t["moved"]).round(3), "plateaued": t["plateaued"],
        "runs plateaued": [f"{k} of {n}" for k, n in zip(t["runs_plateaued"], t["n"])]})


def arm_report(result: Result) -> pd.DataFrame:
    """The per-arm table, accuracies in points."""
    a = result.arms
    return pd.DataFrame({
        "dataset": a["dataset"], "arm": a["arm"], "runs": a["n"], "acc (last 5)": (100 * a["acc_mean"]).round(2),
        "95% CI": [f"[{100 * lo:.2f}, {100 * hi:.2f}]" for lo, hi in zip(a["acc_low"], a["acc_high"])],
        "run SD": (100 * a["acc_sd"]).round(2), "final": (100 * a["final_mean"]).round(2),
        "best": (100 * a["best_mean"]).round(2), "train acc (last 5)": (100 * a["train_mean"]).round(2),
        "hidden weights kept": [f"{100 * w:.3g}%" for w in a["density"]]})


def verdict_summary(result: Result) -> pd.DataFrame:
    """One row per dataset, one column per claim and reference: the verdict and its deciding difference."""
    table = result.verdicts.assign(cell=[f"{r.verdict}: {r.deciding_arm} {100 * r.estimate:+.2f}"
                                         for r in result.verdicts.itertuples()],
                                   column=[f"static {c} {r}" for c, r in zip(result.verdicts["claim"],
                                                                             result.verdicts["reference"])])
    wide = table.pivot(index="dataset", columns="column", values="cell")
    order = [f"static {c} {r}" for r in result.params.references for c in (CLAIM_MATCH, CLAIM_BEAT)]
    return wide.loc[list(dict.fromkeys(table["dataset"])), order].reset_index().rename_axis(columns=None)


def _names(frame: pd.DataFrame, verdict: str) -> list[str]:
    return list(frame.loc[frame["verdict"] == verdict, "dataset"])


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the notebook's templates (``rules``, ``runs``, ``discussion``) are filled from."""
    p, v, data, arms = result.params, result.verdicts, result.data, result.arms
    tally = {}
    for key, reference, claim in (("match", DENSE, CLAIM_MATCH), ("beat", DENSE, CLAIM_BEAT),
                                  ("match_dropout", DROPOUT, CLAIM_MATCH), ("beat_dropout", DROPOUT, CLAIM_BEAT)):
        part = v[(v["reference"] == reference) & (v["claim"] == claim)]
        tally[key] = {w.replace(" ", "_"): _names(part, w) for w in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)}
    deciding = [{"dataset": r.dataset, "arm": r.deciding_arm, "estimate": r.estimate, "low": r.low, "high": r.high,
                 "margin": r.margin, "verdict": r.verdict, "capped": bool(r.verdict_obj.note),
                 "width": r.high - r.low}
                for r in v[(v["reference"] == DENSE) & (v["claim"] == CLAIM_MATCH)].itertuples()]
    datasets = []
    for r in data.itertuples():
        a = arms[arms["dataset"] == r.dataset].set_index("arm")
        static = a[a.index.str.startswith("static")].sort_values("density")
        sparsest = static.iloc[0]
        datasets.append({**r._asdict(), "hidden": "-".join(r.widths.split("-")[1:-1]),
                         "run_sd": float(a.loc[DENSE, "acc_sd"]), "dense_train": float(a.loc[DENSE, "train_mean"]),
                         "dense_acc": float(a.loc[DENSE, "acc_mean"]),
                         "sparsest_arm": sparsest.name, "sparsest_train": float(sparsest["train_mean"]),
                         "arm_densities": [{"arm": name, "density": float(row["density"])}
                                           for name, row in static.iterrows()],
                         "justification": result.margins[r.dataset].justification,
                         "overridden": sorted(p.override(r.dataset))})
    hidden_groups = [{"hidden": h, "datasets": list(part["dataset"])} for h, part in
                     pd.DataFrame(datasets).groupby("hidden", sort=False)]
    missed = result.plateau[~result.plateau["plateaued"]]
    return {
        "profile": p.profile, "k": K_LAST, "confidence": p.confidence, "level": result.level,
        "n_comparisons": len(result.settings) * p.n_static, "n_static": p.n_static,
        "densities": sorted(p.densities), "epsilons": sorted(p.epsilons), "static_names": _static_names(p),
        "dropout": p.dropout, "lr_schedule": p.lr_schedule, "backend": p.backend,
        "window": p.plateau_window, "threshold": p.plateau_threshold, "threshold_why": p.plateau_threshold_why,
        "margin_multiple": p.margin_multiple, "margin_why": p.margin_multiple_why,
        "n_seeds": len(p.seeds), "n_runs": len(result.runs), "n_calibration_runs": len(result.calibration),
        "alone": p.alone, "detail": p.detail_dataset, "datasets": datasets, "hidden_groups": hidden_groups,
        "tally": tally, "deciding": deciding, "n_datasets": len(datasets),
        "n_arms": len(result.plateau), "missed": [{"dataset": r.dataset, "arm": r.arm, "moved": r.moved,
                                                   "full_rate": r.full_rate} for r in missed.itertuples()],
        "small": [d for d in datasets if d["n_test"] < 100],
        "stand_ins": [d["dataset"] for d in datasets if d["dataset"] in MICROARRAY_STAND_INS],
        "subsets": [d for d in datasets if d["train_used"] < d["n_train"]],
        "narrow": [g for g in hidden_groups if any(int(w) < 1000 for w in g["hidden"].split("-"))],
        "unfitted": [d for d in datasets if d["dense_train"] < 0.99],
        "seconds": result.seconds, "n_jobs": p.n_jobs,
        "n_claims": sum(c.verdict is not None for c in findings.claims),
    }
