"""The report's safety and function section: complications, new fractures, function over time.

What it reads (the names of the data contract):

- ``cohort.events`` (one row per analysed adverse event: ``procedure_id, event, days_after,
  severity, level, adjacent``) and ``cohort.has_events``; a cohort without them has none;
- ``cohort.function_scores`` (``procedure_id, hours_after, instrument, score``; ODI 0-100, RMDQ
  0-24, EQ-5D VAS 0-100);
- the endpoint columns ``major_complication_30d``, ``minor_complication_30d``, ``death_30d``,
  ``new_fracture_days``, ``new_fracture_status`` (1 new fracture, 2 death first, 0 censored),
  ``function_instrument``, ``function_change``, ``function_regained``, when present;
- the claims ``major_complications``, ``new_fractures`` and ``function_regained``, when present.

The section is shown when the records have an events table or function scores; otherwise one line
says which data would enable it. Counts under the report's small-cell threshold are shown as
``"<N"`` with complementary suppression (:func:`outcomes.report.suppression.protect`), and every
number a figure writes is the number the text quotes (both come from the same result here).

References
----------
.. [1] McGraw JK, Cardella J, Barr JD, et al. Society of Interventional Radiology quality
   improvement guidelines for percutaneous vertebroplasty. J Vasc Interv Radiol 2003;14:827-831
   (the SIR classification of complications as major or minor that the events table's severity
   follows). Its suggested complication thresholds, and those of Baerlocher 2014 and of CIRSE
   (Tsoumakidou 2017), were not read here: the threshold is the clinic's own figure (the claims
   file's ``major_complications``), and the report says so.
.. [2] Ostelo RWJG, Deyo RA, Stratford P, et al. Interpreting change scores for pain and
   functional status in low back pain. Spine 2008;33:90-94. doi:10.1097/BRS.0b013e31815e3a10
.. [3] Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data, 2nd ed., ch. 8.
   Wiley, 2002 (cumulative incidence with competing risks, Aalen-Johansen).
.. [4] Hanley JA, Lippman-Hand A. If nothing goes wrong, is everything all right? JAMA
   1983;249:1743-1745 (the rule of three).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .. import formatting as fmt
from ..cohort import Cohort
from ..definitions import Definitions
from ..exceptions import OutcomesError
from .suppression import HIDDEN, check_suppress_below, is_suppressed, protect, suppress

__all__ = [
    "EVENT_WORDS",
    "SAFETY_CLAIMS",
    "UNKNOWN_SEVERITY",
    "VISITS",
    "cohort_events",
    "cohort_function_scores",
    "complication_table",
    "fracture_incidence",
    "function_table",
    "function_table_data",
    "has_events",
    "has_function_scores",
    "physician_safety_context",
    "safety_context",
    "unknown_severity_note",
    "safety_methods",
    "safety_sheets",
]

#: The claims the section quotes, in the order it shows them.
SAFETY_CLAIMS = ("major_complications", "new_fractures", "function_regained")

#: Canonical event codes as the report says them.
EVENT_WORDS = {
    "symptomatic_cement_leak": "symptomatic cement leak",
    "pulmonary_embolism": "pulmonary (cement) embolism",
    "neurologic_deficit": "new neurological deficit",
    "infection": "infection",
    "rib_fracture": "rib fracture",
    "new_fracture": "new vertebral fracture",
    "readmission": "readmission",
    "reoperation": "reoperation",
    "death": "death",
    "other": "other",
}
#: The complication table's row for events whose severity (major | minor) was not recorded.
UNKNOWN_SEVERITY = "Any complication of unknown severity"
_EVENT_COLUMNS = ("procedure_id", "event", "days_after", "severity", "level", "adjacent")
_FUNCTION_COLUMNS = ("procedure_id", "hours_after", "instrument", "score")

#: Visits of the function-over-time table: (label, from hours (exclusive), to hours (inclusive),
#: nominal hours). The baseline is the last score in [-baseline window, 0] h; a follow-up visit
#: takes each procedure's score nearest its nominal time inside the window.
VISITS = (
    ("before", -math.inf, 0.0, 0.0),
    ("2 weeks", 0.0, 672.0, 336.0),
    ("6 weeks", 672.0, 1512.0, 1008.0),
    ("3 months", 1512.0, 4380.0, 2190.0),
    ("1 year", 4380.0, 13149.0, 8766.0),
)
_INSTRUMENT_WORDS = {"odi": "Oswestry Disability Index (ODI, 0-100)", "rmdq": "Roland-Morris Disability "
                     "Questionnaire (RMDQ, 0-24)", "eq5d_vas": "EQ-5D visual analogue scale (0-100)"}
_SHORT_INSTRUMENT = {"odi": "ODI", "rmdq": "RMDQ", "eq5d_vas": "EQ-5D VAS"}
_MCID = {"odi": 10, "rmdq": 5}  # Ostelo 2008, as the contract's function_regained


# ---- what the records hold -------------------------------------------------------------------------

def cohort_events(cohort: Any) -> pd.DataFrame:
    """``cohort.events``, or an empty frame of its columns for a cohort without an events table."""
    events = getattr(cohort, "events", None)
    if not isinstance(events, pd.DataFrame):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in _EVENT_COLUMNS})
    return events


def cohort_function_scores(cohort: Any) -> pd.DataFrame:
    """``cohort.function_scores``, or an empty frame of its columns."""
    scores = getattr(cohort, "function_scores", None)
    if not isinstance(scores, pd.DataFrame):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in _FUNCTION_COLUMNS})
    return scores


def _known(endpoints: pd.DataFrame, column: str) -> bool:
    return column in endpoints and bool(endpoints[column].notna().any())


def has_events(cohort: Any, endpoints: pd.DataFrame | None = None) -> bool:
    """Whether an events table was given (``cohort.has_events``; else: events or event endpoints known)."""
    flag = getattr(cohort, "has_events", None)
    if flag is not None:
        return bool(flag)
    return len(cohort_events(cohort)) > 0 or (endpoints is not None and _known(endpoints, "major_complication_30d"))


def has_function_scores(cohort: Any, endpoints: pd.DataFrame | None = None) -> bool:
    """Whether the records hold function scores (ODI, RMDQ, EQ-5D VAS)."""
    return len(cohort_function_scores(cohort)) > 0 or (endpoints is not None and _known(endpoints, "function_change"))


def _window(definitions: Definitions | None) -> float:
    return float(getattr(definitions or Definitions(), "complication_window_days", 30))


def _horizon(definitions: Definitions | None) -> float:
    return float(getattr(definitions or Definitions(), "new_fracture_horizon_days", 365))


def _groups(endpoints: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    procedure = endpoints["procedure"].astype("string") if "procedure" in endpoints else pd.Series(
        pd.NA, index=endpoints.index, dtype="string")
    present = [p for p in ("vertebroplasty", "kyphoplasty") if (procedure == p).any()]
    present += sorted(set(procedure.dropna().unique()) - set(present))
    out = [(p, (procedure == p).fillna(False).to_numpy(bool)) for p in present]
    return out + [("all", np.ones(len(endpoints), bool))]


def _stated(claims: Any, claim_id: str) -> float | None:
    for claim in getattr(claims, "claims", ()):
        if claim.id == claim_id and claim.stated is not None:
            return float(claim.stated)
    return None


def _stated_note(claims: Any, claim_id: str) -> str:
    """Where the claim's stated figure comes from (:func:`outcomes.report.sections.stated_note`)."""
    from .sections import stated_note

    claim = next((c for c in getattr(claims, "claims", ()) if c.id == claim_id), None)
    return stated_note(claim) if claim is not None else ""


