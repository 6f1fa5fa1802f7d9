"""Sparse vs dense across datasets: settings from a dataset's size, the run grid, per-run accuracy and convergence,
the verdict rule, the measured calibration, the templates, and the README's own-dataset example."""

from __future__ import annotations

import json
import logging
import math
import re
import shlex
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from sparsetopo import store
from sparsetopo.study import accuracy
from sparsetopo.study import sparse_vs_dense as S
from sparsetopo.study import verdicts as V
from sparsetopo.study.figures import sparse_vs_dense as F
from sparsetopo.study.findings import Findings
from sparsetopo.study.prose import render, template_names

ROOT = Path(__file__).resolve().parents[2]
TINY = {"hidden": [8, 8], "epochs": 10, "batch_size": 128, "lr": 0.05}


def _params(tmp_path, **changes):
    values = dict(dataset="digits", datasets=["digits"], settings={"digits": TINY}, densities=[0.5], seeds=[0, 1],
                  calibration_seeds=[100, 101], runs_root=str(tmp_path / "runs"), figures_dir=str(tmp_path / "fig"),
                  n_jobs=1, verbosity="warning")
    values.update(changes)
    return S.Parameters.resolve(**values)


# --------------------------------------------------------------------------- settings and parameters

#: The settings of the six datasets before they were derived from size (commit a71b70e): the default
#: parameters must reproduce them exactly, so that run ids and numbers stay the same.
SIX = {
    "fashion_mnist": ((60000, 784), {"hidden": (200,) * 3, "epochs": 40, "batch_size": 32, "lr": 0.02,
                                     "train_samples": 3000, "calibration_sd": 0.0017}),
    "mnist": ((60000, 784), {"hidden": (200,) * 3, "epochs": 40, "batch_size": 32, "lr": 0.02, "train_samples": 3000,
                             "calibration_sd": 0.0012}),
    "COIL20": ((1008, 1024), {"hidden": (500,) * 3, "epochs": 40, "batch_size": 32, "lr": 0.01, "train_samples": None,
                              "calibration_sd": 0.0}),
    "Isolet": ((1092, 617), {"hidden": (500,) * 3, "epochs": 40, "batch_size": 32, "lr": 0.01, "train_samples": None,
                             "calibration_sd": 0.0063}),
    "madelon": ((1820, 500), {"hidden": (500,) * 3, "epochs": 40, "batch_size": 64, "lr": 0.01, "train_samples": None,
                              "calibration_sd": 0.0099}),
    "TOX_171": ((119, 5748), {"hidden": (500,) * 3, "epochs": 40, "batch_size": 16, "lr": 0.01, "train_samples": None,
                              "calibration_sd": 0.0219}),
}


def test_size_rule_and_default_overrides_reproduce_the_six_settings_exactly():
    p = S.Parameters.resolve()
    assert list(p.study_datasets) == list(SIX)
    for name, ((n_train, n_features), expected) in SIX.items():
        assert {**S.derived_setting(n_train, n_features), **p.override(name)} == expected, name


def test_size_rule_on_small_and_large_datasets():
    assert S.derived_setting(124, 13) == {"hidden": (32,) * 3, "epochs": 40, "batch_size": 16, "lr": 0.01,
                                          "train_samples": None}
    assert S.derived_setting(50000, 3072)["hidden"] == (200,) * 3
    assert S.derived_setting(2000, 64)["hidden"] == (64,) * 3


def test_settings_entries_are_checked_field_by_field(tmp_path):
    with pytest.raises(ValueError, match=r"unknown keys \['momentum'\]"):
        _params(tmp_path, settings={"digits": {**TINY, "momentum": 0.5}})
    with pytest.raises(ValueError, match="epochs"):  # fewer than 2 k epochs cannot be checked for convergence
        _params(tmp_path, settings={"digits": {**TINY, "epochs": 9}})
    with pytest.raises(ValueError, match="calibration_sd"):
        _params(tmp_path, settings={"digits": {"calibration_sd": -0.01}})
    with pytest.raises(ValueError, match="parameter settings key 'digitz': no dataset 'digitz'"):
        _params(tmp_path, settings={"digitz": TINY})


def test_dataset_outside_datasets_runs_alone_and_an_unknown_one_is_refused(tmp_path):
    p = _params(tmp_path)
    assert (p.alone, p.study_datasets, p.detail_dataset) == (False, ("digits",), "digits")
    alone = S.Parameters.resolve(dataset="Prostate_GE")
    assert alone.alone and alone.study_datasets == ("Prostate_GE",) and alone.override("Prostate_GE") == {}
    assert S.Parameters.resolve(datasets=["mnist"], dataset="COIL20").override("coil20")["calibration_sd"] == 0.0
    assert S.Parameters.resolve(dataset="MNIST").detail_dataset == "mnist"  # names match case-insensitively
    with pytest.raises(ValueError, match=r"parameter dataset: no dataset 'no_such_data'.*register_arrays"):
        S.Parameters.resolve(dataset="no_such_data")
    with pytest.raises(ValueError, match=r"parameter datasets\[1\]: no dataset"):
        S.Parameters.resolve(datasets=["mnist", "no_such_data"])


