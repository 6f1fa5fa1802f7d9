"""Lottery tickets against adaptive sparse connectivity (notebook ``04_lottery_tickets``).

For several seeds, an iterative-magnitude-pruning search
(:func:`sparsetopo.lottery.find_ticket`) finds a ticket at a target density;
its controls (:func:`sparsetopo.lottery.train_controls`) train the ticket's
mask from fresh weights, a random static mask and a SET network, all with
the ticket's exact per-layer edge counts. This module runs the searches in
parallel, tabulates accuracy against training cost for every method,
compares the cost of finding a ticket with the cost of one SET run, and
measures with NNSTD how far apart tickets and SET networks are.

Methods and their cost
----------------------
Each method's cost is everything that had to be trained to obtain its
network, in multiply-accumulates (:mod:`sparsetopo.cost`, sparse ideal) and
in recorded wall seconds:

``dense``
    Round 0 of the search (the dense network).
``IMP ticket``
    The whole search: the dense run plus every pruned round
    (:func:`sparsetopo.cost.lottery_cost`); its accuracy is that of the last
    round, i.e. the ticket trained from its rewound weights.
``ticket mask, re-init``
    The search (to obtain the mask) plus its own training from fresh weights.
``random static``, ``SET``
    Their own training run only.

Cost ratio
----------
``imp_macs / set_macs``: the total MACs of one IMP search divided by the
MACs of the SET control of that search (one SET run at the ticket's
per-layer edge counts, trained as many epochs as one pruned round), per
seed. Whether that SET run is at least as accurate as the ticket is
reported beside it (``set_at_least_ticket``, and ``set_matches_ticket`` with
the tolerance of :data:`MATCH_TOLERANCE`).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import store
from ..cost import lottery_cost, training_cost
from ..lottery import LotteryConfig, Ticket, control_configs, find_ticket, load_ticket, lottery_directory
from ..parallel import show_progress
from ..stats import format_mean_ci, mean_ci
from ..store.config import RunConfig
from .findings import Findings
from .params import StudyParameters, check_int, check_optional, check_real, check_sequence

__all__ = [
    "METHODS",
    "MATCH_TOLERANCE",
    "CONTROL_SEED_OFFSET",
    "lottery_configs",
    "find_tickets",
    "train_ticket_controls",
    "method_table",
    "method_summary",
    "imp_rounds",
    "cost_ratios",
    "reinit_gaps",
    "TicketDistances",
    "ticket_distances",
    "describe_costs",
    "describe_distances",
    "record_findings",
    "Parameters",
    "Result",
    "run",
    "notes",
    "claims",
    "figures",
]

METHODS = ("dense", "IMP ticket", "ticket mask, re-init", "random static", "SET")
#: A network "matches" another when its accuracy is at least the other's minus this.
MATCH_TOLERANCE = 0.005
#: Controls of the search with seed s use seed s + this (their own weights, batches and masks).
CONTROL_SEED_OFFSET = 1000
#: Tickets and SET networks count as "far apart" above this fraction of the random baseline.
FAR_FRACTION = 0.9

_GROUPS = {"ticket": "IMP ticket", "set": "SET", "random_static": "random static"}


def lottery_configs(
    dataset: str,
    hidden: Sequence[int],
    seeds: Sequence[int],
    *,
    target_density: float,
    epochs: int,
    prune_fraction: float = 0.2,
    output_prune_fraction: float | None = None,
    rewind_epoch: int = 0,
    **run_options: Any,
) -> list[LotteryConfig]:
    """One IMP search per seed; the dense run and every round train ``epochs`` epochs.

    ``run_options`` are other :class:`~sparsetopo.store.config.RunConfig` fields
    of the dense base run (``lr``, ``batch_size``, ...).
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list without repeats, got {seeds}")
    return [
        LotteryConfig(
            base=RunConfig(dataset=dataset, hidden=tuple(hidden), method="dense", epochs=int(epochs), seed=s, **run_options),
            prune_fraction=prune_fraction,
            output_prune_fraction=output_prune_fraction,
            target_density=target_density,
            rewind_epoch=rewind_epoch,
            round_epochs=int(epochs),
        )
        for s in seeds
    ]


