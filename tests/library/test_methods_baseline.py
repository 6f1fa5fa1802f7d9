"""Static and SET give the numbers they gave before mask updaters were plug-ins, bit for bit.

``fixtures/methods_baseline.json`` was written by ``fixtures/record_methods_baseline.py`` from the code before
the change (one torch thread, as here): every number of ``metrics.json`` but the timings, the content hash of
every topology snapshot, the sha256 of the final weights and the run id of each case.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import record_methods_baseline as recorder  # noqa: E402

BASELINE = json.loads((FIXTURES / "methods_baseline.json").read_text())


def test_the_baseline_covers_default_static_and_set_on_both_backends():
    methods = {(case["config"]["method"], case["config"].get("backend", "masked")) for case in BASELINE.values()}
    assert methods == {("set", "masked"), ("set", "sparse"), ("static", "masked"), ("static", "sparse")}


@pytest.mark.parametrize("name", sorted(BASELINE))
def test_static_and_set_runs_repeat_the_recorded_numbers_bit_for_bit(name, tmp_path):
    case = BASELINE[name]
    now = recorder.record(case["config"], str(tmp_path))
    assert now["run_id"] == case["run_id"]
    assert now["snapshots"] == case["snapshots"]
    assert now["records"] == case["records"]  # floats compared exactly: JSON keeps every bit of a double
    assert now["final_weights"] == case["final_weights"]
