"""Topologies of sparse MLPs: boolean masks, random initialisers, file formats.

A *topology* is an ordered list of boolean numpy arrays, one per layer, each
shaped ``(n_out, n_in)`` like ``torch.nn.Linear.weight``: ``mask[j, i]`` is
True when input neuron ``i`` feeds output neuron ``j``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from ..atomic import atomic_path

__all__ = [
    "as_topology",
    "layer_mask",
    "perturbation_chain",
    "edges_for_epsilon",
    "edges_for_density",
    "random_mask",
    "random_topology",
    "edge_counts",
    "densities",
    "total_edges",
    "total_density",
    "layer_shapes",
    "widths_of",
    "topology_hash",
    "save_topology",
    "load_topology",
    "export_published",
    "load_published",
    "masks_from_state_dict",
    "permute_hidden_neurons",
    "rewire_fraction",
]


_LAYER_SHAPES = {
    2: "a 2-D (n_out, n_in) array like torch.nn.Linear.weight",
    4: "a 4-D (out_channels, in_channels, kh, kw) mask like torch.nn.Conv2d.weight",
}


def layer_mask(m: Any, name: str = "masks", k: int = 0, ndims: Sequence[int] = (2,)) -> np.ndarray:
    """One layer as a bool mask: array, sparse matrix or tensor; non-zero entries are edges.

    Raises
    ------
    ValueError
        Naming ``name[k]``: a dtype that is not bool or numeric, a number of
        dimensions not in ``ndims``, a dimension of size 0, or NaN weights.
    """
    if sp.issparse(m):
        m = m.toarray()
    elif hasattr(m, "detach"):
        m = m.detach().cpu().numpy()
    m = np.asarray(m)
    if not (m.dtype == bool or np.issubdtype(m.dtype, np.number)) or np.iscomplexobj(m):
        raise ValueError(
            f"{name}[{k}] has dtype {m.dtype}; a layer must be a bool mask or a numeric weight "
            "matrix (strings and objects are not edges)"
        )
    if m.ndim not in ndims:
        raise ValueError(
            f"{name}[{k}] has shape {m.shape}; every layer must be " + " or ".join(_LAYER_SHAPES[d] for d in ndims)
        )
    if 0 in m.shape:
        raise ValueError(
            f"{name}[{k}] has shape {m.shape}, a layer of zero width (no neurons, inputs or kernel positions); "
            "every dimension of a layer must be at least 1"
        )
    if m.dtype != bool:
        if np.issubdtype(m.dtype, np.floating) and np.isnan(m).any():
            raise ValueError(
                f"{name}[{k}] contains NaN weights; a topology needs finite "
                "values (replace NaN by 0 to mark absent edges)"
            )
        m = m != 0
    return m


def as_topology(masks: Sequence[Any], *, name: str = "masks") -> list[np.ndarray]:
    """Validate and convert layer masks or weight matrices to a topology.

    Parameters
    ----------
    masks : sequence of array-like, torch tensors or scipy sparse matrices
        One per layer, shaped ``(n_out, n_in)``. Any non-zero entry is an edge.
    name : str
        Name of the argument, used in error messages.

    Returns
    -------
    list of np.ndarray
        Boolean masks, ``(n_out, n_in)`` each.

    Raises
    ------
    ValueError
        If a layer is not 2-D, contains NaN, or consecutive layers do not chain
        (``n_in`` of layer k+1 must equal ``n_out`` of layer k).
    """
    if isinstance(masks, np.ndarray) and masks.ndim == 2:
        masks = [masks]
    out = []
    for k, m in enumerate(masks):
        m = layer_mask(m, name, k)
        out.append(m)
    if not out:
        raise ValueError(f"{name} is empty; a topology needs at least one layer")
    for k in range(1, len(out)):
        if out[k].shape[1] != out[k - 1].shape[0]:
            raise ValueError(
                f"{name}: layer {k} has {out[k].shape[1]} inputs but layer {k - 1} "
                f"has {out[k - 1].shape[0]} outputs; masks must be (n_out, n_in) "
                "and chain from one layer to the next (transpose them if they "
                "are (n_in, n_out))"
            )
    return out


def edges_for_epsilon(epsilon: float, n_in: int, n_out: int) -> int:
    """Edge count of an Erdős–Rényi layer as in SET: ``round(ε (n_in + n_out))``.

    Capped at ``n_in * n_out`` (a dense layer).
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    return int(min(round(epsilon * (n_in + n_out)), n_in * n_out))


