"""NNSTD over many networks: pairwise matrices, trajectories, calibration.

Everything here is built on :func:`sparsetopo.nnstd.distance.nnstd` and caches every
computed pair on disk, keyed by the content hashes of the two topologies
(:func:`sparsetopo.topology.masks.topology_hash`) and the options, so re-running a
notebook recomputes nothing. The cache directory is the ``cache_dir``
argument, else the environment variable ``SPARSETOPO_CACHE``, else ``nnstd/``
in the user's cache directory (``platformdirs.user_cache_dir("sparsetopo")``,
e.g. ``~/.cache/sparsetopo/nnstd`` on Linux), never the caller's working
directory; entries are written atomically.

Orientation convention
----------------------
NNSTD(a, b) and NNSTD(b, a) solve the same optimisation, but when several
matchings are tied optimal the solver may pick different ones, and layers
1-2 then differ (by up to 0.02 on the published topologies). One
convention is applied everywhere, the published code's: **the network that
comes later in the list is the first argument**. Entry ``[i, j]`` of a
pairwise matrix with ``i > j`` is ``NNSTD(topologies[i], topologies[j])``;
the matrix is symmetrised from that lower triangle and its diagonal is 0.
Trajectories follow the same rule (the later snapshot is the first
argument), so their values are entries of the pairwise matrix of the
snapshots.

For contrast, :func:`mask_jaccard` and :func:`mask_hamming` compare masks
position by position, which is what NNSTD avoids: they call two networks
that differ only by the numbering of hidden neurons far apart. They live in
:mod:`sparsetopo.metrics.overlap` and are served from here for compatibility (loaded on first use: the
metrics package and pandas are not needed to compute distances).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp

from ..atomic import atomic_path
from ..caching import resolve_cache_dir as _resolve_cache_dir
from ..stats import column_mean_ci
from ..topology.layered import as_layers, is_mlp, permute_hidden_units
from ..topology.masks import as_topology, permute_hidden_neurons, sparse_edge_positions, topology_hash
from ..topology.nulls import NULLS, draw_null
from .distance import (
    METHODS,
    TIE_BREAKS,
    NNSTDResult,
    _all_scipy_sparse,
    _check_same_shapes,
    _check_sparse_chain,
    _check_sparse_pair,
    _nnstd_prepared,
    _prepare,
    _prepare_sparse,
    nnstd,
    validate_pair,
)
from .distance import _Prepared as _PreparedNetwork

if TYPE_CHECKING:  # pandas loads where a frame is built: `sparsetopo distance` never needs it
    import pandas as pd


def __getattr__(name: str) -> Any:
    """``mask_jaccard`` and ``mask_hamming`` from :mod:`sparsetopo.metrics.overlap`, imported when first asked for."""
    if name in ("mask_jaccard", "mask_hamming"):
        from ..metrics import overlap

        return getattr(overlap, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DistanceMatrix",
    "Calibration",
    "resolve_cache_dir",
    "cached_nnstd",
    "pairwise_nnstd",
    "trajectory_nnstd",
    "random_baseline",
    "mds_embedding",
    "pairwise_mask_distances",
]

"""Environment variable of the NNSTD cache folder (see :func:`resolve_cache_dir`)."""
# Bump when the numbers an entry holds would change for the same inputs.
_CACHE_VERSION = 1


@dataclass(frozen=True, eq=False)
class DistanceMatrix:
    """Pairwise distances between networks.

    Attributes
    ----------
    labels : tuple of str
        One per network, in input order.
    layers : np.ndarray
        ``(n_layers, n_networks, n_networks)`` per-layer distances.
    mean : np.ndarray
        ``(n_networks, n_networks)`` mean over layers.
    """

    labels: tuple
    layers: np.ndarray
    mean: np.ndarray

    def __repr__(self) -> str:
        n = len(self.labels)
        shown = ", ".join(repr(str(label)) for label in self.labels[:4]) + (", ..." if n > 4 else "")
        off = self.mean[~np.eye(n, dtype=bool)] if n > 1 else np.zeros(0)
        spread = f", mean off-diagonal {off.mean():.4f} (range {off.min():.4f}-{off.max():.4f})" if off.size else ""
        return f"DistanceMatrix({n} networks [{shown}], {self.layers.shape[0]} layers{spread})"

    def frame(self, layer: int | None = None) -> pd.DataFrame:
        """The mean matrix (or one layer's) as a labelled DataFrame."""
        values = self.mean if layer is None else self.layers[layer]
        import pandas as pd

        return pd.DataFrame(values, index=list(self.labels), columns=list(self.labels))


@dataclass(frozen=True, eq=False)
class Calibration:
    """NNSTD expected by chance between random topologies of given shapes.

    Attributes
    ----------
    samples : np.ndarray
        ``(n_pairs, n_layers)`` NNSTD of each pair of independent random
        topologies.
    layer_mean : np.ndarray
        ``(n_layers,)`` mean over pairs.
    layer_ci : np.ndarray
        ``(n_layers, 2)`` Student-t confidence interval of the layer means.
    mean : float
        Mean network distance over pairs.
    ci : tuple of float
        Confidence interval of ``mean``.
    confidence : float
        Level of the intervals.
    permuted_copy : tuple of float
        Per-layer NNSTD of the reference topology against a copy with
        renumbered hidden neurons, with the same options: the zero end of
        the scale (exactly 0 with ``tie_break="structure"``; with
        ``"solver"`` it shows the solver's tie noise).
    null : str
        The null model the random topologies were drawn from
        (:data:`sparsetopo.topology.nulls.NULLS`).
    """

    samples: np.ndarray
    layer_mean: np.ndarray
    layer_ci: np.ndarray
    mean: float
    ci: tuple
    confidence: float
    permuted_copy: tuple
    null: str = "er"

    def __repr__(self) -> str:
        layers = ", ".join(f"{v:.4f}" for v in self.layer_mean)
        return (f"Calibration({self.samples.shape[0]} random pairs, mean={self.mean:.4f} "
                f"[{self.ci[0]:.4f}, {self.ci[1]:.4f}] at {self.confidence:.0%}, layers=[{layers}])")

    def frame(self) -> pd.DataFrame:
        """One row per layer plus ``"mean"``: mean, CI bounds, permuted copy."""
        n_layers = self.samples.shape[1]
        index = [f"layer_{k}" for k in range(n_layers)] + ["mean"]
        import pandas as pd

        return pd.DataFrame(
            {
                "random_mean": list(self.layer_mean) + [self.mean],
                "ci_low": list(self.layer_ci[:, 0]) + [self.ci[0]],
                "ci_high": list(self.layer_ci[:, 1]) + [self.ci[1]],
                "permuted_copy": list(self.permuted_copy) + [float(np.mean(self.permuted_copy))],
            },
            index=index,
        )


# ---------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder of the NNSTD cache: ``cache_dir`` if given, else ``$SPARSETOPO_CACHE``, else ``nnstd/`` in the
    user cache directory (see :func:`sparsetopo.caching.resolve_cache_dir`)."""
    return _resolve_cache_dir("nnstd", cache_dir)


def _options(method: str, fixed_output: bool, tie_break: str) -> dict:
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {', '.join(map(repr, METHODS))}")
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break={tie_break!r} is not one of {', '.join(map(repr, TIE_BREAKS))}")
    return {"method": method, "fixed_output": bool(fixed_output), "tie_break": tie_break}


def _cache_path(cache_dir: Path, first_hash: str, second_hash: str, options: dict) -> Path:
    key = hashlib.sha256(
        json.dumps(
            {"first": first_hash, "second": second_hash, "version": _CACHE_VERSION, **options},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    output = "fixed" if options["fixed_output"] else "matched"
    slug = f"{first_hash[:8]}-{second_hash[:8]}-{options['method']}-{output}-{options['tie_break']}"
    return cache_dir / f"{slug}-{key[:16]}.npz"


def _read_entry(path: Path) -> NNSTDResult | None:
    """A cached result, or None when absent or unreadable (then recomputed)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            distances = tuple(float(d) for d in f["layer_distances"])
            matchings = []
            for k in range(len(distances)):
                m = np.asarray(f[f"matching_{k}"], dtype=np.int64)
                m.setflags(write=False)
                matchings.append(m)
            methods = tuple(json.loads(str(f["methods"])))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return NNSTDResult(
        layer_distances=distances,
        mean=float(np.mean(distances)),
        matchings=tuple(matchings),
        methods=methods,
    )


def _write_entry(path: Path, result: NNSTDResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"layer_distances": np.asarray(result.layer_distances, dtype=np.float64)}
    for k, m in enumerate(result.matchings):
        arrays[f"matching_{k}"] = np.asarray(m, dtype=np.int64)
    arrays["methods"] = np.asarray(json.dumps(list(result.methods)))
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


class _Prepared(tuple):
    """A network's layers (the tuple: boolean masks as :func:`as_layers` returns them, or an MLP's scipy sparse
    layers, kept sparse) with what :func:`sparsetopo.nnstd.distance.nnstd` derives from one network alone
    (``network``: its CSR layers, input blocks and structural colours), computed once per matrix instead of once
    per pair."""

    network: _PreparedNetwork
    sparse: bool
    fixed_output: bool
    tie_break: str

    @classmethod
    def of(cls, layers: Sequence[Any], *, method: str, fixed_output: bool, tie_break: str) -> _Prepared:
        """Prepare a network that passed :func:`_validated_list` for the given NNSTD options."""
        sparse = _all_scipy_sparse(layers)
        self = cls(layers if sparse else as_layers(layers))
        options = {"fixed_output": bool(fixed_output), "tie_break": tie_break}
        self.network = _prepare_sparse(self, "network", **options) if sparse else _prepare(self, **options)
        self.sparse = sparse
        self.fixed_output = bool(fixed_output)
        self.tie_break = tie_break
        return self


def _nnstd_of(first: Sequence[Any], second: Sequence[Any], **options: Any) -> NNSTDResult:
    """NNSTD of one pair, as :func:`sparsetopo.nnstd.distance.nnstd`; networks prepared for these options
    (:class:`_Prepared`) skip the per-network work. Every NNSTD of this module is computed here."""
    if (isinstance(first, _Prepared) and isinstance(second, _Prepared) and first.sparse == second.sparse
            and first.fixed_output == second.fixed_output == options["fixed_output"]
            and (options["tie_break"] != "structure" or first.tie_break == second.tie_break == "structure")):
        # the same checks and messages as nnstd
        if first.sparse:
            _check_sparse_pair(first.network.csr, second.network.csr)
        else:
            validate_pair(first, second, same_widths=False)
        return _nnstd_prepared(first.network, second.network, **options)
    return nnstd(first, second, **options)


def _content_hash(layers: Sequence[Any]) -> str:
    """The cache key of a network: :func:`topology_hash` of masks, or of scipy sparse layers their edge positions."""
    return _sparse_topology_hash(layers) if _all_scipy_sparse(layers) else topology_hash(layers)


def _sparse_topology_hash(layers: Sequence[Any]) -> str:
    """Content hash of scipy sparse layers: shapes and sorted flat edge positions (no dense mask).

    A key of its own (tagged), not equal to :func:`topology_hash` of the same masks: a topology given
    sparse and given dense are two cache entries with the same numbers."""
    h = hashlib.sha256(b"sparse-layers")
    for layer in layers:
        h.update(np.asarray(layer.shape, dtype=np.int64).tobytes())
        h.update(sparse_edge_positions(layer).astype("<i8").tobytes())
    return h.hexdigest()


def _compute_entry(first: Sequence[Any], second: Sequence[Any], options: dict, path: Path | None) -> NNSTDResult:
    # `_nnstd_of` is looked up in this module at call time, so tests can count calls
    result = _nnstd_of(first, second, **options)
    if path is not None:
        try:
            _write_entry(path, result)
        except OSError as err:  # a computed distance is worth more than its cache entry
            warnings.warn(f"NNSTD not cached: cannot write {err.filename or path}: {err.strerror or err}; "
                          "the result is returned, set SPARSETOPO_CACHE to a writable folder to keep it",
                          UserWarning, stacklevel=2)
    return result


def cached_nnstd(
    first: Sequence[Any],
    second: Sequence[Any],
    *,
    method: str = "auto",
    fixed_output: bool = False,
    tie_break: str = "structure",
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> NNSTDResult:
    """:func:`sparsetopo.nnstd.distance.nnstd`, read from / written to the disk cache.

    Parameters
    ----------
    first, second : topology
    method, fixed_output, tie_break
        As in :func:`sparsetopo.nnstd.distance.nnstd`; part of the cache key.
    cache_dir : path, optional
        Cache folder (default: :func:`resolve_cache_dir`: ``$SPARSETOPO_CACHE``, else the user cache directory).
    use_cache : bool
        False computes without reading or writing the cache.
    """
    options = _options(method, fixed_output, tie_break)
    if not (_all_scipy_sparse(first) and _all_scipy_sparse(second)):  # scipy sparse layers stay so; nnstd checks them
        first, second = validate_pair(first, second, same_widths=False)
    if not use_cache:
        return _compute_entry(first, second, options, None)
    path = _cache_path(resolve_cache_dir(cache_dir), _content_hash(first), _content_hash(second), options)
    hit = _read_entry(path)
    return hit if hit is not None else _compute_entry(first, second, options, path)


def _compute_pairs(
    topologies: list,
    pairs: list[tuple[int, int]],
    options: dict,
    *,
    n_jobs: int,
    progress: bool | None,
    cache_dir: str | os.PathLike | None,
    use_cache: bool,
    desc: str,
    meanwhile: Callable[[], Any] | None = None,
) -> dict[tuple[int, int], NNSTDResult]:
    """NNSTD(topologies[i], topologies[j]) for every ``(i, j)`` in ``pairs``; ``meanwhile()`` is called once, while
    worker processes compute where there are any."""
    from ..parallel import parallel_map

    results: dict[tuple[int, int], NNSTDResult] = {}
    paths: dict[tuple[int, int], Path | None] = {}
    if use_cache:
        root = resolve_cache_dir(cache_dir)
        hashes = [_content_hash(t) for t in topologies]
        for i, j in pairs:
            paths[(i, j)] = _cache_path(root, hashes[i], hashes[j], options)
            hit = _read_entry(paths[(i, j)])
            if hit is not None:
                results[(i, j)] = hit
    todo = [p for p in dict.fromkeys(pairs) if p not in results]
    if not todo:
        if meanwhile is not None:
            meanwhile()
        return results
    from ..executor import resolve_scheduler
    from ..parallel import can_fork, forked_map

    if resolve_scheduler() is None and (n_jobs == 1 or can_fork()):
        # in this process, or in workers forked from it that inherit the prepared networks
        used = sorted({i for pair in todo for i in pair})
        prepared = {i: _Prepared.of(topologies[i], **options) for i in used}

        def compute(pair: tuple[int, int]) -> NNSTDResult:
            return _compute_entry(prepared[pair[0]], prepared[pair[1]], options, paths.get(pair))

        computed = forked_map(compute, todo, n_jobs=n_jobs, desc=desc, progress=progress, meanwhile=meanwhile,
                              setup=_reuse_freed_memory)
        for result in computed:
            for m in result.matchings:  # read-only, like a result computed or read here
                if m.flags.writeable:
                    m.setflags(write=False)
    else:
        # work leaving this process gets sparse masks: a few % of the bytes of dense bool arrays
        topologies = [[sp.csr_matrix(m) if np.ndim(m) == 2 else m for m in t] for t in topologies]
        items = [(topologies[i], topologies[j], options, paths.get((i, j))) for i, j in todo]
        if meanwhile is not None:
            meanwhile()
        computed = parallel_map(_compute_item, items, n_jobs=n_jobs, desc=desc, progress=progress)
    results.update(zip(todo, computed))
    return results


def _reuse_freed_memory() -> None:
    """In a worker process: let glibc's allocator keep freed memory for the next pair instead of handing it back.

    Every layer of every pair allocates dense ``n_out x n_out`` cost matrices (4.9 MB at 784 neurons); by default
    glibc serves such blocks with fresh ``mmap`` calls, or trims them off the heap when freed, so each one costs
    page faults again (about a fifth of the time of a published pair, as system time). Allocations below 64 MiB
    then come from the heap, which keeps up to 256 MiB of free memory. Nothing changes where the C library has no
    ``mallopt`` (not glibc); the worker's memory goes back to the system when it exits.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 64 << 20)
    mallopt(m_trim_threshold, 256 << 20)
    mallopt(m_top_pad, 64 << 20)


def _compute_item(item: tuple) -> NNSTDResult:
    return _compute_entry(*item)


def _validated_list(topologies: Sequence[Any], name: str, same_widths: bool = True) -> list[list[np.ndarray]]:
    topologies = list(topologies)
    if topologies and all(_all_scipy_sparse(t) for t in topologies):
        return _validated_sparse_list(topologies, name, same_widths)
    convert = as_topology if same_widths else as_layers
    topologies = [convert(t, name=f"{name}[{i}]") for i, t in enumerate(topologies)]
    if len(topologies) < 1:
        raise ValueError(f"{name} is empty; give at least one topology")
    for i, t in enumerate(topologies[1:], start=1):
        try:
            validate_pair(topologies[0], t, same_widths=same_widths)
        except ValueError as err:
            raise ValueError(f"{name}[{i}] cannot be compared with {name}[0]: {err}") from None
    return topologies


def _validated_sparse_list(topologies: list, name: str, same_widths: bool = False) -> list[list]:
    """MLPs of scipy sparse layers, their shapes checked as :func:`nnstd` checks them (with ``same_widths``,
    every layer's shape equal to the first network's, as :func:`validate_pair` demands of masks), kept as given
    (their contents are checked where they are prepared)."""
    checked = []
    for i, t in enumerate(topologies):
        layers = list(t)
        _check_sparse_chain(layers, f"{name}[{i}]")
        if checked:
            try:
                _check_sparse_pair(checked[0], layers)
                if same_widths:
                    _check_same_shapes(checked[0], layers)
            except ValueError as err:
                raise ValueError(f"{name}[{i}] cannot be compared with {name}[0]: {err}") from None
        checked.append(layers)
    return checked


def _labels(labels: Sequence[Any] | None, n: int, name: str) -> tuple:
    if labels is None:
        return tuple(str(i) for i in range(n))
    labels = tuple(str(x) for x in labels)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} {name}; give one label per network")
    return labels


# ---------------------------------------------------------------------------
# pairwise matrices and trajectories
# ---------------------------------------------------------------------------


def pairwise_nnstd(
    topologies: Sequence[Any],
    *,
    labels: Sequence[Any] | None = None,
    method: str = "auto",
    fixed_output: bool = False,
    tie_break: str = "structure",
    n_jobs: int = 1,
    progress: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    meanwhile: Callable[[], Any] | None = None,
) -> DistanceMatrix:
    """NNSTD between every two of a list of networks.

    Entry ``[i, j]`` with ``i > j`` is ``NNSTD(topologies[i], topologies[j])``
    (the later network first, as in the published code); the matrix is
    symmetrised from that lower triangle and the diagonal is 0. Each pair is
    computed once, in ``n_jobs`` processes, and cached on disk.

    Parameters
    ----------
    topologies : sequence of topologies
        Networks of the same architecture (linear and Conv2d masks; layer
        widths may differ, see :func:`sparsetopo.nnstd.distance.nnstd`).
    labels : sequence, optional
        Names for the rows/columns (default ``"0"``, ``"1"``, ...).
    method, fixed_output, tie_break
        As in :func:`sparsetopo.nnstd.distance.nnstd`.
    n_jobs : int
        Worker processes (-1 = all cores), forked from this one so that they inherit the networks
        (:func:`sparsetopo.parallel.forked_map`); joblib where the platform cannot fork.
    progress : bool, optional
        Draw a progress bar; ``None`` follows the package's verbosity (:func:`sparsetopo.set_verbosity`).
    cache_dir : path, optional
        Cache folder (default: :func:`resolve_cache_dir`: ``$SPARSETOPO_CACHE``, else the user cache directory).
    use_cache : bool
        False neither reads nor writes the cache.
    meanwhile : callable, optional
        Called once without arguments, in this process, while the worker
        processes compute the pairs (before them when they are computed here,
        or at once when the cache holds them all): work that does not need the
        matrix, such as the imports for what follows.

    Returns
    -------
    DistanceMatrix
        ``layers`` ``(n_layers, N, N)`` and ``mean`` ``(N, N)``.
    """
    options = _options(method, fixed_output, tie_break)
    topologies = _validated_list(topologies, "topologies", same_widths=False)
    labels = _labels(labels, len(topologies), "topologies")
    n, n_layers = len(topologies), len(topologies[0])
    pairs = [(i, j) for i in range(n) for j in range(i)]
    results = _compute_pairs(
        topologies, pairs, options, n_jobs=n_jobs, progress=progress,
        cache_dir=cache_dir, use_cache=use_cache, desc="NNSTD pairs", meanwhile=meanwhile,
    )
    layers = np.zeros((n_layers, n, n), dtype=np.float64)
    for (i, j), result in results.items():
        layers[:, i, j] = layers[:, j, i] = result.layer_distances
    return DistanceMatrix(labels=labels, layers=layers, mean=layers.mean(axis=0))


def trajectory_nnstd(
    snapshots: Sequence[Any],
    *,
    labels: Sequence[Any] | None = None,
    method: str = "auto",
    fixed_output: bool = False,
    tie_break: str = "structure",
    n_jobs: int = 1,
    progress: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> pd.DataFrame:
    """How a network's topology moves during one run.

    Parameters
    ----------
    snapshots : sequence of topologies
        The same network at successive times (e.g. epochs), in order.
    labels : sequence, optional
        Index of the result (e.g. the epochs; default 0, 1, ...).
    method, fixed_output, tie_break, n_jobs, progress, cache_dir, use_cache
        As in :func:`pairwise_nnstd`.

    Returns
    -------
    pd.DataFrame
        One row per snapshot ``t`` (index named ``"snapshot"``), columns
        ``to_first`` = NNSTD(s_t, s_0), ``to_last`` = NNSTD(s_last, s_t),
        ``to_previous`` = NNSTD(s_t, s_{t-1}) (NaN for the first row), each
        the mean over layers, followed by per-layer columns
        ``to_first_layer<k>``, ``to_last_layer<k>``, ``to_previous_layer<k>``.
        The later snapshot is always the first argument.
    """
    options = _options(method, fixed_output, tie_break)
    snapshots = _validated_list(snapshots, "snapshots")
    labels = list(labels) if labels is not None else list(range(len(snapshots)))
    if len(labels) != len(snapshots):
        raise ValueError(f"labels has {len(labels)} entries for {len(snapshots)} snapshots; give one per snapshot")
    n, n_layers = len(snapshots), len(snapshots[0])
    last = n - 1
    wanted = {"to_first": [(t, 0) for t in range(n)], "to_last": [(last, t) for t in range(n)],
              "to_previous": [(t, t - 1) for t in range(1, n)]}
    pairs = [p for ps in wanted.values() for p in ps if p[0] != p[1]]
    results = _compute_pairs(
        snapshots, pairs, options, n_jobs=n_jobs, progress=progress,
        cache_dir=cache_dir, use_cache=use_cache, desc="NNSTD trajectory",
    )

    def column(pair_list: list, offset: int) -> np.ndarray:
        values = np.full((n, n_layers), np.nan)
        for t, (i, j) in enumerate(pair_list, start=offset):
            values[t] = 0.0 if i == j else results[(i, j)].layer_distances
        return values

    table = {
        "to_first": column(wanted["to_first"], 0),
        "to_last": column(wanted["to_last"], 0),
        "to_previous": column(wanted["to_previous"], 1),
    }
    import pandas as pd

    frame = pd.DataFrame({name: values.mean(axis=1) for name, values in table.items()},
                         index=pd.Index(labels, name="snapshot"))
    for name, values in table.items():
        for k in range(n_layers):
            frame[f"{name}_layer{k}"] = values[:, k]
    return frame


# ---------------------------------------------------------------------------
# calibration against chance
# ---------------------------------------------------------------------------


def random_baseline(
    topology: Sequence[Any],
    *,
    other: Sequence[Any] | None = None,
    n_pairs: int = 16,
    seed: int = 0,
    null: str = "er",
    confidence: float = 0.95,
    method: str = "auto",
    fixed_output: bool = False,
    tie_break: str = "structure",
    n_jobs: int = 1,
    progress: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> Calibration:
    """Expected NNSTD between two independent random topologies like ``topology``.

    Each of ``n_pairs`` pairs draws two random topologies from the null
    model ``null`` (:mod:`sparsetopo.topology.nulls`), seeded by ``(seed,
    pair, side)`` so that adding pairs keeps the earlier ones and their
    cache entries:

    * ``"er"`` (default): Erdős–Rényi, the same layer shapes and exactly the
      same per-layer edge counts as ``topology``, positions uniform
      (convolutional layers uniformly over all ``(out_channel, in_channel,
      row, col)`` positions);
    * ``"degree"``: degree-preserving, every layer keeps both degree
      sequences of ``topology`` (each neuron its number of inputs, each input
      its number of outputs), drawn by double-edge swaps from ``topology``
      itself. Trained networks have skewed degrees, which Erdős–Rényi graphs
      lack; this is the chance level for "as far apart as random" claims
      about them.

    With ``other``, the second topology of every pair is drawn like
    ``other`` instead: the chance level for comparing ``topology`` with
    ``other`` when they differ in density, width or degrees.

    Parameters
    ----------
    topology : topology
        Reference network: only its shapes and edge counts are used (plus
        itself for ``permuted_copy``).
    other : topology, optional
        Shapes and edge counts of the second network of every pair
        (default: those of ``topology``).
    n_pairs : int
        Monte Carlo sample size (>= 2).
    seed : int
    null : {"er", "degree"}
        The null model (see above).
    confidence : float in (0, 1)
        Level of the Student-t confidence intervals.
    method, fixed_output, tie_break, n_jobs, progress, cache_dir, use_cache
        As in :func:`pairwise_nnstd`.

    Returns
    -------
    Calibration
    """
    options = _options(method, fixed_output, tie_break)
    if null not in NULLS:
        raise ValueError(f"null={null!r} is not one of {', '.join(map(repr, NULLS))}")
    if n_pairs < 2:
        raise ValueError(f"n_pairs must be at least 2 for a confidence interval, got {n_pairs}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    topology, second_like = _baseline_networks(topology, other)
    randoms = []
    for pair in range(n_pairs):
        for side, like in enumerate((topology, second_like)):
            # for "er" the same draws as random_topology / random_like: earlier numbers and cache entries hold
            randoms.append(draw_null(like, null, np.random.default_rng([int(seed), pair, side])))
    pairs = [(2 * p, 2 * p + 1) for p in range(n_pairs)]
    results = _compute_pairs(
        randoms, pairs, options, n_jobs=n_jobs, progress=progress,
        cache_dir=cache_dir, use_cache=use_cache, desc="NNSTD random pairs",
    )
    samples = np.array([results[p].layer_distances for p in pairs], dtype=np.float64)
    layer_mean, layer_ci = column_mean_ci(samples, confidence)
    network_mean, network_ci = column_mean_ci(samples.mean(axis=1, keepdims=True), confidence)
    shuffled = permute_hidden_neurons(topology, seed=seed) if is_mlp(topology) else permute_hidden_units(topology, seed=seed)
    copy = _nnstd_of(topology, shuffled, **options)
    return Calibration(
        samples=samples,
        layer_mean=layer_mean,
        layer_ci=layer_ci,
        mean=float(network_mean[0]),
        ci=(float(network_ci[0, 0]), float(network_ci[0, 1])),
        confidence=float(confidence),
        permuted_copy=copy.layer_distances,
        null=null,
    )


def _baseline_networks(topology: Sequence[Any], other: Sequence[Any] | None) -> tuple[list, list]:
    """``random_baseline``'s reference network and the one its second draws are like, validated. MLPs of scipy
    sparse layers (both, when ``other`` is given) stay sparse: every null model draws them as CSR layers."""
    if _all_scipy_sparse(topology) and (other is None or _all_scipy_sparse(other)):
        networks = _validated_sparse_list([topology] if other is None else [topology, other], "topology")
        return networks[0], networks[-1]
    topology = as_layers(topology, name="topology")
    second_like = topology if other is None else as_layers(other, name="other")
    if other is not None:
        validate_pair(topology, second_like, same_widths=False)
    return topology, second_like


def mds_embedding(matrix: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """2-D metric MDS of a symmetric distance matrix (e.g. ``DistanceMatrix.mean``).

    Parameters
    ----------
    matrix : ``(n, n)`` symmetric distances.
    seed : random_state of the MDS.

    Returns
    -------
    np.ndarray
        ``(n, 2)`` coordinates whose Euclidean distances approximate ``matrix``.
        Works with scikit-learn before and after 1.8 renamed MDS's
        ``dissimilarity`` argument to ``metric``.
    """
    import inspect
    import warnings

    from sklearn.manifold import MDS

    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (n, n), got shape {matrix.shape}")
    if not np.allclose(matrix, matrix.T):
        raise ValueError("matrix must be symmetric")
    n = matrix.shape[0]
    if n < 3:  # nothing to optimise: lay the points out on a line
        return np.column_stack([matrix[0], np.zeros(n)]) if n else np.zeros((0, 2))
    if "metric_mds" in inspect.signature(MDS).parameters:
        mds = MDS(n_components=2, metric="precomputed", metric_mds=True, init="classical_mds", random_state=seed)
    else:
        mds = MDS(n_components=2, dissimilarity="precomputed", n_init=4, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mds.fit_transform((matrix + matrix.T) / 2)


# ---------------------------------------------------------------------------
# permutation-blind baselines
# ---------------------------------------------------------------------------


def pairwise_mask_distances(
    topologies: Sequence[Any],
    *,
    metric: str = "jaccard",
    labels: Sequence[Any] | None = None,
) -> DistanceMatrix:
    """Pairwise :func:`mask_jaccard` or :func:`mask_hamming` for many networks.

    Parameters
    ----------
    topologies : sequence of topologies with identical shapes
    metric : {"jaccard", "hamming"}
    labels : sequence, optional

    Returns
    -------
    DistanceMatrix
        Symmetric, zero diagonal.
    """
    if metric not in ("jaccard", "hamming"):
        raise ValueError(f"metric={metric!r} is not one of 'jaccard', 'hamming'")
    topologies = _validated_list(topologies, "topologies")
    labels = _labels(labels, len(topologies), "topologies")
    n, n_layers = len(topologies), len(topologies[0])
    layers = np.zeros((n_layers, n, n))
    for k in range(n_layers):
        # rows = networks, columns = edge positions; the Gram matrix counts shared edges
        positions = [_edge_positions(t[k]) for t in topologies]
        n_positions = int(np.prod(topologies[0][k].shape))
        starts = np.cumsum([0] + [p.size for p in positions])
        flat = sp.csr_matrix((np.ones(int(starts[-1]), dtype=np.int64), np.concatenate(positions), starts),
                             shape=(n, n_positions))
        shared = (flat @ flat.T).toarray()
        sizes = np.diag(shared)
        differ = sizes[:, None] + sizes[None, :] - 2 * shared
        if metric == "hamming":
            layers[k] = differ / n_positions
        else:
            union = sizes[:, None] + sizes[None, :] - shared
            layers[k] = np.divide(differ, union, out=np.zeros((n, n)), where=union > 0)
    return DistanceMatrix(labels=labels, layers=layers, mean=layers.mean(axis=0))


def _edge_positions(layer: Any) -> np.ndarray:
    """Sorted flat row-major positions of a layer's edges (a bool mask or a scipy sparse layer)."""
    return sparse_edge_positions(layer) if sp.issparse(layer) else np.flatnonzero(layer)
