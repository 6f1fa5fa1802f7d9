"""Metrics of stored networks, without retraining: a tidy table over runs, epochs, metrics and layers.

:func:`metrics_frame` reads the topology snapshots a run stored and computes
metrics from them. It reads, and never changes, run folders of either layout:

* the run store's (:mod:`sparsetopo.store.runs`): ``<run>/topology/epoch_EEE.npz``
  written by :func:`sparsetopo.topology.masks.save_topology`; runs trained
  before the metrics existed work the same, since only the snapshots are read;
* the published code's: ``<run>/epoch_EEE/weight_l<k>.npz``
  (:func:`sparsetopo.topology.masks.load_published`), or one ``epoch_EEE`` folder;

and single ``.npz`` topology files. :func:`topology_frame` does the same for a
topology in memory.

Every value is cached on disk, keyed by the content of the snapshot files
(:mod:`sparsetopo.fingerprint`), the metric and its version, and the null
model's settings, so a notebook that asks again recomputes nothing and a
snapshot rewritten with other edges is computed afresh. The cache folder is
:func:`resolve_metrics_cache_dir`'s.
"""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..caching import resolve_cache_dir
from ..fingerprint import arrays_digest, combine, file_digest
from ..topology.masks import load_published, load_topology
from ..topology.nulls import DEFAULT_SWAPS_PER_EDGE
from .base import MetricValue
from .compare import NullComparison, _check, layer_labels, null_panel, with_null
from .graph import LayeredGraph, as_graph
from .registry import METRICS, Metric, get_metric

__all__ = ["resolve_metrics_cache_dir", "metrics_frame", "topology_frame",
           "run_snapshots", "FRAME_COLUMNS"]

# Bump when the layout or meaning of a cache entry changes.
_CACHE_VERSION = 1
_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")
_SNAPSHOT = re.compile(r"^epoch_(\d+)\.npz$")

FRAME_COLUMNS = ("run", "epoch", "metric", "layer", "value", "null", "null_mean", "null_std", "z", "percentile")
"""Columns of :func:`metrics_frame` (the null columns only with ``null=``)."""


def resolve_metrics_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The metrics cache folder: ``cache_dir`` if given, else ``$SPARSETOPO_CACHE``, else ``metrics/`` in the
    user cache directory (see :func:`sparsetopo.caching.resolve_cache_dir`; entries are named
    ``metrics-*.npz``, so they can share a folder with NNSTD's)."""
    return resolve_cache_dir("metrics", cache_dir)


# ---------------------------------------------------------------------------
# snapshots of a run
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    epoch: int | None
    key: str
    load: Callable[[], Any]


def _store_snapshot(path: Path, epoch: int | None) -> _Snapshot:
    def load():
        masks, _ = load_topology(path)
        return masks

    return _Snapshot(epoch, file_digest(path), load)


def _published_snapshot(run_dir: Path, epoch: int) -> _Snapshot:
    files = sorted((run_dir / f"epoch_{epoch:03d}").glob("weight_l*.npz"))
    return _Snapshot(epoch, combine(["published"] + [f"{p.name}:{file_digest(p)}" for p in files]),
                     lambda: load_published(run_dir, epoch))


def run_snapshots(run: Any) -> tuple[str, list[_Snapshot]]:
    """A run's label and its snapshots in epoch order, from any input :func:`metrics_frame` takes.

    Raises
    ------
    FileNotFoundError
        The path does not exist, or a folder holds no snapshots of either layout.
    ValueError
        A file that is not a ``.npz`` topology.
    """
    path = Path(getattr(run, "directory", run))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run folder or topology file")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise ValueError(f"{path}: a {path.suffix or 'file without suffix'}; metrics_frame reads run folders and "
                             ".npz topologies (load a state_dict with sparsetopo.topology.modules and use topology_frame)")
        return path.stem, [_store_snapshot(path, None)]
    snapshots = sorted(
        (int(m.group(1)), p) for p in (path / "topology").glob("epoch_*.npz") if (m := _SNAPSHOT.match(p.name))
    )
    if snapshots:
        return path.name, [_store_snapshot(p, e) for e, p in snapshots]
    match = _EPOCH_DIR.match(path.name)
    if match and any(path.glob("weight_l*.npz")):
        return f"{path.parent.name}/{path.name}", [_published_snapshot(path.parent, int(match.group(1)))]
    epochs = sorted(int(m.group(1)) for p in path.iterdir()
                    if (m := _EPOCH_DIR.match(p.name)) and p.is_dir() and any(p.glob("weight_l*.npz")))
    if epochs:
        return path.name, [_published_snapshot(path, e) for e in epochs]
    raise FileNotFoundError(
        f"{path}: no topology snapshots (neither topology/epoch_EEE.npz of the run store nor "
        "epoch_EEE/weight_l<k>.npz of the published layout)"
    )


# ---------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------


