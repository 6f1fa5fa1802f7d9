"""Sparse vs dense across datasets: settings, the run grid, per-run accuracy and convergence, and the verdict rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sparsetopo import store
from sparsetopo.study import sparse_vs_dense as S
from sparsetopo.study import verdicts as V
from sparsetopo.study.findings import Findings

TINY = {"digits": {"hidden": [8, 8], "epochs": 10, "batch_size": 128, "lr": 0.05, "train_samples": None, "calibration_sd": 0.01}}


def _params(tmp_path, **changes):
    values = dict(dataset="digits", datasets=TINY, densities=[0.5], seeds=[0, 1], calibration_seeds=[100, 101],
                  runs_root=str(tmp_path / "runs"), figures_dir=str(tmp_path / "fig"), n_jobs=1, verbosity="warning")
    values.update(changes)
    return S.Parameters.resolve(**values)


# --------------------------------------------------------------------------- parameters and grid


def test_dataset_settings_read_every_field_and_name_a_missing_or_unknown_one():
    (s,) = S.dataset_settings({"digits": {"hidden": [4, 4], "epochs": 12, "batch_size": 8, "lr": 0.1, "train_samples": 100,
                                          "calibration_sd": 0.02}})
    assert (s.name, s.hidden, s.epochs, s.batch_size, s.lr, s.train_samples, s.calibration_sd) == (
        "digits", (4, 4), 12, 8, 0.1, 100, 0.02)
    with pytest.raises(ValueError, match="missing keys \\['calibration_sd'\\]"):
        S.dataset_settings({"digits": {"hidden": [4], "epochs": 12, "batch_size": 8, "lr": 0.1, "train_samples": None}})
    with pytest.raises(ValueError, match="unknown keys \\['momentum'\\]"):
        S.dataset_settings({"digits": {**TINY["digits"], "momentum": 0.5}})
    with pytest.raises(ValueError, match="epochs"):  # fewer than 2 k epochs cannot be checked for convergence
        S.dataset_settings({"digits": {**TINY["digits"], "epochs": 9}})
    with pytest.raises(ValueError, match="calibration_sd"):
        S.dataset_settings({"digits": {**TINY["digits"], "calibration_sd": -0.01}})


def test_a_margin_is_a_multiple_of_the_calibration_sd_floored_at_one_test_sample():
    (s,) = S.dataset_settings({"digits": TINY["digits"]})
    m = S.dataset_margin(s, 2.0, [100, 101], n_test=1000)
    assert m.value == pytest.approx(0.02) and "floored" not in m.justification
    (zero,) = S.dataset_settings({"digits": {**TINY["digits"], "calibration_sd": 0.0}})
    m = S.dataset_margin(zero, 2.0, [100, 101], n_test=400)
    assert m.value == pytest.approx(2 / 400) and "floored" in m.justification


def test_parameters_refuse_a_detail_dataset_outside_the_list_and_calibration_seeds_among_the_seeds(tmp_path):
    with pytest.raises(ValueError, match="one of datasets"):
        _params(tmp_path, dataset="mnist")
    with pytest.raises(ValueError, match="calibration_seeds must differ"):
        _params(tmp_path, calibration_seeds=[1, 100])
    with pytest.raises(ValueError, match="at least 2"):
        _params(tmp_path, seeds=[0])
    p = _params(tmp_path)
    assert p.margins()["digits"].value == pytest.approx(2 * 0.01)
    assert "0.0100" in p.margins()["digits"].justification and "100, 101" in p.margins()["digits"].justification


def test_arm_configs_give_dense_dropout_then_static_by_density_with_one_recipe():
    (setting,) = S.dataset_settings({"digits": {**TINY["digits"], "train_samples": 500}})
    configs = S.arm_configs(setting, [0.3, 0.1], [0, 1], lr_schedule="cosine", dropout=0.2, backend="sparse")
    assert [S.arm_of(c) for c in configs] == ["dense"] * 2 + ["dense + dropout"] * 2 + ["static 10%"] * 2 + [
        "static 30%"] * 2
    assert [c.seed for c in configs] == [0, 1] * 4
    assert all(c.dropout == 0 for c in configs[:2]) and all(c.dropout == 0.2 for c in configs[2:4])
    assert all(c.backend == "sparse" and c.dropout == 0 for c in configs[4:])
    assert all(c.backend == "masked" for c in configs[:4])
    assert all((c.epochs, c.lr, c.lr_schedule, c.hidden, c.train_samples, c.snapshot_every) ==
               (10, 0.05, "cosine", (8, 8), 500, 10) for c in configs)
    assert len({store.run_directory(c) for c in configs}) == len(configs)
    with pytest.raises(ValueError, match="densities"):
        S.arm_configs(setting, [1.0], [0], lr_schedule="cosine", dropout=0.2, backend="sparse")


# --------------------------------------------------------------------------- the verdict rule on synthetic inputs

DENSE = [0.900, 0.902, 0.898, 0.901, 0.899]
MARGIN = V.Margin(0.01, "synthetic")


def _shift(values, delta):
    return [v + delta for v in values]


def test_non_inferiority_holds_on_a_clear_margin():
    v = S.compare(_shift(DENSE, -0.001), DENSE, claim=S.CLAIM_MATCH, margin=MARGIN, confidence=0.95, converged=True)
    assert v.verdict == V.HOLDS and v.rule == "non-inferiority" and v.low > -0.01


def test_non_inferiority_does_not_hold_on_a_clear_failure():
    v = S.compare(_shift(DENSE, -0.05), DENSE, claim=S.CLAIM_MATCH, margin=MARGIN, confidence=0.95, converged=True)
    assert v.verdict == V.DOES_NOT_HOLD and v.high < -0.01


def test_non_inferiority_is_inconclusive_when_the_interval_spans_the_margin():
    noisy = [0.86, 0.91, 0.88, 0.92, 0.88]  # mean 0.89: difference -0.01 with a wide interval across -m
    v = S.compare(noisy, DENSE, claim=S.CLAIM_MATCH, margin=MARGIN, confidence=0.95, converged=True)
    assert v.low < -0.01 < v.high and v.verdict == V.INCONCLUSIVE


def test_overlapping_intervals_do_not_make_a_match():
    # both arms' own intervals overlap, yet the difference lies clearly below -m: does not hold
    sparse = [0.86, 0.87, 0.88, 0.87, 0.87]
    dense = [0.87, 0.90, 0.93, 0.89, 0.91]
    v = S.compare(sparse, dense, claim=S.CLAIM_MATCH, margin=V.Margin(0.005, "synthetic"), confidence=0.95,
                  converged=True)
    assert v.verdict != V.HOLDS


def test_superiority_needs_the_whole_interval_above_zero():
    better = S.compare(_shift(DENSE, 0.02), DENSE, claim=S.CLAIM_BEAT, margin=MARGIN, confidence=0.95, converged=True)
    assert better.verdict == V.HOLDS and better.margin == 0
    equal = S.compare(_shift(DENSE, 0.0005), DENSE, claim=S.CLAIM_BEAT, margin=MARGIN, confidence=0.95, converged=True)
    assert equal.verdict == V.INCONCLUSIVE
    worse = S.compare(_shift(DENSE, -0.02), DENSE, claim=S.CLAIM_BEAT, margin=MARGIN, confidence=0.95, converged=True)
    assert worse.verdict == V.DOES_NOT_HOLD


def test_unconverged_arms_cap_a_decided_verdict_at_inconclusive():
    v = S.compare(_shift(DENSE, -0.001), DENSE, claim=S.CLAIM_MATCH, margin=MARGIN, confidence=0.95, converged=False)
    assert v.verdict == V.INCONCLUSIVE and "not converged" in v.note


def _v(word, low, high):
    return V.Verdict(word, "non-inferiority", (low + high) / 2, low, high, 0.01, "synthetic")


def test_aggregate_holds_when_some_density_holds_and_shows_the_strongest():
    i, v = S.aggregate([_v(V.DOES_NOT_HOLD, -0.1, -0.05), _v(V.HOLDS, -0.005, 0.01), _v(V.HOLDS, 0.0, 0.02)])
    assert (i, v.verdict) == (2, V.HOLDS)


def test_aggregate_does_not_hold_only_when_every_density_fails():
    i, v = S.aggregate([_v(V.DOES_NOT_HOLD, -0.1, -0.05), _v(V.DOES_NOT_HOLD, -0.04, -0.02)])
    assert (i, v.verdict) == (1, V.DOES_NOT_HOLD)
    i, v = S.aggregate([_v(V.DOES_NOT_HOLD, -0.1, -0.05), _v(V.INCONCLUSIVE, -0.03, 0.01)])
    assert (i, v.verdict) == (1, V.INCONCLUSIVE)


def _synthetic_runs():
    rows = []
    rng = np.random.default_rng(0)
    for arm, density, mean in (("dense", math.nan, 0.90), ("dense + dropout", math.nan, 0.93),
                               ("static 1%", 0.01, 0.80), ("static 10%", 0.1, 0.90)):
        for seed in range(5):
            rows.append({"dataset": "a", "arm": arm, "method": "static" if arm.startswith("static") else "dense",
                         "density": density, "seed": seed, "acc": mean + rng.normal(0, 0.002), "converged": True})
    return pd.DataFrame(rows)


def test_comparisons_use_bonferroni_welch_intervals_per_density():
    runs = _synthetic_runs()
    table = S.comparisons(runs, {"a": V.Margin(0.01, "synthetic")}, confidence=0.95)
    assert len(table) == 2 * 2 * 2  # references x densities x claims
    row = table[(table["reference"] == "dense") & (table["arm"] == "static 10%") & (table["claim"] == S.CLAIM_MATCH)]
    ci = V.difference_ci(runs[runs["arm"] == "static 10%"]["acc"], runs[runs["arm"] == "dense"]["acc"], 1 - 0.05 / 2)
    assert (row["low"].item(), row["high"].item()) == pytest.approx(ci.ci)
    assert row["interval_confidence"].item() == pytest.approx(0.975)
    verdicts = S.dataset_verdicts(table).set_index(["reference", "claim"])
    assert verdicts.loc[("dense", S.CLAIM_MATCH), "verdict"] == V.HOLDS
    assert verdicts.loc[("dense", S.CLAIM_MATCH), "deciding_arm"] == "static 10%"
    assert verdicts.loc[("dense + dropout", S.CLAIM_MATCH), "verdict"] == V.DOES_NOT_HOLD


# --------------------------------------------------------------------------- real runs (tiny, on digits)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb02")
    return S.run(_params(tmp))


def test_results_table_takes_the_mean_of_the_last_five_epochs_and_checks_convergence(tiny_result):
    r = tiny_result
    assert len(r.runs) == len(r.configs) == 4 * 2 - 2  # dense, dropout, one density, two seeds each
    for config, row in zip(r.configs, r.runs.itertuples()):
        curve = [rec["test_acc"] for rec in store.load_run(store.run_directory(config, r.params.runs_root)).records]
        assert row.acc == pytest.approx(np.mean(curve[-5:]))
        assert (row.final_acc, row.best_acc) == pytest.approx((curve[-1], max(curve)))
        c = V.convergence(curve)
        assert row.converged == c.converged and row.moved == pytest.approx(c.moved)
    static = r.runs[r.runs["method"] == "static"]
    assert (static["weight_fraction"] < 1).all() and (r.runs.loc[r.runs["method"] == "dense", "weight_fraction"] == 1).all()


def test_findings_record_verdicts_with_their_rule_and_descriptions_without(tiny_result, tmp_path):
    findings = S.claims(tiny_result)
    by_name = {c.claim: c for c in findings.claims}
    match = by_name["digits: some static density matches or beats dense"]
    assert match.verdict in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)
    assert match.rule["rule"] == "non-inferiority" and match.rule["margin"] == pytest.approx(0.02)
    beat = by_name["digits: some static density beats dense"]
    assert beat.rule["rule"] == "superiority" and beat.rule["margin"] == 0
    descriptions = [c for c in findings.claims if c.verdict is None]
    assert descriptions and all(c.holds is None for c in descriptions)
    assert isinstance(findings, Findings)
    text = S.discussion(tiny_result, notebook_seconds=1.0)
    assert text.startswith("## Discussion and limitations") and "digits" in text
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert len(paragraphs) == len(set(paragraphs))  # no paragraph twice
    assert sum(p.startswith("**Budgets.**") for p in paragraphs) == 1


def test_figures_draw_every_panel(tiny_result):
    figs = S.figures(tiny_result)
    assert list(figs) == ["gap_vs_density", "accuracy_per_seed", "learning_curves", "learning_curves_detail"]
    assert all(len(f.axes) >= 1 for f in figs.values())
