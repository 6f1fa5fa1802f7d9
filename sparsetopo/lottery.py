"""Lottery tickets by iterative magnitude pruning (IMP), and their controls.

The search (Frankle & Carbin 2019, with optional late rewinding as in
Frankle et al. 2020):

1. train the dense network (round 0);
2. prune the smallest-magnitude surviving weights of every layer;
3. rewind the surviving weights (and all biases) to their values at
   initialisation, or after epoch ``rewind_epoch`` of the dense training;
4. retrain with the mask fixed (a ``method="static"`` run with explicit masks);
5. repeat 2–4 until the hidden layers reach ``target_density``.

Schedule
--------
With prune fraction ``p`` the search has ``n`` pruned rounds, the smallest
``n`` with ``(1 - p)^n <= target_density``. Round ``r`` of a hidden layer of
size ``n_out x n_in`` keeps ``round((1 - p)^r n_in n_out)`` edges (so about
``p`` of the remaining weights go each round), except the last, which keeps
``round(target_density n_in n_out)``: exactly the count that
:func:`sparsetopo.topology.masks.edges_for_density` gives an Erdős–Rényi layer of
that density, so a ticket can be compared with static and SET networks of
the same size (:func:`control_configs`). The last round therefore prunes a
fraction ``<= p``.

The output layer follows its own schedule and has no target of its own: it
keeps ``round((1 - p_out)^r n_in n_out)`` edges in round ``r``, with
``p_out = output_prune_fraction`` (default ``p / 2``, the rate Frankle &
Carbin used for the output layer of fully connected networks; 0 keeps it
dense). Its final density is thus ``(1 - p_out)^n``, about
``sqrt(target_density)`` with the default rate.

Pruning keeps exact counts: the top-k surviving weights by magnitude, ties
broken deterministically (the lower flat index in ``(n_out, n_in)`` order,
then the lower layer, wins). With ``global_pruning`` the hidden layers are
ranked together under one magnitude threshold: their *total* edge count
follows the schedule (the sum of the per-layer counts above), the split
between layers is the network's; the output layer keeps its own rate.

Each pruned round trains ``round_epochs`` epochs from the rewound weights
with a fresh optimizer and learning-rate schedule (rewinding restores
weights, not optimizer state). For the "train for the rest of the schedule"
convention of late rewinding, set ``round_epochs = base.epochs - rewind_epoch``.

Storage
-------
A search lives in ``<runs root>/<lottery_id(config)>/`` (a readable slug plus
a hash of the :class:`LotteryConfig`)::

    lottery.json     config, widths, planned edge counts, finished rounds, complete flag
    round_00/        the dense run (a sparsetopo.training.loop.train_run folder)
    round_01/ ...    pruned rounds; topology/epoch_000.npz is the round's mask,
                     weights/init.pt its rewound weights
    ticket.npz       the final mask (sparsetopo.topology.masks format), once complete

Finished rounds (those with ``result.json``) are never retrained, and the
round in progress resumes from its checkpoint, so calling :func:`find_ticket`
again after an interruption continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from . import atomic
from .data import dataset_info
from .parallel import progress_bar
from .store.config import RunConfig, config_hash, short_hash, slug_number
from .store.runs import Run, is_complete, load_run, runs_root
from .topology.masks import edge_counts, edges_for_density, save_topology

__all__ = [
    "LotteryConfig",
    "Ticket",
    "n_rounds",
    "pruning_schedule",
    "magnitude_prune",
    "lottery_id",
    "lottery_directory",
    "find_ticket",
    "load_ticket",
    "ticket_layer_edges",
    "control_configs",
    "train_controls",
    "CONTROLS",
]

LOTTERY_JSON = "lottery.json"
TICKET_MASK = "ticket.npz"
CONTROLS = ("reinit", "random_static", "set")
"""The controls a ticket is compared with: re-initialised ticket, random static mask of its density, SET at its density."""

# (1 - p)^n is compared with the target up to this relative slack, so that
# 0.8**2 = 0.6400000000000001 counts as reaching a target of 0.64.
_REL_TOL = 1e-9


@dataclass(frozen=True)
class LotteryConfig:
    """Everything that defines one iterative-magnitude-pruning search."""

    base: RunConfig = field(
        default_factory=lambda: RunConfig(method="dense"),
        metadata={"help": "the dense run of round 0 (method must be 'dense'); its dataset, widths, optimizer and seed serve every round"},
    )
    prune_fraction: float = field(default=0.2, metadata={"help": "p: fraction of the remaining weights of each hidden layer pruned per round, in (0, 1)"})
    output_prune_fraction: float | None = field(
        default=None, metadata={"help": "fraction of the output layer's remaining weights pruned per round, in [0, 1) (default p / 2; 0 keeps it dense)"}
    )
    target_density: float = field(default=0.1, metadata={"help": "final density of every hidden layer, in (0, 1]; the last round lands on it exactly"})
    global_pruning: bool = field(default=False, metadata={"help": "rank the hidden layers' weights together under one magnitude threshold"})
    rewind_epoch: int = field(default=0, metadata={"help": "0: rewind to the initial weights; r > 0: to the weights after epoch r of the dense run"})
    round_epochs: int | None = field(default=None, metadata={"help": "training epochs of each pruned round (default base.epochs)"})

    def __post_init__(self) -> None:
        if isinstance(self.base, dict):
            object.__setattr__(self, "base", RunConfig.from_dict(self.base))
        if not isinstance(self.base, RunConfig):
            raise TypeError(f"base must be a RunConfig, got {type(self.base).__name__}")
        if self.base.method != "dense":
            raise ValueError(
                f"base.method={self.base.method!r}; the search starts from a dense run: "
                "pass base=RunConfig(method='dense', ...) (or base.replace(method='dense'))"
            )
        p = float(self.prune_fraction)
        if not 0 < p < 1:
            raise ValueError(f"prune_fraction must be in (0, 1), got {self.prune_fraction}; 0.2 prunes 20% of the remaining weights per round")
        object.__setattr__(self, "prune_fraction", p)
        p_out = p / 2 if self.output_prune_fraction is None else float(self.output_prune_fraction)
        if not 0 <= p_out < 1:
            raise ValueError(f"output_prune_fraction must be in [0, 1), got {self.output_prune_fraction}; 0 keeps the output layer dense")
        object.__setattr__(self, "output_prune_fraction", p_out)
        d = float(self.target_density)
        if not 0 < d <= 1:
            raise ValueError(f"target_density must be in (0, 1], got {self.target_density}; e.g. 0.1 keeps 10% of each hidden layer")
        object.__setattr__(self, "target_density", d)
        if isinstance(self.rewind_epoch, bool) or int(self.rewind_epoch) != self.rewind_epoch:
            raise ValueError(f"rewind_epoch must be an integer epoch, got {self.rewind_epoch!r}")
        r = int(self.rewind_epoch)
        if r < 0:
            raise ValueError(f"rewind_epoch must be >= 0 (0 rewinds to the initial weights), got {r}")
        if r > self.base.epochs:
            raise ValueError(
                f"rewind_epoch={r} is beyond the dense run's {self.base.epochs} epochs (base.epochs); "
                f"choose 0..{self.base.epochs} or raise base.epochs"
            )
        object.__setattr__(self, "rewind_epoch", r)
        round_epochs = self.base.epochs if self.round_epochs is None else int(self.round_epochs)
        if round_epochs < 1:
            raise ValueError(f"round_epochs must be >= 1, got {self.round_epochs}")
        object.__setattr__(self, "round_epochs", round_epochs)
        object.__setattr__(self, "global_pruning", bool(self.global_pruning))

    @property
    def n_rounds(self) -> int:
        """Number of pruned rounds (round 0, the dense run, not counted)."""
        return n_rounds(self.prune_fraction, self.target_density)

    def round_config(self, layer_edges: Sequence[int]) -> RunConfig:
        """The RunConfig of a pruned round whose mask has ``layer_edges`` edges."""
        return self.base.replace(method="static", layer_edges=tuple(int(e) for e in layer_edges), epochs=self.round_epochs)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain dict, the base run's config included (what ``lottery.json`` holds)."""
        d = dataclasses.asdict(self)
        d["base"] = self.base.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LotteryConfig":
        """The config of a dict written by :meth:`to_dict`; unknown fields raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown LotteryConfig fields {sorted(unknown)}")
        d = dict(d)
        if "base" in d:
            d["base"] = RunConfig.from_dict(d["base"])
        return cls(**d)

    def replace(self, **changes: Any) -> "LotteryConfig":
        """A copy with ``changes`` (checked like a new config)."""
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- schedule


def n_rounds(prune_fraction: float, target_density: float) -> int:
    """Smallest ``n >= 0`` with ``(1 - prune_fraction)^n <= target_density``.

    Examples
    --------
    >>> n_rounds(0.2, 0.5)  # 0.8^3 = 0.512, 0.8^4 = 0.4096
    4
    """
    if not 0 < prune_fraction < 1:
        raise ValueError(f"prune_fraction must be in (0, 1), got {prune_fraction}")
    if not 0 < target_density <= 1:
        raise ValueError(f"target_density must be in (0, 1], got {target_density}")
    n = 0
    while (1 - prune_fraction) ** n > target_density * (1 + _REL_TOL):
        n += 1
    return n


def pruning_schedule(config: LotteryConfig, widths: Sequence[int]) -> list[list[int]]:
    """Planned edge count of every layer in every round.

    Parameters
    ----------
    config : LotteryConfig
    widths : sequence of int
        Input, hidden and output sizes, e.g. ``(64, 32, 32, 10)``.

    Returns
    -------
    list of list of int
        ``schedule[r][k]``: edges of layer ``k`` in round ``r``;
        ``schedule[0]`` is the dense network, ``schedule[-1]`` the ticket.
        With ``global_pruning`` only the hidden layers' sum is binding.

    Raises
    ------
    ValueError
        If a layer would be left without edges.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"widths must hold input, at least one hidden and output size, got {widths}")
    n = config.n_rounds
    n_layers = len(widths) - 1
    schedule = []
    for r in range(n + 1):
        counts = []
        for k in range(n_layers):
            size = widths[k] * widths[k + 1]
            if k == n_layers - 1:
                counts.append(edges_for_density((1 - config.output_prune_fraction) ** r, widths[k], widths[k + 1]))
            elif r == n:
                counts.append(edges_for_density(config.target_density, widths[k], widths[k + 1]))
            else:
                counts.append(int(round((1 - config.prune_fraction) ** r * size)))
        schedule.append(counts)
    for k, e in enumerate(schedule[-1]):
        if e < 1:
            raise ValueError(
                f"the schedule leaves layer {k} ({widths[k + 1]}x{widths[k]}) without edges in round {n}; "
                "raise target_density (or lower output_prune_fraction for the output layer)"
            )
    return schedule


