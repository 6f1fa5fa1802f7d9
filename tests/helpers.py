"""Helpers shared by the tests (import as ``from helpers import ...``; ``tests/`` is on pytest's path)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


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


def require_published() -> Path:
    """The published topologies' folder (``e5_s0_w*`` run folders); skip when the data root lacks it."""
    from sparsetopo.data import PUBLISHED_TOPOLOGIES, published_topologies_dir

    require_real(str(PUBLISHED_TOPOLOGIES))
    return published_topologies_dir()


def small_cnn(seed: int, channels=(4, 6), density=0.4) -> list[np.ndarray]:
    """Masks of a small CNN chain: conv 3x3 (1 -> c1), conv 3x3 (c1 -> c2), flatten 2x2 maps, linear 5, linear 3."""
    rng = np.random.default_rng(seed)
    c1, c2 = channels
    return [
        rng.random((c1, 1, 3, 3)) < density,
        rng.random((c2, c1, 3, 3)) < density,
        rng.random((5, c2 * 4)) < density,
        rng.random((3, 5)) < density,
    ]
