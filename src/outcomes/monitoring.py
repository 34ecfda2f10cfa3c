"""Monitoring: is any physician or site out of line, and is the clinic drifting?

Public functions
----------------
funnel
    Funnel plot data: each unit's proportion against its volume, with exact binomial control
    limits around the clinic rate and around the stated figure (Spiegelhalter 2005), and the
    overdispersion test and adjustment from winsorised z-scores.
control_chart
    Monthly (or quarterly) p-chart with 3-sigma limits that vary with each period's volume, and
    the special-cause rules in the NHS "Making Data Count" vocabulary.
cusum
    Bernoulli CUSUM of failures in procedure-date order, plain or risk-adjusted (Steiner et al.
    2000), with its control limit chosen by simulation for a target in-control average run
    length, and a detection-floor table; for the clinic or per physician.
cusum_path
    The CUSUM recursion itself, vectorised over many sequences.

Inputs are endpoint frames from :func:`outcomes.derive_endpoints` (one row per procedure); the
outcome is any yes/no column of it (``success``, ``relief_by_horizon``, ``success_worst_case``,
...), with missing values dropped and counted. Results are frozen dataclasses holding tidy frames;
figures live in :mod:`outcomes.plots_monitoring`.

References
----------
.. [1] Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
   2005;24:1185-1202. doi:10.1002/sim.1970
.. [2] Spiegelhalter DJ, Sherlaw-Johnson C, Bardsley M, Blunt I, Wood C, Grigg O. Statistical
   methods for healthcare regulation: rating, screening and surveillance. J R Stat Soc A
   2012;175:1-47. doi:10.1111/j.1467-985X.2011.01010.x
.. [3] NHS England / NHS Improvement. Making Data Count: strengthening your decisions. 2019;
   as implemented in the NHS-R Community package NHSRplotthedots.
.. [4] Steiner SH, Cook RJ, Farewell VT, Treasure T. Monitoring surgical performance using
   risk-adjusted cumulative sum charts. Biostatistics 2000;1:441-452.
   doi:10.1093/biostatistics/1.4.441
.. [5] Reynolds MR, Stoumbos ZG. A CUSUM chart for monitoring a proportion when inspecting
   continuously. J Qual Technol 1999;31:87-108. doi:10.1080/00224065.1999.11979900
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ._results import check_choice, html_table, result_row
from .exceptions import InputError, StatisticalWarning

__all__ = [
    "RISK_COVARIATES",
    "ControlChartResult",
    "CusumResult",
    "FunnelResult",
    "control_chart",
    "cusum",
    "cusum_path",
    "funnel",
    "funnel_limits",
    "observed_expected",
]

Overdispersion = Literal["auto", "none", "multiplicative", "additive"]
Period = Literal["auto", "month", "quarter", "year"]

OVERDISPERSION_CHOICES: tuple[str, ...] = ("auto", "none", "multiplicative", "additive")
PERIOD_CHOICES: tuple[str, ...] = ("auto", "month", "quarter", "year")

# "auto" periods: quarters when the median month holds fewer patients than this.
MIN_MEDIAN_MONTHLY = 20
# Fewer periods than this make the p-chart's centre and limits fragile (Making Data Count asks
# for at least 12-15 points before limits are trusted); a StatisticalWarning says so.
MIN_PERIODS = 12
# The chi-square test of overdispersion at this level decides "auto" (Spiegelhalter 2005, s. 6).
OVERDISPERSION_ALPHA = 0.05
# "auto" leaves the exact limits alone with fewer units than this: a between-unit variance from
# two to four units (two sites, say) is no estimate at all. A judgement, not a published rule.
MIN_UNITS_FOR_OVERDISPERSION = 5

# Patient factors the risk-adjusted CUSUM uses when present. Treatment choices (procedure) and
# the physician are left out on purpose: adjusting for them would hide what is being monitored.
RISK_COVARIATES: tuple[str, ...] = (
    "age", "sex", "baseline_pain", "levels_treated", "asa_class", "etiology", "early_treatment",
)

# Largest control limit searched by the simulation; far above any limit in use (ARL0 = 1e6
# with odds ratio 2 needs h of about 10).
_H_MAX = 60.0
_MAX_ARL0 = 1e6


# --------------------------------------------------------------------------------------------
# Result classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class FunnelResult:
    """Units (physicians or sites) against their volume, with funnel control limits.

    Attributes
    ----------
    units : pandas.DataFrame
        Long form, one row per unit x centre x level: ``unit, n, events, missing, proportion,
        centre`` ("clinic" or "stated"), ``target`` (the centre's value), ``level`` (0.95,
        0.998), ``lower, upper`` (the limits at the unit's n, after any overdispersion
        adjustment), ``z`` (Pearson z-score against the target), ``z_adjusted`` (after the
        adjustment; equal to ``z`` when none), ``flag`` ("high", "low" or ""), ``side``
        ("worse", "better" or ""): which way a flagged unit lies, read with ``lower_is_better``
        (with complications, above the upper limit is worse; with success, below the lower).
    limits : pandas.DataFrame
        The funnel lines: ``n, centre, target, level, lower, upper`` over a grid of n.
    outcome, unit : str
        The outcome column and the unit column.
    clinic_rate : float
        Events over patients, all units together.
    stated : float or None
    confidence_levels : tuple of float
    n_units, n, events : int
        Units with at least one patient; patients and events analysed.
    n_missing_outcome, n_missing_unit : int
        Rows dropped: outcome missing, unit missing.
    overdispersion : str
        What was asked: "auto", "none", "multiplicative" or "additive".
    adjustment : str
        What was applied: "none", "multiplicative" or "additive".
    overdispersion_phi : float
        Mean squared winsorised z-score against the clinic rate (NaN with fewer than 2 units).
    overdispersion_pvalue : float
        Chi-square test of ``n_units * phi`` on ``n_units - 1`` degrees of freedom.
    tau2 : float
        Additive between-unit variance (moment estimator; 0 when ``phi`` shows none).
    winsorize : float
        Fraction winsorised at each end before estimating ``phi``.
    method : str
    lower_is_better : bool
        True for an outcome that is bad news (a complication): a unit above the upper limit is
        then worse than the centre, one below the lower limit better.
    """

    units: pd.DataFrame
    limits: pd.DataFrame
    outcome: str
    unit: str
    clinic_rate: float
    stated: float | None
    confidence_levels: tuple[float, ...]
    n_units: int
    n: int
    events: int
    n_missing_outcome: int
    n_missing_unit: int
    overdispersion: str
    adjustment: str
    overdispersion_phi: float
    overdispersion_pvalue: float
    tau2: float
    winsorize: float
    method: str = "exact binomial limits (Spiegelhalter 2005)"
    lower_is_better: bool = False

    def worse(self, *, level: float | None = None, centre: str = "clinic") -> pd.DataFrame:
        """Rows of :attr:`units` outside their limits on the worse side (default: the widest
        level): above the upper limit when ``lower_is_better``, else below the lower."""
        rows = self.flagged(level=level, centre=centre)
        return rows[rows["side"] == "worse"].reset_index(drop=True)

    def flagged(self, *, level: float | None = None, centre: str = "clinic") -> pd.DataFrame:
        """Rows of :attr:`units` outside their limits (default: the widest level)."""
        level = max(self.confidence_levels) if level is None else level
        rows = self.units[(self.units["centre"] == centre) & np.isclose(self.units["level"], level)]
        return rows[rows["flag"] != ""].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """The tidy :attr:`units` table."""
        return self.units.copy()

    def summary(self) -> pd.DataFrame:
        """One tidy row of the scalar fields."""
        return result_row(self)

    def _repr_html_(self) -> str:
        return html_table(self) + self.units.to_html(index=False, float_format=lambda v: f"{v:.4g}")


@dataclass(frozen=True, slots=True, eq=False)
class ControlChartResult:
    """A p-chart of the outcome by period, with the special-cause rules applied.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per period from the first to the last: ``period`` (label "2022-03" or "2022Q1"),
        ``period_start`` (Timestamp), ``n, events, proportion, centre, lcl, ucl``,
        ``beyond_limits, run, trend`` (which rule flags the point), ``signal`` (any rule),
        ``rule`` (the rules, in words, joined by " + "), ``direction`` ("improving",
        "concerning" or ""). Periods without patients have ``n = 0`` and no proportion.
    period : str
        "month" or "quarter", as used.
    period_reason : str
        Why, in words (with ``period="auto"``, the median monthly volume).
    centre : float
        The centre line.
    variation : str
        The Making Data Count reading of the latest period: "common cause", "special cause —
        improving" or "special cause — concerning".
    summary : str
        Every special-cause episode in words.
    rules : str
        Exactly which rules were applied and how runs and trends are counted.
    outcome : str
    stated : float or None
    n, events, n_missing_outcome, n_missing_date : int
    run_length, trend_length : int
    higher_is_better : bool
    """

    table: pd.DataFrame
    period: str
    period_reason: str
    centre: float
    variation: str
    summary: str
    rules: str
    outcome: str
    stated: float | None
    n: int
    events: int
    n_missing_outcome: int
    n_missing_date: int
    run_length: int
    trend_length: int
    higher_is_better: bool
    method: str = "p-chart, 3-sigma limits"

    @property
    def signals(self) -> pd.DataFrame:
        """The periods flagged by any rule."""
        return self.table[self.table["signal"]].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """The tidy per-period :attr:`table`."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return html_table(self) + self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")