def _rate(value: float) -> str:
    """A rate in text, as the figures write it (:func:`outcomes.plots.rate_label`): rare events
    keep one decimal (2.1%, not 2%), others none."""
    from ..plots import rate_label
    return rate_label(value)


# ---- complications -----------------------------------------------------------------------------------

def _exact(count: int, n: int) -> tuple[float, float, float, bool]:
    """(estimate, low, high, zero) -- Clopper-Pearson, or with no event the one-sided exact limit
    (the rule of three's exact form)."""
    from ..competing import rule_of_three
    from ..proportions import proportion

    if n <= 0:
        return math.nan, math.nan, math.nan, False
    if count == 0:
        res = rule_of_three(n)
        return 0.0, 0.0, float(res.ci.high), True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = proportion(count, n, method="exact")
    return float(res.estimate), float(res.ci.low), float(res.ci.high), False


def _complication_rows(cohort: Any, endpoints: pd.DataFrame, window: float) -> list[tuple[str, pd.Series]]:
    """(label, per-procedure flag: True / False / NA) for each row of the complication table."""
    ids = endpoints["procedure_id"].astype("string") if "procedure_id" in endpoints else pd.Series(
        endpoints.index.astype(str), index=endpoints.index, dtype="string")
    events = cohort_events(cohort)
    rows: list[tuple[str, pd.Series]] = []
    if len(events):
        ev = events.assign(procedure_id=events["procedure_id"].astype("string"),
                           event=events["event"].astype("string"),
                           severity=events["severity"].astype("string"),
                           days_after=pd.to_numeric(events["days_after"], errors="coerce"))
        ev = ev[ev["days_after"].between(0, window) & ~ev["event"].isin(["death", "new_fracture"])]
    else:
        ev = pd.DataFrame({c: pd.Series(dtype="string") for c in ("procedure_id", "event", "severity")})

    def flag(mask: pd.Series) -> pd.Series:
        hit = set(ev.loc[mask, "procedure_id"].dropna())
        return pd.Series(ids.isin(hit).to_numpy(bool), index=endpoints.index).astype("boolean")

    order = list(EVENT_WORDS)
    for severity, column, title in (("major", "major_complication_30d", "Any major complication"),
                                    ("minor", "minor_complication_30d", "Any minor complication")):
        if column in endpoints:
            rows.append((title, endpoints[column].astype("boolean")))
        elif len(events):
            rows.append((title, flag(ev["severity"] == severity)))
        mine = ev[ev["severity"] == severity]
        for code in sorted(set(mine["event"].dropna()), key=lambda c: (order.index(c) if c in order else 99, c)):
            rows.append((f"  {EVENT_WORDS.get(code, str(code))}", flag((ev["severity"] == severity) & (ev["event"] == code))))
    unknown = ev[ev["severity"].isna()]
    if len(unknown):  # neither major nor minor: their own group, so no count disappears from the table
        rows.append((UNKNOWN_SEVERITY, flag(ev["severity"].isna())))
    for code in sorted(set(unknown["event"].dropna()), key=lambda c: (order.index(c) if c in order else 99, c)):
        rows.append((f"  {EVENT_WORDS.get(code, str(code))}", flag(ev["severity"].isna() & (ev["event"] == code))))
    if _known(endpoints, "death_30d"):
        rows.append((f"Death within {window:g} days", endpoints["death_30d"].astype("boolean")))
    return rows


