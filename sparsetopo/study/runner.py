"""Execute the study's notebooks with papermill, one parameter profile at a time.

``python -m sparsetopo.study --profile default`` runs every notebook of
``notebooks/`` with ``notebooks/params/<profile>/<notebook>.yaml``. The default
profile executes the notebooks in place (their outputs are committed so they
render online); any other profile writes executed copies to
``runs/executed/<profile>/`` and its figures to ``runs/figures/<profile>/``,
so a smoke run never overwrites the published results.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

__all__ = ["NOTEBOOKS", "profile_parameters", "execute_notebook", "main"]

NOTEBOOKS = ("01_nnstd", "02_sparse_vs_dense", "03_evolution", "04_lottery_tickets", "05_any_model")
ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)


def profile_parameters(notebook: str, profile: str, notebooks_dir: Path | None = None) -> dict[str, Any]:
    """Parameters of ``notebook`` under ``profile`` (read from its YAML file).

    Raises
    ------
    FileNotFoundError
        When the profile has no YAML for the notebook (the profiles available are named).
    ValueError
        When the YAML's ``profile`` entry names another profile than its folder.
    """
    import yaml

    notebooks_dir = notebooks_dir or ROOT / "notebooks"
    path = notebooks_dir / "params" / profile / f"{notebook}.yaml"
    if not path.exists():
        profiles = sorted(p.name for p in (notebooks_dir / "params").iterdir() if p.is_dir())
        raise FileNotFoundError(f"no parameter file {path}; profiles available: {profiles}")
    params = yaml.safe_load(path.read_text()) or {}
    if params.get("profile", profile) != profile:
        raise ValueError(f"{path} sets profile: {params['profile']!r} but lies in the folder of profile {profile!r}; "
                         f"make them agree")
    return params


def execute_notebook(
    notebook: str,
    profile: str = "default",
    *,
    overrides: dict[str, Any] | None = None,
    output_dir: Path | None = None,
    figures_root: str | None = None,
    runs_root: str | None = None,
    notebooks_dir: Path | None = None,
    progress: bool | None = None,
) -> Path:
    """Execute one notebook with a profile's parameters; return the executed file.

    ``progress`` (papermill's bar and the cells' streamed output) follows the
    package's verbosity when ``None`` (see :func:`sparsetopo.set_verbosity`).

    Paths handed to the notebook are relative to ``notebooks/`` (the kernel's
    working directory), so executed notebooks carry no absolute paths.
    """
    import papermill as pm

    from ..parallel import show_progress

    progress = show_progress(progress)

    notebooks_dir = notebooks_dir or ROOT / "notebooks"
    source = notebooks_dir / f"{notebook}.ipynb"
    if not source.exists():
        raise FileNotFoundError(f"no notebook {source}; notebooks: {[p.stem for p in notebooks_dir.glob('*.ipynb')]}")
    params = profile_parameters(notebook, profile, notebooks_dir)
    params["profile"] = profile
    if figures_root is not None:
        params["figures_dir"] = f"{figures_root}/{notebook}"
    if runs_root is not None:
        params["runs_root"] = runs_root
    params.update(overrides or {})
    if output_dir is None:
        output = source
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        output = output_dir / source.name
    # papermill records input and output paths in the notebook's metadata: keep them relative
    old = os.getcwd()
    os.chdir(notebooks_dir)
    try:
        pm.execute_notebook(
            os.path.relpath(source, notebooks_dir),
            os.path.relpath(output, notebooks_dir),
            parameters=params,
            cwd=".",
            progress_bar=progress,
            log_output=progress,  # stream the cells' own progress bars and prints to the terminal
            kernel_name="python3",
        )
    finally:
        os.chdir(old)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparsetopo.study", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS), help="notebook names (default: all)")
    parser.add_argument("--profile", default="default", help="parameter profile: smoke | default | paper")
    parser.add_argument("--dataset", default=None, help="override the dataset parameter of every notebook")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter (YAML value), e.g. -p seeds=5")
    parser.add_argument("--verbosity", default=None, choices=["debug", "info", "warning", "error"],
                        help="level of the sparsetopo logger, here and in the notebooks (default: info here, "
                             "the profile's in the notebooks)")
    args = parser.parse_args(argv)
    import yaml

    # papermill streams each cell's output through its logger (log_output=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("traitlets", "asyncio", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .. import set_verbosity

    set_verbosity(args.verbosity or "info")

    overrides: dict[str, Any] = {}
    for item in args.param:
        if "=" not in item:
            parser.error(f"--param {item!r} must look like KEY=VALUE")
        key, value = item.split("=", 1)
        overrides[key] = yaml.safe_load(value)
    if args.dataset:
        overrides["dataset"] = args.dataset
    if args.verbosity:
        overrides["verbosity"] = args.verbosity
    in_place = args.profile == "default"
    output_dir = None if in_place else ROOT / "runs" / "executed" / args.profile
    figures_root = None if in_place else f"../runs/figures/{args.profile}"
    for name in args.notebooks:
        name = name.removesuffix(".ipynb")
        t0 = time.perf_counter()
        logger.info("[study] %s (profile %s) ...", name, args.profile)
        out = execute_notebook(name, args.profile, overrides=overrides, output_dir=output_dir, figures_root=figures_root)
        logger.info("[study] %s done in %.0f s -> %s", name, time.perf_counter() - t0, out.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
