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
- ``engine="pandas"``: the ordinary in-memory pipeline on the same files.

How each value is read follows the pandas path exactly where it matters: the coded columns
(procedure, sex, discharge, complication, etiology, physician, site, instrument) and the dates are
read once per *distinct* raw value by the pandas validation itself and pushed back as small
``(raw, value)`` tables, and the relief threshold of each distinct baseline comes from
:meth:`Definitions.relief_threshold`. What SQL does itself: trimming ids (the whitespace of
Python's ``str.strip``), numbers (``TRY_CAST``; numbers written as text in unusual formats may
parse differently from ``pandas.to_numeric``), ranges, the exclusion rules in order, and the
per-procedure aggregates of the endpoints.

Not supported by the SQL engines (use ``engine="pandas"``): wide exports (one row per procedure
with pain columns), ``assessed_at`` timestamps instead of ``hours_after``, and the remarks log
(optional values set to missing are counted in the pandas path only).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .claims import Claim, ClaimsResult, _evaluate, _reads, evaluate_claims, resolve_claims
from .definitions import Definitions
from .engines import DuckDBEngine, PostgresEngine, SparkEngine
from .engines import literal as _literal
from .exceptions import InputError
from .loading import load_records
from .mapping import ASSESSMENT_COLUMNS, INSTRUMENT_SCALE, PROCEDURE_COLUMNS, Mapping
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
from .validation import (
    PROCEDURE_REQUIRED,
    _OVERNIGHT_MAX_HOURS,
    _SAME_DAY_MAX_HOURS,
    _column_list,
    _dates,
    _first_rows,
    _instrument_values,
    _require,
    _text_codes,
    validate_procedures,
)

__all__ = ["RegistryResult", "evaluate_registry"]

