"""Every notebook runs with the smoke profile through papermill and saves sane findings.

Also checks the committed (default-profile) notebooks: outputs present, no
error outputs, no absolute paths of the machine that executed them.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import nbformat
import pytest

from sparsetopo.study import any_model, lottery_tickets, methods_topology, nnstd_behaviour, set_trajectories, sparse_vs_dense
from sparsetopo.study.runner import NOTEBOOKS, execute_notebook, profile_parameters

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"

pytestmark = pytest.mark.notebook
MODULES = {"01_nnstd": nnstd_behaviour, "02_sparse_vs_dense": sparse_vs_dense, "03_evolution": set_trajectories,
           "04_lottery_tickets": lottery_tickets, "05_any_model": any_model, "06_methods": methods_topology}


def _parameters_cells(nb) -> list:
    return [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_has_question_and_parameters_cell(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "?" in nb.cells[0].source, "first cell must state the question"
    cells = _parameters_cells(nb)
    assert len(cells) == 1, f"{name} needs exactly one cell tagged 'parameters' (papermill only warns without it)"
    for param in ("dataset", "figures_dir", "runs_root", "profile"):
        assert re.search(rf"^{param}\s*:", cells[0].source, re.M), f"parameters cell lacks {param}"


def _finite_numbers(obj, path="findings"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _finite_numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _finite_numbers(v, f"{path}[{i}]")
    elif isinstance(obj, float):
        yield path, obj


class _SmokeOutputs(dict):
    """Notebook name -> (executed notebook, findings, figures folder), each notebook executed with the smoke
    profile when a test first asks for it (``-k 06`` executes notebook 06 only), into one shared run store, with
    ``MPLBACKEND=Agg`` in the environment as CI sets it (the backend under which ``display(fig)`` stores no image)."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out

    def __missing__(self, name: str):
        backend = os.environ.get("MPLBACKEND")
        os.environ["MPLBACKEND"] = "Agg"
        try:
            executed = execute_notebook(
                name,
                "smoke",
                output_dir=self.out / "executed",
                figures_root=os.path.relpath(self.out / "figures", NB_DIR),
                runs_root=os.path.relpath(self.out / "runs", NB_DIR),
                progress=False,
            )
        finally:
            if backend is None:
                os.environ.pop("MPLBACKEND")
            else:
                os.environ["MPLBACKEND"] = backend
        findings = json.loads((self.out / "figures" / name / "findings.json").read_text())
        self[name] = (executed, findings, self.out / "figures" / name)
        return self[name]


@pytest.fixture(scope="module")
def smoke_outputs(tmp_path_factory):
    """Every notebook executed once with the smoke profile, on demand (see :class:`_SmokeOutputs`)."""
    return _SmokeOutputs(tmp_path_factory.mktemp("smoke"))


PROGRESS = re.compile(r"\d+%\|| \d+/\d+ \[|it/s\]|s/it\]")


def assert_readable(nb, name: str, max_stderr: int) -> None:
    """Every figure a cell shows is stored as a PNG with an alt text, no figure is stored as text only, and
    stderr holds no progress bars and at most ``max_stderr`` outputs."""
    stderr = 0
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        outputs = cell.get("outputs", [])
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        shows = cell.source.count("notebook.show(")
        if shows and "if " not in cell.source and "for " not in cell.source:
            assert len(images) == shows, f"{name} code cell {i}: {shows} figures shown, {len(images)} stored as PNG"
        for o in images:
            assert o["data"].get("text/plain", "").strip(), f"{name} code cell {i}: an image without alt text"
        for o in outputs:
            text = o.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            assert not text.startswith("<Figure size"), f"{name} code cell {i} stores a figure as text: {text}"
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                stderr += 1
                body = "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                assert not PROGRESS.search(body), f"{name} code cell {i} stores a progress bar: {body[:200]!r}"
    assert stderr <= max_stderr, f"{name} stores {stderr} stderr outputs (at most {max_stderr})"
    assert any("notebook.show(" in c.source for c in nb.cells if c.cell_type == "code"), f"{name} shows no figure"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_smoke_notebook_stores_every_figure_as_an_image_and_no_progress(smoke_outputs, name):
    executed, _, _ = smoke_outputs[name]
    assert_readable(nbformat.read(executed, as_version=4), name, max_stderr=3)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_stores_every_figure_as_an_image_and_no_progress(name):
    path = NB_DIR / f"{name}.ipynb"
    assert_readable(nbformat.read(path, as_version=4), name, max_stderr=5)
    assert path.stat().st_size < 2_500_000, f"{name} is {path.stat().st_size // 1000} kB"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_opens_with_its_answer(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
            and "injected-parameters" not in c.metadata.get("tags", [])]
    answer = next(i for i, c in enumerate(code) if "notebook.answer(findings)" in c.source)
    assert answer <= 1, f"{name}: the answer must come right after the setup cell"
    assert any("tested claims of this notebook" in "".join(o.get("data", {}).get("text/markdown", ""))
               for o in code[answer].outputs), \
        f"{name}: the committed notebook does not show its answer"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_smoke_notebook_writes_findings_and_figures(smoke_outputs, name):
    executed, findings, fig_dir = smoke_outputs[name]
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert findings["notebook"] == name
    assert findings["claims"], "no findings computed"
    for claim in findings["claims"]:
        assert {"claim", "measured", "holds"} <= set(claim)
        assert claim["measured"] is None or math.isfinite(claim["measured"])
    assert findings["figures"], "no figures saved"
    for fig in findings["figures"]:
        assert (fig_dir / fig).stat().st_size > 5000, f"{fig} looks empty"
    for path, value in _finite_numbers(findings):
        assert math.isfinite(value), path


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_smoke_findings_record_the_parameters_they_ran_with(smoke_outputs, name):
    """findings.json records every parameter of the notebook's dataclass, and the profile actually used."""
    _, findings, _ = smoke_outputs[name]
    recorded = findings["parameters"]
    assert recorded["profile"] == "smoke"
    assert sorted(recorded) == sorted(MODULES[name].Parameters.field_names())
    for key, value in profile_parameters(name, "smoke").items():
        if key not in ("figures_dir", "runs_root"):  # the test moves them to a temporary folder
            assert recorded[key] == value, key


