"""Adjusted effects: Cox hazard ratios and logistic (or Firth) odds ratios.

Two public functions, each returning a frozen result:

- :func:`hazard_ratio` -- Cox proportional hazards hazard ratio of one group against a reference
  group (kyphoplasty against vertebroplasty), optionally adjusted for covariates; a Newton
  solver of the partial likelihood vectorised with cumulative sums (checked against
  :class:`statsmodels.duration.hazard_regression.PHReg`).
- :func:`odds_ratios` -- logistic regression odds ratios of a binary outcome on exposures and
  covariates (statsmodels GLM Binomial), with Firth's penalised likelihood (written here in
  numpy, as R ``logistf``) when the data separate.

Both share one private design-matrix builder: categorical columns are dummy-coded with the first
level as the reference, numeric and boolean columns enter as they are.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special, stats
from threadpoolctl import threadpool_limits

from ._results import ConfidenceInterval, check_choice, check_confidence_level, html_table, result_row
from .exceptions import InputError, StatisticalWarning

__all__ = ["HazardRatioResult", "OddsRatioResult", "hazard_ratio", "odds_ratios"]

#: A coefficient whose standardised value (per standard deviation of its column) or standard
#: error exceeds these bounds is taken as diverging (monotone likelihood / separation): an effect
#: of exp(15) per SD is not a finding, it is an optimiser walking off to infinity.
_DIVERGED_COEF = 15.0
_DIVERGED_SE = 20.0

_TIES = ("efron", "breslow")


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HazardRatioResult:
    """Cox proportional hazards hazard ratio of ``group`` against ``reference``.

    Attributes
    ----------
    estimate : float
        Hazard ratio exp(beta); 0 or inf when a group has no events (monotone likelihood).
    ci : ConfidenceInterval
        Wald interval exp(beta +/- z se); (nan, nan) when the estimate is not finite.
    confidence_level : float
    pvalue : float
        Two-sided Wald p-value of beta = 0 (nan when the estimate is not finite).
    log_hr, se : float
        beta and its model-based standard error.
    n, n_events, n_dropped : int
        Rows analysed, events among them, rows dropped for missing values.
    group, reference : str
        The compared group and the reference group.
    ties : str
        "efron" or "breslow".
    method : str
        Always "cox".
    covariates : tuple of str
        Names of the adjustment terms (dummy-coded names for categorical columns).
    """

    estimate: float
    ci: ConfidenceInterval
    confidence_level: float
    pvalue: float
    log_hr: float
    se: float
    n: int
    n_events: int
    n_dropped: int
    group: str
    reference: str
    ties: str
    method: str = "cox"
    covariates: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: estimate, ci_low, ci_high, pvalue, ... and the covariates joined by ', '."""
        return result_row(self, covariates=", ".join(self.covariates))

    def _repr_html_(self) -> str:
        return html_table(self)


@dataclass(frozen=True, slots=True, eq=False)
class OddsRatioResult:
    """Odds ratios from a logistic (maximum likelihood or Firth) regression.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per exposure or covariate term, columns ``term, role, reference, odds_ratio,
        ci_low, ci_high, pvalue, log_odds, se, method``. ``role`` is "exposure" or "covariate";
        ``reference`` names the reference level of a dummy-coded term (else None). A Firth
        profile limit the penalised profile never reaches is 0 or inf (with a warning).
    n, n_events, n_dropped : int
        Rows analysed, rows with the outcome, rows dropped for a missing value.
    method : str
        "logistic" (maximum likelihood, Wald intervals and p-values) or "firth" (penalised
        likelihood, profile penalised likelihood intervals, penalised likelihood-ratio p-values).
    converged : bool
        Whether the reported fit converged.
    confidence_level : float
    separated_terms : tuple of str
        Terms found to be involved in complete or quasi-complete separation (empty if none).
    """

    table: pd.DataFrame
    n: int
    n_events: int
    n_dropped: int
    method: str
    converged: bool
    confidence_level: float
    separated_terms: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The tidy ``table`` (a copy)."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")


# --------------------------------------------------------------------------------------------
# shared input handling
# --------------------------------------------------------------------------------------------


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)) or (
        isinstance(series.dtype, pd.CategoricalDtype)
    )


def _design_matrix(frame: pd.DataFrame, *, name: str) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """Dummy-code ``frame`` into a float design matrix (no intercept).

    Categorical (category, string, object) columns become ``col[T.level]`` indicator columns with
    the first level dropped as the reference -- the first category of a pandas Categorical, else
    the first in sorted order (as R's ``factor``). Numeric and boolean columns are kept as floats.
    ``frame`` must already be free of missing values.

    Returns the design matrix and, for every column of it, the reference level (None for a
    numeric column).
    """
    pieces: list[pd.DataFrame] = []
    references: dict[str, str | None] = {}
    for column in frame.columns:
        series = frame[column]
        label = str(column)
        if _is_categorical(series):
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.cat.remove_unused_categories()
            else:
                series = pd.Categorical(series, categories=sorted(series.unique(), key=str))
                series = pd.Series(series, index=frame.index)
            levels = list(series.cat.categories)
            if len(levels) < 2:
                raise InputError(
                    f"`{name}` column {label!r} must have at least two distinct values; "
                    f"got only {levels!r}. Drop the column or check the data."
                )
            dummies = pd.get_dummies(
                series, prefix=label, prefix_sep="[T.", drop_first=True, dtype=float
            )
            dummies.columns = [f"{c}]" for c in dummies.columns]
            for c in dummies.columns:
                references[c] = str(levels[0])
            pieces.append(dummies)
        else:
            values = series.astype(float)
            if values.nunique() < 2:
                raise InputError(
                    f"`{name}` column {label!r} must vary; got the single value {values.iloc[0]!r}."
                )
            pieces.append(values.rename(label).to_frame())
            references[label] = None
    if not pieces:
        return pd.DataFrame(index=frame.index, dtype=float), references
    return pd.concat(pieces, axis=1), references


def _as_frame(value: Any, *, name: str, n: int | None, default_column: str) -> pd.DataFrame:
    """A DataFrame from a DataFrame, Series or 1-d array, positionally indexed 0..n-1."""
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index(drop=True)
    elif isinstance(value, pd.Series):
        frame = value.reset_index(drop=True).to_frame(
            name=value.name if value.name is not None else default_column
        )
    else:
        array = np.asarray(value)
        if array.ndim != 1:
            raise InputError(
                f"`{name}` must be a DataFrame, a Series or a 1-d array; got an array of shape "
                f"{array.shape!r}."
            )
        frame = pd.DataFrame({default_column: array})
    if frame.shape[1] == 0:
        raise InputError(f"`{name}` must have at least one column; got none.")
    if n is not None and len(frame) != n:
        raise InputError(f"`{name}` must have one row per observation ({n}); got {len(frame)}.")
    return frame


