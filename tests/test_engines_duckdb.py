"""The DuckDB engine's own mechanics (its claims equal the in-memory ones: test_registry.py)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import pyarrow as pa
import pyarrow.parquet as pq

from outcomes import evaluate_registry
from outcomes.claims import claim_columns, resolve_claims
from outcomes.engines import DuckDBEngine
from outcomes.synthetic import simulate


@pytest.fixture
def arrow_queries(monkeypatch) -> list[str]:
    """The queries DuckDBEngine.arrow is given from here on, in order (each still run)."""
    queries: list[str] = []
    arrow = DuckDBEngine.arrow

    def recorded(self, query):
        queries.append(query)
        return arrow(self, query)

    monkeypatch.setattr(DuckDBEngine, "arrow", recorded)
    return queries


def test_read_parquet_numbers_rows_by_file_and_row(tmp_path):
    # _order = file index * 2**bits + row in the file; _row = the row a spreadsheet shows
    # (the second file lists its columns in another order: matched by name)
    pq.write_table(pa.table({"x": ["a", "b", "c"], "y": [1, 2, 3]}), tmp_path / "part0.parquet")
    pq.write_table(pa.table({"y": [4, 5], "x": ["d", "e"]}), tmp_path / "part1.parquet")
    eng = DuckDBEngine()
    try:
        eng.read_parquet("raw", [str(tmp_path / "part0.parquet"), str(tmp_path / "part1.parquet")], 40)
        rows = sorted(eng.rows("SELECT x, y, _order, _row FROM raw"))
        assert [c for c, _ in eng.columns("raw")] == ["x", "y", "_order", "_row"]
    finally:
        eng.close()
    assert rows == [("a", 1, 0, 2), ("b", 2, 1, 3), ("c", 3, 2, 4), ("d", 4, 2**40, 2), ("e", 5, 2**40 + 1, 3)]


def test_claims_reading_the_same_columns_share_one_tally(tmp_path, arrow_queries):
    procs, scores, _ = simulate(300, seed=3)
    procs.to_parquet(tmp_path / "p.parquet")
    scores.to_parquet(tmp_path / "a.parquet")
    result = evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet")
    queries = [q for q in arrow_queries if "AS _weight FROM endpoints" in q]
    claims = resolve_claims(None)
    shared = {tuple(dict.fromkeys(claim_columns(c))) for c in claims}
    assert len(shared) < len(claims)  # the shipped registry has claims reading the same columns
    assert len(queries) == len(set(queries)) <= len(shared)
    # every tally in one pass over the endpoints
    assert len(queries) == 1 and "GROUPING SETS" in queries[0]
    assert isinstance(result.to_frame(), pd.DataFrame) and len(result.to_frame()) > 0


# Text the number rule must read as the same number, or as none, on every engine: DuckDB's own
# cast reads "+-1" as -1 and Spark's reads "1d" and hex (Java's parser), PostgreSQL has no
# TRY_CAST and stops on any of them, and on numbers beyond a double's range.
MESSY_NUMBERS = ["7", " 8 ", "1.", ".5", "-.5", "+1", "1e3", "1E+3", "00012", "1e", ".", "abc", "", "  ", None,
                 "1_000", "1,5", "+-1", "--1", "1d", "1f", "0x10", "0x1p3", "\u0663", "inf", "-Infinity", "NaN",
                 "-nan", "1e400", "-1e400", "1e-400", "1e99999", "1e-99999", "0e99999", "1" + "0" * 400,
                 "0." + "0" * 400 + "1", "1.7976931348623157e308", "1.5e0000000000000000002"]


def number_rows(eng, values=MESSY_NUMBERS) -> list[tuple]:
    """(position, number, given) of each value through checks.number_sql in ``eng``."""
    from outcomes.checks import number_sql

    value, given = number_sql("x", {"x": ("x", "VARCHAR")})
    eng.register("numbers", pa.table({"k": list(range(len(values))), "x": pa.array(values, pa.string())}),
                 {"k": "INTEGER", "x": "VARCHAR"})
    return [tuple(r) for r in eng.rows(f"SELECT k, {value}, {given} FROM numbers AS s ORDER BY k")]


def test_number_rule_reads_what_number_pattern_says(tmp_path):
    # the one number rule (checks.number_sql) on DuckDB reads a number exactly where
    # NUMBER_PATTERN, the guard the other engines' SQL is given, matches: on random text
    import random
    import re

    from outcomes.engines import NUMBER_PATTERN

    rng = random.Random(7)
    alphabet = "0123456789.+-eEinfatyINFATY_d"
    values = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(40_000)}
    values = sorted(values | {v.strip() for v in MESSY_NUMBERS if v is not None})
    eng = DuckDBEngine()
    try:
        rows = number_rows(eng, values)
    finally:
        eng.close()
    pattern = re.compile(NUMBER_PATTERN)
    read = {values[k] for k, number, _ in rows if number is not None}
    assert "+-1" in values and "+-1" not in read  # DuckDB's own cast reads it as -1
    # (NaN is read, then set to missing)
    assert read == {v for v in values if "_" not in v and pattern.match(v) and not re.fullmatch("[+-]?nan", v, re.I)}


def test_privacy_prefilter_runs_one_regular_expression_per_value(tmp_path, arrow_queries):
    # each regexp_matches call costs DuckDB about as much as the rules' whole prefilter (GATE):
    # non-ASCII values, which privacy normalises before its rules read them, are found by
    # comparing bytes and characters instead of a second expression; a full-width social
    # security number, which GATE itself does not match, is still found
    from outcomes import PrivacyError

    procs, scores, _ = simulate(200, seed=5)
    procs["reference"] = "none"
    procs.loc[[4, 30], "reference"] = "\uff11\uff12\uff13-\uff14\uff15-\uff16\uff17\uff18\uff19"
    procs.to_parquet(tmp_path / "p.parquet")
    scores.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(PrivacyError, match=r"social security numbers \(rows 6, 32\)"):
        evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet")
    prefilter = [q for q in arrow_queries if "regexp_matches" in q][0]
    assert prefilter.count("regexp_matches(") == prefilter.count(" UNION ALL ") + 1


def test_privacy_prefilter_groups_repeated_columns_first(tmp_path, arrow_queries):
    # a column whose values repeat (the scores' procedure ids, the codes) is grouped before the
    # pattern runs, once per distinct value; a column of distinct values (the procedures' ids) is
    # matched row by row; both find the same values
    from outcomes import PrivacyError

    procs, scores, _ = simulate(300, seed=6)
    procs["reference"] = "none"
    procs.loc[[7, 40], "reference"] = "123-45-6789"
    procs.to_parquet(tmp_path / "p.parquet")
    scores.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(PrivacyError, match=r"social security numbers \(rows 9, 42\)"):
        evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet")
    prefilter = [q for q in arrow_queries if "regexp_matches" in q][0]
    parts = {part.split(" AS v FROM ")[0].split("SELECT ")[-1]: part for part in prefilter.split(" UNION ALL ")}
    assert "GROUP BY \"reference\") AS d WHERE" in parts['"reference"']
    # no IS NOT NULL before the grouping: DuckDB would push the pattern below it, onto every row
    assert "IS NOT NULL" not in parts['"reference"']
    assert "GROUP BY \"procedure_id\") AS d WHERE" not in parts['"procedure_id"']


def test_nan_in_a_parquet_file_with_statistics_is_nan(tmp_path):
    # DuckDB 2.0 folds isnan(x) and "x = NaN" to false from a column's min/max (which leave NaN
    # out) unless statistics propagation is off: the number rule would read NaN as a score
    import numpy as np

    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, np.nan, 3.0])}), path)
    assert pq.read_metadata(path).row_group(0).column(0).statistics.has_min_max
    eng = DuckDBEngine()
    try:
        flags = eng.arrow(f"SELECT isnan(x) AS a, x = CAST('nan' AS DOUBLE) AS b FROM read_parquet('{path}')")
    finally:
        eng.close()
    assert flags.column("a").to_pylist() == flags.column("b").to_pylist() == [False, True, False]


@pytest.mark.parametrize("size", ["500MB", "4GB", "4 GB", "4GiB", "1.5GB", "3200000000B", "2 TiB", "1G", "0.5 gb"])
def test_size_bytes_reads_a_memory_size_as_duckdb_does(size):
    from outcomes.engines import size_bytes

    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{size}'")
        theirs = con.sql("SELECT current_setting('memory_limit')").fetchall()
        con.execute(f"SET memory_limit = '{size_bytes(size)}B'")
        assert con.sql("SELECT current_setting('memory_limit')").fetchall() == theirs
    finally:
        con.close()


def test_memory_limit_is_the_runs_and_duckdb_gets_its_share(monkeypatch, tmp_path):
    # evaluate_registry(memory_limit="1GB") gives DuckDB 80% (its own allocations beyond its limit
    # and the Python process take about the rest); a size without a unit is one clear line
    from outcomes import InputError
    from outcomes.engines import size_bytes
    from outcomes.registry import DUCKDB_SHARE

    given = []
    init = DuckDBEngine.__init__

    def record(self, memory_limit=None, threads=None, temp_directory=None):
        given.append(memory_limit)
        init(self, memory_limit, threads, temp_directory)

    monkeypatch.setattr(DuckDBEngine, "__init__", record)
    procs, scores, _ = simulate(60, seed=5)
    procs.to_parquet(tmp_path / "p.parquet")
    scores.to_parquet(tmp_path / "a.parquet")
    evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet", memory_limit="1GB")
    assert DUCKDB_SHARE == 0.8 and given[0] == "800000000B"
    assert size_bytes(given[0]) == 800_000_000
    with pytest.raises(InputError, match=r"`memory_limit` must be a size with its unit.*got '4000'"):
        evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet", memory_limit="4000")


def test_the_engine_draws_no_progress_bar(capfd, monkeypatch):
    # DuckDB draws a progress bar (on the terminal, or a widget in a notebook) for any statement
    # running longer than progress_bar_time, 2 s by default: a 10M registry's statements do. Here
    # the connection is made to draw at once, before the engine sets its own options.
    connect = duckdb.connect

    def eager(*args, **kwargs):
        con = connect(*args, **kwargs)
        con.execute("SET progress_bar_time = 0")
        return con

    monkeypatch.setattr(duckdb, "connect", eager)
    eng = DuckDBEngine()
    capfd.readouterr()  # (the engine's own SET statements ran while the bar was still on)
    try:
        eng.create("CREATE TABLE t AS SELECT range AS a, hash(range) AS b FROM range(30000000)")
        assert eng.rows("SELECT count(*) FROM t") == [(30_000_000,)]
    finally:
        eng.close()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
