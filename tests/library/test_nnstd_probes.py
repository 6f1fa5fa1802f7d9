"""Tests of sparsetopo.nnstd.probes: controlled probes of NNSTD (worked example, renumbered and rewired copies,
perturbation chains, tie noise)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from sparsetopo.nnstd import probes as P
from sparsetopo.nnstd.distance import nnstd
from sparsetopo.nnstd.pairwise import pairwise_nnstd, trajectory_nnstd
from sparsetopo.topology.masks import edge_counts, permute_hidden_neurons, perturbation_chain, random_topology


def small(seed: int = 0):
    return random_topology((30, 20, 20, 5), density=0.15, seed=seed)


def test_worked_example_costs_and_matching_reproduce_nnstd():
    ex = P.worked_example(seed=3)
    direct = nnstd(ex.first, ex.second, method="exact")
    np.testing.assert_allclose(ex.layer_distances, direct.layer_distances)
    for c, m, d in zip(ex.costs, ex.matchings, ex.layer_distances):
        n = len(m)
        assert c.shape == (n, n)
        assert sorted(m.tolist()) == list(range(n))
        # the matching is the optimum of the cost matrix shown
        assert c[np.arange(n), m].sum() / n == pytest.approx(d)
        rows, cols = linear_sum_assignment(c)
        assert c[rows, cols].sum() == pytest.approx(c[np.arange(n), m].sum())
    assert ex.mean == pytest.approx(np.mean(ex.layer_distances))
    frame = ex.frame()
    assert list(frame["layer"]) == [0, 1, 2] and frame["layer_distance"].tolist() == pytest.approx(ex.layer_distances)


def test_worked_example_sees_through_renumbering_and_detects_the_moved_edge():
    unchanged = P.worked_example(seed=3, moved_edges=0)
    assert unchanged.mean == 0.0
    moved = P.worked_example(seed=3, moved_edges=1, moved_layer=0)
    assert moved.layer_distances[0] > 0
    # every layer sparse, the same edge counts in both networks
    assert edge_counts(moved.first) == edge_counts(moved.second)
    assert all(m.mean() < 1 for m in moved.first)


def test_worked_example_rejects_bad_layer_and_edge_count():
    with pytest.raises(ValueError, match="moved_layer"):
        P.worked_example(moved_layer=7)
    with pytest.raises(ValueError, match="moved_edges"):
        P.worked_example(moved_edges=10_000)


def test_sparse_layer_indices_and_layer_mean_leave_dense_layers_out():
    assert P.sparse_layer_indices(random_topology((10, 8, 3), density=0.3, seed=0)) == [0]
    assert P.sparse_layer_indices(random_topology((10, 8, 3), density=0.3, seed=0, sparse_output=True)) == [0, 1]
    assert P.layer_mean((0.3, 0.6, 0.0), [0, 1]) == pytest.approx(0.45)
    np.testing.assert_allclose(P.layer_mean(np.array([[0.3, 0.6, 0.0], [0.1, 0.1, 0.0]]), [0, 1]), [0.45, 0.1])
    with pytest.raises(ValueError, match="sparse layer"):
        P.layer_mean((0.1, 0.2), [])


def test_identity_checks_are_zero_with_structure_tie_break_and_report_both_tie_breaks():
    table = P.identity_checks({"a": small(0), "b": small(1)}, n_permutations=2, seed=0)
    assert set(table["network"]) == {"a", "b"}
    assert set(table["tie_break"]) == {"structure", "solver"}
    structure = table[table["tie_break"] == "structure"]
    assert len(structure) == 2 * (1 + 2)
    assert (structure["nnstd"] == 0.0).all()
    assert (table["check"] == "identical").sum() == 2 * 2
    # the network value is the mean over the sparse layers (the dense output layer is left out)
    solver = table[(table["tie_break"] == "solver")].iloc[-1]
    assert solver["nnstd"] == pytest.approx(np.mean([solver["layer_0"], solver["layer_1"]]))


def test_published_tie_break_is_not_invariant_on_tied_neurons():
    # a layer with many neurons without inputs: the solver's choice among them moves the next layer
    base = random_topology((40, 30, 30, 4), density=0.02, seed=0)
    table = P.identity_checks({"tied": base}, n_permutations=4, seed=0)
    permuted = table[table["check"] != "identical"]
    assert (permuted[permuted["tie_break"] == "structure"]["nnstd"] == 0).all()
    assert permuted[permuted["tie_break"] == "solver"]["nnstd"].max() > 0


def test_perturbation_chain_moves_the_fraction_per_step_and_keeps_edge_counts():
    base = random_topology((40, 50, 50, 4), epsilon=5, seed=0)
    chain = perturbation_chain(base, 4, fraction=0.1, seed=0)
    assert len(chain) == 5
    assert chain[0][0] is not base[0] and np.array_equal(chain[0][0], base[0])
    for prev, nxt in zip(chain, chain[1:]):
        assert edge_counts(prev) == edge_counts(nxt)
        moved = np.count_nonzero(prev[0] & ~nxt[0])
        assert moved == round(0.1 * prev[0].sum())
        np.testing.assert_array_equal(prev[-1], nxt[-1])  # dense output layer untouched
    with pytest.raises(ValueError):
        perturbation_chain(base, 0)


def test_chain_frame_reads_distances_to_start_and_previous():
    chain = perturbation_chain(small(), 3, fraction=0.2, seed=1)
    dm = pairwise_nnstd(chain, progress=False, use_cache=False)
    frame = P.chain_frame(dm, fraction=0.2, layers=[0, 1])
    mean = frame[frame["layer"] == "mean"].set_index("position")
    assert list(mean.index) == [0, 1, 2, 3]
    assert mean.loc[0, "nnstd_to_start"] == 0.0
    assert mean.loc[3, "nnstd_to_start"] == pytest.approx(dm.layers[:2, 3, 0].mean())  # sparse layers only
    assert mean.loc[3, "nnstd_to_start"] > dm.mean[3, 0]  # the all-layer mean is diluted by the dense layer
    assert mean.loc[2, "nnstd_to_previous"] == pytest.approx(dm.layers[:2, 2, 1].mean())
    assert mean.loc[3, "steps_rewired_percent"] == pytest.approx(60.0)
    layer0 = frame[frame["layer"] == "0"].set_index("position")
    assert layer0.loc[3, "nnstd_to_start"] == pytest.approx(dm.layers[0, 3, 0])
    # default: the layers that are not all 0
    pd.testing.assert_frame_equal(frame, P.chain_frame(dm, fraction=0.2))


def test_chains_frame_and_growth_read_every_chain():
    trajectories = [trajectory_nnstd(perturbation_chain(small(c), 3, fraction=0.1, seed=c), progress=False,
                                     use_cache=False) for c in range(2)]
    chains = P.chains_frame(trajectories, [0, 1], fraction=0.1)
    assert set(chains["chain"]) == {0, 1} and chains["position"].max() == 3
    growth = P.chain_growth(chains).set_index("chain")
    t = trajectories[1]
    last = np.mean([t[f"to_first_layer{k}"].iloc[-1] for k in range(2)])
    first = np.mean([t[f"to_first_layer{k}"].iloc[1] for k in range(2)])
    assert growth.loc[1, "to_last"] == pytest.approx(last)
    assert growth.loc[1, "growth"] == pytest.approx(last - first)
    assert growth.loc[1, "steps"] == 3 and (growth["growth"] > 0).all()


def test_fraction_sweep_grows_with_fraction_and_uses_the_cache(tmp_path):
    base = small()
    fractions = [0.0, 0.1, 0.5, 1.0]
    sweep = P.fraction_sweep(base, fractions, n_repeats=2, seed=0, cache_dir=tmp_path)
    assert len(sweep) == len(fractions) * 2 * (len(base) + 1)
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean()
    assert means.loc[0.0] == 0.0
    assert means.is_monotonic_increasing and means.loc[1.0] > means.loc[0.1] > 0
    layers = sweep[sweep["layer"].isin(["0", "1"])].groupby("fraction")["nnstd"].mean()
    np.testing.assert_allclose(means, layers)  # network value: mean over the sparse layers
    assert any(tmp_path.iterdir())
    again = P.fraction_sweep(base, fractions, n_repeats=2, seed=0, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(sweep, again)
    # the copy measured is the one rewired_copy builds
    copy = P.rewired_copy(base, 0.5, 0, 2, 1)
    row = sweep[(sweep["fraction"] == 0.5) & (sweep["repeat"] == 1) & (sweep["layer"] == "0")]
    assert row["nnstd"].item() == pytest.approx(nnstd(copy, base).layer_distances[0])
    with pytest.raises(ValueError, match="fractions"):
        P.fraction_sweep(base, [1.5])


def test_tie_noise_is_zero_for_a_structural_copy_and_tabulated_per_comparison():
    base = random_topology((40, 30, 30, 4), density=0.02, seed=0)
    copy = permute_hidden_neurons(base, seed=1)
    other = random_topology((40, 30, 30, 4), density=0.02, seed=2)
    pairs = [("copy", copy, base), ("other", other, base), ("other", base, other)]
    structure = P.tie_noise(pairs, layers=[0, 1, 2], n_shuffles=3, seed=0)
    assert list(structure["comparison"]) == ["copy", "other", "other"] and list(structure["pair"]) == [0, 0, 1]
    assert structure.loc[0, "spread"] == 0.0 and structure.loc[0, "nnstd"] == 0.0
    assert (structure["variants"] == 3 + 3).all()
    solver = P.tie_noise(pairs[:1], layers=[0, 1, 2], n_shuffles=3, seed=0, tie_break="solver")
    table = P.resolution_table(pd.concat([structure, solver], ignore_index=True))
    assert list(zip(table["comparison"], table["tie_break"])) == [("copy", "structure"), ("other", "structure"),
                                                                ("copy", "solver")]
    other_row = table.iloc[1]
    assert other_row["pairs"] == 2 and other_row["tie_noise"] == pytest.approx(structure["spread"].iloc[1:].max())
