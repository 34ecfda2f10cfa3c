"""Registry scale: every claim from Parquet files larger than memory, in SQL.

:func:`evaluate_registry` gives the claims table of :func:`outcomes.evaluate_claims` for a regional
or national registry. With ``engine="duckdb"`` the rows never reach pandas: DuckDB reads the
Parquet files, applies the exclusion rules of :func:`outcomes.load_records`, derives the
endpoints of :func:`outcomes.derive_endpoints` (``outcomes/sql/*.sql``) and hands the statistics
only tallies -- one row per distinct combination of the values a claim reads, with its count
(``_weight``) -- which every estimator of the package takes as frequency weights. Memory then
grows with the number of distinct values, not of procedures, and DuckDB spills to disk beyond
``memory_limit``. ``engine="pandas"`` runs the ordinary in-memory pipeline on the same files; the
two give the same table (tested to 1e-9 on simulated registries).

How each value is read follows the pandas path exactly where it matters: the coded columns
(procedure, sex, discharge, complication, etiology, physician, site, instrument) and the dates are
read once per *distinct* raw value by the pandas validation itself and joined back, and the relief
threshold of each distinct baseline comes from :meth:`Definitions.relief_threshold`. What SQL does
itself: trimming ids (the whitespace of Python's ``str.strip``), numbers (``TRY_CAST``; numbers
written as text in unusual formats may parse differently from ``pandas.to_numeric``), ranges,
the exclusion rules in order, and the per-procedure aggregates of the endpoints.

Not supported by the DuckDB engine (use ``engine="pandas"``): wide exports (one row per procedure
with pain columns), ``assessed_at`` timestamps instead of ``hours_after``, and the remarks log
(optional values set to missing are counted in the pandas path only).
"""

from __future__ import annotations

import glob
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .claims import Claim, ClaimsResult, _evaluate, _reads, evaluate_claims, resolve_claims
from .definitions import Definitions
from .exceptions import InputError
from .loading import _sha256, load_records
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

Engine = Literal["duckdb", "pandas"]
_ENGINES = ("duckdb", "pandas")
# The characters Python's str.strip() (and pandas' .str.strip()) remove: trimmed from ids in SQL.
_WHITESPACE = "".join(map(chr, (9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, *range(8192, 8203),
                                8232, 8233, 8239, 8287, 12288)))
