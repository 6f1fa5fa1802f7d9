"""The contract every registered mask updater passes, on both backends, through a real training run.

- edge counts: exactly the run's Erdős–Rényi counts at every epoch where the method promises them (static,
  SET, RigL, SNIP: always; gradual magnitude pruning: from its end epoch on, never more edges than before);
- masks act: absent weights are zero in the weights and in the optimiser state;
- a run interrupted after an epoch and resumed gives the numbers of an uninterrupted run, bit for bit;
- the output layer is left alone unless asked (it stays dense, nothing removed or grown there);
- the explored-parameter rate is recorded every epoch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparsetopo import store
from sparsetopo.store.config import RunConfig
from sparsetopo.topology.masks import edge_counts
from sparsetopo.training.checkpoint import load_checkpoint
from sparsetopo.training.updaters import UPDATERS

SMALL = dict(dataset="digits", hidden=(32, 24), epochs=3, batch_size=64, lr=0.05, epsilon=4.0)
# options that make every method act several times in three short epochs (22 steps each)
OPTIONS = {"rigl": {"update_every": 5}, "gmp": {"prune_every": 5}}
TIMES = ("epoch_time", "train_time")


def _config(method: str, backend: str, **changes) -> RunConfig:
    options = OPTIONS.get(method)
    return RunConfig(method=method, backend=backend, **{**SMALL, **changes},
                     **({"method_options": options} if options else {}))


def _strip(records):
    return [{k: v for k, v in r.items() if k not in TIMES} for r in records]


class _Stop(Exception):
    pass


@pytest.fixture(params=["masked", "sparse"])
def backend(request):
    return request.param


@pytest.mark.parametrize("method", sorted(UPDATERS))
def test_every_updater_keeps_its_edge_counts_and_leaves_the_output_layer_alone(method, backend, tmp_path):
    config = _config(method, backend)
    run = store.train(config, root=tmp_path, progress=False)
    target = edge_counts(store.train(_config("static", backend), root=tmp_path, progress=False).topology(0))
    edges = [r["edges"] for r in run.records]
    if UPDATERS[method].exact_counts == "always":
        assert all(e == target for e in edges), (method, edges, target)
        assert edge_counts(run.topology(0)) == target
    else:  # from dense, never growing, exact from the end of its schedule
        totals = [sum(e) for e in edges]
        assert totals == sorted(totals, reverse=True) and edges[-1] == target
    out = len(target) - 1
    assert run.topology(run.snapshot_epochs()[-1])[out].all()  # the output layer stays dense
    assert all(r["removed"][out] == 0 and r["regrown"][out] == 0 for r in run.records)
    assert all(0 < r["explored_rate"] <= 1 for r in run.records)
    final = run.state_dict()
    for k, mask in enumerate(run.topology(run.snapshot_epochs()[-1])):
        assert np.array_equal(final[f"layers.{k}.mask"].numpy(), mask)
        assert (final[f"layers.{k}.weight"].numpy()[~mask] == 0).all()


@pytest.mark.parametrize("method", sorted(UPDATERS))
def test_every_updater_resumes_bit_for_bit_with_masks_in_the_optimiser_state(method, backend, tmp_path):
    config = _config(method, backend)
    whole = store.train(config, root=tmp_path / "whole", progress=False)

    def stop_after_first(epoch, record):
        if epoch == 1:
            raise _Stop

    with pytest.raises(_Stop):
        store.train(config, root=tmp_path / "cut", progress=False, on_epoch_end=stop_after_first)
    ckpt = load_checkpoint(store.run_directory(config, tmp_path / "cut") / "checkpoint.pt")
    model_state, optimiser_state = ckpt["model"], ckpt["optimizer"]["state"]
    for name, value in model_state.items():
        if name.endswith(".weight") and f"{name[:-len('.weight')]}.mask" in model_state:
            mask = model_state[f"{name[:-len('.weight')]}.mask"]
            assert (value[~mask] == 0).all()
            momentum = [s["momentum_buffer"] for s in optimiser_state.values()
                        if torch.is_tensor(s.get("momentum_buffer")) and s["momentum_buffer"].shape == value.shape]
            assert all((m[~mask] == 0).all() for m in momentum)
    resumed = store.train(config, root=tmp_path / "cut", progress=False)
    assert _strip(resumed.records) == _strip(whole.records)
    for e in whole.snapshot_epochs():
        assert all(np.array_equal(a, b) for a, b in zip(whole.topology(e), resumed.topology(e)))
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- each method does what it says in a real run ------------------------------------------------------------------
def test_rigl_moves_edges_at_its_update_steps_and_stops_after_its_end(tmp_path):
    run = store.train(RunConfig(method="rigl", method_options={"update_every": 5, "update_end": 0.5}, **SMALL),
                      root=tmp_path, progress=False)
    # 22 steps per epoch, 66 in all, T_end = round(0.5 * 66) = 33: updates at steps 5, 10, ..., 30 (epochs 1-2)
    moved = [r["removed"][0] for r in run.records]
    assert moved[0] > 0 and moved[1] > 0 and moved[2] == 0
    assert all(r["removed"] == r["regrown"] for r in run.records)
    assert run.records[-1]["explored_rate_layers"][0] > run.records[0]["explored_rate_layers"][0] - 1e-12


def test_snip_prunes_at_initialisation_to_the_static_counts_with_another_topology(tmp_path):
    snip = store.train(RunConfig(method="snip", **SMALL), root=tmp_path, progress=False)
    static = store.train(RunConfig(method="static", **SMALL), root=tmp_path, progress=False)
    assert edge_counts(snip.topology(0)) == edge_counts(static.topology(0))
    assert not np.array_equal(snip.topology(0)[0], static.topology(0)[0])
    assert all(np.array_equal(a, b) for a, b in zip(snip.topology(0), snip.topology(3)))  # static afterwards
    assert snip.records[0]["explored_rate"] == snip.records[-1]["explored_rate"] < 1


def test_gmp_starts_dense_and_follows_its_cubic_schedule(tmp_path):
    config = RunConfig(method="gmp", method_options={"prune_every": 11, "prune_end_epoch": 2}, **SMALL)
    run = store.train(config, root=tmp_path, progress=False)
    n = 64 * 32  # the first layer's positions (digits: 64 features)
    assert run.topology(0)[0].all() and run.records[0]["explored_rate_layers"][0] == 1.0
    target = edge_counts(store.train(RunConfig(method="static", **SMALL), root=tmp_path, progress=False).topology(0))
    # 22 steps per epoch; pruning steps 11, 22 (p = 1/2: 1/8 of the way back at the end of epoch 1), 33, 44 (the target)
    assert run.records[0]["edges"][0] == target[0] + round((n - target[0]) * 0.125)
    assert run.records[1]["edges"] == run.records[2]["edges"] == target
