"""Verdict rules for the study's claims: holds / does not hold / inconclusive.

A claim compares a *difference* (for example sparse minus dense accuracy, or
mean NNSTD between networks minus the random baseline) with a *margin* fixed
before the numbers are seen, through the difference's confidence interval
``[low, high]``. The margin carries its justification as a sentence (for
example "twice the seed-to-seed standard deviation of dense accuracy measured
in notebook 02's default profile"), and every verdict records it.

Rules (``m`` the margin; a bound exactly on ``±m`` is never decisive):

=================  ===========================  ===============================  ==============
rule               holds                        does not hold                    otherwise
=================  ===========================  ===============================  ==============
equivalence        ``-m < low`` and ``high < m``  ``low > m`` or ``high < -m``    inconclusive
                   (whole CI inside ±m)         (whole CI outside ±m)
non-inferiority    ``low > -m``                 ``high < -m``                    inconclusive
                   (no worse than -m)           (worse than -m)
superiority        ``low > m``                  ``high < m``                     inconclusive
                   (better by more than m)      (not better by m)
=================  ===========================  ===============================  ==============

An interval with a NaN bound (for example from a single seed) is
inconclusive. A verdict on runs that have not converged is at most
inconclusive (:func:`unless_converged`).

The other building blocks: :func:`difference_ci` (Welch interval of a
difference of means), :func:`network_bootstrap_ci` and
:func:`network_jackknife_ci` (intervals of a statistic over *pairs* of
networks that resample *networks*, since the pairs of ``n`` networks are not
independent), :func:`convergence` (has a learning curve stopped moving?) and
:func:`spread_margin` (a margin stated as a multiple of a measured spread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "HOLDS",
    "DOES_NOT_HOLD",
    "INCONCLUSIVE",
    "RULES",
    "Margin",
    "Verdict",
    "Interval",
    "Convergence",
    "decide",
    "equivalence",
    "non_inferiority",
    "superiority",
    "weakest",
    "unless_converged",
    "spread_margin",
    "difference_ci",
    "network_bootstrap_ci",
    "network_jackknife_ci",
    "convergence",
    "convergence_table",
    "last_k_mean",
    "curve_summary",
    "pair_difference_ci",
    "ratio_ci",
    "joint_verdict",
    "bonferroni_level",
    "plateau_before",
    "mean_difference_margin",
]

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
INCONCLUSIVE = "inconclusive"
RULES = ("equivalence", "non-inferiority", "superiority")


# ---------------------------------------------------------------------------
# margins and verdicts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Margin:
    """A margin fixed in advance, with the sentence that justifies it.

    Attributes
    ----------
    value : float, >= 0 (> 0 for equivalence), in the units of the difference.
    justification : non-empty sentence saying where the value comes from.
    """

    value: float
    justification: str

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float, np.floating, np.integer)):
            raise TypeError(f"margin value must be a number, got {self.value!r}")
        if not math.isfinite(float(self.value)) or float(self.value) < 0:
            raise ValueError(f"margin value must be finite and >= 0, got {self.value!r}")
        if not isinstance(self.justification, str) or not self.justification.strip():
            raise ValueError("a margin needs its justification (a non-empty sentence saying where the value comes from)")
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class Verdict:
    """The verdict on one claim and everything it was decided from.

    Attributes
    ----------
    verdict : ``"holds"``, ``"does not hold"`` or ``"inconclusive"``.
    rule : one of :data:`RULES`.
    estimate : the measured difference.
    low, high : its confidence interval.
    margin : the margin's value; justification : why that value.
    note : why a verdict was capped (e.g. unconverged runs), else ``""``.
    """

    verdict: str
    rule: str
    estimate: float
    low: float
    high: float
    margin: float
    justification: str
    note: str = ""

    @property
    def holds(self) -> bool | None:
        """True / False for a decided verdict, None when inconclusive."""
        return None if self.verdict == INCONCLUSIVE else self.verdict == HOLDS

    def describe(self) -> str:
        """One line: verdict, rule, estimate with its interval, margin and its justification."""
        text = (f"{self.verdict} ({self.rule}, margin {self.margin:g}: {self.justification}); "
                f"difference {self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]")
        return text + (f"; {self.note}" if self.note else "")


def _bounds(estimate: float, ci: Sequence[float]) -> tuple[float, float, float]:
    if len(ci) != 2:
        raise ValueError(f"ci must be (low, high), got {ci!r}")
    estimate, low, high = float(estimate), float(ci[0]), float(ci[1])
    if not (math.isnan(low) or math.isnan(high)) and low > high:
        raise ValueError(f"ci must be (low, high) with low <= high, got {ci!r}")
    return estimate, low, high


def decide(rule: str, estimate: float, ci: Sequence[float], margin: Margin) -> Verdict:
    """Apply ``rule`` (see the module table) to a difference's interval ``ci`` and a :class:`Margin`.

    Raises
    ------
    ValueError
        For an unknown rule, an interval with ``low > high``, or a zero margin with ``"equivalence"``.
    TypeError
        When ``margin`` is not a :class:`Margin` (a bare number has no justification).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(RULES)}, got {rule!r}")
    if not isinstance(margin, Margin):
        raise TypeError(f"margin must be a Margin(value, justification), got {margin!r}")
    estimate, low, high = _bounds(estimate, ci)
    m = margin.value
    if rule == "equivalence" and m == 0:
        raise ValueError("an equivalence margin must be > 0 (no interval lies strictly inside ±0)")
    if math.isnan(low) or math.isnan(high):
        verdict = INCONCLUSIVE
    elif rule == "equivalence":
        verdict = HOLDS if (-m < low and high < m) else DOES_NOT_HOLD if (low > m or high < -m) else INCONCLUSIVE
    elif rule == "non-inferiority":
        verdict = HOLDS if low > -m else DOES_NOT_HOLD if high < -m else INCONCLUSIVE
    else:
        verdict = HOLDS if low > m else DOES_NOT_HOLD if high < m else INCONCLUSIVE
    return Verdict(verdict, rule, estimate, low, high, m, margin.justification)


