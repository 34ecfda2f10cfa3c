"""Function scores: the Oswestry Disability Index, the Roland-Morris questionnaire, the EQ-5D VAS.

Function and quality-of-life scores sit in the assessments table beside the pain scores
(``instrument`` names the scale, ``score`` holds the value; wide columns such as ``odi_4w``,
``rmdq_2w``, ``eq5d_vas_6w``). They are not pain: they are checked, counted and excluded in a table
of their own (``function_scores`` in the row accounting) and kept as ``Cohort.function_scores``.

The rules are written once, in SQL (``outcomes/sql/function.sql`` for the checks,
``outcomes/sql/function_endpoints.sql`` for the endpoint), and run in process by
:class:`outcomes.engines.DuckDBEngine`; instrument labels are read in Python once per distinct
value (:meth:`outcomes.mapping.Mapping.function_instrument`).

Endpoint (one row per procedure, beside the pain endpoints of :func:`outcomes.derive_endpoints`):
the change from baseline on ODI (preferred) or RMDQ at the score nearest 2 weeks (1 to 6 weeks),
and whether it reached the minimal important change: 10 ODI points, 5 RMDQ points (Ostelo 2008).

References
----------
.. [1] Ostelo RWJG et al. Interpreting change scores for pain and functional status in low back
   pain: towards international consensus regarding minimal important change. Spine
   2008;33:90-94. doi:10.1097/BRS.0b013e31815e3a10
.. [2] Fairbank JCT, Pynsent PB. The Oswestry Disability Index. Spine 2000;25:2940-2952.
.. [3] Roland M, Morris R. A study of the natural history of back pain. Part I. Spine
   1983;8:141-144.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .checks import number_sql
from .columnar import arrow_values, distinct_values, first_positions
from .cohort import EXCLUSION_COLUMNS
from .definitions import Definitions
from .engines import DuckDBEngine, literal
from .exceptions import InputError
from .mapping import FUNCTION_RANGE, Mapping
from .pipeline import sql_text
from .validation import MAX_HOURS_AFTER, parse_dates

__all__ = ["FUNCTION_ENDPOINT_COLUMNS", "FUNCTION_SCORE_COLUMNS", "check_function_scores",
           "function_accounting", "function_columns", "function_endpoints", "function_rules", "register_function_labels",
           "run_function_sql", "split_function_rows"]

FUNCTION_SCORE_COLUMNS = ("procedure_id", "hours_after", "instrument", "score")
FUNCTION_ENDPOINT_COLUMNS = ("function_instrument", "function_baseline", "function_followup", "function_hours",
                             "function_change", "function_regained")
TABLE = "function_scores"


def empty_function_scores() -> pd.DataFrame:
    """The function scores table with no rows (a cohort without function scores)."""
    return pd.DataFrame({"procedure_id": pd.Series(dtype="string"), "hours_after": pd.Series(dtype=float),
                         "instrument": pd.Series(dtype="string"), "score": pd.Series(dtype=float)})


def function_rules(baseline_window_hours: float) -> dict[int, str]:
    """The exclusion reasons by the rule numbers of ``sql/function.sql``.

    >>> print(function_rules(720)[6])
    score outside the instrument's range (odi 0-100, rmdq 0-24, eq5d_vas 0-100)
    """
    ranges = ", ".join(f"{k} {lo:g}-{hi:g}" for k, (lo, hi) in FUNCTION_RANGE.items())
    return {
        1: "procedure_id missing",
        2: "its procedure was excluded",
        3: "unknown procedure id (not in the procedures table)",
        4: "score missing",
        5: "score is not a number",
        6: f"score outside the instrument's range ({ranges})",
        7: "assessed_at needs the procedure's date, and the procedure has only a year (give hours_after)",
        8: "time missing",
        9: "time is not a number",
        10: f"time not finite or more than {MAX_HOURS_AFTER / 8766:g} years from the procedure",
        11: (f"time before the procedure, outside the {baseline_window_hours / 24:g}-day baseline window "
             "(only a baseline score may precede the procedure)"),
        12: "duplicate assessment (same procedure, instrument and time)",
    }


_RULE_COLUMN = {1: "procedure_id", 2: "procedure_id", 3: "procedure_id", 4: "score", 5: "score", 6: "score",
                7: "assessed_at", 8: "hours_after", 9: "hours_after", 10: "hours_after", 11: "hours_after",
                12: "hours_after"}


def _function_rows(instrument: pd.Series, mapping: Mapping) -> np.ndarray | None:
    """Which rows name a function instrument (None: no row does), each distinct label read once."""
    try:
        values = arrow_values(instrument)
    except (pa.ArrowException, TypeError, ValueError):  # cells of several kinds: read as pandas does
        codes, distinct = pd.factorize(instrument, use_na_sentinel=True)
        found = np.array([mapping.function_instrument(v) is not None for v in distinct] + [False], dtype=bool)
        return found[codes] if found.any() else None
    distinct = distinct_values(values)
    labels = [v for v in distinct.to_pylist() if mapping.function_instrument(v) is not None]
    if not labels:
        return None
    return first_positions(values, pa.array(labels, type=distinct.type))


def split_function_rows(frame: pd.DataFrame, mapping: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pain rows, function rows) of an assessments table after the mapping's renames.

    A row is a function row when its ``instrument`` names a function instrument (``odi``,
    ``rmdq``, ``eq5d_vas``, or a clinic label mapped onto one). On pain rows a ``score`` column
    fills a missing ``pain`` value (the value may sit in ``score`` for every instrument); function
    rows carry their value in ``score`` (or ``pain`` when the table has no ``score`` column).

    Examples
    --------
    >>> rows = pd.DataFrame({"procedure_id": ["P1", "P1"], "hours_after": [48, 48],
    ...                      "instrument": ["nrs", "Oswestry"], "score": [3, 40]})
    >>> pain, function = split_function_rows(rows, Mapping())
    >>> pain["pain"].tolist(), function["score"].tolist()
    ([3], [40])
    """
    if "instrument" not in frame:
        return frame, frame.iloc[:0]
    where = _function_rows(frame["instrument"], mapping)
    # no copy of a large pain table that holds no function row
    if where is None or not len(where):
        pain, function = frame, frame.iloc[:0]
    else:
        is_function = np.zeros(len(frame), dtype=bool)
        is_function[where] = True
        pain, function = frame.loc[~is_function], frame.loc[is_function]
    if "score" in pain:
        value = pain["score"] if "pain" not in pain else pain["pain"].where(pain["pain"].notna(), pain["score"])
        pain = pain.assign(pain=value).drop(columns="score")
    if "score" not in function and "pain" in function:
        function = function.assign(score=function["pain"])
    return pain, function