def _null_settings(null: str | None, draws: int, seed: int) -> dict:
    if null is None:
        return {"null": None}
    settings = {"null": null, "draws": int(draws), "seed": int(seed)}
    if null == "degree":
        settings["swaps_per_edge"] = DEFAULT_SWAPS_PER_EDGE
    return settings


def _entry_path(root: Path, metric: Metric, keys: Sequence[str], settings: dict) -> Path:
    key = combine([json.dumps({"metric": metric.name, "version": metric.version, "cache": _CACHE_VERSION,
                               "kind": metric.kind, **settings}, sort_keys=True), *keys])
    null = settings["null"] or "none"
    return root / f"metrics-{metric.name}-{null}-{keys[-1][:8]}-{key[:16]}.npz"


def _read(path: Path | None) -> tuple[np.ndarray, np.ndarray | None] | None:
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            values = np.asarray(f["values"], dtype=np.float64)
            samples = np.asarray(f["samples"], dtype=np.float64) if "samples" in f.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return values, samples


def _write(path: Path | None, values: np.ndarray, samples: np.ndarray | None) -> None:
    if path is None:
        return
    arrays = {"values": values} if samples is None else {"values": values, "samples": samples}
    try:
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except OSError as err:  # a computed value is worth more than its cache entry
        warnings.warn(f"metric not cached: cannot write {err.filename or path}: {err.strerror or err}; "
                      "pass cache_dir= or set SPARSETOPO_CACHE to a writable folder to keep it", UserWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------


def _rows(run: str, epoch: int | None, metric: str, values: np.ndarray, samples: np.ndarray | None,
          null: str | None, seed: int) -> list[dict]:
    labels = layer_labels(values.size - 1)
    base = {"run": run, "epoch": epoch, "metric": metric}
    if samples is None:
        return [{**base, "layer": label, "value": float(v)} for label, v in zip(labels, values)]
    comparison = NullComparison(metric, null, MetricValue(values[:-1], float(values[-1])), samples, seed)
    stats = zip(labels, values, comparison.null_mean, comparison.null_std, comparison.z, comparison.percentile)
    return [{**base, "layer": label, "value": float(v), "null": null, "null_mean": float(m), "null_std": float(s),
             "z": float(z), "percentile": float(p)} for label, v, m, s, z, p in stats]


def _as_row(value: MetricValue) -> np.ndarray:
    return np.append(np.asarray(value.layers, dtype=np.float64), value.network)


def _finish(rows: list[dict], null: str | None) -> pd.DataFrame:
    columns = list(FRAME_COLUMNS if null is not None else FRAME_COLUMNS[:5])
    frame = pd.DataFrame(rows, columns=columns)
    frame["epoch"] = frame["epoch"].astype("Int64")
    return frame


def _chosen(metrics: Sequence[str | Metric] | str | None) -> list[Metric]:
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    return [get_metric(m) for m in (METRICS if metrics is None else metrics)]


# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------


def metrics_frame(
    runs: Sequence[Any] | Any,
    metrics: Sequence[str | Metric] | str | None = None,
    epochs: Sequence[int] | int | None = None,
    *,
    null: str | None = None,
    draws: int = 16,
    seed: int = 0,
    labels: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> pd.DataFrame:
    """Metrics of the stored snapshots of runs, optionally against a null model.

    Parameters
    ----------
    runs : run, or sequence of runs
        Each a :class:`~sparsetopo.store.runs.Run` (or anything with a
        ``directory``), a run folder of the run store or of the published
        layout, one ``epoch_EEE`` folder, or a ``.npz`` topology file.
    metrics : names (default: every registered metric)
        Topology metrics are computed on each snapshot; pair metrics compare
        the snapshot with the run's first stored snapshot (its change since
        then); sequence metrics take every stored snapshot up to the epoch
        (the explored rate so far).
    epochs : int or sequence of int, optional
        Epochs to report (default: every stored snapshot). A run without one
        of them is an error naming the epochs it has.
    null : {"er", "degree"}, optional
        Add the null model's mean, spread, z-score and percentile over
        ``draws`` draws (see :mod:`sparsetopo.metrics.compare`).
    draws, seed : int
        Null draws (>= 2) and their seed.
    labels : sequence of str, optional
        Run labels (default: folder or file names).
    cache_dir : path, optional
        Cache folder (default :func:`resolve_metrics_cache_dir`).
    use_cache : bool
        False neither reads nor writes the cache.

    Returns
    -------
    pd.DataFrame
        Tidy, one row per run, epoch, metric and layer (``layer_0`` ...,
        ``network``): columns ``run, epoch, metric, layer, value`` and, with
        ``null``, ``null, null_mean, null_std, z, percentile``. ``epoch`` is
        ``<NA>`` for a single topology file.

    Examples
    --------
    >>> frame = metrics_frame(runs, ["in_degree_gini", "ramanujan_gap"], null="degree")  # doctest: +SKIP
    >>> frame.query("layer == 'layer_0'").pivot_table(index="epoch", columns="metric", values="z")  # doctest: +SKIP
    """
    if null is not None:
        _check(null, draws)
    chosen = _chosen(metrics)
    runs = [runs] if isinstance(runs, (str, os.PathLike)) or hasattr(runs, "directory") else list(runs)
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"labels has {len(labels)} entries for {len(runs)} runs; give one label per run")
    wanted = None if epochs is None else [int(e) for e in ([epochs] if np.isscalar(epochs) else epochs)]
    root = resolve_metrics_cache_dir(cache_dir) if use_cache else None
    settings = _null_settings(null, draws, seed)
    rows: list[dict] = []
    for i, run in enumerate(runs):
        label, snapshots = run_snapshots(run)
        label = str(labels[i]) if labels is not None else label
        by_epoch = {s.epoch: s for s in snapshots}
        if wanted is not None:
            missing = [e for e in wanted if e not in by_epoch]
            if missing:
                have = [s.epoch for s in snapshots]
                raise KeyError(f"run {label} has no snapshot at epoch(s) {missing}; its snapshots: {have}")
            reported = [by_epoch[e] for e in wanted]
        else:
            reported = snapshots
        graph = functools.partial(_loaded, {}, label)
        for snapshot in reported:
            rows.extend(_snapshot_rows(label, snapshot, snapshots, chosen, graph, root, settings, null, draws, seed))
    return _finish(rows, null)


def _loaded(graphs: dict, label: str, snapshot: _Snapshot) -> LayeredGraph:
    """The snapshot's graph, loaded once per call of :func:`metrics_frame`."""
    if snapshot.key not in graphs:
        graphs[snapshot.key] = as_graph(snapshot.load(), name=f"{label} epoch {snapshot.epoch}")
    return graphs[snapshot.key]


def _snapshot_rows(label, snapshot, snapshots, chosen, graph, root, settings, null, draws, seed) -> list[dict]:
    results: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    paths: dict[str, Path | None] = {}
    for m in chosen:
        if m.kind == "topology":
            keys = [snapshot.key]
        elif m.kind == "pair":
            keys = [snapshots[0].key, snapshot.key]
        else:
            keys = [s.key for s in snapshots if snapshot.epoch is None or s.epoch <= snapshot.epoch]
        paths[m.name] = None if root is None else _entry_path(root, m, keys, settings)
        hit = _read(paths[m.name])
        if hit is not None and (null is None or (hit[1] is not None and hit[1].shape[0] == draws)):
            results[m.name] = hit
    todo = [m for m in chosen if m.name not in results]
    topology_todo = [m for m in todo if m.kind == "topology"]
    if topology_todo:
        g = graph(snapshot)
        if null is None:
            for m in topology_todo:
                results[m.name] = (_as_row(m.func(g)), None)
        else:
            for name, c in null_panel(g, topology_todo, null=null, draws=draws, seed=seed).items():
                results[name] = (c.values, c.samples)
    for m in todo:
        if m.kind == "topology":
            continue
        if m.kind == "pair":
            args = (graph(snapshots[0]), graph(snapshot))
            if null is None:
                results[m.name] = (_as_row(m.func(*args)), None)
            else:
                c = with_null(m, args[0], other=args[1], null=null, draws=draws, seed=seed)
                results[m.name] = (c.values, c.samples)
        else:
            sequence = [graph(s) for s in snapshots if snapshot.epoch is None or s.epoch <= snapshot.epoch]
            if null is None:
                results[m.name] = (_as_row(m.func(sequence)), None)
            else:
                c = with_null(m, sequence, null=null, draws=draws, seed=seed)
                results[m.name] = (c.values, c.samples)
    for m in todo:
        _write(paths[m.name], *results[m.name])
    rows = []
    for m in chosen:
        values, samples = results[m.name]
        rows.extend(_rows(label, snapshot.epoch, m.name, values, samples, null, seed))
    return rows


def topology_frame(
    topology: Any,
    metrics: Sequence[str | Metric] | str | None = None,
    *,
    null: str | None = None,
    draws: int = 16,
    seed: int = 0,
    label: str = "topology",
    epoch: int | None = None,
) -> pd.DataFrame:
    """:func:`metrics_frame`'s table for one topology in memory (not cached).

    Pair metrics compare the topology with itself and sequence metrics see
    one snapshot, as for a run with a single snapshot.
    """
    if null is not None:
        _check(null, draws)
    chosen = _chosen(metrics)
    g = as_graph(topology)
    snapshot = _Snapshot(epoch, arrays_digest(*g.flat), lambda: g)
    return _finish(_snapshot_rows(label, snapshot, [snapshot], chosen, lambda s: g, None,
                                  _null_settings(null, draws, seed), null, draws, seed), null)
