"""Verdict rules, network-resampling intervals and the convergence check, on synthetic inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparsetopo.study import verdicts as V

M = V.Margin(0.01, "one accuracy point, about twice the seed-to-seed SD of dense")


@pytest.mark.parametrize(
    "rule, ci, expected",
    [
        ("equivalence", (-0.004, 0.006), V.HOLDS),  # whole CI inside ±m
        ("equivalence", (-0.015, 0.002), V.INCONCLUSIVE),  # spans -m
        ("equivalence", (0.005, 0.02), V.INCONCLUSIVE),  # spans +m
        ("equivalence", (-0.02, 0.02), V.INCONCLUSIVE),  # spans both
        ("equivalence", (0.012, 0.03), V.DOES_NOT_HOLD),  # whole CI above +m
        ("equivalence", (-0.05, -0.011), V.DOES_NOT_HOLD),  # whole CI below -m
        ("equivalence", (-0.01, 0.005), V.INCONCLUSIVE),  # a bound exactly on -m decides nothing
        ("non-inferiority", (-0.008, 0.03), V.HOLDS),
        ("non-inferiority", (-0.02, 0.01), V.INCONCLUSIVE),
        ("non-inferiority", (-0.05, -0.02), V.DOES_NOT_HOLD),
        ("superiority", (0.011, 0.03), V.HOLDS),
        ("superiority", (0.0, 0.02), V.INCONCLUSIVE),
        ("superiority", (-0.03, 0.009), V.DOES_NOT_HOLD),
        ("superiority", (0.01, 0.02), V.INCONCLUSIVE),  # lower bound exactly on m
        ("equivalence", (math.nan, math.nan), V.INCONCLUSIVE),  # no interval (one seed)
    ],
)
def test_rule_gives_the_tabled_verdict(rule, ci, expected):
    estimate = 0.0 if math.isnan(ci[0]) else (ci[0] + ci[1]) / 2
    v = V.decide(rule, estimate, ci, M)
    assert v.verdict == expected
    assert v.holds == {V.HOLDS: True, V.DOES_NOT_HOLD: False, V.INCONCLUSIVE: None}[expected]
    assert v.justification == M.justification and v.margin == M.value and v.rule == rule


def test_shorthands_match_decide():
    for fn, rule in ((V.equivalence, "equivalence"), (V.non_inferiority, "non-inferiority"),
                     (V.superiority, "superiority")):
        assert fn(0.0, (-0.001, 0.02), M) == V.decide(rule, 0.0, (-0.001, 0.02), M)


def test_verdict_description_names_rule_margin_justification_and_interval():
    text = V.equivalence(0.001, (-0.004, 0.006), M).describe()
    for part in ("holds", "equivalence", "0.01", M.justification, "-0.004", "0.006"):
        assert part in text


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: V.decide("better", 0, (0, 1), M), ValueError),
        (lambda: V.decide("equivalence", 0, (0.1, -0.1), M), ValueError),
        (lambda: V.decide("equivalence", 0, (0.1,), M), ValueError),
        (lambda: V.decide("equivalence", 0, (-1, 1), 0.01), TypeError),
        (lambda: V.decide("equivalence", 0, (-1, 1), V.Margin(0.0, "zero")), ValueError),
        (lambda: V.Margin(0.01, ""), ValueError),
        (lambda: V.Margin(-0.01, "negative"), ValueError),
        (lambda: V.Margin("0.01", "a string"), TypeError),
    ],
)
def test_bad_rule_inputs_are_refused(call, error):
    with pytest.raises(error):
        call()


def test_unconverged_runs_cap_a_decided_verdict_at_inconclusive():
    decided = V.equivalence(0.0, (-0.004, 0.006), M)
    capped = V.unless_converged(decided, converged=False, reason="static eps=50 still climbing")
    assert capped.verdict == V.INCONCLUSIVE and "not converged" in capped.note and "eps=50" in capped.note
    assert V.unless_converged(decided, converged=True) is decided
    refuted = V.superiority(0.0, (-0.03, 0.0), M)
    assert V.unless_converged(refuted, converged=False).verdict == V.INCONCLUSIVE


def test_spread_margin_states_its_measurement():
    m = V.spread_margin([0.88, 0.885, 0.89], 2, "dense final accuracy")
    assert m.value == pytest.approx(2 * np.std([0.88, 0.885, 0.89], ddof=1))
    assert "dense final accuracy" in m.justification and "3 values" in m.justification
    with pytest.raises(ValueError):
        V.spread_margin([0.9], 2, "one seed")


def test_difference_ci_matches_welch_and_handles_small_samples():
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.01, 5), rng.normal(0.88, 0.02, 7)
    iv = V.difference_ci(a, b)
    res = stats.ttest_ind(a, b, equal_var=False)
    low, high = res.confidence_interval(0.95)
    assert iv.estimate == pytest.approx(a.mean() - b.mean())
    assert (iv.low, iv.high) == pytest.approx((low, high))
    one = V.difference_ci([0.9], b)
    assert math.isnan(one.low) and V.equivalence(one.estimate, one.ci, M).verdict == V.INCONCLUSIVE
    flat = V.difference_ci([0.9, 0.9], [0.8, 0.8])
    assert flat.low == flat.high == pytest.approx(0.1)


def _network_matrix(n: int, seed: int, network_sd: float = 0.05, pair_sd: float = 0.01) -> np.ndarray:
    """Distances with a strong per-network effect: d(i, j) = 0.5 + u_i + u_j + noise."""
    rng = np.random.default_rng(seed)
    u = rng.normal(0, network_sd, n)
    d = 0.5 + u[:, None] + u[None, :] + rng.normal(0, pair_sd, (n, n))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d


def _naive_pair_bootstrap(d: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    pairs = d[np.triu_indices(d.shape[0], k=1)]
    rng = np.random.default_rng(seed)
    reps = [rng.choice(pairs, pairs.size).mean() for _ in range(n_boot)]
    return tuple(np.quantile(reps, [0.025, 0.975]))


def test_network_bootstrap_is_wider_than_a_pair_bootstrap_when_networks_share_effects():
    d = _network_matrix(10, seed=1)
    iv = V.network_bootstrap_ci(d, n_boot=1000, seed=0)
    pair_low, pair_high = _naive_pair_bootstrap(d, 1000, 0)
    assert iv.low <= iv.estimate <= iv.high
    assert iv.estimate == pytest.approx(d[np.triu_indices(10, k=1)].mean())
    assert (iv.high - iv.low) > 1.5 * (pair_high - pair_low)
    assert iv.n == 10 and iv.method == "bootstrap over networks"


def test_network_intervals_cover_the_true_mean_about_as_often_as_stated():
    """Over independent synthetic studies, the jackknife over networks covers the true 0.5 most of the time."""
    covered = 0
    for s in range(60):
        iv = V.network_jackknife_ci(_network_matrix(10, seed=100 + s))
        covered += iv.low <= 0.5 <= iv.high
    assert covered >= 48  # nominal 95%: 57 of 60 expected; a pair-level interval covers far less often


def test_network_bootstrap_is_reproducible_and_refuses_bad_input():
    d = _network_matrix(6, seed=2)
    assert V.network_bootstrap_ci(d, n_boot=200, seed=3) == V.network_bootstrap_ci(d, n_boot=200, seed=3)
    with pytest.raises(ValueError, match="square"):
        V.network_bootstrap_ci(d[:, :5])
    with pytest.raises(ValueError, match="symmetric"):
        V.network_bootstrap_ci(d + np.triu(np.ones_like(d)))
    with pytest.raises(ValueError, match="at least 3"):
        V.network_bootstrap_ci(d[:2, :2])
    with pytest.raises(ValueError, match="n_boot"):
        V.network_bootstrap_ci(d, n_boot=10)


def test_between_groups_bootstrap_resamples_both_groups():
    rng = np.random.default_rng(4)
    d = 0.6 + rng.normal(0, 0.05, (4, 1)) + rng.normal(0, 0.05, (1, 5))
    iv = V.network_bootstrap_ci(d, between=True, n_boot=500, seed=0)
    assert iv.estimate == pytest.approx(d.mean())
    assert iv.low < iv.estimate < iv.high and iv.n == 9


def test_jackknife_of_equal_distances_has_zero_width():
    d = np.full((5, 5), 0.4)
    np.fill_diagonal(d, 0)
    iv = V.network_jackknife_ci(d)
    assert iv.estimate == pytest.approx(0.4) and iv.high - iv.low == pytest.approx(0.0)


def test_convergence_detects_a_climbing_curve_and_a_flat_one():
    climbing = np.linspace(0.80, 0.88, 30)  # +0.0028 per epoch: the last 5 moved 0.0138
    flat = np.r_[np.linspace(0.7, 0.88, 20), np.full(10, 0.88) + 0.0002 * (-1) ** np.arange(10)]
    c = V.convergence(climbing, k=5, threshold=0.001)
    assert not c.converged and c.moved == pytest.approx(5 * (0.08 / 29))
    assert V.convergence(flat, k=5, threshold=0.001).converged
    assert "not converged" in c.describe()


def test_convergence_uses_exactly_the_last_two_windows():
    curve = [0.0] * 7 + [0.5, 0.5, 0.5, 0.6, 0.6, 0.6]  # windows of 3: [0.5]*3 then [0.6]*3
    c = V.convergence(curve, k=3, threshold=0.2)
    assert c.previous_mean == pytest.approx(0.5) and c.last_mean == pytest.approx(0.6) and c.converged
    assert not V.convergence(curve, k=3, threshold=0.05).converged


@pytest.mark.parametrize("curve, k, threshold", [([0.9] * 9, 5, 0.001), ([0.9] * 10, 0, 0.001),
                                                 ([0.9] * 10, 5, 0.0), ([0.9] * 9 + [math.nan], 5, 0.001)])
def test_convergence_refuses_bad_input(curve, k, threshold):
    with pytest.raises(ValueError):
        V.convergence(curve, k=k, threshold=threshold)


def test_last_k_mean():
    assert V.last_k_mean([0.1, 0.2, 0.3, 0.4], k=2) == pytest.approx(0.35)
    with pytest.raises(ValueError):
        V.last_k_mean([0.1, 0.2], k=3)


def test_convergence_table_judges_every_run_and_flags_short_ones():
    import pandas as pd

    rows = []
    for run, curve in {"flat": [0.8] * 4 + [0.85] * 6, "climbing": list(np.linspace(0.5, 0.9, 10)),
                       "short": [0.5, 0.6, 0.7]}.items():
        rows += [{"run_id": run, "epoch": e + 1, "test_acc": v} for e, v in enumerate(curve)]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # epochs out of order: the table sorts them
    table = V.convergence_table(frame, k=3, threshold=0.001).set_index("run_id")
    assert set(table.index) == {"flat", "climbing", "short"}
    assert bool(table.loc["flat", "converged"]) and table.loc["flat", "moved"] == pytest.approx(0.0)
    assert not table.loc["climbing", "converged"]
    assert table.loc["climbing", "moved"] == pytest.approx(3 * 0.4 / 9)
    assert not table.loc["short", "converged"] and "fewer than 6" in table.loc["short", "note"]
    with pytest.raises(ValueError, match="accuracy"):
        V.convergence_table(frame, y="accuracy")


# --------------------------------------------------------------------------- multiplicity, plateaus, margins at n


def test_bonferroni_level_splits_the_error_over_the_comparisons():
    assert V.bonferroni_level(0.95, 1) == pytest.approx(0.95)
    assert V.bonferroni_level(0.95, 12) == pytest.approx(1 - 0.05 / 12)
    with pytest.raises(ValueError, match="comparisons must be a positive integer"):
        V.bonferroni_level(0.95, 0)


def test_plateau_before_reads_only_the_epochs_before_the_decay():
    climbing = list(np.linspace(0.5, 0.9, 10))  # still gaining 4 points per epoch when the rate drops
    flattened = climbing + [0.9] * 10  # ... and flat afterwards only because the decay froze it
    assert V.convergence(flattened, k=5, threshold=0.01).converged  # what an end-of-run check would say
    before = V.plateau_before(flattened, 10, k=5, threshold=0.01)
    assert not before.converged and before.moved == pytest.approx(np.mean(climbing[5:]) - np.mean(climbing[:5]))
    settled = [0.5, 0.7, 0.8, 0.85, 0.88] + [0.9, 0.905, 0.9, 0.902, 0.9] * 2 + [0.93] * 5
    assert V.plateau_before(settled, 15, k=5, threshold=0.01).converged
    with pytest.raises(ValueError, match=r"epochs must be an integer in \[10, 20\]"):
        V.plateau_before(flattened, 8, k=5)


def test_mean_difference_margin_is_calibrated_at_the_number_of_runs():
    values = [0.90, 0.91, 0.89, 0.92, 0.88]
    sd = float(np.std(values, ddof=1))
    m = V.mean_difference_margin(values, 5, 3.0, "dense accuracy")
    assert m.value == pytest.approx(3.0 * sd * math.sqrt(2 / 5))
    assert "two means of 5 runs" in m.justification and "over 5 runs" in m.justification
    # the same spread at 20 runs gives half the margin: the spread of means shrinks as 1/sqrt(n)
    assert V.mean_difference_margin(values, 20, 3.0, "x").value == pytest.approx(m.value / 2)
    floored = V.mean_difference_margin([0.9, 0.9], 2, 2.0, "x", floor=0.01, floor_why="one test sample in 100")
    assert floored.value == pytest.approx(2.0 * 0.01) and "floored at 0.01 (one test sample in 100)" in floored.justification
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        V.mean_difference_margin(values, 1, 3.0, "x")
