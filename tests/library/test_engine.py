"""Training engine v2: recipe options, config validation, the sparse backend, devices, recipes."""

import json
import math

import numpy as np
import pytest
import torch

from sparsetopo import store
from sparsetopo.cli.main import build_parser, config_from_args
from sparsetopo.store.config import RunConfig, config_hash, run_id
from sparsetopo.training.loop import (
    AUTO_SPARSE_MAX_DENSITY,
    build_model,
    load_run_dataset,
    regrow_bounds,
    resolve_device,
    sparse_layer_indices,
    train_run,
)
from sparsetopo.training.recipes import RECIPES, recipe_config

SMALL = dict(dataset="digits", hidden=(32, 32), epochs=3, batch_size=64, lr=0.05, snapshot_every=1)
TIMES = ("epoch_time", "train_time")


def _strip(records):
    return [{k: v for k, v in r.items() if k not in TIMES} for r in records]


# ---------------------------------------------------------------- config --


def test_new_fields_at_their_defaults_leave_run_ids_unchanged():
    new_fields = {"dropout", "weight_decay_mode", "rewire_output", "backend", "device", "train_samples", "regrow_sampler",
                  "init_draws", "method_options"}
    for cfg in (RunConfig(), RunConfig(method="dense"), RunConfig(method="static", epsilon=3.0),
                RunConfig(method="set", density=0.05, regrow_init="random")):
        hashed = cfg.hashed_dict()
        assert not new_fields & hashed.keys()
        assert hashed == {k: v for k, v in cfg.to_dict().items() if k not in new_fields}
    # the id of the default config as runs stored by this version know it (config + digits
    # fingerprint + engine revision 3)
    assert run_id(RunConfig()) == "digits-set-eps20-h64x64-s0-58879135"
    assert run_id(RunConfig(method="dense")) == "digits-dense-h64x64-s0-cfbd9883"
    # a new field away from its default does change the id
    base = RunConfig()
    for change in (dict(dropout=0.2), dict(weight_decay_mode="decoupled"), dict(backend="sparse"), dict(init_draws="edges"),
                   dict(rewire_output=True, sparse_output=True)):
        assert config_hash(base.replace(**change)) != config_hash(base)


def test_a_new_engine_revision_gives_every_run_a_new_id(monkeypatch):
    import sparsetopo.store.config as config_module

    configs = (RunConfig(), RunConfig(method="dense"), RunConfig(method="static", epsilon=3.0, backend="sparse"))
    before = [run_id(c) for c in configs]
    monkeypatch.setattr(config_module, "ENGINE_REVISION", config_module.ENGINE_REVISION + 1)
    after = [run_id(c) for c in configs]
    assert all(a != b for a, b in zip(before, after))


def test_fields_that_do_not_apply_to_the_method_raise_instead_of_being_rewritten():
    with pytest.raises(ValueError, match="zeta=0.5 only applies to method='set'"):
        RunConfig(method="static", zeta=0.5)
    with pytest.raises(ValueError, match="regrow_init='random' only applies"):
        RunConfig(method="static", regrow_init="random")
    with pytest.raises(ValueError, match="rewire_output=True only applies"):
        RunConfig(method="dense", rewire_output=True)
    with pytest.raises(ValueError, match="method='dense' has no sparse topology, but epsilon=20"):
        RunConfig(method="dense", epsilon=20)
    with pytest.raises(ValueError, match="density=0.1"):
        RunConfig(method="dense", density=0.1)
    with pytest.raises(ValueError, match="one of epsilon, density or layer_edges"):
        RunConfig(method="set", epsilon=20, density=0.1)


def test_epsilon_and_density_defaults_do_not_conflict():
    assert RunConfig(method="static", density=0.1).epsilon is None
    assert RunConfig(method="static").epsilon == 20.0  # no sparsity given at all: ε = 20
    assert RunConfig(method="static", layer_edges=(5, 5, 5)).epsilon is None
    dense = RunConfig(method="dense")
    assert dense.epsilon is None and dense.zeta == 0.0


