"""Sparse vs dense across datasets: settings from a dataset's size, the run grid (seed and split varied together),
the plateau check before the first decay, the margin calibrated at the same n, the Bonferroni level over datasets and
static arms, the verdict rule, and the README's own-dataset example."""

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
from sparsetopo.study import sparse_vs_dense as S
from sparsetopo.study import verdicts as V
from sparsetopo.study.figures import sparse_vs_dense as F
from sparsetopo.study.findings import Findings
from sparsetopo.study.prose import render, template_names

ROOT = Path(__file__).resolve().parents[2]
TINY = {"hidden": [8, 8], "epochs": 10, "static_epochs": 12, "batch_size": 128, "lr": 0.05}


def _params(tmp_path, **changes):
    values = dict(dataset="digits", datasets=["digits"], settings={"digits": TINY}, densities=[0.5], epsilons=[2],
                  seeds=[0, 1], calibration_seeds=[100, 101], plateau_window=2, runs_root=str(tmp_path / "runs"),
                  figures_dir=str(tmp_path / "fig"), n_jobs=1, verbosity="warning")
    values.update(changes)
    return S.Parameters.resolve(**values)


# --------------------------------------------------------------------------- settings and parameters


def test_size_rule_gives_over_parameterised_networks_and_at_least_ten_thousand_large_samples():
    large = S.derived_setting(60000, 784)
    assert large == {"hidden": (1000,) * 3, "epochs": 30, "static_epochs": 60, "batch_size": 128, "lr": 0.05,
                     "train_samples": 10000, "repetitions": 3}
    small = S.derived_setting(1008, 1024)
    assert small["hidden"] == (1000,) * 3 and small["train_samples"] is None and small["repetitions"] is None
    assert S.derived_setting(124, 13)["batch_size"] == 16


def test_default_settings_use_ten_repetitions_on_small_sets_and_room_for_the_plateau_check():
    p = S.Parameters.resolve()
    settings = {s.name: s for s in S.resolve_settings(p)}
    assert "mnist" in settings and "fashion_mnist" in settings
    for s in settings.values():
        assert s.hidden == (1000, 1000, 1000)
        if s.name in ("mnist", "fashion_mnist"):
            assert s.train_samples >= 10_000
        else:
            assert s.repetitions >= 10
        for epochs in (s.epochs, s.static_epochs):
            assert S.full_rate_epochs(p.lr_schedule, epochs) >= 2 * p.plateau_window
    assert 20 in p.epsilons and len(p.densities) + len(p.epsilons) >= 3
    assert p.references == (S.DENSE,)  # no dropout arm by default


def test_derived_repetitions_are_capped_by_the_seeds_and_given_ones_must_fit(tmp_path):
    p = _params(tmp_path, datasets=["digits", "mnist"], settings={"digits": TINY})
    assert [s.repetitions for s in S.resolve_settings(p)] == [2, 2]
    with pytest.raises(ValueError, match=r"parameter settings\['digits'\].repetitions \(3\) exceeds the 2 seeds"):
        S.resolve_settings(_params(tmp_path, settings={"digits": {**TINY, "repetitions": 3}}))


@pytest.mark.parametrize("changes, error, message", [
    (dict(settings={"digits": {**TINY, "momentum": 0.5}}), ValueError, r"settings\['digits'\]: unknown keys \['momentum'\]"),
    (dict(settings={"digits": {**TINY, "repetitions": 1}}), ValueError, r"settings\['digits'\].repetitions must be >= 2"),
    (dict(settings={"digitz": TINY}), ValueError, "parameter settings key 'digitz': no dataset 'digitz'"),
    (dict(calibration_seeds=[100, 101, 102]), ValueError,
     r"parameter calibration_seeds must hold as many seeds as seeds \(2\)"),
    (dict(calibration_seeds=[1, 100]), ValueError, "parameter calibration_seeds must differ from seeds"),
    (dict(seeds=[0], calibration_seeds=[100]), ValueError, "parameter seeds needs at least 2 entries"),
    (dict(lr_schedule="cosine"), ValueError, r"parameter lr_schedule must be one of \['step', 'constant'\]"),
    (dict(densities=[], epsilons=[]), ValueError, "parameters densities and epsilons are both empty"),
    (dict(epsilons=[20, -1]), ValueError, r"parameter epsilons\[1\] must be > 0"),
    (dict(dropout=1.5), ValueError, "parameter dropout must be <= 0.95"),
    (dict(plateau_threshold=0), ValueError, "parameter plateau_threshold must be > 0"),
    (dict(margin_multiple_why=""), TypeError, "parameter margin_multiple_why must be a non-empty string"),
])
def test_bad_parameters_are_refused_in_one_line_naming_the_parameter(tmp_path, changes, error, message):
    with pytest.raises(error, match=message) as info:
        _params(tmp_path, **changes)
    assert "\n" not in str(info.value)