def magnitude_prune(
    weights: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    keep: Sequence[int],
    *,
    pooled: Sequence[int] = (),
) -> list[np.ndarray]:
    """Keep the largest-magnitude surviving weights, exact counts.

    Parameters
    ----------
    weights : list of float arrays ``(n_out, n_in)``
        Trained weights of each layer.
    masks : list of bool arrays ``(n_out, n_in)``
        Current topology; only its edges are candidates.
    keep : sequence of int
        Edges to keep per layer. Layers listed in ``pooled`` are ranked
        together and keep ``sum(keep[k] for k in pooled)`` edges between them
        (one magnitude threshold); the others keep exactly ``keep[k]``.
    pooled : sequence of int
        Layer indices pruned globally.

    Returns
    -------
    list of bool arrays ``(n_out, n_in)``
        New masks, subsets of ``masks``. Among equal magnitudes the lower
        layer, then the lower flat (row-major) index, survives; NaN weights
        count as the smallest.
    """
    if not len(weights) == len(masks) == len(keep):
        raise ValueError(f"weights, masks and keep must have one entry per layer, got {len(weights)}, {len(masks)} and {len(keep)}")
    pooled = sorted({int(k) for k in pooled})
    if pooled and not 0 <= pooled[0] <= pooled[-1] < len(masks):
        raise ValueError(f"pooled lists layers {pooled} but there are {len(masks)} layers (0..{len(masks) - 1})")
    groups = [pooled] if pooled else []
    groups += [[k] for k in range(len(masks)) if k not in pooled]
    new = [np.zeros(np.shape(m), dtype=bool) for m in masks]
    for group in groups:
        layer_ids, flat_ids, mags = [], [], []
        for k in group:
            w = np.asarray(weights[k], dtype=np.float64)
            m = np.asarray(masks[k], dtype=bool)
            if w.shape != m.shape:
                raise ValueError(f"weights[{k}] has shape {w.shape} but masks[{k}] has {m.shape}; both are (n_out, n_in)")
            idx = np.flatnonzero(m.ravel())
            a = np.abs(w.ravel()[idx])
            mags.append(np.where(np.isnan(a), -np.inf, a))
            flat_ids.append(idx)
            layer_ids.append(np.full(idx.size, k))
        layer_ids, flat_ids, mags = (np.concatenate(x) for x in (layer_ids, flat_ids, mags))
        k_keep = int(sum(keep[k] for k in group))
        if not 0 <= k_keep <= mags.size:
            raise ValueError(f"cannot keep {k_keep} edges of layer(s) {group}: they have {mags.size} (keep must be in [0, {mags.size}])")
        # lexsort: last key is primary -> descending magnitude, then layer, then index
        order = np.lexsort((flat_ids, layer_ids, -mags))[:k_keep]
        for k in group:
            sel = order[layer_ids[order] == k]
            new[k].ravel()[flat_ids[sel]] = True
    return new


