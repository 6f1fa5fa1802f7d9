"""Training cost of runs in multiply-accumulate operations (MACs) and seconds.

The MAC model
-------------
A masked linear layer with ``e`` active edges costs, per sample:

* forward: ``e`` MACs (one per active weight);
* backward: ``2 e`` MACs: ``e`` for the gradient with respect to the layer's
  input activations and ``e`` for the gradient with respect to its weights.

So one training epoch over ``n_train`` samples costs
``3 x sum_k e_k x n_train`` MACs, where ``e_k`` are the edges active during
that epoch, read from the run's records (``metrics.json``) and its initial
topology: constant for dense, static and SET runs (SET moves edges but keeps
their number), shrinking from one IMP round to the next.

Assumptions, as in the sparse-training literature (e.g. RigL, ITOP):

* this is the *sparse ideal*: on CPU (and GPU) this project computes masked
  layers as dense matmuls, so the measured ``wall_seconds`` do not shrink
  with the density the way the MACs do;
* the backward pass is counted as twice the forward pass for every layer,
  including the first one, whose input gradient a framework could skip;
* biases are left out unless ``include_bias=True``, which adds ``n_out``
  additions per layer and sample to the forward pass and ``n_out`` gradient
  accumulations to the backward pass;
* activations, the loss, the optimizer update, mask enforcement and SET's
  prune-and-regrow are not counted (all are linear in the number of weights
  or neurons per *step*, not per sample);
* evaluation (the forward passes over the test and validation splits after
  every epoch) is kept apart in ``macs_eval`` and only counted when asked
  for (``include_eval=True``); it is never part of ``macs``.

``wall_seconds`` is the sum of the recorded ``epoch_time`` of every epoch
(training, evaluation and rewiring of that epoch; no startup, no I/O between
runs).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .store.runs import Run, load_run
from .topology.masks import edge_counts

__all__ = ["TrainingCost", "macs_per_sample", "training_cost", "round_costs", "lottery_cost"]


@dataclass(frozen=True)
class TrainingCost:
    """Cost of training one or more runs (sums add up with ``+``)."""

    macs: int = field(default=0, metadata={"help": "training MACs: macs_forward + macs_backward"})
    macs_forward: int = field(default=0, metadata={"help": "MACs of the training forward passes"})
    macs_backward: int = field(default=0, metadata={"help": "MACs of the backward passes (2 x forward without biases)"})
    macs_eval: int = field(default=0, metadata={"help": "MACs of the evaluation forward passes (0 unless include_eval)"})
    wall_seconds: float = field(default=0.0, metadata={"help": "sum of the recorded epoch times"})
    epochs: int = field(default=0, metadata={"help": "epochs trained"})
    runs: int = field(default=0, metadata={"help": "runs summed"})

    def __add__(self, other: "TrainingCost") -> "TrainingCost":
        if not isinstance(other, TrainingCost):
            return NotImplemented
        return TrainingCost(**{k: v + getattr(other, k) for k, v in asdict(self).items()})

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain dict."""
        return asdict(self)


def macs_per_sample(layer_edges: Sequence[int], biases: Sequence[int] | None = None) -> tuple[int, int]:
    """Forward and backward MACs of one training sample.

    Parameters
    ----------
    layer_edges : sequence of int
        Active edges per layer.
    biases : sequence of int, optional
        Bias count (``n_out``) per layer, to count biases too.

    Returns
    -------
    forward, backward : int
        ``sum(e) (+ sum(b))`` and ``2 sum(e) (+ sum(b))``.
    """
    edges = sum(int(e) for e in layer_edges)
    if min((int(e) for e in layer_edges), default=0) < 0:
        raise ValueError(f"layer_edges must be non-negative counts, got {list(layer_edges)}")
    b = 0 if biases is None else sum(int(x) for x in biases)
    return edges + b, 2 * edges + b


def _as_run(run: Run | str | os.PathLike) -> Run:
    if isinstance(run, Run):
        return run
    if isinstance(run, (str, os.PathLike)):
        return load_run(Path(run))
    raise TypeError(f"run must be a store.Run or the path of a run folder, got {type(run).__name__}")


def _split_sizes(run: Run) -> tuple[int, int]:
    from .data import dataset_info

    info = dataset_info(run.config.dataset, validation_fraction=run.config.validation_fraction)
    n_train = info.n_train if run.config.train_samples is None else min(info.n_train, run.config.train_samples)
    return n_train, info.n_test + info.n_val


def training_cost(
    run: Run | str | os.PathLike,
    *,
    include_bias: bool = False,
    include_eval: bool = False,
    n_train: int | None = None,
) -> TrainingCost:
    """MACs and wall time of training one complete run (see the module docstring).

    Parameters
    ----------
    run : Run or path
        A complete run (dense, static, SET, or one IMP round).
    include_bias : bool
        Count bias additions and bias gradients too.
    include_eval : bool
        Fill ``macs_eval`` with the per-epoch evaluation passes.
    n_train : int, optional
        Training samples per epoch (default: the size of the run's training
        split, read from its dataset).

    Returns
    -------
    TrainingCost
    """
    run = _as_run(run)
    records = run.records
    if not records:
        raise ValueError(f"run {run.directory} has no epoch records; it never trained")
    if n_train is None or include_eval:
        n_train_data, n_eval = _split_sizes(run)
        n_train = n_train_data if n_train is None else n_train
    if int(n_train) != n_train or n_train < 1:
        raise ValueError(f"n_train must be a positive sample count, got {n_train}")
    biases = list(run.summary["widths"][1:]) if include_bias else None
    # a record's edges are those after its epoch (and its SET rewiring), so
    # epoch e trains on the edges recorded at e-1 and epoch 1 on the initial topology
    during = [edge_counts(run.topology(0))] + [r["edges"] for r in records[:-1]]
    forward = backward = evaluation = 0
    for edges in during:
        f, b = macs_per_sample(edges, biases)
        forward += f * int(n_train)
        backward += b * int(n_train)
        if include_eval:
            evaluation += macs_per_sample(edges, biases)[0] * n_eval
    return TrainingCost(
        macs=forward + backward,
        macs_forward=forward,
        macs_backward=backward,
        macs_eval=evaluation,
        wall_seconds=float(sum(r["epoch_time"] for r in records)),
        epochs=len(records),
        runs=1,
    )


def round_costs(ticket: Any, **kwargs: Any) -> list[TrainingCost]:
    """:func:`training_cost` of every round of an IMP search (a Ticket or its folder)."""
    from .lottery import Ticket, load_ticket

    if not isinstance(ticket, Ticket):
        if not isinstance(ticket, (str, os.PathLike)):
            raise TypeError(f"ticket must be a lottery.Ticket or the path of a lottery folder, got {type(ticket).__name__}")
        ticket = load_ticket(ticket)
    return [training_cost(run, **kwargs) for run in ticket.rounds]


def lottery_cost(ticket: Any, **kwargs: Any) -> TrainingCost:
    """Total cost of an IMP search: the dense run plus every pruned round.

    Keyword arguments go to :func:`training_cost`.
    """
    return sum(round_costs(ticket, **kwargs), TrainingCost())
