"""Shared fixtures: a private runs root per test, and the real data root when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import torch

torch.set_num_threads(1)  # bitwise-stable numbers and no oversubscription on small CI machines


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own run store and NNSTD cache."""
    monkeypatch.setenv("SPARSETOPO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("SPARSETOPO_CACHE", str(tmp_path / "cache"))


def real_data_root() -> Path | None:
    root = os.environ.get("SPARSETOPO_DATA")
    return Path(root) if root else None


def require_real(*relative: str) -> Path:
    """Skip (with the reason printed by -ra) unless the data root holds these paths."""
    root = real_data_root()
    if root is None:
        pytest.skip("SPARSETOPO_DATA is not set; real-data test skipped")
    for rel in relative:
        if not (root / rel).exists():
            pytest.skip(f"{root / rel} is absent; real-data test skipped")
    return root