Engine = Literal["duckdb", "spark", "pandas"]
_ENGINES = ("duckdb", "spark", "pandas")
_FILE_BITS = 40  # _order = file index * 2**40 + row number in the file
# Coded procedure columns read once per distinct raw value by validate_procedures itself.
_CODED = ("procedure", "etiology", "sex", "discharge", "complication", "physician_id", "site_id")
_NUMBERS = {  # column: (low, high, whole), as validation.validate_procedures
    "baseline_pain": (0, 10, False), "levels_treated": (1, 20, True), "age": (0, 90, False),
    "asa_class": (1, 6, True), "length_of_stay_hours": (0, np.inf, False),
    "height_restoration_pct": (-100, 100, False), "kyphotic_angle_change_deg": (-90, 90, False),
}
_NUMERIC_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN"}
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
        "duckdb", "spark", "postgres" or "pandas".
    sources, input_hashes : dict
        The name and SHA-256 of each input file.
    privacy_warnings : tuple of str
        Present when identifiers were allowed through on request.
    """

    claims: ClaimsResult
    flow_table: pd.DataFrame
    exclusion_table: pd.DataFrame
    engine: str
    sources: dict[str, str] = field(default_factory=dict)
    input_hashes: dict[str, str] = field(default_factory=dict)
    privacy_warnings: tuple[str, ...] = ()

    def flow(self) -> pd.DataFrame:
        """Rows read, excluded and analysed per table (as :meth:`Cohort.flow`)."""
        return self.flow_table.copy()

    def exclusion_counts(self) -> pd.DataFrame:
        """Excluded rows by table and reason, largest first (as :meth:`Cohort.exclusion_counts`)."""
        return self.exclusion_table.copy()

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
        Parquet files in the long form of the data contract (one row per procedure; one row per
        pain score with ``hours_after``); several files per table (a glob such as
        ``"scores/*.parquet"`` or a list) are read in the order given. With ``engine="spark"``
        a name that is not a file is read as a Spark table (``"registry.procedures"``).
    definitions : Definitions, optional
        Defaults to ``Definitions()``.
    claims : path to a TOML file, or a sequence of Claim, optional
        As :func:`outcomes.evaluate_claims`.
    engine : {"duckdb", "spark", "pandas"}, default "duckdb"
        "duckdb": SQL over the files in process, only tallies in memory (larger than memory).
        "spark": the same SQL (Spark dialect) in Apache Spark.
        "pandas": :func:`outcomes.load_records` then :func:`outcomes.evaluate_claims`.
    connection : pyspark.sql.SparkSession, optional
        The session for ``engine="spark"``; a local one (``local[2]``, no web UI) is started and
        stopped when none is given.
    omop : str, path or SparkSession, optional
        Instead of files: an OMOP CDM v5.4 database evaluated in place -- a PostgreSQL URL
        (``postgresql://user:password@host/db``, psycopg 3), a ``SparkSession`` whose catalog
        holds the CDM tables, or a DuckDB file. The records :func:`outcomes.load_omop` selects
        become the canonical tables inside the database.
    schema : str, optional
        The CDM schema (PostgreSQL, DuckDB) or database (Spark) of ``omop``.
    mapping : Mapping, path to a TOML file, or SourceSettings, optional
        Column renames and extra codes, as :func:`outcomes.load_records`; with ``omop``, an
        :class:`outcomes.sources.SourceSettings` (default: the built-in OMOP codes).
    confidence_level : float, default 0.95
    allow_identifiers : bool, default False
        Go on even if the data look identifying (the warning travels with the result).
    memory_limit, threads, temp_directory : optional
        DuckDB's ``memory_limit`` (e.g. ``"4GB"``; beyond it DuckDB spills to
        ``temp_directory``, default the system's temporary folder) and number of threads.

    Returns
    -------
    RegistryResult
        ``claims`` (a :class:`ClaimsResult`), ``flow()`` and ``exclusion_counts()``.

    Raises
    ------
    InputError
        A missing or non-Parquet file, a missing column, duplicate procedure ids, an input the
        SQL engines do not read (wide exports, ``assessed_at``), an unreachable database.
    PrivacyError
        The data look identifying and ``allow_identifiers`` is False.

    Notes
    -----
    The SQL (``outcomes/sql/*.sql``) is one source in DuckDB's dialect; Spark SQL and
    PostgreSQL are generated from it by SQLGlot (:func:`outcomes.engines.transpile`). Each step
    is a scan, a hash join with a small table of codes, a per-procedure aggregate or a rank
    within a procedure, and the statistics need only the tallies ``SELECT procedure,
    <columns>, count(*) FROM endpoints GROUP BY ...``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(500, seed=4)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> procs.to_parquet(folder / "procedures.parquet"); scores.to_parquet(folder / "scores.parquet")
    >>> fast = evaluate_registry(folder / "procedures.parquet", folder / "scores.parquet")
    >>> slow = evaluate_registry(folder / "procedures.parquet", folder / "scores.parquet", engine="pandas")
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
        if procedures is not None or assessments is not None:
            raise InputError("`omop` must be given instead of procedures and assessments; got both.")
        return _evaluate_omop(omop, schema=schema, settings=mapping, d=d, registry=registry,
                             confidence_level=confidence_level, allow_identifiers=allow_identifiers)
    if procedures is None or assessments is None:
        raise InputError("`procedures` and `assessments` must both be given (or `omop`); got "
                         f"{'no procedures' if procedures is None else 'no assessments'}.")
    mapping = Mapping.coerce(mapping)
    if engine == "spark":
        return _evaluate_spark(procedures, assessments, connection, d=d, registry=registry, mapping=mapping,
                               confidence_level=confidence_level, allow_identifiers=allow_identifiers)
    proc_files = _files(procedures, "procedures")
    ass_files = _files(assessments, "assessments")
    if engine == "pandas":
        if len(proc_files) > 1 or len(ass_files) > 1:
            raise InputError("`engine` 'pandas' must be given one file per table; got several. "
                             "Use engine='duckdb' for a folder of files.")
        cohort = load_records(proc_files[0], ass_files[0], mapping=mapping, definitions=d,
                              allow_identifiers=allow_identifiers)
        result = evaluate_claims(cohort, d, registry, confidence_level=confidence_level)
        return RegistryResult(claims=result, flow_table=cohort.flow(), exclusion_table=cohort.exclusion_counts(),
                              engine="pandas", sources=dict(cohort.sources), input_hashes=dict(cohort.input_hashes),
                              privacy_warnings=cohort.privacy_warnings)
    eng = DuckDBEngine(memory_limit, threads, temp_directory)
    try:
        eng.read_parquet("proc_raw", proc_files, _FILE_BITS)
        eng.read_parquet("ass_raw", ass_files, _FILE_BITS)
        names = {"procedures": ", ".join(Path(f).name for f in proc_files),
                 "assessments": ", ".join(Path(f).name for f in ass_files)}
        return _evaluate_sql(eng, names, d=d, registry=registry, mapping=mapping, confidence_level=confidence_level,
                             allow_identifiers=allow_identifiers,
                             input_hashes={"procedures": ",".join(_sha256(f) for f in proc_files),
                                           "assessments": ",".join(_sha256(f) for f in ass_files)})
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


def _sha256(path: str) -> str:
    """The file's SHA-256, as load_records stamps its inputs."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


