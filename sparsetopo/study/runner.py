"""Execute the study's notebooks with papermill, one parameter profile at a time.

``python -m sparsetopo.study --profile default`` runs every notebook of
``notebooks/``. A notebook's ``parameters`` cell holds its defaults (the
``default`` profile); another profile overrides some of them from
``notebooks/params/<profile>/<notebook>.yaml``, then ``-f FILE.yaml`` and
``-p NAME VALUE`` (papermill's form; ``-p NAME=VALUE`` also works) override
further. Every value is checked against the notebook's parameters before a
kernel starts: an unknown name or a wrong value is one line naming it.

The default profile executes the notebooks in place (their outputs are
committed so they render online), but only a successful execution replaces a
notebook and its figures: a failed one leaves both as they were and keeps the
failed copy under ``runs/failed/``. Any other profile writes executed copies
to ``runs/executed/<profile>/`` and its figures to ``runs/figures/<profile>/``;
so does the default profile with overrides that change results (``-p``, ``-f``,
``--dataset``), under ``runs/executed/custom/``: a variant never replaces the
committed study.

Progress bars and log lines of the notebooks go to this process's terminal,
not into the executed notebooks (see :data:`sparsetopo.parallel.PROGRESS_FILE_ENV`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import SparsetopoError
from .params import notebooks_dir as _notebooks_dir

__all__ = ["NOTEBOOKS", "NEUTRAL_OVERRIDES", "output_folder", "StudyError", "NotebookFailedError", "profile_parameters",
           "notebook_overrides", "execute_notebook", "main"]

#: Notebook name -> its study module (``sparsetopo.study.<module>``).
NOTEBOOKS = {
    "01_nnstd": "nnstd_behaviour",
    "02_sparse_vs_dense": "sparse_vs_dense",
    "03_evolution": "set_trajectories",
    "04_lottery_tickets": "lottery_tickets",
    "05_any_model": "any_model",
    "06_methods": "methods_topology",
}
ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)


class StudyError(SparsetopoError, ValueError):
    """A user's mistake (a parameter, a profile, a notebook name, a missing extra): one line, exit status 2."""


class NotebookFailedError(SparsetopoError, RuntimeError):
    """An execution failed in a cell: one line naming the cell's error and where the failed copy is, exit status 1."""


def _yaml():
    try:
        import yaml
    except ImportError:
        raise StudyError("the study needs its extra dependencies: pip install 'sparsetopo[study]'") from None
    return yaml


def study_module(notebook: str):
    """The study module of ``notebook`` (for example :mod:`sparsetopo.study.set_trajectories`)."""
    if notebook not in NOTEBOOKS:
        raise StudyError(f"no notebook {notebook!r}; notebooks: {', '.join(NOTEBOOKS)}")
    return importlib.import_module(f"{__package__}.{NOTEBOOKS[notebook]}")


def profile_parameters(notebook: str, profile: str, notebooks_dir: Path | None = None) -> dict[str, Any]:
    """The values ``profile`` overrides in ``notebook`` (``{}`` for the default profile, whose values are
    the notebook's ``parameters`` cell).

    Raises
    ------
    StudyError
        When the profile has no YAML for the notebook (the profiles available are named), or the YAML's
        ``profile`` entry names another profile than its folder.
    """
    if profile == "default":
        return {}
    notebooks_dir = notebooks_dir or _notebooks_dir()
    path = notebooks_dir / "params" / profile / f"{notebook}.yaml"
    if not path.exists():
        profiles = ["default"] + sorted(p.name for p in (notebooks_dir / "params").iterdir() if p.is_dir())
        raise StudyError(f"no parameter file {path}; profiles available: {', '.join(profiles)}")
    params = _yaml().safe_load(path.read_text()) or {}
    if params.get("profile", profile) != profile:
        raise StudyError(f"{path} sets profile: {params['profile']!r} but lies in the folder of profile {profile!r}; "
                         f"make them agree")
    params["profile"] = profile
    return params


def _checked(notebook: str, profile: str, overrides: dict[str, Any] | None, notebooks_dir: Path | None):
    """``(values, params)``: the values handed to papermill and the notebook's ``Parameters`` they resolve to."""
    values = {**profile_parameters(notebook, profile, notebooks_dir), **(overrides or {})}
    try:
        params = study_module(notebook).Parameters.resolve(values)
    except (TypeError, ValueError, KeyError) as error:
        raise StudyError(f"{notebook}: {error}") from None
    return values, params


def notebook_overrides(notebook: str, profile: str, overrides: dict[str, Any] | None = None, *,
                       notebooks_dir: Path | None = None) -> dict[str, Any]:
    """The parameters an execution of ``notebook`` hands papermill: the profile's values, then
    ``overrides``, each checked against the notebook's ``Parameters`` (names, types, ranges).

    Raises
    ------
    StudyError
        For an unknown parameter (the known ones are named) or a wrong value (the parameter, the value and
        what is allowed are named).
    """
    return _checked(notebook, profile, overrides, notebooks_dir)[0]


