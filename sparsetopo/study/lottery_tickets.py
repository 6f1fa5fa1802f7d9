"""Lottery tickets against adaptive sparse connectivity (notebook ``04_lottery_tickets``).

The paper's claim: adaptive sparse connectivity (SET) finds sub-networks as
good as a lottery ticket, many and very different ones, far more cheaply than
iterative magnitude pruning (IMP). For several seeds an IMP search finds a
ticket; beside it train, at the ticket's exact per-layer edge counts and from
its initial distribution (:mod:`sparsetopo.lottery_arms`): the dense network
(round 0), the ticket, Frankle & Carbin's controls (``ticket mask, re-init``,
``random static``) and SET at several budgets: ``epochs``, the profile's
``set_epochs`` and the budget with the MACs of the whole IMP search.

Accuracy of a run is the mean test accuracy of its last :data:`LAST_K`
epochs; a run has converged when that mean moved by less than
:data:`CONVERGENCE_THRESHOLD` from the :data:`LAST_K` epochs before. Cost is
training MACs (:mod:`sparsetopo.cost`, sparse ideal): a ticket costs its whole
search, SET its own run up to the epoch where it first reaches an accuracy
(:func:`~sparsetopo.lottery_arms.reach_costs`). Topology is NNSTD against independent random graphs
with the same edge counts (output neurons fixed when the output layer is sparse).

The module reads as :class:`Parameters` → :func:`run` → :func:`claims` →
:func:`context` (the numbers of the notebook's templates,
``templates/04_lottery_tickets/``); the figures are in
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
from . import verdicts as vd
from .common import group_blocks
from .findings import Findings
from .params import StudyParameters, check_int, check_optional, check_real, check_sequence, check_str

__all__ = ["LAST_K", "CONVERGENCE_THRESHOLD", "FIXED_ARMS", "PAPER_CLAIM", "set_label", "Parameters", "Result", "run",
           "arm_table", "arm_order", "arm_summary", "convergence_report", "imp_rounds", "learning_curves",
           "TicketDistances", "ticket_distances", "accuracy_verdict", "cost_verdict", "topology_verdict",
           "claim_names", "claims", "context"]

#: Accuracy of a run: mean test accuracy of its last LAST_K epochs.
LAST_K = 5
#: A run converged when its last-LAST_K mean moved by less than this (0.1 point) from the LAST_K before.
CONVERGENCE_THRESHOLD = 0.001
#: The arms at the ticket's size that train as many epochs as the ticket (besides the SET budgets).
FIXED_ARMS = ("dense", "IMP ticket", "ticket mask, re-init", "random static")
#: The claim of the paper this notebook answers (its headline).
PAPER_CLAIM = "Adaptive sparse connectivity (SET) finds sub-networks as good as a lottery ticket far more cheaply than IMP"
_GROUPS = {"ticket": "IMP ticket", "set": "SET", "random_static": "random static"}


def set_label(epochs: int, imp_equal: bool = False) -> str:
    """Name of the SET arm trained ``epochs`` epochs (``imp_equal``: the one with the IMP search's MACs)."""
    return f"SET, {int(epochs)} epochs" + (" (IMP's MACs)" if imp_equal else "")


# --------------------------------------------------------------------------- parameters, run


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
    set_epochs: tuple
    train_samples: int | None
    lr: float
    batch_size: int
    lr_schedule: str
    zeta: float
    backend: str
    accuracy_margin: float
    accuracy_margin_basis: str
    cost_factor: float
    cost_margin_basis: str
    nnstd_margin: float
    nnstd_margin_basis: str
    baseline_pairs: int

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction = dict(minimum=0, exclusive_minimum=True, maximum=1)
        positive = dict(minimum=0, exclusive_minimum=True)
        self._set("hidden", check_sequence("hidden", self.hidden, lambda n, v: check_int(n, v, minimum=1)))
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), unique=True))
        for name in ("target_density", "prune_fraction", "zeta"):
            self._set(name, check_real(name, getattr(self, name), **fraction))
        self._set("output_prune_fraction", check_optional("output_prune_fraction", self.output_prune_fraction,
                                                          lambda n, v: check_real(n, v, minimum=0, maximum=1)))
        self._set("rewind_epoch", check_int("rewind_epoch", self.rewind_epoch, minimum=0))
        self._set("epochs", check_int("epochs", self.epochs, minimum=1))
        self._set("set_epochs", check_sequence("set_epochs", self.set_epochs, lambda n, v: check_int(n, v, minimum=1),
                                               min_length=0, unique=True))
        self._set("train_samples", check_optional("train_samples", self.train_samples,
                                                  lambda n, v: check_int(n, v, minimum=1)))
        self._set("lr", check_real("lr", self.lr, **positive))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("lr_schedule", check_str("lr_schedule", self.lr_schedule, choices=("constant", "cosine", "step")))
        self._set("backend", check_str("backend", self.backend, choices=("masked", "sparse", "auto")))
        self._set("cost_factor", check_real("cost_factor", self.cost_factor, minimum=1))
        for name in ("accuracy_margin", "nnstd_margin"):
            self._set(name, check_real(name, getattr(self, name), **positive))
        for name in ("accuracy_margin_basis", "cost_margin_basis", "nnstd_margin_basis"):
            self._set(name, check_str(name, getattr(self, name)))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        if self.rewind_epoch >= self.epochs:
            raise ValueError(f"parameter rewind_epoch must be < epochs ({self.epochs}), got {self.rewind_epoch}")
        if len(self.seeds) < 2:
            raise ValueError(f"parameter seeds needs at least 2 seeds for an interval, got {list(self.seeds)}")