def unknown_severity_note(cohort: Any, endpoints: pd.DataFrame, *, definitions: Definitions | None = None,
                          suppress_below: int = 0) -> str:
    """Why complications of unknown severity are counted as neither major nor minor, in plain words.

    Empty when every complication in the window has a severity. Otherwise: how many procedures
    had a complication whose severity (major | minor) was not recorded, that it counts as
    neither, and how many procedures are therefore left out of the major (minor) rate -- those
    without a recorded major (minor) complication, whose ``major_complication_30d``
    (``minor_complication_30d``) is unknown rather than False. Counts under ``suppress_below``
    are shown as ``"<N"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> events = pd.DataFrame({"procedure_id": ["A"], "event": ["infection"], "days_after": [4.0],
    ...                        "severity": pd.array([None], dtype="string"), "level": [None], "adjacent": [None]})
    >>> ep = pd.DataFrame({"procedure_id": ["A", "B"], "procedure": ["vertebroplasty"] * 2,
    ...                    "major_complication_30d": pd.array([None, False], dtype="boolean"),
    ...                    "minor_complication_30d": pd.array([None, False], dtype="boolean")})
    >>> unknown_severity_note(SimpleNamespace(events=events, has_events=True), ep).split(". ")[0]
    '1 procedure had a complication within 30 days whose severity (major or minor) was not recorded'
    """
    below = check_suppress_below(suppress_below)
    window = _window(definitions)
    rows = dict(_complication_rows(cohort, endpoints, window))
    if UNKNOWN_SEVERITY not in rows:
        return ""
    k = int(rows[UNKNOWN_SEVERITY].fillna(False).astype(bool).sum())
    if not k:
        return ""
    text = (f"{suppress(k, below)} procedure{'s' if k != 1 else ''} had a complication within {window:g} days whose "
            "severity (major or minor) was not recorded. Such a complication is counted as neither major nor minor, "
            "because the records do not say which it was")
    left = []
    for column, word in (("major_complication_30d", "major"), ("minor_complication_30d", "minor")):
        if column in endpoints:
            m = int(endpoints[column].isna().sum())
            if m:
                left.append(f"{suppress(m, below)} from the {word}-complication rate")
        # a procedure with a recorded major (minor) complication stays in that rate
    if left:
        text += ("; a procedure with no recorded complication of that severity is left out of the rate rather than "
                 "counted as free of one (" + ", ".join(left) + ")")
    return text + ". Recording the severity of every complication would bring them back into the rates."


def complication_table(cohort: Any, endpoints: pd.DataFrame, *, definitions: Definitions | None = None,
                       threshold: float | None = None, suppress_below: int = 0) -> pd.DataFrame:
    """Complications within the window by type and procedure, with exact intervals.

    Parameters
    ----------
    cohort : Cohort
        Its ``events`` give the types.
    endpoints : pandas.DataFrame
        :func:`outcomes.derive_endpoints`, with ``major_complication_30d`` and friends when the
        package derives them (else they are counted from the events).
    definitions : Definitions, optional
        ``complication_window_days`` (default 30).
    threshold : float, optional
        The clinic's stated upper threshold for major complications; the "Any major
        complication" row is read against it.
    suppress_below : int, default 0

    Returns
    -------
    pandas.DataFrame
        Text cells: ``complication``, one column per procedure and ``all`` ("6 / 418: 1.4%
        (0.5-3.1%)"; with none "0 / 418: 0.0% (at most 0.7%)", the exact one-sided 95% limit the
        rule of three approximates), and with a ``threshold`` ``against the threshold``.

    Notes
    -----
    Rows: any major complication and its types, any minor one and its types, then
    :data:`UNKNOWN_SEVERITY` and its types when some complication has no recorded severity (it
    is neither major nor minor; :func:`unknown_severity_note` says so in words), then death.
    A procedure counts once per row however many events of that type it had. Intervals are
    exact (Clopper-Pearson, two-sided 95%). Counts under ``suppress_below`` are ``"<N"``; in
    each row the procedure columns add up to "all" and the procedures without the complication
    (not shown) to the total, so a second cell is hidden where one alone would give a small
    count away.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"procedure_id": ["A", "B", "C"], "procedure": ["vertebroplasty"] * 3,
    ...                    "major_complication_30d": [True, False, False]})
    >>> complication_table(None, ep).iloc[0].tolist()
    ['Any major complication', '1 / 3: 33.3% (0.8-90.6%)', '1 / 3: 33.3% (0.8-90.6%)']
    """
    below = check_suppress_below(suppress_below)
    groups = [(name, mask, True) for name, mask in _groups(endpoints)]
    rows = _complication_rows(cohort, endpoints, _window(definitions))
    return _rate_table(rows, groups, below, threshold)


def _rate_table(rows: list[tuple[str, pd.Series]], groups: list[tuple[str, np.ndarray, bool]], below: int,
                threshold: float | None) -> pd.DataFrame:
    """Rows x groups of "count / n: rate (exact interval)"; the groups partition the last one
    (shown or not), which is the total the threshold is read on."""
    names = [g for g, _, show in groups if show]
    k = len(groups)
    out = []
    for label, flags in rows:
        known = flags.notna().to_numpy(bool)
        yes = flags.fillna(False).to_numpy(bool)
        counts = [int((yes & m).sum()) for _, m, _ in groups]
        totals = [int((known & m).sum()) for _, m, _ in groups]
        values = counts + [t - c for t, c in zip(totals, counts)] + totals
        visible = [show for _, _, show in groups]
        shown = visible + [False] * k + visible
        relations = []
        if k > 1:  # the groups add up to the last one, within counts, non-counts and totals
            relations += [list(range(k)), list(range(k, 2 * k)), list(range(2 * k, 3 * k))]
        relations += [[i, k + i, 2 * k + i] for i in range(k)]
        hidden = protect(values, relations, below, shown=shown, totals=[2 * k + k - 1])
        row = {"complication": "\u2003" + label.strip() if label.startswith("  ") else label}
        for i, (name, _, show) in enumerate(groups):
            if not show:
                continue
            count, total = counts[i], totals[i]
            if total == 0:
                row[name] = "-"
            elif hidden[i] or hidden[2 * k + i]:
                shown_count = f"<{below}" if is_suppressed(count, below) else HIDDEN
                shown_total = suppress(total, below) if not hidden[2 * k + i] else HIDDEN
                row[name] = f"{shown_count} / {shown_total}"
            else:
                est, lo, hi, zero = _exact(count, total)
                ci = f"at most {fmt.percent(hi, 1)}" if zero else fmt.interval(lo, hi, decimals=1)
                row[name] = f"{count:,} / {total:,}: {fmt.percent(est, 1)} ({ci})"
        if threshold is not None:
            row["against the threshold"] = "-"
            if label == "Any major complication" and totals[-1] and not hidden[k - 1]:
                _, lo, hi, _ = _exact(counts[-1], totals[-1])
                row["against the threshold"] = (
                    f"under the stated {_rate(threshold)}: the whole interval lies below it" if hi < threshold else
                    f"over the stated {_rate(threshold)}: the whole interval lies above it" if lo > threshold else
                    f"the interval includes the stated {_rate(threshold)}")
        out.append(row)
    return pd.DataFrame(out, columns=["complication", *names] + (["against the threshold"] if threshold is not None
                                                                  else []))