def _as_series(value: Any, *, name: str) -> pd.Series:
    if isinstance(value, pd.DataFrame):
        raise InputError(f"`{name}` must be one-dimensional; got a DataFrame.")
    series = pd.Series(value) if not isinstance(value, pd.Series) else value
    if np.ndim(value) != 1:
        raise InputError(f"`{name}` must be one-dimensional; got {value!r}.")
    return series.reset_index(drop=True)


def _binary(series: pd.Series, *, name: str) -> pd.Series:
    """0/1 floats from a bool or 0/1 series; missing values stay NaN."""
    observed = series.dropna()
    if (observed.empty or pd.api.types.is_bool_dtype(observed)
            or pd.api.types.infer_dtype(observed, skipna=True) == "boolean"):
        values = series.astype("boolean").to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(values, index=series.index, name=series.name)
    if not pd.api.types.is_numeric_dtype(observed) or not observed.isin([0, 1]).all():
        bad = sorted(set(observed.unique().tolist()) - {0, 1}, key=str)[:5]
        raise InputError(
            f"`{name}` must be binary (bool or 0/1, missing allowed); got other values {bad!r}."
        )
    return series.astype(float)


def _count(value: float) -> int | float:
    """A weighted count: an int when it is a whole number."""
    value = float(value)
    return int(value) if value.is_integer() else value


def _check_covariates(covariates: Any, n: int) -> pd.DataFrame | None:
    if covariates is None:
        return None
    if not isinstance(covariates, pd.DataFrame):
        raise InputError(
            f"`covariates` must be a pandas DataFrame or None; got {type(covariates).__name__}."
        )
    return _as_frame(covariates, name="covariates", n=n, default_column="covariate")