# --------------------------------------------------------------------------- store


def _lottery_hash(config: LotteryConfig, length: int = 8) -> str:
    # the base run's hash carries the dataset's fingerprint, so a search on changed data is a new search
    return short_hash({"lottery": config.to_dict(), "base": config_hash(config.base, 16)}, length)


def lottery_id(config: LotteryConfig) -> str:
    """Readable slug plus hash, e.g. ``digits-imp-h32x32-p0p2-d0p1-rw0-s0-1a2b3c4d``."""
    base = config.base
    hidden = "x".join(str(h) for h in base.hidden)
    name = base.dataset.lower().replace("/", "_")
    kind = "imp-global" if config.global_pruning else "imp"
    return (
        f"{name}-{kind}-h{hidden}-p{slug_number(config.prune_fraction)}-d{slug_number(config.target_density)}"
        f"-rw{config.rewind_epoch}-s{base.seed}-{_lottery_hash(config)}"
    )


def lottery_directory(config: LotteryConfig, root: str | os.PathLike | None = None) -> Path:
    """Folder of a search: ``<runs root>/<lottery_id(config)>``."""
    return runs_root(root) / lottery_id(config)


def _round_dir(directory: Path, r: int) -> Path:
    return directory / f"round_{r:02d}"


@dataclass(frozen=True)
class Ticket:
    """A finished (or stopped) search read back from its folder.

    Attributes
    ----------
    config : LotteryConfig
    directory : Path
        The lottery folder.
    rounds : tuple of Run
        Completed rounds in order; ``rounds[0]`` is the dense run.
    complete : bool
        Whether the last round reached the target density.
    """

    config: LotteryConfig
    directory: Path
    rounds: tuple[Run, ...]
    complete: bool

    def __repr__(self) -> str:
        if not self.rounds:
            return f"Ticket({self.directory.name!r}, no completed round)"
        density = sum(self.layer_edges) / sum(w * v for w, v in zip(self.widths[:-1], self.widths[1:]))
        return (f"Ticket({self.directory.name!r}, {len(self.rounds)} rounds, complete={self.complete}, "
                f"density {density:.4f}, final_test_acc={self.run.final_test_acc:.4f})")

    @property
    def run(self) -> Run:
        """The last completed round (the ticket's own training run when complete)."""
        return self.rounds[-1]

    @cached_property
    def masks(self) -> list[np.ndarray]:
        """The ticket's topology: bool arrays ``(n_out, n_in)`` of the last round."""
        return self.run.topology(0)

    @property
    def layer_edges(self) -> tuple[int, ...]:
        """Edges per layer of the ticket, for ``RunConfig(layer_edges=...)``."""
        return tuple(self.run.summary["edges"])

    @property
    def widths(self) -> list[int]:
        """Layer widths of the network, input to output."""
        return list(self.run.summary["widths"])

    @property
    def densities(self) -> list[list[float]]:
        """Per-layer densities of every round, ``densities[r][k]``."""
        w = self.widths
        sizes = [w[k] * w[k + 1] for k in range(len(w) - 1)]
        return [[e / s for e, s in zip(run.summary["edges"], sizes)] for run in self.rounds]

    @property
    def accuracies(self) -> list[float]:
        """Final test accuracy of every round."""
        return [run.final_test_acc for run in self.rounds]

    @property
    def rewind_state(self) -> dict[str, torch.Tensor]:
        """The ticket's starting weights: the rewound weights on its mask (its ``weights/init.pt``)."""
        return self.run.state_dict("init")

    @property
    def mask_path(self) -> Path:
        """The ticket's mask as a topology file (written once the search is complete)."""
        return self.directory / TICKET_MASK

    def summary(self) -> pd.DataFrame:
        """One row per round: densities, edges, accuracies, training time."""
        w = self.widths
        total = sum(w[k] * w[k + 1] for k in range(len(w) - 1))
        rows = []
        for r, (run, dens) in enumerate(zip(self.rounds, self.densities)):
            rows.append(
                {
                    "round": r,
                    "edges": list(run.summary["edges"]),
                    "densities": dens,
                    "total_density": sum(run.summary["edges"]) / total,
                    "final_test_acc": run.final_test_acc,
                    "best_test_acc": float(run.summary["best_test_acc"]),
                    "train_seconds": float(run.summary["train_seconds"]),
                }
            )
        return pd.DataFrame(rows)


