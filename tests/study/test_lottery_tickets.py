"""Lottery-ticket study: arm tables, verdict rules, distances, claims, templates and figures (the searches
and controls themselves are tested in tests/library/test_lottery_arms.py)."""

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

SEEDS = [0, 1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The notebook's run (2 searches on digits, 2 epochs per run), claims and template context."""
    p = lt.Parameters.resolve(dataset="digits", hidden=(16, 16), seeds=tuple(SEEDS), target_density=0.25,
                              prune_fraction=0.5, epochs=2, set_epochs=(3,), train_samples=None, lr=0.05, batch_size=64,
                              backend="masked", baseline_pairs=3, figures_dir=str(tmp_path_factory.mktemp("fig")),
                              runs_root=str(tmp_path_factory.mktemp("runs")), n_jobs=1, verbosity="warning")
    result = lt.run(p)
    findings = lt.claims(result)
    return SimpleNamespace(params=p, result=result, findings=findings, context=lt.context(result, findings))


@pytest.fixture(scope="module")
def study(tiny):
    r = tiny.result
    return SimpleNamespace(tickets=r.tickets, controls=r.controls, equal=r.imp_equal, budgets=r.budgets)


def test_arm_table_charges_each_arm_what_it_had_to_train_and_names_the_imp_equal_budget(study):
    table = lt.arm_table(study.tickets, study.controls)
    assert len(table) == len(SEEDS) * (4 + len(study.budgets))
    for ticket, ctrl in zip(study.tickets, study.controls):
        by = table[table["seed"] == ticket.config.base.seed].set_index("arm")
        search = lottery_cost(ticket).macs
        assert by.at["dense", "macs_to_obtain"] == training_cost(ticket.rounds[0]).macs
        assert by.at["IMP ticket", "macs_to_obtain"] == search
        assert by.at["ticket mask, re-init", "macs_to_obtain"] == search + training_cost(ctrl["reinit"]).macs
        eq = lt.set_label(study.equal, imp_equal=True)
        assert by.at[eq, "macs_to_obtain"] >= search
        curve = [r["test_acc"] for r in ticket.run.records]
        assert by.at["IMP ticket", "acc"] == pytest.approx(np.mean(curve[-5:]))
        assert by.at["IMP ticket", "final_acc"] == curve[-1] and by.at["IMP ticket", "best_acc"] == max(curve)
        assert not by["converged"].any()  # 2 epochs: too short for the 5-vs-5 check
    assert lt.arm_order(table)[:4] == list(lt.FIXED_ARMS)
    assert len(lt.convergence_report(table)) == len(table)


def test_cost_verdict_caps_holds_when_a_seed_is_censored():
    margin = vd.Margin(math.log10(2), "test")
    ok = pd.DataFrame({"target": "ticket", "reached": [True] * 3, "log10_ratio": [1.0, 1.1, 0.9]})
    assert lt.cost_verdict(ok, "ticket", margin).verdict == vd.HOLDS
    censored = ok.assign(reached=[True, True, False])
    v = lt.cost_verdict(censored, "ticket", margin)
    assert v.verdict == vd.INCONCLUSIVE and "never reached" in v.note
    worse = pd.DataFrame({"target": "ticket", "reached": [True, False, False], "log10_ratio": [-0.5, -0.6, -0.55]})
    assert lt.cost_verdict(worse, "ticket", margin).verdict == vd.DOES_NOT_HOLD


def _table(values: dict[str, list[float]], converged: bool = True) -> pd.DataFrame:
    return pd.DataFrame([{"seed": s, "arm": arm, "acc": v, "converged": converged}
                         for arm, vals in values.items() for s, v in enumerate(vals)])


def test_accuracy_verdicts_follow_the_rule_and_are_capped_on_unconverged_runs():
    m = vd.Margin(0.01, "test")
    close = _table({"SET": [0.880, 0.882, 0.881, 0.879, 0.880], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]})
    assert lt.accuracy_verdict(close, "non-inferiority", "SET", "IMP ticket", m).verdict == vd.HOLDS
    far = _table({"SET": [0.85, 0.851, 0.849, 0.85, 0.852], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]})
    assert lt.accuracy_verdict(far, "non-inferiority", "SET", "IMP ticket", m).verdict == vd.DOES_NOT_HOLD
    spanning = _table({"SET": [0.86, 0.89, 0.87, 0.88, 0.86], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]})
    assert lt.accuracy_verdict(spanning, "non-inferiority", "SET", "IMP ticket", m).verdict == vd.INCONCLUSIVE
    unconverged = _table({"SET": [0.880, 0.882, 0.881, 0.879, 0.880], "IMP ticket": [0.881, 0.880, 0.882, 0.880, 0.881]},
                         converged=False)
    v = lt.accuracy_verdict(unconverged, "non-inferiority", "SET", "IMP ticket", m)
    assert v.verdict == vd.INCONCLUSIVE and "not converged" in v.note


