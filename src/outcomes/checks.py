"""The exclusion rules and remarks of the canonical tables, run by an engine.

The rules are written once, in SQL (``outcomes/sql/procedures.sql`` and ``assessments.sql``).
:func:`build_checked` runs them in any engine of :mod:`outcomes.engines` -- DuckDB in process,
PostgreSQL, Spark -- over two views of raw rows; :func:`check_frames` is the in-process path of
:func:`outcomes.load_records`: DuckDB over the pandas frames it read (queried in place through
Arrow), with the cleaned tables, the exclusion log and the remarks brought back as pandas.

What SQL cannot say well is read in Python once per *distinct* raw value
(:mod:`outcomes.validation`): codes through synonyms, dates with format detection, instruments
and their scales. The engine hands over the distinct values of those columns and gets back
small ``_map_<column>`` tables of ``(raw, value)``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .cohort import EXCLUSION_COLUMNS, REMARK_COLUMNS
from .columnar import arrow_values, release_memory, run_starts
from .engines import NUMBER_PATTERN, WHITESPACE, literal
from .exceptions import InputError
from .mapping import ASSESSMENT_COLUMNS, INSTRUMENT_SCALE, PROCEDURE_COLUMNS, Mapping
from .pipeline import sql_statements, sql_text
from .validation import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_FRACTURE_AGE_DAYS,
    MAX_HOURS_AFTER,
    OVERNIGHT_MAX_HOURS,
    SAME_DAY_MAX_HOURS,
    coded_values,
    duplicate_ids_message,
    instrument_values,
    parse_dates,
    require_assessment_columns,
    require_procedure_columns,
    text_codes,
)

__all__ = ["CODED_COLUMNS", "NUMERIC_TYPES", "RawTables", "build_checked", "check_frames", "number_sql",
           "number_values", "numeric_type", "to_arrow"]

# Coded procedure columns, read once per distinct raw value (validation.coded_values).
CODED_COLUMNS = ("procedure", "etiology", "sex", "discharge", "complication", "physician_id", "site_id")
_PROCEDURE_DATES = ("procedure_date", "fracture_date")
# Text columns read per distinct value (few distinct values in many rows).
_CODED_TEXT = (*CODED_COLUMNS, *_PROCEDURE_DATES, "instrument")
_PROCEDURE_NUMBERS = ("procedure_year", "fracture_age_days", "baseline_pain", "levels_treated", "age", "asa_class",
                      "length_of_stay_hours", "height_restoration_pct", "kyphotic_angle_change_deg")
# The column types whose cells are numbers as they are (cast, never parsed): DuckDB's names, which
# outcomes.engines gives the columns of every engine (PostgreSQL's real / float4 is FLOAT, numeric
# DOUBLE), and their aliases. BOOLEAN is not one: a yes/no column is not a score, its cells are
# read as their text ("true") and so are values that are not numbers, as any other non-number type.
NUMERIC_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                           "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "REAL", "FLOAT4", "DOUBLE", "FLOAT8",
                           "DECIMAL", "NUMERIC"})
_TIME_TYPES = ("TIMESTAMP", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
# Tables of the logs (left out by the registry, which needs only counts).
_LOG_TABLES = ("proc_remarks", "ass_excluded")

Columns = dict[str, tuple[str, str]]  # canonical column -> (column in the source, its DuckDB type)


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def discharge_sql(hours: str) -> str:
    """SQL of the discharge a length of stay implies (``hours``: a SQL expression in hours): under
    12 h same day, under 48 h overnight, else admitted; NULL without one. The one definition of
    procedures.sql and omop.sql (an outpatient visit: same day, else overnight).

    >>> discharge_sql("h").split(" THEN ")[0]
    'CASE WHEN h < CAST(12.0 AS DOUBLE)'
    """
    return (f"CASE WHEN {hours} < {literal(SAME_DAY_MAX_HOURS)} THEN 'same_day' "
            f"WHEN {hours} < {literal(OVERNIGHT_MAX_HOURS)} THEN 'overnight' "
            f"WHEN {hours} IS NOT NULL THEN 'admitted' END")


def numeric_type(kind: str) -> bool:
    """Whether a column of this type (a DuckDB type name, as the engines report it) holds numbers
    as they are (:data:`NUMERIC_TYPES`; ``DECIMAL(18,3)`` is DECIMAL).

    >>> numeric_type("DECIMAL(18,3)"), numeric_type("FLOAT"), numeric_type("BOOLEAN"), numeric_type("VARCHAR")
    (True, True, False, False)
    """
    return str(kind).upper().split("(")[0].strip() in NUMERIC_TYPES


def number_sql(column: str, columns: Columns, ref: str | None = None) -> tuple[str, str]:
    """SQL for (the number in a column, whether a value is there at all): the one rule of reading
    a number, on every engine and for every table.

    A column of a numeric type (:func:`numeric_type`) is cast. Any other column is read as its
    text, trimmed and parsed (``TRY_CAST``, digits grouped by "_" refused as pandas does, and
    DuckDB's "+-1" too): what it reads is :data:`outcomes.engines.NUMBER_PATTERN`, on every
    engine (:func:`outcomes.engines.transpile`); so a BOOLEAN cell is a value that is not a
    number. Blanks are missing; NaN is missing (NaN equals NaN in DuckDB, Spark and PostgreSQL).
    :func:`number_values` is the same rule in Python.

    Parameters
    ----------
    column : str
        The canonical column; absent from ``columns``, the number is NULL and no value is given.
    columns : dict
        Canonical column -> (column in the source, its DuckDB type).
    ref : str, optional
        The SQL reference of the column (default ``s.<column>``).
    """
    if column not in columns:
        return "CAST(NULL AS DOUBLE)", "false"
    _, kind = columns[column]
    ref = ref or f"s.{column}"
    if not numeric_type(kind):
        text = f"NULLIF(ws_trim(CAST({ref} AS VARCHAR)), '')"
        value = (f"CASE WHEN strpos({text}, '_') > 0 OR left({text}, 2) = '+-' THEN NULL "
                 f"ELSE TRY_CAST({text} AS DOUBLE) END")
        return f"CASE WHEN {value} = CAST('nan' AS DOUBLE) THEN NULL ELSE {value} END", f"({text} IS NOT NULL)"
    value = f"CAST({ref} AS DOUBLE)"
    value = f"CASE WHEN {value} = CAST('nan' AS DOUBLE) THEN NULL ELSE {value} END"
    return value, f"({value} IS NOT NULL)"


def number_values(values: pd.Series) -> pd.Series:
    """The numbers :func:`number_sql` reads, in Python (for sources read into pandas): a numeric
    column as it is, anything else as its text, trimmed and read only when it matches
    :data:`outcomes.engines.NUMBER_PATTERN`; NaN, blanks and other text are missing (NaN).

    >>> number_values(pd.Series([" 7 ", "1,5", "1e2", "0x1A", "nan", None, True])).tolist()
    [7.0, nan, 100.0, nan, nan, nan, nan]
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip(WHITESPACE)
    readable = text.str.match(NUMBER_PATTERN).fillna(False).astype(bool)
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    out[readable] = [float(x) for x in text[readable]]
    return out


def to_arrow(frame: pd.DataFrame) -> Any:
    """A small pandas table as Arrow (for an engine's register)."""
    import pyarrow as pa

    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)