def test_replace_to_another_method_drops_the_fields_it_does_not_use():
    set_cfg = RunConfig(method="set", epsilon=5, zeta=0.2, regrow_init="random")
    static = set_cfg.replace(method="static")
    assert (static.zeta, static.regrow_init, static.epsilon) == (0.0, "zero", 5)
    dense = set_cfg.replace(method="dense")
    assert dense.epsilon is None
    assert dense.replace(method="set").zeta == 0.3
    with pytest.raises(ValueError, match="zeta"):
        set_cfg.replace(method="static", zeta=0.4)


def test_recipe_and_cli_flags_compose():
    parser = build_parser()
    cfg = config_from_args(parser.parse_args(["train", "--recipe", "set_reference", "--epochs", "20"]))
    assert cfg == recipe_config("set_reference", epochs=20)
    for key, value in RECIPES["set_reference"].items():
        assert getattr(cfg, key) == value
    assert (cfg.epsilon, cfg.batch_size, cfg.dropout, cfg.weight_decay_mode) == (13.0, 40, 0.2, "decoupled")
    static = config_from_args(parser.parse_args(["train", "--recipe", "set_reference", "--method", "static"]))
    assert static.method == "static" and static.zeta == 0.0 and static.epsilon == 13.0
    plain = config_from_args(parser.parse_args(["train", "--density", "0.1", "--method", "static"]))
    assert plain.density == 0.1 and plain.epsilon is None
    with pytest.raises(KeyError, match="set_reference"):
        recipe_config("nope")


# ------------------------------------------------------- recipe options --


def test_logged_learning_rate_is_the_one_the_epoch_used():
    run = store.train(RunConfig(method="dense", lr_schedule="step", **{**SMALL, "epochs": 4}), progress=False)
    # step schedule: x0.1 from 50% of the epochs, x0.01 from 75%
    assert [r["lr"] for r in run.records] == pytest.approx([0.05, 0.05, 0.005, 0.0005])


def _one_full_batch_step(tmp_path, mode, wd):
    cfg = RunConfig(method="static", epsilon=3, dataset="digits", hidden=(16,), epochs=1, batch_size=100_000,
                    lr=0.1, momentum=0.0, weight_decay=wd, weight_decay_mode=mode)
    train_run(cfg, tmp_path / mode, progress=False)
    init = torch.load(tmp_path / mode / "weights" / "init.pt")
    final = torch.load(tmp_path / mode / "weights" / "final.pt")
    data = load_run_dataset(cfg)
    model = build_model(cfg, [data.n_features, 16, data.n_classes], [init[f"layers.{k}.mask"].numpy() for k in range(2)])
    model.load_state_dict(init)
    torch.nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
    grad = model.layers[0].weight.grad * model.layers[0].mask
    return init["layers.0.weight"], grad, final["layers.0.weight"]


def test_decoupled_weight_decay_is_applied_per_step_unscaled_by_lr(tmp_path):
    wd, lr = 0.05, 0.1
    w0, g, w1 = _one_full_batch_step(tmp_path, "decoupled", wd)
    assert torch.allclose(w1, (1 - wd) * w0 - lr * g, atol=1e-6)
    assert not torch.allclose(w1, w0 - lr * (g + wd * w0), atol=1e-4)
    w0, g, w1 = _one_full_batch_step(tmp_path, "coupled", wd)
    assert torch.allclose(w1, w0 - lr * (g + wd * w0), atol=1e-6)


def test_he_uniform_init_uses_dense_fan_in_and_zero_biases():
    cfg = RunConfig(method="static", epsilon=20, weight_init="he_uniform", seed=1)
    widths = [400, 300, 10]
    model = build_model(cfg, widths, [np.ones((300, 400), bool), np.ones((10, 300), bool)])
    w = model.layers[0].weight.detach()
    bound = math.sqrt(6 / 400)
    assert w.abs().max() <= bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert (model.layers[0].bias == 0).all()


def test_dropout_acts_only_in_training_and_is_seeded():
    cfg = RunConfig(method="dense", dropout=0.5)
    model = build_model(cfg, [20, 50, 50, 3])
    x = torch.randn(8, 20)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    model.dropout_generator = torch.Generator().manual_seed(0)
    a = model(x)
    model.dropout_generator = torch.Generator().manual_seed(0)
    assert torch.equal(a, model(x))
    assert not torch.equal(a, model(x))
    model.eval()
    assert not torch.equal(a, model(x))


