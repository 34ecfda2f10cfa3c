"""Safety: adverse events, follow-up, and the safety endpoints, each defined once in SQL.

The events table (optional; one row per adverse event) is checked by ``sql/events.sql`` and the
per-procedure safety endpoints come from ``sql/safety.sql``. Both run here in process on DuckDB
(:class:`outcomes.engines.DuckDBEngine`) and, unchanged, on Spark and PostgreSQL through
:func:`outcomes.engines.transpile`. What SQL cannot read the way the rest of the package reads it
-- a clinic's labels through the synonyms of the mapping file, dates in a clinic's format -- is
read in Python once per *distinct* raw value and handed to SQL as small ``(raw, value)`` tables
(``_map_event``, ``_map_severity``, ``_map_adjacent``, ``_map_event_date``,
``_map_last_contact_date``), as :mod:`outcomes.registry` does for procedures.

- :func:`validate_events` is what :func:`outcomes.load_records` calls: it turns ``last_contact_days``
  / ``last_contact_date`` into days of follow-up on each procedure and checks every event row,
  with the same row accounting as the other tables (read = analysed + excluded, with reasons).
- :func:`safety_endpoints` gives, per procedure, ``major_complication_30d``,
  ``minor_complication_30d``, ``death_30d``, ``new_fracture_days`` and ``new_fracture_status``;
  :func:`outcomes.derive_endpoints` adds them to its table.

Canonical event codes (:data:`EVENT_CODES`): ``symptomatic_cement_leak``, ``pulmonary_embolism``,
``neurologic_deficit``, ``infection``, ``rib_fracture``, ``new_fracture``, ``readmission``,
``reoperation``, ``death``, ``other``. Severity is SIR's ``major`` | ``minor`` (classes A-B minor,
C-F major; see :data:`outcomes.mapping.SEVERITY_SYNONYMS` for the labels read).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .checks import number_sql
from .cohort import EVENT_TABLE_COLUMNS, EXCLUSION_COLUMNS, REMARK_COLUMNS, empty_events
from .definitions import Definitions
from .engines import DuckDBEngine, literal
from .exceptions import InputError
from .mapping import EVENT_CODES, Mapping, normalise_label
from .pipeline import sql_statements, sql_text
from .validation import parse_dates

__all__ = ["EVENT_CODES", "EVENT_REMARKS", "FOLLOW_UP_COLUMNS", "SAFETY_COLUMNS", "add_safety_endpoints", "build_safety",
           "code_values", "events_fill", "flag_values", "follow_up_read", "safety_columns", "safety_endpoints",
           "safety_fill", "safety_sql", "validate_events"]

# The endpoint columns safety.sql adds to derive_endpoints' table.
SAFETY_COLUMNS = ("last_contact_days", "major_complication_30d", "minor_complication_30d", "death_30d",
                  "new_fracture_days", "new_fracture_status")
# A time further from the procedure than this is a typing error, not a record (as the 20 years of
# validation.MAX_HOURS_AFTER for pain scores).
MAX_DAYS = 20 * 365.25
# The procedures' columns of follow-up (the last contact).
FOLLOW_UP_COLUMNS = ("last_contact_days", "last_contact_date")
# Codes that are not complications of the procedure itself: they need follow-up, and a severity
# is not expected on them.
_FOLLOW_UP_CODES = ("new_fracture", "death")
# Yes / no labels of the adjacent flag.
_TRUE = {"1", "1.0", "yes", "y", "true", "t", "adjacent", "ja", "oui", "si", "sí"}
_FALSE = {"0", "0.0", "no", "n", "false", "f", "not adjacent", "nein", "non"}


def safety_sql(name: str) -> str:
    """The text of ``outcomes/sql/<name>.sql`` ("events" or "safety")."""
    if name not in ("events", "safety"):
        raise InputError(f"`name` must be 'events' or 'safety'; got {name!r}.")
    return sql_text(name)


def _text_number(column: str, given: bool = True) -> tuple[str, str]:
    """:func:`outcomes.checks.number_sql` of a text column ``s.<column>`` of events_src or proc_src
    (absent when not ``given``)."""
    return number_sql(column, {column: (column, "VARCHAR")} if given else {})


def follow_up_read(columns: Any, *, has_events: bool) -> bool:
    """Whether the procedures' follow-up is read at all: with an events table, or a last-contact
    column (``last_contact_days``, ``last_contact_date``) among the procedures' ``columns``."""
    return has_events or any(column in FOLLOW_UP_COLUMNS for column in columns)