_TABLE_NAME = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}")


def _evaluate_spark(procedures: Any, assessments: Any, connection: Any, **options: Any) -> RegistryResult:
    """Parquet files, or Spark tables named by a string that is not a file, evaluated in Spark."""
    def is_table(source: Any) -> bool:
        return (isinstance(source, str) and not glob.has_magic(source) and not Path(source).exists()
                and _TABLE_NAME.fullmatch(source) is not None and not source.lower().endswith((".parquet", ".pq")))

    eng = SparkEngine(connection)
    try:
        names, hashes = {}, {}
        for view, source, role in (("proc_raw", procedures, "procedures"), ("ass_raw", assessments, "assessments")):
            if is_table(source):
                eng.table(view, source)
                names[role] = source
            else:
                files = _files(source, role)
                eng.read_parquet(view, files, _FILE_BITS)
                names[role] = ", ".join(Path(f).name for f in files)
                hashes[role] = ",".join(_sha256(f) for f in files)
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
    any non-ASCII value, which privacy normalises first); Spark and PostgreSQL, whose regular
    expressions are not RE2, hand over every distinct value.
    """
    names = [(name, name.strip(), kind) for name, kind in schema]
    findings: list[PrivacyFinding] = name_findings([clean for _, clean, _ in names])
    mask = (1 << _FILE_BITS) - 1
    texts = [(k, name, clean) for k, (name, clean, kind) in enumerate(names) if kind.upper() == "VARCHAR"]
    parts = []
    for k, name, clean in texts:
        column = _quote(name)
        needed = ("TRUE" if eng.dialect != "duckdb" or is_bare_name(clean) else
                  f"regexp_matches({column}, {_literal(GATE)}) OR regexp_matches({column}, '[^\\x00-\\x7f]')")
        parts.append(f"SELECT {k} AS c, {column} AS v FROM {view} WHERE {column} IS NOT NULL AND ({needed}) "
                     f"GROUP BY {column}")
    candidates = _frame(eng.arrow(" UNION ALL ".join(parts))) if parts else pd.DataFrame({"c": [], "v": []})
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
        value, _ = _number("age", {"age": (name, kind)}, ref=_quote(name))
        found = eng.rows(f"SELECT _order, {value} FROM {view} WHERE {value} > 90 ORDER BY _order LIMIT 3")
        if found:
            findings.append(PrivacyFinding(clean, age_reason(found[0][1]), tuple(int(o & mask) + 2 for o, _ in found),
                                           "C"))
    return report_findings(findings, source=source, allow_identifiers=allow, stacklevel=5)


# ---- canonical columns ------------------------------------------------------------------------

def _canonical(schema: list[tuple[str, str]], role: str, mapping: Mapping) -> dict[str, tuple[str, str]]:
    """Canonical column -> (column in the file, its DuckDB type), after the mapping's renames."""
    clean = [name.strip() for name, _ in schema]
    renamed = mapping.rename(pd.DataFrame(columns=clean), role).columns
    found: dict[str, tuple[str, str]] = {}
    for (name, kind), new in zip(schema, renamed):
        found.setdefault(str(new), (name, kind))
    return found


def _source_view(eng: Any, view: str, raw: str, columns: dict[str, tuple[str, str]], wanted: tuple[str, ...]) -> None:
    parts = ["_order", "_row"]
    for column in wanted:
        parts.append(f"{_quote(columns[column][0])} AS {column}" if column in columns else f"CAST(NULL AS VARCHAR) AS {column}")
    eng.view(view, f"SELECT {', '.join(parts)} FROM {raw}")