@dataclass(frozen=True, slots=True, eq=False)
class CusumResult:
    """A Bernoulli CUSUM of failures, per case in procedure-date order.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per case: ``unit`` ("clinic" without ``by``), ``order`` (1, 2, ... within the
        unit), ``procedure_id, date, failure`` (bool), ``expected`` (in-control failure
        probability), ``score`` (log-likelihood ratio), ``cusum`` (after this case), ``limit``,
        ``signal`` (bool; the CUSUM restarts at 0 after a signal), ``observed_minus_expected``
        (cumulative failures minus expected failures: above 0 means more failures than the
        stated figure allows).
    limits : pandas.DataFrame
        Per unit: ``unit, n, limit, arl0_simulated, arl0_se, n_signals, first_signal_date``.
    signals : pandas.DataFrame
        Every signal: ``unit, order, procedure_id, date, cusum``.
    detection : pandas.DataFrame
        The detection floor per unit and window of consecutive cases: ``unit, window,
        failures_in_a_row`` (the fewest failures that can signal: consecutive ones),
        ``failures_any_order`` (this many failures in the window signal whatever their order;
        NA when even all would not), ``share_any_order``, ``expected_failures`` (in control),
        ``p_in_control`` (chance of at least ``failures_any_order`` failures in control),
        ``months`` (the window in months at the unit's volume).
    limit : float or None
        The control limit h, when every unit shares one.
    outcome : str
    stated : float or None
        Stated success proportion; the in-control failure probability is ``1 - stated``
        (the clinic's own rate when None). With ``lower_is_better`` the stated rate of the
        counted event itself (a complication threshold), which is then the in-control failure
        probability.
    in_control_failure : float
        Mean in-control failure probability.
    odds_ratio : float
        Failure odds multiplier the chart is tuned to detect.
    arl0 : float
        Target in-control average run length (cases).
    risk_adjusted : bool
    covariates : tuple of str
        Covariates of the risk model (empty when not risk-adjusted).
    risk_model : pandas.DataFrame or None
        ``term, log_odds, odds_ratio`` of the failure model.
    by : str or None
    n, n_missing_outcome, n_missing_date, n_missing_unit : int
    n_sim : int
    seed : int or None
    lower_is_better : bool
        True when the outcome column is the bad event itself (a complication): a failure is a
        True value. False: a failure is a False value of a good outcome (success).
    """

    table: pd.DataFrame
    limits: pd.DataFrame
    signals: pd.DataFrame
    detection: pd.DataFrame
    limit: float | None
    outcome: str
    stated: float | None
    in_control_failure: float
    odds_ratio: float
    arl0: float
    risk_adjusted: bool
    covariates: tuple[str, ...]
    risk_model: pd.DataFrame | None
    by: str | None
    n: int
    n_missing_outcome: int
    n_missing_date: int
    n_missing_unit: int
    n_sim: int
    seed: int | None
    method: str = "Bernoulli CUSUM (Steiner et al. 2000)"
    # "day"; "year" when the records give only years (the date column then holds 1 January of
    # the year: show the year only); "sequence" when they give no time at all
    time_resolution: str = "day"
    lower_is_better: bool = False

    @property
    def first_signal_date(self) -> pd.Timestamp | None:
        """Date of the earliest signal in any unit, or None."""
        if self.signals.empty:
            return None
        return pd.Timestamp(self.signals["date"].min())

    def to_frame(self) -> pd.DataFrame:
        """The tidy per-case :attr:`table`."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return html_table(self) + self.limits.to_html(index=False, float_format=lambda v: f"{v:.4g}")


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_endpoints(endpoints: Any) -> pd.DataFrame:
    if not isinstance(endpoints, pd.DataFrame):
        raise InputError(
            f"`endpoints` must be a pandas DataFrame from outcomes.derive_endpoints; "
            f"got {type(endpoints).__name__}."
        )
    return endpoints


def _check_column(endpoints: pd.DataFrame, name: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or value not in endpoints.columns:
        raise InputError(f"`{name}` must be a column of `endpoints` ({what}); got {value!r}.")
    return value


def _binary(endpoints: pd.DataFrame, outcome: Any) -> pd.Series:
    """The outcome column as a nullable boolean Series (NA for unknown)."""
    _check_column(endpoints, "outcome", outcome, "a yes/no column such as 'success' or 'relief_by_horizon'")
    column = endpoints[outcome]
    known = column.dropna()
    if pd.api.types.is_bool_dtype(column) or known.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        if len(known) == 0 or pd.api.types.is_bool_dtype(column) or column.dtype == object:
            return column.astype("boolean")
    if pd.api.types.is_numeric_dtype(column) and known.isin([0, 1]).all():
        return column.astype("Float64").eq(1).astype("boolean")
    bad = known[~known.isin([0, 1, True, False])]
    example = bad.iloc[0] if len(bad) else known.iloc[0]
    raise InputError(
        f"`outcome` must name a yes/no column (True/False, NA when unknown); got {outcome!r} "
        f"holding {example!r}."
    )


def _check_probability(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or not 0 < value < 1
    ):
        rule = "a proportion strictly between 0 and 1" + (" or None" if allow_none else "")
        raise InputError(f"`{name}` must be {rule}; got {value!r}.")
    return float(value)


def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"`{name}` must be a whole number >= {minimum}; got {value!r}.")
    return int(value)


def _dates(endpoints: pd.DataFrame) -> pd.Series:
    if "procedure_date" not in endpoints.columns:
        raise InputError(
            "`endpoints` must have a 'procedure_date' column (derive_endpoints carries it from the "
            "procedures table); got columns without it."
        )
    dates = endpoints["procedure_date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        try:
            dates = pd.to_datetime(dates)
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"`procedure_date` must hold dates; got {endpoints['procedure_date'].dropna().iloc[0]!r}."
            ) from exc
    return dates


def _dates_or_years(endpoints: pd.DataFrame) -> tuple[pd.Series, str]:
    """Procedure dates, or for Safe Harbor records without them the first day of each
    ``procedure_year``: (dates, "day" or "year"). With neither, the dates (all missing) and
    "sequence": the records' own order is all there is."""
    if "procedure_date" not in endpoints.columns and "procedure_year" in endpoints.columns:
        dates = pd.Series(pd.NaT, index=endpoints.index, dtype="datetime64[ns]")
    else:
        dates = _dates(endpoints)
    if dates.notna().any():
        return dates, "day"
    if "procedure_year" in endpoints.columns:
        years = pd.to_numeric(endpoints["procedure_year"], errors="coerce")
        if years.notna().any():
            text = years.round().astype("Int64").astype("string") + "-01-01"
            return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]"), "year"
    return dates, "sequence"


# --------------------------------------------------------------------------------------------
# Funnel plot
# --------------------------------------------------------------------------------------------


