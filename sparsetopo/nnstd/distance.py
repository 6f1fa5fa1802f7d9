"""Neural Network Sparse Topology Distance (NNSTD), Liu et al. 2020.

NNSTD compares two sparse networks of the same architecture while ignoring
how their hidden neurons happen to be numbered. It walks the layers from the
input upwards:

1. Layer 0's inputs are the data features, the same in both networks. Neuron
   ``a`` of the first network and neuron ``b`` of the second cost
   ``(|A ∪ B| - |A ∩ B|) / |A ∪ B|`` (one minus the Jaccard index of their
   input sets; 0 when both are empty, 1 when disjoint).
2. A minimum-cost perfect assignment matches the neurons; the layer distance
   is its total cost divided by ``n_out``.
3. The matching renumbers the second network's neurons: the neuron matched to
   the first network's neuron ``a`` takes index ``a`` in the inputs of the
   next layer, which is then compared the same way.

The network distance is the mean of the layer distances. As in the published
code, the output layer is matched like the hidden ones; ``fixed_output=True``
keeps class neurons in place instead.

Different widths
----------------
The same layer may have ``n1`` neurons in the first network and ``n2`` in
the second (a pruned-and-shrunk model against its parent, two points of a
width sweep). A rectangular minimum-cost assignment then pairs ``min(n1,
n2)`` neurons; every neuron of the wider layer left without a partner costs
1 (it has no counterpart), and the layer distance is the total cost divided
by ``max(n1, n2)``. The matching renumbers only matched neurons: the second
network's neuron matched to ``a`` takes index ``a``; its unmatched neurons
take new indices ``n1, n1 + 1, ...`` after the first network's, in their own
order, so their edges in the next layer are never shared. A first-network
neuron without a partner has -1 in the matching. With equal widths this is
exactly the square computation above (same code path, same numbers). Two
networks can be compared when they have the same number of layers, the same
kind of layer at each depth, the same input features, and (for
convolutions) the same kernel sizes and feature-map sizes; widths are free.
Layers of different widths use the dense exact solver whatever ``method``
says (``methods`` records ``"exact"`` for them); tie repair only re-pairs
groups whose members all have a partner.

Convolutional layers
--------------------
A ``Conv2d`` layer is given as its 4-D mask ``(out_channels, in_channels,
kh, kw)``. Its neuron is an output channel; its input set is the set of
``(in_channel, kernel_row, kernel_col)`` positions with a non-zero weight,
compared with the same cost as above. The matching of a convolution
renumbers the input channels of the next convolution (each channel moves
with all its kernel positions) or, after ``torch.flatten``, the input
features of the next linear layer channel by channel: feature ``c * H * W +
s`` moves with channel ``c`` (:mod:`sparsetopo.topology.layered`). A network of
``1×1`` convolutions on ``1×1`` inputs has exactly the masks, input sets,
costs and renumbering of the MLP with the same weights, so its NNSTD is that
MLP's, bit for bit. Only chains are compared (every layer reads the output
of the previous one); :mod:`sparsetopo.topology.modules` refuses residual
networks.

Exactness and the published numbers
-----------------------------------
Costs are evaluated in float64 as ``edits / union`` with integer ``edits =
|A| + |B| - 2|A ∩ B|`` and ``union = |A| + |B| - |A ∩ B|``, the order of the
published code. The mathematically equal ``1 - |A ∩ B| / |A ∪ B|`` rounds
differently in the last bit; that alone changes which of several tied optimal
matchings ``scipy.optimize.linear_sum_assignment`` returns and moves layers
1–2 of the published topologies by up to 0.008 at epoch 0 and 0.010 at epoch
190 (over all 45 pairs). With the cost matrix oriented
rows = first network's neurons, columns = second network's neurons, and the
column permutation applied to the second network's next-layer inputs,
``method="exact"`` reproduces the published per-layer values to 1e-6.

Ties
----
Layer 0 has a unique optimal *cost*, and so does every later layer *given*
the matchings chosen before it. But the optimal *matching* is often not
unique: neurons with identical input sets (in sparse networks, typically the
neurons that lost all their inputs) are interchangeable at their own layer
while feeding different neurons above. Which of the tied matchings the solver
returns then decides what the next layers look like, so layers >= 1 depend on
the solver's tie-breaking and on the order in which neurons are numbered.
:func:`tie_spread` measures this. On the published topologies (all 45 pairs
of e5_s0_w0..w9, epochs 0 and 190; layer 0 and the dense output layer never
move):

=====================================  ===============  ===============
other optimal matchings                layer 1          layer 2
=====================================  ===============  ===============
sparse solver instead of dense         up to 0.013      up to 0.020
arguments swapped, NNSTD(b, a)         up to 0.009      up to 0.012
second network's hidden neurons        up to 0.035      up to 0.051
renumbered at random (4 draws/pair)
=====================================  ===============  ===============

The network mean moves by up to 0.02 (median 0.006-0.012). The published
numbering is not arbitrary: these runs share much of their initial topology
(layer-0 mask Jaccard distance about 0.3 at epoch 0, against about 1 for
independent random masks), and the solver's preference for low indices
keeps tied neurons aligned, so a random renumbering mostly *raises* layers
1-2. Differences between networks smaller
than about 0.02 in the mean (0.05 in a hidden layer) are within tie noise.

Two tie-breaking rules are offered:

``tie_break="solver"``
    Whatever matching the assignment solver returns; with ``method="exact"``
    this is bit-for-bit the published code. It is not invariant to
    renumbering: a published network against a copy of itself with shuffled
    hidden neurons comes out at 0.04-0.08 in layers 1-2 instead of 0,
    because its neurons without inputs are tied.
``tie_break="structure"`` (default)
    Every group of second-network neurons with *identical* input sets has
    identical cost columns, so any re-pairing inside the group keeps the
    layer's optimal cost. When the first-network neurons the solver gave to
    such a group carry exactly the same multiset of structural colours as
    the group (Weisfeiler–Lehman colours of the whole layered graph, with
    input features, and class neurons under ``fixed_output``, labelled by
    index), they are re-paired colour to colour; otherwise the solver's
    choice stands. A copy with renumbered hidden neurons therefore comes out
    at exactly 0 (barring neurons that colour refinement cannot tell apart
    but that are not interchangeable, which needs very regular graphs). For
    two different networks whole groups essentially never match in colour,
    so the solver's, i.e. the published, numbers are kept: all 180 pairs of
    published topologies checked (45 pairs at epochs 0, 10, 50, 190) give
    identical values under both rules.

Scale
-----
Cost matrices come from sparse products of the binary masks (``A @ B.T``
counts shared inputs). Pairs without a shared input cost exactly 1, so for
wide, sparse layers the optimum is ``n`` minus a maximum-weight matching over
the overlapping pairs. ``method="sparse"`` solves that on the overlap graph
without ever storing it (:mod:`sparsetopo.nnstd.overlap_assignment`: a
candidate set of pairs, an ε-scaling auction, and a pass over all
overlapping pairs that certifies the result through LP duality), so memory
grows with the layers' edges, not with ``n**2`` or with the overlapping
pairs. ``method="exact"`` fills the dense ``n × n`` cost matrix in row blocks
and calls ``linear_sum_assignment``. ``method="auto"`` takes the exact path
when ``n_out <= 2000`` or when pairs share on average at least 0.5 inputs.
Both paths give the same optimal layer cost (the sparse one certified within
``2 n`` times the auction's last ε, 1.3e-13 per neuron, below float64's
rounding of the sum); they may pick different tied matchings (the sparse
path's tie rule: :mod:`sparsetopo.nnstd.overlap_assignment`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from ..topology.layered import as_layers, describe_layer, flat_layer, input_blocks, renumber_units
from ..topology.masks import as_topology, permute_hidden_neurons

__all__ = [
    "NNSTDResult",
    "TieSpread",
    "METHODS",
    "TIE_BREAKS",
    "EXACT_MAX_WIDTH",
    "DENSE_MEAN_OVERLAP",
    "validate_pair",
    "layer_cost_matrix",
    "match_layer",
    "structural_colors",
    "nnstd",
    "tie_spread",
]

METHODS = ("auto", "exact", "sparse")
"""Assignment solvers: ``auto``, ``exact`` (dense), ``sparse`` (overlapping pairs only)."""
TIE_BREAKS = ("structure", "solver")
"""Tie-break rules: ``structure`` (this project's: permuted copies at exactly 0), ``solver`` (the published code's)."""

EXACT_MAX_WIDTH = 2000
"""``method="auto"`` always uses the dense exact path up to this many neurons."""
DENSE_MEAN_OVERLAP = 0.5
"""Above :data:`EXACT_MAX_WIDTH`, ``method="auto"`` still takes the dense path when pairs share on average at least this many inputs."""

# Cells of the dense cost matrix filled per block: bounds the integer
# temporaries to a few hundred MB whatever the width.
_BLOCK_CELLS = 1 << 22

@dataclass(frozen=True, eq=False)
class NNSTDResult:
    """NNSTD between two networks.

    Attributes
    ----------
    layer_distances : tuple of float
        Distance of every layer, in [0, 1]: matched cost plus one per
        unmatched neuron, over the larger width.
    mean : float
        Mean of ``layer_distances``: the network distance.
    matchings : tuple of np.ndarray
        Per layer, int array ``(n_out,)`` of the first network's width:
        ``matchings[k][a]`` is the index of the second network's layer-k
        neuron (in its own numbering) matched to the first network's neuron
        ``a``, or -1 when ``a`` has no partner (first network wider).
        Read-only.
    methods : tuple of str
        Path used per layer: ``"exact"``, ``"sparse"`` or ``"fixed"`` (an
        output layer kept in place by ``fixed_output``).
    """

    layer_distances: tuple
    mean: float
    matchings: tuple
    methods: tuple = ()

    def __repr__(self) -> str:
        layers = ", ".join(f"{d:.4f}" for d in self.layer_distances)
        widths = "x".join(str(len(m)) for m in self.matchings)
        return f"NNSTDResult(mean={self.mean:.4f}, layers=[{layers}], widths {widths}, methods={tuple(self.methods)})"


@dataclass(frozen=True, eq=False)
class TieSpread:
    """How much the choice among tied optimal matchings moves NNSTD.

    Attributes
    ----------
    labels : tuple of str
        One per variant: ``"solver"`` (exact path, as given), ``"sparse"``
        (the sparse solver's matchings feed the next layers), ``"reversed"``
        (NNSTD(second, first)), ``"shuffle_<i>"`` (exact path after a random
        renumbering of the second network's hidden neurons).
    layer_distances : np.ndarray
        ``(n_variants, n_layers)`` distances.
    spread : np.ndarray
        ``(n_layers,)`` max - min over variants, per layer.
    mean_spread : float
        Max - min over variants of the network distance.
    """

    labels: tuple
    layer_distances: np.ndarray
    spread: np.ndarray
    mean_spread: float

    def __repr__(self) -> str:
        spread = ", ".join(f"{v:.4f}" for v in np.asarray(self.spread).ravel())
        return f"TieSpread({len(self.labels)} variants, mean_spread={self.mean_spread:.4f}, spread per layer=[{spread}])"


# ---------------------------------------------------------------------------
# validation and sparse representations
# ---------------------------------------------------------------------------


def _check_same_shapes(first: Sequence[Any], second: Sequence[Any]) -> None:
    """Refuse two networks whose layers differ in shape, naming the first such layer."""
    for k, (a, b) in enumerate(zip(first, second)):
        if a.shape != b.shape:
            raise ValueError(
                f"layer {k}: first has shape {a.shape} but second has shape {b.shape} "
                "(n_out, n_in); comparing them needs identical layer shapes (transpose masks "
                "stored as (n_in, n_out))"
            )


def validate_pair(
    first: Sequence[Any],
    second: Sequence[Any],
    *,
    same_widths: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Convert two networks to topologies and check they can be compared.

    Parameters
    ----------
    first, second : sequence of array-like
        Masks or weights per layer, ``(n_out, n_in)``, or ``(out_channels,
        in_channels, kh, kw)`` for convolutions when ``same_widths=False``;
        any non-zero entry is an edge (see
        :func:`sparsetopo.topology.masks.as_topology` and
        :func:`sparsetopo.topology.layered.as_layers`).
    same_widths : bool
        True (default): every layer must have the same shape in both
        networks. False: layers may differ in width (neurons, channels); they
        must still agree in kind (linear or convolution), in the inputs of
        layer 0, in kernel sizes and in the spatial size a linear layer reads
        after a convolution.

    Returns
    -------
    first, second : list of np.ndarray
        Boolean masks.

    Raises
    ------
    ValueError
        On NaN weights, a different number of layers, or a layer that cannot
        be compared (the message names the layer and both shapes).
    """
    if same_widths:
        first = as_topology(first, name="first")
        second = as_topology(second, name="second")
    else:
        first = as_layers(first, name="first")
        second = as_layers(second, name="second")
    if len(first) != len(second):
        raise ValueError(
            f"first has {len(first)} layers but second has {len(second)}; NNSTD "
            "compares two networks of the same architecture"
        )
    if same_widths:
        _check_same_shapes(first, second)
        return first, second
    blocks_first, blocks_second = input_blocks(first, name="first"), input_blocks(second, name="second")
    for k, (a, b) in enumerate(zip(first, second)):
        if a.ndim != b.ndim:
            raise ValueError(
                f"layer {k}: first is a {describe_layer(a)} layer but second is a {describe_layer(b)} "
                "layer; NNSTD compares layers of the same kind"
            )
        if k == 0 and a.shape[1:] != b.shape[1:]:
            raise ValueError(
                f"layer 0: first has shape {a.shape} but second has shape {b.shape}; both networks must "
                "read the same input features (layer 0's inputs are never renumbered)"
            )
        if a.ndim == 4 and a.shape[2:] != b.shape[2:]:
            raise ValueError(
                f"layer {k}: first has {a.shape[2]}x{a.shape[3]} kernels but second has "
                f"{b.shape[2]}x{b.shape[3]}; NNSTD compares kernels of the same size"
            )
        if blocks_first[k] != blocks_second[k]:
            raise ValueError(
                f"layer {k}: first ({describe_layer(a)}) reads {blocks_first[k]} features per channel of "
                f"layer {k - 1} but second ({describe_layer(b)}) reads {blocks_second[k]}; both must "
                "flatten feature maps of the same height and width"
            )
    return first, second


def _as_csr(mask: np.ndarray) -> sp.csr_matrix:
    """``(n_out, n_in)`` bool mask as CSR with int32 ones and sorted indices."""
    n_out, n_in = mask.shape
    rows, cols = np.nonzero(mask)  # row-major, so already sorted per row
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
    index_dtype = np.int32 if max(n_in, rows.size) < 2**31 else np.int64
    return sp.csr_matrix(
        (np.ones(rows.size, dtype=np.int32), cols.astype(index_dtype), indptr.astype(index_dtype)),
        shape=(n_out, n_in),
    )


def _renumber_inputs(layer: sp.csr_matrix, matching: np.ndarray) -> sp.csr_matrix:
    """Second network's next layer with input ``matching[a]`` renamed ``a``."""
    new_index = np.empty_like(matching)
    new_index[matching] = np.arange(matching.size)
    out = sp.csr_matrix(
        (layer.data, new_index[layer.indices].astype(layer.indices.dtype), layer.indptr),
        shape=layer.shape,
    )
    out.sort_indices()
    return out


def _row_sizes(layer: sp.csr_matrix) -> np.ndarray:
    return np.diff(layer.indptr).astype(np.int64)


def _pair_costs(shared: np.ndarray, size_first: np.ndarray, size_second: np.ndarray) -> np.ndarray:
    """``edits / union`` in float64, the published order of operations.

    ``shared``, ``size_first`` and ``size_second`` (integer counts) broadcast
    together. Counts are below 2**53, so float64 holds them exactly and the
    only rounding is the division, as in the published code. Both empty
    (union 0, edits 0) costs 0: dividing by max(union, 1) gives exactly that.
    """
    shared = np.asarray(shared, dtype=np.float64)
    union = np.asarray(size_first, dtype=np.float64) + np.asarray(size_second, dtype=np.float64)
    union = union - shared
    edits = union - shared
    np.maximum(union, 1.0, out=union)
    return np.divide(edits, union, out=edits)


def layer_cost_matrix(first_layer: Any, second_layer: Any) -> np.ndarray:
    """Dense matrix of neuron-to-neuron costs of one layer.

    Parameters
    ----------
    first_layer, second_layer : array-like or scipy sparse, ``(n_out, n_in)``
        Masks of the same layer of two networks; the second one's inputs
        already renumbered by the previous layer's matching.

    Returns
    -------
    np.ndarray
        ``(n_out, n_out)`` float64; entry ``[a, b]`` is
        ``(|A ∪ B| - |A ∩ B|) / |A ∪ B|`` for neuron ``a`` of the first and
        ``b`` of the second network (rows: first network).
    """
    first_csr, second_csr = _layer_pair_csr(first_layer, second_layer)
    return _dense_costs(first_csr, second_csr)


def _shared_inputs(first: sp.csr_matrix, second: sp.csr_matrix) -> float:
    """Sum over all neuron pairs of their shared inputs (= sum over inputs of the two layers' in-degree products):
    the incidences the overlap graph has, and ``n * m`` times the mean overlap per pair."""
    per_input_first = np.bincount(first.indices, minlength=first.shape[1]).astype(np.float64)
    per_input_second = np.bincount(second.indices, minlength=second.shape[1]).astype(np.float64)
    return float(per_input_first @ per_input_second)


def _physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit is known
        return 1 << 62


def _check_dense_costs_fit(first: sp.csr_matrix, second: sp.csr_matrix) -> None:
    """Refuse, in one line, a dense cost matrix larger than half this machine's memory (the solver copies it)."""
    n, m = first.shape[0], second.shape[0]
    need, memory = 8 * n * m, _physical_memory_bytes()
    if need <= memory // 2:
        return
    shared = _shared_inputs(first, second)
    advice = (f"method='sparse' works on the graph of neuron pairs that share an input instead, and would enumerate "
              f"about {shared:.2g} (pair, shared input) incidences (two 100,000-neuron layers at epsilon 20 have "
              "1.6e8 and take about a minute)" if n == m else
              "layers of different widths have only the dense solver")
    raise ValueError(
        f"the dense cost matrix of {n:,} x {m:,} neurons needs {need / 1e9:,.0f} GB, more than half of this "
        f"machine's {memory / 1e9:,.0f} GB; its neurons share {shared / (n * m):.3g} inputs per pair on average; "
        f"{advice}"
    )


def _dense_costs(first: sp.csr_matrix, second: sp.csr_matrix) -> np.ndarray:
    """:func:`layer_cost_matrix` of CSR layers whose stored values are 1 (as :func:`_as_csr` makes them). A pair that shares no input costs exactly 1 (0 when both neurons
    are empty), which is what :func:`_pair_costs` gives it, so only the pairs that share an input are divided:
    the same bits at a fraction of the work."""
    n, m = first.shape[0], second.shape[0]
    _check_dense_costs_fit(first, second)
    size_first, size_second = _row_sizes(first), _row_sizes(second)
    costs = np.ones((n, m), dtype=np.float64)
    costs[np.ix_(size_first == 0, size_second == 0)] = 0.0
    second_t = second.T.tocsr()
    block = max(1, _BLOCK_CELLS // max(1, m))
    for start in range(0, n, block):
        shared = (first[start:start + block] @ second_t).tocoo()
        rows, cols = shared.row.astype(np.int64) + start, shared.col.astype(np.int64)
        costs[rows, cols] = _pair_costs(shared.data, size_first[rows], size_second[cols])
    return costs


# ---------------------------------------------------------------------------
# one layer: exact and sparse assignment
# ---------------------------------------------------------------------------


def _choose_method(first: sp.csr_matrix, second: sp.csr_matrix) -> str:
    n = first.shape[0]
    if n <= EXACT_MAX_WIDTH:
        return "exact"
    mean_shared = _shared_inputs(first, second) / (n * second.shape[0])
    return "exact" if mean_shared >= DENSE_MEAN_OVERLAP else "sparse"


def _matched_costs(first: sp.csr_matrix, second: sp.csr_matrix, matching: np.ndarray) -> np.ndarray:
    """Cost of every matched pair ``(a, matching[a])``, ``(n_out,)`` float64."""
    shared = np.asarray(first.multiply(second[matching]).sum(axis=1)).ravel()
    return _pair_costs(shared, _row_sizes(first), _row_sizes(second)[matching])


def _match_exact(first: sp.csr_matrix, second: sp.csr_matrix) -> tuple[float, np.ndarray]:
    costs = _dense_costs(first, second)
    rows, cols = linear_sum_assignment(costs)
    total = float(costs[rows, cols].sum())
    return total, cols.astype(np.int64)


def _match_rectangular(first: sp.csr_matrix, second: sp.csr_matrix) -> tuple[float, np.ndarray]:
    """Layers of different widths: ``min(n1, n2)`` pairs, each leftover neuron costs 1.

    Returns the total cost (matched pairs plus ``|n1 - n2|``) and the
    matching ``(n1,)`` with -1 for first-network neurons left unmatched.
    """
    costs = _dense_costs(first, second)
    rows, cols = linear_sum_assignment(costs)
    matching = np.full(first.shape[0], -1, dtype=np.int64)
    matching[rows] = cols
    total = float(costs[rows, cols].sum()) + abs(first.shape[0] - second.shape[0])
    return total, matching


def _match_sparse(first: sp.csr_matrix, second: sp.csr_matrix) -> tuple[float, np.ndarray]:
    """The overlap-graph solver (:mod:`sparsetopo.nnstd.overlap_assignment`): memory linear in the layers' edges."""
    from .overlap_assignment import match_overlap  # numba compiles on first use: only when asked for

    total, matching, _ = match_overlap(first, second)
    return total, matching


def match_layer(
    first_layer: Any,
    second_layer: Any,
    *,
    method: str = "auto",
) -> tuple[float, np.ndarray]:
    """Optimal matching of one layer's neurons.

    Parameters
    ----------
    first_layer, second_layer : array-like or scipy sparse, ``(n_out, n_in)``
        The same layer of two networks; the second one's inputs already
        renumbered by the previous layer's matching. When both are scipy
        sparse matrices (CSR, COO, ...) they are never densified; with
        ``method="sparse"`` (or ``auto`` above :data:`EXACT_MAX_WIDTH`
        neurons) memory then follows the overlapping pairs, not ``n_out**2``.
    method : {"auto", "exact", "sparse"}
        Solver path (see the module docstring).

    Returns
    -------
    total_cost : float
        Minimum total cost (divide by ``n_out`` for the layer distance).
    matching : np.ndarray
        ``(n_out,)`` int; ``matching[a]`` is the second network's neuron
        matched to the first network's neuron ``a``.
    """
    _check_choice("method", method, METHODS)
    first_csr, second_csr = _layer_pair_csr(first_layer, second_layer)
    if method == "auto":
        method = _choose_method(first_csr, second_csr)
    solve = _match_exact if method == "exact" else _match_sparse
    return solve(first_csr, second_csr)


def _layer_pair_csr(first_layer: Any, second_layer: Any) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    if sp.issparse(first_layer) and sp.issparse(second_layer):
        # scipy sparse layers stay sparse: no dense (n_out, n_in) array is built
        first, second = _sparse_as_csr(first_layer, "first"), _sparse_as_csr(second_layer, "second")
        _check_same_shapes([first], [second])
        return first, second
    first, second = validate_pair([first_layer], [second_layer])
    return _as_csr(first[0]), _as_csr(second[0])


def _sparse_as_csr(layer: Any, name: str) -> sp.csr_matrix:
    """A scipy sparse ``(n_out, n_in)`` layer as CSR with int32 ones and sorted indices (any non-zero is an edge)."""
    csr = sp.csr_matrix(layer, copy=True)
    if csr.ndim != 2:
        raise ValueError(f"{name}: a sparse layer must be 2-D (n_out, n_in), got shape {csr.shape}")
    if np.issubdtype(csr.dtype, np.floating) and np.isnan(csr.data).any():
        raise ValueError(f"{name}: the layer contains NaN weights; any non-zero entry is an edge, NaN is neither")
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    index_dtype = np.int32 if max(csr.shape[1], csr.nnz) < 2**31 else np.int64
    return sp.csr_matrix(
        (np.ones(csr.nnz, dtype=np.int32), csr.indices.astype(index_dtype), csr.indptr.astype(index_dtype)),
        shape=csr.shape,
    )


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


# ---------------------------------------------------------------------------
# structural colours for tie-breaking
# ---------------------------------------------------------------------------


def _mix(values: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each value."""
    z = np.asarray(values, dtype=np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (salt + 1)) & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _sum_into(size: int, positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``out[p] += v`` modulo 2**64: a hash of the multiset at each position."""
    out = np.zeros(size, dtype=np.uint64)
    np.add.at(out, positions, values)
    return out


def structural_colors(masks: Sequence[Any], *, fixed_output: bool = False, rounds: int | None = None) -> list[np.ndarray]:
    """Weisfeiler–Lehman colours of every non-input neuron of a layered network.

    Input features are labelled by their index (they are the same features in
    every network); output neurons too when ``fixed_output`` (otherwise they
    are permutable and start with one shared colour). Every round a neuron's
    colour becomes a hash of its colour and of the multisets of colours of its
    in- and out-neighbours. Colours are invariant to renumbering hidden
    neurons and comparable between networks, so equal colours mark
    candidates for the same place in the graph.

    Parameters
    ----------
    masks : topology, ``(n_out, n_in)`` per layer.
    fixed_output : bool
        Label class neurons by index.
    rounds : int, optional
        Refinement rounds (default ``2 * (n_layers + 1)``: enough for
        information to cross the network twice).

    Returns
    -------
    list of np.ndarray
        Per layer k, ``(n_out_k,)`` uint64 colours of the layer's neurons.
    """
    return _colors_from_csr([_as_csr(m) for m in as_topology(masks)], fixed_output, rounds)


def _colors_from_csr(
    masks: list[sp.csr_matrix],
    fixed_output: bool,
    rounds: int | None = None,
    blocks: Sequence[int] | None = None,
) -> list[np.ndarray]:
    n_layers = len(masks)
    rounds = 2 * (n_layers + 1) if rounds is None else int(rounds)
    blocks = [1] * n_layers if blocks is None else list(blocks)
    # column -> unit below (and, for blocks > 1, the offset inside the block:
    # a kernel or spatial position, which labels the edge)
    edges, offsets = [], []
    for k, m in enumerate(masks):
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        if blocks[k] == 1:
            edges.append((rows, m.indices))
            offsets.append(None)
        else:
            cols = m.indices.astype(np.int64)
            edges.append((rows, cols // blocks[k]))
            offsets.append(_mix(cols % blocks[k], salt=10))
    inputs = _mix(np.arange(masks[0].shape[1] // blocks[0]), salt=1)
    colors = [np.full(m.shape[0], _mix(np.array([k + 2]), salt=0)[0], dtype=np.uint64) for k, m in enumerate(masks)]
    if fixed_output:
        colors[-1] = _mix(np.arange(masks[-1].shape[0]), salt=2)
    refined_layers = range(n_layers - 1) if fixed_output else range(n_layers)
    with np.errstate(over="ignore"):
        for _ in range(rounds):
            below = [inputs] + colors[:-1]
            new = list(colors)
            for k in refined_layers:
                rows, cols = edges[k]
                values = _mix(below[k], salt=3)[cols]
                if offsets[k] is not None:
                    values = _mix(values ^ offsets[k], salt=11)
                in_hash = _sum_into(masks[k].shape[0], rows, values)
                if k + 1 < n_layers:
                    up_rows, up_cols = edges[k + 1]
                    values = _mix(colors[k + 1], salt=4)[up_rows]
                    if offsets[k + 1] is not None:
                        values = _mix(values ^ offsets[k + 1], salt=11)
                    out_hash = _sum_into(masks[k].shape[0], up_cols, values)
                else:
                    out_hash = np.zeros(masks[k].shape[0], dtype=np.uint64)
                new[k] = _mix(colors[k] ^ _mix(in_hash, salt=5) ^ _mix(out_hash, salt=6), salt=7)
            colors = new
    return colors


def _identical_row_groups(layer: sp.csr_matrix) -> list[np.ndarray]:
    """Groups (size >= 2) of rows with exactly the same input indices."""
    n = layer.shape[0]
    sizes = np.diff(layer.indptr)
    rows = np.repeat(np.arange(n), sizes)
    with np.errstate(over="ignore"):
        key = _sum_into(n, rows, _mix(layer.indices, salt=8)) ^ _mix(sizes, salt=9)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    groups = []
    for label in np.flatnonzero(counts > 1):
        candidates = np.flatnonzero(inverse == label)
        # the hash only proposes; identical index lists decide
        by_set: dict[bytes, list[int]] = {}
        for r in candidates:
            by_set.setdefault(layer.indices[layer.indptr[r] : layer.indptr[r + 1]].tobytes(), []).append(int(r))
        groups.extend(np.asarray(g) for g in by_set.values() if len(g) > 1)
    return groups


def _repair_ties(
    matching: np.ndarray,
    second_layer: sp.csr_matrix,
    first_colors: np.ndarray,
    second_colors: np.ndarray,
) -> np.ndarray:
    """Re-pair by colour within groups of interchangeable second-network neurons.

    A group is a set of second-network neurons with identical input sets, so
    re-pairing inside it keeps the layer's cost. A group is re-paired only
    when the first-network neurons the solver gave it carry exactly the same
    multiset of colours (as in a relabelled copy); otherwise the solver's
    choice stands, because moving some pairs by colour would push others
    around and depart from the published matchings for no structural reason.
    """
    groups = _identical_row_groups(second_layer)
    if not groups:
        return matching
    matching = matching.copy()
    matched = np.flatnonzero(matching >= 0)
    first_of = np.full(second_layer.shape[0], -1, dtype=matching.dtype)
    first_of[matching[matched]] = matched
    for group in groups:
        if (first_of[group] < 0).any():  # a member without partner (second network wider)
            continue
        firsts = np.sort(first_of[group])
        if not np.array_equal(np.sort(first_colors[firsts]), np.sort(second_colors[group])):
            continue
        for color in np.unique(second_colors[group]):
            same_first = firsts[first_colors[firsts] == color]
            same_second = group[second_colors[group] == color]
            # keep the solver's pairs that already agree, pair the rest in order
            agree = np.isin(matching[same_first], same_second)
            free_second = np.setdiff1d(same_second, matching[same_first[agree]])
            matching[same_first[~agree]] = free_second
    return matching


# ---------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------


def nnstd(
    first: Sequence[Any],
    second: Sequence[Any],
    *,
    method: str = "auto",
    fixed_output: bool = False,
    tie_break: str = "structure",
) -> NNSTDResult:
    """Neural Network Sparse Topology Distance between two networks.

    Parameters
    ----------
    first, second : topology
        Masks or weights per layer, ``(n_out, n_in)`` like
        ``torch.nn.Linear.weight`` or ``(out_channels, in_channels, kh, kw)``
        like ``torch.nn.Conv2d.weight`` (a chain, see
        :mod:`sparsetopo.topology.layered`); any non-zero entry is an edge. Layer
        widths may differ between the networks (module docstring). Two MLPs
        given as lists of scipy sparse matrices are never densified (memory
        follows their edges with ``method="sparse"``; a layer whose widths
        differ between the networks still fills a dense cost matrix).
    method : {"auto", "exact", "sparse"}
        Assignment solver per layer: dense cost matrix and
        ``linear_sum_assignment`` (the published code's), the overlap graph
        (:mod:`sparsetopo.nnstd.overlap_assignment`, memory linear in edges),
        or chosen per layer by size and overlap density.
    fixed_output : bool
        Keep the output (class) neurons in place instead of matching them.
    tie_break : {"structure", "solver"}
        How to choose among tied optimal matchings (module docstring):
        ``"solver"`` reproduces the published code exactly with
        ``method="exact"``; ``"structure"`` additionally makes a copy with
        permuted hidden neurons come out at exactly 0.

    Returns
    -------
    NNSTDResult
        Per-layer distances in [0, 1], their mean, and the matchings.

    Raises
    ------
    ValueError
        If the networks differ in layer count, layer kinds, input features,
        kernel or feature-map sizes (naming the layer and both shapes),
        contain NaN, ``fixed_output`` is asked for output layers of
        different widths, or an option is unknown.
    """
    _check_choice("method", method, METHODS)
    _check_choice("tie_break", tie_break, TIE_BREAKS)
    options = {"fixed_output": fixed_output, "tie_break": tie_break}
    if _all_scipy_sparse(first) and _all_scipy_sparse(second):
        # an MLP given as scipy sparse layers stays sparse: no dense (n_out, n_in) mask is built
        prepared = _prepare_sparse(first, "first", **options), _prepare_sparse(second, "second", **options)
        _check_sparse_pair(prepared[0].csr, prepared[1].csr)
        return _nnstd_prepared(*prepared, method=method, **options)
    first, second = validate_pair(first, second, same_widths=False)
    return _nnstd_prepared(_prepare(first, **options), _prepare(second, **options), method=method, **options)


def _all_scipy_sparse(layers: Any) -> bool:
    return isinstance(layers, (list, tuple)) and len(layers) > 0 and all(sp.issparse(m) for m in layers)


def _prepare_sparse(layers: Sequence[Any], name: str, *, fixed_output: bool, tie_break: str) -> _Prepared:
    """An MLP of scipy sparse ``(n_out, n_in)`` layers prepared like :func:`_prepare`, without densifying."""
    csr = [_sparse_as_csr(m, f"{name} layer {k}") for k, m in enumerate(layers)]
    _check_sparse_chain(csr, name)
    colors = _colors_from_csr(csr, fixed_output, blocks=None) if tie_break == "structure" else None
    return _Prepared(csr=csr, blocks=[1] * len(csr), colors=colors)


def _check_sparse_chain(csr: list, name: str) -> None:
    """Consecutive sparse layers chain: each layer's inputs are the previous layer's outputs."""
    for k in range(1, len(csr)):
        if csr[k].shape[1] != csr[k - 1].shape[0]:
            raise ValueError(
                f"{name}: layer {k} has {csr[k].shape[1]} inputs but layer {k - 1} has {csr[k - 1].shape[0]} "
                "outputs; layers are (n_out, n_in) and must chain"
            )


def _check_sparse_pair(first: list, second: list) -> None:
    """The checks of :func:`validate_pair` that apply to two MLPs of sparse layers (widths may differ)."""
    if len(first) != len(second):
        raise ValueError(f"first has {len(first)} layers but second has {len(second)}; NNSTD compares networks "
                         "of the same depth")
    if first[0].shape[1] != second[0].shape[1]:
        raise ValueError(f"layer 0: first has {first[0].shape[1]} inputs but second has {second[0].shape[1]}; "
                         "both networks must read the same input features")


@dataclass(frozen=True)
class _Prepared:
    """What NNSTD derives from one network alone: its flattened layers as sorted CSR, the input
    blocks of each layer (:func:`input_blocks`), and its structural colours (``tie_break="structure"``)."""

    csr: list
    blocks: list
    colors: list | None


def _prepare(layers: Sequence[np.ndarray], *, fixed_output: bool, tie_break: str) -> _Prepared:
    """One validated network (as :func:`validate_pair` returns it) prepared for :func:`_nnstd_prepared`."""
    blocks = input_blocks(layers)
    csr = [_as_csr(flat_layer(m)) for m in layers]
    mlp = all(b == 1 for b in blocks)
    colors = _colors_from_csr(csr, fixed_output, blocks=None if mlp else blocks) if tie_break == "structure" else None
    return _Prepared(csr=csr, blocks=blocks, colors=colors)


def _nnstd_prepared(
    first: _Prepared, second: _Prepared, *, method: str, fixed_output: bool, tie_break: str
) -> NNSTDResult:
    """The layer walk of :func:`nnstd` on two prepared networks that passed :func:`validate_pair` together."""
    blocks = first.blocks  # equal to second's: validate_pair compares them
    first_csr, second_csr = first.csr, second.csr
    n_layers = len(first_csr)
    if fixed_output and first_csr[-1].shape[0] != second_csr[-1].shape[0]:
        raise ValueError(
            f"fixed_output=True keeps output neurons in place, but first has {first_csr[-1].shape[0]} and "
            f"second {second_csr[-1].shape[0]} of them; match them instead (fixed_output=False)"
        )
    distances, matchings, methods = [], [], []
    for k in range(n_layers):
        a, b = first_csr[k], second_csr[k]
        if k > 0:
            previous = matchings[-1]
            square = previous.size == b.shape[1] // blocks[k] and bool((previous >= 0).all())
            if square and blocks[k] == 1:
                b = _renumber_inputs(b, previous)
            else:
                b = renumber_units(b, previous, blocks[k])
                # the first network's columns, padded to the joint unit numbering
                a = sp.csr_matrix((a.data, a.indices, a.indptr), shape=(a.shape[0], b.shape[1]))
        n_out, n_second = a.shape[0], b.shape[0]
        if fixed_output and k == n_layers - 1:
            matching = np.arange(n_out, dtype=np.int64)
            total = float(_matched_costs(a, b, matching).sum())
            used = "fixed"
        else:
            try:
                if n_out != n_second:
                    used = "exact"
                    total, matching = _match_rectangular(a, b)
                else:
                    used = method if method != "auto" else _choose_method(a, b)
                    total, matching = (_match_exact if used == "exact" else _match_sparse)(a, b)
            except ValueError as err:
                raise ValueError(f"layer {k}: {err}") from None
        if tie_break == "structure" and k < n_layers - 1 and used != "fixed":
            matching = _repair_ties(matching, b, first.colors[k], second.colors[k])
        matching.setflags(write=False)
        distances.append(total / max(n_out, n_second))
        matchings.append(matching)
        methods.append(used)
    return NNSTDResult(
        layer_distances=tuple(float(d) for d in distances),
        mean=float(np.mean(distances)),
        matchings=tuple(matchings),
        methods=tuple(methods),
    )


def tie_spread(
    first: Sequence[Any],
    second: Sequence[Any],
    *,
    n_shuffles: int = 8,
    seed: int = 0,
    fixed_output: bool = False,
    tie_break: str = "solver",
) -> TieSpread:
    """Measure how far other optimal matchings move the layer distances.

    Every variant solves each layer optimally; they differ only in which of
    several tied optimal matchings feeds the next layer: the exact solver as
    the networks are given, the sparse solver, the arguments swapped, and the
    exact solver after ``n_shuffles`` random renumberings of the second
    network's hidden neurons (which leave its graph unchanged).

    Parameters
    ----------
    first, second : topology
    n_shuffles : int
        Random renumberings of the second network.
    seed : int
        Seed of the renumberings.
    fixed_output : bool
        As in :func:`nnstd`.
    tie_break : {"solver", "structure"}
        Rule under test (default: the published solver behaviour).

    Returns
    -------
    TieSpread
        Distances of every variant and their spread (max - min) per layer.
        Layer 0's spread is float rounding only (its optimal cost is unique).
    """
    if n_shuffles < 0:
        raise ValueError(f"n_shuffles must be >= 0, got {n_shuffles}")
    first, second = validate_pair(first, second)
    options = {"fixed_output": fixed_output, "tie_break": tie_break}
    rng = np.random.default_rng(seed)
    labels = ["solver", "sparse", "reversed"]
    results = [
        nnstd(first, second, method="exact", **options),
        nnstd(first, second, method="sparse", **options),
        nnstd(second, first, method="exact", **options),
    ]
    for i in range(n_shuffles):
        shuffled = permute_hidden_neurons(second, seed=rng)
        labels.append(f"shuffle_{i}")
        results.append(nnstd(first, shuffled, method="exact", **options))
    table = np.array([r.layer_distances for r in results], dtype=np.float64)
    means = np.array([r.mean for r in results])
    return TieSpread(
        labels=tuple(labels),
        layer_distances=table,
        spread=table.max(axis=0) - table.min(axis=0),
        mean_spread=float(means.max() - means.min()),
    )
