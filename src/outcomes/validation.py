"""Validation with row accounting.

Fatal problems raise :class:`~outcomes.exceptions.InputError` naming the file, the column and the
first offending rows: a missing required column, duplicate procedure ids. Row-level problems
exclude the row with a reason (core fields) or set an optional value to missing with a remark.
Everything is vectorised: no Python loop over rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .cohort import EXCLUSION_COLUMNS, REMARK_COLUMNS
from .exceptions import InputError
from .mapping import INSTRUMENT_SCALE, Mapping, normalise_label

__all__ = ["parse_dates", "validate_assessments", "validate_procedures"]

PROCEDURE_REQUIRED = ("procedure_id", "patient_id", "procedure", "procedure_date")
DISCHARGE_VALUES = ("same_day", "overnight", "admitted")
_FALSE_WORDS = {"", "0", "0.0", "no", "n", "false", "f", "none", "nil", "absent"}
_TRUE_WORDS = {"1", "1.0", "yes", "y", "true", "t", "present"}
# Length of stay -> discharge when only hours are given: under 12 h is same-day, under 48 h an
# overnight stay, longer an admission (our convention; NSQIP counts "same day" by calendar date).
_SAME_DAY_MAX_HOURS = 12.0
# pandas 3 copies on write: a shallow copy is enough before replacing columns.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3
_OVERNIGHT_MAX_HOURS = 48.0
# A fracture older than this (or a time after the procedure further away than the next) is a
# typing error, not a record: 100 years of fracture age, 20 years of follow-up.
_MAX_FRACTURE_AGE_DAYS = 36525.0
MAX_HOURS_AFTER = 20 * 8766.0


class _Log:
    """Collects exclusions and remarks for one table."""

    def __init__(self, table: str, source: str) -> None:
        self.table, self.source = table, source
        self.excluded: list[pd.DataFrame] = []
        self.remarks: list[pd.DataFrame] = []

    def _rows(self, frame: pd.DataFrame, mask: pd.Series, column: str) -> pd.DataFrame:
        part = frame.loc[mask]
        value = part[column].astype("string") if column in part else pd.Series(pd.NA, index=part.index, dtype="string")
        return pd.DataFrame({
            "table": self.table, "source": self.source, "row": part["_row"].to_numpy(),
            "column": part["_column"].to_numpy() if "_column" in part else column,
            "value": value.to_numpy(),
        })

    def exclude(self, frame: pd.DataFrame, mask: pd.Series, column: str, reason: str) -> pd.DataFrame:
        """Log the rows under ``mask`` as excluded and return the rest."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return frame  # nothing to drop: skip copying every row
        rows = self._rows(frame, mask, column)
        rows["reason"] = reason
        ids = frame.loc[mask, "procedure_id"] if "procedure_id" in frame else pd.Series(pd.NA, index=frame.index[mask])
        rows["procedure_id"] = ids.astype("string").to_numpy()
        self.excluded.append(rows[EXCLUSION_COLUMNS])
        return frame.loc[~mask]

    def remark(self, frame: pd.DataFrame, mask: pd.Series, column: str, remark: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            rows = self._rows(frame, mask, column)
            rows["remark"] = remark
            self.remarks.append(rows[REMARK_COLUMNS])

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        ex = pd.concat(self.excluded, ignore_index=True) if self.excluded else pd.DataFrame(columns=EXCLUSION_COLUMNS)
        re_ = pd.concat(self.remarks, ignore_index=True) if self.remarks else pd.DataFrame(columns=REMARK_COLUMNS)
        return ex, re_


def _at(values: pd.Series, index: pd.Index) -> pd.Series:
    """``values.loc[index]``, without the look-up when nothing was excluded in between."""
    return values if values.index.equals(index) else values.loc[index]


def _first_rows(rows: pd.Series, limit: int = 5) -> str:
    values = [str(v) for v in rows.head(limit)]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(values) + more


def _column_list(columns: list, limit: int = 12) -> str:
    """Column names for a message: at most ``limit``, each printable and at most 30 characters."""
    shown = []
    for column in columns[:limit]:
        text = "".join(ch if ch.isprintable() and ch != "\ufffd" else "?" for ch in str(column))
        shown.append(text if len(text) <= 30 else text[:27] + "...")
    more = f" and {len(columns) - limit} more" if len(columns) > limit else ""
    return ", ".join(shown) + more + (" (is this a text table with a header row?)" if any("?" in c for c in shown) else "")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], source: str, hint: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = _column_list([c for c in frame.columns if not str(c).startswith("_")])
        raise InputError(
            f"{source} must have the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing)}; found columns {found or 'none'}. {hint}"
        )


