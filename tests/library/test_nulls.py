"""Tests of sparsetopo.topology.nulls and the degree-preserving random baseline of NNSTD."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sparsetopo.nnstd.distance import nnstd
from sparsetopo.nnstd.pairwise import random_baseline
from sparsetopo.topology.layered import random_like
from sparsetopo.topology.masks import edge_counts, random_topology, widths_of
from sparsetopo.topology.nulls import (
    degree_preserving,
    degree_sequences,
    double_edge_swaps,
    draw_null,
    erdos_renyi,
)


def skewed_network(seed: int = 0) -> list[np.ndarray]:
    """An MLP whose layers have heavy-tailed in- and out-degrees, like a trained SET network."""
    rng = np.random.default_rng(seed)
    masks = []
    for n_in, n_out in [(60, 50), (50, 40)]:
        weight_in = rng.pareto(1.5, n_in) + 0.1
        weight_out = rng.pareto(1.5, n_out) + 0.1
        p = np.outer(weight_out, weight_in)
        masks.append(rng.random((n_out, n_in)) < np.minimum(1.0, p * 400 / p.sum()))
    masks.append(np.ones((5, 40), dtype=bool))
    return masks


def conv_network() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.random((8, 3, 3, 3)) < 0.4, rng.random((6, 8, 3, 3)) < 0.3, rng.random((10, 6 * 4)) < 0.5]


def test_erdos_renyi_keeps_shapes_and_exact_edge_counts():
    for topology in (skewed_network(), conv_network()):
        drawn = erdos_renyi(topology, seed=1)
        assert [m.shape for m in drawn] == [m.shape for m in topology]
        assert edge_counts(drawn) == edge_counts(topology)
        assert any((a != b).any() for a, b in zip(drawn, topology))


def test_erdos_renyi_draws_what_random_topology_and_random_like_draw():
    mlp, conv = skewed_network(), conv_network()
    expected = random_topology(widths_of(mlp), layer_edges=edge_counts(mlp), seed=np.random.default_rng([4, 1, 0]))
    for a, b in zip(erdos_renyi(mlp, np.random.default_rng([4, 1, 0])), expected):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(erdos_renyi(conv, np.random.default_rng(9)), random_like(conv, np.random.default_rng(9))):
        np.testing.assert_array_equal(a, b)


def test_erdos_renyi_of_sparse_layers_stays_sparse_with_the_same_positions():
    dense = skewed_network()
    drawn_sparse = erdos_renyi([sp.csr_matrix(m) for m in dense], seed=5)
    assert all(sp.issparse(m) for m in drawn_sparse)
    for a, b in zip(drawn_sparse, erdos_renyi(dense, seed=5)):
        np.testing.assert_array_equal(a.toarray(), b)


@pytest.mark.parametrize("form", ["dense", "sparse", "conv"])
def test_degree_preserving_keeps_both_degree_sequences_exactly(form):
    topology = conv_network() if form == "conv" else skewed_network()
    if form == "sparse":
        topology = [sp.csr_matrix(m) for m in topology]
    drawn = degree_preserving(topology, seed=2)
    moved = 0
    for before, after in zip(topology, drawn):
        assert np.shape(after) == np.shape(before) and sp.issparse(after) == sp.issparse(before)
        for kept, original in zip(degree_sequences(after), degree_sequences(before)):
            np.testing.assert_array_equal(kept, original)
        a = after.toarray() if sp.issparse(after) else after
        b = before.toarray() if sp.issparse(before) else before
        moved += int((a != b).sum())
    assert moved > 0


def test_double_edge_swaps_keep_the_graph_simple():
    rng = np.random.default_rng(0)
    mask = rng.random((30, 20)) < 0.3
    rows, cols = np.nonzero(mask)
    new_rows, new_cols, accepted = double_edge_swaps(rows, cols, mask.shape, 5000, np.random.default_rng(1))
    assert accepted > 1000
    assert np.unique(new_rows * 20 + new_cols).size == rows.size
    np.testing.assert_array_equal(np.bincount(new_cols, minlength=20), mask.sum(axis=0))


def test_degree_preserving_is_seeded_and_zero_swaps_is_a_copy():
    topology = skewed_network()
    for a, b in zip(degree_preserving(topology, seed=3), degree_preserving(topology, seed=3)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(degree_preserving(topology, seed=3, swaps_per_edge=0), topology):
        np.testing.assert_array_equal(a, b)


def test_degree_preserving_distance_to_the_start_grows_with_swaps_and_saturates():
    topology = random_topology((60, 50, 40, 5), epsilon=4, seed=0)

    def distance(swaps: float) -> float:
        return float(np.mean([nnstd(topology, degree_preserving(topology, seed, swaps_per_edge=swaps)).layer_distances[0]
                              for seed in range(3)]))

    curve = [distance(s) for s in (0, 0.05, 0.3, 1, 10, 20)]
    assert curve[0] == 0.0
    assert curve[0] < curve[1] < curve[2] < curve[3]
    assert curve[1] < 0.5 * curve[4]
    assert abs(curve[4] - curve[5]) < 0.02 and abs(curve[3] - curve[4]) < 0.05


def test_random_baseline_degree_null_keeps_degrees_and_lies_below_er_for_skewed_networks(tmp_path):
    topology = skewed_network()
    er = random_baseline(topology, n_pairs=4, seed=0, cache_dir=tmp_path)
    degree = random_baseline(topology, n_pairs=4, seed=0, null="degree", cache_dir=tmp_path)
    assert er.null == "er" and degree.null == "degree"
    assert degree.layer_mean[0] < er.layer_mean[0] - 0.02
    assert degree.layer_mean[-1] == er.layer_mean[-1] == 0.0  # the dense output layer has a single arrangement


def test_unknown_null_is_refused_with_the_names():
    with pytest.raises(ValueError, match="'er', 'degree'"):
        draw_null(skewed_network(), "uniform")
    with pytest.raises(ValueError, match="null='uniform'"):
        random_baseline(skewed_network(), null="uniform")
