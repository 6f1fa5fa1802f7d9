"""Reading topologies from torch models and state_dict files, and `sparsetopo distance` on them."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from sparsetopo.cli.distance import add_distance_parser
from sparsetopo.model import SparseMLP
from sparsetopo.nnstd.distance import nnstd
from sparsetopo.topology.masks import random_topology
from sparsetopo.topology.modules import (
    load_state_dict_topology,
    topology_from_module,
    topology_from_state_dict,
)


def cnn(channels=(4, 6), hidden=12, seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 16, hidden), nn.ReLU(), nn.Linear(hidden, 10),
    )


def pruned_cnn(amount: float, **kwargs) -> nn.Sequential:
    model = cnn(**kwargs)
    for module in model:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            prune.l1_unstructured(module, "weight", amount=amount)
    return model


def expected_masks(model: nn.Module) -> list[np.ndarray]:
    return [m.weight_mask.numpy() != 0 for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 64, 10)

    def forward(self, x):
        h = torch.relu(self.conv1(x))
        h = h + torch.relu(self.conv2(h))
        return self.fc(h.flatten(1))


class ClassifierFirst(nn.Module):
    """Registers its linear layer before the convolution that feeds it."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4 * 64, 10)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


# ---------------------------------------------------------------------------
# nn.Module
# ---------------------------------------------------------------------------


def test_module_reader_uses_prune_weight_mask_in_forward_order():
    model = pruned_cnn(0.6)
    topology = topology_from_module(model)
    assert topology.names == ("0", "2", "6", "8")
    assert topology.sources == ("weight_mask",) * 4
    assert topology.order == "forward"
    for got, want in zip(topology.masks, expected_masks(model)):
        np.testing.assert_array_equal(got, want)
    assert [m.shape for m in topology.masks] == [(4, 1, 3, 3), (6, 4, 3, 3), (12, 96), (10, 12)]
    assert "torch.nn.utils.prune weight_mask" in topology.describe()


def test_module_reader_prefers_the_mask_even_where_a_kept_weight_is_zero():
    model = pruned_cnn(0.5)
    with torch.no_grad():
        model[0].weight_orig.zero_()  # kept positions with zero weight are still edges
    topology = topology_from_module(model)
    np.testing.assert_array_equal(topology.masks[0], model[0].weight_mask.numpy() != 0)


def test_module_reader_uses_our_masked_layers_and_otherwise_the_nonzero_weights():
    masks = random_topology((20, 10, 5), density=0.3, seed=0)
    ours = topology_from_module(SparseMLP((20, 10, 5), masks=masks))
    assert ours.sources == ("mask", "mask")
    assert all(np.array_equal(a, b) for a, b in zip(ours.masks, masks))
    plain = cnn()
    with torch.no_grad():
        plain[2].weight[:, :2] = 0
    read = topology_from_module(plain)
    assert read.sources == ("nonzero",) * 4
    assert not read.masks[1][:, :2].any() and read.masks[1][:, 2:].all()


def test_module_reader_follows_forward_order_not_registration_order():
    topology = topology_from_module(ClassifierFirst())
    assert topology.names == ("conv", "fc")


def test_residual_network_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"'fc' reads the outputs of 'conv1' and 'conv2'.*skip.*permutation"):
        topology_from_module(Residual())


def test_unsupported_layers_are_refused():
    with pytest.raises(ValueError, match="only Linear and Conv2d"):
        topology_from_module(nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(12, 2)))
    with pytest.raises(ValueError, match="grouped convolution"):
        topology_from_module(nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)))


def test_module_topology_gives_the_same_nnstd_as_the_masks():
    first, second = pruned_cnn(0.5, seed=0), pruned_cnn(0.8, seed=1)
    result = nnstd(topology_from_module(first).masks, topology_from_module(second).masks)
    assert result.layer_distances == nnstd(expected_masks(first), expected_masks(second)).layer_distances
    assert all(0 < d <= 1 for d in result.layer_distances)


# ---------------------------------------------------------------------------
# state_dict files
# ---------------------------------------------------------------------------


