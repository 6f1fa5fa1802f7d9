"""Sparse end to end: index-set topologies, CSR-built models, rewiring and records linear in edges.

The fixture ``fixtures/small_runs_before_sparse_topologies.json`` holds :func:`_fingerprint`
of the runs in ``_CASES``, trained with ``torch.set_num_threads(1)`` (as here, see conftest)
by the code before index-set topologies (commit 3692bca).
"""

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sparsetopo import store
from sparsetopo.model import MaskedLinear, SparseLinear, model_from_state_dict, to_sparse_backend
from sparsetopo.store.config import RunConfig, run_id
from sparsetopo.topology.masks import load_topology, masks_from_state_dict, random_topology, save_topology
from sparsetopo.topology.sparse import (
    SparseLayer,
    load_sparse_topology,
    random_sparse_topology,
    save_sparse_topology,
)
from sparsetopo.training.build import build_model
from sparsetopo.training.checkpoint import load_checkpoint
from sparsetopo.training.loop import sparse_layer_indices
from sparsetopo.training.set_rewiring import prune_and_regrow, prune_and_regrow_sparse
from sparsetopo.training.updaters import Plan, UpdateContext
from sparsetopo.training.updaters.set import SetUpdater, _rewire_sparse

FIXTURE = Path(__file__).parent / "fixtures" / "small_runs_before_sparse_topologies.json"


def _set_rewire(model, optimizer, cfg, rng, ever):
    """One SET rewiring of every sparse layer through the SET updater, with ``rng`` as its generator."""
    updater = SetUpdater(cfg.options, Plan(epochs=2, steps_per_epoch=1, seed=cfg.seed, weight_init=cfg.weight_init))
    updater.rng = rng
    ctx = UpdateContext(model, optimizer, updater.plan, ever_active=ever)
    updater.at_epoch_end(ctx, 1)
    return {"removed": ctx.removed, "regrown": ctx.grown}


@pytest.mark.parametrize("kwargs", [dict(epsilon=3), dict(density=0.2, sparse_output=True), dict(layer_edges=(5, 64, 9))])
def test_sparse_random_topology_has_the_dense_ones_edges(kwargs):
    widths = (30, 20, 8, 3)
    dense = random_topology(widths, seed=7, **kwargs)
    sparse = random_sparse_topology(widths, seed=7, **kwargs)
    assert [np.array_equal(layer.to_mask(), m) for layer, m in zip(sparse, dense)] == [True] * 3
    assert all(np.array_equal(layer.index, np.flatnonzero(m.ravel())) for layer, m in zip(sparse, dense))


def test_sparse_layer_refuses_unsorted_or_out_of_range_indices():
    with pytest.raises(ValueError, match="strictly increasing"):
        SparseLayer((3, 4), np.array([5, 2]))
    with pytest.raises(ValueError, match="strictly increasing"):
        SparseLayer((3, 4), np.array([0, 12]))
    with pytest.raises(ValueError, match="shape"):
        SparseLayer((0, 4), np.array([], dtype=np.int64))


def test_chunked_uniform_consumes_the_generator_as_one_call():
    torch.manual_seed(11)
    whole = torch.empty(300, 4001).uniform_(-0.5, 0.5)
    after_whole = torch.rand(3)
    torch.manual_seed(11)
    pieces = torch.empty(300 * 4001)
    for start in range(0, pieces.numel(), 1_000_003):
        pieces[start : start + 1_000_003].uniform_(-0.5, 0.5)
    assert torch.equal(whole.view(-1), pieces) and torch.equal(torch.rand(3), after_whole)


@pytest.mark.parametrize("weight_init", ["sparse", "dense", "he_uniform"])
@pytest.mark.parametrize("init_draws", ["dense_stream", "edges"])
def test_csr_built_model_equals_the_masked_model_converted(weight_init, init_draws, monkeypatch):
    import sparsetopo.training.build as build

    monkeypatch.setattr(build, "DRAW_CHUNK", 100)  # several chunks per layer
    cfg = RunConfig(method="set", epsilon=3, weight_init=weight_init, init_draws=init_draws, seed=3, backend="sparse")
    widths = [40, 33, 21, 5]
    topo = random_sparse_topology(widths, epsilon=3, seed=1)
    masked = build_model(cfg, widths, [t.to_mask() for t in topo])
    converted = to_sparse_backend(masked, [0, 1])
    direct = build_model(cfg, widths, topo, sparse_layers=[0, 1])
    assert [type(layer) for layer in direct.layers] == [SparseLinear, SparseLinear, MaskedLinear]
    a, b = converted.state_dict(), direct.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for k in (0, 1):  # the direct model's values are the masked weights at the edges, in CSR order
        assert torch.equal(direct.layers[k].values, masked.layers[k].values)
    assert torch.equal(direct.layers[2].weight, masked.layers[2].weight)


