"""The registry SQL in Apache Spark (local mode): the claims table equals the in-memory one.

One SparkSession per test process (the ``spark`` fixture of tests/conftest.py), started with
small-data settings (the JVM's quick compiler only, no whole-stage code generation, two shuffle
partitions): on these registries of a few thousand rows Spark's time is compiling, not computing,
and these settings halve it. Registries are kept
small; every comparison is with ``evaluate_claims(load_records(...))`` (or ``load_omop``).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from numpy.testing import assert_allclose
from test_registry import NUMERIC, TEXT, _messy, _write

from outcomes import InputError, evaluate_claims, evaluate_registry, load_records
from outcomes.engines import SparkEngine, start_spark, transpile
from outcomes.synthetic import simulate

def assert_equals_in_memory(result, cohort, *, reasons: bool = True) -> None:
    """The registry result equals evaluate_claims(cohort): every number to 1e-9, text, rows read,
    excluded and analysed, and (``reasons``) the excluded rows by reason."""
    got, expected = result.to_frame(), evaluate_claims(cohort).to_frame()
    assert list(got.columns) == list(expected.columns) and len(got) == len(expected)
    for column in NUMERIC:
        assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-9, atol=1e-12,
                        equal_nan=True, err_msg=column)
    for column in TEXT:
        assert got[column].astype(str).tolist() == expected[column].astype(str).tolist(), column
    pd.testing.assert_frame_equal(result.flow(), cohort.flow())
    if reasons:
        pd.testing.assert_frame_equal(result.exclusion_counts(), cohort.exclusion_counts())


def test_spark_claims_equal_load_records_on_a_simulated_registry(spark, tmp_path):
    procs, scores, _ = simulate(1_500, seed=11, data_errors=20)
    files = _write(tmp_path, procs, scores)
    fast = evaluate_registry(*files, engine="spark", connection=spark)
    assert fast.engine == "spark"
    assert_equals_in_memory(fast, load_records(*files))


def test_spark_tables_of_messy_records_equal_load_records(spark, tmp_path):
    # records that break every rule, given as Spark tables (row order: the table's scan order,
    # here the file's); the Parquet route is the test above
    procs, scores = _messy(400, seed=8)
    files = _write(tmp_path, procs, scores)
    spark.read.parquet(str(files[0])).createOrReplaceTempView("messy_procedures")
    spark.read.parquet(str(files[1])).createOrReplaceTempView("messy_scores")
    fast = evaluate_registry("messy_procedures", "messy_scores", engine="spark", connection=spark)
    assert fast.sources == {"procedures": "messy_procedures", "assessments": "messy_scores"}
    cohort = load_records(*files)
    assert cohort.exclusion_counts()["rows"].sum() > 0
    assert_equals_in_memory(fast, cohort)
    # the engine's own temporary views are gone; the caller's remain
    names = {t.name for t in spark.catalog.listTables()}
    assert {"messy_procedures", "messy_scores"} <= names
    assert not [n for n in names if n.startswith(("proc_", "ass_", "_map", "_thresholds", "endpoints"))]



def test_spark_tables_are_materialised_and_codes_broadcast(spark):
    # a table made by a statement is computed once and later statements plan against its rows,
    # not its lineage (chained lineages ran the 2 GB driver out of memory on omop.sql); a table
    # of codes is joined by broadcast although size-based broadcasts are off
    eng = SparkEngine(spark)
    try:
        eng.register("_codes", pa.table({"raw": ["A", "B"], "value": ["A", "B"]}),
                     {"raw": "VARCHAR", "value": "VARCHAR"})
        eng.create("CREATE OR REPLACE TEMP TABLE big AS "
                   "SELECT upper(raw) AS raw FROM (VALUES ('a'), ('b'), ('c')) AS v(raw)")
        eng.create("CREATE OR REPLACE TEMP TABLE joined AS SELECT b.raw, c.value FROM big AS b "
                   "LEFT JOIN _codes AS c ON b.raw = c.raw")
        plan = spark.table("joined")._jdf.queryExecution().analyzed().toString()
        assert "LogicalRDD" in plan and "Join" not in plan and "LocalRelation" not in plan
        joining = spark.sql("SELECT b.raw, c.value FROM big AS b JOIN _codes AS c ON b.raw = c.raw")
        assert "BroadcastHashJoin" in joining._jdf.queryExecution().executedPlan().toString()
        assert eng.rows("SELECT count(*), count(value) FROM joined") == [(3, 2)]
    finally:
        eng.close()
    assert not {"big", "joined", "_codes"} & {t.name for t in spark.catalog.listTables()}


def test_start_spark_applies_settings_given(spark):
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.ui.enabled") == "false"
    with pytest.raises(InputError, match=r"`config` must be a dict of Spark settings; got \['x'\]"):
        start_spark(["x"])


def test_spark_sql_is_generated_from_the_one_source():
    # the DuckDB whitespace macro and constructs become Spark SQL, not a second hand-written text
    sql = transpile("SELECT ws_trim(CAST(x AS VARCHAR)) AS t, CAST(y AS TIMESTAMP) AS u FROM s", "spark")
    assert sql.startswith("SELECT TRIM(") and "AS STRING" in sql and "TIMESTAMP_NTZ" in sql
    assert "MATERIALIZED" not in transpile("WITH a AS MATERIALIZED (SELECT 1 AS x) SELECT x FROM a", "spark")


def test_spark_input_validation(spark, tmp_path):
    with pytest.raises(InputError, match="`connection` must be a pyspark SparkSession; got str"):
        evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet", engine="spark", connection="local")


def test_spark_function_sql_equals_duckdb(spark):
    """sql/function.sql and sql/function_endpoints.sql give the same rows in Spark as in DuckDB."""
    import numpy as np
    import pyarrow as pa

    from outcomes import Definitions
    from outcomes.engines import DuckDBEngine, SparkEngine
    from outcomes.function import register_function_labels, run_function_sql
    from outcomes.mapping import Mapping

    src = pd.DataFrame({"_order": np.arange(8, dtype=np.int64),
                        "procedure_id": ["P1", "P1", "P1", "P2", "P2", "P3", " P1 ", "P1"],
                        "hours_after": ["-1", "336", "340", "-2", "300", "10", "336", "x"],
                        "score": ["60", "40", "9", "12", "5", "300", "41", "3"],
                        "instrument": ["odi", "odi", "rmdq", "RDQ", "rmdq", "odi", "odi", "odi"], "undated": False})
    procs = pd.DataFrame({"_order": np.arange(3, dtype=np.int64), "procedure_id": ["P1", "P2", "P3"], "_reason": None})
    text = "NULLIF(ws_trim(CAST(s.{0} AS VARCHAR)), '')"
    value = f"TRY_CAST({text} AS DOUBLE)"
    got = []
    for eng in (DuckDBEngine(), SparkEngine(spark)):
        eng.register("fn_src", pa.Table.from_pandas(src), {"_order": "BIGINT", "procedure_id": "VARCHAR",
                     "hours_after": "VARCHAR", "score": "VARCHAR", "instrument": "VARCHAR", "undated": "BOOLEAN"})
        eng.register("proc_checked", pa.Table.from_pandas(procs.astype({"_reason": object})),
                     {"_order": "BIGINT", "procedure_id": "VARCHAR", "_reason": "VARCHAR"})
        register_function_labels(eng, src["instrument"], "VARCHAR", Mapping())
        run_function_sql(eng, score_value=value.format("score"), score_present=f"({text.format('score')} IS NOT NULL)",
                         hours_value=value.format("hours_after"),
                         hours_present=f"({text.format('hours_after')} IS NOT NULL)", definitions=Definitions())
        got.append((eng.arrow("SELECT * FROM fn_checked ORDER BY _order").to_pandas().astype(object),
                    eng.arrow("SELECT * FROM fn_endpoints ORDER BY pid").to_pandas().astype(object)))
        if isinstance(eng, DuckDBEngine):
            eng.close()
    (duck_rules, duck_ep), (spark_rules, spark_ep) = got
    assert duck_rules["_rule"].tolist()[5:] == [6, 12, 9]  # out of range, repeated, time not a number
    assert duck_ep["function_change"].tolist()[:2] == [20.0, 7.0]
    pd.testing.assert_frame_equal(duck_rules, spark_rules, check_dtype=False)
    pd.testing.assert_frame_equal(duck_ep, spark_ep, check_dtype=False)


def test_spark_reads_wide_exports_zoned_times_and_messy_numbers_as_load_records(spark, tmp_path):
    # in a session of another time zone (put back afterwards): Parquet instants read as UTC; a
    # wide export made long in Spark (also in the procedures file alone); numbers in text read by the one number rule (Spark's own
    # cast reads "1d" and "0x1p3"); the remarks counted in Spark
    from test_registry import _wide, _zoned, remark_counts

    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        procs, scores = _zoned(400, seed=3)
        procs = procs.astype({"age": str})
        procs.loc[[1, 2, 3, 4], "age"] = ["1d", "0x1p3", "+-1", "-1e400"]
        zoned = _write(tmp_path, procs, scores)
        (tmp_path / "wide").mkdir()
        wide = _write(tmp_path / "wide", *_wide(300, seed=4))
        # the wide pain columns in the procedures file itself, no assessments file
        alone = tmp_path / "alone.parquet"
        wide_procs, wide_scores = _wide(300, seed=6)
        wide_procs.merge(wide_scores.drop_duplicates("procedure_id"), on="procedure_id", how="left").to_parquet(alone)
        remarks = []
        for files in (zoned, wide, (alone,)):
            fast = evaluate_registry(*files, engine="spark", connection=spark)
            cohort = load_records(*files)
            assert_equals_in_memory(fast, cohort)
            remarks.append(fast.remark_counts())
            pd.testing.assert_frame_equal(remarks[-1], remark_counts(cohort))
        assert spark.conf.get("spark.sql.session.timeZone") == "America/New_York"
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    ages = remarks[0].set_index(["column", "remark"])["rows"]
    assert ages[("age", "not a number; set to missing")] == 3 and ages[("age", "outside 0-90; set to missing")] >= 1
    assert "function_scores" in set(fast.flow()["table"])  # the wide export's odi_* columns
