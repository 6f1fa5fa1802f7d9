"""Validation of notebook and study parameters, before any work starts.

A notebook's ``parameters`` cell (or a papermill ``-f`` profile) sets plain
variables; a typo there (``epochs: 2.5``, a string where a list belongs)
should fail at once with the parameter's name, not minutes later deep inside
training. :func:`check_parameters` takes the values and a checker per name::

    from sparsetopo.study.params import check_parameters, positive_int, list_of, one_of

    check_parameters(
        dict(epochs=epochs, hidden=hidden, dataset=dataset),
        epochs=positive_int, hidden=list_of(positive_int), dataset=non_empty_str,
    )

Every checker is a function ``(name, value) -> value`` that returns the value
(possibly normalised: a tuple becomes a list, an int a float where a float is
asked for) or raises :class:`~sparsetopo.errors.ParameterError` naming the
parameter, what it got and what it expects.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable, Mapping

from ..errors import ParameterError

__all__ = [
    "check_parameters",
    "ParameterError",
    "integer",
    "positive_int",
    "non_negative_int",
    "real",
    "positive_float",
    "fraction",
    "boolean",
    "non_empty_str",
    "one_of",
    "list_of",
    "optional",
    "unknown_parameters",
]

Checker = Callable[[str, Any], Any]


def _fail(name: str, value: Any, expected: str) -> ParameterError:
    return ParameterError(f"parameter {name!r}: expected {expected}, got {value!r} ({type(value).__name__})")


def integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    """A whole number (not bool, not 2.0) within optional bounds."""
    bounds = _bounds_text(minimum, maximum)

    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _fail(name, value, f"a whole number{bounds}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise _fail(name, value, f"a whole number{bounds}")
        return int(value)

    return check


def real(minimum: float | None = None, maximum: float | None = None, *, strict_minimum: bool = False) -> Checker:
    """A finite number (ints accepted, returned as float) within optional bounds."""
    low = "" if minimum is None else (f" > {minimum:g}" if strict_minimum else f" >= {minimum:g}")
    high = "" if maximum is None else f" <= {maximum:g}"
    expected = "a finite number" + (f" ({' and '.join(t.strip() for t in (low, high) if t)})" if low or high else "")

    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise _fail(name, value, expected)
        if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
            raise _fail(name, value, expected)
        if maximum is not None and value > maximum:
            raise _fail(name, value, expected)
        return float(value)

    return check


def _bounds_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


positive_int = integer(1)
non_negative_int = integer(0)
positive_float = real(0, strict_minimum=True)
fraction = real(0, 1)


def boolean(name: str, value: Any) -> bool:
    """True or False (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise _fail(name, value, "true or false")
    return value


def non_empty_str(name: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, value, "a non-empty string")
    return value


def one_of(*choices: Any) -> Checker:
    """One of the given values."""

    def check(name: str, value: Any) -> Any:
        if value not in choices:
            raise _fail(name, value, "one of " + ", ".join(map(repr, choices)))
        return value

    return check


def list_of(item: Checker, *, min_length: int = 1) -> Checker:
    """A list (or tuple) of at least ``min_length`` items, each passing ``item``; a string is not a list."""

    def check(name: str, value: Any) -> list:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _fail(name, value, f"a list of at least {min_length} item(s)")
        if len(value) < min_length:
            raise _fail(name, value, f"a list of at least {min_length} item(s)")
        return [item(f"{name}[{i}]", v) for i, v in enumerate(value)]

    return check


def optional(item: Checker) -> Checker:
    """None, or a value passing ``item``."""

    def check(name: str, value: Any) -> Any:
        return None if value is None else item(name, value)

    return check


def check_parameters(values: Mapping[str, Any], /, **checkers: Checker) -> dict[str, Any]:
    """Check every named parameter; return ``{name: checked value}``.

    Parameters
    ----------
    values : mapping
        Parameter values, e.g. ``globals()`` of a notebook or a loaded YAML
        profile.
    **checkers
        A checker per parameter name. A name without a value in ``values``
        is an error (a misspelt parameter in a profile leaves the real one
        unset).

    Raises
    ------
    ParameterError
        Naming the first parameter that is missing or wrong, what it got and
        what it expects.
    """
    out = {}
    for name, checker in checkers.items():
        if name not in values:
            raise ParameterError(f"parameter {name!r} is not set; add it to the parameters cell or the profile")
        out[name] = checker(name, values[name])
    return out


def unknown_parameters(given: Iterable[str], known: Iterable[str]) -> list[str]:
    """Names in ``given`` (e.g. the keys of a YAML profile) that no parameter has: typos."""
    known = set(known)
    return sorted(n for n in given if n not in known)