def _search_quietly(item: tuple[LotteryConfig, str]) -> str:
    config, root = item
    return str(find_ticket(config, root, progress=False).directory)


def find_tickets(
    configs: Sequence[LotteryConfig],
    root: str | os.PathLike | None = None,
    *,
    n_jobs: int = 1,
) -> list[Ticket]:
    """Run (or read back) one search per config, ``n_jobs`` searches at a time.

    A search's rounds are sequential, so the parallelism is over seeds; each
    worker uses one torch thread. Finished searches are only read back.
    """
    from ..parallel import parallel_map
    from ..store.runs import runs_root

    configs = list(configs)
    root = str(runs_root(root))
    todo = [c for c in configs if not _complete(c, root)]
    parallel_map(_search_quietly, [(c, root) for c in todo], n_jobs=n_jobs, desc="IMP searches")
    return [load_ticket(lottery_directory(c, root)) for c in configs]


def _complete(config: LotteryConfig, root) -> bool:
    directory = lottery_directory(config, root)
    try:
        return load_ticket(directory).complete
    except FileNotFoundError:
        return False


def train_ticket_controls(
    tickets: Sequence[Ticket],
    root: str | os.PathLike | None = None,
    *,
    n_jobs: int = 1,
    zeta: float = 0.3,
    seed_offset: int = CONTROL_SEED_OFFSET,
    epochs: int | None = None,
) -> list[dict[str, store.Run]]:
    """Train the three controls of every ticket (one sweep); return them per ticket.

    The controls of the search with seed ``s`` use seed ``s + seed_offset``
    so that none shares weights or masks with another search. ``epochs``
    (default: as every IMP round) is what each control trains.
    """
    per_ticket = [control_configs(t, seed=t.config.base.seed + seed_offset, zeta=zeta, epochs=epochs) for t in tickets]
    store.sweep([c for cfgs in per_ticket for c in cfgs.values()], n_jobs=n_jobs, root=root, progress=show_progress())
    return [{name: store.load_run(store.run_directory(c, root)) for name, c in cfgs.items()} for cfgs in per_ticket]


def _row(seed: int, method: str, run: store.Run, cost, total_weights: int) -> dict[str, Any]:
    widths = run.summary["widths"]
    edges = [int(e) for e in run.summary["edges"]]
    hidden_size = sum(widths[k] * widths[k + 1] for k in range(len(widths) - 2))
    return {
        "seed": seed,
        "method": method,
        "test_acc": run.final_test_acc,
        "best_test_acc": float(run.summary["best_test_acc"]),
        "macs": float(cost.macs),
        "wall_seconds": float(cost.wall_seconds),
        "epochs_trained": int(cost.epochs),
        "n_weights": sum(edges),
        "density_pct": 100.0 * sum(edges) / total_weights,
        "hidden_density": sum(edges[:-1]) / hidden_size,
    }


def method_table(tickets: Sequence[Ticket], controls: Sequence[dict[str, store.Run]]) -> pd.DataFrame:
    """Accuracy and cost of every method for every seed (see the module docstring).

    Returns
    -------
    DataFrame
        One row per seed and method: ``seed, method, test_acc,
        best_test_acc, macs, wall_seconds, epochs_trained, n_weights,
        density_pct, hidden_density``.
    """
    if len(tickets) != len(controls):
        raise ValueError(f"got {len(tickets)} tickets but {len(controls)} sets of controls; give one per ticket")
    rows = []
    for ticket, ctrl in zip(tickets, controls):
        if not ticket.complete:
            raise ValueError(f"the search in {ticket.directory.name} is not complete; finish it with find_ticket")
        seed = ticket.config.base.seed
        w = ticket.widths
        total = sum(w[k] * w[k + 1] for k in range(len(w) - 1))
        search = lottery_cost(ticket)
        rows.append(_row(seed, "dense", ticket.rounds[0], training_cost(ticket.rounds[0]), total))
        rows.append(_row(seed, "IMP ticket", ticket.run, search, total))
        rows.append(_row(seed, "ticket mask, re-init", ctrl["reinit"], search + training_cost(ctrl["reinit"]), total))
        rows.append(_row(seed, "random static", ctrl["random_static"], training_cost(ctrl["random_static"]), total))
        rows.append(_row(seed, "SET", ctrl["set"], training_cost(ctrl["set"]), total))
    return pd.DataFrame(rows)