def _text(series: pd.Series) -> pd.Series:
    """Trimmed text with blanks as missing."""
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _number(frame: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """Numeric values of a column and the mask of present-but-unreadable values."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw.astype(float)
    present = _text(raw).notna() if not pd.api.types.is_numeric_dtype(raw) else raw.notna()
    return values.astype(float), present & values.isna()


def _dates(series: pd.Series, date_format: str | None) -> pd.Series:
    """Dates of a column (NaT where unreadable): :func:`parse_dates` without its notes."""
    return parse_dates(series, date_format)[0]


# Dates outside these years are typing errors (and would overflow nanosecond timestamps).
_FIRST_YEAR, _LAST_YEAR = 1800, 2200
_YEAR_ONLY = r"\s*(\d{4})(?:\.0+)?\s*"
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})(?:[ T].*)?$")
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"


def _naive(parsed: pd.Series | pd.DatetimeIndex) -> pd.Series:
    """Timestamps as naive nanosecond values; time-zone-aware ones converted to UTC first."""
    parsed = pd.Series(parsed)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    years = parsed.dt.year
    parsed = parsed.mask((years < _FIRST_YEAR) | (years > _LAST_YEAR))
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
    text = _text(series)
    # A registry has a few thousand distinct dates: parse each once, then spread them over the rows.
    codes, distinct = pd.factorize(text)
    distinct = pd.Series(distinct, dtype="string")
    year_text = distinct.str.fullmatch(_YEAR_ONLY).fillna(False).astype(bool)
    years = pd.to_numeric(distinct.str.extract(_YEAR_ONLY, expand=False), errors="coerce").where(year_text)
    years = years.where((years >= _FIRST_YEAR) & (years <= _LAST_YEAR)).astype("Int64")
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
    out = pd.Series(dates.array.take(codes, allow_fill=True), index=text.index, name=text.name)
    year_out = pd.Series(years.array.take(codes, allow_fill=True), index=text.index, name=text.name)
    return out, year_out


def _text_codes(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``_text(series)`` as (codes, distinct trimmed values): ``distinct[codes]``, NA at code -1.

    Text columns are factorised as they are and only their distinct values trimmed (a column
    of millions of rows holds a handful of codes); other columns are trimmed first, as text.
    """
    if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        codes, distinct = pd.factorize(series)
        return codes, _text(pd.Series(distinct, dtype=series.dtype))
    codes, distinct = pd.factorize(_text(series))
    return codes, pd.Series(distinct, dtype="string")


def _take(distinct: pd.Series, codes: np.ndarray, index: pd.Index, fill: object = None) -> pd.Series:
    """Distinct values spread over the rows (``fill``, else missing, where the code is -1)."""
    values = distinct.array.take(codes, allow_fill=True, fill_value=fill)
    return pd.Series(values, index=index)


def _code_values(distinct: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """Distinct trimmed codes mapped through synonyms (case-insensitive); unknown ones missing."""
    keys = distinct.astype(object).map(normalise_label, na_action="ignore")
    return keys.map(synonyms).astype("string")


def _instrument_values(distinct: pd.Series, mapping: Mapping) -> tuple[pd.Series, pd.Series, pd.Series]:
    """For trimmed instrument labels: the instrument (the mapping's default when blank), whether
    the label is unknown, and the factor that brings its scores to 0-10."""
    given = distinct.notna()
    code = _code_values(distinct, mapping.value_map("assessments", "instrument"))
    instrument = code.fillna(mapping.assessment_instrument).where(given | code.notna(), mapping.assessment_instrument)
    return instrument, given & code.isna(), instrument.map(INSTRUMENT_SCALE).astype(float)


def _codes(series: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """Map codes through synonyms (case-insensitive); unknown codes become missing.

    Each distinct value is normalised once, then the result is spread back over the rows.
    """
    codes, distinct = _text_codes(series)
    return _take(_code_values(distinct, synonyms), codes, series.index).rename(series.name)


def _isin(values: pd.Series, allowed: pd.Series) -> pd.Series:
    """``values.isin(allowed)`` for text ids, without pandas' Python loop over ``allowed``.

    pandas converts every allowed value to a Python object first (seconds for a million ids);
    Arrow's hash-based ``is_in`` gives the same answer directly. Missing values match only a
    missing value in ``allowed``, as pandas.
    """
    if not (values.dtype == "string" and allowed.dtype == "string"
            and getattr(values.dtype, "storage", None) == "pyarrow"
            and getattr(allowed.dtype, "storage", None) == "pyarrow"):
        return values.isin(allowed)
    import pyarrow as pa
    import pyarrow.compute as pc

    haystack = pa.chunked_array(pa.array(allowed.array)).combine_chunks()
    needles = pa.array(values.array)
    found = pc.is_in(needles, value_set=haystack.cast(needles.type), skip_nulls=False)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index).fillna(False).astype(bool)


def _repeated(ids: pd.Series) -> pd.Series:
    """``ids.duplicated(keep=False)``, skipping the search when Arrow counts every id once."""
    if len(ids) and ids.dtype == "string" and getattr(ids.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        values = pa.chunked_array(pa.array(ids.array))
        if pc.count_distinct(values, mode="all").as_py() == len(values) - max(values.null_count - 1, 0):
            return ids.isna() & (values.null_count > 1)  # only missing ids repeat
    return ids.duplicated(keep=False)


def _repeats_if_sorted(ids: pd.Series, hours: pd.Series) -> np.ndarray | None:
    """For rows already in (id, time) order, the mask of rows repeating the previous row's pair.

    Returns None when the rows are not in order (or the ids are not Arrow-backed text, or a time
    is missing); the caller then sorts and looks for duplicates with pandas. Exports usually come
    sorted, and checking the order costs two comparisons of neighbours instead of a sort of
    millions of strings. In order, ``duplicated(keep="first")`` is "equal to the previous row" and
    a stable sort leaves the rows where they are.
    """
    if len(ids) < 2 or ids.dtype != "string" or getattr(ids.dtype, "storage", None) != "pyarrow":
        return None
    time = hours.to_numpy(dtype=float)
    if ids.isna().any() or np.isnan(time).any():
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.chunked_array(pa.array(ids.array)).combine_chunks()
    head, tail = text.slice(0, len(text) - 1), text.slice(1)
    if not pc.all(pc.less_equal(head, tail)).as_py():
        return None
    same_id = pc.equal(head, tail).to_numpy(zero_copy_only=False)
    if (same_id & (time[1:] < time[:-1])).any():
        return None
    return np.concatenate(([False], same_id & (time[1:] == time[:-1])))


def validate_procedures(
    frame: pd.DataFrame, *, source: str, mapping: Mapping, notes: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validate the procedures table; returns (procedures, exclusions, remarks).

    ``procedure_date`` may be replaced by ``procedure_year`` (or hold only years): a Safe Harbor
    file. The result always has both columns (``procedure_date`` NaT where only the year is
    known). ``notes`` receives how dates were read.
    """
    notes = [] if notes is None else notes
    if "procedure_date" in frame or "procedure_year" in frame:
        _require(frame, PROCEDURE_REQUIRED[:3], source,
                 "A mapping file (--mapping) can rename a clinic's own column names to these.")
    else:
        # (the registry engine words this error the same way)
        _require(frame, PROCEDURE_REQUIRED, source,
                 "A mapping file (--mapping) can rename a clinic's own column names to these.")
    log = _Log("procedures", source)
    df = frame.copy(deep=not _COPY_ON_WRITE)
    df["procedure_id"] = _text(df["procedure_id"])
    present = df["procedure_id"].notna()
    dup = _repeated(df["procedure_id"]) & present
    if dup.any():
        first = df.loc[dup, "procedure_id"].iloc[0]
        rows = df.loc[df["procedure_id"] == first, "_row"]
        raise InputError(
            f"Column 'procedure_id' in {source} must hold unique ids; got {int(dup.sum())} rows sharing "
            f"{df.loc[dup, 'procedure_id'].nunique()} ids, e.g. {first!r} in rows {_first_rows(rows)}. "
            "Give each procedure its own id (a patient's second procedure is a new row with a new id)."
        )
    df = log.exclude(df, ~present, "procedure_id", "procedure_id missing")
    df["patient_id"] = _text(df["patient_id"])
    df = log.exclude(df, df["patient_id"].isna(), "patient_id", "patient_id missing")

    kind = _codes(df["procedure"], mapping.value_map("procedures", "procedure"))
    df = log.exclude(df, kind.isna(), "procedure", "unknown procedure type (not vertebroplasty or kyphoplasty)")
    df["procedure"] = _at(kind, df.index)

    if "procedure_date" in df:
        when, year_only = parse_dates(df["procedure_date"], mapping.date_format_for("procedure_date"),
                                      column="procedure_date", source=source, notes=notes)
    else:
        when = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
        year_only = pd.Series(pd.NA, index=df.index, dtype="Int64")
    year = year_only.fillna(pd.Series(when.dt.year, index=df.index).astype("Int64"))
    if "procedure_year" in df:
        given, bad = _number(df, "procedure_year")
        odd = given.notna() & ((given % 1 != 0) | (given < _FIRST_YEAR) | (given > _LAST_YEAR))
        log.remark(df, bad | odd, "procedure_year", "not a year; set to missing")
        year = year.fillna(given.mask(odd).astype("Int64"))
    has_date = "procedure_date" in frame
    df = log.exclude(df, when.isna() & year.isna(), "procedure_date" if has_date else "procedure_year",
                     "procedure_date missing or unreadable" if has_date else "procedure_year missing or not a year")
    df["procedure_date"] = _at(when, df.index)
    df["procedure_year"] = _at(year, df.index)

    if "fracture_date" in df:
        fracture, _ = parse_dates(df["fracture_date"], mapping.date_format_for("fracture_date"),
                                  column="fracture_date", source=source, notes=notes)
        log.remark(df, _text(df["fracture_date"]).notna() & fracture.isna(), "fracture_date",
                   "unreadable date set to missing")
        age_days = (df["procedure_date"] - fracture).dt.total_seconds() / 86400.0
        if "fracture_age_days" in df:
            given, _ = _number(df, "fracture_age_days")
            age_days = age_days.fillna(given)
        df["fracture_age_days"] = age_days
        df["fracture_date"] = fracture
    elif "fracture_age_days" in df:
        df["fracture_age_days"], bad = _number(df, "fracture_age_days")
        log.remark(df, bad, "fracture_age_days", "not a number; set to missing")
    if "fracture_age_days" in df:
        age_days = df["fracture_age_days"]
        absurd = age_days.notna() & ~(age_days.abs() <= _MAX_FRACTURE_AGE_DAYS)
        log.remark(df, absurd, "fracture_age_days", f"not finite or over {_MAX_FRACTURE_AGE_DAYS:g} days; set to missing")
        df["fracture_age_days"] = age_days.mask(absurd)
        df = log.exclude(df, df["fracture_age_days"] < 0, "fracture_age_days",
                         "fracture dated after the procedure (negative fracture age)")

    for column, low, high, whole in (
        ("baseline_pain", 0, 10, False), ("levels_treated", 1, 20, True), ("age", 0, 90, False),
        ("asa_class", 1, 6, True), ("length_of_stay_hours", 0, np.inf, False),
        ("height_restoration_pct", -100, 100, False), ("kyphotic_angle_change_deg", -90, 90, False),
    ):
        if column not in df:
            continue
        values, bad = _number(df, column)
        log.remark(df, bad, column, "not a number; set to missing")
        out = values.notna() & ((values < low) | (values > high) | (whole & (values % 1 != 0)))
        rule = f"outside {low}-{high:g}" + (" or not whole" if whole else "")
        log.remark(df, out, column, f"{rule}; set to missing")
        df[column] = values.mask(out)

    if "discharge" in df:
        code = _codes(df["discharge"], mapping.value_map("procedures", "discharge"))
        log.remark(df, _text(df["discharge"]).notna() & code.isna(), "discharge",
                   f"not one of {', '.join(DISCHARGE_VALUES)}; set to missing")
        df["discharge"] = code
    if "length_of_stay_hours" in df:
        los = df["length_of_stay_hours"]
        # the label of each stay taken from the three labels (no million-row array of text)
        which = np.select([los < _SAME_DAY_MAX_HOURS, los < _OVERNIGHT_MAX_HOURS, los.notna()], [0, 1, 2], default=-1)
        labels = pd.array(["same_day", "overnight", "admitted"], dtype="string")
        from_los = pd.Series(labels.take(which, allow_fill=True), index=df.index)
        df["discharge"] = df["discharge"].fillna(from_los) if "discharge" in df else from_los
    if "sex" in df:
        code = _codes(df["sex"], mapping.value_map("procedures", "sex"))
        log.remark(df, _text(df["sex"]).notna() & code.isna(), "sex", "not F or M; set to missing")
        df["sex"] = code
    if "complication" in df:
        text = _text(df["complication"]).str.lower()
        own = mapping.value_map("procedures", "complication")
        flag = pd.Series(pd.NA, index=df.index, dtype="boolean")
        flag[text.isin(list(_FALSE_WORDS)).fillna(False)] = False
        flag[text.isin(list(_TRUE_WORDS)).fillna(False)] = True
        # Any other description of a complication ("cement leak") counts as one.
        flag[text.notna() & flag.isna()] = True
        if own:
            flag = flag.where(text.map(own).isna(), text.map(own).isin(["true", "True", "1", "yes"]))
        df["complication"] = flag
    for column in ("etiology", "physician_id", "site_id"):
        if column in df:
            df[column] = _text(df[column])
            if mapping.has_value_map("procedures", column):
                own = mapping.value_map("procedures", column)
                codes, distinct = pd.factorize(df[column])  # map each distinct value once
                mapped = pd.Series(distinct).map(lambda v: own.get(normalise_label(v), v), na_action="ignore")
                df[column] = pd.Series(mapped.array.take(codes, allow_fill=True), index=df.index)
    if "etiology" in df:
        df["etiology"] = df["etiology"].str.lower()

    exclusions, remarks = log.frames()
    return df.reset_index(drop=True), exclusions, remarks


def validate_assessments(
    frame: pd.DataFrame,
    procedures: pd.DataFrame,
    excluded_ids: pd.Series,
    *,
    source: str,
    mapping: Mapping,
    baseline_window_hours: float,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validate the assessments table against the validated procedures.

    A time is hours after the procedure (``hours_after``, or ``assessed_at`` minus the
    procedure's date). Rows are excluded when the time is missing, not a number, not finite or
    more than 20 years away, or before the procedure by more than ``baseline_window_hours``: a
    score before the procedure but inside that window (say at -0.5 h) is a baseline candidate,
    and the endpoints take the last one as the baseline when the procedures table gives none.
    """
    _require(frame, ("procedure_id", "pain"), source,
             "A mapping file (--mapping) can rename a clinic's own column names; a wide export "
             "(pain_24h, vas_3mo, ...) is made long automatically.")
    if "hours_after" not in frame and "assessed_at" not in frame:
        raise InputError(
            f"{source} must have the column 'hours_after' or 'assessed_at'; found columns "
            f"{_column_list([c for c in frame.columns if not str(c).startswith('_')])}. "
            "A mapping file (--mapping) can rename a clinic's own time column."
        )
    log = _Log("assessments", source)
    df = frame.copy(deep=not _COPY_ON_WRITE)
    df["procedure_id"] = _text(df["procedure_id"])
    known = _isin(df["procedure_id"], procedures["procedure_id"])
    was_excluded = df["procedure_id"].isin(excluded_ids)
    df = log.exclude(df, df["procedure_id"].isna(), "procedure_id", "procedure_id missing")
    df = log.exclude(df, was_excluded & ~known, "procedure_id", "its procedure was excluded")
    df = log.exclude(df, ~_at(known, df.index), "procedure_id",
                     "unknown procedure id (not in the procedures table)")

    if "instrument" in df:
        # worked out once per distinct value, then spread over the rows
        codes, distinct = _text_codes(df["instrument"])
        instrument, unknown, scale = _instrument_values(distinct, mapping)
        unknown = _take(unknown, codes, df.index, fill=False).astype(bool)
        scale = _take(scale, codes, df.index, fill=INSTRUMENT_SCALE.get(mapping.assessment_instrument, np.nan))
        instrument = _take(instrument, codes, df.index, fill=mapping.assessment_instrument)
        df = log.exclude(df, unknown, "instrument", "unknown instrument (expected nrs, vas10 or vas100)")
        df["instrument"] = _at(instrument, df.index)
    else:
        df["instrument"] = mapping.assessment_instrument
        scale = pd.Series(INSTRUMENT_SCALE.get(mapping.assessment_instrument, np.nan), index=df.index, dtype=float)

    pain, unreadable = _number(df, "pain")
    df = log.exclude(df, pain.isna() & ~unreadable, "pain", "pain missing")
    df = log.exclude(df, _at(unreadable, df.index), "pain", "pain is not a number")
    pain = _at(pain, df.index) * _at(scale, df.index)
    df = log.exclude(df, (pain < 0) | (pain > 10), "pain",
                     "pain outside 0-10 (a 0-100 VAS can be declared with instrument = 'vas100')")
    df["pain"] = _at(pain, df.index)

    if "hours_after" in df:
        hours, bad = _number(df, "hours_after")
    else:
        hours = pd.Series(np.nan, index=df.index)
        bad = pd.Series(False, index=df.index)
    undated = pd.Series(False, index=df.index)
    if "assessed_at" in df:
        stamp, _ = parse_dates(df["assessed_at"], mapping.date_format_for("assessed_at"), column="assessed_at",
                               source=source, notes=notes)
        # each score's procedure date (ids are unique in the validated procedures)
        where = pd.Index(procedures["procedure_id"]).get_indexer(df["procedure_id"])
        dates = pd.to_datetime(procedures["procedure_date"]).astype("datetime64[ns]").array
        start = pd.Series(dates.take(where, allow_fill=True), index=df.index)
        hours = hours.fillna((stamp - start).dt.total_seconds() / 3600.0)
        undated = hours.isna() & stamp.notna() & start.isna()
    df = log.exclude(df, undated, "assessed_at",
                     "assessed_at needs the procedure's date, and the procedure has only a year (give hours_after)")
    df = log.exclude(df, _at(hours, df.index).isna() & ~_at(bad, df.index), "hours_after", "time missing")
    df = log.exclude(df, _at(bad, df.index) & _at(hours, df.index).isna(), "hours_after", "time is not a number")
    hours = _at(hours, df.index)
    df = log.exclude(df, ~np.isfinite(hours) | (hours.abs() > MAX_HOURS_AFTER), "hours_after",
                     f"time not finite or more than {MAX_HOURS_AFTER / 8766:g} years from the procedure")
    df["hours_after"] = _at(hours, df.index)
    df = log.exclude(
        df, df["hours_after"] < -baseline_window_hours, "hours_after",
        f"time before the procedure, outside the {baseline_window_hours / 24:g}-day baseline window "
        "(only a baseline score may precede the procedure)",
    )
    repeats = _repeats_if_sorted(df["procedure_id"], df["hours_after"])
    if repeats is None:
        dup = df.duplicated(["procedure_id", "hours_after"], keep="first")
    else:
        dup = pd.Series(repeats, index=df.index)
    df = log.exclude(df, dup, "hours_after", "duplicate assessment (same procedure and time)")

    keep = ["procedure_id", "hours_after", "pain", "instrument"]
    out = df[keep] if repeats is not None else df[keep].sort_values(["procedure_id", "hours_after"], kind="stable")
    out = out.reset_index(drop=True)
    exclusions, remarks = log.frames()
    return out, exclusions, remarks
