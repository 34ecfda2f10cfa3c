"""Registry scale: every claim where the records live, in SQL; only tallies come back.

:func:`evaluate_registry` gives the claims table of :func:`outcomes.evaluate_claims` for a regional
or national registry, or for an OMOP warehouse, without bringing patient rows into Python. The
engine reads the records, applies the exclusion rules of :func:`outcomes.load_records`, derives
the endpoints of :func:`outcomes.derive_endpoints` (``outcomes/sql/*.sql``) and hands the
statistics only tallies -- one row per distinct combination of the values a claim reads, with its
count (``_weight``) -- which every estimator of the package takes as frequency weights.

Engines (:mod:`outcomes.engines`), one SQL source in DuckDB's dialect carried to the others by
SQLGlot:

- ``engine="duckdb"``: Parquet files in process; memory grows with the number of distinct values,
  not of procedures, and DuckDB spills to disk beyond ``memory_limit``.
- ``engine="spark"``: Parquet files (or Spark tables) in Apache Spark, through a ``SparkSession``
  (``connection``; a local one is started when none is given).
- ``omop=``: an OMOP CDM v5.4 database evaluated inside PostgreSQL (a URL) or Spark (a session),
  or a DuckDB file: ``outcomes/sql/omop.sql`` makes the canonical tables of
  :func:`outcomes.load_omop` in the database, then the same rules and endpoints run there.

The exclusion rules are those of :func:`outcomes.load_records`, from the same SQL
(:func:`outcomes.checks.build_checked`): the coded columns (procedure, sex, discharge,
complication, etiology, physician, site, instrument) and the dates (per-column formats, Safe
Harbor years, ``assessed_at`` timestamps) are read once per *distinct* raw value in Python
(:mod:`outcomes.validation`) and pushed back as small ``(raw, value)`` tables, and the relief
threshold of each distinct baseline comes from :meth:`Definitions.relief_threshold`. What SQL
does itself: trimming ids (the whitespace of Python's ``str.strip``), numbers (``TRY_CAST``,
reading :data:`outcomes.engines.NUMBER_PATTERN` on every engine), ranges, the exclusion rules in
order, and the per-procedure aggregates of the endpoints.

As load_records: a wide export (one row per procedure, columns such as ``pain_48h``,
``odi_4w``; :meth:`Mapping.wide_columns`) is made long in the engine; timestamps with a time
zone are read as UTC; the remarks log (optional values set to missing, the row kept) comes back
as counts (:meth:`RegistryResult.remark_counts`), its rows staying in the engine.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .claims import Claim, ClaimsResult, claim_columns, evaluate_claim_frames, resolve_claims
from .definitions import Definitions
from .engines import DuckDBEngine, PostgresEngine, SparkEngine, size_bytes
from .engines import literal as _literal
from .exceptions import InputError
from .function import (
    FUNCTION_ENDPOINT_COLUMNS,
    function_accounting,
    function_rules,
    register_function_labels,
    run_function_sql,
)
from .mapping import EVENT_COLUMNS, Mapping
from .pipeline import create_thresholds, created_table, endpoint_statements, sql_statements, sql_text
from .privacy import (
    GATE,
    PrivacyFinding,
    age_reason,
    is_age_column,
    is_bare_name,
    name_findings,
    report_findings,
    value_masks,
)
from .checks import build_checked, discharge_sql, number_sql
from .checks import to_arrow as _to_arrow
from .safety import EVENT_REMARKS, SAFETY_COLUMNS, build_safety, follow_up_read
from .validation import column_list
from .wide import no_scores_message, unpivot_sql

__all__ = ["DUCKDB_SHARE", "RegistryResult", "evaluate_registry"]

# The share of evaluate_registry's memory_limit given to DuckDB. DuckDB allocates beyond its own
# limit, and the Python process holds about 0.22 GB after its imports: 10M procedures (75M scores)
# with DuckDB's limit at 3 GB peaked at 3.67 GB, at 4 GB at 4.69 GB, in the same time (89.5 and
# 88.1 s on two idle cores, 30 November 2026). With 80% the run stays near the limit asked for.
DUCKDB_SHARE = 0.8

Engine = Literal["duckdb", "spark"]
_ENGINES = ("duckdb", "spark")
_FILE_BITS = 40  # _order = file index * 2**40 + row number in the file
WEIGHT = "_weight"
Source = str | os.PathLike[str] | list[str | os.PathLike[str]]


@dataclass(frozen=True, eq=False)
class RegistryResult:
    """The claims of a registry and the account of its rows.

    Attributes
    ----------
    claims : ClaimsResult
        As :func:`outcomes.evaluate_claims` (``claims.table``, ``claims.verdicts()``, ...).
    flow_table : pandas.DataFrame
        Rows read, excluded and analysed per table (read = analysed + excluded).
    exclusion_table : pandas.DataFrame
        Excluded rows by table and reason, largest first.
    engine : str
        "duckdb", "spark" or "postgres".
    sources, input_hashes : dict
        The name and SHA-256 of each input file.
    privacy_warnings : tuple of str
        Present when identifiers were allowed through on request.
    remark_table : pandas.DataFrame
        Values set to missing (the row kept) by table, column and remark, with their ``rows``:
        the tallies of :attr:`Cohort.remarks <outcomes.Cohort>`.
    """

    claims: ClaimsResult
    flow_table: pd.DataFrame
    exclusion_table: pd.DataFrame
    engine: str
    sources: dict[str, str] = field(default_factory=dict)
    input_hashes: dict[str, str] = field(default_factory=dict)
    privacy_warnings: tuple[str, ...] = ()
    remark_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"table": [], "column": [], "remark": [], "rows": []}))

    def flow(self) -> pd.DataFrame:
        """Rows read, excluded and analysed per table (as :meth:`Cohort.flow`)."""
        return self.flow_table.copy()

    def exclusion_counts(self) -> pd.DataFrame:
        """Excluded rows by table and reason, largest first (as :meth:`Cohort.exclusion_counts`)."""
        return self.exclusion_table.copy()

    def remark_counts(self) -> pd.DataFrame:
        """Values set to missing by table, column and remark, largest first: the remarks log of
        :func:`outcomes.load_records` as counts (its rows stay in the engine)."""
        return self.remark_table.copy()

    def to_frame(self) -> pd.DataFrame:
        """The claims table (a copy)."""
        return self.claims.to_frame()

    def verdicts(self) -> dict[str, str]:
        """Each claim's headline verdict."""
        return self.claims.verdicts()

    def _repr_html_(self) -> str:
        return self.flow_table.to_html(index=False) + self.claims._repr_html_()




