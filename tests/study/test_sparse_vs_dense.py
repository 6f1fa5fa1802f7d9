"""Sparse vs dense comparison: the density grid, the matching rule, summaries and NNSTD among static networks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sparsetopo import store
from sparsetopo.stats import mean_ci
from sparsetopo.study import sparse_vs_dense as comparison
from sparsetopo.study.findings import Findings
from sparsetopo.topology.masks import edges_for_epsilon

TINY = dict(dataset="digits", hidden=(16, 16), epochs=1, batch_size=64, lr=0.05)
WIDTHS = [64, 16, 16, 10]
DENSE_WEIGHTS = 64 * 16 + 16 * 16 + 16 * 10


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    configs = comparison.density_grid(TINY["dataset"], TINY["hidden"], [1, 3], [0, 1], epochs=1,
                                      batch_size=64, lr=0.05)
    store.sweep(configs, n_jobs=1, root=root, progress=False)
    return configs, root


def test_density_grid_has_one_dense_run_per_seed_then_static_by_increasing_epsilon():
    configs = comparison.density_grid("digits", (16, 16), [5, 1], [0, 1, 2], epochs=3, lr=0.1)
    assert [c.method for c in configs] == ["dense"] * 3 + ["static"] * 6
    assert [c.epsilon for c in configs[3:]] == [1, 1, 1, 5, 5, 5]
    assert [c.seed for c in configs[3:]] == [0, 1, 2, 0, 1, 2]
    assert all(c.epochs == 3 and c.lr == 0.1 and c.hidden == (16, 16) for c in configs)
    assert all(c.epsilon is None for c in configs[:3])
    assert len({store.run_directory(c) for c in configs}) == 9  # no two share a run folder


def test_density_grid_rejects_repeats_and_nonpositive_epsilon():
    with pytest.raises(ValueError, match="repeat"):
        comparison.density_grid("digits", (8,), [1, 1], [0], epochs=1)
    with pytest.raises(ValueError, match="positive"):
        comparison.density_grid("digits", (8,), [0], [0], epochs=1)
    with pytest.raises(ValueError, match="seed"):
        comparison.density_grid("digits", (8,), [1], [], epochs=1)


def test_match_verdict_accepts_a_mean_within_the_tolerance_below_dense():
    dense = [0.900, 0.901, 0.899]
    v = comparison.match_verdict([0.896, 0.8961, 0.8959], dense, tolerance=0.005)
    assert v["within_tolerance"] and v["matches"] and not v["ci_overlap"] and not v["beats"]
    assert v["gap"] == pytest.approx(-0.004)


def test_match_verdict_rejects_a_clearly_worse_network_with_tight_intervals():
    v = comparison.match_verdict([0.85, 0.851, 0.849], [0.900, 0.901, 0.899], tolerance=0.005)
    assert not v["within_tolerance"] and not v["ci_overlap"] and not v["matches"]


def test_match_verdict_counts_overlapping_intervals_as_a_match():
    v = comparison.match_verdict([0.80, 0.90, 0.85], [0.89, 0.91, 0.90], tolerance=0.005)
    assert not v["within_tolerance"] and v["ci_overlap"] and v["matches"]


def test_match_verdict_separates_beating_on_average_from_beating_significantly():
    dense = [0.900, 0.901, 0.899]
    assert comparison.match_verdict([0.902, 0.90, 0.901], dense)["beats"]
    assert not comparison.match_verdict([0.902, 0.90, 0.901], dense)["significantly_beats"]
    assert comparison.match_verdict([0.95, 0.951, 0.949], dense)["significantly_beats"]


def _table(rows):
    return pd.DataFrame(rows, columns=["method", "epsilon", "seed", "final_test_acc", "density", "density_pct",
                                       "hidden_density", "n_weights", "n_parameters"])


def test_accuracy_summary_puts_dense_first_orders_by_density_and_measures_gaps():
    rows = []
    for s, acc in enumerate([0.90, 0.91, 0.92]):
        rows.append(("dense", math.nan, s, acc, 1.0, 100.0, 1.0, 1000, 1030))
    for s, acc in enumerate([0.70, 0.72, 0.74]):
        rows.append(("static", 10.0, s, acc, 0.2, 20.0, 0.2, 200, 230))
    for s, acc in enumerate([0.92, 0.93, 0.94]):
        rows.append(("static", 20.0, s, acc, 0.4, 40.0, 0.4, 400, 430))
    summary = comparison.accuracy_summary(_table(rows))
    assert list(summary["method"]) == ["dense", "static", "static"]
    assert list(summary["epsilon"].iloc[1:]) == [10.0, 20.0]
    assert summary["gap"].tolist() == pytest.approx([0.0, -0.19, 0.02])
    assert summary["acc_range"].tolist() == pytest.approx([0.02, 0.04, 0.02])
    assert summary["matches_dense"].tolist() == [True, False, True]
    assert summary["beats_dense"].tolist() == [False, False, True]
    m, lo, hi = mean_ci([0.92, 0.93, 0.94])
    assert (summary.at[2, "acc_mean"], summary.at[2, "acc_low"], summary.at[2, "acc_high"]) == pytest.approx((m, lo, hi))


def test_accuracy_summary_needs_dense_runs():
    with pytest.raises(ValueError, match="dense"):
        comparison.accuracy_summary(_table([("static", 1.0, 0, 0.5, 0.1, 10.0, 0.1, 10, 20)]))


def test_results_table_counts_weights_over_all_layers(grid):
    configs, root = grid
    table = comparison.results_table(configs, root=root)
    assert len(table) == len(configs)
    dense = table[table["method"] == "dense"]
    assert (dense["n_weights"] == DENSE_WEIGHTS).all() and (dense["density"] == 1.0).all()
    eps1 = table[table["epsilon"] == 1.0].iloc[0]
    hidden_edges = edges_for_epsilon(1, 64, 16) + edges_for_epsilon(1, 16, 16)
    assert eps1["n_weights"] == hidden_edges + 16 * 10  # the output layer stays dense
    assert eps1["density_pct"] == pytest.approx(100 * (hidden_edges + 160) / DENSE_WEIGHTS)
    assert eps1["hidden_density"] == pytest.approx(hidden_edges / (64 * 16 + 16 * 16))
    assert eps1["n_parameters"] == eps1["n_weights"] + 16 + 16 + 10
    assert ((table["final_test_acc"] >= 0) & (table["final_test_acc"] <= 1)).all()


def test_static_distances_pair_every_static_network_and_calibrate_each_density(grid, tmp_path):
    configs, root = grid
    d = comparison.static_distances(configs, root=root, baseline_pairs=3, cache_dir=tmp_path)
    assert list(d.networks["epsilon"]) == [1.0, 1.0, 3.0, 3.0]
    assert list(d.networks["seed"]) == [0, 1, 0, 1]
    assert d.matrix.mean.shape == (4, 4)
    assert np.allclose(np.diag(d.matrix.mean), 0) and np.allclose(d.matrix.mean, d.matrix.mean.T)
    assert len(d.pairs) == 6 and d.pairs["same_density"].sum() == 2
    row = d.per_density.set_index("epsilon").loc[1.0]
    assert row["n_pairs"] == 1
    assert row["nnstd_mean"] == pytest.approx(d.matrix.mean[1, 0])
    assert row["ratio"] == pytest.approx(row["nnstd_mean"] / row["random_mean"])
    assert 0 < row["random_mean"] <= 1 and row["random_low"] <= row["random_mean"] <= row["random_high"]


def test_record_findings_reports_dense_accuracy_first_from_the_runs(grid, tmp_path):
    configs, root = grid
    table = comparison.results_table(configs, root=root)
    summary = comparison.accuracy_summary(table)
    d = comparison.static_distances(configs, root=root, baseline_pairs=3, cache_dir=tmp_path / "c")
    findings = Findings("02_sparse_vs_dense", tmp_path / "fig")
    out = comparison.record_findings(findings, table, summary, d)
    assert out["claim"].iloc[0].startswith("Dense accuracy")
    assert findings.claims[0].measured == pytest.approx(table.loc[table["method"] == "dense", "final_test_acc"].mean())
    best = summary[summary["method"] != "dense"]["acc_mean"].max()
    gap = next(c for c in findings.claims if c.claim.startswith("Some static sparse network beats dense"))
    assert gap.measured == pytest.approx(best - summary.at[0, "acc_mean"])
    assert gap.holds == (gap.measured > 0)


def test_learning_curves_label_networks_and_keep_every_epoch(grid):
    configs, root = grid
    frame = store.sweep(configs, root=root, progress=False)
    curves = comparison.learning_curves(frame)
    assert list(dict.fromkeys(curves["network"])) == ["dense", "static ε=1", "static ε=3"]
    assert len(curves) == len(frame)