def _number_sql(column: str, frame: pd.DataFrame) -> tuple[str, str]:
    """SQL for (the number, whether a value is present) of a column of ``fn_src``: the pain
    scores' rule (:func:`outcomes.checks.number_sql`)."""
    if column not in frame:
        return "CAST(NULL AS DOUBLE)", "false"
    numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
    return number_sql(column, {column: (column, "DOUBLE" if numeric else "VARCHAR")}, ref=f"s.{column}")


def _arrow(frame: pd.DataFrame) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)


def register_function_labels(eng: Any, raw: pd.Series, raw_type: str, mapping: Mapping) -> bool:
    """``_map_function(raw, instrument, low, high)``: each distinct raw instrument label with the
    function instrument it names (NULL for a pain scale) and its scale's range. Returns whether
    any label names a function instrument."""
    labels = pd.Series(raw, dtype=object).dropna().drop_duplicates().reset_index(drop=True)
    canon = [mapping.function_instrument(v) for v in labels]
    known = pd.DataFrame({"raw": labels, "instrument": pd.Series(canon, dtype=object)})
    known["low"] = [FUNCTION_RANGE[c][0] if c else np.nan for c in canon]
    known["high"] = [FUNCTION_RANGE[c][1] if c else np.nan for c in canon]
    eng.register("_map_function", _arrow(known), {"raw": raw_type, "instrument": "VARCHAR", "low": "DOUBLE",
                                                  "high": "DOUBLE"})
    return any(c is not None for c in canon)