def edges_for_density(density: float, n_in: int, n_out: int) -> int:
    """Edge count of a layer of the given density: ``round(d n_in n_out)``."""
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")
    return int(round(density * n_in * n_out))


def random_mask(n_out: int, n_in: int, n_edges: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(n_out, n_in)`` mask with exactly ``n_edges`` edges at uniform positions."""
    total = n_in * n_out
    if not 0 <= n_edges <= total:
        raise ValueError(f"n_edges={n_edges} is outside [0, {total}] for a {n_out}x{n_in} layer")
    flat = np.zeros(total, dtype=bool)
    flat[rng.choice(total, size=n_edges, replace=False)] = True
    return flat.reshape(n_out, n_in)


def random_topology(
    widths: Sequence[int],
    *,
    epsilon: float | None = None,
    density: float | None = None,
    layer_edges: Sequence[int] | None = None,
    seed: int | np.random.Generator = 0,
    sparse_output: bool = False,
) -> list[np.ndarray]:
    """Erdős–Rényi topology with exact edge counts.

    Parameters
    ----------
    widths : sequence of int
        Layer widths including input and output, e.g. ``(784, 1000, 1000, 10)``.
    epsilon : float, optional
        SET's sparsity parameter: layer k gets ``round(ε (n_in + n_out))`` edges.
    density : float, optional
        Fraction of possible edges kept per layer.
    layer_edges : sequence of int, optional
        Exact edge count per layer (overrides ``epsilon``/``density``; must list
        every layer, including a dense output layer).
    seed : int or np.random.Generator
        Source of randomness for the positions.
    sparse_output : bool
        If False (default, as in the paper's published networks) the output
        layer is dense.

    Returns
    -------
    list of np.ndarray
        Boolean masks ``(n_out, n_in)``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    masks = []
    for (n_out, n_in), n_edges in zip(layer_shapes_of(widths), random_layer_edges(
            widths, epsilon=epsilon, density=density, layer_edges=layer_edges, sparse_output=sparse_output)):
        if n_edges == n_in * n_out:
            masks.append(np.ones((n_out, n_in), dtype=bool))
        else:
            masks.append(random_mask(n_out, n_in, n_edges, rng))
    return masks


def layer_shapes_of(widths: Sequence[int]) -> list[tuple[int, int]]:
    """``(n_out, n_in)`` of every layer of an MLP with these widths (input first)."""
    return [(int(widths[k + 1]), int(widths[k])) for k in range(len(widths) - 1)]


def random_layer_edges(
    widths: Sequence[int],
    *,
    epsilon: float | None = None,
    density: float | None = None,
    layer_edges: Sequence[int] | None = None,
    sparse_output: bool = False,
) -> list[int]:
    """Edge count of every layer of :func:`random_topology` (the rules it documents); checks the arguments."""
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must list at least two positive sizes, got {widths}")
    n_layers = len(widths) - 1
    if layer_edges is not None:
        if len(layer_edges) != n_layers:
            raise ValueError(f"layer_edges has {len(layer_edges)} entries for {n_layers} layers")
        return [int(e) for e in layer_edges]
    if (epsilon is None) == (density is None):
        raise ValueError("give exactly one of epsilon, density or layer_edges")
    counts = []
    for k in range(n_layers):
        n_in, n_out = widths[k], widths[k + 1]
        if k == n_layers - 1 and not sparse_output:
            counts.append(n_in * n_out)
        elif epsilon is not None:
            counts.append(edges_for_epsilon(epsilon, n_in, n_out))
        else:
            counts.append(edges_for_density(density, n_in, n_out))
    return counts


def edge_counts(masks: Sequence[np.ndarray]) -> list[int]:
    """Number of edges per layer."""
    return [int(np.count_nonzero(m)) for m in masks]


def densities(masks: Sequence[np.ndarray]) -> list[float]:
    """Fraction of possible edges present, per layer."""
    return [float(np.count_nonzero(m)) / m.size for m in masks]


def total_edges(masks: Sequence[np.ndarray]) -> int:
    """Number of edges in the whole network."""
    return sum(edge_counts(masks))


def total_density(masks: Sequence[np.ndarray]) -> float:
    """Edges of the whole network over its possible edges."""
    return total_edges(masks) / sum(m.size for m in masks)


def layer_shapes(masks: Sequence[np.ndarray]) -> list[tuple[int, int]]:
    """``(n_out, n_in)`` of every layer."""
    return [tuple(int(s) for s in m.shape) for m in masks]


def widths_of(masks: Sequence[np.ndarray]) -> list[int]:
    """Layer widths, input first: ``[n_in_0, n_out_0, n_out_1, ...]``."""
    return [int(masks[0].shape[1])] + [int(m.shape[0]) for m in masks]


_HASH_CHUNK_BYTES = 1 << 24


def sparse_edge_positions(layer: Any) -> np.ndarray:
    """Ascending flat row-major positions (int64) of the non-zero entries of a 2-D scipy sparse layer, as its dense
    mask has them (duplicates summed first); time and memory linear in the stored entries."""
    n_out, n_in = (int(x) for x in layer.shape)
    csr = sp.csr_matrix(layer, copy=True)
    csr.sum_duplicates()  # canonical: sorted column indices, no duplicates (cheap when already so)
    csr.eliminate_zeros()
    rows = np.repeat(np.arange(n_out, dtype=np.int64), np.diff(csr.indptr))
    return rows * n_in + csr.indices.astype(np.int64)


def topology_hash(masks: Sequence[Any]) -> str:
    """Content hash (sha256 hex) of a topology: shapes and edge positions.

    Layers are bool masks (any non-zero is an edge) or 2-D scipy sparse matrices (stored non-zeros are edges);
    a sparse layer hashes exactly as its dense mask would (the same packed bits, built chunk by chunk: memory
    of one chunk and the edges, time linear in the layer's positions / 8 bytes).
    """
    h = hashlib.sha256()
    for m in masks:
        if sp.issparse(m):
            _hash_sparse_layer(h, m)
            continue
        m = np.ascontiguousarray(np.asarray(m, dtype=bool))
        h.update(np.asarray(m.shape, dtype=np.int64).tobytes())
        h.update(np.packbits(m).tobytes())
    return h.hexdigest()


def _hash_sparse_layer(h: Any, layer: Any) -> None:
    """Feed ``h`` the bytes :func:`topology_hash` feeds it for ``layer``'s dense bool mask, without building it."""
    n_out, n_in = (int(x) for x in layer.shape)
    h.update(np.asarray((n_out, n_in), dtype=np.int64).tobytes())
    positions = sparse_edge_positions(layer)
    bits = (128 >> (positions & 7)).astype(np.uint8)  # np.packbits is big-endian: the first position is bit 7
    byte = positions >> 3
    first = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]]) if byte.size else np.zeros(0, dtype=np.int64)
    byte, value = byte[first], np.bitwise_or.reduceat(bits, first) if first.size else bits
    total = (n_out * n_in + 7) // 8
    bounds = np.searchsorted(byte, np.arange(0, total + _HASH_CHUNK_BYTES, _HASH_CHUNK_BYTES))
    buffer = np.zeros(min(_HASH_CHUNK_BYTES, total), dtype=np.uint8)
    for k, start in enumerate(range(0, total, _HASH_CHUNK_BYTES)):
        chunk = buffer[:min(_HASH_CHUNK_BYTES, total - start)]
        lo, hi = bounds[k], bounds[k + 1]
        chunk[byte[lo:hi] - start] = value[lo:hi]
        h.update(chunk)
        chunk[byte[lo:hi] - start] = 0


