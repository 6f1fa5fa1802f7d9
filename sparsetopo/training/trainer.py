"""The trainer: epochs of minibatch SGD with hooks per step and per epoch.

:func:`train_epochs` owns the arithmetic of an epoch (batch order, forward, backward, weight decay,
optimiser step, masks enforced, the training loss and accuracy); everything else a run does is a
:class:`Hook`: evaluation, the mask updater, the explored-parameter record, snapshots, checkpoints, a
caller's callback. :func:`sparsetopo.training.loop.train_run` assembles the hooks of a run.

Per step, for the hooks whose :meth:`Hook.acts_at_step` is true (only those are asked, so a run without
per-step work runs the plain loop): :meth:`Hook.before_update` after the backward pass (``True`` replaces
the step's weight update), :meth:`Hook.after_update` after it. Per epoch, :meth:`Hook.epoch_end` in the
order the hooks were given, each adding to the epoch's record; the record is complete when the last hook
has run. A hook's per-epoch work that must survive an interruption is written by a later hook (the
checkpoint), which is why the order matters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..model import enforce_masks, masked_layers
from ..sparse_linear import short_ops_on_one_thread, step_threads
from .updaters.base import Batch

__all__ = ["Hook", "TrainState", "train_epochs", "lr_factor", "full_rate_epochs", "explored_rates", "BatchProgress"]


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """The learning-rate multiplier of ``schedule`` (``constant``, ``cosine``, ``step``) for ``epoch`` (0-based)."""
    import math

    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    if schedule == "step":
        return 1.0 if epoch < epochs * 0.5 else (0.1 if epoch < epochs * 0.75 else 0.01)
    return 1.0


def full_rate_epochs(schedule: str, epochs: int) -> int:
    """How many epochs of a run of ``epochs`` train at the full learning rate before ``schedule`` first lowers it
    (:func:`lr_factor` below 1): all of them for ``constant``, half for ``step``, one for ``cosine``."""
    n = 0
    while n < epochs and lr_factor(schedule, n, epochs) == 1.0:
        n += 1
    return n


@dataclass
class TrainState:
    """What the trainer and its hooks share: the model, its optimiser, the data and the position in the run.

    Attributes
    ----------
    model, optimizer, scheduler : the network, its (SGD) optimiser and learning-rate schedule
    shuffle_gen : torch.Generator of the batch order (one permutation per epoch)
    x_train, y_train : training data on the model's device
    epochs, batch_size, seed : from the run's config
    weight_decay : float or None
        Decoupled weight decay applied before each step (``w <- w - wd*w``), None when coupled (inside SGD).
    records : list of dict
        One record per finished epoch.
    epoch, step : int
        The epoch being trained (1-based) and the last step taken over the run (1-based; 0 before the first).
    lr_used, epoch_started, train_time : float
        Of the epoch just trained (see :func:`train_epochs`).
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    shuffle_gen: torch.Generator
    x_train: torch.Tensor
    y_train: torch.Tensor
    epochs: int
    batch_size: int
    seed: int = 0
    weight_decay: float | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = 0
    step: int = 0
    lr_used: float = 0.0
    epoch_started: float = 0.0
    train_time: float = 0.0

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch (the last one may be smaller)."""
        return -(-len(self.x_train) // self.batch_size)


class Hook:
    """Something a run does besides the arithmetic of training; every method is a no-op by default."""

    def acts_at_step(self, step: int) -> bool:
        """Whether :meth:`before_update` / :meth:`after_update` have work at ``step`` (1-based over the run)."""
        return False

    def before_update(self, state: TrainState, step: int, batch: Batch) -> bool:
        """After the backward pass of ``step``; ``True`` replaces the step's weight update."""
        return False

    def after_update(self, state: TrainState, step: int) -> None:
        """After the weight update of ``step`` (and after the masks were enforced)."""

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        """After epoch ``epoch`` was trained: add to ``record``, write files, or stop the run by raising."""


class BatchProgress:
    """Batches done within a long epoch, as the postfix of the epoch bar.

    Silent for the first ``after`` seconds of an epoch (the study's epochs take
    seconds and their progress files stay as they were), then at most every
    ``every`` seconds: ``batch 37/469, 4.3 s/batch``. A 333,334-wide epoch takes
    most of an hour; without this its bar would sit at 0/1 all that time.
    """

    def __init__(self, bar: Any, after: float = 10.0, every: float = 5.0) -> None:
        self.bar, self.after, self.every = bar, after, every
        self.started = self.last = 0.0
        self.shown = False

    def start(self) -> None:
        """An epoch starts (its clock, and nothing shown yet)."""
        self.started = self.last = time.perf_counter()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.started >= self.after and now - self.last >= self.every:
            self.bar.set_postfix_str(f"batch {done}/{total}, {(now - self.started) / done:.1f} s/batch")
            self.last, self.shown = now, True

    def trained(self) -> None:
        """The epoch's steps are done (evaluation, rewiring and files follow)."""
        if self.shown:
            self.bar.set_postfix_str("epoch trained; evaluating, rewiring, saving")


