"""RunConfig and its groups: the same run either way, run ids as before, method options checked where given."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from helpers import require_real

from sparsetopo.store.config import RunConfig, run_id
from sparsetopo.training.config import (
    DataConfig,
    ModelConfig,
    OptimiserConfig,
    SparsityConfig,
    TrainingConfig,
    UpdaterConfig,
)
from sparsetopo.training.recipes import recipe_config
from sparsetopo.training.updaters.gmp import GmpOptions
from sparsetopo.training.updaters.rigl import RiglOptions
from sparsetopo.training.updaters.set import SetOptions

PINNED = json.loads((Path(__file__).parent / "fixtures" / "run_ids_baseline.json").read_text())
GRID = [entry for entry in PINNED if "fields" in entry]


@pytest.mark.parametrize("entry", GRID, ids=[e["run_id"] for e in GRID])
def test_run_ids_of_existing_configs_are_unchanged_and_survive_the_groups(entry):
    config = RunConfig.from_dict(entry["fields"])
    assert run_id(config) == entry["run_id"]
    again = config.groups().to_run_config()
    assert again == config and run_id(again) == entry["run_id"]


def test_recipes_keep_their_run_ids():
    require_real("FashionMNIST")
    for entry in (e for e in PINNED if "recipe" in e):
        config = recipe_config(entry["recipe"])
        assert run_id(config) == entry["run_id"] == run_id(config.groups().to_run_config())


def test_every_field_lands_in_exactly_one_group():
    groups = TrainingConfig.from_run_config(RunConfig())
    names = [f.name for g in ("data", "model", "sparsity", "optimiser", "records")
             for f in dataclasses.fields(getattr(groups, g))]
    names += ["seed", "method"] + list(dataclasses.asdict(groups.updater.options))
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(RunConfig) if f.name != "method_options")
    assert len(names) == len(set(names))


def test_groups_built_directly_give_the_flat_configs_run_id():
    groups = TrainingConfig(data=DataConfig(dataset="digits"), model=ModelConfig(hidden=(32, 16), backend="sparse"),
                            sparsity=SparsityConfig(density=0.1), updater=UpdaterConfig("set", SetOptions(zeta=0.2)),
                            optimiser=OptimiserConfig(lr=0.05, epochs=4), seed=3)
    flat = RunConfig(hidden=(32, 16), backend="sparse", density=0.1, zeta=0.2, lr=0.05, epochs=4, seed=3)
    assert groups.to_run_config() == flat and run_id(groups.to_run_config()) == run_id(flat)
    dense = TrainingConfig(sparsity=None, updater=UpdaterConfig("dense"))
    assert dense.to_run_config() == RunConfig(method="dense")
    with pytest.raises(ValueError, match="a dense run has no sparsity"):
        TrainingConfig(updater=UpdaterConfig("dense")).to_run_config()
    with pytest.raises(ValueError, match="method 'rigl' takes RiglOptions, got SetOptions"):
        TrainingConfig(updater=UpdaterConfig("rigl", SetOptions())).to_run_config()


def test_method_options_are_completed_so_equal_meaning_gives_equal_ids():
    given = RunConfig(method="rigl", method_options={"drop_fraction": 0.3})
    assert given == RunConfig(method="rigl") == RunConfig(method="rigl", method_options=dict(RiglOptions().__dict__))
    assert run_id(given) == run_id(RunConfig(method="rigl"))
    assert run_id(RunConfig(method="rigl", method_options={"drop_fraction": 0.5})) != run_id(given)
    assert given.options == RiglOptions()
    gmp = RunConfig(method="gmp", epochs=10)
    assert gmp.options == GmpOptions(prune_end_epoch=8) and gmp == RunConfig(method="gmp", epochs=10,
                                                                           method_options={"prune_end_epoch": 8})
    assert RunConfig(method="snip").method_options is None
    back = RunConfig.from_dict(json.loads(json.dumps(given.to_dict())))
    assert back == given and back.to_dict()["method_options"] == {"drop_fraction": 0.3, "update_every": 100,
                                                                  "update_end": 0.75, "update_output": False}


def test_method_options_that_do_not_apply_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="method 'rigl' has no option zeta; its options: drop_fraction"):
        RunConfig(method="rigl", method_options={"zeta": 0.3})
    with pytest.raises(ValueError, match="for method='set', but its options are the fields zeta"):
        RunConfig(method="set", method_options={"drop_fraction": 0.3})
    with pytest.raises(ValueError, match="zeta=0.2 only applies to method='set'"):
        RunConfig(method="rigl", zeta=0.2)
    with pytest.raises(ValueError, match="does not fit a run of 4 epochs"):
        RunConfig(method="gmp", epochs=4, method_options={"prune_end_epoch": 6})


def test_a_change_of_method_drops_the_old_methods_options():
    rigl = RunConfig(method="rigl", method_options={"drop_fraction": 0.5})
    assert rigl.replace(method="set").method_options is None
    assert rigl.replace(method="gmp").options == GmpOptions(prune_end_epoch=8)