def _atomic_savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def save_topology(path: str | os.PathLike, masks: Sequence[np.ndarray], **metadata: Any) -> Path:
    """Save a topology as compressed sparse indices, with JSON metadata.

    The file is a ``.npz`` holding, per layer k, ``shape_k`` and the flat
    indices ``index_k`` of its edges (row-major in ``(n_out, n_in)``), plus a
    ``metadata`` JSON string (epoch, seed, config, ...). Written atomically.
    """
    masks = as_topology(masks)
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"n_layers": np.asarray(len(masks))}
    for k, m in enumerate(masks):
        arrays[f"shape_{k}"] = np.asarray(m.shape, dtype=np.int64)
        idx = np.flatnonzero(m.ravel())
        dtype = np.int32 if m.size < 2**31 else np.int64
        arrays[f"index_{k}"] = idx.astype(dtype)
    arrays["metadata"] = np.asarray(json.dumps(metadata, sort_keys=True, default=str))
    _atomic_savez(path, arrays)
    return path


def load_topology(path: str | os.PathLike) -> tuple[list[np.ndarray], dict]:
    """Load a topology written by :func:`save_topology`.

    Returns
    -------
    masks : list of np.ndarray
    metadata : dict
    """
    masks, metadata = _read_topology(Path(path), _read_layer)
    return as_topology(masks, name=str(path)), metadata


