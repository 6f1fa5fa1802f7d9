"""Training any ``torch.nn.Module`` classifier: deterministic for a seed, pruning masks honoured, results cached.

The run store (:mod:`sparsetopo.store`) trains the package's own MLPs from a
:class:`~sparsetopo.store.config.RunConfig`. A researcher's own network (a CNN,
a model pruned with ``torch.nn.utils.prune``) is trained here instead::

    torch.manual_seed(0)
    model = make_model()
    trained = train_module(model, (x_train, y_train), epochs=10, lr=5e-3, batch_size=64, seed=0,
                           cache_dir="runs/modules", name="cnn_s0")
    prune.l1_unstructured(model.conv1, "weight", amount=0.5)
    train_module(model, (x_train, y_train), epochs=10, lr=5e-3, batch_size=64, seed=0, start_epoch=10,
                 cache_dir="runs/modules", name="cnn_s0_p50")

What a call does, and why the same call gives the same bits:

- Epoch ``e`` (counted from ``start_epoch``) visits the training samples in the
  ``e``-th permutation drawn by a ``torch.Generator`` seeded with ``seed``, in
  mini-batches of ``batch_size``; so fine-tuning with ``start_epoch=k`` after
  ``k`` epochs continues one stream of batch orders rather than repeating it.
- A fresh optimizer (``"adam"`` or ``"sgd"``, learning rate ``lr``, nothing
  else) minimises the cross-entropy of the model's outputs on CPU, on one
  thread (restored afterwards), so the weights do not depend on the machine's
  core count. The global random state is seeded with ``seed`` inside
  ``torch.random.fork_rng`` (dropout is reproducible; the caller's state is
  left as it was).
- Masks of ``torch.nn.utils.prune`` act through its forward hooks:
  ``weight = weight_orig * weight_mask`` on every pass, so a pruned weight gets
  a zero gradient and neither optimizer moves it (there is no weight decay).
  The masks stay in the ``state_dict`` (``weight_mask`` buffers), so the files
  read back with :func:`sparsetopo.topology.modules.load_state_dict_topology`
  and ``sparsetopo distance``.

The cache is keyed by content: a hash of the model's architecture (its
``repr``), its starting ``state_dict`` (names, dtypes, shapes and values; the
masks are buffers, so they count), the training tensors, every setting above
and :data:`REVISION`. A call whose key has a file under ``cache_dir`` loads it
into the model and trains nothing. Files are written atomically
(``<name>-<key>.pt``, a plain ``state_dict``, and ``<name>-<key>.json``, the
settings it was trained with).
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .. import atomic
from ..errors import DamagedRunError
from ..fingerprint import arrays_digest, combine, short_hash

__all__ = ["OPTIMIZERS", "REVISION", "TrainedModule", "train_module", "module_key", "module_accuracy"]

OPTIMIZERS = ("adam", "sgd")
"""The optimizers :func:`train_module` builds (plain, learning rate only)."""
REVISION = 1
"""Revision of :func:`train_module`'s arithmetic; part of every cache key, raised when a change alters the bits."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TrainedModule:
    """What :func:`train_module` returns.

    Attributes
    ----------
    model : torch.nn.Module
        The model passed in, trained in place (or loaded from the cache), in eval mode.
    key : str
        The content key of this training (see :func:`module_key`).
    path : Path or None
        The cached ``state_dict`` file (None without ``cache_dir``).
    from_cache : bool
        True when the weights were read from ``path`` rather than trained.
    """

    model: Any
    key: str
    path: Path | None
    from_cache: bool


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"train_module: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"train_module: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def _settings(epochs: Any, lr: Any, batch_size: Any, seed: Any, optimizer: Any, start_epoch: Any) -> dict[str, Any]:
    """The training settings checked (one-line errors naming the argument) and normalised."""
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"train_module: lr must be a finite number > 0, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"train_module: optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    return {"epochs": _check_int("epochs", epochs, 0), "lr": float(lr),
            "batch_size": _check_int("batch_size", batch_size, 1), "seed": _check_int("seed", seed, 0),
            "optimizer": optimizer, "start_epoch": _check_int("start_epoch", start_epoch, 0)}


def _tensors(data: Any) -> tuple[Any, Any]:
    """``(x, y)`` from a pair or from an object with ``x_train``/``y_train`` (a :class:`sparsetopo.data.Dataset`)."""
    import torch

    if hasattr(data, "x_train") and hasattr(data, "y_train"):
        x, y = data.x_train, data.y_train
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        raise TypeError(f"train_module: data must be a pair (x, y) or a dataset with x_train and y_train, "
                        f"got {type(data).__name__}")
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if not x.is_floating_point() or y.ndim != 1 or y.dtype != torch.int64 or x.shape[0] != y.shape[0] or not len(y):
        raise ValueError(f"train_module: data must be float inputs (n, ...) and int64 labels (n,), n >= 1; got x "
                         f"{tuple(x.shape)} {x.dtype} and y {tuple(y.shape)} {y.dtype}")
    return x, y