def _source_view(eng: Any, view: str, raw: str, columns: Columns, wanted: tuple[str, ...],
                 extra: tuple[str, ...] = ()) -> None:
    parts = ["_order", "_row", *extra]
    for column in wanted:
        parts.append(f"{_quote(columns[column][0])} AS {column}" if column in columns
                     else f"CAST(NULL AS VARCHAR) AS {column}")
    eng.view(view, f"SELECT {', '.join(parts)} FROM {raw}")


def _distinct(eng: Any, view: str, columns: list[str]) -> dict[str, pd.Series]:
    """The distinct non-missing raw values of several columns, in one query per type (one pass
    of a distributed engine instead of one per column)."""
    out: dict[str, pd.Series] = {}
    for column in columns:
        table = eng.arrow(f"SELECT DISTINCT {column} AS raw FROM {view} WHERE {column} IS NOT NULL")
        out[column] = table.column("raw").to_pandas()
    return out


def _distinct_text(eng: Any, view: str, columns: list[str]) -> dict[str, pd.Series]:
    if not columns:
        return {}
    table = eng.arrow(" UNION ALL ".join(
        f"SELECT DISTINCT {k} AS c, CAST({column} AS VARCHAR) AS raw FROM {view} WHERE {column} IS NOT NULL"
        for k, column in enumerate(columns)))
    frame = table.to_pandas()
    return {column: frame.loc[frame["c"] == k, "raw"].astype(object).reset_index(drop=True)
            for k, column in enumerate(columns)}


def _raw_values(eng: Any, view: str, columns: Columns, wanted: list[str],
                known: dict[str, pd.Series] | None = None) -> dict[str, pd.Series]:
    """The distinct raw values of columns: from ``known`` where given there, else from the engine."""
    present = [c for c in wanted if c in columns and not _is_time(columns[c][1])]
    known = {c: v for c, v in (known or {}).items() if c in present}
    text = _distinct_text(eng, view, [c for c in present if columns[c][1].upper() == "VARCHAR" and c not in known])
    text.update(known)
    other = _distinct(eng, view, [c for c in present if c not in text])
    return {c: text.get(c, other.get(c)) if c in present else pd.Series([], dtype=object) for c in wanted}