def test_joint_verdict_needs_every_part():
    m = vd.Margin(0.1, "test")
    holds, fails, open_ = (vd.non_inferiority(0, (lo, hi), m) for lo, hi in ((-0.05, 0.05), (-0.3, -0.2), (-0.2, 0.0)))
    assert vd.joint_verdict([holds, holds], ["a", "b"]).verdict == vd.HOLDS
    assert vd.joint_verdict([holds, fails], ["a", "b"]).verdict == vd.DOES_NOT_HOLD
    assert vd.joint_verdict([open_, fails], ["a", "b"]).verdict == vd.DOES_NOT_HOLD
    assert vd.joint_verdict([holds, open_], ["a", "b"]).verdict == vd.INCONCLUSIVE


def _distances(set_block: np.ndarray, baseline_mean: float, baseline_ci: tuple) -> lt.TicketDistances:
    n = set_block.shape[0]
    matrix = SimpleNamespace(mean=set_block, labels=tuple(f"SET s{i}" for i in range(n)))
    baseline = SimpleNamespace(mean=baseline_mean, ci=baseline_ci)
    return lt.TicketDistances(matrix=matrix, groups=("SET",) * n, seeds=tuple(range(n)), baseline=baseline,
                              blocks=pd.DataFrame(), coords=np.zeros((n, 2)))


def test_topology_verdict_resamples_networks_and_widens_by_the_baseline():
    rng = np.random.default_rng(0)
    n = 6
    noise = rng.normal(0, 0.002, (n, n))
    m = 0.80 + (noise + noise.T) / 2
    np.fill_diagonal(m, 0)
    margin = vd.Margin(0.02, "test")
    v = lt.topology_verdict(_distances(m, 0.80, (0.798, 0.802)), margin)
    assert v.verdict == vd.HOLDS and v.low > -0.02
    closer = m - 0.1
    np.fill_diagonal(closer, 0)
    assert lt.topology_verdict(_distances(closer, 0.80, (0.798, 0.802)), margin).verdict == vd.DOES_NOT_HOLD
    # a wide baseline interval makes the same SET block inconclusive
    assert lt.topology_verdict(_distances(m, 0.80, (0.77, 0.83)), margin).verdict == vd.INCONCLUSIVE


def test_ticket_distances_fix_output_neurons_of_a_sparse_output_layer_and_resample_networks(study, tmp_path):
    d = lt.ticket_distances(study.tickets, study.controls, set_epochs=study.equal, baseline_pairs=3, cache_dir=tmp_path)
    assert d.fixed_output
    assert d.groups == ("IMP ticket",) * 2 + ("SET",) * 2 + ("random static",) * 2
    blocks = d.blocks.set_index("block")
    assert blocks.at["IMP ticket – SET", "n_pairs"] == 4
    assert blocks.at["IMP ticket – SET", "nnstd_mean"] == pytest.approx(d.matrix.mean[2:4, 0:2].mean())
    row = blocks.loc["IMP ticket – SET"]
    assert row["ci_low"] <= row["nnstd_mean"] <= row["ci_high"]
    assert math.isnan(blocks.at["SET – SET", "ci_low"])  # two networks: too few to resample


