"""Intervals of sparsetopo.stats: scipy's tests give the textbook bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from sparsetopo.stats import column_mean_ci, welch_ci


def _textbook_welch(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, float]:
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = scipy_stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(va + vb)
    d = a.mean() - b.mean()
    return d, d - half, d + half


def test_welch_ci_has_the_bounds_of_the_welch_satterthwaite_formula():
    rng = np.random.default_rng(7)
    for _ in range(50):
        a = rng.normal(0.8, rng.uniform(0.001, 0.05), size=rng.integers(2, 12))
        b = rng.normal(0.79, rng.uniform(0.001, 0.05), size=rng.integers(2, 12))
        confidence = float(rng.choice([0.9, 0.95, 0.99, 1 - 0.05 / 3]))
        assert welch_ci(a, b, confidence) == pytest.approx(_textbook_welch(a, b, confidence), rel=1e-10, abs=1e-12)


def test_welch_ci_small_and_constant_samples():
    d, low, high = welch_ci([0.5], [0.2, 0.3])
    assert d == pytest.approx(0.25) and math.isnan(low) and math.isnan(high)
    assert welch_ci([0.5, 0.5], [0.25, 0.25]) == (0.25, 0.25, 0.25)
    with pytest.raises(ValueError, match="both samples need values"):
        welch_ci([], [1.0, 2.0])
    with pytest.raises(ValueError, match="confidence must be a number in \\(0, 1\\)"):
        welch_ci([1.0, 2.0], [1.0, 3.0], confidence=95)


def test_column_mean_ci_has_the_student_t_bounds_and_collapses_without_spread():
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(6, 3))
    samples[:, 2] = 0.125
    mean, ci = column_mean_ci(samples, 0.9)
    half = scipy_stats.t.ppf(0.95, df=5) * samples.std(axis=0, ddof=1) / math.sqrt(6)
    np.testing.assert_allclose(ci, np.stack([mean - half, mean + half], axis=1), rtol=1e-12, atol=1e-15)
    assert ci[2].tolist() == [0.125, 0.125]
    with pytest.raises(ValueError, match="at least 2 samples"):
        column_mean_ci(samples[:1])
