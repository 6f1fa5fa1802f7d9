"""The README's findings tables, generated from ``figures/<notebook>/findings.json``.

README.md marks each generated block with a pair of comments::

    <!-- headline -->
    - **C2 ...** — **holds in 1 of 6, ...**. *Setting:* ...
    <!-- /headline -->

    <!-- findings:02_sparse_vs_dense -->
    <details><summary>...</summary>
    | claim | measured | spread | verdict |
    ...
    </details>
    <!-- /findings -->

The headline gathers every notebook's ``headlines`` (the claims of the paper
each notebook answers, see :meth:`~sparsetopo.study.findings.Findings.headline`),
in notebook order; each findings table is folded in a ``<details>`` block.
``python -m sparsetopo.study.report`` (``make report``) rewrites what lies
between each pair from the notebooks' ``findings.json`` and leaves the rest of
the README untouched; ``--check`` only reports whether the README is current
(exit status 1 when not), which a test runs.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Sequence

from .. import atomic
from .findings import VERDICTS, findings_markdown, headline_lines, verdict_word

__all__ = ["MARKER", "HEADLINE", "render", "headline_markdown", "update_readme", "main"]

ROOT = Path(__file__).resolve().parents[2]
#: ``<!-- findings:NAME -->`` ... ``<!-- /findings -->``; NAME is a folder under ``figures/``.
MARKER = re.compile(r"(<!-- findings:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /findings -->)", re.S)
#: ``<!-- headline -->`` ... ``<!-- /headline -->``: what the study found, one entry per claim of the paper.
HEADLINE = re.compile(r"(<!-- headline -->\n)(?P<body>.*?)(<!-- /headline -->)", re.S)
logger = logging.getLogger(__name__)


def render(text: str, figures_root: str | Path) -> str:
    """``text`` with every marked table regenerated from ``<figures_root>/<name>/findings.json``.

    Raises
    ------
    FileNotFoundError
        When a marker names a notebook without ``findings.json`` (the path is named).
    ValueError
        When an opening marker has no closing one, or a closing one no opening one.
    """
    figures_root = Path(figures_root)
    opened = len(re.findall(r"<!-- findings:[\w.-]+ -->", text))
    closed = text.count("<!-- /findings -->")
    matched = len(MARKER.findall(text))
    if not opened == closed == matched:
        raise ValueError(f"unbalanced findings markers: {opened} '<!-- findings:NAME -->', {closed} "
                         f"'<!-- /findings -->', {matched} pairs; each table needs one of each, in that order")

    def table(match: re.Match) -> str:
        path = figures_root / match["name"] / "findings.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist (README marker findings:{match['name']}); "
                                    f"execute the notebook or fix the marker")
        claims = atomic.read_json(path)["claims"]
        verdicts = [verdict_word(c["holds"], c.get("verdict")) for c in claims]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if verdicts.count(v))
        summary = f"Every claim of {match['name']}: {len(claims)} rows ({counts or 'no verdicts'}; {verdicts.count('n/a')} descriptions)"
        return (f"{match.group(1)}<details><summary>{summary}</summary>\n\n{findings_markdown(path)}\n\n</details>\n"
                f"{match.group(4)}")

    text = MARKER.sub(table, text)
    if HEADLINE.search(text):
        text = HEADLINE.sub(lambda m: f"{m.group(1)}{headline_markdown(figures_root)}{m.group(3)}", text)
    return text


def headline_markdown(figures_root: str | Path) -> str:
    """What the study found: one line per headline of every ``<figures_root>/*/findings.json`` (notebook order),
    then the number and verdict of each claim behind them, folded in a ``<details>`` block."""
    short, full = [], []
    for path in sorted(Path(figures_root).glob("*/findings.json")):
        findings = atomic.read_json(path)
        link = f"notebooks/{findings['notebook']}.ipynb"
        short += headline_lines(findings, link=link, details=False)
        full += headline_lines(findings, link=link)
    if not short:
        return ""
    return ("\n".join(short) + "\n\n<details><summary>The claims behind each line, with their numbers and 95% "
            "intervals</summary>\n\n" + "\n".join(full) + "\n\n</details>\n")


def update_readme(readme: str | Path = ROOT / "README.md", figures_root: str | Path = ROOT / "figures", *,
                  check: bool = False) -> bool:
    """Regenerate the README's tables (atomically); return whether the README was current.

    With ``check=True`` nothing is written.
    """
    readme = Path(readme)
    text = readme.read_text()
    new = render(text, figures_root)
    if new != text and not check:
        with atomic.atomic_path(readme, suffix=".md") as tmp:
            Path(tmp).write_text(new)
    return new == text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparsetopo.study.report", description=__doc__.splitlines()[0])
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    parser.add_argument("--figures", default=str(ROOT / "figures"), help="folder of the notebooks' figures")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when the README is out of date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    current = update_readme(args.readme, args.figures, check=args.check)
    if args.check:
        logger.info("%s is %s", args.readme, "current" if current else "out of date: run `make report`")
        return 0 if current else 1
    logger.info("%s %s", args.readme, "was already current" if current else "updated from the findings files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
