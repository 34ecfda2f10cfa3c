"""Single proportions, the difference of two proportions, and Holm-adjusted p-values.

Public functions
----------------
proportion
    Observed proportion against a stated figure: Wilson score (default), exact Clopper-Pearson or
    Jeffreys interval, exact binomial test, and how many patients would settle an inconclusive
    verdict.
risk_difference
    Difference of two independent proportions: Newcombe hybrid score interval (default) or Wald,
    sample odds ratio with Woolf logit interval, Fisher or Boschloo exact test.
holm
    Holm step-down adjusted p-values for a family of claims.

The verdict rules these numbers feed (see the README, "Verdicts"): against a stated proportion ``p0`` with
a practical margin ``m``, an interval is *settled* when it lies wholly below or above ``p0``, or
contains ``p0`` and lies within ``p0 +/- m``; otherwise it is *inconclusive*.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from ._results import (
    ALTERNATIVES,
    ConfidenceInterval,
    check_choice,
    check_confidence_level,
    check_count,
    html_table,
    result_row,
)
from .exceptions import InputError, StatisticalWarning

__all__ = [
    "ProportionResult",
    "RiskDifferenceResult",
    "holm",
    "proportion",
    "risk_difference",
    "is_settled",
]

ProportionMethod = Literal["wilson", "exact", "jeffreys"]
DifferenceMethod = Literal["newcombe", "wald"]
ExactTest = Literal["fisher", "boschloo"]
Alternative = Literal["two-sided", "less", "greater"]

PROPORTION_METHODS: tuple[str, ...] = ("wilson", "exact", "jeffreys")
DIFFERENCE_METHODS: tuple[str, ...] = ("newcombe", "wald")
EXACT_TESTS: tuple[str, ...] = ("fisher", "boschloo")

# Largest total number of patients searched for `n_to_settle`; far beyond any clinic registry.
_MAX_SETTLE_N = 2**40


# --------------------------------------------------------------------------------------------
# Result classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProportionResult:
    """An observed proportion with its confidence interval, test and settling size.

    Attributes
    ----------
    count, nobs : int
        Events and patients.
    estimate : float
        ``count / nobs`` (NaN when ``nobs == 0``).
    ci : ConfidenceInterval
        ``(low, high)``; a one-sided interval has 0 or 1 as its open end.
    confidence_level : float
    method : str
        ``"wilson"``, ``"exact"`` or ``"jeffreys"``.
    pvalue : float or None
        Exact binomial test against ``stated``; None when no figure is stated.
    stated : float or None
        The stated proportion ``p0``.
    margin : float
        Practical margin ``m`` around ``stated`` used by the verdict rules.
    n_to_settle : int or None
        Smallest total number of patients at which the two-sided interval, at the observed
        proportion, is no longer inconclusive; ``nobs`` when already settled.
    alternative : str
        ``"two-sided"``, ``"less"`` or ``"greater"`` (true proportion against ``stated``).
    """

    count: int
    nobs: int
    estimate: float
    ci: ConfidenceInterval
    confidence_level: float
    method: str
    pvalue: float | None = None
    stated: float | None = None
    margin: float = 0.05
    n_to_settle: int | None = None
    alternative: str = "two-sided"

    @property
    def additional_to_settle(self) -> int | None:
        """More patients needed to settle the verdict (``n_to_settle - nobs``), or None."""
        if self.n_to_settle is None:
            return None
        return self.n_to_settle - self.nobs

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: every scalar field, ``ci_low``/``ci_high`` and ``additional_to_settle``."""
        return result_row(self, additional_to_settle=self.additional_to_settle)

    def _repr_html_(self) -> str:
        return html_table(self)