def equivalence(estimate: float, ci: Sequence[float], margin: Margin) -> Verdict:
    """``decide("equivalence", ...)``: holds when the whole interval lies inside ``±margin``."""
    return decide("equivalence", estimate, ci, margin)


def non_inferiority(estimate: float, ci: Sequence[float], margin: Margin) -> Verdict:
    """``decide("non-inferiority", ...)``: holds when the interval lies above ``-margin``."""
    return decide("non-inferiority", estimate, ci, margin)


def superiority(estimate: float, ci: Sequence[float], margin: Margin) -> Verdict:
    """``decide("superiority", ...)``: holds when the interval lies above ``+margin``."""
    return decide("superiority", estimate, ci, margin)


def unless_converged(verdict: Verdict, converged: bool, reason: str = "") -> Verdict:
    """``verdict``, or the same verdict capped at inconclusive when the runs have not converged."""
    if converged or verdict.verdict == INCONCLUSIVE:
        return verdict
    note = "capped at inconclusive: runs not converged" + (f" ({reason})" if reason else "")
    return Verdict(INCONCLUSIVE, verdict.rule, verdict.estimate, verdict.low, verdict.high, verdict.margin,
                   verdict.justification, note)


def spread_margin(values: Sequence[float], multiple: float, what: str) -> Margin:
    """A margin of ``multiple`` times the sample standard deviation of ``values`` (e.g. seeds of one arm).

    The justification names the multiple, the measured SD, the sample size and ``what`` was measured.

    Raises
    ------
    ValueError
        With fewer than 2 values or a multiple <= 0.
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        raise ValueError(f"a spread needs at least 2 values, got {x.size}")
    if not multiple > 0:
        raise ValueError(f"multiple must be > 0, got {multiple!r}")
    sd = float(x.std(ddof=1))
    return Margin(multiple * sd, f"{multiple:g} x the standard deviation ({sd:.4g}) of {what} over {x.size} values")


# ---------------------------------------------------------------------------
# intervals
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A statistic and its confidence interval.

    Attributes
    ----------
    estimate : the statistic on the data as measured.
    low, high : the interval (NaN when the data cannot give one).
    confidence : its level; method : how it was computed; n : sample size (values or networks).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)


def _check_confidence(confidence: float) -> float:
    if not 0 < float(confidence) < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    return float(confidence)


def difference_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval:
    """Welch interval of ``mean(a) - mean(b)`` for two independent samples (e.g. seeds of two arms), from
    :func:`sparsetopo.stats.welch_ci` (scipy's ``ttest_ind(..., equal_var=False).confidence_interval``).

    NaN bounds when either sample has fewer than 2 values; a zero-width interval
    when neither sample varies.
    """
    from ..stats import welch_ci

    confidence = _check_confidence(confidence)
    d, low, high = welch_ci(a, b, confidence)
    return Interval(d, low, high, confidence, "welch", int(np.size(a) + np.size(b)))


def _pair_values(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    """Distances of the pairs formed by resampled networks (a network is never paired with itself)."""
    if cols is None:  # one group: pairs a < b of the resampled list, distinct original networks
        a, b = np.triu_indices(len(rows), k=1)
        i, j = rows[a], rows[b]
        keep = i != j
        return matrix[i[keep], j[keep]]
    return matrix[np.ix_(rows, cols)].ravel()


def _as_matrix(matrix: np.ndarray, between: bool) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {m.shape}")
    if not between:
        if m.shape[0] != m.shape[1]:
            raise ValueError(f"a within-group matrix must be square, got shape {m.shape} (use between=True for two groups)")
        if not np.allclose(m, m.T, equal_nan=True):
            raise ValueError("a within-group distance matrix must be symmetric")
        if m.shape[0] < 3:
            raise ValueError(f"resampling networks needs at least 3 networks, got {m.shape[0]}")
    elif min(m.shape) < 2:
        raise ValueError(f"each group needs at least 2 networks to resample, got shape {m.shape}")
    return m


def network_bootstrap_ci(
    matrix: np.ndarray,
    *,
    between: bool = False,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of a statistic over pairs of networks, resampling the *networks*.

    Parameters
    ----------
    matrix : ``(n, n)`` symmetric distances within one group (the statistic runs over its pairs
        ``i < j``), or with ``between=True`` ``(n_a, n_b)`` distances between two groups (all pairs).
    between : see ``matrix``; the two groups' networks are resampled independently.
    statistic : function of the 1-D array of pair distances (default the mean).
    n_boot : bootstrap replicates (>= 100).
    confidence : level in (0, 1).
    seed : seed of the resampling.

    Returns
    -------
    Interval
        ``estimate`` on all pairs; ``n`` is the number of networks. A replicate that
        draws one network only (no pair) is drawn again.

    Notes
    -----
    The ``n (n - 1) / 2`` pairs of ``n`` networks share networks, so resampling pairs
    as if independent gives intervals that are too narrow; drawing networks with
    replacement and keeping the pairs of distinct drawn networks respects that.
    """
    confidence = _check_confidence(confidence)
    if int(n_boot) < 100:
        raise ValueError(f"n_boot must be >= 100, got {n_boot!r}")
    m = _as_matrix(matrix, between)
    rng = np.random.default_rng(seed)
    if between:
        estimate = float(statistic(m.ravel()))
    else:
        estimate = float(statistic(m[np.triu_indices(m.shape[0], k=1)]))
    reps = np.empty(int(n_boot))
    for r in range(int(n_boot)):
        while True:
            rows = rng.integers(0, m.shape[0], m.shape[0])
            cols = rng.integers(0, m.shape[1], m.shape[1]) if between else None
            values = _pair_values(m, rows, cols)
            if values.size:
                break
        reps[r] = statistic(values)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha])
    n = m.shape[0] + (m.shape[1] if between else 0)
    return Interval(estimate, float(low), float(high), confidence, "bootstrap over networks", int(n))


