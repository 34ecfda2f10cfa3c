"""The safety and function columns of the issue-12 contract, built here from raw
:func:`outcomes.synthetic.simulate_safety` frames for the report and monitoring tests.

:func:`safety_columns` is an independent pandas reading of the contract's definitions, which the
tests hold the package's SQL endpoints (``sql/safety.sql``, ``sql/function_endpoints.sql``) to; it
follows the contract word for word (major/minor within [0, window] days, death within the
window, time to a new fracture with death competing, ODI preferred to RMDQ, follow-up nearest
336 h inside [168, 1008] h, ties to the earlier, regained = change >= 10 ODI / 5 RMDQ points,
Ostelo 2008). It is a test's reference, not a second definition used by the package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import outcomes
from outcomes.synthetic import simulate_safety

EVENT_COLUMNS = ["procedure_id", "event", "days_after", "severity", "level", "adjacent"]
FUNCTION_COLUMNS = ["procedure_id", "hours_after", "instrument", "score"]
MCID = {"odi": 10.0, "rmdq": 5.0}  # Ostelo 2008


def contract_events(events: pd.DataFrame) -> pd.DataFrame:
    """``Cohort.events`` of the contract from simulate_safety's events."""
    return pd.DataFrame({
        "procedure_id": events["procedure_id"].astype("string"),
        "event": events["event"].astype("string"),
        "days_after": events["days_after"].astype(float),
        "severity": events["severity"].astype("string"),
        "level": events["level"].astype("string"),
        "adjacent": events["adjacent"].astype("boolean"),
    }).reset_index(drop=True)


def contract_function_scores(assessments: pd.DataFrame) -> pd.DataFrame:
    """``Cohort.function_scores`` of the contract: the ODI / RMDQ / EQ-5D VAS rows."""
    rows = assessments[assessments["instrument"].isin(["odi", "rmdq", "eq5d_vas"])]
    return pd.DataFrame({
        "procedure_id": rows["procedure_id"].astype("string"),
        "hours_after": rows["hours_after"].astype(float),
        "instrument": rows["instrument"].astype("string"),
        "score": rows["score"].astype(float),
    }).reset_index(drop=True)


def safety_columns(procedures: pd.DataFrame, events: pd.DataFrame | None, function: pd.DataFrame | None, *,
                   window: float = 30.0, target: float = 336.0, low: float = 168.0, high: float = 1008.0,
                   baseline_window: float = 720.0) -> pd.DataFrame:
    """The contract's endpoint columns, one row per procedure (index: procedure_id)."""
    ids = procedures["procedure_id"].astype(str).to_numpy()
    out = pd.DataFrame(index=pd.Index(ids, name="procedure_id"))
    last = (procedures.set_index(procedures["procedure_id"].astype(str))["last_contact_days"].astype(float)
            if "last_contact_days" in procedures else pd.Series(np.nan, index=out.index))
    out["last_contact_days"] = last.reindex(out.index).to_numpy()
    if events is None:
        for name in ("major_complication_30d", "minor_complication_30d", "death_30d"):
            out[name] = pd.array([pd.NA] * len(out), dtype="boolean")
        out["new_fracture_days"] = np.nan
        out["new_fracture_status"] = pd.array([pd.NA] * len(out), dtype="Int64")
    else:
        ev = events.assign(procedure_id=events["procedure_id"].astype(str))
        inside = ev["days_after"].between(0, window)
        not_death = ev["event"] != "death"
        for name, severity in (("major_complication_30d", "major"), ("minor_complication_30d", "minor")):
            hit = set(ev.loc[inside & not_death & (ev["severity"] == severity), "procedure_id"])
            out[name] = pd.array(out.index.isin(list(hit)), dtype="boolean")
        deaths = ev[ev["event"] == "death"].groupby("procedure_id")["days_after"].min()
        death_day = deaths.reindex(out.index)
        died = (death_day <= window).fillna(False)
        known = died | (out["last_contact_days"] >= window)
        out["death_30d"] = pd.array(np.where(known, died, pd.NA), dtype="boolean")
        fractures = ev[ev["event"] == "new_fracture"].groupby("procedure_id")["days_after"].min().reindex(out.index)
        first_fracture = fractures.notna() & ~(death_day < fractures)
        days = np.where(first_fracture, fractures, np.where(death_day.notna(), death_day, out["last_contact_days"]))
        status = np.where(first_fracture, 1, np.where(death_day.notna(), 2, 0))
        out["new_fracture_days"] = days.astype(float)
        out["new_fracture_status"] = pd.array(np.where(np.isnan(days.astype(float)), pd.NA, status), dtype="Int64")
    for name in ("function_instrument",):
        out[name] = pd.array([pd.NA] * len(out), dtype="string")
    for name in ("function_baseline", "function_followup", "function_hours", "function_change"):
        out[name] = np.nan
    out["function_regained"] = pd.array([pd.NA] * len(out), dtype="boolean")
    if function is not None and len(function):
        f = function.assign(procedure_id=function["procedure_id"].astype(str))
        for instrument in ("rmdq", "odi"):  # ODI last: it wins where a procedure has both
            mine = f[f["instrument"] == instrument]
            base = mine[mine["hours_after"].between(-baseline_window, 0)].sort_values("hours_after")
            base = base.groupby("procedure_id")["score"].last()
            follow = mine[mine["hours_after"].between(low, high)].copy()
            follow["distance"] = (follow["hours_after"] - target).abs()
            follow = follow.sort_values(["procedure_id", "distance", "hours_after"]).groupby("procedure_id").first()
            both = base.index.intersection(follow.index)
            has = base.index.union(follow.index)
            out.loc[has, "function_instrument"] = instrument
            out.loc[has, "function_baseline"] = base.reindex(has).to_numpy()
            out.loc[has, "function_followup"] = follow["score"].reindex(has).to_numpy()
            out.loc[has, "function_hours"] = follow["hours_after"].reindex(has).to_numpy()
            change = out.loc[has, "function_baseline"] - out.loc[has, "function_followup"]
            out.loc[has, "function_change"] = change.to_numpy()
            out.loc[has, "function_regained"] = pd.array(
                np.where(has.isin(both), change >= MCID[instrument], pd.NA), dtype="boolean")
    return out


def attach(cohort: outcomes.Cohort, events: pd.DataFrame | None, function: pd.DataFrame | None) -> outcomes.Cohort:
    """The cohort with the contract's ``events``, ``has_events`` and ``function_scores`` set on it
    (a frozen dataclass: set as the package's loader will, through ``object.__setattr__``)."""
    empty_events = pd.DataFrame({c: pd.Series(dtype="string") for c in EVENT_COLUMNS})
    empty_function = pd.DataFrame({c: pd.Series(dtype="string") for c in FUNCTION_COLUMNS})
    object.__setattr__(cohort, "events", empty_events if events is None else events)
    object.__setattr__(cohort, "has_events", events is not None)
    object.__setattr__(cohort, "function_scores", empty_function if function is None else function)
    return cohort


def simulated(n: int = 800, seed: int = 2026, *, events: bool = True, function: bool = True, **truth):
    """(cohort, endpoints, truth) of a simulated clinic, through the package's own loader and
    endpoints (``load_records(events=...)``, ``derive_endpoints``)."""
    procedures, assessments, raw_events, truth_ = simulate_safety(n, seed=seed, **truth)
    if not function:
        assessments = assessments[assessments["instrument"] == "nrs"].drop(columns="score")
    cohort = outcomes.load_records(procedures, assessments, events=raw_events if events else None)
    return cohort, outcomes.derive_endpoints(cohort), truth_

