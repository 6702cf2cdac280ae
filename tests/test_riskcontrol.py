"""The bounds and calibrators of eenn.decision.riskcontrol, on synthetic losses with known means."""

import math

import numpy as np
import pytest
from scipy.stats import binom

from eenn.decision import riskcontrol
from eenn.errors import EennError


@pytest.mark.parametrize("mean, n, alpha", [(0.0, 100, 0.05), (0.02, 360, 0.05), (0.1, 50, 0.2), (0.3, 20, 0.1)])
def test_hoeffding_bentkus_pvalue_is_the_smaller_of_its_two_tails(mean, n, alpha):
    a = min(mean, alpha)
    kl = (a * math.log(a / alpha) if a else 0.0) + (1 - a) * math.log((1 - a) / (1 - alpha))
    expected = min(math.exp(-n * kl), math.e * binom.cdf(math.ceil(n * mean - 1e-9), n, alpha), 1.0)
    assert riskcontrol.hoeffding_bentkus_pvalue(mean, n, alpha) == pytest.approx(expected, rel=1e-12)


def test_hoeffding_bentkus_bound_inverts_the_pvalue():
    means = np.array([0.0, 0.01, 0.05, 0.2])
    bound = riskcontrol.hoeffding_bentkus_bound(means, 400, 0.1)
    assert np.all(bound > means) and np.all(bound < 1)
    assert np.all(riskcontrol.hoeffding_bentkus_pvalue(means, 400, bound) <= 0.1 + 1e-9)
    assert np.all(riskcontrol.hoeffding_bentkus_pvalue(means, 400, bound - 1e-6) > 0.1)
    assert np.all(np.diff(bound) > 0)
    assert riskcontrol.hoeffding_bentkus_bound(0.05, 4000, 0.1) < riskcontrol.hoeffding_bentkus_bound(0.05, 400, 0.1)


def test_wsr_bound_lies_above_the_mean_and_tightens_with_more_samples(rng):
    short, long = rng.random(100) < 0.1, rng.random(5000) < 0.1
    b_short = riskcontrol.wsr_bound(short.astype(float), 0.1)
    b_long = riskcontrol.wsr_bound(long.astype(float), 0.1)
    assert short.mean() < b_short < 1 and long.mean() < b_long < b_short
    assert riskcontrol.wsr_rejects(long.astype(float), b_long + 1e-6, 0.1)
    assert not riskcontrol.wsr_rejects(long.astype(float), b_long - 1e-3, 0.1)


@pytest.mark.parametrize("bound", ["hb", "wsr"])
def test_upper_bounds_cover_the_true_mean_at_level_delta(rng, bound):
    """2,000 samples of 200 Bernoulli(0.1) losses: the bound is below 0.1 in at most delta of them."""
    delta, p = 0.1, 0.1
    x = (rng.random((2000, 200)) < p).astype(float)
    if bound == "hb":
        below = riskcontrol.hoeffding_bentkus_bound(x.mean(axis=1), 200, delta) < p
    else:
        below = riskcontrol.wsr_rejects(x, p, delta)
    assert below.mean() <= delta
    assert below.mean() < 0.5  # and the test is not vacuous: the empirical mean alone misses half the time


def test_the_certified_run_stops_at_the_first_failure():
    """Losses not monotone in the setting: setting 2 passes again, but the run ended at setting 1."""
    losses = np.zeros((1000, 4))
    losses[:300, 1] = 1
    losses[:10, 3] = 1
    result = riskcontrol.calibrate(losses, "ucb-hb", 0.05, 0.1, 0.0, 1.0)
    assert result.certified.tolist() == [True, False, False, False] and result.count == 1


def test_crc_monotonizes_each_units_loss():
    """Unit losses 1 at setting 1 only: CRC still counts them at settings 2 and 3."""
    losses = np.zeros((99, 4))
    losses[:3, 1] = 1
    result = riskcontrol.calibrate(losses, "crc", 0.05, 0.1, 0.0, 1.0)
    expected = 99 / 100 * np.array([0, 3, 3, 3]) / 99 + 1 / 100
    np.testing.assert_allclose(result.bound, expected)
    assert result.certified.all()
    assert not riskcontrol.calibrate(losses, "crc", 0.035, 0.1, 0.0, 1.0).certified[1:].any()


def test_calibrations_run_batched():
    """Leading axes are independent calibrations, each as if run alone."""
    rng = np.random.default_rng(0)
    losses = (rng.random((7, 300, 5)) < np.linspace(0, 0.1, 5)).astype(float)
    for method in riskcontrol.METHODS:
        batched = riskcontrol.calibrate(losses, method, 0.05, 0.1, 0.0, 1.0)
        for k in range(len(losses)):
            alone = riskcontrol.calibrate(losses[k], method, 0.05, 0.1, 0.0, 1.0)
            np.testing.assert_array_equal(batched.certified[k], alone.certified)
            np.testing.assert_allclose(batched.bound[k], alone.bound)


def test_signed_losses_are_bounded_on_their_range():
    """A gap in [-1, 1] at -1 everywhere is as safe as it gets: certified."""
    losses = -np.ones((500, 2))
    assert riskcontrol.calibrate(losses, "ucb-hb", 0.05, 0.1, -1.0, 1.0).certified.all()
    assert riskcontrol.calibrate(losses, "crc", 0.05, 0.1, -1.0, 1.0).certified.all()


def test_cheapest_picks_the_least_cost_among_the_certified():
    certified = np.array([[True, True, True, False], [False, False, False, False]])
    cost = np.array([10.0, 4.0, 6.0, 1.0])
    assert riskcontrol.cheapest(certified, cost).tolist() == [1, -1]


def test_minimum_units_is_where_zero_risk_first_certifies():
    n = riskcontrol.minimum_units("ucb-hb", 0.05, 0.1, 0.0, 1.0)
    assert riskcontrol.calibrate(np.zeros((n, 1)), "ucb-hb", 0.05, 0.1, 0.0, 1.0).certified.all()
    assert not riskcontrol.calibrate(np.zeros((n - 1, 1)), "ucb-hb", 0.05, 0.1, 0.0, 1.0).certified.any()
    assert riskcontrol.minimum_units("crc", 0.05, 0.1, 0.0, 1.0) == 19  # 1/(n+1) <= 0.05
    assert riskcontrol.minimum_units("ucb-wsr", 0.05, 0.1, 0.0, 1.0) > 1


@pytest.mark.parametrize("epsilon, delta, message", [(0.0, 0.1, "epsilon must be in"), (1.2, 0.1, "epsilon"),
                                                     (0.05, 1.0, "delta must be in")])
def test_levels_outside_the_open_unit_interval_are_refused(epsilon, delta, message):
    with pytest.raises(EennError, match=message):
        riskcontrol.calibrate(np.zeros((100, 2)), "ucb-hb", epsilon, delta, 0.0, 1.0)


def test_nan_losses_and_unknown_methods_are_refused():
    losses = np.zeros((100, 2))
    losses[3, 1] = np.nan
    with pytest.raises(EennError, match="NaN"):
        riskcontrol.calibrate(losses, "crc", 0.05, 0.1, 0.0, 1.0)
    with pytest.raises(EennError, match="'bonferroni' is not one of"):
        riskcontrol.calibrate(np.zeros((100, 2)), "bonferroni", 0.05, 0.1, 0.0, 1.0)
