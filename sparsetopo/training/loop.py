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
                          the run is complete when those files match (:mod:`sparsetopo.store.integrity`)

Snapshot semantics: the topology of epoch ``e`` is the one after ``e`` epochs
of training *and* the SET rewiring that follows epoch ``e`` (the topology the
next epoch trains); epoch 0 is the initial topology.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import atomic
from .checkpoint import load_checkpoint, save_checkpoint
from ..store.config import RunConfig
from ..store.integrity import check_finite_record, check_run, discard_run_files, file_manifest, remove_debris
from ..model import SparseMLP, enforce_masks, masked_layers, weight_state_tensors
from .set_rewiring import prune_and_regrow
from ..topology.masks import load_topology, random_topology, save_topology

__all__ = ["train_run", "build_model", "evaluate", "load_run_dataset", "initial_masks"]

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
METRICS = "metrics.json"


def load_run_dataset(config: RunConfig):
    """The dataset of a run, split and preprocessed as its config says."""
    from ..data import load_dataset

    return load_dataset(
        config.dataset,
        seed=config.data_seed,
        validation_fraction=config.validation_fraction,
        preprocessing=config.preprocessing,
    )


def initial_masks(config: RunConfig, widths: Sequence[int]) -> list[np.ndarray] | None:
    """The initial topology a config asks for (None for dense)."""
    if config.method == "dense":
        return None
    if config.initial_topology is not None:
        masks, _ = load_topology(config.initial_topology)
        shapes = [m.shape for m in masks]
        want = [(widths[k + 1], widths[k]) for k in range(len(widths) - 1)]
        if shapes != want:
            raise ValueError(
                f"initial_topology {config.initial_topology} has layer shapes {shapes} "
                f"but the model is {want} (widths {list(widths)})"
            )
        return masks
    return random_topology(
        widths,
        epsilon=config.epsilon if config.layer_edges is None else None,
        density=config.density if config.layer_edges is None else None,
        layer_edges=config.layer_edges,
        seed=config.effective_topology_seed,
        sparse_output=config.sparse_output,
    )