def _diverged(coef: np.ndarray, se: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Boolean mask of coefficients walking off to infinity (see module constants)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (
            ~np.isfinite(coef)
            | ~np.isfinite(se)
            | (np.abs(coef) * scale > _DIVERGED_COEF)
            | (se * scale > _DIVERGED_SE)
        )


# --------------------------------------------------------------------------------------------
# Cox hazard ratio
# --------------------------------------------------------------------------------------------


def _cox_fit(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    *,
    ties: str = "efron",
    weights: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """Cox partial likelihood maximised by Newton-Raphson; returns (beta, covariance, converged,
    log partial likelihood).

    Vectorised over subjects: with rows sorted by decreasing time, the risk-set sums
    S0 = sum w exp(x'b), S1 = sum w x exp(x'b) and S2 = sum w x x' exp(x'b) at each distinct time
    are cumulative sums read at the last row of each time, and the sums over the subjects dying
    at that time (A0, A1, A2) are bincounts. Breslow's likelihood divides the d deaths at a time
    by S0; Efron's by S0 - (r/d) A0 for r = 0..d-1. Efron's terms are expanded over the deaths
    only as scalars: with den_r = S0 - f_r A0 (f_r = r/d), the gradient and information need
    sum 1/den, sum f/den, sum 1/den^2, sum f/den^2 and sum f^2/den^2 per time, so memory stays
    O(n p + J p^2) for n subjects, p terms and J event times.

    ``weights`` are frequency weights: a row of weight 3 counts as three rows (for Efron ties
    they must be whole numbers, the d in r/d being a count of deaths).
    """
    n, p = x.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-time, kind="stable")
    t, e, xs, ws = time[order], event[order].astype(float), x[order], w[order]
    xs = xs - xs.mean(axis=0)  # centring changes no coefficient, only keeps exp() in range
    start_of_time = np.r_[True, t[1:] != t[:-1]]
    block = np.cumsum(start_of_time) - 1  # distinct times, decreasing
    last_row = np.r_[np.flatnonzero(start_of_time)[1:] - 1, n - 1]
    n_blocks = last_row.shape[0]
    dying_w = ws * e
    deaths = np.bincount(block, weights=dying_w, minlength=n_blocks)
    has_death = deaths > 0
    deaths = deaths[has_death]
    dies = e > 0
    death_block = block[dies]
    sum_x_dying = np.column_stack([np.bincount(block, weights=dying_w * xs[:, k], minlength=n_blocks)
                                   for k in range(p)])[has_death]
    pairs = [(a, b) for a in range(p) for b in range(a, p)]

    if ties == "efron":
        count = np.rint(deaths).astype(np.int64)
        if np.any(np.abs(deaths - count) > 1e-9 * np.maximum(deaths, 1.0)):
            raise InputError("`weights` must be whole numbers (frequency weights) with Efron ties; "
                             "got fractional weights. Use ties='breslow' for other weights.")
        term_of = np.repeat(np.arange(count.shape[0]), count)
        fraction = (np.arange(term_of.shape[0]) - np.repeat(np.cumsum(count) - count, count)) / count[term_of]
    else:
        term_of = np.arange(deaths.shape[0])
        fraction = np.zeros(deaths.shape[0])

    def sums(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = xs @ beta
        shift = float(eta.max()) if n else 0.0
        r = ws * np.exp(eta - shift)
        s0 = np.cumsum(r)[last_row][has_death]
        s1 = np.cumsum(r[:, None] * xs, axis=0)[last_row][has_death]
        s2 = np.empty((s0.shape[0], p, p))
        for a, b in pairs:
            s2[:, a, b] = s2[:, b, a] = np.cumsum(r * xs[:, a] * xs[:, b])[last_row][has_death]
        if ties == "efron":  # sums over the subjects dying at each time
            rd, xd = r[dies], xs[dies]
            a0 = np.bincount(death_block, weights=rd, minlength=n_blocks)[has_death]
            a1 = np.column_stack([np.bincount(death_block, weights=rd * xd[:, k], minlength=n_blocks)
                                  for k in range(p)])[has_death]
            a2 = np.empty_like(s2)
            for a, b in pairs:
                a2[:, a, b] = a2[:, b, a] = np.bincount(
                    death_block, weights=rd * xd[:, a] * xd[:, b], minlength=n_blocks)[has_death]
            den = s0[term_of] - fraction * a0[term_of]
        else:
            a0 = a1 = a2 = None
            den = s0[term_of]
        m = s0.shape[0]
        weight = np.ones_like(den) if ties == "efron" else deaths

        def per_time(values: np.ndarray) -> np.ndarray:
            return np.bincount(term_of, weights=weight * values, minlength=m)

        c0, c1, c3 = per_time(np.log(den)), per_time(1 / den), per_time(1 / den**2)
        loglik = float(np.sum(sum_x_dying @ beta) - np.sum(c0) - shift * np.sum(deaths))
        grad = sum_x_dying.sum(axis=0) - c1 @ s1
        info = np.einsum("j,jab->ab", c1, s2) - np.einsum("j,ja,jb->ab", c3, s1, s1)
        if a0 is not None:
            c2, c4, c5 = per_time(fraction / den), per_time(fraction / den**2), per_time(fraction**2 / den**2)
            grad += c2 @ a1
            cross = np.einsum("j,ja,jb->ab", c4, s1, a1)
            info += (-np.einsum("j,jab->ab", c2, a2) + cross + cross.T
                     - np.einsum("j,ja,jb->ab", c5, a1, a1))
        return loglik, grad, info

    beta = np.zeros(p)
    loglik, grad, info = sums(beta)
    converged = False
    for _ in range(max_iter):  # Newton iterations, not a loop over subjects
        try:
            with warnings.catch_warnings():  # an ill-conditioned step is caught by the divergence check
                warnings.simplefilter("ignore", linalg.LinAlgWarning)
                step = linalg.solve(info, grad, assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            break
        for _ in range(30):  # step halving keeps the likelihood from decreasing
            new = sums(beta + step)
            if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * max(1.0, abs(loglik)):
                break
            step = step / 2
        else:
            break
        beta = beta + step
        loglik, grad, info = new
        if np.max(np.abs(step)) < tol * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
    try:
        with warnings.catch_warnings():  # a near-singular information is flagged by the caller
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            cov = linalg.inv(info)
    except (linalg.LinAlgError, ValueError):
        cov = np.full((p, p), np.nan)
    return beta, cov, converged, loglik


def hazard_ratio(
    durations: Any,
    events: Any,
    groups: Any,
    *,
    covariates: pd.DataFrame | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    confidence_level: float = 0.95,
    reference: Any = None,
    weights: Any = None,
) -> HazardRatioResult:
    """Cox proportional hazards hazard ratio of one group against a reference group.

    Parameters
    ----------
    durations : array_like
        Time from the procedure to the event or to censoring; finite and non-negative.
    events : array_like of bool or 0/1
        1 (True) when the event (relief) was observed, 0 when censored.
    groups : array_like
        Exactly two distinct labels, e.g. "kyphoplasty" and "vertebroplasty".
    covariates : pandas.DataFrame, optional
        Adjustment variables, one row per observation (matched by position). Categorical columns
        are dummy-coded with their first level as reference.
    ties : {"efron", "breslow"}, default "efron"
        Handling of tied event times; "efron" is the default of R ``survival::coxph``.
    confidence_level : float, default 0.95
    reference : label, optional
        The reference group. Default: the first category of a pandas Categorical, else the first
        label in sorted order (as R's ``factor``).
    weights : array_like of float, optional
        Frequency weights: a row of weight k counts as k identical rows, so a registry can pass
        one row per (time, group, event) with its count. Whole numbers with Efron ties. ``n`` and
        ``n_events`` are then weighted counts.

    Returns
    -------
    HazardRatioResult
        ``estimate`` is the hazard ratio of the other group against ``reference``.

    Warns
    -----
    StatisticalWarning
        When a group has no events or the fit does not converge (monotone likelihood); the
        interval and p-value are then nan and the estimate is 0, inf or nan.

    Notes
    -----
    The model is :math:`h(t \\mid x) = h_0(t)\\exp(\\beta g + \\gamma^\\top z)` with :math:`g = 1`
    for the compared group. :math:`\\hat\\beta` maximises the partial likelihood with Efron's or
    Breslow's approximation for ties by Newton-Raphson, vectorised over subjects with cumulative
    sums over the rows sorted by time (it agrees with statsmodels ``PHReg`` to 1e-8 and is much
    faster for a registry); the interval is Wald on the log
    scale, :math:`\\exp(\\hat\\beta \\pm z_{1-\\alpha/2}\\,\\widehat{se})`, and the p-value is the Wald
    test, as R ``summary(coxph(...))``. Rows with a missing value in any input are dropped and
    counted in ``n_dropped``.

    When a group has no events the partial likelihood is monotone and the maximum lies at
    :math:`\\beta = \\pm\\infty`; the estimate is reported as that limit (0 or inf) with a nan
    interval rather than the arbitrary large number an optimiser stops at.

    References
    ----------
    .. [1] Cox DR (1972). Regression models and life-tables. J R Stat Soc B 34:187-220.
       doi:10.1111/j.2517-6161.1972.tb00899.x
    .. [2] Efron B (1977). The efficiency of Cox's likelihood function for censored data.
       J Am Stat Assoc 72:557-565. doi:10.1080/01621459.1977.10480613

    Examples
    --------
    Freireich et al. (1963) 6-MP remission data (weeks; placebo against 6-MP):

    >>> mp = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    >>> mp_event = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    >>> placebo = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
    >>> res = hazard_ratio(mp + placebo, mp_event + [1] * 21, ["6-MP"] * 21 + ["placebo"] * 21,
    ...                    reference="6-MP")
    >>> res.group, round(res.estimate, 3), round(res.log_hr, 4), round(res.se, 4)
    ('placebo', 4.817, 1.5721, 0.4124)
    """
    confidence_level = check_confidence_level(confidence_level)
    check_choice("ties", ties, _TIES)
    t = _as_series(durations, name="durations")
    n_total = len(t)
    e = _as_series(events, name="events")
    g = _as_series(groups, name="groups")
    for label, series in (("events", e), ("groups", g)):
        if len(series) != n_total:
            raise InputError(
                f"`{label}` must have the same length as `durations` ({n_total}); got {len(series)}."
            )
    if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
        raise InputError(f"`durations` must be numeric; got dtype {t.dtype}.")
    t = t.astype(float)
    if np.isinf(t).any() or (t < 0).any():
        bad = t[np.isinf(t) | (t < 0)]
        raise InputError(
            f"`durations` must be finite and non-negative; got {float(bad.iloc[0])!r} in row {bad.index[0]}."
        )
    e = _binary(e, name="events")
    cov = _check_covariates(covariates, n_total)
    w = None
    if weights is not None:
        w = _as_series(weights, name="weights")
        if len(w) != n_total:
            raise InputError(f"`weights` must have the same length as `durations` ({n_total}); got {len(w)}.")
        if not pd.api.types.is_numeric_dtype(w) or pd.api.types.is_bool_dtype(w):
            raise InputError(f"`weights` must be numeric; got dtype {w.dtype}.")
        w = w.astype(float)
        if (~np.isfinite(w) | (w < 0)).any():
            bad = w[~np.isfinite(w) | (w < 0)]
            raise InputError(f"`weights` must be non-negative finite numbers; got {float(bad.iloc[0])!r} in row {bad.index[0]}.")

    keep = t.notna() & e.notna() & g.notna()
    if cov is not None:
        keep &= cov.notna().all(axis=1)
    n_dropped = int((~keep).sum())
    t, e, g = t[keep], e[keep], g[keep]
    if w is not None:
        n_dropped = _count(w[~keep].sum())
        w = w[keep]

    if isinstance(g.dtype, pd.CategoricalDtype):
        levels = [c for c in g.cat.categories if (g == c).any()]
    else:
        levels = sorted(g.unique(), key=str)
    if len(levels) != 2:
        raise InputError(
            f"`groups` must have exactly two distinct values among complete rows; got {levels!r}."
        )
    if reference is None:
        reference = levels[0]
    elif reference not in levels:
        raise InputError(f"`reference` must be one of the groups {levels!r}; got {reference!r}.")
    other = levels[1] if reference == levels[0] else levels[0]
    x_group = (g == other).to_numpy(dtype=float)

    names: tuple[str, ...] = ()
    exog = x_group[:, None]
    if cov is not None:
        design, _ = _design_matrix(cov[keep], name="covariates")
        names = tuple(design.columns)
        exog = np.column_stack([x_group, design.to_numpy(dtype=float)])
        if np.linalg.matrix_rank(np.column_stack([np.ones(len(exog)), exog])) < exog.shape[1] + 1:
            raise InputError(
                "`covariates` must not be collinear with each other or with `groups`; got a "
                "rank-deficient design. Drop redundant columns."
            )

    if w is None:
        n, n_events = int(keep.sum()), int(e.sum())
    else:
        n, n_events = _count(w.sum()), _count((w * e).sum())
    common = dict(
        confidence_level=confidence_level,
        n=n,
        n_events=n_events,
        n_dropped=n_dropped,
        group=str(other),
        reference=str(reference),
        ties=ties,
        covariates=names,
    )
    nan_ci = ConfidenceInterval(math.nan, math.nan)

    event_weight = e if w is None else e * w
    events_by_group = {lab: float(event_weight[(g == lab).to_numpy()].sum()) for lab in (reference, other)}
    empty = [lab for lab, count in events_by_group.items() if count == 0]
    if empty:
        warnings.warn(
            f"Group(s) {', '.join(map(repr, map(str, empty)))} have no events: the Cox partial "
            "likelihood is monotone and the hazard ratio is not finite; the interval and p-value "
            "are reported as nan.",
            StatisticalWarning,
            stacklevel=2,
        )
        if len(empty) == 2:
            estimate, log_hr = math.nan, math.nan
        elif empty[0] == other:
            estimate, log_hr = 0.0, -math.inf
        else:
            estimate, log_hr = math.inf, math.inf
        return HazardRatioResult(
            estimate=estimate, ci=nan_ci, pvalue=math.nan, log_hr=log_hr, se=math.nan, **common
        )

    case_weights = None if w is None else w.to_numpy(dtype=float)
    # The fit is on the distinct (time, event, group, covariates) rows with their counts (frequency
    # weights: the same partial likelihood); a registry's million rows are a few thousand tallies.
    rows, status, counts = _patterns(np.column_stack([t.to_numpy(dtype=float), exog]), e.to_numpy(dtype=float),
                                     np.ones(len(t)) if case_weights is None else case_weights)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        coef, cov_beta, converged, _ = _cox_fit(rows[:, 0], status, rows[:, 1:], ties=ties, weights=counts)
        se = np.sqrt(np.diag(cov_beta))
    not_converged = not converged
    if case_weights is None:
        spread = exog.std(axis=0)
    else:
        centre = np.average(exog, axis=0, weights=case_weights)
        spread = np.sqrt(np.average((exog - centre) ** 2, axis=0, weights=case_weights))
    diverged = _diverged(coef, se, spread)
    beta, se0 = float(coef[0]), float(se[0])

    if not_converged or diverged[0]:
        terms = ["group"] + [names[i - 1] for i in np.flatnonzero(diverged) if i > 0]
        warnings.warn(
            "The Cox fit did not converge or the estimate diverged (monotone likelihood, "
            f"terms: {', '.join(terms)}); the hazard ratio interval and p-value are reported as "
            "nan. Check for a group or covariate level without events.",
            StatisticalWarning,
            stacklevel=2,
        )
        if diverged[0] and np.isfinite(beta) and abs(beta) > 1:
            log_hr = math.copysign(math.inf, beta)
            estimate = 0.0 if beta < 0 else math.inf
        else:
            log_hr, estimate = math.nan, math.nan
        return HazardRatioResult(
            estimate=estimate, ci=nan_ci, pvalue=math.nan, log_hr=log_hr, se=math.nan, **common
        )
    if diverged[1:].any():
        warnings.warn(
            "Covariate estimate(s) diverged (monotone likelihood) for "
            f"{', '.join(names[i - 1] for i in np.flatnonzero(diverged) if i > 0)}; the group "
            "hazard ratio is reported but the adjustment for these terms is degenerate.",
            StatisticalWarning,
            stacklevel=2,
        )

    z = stats.norm.ppf(0.5 + confidence_level / 2)
    return HazardRatioResult(
        estimate=math.exp(beta),
        ci=ConfidenceInterval(math.exp(beta - z * se0), math.exp(beta + z * se0)),
        pvalue=float(2 * stats.norm.sf(abs(beta / se0))),
        log_hr=beta,
        se=se0,
        **common,
    )


# --------------------------------------------------------------------------------------------
# logistic regression and Firth
# --------------------------------------------------------------------------------------------


def _distinct_rows(
    y: np.ndarray, exposures: pd.DataFrame, covariates: pd.DataFrame | None, w: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame | None, np.ndarray]:
    """Collapse identical (outcome, exposures, covariates) rows into one with the summed weight,
    before dummy coding (which then codes thousands of rows, not millions)."""
    columns = [exposures] + ([covariates] if covariates is not None else [])
    frame = pd.concat([c.reset_index(drop=True) for c in columns], axis=1)
    names = list(frame.columns)
    frame.columns = [f"c{k}" for k in range(len(names))]  # positional names: no clash with "y" or "w"
    frame["y"], frame["w"] = y, w
    keys = ["y", *frame.columns[:-2]]
    grouped = frame.groupby(keys, sort=True, observed=True, dropna=False)["w"].sum().reset_index()
    values = grouped[frame.columns[:-2]]
    values.columns = names
    n_expo = exposures.shape[1]
    expo = values.iloc[:, :n_expo].copy()
    cov = values.iloc[:, n_expo:].copy() if covariates is not None else None
    for part, original in ((expo, exposures), (cov, covariates)):
        if part is not None:
            for column in part.columns:  # keep each column's dtype (categories, text, booleans)
                if part[column].dtype != original[column].dtype:
                    part[column] = part[column].astype(original[column].dtype)
    return grouped["y"].to_numpy(dtype=float), expo, cov, grouped["w"].to_numpy(dtype=float)


def _patterns(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (y, x row) patterns, sorted, with their summed weights.

    Each column is factorised (sorted), the codes are combined into one integer key per row
    (mixed radix; a pandas group-by when the key would not fit in 63 bits) and the keys are
    counted, so millions of rows cost a sort of integers, not of rows.
    """
    columns = np.column_stack([y, x])
    codes, sizes = [], []
    for k in range(columns.shape[1]):
        code, uniques = pd.factorize(columns[:, k], sort=True)
        codes.append(code.astype(np.int64))
        sizes.append(max(len(uniques), 1))
    if float(np.prod(np.array(sizes, dtype=float))) < 2.0**62:
        key = np.zeros(len(y), dtype=np.int64)
        for code, size in zip(codes, sizes):
            key = key * size + code
    else:
        key = pd.DataFrame(np.column_stack(codes)).groupby(list(range(len(codes))), sort=True).ngroup().to_numpy()
    distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=w, minlength=distinct.shape[0])
    return x[first], y[first], counts


def _separated_terms(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Indices of design columns on a direction of (quasi-)complete separation; empty if none.

    Separation exists iff some b != 0 has (2y - 1) x_i'b >= 0 for every row (Albert & Anderson
    1984); the linear programme of Konis (2007) maximises sum_i (2y_i - 1) x_i'b under those
    constraints with |b_k| <= 1, which is positive exactly when such a b exists. With frequency
    weights ``w`` (one row per pattern) the objective weighs each row by its count; the
    constraints are those of the repeated rows.
    """
    w = np.ones(len(y)) if w is None else w
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1.0
    signed = (2 * y - 1)[:, None] * (x / scale)
    res = optimize.linprog(
        c=-(w @ signed),
        A_ub=-signed,
        b_ub=np.zeros(len(y)),
        bounds=[(-1, 1)] * x.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= 1e-7 * w.sum():
        return np.array([], dtype=int)
    return np.flatnonzero(np.abs(res.x) > 1e-7)


#: Profile limits are searched out to this distance from the estimate on the log-odds scale: an
#: odds ratio of exp(700) is the largest a float holds. Beyond it a limit is reported as infinite.
_FIRTH_LIMIT_BOUND = 700.0


def _firth_quantities(
    x: np.ndarray, y: np.ndarray, beta: np.ndarray, w: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Penalised log-likelihood, modified score and Fisher information at ``beta``.

    With frequency weights ``w`` a row stands for w identical rows: the hat value computed with
    the weights is the sum of the repeated rows' hat values. The modified score is the exact
    gradient of the penalised log-likelihood (canonical link). Raises
    :class:`numpy.linalg.LinAlgError` when the information is not positive definite (fitted
    probabilities of exactly 0 or 1 in floating point), where the penalty is -inf.
    """
    w = np.ones(len(y)) if w is None else w
    eta = x @ beta
    prob = special.expit(eta)
    weight = w * prob * special.expit(-eta)  # p (1 - p) without the cancellation of 1 - p
    xw = x * np.sqrt(weight)[:, None]
    info = xw.T @ xw
    # numpy, not scipy.linalg: for a few columns its small-matrix calls cost microseconds, and the
    # profile limits evaluate this thousands of times
    chol = np.linalg.cholesky(info)
    diag = np.diag(chol)
    if not np.all(np.isfinite(diag)) or np.any(diag <= 0):
        raise linalg.LinAlgError("information matrix is not positive definite")
    loglik = float(np.sum(w * (y * eta - np.logaddexp(0, eta))))
    penalised = loglik + float(np.sum(np.log(diag)))  # + 0.5 log det I(beta)
    hat = np.sum(np.linalg.solve(chol, xw.T) ** 2, axis=0)
    score = x.T @ (w * (y - prob) + hat * (0.5 - prob))
    return penalised, score, info


def _firth_fit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    beta0: np.ndarray | None = None,
    fixed: int | None = None,
    max_iter: int = 200,
    max_halfstep: int = 30,
    max_step: float = 5.0,
    tol: float = 1e-9,
    gtol: float = 1e-7,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Firth's penalised maximum likelihood by Newton-Raphson with step-halving (as logistf).

    With ``fixed = j`` the coefficient j is held at ``beta0[j]`` and the others maximise the
    penalised likelihood, the penalty still using the full information matrix (as logistf's
    profile likelihood and penalised likelihood-ratio tests). Returns (beta, penalised
    log-likelihood, converged); the penalised log-likelihood is -inf when ``beta0`` itself has a
    singular information matrix (no step is then taken).
    """
    p = x.shape[1]
    beta = np.zeros(p) if beta0 is None else np.array(beta0, dtype=float)
    free = np.array([k for k in range(p) if k != fixed], dtype=int)
    try:
        penalised, score, info = _firth_quantities(x, y, beta, w)
    except (linalg.LinAlgError, ValueError):
        return beta, -math.inf, False
    if free.size == 0:
        return beta, penalised, True
    for _ in range(max_iter):
        delta = np.zeros(p)
        try:
            delta[free] = linalg.solve(info[np.ix_(free, free)], score[free], assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            return beta, penalised, False
        largest = np.max(np.abs(delta))
        if largest > max_step:
            delta *= max_step / largest
        gradient = np.max(np.abs(score[free]))
        for _ in range(max_halfstep + 1):
            candidate = beta + delta
            try:
                new = _firth_quantities(x, y, candidate, w)
            except (linalg.LinAlgError, ValueError):
                delta /= 2
                continue
            # a step is taken when it raises the penalised likelihood, or leaves it equal up to
            # rounding and brings the score nearer zero, or is too small to matter. Equal up to
            # rounding alone is not enough: near a sparse cell the scoring step (Fisher
            # information, not the penalty's own curvature) can overshoot, and two points of
            # equal value then alternate for good (seen on a clinic's 1,473 patterns: 200
            # iterations without convergence, the estimate off in the fourth decimal)
            if new[0] > penalised or np.max(np.abs(delta)) < tol or (
                    new[0] >= penalised - 1e-12 * max(1.0, abs(penalised))
                    and np.max(np.abs(new[1][free])) < gradient):
                break
            delta /= 2
        else:
            return beta, penalised, bool(gradient < gtol)
        beta = candidate
        penalised, score, info = new
        if np.max(np.abs(delta)) < tol and np.max(np.abs(score[free])) < gtol:
            return beta, penalised, True
    return beta, penalised, False


def _firth_profile(
    x: np.ndarray, y: np.ndarray, j: int, b: float, starts: list[np.ndarray], w: np.ndarray | None
) -> tuple[np.ndarray, float]:
    """max over the other coefficients of the penalised log-likelihood with beta_j = b.

    Newton from each start (the nearest profile point already found, and the full estimate); a
    fit that stops short of convergence (step-halving exhausted) is polished by BFGS on the same
    function, and the best value over the starts is returned (-inf when every start has a
    singular information matrix, i.e. fitted probabilities of 0 or 1 in floating point, where the
    penalty is -inf). Far out in the tails the profile can have two local maxima (the other
    coefficients trading off); following only the nearest one would give a profile with a jump,
    and a limit where the deviance is not at the cut-off.
    """
    best_beta, best = starts[0].copy(), -math.inf
    best_beta[j] = b
    free = np.array([k for k in range(x.shape[1]) if k != j], dtype=int)
    for start in starts:
        start = start.copy()
        start[j] = b
        beta, penalised, converged = _firth_fit(
            x, y, beta0=start, fixed=j, w=w, tol=1e-10, gtol=1e-8, max_iter=200
        )
        if not converged and np.isfinite(penalised) and free.size:
            def negative(v: np.ndarray) -> tuple[float, np.ndarray]:
                trial = beta.copy()
                trial[free] = v
                try:
                    value, score, _ = _firth_quantities(x, y, trial, w)
                except (linalg.LinAlgError, ValueError):
                    return math.inf, np.zeros(free.size)
                return -value, -score[free]

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = optimize.minimize(negative, beta[free], jac=True, method="BFGS",
                                        options={"gtol": 1e-9, "maxiter": 2000})
            if np.isfinite(res.fun) and -res.fun > penalised:
                beta = beta.copy()
                beta[free] = res.x
                penalised = -float(res.fun)
                converged = True
        if penalised > best:
            best_beta, best = beta, penalised
    return best_beta, best


def _firth_profile_limit(
    x: np.ndarray, y: np.ndarray, beta_hat: np.ndarray, penalised_hat: float, j: int,
    se: float, chi2: float, direction: int, w: np.ndarray | None = None,
) -> tuple[float, str]:
    """One profile penalised likelihood confidence limit for coefficient j, and a reason when
    it is infinite (else "").

    The limit is the first b beyond the estimate (in ``direction``) where the profile deviance
    2[l*(beta_hat) - max_{beta_j = b} l*(beta)] reaches ``chi2``. A bracket is found by
    stepping out geometrically from the estimate (steps of se, 2 se, 4 se, ...) until the deviance
    exceeds ``chi2``; the crossing inside it is then found by Brent's method on cached profile
    values (so the end points keep their signs) and refined by bisection until the deviance is
    within 1e-7 relative of ``chi2``. When the deviance stays below ``chi2`` up to
    ``_FIRTH_LIMIT_BOUND`` on the log-odds scale the limit is infinite.
    """
    solutions: dict[float, np.ndarray] = {float(beta_hat[j]): beta_hat.copy()}
    values: dict[float, float] = {}

    def drop(b: float) -> float:
        b = float(b)
        if b in values:
            return values[b]
        # continue from the nearest profile point found on each side, and from the estimate
        below = [s for s in solutions if s <= b]
        above = [s for s in solutions if s >= b]
        starts = [solutions[max(below)]] if below else []
        starts += [solutions[min(above)]] if above else []
        starts.append(beta_hat)
        beta, penalised = _firth_profile(x, y, j, b, starts, w)
        if np.isfinite(penalised):
            solutions[b] = beta
        # +inf when the penalty is -inf (probabilities of 0 or 1 in floating point)
        value = 2 * (penalised_hat - penalised) - chi2 if np.isfinite(penalised) else math.inf
        values[b] = value
        return value

    origin = float(beta_hat[j])
    step = float(se) if np.isfinite(se) and se > 0 else 1.0
    step = min(max(step, 1e-3), 10.0)
    inner, outer = origin, origin + direction * step
    while True:
        value = drop(outer)
        if value > 0:
            break
        if abs(outer - origin) >= _FIRTH_LIMIT_BOUND:
            return direction * math.inf, (
                f"the profile penalised deviance stays below the {chi2:.4g} cut-off up to "
                f"{_FIRTH_LIMIT_BOUND:g} on the log-odds scale"
            )
        step *= 2
        inner = outer
        outer = origin + direction * min(abs(outer - origin) + step, _FIRTH_LIMIT_BOUND)
    values.setdefault(origin, -chi2)  # the estimate itself: deviance 0, below the cut-off
    lo, hi = sorted((inner, outer))
    try:  # Brent on a finite function (an infinite deviance counts as a large one)
        root = float(optimize.brentq(lambda b: min(drop(b), 1e6), lo, hi, xtol=1e-12,
                                     rtol=4 * np.finfo(float).eps, maxiter=200, disp=False))
    except (ValueError, RuntimeError, FloatingPointError):
        root = 0.5 * (lo + hi)  # the bisection below finds the crossing
    # Brent stops on the width of the bracket; the deviance must also be at the cut-off.
    a, b = lo, hi
    for _ in range(200):
        value = drop(root)
        if abs(value) <= 1e-7 * chi2:
            break
        if (value > 0) == (drop(a) > 0):
            a = root
        else:
            b = root
        root = 0.5 * (a + b)
    return root, ""


def _firth_inference(
    x: np.ndarray, y: np.ndarray, confidence_level: float, terms: range, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, list[tuple[int, str, str]]]:
    """Firth estimates, Wald SEs, profile penalised likelihood limits and penalised LR p-values,
    with the fit's convergence and one (term index, "lower"/"upper", reason) per infinite limit.

    Runs with one BLAS thread (threadpoolctl): the matrices have a few columns, so more threads
    only add waiting, which on a busy machine showed as seconds per small fit.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _firth_inference_serial(x, y, confidence_level, terms, w)


def _firth_inference_serial(
    x: np.ndarray, y: np.ndarray, confidence_level: float, terms: range, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, list[tuple[int, str, str]]]:
    """:func:`_firth_inference` in the calling thread's BLAS setting."""
    beta, penalised, converged = _firth_fit(x, y, w=w)
    try:
        _, _, info = _firth_quantities(x, y, beta, w)
        se = np.sqrt(np.diag(linalg.inv(info)))
    except (linalg.LinAlgError, ValueError):
        se = np.full(len(beta), np.nan)
    chi2 = stats.chi2.ppf(confidence_level, 1)
    low = np.full(len(beta), np.nan)
    high = np.full(len(beta), np.nan)
    pvalue = np.full(len(beta), np.nan)
    notes: list[tuple[int, str, str]] = []
    for j in terms:
        for direction, target in ((-1, low), (+1, high)):
            target[j], reason = _firth_profile_limit(x, y, beta, penalised, j, se[j], chi2, direction, w)
            if reason:
                notes.append((j, "lower" if direction < 0 else "upper", reason))
        _, penalised0 = _firth_profile(x, y, j, 0.0, [beta, np.zeros(len(beta))], w)
        pvalue[j] = stats.chi2.sf(max(2 * (penalised - penalised0), 0.0), 1)
    return beta, se, low, high, pvalue, converged, notes


def odds_ratios(
    outcome: Any,
    exposures: Any,
    *,
    covariates: pd.DataFrame | None = None,
    confidence_level: float = 0.95,
    firth: bool | Literal["auto"] = "auto",
    weights: Any = None,
) -> OddsRatioResult:
    """Odds ratios of a binary outcome from a logistic regression, Firth-corrected when needed.

    Parameters
    ----------
    outcome : array_like of bool or 0/1
        The outcome (e.g. an overnight stay); missing values are dropped and counted.
    exposures : pandas.DataFrame, pandas.Series or array_like
        One or more exposures of interest, one row per observation (matched by position).
        Categorical columns are dummy-coded with the first level (first category, else first in
        sorted order) as the reference, named in the ``reference`` column of the table.
    covariates : pandas.DataFrame, optional
        Adjustment variables, coded like the exposures; reported with ``role = "covariate"``.
    confidence_level : float, default 0.95
    firth : {"auto", True, False}, default "auto"
        "auto" fits by maximum likelihood and, when the data separate (complete or quasi-complete
        separation, e.g. a zero cell) or the fit does not converge, warns and refits with Firth's
        penalised likelihood. True always uses Firth; False never does (separated terms are then
        reported with an odds ratio of 0 or inf and nan interval and p-value).
    weights : array_like of float, optional
        Frequency weights: a row of weight k counts as k identical rows (rows of weight 0 are
        dropped), so a registry can pass one row per covariate pattern with its count. ``n``,
        ``n_events`` and ``n_dropped`` are then weighted counts.

    Returns
    -------
    OddsRatioResult
        ``table`` with one row per exposure and covariate term (the intercept is not reported).

    Warns
    -----
    StatisticalWarning
        When the data separate or the maximum likelihood fit does not converge; the message
        names the terms and the method used. Also when a Firth profile limit is infinite.

    Notes
    -----
    The model is :math:`\\operatorname{logit} P(y=1) = \\beta_0 + \\beta^\\top x` and the odds
    ratio of a term is :math:`\\exp(\\beta_k)`.

    ``method = "logistic"``: maximum likelihood (statsmodels GLM Binomial), Wald intervals
    :math:`\\exp(\\hat\\beta_k \\pm z\\,\\widehat{se}_k)` and Wald p-values, as R ``glm`` with
    ``confint.default``.

    ``method = "firth"``: Firth's penalised likelihood
    :math:`l^*(\\beta) = l(\\beta) + \\tfrac12\\log\\lvert I(\\beta)\\rvert`, maximised by
    Newton-Raphson on the modified score
    :math:`U^*(\\beta) = X^\\top\\{y - \\pi + h(\\tfrac12 - \\pi)\\}` (``h`` the diagonal of the
    weighted hat matrix) with step-halving and at most 5 units per step. Intervals are profile
    penalised likelihood intervals, :math:`\\{b : 2[l^*(\\hat\\beta) - \\max_{\\beta_k = b}
    l^*(\\beta)] \\le \\chi^2_{1,1-\\alpha}\\}`, and p-values penalised likelihood-ratio tests of
    :math:`\\beta_k = 0`, both with the penalty from the full model's information matrix, as the
    defaults of R ``logistf`` (Heinze & Schemper 2002). Firth estimates are finite under
    separation.

    Each profile limit is bracketed by stepping out from the estimate geometrically (1, 3, 7,
    15, ... standard errors) until the profile deviance exceeds the chi-square cut-off; the
    crossing is then found by Brent's method and refined until the deviance is within 1e-7
    relative of the cut-off. Each profile point is maximised from the neighbouring profile points
    on both sides and from the estimate (Newton, then BFGS when Newton stalls), keeping the best,
    since far in the tails the profile can have two local maxima. A limit whose deviance stays
    under the cut-off out to 700 beyond the estimate on the log-odds scale (about the largest
    odds ratio a float holds) is reported as 0 or inf with a :class:`StatisticalWarning` naming the term; no limit raises.

    Separation is detected with the linear programme of Konis (2007), which finds a direction
    along which the likelihood increases for ever, and names the terms on it.

    References
    ----------
    .. [1] Firth D (1993). Bias reduction of maximum likelihood estimates. Biometrika 80:27-38.
       doi:10.1093/biomet/80.1.27
    .. [2] Heinze G, Schemper M (2002). A solution to the problem of separation in logistic
       regression. Stat Med 21:2409-2419. doi:10.1002/sim.1047
    .. [3] Albert A, Anderson JA (1984). On the existence of maximum likelihood estimates in
       logistic regression models. Biometrika 71:1-10. doi:10.1093/biomet/71.1.1
    .. [4] Konis K (2007). Linear programming algorithms for detecting separated data in binary
       logistic regression models. DPhil thesis, University of Oxford.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> early = pd.Series(rng.integers(0, 2, 400), name="early")
    >>> age = pd.DataFrame({"age": rng.normal(75, 8, 400)})
    >>> success = rng.random(400) < 1 / (1 + np.exp(-(0.2 + 0.8 * early)))
    >>> res = odds_ratios(success, early, covariates=age)
    >>> res.method, res.table["term"].tolist(), res.table["role"].tolist()
    ('logistic', ['early', 'age'], ['exposure', 'covariate'])
    >>> bool(res.table["ci_low"].iloc[0] < res.table["odds_ratio"].iloc[0] < res.table["ci_high"].iloc[0])
    True
    """
    # the GLM module alone: statsmodels.api imports formula and plotting machinery besides
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    confidence_level = check_confidence_level(confidence_level)
    if not (firth == "auto" or isinstance(firth, (bool, np.bool_))):
        raise InputError(f"`firth` must be 'auto', True or False; got {firth!r}.")
    y_all = _binary(_as_series(outcome, name="outcome"), name="outcome")
    n_total = len(y_all)
    expo = _as_frame(exposures, name="exposures", n=n_total, default_column="exposure")
    cov = _check_covariates(covariates, n_total)
    if cov is not None:
        clash = sorted(set(map(str, expo.columns)) & set(map(str, cov.columns)))
        if clash:
            raise InputError(
                f"`covariates` must not repeat an exposure column; got {clash!r} in both."
            )

    keep = y_all.notna() & expo.notna().all(axis=1)
    if cov is not None:
        keep &= cov.notna().all(axis=1)
    n_dropped = int((~keep).sum())
    if weights is not None:
        w_all = _as_series(weights, name="weights")
        if len(w_all) != n_total:
            raise InputError(f"`weights` must have one value per row ({n_total}); got {len(w_all)}.")
        if not pd.api.types.is_numeric_dtype(w_all) or pd.api.types.is_bool_dtype(w_all):
            raise InputError(f"`weights` must be numeric; got dtype {w_all.dtype}.")
        w_all = w_all.astype(float)
        if (~np.isfinite(w_all) | (w_all < 0)).any():
            bad = w_all[~np.isfinite(w_all) | (w_all < 0)]
            raise InputError(f"`weights` must be non-negative finite numbers; got {float(bad.iloc[0])!r} in row {bad.index[0]}.")
        n_dropped = _count(w_all[~keep].sum())
        keep &= w_all > 0
    y = y_all[keep].to_numpy(dtype=float)
    case_weights = np.ones(len(y)) if weights is None else w_all[keep].to_numpy(dtype=float)
    if len(y) == 0 or y.min() == y.max():
        raise InputError(
            "`outcome` must take both values (0 and 1) among complete rows; got "
            f"{sorted(set(y.tolist()))!r} in {len(y)} rows."
        )

    n_obs = len(y) if weights is None else _count(case_weights.sum())
    n_events = int(y.sum()) if weights is None else _count(case_weights @ y)
    # Every fit below is on the distinct (outcome, exposures, covariates) rows with their counts:
    # the same likelihood as the rows themselves, with thousands of rows instead of millions.
    expo_kept, cov_kept = expo[keep], (cov[keep] if cov is not None else None)
    y, expo_kept, cov_kept, case_weights = _distinct_rows(y, expo_kept, cov_kept, case_weights)
    design_e, refs = _design_matrix(expo_kept, name="exposures")
    roles = ["exposure"] * design_e.shape[1]
    parts = [design_e]
    if cov is not None:
        design_c, refs_c = _design_matrix(cov_kept, name="covariates")
        refs.update(refs_c)
        roles += ["covariate"] * design_c.shape[1]
        parts.append(design_c)
    design = pd.concat(parts, axis=1)
    terms = list(design.columns)
    x = np.column_stack([np.ones(len(y)), design.to_numpy(dtype=float)])
    centre = np.average(x[:, 1:], axis=0, weights=case_weights)
    column_sd = np.sqrt(np.average((x[:, 1:] - centre) ** 2, axis=0, weights=case_weights))
    x, y, case_weights = _patterns(x, y, case_weights)  # dummy coding can merge rows further
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise InputError(
            "`exposures` and `covariates` must not be collinear; got a rank-deficient design "
            f"with terms {terms!r}. Drop redundant columns."
        )

    separated = _separated_terms(x, y, case_weights)
    separated_names = tuple(terms[k - 1] for k in separated if k > 0)
    use_firth = firth is True or (firth == "auto" and separated.size > 0)
    reason = ""
    if separated.size and firth is not True:
        reason = (
            "The data separate (complete or quasi-complete separation, e.g. a zero cell) on "
            f"term(s) {', '.join(map(repr, separated_names)) or '(intercept)'}: the maximum "
            "likelihood odds ratio is infinite."
        )

    coef = se = low = high = pvalue = None
    converged = True
    if not use_firth:
        from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # IRLS to a deviance change of 1e-12 (statsmodels stops at 1e-8 by default, leaving the
            # coefficients ~1e-7 from the maximum; R glm.control(epsilon = 1e-15) agrees to 1e-10)
            fit = GLM(y, x, family=families.Binomial(), freq_weights=case_weights).fit(tol=1e-12, maxiter=100)
        coef = np.asarray(fit.params, dtype=float)
        se = np.asarray(fit.bse, dtype=float)
        converged = bool(fit.converged) and not any(
            issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning)) for w in caught
        )
        bad = _diverged(coef, se, np.r_[1.0, column_sd])
        bad[0] = False
        if not separated.size and (not converged or bad.any()):
            flagged = [terms[k - 1] for k in np.flatnonzero(bad)] or terms
            separated_names = tuple(flagged)
            reason = (
                "The maximum likelihood fit did not converge or gave an infinite or huge "
                f"coefficient for term(s) {', '.join(map(repr, flagged))} (separation or sparse "
                "data)."
            )
            use_firth = firth == "auto"
        if not use_firth:
            z = stats.norm.ppf(0.5 + confidence_level / 2)
            low, high = coef - z * se, coef + z * se
            pvalue = np.asarray(fit.pvalues, dtype=float)
            if reason:
                warnings.warn(
                    reason + " Reported by maximum likelihood because firth=False; the affected "
                    "odds ratios are given as 0 or inf with nan interval and p-value.",
                    StatisticalWarning,
                    stacklevel=2,
                )
                for k in range(1, x.shape[1]):
                    if terms[k - 1] in separated_names:
                        coef[k] = math.copysign(math.inf, coef[k])
                        se[k] = low[k] = high[k] = pvalue[k] = math.nan
                converged = False
    if use_firth:
        if reason:
            warnings.warn(
                reason + " Refitted with Firth's penalised likelihood (method='firth', profile "
                "penalised likelihood intervals).",
                StatisticalWarning,
                stacklevel=2,
            )
        coef, se, low, high, pvalue, converged, notes = _firth_inference(
            x, y, confidence_level, range(1, x.shape[1]), case_weights
        )
        if notes:
            named = [f"{side} limit of {terms[k - 1]!r} ({reason})" for k, side, reason in notes]
            warnings.warn(
                "Firth profile penalised likelihood limit(s) reported as infinite: "
                + "; ".join(named) + ".",
                StatisticalWarning,
                stacklevel=2,
            )
        if not converged:
            warnings.warn(
                "Firth's penalised likelihood did not converge; treat the odds ratios as unreliable.",
                StatisticalWarning,
                stacklevel=2,
            )

    method = "firth" if use_firth else "logistic"
    with np.errstate(over="ignore"):
        table = pd.DataFrame(
            {
                "term": terms,
                "role": roles,
                "reference": pd.Series([refs[t] for t in terms], dtype=object),
                "odds_ratio": np.exp(coef[1:]),
                "ci_low": np.exp(low[1:]),
                "ci_high": np.exp(high[1:]),
                "pvalue": pvalue[1:],
                "log_odds": coef[1:],
                "se": se[1:],
                "method": method,
            }
        )
    return OddsRatioResult(
        table=table,
        n=n_obs,
        n_events=n_events,
        n_dropped=n_dropped,
        method=method,
        converged=bool(converged),
        confidence_level=confidence_level,
        separated_terms=separated_names,
    )
