"""Tests of sparsetopo.study.nnstd_behaviour: the controlled NNSTD experiments and verdicts of notebook 01."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import require_published

from sparsetopo.nnstd.distance import nnstd
from sparsetopo.nnstd.pairwise import pairwise_nnstd, random_baseline
from sparsetopo.study import nnstd_behaviour as P
from sparsetopo.study import published as PUB
from sparsetopo.study import verdicts as V
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


def test_identity_checks_are_zero_with_structure_tie_break_and_report_both_tie_breaks():
    table = P.identity_checks({"a": small(0), "b": small(1)}, n_permutations=2, seed=0)
    assert set(table["network"]) == {"a", "b"}
    assert set(table["tie_break"]) == {"structure", "solver"}
    structure = table[table["tie_break"] == "structure"]
    assert len(structure) == 2 * (1 + 2)
    assert (structure["nnstd"] == 0.0).all()
    assert (table["check"] == "identical").sum() == 2 * 2
    # the network value is the mean over the sparse layers (the dense output layer is left out)
    assert P.sparse_layers(small(0)) == [0, 1]
    solver = table[(table["tie_break"] == "solver")].iloc[-1]
    assert solver["nnstd"] == pytest.approx(np.mean([solver["layer_0"], solver["layer_1"]]))


def test_published_tie_break_is_not_invariant_on_tied_neurons():
    # a layer with many neurons without inputs: the solver's choice among them moves the next layer
    base = random_topology((40, 30, 30, 4), density=0.02, seed=0)
    table = P.identity_checks({"tied": base}, n_permutations=4, seed=0)
    permuted = table[table["check"] != "identical"]
    assert (permuted[permuted["tie_break"] == "structure"]["nnstd"] == 0).all()
    assert permuted[permuted["tie_break"] == "solver"]["nnstd"].max() > 0


def test_sparse_mean_leaves_dense_layers_out():
    assert P.sparse_mean((0.3, 0.6, 0.0), [0, 1]) == pytest.approx(0.45)
    np.testing.assert_allclose(P.sparse_mean(np.array([[0.3, 0.6, 0.0], [0.1, 0.1, 0.0]]), [0, 1]), [0.45, 0.1])
    with pytest.raises(ValueError, match="sparse layer"):
        P.sparse_mean((0.1, 0.2), [])


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
    frame = P.chain_frame(dm, fraction=0.2, layers=[0, 1])
    mean = frame[frame["layer"] == "mean"].set_index("position")
    assert list(mean.index) == [0, 1, 2, 3]
    assert mean.loc[0, "nnstd_to_start"] == 0.0
    assert mean.loc[3, "nnstd_to_start"] == pytest.approx(dm.layers[:2, 3, 0].mean())  # sparse layers only
    assert mean.loc[3, "nnstd_to_start"] > dm.mean[3, 0]  # the all-layer mean is diluted by the dense layer
    assert mean.loc[2, "nnstd_to_previous"] == pytest.approx(dm.layers[:2, 2, 1].mean())
    assert mean.loc[3, "steps_rewired_percent"] == pytest.approx(60.0)
    layer0 = frame[frame["layer"] == "0"].set_index("position")
    assert layer0.loc[3, "nnstd_to_start"] == pytest.approx(dm.layers[0, 3, 0])
    # default: the layers that are not all 0
    pd.testing.assert_frame_equal(frame, P.chain_frame(dm, fraction=0.2))


def test_chains_frame_and_growth_read_every_chain():
    from sparsetopo.nnstd.pairwise import trajectory_nnstd

    trajectories = [trajectory_nnstd(perturbation_chain(small(c), 3, fraction=0.1, seed=c), progress=False,
                                     use_cache=False) for c in range(2)]
    chains = P.chains_frame(trajectories, [0, 1], fraction=0.1)
    assert set(chains["chain"]) == {0, 1} and chains["position"].max() == 3
    growth = P.chain_growth(chains).set_index("chain")
    t = trajectories[1]
    last = np.mean([t[f"to_first_layer{k}"].iloc[-1] for k in range(2)])
    first = np.mean([t[f"to_first_layer{k}"].iloc[1] for k in range(2)])
    assert growth.loc[1, "to_last"] == pytest.approx(last)
    assert growth.loc[1, "growth"] == pytest.approx(last - first)
    assert growth.loc[1, "steps"] == 3 and (growth["growth"] > 0).all()


def test_fraction_sweep_grows_with_fraction_and_uses_the_cache(tmp_path):
    base = small()
    fractions = [0.0, 0.1, 0.5, 1.0]
    sweep = P.fraction_sweep(base, fractions, n_repeats=2, seed=0, cache_dir=tmp_path)
    assert len(sweep) == len(fractions) * 2 * (len(base) + 1)
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean()
    assert means.loc[0.0] == 0.0
    assert means.is_monotonic_increasing and means.loc[1.0] > means.loc[0.1] > 0
    layers = sweep[sweep["layer"].isin(["0", "1"])].groupby("fraction")["nnstd"].mean()
    np.testing.assert_allclose(means, layers)  # network value: mean over the sparse layers
    assert any(tmp_path.iterdir())
    again = P.fraction_sweep(base, fractions, n_repeats=2, seed=0, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(sweep, again)
    with pytest.raises(ValueError, match="fractions"):
        P.fraction_sweep(base, [1.5])


def _sweep(values: dict) -> pd.DataFrame:
    return pd.DataFrame([{"fraction": f, "layer": "mean", "nnstd": v} for f, vs in values.items() for v in vs])


MARGIN = V.Margin(0.01, "a test margin")


def test_sweep_steps_hold_on_clear_steps_and_are_inconclusive_on_a_spanning_interval():
    clear = P.sweep_steps(_sweep({0.0: [0.0, 0.0, 0.0], 0.1: [0.10, 0.11, 0.12], 0.5: [0.40, 0.41, 0.42]}), MARGIN)
    assert list(clear["verdict"]) == [V.HOLDS, V.HOLDS]
    assert clear["difference"].tolist() == pytest.approx([0.11, 0.30])
    noisy = P.sweep_steps(_sweep({0.0: [0.0, 0.0, 0.0], 0.1: [0.0, 0.05, 0.10]}), MARGIN)
    assert noisy["low"].iloc[0] < MARGIN.value < noisy["high"].iloc[0]
    assert list(noisy["verdict"]) == [V.INCONCLUSIVE]
    flat = P.sweep_steps(_sweep({0.0: [0.300, 0.300, 0.301], 0.1: [0.300, 0.301, 0.300]}), MARGIN)
    assert list(flat["verdict"]) == [V.DOES_NOT_HOLD]


def test_weakest_is_the_intersection_union_verdict():
    holds = V.superiority(0.5, (0.4, 0.6), MARGIN)
    weaker = V.superiority(0.2, (0.1, 0.3), MARGIN)
    spanning = V.superiority(0.02, (-0.01, 0.05), MARGIN)
    fails = V.superiority(0.0, (-0.005, 0.005), MARGIN)
    assert P.weakest([holds, weaker]) is weaker
    assert P.weakest([holds, spanning, weaker]) is spanning
    assert P.weakest([spanning, fails, holds]) is fails
    with pytest.raises(ValueError):
        P.weakest([])


def test_baseline_frame_has_a_row_per_layer_and_the_sparse_mean():
    cal = random_baseline(small(), n_pairs=3, seed=0, use_cache=False)
    frame = P.baseline_frame(cal)
    assert list(frame["layer"]) == ["0", "1", "2", "mean"]
    assert (frame["ci_low"] <= frame["baseline"]).all() and (frame["baseline"] <= frame["ci_high"]).all()
    network = frame.set_index("layer").loc["mean", "baseline"]
    assert network == pytest.approx(cal.samples[:, :2].mean())  # the dense output layer (always 0) left out
    assert network > cal.mean


def test_tie_noise_is_zero_for_a_structural_copy_and_tabulated_per_comparison():
    from sparsetopo.topology.masks import permute_hidden_neurons

    base = random_topology((40, 30, 30, 4), density=0.02, seed=0)
    copy = permute_hidden_neurons(base, seed=1)
    other = random_topology((40, 30, 30, 4), density=0.02, seed=2)
    pairs = [("copy", copy, base), ("other", other, base), ("other", base, other)]
    structure = P.tie_noise(pairs, layers=[0, 1, 2], n_shuffles=3, seed=0)
    assert list(structure["comparison"]) == ["copy", "other", "other"] and list(structure["pair"]) == [0, 0, 1]
    assert structure.loc[0, "spread"] == 0.0 and structure.loc[0, "nnstd"] == 0.0
    assert (structure["variants"] == 3 + 3).all()
    solver = P.tie_noise(pairs[:1], layers=[0, 1, 2], n_shuffles=3, seed=0, tie_break="solver")
    table = P.resolution_table(pd.concat([structure, solver], ignore_index=True))
    assert list(zip(table["comparison"], table["tie_break"])) == [("copy", "structure"), ("other", "structure"),
                                                                ("copy", "solver")]
    other_row = table.iloc[1]
    assert other_row["pairs"] == 2 and other_row["tie_noise"] == pytest.approx(structure["spread"].iloc[1:].max())


def test_pair_summary_resamples_networks():
    rng = np.random.default_rng(0)
    m = rng.uniform(0.2, 0.4, (6, 6))
    m = (m + m.T) / 2
    np.fill_diagonal(m, 0)
    s = P.pair_summary(m, n_boot=200, seed=1)
    ci = V.network_bootstrap_ci(m, n_boot=200, seed=1)
    assert (s["mean"], s["ci_low"], s["ci_high"]) == pytest.approx((ci.estimate, ci.low, ci.high))
    assert s["pairs"] == 15 and s["networks"] == 6 and s["min"] <= s["mean"] <= s["max"]


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
    params = P.Parameters.resolve(dataset="digits", hidden=[16, 16], epsilon=2.0, chain_length=4, chain_seeds=3,
                          sweep_fractions=[0.0, 0.2, 0.5, 1.0], sweep_repeats=2, baseline_pairs=3, n_permutations=2,
                          tie_shuffles=1, tie_pairs=1, n_boot=100, use_published=False, n_jobs=1,
                          verbosity="warning", figures_dir=str(out / "figures"), runs_root=str(out / "runs"))
    return P.run(params)


CLAIMS = ["NNSTD of identical topologies is 0",
          "NNSTD of a neuron-permuted copy is 0 — structural tie-break (this project's extension), random network",
          "NNSTD of a neuron-permuted copy is 0 — published tie-break (the paper's metric), random network",
          "NNSTD between networks 1% apart", "NNSTD grows along the 1% chain",
          "NNSTD increases at every step of the rewired-fraction sweep", "Random-topology baseline",
          "A copy with every edge moved is as far as random topologies", "Agreement with the published values"]


def test_study_api_claims_record_parameters_and_every_claim(small_study):
    findings = P.claims(small_study)
    assert findings.parameters == small_study.params.as_dict()
    assert [c.claim for c in findings.claims] == CLAIMS
    by = {c.claim: c for c in findings.claims}
    assert by["NNSTD of identical topologies is 0"].measured == 0.0
    structural = by[CLAIMS[1]]
    assert structural.measured == 0.0 and structural.verdict == V.HOLDS  # exact zeros: interval [0, 0]
    assert "tie noise 0.0000" in structural.spread
    # descriptions cannot fail: no verdict; every other claim carries a rule, a margin and its justification
    for name in ("NNSTD of identical topologies is 0", "NNSTD between networks 1% apart", "Random-topology baseline",
                 "Agreement with the published values"):
        assert by[name].verdict is None and by[name].holds is None
    for name in set(CLAIMS[1:]) - {"NNSTD between networks 1% apart", "Random-topology baseline",
                                   "Agreement with the published values"}:
        assert by[name].verdict in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)
        assert by[name].rule["justification"].split(":")[0].endswith("margin")
    assert list(findings.data) == ["worked_example_networks", "worked_example_costs", "network", "identity_checks",
                                   "tie_noise", "perturbation_chain", "perturbation_chain_layers",
                                   "rewired_fraction_sweep"]


def test_chain_verdict_follows_the_margin_and_the_interval_over_chains(small_study):
    import dataclasses

    def verdict(growth, margin):
        params = dataclasses.replace(small_study.params, growth_margin=margin)
        result = dataclasses.replace(small_study, params=params,
                                     growth=small_study.growth.assign(growth=growth))
        return {c.claim: c for c in P.claims(result).claims}["NNSTD grows along the 1% chain"]

    clear = verdict([0.30, 0.31, 0.32], 0.02)
    assert clear.verdict == V.HOLDS and clear.rule["margin"] == 0.02 and clear.rule["ci"][0] > 0.02
    spanning = verdict([0.0, 0.02, 0.04], 0.02)
    assert spanning.rule["ci"][0] < 0.02 < spanning.rule["ci"][1] and spanning.verdict == V.INCONCLUSIVE
    assert verdict([0.001, 0.002, 0.003], 0.02).verdict == V.DOES_NOT_HOLD


def test_permutation_verdict_is_decided_per_tie_break(small_study):
    import dataclasses

    ident = small_study.identity.copy()
    solver = (ident["tie_break"] == "solver") & (ident["check"] != "identical")
    ident.loc[solver, "nnstd"] = [0.050, 0.051]
    claims = {c.claim: c for c in P.claims(dataclasses.replace(small_study, identity=ident)).claims}
    assert claims[CLAIMS[1]].verdict == V.HOLDS
    assert claims[CLAIMS[2]].verdict == V.DOES_NOT_HOLD and claims[CLAIMS[2]].measured == pytest.approx(0.0505)
    ident.loc[solver, "nnstd"] = [0.0, 0.02]  # mean 0.01, interval spans the margin
    claims = {c.claim: c for c in P.claims(dataclasses.replace(small_study, identity=ident)).claims}
    assert claims[CLAIMS[2]].verdict == V.INCONCLUSIVE


def test_rules_state_every_margin_before_the_numbers(small_study):
    text = P.rules(small_study.params)
    for name in ("invariance_margin", "growth_margin", "step_margin", "baseline_margin", "training_margin",
                 "agreement_tolerance"):
        assert f"{getattr(small_study.params, name):g}" in text
        assert P.MARGIN_JUSTIFICATIONS[name] in text
        assert small_study.params.margin(name).value == getattr(small_study.params, name)


def test_run_refuses_a_chain_that_moves_no_edge(tmp_path):
    params = P.Parameters.resolve(dataset="digits", hidden=[16, 16], epsilon=0.05, use_published=False,
                          verbosity="warning", figures_dir=str(tmp_path / "f"), runs_root=str(tmp_path / "r"))
    with pytest.raises(ValueError, match="moves no edge"):
        P.run(params)


def test_published_edges_reads_counts_or_scales_densities(tmp_path):
    from sparsetopo.topology.masks import load_published

    _fake_published(tmp_path, PUB.PUBLISHED_RUNS, (0,))
    counts = np.mean([edge_counts(load_published(tmp_path / r, 0)) for r in PUB.PUBLISHED_RUNS], axis=0)
    assert P.published_edges(tmp_path, [12, 8, 8, 3], 0) == [int(round(c)) for c in counts]
    double = P.published_edges(tmp_path, [12, 16, 16, 3], 0)  # same densities on wider layers
    assert double[0] == int(round(counts[0] * 2)) and double[1] == int(round(counts[1] * 4))
    assert P.published_edges(tmp_path, [12, 8, 3], 0) is None  # another number of layers


def test_study_api_figures_notes_and_discussion(small_study):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    figs = P.figures(small_study)
    assert list(figs) == ["worked_example_networks", "worked_example_costs", "perturbation_chain",
                          "perturbation_chain_layers", "rewired_fraction_sweep"]
    assert all(isinstance(f, Figure) for f in figs.values())
    assert not set(plt.get_fignums()) & {f.number for f in figs.values()}
    notes = P.notes(small_study)
    assert "not used" in notes["published"] and "tie noise" in notes["chain"]
    findings = P.claims(small_study)
    text = P.discussion(small_study, findings)
    growth = {c.claim: c for c in findings.claims}["NNSTD grows along the 1% chain"]
    assert f"**{growth.verdict}** ({growth.measured:.4f}" in text
    assert "Limitations" in text and "not tested in this run" in text


def test_equivalent_rewiring_interpolates_the_sweep(small_study):
    sweep = small_study.sweep
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean()
    assert P.equivalent_rewiring(small_study, float(means.loc[0.5])) == pytest.approx(50.0)
    halfway = (means.loc[0.2] + means.loc[0.5]) / 2
    assert P.equivalent_rewiring(small_study, float(halfway)) == pytest.approx(35.0)
    assert np.isnan(P.equivalent_rewiring(small_study, 2.0))
