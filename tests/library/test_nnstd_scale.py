"""NNSTD on layers given as scipy sparse matrices: same numbers as dense masks, never densified."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from sparsetopo.nnstd.distance import layer_cost_matrix, match_layer
from sparsetopo.topology.masks import load_topology, load_topology_sparse, random_mask, save_topology


def _random_sparse(n_out: int, n_in: int, n_edges: int, rng: np.random.Generator) -> sp.csr_matrix:
    flat = np.sort(rng.choice(n_out * n_in, size=n_edges, replace=False))
    rows, cols = np.divmod(flat, n_in)
    return sp.csr_matrix((np.ones(n_edges), (rows, cols)), shape=(n_out, n_in))


@pytest.mark.parametrize("seed", range(12))
def test_sparse_input_gives_the_dense_solvers_optimum(seed):
    rng = np.random.default_rng(seed)
    n_out, n_in = int(rng.integers(1, 80)), int(rng.integers(1, 120))
    density = rng.uniform(0.0, 0.3)
    first = random_mask(n_out, n_in, int(density * n_out * n_in), rng)
    second = random_mask(n_out, n_in, int(rng.uniform(0, 0.3) * n_out * n_in), rng)
    costs = layer_cost_matrix(first, second)
    rows, cols = linear_sum_assignment(costs)
    optimum = costs[rows, cols].sum()
    for layers in ((first, second), (sp.csr_matrix(first), sp.coo_matrix(second))):
        for method in ("exact", "sparse"):
            total, matching = match_layer(*layers, method=method)
            assert total == pytest.approx(optimum, abs=1e-9)
            assert np.array_equal(np.sort(matching), np.arange(n_out))
    # same input as dense or sparse: bit-identical results on the dense path
    assert match_layer(first, second, method="exact")[0] == match_layer(
        sp.csr_matrix(first), sp.csr_matrix(second), method="exact")[0]


def test_sparse_layers_are_never_densified():
    """A 20,000 x 200,000 layer (a dense bool mask would take 4 GB) with a few edges."""
    rng = np.random.default_rng(0)
    first, second = _random_sparse(20_000, 200_000, 2_000, rng), _random_sparse(20_000, 200_000, 2_000, rng)
    match_layer(first[:50], second[:50], method="sparse")  # the solver's kernels compile on first use: not timed
    start = time.perf_counter()
    total, matching = match_layer(first, second, method="sparse")
    assert time.perf_counter() - start < 20
    assert np.array_equal(np.sort(matching), np.arange(20_000))
    # empty neurons pair at cost 0; the ~2,000 others share almost nothing, so cost about 1 each
    busy = max(int((np.diff(first.indptr) > 0).sum()), int((np.diff(second.indptr) > 0).sum()))
    assert 0.95 * busy < total <= busy


def test_sparse_layers_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="identical layer shapes"):
        match_layer(sp.csr_matrix((3, 4)), sp.csr_matrix((3, 5)))


def test_load_topology_sparse_matches_load_topology(tmp_path):
    rng = np.random.default_rng(3)
    masks = [random_mask(20, 30, 50, rng), random_mask(10, 20, 40, rng)]
    path = save_topology(tmp_path / "t.npz", masks, epoch=3)
    dense, meta = load_topology(path)
    layers, meta_sparse = load_topology_sparse(path)
    assert meta_sparse == meta
    for d, s in zip(dense, layers):
        assert sp.issparse(s) and s.shape == d.shape
        assert np.array_equal(s.toarray().astype(bool), d)


@pytest.mark.realdata
def test_published_pairs_auto_is_the_published_dense_path():
    """Pinned tie rule: on the published 784-wide layers `auto` is the dense solver, bit for bit."""
    from sparsetopo.nnstd.distance import nnstd
    from sparsetopo.topology.masks import load_published

    data = os.environ.get("SPARSETOPO_DATA")
    root = None if not data else os.path.join(data, "official_nnstd_topo", "topo")
    if root is None or not os.path.isdir(os.path.join(root, "e5_s0_w0")):
        pytest.skip("the published topologies are not under $SPARSETOPO_DATA/official_nnstd_topo/topo")
    first, second = load_published(os.path.join(root, "e5_s0_w1"), 190), load_published(os.path.join(root, "e5_s0_w0"), 190)
    auto = nnstd(first, second, tie_break="solver")
    exact = nnstd(first, second, method="exact", tie_break="solver")
    assert auto.layer_distances == exact.layer_distances
    # layer 0 (inputs never renumbered): the same optimum from scipy sparse layers, on both solvers
    for method in ("exact", "sparse"):
        total, _ = match_layer(sp.csr_matrix(first[0]), sp.csr_matrix(second[0]), method=method)
        assert total == pytest.approx(exact.layer_distances[0] * first[0].shape[0], abs=1e-9)


def test_distance_command_does_not_import_torch():
    code = "import sys, sparsetopo.cli.distance; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"  # the command's parser and NNSTD path start without torch (it loads for .pt inputs)


def _sparse_mlp(widths, edges_per_neuron, rng):
    return [_random_sparse(n_out, n_in, min(n_out * n_in, edges_per_neuron * n_out), rng)
            for n_in, n_out in zip(widths, widths[1:])]


@pytest.mark.parametrize("null", ["er", "degree"])
def test_random_baseline_of_sparse_layers_equals_the_dense_masks(null, tmp_path):
    from sparsetopo.nnstd import random_baseline

    rng = np.random.default_rng(3)
    network = _sparse_mlp([30, 25, 20, 4], 3, rng)
    dense = [m.toarray() != 0 for m in network]
    options = dict(n_pairs=3, seed=5, null=null, use_cache=False)
    from_sparse, from_dense = random_baseline(network, **options), random_baseline(dense, **options)
    # the same draws, layer shapes and numbers whichever form the network comes in
    assert np.array_equal(from_sparse.samples, from_dense.samples)
    assert np.array_equal(from_sparse.permuted_copy, from_dense.permuted_copy)
    assert np.all(np.asarray(from_sparse.permuted_copy) == 0)
    other = _sparse_mlp([30, 40, 20, 4], 2, rng)
    wider = random_baseline(network, other=other, **options)
    assert np.array_equal(wider.samples, random_baseline(dense, other=[m.toarray() for m in other], **options).samples)


def test_trajectory_of_sparse_snapshots_equals_the_dense_masks():
    from sparsetopo.nnstd import trajectory_nnstd

    rng = np.random.default_rng(4)
    snapshots = [_sparse_mlp([30, 25, 20, 4], 3, rng) for _ in range(4)]
    from_sparse = trajectory_nnstd(snapshots, use_cache=False)
    from_dense = trajectory_nnstd([[m.toarray() != 0 for m in s] for s in snapshots], use_cache=False)
    assert from_sparse.equals(from_dense)
    with pytest.raises(ValueError, match=r"snapshots\[1\] cannot be compared with snapshots\[0\]: layer 1"):
        trajectory_nnstd([snapshots[0], _sparse_mlp([30, 25, 21, 4], 3, rng)], use_cache=False)


def test_wide_sparse_baseline_and_trajectory_never_densify():
    """5,000-10,000-10,000-10 networks: a dense bool mask of the middle layer would take 100 MB."""
    import tracemalloc

    from sparsetopo.nnstd import random_baseline, trajectory_nnstd

    rng = np.random.default_rng(5)
    widths = [5_000, 10_000, 10_000, 10]
    snapshots = [_sparse_mlp(widths, 2, rng) for _ in range(2)]
    tracemalloc.start()
    try:
        trajectory = trajectory_nnstd(snapshots, use_cache=False, method="sparse")
        baseline = random_baseline(snapshots[0], n_pairs=2, use_cache=False, method="sparse")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60e6
    assert 0 < trajectory["to_first"].iloc[-1] <= 1
    assert np.all((baseline.samples > 0.5) & (baseline.samples <= 1))
    assert np.allclose(baseline.permuted_copy, 0)


def test_mask_distances_of_sparse_layers_equal_the_dense_masks():
    from sparsetopo.nnstd.pairwise import pairwise_mask_distances

    rng = np.random.default_rng(6)
    networks = [_sparse_mlp([30, 25, 20, 4], 3, rng) for _ in range(3)]
    for metric in ("jaccard", "hamming"):
        from_sparse = pairwise_mask_distances(networks, metric=metric)
        from_dense = pairwise_mask_distances([[m.toarray() != 0 for m in t] for t in networks], metric=metric)
        assert np.array_equal(from_sparse.layers, from_dense.layers) and from_sparse.layers.max() > 0


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.float64])
def test_dense_costs_are_bit_identical_to_dividing_every_pair(dtype):
    """Only pairs sharing an input are divided; the others are set to 1 (0 for two empty neurons). The layers hold
    ones, as ``_as_csr`` and ``_sparse_as_csr`` make them (int32)."""
    from sparsetopo.nnstd.distance import _dense_costs, _pair_costs, _row_sizes

    rng = np.random.default_rng(7)
    for _ in range(60):
        n, m, k = rng.integers(1, 50, 3)
        a = sp.csr_matrix((rng.random((n, k)) < rng.random() * 0.4).astype(dtype))
        b = sp.csr_matrix((rng.random((m, k)) < rng.random() * 0.4).astype(dtype))
        a_int, b_int = a.astype(np.int64), b.astype(np.int64)
        every_pair = _pair_costs((a_int @ b_int.T).toarray(), _row_sizes(a)[:, None], _row_sizes(b)[None, :])
        assert np.array_equal(_dense_costs(a, b).view(np.int64), every_pair.view(np.int64))


def test_a_dense_cost_matrix_larger_than_the_machine_is_refused_in_one_line(monkeypatch):
    import sparsetopo.nnstd.distance as distance
    from sparsetopo.nnstd import nnstd

    rng = np.random.default_rng(8)
    first, second = _sparse_mlp([30, 100, 10], 5, rng), _sparse_mlp([30, 100, 10], 5, rng)
    monkeypatch.setattr(distance, "_physical_memory_bytes", lambda: 2 * 8 * 100 * 100 - 2)
    with pytest.raises(ValueError, match=r"^layer 0: the dense cost matrix of 100 x 100 neurons needs 0 GB, more than "
                                         r"half of this machine's 0 GB; its neurons share [0-9.]+ inputs per pair on "
                                         r"average; method='sparse' works on the graph") as err:
        nnstd(first, second, method="exact")
    assert "\n" not in str(err.value)
    assert nnstd(first, second, method="sparse").layer_distances[0] > 0  # the overlap-graph solver allocates no matrix
