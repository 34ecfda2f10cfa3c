"""An OMOP CDM with adverse events, and records a warehouse holds that load_omop leaves out, for
the tests that hold ``evaluate_registry(omop=...)`` to ``evaluate_claims(load_omop(...))`` on
DuckDB, PostgreSQL and Spark (not a test module).

The CDM is written by :func:`outcomes.synthetic.to_omop` from :func:`simulate_safety` records
with their events table (conditions, deaths, observation periods). :func:`left_out_rows` then
adds one record for each reason load_omop gives for leaving a selected record out.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from outcomes import evaluate_claims
from outcomes.synthetic import simulate_safety, to_omop

NUMERIC = ["n", "estimate", "ci_low", "ci_high", "stated", "p_value", "events"]
SAFETY_CLAIMS = ("major_complications", "new_fractures", "function_regained")
CDM_TABLES = ("person", "procedure_occurrence", "visit_occurrence", "provider", "condition_occurrence",
              "measurement", "observation", "concept", "death", "observation_period")


def write_safety_cdm(target, schema: str | None, n: int = 300, seed: int = 19, *, one_per_patient: bool = True,
                     link: bool = False) -> None:
    """simulate_safety records (pain scores only) with their events, written as an OMOP CDM."""
    procs, scores, events, _ = simulate_safety(n, seed=seed)
    pain = scores[scores["instrument"] == "nrs"].drop(columns="score")
    if one_per_patient:
        procs = procs.assign(patient_id=procs["procedure_id"])
    to_omop(procs, pain, target, schema=schema, events=events, link_measurements=link)


def left_out_rows(prefix: str, day: str) -> list[str]:
    """INSERT statements (tables named ``<prefix>table``) of records load_omop selects and leaves
    out, one per reason: person 1 has procedure 1 on ``day`` (as :func:`write_safety_cdm` writes
    them); the ids from 900001 on are free."""
    d = f"DATE '{day}'"

    def at(hours: float) -> str:
        return f"TIMESTAMP '{(pd.Timestamp(day) + pd.Timedelta(hours=hours)).strftime('%Y-%m-%d %H:%M:%S')}'"

    def measurement(mid: int, person: int, hours: float, source: str, value: str, extra: str = "NULL, NULL") -> str:
        return (f"INSERT INTO {prefix}measurement (measurement_id, person_id, measurement_concept_id, measurement_date, "
                f"measurement_datetime, measurement_type_concept_id, value_as_number, measurement_source_value, "
                f"measurement_event_id, meas_event_field_concept_id) VALUES ({mid}, {person}, 0, "
                f"CAST({at(hours)} AS DATE), {at(hours)}, 32817, {value}, '{source}', {extra})")

    return [
        # a procedure code inside a longer source value (not a vertebral augmentation code)
        f"INSERT INTO {prefix}procedure_occurrence (procedure_occurrence_id, person_id, procedure_concept_id, "
        f"procedure_date, procedure_datetime, procedure_type_concept_id, procedure_source_value) "
        f"VALUES (900001, 1, 0, {d}, {at(0)}, 32817, 'X22510')",
        # a person whose only procedure is such a code, in a visit of its own
        f"INSERT INTO {prefix}person (person_id, gender_concept_id, year_of_birth, race_concept_id, "
        f"ethnicity_concept_id) VALUES (900002, 8532, 1950, 0, 0)",
        f"INSERT INTO {prefix}visit_occurrence (visit_occurrence_id, person_id, visit_concept_id, visit_start_date, "
        f"visit_end_date, visit_type_concept_id) VALUES (900002, 900002, 9202, {d}, {d}, 32817)",
        f"INSERT INTO {prefix}procedure_occurrence (procedure_occurrence_id, person_id, procedure_concept_id, "
        f"procedure_date, procedure_datetime, procedure_type_concept_id, visit_occurrence_id, "
        f"procedure_source_value) VALUES (900002, 900002, 0, {d}, {at(0)}, 32817, 900002, 'X22513')",
        measurement(900001, 900002, 24, "72514-3", "5"),  # the patient has no analysed procedure
        measurement(900002, 1, 24, "72514-3", "NULL"),  # no score
        measurement(900003, 1, 24, "72514-39", "4"),  # not a pain score code
        measurement(900004, 1, 24 * 2000, "72514-3", "3"),  # beyond the follow-up horizon
        measurement(900005, 1, -600, "72514-3", "6"),  # an earlier score in the baseline window
        measurement(900006, 1, 24, "72514-3", "2", "900001, 1147082"),  # linked to the unknown procedure
        measurement(900007, 900002, 0, "asa-class", "2"),  # a procedure field of no analysed procedure
        # a death before the person's procedure
        f"INSERT INTO {prefix}death (person_id, death_date, death_type_concept_id) "
        f"VALUES (900002, {d} - INTERVAL '10' DAY, 32817)",
        # a complication code before any procedure, in no visit
        f"INSERT INTO {prefix}condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
        f"condition_start_date, condition_type_concept_id, condition_source_value) "
        f"VALUES (900001, 1, 0, {d} - INTERVAL '100' DAY, 32817, 'T84.0')",
    ]


def assert_same_claims(result, cohort, *, reasons: bool = True, safety: bool = True) -> None:
    """The registry result equals evaluate_claims(cohort): every number to 1e-9, the verdicts, the
    flow and (``reasons``) the excluded rows by reason; (``safety``: records with events) the
    safety claims are assessed."""
    expected = evaluate_claims(cohort).to_frame()
    got = result.to_frame()
    assert got["claim_id"].tolist() == expected["claim_id"].tolist()
    assert got["population"].tolist() == expected["population"].tolist()
    for column in NUMERIC:
        assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-9, atol=1e-12,
                        equal_nan=True, err_msg=column)
    assert got["verdict"].tolist() == expected["verdict"].tolist()
    pd.testing.assert_frame_equal(result.flow(), cohort.flow())
    if reasons:
        pd.testing.assert_frame_equal(result.exclusion_counts(), cohort.exclusion_counts())
    for claim in ("major_complications", "new_fractures") if safety else ():
        rows = got[got["claim_id"] == claim]
        assert len(rows) > 1 and (rows["verdict"] != "not assessable").any(), claim
        assert (rows["n"] > 0).all(), claim


def spark_global_views(db, spark, tables=("person", "procedure_occurrence", "visit_occurrence", "provider",
                                             "condition_occurrence", "measurement", "observation", "concept")) -> None:
    """The tables of a DuckDB CDM file as Spark global temporary views (schema ``global_temp``)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        for table in tables:
            rows = con.sql(f"SELECT * FROM {table}").arrow()
            rows = rows.read_all() if hasattr(rows, "read_all") else rows  # duckdb 2 gives a reader
            spark.createDataFrame(rows).createOrReplaceGlobalTempView(table)


def first_procedure_day(query: Callable[[str], object], prefix: str) -> str:
    """The day of procedure_occurrence 1."""
    value = query(f"SELECT procedure_date FROM {prefix}procedure_occurrence WHERE procedure_occurrence_id = 1")
    return str(pd.Timestamp(np.asarray(value).ravel()[0]).date())
