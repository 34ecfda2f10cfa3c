"""The command line: parses arguments and calls the library (papermill's cli.py is the model).

Errors from the library (:class:`~outcomes.exceptions.OutcomesError`) are printed as one line on
stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .exceptions import IdentifiersAllowedWarning, InputError, OutcomesError

__all__ = ["main"]


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("procedures", nargs="?",
                        help="procedures table (CSV, .xlsx or .parquet); or give --fhir or --omop instead")
    parser.add_argument("--assessments", metavar="FILE", help="pain scores, long or wide")
    parser.add_argument("--events", metavar="FILE",
                        help="adverse events, one row each (procedure_id, event, days_after or event_date, severity)")
    parser.add_argument("--fhir", metavar="DIR", help="a FHIR Bulk Data export (folder of NDJSON files) or a Bundle")
    parser.add_argument("--omop", metavar="URL",
                        help="an OMOP CDM database: postgresql://user@host/db, or a .duckdb or .sqlite file")
    parser.add_argument("--schema", metavar="NAME", help="the OMOP CDM schema (with --omop)")
    parser.add_argument("--mapping", metavar="FILE", help="TOML mapping of the clinic's columns and codes")
    parser.add_argument("--definitions", metavar="FILE", help="TOML definitions (relief, success, ...)")
    parser.add_argument("--allow-identifiers", action="store_true",
                        help="go on even if the data look identifying (a warning goes into every output)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomes",
        description="Check vertebroplasty and kyphoplasty outcomes against the figures a clinic publishes.",
    )
    parser.add_argument("--version", action="version", version=f"outcomes {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check the records and account for every row")
    _add_input_arguments(validate)
    validate.add_argument("--sheet", metavar="NAME",
                          help="the procedures workbook's sheet, by name or number from 1 (default: the first "
                               "with known columns; the mapping's [procedures] sheet = ... does the same)")
    validate.add_argument("--header-row", metavar="N", type=int,
                          help="the procedures file's header row as a spreadsheet numbers it (default: found)")
    validate.add_argument("--encoding", metavar="NAME", help="the procedures file's text encoding (default: detected)")
    validate.add_argument("--exclusions", metavar="FILE.csv",
                          help="write every excluded row (table, source, row, column, value, reason) to this CSV")

    demo = commands.add_parser("demo", help="write fresh synthetic demo records")
    demo.add_argument("--output", metavar="DIR", required=True,
                      help="folder to write procedures.csv, assessments.csv and events.csv")
    demo.add_argument("--n", type=int, default=800, help="number of procedures (default 800)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")

    report = commands.add_parser("report", help="render the clinic report (or one physician's review) to one HTML or PDF file")
    _add_input_arguments(report)
    report.add_argument("--physician", metavar="ID", help="render this physician's review instead of the clinic report")
    report.add_argument("--clinic-name", metavar="NAME", help="the clinic's name, for the title")
    report.add_argument("--suppress-below", metavar="N", type=int, default=0,
                        help="show every count under N as '<N' (for reports shared outside the clinic)")
    report.add_argument("--output", metavar="FILE.html|FILE.pdf", required=True,
                        help="the file to write: .html, or .pdf (printed with page numbers)")
    report.add_argument("--tables", metavar="FILE.xlsx", help="also write the tables and figure data to a workbook")
    report.add_argument("--dates", choices=("full", "year"), default="full",
                        help="'year': no date finer than the year in the report (default 'full')")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _load(args: argparse.Namespace):
    from .definitions import Definitions
    from .mapping import Mapping
    from .sources import load_cohort

    definitions = Definitions.from_toml(args.definitions) if args.definitions else Definitions()
    mapping = args.mapping
    reading = {k: getattr(args, k, None) for k in ("sheet", "header_row", "encoding")}
    if any(v is not None for v in reading.values()):
        if reading["sheet"] is not None and reading["sheet"].isdigit():
            reading["sheet"] = int(reading["sheet"])
        mapping = Mapping.coerce(mapping).with_reading("procedures", **reading)
    cohort = load_cohort(args.procedures, args.assessments, events=args.events, fhir=args.fhir, omop=args.omop, schema=args.schema,
                         mapping=mapping, definitions=definitions, allow_identifiers=args.allow_identifiers)
    return cohort, definitions


# What to try when every row of a table is excluded, by the most common reason.
_HINTS = {
    "procedure_date missing or unreadable": "declare the dates' format in the mapping file "
                                            "([procedures] date_format = \"%m/%d/%Y\"), or give procedure_year",
    "pain is not a number": "check the decimal separator and the pain column (a mapping file can rename it)",
    "unknown procedure id (not in the procedures table)": "check that both files use the same procedure ids",
    "its procedure was excluded": "fix the procedures table first (see its exclusions above)",
    "unknown procedure type (not vertebroplasty or kyphoplasty)": "map the clinic's procedure codes in the mapping "
                                                                  "file ([procedures.values.procedure])",
    "time missing": "give hours_after or assessed_at for each score (a mapping file can rename the time column)",
}


def _validate(args: argparse.Namespace) -> int:
    from .limits import check_output
    from .privacy import data_class

    if args.exclusions:
        check_output(args.exclusions, name="exclusions")  # before the records are read
    cohort, _ = _load(args)
    print(cohort.describe())
    print(f"data class (HIPAA): {data_class(cohort)}")
    if args.exclusions:
        log = cohort.exclusion_log()
        log.to_csv(args.exclusions, index=False)
        print(f"wrote {len(log)} excluded rows to {args.exclusions}")
    empty = cohort.empty_tables()
    if empty:
        table = empty[0]
        counts = cohort.exclusion_counts()
        counts = counts[counts["table"] == table]
        if counts.empty:
            why = "it has no rows"
            hint = "check that the file holds records"
        else:
            reason = str(counts["reason"].iloc[0])
            why = f"all {int(counts['rows'].sum())} rows were excluded, most as '{reason}'"
            hint = _HINTS.get(reason, "see the exclusions above (--exclusions FILE.csv lists every row)")
        print(f"outcomes validate: nothing analysed in {table}: {why}; try: {hint}.", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .limits import check_output
    from .synthetic import write_demo

    check_output(Path(args.output) / "procedures.csv", name="output")
    paths = write_demo(args.output, n_procedures=args.n, seed=args.seed)
    for path in paths:
        print(f"wrote {path}")
    print("These records are synthetic (outcomes.synthetic), not real patients.")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import render_report

    # the events table travels only when given (render_report's events parameter: the report's safety section)
    if args.events and "events" not in inspect.signature(render_report).parameters:
        raise InputError("`--events` must go with a report that has a safety section; this version's report "
                         "does not read an events table yet (outcomes validate --events checks the file).")
    path = render_report(args.procedures, args.assessments, **({"events": args.events} if args.events else {}),
                         fhir=args.fhir, omop=args.omop, schema=args.schema,
                         output=args.output, mapping=args.mapping, definitions=args.definitions,
                         physician_id=args.physician, clinic_name=args.clinic_name,
                         suppress_below=args.suppress_below, allow_identifiers=args.allow_identifiers,
                         progress=not args.quiet, **({"tables": args.tables} if args.tables else {}),
                         **({"dates": args.dates} if args.dates != "full" else {}))
    print(f"wrote {path}" + (f" and {args.tables}" if args.tables else ""))
    return 0


_COMMANDS = {"validate": _validate, "demo": _demo, "report": _report}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            # The cohort carries the identifiers warning into the output; do not print it twice.
            warnings.simplefilter("ignore", IdentifiersAllowedWarning)
            return _COMMANDS[args.command](args)
    except OutcomesError as exc:
        from .privacy import redact_secrets

        # one line, and never a password of a database URL or DSN, however the message quotes it
        line = " ".join(redact_secrets(exc, getattr(args, "omop", None)).split())
        print(f"outcomes {args.command}: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("outcomes: interrupted", file=sys.stderr)
        return 130
