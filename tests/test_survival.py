"""Tests for outcomes.survival: cited reference values, statsmodels cross-checks, simulations."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from outcomes._results import ConfidenceInterval
from outcomes.exceptions import InputError, StatisticalWarning
from outcomes.survival import (
    KaplanMeierResult,
    LogrankResult,
    TurnbullResult,
    kaplan_meier,
    logrank,
    turnbull,
)

# --------------------------------------------------------------------------------------------
# The Freireich (1963) 6-MP remission data (Gehan 1965), weeks; 0 = censored.
# Freireich EJ et al. (1963) Blood 21:699-716; Gehan EA (1965) Biometrika 52:203-223.
# --------------------------------------------------------------------------------------------
MP6_TIME = np.array(
    [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35], dtype=float
)
MP6_EVENT = np.array([1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
PLACEBO_TIME = np.array(
    [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23], dtype=float
)
PLACEBO_EVENT = np.ones(21, dtype=int)

Z95 = stats.norm.ppf(0.975)


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def _random_censored(rng, n, *, rounding=None):
    """Exponential event times with independent exponential censoring (optionally rounded: ties)."""
    event_time = rng.exponential(1.0, n)
    censor_time = rng.exponential(2.0, n)
    durations = np.minimum(event_time, censor_time)
    events = (event_time <= censor_time).astype(int)
    if rounding is not None:
        durations = np.round(durations, rounding)
    return durations, events


# ============================================================================================
# Kaplan-Meier: cited reference values
# ============================================================================================

# R: summary(survfit(Surv(t2, relapse) ~ 1, data = KMsurv::drug6mp)), the 6-MP arm, as printed in
# Li-Hsin Chien's course notes "Ch4 KM estimator" (Klein & Moeschberger 2003, Example 4.1,
# Table 4.1A). Columns: time, n.risk, n.event, survival (3 d.p.), std.err (4 d.p., Greenwood on
# the survival scale).
R_SURVFIT_6MP = [
    (6, 21, 3, 0.857, 0.0764),
    (7, 17, 1, 0.807, 0.0869),
    (10, 15, 1, 0.753, 0.0963),
    (13, 12, 1, 0.690, 0.1068),
    (16, 11, 1, 0.627, 0.1141),
    (22, 7, 1, 0.538, 0.1282),
    (23, 6, 1, 0.448, 0.1346),
]


@pytest.mark.parametrize(("t", "n_risk", "n_event", "surv", "se"), R_SURVFIT_6MP)
def test_kaplan_meier_6mp_matches_r_survfit(t, n_risk, n_event, surv, se):
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    row = km.table.loc[km.table["time"] == t].iloc[0]
    assert row["at_risk"] == n_risk
    assert row["events"] == n_event
    assert row["survival"] == pytest.approx(surv, abs=5e-4)
    assert row["se"] == pytest.approx(se, abs=5e-5)
    assert km.survival_at(t) == pytest.approx(surv, abs=5e-4)


def test_kaplan_meier_6mp_median():
    # Median 23 weeks: S(22) = 0.538 > 0.5 and S(23) = 0.448 <= 0.5 in the R output above.
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    assert km.median == 23.0
    assert km.n == 21
    assert km.n_events == 9


# Stata `sts list, by(group)` on the Gehan data, control (placebo) arm; Stata's pointwise interval
# is the log(-log S) one (Kalbfleisch & Prentice), i.e. R's conf.type = "log-log".
# Source: G. Rodriguez, "Kaplan-Meier Survival", http://data.princeton.edu/eco572/KaplanMeier.html
STATA_PLACEBO = [
    (1, 21, 0.9048, 0.0641, 0.6700, 0.9753),
    (2, 19, 0.8095, 0.0857, 0.5689, 0.9239),
]


@pytest.mark.parametrize(("t", "n_risk", "surv", "se", "low", "high"), STATA_PLACEBO)
def test_kaplan_meier_loglog_interval_matches_stata(t, n_risk, surv, se, low, high):
    km = kaplan_meier(PLACEBO_TIME, PLACEBO_EVENT)
    row = km.at(t).iloc[0]
    assert row["at_risk"] == n_risk
    assert row["survival"] == pytest.approx(surv, abs=5e-5)
    assert row["ci_low"] == pytest.approx(low, abs=5e-5)
    assert row["ci_high"] == pytest.approx(high, abs=5e-5)
    table_row = km.table.loc[km.table["time"] == t].iloc[0]
    assert table_row["se"] == pytest.approx(se, abs=5e-5)


def test_kaplan_meier_6mp_median_ci_matches_statsmodels():
    # statsmodels' SAS-style inversion of the cloglog (= log-log) test gives the same limits.
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels takes log(-log 1)
        sm_low, sm_high = SurvfuncRight(MP6_TIME, MP6_EVENT).quantile_ci(0.5, method="cloglog")
    assert isinstance(km.median_ci, ConfidenceInterval)
    assert km.median_ci == (sm_low, sm_high)
    assert km.median_ci.high == np.inf  # upper band never reaches 0.5 within follow-up


def test_kaplan_meier_table_shape_and_columns():
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    assert isinstance(km, KaplanMeierResult)
    assert list(km.table.columns) == [
        "time", "at_risk", "events", "censored", "survival", "se", "ci_low", "ci_high"
    ]
    assert len(km.table) == np.unique(MP6_TIME).size
    assert km.table["events"].sum() == 9 and km.table["censored"].sum() == 12
    assert (km.table["ci_low"] <= km.table["survival"]).all()
    assert (km.table["survival"] <= km.table["ci_high"]).all()


# ============================================================================================
# Kaplan-Meier: conventions
# ============================================================================================


def test_events_come_before_censorings_at_the_same_time():
    # At t = 1 one event and one censoring among 5 at risk: S(1) = 4/5; the censored subject is
    # not at risk at t = 2, so S(2) = 4/5 * (1 - 1/3) (as R survfit).
    km = kaplan_meier([1, 1, 2, 2, 3], [1, 0, 1, 0, 1])
    assert km.table["at_risk"].tolist() == [5, 3, 1]
    assert km.survival_at(1) == pytest.approx(0.8)
    assert km.survival_at(2) == pytest.approx(0.8 * 2 / 3)


def test_survival_at_step_function_and_extension():
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    s = km.table.set_index("time")["survival"]
    assert km.survival_at(0) == 1.0
    assert km.survival_at(5.999) == 1.0
    assert km.survival_at(6) == s[6.0]  # right-continuous
    assert km.survival_at(6.5) == s[6.0]
    assert km.survival_at(100) == s[35.0]  # after the last time: the last row (extend = TRUE)
    arr = km.survival_at([0, 6, 100])
    assert isinstance(arr, np.ndarray) and arr.tolist() == [1.0, s[6.0], s[35.0]]
    assert isinstance(km.survival_at(6), float)


def test_at_reports_number_at_risk_and_interval():
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    frame = km.at([0, 6, 6.5, 23, 36])
    assert list(frame.columns) == ["time", "survival", "ci_low", "ci_high", "at_risk"]
    # number with a time >= t: 21 at 0 and 6, 17 at 6.5 (first later time is 7), 6 at 23, 0 at 36
    assert frame["at_risk"].tolist() == [21, 21, 17, 6, 0]
    assert frame.loc[0, ["survival", "ci_low", "ci_high"]].tolist() == [1.0, 1.0, 1.0]
    row23 = km.table.loc[km.table["time"] == 23].iloc[0]
    assert frame.loc[3, "ci_low"] == row23["ci_low"] and frame.loc[3, "ci_high"] == row23["ci_high"]


def test_cumulative_incidence_is_one_minus_survival_with_flipped_interval():
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    at = km.at([10, 48])
    ci = km.cumulative_incidence_at([10, 48])
    assert list(ci.columns) == ["time", "cumulative_incidence", "ci_low", "ci_high", "at_risk"]
    np.testing.assert_allclose(ci["cumulative_incidence"], 1 - at["survival"])
    np.testing.assert_allclose(ci["ci_low"], 1 - at["ci_high"])
    np.testing.assert_allclose(ci["ci_high"], 1 - at["ci_low"])


def test_survival_reaching_zero_follows_r_conventions():
    # Last subject has the event: S = 0, Greenwood se and log-log limits undefined (NA in R).
    km = kaplan_meier(PLACEBO_TIME, PLACEBO_EVENT)
    last = km.table.iloc[-1]
    assert last["survival"] == 0.0
    assert np.isnan(last["se"]) and np.isnan(last["ci_low"]) and np.isnan(last["ci_high"])
    # placebo median: S(8) = 8/21 <= 0.5 < S(5) = 12/21 (survival values from the data above)
    assert km.median == 8.0


def test_censoring_before_first_event_gives_nan_interval():
    # S = 1 at a censored time before the first event: se 0, interval NA in R survival 3.5-3:
    # summary(survfit(Surv(c(1, 2, 3, 4), c(0, 1, 1, 0)) ~ 1, conf.type = "log-log"), censored = TRUE)
    # gives time 1: survival 1, std.err 0, lower NA, upper NA. Before the first time,
    # summary(..., times = 0.5) gives survival 1 with limits 1 and 1.
    km = kaplan_meier([1, 2, 3, 4], [0, 1, 1, 0])
    first = km.table.iloc[0]
    assert (first["survival"], first["se"]) == (1, 0)
    assert np.isnan(first["ci_low"]) and np.isnan(first["ci_high"])
    assert km.at(0.5)[["survival", "ci_low", "ci_high"]].iloc[0].tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(km.at(1.5)["ci_low"].iloc[0])


def test_median_not_reached():
    # one event among 50: S = 0.98 and its lower band stay far above 0.5
    km = kaplan_meier(np.arange(1, 51), np.r_[1, np.zeros(49)])
    assert np.isnan(km.median)
    assert np.isnan(km.median_ci.low) and km.median_ci.high == np.inf
    # six subjects: the lower band dips under 0.5 at the first event, the curve does not
    small = kaplan_meier([1, 2, 3, 4, 5, 6], [1, 0, 0, 0, 0, 0])
    assert np.isnan(small.median) and small.median_ci == (1.0, np.inf)


def test_weights_equal_replication():
    t = np.array([1.0, 2, 3, 4, 5])
    e = np.array([1, 0, 1, 1, 0])
    w = np.array([2, 1, 3, 1, 2])
    weighted = kaplan_meier(t, e, weights=w)
    replicated = kaplan_meier(np.repeat(t, w), np.repeat(e, w))
    for col in ["at_risk", "events", "survival", "se", "ci_low", "ci_high"]:
        np.testing.assert_allclose(weighted.table[col], replicated.table[col])
    assert weighted.n == 9.0


def test_to_frame_and_html():
    km = kaplan_meier(MP6_TIME, MP6_EVENT)
    row = km.to_frame()
    assert len(row) == 1
    assert row.loc[0, "median"] == 23.0 and row.loc[0, "median_ci_low"] == 13.0
    assert row.loc[0, "n"] == 21 and row.loc[0, "method"] == "kaplan-meier"
    html = km._repr_html_()
    assert "<table" in html and "ci_high" in html


def test_confidence_level_widens_interval():
    narrow = kaplan_meier(MP6_TIME, MP6_EVENT, confidence_level=0.80).at(16).iloc[0]
    wide = kaplan_meier(MP6_TIME, MP6_EVENT, confidence_level=0.99).at(16).iloc[0]
    assert wide["ci_low"] < narrow["ci_low"] < narrow["ci_high"] < wide["ci_high"]


# ============================================================================================
# Kaplan-Meier: independent cross-checks against statsmodels on seeded random data
# ============================================================================================


@pytest.mark.parametrize("rounding", [None, 1])
def test_kaplan_meier_matches_statsmodels(rng, rounding):
    durations, events = _random_censored(rng, 400, rounding=rounding)
    km = kaplan_meier(durations, events)
    sf = SurvfuncRight(durations, events)
    ev = km.table[km.table["events"] > 0]
    np.testing.assert_allclose(ev["time"], sf.surv_times)
    np.testing.assert_allclose(ev["at_risk"], sf.n_risk)
    np.testing.assert_allclose(ev["survival"], sf.surv_prob, rtol=1e-12)
    positive = sf.surv_prob > 0
    np.testing.assert_allclose(ev["se"][positive], sf.surv_prob_se[positive], rtol=1e-10)
    # log-log limits from statsmodels' own S and Greenwood se (delta method on log(-log S))
    s, se = sf.surv_prob[positive], sf.surv_prob_se[positive]
    sd = se / (s * np.abs(np.log(s)))
    ok = s < 1
    np.testing.assert_allclose(ev["ci_low"][positive][ok], (s ** np.exp(Z95 * sd))[ok], rtol=1e-9)
    np.testing.assert_allclose(ev["ci_high"][positive][ok], (s ** np.exp(-Z95 * sd))[ok], rtol=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_median_and_its_interval_match_statsmodels(seed):
    durations, events = _random_censored(np.random.default_rng(seed), 200)
    km = kaplan_meier(durations, events)
    sf = SurvfuncRight(durations, events)
    # statsmodels uses S < 0.5 (SAS); identical unless S equals 0.5 exactly somewhere
    assert not np.any(np.isclose(km.table["survival"], 0.5))
    assert km.median == sf.quantile(0.5)
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels takes log(-log 0)
        sm_ci = sf.quantile_ci(0.5, method="cloglog")
    assert km.median_ci == pytest.approx(sm_ci)


# ============================================================================================
# Log-rank
# ============================================================================================


def test_logrank_6mp_vs_placebo_matches_r_survdiff():
    # R: survdiff(Surv(time, event) ~ group) on the Gehan data, printed at
    # https://rstudio-pubs-static.s3.amazonaws.com/79128_036da04b5d9e4a20b30803e3f08363fe.html :
    # group=0 (placebo) N 21 Observed 21 Expected 10.7; group=1 (6-MP) N 21 Observed 9
    # Expected 19.3; Chisq = 16.8 on 1 degrees of freedom, p = 4.17e-05.
    res = logrank(
        np.r_[MP6_TIME, PLACEBO_TIME],
        np.r_[MP6_EVENT, PLACEBO_EVENT],
        ["6-MP"] * 21 + ["placebo"] * 21,
    )
    assert isinstance(res, LogrankResult)
    assert res.statistic == pytest.approx(16.8, abs=0.05)
    assert res.pvalue == pytest.approx(4.17e-05, abs=5e-8)
    assert res.df == 1
    tab = res.table.set_index("group")
    assert list(res.table.columns) == ["group", "n", "observed", "expected", "variance"]
    assert tab.loc["6-MP", "observed"] == 9 and tab.loc["placebo", "observed"] == 21
    assert tab.loc["6-MP", "expected"] == pytest.approx(19.3, abs=0.05)
    assert tab.loc["placebo", "expected"] == pytest.approx(10.7, abs=0.05)
    assert tab["n"].tolist() == [21, 21]
    assert res.method == "log-rank"
    # two groups: (O - E)^2 / V reproduces the statistic
    assert (tab.loc["6-MP", "observed"] - tab.loc["6-MP", "expected"]) ** 2 / tab.loc[
        "6-MP", "variance"
    ] == pytest.approx(res.statistic)


@pytest.mark.parametrize(("k", "rounding"), [(2, None), (3, None), (4, 1)])
def test_logrank_matches_statsmodels(rng, k, rounding):
    durations, events = _random_censored(rng, 300, rounding=rounding)
    groups = rng.integers(0, k, durations.size)
    durations = durations * (1 + 0.3 * groups)  # some real differences
    if rounding is not None:
        durations = np.round(durations, rounding)
    res = logrank(durations, events, groups)
    chisq, pvalue = survdiff(durations, events, groups)
    assert res.statistic == pytest.approx(chisq, rel=1e-10)
    assert res.pvalue == pytest.approx(pvalue, rel=1e-8)
    assert res.df == k - 1


def test_stratified_logrank_matches_statsmodels(rng):
    durations, events = _random_censored(rng, 500, rounding=1)
    groups = rng.integers(0, 3, durations.size)
    strata = rng.choice(np.array(["site A", "site B", "site C"]), durations.size)
    durations = np.round(durations * np.where(strata == "site B", 2.0, 1.0) * (1 + 0.2 * groups), 1)
    res = logrank(durations, events, groups, strata=strata)
    chisq, pvalue = survdiff(durations, events, groups, strata=strata)
    assert res.statistic == pytest.approx(chisq, rel=1e-10)
    assert res.pvalue == pytest.approx(pvalue, rel=1e-8)
    assert res.method == "stratified log-rank" and res.n_strata == 3
    # stratified O - E and variances are the sums of the per-stratum ones
    parts = [
        logrank(durations[strata == s], events[strata == s], groups[strata == s]).table
        for s in ["site A", "site B", "site C"]
    ]
    for col in ["observed", "expected", "variance"]:
        np.testing.assert_allclose(res.table[col], sum(p[col].to_numpy() for p in parts))


def test_logrank_single_stratum_equals_unstratified(rng):
    durations, events = _random_censored(rng, 100)
    groups = rng.integers(0, 2, durations.size)
    plain = logrank(durations, events, groups)
    one = logrank(durations, events, groups, strata=np.zeros(durations.size))
    assert one.statistic == pytest.approx(plain.statistic, rel=1e-12)


def test_logrank_to_frame_and_html():
    res = logrank([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 0], ["a", "a", "a", "b", "b", "b"])
    row = res.to_frame()
    assert list(row.columns) == ["statistic", "pvalue", "df", "method", "n_strata"]
    assert "<table" in res._repr_html_()


# ============================================================================================
# Turnbull
# ============================================================================================


def test_turnbull_hand_worked_example():
    # Observations (0,2], (0,2], (1,3], (2,inf). Endpoints in order: 0+ 0+ 1+ 2] 2+ 3] inf], so the
    # innermost intervals are I1 = (1,2] and I2 = (2,3]. The first two observations contain only
    # I1, the third both, the fourth only I2: L(p) = p1^2 * (p1 + p2) * p2 with p1 + p2 = 1, i.e.
    # p1^2 (1 - p1), maximised at 2 p1 = 3 p1^2: p1 = 2/3, p2 = 1/3 (solved by hand).
    fit = turnbull([0, 0, 1, 2], [2, 2, 3, np.inf])
    assert isinstance(fit, TurnbullResult)
    tab = fit.table
    assert list(tab.columns) == ["interval_low", "interval_high", "probability", "survival"]
    assert tab["interval_low"].tolist() == [1.0, 2.0]
    assert tab["interval_high"].tolist() == [2.0, 3.0]
    np.testing.assert_allclose(tab["probability"], [2 / 3, 1 / 3], atol=1e-8)
    np.testing.assert_allclose(tab["survival"], [1 / 3, 0], atol=1e-8)
    assert fit.converged and fit.n_iter < 1000
    assert fit.loglik == pytest.approx(np.log((2 / 3) ** 2 * 1 / 3), abs=1e-8)
    # identified at 1, 2 and 3; inside (1, 2) only bounds [1/3, 1]
    at = fit.at([1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(at["survival"], [1, 1, 1 / 3, 1 / 3, 0], atol=1e-8)
    np.testing.assert_allclose(at["survival_low"], [1, 1 / 3, 1 / 3, 0, 0], atol=1e-8)
    np.testing.assert_allclose(at["survival_high"], at["survival"])
    ci = fit.cumulative_incidence_at(1.5)
    assert list(ci.columns) == ["time", "cumulative_incidence", "bound_low", "bound_high"]
    assert ci.loc[0, "cumulative_incidence"] == pytest.approx(0)
    assert ci.loc[0, "bound_high"] == pytest.approx(2 / 3, abs=1e-8)


def test_turnbull_exact_times_are_points():
    # Exact times 1 and 2 and one event in (1, 2]: innermost intervals {1}, {2} ((1,2] contains {2}
    # but not {1}): L = p1 * p2 * p2, p1 + p2 = 1 -> p2 = 2/3 (solved by hand).
    fit = turnbull([1, 2, 1], [1, 2, 2])
    tab = fit.table
    assert tab["interval_low"].tolist() == [1.0, 2.0] and tab["interval_high"].tolist() == [1.0, 2.0]
    np.testing.assert_allclose(tab["probability"], [1 / 3, 2 / 3], atol=1e-8)
    assert fit.survival_at(1) == pytest.approx(2 / 3, abs=1e-8)
    assert fit.at(1).loc[0, "survival_low"] == pytest.approx(2 / 3, abs=1e-8)


@pytest.mark.parametrize("rounding", [None, 1])
def test_turnbull_equals_kaplan_meier_for_exact_and_right_censored(rng, rounding):
    durations, events = _random_censored(rng, 300, rounding=rounding)
    left = durations
    right = np.where(events == 1, durations, np.inf)
    fit = turnbull(left, right, tol=1e-12, max_iter=100_000)
    km = kaplan_meier(durations, events)
    assert fit.converged
    grid = np.r_[km.table["time"].to_numpy(), km.table["time"].to_numpy() + 1e-3, 0.0, 10.0]
    np.testing.assert_allclose(fit.survival_at(grid), km.survival_at(grid), atol=1e-6)


def _dense_contains(left, right, low, high):
    """Indicator matrix obs x innermost interval, built directly from the definitions."""
    L, R = left[:, None], right[:, None]
    point = (low == high)[None, :]
    exact = (left == right)[:, None]
    in_open = (L <= low[None, :]) & (high[None, :] <= R)
    in_point = np.where(exact, L == low[None, :], (L < low[None, :]) & (low[None, :] <= R))
    return np.where(point, in_point, in_open & ~exact)


def test_turnbull_satisfies_npmle_optimality_conditions(rng):
    # Visits on a grid of hours; relief between the last visit without and the first with relief.
    n = 400
    relief = rng.gamma(2.0, 20.0, n)
    visits = np.array([0, 6, 24, 48, 72, 168, 336])
    dropout = rng.choice(visits[1:], n)
    seen = np.searchsorted(visits, relief, side="left")  # index of first visit at/after relief
    first_after = np.where(seen < len(visits), visits[np.minimum(seen, len(visits) - 1)], np.inf)
    left = visits[np.maximum(seen - 1, 0)].astype(float)
    right = first_after.astype(float)
    censored = right > dropout
    left = np.where(censored, dropout, left).astype(float)
    right = np.where(censored, np.inf, right)
    fit = turnbull(left, right)
    tab = fit.table
    alpha = _dense_contains(left, right, tab["interval_low"].to_numpy(), tab["interval_high"].to_numpy())
    assert alpha.any(axis=1).all()  # every observation contains an innermost interval
    p = tab["probability"].to_numpy()
    # Kuhn-Tucker conditions of the NPMLE (Gentleman & Geyer 1994): d_j = sum_i a_ij / (a_i . p)
    # equals n where p_j > 0 and is <= n everywhere.
    d = (alpha / (alpha @ p)[:, None]).sum(axis=0)
    assert np.all(d <= n * (1 + 1e-4))
    np.testing.assert_allclose(d[p > 1e-6], n, rtol=1e-4)
    assert fit.loglik == pytest.approx(np.log(alpha @ p).sum(), rel=1e-10)
    assert p.sum() == pytest.approx(1.0)
    # the 48-hour figure, identified because 48 is a visit time
    at48 = fit.at(48).iloc[0]
    assert at48["survival_low"] == pytest.approx(at48["survival_high"])


def test_turnbull_collapsing_duplicates_does_not_change_estimate():
    left = np.array([0, 0, 1, 2, 0, 1])
    right = np.array([2, 2, 3, np.inf, 1, 4])
    once = turnbull(left, right)
    twice = turnbull(np.tile(left, 5), np.tile(right, 5))
    np.testing.assert_allclose(once.table["probability"], twice.table["probability"], atol=1e-8)
    assert twice.n == 30


def test_turnbull_warns_when_not_converged():
    durations, events = _random_censored(np.random.default_rng(7), 50, rounding=1)
    left = np.maximum(durations - 0.5, 0)
    with pytest.warns(StatisticalWarning, match="did not converge"):
        fit = turnbull(left, np.where(events == 1, durations, np.inf), max_iter=2)
    assert not fit.converged and fit.n_iter == 2
    assert list(fit.to_frame().columns) == ["converged", "n_iter", "n", "loglik", "method"]
    assert "<table" in fit._repr_html_()


# ============================================================================================
# Simulation: coverage of the log-log interval and size of the log-rank test
# ============================================================================================


def _coverage(reps, seed, n=100, rate_censor=0.3):
    rng = np.random.default_rng(seed)
    t0 = np.log(2.0)  # exponential(1): S(t0) = 0.5
    hits = 0
    for _ in range(reps):
        event_time = rng.exponential(1.0, n)
        censor_time = rng.exponential(1 / rate_censor, n)
        km = kaplan_meier(np.minimum(event_time, censor_time), event_time <= censor_time)
        row = km.at(t0).iloc[0]
        hits += row["ci_low"] <= 0.5 <= row["ci_high"]
    return hits / reps


def test_loglog_coverage_fast():
    assert 0.91 <= _coverage(400, seed=11) <= 0.985


@pytest.mark.slow
def test_loglog_coverage_full():
    assert 0.935 <= _coverage(2000, seed=12) <= 0.965


def _logrank_size(reps, seed, n=100):
    rng = np.random.default_rng(seed)
    rejections = 0
    groups = np.repeat([0, 1], n // 2)
    for _ in range(reps):
        event_time = rng.exponential(1.0, n)
        censor_time = rng.exponential(2.0, n)
        res = logrank(np.minimum(event_time, censor_time), event_time <= censor_time, groups)
        rejections += res.pvalue < 0.05
    return rejections / reps


def test_logrank_size_fast():
    assert 0.02 <= _logrank_size(300, seed=21) <= 0.09


@pytest.mark.slow
def test_logrank_size_full():
    assert 0.035 <= _logrank_size(2000, seed=22) <= 0.065


@pytest.mark.slow
def test_million_durations_are_fast():
    rng = np.random.default_rng(3)
    durations, events = _random_censored(rng, 1_000_000, rounding=3)
    groups = rng.integers(0, 2, durations.size)
    start = time.perf_counter()
    km = kaplan_meier(durations, events)
    res = logrank(durations, events, groups)
    elapsed = time.perf_counter() - start
    assert km.n == 1_000_000 and np.isfinite(res.statistic)
    assert elapsed < 5.0  # about 0.3 s on a laptop; generous for shared CI machines


# ============================================================================================
# Input validation
# ============================================================================================


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"durations": [], "events": []}, "`durations` must be a non-empty array of times; got []."),
        ({"durations": [1, 2], "events": [1]}, "`events` must have the same length as `durations` (2); got length 1."),
        ({"durations": [1, -2], "events": [1, 0]}, "`durations` must be non-negative finite numbers (no NaN); got -2.0 at position 1."),
        ({"durations": [1, np.nan], "events": [1, 0]}, "`durations` must be non-negative finite numbers (no NaN); got nan at position 1."),
        ({"durations": [1, 2], "events": [1, 2]}, "`events` must be 0/1 or boolean (1 = event, 0 = censored); got 2 at position 1."),
        ({"durations": [1, 2], "events": ["yes", "no"]}, "`events` must be 0/1 or boolean (1 = event, 0 = censored); got 'yes' at position 0."),
        ({"durations": [1, 2], "events": [1, 0], "weights": [1, -1]}, "`weights` must be non-negative finite numbers; got -1.0 at position 1."),
        ({"durations": [1, 2], "events": [1, 0], "confidence_level": 95}, "`confidence_level` must be a number strictly between 0 and 1; got 95."),
        ({"durations": "abc", "events": [1]}, "`durations` must be a 1-D array of numbers; got 'abc'."),
    ],
)
def test_input_validation_kaplan_meier(kwargs, message):
    with pytest.raises(InputError) as excinfo:
        kaplan_meier(kwargs.pop("durations"), kwargs.pop("events"), **kwargs)
    assert str(excinfo.value).startswith(message)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([1, 2], [1, 0], ["a", "a"]), {}, "`groups` must have at least two distinct labels; got ['a']."),
        (([1, 2], [1, 0], ["a"]), {}, "`groups` must have the same length as `durations` (2); got length 1."),
        (([1, 2], [1, 0], ["a", None]), {}, "`groups` must not have missing labels; got None at position 1."),
        (([1, 2], [1, 0], ["a", "b"]), {"strata": [1]}, "`strata` must have the same length as `durations` (2); got length 1."),
        (([1, -2], [1, 0], ["a", "b"]), {}, "`durations` must be non-negative finite numbers (no NaN); got -2.0 at position 1."),
    ],
)
def test_input_validation_logrank(args, kwargs, message):
    with pytest.raises(InputError) as excinfo:
        logrank(*args, **kwargs)
    assert str(excinfo.value).startswith(message)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([1, 2], [2, 1]), {}, "`right` must be >= `left`; got right = 1.0 < left = 2.0 at position 1."),
        (([1, np.nan], [2, 3]), {}, "`left` must be non-negative finite numbers (no NaN); got nan at position 1."),
        (([1, 2], [2, np.nan]), {}, "`right` must be non-negative numbers (no NaN); got nan at position 1."),
        (([1, 2], [2]), {}, "`right` must have the same length as `left` (2); got length 1."),
        (([], []), {}, "`left` must be a non-empty array of times; got []."),
        (([1], [2]), {"max_iter": 0}, "`max_iter` must be a positive whole number; got 0."),
        (([1], [2]), {"tol": -1}, "`tol` must be a positive number; got -1."),
    ],
)
def test_input_validation_turnbull(args, kwargs, message):
    with pytest.raises(InputError) as excinfo:
        turnbull(*args, **kwargs)
    assert str(excinfo.value).startswith(message)


def test_input_validation_evaluation_times():
    km = kaplan_meier([1, 2], [1, 0])
    with pytest.raises(InputError, match="`t` must be numbers without NaN"):
        km.survival_at(np.nan)
    assert isinstance(km.at(1), pd.DataFrame)


def test_median_ci_never_at_the_time_survival_reaches_zero():
    # R survival 3.5-3: d <- data.frame(t = c(1, 2, 2, 3, 4, 5, 5, 6), e = c(0, 1, 1, 0, 1, 1, 1, 1));
    # quantile(survfit(Surv(t, e) ~ 1, d, conf.type = "log-log"), 0.5) gives median 5, lower 2,
    # upper NA: the band is NA at t = 6 where S reaches 0, so no upper limit (here inf).
    km = kaplan_meier([1, 2, 2, 3, 4, 5, 5, 6], [0, 1, 1, 0, 1, 1, 1, 1])
    assert km.median == 5.0
    assert km.median_ci.low == 2.0 and km.median_ci.high == np.inf
    # all five die: R gives median 3, lower 1, upper NA
    km = kaplan_meier([1, 2, 3, 4, 5], [1, 1, 1, 1, 1])
    assert (km.median, km.median_ci.low, km.median_ci.high) == (3.0, 1.0, np.inf)


def test_stratified_logrank_singular_warns_nan_where_r_stops():
    # R survival 3.5-3: survdiff(Surv(t, e) ~ g + strata(s)) with t = 1:6, e = 1, g = a,a,a,b,b,b,
    # s = 1,1,1,2,2,2 stops with "Lapack routine dgesv: system is exactly singular".
    with pytest.warns(StatisticalWarning, match="singular"):
        res = logrank([1, 2, 3, 4, 5, 6], [1] * 6, ["a"] * 3 + ["b"] * 3, strata=[1, 1, 1, 2, 2, 2])
    assert np.isnan(res.statistic) and np.isnan(res.pvalue) and res.df == 1


def test_logrank_no_events_gives_zero_statistic_as_r():
    # R: survdiff(Surv(1:4, rep(0, 4)) ~ c("a", "a", "b", "b")) gives chisq 0, df -1, p NA
    with pytest.warns(StatisticalWarning, match="no log-rank comparison"):
        res = logrank([1, 2, 3, 4], [0, 0, 0, 0], ["a", "a", "b", "b"])
    assert res.statistic == 0.0 and np.isnan(res.pvalue) and res.df == -1


# --------------------------------------------------------------------------------------------
# no statistic raises on valid input (small and degenerate cases, generated)
# --------------------------------------------------------------------------------------------

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# few distinct times, so ties, all-censored and all-event samples come up often
_TIMES = st.sampled_from([0.0, 1.0, 2.0, 2.5, 7.0, 48.0])


@st.composite
def _survival_data(draw, min_size=1, groups=False):
    n = draw(st.integers(min_size, 14))
    t = draw(st.lists(_TIMES, min_size=n, max_size=n))
    e = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    if not groups:
        return t, e
    g = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    s = draw(st.lists(st.sampled_from(["s1", "s2"]), min_size=n, max_size=n))
    return t, e, g, s


@settings(max_examples=150, deadline=None)
@given(data=_survival_data(), level=st.sampled_from([0.5, 0.9, 0.95, 0.99]),
       probe=st.floats(-1, 60))
def test_kaplan_meier_never_raises_on_valid_input(data, level, probe):
    t, e = data
    km = kaplan_meier(t, e, confidence_level=level)
    km.median, km.median_ci, km.to_frame(), km.at(probe), km.cumulative_incidence_at([probe])
    surv = km.table["survival"].to_numpy()
    assert np.all((surv >= 0) & (surv <= 1))
    band = km.table[["ci_low", "ci_high"]].to_numpy()
    ok = ~np.isnan(band)
    assert np.all((band[ok] >= 0) & (band[ok] <= 1))


@settings(max_examples=150, deadline=None)
@given(data=_survival_data(min_size=2, groups=True), stratified=st.booleans())
def test_logrank_never_raises_on_valid_input(data, stratified):
    t, e, g, s = data
    assume(len(set(g)) >= 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        res = logrank(t, e, g, strata=s if stratified else None)
    assert math.isnan(res.pvalue) or 0 <= res.pvalue <= 1


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 10))
def test_turnbull_never_raises_on_valid_input(data, n):
    left = data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 5.0]), min_size=n, max_size=n))
    width = data.draw(st.lists(st.sampled_from([0.0, 1.0, 3.0, np.inf]), min_size=n, max_size=n))
    fit = turnbull(left, [a + w for a, w in zip(left, width)])
    fit.survival_at([0.0, 1.5, 10.0])
