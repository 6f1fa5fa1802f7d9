"""Tests of sparsetopo.study.set_trajectories (the Fig. 4 experiment of notebook 03, its verdict rules, context and
templates), of sparsetopo.study.run_groups and of the figures of notebook 03."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import require_published

from sparsetopo.nnstd.pairwise import DistanceMatrix
from sparsetopo.store.config import RunConfig
from sparsetopo.study import published as P
from sparsetopo.study import run_groups as G
from sparsetopo.study import set_trajectories as E
from sparsetopo.study import topology_panel as TP
from sparsetopo.study import verdicts as V
from sparsetopo.study.common import layer_matrix
from sparsetopo.study.prose import render, template_names
from sparsetopo.topology.masks import load_topology, random_topology

MARGIN = V.Margin(0.05, "test margin")


def tiny_base(**changes) -> RunConfig:
    fields = dict(dataset="digits", hidden=(12, 12), method="set", layer_edges=(100, 60, 120), epochs=12, lr=0.05,
                  seed=3, snapshot_epochs=(0, 1, 6, 12))
    fields.update(changes)
    return RunConfig(**fields)


# ---------------------------------------------------------------------------
# design
# ---------------------------------------------------------------------------


def test_experiment_seeds_starts_and_budgets(tmp_path):
    exp = E.experiment_configs(tiny_base(), chain_runs=4, same_start_runs=3, independent_runs=3, runs_root=tmp_path,
                               chain_fraction=0.1, other_epochs=10)
    assert exp.labels() == ["b0", "b1", "b2", "b3", "a0", "a1", "a2", "c0", "c1", "c2"]
    chain = [exp.configs[x] for x in exp.settings["b"]]
    # the chain shares one training seed by design and starts from the chain's topologies
    assert {c.seed for c in chain} == {3} and all(c.initial_topology for c in chain)
    steps = [load_topology(c.initial_topology)[0] for c in chain]
    start = random_topology(exp.widths, layer_edges=(100, 60, 120), seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(steps[0], start))
    for prev, nxt in zip(steps, steps[1:]):
        for k, n_edges in enumerate((100, 60)):
            assert nxt[k].sum() == n_edges and np.count_nonzero(prev[k] & ~nxt[k]) == round(0.1 * n_edges)
        assert nxt[2].all()  # the dense output layer stays
    # setting a: the chain's first network, independent seeds; setting c: independent starts and seeds
    a = [exp.configs[x] for x in exp.settings["a"]]
    c = [exp.configs[x] for x in exp.settings["c"]]
    assert all(x.initial_topology == chain[0].initial_topology for x in a)
    assert [x.seed for x in a] == [1003, 1004, 1005] and [x.seed for x in c] == [2003, 2004, 2005]
    assert [x.effective_topology_seed for x in c] == [2003, 2004, 2005]
    independent = [x.seed for x in a + c] + [3]
    assert len(set(independent)) == len(independent)
    # settings a and c train other_epochs, with the chain's snapshots up to it
    assert all(x.epochs == 10 and x.snapshot_epochs == (0, 1, 6) for x in a + c)
    assert all(x.epochs == 12 for x in chain)
    table = exp.table()
    assert table["run_id"].is_unique and "/" not in "".join(table["initial_topology"])
    assert exp.setting_of("a2") == "a" and G.labels_of(exp.settings) == exp.labels()
    with pytest.raises(KeyError):
        exp.setting_of("z0")


def test_experiment_independent_chain_seeds_and_refusals(tmp_path):
    exp = E.experiment_configs(tiny_base(), chain_runs=3, same_start_runs=3, independent_runs=3, runs_root=tmp_path,
                               chain_shared_seed=False)
    assert [exp.configs[x].seed for x in exp.settings["b"]] == [3, 4, 5]
    with pytest.raises(ValueError, match="SET"):
        E.experiment_configs(tiny_base(method="static"), chain_runs=3, same_start_runs=3, independent_runs=3,
                             runs_root=tmp_path)
    with pytest.raises(ValueError, match="same_start_runs"):
        E.experiment_configs(tiny_base(), chain_runs=3, same_start_runs=2, independent_runs=3, runs_root=tmp_path)
    with pytest.raises(ValueError, match="layer_edges"):
        E.experiment_configs(tiny_base(layer_edges=None, epsilon=2.0), chain_runs=3, same_start_runs=3,
                             independent_runs=3, runs_root=tmp_path)
    with pytest.raises(ValueError, match="other_epochs"):
        E.experiment_configs(tiny_base(), chain_runs=3, same_start_runs=3, independent_runs=3, runs_root=tmp_path,
                             other_epochs=13)


def test_experiment_chains_and_arms(tmp_path):
    exp = E.experiment_configs(tiny_base(), chain_runs=3, same_start_runs=3, independent_runs=4, runs_root=tmp_path,
                               chains=3, static_runs=3, dense_runs=3, dense_epochs=8)
    assert exp.chains[0] == exp.settings["b"] == ("b0", "b1", "b2")
    assert exp.chains[1:] == (("b1.0", "b1.1", "b1.2"), ("b2.0", "b2.1", "b2.2"))
    # chain k: its own start drawn with seed + k, one training seed per chain
    for k, labels in enumerate(exp.chains):
        configs = [exp.configs[x] for x in labels]
        assert {c.seed for c in configs} == {3 + k}
        start = random_topology(exp.widths, layer_edges=(100, 60, 120), seed=3 + k)
        assert all(np.array_equal(x, y) for x, y in zip(load_topology(configs[0].initial_topology)[0], start))
    assert len({exp.configs[x].initial_topology for labels in exp.chains for x in labels}) == 9
    # the arms take setting c's first starts and seeds: static keeps the topology, dense drops it
    static = [exp.configs[x] for x in exp.arms["static"]]
    dense = [exp.configs[x] for x in exp.arms["dense"]]
    c = [exp.configs[x] for x in exp.settings["c"]]
    assert [x.method for x in static] == ["static"] * 3 and [x.method for x in dense] == ["dense"] * 3
    assert [x.effective_topology_seed for x in static] == [x.effective_topology_seed for x in c[:3]]
    assert [x.seed for x in static] == [x.seed for x in dense] == [x.seed for x in c[:3]]
    assert all(x.epochs == 12 for x in static) and all(x.epochs == 8 for x in dense)
    assert all((x.lr, x.batch_size, x.momentum, x.weight_decay) == (c[0].lr, c[0].batch_size, c[0].momentum,
                                                                    c[0].weight_decay) for x in static + dense)
    assert exp.setting_of("b2.1") == "chain 2" and exp.setting_of("d0") == "dense"
    table = exp.table()
    assert len(table) == 3 * 3 + 3 + 4 + 3 + 3 and table["run_id"].is_unique
    assert set(table["method"]) == {"set", "static", "dense"}
    for bad, match in (({"chains": 0}, "chains"), ({"static_runs": 2}, "static_runs"), ({"dense_runs": 5}, "dense_runs"),
                       ({"dense_runs": 3, "dense_epochs": 13}, "dense_epochs")):
        with pytest.raises(ValueError, match=match):
            E.experiment_configs(tiny_base(), chain_runs=3, same_start_runs=3, independent_runs=4,
                                 runs_root=tmp_path, **bad)


def test_window_mean_reads_a_long_chain_at_the_size_of_a_short_one():
    m = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            m[i, j] = abs(i - j) / 10  # distance grows with the distance along the chain
    # windows of 2: pairs (0,1), (1,2), (2,3), all 0.1; windows of 3: mean of (0.1, 0.2, 0.1) twice
    assert E.window_mean(m, 2) == pytest.approx(0.1)
    assert E.window_mean(m, 3) == pytest.approx(0.4 / 3)
    assert E.window_mean(m, 4) == pytest.approx(np.mean([0.1, 0.2, 0.3, 0.1, 0.2, 0.1]))
    for n in (1, 5):
        with pytest.raises(ValueError, match="window"):
            E.window_mean(m, n)


class _Matrix:
    """The part of a DistanceMatrix that layer_matrix reads: ``layers`` (n_layers, n, n)."""

    def __init__(self, per_layer):
        self.layers = np.stack(per_layer)


def test_trajectory_table_and_verdicts_on_synthetic_chains():
    epochs = [10, 20, 50]
    published = {e: _Matrix([group(10, 0.30 + e / 1000, 0.01, seed=e), group(10, 0.40, 0.01, seed=e + 1),
                             np.zeros((10, 10))]) for e in epochs}

    def chains(shift: float, spread: float) -> dict:
        return {f"chain {k}": {e: _Matrix([group(4, 0.30 + e / 1000 + shift + spread * (k - 1), 0.005, seed=k * e),
                                          group(4, 0.40 + shift, 0.005, seed=k + e), np.zeros((4, 4))])
                               for e in epochs} for k in range(3)}

    table = E.trajectory_table(chains(0.0, 0.002), published, [0, 1], epochs)
    assert len(table) == 3 * 3 * 3 and set(table["layer"]) == {"0", "1", "mean"}
    row = table[(table["chain"] == "chain 0") & (table["epoch"] == 20) & (table["layer"] == "0")].iloc[0]
    assert row["gap"] == pytest.approx(row["ours"] - row["published"])
    assert row["published"] == pytest.approx(E.window_mean(published[20].layers[0], 4))
    decided = E.trajectory_verdicts(table, [0, 1], MARGIN)
    assert [d.verdict.verdict for d in decided] == [V.HOLDS, V.HOLDS]
    assert "epochs 10-50" in decided[0].claim and "98.75% interval over 3 chains" not in decided[0].detail
    assert "97.50% interval over 3 chains (Bonferroni: 0.05 over 2 layers)" in decided[0].detail
    # every chain 0.2 further apart than the published chain over the whole trajectory: does not hold
    far = E.trajectory_verdicts(E.trajectory_table(chains(0.2, 0.002), published, [0, 1], epochs), [0, 1], MARGIN)
    assert [d.verdict.verdict for d in far] == [V.DOES_NOT_HOLD] * 2
    assert far[0].verdict.estimate == pytest.approx(0.2, abs=0.01)
    # chains that disagree with each other: an interval that reaches past the margin
    wide = E.trajectory_verdicts(E.trajectory_table(chains(0.0, 0.04), published, [0, 1], epochs), [0, 1], MARGIN)
    assert wide[0].verdict.verdict == V.INCONCLUSIVE


def test_arm_verdicts_rules_and_plateau_cap():
    def rows(setting, values, converged=True):
        return [{"label": f"{setting[0]}{i}", "setting": setting, "last5": v, "converged": converged}
                for i, v in enumerate(values)]

    acc = pd.DataFrame(rows("SET", [0.900, 0.902, 0.901]) + rows("static", [0.880, 0.881, 0.879])
                       + rows("dense", [0.870, 0.872, 0.871]))
    decided = E.arm_verdicts(acc, MARGIN.__class__(0.005, "m"), budget=100, k=10)
    got = {d.claim: d.verdict for d in decided}
    assert len(decided) == 4 and all("(epoch 100)" in c for c in got)
    assert got["SET networks match or beat the dense network of the same shape (epoch 100)"].verdict == V.HOLDS
    assert got["SET networks beat the dense network of the same shape (epoch 100)"].verdict == V.HOLDS
    assert got["Static sparse networks match or beat the dense network of the same shape (epoch 100)"].rule == \
        "non-inferiority"
    assert all("98.75%" in d.detail for d in decided)
    # a dense arm still moving caps every comparison that involves it
    acc.loc[acc["setting"] == "dense", "converged"] = False
    capped = {d.claim: d.verdict for d in E.arm_verdicts(acc, MARGIN.__class__(0.005, "m"), budget=100, k=10)}
    assert capped["SET networks beat the dense network of the same shape (epoch 100)"].verdict == V.INCONCLUSIVE
    assert capped["SET networks beat static sparse networks with the same edge counts (epoch 100)"].verdict == V.HOLDS
    # without a static arm only the dense comparisons are made, at the Bonferroni level of two
    only = E.arm_verdicts(acc[acc["setting"] != "static"], MARGIN, budget=100, k=10)
    assert len(only) == 2 and all("97.50%" in d.detail for d in only)


def test_parameters_check_budgets_and_margins():
    snaps = (0, 10, 30)
    p = E.Parameters.resolve(epochs=30, other_epochs=20, snapshot_epochs=snaps, dense_epochs=20)
    assert p.accuracy_budget == 20
    assert E.Parameters.resolve(epochs=30, other_epochs=None, snapshot_epochs=snaps,
                                dense_epochs=None).accuracy_budget == 30
    with pytest.raises(ValueError, match="dense_epochs"):
        E.Parameters.resolve(epochs=30, other_epochs=None, snapshot_epochs=snaps)  # the default 100 > 30
    for bad in ({"static_runs": 2}, {"dense_runs": 1}, {"dense_runs": 9}, {"chains": 0}, {"plateau_window": 0},
                {"plateau_threshold": 0.0}, {"regrow_sampler": "uniform"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            E.Parameters.resolve(**bad)
    with pytest.raises(ValueError, match="plateau_window"):
        E.Parameters.resolve(epochs=30, other_epochs=10, snapshot_epochs=snaps, dense_epochs=None, plateau_window=6)
    assert E.Parameters.resolve().ablation_sampler == "choice"
    assert E.Parameters.resolve(regrow_sampler="choice").ablation_sampler == "rejection"
    with pytest.raises(ValueError, match="other_epochs"):
        E.Parameters.resolve(epochs=20, other_epochs=30, snapshot_epochs=(0, 20))
    with pytest.raises(ValueError, match="chain_runs"):
        E.Parameters.resolve(chain_runs=2)
    with pytest.raises(ValueError, match="distance_margin"):
        E.Parameters.resolve(distance_margin=0.0)
    with pytest.raises(ValueError, match="snapshot_epochs"):
        E.Parameters.resolve(epochs=20, other_epochs=None, snapshot_epochs=(0, 30))
    with pytest.raises(ValueError, match="panel_spectral_margin"):
        E.Parameters.resolve(panel_spectral_margin=0.0)
    with pytest.raises(ValueError, match="panel_draws"):
        E.Parameters.resolve(panel_draws=1)
    margins = E.Parameters.resolve(panel_gini_margin_why="why g").panel_margins()
    assert list(margins) == list(E.PANEL_TESTS) and margins["gini"].justification == "why g"
    assert margins["spectral"].value == 0.1
    distance, accuracy = E.Parameters.resolve(distance_margin_why="why d", accuracy_margin_why="why a").margins()
    assert (distance.value, distance.justification, accuracy.value) == (0.05, "why d", 0.005)
    text = render("03_evolution", "rules", **E.rule_context(E.Parameters.resolve(distance_margin=0.07)))
    assert "±0.07" in text and "Equivalence" in text and "inconclusive" in text and "epoch 190" in text
    assert "regrowth sampler" not in text  # the default profile leaves the sampler ablation to the paper profile
    ablation = render("03_evolution", "rules", **E.rule_context(E.Parameters.resolve(sampler_ablation=True)))
    assert "regrowth sampler" in ablation
    assert "Bonferroni over the 6 claims" in text and "99.17%" in text and "(d) At epoch 190" in text
    # the whole trajectory (3 chains, published epochs from 10) and the arms (4 comparisons at the dense budget)
    assert "10, 20, 30, 40, 50, 100, 150, 190" in text and "98.33% (Bonferroni: 0.05 over 3 layers)" in text
    assert "at epoch 100" in text and "98.75% (Bonferroni: 0.05 over 4 comparisons)" in text
    assert "SET minus dense, **superiority**" in text and "static minus dense, **non-inferiority**" in text
    text = render("03_evolution", "rules", **E.rule_context(E.Parameters.resolve(sampler_ablation=False,
                                                                                 use_published=False)))
    assert "regrowth sampler" not in text and "no common epoch" in text
    assert "Bonferroni over the 3 claims" in text and "(d)" not in text
    assert "whole trajectory" not in text  # no published networks to compare the chains with
    text = render("03_evolution", "rules", **E.rule_context(E.Parameters.resolve(dense_runs=0, static_runs=0,
                                                                                 chains=1)))
    assert "whole trajectory" not in text and "dense networks of one shape" not in text


# ---------------------------------------------------------------------------
# distances and intervals
# ---------------------------------------------------------------------------


def group(n: int, value: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Symmetric within-group distances: ``value`` plus uniform noise, zero diagonal."""
    rng = np.random.default_rng(seed)
    m = value + noise * rng.uniform(-1, 1, (n, n))
    m = np.triu(m, 1)
    return m + m.T


