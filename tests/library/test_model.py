import copy

import numpy as np
import pytest
import torch

from sparsetopo.model import MaskedLinear, SparseMLP, enforce_masks
from sparsetopo.topology.masks import random_topology


def _model(seed=0):
    masks = random_topology([20, 16, 8, 3], density=0.3, seed=seed)
    torch.manual_seed(seed)
    return SparseMLP([20, 16, 8, 3], masks=masks), masks


def test_masks_travel_with_state_dict_and_deepcopy():
    model, masks = _model()
    clone = copy.deepcopy(model)
    assert all(np.array_equal(a, b) for a, b in zip(clone.masks(), masks))
    fresh = SparseMLP([20, 16, 8, 3])
    fresh.load_state_dict(model.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(fresh.masks(), masks))
    assert "layers.0.mask" in model.state_dict()


def test_initial_weights_are_zero_outside_mask():
    model, masks = _model()
    for layer, m in zip(model.layers, masks):
        assert (layer.weight.detach().numpy()[~m] == 0).all()


def test_enforce_masks_zeroes_weights_and_momentum():
    model, masks = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(32, 20)
    for _ in range(3):
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        enforce_masks(model, opt)
    for layer, m in zip(model.layers, masks):
        assert (layer.weight.detach().numpy()[~m] == 0).all()
        buf = opt.state[layer.weight]["momentum_buffer"].numpy()
        assert (buf[~m] == 0).all()
        assert (buf[m] != 0).any()


def test_without_enforcement_pruned_weights_would_move():
    # guards the test above: gradients do reach absent weights, so the mask must be enforced
    model, masks = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(torch.randn(8, 20)).pow(2).mean()
    loss.backward()
    opt.step()
    assert (model.layers[0].weight.detach().numpy()[~masks[0]] != 0).any()


def test_mask_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(n_out, n_in\)"):
        MaskedLinear(4, 3, mask=np.ones((4, 3), dtype=bool))
