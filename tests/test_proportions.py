"""Tests for :mod:`outcomes.proportions`.

Reference values are cited beside each case. Independent checks compare with statsmodels and
scipy on seeded random inputs; simulation checks estimate interval coverage and test size on
data with known truth, beside the exact coverage computed by summing binomial probabilities.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from outcomes.exceptions import InputError, StatisticalWarning
from outcomes.proportions import (
    ProportionResult,
    RiskDifferenceResult,
    _wilson_interval,
    holm,
    proportion,
    risk_difference,
)

Z95 = stats.norm.ppf(0.975)
# Printed values carry 4 decimals: allow half a unit in the last place (plus float noise).
PRINTED_4DP = 0.5e-4 + 1e-9


# --------------------------------------------------------------------------------------------
# Published reference values
# --------------------------------------------------------------------------------------------

# Newcombe RG (1998a) Stat Med 17:857-872, Table I, doi 10.1002/(SICI)1097-0258(19980430)17:8
# <857::AID-SIM777>3.0.CO;2-E. Columns: method 3 (Wilson score, no continuity correction) and
# method 5 (Clopper-Pearson exact). 81/263 and 15/148 Wilson limits are also reproduced in the
# tests of R package propint (m-Py/propint, tests/testthat, "Single proportion CI").
NEWCOMBE_1998A_TABLE_I = [
    # count, nobs, (method 3 low, high), (method 5 low, high)
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0000, 0.1611), (0.0000, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
    (29, 29, (0.8830, 1.0000), (0.8806, 1.0000)),
    (0, 1, (0.0000, 0.7935), (0.0000, 0.9750)),
]

# Newcombe RG (1998b) Stat Med 17:873-890, Table II, method 10 (hybrid score),
# doi 10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I. Cases (a) and (b) are
# also reproduced in R propint's tests ("Two independent proportions CI") and case (d) in
# R ratesci's tests ("Newcombe RD example (d)", moverci(type = "wilson")).
NEWCOMBE_1998B_TABLE_II = [
    ("a", 56, 70, 48, 80, (0.0524, 0.3339)),
    ("b", 9, 10, 3, 10, (0.1705, 0.8090)),
    ("c", 6, 7, 2, 7, (0.0582, 0.8062)),
    ("d", 5, 56, 0, 29, (-0.0381, 0.1926)),
    ("e", 0, 10, 0, 20, (-0.1611, 0.2775)),
    ("f", 0, 10, 0, 10, (-0.2775, 0.2775)),
    ("g", 10, 10, 0, 20, (0.6791, 1.0000)),
    ("h", 10, 10, 0, 10, (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("count", "nobs", "wilson", "exact"), NEWCOMBE_1998A_TABLE_I)
def test_single_proportion_newcombe_1998a_table_i(count, nobs, wilson, exact):
    # Newcombe 1998, Stat Med 17:857, Table I, methods 3 and 5
    res_w = proportion(count, nobs, method="wilson")
    res_e = proportion(count, nobs, method="exact")
    assert res_w.ci == pytest.approx(wilson, abs=PRINTED_4DP)
    assert res_e.ci == pytest.approx(exact, abs=PRINTED_4DP)
    assert res_w.estimate == count / nobs


@pytest.mark.parametrize(("case", "c1", "n1", "c2", "n2", "expected"), NEWCOMBE_1998B_TABLE_II)
def test_risk_difference_newcombe_1998b_table_ii(case, c1, n1, c2, n2, expected):
    # Newcombe 1998, Stat Med 17:873, Table II, case (case), method 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # zero cells in (d)-(h): odds ratio
        res = risk_difference(c1, n1, c2, n2)
    assert res.ci == pytest.approx(expected, abs=PRINTED_4DP)
    assert res.estimate == pytest.approx(c1 / n1 - c2 / n2)


def test_fagerland_2015_example():
    # Fagerland MW, Lydersen S, Laake P (2015) Stat Methods Med Res 24:224-254,
    # doi 10.1177/0962280211415469: 7/34 vs 1/34 (as reproduced in statsmodels'
    # stats/tests/test_proportion.py::test_confint_2indep). Printed to 2 significant digits.
    res = risk_difference(7, 34, 1, 34)
    assert res.ci == pytest.approx((0.019, 0.34), abs=0.005)  # Newcombe hybrid score
    wald = risk_difference(7, 34, 1, 34, method="wald")
    assert wald.ci == pytest.approx((0.029, 0.32), abs=0.005)  # Wald
    assert res.odds_ratio == pytest.approx(7 * 33 / (27 * 1))
    assert res.odds_ratio_ci.low == pytest.approx(0.99, abs=0.005)  # Woolf logit
    assert res.odds_ratio_ci.high == pytest.approx(74, abs=0.5)


def test_binom_test_r_example_mendel():
    # R ?binom.test: binom.test(682, 925, p = 0.75) (Mendel's peas):
    # p-value = 0.3825, 95 percent CI 0.7076683 0.7654066 (Clopper-Pearson)
    res = proportion(682, 925, stated=0.75, method="exact")
    assert res.pvalue == pytest.approx(0.3825, abs=0.5e-4)
    assert res.ci == pytest.approx((0.7076683, 0.7654066), abs=0.5e-7)


def test_fisher_r_example_tea_tasting():
    # R ?fisher.test: TeaTasting <- matrix(c(3, 1, 1, 3), nrow = 2);
    # fisher.test(TeaTasting, alternative = "greater"): p-value = 0.2429
    res = risk_difference(3, 4, 1, 4, alternative="greater")
    assert res.pvalue == pytest.approx(0.2429, abs=0.5e-4)
    assert res.test == "fisher"
    assert res.ci.high == 1.0


# --------------------------------------------------------------------------------------------
# Independent checks on seeded random inputs
# --------------------------------------------------------------------------------------------


@pytest.fixture
def random_counts():
    rng = np.random.default_rng(20240611)
    nobs = rng.integers(1, 400, size=60)
    count = rng.binomial(nobs, rng.uniform(0.02, 0.98, size=nobs.size))
    # include the boundaries
    return list(zip(count.tolist(), nobs.tolist())) + [(0, 17), (17, 17), (0, 1), (1, 1)]


@pytest.mark.parametrize(("method", "sm_method"), [("wilson", "wilson"), ("exact", "beta")])
def test_interval_matches_statsmodels(random_counts, method, sm_method):
    for count, nobs in random_counts:
        for level in (0.8, 0.95, 0.99):
            res = proportion(count, nobs, method=method, confidence_level=level)
            expected = proportion_confint(count, nobs, alpha=1 - level, method=sm_method)
            assert res.ci == pytest.approx(expected, abs=1e-10), (count, nobs, level)


def test_jeffreys_matches_statsmodels(random_counts):
    for count, nobs in random_counts:
        res = proportion(count, nobs, method="jeffreys")
        low, high = proportion_confint(count, nobs, alpha=0.05, method="jeffreys")
        # Brown, Cai & DasGupta (2001) boundary modification: 0 at x = 0, 1 at x = n;
        # statsmodels keeps the plain beta quantile there.
        expected_low = 0.0 if count == 0 else low
        expected_high = 1.0 if count == nobs else high
        assert res.ci == pytest.approx((expected_low, expected_high), abs=1e-10)


@pytest.mark.parametrize(("method", "scipy_method"), [("wilson", "wilson"), ("exact", "exact")])
@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided_interval_matches_scipy(random_counts, method, scipy_method, alternative):
    for count, nobs in random_counts:
        res = proportion(count, nobs, method=method, alternative=alternative, stated=0.4)
        ref = stats.binomtest(count, nobs, p=0.4, alternative=alternative)
        expected = ref.proportion_ci(confidence_level=0.95, method=scipy_method)
        assert res.ci == pytest.approx(tuple(expected), abs=1e-9), (count, nobs)
        assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-12)


def test_pvalue_matches_scipy_binomtest(random_counts):
    for count, nobs in random_counts:
        res = proportion(count, nobs, stated=0.9)
        assert res.pvalue == pytest.approx(stats.binomtest(count, nobs, 0.9).pvalue, rel=1e-12)


@pytest.fixture
def random_tables():
    rng = np.random.default_rng(7)
    n1 = rng.integers(1, 150, size=40)
    n2 = rng.integers(1, 150, size=40)
    c1 = rng.binomial(n1, rng.uniform(0.05, 0.95, size=40))
    c2 = rng.binomial(n2, rng.uniform(0.05, 0.95, size=40))
    return list(zip(c1.tolist(), n1.tolist(), c2.tolist(), n2.tolist()))


@pytest.mark.parametrize(("method", "sm_method"), [("newcombe", "newcomb"), ("wald", "wald")])
def test_risk_difference_matches_statsmodels(random_tables, method, sm_method):
    for c1, n1, c2, n2 in random_tables:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            res = risk_difference(c1, n1, c2, n2, method=method, confidence_level=0.9)
        expected = confint_proportions_2indep(
            c1, n1, c2, n2, method=sm_method, compare="diff", alpha=0.1
        )
        assert res.ci == pytest.approx(tuple(expected), abs=1e-10), (c1, n1, c2, n2)


def test_odds_ratio_matches_statsmodels_woolf(random_tables):
    for c1, n1, c2, n2 in random_tables:
        table = np.array([[c1, n1 - c1], [c2, n2 - c2]])
        zero = bool((table == 0).any())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = risk_difference(c1, n1, c2, n2)
        assert any(issubclass(w.category, StatisticalWarning) for w in caught) == zero
        # Haldane-Anscombe: 0.5 added to every cell when one is zero. (statsmodels'
        # Table2x2(shift_zeros=True) shifts only the zero cells, so the shift is made here.)
        ref = Table2x2(table + 0.5 if zero else table, shift_zeros=False)
        assert res.odds_ratio == pytest.approx(ref.oddsratio, rel=1e-10)
        assert res.odds_ratio_ci == pytest.approx(ref.oddsratio_confint(alpha=0.05), rel=1e-10)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_exact_tests_match_scipy(random_tables, alternative):
    for c1, n1, c2, n2 in random_tables[:12]:
        # groups as columns, as scipy's unconditional tests expect
        table = [[c1, c2], [n1 - c1, n2 - c2]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            fisher = risk_difference(c1, n1, c2, n2, alternative=alternative)
            boschloo = risk_difference(c1, n1, c2, n2, alternative=alternative, test="boschloo")
        expected_f = stats.fisher_exact(table, alternative=alternative).pvalue
        expected_b = stats.boschloo_exact(table, alternative=alternative).pvalue
        assert fisher.pvalue == pytest.approx(expected_f, rel=1e-12)
        assert boschloo.pvalue == pytest.approx(expected_b, rel=1e-12)


def test_alternative_direction_means_p1_versus_p2():
    # 9/10 vs 3/10 (Newcombe 1998b case (b)): strong evidence that p1 > p2.
    for test in ("fisher", "boschloo"):
        greater = risk_difference(9, 10, 3, 10, alternative="greater", test=test)
        less = risk_difference(9, 10, 3, 10, alternative="less", test=test)
        two = risk_difference(9, 10, 3, 10, test=test)
        assert greater.pvalue < 0.05 < less.pvalue
        assert greater.pvalue <= two.pvalue
        assert greater.ci.low > 0 and greater.ci.high == 1.0
        assert less.ci.low == -1.0 and less.ci.high > 0
        assert greater.odds_ratio_ci.high == math.inf and less.odds_ratio_ci.low == 0.0
    # Swapping the groups mirrors the difference and its interval.
    a = risk_difference(9, 10, 3, 10)
    b = risk_difference(3, 10, 9, 10)
    assert b.estimate == pytest.approx(-a.estimate)
    assert (b.ci.low, b.ci.high) == pytest.approx((-a.ci.high, -a.ci.low))
    assert b.pvalue == pytest.approx(a.pvalue)


def test_public_wilson_uses_vectorised_kernel(random_counts):
    counts = np.array([c for c, _ in random_counts])
    nobs = np.array([n for _, n in random_counts])
    low, high = _wilson_interval(counts, nobs, Z95)
    for i, (c, n) in enumerate(random_counts):
        assert proportion(c, n).ci == pytest.approx((low[i], high[i]), abs=1e-15)


# --------------------------------------------------------------------------------------------
# n_to_settle
# --------------------------------------------------------------------------------------------


def _settled_by_design(low, high, stated, margin):
    """the README: below / above / consistent are settled; 'contains p0 but wider' is not."""
    low, high = np.asarray(low), np.asarray(high)
    return (high < stated) | (low > stated) | ((low >= stated - margin) & (high <= stated + margin))


SM_METHOD = {"wilson": "wilson", "exact": "beta", "jeffreys": "jeffreys"}


@pytest.mark.parametrize(
    ("count", "nobs", "stated", "margin", "method"),
    [
        (45, 50, 0.90, 0.05, "wilson"),  # on the stated figure: settles as 'consistent'
        (40, 50, 0.90, 0.05, "exact"),  # below the figure: settles as 'below'
        (88, 100, 0.90, 0.05, "jeffreys"),
        (27, 40, 0.50, 0.10, "wilson"),
        (12, 20, 0.50, 0.05, "exact"),
        (3, 10, 0.50, 0.05, "wilson"),
    ],
)
def test_n_to_settle_brute_force(count, nobs, stated, margin, method):
    res = proportion(count, nobs, stated=stated, margin=margin, method=method)
    n_star = res.n_to_settle
    assert n_star is not None and n_star >= nobs
    assert res.additional_to_settle == n_star - nobs
    # Every n from nobs to n_to_settle, intervals computed directly by statsmodels at the
    # same observed proportion: unsettled before n_to_settle, settled at it.
    n = np.arange(nobs, n_star + 1)
    low, high = proportion_confint(count / nobs * n, n, alpha=0.05, method=SM_METHOD[method])
    settled = _settled_by_design(low, high, stated, margin)
    assert settled[-1]
    assert not settled[:-1].any()
    if n_star > nobs:
        # the observed data are inconclusive
        assert not _settled_by_design(res.ci.low, res.ci.high, stated, margin)


def test_n_to_settle_already_settled_and_absent():
    # 30/40 = 0.75: Wilson interval (0.598, 0.858) lies wholly above 0.5 -> settled now
    res = proportion(30, 40, stated=0.5)
    assert res.ci.low > 0.5
    assert res.n_to_settle == 40 and res.additional_to_settle == 0
    assert proportion(30, 40).n_to_settle is None
    assert proportion(30, 40).additional_to_settle is None
    assert proportion(30, 40).pvalue is None


# --------------------------------------------------------------------------------------------
# Edge cases, result shape
# --------------------------------------------------------------------------------------------


def test_nobs_zero_warns_and_returns_nan():
    with pytest.warns(StatisticalWarning, match="`nobs` is 0"):
        res = proportion(0, 0, stated=0.9)
    assert math.isnan(res.estimate)
    assert math.isnan(res.ci.low) and math.isnan(res.ci.high)
    assert res.n_to_settle is None and res.pvalue is None
    with pytest.warns(StatisticalWarning, match="has no patients"):
        rd = risk_difference(0, 0, 3, 10)
    assert math.isnan(rd.estimate) and math.isnan(rd.ci.low) and math.isnan(rd.odds_ratio)


@pytest.mark.parametrize("test", ["fisher", "boschloo"])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_empty_group_exact_test_p_is_one_as_r(test, alternative):
    # R 4.2.2: fisher.test(matrix(c(3, 7, 0, 0), 2), alternative = a)$p.value is 1 for a in
    # "two.sided", "less", "greater" (the observed table is the only one with these margins).
    with pytest.warns(StatisticalWarning, match="has no patients"):
        rd = risk_difference(3, 10, 0, 0, test=test, alternative=alternative)
    assert rd.pvalue == 1.0


def test_zero_cell_warns_haldane():
    with pytest.warns(StatisticalWarning, match="Haldane-Anscombe"):
        res = risk_difference(5, 56, 0, 29)
    # Haldane-Anscombe: (5.5 * 29.5) / (51.5 * 0.5)
    assert res.odds_ratio == pytest.approx(5.5 * 29.5 / (51.5 * 0.5))
    assert res.odds_ratio_ci.low < res.odds_ratio < res.odds_ratio_ci.high


def test_intervals_stay_in_unit_range(random_counts):
    for count, nobs in random_counts:
        for method in ("wilson", "exact", "jeffreys"):
            low, high = proportion(count, nobs, method=method).ci
            assert 0.0 <= low <= count / nobs <= high <= 1.0


def test_result_shape():
    res = proportion(45, 50, stated=0.9)
    assert isinstance(res, ProportionResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.count = 3  # type: ignore[misc]
    assert not hasattr(res, "__dict__")  # slots
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 1
    assert {"estimate", "ci_low", "ci_high", "pvalue", "stated", "n_to_settle",
            "additional_to_settle", "method"} <= set(frame.columns)  # fmt: skip
    assert frame.loc[0, "ci_low"] == res.ci.low
    assert "ci_low" in res._repr_html_()

    rd = risk_difference(56, 70, 48, 80)
    assert isinstance(rd, RiskDifferenceResult)
    frame = rd.to_frame()
    assert {"estimate", "ci_low", "ci_high", "odds_ratio", "odds_ratio_ci_low",
            "odds_ratio_ci_high", "pvalue", "test", "alternative"} <= set(frame.columns)  # fmt: skip
    assert "odds_ratio_ci_high" in rd._repr_html_()
    assert not hasattr(rd, "__dict__")


# --------------------------------------------------------------------------------------------
# Holm
# --------------------------------------------------------------------------------------------


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(11)
    for size in (1, 2, 5, 17):
        p = rng.uniform(0, 0.2, size=size)
        p[rng.integers(0, size)] = p.min()  # a tie
        expected = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(holm(p), expected, rtol=1e-12)


def test_holm_missing_values_excluded_from_family():
    p = [0.01, None, 0.04, float("nan"), 0.03]
    out = holm(p)
    assert np.isnan(out[1]) and np.isnan(out[3])
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    np.testing.assert_allclose(out[[0, 2, 4]], expected, rtol=1e-12)
    assert np.isnan(holm([None, None])).all()
    assert holm([]).shape == (0,)


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: proportion(11, 10), r"`count` must be at most `nobs` \(10\); got 11\."),
        (lambda: proportion(-1, 10), r"`count` must be a non-negative whole number; got -1\."),
        (lambda: proportion(2.5, 10), r"`count` must be a non-negative whole number; got 2\.5\."),
        (lambda: proportion(2, 10.5), r"`nobs` must be a non-negative whole number; got 10\.5\."),
        (lambda: proportion(True, 10), r"`count` must be a non-negative whole number; got True\."),
        (lambda: proportion(2, 10, stated=1.0),
         r"`stated` must be a number strictly between 0 and 1; got 1\.0\."),
        (lambda: proportion(2, 10, stated=0),
         r"`stated` must be a number strictly between 0 and 1; got 0\."),
        (lambda: proportion(2, 10, stated=90),
         r"`stated` must be a number strictly between 0 and 1; got 90\."),
        (lambda: proportion(2, 10, margin=0),
         r"`margin` must be a number strictly between 0 and 1; got 0\."),
        (lambda: proportion(2, 10, method="Wilson"),
         r"`method` must be one of 'wilson', 'exact', 'jeffreys'; got 'Wilson'\."),
        (lambda: proportion(2, 10, alternative="two.sided"),
         r"`alternative` must be one of 'two-sided', 'less', 'greater'; got 'two.sided'\."),
        (lambda: proportion(2, 10, confidence_level=95),
         r"`confidence_level` must be a number strictly between 0 and 1; got 95\."),
        (lambda: risk_difference(5, 4, 1, 4), r"`count1` must be at most `nobs1` \(4\); got 5\."),
        (lambda: risk_difference(1, 4, 5, 4), r"`count2` must be at most `nobs2` \(4\); got 5\."),
        (lambda: risk_difference(1, 4, -1, 4),
         r"`count2` must be a non-negative whole number; got -1\."),
        (lambda: risk_difference(1, 4, 1, 4, method="newcomb"),
         r"`method` must be one of 'newcombe', 'wald'; got 'newcomb'\."),
        (lambda: risk_difference(1, 4, 1, 4, test="barnard"),
         r"`test` must be one of 'fisher', 'boschloo'; got 'barnard'\."),
        (lambda: risk_difference(1, 4, 1, 4, confidence_level=1.0),
         r"`confidence_level` must be a number strictly between 0 and 1; got 1\.0\."),
        (lambda: holm([0.01, 1.5]),
         r"`pvalues` must be numbers between 0 and 1 \(NaN or None when missing\); got 1\.5\."),
        (lambda: holm(["a"]), r"`pvalues` must be numbers between 0 and 1"),
        (lambda: holm([[0.1, 0.2]]), r"`pvalues` must be one-dimensional; got shape \(1, 2\)\."),
    ],
)  # fmt: skip
def test_input_validation(call, match):
    with pytest.raises(InputError, match=match):
        call()


# --------------------------------------------------------------------------------------------
# Simulation: coverage and size on data with known truth
# --------------------------------------------------------------------------------------------


def _exact_wilson_coverage(p, n):
    x = np.arange(n + 1)
    low, high = _wilson_interval(x, n, Z95)
    return stats.binom.pmf(x, n, p)[(low <= p) & (p <= high)].sum()


def _newcombe_limits(x1, n1, x2, n2):
    """Vectorised Newcombe method 10 from the module's Wilson kernel."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = _wilson_interval(x1, n1, Z95)
    l2, u2 = _wilson_interval(x2, n2, Z95)
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def _exact_newcombe_coverage(p1, n1, p2, n2):
    x1 = np.arange(n1 + 1)[:, None]
    x2 = np.arange(n2 + 1)[None, :]
    low, high = _newcombe_limits(x1, n1, x2, n2)
    weight = stats.binom.pmf(x1, n1, p1) * stats.binom.pmf(x2, n2, p2)
    delta = p1 - p2
    return weight[(low <= delta) & (delta <= high)].sum()


