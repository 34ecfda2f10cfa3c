"""Replay of recorded R results: binom.test, prop.test, fisher.test, survfit, survdiff, coxph, glm,
and Firth profile limits (the penalised likelihood written in R, ``firth_profile.R``).

The fixtures in ``tests/reference/r/`` were made by ``tests/reference/r/make_fixtures.R`` (its code
is kept beside them) with R 4.2.2 and survival 3.5-3 on seeded random data sets, including ties,
zero events, all-censored data, a survival curve that reaches 0 and one that is exactly 0.5 over a
flat, a stratified log-rank test R cannot solve, and 2x2 tables with an empty group. The CSVs hold
R's doubles to 17 significant digits.

Tolerance: 1e-8 relative (and 1e-12 absolute, for values at or near 0), as R and the package
compute the same closed forms or the same maximum to within rounding; the fits are run to
convergence on both sides (R coxph eps 1e-14, glm epsilon 1e-15), so their differences are
rounding too (except glm's standard errors, 1e-7: see that test). The documented conventions that differ from R are tested explicitly: where R gives
NA for an upper median limit the package gives inf; where the survival curve is exactly 0.5 over
a flat R reports the midpoint and the package the left end; where R survdiff stops on a singular
variance the package warns and returns NaN.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from outcomes.exceptions import StatisticalWarning
from outcomes.proportions import proportion, risk_difference
from outcomes.regression import hazard_ratio, odds_ratios
from outcomes.survival import kaplan_meier, logrank

REFERENCE = Path(__file__).parent / "reference" / "r"
RTOL, ATOL = 1e-8, 1e-12
ALTERNATIVES = {"p_two_sided": "two-sided", "p_less": "less", "p_greater": "greater"}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name, na_values=["NA"], keep_default_na=False)


def _close(actual, expected) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=RTOL, atol=ATOL, equal_nan=True)


def _quiet(func, *args, **kwargs):
    """Call a statistic, ignoring its StatisticalWarnings (the degenerate cases are intended)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return func(*args, **kwargs)


SURVIVAL = _read("survival_data.csv")
DATASETS = sorted(SURVIVAL["dataset"].unique().tolist())


def _dataset(i: int) -> pd.DataFrame:
    return SURVIVAL[SURVIVAL["dataset"] == i].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# proportions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _read("binom.csv").to_dict("records"), ids=lambda r: f"{r['x']:g}/{r['n']:g}")
def test_binom_test_and_intervals_match_r(row):
    # R: binom.test(x, n, p = p0, alternative = a)$p.value, binom.test(x, n)$conf.int (Clopper-
    # Pearson), prop.test(x, n, correct = FALSE)$conf.int (Wilson)
    x, n, p0 = int(row["x"]), int(row["n"]), float(row["p0"])
    for column, alternative in ALTERNATIVES.items():
        assert proportion(x, n, stated=p0, alternative=alternative).pvalue == pytest.approx(
            row[column], rel=RTOL, abs=ATOL)
    wilson = proportion(x, n)
    exact = proportion(x, n, method="exact")
    _close([wilson.ci.low, wilson.ci.high], [row["wilson_low"], row["wilson_high"]])
    _close([exact.ci.low, exact.ci.high], [row["exact_low"], row["exact_high"]])


@pytest.mark.parametrize("row", _read("fisher.csv").to_dict("records"),
                         ids=lambda r: f"{r['x1']:g}/{r['n1']:g}-{r['x2']:g}/{r['n2']:g}")
def test_fisher_test_matches_r_including_empty_groups(row):
    # R: fisher.test(matrix(c(x1, n1 - x1, x2, n2 - x2), 2), alternative = a)$p.value; an empty
    # group gives p = 1 in R and here
    counts = [int(row[k]) for k in ("x1", "n1", "x2", "n2")]
    for column, alternative in ALTERNATIVES.items():
        res = _quiet(risk_difference, *counts, alternative=alternative)
        assert res.pvalue == pytest.approx(row[column], rel=RTOL, abs=ATOL)


# --------------------------------------------------------------------------------------------
# survfit
# --------------------------------------------------------------------------------------------

SURVFIT = _read("survfit.csv")
MEDIANS = _read("survfit_median.csv").set_index("dataset")


