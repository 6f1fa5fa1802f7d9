"""Tests of sparsetopo.evolution: the SET-trajectory experiment of notebook 03."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparsetopo.nnstd.pairwise import DistanceMatrix
from sparsetopo.store.config import RunConfig
from sparsetopo.study import set_trajectories as E
from sparsetopo.study.findings import Findings
from sparsetopo.topology.masks import load_topology
from sparsetopo.training.loop import initial_masks


def tiny_base(**changes) -> RunConfig:
    fields = dict(dataset="digits", hidden=(12, 12), method="set", epsilon=1.0, epochs=2, lr=0.05, seed=3,
                  snapshot_every=1)
    fields.update(changes)
    return RunConfig(**fields)


def test_experiment_configs_change_one_thing_per_setting(tmp_path):
    base = tiny_base()
    exp = E.experiment_configs(base, n_runs=3, runs_root=tmp_path, chain_fraction=0.1, n_reference_seeds=2)
    shared = exp.configs[E.SHARED_LABEL]
    assert shared.seed == 3 and shared.effective_topology_seed == 3
    assert all(labels[0] == E.SHARED_LABEL and len(labels) == 3 for labels in exp.settings.values())
    assert exp.widths == (64, 12, 12, 10)
    a = [exp.configs[l] for l in exp.settings["a"][1:]]
    assert [c.seed for c in a] == [4, 5] and all(c.effective_topology_seed == 3 and c.initial_topology is None for c in a)
    c = [exp.configs[l] for l in exp.settings["c"][1:]]
    assert all(x.seed == 3 for x in c) and [x.effective_topology_seed for x in c] == [4, 5]
    b = [exp.configs[l] for l in exp.settings["b"][1:]]
    assert all(x.seed == 3 and x.initial_topology is not None for x in b)
    # setting b starts from the chain: step 1 moves exactly 10% of each sparse layer of the shared start
    start = initial_masks(shared, exp.widths)
    step1, meta = load_topology(b[0].initial_topology)
    assert meta["chain_step"] == 1
    for k in range(2):
        assert np.count_nonzero(start[k] & ~step1[k]) == round(0.1 * start[k].sum())
    assert np.array_equal(start[2], step1[2])  # the dense output layer stays
    step2, _ = load_topology(b[1].initial_topology)
    assert not np.array_equal(step1[0], step2[0])
    groups = pd.Series(exp.groups)
    assert (groups == "static").sum() == 2 and (groups == "dense").sum() == 2
    assert {exp.configs[l].method for l in groups.index if groups[l] in ("static", "dense")} == {"static", "dense"}
    assert exp.set_labels() == [E.SHARED_LABEL, "a1", "a2", "b1", "b2", "c1", "c2"]
    table = exp.table()
    assert len(table) == len(exp.configs) and table["run_id"].is_unique
    assert "/" not in "".join(table["initial_topology"])


def test_experiment_configs_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="SET"):
        E.experiment_configs(tiny_base(method="static"), n_runs=2, runs_root=tmp_path)
    with pytest.raises(ValueError, match="n_runs"):
        E.experiment_configs(tiny_base(), n_runs=1, runs_root=tmp_path)


def fake_matrix():
    """Two runs, snapshots at epochs 0 and 1: four networks with chosen distances."""
    index = pd.DataFrame({"label": ["r", "r", "s", "s"], "group": ["a", "a", "a", "a"], "epoch": [0, 1, 0, 1]})
    index["name"] = index["label"] + "@" + index["epoch"].astype(str)
    layer0 = np.array([[0, .1, .2, .3], [.1, 0, .4, .5], [.2, .4, 0, .6], [.3, .5, .6, 0]])
    layer1 = layer0 / 2
    layers = np.stack([layer0, layer1])
    return DistanceMatrix(labels=tuple(index["name"]), layers=layers, mean=layers.mean(axis=0)), index


def test_between_runs_and_to_start_read_the_right_entries():
    matrix, index = fake_matrix()
    between = E.between_runs(matrix, index, {"a": ["r", "s"]})
    row = between[(between.epoch == 1) & (between.layer == "0")]
    assert row["nnstd"].item() == pytest.approx(0.5)  # r@1 vs s@1
    row = between[(between.epoch == 0) & (between.layer == "mean")]
    assert row["nnstd"].item() == pytest.approx(0.15)
    assert set(between["setting_name"]) == {"a: " + E.SETTINGS["a"]}
    start = E.to_start(matrix, index)
    s1 = start[(start.label == "s") & (start.epoch == 1) & (start.layer == "1")]
    assert s1["nnstd"].item() == pytest.approx(0.3)  # s@1 vs s@0, layer 1
    assert (start[start.epoch == 0]["nnstd"] == 0).all()


def test_matrix_at_and_pick_epochs():
    matrix, index = fake_matrix()
    at1 = E.matrix_at(matrix, index, 1)
    assert at1.labels == ("r", "s")
    assert at1.layers[0, 0, 1] == pytest.approx(0.5) and at1.mean[1, 0] == pytest.approx(0.375)
    assert E.matrix_at(matrix, index, 1, labels=["s", "r"]).labels == ("s", "r")
    with pytest.raises(ValueError, match="epoch 7"):
        E.matrix_at(matrix, index, 7)
    many = pd.DataFrame({"label": ["x"] * 11, "epoch": range(0, 21, 2)})
    picks = E.pick_epochs(many, n=4)
    assert picks[0] == 0 and picks[1] == 2 and picks[-1] == 20 and len(picks) == 4


def test_divergence_and_accuracy_summaries_and_claims(tmp_path):
    between = pd.DataFrame({
        "setting": ["a"] * 4 + ["c"] * 4,
        "epoch": [0, 0, 5, 5] * 2,
        "layer": ["0", "1", "0", "1"] * 2,
        "nnstd": [0.0, 0.0, 0.6, 0.4, 0.8, 0.7, 0.78, 0.69],
    })
    baseline = pd.DataFrame({"layer": ["0", "1", "mean"], "baseline": [0.8, 0.7, 0.5], "ci_low": [0.79, 0.69, 0.49],
                             "ci_high": [0.81, 0.71, 0.51]})
    div = E.divergence_summary(between, baseline, [0, 1]).set_index(["setting", "layer"])
    assert div.loc[("a", 0), "initial"] == 0.0 and div.loc[("a", 0), "final"] == pytest.approx(0.6)
    assert div.loc[("a", 1), "ratio"] == pytest.approx(0.4 / 0.7)
    assert div.loc[("c", 1), "final_epoch"] == 5
    accuracy = pd.DataFrame({"method": ["set", "set", "static", "static", "dense"],
                             "final_test_acc": [0.80, 0.84, 0.81, 0.83, 0.86]})
    acc = E.accuracy_summary(accuracy)
    assert acc["min_set_minus_static"] == pytest.approx(-0.02)
    assert acc["set_minus_dense"] == pytest.approx(-0.04)
    findings = Findings("03_evolution", tmp_path)
    E.add_claims(findings, div.reset_index(), acc, margin=0.5, baseline_ratio=0.9)
    claims = {c.claim: c for c in findings.claims}
    layer0 = claims["Final distance between SET runs from the same start (layer 0)"]
    assert layer0.measured == pytest.approx(0.6) and layer0.holds is True
    assert claims["Final distance between SET runs from the same start (layer 1)"].holds is False  # 0.4 < 0 + 0.5
    assert not any("independent" in c and c.startswith("Final distance") for c in claims)
    ratio_a = claims["SET runs approach the random baseline (the same start, final/baseline)"]
    assert ratio_a.measured == pytest.approx(np.mean([0.6 / 0.8, 0.4 / 0.7])) and ratio_a.holds is False
    assert claims["SET runs approach the random baseline (independent starts, final/baseline)"].holds is True
    assert claims["Every SET run reaches the static sparse accuracy"].holds is False
    assert claims["SET accuracy compared with dense"].holds is False


def test_train_experiment_on_digits_end_to_end(tmp_path):
    exp = E.experiment_configs(tiny_base(), n_runs=2, runs_root=tmp_path, n_reference_seeds=1)
    frame, runs = E.train_experiment(exp, runs_root=tmp_path, n_jobs=1)
    assert set(runs) == set(exp.configs) and frame["label"].notna().all()
    assert set(frame["group"]) == {"shared", "a", "b", "c", "static", "dense"}
    topologies, index = E.snapshots(runs, exp.set_labels(), exp.groups)
    assert len(topologies) == len(index) == 4 * 3 and list(index["epoch"][:3]) == [0, 1, 2]
    b1 = index.index[(index.label == "b1") & (index.epoch == 0)][0]
    chain_start, _ = load_topology(exp.configs["b1"].initial_topology)
    assert all(np.array_equal(x, y) for x, y in zip(topologies[b1], chain_start))
    explored = E.explored_frame(frame)
    assert set(explored["label"]) == set(exp.set_labels())
    for _, part in explored.groupby("label"):
        assert part.sort_values("epoch")["explored_rate"].is_monotonic_increasing
    accuracy = E.accuracy_frame(runs, exp.groups)
    assert len(accuracy) == len(runs) and accuracy["final_test_acc"].between(0, 1).all()
    # a second call reuses the finished runs
    again, _ = E.train_experiment(exp, runs_root=tmp_path, n_jobs=1)
    pd.testing.assert_series_equal(frame["test_acc"], again["test_acc"])
