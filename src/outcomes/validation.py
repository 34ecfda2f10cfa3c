"""The value-by-value reading behind the exclusion rules, and the checks that stop a load.

The exclusion rules and remarks themselves are written once, in SQL (``outcomes/sql/procedures.sql``
and ``assessments.sql``, run by :mod:`outcomes.checks` in process and by
:mod:`outcomes.registry` where the records live). What SQL cannot say well is read here, in
Python, once per *distinct* raw value: codes through their synonyms (:func:`code_values`,
:func:`coded_values`), dates with format detection (:func:`parse_dates`), the instrument of a
pain score and its scale (:func:`instrument_values`). The results travel to the engine as small
``(raw, value)`` tables.

Fatal problems raise :class:`~outcomes.exceptions.InputError` naming the file, the column and the
first offending rows: a missing required column (:func:`require_columns`), duplicate procedure
ids (:func:`duplicate_ids_message`).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .exceptions import InputError
from .mapping import INSTRUMENT_SCALE, Mapping, normalise_label

__all__ = [
    "FIRST_YEAR", "LAST_YEAR", "MAX_FRACTURE_AGE_DAYS", "MAX_HOURS_AFTER",
    "OVERNIGHT_MAX_HOURS", "PROCEDURE_REQUIRED", "SAME_DAY_MAX_HOURS", "code_values", "coded_values",
    "column_list", "duplicate_ids_message", "first_rows", "instrument_values", "parse_dates",
    "require_assessment_columns", "require_columns", "require_procedure_columns", "text", "text_codes",
]

PROCEDURE_REQUIRED = ("procedure_id", "patient_id", "procedure", "procedure_date")
_FALSE_WORDS = {"", "0", "0.0", "no", "n", "false", "f", "none", "nil", "absent"}
_TRUE_WORDS = {"1", "1.0", "yes", "y", "true", "t", "present"}
# Length of stay -> discharge when only hours are given: under 12 h is same-day, under 48 h an
# overnight stay, longer an admission (our convention; NSQIP counts "same day" by calendar date).
SAME_DAY_MAX_HOURS = 12.0
OVERNIGHT_MAX_HOURS = 48.0
# A fracture older than this (or a time after the procedure further away than the next) is a
# typing error, not a record: 100 years of fracture age, 20 years of follow-up.
MAX_FRACTURE_AGE_DAYS = 36525.0
MAX_HOURS_AFTER = 20 * 8766.0
_MAPPING_HINT = "A mapping file (--mapping) can rename a clinic's own column names to these."


def first_rows(rows: Any, limit: int = 5) -> str:
    """Row numbers for a message: the first ``limit``, then how many more.

    Examples
    --------
    >>> first_rows([2, 3, 5, 8, 13, 21, 34])
    '2, 3, 5, 8, 13 and 2 more'
    """
    rows = list(rows)
    values = [str(v) for v in rows[:limit]]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(values) + more


def column_list(columns: list, limit: int = 12) -> str:
    """Column names for a message: at most ``limit``, each printable and at most 30 characters."""
    shown = []
    for column in columns[:limit]:
        name = "".join(ch if ch.isprintable() and ch != "\ufffd" else "?" for ch in str(column))
        shown.append(name if len(name) <= 30 else name[:27] + "...")
    more = f" and {len(columns) - limit} more" if len(columns) > limit else ""
    return ", ".join(shown) + more + (" (is this a text table with a header row?)" if any("?" in c for c in shown) else "")


def require_columns(columns: Any, required: tuple[str, ...], source: str, hint: str) -> None:
    """Raise InputError naming the required columns missing from ``columns`` (names starting
    with "_" are the package's own and not listed as found)."""
    columns = list(columns)
    missing = [c for c in required if c not in columns]
    if missing:
        found = column_list([c for c in columns if not str(c).startswith("_")])
        raise InputError(
            f"{source} must have the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing)}; found columns {found or 'none'}. {hint}"
        )


def require_procedure_columns(columns: Any, source: str) -> None:
    """The procedures table's required columns: ``procedure_date`` may be ``procedure_year``."""
    columns = list(columns)
    dated = "procedure_date" in columns or "procedure_year" in columns
    require_columns(columns, PROCEDURE_REQUIRED[:3] if dated else PROCEDURE_REQUIRED, source, _MAPPING_HINT)


def require_assessment_columns(columns: Any, source: str) -> None:
    """The assessments table's required columns: an id, a score and a time."""
    columns = list(columns)
    require_columns(columns, ("procedure_id", "pain"), source,
                    "A mapping file (--mapping) can rename a clinic's own column names; a wide export "
                    "(pain_24h, vas_3mo, ...) is made long automatically.")
    if "hours_after" not in columns and "assessed_at" not in columns:
        raise InputError(
            f"{source} must have the column 'hours_after' or 'assessed_at'; found columns "
            f"{column_list([c for c in columns if not str(c).startswith('_')])}. "
            "A mapping file (--mapping) can rename a clinic's own time column."
        )


def duplicate_ids_message(source: str, n_rows: int, n_ids: int, first: str, rows: Any) -> str:
    """The message of the duplicate-id error: how many rows share how many ids, the first one
    and its rows as a spreadsheet numbers them."""
    return (f"Column 'procedure_id' in {source} must hold unique ids; got {n_rows} rows sharing "
            f"{n_ids} ids, e.g. {first!r} in rows {first_rows(rows)}. "
            "Give each procedure its own id (a patient's second procedure is a new row with a new id).")


def text(series: pd.Series) -> pd.Series:
    """Trimmed text with blanks as missing."""
    out = series.astype("string").str.strip()
    return out.mask(out == "")


# Dates outside these years are typing errors (and would overflow nanosecond timestamps).
FIRST_YEAR, LAST_YEAR = 1800, 2200
_YEAR_ONLY = r"\s*(\d{4})(?:\.0+)?\s*"
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})(?:[ T].*)?$")
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"