def _read_topology(path: Path, read_layer) -> tuple[list, dict]:
    """The layers (``read_layer(archive, k)`` each) and metadata of a topology file, every way it can be wrong
    reported as one ValueError that names the file (FileNotFoundError when there is none)."""
    if not path.exists():
        raise FileNotFoundError(f"no topology file at {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a topology file; for the published layout use load_published(run_dir, epoch)")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise _NotATopology("it holds a single array (.npy), not a .npz archive")
        with archive as f:
            if "n_layers" not in f:
                raise ValueError(
                    f"{path} is not a sparsetopo topology file (no 'n_layers' entry); "
                    "for the published layout use load_published(run_dir, epoch)"
                )
            layers = [read_layer(f, k) for k in range(_layer_count(f))]
            metadata = json.loads(str(f["metadata"])) if "metadata" in f.files else {}
    except _NotATopology as err:
        raise ValueError(f"{path} is not a valid topology file: {err}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not a valid topology file ({type(err).__name__}: {str(err)[:120]}); it is "
            "truncated, corrupt or another kind of file"
        ) from None
    except ValueError as err:
        if "pickle" in str(err):  # numpy's advice to allow pickles: the bytes are no .npz at all
            raise ValueError(f"{path} is not a valid topology file (not a .npz archive)") from None
        if str(err).startswith(str(path)):
            raise
        raise ValueError(f"{path} is not a valid topology file ({str(err)[:160]})") from None
    if not layers:
        raise ValueError(f"{path} is not a valid topology file: it has no layers")
    return layers, metadata


class _NotATopology(Exception):
    pass


def _layer_count(f) -> int:
    n = np.asarray(f["n_layers"])
    if n.shape != () or not np.issubdtype(n.dtype, np.integer) or int(n) < 1:
        raise _NotATopology(f"n_layers must be a positive integer, got {n!r}")
    return int(n)


def _read_layer(f, k: int) -> np.ndarray:
    n_out, n_in, index = _read_layer_index(f, k)
    flat = np.zeros(n_out * n_in, dtype=bool)
    flat[index] = True
    return flat.reshape(n_out, n_in)


def _read_csr_layer(f, k: int) -> sp.csr_matrix:
    n_out, n_in, index = _read_layer_index(f, k)
    flat = np.sort(index.astype(np.int64))
    rows, cols = np.divmod(flat, n_in)
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
    return sp.csr_matrix((np.ones(flat.size, dtype=np.int8), cols, indptr), shape=(n_out, n_in))


def _read_layer_index(f, k: int) -> tuple[int, int, np.ndarray]:
    """Layer ``k`` of an open topology archive, checked: ``(n_out, n_in, flat edge positions)``."""
    shape = np.asarray(f[f"shape_{k}"])
    if shape.shape != (2,) or not np.issubdtype(shape.dtype, np.integer) or (shape < 1).any():
        raise _NotATopology(f"shape_{k} must be two positive integers (n_out, n_in), got {shape.tolist()}")
    n_out, n_in = int(shape[0]), int(shape[1])
    index = np.asarray(f[f"index_{k}"])
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise _NotATopology(f"index_{k} must be a vector of integer edge positions, got dtype {index.dtype} shape {index.shape}")
    if index.size and (index.min() < 0 or index.max() >= n_out * n_in):
        raise _NotATopology(
            f"index_{k} has positions outside 0..{n_out * n_in - 1} for a {n_out}x{n_in} layer "
            f"(min {int(index.min())}, max {int(index.max())})"
        )
    return n_out, n_in, index


