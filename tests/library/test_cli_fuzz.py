"""Fuzzing the command line: every bad input is a clean one-line error, every success is right.

Random and corrupted inputs for ``sparsetopo train`` and ``sparsetopo
distance`` (seeded, so the cases are the same on every run). A failure must
exit non-zero with exactly one line on stderr that says ``error:``, never a
traceback; an exit 0 must come with a result that checks out (a verified
complete run with the asked values; a distance equal to NNSTD computed
directly from the networks).
"""

from __future__ import annotations

import errno
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sparsetopo import store
from sparsetopo.cli.main import main
from sparsetopo.nnstd.distance import nnstd
from sparsetopo.topology.masks import export_published, random_topology, save_topology

N_TRAIN_CASES = 90
N_DISTANCE_CASES = 110


def _run(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exit_:
        rc = exit_.code
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_clean_failure(rc, err, argv):
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc not in (0, None), f"{argv}: failure expected to exit non-zero"
    assert len(lines) == 1, f"{argv}: expected one line on stderr, got {err!r}"
    assert "Traceback" not in err and "error:" in lines[0] and lines[0].startswith("sparsetopo"), (argv, err)


# ------------------------------------------------------------------ train

_TRAIN_BASE = ["--dataset", "digits", "--hidden", "8", "--method", "static", "--epsilon", "2", "--epochs", "1",
               "--batch-size", "256", "--no-progress"]


def _train_mutations(tmp: Path) -> dict[str, list[list[str]]]:
    noise = tmp / "noise.npz"
    noise.write_bytes(np.random.default_rng(1).bytes(256))
    wrong = tmp / "wrong.npz"
    save_topology(wrong, random_topology([10, 5, 3], density=0.5))
    right = tmp / "right.npz"
    save_topology(right, random_topology([64, 8, 10], epsilon=2, seed=5))
    truncated = tmp / "truncated.npz"
    truncated.write_bytes(right.read_bytes()[:100])
    npy = tmp / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.arange(4))
    afile = tmp / "a-file"
    afile.write_text("x")
    return {
        "--lr": [["nan"], ["inf"], ["-inf"], ["-1"], ["0"], ["1e4"], ["abc"], [""], ["1e-8"], ["0.3"]],
        "--epsilon": [["nan"], ["-1"], ["0"], ["1e9"], ["1e-9"], ["abc"], ["none"], ["1.5"]],
        "--density": [["0"], ["1"], ["2"], ["-0.5"], ["nan"], ["0.2"]],
        "--epochs": [["0"], ["-1"], ["2.5"], ["abc"], ["2"]],
        "--hidden": [["0"], ["-3"], ["2.5"], ["x"], ["4", "4"], []],
        "--batch-size": [["0"], ["-1"], ["1e3"], ["1000"]],
        "--momentum": [["1"], ["1.5"], ["nan"], ["-0.1"], ["0"]],
        "--weight-decay": [["-1"], ["nan"], ["inf"], ["0"]],
        "--zeta": [["0"], ["1"], ["nan"], ["2"], ["0.5"]],
        "--dataset": [["nope"], [""], ["../etc"], ["DIGITS"]],
        "--method": [["foo"], ["dense"], ["set"]],
        "--initial-topology": [[str(noise)], [str(tmp / "absent.npz")], [str(npy)], [str(truncated)], [str(wrong)],
                               [str(right)], [str(tmp)]],
        "--layer-edges": [["0", "5"], ["10"], ["1e3"], ["-1", "4"], ["40", "80"], ["10000", "80"]],
        "--validation-fraction": [["1"], ["-0.1"], ["nan"], ["0.2"]],
        "--seed": [["-1"], ["x"], ["7"]],
        "--data-seed": [["-1"], ["1"]],
        "--snapshot-every": [["0"], ["-2"]],
        "--lr-schedule": [["foo"], ["cosine"]],
        "--activation": [["foo"], ["tanh"]],
        "--regrow-init": [["foo"]],
        "--weight-init": [["foo"], ["dense"]],
        "--preprocessing": [["foo"], ["standardize"]],
        "--foo": [["1"]],
        "--runs-root": [[str(afile / "runs")]],
    }


def _expected_value(flag: str, values: list[str]):
    field = flag[2:].replace("-", "_")
    if flag in ("--lr", "--momentum", "--weight-decay", "--zeta", "--validation-fraction", "--density"):
        return field, float(values[0])
    if flag in ("--seed", "--data-seed", "--epochs", "--batch-size"):
        return field, int(values[0])
    if flag == "--hidden":
        return field, tuple(int(v) for v in values)
    return None, None


