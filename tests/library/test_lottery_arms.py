"""The arms of a lottery-ticket comparison: searches and fair controls, the IMP-equal budget, initial scales,
costs to reach an accuracy."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sparsetopo import lottery_arms as arms
from sparsetopo.cost import lottery_cost, training_cost
from sparsetopo.lottery import lottery_directory, pruning_schedule

SEEDS = [0, 1]
WIDTHS = [64, 16, 16, 10]  # digits


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    configs = arms.lottery_configs("digits", (16, 16), SEEDS, target_density=0.25, prune_fraction=0.5, epochs=2,
                                   batch_size=64, lr=0.05, snapshot_epochs=())
    equal = arms.imp_equal_epochs(configs[0], WIDTHS)
    budgets = arms.set_budgets(2, [3], equal)
    tickets, controls = arms.run_all(configs, WIDTHS, root=root, n_jobs=1, set_epochs=budgets, dense_epochs=[5])
    return SimpleNamespace(configs=configs, root=root, tickets=tickets, controls=controls, equal=equal, budgets=budgets)


def test_lottery_configs_give_one_search_per_seed_with_equal_round_and_dense_epochs():
    configs = arms.lottery_configs("digits", (16, 16), [3, 4], target_density=0.1, epochs=5, lr=0.2)
    assert [c.base.seed for c in configs] == [3, 4]
    assert all(c.base.method == "dense" and c.base.epochs == 5 and c.round_epochs == 5 for c in configs)
    with pytest.raises(ValueError, match="repeat"):
        arms.lottery_configs("digits", (16, 16), [1, 1], target_density=0.1, epochs=1)


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
            assert run.config.seed == ticket.config.base.seed + arms.CONTROL_SEED_OFFSET
        assert all(np.array_equal(a, b) for a, b in zip(ctrl["reinit"].topology(0), ticket.masks))
    scales = arms.initial_weight_scales(study.tickets, study.controls)
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


def test_a_longer_dense_run_continues_the_searchs_dense_round(study):
    """The dense network of a search trained longer: same configuration and seed, so at a constant rate its first
    round_epochs epochs are the search's dense round, record for record."""
    for ticket, ctrl in zip(study.tickets, study.controls):
        run, dense = ctrl[("dense", 5)], ticket.rounds[0]
        assert run.config == ticket.config.base.replace(epochs=5) and len(run.records) == 5
        for mine, theirs in zip(run.records[:2], dense.records):
            assert (mine["test_acc"], mine["test_loss"]) == (theirs["test_acc"], theirs["test_loss"])
        assert run.records[4]["test_loss"] != dense.records[1]["test_loss"]
    with pytest.raises(ValueError, match="dense_epochs"):
        arms.control_run_configs(study.configs[0], WIDTHS, seed=1, zeta=0.3, set_epochs=(), dense_epochs=[0])


def test_controls_need_per_layer_pruning_and_the_tickets_own_edge_counts(study):
    config = study.configs[0]
    with pytest.raises(ValueError, match="per-layer"):
        arms.control_run_configs(config.replace(global_pruning=True), WIDTHS, seed=1, zeta=0.3, set_epochs=())
    with pytest.raises(ValueError, match="planned"):
        arms.control_run_configs(study.configs[0], [64, 16, 12, 10], seed=1, zeta=0.3, set_epochs=(),
                                 ticket=study.tickets[0])


def test_search_folders_are_where_the_store_puts_them(study):
    assert [t.directory for t in study.tickets] == [lottery_directory(c, study.root) for c in study.configs]
    assert all(t.complete and len(t.rounds) == 3 for t in study.tickets)
    assert [list(map(int, r.summary["edges"])) for r in study.tickets[0].rounds] == pruning_schedule(study.configs[0], WIDTHS)


def test_first_reach_uses_the_k_epoch_mean():
    curve = np.array([0.1, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.95])
    assert arms.first_reach(curve, 0.9) == 7  # mean of epochs 3..7 is the first >= 0.9
    assert arms.first_reach(curve, 0.74) == 6  # epochs 1..5 average 0.6, epochs 2..6 0.76
    assert arms.first_reach(curve, 0.99) is None
    assert arms.first_reach(curve[:3], 0.1) is None
    assert arms.first_reach(curve, 0.9, k=1) == 3


def _curves(seed_curves: dict[int, dict[str, list[float]]]) -> pd.DataFrame:
    return pd.DataFrame([{"seed": seed, "arm": arm, "epoch": e, "test_acc": a, "macs": float(e)}
                         for seed, runs in seed_curves.items() for arm, curve in runs.items()
                         for e, a in enumerate(curve, start=1)])


def test_reach_costs_take_the_cheapest_run_and_censor_seeds_that_never_reach():
    flat = [0.5] * 5
    curves = _curves({0: {"SET, 5 epochs": [0.8] * 5, "SET, 10 epochs": flat + [0.8] * 5},
                      1: {"SET, 5 epochs": flat, "SET, 10 epochs": [0.5] * 10}})
    reach = arms.reach_costs(curves, {0: 50.0, 1: 50.0}, {"ticket": 0.8})
    r0, r1 = reach.iloc[0], reach.iloc[1]
    assert r0["reached"] and r0["epoch"] == 5 and r0["run_epochs"] == 5 and r0["macs"] == 5.0
    assert r0["log10_ratio"] == pytest.approx(1.0)
    assert not r1["reached"] and r1["macs"] == 10.0 and r1["log10_ratio"] == pytest.approx(math.log10(5))
    assert math.isnan(r1["epoch"])


def test_set_options_reach_only_the_set_runs_and_may_not_change_what_the_arm_fixes():
    (config,) = arms.lottery_configs("digits", (16, 16), [0], target_density=0.25, prune_fraction=0.5, epochs=2)
    options = {"dropout": 0.2, "weight_init": "he_uniform", "batch_size": 40, "weight_decay_mode": "decoupled"}
    out = arms.control_run_configs(config, WIDTHS, seed=1000, zeta=0.3, set_epochs=[7], set_options=options)
    set_run, static = out[("set", 7)], out["random_static"]
    assert (set_run.dropout, set_run.weight_init, set_run.batch_size, set_run.weight_decay_mode) == (
        0.2, "he_uniform", 40, "decoupled")
    assert set_run.layer_edges == static.layer_edges and set_run.epochs == 7 and set_run.seed == 1000
    assert (static.dropout, static.weight_init, static.batch_size) == (0.0, "dense", config.base.batch_size)
    with pytest.raises(ValueError, match=r"set_options may not change \['epochs', 'layer_edges'\]"):
        arms.control_run_configs(config, WIDTHS, seed=1000, zeta=0.3, set_epochs=[7],
                                 set_options={"epochs": 3, "layer_edges": (1, 1, 1)})