def test_pair_difference_ci_resamples_networks():
    ci = V.pair_difference_ci(group(10, 0.5), group(10, 0.3), n_boot=200)
    assert ci.estimate == pytest.approx(0.2) and ci.low == pytest.approx(0.2) and ci.high == pytest.approx(0.2)
    x, y = group(10, 0.5, 0.1, seed=1), group(8, 0.45, 0.1, seed=2)
    a = V.pair_difference_ci(x, y, n_boot=500, seed=7)
    assert a == V.pair_difference_ci(x, y, n_boot=500, seed=7)  # deterministic
    iu10, iu8 = np.triu_indices(10, 1), np.triu_indices(8, 1)
    assert a.estimate == pytest.approx(x[iu10].mean() - y[iu8].mean())
    assert a.low < a.estimate < a.high and a.n == 18
    # one network far from all others: resampling networks sees it, the interval widens
    outlier = group(10, 0.5)
    outlier[0, 1:] = outlier[1:, 0] = 0.9
    b = V.pair_difference_ci(outlier, group(10, 0.5), n_boot=500)
    assert b.high - b.low > 0.05
    with pytest.raises(ValueError, match="at least 3"):
        V.pair_difference_ci(group(2, 0.5), group(5, 0.5))
    with pytest.raises(ValueError, match="symmetric"):
        V.pair_difference_ci(np.triu(group(4, 0.5)), group(5, 0.5))