def method_summary(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and confidence interval over seeds of accuracy, MACs and wall time, per method."""
    rows = []
    for method in [m for m in METHODS if m in set(table["method"])]:
        part = table[table["method"] == method]
        row: dict[str, Any] = {"method": method, "n_seeds": len(part), "density_pct": part["density_pct"].mean()}
        for col, name in (("test_acc", "acc"), ("macs", "macs"), ("wall_seconds", "seconds")):
            m, lo, hi = mean_ci(part[col].to_numpy(), confidence)
            row.update({f"{name}_mean": m, f"{name}_low": lo, f"{name}_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def imp_rounds(tickets: Sequence[Ticket]) -> pd.DataFrame:
    """Every round of every search: density, accuracy and cumulative cost.

    Columns: ``seed, round, density_pct`` (all weights), ``hidden_density``,
    ``test_acc, macs`` (this round), ``cumulative_macs``.
    """
    rows = []
    for ticket in tickets:
        w = ticket.widths
        sizes = [w[k] * w[k + 1] for k in range(len(w) - 1)]
        cumulative = 0.0
        for r, run in enumerate(ticket.rounds):
            edges = run.summary["edges"]
            macs = float(training_cost(run).macs)
            cumulative += macs
            rows.append(
                {
                    "seed": ticket.config.base.seed,
                    "round": r,
                    "density_pct": 100.0 * sum(edges) / sum(sizes),
                    "hidden_density": sum(edges[:-1]) / sum(sizes[:-1]),
                    "test_acc": run.final_test_acc,
                    "macs": macs,
                    "cumulative_macs": cumulative,
                }
            )
    return pd.DataFrame(rows)


def cost_ratios(table: pd.DataFrame, *, tolerance: float = MATCH_TOLERANCE) -> pd.DataFrame:
    """Cost of one IMP search over the cost of the SET control of that search, per seed.

    Returns
    -------
    DataFrame
        ``seed, imp_macs, set_macs, macs_ratio, imp_seconds, set_seconds,
        seconds_ratio, ticket_acc, set_acc, set_minus_ticket,
        set_at_least_ticket`` (SET accuracy >= ticket accuracy) and
        ``set_matches_ticket`` (>= ticket - ``tolerance``).
    """
    rows = []
    for seed, part in table.groupby("seed", sort=True):
        by = part.set_index("method")
        imp, set_ = by.loc["IMP ticket"], by.loc["SET"]
        rows.append(
            {
                "seed": seed,
                "imp_macs": imp["macs"],
                "set_macs": set_["macs"],
                "macs_ratio": imp["macs"] / set_["macs"],
                "imp_seconds": imp["wall_seconds"],
                "set_seconds": set_["wall_seconds"],
                "seconds_ratio": imp["wall_seconds"] / set_["wall_seconds"],
                "ticket_acc": imp["test_acc"],
                "set_acc": set_["test_acc"],
                "set_minus_ticket": set_["test_acc"] - imp["test_acc"],
                "set_at_least_ticket": bool(set_["test_acc"] >= imp["test_acc"]),
                "set_matches_ticket": bool(set_["test_acc"] >= imp["test_acc"] - tolerance),
            }
        )
    return pd.DataFrame(rows)


def reinit_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """Per seed: ticket accuracy minus the accuracy of its mask from fresh weights,
    and minus that of a random static mask."""
    wide = table.pivot(index="seed", columns="method", values="test_acc")
    return pd.DataFrame(
        {
            "seed": wide.index,
            "ticket_minus_reinit": (wide["IMP ticket"] - wide["ticket mask, re-init"]).to_numpy(),
            "ticket_minus_random_static": (wide["IMP ticket"] - wide["random static"]).to_numpy(),
            "ticket_minus_set": (wide["IMP ticket"] - wide["SET"]).to_numpy(),
        }
    ).reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class TicketDistances:
    """NNSTD among tickets, SET networks and random static masks.

    Attributes
    ----------
    matrix : DistanceMatrix
        Networks grouped (tickets, then SET, then random static), seeds within.
    groups : tuple of str
        Group of each network in matrix order.
    seeds : tuple of int
        Seed of the search each network belongs to.
    baseline : Calibration
        NNSTD between independent random topologies with the ticket's
        per-layer edge counts (every network here has them).
    blocks : DataFrame
        One row per pair of groups: ``block`` (``"a – b"``), ``group_a,
        group_b, n_pairs, nnstd_mean, nnstd_min, nnstd_max, ratio`` (to the
        baseline mean) and the baseline's ``random_mean, random_low,
        random_high``; within a group only different seeds are paired.
    coords : np.ndarray
        ``(n_networks, 2)`` metric MDS embedding of ``matrix.mean``.
    """

    matrix: Any
    groups: tuple
    seeds: tuple
    baseline: Any
    blocks: pd.DataFrame
    coords: np.ndarray

    def block_mean(self, a: str, b: str) -> float:
        row = self.blocks[((self.blocks["group_a"] == a) & (self.blocks["group_b"] == b))
                          | ((self.blocks["group_a"] == b) & (self.blocks["group_b"] == a))]
        return float(row["nnstd_mean"].iloc[0]) if len(row) else math.nan


def ticket_distances(
    tickets: Sequence[Ticket],
    controls: Sequence[dict[str, store.Run]],
    *,
    include_static: bool = True,
    baseline_pairs: int = 10,
    seed: int = 0,
    n_jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
) -> TicketDistances:
    """Pairwise NNSTD of tickets, final SET topologies and (optionally) random static masks.

    The random static control of a search is also the SET control's
    starting topology (same seed), so SET–static pairs of the same seed
    show how far SET moved its network.
    """
    from ..nnstd.pairwise import mds_embedding, pairwise_nnstd, random_baseline

    topologies, labels, groups, seeds = [], [], [], []
    members = [("ticket", lambda t, c: t.masks), ("set", lambda t, c: c["set"].topology())]
    if include_static:
        members.append(("random_static", lambda t, c: c["random_static"].topology()))
    for key, get in members:
        for ticket, ctrl in zip(tickets, controls):
            s = ticket.config.base.seed
            topologies.append(get(ticket, ctrl))
            labels.append(f"{_GROUPS[key]} s{s}")
            groups.append(_GROUPS[key])
            seeds.append(s)
    matrix = pairwise_nnstd(topologies, labels=labels, n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir)
    baseline = random_baseline(tickets[0].masks, n_pairs=baseline_pairs, seed=seed, n_jobs=n_jobs,
                               progress=show_progress(), cache_dir=cache_dir)
    g = np.array(groups)
    names = list(dict.fromkeys(groups))
    rows = []
    for a, b in itertools.combinations_with_replacement(names, 2):
        ia, ib = np.flatnonzero(g == a), np.flatnonzero(g == b)
        values = [matrix.mean[i, j] for i in ia for j in ib if (a != b or i < j)]
        rows.append(
            {
                "block": f"{a} – {b}",
                "group_a": a,
                "group_b": b,
                "n_pairs": len(values),
                "nnstd_mean": float(np.mean(values)) if values else math.nan,
                "nnstd_min": float(np.min(values)) if values else math.nan,
                "nnstd_max": float(np.max(values)) if values else math.nan,
                "ratio": float(np.mean(values)) / baseline.mean if values and baseline.mean > 0 else math.nan,
                "random_mean": baseline.mean,
                "random_low": baseline.ci[0],
                "random_high": baseline.ci[1],
            }
        )
    return TicketDistances(matrix=matrix, groups=tuple(groups), seeds=tuple(seeds), baseline=baseline,
                           blocks=pd.DataFrame(rows), coords=mds_embedding(matrix.mean, seed=seed))


def describe_costs(ratios: pd.DataFrame) -> str:
    """A sentence on the cost of a ticket against one SET run, computed from :func:`cost_ratios`."""
    m, lo, hi = mean_ci(ratios["macs_ratio"])
    ms, los, his = mean_ci(ratios["seconds_ratio"])
    n_ok = int(ratios["set_at_least_ticket"].sum())
    return (
        f"One IMP search costs {m:.1f}x [{lo:.1f}, {hi:.1f}] the MACs of one SET run at the ticket's density "
        f"({ms:.1f}x [{los:.1f}, {his:.1f}] in wall time); that SET run is at least as accurate as the ticket "
        f"for {n_ok} of {len(ratios)} seeds (mean SET − ticket accuracy {ratios['set_minus_ticket'].mean():+.4f})."
    )


def describe_distances(distances: TicketDistances) -> str:
    """A sentence on the block means of the NNSTD matrix against the random baseline."""
    b = distances.blocks
    parts = [f"{a}–{c}: {n:.3f} ({r:.2f}x)" for a, c, n, r in zip(b["group_a"], b["group_b"], b["nnstd_mean"], b["ratio"])]
    return f"Mean NNSTD by block (times the random baseline {distances.baseline.mean:.3f}): " + "; ".join(parts) + "."


def record_findings(
    findings: Findings,
    table: pd.DataFrame,
    ratios: pd.DataFrame,
    gaps: pd.DataFrame,
    distances: TicketDistances,
    *,
    tolerance: float = MATCH_TOLERANCE,
) -> pd.DataFrame:
    """Add the notebook's claims, each measured from the run; return the findings table."""
    m_ratio = float(ratios["macs_ratio"].mean())
    set_acc = table.loc[table["method"] == "SET", "test_acc"]
    ticket_acc = table.loc[table["method"] == "IMP ticket", "test_acc"]
    set_matches = bool(set_acc.mean() >= ticket_acc.mean() - tolerance)
    findings.claim(
        "Cost of finding a ticket, in training MACs of one SET run of equal or better accuracy",
        measured=m_ratio,
        holds=bool(m_ratio > 1 and set_matches),
        spread=format_mean_ci(ratios["macs_ratio"].tolist(), digits=2)
        + f"; wall-time ratio {format_mean_ci(ratios['seconds_ratio'].tolist(), digits=2)}",
        detail="total MACs of the IMP search (dense run + every pruned round) / MACs of the SET control run at the "
        f"ticket's per-layer edge counts, mean over seeds; holds when > 1 and mean SET accuracy >= mean ticket "
        f"accuracy - {tolerance}",
    )
    findings.claim(
        "SET at the ticket's density is at least as accurate as the ticket (SET - ticket accuracy)",
        measured=float(ratios["set_minus_ticket"].mean()),
        holds=set_matches,
        spread=format_mean_ci(ratios["set_minus_ticket"].tolist())
        + f"; SET >= ticket for {int(ratios['set_at_least_ticket'].sum())} of {len(ratios)} seeds",
        detail=f"mean over seeds of SET control accuracy minus ticket accuracy (final epoch); holds when >= -{tolerance}",
    )
    ts = distances.block_mean("IMP ticket", "SET") / distances.baseline.mean
    findings.claim(
        "Tickets and SET networks are topologically far apart (ticket-SET NNSTD / random baseline)",
        measured=ts,
        holds=bool(ts >= FAR_FRACTION),
        spread=f"ticket-SET NNSTD {distances.block_mean('IMP ticket', 'SET'):.3f}, ticket-ticket "
        f"{distances.block_mean('IMP ticket', 'IMP ticket'):.3f}, SET-SET {distances.block_mean('SET', 'SET'):.3f}, "
        f"random baseline {distances.baseline.mean:.3f} [{distances.baseline.ci[0]:.3f}, {distances.baseline.ci[1]:.3f}]",
        detail=f"mean NNSTD over ticket-SET pairs divided by the mean NNSTD of independent random topologies with the "
        f"same edge counts; holds when >= {FAR_FRACTION}",
    )
    tt = distances.block_mean("IMP ticket", "IMP ticket") / distances.baseline.mean
    findings.claim(
        "Many very different sub-networks reach good accuracy (ticket-ticket NNSTD / random baseline)",
        measured=tt,
        holds=bool(ts >= FAR_FRACTION and tt >= FAR_FRACTION and set_matches),
        spread=f"SET-SET / baseline {distances.block_mean('SET', 'SET') / distances.baseline.mean:.2f}",
        detail=f"tickets of different seeds compared with NNSTD, over the random baseline; holds when ticket-ticket and "
        f"ticket-SET ratios are >= {FAR_FRACTION} and SET matches the ticket's accuracy",
    )
    gap = gaps["ticket_minus_reinit"].tolist()
    _, lo, _ = mean_ci(gap)
    findings.claim(
        "A ticket beats its own mask re-initialised at random (accuracy gap)",
        measured=float(np.mean(gap)),
        holds=bool(lo > 0),
        spread=format_mean_ci(gap),
        detail="ticket minus re-initialised-mask final test accuracy, mean and 95% CI over seeds; holds when the CI is above 0",
    )
    rs = gaps["ticket_minus_random_static"].tolist()
    _, lo_rs, _ = mean_ci(rs)
    findings.claim(
        "A ticket beats a random static mask of the same size (accuracy gap)",
        measured=float(np.mean(rs)),
        holds=bool(lo_rs > 0),
        spread=format_mean_ci(rs),
        detail="ticket minus random-static final test accuracy, mean and 95% CI over seeds; holds when the CI is above 0",
    )
    return findings.table()


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``04_lottery_tickets`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    hidden : hidden widths.
    seeds : one IMP search per seed (distinct, >= 0; searches run ``n_jobs`` at a time).
    target_density : final density of every hidden layer, in (0, 1).
    prune_fraction : share of the remaining hidden weights pruned per round, in (0, 1).
    output_prune_fraction : the output layer's share, in [0, 1), or ``None`` for half of ``prune_fraction``.
    rewind_epoch : epoch the survivors are rewound to (0: the initial weights).
    epochs : epochs of the dense run and of every IMP round.
    control_epochs : epochs of each control, or ``None`` for ``epochs``.
    lr, batch_size : training of every run; zeta : SET's rewired fraction, in (0, 1).
    match_tolerance : network A matches B when its accuracy is at least B's minus this (>= 0).
    baseline_pairs : random topology pairs for the NNSTD baseline (>= 2).
    """

    figures_dir: str = "../figures/04_lottery_tickets"
    hidden: tuple = (256, 256)
    seeds: tuple = (0, 1, 2, 3)
    target_density: float = 0.1
    prune_fraction: float = 0.2
    output_prune_fraction: float | None = None
    rewind_epoch: int = 0
    epochs: int = 10
    control_epochs: int | None = 30
    lr: float = 0.01
    batch_size: int = 128
    zeta: float = 0.3
    match_tolerance: float = MATCH_TOLERANCE
    baseline_pairs: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction = dict(minimum=0, exclusive_minimum=True, maximum=1)
        self._set("hidden", check_sequence("hidden", self.hidden, lambda n, v: check_int(n, v, minimum=1)))
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), unique=True))
        self._set("target_density", check_real("target_density", self.target_density, **fraction))
        self._set("prune_fraction", check_real("prune_fraction", self.prune_fraction, **fraction))
        self._set("output_prune_fraction", check_optional("output_prune_fraction", self.output_prune_fraction,
                                                          lambda n, v: check_real(n, v, minimum=0, maximum=1)))
        self._set("rewind_epoch", check_int("rewind_epoch", self.rewind_epoch, minimum=0))
        self._set("epochs", check_int("epochs", self.epochs, minimum=1))
        self._set("control_epochs", check_optional("control_epochs", self.control_epochs,
                                                   lambda n, v: check_int(n, v, minimum=1)))
        self._set("lr", check_real("lr", self.lr, minimum=0, exclusive_minimum=True))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("zeta", check_real("zeta", self.zeta, **fraction))
        self._set("match_tolerance", check_real("match_tolerance", self.match_tolerance, minimum=0))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        if self.rewind_epoch >= self.epochs:
            raise ValueError(f"parameter rewind_epoch must be < epochs ({self.epochs}), got {self.rewind_epoch}")


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``04_lottery_tickets`` computed (see :func:`run`).

    Attributes
    ----------
    params : the parameters; widths : layer widths; description : the dataset in one line.
    configs : :func:`lottery_configs`; schedule : edges per layer in every round (rows: rounds).
    tickets : :func:`find_tickets`; controls : :func:`train_ticket_controls`.
    runs : :func:`method_table`; summary : :func:`method_summary`; rounds : :func:`imp_rounds`.
    ratios : :func:`cost_ratios`; gaps : :func:`reinit_gaps`; distances : :func:`ticket_distances`.
    """

    params: Parameters
    widths: list
    description: str
    configs: list
    schedule: pd.DataFrame
    tickets: list
    controls: list
    runs: pd.DataFrame
    summary: pd.DataFrame
    rounds: pd.DataFrame
    ratios: pd.DataFrame
    gaps: pd.DataFrame
    distances: TicketDistances


def run(params: Parameters) -> Result:
    """Run (or read back) the IMP searches and their controls, then costs, gaps and distances."""
    from ..data import load_dataset
    from ..lottery import pruning_schedule

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be lottery_tickets.Parameters, got {type(params).__name__}")
    p = params
    data = load_dataset(p.dataset)
    widths = data.widths(p.hidden)
    configs = lottery_configs(p.dataset, list(p.hidden), list(p.seeds), target_density=p.target_density,
                              epochs=p.epochs, prune_fraction=p.prune_fraction,
                              output_prune_fraction=p.output_prune_fraction, rewind_epoch=p.rewind_epoch, lr=p.lr,
                              batch_size=p.batch_size)
    schedule = pd.DataFrame(pruning_schedule(configs[0], widths), columns=[f"layer {k}" for k in range(len(widths) - 1)])
    schedule.index.name = "round"
    tickets = find_tickets(configs, root=p.runs_root, n_jobs=p.n_jobs)
    controls = train_ticket_controls(tickets, root=p.runs_root, n_jobs=p.n_jobs, zeta=p.zeta, epochs=p.control_epochs)
    runs = method_table(tickets, controls)
    distances = ticket_distances(tickets, controls, baseline_pairs=p.baseline_pairs, n_jobs=p.n_jobs,
                                 cache_dir=p.cache_dir)
    return Result(params=p, widths=widths, description=data.describe(), configs=configs, schedule=schedule,
                  tickets=tickets, controls=controls, runs=runs, summary=method_summary(runs),
                  rounds=imp_rounds(tickets), ratios=cost_ratios(runs, tolerance=p.match_tolerance),
                  gaps=reinit_gaps(runs), distances=distances)


def notes(result: Result) -> dict[str, str]:
    """Sentences of measured numbers for the notebook (keys ``"data"``, ``"schedule"``, ``"costs"``,
    ``"distances"``)."""
    p = result.params
    return {
        "data": result.description,
        "schedule": f"{result.configs[0].n_rounds} pruned rounds of {p.epochs} epochs after a dense run of {p.epochs} "
                    f"epochs, {len(p.seeds)} seeds; controls train {p.control_epochs or p.epochs} epochs",
        "costs": describe_costs(result.ratios),
        "distances": describe_distances(result.distances),
    }


def claims(result: Result) -> Findings:
    """The findings of notebook ``04_lottery_tickets`` (claims by :func:`record_findings`'s rules, and the
    numbers behind every figure); the parameters recorded are ``result.params``."""
    r, p = result, result.params
    findings = Findings("04_lottery_tickets", p.figures_dir, parameters=p.as_dict())
    d = r.distances
    findings.add_data("imp_rounds", r.rounds)
    findings.add_data("accuracy_vs_cost", r.runs)
    findings.add_data("method_summary", r.summary)
    findings.add_data("cost_ratios", r.ratios)
    findings.add_data("nnstd_matrix", d.matrix.frame())
    findings.add_data("nnstd_blocks", d.blocks)
    findings.add_data("nnstd_embedding", pd.DataFrame({"label": d.matrix.labels, "group": d.groups,
                                                       "x": d.coords[:, 0], "y": d.coords[:, 1]}))
    findings.add_data("accuracy_gaps", r.gaps)
    record_findings(findings, r.runs, r.ratios, r.gaps, d, tolerance=p.match_tolerance)
    return findings


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``04_lottery_tickets`` by name (closed: show with ``display``):
    ``imp_rounds``, ``accuracy_vs_cost``, ``nnstd_matrix``, ``nnstd_embedding``."""
    import matplotlib.pyplot as plt

    from . import figures as plots

    r, p, out = result, result.params, {}
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    plots.imp_trajectory(r.rounds, r.runs, order=METHODS, ax=ax,
                         title=f"{p.dataset}: accuracy through the IMP rounds, and the controls")
    out["imp_rounds"] = fig
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    plots.cost_scatter(r.runs, "macs", order=METHODS, ax=axes[0], ylabel="final test accuracy",
                       xlabel="training cost (multiply-accumulates, log scale)",
                       title="accuracy vs MACs to obtain the network")
    threads = "one CPU thread per run" if p.n_jobs > 1 else "one process"
    plots.cost_scatter(r.runs, "wall_seconds", order=METHODS, ax=axes[1], legend=False, ylabel="", plain_ticks=True,
                       xlabel=f"training wall time (s, {threads}, log scale)",
                       title="accuracy vs wall time to obtain the network")
    fig.tight_layout()
    out["accuracy_vs_cost"] = fig
    d = r.distances
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.3), gridspec_kw={"width_ratios": [1.25, 1]})
    plots.block_heatmap(d.matrix.mean, d.groups, labels=d.matrix.labels, ax=axes[0], title="NNSTD between networks",
                        cbar_label="NNSTD (mean over layers)")
    plots.distance_vs_baseline(d.blocks, x="block", logx=False, ax=axes[1], xlabel="pair of groups",
                               label="mean over pairs (bars: min-max)", title="block means vs random topologies")
    fig.tight_layout()
    out["nnstd_matrix"] = fig
    fig, ax = plt.subplots(figsize=(7, 6))
    plots.embedding_scatter(d.coords, d.groups, labels=[f"s{s}" for s in d.seeds], ax=ax, order=METHODS,
                            title=f"MDS of the NNSTD matrix (random baseline: {d.baseline.mean:.3f})")
    out["nnstd_embedding"] = fig
    for fig in out.values():
        plt.close(fig)
    return out