_FILE_BITS = 40  # _order = file index * 2**40 + row number in the file
# Coded procedure columns read once per distinct raw value by validate_procedures itself.
_CODED = ("procedure", "etiology", "sex", "discharge", "complication", "physician_id", "site_id")
_NUMBERS = {  # column: (low, high, whole), as validation.validate_procedures
    "baseline_pain": (0, 10, False), "levels_treated": (1, 20, True), "age": (0, 90, False),
    "asa_class": (1, 6, True), "length_of_stay_hours": (0, np.inf, False),
    "height_restoration_pct": (-100, 100, False), "kyphotic_angle_change_deg": (-90, 90, False),
}
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
        "duckdb" or "pandas".
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
    procedures: Source,
    assessments: Source,
    *,
    definitions: Definitions | None = None,
    claims: str | Path | tuple[Claim, ...] | list[Claim] | None = None,
    engine: Engine = "duckdb",
    mapping: Mapping | str | os.PathLike[str] | None = None,
    confidence_level: float = 0.95,
    allow_identifiers: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
) -> RegistryResult:
    """Evaluate every claim on a registry held in Parquet files, in or out of memory.

    Parameters
    ----------
    procedures, assessments : path, glob or list of paths
        Parquet files in the long form of the data contract (one row per procedure; one row per
        pain score with ``hours_after``). The DuckDB engine accepts several files per table (a
        glob such as ``"scores/*.parquet"`` or a list), read in the order given.
    definitions : Definitions, optional
        Defaults to ``Definitions()``.
    claims : path to a TOML file, or a sequence of Claim, optional
        As :func:`outcomes.evaluate_claims`.
    engine : {"duckdb", "pandas"}, default "duckdb"
        "duckdb": SQL over the files, only tallies in memory (registries larger than memory).
        "pandas": :func:`outcomes.load_records` then :func:`outcomes.evaluate_claims`.
    mapping : Mapping or path to a TOML file, optional
        Column renames and extra codes, as :func:`outcomes.load_records`.
    confidence_level : float, default 0.95
    allow_identifiers : bool, default False
        Go on even if the data look identifying (the warning travels with the result).
    memory_limit : str, optional
        DuckDB's ``memory_limit`` (e.g. ``"4GB"``); beyond it DuckDB spills to ``temp_directory``.
    threads : int, optional
        DuckDB's number of threads (default: all cores).
    temp_directory : path, optional
        Where DuckDB spills (default: the system's temporary folder).

    Returns
    -------
    RegistryResult
        ``claims`` (a :class:`ClaimsResult`), ``flow()`` and ``exclusion_counts()``.

    Raises
    ------
    InputError
        A missing or non-Parquet file, a missing column, duplicate procedure ids, or an input
        the DuckDB engine does not read (wide exports, ``assessed_at``).
    PrivacyError
        The data look identifying and ``allow_identifiers`` is False.

    Notes
    -----
    The SQL (``outcomes/sql/procedures.sql``, ``assessments.sql``, ``endpoints.sql``) is the
    route to a distributed engine for national data: each step is a scan, a hash join with a
    small table of codes, or a per-procedure aggregate, and the statistics need only the tallies
    ``SELECT procedure, <columns>, count(*) FROM endpoints GROUP BY ALL``.

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
    mapping = Mapping.coerce(mapping)
    registry = resolve_claims(claims)
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
    return _evaluate_duckdb(proc_files, ass_files, d=d, registry=registry, mapping=mapping,
                            confidence_level=confidence_level, allow_identifiers=allow_identifiers,
                            memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)


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


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value: Any) -> str:
    """A SQL literal: text quoted, numbers as exact doubles."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    number = float(value)
    if np.isnan(number):
        return "CAST('nan' AS DOUBLE)"
    if np.isinf(number):
        return f"CAST('{'inf' if number > 0 else '-inf'}' AS DOUBLE)"
    return f"CAST({number!r} AS DOUBLE)"


def _arrow(relation: Any) -> Any:
    table = relation.arrow()
    return table.read_all() if hasattr(table, "read_all") else table


def _frame(relation: Any) -> pd.DataFrame:
    """A DuckDB result as pandas with the dtypes of the pandas path: booleans and text nullable."""
    import pyarrow as pa

    mapper = {pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}
    return _arrow(relation).to_pandas(types_mapper=mapper.get)


def _connect(memory_limit: str | None, threads: int | None, temp_directory: Any) -> Any:
    import duckdb

    con = duckdb.connect(config={"preserve_insertion_order": False})
    if memory_limit is not None:
        con.execute(f"SET memory_limit = {_literal(str(memory_limit))}")
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InputError(f"`threads` must be a positive whole number; got {threads!r}.")
        con.execute(f"SET threads = {threads}")
    spill = os.fspath(temp_directory) if temp_directory is not None else os.path.join(tempfile.gettempdir(), "outcomes-duckdb")
    con.execute(f"SET temp_directory = {_literal(spill)}")
    # trim(x, characters) is slow, so it runs only on values that start or end with whitespace
    space = _literal(_WHITESPACE)
    con.execute(f"CREATE MACRO ws_trim(x) AS CASE WHEN contains({space}, left(x, 1)) OR contains({space}, right(x, 1)) "
                f"THEN trim(x, {space}) ELSE x END")
    return con


