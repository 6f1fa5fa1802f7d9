"""Findings: claims with plain verdicts and with verdicts decided by a rule of study.verdicts."""

from __future__ import annotations

import json

import pytest

from sparsetopo.study import verdicts as V
from sparsetopo.study.findings import Findings, findings_markdown


def test_plain_claims_serialise_without_rule_fields(tmp_path):
    f = Findings("nb", tmp_path)
    f.claim("A", measured=0.5, holds=True, detail="d", spread="s")
    f.claim("B", measured=None, holds=None)
    claims = json.loads(f.write().read_text())["claims"]
    assert [set(c) for c in claims] == [{"claim", "measured", "holds", "detail", "spread"}] * 2
    assert list(f.table()["verdict"]) == ["holds", "n/a"]


def test_rule_verdicts_are_recorded_with_margin_justification_and_interval(tmp_path):
    f = Findings("nb", tmp_path)
    margin = V.Margin(0.01, "twice the seed-to-seed SD of dense accuracy")
    f.claim_verdict("Sparse matches dense", V.equivalence(-0.002, (-0.015, 0.011), margin), detail="sparse - dense")
    f.claim_verdict("Sparse beats dense", V.superiority(0.03, (0.02, 0.04), margin))
    (spanning, clear) = json.loads(f.write().read_text())["claims"]
    assert spanning["verdict"] == "inconclusive" and spanning["holds"] is None
    assert spanning["rule"] == {"rule": "equivalence", "margin": 0.01, "justification": margin.justification,
                                "ci": [-0.015, 0.011], "note": ""}
    assert spanning["measured"] == pytest.approx(-0.002)
    assert clear["verdict"] == "holds" and clear["holds"] is True
    assert list(f.table()["verdict"]) == ["inconclusive", "holds"]
    table = findings_markdown(tmp_path / "findings.json")
    assert "| Sparse matches dense | -0.002 |  | inconclusive |" in table
    with pytest.raises(TypeError, match="Verdict"):
        f.claim_verdict("C", "holds")