def run_function_sql(eng: Any, *, score_value: str, score_present: str, hours_value: str, hours_present: str,
                     definitions: Definitions) -> None:
    """Run ``sql/function.sql`` (``fn_src``, ``proc_checked``, ``_map_function`` -> ``fn_checked``)
    and ``sql/function_endpoints.sql`` (-> ``fn_endpoints``) on an engine of
    :mod:`outcomes.engines` (which carries the DuckDB dialect to its own); the value expressions
    read the columns of ``fn_src AS s``."""
    d = definitions
    checks = sql_text("function").format(
        ws_trim="ws_trim", score_value=score_value, score_present=score_present, hours_value=hours_value,
        hours_present=hours_present, max_hours=literal(MAX_HOURS_AFTER),
        baseline_window_hours=literal(d.baseline_window_hours))
    eng.create(checks)
    scores = ("CREATE OR REPLACE TEMP TABLE fn_scores AS SELECT pid, hours_after, instrument, score "
              "FROM fn_checked WHERE _rule IS NULL")
    eng.create(scores)
    endpoint = sql_text("function_endpoints").format(
        baseline_window_hours=literal(d.baseline_window_hours), target_hours=literal(d.function_target_hours),
        window_low_hours=literal(d.function_window_low_hours),
        window_high_hours=literal(d.function_window_high_hours),
        mcid_odi=literal(d.function_mcid_odi), mcid_rmdq=literal(d.function_mcid_rmdq))
    eng.create(endpoint)


def function_accounting(eng: Any, baseline_window_hours: float) -> tuple[tuple[str, int, int] | None,
                                                                         list[tuple[str, int]]]:
    """(``("function_scores", read, excluded)`` or None when there are no function rows, and the
    excluded rows by reason) from ``fn_checked``."""
    read, excluded = eng.rows("SELECT count(*), count(_rule) FROM fn_checked")[0]
    if not read:
        return None, []
    reasons = function_rules(baseline_window_hours)
    counts = eng.rows("SELECT _rule, count(*) FROM fn_checked WHERE _rule IS NOT NULL GROUP BY _rule ORDER BY _rule")
    return (TABLE, int(read), int(excluded)), [(reasons[int(r)], int(n)) for r, n in counts]


