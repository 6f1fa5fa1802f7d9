"""A training run: dense MLPs, and sparse ones with any method of :data:`~sparsetopo.training.updaters.UPDATERS`.

:func:`train_run` trains a :class:`~sparsetopo.training.config.RunConfig` inside a run
folder: it builds the model (the topology the run's mask updater starts from),
then hands the epochs to :func:`sparsetopo.training.trainer.train_epochs` with
the run's hooks, in this order: evaluation, the mask updater (per step or per
epoch, as its schedule says), the explored-parameter record, the record's
times, snapshots and weight files, the checkpoint, the progress bar, the
caller's ``on_epoch_end``. It checkpoints after every epoch, so an interrupted run resumes where it
stopped and finishes with bitwise the same numbers. The run store
(:mod:`sparsetopo.store.runs`) decides where that folder is; this module only fills
it:

``config.json``           the configuration (written by the store)
``metrics.json``          one record per epoch
``topology/epoch_EEE.npz`` topology snapshots (``sparsetopo.topology.masks`` format)
``weights/init.pt``       initial state_dict (weights and masks)
``weights/epoch_EEE.pt``  state_dicts asked for with ``save_weights_at``
``weights/final.pt``      final state_dict
``checkpoint.pt``         latest epoch: model, optimizer, schedule, batch order, the updater's state
                          (loads with weights_only=True)
``result.json``           written last: the summary and every file above with its size and sha256;
                          the run is complete when those files match (:mod:`sparsetopo.integrity`)

Snapshot semantics: the topology of epoch ``e`` is the one after ``e`` epochs
of training *and* the mask updater's work at the end of epoch ``e`` (SET's
rewiring: the topology the next epoch trains); epoch 0 is the topology the
first step trains (SNIP's after its pruning, dense for gradual pruning).

Backends (``config.backend``): ``masked`` layers multiply a dense weight by
their mask; ``sparse`` layers (:class:`~sparsetopo.sparse_linear.SparseLinear`)
keep only the present weights; ``auto`` makes a layer sparse when its density
is at most :data:`AUTO_SPARSE_MAX_DENSITY`. Both start from bitwise the same
weights (:func:`sparsetopo.training.build.build_model` builds sparse layers
straight from their edge index sets with the masked layers' numbers) and do the
same mathematics. Sparse layers stay sparse end to end: the initial topology
is drawn as index sets (:mod:`sparsetopo.topology.sparse`), SET rewires them
with :func:`~sparsetopo.training.set_rewiring.prune_and_regrow_sparse`, the
explored edges are sorted flat positions per layer, and snapshots are written
from the CSR structure, so memory and rewiring time grow linearly with edges.
Saved weight files (``weights/*.pt``) use the masked layout
(``layers.k.weight``/``bias``/``mask``), so they load anywhere, except for a
sparse layer with more than :data:`sparsetopo.model.DENSE_WEIGHT_FILE_MAX_ENTRIES`
positions, saved as values and flat indices
(:meth:`~sparsetopo.model.SparseMLP.weight_file_state_dict`;
:func:`sparsetopo.model.model_from_state_dict` reads both). The checkpoint
holds the backend's own state_dict and optimizer state, on CPU.

Devices (``config.device``): ``auto`` trains on CUDA when it is available. The
data moves to the device once per run; checkpoints and weight files are saved
from CPU copies, so they load on a machine without a GPU.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import atomic
from ..integrity import check_finite_record, check_run, discard_run_files, file_manifest, remove_debris, set_aside
from ..model import (
    SparseLinear,
    enforce_masks,
    to_sparse_backend,
    topology_layers,
)
from ..parallel import progress_bar
from ..topology.sparse import (
    SparseLayer,
    as_sparse_topology,
    load_sparse_topology,
    random_sparse_topology,
    save_sparse_topology,
)
from .build import build_model, model_topology
from .checkpoint import load_checkpoint, save_checkpoint
from .config import RunConfig
from .trainer import Hook, TrainState, explored_rates, lr_factor, train_epochs
from .updaters.base import Batch, MaskUpdater, Plan, UpdateContext
from .updaters.registry import make_updater
from .updaters.set import regrow_bounds

if TYPE_CHECKING:  # annotations only
    from ..data import Dataset

__all__ = [
    "train_run", "build_model", "evaluate", "load_run_dataset", "initial_masks", "initial_sparse_topology", "resolve_device",
    "sparse_layer_indices", "regrow_bounds", "AUTO_SPARSE_MAX_DENSITY",
]

# backend="auto" makes a layer sparse at or below this density: the largest
# density at which the CSR layer was still faster than the masked one in
# ``python benchmarks/bench_training.py --crossover-only`` (forward + backward
# of a 1000x1000 layer, batch 128, 2 threads, on this project's quiet 2-core CPU
# machine; the README lists the measured table).
AUTO_SPARSE_MAX_DENSITY = 0.3
"""``backend="auto"`` runs a layer on the sparse backend up to this density (the measured crossover, see the comment above)."""

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
METRICS = "metrics.json"


def load_run_dataset(config: RunConfig) -> Dataset:
    """The dataset of a run, split and preprocessed as its config says."""
    from ..data import load_dataset, training_subset

    data = load_dataset(
        config.dataset,
        seed=config.data_seed,
        validation_fraction=config.validation_fraction,
        preprocessing=config.preprocessing,
    )
    if config.train_samples is not None:
        data = training_subset(data, config.train_samples, seed=config.data_seed)
    return data


def initial_masks(config: RunConfig, widths: Sequence[int]) -> list[np.ndarray] | None:
    """The initial topology a config asks for as dense bool masks ``(n_out, n_in)`` (None for dense).

    Dense masks cost ``n_out * n_in`` bytes per layer: for analyses of small
    networks and the masked backend; training uses :func:`initial_sparse_topology`.
    """
    layers = initial_sparse_topology(config, widths)
    return None if layers is None else [layer.to_mask() for layer in layers]


def initial_sparse_topology(config: RunConfig, widths: Sequence[int]) -> list[SparseLayer] | None:
    """The initial topology a config asks for as edge index sets (None for dense); memory linear in edges.

    The same edges as :func:`initial_masks`, from the same draws.
    """
    if config.method == "dense":
        return None
    if config.initial_topology is not None:
        masks, _ = load_sparse_topology(config.initial_topology)
        shapes = [m.shape for m in masks]
        want = [(widths[k + 1], widths[k]) for k in range(len(widths) - 1)]
        if shapes != want:
            raise ValueError(
                f"initial_topology {config.initial_topology} has layer shapes {shapes} "
                f"but the model is {want} (widths {list(widths)})"
            )
        return masks
    return random_sparse_topology(
        widths,
        epsilon=config.epsilon if config.layer_edges is None else None,
        density=config.density if config.layer_edges is None else None,
        layer_edges=config.layer_edges,
        seed=config.effective_topology_seed,
        sparse_output=config.sparse_output,
    )


def sparse_layer_indices(config: RunConfig, masks: Sequence[np.ndarray | SparseLayer] | None) -> list[int]:
    """Layers that the config's backend runs as :class:`SparseLinear` (dense layers never are).

    ``masks``: bool arrays ``(n_out, n_in)`` or index sets (:class:`~sparsetopo.topology.sparse.SparseLayer`).
    """
    if masks is None or config.backend == "masked":
        return []
    out = []
    for k, m in enumerate(masks):
        density = m.density if isinstance(m, SparseLayer) else float(np.asarray(m).mean())
        if density == 1.0:
            continue
        if config.backend == "sparse" or density <= AUTO_SPARSE_MAX_DENSITY:
            out.append(k)
    return out


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch.cuda.is_available() is False; use device='auto' or 'cpu'")
    return torch.device(device)


EVAL_BATCH = 4096
"""The most samples :func:`evaluate` runs through the model at once."""

EVAL_ACTIVATION_BYTES = 256 << 20
"""... and the most bytes one layer's float32 activations may take in it: every layer up to 16,384 wide
evaluates :data:`EVAL_BATCH` samples at once (every run of the study, whose numbers therefore stay as they
were), a 333,334-wide one 201 (5.5 GB per layer's activations at 4,096)."""


def eval_batch_size(model: torch.nn.Module) -> int:
    """Samples per evaluation batch: :data:`EVAL_BATCH`, fewer when the widest layer's activations would take
    more than :data:`EVAL_ACTIVATION_BYTES`."""
    widest = max((int(getattr(m, "out_features", 0)) for m in model.modules()), default=0)
    return max(1, min(EVAL_BATCH, EVAL_ACTIVATION_BYTES // (4 * max(widest, 1))))


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch_size: int | None = None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on ``(x, y)``, in batches of ``batch_size`` samples (default
    :func:`eval_batch_size`)."""
    batch_size = eval_batch_size(model) if batch_size is None else int(batch_size)
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        yb = y[i : i + batch_size]
        loss_sum += F.cross_entropy(out, yb, reduction="sum").item()
        correct += (out.argmax(1) == yb).sum().item()
    model.train()
    return loss_sum / len(x), correct / len(x)


def _snapshot_config(config: RunConfig) -> dict[str, Any]:
    """The config a topology snapshot's metadata records: ``init_draws`` and ``method_options`` only when they
    are not at their defaults, so snapshots of every run that trains as before keep their exact content."""
    d = config.to_dict()
    for key, default in (("init_draws", "dense_stream"), ("method_options", None)):
        if d.get(key) == default:
            del d[key]
    return d


def _to_cpu(obj):
    """A copy of a (nested) state dict with every tensor on CPU, so checkpoints load without a GPU."""
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _finished_summary(run_dir: Path) -> dict[str, Any] | None:
    """The summary of a verified complete run; a damaged one is cleared (and reported) for retraining.

    Clearing deletes only what the run wrote; the warning names every other
    file, moved into ``orphaned-<time>/`` (:func:`sparsetopo.integrity.discard_run_files`).
    """
    state = check_run(run_dir)
    if state.complete:
        return atomic.read_json(run_dir / RESULT)
    if state.damaged:
        moved = discard_run_files(run_dir)
        warnings.warn(f"damaged run, training it again: {state.problem}{_moved_note(run_dir, moved)}",
                      UserWarning, stacklevel=3)
    return None


def _moved_note(run_dir: Path, moved: Sequence[Path]) -> str:
    if not moved:
        return ""
    names = ", ".join(p.relative_to(run_dir).as_posix() for p in moved)
    return f"; files the run did not write were moved, not deleted: {names} (in {run_dir})"


def _optimizer(config: RunConfig, model: torch.nn.Module) -> tuple[torch.optim.Optimizer, Any]:
    """The run's SGD optimiser and learning-rate schedule."""
    decoupled = config.weight_decay_mode == "decoupled"
    # the fused kernel: a third of the default multi-tensor step's overhead, which dominates for
    # the small tensors of sparse layers (it rounds some updates differently from that one)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=0.0 if decoupled else config.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: lr_factor(config.lr_schedule, e, config.epochs))
    return optimizer, scheduler


def _adopt_sparse_structure(model: torch.nn.Module, saved: dict[str, Any]) -> bool:
    """Give every CSR layer whose edge count differs from a checkpoint's the checkpoint's structure (a method
    that prunes, on the sparse backend); True when a layer changed. Layers that do not fit are left for
    :func:`_checkpoint_problem` to report."""
    changed = False
    for k, layer in enumerate(getattr(model, "layers", [])):
        prefix = f"layers.{k}."
        crow, col, values = (saved.get(prefix + key) for key in ("crow_indices", "col_indices", "values"))
        if not isinstance(layer, SparseLinear) or not all(torch.is_tensor(t) for t in (crow, col, values)):
            continue
        if col.numel() == layer.nnz or crow.shape != layer.crow_indices.shape or values.shape != col.shape:
            continue
        bias = saved.get(prefix + "bias", layer.bias)
        device = layer.values.device
        model.layers[k] = SparseLinear.from_csr((layer.out_features, layer.in_features), crow, col, values.to(device),
                                                None if bias is None else bias.to(device)).to(device)
        changed = True
    return changed


def _checkpoint_problem(ckpt: dict[str, Any], model: torch.nn.Module, optimizer, config: RunConfig) -> str | None:
    """Why a readable checkpoint cannot be this run's (another architecture or config), or None when it fits."""
    own = model.state_dict()
    theirs = ckpt["model"]
    if not isinstance(theirs, dict) or set(theirs) != set(own):
        missing = sorted(set(own) - set(theirs or {}))[:3]
        extra = sorted(set(theirs or {}) - set(own))[:3]
        return f"its model has other layers (missing {missing}, unexpected {extra})"
    for key, value in own.items():
        if not torch.is_tensor(theirs[key]) or tuple(theirs[key].shape) != tuple(value.shape):
            shape = tuple(theirs[key].shape) if torch.is_tensor(theirs[key]) else type(theirs[key]).__name__
            return f"its {key} has shape {shape}, this run's {tuple(value.shape)} (another architecture)"
    groups = ckpt["optimizer"].get("param_groups") if isinstance(ckpt["optimizer"], dict) else None
    if not groups or [len(g.get("params", ())) for g in groups] != [len(g["params"]) for g in optimizer.param_groups]:
        return "its optimizer state is for other parameters"
    epoch, records = ckpt["epoch"], ckpt["records"]
    if not 1 <= epoch <= config.epochs or len(records) != epoch:
        return f"it is at epoch {epoch} with {len(records)} records, but this run has {config.epochs} epochs"
    return None


def train_run(
    config: RunConfig,
    run_dir: str | Path,
    *,
    masks: Sequence[np.ndarray] | None = None,
    initial_state: dict[str, torch.Tensor] | None = None,
    save_weights_at: Sequence[int] = (),
    progress: bool | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> dict[str, Any]:
    """Train ``config`` in ``run_dir``, resuming from its checkpoint if any.

    Parameters
    ----------
    config : RunConfig
    run_dir : path
        Folder of the run (created if needed).
    masks : list of bool arrays ``(n_out, n_in)``, optional
        Initial topology overriding the one the config would draw (used by
        lottery-ticket rounds).
    initial_state : state_dict, optional
        Initial weights (and biases) overriding the seed's draw; weights
        outside the mask are zeroed.
    save_weights_at : epochs whose state_dict is kept in ``weights/``.
    progress : bool, optional
        Draw a progress bar; ``None`` follows the package's verbosity (:func:`sparsetopo.set_verbosity`).
    on_epoch_end : callable(epoch, record), optional
        Called after each epoch's checkpoint is written.

    Returns
    -------
    dict
        The run's summary (also written to ``result.json``).
    """
    run_dir = Path(run_dir)
    summary = _finished_summary(run_dir)
    if summary is not None:
        return summary
    (run_dir / "topology").mkdir(parents=True, exist_ok=True)
    (run_dir / "weights").mkdir(parents=True, exist_ok=True)

    data = load_run_dataset(config)
    device = resolve_device(config.device)
    widths = data.widths(config.hidden)
    if masks is None:
        topology = initial_sparse_topology(config, widths)
    elif config.method == "dense":
        raise ValueError("masks were given for a dense run; use method='static' or 'set'")
    else:
        topology = as_sparse_topology(masks)
    # the backend follows the run's own topology (its final edge counts for a method that prunes from dense)
    sparse_layers = sparse_layer_indices(config, topology)
    steps_per_epoch = -(-len(data.x_train) // config.batch_size)
    plan = Plan(epochs=config.epochs, steps_per_epoch=steps_per_epoch, seed=config.seed, weight_init=config.weight_init)
    updater = None if config.method == "dense" else make_updater(config.method, config.options, plan)
    if updater is not None:
        topology = updater.initial_topology(topology)

    def make_model() -> torch.nn.Module:
        return _run_model(config, widths, topology, sparse_layers, initial_state).to(device)

    model = make_model()
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)  # the data moves to the device once per run
    checkpoint_path = run_dir / CHECKPOINT
    ckpt = load_checkpoint(checkpoint_path) if checkpoint_path.exists() else None
    # a method that prunes CSR layers changes their size: the checkpoint's structure replaces the fresh one
    adopted = ckpt is not None and _adopt_sparse_structure(model, ckpt["model"])
    optimizer, scheduler = _optimizer(config, model)
    problem = None if ckpt is None else _checkpoint_problem(ckpt, model, optimizer, config)
    if problem is not None:
        # not this run's checkpoint (copied from another run?): it was not written here, so it is kept, aside
        moved = set_aside(run_dir, [checkpoint_path])
        warnings.warn(f"{checkpoint_path} does not belong to this run ({problem}); training from epoch 0"
                      f"{_moved_note(run_dir, moved)}", UserWarning, stacklevel=2)
        ckpt = None
        if adopted:
            model = make_model()
            optimizer, scheduler = _optimizer(config, model)
    if updater is not None and updater.acts == "once" and ckpt is None:
        _initialise(updater, UpdateContext(model, optimizer, plan), x_train, y_train, config)
    ctx = UpdateContext(model, optimizer, plan)  # the explored record starts with the topology that trains
    decoupled = config.weight_decay_mode == "decoupled"
    state = TrainState(model, optimizer, scheduler, torch.Generator().manual_seed(config.seed), x_train, y_train,
                       epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
                       weight_decay=config.weight_decay if decoupled else None)
    if ckpt is not None:
        start_epoch = _resume(ckpt, state, updater, ctx)
    else:
        start_epoch = 1
        _start_files(run_dir, model, config, save_weights_at)

    x_val = None if data.x_val is None else data.x_val.to(device)
    y_val = None if data.y_val is None else data.y_val.to(device)
    bar = progress_bar(range(start_epoch, config.epochs + 1), desc=f"{config.method} {config.dataset}", progress=progress,
                       initial=start_epoch - 1, total=config.epochs, leave=False)
    hooks: list[Hook] = [
        EvaluationHook(data.x_test.to(device), data.y_test.to(device), x_val, y_val, config.lr),
        UpdaterHook(updater, ctx),
        ExploredHook(ctx),
        RecordHook(),
        SnapshotHook(run_dir, set(config.snapshot_schedule()), set(int(e) for e in save_weights_at), config),
        CheckpointHook(run_dir, updater, ctx),
        ProgressHook(bar),
    ]
    if on_epoch_end is not None:
        hooks.append(CallbackHook(on_epoch_end))
    records = train_epochs(state, hooks, start_epoch=start_epoch, bar=bar)
    bar.close()

    return _finish(run_dir, config, records, widths, model, device)


def _finish(run_dir: Path, config: RunConfig, records: list[dict[str, Any]], widths: Sequence[int],
            model: torch.nn.Module, device: torch.device) -> dict[str, Any]:
    """The final weights, the summary and the file list (``result.json``, written last); the checkpoint goes."""
    atomic.torch_save(model.weight_file_state_dict(), run_dir / "weights" / "final.pt")
    last = records[-1]
    summary = {
        "run_id": run_dir.name,
        "epochs": config.epochs,
        "final_test_acc": last["test_acc"],
        "final_test_loss": last["test_loss"],
        "best_test_acc": max(r["test_acc"] for r in records),
        "final_val_acc": last.get("val_acc"),
        "widths": widths,
        "edges": last["edges"],
        "n_parameters": int(sum(last["edges"]) + sum(widths[1:])),
        "explored_rate": last["explored_rate"],
        "backend_layers": ["sparse" if isinstance(layer, SparseLinear) else "masked" for layer in topology_layers(model)],
        "device": str(device),
        "train_seconds": float(sum(r["epoch_time"] for r in records)),
        "snapshot_epochs": sorted(set(config.snapshot_schedule())),
    }
    remove_debris(run_dir)
    summary["files"] = file_manifest(run_dir)
    atomic.write_json(run_dir / RESULT, summary)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    return summary


def _run_model(config: RunConfig, widths: Sequence[int], topology: Sequence[SparseLayer] | None,
               sparse_layers: Sequence[int], initial_state: dict[str, torch.Tensor] | None) -> torch.nn.Module:
    """The run's model: drawn from its seed (sparse layers straight from their index sets), or with
    ``initial_state``'s weights (zero off the topology) converted to the backend afterwards."""
    if initial_state is None:
        return build_model(config, widths, topology, sparse_layers=sparse_layers)
    model = build_model(config, widths, topology)
    state = {k: v for k, v in initial_state.items() if not k.endswith("mask")}
    missing = model.load_state_dict(state, strict=False)
    if missing.unexpected_keys or [k for k in missing.missing_keys if not k.endswith("mask")]:
        raise ValueError(f"initial_state does not fit the model: {missing}")
    enforce_masks(model)
    return to_sparse_backend(model, sparse_layers)


def _initialise(updater: MaskUpdater, ctx: UpdateContext, x_train: torch.Tensor, y_train: torch.Tensor,
                config: RunConfig) -> None:
    """A method that acts once, at initialisation, on the batch epoch 1 starts with (drawn by a copy of the
    batch-order generator, which stays where it is)."""
    first = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(config.seed))[: config.batch_size]
    first = first.to(x_train.device)
    updater.at_initialisation(ctx, Batch(x_train.index_select(0, first), y_train.index_select(0, first)))


def _resume(ckpt: dict[str, Any], state: TrainState, updater: MaskUpdater | None, ctx: UpdateContext) -> int:
    """Everything a checkpoint holds back in place; the epoch to continue with."""
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.scheduler.load_state_dict(ckpt["scheduler"])
    state.shuffle_gen.set_state(ckpt["shuffle_gen"])
    if updater is not None:
        updater.load_state_dict(ckpt["updater"])
    ctx.ever_active = ckpt["ever_active"]
    state.records = ckpt["records"]
    return ckpt["epoch"] + 1


def _start_files(run_dir: Path, model: torch.nn.Module, config: RunConfig, save_weights_at: Sequence[int]) -> None:
    """What a run writes before its first epoch: initial weights and the topology of epoch 0 (the one that trains)."""
    atomic.torch_save(model.weight_file_state_dict(), run_dir / "weights" / "init.pt")
    save_sparse_topology(run_dir / "topology" / "epoch_000.npz", model_topology(model), epoch=0, seed=config.seed,
                         config=_snapshot_config(config))
    if 0 in save_weights_at:
        atomic.torch_save(model.weight_file_state_dict(), run_dir / "weights" / "epoch_000.pt")


# -- the hooks of a run, in the order train_run gives them ---------------------------------------------------------
class EvaluationHook(Hook):
    """Test (and validation) loss and accuracy after each epoch; a non-finite loss stops the run; the epoch's rate."""

    def __init__(self, x_test: torch.Tensor, y_test: torch.Tensor, x_val: torch.Tensor | None,
                 y_val: torch.Tensor | None, lr: float) -> None:
        self.x_test, self.y_test, self.x_val, self.y_val, self.lr = x_test, y_test, x_val, y_val, lr

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        record["test_loss"], record["test_acc"] = evaluate(state.model, self.x_test, self.y_test)
        if self.x_val is not None:
            record["val_loss"], record["val_acc"] = evaluate(state.model, self.x_val, self.y_val)
        check_finite_record(record, epoch, self.lr)
        record["lr"] = state.lr_used


class UpdaterHook(Hook):
    """The run's mask updater at its schedule; the epoch's removed and grown edges and the edge counts."""

    def __init__(self, updater: MaskUpdater | None, ctx: UpdateContext) -> None:
        self.updater, self.ctx = updater, ctx
        self.per_step = updater is not None and updater.acts == "step"

    def acts_at_step(self, step: int) -> bool:
        return self.per_step and self.updater.acts_at_step(step)

    def before_update(self, state: TrainState, step: int, batch: Batch) -> bool:
        return self.updater.before_step(self.ctx, step, batch)

    def after_update(self, state: TrainState, step: int) -> None:
        self.updater.after_step(self.ctx, step)

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        if self.updater is not None:
            self.updater.at_epoch_end(self.ctx, epoch)
        record["removed"], record["regrown"] = list(self.ctx.removed), list(self.ctx.grown)
        record["edges"] = [layer.n_edges for layer in topology_layers(state.model)]
        self.ctx.reset_counts()


class ExploredHook(Hook):
    """The explored-parameter rate: positions that ever held an edge over all positions, network and per layer."""

    def __init__(self, ctx: UpdateContext) -> None:
        self.ctx = ctx
        self.sizes = [layer.out_features * layer.in_features for layer in ctx.layers()]

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        record["explored_rate"], record["explored_rate_layers"] = explored_rates(self.ctx.ever_active, self.sizes)


class RecordHook(Hook):
    """The epoch's times, and the record joins the run's records."""

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        record["train_time"] = state.train_time
        record["epoch_time"] = time.perf_counter() - state.epoch_started
        state.records.append(record)


class SnapshotHook(Hook):
    """Topology snapshots and weight files at the epochs asked for."""

    def __init__(self, run_dir: Path, snapshots: set[int], weights_at: set[int], config: RunConfig) -> None:
        self.run_dir, self.snapshots, self.weights_at, self.config = run_dir, snapshots, weights_at, config

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        if epoch in self.snapshots:
            save_sparse_topology(self.run_dir / "topology" / f"epoch_{epoch:03d}.npz", model_topology(state.model),
                                 epoch=epoch, seed=self.config.seed, config=_snapshot_config(self.config))
        if epoch in self.weights_at:
            atomic.torch_save(state.model.weight_file_state_dict(), self.run_dir / "weights" / f"epoch_{epoch:03d}.pt")


class CheckpointHook(Hook):
    """``metrics.json`` and the checkpoint a resumed run continues from (model, optimiser, schedule, batch
    order, the updater's state, the explored record, the records)."""

    def __init__(self, run_dir: Path, updater: MaskUpdater | None, ctx: UpdateContext) -> None:
        self.run_dir, self.updater, self.ctx = run_dir, updater, ctx

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        atomic.write_json(self.run_dir / METRICS, state.records)
        save_checkpoint(
            self.run_dir / CHECKPOINT,
            epoch=epoch,
            model=_to_cpu(state.model.state_dict()),
            optimizer=_to_cpu(state.optimizer.state_dict()),
            scheduler=state.scheduler.state_dict(),
            shuffle_gen=state.shuffle_gen.get_state(),
            updater={} if self.updater is None else self.updater.state_dict(),
            ever_active=self.ctx.ever_active,
            records=state.records,
        )


class ProgressHook(Hook):
    """The progress bar's latest test accuracy."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        self.bar.set_postfix(test_acc=f"{record['test_acc']:.4f}")


class CallbackHook(Hook):
    """A caller's ``on_epoch_end(epoch, record)``, after the checkpoint is written."""

    def __init__(self, callback: Callable[[int, dict], None]) -> None:
        self.callback = callback

    def epoch_end(self, state: TrainState, epoch: int, record: dict[str, Any]) -> None:
        self.callback(epoch, record)
