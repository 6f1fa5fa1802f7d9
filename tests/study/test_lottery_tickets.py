"""Lottery-ticket study: arm tables read from one SET run, the plateau check, costs only where SET reached the
target, the topology rule relative to the degree-preserving null, claims, templates and figures (the searches and
controls themselves are tested in tests/library/test_lottery_arms.py)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sparsetopo.cost import lottery_cost, training_cost
from sparsetopo.study import lottery_tickets as lt
from sparsetopo.study import verdicts as vd
from sparsetopo.study.findings import Findings
from sparsetopo.study.prose import render, template_names

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The notebook's run (3 searches on digits, 2 epochs per round, one SET run per seed), claims and context."""
    p = lt.Parameters.resolve(dataset="digits", hidden=(16, 16), seeds=tuple(SEEDS), target_density=0.25,
                              prune_fraction=0.5, epochs=2, lr_schedule="constant", set_multiples=(1, 2), train_samples=None, lr=0.05,
                              batch_size=64, backend="masked", plateau_window=1, baseline_pairs=3, published_runs=3,
                              n_boot=200, figures_dir=str(tmp_path_factory.mktemp("fig")),
                              runs_root=str(tmp_path_factory.mktemp("runs")), n_jobs=1, verbosity="warning")
    result = lt.run(p)
    findings = lt.claims(result)
    return SimpleNamespace(params=p, result=result, findings=findings, context=lt.context(result, findings))


def test_budgets_name_the_multiples_and_the_imp_equal_budget_once():
    assert lt.budgets_of(20, [1, 3], 782) == {20: "SET, 20 epochs (1x)", 60: "SET, 60 epochs (3x)",
                                               782: "SET, 782 epochs (IMP's MACs)"}
    assert lt.budgets_of(10, [1, 3], 30) == {10: "SET, 10 epochs (1x)", 30: "SET, 30 epochs (3x, IMP's MACs)"}


def test_arm_table_reads_set_budgets_as_prefixes_of_one_run_and_charges_each_arm(tiny):
    r = tiny.result
    table = r.runs
    assert r.dense_budgets == {2: "dense", 4: "dense, 4 epochs (2x)"}
    assert len(table) == len(SEEDS) * (4 + len(r.budgets) + 1)
    assert r.set_length == max(r.budgets) >= r.imp_equal
    for ticket, ctrl in zip(r.tickets, r.controls):
        by = table[table["seed"] == ticket.config.base.seed].set_index("arm")
        search = lottery_cost(ticket).macs
        assert by.at["dense", "macs_to_obtain"] == training_cost(ticket.rounds[0]).macs
        assert by.at["IMP ticket", "macs_to_obtain"] == search
        assert by.at["ticket mask, re-init", "macs_to_obtain"] == search + training_cost(ctrl["reinit"]).macs
        (set_run,) = [run for key, run in ctrl.items() if isinstance(key, tuple) and key[0] == "set"]
        longer = ctrl[("dense", 4)]
        assert by.at["dense, 4 epochs (2x)", "macs_to_obtain"] == training_cost(longer).macs
        assert by.at["dense, 4 epochs (2x)", "epochs"] == 4
        curve = [rec["test_acc"] for rec in set_run.records]
        assert len(curve) == r.set_length
        per_epoch = training_cost(set_run).macs / len(curve)
        for b, arm in r.budgets.items():
            assert by.at[arm, "acc"] == pytest.approx(np.mean(curve[max(0, b - lt.LAST_K):b]))
            assert by.at[arm, "macs"] == pytest.approx(per_epoch * b) and by.at[arm, "epochs"] == b
        assert by.at[r.imp_equal_arm, "macs"] >= search * (1 - 1e-9)  # the IMP-equal budget spends the search's MACs
    order = lt.arm_order(table)
    assert order[:4] == list(lt.FIXED_ARMS) and order[-1] == "dense, 4 epochs (2x)"
    assert order[4:-1] == [r.budgets[b] for b in sorted(r.budgets)]