def test_edges_draws_are_one_per_edge_and_differ_from_the_dense_stream():
    widths = [50, 40, 10]
    topo = random_sparse_topology(widths, epsilon=2, seed=0)
    cfg = RunConfig(method="static", epsilon=2, init_draws="edges", weight_init="dense", seed=5)
    model = build_model(cfg, widths, topo, sparse_layers=[0])
    torch.manual_seed(5)
    bound = 1 / np.sqrt(50)
    expected = torch.empty(topo[0].n_edges).uniform_(-bound, bound)
    assert torch.allclose(model.layers[0].values, expected, rtol=0, atol=1e-7)
    stream = build_model(cfg.replace(init_draws="dense_stream"), widths, topo, sparse_layers=[0])
    assert not torch.equal(model.layers[0].values, stream.layers[0].values)


def _random_layer(r: np.random.Generator):
    n_out, n_in = (int(v) for v in r.integers(1, 30, size=2))
    density = float(r.choice([0.02, 0.2, 0.6, 0.95, 0.999]))
    mask = r.random((n_out, n_in)) < density
    # rounded values make ties, and some present weights are exactly zero
    weight = (np.round(r.normal(size=(n_out, n_in)), int(r.integers(0, 2))) * mask).astype(np.float32)
    return mask, weight


@pytest.mark.parametrize("sampler", ["choice", "rejection"])
def test_sparse_rewiring_equals_the_dense_one(sampler):
    for trial in range(400):
        r = np.random.default_rng(trial)
        mask, weight = _random_layer(r)
        zeta = float(r.choice([0.0, 0.05, 0.3, 0.5, 0.99]))
        dense_rng, sparse_rng = np.random.default_rng(trial + 1), np.random.default_rng(trial + 1)
        new_mask, removed, grown, n = prune_and_regrow(weight, mask, zeta, dense_rng, sampler=sampler)
        index = np.flatnonzero(mask.ravel())
        new_index, removed_idx, grown_idx = prune_and_regrow_sparse(index, weight.ravel()[index], mask.shape, zeta,
                                                                    sparse_rng, sampler=sampler)
        assert np.array_equal(new_index, np.flatnonzero(new_mask.ravel())), trial
        assert np.array_equal(removed_idx, np.flatnonzero(removed.ravel())) and removed_idx.size == n
        assert np.array_equal(grown_idx, np.flatnonzero(grown.ravel()))
        assert dense_rng.integers(1 << 60) == sparse_rng.integers(1 << 60)  # the same draws consumed
        _, _, _, kept_from, regrown_from = prune_and_regrow_sparse(index, weight.ravel()[index], mask.shape, zeta,
                                                                   np.random.default_rng(trial + 1), sampler=sampler,
                                                                   with_sources=True)
        kept = kept_from >= 0
        assert np.array_equal(index[kept_from[kept]], new_index[kept]) and np.array_equal(new_index[~kept], grown_idx)
        again = regrown_from >= 0
        assert np.array_equal(index[regrown_from[again]], grown_idx[again])
        assert set(grown_idx[again]) == set(grown_idx) & set(removed_idx)


@pytest.mark.parametrize("sampler", ["choice", "rejection"])
def test_sparse_rewiring_equals_the_dense_one_on_layers_numpy_samples_differently(sampler):
    # more than 10,000 positions and few regrown: numpy's choice takes its set-based branch
    r = np.random.default_rng(0)
    mask = r.random((200, 300)) < 0.01
    weight = (r.normal(size=mask.shape) * mask).astype(np.float32)
    new_mask, _, grown, _ = prune_and_regrow(weight, mask, 0.3, np.random.default_rng(9), sampler=sampler)
    index = np.flatnonzero(mask.ravel())
    new_index, _, grown_idx = prune_and_regrow_sparse(index, weight.ravel()[index], mask.shape, 0.3,
                                                      np.random.default_rng(9), sampler=sampler)
    assert np.array_equal(new_index, np.flatnonzero(new_mask.ravel()))
    assert np.array_equal(grown_idx, np.flatnonzero(grown.ravel()))