@dataclass(frozen=True, eq=False)
class Result:
    """Everything :func:`run` computed: ``params, widths, description`` (the dataset in one line),
    ``configs`` (one search per seed), ``schedule`` (edges per layer in every round), ``imp_equal`` (the
    IMP-equal SET budget in epochs), ``budgets`` (every SET budget), ``tickets, controls``
    (:func:`~sparsetopo.lottery_arms.run_all`), ``scales, runs, summary, rounds, curves, reach, distances``
    (:func:`~sparsetopo.lottery_arms.initial_weight_scales`, :func:`arm_table`, :func:`arm_summary`,
    :func:`imp_rounds`, :func:`learning_curves`, :func:`~sparsetopo.lottery_arms.reach_costs`,
    :func:`ticket_distances`)."""

    params: Parameters
    widths: list
    description: str
    configs: list
    schedule: pd.DataFrame
    imp_equal: int
    budgets: list
    tickets: list
    controls: list
    scales: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    rounds: pd.DataFrame
    curves: pd.DataFrame
    reach: pd.DataFrame
    distances: "TicketDistances"

    @property
    def imp_equal_arm(self) -> str:
        return set_label(self.imp_equal, imp_equal=True)

    @property
    def equal_epochs_arm(self) -> str:
        """The SET arm trained as many epochs as the ticket."""
        return set_label(self.params.epochs, imp_equal=self.params.epochs == self.imp_equal)

    @property
    def imp_macs(self) -> float:
        return float(self.runs.loc[self.runs["arm"] == "IMP ticket", "macs_to_obtain"].mean())


def run(params: Parameters) -> Result:
    """Run (or read back) the searches and controls, then tables, costs to reach, and distances."""
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
    budgets = arms.set_budgets(p.epochs, p.set_epochs, equal)
    tickets, controls = arms.run_all(configs, widths, root=p.runs_root, n_jobs=p.n_jobs, zeta=p.zeta, set_epochs=budgets)
    runs = arm_table(tickets, controls)
    curves = learning_curves(tickets, controls, runs)
    targets = {"ticket": float(runs.loc[runs["arm"] == "IMP ticket", "acc"].mean()),
               "dense": float(runs.loc[runs["arm"] == "dense", "acc"].mean())}
    imp_macs = runs[runs["arm"] == "IMP ticket"].set_index("seed")["macs_to_obtain"]
    reach = arms.reach_costs(curves[curves["arm"].str.startswith("SET")], imp_macs, targets, k=LAST_K)
    distances = ticket_distances(tickets, controls, set_epochs=equal, baseline_pairs=p.baseline_pairs,
                                 n_jobs=p.n_jobs, cache_dir=p.cache_dir)
    return Result(params=p, widths=widths, description=data.describe(), configs=configs, schedule=schedule,
                  imp_equal=equal, budgets=budgets, tickets=tickets, controls=controls,
                  scales=arms.initial_weight_scales(tickets, controls), runs=runs, summary=arm_summary(runs),
                  rounds=imp_rounds(tickets), curves=curves, reach=reach,
                  distances=distances)


