"""Shared fixtures: a private run store and NNSTD cache for every test."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)  # bitwise-stable numbers and no oversubscription on small CI machines


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own run store and NNSTD cache."""
    monkeypatch.setenv("SPARSETOPO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("SPARSETOPO_CACHE", str(tmp_path / "cache"))
