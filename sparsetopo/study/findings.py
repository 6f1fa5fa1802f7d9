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

__all__ = ["Findings", "Claim", "findings_markdown", "summary_markdown", "headline_lines", "verdict_word", "VERDICTS"]

#: The words a rule of :mod:`sparsetopo.study.verdicts` decides between.
VERDICTS = ("holds", "does not hold", "inconclusive")


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


def verdict_word(holds: bool | None, verdict: str | None = None) -> str:
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
    headlines: list[dict] = field(default_factory=list)

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

    def headline(self, paper_claim: str, claims: list[str], setting: str) -> dict:
        """Name the claims (already recorded) that answer one claim of the paper, and the setting they were
        measured in: the notebook's answer and the README's headline are generated from these.

        Raises
        ------
        KeyError
            When a named claim has not been recorded (the recorded ones are listed).
        """
        names = [c.claim for c in self.claims]
        missing = [c for c in claims if c not in names]
        if missing:
            raise KeyError(f"headline {paper_claim!r} names unrecorded claims {missing}; recorded: {names}")
        entry = {"paper_claim": paper_claim, "claims": list(claims), "setting": setting}
        self.headlines = [h for h in self.headlines if h["paper_claim"] != paper_claim] + [entry]
        return entry

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
            rows.append({"claim": c.claim, "measured": c.measured, "spread": c.spread, "verdict": verdict_word(c.holds, c.verdict),
                         "how measured": c.detail})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "parameters": _plain(self.parameters),
            "claims": [c.to_dict() for c in self.claims],
            "figures": [f"{name}.png" for name in self.figures],
            "headlines": self.headlines,
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
        lines.append(f"| {c['claim']} | {measured} | {spread} | {verdict_word(c['holds'], c.get('verdict'))} |")
    return "\n".join(lines)



def _interval(claim: dict) -> str:
    rule = claim.get("rule") or {}
    ci = rule.get("ci")
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f" [{ci[0]:.4g}, {ci[1]:.4g}]"


def _tally(verdicts: list[str]) -> str:
    if len(set(verdicts)) == 1:
        return verdicts[0] if len(verdicts) == 1 else f"{verdicts[0]} (all {len(verdicts)})"
    counts = [(v, verdicts.count(v)) for v in VERDICTS + ("n/a",) if verdicts.count(v)]
    return ", ".join(f"{v} in {k} of {len(verdicts)}" for v, k in counts)


def _numbers(chosen: list[dict]) -> str:
    values = [c["measured"] for c in chosen if c["measured"] is not None]
    if not values:
        return ""
    if len(chosen) == 1:
        return f" {values[0]:.4g}{_interval(chosen[0])}."
    return f" Estimates {min(values):.4g} to {max(values):.4g}."


def headline_lines(findings: dict, *, link: str | None = None, details: bool = True) -> list[str]:
    """Markdown lines for the headlines of a ``findings.json`` dict: one line per headline (the paper's claim,
    the tally of its verdicts, the number behind it, the setting; ``link``: a path the line points to), and with
    ``details`` each claim's number, interval and verdict nested below it."""
    claims = {c["claim"]: c for c in findings["claims"]}
    lines = []
    for h in findings.get("headlines", []):
        chosen = [claims[name] for name in h["claims"] if name in claims]
        verdicts = [verdict_word(c["holds"], c.get("verdict")) for c in chosen]
        where = f" ([{findings['notebook']}]({link}))" if link else ""
        lines.append(f"- **{h['paper_claim']}** — **{_tally(verdicts)}**{where}.{_numbers(chosen)} "
                     f"*Setting:* {h['setting']}")
        if details:
            for c, v in zip(chosen, verdicts):
                measured = "" if c["measured"] is None else f": {c['measured']:.4g}{_interval(c)}"
                lines.append(f"  - {c['claim']}{measured} → {v}")
    return lines


def summary_markdown(findings: dict) -> str:
    """The answer a notebook opens with: its headlines, then how many claims each verdict got."""
    decided = [verdict_word(c["holds"], c.get("verdict")) for c in findings["claims"]]
    tested = [v for v in decided if v != "n/a"]
    counts = ", ".join(f"{tested.count(v)} {v}" for v in VERDICTS if tested.count(v))
    lines = []
    lines += headline_lines(findings) or ["- (this notebook names no headline claim)"]
    lines += ["", f"Over all {len(tested)} tested claims of this notebook: {counts or 'none decided'}; "
              f"{len(decided) - len(tested)} further rows are measured descriptions. The rules are stated below, "
              f"fixed in the parameters before any run; the full table closes the notebook."]
    return "\n".join(lines) + "\n"