def test_set_meets_the_dense_network_trained_as_long_or_its_longest_run(tiny):
    """Every SET budget is compared with the dense network at the longest of its budgets not above SET's, in the
    ceiling table and in the verdicts."""
    r = tiny.result
    assert lt.dense_budgets_of(40, [1, 3]) == {40: "dense", 120: "dense, 120 epochs (3x)"}
    assert lt.dense_budgets_of(10, [1]) == {10: "dense"}
    pairs = dict(zip(r.ceiling["arm"], r.ceiling["dense_arm"]))
    assert pairs[r.equal_epochs_arm] == "dense"
    assert pairs[r.longer_arms[-1]] == "dense, 4 epochs (2x)"
    assert pairs[r.imp_equal_arm] == ("dense" if r.imp_equal < 4 else "dense, 4 epochs (2x)")
    for row in r.ceiling.itertuples():
        dense = r.runs.loc[r.runs["arm"] == row.dense_arm, "acc"].mean()
        assert row.gap == pytest.approx(row.set_acc - dense)
    names = lt.claim_names(r)
    assert names["ceiling_more"].endswith("as accurate as the dense network (4 epochs)")
    by = {c.claim: c for c in tiny.findings.claims}
    more = by[names["ceiling_more"]]
    a = r.runs.loc[r.runs["arm"] == r.longer_arms[-1]].sort_values("seed")["acc"].to_numpy()
    b = r.runs.loc[r.runs["arm"] == "dense, 4 epochs (2x)"].sort_values("seed")["acc"].to_numpy()
    assert more.measured == pytest.approx(a.mean() - b.mean())
    beside = by[names["ticket_longest_dense"]]  # a description beside the winning-ticket verdict
    ticket = r.runs.loc[r.runs["arm"] == "IMP ticket"].sort_values("seed")["acc"].to_numpy()
    assert beside.holds is None and beside.measured == pytest.approx(ticket.mean() - b.mean())


@pytest.mark.parametrize("curve, plateaued", [
    ([0.80] * 5 + [0.81] * 5, False),            # still climbing by 0.01 > 0.004
    ([0.80] * 5 + [0.803] * 5, True),            # rose less than the threshold
    ([0.85] * 5 + [0.80] * 5, True),             # fell: past its peak, not climbing
    ([0.80], False),                             # too short for two windows of one epoch
])
def test_plateau_flags_only_runs_still_climbing(curve, plateaued):
    got, moved = lt.plateau(curve, 5, 0.004)
    assert got is plateaued
    assert math.isnan(moved) if len(curve) < 2 else moved == pytest.approx(np.mean(curve[-5:]) - np.mean(curve[-10:-5]))


def test_plateau_is_read_before_the_rate_drops():
    # climbing at the full rate, flat after a decay: the decay must not make it pass
    curve = [0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86, 0.88] + [0.90] * 10
    assert lt.plateau(curve, 5, 0.004)[0] is True  # read on the whole curve, the flat tail passes
    got, moved = lt.plateau(curve, 5, 0.004, full_rate=10)
    assert got is False and moved == pytest.approx(0.10)  # epochs 6-10 against 1-5
    got, moved = lt.plateau(curve, 10, 0.004, full_rate=10)  # window shrinks to half the full-rate epochs
    assert got is False and moved == pytest.approx(0.10)
    assert lt.plateau(curve, 5, 0.004, full_rate=1) == (False, pytest.approx(math.nan, nan_ok=True))


def test_full_rate_epochs_follow_the_trainer():
    from sparsetopo.training.trainer import full_rate_epochs, lr_factor

    assert full_rate_epochs("step", 20) == 10 and full_rate_epochs("constant", 20) == 20
    assert full_rate_epochs("cosine", 20) == 1
    assert lr_factor("step", full_rate_epochs("step", 21) - 1, 21) == 1.0 > lr_factor("step", full_rate_epochs("step", 21), 21)


def test_a_schedule_without_a_full_rate_phase_is_refused():
    with pytest.raises(ValueError, match="lr_schedule 'cosine' leaves 1 epoch"):
        lt.Parameters.resolve(lr_schedule="cosine")