def test_epochs_without_two_plateau_windows_at_the_full_rate_are_refused(tmp_path):
    p = _params(tmp_path, settings={"digits": {**TINY, "static_epochs": 6}})  # step: 3 full-rate epochs < 2 x 2
    with pytest.raises(ValueError, match=r"parameter settings\['digits'\].static_epochs: 6 epochs leave 3 at the "
                                         r"full rate .* fewer than 2 x plateau_window \(4\)"):
        S.resolve_settings(p)


def test_dataset_outside_datasets_runs_alone_and_an_unknown_one_is_refused(tmp_path):
    p = _params(tmp_path)
    assert (p.alone, p.study_datasets, p.detail_dataset) == (False, ("digits",), "digits")
    alone = S.Parameters.resolve(dataset="Prostate_GE")
    assert alone.alone and alone.study_datasets == ("Prostate_GE",) and alone.override("Prostate_GE") == {}
    assert S.Parameters.resolve(datasets=["mnist"], dataset="madelon").override("MADELON") == {"batch_size": 64}
    assert S.Parameters.resolve(dataset="MNIST").detail_dataset == "mnist"  # names match case-insensitively
    with pytest.raises(ValueError, match=r"parameter dataset: no dataset 'no_such_data'.*register_arrays"):
        S.Parameters.resolve(dataset="no_such_data")
    with pytest.raises(ValueError, match=r"parameter datasets\[1\]: no dataset"):
        S.Parameters.resolve(datasets=["mnist", "no_such_data"])


def test_full_rate_epochs_follow_the_schedule_the_runs_train_with():
    assert S.full_rate_epochs("step", 30) == 15 and S.full_rate_epochs("step", 25) == 13
    assert S.full_rate_epochs("constant", 7) == 7
    with pytest.raises(ValueError, match="schedule must be one of"):
        S.full_rate_epochs("cosine", 30)


# --------------------------------------------------------------------------- the run grid


SETTING = S.DatasetSetting("digits", (8, 8), 10, 14, 128, 0.05, 500, 3)


def test_repetitions_vary_seed_and_split_together_in_every_arm():
    configs = S.arm_configs(SETTING, [0.3, 0.1], [2.0], [5, 6, 7, 8], lr_schedule="step", dropout=None,
                            backend="sparse")
    assert [S.arm_of(c) for c in configs] == (["dense"] * 3 + ["static 30%"] * 3 + ["static 10%"] * 3
                                              + ["static ε=2"] * 3)
    assert [c.seed for c in configs] == [5, 6, 7] * 4  # the first `repetitions` seeds
    assert all(c.data_seed == c.seed for c in configs)  # the split changes with the repetition
    assert len({c.data_seed for c in configs if S.arm_of(c) == "dense"}) == 3
    assert all(c.epochs == 10 for c in configs[:3]) and all(c.epochs == 14 for c in configs[3:])
    assert all((c.lr, c.lr_schedule, c.hidden, c.train_samples) == (0.05, "step", (8, 8), 500) for c in configs)
    assert all(c.backend == "sparse" for c in configs[3:]) and configs[-1].epsilon == 2.0
    assert len({store.run_directory(c) for c in configs}) == len(configs)
    with_dropout = S.arm_configs(SETTING, [0.1], [], [5, 6, 7], lr_schedule="step", dropout=0.2, backend="sparse")
    assert [S.arm_of(c) for c in with_dropout][3:6] == ["dense + dropout"] * 3
    with pytest.raises(ValueError, match="densities"):
        S.arm_configs(SETTING, [1.0], [], [0, 1], lr_schedule="step", dropout=None, backend="sparse")


def test_calibration_runs_are_dense_at_the_same_n_with_their_own_seeds_and_splits(tmp_path):
    p = _params(tmp_path, seeds=[0, 1, 2], calibration_seeds=[100, 101, 102],
                settings={"digits": {**TINY, "repetitions": 2}})
    (setting,) = S.resolve_settings(p)
    configs = S.calibration_configs(p, [setting])
    assert [(S.arm_of(c), c.seed, c.data_seed) for c in configs] == [("dense", 100, 100), ("dense", 101, 101)]
    assert len(configs) == setting.repetitions


