"""The DuckDB engine's own mechanics (its claims equal the in-memory ones: test_registry.py)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from outcomes import evaluate_registry
from outcomes.claims import claim_columns, resolve_claims
from outcomes.engines import DuckDBEngine
from outcomes.synthetic import simulate


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


def test_claims_reading_the_same_columns_share_one_tally(tmp_path, monkeypatch):
    procs, scores, _ = simulate(300, seed=3)
    procs.to_parquet(tmp_path / "p.parquet")
    scores.to_parquet(tmp_path / "a.parquet")
    queries: list[str] = []
    arrow = DuckDBEngine.arrow

    def counted(self, query):
        if "AS _weight FROM endpoints" in query:
            queries.append(query)
        return arrow(self, query)

    monkeypatch.setattr(DuckDBEngine, "arrow", counted)
    result = evaluate_registry(tmp_path / "p.parquet", tmp_path / "a.parquet")
    claims = resolve_claims(None)
    shared = {tuple(dict.fromkeys(claim_columns(c))) for c in claims}
    assert len(shared) < len(claims)  # the shipped registry has claims reading the same columns
    assert len(queries) == len(set(queries)) <= len(shared)
    assert isinstance(result.to_frame(), pd.DataFrame) and len(result.to_frame()) > 0
