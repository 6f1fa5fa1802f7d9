"""train_module: any nn.Module trained deterministically for a seed, prune masks kept, results cached by content."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from sparsetopo.errors import DamagedRunError
from sparsetopo.training.modules import module_accuracy, module_key, train_module

SETTINGS = {"epochs": 2, "lr": 0.01, "batch_size": 16, "seed": 3}


def _model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(70, 8, generator=generator)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_same_bits_other_seed_or_start_epoch_other_bits(data):
    runs = [train_module(_model(), data, **SETTINGS).model for _ in range(2)]
    assert _same(*runs) and not _same(runs[0], _model())
    assert not _same(runs[0], train_module(_model(), data, **{**SETTINGS, "seed": 4}).model)
    assert not _same(runs[0], train_module(_model(), data, **SETTINGS, start_epoch=2).model)
    sgd = train_module(_model(), data, **SETTINGS, optimizer="sgd").model
    assert not _same(runs[0], sgd)


def test_caller_random_state_and_threads_are_left_alone(data):
    threads = torch.get_num_threads()
    model = _model()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_module(model, data, **SETTINGS)
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads


def test_prune_masks_stay_enforced_after_fine_tuning(data):
    from sparsetopo.topology.modules import topology_from_module

    model = train_module(_model(), data, **SETTINGS).model
    layers = [m for m in model if isinstance(m, nn.Linear)]
    for layer in layers:
        prune.l1_unstructured(layer, "weight", amount=0.6)
    masks = [layer.weight_mask.clone() for layer in layers]
    frozen = [layer.weight_orig.detach()[layer.weight_mask == 0].clone() for layer in layers]
    for optimizer in ("adam", "sgd"):
        train_module(model, data, **SETTINGS, optimizer=optimizer, start_epoch=2)
        model(data[0])  # the prune hook recomputes weight = weight_orig * weight_mask
        for layer, mask, before in zip(layers, masks, frozen):
            assert torch.equal(layer.weight_mask, mask)
            assert torch.count_nonzero(layer.weight[mask == 0]) == 0
            assert torch.equal(layer.weight_orig.detach()[mask == 0], before)  # pruned weights never moved
    assert [m.sum() for m in topology_from_module(model).masks] == [int(m.sum()) for m in masks]


def test_cache_hit_returns_identical_tensors_and_files_read_back(data, tmp_path):
    from sparsetopo.topology.modules import load_state_dict_topology, topology_from_module

    model = _model()
    prune.random_unstructured(model[0], "weight", amount=0.5)
    first = train_module(model, data, **SETTINGS, cache_dir=tmp_path, name="net")
    assert not first.from_cache and first.path == tmp_path / f"net-{first.key}.pt"
    assert first.path.with_suffix(".json").is_file()
    again_model = _model()
    prune.random_unstructured(again_model[0], "weight", amount=0.5)
    assert not _same(again_model, first.model)
    again = train_module(again_model, data, **SETTINGS, cache_dir=tmp_path, name="net")
    assert again.from_cache and again.key == first.key and again.path == first.path
    assert _same(again.model, first.model)
    read = load_state_dict_topology(first.path)
    assert [m.tolist() for m in read.masks] == [m.tolist() for m in topology_from_module(first.model).masks]
    # another start (weights, masks), data or setting is another key
    assert module_key(_model(), data, **SETTINGS) != module_key(_model(1), data, **SETTINGS)
    assert module_key(_model(), data, **SETTINGS) != module_key(_model(), (data[0] + 1, data[1]), **SETTINGS)
    assert module_key(_model(), data, **SETTINGS) != module_key(_model(), data, **{**SETTINGS, "lr": 0.02})


def test_a_damaged_cache_file_is_named(data, tmp_path):
    key = module_key(_model(), data, **SETTINGS)
    (tmp_path / f"net-{key}.pt").write_bytes(b"not a state_dict")
    with pytest.raises(DamagedRunError, match="delete it to train again"):
        train_module(_model(), data, **SETTINGS, cache_dir=tmp_path, name="net")


@pytest.mark.parametrize("bad, match", [
    ({"optimizer": "adamw"}, "optimizer must be one of ['adam', 'sgd'], got 'adamw'"),
    ({"lr": 0}, "lr must be a finite number > 0, got 0"),
    ({"lr": float("nan")}, "lr must be a finite number > 0"),
    ({"epochs": -1}, "epochs must be >= 0, got -1"),
    ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
    ({"seed": True}, "seed must be an integer, got True"),
    ({"start_epoch": 1.5}, "start_epoch must be an integer, got 1.5"),
    ({"name": "a/b"}, "name must be a non-empty file-name prefix"),
    ({"model": "cnn"}, "model must be a torch.nn.Module, got str"),
    ({"data": torch.zeros(3, 8)}, "data must be a pair (x, y) or a dataset"),
    ({"data": (torch.zeros(3, 8), torch.zeros(3))}, "data must be float inputs (n, ...) and int64 labels"),
])
def test_a_bad_argument_is_one_line_naming_it(data, bad, match):
    arguments = {"model": _model(), "data": data, **SETTINGS, **bad}
    with pytest.raises((TypeError, ValueError)) as error:
        train_module(arguments.pop("model"), arguments.pop("data"), **arguments)
    assert str(error.value).startswith("train_module: ") and match in str(error.value)
    assert "\n" not in str(error.value)


def test_module_accuracy(data):
    model = train_module(_model(), data, **{**SETTINGS, "epochs": 20}).model
    accuracy = module_accuracy(model, *data)
    assert 0.5 < accuracy <= 1 and not model.training
