import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from sparsetopo import store
from sparsetopo.store.config import RunConfig, run_id
from sparsetopo.topology.masks import edge_counts

SMALL = dict(dataset="digits", hidden=(32, 32), epochs=3, batch_size=64, lr=0.05, snapshot_every=1)


def test_static_training_keeps_edge_count_and_pruned_weights_zero():
    run = store.train(RunConfig(method="static", epsilon=3, **SMALL), progress=False)
    init = run.topology(0)
    assert all(rec["edges"] == edge_counts(init) for rec in run.records)
    final = run.state_dict()
    for k, m in enumerate(init):
        w = final[f"layers.{k}.weight"].numpy()
        assert np.array_equal(final[f"layers.{k}.mask"].numpy(), m)
        assert (w[~m] == 0).all()
        assert (w[m] != 0).mean() > 0.9


def test_set_training_rewires_every_epoch_but_the_last_with_constant_edges():
    run = store.train(RunConfig(method="set", epsilon=3, zeta=0.3, **SMALL), progress=False)
    recs = run.records
    assert all(r["edges"] == recs[0]["edges"] for r in recs)
    assert recs[0]["removed"][0] > 0 and recs[0]["removed"][0] == recs[0]["regrown"][0]
    assert recs[-1]["removed"] == [0, 0, 0]
    assert recs[0]["removed"][2] == 0  # dense output layer is not rewired
    topo = [run.topology(e) for e in run.snapshot_epochs()]
    assert not np.array_equal(topo[0][0], topo[1][0])
    rates = [r["explored_rate"] for r in recs]
    assert rates == sorted(rates) and rates[-1] > rates[0]


def test_dense_training_learns_digits():
    run = store.train(RunConfig(method="dense", **{**SMALL, "epochs": 5}), progress=False)
    assert run.final_test_acc > 0.9
    assert run.summary["edges"] == [64 * 32, 32 * 32, 32 * 10]


def test_same_config_gives_bitwise_identical_metrics_and_topologies(tmp_path):
    cfg = RunConfig(method="set", epsilon=3, **SMALL)
    a = store.train(cfg, root=tmp_path / "a", progress=False)
    b = store.train(cfg, root=tmp_path / "b", progress=False)
    drop = ("epoch_time", "train_time")
    strip = lambda recs: [{k: v for k, v in r.items() if k not in drop} for r in recs]
    assert strip(a.records) == strip(b.records)
    for e in a.snapshot_epochs():
        assert all(np.array_equal(x, y) for x, y in zip(a.topology(e), b.topology(e)))
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_different_seeds_give_different_topologies(tmp_path):
    a = store.train(RunConfig(method="static", epsilon=3, **{**SMALL, "epochs": 1}), progress=False)
    b = store.train(RunConfig(method="static", epsilon=3, **{**SMALL, "epochs": 1, "seed": 1}), progress=False)
    assert not np.array_equal(a.topology(0)[0], b.topology(0)[0])


def test_completed_run_is_returned_from_the_store_without_training(monkeypatch):
    cfg = RunConfig(method="static", epsilon=3, **{**SMALL, "epochs": 1})
    first = store.train(cfg, progress=False)
    import sparsetopo.training.loop as training

    monkeypatch.setattr(training, "train_run", lambda *a, **k: pytest.fail("retrained a complete run"))
    again = store.train(cfg, progress=False)
    assert again.summary == first.summary


def test_run_directory_is_readable_slug_plus_hash():
    cfg = RunConfig(method="set", epsilon=20, hidden=(100, 100), dataset="digits", seed=3)
    name = run_id(cfg)
    assert name.startswith("digits-set-eps20-h100x100-s3-")
    assert len(name.rsplit("-", 1)[1]) == 8
    assert run_id(cfg) != run_id(cfg.replace(zeta=0.2))


def test_validation_split_is_reported_when_configured():
    run = store.train(RunConfig(method="dense", validation_fraction=0.2, **{**SMALL, "epochs": 1}), progress=False)
    assert "val_acc" in run.records[0]


def test_killed_run_resumes_to_the_same_final_numbers(tmp_path):
    cfg = RunConfig(method="set", epsilon=3, **{**SMALL, "epochs": 6})
    reference = store.train(cfg, root=tmp_path / "ref", progress=False)

    root = tmp_path / "killed"
    run_dir = store.run_directory(cfg, root)
    script = (
        "import torch, time, sparsetopo.training.loop as t\n"
        "torch.set_num_threads(1)\n"
        "from sparsetopo import store\n"
        "from sparsetopo.store.config import RunConfig\n"
        f"import json\ncfg = RunConfig.from_dict(json.loads({json.dumps(cfg.to_dict())!r}))\n"
        "store.train(cfg, root=%r, progress=False,\n"
        "            on_epoch_end=lambda e, r: time.sleep(60) if e == 3 else None)\n" % str(root)
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            ckpt = run_dir / "metrics.json"
            if ckpt.exists() and len(json.loads(ckpt.read_text())) == 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the training subprocess never reached epoch 3")
        time.sleep(0.5)  # the checkpoint is written right after metrics.json
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (run_dir / "checkpoint.pt").exists() and not store.is_complete(run_dir)
    resumed = store.train(cfg, root=root, progress=False)
    drop = ("epoch_time", "train_time")
    strip = lambda recs: [{k: v for k, v in r.items() if k not in drop} for r in recs]
    assert strip(resumed.records) == strip(reference.records)
    assert all(np.array_equal(a, b) for a, b in zip(resumed.topology(), reference.topology()))


def test_sweep_returns_tidy_frame_one_row_per_run_and_epoch():
    cfgs = [RunConfig(method=m, epsilon=3, **{**SMALL, "epochs": 2}) for m in ("static", "set")]
    df = store.sweep(cfgs, n_jobs=2, progress=False)
    assert len(df) == 4
    assert set(df["method"]) == {"static", "set"}
    assert {"epoch", "test_acc", "run_id", "epsilon"} <= set(df.columns)
    again = store.sweep(cfgs, n_jobs=1, progress=False)
    assert again["test_acc"].tolist() == df["test_acc"].tolist()


def test_bad_config_errors_name_the_field():
    with pytest.raises(ValueError, match="method"):
        RunConfig(method="magic")
    with pytest.raises(ValueError, match="one of epsilon, density or layer_edges"):
        RunConfig(method="static", epsilon=3, density=0.1)
    with pytest.raises(ValueError, match="zeta"):
        RunConfig(method="set", zeta=1.2)


def test_run_topology_comes_as_masks_or_csr_layers_and_wide_snapshots_stay_sparse(monkeypatch):
    import scipy.sparse as sp

    import sparsetopo.store.runs as runs

    run = store.train(RunConfig(method="static", epsilon=3, **SMALL), progress=False)
    masks = run.topology(0)
    assert all(isinstance(m, np.ndarray) and m.dtype == bool for m in masks)
    assert all(np.array_equal(m, d) for m, d in zip(masks, run.topology(0, sparse=False)))
    csr = run.topology(0, sparse=True)
    assert all(sp.issparse(c) and np.array_equal(c.toarray() != 0, m) for c, m in zip(csr, masks))
    # a layer above the dense limit: the default reads the snapshot as CSR layers, never as a mask
    import sparsetopo.topology.masks as masks_module

    monkeypatch.setattr(masks_module, "DENSE_MASK_MAX_POSITIONS", 64 * 32 - 1)
    monkeypatch.setattr(runs, "load_topology", lambda *a, **k: pytest.fail("densified a wide snapshot"))
    assert all(sp.issparse(c) for c in run.topology(0))
