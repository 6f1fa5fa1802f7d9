"""One training loop for dense, static sparse and SET MLPs.

:func:`train_run` trains a :class:`~sparsetopo.store.config.RunConfig` inside a run
folder, checkpointing after every epoch so an interrupted run resumes where it
stopped and finishes with bitwise the same numbers. The run store
(:mod:`sparsetopo.store.runs`) decides where that folder is; this module only fills
it:

``config.json``           the configuration (written by the store)
``metrics.json``          one record per epoch
``topology/epoch_EEE.npz`` topology snapshots (``sparsetopo.topology.masks`` format)
``weights/init.pt``       initial state_dict (weights and masks)
``weights/epoch_EEE.pt``  state_dicts asked for with ``save_weights_at``
``weights/final.pt``      final state_dict
``checkpoint.pt``         latest epoch: model, optimizer, schedule, RNG states (loads with weights_only=True)
``result.json``           written last: the summary and every file above with its size and sha256;
                          the run is complete when those files match (:mod:`sparsetopo.integrity`)

Snapshot semantics: the topology of epoch ``e`` is the one after ``e`` epochs
of training *and* the SET rewiring that follows epoch ``e`` (the topology the
next epoch trains); epoch 0 is the initial topology.

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

import math
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
    masked_layers,
    to_sparse_backend,
    topology_layers,
    weight_state_tensors,
)
from ..parallel import progress_bar
from ..topology.sparse import (
    SparseLayer,
    as_sparse_topology,
    load_sparse_topology,
    random_sparse_topology,
    save_sparse_topology,
    union_indices,
)
from .build import build_model, layer_topology, model_topology
from .checkpoint import load_checkpoint, save_checkpoint
from .config import RunConfig
from .set_rewiring import prune_and_regrow, prune_and_regrow_sparse

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


def regrow_bounds(weight_init: str, mask: np.ndarray | SparseLayer, rows: np.ndarray) -> float | np.ndarray:
    """Half-width of the uniform draw of regrown weights: the scale of the run's initialisation.

    ``mask`` is the layer's topology after rewiring, a bool array
    ``(n_out, n_in)`` or a :class:`~sparsetopo.topology.sparse.SparseLayer`
    (linear in edges), and ``rows`` the row of every regrown weight.
    ``dense``: ``1/sqrt(n_in)``; ``he_uniform``: ``sqrt(6/n_in)``; ``sparse``:
    ``1/sqrt(fan_in)`` of each regrown weight's neuron (an array, one bound
    per row in ``rows``).
    """
    n_in = mask.shape[1]
    if weight_init == "he_uniform":
        return math.sqrt(6.0 / n_in)
    if weight_init == "dense":
        return 1.0 / math.sqrt(n_in)
    fan_in = np.maximum(mask.fan_in() if isinstance(mask, SparseLayer) else mask.sum(axis=1), 1)
    return 1.0 / np.sqrt(fan_in[rows])


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


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on ``(x, y)``."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        yb = y[i : i + batch_size]
        loss_sum += F.cross_entropy(out, yb, reduction="sum").item()
        correct += (out.argmax(1) == yb).sum().item()
    model.train()
    return loss_sum / len(x), correct / len(x)


def _lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    if schedule == "step":
        return 1.0 if epoch < epochs * 0.5 else (0.1 if epoch < epochs * 0.75 else 0.01)
    return 1.0


def _regrown_values(config: RunConfig, new_mask: np.ndarray | SparseLayer, grown: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Values of the regrown weights in row-major order (``regrow_init="random"``).

    ``new_mask``/``grown``: bool arrays ``(n_out, n_in)`` (masked layers), or
    the new index set and the sorted flat positions of the regrown edges
    (sparse layers; linear in edges). The same draws either way.
    """
    rows = grown // new_mask.shape[1] if isinstance(new_mask, SparseLayer) else np.nonzero(grown)[0]
    bound = regrow_bounds(config.weight_init, new_mask, rows)
    if np.isscalar(bound):
        return rng.uniform(-bound, bound, size=rows.size).astype(np.float32)
    return (rng.uniform(-1.0, 1.0, size=rows.size) * bound).astype(np.float32)


