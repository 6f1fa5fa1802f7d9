"""Tests of sparsetopo.perturbation: the controlled NNSTD experiments of notebook 01."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import require_published

from sparsetopo.nnstd.distance import nnstd
from sparsetopo.nnstd.pairwise import pairwise_nnstd, random_baseline
from sparsetopo.study import nnstd_behaviour as P
from sparsetopo.study import published as PUB
from sparsetopo.topology.masks import edge_counts, perturbation_chain, random_topology


def small(seed: int = 0):
    return random_topology((30, 20, 20, 5), density=0.15, seed=seed)


def test_worked_example_costs_and_matching_reproduce_nnstd():
    ex = P.worked_example(seed=3)
    direct = nnstd(ex.first, ex.second, method="exact")
    np.testing.assert_allclose(ex.layer_distances, direct.layer_distances)
    for c, m, d in zip(ex.costs, ex.matchings, ex.layer_distances):
        n = len(m)
        assert c.shape == (n, n)
        assert sorted(m.tolist()) == list(range(n))
        # the matching is the optimum of the cost matrix shown
        assert c[np.arange(n), m].sum() / n == pytest.approx(d)
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(c)
        assert c[rows, cols].sum() == pytest.approx(c[np.arange(n), m].sum())
    assert ex.mean == pytest.approx(np.mean(ex.layer_distances))


def test_worked_example_sees_through_renumbering_and_detects_the_moved_edge():
    unchanged = P.worked_example(seed=3, moved_edges=0)
    assert unchanged.mean == 0.0
    moved = P.worked_example(seed=3, moved_edges=1, moved_layer=0)
    assert moved.layer_distances[0] > 0
    # every layer sparse, the same edge counts in both networks
    assert edge_counts(moved.first) == edge_counts(moved.second)
    assert all(m.mean() < 1 for m in moved.first)


def test_worked_example_rejects_bad_layer():
    with pytest.raises(ValueError, match="moved_layer"):
        P.worked_example(moved_layer=7)


def test_identity_checks_are_zero_with_structure_tie_break():
    table = P.identity_checks({"a": small(0), "b": small(1)}, n_permutations=2, seed=0)
    assert set(table["network"]) == {"a", "b"}
    structure = table[table["tie_break"] == "structure"]
    assert len(structure) == 2 * (1 + 2)
    assert (structure["nnstd"] == 0.0).all()
    assert (table["check"] == "identical").sum() == 2


def test_perturbation_chain_moves_the_fraction_per_step_and_keeps_edge_counts():
    base = random_topology((40, 50, 50, 4), epsilon=5, seed=0)
    chain = perturbation_chain(base, 4, fraction=0.1, seed=0)
    assert len(chain) == 5
    assert chain[0][0] is not base[0] and np.array_equal(chain[0][0], base[0])
    for prev, nxt in zip(chain, chain[1:]):
        assert edge_counts(prev) == edge_counts(nxt)
        moved = np.count_nonzero(prev[0] & ~nxt[0])
        assert moved == round(0.1 * prev[0].sum())
        np.testing.assert_array_equal(prev[-1], nxt[-1])  # dense output layer untouched
    with pytest.raises(ValueError):
        perturbation_chain(base, 0)


def test_chain_frame_reads_distances_to_start_and_previous():
    chain = perturbation_chain(small(), 3, fraction=0.2, seed=1)
    dm = pairwise_nnstd(chain, progress=False, use_cache=False)
    frame = P.chain_frame(dm, fraction=0.2)
    mean = frame[frame["layer"] == "mean"].set_index("position")
    assert list(mean.index) == [0, 1, 2, 3]
    assert mean.loc[0, "nnstd_to_start"] == 0.0
    assert mean.loc[3, "nnstd_to_start"] == pytest.approx(dm.mean[3, 0])
    assert mean.loc[2, "nnstd_to_previous"] == pytest.approx(dm.mean[2, 1])
    assert mean.loc[3, "steps_rewired_percent"] == pytest.approx(60.0)
    layer0 = frame[frame["layer"] == "0"].set_index("position")
    assert layer0.loc[3, "nnstd_to_start"] == pytest.approx(dm.layers[0, 3, 0])


def test_fraction_sweep_grows_with_fraction_and_uses_the_cache(tmp_path):
    base = small()
    fractions = [0.0, 0.1, 0.5, 1.0]
    sweep = P.fraction_sweep(base, fractions, n_repeats=2, seed=0, cache_dir=tmp_path)
    assert len(sweep) == len(fractions) * 2 * (len(base) + 1)
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean()
    assert means.loc[0.0] == 0.0
    assert means.is_monotonic_increasing and means.loc[1.0] > means.loc[0.1] > 0
    assert any(tmp_path.iterdir())
    again = P.fraction_sweep(base, fractions, n_repeats=2, seed=0, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(sweep, again)
    assert P.growth_correlation(sweep, "fraction", "nnstd") > 0.9
    with pytest.raises(ValueError, match="fractions"):
        P.fraction_sweep(base, [1.5])


def test_growth_correlation_is_spearman():
    frame = pd.DataFrame({"layer": ["mean"] * 4, "x": [1, 2, 3, 4], "y": [0.1, 0.3, 0.2, 0.4]})
    assert P.growth_correlation(frame, "x", "y") == pytest.approx(0.8)
    frame["y"] = frame["y"][::-1].to_numpy()
    assert P.growth_correlation(frame, "x", "y") == pytest.approx(-0.8)


def test_baseline_frame_has_a_row_per_layer_and_the_mean():
    cal = random_baseline(small(), n_pairs=3, seed=0, use_cache=False)
    frame = P.baseline_frame(cal)
    assert list(frame["layer"]) == ["0", "1", "2", "mean"]
    assert (frame["ci_low"] <= frame["baseline"]).all() and (frame["baseline"] <= frame["ci_high"]).all()
    assert frame.set_index("layer").loc["mean", "baseline"] == pytest.approx(cal.mean)


def test_sparse_layers_skips_dense_ones():
    assert P.sparse_layers(random_topology((10, 8, 3), density=0.3, seed=0)) == [0]
    assert P.sparse_layers(random_topology((10, 8, 3), density=0.3, seed=0, sparse_output=True)) == [0, 1]


def test_published_root_is_none_without_the_files(tmp_path):
    assert PUB.published_root(tmp_path) is None


def _fake_published(root, runs, epochs):
    from sparsetopo.topology.masks import export_published

    for i, run in enumerate(runs):
        for e in epochs:
            export_published(root / run, e, random_topology((12, 8, 8, 3), density=0.3, seed=100 * i + e))


def test_published_pairwise_and_frame_on_a_fake_layout(tmp_path):
    runs = ("e5_s0_w0", "e5_s0_w1", "e5_s0_w2")
    _fake_published(tmp_path, runs, (0, 10))
    matrices = PUB.published_pairwise(tmp_path, [0, 10], runs=runs, cache_dir=tmp_path / "cache")
    assert set(matrices) == {0, 10}
    assert matrices[0].labels == ("w0", "w1", "w2")
    frame = PUB.published_frame(matrices)
    assert len(frame) == 2 * 3 * (3 + 1)
    row = frame[(frame.epoch == 10) & (frame["first"] == "w2") & (frame["second"] == "w0") & (frame.layer == "mean")]
    assert row["nnstd"].item() == pytest.approx(matrices[10].mean[2, 0])


def test_published_agreement_reports_deviation_from_the_reference(tmp_path):
    runs = (PUB.PUBLISHED_REFERENCE["second"], PUB.PUBLISHED_REFERENCE["first"])
    _fake_published(tmp_path, runs, (0, 190))
    table = PUB.published_agreement(tmp_path)
    assert list(table["epoch"].unique()) == [0, 190]
    assert (table["abs_deviation"] == (table["measured"] - table["published"]).abs()).all()
    assert "mean" in set(table[table.epoch == 190]["layer"])


@pytest.mark.realdata
def test_published_agreement_within_printed_precision_on_the_real_topologies():
    root = require_published()
    assert PUB.published_root(root.parents[1]).resolve() == root.resolve()
    table = PUB.published_agreement(root)
    assert table["abs_deviation"].max() < 1e-6


def test_published_gap_correlation_sees_a_chain_ordering():
    rows = []
    for i in range(4):
        for j in range(i):
            rows.append({"epoch": 0, "first": f"w{i}", "second": f"w{j}", "layer": "mean", "nnstd": 0.1 * (i - j)})
            rows.append({"epoch": 5, "first": f"w{i}", "second": f"w{j}", "layer": "mean", "nnstd": -0.1 * (i - j)})
    gap = PUB.published_gap_correlation(pd.DataFrame(rows)).set_index("epoch")
    assert gap.loc[0, "spearman_layer_mean"] == pytest.approx(1.0)
    assert gap.loc[5, "spearman_layer_mean"] == pytest.approx(-1.0)


# ---------------------------------------------------------------------------
# the notebook's API
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study01")
    params = P.Parameters(dataset="digits", hidden=[16, 16], epsilon=2.0, chain_length=4,
                          sweep_fractions=[0.0, 0.2, 0.5, 1.0], sweep_repeats=2, baseline_pairs=3, n_permutations=1,
                          use_published=False, n_jobs=1, verbosity="warning", figures_dir=str(out / "figures"),
                          runs_root=str(out / "runs"))
    return P.run(params)


def test_study_api_claims_record_parameters_and_every_claim(small_study):
    findings = P.claims(small_study)
    assert findings.parameters == small_study.params.as_dict()
    names = [c.claim for c in findings.claims]
    assert names == ["NNSTD of identical topologies is 0", "NNSTD of a neuron-permuted copy is 0",
                     "NNSTD grows with perturbation (1% chain)",
                     "NNSTD grows with perturbation (rewired-fraction sweep)", "Random-topology baseline",
                     "Agreement with the published values"]
    by = {c.claim: c for c in findings.claims}
    assert by["NNSTD of identical topologies is 0"].measured == 0.0
    assert by["Agreement with the published values"].holds is None  # use_published=False
    assert by["NNSTD grows with perturbation (1% chain)"].spread == "5 networks"  # the start and 4 steps
    assert list(findings.data) == ["worked_example_networks", "worked_example_costs", "identity_checks",
                                   "perturbation_chain", "rewired_fraction_sweep"]


def test_study_api_verdicts_follow_the_thresholds_in_the_parameters(small_study):
    import dataclasses

    rho = P.growth_correlation(small_study.chain_table, "position", "nnstd_to_start")
    for threshold in (rho - 0.05, min(rho + 0.01, 1.0)):
        params = dataclasses.replace(small_study.params, growth_threshold=threshold)
        claim = {c.claim: c for c in P.claims(dataclasses.replace(small_study, params=params)).claims}[
            "NNSTD grows with perturbation (1% chain)"]
        assert claim.holds == (rho > threshold)
        assert f"holds if > {threshold}" in claim.detail


def test_study_api_figures_are_closed_figures_by_name(small_study):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    figs = P.figures(small_study)
    assert list(figs) == ["worked_example_networks", "worked_example_costs", "perturbation_chain",
                          "rewired_fraction_sweep"]
    assert all(isinstance(f, Figure) for f in figs.values())
    assert not set(plt.get_fignums()) & {f.number for f in figs.values()}
    notes = P.notes(small_study)
    assert "not used" in notes["published"] and "Spearman" in notes["chain"]
