"""The notebooks' prose: Markdown templates filled from measured numbers.

A template lives in ``sparsetopo/study/templates/<notebook>/<section>.md`` and
is rendered with Jinja2 (``{{ value | f(3) }}``, ``{% if ... %}``). Undefined
names are errors, so a sentence never shows a blank where a number belongs.
Study modules compute the numbers (a ``context`` dict); the sentences around
them live in the templates.

Filters
-------
``f(x, digits=3)``   fixed-point number; ``pt(x)`` a fraction as signed points (``+0.42``);
``pct(x, digits=1)`` a fraction as a percentage (``42.0%``); ``n(x)`` an integer with thousands
separators; ``ci(interval, scale=1, digits=4)`` ``[low, high]``; ``g(x)`` ``{:.4g}``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

__all__ = ["TEMPLATES", "render", "template_names"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _f(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{float(x):.{digits}f}"


def _pt(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * float(x):+.{digits}f}"


def _pct(x: Any, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * float(x):.{digits}f}%"


def _n(x: Any) -> str:
    return f"{int(x):,}"


def _g(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.4g}"


def _ci(interval: Sequence[float] | Any, scale: float = 1.0, digits: int = 4) -> str:
    low, high = (interval.low, interval.high) if hasattr(interval, "low") else interval
    return f"[{scale * float(low):.{digits}f}, {scale * float(high):.{digits}f}]"


@lru_cache(maxsize=1)
def _environment():
    try:
        import jinja2
    except ImportError as error:  # pragma: no cover - jinja2 comes with the study extra
        raise ImportError("the study's prose needs jinja2: pip install sparsetopo[study]") from error
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(f=_f, pt=_pt, pct=_pct, n=_n, g=_g, ci=_ci)
    return env


def template_names(notebook: str) -> list[str]:
    """The sections that have a template for ``notebook`` (file stems, sorted)."""
    return sorted(p.stem for p in (TEMPLATES / notebook).glob("*.md"))


def render(notebook: str, section: str, **context: Any) -> str:
    """The template ``<notebook>/<section>.md`` filled from ``context``.

    Raises
    ------
    FileNotFoundError
        When the template does not exist (the notebook's sections are named).
    jinja2.UndefinedError
        When the template uses a name ``context`` does not define.
    """
    path = TEMPLATES / notebook / f"{section}.md"
    if not path.exists():
        raise FileNotFoundError(f"no template {path}; sections of {notebook}: {template_names(notebook)}")
    return _environment().get_template(f"{notebook}/{section}.md").render(**context).strip() + "\n"