def network_jackknife_ci(
    matrix: np.ndarray,
    *,
    statistic: Callable[[np.ndarray], float] = np.mean,
    confidence: float = 0.95,
) -> Interval:
    """Delete-one-network jackknife interval of a statistic over the pairs of one group.

    Each replicate leaves one network out (and with it every pair it belongs to);
    the standard error is ``sqrt((n - 1) / n * sum((theta_i - theta_mean) ** 2))`` and
    the interval ``estimate ± t(n - 1) * SE``.

    Parameters
    ----------
    matrix : ``(n, n)`` symmetric distances, ``n >= 3``.
    """
    from scipy import stats

    confidence = _check_confidence(confidence)
    m = _as_matrix(matrix, between=False)
    n = m.shape[0]
    iu = np.triu_indices(n, k=1)
    estimate = float(statistic(m[iu]))
    thetas = np.empty(n)
    for left_out in range(n):
        keep = np.delete(np.arange(n), left_out)
        sub = m[np.ix_(keep, keep)]
        thetas[left_out] = statistic(sub[np.triu_indices(n - 1, k=1)])
    se = math.sqrt((n - 1) / n * float(((thetas - thetas.mean()) ** 2).sum()))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return Interval(estimate, estimate - half, estimate + half, confidence, "jackknife over networks", n)