def test_ratio_ci_and_layer_matrix():
    r = V.ratio_ci(group(6, 0.4), 0.8, n_boot=200)
    assert r.estimate == pytest.approx(0.5) and r.low == pytest.approx(0.5)
    layers = np.stack([group(4, 0.2), group(4, 0.4), np.zeros((4, 4))])  # layer 2 dense: always 0
    matrix = DistanceMatrix(labels=tuple("wxyz"), layers=layers, mean=layers.mean(axis=0))
    assert layer_matrix(matrix, "mean", [0, 1])[0, 1] == pytest.approx(0.3)  # the dense layer does not dilute
    assert layer_matrix(matrix, 1, [0, 1])[0, 1] == pytest.approx(0.4)
    frame = G.interval_frame({("b", 5): matrix}, [0, 1])
    assert list(frame["layer"]) == ["0", "1", "mean"] and frame["nnstd"].tolist() == pytest.approx([0.2, 0.4, 0.3])
    assert (frame["n_networks"] == 4).all()


def published_like(shift: float, noise: float = 0.02) -> tuple[dict, dict]:
    theirs = {k: group(10, v, noise, seed=i) for i, (k, v) in enumerate((("0", 0.44), ("1", 0.44), ("2", 0.42)))}
    ours = {k: group(10, m[0, 1] * 0 + m[np.triu_indices(10, 1)].mean() + shift, noise, seed=10 + int(k))
            for k, m in theirs.items()}
    theirs["mean"] = np.mean([theirs[k] for k in "012"], axis=0)
    ours["mean"] = np.mean([ours[k] for k in "012"], axis=0)
    return ours, theirs