@contextmanager
def _progress_to(stream, enabled: bool) -> Iterator[None]:
    """Point the kernel's progress bars and log lines at a temporary file and copy it to ``stream``."""
    from ..parallel import PROGRESS_FILE_ENV

    handle, path = tempfile.mkstemp(prefix="sparsetopo-progress-", suffix=".log")
    os.close(handle)
    previous = os.environ.get(PROGRESS_FILE_ENV)
    os.environ[PROGRESS_FILE_ENV] = path
    done = threading.Event()

    def copy() -> None:
        with open(path, encoding="utf-8", errors="replace") as source:
            while True:
                chunk = source.read()
                if chunk and enabled:
                    stream.write(chunk)
                    stream.flush()
                if not chunk:
                    if done.is_set():
                        return
                    done.wait(0.2)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        if previous is None:
            os.environ.pop(PROGRESS_FILE_ENV, None)
        else:
            os.environ[PROGRESS_FILE_ENV] = previous
        os.unlink(path)


@contextmanager
def _data_root_for_kernel(cwd: str) -> Iterator[None]:
    """Hand the kernel (which runs in ``notebooks/``) the data root of the caller, made absolute: datasets
    registered with ``sparsetopo.data.register_arrays`` from ``cwd`` are found there too."""
    from ..data import ENV_VAR

    previous = os.environ.get(ENV_VAR)
    root = (Path(cwd) / Path(previous or "data").expanduser()).resolve()
    os.environ[ENV_VAR] = str(root)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = previous


@contextmanager
def _restored_on_failure(paths: Sequence[Path], keep_failed: Path | None) -> Iterator[None]:
    """Copy ``paths`` (files or folders) aside; if the block raises, put them back as they were.

    The notebook written by the failed execution is moved to ``keep_failed`` first (when given), so it can be
    inspected without touching the committed one.
    """
    backup = Path(tempfile.mkdtemp(prefix="sparsetopo-study-backup-"))
    saved = []
    for i, path in enumerate(paths):
        if path.is_dir():
            shutil.copytree(path, backup / str(i))
        elif path.exists():
            shutil.copy2(path, backup / str(i))
        saved.append((path, backup / str(i)))
    try:
        yield
    except BaseException:
        if keep_failed is not None and paths and paths[0].is_file():
            keep_failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(paths[0], keep_failed)
        for path, copy in saved:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            if copy.is_dir():
                shutil.copytree(copy, path)
            elif copy.exists():
                shutil.copy2(copy, path)
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)


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
    """Execute one notebook with a profile's parameters and ``overrides``; return the executed file.

    ``progress`` (papermill's bar, and the notebook's own bars and log lines
    in this process's stderr) follows the package's verbosity when ``None``
    (see :func:`sparsetopo.set_verbosity`); the executed notebook never holds them.

    Paths handed to the notebook are relative to ``notebooks/`` (the kernel's
    working directory), so executed notebooks carry no absolute paths. When
    the execution writes over the source notebook (``output_dir=None``), a
    failure restores the notebook and its figures folder.

    Raises
    ------
    StudyError
        For a parameter the notebook does not accept.
    NotebookFailedError
        For a failed execution (naming the cell's error and where the failed copy is).
    """
    import papermill as pm

    from ..parallel import show_progress

    progress = show_progress(progress)
    notebooks_dir = notebooks_dir or _notebooks_dir()
    source = notebooks_dir / f"{notebook}.ipynb"
    if not source.exists():
        raise StudyError(f"no notebook {source}; notebooks: {', '.join(p.stem for p in notebooks_dir.glob('*.ipynb'))}")
    extra = dict(overrides or {})
    if figures_root is not None:
        extra["figures_dir"] = f"{figures_root}/{notebook}"
    if runs_root is not None:
        extra["runs_root"] = runs_root
    params, resolved = _checked(notebook, profile, extra, notebooks_dir)
    params.setdefault("profile", profile)
    output = source if output_dir is None else output_dir / source.name
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = (notebooks_dir / resolved.figures_dir).resolve()
    guarded = [output, figures_dir] if output == source else []
    failed_copy = notebooks_dir.parent / "runs" / "failed" / source.name
    # papermill records input and output paths in the notebook's metadata: keep them relative
    old = os.getcwd()
    os.chdir(notebooks_dir)
    try:
        with _restored_on_failure(guarded, failed_copy), _progress_to(sys.stderr, progress), _data_root_for_kernel(old):
            pm.execute_notebook(
                os.path.relpath(source, notebooks_dir),
                os.path.relpath(output, notebooks_dir),
                parameters=params,
                cwd=".",
                progress_bar=progress,
                kernel_name="python3",
            )
    except pm.PapermillExecutionError as error:
        kept = f"; the failed execution is kept at {failed_copy}" if guarded else f"; see {output}"
        unchanged = "the notebook and its figures are unchanged" if guarded else "no result written"
        raise NotebookFailedError(f"{notebook} failed in cell {error.exec_count}: {error.ename}: {error.evalue} "
                         f"({unchanged}{kept})") from error
    finally:
        os.chdir(old)
    return output