def test_hidden_density_of_the_erdos_renyi_arm_follows_its_rule():
    widths = [784, 1000, 1000, 1000, 10]
    expected = (round(20 * 1784) + 2 * round(20 * 2000)) / (784_000 + 2 * 1_000_000)
    assert S.hidden_density(widths, epsilon=20) == pytest.approx(expected)
    assert S.hidden_density(widths, density=0.01) == pytest.approx(0.01, rel=1e-3)
    assert S.hidden_density(widths) == 1.0


# --------------------------------------------------------------------------- margin, plateau, multiplicity


def test_the_margin_is_calibrated_at_the_number_of_repetitions_compared():
    calibration = [0.90, 0.91, 0.92]
    m = S.dataset_margin("x", calibration, 3, 3.0, n_test=10_000)
    assert m.value == pytest.approx(3.0 * np.std(calibration, ddof=1) * math.sqrt(2 / 3))
    assert "two means of 3 runs" in m.justification
    with pytest.raises(ValueError, match="calibration at the same n: 2 calibration runs for 3 repetitions"):
        S.dataset_margin("x", calibration[:2], 3, 3.0, n_test=10_000)
    floored = S.dataset_margin("x", [0.9, 0.9], 2, 3.0, n_test=400)
    assert floored.value == pytest.approx(3.0 / 400) and "one test sample in 400" in floored.justification


def _curves(arm_curves):
    rows = []
    for (dataset, arm), runs in arm_curves.items():
        for seed, curve in enumerate(runs):
            rows += [{"dataset": dataset, "arm": arm, "seed": seed, "epoch": e + 1, "test_acc": a}
                     for e, a in enumerate(curve)]
    return pd.DataFrame(rows)


def test_an_arm_still_climbing_at_its_first_decay_has_not_plateaued_though_its_end_is_flat():
    climbing = list(np.linspace(0.5, 0.9, 10)) + [0.9] * 10  # the decay after epoch 10 flattens it
    settled = [0.5, 0.7, 0.8, 0.85, 0.88, 0.9, 0.9, 0.9, 0.9, 0.9] + [0.91] * 10
    curves = _curves({("a", "dense"): [settled, settled], ("a", "static 1%"): [climbing, settled]})
    full = {("a", "dense"): 10, ("a", "static 1%"): 10}
    per_run, arms = S.plateau_table(curves, full, window=2, threshold=0.01)
    by_arm = arms.set_index("arm")
    assert bool(by_arm.loc["dense", "plateaued"]) and not bool(by_arm.loc["static 1%", "plateaued"])
    assert by_arm.loc["static 1%", "runs_plateaued"] == 1 and by_arm.loc["static 1%", "full_rate"] == 10
    assert list(per_run["plateaued"]) == [True, True, False, True]


DENSE = [0.900, 0.902, 0.898, 0.901, 0.899]
MARGIN = V.Margin(0.01, "synthetic")


def _shift(values, delta):
    return [v + delta for v in values]


def test_both_claims_are_read_off_one_interval():
    v = S.compare(_shift(DENSE, -0.001), DENSE, margin=MARGIN, confidence=0.95, plateaued=True)
    match, beat = v[S.CLAIM_MATCH], v[S.CLAIM_BEAT]
    assert (match.low, match.high) == (beat.low, beat.high)
    assert match.verdict == V.HOLDS and match.rule == "non-inferiority"
    assert beat.verdict == V.DOES_NOT_HOLD or beat.verdict == V.INCONCLUSIVE
    worse = S.compare(_shift(DENSE, -0.05), DENSE, margin=MARGIN, confidence=0.95, plateaued=True)
    assert worse[S.CLAIM_MATCH].verdict == V.DOES_NOT_HOLD and worse[S.CLAIM_BEAT].verdict == V.DOES_NOT_HOLD
    better = S.compare(_shift(DENSE, 0.02), DENSE, margin=MARGIN, confidence=0.95, plateaued=True)
    assert better[S.CLAIM_BEAT].verdict == V.HOLDS and better[S.CLAIM_BEAT].margin == 0


def test_non_inferiority_is_inconclusive_when_the_interval_spans_the_margin():
    noisy = [0.86, 0.91, 0.88, 0.92, 0.88]
    v = S.compare(noisy, DENSE, margin=MARGIN, confidence=0.95, plateaued=True)[S.CLAIM_MATCH]
    assert v.low < -0.01 < v.high and v.verdict == V.INCONCLUSIVE


def test_an_arm_that_did_not_plateau_caps_decided_verdicts_at_inconclusive():
    v = S.compare(_shift(DENSE, -0.05), DENSE, margin=MARGIN, confidence=0.95, plateaued=False)
    assert all(x.verdict == V.INCONCLUSIVE and "did not plateau" in x.note for x in v.values())