def _register(eng: Any, name: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    eng.register(name, to_arrow(frame), types)


def _raw_type(columns: Columns, column: str) -> str:
    return columns[column][1] if column in columns else "VARCHAR"


def _is_time(kind: str) -> bool:
    return kind.upper().startswith(_TIME_TYPES)


def _date_sql(eng: Any, view: str, column: str, columns: Columns, raw: pd.Series, date_format: str | None,
              source: str, notes: list[str]) -> tuple[str, str]:
    """Register _map_<column>(raw, value, year) and return SQL for (timestamp, year of a year-only
    value). Typed timestamps are used as they are (kept from 1800 to 2200)."""
    name = f"_map_{column}"
    kind = _raw_type(columns, column)
    if column in columns and _is_time(kind):
        _register(eng, name, pd.DataFrame({"raw": pd.Series([], dtype="datetime64[ns]"),
                                           "value": pd.Series([], dtype="datetime64[ns]"),
                                           "year": pd.Series([], dtype="Int64")}),
                  {"raw": kind, "value": "TIMESTAMP", "year": "INTEGER"})
        stamp = f"CAST(s.{column} AS TIMESTAMP)"
        return (f"CASE WHEN year({stamp}) >= {FIRST_YEAR} AND year({stamp}) <= {LAST_YEAR} THEN {stamp} END",
                "CAST(NULL AS INTEGER)")
    if len(raw):
        dates, years = parse_dates(pd.Series(raw).reset_index(drop=True), date_format, column=column,
                                   source=source, notes=notes)
    else:
        dates, years = pd.Series([], dtype="datetime64[ns]"), pd.Series([], dtype="Int64")
    frame = pd.DataFrame({"raw": pd.Series(raw).reset_index(drop=True), "value": dates.reset_index(drop=True),
                          "year": years.reset_index(drop=True).astype("Int64")})
    _register(eng, name, frame.astype({"raw": object}) if kind == "VARCHAR" else frame,
              {"raw": kind, "value": "TIMESTAMP", "year": "INTEGER"})
    return f"m_{column}.value", f"m_{column}.year"


def _instrument_tables(eng: Any, ass_cols: Columns, mapping: Mapping,
                       known: dict[str, pd.Series] | None = None) -> tuple[list[str], int]:
    """_map_instrument(raw, instrument_id, unknown, scale, kind) and the instrument names (by
    id); returns the names and the id of the default instrument."""
    raw = _raw_values(eng, "ass_src", ass_cols, ["instrument"], known)["instrument"]
    default = mapping.assessment_instrument
    if len(raw):
        codes, distinct = text_codes(pd.Series(raw))
        table = instrument_values(distinct, mapping)
        instrument = table["instrument"].array.take(codes, allow_fill=True, fill_value=default)
        unknown = np.where(codes < 0, False, table["unknown"].to_numpy(dtype=bool).take(codes))
        scale = np.where(codes < 0, INSTRUMENT_SCALE.get(default, np.nan), table["scale"].to_numpy(dtype=float).take(codes))
        kind = np.where(codes < 0, "pain", table["kind"].to_numpy(dtype=object).take(codes))
    else:
        instrument, unknown, scale, kind = [], [], [], []
    names = list(dict.fromkeys([default, *[str(i) for i in instrument]]))
    frame = pd.DataFrame({"raw": pd.Series(raw).reset_index(drop=True),
                          "instrument_id": [names.index(str(i)) for i in instrument],
                          "unknown": pd.Series(unknown, dtype=bool), "scale": pd.Series(scale, dtype=float),
                          "kind": pd.Series(kind, dtype=object)})
    kind_raw = _raw_type(ass_cols, "instrument")
    _register(eng, "_map_instrument", frame.astype({"raw": object}) if kind_raw == "VARCHAR" else frame,
              {"raw": kind_raw, "instrument_id": "SMALLINT", "unknown": "BOOLEAN", "scale": "DOUBLE",
               "kind": "VARCHAR"})
    _register(eng, "_instruments", pd.DataFrame({"instrument_id": range(len(names)), "instrument": names}),
              {"instrument_id": "SMALLINT", "instrument": "VARCHAR"})
    return names, 0


def _check_unique_ids(eng: Any, source: str) -> None:
    """Duplicate procedure ids stop the analysis: how many rows share how many ids, the first
    repeated id (in row order) and its rows."""
    dup = eng.rows(
        "SELECT sum(k), count(*), min(first) FROM (SELECT procedure_id, count(*) AS k, min(_order) AS first "
        "FROM proc_checked WHERE procedure_id IS NOT NULL GROUP BY procedure_id HAVING count(*) > 1) AS counted"
    )[0]
    if dup[1]:
        first = eng.rows(f"SELECT procedure_id FROM proc_checked WHERE _order = {int(dup[2])}")[0][0]
        rows = [r[0] for r in eng.rows(
            f"SELECT _row FROM proc_checked WHERE procedure_id = {literal(str(first))} ORDER BY _order")]
        raise InputError(duplicate_ids_message(source, int(dup[0]), int(dup[1]), first, rows))


def build_checked(eng: Any, names: dict[str, str], proc_cols: Columns, ass_cols: Columns, *, mapping: Mapping,
                  baseline_window_hours: float, notes: list[str] | None = None, log: bool | tuple[str, ...] = True,
                  found: dict[str, list] | None = None, trimmed: tuple[str, ...] = (),
                  distinct: dict[str, dict[str, pd.Series]] | None = None, keyed: bool = False) -> list[str]:
    """Run the exclusion rules in ``eng`` over the views proc_raw and ass_raw (with _order, _row).

    Makes ``proc_checked`` (and ``proc_remarks``), ``ass_rules`` and ``ass_checked`` (and
    ``ass_excluded``); the logs only when ``log`` (True: both; or the names of those to make).
    Returns the instrument names of
    ``ass_checked.instrument_id``. Raises InputError for a missing required column and for
    duplicate procedure ids, naming the file, the rows and the column (``found``: the columns
    of each table to name in the message, by default the canonical ones; ``trimmed``: the id
    columns, "procedures.procedure_id" say, whose text is already trimmed with blanks missing;
    ``distinct``: the distinct raw values of some columns by table, found beforehand, in place
    of a query each; ``keyed``: ass_raw has ``_key``, the position in proc_raw of the procedure
    whose trimmed id equals the score's, NULL for none).
    """
    notes = [] if notes is None else notes
    found = found or {}
    distinct = distinct or {}
    proc_name, ass_name = names["procedures"], names["assessments"]
    require_procedure_columns(found.get("procedures", list(proc_cols)), proc_name)
    _source_view(eng, "proc_src", "proc_raw", proc_cols, PROCEDURE_COLUMNS)
    raw = _raw_values(eng, "proc_src", proc_cols, [*CODED_COLUMNS, *_PROCEDURE_DATES], distinct.get("procedures"))
    for column in CODED_COLUMNS:
        values = coded_values(raw[column], column, mapping) if len(raw[column]) else pd.Series([], dtype=object)
        kind = _raw_type(proc_cols, column)
        frame = pd.DataFrame({"raw": raw[column].reset_index(drop=True), "value": values.reset_index(drop=True)})
        _register(eng, f"_map_{column}", frame.astype({"raw": object}) if kind == "VARCHAR" else frame,
                  {"raw": kind, "value": "BOOLEAN" if column == "complication" else "VARCHAR"})
    fill = {c: _text_sql(c, f"procedures.{c}" in trimmed) for c in ("procedure_id", "patient_id")}
    for column in _PROCEDURE_DATES:
        value, year = _date_sql(eng, "proc_src", column, proc_cols, raw[column], mapping.date_format_for(column),
                                proc_name, notes)
        fill[column], fill[f"{column}_year"] = value, year
    for column in _PROCEDURE_NUMBERS:
        fill[column], fill[f"{column}_present"] = number_sql(column, proc_cols)
    fill.update(
        has_procedure_date="true" if "procedure_date" in proc_cols else "false",
        has_fracture_date="true" if "fracture_date" in proc_cols else "false",
        first_year=literal(FIRST_YEAR), last_year=literal(LAST_YEAR),
        max_fracture_age_days=literal(MAX_FRACTURE_AGE_DAYS), max_fracture_age_days_text=f"{MAX_FRACTURE_AGE_DAYS:g}",
        discharge_from_stay=discharge_sql("length_of_stay_kept"),
    )
    _run(eng, "procedures", fill, log)
    _check_unique_ids(eng, proc_name)

    require_assessment_columns(found.get("assessments", list(ass_cols)), ass_name)
    _source_view(eng, "ass_src", "ass_raw", ass_cols, ("_column", *ASSESSMENT_COLUMNS), ("_key",) if keyed else ())
    instruments, default_id = _instrument_tables(eng, ass_cols, mapping, distinct.get("assessments"))
    stamp_raw = _raw_values(eng, "ass_src", ass_cols, ["assessed_at"], distinct.get("assessments"))["assessed_at"]
    ass_id = _text_sql("procedure_id", "assessments.procedure_id" in trimmed)
    fill = {"procedure_id": ass_id, "procedure_key": "s._key" if keyed else ass_id,
            "checked_key": "_order" if keyed else "procedure_id",
            "assessed_at": _date_sql(eng, "ass_src", "assessed_at", ass_cols, stamp_raw,
                                     mapping.date_format_for("assessed_at"), ass_name, notes)[0]}
    for column in ("pain", "hours_after"):
        fill[column], fill[f"{column}_present"] = number_sql(column, ass_cols)
    fill.update(
        default_instrument_id=str(default_id),
        default_scale=literal(INSTRUMENT_SCALE.get(mapping.assessment_instrument, np.nan)),
        baseline_window_hours=literal(baseline_window_hours), window_days=f"{baseline_window_hours / 24:g}",
        max_hours_after=literal(MAX_HOURS_AFTER), max_years_text=f"{MAX_HOURS_AFTER / 8766:g}",
    )
    _run(eng, "assessments", fill, log)
    return instruments


def _text_sql(column: str, trimmed: bool) -> str:
    """SQL for a column's trimmed text, NULL when blank (the column itself when already so)."""
    return f"s.{column}" if trimmed else f"NULLIF(ws_trim(CAST(s.{column} AS VARCHAR)), '')"


def _run(eng: Any, name: str, fill: dict[str, str], log: bool | tuple[str, ...]) -> None:
    for statement in sql_statements(sql_text(name)):
        if log is not True and any(f"TABLE {table} AS" in statement and table not in (log or ())
                                   for table in _LOG_TABLES):
            continue
        if statement.startswith("UPDATE "):  # (sql_statements strips each statement)
            _update(eng, statement.format(**fill))
        else:
            eng.create(statement.format(**fill))


def _update(eng: Any, statement: str) -> None:
    """An ``UPDATE table SET ... FROM source ...`` of the rules, unless ``source`` has no row (it
    would change nothing, and an engine without UPDATE would copy the whole table for it)."""
    source = re.search(r"\bFROM\s+(\w+)", statement).group(1)
    if eng.rows(f"SELECT count(*) FROM {source}")[0][0]:
        eng.update(statement)


# ---- in process: load_records ------------------------------------------------------------------

def _arrow_column(values: pd.Series) -> Any:
    """One raw column as Arrow for DuckDB: numbers, booleans and timestamps as they are (NaN is
    missing; time zones converted to UTC), text as text, any other cell as its text (as
    ``Series.astype("string")`` writes it). Arrow-backed columns are handed over without a copy."""
    import pyarrow as pa

    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pa.array(values.astype("datetime64[ns]"), from_pandas=True)
    if isinstance(values.array, pd.arrays.ArrowExtensionArray):
        array = arrow_values(values)
        kind = array.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind) \
                or pa.types.is_integer(kind) or pa.types.is_floating(kind):
            return array
        if pa.types.is_decimal(kind):
            return array.cast(pa.float64())
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        array = pa.array(values, from_pandas=True)
        return array.cast(pa.float64()) if pa.types.is_decimal(array.type) else array
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return pa.array(values, from_pandas=True)
    try:
        return pa.array(values, from_pandas=True, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError, ValueError):
        return pa.array(values.astype("string"), from_pandas=True, type=pa.string())


