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
