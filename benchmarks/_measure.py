"""One measured run, in its own process (so peak memory is this run's alone); prints one JSON line.

Called by ``benchmarks/run.py``; by hand::

    python benchmarks/_measure.py pyarrow /tmp/outcomes-bench/procedures_1000000.parquet \
        /tmp/outcomes-bench/assessments_1000000.parquet

Kinds: ``pyarrow`` (``pyarrow.parquet.read_table`` of both files: the yardstick; timed as the first read in
a fresh process, as the pipeline reads, and again warm), ``pandas-read`` (``pandas.read_parquet`` of
both files, the same read with pandas' conversion: the read the aim's first figures imply, 33.8 s =
21.8x -> 1.55 s on pandas 2.3.3 and 7.8 s = 13.6x -> 0.57 s on pandas 3.1), ``pandas``
(load_records -> derive_endpoints -> evaluate_claims), ``duckdb`` (evaluate_registry with the
DuckDB engine; ``--memory-limit`` is evaluate_registry's memory_limit, the run's memory, of which DuckDB gets 80%), ``spark`` (evaluate_registry with the
Spark engine in local mode, ``local[2]``; Spark start-up timed apart as ``startup``; peak memory is
the Python process plus the JVM's, read from /proc), ``survival`` (Kaplan-Meier and log-rank
of time to relief by procedure, from the endpoints of the pandas path, written for the lifelines
comparison). Times exclude interpreter start-up and imports; peak memory is the process's
maximum resident set size (``resource.getrusage``), imports included.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["pyarrow", "pandas-read", "pandas", "duckdb", "spark", "survival"])
    parser.add_argument("procedures")
    parser.add_argument("assessments")
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--save", default=None, help="survival: write durations/events/groups here (.npz)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    out: dict[str, object] = {"kind": args.kind}
    if args.kind == "pyarrow":
        import pyarrow.parquet as pq

        start = time.perf_counter()
        tables = [pq.read_table(args.procedures), pq.read_table(args.assessments)]
        out["seconds"] = time.perf_counter() - start  # first read in a fresh process, as the pipeline's
        out["rows"] = [t.num_rows for t in tables]
        del tables
        start = time.perf_counter()
        tables = [pq.read_table(args.procedures), pq.read_table(args.assessments)]
        out["warm_seconds"] = time.perf_counter() - start  # read again: thread pool and allocator warm
    elif args.kind == "pandas-read":
        import pandas as pd

        start = time.perf_counter()
        frames = [pd.read_parquet(args.procedures), pd.read_parquet(args.assessments)]
        out["seconds"] = time.perf_counter() - start
        out["rows"] = [len(f) for f in frames]
        del frames
        start = time.perf_counter()
        frames = [pd.read_parquet(args.procedures), pd.read_parquet(args.assessments)]
        out["warm_seconds"] = time.perf_counter() - start
        out["pandas"] = pd.__version__
    elif args.kind in ("pandas", "survival"):
        import outcomes

        start = time.perf_counter()
        cohort = outcomes.load_records(args.procedures, args.assessments)
        loaded = time.perf_counter()
        endpoints = outcomes.derive_endpoints(cohort)
        derived = time.perf_counter()
        if args.kind == "pandas":
            result = outcomes.evaluate_claims(endpoints)
            done = time.perf_counter()
            out.update(load=loaded - start, endpoints=derived - loaded, claims=done - derived, seconds=done - start,
                       rows=[cohort.read["procedures"], cohort.read["assessments"]],
                       verdicts=result.verdicts())
        else:
            import numpy as np

            sub = endpoints[endpoints["time_to_relief_hours"].notna()]
            durations = sub["time_to_relief_hours"].to_numpy(float)
            events = sub["relief_observed"].astype(bool).to_numpy()
            groups = sub["procedure"].astype(str).to_numpy()
            if args.save:
                np.savez(args.save, durations=durations, events=events, groups=groups)
            from outcomes.stats import kaplan_meier, logrank

            start = time.perf_counter()
            km = kaplan_meier(durations, events)
            lr = logrank(durations, events, groups)
            out.update(seconds=time.perf_counter() - start, n=len(durations), pvalue=lr.pvalue)
            _ = km
    elif args.kind == "spark":
        import threading

        import outcomes
        from outcomes.engines import start_spark

        start = time.perf_counter()
        spark = start_spark()
        started = time.perf_counter()
        jvm_peak = [0.0]
        stop = threading.Event()

        def children() -> list[int]:  # the JVM is a child process of this one (spark-submit's java)
            import os

            found = []
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/stat") as fh:
                            if int(fh.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                                found.append(int(entry))
                    except (OSError, ValueError, IndexError):
                        continue
            return found

        jvm_cpu = [0.0, 0.0]  # CPU seconds of the JVM: at the start of the evaluation, latest

        def jvm_seconds() -> float:
            import os

            total = 0.0
            for pid in children():
                try:
                    with open(f"/proc/{pid}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                except (OSError, ValueError, IndexError):
                    continue
            return total

        def watch() -> None:  # sample the resident set size and CPU time of the JVM (our child processes)
            while not stop.wait(0.2):
                total = 0
                for pid in children():
                    try:
                        with open(f"/proc/{pid}/status") as fh:
                            total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
                    except (OSError, StopIteration):
                        continue
                jvm_peak[0] = max(jvm_peak[0], total / 1024.0)
                jvm_cpu[1] = max(jvm_cpu[1], jvm_seconds())

        jvm_cpu[0] = jvm_cpu[1] = jvm_seconds()
        own = time.process_time()
        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        result = outcomes.evaluate_registry(args.procedures, args.assessments, engine="spark", connection=spark)
        done = time.perf_counter()
        own = time.process_time() - own
        stop.set()
        thread.join()
        jvm_cpu[1] = max(jvm_cpu[1], jvm_seconds())
        out.update(startup=started - start, seconds=done - started, rows=[int(r) for r in result.flow()["read"]],
                   verdicts=result.claims.verdicts(), jvm_peak_mb=jvm_peak[0], jvm_cpu_seconds=jvm_cpu[1] - jvm_cpu[0],
                   python_cpu_seconds=own)
        spark.stop()
    else:
        import outcomes

        start, cpu = time.perf_counter(), time.process_time()
        result = outcomes.evaluate_registry(args.procedures, args.assessments, engine="duckdb",
                                            memory_limit=args.memory_limit, threads=args.threads)
        out["seconds"] = time.perf_counter() - start
        out["cpu_seconds"] = time.process_time() - cpu  # DuckDB's threads included
        out["rows"] = [int(r) for r in result.flow()["read"]]
        out["verdicts"] = result.claims.verdicts()
    out["peak_mb"] = _peak_mb()
    json.dump(out, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
