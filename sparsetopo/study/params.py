"""Parameters of a notebook: one frozen dataclass per study module, checked before any work starts.

One source of truth: a notebook's ``parameters`` cell holds every default, one
line per parameter in papermill's typed form ``name: type = value  # meaning``
(so ``papermill --help-notebook`` lists each with its type and meaning). A
profile (``notebooks/params/<profile>/<notebook>.yaml``) holds only the values
it overrides; the ``default`` profile is the cell itself. Each study module
defines ``Parameters(StudyParameters)``: the same names with their types and
checks, no values. :meth:`StudyParameters.resolve` builds it from the cell and
any overrides (the study runner checks them this way before a kernel starts),
and the notebook builds it from its own variables with
:meth:`StudyParameters.from_namespace`; :meth:`StudyParameters.as_dict` is
what ``findings.json`` records.

The ``check_*`` helpers validate one value and raise with the parameter's name
and its wrong value (``TypeError`` for a wrong type, ``ValueError`` for a value
out of range); they return the value normalised (lists become tuples).
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import math
import numbers
import tokenize
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

__all__ = [
    "StudyParameters",
    "ParameterSpec",
    "notebooks_dir",
    "read_parameters_cell",
    "check_int",
    "check_real",
    "check_bool",
    "check_str",
    "check_sequence",
    "check_optional",
    "check_verbosity",
    "check_n_jobs",
]

# ---------------------------------------------------------------------------
# one value
# ---------------------------------------------------------------------------


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int (bools and floats refused), within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"parameter {name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"parameter {name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"parameter {name} must be <= {maximum}, got {value!r}")
    return value


def check_real(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
               exclusive_minimum: bool = False) -> float:
    """``value`` as a finite float (ints accepted, bools refused), within the bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"parameter {name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"parameter {name} must be finite, got {value!r}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise ValueError(f"parameter {name} must be {'>' if exclusive_minimum else '>='} {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"parameter {name} must be <= {maximum}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (``0``/``1`` and strings refused)."""
    if not isinstance(value, bool):
        raise TypeError(f"parameter {name} must be true or false, got {value!r} ({type(value).__name__})")
    return value


def check_str(name: str, value: Any, *, choices: tuple[str, ...] | None = None) -> str:
    """``value`` if it is a non-empty string (and one of ``choices`` when given)."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"parameter {name} must be a non-empty string, got {value!r} ({type(value).__name__})")
    if choices is not None and value not in choices:
        raise ValueError(f"parameter {name} must be one of {list(choices)}, got {value!r}")
    return value


def check_sequence(name: str, value: Any, item: Callable[[str, Any], Any], *, min_length: int = 1,
                   unique: bool = False, increasing: bool = False) -> tuple:
    """``value`` (a list or tuple, never a string) as a tuple, each entry checked by ``item(name[i], entry)``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"parameter {name} must be a list, got {value!r} ({type(value).__name__})")
    out = tuple(item(f"{name}[{i}]", v) for i, v in enumerate(value))
    if len(out) < min_length:
        raise ValueError(f"parameter {name} needs at least {min_length} entries, got {list(value)!r}")
    if unique and len(set(out)) != len(out):
        raise ValueError(f"parameter {name} has repeated entries: {list(value)!r}")
    if increasing and any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"parameter {name} must be strictly increasing, got {list(value)!r}")
    return out


def check_optional(name: str, value: Any, check: Callable[[str, Any], Any]) -> Any:
    """``None``, or ``check(name, value)``."""
    return None if value is None else check(name, value)


_LEVELS = ("debug", "info", "warning", "error", "critical")


def check_verbosity(name: str, value: Any) -> str:
    """A logging level name (case-insensitive), returned in lower case."""
    if not isinstance(value, str) or value.lower() not in _LEVELS:
        raise ValueError(f"parameter {name} must be one of {list(_LEVELS)}, got {value!r}")
    return value.lower()


def check_n_jobs(name: str, value: Any) -> int:
    """Worker processes: a positive int, or -1 for all cores."""
    value = check_int(name, value, minimum=-1)
    if value == 0:
        raise ValueError(f"parameter {name} must be a positive int or -1 (all cores), got 0")
    return value


# ---------------------------------------------------------------------------
# the parameters cell
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ParameterSpec:
    """One line of a ``parameters`` cell: ``name: type = default  # meaning``."""

    name: str
    type: str
    default: Any
    meaning: str


def notebooks_dir() -> Path:
    """The folder of the study's notebooks: ``notebooks/`` of the source checkout this package runs from.

    Raises
    ------
    FileNotFoundError
        When the package does not run from a source checkout (an installed wheel ships no notebooks):
        says where they are expected and how to get them.
    """
    folder = Path(__file__).resolve().parents[2] / "notebooks"
    if not (folder / "params").is_dir():
        raise FileNotFoundError(f"the study's notebooks are expected in {folder}, which does not exist: the study runs "
                                f"from a source checkout (git clone the project, then pip install -e '.[study]')")
    return folder


def read_parameters_cell(notebook: str | Path) -> dict[str, ParameterSpec]:
    """The parameters a notebook's ``parameters``-tagged cell defines, in order.

    ``notebook`` is a path to an ``.ipynb`` file or the name of one of the
    study's notebooks (``"03_evolution"``).

    Raises
    ------
    ValueError
        When the notebook has not exactly one ``parameters`` cell, or a line of it is not a typed
        assignment of a literal with a one-line comment (the line is named).
    """
    path = Path(notebook)
    if path.suffix != ".ipynb":
        path = notebooks_dir() / f"{notebook}.ipynb"
    cells = [c for c in json.loads(path.read_text())["cells"]
             if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path.name} must have exactly one cell tagged 'parameters', found {len(cells)}")
    source = "".join(cells[0]["source"])
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    specs: dict[str, ParameterSpec] = {}
    for node in ast.parse(source).body:
        where = f"{path.name}, parameters cell line {node.lineno}"
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            raise ValueError(f"{where}: write each parameter as 'name: type = value  # meaning'")
        if node.end_lineno != node.lineno:
            raise ValueError(f"{where}: {node.target.id} spans several lines; papermill reads one line per parameter")
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ValueError(f"{where}: the value of {node.target.id} must be a literal") from None
        meaning = comments.get(node.lineno, "")
        if not meaning or "=" in meaning:
            raise ValueError(f"{where}: {node.target.id} needs a comment saying what it means, without '=' "
                             f"(papermill cannot parse a line whose comment holds '=')")
        annotation = node.annotation
        type_name = annotation.value if isinstance(annotation, ast.Constant) else ast.unparse(annotation)
        specs[node.target.id] = ParameterSpec(node.target.id, str(type_name), default, meaning)
    return specs


# ---------------------------------------------------------------------------
# the dataclass
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyParameters:
    """Base of every notebook's parameters: the fields every notebook shares.

    Subclasses set :attr:`NOTEBOOK`, add their own fields (types and checks
    only: the values live in the notebook's ``parameters`` cell, see
    :meth:`resolve`) with ``@dataclasses.dataclass(frozen=True, kw_only=True)``,
    and extend ``__post_init__`` with ``super().__post_init__()`` first.

    Attributes
    ----------
    profile : name of the parameter profile the values came from (recorded in
        ``findings.json``; every profile YAML sets it, so it is right also when
        papermill is handed a YAML directly).
    dataset : dataset name (any name :func:`sparsetopo.data.load_dataset` accepts).
    figures_dir : folder of the figures and ``findings.json`` (relative to ``notebooks/``).
    runs_root : run store root (relative to ``notebooks/``).
    n_jobs : worker processes (-1: all cores).
    verbosity : level of the ``sparsetopo`` logger (``"info"`` draws progress bars).
    scheduler : executor of every parallel step: ``None`` follows ``$SPARSETOPO_SCHEDULER`` (else this
        machine), ``"local"`` forces this machine, ``"tcp://host:8786"`` a Dask scheduler
        (see :mod:`sparsetopo.executor`).
    """

    NOTEBOOK: ClassVar[str] = ""

    profile: str
    dataset: str
    figures_dir: str
    runs_root: str
    n_jobs: int
    verbosity: str
    scheduler: str | None

    def __post_init__(self) -> None:
        self._set("profile", check_str("profile", self.profile))
        self._set("dataset", check_str("dataset", self.dataset))
        self._set("figures_dir", check_str("figures_dir", self.figures_dir))
        self._set("runs_root", check_str("runs_root", self.runs_root))
        self._set("n_jobs", check_n_jobs("n_jobs", self.n_jobs))
        self._set("verbosity", check_verbosity("verbosity", self.verbosity))
        self._set("scheduler", check_optional("scheduler", self.scheduler, check_str))

    def _set(self, name: str, value: Any) -> None:
        """Store a normalised value on the frozen instance (only from ``__post_init__``)."""
        object.__setattr__(self, name, value)

    @property
    def cache_dir(self) -> str:
        """The NNSTD cache folder of the run store."""
        return f"{self.runs_root}/.cache/nnstd"

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The values of the notebook's ``parameters`` cell (the ``default`` profile)."""
        return {name: spec.default for name, spec in read_parameters_cell(cls.NOTEBOOK).items()}

    @classmethod
    def resolve(cls, overrides: Mapping[str, Any] | None = None, /, **values: Any):
        """Parameters from the notebook's ``parameters`` cell with ``overrides`` and then ``values`` applied (a
        profile's values, then a user's): what an execution with these overrides will run with.
        ``Parameters.resolve(seeds=[0, 1])`` is the notebook's defaults with two seeds.

        Raises
        ------
        ValueError
            When an override names no parameter (the known ones are named), or a value is out of range.
        TypeError
            When a value has the wrong type (the parameter and the value are named).
        """
        overrides = {**(overrides or {}), **values}
        values = cls.defaults()
        unknown = sorted(set(overrides) - set(values))
        if unknown:
            raise ValueError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
                             f"{cls.NOTEBOOK}; known: {', '.join(values)}")
        return cls.from_mapping({**values, **overrides})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """Parameters from a mapping holding every field (other keys refused).

        Raises
        ------
        ValueError
            When a field is missing or an unknown key is present (both named).
        """
        names = cls.field_names()
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"unknown parameters {unknown} for {cls.__module__}.{cls.__name__}; known: {names}")
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"parameters {missing} are missing ({cls.__module__}.{cls.__name__})")
        return cls(**{n: values[n] for n in names})

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]):
        """Parameters from the variables of a notebook (``globals()``): every field, by name.

        Other variables in ``namespace`` are ignored; a missing field raises
        ``ValueError`` naming it.
        """
        missing = [n for n in cls.field_names() if n not in namespace]
        if missing:
            raise ValueError(f"parameters {missing} are not defined (add them to the notebook's parameters cell)")
        return cls(**{n: namespace[n] for n in cls.field_names()})

    def as_dict(self) -> dict[str, Any]:
        """Every field, lists as lists (what ``findings.json`` records)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def configure(self) -> None:
        """Apply :attr:`verbosity` to the ``sparsetopo`` logger and :attr:`scheduler` to the executor.

        A ``scheduler`` of ``None`` leaves the executor setting as it is (``$SPARSETOPO_SCHEDULER``, which
        ``make study SCHEDULER=...`` sets, or this machine).
        """
        from .. import set_verbosity
        from ..executor import use_scheduler

        set_verbosity(self.verbosity)
        if self.scheduler is not None:
            use_scheduler(self.scheduler)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
