"""Endpoints: one row per procedure, derived from the pain scores under the definitions.

Vectorised with pandas group-bys over the sorted assessments: no per-procedure Python loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cohort import Cohort
from .definitions import Definitions
from .exceptions import InputError

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


def _per_procedure(values: pd.Series, ids: pd.Series, how: str, index: pd.Index) -> pd.Series:
    """Group ``values`` by procedure id with ``how`` ("min", "max", "size") and align to ``index``."""
    grouped = values.groupby(ids.to_numpy(), sort=False)
    out = grouped.size() if how == "size" else getattr(grouped, how)()
    return out.reindex(index)


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
    scores = cohort.assessments
    ids = scores["procedure_id"]
    hours = scores["hours_after"].astype(float)
    pain = scores["pain"].astype(float)

    # Baseline: the procedures table first, then the last score in the window before the procedure.
    pre = (hours <= 0) & (hours >= -d.baseline_window_hours)
    last_pre = scores[pre].drop_duplicates("procedure_id", keep="last").set_index("procedure_id")["pain"]
    baseline = procs["baseline_pain"].astype(float) if "baseline_pain" in procs else pd.Series(np.nan, index=index)
    baseline = baseline.fillna(last_pre.reindex(index))

    post_mask = hours > 0
    post = scores[post_mask]
    post_ids, post_hours = post["procedure_id"], post["hours_after"].astype(float)
    post_base = post_ids.map(baseline).astype(float)
    relieved = pd.Series(d.is_relief(pain[post_mask], post_base), index=post.index) & post_base.notna()

    evaluable = baseline.notna()
    n_followup = _per_procedure(post_hours, post_ids, "size", index).fillna(0).astype(int)
    last_fu = _per_procedure(post_hours, post_ids, "max", index)
    first_relief = _per_procedure(post_hours[relieved], post_ids[relieved], "min", index)
    observed = first_relief.notna()
    before_relief = ~relieved & (post_hours < post_ids.map(first_relief).fillna(np.inf))
    last_without = _per_procedure(post_hours[before_relief], post_ids[before_relief], "max", index).fillna(0.0)

    time_to_relief = first_relief.where(observed, last_fu).where(evaluable)

    # Relief by the horizon (48 h): the status is known from relief seen by the end of the
    # horizon window, or from a visit inside the window (horizon +/- grace) without relief. A
    # patient who missed the window and was relieved only later is censored at the last visit
    # before it for the horizon analysis: treating them as unrelieved until the later visit
    # would bias the Kaplan-Meier estimate low whenever visits are missed.
    window_low, window_high = d.relief_horizon_hours - d.relief_horizon_grace_hours, d.relief_horizon_evaluated_hours
    in_window = (post_hours >= window_low) & (post_hours <= window_high)
    seen_in_window = _per_procedure(post_hours[in_window], post_ids[in_window], "size", index).fillna(0) > 0
    early_visits = post_hours < window_low
    last_before_window = _per_procedure(post_hours[early_visits], post_ids[early_visits], "max", index)
    relieved_by = observed & (first_relief <= window_high)
    unknown = time_to_relief.notna() & ~relieved_by & ~seen_in_window
    horizon_time = time_to_relief.where(~unknown, last_before_window.fillna(0.0))
    horizon_event = (observed & ~unknown).where(time_to_relief.notna(), pd.NA).astype("boolean")
    by_horizon = pd.Series(pd.NA, index=index, dtype="boolean")
    by_horizon[relieved_by & evaluable] = True
    by_horizon[evaluable & ~relieved_by & seen_in_window] = False

    # Success: the assessment nearest the target inside the window (ties: the earlier one).
    in_window = (post_hours >= d.success_window_low_hours) & (post_hours <= d.success_window_high_hours)
    window = pd.DataFrame({"procedure_id": post_ids[in_window], "hours": post_hours[in_window],
                           "distance": (post_hours[in_window] - d.success_target_hours).abs(),
                           "relieved": relieved[in_window]})
    nearest = window.sort_values(["procedure_id", "distance", "hours"], kind="stable").drop_duplicates("procedure_id")
    nearest = nearest.set_index("procedure_id")
    success = nearest["relieved"].reindex(index).astype("boolean").where(evaluable, pd.NA)
    success_hours = nearest["hours"].reindex(index).where(evaluable)
    worst = success.fillna(False).astype(bool)

    # Durability: among the relieved, the first later assessment without relief.
    after = post_hours > post_ids.map(first_relief).fillna(np.inf)
    lost = after & ~relieved
    first_loss = _per_procedure(post_hours[lost], post_ids[lost], "min", index)
    loss_observed = first_loss.notna() & observed
    time_to_loss = (first_loss.where(loss_observed, last_fu) - first_relief).where(observed & evaluable)

    out = pd.DataFrame({
        "procedure_id": procs["procedure_id"],
        "patient_id": procs["patient_id"],
        "procedure": procs["procedure"],
        "baseline_pain": baseline,
        "relief_threshold": pd.Series(d.relief_threshold(baseline), index=index).where(evaluable),
        "n_followup": n_followup,
        "last_followup_hours": last_fu,
        "time_to_relief_hours": time_to_relief,
        "relief_observed": observed.where(time_to_relief.notna(), pd.NA).astype("boolean"),
        "relief_interval_low_hours": last_without.where(time_to_relief.notna()).where(observed, last_fu),
        "relief_interval_high_hours": first_relief.where(observed, np.inf).where(time_to_relief.notna()),
        "horizon_time_hours": horizon_time,
        "horizon_event": horizon_event,
        "relief_by_horizon": by_horizon,
        "success": success,
        "success_hours": success_hours,
        "success_worst_case": worst,
        "time_to_loss_hours": time_to_loss,
        "loss_observed": loss_observed.where(time_to_loss.notna(), pd.NA).astype("boolean"),
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
    out.attrs["definitions"] = d.to_dict()
    return out.reset_index(drop=True)
