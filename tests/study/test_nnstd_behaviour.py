"""Tests of sparsetopo.study.nnstd_behaviour: the experiment of notebook 01 (run, claims, verdicts, templates),
and the shared study pieces it uses (common, published). The probes themselves are tested in
tests/library/test_nnstd_probes.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from helpers import require_published

from sparsetopo.nnstd.pairwise import random_baseline
from sparsetopo.study import common as C
from sparsetopo.study import nnstd_behaviour as P
from sparsetopo.study import published as PUB
from sparsetopo.study import verdicts as V
from sparsetopo.study.prose import render, template_names
from sparsetopo.topology.masks import edge_counts, random_topology


def small(seed: int = 0):
    return random_topology((30, 20, 20, 5), density=0.15, seed=seed)


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
    assert V.weakest([holds, weaker]) is weaker
    assert V.weakest([holds, spanning, weaker]) is spanning
    assert V.weakest([spanning, fails, holds]) is fails
    with pytest.raises(ValueError):
        V.weakest([])


def test_baseline_frame_has_a_row_per_layer_and_the_sparse_mean():
    cal = random_baseline(small(), n_pairs=3, seed=0, use_cache=False)
    frame = C.baseline_frame(cal)
    assert list(frame["layer"]) == ["0", "1", "2", "mean"]
    assert (frame["ci_low"] <= frame["baseline"]).all() and (frame["baseline"] <= frame["ci_high"]).all()
    network = frame.set_index("layer").loc["mean", "baseline"]
    assert network == pytest.approx(cal.samples[:, :2].mean())  # the dense output layer (always 0) left out
    assert network > cal.mean


def test_pair_summary_resamples_networks():
    rng = np.random.default_rng(0)
    m = rng.uniform(0.2, 0.4, (6, 6))
    m = (m + m.T) / 2
    np.fill_diagonal(m, 0)
    s = C.pair_summary(m, n_boot=200, seed=1)
    ci = V.network_bootstrap_ci(m, n_boot=200, seed=1)
    assert (s["mean"], s["ci_low"], s["ci_high"]) == pytest.approx((ci.estimate, ci.low, ci.high))
    assert s["pairs"] == 15 and s["networks"] == 6 and s["min"] <= s["mean"] <= s["max"]


def test_sparse_layers_and_sparse_mean_leave_dense_layers_out():
    assert C.sparse_layers(random_topology((10, 8, 3), density=0.3, seed=0)) == [0]
    assert C.sparse_layers(random_topology((10, 8, 3), density=0.3, seed=0, sparse_output=True)) == [0, 1]
    assert C.sparse_mean((0.3, 0.6, 0.0), [0, 1]) == pytest.approx(0.45)
    with pytest.raises(ValueError, match="sparse layer"):
        C.sparse_mean((0.1, 0.2), [])


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


def test_published_edges_reads_counts_or_scales_densities(tmp_path):
    from sparsetopo.topology.masks import load_published

    _fake_published(tmp_path, PUB.PUBLISHED_RUNS, (0,))
    counts = np.mean([edge_counts(load_published(tmp_path / r, 0)) for r in PUB.PUBLISHED_RUNS], axis=0)
    assert PUB.published_edges(tmp_path, [12, 8, 8, 3], 0) == [int(round(c)) for c in counts]
    double = PUB.published_edges(tmp_path, [12, 16, 16, 3], 0)  # same densities on wider layers
    assert double[0] == int(round(counts[0] * 2)) and double[1] == int(round(counts[1] * 4))
    assert PUB.published_edges(tmp_path, [12, 8, 3], 0) is None  # another number of layers


# ---------------------------------------------------------------------------
# the experiment: run, claims, context, figures
# ---------------------------------------------------------------------------


def _params(out, **overrides):
    values = dict(dataset="digits", hidden=[16, 16], epsilon=2.0, chain_length=4, chain_seeds=3,
                  sweep_fractions=[0.0, 0.2, 0.5, 1.0], sweep_repeats=2, baseline_pairs=3, n_permutations=2,
                  tie_shuffles=1, tie_pairs=1, n_boot=100, use_published=False, n_jobs=1, verbosity="warning",
                  figures_dir=str(out / "figures"), runs_root=str(out / "runs"))
    return P.Parameters.resolve(**{**values, **overrides})


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    return P.run(_params(tmp_path_factory.mktemp("study01")))


@pytest.fixture(scope="module")
def published_study(tmp_path_factory):
    """A tiny run against a fake published layout (ten 12-8-8-3 runs at epochs 0 and 190)."""
    out = tmp_path_factory.mktemp("study01_published")
    root = out / "data" / "official_nnstd_topo" / "topo"
    _fake_published(root, PUB.PUBLISHED_RUNS, (0, 190))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARSETOPO_DATA", str(out / "data"))
        return P.run(_params(out, use_published=True, published_epochs=[0, 190], published_runs=4))


CLAIMS = ["NNSTD of identical topologies is 0",
          "NNSTD of a neuron-permuted copy is 0 — structural tie-break (this project's extension), random network",
          "NNSTD of a neuron-permuted copy is 0 — published tie-break (the paper's metric), random network",
          "NNSTD between networks 1% apart", "NNSTD grows along the 1% chain",
          "NNSTD increases at every step of the rewired-fraction sweep", "Random-topology baseline",
          "Edge-set distance of a renumbered copy",
          "A copy with every edge moved is as far as random topologies", "Agreement with the published values"]
DESCRIPTIONS = ("NNSTD of identical topologies is 0", "NNSTD between networks 1% apart", "Random-topology baseline",
                "Edge-set distance of a renumbered copy", "Agreement with the published values")


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
    for name in DESCRIPTIONS:
        assert by[name].verdict is None and by[name].holds is None
    for name in set(CLAIMS) - set(DESCRIPTIONS):
        assert by[name].verdict in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)
        assert by[name].rule["justification"].split(":")[0].endswith("margin")
    assert list(findings.data) == ["worked_example_networks", "worked_example_costs", "network", "identity_checks",
                                   "tie_noise", "perturbation_chain", "perturbation_chain_layers",
                                   "rewired_fraction_sweep", "nnstd_vs_edge_sets"]


def test_headlines_name_the_paper_claims_and_their_decided_rows(small_study, published_study):
    alone = P.claims(small_study)
    assert [h["paper_claim"] for h in alone.headlines] == [P.DISTANCE]
    assert alone.headlines[0]["claims"] == [c for c in CLAIMS[1:3]] + CLAIMS[4:6] + [CLAIMS[8]]
    assert "64-16-16-10" in alone.headlines[0]["setting"] and "ε = 2" in alone.headlines[0]["setting"]
    findings = P.claims(published_study)
    heads = {h["paper_claim"]: h for h in findings.headlines}
    assert list(heads) == [P.DISTANCE, P.PUBLISHED_RUNS_CLAIM, P.AGREEMENT]
    assert heads[P.PUBLISHED_RUNS_CLAIM]["claims"] == [
        "The published runs move apart during training (epoch 190 vs the first saved snapshot)",
        "The published runs at epoch 190 stay closer than random topologies"]
    assert "12-8-8-3" in heads[P.PUBLISHED_RUNS_CLAIM]["setting"]
    assert heads[P.AGREEMENT]["claims"] == ["Agreement with the published values"]
    # the trained published network is checked under both tie-breaks
    assert sum("published w0, epoch 190" in name for name in heads[P.DISTANCE]["claims"]) == 2


def test_published_comparison_on_a_fake_layout(published_study):
    pub = published_study.published
    assert pub.epochs == [0, 190] and pub.ends == [0, 190] and pub.layers == [0, 1] and pub.widths == [12, 8, 8, 3]
    summary = pub.network_summary().set_index("epoch")
    assert summary.loc[190, "mean"] == pytest.approx(pub.network(190)[np.triu_indices(4, 1)].mean())
    assert pub.moved_apart.estimate == pytest.approx(summary.loc[190, "mean"] - summary.loc[0, "mean"])
    assert list(pub.baseline["layer"]) == ["0", "1", "2", "mean"]
    assert published_study.published_density  # edges from the published densities, scaled to the digits widths


def test_chain_verdict_follows_the_margin_and_the_interval_over_chains(small_study):
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
    ident = small_study.identity.copy()
    solver = (ident["tie_break"] == "solver") & (ident["check"] != "identical")
    ident.loc[solver, "nnstd"] = [0.050, 0.051]
    claims = {c.claim: c for c in P.claims(dataclasses.replace(small_study, identity=ident)).claims}
    assert claims[CLAIMS[1]].verdict == V.HOLDS
    assert claims[CLAIMS[2]].verdict == V.DOES_NOT_HOLD and claims[CLAIMS[2]].measured == pytest.approx(0.0505)
    ident.loc[solver, "nnstd"] = [0.0, 0.02]  # mean 0.01, interval spans the margin
    claims = {c.claim: c for c in P.claims(dataclasses.replace(small_study, identity=ident)).claims}
    assert claims[CLAIMS[2]].verdict == V.INCONCLUSIVE


def test_run_refuses_a_chain_that_moves_no_edge(tmp_path):
    with pytest.raises(ValueError, match="moves no edge"):
        P.run(_params(tmp_path, epsilon=0.05, chain_length=20, chain_seeds=5))


def test_equivalent_rewiring_interpolates_the_sweep(small_study):
    sweep = small_study.sweep
    means = sweep[sweep["layer"] == "mean"].groupby("fraction")["nnstd"].mean()
    assert P.equivalent_rewiring(small_study, float(means.loc[0.5])) == pytest.approx(50.0)
    halfway = (means.loc[0.2] + means.loc[0.5]) / 2
    assert P.equivalent_rewiring(small_study, float(halfway)) == pytest.approx(35.0)
    assert np.isnan(P.equivalent_rewiring(small_study, 2.0))


def test_figures_are_closed_matplotlib_figures(small_study, published_study):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    figs = P.figures(small_study)
    assert list(figs) == ["worked_example_networks", "worked_example_costs", "perturbation_chain",
                          "perturbation_chain_layers", "rewired_fraction_sweep", "nnstd_vs_edge_sets"]
    assert all(isinstance(f, Figure) for f in figs.values())
    assert not set(plt.get_fignums()) & {f.number for f in figs.values()}
    with_published = P.figures(published_study)
    assert list(with_published)[6:] == ["published_heatmaps", "published_layers", "published_over_epochs"]


@pytest.mark.parametrize("study", ["small_study", "published_study"])
def test_every_template_renders_with_the_context_of_a_tiny_run(study, request):
    result = request.getfixturevalue(study)
    findings = P.claims(result)
    context = P.context(result, findings)
    sections = template_names("01_nnstd")
    assert {"rules", "network", "example", "identity", "chain", "sweep", "resolution", "published", "agreement",
            "discussion"} <= set(sections)
    text = {s: render("01_nnstd", s, **context) for s in sections}  # StrictUndefined: a missing name raises
    growth = {c.claim: c for c in findings.claims}["NNSTD grows along the 1% chain"]
    assert f"**{growth.verdict}** ({growth.measured:.4g}" in text["discussion"]
    assert "Limitations" in text["discussion"]
    steps = {c.claim: c for c in findings.claims}["NNSTD increases at every step of the rewired-fraction sweep"]
    decider = steps.detail.split("(", 1)[1].split(" moved)")[0].replace("->", "→")  # the step the rule picked
    assert f"the weakest step ({decider}) decides" in text["discussion"]
    if result.published is None:
        assert "not tested in this run" in text["discussion"] and "Skipped" in text["published"]
        assert "not used" in text["network"]
    else:
        assert "Published SET runs move apart" in text["discussion"] and "epoch_000" in text["published"]
        assert "Largest deviation" in text["agreement"]


def test_rules_state_every_margin_before_the_numbers(small_study):
    params = small_study.params
    text = render("01_nnstd", "rules", **P.context(small_study, P.claims(small_study)))
    for name in ("invariance_margin", "growth_margin", "step_margin", "baseline_margin", "training_margin",
                 "agreement_tolerance"):
        assert f"| {getattr(params, name):g} |" in text
        assert P.MARGIN_JUSTIFICATIONS[name] in text
        assert params.margin(name).value == getattr(params, name)


def test_edge_set_distance_sees_renumbering_that_nnstd_ignores(small_study):
    """The renumbered copy is at NNSTD 0 but its edge sets differ, and the degree-preserving baseline is drawn."""
    frame = small_study.edge_sets.set_index("comparison")
    copy = frame.loc["renumbered copy"]
    assert copy["nnstd"] == 0.0
    assert copy["edge_set"] > 0.5
    assert 0 < frame.loc["random pairs", "nnstd"] < frame.loc["random pairs", "edge_set"] <= 1
    sweep = small_study.edge_sets[small_study.edge_sets["comparison"] == "sweep"].sort_values("x")
    assert sweep["edge_set"].iloc[0] == 0.0 and sweep["edge_set"].is_monotonic_increasing
    degree = small_study.baseline_degree.set_index("layer").loc["mean", "baseline"]
    assert 0 < degree <= small_study.baseline.set_index("layer").loc["mean", "ci_high"] + 0.05