# ---- new fractures ---------------------------------------------------------------------------------

def fracture_incidence(endpoints: pd.DataFrame, *, by_procedure: bool = True) -> dict[str, Any]:
    """Aalen-Johansen cumulative incidence of a new vertebral fracture (death competing), per group.

    Reads ``new_fracture_days`` and ``new_fracture_status`` (1 new fracture, 2 death first, 0
    censored); rows where either is missing are left out. Returns {"vertebroplasty": result,
    "kyphoplasty": result, "all": result} for the groups with at least one procedure
    (``by_procedure=False``: "all" only); empty when the columns are absent.
    """
    from ..competing import cumulative_incidence

    if not {"new_fracture_days", "new_fracture_status"} <= set(endpoints.columns):
        return {}
    days = pd.to_numeric(endpoints["new_fracture_days"], errors="coerce")
    status = pd.to_numeric(endpoints["new_fracture_status"], errors="coerce")
    ok = (days.notna() & status.notna() & (days >= 0)).to_numpy(bool)
    out = {}
    for name, mask in _groups(endpoints):
        if name != "all" and not by_procedure:
            continue
        keep = ok & mask
        if keep.sum() >= 1:
            out[name] = cumulative_incidence(days[keep].to_numpy(float), status[keep].to_numpy(int))
    return out


def _fracture_sentence(results: dict[str, Any], horizon: float, below: int) -> str:
    when = "1 year" if abs(horizon - 365) < 1 else f"{horizon:g} days"
    overall = results.get("all")
    if overall is None:
        return ""
    if float(overall.table["time"].max()) < horizon:
        return (f"Follow-up in these records ends before {when} (the longest is "
                f"{float(overall.table['time'].max()):.0f} days), so the share with a new fracture by {when} "
                "cannot be read.")
    row = overall.at(horizon).iloc[0]
    text = (f"By {when}, {_rate(row['cumulative_incidence'])} of procedures (95% CI "
            f"{fmt.interval(row['ci_low'], row['ci_high'], decimals=1)}) were followed by a new vertebral fracture, "
            f"and {_rate(row['competing_incidence'])} by death before any new fracture (the competing risk: a patient "
            f"who has died can no longer have a fracture). {suppress(int(overall.n_events), below)} new fractures "
            f"and {suppress(int(overall.n_competing), below)} deaths first among {suppress(int(overall.n), below)} "
            "procedures.")
    parts = []
    for name, res in results.items():
        if name == "all" or float(res.table["time"].max()) < horizon or is_suppressed(res.n, below):
            continue  # too short a follow-up, or too few procedures to show outside the clinic
        r = res.at(horizon).iloc[0]
        parts.append(f"{name} {_rate(r['cumulative_incidence'])} "
                     f"({fmt.interval(r['ci_low'], r['ci_high'], decimals=1)})")
    if parts:
        text += f" By procedure at {when}: " + "; ".join(parts) + "."
    return text


# ---- function over time ------------------------------------------------------------------------------

def function_table_data(scores: pd.DataFrame, endpoints: pd.DataFrame, *,
                        baseline_window_hours: float = 720.0) -> pd.DataFrame:
    """Median (IQR) function score by instrument, visit and procedure: the numbers of the figure and table.

    One score per procedure and visit: before the procedure the last in
    [-``baseline_window_hours``, 0] h; at a follow-up visit (:data:`VISITS`) the one nearest its
    nominal time, ties to the earlier. Columns ``instrument, visit, group, n, median, q1, q3``
    (numpy's linear quantiles), visits in order; groups per procedure present, then "all".
    """
    cols = ["instrument", "visit", "group", "n", "median", "q1", "q3"]
    if scores is None or not len(scores):
        return pd.DataFrame(columns=cols)
    f = pd.DataFrame({"procedure_id": scores["procedure_id"].astype("string"),
                      "hours": pd.to_numeric(scores["hours_after"], errors="coerce"),
                      "instrument": scores["instrument"].astype("string"),
                      "score": pd.to_numeric(scores["score"], errors="coerce")}).dropna()
    procedure = (endpoints.set_index(endpoints["procedure_id"].astype("string"))["procedure"].astype("string")
                 if "procedure" in endpoints else pd.Series(dtype="string"))
    procedure = procedure[~procedure.index.duplicated()]
    f = f[f["procedure_id"].isin(procedure.index)]
    f["procedure"] = procedure.reindex(f["procedure_id"]).to_numpy()
    picked = []
    for label, low, high, nominal in VISITS:
        if label == "before":
            part = f[f["hours"].between(-baseline_window_hours, 0.0)].sort_values(["procedure_id", "hours"])
            part = part.groupby(["instrument", "procedure_id"], sort=False).tail(1)
        else:
            part = f[(f["hours"] > low) & (f["hours"] <= high)].copy()
            part["distance"] = (part["hours"] - nominal).abs()
            part = part.sort_values(["instrument", "procedure_id", "distance", "hours"])
            part = part.groupby(["instrument", "procedure_id"], sort=False).head(1)
        picked.append(part.assign(visit=label))
    chosen = pd.concat(picked, ignore_index=True)
    rows = []
    groups = [g for g in ("vertebroplasty", "kyphoplasty") if (chosen["procedure"] == g).any()]
    groups += sorted(set(chosen["procedure"].dropna()) - set(groups)) + ["all"]
    instruments = [i for i in ("odi", "rmdq", "eq5d_vas") if (chosen["instrument"] == i).any()]
    instruments += sorted(set(chosen["instrument"]) - set(instruments))
    for instrument in instruments:
        for label, *_ in VISITS:
            part = chosen[(chosen["instrument"] == instrument) & (chosen["visit"] == label)]
            if part.empty:
                continue
            for group in groups:
                values = (part if group == "all" else part[part["procedure"] == group])["score"].to_numpy(float)
                if not values.size:
                    continue
                q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75])
                rows.append({"instrument": str(instrument), "visit": label, "group": group, "n": int(values.size),
                             "median": float(med), "q1": float(q1), "q3": float(q3)})
    return pd.DataFrame(rows, columns=cols)