def test_fuzz_train_command(tmp_path, capsys):
    rng = np.random.default_rng(2020)
    mutations = _train_mutations(tmp_path)
    flags = sorted(mutations)
    root = tmp_path / "runs"
    outcomes = {"ok": 0, "error": 0}
    for _case in range(N_TRAIN_CASES):
        chosen = rng.choice(flags, size=int(rng.integers(1, 4)), replace=False)
        argv = ["train", *_TRAIN_BASE]
        picked = {}
        for flag in chosen:
            values = mutations[flag][int(rng.integers(len(mutations[flag])))]
            picked[flag] = values
            argv += [flag, *values]
        if "--runs-root" not in picked:
            argv += ["--runs-root", root]
        rc, out, err = _run(argv, capsys)
        if rc != 0:
            _assert_clean_failure(rc, err, argv)
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        match = re.search(r"run stored in: (\S+)", out)
        assert match, (argv, out)
        run = store.load_run(match.group(1))  # verifies every recorded file
        assert 0 <= run.final_test_acc <= 1 and math.isfinite(run.summary["final_test_loss"])
        for flag, values in picked.items():
            field, value = _expected_value(flag, values)
            if field == "zeta" and run.config.method != "set" or field == "density" and run.config.method == "dense":
                continue  # fields a method does not use are normalised away
            if field is not None:
                assert getattr(run.config, field) == value, (argv, field)
    # the seeded cases reach both outcomes; most are errors
    assert outcomes["error"] > outcomes["ok"] > 0, outcomes
    assert not list(root.rglob("*.tmp*")) if root.exists() else True


# ------------------------------------------------------------------ distance


