"""The one rule of reading a number (checks.number_sql, checks.number_values): which column types
are numbers, on DuckDB and PostgreSQL, and the same rule in Python."""

from __future__ import annotations

import os
import random
import uuid

import numpy as np
import pandas as pd
import pytest

from outcomes.checks import NUMERIC_TYPES, number_sql, number_values, numeric_type
from outcomes.engines import DuckDBEngine, PostgresEngine

from test_engines_duckdb import MESSY_NUMBERS, number_rows

# One row of typed cells per column: (DuckDB type, PostgreSQL type, the cell as SQL, the
# (number, given) the rule must read). A BOOLEAN is given but not a number (a yes/no column is
# not a score); REAL / FLOAT4 and NUMERIC are numbers; NaN is missing; any other type (a
# timestamp) is read as its text, which is not a number.
TYPED = {
    "flag": ("BOOLEAN", "boolean", "true", (None, True)),
    "real": ("REAL", "real", "7.5", (7.5, True)),
    "float4": ("FLOAT4", "float4", "2.25", (2.25, True)),
    "dec": ("DECIMAL(5,2)", "numeric(5,2)", "3.25", (3.25, True)),
    "num": ("NUMERIC", "numeric", "4", (4.0, True)),
    "big": ("BIGINT", "bigint", "9", (9.0, True)),
    "nan": ("DOUBLE", "double precision", "'NaN'", (None, False)),
    "stamp": ("TIMESTAMP", "timestamp", "'2024-01-02 03:04:05'", (None, True)),
    "text": ("VARCHAR", "text", "' 8 '", (8.0, True)),
    "blank": ("VARCHAR", "text", "' '", (None, False)),
    "gap": ("DOUBLE", "double precision", "NULL", (None, False)),
}


def _read(eng, table: str, names) -> dict[str, tuple]:
    kinds = dict(eng.columns(table))
    parts = []
    for name in names:
        value, given = number_sql(name, {name: (name, kinds[name])})
        parts += [value, given]
    row = eng.rows(f"SELECT {', '.join(parts)} FROM {table} AS s")[0]
    return {name: (row[2 * k], bool(row[2 * k + 1])) for k, name in enumerate(names)}


def test_numeric_types_are_one_list():
    # the engines' names (outcomes.engines maps PostgreSQL's and Spark's to these)
    assert numeric_type("FLOAT") and numeric_type("REAL") and numeric_type("DECIMAL(18,3)")
    assert numeric_type("UHUGEINT") and not numeric_type("BOOLEAN") and not numeric_type("VARCHAR")
    assert "BOOLEAN" not in NUMERIC_TYPES


def test_number_rule_by_column_type_on_duckdb():
    eng = DuckDBEngine()
    try:
        cells = ", ".join(f"CAST({cell} AS {duck}) AS {name}" for name, (duck, _, cell, _) in TYPED.items())
        eng.con.execute(f"CREATE TEMP TABLE typed AS SELECT {cells}, CAST(5 AS UHUGEINT) AS huge")
        got = _read(eng, "typed", [*TYPED, "huge"])
    finally:
        eng.close()
    assert got == {**{name: want for name, (*_, want) in TYPED.items()}, "huge": (5.0, True)}