def test_regrown_weights_use_the_initialisation_scale(tmp_path):
    mask = np.zeros((4, 10), bool)
    mask[0, :2] = mask[1, :8] = True
    assert regrow_bounds("he_uniform", mask, np.array([0, 1])) == pytest.approx(math.sqrt(0.6))
    assert regrow_bounds("dense", mask, np.array([0])) == pytest.approx(1 / math.sqrt(10))
    assert regrow_bounds("sparse", mask, np.array([0, 1])) == pytest.approx([1 / math.sqrt(2), 1 / math.sqrt(8)])
    cfg = RunConfig(method="set", epsilon=3, regrow_init="random", weight_init="he_uniform", **{**SMALL, "epochs": 2})
    train_run(cfg, tmp_path / "r", progress=False, save_weights_at=[1])
    run = store.Run(cfg, tmp_path / "r", json.loads((tmp_path / "r" / "result.json").read_text()))
    w1 = torch.load(tmp_path / "r" / "weights" / "epoch_001.pt")["layers.1.weight"].numpy()
    grown = run.topology(1)[1] & ~run.topology(0)[1]
    bound = math.sqrt(6 / 32)
    assert grown.sum() > 10
    assert np.abs(w1[grown]).max() <= bound and np.abs(w1[grown]).max() > bound / 2


@pytest.mark.parametrize("backend", ["masked", "sparse"])
def test_set_never_rewires_the_output_layer_unless_asked(tmp_path, backend):
    base = RunConfig(method="set", epsilon=3, sparse_output=True, backend=backend, **SMALL)
    kept = store.train(base, root=tmp_path, progress=False)
    assert all(r["removed"][-1] == 0 for r in kept.records)
    assert np.array_equal(kept.topology(0)[-1], kept.topology()[-1])
    assert kept.records[0]["removed"][0] > 0
    rewired = store.train(base.replace(rewire_output=True), root=tmp_path, progress=False)
    assert rewired.records[0]["removed"][-1] > 0
    assert not np.array_equal(rewired.topology(0)[-1], rewired.topology()[-1])


# -------------------------------------------------------- sparse backend --


def test_sparse_backend_starts_from_identical_weights_and_matches_masked_after_one_epoch(tmp_path):
    common = dict(method="set", epsilon=3, regrow_init="random", dropout=0.1, **{**SMALL, "epochs": 1})
    masked = store.train(RunConfig(backend="masked", **common), root=tmp_path, progress=False)
    sparse = store.train(RunConfig(backend="sparse", **common), root=tmp_path, progress=False)
    assert sparse.summary["backend_layers"] == ["sparse", "sparse", "masked"]
    a, b = masked.state_dict("init"), sparse.state_dict("init")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # float tolerance: the CSR products sum in another order than the dense ones
    fa, fb = masked.state_dict(), sparse.state_dict()
    assert max((fa[k].float() - fb[k].float()).abs().max().item() for k in fa) < 1e-4
    assert abs(masked.final_test_acc - sparse.final_test_acc) <= 0.01
    assert masked.records[0]["test_loss"] == pytest.approx(sparse.records[0]["test_loss"], abs=1e-4)


def test_sparse_backend_set_snapshots_and_explored_rate_match_masked(tmp_path):
    common = dict(method="set", epsilon=3, **SMALL)
    masked = store.train(RunConfig(backend="masked", **common), root=tmp_path, progress=False)
    sparse = store.train(RunConfig(backend="sparse", **common), root=tmp_path, progress=False)
    for key in ("edges", "removed", "regrown"):
        assert [r[key] for r in masked.records] == [r[key] for r in sparse.records]
    assert [r["explored_rate"] for r in masked.records] == pytest.approx([r["explored_rate"] for r in sparse.records], abs=0.01)
    assert sparse.snapshot_epochs() == masked.snapshot_epochs()
    final = sparse.state_dict()
    for k, m in enumerate(sparse.topology()):
        assert np.array_equal(final[f"layers.{k}.mask"].numpy(), m)
        assert (final[f"layers.{k}.weight"].numpy()[~m] == 0).all()
    assert sparse.model().layers[0].weight.shape == (32, 64)  # weight files load into a masked model


