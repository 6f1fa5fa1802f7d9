"""The run store never serves a wrong run as a finished one."""

from __future__ import annotations

import errno
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

from sparsetopo import atomic, store
from sparsetopo.data import register_arrays
from sparsetopo.errors import DamagedRunError, NonFiniteLossError, RunLockTimeout, StoreWriteError, UnsafeFileError
from sparsetopo.store import locking as _locking
from sparsetopo.store.config import RunConfig, run_id
from sparsetopo.store.locking import _existence_lock, run_lock
from sparsetopo.topology.masks import random_topology, save_topology
from sparsetopo.training.checkpoint import load_checkpoint

TINY = dict(dataset="digits", hidden=(16,), method="static", epsilon=2, epochs=2, batch_size=128, lr=0.05)


def _strict_json(path: Path):
    def reject(token):
        raise ValueError(f"{path} holds {token}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=reject)


# ------------------------------------------------------------------ data is part of the id


def test_reregistered_data_gets_a_new_run_id_and_a_new_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSETOPO_DATA", str(tmp_path / "data"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] > 0).astype(int)
    register_arrays("mydata", X, y)
    cfg = RunConfig(**{**TINY, "dataset": "mydata", "hidden": (8,), "epsilon": 1})
    first = store.train(cfg, progress=False)
    register_arrays("mydata", X, rng.permutation(y))
    assert run_id(cfg) != first.directory.name
    second = store.train(cfg, progress=False)
    assert second.directory != first.directory
    assert second.records != first.records


# ------------------------------------------------------------------ verified completeness


def test_result_json_records_every_file_with_size_and_checksum():
    run = store.train(RunConfig(**TINY), progress=False)
    files = run.summary["files"]
    on_disk = sorted(p.relative_to(run.directory).as_posix() for p in run.directory.rglob("*")
                     if p.is_file() and not p.name.startswith(".") and p.name != "result.json")
    assert sorted(files) == on_disk
    assert {"config.json", "metrics.json", "weights/final.pt", "topology/epoch_002.npz"} <= set(files)
    assert all(files[f]["bytes"] == (run.directory / f).stat().st_size for f in files)


@pytest.mark.parametrize(
    "damage, culprit",
    [
        (lambda d: (d / "metrics.json").write_text((d / "metrics.json").read_text()[:40]), "metrics.json"),
        (lambda d: (d / "topology" / "epoch_001.npz").unlink(), "epoch_001.npz"),
        (lambda d: _flip_byte(d / "weights" / "final.pt"), "final.pt"),
        (lambda d: (d / "result.json").write_text('{"final_test_acc": 0.9'), "result.json"),
        (lambda d: (d / "result.json").write_text('{"final_test_acc": 0.99, "run_id": "x"}'), "result.json"),
    ],
    ids=["truncated-metrics", "missing-snapshot", "corrupt-weights", "truncated-result", "foreign-result"],
)
def test_damaged_run_is_named_never_served_and_retrained_identically(damage, culprit):
    cfg = RunConfig(**TINY)
    good = store.train(cfg, progress=False)
    reference = good.records
    damage(good.directory)
    assert not store.is_complete(good.directory)
    with pytest.raises(DamagedRunError, match=culprit):
        store.load_run(good.directory)
    with pytest.warns(UserWarning, match=culprit):
        repaired = store.train(cfg, progress=False)
    assert repaired.records == [{**r, "train_time": s["train_time"], "epoch_time": s["epoch_time"]}
                                for r, s in zip(reference, repaired.records)]
    assert store.is_complete(repaired.directory)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ non-finite training


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_learning_rate_is_rejected_by_the_config(lr):
    with pytest.raises(ValueError, match="lr"):
        RunConfig(**{**TINY, "lr": lr})


def test_diverging_run_stops_with_epoch_and_advice_and_is_never_complete(tmp_path):
    cfg = RunConfig(**{**TINY, "lr": 1e4, "method": "dense", "epsilon": None, "epochs": 3})
    with pytest.raises(NonFiniteLossError, match=r"epoch 1 .*smaller learning rate"):
        store.train(cfg, progress=False)
    run_dir = store.run_directory(cfg)
    assert not store.is_complete(run_dir)
    for path in run_dir.rglob("*.json"):
        _strict_json(path)


def test_json_files_stay_valid_json_when_values_are_not_finite(tmp_path):
    atomic.write_json(tmp_path / "x.json", {"a": float("nan"), "b": [np.float32("inf"), 1.5]})
    assert _strict_json(tmp_path / "x.json") == {"a": None, "b": [None, 1.5]}


# ------------------------------------------------------------------ no debris


def test_rejected_configs_leave_no_folder(tmp_path):
    root = tmp_path / "runs"
    bad = [
        RunConfig(**{**TINY, "epsilon": 1e9}),
        RunConfig(**{**TINY, "epsilon": None, "layer_edges": (5, 5, 5)}),
    ]
    topo = tmp_path / "wrong.npz"
    save_topology(topo, random_topology([10, 5, 3], density=0.5))
    bad.append(RunConfig(**{**TINY, "epsilon": None, "initial_topology": str(topo)}))
    for cfg in bad:
        with pytest.raises(ValueError):
            store.train(cfg, root=root, progress=False)
    assert not root.exists() or not any(root.iterdir())


def test_interrupted_atomic_writes_leave_no_tmp_files_once_complete():
    cfg = RunConfig(**TINY)
    run_dir = store.run_directory(cfg)

    def plant(epoch, record):
        (run_dir / f".metrics.json.x{epoch}.tmp").write_text("half")
        (run_dir / "weights" / f".final.pt.y{epoch}.tmp").write_bytes(b"half")

    run = store.train(cfg, progress=False, on_epoch_end=plant)
    assert not list(run.directory.rglob("*.tmp*"))


def test_masks_handed_to_store_train_are_refused_and_leave_no_folder(tmp_path):
    cfg = RunConfig(**TINY)
    masks = random_topology([64, 16, 10], layer_edges=[50, 160], seed=1)
    with pytest.raises(TypeError, match="initial_topology"):
        store.train(cfg, masks=masks, progress=False)
    with pytest.raises(TypeError, match="initial_state"):
        store.train(cfg, initial_state={}, progress=False)
    assert not store.run_directory(cfg).exists()


# ------------------------------------------------------------------ safe loading


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_checkpoint_payload_is_refused_not_run(tmp_path):
    cfg = RunConfig(**TINY)
    run_dir = store.run_directory(cfg)
    run_dir.mkdir(parents=True)
    atomic.write_json(run_dir / "config.json", cfg.to_dict())
    marker = tmp_path / "payload-ran"
    torch.save({"epoch": 1, "model": _Payload(marker)}, run_dir / "checkpoint.pt")
    with pytest.raises(UnsafeFileError, match="checkpoint.pt"):
        store.train(cfg, progress=False)
    assert not marker.exists()


def test_checkpoint_loads_with_weights_only(tmp_path):
    cfg = RunConfig(**{**TINY, "method": "set", "zeta": 0.3, "epochs": 3})
    run_dir = store.run_directory(cfg)

    def stop(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.train(cfg, progress=False, on_epoch_end=stop)
    raw = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert raw["epoch"] == 2
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    assert len(ckpt["records"]) == 2 and ckpt["ever_active"][0].dtype == np.int64  # sorted flat positions
    resumed = store.train(cfg, progress=False)
    reference = store.train(cfg, root=tmp_path / "ref", progress=False)
    assert [r["test_loss"] for r in resumed.records] == [r["test_loss"] for r in reference.records]


# ------------------------------------------------------------------ unwritable store / full disk


def test_full_disk_names_path_and_cause_and_keeps_finished_epochs(tmp_path, monkeypatch):
    cfg = RunConfig(**{**TINY, "epochs": 3})
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):
        if str(dst).endswith("checkpoint.pt") and calls["n"] >= 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        if str(dst).endswith("checkpoint.pt"):
            calls["n"] += 1
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(StoreWriteError, match=r"checkpoint\.pt: No space left on device"):
        store.train(cfg, progress=False)
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    run_dir = store.run_directory(cfg)
    assert load_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 1
    assert not list(run_dir.rglob("*.tmp*"))
    resumed = store.train(cfg, progress=False)
    reference = store.train(cfg, root=tmp_path / "ref", progress=False)
    assert [r["test_loss"] for r in resumed.records] == [r["test_loss"] for r in reference.records]


def test_runs_root_that_is_a_file_gives_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreWriteError, match="cannot write the run store"):
        store.train(RunConfig(**TINY), root=blocker / "runs", progress=False)