def verdicts_by_rule(decided, prefix: str) -> dict:
    return {d.verdict.rule: d.verdict.verdict for d in decided if d.claim.startswith(prefix) and "layer 0" in d.claim}


def test_distance_verdicts_rules_on_synthetic_matrices():
    a = group(5, 0.45, 0.01)
    kwargs = dict(epoch=50, same_epoch=20, margin=MARGIN, n_boot=300)
    # ours within 0.01 of the published: equivalent, and not less
    ours, theirs = published_like(0.01)
    decided = E.distance_verdicts(ours, theirs, a, ours["mean"][:5, :5], **kwargs)
    assert verdicts_by_rule(decided, "The chain") == {"equivalence": V.HOLDS, "non-inferiority": V.HOLDS}
    assert len([d for d in decided if d.claim.startswith("The chain")]) == 6  # 3 layers x 2 rules
    # ours 0.2 further apart: not equivalent, but at least as different as the published
    ours, theirs = published_like(0.2)
    decided = E.distance_verdicts(ours, theirs, a, ours["mean"][:5, :5], **kwargs)
    assert verdicts_by_rule(decided, "The chain") == {"equivalence": V.DOES_NOT_HOLD, "non-inferiority": V.HOLDS}
    # ours 0.2 closer together: neither
    ours, theirs = published_like(-0.2)
    decided = E.distance_verdicts(ours, theirs, a, ours["mean"][:5, :5], **kwargs)
    assert verdicts_by_rule(decided, "The chain") == {"equivalence": V.DOES_NOT_HOLD,
                                                     "non-inferiority": V.DOES_NOT_HOLD}
    # an interval that spans the margin: inconclusive
    ours, theirs = published_like(0.05, noise=0.3)
    decided = E.distance_verdicts(ours, theirs, a, ours["mean"][:5, :5], **kwargs)
    assert verdicts_by_rule(decided, "The chain")["equivalence"] == V.INCONCLUSIVE
    # without the published networks only the one-start claim is decided, at its own epoch
    decided = E.distance_verdicts(ours, None, group(5, 0.8), group(5, 0.5), **kwargs)
    assert len(decided) == 1 and "(epoch 20)" in decided[0].claim
    assert decided[0].verdict.verdict == V.DOES_NOT_HOLD and decided[0].verdict.estimate == pytest.approx(0.3)


# ---------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------


