"""Tests of outcomes.competing: Aalen-Johansen cumulative incidence, Gray's test, rule of three."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from outcomes import stats as ostats
from outcomes.competing import cumulative_incidence, gray_test, rule_of_three
from outcomes.exceptions import InputError, StatisticalWarning
from outcomes.survival import kaplan_meier, logrank

REF = Path(__file__).parent / "reference" / "r" / "competing"

# R: survfit(Surv(time, factor(status, levels = 0:K)) ~ 1), survival 3.5-3 (make_fixtures.R)
R_CASES = [
    ("ties", 1),
    ("ties", 2),
    ("three_causes", 1),
    ("three_causes", 2),
    ("three_causes", 3),
    ("all_censored", 1),
    ("no_competing", 1),
    ("no_competing", 2),
    ("all_fail_last", 1),
    ("all_fail_last", 2),
    ("registry", 1),
    ("registry", 2),
]


@pytest.mark.parametrize(("name", "cause"), R_CASES)
def test_matches_r_survfit_multistate(name, cause):
    data = pd.read_csv(REF / f"{name}_data.csv")
    ref = pd.read_csv(REF / f"{name}_survfit.csv")
    tab = cumulative_incidence(data["time"], data["status"], event_of_interest=cause).table
    assert len(tab) == len(ref)
    np.testing.assert_allclose(tab["time"], ref["time"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(tab["at_risk"], ref["n_risk"])
    np.testing.assert_array_equal(tab["events"], ref[f"events_{cause}"])
    others = [c for c in ref.columns if c.startswith("events_") and c != f"events_{cause}"]
    np.testing.assert_array_equal(tab["competing"], ref[others].sum(axis=1))
    np.testing.assert_array_equal(tab["censored"], ref["censored"])
    for ours, theirs in [
        ("cumulative_incidence", "pstate"),
        ("se", "std_err"),
        ("ci_low", "lower"),
        ("ci_high", "upper"),
    ]:
        # NaN where R gives NA (no interval at F = 0)
        np.testing.assert_allclose(tab[ours], ref[f"{theirs}_{cause}"], rtol=0, atol=1e-8)
    other_states = [f"pstate_{k}" for k in range(1, 4) if k != cause and f"pstate_{k}" in ref]
    np.testing.assert_allclose(tab["competing_incidence"], ref[other_states].sum(axis=1), atol=1e-8)


# cmprsk's shipped reference output (tests/test.Rout.save of the R package cmprsk, written by
# R 1.2.1), on the data of its tests/test.R regenerated in cmprsk_test_data.R.
CMPRSK = pd.read_csv(REF / "cmprsk_test_data.csv")


def test_estimates_match_cmprsk_published_output():
    # print(cuminc(ss, cc)): $est rows "1 1" and "1 2" at times 1..5
    times = [1, 2, 3, 4, 5]
    cause1 = [0.2352861, 0.3287068, 0.4247898, 0.4247898, 0.4247898]
    cause2 = [0.2567862, 0.3931580, 0.4631781, 0.4911861, 0.4911861]
    for cause, expected in [(1, cause1), (2, cause2)]:
        res = cumulative_incidence(CMPRSK["ss"], CMPRSK["cc"], event_of_interest=cause)
        np.testing.assert_allclose(res.cumulative_incidence_at(times), expected, atol=5e-8)


@pytest.mark.parametrize(
    ("time", "subset", "cause", "statistic", "pvalue", "df"),
    [
        # print(xx <- cuminc(dd$ss, cc, gg, strt)) -- Tests: rows 1 and 2
        ("dd", None, 1, 1.214132, 0.5449473, 2),
        ("dd", None, 2, 3.269462, 0.1950048, 2),
        # print(xx <- cuminc(ss, cc, gg, strt))
        ("ss", None, 1, 3.393977, 0.1832345, 2),
        ("ss", None, 2, 1.989511, 0.3698139, 2),
        # print(xx <- cuminc(ssd, ccd, gg2, strtd, subset = gg != 'b'))
        ("ss", "no_b", 1, 3.5151549, 0.06080997, 1),
        ("ss", "no_b", 2, 0.1400145, 0.70826655, 1),
    ],
)
def test_gray_matches_cmprsk_published_output(time, subset, cause, statistic, pvalue, df):
    d = CMPRSK if subset is None else CMPRSK[CMPRSK["gg"] != "b"]
    res = gray_test(d[time], d["cc"], d["gg"], strata=d["strt"], event_of_interest=cause)
    assert res.df == df
    assert res.statistic == pytest.approx(statistic, abs=5e-7)
    assert res.pvalue == pytest.approx(pvalue, abs=5e-8)
    assert res.method == "stratified gray" and res.n_strata == 2


def test_no_competing_events_is_one_minus_kaplan_meier():
    rng = np.random.default_rng(3)
    t = np.round(rng.exponential(5, 200))
    e = (rng.random(200) < 0.6).astype(int)
    ci = cumulative_incidence(t, e)
    km = kaplan_meier(t, e)
    np.testing.assert_allclose(ci.table["cumulative_incidence"], 1 - km.table["survival"], atol=1e-12)
    assert (ci.table["competing"] == 0).all()


def test_no_competing_gray_score_is_logrank_observed_minus_expected():
    # with no competing event R_k = Y_k, so Gray's score is the log-rank O - E (its variance differs)
    rng = np.random.default_rng(4)
    t = np.round(rng.exponential(5, 150), 1)
    e = (rng.random(150) < 0.7).astype(int)
    g = rng.integers(0, 2, 150)
    res = gray_test(t, e, g)
    lr = logrank(t, e, g)
    o_minus_e = (lr.table["observed"] - lr.table["expected"]).to_numpy()
    np.testing.assert_allclose(res.table["score"], o_minus_e, atol=1e-10)
    assert res.statistic == pytest.approx(lr.statistic, rel=0.05)


def test_frequency_weights_equal_repeated_rows():
    rng = np.random.default_rng(5)
    t = np.round(rng.exponential(3, 60))
    e = rng.integers(0, 3, 60)
    g = rng.integers(0, 2, 60)
    w = rng.integers(1, 4, 60)
    rep = np.repeat(np.arange(60), w)
    a = cumulative_incidence(t, e, weights=w).table
    b = cumulative_incidence(t[rep], e[rep]).table
    pd.testing.assert_frame_equal(a, b.astype(a.dtypes.to_dict()), check_exact=False, atol=1e-12)
    ga, gb = gray_test(t, e, g, weights=w), gray_test(t[rep], e[rep], g[rep])
    assert ga.statistic == pytest.approx(gb.statistic, rel=1e-10)
    np.testing.assert_allclose(ga.table["n"], gb.table["n"])


def test_at_and_value_at_times():
    res = cumulative_incidence([1, 2, 3, 4, 5, 6], [1, 2, 0, 1, 2, 1])
    # by hand: F(4) = 1/6 + (4/6)(1/3) = 7/18, F(6) = 7/18 + (2/9)(1/1) = 11/18
    assert res.cumulative_incidence_at([4, 6]) == pytest.approx([7 / 18, 11 / 18], rel=1e-14)
    tab = res.table
    assert res.cumulative_incidence_at(0.5) == 0.0
    assert res.cumulative_incidence_at(100) == pytest.approx(tab["cumulative_incidence"].iloc[-1])
    frame = res.at([0.5, 4, 4.5, 100])
    assert list(frame.columns) == [
        "time", "cumulative_incidence", "se", "ci_low", "ci_high", "at_risk", "competing_incidence"
    ]
    assert math.isnan(frame["ci_low"].iloc[0]) and frame["se"].iloc[0] == 0.0
    assert frame["at_risk"].tolist() == [6, 3, 2, 0]
    at_4 = tab.set_index("time").loc[4.0, "cumulative_incidence"]
    assert frame["cumulative_incidence"].iloc[1] == pytest.approx(at_4)
    # event-free + both incidences = 1 at the end
    last = tab.iloc[-1]
    km = kaplan_meier([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 1]).table["survival"].iloc[-1]
    assert last["cumulative_incidence"] + last["competing_incidence"] + km == pytest.approx(1.0)
    row = res.to_frame()
    assert row.loc[0, "n"] == 6 and row.loc[0, "n_events"] == 3 and row.loc[0, "n_competing"] == 2
    assert "<table" in res._repr_html_()


def test_log_log_interval_inside_unit_interval_and_contains_estimate():
    data = pd.read_csv(REF / "ties_data.csv")
    tab = cumulative_incidence(data["time"], data["status"], conf_type="log-log").table
    pos = tab["cumulative_incidence"] > 0
    assert (tab.loc[pos, "ci_low"] > 0).all() and (tab.loc[pos, "ci_high"] < 1).all()
    assert (tab.loc[pos, "ci_low"] <= tab.loc[pos, "cumulative_incidence"]).all()
    assert (tab.loc[pos, "ci_high"] >= tab.loc[pos, "cumulative_incidence"]).all()
    # log(-log F) +- z se / (F |log F|), by hand at one row
    r = tab[pos].iloc[3]
    z = stats.norm.ppf(0.975)
    sd = r["se"] / (r["cumulative_incidence"] * abs(math.log(r["cumulative_incidence"])))
    assert r["ci_low"] == pytest.approx(r["cumulative_incidence"] ** math.exp(z * sd), rel=1e-12)


def _true_cif(t, rate1, rate2):
    return rate1 / (rate1 + rate2) * (1 - np.exp(-(rate1 + rate2) * t))


def _coverage(reps, n, conf_type, seed):
    """Share of intervals for F1(1 year) covering the truth: exponential causes, uniform censoring."""
    rng = np.random.default_rng(seed)
    rate1, rate2 = 0.15, 0.10  # new fracture, death (per year)
    truth = _true_cif(1.0, rate1, rate2)
    hit = 0
    for _ in range(reps):
        t1 = rng.exponential(1 / rate1, n)
        t2 = rng.exponential(1 / rate2, n)
        tc = rng.uniform(0.5, 2.5, n)
        t = np.minimum(np.minimum(t1, t2), tc)
        e = np.where(t == tc, 0, np.where(t == t1, 1, 2))
        row = cumulative_incidence(np.round(t * 365), e, conf_type=conf_type).at(365).iloc[0]
        hit += row["ci_low"] <= truth <= row["ci_high"]
    return hit / reps


@pytest.mark.parametrize("conf_type", ["log", "log-log"])
def test_interval_coverage_of_one_year_incidence(conf_type):
    # 400 data sets of 200 patients (true F1(1 y) = 0.133): binomial sd of the coverage 0.011
    cover = _coverage(400, 200, conf_type, seed=11)
    assert 0.915 <= cover <= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("conf_type", ["log", "log-log"])
def test_interval_coverage_of_one_year_incidence_large(conf_type):
    cover = _coverage(4000, 150, conf_type, seed=12)  # sd 0.0035
    assert 0.94 <= cover <= 0.96


def test_gray_size_under_the_null():
    # same cumulative incidence in both groups: rejection at 5% near 5% (300 data sets, sd 0.013)
    rng = np.random.default_rng(21)
    reject = 0
    reps = 300
    for _ in range(reps):
        n = 120
        t1, t2 = rng.exponential(5, n), rng.exponential(8, n)
        tc = rng.uniform(0, 10, n)
        t = np.minimum(np.minimum(t1, t2), tc)
        e = np.where(t == tc, 0, np.where(t == t1, 1, 2))
        reject += gray_test(t, e, rng.integers(0, 2, n)).pvalue < 0.05
    assert 0.015 <= reject / reps <= 0.09


def test_gray_detects_a_difference():
    rng = np.random.default_rng(22)
    n = 300
    g = rng.integers(0, 2, n)
    t1 = rng.exponential(np.where(g == 1, 2.0, 6.0))
    t2 = rng.exponential(6.0, n)
    t = np.minimum(t1, t2)
    e = np.where(t == t1, 1, 2)
    res = gray_test(t, e, g)
    assert res.pvalue < 1e-4
    assert res.table["score"].iloc[0] < 0 < res.table["score"].iloc[1]
    assert res.to_frame().loc[0, "method"] == "gray"
    assert "<table" in res._repr_html_()


def test_gray_singular_covariance_warns():
    with pytest.warns(StatisticalWarning, match="singular"):
        res = gray_test([1, 2, 3, 4], [0, 0, 0, 0], ["a", "a", "b", "b"])
    assert math.isnan(res.statistic) and math.isnan(res.pvalue)


@pytest.mark.parametrize(("n", "level"), [(1, 0.95), (30, 0.95), (100, 0.95), (300, 0.99)])
def test_rule_of_three(n, level):
    res = rule_of_three(n, confidence_level=level)
    alpha = 1 - level
    # exact one-sided limit solves (1 - p)^n = alpha (Hanley & Lippman-Hand 1983)
    assert res.ci.high == pytest.approx(1 - alpha ** (1 / n), rel=1e-10)
    assert res.rule_of_three == pytest.approx(-math.log(alpha) / n)
    assert res.ci.low == 0.0 and res.estimate == 0.0 and res.count == 0
    # the rule overstates the exact limit, and is close once n >= 30
    assert res.rule_of_three >= res.ci.high
    if n >= 30:
        assert res.rule_of_three / res.ci.high < 1.06
    assert res.to_frame().loc[0, "ci_high"] == res.ci.high


def test_rule_of_three_is_three_over_n_at_95():
    # Hanley & Lippman-Hand 1983: "the upper limit ... is approximately 3/n"
    assert rule_of_three(100).rule_of_three == pytest.approx(3 / 100, rel=0.002)


def test_exported_from_stats():
    for name in ("cumulative_incidence", "gray_test", "rule_of_three", "CumulativeIncidenceResult",
                 "GrayTestResult", "RuleOfThreeResult"):
        assert name in ostats.__all__ and hasattr(ostats, name)


def test_input_validation():
    with pytest.raises(InputError, match=r"`durations` must be a non-empty array"):
        cumulative_incidence([], [])
    with pytest.raises(InputError, match=r"`durations` must be non-negative finite numbers.*-1"):
        cumulative_incidence([1, -1], [1, 0])
    with pytest.raises(InputError, match=r"`durations` must be numbers; got 'x' at position 1"):
        cumulative_incidence([1, "x"], [1, 0])
    with pytest.raises(InputError, match=r"`events` must have the same length as `durations` \(2\)"):
        cumulative_incidence([1, 2], [1])
    with pytest.raises(InputError, match=r"`events` must be whole numbers >= 0.*got 1.5 at position 1"):
        cumulative_incidence([1, 2], [0, 1.5])
    with pytest.raises(InputError, match=r"`events` must be whole numbers >= 0.*got -1"):
        cumulative_incidence([1, 2], [0, -1])
    with pytest.raises(InputError, match=r"`event_of_interest` must be a whole number >= 1"):
        cumulative_incidence([1, 2], [0, 1], event_of_interest=0)
    with pytest.raises(InputError, match=r"`confidence_level` must be a number strictly between 0 and 1"):
        cumulative_incidence([1, 2], [0, 1], confidence_level=1.5)
    with pytest.raises(InputError, match=r"`conf_type` must be one of 'log', 'log-log'; got 'plain'"):
        cumulative_incidence([1, 2], [0, 1], conf_type="plain")
    with pytest.raises(InputError, match=r"`weights` must be non-negative finite numbers; got -1"):
        cumulative_incidence([1, 2], [0, 1], weights=[1, -1])
    with pytest.raises(InputError, match=r"`t` must be numbers without NaN"):
        cumulative_incidence([1, 2], [0, 1]).at(float("nan"))
    with pytest.raises(InputError, match=r"`groups` must have at least two distinct labels"):
        gray_test([1, 2], [1, 1], ["a", "a"])
    with pytest.raises(InputError, match=r"`groups` must not have missing labels; got None at position 1"):
        gray_test([1, 2], [1, 1], ["a", None])
    with pytest.raises(InputError, match=r"`rho` must be a finite number >= 0; got -1"):
        gray_test([1, 2], [1, 1], ["a", "b"], rho=-1)
    with pytest.raises(InputError, match=r"`strata` must have the same length"):
        gray_test([1, 2], [1, 1], ["a", "b"], strata=[1])
    with pytest.raises(InputError, match=r"`nobs` must be a whole number >= 1; got 0"):
        rule_of_three(0)
    with pytest.raises(InputError, match=r"`nobs` must be a whole number >= 1; got 2.5"):
        rule_of_three(2.5)