def _check_wilson_coverage(rng, settings, reps):
    for p, n in settings:
        x = rng.binomial(n, p, size=reps)
        low, high = _wilson_interval(x, n, Z95)
        simulated = np.mean((low <= p) & (p <= high))
        exact = _exact_wilson_coverage(p, n)
        mc_se = math.sqrt(exact * (1 - exact) / reps)
        # Wilson coverage oscillates with n and p (Brown, Cai & DasGupta 2001, Fig. 4) but stays
        # within 93.5%-96.5% for n >= 50 and 0.2 <= p <= 0.8; the simulation must agree with
        # the exact coverage within Monte Carlo error.
        assert 0.935 <= exact <= 0.965, (p, n, exact)
        assert abs(simulated - exact) <= 4 * mc_se, (p, n, simulated, exact)
        assert 0.935 - 4 * mc_se <= simulated <= 0.965 + 4 * mc_se


def _check_newcombe_coverage(rng, settings, reps):
    for p1, n1, p2, n2 in settings:
        x1 = rng.binomial(n1, p1, size=reps)
        x2 = rng.binomial(n2, p2, size=reps)
        low, high = _newcombe_limits(x1, n1, x2, n2)
        delta = p1 - p2
        simulated = np.mean((low <= delta) & (delta <= high))
        exact = _exact_newcombe_coverage(p1, n1, p2, n2)
        mc_se = math.sqrt(exact * (1 - exact) / reps)
        assert 0.935 <= exact <= 0.965, (p1, n1, p2, n2, exact)
        assert abs(simulated - exact) <= 4 * mc_se, (p1, n1, p2, n2, simulated, exact)
    # the public function gives the same interval as the vectorised kernel
    res = risk_difference(int(x1[0]), n1, int(x2[0]), n2)
    assert res.ci == pytest.approx((low[0], high[0]), abs=1e-12)