def curves(final: dict[str, float], epochs: int = 20, late_slope: dict | None = None) -> pd.DataFrame:
    """Learning curves that level off at ``final[label]`` (or keep rising by ``late_slope[label]`` per epoch)."""
    rows = []
    for label, top in final.items():
        for e in range(1, epochs + 1):
            value = top - 0.3 * np.exp(-e) + (late_slope or {}).get(label, 0.0) * (e - epochs)
            rows.append({"label": label, "epoch": e, "test_acc": value})
    return pd.DataFrame(rows)


def fake_experiment(labels: dict[str, list[str]]) -> E.Experiment:
    configs = {x: RunConfig(dataset="digits", seed=i) for i, x in enumerate(sum(labels.values(), []))}
    return E.Experiment(configs=configs, settings={k: tuple(v) for k, v in labels.items()}, widths=(64, 10),
                        layer_edges=(640,))


def test_accuracy_table_budget_and_convergence():
    exp = fake_experiment({"b": ["b0"], "a": ["a0"], "c": ["c0"]})
    frame = curves({"b0": 0.8, "a0": 0.8, "c0": 0.8}, epochs=30, late_slope={"b0": 0.001})
    table = E.run_accuracy(frame, exp).set_index("label")
    assert table.loc["a0", "converged"] and not table.loc["b0", "converged"]  # b0 still climbs 0.005 per 5 epochs
    assert table.loc["b0", "moved"] == pytest.approx(0.005, abs=1e-4)
    assert table.loc["a0", "last5"] == pytest.approx(0.8, abs=1e-3) and table.loc["a0", "epochs"] == 30
    at20 = E.run_accuracy(frame, exp, budget=20, labels=["b0"]).set_index("label")
    assert at20.loc["b0", "epochs"] == 20 and list(at20.index) == ["b0"]
    assert at20.loc["b0", "final"] == pytest.approx(frame.query("label == 'b0' and epoch == 20")["test_acc"].item())


def test_accuracy_verdicts_equivalence_and_convergence_cap():
    labels = {"b": [f"b{i}" for i in range(5)], "a": [f"a{i}" for i in range(5)], "c": [f"c{i}" for i in range(5)]}
    exp = fake_experiment(labels)
    jitter = dict(zip(range(5), (-0.001, 0.0005, 0.0, 0.001, -0.0005)))
    final = {x: 0.85 + jitter[int(x[1])] + (0.03 if x[0] == "a" else 0.0) for x in sum(labels.values(), [])}
    table = E.run_accuracy(curves(final), exp)
    out = {d.short: d.verdict for d in E.accuracy_verdicts(table, margin=V.Margin(0.005, "test"))}
    assert out["setting b - setting c"].verdict == V.HOLDS  # the same accuracy
    assert out["setting a - setting c"].verdict == V.DOES_NOT_HOLD  # 3 points better is not "the same"
    assert out["setting a - setting c"].estimate == pytest.approx(0.03, abs=1e-6)
    # a run still climbing caps the verdicts it takes part in
    table = E.run_accuracy(curves(final, late_slope={"c2": 0.001}), exp)
    out = {d.short: d.verdict for d in E.accuracy_verdicts(table, margin=V.Margin(0.005, "test"))}
    assert all(v.verdict == V.INCONCLUSIVE and "c2" in v.note for v in out.values())


# ---------------------------------------------------------------------------
# the topology panel's rules
# ---------------------------------------------------------------------------


def panel_stats(excess: dict, sd: float = 0.002, runs: int = 5) -> pd.DataFrame:
    """A table like :func:`~sparsetopo.study.topology_panel.run_statistics`: per (group, epoch, key) ``runs`` runs
    whose excess over the key's null is ``excess[...]`` plus a fixed spread of standard deviation ``sd``."""
    rows, jitter = [], np.zeros(1) if runs == 1 else np.linspace(-1, 1, runs) * sd / np.linspace(-1, 1, runs).std(ddof=1)
    for (group, epoch, key), value in excess.items():
        metric, null, _ = E.PANEL_TESTS[key]
        for i, j in enumerate(jitter):
            rows.append({"group": group, "run": f"{group}{i}", "epoch": epoch, "metric": metric, "null": null,
                         "value": 0.3 + value + j, "null_mean": 0.3, "excess": value + j, "null_sd": 0.004})
    return pd.DataFrame(rows)


PANEL_MARGINS = {"gini": V.Margin(0.025, "test"), "unconnected": V.Margin(0.015, "test"),
                 "spectral": V.Margin(0.1, "test")}


def test_panel_verdicts_on_synthetic_runs():
    # skewed fan-in far beyond the margin, no unconnected inputs, a spectrum within the margin of its null
    stats = panel_stats({("c", 20, "gini"): 0.08, ("c", 20, "unconnected"): 0.0, ("c", 20, "spectral"): 0.01})
    decided = E.panel_verdicts(stats, PANEL_MARGINS, epoch=20)
    assert [d.verdict.rule for d in decided] == ["superiority", "superiority", "equivalence"]
    assert [d.verdict.verdict for d in decided] == [V.HOLDS, V.DOES_NOT_HOLD, V.HOLDS]
    assert all(d.kind == "topology" and "setting c, epoch 20" in d.claim for d in decided)
    assert decided[0].verdict.estimate == pytest.approx(0.08)
    assert "98.33% interval (Bonferroni: 0.05 over 3 claims)" in decided[0].detail
    # the interval is a Student-t interval over the five runs at the Bonferroni level
    from scipy import stats as st

    low, high = decided[0].verdict.low, decided[0].verdict.high
    assert low < 0.08 < high and high - low == pytest.approx(2 * 0.002 / np.sqrt(5) * st.t.ppf(1 - 0.05 / 6, 4))
    # near the margins, with a wide spread: inconclusive
    stats = panel_stats({("c", 20, "gini"): 0.025, ("c", 20, "unconnected"): 0.015, ("c", 20, "spectral"): 0.09},
                        sd=0.02)
    assert {d.verdict.verdict for d in E.panel_verdicts(stats, PANEL_MARGINS, epoch=20)} == {V.INCONCLUSIVE}
    # a spectrum far from its null: equivalence does not hold; fewer than two runs: inconclusive
    stats = panel_stats({("c", 20, "gini"): 0.0, ("c", 20, "unconnected"): 0.05, ("c", 20, "spectral"): -0.5})
    out = E.panel_verdicts(stats, PANEL_MARGINS, epoch=20)
    assert [d.verdict.verdict for d in out] == [V.DOES_NOT_HOLD, V.HOLDS, V.DOES_NOT_HOLD]
    one = panel_stats({("c", 20, k): 0.5 for k in E.PANEL_TESTS}, runs=1)
    assert {d.verdict.verdict for d in E.panel_verdicts(one, PANEL_MARGINS, epoch=20)} == {V.INCONCLUSIVE}