def test_state_dict_file_of_a_pruned_model_gives_the_module_topology(tmp_path):
    model = pruned_cnn(0.7)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    from_file = load_state_dict_topology(tmp_path / "m.pt")
    from_module = topology_from_module(model)
    assert from_file.names == from_module.names and from_file.sources == from_module.sources
    assert from_file.order == "keys"
    assert all(np.array_equal(a, b) for a, b in zip(from_file.masks, from_module.masks))


def test_state_dict_reader_takes_each_source_per_layer():
    rng = np.random.default_rng(0)
    mask = rng.random((6, 8)) < 0.5
    weights = np.where(rng.random((3, 6)) < 0.5, 1.0, 0.0)
    state = {
        "a.weight_orig": torch.ones(6, 8), "a.weight_mask": torch.from_numpy(mask.astype(np.float32)),
        "b.weight": torch.from_numpy(weights), "b.bias": torch.zeros(3),
    }
    topology = topology_from_state_dict(state)
    assert topology.sources == ("weight_mask", "nonzero")
    np.testing.assert_array_equal(topology.masks[0], mask)
    np.testing.assert_array_equal(topology.masks[1], weights != 0)


def test_state_dict_whose_keys_do_not_chain_asks_for_the_order(tmp_path):
    model = ClassifierFirst()
    torch.save(model.state_dict(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"cannot be ordered from the state_dict's keys.*--layers"):
        load_state_dict_topology(tmp_path / "m.pt")
    given = load_state_dict_topology(tmp_path / "m.pt", layers=["conv", "fc"])
    assert given.names == ("conv", "fc") and given.order == "given"


def test_state_dict_of_a_residual_network_is_refused():
    state = {"conv1.weight": torch.ones(4, 1, 3, 3), "layer1.0.downsample.0.weight": torch.ones(4, 4, 1, 1),
             "fc.weight": torch.ones(10, 4)}
    with pytest.raises(ValueError, match="residual"):
        topology_from_state_dict(state)


# ---------------------------------------------------------------------------
# the command line on two pruned CNNs
# ---------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sparsetopo")
    add_distance_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["distance", *argv])
    return args.func(args)


def printed_layers(out: str) -> list[float]:
    return [float(line.split()[3]) for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]


@pytest.fixture
def pruned_files(tmp_path):
    first, second = pruned_cnn(0.5, seed=0), pruned_cnn(0.8, channels=(4, 8), seed=1)
    torch.save(first.state_dict(), tmp_path / "a.pt")
    torch.save({"state_dict": second.state_dict(), "epoch": 3}, tmp_path / "b.pt")
    return tmp_path, first, second