def _published_epoch_dir(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / f"epoch_{int(epoch):03d}"


def _layer_numbers(epoch_dir: Path) -> list[int]:
    return sorted(int(p.stem[len("weight_l"):]) for p in epoch_dir.glob("weight_l*.npz") if p.stem[len("weight_l"):].isdigit())


def _check_published_layers(run_dir: Path, epoch_dir: Path, numbers: list[int]) -> None:
    """Refuse an epoch folder that lacks layer files the run's other epoch folders have (its last layers, say)."""
    others = {}
    for sibling in run_dir.glob("epoch_*"):
        if sibling != epoch_dir and sibling.is_dir() and sibling.name[len("epoch_"):].isdigit():
            others[sibling.name] = _layer_numbers(sibling)
    most = max(others.values(), key=len, default=[])
    missing = sorted(set(most) - set(numbers))
    if missing:
        holders = sorted(name for name, found in others.items() if set(missing) <= set(found))
        raise FileNotFoundError(
            f"{epoch_dir}: layer file(s) {', '.join(f'weight_l{k}.npz' for k in missing)} missing, although "
            f"{', '.join(holders[:3])}{' and others' if len(holders) > 3 else ''} of the same run have them; "
            "a network cannot be compared without its last layers: copy the missing files, or choose an epoch that "
            "has every layer"
        )


def export_published(
    run_dir: str | os.PathLike,
    epoch: int,
    masks: Sequence[np.ndarray],
    weights: Sequence[np.ndarray] | None = None,
    biases: Sequence[np.ndarray] | None = None,
) -> Path:
    """Write a topology in the layout of the paper's published code.

    Files ``<run_dir>/epoch_EEE/weight_l<k>.npz``: scipy sparse matrices of
    shape ``(n_in + 1, n_out)`` (row i = input neuron i, column j = output
    neuron j), whose last row holds the biases.

    Parameters
    ----------
    masks : topology, ``(n_out, n_in)`` per layer.
    weights : optional, ``(n_out, n_in)`` per layer; values of the edges
        (default 1 on every edge).
    biases : optional, ``(n_out,)`` per layer (default: no bias entries).
    """
    masks = as_topology(masks)
    out_dir = _published_epoch_dir(Path(run_dir), epoch)
    out_dir.mkdir(parents=True, exist_ok=True)
    for k, m in enumerate(masks):
        n_out, n_in = m.shape
        values = np.asarray(weights[k], dtype=np.float64) * m if weights is not None else m.astype(np.float64)
        if weights is not None:
            # an edge whose weight is exactly zero would vanish from a sparse file
            values = np.where(m & (values == 0), np.finfo(np.float64).tiny, values)
        bias = np.zeros(n_out) if biases is None else np.asarray(biases[k], dtype=np.float64)
        full = np.vstack([values.T, bias[None, :]])
        matrix = sp.csr_matrix(full)
        with atomic_path(out_dir / f"weight_l{k}.npz", suffix=".npz") as tmp:
            sp.save_npz(tmp, matrix, compressed=True)
    return out_dir


def load_published(run_dir: str | os.PathLike, epoch: int) -> list[np.ndarray]:
    """Read a topology saved by the paper's published code.

    Parameters
    ----------
    run_dir : path
        A run folder holding ``epoch_EEE/weight_l<k>.npz`` files.
    epoch : int
        Which saved epoch to read.

    Returns
    -------
    list of np.ndarray
        Boolean masks ``(n_out, n_in)``; the bias row (last row of each file)
        is dropped.
    """
    epoch_dir = _published_epoch_dir(Path(run_dir), epoch)
    files = sorted(
        (p for p in epoch_dir.glob("weight_l*.npz") if p.stem[len("weight_l"):].isdigit()),
        key=lambda p: int(p.stem[len("weight_l"):]),
    )
    numbers = [int(p.stem[len("weight_l"):]) for p in files]
    if files and numbers != list(range(len(files))):
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers))
        raise FileNotFoundError(
            f"{epoch_dir}: layer file(s) {', '.join(f'weight_l{k}.npz' for k in missing)} missing "
            f"(found {', '.join(p.name for p in files)}); the layers must be numbered 0, 1, 2, ... without gaps"
        )
    if not files:
        available = sorted(p.name for p in Path(run_dir).glob("epoch_*")) if Path(run_dir).exists() else []
        raise FileNotFoundError(
            f"no weight_l<k>.npz files in {epoch_dir}; "
            + (f"epochs available: {', '.join(available)}" if available else f"{run_dir} holds no epoch_EEE folders")
        )
    _check_published_layers(Path(run_dir), epoch_dir, numbers)
    masks = []
    for f in files:
        try:
            matrix = sp.load_npz(f).tocsc()
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
            raise ValueError(
                f"{f} is not a valid layer file (a scipy sparse matrix saved with save_npz): "
                f"{type(err).__name__}: {str(err)[:120]}"
            ) from None
        if matrix.shape[0] < 2:
            raise ValueError(f"{f} has shape {matrix.shape}; a layer file holds (n_in + 1, n_out) with the biases in the last row")
        if np.issubdtype(matrix.dtype, np.floating) and not np.isfinite(matrix.data).all():
            raise ValueError(f"{f} holds NaN or infinite weights; a topology needs finite values")
        matrix.eliminate_zeros()
        body = matrix[:-1, :]  # last row is the bias
        masks.append((body.T.toarray() != 0))
    return as_topology(masks, name=str(epoch_dir))


