"""Lottery-ticket study: searches per seed, controls, cost table and ratios, distances among tickets and SET."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparsetopo.cost import lottery_cost, training_cost
from sparsetopo.lottery import lottery_directory
from sparsetopo.study import lottery_tickets as tickets_study
from sparsetopo.study.findings import Findings

SEEDS = [0, 1]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    configs = tickets_study.lottery_configs("digits", (16, 16), SEEDS, target_density=0.25, prune_fraction=0.5,
                                            epochs=1, batch_size=64, lr=0.05)
    tickets = tickets_study.find_tickets(configs, root=root, n_jobs=1)
    controls = tickets_study.train_ticket_controls(tickets, root=root, n_jobs=1)
    return configs, root, tickets, controls


def test_lottery_configs_give_one_search_per_seed_with_equal_round_and_dense_epochs():
    configs = tickets_study.lottery_configs("digits", (16, 16), [3, 4], target_density=0.1, epochs=5, lr=0.2)
    assert [c.base.seed for c in configs] == [3, 4]
    assert all(c.base.method == "dense" and c.base.epochs == 5 and c.round_epochs == 5 for c in configs)
    assert all(c.base.lr == 0.2 and c.target_density == 0.1 and c.prune_fraction == 0.2 for c in configs)
    with pytest.raises(ValueError, match="repeat"):
        tickets_study.lottery_configs("digits", (16, 16), [1, 1], target_density=0.1, epochs=1)


def test_find_tickets_returns_complete_searches_in_config_order(study):
    configs, root, tickets, _ = study
    assert [t.config for t in tickets] == configs
    assert all(t.complete and len(t.rounds) == 3 for t in tickets)  # 0.5^2 = 0.25: dense + 2 pruned rounds
    assert [t.directory for t in tickets] == [lottery_directory(c, root) for c in configs]


def test_find_tickets_in_parallel_finds_the_same_tickets_and_then_only_reads_them_back(study, tmp_path):
    configs, _, tickets, _ = study
    parallel = tickets_study.find_tickets(configs, root=tmp_path, n_jobs=2)
    assert all(t.complete for t in parallel)
    assert all(np.array_equal(a, b) for t, u in zip(tickets, parallel) for a, b in zip(t.masks, u.masks))
    stamps = [(t.directory / "ticket.npz").stat().st_mtime_ns for t in parallel]
    again = tickets_study.find_tickets(configs, root=tmp_path, n_jobs=2)
    assert [(t.directory / "ticket.npz").stat().st_mtime_ns for t in again] == stamps


def test_controls_have_the_ticket_edge_counts_and_their_own_seed(study):
    _, _, tickets, controls = study
    for ticket, ctrl in zip(tickets, controls):
        assert set(ctrl) == {"reinit", "random_static", "set"}
        for run in ctrl.values():
            assert tuple(run.summary["edges"]) == ticket.layer_edges
            assert run.config.seed == ticket.config.base.seed + tickets_study.CONTROL_SEED_OFFSET
        assert all(np.array_equal(a, b) for a, b in zip(ctrl["reinit"].topology(0), ticket.masks))


def test_method_table_charges_each_method_what_it_had_to_train(study):
    _, _, tickets, controls = study
    table = tickets_study.method_table(tickets, controls)
    assert len(table) == len(SEEDS) * len(tickets_study.METHODS)
    for ticket, ctrl in zip(tickets, controls):
        by = table[table["seed"] == ticket.config.base.seed].set_index("method")
        search = lottery_cost(ticket)
        assert by.at["dense", "macs"] == training_cost(ticket.rounds[0]).macs
        assert by.at["IMP ticket", "macs"] == search.macs
        assert by.at["ticket mask, re-init", "macs"] == search.macs + training_cost(ctrl["reinit"]).macs
        assert by.at["SET", "macs"] == training_cost(ctrl["set"]).macs
        assert by.at["random static", "macs"] == training_cost(ctrl["random_static"]).macs
        assert by.at["IMP ticket", "test_acc"] == ticket.run.final_test_acc
        assert by.at["SET", "density_pct"] == pytest.approx(by.at["IMP ticket", "density_pct"])
        assert by.at["dense", "density_pct"] == pytest.approx(100.0)


def test_cost_ratio_is_search_macs_over_one_set_run_and_exceeds_one(study):
    _, _, tickets, controls = study
    table = tickets_study.method_table(tickets, controls)
    ratios = tickets_study.cost_ratios(table)
    for _, row in ratios.iterrows():
        by = table[table["seed"] == row["seed"]].set_index("method")
        assert row["macs_ratio"] == pytest.approx(by.at["IMP ticket", "macs"] / by.at["SET", "macs"])
        assert row["macs_ratio"] > 1
        assert row["set_at_least_ticket"] == (by.at["SET", "test_acc"] >= by.at["IMP ticket", "test_acc"])


def _synthetic(acc: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for method, values in acc.items():
        for seed, v in enumerate(values):
            rows.append({"seed": seed, "method": method, "test_acc": v, "macs": 10.0 if method != "SET" else 2.0,
                         "wall_seconds": 5.0 if method != "SET" else 1.0, "density_pct": 10.0})
    return pd.DataFrame(rows)


def test_cost_ratios_flag_set_runs_within_the_tolerance_of_the_ticket():
    table = _synthetic({"IMP ticket": [0.90, 0.90], "SET": [0.897, 0.89]})
    ratios = tickets_study.cost_ratios(table, tolerance=0.005)
    assert ratios["macs_ratio"].tolist() == [5.0, 5.0] and ratios["seconds_ratio"].tolist() == [5.0, 5.0]
    assert ratios["set_at_least_ticket"].tolist() == [False, False]
    assert ratios["set_matches_ticket"].tolist() == [True, False]
    assert ratios["set_minus_ticket"].tolist() == pytest.approx([-0.003, -0.01])


def test_reinit_gaps_subtract_each_control_from_the_ticket_of_the_same_seed():
    table = _synthetic({"IMP ticket": [0.9, 0.8], "ticket mask, re-init": [0.85, 0.81], "random static": [0.7, 0.6],
                        "SET": [0.95, 0.8]})
    gaps = tickets_study.reinit_gaps(table)
    assert gaps["ticket_minus_reinit"].tolist() == pytest.approx([0.05, -0.01])
    assert gaps["ticket_minus_random_static"].tolist() == pytest.approx([0.2, 0.2])
    assert gaps["ticket_minus_set"].tolist() == pytest.approx([-0.05, 0.0])


def test_ticket_distances_group_networks_and_summarise_blocks_against_the_baseline(study, tmp_path):
    _, _, tickets, controls = study
    d = tickets_study.ticket_distances(tickets, controls, baseline_pairs=3, cache_dir=tmp_path)
    assert d.groups == ("IMP ticket",) * 2 + ("SET",) * 2 + ("random static",) * 2
    assert d.seeds == (0, 1) * 3
    assert d.matrix.mean.shape == (6, 6) and d.coords.shape == (6, 2)
    assert len(d.blocks) == 6  # 3 within-group and 3 between-group blocks
    blocks = d.blocks.set_index("block")
    assert blocks.at["IMP ticket – IMP ticket", "n_pairs"] == 1
    assert blocks.at["IMP ticket – SET", "n_pairs"] == 4
    assert blocks.at["IMP ticket – IMP ticket", "nnstd_mean"] == pytest.approx(d.matrix.mean[1, 0])
    assert blocks.at["IMP ticket – SET", "nnstd_mean"] == pytest.approx(d.matrix.mean[2:4, 0:2].mean())
    assert d.block_mean("SET", "IMP ticket") == pytest.approx(blocks.at["IMP ticket – SET", "nnstd_mean"])
    assert blocks.at["IMP ticket – SET", "ratio"] == pytest.approx(blocks.at["IMP ticket – SET", "nnstd_mean"] / d.baseline.mean)
    assert 0 < d.baseline.mean <= 1


def test_record_findings_reports_the_cost_ratio_and_the_reinit_gap(study, tmp_path):
    _, _, tickets, controls = study
    table = tickets_study.method_table(tickets, controls)
    ratios = tickets_study.cost_ratios(table)
    gaps = tickets_study.reinit_gaps(table)
    d = tickets_study.ticket_distances(tickets, controls, baseline_pairs=3, cache_dir=tmp_path)
    findings = Findings("04_lottery_tickets", tmp_path / "fig")
    tickets_study.record_findings(findings, table, ratios, gaps, d)
    claims = {c.claim.split(" (")[0].split(",")[0]: c for c in findings.claims}
    cost = claims["Cost of finding a ticket"]
    assert cost.measured == pytest.approx(ratios["macs_ratio"].mean()) and cost.measured > 1
    reinit = claims["A ticket beats its own mask re-initialised at random"]
    assert reinit.measured == pytest.approx(gaps["ticket_minus_reinit"].mean())
    far = claims["Tickets and SET networks are topologically far apart"]
    assert far.measured == pytest.approx(d.block_mean("IMP ticket", "SET") / d.baseline.mean)