def _score(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def function_table(data: pd.DataFrame, *, suppress_below: int = 0) -> pd.DataFrame:
    """:func:`function_table_data` as text: one row per instrument and visit, one column per group,
    "median (Q1-Q3), n"; a visit with fewer than ``suppress_below`` scores shows "<N" only."""
    below = check_suppress_below(suppress_below)
    if data.empty:
        return pd.DataFrame(columns=["score", "visit"])
    groups = list(dict.fromkeys(data["group"]))
    out = []
    for (instrument, visit), part in data.groupby(["instrument", "visit"], sort=False):
        row = {"score": _SHORT_INSTRUMENT.get(instrument, instrument), "visit": visit}
        for group in groups:
            cell = part[part["group"] == group]
            if cell.empty:
                row[group] = "-"
                continue
            r = cell.iloc[0]
            if is_suppressed(r["n"], below):
                row[group] = f"n {suppress(int(r['n']), below)}"
            else:
                row[group] = f"{_score(r['median'])} ({_score(r['q1'])}-{_score(r['q3'])}), n {int(r['n']):,}"
        out.append(row)
    return pd.DataFrame(out, columns=["score", "visit", *groups])


def _function_sentence(data: pd.DataFrame, endpoints: pd.DataFrame, definitions: Definitions | None,
                       below: int) -> str:
    parts = []
    for instrument in dict.fromkeys(data["instrument"]):
        rows = data[(data["instrument"] == instrument) & (data["group"] == "all")]
        rows = rows[~rows["n"].map(lambda n: is_suppressed(n, below))]
        if rows.empty:
            continue
        medians = ", ".join(f"{_score(r.median)} {('before the procedure' if r.visit == 'before' else 'at ' + r.visit)}"
                            for r in rows.itertuples(index=False))
        direction = "higher" if instrument == "eq5d_vas" else "lower"
        parts.append(f"{_INSTRUMENT_WORDS.get(instrument, instrument)}, {direction} is better: median {medians}.")
    text = " ".join(parts)
    if _known(endpoints, "function_regained"):
        known = endpoints["function_regained"].dropna().astype(bool)
        count, n = int(known.sum()), len(known)
        d = definitions or Definitions()
        target = float(getattr(d, "function_target_hours", 336))
        mcid = (f"ODI {getattr(d, 'function_mcid_odi', _MCID['odi']):g} points, RMDQ "
                f"{getattr(d, 'function_mcid_rmdq', _MCID['rmdq']):g} points")
        share = "" if is_suppressed(count, below) or is_suppressed(n - count, below) else f" ({fmt.percent(count / n)})"
        when = f"{target / 168:g} weeks" if target % 168 == 0 else fmt.hours(target)
        text += (f" {suppress(count, below)} of {suppress(n, below)} procedures with a score before and at about "
                 f"{when}{share} improved by at least the change patients notice ({mcid}).")
    return text.strip()


# ---- the section ---------------------------------------------------------------------------------------

def safety_methods(definitions: Definitions | None = None) -> list[str]:
    """The section's methods, for the appendix, from the settings in use."""
    d = definitions or Definitions()
    window, horizon = _window(d), _horizon(d)
    target = float(getattr(d, "function_target_hours", 336))
    low = float(getattr(d, "function_window_low_hours", 168))
    high = float(getattr(d, "function_window_high_hours", 1008))
    return [
        f"Complications: events recorded from day 0 to day {window:g} after the procedure, classed major or "
        "minor as the Society of Interventional Radiology does (the events table's severity); a procedure counts "
        "once per row of the table however many events of that type it had. Deaths and new fractures have their own "
        "rows and curve.",
        "Complication rates: exact (Clopper-Pearson) two-sided 95% intervals; with no event, the exact one-sided "
        "95% upper limit 1 - 0.05^(1/n), which the rule of three (3/n) approximates (Hanley and Lippman-Hand "
        "1983).",
        f"New vertebral fracture: days to the first new fracture; death before one ends the follow-up as a "
        f"competing event, not as censoring; otherwise censored at the last contact. Cumulative incidence by the "
        f"Aalen-Johansen estimator with its infinitesimal-jackknife variance and log-scale 95% intervals (as R "
        f"survival's survfit), read at {horizon:g} days.",
        f"Function: ODI (0-100) or RMDQ (0-24), ODI preferred when both were recorded; the change from the last "
        f"score before the procedure to the score nearest {target:g} hours within {low:g}-{high:g} hours; "
        "regained when the change is at least the minimal important change (ODI 10, RMDQ 5 points; Ostelo 2008). "
        "Over time: each procedure's score nearest each visit (2 weeks: up to 4 weeks; 6 weeks: 4-9 weeks; "
        "3 months: 9 weeks to 6 months; 1 year: 6-18 months), median and interquartile range.",
        "Complications by physician: funnel plot with exact binomial limits around the clinic rate (Spiegelhalter "
        "2005), above the upper limit is worse; Bernoulli CUSUM of major complications against the clinic rate "
        "(Steiner et al. 2000).",
    ]


def _missing_line(events: bool, function: bool) -> str:
    if not events and not function:
        return ("Safety and function cannot be shown: these records have no events table and no function scores. "
                "An events file (one row per complication, new fracture or death, with the procedure and the days "
                "after it) and ODI or RMDQ scores in the assessments would enable this section.")
    if not events:
        return ("Complications and new fractures are not shown: these records have no events table (one row per "
                "complication, new fracture or death, with the days after the procedure).")
    return ("Function over time is not shown: these records have no ODI or RMDQ scores (rows of the assessments "
            "with instrument odi or rmdq and a score).")


def _claim_blocks(claims: Any, below: int) -> list[dict]:
    if claims is None:
        return []
    from .sections import claim_context

    known = claims.verdicts()
    return [claim_context(claims, i, suppress_below=below) for i in SAFETY_CLAIMS if i in known]


def _physician_counts_safe(endpoints: pd.DataFrame, below: int) -> bool:
    """Whether every physician's count of major complications, and of procedures without one, is
    at or above the threshold (a funnel point shows both)."""
    if not below:
        return True
    known = endpoints.dropna(subset=["major_complication_30d"])
    grouped = known.groupby("physician_id")["major_complication_30d"]
    yes, n = grouped.sum(), grouped.size()
    return bool((yes >= below).all() and ((n - yes) >= below).all())


def _monitoring_parts(endpoints: pd.DataFrame, threshold: float | None, physician_id: str | None,
                      below: int, window: float = 30.0, flagged: list | None = None) -> list[dict]:
    """The funnel and CUSUM of major complications by physician; ``flagged`` (a list) receives
    (physician, rate, n) of those above the outer limit, for the executive summary."""
    from .. import monitoring
    from ..plots_monitoring import cusum_figure, funnel_figure
    from .sections import build_parts, figure

    parts: list[dict] = []
    if not (_known(endpoints, "major_complication_30d") and "physician_id" in endpoints
            and endpoints["physician_id"].notna().any()):
        return parts
    if not _physician_counts_safe(endpoints, below):
        parts.append({"note": f"Complications by physician are not drawn: some physicians have fewer than {below} "
                              "procedures with (or without) a major complication, and a point on the chart would "
                              "show that count."})
        return parts
    def funnel_part() -> None:
        fun = monitoring.funnel(endpoints, outcome="major_complication_30d", unit="physician_id",
                                stated=threshold, lower_is_better=True)
        worse = fun.worse(level=0.998)
        if flagged is not None:
            flagged.extend((str(r.unit), float(r.proportion), int(r.n)) for r in worse.itertuples(index=False))
        units = fun.units[(fun.units["centre"] == "clinic") & np.isclose(fun.units["level"], 0.998)]
        if len(worse):
            names = ", ".join(f"{r.unit} ({_rate(r.proportion)} of {int(r.n):,})" for r in worse.itertuples())
            verdict = (f"Above the outer (99.8%) limit around the clinic rate, more major complications than "
                       f"chance explains: {names}.")
        else:
            verdict = "No physician lies above the outer (99.8%) limit around the clinic rate."
        alt = ("Funnel plot of major complications: " + "; ".join(
            f"{r.unit} {_rate(r.proportion)} of {int(r.n):,}" for r in units.itertuples(index=False))
            + f". Clinic rate {_rate(fun.clinic_rate)}. " + verdict)
        parts.append({"text": f"{verdict} Clinic rate {_rate(fun.clinic_rate)}"
                              + (f"; stated threshold {_rate(threshold)}." if threshold is not None else "."),
                      "figure": figure(funnel_figure(fun, highlight=physician_id), alt=alt,
                                       caption=f"Major complications within {window:g} days by physician against "
                                               "their number of procedures. Lower is better: a physician above "
                                               "the upper funnel line has more complications than chance "
                                               "explains, one below it fewer.")})

    def cusum_part() -> None:
        chart = monitoring.cusum(endpoints, outcome="major_complication_30d", stated=None, by="physician_id",
                                 lower_is_better=True)
        signals = chart.limits.set_index("unit")["n_signals"]
        alarmed = [f"{u} ({'once' if k == 1 else f'{int(k)} times'})" for u, k in signals.items() if k > 0]
        text = ("The running tally of major complications against the clinic rate (CUSUM) "
                + (f"raised an alarm for {', '.join(alarmed)}." if alarmed else "raised no alarm for any physician."))
        parts.append({"text": text,
                      "figure": figure(cusum_figure(chart, highlight=physician_id),
                                       alt="Running tally of major complications for each physician. " + text,
                                       caption="Running tally of major complications by physician against the "
                                               "clinic's own rate: a line reaching its alarm line has had more "
                                               "complications than the clinic rate explains.")})

    build_parts([("funnel plot of major complications", funnel_part),
                 ("running tally (CUSUM) of major complications", cusum_part)], parts, below)
    return parts


def safety_context(cohort: Cohort | Any, endpoints: pd.DataFrame, claims: Any = None, *,
                   definitions: Definitions | None = None, suppress_below: int = 0) -> dict:
    """The clinic report's safety and function section, as data for ``templates/safety.html.j2``.

    Returns
    -------
    dict
        ``shown`` (bool); ``missing`` (one line on what data would enable a missing part);
        ``claims`` (claim blocks of :data:`SAFETY_CLAIMS` present); ``complications`` (text,
        table, note: :func:`unknown_severity_note`); ``fracture`` (text, figure); ``function`` (text, figure, table); ``monitoring``
        (parts: the funnel and CUSUM of major complications by physician); ``methods``; ``next``
        (lines for the executive summary's "what to look at next": physicians above the outer
        limit of the complications funnel).
    """
    from ..plots import function_over_time, new_fracture_curves
    from .sections import figure, table

    below = check_suppress_below(suppress_below)
    d = definitions or Definitions()
    events_ok, function_ok = has_events(cohort, endpoints), has_function_scores(cohort, endpoints)
    out: dict[str, Any] = {"shown": events_ok or function_ok, "missing": "", "claims": [], "complications": None,
                           "fracture": None, "function": None, "monitoring": [], "methods": [], "next": []}
    if not (events_ok and function_ok):
        out["missing"] = _missing_line(events_ok, function_ok)
    if not out["shown"]:
        return out
    out["claims"] = _claim_blocks(claims, below)
    out["methods"] = safety_methods(d)
    threshold = _stated(claims, "major_complications")
    window = _window(d)
    if events_ok:
        comp = complication_table(cohort, endpoints, definitions=d, threshold=threshold, suppress_below=below)
        # the claim's block just above says where the threshold comes from (its stated_note)
        text = _complication_sentence(endpoints, threshold, window, below)
        caption = (f"Complications within {window:g} days by type and procedure: procedures with the complication / "
                   "procedures, rate and exact 95% interval; with none, the upper limit (the rule of three).")
        out["complications"] = {"text": text, "table": table(comp, caption=caption, css_class="safety-table"),
                                "note": unknown_severity_note(cohort, endpoints, definitions=d, suppress_below=below)}
        horizon = _horizon(d)
        results = fracture_incidence(endpoints)
        if results:
            drawn = {k: v for k, v in results.items() if k != "all"} or {"all": results["all"]}
            drawn = {k: v for k, v in drawn.items() if not is_suppressed(v.n, below)}
            sentence = _fracture_sentence(results, horizon, below)
            fracture_stated = _stated(claims, "new_fractures")
            fig = new_fracture_curves(drawn, horizon_days=horizon, stated=fracture_stated,
                                      suppress_below=below) if drawn else None
            out["fracture"] = {"text": sentence, "figure": figure(
                fig, alt="Cumulative incidence of a new vertebral fracture and of death before one. " + sentence,
                caption="Share of procedures followed by a new vertebral fracture (solid, with its 95% interval) "
                        "and by death before any new fracture (dashed), over time; under the axis, the numbers at "
                        "risk (alive, without a new fracture and still followed). The vertical line is where the "
                        "claim is read.")}
        flagged: list = []
        out["monitoring"] = _monitoring_parts(endpoints, threshold, None, below, window, flagged)
        clinic_rate = endpoints["major_complication_30d"].dropna().astype(bool).mean() if _known(
            endpoints, "major_complication_30d") else math.nan
        out["next"] = [f"Physician {unit}: major complications {_rate(rate)} of {n:,} procedures, above the clinic's "
                       f"{_rate(clinic_rate)} by more than chance explains (see Safety and function)"
                       for unit, rate, n in flagged]
    if function_ok:
        data = function_table_data(cohort_function_scores(cohort), endpoints,
                                   baseline_window_hours=float(d.baseline_window_hours))
        if len(data):
            sentence = _function_sentence(data, endpoints, d, below)
            out["function"] = {
                "text": sentence,
                "figure": figure(function_over_time(data, suppress_below=below),
                                 alt="Function scores over time by procedure. " + sentence,
                                 caption="Function scores by visit: median (point) and interquartile range (bar) "
                                         "of each procedure's score nearest the visit. Lower ODI and RMDQ scores "
                                         "mean less disability."),
                "table": table(function_table(data, suppress_below=below), css_class="safety-table",
                               caption="Function scores by visit: median (interquartile range), n procedures."),
            }
    return out


def _complication_sentence(endpoints: pd.DataFrame, threshold: float | None, window: float, below: int) -> str:
    if not _known(endpoints, "major_complication_30d"):
        return ""
    known = endpoints["major_complication_30d"].dropna().astype(bool)
    count, n = int(known.sum()), len(known)
    if is_suppressed(count, below) or is_suppressed(n - count, below):
        head = (f"Fewer than {below} of {suppress(n, below)} procedures were followed by a major complication "
                f"within {window:g} days.")
    else:
        est, lo, hi, zero = _exact(count, n)
        ci = f"at most {_rate(hi)} with 95% confidence" if zero else f"95% CI {fmt.interval(lo, hi, decimals=1)}"
        head = (f"{count:,} of {n:,} procedures ({_rate(est)}; {ci}) were followed by a major complication within "
                f"{window:g} days.")
        if threshold is not None:
            head += (f" The clinic's stated threshold is {_rate(threshold)}: the rate is "
                     + ("under it (the whole interval lies below)." if hi < threshold else
                        "over it (the whole interval lies above)." if lo > threshold else
                        "not shown to be under or over it (the interval includes it)."))

    if _known(endpoints, "minor_complication_30d"):
        minor = endpoints["minor_complication_30d"].dropna().astype(bool)
        mc, mn = int(minor.sum()), len(minor)
        if not (is_suppressed(mc, below) or is_suppressed(mn - mc, below)):
            head += f" Minor complications: {mc:,} ({_rate(mc / mn)})."
    return head


def physician_safety_context(cohort: Cohort | Any, endpoints: pd.DataFrame, physician_id: str, claims: Any = None, *,
                             definitions: Definitions | None = None, suppress_below: int = 0) -> dict:
    """One physician's complications beside the clinic's and their place on the complications funnel.

    Returns
    -------
    dict
        ``shown``, ``missing``, ``text`` (their count and rate with its exact interval against the
        clinic's), ``table`` (their complication table beside the clinic's "all" column), ``note``
        (their complications of unknown severity, :func:`unknown_severity_note`), and
        ``monitoring`` (the funnel and CUSUM with this physician highlighted).
    """
    from .sections import table

    below = check_suppress_below(suppress_below)
    d = definitions or Definitions()
    out: dict[str, Any] = {"shown": False, "missing": "", "text": "", "table": None, "note": "", "monitoring": [],
                           "position": ""}
    if not has_events(cohort, endpoints) or not _known(endpoints, "major_complication_30d"):
        out["missing"] = ("This physician's complications are not shown: these records have no events table (one "
                          "row per complication, new fracture or death, with the days after the procedure).")
        return out
    out["shown"] = True
    ids = endpoints["physician_id"].astype("string")
    mine = endpoints[(ids == str(physician_id)).fillna(False).to_numpy(bool)]
    threshold = _stated(claims, "major_complications")
    window = _window(d)
    own = mine["major_complication_30d"].dropna().astype(bool)
    clinic = endpoints["major_complication_30d"].dropna().astype(bool)
    label = f"Physician {physician_id}"

    def said(values: pd.Series) -> str:
        count, n = int(values.sum()), len(values)
        if not n:
            return "no procedures with a known outcome"
        if is_suppressed(count, below) or is_suppressed(n - count, below):
            return f"fewer than {below} of {suppress(n, below)} procedures"
        est, lo, hi, zero = _exact(count, n)
        ci = f"at most {_rate(hi)}" if zero else fmt.interval(lo, hi, decimals=1)
        return f"{count:,} of {n:,} procedures ({_rate(est)}; 95% CI {ci})"

    text = f"Major complications within {window:g} days: {label}, {said(own)}; the whole clinic, {said(clinic)}."
    if threshold is not None:
        text += f" The clinic's stated threshold is {_rate(threshold)}."
        note = _stated_note(claims, "major_complications")
        if note:
            text += f" {note}"
    out["text"] = text
    is_mine = (ids == str(physician_id)).fillna(False).to_numpy(bool)
    groups = [(label, is_mine, True), ("others", ~is_mine, False), ("clinic", np.ones(len(endpoints), bool), True)]
    both = _rate_table(_complication_rows(cohort, endpoints, window), groups, below, None)
    out["table"] = table(both, caption=f"Complications within {window:g} days, {label} and the whole "
                                                   "clinic: procedures with the complication / procedures, rate "
                                                   "and exact 95% interval.", css_class="safety-table")
    out["monitoring"] = _monitoring_parts(endpoints, threshold, str(physician_id), below, window)
    out["position"] = _funnel_position(endpoints, str(physician_id), threshold, below)
    out["note"] = unknown_severity_note(cohort, mine, definitions=d, suppress_below=below)
    return out


def _funnel_position(endpoints: pd.DataFrame, physician_id: str, threshold: float | None, below: int) -> str:
    from .. import monitoring

    if not _physician_counts_safe(endpoints, below):
        return ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fun = monitoring.funnel(endpoints, outcome="major_complication_30d", unit="physician_id",
                                    stated=threshold, lower_is_better=True)
    except OutcomesError:
        return ""
    rows = fun.units[(fun.units["centre"] == "clinic") & (fun.units["unit"] == physician_id)]
    if rows.empty:
        return ""
    outer = rows[np.isclose(rows["level"], max(fun.confidence_levels))].iloc[0]
    inner = rows[np.isclose(rows["level"], min(fun.confidence_levels))].iloc[0]
    if outer["side"] == "worse":
        where = "above the outer (99.8%) limit: more major complications than chance explains"
    elif inner["side"] == "worse":
        where = "above the inner (95%) limit but within the outer (99.8%) one: worth watching, not beyond chance"
    elif outer["side"] == "better" or inner["side"] == "better":
        where = "below the lower limit: fewer major complications than the clinic rate would give by chance"
    else:
        where = "within the limits around the clinic rate: no more or fewer than chance explains"
    text = f"On the complications funnel plot Physician {physician_id} lies {where}."
    stated = fun.units[(fun.units["centre"] == "stated") & (fun.units["unit"] == physician_id)
                       & np.isclose(fun.units["level"], max(fun.confidence_levels))]
    if threshold is not None and len(stated) and stated.iloc[0]["side"] == "worse":
        text += (f" They also lie above the outer (99.8%) limit around the stated threshold of {_rate(threshold)}: "
                 "more major complications than that threshold allows by chance.")
    return text


def safety_sheets(cohort: Cohort | Any, endpoints: pd.DataFrame, claims: Any = None, *,
                  definitions: Definitions | None = None, suppress_below: int = 0) -> dict[str, pd.DataFrame]:
    """The safety section's numbers for the workbook, only those the records have.

    ``complications`` (:func:`complication_table`), ``new fracture curve`` (the Aalen-Johansen
    table per group: days, numbers at risk, events, competing deaths, censored, cumulative
    incidence and its interval, the competing incidence; counts under ``suppress_below`` as
    ``"<N"``) and ``function by visit`` (:func:`function_table_data`; the medians of a visit with
    fewer scores than the threshold left empty).
    """
    below = check_suppress_below(suppress_below)
    d = definitions or Definitions()
    sheets: dict[str, pd.DataFrame] = {}
    if has_events(cohort, endpoints):
        sheets["complications"] = complication_table(cohort, endpoints, definitions=d,
                                                     threshold=_stated(claims, "major_complications"),
                                                     suppress_below=below)
        frames = []
        for name, result in fracture_incidence(endpoints).items():
            if is_suppressed(result.n, below):
                continue
            t = result.table.rename(columns={"time": "days"})
            if below:
                for col in ("at_risk", "events", "competing", "censored"):
                    t[col] = [suppress(v, below) for v in t[col]]
            frames.append(t.assign(group=name)[["group", *t.columns]])
        if frames:
            sheets["new fracture curve"] = pd.concat(frames, ignore_index=True)
    if has_function_scores(cohort, endpoints):
        data = function_table_data(cohort_function_scores(cohort), endpoints,
                                   baseline_window_hours=float(d.baseline_window_hours))
        if below and len(data):
            small = data["n"].map(lambda n: is_suppressed(n, below))
            data.loc[small, ["median", "q1", "q3"]] = np.nan
            data["n"] = [suppress(n, below) for n in data["n"]]
        sheets["function by visit"] = data
    return sheets