def evaluate_registry(
    procedures: Source | None = None,
    assessments: Source | None = None,
    *,
    events: Source | None = None,
    definitions: Definitions | None = None,
    claims: str | Path | tuple[Claim, ...] | list[Claim] | None = None,
    engine: Engine = "duckdb",
    connection: Any = None,
    omop: Any = None,
    schema: str | None = None,
    mapping: Any = None,
    confidence_level: float = 0.95,
    allow_identifiers: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
) -> RegistryResult:
    """Evaluate every claim on a registry where it lives: Parquet files, Spark, or an OMOP warehouse.

    Parameters
    ----------
    procedures, assessments : path, glob or list of paths, optional
        Parquet files of the data contract (one row per procedure; one row per pain score with
        ``hours_after`` or ``assessed_at``, or a wide export: one row per procedure with
        ``pain_48h``, ``odi_4w``, ... columns, as :func:`outcomes.load_records`). Without
        ``assessments``, the procedures table's own wide pain columns are the scores (as
        load_records reads a wide export given alone). Several files per table (a glob such as
        ``"scores/*.parquet"`` or a list) are read in the order given. With ``engine="spark"``
        a name that is not a file is read as a Spark table (``"registry.procedures"``).
    events : path, glob or list of paths, optional
        Parquet files of adverse events (the events table of :func:`outcomes.load_records`);
        checked by ``sql/events.sql`` and made into the safety endpoints by ``sql/safety.sql``
        in the engine. Without it the safety endpoints are unknown (NULL).
    definitions : Definitions, optional
        Defaults to ``Definitions()``.
    claims : path to a TOML file, or a sequence of Claim, optional
        As :func:`outcomes.evaluate_claims`.
    engine : {"duckdb", "spark"}, default "duckdb"
        "duckdb": SQL over the files in process, only tallies in memory (larger than memory).
        "spark": the same SQL (Spark dialect) in Apache Spark.
    connection : pyspark.sql.SparkSession, optional
        The session for ``engine="spark"``; a local one (``local[2]``, no web UI) is started and
        stopped when none is given.
    omop : str, path or SparkSession, optional
        Instead of files: an OMOP CDM v5.4 database evaluated in place -- a PostgreSQL URL
        (``postgresql://user:password@host/db``, psycopg 3), a ``SparkSession`` whose catalog
        holds the CDM tables, or a DuckDB file. The records :func:`outcomes.load_omop` selects
        become the canonical tables inside the database, and its events table too (when
        ``death`` or ``observation_period`` hold rows for the cohort's persons).
    schema : str, optional
        The CDM schema (PostgreSQL, DuckDB) or database (Spark) of ``omop``.
    mapping : Mapping, path to a TOML file, or SourceSettings, optional
        Column renames and extra codes, as :func:`outcomes.load_records`; with ``omop``, an
        :class:`outcomes.sources.SourceSettings` (default: the built-in OMOP codes).
    confidence_level : float, default 0.95
    allow_identifiers : bool, default False
        Go on even if the data look identifying (the warning travels with the result).
    memory_limit, threads, temp_directory : optional
        The run's memory (e.g. ``"4GB"``, ``"500MB"``, ``"4GiB"``): DuckDB gets
        :data:`DUCKDB_SHARE` of it and spills to ``temp_directory`` (default the system's
        temporary folder) beyond that, since its own allocations outside its limit and the Python
        process take about the rest; and DuckDB's number of threads.

    Returns
    -------
    RegistryResult
        ``claims`` (a :class:`ClaimsResult`), ``flow()``, ``exclusion_counts()`` and
        ``remark_counts()``.

    Raises
    ------
    InputError
        A missing or non-Parquet file, a missing column, duplicate procedure ids, an
        unreachable database.
    PrivacyError
        The data look identifying and ``allow_identifiers`` is False.

    Notes
    -----
    The SQL (``outcomes/sql/*.sql``) is one source in DuckDB's dialect; Spark SQL and
    PostgreSQL are generated from it by SQLGlot (:func:`outcomes.engines.transpile`). Each step
    is a scan, a hash join with a small table of codes, a per-procedure aggregate or a rank
    within a procedure, and the statistics need only the tallies ``SELECT procedure,
    <columns>, count(*) FROM endpoints GROUP BY ...``, all of them in one pass over the
    endpoints (``GROUP BY GROUPING SETS``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from outcomes import evaluate_claims, load_records
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(500, seed=4)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> procs.to_parquet(folder / "procedures.parquet"); scores.to_parquet(folder / "scores.parquet")
    >>> fast = evaluate_registry(folder / "procedures.parquet", folder / "scores.parquet")
    >>> slow = evaluate_claims(load_records(folder / "procedures.parquet", folder / "scores.parquet"))
    >>> fast.verdicts() == slow.verdicts()
    True
    """
    if engine not in _ENGINES:
        raise InputError(f"`engine` must be one of {', '.join(map(repr, _ENGINES))}; got {engine!r}.")
    d = definitions or Definitions()
    if not isinstance(d, Definitions):
        raise InputError(f"`definitions` must be an outcomes.Definitions; got {type(d).__name__}.")
    if not 0 < confidence_level < 1:
        raise InputError(f"`confidence_level` must be between 0 and 1; got {confidence_level!r}.")
    registry = resolve_claims(claims)
    if omop is not None:
        if events is not None:
            raise InputError("`events` must not be given with `omop` (the CDM's conditions and deaths are read "
                             "in the database, as load_omop reads them); got both.")
        if procedures is not None or assessments is not None:
            raise InputError("`omop` must be given instead of procedures and assessments; got both.")
        return _evaluate_omop(omop, schema=schema, settings=mapping, d=d, registry=registry,
                             confidence_level=confidence_level, allow_identifiers=allow_identifiers)
    if procedures is None:
        raise InputError("`procedures` must be given (or `omop`); got no procedures.")
    mapping = Mapping.coerce(mapping)
    if engine == "spark":
        return _evaluate_spark(procedures, assessments, connection, events=events, d=d, registry=registry,
                               mapping=mapping,
                               confidence_level=confidence_level, allow_identifiers=allow_identifiers)
    proc_files = _files(procedures, "procedures")
    ass_files = _files(assessments, "assessments") if assessments is not None else []
    ev_files = _files(events, "events") if events is not None else []
    duck_limit = None if memory_limit is None else f"{int(size_bytes(memory_limit) * DUCKDB_SHARE)}B"
    eng = DuckDBEngine(duck_limit, threads, temp_directory)
    try:
        eng.read_parquet("proc_raw", proc_files, _FILE_BITS)
        names = {"procedures": ", ".join(Path(f).name for f in proc_files)}
        hashes = {"procedures": ",".join(_sha256(f) for f in proc_files)}
        if ass_files:
            eng.read_parquet("ass_raw", ass_files, _FILE_BITS)
            names["assessments"] = ", ".join(Path(f).name for f in ass_files)
            hashes["assessments"] = ",".join(_sha256(f) for f in ass_files)
        else:
            _wide_in_procedures(eng, names)
        if ev_files:
            eng.read_parquet("ev_raw", ev_files, _FILE_BITS)
            names["events"] = ", ".join(Path(f).name for f in ev_files)
            hashes["events"] = ",".join(_sha256(f) for f in ev_files)
        return _evaluate_sql(eng, names, d=d, registry=registry, mapping=mapping, confidence_level=confidence_level,
                             allow_identifiers=allow_identifiers, input_hashes=hashes)
    finally:
        eng.close()


