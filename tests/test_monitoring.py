"""Monitoring: funnel plot, control chart, CUSUM.

Reference values cite their sources; hand-written statistics are checked against scipy,
statsmodels or an independent computation; simulations use seeded generators and data with a
known truth from :mod:`outcomes.synthetic`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import outcomes
from outcomes import InputError, StatisticalWarning
from outcomes.monitoring import (
    RISK_COVARIATES,
    ControlChartResult,
    CusumResult,
    FunnelResult,
    control_chart,
    cusum,
    cusum_path,
    funnel,
    funnel_limits,
)
from outcomes.synthetic import simulate


def _endpoints(n: int, seed: int, **truth) -> pd.DataFrame:
    procedures, assessments, _ = simulate(n, seed=seed, **truth)
    return outcomes.derive_endpoints(outcomes.load_records(procedures, assessments))


@pytest.fixture(scope="module")
def clinic_1500() -> pd.DataFrame:
    """1,500 synthetic procedures; D4 has lower responder odds (success 0.60 vs 0.84)."""
    return _endpoints(1500, seed=11)


def _unit_frame(counts: dict[str, tuple[int, int]], column: str = "physician_id") -> pd.DataFrame:
    """An endpoints-like frame: unit -> (events, n)."""
    units, success = [], []
    for unit, (events, n) in counts.items():
        units += [unit] * n
        success += [True] * events + [False] * (n - events)
    return pd.DataFrame({column: units, "success": pd.array(success, dtype="boolean")})


# --------------------------------------------------------------------------------------------
# Funnel plot
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [0.1, 0.5, 0.8, 0.9])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_funnel_limits_are_the_interpolated_exact_binomial_quantiles(target, level):
    # Spiegelhalter 2005, Stat Med 24:1185, Appendix A.1.1: limit = (r_p - alpha) / n with r_p
    # the binomial p-quantile (scipy.stats.binom.ppf) and
    # alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)); the upper limit is the same construction on
    # the non-events (1 - limit at 1 - target). F is summed here from math.comb, not scipy.
    n = np.array([5, 20, 37, 100, 250, 1000])
    p = (1 - level) / 2
    lower, upper = funnel_limits(n, target, level)
    for theta, limits, mirror in ((target, lower, False), (1 - target, upper, True)):
        r = stats.binom.ppf(p, n, theta)
        for ni, ri, limit in zip(n, r, limits):
            pmf = [math.comb(int(ni), k) * theta**k * (1 - theta) ** (ni - k) for k in range(int(ri) + 1)]
            f_r, f_below = sum(pmf), sum(pmf[:-1])
            alpha = (f_r - p) / (f_r - f_below)
            assert 0 <= alpha < 1
            expected = min(max((ri - alpha) / ni, 0.0), 1.0)
            got = 1 - limit if mirror else limit
            assert got == pytest.approx(expected, abs=1e-9)
            if 0 < expected < 1:
                assert math.ceil(got * ni - 1e-9) == ri  # the limit sits in the quantile's step


def test_funnel_flag_is_the_exact_one_sided_binomial_test():
    # Below the lower limit exactly when P(Y <= y) < p (and above when P(Y >= y) < p).
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(5, 400))
        target = float(rng.uniform(0.05, 0.95))
        y = int(rng.integers(0, n + 1))
        lower, upper = funnel_limits([n], target, 0.95)
        assert (y / n < lower[0]) == (stats.binom.cdf(y, n, target) < 0.025)
        assert (y / n > upper[0]) == (stats.binom.sf(y - 1, n, target) < 0.025)


def test_funnel_flags_the_worse_physician(clinic_1500):
    result = funnel(clinic_1500, stated=0.9)
    assert isinstance(result, FunnelResult)
    outer = result.flagged(level=0.998)
    assert outer["unit"].tolist() == ["D4"]
    assert outer["flag"].tolist() == ["low"]
    # Every physician is below the stated 90%: the clinic truth is 0.80 (D4 0.60, others 0.84).
    against_stated = result.flagged(level=0.95, centre="stated")
    assert "D4" in against_stated["unit"].tolist()
    assert set(against_stated["flag"]) == {"low"}
    # accounting: every row with a physician is a patient or a missing outcome
    assert result.n + result.n_missing_outcome == clinic_1500["physician_id"].notna().sum()
    assert result.clinic_rate == pytest.approx(clinic_1500["success"].mean(), abs=1e-12)


def test_funnel_relief_by_horizon_drops_and_counts_missing(clinic_1500):
    result = funnel(clinic_1500, outcome="relief_by_horizon", overdispersion="none")
    rows = result.units[(result.units["centre"] == "clinic") & (result.units["level"] == 0.95)].set_index("unit")
    expected = clinic_1500.groupby("physician_id")["relief_by_horizon"].agg(["count", "sum", "size"])
    assert rows["n"].tolist() == expected["count"].tolist()
    assert rows["events"].tolist() == expected["sum"].tolist()
    assert rows["missing"].tolist() == (expected["size"] - expected["count"]).tolist()
    assert result.n_missing_outcome == int(clinic_1500["relief_by_horizon"].isna().sum())


def test_funnel_stable_process_flags_no_more_often_than_the_limits_imply():
    # Ten physicians, all with success 0.8, 120 patients each, 150 clinics; limits around the
    # true rate (stated) give an exact test, so each unit is flagged with probability <= 5% /
    # 0.2%; around the clinic's own rate the rate is close to that.
    rng = np.random.default_rng(20240601)
    n_clinics, k, n = 150, 10, 120
    events = rng.binomial(n, 0.8, size=(n_clinics, k))
    flags = {("stated", 0.95): 0, ("stated", 0.998): 0, ("clinic", 0.95): 0, ("clinic", 0.998): 0}
    for row in events:
        result = funnel(_unit_frame({f"D{i}": (int(e), n) for i, e in enumerate(row)}), stated=0.8,
                        overdispersion="none")
        flagged = result.units[result.units["flag"] != ""]
        for key in flags:
            flags[key] += int(((flagged["centre"] == key[0]) & (flagged["level"] == key[1])).sum())
    total = n_clinics * k
    se = math.sqrt(0.05 * 0.95 / total)
    assert flags[("stated", 0.95)] / total <= 0.05 + 3 * se
    assert flags[("stated", 0.998)] / total <= 0.002 + 3 * math.sqrt(0.002 / total)
    assert flags[("clinic", 0.95)] / total <= 0.05 + 3 * se
    assert flags[("stated", 0.95)] / total > 0.02  # the test is not vacuous


@pytest.mark.slow
def test_funnel_stable_synthetic_clinics_flag_rate():
    # Whole synthetic clinics with every physician equal (worse_physician=None), default
    # settings ("auto" overdispersion): the share of physicians flagged at 95% stays near 5%.
    flags_95 = flags_998 = units = 0
    for seed in range(150):
        result = funnel(_endpoints(900, seed=1000 + seed, worse_physician=None))
        clinic = result.units[result.units["centre"] == "clinic"]
        flags_95 += int(((clinic["level"] == 0.95) & (clinic["flag"] != "")).sum())
        flags_998 += int(((clinic["level"] == 0.998) & (clinic["flag"] != "")).sum())
        units += result.n_units
    assert flags_95 / units <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / units)
    assert flags_998 / units <= 0.002 + 3 * math.sqrt(0.002 / units)


def test_overdispersion_without_winsorising_is_dersimonian_laird():
    # Independent check: with the clinic rate as target and s_i^2 = theta (1 - theta) / n_i,
    # sum(z^2) is Cochran's Q, so tau2 equals statsmodels' DerSimonian-Laird estimate.
    from statsmodels.stats.meta_analysis import combine_effects

    rng = np.random.default_rng(7)
    n = rng.integers(40, 300, size=12)
    rates = np.clip(rng.normal(0.8, 0.06, size=12), 0.3, 0.98)
    events = rng.binomial(n, rates)
    frame = _unit_frame({f"U{i:02d}": (int(e), int(m)) for i, (e, m) in enumerate(zip(events, n))})
    result = funnel(frame, overdispersion="additive", winsorize=0.0)
    theta = events.sum() / n.sum()
    dl = combine_effects(events / n, theta * (1 - theta) / n, method_re="dl")
    assert result.tau2 == pytest.approx(dl.tau2, rel=1e-10)
    assert result.overdispersion_phi * 12 == pytest.approx(dl.q, rel=1e-10)
    assert result.overdispersion_pvalue == pytest.approx(stats.chi2.sf(dl.q, 11), rel=1e-10)
    assert result.adjustment == "additive"


def test_overdispersion_winsorises_at_the_type_7_quantiles():
    # FunnelPlotR's winsorisation(): z-scores outside R's quantile(z, 0.1) / quantile(z, 0.9)
    # (type 7: z_(1) + 0.9 (z_(2) - z_(1)) for 10 values) are set to those values.
    counts = {f"U{i}": (e, 100) for i, e in enumerate([50, 70, 75, 78, 80, 80, 82, 85, 88, 97])}
    result = funnel(_unit_frame(counts), overdispersion="none")
    events = np.array([e for e, _ in counts.values()])
    theta = events.sum() / 1000
    z = np.sort((events / 100 - theta) / math.sqrt(theta * (1 - theta) / 100))
    low = z[0] + 0.9 * (z[1] - z[0])
    high = z[8] + 0.1 * (z[9] - z[8])
    phi = np.mean(np.clip(z, low, high) ** 2)
    assert result.overdispersion_phi == pytest.approx(phi, rel=1e-12)
    assert result.adjustment == "none"  # asked for none: exact limits kept


def test_overdispersed_units_widen_the_limits_under_auto():
    rng = np.random.default_rng(11)
    n = np.full(30, 200)
    rates = rng.beta(40, 10, size=30)  # between-unit sd about 0.056, far above binomial noise
    frame = _unit_frame({f"U{i:02d}": (int(e), 200) for i, e in enumerate(rng.binomial(n, rates))})
    auto = funnel(frame)
    exact = funnel(frame, overdispersion="none")
    multiplicative = funnel(frame, overdispersion="multiplicative")
    assert auto.overdispersion_pvalue < 0.05 and auto.adjustment == "additive" and auto.tau2 > 0
    pick = lambda r: r.limits[(r.limits["n"] == 200) & (r.limits["level"] == 0.998)].iloc[0]  # noqa: E731
    assert pick(auto)["lower"] < pick(exact)["lower"]
    assert len(auto.flagged(level=0.998)) < len(exact.flagged(level=0.998))
    theta = auto.clinic_rate
    z = stats.norm.ppf(0.999)
    assert pick(auto)["lower"] == pytest.approx(theta - z * math.sqrt(theta * (1 - theta) / 200 + auto.tau2))
    assert pick(multiplicative)["upper"] == pytest.approx(
        theta + z * math.sqrt(multiplicative.overdispersion_phi * theta * (1 - theta) / 200))


def test_auto_overdispersion_needs_five_units():
    # Two sites far apart: p < 0.05, but a between-unit variance from two units is no estimate.
    frame = _unit_frame({"north": (170, 200), "south": (140, 200)}, column="site_id")
    auto = funnel(frame, unit="site_id")
    assert auto.overdispersion_pvalue < 0.05 and auto.adjustment == "none"
    assert funnel(frame, unit="site_id", overdispersion="additive").adjustment == "additive"


def test_funnel_limits_table_shape_and_centres():
    result = funnel(_unit_frame({"A": (40, 50), "B": (90, 100)}), stated=0.9, overdispersion="none")
    assert set(result.limits.columns) == {"n", "centre", "target", "level", "lower", "upper"}
    assert set(result.limits["centre"]) == {"clinic", "stated"}
    assert result.limits["n"].max() == 110
    assert (result.limits["lower"] <= result.limits["upper"]).all()
    assert list(result.units.columns) == ["unit", "n", "events", "missing", "proportion", "centre", "target",
                                          "level", "lower", "upper", "z", "z_adjusted", "flag", "side"]
    assert "<table" in result._repr_html_()


# --------------------------------------------------------------------------------------------
# Control chart
# --------------------------------------------------------------------------------------------


def _monthly(successes: list[int], n: int = 100, start: str = "2021-01-01") -> pd.DataFrame:
    """One month per value: ``n`` procedures on the 15th, ``successes[i]`` of them successes."""
    months = pd.date_range(start, periods=len(successes), freq="MS") + pd.Timedelta(days=14)
    dates = np.repeat(months.to_numpy(), n)
    success = (np.arange(n)[None, :] < np.asarray(successes)[:, None]).ravel()
    return pd.DataFrame({"procedure_date": dates, "success": success})


# Background alternating 78 / 82 around a fixed centre of 0.80: no run longer than 1, no trend
# longer than 2 points; with n = 100 the 3-sigma limits are 0.68 and 0.92.
_BASE = [78, 82] * 12


def _chart(series: list[int], **kwargs) -> ControlChartResult:
    return control_chart(_monthly(series), centre=0.8, **kwargs)


def test_control_chart_background_is_common_cause():
    chart = _chart(_BASE)
    assert not chart.table["signal"].any()
    assert chart.variation == "common cause"
    assert chart.table["ucl"].iloc[0] == pytest.approx(0.8 + 3 * math.sqrt(0.16 / 100))
    assert chart.table["lcl"].iloc[0] == pytest.approx(0.8 - 3 * math.sqrt(0.16 / 100))


def test_control_chart_run_of_eight_triggers_exactly_there():
    series = list(_BASE)
    series[3] = 78                                    # below, so the run starts at 4
    series[4:12] = [83, 85, 83, 85, 83, 85, 83, 85]   # 8 above the centre, zig-zag: no trend
    series[14:21] = [75, 77, 75, 77, 75, 77, 75]      # only 7 below: no signal
    chart = _chart(series)
    assert np.flatnonzero(chart.table["signal"]).tolist() == list(range(4, 12))
    assert chart.table.loc[4:11, "run"].all() and not chart.table["beyond_limits"].any()
    assert set(chart.table.loc[4:11, "direction"]) == {"improving"}
    assert set(chart.table.loc[4:11, "rule"]) == {"run of 8"}


def test_control_chart_point_on_the_centre_breaks_a_run():
    series = list(_BASE)
    series[4:13] = [83, 85, 83, 85, 80, 83, 85, 83, 85]  # 4 above, one on the line, 4 above
    assert not _chart(series).table["signal"].any()


def test_control_chart_trend_of_six_triggers_exactly_there():
    series = list(_BASE)
    series[6:12] = [86, 84, 81, 79, 76, 74]    # 6 falling, crossing the centre: no run of 8
    series[15:20] = [74, 77, 79, 81, 84]       # only 5 rising: no signal (next is 78, then 82)
    chart = _chart(series)
    assert np.flatnonzero(chart.table["signal"]).tolist() == list(range(6, 12))
    assert chart.table.loc[6:11, "trend"].all()
    assert set(chart.table.loc[6:11, "direction"]) == {"concerning"}
    # a repeated value breaks the trend
    series[8] = series[7]
    assert not _chart(series).table["trend"].any()


def test_control_chart_point_beyond_the_limits_triggers_exactly_there():
    series = list(_BASE)
    series[9] = 60      # below 0.68
    series[17] = 95     # above 0.92 (95 follows 82 and precedes 82: no trend)
    chart = _chart(series)
    assert np.flatnonzero(chart.table["signal"]).tolist() == [9, 17]
    assert chart.table.loc[9, "direction"] == "concerning"
    assert chart.table.loc[17, "direction"] == "improving"
    assert chart.table.loc[[9, 17], "rule"].tolist() == ["beyond limits", "beyond limits"]
    flipped = _chart(series, higher_is_better=False)
    assert flipped.table.loc[9, "direction"] == "improving"


def test_control_chart_variation_reads_the_latest_period():
    series = list(_BASE)
    series[-1] = 60
    chart = _chart(series)
    assert chart.variation == "special cause — concerning"
    assert "2022-12: concerning (beyond limits)" in chart.summary
    series = list(_BASE)
    series[3] = 60
    chart = _chart(series)
    assert chart.variation == "common cause"
    assert "2021-04" in chart.summary


def test_control_chart_making_data_count_counts():
    # Making Data Count (NHSRplotthedots): 7 points make a shift and 7 a trend.
    series = list(_BASE)
    series[3] = 78
    series[4:11] = [83, 85, 83, 85, 83, 85, 83]       # 7 above, then below again
    series[11] = 78
    assert not _chart(series).table["run"].any()
    assert _chart(series, run_length=7, trend_length=7).table["run"].sum() == 7


def test_control_chart_auto_period_and_centre():
    busy = _monthly([80, 84] * 10, n=25)
    chart = control_chart(busy)
    assert chart.period == "month" and "25 procedures" in chart.period_reason
    assert chart.centre == pytest.approx(busy["success"].mean())
    quiet = _monthly([8, 9] * 12, n=10)
    with pytest.warns(StatisticalWarning, match="quarters"):
        chart = control_chart(quiet)
    assert chart.period == "quarter" and "fewer than 20" in chart.period_reason
    assert chart.table["period"].tolist()[:2] == ["2021Q1", "2021Q2"]
    assert chart.table["n"].tolist() == [30] * 8
    with pytest.warns(StatisticalWarning, match="7 quarters"):
        assert control_chart(busy, period="quarter").period_reason == "quarterly, as requested"


def test_control_chart_on_synthetic_clinic(clinic_1500):
    chart = control_chart(clinic_1500, stated=0.9)
    assert chart.n + chart.n_missing_outcome + chart.n_missing_date == len(clinic_1500)
    assert chart.table["n"].sum() == clinic_1500["success"].notna().sum()
    assert chart.variation in {"common cause", "special cause — improving", "special cause — concerning"}
    assert "<table" in chart._repr_html_()


# --------------------------------------------------------------------------------------------
# CUSUM
# --------------------------------------------------------------------------------------------


def test_cusum_reference_hubig_cusum_package():
    # R package cusum 0.4.1 (Hubig), tests/testthat/test-cusum.R: failure probability 0.05,
    # odds multiplier 2, limit 2.96, ten patients; expected ct (2 decimals) as listed there.
    failures = [False, True, False, False, False, False, False, True, False, False]
    expected = [0.00, 0.64, 0.60, 0.55, 0.50, 0.45, 0.40, 1.04, 1.00, 0.95]
    assert np.round(cusum_path(failures, 0.05, odds_ratio=2, limit=2.96), 2).tolist() == expected
    frame = pd.DataFrame({"procedure_id": [f"P{i}" for i in range(10)],
                          "procedure_date": pd.date_range("2022-01-01", periods=10), "success": [not f for f in failures]})
    result = cusum(frame, stated=0.95, odds_ratio=2, limit=2.96)
    assert np.round(result.table["cusum"], 2).tolist() == expected


def test_cusum_reference_exact_limit_small_sample():
    # R package cusum 0.4.1, tests/testthat/test_cusum_limit_exact.R: failure probability 0.1,
    # 10 patients, odds multiplier 2, alpha 0.05 -> 1.41227 (the maximum CUSUM value whose
    # exceedance probability over all 2^10 outcome sequences is closest to alpha).
    sequences = ((np.arange(1024)[:, None] >> np.arange(10)) & 1).astype(bool)
    highest = cusum_path(sequences, 0.1, odds_ratio=2).max(axis=1)
    weight = np.where(sequences, 0.1, 0.9).prod(axis=1)
    values = np.unique(np.round(highest, 10))
    exceed = np.array([weight[highest >= v - 1e-9].sum() for v in values])
    assert values[np.argmin(np.abs(exceed - 0.05))] == pytest.approx(1.41227, abs=5e-6)


def test_cusum_path_closed_form_matches_the_recursion():
    rng = np.random.default_rng(5)
    failures = rng.random((20, 300)) < 0.15
    risks = rng.uniform(0.02, 0.4, size=(20, 300))
    fast = cusum_path(failures, risks, odds_ratio=1.7)
    slow = np.zeros_like(fast)
    for i in range(20):
        s = 0.0
        for t in range(300):
            w = (math.log(1.7) if failures[i, t] else 0.0) - math.log(1 - risks[i, t] + 1.7 * risks[i, t])
            s = max(0.0, s + w)
            slow[i, t] = s
    np.testing.assert_allclose(fast, slow, atol=1e-10)
    # with a limit the chart restarts at 0 after each signal
    limited = cusum_path(failures[0], risks[0], odds_ratio=1.7, limit=2.0)
    s, naive = 0.0, []
    for t in range(300):
        s = max(0.0, s + (math.log(1.7) if failures[0, t] else 0.0) - math.log(1 + 0.7 * risks[0, t]))
        naive.append(s)
        if s >= 2.0:
            s = 0.0
    np.testing.assert_allclose(limited, naive, atol=1e-10)


def _markov_arl(h: float, p0: float, jump: int) -> float:
    """Exact in-control ARL (Brook & Evans 1972) when a failure scores +jump*d and a success -d."""
    d = math.log1p(p0)  # odds ratio 2: a success scores -log(1 + p0)
    states = math.ceil(h / d)
    q = np.zeros((states, states))
    for j in range(states):
        if j + jump < states:
            q[j, j + jump] += p0
        q[j, max(j - 1, 0)] += 1 - p0
    return float(np.linalg.solve(np.eye(states) - q, np.ones(states))[0])


@pytest.mark.parametrize("arl0", [300, 1000])
def test_cusum_simulated_limit_against_exact_markov_chain(arl0):
    # With odds ratio 2 and p0 = 2**0.1 - 1, log(1 - p0 + 2 p0) = 0.1 log 2, so a failure scores
    # exactly 9 times what a success subtracts: the CUSUM lives on a lattice and its ARL is exact
    # by Brook & Evans' Markov chain (Reynolds & Stoumbos 1999 use the same device).
    p0 = 2**0.1 - 1
    frame = pd.DataFrame({"procedure_date": pd.date_range("2022-01-01", periods=50),
                          "success": [True] * 50})
    result = cusum(frame, stated=1 - p0, odds_ratio=2, arl0=arl0, n_sim=1000, seed=4)
    row = result.limits.iloc[0]
    exact = _markov_arl(result.limit, p0, 9)
    assert exact >= 0.97 * arl0                    # the smallest limit reaching the target
    assert exact <= 1.25 * arl0                    # ... but not much beyond (one lattice step)
    assert abs(row["arl0_simulated"] - exact) < 4 * row["arl0_se"]


@pytest.mark.slow
@pytest.mark.parametrize("risk_adjust", [False, True])
def test_cusum_in_control_run_length_is_close_to_the_target(risk_adjust):
    # Fresh in-control sequences (another seed), run through a plain loop over time, vectorised
    # over 4,000 sequences: the mean run length at the chosen limit is within 8% of arl0.
    endpoints = _endpoints(1200, seed=21, worse_physician=None)
    result = cusum(endpoints, stated=0.85, arl0=500, risk_adjust=risk_adjust, n_sim=2000, seed=1)
    h = result.limits["limit"].iloc[0]
    risks = result.table["expected"].to_numpy()
    rng = np.random.default_rng(99)
    m = 4000
    s = np.zeros(m)
    run = np.zeros(m, dtype=int)
    alive = np.ones(m, bool)
    t = 0
    while alive.any() and t < 50_000:
        t += 1
        p = risks[rng.integers(0, risks.size, m)]
        fail = rng.random(m) < p
        s = np.maximum(0.0, s + np.where(fail, math.log(2), 0.0) - np.log1p(p))
        hit = alive & (s >= h)
        run[hit] = t
        alive &= ~hit
    assert not alive.any()
    assert run.mean() == pytest.approx(500, rel=0.08)


def test_cusum_detects_the_worse_physician(clinic_1500):
    result = cusum(clinic_1500, stated=None, by="physician_id")
    assert isinstance(result, CusumResult)
    signals = result.limits.set_index("unit")["n_signals"]
    assert signals["D4"] >= 2
    assert signals.drop("D4").sum() <= 1
    assert result.limit is not None and result.limits["limit"].nunique() == 1
    assert result.signals["unit"].value_counts().idxmax() == "D4"
    risk = cusum(clinic_1500, stated=None, by="physician_id", risk_adjust=True)
    risk_signals = risk.limits.set_index("unit")["n_signals"]
    assert risk_signals["D4"] >= 2 and risk_signals.drop("D4").sum() <= 1


def test_cusum_table_accounting_and_order(clinic_1500):
    result = cusum(clinic_1500, limit=3.0)
    table = result.table
    assert list(table.columns) == ["unit", "order", "procedure_id", "date", "failure", "expected", "score",
                                   "cusum", "limit", "signal", "observed_minus_expected"]
    assert result.n + result.n_missing_outcome + result.n_missing_date == len(clinic_1500)
    assert table["date"].is_monotonic_increasing and table["order"].tolist() == list(range(1, len(table) + 1))
    assert table["observed_minus_expected"].iloc[-1] == pytest.approx(table["failure"].sum() - 0.1 * len(table))
    assert (table.loc[table["signal"], "cusum"] >= 3.0).all()
    assert result.first_signal_date == table.loc[table["signal"], "date"].min()
    # the clinic is at 0.80 against a stated 0.90: the chart signals
    assert len(result.signals) > 0


def test_cusum_detection_floor(clinic_1500):
    result = cusum(clinic_1500, stated=0.9, limit=3.0, windows=(10, 20, 50))
    row = result.detection.set_index("window").loc[20]
    w_fail = math.log(2) - math.log(1.1)
    in_a_row = int(row["failures_in_a_row"])
    assert in_a_row == math.ceil(3.0 / w_fail)
    # that many consecutive failures signal from 0, one fewer does not
    assert cusum_path([True] * in_a_row, 0.1).max() >= 3.0
    assert cusum_path([True] * (in_a_row - 1), 0.1).max() < 3.0
    # k failures anywhere in 20 cases signal, whatever the order (failures last or evenly spread)
    k = int(row["failures_any_order"])
    spread = np.zeros(20, bool)
    spread[np.round(np.linspace(0, 19, k)).astype(int)] = True
    assert cusum_path(spread, 0.1).max() >= 3.0
    assert cusum_path(np.r_[np.zeros(20 - k, bool), np.ones(k, bool)], 0.1).max() >= 3.0
    assert row["p_in_control"] == pytest.approx(stats.binom.sf(k - 1, 20, 0.1))
    assert row["expected_failures"] == pytest.approx(2.0)


def test_cusum_risk_model_is_calibrated_to_the_stated_figure(clinic_1500):
    result = cusum(clinic_1500, stated=0.9, risk_adjust=True, limit=3.5)
    assert result.table["expected"].mean() == pytest.approx(0.1, abs=1e-9)
    assert set(result.covariates) <= set(RISK_COVARIATES) and "early_treatment" in result.covariates
    model = result.risk_model.set_index("term")
    # early treatment lowers the odds of failure (synthetic truth: success log OR early vs late
    # 0.73), and the slope is statsmodels' own formula fit on the same complete cases
    assert model.loc["early_treatment", "odds_ratio"] < 1
    import statsmodels.formula.api as smf

    data = clinic_1500.dropna(subset=["success", *result.covariates]).assign(
        failure=lambda f: (~f["success"].astype(bool)).astype(float),
        early=lambda f: f["early_treatment"].astype(float))
    fit = smf.logit("failure ~ age + C(sex) + baseline_pain + levels_treated + asa_class + C(etiology) + early",
                    data=data).fit(disp=0)
    assert model.loc["early_treatment", "log_odds"] == pytest.approx(fit.params["early"], rel=1e-6)
    assert model.loc["age", "log_odds"] == pytest.approx(fit.params["age"], rel=1e-6)
    assert result.table["expected"].std() > 0.02


def test_cusum_is_reproducible_with_a_seed(clinic_1500):
    a = cusum(clinic_1500, arl0=300, n_sim=300, seed=8)
    b = cusum(clinic_1500, arl0=300, n_sim=300, seed=8)
    assert a.limit == b.limit
    assert a.limits["arl0_simulated"].iloc[0] == pytest.approx(300, rel=0.25)


# --------------------------------------------------------------------------------------------
# Lower is better: complications by physician
# --------------------------------------------------------------------------------------------


def _complication_frame(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """An endpoints-like frame: physician -> (major complications, procedures)."""
    frame = _unit_frame(counts)
    return frame.rename(columns={"success": "major_complication_30d"})


def test_funnel_lower_is_better_flags_the_upper_tail_as_worse_exactly():
    # Above the upper limit exactly when P(Y >= y) < p under Binomial(n, clinic rate): the exact
    # one-sided test of too many complications (scipy.stats.binom.sf), side "worse"; below the
    # lower limit when P(Y <= y) < p, side "better". Limits do not depend on the direction.
    counts = {"A": (1, 150), "B": (3, 140), "C": (4, 160), "D": (14, 130), "E": (0, 155), "F": (2, 120)}
    frame = _complication_frame(counts)
    low = funnel(frame, outcome="major_complication_30d", stated=0.02, lower_is_better=True, overdispersion="none")
    high = funnel(frame, outcome="major_complication_30d", stated=0.02, overdispersion="none")
    pd.testing.assert_frame_equal(low.units.drop(columns="side"), high.units.drop(columns="side"))
    assert low.lower_is_better and not high.lower_is_better
    theta = sum(e for e, _ in counts.values()) / sum(n for _, n in counts.values())
    assert low.clinic_rate == pytest.approx(theta, abs=1e-15)
    for level in (0.95, 0.998):
        p = (1 - level) / 2
        rows = low.units[(low.units["centre"] == "clinic") & (low.units["level"] == level)].set_index("unit")
        for unit, (y, n) in counts.items():
            too_many = stats.binom.sf(y - 1, n, theta) < p
            too_few = stats.binom.cdf(y, n, theta) < p
            expected = "worse" if too_many else "better" if too_few else ""
            assert rows.loc[unit, "side"] == expected, (unit, level)
    assert low.worse(level=0.998)["unit"].tolist() == ["D"]
    assert low.worse(level=0.998)["flag"].tolist() == ["high"]
    # read the other way round (success), a high rate is better: D is no longer "worse"
    assert high.worse(level=0.998).empty
    assert high.flagged(level=0.998)["side"].tolist() == ["better"]


def test_funnel_lower_is_better_against_the_stated_threshold():
    # Against a stated threshold of 2%: 9 of 120 (7.5%) lies above the exact 95% limit because
    # P(Y >= 9 | n = 120, p = 0.02) < 0.025, summed here from math.comb (and equal to scipy's sf).
    frame = _complication_frame({"A": (2, 110), "B": (9, 120), "C": (1, 100)})
    result = funnel(frame, outcome="major_complication_30d", stated=0.02, lower_is_better=True,
                    overdispersion="none")
    tail = 1 - sum(math.comb(120, k) * 0.02**k * 0.98 ** (120 - k) for k in range(9))
    assert tail < 0.025 and tail == pytest.approx(stats.binom.sf(8, 120, 0.02), rel=1e-9)
    # 2 of 110 and 1 of 100 are not: their upper tails are far above 0.025
    assert stats.binom.sf(1, 110, 0.02) > 0.025 and stats.binom.sf(0, 100, 0.02) > 0.025
    worse = result.worse(level=0.95, centre="stated")
    assert worse["unit"].tolist() == ["B"]
    assert worse["upper"].iloc[0] == pytest.approx(funnel_limits([120], 0.02, 0.95)[1][0], abs=1e-12)


def test_cusum_lower_is_better_is_the_cusum_of_the_complement():
    # A complication chart with stated rate 3% is the success chart of its complement with stated
    # 97%: the same failures, the same in-control probability, the same path and limit.
    rng = np.random.default_rng(12)
    n = 400
    complication = rng.random(n) < 0.05
    ep = pd.DataFrame({"procedure_id": [f"P{i:04d}" for i in range(n)],
                       "procedure_date": pd.date_range("2022-01-03", periods=n, freq="D"),
                       "major_complication_30d": complication, "success": ~complication})
    bad = cusum(ep, outcome="major_complication_30d", stated=0.03, lower_is_better=True, arl0=500, n_sim=300)
    good = cusum(ep, outcome="success", stated=0.97, arl0=500, n_sim=300)
    assert bad.lower_is_better and not good.lower_is_better
    assert bad.in_control_failure == pytest.approx(0.03)
    assert bad.table["failure"].tolist() == complication.tolist()
    np.testing.assert_allclose(bad.table["cusum"], good.table["cusum"])
    assert bad.limit == pytest.approx(good.limit)
    # the path by hand: Steiner et al. 2000, W = y log R - log(1 - p + R p), S = max(0, S + W)
    s, path = 0.0, []
    for y in complication:
        s = max(0.0, s + (math.log(2.0) if y else 0.0) - math.log(1 - 0.03 + 2.0 * 0.03))
        if s >= bad.limit:
            path.append(s)
            s = 0.0
        else:
            path.append(s)
    np.testing.assert_allclose(bad.table["cusum"], path)
    # against the clinic's own rate: the in-control probability is the observed complication rate
    own = cusum(ep, outcome="major_complication_30d", stated=None, lower_is_better=True, limit=3.0)
    assert own.in_control_failure == pytest.approx(complication.mean())


def test_complications_by_physician_find_the_worse_physician():
    # simulate_safety: D2 has major-complication odds x e^2.5 (true rates in truth[...by_physician]);
    # with 3,000 procedures D2 lies above the clinic's 99.8% funnel and its CUSUM signals.
    from safety_support import simulated

    _, ep, truth = simulated(3000, seed=5, major_worse_physician_log_or=2.5)
    rates = truth["major_complication_30d_by_physician"]
    assert max(rates, key=rates.get) == "D2"
    result = funnel(ep, outcome="major_complication_30d", lower_is_better=True)
    assert result.worse(level=0.998)["unit"].tolist() == ["D2"]
    chart = cusum(ep, outcome="major_complication_30d", stated=None, by="physician_id", lower_is_better=True)
    signals = chart.limits.set_index("unit")["n_signals"]
    assert signals["D2"] >= 1 and signals.drop("D2").sum() <= 1


def test_complication_figures_read_lower_is_better():
    from outcomes.plots_monitoring import cusum_figure, funnel_figure

    frame = _complication_frame({"A": (2, 110), "B": (9, 120), "C": (1, 100)})
    result = funnel(frame, outcome="major_complication_30d", stated=0.02, lower_is_better=True)
    fig = funnel_figure(result, highlight="B")
    ax = fig.axes[0]
    assert -0.01 < ax.get_ylim()[0] <= 0.0 and ax.get_ylim()[1] < 0.5  # from 0 (a unit at 0% shows whole)
    assert ax.get_title(loc="left") == "Major complications within 30 days by physician"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("upper limit: worse" in t for t in legend)
    assert "stated 2.0%" in legend and f"clinic rate {100 * 12 / 330:.1f}%" in legend
    frame["procedure_date"] = pd.date_range("2022-01-03", periods=len(frame), freq="D")
    frame["procedure_id"] = [f"P{i}" for i in range(len(frame))]
    chart = cusum(frame, outcome="major_complication_30d", stated=0.02, lower_is_better=True, limit=3.0)
    labels = [a.get_ylabel() for a in cusum_figure(chart).axes]
    assert labels[0] == "major complications minus expected (cumulative)"


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda ep: funnel([1, 2]), "`endpoints` must be a pandas DataFrame"),
    (lambda ep: funnel(ep, outcome="nope"), "`outcome` must be a column of `endpoints`"),
    (lambda ep: funnel(ep, outcome="baseline_pain"), "`outcome` must name a yes/no column"),
    (lambda ep: funnel(ep, unit="surgeon"), "`unit` must be a column of `endpoints`"),
    (lambda ep: funnel(ep, stated=90), "`stated` must be a proportion strictly between 0 and 1 or None; got 90."),
    (lambda ep: funnel(ep, confidence_levels=(0.95, 99.8)), "`confidence_levels` must hold numbers"),
    (lambda ep: funnel(ep, overdispersion="yes"), "`overdispersion` must be one of 'auto'"),
    (lambda ep: funnel(ep, winsorize=0.5), "`winsorize` must be a fraction in \\[0, 0.5\\); got 0.5."),
    (lambda ep: funnel_limits([0, 10], 0.9), "`n` must be whole numbers >= 1"),
    (lambda ep: funnel_limits([10], 1.0), "`target` must be a proportion strictly between 0 and 1; got 1.0."),
    (lambda ep: control_chart(ep, period="week"), "`period` must be one of 'auto', 'month', 'quarter', 'year'; got 'week'."),
    (lambda ep: control_chart(ep, run_length=1), "`run_length` must be a whole number >= 2; got 1."),
    (lambda ep: control_chart(ep.drop(columns="procedure_date")), "must have a 'procedure_date' column"),
    (lambda ep: control_chart(ep, higher_is_better="yes"), "`higher_is_better` must be True or False"),
    (lambda ep: cusum(ep, odds_ratio=1), "`odds_ratio` must be a positive number other than 1; got 1."),
    (lambda ep: cusum(ep, arl0=0), "`arl0` must be a number of cases between 1 and 1e\\+06; got 0."),
    (lambda ep: cusum(ep, by="surgeon"), "`by` must be a column of `endpoints`"),
    (lambda ep: cusum(ep, limit=-1), "`limit` must be a positive number or None; got -1."),
    (lambda ep: cusum(ep, n_sim=10), "`n_sim` must be a whole number >= 100; got 10."),
    (lambda ep: cusum(ep, windows=(10, 0)), "`windows` must be a whole number >= 1; got 0."),
    (lambda ep: cusum(ep, covariates=("age", "bmi"), risk_adjust=True), "`covariates` must be a column"),
    (lambda ep: cusum_path([True], 1.5), "`expected` must be probabilities strictly between 0 and 1"),
    (lambda ep: funnel(ep, lower_is_better="yes"), "`lower_is_better` must be True or False; got 'yes'."),
    (lambda ep: cusum(ep, lower_is_better=1), "`lower_is_better` must be True or False; got 1."),
])
def test_input_validation(call, message):
    endpoints = _monthly([80, 82] * 8).assign(physician_id="D1", baseline_pain=7.0,
                                               procedure_id=lambda f: [f"P{i}" for i in range(len(f))])
    with pytest.raises(InputError, match=message):
        call(endpoints)


def test_public_api():
    for name in ("funnel", "control_chart", "cusum"):
        assert getattr(outcomes, name) is getattr(outcomes.monitoring, name)
