"""The study module behind notebook 05: tiny CNNs, prune, read back, compare."""

from __future__ import annotations

import math

import pytest

from sparsetopo.study.any_model import AnyModelParams, claims, figures, run

TINY = {"channels": (2, 4), "hidden": 8, "dense_epochs": 1, "finetune_epochs": 1, "baseline_pairs": 2}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run(AnyModelParams(runs_root=str(tmp_path_factory.mktemp("runs")), **TINY))


def test_run_prunes_reads_back_and_compares_every_layer(result):
    assert len(result.networks) == 4
    assert set(result.networks["mask source"]) == {"weight_mask"}
    densities = result.networks.groupby("pruned")["density"].mean()
    assert densities[0.5] == pytest.approx(0.5, abs=0.02) and densities[0.8] == pytest.approx(0.2, abs=0.02)
    assert result.readback_mismatches == 0
    assert list(result.layers["layer"]) == ["conv1", "conv2", "fc1", "fc2"]
    for column in ("same parent", "different seeds", "random"):
        assert result.layers[column].between(0, 1).all()
    # nested masks cost at least 1 - 0.2/0.5 per neuron only on average; same parent sits near that floor
    assert result.means["nested floor"] == pytest.approx(0.6)


def test_claims_are_finite_and_figure_is_drawn(result):
    found = claims(result)
    assert {c["claim"] for c in found} >= {"state_dict files give the same topologies as the models"}
    assert all(math.isfinite(c["measured"]) for c in found)
    assert sum(c["claim"].startswith("Layer ") for c in found) == 4
    assert set(figures(result)) == {"nnstd_per_layer"}


def test_rerun_reads_the_cached_networks(result):
    again = run(result.params)
    assert again.layers.equals(result.layers)
    assert list(again.networks["test_acc"]) == list(result.networks["test_acc"])


@pytest.mark.parametrize("bad", [{"amounts": (0.8, 0.5)}, {"seeds": (1, 1)}, {"channels": (4,)}])
def test_params_are_validated(bad):
    with pytest.raises(ValueError):
        AnyModelParams(**bad)
