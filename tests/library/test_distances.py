"""Tests of sparsetopo.nnstd.pairwise (many networks) and the `distance` subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import require_published

import sparsetopo.nnstd.pairwise as distances
from sparsetopo.cli.distance import add_distance_parser
from sparsetopo.nnstd.distance import nnstd
from sparsetopo.nnstd.pairwise import (
    cached_nnstd,
    mask_hamming,
    mask_jaccard,
    pairwise_mask_distances,
    pairwise_nnstd,
    random_baseline,
    resolve_cache_dir,
    trajectory_nnstd,
)
from sparsetopo.topology.masks import (
    export_published,
    permute_hidden_neurons,
    random_topology,
    rewire_fraction,
    save_topology,
)

WIDTHS = (30, 24, 24, 4)


def published_root() -> Path:
    return require_published()


def networks(n: int, density: float = 0.1) -> list[list[np.ndarray]]:
    return [random_topology(WIDTHS, density=density, seed=s) for s in range(n)]


@pytest.fixture
def counted_nnstd(monkeypatch):
    """Replace the NNSTD computation used by the cache layer with a counter."""
    calls = []

    def counting(first, second, **options):
        calls.append(options)
        return nnstd(first, second, **options)

    monkeypatch.setattr(distances, "_nnstd_of", counting)
    return calls


# ---------------------------------------------------------------------------
# pairwise matrices and the cache
# ---------------------------------------------------------------------------


def test_pairwise_entry_below_diagonal_is_nnstd_of_later_network_first(tmp_path):
    topologies = networks(4)
    matrix = pairwise_nnstd(topologies, cache_dir=tmp_path, progress=False)
    assert matrix.layers.shape == (3, 4, 4)
    for i in range(4):
        for j in range(i):
            expected = nnstd(topologies[i], topologies[j]).layer_distances
            np.testing.assert_array_equal(matrix.layers[:, i, j], expected)
    np.testing.assert_array_equal(matrix.layers, matrix.layers.transpose(0, 2, 1))
    assert np.all(matrix.mean.diagonal() == 0)
    np.testing.assert_array_equal(matrix.mean, matrix.layers.mean(axis=0))
    assert list(matrix.frame().index) == ["0", "1", "2", "3"]


def test_cache_hits_return_identical_results_without_recomputing(tmp_path, counted_nnstd):
    topologies = networks(4)
    first = pairwise_nnstd(topologies, cache_dir=tmp_path, progress=False)
    assert len(counted_nnstd) == 6
    again = pairwise_nnstd(topologies, cache_dir=tmp_path, progress=False)
    assert len(counted_nnstd) == 6
    np.testing.assert_array_equal(again.layers, first.layers)
    single = cached_nnstd(topologies[3], topologies[1], cache_dir=tmp_path)
    assert len(counted_nnstd) == 6
    np.testing.assert_array_equal(single.matchings[0], nnstd(topologies[3], topologies[1]).matchings[0])


def test_cache_key_includes_options(tmp_path, counted_nnstd):
    a, b = networks(2)
    cached_nnstd(a, b, cache_dir=tmp_path)
    cached_nnstd(a, b, cache_dir=tmp_path, fixed_output=True)
    cached_nnstd(a, b, cache_dir=tmp_path, method="sparse")
    cached_nnstd(a, b, cache_dir=tmp_path, method="sparse")
    assert len(counted_nnstd) == 3
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_cache_entries_are_complete_files_and_corrupt_ones_are_recomputed(tmp_path, counted_nnstd):
    a, b = networks(2)
    result = cached_nnstd(a, b, cache_dir=tmp_path)
    (entry,) = tmp_path.iterdir()  # no temporary file left behind
    assert entry.suffix == ".npz"
    entry.write_bytes(b"half a file")
    again = cached_nnstd(a, b, cache_dir=tmp_path)
    assert len(counted_nnstd) == 2
    assert again.layer_distances == result.layer_distances
    assert [p.name for p in tmp_path.iterdir()] == [entry.name]


def test_cache_dir_is_argument_then_environment_then_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSETOPO_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("SPARSETOPO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # platformdirs' user cache on Linux
    assert resolve_cache_dir() == tmp_path / "xdg" / "sparsetopo" / "nnstd"


def test_random_baseline_leaves_the_working_directory_untouched(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARSETOPO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    random_baseline(random_topology(WIDTHS, epsilon=2, seed=0), n_pairs=2, progress=False)
    assert list(work.iterdir()) == []
    assert len(list((tmp_path / "xdg" / "sparsetopo" / "nnstd").iterdir())) == 2


def test_parallel_workers_give_the_same_matrix_as_one_process(tmp_path):
    topologies = networks(4)
    serial = pairwise_nnstd(topologies, n_jobs=1, use_cache=False, progress=False)
    parallel = pairwise_nnstd(topologies, n_jobs=2, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(parallel.layers, serial.layers)
    assert len(list(tmp_path.glob("*.npz"))) == 6  # workers wrote the cache


def test_pairwise_rejects_networks_with_different_input_features(tmp_path):
    topologies = networks(2) + [random_topology((31, 24, 24, 4), density=0.1, seed=9)]
    with pytest.raises(ValueError, match=r"topologies\[2\] cannot be compared"):
        pairwise_nnstd(topologies, cache_dir=tmp_path, progress=False)


def test_pairwise_compares_networks_of_different_widths_like_nnstd(tmp_path):
    topologies = networks(2) + [random_topology((30, 24, 25, 4), density=0.1, seed=9)]
    matrix = pairwise_nnstd(topologies, cache_dir=tmp_path, progress=False)
    for i, j in [(2, 0), (2, 1), (1, 0)]:
        np.testing.assert_array_equal(matrix.layers[:, i, j], nnstd(topologies[i], topologies[j]).layer_distances)


# ---------------------------------------------------------------------------
# trajectories
# ---------------------------------------------------------------------------


def test_trajectory_measures_each_snapshot_against_first_last_and_previous(tmp_path):
    snapshots = [random_topology(WIDTHS, density=0.1, seed=0)]
    for step in range(3):
        snapshots.append(rewire_fraction(snapshots[-1], 0.2, seed=step))
    table = trajectory_nnstd(snapshots, labels=[0, 10, 20, 30], cache_dir=tmp_path, progress=False)
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == [0, 10, 20, 30]
    assert table.loc[0, "to_first"] == 0 and table.loc[30, "to_last"] == 0
    assert np.isnan(table.loc[0, "to_previous"])
    assert table.loc[20, "to_first"] == nnstd(snapshots[2], snapshots[0]).mean
    assert table.loc[10, "to_last"] == nnstd(snapshots[3], snapshots[1]).mean
    assert table.loc[30, "to_previous"] == nnstd(snapshots[3], snapshots[2]).mean
    assert table.loc[30, "to_previous_layer1"] == nnstd(snapshots[3], snapshots[2]).layer_distances[1]
    # rewiring accumulates: the network drifts away from its start
    assert table["to_first"].is_monotonic_increasing


# ---------------------------------------------------------------------------
# calibration
# ---------------------------------------------------------------------------


def test_random_baseline_is_positive_with_a_confidence_interval_around_it(tmp_path):
    reference = random_topology(WIDTHS, density=0.1, seed=3)
    calibration = random_baseline(reference, n_pairs=6, cache_dir=tmp_path)
    assert calibration.samples.shape == (6, 3)
    assert calibration.ci[0] < calibration.mean < calibration.ci[1]
    assert np.all(calibration.layer_ci[:, 0] <= calibration.layer_mean)
    assert np.all(calibration.layer_mean <= calibration.layer_ci[:, 1])
    assert calibration.mean > 0.3
    assert calibration.layer_mean[0] > 0.5
    assert calibration.permuted_copy == (0.0, 0.0, 0.0)
    frame = calibration.frame()
    assert list(frame.index) == ["layer_0", "layer_1", "layer_2", "mean"]


def test_random_baseline_draws_topologies_with_the_reference_edge_counts(tmp_path, monkeypatch):
    reference = random_topology(WIDTHS, density=0.1, seed=3)
    seen = []

    def recording(first, second, **options):
        seen.append([int(m.sum()) for m in first])
        return nnstd(first, second, **options)

    monkeypatch.setattr(distances, "_nnstd_of", recording)
    random_baseline(reference, n_pairs=3, cache_dir=tmp_path)
    counts = [int(m.sum()) for m in reference]
    assert seen[:3] == [counts] * 3  # the last call is the permuted copy


def test_random_baseline_is_cached_and_reproducible(tmp_path, counted_nnstd):
    reference = random_topology(WIDTHS, density=0.1, seed=3)
    first = random_baseline(reference, n_pairs=4, seed=1, cache_dir=tmp_path)
    calls_first = len(counted_nnstd)
    second = random_baseline(reference, n_pairs=4, seed=1, cache_dir=tmp_path)
    # only the permuted copy is computed again; the Monte Carlo pairs are hits
    assert len(counted_nnstd) - calls_first == 1
    np.testing.assert_array_equal(first.samples, second.samples)


# ---------------------------------------------------------------------------
# permutation-blind baselines
# ---------------------------------------------------------------------------


def test_mask_distances_see_a_renumbered_copy_as_different_unlike_nnstd():
    topology = random_topology(WIDTHS, density=0.1, seed=0)
    copy = permute_hidden_neurons(topology, seed=1)
    jaccard, hamming = mask_jaccard(topology, copy), mask_hamming(topology, copy)
    assert jaccard[0] > 0.5 and hamming[0] > 0
    assert jaccard[-1] == 0.0  # the dense output layer is unchanged by renumbering
    assert nnstd(topology, copy).mean == 0.0
    np.testing.assert_array_equal(mask_jaccard(topology, topology), [0.0, 0.0, 0.0])


def test_mask_distances_follow_their_definitions():
    first = [np.array([[1, 1, 0, 0]], dtype=bool)]
    second = [np.array([[0, 1, 1, 0]], dtype=bool)]
    assert mask_jaccard(first, second)[0] == 2 / 3
    assert mask_hamming(first, second)[0] == 2 / 4


def test_pairwise_mask_distances_agree_with_the_pair_functions():
    topologies = networks(3)
    jaccard = pairwise_mask_distances(topologies, metric="jaccard")
    hamming = pairwise_mask_distances(topologies, metric="hamming")
    for i in range(3):
        for j in range(3):
            np.testing.assert_allclose(jaccard.layers[:, i, j], mask_jaccard(topologies[i], topologies[j]), atol=1e-15)
            np.testing.assert_allclose(hamming.layers[:, i, j], mask_hamming(topologies[i], topologies[j]), atol=1e-15)


# ---------------------------------------------------------------------------
# the `distance` subcommand
# ---------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sparsetopo")
    add_distance_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["distance", *argv])
    return args.func(args)


def printed_layers(out: str) -> list[float]:
    return [float(line.split()[3]) for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]


def test_cli_prints_layer_distances_and_mean_for_saved_topologies(tmp_path, capsys):
    a, b = networks(2)
    save_topology(tmp_path / "a.npz", a)
    save_topology(tmp_path / "b.npz", b)
    assert run_cli(str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--no-cache") == 0
    out = capsys.readouterr().out
    expected = nnstd(a, b)
    np.testing.assert_allclose(printed_layers(out), expected.layer_distances, atol=5e-7)
    assert f"{expected.mean:.6f}" in out.splitlines()[-1]


def test_cli_reads_state_dicts_and_checkpoints_with_zero_weights_as_absent(tmp_path, capsys):
    a, b = networks(2)
    rng = np.random.default_rng(0)
    weights = {f"layers.{k}.weight": torch.from_numpy(np.where(m, rng.normal(size=m.shape), 0.0)) for k, m in enumerate(a)}
    torch.save(weights, tmp_path / "a.pt")
    masked = {}
    for k, m in enumerate(b):
        masked[f"layers.{k}.weight"] = torch.ones(m.shape)  # dense weights, the mask decides
        masked[f"layers.{k}.mask"] = torch.from_numpy(m)
    torch.save({"state_dict": masked, "epoch": 3}, tmp_path / "b.pth")
    # equal hidden widths: the shapes alone do not prove a chain, so the order must be given
    assert run_cli(str(tmp_path / "a.pt"), str(tmp_path / "b.pth"), "--no-cache", "--fixed-output") == 2
    assert "do not prove a chain" in capsys.readouterr().err
    order = ",".join(f"layers.{k}" for k in range(len(a)))
    assert run_cli(str(tmp_path / "a.pt"), str(tmp_path / "b.pth"), "--no-cache", "--fixed-output", "--layers", order) == 0
    np.testing.assert_allclose(
        printed_layers(capsys.readouterr().out), nnstd(a, b, fixed_output=True).layer_distances, atol=5e-7
    )


def test_cli_reads_runs_in_the_published_layout(tmp_path, capsys):
    a, b = networks(2)
    export_published(tmp_path / "run_a", 20, a)
    export_published(tmp_path / "run_b", 20, b)
    assert run_cli(str(tmp_path / "run_a"), str(tmp_path / "run_b"), "--epoch", "20", "--no-cache") == 0
    np.testing.assert_allclose(printed_layers(capsys.readouterr().out), nnstd(a, b).layer_distances, atol=5e-7)
    assert run_cli(str(tmp_path / "run_a" / "epoch_020"), str(tmp_path / "run_b" / "epoch_020"), "--no-cache") == 0


def test_cli_matrix_writes_csv_and_heatmap(tmp_path, capsys):
    paths = []
    topologies = networks(3)
    for i, t in enumerate(topologies):
        paths.append(str(save_topology(tmp_path / f"net{i}.npz", t)))
    out = tmp_path / "out"
    code = run_cli("--matrix", *paths, "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-progress")
    assert code == 0
    table = pd.read_csv(out / "nnstd_mean.csv", index_col=0)
    assert list(table.columns) == ["net0", "net1", "net2"]
    np.testing.assert_allclose(table.to_numpy(), pairwise_nnstd(topologies, use_cache=False, progress=False).mean)
    assert (out / "nnstd_layer2.csv").exists()
    png = (out / "nnstd_mean.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: [str(d / "missing.npz"), str(d / "a.npz")], "no such file"),
        (lambda d: [str(d / "notes.txt"), str(d / "a.npz")], "unknown format .txt"),
        (lambda d: [str(d / "a.npz"), str(d / "wide.npz")], "layer 0: first has shape"),
        (lambda d: [str(d / "run"), str(d / "a.npz")], "choose an epoch with --epoch"),
        (lambda d: [str(d / "junk.pt"), str(d / "a.npz")], "cannot be read as a PyTorch state_dict"),
        (lambda d: [str(d / "a.npz")], "give exactly two networks"),
    ],
)
def test_cli_errors_exit_with_code_2_and_a_message_on_stderr(tmp_path, capsys, make, message):
    a = networks(1)[0]
    save_topology(tmp_path / "a.npz", a)
    save_topology(tmp_path / "wide.npz", random_topology((31, 24, 24, 4), density=0.1, seed=1))
    (tmp_path / "notes.txt").write_text("not a network")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    export_published(tmp_path / "run", 0, a)
    assert run_cli(*make(tmp_path), "--no-cache") == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


@pytest.mark.realdata
def test_cli_on_published_runs_prints_the_published_distances(capsys, tmp_path):
    root = published_root()
    code = run_cli(str(root / "e5_s0_w1"), str(root / "e5_s0_w0"), "--epoch", "190", "--method", "exact",
                   "--cache-dir", str(tmp_path))
    assert code == 0
    out = capsys.readouterr().out
    np.testing.assert_allclose(printed_layers(out), [0.471445, 0.506789, 0.452657, 0.0], atol=1e-6)
    assert "0.357723" in out.splitlines()[-1]


def test_mds_embedding_preserves_distances_of_planar_points():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(12, 2))
    dist = np.linalg.norm(points[:, None] - points[None], axis=-1)
    coords = distances.mds_embedding(dist, seed=0)
    assert coords.shape == (12, 2)
    rebuilt = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.testing.assert_allclose(rebuilt, dist, atol=1e-3)
    np.testing.assert_allclose(distances.mds_embedding(dist, seed=0), coords)
    with pytest.raises(ValueError, match="square"):
        distances.mds_embedding(np.zeros((2, 3)))
