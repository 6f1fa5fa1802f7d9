"""Tests of sparsetopo.nnstd.distance: the definition, the published numbers, ties, solvers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from helpers import require_published

from sparsetopo.nnstd.distance import (
    layer_cost_matrix,
    match_layer,
    nnstd,
    structural_colors,
    tie_spread,
)
from sparsetopo.topology.masks import (
    load_published,
    permute_hidden_neurons,
    random_mask,
    random_topology,
    rewire_fraction,
)

# Values of the published code (Sparse_Topology_Distance) for
# first = e5_s0_w1, second = e5_s0_w0.
PUBLISHED = {
    0: [0.290237, 0.244549, 0.198133, 0.0],
    190: [0.471445, 0.506789, 0.452657, 0.0],
}
PUBLISHED_MEAN_190 = 0.357723


def published_root() -> Path:
    return require_published()


def small_topology(seed: int, widths=(40, 30, 30, 5), density=0.08) -> list[np.ndarray]:
    return random_topology(widths, density=density, seed=seed)


# ---------------------------------------------------------------------------
# the published numbers
# ---------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("epoch", [0, 190])
@pytest.mark.parametrize("tie_break", ["solver", "structure"])
def test_exact_method_reproduces_published_layer_distances(epoch, tie_break):
    root = published_root()
    first = load_published(root / "e5_s0_w1", epoch)
    second = load_published(root / "e5_s0_w0", epoch)
    result = nnstd(first, second, method="exact", tie_break=tie_break)
    np.testing.assert_allclose(result.layer_distances, PUBLISHED[epoch], atol=1e-6)
    if epoch == 190:
        assert result.mean == pytest.approx(PUBLISHED_MEAN_190, abs=1e-6)


@pytest.mark.realdata
def test_tie_spread_on_published_pair_is_zero_in_layer0_and_small_later():
    root = published_root()
    first = load_published(root / "e5_s0_w1", 190)
    second = load_published(root / "e5_s0_w0", 190)
    spread = tie_spread(first, second, n_shuffles=4, seed=0)
    assert spread.spread[0] < 1e-12
    # other optimal matchings do move the hidden layers, but only a little
    assert 0 < spread.spread[1:3].max() < 0.05
    np.testing.assert_allclose(spread.layer_distances[0], PUBLISHED[190], atol=1e-6)


# ---------------------------------------------------------------------------
# the cost of one pair of neurons
# ---------------------------------------------------------------------------


def test_cost_is_edits_divided_by_union_in_float64():
    # A = {0, 1}, B = {1, 2}: 2 edits over a union of 3. 1 - 1/3 rounds to a
    # different float, which would change tie-breaking on the published files.
    first = np.array([[1, 1, 0]], dtype=bool)
    second = np.array([[0, 1, 1]], dtype=bool)
    cost = layer_cost_matrix(first, second)[0, 0]
    assert cost == 2 / 3
    assert cost != 1 - 1 / 3


def test_cost_matrix_equals_set_definition_for_every_pair():
    rng = np.random.default_rng(1)
    first = random_mask(12, 15, 40, rng)
    second = random_mask(12, 15, 40, rng)
    first[3] = False
    second[5] = False
    costs = layer_cost_matrix(first, second)
    for a in range(12):
        for b in range(12):
            set_a, set_b = set(np.flatnonzero(first[a])), set(np.flatnonzero(second[b]))
            union = len(set_a | set_b)
            expected = 0.0 if union == 0 else len(set_a ^ set_b) / union
            assert costs[a, b] == expected


def test_empty_neurons_cost_zero_to_each_other_and_one_to_anything_else():
    first = np.array([[0, 0, 0], [1, 0, 0]], dtype=bool)
    second = np.array([[0, 0, 0], [0, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(layer_cost_matrix(first, second), [[0.0, 1.0], [1.0, 1.0]])


# ---------------------------------------------------------------------------
# invariances and bounds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("tie_break", ["structure", "solver"])
def test_identical_topologies_are_at_distance_zero(tie_break):
    topology = small_topology(0, density=0.04)
    result = nnstd(topology, [m.copy() for m in topology], tie_break=tie_break)
    assert result.layer_distances == (0.0, 0.0, 0.0)
    assert result.mean == 0.0


@pytest.mark.parametrize("method", ["exact", "sparse"])
@pytest.mark.parametrize("fixed_output", [False, True])
def test_permuted_hidden_copy_is_at_distance_exactly_zero(method, fixed_output):
    # density 0.04 leaves several neurons without inputs: tied matchings that
    # the solver alone resolves arbitrarily
    for seed in range(3):
        topology = small_topology(seed, widths=(60, 50, 50, 50, 6), density=0.04)
        assert any((m.sum(axis=1) == 0).sum() > 1 for m in topology[:-1])
        copy = permute_hidden_neurons(topology, seed=seed + 10)
        result = nnstd(topology, copy, method=method, fixed_output=fixed_output)
        assert result.layer_distances == (0.0,) * 4
        # the matchings undo the renumbering: applying them gives back `topology`
        for k, matching in enumerate(result.matchings):
            renumbered = copy[k][matching]
            if k > 0:
                renumbered = renumbered[:, result.matchings[k - 1]]
            np.testing.assert_array_equal(renumbered, topology[k])


def test_solver_tie_break_alone_is_not_invariant_to_renumbering_empty_neurons():
    # documents why tie_break="structure" exists (module docstring)
    distances = []
    for seed in range(3):
        topology = small_topology(seed, widths=(60, 50, 50, 50, 6), density=0.04)
        copy = permute_hidden_neurons(topology, seed=seed + 10)
        distances.append(nnstd(topology, copy, method="exact", tie_break="solver").mean)
    assert max(distances) > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_renumbering_second_network_keeps_distance_when_matchings_are_unique(seed):
    # a lightly rewired copy: every neuron's true partner is far cheaper than
    # any other, so each layer's optimal matching is unique
    first = small_topology(seed, widths=(30, 20, 20, 5), density=0.3)
    second = rewire_fraction(first, 0.1, seed=seed)
    base = nnstd(first, second, tie_break="solver")
    moved = nnstd(first, permute_hidden_neurons(second, seed=seed), tie_break="solver")
    assert base.mean > 0.01
    assert abs(moved.layer_distances[0] - base.layer_distances[0]) < 1e-12
    assert abs(moved.mean - base.mean) < 1e-12


def test_distances_lie_in_unit_interval_and_mean_is_their_average():
    for seed in range(4):
        first = small_topology(seed, density=[0.02, 0.1, 0.5][seed % 3])
        second = small_topology(seed + 50, density=[0.02, 0.1, 0.5][seed % 3])
        result = nnstd(first, second)
        assert all(0.0 <= d <= 1.0 for d in result.layer_distances)
        assert result.mean == pytest.approx(np.mean(result.layer_distances), abs=0)
    full = nnstd([np.eye(4, 8, dtype=bool)], [np.eye(4, 8, k=4, dtype=bool)])
    assert full.layer_distances == (1.0,)


def test_structural_colors_are_invariant_to_hidden_renumbering():
    topology = small_topology(4, density=0.05)
    rng = np.random.default_rng(0)
    perms = [rng.permutation(m.shape[0]) for m in topology[:-1]]
    copy = [m.copy() for m in topology]
    for k, perm in enumerate(perms):
        copy[k] = copy[k][perm]
        copy[k + 1] = copy[k + 1][:, perm]
    colors, copy_colors = structural_colors(topology), structural_colors(copy)
    for k, perm in enumerate(perms):
        np.testing.assert_array_equal(copy_colors[k], colors[k][perm])
    np.testing.assert_array_equal(copy_colors[-1], colors[-1])


def test_structure_tie_break_agrees_with_solver_on_unrelated_networks():
    # it only re-pairs groups whose structure matches exactly, so unrelated
    # networks keep the published (solver) numbers
    for seed in range(4):
        first = small_topology(seed, widths=(60, 50, 50, 6), density=0.04)
        second = small_topology(seed + 20, widths=(60, 50, 50, 6), density=0.04)
        a = nnstd(first, second, method="exact", tie_break="solver")
        b = nnstd(first, second, method="exact", tie_break="structure")
        assert a.layer_distances == b.layer_distances


# ---------------------------------------------------------------------------
# the output layer and the matchings
# ---------------------------------------------------------------------------


def test_fixed_output_keeps_class_neurons_in_place():
    first = small_topology(5, widths=(20, 15, 4), density=0.2)
    first[-1] = np.eye(4, 15, dtype=bool)
    second = [first[0].copy(), first[1][[1, 0, 2, 3]]]  # classes 0 and 1 swapped
    matched = nnstd(first, second)
    fixed = nnstd(first, second, fixed_output=True)
    assert matched.layer_distances[-1] == 0.0
    np.testing.assert_array_equal(matched.matchings[-1], [1, 0, 2, 3])
    assert fixed.layer_distances[-1] == pytest.approx(2 / 4)
    np.testing.assert_array_equal(fixed.matchings[-1], np.arange(4))
    assert fixed.methods[-1] == "fixed"


def test_matchings_are_read_only_permutations():
    first, second = small_topology(6), small_topology(7)
    result = nnstd(first, second)
    for matching, mask in zip(result.matchings, first):
        np.testing.assert_array_equal(np.sort(matching), np.arange(mask.shape[0]))
        with pytest.raises(ValueError):
            matching[0] = 0


def test_weights_sparse_matrices_and_tensors_mean_their_nonzero_pattern():
    first, second = small_topology(8), small_topology(9)
    rng = np.random.default_rng(0)
    weights = [np.where(m, rng.normal(size=m.shape), 0.0) for m in first]
    as_sparse = [sp.csr_matrix(m.astype(np.float32)) for m in second]
    as_tensor = [torch.from_numpy(w) for w in weights]
    reference = nnstd(first, second).layer_distances
    assert nnstd(weights, as_sparse).layer_distances == reference
    assert nnstd(as_tensor, second).layer_distances == reference


# ---------------------------------------------------------------------------
# exact and sparse solvers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 7, 40, 150])
@pytest.mark.parametrize("density", [0.01, 0.05, 0.3, 0.9])
def test_sparse_path_finds_the_same_optimal_layer_cost_as_exact(width, density):
    rng = np.random.default_rng(width * 1000 + int(density * 100))
    n_in = width + 5
    for _ in range(3):
        first = random_mask(width, n_in, int(density * width * n_in), rng)
        second = random_mask(width, n_in, int(density * width * n_in), rng)
        first[rng.random(width) < 0.2] = False  # neurons without inputs
        second[rng.random(width) < 0.2] = False
        exact_cost, exact_matching = match_layer(first, second, method="exact")
        sparse_cost, sparse_matching = match_layer(first, second, method="sparse")
        assert sparse_cost == pytest.approx(exact_cost, abs=1e-9)
        np.testing.assert_array_equal(np.sort(sparse_matching), np.arange(width))
        costs = layer_cost_matrix(first, second)
        assert costs[np.arange(width), sparse_matching].sum() == pytest.approx(sparse_cost, abs=1e-12)


def test_sparse_path_pairs_neurons_without_any_overlap_into_a_permutation():
    first = np.zeros((5, 10), dtype=bool)
    second = np.zeros((5, 10), dtype=bool)
    first[:, :5] = np.eye(5, dtype=bool)
    second[:, 5:] = np.eye(5, dtype=bool)
    cost, matching = match_layer(first, second, method="sparse")
    assert cost == 5.0
    np.testing.assert_array_equal(np.sort(matching), np.arange(5))


def test_auto_method_uses_exact_for_narrow_and_sparse_for_wide_sparse_layers():
    narrow = small_topology(10)
    assert set(nnstd(narrow, small_topology(11)).methods) == {"exact"}
    rng = np.random.default_rng(0)
    wide_first = [random_mask(2500, 2500, 3000, rng)]
    wide_second = [random_mask(2500, 2500, 3000, rng)]
    result = nnstd(wide_first, wide_second)
    assert result.methods == ("sparse",)
    forced = nnstd(wide_first, wide_second, method="sparse")
    assert result.layer_distances == forced.layer_distances


# ---------------------------------------------------------------------------
# ties
# ---------------------------------------------------------------------------


def tied_pair() -> tuple[list, list]:
    """Two hidden neurons with the same input, only one of which feeds class 0.

    Matching them straight gives layer 1 distance 0; crossed (equally optimal
    at layer 0) gives 0.5.
    """
    layer0 = np.array([[1, 0], [1, 0]], dtype=bool)
    layer1 = np.array([[1, 0], [0, 0]], dtype=bool)
    return [layer0, layer1], [layer0.copy(), layer1.copy()]


def test_tie_spread_reports_how_far_tied_matchings_move_later_layers():
    first, second = tied_pair()
    spread = tie_spread(first, second, n_shuffles=16, seed=0, tie_break="solver")
    assert spread.layer_distances.shape == (3 + 16, 2)
    assert spread.spread[0] == 0.0
    assert set(spread.layer_distances[:, 1]) == {0.0, 0.5}
    assert spread.spread[1] == 0.5
    assert spread.mean_spread == 0.25


def test_structure_tie_break_removes_the_spread_of_a_relabelled_copy():
    first, second = tied_pair()
    spread = tie_spread(first, second, n_shuffles=16, seed=0, tie_break="structure")
    assert spread.spread.tolist() == [0.0, 0.0]
    assert spread.layer_distances.max() == 0.0


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------


def test_input_mismatch_error_names_the_layer_and_both_shapes():
    first = small_topology(0)
    second = random_topology((41, 30, 30, 5), density=0.08, seed=1)
    with pytest.raises(ValueError, match=r"layer 0: first has shape \(30, 40\) but second has shape \(30, 41\)"):
        nnstd(first, second)


def test_layer_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="first has 3 layers but second has 2"):
        nnstd(small_topology(0), small_topology(0, widths=(40, 30, 5)))


def test_nan_weights_are_an_error():
    first = [np.where(m, 1.0, 0.0) for m in small_topology(0)]
    first[2][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"first\[2\] contains NaN"):
        nnstd(first, small_topology(1))


@pytest.mark.parametrize("option", [{"method": "hungarian"}, {"tie_break": "random"}])
def test_unknown_options_are_rejected_with_the_allowed_values(option):
    with pytest.raises(ValueError, match="is not one of"):
        nnstd(small_topology(0), small_topology(1), **option)
