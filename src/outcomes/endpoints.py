"""Endpoints: one row per procedure, derived from the pain scores under the definitions.

Every endpoint is defined once, in SQL (``outcomes/sql/endpoints.sql``): :func:`derive_endpoints`
runs it in process, with DuckDB querying the cohort's frames in place
(:func:`outcomes.pipeline.derive_in_process`), and :func:`outcomes.evaluate_registry` runs the
same statements where a registry lives. This module only assembles the frame: the procedure's
ids, the derived columns, and the procedure fields carried along.
"""

from __future__ import annotations

import pandas as pd

from .cohort import Cohort
from .definitions import Definitions
from .exceptions import InputError
from .pipeline import derive_in_process
from .safety import safety_columns
from .function import function_columns

__all__ = ["ENDPOINT_COLUMNS", "derive_endpoints"]

ENDPOINT_COLUMNS = (
    "procedure_id", "patient_id", "procedure", "baseline_pain", "relief_threshold", "n_followup",
    "last_followup_hours", "time_to_relief_hours", "relief_observed", "relief_interval_low_hours",
    "relief_interval_high_hours", "horizon_time_hours", "horizon_event", "relief_by_horizon", "success", "success_hours", "success_worst_case",
    "time_to_loss_hours", "loss_observed", "fracture_age_days", "early_treatment", "same_day_discharge",
    "overnight",
)
# Derived when their field exists: poor_general_health (ASA >= 3) and multiple_levels (>= 2 levels).
_FACTORS = {"poor_general_health": "asa_class", "multiple_levels": "levels_treated"}
_CARRIED = ("physician_id", "site_id", "procedure_date", "age", "sex", "asa_class", "levels_treated",
            "etiology", "complication", "discharge", "length_of_stay_hours", "height_restoration_pct",
            "kyphotic_angle_change_deg")


def _copy_on_write() -> bool:
    return int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True


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
        Columns ``ENDPOINT_COLUMNS`` (below; defined in ``outcomes/sql/endpoints.sql``),
        ``poor_general_health`` and ``multiple_levels`` when their fields exist, followed by
        the procedure fields carried along (physician_id, site_id, age, sex, asa_class,
        levels_treated, etiology, complication, discharge, ...):

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
    procs = cohort.procedures
    if not procs.index.equals(pd.RangeIndex(len(procs))):
        procs = procs.reset_index(drop=True)  # (pandas 2 copies every column here)
    derived = derive_in_process(procs, cohort.assessments, d)
    # under copy-on-write (pandas 3) the frame shares the cohort's columns safely; pandas 2 gets a
    # copy of each column, so that writing into the endpoints never changes the cohort (and the
    # derived ones, Arrow's read-only memory, can be written), one at a time: no 2-D block
    cow = _copy_on_write()

    def own(values: pd.Series) -> pd.Series:
        return values if cow else values.copy()

    columns = {name: own(procs[name]) for name in ENDPOINT_COLUMNS[:3]}
    columns.update({name: own(derived[name]) for name in ENDPOINT_COLUMNS[3:]})
    columns.update({name: own(derived[name]) for name, field in _FACTORS.items() if field in procs})
    columns.update({name: own(procs[name]) for name in _CARRIED if name in procs})
    if "procedure_year" in procs and ("procedure_date" not in procs or procs["procedure_date"].isna().any()):
        # Safe Harbor records (some procedures dated by year only): monitoring charts by year
        columns["procedure_year"] = own(procs["procedure_year"])
    # the safety endpoints (sql/safety.sql), one row per procedure in the same order
    for name, values in safety_columns(procs, cohort.events if cohort.has_events else None, d).items():
        if name not in columns:
            columns[name] = own(pd.Series(values, index=procs.index))
    # the function endpoints (sql/function_endpoints.sql)
    for name, values in function_columns(procs["procedure_id"], cohort.function_scores, d).items():
        columns[name] = own(pd.Series(values, index=procs.index) if not isinstance(values, pd.Series) else values)
    # copy=False: no 2-D block stacked from the numeric columns (a copy of each)
    out = pd.DataFrame(columns, copy=False)
    out.attrs["definitions"] = d.to_dict()
    return out
