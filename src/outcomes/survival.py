"""Time-to-event statistics: Kaplan-Meier, the log-rank test and Turnbull's interval-censored NPMLE.

Time to relief after vertebroplasty or kyphoplasty is right-censored (a patient may leave follow-up
before relief) and, read strictly, interval-censored (relief is only seen at a visit). This module
gives the three estimators the claims need:

- :func:`kaplan_meier` -- the product-limit estimate with Greenwood standard errors and the log-log
  ("log(-log S)") pointwise interval, as R ``survival::survfit(conf.type = "log-log")``;
- :func:`logrank` -- the k-group (optionally stratified) Mantel-Haenszel log-rank test, as R
  ``survival::survdiff``;
- :func:`turnbull` -- the nonparametric maximum likelihood estimate for interval-censored times
  (Turnbull's self-consistency algorithm), a sensitivity analysis beside Kaplan-Meier.

Everything is vectorised (``np.unique`` / ``np.bincount`` / ``np.cumsum``); there is no Python loop
over subjects or event times, so a million durations take a fraction of a second.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import isotonic_regression

from ._results import ConfidenceInterval, check_confidence_level, html_table, result_row, step_lookup
from .exceptions import InputError, StatisticalWarning

__all__ = [
    "KaplanMeierResult",
    "LogrankResult",
    "TurnbullResult",
    "kaplan_meier",
    "logrank",
    "turnbull",
]

# Survival values within this distance of 0.5 count as "reached 0.5": a curve that should be exactly
# 0.5 (e.g. 1 - 1/2) must not miss the median through floating-point rounding. R's
# quantile.survfit uses a tolerance of sqrt(.Machine$double.eps) for the same reason.
_HALF_TOL = 1e-9


# --------------------------------------------------------------------------------------------
# validation at the edge
# --------------------------------------------------------------------------------------------


def _as_1d(name: str, values: Any) -> np.ndarray:
    if isinstance(values, (str, bytes)) or values is None:
        raise InputError(f"`{name}` must be a 1-D array of numbers; got {values!r}.")
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be a 1-D array; got an array of shape {arr.shape!r}.")
    return arr


def _check_numeric(name: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)):
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            bad = next((v for v in arr if not isinstance(v, numbers.Real)), arr[0])
            raise InputError(f"`{name}` must be numbers; got {bad!r}.") from None
    return arr.astype(float, copy=False)


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> tuple[Any, int]:
    i = int(np.flatnonzero(bad)[0])
    value = arr[i]
    return (value.item() if hasattr(value, "item") else value), i


def _check_lengths(n: int, *, reference: str = "durations", **others: np.ndarray) -> None:
    for name, arr in others.items():
        if arr.shape[0] != n:
            raise InputError(
                f"`{name}` must have the same length as `{reference}` ({n}); got length {arr.shape[0]}."
            )


def _check_durations(name: str, values: Any, *, allow_inf: bool = False) -> np.ndarray:
    arr = _as_1d(name, values)
    if arr.shape[0] == 0:
        raise InputError(f"`{name}` must be a non-empty array of times; got {values!r}.")
    arr = _check_numeric(name, arr)
    bad = np.isnan(arr) | (arr < 0)
    if not allow_inf:
        bad |= np.isinf(arr)
    if bad.any():
        value, i = _first_bad(arr, bad)
        rule = "non-negative numbers (no NaN)" if allow_inf else "non-negative finite numbers (no NaN)"
        raise InputError(
            f"`{name}` must be {rule}; got {value!r} at position {i}. "
            "Drop or fix the record before the analysis."
        )
    return arr


def _check_events(values: Any, n: int) -> np.ndarray:
    arr = _as_1d("events", values)
    _check_lengths(n, events=arr)
    if arr.dtype == bool:
        return arr.astype(float)
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        bad = np.array([not (isinstance(v, (bool, np.bool_)) or v in (0, 1)) for v in arr])
        value, i = _first_bad(arr, bad)
        raise InputError(
            f"`events` must be 0/1 or boolean (1 = event, 0 = censored); got {value!r} at position {i}."
        ) from None
    bad = ~((num == 0) | (num == 1))
    if bad.any():
        value, i = _first_bad(arr, bad)
        raise InputError(
            f"`events` must be 0/1 or boolean (1 = event, 0 = censored); got {value!r} at position {i}."
        )
    return num


def _check_weights(values: Any, n: int) -> np.ndarray:
    arr = _check_numeric("weights", _as_1d("weights", values))
    _check_lengths(n, weights=arr)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        value, i = _first_bad(arr, bad)
        raise InputError(f"`weights` must be non-negative finite numbers; got {value!r} at position {i}.")
    return arr


def _distinct_times(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(t, return_inverse=True)`` for times without NaN, by hashing: a registry has a
    million times but a few thousand distinct ones, so sorting only those is faster."""
    codes, uniques = pd.factorize(t + 0.0, sort=True)  # + 0.0: -0.0 is 0.0, as np.unique
    return np.asarray(uniques, dtype=float), codes.astype(np.intp)


