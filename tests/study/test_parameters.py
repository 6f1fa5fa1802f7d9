"""Notebook parameters: one source (the typed parameters cell; profiles override; the dataclass checks), validated
before any work."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import nbformat
import pytest

import sparsetopo
from sparsetopo.parallel import show_progress
from sparsetopo.study import (
    any_model,
    lottery_tickets,
    methods_topology,
    nnstd_behaviour,
    set_trajectories,
    sparse_vs_dense,
)
from sparsetopo.study.params import read_parameters_cell
from sparsetopo.study.runner import NOTEBOOKS, StudyError, profile_parameters

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"
MODULES = {
    "01_nnstd": nnstd_behaviour,
    "02_sparse_vs_dense": sparse_vs_dense,
    "03_evolution": set_trajectories,
    "04_lottery_tickets": lottery_tickets,
    "05_any_model": any_model,
    "06_methods": methods_topology,
}
PROFILES = sorted(p.name for p in (NB_DIR / "params").iterdir() if p.is_dir())


def cell_parameters(name: str) -> dict:
    """The values the notebook's ``parameters`` cell assigns (executed, as papermill would)."""
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    namespace: dict = {}
    exec(cell.source, {}, namespace)
    return {k: v for k, v in namespace.items() if k != "__annotations__"}


def test_every_notebook_has_a_study_module():
    assert set(MODULES) == set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_is_the_one_source_of_defaults(name):
    specs = read_parameters_cell(name)
    assert {k: v.default for k, v in specs.items()} == cell_parameters(name)
    assert MODULES[name].Parameters.defaults() == cell_parameters(name)
    assert not (NB_DIR / "params" / "default").exists(), "the default profile is the parameters cell itself"
    import dataclasses as dc

    assert all(f.default is dc.MISSING and f.default_factory is dc.MISSING
               for f in dc.fields(MODULES[name].Parameters)), "values belong in the parameters cell, not the dataclass"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_papermill_lists_every_parameter_with_type_and_meaning(name):
    from papermill.inspection import (
        _infer_parameters,
        display_notebook_help,  # noqa: F401  (papermill's own reader below)
    )

    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    inferred = {p.name: p for p in _infer_parameters(nb)}
    assert list(inferred) == list(cell_parameters(name)), "papermill could not parse some parameter lines"
    for p in inferred.values():
        assert p.inferred_type_name != "None" and p.help, f"{name}.{p.name} lacks a type or a meaning"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_dataclass_fields_are_the_parameters_cell(name):
    fields = MODULES[name].Parameters.field_names()
    assert sorted(fields) == sorted(cell_parameters(name))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_profile_overrides_only_what_it_changes_and_names_itself(name, profile):
    values = profile_parameters(name, profile)
    assert values.get("profile") == profile, f"params/{profile}/{name}.yaml must set profile: {profile}"
    cell = cell_parameters(name)
    same = sorted(k for k, v in values.items() if k != "profile" and cell.get(k) == v)
    assert not same, f"params/{profile}/{name}.yaml repeats the default of {same}: a value lives in one place"
    params = MODULES[name].Parameters.resolve(values)
    assert params.profile == profile
    recorded = params.as_dict()
    for key, value in values.items():
        assert recorded[key] == value, key


def test_resolve_refuses_an_unknown_parameter_and_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown parameter seedz for 02_sparse_vs_dense; known: .*seeds"):
        sparse_vs_dense.Parameters.resolve({"seedz": [1, 2]})