def test_cli_compares_state_dicts_of_pruned_cnns_of_different_widths(pruned_files, capsys):
    tmp_path, first, second = pruned_files
    assert run_cli(str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--no-cache") == 0
    out = capsys.readouterr().out
    expected = nnstd(expected_masks(first), expected_masks(second))
    np.testing.assert_allclose(printed_layers(out), expected.layer_distances, atol=5e-7)
    assert "torch.nn.utils.prune weight_mask" in out and "conv2d 6x4x3x3 / 8x4x3x3" in out
    assert f"{expected.mean:.6f}" in out.splitlines()[-1]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--epoch", "3"], "--epoch 3 was given, but"),
        (["--layers", "2,0,6,8"], "has 1 input channels but layer 0"),
        (["--layers", "0,2,fc"], "layers ['fc'] have no 2-D/4-D weight"),
    ],
)
def test_cli_refuses_what_it_cannot_read(pruned_files, capsys, extra, message):
    tmp_path, _, _ = pruned_files
    assert run_cli(str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--no-cache", *extra) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_cli_refuses_a_state_dict_whose_layers_cannot_be_ordered(tmp_path, capsys):
    torch.save(ClassifierFirst().state_dict(), tmp_path / "c.pt")
    torch.save(pruned_cnn(0.5).state_dict(), tmp_path / "a.pt")
    assert run_cli(str(tmp_path / "c.pt"), str(tmp_path / "a.pt"), "--no-cache") == 2
    assert "cannot be ordered from the state_dict's keys" in capsys.readouterr().err


def test_one_by_one_conv_model_on_one_pixel_gives_the_nnstd_of_the_same_mlp():
    widths = (12, 10, 8, 4)
    pairs = [random_topology(widths, density=0.2, seed=s) for s in (0, 1)]

    def conv_model(masks):
        model = nn.Sequential(nn.Conv2d(12, 10, 1), nn.ReLU(), nn.Conv2d(10, 8, 1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(8, 4))
        layers = [model[0], model[2], model[5]]
        with torch.no_grad():
            for layer, mask in zip(layers, masks):
                layer.weight.copy_(torch.from_numpy(mask.astype(np.float32)).reshape(layer.weight.shape))
        return model

    conv = [topology_from_module(conv_model(m)) for m in pairs]
    mlp = [topology_from_module(SparseMLP(widths, masks=m)) for m in pairs]
    assert [m.shape for m in conv[0].masks] == [(10, 12, 1, 1), (8, 10, 1, 1), (4, 8)]
    for tie_break in ("structure", "solver"):
        got = nnstd(conv[0].masks, conv[1].masks, tie_break=tie_break)
        want = nnstd(mlp[0].masks, mlp[1].masks, tie_break=tie_break)
        assert got.layer_distances == want.layer_distances


class DataDependent(nn.Module):
    """A forward with Python control flow on tensor values: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        h = self.fc1(x)
        if h.sum() > 0:
            h = torch.relu(h)
        return self.fc2(h)


def test_untraceable_model_falls_back_to_registration_order_and_says_so():
    topology = topology_from_module(DataDependent())
    assert topology.names == ("fc1", "fc2")
    assert topology.order.startswith("registration (torch.fx could not trace")
    assert "order: registration" in topology.describe()


def test_nnstd_takes_model_topologies_directly():
    first, second = topology_from_module(pruned_cnn(0.5, seed=0)), topology_from_module(pruned_cnn(0.5, seed=1))
    assert nnstd(first, second).layer_distances == nnstd(list(first.masks), list(second.masks)).layer_distances


# ---------------------------------------------------------------------------
# what the readers cannot represent: one hostile input each, refused with the reason
# ---------------------------------------------------------------------------


class IdentitySkip(nn.Module):
    """A residual block whose skip is the identity: its state_dict chains by shape."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = h + torch.relu(self.fc2(h))
        return self.out(h)


class ChainingBranches(nn.Module):
    """Two parallel branches whose shapes happen to chain in key order."""

    def __init__(self):
        super().__init__()
        self.left = nn.Linear(8, 8)
        self.right = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.left(x)) + torch.relu(self.right(x)))


class SplitBranches(nn.Module):
    """Two parallel branches that do not chain: no order of the keys can help."""

    def __init__(self):
        super().__init__()
        self.left = nn.Linear(8, 4)
        self.right = nn.Linear(8, 4)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.cat([self.left(x), self.right(x)], dim=1))


class WithEmbedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20, 8)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.embedding(x).mean(1))


