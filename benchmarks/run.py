"""Registry-scale benchmark: generate, measure in separate processes, print a markdown table.

    python benchmarks/run.py                                   # 100k and 1M procedures
    python benchmarks/run.py --big 10000000 --memory-limit 4GB # and 10M through DuckDB
    python benchmarks/run.py --sizes 100000 --spark 1000000    # and 1M through Spark beside DuckDB
    python benchmarks/run.py --bench-python /tmp/benchvenv/bin/python   # and lifelines

Every measured run is its own process (``_measure.py``), so its peak memory (maximum resident set
size) is its own. Runs are interleaved and repeated (``--repeat``, median reported) so that the
ratios -- the pipeline against ``pyarrow.parquet.read_table`` of the same two files, 1M against
100k -- are measured under the same conditions in the same run. Data are written under ``--out``
(never in the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        kb = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        ram = f"{kb / 1024 ** 2:.1f} GB"
    except (OSError, StopIteration):
        ram = "unknown"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram, "python": platform.python_version()}


def _versions() -> str:
    import duckdb
    import numpy
    import pandas
    import pyarrow
    import scipy
    import statsmodels

    return (f"pandas {pandas.__version__}, numpy {numpy.__version__}, pyarrow {pyarrow.__version__}, "
            f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, duckdb {duckdb.__version__}")


def _run(args: list[str], python: str = sys.executable) -> dict:
    done = subprocess.run([python, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _files(out: Path, n: int) -> tuple[str, str]:
    return str(out / f"procedures_{n}.parquet"), str(out / f"assessments_{n}.parquet")


def _ensure(out: Path, n: int, chunk: int) -> None:
    if not all(Path(f).exists() for f in _files(out, n)):
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(n), "--out", str(out), "--chunk", str(chunk)],
                       check=True)


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--big", type=int, default=None, help="also run this many procedures through DuckDB")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit for the --big run")
    parser.add_argument("--spark", type=int, default=None,
                        help="also run this many procedures through Spark local mode, beside DuckDB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/outcomes-bench"))
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--bench-python", default=None, help="python of a venv with lifelines (pandas < 3)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    measure = str(HERE / "_measure.py")
    results: dict = {"machine": _machine(), "versions": _versions(), "sizes": {}, "started": time.ctime()}

    for n in args.sizes:
        _ensure(args.out, n, args.chunk)
        runs: dict[str, list[dict]] = {"pyarrow": [], "pandas": [], "duckdb": []}
        for _ in range(args.repeat):
            for kind in runs:
                runs[kind].append(_run([measure, kind, *_files(args.out, n)]))
        verdicts = {json.dumps(r["verdicts"], sort_keys=True) for kind in ("pandas", "duckdb") for r in runs[kind]}
        results["sizes"][n] = {
            "rows": runs["pyarrow"][0]["rows"],
            "pyarrow": _median(runs["pyarrow"], "seconds"),
            "pyarrow_warm": _median(runs["pyarrow"], "warm_seconds"),
            "pandas": _median(runs["pandas"], "seconds"),
            "pandas_load": _median(runs["pandas"], "load"),
            "pandas_endpoints": _median(runs["pandas"], "endpoints"),
            "pandas_claims": _median(runs["pandas"], "claims"),
            "duckdb": _median(runs["duckdb"], "seconds"),
            "pyarrow_mb": max(r["peak_mb"] for r in runs["pyarrow"]),
            "pandas_mb": max(r["peak_mb"] for r in runs["pandas"]),
            "duckdb_mb": max(r["peak_mb"] for r in runs["duckdb"]),
            "same_verdicts": len(verdicts) == 1,
        }
        print(f"{n:,}: {json.dumps(results['sizes'][n])}", file=sys.stderr)

    largest = max(args.sizes)
    survival_file = str(args.out / f"survival_{largest}.npz")
    ours = _run([measure, "survival", *_files(args.out, largest), "--save", survival_file])
    results["survival"] = {"n": ours["n"], "outcomes_main_venv": ours["seconds"]}
    if args.bench_python:
        results["survival"].update(_run([str(HERE / "lifelines_compare.py"), survival_file,
                                         "--repeat", str(args.repeat)], python=args.bench_python))

    if args.big:
        _ensure(args.out, args.big, args.chunk)
        big = _run([measure, "duckdb", *_files(args.out, args.big), "--memory-limit", args.memory_limit])
        results["big"] = {"n": args.big, "rows": big["rows"], "seconds": big["seconds"], "peak_mb": big["peak_mb"],
                          "cpu_seconds": big.get("cpu_seconds"), "memory_limit": args.memory_limit}

    if args.spark:
        _ensure(args.out, args.spark, args.chunk)
        runs = [(_run([measure, "spark", *_files(args.out, args.spark)]),
                 _run([measure, "duckdb", *_files(args.out, args.spark)])) for _ in range(args.repeat)]
        results["spark"] = {"n": args.spark, "rows": runs[0][0]["rows"],
                            "startup": _median([r for r, _ in runs], "startup"),
                            "seconds": _median([r for r, _ in runs], "seconds"),
                            "python_mb": max(r["peak_mb"] for r, _ in runs),
                            "jvm_mb": max(r["jvm_peak_mb"] for r, _ in runs),
                            "jvm_cpu": _median([r for r, _ in runs], "jvm_cpu_seconds"),
                            "python_cpu": _median([r for r, _ in runs], "python_cpu_seconds"),
                            "duckdb_cpu": _median([d for _, d in runs], "cpu_seconds"),
                            "duckdb": _median([d for _, d in runs], "seconds"),
                            "duckdb_mb": max(d["peak_mb"] for _, d in runs),
                            "same_verdicts": len({json.dumps(x["verdicts"], sort_keys=True)
                                                  for pair in runs for x in pair}) == 1}

    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(_table(results))


def _table(r: dict) -> str:
    m = r["machine"]
    lines = [f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM; Python {m['python']}; {r['versions']}.", "",
             "| procedures | pain scores | pyarrow read, fresh / warm (s) | pandas path (s) | ratio to pyarrow, "
             "fresh / warm | load / endpoints / claims (s) | peak memory | DuckDB engine (s) | DuckDB peak memory |",
             "|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for n, s in r["sizes"].items():
        lines.append(
            f"| {int(n):,} | {s['rows'][1]:,} | {s['pyarrow']:.2f} / {s['pyarrow_warm']:.2f} | {s['pandas']:.2f} | "
            f"{s['pandas'] / s['pyarrow']:.1f}x / {s['pandas'] / s['pyarrow_warm']:.1f}x | "
            f"{s['pandas_load']:.2f} / {s['pandas_endpoints']:.2f} / "
            f"{s['pandas_claims']:.2f} | {s['pandas_mb'] / 1024:.2f} GB | {s['duckdb']:.2f} | {s['duckdb_mb'] / 1024:.2f} GB |")
    if "big" in r:
        b = r["big"]
        cpu = f" (CPU {b['cpu_seconds']:.0f} s)" if b.get("cpu_seconds") is not None else ""
        lines.append(f"| {b['n']:,} | {b['rows'][1]:,} | | | | | | {b['seconds']:.1f}{cpu} | {b['peak_mb'] / 1024:.2f} GB "
                     f"(memory_limit {b['memory_limit']}) |")
    if "spark" in r:
        k = r["spark"]
        lines += ["", f"Spark local mode (local[2]) on {k['n']:,} procedures ({k['rows'][1]:,} scores): "
                      f"{k['seconds']:.1f} s after a {k['startup']:.1f} s start-up, peak {k['jvm_mb'] / 1024:.2f} GB "
                      f"(JVM) + {k['python_mb'] / 1024:.2f} GB (Python), CPU {k['jvm_cpu']:.1f} s (JVM) + "
                      f"{k['python_cpu']:.1f} s (Python); DuckDB in the same run {k['duckdb']:.1f} s "
                      f"(CPU {k['duckdb_cpu']:.1f} s), {k['duckdb_mb'] / 1024:.2f} GB; same verdicts: {k['same_verdicts']}."]
    sizes = sorted(int(n) for n in r["sizes"])
    if len(sizes) >= 2:
        small, large = r["sizes"][sizes[0]], r["sizes"][sizes[-1]]
        factor = sizes[-1] / sizes[0]
        lines += ["", f"Scaling {sizes[0]:,} -> {sizes[-1]:,} procedures ({factor:g}x): pandas path "
                      f"{large['pandas'] / small['pandas']:.1f}x the time, DuckDB engine {large['duckdb'] / small['duckdb']:.1f}x, "
                      f"pyarrow read {large['pyarrow'] / small['pyarrow']:.1f}x."]
    s = r["survival"]
    if "lifelines_seconds" in s:
        lines += ["", f"Kaplan-Meier + log-rank on {s['n']:,} durations (time to relief by procedure), same process: "
                      f"outcomes {s['outcomes_seconds']:.2f} s, lifelines {s['lifelines']} (KaplanMeierFitter + "
                      f"logrank_test) {s['lifelines_seconds']:.2f} s ({s['lifelines_seconds'] / s['outcomes_seconds']:.1f}x); "
                      f"with text labels instead of 0/1 codes outcomes takes {s['outcomes_labels_seconds']:.2f} s. "
                      f"Largest survival difference {s['max_survival_difference']:.1e}; chi-square relative difference "
                      f"{s['statistic_relative_difference']:.1e} (both p-values {s['pvalue_outcomes']:.3g}); on a random split "
                      f"of the same durations p = {s['null_pvalue_outcomes']:.6f}, difference {s['null_pvalue_difference']:.1e}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
