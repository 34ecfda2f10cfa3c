"""Wide exports made long: one row per filled cell of the wide score columns, written once in SQL.

A wide export has one row per procedure and a column per time point (``pain_baseline``,
``pain_48h``, ``odi_4w``; :meth:`outcomes.mapping.Mapping.wide_columns`). :func:`unpivot_sql`
is the one definition of making it long; the registry runs it in its engine (DuckDB,
PostgreSQL, Spark) over the raw table, and :func:`melt_wide`, the path of
:func:`outcomes.load_records`, runs it in DuckDB over the pandas frame read.

A cell is a score when it is filled: NULL, NaN and blank text (whitespace only, as Python's
``str.strip`` trims) are not; any other text ("NA", "abc") is a value, which the number rule
(:func:`outcomes.checks.number_sql`) then reads or reports.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .checks import numeric_type
from .columnar import arrow_values, text_values
from .engines import DuckDBEngine, literal
from .mapping import FUNCTION_RANGE, Mapping

__all__ = ["melt_wide", "no_scores_message", "unpivot_sql"]

Columns = dict[str, tuple[str, str]]  # canonical column -> (column in the source, its DuckDB type)


def no_scores_message(source: str) -> str:
    """The error of a procedures table given alone without wide pain columns."""
    return (f"{source} has no pain scores: pass an assessments table, or include wide pain columns "
            "such as 'pain_baseline', 'pain_48h', 'pain_4w' (see the mapping file's [wide] section).")


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def unpivot_sql(table: str, columns: Columns, wide: dict[Any, float], mapping: Mapping) -> tuple[str, Columns]:
    """The query making the wide columns of ``table`` long, and the columns of its result.

    One row per filled cell, in row order then column order (``_order``), with ``_row``,
    ``procedure_id``, ``_column`` (the wide column), ``hours_after``
    (:meth:`Mapping.wide_columns`) and ``instrument`` (:meth:`Mapping.wide_instrument`); a
    function instrument's value is its ``score``, any other's its ``pain``. Values are DOUBLE
    when every wide column is of a numeric type (:func:`outcomes.checks.numeric_type`), else
    their text.

    Parameters
    ----------
    table : str
        The raw table, with ``_order`` and ``_row``.
    columns : dict
        Canonical column -> (column in ``table``, its DuckDB type); holds ``procedure_id`` and
        the wide columns.
    wide : dict
        The wide columns and their hours (:meth:`Mapping.wide_columns`).
    mapping : Mapping
        Names each column's instrument.

    Returns
    -------
    tuple of (str, dict)
        The query (DuckDB dialect, for :func:`outcomes.engines.transpile`) and the result's
        columns as ``columns`` describes them.
    """
    kind = "DOUBLE" if all(numeric_type(columns[c][1]) for c in wide) else "VARCHAR"
    pid = _quote(columns["procedure_id"][0])
    parts = []
    for k, (column, hours) in enumerate(wide.items()):
        source, source_kind = columns[column]
        cell = _quote(source)
        value = f"CAST({cell} AS {kind})"
        # a cell is a score when filled: NULL, NaN and blank text are not
        filled = (f"{cell} IS NOT NULL AND NOT (CAST({cell} AS DOUBLE) = CAST('nan' AS DOUBLE))"
                  if numeric_type(source_kind) else f"NULLIF(ws_trim(CAST({cell} AS VARCHAR)), '') IS NOT NULL")
        instrument = mapping.wide_instrument(column)
        function = instrument in FUNCTION_RANGE
        parts.append(
            f"SELECT _order * {len(wide)} + {k} AS _order, _row, {pid} AS procedure_id, "
            f"{literal(str(column))} AS _column, {literal(hours)} AS hours_after, "
            f"{f'CAST(NULL AS {kind})' if function else value} AS pain, "
            f"{value if function else f'CAST(NULL AS {kind})'} AS score, "
            f"{literal(instrument)} AS instrument FROM {table} WHERE {filled}")
    long = {"procedure_id": ("procedure_id", columns["procedure_id"][1]), "_column": ("_column", "VARCHAR"),
            "hours_after": ("hours_after", "DOUBLE"), "pain": ("pain", kind), "score": ("score", kind),
            "instrument": ("instrument", "VARCHAR")}
    return " UNION ALL ".join(parts), long


def _arrow(values: pd.Series) -> Any:
    """A column as Arrow, as it is; a column of mixed cells (an Excel sheet's) as their text."""
    import pyarrow as pa

    try:
        return arrow_values(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return text_values(values)


def melt_wide(frame: pd.DataFrame, wide: dict[Any, float], mapping: Mapping) -> pd.DataFrame:
    """The wide columns of a pandas frame made long by :func:`unpivot_sql`, run in DuckDB.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical columns: ``procedure_id``, the wide columns and (optionally) ``_row``.
    wide, mapping
        As :func:`unpivot_sql`.

    Returns
    -------
    pandas.DataFrame
        ``procedure_id`` and ``_row`` as in ``frame``, ``_column``, ``pain``, ``hours_after``,
        ``instrument`` and, when a function instrument is among the columns, ``score``; one
        row per filled cell, in row order then column order.

    Examples
    --------
    >>> wide = pd.DataFrame({"procedure_id": ["P1", "P2"], "pain_baseline": [8, None], "pain_48h": ["3", " "]})
    >>> melt_wide(wide, Mapping().wide_columns(wide), Mapping())[["procedure_id", "_column", "pain"]].values.tolist()
    [['P1', 'pain_baseline', '8.0'], ['P1', 'pain_48h', '3']]
    """
    import pyarrow as pa

    n = len(frame)
    data = {"_order": pa.array(range(n), pa.int64()), "_row": pa.array(range(n), pa.int64())}
    columns: Columns = {"procedure_id": ("_row", "BIGINT")}  # the position: the ids are taken from frame
    for k, column in enumerate(wide):
        data[f"c{k}"] = _arrow(frame[column])
    eng = DuckDBEngine()
    try:
        eng.con.register("wide_raw", pa.table(data))
        columns.update({column: (f"c{k}", kind) for k, (column, (_, kind)) in
                        enumerate(zip(wide, eng.columns("wide_raw")[2:]))})
        query, _ = unpivot_sql("wide_raw", columns, wide, mapping)
        long = eng.arrow(f"SELECT procedure_id AS _pos, _column, pain, score, hours_after, instrument "
                         f"FROM ({query}) ORDER BY _order").to_pandas()
    finally:
        eng.close()
    position = long.pop("_pos").to_numpy()
    keep = [frame[c].iloc[position].reset_index(drop=True) for c in ("procedure_id", "_row") if c in frame]
    long["_column"] = long["_column"].map({str(c): c for c in wide})
    names = ["_column", "pain", "hours_after", "instrument"]
    if long["instrument"].isin(set(FUNCTION_RANGE)).any():
        names.append("score")
    return pd.concat([*keep, long[names]], axis=1)
