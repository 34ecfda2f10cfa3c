"""OMOP warehouses evaluated in Apache Spark (local mode): the claims, flow and reasons equal
load_omop's. Apart from tests/test_engines_spark.py so that pytest-xdist's two workers share the
Spark tests (one file per worker with ``--dist loadfile``)."""

from __future__ import annotations

import duckdb
from omop_support import spark_global_views
from test_engines_spark import assert_equals_in_memory

from outcomes import evaluate_registry
from outcomes.sources import load_omop, write_omop
from outcomes.synthetic import simulate


def test_spark_evaluates_an_omop_warehouse_in_place(spark, tmp_path):
    # the CDM tables as Spark views (global_temp), one procedure per patient, scores linked by time
    procs, scores, _ = simulate(150, seed=12)
    procs = procs.assign(patient_id=procs["procedure_id"])
    db = tmp_path / "cdm.duckdb"
    write_omop(procs, scores, db, link_measurements=False)
    spark_global_views(db, spark)
    result = evaluate_registry(omop=spark, schema="global_temp")
    cohort = load_omop(db)
    assert result.engine == "spark"
    # the OMOP tables' own exclusions (e.g. a session's second record, merged into levels_treated)
    # are counted in flow() and named in exclusion_counts(), as load_omop names them
    assert_equals_in_memory(result, cohort)


def test_spark_evaluates_the_safety_claims_of_an_omop_warehouse(spark, tmp_path):
    # a CDM with adverse events (conditions, deaths, observation periods) and a record left out
    # for every reason, as Spark views: the claims (the safety claims' rows too), flow and reasons
    # equal load_omop's
    from omop_support import CDM_TABLES, assert_same_claims, first_procedure_day, left_out_rows, write_safety_cdm

    db = tmp_path / "warehouse.duckdb"
    write_safety_cdm(db, None, n=200, seed=29, one_per_patient=False)
    with duckdb.connect(str(db)) as con:
        day = first_procedure_day(lambda q: con.sql(q).fetchall(), "")
        for statement in left_out_rows("", day):
            con.execute(statement)
        for table in CDM_TABLES:
            rows = con.sql(f"SELECT * FROM {table}").arrow()
            rows = rows.read_all() if hasattr(rows, "read_all") else rows  # duckdb 2 gives a reader
            spark.createDataFrame(rows).createOrReplaceGlobalTempView(table)
    try:
        result = evaluate_registry(omop=spark, schema="global_temp")
    finally:
        for table in CDM_TABLES:
            spark.catalog.dropGlobalTempView(table)
    cohort = load_omop(db)
    assert result.engine == "spark" and cohort.has_events
    assert_same_claims(result, cohort)
