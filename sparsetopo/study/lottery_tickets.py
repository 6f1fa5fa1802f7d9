"""Lottery tickets against adaptive sparse connectivity (notebook ``04_lottery_tickets``).

The paper's claim: adaptive sparse connectivity (SET) finds sub-networks as good as a lottery ticket, many and
very different ones, far more cheaply than iterative magnitude pruning (IMP). For several seeds an IMP search
(prune fraction ``p`` of the remaining hidden weights per round, rewinding to the initial weights) finds a ticket
at the target hidden density; beside it train, at the ticket's exact per-layer edge counts
(:mod:`sparsetopo.lottery_arms`): the dense network (round 0), the ticket, Frankle & Carbin's controls
(``ticket mask, re-init``, ``random static``), and one SET run per seed with a named recipe's optimiser,
dropout, weight decay and initialisation (:data:`sparsetopo.training.recipes.RECIPES`), as long as the whole IMP
search costs in multiply-accumulates (MACs).

The recipe's learning rate is constant, so the first ``b`` epochs of that run are exactly the run one would
train for ``b`` epochs (same seed, batches and dropout draws): SET's budgets (``set_multiples`` x the ticket's
epochs, and the budget with the MACs of the IMP search) are read from it as prefixes.

Order of reading: SET's ceiling against the dense network first (:func:`ceiling_table`); the plateau check of
every run, read before its learning rate first drops (:func:`plateau`: a run whose last-window mean of its
full-rate epochs still rose by ``plateau_threshold`` or more over the window before is climbing, and a verdict
resting on it is at most inconclusive); the verdicts, each at the Bonferroni level over the
:data:`VERDICT_KEYS` planned verdicts; costs only where SET reached the target (the target arm's accuracy minus
the accuracy margin) in every seed, otherwise a description; topology relative to the degree-preserving null and
against the published networks' own relative distance (:func:`published_reference`).

The module reads as :class:`Parameters` -> :func:`run` -> :func:`claims` -> :func:`context` (the numbers of the
notebook's templates, ``templates/04_lottery_tickets/``); the figures are in
:mod:`sparsetopo.study.figures.lottery_tickets`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from .. import lottery_arms as arms
from .. import store
from ..cost import lottery_cost, training_cost
from ..lottery import Ticket, pruning_schedule
from ..parallel import show_progress
from ..stats import mean_ci
from ..training.recipes import RECIPES
from ..training.trainer import full_rate_epochs
from . import verdicts as vd
from .common import baseline_frame, baseline_value, group_blocks, layer_matrix, sparse_layers
from .findings import Findings
from .params import (
    StudyParameters,
    check_bool,
    check_int,
    check_optional,
    check_real,
    check_sequence,
    check_str,
)

__all__ = ["LAST_K", "FIXED_ARMS", "PAPER_CLAIM", "VERDICT_KEYS", "RECIPE_FIELDS", "SET_RUN", "set_label", "set_options",
           "budgets_of", "dense_label", "dense_budgets_of", "dense_arm_for",
           "Parameters", "Result", "run", "plateau", "plateau_epochs", "arm_table", "arm_order", "arm_summary", "plateau_report",
           "imp_rounds", "learning_curves", "ceiling_table", "reach_table", "TicketDistances", "ticket_distances",
           "PublishedReference", "published_reference", "relative_matrix", "accuracy_verdict", "cost_claim",
           "topology_verdict", "claim_names", "claims", "context"]

#: Accuracy of a run (or of a budget read from a SET run): mean test accuracy of its last LAST_K epochs.
LAST_K = 5
#: The arms at the ticket's size that train as many epochs as an IMP round.
FIXED_ARMS = ("dense", "IMP ticket", "ticket mask, re-init", "random static")
#: The claim of the paper this notebook answers (its headline).
PAPER_CLAIM = "Adaptive sparse connectivity (SET) finds sub-networks as good as a lottery ticket far more cheaply than IMP"
#: The planned verdicts, the family of the Bonferroni correction (a cost claim whose target SET did not reach in
#: every seed becomes a description but stays counted, so the level is fixed before the numbers).
VERDICT_KEYS = ("ceiling_1x", "ceiling_more", "set_imp_dense", "winning", "reinit", "static", "set_equal",
                "set_imp_ticket", "cost_ticket", "cost_dense", "topology")
#: The fields SET's arms take from the recipe: optimiser, schedule, regularisation and initialisation. Data, shape,
#: edge counts, seed and budget stay the arm's (every arm sees the same data).
RECIPE_FIELDS = ("activation", "dropout", "weight_init", "regrow_init", "lr", "momentum", "weight_decay",
                 "weight_decay_mode", "lr_schedule", "batch_size")
_GROUPS = {"ticket": "IMP ticket", "set": "SET", "random_static": "random static"}
#: Name of a whole SET run in :func:`learning_curves` (its budgets are the arms read from it).
SET_RUN = "SET run"


def set_label(epochs: int, multiple: float | None = None, imp_equal: bool = False) -> str:
    """Name of SET read at ``epochs`` (``multiple`` of the ticket's epochs; ``imp_equal``: the IMP search's MACs)."""
    tags = ([f"{multiple:g}x"] if multiple is not None else []) + (["IMP's MACs"] if imp_equal else [])
    return f"SET, {int(epochs)} epochs" + (f" ({', '.join(tags)})" if tags else "")


def dense_label(epochs: int, multiple: float) -> str:
    """Name of the search's dense network trained ``epochs`` (``multiple`` of a round's epochs, above 1)."""
    return f"dense, {int(epochs)} epochs ({multiple:g}x)"


def set_options(recipe: str) -> dict[str, Any]:
    """The :data:`RECIPE_FIELDS` of recipe ``recipe`` (what SET's arms take from it)."""
    if recipe not in RECIPES:
        raise ValueError(f"parameter set_recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    return {k: RECIPES[recipe][k] for k in RECIPE_FIELDS if k in RECIPES[recipe]}


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``04_lottery_tickets``; the notebook's ``parameters`` cell gives each its
    default and meaning."""

    NOTEBOOK: ClassVar[str] = "04_lottery_tickets"

    hidden: tuple
    seeds: tuple
    target_density: float
    prune_fraction: float
    output_prune_fraction: float | None
    rewind_epoch: int
    epochs: int
    train_samples: int | None
    lr: float
    batch_size: int
    lr_schedule: str
    set_recipe: str
    set_multiples: tuple
    zeta: float
    backend: str
    plateau_window: int
    plateau_threshold: float
    plateau_threshold_why: str
    family_alpha: float
    accuracy_margin: float
    accuracy_margin_why: str
    cost_factor: float
    cost_factor_why: str
    topology_margin: float
    topology_margin_why: str
    baseline_pairs: int
    use_published: bool
    published_runs: int
    n_boot: int

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction = dict(minimum=0, exclusive_minimum=True, maximum=1)
        positive = dict(minimum=0, exclusive_minimum=True)
        self._set("hidden", check_sequence("hidden", self.hidden, lambda n, v: check_int(n, v, minimum=1)))
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), unique=True))
        if len(self.seeds) < 3:
            raise ValueError(f"parameter seeds needs at least 3 seeds (intervals that resample networks), got "
                             f"{list(self.seeds)}")
        for name in ("target_density", "prune_fraction", "zeta"):
            self._set(name, check_real(name, getattr(self, name), **fraction))
        if self.target_density >= 1 - self.prune_fraction:
            raise ValueError(f"parameter target_density ({self.target_density:g}) must lie below 1 - prune_fraction "
                             f"({1 - self.prune_fraction:g}): the search needs at least two pruned rounds")
        self._set("output_prune_fraction", check_optional("output_prune_fraction", self.output_prune_fraction,
                                                          lambda n, v: check_real(n, v, minimum=0, maximum=1)))
        self._set("epochs", check_int("epochs", self.epochs, minimum=1))
        self._set("rewind_epoch", check_int("rewind_epoch", self.rewind_epoch, minimum=0, maximum=self.epochs - 1))
        self._set("train_samples", check_optional("train_samples", self.train_samples,
                                                  lambda n, v: check_int(n, v, minimum=1)))
        self._set("lr", check_real("lr", self.lr, **positive))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("lr_schedule", check_str("lr_schedule", self.lr_schedule, choices=("constant", "cosine", "step")))
        self._set("set_recipe", check_str("set_recipe", self.set_recipe, choices=tuple(sorted(RECIPES))))
        if set_options(self.set_recipe).get("lr_schedule", "constant") != "constant":
            raise ValueError(f"parameter set_recipe ({self.set_recipe}) must use a constant learning rate: SET's "
                             "budgets are read as prefixes of one run")
        self._set("set_multiples", check_sequence("set_multiples", self.set_multiples,
                                                  lambda n, v: check_real(n, v, minimum=1), unique=True))
        if 1 not in self.set_multiples or len(self.set_multiples) < 2:
            raise ValueError(f"parameter set_multiples must hold 1 (SET at the ticket's epochs) and a larger multiple, "
                             f"got {list(self.set_multiples)}")
        self._set("backend", check_str("backend", self.backend, choices=("masked", "sparse", "auto")))
        self._set("plateau_window", check_int("plateau_window", self.plateau_window, minimum=1))
        full = full_rate_epochs(self.lr_schedule, self.epochs)
        if full < 2:
            raise ValueError(f"parameter lr_schedule {self.lr_schedule!r} leaves {full} epoch(s) of {self.epochs} at the "
                             f"full rate, too few to read a plateau before the rate drops; give more epochs or lr_schedule "
                             f"constant")
        self._set("family_alpha", check_real("family_alpha", self.family_alpha, minimum=0, exclusive_minimum=True,
                                             maximum=0.5))
        self._set("cost_factor", check_real("cost_factor", self.cost_factor, minimum=1, exclusive_minimum=True))
        for name in ("plateau_threshold", "accuracy_margin", "topology_margin"):
            self._set(name, check_real(name, getattr(self, name), **positive))
        for name in ("plateau_threshold_why", "accuracy_margin_why", "cost_factor_why", "topology_margin_why"):
            value = check_str(name, getattr(self, name))
            if not value.strip():
                raise ValueError(f"parameter {name} must say why (a non-empty sentence), got {value!r}")
            self._set(name, value)
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        self._set("use_published", check_bool("use_published", self.use_published))
        self._set("published_runs", check_int("published_runs", self.published_runs, minimum=3, maximum=10))
        self._set("n_boot", check_int("n_boot", self.n_boot, minimum=100))

    @property
    def confidence(self) -> float:
        """Level of every verdict's interval: Bonferroni over the :data:`VERDICT_KEYS` planned verdicts."""
        return 1 - self.family_alpha / len(VERDICT_KEYS)

    def margins(self) -> dict[str, vd.Margin]:
        """The margins by kind (``accuracy``, ``cost`` in log10 units, ``topology``) with their reasons."""
        return {"accuracy": vd.Margin(self.accuracy_margin, self.accuracy_margin_why),
                "cost": vd.Margin(math.log10(self.cost_factor), f"log10({self.cost_factor:g}): {self.cost_factor_why}"),
                "topology": vd.Margin(self.topology_margin, self.topology_margin_why)}


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, eq=False)
class Result:
    """Everything :func:`run` computed: ``params, widths, description`` (the dataset in one line), ``configs`` (one
    search per seed), ``schedule`` (edges per layer in every round), ``imp_equal`` (SET epochs with the MACs of one
    search), ``budgets`` (SET budget -> arm name), ``dense_budgets`` (:func:`dense_budgets_of`: the dense
    network's budgets -> arm name), ``set_length`` (epochs of the SET run), ``tickets, controls``
    (:func:`~sparsetopo.lottery_arms.run_all`), ``scales, runs, summary, rounds, curves, ceiling, reach, distances,
    published`` (:func:`~sparsetopo.lottery_arms.initial_weight_scales`, :func:`arm_table`, :func:`arm_summary`,
    :func:`imp_rounds`, :func:`learning_curves`, :func:`ceiling_table`, :func:`reach_table`,
    :func:`ticket_distances`, :func:`published_reference` or None)."""

    params: Parameters
    widths: list
    description: str
    configs: list
    schedule: pd.DataFrame
    imp_equal: int
    budgets: dict
    dense_budgets: dict
    set_length: int
    tickets: list
    controls: list
    scales: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    rounds: pd.DataFrame
    curves: pd.DataFrame
    ceiling: pd.DataFrame
    reach: pd.DataFrame
    distances: "TicketDistances"
    published: "PublishedReference | None"

    @property
    def imp_equal_arm(self) -> str:
        """The SET budget with the MACs of the whole IMP search."""
        return self.budgets[self.imp_equal]

    @property
    def equal_epochs_arm(self) -> str:
        """SET read at the ticket's epochs (1x)."""
        return self.budgets[self.params.epochs]

    @property
    def longer_arms(self) -> list[str]:
        """SET read at the multiples above 1x, shortest first."""
        m = sorted(self.params.set_multiples)
        return [self.budgets[_budget(self.params.epochs, x)] for x in m if x != 1]

    def dense_arm_for(self, budget: int) -> str:
        """The dense arm SET read at ``budget`` epochs is compared with (:func:`dense_arm_for`)."""
        return dense_arm_for(self.dense_budgets, budget)

    @property
    def longest_multiple_budget(self) -> int:
        """SET's budget at the largest multiple of the ticket's epochs."""
        return _budget(self.params.epochs, max(self.params.set_multiples))

    def dense_epochs_of(self, arm: str) -> int:
        """Epochs of a dense arm."""
        return {a: b for b, a in self.dense_budgets.items()}[arm]

    @property
    def imp_macs(self) -> float:
        return float(self.runs.loc[self.runs["arm"] == "IMP ticket", "macs_to_obtain"].mean())


def _budget(epochs: int, multiple: float) -> int:
    return int(math.ceil(epochs * multiple - 1e-9))


def budgets_of(epochs: int, multiples: Sequence[float], imp_equal: int) -> dict[int, str]:
    """SET budget in epochs -> arm name: every multiple of ``epochs``, and ``imp_equal`` (IMP's MACs), sorted."""
    out: dict[int, tuple] = {}
    for x in sorted(multiples):
        out.setdefault(_budget(epochs, x), (x, False))
    b = int(imp_equal)
    out[b] = (out[b][0], True) if b in out else (None, True)
    return {b: set_label(b, *out[b]) for b in sorted(out)}


def dense_budgets_of(epochs: int, multiples: Sequence[float]) -> dict[int, str]:
    """The dense network's budgets in epochs -> arm name: ``epochs`` (the search's dense run, arm ``"dense"``) and
    every larger multiple of it (:func:`dense_label`: the same network trained longer), sorted."""
    out = {int(epochs): "dense"}
    for x in sorted(multiples):
        b = _budget(epochs, x)
        if b > epochs:
            out.setdefault(b, dense_label(b, x))
    return out


def dense_arm_for(dense_budgets: dict[int, str], budget: int) -> str:
    """The dense arm SET read at ``budget`` epochs is compared with: the dense network at the longest of
    ``dense_budgets`` (:func:`dense_budgets_of`) that does not exceed ``budget``."""
    return dense_budgets[max(b for b in dense_budgets if b <= budget)]


def run(params: Parameters) -> Result:
    """Run (or read back) the searches, controls and SET runs, then tables, costs to reach and distances."""
    from ..data import load_dataset

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be lottery_tickets.Parameters, got {type(params).__name__}")
    p = params
    data = load_dataset(p.dataset)
    widths = data.widths(p.hidden)
    configs = arms.lottery_configs(p.dataset, list(p.hidden), list(p.seeds), target_density=p.target_density,
                                   epochs=p.epochs, prune_fraction=p.prune_fraction,
                                   output_prune_fraction=p.output_prune_fraction, rewind_epoch=p.rewind_epoch, lr=p.lr,
                                   batch_size=p.batch_size, lr_schedule=p.lr_schedule, train_samples=p.train_samples,
                                   backend=p.backend, snapshot_epochs=())
    schedule = pd.DataFrame(pruning_schedule(configs[0], widths), columns=[f"layer {k}" for k in range(len(widths) - 1)])
    schedule.index.name = "round"
    equal = arms.imp_equal_epochs(configs[0], widths)
    budgets = budgets_of(p.epochs, p.set_multiples, equal)
    dense = dense_budgets_of(p.epochs, p.set_multiples)
    length = max(budgets)
    tickets, controls = arms.run_all(configs, widths, root=p.runs_root, n_jobs=p.n_jobs, zeta=p.zeta,
                                     set_epochs=[length], set_options=set_options(p.set_recipe),
                                     dense_epochs=[b for b in dense if b > p.epochs])
    runs = arm_table(tickets, controls, budgets, k=p.plateau_window, threshold=p.plateau_threshold,
                     dense_budgets=dense)
    curves = learning_curves(tickets, controls, dense)
    targets = {t: float(runs.loc[runs["arm"] == arm, "acc"].mean()) - p.accuracy_margin
               for t, arm in (("ticket", "IMP ticket"), ("dense", "dense"))}
    imp_macs = runs[runs["arm"] == "IMP ticket"].set_index("seed")["macs_to_obtain"]
    reach = reach_table(arms.reach_costs(curves[curves["arm"] == SET_RUN], imp_macs, targets, k=LAST_K))
    distances = ticket_distances(tickets, controls, set_epochs=length, baseline_pairs=p.baseline_pairs,
                                 n_jobs=p.n_jobs, cache_dir=p.cache_dir)
    published = published_reference(p) if p.use_published else None
    return Result(params=p, widths=widths, description=data.describe(), configs=configs, schedule=schedule,
                  imp_equal=equal, budgets=budgets, dense_budgets=dense, set_length=length, tickets=tickets, controls=controls,
                  scales=arms.initial_weight_scales(tickets, controls), runs=runs, summary=arm_summary(runs),
                  rounds=imp_rounds(tickets, k=p.plateau_window, threshold=p.plateau_threshold), curves=curves,
                  ceiling=ceiling_table(runs, budgets, dense), reach=reach, distances=distances, published=published)


# --------------------------------------------------------------------------- measurements: tables


def plateau(curve: Sequence[float], k: int, threshold: float, full_rate: int | None = None) -> tuple[bool, float]:
    """``(plateaued, moved)`` of a run read before its learning rate first drops.

    Only the first ``full_rate`` values count (all of them when None: a constant rate), so a decay, which flattens
    any curve, can never pass the check. On those, the mean of the last ``w`` values minus that of the ``w``
    before is ``moved``, ``w = min(k, full_rate // 2)``; the run plateaued when it rose by less than ``threshold``
    (a run whose accuracy fell has passed its peak and counts as plateaued; the fall is reported). Fewer than 2
    full-rate values (for example a cosine schedule): not plateaued, ``moved`` NaN."""
    x = np.asarray(curve, dtype=float)
    read = len(x) if full_rate is None else min(int(full_rate), len(x))
    w = _window(k, read)
    if w < 1:
        return False, math.nan
    moved = vd.plateau_before(x, read, k=w, threshold=threshold).moved
    return bool(moved < threshold), float(moved)


def _window(k: int, full_rate: int) -> int:
    """The plateau window: ``k``, or half the full-rate epochs where they are fewer than ``2 k``."""
    return min(int(k), int(full_rate) // 2)


def plateau_epochs(run: store.Run, epochs: int, k: int) -> tuple[int, int, int]:
    """``(full_rate, window, first)``: of the first ``epochs`` epochs of ``run``, how many train at the full rate
    (:func:`sparsetopo.training.trainer.full_rate_epochs` of the run's own schedule and length), the window ``w``
    :func:`plateau` compares, and the first epoch (1-based) it reads (``full_rate - 2 w + 1``)."""
    full = min(int(epochs), full_rate_epochs(run.config.lr_schedule, int(run.config.epochs)))
    w = _window(k, full)
    return full, w, full - 2 * w + 1


def _curve(run: store.Run) -> np.ndarray:
    return np.array([r["test_acc"] for r in run.records], dtype=float)


def _row(seed: int, arm: str, run: store.Run, epochs: int, macs: float, macs_to_obtain: float, total: int,
         k: int, threshold: float) -> dict[str, Any]:
    curve = _curve(run)[:epochs]
    full, _, first = plateau_epochs(run, epochs, k)
    plateaued, moved = plateau(curve, k, threshold, full)
    return {"seed": seed, "arm": arm, "epochs": len(curve), "acc": vd.last_k_mean(curve, min(LAST_K, len(curve))),
            "final_acc": float(curve[-1]), "best_acc": float(curve.max()),
            "final_train_acc": float(run.records[epochs - 1].get("train_acc", math.nan)), "plateaued": plateaued,
            "moved": moved, "plateau_read": f"{first}-{full}", "macs": float(macs), "macs_to_obtain": float(macs_to_obtain),
            "wall_seconds": float(training_cost(run).wall_seconds) * epochs / len(run.records),
            "n_weights": int(sum(run.summary["edges"])), "density_pct": 100.0 * sum(run.summary["edges"]) / total,
            "run": run.directory.name}


def _set_run(ctrl: dict) -> store.Run:
    (key,) = [k for k in ctrl if isinstance(k, tuple) and k[0] == "set"]
    return ctrl[key]


def _dense_runs(ctrl: dict, dense_budgets: dict[int, str] | None) -> list[tuple[str, store.Run]]:
    """The longer dense runs of one search's controls, as ``(arm name, run)`` by budget."""
    return [(arm, ctrl[("dense", b)]) for b, arm in sorted((dense_budgets or {}).items()) if ("dense", b) in ctrl]


def arm_table(tickets: Sequence[Ticket], controls: Sequence[dict], budgets: dict[int, str], *, k: int = LAST_K,
              threshold: float = 0.002, dense_budgets: dict[int, str] | None = None) -> pd.DataFrame:
    """One row per seed and arm: ``seed, arm, epochs, acc`` (mean of the last :data:`LAST_K` epochs), ``final_acc,
    best_acc, final_train_acc, plateaued, moved`` (:func:`plateau` with ``k``, ``threshold``), ``macs`` (this
    arm's training), ``macs_to_obtain`` (the ticket and its re-initialised mask: plus the whole search),
    ``wall_seconds, n_weights, density_pct, run``. SET's arms are its run read at each budget of ``budgets``
    (epochs -> arm name), MACs in proportion (SET keeps its edge count); the longer dense runs of the controls
    are the arms of ``dense_budgets`` (:func:`dense_budgets_of`) beyond ``"dense"``."""
    if len(tickets) != len(controls):
        raise ValueError(f"got {len(tickets)} tickets but {len(controls)} sets of controls; give one per ticket")
    rows = []
    for ticket, ctrl in zip(tickets, controls):
        if not ticket.complete:
            raise ValueError(f"the search in {ticket.directory.name} is not complete; finish it with find_ticket")
        w = ticket.widths
        total = sum(w[i] * w[i + 1] for i in range(len(w) - 1))
        seed, search = ticket.config.base.seed, float(lottery_cost(ticket).macs)
        fixed = (("dense", ticket.rounds[0], None), ("IMP ticket", ticket.run, search),
                 ("ticket mask, re-init", ctrl["reinit"], search), ("random static", ctrl["random_static"], None))
        for arm, r, extra in fixed:
            macs = float(training_cost(r).macs)
            rows.append(_row(seed, arm, r, len(r.records), macs, macs if extra is None else
                             (extra if arm == "IMP ticket" else extra + macs), total, k, threshold))
        for arm, r in _dense_runs(ctrl, dense_budgets):
            macs = float(training_cost(r).macs)
            rows.append(_row(seed, arm, r, len(r.records), macs, macs, total, k, threshold))
        s = _set_run(ctrl)
        per_epoch = float(training_cost(s).macs) / len(s.records)
        for b, arm in sorted(budgets.items()):
            if b > len(s.records):
                raise ValueError(f"the SET run {s.directory.name} has {len(s.records)} epochs; budget {b} needs more")
            rows.append(_row(seed, arm, s, b, per_epoch * b, per_epoch * b, total, k, threshold))
    return pd.DataFrame(rows)


def arm_order(table: pd.DataFrame) -> list[str]:
    """Arms in display order (and colour order): the fixed arms, SET by budget, then the longer dense runs by
    budget."""
    by_budget = table.groupby("arm")["epochs"].max().sort_values(kind="stable")
    dense = [a for a in by_budget.index if a.startswith("dense, ")]
    sets = [a for a in by_budget.index if a.startswith("SET")]
    return [a for a in FIXED_ARMS if a in set(table["arm"])] + sets + dense


def arm_summary(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per arm: seeds, epochs, accuracy (last-k mean: mean, CI and SD over seeds; final, best), MACs to obtain,
    wall seconds, plateaued runs."""
    rows = []
    for arm in arm_order(table):
        part = table[table["arm"] == arm]
        m, lo, hi = mean_ci(part["acc"].to_numpy(), confidence)
        rows.append({"arm": arm, "n_seeds": len(part), "epochs": int(part["epochs"].max()),
                     "density_pct": part["density_pct"].mean(), "acc_mean": m, "acc_low": lo, "acc_high": hi,
                     "acc_sd": float(part["acc"].std(ddof=1)) if len(part) > 1 else math.nan,
                     "final_mean": float(part["final_acc"].mean()), "best_mean": float(part["best_acc"].mean()),
                     "macs_to_obtain": float(part["macs_to_obtain"].mean()),
                     "wall_seconds": float(part["wall_seconds"].mean()),
                     "plateaued": f"{int(part['plateaued'].sum())}/{len(part)}"})
    return pd.DataFrame(rows)


def plateau_report(table: pd.DataFrame) -> pd.DataFrame:
    """The runs (or SET budgets) still climbing (rows of :func:`arm_table`): ``seed, arm, epochs, plateau_read``
    (the epochs the check compared), ``moved, acc``."""
    return table.loc[~table["plateaued"], ["seed", "arm", "epochs", "plateau_read", "moved", "acc"]].reset_index(drop=True)


def imp_rounds(tickets: Sequence[Ticket], *, k: int = LAST_K, threshold: float = 0.002) -> pd.DataFrame:
    """Every round of every search: ``seed, round, density_pct`` (all weights), ``hidden_density``, ``acc,
    final_acc, plateaued, moved, macs`` (this round), ``cumulative_macs``."""
    rows = []
    for ticket in tickets:
        w = ticket.widths
        sizes = [w[i] * w[i + 1] for i in range(len(w) - 1)]
        cumulative = 0.0
        for r, run in enumerate(ticket.rounds):
            edges, curve = run.summary["edges"], _curve(run)
            macs = float(training_cost(run).macs)
            cumulative += macs
            full, _, _ = plateau_epochs(run, len(curve), k)
            plateaued, moved = plateau(curve, k, threshold, full)
            rows.append({"seed": ticket.config.base.seed, "round": r, "density_pct": 100.0 * sum(edges) / sum(sizes),
                         "hidden_density": sum(edges[:-1]) / sum(sizes[:-1]),
                         "acc": vd.last_k_mean(curve, min(LAST_K, len(curve))), "final_acc": float(curve[-1]),
                         "plateaued": plateaued, "moved": moved, "macs": macs, "cumulative_macs": cumulative})
    return pd.DataFrame(rows)


def learning_curves(tickets: Sequence[Ticket], controls: Sequence[dict],
                    dense_budgets: dict[int, str] | None = None) -> pd.DataFrame:
    """Test accuracy after every epoch of every run: ``seed, arm`` (the fixed arms, the longer dense runs of
    ``dense_budgets``, and :data:`SET_RUN` for the whole SET run), ``epoch, test_acc, macs`` (MACs of that run's
    training so far, without the search)."""
    rows = []
    for ticket, ctrl in zip(tickets, controls):
        s = ticket.config.base.seed
        for arm, run in (("dense", ticket.rounds[0]), ("IMP ticket", ticket.run), ("ticket mask, re-init", ctrl["reinit"]),
                         ("random static", ctrl["random_static"]), *_dense_runs(ctrl, dense_budgets),
                         (SET_RUN, _set_run(ctrl))):
            per_epoch = training_cost(run).macs / len(run.records)
            rows += [{"seed": s, "arm": arm, "epoch": e, "test_acc": float(rec["test_acc"]), "macs": e * per_epoch}
                     for e, rec in enumerate(run.records, start=1)]
    return pd.DataFrame(rows)


def ceiling_table(table: pd.DataFrame, budgets: dict[int, str], dense_budgets: dict[int, str]) -> pd.DataFrame:
    """SET's ceiling against the dense network: per SET budget, ``arm, epochs, dense_arm`` (the dense network at the
    longest of ``dense_budgets`` not above the SET budget), ``dense_epochs, set_acc, dense_acc, gap`` (SET minus
    dense, means over seeds), ``set_sd, dense_sd, plateaued, dense_plateaued`` (runs not climbing, of all)."""
    rows = []
    for b, arm in sorted(budgets.items()):
        part = table[table["arm"] == arm]
        dense_arm = dense_arm_for(dense_budgets, b)
        dense = table[table["arm"] == dense_arm]
        rows.append({"arm": arm, "epochs": b, "dense_arm": dense_arm, "dense_epochs": int(dense["epochs"].max()),
                     "set_acc": float(part["acc"].mean()), "dense_acc": float(dense["acc"].mean()),
                     "gap": float(part["acc"].mean() - dense["acc"].mean()), "set_sd": float(part["acc"].std(ddof=1)),
                     "dense_sd": float(dense["acc"].std(ddof=1)),
                     "plateaued": f"{int(part['plateaued'].sum())}/{len(part)}",
                     "dense_plateaued": f"{int(dense['plateaued'].sum())}/{len(dense)}"})
    return pd.DataFrame(rows)


def reach_table(reach: pd.DataFrame) -> pd.DataFrame:
    """:func:`~sparsetopo.lottery_arms.reach_costs` with cost columns only where SET reached the target: for a
    censored seed ``macs`` and ``log10_ratio`` are NaN and ``bound_macs`` holds the MACs of the whole SET run
    (SET needs more than that)."""
    out = reach.copy()
    out["bound_macs"] = np.where(out["reached"], np.nan, out["macs"])
    out.loc[~out["reached"], ["macs", "log10_ratio"]] = np.nan
    return out


# --------------------------------------------------------------------------- distances


@dataclass(frozen=True, eq=False)
class TicketDistances:
    """NNSTD among tickets, final SET networks and random static masks: ``matrix`` (a DistanceMatrix; groups
    tickets, SET, random static, seeds within), the ``groups`` and ``seeds`` of its networks, the Erdős–Rényi
    ``baseline`` (independent topologies with the ticket's edge counts), ``degree`` (group -> degree-preserving
    baseline drawn from the group's first network), the ``blocks`` of :func:`~sparsetopo.study.common.group_blocks`
    (against the Erdős–Rényi baseline), ``coords`` (metric MDS), ``layers`` (the hidden layers the relative
    distances average), ``fixed_output`` and ``set_epochs`` (the SET networks' epoch)."""

    matrix: Any
    groups: tuple
    seeds: tuple
    baseline: Any
    blocks: pd.DataFrame
    coords: np.ndarray
    degree: dict
    layers: tuple = (0,)
    fixed_output: bool = True
    set_epochs: int = 0

    def block(self, a: str, b: str) -> pd.Series:
        rows = self.blocks[((self.blocks["group_a"] == a) & (self.blocks["group_b"] == b))
                           | ((self.blocks["group_a"] == b) & (self.blocks["group_b"] == a))]
        if not len(rows):
            raise KeyError(f"no block {a} – {b}")
        return rows.iloc[0]

    def submatrix(self, a: str, b: str) -> np.ndarray:
        g = np.array(self.groups)
        return self.matrix.mean[np.ix_(np.flatnonzero(g == a), np.flatnonzero(g == b))]

    def relative(self, group: str) -> np.ndarray:
        """NNSTD within ``group`` over its degree-preserving baseline (mean over :attr:`layers`)."""
        g = np.flatnonzero(np.array(self.groups) == group)
        m = layer_matrix(self.matrix, "mean", list(self.layers))[np.ix_(g, g)]
        return relative_matrix(m, baseline_value(baseline_frame(self.degree[group]), "mean", list(self.layers)))


def relative_matrix(matrix: np.ndarray, baseline: float) -> np.ndarray:
    """Distances over a baseline's mean (the scale of notebook 03: 1 is as far apart as the null's draws)."""
    if not baseline > 0:
        raise ValueError(f"baseline must be > 0, got {baseline!r}")
    return np.asarray(matrix, dtype=float) / float(baseline)


def ticket_distances(tickets: Sequence[Ticket], controls: Sequence[dict], *, set_epochs: int,
                     include_static: bool = True, baseline_pairs: int = 10, seed: int = 0, n_jobs: int = 1,
                     cache_dir: Any = None) -> TicketDistances:
    """Pairwise NNSTD of tickets, the SET networks after ``set_epochs`` and random static masks (the SET runs'
    starting topologies), the Erdős–Rényi baseline, and degree-preserving baselines of a ticket and a SET network."""
    from ..nnstd.pairwise import mds_embedding, pairwise_nnstd, random_baseline

    fixed_output = bool(tickets[0].masks[-1].sum() < tickets[0].masks[-1].size)
    members = [("ticket", lambda t, c: t.masks), ("set", lambda t, c: _set_run(c).topology(set_epochs))]
    if include_static:
        members.append(("random_static", lambda t, c: c["random_static"].topology(0)))
    networks = [(get(t, c), _GROUPS[key], t.config.base.seed) for key, get in members for t, c in zip(tickets, controls)]
    topologies, groups, seeds = (list(x) for x in zip(*networks))
    matrix = pairwise_nnstd(topologies, labels=[f"{g} s{s}" for g, s in zip(groups, seeds)], fixed_output=fixed_output,
                            n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir)
    options = dict(n_pairs=baseline_pairs, seed=seed, fixed_output=fixed_output, n_jobs=n_jobs,
                   progress=show_progress(), cache_dir=cache_dir)
    baseline = random_baseline(tickets[0].masks, **options)
    degree = {g: random_baseline(topologies[groups.index(g)], null="degree", **options)
              for g in ("IMP ticket", "SET")}
    layers = tuple(k for k in sparse_layers(tickets[0].masks) if k < len(tickets[0].masks) - 1)
    return TicketDistances(matrix=matrix, groups=tuple(groups), seeds=tuple(seeds), baseline=baseline,
                           blocks=group_blocks(matrix.mean, groups, baseline, seed=seed),
                           coords=mds_embedding(matrix.mean, seed=seed), degree=degree, layers=layers,
                           fixed_output=fixed_output, set_epochs=int(set_epochs))


@dataclass(frozen=True, eq=False)
class PublishedReference:
    """The published SET networks' own relative distance: ``epoch``, ``runs`` (their folders), ``matrix`` (NNSTD
    between them, mean over their sparse ``layers``), ``baseline`` (the degree-preserving baseline drawn from the
    first of them, the same layers), ``relative`` (matrix over baseline), ``interval`` (its bootstrap over
    networks at 95%)."""

    epoch: int
    runs: tuple
    layers: tuple
    matrix: np.ndarray
    baseline: float
    relative: np.ndarray
    interval: Any


def published_reference(params: Parameters, epoch: int | None = None) -> PublishedReference | None:
    """The published Fig. 4 networks at their last saved epoch (190), measured as notebook 03 measures them:
    mean pairwise NNSTD over their sparse layers, over the degree-preserving baseline of one of them. None when the
    data root lacks them."""
    from ..nnstd.pairwise import random_baseline
    from . import published as pubs

    root = pubs.published_root()
    if root is None:
        return None
    e = int(pubs.PUBLISHED_EPOCHS[-1] if epoch is None else epoch)
    runs = tuple(pubs.PUBLISHED_RUNS[:params.published_runs])
    matrix = pubs.published_pairwise(root, [e], runs=runs, n_jobs=params.n_jobs, cache_dir=params.cache_dir)[e]
    net = pubs.load_published_runs(root, [e], runs=runs[:1])[e][0]
    layers = sparse_layers(net)
    calibration = random_baseline(net, n_pairs=params.baseline_pairs, seed=0, null="degree", n_jobs=params.n_jobs,
                                  progress=show_progress(), cache_dir=params.cache_dir)
    base = baseline_value(baseline_frame(calibration), "mean", layers)
    m = layer_matrix(matrix, "mean", layers)
    rel = relative_matrix(m, base)
    return PublishedReference(epoch=e, runs=runs, layers=tuple(layers), matrix=m, baseline=base, relative=rel,
                              interval=vd.network_bootstrap_ci(rel, n_boot=params.n_boot, seed=0))


# --------------------------------------------------------------------------- verdicts


def _arm_values(table: pd.DataFrame, arm: str) -> np.ndarray:
    return table.loc[table["arm"] == arm].sort_values("seed")["acc"].to_numpy(dtype=float)


def _plateaued(table: pd.DataFrame, *names: str) -> tuple[bool, str]:
    part = table[table["arm"].isin(names)]
    bad = part[~part["plateaued"]]
    if bad.empty:
        return True, ""
    counts = bad.groupby("arm").size()
    return False, "still climbing: " + "; ".join(f"{arm}: {n} of {int((part['arm'] == arm).sum())} runs"
                                                 for arm, n in counts.items())


def accuracy_verdict(table: pd.DataFrame, rule: str, a: str, b: str, margin: vd.Margin,
                     confidence: float = 0.95) -> vd.Verdict:
    """``rule`` on mean accuracy of arm ``a`` minus arm ``b`` (Welch interval over seeds at ``confidence``),
    capped at inconclusive when a run of either arm is still climbing."""
    diff = vd.difference_ci(_arm_values(table, a), _arm_values(table, b), confidence=confidence)
    return vd.unless_converged(vd.decide(rule, diff.estimate, diff.ci, margin), *_plateaued(table, a, b))


def cost_claim(reach: pd.DataFrame, target: str, margin: vd.Margin, confidence: float = 0.95) -> vd.Verdict | None:
    """Superiority of log10(IMP search MACs / SET MACs to reach ``target``) over seeds (t interval at
    ``confidence``) when SET reached the target in every seed; None (a description, no verdict) when any seed is
    censored: a bound is not a cost, and bounds alone would give an interval of no width."""
    part = reach[reach["target"] == target]
    if not len(part) or not bool(part["reached"].all()):
        return None
    m, lo, hi = mean_ci(part["log10_ratio"].to_numpy(dtype=float), confidence)
    return vd.superiority(m, (lo, hi), margin)


def topology_verdict(ours: np.ndarray, published: np.ndarray, margin: vd.Margin, *, confidence: float = 0.95,
                     n_boot: int = 2000, seed: int = 0) -> vd.Verdict:
    """Non-inferiority of the mean pairwise relative distance of ``ours`` minus that of ``published`` (each a
    square matrix of distances over its own degree-preserving baseline); the interval resamples the networks of
    both groups (:func:`~sparsetopo.study.verdicts.pair_difference_ci`). Fewer than 3 networks in either: no
    interval, inconclusive."""
    ours, published = np.asarray(ours, dtype=float), np.asarray(published, dtype=float)
    if min(len(ours), len(published)) < 3:
        est = (ours[np.triu_indices(len(ours), 1)].mean() - published[np.triu_indices(len(published), 1)].mean()
               if min(len(ours), len(published)) > 1 else math.nan)
        return vd.non_inferiority(float(est), (math.nan, math.nan), margin)
    ci = vd.pair_difference_ci(ours, published, n_boot=n_boot, confidence=confidence, seed=seed)
    return vd.non_inferiority(ci.estimate, ci.ci, margin)


# --------------------------------------------------------------------------- claims


def claim_names(result: Result) -> dict[str, str]:
    """The claims of the notebook by key (the templates and the headline refer to them by key)."""
    r, p = result, result.params
    e, q, f = p.epochs, r.imp_equal, p.cost_factor
    more = max(p.set_multiples)
    more_dense = r.dense_epochs_of(r.dense_arm_for(r.longest_multiple_budget))
    imp_dense = r.dense_epochs_of(r.dense_arm_for(q))
    return {
        "ceiling_1x": f"SET's ceiling: SET after the ticket's {e} epochs is as accurate as the dense network ({e} epochs)",
        "ceiling_more": f"SET's ceiling: SET after {more:g}x the ticket's epochs ({r.longest_multiple_budget}) is as accurate as "
                        f"the dense network ({more_dense} epochs)",
        "set_imp_dense": f"SET given the MACs of the whole IMP search ({q} epochs) is as accurate as the dense network "
                         f"({imp_dense} epochs, its longest run; the winning-ticket criterion)",
        "winning": f"The IMP ticket is a winning ticket: as accurate as the dense network after equal epochs ({e})",
        "reinit": f"The ticket beats its own mask re-initialised from the same distribution ({e} epochs each)",
        "static": f"The ticket beats a random static mask of its size from the same distribution ({e} epochs each)",
        "set_equal": f"SET at the ticket's size is as accurate as the ticket after equal epochs ({e})",
        "set_imp_ticket": f"SET given the MACs of the whole IMP search ({q} epochs) is as accurate as the ticket",
        "cost_ticket": f"Cost: SET reaches the ticket's accuracy (within the accuracy margin) with fewer MACs than the "
                       f"IMP search, by more than {f:g}x",
        "cost_dense": f"Cost: SET reaches the dense network's accuracy (within the accuracy margin) with fewer MACs "
                      f"than the IMP search, by more than {f:g}x",
        "topology": "SET networks of different seeds are at least as far apart, relative to the degree-preserving "
                    "null, as the paper's published SET networks",
        "plenitude": "SET unveils many very different sub-networks that are winning tickets (the paper's claim)",
        "search_cost": "Cost of finding a ticket, in MACs of SET epochs at the ticket's size (description)",
        "set_relative": f"SET networks of different seeds ({r.set_length} epochs): mean NNSTD over the degree-preserving "
                        "null (description)",
        "published_relative": "Published SET networks (Fig. 4, epoch 190): mean NNSTD over the degree-preserving null, "
                              "the reference of the topology rule (description)",
        "tickets_relative": "Tickets of different seeds: mean NNSTD over the degree-preserving null (description)",
        "tickets_set": "Tickets and SET networks: mean NNSTD over the Erdős–Rényi baseline (description)",
        "ticket_longest_dense": f"The IMP ticket ({e} epochs) minus the dense network's longest run "
                                f"({max(r.dense_budgets)} epochs) (description)",
    }


def _setting(r: Result) -> str:
    p = r.params
    data = "all training samples" if p.train_samples is None else f"{p.train_samples:,} training samples"
    return (f"{'-'.join(map(str, r.widths))} MLP, {p.dataset}, {data}; IMP to {p.target_density:g} hidden density "
            f"(p={p.prune_fraction:g}, {r.configs[0].n_rounds} rounds), {p.epochs} epochs per round; SET "
            f"({p.set_recipe}, ζ={p.zeta:g}) read at {'/'.join(map(str, r.budgets))} epochs; dense at "
            f"{'/'.join(map(str, r.dense_budgets))} epochs; {len(p.seeds)} seeds; "
            f"Bonferroni over {len(VERDICT_KEYS)} verdicts")


def _sd(t: pd.DataFrame, arm: str) -> str:
    return f"{float(t.loc[t['arm'] == arm, 'acc'].std(ddof=1)):.4f}"


def claims(result: Result) -> Findings:
    """The findings of notebook ``04_lottery_tickets``: every verdict (Bonferroni level over :data:`VERDICT_KEYS`),
    the descriptions, the numbers behind every figure, and the headline (the claims that answer
    :data:`PAPER_CLAIM`)."""
    r, p, t, d = result, result.params, result.runs, result.distances
    findings = Findings("04_lottery_tickets", p.figures_dir, parameters=p.as_dict())
    for name, value in (("imp_rounds", r.rounds), ("arms", t), ("arm_summary", r.summary), ("set_ceiling", r.ceiling),
                        ("initial_weight_scales", r.scales), ("learning_curves", r.curves),
                        ("reach_costs", r.reach), ("imp_macs", r.imp_macs), ("nnstd_matrix", d.matrix.frame()),
                        ("nnstd_blocks", d.blocks)):
        findings.add_data(name, value)
    findings.add_data("nnstd_embedding", pd.DataFrame({"label": d.matrix.labels, "group": d.groups,
                                                       "x": d.coords[:, 0], "y": d.coords[:, 1]}))
    name, margins, level = claim_names(r), p.margins(), p.confidence
    interval = (f"Welch {100 * level:.2f}% interval of the difference of arm means over seeds (Bonferroni: "
                f"{p.family_alpha:g} over {len(VERDICT_KEYS)} verdicts)")
    acc = f"accuracy = mean test accuracy of the last {LAST_K} epochs; {interval}"
    eq_arm, e_arm, more_arm = r.imp_equal_arm, r.equal_epochs_arm, r.longer_arms[-1]
    eq_dense = r.dense_arm_for(r.imp_equal)
    more_dense = r.dense_arm_for(r.longest_multiple_budget)
    verdicts: dict[str, vd.Verdict] = {}
    for key, rule, a, b, what in (
        ("ceiling_1x", "non-inferiority", e_arm, "dense", f"SET ({p.epochs} epochs) minus dense"),
        ("ceiling_more", "non-inferiority", more_arm, more_dense, f"{more_arm} minus {more_dense}"),
        ("set_imp_dense", "non-inferiority", eq_arm, eq_dense, f"SET ({r.imp_equal} epochs) minus {eq_dense}"),
        ("winning", "non-inferiority", "IMP ticket", "dense", "ticket minus dense"),
        ("reinit", "superiority", "IMP ticket", "ticket mask, re-init", "ticket minus re-initialised mask"),
        ("static", "superiority", "IMP ticket", "random static", "ticket minus random static"),
        ("set_equal", "non-inferiority", e_arm, "IMP ticket", f"SET ({p.epochs} epochs) minus ticket"),
        ("set_imp_ticket", "non-inferiority", eq_arm, "IMP ticket", f"SET ({r.imp_equal} epochs) minus ticket"),
    ):
        verdicts[key] = accuracy_verdict(t, rule, a, b, margins["accuracy"], confidence=level)
        findings.claim_verdict(name[key], verdicts[key], detail=f"{what}; {rule}; {acc}",
                               spread=f"SD over seeds: {a} {_sd(t, a)}, {b} {_sd(t, b)}")
    for target, arm in (("ticket", "IMP ticket"), ("dense", "dense")):
        part = r.reach[r.reach["target"] == target]
        n_reached = int(part["reached"].sum())
        verdict = cost_claim(r.reach, target, margins["cost"], confidence=level)
        where = (f"SET's MACs until its {LAST_K}-epoch mean test accuracy first reaches {part['target_acc'].iloc[0]:.4f} "
                 f"(the {arm} arm's mean accuracy minus the accuracy margin)")
        if verdict is not None:
            verdict = vd.unless_converged(verdict, *_plateaued(t, arm))
            verdicts[f"cost_{target}"] = verdict
            findings.claim_verdict(
                name[f"cost_{target}"], verdict,
                detail=f"log10(IMP search MACs / {where}); superiority; t {100 * level:.2f}% interval over seeds",
                spread=f"ratio per seed {', '.join(f'{x:.1f}' for x in 10 ** part['log10_ratio'])}; SD of log10 "
                       f"ratio {float(part['log10_ratio'].std(ddof=1)):.3f}")
        else:
            bound = float(part["bound_macs"].min())
            findings.claim(
                name[f"cost_{target}"], measured=None, holds=None,
                spread=f"SET reached it in {n_reached} of {len(part)} seeds within {r.set_length} epochs; "
                       f"{'unreached seeds need more than ' + format(bound, '.3g') + ' MACs (' + format(bound / r.imp_macs, '.2f') + 'x the IMP search)' if n_reached < len(part) else ''}",
                detail=f"no verdict: {where} is known only where SET reached it, and it did not in every seed; "
                       "a bound is not a cost")
    topo_margin = margins["topology"]
    ours = d.relative("SET")
    set_ci = vd.network_bootstrap_ci(ours, n_boot=p.n_boot, seed=0)
    if r.published is not None:
        verdicts["topology"] = vd.unless_converged(
            topology_verdict(ours, r.published.relative, topo_margin, confidence=level, n_boot=p.n_boot),
            *_plateaued(t, eq_arm))
        findings.claim_verdict(
            name["topology"], verdicts["topology"],
            detail=f"mean NNSTD between SET networks of different seeds after {r.set_length} epochs over the "
                   f"degree-preserving null of one of them (hidden layers {list(d.layers)}), minus the same for the "
                   f"{len(r.published.runs)} published networks at epoch {r.published.epoch} (their sparse layers); "
                   f"non-inferiority; {100 * level:.2f}% bootstrap interval resampling the networks of both groups",
            spread=f"SET {set_ci.estimate:.3f}, published {r.published.interval.estimate:.3f}")
    else:
        findings.claim(name["topology"], measured=None, holds=None, spread=f"SET {set_ci.estimate:.3f}",
                       detail="no verdict: the published networks are not in the data root (or use_published is "
                              "false), so the reference of the rule is missing")
    parts = [verdicts.get("topology"), verdicts["set_imp_dense"]]
    if parts[0] is not None:
        findings.claim_verdict(name["plenitude"], vd.joint_verdict(parts, ["far apart", "as accurate as dense"]),
                               detail="holds when both the topology row and the row 'SET given the MACs of the whole "
                                      "IMP search is as accurate as the dense network' hold; does not hold when either "
                                      "does not (an intersection-union test: no further correction); estimate and "
                                      "interval shown are the topology row's")
    else:
        findings.claim(name["plenitude"], measured=None, holds=None, detail="no verdict: the topology row has none")
    per_epoch = float(t.loc[t["arm"] == eq_arm, "macs"].mean()) / r.imp_equal
    findings.claim(name["search_cost"], measured=r.imp_macs / per_epoch, holds=None,
                   spread=f"IMP search {r.imp_macs:.4g} MACs; one SET epoch {per_epoch:.4g} MACs",
                   detail="total training MACs of one IMP search (dense run + every pruned round) over the MACs of one "
                          "SET epoch at the ticket's edge counts; no verdict (a ratio of planned work)")
    findings.claim(name["set_relative"], measured=set_ci.estimate, holds=None,
                   spread=f"95% interval [{set_ci.low:.3f}, {set_ci.high:.3f}] (bootstrap over networks)",
                   detail="1 would be as far apart as random graphs with the same degree sequences")
    if r.published is not None:
        pi = r.published.interval
        findings.claim(name["published_relative"], measured=pi.estimate, holds=None,
                       spread=f"95% interval [{pi.low:.3f}, {pi.high:.3f}] over {len(r.published.runs)} networks; "
                              f"degree-preserving baseline {r.published.baseline:.4f}",
                       detail="computed here from the published topologies (sparsetopo.study.published), as "
                              "notebook 03 reads them")
    tickets = d.relative("IMP ticket")
    ti = vd.network_bootstrap_ci(tickets, n_boot=p.n_boot, seed=0)
    findings.claim(name["tickets_relative"], measured=ti.estimate, holds=None,
                   spread=f"95% interval [{ti.low:.3f}, {ti.high:.3f}] (bootstrap over networks)",
                   detail="no verdict: the paper's claim does not depend on it")
    row = d.block("IMP ticket", "SET")
    findings.claim(name["tickets_set"], measured=float(row["ratio"]), holds=None,
                   spread=f"NNSTD {row['nnstd_mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] (bootstrap over "
                          f"networks); Erdős–Rényi baseline {d.baseline.mean:.3f}",
                   detail="no verdict: the paper's claim does not depend on it")
    longest = r.dense_arm_for(max(r.dense_budgets))
    if longest != "dense":
        beside = vd.difference_ci(_arm_values(t, "IMP ticket"), _arm_values(t, longest), confidence=level)
        findings.claim(name["ticket_longest_dense"], measured=beside.estimate, holds=None,
                       spread=f"{100 * level:.2f}% Welch interval [{beside.ci[0]:+.4f}, {beside.ci[1]:+.4f}]; SD over "
                              f"seeds: IMP ticket {_sd(t, 'IMP ticket')}, {longest} {_sd(t, longest)}",
                       detail="no verdict: the winning-ticket criterion compares equal epochs (its own row); this "
                              "sets the ticket beside the dense network trained to its plateau")
    findings.headline(PAPER_CLAIM, [name[k] for k in ("ceiling_more", "set_equal", "set_imp_ticket", "cost_ticket",
                                                       "cost_dense", "topology")], _setting(r))
    return findings


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the notebook's templates (``templates/04_lottery_tickets/*.md``) are filled from."""
    r, p = result, result.params
    by_name = {c.claim: c for c in findings.claims}
    verdicts = {}
    for key, name in claim_names(r).items():
        c = by_name.get(name)
        if c is None:  # a description without its data (the published networks outside the data root)
            verdicts[key] = {"claim": name, "verdict": "n/a", "estimate": math.nan, "low": math.nan,
                             "high": math.nan, "note": "", "spread": ""}
            continue
        low, high = c.rule["ci"] if c.rule else (math.nan, math.nan)
        verdicts[key] = {"claim": name, "verdict": c.verdict or "n/a", "estimate": c.measured, "low": low,
                         "high": high, "note": (c.rule or {}).get("note") or "", "spread": c.spread}
    controls = r.scales[~r.scales["arm"].isin(["IMP ticket", "SET"])]
    ticket_scales = r.scales[r.scales["arm"] == "IMP ticket"]
    per_epoch = float(r.runs.loc[r.runs["arm"] == r.imp_equal_arm, "macs"].mean()) / r.imp_equal
    reach = {}
    for target in ("dense", "ticket"):
        part = r.reach[r.reach["target"] == target]
        got = part[part["reached"]]
        gm = float(10 ** np.log10(got["macs"]).mean()) if len(got) else math.nan
        bound = float(part["bound_macs"].min()) if len(got) < len(part) else math.nan
        reach[target] = {"target_acc": float(part["target_acc"].iloc[0]), "n_reached": len(got), "n": len(part),
                         "macs": gm, "epochs": [int(e) for e in got["epoch"]], "ratio": r.imp_macs / gm,
                         "bound_macs": bound, "bound_ratio": bound / r.imp_macs}
    climbing = plateau_report(r.runs)
    full_fixed = full_rate_epochs(p.lr_schedule, p.epochs)  # the dense run, the rounds and the controls
    window_fixed = _window(p.plateau_window, full_fixed)
    rounds_climbing = r.rounds[~r.rounds["plateaued"]]
    d = r.distances
    pub = r.published
    schedule = r.schedule.to_numpy()
    hidden = [c for c in range(schedule.shape[1] - 1)]
    before_last = schedule[-2, hidden].sum() / schedule[0, hidden].sum()
    return {
        "p": p, "v": verdicts, "widths": "-".join(map(str, r.widths)), "description": r.description,
        "n_rounds": r.configs[0].n_rounds, "budgets": list(r.budgets), "budget_names": list(r.budgets.values()), "dense_budgets": list(r.dense_budgets),
        "imp_equal": r.imp_equal, "set_length": r.set_length, "n_verdicts": len(VERDICT_KEYS),
        "confidence_pct": 100 * p.confidence, "log10_cost_factor": math.log10(p.cost_factor),
        "recipe": set_options(p.set_recipe),
        "last_round": {"density_before": float(before_last), "pruned": float(1 - p.target_density / before_last)},
        "paper_scale": tuple(p.hidden) == (1000, 1000, 1000),
        "set_train_acc": float(r.runs.loc[r.runs["arm"] == r.imp_equal_arm, "final_train_acc"].mean()),
        "ceiling": r.ceiling.to_dict("records"),
        "scales": {"controls": (float(controls["ratio_to_dense_init"].min()), float(controls["ratio_to_dense_init"].max())),
                   "ticket": (float(ticket_scales["ratio_to_dense_init"].min()),
                              float(ticket_scales["ratio_to_dense_init"].max())),
                   "to_ticket": (float(controls["ratio_to_ticket"].min()), float(controls["ratio_to_ticket"].max()))},
        "n_runs": len(r.runs), "climbing": climbing.groupby("arm").size().to_dict(), "n_climbing": len(climbing),
        "full_rate_step": full_fixed, "window_step": window_fixed,
        "n_step_rows": int(r.runs["arm"].isin(FIXED_ARMS).sum()),
        "n_step_climbing": int(climbing["arm"].isin(FIXED_ARMS).sum()),
        "dense_longer": [b for b in r.dense_budgets if b > p.epochs],
        "fixed_read": (f"SET with w = {p.plateau_window} on its constant rate, the fixed arms with w = {window_fixed} "
                       + (f"on their whole {p.epochs}-epoch run at a constant rate" if full_fixed == p.epochs else
                          f"on their first {full_fixed} epochs, before the {p.lr_schedule} schedule drops the rate")),
        "n_rounds_climbing": len(rounds_climbing), "n_round_runs": len(r.rounds),
        "spreads": dict(zip(r.summary["arm"], r.summary["acc_sd"])),
        "imp_macs": r.imp_macs, "imp_in_set_epochs": r.imp_macs / per_epoch, "reach": reach,
        "blocks": [{"block": row.block, "mean": row.nnstd_mean, "low": row.ci_low, "high": row.ci_high}
                   for row in d.blocks.itertuples()],
        "baseline": {"mean": d.baseline.mean, "low": d.baseline.ci[0], "high": d.baseline.ci[1]},
        "degree": {g: baseline_value(baseline_frame(c), "mean", list(d.layers)) for g, c in d.degree.items()},
        "layers": list(d.layers), "fixed_output": d.fixed_output,
        "published": None if pub is None else {"epoch": pub.epoch, "n": len(pub.runs), "relative": pub.interval.estimate,
                                               "low": pub.interval.low, "high": pub.interval.high,
                                               "baseline": pub.baseline, "layers": list(pub.layers)},
    }