def _train_one_epoch(state: TrainState, step_hooks: Sequence[Hook], on_batch: Callable[[int, int], None] | None = None
                     ) -> dict[str, Any]:
    """One pass over the training data in a fresh random order; the record's training loss and accuracy.

    ``on_batch(done, total)`` is called after every step with the batches done and the epoch's count."""
    model, optimizer, x_train, y_train = state.model, state.optimizer, state.x_train, state.y_train
    device = x_train.device
    params = [p for group in optimizer.param_groups for p in group["params"]]
    n = len(x_train)
    model.train()
    # dropout draws from its own generator, seeded per epoch, so a resumed run repeats them
    model.dropout_generator = torch.Generator(device=device).manual_seed(state.seed * 100_003 + state.epoch)
    order = torch.randperm(n, generator=state.shuffle_gen).to(device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    predicted = torch.empty(n, dtype=torch.int64, device=device)  # class predicted for order[i], while training
    # enforce_masks has work only where a masked layer is sparse; asked again after every topology change
    masks_to_enforce = any(not layer.is_dense for layer in masked_layers(model))
    short_ops = step_threads(model, state.batch_size) == 1  # asked again after every topology change
    for i in range(0, n, state.batch_size):
        state.step += 1
        acting = [h for h in step_hooks if h.acts_at_step(state.step)] if step_hooks else ()
        idx = order[i : i + state.batch_size]
        # a network with small sparse layers runs the step's short operations on one thread (the hooks keep
        # the caller's count): the same bits, without two threads' barriers (sparse_linear.short_ops_on_one_thread)
        with short_ops_on_one_thread(short_ops):
            xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            for p in params:  # optimizer.zero_grad(set_to_none=True), without its per-call overhead
                p.grad = None
            loss.backward()
        replaced = False
        for hook in acting:
            replaced = hook.before_update(state, state.step, Batch(xb, yb)) or replaced
        if not replaced:
            with short_ops_on_one_thread(short_ops):
                if state.weight_decay is not None:
                    # the reference's w <- w - wd*w per step, on the weights before this step's update
                    with torch.no_grad():  # one call for all parameters: the same products as p.mul_ each
                        torch._foreach_mul_(params, 1.0 - state.weight_decay)
                optimizer.step()
                if masks_to_enforce:
                    enforce_masks(model, optimizer)
        for hook in acting:
            hook.after_update(state, state.step)
        if acting:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            masks_to_enforce = any(not layer.is_dense for layer in masked_layers(model))
            short_ops = step_threads(model, state.batch_size) == 1
        loss_sum.add_(loss.detach(), alpha=len(idx))  # in float64: the float32 loss times the batch size is exact
        torch.argmax(out.detach(), dim=1, out=predicted[i : i + len(idx)])
        if on_batch is not None:
            on_batch(i // state.batch_size + 1, -(-n // state.batch_size))
    correct = int((predicted == y_train.index_select(0, order)).sum().item())
    return {"train_loss": loss_sum.item() / n, "train_acc": correct / n}


def train_epochs(state: TrainState, hooks: Sequence[Hook], *, start_epoch: int = 1, bar: Any = None) -> list[dict[str, Any]]:
    """Train epochs ``start_epoch .. state.epochs``, calling ``hooks``; returns ``state.records``.

    Each epoch's record starts with ``epoch``, ``train_loss`` and ``train_acc``; the hooks add the rest, in
    order (one of them appends it to ``state.records``). Before they run, ``state.lr_used`` holds the rate the
    epoch trained with (the scheduler has moved on), ``state.epoch_started`` the epoch's start
    (``time.perf_counter``) and ``state.train_time`` the seconds of its steps. ``bar`` (a tqdm bar over the
    epochs, or None) is iterated in place of the plain range.
    """
    step_hooks = [h for h in hooks if type(h).acts_at_step is not Hook.acts_at_step]
    state.step = (start_epoch - 1) * state.steps_per_epoch
    epochs = range(start_epoch, state.epochs + 1)
    batches = None if bar is None else BatchProgress(bar)
    for epoch in epochs if bar is None else bar:
        t0 = time.perf_counter()
        state.epoch = epoch
        state.epoch_started = t0
        state.lr_used = state.optimizer.param_groups[0]["lr"]
        if batches is not None:
            batches.start()
        record: dict[str, Any] = {"epoch": epoch, **_train_one_epoch(state, step_hooks, batches)}
        if batches is not None:
            batches.trained()
        state.scheduler.step()
        state.train_time = time.perf_counter() - t0
        for hook in hooks:
            hook.epoch_end(state, epoch, record)
    return state.records


def explored_rates(ever_active: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[float, list[float]]:
    """Explored rate of the network and per layer: positions ever active over possible positions.

    ``ever_active``: sorted flat positions per layer; ``sizes``: ``n_out * n_in`` per layer.
    """
    per_layer = [a.size / size for a, size in zip(ever_active, sizes)]
    total = float(np.int64(sum(a.size for a in ever_active)) / np.int64(sum(sizes)))
    return total, per_layer