def test_number_rule_by_column_type_on_postgres():
    url = os.environ.get("OUTCOMES_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("OUTCOMES_TEST_POSTGRES_URL must be set (.ci/run starts PostgreSQL and sets it).")
    eng = PostgresEngine(url)
    table = f"typed_{uuid.uuid4().hex[:8]}"
    try:
        cells = ", ".join(f"CAST({cell} AS {pg}) AS {name}" for name, (_, pg, cell, _) in TYPED.items())
        eng.con.execute(f"CREATE TEMP TABLE {table} AS SELECT {cells}")
        kinds = dict(eng.columns(table))
        got = _read(eng, table, list(TYPED))
    finally:
        eng.close()
    assert kinds["real"] == kinds["float4"] == "FLOAT" and kinds["flag"] == "BOOLEAN"
    assert got == {name: want for name, (*_, want) in TYPED.items()}


def test_number_values_is_number_sql_in_python():
    # the rule in Python (load_omop's text numbers) reads what DuckDB's SQL reads, on the messy
    # values and on random text
    rng = random.Random(11)
    alphabet = "0123456789.+-eEinfatyINFATY_dx, "
    values = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(20_000)})
    values = [*MESSY_NUMBERS, *values]
    eng = DuckDBEngine()
    try:
        rows = number_rows(eng, values)
    finally:
        eng.close()
    sql = np.array([np.nan if number is None else number for _, number, _ in rows], dtype=float)
    python = number_values(pd.Series(values, dtype=object)).to_numpy()
    np.testing.assert_array_equal(python, sql)
    # a yes/no cell is not a number in Python either; numbers stay as they are (NaN missing)
    assert number_values(pd.Series([True, False])).isna().all()
    assert number_values(pd.Series([1.5, np.nan])).tolist()[0] == 1.5


# Odd text in observation.value_as_string, each read by the one number rule: "1,5" (a decimal
# comma), hex, Java's "1d" and "abc" are no number; " 7 " and "7." are 7; "1e2" (100) and "inf"
# are numbers beyond the 0-10 scale; 7 between non-breaking spaces (as pasted from a spreadsheet)
# is 7, trimmed as Python trims. (pandas' to_numeric, which load_omop used, read no number there,
# and the old regular expression of sql/omop.sql none in "inf".)
ODD_TEXT = ["1,5", " 7 ", "7.", "1e2", "abc", "0x1A", "1d", "inf", "\u00a07\u00a0"]
ODD_NUMBERS = [np.nan, 7.0, 7.0, 100.0, np.nan, np.nan, np.nan, np.inf, 7.0]


@pytest.mark.parametrize("where", ["duckdb", "postgres"])
def test_omop_text_numbers_read_alike_in_load_omop_and_the_database(where, tmp_path):
    import duckdb

    from omop_support import assert_same_claims

    from outcomes import evaluate_registry
    from outcomes.sources import load_omop, write_omop
    from outcomes.synthetic import simulate

    procs, scores, _ = simulate(200, seed=31)
    procs = procs.assign(patient_id=procs["procedure_id"])  # one procedure per patient (test_engines_postgres)
    set_text = ("UPDATE {s}observation SET value_as_number = NULL, value_as_string = CASE CAST(observation_id % {n} "
                "AS INTEGER) " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(ODD_TEXT)) + " END "
                "WHERE observation_source_value = '72514-3'")
    if where == "duckdb":
        target, schema = str(tmp_path / "cdm.duckdb"), "cdm"
        write_omop(procs, scores, target, schema=schema)
        with duckdb.connect(target) as con:
            con.execute(set_text.format(s="cdm.cdm.", n=len(ODD_TEXT)))
    else:
        import psycopg

        target = os.environ.get("OUTCOMES_TEST_POSTGRES_URL")
        if not target:
            pytest.fail("OUTCOMES_TEST_POSTGRES_URL must be set (.ci/run starts PostgreSQL and sets it).")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        write_omop(procs, scores, target, schema=schema)
    try:
        if where == "postgres":
            with psycopg.connect(target, autocommit=True) as con:
                con.execute(set_text.format(s=f'"{schema}".', n=len(ODD_TEXT)))
        cohort = load_omop(target, schema=schema)
        result = evaluate_registry(omop=target, schema=schema)
    finally:
        if where == "postgres":
            with psycopg.connect(target, autocommit=True) as con:
                con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert_same_claims(result, cohort, safety=False)
    # the odd text took every path: no number (left out), 7 (kept), beyond the scale (excluded)
    np.testing.assert_array_equal(number_values(pd.Series(ODD_TEXT)).to_numpy(), ODD_NUMBERS)
    assert (cohort.assessments["pain"] == 7.0).sum() > 0
    assert cohort.exclusion_counts()["rows"].sum() > 0