def _schema(con: Any, files: list[str]) -> list[tuple[str, str]]:
    rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet([{', '.join(_literal(f) for f in files)}])").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _raw_view(con: Any, view: str, files: list[str]) -> None:
    """The files as they are, with _order (file order) and _row (the row a spreadsheet shows)."""
    listed = "[" + ", ".join(_literal(f) for f in files) + "]"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * EXCLUDE (filename, file_row_number), "
        f"(list_position({listed}, filename) - 1) * {2 ** _FILE_BITS} + file_row_number AS _order, "
        f"file_row_number + 2 AS _row FROM read_parquet({listed}, filename = true, file_row_number = true)"
    )


# ---- privacy -----------------------------------------------------------------------------------

def _privacy(con: Any, view: str, schema: list[tuple[str, str]], source: str, allow: bool) -> str | None:
    """privacy.find_identifiers in SQL: column names, text values (RE2, as pandas' Arrow strings)
    and ages over 89, in the same order and with the same first rows."""
    names = [(name, name.strip(), kind) for name, kind in schema]
    findings: list[PrivacyFinding] = name_findings([clean for _, clean, _ in names])
    mask = (1 << _FILE_BITS) - 1
    for name, clean, kind in names:
        if kind.upper() != "VARCHAR":
            continue
        column = _quote(name)
        # SQL keeps the distinct values some rule could find (the rules' own RE2 prefilter, and
        # any value with a non-ASCII character, which privacy normalises first), in the order
        # they first occur, with their first three rows; privacy.value_masks then reads them
        # exactly as find_identifiers does.
        needed = ("TRUE" if is_bare_name(clean) else  # a bare "name" column: every value is read
                  f"regexp_matches({column}, {_literal(GATE)}) OR regexp_matches({column}, '[^\\x00-\\x7f]')")
        candidates = _arrow(con.sql(f"SELECT {column} AS v, min(_order, 3) AS firsts FROM {view} "
                                    f"WHERE {column} IS NOT NULL AND ({needed}) GROUP BY {column} ORDER BY min(_order)"))
        if candidates.num_rows == 0:
            continue
        firsts = candidates.column("firsts").to_pylist()
        for category, reason, hits in value_masks(clean, candidates.column("v").combine_chunks()):
            orders = sorted(o for k in np.flatnonzero(hits) for o in firsts[k])[:3]
            findings.append(PrivacyFinding(clean, reason, tuple(int(o & mask) + 2 for o in orders), category))
    for name, clean, _ in names:
        if not is_age_column(clean):
            continue
        value = f"TRY_CAST({_quote(name)} AS DOUBLE)"
        orders, first = con.execute(f"SELECT min(_order, 3) FILTER (WHERE {value} > 90), "
                                    f"arg_min({value}, _order) FILTER (WHERE {value} > 90) FROM {view}").fetchall()[0]
        if orders:
            findings.append(PrivacyFinding(clean, age_reason(first), tuple(int(o & mask) + 2 for o in orders), "C"))
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


def _source_view(con: Any, view: str, raw: str, columns: dict[str, tuple[str, str]], wanted: tuple[str, ...]) -> None:
    parts = ["_order", "_row"]
    for column in wanted:
        parts.append(f"{_quote(columns[column][0])} AS {column}" if column in columns else f"CAST(NULL AS VARCHAR) AS {column}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {', '.join(parts)} FROM {raw}")


