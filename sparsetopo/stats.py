"""Confidence intervals and summaries of small samples (pure functions over scipy.stats)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["mean_ci", "format_mean_ci", "column_mean_ci", "welch_ci"]


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
    """Column means of ``(n, m)`` samples and their ``(m, 2)`` Student-t intervals (``n >= 2``).

    The intervals are ``scipy.stats.ttest_1samp(samples, 0, axis=0).confidence_interval(confidence)``;
    a column without spread gives an interval collapsed onto its mean.

    Raises
    ------
    ValueError
        ``samples`` not 2-D, fewer than 2 rows, or ``confidence`` outside (0, 1).
    """
    from scipy import stats

    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2:
        raise ValueError(f"samples must be 2-D (n, m), got shape {samples.shape}")
    n = samples.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 samples for an interval, got {n}")
    _check_confidence(confidence)
    mean = samples.mean(axis=0)
    low, high = mean.copy(), mean.copy()
    spread = samples.std(axis=0, ddof=1) > 0  # a column without spread keeps its collapsed interval
    if spread.any():
        interval = stats.ttest_1samp(samples[:, spread], 0.0, axis=0).confidence_interval(confidence)
        low[spread], high[spread] = interval.low, interval.high
    return mean, np.stack([low, high], axis=1)


def welch_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Welch interval of ``mean(a) - mean(b)`` for two independent samples: ``(difference, low, high)``.

    The bounds are ``scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)``
    (Welch–Satterthwaite degrees of freedom). NaN bounds when either sample has
    fewer than 2 values; an interval collapsed onto the difference when neither
    sample varies.

    Raises
    ------
    ValueError
        An empty sample, or ``confidence`` outside (0, 1).
    """
    from scipy import stats

    _check_confidence(confidence)
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError(f"both samples need values, got {x.size} and {y.size}")
    d = float(x.mean() - y.mean())
    if x.size < 2 or y.size < 2:
        return (d, math.nan, math.nan)
    if x.var(ddof=1) == 0 and y.var(ddof=1) == 0:
        return (d, d, d)
    low, high = stats.ttest_ind(x, y, equal_var=False).confidence_interval(confidence)
    return (d, float(low), float(high))


def _check_confidence(confidence: float) -> None:
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), e.g. 0.95; got {confidence!r}")
