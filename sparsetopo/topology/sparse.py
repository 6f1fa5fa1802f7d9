"""Topologies as edge index sets: memory linear in edges, never a dense ``(n_out, n_in)`` array.

A :class:`SparseLayer` is one layer's shape ``(n_out, n_in)`` and the sorted
flat positions of its edges, row-major in ``(n_out, n_in)`` (position
``j * n_in + i`` is the edge from input ``i`` to output ``j``, the order in
which ``mask.ravel()`` lists a dense mask and in which a CSR matrix lists its
values). A *sparse topology* is a list of them, input layer first.

This is the representation the sparse backend, SET rewiring on it, the
explored-edge record, topology snapshots and the run store use, so building,
rewiring and saving a network costs memory and time linear in its edges.
Dense bool masks (:mod:`sparsetopo.topology.masks`) stay the representation
of the masked backend and of the analyses of small networks;
:meth:`SparseLayer.to_mask` and :meth:`SparseLayer.from_mask` convert.

Snapshot files are the format of :func:`sparsetopo.topology.masks.save_topology`
(``shape_k``, ``index_k``, ``metadata``): :func:`save_sparse_topology` writes
the same arrays from index sets, and :func:`load_sparse_topology` reads any
topology file into index sets without densifying.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import masks as _masks

__all__ = [
    "SparseLayer",
    "random_sparse_layer",
    "random_sparse_topology",
    "as_sparse_topology",
    "save_sparse_topology",
    "load_sparse_topology",
    "union_indices",
]


@dataclass(frozen=True, eq=False)
class SparseLayer:
    """One layer's topology as the sorted flat positions of its edges.

    Parameters
    ----------
    shape : (n_out, n_in)
        Layer shape, the orientation of ``torch.nn.Linear.weight``.
    index : int64 array ``(n_edges,)``
        Flat row-major positions of the edges, strictly increasing, each in
        ``[0, n_out * n_in)``. Checked on construction (a copy is taken only
        when the dtype is not int64).
    """

    shape: tuple[int, int]
    index: np.ndarray

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"a sparse layer's shape must be two positive sizes (n_out, n_in), got {self.shape}")
        index = np.asarray(self.index)
        if index.ndim != 1 or not (np.issubdtype(index.dtype, np.integer) or index.size == 0):
            raise ValueError(f"index must be a vector of integer flat positions, got dtype {index.dtype} shape {index.shape}")
        index = index.astype(np.int64, copy=False)
        if index.size and (index[0] < 0 or index[-1] >= shape[0] * shape[1] or (index.size > 1 and not (np.diff(index) > 0).all())):
            raise ValueError(
                f"index must hold strictly increasing flat positions in [0, {shape[0] * shape[1]}) for a "
                f"{shape[0]}x{shape[1]} layer (sort it and drop duplicates: np.unique)"
            )
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "index", index)

    # -- sizes -------------------------------------------------------------
    @property
    def n_out(self) -> int:
        """Number of output neurons (rows)."""
        return self.shape[0]

    @property
    def n_in(self) -> int:
        """Number of input neurons (columns)."""
        return self.shape[1]

    @property
    def size(self) -> int:
        """Number of possible edges, ``n_out * n_in``."""
        return self.shape[0] * self.shape[1]

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.index.size)

    @property
    def density(self) -> float:
        """Fraction of possible edges present."""
        return self.n_edges / self.size

    @property
    def is_dense(self) -> bool:
        """Whether every possible edge is present."""
        return self.n_edges == self.size

    # -- views ---------------------------------------------------------------
    def rows(self) -> np.ndarray:
        """Output neuron of every edge ``(n_edges,)``, non-decreasing."""
        return self.index // self.shape[1]

    def cols(self) -> np.ndarray:
        """Input neuron of every edge ``(n_edges,)``."""
        return self.index % self.shape[1]

    def fan_in(self) -> np.ndarray:
        """Number of inputs of every output neuron ``(n_out,)`` (int64)."""
        return np.bincount(self.rows(), minlength=self.shape[0]).astype(np.int64, copy=False)

    def crow(self) -> np.ndarray:
        """CSR row pointers ``(n_out + 1,)`` (int64)."""
        out = np.zeros(self.shape[0] + 1, dtype=np.int64)
        np.cumsum(self.fan_in(), out=out[1:])
        return out

    def to_mask(self) -> np.ndarray:
        """The dense bool mask ``(n_out, n_in)``: memory ``n_out * n_in`` bytes, for small layers and the masked backend."""
        flat = np.zeros(self.size, dtype=bool)
        flat[self.index] = True
        return flat.reshape(self.shape)

    # -- constructors ----------------------------------------------------------
    @classmethod
    def from_mask(cls, mask: Any) -> SparseLayer:
        """The index set of a dense 2-D mask (any array, tensor or sparse matrix :func:`~sparsetopo.topology.masks.layer_mask` accepts)."""
        m = _masks.layer_mask(mask)
        return cls(m.shape, np.flatnonzero(m.ravel()))

    @classmethod
    def from_csr(cls, crow: Any, col: Any, shape: tuple[int, int]) -> SparseLayer:
        """The index set of CSR arrays (row pointers ``(n_out + 1,)``, columns sorted within each row)."""
        crow = np.asarray(crow, dtype=np.int64)
        col = np.asarray(col, dtype=np.int64)
        rows = np.repeat(np.arange(int(shape[0]), dtype=np.int64), np.diff(crow))
        return cls(shape, rows * int(shape[1]) + col)

    @classmethod
    def full(cls, n_out: int, n_in: int) -> SparseLayer:
        """A dense layer: every position an edge."""
        return cls((n_out, n_in), np.arange(int(n_out) * int(n_in), dtype=np.int64))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SparseLayer) and self.shape == other.shape and np.array_equal(self.index, other.index)

    __hash__ = None  # mutable-looking contents: compare, do not hash

    def __repr__(self) -> str:
        return f"SparseLayer(shape={self.shape}, edges={self.n_edges}, density={self.density:.4g})"


def random_sparse_layer(n_out: int, n_in: int, n_edges: int, rng: np.random.Generator) -> SparseLayer:
    """Erdős–Rényi layer with exactly ``n_edges`` edges: the same draws and edges as :func:`~sparsetopo.topology.masks.random_mask`.

    Both call ``rng.choice(n_out * n_in, size=n_edges, replace=False)``; this
    one sorts the sample instead of scattering it into a dense mask, so its
    result costs ``8 n_edges`` bytes. numpy's ``choice`` itself allocates
    ``arange(n_out * n_in)`` (int64) when ``n_edges > n_out * n_in / 50`` or
    ``n_out * n_in <= 10000`` (its tail-shuffle branch), otherwise it keeps a
    set of ``n_edges`` entries (Floyd's algorithm). At SET's ε = 20 the
    first layer of a 784-input network has density ``20 (784 + W) / (784 W)
    > 1/50``, so drawing it transiently costs ``8 * 784 * W`` bytes (2.1 GB
    at W = 333,334; linear in W); wide hidden layers (``W > 2,000``) take
    the set branch. That allocation is kept, not avoided: avoiding it means
    re-implementing numpy's shuffle, and the draws must stay numpy's.
    """
    total = int(n_out) * int(n_in)
    if not 0 <= n_edges <= total:
        raise ValueError(f"n_edges={n_edges} is outside [0, {total}] for a {n_out}x{n_in} layer")
    index = rng.choice(total, size=n_edges, replace=False)
    index.sort()
    return SparseLayer((n_out, n_in), index)


def random_sparse_topology(
    widths: Sequence[int],
    *,
    epsilon: float | None = None,
    density: float | None = None,
    layer_edges: Sequence[int] | None = None,
    seed: int | np.random.Generator = 0,
    sparse_output: bool = False,
) -> list[SparseLayer]:
    """:func:`~sparsetopo.topology.masks.random_topology` as index sets: the same draws, the same edges.

    Parameters and rules are those of ``random_topology`` (a dense layer
    draws nothing and holds every position).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = []
    for (n_out, n_in), n_edges in zip(_masks.layer_shapes_of(widths), _masks.random_layer_edges(
            widths, epsilon=epsilon, density=density, layer_edges=layer_edges, sparse_output=sparse_output)):
        if n_edges == n_in * n_out:
            out.append(SparseLayer.full(n_out, n_in))
        else:
            out.append(random_sparse_layer(n_out, n_in, n_edges, rng))
    return out


def as_sparse_topology(layers: Sequence[Any], *, name: str = "masks") -> list[SparseLayer]:
    """A topology as index sets: :class:`SparseLayer` entries are kept, dense masks converted.

    Raises
    ------
    ValueError
        As :func:`~sparsetopo.topology.masks.as_topology`: an empty topology,
        a layer that is not 2-D, or layers that do not chain.
    """
    out = [layer if isinstance(layer, SparseLayer) else SparseLayer.from_mask(_masks.layer_mask(layer, name, k))
           for k, layer in enumerate(layers)]
    if not out:
        raise ValueError(f"{name} is empty; a topology needs at least one layer")
    for k in range(1, len(out)):
        if out[k].n_in != out[k - 1].n_out:
            raise ValueError(
                f"{name}: layer {k} has {out[k].n_in} inputs but layer {k - 1} has {out[k - 1].n_out} outputs; "
                "layers must be (n_out, n_in) and chain from one layer to the next"
            )
    return out


def union_indices(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted union (without duplicates) of two sorted int64 index arrays; time and memory O(len(a) + len(b)).

    A stable sort of the concatenation (which merges the two sorted runs)
    and a pass dropping repeats; numpy's ``union1d`` hashes, several times
    slower on large arrays. Unsorted inputs give the right result in
    O(n log n).
    """
    both = np.concatenate([np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)])
    both.sort(kind="stable")  # two sorted runs: the stable sort merges them in linear time
    if both.size < 2:
        return both
    keep = np.empty(both.size, dtype=bool)
    keep[0] = True
    np.not_equal(both[1:], both[:-1], out=keep[1:])
    return both[keep]


def save_sparse_topology(path: str | os.PathLike, layers: Sequence[SparseLayer], **metadata: Any) -> Path:
    """:func:`~sparsetopo.topology.masks.save_topology` from index sets: the same file content, no dense mask.

    Every array of the archive (``n_layers``, ``shape_k`` int64, ``index_k``
    int32 when the layer has fewer than 2**31 positions else int64,
    ``metadata`` as JSON with sorted keys) is byte for byte the one
    ``save_topology`` writes for the same masks. Written atomically.
    """
    layers = as_sparse_topology(layers)
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"n_layers": np.asarray(len(layers))}
    for k, layer in enumerate(layers):
        arrays[f"shape_{k}"] = np.asarray(layer.shape, dtype=np.int64)
        dtype = np.int32 if layer.size < 2**31 else np.int64
        arrays[f"index_{k}"] = layer.index.astype(dtype)
    arrays["metadata"] = np.asarray(json.dumps(metadata, sort_keys=True, default=str))
    _masks._atomic_savez(path, arrays)
    return path


def load_sparse_topology(path: str | os.PathLike) -> tuple[list[SparseLayer], dict]:
    """Read a topology file (:func:`save_sparse_topology` or ``save_topology``) as index sets, never densifying.

    Returns
    -------
    layers : list of SparseLayer
    metadata : dict

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a valid topology file (the message says what is wrong).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no topology file at {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a topology file; for the published layout use load_published(run_dir, epoch)")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} is not a valid topology file: it holds a single array (.npy), not a .npz archive")
        with archive as f:
            if "n_layers" not in f:
                raise ValueError(f"{path} is not a sparsetopo topology file (no 'n_layers' entry)")
            layers = [_read_sparse_layer(path, f, k) for k in range(_masks._layer_count(f))]
            metadata = json.loads(str(f["metadata"])) if "metadata" in f.files else {}
    except _masks._NotATopology as err:
        raise ValueError(f"{path} is not a valid topology file: {err}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not a valid topology file ({type(err).__name__}: {str(err)[:120]}); it is "
            "truncated, corrupt or another kind of file"
        ) from None
    if not layers:
        raise ValueError(f"{path} is not a valid topology file: it has no layers")
    return as_sparse_topology(layers, name=str(path)), metadata


def _read_sparse_layer(path: Path, f: Any, k: int) -> SparseLayer:
    shape = np.asarray(f[f"shape_{k}"])
    if shape.shape != (2,) or not np.issubdtype(shape.dtype, np.integer) or (shape < 1).any():
        raise _masks._NotATopology(f"shape_{k} must be two positive integers (n_out, n_in), got {shape.tolist()}")
    index = np.asarray(f[f"index_{k}"])
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise _masks._NotATopology(f"index_{k} must be a vector of integer edge positions, got dtype {index.dtype} shape {index.shape}")
    n_out, n_in = int(shape[0]), int(shape[1])
    index = index.astype(np.int64)
    if index.size and (index.min() < 0 or index.max() >= n_out * n_in):
        raise _masks._NotATopology(
            f"index_{k} has positions outside 0..{n_out * n_in - 1} for a {n_out}x{n_in} layer "
            f"(min {int(index.min())}, max {int(index.max())})"
        )
    if index.size > 1 and not (np.diff(index) > 0).all():
        index = np.unique(index)  # a hand-written file may list edges unsorted or twice: the same edge set as load_topology reads
    return SparseLayer((n_out, n_in), index)