# ---------------------------------------------------------------------------
# convergence
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Convergence:
    """Whether a learning curve has stopped moving.

    Attributes
    ----------
    converged : ``|last_mean - previous_mean| < threshold``.
    moved : ``last_mean - previous_mean``.
    last_mean : mean of the last ``k`` values; previous_mean : mean of the ``k`` before.
    k, threshold : the rule's parameters.
    """

    converged: bool
    moved: float
    last_mean: float
    previous_mean: float
    k: int
    threshold: float

    def describe(self) -> str:
        state = "converged" if self.converged else "not converged"
        return (f"{state}: mean of the last {self.k} values {self.last_mean:.4f}, of the {self.k} before "
                f"{self.previous_mean:.4f} (moved {self.moved:+.4f}; threshold {self.threshold:g})")


def convergence(curve: Sequence[float], *, k: int = 5, threshold: float = 0.001) -> Convergence:
    """Has ``curve`` (e.g. test accuracy per epoch, in order) converged?

    Converged when the mean of its last ``k`` values moved by less than
    ``threshold`` (in the curve's units: 0.001 is 0.1 accuracy point) from the
    mean of the ``k`` values before them.

    Raises
    ------
    ValueError
        When the curve has fewer than ``2 k`` values, holds NaN, or ``k < 1`` / ``threshold <= 0``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    x = np.asarray(curve, dtype=float)
    if x.ndim != 1 or x.size < 2 * k:
        raise ValueError(f"a convergence check with k={k} needs a 1-D curve of at least {2 * k} values, got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError("curve holds NaN values")
    last, previous = float(x[-k:].mean()), float(x[-2 * k:-k].mean())
    moved = last - previous
    return Convergence(bool(abs(moved) < threshold), moved, last, previous, int(k), float(threshold))


def last_k_mean(curve: Sequence[float], k: int = 5) -> float:
    """Mean of the last ``k`` values of ``curve`` (the accuracy a verdict should use, not one noisy epoch)."""
    x = np.asarray(curve, dtype=float)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= x.size:
        raise ValueError(f"k must be an integer in [1, {x.size}] (the curve's length), got {k!r}")
    return float(x[-k:].mean())


def curve_summary(curve: Sequence[float], *, k: int = 5, threshold: float = 0.001) -> dict:
    """What a verdict reads off one learning curve: ``last`` (:func:`last_k_mean`, over the whole curve when it is
    shorter than ``k``), ``final``, ``best``, and :func:`convergence`'s ``moved`` and ``converged`` (NaN and not
    converged with fewer than ``2 k`` values, as in :func:`convergence_table`)."""
    x = np.asarray(curve, dtype=float)
    if x.size >= 2 * k:
        check = convergence(x, k=k, threshold=threshold)
        moved, converged = check.moved, check.converged
    else:
        moved, converged = math.nan, False
    return {"last": last_k_mean(x, min(k, x.size)), "final": float(x[-1]), "best": float(x.max()),
            "moved": moved, "converged": bool(converged)}


def convergence_table(frame, *, run: str = "run_id", x: str = "epoch", y: str = "test_acc", k: int = 5,
                      threshold: float = 0.001):
    """:func:`convergence` of every run of a tidy learning-curve frame (e.g. :func:`sparsetopo.store.runs.sweep`'s).

    Parameters
    ----------
    frame : pd.DataFrame with columns ``run``, ``x`` and ``y`` (one row per run and epoch).
    run, x, y : column names: the run's identity, the epoch (sorted on) and the value.
    k, threshold : as in :func:`convergence`.

    Returns
    -------
    pd.DataFrame
        One row per run, in order of first appearance: ``run``, ``epochs``, ``last_mean``,
        ``previous_mean``, ``moved``, ``converged`` and ``note``. A run with fewer than
        ``2 k`` values counts as not converged (NaN means, note "fewer than 2k epochs"),
        so a verdict on it is at most inconclusive.
    """
    import pandas as pd

    missing = [c for c in (run, x, y) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the columns {missing}; it has {list(frame.columns)}")
    rows = []
    for key, part in frame.groupby(run, sort=False):
        curve = part.sort_values(x)[y].to_numpy(dtype=float)
        row = {run: key, "epochs": int(len(curve))}
        if len(curve) < 2 * k:
            row.update(last_mean=math.nan, previous_mean=math.nan, moved=math.nan, converged=False,
                       note=f"fewer than {2 * k} epochs")
        else:
            c = convergence(curve, k=k, threshold=threshold)
            row.update(last_mean=c.last_mean, previous_mean=c.previous_mean, moved=c.moved, converged=c.converged,
                       note="")
        rows.append(row)
    return pd.DataFrame(rows)


def weakest(verdicts: Sequence[Verdict]) -> Verdict:
    """The verdict of "every one of these holds" (an intersection-union test): the weakest member.

    Any "does not hold" decides (the one with the lowest upper bound); else any "inconclusive"
    (the one with the lowest lower bound); else all hold and the one with the lowest lower bound
    is returned. The intersection-union test needs no multiplicity correction.
    """
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("weakest() needs at least one verdict")
    failed = [v for v in verdicts if v.verdict == DOES_NOT_HOLD]
    if failed:
        return min(failed, key=lambda v: v.high)
    open_ = [v for v in verdicts if v.verdict == INCONCLUSIVE]
    return min(open_ or verdicts, key=lambda v: (np.nan_to_num(v.low, nan=-np.inf)))


# ---------------------------------------------------------------------------
# two groups of networks, and a ratio to a baseline
# ---------------------------------------------------------------------------


def pair_difference_ci(first: np.ndarray, second: np.ndarray, *, n_boot: int = 2000, confidence: float = 0.95,
                       seed: int = 0) -> Interval:
    """Bootstrap interval of ``mean pairwise distance in first - mean pairwise distance in second``.

    Each matrix holds the distances within one group of networks (square, symmetric, >= 3
    networks). Every replicate draws each group's networks with replacement, independently,
    and keeps the pairs of distinct drawn networks (as :func:`network_bootstrap_ci` does for
    one group): the pairs of ``n`` networks share networks and are not independent.

    Returns
    -------
    Interval
        ``estimate`` on all pairs, percentile interval, ``n`` = networks in both groups.
    """
    x = np.asarray(first, dtype=float)
    y = np.asarray(second, dtype=float)
    for name, m in (("first", x), ("second", y)):
        if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 3:
            raise ValueError(f"{name} must be a square matrix of at least 3 networks, got shape {m.shape}")
        if not np.allclose(m, m.T):
            raise ValueError(f"{name} must be symmetric (distances within one group)")
    if int(n_boot) < 100:
        raise ValueError(f"n_boot must be >= 100, got {n_boot!r}")
    confidence = _check_confidence(confidence)
    rng = np.random.default_rng(seed)

    def draw_mean(m: np.ndarray) -> float:
        while True:
            values = _pair_values(m, rng.integers(0, m.shape[0], m.shape[0]), None)
            if values.size:
                return float(values.mean())

    estimate = float(x[np.triu_indices(len(x), 1)].mean() - y[np.triu_indices(len(y), 1)].mean())
    reps = np.array([draw_mean(x) - draw_mean(y) for _ in range(int(n_boot))])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), float(confidence), "bootstrap over networks, two groups",
                    int(len(x) + len(y)))


def ratio_ci(matrix: np.ndarray, baseline: float, *, n_boot: int = 2000, seed: int = 0) -> Interval:
    """Mean pairwise distance over a random baseline, with a network-bootstrap interval (the
    baseline's own uncertainty, a Monte Carlo mean over many random pairs, is not propagated)."""
    if not baseline > 0:
        raise ValueError(f"baseline must be > 0, got {baseline!r}")
    return network_bootstrap_ci(matrix, statistic=lambda v: float(np.mean(v)) / baseline, n_boot=n_boot, seed=seed)



def joint_verdict(parts: Sequence[Verdict], names: Sequence[str]) -> Verdict:
    """A claim made of several: holds when every part holds, does not hold when one does not, else inconclusive.

    The returned Verdict carries the first part's rule, estimate and interval;
    its note lists every part's verdict.
    """
    if not parts or len(parts) != len(names):
        raise ValueError("give one name per verdict, at least one")
    words = [p.verdict for p in parts]
    word = DOES_NOT_HOLD if DOES_NOT_HOLD in words else HOLDS if all(w == HOLDS for w in words) else INCONCLUSIVE
    first = parts[0]
    note = "joint: " + "; ".join(f"{n}: {p.verdict}" for n, p in zip(names, parts))
    return Verdict(word, first.rule, first.estimate, first.low, first.high, first.margin, first.justification, note)


# ---------------------------------------------------------------------------
# multiplicity, plateaus and margins at a given number of runs
# ---------------------------------------------------------------------------


def bonferroni_level(confidence: float, comparisons: int) -> float:
    """Confidence of each of ``comparisons`` intervals so that all of them cover together with probability at
    least ``confidence`` (Bonferroni): ``1 - (1 - confidence) / comparisons``.

    Raises
    ------
    ValueError
        When ``confidence`` is outside (0, 1) or ``comparisons`` is not a positive integer.
    """
    confidence = _check_confidence(confidence)
    if isinstance(comparisons, bool) or not isinstance(comparisons, (int, np.integer)) or comparisons < 1:
        raise ValueError(f"comparisons must be a positive integer, got {comparisons!r}")
    return 1 - (1 - confidence) / int(comparisons)


def plateau_before(curve: Sequence[float], epochs: int, *, k: int = 5, threshold: float = 0.001) -> Convergence:
    """:func:`convergence` of the first ``epochs`` values of ``curve`` only: has the curve stopped moving
    *before* epoch ``epochs + 1`` (for example before a learning-rate decay, which would flatten any curve)?

    Raises
    ------
    ValueError
        When ``epochs`` is below ``2 k`` or beyond the curve's length, or as :func:`convergence`.
    """
    x = np.asarray(curve, dtype=float)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 2 * k <= epochs <= x.size:
        raise ValueError(f"epochs must be an integer in [{2 * k}, {x.size}] (2 k to the curve's length), got {epochs!r}")
    return convergence(x[: int(epochs)], k=k, threshold=threshold)


def mean_difference_margin(values: Sequence[float], n: int, multiple: float, what: str, *,
                           floor: float = 0.0, floor_why: str = "") -> Margin:
    """A margin of ``multiple`` standard deviations of a *difference of two means of n runs*:
    ``multiple * max(sd, floor) * sqrt(2 / n)``, ``sd`` the sample standard deviation of ``values`` (runs of one
    arm measured apart from the runs compared).

    With ``len(values) == n`` the spread is calibrated at the number of runs the comparison uses. The
    justification names the multiple, the SD, ``n``, ``what`` was measured and the floor when it applied.

    Raises
    ------
    ValueError
        With fewer than 2 values, ``n < 2`` or ``multiple <= 0``.
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        raise ValueError(f"a spread needs at least 2 values, got {x.size}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not multiple > 0:
        raise ValueError(f"multiple must be > 0, got {multiple!r}")
    sd = float(x.std(ddof=1))
    used = max(sd, float(floor))
    floored = f", floored at {floor:.4g}" + (f" ({floor_why})" if floor_why else "") if sd < floor else ""
    return Margin(multiple * used * math.sqrt(2 / int(n)),
                  f"{multiple:g} x the standard deviation of a difference of two means of {int(n)} runs: "
                  f"sqrt(2/{int(n)}) x the run-to-run SD ({sd:.4g}{floored}) of {what} over {x.size} runs")