def test_unwritable_nnstd_cache_still_returns_the_distance(tmp_path, monkeypatch):
    from sparsetopo.nnstd import pairwise as distances

    def no_space(path, result):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(distances, "_write_entry", no_space)
    a = random_topology([8, 6, 4], density=0.5, seed=0)
    b = random_topology([8, 6, 4], density=0.5, seed=1)
    with pytest.warns(UserWarning, match="No space left on device"):
        result = distances.cached_nnstd(a, b, cache_dir=tmp_path / "cache")
    assert result.mean == distances.cached_nnstd(a, b, use_cache=False).mean


# ------------------------------------------------------------------ one writer per run folder

_HOLD = """
import sys, time
from sparsetopo.store.locking import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def _hold_lock(run_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_waits_for_the_lock_and_a_killed_holder_frees_it(tmp_path):
    run_dir = tmp_path / "run"
    holder = _hold_lock(run_dir)
    try:
        with pytest.raises(RunLockTimeout, match=f"process {holder.pid}"):
            with run_lock(run_dir, timeout=0.5, announce=False):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    start = time.monotonic()
    with run_lock(run_dir, timeout=5, announce=False):
        pass
    assert time.monotonic() - start < 2


def test_store_train_waits_for_a_run_in_progress_then_returns_it(tmp_path):
    cfg = RunConfig(**TINY)
    run_dir = store.run_directory(cfg)
    holder = _hold_lock(run_dir)
    try:
        with pytest.raises(RunLockTimeout):
            store.train(cfg, progress=False, lock_timeout=0.3)
        assert not (run_dir / "result.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert store.train(cfg, progress=False, lock_timeout=5).final_test_acc > 0


def test_existence_lock_stale_rule(tmp_path):
    lock = tmp_path / ".lock"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0}))
    with _existence_lock(lock, timeout=1, announce=False, stale_after=3600):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(json.dumps({"pid": alive.pid, "host": socket.gethostname(), "since": 0}))
        with pytest.raises(RunLockTimeout, match=str(alive.pid)):
            with _existence_lock(lock, timeout=0.3, announce=False, stale_after=3600):
                pass
    finally:
        alive.kill()
        alive.wait()
    lock.write_text(json.dumps({"pid": 1, "host": "another-host", "since": 0}))
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    with _existence_lock(lock, timeout=1, announce=False, stale_after=3600):
        pass


def _train_in_child(cfg_dict, root, queue):
    run = store.train(RunConfig(**cfg_dict), root=root, progress=False)
    queue.put(run.records)


def test_two_processes_training_one_config_give_one_consistent_run(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # children share the imported modules: fast to start
    root = tmp_path / "shared"
    queue = ctx.Queue()
    cfg = dict(TINY, epochs=4)
    procs = [ctx.Process(target=_train_in_child, args=(cfg, str(root), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    assert results[0] == results[1]
    (run_dir,) = [d for d in root.iterdir() if d.is_dir()]
    run = store.load_run(run_dir)
    assert [r["epoch"] for r in run.records] == list(range(1, 5))
    assert run.records == results[0]


# ------------------------------------------------------------------ nothing a user owns is deleted


def test_damaged_run_keeps_user_files_moved_aside_and_names_them():
    cfg = RunConfig(**TINY)
    run = store.train(cfg, progress=False)
    reference = [r["test_loss"] for r in run.records]
    (run.directory / "notes.txt").write_text("my notes")
    (run.directory / "plots").mkdir()
    (run.directory / "plots" / "curve.png").write_bytes(b"png")
    (run.directory / "topology" / "mine.npz").write_bytes(b"mine")
    (run.directory / "metrics.json").write_text("[")  # damaged
    with pytest.warns(UserWarning, match=r"moved, not deleted: .*notes\.txt.*plots.*topology/mine\.npz"):
        repaired = store.train(cfg, progress=False)
    (orphaned,) = run.directory.glob("orphaned-*")
    assert (orphaned / "notes.txt").read_text() == "my notes"
    assert (orphaned / "plots" / "curve.png").read_bytes() == b"png"
    assert (orphaned / "topology" / "mine.npz").read_bytes() == b"mine"
    assert [r["test_loss"] for r in repaired.records] == reference
    assert not any(name.startswith("orphaned") or name == "notes.txt" for name in repaired.summary["files"])


def test_files_a_user_adds_during_training_are_not_the_runs_and_editing_them_keeps_it_complete():
    cfg = RunConfig(**TINY)
    run_dir = store.run_directory(cfg)

    def write_notes(epoch, record):
        (run_dir / "notes.txt").write_text(f"epoch {epoch}")

    run = store.train(cfg, progress=False, on_epoch_end=write_notes)
    assert "notes.txt" not in run.summary["files"]
    (run_dir / "notes.txt").write_text("edited")
    assert store.is_complete(run_dir)


def test_checkpoint_of_another_architecture_is_set_aside_and_the_run_starts_over():
    other = RunConfig(**{**TINY, "hidden": (8,), "epochs": 3})

    def stop(epoch, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.train(other, progress=False, on_epoch_end=stop)
    cfg = RunConfig(**TINY)
    run_dir = store.run_directory(cfg)
    run_dir.mkdir(parents=True)
    atomic.write_json(run_dir / "config.json", cfg.to_dict())
    os.replace(store.run_directory(other) / "checkpoint.pt", run_dir / "checkpoint.pt")
    with pytest.warns(UserWarning, match=r"checkpoint\.pt does not belong to this run \(its .* has shape"):
        run = store.train(cfg, progress=False)
    reference = store.train(cfg, root=run_dir.parent.parent / "reference", progress=False)
    assert [r["test_loss"] for r in run.records] == [r["test_loss"] for r in reference.records]
    assert len(list(run_dir.glob("orphaned-*/checkpoint.pt"))) == 1


def test_interrupted_run_whose_config_json_holds_another_config_is_one_clear_error():
    cfg = RunConfig(**TINY)
    run_dir = store.run_directory(cfg)
    run_dir.mkdir(parents=True)
    atomic.write_json(run_dir / "config.json", cfg.replace(lr=0.5).to_dict())
    with pytest.raises(DamagedRunError, match=r"config\.json: holds another config .*lr=0\.5 there, 0\.05 asked.*move"):
        store.train(cfg, progress=False)
    assert (run_dir / "config.json").exists()  # nothing of the folder was touched


class _FullDisk:
    """A file whose writes fail as on a full disk (no file name in the error, as the system reports it)."""

    def __init__(self, path, mode):
        self._file = open(path, mode)

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


def test_full_disk_while_saving_weights_is_one_line_naming_the_file(monkeypatch, capsys):
    from sparsetopo.cli.main import main

    def full_for_weights(path, mode="r", *args, **kwargs):
        return _FullDisk(path, mode) if "final.pt" in str(path) and "w" in mode else open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", full_for_weights, raising=False)
    with pytest.raises(StoreWriteError, match=r"weights/final\.pt: No space left on device"):
        store.train(RunConfig(**TINY), progress=False)
    argv = ["train", "--dataset", "digits", "--hidden", "16", "--method", "static", "--epsilon", "2", "--epochs", "2",
            "--batch-size", "128", "--lr", "0.05", "--no-progress"]
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "final.pt: No space left on device" in lines[0] and "free some space" in lines[0]


def test_lock_waiter_says_whose_lock_and_since_when_without_progress(tmp_path, capfd):
    cfg = RunConfig(**TINY)
    holder = _hold_lock(store.run_directory(cfg))
    try:
        os.kill(holder.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while _locking._pid_stopped(holder.pid) is False and time.monotonic() < deadline:
            time.sleep(0.01)  # the signal is delivered asynchronously
        with pytest.raises(RunLockTimeout):
            store.train(cfg, progress=False, lock_timeout=0.3)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    err = capfd.readouterr().err
    assert f"process {holder.pid} on" in err and "(since 20" in err and "s ago" in err
    assert f"kill -CONT {holder.pid}" in err  # a stopped holder is named as such
