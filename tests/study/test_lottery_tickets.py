"""Lottery-ticket study: searches and fair controls, arm tables, costs to reach an accuracy, verdict rules."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sparsetopo.cost import lottery_cost, training_cost
from sparsetopo.lottery import lottery_directory, pruning_schedule
from sparsetopo.study import lottery_tickets as lt
from sparsetopo.study import verdicts as vd
from sparsetopo.study.findings import Findings

SEEDS = [0, 1]
WIDTHS = [64, 16, 16, 10]  # digits


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    configs = lt.lottery_configs("digits", (16, 16), SEEDS, target_density=0.25, prune_fraction=0.5, epochs=2,
                                 batch_size=64, lr=0.05, snapshot_epochs=())
    equal = lt.imp_equal_epochs(configs[0], WIDTHS)
    budgets = lt.set_budgets(2, [3], equal)
    tickets, controls = lt.run_all(configs, WIDTHS, root=root, n_jobs=1, set_epochs=budgets)
    return SimpleNamespace(configs=configs, root=root, tickets=tickets, controls=controls, equal=equal, budgets=budgets)


def test_lottery_configs_give_one_search_per_seed_with_equal_round_and_dense_epochs():
    configs = lt.lottery_configs("digits", (16, 16), [3, 4], target_density=0.1, epochs=5, lr=0.2)
    assert [c.base.seed for c in configs] == [3, 4]
    assert all(c.base.method == "dense" and c.base.epochs == 5 and c.round_epochs == 5 for c in configs)
    with pytest.raises(ValueError, match="repeat"):
        lt.lottery_configs("digits", (16, 16), [1, 1], target_density=0.1, epochs=1)


def test_imp_equal_budget_is_the_first_set_epoch_count_whose_macs_reach_the_whole_search(study):
    ticket = study.tickets[0]
    search = lottery_cost(ticket).macs
    run = study.controls[0][("set", study.equal)]
    per_epoch = training_cost(run).macs / study.equal
    assert per_epoch * study.equal >= search > per_epoch * (study.equal - 1)
    assert study.budgets == sorted({2, 3, study.equal})


def test_controls_start_from_the_tickets_initial_distribution_and_train_its_epochs(study):
    for ticket, ctrl in zip(study.tickets, study.controls):
        for key in ("reinit", "random_static"):
            run = ctrl[key]
            assert run.config.weight_init == "dense" and run.config.epochs == ticket.run.config.epochs == 2
            assert tuple(run.summary["edges"]) == ticket.layer_edges
            assert run.config.seed == ticket.config.base.seed + lt.CONTROL_SEED_OFFSET
        assert all(np.array_equal(a, b) for a, b in zip(ctrl["reinit"].topology(0), ticket.masks))
    scales = lt.initial_weight_scales(study.tickets, study.controls)
    controls = scales[scales["arm"] != "IMP ticket"]
    # the fan-in rescaling (weight_init="sparse") would put these at 1/sqrt(density) = 2 for the hidden layers
    assert controls["ratio_to_dense_init"].between(0.8, 1.2).all()
    assert controls["ratio_to_rewind_source"].between(0.8, 1.2).all()
    ticket = scales[scales["arm"] == "IMP ticket"]
    # survivors are selected by magnitude (after 2 epochs, nearly by their initial one): larger, never 1/sqrt(density)
    assert ticket["ratio_to_rewind_source"].between(1.0, 1.6).all()
    assert controls["ratio_to_ticket"].between(0.6, 1.0).all()


def test_sparse_initialisation_would_fail_the_scale_check(study):
    """The check above can fail: the fan-in-rescaled initialisation is ~1/sqrt(density) larger."""
    from sparsetopo.training.loop import build_model

    ticket = study.tickets[0]
    cfg = study.controls[0]["reinit"].config
    model = build_model(cfg.replace(weight_init="sparse"), WIDTHS, masks=ticket.masks)
    w, m = model.layers[1].weight.detach().numpy(), ticket.masks[1]
    ratio = float(w[m].std()) / (1 / math.sqrt(3 * WIDTHS[1]))
    assert ratio > 1.5


def test_set_never_rewires_a_sparse_output_layer_and_runs_every_budget(study):
    for ticket, ctrl in zip(study.tickets, study.controls):
        assert ticket.masks[-1].sum() < ticket.masks[-1].size  # the output layer is sparse here
        for b in study.budgets:
            run = ctrl[("set", b)]
            assert run.config.method == "set" and not run.config.rewire_output and run.config.epochs == b
            assert run.config.weight_init == "dense"
            assert np.array_equal(run.topology(0)[-1], run.topology()[-1])
            assert not np.array_equal(run.topology(0)[0], run.topology()[0])


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


def test_first_reach_uses_the_five_epoch_mean():
    curve = np.array([0.1, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.95])
    assert lt._first_reach(curve, 0.9) == 7  # mean of epochs 3..7 is the first >= 0.9
    assert lt._first_reach(curve, 0.74) == 6  # epochs 1..5 average 0.6, epochs 2..6 0.76
    assert lt._first_reach(curve, 0.99) is None
    assert lt._first_reach(curve[:3], 0.1) is None


def _curves(seed_curves: dict[int, dict[str, list[float]]], per_epoch: dict[str, float]) -> pd.DataFrame:
    rows = []
    for seed, arms in seed_curves.items():
        for arm, curve in arms.items():
            for e, a in enumerate(curve, start=1):
                rows.append({"seed": seed, "arm": arm, "epoch": e, "test_acc": a, "macs": e * per_epoch[arm]})
    return pd.DataFrame(rows)


def test_reach_costs_take_the_cheapest_set_run_and_censor_seeds_that_never_reach():
    flat = [0.5] * 5
    curves = _curves({0: {"SET, 5 epochs": [0.8] * 5, "SET, 10 epochs": flat + [0.8] * 5},
                      1: {"SET, 5 epochs": flat, "SET, 10 epochs": [0.5] * 10}},
                     {"SET, 5 epochs": 1.0, "SET, 10 epochs": 1.0})
    table = pd.DataFrame({"seed": [0, 1], "arm": ["IMP ticket"] * 2, "macs_to_obtain": [50.0, 50.0]})
    reach = lt.reach_costs(curves, table, {"ticket": 0.8})
    r0, r1 = reach.iloc[0], reach.iloc[1]
    assert r0["reached"] and r0["epoch"] == 5 and r0["macs"] == 5.0 and r0["log10_ratio"] == pytest.approx(1.0)
    assert not r1["reached"] and r1["macs"] == 10.0 and r1["log10_ratio"] == pytest.approx(math.log10(5))


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
    assert lt.joint_verdict([holds, holds], ["a", "b"]).verdict == vd.HOLDS
    assert lt.joint_verdict([holds, fails], ["a", "b"]).verdict == vd.DOES_NOT_HOLD
    assert lt.joint_verdict([open_, fails], ["a", "b"]).verdict == vd.DOES_NOT_HOLD
    assert lt.joint_verdict([holds, open_], ["a", "b"]).verdict == vd.INCONCLUSIVE


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
    p = lt.Parameters.resolve(set_epochs=[40, 80])
    text = lt.rules(p)
    assert f"m = {p.accuracy_margin:g}" in text and "log10(2)" in text and "bootstrap over networks" in text


def test_search_folders_are_where_the_store_puts_them(study):
    assert [t.directory for t in study.tickets] == [lottery_directory(c, study.root) for c in study.configs]
    assert all(t.complete and len(t.rounds) == 3 for t in study.tickets)
    assert [list(map(int, r.summary["edges"])) for r in study.tickets[0].rounds] == pruning_schedule(study.configs[0], WIDTHS)


def test_findings_record_verdicts_only_where_a_rule_decides(study, tmp_path):
    p = lt.Parameters.resolve(dataset="digits", hidden=(16, 16), seeds=tuple(SEEDS), target_density=0.25, prune_fraction=0.5,
                      epochs=2, set_epochs=(3,), train_samples=None, lr=0.05, batch_size=64, baseline_pairs=3,
                      figures_dir=str(tmp_path / "fig"), runs_root=str(study.root), n_jobs=1, verbosity="warning")
    r = lt.run(p)
    findings = lt.claims(r)
    assert all(c.verdict in (vd.HOLDS, vd.DOES_NOT_HOLD, vd.INCONCLUSIVE) for c in findings.claims if c.rule)
    described = [c for c in findings.claims if c.rule is None]
    assert described and all(c.holds is None for c in described)
    # 2 epochs never converge: every accuracy verdict is at most inconclusive
    assert all(c.verdict != vd.HOLDS for c in findings.claims if c.rule)
    text = lt.discussion(r, findings)
    assert text.startswith("## Discussion and limitations")
    assert isinstance(findings, Findings)
