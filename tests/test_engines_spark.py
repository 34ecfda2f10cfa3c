"""The registry SQL in Apache Spark (local mode): the claims table equals the in-memory one.

One SparkSession for the module (start-up takes seconds on two cores); registries kept small.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from test_registry import _assert_same_claims, _messy, _write

from outcomes import InputError, evaluate_claims, evaluate_registry, load_records
from outcomes.engines import start_spark, transpile
from outcomes.sources import load_omop, write_omop
from outcomes.synthetic import simulate


@pytest.fixture(scope="module")
def spark():
    session = start_spark()
    yield session
    session.stop()


def test_spark_claims_equal_load_records_on_a_simulated_registry(spark, tmp_path):
    procs, scores, _ = simulate(3_000, seed=11, data_errors=20)
    files = _write(tmp_path, procs, scores)
    fast = evaluate_registry(*files, engine="spark", connection=spark)
    slow = evaluate_registry(*files, engine="pandas")
    assert fast.engine == "spark"
    _assert_same_claims(fast, slow)
    direct = evaluate_claims(load_records(*files)).to_frame()
    pd.testing.assert_frame_equal(slow.to_frame(), direct)


def test_spark_tables_of_messy_records_equal_duckdb(spark, tmp_path):
    # records that break every rule, given as Spark tables (row order: the table's scan order,
    # here the file's); the Parquet route is the test above. The reference is the DuckDB engine,
    # which test_registry.py checks equal to the pandas path on the same kind of records (the
    # pandas path's row-level Firth fits would make this test minutes longer on two cores).
    procs, scores = _messy(600, seed=8)
    files = _write(tmp_path, procs, scores)
    slow = evaluate_registry(*files, engine="duckdb")
    spark.read.parquet(str(files[0])).createOrReplaceTempView("messy_procedures")
    spark.read.parquet(str(files[1])).createOrReplaceTempView("messy_scores")
    fast = evaluate_registry("messy_procedures", "messy_scores", engine="spark", connection=spark)
    assert fast.sources == {"procedures": "messy_procedures", "assessments": "messy_scores"}
    _assert_same_claims(fast, slow)
    # the engine's own temporary views are gone; the caller's remain
    names = {t.name for t in spark.catalog.listTables()}
    assert {"messy_procedures", "messy_scores"} <= names
    assert not [n for n in names if n.startswith(("proc_", "ass_", "_map", "_thresholds", "endpoints"))]


def test_spark_evaluates_an_omop_warehouse_in_place(spark, tmp_path):
    # the CDM tables as Spark views (global_temp), one procedure per patient, scores linked by time
    procs, scores, _ = simulate(150, seed=12)
    procs = procs.assign(patient_id=procs["procedure_id"])
    db = tmp_path / "cdm.duckdb"
    write_omop(procs, scores, db, link_measurements=False)
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("person", "procedure_occurrence", "visit_occurrence", "provider", "condition_occurrence",
                      "measurement", "observation", "concept"):
            rows = con.sql(f"SELECT * FROM {table}").arrow()
            rows = rows.read_all() if hasattr(rows, "read_all") else rows  # duckdb 2 gives a reader
            spark.createDataFrame(rows).createOrReplaceGlobalTempView(table)
    result = evaluate_registry(omop=spark, schema="global_temp")
    cohort = load_omop(db)
    assert result.engine == "spark"
    pd.testing.assert_frame_equal(result.flow(), cohort.flow())
    expected = evaluate_claims(cohort).to_frame()
    for column in ("n", "estimate", "ci_low", "ci_high", "p_value"):
        assert_allclose(result.to_frame()[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-9,
                        atol=1e-12, equal_nan=True, err_msg=column)


def test_spark_sql_is_generated_from_the_one_source():
    # the DuckDB whitespace macro and constructs become Spark SQL, not a second hand-written text
    sql = transpile("SELECT ws_trim(CAST(x AS VARCHAR)) AS t, CAST(y AS TIMESTAMP) AS u FROM s", "spark")
    assert sql.startswith("SELECT TRIM(") and "AS STRING" in sql and "TIMESTAMP_NTZ" in sql
    assert "MATERIALIZED" not in transpile("WITH a AS MATERIALIZED (SELECT 1 AS x) SELECT x FROM a", "spark")


def test_spark_input_validation(spark, tmp_path):
    with pytest.raises(InputError, match="`connection` must be a pyspark SparkSession; got str"):
        evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet", engine="spark", connection="local")