def _naive(parsed: pd.Series | pd.DatetimeIndex) -> pd.Series:
    """Timestamps as naive nanosecond values; time-zone-aware ones converted to UTC first."""
    parsed = pd.Series(parsed)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    years = parsed.dt.year
    parsed = parsed.mask((years < FIRST_YEAR) | (years > LAST_YEAR))
    return parsed.astype("datetime64[ns]")


def parse_dates(
    series: pd.Series, date_format: str | None, *, column: str | None = None, source: str = "",
    notes: list[str] | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Read a date column: (timestamps, years of year-only values), NaT / NA where unreadable.

    With ``date_format`` (a strftime format) every value must have it. Without, ISO 8601 dates
    (with or without a time and a time zone) are read first; other numeric dates (03/01/2022,
    3.1.2022) are read day first when a first part is over 12, month first when a second part
    is, and when every part is 12 or under (ambiguous) month first after "/" (US usage) and day
    first after "." or "-"; a note says so and how to declare the format. Values with a time
    zone are converted to UTC and the zone dropped (so they compare with naive ones). A value
    that is only a year ("2022", Safe Harbor's finest date) gives a year and no date. Dates
    before 1800 or after 2200 are unreadable.

    Examples
    --------
    >>> dates, years = parse_dates(pd.Series(["2022-03-04", "2021", "13/02/2022", None]), None)
    >>> [str(d.date()) if pd.notna(d) else None for d in dates], years.tolist()
    (['2022-03-04', None, '2022-02-13', None], [<NA>, 2021, <NA>, <NA>])
    """
    notes = [] if notes is None else notes
    label = f"{column!r} in {source}" if column else "dates"
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            notes.append(f"{label}: times with a time zone converted to UTC")
        return _naive(series), pd.Series(pd.NA, index=series.index, dtype="Int64")
    trimmed = text(series)
    # A registry has a few thousand distinct dates: parse each once, then spread them over the rows.
    codes, distinct = pd.factorize(trimmed)
    distinct = pd.Series(distinct, dtype="string")
    year_text = distinct.str.fullmatch(_YEAR_ONLY).fillna(False).astype(bool)
    years = pd.to_numeric(distinct.str.extract(_YEAR_ONLY, expand=False), errors="coerce").where(year_text)
    years = years.where((years >= FIRST_YEAR) & (years <= LAST_YEAR)).astype("Int64")
    candidates = distinct.mask(year_text)
    zoned = candidates.str.contains(_ZONE, regex=True).fillna(False).astype(bool)
    if zoned.any():
        notes.append(f"{label}: {int(zoned.sum())} distinct times with a time zone converted to UTC "
                     "(times without one are taken as they are)")
    if date_format:
        parsed = pd.to_datetime(candidates, format=date_format, errors="coerce", utc=True)
    else:
        parsed = pd.to_datetime(candidates, format="ISO8601", errors="coerce", utc=True)
        left = candidates.notna() & parsed.isna()
        parts = candidates[left].str.extract(_NUMERIC_DATE)
        numeric = parts[0].notna()
        if numeric.any():
            first, second = parts.loc[numeric, 0].astype(int), parts.loc[numeric, 2].astype(int)
            day_first_votes, month_first_votes = int((first > 12).sum()), int((second > 12).sum())
            sep = parts.loc[numeric, 1].mode().iloc[0]
            if day_first_votes or month_first_votes:
                day_first = day_first_votes >= month_first_votes
                how = "day first (DD/MM/YYYY)" if day_first else "month first (MM/DD/YYYY)"
                notes.append(f"{label}: dates read {how}, as a day or month over 12 shows")
            else:
                day_first = sep != "/"
                shown = f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y"
                other = f"%m{sep}%d{sep}%Y" if day_first else f"%d{sep}%m{sep}%Y"
                notes.append(f"{label}: dates are ambiguous (no day or month over 12); read as {shown}. "
                             f"If they are {other}, set date_format = '{other}' in the mapping file")
            index = parts.index[numeric]
            parsed_left = pd.to_datetime(candidates[index], format="mixed", dayfirst=day_first, errors="coerce",
                                         utc=True)
            parsed = parsed.copy()
            parsed[index] = parsed_left
    dates = _naive(pd.Series(parsed, index=distinct.index))
    out = pd.Series(dates.array.take(codes, allow_fill=True), index=trimmed.index, name=trimmed.name)
    year_out = pd.Series(years.array.take(codes, allow_fill=True), index=trimmed.index, name=trimmed.name)
    return out, year_out


def text_codes(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``text(series)`` as (codes, distinct trimmed values): ``distinct[codes]``, NA at code -1."""
    if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        codes, distinct = pd.factorize(series)
        return codes, text(pd.Series(distinct, dtype=series.dtype))
    codes, distinct = pd.factorize(text(series))
    return codes, pd.Series(distinct, dtype="string")


def code_values(distinct: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """Trimmed codes mapped through synonyms (case-insensitive); unknown ones missing."""
    keys = distinct.astype(object).map(normalise_label, na_action="ignore")
    return keys.map(synonyms).astype("string")


def coded_values(raw: pd.Series, column: str, mapping: Mapping) -> pd.Series:
    """What a coded column of the procedures table reads as, for each raw value.

    ``procedure``, ``sex`` and ``discharge`` go through their synonyms (unknown: missing);
    ``complication`` becomes True / False (blank and words such as "no" or "0" are False, any
    other description of a complication True, the mapping's own codes first); ``etiology``,
    ``physician_id`` and ``site_id`` are trimmed and renamed by the mapping's own codes
    (``etiology`` in lower case). Call it on the distinct values of a column.

    Examples
    --------
    >>> coded_values(pd.Series(["PVP", " 22513", "fusion"]), "procedure", Mapping()).tolist()
    ['vertebroplasty', 'kyphoplasty', <NA>]
    >>> coded_values(pd.Series(["no", "cement leak", None]), "complication", Mapping()).tolist()
    [False, True, <NA>]
    """
    raw = pd.Series(raw).reset_index(drop=True)
    trimmed = text(raw)
    if column in ("procedure", "sex", "discharge"):
        return code_values(trimmed, mapping.value_map("procedures", column))
    if column == "complication":
        lower = trimmed.str.lower()
        flag = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        flag[lower.isin(list(_FALSE_WORDS)).fillna(False)] = False
        flag[lower.isin(list(_TRUE_WORDS)).fillna(False)] = True
        # Any other description of a complication ("cement leak") counts as one.
        flag[lower.notna() & flag.isna()] = True
        own = mapping.value_map("procedures", "complication")
        if own:
            flag = flag.where(lower.map(own).isna(), lower.map(own).isin(["true", "True", "1", "yes"]))
        return flag
    out = trimmed
    if mapping.has_value_map("procedures", column):
        own = mapping.value_map("procedures", column)
        out = out.astype(object).map(lambda v: own.get(normalise_label(v), v), na_action="ignore").astype("string")
    return out.str.lower() if column == "etiology" else out


def instrument_values(distinct: pd.Series, mapping: Mapping) -> pd.DataFrame:
    """For trimmed instrument labels: the instrument (the mapping's default when blank), whether
    the label is unknown, the factor that brings its scores to 0-10 and its kind ("pain", or
    "function" for the function scores that are not pain scores)."""
    distinct = pd.Series(distinct).reset_index(drop=True)
    given = distinct.notna()
    code = code_values(distinct, mapping.value_map("assessments", "instrument"))
    # a function instrument (ODI, RMDQ, EQ-5D VAS) as Mapping.function_instrument names it
    function = distinct.astype(object).map(mapping.function_instrument, na_action="ignore")
    is_function = function.notna().to_numpy(dtype=bool)
    instrument = code.fillna(mapping.assessment_instrument).where(given | code.notna(), mapping.assessment_instrument)
    instrument = instrument.astype(object).where(~is_function, function).astype("string")
    return pd.DataFrame({"instrument": instrument, "unknown": given & code.isna() & ~is_function,
                         "scale": instrument.map(INSTRUMENT_SCALE).astype(float),
                         "kind": np.where(is_function, "function", "pain").astype(object)})