def build_model(config: RunConfig, widths: Sequence[int], masks=None) -> SparseMLP:
    """A model with weights drawn from ``config.seed`` (global RNG untouched).

    With ``weight_init="sparse"`` each neuron's incoming weights are rescaled
    by ``sqrt(n_in / fan_in)``, its real number of inputs, so a sparse layer
    starts with the activation scale of a dense one. Masking a dense
    initialisation instead shrinks the signal by ``sqrt(density)`` per layer,
    which stalls deep networks at ~5% density (e.g. 784-1000-1000-1000 at
    ε = 20 stays at chance for several epochs of SGD at lr 0.01).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = SparseMLP(widths, masks=masks, activation=config.activation)
    if config.weight_init == "sparse":
        with torch.no_grad():
            for layer in masked_layers(model):
                fan_in = layer.mask.sum(dim=1, keepdim=True).clamp(min=1).to(layer.weight.dtype)
                layer.weight.mul_(torch.sqrt(layer.in_features / fan_in))
    return model


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


def _set_rewire(model, optimizer, config: RunConfig, rng: np.random.Generator, ever_active) -> dict[str, list[int]]:
    removed_counts, grown_counts = [], []
    for k, layer in enumerate(masked_layers(model)):
        if layer.is_dense:
            removed_counts.append(0)
            grown_counts.append(0)
            continue
        weight = layer.weight.detach().cpu().numpy()
        mask = layer.mask.cpu().numpy()
        new_mask, removed, grown, n = prune_and_regrow(weight, mask, config.zeta, rng)
        with torch.no_grad():
            w = layer.weight
            changed = torch.from_numpy(removed | grown).to(w.device)
            w[changed] = 0.0
            if config.regrow_init == "random" and grown.any():
                bound = 1.0 / math.sqrt(layer.in_features)
                values = rng.uniform(-bound, bound, size=int(grown.sum())).astype(np.float32)
                w[torch.from_numpy(grown).to(w.device)] = torch.from_numpy(values).to(w.device)
            for value in weight_state_tensors(optimizer, w):
                value[changed] = 0.0
        layer.set_mask(new_mask)
        ever_active[k] |= new_mask
        removed_counts.append(int(removed.sum()))
        grown_counts.append(int(grown.sum()))
    enforce_masks(model, optimizer)
    return {"removed": removed_counts, "regrown": grown_counts}


def _explored(ever_active: list[np.ndarray]) -> tuple[float, list[float]]:
    per_layer = [float(a.mean()) for a in ever_active]
    total = float(sum(a.sum() for a in ever_active) / sum(a.size for a in ever_active))
    return total, per_layer


def _finished_summary(run_dir: Path) -> dict[str, Any] | None:
    """The summary of a verified complete run; a damaged one is cleared (and reported) for retraining."""
    state = check_run(run_dir)
    if state.complete:
        return atomic.read_json(run_dir / RESULT)
    if state.damaged:
        warnings.warn(f"damaged run, training it again: {state.problem}", UserWarning, stacklevel=3)
        discard_run_files(run_dir)
    return None


def train_run(
    config: RunConfig,
    run_dir: str | Path,
    *,
    masks: Sequence[np.ndarray] | None = None,
    initial_state: dict[str, torch.Tensor] | None = None,
    save_weights_at: Sequence[int] = (),
    progress: bool = True,
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
    progress : bool
        Show a tqdm bar over epochs.
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
    widths = [data.n_features, *config.hidden, data.n_classes]
    if masks is None:
        masks = initial_masks(config, widths)
    elif config.method == "dense":
        raise ValueError("masks were given for a dense run; use method='static' or 'set'")
    model = build_model(config, widths, masks)
    if initial_state is not None:
        state = {k: v for k, v in initial_state.items() if not k.endswith("mask")}
        missing = model.load_state_dict(state, strict=False)
        if missing.unexpected_keys or [k for k in missing.missing_keys if not k.endswith("mask")]:
            raise ValueError(f"initial_state does not fit the model: {missing}")
        enforce_masks(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: _lr_factor(config.lr_schedule, e, config.epochs))
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    set_rng = np.random.default_rng([config.seed, 0x5E7])
    ever_active = [layer.mask.cpu().numpy().copy() for layer in masked_layers(model)]
    records: list[dict[str, Any]] = []
    start_epoch = 1
    snapshots = set(config.snapshot_schedule())
    save_weights_at = set(int(e) for e in save_weights_at)

    checkpoint_path = run_dir / CHECKPOINT
    if checkpoint_path.exists():
        ckpt = load_checkpoint(checkpoint_path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        shuffle_gen.set_state(ckpt["shuffle_gen"])
        set_rng.bit_generator.state = ckpt["set_rng"]
        ever_active = ckpt["ever_active"]
        records = ckpt["records"]
        start_epoch = ckpt["epoch"] + 1
    else:
        atomic.torch_save(model.state_dict(), run_dir / "weights" / "init.pt")
        save_topology(run_dir / "topology" / "epoch_000.npz", model.masks(), epoch=0, seed=config.seed, config=config.to_dict())
        if 0 in save_weights_at:
            atomic.torch_save(model.state_dict(), run_dir / "weights" / "epoch_000.pt")

    x_train, y_train = data.x_train, data.y_train
    n = len(x_train)
    bar = tqdm(range(start_epoch, config.epochs + 1), desc=f"{config.method} {config.dataset}", disable=not progress,
               initial=start_epoch - 1, total=config.epochs, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=shuffle_gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            enforce_masks(model, optimizer)
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        scheduler.step()
        train_time = time.perf_counter() - t0
        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": loss_sum / n,
            "train_acc": correct / n,
        }
        record["test_loss"], record["test_acc"] = evaluate(model, data.x_test, data.y_test)
        if data.x_val is not None:
            record["val_loss"], record["val_acc"] = evaluate(model, data.x_val, data.y_val)
        check_finite_record(record, epoch, config.lr)
        record["lr"] = optimizer.param_groups[0]["lr"]
        if config.method == "set" and epoch < config.epochs:
            changes = _set_rewire(model, optimizer, config, set_rng, ever_active)
        else:
            changes = {"removed": [0] * len(ever_active), "regrown": [0] * len(ever_active)}
        record["removed"] = changes["removed"]
        record["regrown"] = changes["regrown"]
        record["edges"] = [layer.n_edges for layer in masked_layers(model)]
        record["explored_rate"], record["explored_rate_layers"] = _explored(ever_active)
        record["train_time"] = train_time
        record["epoch_time"] = time.perf_counter() - t0
        records.append(record)
        if epoch in snapshots:
            save_topology(run_dir / "topology" / f"epoch_{epoch:03d}.npz", model.masks(), epoch=epoch, seed=config.seed, config=config.to_dict())
        if epoch in save_weights_at:
            atomic.torch_save(model.state_dict(), run_dir / "weights" / f"epoch_{epoch:03d}.pt")
        atomic.write_json(run_dir / METRICS, records)
        save_checkpoint(
            checkpoint_path,
            epoch=epoch,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
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

    atomic.torch_save(model.state_dict(), run_dir / "weights" / "final.pt")
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
        "train_seconds": float(sum(r["epoch_time"] for r in records)),
        "snapshot_epochs": sorted(snapshots),
    }
    remove_debris(run_dir)
    summary["files"] = file_manifest(run_dir)
    atomic.write_json(run_dir / RESULT, summary)
    checkpoint_path.unlink(missing_ok=True)
    return summary
