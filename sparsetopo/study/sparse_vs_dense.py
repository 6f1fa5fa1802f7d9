"""Static random sparse MLPs against the dense MLP of the same shape (notebook ``02_sparse_vs_dense``).

The paper's claim: a *static* random sparse MLP (an Erdős–Rényi mask drawn once,
never rewired) can match or beat the dense MLP of the same shape. On every dataset
of the study three kinds of arm are trained with one recipe and several seeds each:
``dense``, ``dense + dropout`` and ``static <d>%`` (hidden layers keep a fraction
``d`` of their weights; the output layer stays dense, as in the paper).

A dataset's setting (widths, epochs, batch size, learning rate, training samples)
comes from its size (:func:`derived_setting`), with the overrides of the
``settings`` parameter on top. Its margin is ``margin_multiple`` times the
seed-to-seed SD of dense accuracy in calibration runs (``calibration_seeds``); a
dataset without a ``calibration_sd`` in ``settings`` has it measured by
:func:`run` before the verdicts. The rules themselves are stated in the
notebook's ``rules`` template and decided by :mod:`sparsetopo.study.verdicts`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
    "K_LAST", "CONVERGENCE_THRESHOLD", "DENSE", "DROPOUT", "REFERENCES", "CLAIM_MATCH", "CLAIM_BEAT",
    "static_arm", "arm_of", "arm_order", "derived_setting", "DatasetSetting", "resolve_settings", "arm_configs",
    "calibration_configs", "dataset_margin", "compare",
    "aggregate", "comparisons", "dataset_verdicts", "Parameters", "Result", "run", "claims", "context",
    "settings_table", "convergence_report", "arm_report", "verdict_summary",
]

logger = logging.getLogger(__name__)

#: Accuracy of a run: mean test accuracy of its last K_LAST epochs.
K_LAST = 5
#: A run converged when its last-K_LAST mean moved by less than this from the K_LAST epochs before.
CONVERGENCE_THRESHOLD = 0.001
DENSE = "dense"
DROPOUT = "dense + dropout"
REFERENCES = (DENSE, DROPOUT)
CLAIM_MATCH = "matches or beats"
CLAIM_BEAT = "beats"
#: Small high-dimensional microarray sets that can stand in for the paper's Lung and CLL_SUB_111.
MICROARRAY_STAND_INS = ("TOX_171", "Prostate_GE", "ALLAML", "GLIOMA", "lung_discrete", "leukemia", "lymphoma",
                        "colon", "nci9")
#: Fields of a dataset's setting (``settings`` entries may give any of them).
SETTING_KEYS = ("hidden", "epochs", "batch_size", "lr", "train_samples", "calibration_sd")
#: A training split larger than this is trained on a stratified subset of SUBSET samples.
LARGE = 10_000
SUBSET = 3_000


def static_arm(density: float) -> str:
    """Name of the static arm of per-layer ``density`` (e.g. ``"static 4%"``)."""
    return f"static {100 * float(density):g}%"


def arm_of(config: RunConfig) -> str:
    """The arm a run belongs to (:data:`DENSE`, :data:`DROPOUT` or :func:`static_arm`)."""
    if config.method == "dense":
        return DROPOUT if config.dropout > 0 else DENSE
    return static_arm(config.density)


def arm_order(arms: Sequence[str]) -> list[str]:
    static = sorted((a for a in set(arms) if a not in REFERENCES), key=lambda a: float(a.split()[1].rstrip("%")))
    return [a for a in REFERENCES if a in set(arms)] + static


# ---------------------------------------------------------------------------
# datasets: settings from their size, overrides, run configurations
# ---------------------------------------------------------------------------


def derived_setting(n_train: int, n_features: int) -> dict[str, Any]:
    """The setting of a dataset that ``settings`` does not name, from its size alone (pure).

    A training split of more than :data:`LARGE` samples trains on a stratified subset of
    :data:`SUBSET` with 3 hidden layers of at most 200 units and learning rate 0.02; a smaller
    one trains on all its samples with 3 hidden layers of at most 500 units and rate 0.01.
    Hidden layers are no wider than the input (at least 32 units); batches hold 16 samples
    below 500 training samples, else 32; 40 epochs.
    """
    large = int(n_train) > LARGE
    width = min(200 if large else 500, max(32, int(n_features)))
    return {"hidden": (width,) * 3, "epochs": 40, "batch_size": 16 if n_train < 500 else 32,
            "lr": 0.02 if large else 0.01, "train_samples": SUBSET if large else None}


@dataclass(frozen=True)
class DatasetSetting:
    """How one dataset is trained in this study.

    Attributes
    ----------
    name : dataset name (:func:`sparsetopo.data.available_datasets`).
    hidden, epochs, batch_size, lr : widths of the hidden layers and the budget of every run on it.
    train_samples : a stratified seeded subset of the training split of this size; ``None``: all.
    calibration_sd : seed-to-seed SD of dense accuracy (mean of the last 5 epochs) in calibration runs;
        ``None`` until measured. measured : whether :func:`run` measured it (not given in ``settings``).
    """

    name: str
    hidden: tuple
    epochs: int
    batch_size: int
    lr: float
    train_samples: int | None
    calibration_sd: float | None
    measured: bool = False


def _check_fields(name: str, fields: Any) -> dict[str, Any]:
    """The fields of one ``settings`` entry, checked (any subset of :data:`SETTING_KEYS`)."""
    if not isinstance(fields, Mapping):
        raise TypeError(f"parameter settings[{name!r}] must be a mapping with keys among {list(SETTING_KEYS)}, "
                        f"got {fields!r}")
    unknown = sorted(set(fields) - set(SETTING_KEYS))
    if unknown:
        raise ValueError(f"parameter settings[{name!r}]: unknown keys {unknown} (allowed: {list(SETTING_KEYS)})")
    p = f"settings[{name!r}]"
    checks = {
        "hidden": lambda v: check_sequence(f"{p}.hidden", v, lambda n, w: check_int(n, w, minimum=1)),
        "epochs": lambda v: check_int(f"{p}.epochs", v, minimum=2 * K_LAST),
        "batch_size": lambda v: check_int(f"{p}.batch_size", v, minimum=1),
        "lr": lambda v: check_real(f"{p}.lr", v, minimum=0, exclusive_minimum=True),
        "train_samples": lambda v: check_optional(f"{p}.train_samples", v, lambda n, w: check_int(n, w, minimum=1)),
        "calibration_sd": lambda v: check_optional(f"{p}.calibration_sd", v, lambda n, w: check_real(n, w, minimum=0)),
    }
    return {k: checks[k](v) for k, v in fields.items()}


def resolve_settings(params: "Parameters") -> list[DatasetSetting]:
    """The setting of every study dataset: :func:`derived_setting` of its size, then its ``settings`` entry."""
    from ..data import dataset_info

    out = []
    for name in params.study_datasets:
        info = dataset_info(name)
        fields = {**derived_setting(info.n_train, info.n_features), "calibration_sd": None,
                  **_check_fields(name, params.override(name))}
        out.append(DatasetSetting(name=name, **{**fields, "hidden": tuple(fields["hidden"])}))
    return out


def arm_configs(setting: DatasetSetting, densities: Sequence[float], seeds: Sequence[int], *,
                lr_schedule: str, dropout: float, backend: str) -> list[RunConfig]:
    """Run configurations of one dataset: dense, dense + dropout, then static by increasing density.

    Every run shares the widths, epochs, batch size, learning rate and schedule; seeds are
    innermost. A run's ``seed`` draws its weights, batch order, dropout masks and (static arms)
    its mask. Topology snapshots are kept at the first and last epoch only.
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