# ---- inputs ------------------------------------------------------------------------------------

def _files(source: Any, role: str) -> list[str]:
    """The Parquet files of one table: a path, a glob or a list of paths (checked to exist)."""
    items = list(source) if isinstance(source, (list, tuple)) else [source]
    if not items or not all(isinstance(i, (str, os.PathLike)) for i in items):
        raise InputError(f"`{role}` must be a path, a glob or a list of paths to Parquet files; got {source!r}.")
    files: list[str] = []
    for item in items:
        text = os.fspath(item)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        if not matches:
            raise InputError(f"{role.capitalize()} files {Path(text).name} were not found (no file matches the pattern).")
        for name in matches:
            path = Path(name)
            if not path.is_file():
                raise InputError(f"{role.capitalize()} file {path.name} was not found "
                                 f"(looked for {path.name} in {path.parent.name or '.'}/).")
            if path.suffix.lower() not in (".parquet", ".pq"):
                raise InputError(f"{role.capitalize()} file {path.name} must be .parquet for the registry engine; "
                                 f"got {path.suffix or 'no extension'!r}. Convert it, or use load_records.")
            files.append(str(path))
    return files


# The assessments of a procedures file with wide pain columns and no assessments file (as load_records names them).
_WIDE_IN_PROCEDURES = " (wide pain columns)"


def _wide_in_procedures(eng: Any, names: dict[str, str]) -> None:
    """No assessments table: the procedures table is read for its wide pain columns (as
    load_records reads a wide export given alone)."""
    eng.view("ass_raw", "SELECT * FROM proc_raw")
    names["assessments"] = names["procedures"] + _WIDE_IN_PROCEDURES


def _sha256(path: str) -> str:
    """The file's SHA-256, as load_records stamps its inputs."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


_TABLE_NAME = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}")


def _evaluate_spark(procedures: Any, assessments: Any, connection: Any, *, events: Any = None,
                    **options: Any) -> RegistryResult:
    """Parquet files, or Spark tables named by a string that is not a file, evaluated in Spark."""
    def is_table(source: Any) -> bool:
        return (isinstance(source, str) and not glob.has_magic(source) and not Path(source).exists()
                and _TABLE_NAME.fullmatch(source) is not None and not source.lower().endswith((".parquet", ".pq")))

    eng = SparkEngine(connection)
    try:
        names, hashes = {}, {}
        inputs = [("proc_raw", procedures, "procedures")]
        if assessments is not None:
            inputs.append(("ass_raw", assessments, "assessments"))
        if events is not None:
            inputs.append(("ev_raw", events, "events"))
        for view, source, role in inputs:
            if is_table(source):
                eng.table(view, source)
                names[role] = source
            else:
                files = _files(source, role)
                eng.read_parquet(view, files, _FILE_BITS)
                names[role] = ", ".join(Path(f).name for f in files)
                hashes[role] = ",".join(_sha256(f) for f in files)
        if assessments is None:
            _wide_in_procedures(eng, names)
        return _evaluate_sql(eng, names, input_hashes=hashes, **options)
    finally:
        eng.close()


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _frame(table: Any) -> pd.DataFrame:
    """An engine's Arrow result as pandas with the dtypes of the pandas path: booleans and text
    nullable."""
    import pyarrow as pa

    mapper = {pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}
    return table.to_pandas(types_mapper=mapper.get)


# ---- privacy -----------------------------------------------------------------------------------

def _privacy(eng: Any, view: str, schema: list[tuple[str, str]], source: str, allow: bool) -> str | None:
    """privacy.find_identifiers in SQL: column names, text values and ages over 89, in the same
    order and with the same first rows.

    The engine returns the distinct values of each text column that some rule could find, all
    text columns in one query; :func:`outcomes.privacy.value_masks` then reads them exactly as
    find_identifiers does. DuckDB narrows them with the rules' own RE2 prefilter (``GATE``, and
    any non-ASCII value, which privacy normalises first, found by comparing bytes and
    characters); Spark and PostgreSQL, whose regular expressions are not RE2, hand over every
    distinct value.
    """
    names = [(name, name.strip(), kind) for name, kind in schema]
    findings: list[PrivacyFinding] = name_findings([clean for _, clean, _ in names])
    mask = (1 << _FILE_BITS) - 1
    texts = [(k, name, clean) for k, (name, clean, kind) in enumerate(names) if kind.upper() == "VARCHAR"]
    parts = []
    repeated = _repeated_columns(eng, view, [name for _, name, _ in texts])
    for k, name, clean in texts:
        column = _quote(name)
        # non-ASCII text (more bytes than characters in UTF-8) without a second regular
        # expression: each regexp_matches call costs DuckDB about 80 ns a value, whatever the
        # pattern, so a cheaper pattern for "plain ids" saves nothing (and "123-45-6789" or
        # "Hauptweg12" are plain ids the rules find); 7.5M scores' ids: 1.05 s -> 0.58 s CPU
        needed = ("TRUE" if eng.dialect != "duckdb" or is_bare_name(clean) else
                  f"strlen(v) <> length(v) OR regexp_matches(v, {_literal(GATE)})")
        if name in repeated:  # the pattern once per distinct value: 7.5M scores' ids 0.62 -> 0.41 s CPU
            # no "IS NOT NULL" here: with it DuckDB pushes the whole filter, pattern included, below
            # the GROUP BY and runs the pattern on every row (10M registry: 5.7 s against 2.2 s);
            # a missing value fails the pattern, or is dropped below
            parts.append(f"SELECT {k} AS c, v FROM (SELECT {column} AS v FROM {view} GROUP BY {column}) AS d "
                         f"WHERE {needed}")
        else:  # (nearly) every value distinct: the pattern on each row is cheaper than grouping first
            parts.append(f"SELECT {k} AS c, v FROM (SELECT {column} AS v FROM {view} WHERE {column} IS NOT NULL) "
                         f"AS d WHERE {needed} GROUP BY v")
    candidates = _frame(eng.arrow(" UNION ALL ".join(parts))) if parts else pd.DataFrame({"c": [], "v": []})
    candidates = candidates[candidates["v"].notna()]
    for k, name, clean in texts:
        column = _quote(name)
        values = candidates.loc[candidates["c"] == k, "v"].astype(str).reset_index(drop=True)
        if values.empty:
            continue
        for category, reason, hits in value_masks(clean, values.tolist(), limit=None):
            eng.register("_privacy_hits", _to_arrow(pd.DataFrame({"v": values[hits].astype(object)})),
                         {"v": "VARCHAR"})
            orders = [r[0] for r in eng.rows(
                f"SELECT s._order FROM {view} AS s JOIN _privacy_hits AS h ON s.{column} = h.v "
                "ORDER BY s._order LIMIT 3")]
            findings.append(PrivacyFinding(clean, reason, tuple(int(o & mask) + 2 for o in orders), category))
    for name, clean, kind in names:
        if not is_age_column(clean):
            continue
        value, _ = number_sql("age", {"age": (name, kind)}, ref=_quote(name))
        found = eng.rows(f"SELECT _order, {value} FROM {view} WHERE {value} > 90 ORDER BY _order LIMIT 3")
        if found:
            findings.append(PrivacyFinding(clean, age_reason(found[0][1]), tuple(int(o & mask) + 2 for o, _ in found),
                                           "C"))
    return report_findings(findings, source=source, allow_identifiers=allow, stacklevel=5)


def _repeated_columns(eng: Any, view: str, names: list[str], sample: int = 100_000) -> set[str]:
    """The text columns whose values repeat (fewer distinct values than half the rows among the
    first ``sample`` rows): DuckDB then groups before matching the privacy pattern. Only the speed
    depends on it; the other engines match every distinct value anyway."""
    if eng.dialect != "duckdb" or not names:
        return set()
    counts = eng.rows(f"SELECT count(*), {', '.join(f'approx_count_distinct({_quote(n)})' for n in names)} "
                      f"FROM (SELECT * FROM {view} LIMIT {sample}) AS s")[0]
    return {n for n, distinct in zip(names, counts[1:]) if 2 * int(distinct) < int(counts[0])}


# ---- canonical columns ------------------------------------------------------------------------

def _canonical(schema: list[tuple[str, str]], role: str, mapping: Mapping) -> dict[str, tuple[str, str]]:
    """Canonical column -> (column in the file, its DuckDB type), after the mapping's renames."""
    clean = [name.strip() for name, _ in schema]
    renamed = mapping.rename(pd.DataFrame(columns=clean), role).columns
    found: dict[str, tuple[str, str]] = {}
    for (name, kind), new in zip(schema, renamed):
        found.setdefault(str(new), (name, kind))
    return found