def test_calibration_seeds_must_differ_from_seeds(tmp_path):
    with pytest.raises(ValueError, match="calibration_seeds must differ"):
        _params(tmp_path, calibration_seeds=[1, 100])
    with pytest.raises(ValueError, match="at least 2"):
        _params(tmp_path, seeds=[0])


def test_a_margin_is_a_multiple_of_the_calibration_sd_floored_at_one_test_sample():
    s = S.DatasetSetting("digits", (8, 8), 10, 128, 0.05, None, 0.01)
    m = S.dataset_margin(s, 2.0, [100, 101], n_test=1000)
    assert m.value == pytest.approx(0.02) and "floored" not in m.justification
    assert "not the seeds compared here" in m.justification
    m = S.dataset_margin(S.DatasetSetting("digits", (8,), 10, 8, 0.1, None, 0.0), 2.0, [100, 101], n_test=400)
    assert m.value == pytest.approx(2 / 400) and "floored" in m.justification
    measured = S.DatasetSetting("digits", (8,), 10, 8, 0.1, None, 0.01, measured=True)
    assert "measured in this execution" in S.dataset_margin(measured, 2.0, [100, 101], 1000).justification
    with pytest.raises(ValueError, match="not been measured"):
        S.dataset_margin(S.DatasetSetting("digits", (8,), 10, 8, 0.1, None, None), 2.0, [100, 101], 1000)


def test_arm_configs_give_dense_dropout_then_static_by_density_with_one_recipe():
    setting = S.DatasetSetting("digits", (8, 8), 10, 128, 0.05, 500, 0.01)
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


def test_calibration_runs_only_where_no_sd_is_given(tmp_path):
    p = _params(tmp_path)
    given = S.DatasetSetting("digits", (8, 8), 10, 128, 0.05, None, 0.01)
    assert S.calibration_configs(p, [given]) == []
    configs = S.calibration_configs(p, [S.DatasetSetting("digits", (8, 8), 10, 128, 0.05, None, None)])
    assert [(S.arm_of(c), c.seed) for c in configs] == [("dense", 100), ("dense", 101)]


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
    """A tiny study on digits without a calibration_sd: the run measures it first."""
    tmp = tmp_path_factory.mktemp("nb02")
    return S.run(_params(tmp))


def test_run_table_takes_the_mean_of_the_last_five_epochs_and_checks_convergence(tiny_result):
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
    assert list(r.arms["arm"]) == ["dense", "dense + dropout", "static 50%"]
    assert accuracy.curve_table(r.configs[:1], r.params.runs_root, arm=S.arm_of)["epoch"].tolist() == list(range(1, 11))


def test_a_calibration_sd_not_given_is_measured_from_the_calibration_seeds(tiny_result):
    r = tiny_result
    (setting,) = r.settings
    assert setting.measured and list(r.calibration["seed"]) == [100, 101]
    assert setting.calibration_sd == pytest.approx(float(r.calibration["acc"].std(ddof=1)))
    assert "measured in this execution" in r.margins["digits"].justification
    assert bool(r.data["calibration_measured"].item())


def test_findings_record_verdicts_with_their_rule_descriptions_without_and_headlines(tiny_result):
    findings = S.claims(tiny_result)
    by_name = {c.claim: c for c in findings.claims}
    match = by_name["digits: some static density matches or beats dense"]
    assert match.verdict in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)
    assert match.rule["rule"] == "non-inferiority" and match.rule["margin"] == pytest.approx(
        tiny_result.margins["digits"].value)
    beat = by_name["digits: some static density beats dense"]
    assert beat.rule["rule"] == "superiority" and beat.rule["margin"] == 0
    descriptions = [c for c in findings.claims if c.verdict is None]
    assert descriptions and all(c.holds is None for c in descriptions)
    assert isinstance(findings, Findings)
    assert [h["paper_claim"] for h in findings.headlines] == ["Static sparse matches or beats dense",
                                                              "Static sparse beats dense"]
    assert findings.headlines[0]["claims"] == ["digits: some static density matches or beats dense"]
    assert "2×8 hidden on digits" in findings.headlines[0]["setting"]