def _configs(params: "Parameters", setting: DatasetSetting, seeds: Sequence[int]) -> list[RunConfig]:
    return arm_configs(setting, params.densities, seeds, lr_schedule=params.lr_schedule, dropout=params.dropout,
                       backend=params.backend)


def calibration_configs(params: "Parameters", settings: Sequence[DatasetSetting]) -> list[RunConfig]:
    """The dense runs with ``calibration_seeds`` of every dataset whose ``calibration_sd`` is to be measured."""
    return [c for s in settings if s.calibration_sd is None
            for c in _configs(params, s, params.calibration_seeds) if arm_of(c) == DENSE]


# ---------------------------------------------------------------------------
# margins and verdicts
# ---------------------------------------------------------------------------


def dataset_margin(setting: DatasetSetting, multiple: float, calibration_seeds: Sequence[int],
                   n_test: int) -> V.Margin:
    """``multiple`` x the dataset's calibration SD, an SD below one test sample's worth of accuracy
    (``1 / n_test``, the resolution of the measurement) counting as ``1 / n_test``; with the sentence why."""
    if setting.calibration_sd is None:
        raise ValueError(f"the calibration SD of {setting.name} has not been measured yet")
    resolution = 1.0 / int(n_test)
    sd = max(setting.calibration_sd, resolution)
    floor = (f", floored at one test sample's worth of accuracy (1/{n_test} = {resolution:.4f}), the resolution "
             f"of the measurement" if setting.calibration_sd < resolution else "")
    where = "measured in this execution" if setting.measured else "not the seeds compared here"
    return V.Margin(
        multiple * sd,
        f"{multiple:g} x the seed-to-seed standard deviation ({setting.calibration_sd:.4f}) of dense accuracy "
        f"(mean of the last {K_LAST} epochs) on {setting.name} in calibration runs with seeds "
        f"{', '.join(str(s) for s in calibration_seeds)} ({where}), same recipe{floor}",
    )