def _table(values: dict[str, list[float]], plateaued: bool = True) -> pd.DataFrame:
    return pd.DataFrame([{"seed": s, "arm": arm, "acc": v, "plateaued": plateaued}
                         for arm, vals in values.items() for s, v in enumerate(vals)])


def test_accuracy_verdicts_follow_the_rule_at_the_stated_level_and_are_capped_on_climbing_runs():
    m = vd.Margin(0.01, "test")
    close = _table({"SET": [0.880, 0.882, 0.881, 0.879, 0.880], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]})
    assert lt.accuracy_verdict(close, "non-inferiority", "SET", "IMP ticket", m).verdict == vd.HOLDS
    far = _table({"SET": [0.85, 0.851, 0.849, 0.85, 0.852], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]})
    assert lt.accuracy_verdict(far, "non-inferiority", "SET", "IMP ticket", m).verdict == vd.DOES_NOT_HOLD
    # a difference decided at 95% is inconclusive at the Bonferroni level of a large family
    edge = _table({"SET": [0.874, 0.879, 0.876, 0.881, 0.875], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]})
    assert lt.accuracy_verdict(edge, "non-inferiority", "SET", "IMP ticket", m).verdict == vd.HOLDS
    assert lt.accuracy_verdict(edge, "non-inferiority", "SET", "IMP ticket", m,
                               confidence=1 - 0.05 / 1000).verdict == vd.INCONCLUSIVE
    climbing = _table({"SET": [0.880, 0.882, 0.881, 0.879, 0.880], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]},
                      plateaued=False)
    v = lt.accuracy_verdict(climbing, "non-inferiority", "SET", "IMP ticket", m)
    assert v.verdict == vd.INCONCLUSIVE and "still climbing" in v.note


def test_bonferroni_level_is_fixed_by_the_planned_family():
    p = lt.Parameters.resolve()
    assert p.confidence == pytest.approx(1 - p.family_alpha / len(lt.VERDICT_KEYS))
    assert len(lt.VERDICT_KEYS) == len(set(lt.VERDICT_KEYS)) == 11


def _reach(reached: list[bool], ratios: list[float]) -> pd.DataFrame:
    rows = [{"target": "ticket", "target_acc": 0.85, "seed": s, "reached": ok, "epoch": 10 if ok else math.nan,
             "run_epochs": 100, "macs": 1e9 / x, "imp_macs": 1e9, "log10_ratio": math.log10(x)}
            for s, (ok, x) in enumerate(zip(reached, ratios))]
    return lt.reach_table(pd.DataFrame(rows))


def test_reach_table_keeps_costs_only_where_set_reached_the_target():
    reach = _reach([True, False, True], [10.0, 0.9, 12.0])
    assert reach.loc[reach["reached"], "macs"].notna().all()
    censored = reach[~reach["reached"]].iloc[0]
    assert math.isnan(censored["macs"]) and math.isnan(censored["log10_ratio"])
    assert censored["bound_macs"] == pytest.approx(1e9 / 0.9)
    assert reach.loc[reach["reached"], "bound_macs"].isna().all()


def test_cost_is_a_verdict_only_when_every_seed_reached_the_target():
    margin = vd.Margin(math.log10(2), "test")
    assert lt.cost_claim(_reach([True] * 3, [10.0, 12.0, 11.0]), "ticket", margin).verdict == vd.HOLDS
    assert lt.cost_claim(_reach([True] * 3, [1.1, 1.2, 1.0]), "ticket", margin).verdict == vd.DOES_NOT_HOLD
    assert lt.cost_claim(_reach([True, True, False], [10.0, 12.0, 0.9]), "ticket", margin) is None
    # fully censored: every seed has the same bound, which once gave a verdict with an interval of no width
    assert lt.cost_claim(_reach([False] * 3, [1.0, 1.0, 1.0]), "ticket", margin) is None


