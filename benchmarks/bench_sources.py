"""Load time of a large FHIR Bulk Data export and OMOP database (synthetic; nothing real).

    .venv/bin/python benchmarks/bench_sources.py [N_PROCEDURES] [--runs R] [--omop] [--postgres URL] [--no-fhir]

Writes N simulated procedures (default 100,000) as FHIR NDJSON (scores linked by time, as most
real exports are), and with --omop as an OMOP DuckDB file (with --postgres URL also into a
fresh schema of that PostgreSQL database, dropped afterwards), in a temporary folder. Then it
times each load R times (default 3), each run in a process of its own (a fresh interpreter:
nothing cached, no memory left over from the previous run), and prints every time, the median,
and the load average of the machine before each run (on a shared machine the load says how
much of the time was waiting for a core).

    .venv/bin/python benchmarks/bench_sources.py --load-fhir DIR     # one timed load (used above)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one(kind: str, target: str, schema: str | None) -> None:
    """Time one load in this process and print ``seconds procedures assessments``."""
    from outcomes.sources import load_fhir, load_omop

    start = time.perf_counter()
    cohort = load_fhir(target) if kind == "fhir" else load_omop(target, schema=schema)
    seconds = time.perf_counter() - start
    print(f"{seconds:.2f} {len(cohort.procedures)} {len(cohort.assessments)}")


def _runs(label: str, args: list[str], runs: int) -> None:
    import resource

    times, cpus = [], []
    for k in range(runs):
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time of the run (all its threads, interpreter start included): what the load costs
        # whatever else the machine is doing
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        seconds, procs, scores = done.stdout.split()
        times.append(float(seconds))
        cpus.append(cpu)
        print(f"{label} run {k + 1}: {float(seconds):.1f} s wall, {cpu:.1f} s CPU ({procs} procedures, "
              f"{scores} pain scores; load average before: {load:.1f})", flush=True)
    print(f"{label}: median {statistics.median(times):.1f} s wall (fastest {min(times):.1f} s), median "
          f"{statistics.median(cpus):.1f} s CPU, {runs} runs on {os.cpu_count()} cores", flush=True)


def main(argv: list[str]) -> None:
    for flag, kind in (("--load-fhir", "fhir"), ("--load-omop", "omop")):
        if flag in argv:
            at = argv.index(flag)
            _one(kind, argv[at + 1], argv[at + 2] if len(argv) > at + 2 else None)
            return
    from outcomes.sources import write_fhir, write_omop
    from outcomes.synthetic import simulate

    n = int(next((a for a in argv if a.isdigit()), 100_000))
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    procedures, assessments, _ = simulate(n, seed=2026)
    with tempfile.TemporaryDirectory() as tmp:
        if "--no-fhir" not in argv:
            start = time.perf_counter()
            paths = write_fhir(procedures, assessments, Path(tmp) / "fhir", link_observations=False)
            size = sum(p.stat().st_size for p in paths.values()) / 1e6
            print(f"write_fhir: {time.perf_counter() - start:.1f} s, {size:.0f} MB", flush=True)
            _runs(f"load_fhir ({n} procedures)", ["--load-fhir", str(Path(tmp) / "fhir")], runs)
        if "--omop" in argv:
            db = Path(tmp) / "cdm.duckdb"
            start = time.perf_counter()
            write_omop(procedures, assessments, db)
            print(f"write_omop (DuckDB): {time.perf_counter() - start:.1f} s", flush=True)
            _runs("load_omop (DuckDB)", ["--load-omop", str(db)], runs)
        if "--postgres" in argv:
            import psycopg

            url = argv[argv.index("--postgres") + 1]
            schema = f"bench_{os.getpid()}"
            try:
                start = time.perf_counter()
                write_omop(procedures, assessments, url, schema=schema)
                print(f"write_omop (PostgreSQL): {time.perf_counter() - start:.1f} s", flush=True)
                _runs("load_omop (PostgreSQL)", ["--load-omop", url, schema], runs)
            finally:
                with psycopg.connect(url, autocommit=True) as con:
                    con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main(sys.argv[1:])