# --------------------------------------------------------------------------- claims


def claim_names(params: Parameters, imp_equal: int) -> dict[str, str]:
    """The claims of the notebook by key (the templates and the headline refer to them by key)."""
    e, q, f = params.epochs, imp_equal, params.cost_factor
    return {
        "winning": f"The IMP ticket is a winning ticket: as accurate as the dense network after equal epochs ({e})",
        "reinit": f"The ticket beats its own mask re-initialised from the same distribution ({e} epochs each)",
        "static": f"The ticket beats a random static mask of its size from the same distribution ({e} epochs each)",
        "set_equal": f"SET at the ticket's size is as accurate as the ticket after equal epochs ({e})",
        "set_imp_ticket": f"SET given the MACs of the whole IMP search ({q} epochs) is as accurate as the ticket",
        "set_imp_dense": f"SET given the MACs of the whole IMP search ({q} epochs) is as accurate as the dense network "
                         f"after {e} epochs (the winning-ticket criterion)",
        "topology": f"SET networks of different seeds are as far apart as independent random graphs (SET after {q} epochs)",
        "plenitude": "SET unveils many very different sub-networks that are winning tickets (the paper's claim)",
        "cost_ticket": f"Cost: SET reaches the ticket's accuracy with fewer MACs than the IMP search, by more than {f:g}x",
        "cost_dense": f"Cost: SET reaches the dense network's accuracy with fewer MACs than the IMP search, by more than {f:g}x",
        "search_cost": "Cost of finding a ticket, in MACs of SET epochs at the ticket's size (description)",
        "tickets_apart": "Tickets of different seeds: mean NNSTD over the random baseline (description)",
        "tickets_set": "Tickets and SET networks: mean NNSTD over the random baseline (description)",
    }


def _setting(r: Result) -> str:
    p = r.params
    data = "all training samples" if p.train_samples is None else f"{p.train_samples:,} training samples"
    return (f"{'-'.join(map(str, r.widths))} MLP, {p.dataset}, {data}; IMP to {p.target_density:g} hidden density "
            f"(p={p.prune_fraction:g}), {p.epochs} epochs per run; SET ζ={p.zeta:g} for "
            f"{'/'.join(map(str, r.budgets))} epochs; {len(p.seeds)} seeds")


