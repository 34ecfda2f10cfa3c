"""Endpoints: one row per procedure, derived from the pain scores under the definitions.

Vectorised: each score carries its procedure's position, and per-procedure minima, maxima and
counts are unbuffered numpy reductions (``np.fmin.at``, ``np.bincount``); no per-procedure Python
loop and no group-by on text ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cohort import Cohort
from .definitions import Definitions
from .exceptions import InputError
from .function import function_endpoints

__all__ = ["ENDPOINT_COLUMNS", "derive_endpoints"]

ENDPOINT_COLUMNS = (
    "procedure_id", "patient_id", "procedure", "baseline_pain", "relief_threshold", "n_followup",
    "last_followup_hours", "time_to_relief_hours", "relief_observed", "relief_interval_low_hours",
    "relief_interval_high_hours", "horizon_time_hours", "horizon_event", "relief_by_horizon", "success", "success_hours", "success_worst_case",
    "time_to_loss_hours", "loss_observed", "fracture_age_days", "early_treatment", "same_day_discharge",
    "overnight",
)
# also, when the fields exist: poor_general_health (ASA >= 3), multiple_levels (>= 2 levels)
_CARRIED = ("physician_id", "site_id", "procedure_date", "age", "sex", "asa_class", "levels_treated",
            "etiology", "complication", "discharge", "length_of_stay_hours", "height_restoration_pct",
            "kyphotic_angle_change_deg")


def _positions(ids: pd.Series, index: pd.Index) -> np.ndarray:
    """Position in ``index`` (unique procedure ids) of each id; -1 where it is not there.

    Scores come in runs of one procedure's rows: each run's id is looked up once.
    """
    if len(ids) and ids.dtype == "string" and getattr(ids.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.chunked_array(pa.array(ids.array)).combine_chunks()
        starts = np.ones(len(text), dtype=bool)
        starts[1:] = pc.not_equal(text.slice(1), text.slice(0, len(text) - 1)).fill_null(True).to_numpy(
            zero_copy_only=False)
        first = np.flatnonzero(starts)
        known = pa.array(pd.Series(index, dtype=ids.dtype).array).cast(text.type)
        found = pc.index_in(text.take(pa.array(first)), value_set=known).fill_null(-1).to_numpy()
        return np.repeat(found.astype(np.int64), np.diff(np.append(first, len(text))))
    return index.get_indexer(ids)


def _reduce(values: np.ndarray, pos: np.ndarray, how: np.ufunc, n: int) -> np.ndarray:
    """Per procedure ``how`` (``np.fmin`` or ``np.fmax``: NaN-skipping, as pandas' group-by
    min/max) of ``values`` at positions ``pos``; NaN for a procedure without values."""
    out = np.full(n, np.nan)
    keep = pos >= 0
    how.at(out, pos[keep], values[keep])
    return out


def _spread(per_procedure: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """A per-procedure value on each score's row (NaN for a score of an unknown procedure)."""
    if pos.size and pos.min() >= 0:
        return per_procedure[pos]
    return np.where(pos >= 0, per_procedure[np.maximum(pos, 0)], np.nan)