def _check_binomial_test_size(rng, settings, reps, alpha=0.05):
    for p0, n in settings:
        # the p-value depends only on the count: compute it once per possible count
        pvals = np.array([proportion(x, n, stated=p0).pvalue for x in range(n + 1)])
        x = rng.binomial(n, p0, size=reps)
        rejection = np.mean(pvals[x] <= alpha)
        exact_size = stats.binom.pmf(np.arange(n + 1), n, p0)[pvals <= alpha].sum()
        assert exact_size <= alpha  # the exact test never exceeds its level
        assert rejection <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps), (p0, n, rejection)


def test_simulation_fast():
    rng = np.random.default_rng(2024)
    _check_wilson_coverage(rng, [(0.3, 100), (0.8, 50), (0.5, 200)], reps=2_000)
    _check_newcombe_coverage(rng, [(0.5, 60, 0.3, 80), (0.8, 100, 0.6, 100)], reps=2_000)
    _check_binomial_test_size(rng, [(0.9, 50), (0.5, 80)], reps=2_000)


@pytest.mark.slow
def test_simulation_full():
    rng = np.random.default_rng(1998)
    grid = [(p, n) for n in (50, 100, 200, 500, 1000) for p in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    _check_wilson_coverage(rng, grid, reps=20_000)
    newcombe_grid = [
        (p1, n1, p2, n2)
        for p1, p2 in ((0.3, 0.3), (0.5, 0.3), (0.8, 0.6), (0.9, 0.7), (0.6, 0.4))
        for n1, n2 in ((50, 50), (60, 120), (150, 100))
    ]
    _check_newcombe_coverage(rng, newcombe_grid, reps=10_000)
    size_grid = [(p0, n) for p0 in (0.5, 0.75, 0.9) for n in (20, 50, 100, 300)]
    _check_binomial_test_size(rng, size_grid, reps=10_000)


# --------------------------------------------------------------------------------------------
# no statistic raises on valid input (small and degenerate cases, generated)
# --------------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LEVELS = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99])
_ALTERNATIVES = st.sampled_from(["two-sided", "less", "greater"])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), nobs=st.integers(0, 40), level=_LEVELS, alternative=_ALTERNATIVES,
       method=st.sampled_from(["wilson", "exact", "jeffreys"]),
       stated=st.none() | st.floats(0.01, 0.99))