def test_panel_verdicts_against_the_published_runs():
    excess = {("c", 20, k): 0.0 for k in E.PANEL_TESTS}
    excess.update({("b", 50, "gini"): -0.014, ("published", 50, "gini"): 0.071,  # not reproduced
                   ("b", 50, "unconnected"): 0.001, ("published", 50, "unconnected"): 0.0,  # reproduced
                   ("b", 50, "spectral"): 0.0, ("published", 50, "spectral"): 0.095})  # straddles the margin
    decided = E.panel_verdicts(panel_stats(excess, sd=0.004), PANEL_MARGINS, epoch=20, common=50)
    assert len(decided) == 6 and all("12 claims" not in d.detail and "6 claims" in d.detail for d in decided)
    reproduce = decided[3:]
    assert all(d.claim.startswith("The chain's SET runs reproduce the published runs'") and "(epoch 50)" in d.claim
               for d in reproduce)
    assert [d.verdict.verdict for d in reproduce] == [V.DOES_NOT_HOLD, V.HOLDS, V.INCONCLUSIVE]
    assert reproduce[0].verdict.estimate == pytest.approx(-0.085)


def test_run_statistics_average_layers_within_a_run():
    rows = []
    for run, shift in (("x0", 0.0), ("x1", 0.1)):
        for layer, value, null_mean, null_std in (("layer_0", 0.2, 0.1, 0.03), ("layer_1", 0.4, 0.3, 0.04),
                                                  ("layer_2", 9.0, 9.0, 0.0), ("network", 0.5, 0.5, 0.01)):
            rows.append({"group": "c", "run": run, "epoch": 3, "metric": "in_degree_gini", "layer": layer,
                         "value": value + shift, "null": "er", "null_mean": null_mean, "null_std": null_std})
    stats = TP.run_statistics(pd.DataFrame(rows), {"in_degree_gini": [0, 1], "dead_neurons": "network"})
    assert list(stats["run"]) == ["x0", "x1"] and set(stats["metric"]) == {"in_degree_gini"}
    assert stats["value"].tolist() == pytest.approx([0.3, 0.4]) and stats["excess"].tolist() == pytest.approx([0.1, 0.2])
    assert stats["null_sd"].tolist() == pytest.approx([0.025, 0.025])  # sqrt(0.03^2 + 0.04^2) / 2
    summary = TP.group_summary(stats)
    assert summary.loc[0, ["value", "low", "high", "runs"]].tolist() == pytest.approx([0.35, 0.3, 0.4, 2])


# ---------------------------------------------------------------------------
# the published networks and a real run
# ---------------------------------------------------------------------------


def test_published_edges_and_logged_accuracy():
    root = require_published()
    edges = P.published_layer_edges(root, 0)
    assert len(edges) == 4 and edges[3] == 7840 and all(3400 < e < 3900 for e in edges[:3])
    acc = P.published_accuracy(root)
    assert acc["run"].nunique() >= 5 and acc["epoch"].max() == 200
    assert acc[acc.epoch > 195]["test_acc"].between(0.85, 0.9).all()  # Fashion-MNIST-like, not MNIST-like


def test_train_experiment_on_digits_end_to_end(tmp_path):
    base = tiny_base(epochs=2, snapshot_epochs=(0, 1, 2))
    exp = E.experiment_configs(base, chain_runs=3, same_start_runs=3, independent_runs=3, runs_root=tmp_path,
                               other_epochs=1)
    frame, runs = E.train_experiment(exp, runs_root=tmp_path, n_jobs=1)
    assert set(runs) == set(exp.configs) and set(frame["setting"]) == {"a", "b", "c"}
    epochs = G.shared_snapshots(runs, exp.settings)
    assert epochs == {"b": [0, 1, 2], "a": [0, 1], "c": [0, 1]}
    matrices = G.group_matrices(runs, exp.settings, epochs, cache_dir=tmp_path / "cache")
    assert set(matrices) == {("b", 0), ("b", 1), ("b", 2), ("a", 0), ("a", 1), ("c", 0), ("c", 1)}
    assert np.allclose(matrices[("a", 0)].mean, 0)  # one start
    start = G.distance_to_start(runs, exp.settings, [0, 1], cache_dir=tmp_path / "cache")
    assert (start[start.epoch == 0]["nnstd"] == 0).all()
    # SET rewires after every epoch but the last: the chain has moved at epoch 1, the 1-epoch runs have not
    assert (start[(start.epoch == 1) & (start.setting == "b")]["nnstd"] > 0).all()
    assert (start[(start.epoch == 1) & (start.setting != "b")]["nnstd"] == 0).all()
    assert G.comparable_epoch(epochs["a"], epochs["b"]) == 0