def test_templates_render_with_the_context_of_a_tiny_run(tiny_result):
    findings = S.claims(tiny_result)
    context = S.context(tiny_result, findings)
    assert template_names("02_sparse_vs_dense") == ["discussion", "rules", "runs"]
    text = {name: render("02_sparse_vs_dense", name, **context) for name in template_names("02_sparse_vs_dense")}
    assert text["rules"].startswith("## The rule, fixed before the numbers")
    assert "**Calibration measured in this execution.** No `calibration_sd` was given for digits" in text["runs"]
    assert text["discussion"].startswith("## Discussion and limitations") and "digits" in text["discussion"]
    paragraphs = [p for p in text["discussion"].split("\n\n") if p.strip()]
    assert len(paragraphs) == len(set(paragraphs))  # no paragraph twice
    assert sum(p.startswith("**Budgets.**") for p in paragraphs) == 1
    for name, body in text.items():
        assert "{{" not in body and "{%" not in body and not any("  " in line.strip() for line in body.splitlines()), name


def test_notebook_tables_have_one_row_per_dataset_or_arm(tiny_result):
    assert list(S.verdict_summary(tiny_result).columns) == ["dataset", "static matches or beats dense",
                                                            "static beats dense", "static matches or beats dense + dropout",
                                                            "static beats dense + dropout"]
    assert S.settings_table(tiny_result)["calibration"].tolist() == ["measured here"]
    assert len(S.arm_report(tiny_result)) == len(S.convergence_report(tiny_result)) == 3


def test_figures_draw_every_panel(tiny_result):
    figs = F.figures(tiny_result)
    assert list(figs) == ["gap_vs_density", "accuracy_per_seed", "learning_curves", "learning_curves_detail"]
    assert all(len(f.axes) >= 1 for f in figs.values())


# --------------------------------------------------------------------------- the README's own-dataset example


def _readme_example() -> tuple[str, list[list[str]]]:
    """The Python block and the commands of README's "Run notebook 02 on your own data"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("#### Run notebook 02 on your own data", 1)[1].split("\n#", 1)[0]
    (python,) = re.findall(r"```python\n(.*?)```", section, re.S)
    (bash,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = [shlex.split(line.split("#", 1)[0]) for line in bash.splitlines() if line.strip()]
    return python, [c[c.index("sparsetopo.study") + 1:] for c in commands]


@pytest.mark.notebook
def test_readme_example_runs_notebook_02_on_a_dataset_registered_from_scikit_learn(tmp_path, monkeypatch):
    """Exactly the README's example, in a copy of notebooks/ (so its outputs and runs stay in tmp_path)."""
    from sparsetopo.study import runner

    python, commands = _readme_example()
    monkeypatch.setenv("SPARSETOPO_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    exec(compile(python, "README.md", "exec"), {})
    assert (tmp_path / "data" / "custom" / "wine.npz").is_file()

    notebooks = tmp_path / "checkout" / "notebooks"
    shutil.copytree(ROOT / "notebooks" / "params", notebooks / "params")
    shutil.copy(ROOT / "notebooks" / "02_sparse_vs_dense.ipynb", notebooks)
    monkeypatch.setattr(runner, "_notebooks_dir", lambda: notebooks)
    smoke = [c for c in commands if "smoke" in c]
    assert len(smoke) == 1 and ["--dataset", "wine"] == smoke[0][2:4]
    logger = logging.getLogger("sparsetopo")
    level, handlers = logger.level, list(logger.handlers)
    try:
        assert runner.main(smoke[0]) == 0
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers
    # the default-profile command (30 runs) is checked, not executed
    assert [c for c in commands if "smoke" not in c] == [["--dataset", "wine", "02_sparse_vs_dense"]]
    assert runner.notebook_overrides("02_sparse_vs_dense", "default", {"dataset": "wine"}) == {"dataset": "wine"}

    findings = json.loads((tmp_path / "checkout" / "runs" / "figures" / "smoke" / "02_sparse_vs_dense" /
                           "findings.json").read_text())
    assert findings["parameters"]["dataset"] == "wine"
    assert [c["claim"] for c in findings["claims"] if c.get("verdict")][0] == (
        "wine: some static density matches or beats dense")
    (row,) = findings["data"]["datasets"]["records"]
    assert row["calibration_measured"] and row["widths"] == "13-32-32-32-3"
    executed = nbformat.read(tmp_path / "checkout" / "runs" / "executed" / "smoke" / "02_sparse_vs_dense.ipynb", 4)
    markdown = "".join(o["data"].get("text/markdown", "") for c in executed.cells if c.cell_type == "code"
                       for o in c.get("outputs", []) if "data" in o)
    assert "The study runs on **wine** alone" in markdown
    assert "No `calibration_sd` was given for wine" in markdown