def claims(result: Result) -> Findings:
    """The findings of notebook ``04_lottery_tickets``: every verdict, the numbers behind every figure,
    and the headline (the claims that answer :data:`PAPER_CLAIM`)."""
    r, p, t, d = result, result.params, result.runs, result.distances
    findings = Findings("04_lottery_tickets", p.figures_dir, parameters=p.as_dict())
    for name, value in (("imp_rounds", r.rounds), ("arms", t), ("arm_summary", r.summary),
                        ("initial_weight_scales", r.scales), ("learning_curves", r.curves),
                        ("reach_costs", r.reach), ("imp_macs", r.imp_macs), ("nnstd_matrix", d.matrix.frame()),
                        ("nnstd_blocks", d.blocks)):
        findings.add_data(name, value)
    findings.add_data("nnstd_embedding", pd.DataFrame({"label": d.matrix.labels, "group": d.groups,
                                                       "x": d.coords[:, 0], "y": d.coords[:, 1]}))
    name = claim_names(p, r.imp_equal)
    acc_margin = vd.Margin(p.accuracy_margin, p.accuracy_margin_basis)
    acc = "accuracy = mean test accuracy of the last 5 epochs; Welch 95% interval of the difference of arm means over seeds"
    eq_arm, e_arm = r.imp_equal_arm, r.equal_epochs_arm

    def sd(arm):
        return f"{float(t.loc[t['arm'] == arm, 'acc'].std(ddof=1)):.4f}"

    verdicts = {}
    for key, rule, a, b, what, spread in (
        ("winning", "non-inferiority", "IMP ticket", "dense", "ticket minus dense",
         f"SD over seeds: ticket {sd('IMP ticket')}, dense {sd('dense')}"),
        ("reinit", "superiority", "IMP ticket", "ticket mask, re-init", "ticket minus re-initialised mask",
         f"SD re-init {sd('ticket mask, re-init')}"),
        ("static", "superiority", "IMP ticket", "random static", "ticket minus random static",
         f"SD random static {sd('random static')}"),
        ("set_equal", "non-inferiority", e_arm, "IMP ticket", f"SET ({p.epochs} epochs) minus ticket", f"SD SET {sd(e_arm)}"),
        ("set_imp_ticket", "non-inferiority", eq_arm, "IMP ticket", f"SET ({r.imp_equal} epochs) minus ticket",
         f"SD SET {sd(eq_arm)}"),
        ("set_imp_dense", "non-inferiority", eq_arm, "dense", f"SET ({r.imp_equal} epochs) minus dense ({p.epochs} epochs)",
         f"SD dense {sd('dense')}"),
    ):
        verdicts[key] = accuracy_verdict(t, rule, a, b, acc_margin)
        findings.claim_verdict(name[key], verdicts[key], detail=f"{what}; {rule}; {acc}", spread=spread)
    topo = vd.unless_converged(topology_verdict(d, vd.Margin(p.nnstd_margin, p.nnstd_margin_basis)),
                               *_arm_converged(t, eq_arm))
    findings.claim_verdict(
        name["topology"], topo,
        detail="mean SET–SET NNSTD minus the mean NNSTD of independent random topologies with the same edge counts; "
               "non-inferiority; interval: bootstrap over SET networks (not pairs), widened by the baseline's interval"
               + ("; output neurons fixed" if d.fixed_output else ""),
        spread=f"SD of the random baseline's pairs {float(np.std(d.baseline.samples.mean(axis=1), ddof=1)):.4f}")
    findings.claim_verdict(name["plenitude"], vd.joint_verdict([topo, verdicts["set_imp_dense"]],
                                                            ["far apart", "as accurate as the dense network"]),
                           detail="holds when both the topology row and the row 'SET given the MACs of the whole "
                           "IMP search is as accurate as the dense network' hold; does not hold when either does not; "
                           "estimate and interval shown are the topology row's")
    cost_margin = vd.Margin(math.log10(p.cost_factor), f"log10({p.cost_factor:g}): {p.cost_margin_basis}")
    for target, arm in (("ticket", "IMP ticket"), ("dense", "dense")):
        part = r.reach[r.reach["target"] == target]
        findings.claim_verdict(
            name[f"cost_{target}"],
            vd.unless_converged(cost_verdict(r.reach, target, cost_margin), *_arm_converged(t, arm)),
            detail=f"log10(IMP search MACs / SET MACs until its 5-epoch mean test accuracy first reaches "
                   f"{part['target_acc'].iloc[0]:.4f}, the mean accuracy of the {arm} arm); superiority; t interval over seeds",
            spread=f"ratio per seed {', '.join(f'{x:.1f}' for x in 10 ** part['log10_ratio'])}; reached in "
                   f"{int(part['reached'].sum())} of {len(part)} seeds; SD of log10 ratio {float(part['log10_ratio'].std(ddof=1)):.3f}")
    per_epoch = float(t.loc[t["arm"] == eq_arm, "macs"].mean()) / r.imp_equal
    findings.claim(name["search_cost"], measured=r.imp_macs / per_epoch, holds=None,
                   spread=f"IMP search {r.imp_macs:.4g} MACs; one SET epoch {per_epoch:.4g} MACs",
                   detail="total training MACs of one IMP search (dense run + every pruned round) over the MACs of one "
                   "SET epoch at the ticket's edge counts; no verdict (a ratio of planned work); the cost verdicts "
                   "above compare what SET needs to reach an accuracy")
    base = d.baseline
    for key, a, b in (("tickets_apart", "IMP ticket", "IMP ticket"), ("tickets_set", "IMP ticket", "SET")):
        row = d.block(a, b)
        findings.claim(name[key], measured=float(row["ratio"]), holds=None,
                       spread=f"NNSTD {row['nnstd_mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] (bootstrap "
                       f"over networks); baseline {base.mean:.3f} [{base.ci[0]:.3f}, {base.ci[1]:.3f}]",
                       detail="no verdict: the paper's claim does not depend on it")
    findings.headline(PAPER_CLAIM, [name[k] for k in ("set_equal", "set_imp_ticket", "set_imp_dense", "cost_ticket",
                                                       "cost_dense", "topology")], _setting(r))
    return findings


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the notebook's templates (``templates/04_lottery_tickets/*.md``) are filled from."""
    r, p = result, result.params
    by_name = {c.claim: c for c in findings.claims}
    verdicts = {}
    for key, name in claim_names(p, r.imp_equal).items():
        c = by_name[name]
        low, high = c.rule["ci"] if c.rule else (math.nan, math.nan)
        verdicts[key] = {"claim": name, "verdict": c.verdict or "n/a", "estimate": c.measured, "low": low,
                         "high": high, "note": (c.rule or {}).get("note") or ""}
    scales = r.scales[r.scales["arm"] != "IMP ticket"]
    ticket_scales = r.scales[r.scales["arm"] == "IMP ticket"]
    per_epoch = float(r.runs.loc[r.runs["arm"] == r.imp_equal_arm, "macs"].mean()) / r.imp_equal
    reach = {}
    for target in ("dense", "ticket"):
        part = r.reach[r.reach["target"] == target]
        got = part[part["reached"]]
        gm = float(10 ** np.log10(got["macs"]).mean()) if len(got) else math.nan
        reach[target] = {"target_acc": float(part["target_acc"].iloc[0]), "n_reached": len(got), "n": len(part),
                         "macs": gm, "epochs": [int(e) for e in got["epoch"]], "ratio": r.imp_macs / gm,
                         "min_macs": float(part["macs"].min()), "min_ratio": float(part["macs"].min()) / r.imp_macs}
    unconverged = convergence_report(r.runs)
    d = r.distances
    return {
        "p": p, "v": verdicts, "widths": "-".join(map(str, r.widths)), "description": r.description,
        "n_rounds": r.configs[0].n_rounds, "budgets": r.budgets, "imp_equal": r.imp_equal,
        "log10_cost_factor": math.log10(p.cost_factor), "paper_scale": tuple(p.hidden) == (1000, 1000, 1000),
        "set_train_acc": float(r.runs.loc[r.runs["arm"] == r.imp_equal_arm, "final_train_acc"].mean()),
        "scales": {"controls": (float(scales["ratio_to_dense_init"].min()), float(scales["ratio_to_dense_init"].max())),
                   "ticket": (float(ticket_scales["ratio_to_dense_init"].min()),
                              float(ticket_scales["ratio_to_dense_init"].max())),
                   "to_ticket": (float(scales["ratio_to_ticket"].min()), float(scales["ratio_to_ticket"].max()))},
        "n_runs": len(r.runs), "unconverged": unconverged.groupby("arm").size().to_dict(),
        "n_unconverged": len(unconverged), "spreads": dict(zip(r.summary["arm"], r.summary["acc_sd"])),
        "imp_macs": r.imp_macs, "imp_in_set_epochs": r.imp_macs / per_epoch, "reach": reach,
        "blocks": [{"block": row.block, "mean": row.nnstd_mean, "low": row.ci_low, "high": row.ci_high}
                   for row in d.blocks.itertuples()],
        "baseline": {"mean": d.baseline.mean, "low": d.baseline.ci[0], "high": d.baseline.ci[1]},
        "fixed_output": d.fixed_output,
    }