def events_fill(*, days_after: tuple[str, str], last_contact_days: tuple[str, str], last_contact_date: str,
                last_contact_days_raw: str, followed: bool, has_events: bool) -> dict[str, str]:
    """The placeholders of events.sql: the number SQL of days_after and last_contact_days
    (:func:`outcomes.checks.number_sql`), the raw last_contact columns (or ``NULL``); ``followed``:
    whether the follow-up of the procedures is read at all (an events table or a last-contact
    column; else proc_followup has no rows, and the safety endpoints, which would all be NULL, are
    NULL by the join that finds no row); ``has_events``: whether there are event rows to check."""
    return {"ws_trim": "ws_trim", "days_after": days_after[0], "days_after_present": days_after[1],
            "last_contact_days": last_contact_days[0], "last_contact_days_present": last_contact_days[1],
            "last_contact_date": last_contact_date, "last_contact_days_raw": last_contact_days_raw,
            "max_days": literal(MAX_DAYS), "followed": "TRUE" if followed else "FALSE",
            "has_events": "TRUE" if has_events else "FALSE"}


def safety_fill(definitions: Definitions, has_events: bool) -> dict[str, str]:
    """The placeholders of safety.sql."""
    return {"window_days": literal(definitions.complication_window_days),
            "has_events": "TRUE" if has_events else "FALSE"}


# ---- values read once per distinct raw value -------------------------------------------------------

def _as_text(values: pd.Series) -> pd.Series:
    """Raw cells as text (missing stays missing): what SQL compares and the log shows."""
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
    else:
        text = values.astype("string")
    return text.astype(object).where(text.notna(), None)


def _trimmed(raw: pd.Series) -> pd.Series:
    text = raw.astype("string").str.strip()
    return text.mask(text == "")