def test_choice_on_a_count_draws_the_same_indices_as_on_the_array():
    for n, k in [(50, 20), (20_000, 100), (20_000, 5_000)]:
        empty = np.sort(np.random.default_rng(n).choice(10 * n, size=n, replace=False))
        a = np.random.default_rng(1).choice(empty, size=k, replace=False)
        b = empty[np.random.default_rng(1).choice(n, size=k, replace=False)]
        assert np.array_equal(a, b)


@pytest.mark.parametrize("regrow_init", ["zero", "random"])
@pytest.mark.parametrize("weight_init", ["sparse", "he_uniform"])
def test_sparse_layer_rewiring_gives_the_masked_layers_numbers(regrow_init, weight_init):
    cfg = RunConfig(method="set", epsilon=4, zeta=0.4, regrow_init=regrow_init, weight_init=weight_init, seed=2)
    widths = [30, 25, 20, 4]
    topo = random_sparse_topology(widths, epsilon=4, seed=3)
    masked = build_model(cfg, widths, topo)
    sparse = build_model(cfg, widths, topo, sparse_layers=[0, 1])
    optimizers = [torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) for model in (masked, sparse)]
    masked(torch.randn(16, 30, generator=torch.Generator().manual_seed(0))).sum().backward()
    optimizers[0].step()
    with torch.no_grad():  # the same weights and momentum in both models (their gradients round differently)
        for k in (0, 1):
            a, b = masked.layers[k], sparse.layers[k]
            a.weight[a.mask & (torch.arange(a.weight.numel()).view(a.weight.shape) % 7 == 0)] = 0.0  # present zeros
            b.values.copy_(a.weight[a.mask])
            optimizers[1].state[b.values]["momentum_buffer"] = optimizers[0].state[a.weight]["momentum_buffer"][a.mask].clone()
    ever = [[t.index.copy() for t in topo] for _ in range(2)]
    counts = [_set_rewire(m, o, cfg, np.random.default_rng(4), e) for m, o, e in zip((masked, sparse), optimizers, ever)]
    assert counts[0] == counts[1] and counts[0]["removed"][0] > 0
    for k in (0, 1):
        a, b = masked.layers[k], sparse.layers[k]
        mask = a.mask
        assert torch.equal(b.mask, mask)
        assert torch.equal(a.weight.detach()[mask], b.values.detach())
        ma = optimizers[0].state[a.weight]["momentum_buffer"][mask]
        assert torch.equal(ma, optimizers[1].state[b.values]["momentum_buffer"])
        assert np.array_equal(ever[0][k], ever[1][k])


def test_regrown_after_pruning_keeps_the_sign_of_zero_of_the_dense_remap():
    layer = SparseLinear(torch.tensor([[-1.0, 2.0, 0.0]]), torch.tensor([[True, True, False]]))
    new = SparseLayer((1, 3), np.array([0, 2]))
    # both new edges regrown: position 0 pruned and regrown at once (old edge 0), position 2 empty before
    _rewire_sparse(layer, None, new, np.array([-1, -1]), np.array([0, -1]), None)
    values = layer.values.detach()
    assert values.tolist() == [0.0, 0.0] and torch.signbit(values).tolist() == [True, False]