def _round_record(r: int, run: Run) -> dict[str, Any]:
    w = run.summary["widths"]
    return {
        "round": r,
        "directory": run.directory.name,
        "edges": list(run.summary["edges"]),
        "densities": [e / (w[k] * w[k + 1]) for k, e in enumerate(run.summary["edges"])],
        "final_test_acc": run.final_test_acc,
        "best_test_acc": run.summary["best_test_acc"],
        "train_seconds": run.summary["train_seconds"],
    }


def _write_lottery_json(directory: Path, config: LotteryConfig, widths, schedule, runs: Sequence[Run]) -> None:
    complete = len(runs) == len(schedule)
    atomic.write_json(
        directory / LOTTERY_JSON,
        {
            "lottery_id": directory.name,
            "config": config.to_dict(),
            "widths": list(widths),
            "n_rounds": len(schedule) - 1,
            "planned_edges": schedule,
            "rounds": [_round_record(r, run) for r, run in enumerate(runs)],
            "complete": complete,
            "ticket_mask": TICKET_MASK if complete else None,
        },
    )


def _check_stored_config(directory: Path, config: LotteryConfig) -> None:
    path = directory / LOTTERY_JSON
    if path.exists():
        stored = atomic.read_json(path)["config"]
        if stored != json.loads(json.dumps(config.to_dict(), default=list)):
            raise RuntimeError(f"{path} holds a different LotteryConfig than the one asked for (hash collision?)")