def _check_model(model: Any) -> None:
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"train_module: model must be a torch.nn.Module, got {type(model).__name__}")


def module_key(model: Any, data: Any, *, epochs: int, lr: float, batch_size: int, seed: int,
               optimizer: str = "adam", start_epoch: int = 0) -> str:
    """The content key :func:`train_module` caches this training under (16 hex digits).

    It changes with the architecture (``repr(model)``), any value, dtype or
    shape of the starting ``state_dict`` (pruning masks included), the training
    tensors, any setting, and :data:`REVISION`; nothing else enters it.
    """
    _check_model(model)
    settings = _settings(epochs, lr, batch_size, seed, optimizer, start_epoch)
    x, y = _tensors(data)
    state = model.state_dict()
    return short_hash({"revision": REVISION, "architecture": repr(model), **settings, "data": arrays_digest(x, y),
                       "state": combine(f"{name}:{arrays_digest(tensor)}" for name, tensor in state.items())}, 16)


@contextmanager
def _one_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(model: Any, x: Any, y: Any, settings: dict[str, Any]) -> None:
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(settings["seed"])
    n = x.shape[0]
    for _ in range(settings["start_epoch"]):  # the batch orders of the epochs already trained
        torch.randperm(n, generator=generator)
    make = torch.optim.Adam if settings["optimizer"] == "adam" else torch.optim.SGD
    optimizer = make(model.parameters(), lr=settings["lr"])
    batch_size = settings["batch_size"]
    model.train()
    for _ in range(settings["epochs"]):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()


def train_module(model: Any, data: Any, *, epochs: int, lr: float, batch_size: int, seed: int,
                 optimizer: str = "adam", start_epoch: int = 0, cache_dir: str | os.PathLike | None = None,
                 name: str = "module") -> TrainedModule:
    """Train ``model`` in place on ``data`` for ``epochs`` epochs (see the module docstring), or load the result.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier on CPU whose output is one logit per class; it may hold
        ``torch.nn.utils.prune`` masks, which stay in force.
    data : (x, y) or Dataset
        Float inputs shaped as the model takes them and int64 labels, or an
        object with ``x_train`` and ``y_train`` (a :class:`sparsetopo.data.Dataset`).
    epochs : int
        Epochs to train (>= 0; 0 trains nothing, but still caches).
    lr : float
        Learning rate (> 0).
    batch_size : int
        Mini-batch size (>= 1); the last batch of an epoch may be smaller.
    seed : int
        Seed of the batch orders and of the global random state during training (>= 0).
    optimizer : {"adam", "sgd"}
    start_epoch : int
        Epochs trained before (>= 0): the batch orders continue from that epoch of the stream.
    cache_dir : path-like, optional
        Folder of the content-keyed cache (for example ``<runs root>/modules``); None trains without one.
    name : str
        Readable prefix of the cached files' names (letters, digits, ``_``, ``-``, ``.``).

    Returns
    -------
    TrainedModule

    Raises
    ------
    TypeError, ValueError
        A bad argument; the one-line message names it and what is allowed.
    DamagedRunError
        A cached file exists but cannot be read into ``model`` (delete it to train again).
    """
    import torch

    _check_model(model)
    settings = _settings(epochs, lr, batch_size, seed, optimizer, start_epoch)
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-." for c in name):
        raise ValueError(f"train_module: name must be a non-empty file-name prefix (letters, digits, _ - .), "
                         f"got {name!r}")
    x, y = _tensors(data)
    key = module_key(model, (x, y), **settings)
    path = None if cache_dir is None else Path(cache_dir) / f"{name}-{key}.pt"
    if path is not None and path.exists():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as err:  # a truncated file, or one another model wrote
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise DamagedRunError(path, f"cannot be loaded into this model ({first}); delete it to train again") from None
        model.eval()
        logger.info("%s: read from %s", name, path.name)
        return TrainedModule(model, key, path, True)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]), _one_thread():
        torch.manual_seed(settings["seed"])
        _train(model, x, y, settings)
    model.eval()
    if path is not None:
        atomic.torch_save(model.state_dict(), path)
        atomic.write_json(path.with_suffix(".json"), {
            "key": key, "name": name, "revision": REVISION, **settings, "samples": int(y.shape[0]),
            "architecture": repr(model), "torch": torch.__version__,
            "seconds": round(time.perf_counter() - started, 3)})
    logger.info("%s: trained %d epochs in %.1f s", name, settings["epochs"], time.perf_counter() - started)
    return TrainedModule(model, key, path, False)


def module_accuracy(model: Any, x: Any, y: Any) -> float:
    """Fraction of ``x`` whose largest output is the label ``y`` (eval mode, no gradients, one thread)."""
    import torch

    _check_model(model)
    model.eval()
    with torch.no_grad(), _one_thread():
        return float((model(torch.as_tensor(x)).argmax(1) == torch.as_tensor(y)).float().mean())
