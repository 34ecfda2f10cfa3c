"""Load time of a large FHIR Bulk Data export and OMOP database (synthetic; nothing real).

    .venv/bin/python benchmarks/bench_sources.py [N_PROCEDURES] [--omop]

Writes N simulated procedures (default 100,000) as FHIR NDJSON (and as an OMOP DuckDB file with
--omop) in a temporary folder, then times load_fhir / load_omop and prints the rows read.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from outcomes.sources import load_fhir, load_omop, write_fhir, write_omop
from outcomes.synthetic import simulate


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), 100_000))
    procedures, assessments, _ = simulate(n, seed=2026)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = write_fhir(procedures, assessments, Path(tmp) / "fhir", link_observations=False)
        size = sum(p.stat().st_size for p in paths.values()) / 1e6
        print(f"write_fhir: {time.perf_counter() - start:.1f} s, {size:.0f} MB")
        start = time.perf_counter()
        cohort = load_fhir(Path(tmp) / "fhir")
        print(f"load_fhir: {time.perf_counter() - start:.1f} s for {n} procedures, "
              f"{cohort.read['fhir:Observation']} Observations, {len(cohort.assessments)} pain scores analysed")
        if "--omop" in argv:
            start = time.perf_counter()
            write_omop(procedures, assessments, Path(tmp) / "cdm.duckdb")
            print(f"write_omop: {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            cohort = load_omop(Path(tmp) / "cdm.duckdb")
            print(f"load_omop (DuckDB): {time.perf_counter() - start:.1f} s, {len(cohort.assessments)} pain scores")


if __name__ == "__main__":
    main(sys.argv[1:])