class UntraceableSquare(nn.Module):
    """Untraceable (data-dependent control flow) and with equal widths: registration order proves nothing."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 6)
        self.fc2 = nn.Linear(6, 2)

    def forward(self, x):
        h = self.fc1(x)
        if h.sum() > 0:
            h = h + x
        return self.fc2(h)


@pytest.mark.parametrize("model, message", [
    (IdentitySkip(), r"'out' reads the outputs of 'fc1' and 'fc2': a residual \(skip\) connection"),
    (ChainingBranches(), r"'right' reads the model input instead of 'left'"),
    (SplitBranches(), r"'right' reads the model input instead of 'left'"),
    (WithEmbedding(), r"'embedding' \(Embedding\) has 2-D weights; only Linear and Conv2d"),
    (nn.Sequential(nn.ConvTranspose2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 36, 2)), "transposed convolution"),
    (UntraceableSquare(), r"do not prove a chain \(torch.fx could not trace.*'fc1' both have 6 features.*layers="),
], ids=["identity-skip", "chaining-branches", "split-branches", "embedding", "conv-transpose", "untraceable-square"])
def test_module_reader_refuses_what_it_cannot_represent(model, message):
    with pytest.raises(ValueError, match=message):
        topology_from_module(model)


def test_an_untraceable_chain_is_read_when_its_order_is_given():
    assert topology_from_module(UntraceableSquare(), layers=["fc1", "fc2"]).order == "given"


def _state(model: nn.Module) -> dict:
    return model.state_dict()


def _lstm_state() -> dict:
    return {**nn.LSTM(4, 6).state_dict(), "fc.weight": torch.ones(3, 6)}


def _grouped_state() -> dict:
    return {"conv1.weight": torch.ones(8, 3, 3, 3), "conv2.weight": torch.ones(8, 2, 3, 3), "fc.weight": torch.ones(5, 8)}


def _transposed_state() -> dict:
    return {"conv1.weight": torch.ones(8, 3, 3, 3), "up.weight": torch.ones(8, 4, 3, 3), "fc.weight": torch.ones(5, 4)}


def _misshaped_mask_state() -> dict:
    return {"fc1.weight": torch.ones(6, 8), "fc1.weight_mask": torch.ones(8, 6), "fc2.weight": torch.ones(3, 6)}


def _misshaped_buffer_state() -> dict:
    return {"fc1.weight": torch.ones(6, 8), "fc1.mask": torch.ones(6, 4), "fc2.weight": torch.ones(3, 6)}


def _non_tensor_state() -> dict:
    return {"fc1.weight": torch.ones(6, 8), "fc2.weight": [[1.0] * 6] * 6, "fc3.weight": torch.ones(3, 6)}


@pytest.mark.parametrize("make, message", [
    (lambda: _state(IdentitySkip()), r"do not prove a chain .*'fc1' and the output of 'fc2' both have 16 features.*"
                                     r"topology_from_module.*--layers fc1,fc2,out"),
    (lambda: _state(ChainingBranches()), r"do not prove a chain .*the input and the output of 'left' both have 8"),
    (lambda: _state(SplitBranches()), r"layer 1 has 8 inputs but layer 0 has 4 outputs.*branches or skip connections"),
    (lambda: _state(WithEmbedding()), r"'embedding.weight' \(20, 8\) looks like an embedding table"),
    (_lstm_state, r"'weight_ih_l0' is a 2-D tensor \(24, 4\) that is not the weight of a Linear or Conv2d"),
    (_grouped_state, r"'conv2' \(8, 2, 3, 3\) does not read the 8 channels.*grouped convolution \(groups=4\)"),
    (_transposed_state, r"'up' \(8, 4, 3, 3\) does not read the 8 channels .*ConvTranspose2d weight"),
    (_misshaped_mask_state, r"'fc1.weight_mask' has shape \(8, 6\) but 'fc1.weight' has \(6, 8\)"),
    (_misshaped_buffer_state, r"'fc1.mask' has shape \(6, 4\)"),
    (_non_tensor_state, r"'fc2.weight' is a list, not a tensor"),
], ids=["identity-skip", "chaining-branches", "split-branches", "embedding", "lstm", "grouped-conv", "conv-transpose",
        "weight-mask-shape", "mask-buffer-shape", "non-tensor-weight"])
def test_state_dict_reader_refuses_what_it_cannot_represent(make, message):
    with pytest.raises(ValueError, match=message):
        topology_from_state_dict(make())


def test_a_state_dict_whose_chain_the_user_states_is_read_in_that_order():
    topology = topology_from_state_dict(_state(IdentitySkip()), layers=["fc1", "fc2", "out"])
    assert topology.order == "given" and [m.shape for m in topology.masks] == [(16, 8), (16, 16), (3, 16)]


@pytest.mark.parametrize("save, message", [
    (lambda path: torch.save(IdentitySkip(), path), r"whole pickled model .*IdentitySkip.*torch.save\(model.state_dict"),
    (lambda path: torch.save({"fc.weight": np.ones((3, 4))}, path), r"numpy arrays .*torch.from_numpy"),
], ids=["whole-model", "numpy-arrays"])
def test_refused_pickles_get_one_clean_line_with_what_to_save(tmp_path, capsys, save, message):
    save(tmp_path / "bad.pt")
    torch.save(cnn().state_dict(), tmp_path / "good.pt")
    assert run_cli(str(tmp_path / "bad.pt"), str(tmp_path / "good.pt"), "--no-cache") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "\x1b" not in err and "add_safe_globals" not in err
    assert re.search(message, err), err