def test_comparable_epoch_counts_rewirings():
    assert G.comparable_epoch([0, 1, 10, 20], [0, 1, 10, 20, 30, 50]) == 10  # a's epoch 20 is its unrewired end
    assert G.comparable_epoch([0, 10, 50], [0, 10, 50]) == 50
    with pytest.raises(ValueError, match="comparable"):
        G.comparable_epoch([0], [0, 5])


# ---------------------------------------------------------------------------
# the study API on a tiny run: run, claims, context, templates, figures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """``run`` -> ``claims`` -> ``context`` on digits, 4 chain runs, sampler ablation on, no published networks."""
    root = tmp_path_factory.mktemp("study03")
    params = E.Parameters.resolve(dataset="digits", hidden=(12, 12), layer_edges=(100, 60, 120), epochs=10,
                                  other_epochs=10, lr=0.05, batch_size=64, train_samples=None, seed=3,
                                  snapshot_epochs=(0, 1, 5, 10), chain_runs=4, same_start_runs=3, independent_runs=3,
                                  baseline_pairs=2, use_published=False, n_boot=100, sampler_ablation=True,
                                  regrow_sampler="choice", chains=2, static_runs=3, dense_runs=3, dense_epochs=8,
                                  plateau_window=2, runs_root=str(root / "runs"), figures_dir=str(root / "figures"),
                                  n_jobs=1, verbosity="warning")
    result = E.run(params)
    findings = E.claims(result)
    return result, findings, E.context(result, findings)


def test_sampler_ablation_retrains_the_chain_with_rejection_regrowth(tiny_study):
    result, _, _ = tiny_study
    out, runs = result.ablation, result.runs
    assert out["labels"] == ["r0", "r1", "r2", "r3"]
    assert all(run.config.regrow_sampler == "rejection" for run in out["runs"].values())
    assert all(run.config.initial_topology == runs[f"b{i}"].config.initial_topology
               for i, run in enumerate(out["runs"].values()))
    assert out["series"] == E.REJECTION == E.ablation_series("rejection")
    assert set(out["matrices"]) == {(E.REJECTION, e) for e in result.epochs}
    # same starts, same seed: the two samplers agree before the first rewiring
    assert np.allclose(out["matrices"][(E.REJECTION, 0)].layers, result.matrices[("b", 0)].layers)
    [decided] = out["decided"]  # no published networks: only the sampler effect is decided
    assert decided.verdict.rule == "superiority"
    assert decided.verdict.verdict in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)
    acc = out["accuracy"]
    assert len(acc) == 8 and set(acc["sampler"]) == {"choice", "rejection"} and acc["last5"].between(0, 1).all()


def test_claims_name_the_headlines_of_the_paper_claim(tiny_study):
    result, findings, _ = tiny_study
    heads = {h["paper_claim"]: h for h in findings.headlines}
    assert len(heads) == 5
    far, alike, arms, sampler, panel = findings.headlines
    assert arms["claims"] == [d.claim for d in result.decided if d.short.startswith(("SET - ", "static - "))]
    assert len(arms["claims"]) == 4 and "compared at epoch 8" in arms["setting"]
    assert panel["claims"] == [d.claim for d in result.panel["decided"]] and len(panel["claims"]) == 3
    assert "setting c (3 runs) at epoch 10, each against 8 draws of each null model" in panel["setting"]
    # without the published networks, "far apart" is the chain's distance on the random baseline's scale
    assert far["claims"] == ["NNSTD between runs / random baseline (b: 1% chain (Fig. 4), layer mean, epoch 10)"]
    alike_claims = [d.claim for d in result.decided if d.kind == "accuracy" and d.claim.startswith("SET reaches")]
    assert alike["claims"] == alike_claims and len(alike["claims"]) == 2
    assert sampler["claims"] == [result.ablation["decided"][0].claim]
    assert far["setting"].startswith("64-12-12-10 SET, ζ=0.3, digits, 10 epochs on the full training split, 2 chains")
    recorded = {c.claim for c in findings.claims}
    assert all(name in recorded for h in findings.headlines for name in h["claims"])