def test_parameters_cell_lines_need_type_literal_and_meaning(tmp_path):
    def notebook(source):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
        path = tmp_path / "x.ipynb"
        nbformat.write(nb, path)
        return path

    assert read_parameters_cell(notebook('a: int = 1  # one thing'))["a"].type == "int"
    assert read_parameters_cell(notebook('a: "Optional[int]" = None  # maybe')) ["a"].type == "Optional[int]"
    for bad, message in [("a = 1  # untyped", "name: type = value"), ("a: int = 1", "needs a comment"),
                         ("a: int = 1  # x = y", "without '='"), ("a: int = f()  # call", "literal"),
                         ("a: list = [1,\n 2]  # two lines", "spans several lines")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            read_parameters_cell(notebook(bad))


@pytest.mark.parametrize(
    "module, field, value, error, message",
    [
        (sparse_vs_dense, "confidence", 2.5, ValueError, "confidence must be <= 0.999, got 2.5"),
        (sparse_vs_dense, "confidence", True, TypeError, "confidence must be a number, got True"),
        (sparse_vs_dense, "densities", [0.1, 1.5], ValueError, "densities[1] must be <= 0.999, got 1.5"),
        (sparse_vs_dense, "densities", "0.1", TypeError, "densities must be a list, got '0.1'"),
        (sparse_vs_dense, "seeds", [0, 0], ValueError, "seeds has repeated entries: [0, 0]"),
        (sparse_vs_dense, "densities", [0.1, -2], ValueError, "densities[1] must be > 0, got -2"),
        (sparse_vs_dense, "dropout", "0.2", TypeError, "dropout must be a number, got '0.2'"),
        (nnstd_behaviour, "chain_fraction", 0.0, ValueError, "chain_fraction must be > 0, got 0.0"),
        (nnstd_behaviour, "sweep_fractions", [0.0, 0.5, 1.5], ValueError, "sweep_fractions[2] must be <= 1, got 1.5"),
        (nnstd_behaviour, "published_epochs", [0, 7], ValueError, "published_epochs[1] must be a published epoch"),
        (nnstd_behaviour, "use_published", 1, TypeError, "use_published must be true or false, got 1"),
        (nnstd_behaviour, "agreement_tolerance", "1e-6", TypeError, "agreement_tolerance must be a number, got '1e-6'"),
        (set_trajectories, "snapshot_epochs", [0, 5, 3], ValueError, "snapshot_epochs must be strictly increasing, got [0, 5, 3]"),
        (set_trajectories, "snapshot_epochs", [0, 5, 999], ValueError, "snapshot_epochs[2] must be <= 200, got 999"),
        (set_trajectories, "chain_runs", 2, ValueError, "chain_runs must be >= 3, got 2"),
        (lottery_tickets, "target_density", 1.5, ValueError, "target_density must be <= 1, got 1.5"),
        (lottery_tickets, "set_multiples", [1, 0.5], ValueError, "set_multiples[1] must be >= 1, got 0.5"),
        (lottery_tickets, "set_multiples", [3], ValueError, "set_multiples must hold 1 (SET at the ticket's epochs)"),
        (lottery_tickets, "seeds", [0, 1], ValueError, "seeds needs at least 3 seeds"),
        (lottery_tickets, "lr_schedule", "cosine", ValueError, "lr_schedule 'cosine' leaves 1 epoch(s) of 40 at the full rate"),
        (lottery_tickets, "accuracy_margin_why", " ", ValueError, "accuracy_margin_why must say why"),
        (lottery_tickets, "topology_margin", 0, ValueError, "topology_margin must be > 0, got 0"),
        (lottery_tickets, "set_recipe", "sgd", ValueError, "set_recipe must be one of"),
        (lottery_tickets, "published_runs", 11, ValueError, "published_runs must be <= 10, got 11"),
        (lottery_tickets, "target_density", 0.6, ValueError, "target_density (0.6) must lie below 1 - prune_fraction"),
        (lottery_tickets, "n_jobs", 0, ValueError, "n_jobs must be a positive int or -1 (all cores), got 0"),
        (lottery_tickets, "verbosity", "loud", ValueError, "verbosity must be one of"),
        (any_model, "amounts", [0.8, 0.5], ValueError, "amounts must be strictly increasing, got [0.8, 0.5]"),
        (any_model, "amounts", [0.5, 1.0], ValueError, "amounts[1] must be < 1"),
        (any_model, "amounts", [0.2, 0.5, 0.8], ValueError, "amounts must hold exactly two entries"),
        (any_model, "seeds", [1, 2, 1], ValueError, "seeds has repeated entries: [1, 2, 1]"),
        (any_model, "seeds", [0, 1], ValueError, "seeds needs at least 3 entries, got [0, 1]"),
        (any_model, "channels", [4], ValueError, "channels needs at least 2 entries, got [4]"),
        (any_model, "channels", [4, 0], ValueError, "channels[1] must be >= 1, got 0"),
        (any_model, "finetune_epochs", -1, ValueError, "finetune_epochs must be >= 0, got -1"),
        (any_model, "baseline_pairs", 1, ValueError, "baseline_pairs must be >= 2, got 1"),
    ],
)
def test_bad_parameter_is_refused_with_its_name_and_value(module, field, value, error, message):
    with pytest.raises(error, match=re.escape(f"parameter {message}")):
        module.Parameters.resolve({field: value})


def test_parameters_are_frozen_and_lists_become_tuples():
    p = sparse_vs_dense.Parameters.resolve({"seeds": [3, 4], "calibration_seeds": [100, 101]})
    assert p.seeds == (3, 4)
    assert p.as_dict()["seeds"] == [3, 4]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.dropout = 0.3


def test_from_namespace_takes_fields_by_name_and_names_the_missing():
    cell = cell_parameters("02_sparse_vs_dense")
    params = sparse_vs_dense.Parameters.from_namespace({**cell, "unrelated": 1, "dropout": 0.3})
    assert params.dropout == 0.3
    del cell["margin_multiple"]
    with pytest.raises(ValueError, match="margin_multiple"):
        sparse_vs_dense.Parameters.from_namespace(cell)
    with pytest.raises(ValueError, match="unknown parameters.*colour"):
        sparse_vs_dense.Parameters.from_mapping({**cell_parameters("02_sparse_vs_dense"), "colour": "red"})


def test_run_refuses_other_parameters():
    with pytest.raises(TypeError, match="Parameters"):
        sparse_vs_dense.run(lottery_tickets.Parameters.resolve())


def test_profile_yaml_naming_another_profile_is_refused(tmp_path):
    (tmp_path / "params" / "smoke").mkdir(parents=True)
    (tmp_path / "params" / "smoke" / "x.yaml").write_text("profile: default\nepochs: 2\n")
    with pytest.raises(StudyError, match="profile"):
        profile_parameters("x", "smoke", tmp_path)
    with pytest.raises(StudyError, match="smoke"):
        profile_parameters("x", "paper", tmp_path)


@pytest.fixture
def restore_verbosity():
    logger = logging.getLogger("sparsetopo")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_set_verbosity_decides_progress_bars(restore_verbosity):
    assert sparsetopo.set_verbosity("WARNING") == logging.WARNING
    assert not show_progress()
    assert sparsetopo.set_verbosity("info") == logging.INFO
    assert show_progress()
    assert not show_progress(False)  # an explicit choice still wins
    sparsetopo.set_verbosity(logging.ERROR)
    assert logging.getLogger("sparsetopo.study").getEffectiveLevel() == logging.ERROR


@pytest.mark.parametrize("level", ["loud", -1, True, 2.0])
def test_set_verbosity_refuses_unknown_levels(level, restore_verbosity):
    with pytest.raises(ValueError, match="level"):
        sparsetopo.set_verbosity(level)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_silences_only_named_warnings_and_computes_no_claims(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    blanket = re.findall(r"(?:filterwarnings|simplefilter)\(\s*[\"']ignore[\"']\s*\)", code)
    assert not blanket, f"{name} silences every warning; name the category or message"
    assert ".claim(" not in code, f"{name} records claims inline; they belong in {MODULES[name].__name__}.claims"
    assert f"{MODULES[name].__name__.rsplit('.', 1)[1]}.Parameters.from_namespace(globals())" in code


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_study_module_exposes_the_same_api(name):
    import importlib
    import inspect

    from sparsetopo.study.params import StudyParameters

    module = MODULES[name]
    assert issubclass(module.Parameters, StudyParameters)
    assert module.Parameters.__dataclass_params__.frozen

    figures = importlib.import_module(f"sparsetopo.study.figures.{module.__name__.rsplit('.', 1)[1]}")
    assert list(inspect.signature(figures.figures).parameters) == ["result"], f"{figures.__name__}.figures"
    api = {"run": ["params"], "claims": ["result"], "context": ["result", "findings"]}
    for fn, arguments in api.items():
        assert fn in module.__all__, f"{module.__name__}.__all__ lacks {fn}"
        assert list(inspect.signature(getattr(module, fn)).parameters) == arguments, f"{module.__name__}.{fn}"
    source = inspect.getsource(module)
    assert "def notes(" not in source and "def discussion(" not in source, f"{module.__name__} still writes prose"
    assert module.Parameters.resolve().figures_dir == f"../figures/{name}"


def test_scheduler_parameter_reaches_the_executor_and_none_leaves_the_setting_alone(monkeypatch):
    from sparsetopo.executor import resolve_scheduler, use_scheduler

    monkeypatch.delenv("SPARSETOPO_SCHEDULER", raising=False)
    cell = cell_parameters("02_sparse_vs_dense")
    with use_scheduler(None):
        sparse_vs_dense.Parameters.from_namespace({**cell, "verbosity": "warning"}).configure()
        assert resolve_scheduler() is None
        sparse_vs_dense.Parameters.from_namespace({**cell, "verbosity": "warning",
                                                  "scheduler": "tcp://127.0.0.1:8786"}).configure()
        assert resolve_scheduler() == "tcp://127.0.0.1:8786"
    with pytest.raises(TypeError, match="scheduler"):
        sparse_vs_dense.Parameters.from_namespace({**cell, "scheduler": 8786})