# --------------------------------------------------------------------------- measurements: tables


def _curve(run: store.Run) -> np.ndarray:
    return np.array([r["test_acc"] for r in run.records], dtype=float)


def _converged(curve: np.ndarray) -> tuple[bool, float]:
    if len(curve) < 2 * LAST_K:
        return False, math.nan
    conv = vd.convergence(curve, k=LAST_K, threshold=CONVERGENCE_THRESHOLD)
    return bool(conv.converged), conv.moved


def _arm_row(seed: int, arm: str, run: store.Run, macs_to_obtain: float, total_weights: int) -> dict[str, Any]:
    curve = _curve(run)
    converged, moved = _converged(curve)
    cost = training_cost(run)
    return {"seed": seed, "arm": arm, "epochs": len(curve), "acc": vd.last_k_mean(curve, min(LAST_K, len(curve))),
            "final_acc": float(curve[-1]), "best_acc": float(curve.max()),
            "final_train_acc": float(run.records[-1].get("train_acc", math.nan)), "converged": converged,
            "moved": moved, "macs": float(cost.macs), "macs_to_obtain": float(macs_to_obtain),
            "wall_seconds": float(cost.wall_seconds), "n_weights": int(sum(run.summary["edges"])),
            "density_pct": 100.0 * sum(run.summary["edges"]) / total_weights, "run": run.directory.name}