def funnel_limits(n: Any, target: float, confidence_level: float = 0.998) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial funnel limits for a proportion, interpolated as Spiegelhalter (2005).

    Parameters
    ----------
    n : int or array of int
        Number of patients.
    target : float
        The proportion the funnel is centred on, strictly between 0 and 1.
    confidence_level : float, default 0.998
        Two-sided: each limit has tail probability ``(1 - confidence_level) / 2``.

    Returns
    -------
    (lower, upper) : tuple of numpy.ndarray
        Limits on the proportion scale, within [0, 1].

    Notes
    -----
    For tail probability ``p = (1 - confidence_level) / 2`` and ``Y ~ Binomial(n, target)``, let
    ``r_p`` be the smallest ``r`` with ``F(r) >= p`` (the binomial quantile,
    ``scipy.stats.binom.ppf``), and

    .. math:: \\alpha = \\frac{F(r_p) - p}{F(r_p) - F(r_p - 1)}, \\qquad
              \\text{lower} = (r_p - \\alpha) / n,

    which interpolates between the discrete quantiles so that the limits are smooth in ``n``
    (Spiegelhalter 2005, Appendix A.1.1). A unit with ``y`` events lies below the lower limit
    exactly when ``y < r_p``, i.e. when ``P(Y <= y) < p``: the exact one-sided binomial test.

    The upper limit is the same construction on the non-events, ``n - Y ~ Binomial(n,
    1 - target)``: ``upper = 1 - lower(n, 1 - target)``, so a unit lies above it exactly when
    ``P(Y >= y) < p``. Interpolating the upper quantile of the events instead,
    ``(r_{1-p} - alpha) / n``, puts the line up to one event too low: a unit exactly at the
    quantile then lies above it, and near 100% an in-control unit lies above the 99.8% line far
    more often than 0.1% (12% for ``n = 20``, ``target = 0.9``). Mirrored, both limits are exact
    tests: an in-control unit falls outside each with probability at most ``p`` (Manktelow and
    Seaton 2012 compare how interpolation choices change these probabilities).

    References
    ----------
    .. [1] Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
       2005;24:1185-1202. doi:10.1002/sim.1970
    .. [2] Manktelow BN, Seaton SE. Specifying the probability characteristics of funnel plot
       control limits: an investigation of three approaches. PLoS One 2012;7:e45723.
       doi:10.1371/journal.pone.0045723

    Examples
    --------
    >>> low, high = funnel_limits([50, 200], 0.9, 0.95)
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.8003, 0.854], [0.9861, 0.9423])
    """
    target = _check_probability("target", target, allow_none=False)
    level = _check_probability("confidence_level", confidence_level, allow_none=False)
    n = np.asarray(n, dtype=float)
    if np.any(~np.isfinite(n)) or np.any(n < 1) or np.any(n != np.round(n)):
        raise InputError(f"`n` must be whole numbers >= 1; got {n.tolist()!r}.")
    return _exact_limits(n, target, level)


def _exact_limits(n: np.ndarray, target: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - level) / 2.0
    # The upper limit of the events' proportion is one minus the lower limit of the non-events'.
    return _lower_limit(n, target, tail), 1.0 - _lower_limit(n, 1.0 - target, tail)


def _lower_limit(n: np.ndarray, target: float, p: float) -> np.ndarray:
    r = stats.binom.ppf(p, n, target)
    f_r = stats.binom.cdf(r, n, target)
    f_below = stats.binom.cdf(r - 1, n, target)
    alpha = (f_r - p) / (f_r - f_below)  # F(r) - F(r-1) = pmf(r) > 0 for 0 < target < 1
    return np.clip((r - alpha) / n, 0.0, 1.0)


def _normal_limits(n: np.ndarray, target: float, level: float, *, phi: float = 1.0,
                   tau2: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    z = stats.norm.ppf(1.0 - (1.0 - level) / 2.0)
    half = z * np.sqrt(phi * target * (1.0 - target) / n + tau2)
    return np.clip(target - half, 0.0, 1.0), np.clip(target + half, 0.0, 1.0)


def _overdispersion(proportion: np.ndarray, n: np.ndarray, target: float,
                    winsorize: float) -> tuple[float, float, float]:
    """(phi, p-value, tau2) from winsorised z-scores against ``target`` (Spiegelhalter 2005, s. 6)."""
    k = proportion.size
    if k < 2 or not 0 < target < 1:
        return math.nan, math.nan, 0.0
    s2 = target * (1.0 - target) / n
    z = (proportion - target) / np.sqrt(s2)
    if winsorize > 0:
        # Winsorise: z-scores beyond the 10th / 90th percentiles are set to those percentiles
        # (numpy's linear quantile, R's type 7, as FunnelPlotR's winsorisation()).
        low, high = np.quantile(z, [winsorize, 1.0 - winsorize])
        z = np.clip(z, low, high)
    phi = float(np.mean(z**2))
    # The target is the clinic's own rate, estimated from these units: k - 1 degrees of freedom.
    pvalue = float(stats.chi2.sf(k * phi, k - 1))
    w = 1.0 / s2
    # Moment estimator: tau2 = (k phi - (k - 1)) / (sum w - sum w^2 / sum w), floored at 0.
    tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return phi, pvalue, float(tau2)


def funnel(
    endpoints: pd.DataFrame,
    *,
    outcome: str = "success",
    unit: str = "physician_id",
    stated: float | None = None,
    confidence_levels: Sequence[float] = (0.95, 0.998),
    overdispersion: Overdispersion = "auto",
    winsorize: float = 0.1,
    lower_is_better: bool = False,
) -> FunnelResult:
    """Funnel plot data: each unit's proportion against its volume, with control limits.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        From :func:`outcomes.derive_endpoints`.
    outcome : str, default "success"
        A yes/no column ("success", "relief_by_horizon", ...); missing values are dropped and
        counted per unit.
    unit : str, default "physician_id"
        The column naming the units compared ("physician_id", "site_id").
    stated : float, optional
        The stated proportion; when given, limits are drawn around it as well as around the
        clinic rate.
    confidence_levels : sequence of float, default (0.95, 0.998)
        Two-sided levels of the funnel lines (about 2 and 3 standard deviations).
    overdispersion : {"auto", "none", "multiplicative", "additive"}, default "auto"
        "none" keeps the exact binomial limits; "multiplicative" inflates the normal-approximation
        limits by ``sqrt(phi)``; "additive" adds the between-unit variance ``tau2``; "auto"
        applies the additive adjustment when the chi-square test of overdispersion gives
        p < 0.05 and there are at least 5 units, else none. An adjustment that would narrow
        the limits (``phi <= 1``, ``tau2 = 0``) is not applied.
    winsorize : float, default 0.1
        Fraction of z-scores winsorised at each end before ``phi`` is estimated, so that a real
        outlier does not hide itself by inflating the limits.
    lower_is_better : bool, default False
        True when the outcome is bad news, as ``major_complication_30d``: ``stated`` is then the
        threshold the rate should stay under, and a unit above the upper limit is marked
        ``side = "worse"`` (below the lower limit ``"better"``). The limits themselves do not
        depend on it: both tails are exact tests.

    Returns
    -------
    FunnelResult

    Notes
    -----
    Unit ``i`` has ``y_i`` events in ``n_i`` patients; the clinic rate is
    ``theta = sum(y) / sum(n)``. Without adjustment the limits are the exact binomial ones of
    :func:`funnel_limits` at each unit's ``n`` and over a grid of ``n`` for drawing; a unit is
    flagged "low" or "high" when its proportion lies strictly outside them.

    Overdispersion (Spiegelhalter 2005, s. 6; Spiegelhalter et al. 2012): with
    ``z_i = (y_i/n_i - theta) / s_i``, ``s_i^2 = theta (1 - theta) / n_i``, winsorised at
    ``winsorize`` from each end, ``phi = mean(z_i^2)``; ``k phi`` is compared with a chi-square on
    ``k - 1`` degrees of freedom (the target is estimated). With weights ``w_i = 1 / s_i^2``,
    ``tau2 = max(0, (k phi - (k - 1)) / (sum w - sum w^2 / sum w))`` (a DerSimonian-Laird
    moment estimator; without winsorisation it equals DerSimonian-Laird's exactly). Adjusted
    limits are ``target +/- z_q sqrt(phi s^2)`` (multiplicative) or
    ``target +/- z_q sqrt(s^2 + tau2)`` (additive), ``s`` evaluated at the target. The same
    ``phi`` or ``tau2``, estimated against the clinic rate, widens the limits around the stated
    figure too: between-unit variation does not depend on the target drawn.

    With few units (a clinic's five or six physicians) the test has little power and the
    winsorised ``phi`` is rough; the figures should be read with that in mind.

    References
    ----------
    .. [1] Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
       2005;24:1185-1202. doi:10.1002/sim.1970
    .. [2] Spiegelhalter DJ, Sherlaw-Johnson C, Bardsley M, Blunt I, Wood C, Grigg O.
       Statistical methods for healthcare regulation: rating, screening and surveillance.
       J R Stat Soc A 2012;175:1-47. doi:10.1111/j.1467-985X.2011.01010.x

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"physician_id": ["A"] * 100 + ["B"] * 100 + ["C"] * 100,
    ...                    "success": [True] * 85 + [False] * 15 + [True] * 88 + [False] * 12
    ...                               + [True] * 60 + [False] * 40})
    >>> result = funnel(ep, stated=0.9, overdispersion="none")
    >>> round(result.clinic_rate, 3)
    0.777
    >>> result.flagged(level=0.998)[["unit", "proportion", "flag"]].values.tolist()
    [['C', 0.6, 'low']]

    Complications, where lower is better: above the upper limit is the worse side.

    >>> ep = pd.DataFrame({"physician_id": ["A"] * 200 + ["B"] * 200 + ["C"] * 200,
    ...                    "major_complication_30d": [True] * 2 + [False] * 198 + [True] * 20 + [False] * 180
    ...                                              + [True] * 4 + [False] * 196})
    >>> worse = funnel(ep, outcome="major_complication_30d", stated=0.03, lower_is_better=True,
    ...                overdispersion="none").worse(level=0.95)
    >>> worse[["unit", "flag", "side"]].values.tolist()
    [['B', 'high', 'worse']]
    """
    endpoints = _check_endpoints(endpoints)
    y = _binary(endpoints, outcome)
    _check_column(endpoints, "unit", unit, "such as 'physician_id' or 'site_id'")
    stated = _check_probability("stated", stated)
    levels = _check_levels(confidence_levels)
    check_choice("overdispersion", overdispersion, OVERDISPERSION_CHOICES)
    if not isinstance(lower_is_better, (bool, np.bool_)):
        raise InputError(f"`lower_is_better` must be True or False; got {lower_is_better!r}.")
    if (
        isinstance(winsorize, bool)
        or not isinstance(winsorize, numbers.Real)
        or not 0 <= winsorize < 0.5
    ):
        raise InputError(f"`winsorize` must be a fraction in [0, 0.5); got {winsorize!r}.")

    units_col = endpoints[unit]
    has_unit = units_col.notna()
    n_missing_unit = int((~has_unit).sum())
    frame = pd.DataFrame({"unit": units_col[has_unit].astype(str), "y": y[has_unit]})
    grouped = frame.groupby("unit", sort=True)["y"]
    counts = pd.DataFrame({
        "n": grouped.count().astype(int),
        "events": grouped.sum().astype(int),
        "missing": grouped.size().astype(int) - grouped.count().astype(int),
    })
    n_missing_outcome = int(counts["missing"].sum())
    counts = counts.reset_index()
    n_total, events_total = int(counts["n"].sum()), int(counts["events"].sum())
    if n_total == 0:
        raise InputError(f"`outcome` must have known values in some rows; got {outcome!r} all missing.")
    counts["proportion"] = counts["events"] / counts["n"].where(counts["n"] > 0)
    clinic = events_total / n_total
    active = counts["n"] > 0
    n_arr = counts.loc[active, "n"].to_numpy(float)
    p_arr = counts.loc[active, "proportion"].to_numpy(float)
    n_units = int(active.sum())

    phi, pvalue, tau2 = _overdispersion(p_arr, n_arr, clinic, float(winsorize))
    if overdispersion == "auto":
        applied = "additive" if (n_units >= MIN_UNITS_FOR_OVERDISPERSION and math.isfinite(pvalue)
                                 and pvalue < OVERDISPERSION_ALPHA and tau2 > 0) else "none"
    elif overdispersion == "multiplicative":
        applied = "multiplicative" if (math.isfinite(phi) and phi > 1) else "none"
    elif overdispersion == "additive":
        applied = "additive" if tau2 > 0 else "none"
    else:
        applied = "none"
    if n_units < 2 and overdispersion != "none":
        warnings.warn(
            f"Overdispersion cannot be estimated from {n_units} unit(s); exact limits are used.",
            StatisticalWarning, stacklevel=2,
        )

    centres = [("clinic", clinic)] + ([("stated", stated)] if stated is not None else [])
    n_max = max(10, math.ceil(round(1.1 * int(counts["n"].max()), 6)))
    grid = np.arange(1, n_max + 1, dtype=float) if n_max <= 3000 else np.unique(
        np.round(np.geomspace(1, n_max, 2000)))
    unit_rows, limit_rows = [], []
    for centre, target in centres:
        degenerate = not 0 < target < 1
        for level in levels:
            def limits_at(nn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                if degenerate:
                    return np.full(nn.shape, target), np.full(nn.shape, target)
                if applied == "additive":
                    return _normal_limits(nn, target, level, tau2=tau2)
                if applied == "multiplicative":
                    return _normal_limits(nn, target, level, phi=phi)
                return _exact_limits(nn, target, level)

            low, high = limits_at(grid)
            limit_rows.append(pd.DataFrame({"n": grid.astype(int), "centre": centre, "target": target,
                                            "level": level, "lower": low, "upper": high}))
            nn = counts["n"].to_numpy(float)
            safe_n = np.where(nn > 0, nn, 1.0)
            ulow, uhigh = limits_at(safe_n)
            prop = counts["proportion"].to_numpy(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                s2 = target * (1 - target) / safe_n
                z = (prop - target) / np.sqrt(s2)
                if applied == "additive":
                    z_adj = (prop - target) / np.sqrt(s2 + tau2)
                elif applied == "multiplicative":
                    z_adj = z / math.sqrt(phi)
                else:
                    z_adj = z
            flag = np.where(prop < ulow, "low", np.where(prop > uhigh, "high", ""))
            flag = np.where(nn > 0, flag, "")
            worse_flag = "high" if lower_is_better else "low"
            side = np.where(flag == worse_flag, "worse", np.where(flag != "", "better", ""))
            unit_rows.append(pd.DataFrame({
                "unit": counts["unit"], "n": counts["n"], "events": counts["events"],
                "missing": counts["missing"], "proportion": prop, "centre": centre, "target": target,
                "level": level, "lower": np.where(nn > 0, ulow, np.nan),
                "upper": np.where(nn > 0, uhigh, np.nan), "z": np.where(nn > 0, z, np.nan),
                "z_adjusted": np.where(nn > 0, z_adj, np.nan), "flag": flag, "side": side,
            }))
    return FunnelResult(
        units=pd.concat(unit_rows, ignore_index=True),
        limits=pd.concat(limit_rows, ignore_index=True),
        outcome=outcome, unit=unit, clinic_rate=float(clinic), stated=stated,
        confidence_levels=levels, n_units=n_units, n=n_total, events=events_total,
        n_missing_outcome=n_missing_outcome, n_missing_unit=n_missing_unit,
        overdispersion=overdispersion, adjustment=applied, overdispersion_phi=phi,
        overdispersion_pvalue=pvalue, tau2=tau2,
        winsorize=float(winsorize),
        method={"none": "exact binomial limits (Spiegelhalter 2005)",
                "additive": "normal limits with additive random effects (Spiegelhalter 2005)",
                "multiplicative": "normal limits inflated by sqrt(phi) (Spiegelhalter 2005)"}[applied],
        lower_is_better=bool(lower_is_better),
    )


def _check_levels(levels: Any) -> tuple[float, ...]:
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or len(levels) == 0:
        raise InputError(f"`confidence_levels` must be a non-empty sequence such as (0.95, 0.998); got {levels!r}.")
    out = []
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
            raise InputError(
                f"`confidence_levels` must hold numbers strictly between 0 and 1; got {levels!r}."
            )
        out.append(float(level))
    return tuple(sorted(set(out)))


# --------------------------------------------------------------------------------------------
# Control chart
# --------------------------------------------------------------------------------------------


def _segments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run id and run length of each element for runs of equal consecutive values."""
    if values.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    starts = np.r_[True, values[1:] != values[:-1]]
    run_id = np.cumsum(starts) - 1
    lengths = np.bincount(run_id)
    return run_id, lengths[run_id]