def code_values(raw: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """Each distinct raw label mapped through ``synonyms`` (case-insensitive, trimmed); missing
    where the label is unknown."""
    keys = _trimmed(raw).astype(object).map(normalise_label, na_action="ignore")
    return keys.map(synonyms).astype("string")


def flag_values(raw: pd.Series) -> pd.Series:
    """Each distinct raw yes/no label as a boolean; missing where it is neither."""
    keys = _trimmed(raw).str.lower()
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[keys.isin(list(_TRUE)).fillna(False).astype(bool)] = True
    out[keys.isin(list(_FALSE)).fillna(False).astype(bool)] = False
    return out


def _distinct(values: pd.Series) -> pd.Series:
    text = pd.Series(values.dropna().unique(), dtype=object)
    return text


def _register(eng: Any, name: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    if table.num_rows == 0:
        table = pa.table({c: pa.array([], type=_ARROW[t]) for c, t in types.items()})
    eng.register(name, table, types)


_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "TIMESTAMP": pa.timestamp("ns"),
          "BOOLEAN": pa.bool_()}


def _map_table(eng: Any, name: str, raw: pd.Series, values: pd.Series, value_type: str) -> None:
    frame = pd.DataFrame({"raw": raw.astype(object).reset_index(drop=True),
                          "value": pd.Series(values).reset_index(drop=True)})
    if value_type == "VARCHAR":
        frame["value"] = frame["value"].astype(object).where(frame["value"].notna(), None)
    elif value_type == "BOOLEAN":
        frame["value"] = frame["value"].astype(object).where(frame["value"].notna(), None)
    _register(eng, name, frame, {"raw": "VARCHAR", "value": value_type})


def _frame(table: pa.Table) -> pd.DataFrame:
    mapper = {pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}
    return table.to_pandas(types_mapper=mapper.get)


# ---- the events table --------------------------------------------------------------------------------

def _require(frame: pd.DataFrame, source: str) -> None:
    shown = ", ".join(str(c) for c in frame.columns if not str(c).startswith("_"))[:300]
    missing = [c for c in ("procedure_id", "event") if c not in frame]
    if missing:
        raise InputError(
            f"{source} must have the column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
            f"found columns {shown or 'none'}. A mapping file's [events.columns] can rename a clinic's own names.")
    if "days_after" not in frame and "event_date" not in frame:
        raise InputError(
            f"{source} must have the column 'days_after' or 'event_date'; found columns {shown or 'none'}. "
            "A mapping file's [events.columns] can rename a clinic's own time column.")


def validate_events(
    events: pd.DataFrame | None,
    procedures: pd.DataFrame,
    procedure_exclusions: pd.DataFrame,
    *,
    source: str = "events",
    procedure_source: str = "procedures",
    mapping: Mapping | None = None,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check the events table and the procedures' follow-up (``sql/events.sql`` on DuckDB).

    Parameters
    ----------
    events : pandas.DataFrame or None
        The events table with canonical column names (after the mapping's renames) and ``_row``
        (the row a spreadsheet shows): ``procedure_id``, ``event``, ``days_after`` or
        ``event_date``, optional ``severity``, ``level``, ``adjacent``. None: no events table.
    procedures : pandas.DataFrame
        The validated procedures (``procedure_id``, ``procedure_date``; ``_row`` if known), with
        the raw ``last_contact_days`` / ``last_contact_date`` columns where given.
    procedure_exclusions : pandas.DataFrame
        The procedures' exclusion log (its ``procedure_id`` and ``reason``): events of these
        procedures are excluded as "its procedure was excluded".
    source, procedure_source : str
        The names of the events and procedures inputs, for the logs.
    mapping : Mapping, optional
        Extra event and severity labels (``[events.values.event]``, ``[events.values.severity]``)
        and date formats (``[events] date_format``, ``[procedures.date_formats] last_contact_date``).
    notes : list, optional
        Receives how dates were read and how many events have no severity.

    Returns
    -------
    procedures : pandas.DataFrame
        ``procedures`` with ``last_contact_days`` as days (float; NA where unknown or unreadable)
        and ``last_contact_date`` as timestamps, where either was given.
    events : pandas.DataFrame
        One row per analysed event, the columns of ``Cohort.events``.
    exclusions, remarks : pandas.DataFrame
        Excluded event rows (``table == "events"``) with their reasons; values set to missing
        (an unknown severity, an unreadable last contact) with a remark.

    Raises
    ------
    InputError
        The events table lacks ``procedure_id``, ``event``, or both ``days_after`` and
        ``event_date``.

    Examples
    --------
    >>> import pandas as pd
    >>> procs = pd.DataFrame({"procedure_id": ["P1", "P2"], "procedure_date": pd.to_datetime(["2022-01-03", "2022-02-01"]),
    ...                       "last_contact_days": ["400", "12"]})
    >>> ev = pd.DataFrame({"_row": [2, 3, 4], "procedure_id": ["P1", "P1", "P9"],
    ...                    "event": ["cement leak", "new fracture", "death"], "days_after": [1, 200, 5],
    ...                    "severity": ["minor", None, "major"]})
    >>> procs, ok, excluded, _ = validate_events(ev, procs, pd.DataFrame(columns=["procedure_id", "reason"]))
    >>> ok[["procedure_id", "event", "days_after"]].values.tolist()
    [['P1', 'symptomatic_cement_leak', 1.0], ['P1', 'new_fracture', 200.0]]
    >>> excluded["reason"].tolist(), procs["last_contact_days"].tolist()
    (['unknown procedure id (not in the procedures table)'], [400.0, 12.0])
    """
    mapping = mapping or Mapping()
    notes = [] if notes is None else notes
    if events is not None:
        _require(events, source)
    elif not follow_up_read(procedures.columns, has_events=False):
        # nothing to check: no events and no follow-up columns
        return (procedures, empty_events(), pd.DataFrame(columns=EXCLUSION_COLUMNS),
                pd.DataFrame(columns=REMARK_COLUMNS))
    eng = DuckDBEngine()
    try:
        _procedure_tables(eng, procedures, procedure_exclusions, mapping, procedure_source, notes)
        has_days = events is not None and "days_after" in events
        _event_tables(eng, events, mapping, source, notes)
        fill = events_fill(
            days_after=_text_number("days_after", has_days),
            last_contact_days=_text_number("last_contact_days"), last_contact_date="s.last_contact_date",
            last_contact_days_raw="s.last_contact_days", followed=True, has_events=events is not None)
        for statement in sql_statements(safety_sql("events").format(**fill)):
            eng.create(statement)
        followup = _frame(eng.arrow("SELECT * FROM proc_followup ORDER BY _order"))
        checked = _frame(eng.arrow("SELECT * FROM events_checked ORDER BY _order")) if events is not None else None
    finally:
        eng.close()

    procedures = procedures.copy()
    remarks = []
    if "last_contact_days" in procedures or "last_contact_date" in procedures:
        procedures["last_contact_days"] = followup["last_contact_days"].astype(float).to_numpy()
        if "last_contact_date" in procedures:
            procedures["last_contact_date"] = pd.to_datetime(followup["last_contact_date"]).astype(
                "datetime64[ns]").to_numpy()
        odd = followup[followup["_remark"].notna()]
        if len(odd):
            remarks.append(pd.DataFrame({
                "table": "procedures", "source": procedure_source, "row": odd["_row"].to_numpy(),
                "column": odd["_remark_column"].to_numpy(), "value": odd["_remark_value"].astype("string").to_numpy(),
                "remark": odd["_remark"].to_numpy()}))
    if checked is None:
        out_remarks = pd.concat(remarks, ignore_index=True) if remarks else pd.DataFrame(columns=REMARK_COLUMNS)
        return procedures, empty_events(), pd.DataFrame(columns=EXCLUSION_COLUMNS), out_remarks

    bad = checked[checked["_reason"].notna()].sort_values(["_rule", "_order"], kind="stable")
    exclusions = pd.DataFrame({
        "table": "events", "source": source, "row": bad["_row"].to_numpy(), "column": bad["_column"].to_numpy(),
        "value": bad["_value"].astype("string").to_numpy(), "reason": bad["_reason"].to_numpy(),
        "procedure_id": bad["procedure_id"].astype("string").to_numpy()})
    kept = checked[checked["_reason"].isna()]
    for flag, column, text, remark in EVENT_REMARKS:
        odd = kept[kept[flag] == 1]
        if len(odd):
            remarks.append(pd.DataFrame({"table": "events", "source": source, "row": odd["_row"].to_numpy(),
                                         "column": column, "value": odd[text].astype("string").to_numpy(),
                                         "remark": remark}))
    table = pd.DataFrame({
        "procedure_id": kept["procedure_id"].astype("string"), "event": kept["event"].astype("string"),
        "days_after": kept["days_after"].astype(float), "severity": kept["severity"].astype("string"),
        "level": kept["level"].astype("string"), "adjacent": kept["adjacent"].astype("boolean"),
    }).reset_index(drop=True)[EVENT_TABLE_COLUMNS]
    unrated = int((table["severity"].isna() & ~table["event"].isin(_FOLLOW_UP_CODES)).sum())
    if unrated:
        notes.append(f"{source}: {unrated} complication{'s' if unrated > 1 else ''} without a severity (major | minor) "
                     "count as neither a major nor a minor complication; give severity, or map the clinic's labels "
                     "in [events.values.severity]")
    out_remarks = pd.concat(remarks, ignore_index=True) if remarks else pd.DataFrame(columns=REMARK_COLUMNS)
    return procedures, table, exclusions, out_remarks


def _procedure_tables(eng: Any, procedures: pd.DataFrame, exclusions: pd.DataFrame, mapping: Mapping,
                      source: str, notes: list[str]) -> None:
    """proc_checked (analysed, then excluded procedures with their reasons), proc_src (the raw
    follow-up columns) and _map_last_contact_date, from the pandas validation's results."""
    n = len(procedures)
    dates = (pd.to_datetime(procedures["procedure_date"]).astype("datetime64[ns]") if "procedure_date" in procedures
             else pd.Series(pd.NaT, index=procedures.index, dtype="datetime64[ns]"))
    rows = procedures["_row"].to_numpy() if "_row" in procedures else np.arange(n)
    gone = exclusions[exclusions["procedure_id"].notna()] if "procedure_id" in exclusions else exclusions.iloc[:0]
    checked = pd.DataFrame({
        "_order": np.arange(n + len(gone)),
        "_row": np.concatenate([np.asarray(rows, dtype=np.int64),
                                pd.to_numeric(gone.get("row", pd.Series([], dtype=float)), errors="coerce")
                                .fillna(-1).astype(np.int64).to_numpy()]),
        "procedure_id": pd.concat([procedures["procedure_id"].astype("string"),
                                   gone["procedure_id"].astype("string")], ignore_index=True).astype(object),
        "_reason": [None] * n + [str(r) for r in gone["reason"]],
        "procedure_date": np.concatenate([dates.to_numpy(), np.full(len(gone), np.datetime64("NaT"), "M8[ns]")]),
    })
    checked["procedure_id"] = checked["procedure_id"].where(checked["procedure_id"].notna(), None)
    _register(eng, "proc_checked", checked, {"_order": "BIGINT", "_row": "BIGINT", "procedure_id": "VARCHAR",
                                             "_reason": "VARCHAR", "procedure_date": "TIMESTAMP"})
    raw_days = _as_text(procedures["last_contact_days"]) if "last_contact_days" in procedures else [None] * n
    raw_date = _as_text(procedures["last_contact_date"]) if "last_contact_date" in procedures else [None] * n
    _register(eng, "proc_src", pd.DataFrame({"_order": np.arange(n), "last_contact_days": list(raw_days),
                                             "last_contact_date": list(raw_date)}),
              {"_order": "BIGINT", "last_contact_days": "VARCHAR", "last_contact_date": "VARCHAR"})
    raw = _distinct(pd.Series(list(raw_date), dtype=object))
    values = (parse_dates(raw, mapping.date_format_for("last_contact_date"), column="last_contact_date",
                          source=source, notes=notes)[0] if len(raw) else pd.Series([], dtype="datetime64[ns]"))
    _map_table(eng, "_map_last_contact_date", raw, values, "TIMESTAMP")


def _event_tables(eng: Any, events: pd.DataFrame | None, mapping: Mapping, source: str, notes: list[str]) -> None:
    """events_src (raw values as text) and the _map_* tables of its distinct values."""
    columns = ("procedure_id", "event", "days_after", "event_date", "severity", "level", "adjacent")
    if events is None:
        events = pd.DataFrame({c: pd.Series([], dtype=object) for c in ("_row", *columns)})
    n = len(events)
    frame = {"_order": np.arange(n),
             "_row": pd.to_numeric(events["_row"], errors="coerce").fillna(-1).astype(np.int64).to_numpy()
             if "_row" in events else np.arange(n)}
    for column in columns:
        frame[column] = list(_as_text(events[column])) if column in events else [None] * n
    src = pd.DataFrame(frame)
    _register(eng, "events_src", src, {"_order": "BIGINT", "_row": "BIGINT", **{c: "VARCHAR" for c in columns}})
    for column, name in (("event", "_map_event"), ("severity", "_map_severity")):
        raw = _distinct(src[column])
        _map_table(eng, name, raw, code_values(raw, mapping.value_map("events", column)), "VARCHAR")
    raw = _distinct(src["adjacent"])
    _map_table(eng, "_map_adjacent", raw, flag_values(raw), "BOOLEAN")
    raw = _distinct(src["event_date"])
    values = (parse_dates(raw, mapping.date_format_for("event_date"), column="event_date", source=source,
                          notes=notes)[0] if len(raw) else pd.Series([], dtype="datetime64[ns]"))
    _map_table(eng, "_map_event_date", raw, values, "TIMESTAMP")


# ---- the endpoints --------------------------------------------------------------------------------

def safety_endpoints(procedures: pd.DataFrame, events: pd.DataFrame | None,
                     definitions: Definitions | None = None) -> pd.DataFrame:
    """The safety endpoints of each procedure (``sql/safety.sql`` on DuckDB).

    Parameters
    ----------
    procedures : pandas.DataFrame
        Validated procedures: ``procedure_id``, and ``last_contact_days`` (days of follow-up)
        where known.
    events : pandas.DataFrame or None
        Validated events (``Cohort.events``: ``procedure_id``, ``event``, ``days_after``,
        ``severity``). None when the cohort has no events table: every endpoint is then NA
        (unknown), never False.
    definitions : Definitions, optional
        ``complication_window_days`` (default 30).

    Returns
    -------
    pandas.DataFrame
        One row per procedure, in the order of ``procedures``: ``procedure_id``,
        ``last_contact_days``, ``major_complication_30d``, ``minor_complication_30d``,
        ``death_30d`` (nullable booleans), ``new_fracture_days`` (float),
        ``new_fracture_status`` (Int64: 1 new fracture, 2 death first, 0 censored).

    Notes
    -----
    Events count from day 0 (the day of the procedure). A major (minor) complication is a
    ``major`` (``minor``) event other than death at day 0 to ``complication_window_days``
    inclusive. ``death_30d`` is True for a death in that window, False for a later death or a
    last contact at or after the window's end, else NA. ``new_fracture_days`` runs to the first
    new fracture, else to death (competing risk), else to the last contact (censored); a new
    fracture on the day of death counts as the first event.

    Examples
    --------
    >>> import pandas as pd
    >>> procs = pd.DataFrame({"procedure_id": ["P1", "P2", "P3"], "last_contact_days": [400.0, 12.0, None]})
    >>> ev = pd.DataFrame({"procedure_id": ["P1", "P2"], "event": ["new_fracture", "pulmonary_embolism"],
    ...                    "days_after": [200.0, 3.0], "severity": [None, "major"]})
    >>> out = safety_endpoints(procs, ev)
    >>> out["major_complication_30d"].tolist(), out["death_30d"].tolist()
    ([False, True, False], [False, <NA>, <NA>])
    >>> out["new_fracture_days"].tolist(), out["new_fracture_status"].tolist()
    ([200.0, 12.0, nan], [1, 0, <NA>])
    """
    columns = safety_columns(procedures, events, definitions)
    return pd.DataFrame({"procedure_id": procedures["procedure_id"].to_numpy(), **columns})


def safety_columns(procedures: pd.DataFrame, events: pd.DataFrame | None,
                   definitions: Definitions | None = None) -> dict[str, Any]:
    """The columns of :func:`safety_endpoints` but ``procedure_id``, as arrays in the order of
    ``procedures``: ``{name: values}`` (:func:`outcomes.derive_endpoints` adds them to its frame)."""
    d = definitions or Definitions()
    if "procedure_id" not in procedures:
        raise InputError("`procedures` must have the column 'procedure_id'; got none.")
    has_events = events is not None
    n = len(procedures)
    days = (pd.to_numeric(procedures["last_contact_days"], errors="coerce").astype(float)
            if "last_contact_days" in procedures else pd.Series(np.nan, index=procedures.index))
    if events is None:
        # without an events table every endpoint of safety.sql is NULL (has_events = FALSE): the
        # same columns without running it
        return {"last_contact_days": days.to_numpy(dtype=float),
                **{column: pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))
                   for column in ("major_complication_30d", "minor_complication_30d", "death_30d")},
                "new_fracture_days": np.full(n, np.nan),
                "new_fracture_status": pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))}
    follow = pd.DataFrame({"_order": np.arange(n), "procedure_id": _as_text(procedures["procedure_id"]).to_numpy(),
                           "last_contact_days": days.to_numpy(dtype=float)})
    ev = events
    for column in ("procedure_id", "event", "days_after", "severity"):
        if column not in ev:
            raise InputError(f"`events` must have the column {column!r}; got columns {', '.join(map(str, ev.columns))}.")
    checked = pd.DataFrame({
        "procedure_id": _as_text(ev["procedure_id"]).to_numpy(), "event": _as_text(ev["event"]).to_numpy(),
        "days_after": pd.to_numeric(ev["days_after"], errors="coerce").astype(float).to_numpy(),
        "severity": _as_text(ev["severity"]).to_numpy(), "_reason": [None] * len(ev)})
    eng = DuckDBEngine()
    try:
        _register(eng, "proc_followup", follow, {"_order": "BIGINT", "procedure_id": "VARCHAR",
                                                 "last_contact_days": "DOUBLE"})
        _register(eng, "events_checked", checked, {"procedure_id": "VARCHAR", "event": "VARCHAR",
                                                   "days_after": "DOUBLE", "severity": "VARCHAR",
                                                   "_reason": "VARCHAR"})
        eng.create(sql_statements(safety_sql("safety").format(**safety_fill(d, has_events)))[0])
        out = _frame(eng.arrow("SELECT * FROM safety ORDER BY _order"))
    finally:
        eng.close()
    result: dict[str, Any] = {"last_contact_days": out["last_contact_days"].astype(float).to_numpy()}
    for column in ("major_complication_30d", "minor_complication_30d", "death_30d"):
        result[column] = pd.array(out[column].astype("boolean").to_numpy(), dtype="boolean")
    result["new_fracture_days"] = out["new_fracture_days"].astype(float).to_numpy()
    result["new_fracture_status"] = pd.array(out["new_fracture_status"].astype("Int64").to_numpy(), dtype="Int64")
    return result


