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