@dataclass(frozen=True, slots=True)
class RiskDifferenceResult:
    """Difference of two independent proportions, ``p1 - p2``, with odds ratio and exact test.

    Attributes
    ----------
    count1, nobs1, count2, nobs2 : int
        Events and patients in each group.
    estimate : float
        ``count1 / nobs1 - count2 / nobs2``.
    ci : ConfidenceInterval
        Interval for the difference (one-sided intervals have -1 or 1 as their open end).
    confidence_level : float
    method : str
        ``"newcombe"`` or ``"wald"``.
    odds_ratio : float
        Sample odds ratio ``a d / (b c)`` (Haldane-Anscombe corrected when a cell is zero).
    odds_ratio_ci : ConfidenceInterval
        Woolf logit interval for the odds ratio.
    pvalue : float
        Fisher or Boschloo exact test of ``p1 = p2`` (1 when a group is empty, as R
        ``fisher.test``).
    test : str
        ``"fisher"`` or ``"boschloo"``.
    alternative : str
        ``"two-sided"``, ``"less"`` (p1 < p2) or ``"greater"`` (p1 > p2).
    """

    count1: int
    nobs1: int
    count2: int
    nobs2: int
    estimate: float
    ci: ConfidenceInterval
    confidence_level: float
    method: str
    odds_ratio: float
    odds_ratio_ci: ConfidenceInterval
    pvalue: float
    test: str
    alternative: str

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: scalars, ``ci_low``/``ci_high``, ``odds_ratio_ci_low``/``_high``."""
        return result_row(self)

    def _repr_html_(self) -> str:
        return html_table(self)


# --------------------------------------------------------------------------------------------
# Vectorised interval kernels (private; also used by the simulation tests)
# --------------------------------------------------------------------------------------------


def _z(confidence_level: float, alternative: str) -> float:
    """Normal quantile for a two-sided or one-sided interval."""
    alpha = 1.0 - confidence_level
    return float(stats.norm.ppf(1.0 - alpha / 2 if alternative == "two-sided" else 1.0 - alpha))


def _wilson_interval(
    count: ArrayLike, nobs: ArrayLike, z: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score limits for arrays of (possibly non-integer) counts; ``nobs`` must be > 0.

    ``(x + z^2/2) / (n + z^2) -/+ z sqrt(x (n - x) / n + z^2 / 4) / (n + z^2)``, clipped to
    [0, 1] against floating-point error only (the limits lie in [0, 1] mathematically).
    """
    x = np.asarray(count, dtype=float)
    n = np.asarray(nobs, dtype=float)
    z2 = z * z
    centre = (x + z2 / 2) / (n + z2)
    half = z * np.sqrt(np.clip(x * (n - x) / n, 0.0, None) + z2 / 4) / (n + z2)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def _beta_interval(
    count: ArrayLike, nobs: ArrayLike, tail: float, shift: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Beta-quantile limits: Clopper-Pearson (``shift=0``, shapes x, n-x+1 / x+1, n-x) or
    Jeffreys (``shift=0.5``, shapes x+1/2, n-x+1/2); ``tail`` is the probability in each tail.

    At ``x = 0`` the lower limit is 0 and at ``x = n`` the upper limit is 1 for both (for
    Jeffreys this is the boundary modification of Brown, Cai & DasGupta 2001, section 4.1.2,
    as in R DescTools::BinomCI).
    """
    x = np.asarray(count, dtype=float)
    n = np.asarray(nobs, dtype=float)
    if shift == 0.0:
        a_low, b_low, a_high, b_high = x, n - x + 1, x + 1, n - x
    else:
        a_low = a_high = x + shift
        b_low = b_high = n - x + shift
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, stats.beta.ppf(tail, np.where(x > 0, a_low, 1.0), b_low), 0.0)
        high = np.where(
            x < n, stats.beta.ppf(1.0 - tail, a_high, np.where(x < n, b_high, 1.0)), 1.0
        )
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def _proportion_interval(
    count: ArrayLike, nobs: ArrayLike, confidence_level: float, method: str, alternative: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Limits of the chosen single-proportion interval for arrays of counts."""
    alpha = 1.0 - confidence_level
    if method == "wilson":
        low, high = _wilson_interval(count, nobs, _z(confidence_level, alternative))
    else:
        tail = alpha / 2 if alternative == "two-sided" else alpha
        low, high = _beta_interval(count, nobs, tail, 0.0 if method == "exact" else 0.5)
    if alternative == "less":
        low = np.zeros_like(low)
    elif alternative == "greater":
        high = np.ones_like(high)
    return low, high


def is_settled(
    low: ArrayLike, high: ArrayLike, stated: float, margin: float
) -> NDArray[np.bool_]:
    """The README's verdict rules: True unless the interval contains ``stated`` and is wider than
    ``stated +/- margin`` (the 'inconclusive' verdict)."""
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    below = high < stated
    above = low > stated
    consistent = (low >= stated - margin) & (high <= stated + margin)
    return below | above | consistent


def _n_to_settle(
    count: int, nobs: int, stated: float, margin: float, confidence_level: float, method: str
) -> int | None:
    """Smallest total n >= nobs at which the two-sided interval at the observed proportion
    ``count / nobs`` (count scaled to ``n count / nobs``) settles the verdict.

    Doubling finds a settled upper bracket, then bisection narrows it, keeping the invariant
    'lower end unsettled, upper end settled', so the returned n is settled and n - 1 is not.
    Interval width falls monotonically with n at a fixed proportion, which makes this the
    smallest such n (checked against a brute-force scan in the tests).
    """
    if nobs == 0:
        return None
    phat = count / nobs

    def settled(n: int) -> bool:
        low, high = _proportion_interval(phat * n, n, confidence_level, method, "two-sided")
        return bool(is_settled(low, high, stated, margin))

    if settled(nobs):
        return nobs
    lo, hi = nobs, 2 * nobs
    while not settled(hi):
        lo, hi = hi, 2 * hi
        if hi > _MAX_SETTLE_N:  # pragma: no cover - cannot happen for 0 < stated < 1, margin > 0
            return None
    while hi - lo > 1:  # invariant: lo unsettled, hi settled
        mid = (lo + hi) // 2
        if settled(mid):
            hi = mid
        else:
            lo = mid
    return hi


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_at_most(name: str, value: int, limit_name: str, limit: int) -> None:
    if value > limit:
        raise InputError(f"`{name}` must be at most `{limit_name}` ({limit}); got {value!r}.")


def _check_open_unit(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (0 < value < 1)  # also rejects NaN
    ):
        raise InputError(f"`{name}` must be a number strictly between 0 and 1; got {value!r}.")
    return float(value)


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def proportion(
    count: int,
    nobs: int,
    *,
    stated: float | None = None,
    margin: float = 0.05,
    confidence_level: float = 0.95,
    method: ProportionMethod = "wilson",
    alternative: Alternative = "two-sided",
) -> ProportionResult:
    r"""Estimate a proportion with its confidence interval and test it against a stated figure.

    Parameters
    ----------
    count : int
        Number of patients with the event (e.g. success), ``0 <= count <= nobs``.
    nobs : int
        Number of patients.
    stated : float, optional
        The stated proportion ``p0``, strictly between 0 and 1. When given, the exact binomial
        test p-value and ``n_to_settle`` are computed.
    margin : float, default 0.05
        Practical margin ``m`` around ``stated`` for the verdict rules, in (0, 1).
    confidence_level : float, default 0.95
    method : {"wilson", "exact", "jeffreys"}, default "wilson"
        Wilson score interval, Clopper-Pearson exact interval, or Jeffreys equal-tailed
        interval.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        For the test and interval: ``"greater"`` tests whether the true proportion exceeds
        ``stated`` and gives a lower confidence bound (upper end 1).

    Returns
    -------
    ProportionResult

    Warns
    -----
    StatisticalWarning
        When ``nobs == 0``: the estimate and interval are NaN.

    Notes
    -----
    With :math:`\hat p = x/n` and :math:`z = \Phi^{-1}(1 - \alpha/2)` (:math:`1 - \alpha` for a
    one-sided bound), the Wilson (1927) score interval is

    .. math:: \frac{x + z^2/2}{n + z^2} \pm \frac{z}{n + z^2}
              \sqrt{\frac{x (n - x)}{n} + \frac{z^2}{4}}

    (Newcombe 1998a, method 3). The Clopper-Pearson interval (method 5) is
    :math:`[B(\alpha/2; x, n - x + 1),\ B(1 - \alpha/2; x + 1, n - x)]` with :math:`B` the beta
    quantile, 0 at :math:`x = 0` and 1 at :math:`x = n`. The Jeffreys interval is
    :math:`[B(\alpha/2; x + \tfrac12, n - x + \tfrac12),\ B(1 - \alpha/2; x + \tfrac12,
    n - x + \tfrac12)]` with the same boundary convention (Brown, Cai & DasGupta 2001).

    The p-value is the exact binomial test of :math:`p = p_0` (:func:`scipy.stats.binomtest`;
    the two-sided p-value sums the probabilities of outcomes no more likely than the one
    observed, as R ``binom.test``).

    ``n_to_settle`` is the smallest :math:`N \ge n` at which the two-sided interval of the same
    method and level, at the same :math:`\hat p` (count :math:`N \hat p`), either excludes
    :math:`p_0` or lies within :math:`p_0 \pm m`; found by doubling then bisection. It is a
    planning figure assuming the observed proportion holds, not a power calculation.

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
       J Am Stat Assoc 1927;22:209-212. doi:10.1080/01621459.1927.10502953
    .. [2] Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the
       case of the binomial. Biometrika 1934;26:404-413. doi:10.1093/biomet/26.4.404
    .. [3] Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of
       seven methods. Stat Med 1998;17:857-872.
       doi:10.1002/(SICI)1097-0258(19980430)17:8<857::AID-SIM777>3.0.CO;2-E
    .. [4] Brown LD, Cai TT, DasGupta A. Interval estimation for a binomial proportion.
       Stat Sci 2001;16:101-133. doi:10.1214/ss/1009213286

    Examples
    --------
    >>> res = proportion(81, 263)  # Newcombe 1998a, Table I
    >>> round(res.ci.low, 4), round(res.ci.high, 4)
    (0.2553, 0.3662)
    >>> res = proportion(45, 50, stated=0.90)
    >>> round(res.pvalue, 4), res.n_to_settle, res.additional_to_settle
    (1.0, 196, 146)
    """
    count = check_count("count", count)
    nobs = check_count("nobs", nobs)
    _check_at_most("count", count, "nobs", nobs)
    if stated is not None:
        stated = _check_open_unit("stated", stated)
    margin = _check_open_unit("margin", margin)
    confidence_level = check_confidence_level(confidence_level)
    method = check_choice("method", method, PROPORTION_METHODS)
    alternative = check_choice("alternative", alternative, ALTERNATIVES)

    if nobs == 0:
        warnings.warn(
            "`nobs` is 0, so the proportion and its interval are undefined (NaN).",
            StatisticalWarning,
            stacklevel=2,
        )
        return ProportionResult(
            count=count,
            nobs=nobs,
            estimate=math.nan,
            ci=ConfidenceInterval(math.nan, math.nan),
            confidence_level=confidence_level,
            method=method,
            pvalue=None,
            stated=stated,
            margin=margin,
            n_to_settle=None,
            alternative=alternative,
        )

    low, high = _proportion_interval(count, nobs, confidence_level, method, alternative)
    pvalue = None
    n_to_settle = None
    if stated is not None:
        pvalue = float(stats.binomtest(count, nobs, p=stated, alternative=alternative).pvalue)
        n_to_settle = _n_to_settle(count, nobs, stated, margin, confidence_level, method)
    return ProportionResult(
        count=count,
        nobs=nobs,
        estimate=count / nobs,
        ci=ConfidenceInterval(float(low), float(high)),
        confidence_level=confidence_level,
        method=method,
        pvalue=pvalue,
        stated=stated,
        margin=margin,
        n_to_settle=n_to_settle,
        alternative=alternative,
    )


def _woolf_odds_ratio(
    a: int, b: int, c: int, d: int, z: float, alternative: str
) -> tuple[float, ConfidenceInterval]:
    """Sample odds ratio ``a d / (b c)`` with the Woolf (1955) logit interval.

    Any zero cell: 0.5 is added to all four cells for both the estimate and the interval
    (Haldane 1956 / Anscombe 1956 correction, as statsmodels ``Table2x2(shift_zeros=True)``),
    with a StatisticalWarning.
    """
    cells = np.array([a, b, c, d], dtype=float)
    if np.any(cells == 0):
        warnings.warn(
            f"A cell of the 2x2 table is zero ({a}, {b}, {c}, {d}); the odds ratio and its "
            "Woolf interval use the Haldane-Anscombe correction (0.5 added to every cell).",
            StatisticalWarning,
            stacklevel=3,
        )
        cells += 0.5
    a_, b_, c_, d_ = cells
    log_or = math.log(a_ * d_ / (b_ * c_))
    se = math.sqrt(float(np.sum(1.0 / cells)))
    low = math.exp(log_or - z * se)
    high = math.exp(log_or + z * se)
    if alternative == "less":
        low = 0.0
    elif alternative == "greater":
        high = math.inf
    return math.exp(log_or), ConfidenceInterval(low, high)


def risk_difference(
    count1: int,
    nobs1: int,
    count2: int,
    nobs2: int,
    *,
    confidence_level: float = 0.95,
    method: DifferenceMethod = "newcombe",
    alternative: Alternative = "two-sided",
    test: ExactTest = "fisher",
) -> RiskDifferenceResult:
    r"""Difference of two independent proportions ``p1 - p2`` with odds ratio and exact test.

    Parameters
    ----------
    count1, nobs1 : int
        Events and patients in group 1 (e.g. treated within six weeks).
    count2, nobs2 : int
        Events and patients in group 2.
    confidence_level : float, default 0.95
    method : {"newcombe", "wald"}, default "newcombe"
        Newcombe hybrid score interval, or the simple Wald interval (for comparison only; it
        is not clipped to [-1, 1] and covers poorly in small samples).
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        ``"greater"`` means p1 > p2: a one-sided test and a lower confidence bound (upper end
        1 for the difference, infinity for the odds ratio).
    test : {"fisher", "boschloo"}, default "fisher"
        Fisher's exact (conditional) test or Boschloo's exact unconditional test.

    Returns
    -------
    RiskDifferenceResult

    Warns
    -----
    StatisticalWarning
        When a group has no patients (difference, odds ratio and intervals NaN; the p-value is
        1, as R ``fisher.test``: the observed table is the only one with its margins), or a cell
        of the 2x2 table is zero (the odds ratio is then Haldane-Anscombe corrected).

    Notes
    -----
    With Wilson limits :math:`(l_i, u_i)` for :math:`\hat p_i` (see :func:`proportion`) and
    :math:`\hat\delta = \hat p_1 - \hat p_2`, Newcombe's (1998b) method 10 interval is

    .. math:: \left[\hat\delta - \sqrt{(\hat p_1 - l_1)^2 + (u_2 - \hat p_2)^2},\ 
              \hat\delta + \sqrt{(u_1 - \hat p_1)^2 + (\hat p_2 - l_2)^2}\right].

    The Wald interval is :math:`\hat\delta \pm z \sqrt{\hat p_1 \hat q_1 / n_1 +
    \hat p_2 \hat q_2 / n_2}`.

    The odds ratio is the sample (unconditional) odds ratio :math:`ad/(bc)` with
    :math:`a = x_1, b = n_1 - x_1, c = x_2, d = n_2 - x_2`, and its interval the Woolf logit
    interval :math:`\exp\{\log OR \pm z \sqrt{1/a + 1/b + 1/c + 1/d}\}`; when a cell is zero,
    0.5 is added to every cell (Haldane-Anscombe).

    The p-value comes from :func:`scipy.stats.fisher_exact` or
    :func:`scipy.stats.boschloo_exact`, with the groups as the columns of the table passed to
    scipy so that ``"greater"`` means :math:`p_1 > p_2`.

    References
    ----------
    .. [1] Newcombe RG. Interval estimation for the difference between independent
       proportions: comparison of eleven methods. Stat Med 1998;17:873-890.
       doi:10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I
    .. [2] Woolf B. On estimating the relation between blood group and disease. Ann Hum Genet
       1955;19:251-253. doi:10.1111/j.1469-1809.1955.tb01348.x
    .. [3] Haldane JBS. The estimation and significance of the logarithm of a ratio of
       frequencies. Ann Hum Genet 1956;20:309-311. doi:10.1111/j.1469-1809.1955.tb01285.x
    .. [4] Boschloo RD. Raised conditional level of significance for the 2x2-table when
       testing the equality of two probabilities. Stat Neerl 1970;24:1-35.
       doi:10.1111/j.1467-9574.1970.tb00104.x

    Examples
    --------
    >>> res = risk_difference(56, 70, 48, 80)  # Newcombe 1998b, Table II, case (a)
    >>> round(res.estimate, 4), round(res.ci.low, 4), round(res.ci.high, 4)
    (0.2, 0.0524, 0.3339)
    """
    count1 = check_count("count1", count1)
    nobs1 = check_count("nobs1", nobs1)
    count2 = check_count("count2", count2)
    nobs2 = check_count("nobs2", nobs2)
    _check_at_most("count1", count1, "nobs1", nobs1)
    _check_at_most("count2", count2, "nobs2", nobs2)
    confidence_level = check_confidence_level(confidence_level)
    method = check_choice("method", method, DIFFERENCE_METHODS)
    alternative = check_choice("alternative", alternative, ALTERNATIVES)
    test = check_choice("test", test, EXACT_TESTS)

    if nobs1 == 0 or nobs2 == 0:
        warnings.warn(
            f"A group has no patients (`nobs1` = {nobs1}, `nobs2` = {nobs2}); the difference and "
            "odds ratio are undefined (NaN) and the exact test has p = 1 (as R fisher.test).",
            StatisticalWarning,
            stacklevel=2,
        )
        nan_ci = ConfidenceInterval(math.nan, math.nan)
        # With an empty group the table is the only one with its margins: both exact tests give
        # p = 1, as R fisher.test(matrix(c(x, n - x, 0, 0), 2)) for every alternative.
        return RiskDifferenceResult(
            count1, nobs1, count2, nobs2, math.nan, nan_ci, confidence_level, method,
            math.nan, nan_ci, 1.0, test, alternative,
        )  # fmt: skip

    p1, p2 = count1 / nobs1, count2 / nobs2
    estimate = p1 - p2
    z = _z(confidence_level, alternative)
    if method == "newcombe":
        (l1, l2), (u1, u2) = _wilson_interval([count1, count2], [nobs1, nobs2], z)
        low = estimate - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = estimate + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    else:
        half = z * math.sqrt(p1 * (1 - p1) / nobs1 + p2 * (1 - p2) / nobs2)
        low, high = estimate - half, estimate + half
    if alternative == "less":
        low = -1.0
    elif alternative == "greater":
        high = 1.0

    a, b, c, d = count1, nobs1 - count1, count2, nobs2 - count2
    odds_ratio, odds_ratio_ci = _woolf_odds_ratio(a, b, c, d, z, alternative)

    # Groups as columns: scipy's Boschloo test takes each column as one binomial sample, so
    # "greater" is p1 > p2; Fisher's odds ratio is unchanged by the transpose.
    table = np.array([[a, c], [b, d]])
    if test == "fisher":
        pvalue = stats.fisher_exact(table, alternative=alternative).pvalue
    else:
        pvalue = stats.boschloo_exact(table, alternative=alternative).pvalue
    return RiskDifferenceResult(
        count1=count1,
        nobs1=nobs1,
        count2=count2,
        nobs2=nobs2,
        estimate=float(estimate),
        ci=ConfidenceInterval(float(low), float(high)),
        confidence_level=confidence_level,
        method=method,
        odds_ratio=float(odds_ratio),
        odds_ratio_ci=odds_ratio_ci,
        pvalue=float(pvalue),
        test=test,
        alternative=alternative,
    )


def holm(pvalues: ArrayLike) -> NDArray[np.float64]:
    r"""Holm step-down adjusted p-values; NaN or None entries pass through as NaN.

    Parameters
    ----------
    pvalues : array_like
        One-dimensional p-values in [0, 1]. Missing entries (NaN or None) are returned as NaN
        and are not counted in the family size.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape and order as the input.

    Notes
    -----
    With the :math:`m` non-missing p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`,

    .. math:: \tilde p_{(i)} = \max_{j \le i} \min\{1, (m - j + 1) p_{(j)}\}.

    Rejecting when :math:`\tilde p \le \alpha` controls the family-wise error rate at
    :math:`\alpha` under any dependence.

    References
    ----------
    .. [1] Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat
       1979;6:65-70. https://www.jstor.org/stable/4615733

    Examples
    --------
    >>> holm([0.01, 0.04, None, 0.03]).round(2).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    try:
        values = np.array(
            [math.nan if v is None else v for v in np.ravel(np.asarray(pvalues, dtype=object))],
            dtype=float,
        ).reshape(np.shape(pvalues))
    except (TypeError, ValueError):
        raise InputError(
            f"`pvalues` must be numbers between 0 and 1 (NaN or None when missing); "
            f"got {pvalues!r}."
        ) from None
    if values.ndim != 1:
        raise InputError(f"`pvalues` must be one-dimensional; got shape {values.shape!r}.")
    present = ~np.isnan(values)
    if np.any((values[present] < 0) | (values[present] > 1)):
        bad = values[present][(values[present] < 0) | (values[present] > 1)]
        raise InputError(
            f"`pvalues` must be numbers between 0 and 1 (NaN or None when missing); "
            f"got {float(bad[0])!r}."
        )
    adjusted = np.full(values.shape, math.nan)
    p = values[present]
    m = p.size
    if m:
        order = np.argsort(p, kind="stable")
        stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
        out = np.empty(m)
        out[order] = np.maximum.accumulate(stepped)
        adjusted[present] = out
    return adjusted
