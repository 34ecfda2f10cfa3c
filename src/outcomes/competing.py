"""Competing risks and rare events: Aalen-Johansen cumulative incidence, Gray's test, the rule of three.

A new vertebral fracture after vertebroplasty or kyphoplasty cannot happen after death, and the
patients are old: death is a competing risk, and ``1 - Kaplan-Meier`` (which treats a death as a
censoring) overstates the chance of a fracture. This module gives

- :func:`cumulative_incidence` -- the Aalen-Johansen estimate of the cumulative incidence of one
  event type in the presence of others, with its variance and pointwise interval, as R
  ``survival::survfit(Surv(time, factor(status)) ~ 1)`` (a multi-state status);
- :func:`gray_test` -- Gray's (1988) k-sample test that the cumulative incidence curves of one
  event type are equal across groups, optionally stratified, as R ``cmprsk::cuminc``;
- :func:`rule_of_three` -- the upper confidence limit for a rate when no event was seen: the
  rule of three beside the exact (Clopper-Pearson) limit.

Everything is vectorised over distinct times (``pandas.factorize`` / ``np.bincount`` /
``np.cumsum``); there is no Python loop over subjects or event times.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ._results import ConfidenceInterval, check_choice, check_confidence_level, html_table, result_row, step_lookup
from .exceptions import InputError, StatisticalWarning
from .proportions import proportion

__all__ = [
    "CumulativeIncidenceResult",
    "GrayTestResult",
    "RuleOfThreeResult",
    "cumulative_incidence",
    "gray_test",
    "rule_of_three",
]

ConfType = Literal["log", "log-log"]
_CONF_TYPES = ("log", "log-log")


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


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> tuple[Any, int]:
    i = int(np.flatnonzero(bad)[0])
    value = arr[i]
    return (value.item() if hasattr(value, "item") else value), i


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _numbers(name: str, values: Any) -> np.ndarray:
    arr = _as_1d(name, values)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        try:
            return arr.astype(float)
        except (TypeError, ValueError):
            bad = np.array([not _is_number(v) for v in arr])
            value, i = _first_bad(arr, bad)
            raise InputError(f"`{name}` must be numbers; got {value!r} at position {i}.") from None
    return arr.astype(float, copy=False)


def _check_same_length(name: str, arr: np.ndarray, n: int) -> None:
    if arr.shape[0] != n:
        raise InputError(
            f"`{name}` must have the same length as `durations` ({n}); got length {arr.shape[0]}."
        )


def _check_durations(values: Any) -> np.ndarray:
    arr = _numbers("durations", values)
    if arr.shape[0] == 0:
        raise InputError(f"`durations` must be a non-empty array of times; got {values!r}.")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        value, i = _first_bad(arr, bad)
        raise InputError(
            f"`durations` must be non-negative finite numbers (no NaN); got {value!r} at position {i}. "
            "Drop or fix the record before the analysis."
        )
    return arr + 0.0  # -0.0 is 0.0


def _check_event_codes(values: Any, n: int) -> np.ndarray:
    arr = _as_1d("events", values)
    _check_same_length("events", arr, n)
    rule = "whole numbers >= 0 (0 = censored, 1 = the event of interest, 2, 3, ... = competing events)"
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        bad = np.array([not _is_number(v) for v in arr])
        value, i = _first_bad(arr, bad)
        raise InputError(f"`events` must be {rule}; got {value!r} at position {i}.") from None
    bad = ~np.isfinite(num) | (num < 0) | (num != np.floor(num))
    if bad.any():
        value, i = _first_bad(arr, bad)
        raise InputError(f"`events` must be {rule}; got {value!r} at position {i}.")
    return num.astype(np.int64)


def _check_weights(values: Any, n: int) -> np.ndarray:
    arr = _numbers("weights", values)
    _check_same_length("weights", arr, n)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        value, i = _first_bad(arr, bad)
        raise InputError(f"`weights` must be non-negative finite numbers; got {value!r} at position {i}.")
    return arr


def _check_event_of_interest(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(
            f"`event_of_interest` must be a whole number >= 1 (an event code); got {value!r}."
        )
    return int(value)


def _check_labels(name: str, values: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    arr = _as_1d(name, values)
    _check_same_length(name, arr, n)
    series = pd.Series(arr.astype(object) if arr.dtype.kind in "US" else arr)
    codes, uniques = pd.factorize(series, sort=True)
    if (codes < 0).any():
        value, i = _first_bad(arr, codes < 0)
        raise InputError(f"`{name}` must not have missing labels; got {value!r} at position {i}.")
    return codes.astype(np.intp), np.asarray(uniques)


def _distinct_times(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(t, sort=True)
    return np.asarray(uniques, dtype=float), codes.astype(np.intp)


# --------------------------------------------------------------------------------------------
# Aalen-Johansen
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CumulativeIncidenceResult:
    """The Aalen-Johansen cumulative incidence of one event type (see :func:`cumulative_incidence`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per distinct time, columns ``time, at_risk, events, competing, censored,
        cumulative_incidence, se, ci_low, ci_high, competing_incidence``. ``at_risk`` counts
        subjects with a time >= ``time``; ``events`` are events of interest at ``time``,
        ``competing`` the other event types, ``censored`` the censorings; ``cumulative_incidence``
        is F(time), the value just after ``time``; ``se`` its standard error; ``ci_low``/``ci_high``
        the pointwise interval; ``competing_incidence`` the cumulative incidence of all competing
        events together (so ``1 - cumulative_incidence - competing_incidence`` is the event-free
        probability).
    event_of_interest : int
    confidence_level : float
    conf_type : str
        ``"log"`` or ``"log-log"``.
    n : int or float
        Number of subjects (sum of weights when weights are given).
    n_events, n_competing : int or float
        Events of interest and competing events (weighted when weights are given).
    method : str
        ``"aalen-johansen"``.
    """

    table: pd.DataFrame
    event_of_interest: int
    confidence_level: float
    conf_type: str
    n: float
    n_events: float
    n_competing: float
    method: str = "aalen-johansen"

    def cumulative_incidence_at(self, t: Any) -> float | np.ndarray:
        """F(t): 0 before the first time, the last row's value after the last time.

        As R ``summary(survfit, times = t, extend = TRUE)``. A scalar ``t`` gives a float, an
        array an array.
        """
        where = step_lookup(self.table["time"], t)
        values = where.value(self.table["cumulative_incidence"], before=0.0)
        return float(values[0]) if where.scalar else values

    def at(self, t: Any) -> pd.DataFrame:
        """F(t), its standard error and interval and the number at risk at chosen times.

        Columns ``time, cumulative_incidence, se, ci_low, ci_high, at_risk, competing_incidence``;
        one row per time. Before the first time F is 0 with standard error 0 and no interval
        (NaN), as R. ``at_risk`` is the number with a time >= t.
        """
        tab = self.table
        where = step_lookup(tab["time"], t)
        return pd.DataFrame(
            {
                "time": where.times,
                "cumulative_incidence": where.value(tab["cumulative_incidence"], before=0.0),
                "se": where.value(tab["se"], before=0.0),
                "ci_low": where.value(tab["ci_low"], before=math.nan),
                "ci_high": where.value(tab["ci_high"], before=math.nan),
                "at_risk": where.at_risk(tab["at_risk"]),
                "competing_incidence": where.value(tab["competing_incidence"], before=0.0),
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One tidy summary row: event_of_interest, confidence_level, conf_type, n, n_events, ..."""
        return result_row(self)

    def _repr_html_(self) -> str:
        table = self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}", max_rows=30)
        return html_table(self) + table


