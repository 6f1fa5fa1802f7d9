"""Tests of sparsetopo.study.methods_topology (notebook 06: the topologies of sparse-training methods): its
parameters and design, the check that a method acted, the verdict rules on synthetic numbers, a tiny synthetic
study through analyse / claims / context / templates, and its figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from sparsetopo.nnstd.pairwise import DistanceMatrix
from sparsetopo.study import methods_topology as M
from sparsetopo.study import verdicts as V
from sparsetopo.study.prose import render, template_names
from sparsetopo.topology.masks import perturbation_chain, random_topology
from sparsetopo.training.loop import initial_masks

MARGIN = V.Margin(0.01, "test margin")
WIDTHS = [20, 8, 8, 4]
EDGES = (40, 20, 32)


def params(tmp_path: Path, **changes) -> M.Parameters:
    values = dict(methods=["static", "set", "rigl"], n_seeds=3, epochs=12, snapshot_epochs=[0, 6, 12],
                  baseline_pairs=4, n_boot=200, n_jobs=1, verbosity="warning", runs_root=str(tmp_path / "runs"),
                  figures_dir=str(tmp_path / "figures"), dataset="digits", hidden=[8, 8], epsilon=2.0,
                  rigl_update_every=10, gmp_prune_every=10)
    values.update(changes)
    return M.Parameters.resolve(values)


# ---------------------------------------------------------------------------
# parameters and design
# ---------------------------------------------------------------------------


def test_parameters_check_methods_seeds_schedules_and_margins(tmp_path):
    p = params(tmp_path, methods=["gmp", "static"])
    assert p.methods == ("static", "gmp")  # shown in the notebook's order whatever order they are given in
    assert p.method_pairs == [("static", "gmp")]
    with pytest.raises(ValueError, match="methods"):
        params(tmp_path, methods=["static", "lottery"])
    with pytest.raises(ValueError, match="methods"):
        params(tmp_path, methods=["set", "set"])
    with pytest.raises(ValueError, match="n_seeds"):
        params(tmp_path, n_seeds=2)
    with pytest.raises(ValueError, match="epochs"):
        params(tmp_path, epochs=9, snapshot_epochs=[0, 9])  # the convergence check needs 2 k epochs
    with pytest.raises(ValueError, match="gmp_prune_end_epoch"):
        params(tmp_path, gmp_prune_end_epoch=13)
    with pytest.raises(ValueError, match="snapshot_epochs"):
        params(tmp_path, snapshot_epochs=[0, 13])
    with pytest.raises(ValueError, match="rank_margin"):
        params(tmp_path, rank_margin=0.0)
    margins = params(tmp_path, rank_margin_why="why r").margins()
    assert set(margins) == {"distance", "accuracy", "rank"} and margins["rank"].justification == "why r"
    # the defaults are the notebook's parameters cell: the five methods, five seeds, the same density
    default = M.Parameters.resolve()
    assert default.methods == M.ORDER and default.n_seeds >= 5 and default.epsilon == 20.0


def test_method_configs_share_everything_but_the_method_and_seed(tmp_path):
    p = params(tmp_path, methods=list(M.ORDER), rigl_drop_fraction=0.4, gmp_prune_end_epoch=8)
    configs = M.method_configs(p)
    assert list(configs) == list(M.ORDER)
    flat = [c for group in configs.values() for c in group.values()]
    for name in ("dataset", "hidden", "epsilon", "epochs", "lr", "lr_schedule", "batch_size", "train_samples",
                 "backend", "snapshot_epochs"):
        assert len({getattr(c, name) for c in flat}) == 1, name
    # disjoint seed blocks: no two runs share weights or a start
    assert [c.seed for c in configs["rigl"].values()] == [2000, 2001, 2002]
    assert all(c.effective_topology_seed == c.seed for c in flat)
    assert len({c.seed for c in flat}) == len(flat)
    assert dict(configs["rigl"]["rigl0"].method_options)["drop_fraction"] == 0.4
    assert dict(configs["gmp"]["gmp1"].method_options)["prune_end_epoch"] == 8
    assert configs["set"]["set0"].zeta == p.zeta and configs["static"]["static0"].method_options is None
    assert len({M.run_id(c) for c in flat}) == len(flat)


# ---------------------------------------------------------------------------
# a synthetic study
# ---------------------------------------------------------------------------


@dataclass
class FakeRun:
    topologies: dict
    records: list
    summary: dict
    directory: Path = field(default_factory=lambda: Path("fake"))

    def snapshot_epochs(self) -> list[int]:
        return sorted(self.topologies)

    def topology(self, epoch: int):
        return self.topologies[epoch]


def curve(level: float, epochs: int = 12) -> list[float]:
    return [level - 0.3 * 0.1 ** e for e in range(1, epochs + 1)]


def synthetic(p: M.Parameters):
    """static: fixed Erdős–Rényi graphs; SET: new random graphs at the end; RigL: small perturbations of one
    graph at the end (so RigL's seeds end close); accuracy and explored rate both rise static < SET < RigL."""
    configs = M.method_configs(p)
    core = random_topology(WIDTHS, layer_edges=EDGES, seed=99)
    near = perturbation_chain(core, p.n_seeds - 1, fraction=0.05, seed=7)
    levels = {"static": (0.80, 0.2), "set": (0.85, 0.5), "rigl": (0.90, 0.6), "snip": (0.82, 1.0), "gmp": (0.86, 1.0)}
    runs, rows = {}, []
    for m, group in configs.items():
        for i, (label, c) in enumerate(group.items()):
            start = random_topology(WIDTHS, layer_edges=EDGES, seed=c.seed)
            end = {"static": start, "set": random_topology(WIDTHS, layer_edges=EDGES, seed=c.seed + 500),
                   "rigl": near[i]}[m]
            acc = curve(levels[m][0] + 0.001 * i)
            records = [{"epoch": e + 1, "test_acc": a, "regrown": [0, 0, 0] if m == "static" else [3, 2, 0]}
                       for e, a in enumerate(acc)]
            runs[label] = FakeRun({0: start, 6: start if m == "static" else end, 12: end}, records,
                                  {"explored_rate": levels[m][1] + 0.01 * i, "train_seconds": 1.0})
            rows += [{"label": label, "method": m, "epoch": e + 1, "test_acc": a} for e, a in enumerate(acc)]
    return configs, pd.DataFrame(rows), runs


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("methods")
    p = params(tmp)
    configs, frame, runs = synthetic(p)
    result = M.analyse(p, configs, frame, runs, seconds={"training": 0.0})
    return result, M.claims(result)


def test_synthetic_study_decides_every_rule(study):
    r, findings = study
    by = {d.kind: [x for x in r.decided if x.kind == d.kind] for d in r.decided}
    assert set(by) == {"distance", "null", "rank", "accuracy"}
    # RigL's seeds end a few moved edges apart, SET's at random: SET-within minus RigL-within clears the margin
    within = by["distance"][0]
    assert within.verdict.verdict == V.HOLDS and within.verdict.rule == "superiority"
    assert within.verdict.estimate == pytest.approx(
        np.mean(r.within("set")[np.triu_indices(3, 1)]) - np.mean(r.within("rigl")[np.triu_indices(3, 1)]))
    # one row per pair of methods, Bonferroni over the three pairs
    assert [d.short.split(":")[0] for d in by["null"]] == ["static – SET", "static – RigL", "SET – RigL"]
    assert all("98.33%" in d.detail for d in by["null"])
    net = r.all_runs.layers[r.sparse].mean(axis=0)
    labels = list(r.all_runs.labels)
    for d, (a, b) in zip(by["null"], r.params.method_pairs):  # the null of the pair minus the mean between them
        rows, cols = [labels.index(x) for x in r.groups[a]], [labels.index(x) for x in r.groups[b]]
        assert d.verdict.estimate == pytest.approx(r.degree_level(a, b) - net[np.ix_(rows, cols)].mean())
        assert d.verdict.rule == "superiority" and d.verdict.low <= d.verdict.estimate <= d.verdict.high
    rank = by["rank"][0]
    assert rank.verdict.estimate > 0.9 and rank.verdict.verdict == V.HOLDS
    acc = by["accuracy"][0]  # flat curves: converged; RigL 0.05 above SET
    assert acc.verdict.rule == "non-inferiority" and acc.verdict.verdict == V.HOLDS and not acc.verdict.note
    assert acc.verdict.estimate == pytest.approx(0.05, abs=1e-9)
    # the matrix of methods: symmetric, diagonal within, and the degree-preserving null of every pair
    mm = r.method_matrix[r.method_matrix.layer == "mean"].set_index(["a", "b"])["nnstd"]
    assert mm[("set", "rigl")] == pytest.approx(mm[("rigl", "set")])
    assert mm[("rigl", "rigl")] == pytest.approx(np.mean(r.within("rigl")[np.triu_indices(3, 1)]))
    assert {(a, b) for a, b in zip(r.degree.a, r.degree.b)} == {(a, b) for a in r.params.methods
                                                                 for b in r.params.methods}
    assert r.edges == {m: list(EDGES) for m in r.params.methods}


def test_claims_record_rules_headlines_and_data(study):
    r, findings = study
    decided = [c for c in findings.claims if c.verdict is not None]
    assert len(decided) == len(r.decided) == 6
    assert all(c.rule["justification"] for c in decided)
    names = [h["paper_claim"] for h in findings.headlines]
    assert len(names) == 4 and any("RigL" in n for n in names)
    assert {"design", "within_methods", "method_matrix", "nulls", "accuracy"} <= set(findings.data)
    edges = next(c for c in findings.claims if c.claim.startswith("Every method ends with the same edges"))
    assert edges.measured == 1.0


def test_templates_render_from_the_context(study):
    r, findings = study
    ctx = M.context(r, findings)
    assert template_names("06_methods") == ["accuracy", "discussion", "distances", "explored", "rules", "runs"]
    texts = {s: render("06_methods", s, **ctx) for s in template_names("06_methods")}
    assert "RigL's runs of different seeds end closer to each other than SET's" in texts["discussion"]
    assert "Bonferroni over 3 pairs" in texts["discussion"]
    assert "IMP's ticket from notebook 04" in texts["runs"] and "the same for every method" in texts["runs"]
    assert "rigl0" in texts["accuracy"]


def test_rules_are_stated_from_the_parameters_alone(tmp_path):
    text = render("06_methods", "rules", **M.rule_context(M.Parameters.resolve(distance_margin=0.02)))
    assert "above 0.02" in text and "Bonferroni over the 10 rows" in text and "99.50%" in text
    assert "not decided in this execution" not in text
    text = render("06_methods", "rules", **M.rule_context(params(tmp_path, methods=["static", "set"])))
    assert "not decided in this execution" in text and "Bonferroni over the 1 row " in text


def test_figures_are_closed_and_named(study):
    r, _ = study
    before = set(plt.get_fignums())
    figs = M.figures(r)
    assert set(figs) == {"within_over_training", "method_matrix", "learning_curves", "explored_vs_accuracy", "verdicts"}
    assert set(plt.get_fignums()) == before


# ---------------------------------------------------------------------------
# rules on hand-made numbers
# ---------------------------------------------------------------------------


def sym(n: int, value: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    m = np.triu(value + noise * np.random.default_rng(seed).uniform(-1, 1, (n, n)), 1)
    return m + m.T


def test_within_verdict_is_superiority_of_set_minus_rigl():
    holds = M.within_verdicts({"set": sym(5, 0.8, 0.01), "rigl": sym(5, 0.5, 0.01)}, epoch=3, margin=MARGIN, n_boot=200)
    assert holds[0].verdict.verdict == V.HOLDS and holds[0].verdict.estimate == pytest.approx(0.3, abs=0.02)
    fails = M.within_verdicts({"set": sym(5, 0.5, 0.01, 1), "rigl": sym(5, 0.5, 0.01, 2)}, epoch=3, margin=MARGIN,
                              n_boot=200)
    assert fails[0].verdict.verdict == V.DOES_NOT_HOLD
    assert M.within_verdicts({"set": sym(5, 0.5)}, epoch=3, margin=MARGIN) == []


def test_null_verdicts_subtract_the_pair_distance_from_the_null_with_bonferroni():
    between = {("a", "b"): np.full((4, 4), 0.5), ("a", "c"): np.full((4, 4), 0.85)}
    out = M.null_verdicts(between, {("a", "b"): 0.8, ("a", "c"): 0.8}, epoch=2, margin=MARGIN, n_boot=200)
    assert [d.verdict.verdict for d in out] == [V.HOLDS, V.DOES_NOT_HOLD]
    assert out[0].verdict.estimate == pytest.approx(0.3) and "97.50%" in out[0].detail


def test_spearman_interval_resamples_within_methods_and_accuracy_is_capped_unless_converged():
    x, y = [0.1, 0.1, 0.1, 0.5, 0.5, 0.5], [0.80, 0.81, 0.79, 0.90, 0.91, 0.89]
    ci = M.spearman_ci(x, y, ["s"] * 3 + ["t"] * 3, n_boot=200)
    from scipy.stats import spearmanr

    assert ci.estimate == pytest.approx(spearmanr(x, y).statistic) and ci.low > 0.5
    assert np.isnan(M.spearman_ci([0.1] * 6, y, ["s"] * 6, n_boot=200).low)  # constant rate: ρ undefined
    acc = pd.DataFrame({"label": [f"r{i}" for i in range(6)], "method": ["set"] * 3 + ["rigl"] * 3,
                        "last5": [0.85, 0.86, 0.85, 0.90, 0.91, 0.90], "epochs": 12,
                        "converged": [True] * 5 + [False]})
    verdict = M.accuracy_verdicts(acc, margin=V.Margin(0.005, "test"))[0].verdict
    assert verdict.verdict == V.INCONCLUSIVE and "r5" in verdict.note


def test_check_methods_acted_refuses_runs_a_loop_did_not_update(tmp_path):
    p = params(tmp_path, methods=["set", "snip", "gmp"])
    configs = M.method_configs(p)
    flat = {label: c for group in configs.values() for label, c in group.items()}
    groups = {m: tuple(g) for m, g in configs.items()}
    widths = [64, 8, 8, 10]
    er = {label: initial_masks(c.replace(method="static", method_options=None), widths) for label, c in flat.items()}
    dense = [np.ones_like(m) for m in next(iter(er.values()))]
    good = {label: FakeRun({0: er[label] if label.startswith("set") else dense,
                            12: random_topology(widths, layer_edges=[int(m.sum()) for m in er[label]], seed=9)},
                           [{"regrown": [1, 1, 0]}], {}) for label in flat}
    M.check_methods_acted(good, groups, flat)
    for label, why in (("set1", "no connection was ever regrown"), ("snip0", "Erdős–Rényi graph"),
                       ("gmp2", "started with")):
        bad = dict(good)
        run = good[label]
        bad[label] = FakeRun({0: er[label] if label == "gmp2" else run.topologies[0],
                              12: er[label] if label != "set1" else run.topologies[12]},
                             [{"regrown": [0, 0, 0]}], {})
        with pytest.raises(RuntimeError, match=why):
            M.check_methods_acted(bad, groups, flat)


def test_between_methods_averages_blocks_and_within_pairs():
    layers = np.zeros((2, 4, 4))
    layers[0] = [[0, 0.2, 0.5, 0.5], [0.2, 0, 0.7, 0.7], [0.5, 0.7, 0, 0.4], [0.5, 0.7, 0.4, 0]]
    matrix = DistanceMatrix(labels=("a0", "a1", "b0", "b1"), layers=layers, mean=layers.mean(axis=0))
    out = M.between_methods(matrix, {"a": ("a0", "a1"), "b": ("b0", "b1")}, ["a0", "a1", "b0", "b1"], [0])
    mean = out[out.layer == "mean"].set_index(["a", "b"])["nnstd"]
    assert mean[("a", "a")] == pytest.approx(0.2) and mean[("b", "b")] == pytest.approx(0.4)
    assert mean[("a", "b")] == pytest.approx(0.6) == mean[("b", "a")]