def masks_from_state_dict(state_dict: Mapping[str, Any]) -> list[np.ndarray]:
    """Topology of a model from its ``state_dict``.

    Uses ``<layer>.mask`` buffers when present (models of :mod:`sparsetopo.model`),
    otherwise the non-zero pattern of every 2-D ``<layer>.weight``, in order.
    Layers saved in the sparse layout of weight files (``<layer>.index`` flat
    positions and ``<layer>.shape``, see ``SparseMLP.weight_file_state_dict``)
    are expanded to dense masks here, in their place among the others.
    """
    if any(k.endswith(".index") and k[: -len("index")] + "shape" in state_dict for k in state_dict):
        layers = []
        for k, v in state_dict.items():
            if k.endswith("mask") and getattr(v, "ndim", 0) == 2:
                layers.append(v)
            elif k.endswith(".index") and k[: -len("index")] + "shape" in state_dict:
                n_out, n_in = (int(s) for s in np.asarray(state_dict[k[: -len("index")] + "shape"]))
                flat = np.zeros(n_out * n_in, dtype=bool)
                flat[np.asarray(v, dtype=np.int64)] = True
                layers.append(flat.reshape(n_out, n_in))
        return as_topology(layers, name="state_dict")
    mask_keys = [k for k, v in state_dict.items() if k.endswith("mask") and getattr(v, "ndim", 0) == 2]
    keys = mask_keys or [k for k, v in state_dict.items() if k.endswith("weight") and getattr(v, "ndim", 0) == 2]
    if not keys:
        raise ValueError(
            "the state_dict has no 2-D '*.mask' or '*.weight' entries, so no layer "
            f"topology can be read from it (keys: {list(state_dict)[:8]} ...)"
        )
    return as_topology([state_dict[k] for k in keys], name="state_dict")