def _train_round(config: RunConfig, run_dir: Path, progress: bool | None, **kwargs: Any) -> Run:
    # the round's folder is named by the search's id and the round index, which fix its mask and weights
    from .store.runs import train_into

    return train_into(run_dir, config, progress=progress, **kwargs)


def _rewind_source(directory: Path, config: LotteryConfig) -> dict[str, torch.Tensor]:
    dense = load_run(_round_dir(directory, 0))
    which = "init" if config.rewind_epoch == 0 else f"epoch_{config.rewind_epoch:03d}"
    return dense.state_dict(which)


def find_ticket(
    config: LotteryConfig,
    root: str | os.PathLike | None = None,
    *,
    progress: bool | None = None,
    stop_after: int | None = None,
) -> Ticket:
    """Run (or resume, or read back) an iterative-magnitude-pruning search.

    Parameters
    ----------
    config : LotteryConfig
    root : path, optional
        Runs root (default ``$SPARSETOPO_RUNS`` or ``./runs``).
    progress : bool, optional
        Draw progress bars over rounds and epochs; ``None`` follows the package's verbosity.
    stop_after : int, optional
        Stop once round ``stop_after`` is complete (0 = the dense run only),
        even if the target density is not reached yet; calling again without
        it finishes the search, skipping the rounds already done.

    Returns
    -------
    Ticket
        ``complete`` is False when ``stop_after`` cut the search short.
    """
    if stop_after is not None and (isinstance(stop_after, bool) or int(stop_after) != stop_after or stop_after < 0):
        raise ValueError(f"stop_after must be a round index >= 0 (0 = the dense run only) or None, got {stop_after!r}")
    info = dataset_info(config.base.dataset, validation_fraction=config.base.validation_fraction)
    widths = info.widths(config.base.hidden)
    schedule = pruning_schedule(config, widths)
    directory = lottery_directory(config, root)
    directory.mkdir(parents=True, exist_ok=True)
    _check_stored_config(directory, config)
    last = len(schedule) - 1 if stop_after is None else min(int(stop_after), len(schedule) - 1)
    n_hidden = len(widths) - 2
    pooled = tuple(range(n_hidden)) if config.global_pruning else ()

    runs: list[Run] = []
    if not (directory / LOTTERY_JSON).exists():
        _write_lottery_json(directory, config, widths, schedule, runs)
    rewind = None
    bar = progress_bar(range(last + 1), desc=f"IMP {directory.name}", progress=progress, leave=False)
    for r in bar:
        run_dir = _round_dir(directory, r)
        if is_complete(run_dir):
            run = load_run(run_dir)
        elif r == 0:
            saves = (config.rewind_epoch,) if config.rewind_epoch > 0 else ()
            run = _train_round(config.base, run_dir, progress, save_weights_at=saves)
        else:
            previous = runs[-1]
            final = previous.state_dict("final")
            weights = [final[f"layers.{k}.weight"].numpy() for k in range(len(widths) - 1)]
            masks = magnitude_prune(weights, previous.topology(0), schedule[r], pooled=pooled)
            if rewind is None:
                rewind = _rewind_source(directory, config)
            run = _train_round(config.round_config(edge_counts(masks)), run_dir, progress, masks=masks, initial_state=rewind)
        runs.append(run)
        _write_lottery_json(directory, config, widths, schedule, runs)
        bar.set_postfix(density=f"{sum(run.summary['edges']) / sum(widths[k] * widths[k + 1] for k in range(len(widths) - 1)):.3f}",
                        test_acc=f"{run.final_test_acc:.4f}")
    bar.close()
    complete = len(runs) == len(schedule)
    if complete and not (directory / TICKET_MASK).exists():
        save_topology(directory / TICKET_MASK, runs[-1].topology(0), lottery_id=directory.name, round=len(runs) - 1)
    return Ticket(config, directory, tuple(runs), complete)