def _special_cause(p: np.ndarray, centre: float, lcl: np.ndarray, ucl: np.ndarray,
                   run_length: int, trend_length: int) -> dict[str, np.ndarray]:
    """The three rules on a series of proportions (periods with patients only).

    Returns boolean flags per rule and the sign (+1 high / -1 low) each rule gives a point.
    """
    k = p.size
    beyond = (p > ucl) | (p < lcl)
    beyond_sign = np.where(p > ucl, 1, np.where(p < lcl, -1, 0))
    # Run: consecutive points strictly on one side of the centre line; a point on the line
    # breaks the run (as NHSRplotthedots: relative_to_mean must be non-zero and equal).
    side = np.sign(np.round(p - centre, 12)).astype(int)
    _, run_len = _segments(side)
    run = (side != 0) & (run_len >= run_length)
    run_sign = np.where(run, side, 0)
    # Trend: consecutive points each higher (or each lower) than the one before; trend_length
    # points make trend_length - 1 steps. Equal neighbours break a trend (sign 0), as
    # NHSRplotthedots' sign(diff(y)).
    step = np.sign(np.round(np.diff(p), 12)).astype(int) if k > 1 else np.zeros(0, int)
    _, step_len = _segments(step)
    qualifying = (step != 0) & (step_len >= trend_length - 1)
    trend = np.zeros(k, bool)
    trend_sign = np.zeros(k, int)
    if k > 1:
        trend[1:] |= qualifying   # the later point of a qualifying step
        trend[:-1] |= qualifying  # the earlier point
        trend_sign[1:] = np.where(qualifying, step, 0)
        trend_sign[:-1] = np.where(qualifying & (trend_sign[:-1] == 0), step, trend_sign[:-1])
    return {"beyond": beyond, "beyond_sign": beyond_sign, "run": run, "run_sign": run_sign,
            "trend": trend, "trend_sign": trend_sign}


