"""Lottery tickets against adaptive sparse connectivity (notebook ``04_lottery_tickets``).

The paper's claim: adaptive sparse connectivity (SET) finds sub-networks as
good as a lottery ticket, many and very different ones, far more cheaply than
iterative magnitude pruning (IMP). For several seeds, an IMP search
(:func:`sparsetopo.lottery.find_ticket`) finds a ticket at a target density;
beside it this module trains, all at the ticket's exact per-layer edge counts:

``dense``
    Round 0 of the search (the dense network), ``epochs`` epochs.
``IMP ticket``
    The search's last round: the ticket's mask trained ``epochs`` epochs from
    its rewound weights (the dense initialisation, masked).
``ticket mask, re-init`` and ``random static``
    Frankle & Carbin's controls: the ticket's mask from fresh weights, and a
    random mask, both drawn from the *same* initial distribution as the ticket
    (``RunConfig(weight_init="dense")``: the dense initialisation, masked) and
    trained as many epochs as the ticket.
``SET, b epochs``
    SET from a random mask, output layer never rewired
    (``rewire_output=False``), same initial distribution, at several budgets
    ``b``: ``epochs`` (equal epochs), the ``set_epochs`` of the profile, and
    the budget whose training MACs equal those of the whole IMP search
    (:func:`imp_equal_epochs`).

Every run uses the same optimizer, learning-rate schedule, batch size and
training subset. Accuracy is the mean test accuracy of the last
:data:`LAST_K` epochs of a run (final and best are reported too); a run has
converged when that mean moved by less than :data:`CONVERGENCE_THRESHOLD`
from the :data:`LAST_K` epochs before (:func:`sparsetopo.study.verdicts.convergence`).

Cost is the training multiply-accumulates (:mod:`sparsetopo.cost`, sparse
ideal): a ticket costs its whole search; SET costs its own run. The MACs SET
needs to reach an accuracy are read from its learning curves
(:func:`reach_costs`). Topology is measured with NNSTD against independent
random graphs with the same edge counts; output neurons stay fixed (matched
to themselves) whenever the output layer is sparse.

Seeds: the search with seed ``s`` trains its dense run and rounds with seed
``s``; its controls use seed ``s +`` :data:`CONTROL_SEED_OFFSET` (their own
weights, batches and masks). The random static mask and the SET runs of one
search share that seed, so every SET run of a search starts from that search's
random static mask (by design: the SET–static pairs of one seed show how far
SET moved); runs of different searches are independent.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from .. import store
from ..cost import lottery_cost, training_cost
from ..lottery import LotteryConfig, Ticket, find_ticket, load_ticket, lottery_directory, pruning_schedule
from ..parallel import parallel_map, show_progress
from ..stats import mean_ci
from ..store.config import RunConfig
from . import verdicts as vd
from .findings import Findings
from .params import StudyParameters, check_int, check_optional, check_real, check_sequence, check_str

__all__ = [
    "LAST_K",
    "CONVERGENCE_THRESHOLD",
    "CONTROL_SEED_OFFSET",
    "FIXED_ARMS",
    "lottery_configs",
    "imp_equal_epochs",
    "set_budgets",
    "control_run_configs",
    "run_all",
    "initial_weight_scales",
    "arm_table",
    "arm_summary",
    "convergence_report",
    "imp_rounds",
    "reach_costs",
    "TicketDistances",
    "ticket_distances",
    "set_label",
    "joint_verdict",
    "cost_verdict",
    "record_findings",
    "Parameters",
    "Result",
    "run",
    "rules",
    "notes",
    "captions",
    "claims",
    "figures",
    "discussion",
]

#: Accuracy of a run: mean test accuracy of its last LAST_K epochs.
LAST_K = 5
#: A run converged when its last-LAST_K mean moved by less than this (0.1 point) from the LAST_K before.
CONVERGENCE_THRESHOLD = 0.001
#: Controls of the search with seed s use seed s + this (their own weights, batches and masks).
CONTROL_SEED_OFFSET = 1000
#: The arms at the ticket's size that train as many epochs as the ticket (besides the SET budgets).
FIXED_ARMS = ("dense", "IMP ticket", "ticket mask, re-init", "random static")

_GROUPS = {"ticket": "IMP ticket", "set": "SET", "random_static": "random static"}


def set_label(epochs: int, imp_equal: bool = False) -> str:
    """Name of the SET arm trained ``epochs`` epochs (``imp_equal``: the one with the IMP search's MACs)."""
    return f"SET, {int(epochs)} epochs" + (" (IMP's MACs)" if imp_equal else "")


# ---------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------


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
    of the dense base run (``lr``, ``batch_size``, ``train_samples``, ...);
    every round and control inherits them.
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


def imp_equal_epochs(config: LotteryConfig, widths: Sequence[int]) -> int:
    """SET epochs at the ticket's edge counts whose training MACs reach those of the whole IMP search.

    Every epoch of a run with ``e`` edges costs ``3 e n_train`` MACs
    (:mod:`sparsetopo.cost`), so the search (dense run and every round, each
    ``round_epochs`` epochs, the schedule's edge counts) costs as much as
    ``ceil(sum over rounds of epochs x edges / ticket edges)`` SET epochs, whatever
    ``n_train``. With global pruning the per-layer split varies but the total
    does not.
    """
    schedule = pruning_schedule(config, widths)
    ticket = sum(schedule[-1])
    total = config.base.epochs * sum(schedule[0]) + config.round_epochs * sum(sum(r) for r in schedule[1:])
    return int(math.ceil(total / ticket - 1e-9))


def set_budgets(epochs: int, set_epochs: Sequence[int], equal: int) -> list[int]:
    """The SET budgets in epochs: ``epochs`` (equal epochs), ``set_epochs`` and ``equal`` (IMP's MACs), sorted."""
    return sorted({int(epochs), *[int(b) for b in set_epochs], int(equal)})


def _control_base(config: LotteryConfig, seed: int) -> RunConfig:
    # the dense initialisation, masked: the distribution the ticket's rewound weights come from
    return config.base.replace(seed=int(seed), topology_seed=None, weight_init="dense")


def control_run_configs(
    config: LotteryConfig,
    widths: Sequence[int],
    *,
    seed: int,
    zeta: float,
    set_epochs: Sequence[int],
    ticket: Ticket | None = None,
) -> dict[str, RunConfig]:
    """RunConfigs of the controls of one search, at the ticket's per-layer edge counts.

    With per-layer pruning the ticket's edge counts are the schedule's last
    row, known before the search runs, so the random static and SET runs can
    train beside the search; the re-initialised ticket needs the ticket's mask
    (``ticket``) and is left out without it.

    Returns
    -------
    dict
        ``"random_static"``, ``("set", b)`` for every budget ``b`` in
        ``set_epochs`` and, given ``ticket``, ``"reinit"``. Every control uses
        ``weight_init="dense"`` (the ticket's initial distribution), seed
        ``seed`` and the search's optimizer, schedule and training subset;
        the static controls train ``round_epochs`` epochs; SET never rewires
        the output layer.
    """
    if config.global_pruning:
        raise ValueError("global pruning fixes only the total edge count in advance; the controls need per-layer "
                         "counts, so use per-layer pruning (global_pruning=False)")
    edges = tuple(pruning_schedule(config, widths)[-1])
    base = _control_base(config, seed).replace(epochs=config.round_epochs)
    out: dict[Any, RunConfig] = {"random_static": base.replace(method="static", layer_edges=edges)}
    for b in set_epochs:
        out[("set", int(b))] = base.replace(method="set", layer_edges=edges, zeta=zeta, rewire_output=False,
                                            epochs=int(b))
    if ticket is not None:
        if tuple(ticket.layer_edges) != edges:
            raise ValueError(f"the ticket has edges {ticket.layer_edges} but the schedule planned {edges}")
        if not ticket.mask_path.exists():
            raise FileNotFoundError(f"{ticket.mask_path} is missing; finish the search with find_ticket")
        out["reinit"] = base.replace(method="static", initial_topology=str(ticket.mask_path.resolve()))
    return out


def _work(item: tuple) -> str:
    kind, config, root = item
    if kind == "imp":
        return str(find_ticket(config, root, progress=False).directory)
    return str(store.train(config, root=root, progress=False).directory)


def _macs_weight(item: tuple, widths: Sequence[int]) -> float:
    """Planned training work of a task (edges x epochs), to start the longest first."""
    kind, config, _ = item
    if kind == "imp":
        s = pruning_schedule(config, widths)
        return float(config.base.epochs * sum(s[0]) + config.round_epochs * sum(sum(r) for r in s[1:]))
    return float(config.epochs * sum(config.layer_edges))


def run_all(
    configs: Sequence[LotteryConfig],
    widths: Sequence[int],
    root: str | os.PathLike | None = None,
    *,
    n_jobs: int = 1,
    zeta: float = 0.3,
    set_epochs: Sequence[int] = (),
    seed_offset: int = CONTROL_SEED_OFFSET,
) -> tuple[list[Ticket], list[dict[Any, store.Run]]]:
    """Run (or read back) every search and its controls; return the tickets and their controls.

    The searches, random static and SET runs go to one pool, the longest
    first, so that ``n_jobs`` workers stay busy; the re-initialised tickets
    follow once their masks exist. Finished work is only read back.
    """
    from ..store.runs import runs_root

    root = str(runs_root(root))
    configs = list(configs)
    controls = [control_run_configs(c, widths, seed=c.base.seed + seed_offset, zeta=zeta, set_epochs=set_epochs)
                for c in configs]
    items = [("imp", c, root) for c in configs if not _complete(c, root)]
    items += [("run", rc, root) for ctrl in controls for rc in ctrl.values()
              if not store.is_complete(store.run_directory(rc, root))]
    items.sort(key=lambda it: -_macs_weight(it, widths))
    parallel_map(_work, items, n_jobs=n_jobs, desc="IMP searches and controls", progress=show_progress())
    tickets = [load_ticket(lottery_directory(c, root)) for c in configs]
    reinit = [control_run_configs(c, widths, seed=c.base.seed + seed_offset, zeta=zeta, set_epochs=(), ticket=t)["reinit"]
              for c, t in zip(configs, tickets)]
    todo = [("run", rc, root) for rc in reinit if not store.is_complete(store.run_directory(rc, root))]
    parallel_map(_work, todo, n_jobs=n_jobs, desc="re-initialised tickets", progress=show_progress())
    runs = []
    for ctrl, rc in zip(controls, reinit):
        loaded = {key: store.load_run(store.run_directory(cfg, root)) for key, cfg in ctrl.items()}
        loaded["reinit"] = store.load_run(store.run_directory(rc, root))
        runs.append(loaded)
    return tickets, runs


def _complete(config: LotteryConfig, root) -> bool:
    try:
        return load_ticket(lottery_directory(config, root)).complete
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------


def initial_weight_scales(tickets: Sequence[Ticket], controls: Sequence[dict]) -> pd.DataFrame:
    """Standard deviation of the present initial weights, per seed, arm and layer.

    The ticket's are its rewound weights on its mask; the controls' their
    ``weights/init.pt``. ``dense_init_sd`` is the SD of the dense
    initialisation the ticket was drawn from, ``U(±1/sqrt(n_in))``, i.e.
    ``1/sqrt(3 n_in)``. The ticket's survivors were selected by their trained
    magnitude, which correlates with their initial one, so the ticket's SD
    lies somewhat above that of the distribution it was drawn from: the
    like-for-like reference is the SD of all the weights the ticket was
    rewound from (``ratio_to_rewind_source``). Columns: ``seed, arm, layer,
    n_weights, init_sd, dense_init_sd, ratio_to_dense_init,
    ratio_to_rewind_source, ratio_to_ticket``.
    """
    rows = []
    for ticket, ctrl in zip(tickets, controls):
        states = {"IMP ticket": ticket.rewind_state, "ticket mask, re-init": ctrl["reinit"].state_dict("init"),
                  "random static": ctrl["random_static"].state_dict("init")}
        set_keys = sorted(k for k in ctrl if isinstance(k, tuple))
        if set_keys:
            states["SET"] = ctrl[set_keys[0]].state_dict("init")
        n_layers = len(ticket.widths) - 1
        r = ticket.config.rewind_epoch
        source = ticket.rounds[0].state_dict("init" if r == 0 else f"epoch_{r:03d}")
        source_sd = [float(source[f"layers.{k}.weight"].numpy().std()) for k in range(n_layers)]
        ticket_sd = None
        for arm, state in states.items():
            sds = []
            for k in range(n_layers):
                w = state[f"layers.{k}.weight"].numpy()
                present = w[state[f"layers.{k}.mask"].numpy().astype(bool)]
                sds.append((present.size, float(present.std())))
            if arm == "IMP ticket":
                ticket_sd = [sd for _, sd in sds]
            for k, (n, sd) in enumerate(sds):
                ref = 1.0 / math.sqrt(3.0 * ticket.widths[k])
                rows.append({"seed": ticket.config.base.seed, "arm": arm, "layer": k, "n_weights": n, "init_sd": sd,
                             "dense_init_sd": ref, "ratio_to_dense_init": sd / ref,
                             "ratio_to_rewind_source": sd / source_sd[k],
                             "ratio_to_ticket": sd / ticket_sd[k] if ticket_sd[k] > 0 else math.nan})
    return pd.DataFrame(rows)


def _curve(run: store.Run) -> np.ndarray:
    return np.array([r["test_acc"] for r in run.records], dtype=float)


def _arm_row(seed: int, arm: str, run: store.Run, macs_to_obtain: float, total_weights: int) -> dict[str, Any]:
    curve = _curve(run)
    k = min(LAST_K, len(curve))
    if len(curve) >= 2 * LAST_K:
        conv = vd.convergence(curve, k=LAST_K, threshold=CONVERGENCE_THRESHOLD)
        converged, moved = conv.converged, conv.moved
    else:
        converged, moved = False, math.nan
    cost = training_cost(run)
    return {
        "seed": seed,
        "arm": arm,
        "epochs": len(curve),
        "acc": vd.last_k_mean(curve, k),
        "final_acc": float(curve[-1]),
        "best_acc": float(curve.max()),
        "final_train_acc": float(run.records[-1].get("train_acc", math.nan)),
        "converged": bool(converged),
        "moved": moved,
        "macs": float(cost.macs),
        "macs_to_obtain": float(macs_to_obtain),
        "wall_seconds": float(cost.wall_seconds),
        "n_weights": int(sum(run.summary["edges"])),
        "density_pct": 100.0 * sum(run.summary["edges"]) / total_weights,
        "run": run.directory.name,
    }


def arm_table(tickets: Sequence[Ticket], controls: Sequence[dict]) -> pd.DataFrame:
    """Accuracy, convergence and cost of every arm for every seed.

    Returns
    -------
    DataFrame
        One row per seed and arm: ``seed, arm, epochs, acc`` (mean of the last
        :data:`LAST_K` epochs), ``final_acc, best_acc, final_train_acc, converged,
        moved``
        (change of that mean over the :data:`LAST_K` epochs before),
        ``macs`` (this run's training), ``macs_to_obtain`` (the ticket and its
        re-initialised mask: plus the whole search), ``wall_seconds, n_weights,
        density_pct, run``.
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
        search = float(lottery_cost(ticket).macs)
        dense = ticket.rounds[0]
        rows.append(_arm_row(seed, "dense", dense, training_cost(dense).macs, total))
        rows.append(_arm_row(seed, "IMP ticket", ticket.run, search, total))
        reinit = ctrl["reinit"]
        rows.append(_arm_row(seed, "ticket mask, re-init", reinit, search + training_cost(reinit).macs, total))
        static = ctrl["random_static"]
        rows.append(_arm_row(seed, "random static", static, training_cost(static).macs, total))
        set_keys = sorted(k for k in ctrl if isinstance(k, tuple))
        for _, b in set_keys:
            run = ctrl[("set", b)]
            rows.append(_arm_row(seed, f"SET, {b} epochs", run, training_cost(run).macs, total))
    table = pd.DataFrame(rows)
    if len(table):
        # name the SET budget whose MACs first reach the search's (the IMP-equal budget)
        imp = table[table["arm"] == "IMP ticket"]["macs_to_obtain"].max()
        set_rows = table[table["arm"].str.startswith("SET, ")]
        reaching = set_rows[set_rows["macs"] >= imp * (1 - 1e-9)]
        if len(reaching):
            eq = int(reaching["epochs"].min())
            table.loc[table["arm"] == f"SET, {eq} epochs", "arm"] = set_label(eq, imp_equal=True)
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
        row: dict[str, Any] = {"arm": arm, "n_seeds": len(part), "epochs": int(part["epochs"].max()),
                               "density_pct": part["density_pct"].mean()}
        m, lo, hi = mean_ci(part["acc"].to_numpy(), confidence)
        row.update(acc_mean=m, acc_low=lo, acc_high=hi, acc_sd=float(part["acc"].std(ddof=1)) if len(part) > 1 else math.nan)
        row.update(final_mean=float(part["final_acc"].mean()), best_mean=float(part["best_acc"].mean()))
        row.update(macs_to_obtain=float(part["macs_to_obtain"].mean()), wall_seconds=float(part["wall_seconds"].mean()),
                   converged=f"{int(part['converged'].sum())}/{len(part)}")
        rows.append(row)
    return pd.DataFrame(rows)


def convergence_report(table: pd.DataFrame) -> pd.DataFrame:
    """The runs that have not converged (rows of :func:`arm_table`): ``seed, arm, epochs, acc, moved``."""
    return table.loc[~table["converged"], ["seed", "arm", "epochs", "acc", "moved"]].reset_index(drop=True)


def imp_rounds(tickets: Sequence[Ticket]) -> pd.DataFrame:
    """Every round of every search: density, accuracy (last-k mean, final) and cumulative training MACs.

    Columns: ``seed, round, density_pct`` (all weights), ``hidden_density``,
    ``acc, final_acc, converged, macs`` (this round), ``cumulative_macs``.
    """
    rows = []
    for ticket in tickets:
        w = ticket.widths
        sizes = [w[k] * w[k + 1] for k in range(len(w) - 1)]
        cumulative = 0.0
        for r, run in enumerate(ticket.rounds):
            edges = run.summary["edges"]
            curve = _curve(run)
            macs = float(training_cost(run).macs)
            cumulative += macs
            conv = (vd.convergence(curve, k=LAST_K, threshold=CONVERGENCE_THRESHOLD).converged
                    if len(curve) >= 2 * LAST_K else False)
            rows.append({"seed": ticket.config.base.seed, "round": r, "density_pct": 100.0 * sum(edges) / sum(sizes),
                         "hidden_density": sum(edges[:-1]) / sum(sizes[:-1]),
                         "acc": vd.last_k_mean(curve, min(LAST_K, len(curve))), "final_acc": float(curve[-1]),
                         "converged": bool(conv), "macs": macs, "cumulative_macs": cumulative})
    return pd.DataFrame(rows)


def learning_curves(tickets: Sequence[Ticket], controls: Sequence[dict], table: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy after every epoch of every arm's run: ``seed, arm, epoch, test_acc, macs`` (MACs of
    that run's training so far, SET and static runs; the ticket's and re-init's exclude the search)."""
    runs = {}
    for ticket, ctrl in zip(tickets, controls):
        s = ticket.config.base.seed
        runs[(s, "dense")] = ticket.rounds[0]
        runs[(s, "IMP ticket")] = ticket.run
        runs[(s, "ticket mask, re-init")] = ctrl["reinit"]
        runs[(s, "random static")] = ctrl["random_static"]
        for key in (k for k in ctrl if isinstance(k, tuple)):
            runs[(s, key[1])] = ctrl[key]
    names = dict(zip(zip(table["seed"], table["run"]), table["arm"]))
    rows = []
    for (s, arm), run in runs.items():
        name = names.get((s, run.directory.name), arm if isinstance(arm, str) else f"SET, {arm} epochs")
        per_epoch = training_cost(run).macs / len(run.records)
        for e, rec in enumerate(run.records, start=1):
            rows.append({"seed": s, "arm": name, "epoch": e, "test_acc": float(rec["test_acc"]), "macs": e * per_epoch})
    return pd.DataFrame(rows)


def _first_reach(curve: np.ndarray, target: float, k: int = LAST_K) -> int | None:
    """First epoch ``b >= k`` whose mean test accuracy over epochs ``b-k+1..b`` is >= ``target`` (None: never)."""
    if len(curve) < k:
        return None
    rolling = np.convolve(curve, np.ones(k) / k, mode="valid")  # rolling[i]: epochs i+1..i+k
    hits = np.flatnonzero(rolling >= target - 1e-12)
    return int(hits[0] + k) if hits.size else None


def reach_costs(curves: pd.DataFrame, table: pd.DataFrame, targets: dict[str, float]) -> pd.DataFrame:
    """Training MACs a SET run needs to reach each target accuracy, per seed.

    For every seed, each SET run's learning curve is scanned for the first
    epoch ``b`` at which the mean test accuracy of epochs ``b-4..b`` reaches the
    target; the cost is that run's MACs up to epoch ``b``, and the seed's cost
    the smallest over its SET runs (stopping that run there gives a network of
    that accuracy). A seed whose SET runs never reach the target is censored:
    ``reached`` False and ``macs`` the MACs of its longest SET run (a lower
    bound).

    Returns
    -------
    DataFrame
        ``target, target_acc, seed, reached, epoch, run_epochs, macs, imp_macs,
        log10_ratio`` (log10 of the IMP search's MACs over ``macs``; for a
        censored seed an upper bound).
    """
    rows = []
    imp = table[table["arm"] == "IMP ticket"].set_index("seed")["macs_to_obtain"]
    for name, target in targets.items():
        for seed, part in curves[curves["arm"].str.startswith("SET")].groupby("seed", sort=True):
            best = None
            longest = 0.0
            for _, run_part in part.groupby("arm"):
                c = run_part.sort_values("epoch")
                longest = max(longest, float(c["macs"].max()))
                b = _first_reach(c["test_acc"].to_numpy(), target)
                if b is not None:
                    macs = float(c["macs"].iloc[b - 1])
                    if best is None or macs < best[0]:
                        best = (macs, b, int(c["epoch"].max()))
            reached = best is not None
            macs = best[0] if reached else longest
            rows.append({"target": name, "target_acc": target, "seed": seed, "reached": reached,
                         "epoch": best[1] if reached else math.nan, "run_epochs": best[2] if reached else math.nan,
                         "macs": macs, "imp_macs": float(imp[seed]), "log10_ratio": math.log10(float(imp[seed]) / macs)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# distances
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TicketDistances:
    """NNSTD among tickets, final SET networks and random static masks.

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
        One row per pair of groups: ``block, group_a, group_b, n_pairs,
        nnstd_mean``, its 95% interval ``ci_low, ci_high`` (bootstrap over
        networks, not pairs), ``nnstd_min, nnstd_max, ratio`` (to the baseline
        mean) and the baseline's ``random_mean, random_low, random_high``;
        within a group only different seeds are paired.
    coords : np.ndarray
        ``(n_networks, 2)`` metric MDS embedding of ``matrix.mean``.
    fixed_output : bool
        Whether output neurons were matched only to themselves (a sparse output layer).
    set_epochs : int
        Budget of the SET runs whose final topologies are compared.
    """

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

    def block_mean(self, a: str, b: str) -> float:
        try:
            return float(self.block(a, b)["nnstd_mean"])
        except KeyError:
            return math.nan

    def submatrix(self, a: str, b: str) -> np.ndarray:
        g = np.array(self.groups)
        return self.matrix.mean[np.ix_(np.flatnonzero(g == a), np.flatnonzero(g == b))]


def _block_ci(matrix: np.ndarray, same: bool, seed: int) -> tuple[float, float]:
    try:
        iv = vd.network_bootstrap_ci(matrix, between=not same, seed=seed)
    except ValueError:  # too few networks to resample
        return (math.nan, math.nan)
    return iv.ci


def ticket_distances(
    tickets: Sequence[Ticket],
    controls: Sequence[dict],
    *,
    set_epochs: int,
    include_static: bool = True,
    baseline_pairs: int = 10,
    seed: int = 0,
    n_jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
) -> TicketDistances:
    """Pairwise NNSTD of tickets, final topologies of the SET runs of ``set_epochs`` and random static masks.

    The random static control of a search is also its SET runs' starting
    topology, so SET–static pairs of one seed show how far SET moved. Output
    neurons are matched only to themselves (``fixed_output``) when the output
    layer is sparse: class neurons are not interchangeable.
    """
    from ..nnstd.pairwise import mds_embedding, pairwise_nnstd, random_baseline

    fixed_output = bool(tickets[0].masks[-1].sum() < tickets[0].masks[-1].size)
    topologies, labels, groups, seeds = [], [], [], []
    members = [("ticket", lambda t, c: t.masks), ("set", lambda t, c: c[("set", set_epochs)].topology())]
    if include_static:
        members.append(("random_static", lambda t, c: c["random_static"].topology(0)))
    for key, get in members:
        for ticket, ctrl in zip(tickets, controls):
            s = ticket.config.base.seed
            topologies.append(get(ticket, ctrl))
            labels.append(f"{_GROUPS[key]} s{s}")
            groups.append(_GROUPS[key])
            seeds.append(s)
    matrix = pairwise_nnstd(topologies, labels=labels, fixed_output=fixed_output, n_jobs=n_jobs,
                            progress=show_progress(), cache_dir=cache_dir)
    baseline = random_baseline(tickets[0].masks, n_pairs=baseline_pairs, seed=seed, fixed_output=fixed_output,
                               n_jobs=n_jobs, progress=show_progress(), cache_dir=cache_dir)
    g = np.array(groups)
    rows = []
    for a, b in itertools.combinations_with_replacement(list(dict.fromkeys(groups)), 2):
        ia, ib = np.flatnonzero(g == a), np.flatnonzero(g == b)
        sub = matrix.mean[np.ix_(ia, ib)]
        values = sub[np.triu_indices(len(ia), k=1)] if a == b else sub.ravel()
        lo, hi = _block_ci(sub, a == b, seed)
        mean = float(np.mean(values)) if values.size else math.nan
        rows.append({"block": f"{a} – {b}", "group_a": a, "group_b": b, "n_pairs": int(values.size),
                     "nnstd_mean": mean, "ci_low": lo, "ci_high": hi,
                     "nnstd_min": float(np.min(values)) if values.size else math.nan,
                     "nnstd_max": float(np.max(values)) if values.size else math.nan,
                     "ratio": mean / baseline.mean if baseline.mean > 0 else math.nan,
                     "random_mean": baseline.mean, "random_low": baseline.ci[0], "random_high": baseline.ci[1]})
    return TicketDistances(matrix=matrix, groups=tuple(groups), seeds=tuple(seeds), baseline=baseline,
                           blocks=pd.DataFrame(rows), coords=mds_embedding(matrix.mean, seed=seed),
                           fixed_output=fixed_output, set_epochs=int(set_epochs))


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------


def _arm_values(table: pd.DataFrame, arm: str) -> np.ndarray:
    return table.loc[table["arm"] == arm].sort_values("seed")["acc"].to_numpy(dtype=float)


def _arm_converged(table: pd.DataFrame, *arms: str) -> tuple[bool, str]:
    part = table[table["arm"].isin(arms)]
    bad = part[~part["converged"]]
    if bad.empty:
        return True, ""
    counts = bad.groupby("arm").size()
    return False, "; ".join(f"{arm}: {n} of {int((part['arm'] == arm).sum())} runs" for arm, n in counts.items())


def accuracy_verdict(table: pd.DataFrame, rule: str, a: str, b: str, margin: vd.Margin) -> vd.Verdict:
    """``rule`` on mean accuracy of arm ``a`` minus arm ``b`` (Welch interval over seeds), capped when
    a run of either arm has not converged."""
    diff = vd.difference_ci(_arm_values(table, a), _arm_values(table, b))
    verdict = vd.decide(rule, diff.estimate, diff.ci, margin)
    ok, why = _arm_converged(table, a, b)
    return vd.unless_converged(verdict, ok, why)


def cost_verdict(reach: pd.DataFrame, target: str, margin: vd.Margin) -> vd.Verdict:
    """Superiority of log10(IMP search MACs / SET MACs to reach ``target``), mean and t interval over seeds.

    A censored seed (SET never reached the target) enters with its upper
    bound; with any censored seed a "holds" is capped at inconclusive (the
    bound overstates SET's advantage), while "does not hold" stands (the true
    values are lower still).
    """
    part = reach[reach["target"] == target]
    m, lo, hi = mean_ci(part["log10_ratio"].to_numpy(dtype=float))
    verdict = vd.superiority(m, (lo, hi), margin)
    n_cens = int((~part["reached"]).sum())
    if n_cens and verdict.verdict == vd.HOLDS:
        verdict = vd.Verdict(vd.INCONCLUSIVE, verdict.rule, verdict.estimate, verdict.low, verdict.high,
                             verdict.margin, verdict.justification,
                             f"capped at inconclusive: SET never reached the target in {n_cens} of {len(part)} seeds")
    elif n_cens:
        verdict = vd.Verdict(verdict.verdict, verdict.rule, verdict.estimate, verdict.low, verdict.high, verdict.margin,
                             verdict.justification, f"{n_cens} of {len(part)} seeds censored (enter with an upper bound)")
    return verdict


def topology_verdict(distances: TicketDistances, margin: vd.Margin, *, seed: int = 0) -> vd.Verdict:
    """Non-inferiority of mean SET–SET NNSTD minus the random baseline's mean.

    The interval is the bootstrap over SET networks of their mean pairwise
    NNSTD, shifted by the baseline's interval (low minus the baseline's upper
    bound, high minus its lower bound), so the baseline's uncertainty widens it.
    """
    sub = distances.submatrix("SET", "SET")
    base = distances.baseline
    if sub.shape[0] < 3:  # too few networks to resample: no interval, so inconclusive
        est = float(sub[np.triu_indices(sub.shape[0], k=1)].mean()) - base.mean if sub.shape[0] > 1 else math.nan
        return vd.non_inferiority(est, (math.nan, math.nan), margin)
    iv = vd.network_bootstrap_ci(sub, seed=seed)
    est = iv.estimate - base.mean
    return vd.non_inferiority(est, (iv.low - base.ci[1], iv.high - base.ci[0]), margin)


def joint_verdict(parts: Sequence[vd.Verdict], names: Sequence[str]) -> vd.Verdict:
    """A claim made of several: holds when every part holds, does not hold when one does not, else inconclusive.

    The returned Verdict carries the first part's rule, estimate and interval;
    its note lists every part's verdict.
    """
    if not parts or len(parts) != len(names):
        raise ValueError("give one name per verdict, at least one")
    words = [p.verdict for p in parts]
    word = (vd.DOES_NOT_HOLD if vd.DOES_NOT_HOLD in words else vd.HOLDS if all(w == vd.HOLDS for w in words)
            else vd.INCONCLUSIVE)
    first = parts[0]
    note = "joint: " + "; ".join(f"{n}: {p.verdict}" for n, p in zip(names, parts))
    return vd.Verdict(word, first.rule, first.estimate, first.low, first.high, first.margin, first.justification, note)


def _margins(p: "Parameters") -> dict[str, vd.Margin]:
    return {
        "accuracy": vd.Margin(p.accuracy_margin, p.accuracy_margin_basis),
        "cost": vd.Margin(math.log10(p.cost_factor), f"log10({p.cost_factor:g}): {p.cost_margin_basis}"),
        "nnstd": vd.Margin(p.nnstd_margin, p.nnstd_margin_basis),
    }


def record_findings(findings: Findings, result: "Result") -> pd.DataFrame:
    """Add the notebook's verdicts and descriptions, each measured from the run; return the findings table."""
    r, p = result, result.params
    t, m = r.runs, _margins(p)
    eq_arm, e_arm = r.imp_equal_arm, set_label(p.epochs, imp_equal=(p.epochs == r.imp_equal))
    acc = "accuracy = mean test accuracy of the last 5 epochs; Welch 95% interval of the difference of arm means over seeds"

    def verdict_row(claim, verdict, detail, spread=""):
        findings.claim_verdict(claim, verdict, detail=detail, spread=spread)
        return verdict

    def sd(arm):
        return float(t.loc[t["arm"] == arm, "acc"].std(ddof=1))

    verdict_row(f"The IMP ticket is a winning ticket: as accurate as the dense network after equal epochs ({p.epochs})",
                accuracy_verdict(t, "non-inferiority", "IMP ticket", "dense", m["accuracy"]),
                f"ticket minus dense; non-inferiority; {acc}", f"SD over seeds: ticket {sd('IMP ticket'):.4f}, dense {sd('dense'):.4f}")
    verdict_row(f"The ticket beats its own mask re-initialised from the same distribution ({p.epochs} epochs each)",
                accuracy_verdict(t, "superiority", "IMP ticket", "ticket mask, re-init", m["accuracy"]),
                f"ticket minus re-initialised mask; superiority; {acc}", f"SD re-init {sd('ticket mask, re-init'):.4f}")
    verdict_row(f"The ticket beats a random static mask of its size from the same distribution ({p.epochs} epochs each)",
                accuracy_verdict(t, "superiority", "IMP ticket", "random static", m["accuracy"]),
                f"ticket minus random static; superiority; {acc}", f"SD random static {sd('random static'):.4f}")
    verdict_row(f"SET at the ticket's size is as accurate as the ticket after equal epochs ({p.epochs})",
                accuracy_verdict(t, "non-inferiority", e_arm, "IMP ticket", m["accuracy"]),
                f"SET ({p.epochs} epochs) minus ticket; non-inferiority; {acc}", f"SD SET {sd(e_arm):.4f}")
    verdict_row(f"SET given the MACs of the whole IMP search ({r.imp_equal} epochs) is as accurate as the ticket",
                accuracy_verdict(t, "non-inferiority", eq_arm, "IMP ticket", m["accuracy"]),
                f"SET ({r.imp_equal} epochs) minus ticket; non-inferiority; {acc}", f"SD SET {sd(eq_arm):.4f}")
    v_dense = verdict_row(
        f"SET given the MACs of the whole IMP search ({r.imp_equal} epochs) is as accurate as the dense network after "
        f"{p.epochs} epochs (the winning-ticket criterion)",
        accuracy_verdict(t, "non-inferiority", eq_arm, "dense", m["accuracy"]),
        f"SET ({r.imp_equal} epochs) minus dense ({p.epochs} epochs); non-inferiority; {acc}", f"SD dense {sd('dense'):.4f}")
    v_topo = verdict_row(
        f"SET networks of different seeds are as far apart as independent random graphs (SET after {r.imp_equal} epochs)",
        vd.unless_converged(topology_verdict(r.distances, m["nnstd"]), *_arm_converged(t, eq_arm)),
        "mean SET–SET NNSTD minus the mean NNSTD of independent random topologies with the same edge counts; "
        "non-inferiority; interval: bootstrap over SET networks (not pairs), widened by the baseline's interval"
        + ("; output neurons fixed" if r.distances.fixed_output else ""),
        f"SD of the random baseline's pairs {float(np.std(r.distances.baseline.samples.mean(axis=1), ddof=1)):.4f}")
    v_plen = joint_verdict([v_topo, v_dense], ["far apart", "as accurate as the dense network"])
    findings.claim_verdict("SET unveils many very different sub-networks that are winning tickets (the paper's claim)",
                           v_plen, detail="holds when both the topology row and the row 'SET given the MACs of the whole "
                           "IMP search is as accurate as the dense network' hold; does not hold when either does not; "
                           "estimate and interval shown are the topology row's")
    for target, arm in (("ticket", "IMP ticket"), ("dense", "dense")):
        part = r.reach[r.reach["target"] == target]
        ratio = 10 ** part["log10_ratio"]
        reached = int(part["reached"].sum())
        verdict_row(
            f"Cost: SET reaches the {'ticket' if target == 'ticket' else 'dense network'}'s accuracy with fewer MACs "
            f"than the IMP search, by more than {p.cost_factor:g}x",
            vd.unless_converged(cost_verdict(r.reach, target, m["cost"]), *_arm_converged(t, arm)),
            f"log10(IMP search MACs / SET MACs until its 5-epoch mean test accuracy first reaches {part['target_acc'].iloc[0]:.4f}, "
            f"the mean accuracy of the {arm} arm); superiority; t interval over seeds",
            f"ratio per seed {', '.join(f'{x:.1f}' for x in ratio)}; reached in {reached} of {len(part)} seeds; "
            f"SD of log10 ratio {float(part['log10_ratio'].std(ddof=1)):.3f}")
    per_epoch = float(t.loc[t["arm"] == eq_arm, "macs"].mean()) / r.imp_equal
    findings.claim("Cost of finding a ticket, in MACs of SET epochs at the ticket's size (description)",
                   measured=r.imp_macs / per_epoch, holds=None,
                   spread=f"IMP search {r.imp_macs:.4g} MACs; one SET epoch {per_epoch:.4g} MACs",
                   detail="total training MACs of one IMP search (dense run + every pruned round) over the MACs of one "
                   "SET epoch at the ticket's edge counts; no verdict (a ratio of planned work); the cost verdicts "
                   "above compare what SET needs to reach an accuracy")
    d = r.distances
    for a, b, what in (("IMP ticket", "IMP ticket", "Tickets of different seeds"), ("IMP ticket", "SET", "Tickets and SET networks")):
        row = d.block(a, b)
        findings.claim(f"{what}: mean NNSTD over the random baseline (description)", measured=float(row["ratio"]),
                       holds=None, spread=f"NNSTD {row['nnstd_mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] "
                       f"(bootstrap over networks); baseline {d.baseline.mean:.3f} [{d.baseline.ci[0]:.3f}, {d.baseline.ci[1]:.3f}]",
                       detail="no verdict: the paper's claim does not depend on it")
    return findings.table()


# ---------------------------------------------------------------------------
# the notebook's API: Parameters -> run -> claims / figures
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``04_lottery_tickets`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    hidden : hidden widths.
    seeds : one IMP search per seed (distinct, >= 0).
    target_density : final density of every hidden layer, in (0, 1).
    prune_fraction : share of the remaining hidden weights pruned per round, in (0, 1).
    output_prune_fraction : the output layer's share, in [0, 1), or ``None`` for half of ``prune_fraction``.
    rewind_epoch : epoch the survivors are rewound to (0: the initial weights).
    epochs : epochs of the dense run, of every IMP round (so of the ticket) and of every control.
    set_epochs : SET budgets besides ``epochs`` and the IMP-equal budget (which is added).
    train_samples : training samples per epoch (a stratified subset), or ``None`` for the whole split.
    lr, batch_size, lr_schedule : training of every run; zeta : SET's rewired fraction, in (0, 1).
    backend : ``"auto"`` runs layers at most AUTO_SPARSE_MAX_DENSITY dense on the sparse backend (speed only).
    accuracy_margin, accuracy_margin_basis : margin of the accuracy verdicts (accuracy units) and why.
    cost_factor, cost_margin_basis : "far cheaper" means by more than this factor, and why.
    nnstd_margin, nnstd_margin_basis : margin of the topology verdict (NNSTD units) and why.
    baseline_pairs : random topology pairs for the NNSTD baseline (>= 2).
    """

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
        self._set("hidden", check_sequence("hidden", self.hidden, lambda n, v: check_int(n, v, minimum=1)))
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), unique=True))
        self._set("target_density", check_real("target_density", self.target_density, **fraction))
        self._set("prune_fraction", check_real("prune_fraction", self.prune_fraction, **fraction))
        self._set("output_prune_fraction", check_optional("output_prune_fraction", self.output_prune_fraction,
                                                          lambda n, v: check_real(n, v, minimum=0, maximum=1)))
        self._set("rewind_epoch", check_int("rewind_epoch", self.rewind_epoch, minimum=0))
        self._set("epochs", check_int("epochs", self.epochs, minimum=1))
        self._set("set_epochs", check_sequence("set_epochs", self.set_epochs, lambda n, v: check_int(n, v, minimum=1),
                                               min_length=0, unique=True))
        self._set("train_samples", check_optional("train_samples", self.train_samples,
                                                  lambda n, v: check_int(n, v, minimum=1)))
        self._set("lr", check_real("lr", self.lr, minimum=0, exclusive_minimum=True))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("lr_schedule", check_str("lr_schedule", self.lr_schedule, choices=("constant", "cosine", "step")))
        self._set("zeta", check_real("zeta", self.zeta, **fraction))
        self._set("backend", check_str("backend", self.backend, choices=("masked", "sparse", "auto")))
        self._set("accuracy_margin", check_real("accuracy_margin", self.accuracy_margin, minimum=0, exclusive_minimum=True))
        self._set("accuracy_margin_basis", check_str("accuracy_margin_basis", self.accuracy_margin_basis))
        self._set("cost_factor", check_real("cost_factor", self.cost_factor, minimum=1))
        self._set("cost_margin_basis", check_str("cost_margin_basis", self.cost_margin_basis))
        self._set("nnstd_margin", check_real("nnstd_margin", self.nnstd_margin, minimum=0, exclusive_minimum=True))
        self._set("nnstd_margin_basis", check_str("nnstd_margin_basis", self.nnstd_margin_basis))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        if self.rewind_epoch >= self.epochs:
            raise ValueError(f"parameter rewind_epoch must be < epochs ({self.epochs}), got {self.rewind_epoch}")
        if len(self.seeds) < 2:
            raise ValueError(f"parameter seeds needs at least 2 seeds for an interval, got {list(self.seeds)}")


@dataclass(frozen=True, eq=False)
class Result:
    """Everything notebook ``04_lottery_tickets`` computed (see :func:`run`).

    Attributes
    ----------
    params, widths, description (the dataset in one line), configs (:func:`lottery_configs`),
    schedule (edges per layer in every round), imp_equal (the IMP-equal SET budget in epochs),
    budgets (every SET budget), tickets, controls (:func:`run_all`), scales (:func:`initial_weight_scales`),
    runs (:func:`arm_table`), summary (:func:`arm_summary`), rounds (:func:`imp_rounds`),
    curves (:func:`learning_curves`), reach (:func:`reach_costs`), distances (:func:`ticket_distances`).
    """

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
    distances: TicketDistances

    @property
    def imp_equal_arm(self) -> str:
        return set_label(self.imp_equal, imp_equal=True)

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
    configs = lottery_configs(p.dataset, list(p.hidden), list(p.seeds), target_density=p.target_density,
                              epochs=p.epochs, prune_fraction=p.prune_fraction,
                              output_prune_fraction=p.output_prune_fraction, rewind_epoch=p.rewind_epoch, lr=p.lr,
                              batch_size=p.batch_size, lr_schedule=p.lr_schedule, train_samples=p.train_samples,
                              backend=p.backend, snapshot_epochs=())
    schedule = pd.DataFrame(pruning_schedule(configs[0], widths), columns=[f"layer {k}" for k in range(len(widths) - 1)])
    schedule.index.name = "round"
    equal = imp_equal_epochs(configs[0], widths)
    budgets = set_budgets(p.epochs, p.set_epochs, equal)
    tickets, controls = run_all(configs, widths, root=p.runs_root, n_jobs=p.n_jobs, zeta=p.zeta, set_epochs=budgets)
    runs = arm_table(tickets, controls)
    curves = learning_curves(tickets, controls, runs)
    targets = {"ticket": float(runs.loc[runs["arm"] == "IMP ticket", "acc"].mean()),
               "dense": float(runs.loc[runs["arm"] == "dense", "acc"].mean())}
    distances = ticket_distances(tickets, controls, set_epochs=equal, baseline_pairs=p.baseline_pairs,
                                 n_jobs=p.n_jobs, cache_dir=p.cache_dir)
    return Result(params=p, widths=widths, description=data.describe(),
                  configs=configs, schedule=schedule, imp_equal=equal, budgets=budgets, tickets=tickets,
                  controls=controls, scales=initial_weight_scales(tickets, controls), runs=runs,
                  summary=arm_summary(runs), rounds=imp_rounds(tickets), curves=curves,
                  reach=reach_costs(curves, runs, targets), distances=distances)


def _subset(p: Parameters) -> str:
    return "the whole training split" if p.train_samples is None else f"a stratified subset of {p.train_samples} training samples"


def rules(params: Parameters) -> str:
    """The verdict rules and margins, as Markdown, from the parameters alone (shown before any number)."""
    p = params
    return "\n".join([
        "**Rules, fixed before the numbers.** Accuracy of a run = mean test accuracy of its last 5 epochs "
        "(final and best are reported beside it). Every arm has one independent run per seed; differences of arm "
        "means get a Welch 95% interval over seeds. A verdict uses a rule of `sparsetopo.study.verdicts`: "
        "*non-inferiority* holds when the interval lies above −m and does not hold when it lies below −m; "
        "*superiority* holds when it lies above +m and does not hold when it lies below +m; otherwise inconclusive. "
        "A verdict on arms with a run that has not converged (its 5-epoch mean moved by 0.1 point or more over the "
        "5 epochs before) is at most inconclusive.",
        "",
        f"- accuracy margin m = {p.accuracy_margin:g} ({100 * p.accuracy_margin:g} points): {p.accuracy_margin_basis}",
        f"- cost: \"far more cheaply\" = by more than a factor {p.cost_factor:g}: superiority of "
        f"log10(IMP search MACs / SET MACs to reach the accuracy) with m = log10({p.cost_factor:g}) = "
        f"{math.log10(p.cost_factor):.3f}; {p.cost_margin_basis}. A seed whose SET runs never reach the accuracy "
        "enters with its bound and caps a \"holds\" at inconclusive.",
        f"- topology margin m = {p.nnstd_margin:g} NNSTD: {p.nnstd_margin_basis}. Interval of a mean pairwise NNSTD: "
        "bootstrap over networks (not pairs).",
        "- the paper's claim (adaptive sparse connectivity unveils a plenitude of very different sub-networks that "
        "perform as well as the dense model, i.e. winning tickets) holds when both the topology verdict and the "
        "verdict 'SET given the MACs of the IMP search is as accurate as the dense network' hold, and does not hold "
        "when either does not.",
    ])


def notes(result: Result) -> dict[str, str]:
    """Sentences of measured numbers for the notebook (keys ``"data"``, ``"schedule"``, ``"scales"``,
    ``"convergence"``, ``"costs"``, ``"distances"``, ``"spreads"``)."""
    r, p = result, result.params
    sc = r.scales[r.scales["arm"] != "IMP ticket"]
    tk = r.scales[r.scales["arm"] == "IMP ticket"]
    unconv = convergence_report(r.runs)
    per_epoch = r.runs.loc[r.runs["arm"] == r.imp_equal_arm, "macs"].mean() / r.imp_equal
    reach = []
    for target, name in (("dense", "the dense network's accuracy at equal epochs"), ("ticket", "the ticket's accuracy")):
        part = r.reach[r.reach["target"] == target]
        got = part[part["reached"]]
        if len(got):
            gm = 10 ** np.log10(got["macs"]).mean()
            reach.append(f"SET reached {name} ({part['target_acc'].iloc[0]:.4f}) in {len(got)} of {len(part)} seeds, "
                         f"after {gm:.3g} MACs (geometric mean over those seeds; epochs {', '.join(str(int(e)) for e in got['epoch'])}), "
                         f"{r.imp_macs / gm:.1f}x less than the IMP search")
        else:
            reach.append(f"SET never reached {name} ({part['target_acc'].iloc[0]:.4f}) within {max(r.budgets)} epochs, "
                         f"so it needs more than {part['macs'].min():.3g} MACs ({part['macs'].min() / r.imp_macs:.2f}x "
                         "the IMP search)")
    b = r.distances.blocks.set_index("block")
    return {
        "data": f"{r.description}; trained on {_subset(p)} per epoch, tested on the whole test split",
        "schedule": f"{r.configs[0].n_rounds} pruned rounds after a dense run, each {p.epochs} epochs "
                    f"({p.lr_schedule} learning-rate schedule from {p.lr:g}); the ticket, its re-initialised mask and the "
                    f"random static mask train {p.epochs} epochs each; SET trains {', '.join(map(str, r.budgets))} epochs, "
                    f"{r.imp_equal} epochs costing the MACs of the whole search; {len(p.seeds)} seeds",
        "scales": f"initial weight SD over that of the dense initialisation, per layer and seed: controls "
                  f"{sc['ratio_to_dense_init'].min():.3f} to {sc['ratio_to_dense_init'].max():.3f}, ticket "
                  f"{tk['ratio_to_dense_init'].min():.3f} to {tk['ratio_to_dense_init'].max():.3f}; controls over the "
                  f"ticket {sc['ratio_to_ticket'].min():.3f} to {sc['ratio_to_ticket'].max():.3f} (every arm draws from the "
                  "dense initialisation, masked; the ticket's survivors were selected by magnitude, hence its slightly "
                  "larger SD)",
        "convergence": (f"all {len(r.runs)} runs converged" if unconv.empty else
                        f"{len(unconv)} of {len(r.runs)} runs have not converged: "
                        + "; ".join(f"{a} ({n})" for a, n in unconv.groupby("arm").size().items())),
        "costs": f"IMP search: {r.imp_macs:.3g} training MACs per seed ({r.imp_macs / per_epoch:.1f} SET epochs). "
                 + ". ".join(reach) + ".",
        "distances": "mean NNSTD (95% interval, bootstrap over networks): " + "; ".join(
            f"{k} {v['nnstd_mean']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]" for k, v in b.iterrows())
            + f"; random baseline {r.distances.baseline.mean:.3f} [{r.distances.baseline.ci[0]:.3f}, "
              f"{r.distances.baseline.ci[1]:.3f}]" + ("; output neurons fixed" if r.distances.fixed_output else ""),
        "spreads": "seed-to-seed SD of accuracy measured in this run: " + ", ".join(
            f"{row.arm} {row.acc_sd:.4f}" for row in r.summary.itertuples()) + f" (accuracy margin {p.accuracy_margin:g})",
    }


def captions(result: Result) -> dict[str, str]:
    """The caption of every figure and table, with the budgets compared (Markdown)."""
    r, p = result, result.params
    data = f"{p.dataset}, {_subset(p)} per epoch, {len(p.seeds)} seeds"
    e_arm = set_label(p.epochs, p.epochs == r.imp_equal)
    return {
        "scales": "Initial weights of every arm (present weights only; mean over seeds): SD per layer, over the SD of "
                  "the dense initialisation and over the ticket's. Every arm draws from the dense initialisation, masked.",
        "imp_rounds": f"Accuracy (mean of the last 5 epochs) of every IMP round against its density (line: mean over "
                      f"seeds, 95% CI band; round 0, the dense network, is also drawn as the 'dense' point; the last round is the "
                      f"ticket), with the arms at the ticket's size as points "
                      f"(mean, 95% CI over seeds, moved slightly sideways so that none hides another). Budgets: every "
                      f"round, the dense network and every arm shown train {p.epochs} epochs ({data}).",
        "learning_curves": f"Test accuracy per epoch (mean over seeds, 95% CI band), one panel per arm at the ticket's "
                           f"size, each beside the dense network (dashed). Budgets: all {p.epochs} epochs, the same "
                           f"{p.lr_schedule} learning-rate schedule from {p.lr:g} ({data}). Panels: {', '.join(['IMP ticket', 'ticket mask, re-init', 'random static', e_arm])}.",
        "accuracy_vs_cost": f"Accuracy (mean of the last 5 epochs) against the training MACs spent to obtain each "
                            f"network: faint dots are seeds, large markers the mean with 95% CI. Budgets: the ticket "
                            f"is charged the whole IMP search ({r.configs[0].n_rounds + 1} runs of {p.epochs} epochs, "
                            f"its own training the last of them), its re-initialised mask the search plus its own "
                            f"{p.epochs} epochs; dense "
                            f"and random static train {p.epochs} epochs; SET trains {', '.join(map(str, r.budgets))} "
                            f"epochs ({r.imp_equal}: the MACs of the search). Arms at the same MACs (random static and "
                            f"SET at {p.epochs} epochs) are moved slightly sideways. Dotted line: the MACs of one search.",
        "set_cost": f"SET's test accuracy (mean over seeds) against the MACs its run has spent, one line per budget "
                    f"({', '.join(map(str, r.budgets))} epochs; each budget is its own run with its own {p.lr_schedule} "
                    f"schedule: a shorter budget coincides with the longer ones until it decays its learning rate, and is drawn "
                    f"thinner on top of them). Horizontal "
                    f"lines: the dense network's and the ticket's accuracy after {p.epochs} epochs (the targets); open "
                    f"markers: where a seed's 5-epoch mean first reaches a target; dotted line: the MACs of one IMP "
                    f"search.",
        "blocks": f"Mean NNSTD within and between groups (tickets; SET after {r.imp_equal} epochs; random static masks, "
                  f"which are the SET runs' starting topologies), with a 95% interval from a bootstrap over networks, "
                  f"against NNSTD between independent random topologies with the same edge counts"
                  + ("; output neurons are matched only to themselves (the output layer is sparse)." if r.distances.fixed_output else "."),
        "nnstd_matrix": "Left: NNSTD (mean over layers) between every two networks, in blocks of tickets, SET networks "
                        "and random static masks, seeds within blocks. Right: each block's mean (bars: 95% interval, "
                        "bootstrap over networks) against the random baseline (dashed line, 95% CI band).",
        "nnstd_embedding": "A two-dimensional metric MDS embedding of the NNSTD matrix: each point is a network (colour: "
                           "ticket, SET or random static; label: seed of its search), placed so that distances between "
                           "points approximate their NNSTD; the title gives the random baseline for scale.",
    }


def claims(result: Result) -> Findings:
    """The findings of notebook ``04_lottery_tickets`` (verdicts by :func:`record_findings`'s rules, and the
    numbers behind every figure); the parameters recorded are ``result.params``."""
    r, p = result, result.params
    findings = Findings("04_lottery_tickets", p.figures_dir, parameters=p.as_dict())
    d = r.distances
    findings.add_data("imp_rounds", r.rounds)
    findings.add_data("arms", r.runs)
    findings.add_data("arm_summary", r.summary)
    findings.add_data("initial_weight_scales", r.scales)
    findings.add_data("learning_curves", r.curves)
    findings.add_data("reach_costs", r.reach)
    findings.add_data("imp_macs", r.imp_macs)
    findings.add_data("nnstd_matrix", d.matrix.frame())
    findings.add_data("nnstd_blocks", d.blocks)
    findings.add_data("nnstd_embedding", pd.DataFrame({"label": d.matrix.labels, "group": d.groups,
                                                       "x": d.coords[:, 0], "y": d.coords[:, 1]}))
    record_findings(findings, r)
    return findings


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------


def _dodge(i: int, n: int, width: float = 0.03) -> float:
    return 10 ** (width * (i - (n - 1) / 2))


def _figure_accuracy_vs_macs(r: Result):
    import matplotlib.pyplot as plt

    from . import figures as plots

    order = arm_order(r.runs)
    palette = plots.method_palette(order)
    markers = ["o", "s", "D", "^", "v", "P", "X", "*", "<", ">"]
    fig, ax = plt.subplots(figsize=(8.5, 5))
    # arms sharing a MAC value (random static and SET at equal epochs) are dodged sideways
    xs = {a: float(r.runs.loc[r.runs["arm"] == a, "macs_to_obtain"].mean()) for a in order}
    groups: dict[float, list[str]] = {}
    for a in order:
        groups.setdefault(round(math.log10(xs[a]), 2), []).append(a)
    for a in order:
        part = r.runs[r.runs["arm"] == a]
        same = groups[round(math.log10(xs[a]), 2)]
        f = _dodge(same.index(a), len(same))
        m, lo, hi = mean_ci(part["acc"].to_numpy())
        ax.scatter(part["macs_to_obtain"] * f, part["acc"], color=palette[a], alpha=0.35, s=16, zorder=2)
        ax.errorbar([xs[a] * f], [m], yerr=[[m - lo], [hi - m]], fmt=markers[order.index(a) % len(markers)],
                    color=palette[a], markeredgecolor="black", markersize=8, capsize=4, label=a, zorder=3)
    ax.axvline(r.imp_macs, color="grey", linestyle=":", label="MACs of one IMP search")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # labels far enough apart to read
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.0e}".replace("e+", "e")))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training MACs to obtain the network (log scale; ticket and re-init: plus the whole search)")
    ax.set_ylabel("test accuracy (mean of the last 5 epochs)")
    ax.set_title(f"{r.params.dataset}: accuracy against training cost at the ticket's size")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: no marker hidden
    fig.tight_layout()
    return fig


def _figure_curves(r: Result):
    import matplotlib.pyplot as plt
    import seaborn as sns

    from . import figures as plots

    p = r.params
    arms = ["IMP ticket", "ticket mask, re-init", "random static", set_label(p.epochs, p.epochs == r.imp_equal)]
    fig, axes = plt.subplots(1, len(arms), figsize=(4 * len(arms), 4), sharey=True)
    palette = plots.method_palette(arm_order(r.runs))
    dense = r.curves[r.curves["arm"] == "dense"]
    for ax, arm in zip(axes, arms):
        sns.lineplot(data=dense, x="epoch", y="test_acc", errorbar=("ci", 95), color="black", linestyle="--",
                     label="dense", ax=ax, seed=0)
        sns.lineplot(data=r.curves[r.curves["arm"] == arm], x="epoch", y="test_acc", errorbar=("ci", 95),
                     color=palette[arm], label=arm, ax=ax, seed=0)
        ax.set_title(arm, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("test accuracy (mean over seeds, 95% CI)")
    lo = float(r.curves[r.curves["epoch"] >= 2]["test_acc"].quantile(0.02))
    axes[0].set_ylim(lo - 0.01, float(r.curves["test_acc"].max()) + 0.01)
    fig.tight_layout()
    return fig


def _figure_set_cost(r: Result):
    import matplotlib.pyplot as plt
    import seaborn as sns

    from . import figures as plots

    fig, ax = plt.subplots(figsize=(8.5, 5))
    sets = [a for a in arm_order(r.runs) if a.startswith("SET")]
    palette = plots.method_palette(arm_order(r.runs))
    # a shorter budget follows a longer one until its learning rate decays: longer budgets are drawn first and
    # wider, so the shorter ones stay visible on top of them
    for i, arm in enumerate(reversed(sets)):
        sns.lineplot(data=r.curves[r.curves["arm"] == arm], x="macs", y="test_acc", errorbar=None,
                     color=palette[arm], label=arm, ax=ax, linewidth=1.2 + 1.6 * (len(sets) - 1 - i), zorder=2 + i)
    for target, style in (("dense", "--"), ("ticket", "-.")):
        acc = float(r.reach.loc[r.reach["target"] == target, "target_acc"].iloc[0])
        ax.axhline(acc, color="black", linestyle=style, linewidth=1, label=f"{target} accuracy ({acc:.4f})")
    ax.axvline(r.imp_macs, color="grey", linestyle=":", label="MACs of one IMP search")
    got = r.reach[r.reach["reached"]]
    for target, marker in (("dense", "o"), ("ticket", "s")):
        part = got[got["target"] == target]
        if len(part):
            ax.scatter(part["macs"], part["target_acc"], marker=marker, facecolor="none", edgecolor="black", s=50,
                       zorder=4, label=f"seed first reaches the {target}'s accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("training MACs of the SET run so far (log scale)")
    ax.set_ylabel("test accuracy (mean over seeds)")
    lo = float(r.curves[r.curves["arm"].isin(sets) & (r.curves["epoch"] >= 3)]["test_acc"].min())
    ax.set_ylim(lo - 0.005, float(r.curves["test_acc"].max()) + 0.01)
    ax.set_title("SET learning curves against cost, with the targets and the cost of IMP")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def figures(result: Result) -> dict[str, Any]:
    """Every figure of notebook ``04_lottery_tickets`` by name (closed: show with ``display``):
    ``imp_rounds``, ``learning_curves``, ``accuracy_vs_cost``, ``set_cost``, ``nnstd_matrix``, ``nnstd_embedding``."""
    import matplotlib.pyplot as plt

    from . import figures as plots

    r, p, out = result, result.params, {}
    order = arm_order(r.runs)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    rounds = r.rounds.rename(columns={"acc": "test_acc"})
    e_arm = set_label(p.epochs, p.epochs == r.imp_equal)
    others = r.runs[r.runs["arm"].isin(["dense", "ticket mask, re-init", "random static", e_arm])]
    others = others.rename(columns={"arm": "method", "acc": "test_acc"})
    plots.imp_trajectory(rounds, others, order=order, ax=ax,
                         title=f"{p.dataset}: IMP rounds and the arms at the ticket's size, {p.epochs} epochs each")
    ax.set_ylabel("test accuracy (mean of the last 5 epochs)")
    out["imp_rounds"] = fig
    out["learning_curves"] = _figure_curves(r)
    out["accuracy_vs_cost"] = _figure_accuracy_vs_macs(r)
    out["set_cost"] = _figure_set_cost(r)
    d = r.distances
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.3), gridspec_kw={"width_ratios": [1.25, 1]})
    plots.block_heatmap(d.matrix.mean, d.groups, labels=d.matrix.labels, ax=axes[0], title="NNSTD between networks",
                        cbar_label="NNSTD (mean over layers)")
    bars = d.blocks.drop(columns=["nnstd_min", "nnstd_max"]).rename(columns={"ci_low": "nnstd_min", "ci_high": "nnstd_max"})
    plots.distance_vs_baseline(bars, x="block", logx=False, ax=axes[1], xlabel="pair of groups",
                               label="mean over pairs (bars: 95% CI, bootstrap over networks)",
                               title="block means vs random topologies")
    fig.tight_layout()
    out["nnstd_matrix"] = fig
    fig, ax = plt.subplots(figsize=(7, 6))
    arms = plots.method_palette(arm_order(r.runs))  # the colours of the other figures
    longest_set = [a for a in arms if a.startswith("SET")][-1:]
    same_colours = {"IMP ticket": arms.get("IMP ticket"), "random static": arms.get("random static"),
                    **({"SET": arms[longest_set[0]]} if longest_set else {})}
    plots.embedding_scatter(d.coords, d.groups, labels=[f"s{s}" for s in d.seeds], ax=ax,
                            order=["IMP ticket", "SET", "random static"],
                            palette={k: v for k, v in same_colours.items() if v is not None},
                            title=f"MDS of the NNSTD matrix (random baseline: {d.baseline.mean:.3f})")
    out["nnstd_embedding"] = fig
    for fig in out.values():
        plt.close(fig)
    return out


def _limitations(r: Result) -> list[str]:
    p = r.params
    out = []
    if p.train_samples is not None:
        train = float(r.runs.loc[r.runs["arm"] == r.imp_equal_arm, "final_train_acc"].mean())
        out.append(f"every run trains on {p.train_samples} samples of the training split (a budget choice): SET after "
                   f"{r.imp_equal} epochs ends at a training accuracy of {train:.4f}, so longer training mostly fits "
                   "those samples, and more data could change how far SET gets")
    if tuple(p.hidden) != (1000, 1000, 1000):
        out.append(f"the network ({'-'.join(map(str, r.widths))}) is smaller than the paper's 784-1000-1000-1000-10 "
                   "(the paper profile runs that scale)")
    if p.prune_fraction > 0.2:
        out.append(f"IMP prunes {p.prune_fraction:g} of the remaining weights per round ({r.configs[0].n_rounds} "
                   "rounds) instead of Frankle & Carbin's 0.2: a cheaper search, which favours IMP in the cost "
                   "comparison, and possibly a less accurate ticket")
    out += [
        "the MAC count is the sparse ideal (the wall time of masked layers does not shrink with density the same way)",
        "costs to reach an accuracy are read from learning curves at epoch resolution; each SET budget is its own run "
        f"with a {p.lr_schedule} learning-rate schedule fixed by its length, so stopping a run early is not the same "
        "as planning a shorter one",
        "the controls of one seed share their weight seed, and every SET run of a seed starts from that seed's random "
        "static mask (by design)",
        "the paper's own lottery-ticket numbers are not known to us, so the comparison is with the claim as stated "
        "in its text",
    ]
    return out


def discussion(result: Result, findings: Findings) -> str:
    """The notebook's closing "Discussion and limitations" as Markdown, every number from ``findings``."""
    r, p = result, result.params
    by = {c.claim: c for c in findings.claims}

    def v(prefix: str) -> str:
        c = next(c for name, c in by.items() if name.startswith(prefix))
        ci = c.rule["ci"] if c.rule else [math.nan, math.nan]
        note = f"; {c.rule['note']}" if c.rule and c.rule.get("note") else ""
        return f"**{c.verdict}** (estimate {c.measured:+.4f}, 95% interval [{ci[0]:+.4f}, {ci[1]:+.4f}]{note})"

    n = notes(r)
    lines = [
        "## Discussion and limitations",
        "",
        f"*Setting.* {n['data']}; {n['schedule']}.",
        "",
        f"*Accuracy.* The ticket against dense at equal epochs: {v('The IMP ticket is a winning ticket')}. "
        f"Against its re-initialised mask: {v('The ticket beats its own mask')}; against a random static mask: "
        f"{v('The ticket beats a random static')}. SET at equal epochs against the ticket: "
        f"{v('SET at the ticket')}; SET given the MACs of the whole search against the ticket: "
        f"{v('SET given the MACs of the whole IMP search (' + str(r.imp_equal) + ' epochs) is as accurate as the ticket')}; "
        f"against the dense network: {v('SET given the MACs of the whole IMP search (' + str(r.imp_equal) + ' epochs) is as accurate as the dense')}.",
        "",
        f"*Topology.* SET networks of different seeds against independent random graphs: {v('SET networks of different')}; "
        f"{n['distances']}. The paper's claim that SET unveils many very different sub-networks that are winning "
        f"tickets: {v('SET unveils many')}.",
        "",
        f"*Cost (a separate finding).* {n['costs']} Reaching the ticket's accuracy more than {p.cost_factor:g}x more "
        f"cheaply than IMP: {v('Cost: SET reaches the ticket')}; the dense network's: {v('Cost: SET reaches the dense')} "
        "(estimates in log10 of the cost ratio).",
        "",
        f"*Convergence.* {n['convergence']}. {n['spreads']}.",
        "",
        "*Limitations.* " + "; ".join(_limitations(r)) + ".",
    ]
    return "\n".join(lines)
