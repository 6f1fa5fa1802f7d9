"""The study runner follows papermill's conventions, refuses bad parameters in one line, and never overwrites a
notebook or its figures with a failed execution."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from sparsetopo.study import runner
from sparsetopo.study.runner import (
    NotebookFailedError,
    StudyError,
    _split_params,
    execute_notebook,
    main,
    notebook_overrides,
    output_folder,
)

ROOT = Path(__file__).resolve().parents[2]


def test_param_accepts_papermills_name_value_and_name_equals_value():
    rest, pairs = _split_params(["-p", "seeds", "[0, 1]", "03_evolution", "--param", "lr=0.1", "-p", "n_jobs", "1"])
    assert rest == ["03_evolution"]
    assert pairs == [("seeds", "[0, 1]"), ("lr", "0.1"), ("n_jobs", "1")]
    with pytest.raises(StudyError, match="needs a value"):
        _split_params(["-p", "seeds"])


def test_overrides_are_checked_against_the_notebook_before_any_kernel_starts():
    assert notebook_overrides("05_any_model", "smoke", {"seeds": [4, 5, 6]})["seeds"] == [4, 5, 6]
    with pytest.raises(StudyError, match=r"^05_any_model: unknown parameter sedes .*known: .*seeds"):
        notebook_overrides("05_any_model", "default", {"sedes": [1]})
    with pytest.raises(StudyError, match=r"parameter seeds must be a list, got 'twenty'"):
        notebook_overrides("05_any_model", "default", {"seeds": "twenty"})


@pytest.mark.parametrize("argv, message", [
    (["-p", "seeds", "twenty", "05_any_model"], "parameter seeds must be a list, got 'twenty'"),
    (["-p", "colour=red", "05_any_model"], "unknown parameter colour"),
    (["no_such_notebook"], "no notebook 'no_such_notebook'"),
    (["--profile", "fast", "05_any_model"], "profiles available: default, paper, smoke"),
    (["-f", "/nonexistent/params.yaml", "05_any_model"], "-f /nonexistent/params.yaml: cannot read it"),
])
def test_a_users_mistake_is_one_line_and_exit_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


def test_parameters_file_is_read_and_checked(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("seeds: [0, 1]\n")  # too few seeds for notebook 05: refused before execution
    assert main(["-f", str(path), "05_any_model"]) == 2
    assert "seeds needs at least 3 entries" in capsys.readouterr().err
    path.write_text("- a list\n")
    assert main(["-f", str(path), "05_any_model"]) == 2
    assert "must map parameter names to values" in capsys.readouterr().err


def test_missing_study_extra_names_the_install_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert main(["05_any_model"]) == 2
    assert "pip install 'sparsetopo[study]'" in capsys.readouterr().err


@pytest.mark.notebook
def test_failed_execution_leaves_the_notebook_and_its_figures_untouched(tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns("0[1-4]_*.ipynb"))
    figures = tmp_path / "figures" / "05_any_model"
    figures.mkdir(parents=True)
    (figures / "mine.png").write_bytes(b"a figure of mine")
    before = (notebooks / "05_any_model.ipynb").read_bytes()
    with pytest.raises(NotebookFailedError, match=r"05_any_model failed in cell .*unchanged; the failed execution is kept at"):
        execute_notebook("05_any_model", "default", overrides={"dataset": "no_such_dataset", "verbosity": "warning"},
                         notebooks_dir=notebooks, runs_root="../runs", progress=False)
    assert (notebooks / "05_any_model.ipynb").read_bytes() == before
    assert sorted(p.name for p in figures.iterdir()) == ["mine.png"]
    assert (figures / "mine.png").read_bytes() == b"a figure of mine"
    assert (tmp_path / "runs" / "failed" / "05_any_model.ipynb").exists()


def test_notebooks_are_found_in_the_checkout_or_the_error_says_where():
    assert runner._notebooks_dir() == ROOT / "notebooks"


def test_a_variant_of_the_default_profile_never_replaces_the_committed_study():
    assert output_folder("default", {}) is None
    assert output_folder("default", {"verbosity": "warning", "n_jobs": 1}) is None
    assert output_folder("default", {"dataset": "wine"}) == "custom"
    assert output_folder("default", {"seeds": [0, 1, 2]}) == "custom"
    assert output_folder("smoke", {"dataset": "wine"}) == "smoke"