# ---- the engine --------------------------------------------------------------------------------

def _evaluate_sql(eng: Any, names: dict[str, str], *, d: Definitions, registry: tuple[Claim, ...], mapping: Mapping,
                  confidence_level: float, allow_identifiers: bool, input_hashes: dict[str, str],
                  extra_flow: list[tuple[str, int, int]] | None = None) -> RegistryResult:
    """The claims from the views proc_raw and ass_raw (with _order and _row) of an engine."""
    warnings_ = _build(eng, names, d=d, mapping=mapping, allow_identifiers=allow_identifiers)
    flow, exclusions = _accounting(eng, d, extra_flow or [])
    if "events" in names:  # the events table's accounting, as Cohort.flow() (sql/events.sql)
        flow, exclusions = _event_accounting(eng, flow, exclusions)
    # the checked scores are counted: the endpoints read endpoint_post from here on, and a 10M
    # registry's 75M checked scores (2.5 GB) would otherwise stay in memory or spill
    eng.drop("ass_checked")
    columns = {c for c, _ in eng.columns("endpoints")}
    # the tallies of every claim in one pass over the endpoints (GROUPING SETS); a claim whose
    # tallies that pass could not give asks for its own (one claim never takes the others down)
    tallied = _tally_sets(eng, [_tally_key(claim, columns) for claim in registry])

    def frame_for(claim: Claim) -> pd.DataFrame:
        # claims that read the same columns share one tally
        key = _tally_key(claim, columns)
        if key not in tallied:
            tallied[key] = _tallies(eng, key)
        return tallied[key].copy()

    result = evaluate_claim_frames(frame_for, registry, d, confidence_level)
    return RegistryResult(claims=result, flow_table=flow, exclusion_table=exclusions, engine=eng.dialect,
                          sources=names, input_hashes=input_hashes, privacy_warnings=warnings_,
                          remark_table=_remark_counts(eng, has_events="events" in names))


def _build(eng: Any, names: dict[str, str], *, d: Definitions, mapping: Mapping,
           allow_identifiers: bool) -> tuple[str, ...]:
    """Run the SQL up to the endpoints table; returns the privacy warnings."""
    proc_name, ass_name = names["procedures"], names["assessments"]
    # the wide pain columns of the procedures table, without an assessments table
    alone = ass_name == proc_name + _WIDE_IN_PROCEDURES
    proc_schema, ass_schema = eng.columns("proc_raw"), eng.columns("ass_raw")
    proc_schema = [(c, t) for c, t in proc_schema if c not in ("_order", "_row")]
    ass_schema = [(c, t) for c, t in ass_schema if c not in ("_order", "_row")]
    warnings_ = [_privacy(eng, "proc_raw", proc_schema, proc_name, allow_identifiers)]
    if not alone:
        warnings_.append(_privacy(eng, "ass_raw", ass_schema, ass_name, allow_identifiers))

    proc_cols = _canonical(proc_schema, "procedures", mapping)
    ass_cols = _canonical(ass_schema, "procedures" if alone else "assessments", mapping)
    # a wide export (one row per procedure, pain_48h, odi_4w, ...) made long, as load_records does
    if alone or "hours_after" not in ass_cols and "assessed_at" not in ass_cols and "procedure_id" in ass_cols:
        wide = mapping.wide_columns(pd.DataFrame(columns=list(ass_cols)))
        if alone and not wide:
            raise InputError(no_scores_message(proc_name))
        if wide and "procedure_id" in ass_cols:
            ass_cols = _unpivot_wide(eng, ass_cols, wide, mapping)
    # the remarks log of the procedures (a row per value set to missing: few), not the assessments'
    # exclusion log (a row per excluded score: only its counts are needed)
    build_checked(eng, names, proc_cols, ass_cols, mapping=mapping, baseline_window_hours=d.baseline_window_hours,
                  log=("proc_remarks",))
    _endpoint_views(eng, d)
    if "events" in names:
        ev_schema = [(c, t) for c, t in eng.columns("ev_raw") if c not in ("_order", "_row")]
        warnings_.append(_privacy(eng, "ev_raw", ev_schema, names["events"], allow_identifiers))
    _safety_endpoints(eng, names, proc_cols, d=d, mapping=mapping)
    _function_tables(eng, ass_cols, d=d, mapping=mapping, hours=number_sql("hours_after", ass_cols))
    _join_endpoints(eng)
    return tuple(w for w in warnings_ if w)