def _number(column: str, columns: dict[str, tuple[str, str]], ref: str | None = None) -> tuple[str, str]:
    """SQL for (the number, whether a value is present), as validation._number: text is parsed,
    blanks are missing, NaN is missing (NaN equals NaN in DuckDB, Spark and PostgreSQL)."""
    if column not in columns:
        return "CAST(NULL AS DOUBLE)", "false"
    name, kind = columns[column]
    ref = ref or f"s.{column}"
    if kind.upper() in ("VARCHAR", "BLOB"):
        text = f"NULLIF(ws_trim(CAST({ref} AS VARCHAR)), '')"
        value = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN {value} = CAST('nan' AS DOUBLE) THEN NULL ELSE {value} END", f"({text} IS NOT NULL)"
    numeric = kind.upper().split("(")[0] in _NUMERIC_TYPES
    value = f"{'CAST' if numeric else 'TRY_CAST'}({ref} AS DOUBLE)"  # PostgreSQL has no TRY_CAST
    value = f"CASE WHEN {value} = CAST('nan' AS DOUBLE) THEN NULL ELSE {value} END"
    return value, f"({value} IS NOT NULL)"


def _ranged(column: str, columns: dict[str, tuple[str, str]]) -> str:
    """A number kept only inside its range (and whole where it must be), as validate_procedures."""
    value, _ = _number(column, columns)
    low, high, whole = _NUMBERS[column]
    rule = f"{value} >= {_literal(low)} AND {value} <= {_literal(high)}"
    if whole:
        rule += f" AND {value} = floor({value})"
    return f"CASE WHEN {rule} THEN {value} END"


def _distinct(eng: Any, view: str, column: str) -> pd.Series:
    """The distinct non-missing raw values of a column, as pandas would read them."""
    table = eng.arrow(f"SELECT DISTINCT {column} AS raw FROM {view} WHERE {column} IS NOT NULL")
    return table.column("raw").to_pandas()


def _to_arrow(frame: pd.DataFrame) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)


def _register(eng: Any, name: str, raw: pd.Series, value: pd.Series, raw_type: str, value_type: str) -> None:
    frame = pd.DataFrame({"raw": raw.reset_index(drop=True), "value": pd.Series(value).reset_index(drop=True)})
    eng.register(name, _to_arrow(frame), {"raw": raw_type, "value": value_type})


def _procedure_values(raw: pd.Series, column: str, mapping: Mapping) -> pd.Series:
    """What validate_procedures makes of each distinct raw value of a coded column (missing when
    the row would be excluded: an unknown procedure type)."""
    n = len(raw)
    ids = [f"r{i}" for i in range(n)]
    frame = pd.DataFrame({"procedure_id": ids, "patient_id": "x", "procedure": "vertebroplasty",
                          "procedure_date": "2000-01-01", "_row": np.arange(n)})
    frame[column] = raw.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok, _, _ = validate_procedures(frame, source="registry values", mapping=mapping)
    return ok.set_index("procedure_id")[column].reindex(ids)


# ---- the engine --------------------------------------------------------------------------------

def _evaluate_sql(eng: Any, names: dict[str, str], *, d: Definitions, registry: tuple[Claim, ...], mapping: Mapping,
                  confidence_level: float, allow_identifiers: bool, input_hashes: dict[str, str],
                  extra_flow: list[tuple[str, int, int]] | None = None) -> RegistryResult:
    """The claims from the views proc_raw and ass_raw (with _order and _row) of an engine."""
    warnings_ = _build(eng, names, d=d, mapping=mapping, allow_identifiers=allow_identifiers)
    flow, exclusions = _accounting(eng, d, extra_flow or [])
    columns = {c for c, _ in eng.columns("endpoints")}
    tallied: dict[tuple[str, ...], pd.DataFrame] = {}

    def frame_for(claim: Claim) -> pd.DataFrame:
        # claims that read the same columns share one pass over the endpoints (a job on Spark)
        key = tuple(dict.fromkeys(c for c in _reads(claim) if c in columns))
        if key not in tallied:
            tallied[key] = _tallies(eng, claim, columns)
        return tallied[key].copy()

    result = _evaluate(frame_for, registry, d, confidence_level)
    return RegistryResult(claims=result, flow_table=flow, exclusion_table=exclusions, engine=eng.dialect,
                          sources=names, input_hashes=input_hashes, privacy_warnings=warnings_)


