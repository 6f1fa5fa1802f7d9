"""Pairwise NNSTD computed once per network and in forked workers: the same numbers as one pair at a time."""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np
import pytest
from helpers import require_published, small_cnn

import sparsetopo.nnstd.pairwise as pairwise
from sparsetopo.cli.distance import add_distance_parser
from sparsetopo.nnstd.distance import nnstd
from sparsetopo.nnstd.pairwise import pairwise_nnstd, trajectory_nnstd
from sparsetopo.parallel import can_fork, forked_map
from sparsetopo.topology.layered import as_layers
from sparsetopo.topology.masks import random_topology, rewire_fraction, save_topology

WIDTHS = (30, 24, 24, 4)



NETWORK_SETS = {
    # sparse enough that many neurons have no inputs: tied groups for the structural tie-break
    "mlp": [random_topology(WIDTHS, density=0.08, seed=s) for s in range(3)],
    "widths": [random_topology(WIDTHS, density=0.1, seed=0), random_topology((30, 26, 21, 4), density=0.1, seed=1),
               random_topology((30, 24, 27, 4), density=0.1, seed=2)],
    "cnn": [small_cnn(0), small_cnn(1), small_cnn(2, channels=(5, 6))],
}


def same_result(got, expected) -> None:
    assert got.layer_distances == expected.layer_distances
    assert got.mean == expected.mean
    assert got.methods == expected.methods
    assert len(got.matchings) == len(expected.matchings)
    for a, b in zip(got.matchings, expected.matchings):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and not a.flags.writeable


@pytest.mark.parametrize("kind", sorted(NETWORK_SETS))
@pytest.mark.parametrize("method, fixed_output, tie_break",
                         list(itertools.product(("auto", "exact", "sparse"), (False, True), ("structure", "solver"))))
def test_prepared_networks_give_exactly_nnstd(kind, method, fixed_output, tie_break):
    networks = [as_layers(n) for n in NETWORK_SETS[kind]]
    options = dict(method=method, fixed_output=fixed_output, tie_break=tie_break)
    prepared = [pairwise._Prepared.of(n, **options) for n in networks]
    for i, j in [(1, 0), (2, 0), (2, 1), (0, 0)]:
        same_result(pairwise._nnstd_of(prepared[i], prepared[j], **options), nnstd(networks[i], networks[j], **options))


def test_prepared_networks_are_left_unchanged_by_the_pairs_they_are_in():
    networks = [as_layers(n) for n in NETWORK_SETS["mlp"]]
    options = dict(method="auto", fixed_output=False, tie_break="structure")
    prepared = [pairwise._Prepared.of(n, **options) for n in networks]
    before = [([m.copy() for m in p], [(c.data.copy(), c.indices.copy(), c.indptr.copy()) for c in p.network.csr],
               [c.copy() for c in p.network.colors]) for p in prepared]
    for i, j in itertools.permutations(range(3), 2):
        pairwise._nnstd_of(prepared[i], prepared[j], **options)
    for p, (masks, csr, colors) in zip(prepared, before):
        for m, kept in zip(p, masks):
            np.testing.assert_array_equal(m, kept)
        for c, (data, indices, indptr) in zip(p.network.csr, csr):
            np.testing.assert_array_equal(c.data, data)
            np.testing.assert_array_equal(c.indices, indices)
            np.testing.assert_array_equal(c.indptr, indptr)
        for c, kept in zip(p.network.colors, colors):
            np.testing.assert_array_equal(c, kept)


@pytest.mark.parametrize("kind", sorted(NETWORK_SETS))
def test_forked_workers_give_the_same_matrix_as_one_process(kind):
    networks = NETWORK_SETS[kind] + [NETWORK_SETS[kind][0]]
    serial = pairwise_nnstd(networks, n_jobs=1, use_cache=False, progress=False)
    forked = pairwise_nnstd(networks, n_jobs=2, use_cache=False, progress=False)
    np.testing.assert_array_equal(forked.layers, serial.layers)
    np.testing.assert_array_equal(forked.mean, serial.mean)
    for i, j in [(1, 0), (3, 2)]:
        np.testing.assert_array_equal(serial.layers[:, i, j], nnstd(networks[i], networks[j]).layer_distances)


def test_forked_trajectory_matches_one_process(tmp_path):
    snapshots = [random_topology(WIDTHS, density=0.1, seed=0)]
    for step in range(3):
        snapshots.append(rewire_fraction(snapshots[-1], 0.2, seed=step))
    serial = trajectory_nnstd(snapshots, n_jobs=1, use_cache=False, progress=False)
    forked = trajectory_nnstd(snapshots, n_jobs=2, cache_dir=tmp_path, progress=False)
    assert forked.equals(serial)
    cached = trajectory_nnstd(snapshots, n_jobs=2, cache_dir=tmp_path, progress=False)  # read back from the cache
    assert cached.equals(serial)