def permute_hidden_neurons(masks: Sequence[np.ndarray], seed: int | np.random.Generator = 0) -> list[np.ndarray]:
    """The same graph with every hidden layer's neurons randomly renumbered.

    Input and output neurons keep their indices. The result computes the same
    function up to the order of hidden units, so its NNSTD to ``masks`` is 0.
    An MLP of scipy sparse layers comes back as CSR bool layers (never dense),
    permuted by the same draws.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if isinstance(masks, (list, tuple)) and masks and all(sp.issparse(m) for m in masks):
        out = [sp.csr_matrix(m != 0) for m in masks]
    else:
        out = [m.copy() for m in as_topology(masks)]
    for k in range(len(out) - 1):
        perm = rng.permutation(out[k].shape[0])
        out[k] = out[k][perm, :]
        out[k + 1] = out[k + 1][:, perm]
    return out


def rewire_fraction(
    masks: Sequence[np.ndarray],
    fraction: float,
    seed: int | np.random.Generator = 0,
    *,
    layers: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """Move a fraction of each sparse layer's edges to random empty positions.

    Exactly ``round(fraction * n_edges)`` edges of every chosen layer are
    removed and the same number added at positions that were empty, so edge
    counts never change. Dense layers are left alone (there is nowhere to go).

    Parameters
    ----------
    fraction : float in [0, 1]
    layers : which layers to perturb (default: every layer that is not dense).
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    masks = as_topology(masks)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = [m.copy() for m in masks]
    for k, m in enumerate(out):
        if layers is not None and k not in layers:
            continue
        flat = m.ravel()
        on = np.flatnonzero(flat)
        off = np.flatnonzero(~flat)
        n_move = min(int(round(fraction * on.size)), off.size)
        if n_move == 0:
            continue
        flat[rng.choice(on, n_move, replace=False)] = False
        flat[rng.choice(off, n_move, replace=False)] = True
    return out


def perturbation_chain(base: Sequence[Any], length: int, *, fraction: float = 0.01, seed: int = 0) -> list[list[np.ndarray]]:
    """The paper's chain: each network moves ``fraction`` of the previous one's edges.

    Parameters
    ----------
    base : topology
        The chain's first network.
    length : int
        Number of perturbation steps; the chain holds ``length + 1`` networks.
    fraction : float
        Fraction of every sparse layer's edges moved per step
        (:func:`sparsetopo.topology.masks.rewire_fraction`; dense layers stay).
    seed : int

    Returns
    -------
    list of topologies
        ``[base, step 1, ..., step length]``.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    chain = [[m.copy() for m in as_topology(base, name="base")]]
    rng = np.random.default_rng([int(seed), 0xC4A1])
    for _ in range(length):
        chain.append(rewire_fraction(chain[-1], fraction, seed=rng))
    return chain


def load_topology_sparse(path: str | os.PathLike) -> tuple[list[sp.csr_matrix], dict]:
    """Read a topology saved by :func:`save_topology` as sparse layers, without densifying.

    Parameters
    ----------
    path : path
        ``.npz`` file with ``n_layers``, ``shape_k``, ``index_k`` (flat
        row-major edge indices) and ``metadata``.

    Returns
    -------
    layers : list of scipy.sparse.csr_matrix
        Per layer ``(n_out, n_in)``, int8 ones at the edges, sorted indices.
        Memory is linear in the number of edges.
    metadata : dict

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_topology`: no file, or a corrupt or foreign one (a layer's indices outside its shape among
        them), named in one message.
    """
    return _read_topology(Path(path), _read_csr_layer)


__all__.append("load_topology_sparse")  # kept apart from the list above: new names go at the end of this file

DENSE_MASK_MAX_POSITIONS = 1 << 24
"""The most positions (``n_out * n_in``) of a layer that readers which choose the form themselves
(``Run.topology()``, ``sparsetopo distance``) turn into a dense bool mask (16 MB); a topology with a larger layer
comes back as scipy CSR layers."""



def load_topology_fitting(path: str | os.PathLike) -> tuple[list, dict]:
    """A topology file read once, in the form that fits: bool masks (as :func:`load_topology` gives them) when
    every layer has at most :data:`DENSE_MASK_MAX_POSITIONS` positions, else scipy CSR layers (as
    :func:`load_topology_sparse` gives them). Errors as those two."""
    layers, metadata = load_topology_sparse(path)
    if max(layer.shape[0] * layer.shape[1] for layer in layers) > DENSE_MASK_MAX_POSITIONS:
        return layers, metadata
    return as_topology([layer.toarray() != 0 for layer in layers], name=str(path)), metadata


__all__ += ["DENSE_MASK_MAX_POSITIONS", "sparse_edge_positions", "load_topology_fitting"]