def add_safety_endpoints(endpoints: pd.DataFrame, cohort: Any, definitions: Definitions | None = None) -> pd.DataFrame:
    """``endpoints`` (one row per procedure) with the safety endpoints of :func:`safety_endpoints`
    added by procedure id; columns it already has are kept as they are."""
    procedures = cohort.procedures
    events = cohort.events if getattr(cohort, "has_events", False) else None
    extra = safety_endpoints(procedures, events, definitions)
    extra = extra.drop(columns=[c for c in extra.columns if c != "procedure_id" and c in endpoints.columns])
    if len(extra.columns) == 1:
        return endpoints
    where = pd.Index(extra["procedure_id"].astype(object)).get_indexer(endpoints["procedure_id"].astype(object))
    out = endpoints.copy()
    for column in extra.columns[1:]:
        values = extra[column].array.take(where, allow_fill=True)
        out[column] = values
    out.attrs.update(endpoints.attrs)
    return out


# ---- inside an engine (the registry) --------------------------------------------------------------

def _engine_distinct(eng: Any, view: str, expression: str) -> pd.Series:
    """The distinct non-missing values of a text expression (over ``view AS s``) in an engine."""
    table = _frame(eng.arrow(f"SELECT DISTINCT {expression} AS raw FROM {view} AS s WHERE {expression} IS NOT NULL"))
    return table["raw"].astype(object).reset_index(drop=True)