def _v(word, low, high):
    return V.Verdict(word, "non-inferiority", (low + high) / 2, low, high, 0.01, "synthetic")


def test_aggregate_holds_when_some_arm_holds_and_fails_only_when_every_arm_fails():
    assert S.aggregate([_v(V.DOES_NOT_HOLD, -0.1, -0.05), _v(V.HOLDS, -0.005, 0.01), _v(V.HOLDS, 0.0, 0.02)])[0] == 2
    i, v = S.aggregate([_v(V.DOES_NOT_HOLD, -0.1, -0.05), _v(V.DOES_NOT_HOLD, -0.04, -0.02)])
    assert (i, v.verdict) == (1, V.DOES_NOT_HOLD)
    i, v = S.aggregate([_v(V.DOES_NOT_HOLD, -0.1, -0.05), _v(V.INCONCLUSIVE, -0.03, 0.01)])
    assert (i, v.verdict) == (1, V.INCONCLUSIVE)


def _synthetic_runs():
    rows = []
    rng = np.random.default_rng(0)
    for dataset in ("a", "b"):
        for arm, density, mean in (("dense", 1.0, 0.90), ("static 1%", 0.01, 0.80), ("static ε=20", 0.04, 0.90)):
            for seed in range(5):
                rows.append({"dataset": dataset, "arm": arm, "method": "dense" if arm == "dense" else "static",
                             "hidden_density": density, "seed": seed, "acc": mean + rng.normal(0, 0.002)})
    return pd.DataFrame(rows)


def test_comparisons_use_welch_intervals_at_the_bonferroni_level_over_datasets_and_arms():
    runs = _synthetic_runs()
    plateau = runs[["dataset", "arm"]].drop_duplicates().assign(plateaued=True)
    level = S.interval_level(0.95, 2, 2)
    assert level == pytest.approx(1 - 0.05 / 4)
    margins = {"a": V.Margin(0.01, "synthetic"), "b": V.Margin(0.01, "synthetic")}
    table = S.comparisons(runs, margins, plateau, level=level)
    assert len(table) == 2 * 2 * 2  # datasets x static arms x claims, one reference
    assert list(table["arm"].iloc[:4]) == ["static 1%"] * 2 + ["static ε=20"] * 2  # by hidden density
    a = runs[runs["dataset"] == "a"]
    row = table[(table["dataset"] == "a") & (table["arm"] == "static ε=20") & (table["claim"] == S.CLAIM_MATCH)]
    ci = V.difference_ci(a[a["arm"] == "static ε=20"]["acc"], a[a["arm"] == "dense"]["acc"], 1 - 0.05 / 4)
    assert (row["low"].item(), row["high"].item()) == pytest.approx(ci.ci)
    assert row["interval_confidence"].item() == pytest.approx(0.9875)
    verdicts = S.dataset_verdicts(table).set_index(["dataset", "claim"])
    assert verdicts.loc[("a", S.CLAIM_MATCH), "verdict"] == V.HOLDS
    assert verdicts.loc[("a", S.CLAIM_MATCH), "deciding_arm"] == "static ε=20"
    flat = plateau.assign(plateaued=lambda f: ~((f["dataset"] == "a") & (f["arm"] == "static ε=20")))
    capped = S.dataset_verdicts(S.comparisons(runs, margins, flat, level=level)).set_index(["dataset", "claim"])
    assert capped.loc[("a", S.CLAIM_MATCH), "verdict"] == V.INCONCLUSIVE


# --------------------------------------------------------------------------- real runs (tiny, on digits)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    """A tiny study on digits: two repetitions, two calibration runs, two static arms."""
    return S.run(_params(tmp_path_factory.mktemp("nb02")))


def test_runs_read_the_last_five_epochs_and_check_the_plateau_before_the_decay(tiny_result):
    r = tiny_result
    assert len(r.runs) == len(r.configs) == 3 * 2  # dense and two static arms, two repetitions each
    for config, row in zip(r.configs, r.runs.itertuples()):
        curve = [rec["test_acc"] for rec in store.load_run(store.run_directory(config, r.params.runs_root)).records]
        assert len(curve) == (10 if config.method == "dense" else 12)
        assert row.acc == pytest.approx(np.mean(curve[-5:]))
        full = S.full_rate_epochs("step", len(curve))
        check = V.plateau_before(curve, full, k=2, threshold=r.params.plateau_threshold)
        assert row.converged == check.converged and row.moved == pytest.approx(check.moved)
    assert list(r.arms["arm"]) == ["dense", "static ε=2", "static 50%"]  # by hidden density: 31% and 50%
    assert set(r.plateau["arm"]) == {"dense", "static 50%", "static ε=2"}
    assert sorted(c.data_seed for c in r.configs) == [0, 0, 0, 1, 1, 1]


