"""The endpoints, defined once in ``outcomes/sql/endpoints.sql`` and run by an engine.

Every endpoint of :func:`outcomes.derive_endpoints` is written once, in SQL. Two callers run it:

- :func:`outcomes.derive_endpoints` registers a validated cohort's frames in an in-process DuckDB
  connection (queried in place, through Arrow) as ``proc_checked`` and ``ass_checked`` and
  calls :func:`derive_in_process`;
- :func:`outcomes.evaluate_registry` builds the same two tables from files or a database (DuckDB,
  Spark, PostgreSQL) and runs :func:`endpoint_statements` there (the last two as views, which
  its one ``endpoints`` statement reads).

Both fill the placeholders of the SQL from :class:`Definitions` here, in :func:`endpoint_fill`,
and take the relief threshold of each distinct baseline score from
:meth:`Definitions.relief_threshold` (:func:`create_thresholds`).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .definitions import RELIEF_TOLERANCE, Definitions
from .engines import DuckDBEngine, literal

__all__ = ["create_thresholds", "created_table", "derive_in_process", "endpoint_fill", "endpoint_statements",
           "sql_statements", "sql_text"]

# The procedure columns endpoints.sql reads (besides _order and _reason), with their SQL types.
_READ = {"baseline_pain": "DOUBLE", "fracture_age_days": "DOUBLE", "discharge": "VARCHAR", "asa_class": "DOUBLE",
         "levels_treated": "DOUBLE"}
_CREATE = re.compile(r"^(?:\s*--[^\n]*\n)*\s*CREATE OR REPLACE TEMP TABLE (\w+) AS\s")


def created_table(statement: str) -> tuple[str, str] | None:
    r"""(the table, its query) of a statement of the SQL files that makes a table
    (``CREATE OR REPLACE TEMP TABLE name AS query``, after comment lines), else None: for running
    the query as a view or fetching it without making the table.

    >>> created_table("-- note\nCREATE OR REPLACE TEMP TABLE t AS SELECT 1")
    ('t', 'SELECT 1')
    """
    made = _CREATE.match(statement)
    return None if made is None else (made.group(1), statement[made.end():])


def sql_text(name: str) -> str:
    """The text of ``outcomes/sql/{name}.sql``."""
    return (resources.files("outcomes") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def sql_statements(sql: str) -> list[str]:
    r"""The statements of a SQL text (each ends with ";" at the end of a line), without their
    whole-line comments (which may name placeholders of the text before it is filled): the one
    reader of the statements of every SQL file.

    >>> sql_statements("-- {x} a note\nSELECT 1;\n-- the end\n")
    ['SELECT 1']
    """
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in re.split(r";[ \t]*\n", sql + "\n") if part.strip()]


def endpoint_fill(d: Definitions) -> dict[str, str]:
    """The placeholders of ``endpoints.sql``, as SQL literals, from the definitions."""
    return {
        "baseline_window_hours": literal(d.baseline_window_hours),
        "relief_tolerance": literal(RELIEF_TOLERANCE),
        "horizon_low": literal(d.relief_horizon_hours - d.relief_horizon_grace_hours),
        "horizon_high": literal(d.relief_horizon_evaluated_hours),
        "success_target": literal(d.success_target_hours),
        "success_low": literal(d.success_window_low_hours),
        "success_high": literal(d.success_window_high_hours),
        "early_max_days": literal(d.early_max_fracture_age_days),
    }


def create_thresholds(eng: Any, d: Definitions) -> None:
    """``_thresholds(baseline, threshold)``: :meth:`Definitions.relief_threshold` of every baseline
    score that can occur (the procedures' own and every analysed score at or before a procedure),
    computed in Python once per distinct value."""
    table = eng.arrow(
        "SELECT DISTINCT baseline_pain AS baseline FROM proc_checked WHERE _reason IS NULL AND baseline_pain IS NOT NULL "
        "UNION SELECT DISTINCT pain FROM ass_checked WHERE _rule IS NULL AND hours_after <= 0 AND pain IS NOT NULL")
    baseline = np.asarray(table.column("baseline").to_numpy(zero_copy_only=False), dtype=float)
    eng.register("_thresholds", pa.table({"baseline": baseline, "threshold": d.relief_threshold(baseline)}),
                 {"baseline": "DOUBLE", "threshold": "DOUBLE"})


def endpoint_statements(d: Definitions) -> list[str]:
    """The statements of ``endpoints.sql`` with their placeholders filled: ``endpoint_base``,
    ``endpoint_post``, ``endpoint_values``, then ``endpoint_rows``."""
    return sql_statements(sql_text("endpoints").format(**endpoint_fill(d)))


def _numbers(values: pd.Series) -> pa.Array:
    """A column as Arrow doubles, NaN and NA as NULL (a float64 column is read without a copy)."""
    if values.dtype == np.float64:
        return pa.array(values.to_numpy(), from_pandas=True)
    return pa.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan), from_pandas=True)


def _text(values: pd.Series) -> pa.Array:
    """A column as Arrow text (pandas' pyarrow-backed strings without a copy), NA as NULL."""
    try:
        array = pa.array(values.to_numpy() if values.dtype == object else values, from_pandas=True)
    except (pa.ArrowException, TypeError):  # mixed types in an object column
        array = pa.array(values.astype("string"), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.string())
    return array


def _positions(ids: pd.Series, procedure_ids: pa.Array) -> np.ndarray:
    """Each score's procedure as a position in ``procedure_ids`` (unique), -1 where it is not there.

    Scores come in runs of one procedure's rows (validated scores are sorted): each run's id is
    looked up once.
    """
    text = _text(ids)
    if len(text) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.ones(len(text), dtype=bool)
    starts[1:] = pc.not_equal(text.slice(1), text.slice(0, len(text) - 1)).fill_null(True).to_numpy(
        zero_copy_only=False)
    run = np.cumsum(starts, dtype=np.int64) - 1  # each score's run
    run_ids = text.take(pa.array(np.flatnonzero(starts)))
    values = procedure_ids.cast(text.type)
    if len(run_ids) == len(values) and run_ids.equals(values):
        return run  # the runs are the procedures, in their order (every procedure has scores)
    found = pc.index_in(run_ids, value_set=values)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)[run]


def derive_in_process(procedures: pd.DataFrame, assessments: pd.DataFrame, d: Definitions) -> pd.DataFrame:
    """The derived endpoint columns of validated frames, one row per procedure in their order.

    Parameters
    ----------
    procedures : pandas.DataFrame
        One row per procedure: ``procedure_id`` and any of ``baseline_pain``,
        ``fracture_age_days``, ``discharge``, ``asa_class``, ``levels_treated``.
    assessments : pandas.DataFrame
        ``procedure_id``, ``hours_after``, ``pain``; scores of procedures not in ``procedures``
        are ignored.
    d : Definitions

    Returns
    -------
    pandas.DataFrame
        The columns of ``endpoint_values`` but ``pid`` (``baseline_pain`` ... ``multiple_levels``),
        with a RangeIndex aligned with ``procedures``: floats as float64 (NULL as NaN), booleans
        as pandas' nullable "boolean" (``success_worst_case``: bool), ``n_followup`` int64.
    """
    n = len(procedures)
    ids = _text(procedures["procedure_id"])
    proc = {"_order": pa.array(np.arange(n, dtype=np.int64))}
    for column, kind in _READ.items():
        if column in procedures:
            proc[column] = _numbers(procedures[column]) if kind == "DOUBLE" else _text(procedures[column])
    ass = pa.table({"pid": _positions(assessments["procedure_id"], ids),
                    "hours_after": _numbers(assessments["hours_after"]), "pain": _numbers(assessments["pain"])})
    missing = "".join(f", CAST(NULL AS {kind}) AS {column}" for column, kind in _READ.items() if column not in proc)
    eng = DuckDBEngine()
    try:
        eng.con.register("_procedures_in", pa.table(proc))
        eng.con.register("_assessments_in", ass)
        eng.view("proc_checked", f"SELECT *, CAST(NULL AS VARCHAR) AS _reason{missing} FROM _procedures_in")
        # a score of a procedure not in the table (a Cohort made by hand) is left out, as rule 3 of
        # assessments.sql (unknown procedure id)
        eng.view("ass_checked", "SELECT pid, hours_after, pain, CAST(CASE WHEN pid < 0 THEN 3 END AS TINYINT) AS _rule "
                 "FROM _assessments_in")
        create_thresholds(eng, d)
        statements = endpoint_statements(d)
        made = [created_table(statement) for statement in statements]
        last = next(k for k, table in enumerate(made) if table is not None and table[0] == "endpoint_values")
        for statement in statements[:last]:  # the tables endpoint_values reads (endpoint_base, endpoint_post)
            eng.create(statement)
        # the query of endpoint_values, fetched without making the table
        table = eng.arrow(made[last][1])
    finally:
        eng.close()
    # every procedure has one row (pid = its position), in any order: each column is put back in
    # the procedures' order as it becomes pandas (numpy's take of a column, which is also the
    # column's own writable copy: Arrow's memory is read-only, and writing into the endpoints,
    # "ep.loc[0, 'baseline_pain'] = 7", must work)
    order = np.empty(n, dtype=np.int64)
    order[table.column("pid").to_numpy()] = np.arange(table.num_rows, dtype=np.int64)
    frame = table.drop_columns(["pid"]).to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get,
                                                  split_blocks=True)  # no 2-D blocks
    del table
    columns = {}
    for name in list(frame.columns):
        values = frame.pop(name)  # each converted column freed once taken
        columns[name] = pd.Series(values.array.take(order), name=name, copy=False) \
            if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) else values.to_numpy().take(order)
    out = pd.DataFrame(columns, copy=False)
    out["success_worst_case"] = out["success_worst_case"].to_numpy(dtype=bool)
    return out