def check_function_scores(
    rows: pd.DataFrame,
    procedures: pd.DataFrame,
    excluded_ids: pd.Series,
    *,
    source: str,
    mapping: Mapping | None = None,
    baseline_window_hours: float = 720.0,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check function scores against the validated procedures, by ``sql/function.sql``.

    Parameters
    ----------
    rows : pandas.DataFrame
        The function rows of an assessments table (:func:`split_function_rows`): ``procedure_id``,
        ``instrument``, ``score``, ``hours_after`` or ``assessed_at``, and ``_row`` (the row as a
        spreadsheet numbers it).
    procedures : pandas.DataFrame
        The validated procedures (``procedure_id``, ``procedure_date``).
    excluded_ids : pandas.Series
        Ids of the excluded procedure rows.
    source : str
        The file name, for the exclusion log.
    mapping : Mapping, optional
        The instrument labels and the date format of ``assessed_at``.
    baseline_window_hours : float, default 720
        How long before the procedure a baseline score may lie.
    notes : list of str, optional
        Receives how dates were read.

    Returns
    -------
    scores : pandas.DataFrame
        One row per analysed score: ``procedure_id``, ``hours_after``, ``instrument`` (``odi``,
        ``rmdq``, ``eq5d_vas``), ``score`` (on the instrument's own scale), sorted by procedure
        and time.
    exclusions : pandas.DataFrame
        One row per excluded score (table ``function_scores``), columns of the exclusion log.

    Examples
    --------
    >>> procs = pd.DataFrame({"procedure_id": ["P1"], "procedure_date": [pd.Timestamp("2022-01-03")]})
    >>> rows = pd.DataFrame({"procedure_id": ["P1", "P1", "P1"], "hours_after": [-2, 336, 336],
    ...                      "instrument": ["odi", "odi", "rmdq"], "score": [60, 140, 9], "_row": [2, 3, 4]})
    >>> scores, excluded = check_function_scores(rows, procs, pd.Series([], dtype=str), source="a.csv")
    >>> scores[["hours_after", "instrument", "score"]].values.tolist()
    [[-2.0, 'odi', 60.0], [336.0, 'rmdq', 9.0]]
    >>> excluded[["row", "column", "value"]].values.tolist(), bool(excluded["reason"].str.startswith("score outside").all())
    ([[3, 'score', '140']], True)
    """
    mapping = Mapping.coerce(mapping)
    if len(rows) == 0:
        return empty_function_scores(), pd.DataFrame(columns=EXCLUSION_COLUMNS)
    if "procedure_id" not in rows or ("hours_after" not in rows and "assessed_at" not in rows):
        raise InputError(
            f"The function scores of {source} must have the columns 'procedure_id' and 'hours_after' (or "
            f"'assessed_at'); got {', '.join(map(repr, [c for c in rows.columns if not str(c).startswith('_')]))}.")
    df = rows.reset_index(drop=True)
    src = pd.DataFrame({"_order": np.arange(len(df), dtype=np.int64),
                        "procedure_id": df["procedure_id"].astype("string"),
                        "instrument": df["instrument"].astype("string")})
    src["score"] = df["score"] if "score" in df else np.nan
    if pd.api.types.is_object_dtype(src["score"]) or pd.api.types.is_string_dtype(src["score"]):
        src["score"] = src["score"].astype("string")
    hours = df["hours_after"] if "hours_after" in df else pd.Series(np.nan, index=df.index)
    undated = np.zeros(len(df), dtype=bool)
    if "assessed_at" in df:
        # a time rule as the pain scores': hours from the procedure's date when hours_after is blank
        stamp, _ = parse_dates(df["assessed_at"], mapping.date_format_for("assessed_at"), column="assessed_at",
                               source=source, notes=notes)
        where = pd.Index(procedures["procedure_id"].astype("string")).get_indexer(src["procedure_id"].str.strip())
        dates = pd.to_datetime(procedures["procedure_date"]).astype("datetime64[ns]").array
        start = pd.Series(dates.take(where, allow_fill=True), index=df.index)
        numeric = pd.to_numeric(hours, errors="coerce") if not pd.api.types.is_numeric_dtype(hours) else hours
        derived = (stamp - start).dt.total_seconds() / 3600.0
        blank = pd.Series(hours).astype("string").str.strip().fillna("").eq("").to_numpy()
        hours = pd.Series(np.where(blank, derived, numeric), index=df.index, dtype=float)
        undated = (blank & stamp.notna().to_numpy() & start.isna().to_numpy() & (where >= 0))
    src["hours_after"] = hours.astype("string") if not pd.api.types.is_numeric_dtype(hours) else hours.astype(float)
    src["undated"] = undated

    checked_procs = pd.DataFrame({"_order": np.arange(len(procedures), dtype=np.int64),
                                  "procedure_id": procedures["procedure_id"].astype("string").to_numpy(),
                                  "_reason": None})
    gone = pd.DataFrame({"_order": np.arange(len(excluded_ids), dtype=np.int64) + len(procedures),
                         "procedure_id": pd.Series(excluded_ids).astype("string").to_numpy(), "_reason": "excluded"})
    checked_procs = pd.concat([checked_procs, gone], ignore_index=True)

    score_value, score_present = _number_sql("score", src)
    hours_value, hours_present = _number_sql("hours_after", src)
    eng = DuckDBEngine(threads=1)
    try:
        src_types = {"_order": "BIGINT", "procedure_id": "VARCHAR", "instrument": "VARCHAR",
                     "score": "DOUBLE" if score_value.startswith("CASE WHEN s.score") else "VARCHAR",
                     "hours_after": "DOUBLE" if hours_value.startswith("CASE WHEN s.hours_after") else "VARCHAR",
                     "undated": "BOOLEAN"}
        eng.register("fn_src", _arrow(src), src_types)
        eng.register("proc_checked", _arrow(checked_procs.astype({"_reason": object})),
                     {"_order": "BIGINT", "procedure_id": "VARCHAR", "_reason": "VARCHAR"})
        register_function_labels(eng, src["instrument"].astype(object), "VARCHAR", mapping)
        run_function_sql(eng, score_value=score_value, score_present=score_present, hours_value=hours_value,
                         hours_present=hours_present,
                         definitions=Definitions(baseline_window_hours=baseline_window_hours))
        out = eng.arrow("SELECT _order, procedure_id, hours_after, instrument, score, _rule FROM fn_checked "
                        "ORDER BY _order").to_pandas()
    finally:
        eng.close()

    rule = out["_rule"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    order = out["_order"].to_numpy()
    kept = np.isnan(rule)
    ok = out.loc[kept]
    scores = pd.DataFrame({
        "procedure_id": pd.array(ok["procedure_id"].to_numpy(dtype=object), dtype="string"),
        "hours_after": ok["hours_after"].to_numpy(dtype=float),
        "instrument": pd.array(ok["instrument"].to_numpy(dtype=object), dtype="string"),
        "score": ok["score"].to_numpy(dtype=float),
    }).sort_values(["procedure_id", "hours_after", "instrument"], kind="stable").reset_index(drop=True)

    reasons = function_rules(baseline_window_hours)
    bad = order[~kept]
    bad_rule = rule[~kept].astype(int)
    logged = []
    for number in np.unique(bad_rule):
        at = bad[bad_rule == number]
        column = _RULE_COLUMN[int(number)]
        if column == "hours_after" and "hours_after" not in df:
            column = "assessed_at"
        part = df.iloc[at]
        value = part[column].astype("string") if column in part else pd.Series(pd.NA, index=part.index, dtype="string")
        logged.append(pd.DataFrame({
            "table": TABLE, "source": source,
            "row": part["_row"].to_numpy() if "_row" in part else at,
            "column": part["_column"].to_numpy() if "_column" in part else column,
            "value": value.to_numpy(), "reason": reasons[int(number)],
            "procedure_id": part["procedure_id"].astype("string").to_numpy(), "_at": at,
        }))
    if logged:
        exclusions = pd.concat(logged, ignore_index=True).sort_values("_at", kind="stable")
        exclusions = exclusions[EXCLUSION_COLUMNS].reset_index(drop=True)
    else:
        exclusions = pd.DataFrame(columns=EXCLUSION_COLUMNS)
    return scores, exclusions


def function_endpoints(endpoints: pd.DataFrame, scores: pd.DataFrame,
                       definitions: Definitions | None = None) -> pd.DataFrame:
    """The endpoints with the function columns added, by ``sql/function_endpoints.sql``.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        One row per procedure with ``procedure_id`` (from :func:`outcomes.derive_endpoints`).
    scores : pandas.DataFrame
        Analysed function scores (``Cohort.function_scores``).
    definitions : Definitions, optional
        ``function_target_hours`` (336), ``function_window_low_hours`` (168),
        ``function_window_high_hours`` (1008), ``function_mcid_odi`` (10), ``function_mcid_rmdq``
        (5) and ``baseline_window_hours``.

    Returns
    -------
    pandas.DataFrame
        ``endpoints`` with ``function_instrument`` (``odi`` | ``rmdq``; ODI preferred),
        ``function_baseline`` (last score in the baseline window), ``function_followup`` (the
        score nearest the target inside the window, ties to the earlier), ``function_hours``,
        ``function_change`` (baseline - follow-up: positive is better) and ``function_regained``
        (change >= the minimal important change; NA without a baseline or a follow-up). All NA for
        a procedure without ODI or RMDQ scores.

    Examples
    --------
    >>> ep = pd.DataFrame({"procedure_id": ["P1", "P2"]})
    >>> scores = pd.DataFrame({"procedure_id": ["P1", "P1", "P2"], "hours_after": [-1.0, 340.0, -1.0],
    ...                        "instrument": ["odi", "odi", "rmdq"], "score": [60.0, 44.0, 12.0]})
    >>> out = function_endpoints(ep, scores)
    >>> out[["function_instrument", "function_change", "function_regained"]].astype(object).values.tolist()
    [['odi', 16.0, True], ['rmdq', nan, <NA>]]
    """
    out = endpoints.copy()
    for name, values in function_columns(out["procedure_id"], scores, definitions).items():
        out[name] = pd.Series(values, index=out.index) if not isinstance(values, pd.Series) else values.to_numpy()
    return out


def function_columns(procedure_ids: pd.Series, scores: pd.DataFrame,
                     definitions: Definitions | None = None) -> dict[str, Any]:
    """The function endpoint columns (:func:`function_endpoints`) of the procedures
    ``procedure_ids``, in their order, as arrays: ``{name: values}``.

    :func:`outcomes.derive_endpoints` adds them to its frame without copying it.
    """
    d = definitions or Definitions()
    n = len(procedure_ids)
    if len(scores) == 0:
        return _attach(n, None)
    ids = procedure_ids.astype("string")
    pid = pd.Index(ids).get_indexer(scores["procedure_id"].astype("string"))
    keep = pid >= 0
    frame = pd.DataFrame({"pid": pid[keep].astype(np.int64),
                          "hours_after": scores["hours_after"].to_numpy(dtype=float)[keep],
                          "instrument": scores["instrument"].astype(object).to_numpy()[keep],
                          "score": scores["score"].to_numpy(dtype=float)[keep]})
    eng = DuckDBEngine(threads=1)
    try:
        eng.register("fn_scores", _arrow(frame), {"pid": "BIGINT", "hours_after": "DOUBLE", "instrument": "VARCHAR",
                                                 "score": "DOUBLE"})
        eng.create(sql_text("function_endpoints").format(
            baseline_window_hours=literal(d.baseline_window_hours), target_hours=literal(d.function_target_hours),
            window_low_hours=literal(d.function_window_low_hours),
            window_high_hours=literal(d.function_window_high_hours),
            mcid_odi=literal(d.function_mcid_odi), mcid_rmdq=literal(d.function_mcid_rmdq)))
        got = eng.arrow("SELECT * FROM fn_endpoints ORDER BY pid").to_pandas()
    finally:
        eng.close()
    return _attach(n, got)


def _attach(n: int, got: pd.DataFrame | None) -> dict[str, Any]:
    pos = got["pid"].to_numpy(dtype=np.int64) if got is not None else np.array([], dtype=np.int64)
    columns: dict[str, Any] = {}
    if got is not None:
        instrument = np.full(n, None, dtype=object)
        instrument[pos] = got["function_instrument"].to_numpy(dtype=object)
        columns["function_instrument"] = pd.array(instrument, dtype="string")
    else:  # no function scores: all NA (a scalar fill, not a million None objects)
        columns["function_instrument"] = pd.Series(pd.NA, index=pd.RangeIndex(n), dtype="string").array
    for name in ("function_baseline", "function_followup", "function_hours", "function_change"):
        values = np.full(n, np.nan)
        if got is not None:
            values[pos] = got[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        columns[name] = values
    regained = np.zeros(n, dtype=bool)
    missing = np.ones(n, dtype=bool)
    if got is not None:
        flag = got["function_regained"].astype("boolean")
        regained[pos] = flag.fillna(False).to_numpy(dtype=bool)
        missing[pos] = flag.isna().to_numpy()
    columns["function_regained"] = pd.arrays.BooleanArray(regained, missing)
    return columns
