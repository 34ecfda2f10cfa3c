"""Synthetic, de-identified vertebral augmentation records with a known truth.

:func:`simulate` draws clinic records in the canonical long form of the data contract (one row per
procedure, one row per pain score) from a latent model whose population values are known, so that
every claim the package tests can be checked against the value it should find. :func:`write_demo`
writes the demo files in ``data/demo`` (from :func:`simulate_safety`: with events and function
scores). Nothing here describes a real patient.

Latent model
------------
Procedures are independent given their covariates; about 5% of patients have a second procedure
(another level, another date 21 to 330 days apart, same sex, age and etiology), which is kept
for realism here (in :func:`simulate_safety` the patient has one death and one follow-up).

Covariates
    ``procedure`` kyphoplasty with probability ``p_kyphoplasty``; ``physician_id`` uniform on
    D1..D6 (D1-D3 at ``synthetic-north``, D4-D6 at ``synthetic-south``); ``age`` =
    ``floor(N(age_mean, age_sd))`` limited to 50..90 (every age over 89 is shown as 90, as the
    de-identification rule does); ``baseline_pain`` on 5..10 with probabilities
    ``_BASELINE_PAIN_P``; ``levels_treated`` 1..4 (``_LEVELS_P``); ``asa_class`` 1..4
    (``_ASA_P``); fracture age in days ``round(LogNormal(log(fracture_age_median_days),
    fracture_age_sigma))`` limited to 1..365; early treatment means fracture age <= 42 days.

Responders
    ``logit P(responder) = responder_intercept + kyphoplasty_log_or * kyphoplasty
    + early_log_or * early + worse_physician_log_or * [physician == worse_physician]
    + age_log_or_per_decade * (age - 75) / 10 + baseline_pain_log_or_per_point * (baseline - 8)``.

Relief
    A responder is relieved from ``T_r ~ LogNormal(log(relief_median_hours_<procedure>),
    relief_sigma)`` hours after the procedure until ``T_r + T_l``; a non-responder never is.
    ``T_l`` is exponential with a transient component: with probability ``p_transient_relief``
    its mean is ``transient_relief_mean_hours`` (relief that fades within weeks), otherwise its
    rate is ``relief_loss_rate_per_year`` (relief that lasts years). A single exponential cannot
    give both "about 85% relieved within two days" and "about 80% relieved at four weeks" while
    keeping relief durable over years; set ``p_transient_relief=0`` for a pure exponential.

Pain scores
    With ``threshold = floor(baseline - max(2, 0.3 * baseline))`` (the package's default relief
    definition, computed in integers as ``min(baseline - 2, (7 * baseline) // 10)`` because
    ``0.3 * 10`` is not exactly 3 in floating point), a visit at ``t`` hours in the relieved state
    (``T_r <= t < T_r + T_l``) scores ``threshold - Binomial(threshold, 0.4)``, at or below the
    threshold; any other visit scores ``threshold + 1 + Binomial(baseline - threshold, 0.6)``
    capped at 10: above the threshold, often partly improved. The baseline visit, in [-72, -1]
    hours, scores ``baseline_pain``. Relief read from the scores therefore equals the latent
    state at every visit exactly.

Visits
    Baseline, then 2 h (+-0.5 h), 24 h (+-3 h), 48 h (+-4 h), 1 week (+-1 day), 4 weeks
    (+-3 days), 3 months (+-14 days) and 12 months (+-30 days), uniform jitter; a long-term
    subset (``p_long_term``) also at 24 and 36 months (+-45 days). Each follow-up visit is missed
    with probability ``p_missed_visit``; loss to follow-up happens at an exponential time with
    rate ``loss_to_follow_up_rate_per_year`` and no visit follows it. Times are rounded to 0.1 h
    before the pain is drawn.

Discharge
    ``complication`` ~ Bernoulli(``p_complication``); ``logit P(same_day) = same_day_intercept
    - overnight_log_or_levels * (levels - 1) - overnight_log_or_asa * (asa - 1)
    - overnight_log_or_complication * complication``. A stay (not same day) is ``admitted`` with
    probability 0.8 after a complication, else ``p_admitted_if_stay``; otherwise ``overnight``.
    Length of stay: same day 3-10 h, overnight 16-30 h, admitted 30 h + LogNormal(median 40 h).

Imaging
    ``height_restoration_pct`` ~ N(``height_restoration_mean_<procedure>``,
    ``height_restoration_sd``); ``kyphotic_angle_change_deg`` is the signed change of the
    kyphotic angle, after minus before, so a correction is negative: N(
    ``kyphotic_angle_change_mean_<procedure>``, ``kyphotic_angle_change_sd``); kyphoplasty's mean
    is 2.64 degrees lower (Xing 2013). Both are missing with probability ``p_missing_imaging``.

Truth
-----
Every value is a population value under the package's definitions, computed from the model
parameters, not from the simulated sample (the same parameters give the same truth whatever the
seed or size). Covariates are discrete and independent, so expectations over them are exact sums
over the 5,904 cells age x baseline pain x early x physician x procedure ("enumeration"); the
relief-time parts are closed forms or one-dimensional integrals (``scipy.integrate.quad``).

================================  ==========================================  ===================
key                               meaning                                     how
================================  ==========================================  ===================
``success``                       P(T_r <= 672 h < T_r + T_l): relieved at    enumeration x quad
                                  4 weeks; also ``success_<procedure>``
``success_early``,                success with fracture age <= 42 / > 42      enumeration x quad
``success_late``                  days
``success_risk_difference_``      ``success_early - success_late``            enumeration x quad
``early_minus_late``
``success_log_or_early_vs_late``  marginal log odds ratio of success          enumeration x quad
``success_by_physician``          dict physician -> success                   enumeration x quad
``relief_48h``                    P(T_r <= 48 h): relieved by 48 h; also      enumeration x
                                  ``relief_48h_<procedure>``                  closed form
``median_relief_hours_<proc>``    median of T_r, non-responders at infinity;  closed form
                                  ``inf`` when under half are ever relieved
``ever_relieved_<procedure>``     P(responder)                                enumeration
``early_fraction``                P(fracture age <= 42 days)                  closed form
``same_day``                      P(discharge == "same_day")                  enumeration
``overnight_log_or``              dict ``levels`` (per level), ``asa`` (per   parameters
                                  class), ``complication``: conditional log
                                  odds ratios of a stay (overnight or
                                  admitted)
``durable_1y``, ``durable_3y``    P(T_l > 1 y), P(T_l > 3 y) among the        closed form
                                  relieved (1 y = 8766 h)
``height_restoration_diff``       mean kyphoplasty - vertebroplasty (%)       parameters
``kyphotic_angle_diff``           mean kyphoplasty - vertebroplasty           parameters
                                  (degrees; negative: kyphoplasty corrects
                                  more)
``worse_physician``               physician with lower responder odds         parameters
``parameters``                    every generating parameter used             --
``injected_errors``               dict kind -> count of bad assessment rows   --
================================  ==========================================  ===================

Injected errors (``data_errors``), in turn: ``pain_out_of_range`` (an existing follow-up score
set to 12), ``unknown_procedure_id`` (an added row for ``P999999``), ``missing_hours_after`` (an
existing follow-up row whose time is blanked) and ``duplicate_row`` (an exact copy of an existing
row, placed after it).
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, special, stats

from .exceptions import InputError

__all__ = ["simulate", "simulate_safety", "to_fhir", "to_omop", "write_demo"]

HOURS_PER_YEAR = 8766.0  # 365.25 days
SUCCESS_HOURS = 672.0  # 4 weeks
RELIEF_48H_HOURS = 48.0
EARLY_DAYS = 42
PHYSICIANS = ("D1", "D2", "D3", "D4", "D5", "D6")
PROCEDURES = ("vertebroplasty", "kyphoplasty")
DISCHARGES = np.array(["same_day", "overnight", "admitted"])

_BASELINE_PAIN = np.arange(5, 11)
_BASELINE_PAIN_P = np.array([0.04, 0.10, 0.24, 0.30, 0.22, 0.10])
_LEVELS = np.arange(1, 5)
_LEVELS_P = np.array([0.70, 0.18, 0.08, 0.04])
_ASA = np.arange(1, 5)
_ASA_P = np.array([0.05, 0.35, 0.50, 0.10])
_ETIOLOGIES = np.array(["osteoporosis", "malignancy", "trauma"])
_ETIOLOGY_P = np.array([0.85, 0.10, 0.05])
_AGE_MIN, _AGE_MAX = 50, 90

_START = np.datetime64("2021-01-01")
_END = np.datetime64("2023-09-30")

# Nominal visit times (hours) and uniform jitter half-widths; the last two are long-term only.
_VISIT_HOURS = np.array([2.0, 24.0, 48.0, 168.0, 672.0, 2190.0, 8766.0, 17532.0, 26298.0])
_VISIT_JITTER = np.array([0.5, 3.0, 4.0, 24.0, 72.0, 336.0, 720.0, 1080.0, 1080.0])
_LONG_TERM_VISITS = 2

_PAIR_GAP_DAYS = (21, 330)  # days between a patient's two procedures (uniform)

_ERROR_KINDS = ("pain_out_of_range", "unknown_procedure_id", "missing_hours_after", "duplicate_row")

_DEFAULTS: dict[str, Any] = {
    # who is treated
    "p_kyphoplasty": 0.5,
    "p_second_procedure": 0.05,
    "p_female": 0.75,
    "age_mean": 76.0,
    "age_sd": 9.0,
    "fracture_age_median_days": 35.0,
    "fracture_age_sigma": 0.8,
    # responders (logit scale; reference: vertebroplasty, late, age 75, baseline pain 8)
    "responder_intercept": 2.2,
    "kyphoplasty_log_or": 0.05,
    "early_log_or": 1.88,
    "worse_physician": "D4",
    "worse_physician_log_or": -2.44,
    "age_log_or_per_decade": -0.1,
    "baseline_pain_log_or_per_point": 0.1,
    # time to relief and its duration
    "relief_median_hours_vertebroplasty": 10.0,
    "relief_median_hours_kyphoplasty": 4.0,
    "relief_sigma": 1.0,
    "p_transient_relief": 0.133,
    "transient_relief_mean_hours": 336.0,
    "relief_loss_rate_per_year": 0.02,
    # discharge
    "p_complication": 0.03,
    "same_day_intercept": 1.89,
    "overnight_log_or_levels": 0.5,
    "overnight_log_or_asa": 0.7,
    "overnight_log_or_complication": 2.5,
    "p_admitted_if_stay": 0.4,
    # imaging
    "height_restoration_mean_vertebroplasty": 4.0,
    "height_restoration_mean_kyphoplasty": 10.0,
    "height_restoration_sd": 5.0,
    "kyphotic_angle_change_mean_vertebroplasty": -2.0,
    "kyphotic_angle_change_mean_kyphoplasty": -4.64,
    "kyphotic_angle_change_sd": 3.0,
    "p_missing_imaging": 0.1,
    # follow-up
    "p_missed_visit": 0.1,
    "p_long_term": 0.3,
    "loss_to_follow_up_rate_per_year": 0.15,
}

_PROBABILITIES = {name for name in _DEFAULTS if name.startswith("p_")}
_POSITIVE = {
    "age_sd",
    "fracture_age_median_days",
    "fracture_age_sigma",
    "relief_median_hours_vertebroplasty",
    "relief_median_hours_kyphoplasty",
    "relief_sigma",
    "transient_relief_mean_hours",
    "height_restoration_sd",
    "kyphotic_angle_change_sd",
}
_NON_NEGATIVE = {"relief_loss_rate_per_year", "loss_to_follow_up_rate_per_year"}


# --------------------------------------------------------------------------------------------
# parameters


def _parameters(overrides: dict[str, Any]) -> dict[str, Any]:
    """The defaults updated by ``overrides``, each checked once."""
    unknown = sorted(set(overrides) - set(_DEFAULTS))
    if unknown:
        raise InputError(
            f"`{unknown[0]}` must be one of {', '.join(sorted(_DEFAULTS))}; got {unknown[0]!r}."
        )
    params = dict(_DEFAULTS)
    for name, value in overrides.items():
        if name == "worse_physician":
            if value is not None and value not in PHYSICIANS:
                raise InputError(
                    f"`worse_physician` must be one of {', '.join(PHYSICIANS)} or None; "
                    f"got {value!r}."
                )
            params[name] = value
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
        ):
            raise InputError(f"`{name}` must be a finite number; got {value!r}.")
        value = float(value)
        if name in _PROBABILITIES and not 0.0 <= value <= 1.0:
            raise InputError(f"`{name}` must be a probability in [0, 1]; got {value!r}.")
        if name in _POSITIVE and not value > 0.0:
            raise InputError(f"`{name}` must be positive; got {value!r}.")
        if name in _NON_NEGATIVE and value < 0.0:
            raise InputError(f"`{name}` must be zero or positive; got {value!r}.")
        params[name] = value
    return params


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    return int(value)


# --------------------------------------------------------------------------------------------
# latent pieces shared by the simulation and the truth


def _relief_threshold(baseline: np.ndarray) -> np.ndarray:
    """``floor(baseline - max(2, 0.3 * baseline))`` in exact integer arithmetic."""
    baseline = np.asarray(baseline, dtype=np.int64)
    return np.minimum(baseline - 2, (7 * baseline) // 10)


def _responder_logit(params, kyphoplasty, early, physician_code, age, baseline):
    worse = -1 if params["worse_physician"] is None else PHYSICIANS.index(params["worse_physician"])
    return (
        params["responder_intercept"]
        + params["kyphoplasty_log_or"] * kyphoplasty
        + params["early_log_or"] * early
        + params["worse_physician_log_or"] * (physician_code == worse)
        + params["age_log_or_per_decade"] * (age - 75.0) / 10.0
        + params["baseline_pain_log_or_per_point"] * (baseline - 8.0)
    )


def _same_day_logit(params, levels, asa, complication):
    return (
        params["same_day_intercept"]
        - params["overnight_log_or_levels"] * (levels - 1)
        - params["overnight_log_or_asa"] * (asa - 1)
        - params["overnight_log_or_complication"] * complication
    )


def _relief_median(params, procedure: str) -> float:
    return params[f"relief_median_hours_{procedure}"]


def _still_relieved(params, hours: np.ndarray | float) -> np.ndarray | float:
    """P(T_l > hours), the survival function of the relief duration."""
    q = params["p_transient_relief"]
    hours = np.asarray(hours, dtype=float)
    transient = np.exp(-hours / params["transient_relief_mean_hours"])
    durable = np.exp(-params["relief_loss_rate_per_year"] * hours / HOURS_PER_YEAR)
    return q * transient + (1.0 - q) * durable


def _relieved_at(params, procedure: str, hours: float) -> float:
    """P(T_r <= t < T_r + T_l | responder) = integral of f_r(u) P(T_l > t - u) du over [0, t]."""
    sigma, median = params["relief_sigma"], _relief_median(params, procedure)
    norm = 1.0 / (sigma * math.sqrt(2.0 * math.pi))

    def pdf(u: float) -> float:  # the log-normal density; scipy's per-point pdf is 50x slower
        return norm / u * math.exp(-0.5 * (math.log(u / median) / sigma) ** 2) if u > 0 else 0.0

    q = params["p_transient_relief"]
    transient_mean = params["transient_relief_mean_hours"]
    loss_rate = params["relief_loss_rate_per_year"] / HOURS_PER_YEAR

    def still(h: float) -> float:  # _still_relieved for one float
        return q * math.exp(-h / transient_mean) + (1.0 - q) * math.exp(-loss_rate * h)

    value, _ = integrate.quad(
        lambda u: pdf(u) * still(hours - u),
        0.0,
        hours,
        points=[_relief_median(params, procedure)],
        limit=200,
        epsabs=1e-12,
        epsrel=1e-10,
    )
    return float(value)


def _age_distribution(params) -> tuple[np.ndarray, np.ndarray]:
    """Support and probabilities of the shown age: floor(N(mean, sd)) limited to 50..90."""
    ages = np.arange(_AGE_MIN, _AGE_MAX + 1)
    cdf = stats.norm.cdf(ages[1:], loc=params["age_mean"], scale=params["age_sd"])
    edges = np.concatenate([[0.0], cdf, [1.0]])
    return ages, np.diff(edges)


def _early_probability(params) -> float:
    """P(round(fracture age) <= 42) = P(LogNormal < 42.5)."""
    z = (math.log(EARLY_DAYS + 0.5) - math.log(params["fracture_age_median_days"])) / params[
        "fracture_age_sigma"
    ]
    return float(stats.norm.cdf(z))


# --------------------------------------------------------------------------------------------
# truth


def _truth(params: dict[str, Any]) -> dict[str, Any]:
    """Population values of every claimed quantity under ``params`` (see the module docstring)."""
    ages, p_age = _age_distribution(params)
    p_early = _early_probability(params)
    # cell axes: age, baseline pain, early, physician, procedure
    age = ages[:, None, None, None, None]
    pain = _BASELINE_PAIN[None, :, None, None, None]
    early = np.array([0, 1])[None, None, :, None, None]
    phys = np.arange(len(PHYSICIANS))[None, None, None, :, None]
    kyph = np.array([0, 1])[None, None, None, None, :]
    p_kyph = params["p_kyphoplasty"]
    weight = (
        p_age[:, None, None, None, None]
        * _BASELINE_PAIN_P[None, :, None, None, None]
        * np.array([1.0 - p_early, p_early])[None, None, :, None, None]
        * np.full(len(PHYSICIANS), 1.0 / len(PHYSICIANS))[None, None, None, :, None]
        * np.array([1.0 - p_kyph, p_kyph])[None, None, None, None, :]
    )
    p_resp = special.expit(_responder_logit(params, kyph, early, phys, age, pain))
    relieved_4w = np.array([_relieved_at(params, proc, SUCCESS_HOURS) for proc in PROCEDURES])
    by_48h = np.array(
        [
            stats.lognorm.cdf(
                RELIEF_48H_HOURS, s=params["relief_sigma"], scale=_relief_median(params, proc)
            )
            for proc in PROCEDURES
        ]
    )
    success_cell = p_resp * relieved_4w[None, None, None, None, :]
    relief48_cell = p_resp * by_48h[None, None, None, None, :]
    weight = np.broadcast_to(weight, p_resp.shape)

    def mean(values, mask=None) -> float:
        w = weight if mask is None else weight * np.broadcast_to(mask, weight.shape)
        total = w.sum()
        return float((values * w).sum() / total) if total > 0 else math.nan

    truth: dict[str, Any] = {}
    truth["success"] = mean(success_cell)
    for k, proc in enumerate(PROCEDURES):
        truth[f"success_{proc}"] = mean(success_cell, kyph == k)
    truth["success_early"] = mean(success_cell, early == 1)
    truth["success_late"] = mean(success_cell, early == 0)
    truth["success_risk_difference_early_minus_late"] = (
        truth["success_early"] - truth["success_late"]
    )
    truth["success_log_or_early_vs_late"] = float(
        special.logit(truth["success_early"]) - special.logit(truth["success_late"])
    )
    truth["success_by_physician"] = {
        d: mean(success_cell, phys == j) for j, d in enumerate(PHYSICIANS)
    }
    truth["relief_48h"] = mean(relief48_cell)
    for k, proc in enumerate(PROCEDURES):
        truth[f"relief_48h_{proc}"] = mean(relief48_cell, kyph == k)
    for k, proc in enumerate(PROCEDURES):
        ever = mean(p_resp, kyph == k)
        truth[f"ever_relieved_{proc}"] = ever
        if ever > 0.5:
            z = stats.norm.ppf(0.5 / ever)
            median = _relief_median(params, proc) * math.exp(params["relief_sigma"] * z)
        else:  # fewer than half are ever relieved: the median time to relief does not exist
            median = math.inf
        truth[f"median_relief_hours_{proc}"] = float(median)
    truth["early_fraction"] = p_early

    # discharge: exact sum over levels x ASA class x complication
    lv = _LEVELS[:, None, None]
    asa = _ASA[None, :, None]
    comp = np.array([0, 1])[None, None, :]
    pc = params["p_complication"]
    w_dis = _LEVELS_P[:, None, None] * _ASA_P[None, :, None] * np.array([1 - pc, pc])[None, None, :]
    truth["same_day"] = float((special.expit(_same_day_logit(params, lv, asa, comp)) * w_dis).sum())
    truth["overnight_log_or"] = {
        "levels": params["overnight_log_or_levels"],
        "asa": params["overnight_log_or_asa"],
        "complication": params["overnight_log_or_complication"],
    }
    truth["durable_1y"] = float(_still_relieved(params, HOURS_PER_YEAR))
    truth["durable_3y"] = float(_still_relieved(params, 3 * HOURS_PER_YEAR))
    # differences of two parameters, rounded so that -4.64 - -2.0 reads -2.64, not -2.6399...
    truth["height_restoration_diff"] = round(
        params["height_restoration_mean_kyphoplasty"]
        - params["height_restoration_mean_vertebroplasty"],
        12,
    )
    truth["kyphotic_angle_diff"] = round(
        params["kyphotic_angle_change_mean_kyphoplasty"]
        - params["kyphotic_angle_change_mean_vertebroplasty"],
        12,
    )
    truth["worse_physician"] = params["worse_physician"]
    truth["parameters"] = dict(params)
    return truth


# --------------------------------------------------------------------------------------------
# simulation


def _ids(prefix: str, numbers_: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(numbers_.astype(str), width))


def _strings(values: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a pandas ``str`` array, converting only the distinct ``values``.

    Converting millions of numpy strings one by one is the slowest step of a large simulation;
    taking from a small Arrow-backed array is not.
    """
    distinct = pd.array(np.asarray(values).astype(str), dtype="str")
    return distinct.take(np.asarray(codes, dtype=np.intp))


