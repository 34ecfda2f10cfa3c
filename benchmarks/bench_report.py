"""The clinic report at registry scale: its figures and the whole render against the claims table.

Each measurement runs in its own process (``python bench_report.py all ...`` starts them) and
prints one JSON line; times exclude interpreter start-up and imports.

Usage::

    python benchmarks/generate.py 1000000 --out /tmp/outcomes-bench
    python benchmarks/bench_report.py all /tmp/outcomes-bench/procedures_1000000.parquet \\
        /tmp/outcomes-bench/assessments_1000000.parquet

Kinds:

- ``claims``: ``load_records`` -> ``derive_endpoints`` -> ``evaluate_claims`` (the claims table).
- ``figures``: the same, then every figure of the clinic report and the monitoring section built
  and saved as PNG at the report's resolution, each timed (the figures draw from results, tallies
  and binned data, never one mark per procedure).
- ``report``: ``outcomes.report.render_report`` to HTML (the notebook run, claims included).
- ``all``: the three above, each in a fresh process, and the ratios report / claims and
  (claims + figures) / claims.

Profile with pyinstrument (a tool, not a dependency)::

    python -m pyinstrument -r text benchmarks/bench_report.py figures P.parquet A.parquet
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


def _claims(procedures: str, assessments: str):
    from outcomes import derive_endpoints, evaluate_claims, load_records

    cohort = load_records(procedures, assessments)
    endpoints = derive_endpoints(cohort)
    return cohort, endpoints, evaluate_claims(endpoints)


def _figures(cohort, endpoints, claims) -> dict[str, float]:
    from outcomes import monitoring, report
    from outcomes.plots_monitoring import control_chart_figure, cusum_figure, funnel_figure

    builders = {
        "flow": lambda: report.flow_figure(cohort),
        "claims": lambda: report.claims_figure(claims),
        "relief": lambda: report.relief_figure(endpoints, claims=claims),
        "fracture_age": lambda: report.fracture_age_figure(endpoints, claims=claims),
        "overnight": lambda: report.overnight_figure(claims),
        "durability": lambda: report.durability_figure(claims),
        "funnel": lambda: funnel_figure(monitoring.funnel(endpoints, outcome="success", unit="physician_id",
                                                          stated=0.9)),
        "control_chart": lambda: control_chart_figure(monitoring.control_chart(endpoints, outcome="success",
                                                                               stated=0.9)),
        "cusum": lambda: cusum_figure(monitoring.cusum(endpoints, outcome="success", stated=0.9)),
        "cusum_by_physician": lambda: cusum_figure(monitoring.cusum(endpoints, outcome="success", stated=None,
                                                                    by="physician_id")),
    }
    times = {}
    for name, build in builders.items():
        start = time.perf_counter()
        fig = build()
        if fig is not None:
            fig.savefig(io.BytesIO(), format="png", dpi=110)
        times[name] = round(time.perf_counter() - start, 3)
    return times


def _one(kind: str, procedures: str, assessments: str) -> dict:
    warnings.simplefilter("ignore")
    import outcomes  # noqa: F401  (imports are not timed)
    import outcomes.report  # noqa: F401

    start = time.perf_counter()
    if kind == "report":
        from outcomes.report import render_report

        with tempfile.TemporaryDirectory() as tmp:
            render_report(procedures, assessments, output=Path(tmp) / "report.html", progress=False, timeout=3600)
        return {"kind": kind, "seconds": round(time.perf_counter() - start, 2)}
    cohort, endpoints, claims = _claims(procedures, assessments)
    claims_seconds = time.perf_counter() - start
    out = {"kind": kind, "claims_seconds": round(claims_seconds, 2), "n": len(endpoints)}
    if kind == "figures":
        out["figures"] = _figures(cohort, endpoints, claims)
        out["figures_seconds"] = round(sum(out["figures"].values()), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["claims", "figures", "report", "all"])
    parser.add_argument("procedures")
    parser.add_argument("assessments")
    args = parser.parse_args()
    if args.kind != "all":
        print(json.dumps(_one(args.kind, args.procedures, args.assessments)))
        return
    results = {}
    for kind in ("claims", "figures", "report"):
        run = subprocess.run([sys.executable, __file__, kind, args.procedures, args.assessments],
                             check=True, capture_output=True, text=True)
        results[kind] = json.loads(run.stdout.strip().splitlines()[-1])
        print(json.dumps(results[kind]), flush=True)
    claims = results["claims"]["claims_seconds"]
    print(json.dumps({"report_over_claims": round(results["report"]["seconds"] / claims, 2),
                      "claims_plus_figures_over_claims":
                          round((claims + results["figures"]["figures_seconds"]) / claims, 2)}))


if __name__ == "__main__":
    main()
