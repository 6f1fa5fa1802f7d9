"""The Dask executor: a loopback LocalCluster gives the local executor's numbers, even when a worker dies.

The cluster tests (marker ``cluster``; deselect with ``-m "not cluster"``)
share one LocalCluster of two worker processes bound to 127.0.0.1, started and
stopped by a module fixture. The resolution tests need no cluster.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cluster_tasks import finish_or_wait

from sparsetopo import executor, store
from sparsetopo.cli.main import main as cli_main
from sparsetopo.errors import ClusterLostError
from sparsetopo.nnstd.pairwise import pairwise_nnstd
from sparsetopo.parallel import parallel_map, resolve_scheduler, use_scheduler
from sparsetopo.store.config import RunConfig
from sparsetopo.topology.masks import random_topology, save_topology

TIMING_COLUMNS = ["train_time", "epoch_time"]  # wall-clock seconds: the only columns allowed to differ


def tiny_configs(epochs: int = 2) -> list[RunConfig]:
    base = RunConfig(dataset="digits", hidden=(16, 16), epochs=epochs, batch_size=64)
    return [
        base.replace(method="dense", seed=0),
        base.replace(method="static", epsilon=2.0, seed=0),
        base.replace(method="set", epsilon=2.0, seed=0),
        base.replace(method="set", epsilon=2.0, seed=1),
    ]


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=TIMING_COLUMNS).reset_index(drop=True)


# --------------------------------------------------------------------------- #
# resolution of the executor setting (no cluster)
# --------------------------------------------------------------------------- #


def test_argument_beats_setting_beats_environment_beats_local(monkeypatch):
    monkeypatch.delenv(executor.ENV_VAR, raising=False)
    assert resolve_scheduler() is None
    monkeypatch.setenv(executor.ENV_VAR, "tcp://10.0.0.1:8786")
    assert resolve_scheduler() == "tcp://10.0.0.1:8786"
    with use_scheduler("tcp://10.0.0.2:8786"):
        assert resolve_scheduler() == "tcp://10.0.0.2:8786"
        assert resolve_scheduler("tcp://10.0.0.3:8786") == "tcp://10.0.0.3:8786"
        assert resolve_scheduler("local") is None
        with use_scheduler("local"):
            assert resolve_scheduler() is None
    assert resolve_scheduler() == "tcp://10.0.0.1:8786"  # the with blocks restored the setting
    monkeypatch.setenv(executor.ENV_VAR, "local")
    assert resolve_scheduler() is None


def test_bad_scheduler_values_are_rejected_naming_their_source(monkeypatch):
    monkeypatch.setenv(executor.ENV_VAR, "lcoal")
    with pytest.raises(ValueError, match=r"\$SPARSETOPO_SCHEDULER='lcoal'.*tcp://"):
        resolve_scheduler()
    with pytest.raises(ValueError, match="use_scheduler"):
        use_scheduler("not an address")
    with pytest.raises(ValueError, match="scheduler="):
        parallel_map(abs, [1], scheduler="tcp//nowhere")


def test_unreachable_scheduler_says_how_to_start_one():
    pytest.importorskip("distributed")
    with pytest.raises(ConnectionError, match="dask scheduler --host"):
        executor.get_client("tcp://127.0.0.1:9", timeout=1)


def test_a_task_runs_inner_maps_locally_with_the_clients_roots(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSETOPO_DATA", "relative/data")
    context = executor._task_context()
    assert context["env"]["SPARSETOPO_DATA"] == str(Path.cwd() / "relative" / "data")
    with use_scheduler("tcp://127.0.0.1:9"):
        seen = executor._run_task(None, lambda _: (resolve_scheduler(), os.environ["SPARSETOPO_DATA"]), 1, context)
    assert seen == (None, context["env"]["SPARSETOPO_DATA"])
    assert os.environ["SPARSETOPO_DATA"] == "relative/data"  # restored after the task


def test_make_study_hands_scheduler_to_the_study_as_the_environment_variable():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[2]

    def study_line(*extra: str) -> str:
        out = subprocess.run(["make", "-n", "study", "PROFILE=smoke", *extra], cwd=root, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return next(line for line in out.stdout.splitlines() if "-m sparsetopo.study" in line)

    assert study_line("SCHEDULER=tcp://10.0.0.1:8786").startswith("SPARSETOPO_SCHEDULER=tcp://10.0.0.1:8786 ")
    assert executor.ENV_VAR not in study_line()


# --------------------------------------------------------------------------- #
# a loopback cluster
# --------------------------------------------------------------------------- #


def _warm_worker() -> int:
    import sparsetopo.store.runs  # noqa: F401  (torch and the package load once per worker)
    import sparsetopo.training.loop  # noqa: F401

    return os.getpid()


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="the cluster tests need dask.distributed (extra 'cluster')")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.CRITICAL,
    )
    try:
        client = executor.get_client(cluster.scheduler_address)
        client.wait_for_workers(2, timeout=60)
        client.run(_warm_worker)
        yield cluster.scheduler_address
    finally:
        executor.close_clients()
        cluster.close(timeout=30)


@pytest.mark.cluster
@pytest.mark.timeout(120)
def test_cluster_sweep_equals_local_sweep_exactly(cluster, tmp_path):
    configs = tiny_configs()
    local = store.sweep(configs, n_jobs=1, root=tmp_path / "local", progress=False, threads_per_job=1)
    with use_scheduler(cluster):
        remote = store.sweep(configs, n_jobs=1, root=tmp_path / "cluster", progress=True)
    assert sorted(p.name for p in (tmp_path / "cluster").iterdir()) == sorted(p.name for p in (tmp_path / "local").iterdir())
    assert list(remote["run_id"].unique()) == [store.run_id(c) for c in configs]  # input order
    pd.testing.assert_frame_equal(comparable(remote), comparable(local), check_exact=True)
    for c in configs:
        a = store.load_run(store.run_directory(c, tmp_path / "local"))
        b = store.load_run(store.run_directory(c, tmp_path / "cluster"))
        for x, y in zip(a.topology(), b.topology()):
            np.testing.assert_array_equal(x, y)


@pytest.mark.cluster
@pytest.mark.timeout(60)
def test_cluster_nnstd_matrix_equals_local_matrix_exactly(cluster, tmp_path):
    topologies = [random_topology([20, 12, 12, 4], density=0.2, seed=s) for s in range(4)]
    local = pairwise_nnstd(topologies, n_jobs=1, use_cache=False, progress=False)
    with use_scheduler(cluster):
        remote = pairwise_nnstd(topologies, n_jobs=1, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(remote.layers, local.layers)
    np.testing.assert_array_equal(remote.mean, local.mean)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 6  # the workers wrote the client's cache


@pytest.mark.cluster
@pytest.mark.timeout(60)
def test_results_keep_input_order_roots_follow_the_client_and_errors_come_back(cluster, monkeypatch, tmp_path):
    items = [-5, 3, -1, 8, -2, 0, 7]
    assert parallel_map(abs, items, scheduler=cluster) == [abs(i) for i in items]
    assert parallel_map(os.path.abspath, ["."], scheduler=cluster) == [os.getcwd()]
    monkeypatch.setenv("SPARSETOPO_RUNS", "some/relative/runs")
    assert parallel_map(os.getenv, ["SPARSETOPO_RUNS"], scheduler=cluster) == [str(Path.cwd() / "some/relative/runs")]
    with pytest.raises(ValueError, match="invalid literal"):
        parallel_map(int, ["1", "x", "3"], scheduler=cluster)


@pytest.mark.cluster
@pytest.mark.timeout(60)
def test_cli_train_with_scheduler_stores_the_local_run(cluster, tmp_path, capsys):
    flags = ["train", "--dataset", "digits", "--hidden", "16", "16", "--epsilon", "2", "--epochs", "2", "--no-progress"]
    assert cli_main([*flags, "--runs-root", str(tmp_path / "local"), "--scheduler", "local"]) == 0
    assert cli_main([*flags, "--runs-root", str(tmp_path / "cluster"), "--scheduler", cluster]) == 0
    assert "run stored in" in capsys.readouterr().out
    (a,), (b,) = (list((tmp_path / k).iterdir()) for k in ("local", "cluster"))
    assert a.name == b.name
    pd.testing.assert_frame_equal(comparable(store.load_run(b).metrics()), comparable(store.load_run(a).metrics()),
                                  check_exact=True)


@pytest.mark.cluster
@pytest.mark.timeout(60)
def test_cli_distance_matrix_with_scheduler_writes_the_local_matrix(cluster, tmp_path, capsys):
    paths = [str(save_topology(tmp_path / f"net{s}.npz", random_topology([20, 12, 12, 4], density=0.2, seed=s)))
             for s in range(3)]
    flags = ["distance", "--matrix", *paths, "--no-progress", "--no-cache"]
    assert cli_main([*flags, "--out", str(tmp_path / "local"), "--scheduler", "local"]) == 0
    assert cli_main([*flags, "--out", str(tmp_path / "cluster"), "--scheduler", cluster]) == 0
    capsys.readouterr()
    for name in ["nnstd_mean.csv", "nnstd_layer0.csv", "nnstd_layer1.csv", "nnstd_layer2.csv"]:
        assert (tmp_path / "cluster" / name).read_text() == (tmp_path / "local" / name).read_text()


@pytest.mark.cluster
@pytest.mark.timeout(120)
def test_a_worker_killed_mid_run_leaves_a_sweep_with_the_numbers_of_an_uninterrupted_one(cluster, tmp_path):
    configs = [c.replace(epochs=30) for c in tiny_configs()[2:]]  # two SET runs, long enough to be caught mid-run
    reference = store.sweep(configs, n_jobs=1, root=tmp_path / "reference", progress=False, threads_per_job=1)
    root = tmp_path / "cluster"
    client = executor.get_client(cluster)
    pids = client.run(os.getpid)
    killed: dict = {}

    def kill_a_worker_mid_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.processing().items():
                for key in keys:
                    run_dir = store.run_directory(configs[int(key.rsplit("-", 1)[1])], root)
                    checkpoint = run_dir / "checkpoint.pt"
                    if checkpoint.exists() and not store.is_complete(run_dir) and worker in pids:
                        init = (run_dir / "weights" / "init.pt").stat().st_mtime_ns
                        os.kill(pids[worker], signal.SIGKILL)
                        killed.update(pid=pids[worker], run_dir=run_dir, init=init)
                        return
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_a_worker_mid_run, daemon=True)
    watcher.start()
    with use_scheduler(cluster):
        remote = store.sweep(configs, n_jobs=1, root=root, progress=False)
    watcher.join(timeout=5)
    assert killed, "no worker was caught mid-run (runs too short for this machine?)"
    assert killed["pid"] not in client.run(os.getpid).values()  # that process is gone
    assert all(store.is_complete(store.run_directory(c, root)) for c in configs)
    # the rerun resumed from the checkpoint: a fresh start would have rewritten the initial weights
    assert (killed["run_dir"] / "weights" / "init.pt").stat().st_mtime_ns == killed["init"]
    pd.testing.assert_frame_equal(comparable(remote), comparable(reference), check_exact=True)


# --------------------------------------------------------------------------- #
# a cluster that goes away: the wait ends with one error, finished work is kept
# --------------------------------------------------------------------------- #


def _spawn(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


@pytest.fixture
def fragile_cluster(tmp_path, monkeypatch):
    """A scheduler and one worker without a nanny, as separate processes on loopback, each killable by a test."""
    pytest.importorskip("distributed", reason="the cluster tests need dask.distributed (extra 'cluster')")
    monkeypatch.setattr(executor, "LOST_AFTER", 2.0)
    info = tmp_path / "scheduler.json"
    # scheduler and worker import _cluster_tasks to read and run the task functions
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    scheduler = _spawn("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                       "--scheduler-file", str(info), env=env)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker = _spawn("distributed.cli.dask_worker", address, "--no-nanny", "--nthreads", "1", "--no-dashboard", env=env)
        executor.get_client(address).wait_for_workers(1, timeout=60)
        yield address, scheduler, worker
    finally:
        for proc in (worker, scheduler):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        executor.close_clients()


def _count_results(monkeypatch) -> list:
    """A list that grows by one as each result reaches the client (through the map's progress bar)."""
    import sparsetopo.executor

    received: list = []

    class Bar:
        def update(self, n: int) -> None:
            received.append(n)

        def close(self) -> None:
            pass

    monkeypatch.setattr(sparsetopo.executor, "progress_bar", lambda *args, **kwargs: Bar())
    return received


def _kill_when(condition, proc: subprocess.Popen) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not condition():
            time.sleep(0.05)
        proc.kill()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.cluster
@pytest.mark.timeout(90)
def test_a_lost_scheduler_ends_the_map_with_one_error_and_keeps_finished_work(fragile_cluster, tmp_path, monkeypatch):
    address, scheduler, _ = fragile_cluster
    items = [(str(tmp_path / "quick"), 0.0), (str(tmp_path / "slow"), 300.0)]
    finished = _count_results(monkeypatch)
    _kill_when(lambda: bool(finished), scheduler)
    start = time.monotonic()
    with pytest.raises(ClusterLostError) as lost:
        parallel_map(finish_or_wait, items, scheduler=address)
    assert re.search(r"Dask scheduler at .*; 1 of 2 tasks had finished.* rerun to continue", str(lost.value))
    assert "\n" not in str(lost.value) and time.monotonic() - start < 60
    assert (tmp_path / "quick").read_text() == "done" and not (tmp_path / "slow").exists()


@pytest.mark.cluster
@pytest.mark.timeout(90)
def test_a_map_whose_last_worker_dies_ends_with_one_error_and_keeps_finished_work(fragile_cluster, tmp_path, monkeypatch):
    address, _, worker = fragile_cluster
    items = [(str(tmp_path / "quick"), 0.0), (str(tmp_path / "slow"), 300.0)]
    finished = _count_results(monkeypatch)
    _kill_when(lambda: bool(finished), worker)
    start = time.monotonic()
    with pytest.raises(ClusterLostError, match=r"has no workers left \(waited \d+ s\); 1 of 2 tasks had finished"):
        parallel_map(finish_or_wait, items, scheduler=address)
    assert time.monotonic() - start < 60
    assert (tmp_path / "quick").read_text() == "done" and not (tmp_path / "slow").exists()