def _arms(tickets: Sequence[Ticket], controls: Sequence[dict]):
    """``(seed, arm, run, macs_to_obtain)`` of every arm of every search, search by search, in display order."""
    if len(tickets) != len(controls):
        raise ValueError(f"got {len(tickets)} tickets but {len(controls)} sets of controls; give one per ticket")
    for ticket, ctrl in zip(tickets, controls):
        if not ticket.complete:
            raise ValueError(f"the search in {ticket.directory.name} is not complete; finish it with find_ticket")
        seed, search, reinit = ticket.config.base.seed, float(lottery_cost(ticket).macs), ctrl["reinit"]
        yield seed, "dense", ticket.rounds[0], training_cost(ticket.rounds[0]).macs
        yield seed, "IMP ticket", ticket.run, search
        yield seed, "ticket mask, re-init", reinit, search + training_cost(reinit).macs
        yield seed, "random static", ctrl["random_static"], training_cost(ctrl["random_static"]).macs
        for key in sorted(k for k in ctrl if isinstance(k, tuple)):
            yield seed, set_label(key[1]), ctrl[key], training_cost(ctrl[key]).macs


def arm_table(tickets: Sequence[Ticket], controls: Sequence[dict]) -> pd.DataFrame:
    """One row per seed and arm: ``seed, arm, epochs, acc`` (mean of the last :data:`LAST_K` epochs),
    ``final_acc, best_acc, final_train_acc, converged, moved`` (change of that mean over the :data:`LAST_K`
    epochs before), ``macs`` (this run's training), ``macs_to_obtain`` (the ticket and its re-initialised
    mask: plus the whole search), ``wall_seconds, n_weights, density_pct, run``."""
    w = tickets[0].widths if len(tickets) else []
    total = sum(w[k] * w[k + 1] for k in range(len(w) - 1))
    table = pd.DataFrame([_arm_row(*arm, total) for arm in _arms(tickets, controls)])
    if len(table):
        # name the SET budget whose MACs first reach the search's (the IMP-equal budget)
        imp = table[table["arm"] == "IMP ticket"]["macs_to_obtain"].max()
        set_rows = table[table["arm"].str.startswith("SET, ")]
        reaching = set_rows[set_rows["macs"] >= imp * (1 - 1e-9)]
        if len(reaching):
            eq = int(reaching["epochs"].min())
            table.loc[table["arm"] == set_label(eq), "arm"] = set_label(eq, imp_equal=True)
    return table


def arm_order(table: pd.DataFrame) -> list[str]:
    """Arms in display order: the fixed arms, then SET by budget."""
    sets = table[table["arm"].str.startswith("SET")].groupby("arm")["epochs"].max().sort_values()
    return [a for a in FIXED_ARMS if a in set(table["arm"])] + list(sets.index)