def test_proportion_never_raises_on_valid_input(data, nobs, level, alternative, method, stated):
    count = data.draw(st.integers(0, nobs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        res = proportion(count, nobs, stated=stated, confidence_level=level, method=method,
                         alternative=alternative)
    if nobs:
        assert 0 <= res.ci.low <= res.ci.high <= 1
        assert stated is None or 0 <= res.pvalue <= 1


@settings(max_examples=150, deadline=None)
@given(data=st.data(), nobs1=st.integers(0, 25), nobs2=st.integers(0, 25), level=_LEVELS,
       alternative=_ALTERNATIVES, method=st.sampled_from(["newcombe", "wald"]),
       test=st.sampled_from(["fisher", "boschloo"]))
def test_risk_difference_never_raises_on_valid_input(data, nobs1, nobs2, level, alternative, method, test):
    count1, count2 = data.draw(st.integers(0, nobs1)), data.draw(st.integers(0, nobs2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        res = risk_difference(count1, nobs1, count2, nobs2, confidence_level=level, method=method,
                              alternative=alternative, test=test)
    assert 0 <= res.pvalue <= 1 + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | st.floats(0, 1), max_size=12))
def test_holm_never_raises_on_valid_input(pvalues):
    adjusted = holm(pvalues)
    present = ~np.isnan(adjusted)
    assert np.all((adjusted[present] >= 0) & (adjusted[present] <= 1))