def test_huge_sparse_layer_builds_rewires_and_saves_without_densifying(tmp_path):
    # 200,000 x 200,000 = 4e10 positions: any dense array of it would need 40 GB
    widths = [200_000, 200_000, 3]
    cfg = RunConfig(method="set", layer_edges=(400, 600_000), init_draws="edges", backend="sparse", regrow_init="random")
    topo = random_sparse_topology(widths, layer_edges=(400, 600_000), seed=0)
    assert sparse_layer_indices(cfg, topo) == [0]
    model = build_model(cfg, widths, topo, sparse_layers=[0])
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ever = [t.index.copy() for t in topo]
    for sampler in ("choice", "rejection"):
        counts = _set_rewire(model, opt, cfg.replace(regrow_sampler=sampler), np.random.default_rng(0), ever)
        assert counts["removed"][0] == counts["regrown"][0] > 0 and model.layers[0].nnz == 400
    from sparsetopo.training.build import model_topology
    path = save_sparse_topology(tmp_path / "t.npz", model_topology(model), epoch=1)
    layers, meta = load_sparse_topology(path)
    assert layers[0].n_edges == 400 and meta == {"epoch": 1} and ever[0].size > 400
    state = model.weight_file_state_dict()
    assert "layers.0.index" in state and "layers.0.weight" not in state and "layers.1.weight" in state
    again = model_from_state_dict(widths, state)
    assert torch.equal(again.layers[0].values, model.layers[0].values) and isinstance(again.layers[0], SparseLinear)


def test_sparse_snapshot_file_holds_the_dense_writers_arrays(tmp_path):
    topo = random_sparse_topology([20, 15, 4], epsilon=2, seed=0)
    save_topology(tmp_path / "dense.npz", [t.to_mask() for t in topo], epoch=3, config={"a": 1})
    save_sparse_topology(tmp_path / "sparse.npz", topo, epoch=3, config={"a": 1})
    read = lambda p: {n: zipfile.ZipFile(p).read(n) for n in zipfile.ZipFile(p).namelist()}
    assert read(tmp_path / "dense.npz") == read(tmp_path / "sparse.npz")
    layers, meta = load_sparse_topology(tmp_path / "dense.npz")
    masks, meta2 = load_topology(tmp_path / "sparse.npz")
    assert layers == topo and meta == meta2 and all(np.array_equal(m, t.to_mask()) for m, t in zip(masks, topo))


def test_weight_files_of_small_layers_keep_the_masked_layout():
    cfg = RunConfig(method="static", epsilon=2, backend="sparse")
    topo = random_sparse_topology([20, 15, 4], epsilon=2, seed=0)
    model = build_model(cfg, [20, 15, 4], topo, sparse_layers=[0])
    a, b = model.dense_state_dict(), model.weight_file_state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    small = model.weight_file_state_dict(max_dense_entries=10)
    assert [np.array_equal(x, y) for x, y in zip(masks_from_state_dict(small), masks_from_state_dict(a))] == [True, True]
    assert torch.equal(model_from_state_dict([20, 15, 4], small)(torch.ones(2, 20)), model(torch.ones(2, 20)))


def _fingerprint(run_dir: Path) -> dict:
    out = {}
    recs = json.loads((run_dir / "metrics.json").read_text())
    out["metrics"] = [{k: v for k, v in r.items() if k not in ("epoch_time", "train_time")} for r in recs]
    for p in sorted((run_dir / "topology").glob("*.npz")):
        with zipfile.ZipFile(p) as z:
            out[f"topology/{p.name}"] = {n: hashlib.sha256(z.read(n)).hexdigest() for n in sorted(z.namelist())}
    for p in sorted((run_dir / "weights").glob("*.pt")):
        sd = torch.load(p, weights_only=True)
        out[f"weights/{p.name}"] = {k: hashlib.sha256(v.numpy().tobytes()).hexdigest() + str(v.dtype) + str(tuple(v.shape))
                                    for k, v in sd.items()}
    return out


_SMALL = dict(dataset="digits", hidden=(32, 32), epochs=3, batch_size=64, lr=0.05, snapshot_every=1, epsilon=3)
_CASES = {  # the runs the fixture recorded with the code before index-set topologies (benchmarks: same configs)
    "set_sparse_random_rejection": dict(method="set", backend="sparse", regrow_init="random", regrow_sampler="rejection",
                                        weight_init="he_uniform"),
    "set_sparse_random_dense_init": dict(method="set", backend="sparse", regrow_init="random", weight_init="dense", zeta=0.5),
    "static_sparse": dict(method="static", backend="sparse"),
    "set_masked": dict(method="set"),
}


