"""Findings of a notebook: computed claims, figures and the numbers behind them.

Each notebook builds a :class:`Findings`, records every claim of the paper it
tests with the number it measured (never typed in), saves its figures through
it, and finally writes ``<figures_dir>/findings.json``::

    findings = Findings("02_sparse_vs_dense", figures_dir, parameters=dict(...))
    findings.save_figure(fig, "accuracy_vs_density")      # PNG, 150 dpi
    findings.add_data("accuracy_vs_density", frame)        # numbers behind it
    findings.claim("Static sparse matches dense", measured=gap, holds=gap >= -0.005,
                   detail="best sparse minus dense test accuracy, mean over seeds")
    findings.write(); findings.table()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import atomic

__all__ = ["Findings", "Claim", "findings_markdown"]


def _plain(obj: Any) -> Any:
    """JSON-ready copy of numbers, arrays and frames."""
    if isinstance(obj, pd.DataFrame):
        return {"columns": list(map(str, obj.columns)), "records": [_plain(r) for r in obj.to_dict("records")]}
    if isinstance(obj, pd.Series):
        return _plain(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def _verdict(holds: bool | None, verdict: str | None = None) -> str:
    if verdict is not None:
        return verdict
    return "n/a" if holds is None else ("holds" if holds else "does not hold")


@dataclass
class Claim:
    """One tested claim.

    ``verdict`` and ``rule`` are set only by :meth:`Findings.claim_verdict` (a
    rule from :mod:`sparsetopo.study.verdicts`): ``verdict`` is "holds", "does
    not hold" or "inconclusive", ``rule`` the rule's name, margin, its
    justification and the interval decided on. Claims recorded with a plain
    ``holds`` leave both unset, and ``findings.json`` omits them.
    """

    claim: str
    measured: float | None
    holds: bool | None
    detail: str = ""
    spread: str = ""
    verdict: str | None = None
    rule: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        out = _plain(self.__dict__)
        for key in ("verdict", "rule"):
            if out[key] is None:
                del out[key]
        return out


@dataclass
class Findings:
    """Collects a notebook's claims, figures and figure data."""

    notebook: str
    figures_dir: str | Path
    parameters: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.figures_dir = Path(self.figures_dir)
        self.figures_dir.mkdir(parents=True, exist_ok=True)

    def claim(self, claim: str, measured: float | None, holds: bool | None, detail: str = "", spread: str = "") -> Claim:
        """Record one tested claim with its measured number and verdict."""
        c = Claim(claim, None if measured is None else float(measured), None if holds is None else bool(holds), detail, spread)
        self.claims = [x for x in self.claims if x.claim != claim] + [c]
        return c

    def claim_verdict(self, claim: str, verdict, detail: str = "", spread: str = "") -> Claim:
        """Record one claim decided by a rule of :mod:`sparsetopo.study.verdicts`.

        ``verdict`` is a :class:`~sparsetopo.study.verdicts.Verdict`: the measured
        number is its estimate; the claim keeps the verdict word, the rule, the
        margin with its justification and the interval.
        """
        from .verdicts import Verdict

        if not isinstance(verdict, Verdict):
            raise TypeError(f"verdict must be a verdicts.Verdict, got {type(verdict).__name__}")
        rule = {"rule": verdict.rule, "margin": verdict.margin, "justification": verdict.justification,
                "ci": [verdict.low, verdict.high], "note": verdict.note}
        c = Claim(claim, verdict.estimate, verdict.holds, detail, spread, verdict.verdict, rule)
        self.claims = [x for x in self.claims if x.claim != claim] + [c]
        return c

    def add_data(self, name: str, value: Any) -> None:
        """Keep the numbers behind a figure (a frame, an array or a dict)."""
        self.data[name] = _plain(value)

    def save_figure(self, fig, name: str, dpi: int = 150) -> Path:
        """Save ``fig`` as ``<figures_dir>/<name>.png`` (atomically)."""
        path = self.figures_dir / f"{name}.png"
        with atomic.atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        if name not in self.figures:
            self.figures.append(name)
        return path

    def save_figures(self, figures: dict[str, Any], dpi: int = 150) -> list[Path]:
        """Save every ``name -> Figure`` of ``figures`` (in its order) with :meth:`save_figure`."""
        return [self.save_figure(fig, name, dpi=dpi) for name, fig in figures.items()]

    def table(self) -> pd.DataFrame:
        """The findings table: claim, measured value, spread, verdict."""
        rows = []
        for c in self.claims:
            rows.append({"claim": c.claim, "measured": c.measured, "spread": c.spread, "verdict": _verdict(c.holds, c.verdict),
                         "how measured": c.detail})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "parameters": _plain(self.parameters),
            "claims": [c.to_dict() for c in self.claims],
            "figures": [f"{name}.png" for name in self.figures],
            "data": self.data,
        }

    def write(self) -> Path:
        """Write ``findings.json`` beside the figures (atomically)."""
        path = self.figures_dir / "findings.json"
        atomic.write_json(path, self.to_dict())
        return path


def findings_markdown(findings_path: str | Path) -> str:
    """The findings table of a written ``findings.json`` as Markdown (the README's tables, see
    :mod:`sparsetopo.study.report`)."""
    data = atomic.read_json(findings_path)
    lines = ["| claim | measured | spread | verdict |", "|---|---|---|---|"]
    for c in data["claims"]:
        measured = "" if c["measured"] is None else f"{c['measured']:.4g}"
        spread = (c.get("spread") or "").replace("|", "/")
        lines.append(f"| {c['claim']} | {measured} | {spread} | {_verdict(c['holds'], c.get('verdict'))} |")
    return "\n".join(lines)