def control_chart(
    endpoints: pd.DataFrame,
    *,
    outcome: str = "success",
    period: Period = "auto",
    stated: float | None = None,
    centre: float | None = None,
    run_length: int = 8,
    trend_length: int = 6,
    higher_is_better: bool = True,
) -> ControlChartResult:
    """A p-chart of the outcome by month (or quarter) with the special-cause rules.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        From :func:`outcomes.derive_endpoints`; needs ``procedure_date``.
    outcome : str, default "success"
        A yes/no column; missing values are dropped and counted.
    period : {"auto", "month", "quarter", "year"}, default "auto"
        "auto" charts months unless the median month (over every calendar month from the first
        procedure to the last, empty ones included) has fewer than 20 patients with a known
        outcome, then quarters; ``period_reason`` says which and why. Records that give only
        the year of each procedure (``procedure_year``, Safe Harbor) are charted by year.
    stated : float, optional
        The stated proportion, carried for the figure (drawn as "stated 90%"); it does not move
        the centre line.
    centre : float, optional
        A fixed centre line (for example the clinic rate when charting one physician); by default
        the overall proportion of the charted records.
    run_length : int, default 8
        Points in a row on one side of the centre line that make a special cause.
    trend_length : int, default 6
        Points in a row each higher (or each lower) than the one before that make a special
        cause.
    higher_is_better : bool, default True
        Whether a high proportion is an improvement (true of success and relief).

    Returns
    -------
    ControlChartResult

    Notes
    -----
    Centre ``p = sum(events) / sum(n)`` over all periods (or ``centre``); each period's limits
    ``p +/- 3 sqrt(p (1 - p) / n_t)``, clipped to [0, 1], so they widen in quiet months.

    The rules, applied to the periods that have patients, in date order:

    1. *beyond limits*: a point strictly above the upper or below the lower limit;
    2. *run*: ``run_length`` or more consecutive points strictly on the same side of the
       centre line; a point exactly on the line breaks the run; every point of the run is
       flagged;
    3. *trend*: ``trend_length`` or more consecutive points each strictly higher (or each
       strictly lower) than the one before (``trend_length - 1`` rises in a row); a repeat of
       the previous value breaks the trend; every point of the trend is flagged.

    Each flagged point is "improving" or "concerning" by the direction of the rule that flags it
    (above / below the limits or centre line, rising / falling trend; the first of the three
    rules, in the order above, decides when two disagree), read with ``higher_is_better``.
    ``variation`` reads the latest period as Making Data Count's variation icon does; ``summary``
    lists every episode.

    Making Data Count, as the NHS-R Community's NHSRplotthedots implements it, uses 7 points for
    both a shift and a trend, and adds "two of three points close to a limit", which is not
    applied here; ``run_length=7, trend_length=7`` reproduces its shift and trend rules. The
    defaults here (8 on one side, 6 rising or falling) are the Western Electric / Nelson counts
    many quality teams use.

    References
    ----------
    .. [1] NHS England and NHS Improvement. Making Data Count: strengthening your decisions.
       2019. NHS-R Community, NHSRplotthedots (R package), ptd_calculate_point_type.R.
    .. [2] Montgomery DC. Introduction to Statistical Quality Control, 7th ed. Wiley, 2013,
       s. 5.3.6 (sensitizing rules) and s. 7.2 (p-chart with variable sample size).

    Examples
    --------
    >>> import pandas as pd
    >>> dates = pd.date_range("2022-01-01", periods=12, freq="MS").repeat(30)
    >>> success = ([True] * 24 + [False] * 6) * 12
    >>> chart = control_chart(pd.DataFrame({"procedure_date": dates, "success": success}))
    >>> chart.period, round(chart.centre, 2), chart.variation
    ('month', 0.8, 'common cause')
    """
    endpoints = _check_endpoints(endpoints)
    y = _binary(endpoints, outcome)
    check_choice("period", period, PERIOD_CHOICES)
    stated = _check_probability("stated", stated)
    centre_arg = _check_probability("centre", centre)
    run_length = _check_positive_int("run_length", run_length, 2)
    trend_length = _check_positive_int("trend_length", trend_length, 3)
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise InputError(f"`higher_is_better` must be True or False; got {higher_is_better!r}.")
    dates, resolution = _dates_or_years(endpoints)
    if resolution == "year" and period not in ("auto", "year"):
        raise InputError(f"`period` must be 'year' or 'auto' for records that give only the year of each "
                         f"procedure; got {period!r}.")

    has_date = dates.notna()
    n_missing_date = int((~has_date).sum())
    known = has_date & y.notna()
    n_missing_outcome = int((has_date & y.isna()).sum())
    if not known.any():
        raise InputError(f"`outcome` must have known values with dates in some rows; got {outcome!r} with none.")
    d = dates[known]
    v = y[known].astype(bool).to_numpy()

    months = d.dt.to_period("M")
    month_range = pd.period_range(months.min(), months.max(), freq="M")
    per_month = months.value_counts().reindex(month_range, fill_value=0)
    median_monthly = float(per_month.median())
    if resolution == "year":
        used = "year"
        period_reason = "yearly: the records give only the year of each procedure (no finer date)"
    elif period == "auto":
        used = "month" if median_monthly >= MIN_MEDIAN_MONTHLY else "quarter"
        period_reason = (
            f"{'monthly' if used == 'month' else 'quarterly'}: the median month has "
            f"{median_monthly:g} procedures with a known outcome "
            f"({'at least' if used == 'month' else 'fewer than'} {MIN_MEDIAN_MONTHLY})"
        )
    else:
        used = period
        period_reason = f"{ {'month': 'monthly', 'quarter': 'quarterly', 'year': 'yearly'}[used]}, as requested"

    freq = {"month": "M", "quarter": "Q", "year": "Y"}[used]
    periods = d.dt.to_period(freq)
    full = pd.period_range(periods.min(), periods.max(), freq=freq)
    counts = pd.DataFrame({"period": periods.array, "event": v}).groupby("period")["event"].agg(["size", "sum"])
    counts = counts.reindex(full, fill_value=0)
    n = counts["size"].to_numpy(int)
    events = counts["sum"].to_numpy(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = np.where(n > 0, events / np.where(n > 0, n, 1), np.nan)
    p_bar = float(events.sum() / n.sum()) if centre_arg is None else centre_arg
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(p_bar * (1 - p_bar) / np.where(n > 0, n, np.nan))
    lcl = np.clip(p_bar - 3 * sigma, 0, 1)
    ucl = np.clip(p_bar + 3 * sigma, 0, 1)

    has = n > 0
    if has.sum() < MIN_PERIODS:
        warnings.warn(
            f"Only {int(has.sum())} {used}s have procedures; a control chart needs about {MIN_PERIODS} "
            "before its centre line and limits can be trusted.",
            StatisticalWarning, stacklevel=2,
        )
    rules = _special_cause(prop[has], p_bar, lcl[has], ucl[has], run_length, trend_length)
    size = len(full)

    def expand(values: np.ndarray, fill: Any) -> np.ndarray:
        out = np.full(size, fill, dtype=values.dtype)
        out[has] = values
        return out

    beyond, run, trend = expand(rules["beyond"], False), expand(rules["run"], False), expand(rules["trend"], False)
    sign = np.where(beyond, expand(rules["beyond_sign"], 0),
                    np.where(run, expand(rules["run_sign"], 0), expand(rules["trend_sign"], 0)))
    good = 1 if higher_is_better else -1
    direction = np.where(sign == good, "improving", np.where(sign == -good, "concerning", ""))
    signal = beyond | run | trend
    labels = np.array(["beyond limits", f"run of {run_length}", f"trend of {trend_length}"])
    flags = np.column_stack([beyond, run, trend])
    rule = np.array([" + ".join(labels[row]) for row in flags]) if size else np.array([], dtype=str)

    label = [str(p) if used == "month" else str(p.year) if used == "year" else f"{p.year}Q{p.quarter}" for p in full]
    table = pd.DataFrame({
        "period": label, "period_start": full.start_time, "n": n, "events": events,
        "proportion": prop, "centre": p_bar, "lcl": np.where(has, lcl, np.nan),
        "ucl": np.where(has, ucl, np.nan), "beyond_limits": beyond, "run": run, "trend": trend,
        "signal": signal, "rule": rule, "direction": direction,
    })
    last = table[table["n"] > 0].iloc[-1]
    variation = f"special cause — {last['direction']}" if last["signal"] else "common cause"
    rules_text = (
        f"p-chart, centre {'fixed at' if centre_arg is not None else 'the overall proportion'} "
        f"{p_bar:.3f}, limits centre +/- 3 sigma for each {used}'s n. Special cause: (1) a point "
        f"beyond a limit; (2) {run_length} or more points in a row strictly on one side of the "
        f"centre line (a point on the line breaks the run); (3) {trend_length} or more points in "
        f"a row each strictly higher, or each strictly lower, than the one before (a repeated value "
        f"breaks the trend). Every point of a run or trend is flagged. "
        f"{'Higher' if higher_is_better else 'Lower'} is better."
    )
    return ControlChartResult(
        table=table, period=used, period_reason=period_reason, centre=p_bar, variation=variation,
        summary=_episodes(table, variation), rules=rules_text, outcome=outcome, stated=stated,
        n=int(n.sum()), events=int(events.sum()), n_missing_outcome=n_missing_outcome,
        n_missing_date=n_missing_date, run_length=run_length, trend_length=trend_length,
        higher_is_better=bool(higher_is_better),
    )


def _episodes(table: pd.DataFrame, variation: str) -> str:
    """Consecutive flagged periods with the same rule and direction, in words."""
    flagged = table[table["signal"]]
    if flagged.empty:
        return "Common cause variation only: no point beyond the limits, no run, no trend."
    key = flagged["rule"] + "|" + flagged["direction"]
    position = flagged.index.to_series()
    new = (key != key.shift()) | (position.diff() != 1)
    parts = []
    for _, episode in flagged.groupby(new.cumsum()):
        first, last = episode["period"].iloc[0], episode["period"].iloc[-1]
        when = first if first == last else f"{first} to {last}"
        parts.append(f"{when}: {episode['direction'].iloc[0]} ({episode['rule'].iloc[0]})")
    return f"Latest period: {variation}. Special-cause signals — " + "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# CUSUM
# --------------------------------------------------------------------------------------------


def _scores(failure: np.ndarray, expected: np.ndarray, odds_ratio: float) -> np.ndarray:
    """Log-likelihood-ratio score of each case (Steiner et al. 2000, eq. 2.2)."""
    log_norm = np.log1p((odds_ratio - 1.0) * expected)  # log(1 - p + R p)
    return np.where(failure, math.log(odds_ratio), 0.0) - log_norm


def cusum_path(
    failures: Any,
    expected: Any,
    *,
    odds_ratio: float = 2.0,
    limit: float | None = None,
) -> np.ndarray:
    """The Bernoulli CUSUM of failures, for one sequence or many (rows) at once.

    Parameters
    ----------
    failures : array of bool, shape (n,) or (sequences, n)
        True for a failure, in time order.
    expected : float or array broadcastable to ``failures``
        In-control failure probability of each case.
    odds_ratio : float, default 2.0
        Failure odds multiplier under the alternative (below 1 watches for improvement).
    limit : float, optional
        Control limit h: the CUSUM restarts at 0 after each value ``>= h``. None: no restart.

    Returns
    -------
    numpy.ndarray
        The CUSUM after each case, the shape of ``failures``.

    Notes
    -----
    ``S_t = max(0, S_{t-1} + W_t)``, ``S_0 = 0``, with
    ``W_t = y_t log(R) - log(1 - p_t + R p_t)`` (Steiner et al. 2000). Without restarts the
    recursion is solved in closed form, ``S_t = C_t - min(0, min_{s<=t} C_s)`` with
    ``C_t = W_1 + ... + W_t`` (Lindley's recursion), so a whole array is computed at once; with
    a limit, each restart begins the closed form again (a loop over signals, not cases).

    References
    ----------
    .. [1] Steiner SH, Cook RJ, Farewell VT, Treasure T. Monitoring surgical performance using
       risk-adjusted cumulative sum charts. Biostatistics 2000;1:441-452.
       doi:10.1093/biostatistics/1.4.441

    Examples
    --------
    >>> cusum_path([False, True, False, True, True], 0.05).round(2).tolist()
    [0.0, 0.64, 0.6, 1.24, 1.88]
    """
    y = np.asarray(failures, dtype=bool)
    p = np.broadcast_to(np.asarray(expected, dtype=float), y.shape)
    if np.any(~np.isfinite(p)) or np.any((p <= 0) | (p >= 1)):
        raise InputError(f"`expected` must be probabilities strictly between 0 and 1; got {expected!r}.")
    odds_ratio = _check_odds_ratio(odds_ratio)
    w = _scores(y, p, odds_ratio)
    if limit is None:
        return _lindley(w)
    if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not limit > 0:
        raise InputError(f"`limit` must be a positive number; got {limit!r}.")
    if w.ndim == 1:
        return _path_with_restarts(w, float(limit))[0]
    return np.vstack([_path_with_restarts(row, float(limit))[0] for row in w])


def _lindley(w: np.ndarray, start: np.ndarray | float = 0.0) -> np.ndarray:
    """``S_t = max(0, S_{t-1} + w_t)`` from ``S_0 = start`` along the last axis, in closed form."""
    c = np.cumsum(w, axis=-1)
    floor = np.minimum(np.minimum.accumulate(c, axis=-1), -np.asarray(start)[..., None] if np.ndim(start) else -start)
    return c - floor


def _path_with_restarts(w: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    s = np.empty(w.size)
    signal = np.zeros(w.size, bool)
    start, block = 0, 1024
    while start < w.size:
        # the path from this restart over a window that doubles until it holds the next signal:
        # linear in the cases (the whole remainder each time was quadratic: 57 s at a million);
        # a prefix's cumulative sum is the same sum, so the path is unchanged
        end = min(start + block, w.size)
        path = _lindley(w[start:end])
        hit = np.flatnonzero(path >= limit)
        if hit.size == 0:
            if end == w.size:
                s[start:] = path
                break
            block *= 2
            continue
        k = int(hit[0])
        s[start:start + k + 1] = path[:k + 1]
        signal[start + k] = True
        start += k + 1
        block = max(1024, 2 * (k + 1))
    return s, signal


def _check_odds_ratio(odds_ratio: Any) -> float:
    if (
        isinstance(odds_ratio, bool)
        or not isinstance(odds_ratio, numbers.Real)
        or not math.isfinite(odds_ratio)
        or odds_ratio <= 0
        or odds_ratio == 1
    ):
        raise InputError(f"`odds_ratio` must be a positive number other than 1; got {odds_ratio!r}.")
    return float(odds_ratio)


def _simulate_limit(risks: np.ndarray, odds_ratio: float, arl0: float, n_sim: int,
                    rng: np.random.Generator) -> tuple[float, float, float]:
    """Smallest h whose simulated in-control ARL (from S_0 = 0) is at least ``arl0``.

    ``n_sim`` in-control sequences are simulated side by side in blocks of cases (failures drawn
    with the in-control probabilities, resampled from ``risks`` when they vary); only each
    sequence's record highs (the times its running maximum rises) are kept, so the run length at
    any h is the time of the first record >= h. A sequence stops once its running maximum
    passes an upper bound on h; the simulation stops when every sequence has passed a level whose
    simulated ARL already reaches ``arl0``. Returns (h, ARL at h, its standard error).
    """
    risks = np.asarray(risks, dtype=float)
    constant = np.ptp(risks) == 0
    m = n_sim
    state = np.zeros(m)            # CUSUM value of each sequence
    running_max = np.zeros(m)
    t_now = np.zeros(m, dtype=np.int64)  # cases simulated per sequence
    active = np.ones(m, bool)
    rec_lane: list[np.ndarray] = []
    rec_time: list[np.ndarray] = []
    rec_value: list[np.ndarray] = []
    h_upper = _H_MAX
    max_cases = int(200 * arl0) + 40_000

    def run_lengths(h: float, lanes: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
        """First record time >= h per sequence; t_now (a lower bound) where none yet."""
        hit = values >= h
        first = np.full(m, np.iinfo(np.int64).max)
        np.minimum.at(first, lanes[hit], times[hit])
        return np.where(first == np.iinfo(np.int64).max, t_now, first)

    while True:
        idx = np.flatnonzero(active)
        k = idx.size
        # cases per block: about arl0, within 200..4000 and at most ~2 million draws at once
        block = int(min(max(arl0, 200), 4000, max(200, 2_000_000 // max(k, 1))))
        if k:
            p = risks[0] if constant else risks[rng.integers(0, risks.size, size=(k, block))]
            fail = rng.random((k, block)) < p
            w = _scores(fail, p, odds_ratio)
            s = _lindley(w, state[idx])
            rmax = np.maximum(np.maximum.accumulate(s, axis=1), running_max[idx][:, None])
            prev = np.concatenate([running_max[idx][:, None], rmax[:, :-1]], axis=1)
            rows, cols = np.nonzero(rmax > prev)
            rec_lane.append(idx[rows])
            rec_time.append(t_now[idx][rows] + cols + 1)
            rec_value.append(rmax[rows, cols])
            state[idx] = s[:, -1]
            running_max[idx] = rmax[:, -1]
            t_now[idx] += block
        lanes, times, values = (np.concatenate(a) if a else np.zeros(0) for a in (rec_lane, rec_time, rec_value))
        lanes, times = lanes.astype(np.int64), times.astype(np.int64)
        rec_lane, rec_time, rec_value = [lanes], [times], [values]
        # Every sequence has passed h_low: the simulated ARL is known exactly for h <= h_low.
        h_low = float(running_max.min())
        if h_low > 0 and run_lengths(h_low, lanes, times, values).mean() >= arl0:
            break
        # Upper bound: the lowest h whose ARL lower bound already reaches arl0; sequences past it
        # have told all they can.
        lo, hi = h_low, h_upper
        if run_lengths(hi, lanes, times, values).mean() >= arl0:
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                if run_lengths(mid, lanes, times, values).mean() >= arl0:
                    hi = mid
                else:
                    lo = mid
            h_upper = hi
        active = running_max < h_upper
        if t_now.max() > max_cases:  # pragma: no cover - guards against a runaway search
            warnings.warn("The control-limit simulation stopped early; the limit is approximate.",
                          StatisticalWarning, stacklevel=3)
            break
    # The simulated ARL is a step function of h that only changes at record values: bisect for
    # the step where it reaches arl0, then take the middle of that step, so that no simulated (or,
    # for lattice-valued scores, attainable) CUSUM value sits on the limit itself.
    lo, hi = 0.0, max(h_low, 1e-9)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if run_lengths(mid, lanes, times, values).mean() >= arl0:
            hi = mid
        else:
            lo = mid
    step_low = values[values < hi].max(initial=0.0)
    above = values[values > step_low + 1e-12]
    step_high = above.min() if above.size else step_low + 1e-6
    h = 0.5 * (step_low + step_high)
    rl = run_lengths(h, lanes, times, values)
    return float(h), float(rl.mean()), float(rl.std(ddof=1) / math.sqrt(m))


def _design(frame: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Design matrix (missing values filled: median / most frequent) and the complete-case mask."""
    columns, complete = [], np.ones(len(frame), bool)
    for name in covariates:
        col = frame[name]
        complete &= col.notna().to_numpy()
        if pd.api.types.is_bool_dtype(col) or (pd.api.types.is_numeric_dtype(col)
                                               and not isinstance(col.dtype, pd.CategoricalDtype)):
            values = col.astype("Float64").astype(float)
            columns.append(values.fillna(values.median()).rename(name))
        else:
            values = col.astype("string")
            mode = values.mode(dropna=True)
            values = values.fillna(mode.iloc[0] if len(mode) else "missing")
            dummies = pd.get_dummies(values, prefix=name, prefix_sep="=", drop_first=True, dtype=float)
            columns.append(dummies)
    x = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=frame.index)
    x = x.loc[:, x.nunique() > 1]
    return x, complete


def _risk_model(frame: pd.DataFrame, failure: np.ndarray, covariates: Sequence[str],
                target_failure: float | None) -> tuple[np.ndarray, pd.DataFrame, tuple[str, ...]]:
    """Per-patient expected failure from a logistic model (statsmodels) of failure on covariates.

    With ``target_failure`` the intercept is shifted so the mean expected failure equals it: the
    model supplies the case mix, the stated figure the level.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    x, complete = _design(frame, covariates)
    design = sm.add_constant(x, has_constant="add").to_numpy(float)
    n_failures = int(failure[complete].sum())
    if design.shape[1] > 1 and n_failures < 10 * (design.shape[1] - 1):
        warnings.warn(
            f"The risk model has {n_failures} failures for {design.shape[1] - 1} terms (fewer than 10 "
            "per term); its expected failures are rough.", StatisticalWarning, stacklevel=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.Logit(failure[complete].astype(float), design[complete]).fit(disp=0, method="newton", maxiter=100)
    trouble = [w for w in caught if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning, RuntimeWarning))]
    if trouble or not fit.mle_retvals.get("converged", True):
        warnings.warn("The risk model did not converge cleanly (separation?); expected failures may be extreme.",
                      StatisticalWarning, stacklevel=3)
    eta = design @ fit.params
    if target_failure is not None:
        shift = optimize.brentq(lambda d: special.expit(eta + d).mean() - target_failure, -30, 30)
        eta = eta + shift
    expected = np.clip(special.expit(eta), 1e-6, 1 - 1e-6)
    terms = ["intercept"] + list(x.columns)
    params = np.asarray(fit.params, float)
    model = pd.DataFrame({"term": terms, "log_odds": params, "odds_ratio": np.exp(params)})
    return expected, model, tuple(covariates)


def _detection(unit: str, limit: float, p0: float, odds_ratio: float, windows: Sequence[int],
               per_month: float) -> pd.DataFrame:
    w_fail = math.log(odds_ratio) - math.log1p((odds_ratio - 1) * p0)
    w_ok = -math.log1p((odds_ratio - 1) * p0)
    rows = []
    for window in windows:
        in_a_row = math.ceil(limit / w_fail - 1e-12) if w_fail > 0 else None
        # k w_fail + (window - k) w_ok >= h  <=>  k >= (h - window w_ok) / (w_fail - w_ok)
        any_order = math.ceil((limit - window * w_ok) / (w_fail - w_ok) - 1e-12) if w_fail > w_ok else None
        any_order = max(any_order, 0) if any_order is not None else None
        possible = any_order is not None and any_order <= window
        rows.append({
            "unit": unit, "window": int(window),
            "failures_in_a_row": in_a_row if (in_a_row is not None and in_a_row <= window) else pd.NA,
            "failures_any_order": any_order if possible else pd.NA,
            "share_any_order": any_order / window if possible else math.nan,
            "expected_failures": window * p0,
            "p_in_control": float(stats.binom.sf(any_order - 1, window, p0)) if possible else math.nan,
            "months": window / per_month if per_month > 0 else math.nan,
        })
    out = pd.DataFrame(rows)
    for name in ("failures_in_a_row", "failures_any_order"):
        out[name] = out[name].astype("Int64")
    return out


def cusum(
    endpoints: pd.DataFrame,
    *,
    outcome: str = "success",
    stated: float | None = 0.90,
    odds_ratio: float = 2.0,
    arl0: float = 1000,
    risk_adjust: bool = False,
    covariates: Sequence[str] = RISK_COVARIATES,
    by: str | None = None,
    limit: float | None = None,
    n_sim: int = 1000,
    seed: int | None = 0,
    windows: Sequence[int] = (10, 20, 50),
    lower_is_better: bool = False,
) -> CusumResult:
    """Bernoulli CUSUM of failures in procedure-date order, for the clinic or per unit.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        From :func:`outcomes.derive_endpoints`; needs ``procedure_date`` (ties are ordered by
        ``procedure_id``).
    outcome : str, default "success"
        A yes/no column; a failure is ``False``. Missing values are dropped and counted.
    stated : float or None, default 0.90
        Stated success proportion: in control, failures occur with probability
        ``1 - stated``. None monitors against the clinic's own failure rate. With
        ``lower_is_better`` the stated rate of the event itself (a complication threshold such
        as 0.03): in control, failures occur with probability ``stated``.
    odds_ratio : float, default 2.0
        The chart is tuned to detect failure odds multiplied by this (Steiner et al. 2000);
        below 1 it watches for improvement.
    arl0 : float, default 1000
        Target in-control average run length, in cases: a false alarm about once per ``arl0``
        cases while performance matches ``stated``.
    risk_adjust : bool, default False
        Give each patient an expected failure from a logistic model (statsmodels) of failure on
        ``covariates``, fitted to all the records (never per unit), its intercept shifted so the
        mean expected failure is ``1 - stated``.
    covariates : sequence of str, default :data:`RISK_COVARIATES`
        The default keeps the ones present with some values; a column named explicitly must
        exist.
    by : str, optional
        A unit column ("physician_id", "site_id"): one CUSUM per unit, each in its own date
        order.
    limit : float, optional
        Control limit h to use instead of simulating one.
    n_sim : int, default 1000
        In-control sequences simulated to choose h.
    seed : int or None, default 0
        Seed of the simulation; the same seed gives the same limit.
    windows : sequence of int, default (10, 20, 50)
        Windows of consecutive cases for the detection-floor table.
    lower_is_better : bool, default False
        True when ``outcome`` is bad news (``major_complication_30d``): a failure is then a
        True value, and ``stated`` its stated rate.

    Returns
    -------
    CusumResult

    Notes
    -----
    With in-control failure probability ``p_t`` (``1 - stated``, or the risk model's) and
    ``R = odds_ratio``, case ``t`` scores the log-likelihood ratio of failure odds ``R`` times
    the in-control odds against in control, ``W_t = y_t log R - log(1 - p_t + R p_t)``, and
    ``S_t = max(0, S_{t-1} + W_t)`` from ``S_0 = 0`` (see :func:`cusum_path`). A signal is
    ``S_t >= h``; the chart then restarts at 0.

    ``h`` is the smallest limit whose in-control ARL, simulated over ``n_sim`` sequences
    (patients' in-control risks resampled from the unit's own case mix when risk-adjusted), is
    at least ``arl0``; ``limits`` reports the simulated ARL and its standard error. A plain
    CUSUM's limit is shared by every unit; a risk-adjusted one is chosen per unit.

    The detection floor: from a chart at 0, ``failures_in_a_row`` consecutive failures signal;
    ``failures_any_order`` failures in a window of ``window`` consecutive cases signal whatever
    their order, because ``S`` at the window's end is at least the window's total score
    ``k log R - window log(1 - p + R p)``; with a risk-adjusted chart ``p`` is the unit's mean
    expected failure, so the table is approximate.

    References
    ----------
    .. [1] Steiner SH, Cook RJ, Farewell VT, Treasure T. Monitoring surgical performance using
       risk-adjusted cumulative sum charts. Biostatistics 2000;1:441-452.
       doi:10.1093/biostatistics/1.4.441
    .. [2] Reynolds MR, Stoumbos ZG. A CUSUM chart for monitoring a proportion when inspecting
       continuously. J Qual Technol 1999;31:87-108.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"procedure_id": [f"P{i:03d}" for i in range(60)],
    ...                    "procedure_date": pd.date_range("2022-01-03", periods=60, freq="D"),
    ...                    "success": [True, True, False] * 20})
    >>> result = cusum(ep, stated=0.9, arl0=200, n_sim=300)
    >>> round(result.limit, 2), len(result.signals), str(result.first_signal_date.date())
    (1.82, 4, '2022-01-17')

    The same chart read as complications (a complication is the failure; stated 10%):

    >>> ep["complication"] = ~ep["success"]
    >>> same = cusum(ep, outcome="complication", stated=0.1, lower_is_better=True, arl0=200, n_sim=300)
    >>> bool(np.allclose(same.table["cusum"], result.table["cusum"])), round(same.limit, 2)
    (True, 1.82)
    """
    endpoints = _check_endpoints(endpoints)
    y = _binary(endpoints, outcome)
    stated = _check_probability("stated", stated)
    odds_ratio = _check_odds_ratio(odds_ratio)
    if not isinstance(lower_is_better, (bool, np.bool_)):
        raise InputError(f"`lower_is_better` must be True or False; got {lower_is_better!r}.")
    if (
        isinstance(arl0, bool)
        or not isinstance(arl0, numbers.Real)
        or not math.isfinite(arl0)
        or not 1 <= arl0 <= _MAX_ARL0
    ):
        raise InputError(f"`arl0` must be a number of cases between 1 and {_MAX_ARL0:g}; got {arl0!r}.")
    if not isinstance(risk_adjust, (bool, np.bool_)):
        raise InputError(f"`risk_adjust` must be True or False; got {risk_adjust!r}.")
    if by is not None:
        _check_column(endpoints, "by", by, "such as 'physician_id' or 'site_id'")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Real)
                              or not math.isfinite(limit) or limit <= 0):
        raise InputError(f"`limit` must be a positive number or None; got {limit!r}.")
    n_sim = _check_positive_int("n_sim", n_sim, 100)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise InputError(f"`seed` must be a whole number or None; got {seed!r}.")
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence) or not windows:
        raise InputError(f"`windows` must be a non-empty sequence of case counts such as (10, 20, 50); got {windows!r}.")
    windows = tuple(_check_positive_int("windows", w) for w in windows)
    if isinstance(covariates, (str, bytes)) or not isinstance(covariates, Sequence):
        raise InputError(f"`covariates` must be a sequence of column names; got {covariates!r}.")
    if covariates is not RISK_COVARIATES:
        for name in covariates:
            _check_column(endpoints, "covariates", name, "a patient factor for the risk model")
    dates, resolution = _dates_or_years(endpoints)

    # Safe Harbor records: cases in year order, then in the records' order; with no year either,
    # in the records' order (sequence) alone.
    keep = y.notna() & (dates.notna() if resolution != "sequence" else True)
    n_missing_outcome = int(y.isna().sum())
    n_missing_date = int((y.notna() & dates.isna()).sum()) if resolution != "sequence" else 0
    units = endpoints[by].astype("string") if by is not None else pd.Series("clinic", index=endpoints.index, dtype="string")
    n_missing_unit = int((keep & units.isna()).sum())
    keep &= units.notna()
    if not keep.any():
        raise InputError(f"`outcome` must have known values with dates in some rows; got {outcome!r} with none.")
    ids = (endpoints["procedure_id"].astype("string") if "procedure_id" in endpoints.columns
           else pd.Series(endpoints.index.astype(str), index=endpoints.index, dtype="string"))
    # a failure: a False of a good outcome (success), a True of a bad one (a complication)
    failed = y.fillna(False) if lower_is_better else ~y.fillna(True)
    frame = pd.DataFrame({"unit": units, "procedure_id": ids, "date": dates, "failure": failed})[keep]
    failure = frame["failure"].to_numpy(bool)
    clinic_failure = float(failure.mean())
    stated_failure = None if stated is None else (stated if lower_is_better else 1.0 - stated)
    p0 = stated_failure if stated_failure is not None else clinic_failure
    if not 0 < p0 < 1:
        raise InputError(f"`stated` must leave a failure probability strictly between 0 and 1; got {stated!r} "
                         f"(clinic failure rate {clinic_failure:.3f}).")

    used: tuple[str, ...] = ()
    risk_model = None
    if risk_adjust:
        present = [c for c in covariates if c in endpoints.columns and endpoints.loc[keep, c].notna().any()]
        if not present:
            raise InputError(f"`covariates` must name columns present in `endpoints` for risk adjustment; got {tuple(covariates)!r}.")
        expected, risk_model, used = _risk_model(endpoints.loc[keep, present].reset_index(drop=True), failure,
                                                 present, stated_failure)
        frame["expected"] = expected
    else:
        frame["expected"] = p0

    frame = frame.sort_values(["unit", "date", "procedure_id"], kind="stable").reset_index(drop=True)
    frame["order"] = frame.groupby("unit", sort=False).cumcount() + 1
    frame["score"] = _scores(frame["failure"].to_numpy(bool), frame["expected"].to_numpy(float), odds_ratio)
    frame["observed_minus_expected"] = (frame["failure"].astype(float) - frame["expected"]).groupby(frame["unit"]).cumsum()

    seeds = np.random.SeedSequence(seed).spawn(frame["unit"].nunique())
    shared: tuple[float, float, float] | None = None
    if limit is not None:
        shared = (float(limit), math.nan, math.nan)
    elif not risk_adjust:
        shared = _simulate_limit(np.array([p0]), odds_ratio, float(arl0), n_sim, np.random.default_rng(seeds[0]))

    paths, flags, limit_rows, detection_rows = [], [], [], []
    if resolution == "year":
        span_months = 12.0 * (frame["date"].max().year - frame["date"].min().year + 1)
    elif resolution == "sequence":
        span_months = math.nan  # no calendar: detection times in months are unknown
    else:
        span_months = max((frame["date"].max() - frame["date"].min()).days / 30.4375, 1.0)
    for i, (name, group) in enumerate(frame.groupby("unit", sort=True)):
        risks = group["expected"].to_numpy(float)
        h, arl_sim, arl_se = shared if shared is not None else _simulate_limit(
            risks, odds_ratio, float(arl0), n_sim, np.random.default_rng(seeds[i]))
        s, sig = _path_with_restarts(group["score"].to_numpy(float), h)
        paths.append(pd.Series(s, index=group.index))
        flags.append(pd.Series(sig, index=group.index))
        first = group["date"].to_numpy()[sig][0] if sig.any() else pd.NaT
        limit_rows.append({"unit": name, "n": len(group), "limit": h, "arl0_simulated": arl_sim,
                           "arl0_se": arl_se, "n_signals": int(sig.sum()), "first_signal_date": first})
        per_month = len(group) / span_months
        detection_rows.append(_detection(name, h, float(risks.mean()), odds_ratio, windows, per_month))
    frame["cusum"] = pd.concat(paths).sort_index()
    frame["signal"] = pd.concat(flags).sort_index()
    limits = pd.DataFrame(limit_rows)
    frame["limit"] = frame["unit"].map(limits.set_index("unit")["limit"]).astype(float)
    table = frame[["unit", "order", "procedure_id", "date", "failure", "expected", "score", "cusum",
                   "limit", "signal", "observed_minus_expected"]]
    signals = table.loc[table["signal"], ["unit", "order", "procedure_id", "date", "cusum"]].reset_index(drop=True)
    shared_limit = float(limits["limit"].iloc[0]) if limits["limit"].nunique() == 1 else None
    return CusumResult(
        table=table, limits=limits, signals=signals,
        detection=pd.concat(detection_rows, ignore_index=True), limit=shared_limit, outcome=outcome,
        stated=stated, in_control_failure=float(frame["expected"].mean()), odds_ratio=odds_ratio,
        arl0=float(arl0), risk_adjusted=bool(risk_adjust), covariates=used, risk_model=risk_model,
        by=by, n=len(frame), n_missing_outcome=n_missing_outcome, n_missing_date=n_missing_date,
        n_missing_unit=n_missing_unit, n_sim=n_sim, seed=None if seed is None else int(seed),
        method=("risk-adjusted " if risk_adjust else "") + "Bernoulli CUSUM (Steiner et al. 2000)",
        time_resolution=resolution, lower_is_better=bool(lower_is_better),
    )


# --------------------------------------------------------------------------------------------
# Observed / expected, adjusted for case mix
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ObservedExpectedResult:
    """Observed against expected outcomes for one unit (a physician), adjusted for case mix.

    ``expected`` is the sum over the unit's patients of their predicted probability from a
    logistic model of the outcome on ``covariates`` fitted on the whole clinic; ``ratio`` is
    observed / expected with an exact Poisson interval on the observed count (Garwood 1936;
    Byar's approximation gives nearly the same).
    """

    unit: str
    n: int
    observed: int
    expected: float
    ratio: float
    ci: Any
    confidence_level: float
    covariates: tuple[str, ...]
    model: pd.DataFrame
    method: str = "logistic case-mix model fitted on the clinic; exact Poisson interval for O/E"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"unit": self.unit, "n": self.n, "observed": self.observed, "expected": self.expected,
                              "ratio": self.ratio, "ci_low": self.ci.low, "ci_high": self.ci.high,
                              "method": self.method}])

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)


