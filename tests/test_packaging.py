"""Packaging: dependency lists, version, citation, changelog, CI and its hooks, the README's commands."""

import os
import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

import sparsetopo
from sparsetopo.store.config import ENGINE_REVISION

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PAPER_DOI = "10.1007/978-3-030-67664-3_17"


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower()


def _requirements(reqs: list[str]) -> dict[str, str]:
    return {_name(r): r.replace(" ", "") for r in reqs}


def test_library_dependencies_are_small_and_take_a_torch_range():
    deps = _requirements(PYPROJECT["project"]["dependencies"])
    assert re.fullmatch(r"torch>=[0-9.]+", deps["torch"]), deps["torch"]  # a range, not a pin
    assert not any("==" in spec for spec in deps.values()), deps
    extras_only = {"torchvision", "seaborn", "papermill", "jupyterlab", "ipykernel", "dask", "networkx", "pdoc", "pytest"}
    assert not extras_only & set(deps), extras_only & set(deps)
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"vision", "study", "cluster", "graph", "docs", "test"} <= set(extras)
    assert "torchvision" in _requirements(extras["vision"]) and "torchvision" in _requirements(extras["study"])
    assert "networkx" in _requirements(extras["graph"])


def test_environment_yml_installs_the_package_with_every_extra_at_pyproject_versions():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    editable = [r for r in pip if r.startswith("-e ")]
    assert len(editable) == 1, pip
    extras = re.fullmatch(r"-e \.\[(.*)\]", editable[0]).group(1).split(",")
    assert sorted(extras) == sorted(PYPROJECT["project"]["optional-dependencies"])
    declared = _requirements(PYPROJECT["project"]["dependencies"])
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        declared.update(_requirements(extra))
    listed = _requirements([r for r in conda + pip if not r.startswith("-e ") and _name(r) not in ("python", "pip")])
    assert {k: declared.get(k) for k in listed} == listed  # same versions as pyproject.toml
    assert {"jupyterlab", "papermill", "torch", "torchvision", "matplotlib", "seaborn", "scipy"} <= set(listed)


def test_version_has_one_source_and_its_minor_is_the_engine_revision():
    assert "version" not in PYPROJECT["project"] and PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sparsetopo.__version__"}
    major, minor, _patch = (int(p) for p in sparsetopo.__version__.split("."))
    assert (major, minor) == (0, ENGINE_REVISION)


def test_changelog_has_a_version_for_every_engine_revision():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\d+\.\d+\.\d+) — engine revision (\d+)$", changelog, re.M)
    assert headings[0] == (sparsetopo.__version__, str(ENGINE_REVISION))
    assert [int(r) for _, r in headings] == list(range(ENGINE_REVISION, 0, -1))


def test_citation_cites_this_version_and_the_paper():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["version"] == sparsetopo.__version__ and citation["license"] == "MIT"
    paper = citation["references"][0]
    assert paper["title"] == "Topological Insights into Sparse Neural Networks" and paper["doi"] == PAPER_DOI
    assert [a["family-names"] for a in paper["authors"]][0] == "Liu" and len(paper["authors"]) == 8
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_py_typed_ships_with_the_package():
    assert (ROOT / "sparsetopo" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["sparsetopo"]


def test_ci_runs_the_readme_test_command_and_the_hooks_run_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make study" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, re.M)
    ci_targets = set(re.findall(r"^make (\S+)", ci, re.M))
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    entries = {h["entry"] for repo in hooks["repos"] for h in repo["hooks"]}
    assert {f"make {t}" for t in ci_targets} <= entries, (ci_targets, entries)
    makefile = (ROOT / "Makefile").read_text()
    for target in ci_targets | {"lint"}:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target


def test_readme_install_section_covers_library_study_cluster_and_cpu_torch():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Install", 1)[1].split("\n## ", 1)[0]
    for needed in ("pip install .", '".[study]"', '".[cluster]"', "download.pytorch.org/whl/cpu", "environment.yml"):
        assert needed in section, needed


def test_console_script_points_at_cli_console_main():
    assert PYPROJECT["project"]["scripts"]["sparsetopo"] == "sparsetopo.cli:console_main"


def test_console_main_flushes_its_output_runs_atexit_handlers_and_exits_with_mains_code(tmp_path):
    import numpy as np

    from sparsetopo.topology.masks import random_topology, save_topology

    for name, seed in (("a", 0), ("b", 1)):
        save_topology(tmp_path / f"{name}.npz", random_topology([20, 16, 4], epsilon=2, seed=seed))
    script = ("import atexit, sys; flag = sys.argv.pop(1); atexit.register(lambda: open(flag, 'w').write('ran')); "
              "from sparsetopo.cli import console_main; console_main()")

    def run(*args):
        flag = tmp_path / f"flag{len(list(tmp_path.glob('flag*')))}"
        done = subprocess.run([sys.executable, "-c", script, str(flag), *args], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        return done, flag.read_text() if flag.exists() else ""

    done, flag = run("distance", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--no-cache")
    assert done.returncode == 0 and flag == "ran"
    assert "NNSTD" in done.stdout and np.isfinite(float(done.stdout.split("mean")[-1].split()[0].strip(":=")))
    done, flag = run("distance", str(tmp_path / "a.npz"), str(tmp_path / "missing.npz"))
    assert done.returncode == 2 and flag == "ran" and len(done.stderr.strip().splitlines()) == 1