def _boolean(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    """A nullable boolean array: ``values``, NA where ``missing``."""
    return pd.arrays.BooleanArray(np.where(missing, False, values).astype(bool), np.asarray(missing, dtype=bool))


def derive_endpoints(cohort: Cohort, definitions: Definitions | None = None) -> pd.DataFrame:
    """One row per procedure with every endpoint the claims use.

    Parameters
    ----------
    cohort : Cohort
        From :func:`outcomes.load_records`.
    definitions : Definitions, optional
        Defaults to :class:`Definitions()`.

    Returns
    -------
    pandas.DataFrame
        Columns ``ENDPOINT_COLUMNS`` (below) followed by the procedure fields carried along
        (physician_id, site_id, age, sex, asa_class, levels_treated, etiology, complication,
        discharge, ...):

        - ``baseline_pain``: the procedures table's value, else the last score in the baseline
          window before the procedure; ``relief_threshold`` the highest score counting as relief.
        - ``time_to_relief_hours`` / ``relief_observed``: hours to the first assessment showing
          relief, or the last assessment (censored) when none does; NaN with no follow-up or no
          baseline.
        - ``relief_interval_low_hours`` / ``relief_interval_high_hours``: relief happened after
          the last assessment without it and by the first with it (high = inf when censored): the
          interval-censored reading, for the Turnbull estimate.
        - ``horizon_time_hours`` / ``horizon_event``: time to relief for the "within 48 hours"
          analysis: as ``time_to_relief_hours``, except that a patient with no visit in the
          horizon window (48 h +/- grace) and no relief before it is censored at the last visit
          before the window (their status at 48 h is unknown).
        - ``relief_by_horizon``: relief seen by the end of the horizon window (True), a visit in
          the window without relief (False), else NA.
        - ``success`` (True/False/NA) at ``success_hours``, the assessment nearest the target in
          the window; ``success_worst_case`` counts NA as False.
        - ``time_to_loss_hours`` / ``loss_observed``: among the relieved, hours from the first
          relief to the first later assessment without relief (censored at the last assessment).
        - ``fracture_age_days``, ``early_treatment``, ``same_day_discharge``, ``overnight``.

    Examples
    --------
    >>> import pandas as pd
    >>> from outcomes import load_records
    >>> procs = pd.DataFrame({"procedure_id": ["P1", "P2"], "patient_id": ["A", "B"],
    ...     "procedure": ["vertebroplasty", "kyphoplasty"], "procedure_date": ["2022-01-03", "2022-01-04"],
    ...     "baseline_pain": [8, 8]})
    >>> scores = pd.DataFrame({"procedure_id": ["P1", "P1", "P2", "P2"], "hours_after": [24, 672, 48, 700],
    ...     "pain": [7, 5, 3, 6]})
    >>> ep = derive_endpoints(load_records(procs, scores))
    >>> ep[["procedure_id", "time_to_relief_hours", "relief_observed", "success"]].values.tolist()
    [['P1', 672.0, True, True], ['P2', 48.0, True, False]]
    """
    if not isinstance(cohort, Cohort):
        raise InputError(f"`cohort` must be a Cohort from outcomes.load_records; got {type(cohort).__name__}.")
    d = definitions or Definitions()
    if not isinstance(d, Definitions):
        raise InputError(f"`definitions` must be an outcomes.Definitions; got {type(d).__name__}.")
    procs = cohort.procedures.set_index("procedure_id", drop=False)
    index = procs.index
    n = len(index)
    scores = cohort.assessments
    # Each score's procedure as a position in the procedures table (-1: not there, ignored).
    pos = _positions(scores["procedure_id"], index)
    hours = scores["hours_after"].to_numpy(dtype=float)
    pain = scores["pain"].to_numpy(dtype=float)

    # Baseline: the procedures table first, then the last score in the window before the procedure.
    pre = (hours <= 0) & (hours >= -d.baseline_window_hours)
    last_pre_row = _reduce(np.flatnonzero(pre).astype(float), pos[pre], np.fmax, n)
    last_pre = np.full(n, np.nan)
    has_pre = ~np.isnan(last_pre_row)
    last_pre[has_pre] = pain[last_pre_row[has_pre].astype(np.int64)]
    baseline = procs["baseline_pain"].to_numpy(dtype=float) if "baseline_pain" in procs else np.full(n, np.nan)
    baseline = np.where(np.isnan(baseline), last_pre, baseline)

    post_mask = hours > 0
    post_pos, post_hours = pos[post_mask], hours[post_mask]
    post_base = _spread(baseline, post_pos)
    # d.is_relief(pain, baseline), with each procedure's threshold computed once
    threshold = _spread(d.relief_threshold(baseline), post_pos)
    relieved = d.at_or_below_threshold(pain[post_mask], threshold) & ~np.isnan(post_base)

    evaluable = ~np.isnan(baseline)
    n_followup = np.bincount(post_pos[post_pos >= 0], minlength=n)
    last_fu = _reduce(post_hours, post_pos, np.fmax, n)
    first_relief = _reduce(post_hours[relieved], post_pos[relieved], np.fmin, n)
    observed = ~np.isnan(first_relief)
    first_relief_at = _spread(first_relief, post_pos)
    first_relief_at = np.where(np.isnan(first_relief_at), np.inf, first_relief_at)
    before_relief = ~relieved & (post_hours < first_relief_at)
    last_without = _reduce(post_hours[before_relief], post_pos[before_relief], np.fmax, n)
    last_without = np.where(np.isnan(last_without), 0.0, last_without)

    time_to_relief = np.where(evaluable, np.where(observed, first_relief, last_fu), np.nan)
    timed = ~np.isnan(time_to_relief)

    # Relief by the horizon (48 h): the status is known from relief seen by the end of the
    # horizon window, or from a visit inside the window (horizon +/- grace) without relief. A
    # patient who missed the window and was relieved only later is censored at the last visit
    # before it for the horizon analysis: treating them as unrelieved until the later visit
    # would bias the Kaplan-Meier estimate low whenever visits are missed.
    window_low, window_high = d.relief_horizon_hours - d.relief_horizon_grace_hours, d.relief_horizon_evaluated_hours
    in_window = (post_hours >= window_low) & (post_hours <= window_high)
    seen_in_window = np.bincount(post_pos[in_window & (post_pos >= 0)], minlength=n) > 0
    early_visits = post_hours < window_low
    last_before_window = _reduce(post_hours[early_visits], post_pos[early_visits], np.fmax, n)
    relieved_by = observed & (first_relief <= window_high)
    unknown = timed & ~relieved_by & ~seen_in_window
    horizon_time = np.where(unknown, np.where(np.isnan(last_before_window), 0.0, last_before_window),
                            time_to_relief)
    horizon_event = _boolean(observed & ~unknown, ~timed)
    by_horizon = _boolean(relieved_by & evaluable,
                          ~((relieved_by & evaluable) | (evaluable & ~relieved_by & seen_in_window)))

    # Success: the assessment nearest the target inside the window (ties: the earlier one, then
    # the first row), as a stable sort by (procedure, distance, hours) keeping the first row.
    in_window = (post_hours >= d.success_window_low_hours) & (post_hours <= d.success_window_high_hours)
    in_window &= post_pos >= 0
    w_pos, w_hours, w_relieved = post_pos[in_window], post_hours[in_window], relieved[in_window]
    w_distance = np.abs(w_hours - d.success_target_hours)
    nearest = w_distance == _spread(_reduce(w_distance, w_pos, np.fmin, n), w_pos)
    nearest &= w_hours == _spread(_reduce(w_hours[nearest], w_pos[nearest], np.fmin, n), w_pos)
    first_row = _reduce(np.flatnonzero(nearest).astype(float), w_pos[nearest], np.fmin, n)
    has_window = ~np.isnan(first_row)
    chosen = first_row[has_window].astype(np.int64)
    success_value = np.zeros(n, dtype=bool)
    success_value[has_window] = w_relieved[chosen]
    success = _boolean(success_value, ~(has_window & evaluable))
    success_hours = np.full(n, np.nan)
    success_hours[has_window] = w_hours[chosen]
    success_hours = np.where(evaluable, success_hours, np.nan)
    worst = success_value & has_window & evaluable

    # Durability: among the relieved, the first later assessment without relief.
    after = post_hours > first_relief_at
    lost = after & ~relieved
    first_loss = _reduce(post_hours[lost], post_pos[lost], np.fmin, n)
    loss_observed = ~np.isnan(first_loss) & observed
    time_to_loss = np.where(observed & evaluable, np.where(loss_observed, first_loss, last_fu) - first_relief, np.nan)

    column = lambda values: pd.Series(values, index=index)  # noqa: E731
    out = pd.DataFrame({
        "procedure_id": procs["procedure_id"],
        "patient_id": procs["patient_id"],
        "procedure": procs["procedure"],
        "baseline_pain": column(baseline),
        "relief_threshold": column(np.where(evaluable, d.relief_threshold(baseline), np.nan)),
        "n_followup": column(n_followup.astype(int)),
        "last_followup_hours": column(last_fu),
        "time_to_relief_hours": column(time_to_relief),
        "relief_observed": column(_boolean(observed, ~timed)),
        "relief_interval_low_hours": column(np.where(observed, np.where(timed, last_without, np.nan), last_fu)),
        "relief_interval_high_hours": column(np.where(timed, np.where(observed, first_relief, np.inf), np.nan)),
        "horizon_time_hours": column(horizon_time),
        "horizon_event": column(horizon_event),
        "relief_by_horizon": column(by_horizon),
        "success": column(success),
        "success_hours": column(success_hours),
        "success_worst_case": column(worst),
        "time_to_loss_hours": column(time_to_loss),
        "loss_observed": column(_boolean(loss_observed, np.isnan(time_to_loss))),
    })
    if "fracture_age_days" in procs:
        age = procs["fracture_age_days"].astype(float)
        out["fracture_age_days"] = age
        out["early_treatment"] = (age <= d.early_max_fracture_age_days).astype("boolean").where(age.notna(), pd.NA)
    else:
        out["fracture_age_days"] = np.nan
        out["early_treatment"] = pd.Series(pd.NA, index=index, dtype="boolean")
    if "discharge" in procs:
        discharge = procs["discharge"]
        same = (discharge == "same_day").astype("boolean").where(discharge.notna(), pd.NA)
    else:
        same = pd.Series(pd.NA, index=index, dtype="boolean")
    out["same_day_discharge"] = same
    out["overnight"] = ~same
    # The factors of "overnight stays come with poor general health, several levels treated, or
    # complications": ASA class 3 or more, two or more levels.
    for name, column, cut in (("poor_general_health", "asa_class", 3), ("multiple_levels", "levels_treated", 2)):
        if column in procs:
            value = procs[column].astype(float)
            out[name] = (value >= cut).astype("boolean").where(value.notna(), pd.NA)
    for column in _CARRIED:
        if column in procs:
            out[column] = procs[column]
    if "procedure_year" in procs and ("procedure_date" not in procs or procs["procedure_date"].isna().any()):
        # Safe Harbor records (some procedures dated by year only): monitoring charts by year
        out["procedure_year"] = procs["procedure_year"]
    out.attrs["definitions"] = d.to_dict()
    return function_endpoints(out.reset_index(drop=True), cohort.function_scores, d)