@pytest.mark.parametrize("dataset", DATASETS)
def test_kaplan_meier_table_matches_survfit(dataset):
    # R: survfit(Surv(time, status) ~ 1, conf.type = "log-log"): time, n.risk, n.event, n.censor,
    # surv, surv * std.err (Greenwood se of S), lower, upper (NA where S is 1 or 0)
    d = _dataset(dataset)
    expected = SURVFIT[SURVFIT["dataset"] == dataset]
    table = kaplan_meier(d["time"], d["status"]).table
    _close(table["time"], expected["time"])
    for ours, theirs in (("at_risk", "n_risk"), ("events", "n_event"), ("censored", "n_censor")):
        assert table[ours].tolist() == expected[theirs].astype(int).tolist()
    for ours, theirs in (("survival", "surv"), ("se", "se_surv"), ("ci_low", "lower"), ("ci_high", "upper")):
        _close(table[ours], expected[theirs])


@pytest.mark.parametrize("dataset", DATASETS)
def test_kaplan_meier_median_and_interval_match_quantile_survfit(dataset):
    # R: quantile(survfit(...), 0.5): median, lower, upper (NA when not reached)
    d = _dataset(dataset)
    km = kaplan_meier(d["time"], d["status"])
    r = MEDIANS.loc[dataset]
    if r["flat_at_half"]:
        # R takes the midpoint of a flat at exactly 0.5; the package the flat's left end
        rows = SURVFIT[(SURVFIT["dataset"] == dataset) & (SURVFIT["surv"] <= 0.5 + 1e-9)]
        assert km.median == rows["time"].iloc[0]
        assert rows["time"].iloc[0] < r["median"]
    else:
        _close(km.median, r["median"])
    _close(km.median_ci.low, r["lower"])
    # R's NA upper limit ("not reached") is inf here
    _close(km.median_ci.high, math.inf if math.isnan(r["upper"]) else r["upper"])


# --------------------------------------------------------------------------------------------
# survdiff
# --------------------------------------------------------------------------------------------

SURVDIFF = _read("survdiff.csv")
SURVDIFF_GROUPS = _read("survdiff_groups.csv")


@pytest.mark.parametrize("stratified", [0, 1], ids=["plain", "stratified"])
@pytest.mark.parametrize("dataset", DATASETS)
def test_logrank_matches_survdiff(dataset, stratified):
    # R: survdiff(Surv(time, status) ~ group [+ strata(stratum)]): chisq, pvalue, observed,
    # expected, diag(var); df = groups with positive expected count - 1
    d = _dataset(dataset)
    r = SURVDIFF[(SURVDIFF["dataset"] == dataset) & (SURVDIFF["stratified"] == stratified)].iloc[0]
    strata = d["stratum"] if stratified else None
    if r["error"]:  # R stops: "system is exactly singular"
        with pytest.warns(StatisticalWarning, match="singular"):
            res = logrank(d["time"], d["status"], d["group"], strata=strata)
        assert math.isnan(res.statistic) and math.isnan(res.pvalue)
        return
    res = _quiet(logrank, d["time"], d["status"], d["group"], strata=strata)
    _close(res.statistic, r["chisq"])
    _close(res.pvalue, r["pvalue"])
    assert res.df == r["df"]
    groups = SURVDIFF_GROUPS[(SURVDIFF_GROUPS["dataset"] == dataset)
                             & (SURVDIFF_GROUPS["stratified"] == stratified)]
    assert res.table["group"].tolist() == groups["group"].tolist()
    for column in ("n", "observed", "expected", "variance"):
        _close(res.table[column], groups[column])


# --------------------------------------------------------------------------------------------
# coxph
# --------------------------------------------------------------------------------------------