def observed_expected(endpoints: pd.DataFrame, unit_id: Any, *, outcome: str = "success", unit: str = "physician_id",
                      covariates: Sequence[str] | None = None, confidence_level: float = 0.95) -> ObservedExpectedResult:
    """Observed and case-mix-expected outcomes for one unit, with the O/E ratio and its interval.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        :func:`outcomes.derive_endpoints` of the whole clinic.
    unit_id : str
        The unit (physician) to compare.
    outcome : str, default "success"
        A true/false column; rows where it is missing are left out.
    unit : str, default "physician_id"
    covariates : sequence of str, optional
        Case-mix fields; default the :data:`RISK_COVARIATES` the records have.
    confidence_level : float, default 0.95

    Returns
    -------
    ObservedExpectedResult

    Notes
    -----
    A logistic regression (statsmodels) of the outcome on the case-mix fields is fitted on every
    patient of the clinic (missing covariate values filled with the median or the most frequent
    value); ``E`` is the sum of the unit's predicted probabilities and ``O`` its count of
    outcomes. The interval is exact for a Poisson count: ``chi2(a/2, 2 O) / 2 / E`` to
    ``chi2(1 - a/2, 2 O + 2) / 2 / E``.

    References
    ----------
    Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
    2005;24:1185-1202. doi:10.1002/sim.1970.
    """
    import statsmodels.api as sm
    from scipy import stats as st

    from ._results import ConfidenceInterval

    frame = _check_endpoints(endpoints)
    _check_column(frame, "unit", unit, "a unit column")
    level = _check_probability("confidence_level", confidence_level, allow_none=False)
    y = _binary(frame, outcome)
    keep = y.notna().to_numpy()
    frame, y = frame[keep], y[keep].astype(float).to_numpy()
    names = tuple(c for c in (RISK_COVARIATES if covariates is None else covariates)
                  if c in frame and frame[c].notna().any())
    mine = (frame[unit].astype("string") == str(unit_id)).fillna(False).to_numpy()
    if not mine.any():
        raise InputError(f"`unit_id` must name a {unit} with a known {outcome}; got {unit_id!r}.")
    x, _ = _design(frame, names)
    design = sm.add_constant(x, has_constant="add").to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(y, design).fit(disp=0, method="newton", maxiter=100)
    predicted = special.expit(design @ fit.params)
    observed, expected = int(y[mine].sum()), float(predicted[mine].sum())
    alpha = 1 - level
    low = st.chi2.ppf(alpha / 2, 2 * observed) / 2 / expected if observed > 0 else 0.0
    high = st.chi2.ppf(1 - alpha / 2, 2 * observed + 2) / 2 / expected
    terms = ["intercept"] + list(x.columns)
    model = pd.DataFrame({"term": terms, "log_odds": np.asarray(fit.params, float),
                          "odds_ratio": np.exp(np.asarray(fit.params, float))})
    return ObservedExpectedResult(unit=str(unit_id), n=int(mine.sum()), observed=observed, expected=expected,
                                  ratio=observed / expected, ci=ConfidenceInterval(float(low), float(high)),
                                  confidence_level=level, covariates=names, model=model)