def _number(column: str, columns: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """SQL for (the number, whether a value is present), as validation._number: text is parsed,
    blanks are missing, NaN is missing."""
    if column not in columns:
        return "CAST(NULL AS DOUBLE)", "false"
    name, kind = columns[column]
    ref = f"s.{column}"
    if kind.upper() in ("VARCHAR", "BLOB"):
        text = f"NULLIF(ws_trim(CAST({ref} AS VARCHAR)), '')"
        value = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN isnan({value}) THEN NULL ELSE {value} END", f"({text} IS NOT NULL)"
    if kind.upper() == "BOOLEAN":
        value = f"CAST({ref} AS DOUBLE)"
    else:
        value = f"TRY_CAST({ref} AS DOUBLE)"
    value = f"CASE WHEN isnan({value}) THEN NULL ELSE {value} END"
    return value, f"({value} IS NOT NULL)"


def _ranged(column: str, columns: dict[str, tuple[str, str]]) -> str:
    """A number kept only inside its range (and whole where it must be), as validate_procedures."""
    value, _ = _number(column, columns)
    low, high, whole = _NUMBERS[column]
    rule = f"{value} >= {_literal(low)} AND {value} <= {_literal(high)}"
    if whole:
        rule += f" AND {value} = floor({value})"
    return f"CASE WHEN {rule} THEN {value} END"


def _distinct(con: Any, view: str, column: str) -> pd.Series:
    """The distinct non-missing raw values of a column, as pandas would read them."""
    table = _arrow(con.sql(f"SELECT DISTINCT {column} AS raw FROM {view} WHERE {column} IS NOT NULL"))
    return table.column("raw").to_pandas()


def _register(con: Any, name: str, raw: pd.Series, value: pd.Series, raw_type: str, value_type: str) -> None:
    frame = pd.DataFrame({"raw": raw.reset_index(drop=True), "value": pd.Series(value).reset_index(drop=True)})
    con.register(f"{name}_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT CAST(raw AS {raw_type}) AS raw, "
                f"CAST(value AS {value_type}) AS value FROM {name}_frame")
    con.unregister(f"{name}_frame")


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

def _evaluate_duckdb(proc_files: list[str], ass_files: list[str], *, d: Definitions, registry: tuple[Claim, ...],
                     mapping: Mapping, confidence_level: float, allow_identifiers: bool, memory_limit: str | None,
                     threads: int | None, temp_directory: Any) -> RegistryResult:
    con = _connect(memory_limit, threads, temp_directory)
    try:
        names, warnings_ = _build(con, proc_files, ass_files, d=d, mapping=mapping, allow_identifiers=allow_identifiers)
        flow, exclusions = _accounting(con, d)
        columns = {r[0] for r in con.execute("DESCRIBE endpoints").fetchall()}

        def frame_for(claim: Claim) -> pd.DataFrame:
            return _tallies(con, claim, columns)

        result = _evaluate(frame_for, registry, d, confidence_level)
    finally:
        con.close()
    return RegistryResult(
        claims=result, flow_table=flow, exclusion_table=exclusions, engine="duckdb", sources=names,
        input_hashes={"procedures": ",".join(_sha256(Path(f)) for f in proc_files),
                      "assessments": ",".join(_sha256(Path(f)) for f in ass_files)},
        privacy_warnings=warnings_,
    )


def _build(con: Any, proc_files: list[str], ass_files: list[str], *, d: Definitions, mapping: Mapping,
           allow_identifiers: bool) -> tuple[dict[str, str], tuple[str, ...]]:
    """Run the SQL up to the endpoints table; returns the sources' names and privacy warnings."""
    proc_name = ", ".join(Path(f).name for f in proc_files)
    ass_name = ", ".join(Path(f).name for f in ass_files)
    proc_schema, ass_schema = _schema(con, proc_files), _schema(con, ass_files)
    _raw_view(con, "proc_raw", proc_files)
    _raw_view(con, "ass_raw", ass_files)
    warnings_ = [_privacy(con, "proc_raw", proc_schema, proc_name, allow_identifiers),
                 _privacy(con, "ass_raw", ass_schema, ass_name, allow_identifiers)]

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
    _source_view(con, "proc_src", "proc_raw", proc_cols, PROCEDURE_COLUMNS)
    _source_view(con, "ass_src", "ass_raw", ass_cols, ASSESSMENT_COLUMNS)

    _code_tables(con, proc_cols, ass_cols, mapping)
    fill = {"ws_trim": "ws_trim", "same_day_max_hours": _literal(_SAME_DAY_MAX_HOURS),
            "overnight_max_hours": _literal(_OVERNIGHT_MAX_HOURS),
            "fracture_age_days": _number("fracture_age_days", proc_cols)[0]}
    fill.update({c: _ranged(c, proc_cols) for c in _NUMBERS})
    con.execute(_sql("procedures").format(**fill))
    _check_unique_ids(con, proc_name)

    pain_value, pain_present = _number("pain", ass_cols)
    hours_value, hours_present = _number("hours_after", ass_cols)
    window = d.baseline_window_hours
    con.execute(_sql("assessments").format(
        ws_trim="ws_trim", default_scale=_literal(INSTRUMENT_SCALE.get(mapping.assessment_instrument, np.nan)),
        pain_value=pain_value, pain_present=pain_present, hours_value=hours_value,
        hours_present=hours_present, baseline_window_hours=_literal(window),
    ))

    _thresholds(con, d)
    con.execute(_sql("endpoints").format(
        baseline_window_hours=_literal(window),
        horizon_low=_literal(d.relief_horizon_hours - d.relief_horizon_grace_hours),
        horizon_high=_literal(d.relief_horizon_evaluated_hours),
        success_target=_literal(d.success_target_hours), success_low=_literal(d.success_window_low_hours),
        success_high=_literal(d.success_window_high_hours), early_max_days=_literal(d.early_max_fracture_age_days),
    ))
    return {"procedures": proc_name, "assessments": ass_name}, tuple(w for w in warnings_ if w)


def _endpoints_frame(procedures: Source, assessments: Source, *, definitions: Definitions | None = None,
                     mapping: Mapping | None = None) -> pd.DataFrame:
    """The SQL endpoints table itself, one row per analysed procedure (for checks against
    derive_endpoints)."""
    con = _connect(None, None, None)
    try:
        _build(con, _files(procedures, "procedures"), _files(assessments, "assessments"),
               d=definitions or Definitions(), mapping=mapping or Mapping(), allow_identifiers=False)
        return _frame(con.sql("SELECT * FROM endpoints"))
    finally:
        con.close()


def _sql(name: str) -> str:
    return (resources.files("outcomes") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def _check_unique_ids(con: Any, source: str) -> None:
    """Duplicate procedure ids stop the analysis, with the message of validate_procedures."""
    dup = con.execute(
        "WITH counted AS (SELECT procedure_id, count(*) AS k, min(_order) AS first FROM proc_checked "
        "WHERE procedure_id IS NOT NULL GROUP BY procedure_id HAVING count(*) > 1) "
        "SELECT sum(k), count(*), arg_min(procedure_id, first) FROM counted"
    ).fetchall()[0]
    if dup[1]:
        rows = [r[0] for r in con.execute(
            "SELECT _row FROM proc_checked WHERE procedure_id = ? ORDER BY _order", [dup[2]]).fetchall()]
        raise InputError(
            f"Column 'procedure_id' in {source} must hold unique ids; got {int(dup[0])} rows sharing "
            f"{int(dup[1])} ids, e.g. {dup[2]!r} in rows {_first_rows(pd.Series(rows))}. "
            "Give each procedure its own id (a patient's second procedure is a new row with a new id)."
        )


def _code_tables(con: Any, proc_cols: dict, ass_cols: dict, mapping: Mapping) -> None:
    """_map_<column>(raw, value): each distinct raw value of a coded or date column, read by the
    pandas validation itself."""
    for column in _CODED:
        raw_type = proc_cols[column][1] if column in proc_cols else "VARCHAR"
        value_type = "BOOLEAN" if column == "complication" else "VARCHAR"
        raw = _distinct(con, "proc_src", column) if column in proc_cols else pd.Series([], dtype=object)
        values = _procedure_values(raw, column, mapping) if len(raw) else pd.Series([], dtype=object)
        _register(con, f"_map_{column}", raw, values, raw_type, value_type)
    for column in ("procedure_date", "fracture_date"):
        raw_type = proc_cols[column][1] if column in proc_cols else "VARCHAR"
        raw = _distinct(con, "proc_src", column) if column in proc_cols else pd.Series([], dtype=object)
        values = _dates(raw, mapping.date_format) if len(raw) else pd.Series([], dtype="datetime64[ns]")
        _register(con, f"_map_{column}", raw, values, raw_type, "TIMESTAMP")
    # instruments: the label, whether it is unknown and the scale, as validate_assessments
    raw = _distinct(con, "ass_src", "instrument") if "instrument" in ass_cols else pd.Series([], dtype=object)
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
    con.register("_map_instrument_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _map_instrument AS SELECT CAST(raw AS {raw_type}) AS raw, "
                "CAST(instrument AS VARCHAR) AS instrument, CAST(unknown AS BOOLEAN) AS unknown, "
                "CAST(scale AS DOUBLE) AS scale FROM _map_instrument_frame")
    con.unregister("_map_instrument_frame")


def _thresholds(con: Any, d: Definitions) -> None:
    """_thresholds(baseline, threshold): Definitions.relief_threshold of every baseline score
    that can occur (the procedures' own and every score before a procedure)."""
    table = _arrow(con.sql(
        "SELECT DISTINCT baseline_pain AS baseline FROM proc_checked WHERE _reason IS NULL AND baseline_pain IS NOT NULL "
        "UNION SELECT DISTINCT pain FROM ass_checked WHERE _rule IS NULL AND hours_after <= 0 AND pain IS NOT NULL"))
    baseline = table.column("baseline").to_numpy()
    frame = pd.DataFrame({"baseline": baseline.astype(float), "threshold": d.relief_threshold(baseline)})
    con.register("_thresholds_frame", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE _thresholds AS SELECT CAST(baseline AS DOUBLE) AS baseline, "
                "CAST(threshold AS DOUBLE) AS threshold FROM _thresholds_frame")
    con.unregister("_thresholds_frame")


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


def _accounting(con: Any, d: Definitions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows read/excluded/analysed per table and excluded rows by reason, as Cohort.flow() and
    Cohort.exclusion_counts()."""
    flow = [con.execute("SELECT 'procedures', count(*), count(_reason) FROM proc_checked").fetchall()[0],
            con.execute("SELECT 'assessments', count(*), count(_rule) FROM ass_checked").fetchall()[0]]
    flow_table = pd.DataFrame([{"table": t, "read": int(r), "excluded": int(e), "analysed": int(r - e)}
                               for t, r, e in flow])
    procedures = con.execute("SELECT _reason, count(*) FROM proc_checked WHERE _reason IS NOT NULL GROUP BY ALL").fetchall()
    scores = con.execute("SELECT _rule, count(*) FROM ass_checked WHERE _rule IS NOT NULL GROUP BY ALL").fetchall()
    reasons = _assessment_rules(d.baseline_window_hours)
    rows = [("procedures", r, n, next((k for k, start in enumerate(_PROCEDURE_RULES) if r.startswith(start)), 99))
            for r, n in procedures]
    rows += [("assessments", reasons[int(rule)], n, 100 + int(rule)) for rule, n in scores]
    if not rows:
        return flow_table, pd.DataFrame({"table": [], "reason": [], "rows": []})
    table = pd.DataFrame([{"table": t, "reason": r, "rows": int(n)} for t, r, n, _ in sorted(rows, key=lambda x: x[3])])
    table = table.sort_values(["table", "rows"], ascending=[False, False], kind="stable")
    return flow_table, table.reset_index(drop=True)


def _tallies(con: Any, claim: Claim, available: set[str]) -> pd.DataFrame:
    """The endpoint columns a claim reads, one row per distinct combination with its count."""
    columns = [c for c in dict.fromkeys(("procedure", *_reads(claim))) if c in available]
    listed = ", ".join(_quote(c) for c in columns)
    # sorted, so that sums over the tallies add up in the same order on every run
    return _frame(con.sql(f"SELECT {listed}, count(*) AS {WEIGHT} FROM endpoints GROUP BY ALL ORDER BY ALL"))
