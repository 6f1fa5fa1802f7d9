"""The README's findings tables are generated from figures/*/findings.json and must agree with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparsetopo.study.report import render, update_readme
from sparsetopo.study.runner import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tables_agree_with_the_findings_files():
    text = (ROOT / "README.md").read_text()
    for name in NOTEBOOKS:
        assert f"<!-- findings:{name} -->" in text, f"README.md has no generated table for {name}"
    assert text.index("<!-- headline -->") < text.index("```"), "the README opens with what the study found"
    assert render(text, ROOT / "figures") == text, "README.md disagrees with figures/*/findings.json: run `make report`"


def test_readme_links_only_files_that_exist():
    """Every image and repository link of the README names a committed file (figures get renamed)."""
    import re

    text = (ROOT / "README.md").read_text()
    targets = re.findall(r'src="([^"]+)"', text) + re.findall(r"\]\(((?:notebooks|figures|benchmarks)/[^)]+)\)", text)
    assert targets, "the README links no figures or notebooks"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README.md links files that do not exist: {missing}"
    figures_ = [t for t in targets if t.startswith("figures/") and t.endswith(".png")]
    for name in NOTEBOOKS:
        listed = [Path(f).stem for f in json.loads((ROOT / "figures" / name / "findings.json").read_text())["figures"]]
        for t in figures_:
            if t.startswith(f"figures/{name}/"):
                assert Path(t).stem in listed, f"{t} is not among the figures notebook {name} saves: {listed}"


def _findings(root: Path, name: str, measured: float, holds: bool | None) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    claims = [{"claim": "A claim", "measured": measured, "holds": holds, "detail": "", "spread": "a | b"}]
    (root / name / "findings.json").write_text(json.dumps({"notebook": name, "claims": claims}))


def test_render_replaces_only_the_marked_tables(tmp_path):
    _findings(tmp_path, "nb", 0.123456, True)
    text = "intro\n<!-- findings:nb -->\nstale table\n<!-- /findings -->\noutro | kept\n"
    out = render(text, tmp_path)
    assert out == ("intro\n<!-- findings:nb -->\n<details><summary>Every claim of nb: 1 rows (1 holds; 0 descriptions)"
                   "</summary>\n\n| claim | measured | spread | verdict |\n|---|---|---|---|\n"
                   "| A claim | 0.1235 | a / b | holds |\n\n</details>\n<!-- /findings -->\noutro | kept\n")
    assert render(out, tmp_path) == out  # idempotent
    _findings(tmp_path, "nb", 0.5, None)
    assert "| A claim | 0.5 | a / b | n/a |" in render(out, tmp_path)


def test_update_readme_reports_and_fixes_a_stale_table(tmp_path):
    _findings(tmp_path / "figures", "nb", 1.0, False)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- findings:nb -->\nold\n<!-- /findings -->\n")
    assert update_readme(readme, tmp_path / "figures", check=True) is False
    assert "old" in readme.read_text()  # --check writes nothing
    assert update_readme(readme, tmp_path / "figures") is False
    assert "does not hold" in readme.read_text()
    assert update_readme(readme, tmp_path / "figures", check=True) is True


@pytest.mark.parametrize("text, error", [
    ("<!-- findings:missing -->\nx\n<!-- /findings -->\n", FileNotFoundError),
    ("<!-- findings:nb -->\nno closing marker\n", ValueError),
    ("x\n<!-- /findings -->\n", ValueError),
])
def test_render_refuses_broken_markers(tmp_path, text, error):
    _findings(tmp_path, "nb", 0.1, True)
    with pytest.raises(error):
        render(text, tmp_path)


def test_headline_lists_each_notebooks_headlines_with_their_verdicts(tmp_path):
    (tmp_path / "nb").mkdir()
    claims = [{"claim": "X beats Y on a", "measured": 0.02, "holds": True, "verdict": "holds",
               "rule": {"ci": [0.01, 0.03]}},
              {"claim": "X beats Y on b", "measured": -0.01, "holds": False, "verdict": "inconclusive",
               "rule": {"ci": [-0.03, 0.01]}}]
    headlines = [{"paper_claim": "C9: X beats Y", "claims": ["X beats Y on a", "X beats Y on b"], "setting": "tiny"}]
    (tmp_path / "nb" / "findings.json").write_text(json.dumps({"notebook": "nb", "claims": claims, "headlines": headlines}))
    out = render("<!-- headline -->\nstale entry\n<!-- /headline -->\n", tmp_path)
    assert "**C9: X beats Y** — **holds in 1 of 2, inconclusive in 1 of 2** ([nb](notebooks/nb.ipynb))" in out
    assert "  - X beats Y on b: -0.01 [-0.03, 0.01] → inconclusive" in out
    assert "stale entry" not in out and render(out, tmp_path) == out