def simulate(
    n_procedures: int,
    *,
    seed: int | np.random.Generator | None = None,
    data_errors: int = 0,
    **truth: Any,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Simulate de-identified procedure and pain-score records with a known truth.

    Parameters
    ----------
    n_procedures : int
        Number of procedures (rows of ``procedures``), at least 1.
    seed : int, numpy.random.Generator or None, optional
        Seed of ``numpy.random.default_rng``; the same seed gives identical frames. Default None
        (fresh entropy).
    data_errors : int, optional
        Number of deliberately bad assessment rows, cycling through ``pain_out_of_range``,
        ``unknown_procedure_id``, ``missing_hours_after`` and ``duplicate_row`` (see the module
        docstring). Default 0.
    **truth
        Overrides of the generating parameters, by name (all listed in the module docstring and
        in ``truth["parameters"]``): ``p_kyphoplasty``, ``p_second_procedure``, ``p_female``,
        ``age_mean``, ``age_sd``, ``fracture_age_median_days``, ``fracture_age_sigma``,
        ``responder_intercept``, ``kyphoplasty_log_or``, ``early_log_or``, ``worse_physician``
        (D1..D6 or None), ``worse_physician_log_or``, ``age_log_or_per_decade``,
        ``baseline_pain_log_or_per_point``, ``relief_median_hours_vertebroplasty``,
        ``relief_median_hours_kyphoplasty``, ``relief_sigma``, ``p_transient_relief``,
        ``transient_relief_mean_hours``, ``relief_loss_rate_per_year``, ``p_complication``,
        ``same_day_intercept``, ``overnight_log_or_levels``, ``overnight_log_or_asa``,
        ``overnight_log_or_complication``, ``p_admitted_if_stay``,
        ``height_restoration_mean_vertebroplasty``, ``height_restoration_mean_kyphoplasty``,
        ``height_restoration_sd``, ``kyphotic_angle_change_mean_vertebroplasty``,
        ``kyphotic_angle_change_mean_kyphoplasty``, ``kyphotic_angle_change_sd``,
        ``p_missing_imaging``, ``p_missed_visit``, ``p_long_term``,
        ``loss_to_follow_up_rate_per_year``.

    Returns
    -------
    procedures : pandas.DataFrame
        One row per procedure, in date order: ``procedure_id``, ``patient_id``, ``procedure``,
        ``procedure_date``, ``fracture_date`` (ISO dates), ``baseline_pain``, ``levels_treated``,
        ``etiology``, ``age``, ``sex``, ``asa_class``, ``discharge``, ``length_of_stay_hours``,
        ``complication``, ``physician_id``, ``site_id``, ``height_restoration_pct``,
        ``kyphotic_angle_change_deg``.
    assessments : pandas.DataFrame
        One row per pain score: ``procedure_id``, ``hours_after``, ``pain`` (0-10 NRS),
        ``instrument`` (``"nrs"``).
    truth : dict
        Population values of the claimed quantities, the parameters used and
        ``injected_errors`` (kind -> count); JSON-serialisable (a median that does not exist is
        ``inf``).

    Raises
    ------
    InputError
        An unknown or invalid override, or a bad ``n_procedures`` / ``data_errors``.

    Notes
    -----
    Fully vectorised: about 1,000,000 procedures (about 8 million pain scores) take a few
    seconds. The latent model and how each truth value is computed are in the module docstring.

    Examples
    --------
    >>> procedures, assessments, truth = simulate(200, seed=1)
    >>> len(procedures), list(assessments.columns)
    (200, ['procedure_id', 'hours_after', 'pain', 'instrument'])
    >>> round(truth["success"], 2), round(truth["same_day"], 2)
    (0.8, 0.6)
    """
    n = _check_count("n_procedures", n_procedures, 1)
    n_errors = _check_count("data_errors", data_errors, 0)
    params = _parameters(truth)
    rng = np.random.default_rng(seed)

    # --- patients: a few have a second procedure; the second copies the first's patient fields
    p2 = params["p_second_procedure"]
    second0 = rng.random(n) < p2 / (1.0 + p2)
    second0[0] = False
    second = second0.copy()
    second[1:] &= ~second0[:-1]  # at most two procedures per patient
    index = np.arange(n)
    src = np.where(second, index - 1, index)
    patient = np.cumsum(~second) - 1

    span = int((_END - _START).astype(int))
    day = rng.integers(0, span + 1, n)
    gap = rng.integers(_PAIR_GAP_DAYS[0], _PAIR_GAP_DAYS[1] + 1, n)
    later = day[src] + gap
    day = np.where(second, np.where(later <= span, later, day[src] - gap), day)

    female = (rng.random(n) < params["p_female"])[src]
    age = np.clip(np.floor(rng.normal(params["age_mean"], params["age_sd"], n)), _AGE_MIN, _AGE_MAX)
    age = age.astype(np.int64)[src]
    etiology_code = rng.choice(len(_ETIOLOGIES), size=n, p=_ETIOLOGY_P)[src]

    kyph = rng.random(n) < params["p_kyphoplasty"]
    fracture_days = np.rint(
        rng.lognormal(math.log(params["fracture_age_median_days"]), params["fracture_age_sigma"], n)
    )
    fracture_days = np.clip(fracture_days, 1, 365).astype(np.int64)
    early = fracture_days <= EARLY_DAYS
    baseline = rng.choice(_BASELINE_PAIN, size=n, p=_BASELINE_PAIN_P)
    levels = rng.choice(_LEVELS, size=n, p=_LEVELS_P)
    asa = rng.choice(_ASA, size=n, p=_ASA_P)
    physician = rng.integers(0, len(PHYSICIANS), n)

    # --- latent relief
    p_resp = special.expit(_responder_logit(params, kyph, early, physician, age, baseline))
    responder = rng.random(n) < p_resp
    median = np.where(
        kyph,
        params["relief_median_hours_kyphoplasty"],
        params["relief_median_hours_vertebroplasty"],
    )
    t_relief = median * np.exp(params["relief_sigma"] * rng.standard_normal(n))
    t_relief = np.where(responder, t_relief, np.inf)
    transient = rng.random(n) < params["p_transient_relief"]
    loss_rate = params["relief_loss_rate_per_year"] / HOURS_PER_YEAR
    durable_scale = 1.0 / loss_rate if loss_rate > 0 else np.inf
    unit_exp = rng.standard_exponential(n)
    t_loss = unit_exp * np.where(transient, params["transient_relief_mean_hours"], durable_scale)
    t_loss = np.where(np.isnan(t_loss), np.inf, t_loss)  # 0 * inf

    # --- discharge
    complication = rng.random(n) < params["p_complication"]
    p_same = special.expit(_same_day_logit(params, levels, asa, complication))
    same_day = rng.random(n) < p_same
    p_admit = np.where(complication, 0.8, params["p_admitted_if_stay"])
    admitted = ~same_day & (rng.random(n) < p_admit)
    discharge_code = np.where(same_day, 0, np.where(admitted, 2, 1))
    los = np.where(
        same_day,
        rng.uniform(3.0, 10.0, n),
        np.where(
            admitted, 30.0 + rng.lognormal(math.log(40.0), 0.6, n), rng.uniform(16.0, 30.0, n)
        ),
    )
    los = np.round(los * 2.0) / 2.0

    # --- imaging
    height = rng.normal(
        np.where(
            kyph,
            params["height_restoration_mean_kyphoplasty"],
            params["height_restoration_mean_vertebroplasty"],
        ),
        params["height_restoration_sd"],
    )
    angle = rng.normal(
        np.where(
            kyph,
            params["kyphotic_angle_change_mean_kyphoplasty"],
            params["kyphotic_angle_change_mean_vertebroplasty"],
        ),
        params["kyphotic_angle_change_sd"],
    )
    no_imaging = rng.random(n) < params["p_missing_imaging"]
    height = np.where(no_imaging, np.nan, np.round(height, 1))
    angle = np.where(no_imaging, np.nan, np.round(angle, 1))

    # --- procedures in date order (ids follow it); visits are drawn in that order
    order = np.argsort(day, kind="stable")
    t_relief, t_loss, baseline = t_relief[order], t_loss[order], baseline[order]

    # --- visits: baseline plus the schedule, jittered, rounded to 0.1 h
    long_term = rng.random(n) < params["p_long_term"]
    lfu_rate = params["loss_to_follow_up_rate_per_year"] / HOURS_PER_YEAR
    lost_at = rng.standard_exponential(n) / lfu_rate if lfu_rate > 0 else np.full(n, np.inf)
    n_visits = len(_VISIT_HOURS)
    jitter = rng.uniform(-1.0, 1.0, (n, n_visits))
    times = np.round(_VISIT_HOURS + jitter * _VISIT_JITTER, 1)
    kept = rng.random((n, n_visits)) >= params["p_missed_visit"]
    kept &= times < lost_at[:, None]
    kept[:, n_visits - _LONG_TERM_VISITS :] &= long_term[:, None]
    baseline_time = -np.round(rng.uniform(1.0, 72.0, n), 1)
    times = np.concatenate([baseline_time[:, None], times], axis=1)
    kept = np.concatenate([np.ones((n, 1), dtype=bool), kept], axis=1)
    row_proc, row_visit = np.nonzero(kept)  # row-major: by procedure (date order), then time
    hours = times[row_proc, row_visit]
    is_baseline = row_visit == 0
    relieved = (t_relief[row_proc] <= hours) & (hours < t_relief[row_proc] + t_loss[row_proc])
    b_row = baseline[row_proc]
    thr = _relief_threshold(b_row)
    m = len(hours)
    pain_relieved = thr - rng.binomial(thr, 0.4, m)
    pain_not = np.minimum(thr + 1 + rng.binomial(b_row - thr, 0.6, m), 10)
    pain = np.where(is_baseline, b_row, np.where(relieved, pain_relieved, pain_not))
    pain = pain.astype(np.int64)

    # --- frames
    width = max(6, len(str(n)))
    proc_id_text = _ids("P", np.arange(1, n + 1), width)
    proc_ids = pd.array(proc_id_text, dtype="str")
    patient_codes, _ = pd.factorize(patient[order])
    n_patients = int(patient_codes.max()) + 1
    patient_ids = _ids("Q", np.arange(1, n_patients + 1), max(5, len(str(n))))
    day_o = day[order]
    fracture_o = day_o - fracture_days[order]  # days since _START, may be negative
    first_day = int(fracture_o.min())
    calendar = _START + np.arange(first_day, span + 1).astype("timedelta64[D]")
    physician_o = physician[order]

    procedures = pd.DataFrame(
        {
            "procedure_id": proc_ids,
            "patient_id": _strings(patient_ids, patient_codes),
            "procedure": _strings(np.array(PROCEDURES), kyph[order]),
            "procedure_date": _strings(calendar, day_o - first_day),
            "fracture_date": _strings(calendar, fracture_o - first_day),
            "baseline_pain": baseline.astype(np.int64),
            "levels_treated": levels[order].astype(np.int64),
            "etiology": _strings(_ETIOLOGIES, etiology_code[order]),
            "age": age[order],
            "sex": _strings(np.array(["M", "F"]), female[order]),
            "asa_class": asa[order].astype(np.int64),
            "discharge": _strings(DISCHARGES, discharge_code[order]),
            "length_of_stay_hours": los[order],
            "complication": complication[order],
            "physician_id": _strings(np.array(PHYSICIANS), physician_o),
            "site_id": _strings(np.array(["synthetic-north", "synthetic-south"]), physician_o >= 3),
            "height_restoration_pct": height[order],
            "kyphotic_angle_change_deg": angle[order],
        }
    )

    a_code, a_hours, a_pain = row_proc, hours, pain
    id_values = proc_ids
    counts = dict.fromkeys(_ERROR_KINDS, 0)
    if n_errors:
        a_code, a_hours, a_pain, counts = _inject_errors(rng, n_errors, a_code, a_hours, a_pain)
        unknown_id = "P999999" if n < 999_999 else "P" + "9" * (width + 1)
        id_values = pd.array(np.append(proc_id_text, unknown_id), dtype="str")  # code n
    assessments = pd.DataFrame(
        {
            "procedure_id": id_values.take(a_code),
            "hours_after": a_hours,
            "pain": a_pain.astype(np.int64),
            "instrument": _strings(np.array(["nrs"]), np.zeros(len(a_code), dtype=np.intp)),
        }
    )
    result = _truth(params)
    result["injected_errors"] = counts
    return procedures, assessments, result


def _inject_errors(rng, n_errors, a_code, a_hours, a_pain):
    """Make ``n_errors`` bad rows, kinds in turn; an unknown procedure gets code ``max + 1``."""
    kinds = [_ERROR_KINDS[k % len(_ERROR_KINDS)] for k in range(n_errors)]
    counts = {kind: kinds.count(kind) for kind in _ERROR_KINDS}
    follow_up = np.flatnonzero(a_hours > 0)
    n_targets = n_errors - counts["unknown_procedure_id"]
    if n_targets > len(follow_up):
        raise InputError(
            f"`data_errors` must be at most {len(follow_up)} for these records; got {n_errors!r}."
        )
    targets = rng.choice(follow_up, size=n_targets, replace=False)
    n_pain, n_hours = counts["pain_out_of_range"], counts["missing_hours_after"]
    a_pain = a_pain.copy()
    a_hours = a_hours.copy()
    a_pain[targets[:n_pain]] = 12
    a_hours[targets[n_pain : n_pain + n_hours]] = np.nan
    dup = targets[n_pain + n_hours :]
    n_unknown = counts["unknown_procedure_id"]
    unknown_hours = np.round(rng.uniform(20.0, 30.0, n_unknown), 1)
    unknown_pain = rng.integers(2, 8, n_unknown)
    m = len(a_code)
    unknown_code = np.full(n_unknown, a_code.max() + 1, dtype=a_code.dtype)
    a_code = np.concatenate([a_code, a_code[dup], unknown_code])
    a_hours = np.concatenate([a_hours, a_hours[dup], unknown_hours])
    a_pain = np.concatenate([a_pain, a_pain[dup], unknown_pain])
    # a duplicate sits right after its original; unknown ids go last (P999999 sorts last)
    key = np.concatenate([np.arange(m), dup + 0.5, m + np.arange(n_unknown)])
    final = np.argsort(key, kind="stable")
    return a_code[final], a_hours[final], a_pain[final], counts


def write_demo(
    directory: str | Path, *, n_procedures: int = 800, seed: int = 2026, data_errors: int = 6
) -> tuple[Path, Path, Path]:
    """Write the synthetic demo records ``procedures.csv``, ``assessments.csv`` and ``events.csv``.

    Parameters
    ----------
    directory : str or pathlib.Path
        Output directory, created if missing; existing files of those names are replaced.
    n_procedures : int, optional
        Number of procedures. Default 800.
    seed : int, optional
        Seed passed to :func:`simulate_safety`. Default 2026.
    data_errors : int, optional
        Bad pain rows injected to exercise validation. Default 6.

    Returns
    -------
    tuple of pathlib.Path
        The paths of ``procedures.csv`` (with ``last_contact_days``), ``assessments.csv`` (pain
        scores, and ODI and RMDQ scores as rows with ``instrument`` and ``score``) and
        ``events.csv`` (complications, new vertebral fractures and deaths).

    Notes
    -----
    The records are :func:`simulate_safety`'s, whose procedures and pain scores are
    :func:`simulate`'s for the same seed. The files are written with ``\\n`` line endings and no
    index, so the same arguments reproduce them byte for byte. All other parameters are the
    defaults.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [path.name for path in write_demo(tmp, n_procedures=50)]
    ['procedures.csv', 'assessments.csv', 'events.csv']
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    procedures, assessments, events, _ = simulate_safety(n_procedures, seed=seed, data_errors=data_errors)
    paths = (directory / "procedures.csv", directory / "assessments.csv", directory / "events.csv")
    for frame, path in zip((procedures, assessments, events), paths):
        frame.to_csv(path, index=False, lineterminator="\n")
    return paths


def to_fhir(procedures: pd.DataFrame, assessments: pd.DataFrame, directory: str | Path, **options: Any) -> dict:
    """Write simulated records as a FHIR Bulk Data export: :func:`outcomes.sources.fhir.write_fhir`.

    Examples
    --------
    >>> import tempfile
    >>> procedures, assessments, _ = simulate(10, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     "Procedure" in to_fhir(procedures, assessments, tmp)
    True
    """
    from .sources.fhir import write_fhir

    return write_fhir(procedures, assessments, directory, **options)


def to_omop(procedures: pd.DataFrame, assessments: pd.DataFrame, target: str | Path, **options: Any) -> dict:
    """Write simulated records as OMOP CDM tables: :func:`outcomes.sources.omop.write_omop`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> procedures, assessments, _ = simulate(10, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     to_omop(procedures, assessments, pathlib.Path(tmp) / "cdm.sqlite")["person"] > 0
    True
    """
    from .sources.omop import write_omop

    return write_omop(procedures, assessments, target, **options)


# --------------------------------------------------------------------------------------------
# safety and function: adverse events, new fractures, deaths, ODI / RMDQ

EVENT_CODES = (
    "symptomatic_cement_leak",
    "pulmonary_embolism",
    "neurologic_deficit",
    "infection",
    "rib_fracture",
    "new_fracture",
    "readmission",
    "reoperation",
    "death",
    "other",
)
DAYS_PER_YEAR = 365.25
COMPLICATION_DAYS = 30
NEW_FRACTURE_DAYS = 365
FUNCTION_HOURS = 336.0  # 2 weeks
ODI_IMPORTANT_CHANGE = 10  # points on 0-100 (Ostelo 2008)
RMDQ_IMPORTANT_CHANGE = 5  # points on 0-24 (Ostelo 2008)

# SIR major / minor types of a complication and their shares (given a complication of that class)
_MAJOR_TYPES = np.array(
    [
        "symptomatic_cement_leak",
        "pulmonary_embolism",
        "neurologic_deficit",
        "infection",
        "reoperation",
        "readmission",
    ]
)
_MAJOR_TYPES_P = np.array([0.25, 0.15, 0.15, 0.10, 0.10, 0.25])
_MINOR_TYPES = np.array(["symptomatic_cement_leak", "rib_fracture", "other"])
_MINOR_TYPES_P = np.array([0.35, 0.25, 0.40])
_SPINE_LEVELS = np.array([f"T{k}" for k in range(4, 13)] + [f"L{k}" for k in range(1, 6)])
# function visits (hours) and jitter; every visit from 1 week on reads the plateau change
_FUNCTION_VISIT_HOURS = np.array([336.0, 1008.0, 2190.0, 8766.0])
_FUNCTION_VISIT_JITTER = np.array([48.0, 72.0, 336.0, 720.0])

_SAFETY_DEFAULTS: dict[str, Any] = {
    # 30-day complications, logit scale; reference: vertebroplasty, osteoporosis, other physicians
    "major_intercept": -4.2,
    "major_kyphoplasty_log_or": 0.2,
    "major_malignancy_log_or": 1.2,
    "major_trauma_log_or": 0.0,
    "worse_safety_physician": "D2",
    "major_worse_physician_log_or": 1.0,
    "minor_intercept": -2.75,
    "minor_kyphoplasty_log_or": 0.0,
    "minor_malignancy_log_or": 0.5,
    # new vertebral fracture and death: exponential rates per year, hazard ratios
    "fracture_rate_per_year": 0.12,
    "fracture_kyphoplasty_hr": 0.9,
    "fracture_malignancy_hr": 1.5,
    "fracture_trauma_hr": 0.5,
    "p_adjacent_fracture": 0.5,
    "death_rate_per_year_osteoporosis": 0.06,
    "death_rate_per_year_malignancy": 0.6,
    "death_rate_per_year_trauma": 0.03,
    # follow-up: loss to follow-up (exponential) and end of follow-up (uniform days)
    "contact_loss_rate_per_year": 0.15,
    "follow_up_min_days": 365.0,
    "follow_up_max_days": 1095.0,
    # function: plateau improvement D ~ N(mean, sd) from 1 week on, plus visit noise
    "odi_baseline_mean": 62.0,
    "odi_baseline_sd": 12.0,
    "odi_change_mean_vertebroplasty": 18.0,
    "odi_change_mean_kyphoplasty": 21.0,
    "odi_worse_physician_change": -8.0,
    "odi_change_sd": 14.0,
    "odi_visit_sd": 6.0,
    "rmdq_visit_sd": 2.0,
    "p_missed_function_visit": 0.15,
}
_SAFETY_POSITIVE = {
    "odi_baseline_sd",
    "odi_change_sd",
    "odi_visit_sd",
    "rmdq_visit_sd",
    "fracture_rate_per_year",
    "fracture_kyphoplasty_hr",
    "fracture_malignancy_hr",
    "fracture_trauma_hr",
    "follow_up_min_days",
    "follow_up_max_days",
}
_SAFETY_NON_NEGATIVE = {
    "death_rate_per_year_osteoporosis",
    "death_rate_per_year_malignancy",
    "death_rate_per_year_trauma",
    "contact_loss_rate_per_year",
}


def _safety_parameters(overrides: dict[str, Any]) -> dict[str, Any]:
    params = dict(_SAFETY_DEFAULTS)
    for name, value in overrides.items():
        if name == "worse_safety_physician":
            if value is not None and value not in PHYSICIANS:
                raise InputError(
                    f"`worse_safety_physician` must be one of {', '.join(PHYSICIANS)} or None; got {value!r}."
                )
            params[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise InputError(f"`{name}` must be a finite number; got {value!r}.")
        value = float(value)
        if name.startswith("p_") and not 0.0 <= value <= 1.0:
            raise InputError(f"`{name}` must be a probability in [0, 1]; got {value!r}.")
        if name in _SAFETY_POSITIVE and not value > 0.0:
            raise InputError(f"`{name}` must be positive; got {value!r}.")
        if name in _SAFETY_NON_NEGATIVE and value < 0.0:
            raise InputError(f"`{name}` must be zero or positive; got {value!r}.")
        params[name] = value
    if params["follow_up_max_days"] < params["follow_up_min_days"]:
        raise InputError(
            "`follow_up_max_days` must be >= `follow_up_min_days` "
            f"({params['follow_up_min_days']!r}); got {params['follow_up_max_days']!r}."
        )
    return params


def _etiology_term(params, prefix: str, etiology_code) -> np.ndarray:
    """Per-etiology log odds ratio (osteoporosis reference, then malignancy, trauma)."""
    terms = np.array([0.0, params[f"{prefix}_malignancy_log_or"], params.get(f"{prefix}_trauma_log_or", 0.0)])
    return terms[etiology_code]


def _major_logit(params, kyph, etiology_code, physician_code):
    worse = params["worse_safety_physician"]
    worse_code = -1 if worse is None else PHYSICIANS.index(worse)
    return (
        params["major_intercept"]
        + params["major_kyphoplasty_log_or"] * kyph
        + _etiology_term(params, "major", etiology_code)
        + params["major_worse_physician_log_or"] * (physician_code == worse_code)
    )


def _minor_logit(params, kyph, etiology_code):
    return (
        params["minor_intercept"]
        + params["minor_kyphoplasty_log_or"] * kyph
        + _etiology_term(params, "minor", etiology_code)
    )


def _fracture_rate(params, kyph, etiology_code):
    hr_etiology = np.array([1.0, params["fracture_malignancy_hr"], params["fracture_trauma_hr"]])
    return (
        params["fracture_rate_per_year"]
        * np.where(kyph, params["fracture_kyphoplasty_hr"], 1.0)
        * hr_etiology[etiology_code]
    )


def _death_rate(params, etiology_code):
    rates = np.array([params[f"death_rate_per_year_{e}"] for e in ("osteoporosis", "malignancy", "trauma")])
    return rates[etiology_code]


def _odi_change_mean(params, kyph, physician_code):
    worse = params["worse_safety_physician"]
    worse_code = -1 if worse is None else PHYSICIANS.index(worse)
    return (
        np.where(kyph, params["odi_change_mean_kyphoplasty"], params["odi_change_mean_vertebroplasty"])
        + params["odi_worse_physician_change"] * (physician_code == worse_code)
    )


def _pair_share(base: dict[str, Any]) -> float:
    """Share of procedures that are a patient's earlier one of two (as many are the later one).

    :func:`simulate` marks a procedure as the previous one's second with probability ``q (1 -
    q)``, ``q = p_second_procedure / (1 + p_second_procedure)`` (its own draw and not the
    previous one's); each pair holds one earlier procedure (large-n limit).
    """
    q = base["p_second_procedure"] / (1.0 + base["p_second_procedure"])
    return q * (1.0 - q)


def _safety_truth(params: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Population values of the safety and function quantities (exact sums over procedure x
    etiology x physician; closed forms within a cell)."""
    p_kyph = base["p_kyphoplasty"]
    kyph = np.array([0, 1])[:, None, None]
    etio = np.arange(len(_ETIOLOGIES))[None, :, None]
    phys = np.arange(len(PHYSICIANS))[None, None, :]
    weight = (
        np.array([1.0 - p_kyph, p_kyph])[:, None, None]
        * _ETIOLOGY_P[None, :, None]
        * np.full(len(PHYSICIANS), 1.0 / len(PHYSICIANS))[None, None, :]
    )
    shape = (2, len(_ETIOLOGIES), len(PHYSICIANS))
    weight = np.broadcast_to(weight, shape)

    def mean(values, mask=None) -> float:
        values = np.broadcast_to(values, shape)
        w = weight if mask is None else weight * np.broadcast_to(mask, shape)
        total = w.sum()
        return float((values * w).sum() / total) if total > 0 else math.nan

    lam_d = _death_rate(params, etio)
    # a complication is recorded only on a day up to the last contact (death or loss of contact,
    # counted in whole days up): the truth is the share recorded, which is what the records can
    # show; day 0 is always recorded (follow-up ends at follow_up_min_days or later; 30 days or
    # more assumed, as the default 365)
    hazard = (lam_d + params["contact_loss_rate_per_year"]) / DAYS_PER_YEAR
    # a patient's earlier procedure (a share `pair` of all, in every cell) is followed from the
    # later one, `gap` days on (uniform, as simulate draws it): its last contact is gap days
    # later, its death too; the weights average over gap
    pair, gap = _pair_share(base), np.arange(_PAIR_GAP_DAYS[0], _PAIR_GAP_DAYS[1] + 1, dtype=float)

    def recorded(days: np.ndarray, after: np.ndarray | float = 0.0) -> np.ndarray:
        lag = np.maximum(np.subtract.outer(days, after) - 1.0, 0.0).ravel()
        return np.exp(-hazard[..., None] * lag).mean(axis=-1)

    month, leak_days = np.arange(COMPLICATION_DAYS + 1, dtype=float), np.arange(3, dtype=float)

    def recorded_share(types: np.ndarray, shares: np.ndarray) -> np.ndarray:
        leak = float(shares[types == "symptomatic_cement_leak"].sum())
        single = leak * recorded(leak_days) + (1.0 - leak) * recorded(month)
        earlier = leak * recorded(leak_days, gap) + (1.0 - leak) * recorded(month, gap)
        return single, earlier

    p_major = special.expit(_major_logit(params, kyph, etio, phys))
    major_single, major_earlier = (p_major * r for r in recorded_share(_MAJOR_TYPES, _MAJOR_TYPES_P))
    major = (1.0 - pair) * major_single + pair * major_earlier
    minor_single, minor_earlier = recorded_share(_MINOR_TYPES, _MINOR_TYPES_P)
    minor = special.expit(_minor_logit(params, kyph, etio)) * ((1.0 - pair) * minor_single + pair * minor_earlier)
    lam_f = _fracture_rate(params, kyph, etio)
    # death within 30 days: day ceil(365.25 T) <= 30, T ~ Exp(lam_d); for an earlier procedure
    # gap + ceil(365.25 T) <= 30 (T from the later procedure)
    death_single = 1.0 - np.exp(-lam_d * COMPLICATION_DAYS / DAYS_PER_YEAR)
    death_earlier = (1.0 - np.exp(-lam_d[..., None] * np.maximum(COMPLICATION_DAYS - gap, 0.0) / DAYS_PER_YEAR))
    death_earlier = death_earlier.mean(axis=-1)
    death_30 = (1.0 - pair) * death_single + pair * death_earlier
    # a major complication and a death taken as independent given the cell and the kind of
    # procedure (a complication not recorded because of a death within 30 days counts anyway;
    # the error is below 0.1% of the major rate)
    major_or_death = 1.0 - (1.0 - pair) * (1.0 - major_single) * (1.0 - death_single) - pair * (
        1.0 - major_earlier) * (1.0 - death_earlier)
    year = NEW_FRACTURE_DAYS / DAYS_PER_YEAR
    total = lam_f + lam_d
    cif_single = lam_f / total * (1.0 - np.exp(-total * year))
    # an earlier procedure: its own fracture on a day up to the later procedure's
    # (ceil(365.25 T_f) <= gap) or the one the later procedure treats, dated after the earlier
    # procedure (fracture age < gap; age = rint(LogNormal), so P(age >= gap) = P(LogNormal >=
    # gap - 0.5)); no death can come first; gap <= 330 < 365 days
    age_at_least = stats.norm.sf(
        (np.log(gap - 0.5) - math.log(base["fracture_age_median_days"])) / base["fracture_age_sigma"]
    )
    cif_earlier = 1.0 - (np.exp(-lam_f[..., None] * gap / DAYS_PER_YEAR) * age_at_least).mean(axis=-1)
    cif = (1.0 - pair) * cif_single + pair * cif_earlier
    odi_mean = _odi_change_mean(params, kyph, phys)
    odi_sd = math.hypot(params["odi_change_sd"], params["odi_visit_sd"])
    # scores are whole (ODI: even) numbers: an improvement of >= 10 ODI points is D + e > 9,
    # of >= 5 RMDQ points 0.24 D + e > 4.5 (see simulate_safety's Notes)
    odi_improved = stats.norm.sf(ODI_IMPORTANT_CHANGE - 1, loc=odi_mean, scale=odi_sd)
    rmdq_sd = math.hypot(0.24 * params["odi_change_sd"], params["rmdq_visit_sd"])
    rmdq_improved = stats.norm.sf(RMDQ_IMPORTANT_CHANGE - 0.5, loc=0.24 * odi_mean, scale=rmdq_sd)

    truth: dict[str, Any] = {}
    for key, cell in [
        ("major_complication_30d", major),
        ("minor_complication_30d", minor),
        ("death_30d", death_30),
        ("major_or_death_30d", major_or_death),
        ("new_fracture_1y", cif),
        ("odi_improved", odi_improved),
        ("rmdq_improved", rmdq_improved),
    ]:
        truth[key] = mean(cell)
        for k, proc in enumerate(PROCEDURES):
            truth[f"{key}_{proc}"] = mean(cell, kyph == k)
        truth[f"{key}_by_etiology"] = {str(e): mean(cell, etio == j) for j, e in enumerate(_ETIOLOGIES)}
        truth[f"{key}_by_physician"] = {d: mean(cell, phys == j) for j, d in enumerate(PHYSICIANS)}
    truth["major_complication_30d_by_procedure_etiology"] = {
        f"{proc}/{e}": mean(major, (kyph == k) & (etio == j))
        for k, proc in enumerate(PROCEDURES)
        for j, e in enumerate(_ETIOLOGIES)
    }
    truth["worse_safety_physician"] = params["worse_safety_physician"]
    truth["safety_parameters"] = dict(params)
    return truth


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """ISO dates as whole days since 1970-01-01."""
    return np.asarray(pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64))


def _procedure_pairs(procedures: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of each patient's earlier and next procedure and the days between them.

    :func:`simulate` gives a patient at most two procedures, 21 to 330 days apart, its rows in
    date order; ``earlier[k]`` and ``later[k]`` are the k-th pair's rows, ``gap[k]`` the days.
    """
    patient = pd.factorize(procedures["patient_id"])[0]
    rows = np.arange(len(patient))
    later = rows[pd.Series(patient).duplicated().to_numpy()]
    _, first = np.unique(patient, return_index=True)
    earlier = first[patient[later]]
    day = _day_numbers(procedures["procedure_date"])
    return earlier, later, day[later] - day[earlier]


def _none_if_empty(values: pd.Series) -> np.ndarray:
    arr = values.to_numpy(dtype=object)
    return np.where(arr == "", None, arr)


def simulate_safety(
    n_procedures: int,
    *,
    seed: int | np.random.Generator | None = None,
    data_errors: int = 0,
    **truth: Any,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Simulate records with adverse events, new fractures, deaths and function scores.

    The procedures and pain scores are :func:`simulate`'s (the same seed gives the same rows);
    this adds an events table, follow-up on the procedure row and ODI / RMDQ scores, from a
    model whose population values are known.

    Parameters
    ----------
    n_procedures : int
        Number of procedures, at least 1.
    seed : int, numpy.random.Generator or None, optional
        As :func:`simulate`.
    data_errors : int, optional
        As :func:`simulate` (bad pain rows only).
    **truth
        Overrides of :func:`simulate`'s parameters and of the safety parameters, by name (all in
        ``truth["safety_parameters"]``): ``major_intercept``, ``major_kyphoplasty_log_or``,
        ``major_malignancy_log_or``, ``major_trauma_log_or``, ``worse_safety_physician`` (D1..D6 or
        None), ``major_worse_physician_log_or``, ``minor_intercept``, ``minor_kyphoplasty_log_or``,
        ``minor_malignancy_log_or``, ``fracture_rate_per_year``, ``fracture_kyphoplasty_hr``,
        ``fracture_malignancy_hr``, ``fracture_trauma_hr``, ``p_adjacent_fracture``,
        ``death_rate_per_year_osteoporosis``, ``death_rate_per_year_malignancy``,
        ``death_rate_per_year_trauma``, ``contact_loss_rate_per_year``, ``follow_up_min_days``,
        ``follow_up_max_days``, ``odi_baseline_mean``, ``odi_baseline_sd``,
        ``odi_change_mean_vertebroplasty``, ``odi_change_mean_kyphoplasty``,
        ``odi_worse_physician_change``, ``odi_change_sd``, ``odi_visit_sd``, ``rmdq_visit_sd``,
        ``p_missed_function_visit``.

    Returns
    -------
    procedures : pandas.DataFrame
        :func:`simulate`'s columns plus ``last_contact_days`` (days from the procedure to the
        patient's last contact or death: the same day for both procedures of a patient).
    assessments : pandas.DataFrame
        :func:`simulate`'s rows plus ODI (``instrument = "odi"``, 0-100 in steps of 2) and RMDQ
        (``"rmdq"``, 0-24) rows; columns ``procedure_id, hours_after, pain, instrument, score``,
        with ``pain`` (nullable integer) empty on function rows and ``score`` the value on every
        row (the pain score on ``nrs`` rows).
    events : pandas.DataFrame
        One row per adverse event: ``procedure_id``, ``event`` (canonical code), ``days_after``
        (whole days after the procedure), ``severity`` (``major`` | ``minor``, SIR; empty for a
        new fracture), ``level`` (vertebral level of a new fracture or a cement leak),
        ``adjacent`` (new fracture next to a treated level; empty otherwise). A patient's death
        is an event of each of the patient's procedures (the same day).
    truth : dict
        :func:`simulate`'s truth plus, each also ``_<procedure>``, ``_by_etiology`` and
        ``_by_physician``: ``major_complication_30d`` (a major complication other than death
        within 30 days, as recorded: on a day up to the last contact), ``minor_complication_30d``, ``death_30d``, ``major_or_death_30d``,
        ``new_fracture_1y`` (cumulative incidence of a new vertebral fracture by day 365, death
        competing), ``odi_improved`` (share with an ODI improvement of >= 10 points at 2 weeks),
        ``rmdq_improved`` (>= 5 points); ``major_complication_30d_by_procedure_etiology``,
        ``worse_safety_physician``, ``safety_parameters``.

    Notes
    -----
    Latent model, per procedure, given procedure, etiology (osteoporosis / malignancy / trauma)
    and physician, independently of the pain model:

    - a major complication within 30 days with probability ``expit(major_intercept + ...)``
      (log odds ratios for kyphoplasty, etiology and ``worse_safety_physician``), its type drawn
      from ``_MAJOR_TYPES`` (cement leak, embolism, neurologic deficit, infection, reoperation,
      readmission); a minor one likewise (cement leak, rib fracture, other); days uniform on
      0..30 (a cement leak on 0..2);
    - a new vertebral fracture at ``T_f ~ Exp(rate)`` years (hazard ratios for kyphoplasty and
      etiology) and death at ``T_d ~ Exp(rate by etiology)``; a fracture is recorded only if
      ``T_f < T_d``; ``days_after = ceil(365.25 T)``;
    - follow-up ends at ``C = min(Exp(contact_loss_rate_per_year), Uniform(follow_up_min_days,
      follow_up_max_days))``; events after C are not recorded; ``last_contact_days =
      ceil(min(C, T_d))``;
    - a patient with two procedures (``gap`` days apart, see :func:`simulate`) has one death and
      one follow-up: the later procedure's ``T_d`` and ``C`` are the patient's (the patient was
      alive and followed when it was done; both exponential parts are memoryless), and the
      earlier procedure's death and last contact are the same days (``gap +`` the later
      procedure's days). The earlier procedure's new fractures are its own ``T_f`` up to the later
      procedure's day (``days_after <= gap``; later ones are the later procedure's, as a FHIR or
      OMOP reader links a fracture to the latest procedure before it) and the fracture the later
      procedure treats when it came after the earlier procedure (``days_after = gap -`` its
      fracture age, when that is >= 1);
    - function: ``D ~ N(odi_change_mean_<procedure> + odi_worse_physician_change [physician is
      worse_safety_physician], odi_change_sd)`` ODI points, reached by 1 week (a linear rise
      before); baseline ODI ``2 round(N(odi_baseline_mean, odi_baseline_sd) / 2)`` on 20..100;
      a visit scores ``clip(2 round((baseline - D t_frac - e) / 2), 0, 100)`` with ``e ~ N(0,
      odi_visit_sd)``; RMDQ: baseline ``round(0.24 * ODI baseline)`` on 5..24, visits ``clip(
      round(baseline - 0.24 D - e_r), 0, 24)``, ``e_r ~ N(0, rmdq_visit_sd)``. Visits at 2 and 6
      weeks, 3 and 12 months, each missed with ``p_missed_function_visit``, none after the last
      contact. An improvement of >= 10 ODI points is then exactly ``D + e > 9`` (>= 5 RMDQ
      points: ``0.24 D + e_r > 4.5``), normal probabilities in closed form. Function depends on
      procedure and physician only, deaths on etiology only, so a missing visit after a death
      does not bias the observed share.

    The truth mixes, in every cell, the single (and later) procedures' closed forms with the
    earlier procedures' (a share ``q (1 - q)``, ``q = p_second_procedure / (1 +
    p_second_procedure)``), averaged over the uniform gap and the later procedure's fracture age
    (log-normal): a patient's second procedure raises the earlier one's new-fracture incidence
    (0.104 to 0.140 by 1 year at the defaults).

    Examples
    --------
    >>> procedures, assessments, events, truth = simulate_safety(300, seed=1)
    >>> list(events.columns)
    ['procedure_id', 'event', 'days_after', 'severity', 'level', 'adjacent']
    >>> sorted(assessments["instrument"].unique())
    ['nrs', 'odi', 'rmdq']
    >>> round(truth["new_fracture_1y"], 3), round(truth["odi_improved"], 3)
    (0.14, 0.722)
    """
    n = _check_count("n_procedures", n_procedures, 1)
    base_names = set(_DEFAULTS)
    unknown = sorted(set(truth) - base_names - set(_SAFETY_DEFAULTS))
    if unknown:
        raise InputError(
            f"`{unknown[0]}` must be a parameter of simulate or simulate_safety; got {unknown[0]!r}."
        )
    params = _safety_parameters({k: v for k, v in truth.items() if k in _SAFETY_DEFAULTS})
    rng = np.random.default_rng(seed)
    procedures, assessments, base_truth = simulate(
        n, seed=rng, data_errors=data_errors, **{k: v for k, v in truth.items() if k in base_names}
    )

    kyph = (procedures["procedure"] == "kyphoplasty").to_numpy()
    etiology_code = pd.Categorical(procedures["etiology"], categories=_ETIOLOGIES).codes.astype(np.intp)
    physician_code = pd.Categorical(procedures["physician_id"], categories=PHYSICIANS).codes.astype(np.intp)

    # --- follow-up, deaths and new fractures (years)
    loss = params["contact_loss_rate_per_year"]
    lost = rng.standard_exponential(n) / loss if loss > 0 else np.full(n, np.inf)
    horizon = rng.uniform(params["follow_up_min_days"], params["follow_up_max_days"], n) / DAYS_PER_YEAR
    censor = np.minimum(lost, horizon)
    lam_d = _death_rate(params, etiology_code)
    with np.errstate(divide="ignore"):
        t_death = np.where(lam_d > 0, rng.standard_exponential(n) / np.where(lam_d > 0, lam_d, 1.0), np.inf)
    t_fracture = rng.standard_exponential(n) / _fracture_rate(params, kyph, etiology_code)
    death_seen = t_death <= censor
    fracture_seen = (t_fracture < t_death) & (t_fracture <= censor)
    to_days = lambda years: np.maximum(np.ceil(years * DAYS_PER_YEAR), 0).astype(np.int64)  # noqa: E731
    last_contact = to_days(np.minimum(censor, t_death))
    death_day = to_days(t_death)
    fracture_day = to_days(t_fracture)
    # --- one death and one follow-up per patient: a patient's earlier procedure takes them from
    # the later one (the patient was alive and followed when it was done), its own new fractures
    # only up to the later procedure's day, and the fracture the later procedure treats when it
    # came after the earlier procedure (a new fracture of the earlier one)
    earlier, later, gap = _procedure_pairs(procedures)
    index_age = _day_numbers(procedures["procedure_date"]) - _day_numbers(procedures["fracture_date"])
    index_new = index_age[later] < gap  # days_after = gap - index_age[later] >= 1
    death_seen[earlier] = death_seen[later]
    death_day[earlier] = gap + death_day[later]
    last_contact[earlier] = gap + last_contact[later]
    fracture_seen[earlier] = fracture_day[earlier] <= gap  # later ones are the later procedure's
    adjacent = rng.random(n) < params["p_adjacent_fracture"]
    fracture_level = rng.integers(0, len(_SPINE_LEVELS), n)

    # --- 30-day complications
    major = rng.random(n) < special.expit(_major_logit(params, kyph, etiology_code, physician_code))
    minor = rng.random(n) < special.expit(_minor_logit(params, kyph, etiology_code))
    major_type = rng.choice(len(_MAJOR_TYPES), size=n, p=_MAJOR_TYPES_P)
    minor_type = rng.choice(len(_MINOR_TYPES), size=n, p=_MINOR_TYPES_P)
    major_day = rng.integers(0, COMPLICATION_DAYS + 1, n)
    minor_day = rng.integers(0, COMPLICATION_DAYS + 1, n)
    leak_day_major = rng.integers(0, 3, n)
    leak_day_minor = rng.integers(0, 3, n)
    leak_level = rng.integers(0, len(_SPINE_LEVELS), n)
    major_day = np.where(_MAJOR_TYPES[major_type] == "symptomatic_cement_leak", leak_day_major, major_day)
    minor_day = np.where(_MINOR_TYPES[minor_type] == "symptomatic_cement_leak", leak_day_minor, minor_day)
    # a complication is recorded if it happens before the end of follow-up and before death
    major &= major_day <= last_contact
    minor &= minor_day <= last_contact

    # --- function scores: ODI (0-100, even) and RMDQ (0-24)
    change = rng.normal(_odi_change_mean(params, kyph, physician_code), params["odi_change_sd"])
    odi_drawn = rng.normal(params["odi_baseline_mean"], params["odi_baseline_sd"], n)
    odi_base = np.clip(2 * np.round(odi_drawn / 2), 20, 100)
    rmdq_base = np.clip(np.round(0.24 * odi_base), 5, 24)
    k = len(_FUNCTION_VISIT_HOURS)
    hours = np.round(_FUNCTION_VISIT_HOURS + rng.uniform(-1, 1, (n, k)) * _FUNCTION_VISIT_JITTER, 1)
    kept = (rng.random((n, k)) >= params["p_missed_function_visit"]) & (hours <= 24.0 * last_contact[:, None])
    frac = np.minimum(hours / 168.0, 1.0)
    odi_noise = rng.normal(0, params["odi_visit_sd"], (n, k))
    odi = np.clip(2 * np.round((odi_base[:, None] - change[:, None] * frac - odi_noise) / 2), 0, 100)
    rmdq_noise = rng.normal(0, params["rmdq_visit_sd"], (n, k))
    rmdq = np.clip(np.round(rmdq_base[:, None] - 0.24 * change[:, None] * frac - rmdq_noise), 0, 24)
    baseline_hours = -np.round(rng.uniform(1.0, 72.0, n), 1)
    rows_p, rows_v = np.nonzero(kept)
    pid = procedures["procedure_id"].to_numpy()
    frames = [assessments.assign(score=assessments["pain"].astype(float))]
    for name, base_score, visit_score in [("odi", odi_base, odi), ("rmdq", rmdq_base, rmdq)]:
        frames.append(
            pd.DataFrame(
                {
                    "procedure_id": np.concatenate([pid, pid[rows_p]]),
                    "hours_after": np.concatenate([baseline_hours, hours[rows_p, rows_v]]),
                    "pain": pd.NA,
                    "instrument": name,
                    "score": np.concatenate([base_score, visit_score[rows_p, rows_v]]),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    order = np.lexsort((out["hours_after"].to_numpy(), out["procedure_id"].to_numpy().astype(str)))
    out = out.iloc[order].reset_index(drop=True)
    assessments = pd.DataFrame(
        {
            "procedure_id": pd.array(out["procedure_id"].to_numpy().astype(str), dtype="str"),
            "hours_after": out["hours_after"].to_numpy(dtype=float),
            "pain": pd.array(out["pain"].to_numpy(), dtype="Int64"),
            "instrument": pd.array(out["instrument"].to_numpy().astype(str), dtype="str"),
            "score": out["score"].to_numpy(dtype=float),
        }
    )
    # --- the fracture a patient's later procedure treats, as a new fracture of the earlier one
    # (its level and adjacency drawn last, so that every earlier draw is as before)
    index_fracture = np.zeros(n, dtype=bool)
    index_fracture[earlier] = index_new
    index_day = np.zeros(n, dtype=np.int64)
    index_day[earlier] = gap - index_age[later]
    index_level = rng.integers(0, len(_SPINE_LEVELS), n)
    index_adjacent = rng.random(n) < params["p_adjacent_fracture"]

    idx = np.arange(n)
    parts = []
    for mask, codes, days, severity, level, adj in [
        (major, _MAJOR_TYPES[major_type], major_day, "major", None, None),
        (minor, _MINOR_TYPES[minor_type], minor_day, "minor", None, None),
        (fracture_seen, np.full(n, "new_fracture"), fracture_day, "", fracture_level, adjacent),
        (index_fracture, np.full(n, "new_fracture"), index_day, "", index_level, index_adjacent),
        (death_seen, np.full(n, "death"), death_day, "major", None, None),
    ]:
        rows = idx[mask]
        lvl = np.full(len(rows), "", dtype=object)
        if level is not None:
            lvl = _SPINE_LEVELS[level[rows]].astype(object)
        leak = codes[rows] == "symptomatic_cement_leak"
        lvl = np.where(leak, _SPINE_LEVELS[leak_level[rows]], lvl)
        parts.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "event": codes[rows],
                    "days_after": days[rows],
                    "severity": severity,
                    "level": lvl,
                    "adjacent": pd.array(adj[rows], dtype="boolean")
                    if adj is not None
                    else pd.array([pd.NA] * len(rows), dtype="boolean"),
                }
            )
        )
    events = pd.concat(parts, ignore_index=True).sort_values(["row", "days_after"], kind="stable")
    events = pd.DataFrame(
        {
            "procedure_id": pd.array(
                procedures["procedure_id"].to_numpy()[events["row"].to_numpy()], dtype="str"
            ),
            "event": pd.array(events["event"].to_numpy().astype(str), dtype="str"),
            "days_after": events["days_after"].to_numpy(dtype=np.int64),
            # nullable strings: pandas 2's "str" would write a missing value as the text "<NA>"
            "severity": pd.array(_none_if_empty(events["severity"]), dtype=pd.StringDtype()),
            "level": pd.array(_none_if_empty(events["level"]), dtype=pd.StringDtype()),
            "adjacent": events["adjacent"].array,
        }
    )

    procedures = procedures.assign(last_contact_days=last_contact)
    result = dict(base_truth)
    result.update(_safety_truth(params, base_truth["parameters"]))
    return procedures, assessments, events, result
