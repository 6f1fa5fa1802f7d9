"""NNSTD beyond two MLPs of one shape: layers of different widths and Conv2d chains."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import small_cnn

from sparsetopo.nnstd.distance import layer_cost_matrix, nnstd
from sparsetopo.nnstd.pairwise import random_baseline
from sparsetopo.topology.layered import (
    as_layers,
    input_blocks,
    permute_hidden_units,
    random_like,
)
from sparsetopo.topology.masks import edge_counts, random_topology, widths_of


def dense_rows(n_rows: int, n_cols: int, rng: np.random.Generator, density: float = 0.35) -> np.ndarray:
    """Random rows, none empty (so no two neurons are tied by having no inputs)."""
    rows = rng.random((n_rows, n_cols)) < density
    rows[np.arange(n_rows), rng.integers(0, n_cols, n_rows)] = True
    return rows


def mlp(seed: int, widths=(20, 15, 12, 4)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [dense_rows(widths[k + 1], widths[k], rng) for k in range(len(widths) - 1)]


def with_extra_neurons(masks: list[np.ndarray], layer: int, extra: int, seed: int) -> list[np.ndarray]:
    """A copy with ``extra`` neurons appended to ``layer``: own inputs, no outgoing edges.

    The shared part is unchanged, so the network computes the same function.
    """
    rng = np.random.default_rng(seed)
    out = [m.copy() for m in masks]
    out[layer] = np.vstack([out[layer], dense_rows(extra, out[layer].shape[1], rng)])
    nxt = out[layer + 1]
    out[layer + 1] = np.hstack([nxt, np.zeros((nxt.shape[0], extra), dtype=bool)])
    return out


# ---------------------------------------------------------------------------
# different widths
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("tie_break", ["structure", "solver"])
@pytest.mark.parametrize("layer, extra", [(0, 3), (1, 5), (1, 1)])
def test_copy_with_appended_neurons_is_at_extra_over_larger_width(layer, extra, tie_break):
    base = mlp(0)
    grown = with_extra_neurons(base, layer, extra, seed=1)
    width = base[layer].shape[0]
    expected = [0.0] * len(base)
    expected[layer] = extra / (width + extra)
    for first, second in [(base, grown), (grown, base)]:
        result = nnstd(first, second, tie_break=tie_break)
        np.testing.assert_allclose(result.layer_distances, expected, rtol=0, atol=1e-15)
        assert result.methods[layer] == "exact"


def test_appended_neurons_in_two_layers_and_renumbered_hidden_units():
    base = mlp(2)
    grown = with_extra_neurons(with_extra_neurons(base, 0, 4, seed=3), 1, 2, seed=4)
    shuffled = permute_hidden_units(grown, seed=5)
    result = nnstd(base, shuffled)
    np.testing.assert_allclose(result.layer_distances, [4 / 19, 2 / 14, 0.0], atol=1e-15)
    # every base neuron found its copy: the matching undoes the renumbering
    assert (result.matchings[0] >= 0).all() and len(set(result.matchings[0])) == 15


def test_unmatched_neurons_get_new_indices_that_share_no_edges():
    # first: h0 <- {x0}; out <- {h0}.  second: h0 <- {x1}, h1 <- {x0}; out <- {h0}.
    # Layer 0 pairs first h0 with second h1 (cost 0); second h0 is left over (cost 1): 1/2.
    # Second h1 becomes 0 and the leftover h0 becomes 1, so out's inputs {0} vs {1}: cost 1.
    first = [np.array([[1, 0]], bool), np.array([[1]], bool)]
    second = [np.array([[0, 1], [1, 0]], bool), np.array([[1, 0]], bool)]
    forward = nnstd(first, second)
    assert forward.layer_distances == (0.5, 1.0)
    np.testing.assert_array_equal(forward.matchings[0], [1])
    backward = nnstd(second, first)
    assert backward.layer_distances == (0.5, 1.0)
    np.testing.assert_array_equal(backward.matchings[0], [-1, 0])


def test_rectangular_layer_distance_is_the_best_injection_plus_one_per_leftover():
    rng = np.random.default_rng(7)
    for _ in range(5):
        first = rng.random((3, 6)) < 0.4
        second = rng.random((5, 6)) < 0.4
        costs = np.array([[layer_cost_matrix(first[[a]], second[[b]])[0, 0] for b in range(5)] for a in range(3)])
        best = min(sum(costs[a, b] for a, b in enumerate(cols)) for cols in itertools.permutations(range(5), 3))
        expected = (best + 2) / 5
        assert nnstd([first], [second]).layer_distances[0] == pytest.approx(expected, abs=1e-12)
        assert nnstd([second], [first]).layer_distances[0] == pytest.approx(expected, abs=1e-12)


def test_equal_widths_take_the_square_path_with_unchanged_numbers():
    first, second = mlp(8), mlp(9)
    result = nnstd(first, second, method="exact", tie_break="solver")
    # the square path: a permutation per layer and total / n_out
    for k, m in enumerate(result.matchings):
        assert sorted(m) == list(range(first[k].shape[0]))
    assert result.layer_distances[0] == layer_cost_matrix(first[0], second[0])[
        np.arange(15), result.matchings[0]].sum() / 15


def test_different_input_features_or_layer_kinds_cannot_be_compared():
    base = mlp(0)
    with pytest.raises(ValueError, match="layer 0: first has shape"):
        nnstd(base, mlp(0, widths=(21, 15, 12, 4)))
    with pytest.raises(ValueError, match="fixed_output=True keeps output neurons in place"):
        nnstd(base, mlp(0, widths=(20, 15, 12, 5)), fixed_output=True)


# ---------------------------------------------------------------------------
# convolutional layers
# ---------------------------------------------------------------------------


def as_one_by_one_convs(masks: list[np.ndarray], n_conv: int) -> list[np.ndarray]:
    """The first ``n_conv`` linear layers as 1x1 convolutions (on a 1x1 input)."""
    return [m[:, :, None, None] if k < n_conv else m for k, m in enumerate(masks)]


@pytest.mark.parametrize("tie_break", ["structure", "solver"])
@pytest.mark.parametrize("fixed_output", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_one_by_one_convolutions_on_one_pixel_reduce_exactly_to_the_mlp(seed, fixed_output, tie_break):
    # sparse random layers with empty neurons, so ties and tie repair are exercised
    first = random_topology((12, 10, 9, 4), density=0.15, seed=seed)
    second = random_topology((12, 10, 9, 4), density=0.15, seed=seed + 10)
    reference = nnstd(first, second, fixed_output=fixed_output, tie_break=tie_break)
    for n_conv in (1, 2):
        conv = nnstd(as_one_by_one_convs(first, n_conv), as_one_by_one_convs(second, n_conv),
                     fixed_output=fixed_output, tie_break=tie_break)
        assert conv.layer_distances == reference.layer_distances
        for a, b in zip(conv.matchings, reference.matchings):
            np.testing.assert_array_equal(a, b)


def test_one_by_one_reduction_holds_for_different_widths():
    first = random_topology((12, 10, 9, 4), density=0.2, seed=3)
    second = random_topology((12, 13, 7, 4), density=0.2, seed=4)
    reference = nnstd(first, second)
    conv = nnstd(as_one_by_one_convs(first, 2), as_one_by_one_convs(second, 2))
    assert conv.layer_distances == reference.layer_distances



def test_conv_blocks_are_kernel_size_and_flattened_map_size():
    assert input_blocks(small_cnn(0)) == [9, 9, 4, 1]


@pytest.mark.parametrize("tie_break", ["structure", "solver"])
def test_conv_network_with_renumbered_channels_is_at_distance_zero(tie_break):
    net = small_cnn(0, density=0.6)
    copy = permute_hidden_units(net, seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(net, copy))
    assert nnstd(net, copy, tie_break="structure").layer_distances == (0.0, 0.0, 0.0, 0.0)
    if tie_break == "solver":  # with few ties the solver finds the same
        assert nnstd(net, copy, tie_break="solver").mean < 0.1


def test_conv_matching_moves_whole_channels_in_the_next_conv_and_the_flattened_features():
    net = small_cnn(2, density=0.5)
    # swap channels 0 and 1 of the first conv by hand
    swapped = [m.copy() for m in net]
    swapped[0] = net[0][[1, 0, 2, 3]]
    swapped[1] = net[1][:, [1, 0, 2, 3]]
    assert nnstd(net, swapped).layer_distances == (0.0, 0.0, 0.0, 0.0)
    # moving a single kernel position instead is a real change
    changed = [m.copy() for m in net]
    changed[1][0, 0] = np.roll(changed[1][0, 0], 1)
    assert nnstd(net, changed).layer_distances[1] > 0


def test_conv_layer_with_appended_channels_is_at_extra_over_larger_width():
    net = small_cnn(3, density=0.6)
    rng = np.random.default_rng(4)
    grown = [m.copy() for m in net]
    extra = 2
    new = rng.random((extra, 4, 3, 3)) < 0.6
    new[:, 0, 0, 0] = True
    grown[1] = np.concatenate([net[1], new])
    # the linear layer reads 4 features per channel; the new channels feed nothing
    grown[2] = np.hstack([net[2], np.zeros((5, extra * 4), dtype=bool)])
    result = nnstd(net, grown)
    np.testing.assert_allclose(result.layer_distances, [0.0, extra / 8, 0.0, 0.0], atol=1e-15)


def test_conv_networks_that_cannot_be_compared_or_do_not_chain_are_refused():
    net = small_cnn(0)
    other_kernel = [m.copy() for m in net]
    other_kernel[1] = np.ones((6, 4, 5, 5), dtype=bool)
    with pytest.raises(ValueError, match="3x3 kernels but second has 5x5"):
        nnstd(net, other_kernel)
    other_map = [m.copy() for m in net]
    other_map[2] = np.ones((5, 6 * 9), dtype=bool)
    with pytest.raises(ValueError, match="reads 4 features per channel of layer 1 but second"):
        nnstd(net, other_map)
    broken = [net[0], np.ones((6, 5, 3, 3), dtype=bool)] + net[2:]
    with pytest.raises(ValueError, match="has 5 input channels but layer 0"):
        as_layers(broken)
    with pytest.raises(ValueError, match="not a multiple of the 6 channels"):
        as_layers(net[:2] + [np.ones((5, 25), dtype=bool), net[3]])
    with pytest.raises(ValueError, match="2-D .* or a 4-D"):
        as_layers([np.ones((2, 3, 4), dtype=bool)])


def test_random_like_matches_random_topology_for_mlps_and_keeps_conv_edge_counts():
    mlp_masks = random_topology((20, 15, 12, 4), density=0.2, seed=0)
    drawn = random_like(mlp_masks, np.random.default_rng([1, 2]))
    expected = random_topology(widths_of(mlp_masks), layer_edges=edge_counts(mlp_masks), seed=np.random.default_rng([1, 2]))
    assert all(np.array_equal(a, b) for a, b in zip(drawn, expected))
    net = small_cnn(0)
    drawn = random_like(net, np.random.default_rng(0))
    assert [m.shape for m in drawn] == [m.shape for m in net]
    assert [int(m.sum()) for m in drawn] == [int(m.sum()) for m in net]


def test_random_baseline_for_conv_networks_of_two_shapes(tmp_path):
    first, second = small_cnn(0, density=0.5), small_cnn(1, channels=(4, 8), density=0.3)
    second[2] = np.random.default_rng(2).random((5, 8 * 4)) < 0.3
    calibration = random_baseline(first, other=second, n_pairs=3, cache_dir=tmp_path)
    assert calibration.samples.shape == (3, 4)
    assert (calibration.layer_mean[:3] > 0.3).all()
    assert calibration.permuted_copy == (0.0, 0.0, 0.0, 0.0)
    # the pairs really use the second shape: a layer of 8 vs 6 channels is at least 2/8 apart
    assert (calibration.samples[:, 1] >= 2 / 8).all()


def test_sparse_method_solves_layers_of_different_widths_exactly_and_says_so():
    base = mlp(0)
    grown = with_extra_neurons(base, 1, 3, seed=1)
    result = nnstd(base, grown, method="sparse")
    assert result.methods == ("sparse", "exact", "sparse")
    assert result.layer_distances == nnstd(base, grown, method="exact").layer_distances


def test_a_conv_layer_of_strings_or_nan_is_refused_like_a_linear_one():
    from sparsetopo.topology.layered import as_layers

    good = np.ones((4, 1, 3, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"net\[0\] has dtype <U1"):
        as_layers([np.full((4, 1, 3, 3), "x"), np.ones((2, 4 * 9))], name="net")
    with pytest.raises(ValueError, match=r"net\[0\] contains NaN"):
        as_layers([np.where(good, np.nan, 0.0), np.ones((2, 4 * 9))], name="net")