def test_censored_cost_rows_are_recorded_as_descriptions(tiny):
    import copy
    import dataclasses

    reach = tiny.result.reach.copy()
    reach["bound_macs"] = np.where(reach["reached"], reach["macs"], reach["bound_macs"])
    reach["reached"] = False
    reach[["macs", "log10_ratio"]] = np.nan
    result = dataclasses.replace(copy.copy(tiny.result), reach=reach)
    findings = lt.claims(result)
    names = lt.claim_names(result)
    by = {c.claim: c for c in findings.claims}
    for key in ("cost_ticket", "cost_dense"):
        c = by[names[key]]
        assert c.verdict is None and c.rule is None and c.measured is None and c.holds is None
        assert "reached it in 0 of 3 seeds" in c.spread
    text = render("04_lottery_tickets", "costs", **lt.context(result, findings))
    assert "SET never reached" in text and "no cost verdict" in text


def _relative(value: float, n: int, noise: float = 0.002, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(0, noise, (n, n))
    m = value + (e + e.T) / 2
    np.fill_diagonal(m, 0)
    return m


def test_topology_rule_compares_distances_over_the_degree_null_with_the_published_networks():
    margin = vd.Margin(0.05, "test")
    published = _relative(0.69, 10, noise=0.02, seed=1)
    assert lt.topology_verdict(_relative(0.95, 3), published, margin, n_boot=500).verdict == vd.HOLDS
    # the published networks' own level minus a little passes; far below it fails
    assert lt.topology_verdict(_relative(0.68, 4), published, margin, n_boot=500).verdict == vd.HOLDS
    assert lt.topology_verdict(_relative(0.40, 4), published, margin, n_boot=500).verdict == vd.DOES_NOT_HOLD
    # the old rule (0.975 of the Erdős–Rényi baseline) would have failed the published networks themselves;
    # this one, on their own scale, cannot
    assert lt.topology_verdict(published, published, margin, n_boot=500).verdict == vd.HOLDS
    assert lt.topology_verdict(_relative(0.95, 2), published, margin).verdict == vd.INCONCLUSIVE


def test_relative_distances_divide_by_the_groups_degree_preserving_baseline(tiny):
    from sparsetopo.study.common import baseline_frame, baseline_value, layer_matrix

    d = tiny.result.distances
    assert d.layers == (0, 1)  # hidden layers only: SET never rewires the (sparse) output layer
    g = np.flatnonzero(np.array(d.groups) == "SET")
    base = baseline_value(baseline_frame(d.degree["SET"]), "mean", [0, 1])
    expected = layer_matrix(d.matrix, "mean", [0, 1])[np.ix_(g, g)] / base
    assert np.allclose(d.relative("SET"), expected)
    with pytest.raises(ValueError, match="baseline"):
        lt.relative_matrix(np.zeros((3, 3)), 0.0)


def test_published_reference_is_computed_from_the_published_networks(tiny):
    from sparsetopo.study.published import published_root

    ref = tiny.result.published
    if published_root() is None:
        assert ref is None
        pytest.skip("the published networks are not in the data root")
    assert ref.epoch == 190 and len(ref.runs) == 3 and ref.layers == (0, 1, 2)
    iu = np.triu_indices(3, 1)
    assert ref.interval.estimate == pytest.approx(ref.matrix[iu].mean() / ref.baseline)
    assert 0.3 < ref.interval.estimate < 1.0


def test_findings_record_verdicts_only_where_a_rule_decides(tiny):
    findings = tiny.findings
    assert isinstance(findings, Findings)
    assert all(c.verdict in (vd.HOLDS, vd.DOES_NOT_HOLD, vd.INCONCLUSIVE) for c in findings.claims if c.rule)
    described = [c for c in findings.claims if c.rule is None]
    assert described and all(c.holds is None for c in described)
    names = lt.claim_names(tiny.result)
    assert [c.claim for c in findings.claims] == [names[k] for k in (
        *[k for k in lt.VERDICT_KEYS if k not in ("topology",)], "topology", "plenitude", "search_cost",
        "set_relative", *(["published_relative"] if tiny.result.published is not None else []), "tickets_relative",
        "tickets_set", "ticket_longest_dense")]
    level = tiny.params.confidence
    for c in findings.claims:
        if c.rule and c.claim != names["plenitude"]:
            assert f"{100 * level:.2f}%" in c.detail, c.claim
    (headline,) = findings.headlines
    assert headline["paper_claim"] == lt.PAPER_CLAIM and len(headline["claims"]) == 6
    assert "64-16-16-10 MLP, digits" in headline["setting"] and "Bonferroni over 11" in headline["setting"]


def test_every_template_renders_with_the_context_of_a_run(tiny):
    sections = template_names("04_lottery_tickets")
    assert {"rules", "runs", "ceiling", "scales", "accuracy", "convergence", "costs", "distances",
            "discussion"} <= set(sections)
    texts = {s: render("04_lottery_tickets", s, **tiny.context) for s in sections}  # StrictUndefined: no blanks
    p = tiny.params
    assert f"m = {p.accuracy_margin:g}" in texts["rules"] and "log10(2)" in texts["rules"]
    assert "Bonferroni over the 11 planned verdicts" in texts["rules"] and "99.55%" in texts["rules"]
    assert "degree-preserving null" in texts["rules"] and "0.975" not in texts["rules"]
    assert texts["discussion"].startswith("## Discussion and limitations")
    assert "still climbing" in texts["convergence"]
    assert "lands on the target" in texts["runs"]


def test_figures_draw_every_figure_the_notebook_shows(tiny):
    from matplotlib.figure import Figure

    from sparsetopo.study.figures import lottery_tickets as lf

    figs = lf.figures(tiny.result)
    assert list(figs) == ["set_ceiling", "imp_rounds", "learning_curves", "accuracy_vs_cost", "set_cost",
                          "relative_distance", "nnstd_matrix", "nnstd_embedding"]
    assert all(isinstance(f, Figure) and f.axes for f in figs.values())


@pytest.mark.parametrize("word", [vd.HOLDS, vd.DOES_NOT_HOLD, vd.INCONCLUSIVE, "n/a"])
def test_every_branch_of_the_discussion_renders(tiny, word):
    """The templates' conditionals for every verdict word, climbing or not, targets reached or not, with and
    without the published reference."""
    import copy

    ctx = copy.deepcopy({k: v for k, v in tiny.context.items() if k != "p"})
    for v in ctx["v"].values():
        v["verdict"] = word
        if v["estimate"] is None or math.isnan(v["estimate"]):  # a description (no data root): give it numbers
            v.update(estimate=0.01, low=-0.01, high=0.03)
    for reached in (0, 1, 3):
        for target in ctx["reach"].values():
            target.update(n_reached=reached, n=3, epochs=[5] * reached, bound_macs=1e6, bound_ratio=0.5)
        ctx.update(n_climbing=reached, climbing={"dense": reached} if reached else {},
                   published=None if reached == 1 else ctx["published"])
        for section in ("discussion", "costs", "convergence", "ceiling", "distances"):
            text = render("04_lottery_tickets", section, p=tiny.params, **ctx)
            assert "{{" not in text and "{%" not in text
        assert f"**{word}**" in render("04_lottery_tickets", "discussion", p=tiny.params, **ctx)


def test_a_set_run_with_the_recipes_constant_rate_is_the_prefix_of_a_longer_one(tmp_path):
    """The premise of reading SET's budgets from one run: its first epochs are the shorter run, epoch by epoch."""
    from sparsetopo import store
    from sparsetopo.store.config import RunConfig

    base = RunConfig(dataset="digits", hidden=(32, 32), method="set", layer_edges=(512, 256, 80), zeta=0.3,
                     rewire_output=False, seed=1000, snapshot_epochs=(), **lt.set_options("set_reference"))
    short = store.train(base.replace(epochs=3), root=tmp_path, progress=False)
    long = store.train(base.replace(epochs=5), root=tmp_path, progress=False)
    assert [r["test_acc"] for r in short.records] == [r["test_acc"] for r in long.records][:3]
    assert [r["train_loss"] for r in short.records] == [r["train_loss"] for r in long.records][:3]