def _claim(findings, prefix):
    matches = [c for c in findings["claims"] if c["claim"].startswith(prefix)]
    assert matches, f"no claim starting with {prefix!r}; claims: {[c['claim'] for c in findings['claims']]}"
    return matches[0]


def test_nnstd_notebook_identity_and_permutation_give_zero(smoke_outputs):
    _, findings, _ = smoke_outputs["01_nnstd"]
    assert _claim(findings, "NNSTD of identical topologies is 0")["measured"] == 0.0
    assert _claim(findings, "NNSTD of a neuron-permuted copy is 0")["measured"] == 0.0
    baseline = _claim(findings, "Random-topology baseline")["measured"]
    assert 0 < baseline <= 1


def test_sparse_vs_dense_notebook_reports_accuracies_in_range(smoke_outputs):
    _, findings, _ = smoke_outputs["02_sparse_vs_dense"]
    dense = _claim(findings, "Dense training accuracy")  # the fit of the over-parameterised network
    assert 0.1 < dense["measured"] <= 1.0
    test_mean = float(dense["spread"].split("test ")[1].split(" ")[0])  # its test accuracy, reported beside it
    assert 0.1 < test_mean <= 1.0


def test_evolution_notebook_distances_are_bounded(smoke_outputs):
    _, findings, _ = smoke_outputs["03_evolution"]
    for c in findings["claims"]:
        if "distance" in c["claim"].lower() and c["measured"] is not None:
            assert 0.0 <= c["measured"] <= 1.0, c


def test_lottery_notebook_decides_cost_apart_from_accuracy(smoke_outputs):
    _, findings, _ = smoke_outputs["04_lottery_tickets"]
    cost = [c for c in findings["claims"] if c["claim"].startswith("Cost:")]
    accuracy = [c for c in findings["claims"] if "verdict" in c and not c["claim"].startswith("Cost:")]
    assert len(cost) == 2 and accuracy  # cost and accuracy are separate findings
    decided = [c for c in cost if "verdict" in c]
    for c in cost:  # a cost is a verdict where SET reached the target in every seed, else a description
        assert "verdict" in c or (c["measured"] is None and c["detail"].startswith("no verdict"))
    for c in decided + accuracy:
        assert c["verdict"] in ("holds", "does not hold", "inconclusive")
        assert c["rule"]["rule"] in ("equivalence", "non-inferiority", "superiority") and c["rule"]["justification"]
        assert c["rule"]["ci"][0] is None or c["rule"]["ci"][0] < c["rule"]["ci"][1]  # never an interval of no width


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_outputs_without_errors_or_absolute_paths(name):
    path = NB_DIR / f"{name}.ipynb"
    text = path.read_text()
    nb = nbformat.reads(text, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.get("outputs") for c in code), f"{name} is committed without outputs; run `make study`"
    assert nb.metadata.get("papermill", {}).get("parameters", {}).get("profile") == "default", (
        f"{name} was not executed with the default profile"
    )
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name} has error outputs"
    for needle in {str(ROOT), str(Path.home()), "/work/", "/home/", "/root/", "/tmp/"}:
        assert needle not in text, f"{name} contains the absolute path {needle!r}"