def test_the_margin_comes_from_calibration_runs_at_the_same_n(tiny_result):
    r = tiny_result
    assert list(r.calibration["seed"]) == [100, 101]
    n = r.settings[0].repetitions
    sd = max(float(r.calibration["acc"].std(ddof=1)), 1 / 450)
    assert r.margins["digits"].value == pytest.approx(3.0 * sd * math.sqrt(2 / n))
    assert r.level == pytest.approx(1 - 0.05 / 2)  # one dataset x two static arms


def test_findings_record_the_plateau_check_verdicts_and_headlines(tiny_result):
    findings = S.claims(tiny_result)
    by_name = {c.claim: c for c in findings.claims}
    plateau = by_name[S.PLATEAU_CLAIM]
    assert plateau.holds == bool(tiny_result.plateau["plateaued"].all())  # a check that can fail
    match = by_name["digits: some static density matches or beats dense"]
    assert match.verdict in (V.HOLDS, V.DOES_NOT_HOLD, V.INCONCLUSIVE)
    assert match.rule["rule"] == "non-inferiority" and match.rule["margin"] == pytest.approx(
        tiny_result.margins["digits"].value)
    beat = by_name["digits: some static density beats dense"]
    assert beat.rule["rule"] == "superiority" and beat.rule["margin"] == 0
    assert "Bonferroni over 1 datasets x 2 static arms" in match.detail
    assert by_name["Dense training accuracy on digits (mean of the last 5 epochs)"].holds is None
    assert isinstance(findings, Findings)
    assert [h["paper_claim"] for h in findings.headlines] == ["Static sparse matches or beats dense",
                                                              "Static sparse beats dense"]
    assert "2×8 hidden on digits" in findings.headlines[0]["setting"]


def test_templates_render_with_the_context_of_a_tiny_run(tiny_result):
    findings = S.claims(tiny_result)
    context = S.context(tiny_result, findings)
    assert template_names("02_sparse_vs_dense") == ["discussion", "rules", "runs"]
    text = {name: render("02_sparse_vs_dense", name, **context) for name in template_names("02_sparse_vs_dense")}
    assert text["rules"].startswith("## The rule, fixed before the numbers")
    assert "**Bonferroni** correction over the 1 dataset × 2 static arms" in text["rules"]
    assert "plateaued before their first decay" in text["discussion"]
    assert text["discussion"].startswith("## Discussion and limitations") and "digits" in text["discussion"]
    paragraphs = [p for p in text["discussion"].split("\n\n") if p.strip()]
    assert len(paragraphs) == len(set(paragraphs))  # no paragraph twice
    assert sum(p.startswith("**Budgets.**") for p in paragraphs) == 1
    for name, body in text.items():
        assert "{{" not in body and "{%" not in body and not any("  " in line.strip() for line in body.splitlines()), name
        assert not re.search(r"[.)]\* \*\*", body), f"{name}: two bullets run together"


def test_notebook_tables_have_one_row_per_dataset_or_arm(tiny_result):
    assert list(S.verdict_summary(tiny_result).columns) == ["dataset", "static matches or beats dense",
                                                            "static beats dense"]
    assert S.settings_table(tiny_result)["repetitions"].tolist() == [2]
    assert len(S.arm_report(tiny_result)) == len(S.plateau_report(tiny_result)) == 3


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
    # the default-profile command is checked, not executed
    assert [c for c in commands if "smoke" not in c] == [["--dataset", "wine", "02_sparse_vs_dense"]]
    assert runner.notebook_overrides("02_sparse_vs_dense", "default", {"dataset": "wine"}) == {"dataset": "wine"}

    findings = json.loads((tmp_path / "checkout" / "runs" / "figures" / "smoke" / "02_sparse_vs_dense" /
                           "findings.json").read_text())
    assert findings["parameters"]["dataset"] == "wine"
    assert [c["claim"] for c in findings["claims"] if c.get("verdict")][0] == (
        "wine: some static density matches or beats dense")
    (row,) = findings["data"]["datasets"]["records"]
    assert row["repetitions"] == 2 and row["widths"] == "13-1000-1000-1000-3"
    executed = nbformat.read(tmp_path / "checkout" / "runs" / "executed" / "smoke" / "02_sparse_vs_dense.ipynb", 4)
    markdown = "".join(o["data"].get("text/markdown", "") for c in executed.cells if c.cell_type == "code"
                       for o in c.get("outputs", []) if "data" in o)
    assert "The study runs on **wine** alone" in markdown