def _interval(f: np.ndarray, se: np.ndarray, z: float, conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval of F; NaN where F = 0 (the transform is undefined), as R survfit."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            # log F +- z se / F, upper end cut at 1 (R survfit, conf.type = "log")
            low = f * np.exp(-z * se / f)
            high = np.minimum(f * np.exp(z * se / f), 1.0)
        else:
            # log(-log F) +- z se / (F |log F|): inside [0, 1] by construction
            sd = se / (f * np.abs(np.log(f)))
            low = f ** np.exp(z * sd)
            high = f ** np.exp(-z * sd)
            one = f >= 1.0
            low = np.where(one, 1.0, low)
            high = np.where(one, 1.0, high)
    zero = f <= 0.0
    return np.where(zero, np.nan, low), np.where(zero, np.nan, high)


def cumulative_incidence(
    durations: Any,
    events: Any,
    *,
    event_of_interest: int = 1,
    confidence_level: float = 0.95,
    conf_type: ConfType = "log",
    weights: Any = None,
) -> CumulativeIncidenceResult:
    """Aalen-Johansen cumulative incidence of one event type with competing events.

    Parameters
    ----------
    durations : array_like of float
        Time from origin to the first event or to censoring; non-negative and finite.
    events : array_like of int
        0 for censored, ``event_of_interest`` (default 1) for the event of interest, any other
        positive code (2, 3, ...) for a competing event (e.g. death before a new fracture).
    event_of_interest : int, default 1
        The event code whose cumulative incidence is estimated. It need not occur (F is then 0).
    confidence_level : float, default 0.95
        Level of the pointwise intervals.
    conf_type : {"log", "log-log"}, default "log"
        Scale of the interval: ``"log"`` (log F, R survfit's default for a multi-state status;
        upper end cut at 1) or ``"log-log"`` (log(-log F), always inside (0, 1); better near 0
        and 1 in small samples).
    weights : array_like of float, optional
        Non-negative frequency weights: a row of weight k counts as k identical subjects (so
        tallies (time, event, count) give the estimate and the variance of the rows they count).

    Returns
    -------
    CumulativeIncidenceResult
        ``table`` (time, at_risk, events, competing, censored, cumulative_incidence, se, ci_low,
        ci_high, competing_incidence), ``cumulative_incidence_at``, ``at``, ``to_frame``.

    Raises
    ------
    InputError
        Empty input, lengths that differ, negative / NaN / infinite durations, event codes that
        are not whole numbers >= 0, negative weights.

    Notes
    -----
    With distinct times :math:`t_j`, :math:`n_j` at risk (time >= :math:`t_j`), :math:`d_j`
    events of any type and :math:`d_{1j}` events of interest, :math:`h_j = d_j / n_j`,
    :math:`h_{1j} = d_{1j} / n_j`,

    .. math::

        \\hat S(t) = \\prod_{t_j \\le t} (1 - h_j), \\qquad
        \\hat F_1(t) = \\sum_{t_j \\le t} \\hat S(t_{j-1})\\, h_{1j}.

    The variance is the infinitesimal jackknife (the sum of squared influences of the subjects),
    which R ``survfit`` reports for a multi-state status. The influence of subject i on
    :math:`\\hat F_1(t_J)` is :math:`\\sum_{l \\le J} g_{il}` with

    .. math::

        g_{il} = \\frac{1}{n_l}\\Bigl[\\hat S(t_{l-1}) (dN^1_{il} - Y_{il} h_{1l})
                 - \\frac{\\hat F_1(t_J) - \\hat F_1(t_l)}{1 - h_l} (dN_{il} - Y_{il} h_l)\\Bigr];

    the sums over the subjects at risk of :math:`g_{il}` vanish, so the cross terms cancel and
    :math:`\\widehat{\\mathrm{var}}\\,\\hat F_1(t_J) = \\sum_{l \\le J} \\sum_i g_{il}^2`, a sum of
    three kinds of subject per time (event of interest, competing event, neither), computed for
    every :math:`J` at once as a quadratic in :math:`\\hat F_1(t_J)` with cumulative
    coefficients. Frequency weights multiply each subject's square by its weight (R's
    ``weights`` instead multiply the influence, so R matches this only on expanded rows).

    The default interval is R survfit's for a multi-state status, ``exp(log F +- z se / F)``, cut
    at 1; it is undefined where F = 0 (NaN, as R). ``"log-log"`` is the transform found to keep
    nominal coverage best for a cumulative incidence by Choudhury (2002). Ties: events and
    censorings at the same time -- the censored are at risk at that time, as R.

    References
    ----------
    .. [1] Aalen OO, Johansen S (1978). An empirical transition matrix for non-homogeneous Markov
       chains based on censored observations. Scand J Stat 5:141-150.
    .. [2] Kalbfleisch JD, Prentice RL (2002). The Statistical Analysis of Failure Time Data, 2nd
       ed., chapter 8. Wiley. doi:10.1002/9781118032985
    .. [3] Therneau T, Crowson C, Atkinson E. Multi-state models and competing risks. Vignette of
       the R package survival (the infinitesimal jackknife variance of ``survfit``).
    .. [4] Choudhury JB (2002). Non-parametric confidence interval estimation for competing risks
       analysis: application to contraceptive data. Stat Med 21:1129-1144. doi:10.1002/sim.1070

    Examples
    --------
    >>> from outcomes.competing import cumulative_incidence
    >>> ci = cumulative_incidence([1, 2, 3, 4, 5, 6], [1, 2, 0, 1, 2, 1])
    >>> round(ci.cumulative_incidence_at(4), 4), round(ci.cumulative_incidence_at(6), 4)
    (0.3889, 0.6111)
    >>> ci.table[["time", "at_risk", "events", "competing", "censored"]].iloc[1].tolist()
    [2.0, 5.0, 0.0, 1.0, 0.0]
    """
    confidence_level = check_confidence_level(confidence_level)
    conf_type = check_choice("conf_type", conf_type, _CONF_TYPES)
    event_of_interest = _check_event_of_interest(event_of_interest)
    t = _check_durations(durations)
    n = t.shape[0]
    status = _check_event_codes(events, n)
    w = np.ones(n) if weights is None else _check_weights(weights, n)

    times, inv = _distinct_times(t)
    m = times.shape[0]
    total = np.bincount(inv, weights=w, minlength=m)
    d_all = np.bincount(inv, weights=w * (status > 0), minlength=m)
    d_1 = np.bincount(inv, weights=w * (status == event_of_interest), minlength=m)
    at_risk = np.cumsum(total[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(at_risk > 0, d_all / at_risk, 0.0)
        h_1 = np.where(at_risk > 0, d_1 / at_risk, 0.0)
    surv = np.cumprod(1.0 - h)
    surv_prev = np.concatenate(([1.0], surv[:-1]))
    f = np.cumsum(surv_prev * h_1)
    f_competing = np.cumsum(surv_prev * (h - h_1))

    # variance: sum over l <= J of sum_k c_k (alpha_k + beta_k F_J)^2 / n_l^2, three kinds k
    c1, c2, c3 = d_1, d_all - d_1, at_risk - d_all
    f_l = f
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(c3 > 0, h / (1.0 - h), 0.0)
        inv_n2 = np.where(at_risk > 0, 1.0 / at_risk**2, 0.0)
    a1 = surv_prev * (1.0 - h_1) + f_l  # beta = -1
    a2 = -surv_prev * h_1 + f_l  # beta = -1
    a3 = -surv_prev * h_1 - r * f_l  # beta = r
    coef_a = np.cumsum((c1 * a1**2 + c2 * a2**2 + c3 * a3**2) * inv_n2)
    coef_b = np.cumsum((-c1 * a1 - c2 * a2 + c3 * a3 * r) * inv_n2)
    coef_c = np.cumsum((c1 + c2 + c3 * r**2) * inv_n2)
    var = coef_a + 2.0 * f * coef_b + f**2 * coef_c
    se = np.sqrt(np.maximum(var, 0.0))
    se = np.where(f <= 0.0, 0.0, se)

    z = float(stats.norm.ppf(0.5 + confidence_level / 2))
    ci_low, ci_high = _interval(f, se, z, conf_type)
    as_int = weights is None
    cast = (lambda x: np.rint(x).astype(np.int64)) if as_int else (lambda x: x)
    table = pd.DataFrame(
        {
            "time": times,
            "at_risk": cast(at_risk),
            "events": cast(d_1),
            "competing": cast(d_all - d_1),
            "censored": cast(total - d_all),
            "cumulative_incidence": f,
            "se": se,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "competing_incidence": f_competing,
        }
    )
    tot = (lambda x: int(round(float(x)))) if as_int else float
    return CumulativeIncidenceResult(
        table=table,
        event_of_interest=event_of_interest,
        confidence_level=confidence_level,
        conf_type=conf_type,
        n=tot(w.sum()),
        n_events=tot(d_1.sum()),
        n_competing=tot((d_all - d_1).sum()),
    )


# --------------------------------------------------------------------------------------------
# Gray's test
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrayTestResult:
    """Gray's k-sample test of equal cumulative incidence curves (see :func:`gray_test`).

    Attributes
    ----------
    statistic : float
        Chi-square statistic :math:`s^T V^{-1} s` (NaN when V is singular).
    pvalue : float
        Upper tail of the chi-square distribution with ``df`` degrees of freedom.
    df : int
        Number of groups minus one.
    table : pandas.DataFrame
        One row per group: ``group, n, events, competing, score`` (``score`` is the group's
        weighted observed-minus-expected sum; the last group's is minus the sum of the others).
    event_of_interest : int
    rho : float
    method : str
        ``"gray"`` or ``"stratified gray"``.
    n_strata : int
    """

    statistic: float
    pvalue: float
    df: int
    table: pd.DataFrame
    event_of_interest: int
    rho: float
    method: str
    n_strata: int = 1

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: statistic, pvalue, df, event_of_interest, rho, method, n_strata."""
        return result_row(self)

    def _repr_html_(self) -> str:
        return html_table(self) + self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")


def _gray_stratum(
    inv: np.ndarray, g: np.ndarray, cause: np.ndarray, w: np.ndarray, m: int, ng: int, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Score (ng) and covariance (ng x ng) of one stratum; rows are distinct times ``inv``."""
    cell = inv * ng + g
    leaving = np.bincount(cell, weights=w, minlength=m * ng).reshape(m, ng)
    d1 = np.bincount(cell, weights=w * (cause == 1), minlength=m * ng).reshape(m, ng)
    d2 = np.bincount(cell, weights=w * (cause == 2), minlength=m * ng).reshape(m, ng)
    rs = np.cumsum(leaving[::-1], axis=0)[::-1]  # at risk: time >= t, per group
    keep = (d1 + d2).sum(axis=1) > 0  # only event times change the estimates
    rs, d1, d2 = rs[keep], d1[keep], d2[keep]
    if rs.shape[0] == 0:
        return np.zeros(ng), np.zeros((ng, ng))
    live = rs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        # per group: all-cause Kaplan-Meier (left / right continuous) and cumulative incidence
        step = np.where(live, 1.0 - (d1 + d2) / np.where(live, rs, 1.0), 1.0)
        skm = np.cumprod(step, axis=0)
        skmm = np.vstack([np.ones((1, ng)), skm[:-1]])
        f1 = np.cumsum(np.where(live, skmm * d1 / np.where(live, rs, 1.0), 0.0), axis=0)
        f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
        # R_k(t) = Y_k (1 - F_k(t-)) / S_k(t-); t1 = Y_k / S_k(t-)
        t1 = np.where(live, rs / skmm, 0.0)
        tr = t1.sum(axis=1)
        tq = np.where(live, rs * (1.0 - f1m) / skmm, 0.0).sum(axis=1)
        nd1 = d1.sum(axis=1)
        f = np.cumsum(nd1 / tr)  # pooled cumulative incidence
        fm = np.concatenate(([0.0], f[:-1]))
        fb = (1.0 - fm) ** rho
        expected = nd1[:, None] * rs * (1.0 - f1m) / (skmm * tq[:, None])
        score = (fb[:, None] * np.where(live, d1 - expected, 0.0)).sum(axis=0)
        # a: weight times the projection, c: its running sum scaled by the pooled hazard
        a = fb[:, None, None] * (
            t1[:, :, None] * np.eye(ng)[None] - t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
        )
        c = np.cumsum(a * (nd1 / (tr * (1.0 - fm)))[:, None, None], axis=0)

        # events of interest
        e1 = (nd1 > 0)[:, None] & live
        t4 = np.where(skm > 0, 1.0 - (1.0 - f)[:, None] / skm, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1.0 - (nd1[:, None] - 1.0) / (tr[:, None] * skmm - 1.0), 1.0)
        t3 = np.where(e1, t5 * skmm * nd1[:, None] / (tr[:, None] * np.where(live, rs, 1.0)), 0.0)
        t4 = np.where(e1, t4, 0.0)
        v3 = (t4**2 * t3).sum(axis=0)
        u = a - t4[:, None, :] * c  # u[r, i, k]
        v2 = np.einsum("rik,rk->ik", u, t4 * t3)
        v = np.einsum("rik,rjk,rk->ij", u, u, t3)

        # competing events
        e2 = (skm > 0) & (d2 > 0)
        t4b = np.where(e2, (1.0 - f)[:, None] / np.where(skm > 0, skm, 1.0), 0.0)
        t5b = np.where(d2 > 1, 1.0 - (d2 - 1.0) / (rs - 1.0), 1.0)
        t3b = np.where(e2, t5b * skmm**2 * d2 / np.where(live, rs, 1.0) ** 2, 0.0)
        v3 += (t4b**2 * t3b).sum(axis=0)
        ub = t4b[:, None, :] * c
        v2 -= np.einsum("rik,rk->ik", ub, t4b * t3b)
        v += np.einsum("rik,rjk,rk->ij", ub, ub, t3b)

        cf = c[-1]
        v += np.einsum("ik,jk,k->ij", cf, cf, v3) + cf @ v2.T + v2 @ cf.T
    return score, v


def gray_test(
    durations: Any,
    events: Any,
    groups: Any,
    *,
    event_of_interest: int = 1,
    strata: Any = None,
    rho: float = 0.0,
    weights: Any = None,
) -> GrayTestResult:
    """Gray's test that the cumulative incidence of one event type is equal in k groups.

    Parameters
    ----------
    durations : array_like of float
        Non-negative finite times to the first event or censoring.
    events : array_like of int
        0 censored, ``event_of_interest`` the event compared, any other positive code a
        competing event.
    groups : array_like
        Group label per subject (at least two distinct labels; no missing labels).
    event_of_interest : int, default 1
    strata : array_like, optional
        Stratum label per subject; scores and covariances are summed over strata, as
        ``cmprsk::cuminc(..., strata = )``.
    rho : float, default 0
        Power of the weight :math:`(1 - \\hat F^0(t-))^\\rho`; 0 (the default of cmprsk) weighs
        every time alike, a log-rank-like test of the subdistribution hazards.
    weights : array_like of float, optional
        Non-negative frequency weights (a row of weight k counts as k subjects).

    Returns
    -------
    GrayTestResult
        ``statistic`` (chi-square), ``pvalue``, ``df``, ``table`` (group, n, events, competing,
        score).

    Raises
    ------
    InputError
        As :func:`cumulative_incidence`, fewer than two groups, or a negative ``rho``.

    Notes
    -----
    For group k, with :math:`Y_k` at risk, :math:`\\hat S_k` its all-cause Kaplan-Meier and
    :math:`\\hat F_k` its cumulative incidence, Gray's "at risk" is
    :math:`R_k(t) = Y_k(t) \\{1 - \\hat F_k(t-)\\} / \\hat S_k(t-)` (subjects who had a competing
    event stay, with a falling weight) and the score is

    .. math::

        s_k = \\int (1 - \\hat F^0(t-))^\\rho \\Bigl\\{dN_{k1}(t)
              - R_k(t) \\frac{\\sum_l dN_{l1}(t)}{\\sum_l R_l(t)}\\Bigr\\},

    :math:`X^2 = s^T V^{-1} s \\sim \\chi^2_{k-1}` for the first k - 1 groups, with Gray's
    variance estimator (section 3 of the paper, with the tie corrections of the reference
    implementation in ``cmprsk``'s ``crstm``). This is a reimplementation, checked against the
    output ``cmprsk`` ships with its tests (regenerated data, same seed).

    References
    ----------
    .. [1] Gray RJ (1988). A class of K-sample tests for comparing the cumulative incidence of a
       competing risk. Ann Stat 16:1141-1154. doi:10.1214/aos/1176350951
    .. [2] Gray RJ. cmprsk: Subdistribution Analysis of Competing Risks. R package (``cuminc``).

    Examples
    --------
    >>> from outcomes.competing import gray_test
    >>> res = gray_test([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 2, 1, 0, 2, 2, 1], list("aaaabbbb"))
    >>> res.df, res.table["events"].tolist()
    (1, [3.0, 1.0])
    """
    event_of_interest = _check_event_of_interest(event_of_interest)
    if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not (rho >= 0 and math.isfinite(rho)):
        raise InputError(f"`rho` must be a finite number >= 0; got {rho!r}.")
    t = _check_durations(durations)
    n = t.shape[0]
    status = _check_event_codes(events, n)
    g, labels = _check_labels("groups", groups, n)
    w = np.ones(n) if weights is None else _check_weights(weights, n)
    ng = labels.shape[0]
    if ng < 2:
        raise InputError(f"`groups` must have at least two distinct labels; got {list(labels)!r}.")
    if strata is None:
        s = np.zeros(n, dtype=np.intp)
        n_strata = 1
    else:
        s, slabels = _check_labels("strata", strata, n)
        n_strata = slabels.shape[0]
    cause = np.where(status == event_of_interest, 1, np.where(status > 0, 2, 0))

    score = np.zeros(ng)
    cov = np.zeros((ng, ng))
    for k in range(n_strata):
        rows = s == k
        times, inv = _distinct_times(t[rows])
        sc, v = _gray_stratum(inv, g[rows], cause[rows], w[rows], times.shape[0], ng, float(rho))
        score += sc
        cov += v
    s1 = score[: ng - 1]
    v1 = cov[: ng - 1, : ng - 1]
    df = ng - 1
    if np.all(np.isfinite(v1)) and np.linalg.matrix_rank(v1) == df:
        statistic = float(s1 @ np.linalg.solve(v1, s1))
        pvalue = float(stats.chi2.sf(statistic, df))
    else:  # cmprsk reports -1 here; the test is undefined
        warnings.warn(
            "Gray's test is undefined: the covariance of the scores is singular (a group without "
            "events of interest at the times they occur).",
            StatisticalWarning,
            stacklevel=2,
        )
        statistic = pvalue = math.nan
    weighted = weights is not None
    n_g = np.bincount(g, weights=w, minlength=ng)
    ev = np.bincount(g, weights=w * (cause == 1), minlength=ng)
    comp = np.bincount(g, weights=w * (cause == 2), minlength=ng)
    scores = np.append(s1, -s1.sum())
    table = pd.DataFrame(
        {
            "group": labels,
            "n": n_g if weighted else n_g.astype(np.int64),
            "events": ev,
            "competing": comp,
            "score": scores,
        }
    )
    return GrayTestResult(
        statistic=statistic,
        pvalue=pvalue,
        df=df,
        table=table,
        event_of_interest=event_of_interest,
        rho=float(rho),
        method="gray" if strata is None else "stratified gray",
        n_strata=n_strata,
    )


# --------------------------------------------------------------------------------------------
# rare events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleOfThreeResult:
    """Upper confidence limits for a rate when no event was seen (see :func:`rule_of_three`).

    Attributes
    ----------
    count : int
        Always 0.
    nobs : int
    estimate : float
        0.
    ci : ConfidenceInterval
        ``(0, exact upper limit)``: the one-sided exact (Clopper-Pearson) interval.
    rule_of_three : float
        ``-log(1 - confidence_level) / nobs`` (3 / n at 95%), Hanley and Lippman-Hand's
        approximation of the exact limit.
    confidence_level : float
    method : str
        ``"exact"`` (the interval in ``ci``).
    """

    count: int
    nobs: int
    estimate: float
    ci: ConfidenceInterval
    rule_of_three: float
    confidence_level: float
    method: str = "exact"

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: count, nobs, estimate, ci_low, ci_high, rule_of_three, ..."""
        return result_row(self)

    def _repr_html_(self) -> str:
        return html_table(self)


def rule_of_three(nobs: int, *, confidence_level: float = 0.95) -> RuleOfThreeResult:
    """Upper limit for the rate of an event never seen in ``nobs`` patients.

    Parameters
    ----------
    nobs : int
        Number of patients observed, at least 1, none with the event.
    confidence_level : float, default 0.95
        One-sided level of the upper limit.

    Returns
    -------
    RuleOfThreeResult
        ``ci.high`` the exact one-sided Clopper-Pearson limit :math:`1 - \\alpha^{1/n}` (from
        :func:`outcomes.proportions.proportion` with ``method="exact"``, ``alternative="less"``),
        ``rule_of_three`` its approximation :math:`-\\log(\\alpha)/n` (3/n at 95%).

    Raises
    ------
    InputError
        ``nobs`` not a whole number >= 1, or a bad ``confidence_level``.

    Notes
    -----
    With no event in n independent patients, the one-sided exact upper limit solves
    :math:`(1 - p)^n = \\alpha`; since :math:`-\\log(1 - p) \\approx p` for small p, the limit
    is about :math:`-\\log(\\alpha) / n = 2.996 / n` at 95% (the rule of three). The rule
    overstates the exact limit slightly and is close for n >= 30; report the exact limit.

    References
    ----------
    .. [1] Hanley JA, Lippman-Hand A (1983). If nothing goes wrong, is everything all right?
       Interpreting zero numerators. JAMA 249:1743-1745. doi:10.1001/jama.1983.03330370053031
    .. [2] Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in
       the case of the binomial. Biometrika 26:404-413. doi:10.1093/biomet/26.4.404

    Examples
    --------
    >>> from outcomes.competing import rule_of_three
    >>> res = rule_of_three(100)
    >>> round(res.rule_of_three, 4), round(res.ci.high, 4)
    (0.03, 0.0295)
    """
    confidence_level = check_confidence_level(confidence_level)
    if isinstance(nobs, bool) or not isinstance(nobs, numbers.Integral) or nobs < 1:
        raise InputError(f"`nobs` must be a whole number >= 1; got {nobs!r}.")
    exact = proportion(0, int(nobs), method="exact", alternative="less", confidence_level=confidence_level)
    return RuleOfThreeResult(
        count=0,
        nobs=int(nobs),
        estimate=0.0,
        ci=ConfidenceInterval(0.0, float(exact.ci.high)),
        rule_of_three=float(-math.log(1.0 - confidence_level) / nobs),
        confidence_level=confidence_level,
    )