def test_parameters_check_margins_and_budgets():
    with pytest.raises(ValueError, match="accuracy_margin"):
        lt.Parameters.resolve(accuracy_margin=0)
    with pytest.raises(ValueError, match="cost_factor"):
        lt.Parameters.resolve(cost_factor=0.5)
    with pytest.raises(ValueError, match="seeds"):
        lt.Parameters.resolve(seeds=[0])
    with pytest.raises(ValueError, match="rewind_epoch"):
        lt.Parameters.resolve(epochs=3, rewind_epoch=3)


def test_findings_record_verdicts_only_where_a_rule_decides(tiny):
    findings = tiny.findings
    assert isinstance(findings, Findings)
    assert all(c.verdict in (vd.HOLDS, vd.DOES_NOT_HOLD, vd.INCONCLUSIVE) for c in findings.claims if c.rule)
    described = [c for c in findings.claims if c.rule is None]
    assert described and all(c.holds is None for c in described)
    # 2 epochs never converge: every accuracy verdict is at most inconclusive
    assert all(c.verdict != vd.HOLDS for c in findings.claims if c.rule)
    assert [c.claim for c in findings.claims] == list(lt.claim_names(tiny.params, tiny.result.imp_equal).values())
    (headline,) = findings.headlines
    assert headline["paper_claim"] == lt.PAPER_CLAIM and len(headline["claims"]) == 6
    assert "64-16-16-10 MLP, digits" in headline["setting"]


def test_every_template_renders_with_the_context_of_a_run(tiny):
    sections = template_names("04_lottery_tickets")
    assert {"rules", "runs", "scales", "accuracy", "convergence", "costs", "distances", "discussion"} <= set(sections)
    texts = {s: render("04_lottery_tickets", s, **tiny.context) for s in sections}  # StrictUndefined: no blanks
    p = tiny.params
    assert f"m = {p.accuracy_margin:g}" in texts["rules"] and "log10(2)" in texts["rules"]
    assert "bootstrap over networks" in texts["rules"]
    assert texts["discussion"].startswith("## Discussion and limitations")
    assert "**inconclusive**" in texts["discussion"] and "not converged" in texts["discussion"]
    assert f"{len(tiny.result.runs)} runs have not converged" in texts["convergence"]
    assert "SET never reached" in texts["costs"] or "SET reached" in texts["costs"]


def test_figures_draw_every_figure_the_notebook_shows(tiny):
    from matplotlib.figure import Figure

    from sparsetopo.study.figures import lottery_tickets as lf

    figs = lf.figures(tiny.result)
    assert list(figs) == ["imp_rounds", "learning_curves", "accuracy_vs_cost", "set_cost", "nnstd_matrix",
                          "nnstd_embedding"]
    assert all(isinstance(f, Figure) and f.axes for f in figs.values())


@pytest.mark.parametrize("word", [vd.HOLDS, vd.DOES_NOT_HOLD, vd.INCONCLUSIVE])
def test_every_branch_of_the_discussion_renders(tiny, word):
    """The templates' conditionals for every verdict word, converged or not, targets reached or not."""
    import copy

    ctx = copy.deepcopy({k: v for k, v in tiny.context.items() if k != "p"})
    for v in ctx["v"].values():
        v["verdict"] = word
    for reached in (0, 2):
        for target in ctx["reach"].values():
            target.update(n_reached=reached, epochs=[5] * reached)
        ctx.update(n_unconverged=reached, unconverged={"dense": reached} if reached else {})
        for section in ("discussion", "costs", "convergence"):
            text = render("04_lottery_tickets", section, p=tiny.params, **ctx)
            assert "{{" not in text and "{%" not in text
        assert f"**{word}**" in render("04_lottery_tickets", "discussion", p=tiny.params, **ctx)
