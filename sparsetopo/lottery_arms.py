"""A lottery ticket and the networks it is compared with, all at its per-layer edge counts.

For each seed an IMP search (:func:`sparsetopo.lottery.find_ticket`) finds a
ticket; beside it train, at the ticket's exact per-layer edge counts:

``"reinit"`` and ``"random_static"``
    Frankle & Carbin's controls: the ticket's mask from fresh weights, and a
    random static mask, both drawn from the ticket's own initial distribution
    (``RunConfig(weight_init="dense")``: the dense initialisation, masked) and
    trained as many epochs as a round of the search.
``("set", b)``
    SET from a random mask (output layer never rewired) with the same initial
    distribution, for a budget of ``b`` epochs; :func:`imp_equal_epochs` gives
    the budget whose training MACs equal those of the whole search.
``("dense", b)``
    The search's own dense network (its configuration and seed) trained for
    ``b`` epochs, for budgets longer than a round: with a constant learning
    rate its first ``round_epochs`` epochs repeat the search's dense round, and
    the rest shows where the dense network plateaus.

With per-layer pruning the ticket's edge counts are the pruning schedule's
last row, known before the search runs, so everything but the re-initialised
ticket trains beside the search (:func:`run_all`). The controls of the search
with seed ``s`` use seed ``s +`` :data:`CONTROL_SEED_OFFSET`; the random static
mask and the SET runs of one search share it, so every SET run of a search
starts from that search's random static mask.

This module also measures the arms: the scale of their initial weights
(:func:`initial_weight_scales`) and where a learning curve first reaches an
accuracy (:func:`first_reach`, :func:`reach_costs`).
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import store
from .lottery import LotteryConfig, Ticket, find_ticket, load_ticket, lottery_directory, pruning_schedule
from .parallel import parallel_map, show_progress
from .store.config import RunConfig

__all__ = ["CONTROL_SEED_OFFSET", "lottery_configs", "imp_equal_epochs", "set_budgets", "control_run_configs",
           "run_all", "initial_weight_scales", "first_reach", "reach_costs"]

CONTROL_SEED_OFFSET = 1000
"""Controls of the search with seed s use seed s + this (their own weights, batches and masks)."""


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


def _search_work(config: LotteryConfig, widths: Sequence[int]) -> float:
    """Edges x epochs summed over the dense run and every round of a search."""
    schedule = pruning_schedule(config, widths)
    return float(config.base.epochs * sum(schedule[0]) + config.round_epochs * sum(sum(r) for r in schedule[1:]))


def imp_equal_epochs(config: LotteryConfig, widths: Sequence[int]) -> int:
    """SET epochs at the ticket's edge counts whose training MACs reach those of the whole IMP search.

    Every epoch of a run with ``e`` edges costs ``3 e n_train`` MACs
    (:mod:`sparsetopo.cost`), so the search (dense run and every round, each
    ``round_epochs`` epochs, the schedule's edge counts) costs as much as
    ``ceil(sum over rounds of epochs x edges / ticket edges)`` SET epochs, whatever
    ``n_train``. With global pruning the per-layer split varies but the total
    does not.
    """
    ticket = sum(pruning_schedule(config, widths)[-1])
    return int(math.ceil(_search_work(config, widths) / ticket - 1e-9))


def set_budgets(epochs: int, set_epochs: Sequence[int], equal: int) -> list[int]:
    """The SET budgets in epochs: ``epochs`` (equal epochs), ``set_epochs`` and ``equal`` (IMP's MACs), sorted."""
    return sorted({int(epochs), *[int(b) for b in set_epochs], int(equal)})


def control_run_configs(
    config: LotteryConfig,
    widths: Sequence[int],
    *,
    seed: int,
    zeta: float,
    set_epochs: Sequence[int],
    ticket: Ticket | None = None,
    set_options: Mapping[str, Any] | None = None,
    dense_epochs: Sequence[int] = (),
) -> dict[Any, RunConfig]:
    """RunConfigs of the controls of one search, at the ticket's per-layer edge counts.

    The re-initialised ticket needs the ticket's mask (``ticket``) and is
    left out without it.

    Returns
    -------
    dict
        ``"random_static"``, ``("set", b)`` for every budget ``b`` in
        ``set_epochs``, ``("dense", b)`` for every budget ``b`` in
        ``dense_epochs`` (the search's dense configuration and seed, ``b``
        epochs) and, given ``ticket``, ``"reinit"``. Every other control uses
        ``weight_init="dense"`` (the ticket's initial distribution), seed
        ``seed`` and the search's optimizer, schedule and training subset;
        the static controls train ``round_epochs`` epochs; SET never rewires
        the output layer. ``set_options`` are RunConfig fields laid over the
        SET runs only (e.g. a recipe's optimiser, dropout and initialisation);
        the edge counts, seed, data and epochs stay the arm's.
    """
    if config.global_pruning:
        raise ValueError("global pruning fixes only the total edge count in advance; the controls need per-layer "
                         "counts, so use per-layer pruning (global_pruning=False)")
    edges = tuple(pruning_schedule(config, widths)[-1])
    # the dense initialisation, masked: the distribution the ticket's rewound weights come from
    base = config.base.replace(seed=int(seed), topology_seed=None, weight_init="dense", epochs=config.round_epochs)
    out: dict[Any, RunConfig] = {"random_static": base.replace(method="static", layer_edges=edges)}
    fixed = {"method", "layer_edges", "zeta", "rewire_output", "epochs", "seed", "dataset", "hidden", "train_samples"}
    clash = sorted(set(set_options or {}) & fixed)
    if clash:
        raise ValueError(f"set_options may not change {clash}: the arm fixes them (edge counts, seed, data, budget)")
    for b in set_epochs:
        out[("set", int(b))] = base.replace(**dict(set_options or {}), method="set", layer_edges=edges, zeta=zeta,
                                            rewire_output=False, epochs=int(b))
    for b in dense_epochs:
        if int(b) < 1:
            raise ValueError(f"dense_epochs must be positive epoch counts, got {list(dense_epochs)}")
        out[("dense", int(b))] = config.base.replace(epochs=int(b))
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


def _complete(config: LotteryConfig, root) -> bool:
    try:
        return load_ticket(lottery_directory(config, root)).complete
    except FileNotFoundError:
        return False


def run_all(
    configs: Sequence[LotteryConfig],
    widths: Sequence[int],
    root: str | os.PathLike | None = None,
    *,
    n_jobs: int = 1,
    zeta: float = 0.3,
    set_epochs: Sequence[int] = (),
    seed_offset: int = CONTROL_SEED_OFFSET,
    set_options: Mapping[str, Any] | None = None,
    dense_epochs: Sequence[int] = (),
) -> tuple[list[Ticket], list[dict[Any, store.Run]]]:
    """Run (or read back) every search and its controls; return the tickets and their controls.

    The searches, random static and SET runs go to one pool, the longest
    first, so that ``n_jobs`` workers stay busy; the re-initialised tickets
    follow once their masks exist. Finished work is only read back. The
    controls of each search are keyed as in :func:`control_run_configs`,
    ``"reinit"`` included; ``set_options`` reach the SET runs only;
    ``dense_epochs`` adds the longer dense runs.
    """
    from .store.runs import runs_root

    root = str(runs_root(root))
    configs = list(configs)
    controls = [control_run_configs(c, widths, seed=c.base.seed + seed_offset, zeta=zeta, set_epochs=set_epochs,
                                    set_options=set_options, dense_epochs=dense_epochs) for c in configs]
    items = [("imp", c, root) for c in configs if not _complete(c, root)]
    items += [("run", rc, root) for ctrl in controls for rc in ctrl.values()
              if not store.is_complete(store.run_directory(rc, root))]
    # planned training work (edges x epochs): the longest first
    dense_edges = sum(int(a) * int(b) for a, b in zip(widths[:-1], widths[1:]))
    items.sort(key=lambda it: -(_search_work(it[1], widths) if it[0] == "imp" else float(
        it[1].epochs * (dense_edges if it[1].layer_edges is None else sum(it[1].layer_edges)))))
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


def initial_weight_scales(tickets: Sequence[Ticket], controls: Sequence[dict]) -> pd.DataFrame:
    """Standard deviation of the present initial weights, per seed, arm and layer.

    The ticket's are its rewound weights on its mask; the controls' their
    ``weights/init.pt``. ``dense_init_sd`` is the SD of the dense
    initialisation the ticket was drawn from, ``U(±1/sqrt(n_in))``, i.e.
    ``1/sqrt(3 n_in)``. The ticket's survivors were selected by their trained
    magnitude, which correlates with their initial one, so the ticket's SD
    lies somewhat above that of the distribution it was drawn from: the
    like-for-like reference is the SD of all the weights the ticket was
    rewound from (``ratio_to_rewind_source``).

    Returns
    -------
    DataFrame
        ``seed, arm`` (``"IMP ticket"``, ``"ticket mask, re-init"``, ``"random static"``, ``"SET"``),
        ``layer, n_weights, init_sd, dense_init_sd, ratio_to_dense_init, ratio_to_rewind_source, ratio_to_ticket``.
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


def first_reach(curve: Sequence[float], target: float, k: int = 5) -> int | None:
    """First epoch ``b >= k`` whose mean test accuracy over epochs ``b-k+1..b`` is >= ``target`` (None: never).

    ``curve[i]`` is the accuracy after epoch ``i + 1``.
    """
    curve = np.asarray(curve, dtype=float)
    if len(curve) < k:
        return None
    rolling = np.convolve(curve, np.ones(k) / k, mode="valid")  # rolling[i]: epochs i+1..i+k
    hits = np.flatnonzero(rolling >= target - 1e-12)
    return int(hits[0] + k) if hits.size else None


def reach_costs(curves: pd.DataFrame, imp_macs: Any, targets: dict[str, float], *, k: int = 5) -> pd.DataFrame:
    """Training MACs the runs of one method need to reach each target accuracy, per seed.

    Each run's curve is scanned for the first epoch ``b`` whose ``k``-epoch
    mean reaches the target (:func:`first_reach`); the seed's cost is the
    smallest MACs up to such an epoch over its runs (stopping that run there
    gives a network of that accuracy). A seed whose runs never reach it is
    censored: ``reached`` False and ``macs`` the MACs of its longest run (a
    lower bound).

    Parameters
    ----------
    curves : one row per run and epoch: ``seed``, ``arm`` (the run, within its seed), ``epoch``, ``test_acc``
        and ``macs`` (that run's training MACs so far).
    imp_macs : the MACs of each seed's IMP search, by seed (a mapping or Series).
    targets : accuracy to reach, by name.
    k : epochs of the rolling mean.

    Returns
    -------
    DataFrame
        ``target, target_acc, seed, reached, epoch, run_epochs, macs, imp_macs, log10_ratio`` (log10 of the
        search's MACs over ``macs``; for a censored seed an upper bound).
    """
    rows = []
    for name, target in targets.items():
        for seed, part in curves.groupby("seed", sort=True):
            best, longest = None, 0.0
            for _, run_part in part.groupby("arm"):
                c = run_part.sort_values("epoch")
                longest = max(longest, float(c["macs"].max()))
                b = first_reach(c["test_acc"].to_numpy(), target, k=k)
                if b is not None and (best is None or float(c["macs"].iloc[b - 1]) < best[0]):
                    best = (float(c["macs"].iloc[b - 1]), b, int(c["epoch"].max()))
            macs = best[0] if best else longest
            imp = float(imp_macs[seed])
            rows.append({"target": name, "target_acc": target, "seed": seed, "reached": best is not None,
                         "epoch": best[1] if best else math.nan, "run_epochs": best[2] if best else math.nan,
                         "macs": macs, "imp_macs": imp, "log10_ratio": math.log10(imp / macs)})
    return pd.DataFrame(rows)