def _build(eng: Any, names: dict[str, str], *, d: Definitions, mapping: Mapping,
           allow_identifiers: bool) -> tuple[str, ...]:
    """Run the SQL up to the endpoints table; returns the privacy warnings."""
    proc_name, ass_name = names["procedures"], names["assessments"]
    proc_schema, ass_schema = eng.columns("proc_raw"), eng.columns("ass_raw")
    proc_schema = [(c, t) for c, t in proc_schema if c not in ("_order", "_row")]
    ass_schema = [(c, t) for c, t in ass_schema if c not in ("_order", "_row")]
    warnings_ = [_privacy(eng, "proc_raw", proc_schema, proc_name, allow_identifiers),
                 _privacy(eng, "ass_raw", ass_schema, ass_name, allow_identifiers)]

    proc_cols = _canonical(proc_schema, "procedures", mapping)
    ass_cols = _canonical(ass_schema, "assessments", mapping)
    _require(pd.DataFrame(columns=list(proc_cols)), PROCEDURE_REQUIRED, proc_name,
             "A mapping file (--mapping) can rename a clinic's own column names to these.")
    _require(pd.DataFrame(columns=list(ass_cols)), ("procedure_id", "pain"), ass_name,
             "A mapping file (--mapping) can rename a clinic's own column names; a wide export "
             "(pain_24h, vas_3mo, ...) is made long automatically.")
    if "hours_after" not in ass_cols:
        raise InputError(
            f"{ass_name} must have the column 'hours_after' for the registry engine; found columns "
            f"{_column_list(list(ass_cols))}. Timestamps (assessed_at) and wide exports are read by "
            "engine='pandas' (load_records); a mapping file (--mapping) can rename a time column."
        )
    if "assessed_at" in ass_cols:
        raise InputError(f"{ass_name} must not need 'assessed_at' for the registry engine; got the column. "
                         "Derive hours_after, or use engine='pandas'.")
    _source_view(eng, "proc_src", "proc_raw", proc_cols, PROCEDURE_COLUMNS)
    _source_view(eng, "ass_src", "ass_raw", ass_cols, ASSESSMENT_COLUMNS)

    _code_tables(eng, proc_cols, ass_cols, mapping)
    fill = {"ws_trim": "ws_trim", "same_day_max_hours": _literal(_SAME_DAY_MAX_HOURS),
            "overnight_max_hours": _literal(_OVERNIGHT_MAX_HOURS),
            "fracture_age_days": _number("fracture_age_days", proc_cols)[0]}
    fill.update({c: _ranged(c, proc_cols) for c in _NUMBERS})
    eng.create(_sql("procedures").format(**fill))
    _check_unique_ids(eng, proc_name)

    pain_value, pain_present = _number("pain", ass_cols)
    hours_value, hours_present = _number("hours_after", ass_cols)
    window = d.baseline_window_hours
    eng.create(_sql("assessments").format(
        ws_trim="ws_trim", default_scale=_literal(INSTRUMENT_SCALE.get(mapping.assessment_instrument, np.nan)),
        pain_value=pain_value, pain_present=pain_present, hours_value=hours_value,
        hours_present=hours_present, baseline_window_hours=_literal(window),
    ))

    _thresholds(eng, d)
    eng.create(_sql("endpoints").format(
        baseline_window_hours=_literal(window),
        horizon_low=_literal(d.relief_horizon_hours - d.relief_horizon_grace_hours),
        horizon_high=_literal(d.relief_horizon_evaluated_hours),
        success_target=_literal(d.success_target_hours), success_low=_literal(d.success_window_low_hours),
        success_high=_literal(d.success_window_high_hours), early_max_days=_literal(d.early_max_fracture_age_days),
    ))
    return tuple(w for w in warnings_ if w)


def _endpoints_frame(procedures: Source, assessments: Source, *, definitions: Definitions | None = None,
                     mapping: Mapping | None = None) -> pd.DataFrame:
    """The SQL endpoints table itself, one row per analysed procedure (for checks against
    derive_endpoints)."""
    eng = DuckDBEngine()
    try:
        eng.read_parquet("proc_raw", _files(procedures, "procedures"), _FILE_BITS)
        eng.read_parquet("ass_raw", _files(assessments, "assessments"), _FILE_BITS)
        _build(eng, {"procedures": "procedures", "assessments": "assessments"}, d=definitions or Definitions(),
               mapping=mapping or Mapping(), allow_identifiers=False)
        return _frame(eng.arrow("SELECT * FROM endpoints"))
    finally:
        eng.close()