# The remarks of analysed event rows (flag and text columns of events_checked, sql/events.sql):
# (flag, column, raw text, remark).
EVENT_REMARKS = (
    ("_bad_severity", "severity", "_severity_text",
     "not major or minor; set to missing (map the clinic's label in [events.values.severity])"),
    ("_bad_adjacent", "adjacent", "_adjacent_text", "not yes or no; set to missing"),
)


def build_safety(eng: Any, *, definitions: Definitions, mapping: Mapping, has_events: bool, followed: bool,
                 last_contact_days: tuple[str, str], last_contact_date: str, last_contact_days_raw: str,
                 notes: list[str] | None = None) -> None:
    """Run ``events.sql`` and ``safety.sql`` in an engine (DuckDB, Spark, PostgreSQL) that holds
    ``proc_checked``, ``proc_src`` and ``events_src`` (every events column as text; no rows when
    there is no events table): makes ``proc_followup``, ``events_checked`` and ``safety``.

    The labels and dates of each distinct raw value are read here, as :func:`validate_events`
    reads them, and pushed to the engine as the ``_map_*`` tables.

    Parameters
    ----------
    eng : outcomes.engines engine
    definitions, mapping
        The complication window; the labels and date formats.
    has_events : bool
        Whether an events table was given (else the endpoints are NULL).
    followed : bool
        Whether the procedures' follow-up is read: an events table or a last-contact column
        (else no procedure has a follow-up row, and no work is done for NULLs).
    last_contact_days, last_contact_date, last_contact_days_raw : str
        The SQL of proc_src's follow-up columns: :func:`outcomes.checks.number_sql` of ``last_contact_days``,
        the date column as text (``CAST(s.last_contact_date AS VARCHAR)``, or ``NULL``), the raw
        days column (or ``NULL``).
    """
    notes = [] if notes is None else notes
    for column, name in (("event", "_map_event"), ("severity", "_map_severity")):
        raw = _engine_distinct(eng, "events_src", f"s.{column}")
        _map_table(eng, name, raw, code_values(raw, mapping.value_map("events", column)), "VARCHAR")
    raw = _engine_distinct(eng, "events_src", "s.adjacent")
    _map_table(eng, "_map_adjacent", raw, flag_values(raw), "BOOLEAN")
    for view, column, name, ref in (("events_src", "event_date", "_map_event_date", "s.event_date"),
                                    ("proc_src", "last_contact_date", "_map_last_contact_date", last_contact_date)):
        raw = _engine_distinct(eng, view, ref) if ref.upper() != "NULL" else pd.Series([], dtype=object)
        values = (parse_dates(raw, mapping.date_format_for(column), column=column, source=view, notes=notes)[0]
                  if len(raw) else pd.Series([], dtype="datetime64[ns]"))
        _map_table(eng, name, raw, values, "TIMESTAMP")
    fill = events_fill(days_after=_text_number("days_after"), last_contact_days=last_contact_days,
                       last_contact_date=last_contact_date, last_contact_days_raw=last_contact_days_raw,
                       followed=followed, has_events=has_events)
    for statement in sql_statements(safety_sql("events").format(**fill)):
        eng.create(statement)
    for statement in sql_statements(safety_sql("safety").format(**safety_fill(definitions, has_events))):
        eng.create(statement)