ZERO_MARGIN = V.Margin(0.0, "better than the reference at all: the whole interval above 0")


def compare(sparse: Sequence[float], reference: Sequence[float], *, claim: str, margin: V.Margin,
            confidence: float, converged: bool) -> V.Verdict:
    """Verdict on one static arm against one reference arm (accuracies over seeds): non-inferiority with
    ``margin`` (:data:`CLAIM_MATCH`) or superiority with margin 0 (:data:`CLAIM_BEAT`) on Welch's interval at
    ``confidence``; ``converged=False`` caps it at inconclusive."""
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

    Holds when some density holds (the highest lower bound decides); does not hold when every
    density does not hold (the highest upper bound is shown); otherwise inconclusive (the
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
    """Every static arm against each reference arm, for both claims, per dataset; Welch intervals at
    ``1 - (1 - confidence) / n_densities``. Columns: ``dataset, reference, arm, density, claim, estimate, low,
    high, margin, interval_confidence, converged, verdict, note, verdict_obj``."""
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


# ---------------------------------------------------------------------------
# the experiment: Parameters -> run -> claims / context
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``02_sparse_vs_dense`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    dataset : one of ``datasets``: the dataset whose per-seed curves are drawn in detail; any other
        registered dataset: the study runs on that dataset alone.
    datasets : the study's datasets, in the order of the tables and panels.
    settings : dataset name -> some of ``{hidden, epochs, batch_size, lr, train_samples, calibration_sd}``,
        replacing what :func:`derived_setting` gives; a dataset without ``calibration_sd`` has it measured.
    densities : per-layer densities of the static arms' hidden layers (distinct, in (0, 1)).
    seeds : one run per seed and arm (distinct, >= 0); at least 2.
    lr_schedule : schedule of every run's learning rate (SGD, momentum 0.9, weight decay 2e-4).
    dropout : dropout rate of the ``dense + dropout`` arm, in (0, 1).
    backend : backend of the static arms (``sparse``, ``auto`` or ``masked``; speed only).
    margin_multiple : a dataset's non-inferiority margin is this times its calibration SD.
    calibration_seeds : the seeds of the dense calibration runs (none of ``seeds``).
    confidence : family-wise confidence of a dataset's verdict (Bonferroni over densities).
    """

    NOTEBOOK: ClassVar[str] = "02_sparse_vs_dense"

    datasets: tuple
    settings: Any
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
    def alone(self) -> bool:
        """Whether ``dataset`` is not one of ``datasets``, so the study runs on it alone."""
        return self.dataset.lower() not in {n.lower() for n in self.datasets}

    @property
    def study_datasets(self) -> tuple[str, ...]:
        """The datasets the study runs on: ``datasets``, or ``(dataset,)`` when it is not one of them."""
        return (self.dataset,) if self.alone else self.datasets

    @property
    def detail_dataset(self) -> str:
        """The study dataset whose per-seed curves are drawn (``dataset`` as spelled in ``datasets``)."""
        return next(n for n in self.study_datasets if n.lower() == self.dataset.lower())

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
    params : the parameters; settings : each study dataset's :class:`DatasetSetting` (calibration SD filled).
    data : one row per dataset (sizes, widths, budget, preprocessing, calibration SD and margin).
    margins : dataset -> :class:`~sparsetopo.study.verdicts.Margin`.
    calibration : :func:`~sparsetopo.study.accuracy.run_table` of the calibration runs made here (empty when every SD was given).
    configs : every study run; runs, arms, curves : their :mod:`~sparsetopo.study.accuracy` tables.
    comparisons : :func:`comparisons`; verdicts : :func:`dataset_verdicts`.
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
    comparisons: pd.DataFrame
    verdicts: pd.DataFrame
    curves: pd.DataFrame
    seconds: float


def _longest_first(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """Dense runs of the biggest datasets first, so two workers finish together."""
    def cost(c: RunConfig) -> float:
        width = sum(c.hidden) * (1.0 if c.method == "dense" else 4 * float(c.density))
        return width * c.epochs * (c.train_samples or 2000) / c.batch_size ** 0.25

    return sorted(configs, key=cost, reverse=True)


def _calibrated(settings: list[DatasetSetting], calibration: pd.DataFrame) -> list[DatasetSetting]:
    out = []
    for s in settings:
        if s.calibration_sd is None:
            acc = calibration.loc[calibration["dataset"] == s.name, "acc"]
            s = replace(s, calibration_sd=float(acc.std(ddof=1)), measured=True)
            logger.info("02_sparse_vs_dense: calibration_sd of %s not given: measured %.4f from %d calibration "
                        "seeds", s.name, s.calibration_sd, len(acc))
        out.append(s)
    return out


def _data_table(settings: Sequence[DatasetSetting], margins: Mapping[str, V.Margin]) -> pd.DataFrame:
    from ..data import dataset_info, load_dataset

    rows = []
    for s in settings:
        info = dataset_info(s.name)
        rows.append({"dataset": s.name, "n_features": info.n_features, "n_classes": info.n_classes,
                     "n_train": info.n_train, "train_used": s.train_samples or info.n_train, "n_test": info.n_test,
                     "preprocessing": load_dataset(s.name).preprocessing,
                     "widths": "-".join(str(w) for w in [info.n_features, *s.hidden, info.n_classes]),
                     "epochs": s.epochs, "batch_size": s.batch_size, "lr": s.lr, "calibration_sd": s.calibration_sd,
                     "calibration_measured": s.measured, "margin": margins[s.name].value})
    return pd.DataFrame(rows)


def run(params: Parameters) -> Result:
    """Train (or read back from the run store) the calibration runs a dataset needs and every arm of every
    study dataset, then compare."""
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
    calibration = run_table(calibration_runs, p.runs_root, arm=arm_of) if calibration_runs else pd.DataFrame()
    settings = _calibrated(settings, calibration)
    margins = {s.name: dataset_margin(s, p.margin_multiple, p.calibration_seeds, dataset_info(s.name).n_test)
               for s in settings}
    runs = run_table(configs, p.runs_root, arm=arm_of, k=K_LAST, threshold=CONVERGENCE_THRESHOLD)
    table = comparisons(runs, margins, confidence=p.confidence)
    return Result(params=p, settings=settings, data=_data_table(settings, margins), margins=margins,
                  calibration=calibration, configs=configs, runs=runs,
                  arms=arm_table(runs, p.confidence, order=arm_order), comparisons=table,
                  verdicts=dataset_verdicts(table), curves=curve_table(configs, p.runs_root, arm=arm_of),
                  seconds=time.perf_counter() - start)


def _interval(v: V.Verdict) -> str:
    return f"{100 * v.estimate:+.2f} [{100 * v.low:+.2f}, {100 * v.high:+.2f}] points"


def claim_name(dataset: str, claim: str, reference: str) -> str:
    """The name of a dataset's verdict in the findings (e.g. ``"mnist: some static density beats dense"``)."""
    return f"{dataset}: some static density {claim} {reference}"


def _hidden(widths: str) -> str:
    """``"784-200-200-200-10"`` -> ``"3×200"`` (``"64-32-16-10"`` -> ``"32-16"``)."""
    hidden = widths.split("-")[1:-1]
    return f"{len(hidden)}×{hidden[0]}" if len(set(hidden)) == 1 else "-".join(hidden)


def _setting_line(result: Result) -> str:
    """The setting of the headline in a few words."""
    p, data = result.params, result.data
    groups = []
    for hidden, part in data.assign(hidden=[_hidden(w) for w in data["widths"]]).groupby("hidden", sort=False):
        used = set(part["train_used"][part["train_used"] < part["n_train"]])
        subset = f" ({used.pop():,} training samples)" if len(used) == 1 and (part["train_used"] < part["n_train"]).all() else ""
        groups.append(f"{hidden} hidden on {', '.join(part['dataset'])}{subset}")
    epochs = "/".join(str(e) for e in dict.fromkeys(data["epochs"]))
    return (f"{'; '.join(groups)}; static Erdős–Rényi at {'/'.join(f'{100 * d:g}' for d in sorted(p.densities))}% "
            f"density vs dense, {epochs} epochs, {len(p.seeds)} seeds per arm")


def claims(result: Result) -> Findings:
    """The findings of notebook ``02_sparse_vs_dense``: descriptions, verdicts by the rule, headlines, and the
    numbers behind every figure."""
    p, arms, runs, v = result.params, result.arms, result.runs, result.verdicts
    findings = Findings("02_sparse_vs_dense", p.figures_dir, parameters=p.as_dict())
    for name, frame in (("datasets", result.data), ("arms", arms), ("runs", runs),
                        ("comparisons", result.comparisons.drop(columns="verdict_obj"))):
        findings.add_data(name, frame)
    if len(result.calibration):
        findings.add_data("calibration", result.calibration)
    findings.add_data("learning_curves", result.curves.groupby(["dataset", "arm", "epoch"], sort=False)["test_acc"]
                      .mean().reset_index())
    findings.add_data("execution", {"seconds": result.seconds, "n_jobs": p.n_jobs, "runs": len(result.configs)})
    unconverged = runs[~runs["converged"]]
    findings.claim(
        "Runs converged (last-5-epoch mean test accuracy moved < 0.1 point from the 5 epochs before)",
        measured=float(len(runs) - len(unconverged)), holds=None,
        spread=f"{len(runs) - len(unconverged)} of {len(runs)} runs; unconverged: "
        + (", ".join(f"{r.dataset} {r.arm} s{r.seed} ({100 * r.moved:+.2f} pt)" for r in unconverged.itertuples())
           or "none"),
        detail="description: convergence of every run; a verdict involving an unconverged run is capped at "
               "inconclusive")
    for s in result.settings:
        a = arms[arms["dataset"] == s.name].set_index("arm")
        d, do = a.loc[DENSE], a.loc[DROPOUT]
        findings.claim(
            f"Dense accuracy on {s.name} (mean of the last {K_LAST} epochs)", measured=float(d["acc_mean"]), holds=None,
            spread=f"[{d['acc_low']:.4f}, {d['acc_high']:.4f}] (n={int(d['n'])}); seed SD {d['acc_sd']:.4f} "
                   f"in this run vs {s.calibration_sd:.4f} in calibration; final {d['final_mean']:.4f}, "
                   f"best {d['best_mean']:.4f}",
            detail="description: the reference of the verdicts, 95% t interval over seeds")
        here = runs[runs["dataset"] == s.name]
        ci = V.difference_ci(here[here["arm"] == DROPOUT]["acc"], here[here["arm"] == DENSE]["acc"], p.confidence)
        findings.claim(
            f"Dropout {p.dropout:g} changes dense accuracy on {s.name} by", measured=ci.estimate, holds=None,
            spread=f"[{ci.low:.4f}, {ci.high:.4f}] (Welch 95%); dense + dropout {do['acc_mean']:.4f}",
            detail="description: dense + dropout minus dense, mean of the last 5 epochs")
    level = 100 * (1 - (1 - p.confidence) / len(p.densities))
    for s in result.settings:
        for reference in REFERENCES:
            for claim in (CLAIM_MATCH, CLAIM_BEAT):
                row = v[(v["dataset"] == s.name) & (v["reference"] == reference) & (v["claim"] == claim)].iloc[0]
                rule = (f"non-inferiority, margin {row['margin']:.4f}" if claim == CLAIM_MATCH
                        else "superiority, margin 0")
                findings.claim_verdict(
                    claim_name(s.name, claim, reference), row["verdict_obj"],
                    spread=f"deciding arm {row['deciding_arm']}: {_interval(row['verdict_obj'])}; per density: "
                           f"{row['per_density']}",
                    detail=f"{rule}; static minus {reference} accuracy (mean of the last {K_LAST} epochs), Welch "
                           f"interval at {level:.4g}% (Bonferroni over {len(p.densities)} densities); holds if some "
                           f"density holds, does not hold if all do not")
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
    """Each dataset's size, widths, budget, calibration SD (given or measured here) and margin, in points."""
    d = result.data
    return pd.DataFrame({
        "dataset": d["dataset"], "train / test": [f"{u} of {n} / {t}" for u, n, t in
                                                  zip(d["train_used"], d["n_train"], d["n_test"])],
        "widths": d["widths"], "epochs": d["epochs"], "batch": d["batch_size"], "lr": d["lr"],
        "calibration SD (points)": (100 * d["calibration_sd"]).round(3),
        "calibration": ["measured here" if m else "given" for m in d["calibration_measured"]],
        "margin (points)": (100 * d["margin"]).round(3)})


def convergence_report(result: Result) -> pd.DataFrame:
    """Convergence per dataset and arm: runs, unconverged runs and the largest last-5 movement (points)."""
    rows = []
    for (dataset, arm), part in result.runs.groupby(["dataset", "arm"], sort=False):
        bad = part[~part["converged"]]
        rows.append({"dataset": dataset, "arm": arm, "runs": len(part), "unconverged": len(bad),
                     "largest |moved| (points)": round(100 * float(part["moved"].abs().max()), 3),
                     "unconverged seeds": ", ".join(str(s) for s in bad["seed"])})
    return pd.DataFrame(rows)


def arm_report(result: Result) -> pd.DataFrame:
    """The per-arm table, accuracies in points."""
    a = result.arms
    return pd.DataFrame({
        "dataset": a["dataset"], "arm": a["arm"], "seeds": a["n"], "acc (last 5)": (100 * a["acc_mean"]).round(2),
        "95% CI": [f"[{100 * lo:.2f}, {100 * hi:.2f}]" for lo, hi in zip(a["acc_low"], a["acc_high"])],
        "seed SD": (100 * a["acc_sd"]).round(2), "final": (100 * a["final_mean"]).round(2),
        "best": (100 * a["best_mean"]).round(2), "train acc (last 5)": (100 * a["train_mean"]).round(2),
        "unconverged": a["n_unconverged"], "weights kept": [f"{100 * w:.3g}%" for w in a["weight_fraction"]]})


def verdict_summary(result: Result) -> pd.DataFrame:
    """One row per dataset, one column per claim and reference: the verdict and its deciding difference."""
    table = result.verdicts.assign(cell=[f"{r.verdict}: {r.deciding_arm} {100 * r.estimate:+.2f}"
                                         for r in result.verdicts.itertuples()],
                                   column=[f"static {c} {r}" for c, r in zip(result.verdicts["claim"],
                                                                             result.verdicts["reference"])])
    wide = table.pivot(index="dataset", columns="column", values="cell")
    order = [f"static {c} {r}" for r in REFERENCES for c in (CLAIM_MATCH, CLAIM_BEAT)]
    return wide.loc[list(dict.fromkeys(table["dataset"])), order].reset_index().rename_axis(columns=None)


def _names(frame: pd.DataFrame, verdict: str) -> list[str]:
    return list(frame.loc[frame["verdict"] == verdict, "dataset"])


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the notebook's templates (``rules``, ``runs``, ``discussion``) are filled from."""
    p, v, runs, data, arms = result.params, result.verdicts, result.runs, result.data, result.arms
    tally = {}
    for key, reference, claim in (("match", DENSE, CLAIM_MATCH), ("beat", DENSE, CLAIM_BEAT),
                                  ("match_dropout", DROPOUT, CLAIM_MATCH), ("beat_dropout", DROPOUT, CLAIM_BEAT)):
        part = v[(v["reference"] == reference) & (v["claim"] == claim)]
        tally[key] = {w.replace(" ", "_"): _names(part, w) for w in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)}
    deciding = [{"dataset": r.dataset, "arm": r.deciding_arm, "estimate": r.estimate, "low": r.low, "high": r.high,
                 "margin": r.margin, "verdict": r.verdict, "capped": bool(r.verdict_obj.note),
                 "width": r.high - r.low}
                for r in v[(v["reference"] == DENSE) & (v["claim"] == CLAIM_MATCH)].itertuples()]
    unconverged = runs[~runs["converged"]]
    sd = arms[arms["arm"] == DENSE].set_index("dataset")["acc_sd"]
    datasets = []
    for r in data.itertuples():
        a = arms[arms["dataset"] == r.dataset].set_index("arm")
        sparsest = a[a.index.str.startswith("static")].sort_values("density").iloc[0]
        datasets.append({**r._asdict(), "hidden": "-".join(r.widths.split("-")[1:-1]),
                         "run_sd": float(sd[r.dataset]), "dense_train": float(a.loc[DENSE, "train_mean"]),
                         "sparsest_arm": sparsest.name, "sparsest_train": float(sparsest["train_mean"]),
                         "justification": result.margins[r.dataset].justification,
                         "overridden": sorted(set(p.override(r.dataset)) - {"calibration_sd"})})
    hidden_groups = [{"hidden": h, "datasets": list(part["dataset"])} for h, part in
                     pd.DataFrame(datasets).groupby("hidden", sort=False)]
    return {
        "profile": p.profile, "k": K_LAST, "threshold": CONVERGENCE_THRESHOLD, "confidence": p.confidence,
        "level": 1 - (1 - p.confidence) / len(p.densities), "n_densities": len(p.densities),
        "densities": sorted(p.densities), "dropout": p.dropout, "lr_schedule": p.lr_schedule, "backend": p.backend,
        "margin_multiple": p.margin_multiple, "calibration_seeds": list(p.calibration_seeds),
        "n_seeds": len(p.seeds), "n_runs": len(runs), "n_calibration_runs": len(result.calibration),
        "alone": p.alone, "detail": p.detail_dataset, "datasets": datasets, "hidden_groups": hidden_groups,
        "measured": [d for d in datasets if d["calibration_measured"]],
        "tally": tally, "deciding": deciding, "n_datasets": len(datasets),
        "unconverged": [{"dataset": ds, "arm": arm, "n": len(part)}
                        for (ds, arm), part in unconverged.groupby(["dataset", "arm"], sort=False)],
        "n_unconverged": len(unconverged),
        "small": [d for d in datasets if d["n_test"] < 100],
        "stand_ins": [d["dataset"] for d in datasets if d["dataset"] in MICROARRAY_STAND_INS],
        "subsets": [d for d in datasets if d["train_used"] < d["n_train"]],
        "narrow": [g for g in hidden_groups if any(int(w) < 1000 for w in g["hidden"].split("-"))],
        "seconds": result.seconds, "n_jobs": p.n_jobs,
        "n_claims": sum(c.verdict is not None for c in findings.claims),
    }