def _sql(name: str) -> str:
    return (resources.files("outcomes") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def _check_unique_ids(eng: Any, source: str) -> None:
    """Duplicate procedure ids stop the analysis, with the message of validate_procedures."""
    dup = eng.rows(
        "SELECT sum(k), count(*), min(first) FROM (SELECT procedure_id, count(*) AS k, min(_order) AS first "
        "FROM proc_checked WHERE procedure_id IS NOT NULL GROUP BY procedure_id HAVING count(*) > 1) AS counted"
    )[0]
    if dup[1]:
        first = eng.rows(f"SELECT procedure_id FROM proc_checked WHERE _order = {int(dup[2])}")[0][0]
        rows = [r[0] for r in eng.rows(
            f"SELECT _row FROM proc_checked WHERE procedure_id = {_literal(str(first))} ORDER BY _order")]
        raise InputError(
            f"Column 'procedure_id' in {source} must hold unique ids; got {int(dup[0])} rows sharing "
            f"{int(dup[1])} ids, e.g. {first!r} in rows {_first_rows(pd.Series(rows))}. "
            "Give each procedure its own id (a patient's second procedure is a new row with a new id)."
        )


def _distinct_text(eng: Any, view: str, columns: list[str]) -> dict[str, pd.Series]:
    """The distinct non-missing values of several text columns, in one query (one pass of a
    distributed engine instead of one per column)."""
    if not columns:
        return {}
    table = _frame(eng.arrow(" UNION ALL ".join(
        f"SELECT DISTINCT {k} AS c, {column} AS raw FROM {view} WHERE {column} IS NOT NULL"
        for k, column in enumerate(columns))))
    return {column: table.loc[table["c"] == k, "raw"].astype(object).reset_index(drop=True)
            for k, column in enumerate(columns)}


def _code_tables(eng: Any, proc_cols: dict, ass_cols: dict, mapping: Mapping) -> None:
    """_map_<column>(raw, value): each distinct raw value of a coded or date column, read by the
    pandas validation itself."""
    text = _distinct_text(eng, "proc_src", [c for c in (*_CODED, "procedure_date", "fracture_date")
                                            if c in proc_cols and proc_cols[c][1].upper() == "VARCHAR"])
    for column in _CODED:
        raw_type = proc_cols[column][1] if column in proc_cols else "VARCHAR"
        value_type = "BOOLEAN" if column == "complication" else "VARCHAR"
        raw = text[column] if column in text else _distinct(eng, "proc_src", column) if column in proc_cols \
            else pd.Series([], dtype=object)
        values = _procedure_values(raw, column, mapping) if len(raw) else pd.Series([], dtype=object)
        _register(eng, f"_map_{column}", raw, values, raw_type, value_type)
    for column in ("procedure_date", "fracture_date"):
        raw_type = proc_cols[column][1] if column in proc_cols else "VARCHAR"
        raw = text[column] if column in text else _distinct(eng, "proc_src", column) if column in proc_cols \
            else pd.Series([], dtype=object)
        values = _dates(raw, mapping.date_format) if len(raw) else pd.Series([], dtype="datetime64[ns]")
        _register(eng, f"_map_{column}", raw, values, raw_type, "TIMESTAMP")
    # instruments: the label, whether it is unknown and the scale, as validate_assessments
    raw = _distinct(eng, "ass_src", "instrument") if "instrument" in ass_cols else pd.Series([], dtype=object)
    codes, distinct = _text_codes(raw) if len(raw) else (np.array([], dtype=np.intp), pd.Series([], dtype="string"))
    instrument, unknown, scale = _instrument_values(distinct, mapping)
    default = mapping.assessment_instrument
    frame = pd.DataFrame({
        "raw": raw.reset_index(drop=True),
        "instrument": instrument.array.take(codes, allow_fill=True, fill_value=default) if len(raw) else [],
        "unknown": unknown.to_numpy(dtype=bool).take(codes) if len(raw) else [],
        "scale": scale.to_numpy(dtype=float).take(codes) if len(raw) else [],
    })
    if len(raw):
        blank = codes < 0
        frame.loc[blank, "unknown"] = False
        frame.loc[blank, "scale"] = INSTRUMENT_SCALE.get(default, np.nan)
    raw_type = ass_cols["instrument"][1] if "instrument" in ass_cols else "VARCHAR"
    eng.register("_map_instrument", _to_arrow(frame.astype({"instrument": object})),
                 {"raw": raw_type, "instrument": "VARCHAR", "unknown": "BOOLEAN", "scale": "DOUBLE"})


def _thresholds(eng: Any, d: Definitions) -> None:
    """_thresholds(baseline, threshold): Definitions.relief_threshold of every baseline score
    that can occur (the procedures' own and every score before a procedure)."""
    table = eng.arrow(
        "SELECT DISTINCT baseline_pain AS baseline FROM proc_checked WHERE _reason IS NULL AND baseline_pain IS NOT NULL "
        "UNION SELECT DISTINCT pain FROM ass_checked WHERE _rule IS NULL AND hours_after <= 0 AND pain IS NOT NULL")
    baseline = np.asarray(table.column("baseline").to_numpy(zero_copy_only=False), dtype=float)
    frame = pd.DataFrame({"baseline": baseline, "threshold": d.relief_threshold(baseline)})
    eng.register("_thresholds", _to_arrow(frame), {"baseline": "DOUBLE", "threshold": "DOUBLE"})


# The procedures' exclusion rules in the order they are applied (reasons are matched by their
# start): equal counts keep this order in exclusion_counts(), as pandas' stable sort of the log.
_PROCEDURE_RULES = ("procedure_id missing", "patient_id missing", "unknown procedure type", "procedure_date missing",
                    "fracture dated after")


def _assessment_rules(baseline_window_hours: float) -> dict[int, str]:
    """The reasons of validate_assessments by the rule numbers of assessments.sql."""
    return {
        1: "procedure_id missing",
        2: "its procedure was excluded",
        3: "unknown procedure id (not in the procedures table)",
        4: "unknown instrument (expected nrs, vas10 or vas100)",
        5: "pain missing",
        6: "pain is not a number",
        7: "pain outside 0-10 (a 0-100 VAS can be declared with instrument = 'vas100')",
        8: "time missing",
        9: "time is not a number",
        10: (f"time before the procedure, outside the {baseline_window_hours / 24:g}-day baseline window "
             "(only a baseline score may precede the procedure)"),
        11: "duplicate assessment (same procedure and time)",
    }


def _accounting(eng: Any, d: Definitions, extra: list[tuple[str, int, int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows read/excluded/analysed per table and excluded rows by reason, as Cohort.flow() and
    Cohort.exclusion_counts()."""
    flow = [("procedures", *eng.rows("SELECT count(*), count(_reason) FROM proc_checked")[0]),
            ("assessments", *eng.rows("SELECT count(*), count(_rule) FROM ass_checked")[0]), *extra]
    flow_table = pd.DataFrame([{"table": t, "read": int(r), "excluded": int(e), "analysed": int(r - e)}
                               for t, r, e in flow])
    procedures = eng.rows("SELECT _reason, count(*) FROM proc_checked WHERE _reason IS NOT NULL GROUP BY _reason")
    scores = eng.rows("SELECT _rule, count(*) FROM ass_checked WHERE _rule IS NOT NULL GROUP BY _rule")
    reasons = _assessment_rules(d.baseline_window_hours)
    rows = [("procedures", r, n, next((k for k, start in enumerate(_PROCEDURE_RULES) if r.startswith(start)), 99))
            for r, n in procedures]
    rows += [("assessments", reasons[int(rule)], n, 100 + int(rule)) for rule, n in scores]
    if not rows:
        return flow_table, pd.DataFrame({"table": [], "reason": [], "rows": []})
    table = pd.DataFrame([{"table": t, "reason": r, "rows": int(n)} for t, r, n, _ in sorted(rows, key=lambda x: x[3])])
    table = table.sort_values(["table", "rows"], ascending=[False, False], kind="stable")
    return flow_table, table.reset_index(drop=True)


def _tallies(eng: Any, claim: Claim, available: set[str]) -> pd.DataFrame:
    """The endpoint columns a claim reads, one row per distinct combination with its count."""
    columns = [c for c in dict.fromkeys(("procedure", *_reads(claim))) if c in available]
    listed = ", ".join(_quote(c) for c in columns)
    # sorted, so that sums over the tallies add up in the same order on every run
    order = ", ".join(f"{_quote(c)} NULLS LAST" for c in columns)
    return _frame(eng.arrow(f"SELECT {listed}, count(*) AS {WEIGHT} FROM endpoints GROUP BY {listed} ORDER BY {order}"))


# ---- OMOP CDM in place --------------------------------------------------------------------------

_OMOP_TABLES = ("person", "procedure_occurrence", "visit_occurrence", "provider", "condition_occurrence",
                "measurement", "observation")
_OUTPATIENT_MAX_HOURS = 12.0  # as sources.omop: an outpatient visit of 12 h or more is an overnight stay
_OMOP_EXCLUDED = "not used: no analysed procedure, or left out as load_omop leaves it out"


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
                "horizon_hours": _literal(settings.follow_up_days * 24.0), "window_hours": _literal(window),
                "outpatient_max_hours": _literal(_OUTPATIENT_MAX_HOURS)}
        for statement in _statements(_sql("omop").format(**fill)):
            eng.create(statement)
        counts = {t: (int(r), int(r) - int(u)) for t, r, u in eng.rows("SELECT tbl, n_read, n_used FROM _omop_flow")}
        flow = [(f"omop:{t}", *counts[f"omop:{t}"]) for t in ("procedure_occurrence", "person", "visit_occurrence",
                                                             "condition_occurrence", "measurement", "observation")]
        sources = {"procedures": f"OMOP {label} (procedure_occurrence)",
                   "assessments": f"OMOP {label} (measurement, observation: pain scores)"}
        return _evaluate_sql(eng, sources, d=d, registry=registry, mapping=Mapping(), confidence_level=confidence_level,
                             allow_identifiers=allow_identifiers, input_hashes={}, extra_flow=flow)
    finally:
        eng.close()


def _statements(sql: str) -> list[str]:
    """The statements of a SQL file (each ends with ";" at the end of a line)."""
    return [part.strip() for part in re.split(r";[ \t]*\n", sql + "\n") if part.strip()
            and not all(line.strip().startswith("--") for line in part.strip().splitlines())]


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
    for table in (*_OMOP_TABLES, "concept"):
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
    if missing:
        raise InputError(f"OMOP database must have the CDM table{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                         f"not found{' in schema ' + repr(schema) if schema else ''}. Pass schema= to name the CDM schema.")
    return names


def _omop_code_tables(eng: Any, settings: Any) -> None:
    """The codes of SourceSettings as small tables: procedure, pain, field and answer codes;
    fracture and complication prefixes; visit kinds."""
    from .sources._settings import OMOP_VOCABULARY

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
    frame = pd.DataFrame(rows).astype({"concept_id": "Int64", "label": object})
    eng.register("_omop_codes", _to_arrow(frame), {
        "what": "VARCHAR", "code": "VARCHAR", "pattern": "VARCHAR", "vocabulary": "VARCHAR", "concept_id": "BIGINT",
        "label": "VARCHAR", "addon": "BOOLEAN", "number": "DOUBLE", "pos": "INTEGER"})
    conditions = [{"prefix": re.sub(r"[.\s]", "", c.code).upper(), "etiology": label, "fracture": True}
                  for c, label in settings.fracture_conditions]
    conditions += [{"prefix": re.sub(r"[.\s]", "", c.code).upper(), "etiology": None, "fracture": False}
                   for c in settings.complication_conditions]
    frame = pd.DataFrame(conditions).assign(pos=lambda f: np.arange(len(f)))
    eng.register("_omop_conditions", _to_arrow(frame.astype({"etiology": object})),
                 {"prefix": "VARCHAR", "etiology": "VARCHAR", "fracture": "BOOLEAN", "pos": "INTEGER"})
    kinds = pd.DataFrame({"concept_id": [int(k) for k in settings.visit_concepts if str(k).isdigit()],
                          "kind": [v for k, v in settings.visit_concepts.items() if str(k).isdigit()]})
    eng.register("_omop_visit_kinds", _to_arrow(kinds), {"concept_id": "BIGINT", "kind": "VARCHAR"})
