import numpy as np
import pytest

from sparsetopo.topology.masks import random_mask
from sparsetopo.training.set_rewiring import prune_and_regrow


def test_set_rewiring_keeps_edge_count_and_removes_weights_closest_to_zero():
    rng = np.random.default_rng(0)
    mask = random_mask(40, 50, 300, rng)
    weight = np.where(mask, rng.normal(size=mask.shape), 0.0)
    new, removed, grown, n = prune_and_regrow(weight, mask, 0.3, np.random.default_rng(1))
    assert new.sum() == mask.sum()
    pos = weight[mask & (weight > 0)]
    neg = weight[mask & (weight < 0)]
    assert n == round(0.3 * pos.size) + round(0.3 * neg.size) == removed.sum() == grown.sum()
    # every removed positive weight is smaller than every kept positive weight
    kept = mask & ~removed
    assert weight[removed & (weight > 0)].max() <= weight[kept & (weight > 0)].min()
    assert weight[removed & (weight < 0)].min() >= weight[kept & (weight < 0)].max()
    # regrown edges were empty after pruning
    assert not (grown & kept).any()


def test_set_rewiring_removes_zero_valued_edges():
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, :] = True
    weight = np.where(mask, 1.0, 0.0)
    weight[0, 2] = 0.0
    new, removed, grown, n = prune_and_regrow(weight, mask, 0.2, np.random.default_rng(0))
    assert removed[0, 2]
    assert new.sum() == 5


def test_set_rewiring_is_reproducible_from_the_generator():
    rng = np.random.default_rng(3)
    mask = random_mask(10, 10, 30, rng)
    weight = np.where(mask, rng.normal(size=mask.shape), 0.0)
    a = prune_and_regrow(weight, mask, 0.5, np.random.default_rng(9))[0]
    b = prune_and_regrow(weight, mask, 0.5, np.random.default_rng(9))[0]
    assert np.array_equal(a, b)


def test_zeta_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="zeta"):
        prune_and_regrow(np.zeros((2, 2)), np.ones((2, 2), bool), 1.5, np.random.default_rng())


def test_rejection_sampler_regrows_distinct_empty_positions_with_exact_counts():
    rng = np.random.default_rng(0)
    mask = rng.random((40, 50)) < 0.1
    weight = rng.normal(size=mask.shape) * mask
    new, removed, grown, n = prune_and_regrow(weight, mask, 0.3, np.random.default_rng(1), sampler="rejection")
    assert new.sum() == mask.sum() and grown.sum() == n == removed.sum()
    assert not (grown & mask & ~removed).any()  # never onto an edge that stayed


def test_rejection_sampler_keeps_runs_that_share_a_seed_aligned():
    """Two layers 1% apart regrow mostly at the same positions with the rejection sampler, not with choice."""
    rng = np.random.default_rng(0)
    mask = np.zeros(784 * 784, dtype=bool)
    mask[rng.choice(mask.size, 3800, replace=False)] = True
    other = mask.copy()
    moved_out = rng.choice(np.flatnonzero(mask), 38, replace=False)
    moved_in = rng.choice(np.flatnonzero(~mask), 38, replace=False)
    other[moved_out], other[moved_in] = False, True
    mask, other = mask.reshape(784, 784), other.reshape(784, 784)
    weight = rng.normal(size=mask.shape)
    overlap = {}
    for sampler in ("choice", "rejection"):
        grown = [prune_and_regrow(weight * m, m, 0.3, np.random.default_rng(7), sampler=sampler)[2] for m in (mask, other)]
        overlap[sampler] = (grown[0] & grown[1]).sum() / grown[0].sum()
    assert overlap["rejection"] > 0.9 and overlap["choice"] < 0.5


def test_rejection_sampler_is_uniform_over_empty_positions():
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, :2] = True
    weight = np.where(mask, 1.0, 0.0)
    counts = np.zeros(mask.size)
    for seed in range(3000):
        counts += prune_and_regrow(weight, mask, 0.5, np.random.default_rng(seed), sampler="rejection")[2].ravel()
    # the smaller weight (0, 0) is pruned; one edge is regrown among the 11 positions not occupied by (0, 1)
    share = counts / counts.sum()
    assert counts.sum() == 3000 and share[1] == 0
    candidates = np.delete(share, 1)
    assert np.all(np.abs(candidates - 1 / 11) < 0.02), candidates


def test_unknown_sampler_is_refused():
    mask = np.ones((2, 2), dtype=bool)
    with pytest.raises(ValueError, match="sampler"):
        prune_and_regrow(np.ones((2, 2)), mask, 0.3, np.random.default_rng(0), sampler="bogus")
