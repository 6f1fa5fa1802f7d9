"""The study module behind notebook 05: tiny CNNs, prune, read back, compare."""

from __future__ import annotations

import math

import pytest

from sparsetopo.study.any_model import NOTEBOOK, Parameters, claims, context, run
from sparsetopo.study.figures.any_model import figures

TINY = {"channels": (2, 4), "hidden": 8, "dense_epochs": 1, "finetune_epochs": 1, "baseline_pairs": 2,
        "seeds": (0, 1, 2), "n_boot": 200}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return run(Parameters.resolve(runs_root=str(runs), figures_dir=str(runs / "figures"), verbosity="warning", n_jobs=1,
                          **TINY))


def test_run_prunes_reads_back_and_compares_every_layer(result):
    assert len(result.networks) == 6
    assert result.matrix.shape == (4, 3, 3) and result.baseline_samples.shape == (2, 4)
    assert set(result.networks["mask source"]) == {"weight_mask"}
    densities = result.networks.groupby("pruned")["density"].mean()
    assert densities[0.5] == pytest.approx(0.5, abs=0.02) and densities[0.8] == pytest.approx(0.2, abs=0.02)
    assert result.readback_mismatches == 0
    assert list(result.layers["layer"]) == ["conv1", "conv2", "fc1", "fc2"]
    for column in ("same parent", "different seeds", "random"):
        assert result.layers[column].between(0, 1).all()
    # nested masks cost at least 1 - 0.2/0.5 per neuron only on average; same parent sits near that floor
    assert result.means["nested floor"] == pytest.approx(0.6)


def test_claims_are_verdicts_or_descriptions_and_figure_is_drawn(result):
    findings = claims(result)
    found = findings.claims
    assert all(math.isfinite(c.measured) for c in found)
    verdicts = [c for c in found if c.verdict is not None]
    # the network level, four layers and the same-parent comparison are decided by the superiority rule
    assert len(verdicts) == 6 and all(c.rule["rule"] == "superiority" for c in verdicts)
    assert all(c.verdict in ("holds", "does not hold", "inconclusive") for c in verdicts)
    assert all(c.rule["ci"][0] <= c.measured <= c.rule["ci"][1] for c in verdicts)
    descriptions = [c for c in found if c.verdict is None]
    assert descriptions and all(c.holds is None for c in descriptions)
    assert findings.parameters == result.params.as_dict()
    assert set(findings.data) == {"nnstd_per_layer", "means"}
    (headline,) = findings.headlines
    assert headline["claims"] == [verdicts[-1].claim, verdicts[0].claim] and "torch.nn.utils.prune" in headline["setting"]
    assert set(figures(result)) == {"nnstd_per_layer"}


def test_templates_render_with_the_context_of_a_tiny_run(result):
    from sparsetopo.study.prose import render, template_names

    findings = claims(result)
    ctx = context(result, findings)
    assert template_names(NOTEBOOK) == ["discussion", "rules", "runs", "verdicts"]
    text = {section: render(NOTEBOOK, section, **ctx) for section in template_names(NOTEBOOK)}
    assert f"{result.means['random']:.3f}" in text["discussion"] and "{{" not in "".join(text.values())
    assert all(f"`{name}`" in text["runs"] for name in result.networks["file"])
    assert f"{result.means['random_sd']:.4f}" in text["rules"]
    assert text["verdicts"].count("**") == 2 * len([c for c in findings.claims if c.verdict is not None])


def test_comparison_intervals_decide_by_the_stated_rule():
    import numpy as np

    from sparsetopo.study.any_model import comparison_intervals
    from sparsetopo.study.verdicts import Margin, superiority

    rng = np.random.default_rng(0)
    n = 5
    close = np.full((n, n), 0.50) + rng.normal(0, 0.005, (n, n))
    np.fill_diagonal(close, 0.20)
    far_random = 0.70 + rng.normal(0, 0.005, 16)
    ci = comparison_intervals(close, far_random, n_boot=500)
    estimate, low, high = ci["random - different"]
    assert low <= estimate <= high and estimate == pytest.approx(0.2, abs=0.01)
    margin = Margin(0.01, "test")
    assert superiority(estimate, (low, high), margin).verdict == "holds"
    assert superiority(*ci["different - same parent"][:1], ci["different - same parent"][1:], margin).verdict == "holds"
    # a chance level equal to the distances: the interval spans the margin, so no verdict either way
    same = close[~np.eye(n, dtype=bool)].mean() + rng.normal(0, 0.02, 16)
    estimate, low, high = comparison_intervals(close, same, n_boot=500)["random - different"]
    assert superiority(estimate, (low, high), margin).verdict == "inconclusive"
    # clearly farther than chance: does not hold
    estimate, low, high = comparison_intervals(close, np.full(16, 0.3), n_boot=500)["random - different"]
    assert superiority(estimate, (low, high), margin).verdict == "does not hold"
    with pytest.raises(ValueError, match="at least 3 networks"):
        comparison_intervals(close[:2, :2], far_random)


def test_files_are_the_saved_networks(result):
    from pathlib import Path

    assert len(result.files) == len(result.networks)
    assert all(Path(f).is_file() and f.startswith(result.params.runs_root) for f in result.files)


def test_cached_networks_are_keyed_by_what_trains_them(result):
    from dataclasses import replace

    names = set(result.networks["file"])
    # settings that do not touch training find the same cached files ...
    again = run(replace(result.params, baseline_pairs=3, verbosity="error"))
    assert set(again.networks["file"]) == names
    # ... a training setting trains other networks
    other = run(replace(result.params, lr=result.params.lr * 2, verbosity="error"))
    assert not set(other.networks["file"]) & names


def test_rerun_reads_the_cached_networks(result):
    again = run(result.params)
    assert again.layers.equals(result.layers)
    assert list(again.networks["test_acc"]) == list(result.networks["test_acc"])


@pytest.mark.parametrize("bad", [{"amounts": (0.8, 0.5)}, {"seeds": (1, 1, 2)}, {"seeds": (0, 1)}, {"channels": (4,)},
                                 {"closer_margin": -0.1}, {"n_boot": 10}])
def test_params_are_validated(bad):
    with pytest.raises(ValueError, match=f"parameter {next(iter(bad))}"):
        Parameters.resolve(**bad)


def test_run_refuses_other_parameters():
    from sparsetopo.study import sparse_vs_dense

    with pytest.raises(TypeError, match="any_model.Parameters"):
        run(sparse_vs_dense.Parameters.resolve())