@pytest.mark.parametrize("name", sorted(_CASES))
def test_runs_give_the_numbers_and_files_recorded_before_index_set_topologies(name, tmp_path):
    expected = json.loads(FIXTURE.read_text())[name]
    cfg = RunConfig(**{**_SMALL, **_CASES[name]})
    assert run_id(cfg) == expected["run_id"]
    run = store.train(cfg, root=tmp_path, progress=False)
    assert {"run_id": run.directory.name, **_fingerprint(run.directory)} == expected


def test_checkpoint_with_dense_explored_masks_still_loads(tmp_path):
    import sparsetopo.training.checkpoint as checkpoint

    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 2] = mask[2, 0] = True
    torch.save({"format": 2, "epoch": 1, "model": {}, "optimizer": {}, "scheduler": {}, "shuffle_gen": torch.zeros(1),
                "set_rng": json.dumps({}), "ever_active": [torch.from_numpy(mask)], "records": "[]"}, tmp_path / "c.pt")
    assert checkpoint.load_checkpoint(tmp_path / "c.pt")["ever_active"][0].tolist() == [6, 8]


def test_sparse_run_resumes_bitwise_with_index_set_records(tmp_path):
    cfg = RunConfig(**{**_SMALL, "method": "set", "backend": "sparse", "regrow_init": "random", "init_draws": "edges"})
    full = store.train(cfg, root=tmp_path / "full", progress=False)

    class Stop(Exception):
        pass

    def stop(epoch, record):
        if epoch == 2:
            raise Stop

    from sparsetopo.training.loop import train_run
    run_dir = tmp_path / "cut" / "run"
    with pytest.raises(Stop):
        train_run(cfg, run_dir, progress=False, on_epoch_end=stop)
    assert load_checkpoint(run_dir / "checkpoint.pt")["ever_active"][0].dtype == np.int64
    resumed = train_run(cfg, run_dir, progress=False)
    strip = lambda recs: [{k: v for k, v in r.items() if k not in ("epoch_time", "train_time")} for r in recs]
    assert strip(json.loads((run_dir / "metrics.json").read_text())) == strip(full.records)
    assert resumed["explored_rate"] == full.summary["explored_rate"]


def test_sparse_backend_training_never_builds_a_dense_layer(monkeypatch, tmp_path):
    import sparsetopo.training.loop as loop
    import sparsetopo.training.updaters.set as set_updater

    def refuse(*args, **kwargs):
        raise AssertionError("a dense (n_out, n_in) form of a sparse layer was built")

    monkeypatch.setattr(SparseLinear, "mask", property(refuse))
    monkeypatch.setattr(SparseLinear, "weight_dense", property(refuse))
    monkeypatch.setattr(SparseLayer, "to_mask", refuse)
    monkeypatch.setattr(set_updater, "prune_and_regrow", refuse)
    import sparsetopo.model as model_module
    monkeypatch.setattr(model_module, "DENSE_WEIGHT_FILE_MAX_ENTRIES", 0)  # every sparse layer saved sparse
    cfg = RunConfig(**{**_SMALL, "method": "set", "backend": "sparse", "sparse_output": True, "rewire_output": True,
                       "regrow_init": "random"})
    summary = loop.train_run(cfg, tmp_path / "run", progress=False)
    assert summary["backend_layers"] == ["sparse"] * 3
    state = torch.load(tmp_path / "run" / "weights" / "final.pt", weights_only=True)
    assert "layers.2.index" in state and not any(k.endswith("weight") for k in state)
    monkeypatch.undo()
    layers, _ = load_sparse_topology(tmp_path / "run" / "topology" / "epoch_003.npz")
    assert [np.array_equal(m, t.to_mask()) for m, t in zip(masks_from_state_dict(state), layers)] == [True] * 3


def test_module_topology_reads_the_sparse_weight_file_layout():
    from sparsetopo.topology.modules import topology_from_state_dict

    cfg = RunConfig(method="static", epsilon=2, backend="sparse")
    topo = random_sparse_topology([20, 15, 4], epsilon=2, seed=0)
    model = build_model(cfg, [20, 15, 4], topo, sparse_layers=[0])
    dense = topology_from_state_dict(model.dense_state_dict())
    sparse = topology_from_state_dict(model.weight_file_state_dict(max_dense_entries=10))
    assert [np.array_equal(a, b) for a, b in zip(dense.masks, sparse.masks)] == [True, True]