def load_ticket(directory: str | os.PathLike) -> Ticket:
    """Read a search back from its lottery folder (complete or not)."""
    directory = Path(directory)
    path = directory / LOTTERY_JSON
    if not path.exists():
        raise FileNotFoundError(f"{directory} is not a lottery folder (no {LOTTERY_JSON}); run find_ticket(config) to create it")
    meta = atomic.read_json(path)
    config = LotteryConfig.from_dict(meta["config"])
    runs = []
    for r in range(meta["n_rounds"] + 1):
        if not is_complete(_round_dir(directory, r)):
            break
        runs.append(load_run(_round_dir(directory, r)))
    if not runs:
        raise FileNotFoundError(f"{directory} holds no completed round yet; run find_ticket(config) to train it")
    return Ticket(config, directory, tuple(runs), len(runs) == meta["n_rounds"] + 1)


def ticket_layer_edges(ticket: Ticket | Sequence[np.ndarray]) -> tuple[int, ...]:
    """Per-layer edge counts of a ticket (or of its masks), for ``RunConfig(layer_edges=...)``."""
    if isinstance(ticket, Ticket):
        return ticket.layer_edges
    return tuple(edge_counts(ticket))


# --------------------------------------------------------------------------- controls


def control_configs(
    ticket: Ticket, *, seed: int | None = None, zeta: float = 0.3, epochs: int | None = None,
    weight_init: str | None = None,
) -> dict[str, RunConfig]:
    """RunConfigs of the three controls at the ticket's per-layer edge counts.

    Parameters
    ----------
    ticket : Ticket
        A complete search.
    seed : int, optional
        Seed of the controls' weights, batch order and topology (default
        ``base.seed + 1``, so none shares the ticket's initialisation).
    zeta : float
        SET rewiring fraction of the ``"set"`` control.
    epochs : int, optional
        Training epochs of every control (default: ``round_epochs``, what
        each IMP round trains). SET rewires after every epoch, so it usually
        needs more epochs than a round to settle.
    weight_init : str, optional
        Initialisation of the two Frankle & Carbin controls (``"reinit"`` and
        ``"random_static"``). Default: the ticket's own distribution, the dense
        network's initialisation masked (``"dense"`` when the base run uses
        ``"sparse"``, whose fan-in rescaling is the identity on the dense network
        that IMP starts from; the base run's scheme otherwise), so a control
        differs from the ticket in its mask or its draw, never in its scale.

    Returns
    -------
    dict
        ``"reinit"``: the ticket's mask (``initial_topology=ticket.mask_path``)
        with fresh weights from ``seed``; ``"random_static"``: a random static
        mask with the ticket's per-layer edge counts; ``"set"``: SET from a
        random mask with those counts, with the base run's initialisation (a
        sparse output layer is rewired only if the base config asks for it).
        All train ``epochs`` epochs with the base run's optimizer.
    """
    if not isinstance(ticket, Ticket):
        raise TypeError(f"ticket must be a Ticket (from find_ticket or load_ticket), got {type(ticket).__name__}")
    if not ticket.complete:
        raise ValueError(
            f"the search in {ticket.directory} stopped after round {len(ticket.rounds) - 1} of {ticket.config.n_rounds}; "
            "call find_ticket(config) without stop_after to finish it before training controls"
        )
    if not ticket.mask_path.exists():
        save_topology(ticket.mask_path, ticket.masks, lottery_id=ticket.directory.name, round=len(ticket.rounds) - 1)
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    base = ticket.config.base.replace(epochs=ticket.config.round_epochs if epochs is None else int(epochs))
    seed = base.seed + 1 if seed is None else int(seed)
    if weight_init is None:
        weight_init = "dense" if base.weight_init == "sparse" else base.weight_init
    edges = ticket.layer_edges
    return {
        "reinit": base.replace(method="static", initial_topology=str(ticket.mask_path.resolve()), seed=seed,
                               topology_seed=None, weight_init=weight_init),
        "random_static": base.replace(method="static", layer_edges=edges, seed=seed, topology_seed=None,
                                      weight_init=weight_init),
        "set": base.replace(method="set", layer_edges=edges, zeta=zeta, seed=seed, topology_seed=None),
    }


def train_controls(
    ticket: Ticket,
    root: str | os.PathLike | None = None,
    *,
    progress: bool | None = None,
    seed: int | None = None,
    zeta: float = 0.3,
    epochs: int | None = None,
    weight_init: str | None = None,
) -> dict[str, Run]:
    """Train the controls of :func:`control_configs` through the run store.

    Finished controls are read back, not retrained. Returns the runs by name.
    """
    from . import store

    configs = control_configs(ticket, seed=seed, zeta=zeta, epochs=epochs, weight_init=weight_init)
    return {name: store.train(cfg, root=root, progress=progress) for name, cfg in configs.items()}