COXPH = _read("coxph.csv")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("dataset", sorted(COXPH["dataset"].unique().tolist()))
def test_hazard_ratio_matches_coxph(dataset, ties):
    # R: coxph(Surv(time, status) ~ group + x, ties = ties, control = coxph.control(eps = 1e-14,
    # iter.max = 200, toler.chol = 1e-15)) on groups a and b: coef, se(coef), Pr(>|z|) of groupb
    d = _dataset(dataset)
    d = d[d["group"].isin(["a", "b"])].reset_index(drop=True)
    r = COXPH[(COXPH["dataset"] == dataset) & (COXPH["ties"] == ties) & (COXPH["term"] == "group")].iloc[0]
    res = _quiet(hazard_ratio, d["time"], d["status"], d["group"], covariates=d[["x"]], ties=ties,
                 reference="a")
    if r["warned"]:
        # R warns that the coefficient may be infinite (a group without events, or a monotone
        # likelihood: data set 35 orders every death of group a before group b) and stops at a
        # huge coefficient; the package reports the limit, 0 or inf, with nan p-value
        assert abs(r["coef"]) > 10
        assert res.log_hr == math.copysign(math.inf, r["coef"]) and math.isnan(res.pvalue)
        return
    _close([res.log_hr, res.se, res.pvalue], [r["coef"], r["se"], r["p"]])


# --------------------------------------------------------------------------------------------
# glm(binomial)
# --------------------------------------------------------------------------------------------

GLM_DATA = _read("glm_data.csv")
GLM = _read("glm.csv")


@pytest.mark.parametrize("dataset", sorted(GLM["dataset"].unique().tolist()))
def test_odds_ratios_match_glm_binomial(dataset):
    # R: glm(y ~ early + age + levels, family = binomial, control = glm.control(epsilon = 1e-15,
    # maxit = 100)): coef, Std. Error, Pr(>|z|), confint.default (Wald)
    d = GLM_DATA[GLM_DATA["dataset"] == dataset].reset_index(drop=True)
    r = GLM[(GLM["dataset"] == dataset) & (GLM["term"] != "(Intercept)")].set_index("term")
    res = odds_ratios(d["y"], d[["early"]], covariates=d[["age", "levels"]], firth=False)
    table = res.table.set_index("term").loc[r.index]
    _close(table["log_odds"], r["coef"])
    # R's standard errors come from the IRLS weights of its last iteration, computed at the
    # coefficients before the final update (about sqrt(epsilon) = 3e-8 away), so they sit ~1e-8
    # from the information at the maximum that statsmodels uses: 1e-7 for the se and what uses it.
    for ours, theirs in ((table["se"], r["se"]), (table["pvalue"], r["p"]),
                         (np.log(table["ci_low"]), r["wald_low"]), (np.log(table["ci_high"]), r["wald_high"])):
        np.testing.assert_allclose(ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float), rtol=1e-7)


# --------------------------------------------------------------------------------------------
# Firth (penalised likelihood written directly in R: logistf is not in Debian)
# --------------------------------------------------------------------------------------------

FIRTH = _read("firth_profile.csv")
FIRTH_DATA = {  # the data sets written in tests/reference/r/firth_profile.R (and test_regression.py)
    "n18": ([1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1],
            [1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
            [-0.59, 0.78, -1.58, -0.87, 0.69, -0.94, -2.23, -0.09, 0.92, -0.13, 1.06, -0.59, -1.65,
             -0.65, -0.02, -0.35, -0.28, 0.13]),
    "n15": ([1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1],
            [0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0],
            [0.19, 1.89, 0.23, 0.91, 1.1, 0.09, -0.03, -0.49, 0.07, 0.57, 0.08, 0.44, -0.5, 0.99, 0.63]),
}


@pytest.mark.parametrize("name", sorted(FIRTH_DATA))
def test_firth_profile_limits_match_r(name):
    # R: firth_profile.R (BFGS on the penalised likelihood, continuation along the profile, uniroot).
    # Limits to 1e-8 relative (they agree to 1e-14); the estimate to 1e-6: R's BFGS stops on a
    # relative change of the function (1e-15), which leaves its maximiser ~1e-8 from the optimum
    # (the penalised likelihood is flat there), while the limits depend on the maximum's value only.
    y, b, c = FIRTH_DATA[name]
    res = odds_ratios(y, pd.DataFrame({"b": b, "c": c}), firth=True)
    expected = FIRTH[FIRTH["dataset"] == name].set_index("term")
    table = res.table.set_index("term").loc[expected.index]
    np.testing.assert_allclose(table["log_odds"], expected["coef"], rtol=1e-6)
    np.testing.assert_allclose(np.log(table["ci_low"]), expected["lower"], rtol=RTOL)
    np.testing.assert_allclose(np.log(table["ci_high"]), expected["upper"], rtol=RTOL)