def test_an_error_in_a_forked_worker_is_raised_with_its_message():
    networks = [random_topology(WIDTHS, density=0.1, seed=s) for s in range(3)]
    networks.append(random_topology((30, 24, 24, 5), density=0.1, seed=3))
    with pytest.raises(ValueError, match="fixed_output=True keeps output neurons in place, but first has 5"):
        pairwise_nnstd(networks, n_jobs=2, fixed_output=True, use_cache=False, progress=False)


# ---------------------------------------------------------------------------
# forked_map
# ---------------------------------------------------------------------------


def test_forked_map_keeps_the_order_runs_closures_and_calls_meanwhile_once():
    big = np.arange(1000)
    calls = []
    squares = forked_map(lambda i: (int(big[i] ** 2), os.getpid()), list(range(20)), n_jobs=2, progress=False,
                         meanwhile=lambda: calls.append(os.getpid()))
    assert [s for s, _ in squares] == [i * i for i in range(20)]
    assert calls == [os.getpid()]
    if can_fork():
        assert os.getpid() not in {pid for _, pid in squares}
    assert forked_map(lambda i: i, [], n_jobs=2, meanwhile=lambda: calls.append(0)) == [] and len(calls) == 2
    assert forked_map(lambda i: -i, [3], n_jobs=-1) == [-3]


def test_forked_map_raises_the_first_worker_error_and_refuses_bad_job_counts():
    def fail_on_seven(i: int) -> int:
        if i == 7:
            raise ValueError("seven is not allowed")
        return i

    with pytest.raises(ValueError, match="seven is not allowed"):
        forked_map(fail_on_seven, list(range(12)), n_jobs=2, progress=False)
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="n_jobs must be a positive int or -1"):
            forked_map(abs, [1, 2], n_jobs=bad)


# ---------------------------------------------------------------------------
# the command line: default workers, same files
# ---------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sparsetopo")
    add_distance_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["distance", *argv])
    return args.func(args)


def matrix_files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def test_cli_matrix_default_workers_write_the_same_csv_bytes_as_one_process(tmp_path, capsys):
    paths = [str(save_topology(tmp_path / f"net{i}.npz", t)) for i, t in enumerate(NETWORK_SETS["mlp"])]
    assert run_cli("--matrix", *paths, "--out", str(tmp_path / "one"), "--n-jobs", "1", "--no-cache",
                   "--no-progress") == 0
    one = capsys.readouterr().out
    assert run_cli("--matrix", *paths, "--out", str(tmp_path / "default"), "--no-cache", "--no-progress") == 0
    default = capsys.readouterr().out
    assert matrix_files(tmp_path / "default") == matrix_files(tmp_path / "one")
    assert len(matrix_files(tmp_path / "one")) == 4
    assert default.replace("/default/", "/one/") == one


@pytest.mark.parametrize("value", ["0", "-2"])
def test_cli_refuses_a_job_count_that_is_not_a_process_count(tmp_path, capsys, value):
    paths = [str(save_topology(tmp_path / f"net{i}.npz", t)) for i, t in enumerate(NETWORK_SETS["mlp"][:2])]
    assert run_cli("--matrix", *paths, "--out", str(tmp_path / "out"), "--n-jobs", value, "--no-cache") == 2
    captured = capsys.readouterr()
    assert captured.err.strip().endswith("--n-jobs must be a positive number of processes (or -1 for all cores)")
    assert len(captured.err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


@pytest.mark.realdata
def test_cli_matrix_of_published_runs_is_the_same_with_default_workers_and_one_process(tmp_path, capsys):
    root = require_published()
    runs = [str(root / f"e5_s0_w{i}") for i in range(4)]
    assert run_cli("--matrix", *runs, "--epoch", "190", "--out", str(tmp_path / "one"), "--n-jobs", "1",
                   "--no-cache", "--no-progress") == 0
    assert run_cli("--matrix", *runs, "--epoch", "190", "--out", str(tmp_path / "default"), "--no-cache",
                   "--no-progress") == 0
    capsys.readouterr()
    assert matrix_files(tmp_path / "default") == matrix_files(tmp_path / "one")
    # the published value of e5_s0_w1 against e5_s0_w0 (see test_distances)
    assert b"0.35772272816704076" in matrix_files(tmp_path / "one")["nnstd_mean.csv"]


def test_forked_map_runs_setup_in_each_worker_and_never_here(monkeypatch):
    monkeypatch.delenv("SPARSETOPO_TEST_SETUP", raising=False)
    seen = forked_map(lambda i: os.environ.get("SPARSETOPO_TEST_SETUP"), list(range(6)), n_jobs=2, progress=False,
                      setup=lambda: os.environ.__setitem__("SPARSETOPO_TEST_SETUP", "worker"))
    assert seen == (["worker"] * 6 if can_fork() else [None] * 6)
    assert "SPARSETOPO_TEST_SETUP" not in os.environ
    assert forked_map(lambda i: os.environ.get("SPARSETOPO_TEST_SETUP"), [1, 2], n_jobs=1,
                      setup=lambda: os.environ.__setitem__("SPARSETOPO_TEST_SETUP", "here")) == [None, None]
