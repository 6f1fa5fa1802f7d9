"""The mask updaters' rules on small hand-computed cases, and the context through which they change a network."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from sparsetopo.model import SparseMLP, enforce_masks, to_sparse_backend, topology_layers
from sparsetopo.topology.sparse import as_sparse_topology
from sparsetopo.training.updaters import UPDATERS, Batch, Plan, UpdateContext, make_updater, option_fields, options_of
from sparsetopo.training.updaters.base import dense_gradients, layer_mask, layer_weight
from sparsetopo.training.updaters.gmp import GmpOptions, GmpUpdater, gmp_edges, magnitude_prune
from sparsetopo.training.updaters.rigl import RiglOptions, RiglUpdater, rigl_drop_grow, rigl_fraction
from sparsetopo.training.updaters.snip import snip_mask

B = lambda rows: np.array(rows, dtype=bool)  # noqa: E731
F = lambda rows: np.array(rows, dtype=np.float32)  # noqa: E731


# -- RigL ---------------------------------------------------------------------------------------------------------
def test_rigl_drops_the_smallest_magnitudes_and_grows_the_largest_gradients():
    weight = F([[0.5, -0.1, 0.0], [0.3, 0.0, -0.9]])
    mask = B([[1, 1, 0], [1, 0, 1]])
    grad = F([[0.0, 0.2, 0.7], [0.05, 0.4, 0.0]])
    new, removed, grown = rigl_drop_grow(weight, mask, grad, 0.5)
    # 4 active, floor(0.5 * 4) = 2 leave: |-0.1| and |0.3|; 0.7 and 0.4 are the largest gradients outside the kept 0.5, -0.9
    assert removed.tolist() == B([[0, 1, 0], [1, 0, 0]]).tolist()
    assert grown.tolist() == B([[0, 0, 1], [0, 1, 0]]).tolist()
    assert new.tolist() == B([[1, 0, 1], [0, 1, 1]]).tolist()


def test_rigl_may_grow_a_weight_it_just_dropped_which_then_never_left():
    weight = F([[0.5, -0.1, 0.0], [0.3, 0.0, -0.9]])
    mask = B([[1, 1, 0], [1, 0, 1]])
    grad = F([[0.0, 0.8, 0.7], [0.05, 0.4, 0.0]])
    new, removed, grown = rigl_drop_grow(weight, mask, grad, 0.5)
    assert new.tolist() == B([[1, 1, 1], [0, 0, 1]]).tolist()
    assert removed.tolist() == B([[0, 0, 0], [1, 0, 0]]).tolist()  # the -0.1 weight stays: not removed
    assert grown.tolist() == B([[0, 0, 1], [0, 0, 0]]).tolist()


def test_rigl_breaks_ties_by_position_and_keeps_the_edge_count():
    weight = F([[0.2, 0.2, 0.2, 0.2]])
    mask = B([[1, 1, 1, 1]])
    new, removed, grown = rigl_drop_grow(weight, mask, np.zeros((1, 4)), 0.5)
    assert new.tolist() == mask.tolist() and not removed.any()  # the dropped two are the best growth again (all ties)
    weight = F([[0.2, 0.2, 0.2, 0.0, 0.0, 0.0]])
    mask = B([[1, 1, 1, 0, 0, 0]])
    grad = F([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    new, removed, grown = rigl_drop_grow(weight, mask, grad, 0.67)  # floor(0.67 * 3) = 2
    assert removed.tolist() == B([[0, 1, 1, 0, 0, 0]]).tolist()  # the later equal magnitudes leave first
    assert grown.tolist() == B([[0, 0, 0, 1, 1, 0]]).tolist()  # the earlier equal gradients arrive first
    assert new.sum() == mask.sum()


def test_rigl_fraction_decays_on_a_cosine_to_zero_at_the_end_step():
    assert rigl_fraction(0, 0.3, 100) == pytest.approx(0.3)
    assert rigl_fraction(50, 0.3, 100) == pytest.approx(0.15)
    assert rigl_fraction(25, 0.3, 100) == pytest.approx(0.15 * (1 + math.cos(math.pi / 4)))
    assert rigl_fraction(100, 0.3, 100) == pytest.approx(0.0)
    assert rigl_fraction(101, 0.3, 100) == 0.0


def test_rigl_updates_every_delta_t_steps_until_the_end_step():
    updater = RiglUpdater(RiglOptions(update_every=10, update_end=0.5), Plan(epochs=4, steps_per_epoch=25))
    assert updater.end_step == 50
    assert [s for s in range(1, 101) if updater.acts_at_step(s)] == [10, 20, 30, 40, 50]


# -- SNIP ---------------------------------------------------------------------------------------------------------
def test_snip_keeps_the_largest_connection_sensitivities():
    weight = F([[1.0, -2.0], [0.5, 4.0]])
    grad = F([[3.0, 1.0], [-2.0, 0.1]])  # |w g| = 3, 2, 1, 0.4
    assert snip_mask(weight, grad, 2).tolist() == B([[1, 1], [0, 0]]).tolist()
    assert snip_mask(weight, grad, 3).tolist() == B([[1, 1], [1, 0]]).tolist()


# -- gradual magnitude pruning ------------------------------------------------------------------------------------
def test_gmp_schedule_is_cubic_from_dense_to_the_target():
    # 100 positions to 10 edges between steps 0 and 10: 10 + round(90 (1 - t/10)^3)
    assert [gmp_edges(t, 100, 10, 0, 10) for t in (0, 3, 5, 9, 10, 12)] == [100, 41, 21, 10, 10, 10]
    assert gmp_edges(20, 100, 10, 20, 30) == 100 and gmp_edges(25, 100, 10, 20, 30) == 21


def test_magnitude_pruning_keeps_the_largest_active_weights():
    weight = F([[0.1, -0.5, 0.2], [0.0, 0.3, -0.05]])
    mask = B([[1, 1, 1], [0, 1, 1]])
    assert magnitude_prune(weight, mask, 2).tolist() == B([[0, 1, 0], [0, 1, 0]]).tolist()
    assert magnitude_prune(weight, mask, 5).tolist() == mask.tolist()


def test_gmp_prunes_on_its_steps_between_the_stated_epochs():
    updater = GmpUpdater(GmpOptions(prune_start_epoch=1, prune_end_epoch=3, prune_every=4), Plan(epochs=4, steps_per_epoch=5))
    assert (updater.start_step, updater.end_step) == (5, 15)
    assert [s for s in range(1, 21) if updater.acts_at_step(s)] == [9, 13, 15]
    assert GmpOptions().resolved(10).prune_end_epoch == 8
    with pytest.raises(ValueError, match="does not fit a run of 4 epochs"):
        GmpOptions(prune_end_epoch=6).resolved(4)


# -- registry and options -----------------------------------------------------------------------------------------
def test_registry_names_every_method_and_refuses_options_it_does_not_have():
    assert set(UPDATERS) == {"static", "set", "rigl", "snip", "gmp"}
    assert option_fields("rigl") == ("drop_fraction", "update_every", "update_end", "update_output")
    assert options_of("rigl", {"drop_fraction": 0.5}) == RiglOptions(drop_fraction=0.5)
    with pytest.raises(ValueError, match="method 'snip' has no option drop_fraction; its options: none"):
        options_of("snip", {"drop_fraction": 0.5})
    with pytest.raises(ValueError, match="unknown sparse-training method 'magic'"):
        options_of("magic")
    with pytest.raises(ValueError, match="drop_fraction must be in"):
        RiglOptions(drop_fraction=1.5)


# -- the context: one place where topology changes reach weights and optimiser state ------------------------------
def _model(backend: str, seed: int = 0) -> tuple[SparseMLP, torch.optim.Optimizer, Batch]:
    gen = np.random.default_rng(seed)
    masks = [gen.random((6, 5)) < 0.5, gen.random((3, 6)) < 0.6]
    torch.manual_seed(seed)
    model = SparseMLP([5, 6, 3], masks=masks)
    if backend == "sparse":
        to_sparse_backend(model, [0, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(seed))
    y = torch.arange(8) % 3
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    enforce_masks(model, opt)
    return model, opt, Batch(x, y)


@pytest.mark.parametrize("backend", ["masked", "sparse"])
@pytest.mark.parametrize("prune", [False, True])
def test_context_apply_zeroes_changed_weights_and_their_optimiser_state(backend, prune):
    model, opt, _ = _model(backend)
    ctx = UpdateContext(model, opt, Plan(epochs=1, steps_per_epoch=1))
    layer = topology_layers(model)[0]
    old, before = layer_mask(layer), layer_weight(layer)
    new = old.copy()
    gone = np.argwhere(old)[:2]
    new[tuple(gone.T)] = False
    if not prune:
        new[tuple(np.argwhere(~old)[:2].T)] = True
    changed = old ^ new
    ctx.apply(0, new, changed)
    ctx.finish()
    after = layer_weight(topology_layers(model)[0])
    assert layer_mask(topology_layers(model)[0]).tolist() == new.tolist()
    assert (after[changed] == 0).all() and (after[~new] == 0).all()
    assert np.array_equal(after[new & ~changed], before[new & ~changed])
    param = topology_layers(model)[0].values if backend == "sparse" else topology_layers(model)[0].weight
    momentum = opt.state[param]["momentum_buffer"]
    dense_momentum = np.zeros(new.shape, dtype=np.float32)
    if backend == "sparse":
        dense_momentum[new] = momentum.numpy()
    else:
        dense_momentum = momentum.numpy()
    assert (dense_momentum[changed] == 0).all() and (dense_momentum[~new] == 0).all()
    assert ctx.removed[0] == 2 and ctx.grown[0] == (0 if prune else 2)
    assert set(np.flatnonzero((old | new).ravel())) <= set(ctx.ever_active[0].tolist())
    # the network still trains after the change
    x = torch.randn(4, 5)
    torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0])).backward()
    opt.step()


def test_dense_gradients_agree_with_autograd_of_a_dense_copy_on_both_backends():
    grads = {}
    for backend in ("masked", "sparse"):
        model, _, batch = _model(backend)
        grads[backend] = dense_gradients(model, batch)
    masked_model, _, batch = _model("masked")
    ref = copy.deepcopy(masked_model)
    for layer in ref.layers:
        layer.mask.fill_(True)  # the same weights, every position present
    ref.zero_grad()
    torch.nn.functional.cross_entropy(ref(batch.x), batch.y).backward()
    for k, layer in enumerate(ref.layers):
        np.testing.assert_allclose(grads["masked"][k], layer.weight.grad.numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(grads["sparse"][k], grads["masked"][k], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(UPDATERS))
def test_every_updater_state_round_trips(name):
    plan = Plan(epochs=3, steps_per_epoch=4, seed=7)
    updater = make_updater(name, {}, plan)
    updater.initial_topology(as_sparse_topology([np.ones((3, 2), dtype=bool), np.eye(3, dtype=bool)]))
    clone = make_updater(name, {}, plan)
    clone.load_state_dict(copy.deepcopy(updater.state_dict()))
    assert repr(clone.state_dict()) == repr(updater.state_dict())