def _distance_inputs(tmp: Path) -> tuple[dict[str, list], list[Path]]:
    """Good inputs with their true topologies, and bad inputs."""
    truth: dict[str, list] = {}
    widths = [12, 8, 6, 4]
    for i in range(3):
        masks = random_topology(widths, density=0.4, seed=i, sparse_output=True)
        path = tmp / f"good{i}.npz"
        save_topology(path, masks)
        truth[str(path)] = masks
    other = random_topology([12, 7, 4], density=0.4, seed=9)
    save_topology(tmp / "otherwidths.npz", other)
    truth[str(tmp / "otherwidths.npz")] = other
    state = {f"layers.{k}.weight": torch.from_numpy(m.astype(np.float32) * 0.5) for k, m in enumerate(truth[str(tmp / "good1.npz")])}
    torch.save(state, tmp / "state.pt")
    truth[str(tmp / "state.pt")] = truth[str(tmp / "good1.npz")]
    pub = random_topology(widths, density=0.4, seed=4, sparse_output=True)
    export_published(tmp / "published", 3, pub)
    truth[f"{tmp / 'published'}@3"] = pub

    bad = []
    rng = np.random.default_rng(7)
    (tmp / "noise.npz").write_bytes(rng.bytes(300))
    (tmp / "empty.npz").write_bytes(b"")
    raw = (tmp / "good0.npz").read_bytes()
    (tmp / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    np.savez(tmp / "negative.npz", n_layers=np.asarray(1), shape_0=np.asarray([2, 2]), index_0=np.asarray([-1]),
             metadata=np.asarray("{}"))
    np.savez(tmp / "strings.npz", n_layers=np.asarray(1), shape_0=np.asarray([2, 2]), index_0=np.asarray(["1"]),
             metadata=np.asarray("{}"))
    np.savez(tmp / "foreign.npz", x=np.arange(3))
    with open(tmp / "array.npz", "wb") as f:
        np.save(f, np.arange(3))
    (tmp / "noise.pt").write_bytes(rng.bytes(300))
    torch.save([1, 2, 3], tmp / "list.pt")
    torch.save({"a": torch.zeros(3)}, tmp / "nolayers.pt")
    (tmp / "notes.txt").write_text("hello")
    export_published(tmp / "gap", 3, random_topology(widths, density=0.4, seed=5))
    (tmp / "gap" / "epoch_003" / "weight_l1.npz").unlink()
    (tmp / "plainfolder").mkdir()
    bad += [tmp / n for n in ("noise.npz", "empty.npz", "truncated.npz", "negative.npz", "strings.npz", "foreign.npz",
                              "array.npz", "noise.pt", "list.pt", "nolayers.pt", "notes.txt", "gap", "plainfolder",
                              "absent.npz")]
    return truth, bad


def test_fuzz_distance_command(tmp_path, capsys):
    truth, bad = _distance_inputs(tmp_path)
    good = list(truth)
    rng = np.random.default_rng(11)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    outcomes = {"ok": 0, "error": 0}
    for case in range(N_DISTANCE_CASES):
        n = int(rng.choice([1, 2, 2, 2, 3]))
        names = []
        for _ in range(n):
            names.append(good[int(rng.integers(len(good)))] if rng.random() < 0.6 else str(bad[int(rng.integers(len(bad)))]))
        paths = [s.split("@")[0] for s in names]
        epochs = {s.split("@")[1] for s in names if "@" in s}
        argv = ["distance", *paths, "--no-progress"]
        epoch_choice = rng.choice(["none", "right", "wrong", "junk"], p=[0.4, 0.4, 0.1, 0.1])
        if epoch_choice == "right":
            argv += ["--epoch", next(iter(epochs), "3")]
        elif epoch_choice == "wrong":
            argv += ["--epoch", "-1"]
        elif epoch_choice == "junk":
            argv += ["--epoch", "x"]
        method = str(rng.choice(["auto", "exact", "bogus"], p=[0.6, 0.3, 0.1]))
        argv += ["--method", method]
        fixed = bool(rng.random() < 0.3)
        if fixed:
            argv.append("--fixed-output")
        matrix = bool(rng.random() < 0.25)
        if matrix:
            argv.append("--matrix")
            if rng.random() < 0.8:
                argv += ["--out", tmp_path / f"out{case}"]
        cache_choice = rng.random()
        if cache_choice < 0.3:
            argv.append("--no-cache")
        elif cache_choice < 0.4:
            argv += ["--cache-dir", blocker / "cache"]  # cannot be created: the distance is still given
        else:
            argv += ["--cache-dir", tmp_path / "cache"]
        if rng.random() < 0.05:
            argv += ["--n-jobs", "0"]
        rc, out, err = _run(argv, capsys)
        if rc != 0:
            _assert_clean_failure(rc, err, argv)
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        assert all(name in truth for name in names), (argv, "exit 0 with a bad input")
        options = dict(method="auto" if method == "auto" else method, fixed_output=fixed)
        if not matrix:
            expected = nnstd(truth[names[0]], truth[names[1]], **options).mean
            reported = float(re.search(r"^\s*mean\s+([0-9.]+)\s*$", out, re.M).group(1))
            assert abs(reported - expected) < 5e-6, (argv, reported, expected)
        else:
            table = pd.read_csv(argv[argv.index("--out") + 1] / "nnstd_mean.csv", index_col=0)
            for i in range(len(names)):
                for j in range(len(names)):
                    expected = nnstd(truth[names[i]], truth[names[j]], **options).mean
                    assert abs(table.iloc[i, j] - expected) < 1e-9, (argv, i, j)
    assert outcomes["error"] > 0 and outcomes["ok"] > 0, outcomes


# ------------------------------------------------------------------ end to end, in a fresh process


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--dataset", "digits", "--lr", "nan"],
        ["distance", "__noise__", "__noise__"],
    ],
    ids=["train-nan-lr", "distance-noise"],
)
def test_console_errors_are_one_line_without_traceback(tmp_path, argv):
    noise = tmp_path / "noise.npz"
    noise.write_bytes(os.urandom(200))
    argv = [str(noise) if a == "__noise__" else a for a in argv]
    proc = subprocess.run([sys.executable, "-m", "sparsetopo", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def test_verbosity_debug_adds_the_traceback_to_the_one_line(tmp_path):
    noise = tmp_path / "noise.npz"
    noise.write_bytes(os.urandom(200))
    argv = [sys.executable, "-m", "sparsetopo", "distance", str(noise), str(noise), "--verbosity", "debug"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and proc.stderr.strip().splitlines()[-1].startswith("sparsetopo distance: error:")


# ------------------------------------------------------------------ user mistakes and faults: one line each


@pytest.mark.timeout(20)
@pytest.mark.parametrize("command", ["train", "distance"])
@pytest.mark.parametrize("address", ["tcp://localhost", "tcp://127.0.0.1:99999", "tpc://127.0.0.1:8786", "127.0.0.1"])
def test_malformed_scheduler_address_is_refused_at_once_naming_the_flag(tmp_path, capsys, command, address):
    topology = save_topology(tmp_path / "a.npz", random_topology([6, 4, 2], density=0.5))
    argv = (["train", *_TRAIN_BASE] if command == "train" else ["distance", "--matrix", topology, topology,
                                                                 "--out", tmp_path / "out"])
    rc, out, err = _run([*argv, "--scheduler", address], capsys)
    _assert_clean_failure(rc, err, argv)
    assert f"--scheduler {address!r} is neither 'local' nor a Dask scheduler address" in err
    assert not (tmp_path / "out").exists() and not any(Path(os.environ["SPARSETOPO_RUNS"]).glob("*"))


def test_matrix_never_overwrites_files_it_did_not_write_without_force(tmp_path, capsys):
    paths = [save_topology(tmp_path / f"n{s}.npz", random_topology([6, 4, 2], density=0.5, seed=s)) for s in range(2)]
    out = tmp_path / "out"
    out.mkdir()
    (out / "nnstd_mean.csv").write_text("mine")
    argv = ["distance", "--matrix", *paths, "--out", out, "--no-progress", "--no-cache"]
    rc, _, err = _run(argv, capsys)
    _assert_clean_failure(rc, err, argv)
    assert "already holds nnstd_mean.csv; pass --force" in err
    assert (out / "nnstd_mean.csv").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["nnstd_mean.csv"]
    assert _run([*argv, "--force"], capsys)[0] == 0
    assert (out / "nnstd_mean.csv").read_text() != "mine" and (out / "nnstd_mean.png").exists()


def test_matrix_output_on_a_full_disk_names_the_file(tmp_path, capsys, monkeypatch):
    from sparsetopo.cli import distance

    real = distance.atomic_path

    def full(path, suffix=""):
        if str(path).endswith(".png"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, suffix)

    monkeypatch.setattr(distance, "atomic_path", full)
    paths = [save_topology(tmp_path / f"n{s}.npz", random_topology([6, 4, 2], density=0.5, seed=s)) for s in range(2)]
    argv = ["distance", "--matrix", *paths, "--out", tmp_path / "out", "--no-progress", "--no-cache"]
    rc, _, err = _run(argv, capsys)
    _assert_clean_failure(rc, err, argv)
    assert rc == 1 and f"cannot write {tmp_path / 'out' / 'nnstd_mean.png'}: No space left on device" in err


def test_a_run_folder_of_the_package_given_to_distance_points_to_its_snapshots(tmp_path, capsys):
    run = store.train(store.RunConfig(dataset="digits", hidden=(8,), method="static", epsilon=2, epochs=1,
                                      batch_size=256), progress=False)
    other = save_topology(tmp_path / "o.npz", run.topology())
    for given in (run.directory, run.directory / "topology"):
        argv = ["distance", given, other]
        rc, _, err = _run(argv, capsys)
        _assert_clean_failure(rc, err, argv)
        assert f"is a sparsetopo run folder, not the published layout; give one of its topology snapshots, e.g. " \
               f"{run.directory / 'topology' / 'epoch_001.npz'}" in err


def test_recipe_with_density_drops_the_recipes_epsilon():
    from sparsetopo.cli.main import build_parser, config_from_args

    config = config_from_args(build_parser().parse_args(["train", "--recipe", "set_reference", "--density", "0.1"]))
    assert (config.epsilon, config.density, config.hidden) == (None, 0.1, (1000, 1000, 1000))


def test_a_validation_fraction_leaving_too_little_to_train_is_one_line_and_no_folder(capsys):
    argv = ["train", *_TRAIN_BASE, "--validation-fraction", "0.999"]
    rc, _, err = _run(argv, capsys)
    _assert_clean_failure(rc, err, argv)
    assert "validation_fraction=0.999 leaves 1 of the" in err
    assert not any(Path(os.environ["SPARSETOPO_RUNS"]).glob("*"))


def test_the_shared_error_report_is_one_line_with_a_traceback_only_on_debug():
    import io

    from sparsetopo.errors import ClusterLostError, run_reporting_errors

    def fail(err):
        def work():
            raise err
        return work

    for err, code in [(ValueError("bad\n\x1b[1mvalue\x1b[0m"), 2), (OSError(28, "No space left on device", "/x/y"), 1),
                      (ClusterLostError("scheduler gone"), 1), (KeyboardInterrupt(), 130)]:
        quiet, loud = io.StringIO(), io.StringIO()
        assert run_reporting_errors("prog", fail(err), stream=quiet) == code
        assert run_reporting_errors("prog", fail(err), stream=loud, debug=True) == code
        assert len(quiet.getvalue().splitlines()) == 1 and "\x1b" not in quiet.getvalue()
        assert quiet.getvalue().splitlines()[0] == loud.getvalue().splitlines()[-1]
        assert ("Traceback" in loud.getvalue()) == (code != 130)
    out = io.StringIO()
    run_reporting_errors("prog", fail(OSError(28, "No space left on device", "/x/y")), stream=out)
    assert out.getvalue() == "prog: error: /x/y: No space left on device\n"

    class NotebookFailed(Exception):
        pass

    out = io.StringIO()
    assert run_reporting_errors("prog", fail(NotebookFailed("cell 3 failed")), stream=out, also=(NotebookFailed,)) == 1
    assert out.getvalue() == "prog: error: cell 3 failed\n"
    with pytest.raises(ZeroDivisionError):  # a bug is not a user's mistake: it keeps its traceback
        run_reporting_errors("prog", lambda: 1 / 0, stream=io.StringIO())