#: Overrides that change how a notebook runs, not what it computes: the default profile with only these still
#: executes the committed notebooks in place.
NEUTRAL_OVERRIDES = frozenset({"verbosity", "scheduler", "n_jobs"})


def output_folder(profile: str, overrides: dict[str, Any]) -> str | None:
    """Where an execution goes: ``None`` (in place: the committed notebooks and figures) for the default profile
    with no override that changes a result; else the folder name under ``runs/executed/`` and ``runs/figures/``
    (the profile's name, or ``custom`` for the default profile with overrides), so a user's variant never
    replaces the committed study."""
    if profile == "default":
        return None if set(overrides) <= NEUTRAL_OVERRIDES else "custom"
    return profile


def _split_params(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Take ``-p NAME VALUE`` / ``-p NAME=VALUE`` (and ``--param``) out of ``argv``."""
    rest: list[str] = []
    pairs: list[tuple[str, str]] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item in ("-p", "--param", "--parameters"):
            if i + 1 >= len(items):
                raise StudyError(f"{item} needs a parameter: {item} NAME VALUE (or {item} NAME=VALUE)")
            name = items[i + 1]
            if "=" in name:
                pairs.append(tuple(name.split("=", 1)))  # type: ignore[arg-type]
                i += 2
            elif i + 2 < len(items):
                pairs.append((name, items[i + 2]))
                i += 3
            else:
                raise StudyError(f"{item} {name} needs a value: {item} {name} VALUE")
        else:
            rest.append(item)
            i += 1
    return rest, pairs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sparsetopo.study", description=__doc__.splitlines()[0],
        epilog="Parameters: -p NAME VALUE (or -p NAME=VALUE), values in YAML (-p seeds '[0, 1, 2]'); "
               "papermill --help-notebook notebooks/NAME.ipynb lists a notebook's parameters with their types.")
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS), help="notebook names (default: all)")
    parser.add_argument("--profile", default="default", help="parameter profile: default | smoke | paper")
    parser.add_argument("--dataset", default=None, help="set the dataset parameter of every notebook run")
    parser.add_argument("-f", "--parameters-file", action="append", default=[], metavar="FILE.yaml",
                        help="YAML file of parameter values (applied after the profile, before -p)")
    parser.add_argument("--verbosity", default=None, choices=["debug", "info", "warning", "error"],
                        help="level of the sparsetopo logger, here and in the notebooks (default: info here, the "
                             "notebook's in the notebooks); debug also prints tracebacks")
    return parser


def _run(argv: Sequence[str] | None, state: dict) -> int:
    rest, pairs = _split_params(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(rest)
    state["debug"] = args.verbosity == "debug"
    yaml = _yaml()
    try:
        import papermill  # noqa: F401
    except ImportError:
        raise StudyError("executing notebooks needs papermill: pip install 'sparsetopo[study]'") from None

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("traitlets", "asyncio", "blib2to3", "papermill"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .. import set_verbosity

    set_verbosity(args.verbosity or "info")

    overrides: dict[str, Any] = {}
    for path in args.parameters_file:
        try:
            values = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as error:
            raise StudyError(f"-f {path}: cannot read it ({error.strerror})") from None
        except yaml.YAMLError as error:
            raise StudyError(f"-f {path}: not valid YAML ({str(error).splitlines()[0]})") from None
        if not isinstance(values, dict):
            raise StudyError(f"-f {path}: must map parameter names to values, got a {type(values).__name__}")
        overrides.update(values)
    for name, text in pairs:
        try:
            overrides[name] = yaml.safe_load(text)
        except yaml.YAMLError:
            overrides[name] = text
    if args.dataset:
        overrides["dataset"] = args.dataset
    if args.verbosity:
        overrides["verbosity"] = args.verbosity
    names = [n.removesuffix(".ipynb") for n in args.notebooks]
    for name in names:
        study_module(name)
    folder = output_folder(args.profile, overrides)
    in_place = folder is None
    root = _notebooks_dir().parent
    output_dir = None if in_place else root / "runs" / "executed" / folder
    figures_root = None if in_place else f"../runs/figures/{folder}"
    # every notebook's parameters are checked before the first one runs
    for name in names:
        extra = dict(overrides)
        if figures_root is not None:
            extra["figures_dir"] = f"{figures_root}/{name}"
        notebook_overrides(name, args.profile, extra)
    for name in names:
        t0 = time.perf_counter()
        logger.info("[study] %s (profile %s) ...", name, args.profile)
        out = execute_notebook(name, args.profile, overrides=overrides, output_dir=output_dir, figures_root=figures_root)
        logger.info("[study] %s done in %.0f s -> %s", name, time.perf_counter() - t0, os.path.relpath(out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (2 for a user's mistake, 1 for a failed execution, 130 when
    interrupted: notebooks executed in place are restored first)."""
    from ..errors import run_reporting_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--verbosity=debug" in argv or any(a == "--verbosity" and b == "debug" for a, b in zip(argv, argv[1:]))
    state = {"debug": debug}
    return run_reporting_errors("python -m sparsetopo.study", lambda: _run(argv, state), debug=debug,
                                also=(NotebookFailedError,))


if __name__ == "__main__":
    sys.exit(main())