def test_sparse_backend_is_bitwise_deterministic_and_resumes_to_the_same_numbers(tmp_path):
    cfg = RunConfig(method="set", epsilon=3, backend="sparse", regrow_init="random", dropout=0.1, **{**SMALL, "epochs": 4})
    a = store.train(cfg, root=tmp_path / "a", progress=False)
    b = store.train(cfg, root=tmp_path / "b", progress=False)
    assert _strip(a.records) == _strip(b.records)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)

    class Stop(Exception):
        pass

    def stop_at_2(epoch, record):
        if epoch == 2:
            raise Stop

    run_dir = store.run_directory(cfg, tmp_path / "c")
    with pytest.raises(Stop):
        store.train(cfg, root=tmp_path / "c", progress=False, on_epoch_end=stop_at_2)
    assert (run_dir / "checkpoint.pt").exists() and not store.is_complete(run_dir)
    resumed = store.train(cfg, root=tmp_path / "c", progress=False)
    assert _strip(resumed.records) == _strip(a.records)
    sr = resumed.state_dict()
    assert all(torch.equal(sa[k], sr[k]) for k in sa)


def test_auto_backend_picks_sparse_layers_by_measured_density_threshold():
    low = np.zeros((100, 100), bool)
    low.flat[: int(AUTO_SPARSE_MAX_DENSITY * 10_000)] = True
    high = np.zeros((100, 100), bool)
    high.flat[: int(AUTO_SPARSE_MAX_DENSITY * 10_000) + 100] = True
    dense = np.ones((10, 100), bool)
    masks = [low, high, dense]
    assert sparse_layer_indices(RunConfig(backend="auto"), masks) == [0]
    assert sparse_layer_indices(RunConfig(backend="sparse"), masks) == [0, 1]
    assert sparse_layer_indices(RunConfig(backend="masked"), masks) == []
    assert sparse_layer_indices(RunConfig(method="dense", backend="sparse"), None) == []


# ---------------------------------------------------------------- device --


def test_device_resolution_and_cpu_checkpoints(tmp_path):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda'"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device"):
        RunConfig(device="tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("backend", ["masked", "sparse"])
def test_cuda_run_matches_cpu_and_saves_cpu_loadable_files(tmp_path, backend):
    common = dict(method="set", epsilon=3, backend=backend, **{**SMALL, "epochs": 2})
    cpu = store.train(RunConfig(device="cpu", **common), root=tmp_path, progress=False)
    gpu = store.train(RunConfig(device="cuda", **common), root=tmp_path, progress=False)
    assert gpu.summary["device"].startswith("cuda")
    state = torch.load(gpu.directory / "weights" / "final.pt", map_location=None)
    assert all(v.device.type == "cpu" for v in state.values())
    assert abs(cpu.final_test_acc - gpu.final_test_acc) <= 0.02


def test_evaluation_batches_bound_the_widest_layers_activations():
    from sparsetopo.training.loop import EVAL_ACTIVATION_BYTES, EVAL_BATCH, eval_batch_size, evaluate

    def mlp(*widths):
        return torch.nn.Sequential(*[torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:])])

    assert eval_batch_size(mlp(784, 1000, 10)) == EVAL_BATCH  # every network of the study: numbers unchanged
    assert eval_batch_size(mlp(784, 16_384, 10)) == EVAL_BATCH
    assert eval_batch_size(mlp(784, 16_385, 10)) == EVAL_BATCH - 1
    wide = torch.nn.Linear(1, 1)
    wide.out_features = 333_334
    assert eval_batch_size(wide) == 201 and 201 * 4 * 333_334 <= EVAL_ACTIVATION_BYTES
    torch.manual_seed(0)
    model, x, y = mlp(20, 30, 3), torch.randn(500, 20), torch.randint(0, 3, (500,))
    loss, acc = evaluate(model, x, y)
    small_loss, small_acc = evaluate(model, x, y, batch_size=7)
    assert acc == small_acc and small_loss == pytest.approx(loss, rel=1e-6)