def test_templates_render_with_the_context_of_a_tiny_run(tiny_study):
    _, findings, ctx = tiny_study
    assert {"rules", "runs", "distances", "accuracy", "sampler", "panel", "discussion"} <= set(
        template_names("03_evolution"))
    text = {section: render("03_evolution", section, **ctx) for section in template_names("03_evolution")}
    assert all(t.strip() for t in text.values())
    assert "| r0 |" not in text["runs"] and "| b3 |" in text["runs"] and "| c2 |" in text["runs"]
    assert "| rejection |" in text["sampler"] and "not compared in this profile" in text["distances"]
    assert "regrowth sampler, tested" in text["discussion"] and "Reproduction of Fig. 4" not in text["discussion"]
    assert "**Static networks.**" in text["panel"] and "| Ramanujan gap | degree-preserving |" in text["panel"]
    assert "| in-degree Gini | degree-preserving |" not in text["panel"]  # equal to its null by construction
    assert "beyond its edge count" in text["discussion"] and "published runs' own data" not in text["discussion"]
    assert "{{" not in "".join(text.values()) and "{%" not in "".join(text.values())
    # the published networks' branches, filled with rows of the tiny run (StrictUndefined checks every name)
    rows, ratio = ctx["same_start"], ctx["ratio"]["chain"]
    published = {"edges_first": [100, 60, 120], "edges_last": [98, 59, 120], "last": 190, "end": 190,
                 "baseline": {0: 0.8, 1: 0.7}, "first": 0.3}
    extra = {**ctx, "reproduction": rows, "at_least": rows, "rejection": rows, "published": published,
             "ratio": {"chain": ratio, "published": ratio, "published_end": ratio},
             "published_accuracy": findings.claims[0]}
    discussion = render("03_evolution", "discussion", **extra)
    assert "Reproduction of Fig. 4" in discussion and "chain against the published runs, per layer" in discussion
    assert "Published edge counts per layer: [100, 60, 120]" in render("03_evolution", "distances", **extra)
    panel = {**ctx["panel"], "reproduce": ctx["panel"]["tests"], "common": 10,
             "checks": [{"key": "gini", "label": "in-degree Gini", "epoch": e, "verdict": "holds"} for e in (10, 190)]}
    discussion = render("03_evolution", "discussion", **{**extra, "panel": panel})
    assert "The chain against the published runs at epoch 10" in discussion
    assert "in-degree Gini at epoch 10, holds; in-degree Gini at epoch 190, holds" in discussion and "the skew is there in the published" in discussion
    # the whole-trajectory branch (two chains against the published chain), filled with rows of the tiny run
    assert ctx["trajectory"] == [] and "needs the published networks" in render("03_evolution", "trajectory", **ctx)
    whole = {**extra, "trajectory": rows, "chain_gaps": findings.claims[:1],
             "trajectory_rules": {"epochs": [10, 20], "confidence": 0.975, "family": 2, "alpha": 0.05, "from": 10}}
    assert "| mean absolute gap |" in render("03_evolution", "trajectory", **whole)
    assert "over the whole trajectory.** 2 chains" in render("03_evolution", "discussion", **whole)
    assert "| SET networks beat the dense network" in text["arms"] and "| d2 | dense |" in text["arms"]
    assert "Outperform the dense model" in text["discussion"]
    # no ablation, ours clearly further apart than the published: the explanation is named as untested
    extra.update(effect=[], sampler=None, reproduction=[{**rows[0], "ci": [0.1, 0.2]}])
    assert "not tested in this profile" in render("03_evolution", "discussion", **extra)
    assert "ablation is off" in render("03_evolution", "sampler", **extra)


def test_figures_draw_each_interval_once(tiny_study):
    import dataclasses

    result, _, _ = tiny_study
    figs = E.figures(result)
    assert list(figs) == ["between_runs", "heatmaps", "verdicts", "accuracy", "distance_to_start", "topology_panel",
                          "panel_verdicts", "arms", "regrowth_sampler"]
    assert len(figs["arms"].axes) == 3
    assert len(figs["topology_panel"].axes) == 6 and len(figs["panel_verdicts"].axes) == 3
    # equivalence and non-inferiority of one difference decide on one interval: one point, both verdicts named
    ours, theirs = published_like(0.2)
    decided = E.distance_verdicts(ours, theirs, group(5, 0.45, 0.01), ours["mean"][:5, :5], epoch=50, same_epoch=20,
                                  margin=MARGIN, n_boot=300)
    [ax] = E.figures(dataclasses.replace(result, decided=decided))["verdicts"].axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    points = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(decided) == 7 and len(labels) == len(points) == 4
    assert labels[0] == "layer 0, epoch 50: chain - published — equivalence: does not hold, non-inferiority: holds"
    assert points[0].get_color() == "black" and points[3].get_color() == "tab:red"  # mixed verdicts; one rule


def test_topology_panel_of_a_tiny_run(tiny_study):
    result, findings, ctx = tiny_study
    panel, stats = result.panel, result.panel["statistics"]
    # every run of every setting at its setting's snapshots, every metric, both nulls
    assert set(stats["group"]) == {"a", "b", "c"} and set(stats["metric"]) == set(E.PANEL)
    assert set(stats["null"]) == {"er", "degree"} and len(stats) == (4 * 4 + 6 * 4) * len(E.PANEL) * 2
    assert panel["epoch"] == 10 and panel["common"] is None and panel["published_checks"] == []
    # the degrees fix the Gini coefficients and disconnected units: equal to their degree-preserving null
    fixed = stats[(stats["null"] == "degree") & stats["metric"].isin(["in_degree_gini", "unconnected_inputs"])]
    assert np.allclose(fixed["excess"], 0) and np.allclose(fixed["null_sd"], 0)
    # an Erdős–Rényi null depends only on shapes and counts: the same for every run of the exact-count settings
    er = stats[(stats["null"] == "er") & (stats["metric"] == "in_degree_gini")]
    assert er["null_mean"].nunique() == 1
    # epoch 0 of setting c is its static network, a random graph: the descriptions compare the last epoch with it
    static = [d for d in panel["descriptions"] if d["kind"] == "static"]
    assert len(static) == 3 and all("minus their static start (epoch 0)" in d["claim"] for d in static)
    recorded = {c.claim: c for c in findings.claims}
    for d in panel["decided"]:
        assert recorded[d.claim].verdict == d.verdict.verdict and recorded[d.claim].rule["rule"] == d.verdict.rule
    assert set(findings.data["topology_panel"]) == {"runs", "settings"}
    assert ctx["panel"]["noise"]["gini"]["static_sd"] > 0 and ctx["panel"]["reproduce"] == {}
    # cached by content under the runs root (snapshots with the same edges, such as the shared start, share entries)
    cache = list((Path(result.params.runs_root) / ".cache" / "metrics").glob("metrics-*.npz"))
    assert 0 < len(cache) <= (4 * 4 + 6 * 4) * len(E.PANEL) * 2