def _check_labels(name: str, values: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Factorise group or stratum labels (sorted); missing labels are an error."""
    arr = _as_1d(name, values)
    _check_lengths(n, **{name: arr})
    # text labels as Python objects: a Series would first copy a million of them into Arrow
    codes, uniques = pd.factorize(arr.astype(object) if arr.dtype.kind in "US" else pd.Series(arr), sort=True)
    if (codes < 0).any():
        value, i = _first_bad(arr, codes < 0)
        raise InputError(f"`{name}` must not have missing labels; got {value!r} at position {i}.")
    return codes.astype(np.int64), np.asarray(uniques)


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


def _loglog_interval(surv: np.ndarray, var_cumhaz: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise log(-log S) interval; NaN where S = 1 or S = 0 (log(-log S) is undefined there),
    as R survival 3.x ``survfit(conf.type = "log-log")``, which gives NA at both."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(surv)
        # sd of log(-log S) by the delta method: sqrt(sum d / (n (n - d))) / |log S|
        sd = np.sqrt(var_cumhaz) / np.abs(log_s)
        low = surv ** np.exp(z * sd)
        high = surv ** np.exp(-z * sd)
    undefined = (surv >= 1.0) | (surv <= 0.0)  # as R survfit (survival 3.x): NA at S = 1 and S = 0
    low = np.where(undefined, np.nan, low)
    high = np.where(undefined, np.nan, high)
    return low, high


def _first_time_at_or_below_half(times: np.ndarray, curve: np.ndarray) -> float:
    hit = np.flatnonzero(curve <= 0.5 + _HALF_TOL)
    return float(times[hit[0]]) if hit.size else math.nan


@dataclass(frozen=True, slots=True)
class KaplanMeierResult:
    """The Kaplan-Meier estimate of a survival curve (see :func:`kaplan_meier`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per distinct time, columns ``time, at_risk, events, censored, survival, se,
        ci_low, ci_high``. ``at_risk`` counts subjects with a time >= ``time``; ``survival`` is
        S(time), the value just after ``time``; ``se`` is Greenwood's standard error on the survival
        scale; ``ci_low``/``ci_high`` the pointwise log-log interval, NaN where S is 1 or 0 (as
        R survival 3.x, which gives NA there).
    confidence_level : float
    n : int or float
        Number of subjects (sum of weights when weights are given).
    n_events : int or float
        Number of events (weighted when weights are given).
    method : str
        ``"kaplan-meier"``.
    """

    table: pd.DataFrame
    confidence_level: float
    n: float
    n_events: float
    method: str = "kaplan-meier"

    # -- evaluation at chosen times ---------------------------------------------------------

    def survival_at(self, t: Any) -> float | np.ndarray:
        """S(t): 1 before the first time, the last row's value after the last time.

        As R ``summary(survfit, times = t, extend = TRUE)``. A scalar ``t`` gives a float, an
        array an array.
        """
        where = step_lookup(self.table["time"], t)
        surv = where.value(self.table["survival"], before=1.0)
        return float(surv[0]) if where.scalar else surv

    def at(self, t: Any) -> pd.DataFrame:
        """Survival, its interval and the number at risk at chosen times, one row per time.

        ``at_risk`` is the number with a time >= t (subjects still under observation and without the
        event just before t), as R ``summary.survfit``'s ``n.risk``. Before the first time the
        interval is (1, 1), as R ``summary(survfit, times = t)``; afterwards it is the table row's
        (NaN where S is 1 or 0).
        """
        tab = self.table
        where = step_lookup(tab["time"], t)
        return pd.DataFrame({
            "time": where.times, "survival": where.value(tab["survival"], before=1.0),
            "ci_low": where.value(tab["ci_low"], before=1.0), "ci_high": where.value(tab["ci_high"], before=1.0),
            "at_risk": where.at_risk(tab["at_risk"]),
        })

    def cumulative_incidence_at(self, t: Any) -> pd.DataFrame:
        """1 - S(t) with its interval (1 - ci_high, 1 - ci_low), one row per time.

        The package reads "relieved by 48 h" as ``cumulative_incidence_at(48)``. Columns ``time,
        cumulative_incidence, ci_low, ci_high, at_risk``.
        """
        frame = self.at(t)
        return pd.DataFrame(
            {
                "time": frame["time"],
                "cumulative_incidence": 1.0 - frame["survival"],
                "ci_low": 1.0 - frame["ci_high"],
                "ci_high": 1.0 - frame["ci_low"],
                "at_risk": frame["at_risk"],
            }
        )

    # -- median -----------------------------------------------------------------------------

    @property
    def median(self) -> float:
        """Smallest time with S <= 0.5 (NaN when the curve never reaches 0.5).

        R's ``quantile.survfit`` instead takes the midpoint when the curve is exactly 0.5 over an
        interval; here the left end of that flat is reported (the textbook definition).
        """
        return _first_time_at_or_below_half(
            self.table["time"].to_numpy(), self.table["survival"].to_numpy()
        )

    @property
    def median_ci(self) -> ConfidenceInterval:
        """Brookmeyer-Crowley interval for the median from the log-log band, as R survfit.

        The lower limit is the first time the lower band is <= 0.5, the upper limit the first time
        the upper band is <= 0.5 (the horizontal line at 0.5 meets the lower band first). Rows
        where the band is undefined (S = 1 or S = 0, see :func:`kaplan_meier`) are skipped, as R
        ``quantile.survfit`` skips NA limits: in particular the time where S first reaches 0 is
        never a limit (R survival 3.x gives NA there). A lower limit never reached is NaN, as R;
        an upper limit never reached is ``inf`` (R gives NA): the interval is open above. Where a
        band equals 0.5 exactly over a flat stretch R takes the midpoint of the flat, here its
        left end (as for :attr:`median`).
        """
        tab = self.table
        times = tab["time"].to_numpy()
        lower = _first_time_at_or_below_half(times, tab["ci_low"].to_numpy())
        upper = _first_time_at_or_below_half(times, tab["ci_high"].to_numpy())
        return ConfidenceInterval(lower, math.inf if math.isnan(upper) else upper)

    # -- frames -----------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """One tidy summary row: n, n_events, median, median_ci_low, median_ci_high, ..."""
        ci = self.median_ci
        return result_row(self, median=self.median, median_ci_low=ci.low, median_ci_high=ci.high)

    def _repr_html_(self) -> str:
        summary = self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4g}")
        table = self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}", max_rows=30)
        return summary + table


def kaplan_meier(
    durations: Any,
    events: Any,
    *,
    confidence_level: float = 0.95,
    weights: Any = None,
) -> KaplanMeierResult:
    """Kaplan-Meier estimate with Greenwood standard errors and log-log pointwise intervals.

    Parameters
    ----------
    durations : array_like of float
        Time from origin to the event or to censoring; non-negative and finite.
    events : array_like of {0, 1} or bool
        1 (True) for an event, 0 (False) for a censored time.
    confidence_level : float, default 0.95
        Level of the pointwise intervals and of the median's interval.
    weights : array_like of float, optional
        Non-negative case (frequency) weights; counts become weighted sums, as R survfit's
        ``weights``.

    Returns
    -------
    KaplanMeierResult
        ``table`` (time, at_risk, events, censored, survival, se, ci_low, ci_high), ``median``,
        ``median_ci``, ``survival_at``, ``at``, ``cumulative_incidence_at``.

    Raises
    ------
    InputError
        Empty input, lengths that differ, negative / NaN / infinite durations, events not 0/1.

    Notes
    -----
    With distinct times :math:`t_j`, :math:`n_j` at risk (time >= :math:`t_j`) and :math:`d_j`
    events,

    .. math::

        \\hat S(t) = \\prod_{t_j \\le t} (1 - d_j / n_j), \\qquad
        \\widehat{\\mathrm{se}}\\{\\hat S(t)\\} = \\hat S(t)
            \\sqrt{\\textstyle\\sum_{t_j \\le t} d_j / \\{n_j (n_j - d_j)\\}}
        \\quad \\text{(Greenwood)}.

    Events and censorings at the same time: the censored subjects are counted at risk at that
    time (events come first), as R survival. The log-log interval is
    :math:`\\hat S^{\\exp(\\pm z\\,\\sigma / \\log \\hat S)}` with
    :math:`\\sigma^2 = \\sum d_j / \\{n_j(n_j-d_j)\\}`; it stays inside [0, 1]. Where
    :math:`\\hat S = 1` (censorings before the first event) the interval is NaN, and where
    :math:`\\hat S = 0` the standard error and interval are NaN -- both as R survival 3.x
    ``survfit(conf.type = "log-log")``, since :math:`\\log(-\\log S)` is undefined there. Before
    the first time, :meth:`KaplanMeierResult.at` gives S = 1 with the interval (1, 1), as R
    ``summary(survfit, times = t)``. The median's interval is the Brookmeyer-Crowley interval
    read off the log-log band, as R (see :attr:`KaplanMeierResult.median_ci`).

    References
    ----------
    .. [1] Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations.
       J Am Stat Assoc 53:457-481. doi:10.1080/01621459.1958.10501452
    .. [2] Greenwood M (1926). The natural duration of cancer. Reports on Public Health and
       Medical Subjects 33. HMSO, London.
    .. [3] Kalbfleisch JD, Prentice RL (2002). The Statistical Analysis of Failure Time Data,
       2nd ed., section 1.4. Wiley. doi:10.1002/9781118032985
    .. [4] Brookmeyer R, Crowley J (1982). A confidence interval for the median survival time.
       Biometrics 38:29-41. doi:10.2307/2530286

    Examples
    --------
    >>> from outcomes.survival import kaplan_meier
    >>> km = kaplan_meier([6, 6, 6, 7, 10, 13, 16, 22, 23, 6], [1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
    >>> round(km.survival_at(6), 3), km.median
    (0.7, 10.0)
    >>> km.at(48)[["survival", "at_risk"]].round(3).to_dict("records")
    [{'survival': 0.0, 'at_risk': 0}]
    """
    confidence_level = check_confidence_level(confidence_level)
    t = _check_durations("durations", durations)
    n = t.shape[0]
    e = _check_events(events, n)
    w = None if weights is None else _check_weights(weights, n)

    times, inv = _distinct_times(t)
    m = times.shape[0]
    if w is None:
        total = np.bincount(inv, minlength=m).astype(float)
        d = np.bincount(inv, weights=e, minlength=m)
    else:
        total = np.bincount(inv, weights=w, minlength=m)
        d = np.bincount(inv, weights=e * w, minlength=m)
    censored = total - d
    at_risk = np.cumsum(total[::-1])[::-1]

    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, d / at_risk, 0.0)
        surv = np.cumprod(1.0 - hazard)
        # Greenwood terms; d = n gives an infinite term (S drops to 0)
        term = np.where(d > 0, d / (at_risk * (at_risk - d)), 0.0)
        var_cumhaz = np.cumsum(term)
        zero = surv <= 0
        surv = np.where(zero, 0.0, surv)
        se = np.where(zero, np.nan, surv * np.sqrt(var_cumhaz))
    z = float(stats.norm.ppf(0.5 + confidence_level / 2))
    ci_low, ci_high = _loglog_interval(surv, var_cumhaz, z)

    as_int = w is None
    table = pd.DataFrame(
        {
            "time": times,
            "at_risk": at_risk.astype(np.int64) if as_int else at_risk,
            "events": d.astype(np.int64) if as_int else d,
            "censored": censored.astype(np.int64) if as_int else censored,
            "survival": surv,
            "se": se,
            "ci_low": ci_low,
            "ci_high": ci_high,
        }
    )
    n_total = int(n) if as_int else float(w.sum())
    n_events = int(d.sum()) if as_int else float(d.sum())
    return KaplanMeierResult(
        table=table, confidence_level=confidence_level, n=n_total, n_events=n_events
    )


# --------------------------------------------------------------------------------------------
# log-rank
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogrankResult:
    """The k-group log-rank test (see :func:`logrank`).

    Attributes
    ----------
    statistic : float
        Chi-square statistic :math:`U^T V^- U`; 0 when fewer than two groups are at risk at an
        event time (as R), NaN when the variance matrix is singular (R stops there).
    pvalue : float
        Upper tail of the chi-square distribution with ``df`` degrees of freedom; NaN when no
        test is possible (``df`` < 1 or a singular variance matrix).
    df : int
        Number of groups with a positive expected count, minus one (as R survdiff).
    table : pandas.DataFrame
        One row per group: ``group, n, observed, expected, variance`` (``variance`` is the diagonal
        of the covariance matrix of observed minus expected).
    method : str
        ``"log-rank"`` or ``"stratified log-rank"``.
    n_strata : int
    """

    statistic: float
    pvalue: float
    df: int
    table: pd.DataFrame
    method: str
    n_strata: int = 1

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: statistic, pvalue, df, method, n_strata."""
        return result_row(self)

    def _repr_html_(self) -> str:
        return html_table(self) + self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")


def logrank(
    durations: Any, events: Any, groups: Any, *, strata: Any = None, weights: Any = None
) -> LogrankResult:
    """Log-rank (Mantel-Haenszel) test that k survival curves are equal, optionally stratified.

    Parameters
    ----------
    durations : array_like of float
        Non-negative finite times to event or censoring.
    events : array_like of {0, 1} or bool
        1 for an event, 0 for censored.
    groups : array_like
        Group label per subject (at least two distinct labels; no missing labels).
    strata : array_like, optional
        Stratum label per subject. Observed minus expected counts and their covariance are summed
        over strata (the at-risk sets never mix strata), as R ``survdiff(... + strata(s))``.
    weights : array_like of float, optional
        Non-negative case (frequency) weights: a row of weight k counts as k subjects, so tallies
        (time, group, event, count) give the test of the rows they count. ``table["n"]`` is then
        the weighted count.

    Returns
    -------
    LogrankResult
        ``statistic`` (chi-square), ``pvalue``, ``df``, ``table`` (group, n, observed, expected,
        variance), ``method``.

    Warns
    -----
    StatisticalWarning
        When no comparison is possible (fewer than two groups at risk at an event time, or a
        singular variance matrix); see Notes.

    Notes
    -----
    At each distinct event time (within a stratum) with :math:`N` at risk, :math:`D` events and
    :math:`n_g` at risk in group g: :math:`E_g = \\sum n_g D / N` and

    .. math::

        V_{gh} = \\sum \\frac{D (N - D)}{N - 1}\\,\\frac{n_g}{N}
                 \\Bigl(\\delta_{gh} - \\frac{n_h}{N}\\Bigr), \\qquad
        X^2 = (O - E)^T V^{-} (O - E) \\sim \\chi^2_{k-1},

    with :math:`V^-` the inverse of V without its last group, groups with no expected events left
    out (as R ``survdiff``). Subjects censored at an event time are at risk at that time, as R.

    Two degenerate cases follow R survival 3.x where it defines a result and are NaN with a
    warning where it does not: with fewer than two groups at risk at any event time the
    statistic is 0 (as R) and the p-value NaN (R reports ``pchisq(0, df)``); when the variance
    matrix is singular (e.g. a stratified test in which each group sits in its own stratum, so
    no stratum compares two groups) R ``survdiff`` stops with "system is exactly singular", and
    here the statistic and p-value are NaN. Singular means a reciprocal condition number below
    machine epsilon, R ``solve``'s criterion.

    References
    ----------
    .. [1] Mantel N (1966). Evaluation of survival data and two new rank order statistics arising
       in its consideration. Cancer Chemother Rep 50:163-170. PMID 5910392
    .. [2] Peto R, Peto J (1972). Asymptotically efficient rank invariant test procedures.
       J R Stat Soc A 135:185-207. doi:10.2307/2344317

    Examples
    --------
    >>> from outcomes.survival import logrank
    >>> res = logrank([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 1, 1, 1, 1, 0], ["a"] * 4 + ["b"] * 4)
    >>> res.df, res.table["observed"].tolist()
    (1, [4.0, 3.0])
    >>> round(res.statistic, 4)
    7.3444
    """
    t = _check_durations("durations", durations)
    n = t.shape[0]
    e = _check_events(events, n)
    g, labels = _check_labels("groups", groups, n)
    w = None if weights is None else _check_weights(weights, n)
    k = labels.shape[0]
    if k < 2:
        raise InputError(f"`groups` must have at least two distinct labels; got {list(labels)!r}.")
    if strata is None:
        s = np.zeros(n, dtype=np.int64)
        n_strata = 1
    else:
        s, slabels = _check_labels("strata", strata, n)
        n_strata = slabels.shape[0]

    # rows = distinct (stratum, time), ordered by stratum then time
    times, tinv = _distinct_times(t)
    if strata is None:  # one stratum: the rows are the distinct times
        ukey, inv = np.arange(times.shape[0]), tinv
    else:
        key = s * times.shape[0] + tinv
        ukey, inv = np.unique(key, return_inverse=True)
    rows = ukey.shape[0]
    row_stratum = ukey // times.shape[0]
    cell = inv * k + g
    if w is None:
        leaving = np.bincount(cell, minlength=rows * k).reshape(rows, k).astype(float)
        died = np.bincount(cell, weights=e, minlength=rows * k).reshape(rows, k)
    else:
        leaving = np.bincount(cell, weights=w, minlength=rows * k).reshape(rows, k)
        died = np.bincount(cell, weights=e * w, minlength=rows * k).reshape(rows, k)
    # at risk = subjects leaving at this time or later, within the same stratum
    rev = np.cumsum(leaving[::-1], axis=0)[::-1]
    next_stratum = np.searchsorted(row_stratum, row_stratum, side="right")
    at_risk = rev - np.vstack([rev, np.zeros((1, k))])[next_stratum]

    big_d = died.sum(axis=1)
    keep = big_d > 0
    nr, dr, big_d = at_risk[keep], died[keep], big_d[keep]
    big_n = nr.sum(axis=1)
    share = nr / big_n[:, None]
    expected = (share * big_d[:, None]).sum(axis=0)
    observed = dr.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(big_n > 1, big_d * (big_n - big_d) / (big_n - 1), 0.0)
    cov = np.diag((c[:, None] * share).sum(axis=0)) - (share * c[:, None]).T @ share
    u = observed - expected
    # U'V^-U with V of rank k - 1: leave out one group and solve (as R survdiff). A pseudo-inverse
    # of the full V can invert a rounding-size eigenvalue when counts are in the millions.
    # Groups with no expected deaths (never at risk at an event time) are left out, as R.
    live = np.flatnonzero(expected > 0)[:-1]
    df = int((expected > 0).sum()) - 1
    if df < 1:
        # as R survdiff: fewer than two groups at risk at any event time -> chi-square 0; R's
        # p-value is then pchisq(0, df) (1 for df = 0, NA for df = -1), here NaN: no test.
        statistic, pvalue = 0.0, math.nan
        warnings.warn(
            "Fewer than two groups are at risk at an event time; no log-rank comparison is "
            "possible (chi-square 0 and p-value NaN).",
            StatisticalWarning,
            stacklevel=2,
        )
    else:
        sub = cov[np.ix_(live, live)]
        # singular as R's solve(): reciprocal condition number (1-norm) below machine epsilon
        with np.errstate(divide="ignore", invalid="ignore"):
            condition = float(np.linalg.cond(sub, 1))
        singular = not condition * np.finfo(float).eps < 1.0  # also when the condition is inf or nan
        if singular:
            # R survdiff stops here ("system is exactly singular"): typically every group is
            # alone in its stratum, so no stratum compares two groups. No test is defined.
            statistic, pvalue = math.nan, math.nan
            warnings.warn(
                "The log-rank variance matrix is singular (no stratum compares two groups at an "
                "event time); the statistic and p-value are NaN. R survdiff stops with an error here.",
                StatisticalWarning,
                stacklevel=2,
            )
        else:
            statistic = float(u[live] @ np.linalg.solve(sub, u[live]))
            pvalue = float(stats.chi2.sf(statistic, df))
    table = pd.DataFrame(
        {
            "group": labels,
            "n": np.bincount(g, minlength=k) if w is None else np.bincount(g, weights=w, minlength=k),
            "observed": observed,
            "expected": expected,
            "variance": np.diag(cov).copy(),
        }
    )
    return LogrankResult(
        statistic=statistic,
        pvalue=pvalue,
        df=df,
        table=table,
        method="log-rank" if strata is None else "stratified log-rank",
        n_strata=n_strata,
    )


# --------------------------------------------------------------------------------------------
# Turnbull
# --------------------------------------------------------------------------------------------

# Order of endpoints sharing one value v, along the time axis: an exact time's left end ("v-"),
# then right ends (an interval (l, v] contains v), then open left ends (an interval (v, r] does not).
_EXACT_LEFT, _RIGHT, _OPEN_LEFT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class TurnbullResult:
    """Turnbull's NPMLE for interval-censored times (see :func:`turnbull`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per Turnbull innermost interval: ``interval_low, interval_high, probability,
        survival``. The interval is (low, high] (the single time ``low`` when low == high; ``high``
        is ``inf`` for mass beyond the last finite endpoint); ``survival`` is S just after the
        interval.
    converged : bool
    n_iter : int
    n : int
        Number of observations (sum of weights when weights are given).
    loglik : float
        Log-likelihood at the estimate.
    method : str
        ``"turnbull"``.
    """

    table: pd.DataFrame
    converged: bool
    n_iter: int
    n: float
    loglik: float
    method: str = "turnbull"

    def at(self, t: Any) -> pd.DataFrame:
        """Survival at chosen times with the bounds the NPMLE leaves open, one row per time.

        Columns ``time, survival, survival_low, survival_high``. Inside an innermost interval the
        NPMLE does not say when the mass falls: ``survival_low`` assumes it has already fallen,
        ``survival_high`` that it has not. ``survival`` (the point value) places each interval's
        mass at its right end -- relief is counted once it has been observed -- so it equals
        ``survival_high``; outside innermost intervals the bounds coincide.
        """
        scalar_t = np.atleast_1d(np.asarray(t, dtype=float))
        if np.isnan(scalar_t).any():
            raise InputError(f"`t` must be numbers without NaN; got {t!r}.")
        tab = self.table
        low = tab["interval_low"].to_numpy()
        high = tab["interval_high"].to_numpy()
        cum = np.concatenate(([0.0], np.cumsum(tab["probability"].to_numpy())))
        # mass surely fallen by t: intervals with high <= t (high is sorted with low)
        sure = np.searchsorted(high, scalar_t, side="right")
        # mass possibly fallen by t: intervals (low, high] with low < t, and exact times v <= t
        possible = np.searchsorted(low, scalar_t, side="left")
        nxt = np.minimum(possible, low.shape[0] - 1)
        possible = possible + ((possible < low.shape[0]) & (low[nxt] == high[nxt]) & (low[nxt] == scalar_t))
        s_high = np.clip(1.0 - cum[sure], 0.0, 1.0)
        s_low = np.clip(1.0 - cum[possible], 0.0, 1.0)
        return pd.DataFrame(
            {"time": scalar_t, "survival": s_high, "survival_low": s_low, "survival_high": s_high}
        )

    def survival_at(self, t: Any) -> float | np.ndarray:
        """S(t) with each innermost interval's mass at its right end (see :meth:`at`)."""
        out = self.at(t)["survival"].to_numpy()
        return float(out[0]) if np.ndim(t) == 0 else out

    def cumulative_incidence_at(self, t: Any) -> pd.DataFrame:
        """1 - S(t) with its identification bounds: ``time, cumulative_incidence, bound_low,
        bound_high``. These bounds are not a confidence interval."""
        frame = self.at(t)
        return pd.DataFrame(
            {
                "time": frame["time"],
                "cumulative_incidence": 1.0 - frame["survival"],
                "bound_low": 1.0 - frame["survival_high"],
                "bound_high": 1.0 - frame["survival_low"],
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: converged, n_iter, n, loglik, method."""
        return result_row(self)

    def _repr_html_(self) -> str:
        return html_table(self) + self.table.to_html(
            index=False, float_format=lambda v: f"{v:.4g}", max_rows=30
        )


def _innermost(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, ...]:
    """Turnbull's innermost intervals and, per observation, the range of them it contains."""
    n = left.shape[0]
    exact = left == right
    values = np.concatenate((left, right))
    codes = np.concatenate((np.where(exact, _EXACT_LEFT, _OPEN_LEFT), np.full(n, _RIGHT)))
    # dense rank of (value, code): equal endpoints share a rank
    order = np.lexsort((codes, values))
    v_sorted, c_sorted = values[order], codes[order]
    new_key = np.empty(v_sorted.shape[0], dtype=bool)
    new_key[0] = True
    new_key[1:] = (v_sorted[1:] != v_sorted[:-1]) | (c_sorted[1:] != c_sorted[:-1])
    rank = np.empty(values.shape[0], dtype=np.int64)
    rank[order] = np.cumsum(new_key) - 1
    key_values, key_codes = v_sorted[new_key], c_sorted[new_key]
    key_is_right = key_codes == _RIGHT
    # an innermost interval: a left end immediately followed (in endpoint order) by a right end
    starts = np.flatnonzero(~key_is_right[:-1] & key_is_right[1:])
    ends = starts + 1
    low = key_values[starts]
    high = key_values[ends]
    rank_left, rank_right = rank[:n], rank[n:]
    first = np.searchsorted(starts, rank_left, side="left")
    last = np.searchsorted(ends, rank_right, side="right") - 1
    return low, high, first, last


def turnbull(
    left: Any, right: Any, *, max_iter: int = 10_000, tol: float = 1e-10, weights: Any = None
) -> TurnbullResult:
    """Turnbull's nonparametric MLE of an event-time distribution from interval-censored data.

    Parameters
    ----------
    left, right : array_like of float
        The event is known to lie in (left, right]: ``right = inf`` for a right-censored time,
        ``left == right`` for an exactly observed time, ``left = 0`` for an event seen at the first
        visit. For time to relief: ``left`` is the last visit without relief, ``right`` the first
        visit with relief.
    max_iter : int, default 10000
        Maximum number of cycles (each is one iterative convex minorant step and one
        self-consistency step).
    tol : float, default 1e-10
        Stop when no interval's probability changes by more than ``tol`` in one
        self-consistency step.
    weights : array_like of float, optional
        Non-negative case (frequency) weights: ``weights=[3]`` counts an observation three times,
        as repeating it would (observations of weight 0 are dropped). Lets a registry pass one row
        per distinct (left, right) pair with its count.

    Returns
    -------
    TurnbullResult
        ``table`` (interval_low, interval_high, probability, survival), ``survival_at``, ``at``
        (with bounds), ``cumulative_incidence_at``, ``converged``, ``n_iter``.

    Warns
    -----
    StatisticalWarning
        When the algorithm has not converged within ``max_iter`` iterations.

    Notes
    -----
    The NPMLE puts all its mass on Turnbull's innermost intervals :math:`I_1, \\dots, I_m`
    (a left endpoint immediately followed by a right endpoint in the ordered endpoints). With
    :math:`\\alpha_{ij} = 1` when :math:`I_j \\subseteq (L_i, R_i]` and case weights :math:`w_i`
    (identical (L, R) pairs are collapsed first), the self-consistency iteration is

    .. math::

        p_j \\leftarrow \\frac{1}{W} \\sum_i w_i \\frac{\\alpha_{ij} p_j}{\\sum_l \\alpha_{il} p_l}.

    Because innermost intervals are disjoint and ordered, each observation contains a contiguous
    run of them, so the indicator matrix is never built: the E-step denominators are differences
    of a cumulative sum and the M-step a range-add done with a difference array -- O(n + m) per
    iteration. The plain iteration converges slowly when there are many innermost intervals
    (thousands of cycles for a registry), so each cycle is the EM-ICM hybrid of Wellner and Zhan
    [3]_: one iterative convex minorant step -- a Newton step on the cumulative distribution
    :math:`F_j = p_1 + \\dots + p_j` with the diagonal of the Hessian, projected onto
    :math:`0 \\le F_1 \\le \\dots \\le F_{m-1} \\le 1` by weighted isotonic regression
    (pool-adjacent-violators, ``scipy.optimize.isotonic_regression``) and halved until the
    likelihood does not decrease -- then one self-consistency step, whose change is the stopping
    rule. Both steps never lower the likelihood; tens of cycles suffice where the plain
    iteration needs thousands. Observations containing the same run of innermost intervals are
    collapsed into one (their likelihood terms are identical), so a cycle costs O(distinct runs + m).
    Within an innermost interval the NPMLE is not identified; :meth:`TurnbullResult.at`
    reports both bounds and, as the point value, places the mass at the interval's right end (a
    relief is counted once it has been seen). With only exact and right-censored times the NPMLE
    is the Kaplan-Meier estimate.

    References
    ----------
    .. [1] Turnbull BW (1976). The empirical distribution function with arbitrarily grouped,
       censored and truncated data. J R Stat Soc B 38:290-295.
       doi:10.1111/j.2517-6161.1976.tb01597.x
    .. [2] Klein JP, Moeschberger ML (2003). Survival Analysis, 2nd ed., section 5.2. Springer.
       doi:10.1007/b97377
    .. [3] Wellner JA, Zhan Y (1997). A hybrid algorithm for computation of the nonparametric
       maximum likelihood estimator from censored data. J Am Stat Assoc 92:945-959.
       doi:10.1080/01621459.1997.10474049

    Examples
    --------
    >>> import numpy as np
    >>> from outcomes.survival import turnbull
    >>> fit = turnbull([0, 0, 1, 2], [2, 2, 3, np.inf])
    >>> fit.table["probability"].round(4).tolist()
    [0.6667, 0.3333]
    >>> round(fit.survival_at(2.0), 4), fit.converged
    (0.3333, True)
    """
    lo = _check_durations("left", left)
    hi = _check_durations("right", right, allow_inf=True)
    _check_lengths(lo.shape[0], reference="left", right=hi)
    if not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, bool) or max_iter < 1:
        raise InputError(f"`max_iter` must be a positive whole number; got {max_iter!r}.")
    if not isinstance(tol, numbers.Real) or not (tol > 0):
        raise InputError(f"`tol` must be a positive number; got {tol!r}.")
    bad = hi < lo
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"`right` must be >= `left`; got right = {float(hi[i])!r} < left = {float(lo[i])!r} at position {i}."
        )
    n: int | float = lo.shape[0]
    if weights is not None:
        case_weights = _check_weights(weights, lo.shape[0])
        if not case_weights.sum() > 0:
            raise InputError(f"`weights` must have a positive sum; got {weights!r}.")
        n = float(case_weights.sum())
        lo, hi, case_weights = lo[case_weights > 0], hi[case_weights > 0], case_weights[case_weights > 0]

    # collapse identical (left, right) pairs; counts (summed weights) become weights
    # (two 1-D factorisations and one np.unique on integer codes: faster than np.unique(axis=0))
    left_values, left_code = _distinct_times(lo)
    right_values, right_code = _distinct_times(hi)
    pair_code, pair_of = np.unique(
        left_code.astype(np.int64) * right_values.shape[0] + right_code, return_inverse=True
    )
    pair_left = left_values[pair_code // right_values.shape[0]]
    pair_right = right_values[pair_code % right_values.shape[0]]
    if weights is None:
        w = np.bincount(pair_of.ravel(), minlength=pair_code.shape[0]).astype(float)
    else:
        w = np.bincount(pair_of.ravel(), weights=case_weights, minlength=pair_code.shape[0])
    low, high, first, last = _innermost(pair_left, pair_right)
    m = low.shape[0]
    # pairs containing the same run first..last of innermost intervals have the same likelihood term
    run_code, run_of = np.unique(first.astype(np.int64) * m + last, return_inverse=True)
    w = np.bincount(run_of.ravel(), weights=w, minlength=run_code.shape[0])
    first, last = run_code // m, run_code % m
    total = w.sum()

    tiny = np.finfo(float).tiny

    def loglik_of(prob: np.ndarray) -> float:
        cum = np.concatenate(([0.0], np.cumsum(prob)))
        return float(np.sum(w * np.log(np.maximum(cum[last + 1] - cum[first], tiny))))

    def loglik_cumulative(cum: np.ndarray) -> float:
        mass = cum[last + 1] - cum[first]
        return float(np.sum(w * np.log(mass))) if np.all(mass > 0) else -math.inf

    def icm_step(prob: np.ndarray) -> np.ndarray:
        # Newton step on F_1..F_{m-1} with the diagonal Hessian, projected by isotonic regression
        cum = np.concatenate(([0.0], np.cumsum(prob)))
        cum[-1] = 1.0
        mass = np.maximum(cum[last + 1] - cum[first], tiny)
        r1 = w / mass
        r2 = r1 / mass
        grad = np.bincount(last + 1, weights=r1, minlength=m + 1) - np.bincount(first, weights=r1, minlength=m + 1)
        hess = np.bincount(last + 1, weights=r2, minlength=m + 1) + np.bincount(first, weights=r2, minlength=m + 1)
        h, g = hess[1:m], grad[1:m]
        if not (np.all(np.isfinite(h)) and np.all(np.isfinite(g)) and np.all(h > 0)):
            return prob
        proposal = cum.copy()
        proposal[1:m] = np.clip(isotonic_regression(cum[1:m] + g / h, weights=h).x, 0.0, 1.0)
        start = loglik_cumulative(cum)
        step = 1.0
        for _ in range(40):  # step halving until the likelihood does not decrease
            candidate = cum + step * (proposal - cum)
            if loglik_cumulative(candidate) >= start:
                new = np.maximum(np.diff(candidate), 0.0)
                return new / new.sum()
            step /= 2
        return prob

    def em_step(prob: np.ndarray) -> np.ndarray:
        # E-step denominators: the mass of each observation's run of innermost intervals
        cum = np.concatenate(([0.0], np.cumsum(prob)))
        ratio = w / np.maximum(cum[last + 1] - cum[first], tiny)
        # M-step: add ratio_i over the run first_i..last_i of every observation (difference array)
        diff = np.bincount(first, weights=ratio, minlength=m + 1) - np.bincount(
            last + 1, weights=ratio, minlength=m + 1
        )
        new = prob * np.cumsum(diff)[:m] / total
        return new / new.sum()

    p = np.full(m, 1.0 / m)
    converged = False
    change = math.inf
    n_iter = 0
    # iterations of the algorithm, not a loop over subjects: each is one EM-ICM cycle
    for n_iter in range(1, max_iter + 1):
        if m > 1:
            p = icm_step(p)
        p1 = em_step(p)
        change = float(np.max(np.abs(p1 - p)))
        p = p1
        if change < tol:
            converged = True
            break
    if not converged:
        warnings.warn(
            f"Turnbull's algorithm did not converge in {max_iter} iterations (last change "
            f"{change:.3g} > tol = {tol:.3g}); raise `max_iter`.",
            StatisticalWarning,
            stacklevel=2,
        )
    loglik = loglik_of(p)
    table = pd.DataFrame(
        {
            "interval_low": low,
            "interval_high": high,
            "probability": p,
            "survival": np.clip(1.0 - np.cumsum(p), 0.0, 1.0),
        }
    )
    return TurnbullResult(table=table, converged=converged, n_iter=n_iter, n=n, loglik=loglik)