def _set_rewire(model, optimizer, config: RunConfig, rng: np.random.Generator, ever_active) -> dict[str, list[int]]:
    """Prune and regrow every sparse layer (the output layer only with ``rewire_output``)."""
    removed_counts, grown_counts = [], []
    layers = topology_layers(model)
    for k, layer in enumerate(layers):
        is_output = k == len(layers) - 1
        if layer.is_dense or (is_output and not config.rewire_output):
            removed_counts.append(0)
            grown_counts.append(0)
            continue
        if isinstance(layer, SparseLinear):  # on the index set: linear in edges, never densified
            old = layer_topology(layer)
            new_index, removed, grown, kept_from, regrown_from = prune_and_regrow_sparse(
                old.index, layer.values.detach().cpu().numpy(), old.shape, config.zeta, rng,
                sampler=config.regrow_sampler, with_sources=True)
            new = SparseLayer(old.shape, new_index)
            regrown = _regrown_values(config, new, grown, rng) if config.regrow_init == "random" and grown.size else None
            _rewire_sparse(layer, optimizer, new, kept_from, regrown_from, regrown)
            ever_active[k] = union_indices(ever_active[k], grown)  # kept edges are in it already
            removed_counts.append(int(removed.size))
            grown_counts.append(int(grown.size))
            continue
        # masked layers keep the dense reference step (they hold dense arrays anyway)
        weight = layer.weight.detach().cpu().numpy()
        mask = layer.mask.cpu().numpy()
        new_mask, removed, grown, n = prune_and_regrow(weight, mask, config.zeta, rng, sampler=config.regrow_sampler)
        changed = removed | grown
        regrown = _regrown_values(config, new_mask, grown, rng) if config.regrow_init == "random" and grown.any() else None
        with torch.no_grad():
            w = layer.weight
            changed_t = torch.from_numpy(changed).to(w.device)
            w[changed_t] = 0.0
            if regrown is not None:
                w[torch.from_numpy(grown).to(w.device)] = torch.from_numpy(regrown).to(w.device)
            for value in weight_state_tensors(optimizer, w):
                value[changed_t] = 0.0
            layer.set_mask(new_mask)
        ever_active[k] = union_indices(ever_active[k], np.flatnonzero(new_mask.ravel()))
        removed_counts.append(int(removed.sum()))
        grown_counts.append(int(grown.sum()))
    enforce_masks(model, optimizer)
    return {"removed": removed_counts, "regrown": grown_counts}


@torch.no_grad()
def _rewire_sparse(layer: SparseLinear, optimizer, new: SparseLayer, kept_from: np.ndarray, regrown_from: np.ndarray,
                   regrown: np.ndarray | None) -> None:
    """Rebuild a sparse layer's structure in CSR form, linear in edges: the numbers of the dense remap.

    ``kept_from``/``regrown_from`` as :func:`~sparsetopo.training.set_rewiring.prune_and_regrow_sparse`
    returns them. A kept edge keeps its value and optimizer state; a regrown
    edge starts from ``regrown`` (or zero) with zero state, where an edge
    that was pruned and regrown at once gets ``old * 0.0`` (a zero of the old
    value's sign), as multiplying the dense layout by the keep mask gave.
    """
    device = layer.values.device
    kept = kept_from >= 0
    grown_slots = np.flatnonzero(~kept)  # new edge ids of the regrown edges, in the order of grown
    again = regrown_from >= 0
    kept_t, from_kept = torch.from_numpy(kept).to(device), torch.from_numpy(kept_from[kept]).to(device)
    again_slots = torch.from_numpy(grown_slots[again]).to(device)
    from_again = torch.from_numpy(regrown_from[again]).to(device)
    grown_t = torch.from_numpy(grown_slots).to(device)

    def remap(stored: torch.Tensor, grown_values: torch.Tensor | None) -> torch.Tensor:
        out = torch.zeros(new.n_edges, dtype=stored.dtype, device=device)
        out[kept_t] = stored[from_kept]
        out[again_slots] = stored[from_again] * 0.0
        if grown_values is not None:
            out[grown_t] = grown_values
        return out

    values = remap(layer.values.detach(), None if regrown is None else torch.from_numpy(regrown).to(device))
    state = weight_state_tensors(optimizer, layer.values)
    crow, col = torch.from_numpy(new.crow()), torch.from_numpy(new.cols())
    layer.set_structure_csr(crow, col, values, state, [remap(s, None) for s in state])


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