# the statements of sql/endpoints.sql whose tables are read once, by the statement that makes
# `endpoints`: views, so that the 10M-row results are not written out before that statement
_VIEWS = ("endpoint_values", "endpoint_rows")


def _endpoint_views(eng: Any, d: Definitions) -> None:
    """sql/endpoints.sql: ``endpoint_base`` and ``endpoint_post`` as tables (each read more than
    once), ``endpoint_values`` and ``endpoint_rows`` as views."""
    create_thresholds(eng, d)
    for statement in endpoint_statements(d):
        made = created_table(statement)
        if made is not None and made[0] in _VIEWS:
            eng.view(*made)
        else:
            eng.create(statement)


def _join_endpoints(eng: Any) -> None:
    """``endpoints``: the endpoint rows with the safety and function endpoints beside them, joined on
    the procedure's ``_order``, as a view: the tallies read it once, in one pass
    (:func:`_tally_sets`), so the 10M-row wide table is never written out (writing it cost as
    much as computing it, and at 10M it spilled to disk)."""
    pain = ", ".join(f"e.{_quote(c)}" for c, _ in eng.columns("endpoint_rows") if c != "pid")
    safety = ", ".join(f"s.{c}" for c in SAFETY_COLUMNS)
    function = ", ".join(f"f.{c}" for c in FUNCTION_ENDPOINT_COLUMNS)
    eng.view("endpoints", f"SELECT {pain}, {safety}, {function} FROM endpoint_rows AS e "
                          "LEFT JOIN safety AS s ON s._order = e.pid LEFT JOIN fn_endpoints AS f ON f.pid = e.pid")


def _unpivot_wide(eng: Any, ass_cols: dict[str, tuple[str, str]], wide: dict[Any, float],
                  mapping: Mapping) -> dict[str, tuple[str, str]]:
    """The wide columns of ass_raw as long rows (:func:`outcomes.wide.unpivot_sql`, the query
    load_records runs too); ``ass_raw`` then names the long table; returns its columns."""
    query, long = unpivot_sql("ass_raw", ass_cols, wide, mapping)
    eng.create(f"CREATE OR REPLACE TEMP TABLE ass_long AS {query}")
    eng.view("ass_raw", "SELECT * FROM ass_long")
    return long


def _safety_endpoints(eng: Any, names: dict[str, str], proc_cols: dict[str, tuple[str, str]], *, d: Definitions,
                      mapping: Mapping) -> None:
    """sql/events.sql and sql/safety.sql (outcomes.safety.build_safety): the table ``safety``,
    joined onto the endpoints by :func:`_join_endpoints`."""
    has_events = "events" in names
    if has_events:
        ev_schema = [(c, t) for c, t in eng.columns("ev_raw") if c not in ("_order", "_row")]
        ev_cols = _canonical(ev_schema, "events", mapping)
        if "procedure_id" not in ev_cols or "event" not in ev_cols or not {"days_after", "event_date"} & set(ev_cols):
            raise InputError(f"{names['events']} must have the columns 'procedure_id', 'event' and 'days_after' (or "
                             f"'event_date'); found columns {column_list(list(ev_cols))}.")
        parts = ["_order", "_row"] + [
            f"CAST({_quote(ev_cols[c][0])} AS VARCHAR) AS {c}" if c in ev_cols else f"CAST(NULL AS VARCHAR) AS {c}"
            for c in EVENT_COLUMNS]
        eng.view("events_src", f"SELECT {', '.join(parts)} FROM ev_raw")
    else:
        types = {"_order": "BIGINT", "_row": "BIGINT", **{c: "VARCHAR" for c in EVENT_COLUMNS}}
        eng.register("events_src", _to_arrow(pd.DataFrame({c: pd.Series([], dtype="int64" if t == "BIGINT" else object)
                                                           for c, t in types.items()})), types)
    kind = proc_cols.get("last_contact_days", ("", "VARCHAR"))[1]
    build_safety(eng, definitions=d, mapping=mapping, has_events=has_events,
                 followed=follow_up_read(proc_cols, has_events=has_events),
                 last_contact_days=number_sql("last_contact_days", {"last_contact_days": ("", kind)},
                                              ref="s.last_contact_days"),
                 last_contact_date="CAST(s.last_contact_date AS VARCHAR)",
                 last_contact_days_raw="s.last_contact_days")


