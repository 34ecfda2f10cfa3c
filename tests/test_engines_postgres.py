"""An OMOP CDM evaluated in place (PostgreSQL, and a DuckDB file): the claims and the row
accounting equal ``evaluate_claims(load_omop(...))``.

PostgreSQL is CI's server at OUTCOMES_TEST_POSTGRES_URL (.ci/run starts it and sets the variable);
these tests need it and fail, rather than skip, without it. Each test works in its own schema.

The cohorts have one procedure per patient where they are compared with load_omop: with two
procedures, this SQL gives a score between them to one procedure only (the last score before a
procedure is its baseline, not the previous procedure's follow-up), which the test
``test_a_score_between_two_procedures_belongs_to_one`` checks on its own.
"""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pytest

from outcomes import InputError, evaluate_registry
from outcomes.engines import transpile
from outcomes.sources import load_omop, write_omop
from outcomes.synthetic import simulate

from omop_support import assert_same_claims


@pytest.fixture
def postgres():
    """(URL, a fresh schema) on the test server; the schema is dropped afterwards."""
    import psycopg

    url = os.environ.get("OUTCOMES_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("OUTCOMES_TEST_POSTGRES_URL must be set (.ci/run starts PostgreSQL and sets it).")
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield url, name
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(params=["postgres", "duckdb"])
def warehouse(request, tmp_path):
    """(target for write_omop, schema) of an empty database of each kind."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres")
    return str(tmp_path / "cdm.duckdb"), "cdm"


def _one_procedure_per_patient(n: int, seed: int, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    procs, scores, _ = simulate(n, seed=seed, **options)
    return procs.assign(patient_id=procs["procedure_id"]), scores


@pytest.mark.parametrize("link", [True, False])
def test_omop_claims_in_the_database_equal_load_omop(warehouse, link):
    target, schema = warehouse
    procs, scores = _one_procedure_per_patient(300, seed=21)
    write_omop(procs, scores, target, schema=schema, link_measurements=link)
    result = evaluate_registry(omop=target, schema=schema)
    assert result.engine == ("postgres" if target.startswith("postgresql") else "duckdb")
    assert_same_claims(result, load_omop(target, schema=schema), safety=False)


def test_omop_messy_records_in_postgres(postgres):
    url, schema = postgres
    procs, scores = _one_procedure_per_patient(400, seed=5, data_errors=25)
    write_omop(procs, scores, url, schema=schema, link_measurements=False)
    result = evaluate_registry(omop=url, schema=schema)
    cohort = load_omop(url, schema=schema)
    assert cohort.exclusion_counts()["rows"].sum() > 0
    assert_same_claims(result, cohort, safety=False)


def test_a_score_between_two_procedures_belongs_to_one(warehouse):
    # one patient, procedures on day 0 and day 10; the score 2 h before the second is its
    # baseline only (by time, no event links), so 5 scores give 5 assessment rows, not 6
    target, schema = warehouse
    procs = pd.DataFrame({"procedure_id": ["A", "B"], "patient_id": ["P", "P"],
                          "procedure": ["vertebroplasty", "kyphoplasty"],
                          "procedure_date": ["2021-01-01", "2021-01-11"], "levels_treated": [1, 1], "age": [70, 70],
                          "discharge": ["same_day", "same_day"]})
    scores = pd.DataFrame({"procedure_id": ["A", "A", "A", "B", "B"],
                           "hours_after": [-1.0, 24.0, 48.0, -2.0, 24.0], "pain": [8, 5, 3, 7, 2]})
    write_omop(procs, scores, target, schema=schema, link_measurements=False)
    result = evaluate_registry(omop=target, schema=schema)
    flow = result.flow().set_index("table")
    assert flow.loc["assessments", "read"] == 5
    assert flow.loc["procedures", "analysed"] == 2
    frame = result.to_frame()
    assert frame.loc[(frame["claim_id"] == "outpatient") & (frame["population"] == "all"), "n"].tolist() == [2]


def test_postgres_sql_is_generated_from_the_one_source():
    sql = transpile("SELECT ws_trim(CAST(x AS VARCHAR)) AS t, CAST(y AS TINYINT) AS u FROM s", "postgres")
    assert sql.startswith("SELECT TRIM(") and "AS TEXT" in sql and "SMALLINT" in sql


def test_input_validation_omop(tmp_path, postgres):
    url, schema = postgres
    with pytest.raises(InputError, match=r"`omop` must be a postgresql:// URL, a SparkSession or a DuckDB file"):
        evaluate_registry(omop=42)
    with pytest.raises(InputError, match=r"`omop` must name an existing DuckDB file"):
        evaluate_registry(omop=tmp_path / "none.duckdb")
    with pytest.raises(InputError, match=r"`schema` must be a schema name"):
        evaluate_registry(omop=url, schema="x; DROP TABLE person")
    with pytest.raises(InputError, match=r"OMOP database must have the CDM tables person, procedure_occurrence"):
        evaluate_registry(omop=url, schema=schema)
    with pytest.raises(InputError, match=r"^`omop` must reach a PostgreSQL database; connecting to "
                                         r"postgresql://nobody@127\.0\.0\.1:1/none failed"):
        evaluate_registry(omop="postgresql://nobody:secret@127.0.0.1:1/none")


def test_number_rule_reads_messy_text_in_postgres_as_in_duckdb(postgres_url):
    # PostgreSQL has no TRY_CAST: without the guard transpile writes, "abc" in a text column
    # stopped the query instead of being read as no number (and "1e400" as out of range)
    import math

    from test_engines_duckdb import MESSY_NUMBERS, number_rows

    from outcomes.engines import DuckDBEngine, PostgresEngine

    engines = [DuckDBEngine(), PostgresEngine(postgres_url)]
    try:
        duck, pg = (number_rows(eng) for eng in engines)
    finally:
        for eng in engines:
            eng.close()
    assert len(pg) == len(MESSY_NUMBERS)
    assert pg == duck
    numbers = {MESSY_NUMBERS[k]: v for k, v, _ in pg}
    assert numbers["abc"] is None and numbers["1d"] is None and numbers["+-1"] is None and numbers[" 8 "] == 8
    assert numbers["1e400"] == math.inf and numbers["1e-400"] == 0 and numbers["0." + "0" * 400 + "1"] == 0


def test_omop_safety_claims_and_reasons_in_postgres(postgres):
    # the adverse events of the CDM (conditions, deaths, observation periods) read inside
    # PostgreSQL, with records left out for every reason: the claims table, including the safety
    # claims' per-procedure and per-etiology rows, the flow and the reasons equal load_omop's
    import psycopg

    from omop_support import first_procedure_day, left_out_rows, write_safety_cdm

    url, schema = postgres
    write_safety_cdm(url, schema, n=300, seed=29, one_per_patient=False)
    with psycopg.connect(url, autocommit=True) as con:
        day = first_procedure_day(lambda q: con.execute(q).fetchall(), f"{schema}.")
        for statement in left_out_rows(f"{schema}.", day):
            con.execute(statement)
    result = evaluate_registry(omop=url, schema=schema)
    cohort = load_omop(url, schema=schema)
    assert result.engine == "postgres" and cohort.has_events
    assert_same_claims(result, cohort)