def arm_summary(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per arm: seeds, epochs, accuracy (last-k mean, final, best: mean and CI; SD over seeds),
    MACs to obtain, wall seconds, converged runs."""
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
                     "converged": f"{int(part['converged'].sum())}/{len(part)}"})
    return pd.DataFrame(rows)


def convergence_report(table: pd.DataFrame) -> pd.DataFrame:
    """The runs that have not converged (rows of :func:`arm_table`): ``seed, arm, epochs, acc, moved``."""
    return table.loc[~table["converged"], ["seed", "arm", "epochs", "acc", "moved"]].reset_index(drop=True)


def imp_rounds(tickets: Sequence[Ticket]) -> pd.DataFrame:
    """Every round of every search: ``seed, round, density_pct`` (all weights), ``hidden_density``,
    ``acc, final_acc, converged, macs`` (this round), ``cumulative_macs``."""
    rows = []
    for ticket in tickets:
        w = ticket.widths
        sizes = [w[k] * w[k + 1] for k in range(len(w) - 1)]
        cumulative = 0.0
        for r, run in enumerate(ticket.rounds):
            edges, curve = run.summary["edges"], _curve(run)
            macs = float(training_cost(run).macs)
            cumulative += macs
            rows.append({"seed": ticket.config.base.seed, "round": r, "density_pct": 100.0 * sum(edges) / sum(sizes),
                         "hidden_density": sum(edges[:-1]) / sum(sizes[:-1]),
                         "acc": vd.last_k_mean(curve, min(LAST_K, len(curve))), "final_acc": float(curve[-1]),
                         "converged": _converged(curve)[0], "macs": macs, "cumulative_macs": cumulative})
    return pd.DataFrame(rows)


def learning_curves(tickets: Sequence[Ticket], controls: Sequence[dict], table: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy after every epoch of every arm's run (arms named as in ``table``): ``seed, arm, epoch,
    test_acc, macs`` (MACs of that run's training so far; the ticket's and re-init's exclude the search)."""
    names = dict(zip(zip(table["seed"], table["run"]), table["arm"]))
    rows = []
    for s, arm, run, _ in _arms(tickets, controls):
        name = names.get((s, run.directory.name), arm)
        per_epoch = training_cost(run).macs / len(run.records)
        rows += [{"seed": s, "arm": name, "epoch": e, "test_acc": float(rec["test_acc"]), "macs": e * per_epoch}
                 for e, rec in enumerate(run.records, start=1)]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- distances


@dataclass(frozen=True, eq=False)
class TicketDistances:
    """NNSTD among tickets, final SET networks and random static masks: ``matrix`` (a DistanceMatrix; groups
    tickets, SET, random static, seeds within), the ``groups`` and ``seeds`` of its networks, the random
    ``baseline`` (independent topologies with the ticket's edge counts), the ``blocks`` of
    :func:`~sparsetopo.study.common.group_blocks`, ``coords`` (metric MDS), ``fixed_output`` (output neurons
    matched only to themselves) and ``set_epochs`` (the budget of the SET networks)."""

    matrix: Any
    groups: tuple
    seeds: tuple
    baseline: Any
    blocks: pd.DataFrame
    coords: np.ndarray
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


def ticket_distances(tickets: Sequence[Ticket], controls: Sequence[dict], *, set_epochs: int,
                     include_static: bool = True, baseline_pairs: int = 10, seed: int = 0, n_jobs: int = 1,
                     cache_dir: Any = None) -> TicketDistances:
    """Pairwise NNSTD of tickets, final topologies of the SET runs of ``set_epochs`` and random static masks
    (the SET runs' starting topologies, so SET–static pairs of one seed show how far SET moved)."""
    from ..nnstd.pairwise import mds_embedding, pairwise_nnstd, random_baseline

    fixed_output = bool(tickets[0].masks[-1].sum() < tickets[0].masks[-1].size)
    members = [("ticket", lambda t, c: t.masks), ("set", lambda t, c: c[("set", set_epochs)].topology())]
    if include_static:
        members.append(("random_static", lambda t, c: c["random_static"].topology(0)))
    networks = [(get(t, c), _GROUPS[key], t.config.base.seed) for key, get in members for t, c in zip(tickets, controls)]
    topologies, groups, seeds = (list(x) for x in zip(*networks))
    matrix = pairwise_nnstd(topologies, labels=[f"{g} s{s}" for g, s in zip(groups, seeds)], fixed_output=fixed_output,
                            n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir)
    baseline = random_baseline(tickets[0].masks, n_pairs=baseline_pairs, seed=seed, fixed_output=fixed_output,
                               n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir)
    return TicketDistances(matrix=matrix, groups=tuple(groups), seeds=tuple(seeds), baseline=baseline,
                           blocks=group_blocks(matrix.mean, groups, baseline, seed=seed),
                           coords=mds_embedding(matrix.mean, seed=seed), fixed_output=fixed_output,
                           set_epochs=int(set_epochs))


# --------------------------------------------------------------------------- verdicts


def _arm_values(table: pd.DataFrame, arm: str) -> np.ndarray:
    return table.loc[table["arm"] == arm].sort_values("seed")["acc"].to_numpy(dtype=float)


def _arm_converged(table: pd.DataFrame, *names: str) -> tuple[bool, str]:
    part = table[table["arm"].isin(names)]
    bad = part[~part["converged"]]
    if bad.empty:
        return True, ""
    counts = bad.groupby("arm").size()
    return False, "; ".join(f"{arm}: {n} of {int((part['arm'] == arm).sum())} runs" for arm, n in counts.items())


def accuracy_verdict(table: pd.DataFrame, rule: str, a: str, b: str, margin: vd.Margin) -> vd.Verdict:
    """``rule`` on mean accuracy of arm ``a`` minus arm ``b`` (Welch interval over seeds), capped when
    a run of either arm has not converged."""
    diff = vd.difference_ci(_arm_values(table, a), _arm_values(table, b))
    return vd.unless_converged(vd.decide(rule, diff.estimate, diff.ci, margin), *_arm_converged(table, a, b))


def cost_verdict(reach: pd.DataFrame, target: str, margin: vd.Margin) -> vd.Verdict:
    """Superiority of log10(IMP search MACs / SET MACs to reach ``target``), mean and t interval over seeds.

    A censored seed (SET never reached the target) enters with its upper
    bound; with any censored seed a "holds" is capped at inconclusive (the
    bound overstates SET's advantage), while "does not hold" stands (the true
    values are lower still).
    """
    part = reach[reach["target"] == target]
    m, lo, hi = mean_ci(part["log10_ratio"].to_numpy(dtype=float))
    v = vd.superiority(m, (lo, hi), margin)
    n_cens = int((~part["reached"]).sum())
    if not n_cens:
        return v
    if v.verdict == vd.HOLDS:
        return vd.Verdict(vd.INCONCLUSIVE, v.rule, v.estimate, v.low, v.high, v.margin, v.justification,
                          f"capped at inconclusive: SET never reached the target in {n_cens} of {len(part)} seeds")
    return vd.Verdict(v.verdict, v.rule, v.estimate, v.low, v.high, v.margin, v.justification,
                      f"{n_cens} of {len(part)} seeds censored (enter with an upper bound)")


def topology_verdict(distances: TicketDistances, margin: vd.Margin, *, seed: int = 0) -> vd.Verdict:
    """Non-inferiority of mean SET–SET NNSTD minus the random baseline's mean; the interval is the bootstrap
    over SET networks shifted by the baseline's interval (low minus its upper bound, high minus its lower)."""
    sub = distances.submatrix("SET", "SET")
    base = distances.baseline
    if sub.shape[0] < 3:  # too few networks to resample: no interval, so inconclusive
        est = float(sub[np.triu_indices(sub.shape[0], k=1)].mean()) - base.mean if sub.shape[0] > 1 else math.nan
        return vd.non_inferiority(est, (math.nan, math.nan), margin)
    iv = vd.network_bootstrap_ci(sub, seed=seed)
    return vd.non_inferiority(iv.estimate - base.mean, (iv.low - base.ci[1], iv.high - base.ci[0]), margin)