def _trimmed(array: Any) -> Any:
    """Text trimmed of the whitespace Python's str.strip() removes, blanks missing: what
    ``NULLIF(ws_trim(x), '')`` gives, done by Arrow over the whole column at once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim(array, characters=WHITESPACE)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)


def _is_text(array: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def _id_runs(ids: Any) -> tuple[np.ndarray, Any]:
    """(the run each row belongs to, the first value of each run): rows grouped into runs of equal
    neighbouring values, so that a table in order of procedure is read once per procedure."""
    import pyarrow as pa

    starts, heads = [], []
    for chunk in ids.chunks:
        if len(chunk):
            start = run_starts(chunk)
            starts.append(np.asarray(start.to_numpy(zero_copy_only=False), dtype=bool))
            heads.append(chunk.filter(start))
    if not starts:
        return np.zeros(0, dtype=np.int64), pa.array([], type=ids.type)
    # summed as bytes: numpy's cumulative sum of booleans into int64 is 7x slower (0.15 s at 7.5M)
    run = np.cumsum(np.concatenate(starts).view(np.uint8), dtype=np.int64) - 1
    return run, pa.concat_arrays(heads)


class _Keys:
    """Each score's procedure, matched once per run of equal ids (see :func:`_id_runs`): ``key``
    (the position of the procedure row with the same trimmed id, NULL for none) and ``ids`` (the
    trimmed ids, as a dictionary of the runs' values) for ass_raw; ``clean`` says whether trimming
    changed no id (the ids as read can then be handed on as they are)."""

    def __init__(self, ass_ids: Any, proc_ids: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        run, heads = _id_runs(ass_ids)
        trimmed = _trimmed(heads)
        self.clean = bool(pc.all(pc.fill_null(pc.equal(trimmed, heads), False)).as_py()) if len(heads) else True
        position = pc.fill_null(pc.index_in(trimmed, value_set=proc_ids, skip_nulls=True), -1)
        key = np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.int64)[run]
        self.key = pa.array(key.astype(np.int32), mask=key < 0)
        missing = np.asarray(trimmed.is_null().to_numpy(zero_copy_only=False), dtype=bool)[run]
        self.ids = pa.DictionaryArray.from_arrays(pa.array(run.astype(np.int32), mask=missing),
                                                  pc.fill_null(trimmed, ""))


def _arrow_table(frame: pd.DataFrame, wanted: tuple[str, ...], ids: tuple[str, ...],
                 distinct: tuple[str, ...] = ()) -> tuple[Any, list[str], dict[str, pd.Series]]:
    """The raw columns as an Arrow table with _order (the position) and _row; the text id
    columns among ``ids`` already trimmed (returned by name); the distinct values of the text
    columns among ``distinct`` (in the order they first occur)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(frame)
    rows = frame["_row"].to_numpy(dtype=np.int64) if "_row" in frame else np.arange(n, dtype=np.int64)
    data = {"_order": pa.array(np.arange(n, dtype=np.int64)), "_row": pa.array(rows)}
    trimmed = []
    values = {}
    for column in wanted:
        if column in frame:
            data[column] = _arrow_column(frame[column])
            text = _is_text(data[column])
            if column in ids and text:
                data[column] = _trimmed(data[column])
                trimmed.append(column)
            elif column in _CODED_TEXT and text:
                # a few distinct codes or dates: DuckDB scans and joins them by dictionary, whose
                # values are the distinct values in the order they first occur
                encoded = pc.dictionary_encode(data[column])
                if column in distinct:
                    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
                    found = chunks[0].dictionary if chunks else pa.array([], type=data[column].type)
                    values[column] = pd.Series(found.to_pylist(), dtype=object)
                data[column] = encoded
    return pa.table(data), trimmed, values


def _to_pandas(table: Any) -> pd.DataFrame:
    """An engine's Arrow result with the dtypes of the canonical tables: text as pandas'
    Arrow-backed string, booleans nullable, integers Int64, timestamps in nanoseconds."""
    import pyarrow as pa

    strings = pd.StringDtype("pyarrow")
    mapper = {pa.bool_(): pd.BooleanDtype(), pa.string(): strings, pa.large_string(): strings,
              pa.int32(): pd.Int64Dtype(), pa.int64(): pd.Int64Dtype()}
    frame = table.to_pandas(types_mapper=mapper.get)
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


_PROC_OUT = ("procedure_id", "patient_id", "procedure", "procedure_date", "procedure_year", "fracture_date",
             "fracture_age_days", "baseline_pain", "levels_treated", "etiology", "age", "sex", "asa_class",
             "discharge", "length_of_stay_hours", "complication", "physician_id", "site_id",
             "height_restoration_pct", "kyphotic_angle_change_deg")


class RawTables:
    """The raw rows of :func:`outcomes.load_records` as Arrow tables for DuckDB,
    with what :func:`check_frames` needs of the frames afterwards; the frames themselves can then
    be dropped (the tables share the columns DuckDB reads and hold none of the text it reads by
    dictionary or trimmed).

    ``procedures`` and ``assessments`` are the tables, set to None by :func:`check_frames` once
    DuckDB has them; ``carried`` the procedure columns handed on as read (not checked). The frames
    hold raw values under canonical column names, with ``_row`` as a spreadsheet numbers the rows.
    """

    def __init__(self, procedures: pd.DataFrame, assessments: pd.DataFrame) -> None:
        proc_table, proc_trimmed, proc_distinct = _arrow_table(
            procedures, PROCEDURE_COLUMNS, ("procedure_id", "patient_id"), (*CODED_COLUMNS, *_PROCEDURE_DATES))
        ass_table, ass_trimmed, ass_distinct = _arrow_table(
            assessments, ("_column", *ASSESSMENT_COLUMNS), (), ("instrument", "assessed_at"))
        raw_ids = ass_table.column("procedure_id") if "procedure_id" in ass_table.column_names else None
        # a score's procedure is found once per distinct id, by Arrow, when both id columns are
        # text: DuckDB then joins on an integer
        self.keyed = raw_ids is not None and _is_text(raw_ids) and "procedure_id" in proc_trimmed
        if self.keyed:
            keys = _Keys(raw_ids, proc_table.column("procedure_id").combine_chunks())
            ass_table = ass_table.set_column(ass_table.column_names.index("procedure_id"), "procedure_id", keys.ids)
            ass_table = ass_table.append_column("_key", keys.key)
            ass_trimmed.append("procedure_id")
        self.procedures: Any = proc_table
        self.assessments: Any = ass_table
        self.trimmed = (*(f"procedures.{c}" for c in proc_trimmed), *(f"assessments.{c}" for c in ass_trimmed))
        self.distinct = {"procedures": proc_distinct, "assessments": ass_distinct}
        # a missing required column is named with the frame's own columns
        self.found = {"procedures": list(procedures.columns), "assessments": list(assessments.columns)}
        self.n_procedures, self.n_assessments = len(procedures), len(assessments)
        self.columns = list(procedures.columns)
        self.carried = {column: procedures[column] for column in self.columns if column not in _PROC_OUT}


def check_frames(
    raw: RawTables, *, names: dict[str, str], mapping: Mapping, baseline_window_hours: float,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rules of :func:`build_checked` run in process by DuckDB over the raw tables of two frames
    (:class:`RawTables`; their Arrow tables are released here: drop the frames before the call and
    their memory goes back as soon as DuckDB is done with it).

    Returns (procedures, assessments, procedure exclusions, assessment exclusions, remarks): the
    analysed procedures with every column of the input (canonical ones cleaned, others as they
    are, ``procedure_date``, ``procedure_year`` and, where they can be derived,
    ``fracture_age_days`` and ``discharge`` added), the analysed scores (``procedure_id``,
    ``hours_after``, ``pain`` on 0-10, ``instrument``) in order of procedure and time, and the
    logs (one row per excluded row or per value set to missing).
    """
    from .engines import DuckDBEngine

    notes = [] if notes is None else notes
    # DuckDB's memory beyond what the frames take (it spills to disk past this): on 1M procedures
    # and 7.5M scores, 700 MB spilled ~170 MB of the checked scores and cut the peak by ~0.3 GB
    # against 1 GB, at no cost in time (500 MB worked too)
    eng = DuckDBEngine(memory_limit="700MB")
    try:
        eng.con.register("proc_raw", raw.procedures)
        eng.con.register("ass_raw", raw.assessments)
        raw.procedures = raw.assessments = None  # DuckDB holds them until unregistered
        release_memory()  # the text of the dropped frames that DuckDB does not read
        proc_cols = {c: (c, t) for c, t in eng.columns("proc_raw") if c not in ("_order", "_row")}
        ass_cols = {c: (c, t) for c, t in eng.columns("ass_raw") if c not in ("_order", "_row", "_key")}
        instruments = build_checked(eng, names, proc_cols, ass_cols, mapping=mapping,
                                    baseline_window_hours=baseline_window_hours, notes=notes, log=True,
                                    found=raw.found, trimmed=raw.trimmed, distinct=raw.distinct, keyed=raw.keyed)
        # the results as Arrow, each table dropped once read (the raw tables with the first)
        results = {name: eng.arrow(query) for name, query in (
            ("proc_excl", "SELECT _row AS row, _column AS \"column\", _value AS value, _reason AS reason, procedure_id "
                          "FROM proc_checked WHERE _rule IS NOT NULL ORDER BY _rule, _order"),
            ("remarks", "SELECT _row AS row, _column AS \"column\", _value AS value, _remark AS remark "
                        "FROM proc_remarks ORDER BY _k, _order"),
            ("ass_excl", "SELECT e._row AS row, e._column AS \"column\", e._value AS value, r._reason AS reason, "
                         "e.procedure_id FROM ass_excluded AS e JOIN ass_rules AS r ON e._rule = r._rule "
                         "ORDER BY e._rule, e._order"),
        )}
        for name in ("proc_raw", "ass_raw"):
            eng.con.unregister(name)
        eng.con.execute("DROP TABLE proc_remarks; DROP TABLE ass_excluded")
        results["kept"] = _in_row_order(eng.arrow(
            f"SELECT _order, {', '.join(_PROC_OUT)} FROM proc_checked WHERE _rule IS NULL"))
        eng.con.execute("DROP TABLE proc_checked")
        # in any order: put in row order by _order below (a scatter, not a sort)
        results["scores"] = eng.arrow(
            "SELECT _order, pid, hours_after, pain, instrument_id FROM ass_checked WHERE _rule IS NULL")
        eng.con.execute("DROP TABLE ass_checked")
    finally:
        # closed before the results become pandas: DuckDB keeps its memory until then
        eng.close()
    kept = _to_pandas(results.pop("kept"))
    positions = kept["_order"].to_numpy(dtype=np.int64)
    out = _procedures_out(raw.columns, raw.carried, kept)
    del kept
    scores = _scores_out(results.pop("scores"), out["procedure_id"], positions, raw.n_procedures,
                         raw.n_assessments, instruments)
    return (out, scores,
            _log(_to_pandas(results["proc_excl"]), "procedures", names["procedures"], EXCLUSION_COLUMNS),
            _log(_to_pandas(results["ass_excl"]), "assessments", names["assessments"], EXCLUSION_COLUMNS),
            _log(_to_pandas(results["remarks"]), "procedures", names["procedures"], REMARK_COLUMNS))


def _in_row_order(table: Any) -> Any:
    """An engine's result in order of ``_order`` (DuckDB returns rows in any order without an
    ``ORDER BY``; a sort of the key alone is cheaper than DuckDB's sort of every column)."""
    order = _column(table, "_order")
    if len(order) < 2 or bool(np.all(order[1:] > order[:-1])):
        return table
    return table.take(np.argsort(order, kind="stable"))


def _column(table: Any, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy())


def _scores_out(scores: Any, ids: pd.Series, positions: np.ndarray, n_procedures: int, n_scores: int,
                instruments: list[str]) -> pd.DataFrame:
    """The analysed scores (Arrow, in any order; ``_order`` the row's position in its table,
    ``pid`` its procedure's) in order of procedure id and time. ``ids`` are the analysed
    procedures' ids, ``positions`` their rows in the procedures table; a score's id is its
    procedure's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # row order: as DuckDB gave them when they are in it, else by scattering each row into its
    # place (no sort); each Arrow column is dropped once read (memory)
    order = _column(scores, "_order")
    by_row = None
    if len(order) > 1 and not bool(np.all(order[1:] > order[:-1])):
        slot = np.full(n_scores, -1, dtype=np.int64)
        slot[order] = np.arange(len(order))
        by_row = slot[slot >= 0]
        del slot
    del order

    def take(name: str) -> np.ndarray:
        nonlocal scores
        values = _column(scores, name)
        scores = scores.drop_columns([name])
        return values if by_row is None else values[by_row]

    where = np.full(n_procedures, -1, dtype=np.int64)
    where[positions] = np.arange(len(positions))
    index = where[take("pid")]
    del where
    hours = take("hours_after")
    id_array = pa.array(ids.array) if len(ids) else pa.array([], type=pa.string())
    if isinstance(id_array, pa.ChunkedArray):
        id_array = id_array.combine_chunks()
    if len(ids) < 2 or pc.all(pc.less(id_array.slice(0, len(ids) - 1), id_array.slice(1))).as_py():
        key = index  # the procedures are in order of their ids already
    else:
        rank = np.empty(len(ids), dtype=np.int64)
        rank[pc.sort_indices(id_array).to_numpy()] = np.arange(len(ids))
        key = rank[index]
    # exports usually come in order of procedure and time: then no sort is needed
    ordered = len(key) < 2 or bool(np.all((key[1:] > key[:-1]) | ((key[1:] == key[:-1]) & (hours[1:] >= hours[:-1]))))
    sort = None if ordered else np.lexsort((hours, key))
    del key
    pain = take("pain")
    instrument_id = take("instrument_id")
    del scores, by_row
    if sort is not None:
        hours, pain, instrument_id, index = hours[sort], pain[sort], instrument_id[sort], index[sort]
    procedure_id = pd.array(id_array.take(pa.array(index)), dtype=pd.StringDtype("pyarrow"))
    del index
    labels = pd.array(instruments, dtype=pd.StringDtype("pyarrow"))
    return pd.DataFrame({
        "procedure_id": pd.Series(procedure_id),
        "hours_after": np.asarray(hours, dtype=float),
        "pain": np.asarray(pain, dtype=float),
        "instrument": pd.Series(labels.take(instrument_id)),
    }, copy=False)  # no 2-D block stacked from hours and pain (a copy of each)


def _log(frame: pd.DataFrame, table: str, source: str, columns: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.astype({c: object for c in ("value", "procedure_id") if c in frame})
    frame = frame.astype({c: str for c in ("column", "reason", "remark") if c in frame})
    frame.insert(0, "source", source)
    frame.insert(0, "table", table)
    frame["row"] = frame["row"].astype("int64")
    return frame[columns]


def _procedures_out(columns: list[str], carried: dict[str, pd.Series], kept: pd.DataFrame) -> pd.DataFrame:
    """The analysed procedures in the input's column order (``columns``): canonical columns from
    the checked table, any other as it was read (``carried``); the derived columns appended as
    the checks add them."""
    positions = kept.pop("_order").to_numpy(dtype=np.int64)
    kept.index = pd.RangeIndex(len(kept))
    given = set(columns)
    columns = list(columns)
    for column in ("procedure_date", "procedure_year"):
        if column not in columns:
            columns.append(column)
    if "fracture_date" in given and "fracture_age_days" not in given:
        columns.append("fracture_age_days")
    if "length_of_stay_hours" in given and "discharge" not in given:
        columns.append("discharge")
    data = {}
    for column in columns:
        if column in _PROC_OUT:
            values = kept[column]
            if column in ("levels_treated", "asa_class", "age", "baseline_pain", "fracture_age_days",
                          "length_of_stay_hours", "height_restoration_pct", "kyphotic_angle_change_deg"):
                values = values.astype(float)
            data[column] = values
        else:
            data[column] = carried[column].take(positions).reset_index(drop=True)
    # copy=False: no 2-D block stacked from the numeric columns (a copy of each)
    return pd.DataFrame(data, index=kept.index, copy=False)