def _explored(ever_active: list[np.ndarray], sizes: Sequence[int]) -> tuple[float, list[float]]:
    """Explored rate of the network and per layer: positions ever active over possible positions.

    ``ever_active``: sorted flat positions per layer; ``sizes``: ``n_out * n_in`` per layer.
    """
    per_layer = [a.size / size for a, size in zip(ever_active, sizes)]
    total = float(np.int64(sum(a.size for a in ever_active)) / np.int64(sum(sizes)))
    return total, per_layer


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
    sparse_layers = sparse_layer_indices(config, topology)
    if initial_state is None:  # sparse layers built straight from their index sets, with the masked path's numbers
        model = build_model(config, widths, topology, sparse_layers=sparse_layers)
    else:
        model = build_model(config, widths, topology)
        state = {k: v for k, v in initial_state.items() if not k.endswith("mask")}
        missing = model.load_state_dict(state, strict=False)
        if missing.unexpected_keys or [k for k in missing.missing_keys if not k.endswith("mask")]:
            raise ValueError(f"initial_state does not fit the model: {missing}")
        enforce_masks(model)
        to_sparse_backend(model, sparse_layers)
    model.to(device)
    decoupled = config.weight_decay_mode == "decoupled"
    # the fused kernel: a third of the default multi-tensor step's overhead, which dominates for
    # the small tensors of sparse layers (it rounds some updates differently from that one)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=0.0 if decoupled else config.weight_decay, fused=True)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: _lr_factor(config.lr_schedule, e, config.epochs))
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    set_rng = np.random.default_rng([config.seed, 0x5E7])
    ever_active = [layer.index.copy() for layer in model_topology(model)]  # sorted flat positions ever active, per layer
    layer_sizes = [layer.out_features * layer.in_features for layer in topology_layers(model)]
    records: list[dict[str, Any]] = []
    start_epoch = 1
    snapshots = set(config.snapshot_schedule())
    save_weights_at = set(int(e) for e in save_weights_at)

    checkpoint_path = run_dir / CHECKPOINT
    ckpt = load_checkpoint(checkpoint_path) if checkpoint_path.exists() else None
    problem = None if ckpt is None else _checkpoint_problem(ckpt, model, optimizer, config)
    if problem is not None:
        # not this run's checkpoint (copied from another run?): it was not written here, so it is kept, aside
        moved = set_aside(run_dir, [checkpoint_path])
        warnings.warn(f"{checkpoint_path} does not belong to this run ({problem}); training from epoch 0"
                      f"{_moved_note(run_dir, moved)}", UserWarning, stacklevel=2)
        ckpt = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        shuffle_gen.set_state(ckpt["shuffle_gen"])
        set_rng.bit_generator.state = ckpt["set_rng"]
        ever_active = ckpt["ever_active"]
        records = ckpt["records"]
        start_epoch = ckpt["epoch"] + 1
    else:
        atomic.torch_save(model.weight_file_state_dict(), run_dir / "weights" / "init.pt")
        save_sparse_topology(run_dir / "topology" / "epoch_000.npz", model_topology(model), epoch=0, seed=config.seed, config=_snapshot_config(config))
        if 0 in save_weights_at:
            atomic.torch_save(model.weight_file_state_dict(), run_dir / "weights" / "epoch_000.pt")

    # the data moves to the device once per run
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)
    x_val = None if data.x_val is None else data.x_val.to(device)
    y_val = None if data.y_val is None else data.y_val.to(device)
    n = len(x_train)
    bar = progress_bar(range(start_epoch, config.epochs + 1), desc=f"{config.method} {config.dataset}", progress=progress,
               initial=start_epoch - 1, total=config.epochs, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        # dropout draws from its own generator, seeded per epoch, so a resumed run repeats them
        model.dropout_generator = torch.Generator(device=device).manual_seed(config.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=shuffle_gen).to(device)
        lr_used = optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        predicted = torch.empty(n, dtype=torch.int64, device=device)  # class predicted for order[i], while training
        # masks change only between epochs; enforce_masks has work only where a masked layer is sparse
        masks_to_enforce = any(not layer.is_dense for layer in masked_layers(model))
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            for p in params:  # optimizer.zero_grad(set_to_none=True), without its per-call overhead
                p.grad = None
            loss.backward()
            if decoupled:
                # the reference's w <- w - wd*w per step, on the weights before this step's update
                with torch.no_grad():
                    for p in params:
                        p.mul_(1.0 - config.weight_decay)
            optimizer.step()
            if masks_to_enforce:
                enforce_masks(model, optimizer)
            loss_sum.add_(loss.detach(), alpha=len(idx))  # in float64: the float32 loss times the batch size is exact
            torch.argmax(out.detach(), dim=1, out=predicted[i : i + len(idx)])
        loss_sum = loss_sum.item()
        correct = int((predicted == y_train.index_select(0, order)).sum().item())
        scheduler.step()
        train_time = time.perf_counter() - t0
        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": loss_sum / n,
            "train_acc": correct / n,
        }
        record["test_loss"], record["test_acc"] = evaluate(model, x_test, y_test)
        if x_val is not None:
            record["val_loss"], record["val_acc"] = evaluate(model, x_val, y_val)
        check_finite_record(record, epoch, config.lr)
        record["lr"] = lr_used  # the rate this epoch trained with (the scheduler has moved on already)
        if config.method == "set" and epoch < config.epochs:
            changes = _set_rewire(model, optimizer, config, set_rng, ever_active)
        else:
            changes = {"removed": [0] * len(ever_active), "regrown": [0] * len(ever_active)}
        record["removed"] = changes["removed"]
        record["regrown"] = changes["regrown"]
        record["edges"] = [layer.n_edges for layer in topology_layers(model)]
        record["explored_rate"], record["explored_rate_layers"] = _explored(ever_active, layer_sizes)
        record["train_time"] = train_time
        record["epoch_time"] = time.perf_counter() - t0
        records.append(record)
        if epoch in snapshots:
            save_sparse_topology(run_dir / "topology" / f"epoch_{epoch:03d}.npz", model_topology(model), epoch=epoch,
                                 seed=config.seed, config=_snapshot_config(config))
        if epoch in save_weights_at:
            atomic.torch_save(model.weight_file_state_dict(), run_dir / "weights" / f"epoch_{epoch:03d}.pt")
        atomic.write_json(run_dir / METRICS, records)
        save_checkpoint(
            checkpoint_path,
            epoch=epoch,
            model=_to_cpu(model.state_dict()),
            optimizer=_to_cpu(optimizer.state_dict()),
            scheduler=scheduler.state_dict(),
            shuffle_gen=shuffle_gen.get_state(),
            set_rng=set_rng.bit_generator.state,
            ever_active=ever_active,
            records=records,
        )
        bar.set_postfix(test_acc=f"{record['test_acc']:.4f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    bar.close()

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
        "snapshot_epochs": sorted(snapshots),
    }
    remove_debris(run_dir)
    summary["files"] = file_manifest(run_dir)
    atomic.write_json(run_dir / RESULT, summary)
    checkpoint_path.unlink(missing_ok=True)
    return summary