def _event_accounting(eng: Any, flow: pd.DataFrame, exclusions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the events table read, excluded and analysed, and its exclusions by reason."""
    read, excluded = eng.rows("SELECT count(*), count(_reason) FROM events_checked")[0]
    flow = pd.concat([flow, pd.DataFrame([{"table": "events", "read": int(read), "excluded": int(excluded),
                                           "analysed": int(read - excluded)}])], ignore_index=True)
    reasons = eng.rows("SELECT _reason, count(*), min(_rule) FROM events_checked WHERE _reason IS NOT NULL "
                       "GROUP BY _reason")
    if reasons:
        rows = pd.DataFrame([{"table": "events", "reason": r, "rows": int(n)} for r, n, _ in sorted(reasons, key=lambda x: x[2])])
        exclusions = pd.concat([exclusions, rows], ignore_index=True) if len(exclusions) else rows
        exclusions = exclusions.sort_values(["table", "rows"], ascending=[False, False], kind="stable")
    return flow, exclusions.reset_index(drop=True)


def _function_tables(eng: Any, ass_cols: dict, *, d: Definitions, mapping: Mapping, hours: tuple[str, str]) -> None:
    """Function scores (ODI, RMDQ, EQ-5D VAS) by sql/function.sql and sql/function_endpoints.sql
    (outcomes.function): the table ``fn_endpoints``, joined onto the endpoints by
    :func:`_join_endpoints`."""
    raw = (eng.arrow("SELECT DISTINCT instrument AS raw FROM ass_src WHERE instrument IS NOT NULL")
           .column("raw").to_pandas() if "instrument" in ass_cols else pd.Series([], dtype=object))
    found = register_function_labels(eng, raw, ass_cols["instrument"][1] if "instrument" in ass_cols else "VARCHAR",
                                     mapping)
    # no function label: no rows, said so that the engine reads neither the scores nor the
    # procedures for them (a 10M registry's fn_checked took 1.3 s to find none)
    eng.view("fn_src", "SELECT s._order, s.procedure_id, s.hours_after, s.pain, s.score, s.instrument, "
                       "false AS undated FROM ass_src AS s JOIN _map_function AS m ON s.instrument = m.raw "
                       f"WHERE m.instrument IS NOT NULL AND {'TRUE' if found else 'FALSE'}")
    score_value, score_present = number_sql("score" if "score" in ass_cols else "pain", ass_cols)
    run_function_sql(eng, score_value=score_value, score_present=score_present, hours_value=hours[0],
                     hours_present=hours[1], definitions=d)


def _endpoints_frame(procedures: Source, assessments: Source, *, definitions: Definitions | None = None,
                     mapping: Mapping | None = None, events: Source | None = None) -> pd.DataFrame:
    """The SQL endpoints table itself, one row per analysed procedure (for checks against
    derive_endpoints)."""
    eng = DuckDBEngine()
    try:
        eng.read_parquet("proc_raw", _files(procedures, "procedures"), _FILE_BITS)
        eng.read_parquet("ass_raw", _files(assessments, "assessments"), _FILE_BITS)
        names = {"procedures": "procedures", "assessments": "assessments"}
        if events is not None:
            eng.read_parquet("ev_raw", _files(events, "events"), _FILE_BITS)
            names["events"] = "events"
        _build(eng, names, d=definitions or Definitions(), mapping=mapping or Mapping(), allow_identifiers=False)
        return _frame(eng.arrow("SELECT * FROM endpoints"))
    finally:
        eng.close()




def _accounting(eng: Any, d: Definitions, extra: list[tuple[str, int, int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows read/excluded/analysed per table and excluded rows by reason, as Cohort.flow() and
    Cohort.exclusion_counts()."""
    function_flow, function_reasons = function_accounting(eng, d.baseline_window_hours)
    flow = [("procedures", *eng.rows("SELECT count(*), count(_rule) FROM proc_checked")[0]),
            ("assessments", *eng.rows("SELECT count(*), count(_rule) FROM ass_checked")[0]),
            *([function_flow] if function_flow else []), *extra]
    flow_table = pd.DataFrame([{"table": t, "read": int(r), "excluded": int(e), "analysed": int(r - e)}
                               for t, r, e in flow])
    # by rule, in the order the rules are applied: equal counts keep it in exclusion_counts(), as
    # the stable sort of load_records' log
    procedures = eng.rows("SELECT _rule, min(_reason), count(*) FROM proc_checked WHERE _rule IS NOT NULL "
                          "GROUP BY _rule")
    scores = eng.rows("SELECT c._rule, min(r._reason), count(*) FROM ass_checked AS c JOIN ass_rules AS r "
                      "ON c._rule = r._rule GROUP BY c._rule")
    rows = [("procedures", r, n, (0, int(rule))) for rule, r, n in procedures]
    rows += [("assessments", r, n, (1, int(rule))) for rule, r, n in scores]
    # function scores: equal counts in the order of their first row, as load_records' log of them
    first = {int(rule): int(at) for rule, at in eng.rows(
        "SELECT _rule, min(_order) FROM fn_checked WHERE _rule IS NOT NULL GROUP BY _rule")} if function_flow else {}
    texts = function_rules(d.baseline_window_hours)
    order = {texts[rule]: at for rule, at in first.items()}
    rows += [("function_scores", r, n, (2, order.get(r, 0))) for r, n in function_reasons]
    if not rows:
        return flow_table, pd.DataFrame({"table": [], "reason": [], "rows": []})
    table = pd.DataFrame([{"table": t, "reason": r, "rows": int(n)} for t, r, n, _ in sorted(rows, key=lambda x: x[3])])
    table = table.sort_values(["table", "rows"], ascending=[False, False], kind="stable")
    return flow_table, table.reset_index(drop=True)


def _remark_counts(eng: Any, has_events: bool) -> pd.DataFrame:
    """Values set to missing (the remarks of load_records' log) by table, column and remark,
    largest first: proc_remarks (sql/procedures.sql), the follow-up of proc_followup and the
    events' remarks (sql/events.sql, outcomes.safety.EVENT_REMARKS). Ties keep the order of
    load_records' log."""
    rows = [("procedures", c, r, int(n), int(k)) for k, c, r, n in eng.rows(
        "SELECT _k, min(_column), min(_remark), count(*) FROM proc_remarks GROUP BY _k")]
    rows += [("procedures", c, r, int(n), 1000 + int(first)) for c, r, n, first in eng.rows(
        "SELECT _remark_column, _remark, count(*), min(_order) FROM proc_followup WHERE _remark IS NOT NULL "
        "GROUP BY _remark_column, _remark")]
    if has_events:
        flags = ", ".join(f"sum({flag})" for flag, _, _, _ in EVENT_REMARKS)
        counts = eng.rows(f"SELECT {flags} FROM events_checked WHERE _reason IS NULL")[0]
        rows += [("events", column, remark, int(n or 0), 2**62 + k)
                 for k, ((_, column, _, remark), n) in enumerate(zip(EVENT_REMARKS, counts))]
    rows = [r for r in rows if r[3] > 0]
    table = pd.DataFrame([{"table": t, "column": c, "remark": r, "rows": n} for t, c, r, n, _ in
                          sorted(rows, key=lambda x: x[4])], columns=["table", "column", "remark", "rows"])
    table = table.sort_values(["table", "rows"], ascending=[False, False], kind="stable")
    return table.reset_index(drop=True)


def _tally_key(claim: Claim, available: set[str]) -> tuple[str, ...]:
    """The endpoint columns a claim reads (the procedure first), those the endpoints have."""
    return tuple(c for c in dict.fromkeys(("procedure", *claim_columns(claim))) if c in available)


def _tallies(eng: Any, columns: tuple[str, ...]) -> pd.DataFrame:
    """The endpoint ``columns``, one row per distinct combination with its count."""
    listed = ", ".join(_quote(c) for c in columns)
    return _sorted(_frame(eng.arrow(f"SELECT {listed}, count(*) AS {WEIGHT} FROM endpoints GROUP BY {listed}")),
                   columns)


def _sorted(tally: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    # sorted (missing values last), so that sums over the tallies add up in the same order on
    # every run and every engine
    return tally.sort_values(list(columns), na_position="last", kind="stable").reset_index(drop=True)


def _tally_sets(eng: Any, keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], pd.DataFrame]:
    """The tallies of several sets of endpoint columns in one pass over the endpoints (GROUPING
    SETS: the endpoints table is read once, not once per set); empty when that query fails (each
    claim then asks for its own)."""
    sets = list(dict.fromkeys(k for k in keys if k))
    if len(sets) < 2:
        return {}
    union = list(dict.fromkeys(c for key in sets for c in key))
    flags = ", ".join(f"GROUPING({_quote(c)}) AS _g{k}" for k, c in enumerate(union))
    groups = ", ".join(f"({', '.join(_quote(c) for c in key)})" for key in sets)
    try:
        table = _frame(eng.arrow(f"SELECT {', '.join(_quote(c) for c in union)}, {flags}, count(*) AS {WEIGHT} "
                                 f"FROM endpoints GROUP BY GROUPING SETS ({groups})"))
    except Exception:  # noqa: BLE001 -- the claims then ask for their tallies one by one
        return {}
    # GROUPING(c) is 0 where c is one of the set's columns, 1 where it is aggregated away: each
    # row's set, as the bits of the columns aggregated away
    code = np.zeros(len(table), dtype=np.int64)
    for k in range(len(union)):
        code |= table.pop(f"_g{k}").to_numpy(dtype=np.int64) << k
    tallied = {}
    for key in sets:
        rows = np.flatnonzero(code == sum(1 << k for k, c in enumerate(union) if c not in key))
        tallied[key] = _sorted(table[[*key, WEIGHT]].take(rows), key)
    return tallied


# ---- OMOP CDM in place --------------------------------------------------------------------------

_OMOP_TABLES = ("person", "procedure_occurrence", "visit_occurrence", "provider", "condition_occurrence",
                "measurement", "observation")
# optional tables of follow-up (table -> its date column); present, they make load_omop read events
_OMOP_FOLLOW_UP = {"death": "death_date", "observation_period": "observation_period_end_date"}


def _evaluate_omop(omop: Any, *, schema: str | None, settings: Any, d: Definitions, registry: tuple[Claim, ...],
                   confidence_level: float, allow_identifiers: bool) -> RegistryResult:
    """An OMOP CDM evaluated where it lives: PostgreSQL (URL), Spark (session) or a DuckDB file."""
    from .sources import SourceSettings

    if settings is None:
        settings = SourceSettings.from_section(None, section="omop")
    if not isinstance(settings, SourceSettings):
        raise InputError("`mapping` must be an outcomes.sources.SourceSettings (or None) with `omop`; "
                         f"got {type(settings).__name__}.")
    if hasattr(omop, "sql") and hasattr(omop, "createDataFrame"):
        eng: Any = SparkEngine(omop)
        label = "Spark" + (f" database {schema}" if schema else "")
    elif isinstance(omop, (str, os.PathLike)) and str(omop).lower().startswith(("postgresql://", "postgres://")):
        eng = PostgresEngine(str(omop))
        label = eng.label
    elif isinstance(omop, (str, os.PathLike)) and Path(omop).suffix.lower() in (".duckdb", ".ddb"):
        if not Path(omop).is_file():
            raise InputError(f"`omop` must name an existing DuckDB file; got {str(omop)!r}, which does not exist.")
        eng = DuckDBEngine()
        eng.con.execute(f"ATTACH {_literal(os.fspath(omop))} AS omop_cdm (READ_ONLY)")
        label = Path(omop).name
    else:
        raise InputError("`omop` must be a postgresql:// URL, a SparkSession or a DuckDB file (.duckdb); "
                         f"got {omop!r}.")
    try:
        names = _omop_names(eng, schema)
        _omop_code_tables(eng, settings)
        window = settings.baseline_window_hours if settings.baseline_window_hours is not None \
            else d.baseline_window_hours
        fill = {**names, "merge_sessions": "true" if settings.merge_same_session else "false",
                "lookback_days": _literal(settings.fracture_lookback_days),
                "follow_up_days": _literal(settings.follow_up_days),
                "horizon_hours": _literal(settings.follow_up_days * 24.0), "window_hours": _literal(window),
                "discharge_from_hours": discharge_sql("hours"),
                "text_number": number_sql("text", {"text": ("text", "VARCHAR")}, ref="r.text")[0]}
        for statement in sql_statements(sql_text("omop").format(**fill)):
            eng.create(statement)
        counts = {t: (int(r), int(r) - int(u)) for t, r, u in eng.rows("SELECT tbl, n_read, n_used FROM _omop_flow")}
        followed = bool(eng.rows("SELECT followed FROM _omop_followed")[0][0])
        tables = ["procedure_occurrence", "person", "visit_occurrence", "condition_occurrence", "measurement",
                  "observation"]
        # as load_omop: the follow-up tables are counted when the CDM follows its persons
        tables += [t for t in _OMOP_FOLLOW_UP if followed and t in names and not names[t].startswith("_omop_no_")]
        flow = [(f"omop:{t}", *counts[f"omop:{t}"]) for t in tables]
        sources = {"procedures": f"OMOP {label} (procedure_occurrence)",
                   "assessments": f"OMOP {label} (measurement, observation: pain scores)"}
        if followed:  # the events table of load_omop, made in the database (sql/omop.sql)
            sources["events"] = f"OMOP {label} (condition_occurrence, death)"
        result = _evaluate_sql(eng, sources, d=d, registry=registry, mapping=Mapping(),
                               confidence_level=confidence_level, allow_identifiers=allow_identifiers,
                               input_hashes={}, extra_flow=flow)
        return _omop_accounting(eng, result)
    finally:
        eng.close()


def _omop_accounting(eng: Any, result: RegistryResult) -> RegistryResult:
    """The flow in load_omop's order (the canonical tables, then the CDM's), and the CDM records
    left out by reason (sql/omop.sql's _omop_left_out, in the words of load_omop)."""
    from .sources.omop import LEFT_OUT

    flow = result.flow_table
    is_cdm = flow["table"].astype(str).str.startswith("omop:")
    flow = pd.concat([flow[~is_cdm], flow[is_cdm]], ignore_index=True)
    shown = set(flow["table"])
    rows = sorted(eng.rows("SELECT tbl, reason, n_rows, k FROM _omop_left_out"), key=lambda r: (str(r[0]), int(r[3])))
    left_out = pd.DataFrame([{"table": t, "reason": LEFT_OUT[r], "rows": int(n)} for t, r, n, _ in rows
                             if t in shown and int(n) > 0], columns=["table", "reason", "rows"])
    exclusions = result.exclusion_table
    if len(left_out):
        exclusions = pd.concat([exclusions, left_out], ignore_index=True) if len(exclusions) else left_out
        exclusions = exclusions.sort_values(["table", "rows"], ascending=[False, False], kind="stable")
    return dataclasses.replace(result, flow_table=flow, exclusion_table=exclusions.reset_index(drop=True))


def _omop_names(eng: Any, schema: str | None) -> dict[str, str]:
    """The CDM tables as the SQL names them (checked to exist); concept may be absent."""
    if schema is not None and not (isinstance(schema, str) and _TABLE_NAME.fullmatch(schema)):
        raise InputError(f"`schema` must be a schema name (letters, digits, underscores); got {schema!r}.")
    if eng.dialect == "duckdb":
        prefix = f"omop_cdm.{schema or 'main'}."
    else:
        prefix = f"{schema}." if schema else ""
    names: dict[str, str] = {}
    missing = []
    for table in (*_OMOP_TABLES, "concept", *_OMOP_FOLLOW_UP):
        name = prefix + table
        try:
            eng.columns(name)
        except Exception:  # noqa: BLE001 -- each engine raises its own "no such table"
            missing.append(table)
            continue
        names[table] = name
    if "concept" in missing:
        missing.remove("concept")
        eng.register("_omop_no_concept", _to_arrow(pd.DataFrame({"concept_id": pd.Series([], dtype="int64"),
                                                                 "vocabulary_id": pd.Series([], dtype=object),
                                                                 "concept_code": pd.Series([], dtype=object)})),
                     {"concept_id": "BIGINT", "vocabulary_id": "VARCHAR", "concept_code": "VARCHAR"})
        names["concept"] = "_omop_no_concept"
    for table, column in _OMOP_FOLLOW_UP.items():  # optional: without them no events are read
        if table in missing:
            missing.remove(table)
            names[table] = f"_omop_no_{table}"
            eng.register(names[table], _to_arrow(pd.DataFrame({"person_id": pd.Series([], dtype="int64"),
                                                               column: pd.Series([], dtype=object)})),
                         {"person_id": "BIGINT", column: "DATE"})
    if missing:
        raise InputError(f"OMOP database must have the CDM table{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                         f"not found{' in schema ' + repr(schema) if schema else ''}. Pass schema= to name the CDM schema.")
    return names


def _omop_code_tables(eng: Any, settings: Any) -> None:
    """The codes of SourceSettings as small tables: procedure, pain, field and answer codes;
    fracture and complication prefixes; visit kinds."""
    from .sources import OMOP_VOCABULARY
    from .sources.omop import CONDITION_SYSTEM

    rows = []

    def add(what: str, system: str | None, code: str, label: Any, addon: bool = False, number: float = np.nan) -> None:
        own = system == "omop"
        rows.append({"what": what, "code": None if own else code.strip().upper(), "pattern": None if own else code,
                     "vocabulary": OMOP_VOCABULARY.get(system) if system else None,
                     "concept_id": int(code) if own and code.isdigit() else None, "label": label, "addon": addon,
                     "number": number, "pos": len(rows)})

    for system, code, kind, addon in settings.procedure_code_rows():
        add("procedure", system, code, kind, addon)
    for system, code, instrument in settings.code_rows(settings.pain):
        add("pain", system, code, instrument)
    for name, codes in settings.fields.items():
        for c in codes:
            for system in c.systems or (None,):
                add("field", system, c.code, name)
    for system, code, value in settings.code_rows(settings.pain_answers):
        add("answer", system, code, None, number=float(value))
    for system, code, instrument in settings.code_rows(settings.function):  # ODI, RMDQ, EQ-5D VAS
        add("function", system, code, instrument)
    frame = pd.DataFrame(rows).astype({"concept_id": "Int64", "label": object})
    eng.register("_omop_codes", _to_arrow(frame), {
        "what": "VARCHAR", "code": "VARCHAR", "pattern": "VARCHAR", "vocabulary": "VARCHAR", "concept_id": "BIGINT",
        "label": "VARCHAR", "addon": "BOOLEAN", "number": "DOUBLE", "pos": "INTEGER"})
    conditions = [{"prefix": re.sub(r"[.\s]", "", c.code).upper(), "etiology": label, "fracture": True,
                   "event_only": False} for c, label in settings.fracture_conditions]
    conditions += [{"prefix": re.sub(r"[.\s]", "", c.code).upper(), "etiology": None, "fracture": False,
                    "event_only": False} for c in settings.complication_conditions]
    # read too when the CDM follows its persons (load_omop's event codes)
    conditions += [{"prefix": re.sub(r"[.\s]", "", c.code).upper(), "etiology": None, "fracture": False,
                    "event_only": True}
                   for c in (*settings.new_fracture_conditions, *(c for c, _ in settings.complication_events))]
    frame = pd.DataFrame(conditions).assign(pos=lambda f: np.arange(len(f)))
    eng.register("_omop_conditions", _to_arrow(frame.astype({"etiology": object})),
                 {"prefix": "VARCHAR", "etiology": "VARCHAR", "fracture": "BOOLEAN", "event_only": "BOOLEAN",
                  "pos": "INTEGER"})
    # the adverse event of a condition (condition_source_value read in load_omop's code system)
    rules = [{"prefix": re.sub(r"[.\s]", "", c.code).upper(), "event": event, "severity": severity, "rank": rank,
              "pos": k} for k, (c, event, severity, rank) in enumerate(settings.condition_event_rules(CONDITION_SYSTEM))]
    frame = pd.DataFrame(rules, columns=["prefix", "event", "severity", "rank", "pos"])
    eng.register("_omop_event_codes", _to_arrow(frame.astype({"prefix": object, "event": object, "severity": object})),
                 {"prefix": "VARCHAR", "event": "VARCHAR", "severity": "VARCHAR", "rank": "INTEGER", "pos": "INTEGER"})
    kinds = pd.DataFrame({"concept_id": [int(k) for k in settings.visit_concepts if str(k).isdigit()],
                          "kind": [v for k, v in settings.visit_concepts.items() if str(k).isdigit()]})
    eng.register("_omop_visit_kinds", _to_arrow(kinds), {"concept_id": "BIGINT", "kind": "VARCHAR"})
