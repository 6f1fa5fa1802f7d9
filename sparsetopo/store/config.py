"""Run ids: a run's identity is its configuration, its data and the engine's arithmetic.

:func:`run_id` turns a :class:`~sparsetopo.training.config.RunConfig` into a
readable slug plus a short hash (e.g. ``digits-set-eps5-h64x64-s0-3f2a9c1e``),
which names its folder in the run store, so finished work is found and skipped.
``RunConfig`` itself (and its choice lists) lives in :mod:`sparsetopo.training.config`,
below the store; this module hands those names on.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..fingerprint import short_hash
from ..training.config import (
    BACKENDS,
    DEFAULT_EPSILON,
    DEFAULT_ZETA,
    DEVICES,
    INIT_DRAWS,
    LR_SCHEDULES,
    METHODS,
    WEIGHT_DECAY_MODES,
    WEIGHT_INITS,
    RunConfig,
)

__all__ = [
    "RunConfig", "METHODS", "LR_SCHEDULES", "WEIGHT_INITS", "INIT_DRAWS", "WEIGHT_DECAY_MODES", "BACKENDS", "DEVICES",
    "DEFAULT_EPSILON", "DEFAULT_ZETA", "ENGINE_REVISION", "run_id", "config_hash", "short_hash", "slug_number",
]


def slug_number(x: float) -> str:
    """A number as it appears in a run's slug: ``0.2 -> "0p2"``, ``20.0 -> "20"``."""
    return f"{x:g}".replace(".", "p")


@functools.lru_cache(maxsize=256)
def _topology_file_hash(path: str, mtime_ns: int, size: int) -> str:
    """Content hash of a saved topology; run ids ask for it often, so it is read once per file version."""
    from ..topology.masks import load_topology_sparse, topology_hash

    layers, _ = load_topology_sparse(path)  # the digest of the dense masks, without building them
    return topology_hash(layers)


ENGINE_REVISION = 3
"""Revision of the training engine's arithmetic.

Raised whenever a change to the training code changes the bits a run
produces from the same config (a different kernel, a different order of
summation, a layer moved between backends by ``backend="auto"``). It enters
every run id, so a store never hands back a run that the current engine would
not reproduce bit for bit; runs of an earlier revision stay on disk under
their old ids. Revision 2: feature-major CSR products, fused SGD; revision 3:
``backend="auto"`` runs layers up to 30% dense sparse (was 20%).
"""


def config_hash(config: RunConfig, length: int = 8, *, engine_revision: int | None = None) -> str:
    """Short sha256 of the config, its data and :data:`ENGINE_REVISION`; an initial topology counts by its content.

    The dataset enters by :func:`sparsetopo.data.dataset_fingerprint` (a hash of
    its files or arrays), so a run is never found again for data that changed
    under the same name. ``engine_revision`` (default: the current
    :data:`ENGINE_REVISION`) gives the hash an earlier engine gave the same
    config (revision 1 hashed no revision at all); the run store's inventory
    (:mod:`sparsetopo.store.inventory`) uses it to recognise old runs.
    """
    from ..data import dataset_fingerprint

    if engine_revision is None:
        engine_revision = ENGINE_REVISION
    if not isinstance(engine_revision, int) or isinstance(engine_revision, bool) or not 1 <= engine_revision <= ENGINE_REVISION:
        raise ValueError(f"engine_revision must be an int in 1..{ENGINE_REVISION}, got {engine_revision!r}")
    d = config.hashed_dict()
    d["data_fingerprint"] = dataset_fingerprint(config.dataset)
    if engine_revision > 1:
        d["engine_revision"] = engine_revision
    if config.initial_topology is not None:
        path = Path(config.initial_topology)
        if not path.exists():
            raise FileNotFoundError(f"initial_topology {path} does not exist; save one with sparsetopo.topology.masks.save_topology")
        stat = path.stat()
        d["initial_topology"] = "sha256:" + _topology_file_hash(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return short_hash(d, length)


def run_id(config: RunConfig, *, engine_revision: int | None = None) -> str:
    """Readable slug plus hash, e.g. ``fashion_mnist-set-eps20-h1000x1000x1000-s0-1a2b3c4d``.

    ``engine_revision`` (default: the current one) gives the id an earlier engine gave the same config
    (see :func:`config_hash`).
    """
    if config.method == "dense":
        sparsity = ""
    elif config.initial_topology is not None:
        sparsity = "-init"
    elif config.layer_edges is not None:
        sparsity = f"-edges{sum(config.layer_edges)}"
    elif config.epsilon is not None:
        sparsity = f"-eps{slug_number(config.epsilon)}"
    else:
        sparsity = f"-d{slug_number(config.density)}"
    hidden = "x".join(str(h) for h in config.hidden)
    name = config.dataset.lower().replace("/", "_")
    return f"{name}-{config.method}{sparsity}-h{hidden}-s{config.seed}-{config_hash(config, engine_revision=engine_revision)}"
