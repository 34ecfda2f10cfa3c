"""Write synthetic registries as Parquet for the benchmarks (never committed).

Usage::

    python benchmarks/generate.py 100000 1000000 --out /tmp/outcomes-bench
    python benchmarks/generate.py 10000000 --out /tmp/outcomes-bench --chunk 1000000

Each size N gives ``procedures_N.parquet`` and ``assessments_N.parquet``. Sizes above
``--chunk`` are simulated in chunks (one :func:`outcomes.synthetic.simulate` call per chunk, seeds
``seed + k``) and streamed into one Parquet file per table with ``pyarrow.parquet.ParquetWriter``,
so generation holds one chunk in memory at a time. Procedure and patient ids are renumbered to
stay unique across chunks (chunk k's ids get the prefix ``C{k}-``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from outcomes.synthetic import simulate


def _tables(n: int, seed: int, chunk_index: int | None):
    procedures, assessments, _ = simulate(n, seed=seed)
    if chunk_index is not None:
        prefix = f"C{chunk_index:03d}-"
        for frame, column in ((procedures, "procedure_id"), (procedures, "patient_id"),
                              (assessments, "procedure_id")):
            frame[column] = prefix + frame[column]
    return (pa.Table.from_pandas(procedures, preserve_index=False),
            pa.Table.from_pandas(assessments, preserve_index=False))


def write_registry(n: int, out: Path, *, seed: int = 2026, chunk: int = 1_000_000) -> tuple[Path, Path]:
    """Simulate ``n`` procedures and write them to ``out``; returns the two Parquet paths."""
    out.mkdir(parents=True, exist_ok=True)
    proc_path, ass_path = out / f"procedures_{n}.parquet", out / f"assessments_{n}.parquet"
    if n <= chunk:
        procedures, assessments = _tables(n, seed, None)
        pq.write_table(procedures, proc_path)
        pq.write_table(assessments, ass_path)
        return proc_path, ass_path
    sizes = [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])
    proc_writer = ass_writer = None
    try:
        for k, size in enumerate(sizes):
            procedures, assessments = _tables(size, seed + k, k)
            if proc_writer is None:
                proc_writer = pq.ParquetWriter(proc_path, procedures.schema)
                ass_writer = pq.ParquetWriter(ass_path, assessments.schema)
            proc_writer.write_table(procedures.cast(proc_writer.schema))
            ass_writer.write_table(assessments.cast(ass_writer.schema))
            del procedures, assessments
    finally:
        if proc_writer is not None:
            proc_writer.close()
            ass_writer.close()
    return proc_path, ass_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+", help="numbers of procedures")
    parser.add_argument("--out", type=Path, default=Path("/tmp/outcomes-bench"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--chunk", type=int, default=1_000_000)
    args = parser.parse_args()
    for n in args.sizes:
        start = time.perf_counter()
        paths = write_registry(n, args.out, seed=args.seed, chunk=args.chunk)
        rows = [pq.ParquetFile(p).metadata.num_rows for p in paths]
        print(f"{n:>10,} procedures: {rows[0]:,} + {rows[1]:,} rows in {time.perf_counter() - start:.1f} s "
              f"-> {paths[0].parent}")


if __name__ == "__main__":
    main()
