"""Confidence intervals and summaries of small samples (pure functions over scipy.stats)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["mean_ci", "format_mean_ci", "column_mean_ci"]


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval ``(mean, low, high)`` of a sample.

    ``None`` entries are dropped. An empty sample gives NaNs; a single value, or
    a sample without spread, gives an interval collapsed onto the mean.
    """
    from scipy import stats

    x = np.asarray([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(x.mean())
    if x.size < 2 or float(x.std(ddof=1)) == 0.0:
        return (m, m, m)
    low, high = stats.t.interval(confidence, df=x.size - 1, loc=m, scale=stats.sem(x))
    return (m, float(low), float(high))


def format_mean_ci(values: Sequence[float], digits: int = 4) -> str:
    """``"mean [low, high] (n=k)"``, or ``"mean (n=1)"`` for one value."""
    m, lo, hi = mean_ci(values)
    n = len(values)
    if n < 2:
        return f"{m:.{digits}f} (n=1)"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] (n={n})"


def column_mean_ci(samples: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Column means of ``(n, m)`` samples and their ``(m, 2)`` Student-t intervals (``n >= 2``)."""
    from scipy import stats

    samples = np.asarray(samples, dtype=float)
    n = samples.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 samples for an interval, got {n}")
    mean = samples.mean(axis=0)
    half = stats.t.ppf(0.5 + confidence / 2, df=n - 1) * samples.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, np.stack([mean - half, mean + half], axis=1)
