"""OMOP CDM v5.4 databases in (DuckDB, SQLite, PostgreSQL); synthetic cohorts out as OMOP tables.

:func:`load_omop` selects, in the database, only the records it needs: procedure occurrences with
a vertebroplasty or kyphoplasty code, and the persons, visits, providers, fracture and
complication conditions and pain measurements / observations of those patients. A research
warehouse of millions of patients is never read whole.

What is read, per canonical field
---------------------------------
=========================  ===============================================================
procedure                  ``procedure_occurrence.procedure_source_value`` holding a CPT code
                           (22510-22515, 22520-22525), or ``procedure_concept_id`` /
                           ``procedure_source_concept_id`` whose concept (``concept`` table,
                           when present) is such a CPT4 code, or a concept id given as
                           ``omop|<id>`` in the mapping file's ``[omop]`` section
procedure_id, patient_id   ``procedure_occurrence_id``; ``person_id``
procedure_date             ``procedure_date`` (``procedure_datetime`` for the hours of the
                           pain scores)
levels_treated             ``quantity`` (1 when missing) plus the add-on rows (22512, 22515)
                           of the same person, day and kind
physician_id, site_id      ``provider_id``; the visit's ``care_site_id`` (else the provider's)
discharge, length of stay  ``visit_occurrence``: ``visit_concept_id`` 9201 (inpatient) ->
                           admitted, 9202 (outpatient) -> same day, or overnight when the visit
                           lasted 12 h or more (or ended on a later day), 9203 (ER) -> from
                           the length of stay; hours from ``visit_start/end_datetime``
fracture_date, etiology    ``condition_occurrence`` with a fracture code (``condition_source_value``
                           such as M80.08XA, M48.5-, S22.0-, S32.0-, M84.58XA): the one recorded
                           in the procedure's visit, else the latest started within the
                           look-back before the procedure
complication               a condition coded T81, T84 or M96 recorded in the procedure's visit
age, sex                   ``person.year_of_birth`` against the procedure's year (capped at
                           90); ``gender_concept_id`` 8532 female, 8507 male
pain scores                ``measurement`` (and ``observation``) with LOINC 72514-3 in
                           ``*_source_value`` or as concept; ``value_as_number`` (on the
                           scale of ``unit_source_value``: mm -> 0-100 VAS), or
                           ``value_as_concept_id`` / ``value_source_value`` holding an LL2335-9
                           answer (LA6111-4 = 0 ... LA13942-0 = 10)
function scores            ``measurement`` / ``observation`` with LOINC 97909-6 (ODI) or SNOMED
                           CT 736535009 (EQ-5D VAS), or the codes under ``[omop.function]``, in
                           ``*_source_value``, as concept or as concept id; ``value_as_number``
                           on the instrument's own scale (the SQL of ``evaluate_registry``
                           selects them from the same list)
events (optional table)    when ``death`` or ``observation_period`` hold rows for the cohort's
                           persons: ``condition_occurrence`` coded as a new vertebral fracture
                           (after the procedure's day) or a complication (in its visit, or
                           after it; ``[omop] new_fracture_conditions``, ``complication_events``),
                           ``death.death_date``; last contact ``observation_period_end_date`` (not extended by later records)
=========================  ===============================================================

Scores are linked to procedures as in FHIR: by ``measurement_event_id`` /
``observation_event_id`` when ``meas_event_field_concept_id`` / ``obs_event_field_concept_id``
is 1147082 (procedure_occurrence.procedure_occurrence_id, CDM v5.4), else by time.

Connecting
----------
``url_or_path`` is a PostgreSQL URL (``postgresql://user:password@host:5432/database``, read with
psycopg 3: ``pip install 'outcomes[omop]'``), a DuckDB file (``.duckdb``, ``.ddb`` or
``duckdb:///path``), or a SQLite file (``.sqlite``, ``.sqlite3``, ``.db`` or ``sqlite:///path``).
``schema`` names the CDM schema (e.g. ``cdm``); the ``concept`` table is looked for there too.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..checks import number_values
from ..cohort import Cohort
from ..definitions import Definitions
from ..exceptions import InputError
from ..privacy import redact_secrets
from ..validation import SAME_DAY_MAX_HOURS
from . import _assemble as asm
from ._settings import (FIELD_CODES, FUNCTION_CODES, ICD10_SYSTEMS, LL2335_9, OMOP_VOCABULARY, Code,
                        SourceSettings, normalise_icd, resolve_mapping, split_written_scores)

__all__ = ["load_omop", "write_omop"]

PROCEDURE_EVENT_FIELD = 1147082  # concept: procedure_occurrence.procedure_occurrence_id (CDM v5.4)
GENDER = {8532: "F", 8507: "M"}
_OUTPATIENT_MAX_HOURS = SAME_DAY_MAX_HOURS  # an outpatient visit of 12 h or more is an overnight stay
_EHR = 32817  # type concept "EHR"
_LOCAL_CONCEPT = 2_000_000_000  # concept ids above 2 billion are a site's own (OMOP convention)
CONDITION_SYSTEM = ICD10_SYSTEMS[0]  # condition_source_value is read as ICD-10-CM
# Why a selected CDM record is left out (exclusion_counts); evaluate_registry(omop=...) names the
# same reasons by these keys (sql/omop.sql, _omop_left_out).
LEFT_OUT = {
    "unknown_procedure": "unknown code: not a vertebroplasty or kyphoplasty code (see [omop] in the mapping file)",
    "session": asm.REASON_SESSION,
    "visit": "not the visit of an analysed procedure",
    "condition": "not the fracture (or a complication in the visit) of an analysed procedure",
    "unknown_score": ("unknown code: not a pain score (LOINC 72514-3 or a code in [omop] pain) nor a "
                      "function score (LOINC 97909-6 ODI, or a code in [omop] function)"),
    "no_score": "no pain score (no number, and no LL2335-9 answer)",
    "no_function_score": "no function score (no number in value_as_number or value_as_string)",
    "no_date": "no date",
    "link_left_out": asm.REASON_LINK_LEFT_OUT,
    "no_procedure": asm.REASON_NO_PROCEDURE,
    "earlier_baseline": asm.REASON_EARLIER_BASELINE,
    "unlinked": asm.REASON_UNLINKED,
    "field": "procedure field not linked to an analysed procedure (or another value lies nearer)",
    "death": "no analysed procedure of this person on or before the death",
    "person": "no analysed vertebroplasty or kyphoplasty procedure",
}


# ------------------------------------------------------------------------------------------
# connections


class _Database:
    """One connection to DuckDB, SQLite or PostgreSQL with the few operations used here."""

    def __init__(self, target: str | os.PathLike[str], schema: str | None, *, create: bool = False) -> None:
        self.schema = schema
        text = os.fspath(target)
        lower = text.lower()
        is_dsn = "://" not in text and re.match(r"^\s*(host|hostaddr|dbname|user|port|password|service)\s*=", lower)
        self.label = redact_secrets(text) if "://" in text or is_dsn else Path(text).name
        if lower.startswith(("postgresql://", "postgres://")) or is_dsn:
            self.kind = "postgres"
            try:
                import psycopg
            except ImportError:
                raise InputError("Reading OMOP from PostgreSQL needs psycopg 3: pip install 'outcomes[omop]' "
                                 "(or 'psycopg[binary]').") from None
            try:
                self.con = psycopg.connect(text, autocommit=True)
            except psycopg.Error as exc:
                raise InputError(f"`url_or_path` must reach a PostgreSQL database; connecting to {self.label} "
                                 f"failed: {redact_secrets(' '.join(str(exc).split()), text)}.") from None
            return
        # duckdb:///path and sqlite:///path as SQLAlchemy writes them (four slashes: an absolute path)
        scheme = next((s for s in ("duckdb:///", "sqlite:///") if lower.startswith(s)), None)
        if scheme:
            kind, path = scheme.split(":")[0], Path(text[len(scheme):])
        else:
            path = Path(text)
            kind = self._sniff(path)
        if kind is None:
            raise InputError(
                f"`url_or_path` must be a postgresql:// URL, a DuckDB file (.duckdb) or a SQLite file (.sqlite, "
                f".db); got {self.label!r}.")
        if not create and not path.is_file():
            raise InputError(f"`url_or_path` must name an existing database file; got {str(path)!r}, which does not exist.")
        self.kind = kind
        self.label = path.name
        if kind == "duckdb":
            import duckdb
            self.con = duckdb.connect(str(path))
            # a file cdm.duckdb is the catalog "cdm": qualify a schema of that name with the catalog
            self.catalog = self.con.execute("SELECT current_database()").fetchone()[0]
        else:
            if schema not in (None, "main"):
                raise InputError(f"`schema` must be None for a SQLite file (it has one schema); got {schema!r}.")
            self.schema = None
            self.con = sqlite3.connect(str(path))

    @staticmethod
    def _sniff(path: Path) -> str | None:
        suffix = path.suffix.lower()
        if suffix in (".duckdb", ".ddb"):
            return "duckdb"
        if suffix in (".sqlite", ".sqlite3", ".db"):
            return "sqlite"
        if path.is_file():
            with path.open("rb") as fh:
                head = fh.read(16)
            if head.startswith(b"SQLite format 3"):
                return "sqlite"
            if head[8:12] == b"DUCK":
                return "duckdb"
        return None

    def close(self) -> None:
        self.con.close()

    def name(self, table: str) -> str:
        if self.schema and self.kind == "duckdb":
            return f'"{self.catalog}"."{self.schema}".{table}'
        return f'"{self.schema}".{table}' if self.schema else table

    def query(self, sql: str) -> pd.DataFrame:
        if self.kind == "duckdb":
            return self.con.execute(sql).df()
        if self.kind == "sqlite":
            return pd.read_sql_query(sql, self.con)
        buffer = io.BytesIO()
        with self.con.cursor() as cur:
            with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT CSV, HEADER)") as copy:
                for block in copy:
                    buffer.write(block)
        buffer.seek(0)
        if buffer.getbuffer().nbytes == 0:
            return pd.DataFrame()
        return pd.read_csv(buffer, dtype=str, keep_default_na=False, na_values=[""])

    def execute(self, sql: str) -> None:
        if self.kind == "sqlite":
            self.con.executescript(sql)
            self.con.commit()
        else:
            self.con.execute(sql)

    def tables(self) -> set[str]:
        if self.kind == "sqlite":
            frame = self.query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
            return {n.lower() for n in frame["name"]}
        where = self._where()
        frame = self.query(f"SELECT table_name FROM information_schema.tables WHERE {where}")
        return {n.lower() for n in frame["table_name"]} if not frame.empty else set()

    def _where(self) -> str:
        where = f"table_schema = '{_quote(self.schema)}'" if self.schema else "table_schema = current_schema()"
        if self.kind == "duckdb":
            where += f" AND table_catalog = '{_quote(self.catalog)}'"
        return where

    def columns(self, table: str) -> set[str]:
        if self.kind == "sqlite":
            frame = self.query(f"PRAGMA table_info({table})")
            return {n.lower() for n in frame["name"]}
        where = self._where()
        frame = self.query(f"SELECT column_name FROM information_schema.columns WHERE {where} "
                           f"AND table_name = '{_quote(table)}'")
        return {n.lower() for n in frame["column_name"]} if not frame.empty else set()

    def insert(self, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        columns = ", ".join(frame.columns)
        if self.kind == "duckdb":
            self.con.register("frame_", frame)
            self.con.execute(f"INSERT INTO {self.name(table)} ({columns}) SELECT {columns} FROM frame_")
            self.con.unregister("frame_")
        elif self.kind == "sqlite":
            out = frame.astype(object).where(frame.notna(), None)
            for col in out:
                if pd.api.types.is_datetime64_any_dtype(frame[col]):
                    out[col] = frame[col].dt.strftime("%Y-%m-%d %H:%M:%S").where(frame[col].notna(), None)
            marks = ", ".join("?" for _ in frame.columns)
            self.con.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                                 out.itertuples(index=False, name=None))
            self.con.commit()
        else:
            text = frame.to_csv(index=False, header=False, date_format="%Y-%m-%d %H:%M:%S", lineterminator="\n")
            with self.con.cursor() as cur:
                with cur.copy(f"COPY {self.name(table)} ({columns}) FROM STDIN WITH (FORMAT CSV)") as copy:
                    copy.write(text)


def _quote(text: Any) -> str:
    return str(text).replace("'", "''")


def _in_list(values) -> str:
    return "(" + ", ".join(f"'{_quote(v)}'" for v in values) + ")"


def _ids(series: pd.Series) -> pd.Series:
    """Ids as text without a decimal part ("12", not "12.0")."""
    numbers = pd.to_numeric(series, errors="coerce")
    whole = numbers.notna() & (numbers % 1 == 0)
    text = series.astype("string")
    return text.mask(whole, numbers.where(whole).astype("Int64").astype("string"))


def _when(date: pd.Series, stamp: pd.Series | None) -> pd.Series:
    """Datetime when given, else the date at midnight."""
    day = pd.to_datetime(date, errors="coerce")
    if stamp is None:
        return day.astype("datetime64[ns]")
    at = pd.to_datetime(stamp, errors="coerce")
    return at.fillna(day).astype("datetime64[ns]")


# ------------------------------------------------------------------------------------------
# reading


def _source_code(values: pd.Series) -> pd.Series:
    """The code in a ``*_source_value``: "CPT4:22510" -> "22510", "LOINC|72514-3" -> "72514-3"."""
    text = values.astype("string").str.strip()
    return text.str.replace(r"^.*[|:]", "", regex=True).str.strip()


def _code_filter(column: str, codes: list[Code], *, prefix: bool = False) -> list[str]:
    """SQL conditions matching ``column`` (a source value) against the codes."""
    if prefix:
        return [f"REPLACE(UPPER({column}), '.', '') LIKE '%{_quote(normalise_icd(c.code))}%'" for c in codes
                if "omop" not in c.systems]
    return [f"{column} LIKE '%{_quote(c.code)}%'" for c in codes if "omop" not in c.systems]


def _concept_filter(codes: list[Code], alias: str) -> list[str]:
    by_vocab: dict[str, set[str]] = {}
    for c in codes:
        for system in c.systems:
            vocab = OMOP_VOCABULARY.get(system)
            if vocab:
                by_vocab.setdefault(vocab, set()).add(c.code)
    return [f"({alias}.vocabulary_id = '{v}' AND {alias}.concept_code IN {_in_list(sorted(cs))})"
            for v, cs in sorted(by_vocab.items())]


def _concept_ids(codes: list[Code]) -> list[str]:
    return [c.code for c in codes if "omop" in c.systems and c.code.isdigit()]


def _classify(frame: pd.DataFrame, rows: list[tuple], value_columns: list[str], *, source: str,
              concepts: list[tuple[str, str]], ids: list[str]) -> pd.Series:
    """Index of the first code row (in ``rows``) each record matches: by source value code, by
    concept (vocabulary, code) pairs, or by concept id."""
    result = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    code_pos: dict[str, int] = {}
    concept_pos: dict[tuple[str, str], int] = {}
    id_pos: dict[str, int] = {}
    for k, (system, code, *_rest) in enumerate(rows):
        if system == "omop":
            id_pos.setdefault(code, k)
            continue
        code_pos.setdefault(code.upper(), k)
        vocab = OMOP_VOCABULARY.get(system) if system else None
        if vocab:
            concept_pos.setdefault((vocab, code.upper()), k)
    if source in frame:
        text = _source_code(frame[source]).str.upper()
        result = result.fillna(_positions(text, code_pos))
        rest = result.isna() & frame[source].notna()
        if rest.any():  # a code inside a longer source value ("22510-59", "CPT 22510")
            token = frame.loc[rest, source].astype("string").str.upper().str.extract(
                r"(?<![\dA-Z])(\d{5}|\d{4,6}-\d)(?![\dA-Z])", expand=False)
            result[rest] = _positions(token, code_pos)
    for vocab_col, code_col in concepts:
        if vocab_col in frame and code_col in frame and frame[code_col].notna().any():
            key = frame[vocab_col].astype("string") + "\x1f" + frame[code_col].astype("string").str.upper()
            lookup = {f"{v}\x1f{c}": k for (v, c), k in concept_pos.items()}
            result = result.fillna(_positions(key, lookup))
    for col in value_columns:
        if col in frame and id_pos:
            result = result.fillna(_positions(_ids(frame[col]), id_pos))
    return result


def _positions(values: pd.Series, table: dict[str, int]) -> pd.Series:
    """``table[value]`` per value (missing where absent), through pyarrow's index_in: the pandas
    ``map`` of a dict is slow on millions of pyarrow-backed strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not table:
        return pd.Series(pd.NA, index=values.index, dtype="Int64")
    keys = list(table)
    where = pc.index_in(pa.array(values.astype(object).where(values.notna(), None).astype("string")),
                        value_set=pa.array(keys, pa.string()))
    codes = pd.Series(where.to_numpy(zero_copy_only=False), index=values.index)
    mapped = np.array([table[k] for k in keys])
    out = pd.Series(pd.NA, index=values.index, dtype="Int64")
    ok = codes.notna()
    out[ok] = mapped[codes[ok].astype(int).to_numpy()]
    return out


def load_omop(
    url_or_path: str | os.PathLike[str],
    *,
    schema: str | None = None,
    mapping: Any = None,
    definitions: Definitions | None = None,
    allow_identifiers: bool = False,
) -> Cohort:
    """Read vertebral augmentation records from an OMOP CDM v5.4 database into a :class:`~outcomes.Cohort`.

    Parameters
    ----------
    url_or_path : str or path
        ``postgresql://user:password@host:port/database``, or a DuckDB (``.duckdb``) or SQLite
        (``.sqlite``, ``.db``) file; ``duckdb:///path`` and ``sqlite:///path`` also work.
    schema : str, optional
        The CDM schema (PostgreSQL, DuckDB); default the connection's current schema.
    mapping : path to a TOML mapping file, dict, Mapping or SourceSettings, optional
        Codes and linking rules in its ``[omop]`` section (see :mod:`outcomes.sources._settings`).
    definitions : Definitions, optional
        The baseline window (unless ``[omop] baseline_window_hours`` is set) and validation.
    allow_identifiers : bool, default False
        As for :func:`outcomes.load_records` (the canonical tables are checked); identifying
        columns (names, source values that may be record numbers) are never selected.

    Returns
    -------
    Cohort
        As :func:`outcomes.load_records`; ``cohort.flow()`` adds ``omop:<table>`` rows: the
        records selected (those with the codes looked for, of the patients concerned) and the
        ones left out, each with its id and why.

    Raises
    ------
    InputError
        The database cannot be reached or lacks ``person`` / ``procedure_occurrence``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from outcomes.synthetic import simulate
    >>> procedures, assessments, _ = simulate(40, seed=3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     db = pathlib.Path(tmp) / "cdm.sqlite"
    ...     _ = write_omop(procedures, assessments, db)
    ...     cohort = load_omop(db)
    >>> len(cohort.procedures), sorted(cohort.procedures["procedure"].unique())
    (40, ['kyphoplasty', 'vertebroplasty'])
    """
    definitions = definitions or Definitions()
    canonical, settings = resolve_mapping(mapping, "omop")
    db = _Database(url_or_path, schema)
    try:
        return _load(db, settings, canonical, definitions, allow_identifiers)
    finally:
        db.close()


def _load(db: _Database, settings: SourceSettings, canonical, definitions: Definitions,
          allow_identifiers: bool) -> Cohort:
    tables = db.tables()
    missing = [t for t in ("person", "procedure_occurrence") if t not in tables]
    if missing:
        raise InputError(
            f"OMOP database {db.label} must have the table{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; found {', '.join(sorted(tables)) or 'no tables'}"
            f"{' in schema ' + repr(db.schema) if db.schema else ''}. Pass schema= to name the CDM schema.")
    has_concept = "concept" in tables
    logs: list[pd.DataFrame] = []
    read: dict[str, int] = {}
    window = settings.baseline_window_hours if settings.baseline_window_hours is not None \
        else definitions.baseline_window_hours
    horizon = settings.follow_up_days * 24.0

    # --- procedure occurrences with a vertebral augmentation code
    proc_codes = [c for codes in settings.procedures.values() for c in codes]
    po_cols = db.columns("procedure_occurrence")
    conds = _code_filter("po.procedure_source_value", proc_codes)
    ids = _concept_ids(proc_codes)
    if ids:
        conds += [f"po.procedure_concept_id IN ({', '.join(ids)})",
                  f"po.procedure_source_concept_id IN ({', '.join(ids)})"]
    joins, extra = "", ""
    if has_concept:
        joins = (f" LEFT JOIN {db.name('concept')} c1 ON c1.concept_id = po.procedure_concept_id"
                 f" LEFT JOIN {db.name('concept')} c2 ON c2.concept_id = po.procedure_source_concept_id")
        conds += _concept_filter(proc_codes, "c1") + _concept_filter(proc_codes, "c2")
        extra = ", c1.vocabulary_id AS c1_vocabulary, c1.concept_code AS c1_code, " \
                "c2.vocabulary_id AS c2_vocabulary, c2.concept_code AS c2_code"
    where = " OR ".join(conds) or "FALSE"
    dt = "po.procedure_datetime" if "procedure_datetime" in po_cols else "NULL"
    qty = "po.quantity" if "quantity" in po_cols else "NULL"
    source_from = f"{db.name('procedure_occurrence')} po{joins} WHERE {where}"
    procs = db.query(f"""
        SELECT po.procedure_occurrence_id, po.person_id, po.procedure_date, {dt} AS procedure_datetime,
               {qty} AS quantity, po.provider_id, po.visit_occurrence_id, po.procedure_source_value,
               po.procedure_concept_id, po.procedure_source_concept_id{extra}
        FROM {source_from}
        ORDER BY po.procedure_occurrence_id""")
    table = "omop:procedure_occurrence"
    read[table] = len(procs)
    if procs.empty:
        raise InputError(
            f"OMOP database {db.label} must have procedure_occurrence rows with a vertebroplasty or kyphoplasty "
            "code (CPT 22510-22515 in procedure_source_value, or the concepts in [omop]); found none.")
    rows = settings.procedure_code_rows()
    pos = _classify(procs, rows, ["procedure_concept_id", "procedure_source_concept_id"],
                    source="procedure_source_value",
                    concepts=[("c1_vocabulary", "c1_code"), ("c2_vocabulary", "c2_code")], ids=ids)
    procs["procedure_id"] = _ids(procs["procedure_occurrence_id"])
    procs["_source"], procs["_row"] = "procedure_occurrence", pd.to_numeric(procs["procedure_occurrence_id"], errors="coerce")
    procs["_code"] = procs["procedure_source_value"].astype("string")
    unknown = pos.isna()
    logs.append(asm.excluded(table, procs.loc[unknown, "_source"], procs.loc[unknown, "_row"],
                             "procedure_source_value", procs.loc[unknown, "_code"],
                             LEFT_OUT["unknown_procedure"]))
    procs = procs[~unknown].copy()
    kinds = pos[~unknown].astype(int).map(lambda k: rows[k][2])
    addons = pos[~unknown].astype(int).map(lambda k: rows[k][3])
    procs["procedure"] = kinds.to_numpy()
    procs["addon"] = addons.astype(bool).to_numpy()
    procs["patient_id"] = _ids(procs["person_id"])
    procs["t"] = _when(procs["procedure_date"], procs["procedure_datetime"])
    procs["procedure_date"] = pd.to_datetime(procs["procedure_date"], errors="coerce").dt.strftime("%Y-%m-%d").astype("string")
    procs["levels"] = pd.to_numeric(procs["quantity"], errors="coerce").fillna(1.0)
    procs["physician_id"] = _ids(procs["provider_id"])
    procs["visit"] = _ids(procs["visit_occurrence_id"])
    procs["_order"] = np.arange(len(procs))
    procs["complication"] = False
    procs, session_log, remap = asm.merge_sessions(procs, table=table, merge=settings.merge_same_session)
    logs.append(session_log)
    persons_sql = f"(SELECT DISTINCT po.person_id FROM {source_from})"

    # --- persons
    person = db.query(f"SELECT person_id, gender_concept_id, gender_source_value, year_of_birth "
                      f"FROM {db.name('person')} WHERE person_id IN {persons_sql}")
    person["key"] = _ids(person["person_id"])
    person = person.drop_duplicates("key").set_index("key")
    read["omop:person"] = len(person)
    gender = pd.to_numeric(person["gender_concept_id"], errors="coerce").map(GENDER)
    sex = gender.fillna(person["gender_source_value"].astype("string"))
    procs["sex"] = asm.lookup(procs["patient_id"], sex).astype("string")
    birth = pd.to_numeric(asm.lookup(procs["patient_id"], person["year_of_birth"]), errors="coerce")
    year = pd.to_datetime(procs["procedure_date"], errors="coerce").dt.year
    procs["age"] = (year - birth).clip(upper=90).astype(float)  # Safe Harbor: over 89 shown as 90

    # --- visits: discharge, length of stay, site
    if "visit_occurrence" in tables:
        vcols = db.columns("visit_occurrence")
        sdt = "visit_start_datetime" if "visit_start_datetime" in vcols else "NULL"
        edt = "visit_end_datetime" if "visit_end_datetime" in vcols else "NULL"
        visits = db.query(f"""
            SELECT visit_occurrence_id, visit_concept_id, visit_start_date, {sdt} AS visit_start_datetime,
                   visit_end_date, {edt} AS visit_end_datetime, care_site_id
            FROM {db.name('visit_occurrence')} WHERE visit_occurrence_id IN
                 (SELECT po.visit_occurrence_id FROM {source_from})""")
        visits["key"] = _ids(visits["visit_occurrence_id"])
        visits = visits.drop_duplicates("key").set_index("key")
        read["omop:visit_occurrence"] = len(visits)
        start_dt = pd.to_datetime(visits["visit_start_datetime"], errors="coerce")
        end_dt = pd.to_datetime(visits["visit_end_datetime"], errors="coerce")
        hours = asm.hours_between(end_dt, start_dt)
        days = (pd.to_datetime(visits["visit_end_date"], errors="coerce")
                - pd.to_datetime(visits["visit_start_date"], errors="coerce")).dt.days
        kind = _ids(visits["visit_concept_id"]).map(settings.visit_concepts)
        outpatient = kind == "outpatient"
        stayed = (hours >= _OUTPATIENT_MAX_HOURS) | (hours.isna() & (days >= 1))
        discharge = kind.mask(outpatient, "same_day").mask(outpatient & stayed, "overnight").replace("", pd.NA)
        procs["length_of_stay_hours"] = asm.lookup(procs["visit"], hours.where(hours >= 0)).astype(float)
        procs["discharge"] = asm.lookup(procs["visit"], discharge).astype("string")
        procs["site_id"] = asm.lookup(procs["visit"], _ids(visits["care_site_id"])).astype("string")
        used_visits = set(procs["visit"].dropna())
        unused = visits[~visits.index.isin(used_visits)]
        logs.append(asm.excluded("omop:visit_occurrence", "visit_occurrence",
                                 pd.to_numeric(unused["visit_occurrence_id"], errors="coerce"), "visit_occurrence_id",
                                 unused.index.to_series(), LEFT_OUT["visit"]))
    if "provider" in tables:
        prov = db.query(f"SELECT provider_id, care_site_id FROM {db.name('provider')} WHERE provider_id IN "
                        f"(SELECT po.provider_id FROM {source_from})")
        prov_site = pd.Series(_ids(prov["care_site_id"]).to_numpy(), index=_ids(prov["provider_id"]).to_numpy())
        prov_site = prov_site[~prov_site.index.duplicated()]
        site = asm.lookup(procs["physician_id"], prov_site).astype("string")
        procs["site_id"] = procs["site_id"].fillna(site) if "site_id" in procs else site

    # --- conditions: fracture (date, etiology) and complications
    remarks: list[pd.DataFrame] = []
    # adverse events are read when the CDM follows its persons: rows in death or observation_period
    # (OHDSI's conventions give every person an observation period) for the cohort's persons;
    # conditions after the procedure and deaths are then recorded, and their absence means none
    has_events = any(
        t in tables and int(pd.to_numeric(db.query(
            f"SELECT count(*) AS n FROM {db.name(t)} WHERE person_id IN {persons_sql}")["n"]).iloc[0]) > 0
        for t in ("death", "observation_period"))
    event_codes = (list(settings.new_fracture_conditions) + [c for c, _ in settings.complication_events]
                   if has_events else [])
    cond = pd.DataFrame()
    if "condition_occurrence" in tables:
        fx_codes = [c for c, _ in settings.fracture_conditions]
        comp_codes = list(settings.complication_conditions) + event_codes
        ccols = db.columns("condition_occurrence")
        cdt = "condition_start_datetime" if "condition_start_datetime" in ccols else "NULL"
        cond_where = " OR ".join(_code_filter("co.condition_source_value", fx_codes + comp_codes, prefix=True)
                                 + ([f"co.condition_concept_id IN ({', '.join(_concept_ids(fx_codes + comp_codes))})"]
                                    if _concept_ids(fx_codes + comp_codes) else [])) or "FALSE"
        cond = db.query(f"""
            SELECT co.condition_occurrence_id, co.person_id, co.condition_start_date, {cdt} AS condition_start_datetime,
                   co.condition_source_value, co.condition_concept_id, co.visit_occurrence_id
            FROM {db.name('condition_occurrence')} co
            WHERE co.person_id IN {persons_sql} AND ({cond_where})""")
        read["omop:condition_occurrence"] = len(cond)
        cond["key"] = _ids(cond["condition_occurrence_id"])
        cond["patient_id"] = _ids(cond["person_id"])
        cond["visit"] = _ids(cond["visit_occurrence_id"])
        norm = cond["condition_source_value"].astype("string").map(normalise_icd, na_action="ignore")
        etiology = pd.Series(pd.NA, index=cond.index, dtype="object")
        for code, label in settings.fracture_conditions:
            hit = norm.str.startswith(normalise_icd(code.code), na=False) & etiology.isna()
            etiology[hit] = label
        is_comp = pd.Series(False, index=cond.index)
        for code in comp_codes:
            is_comp |= norm.str.startswith(normalise_icd(code.code), na=False)
        cond["etiology"] = etiology
        cond["onset"] = pd.to_datetime(cond["condition_start_date"], errors="coerce").astype("datetime64[ns]")
        cond["onset_text"] = cond["onset"].dt.strftime("%Y-%m-%d").astype("string")
        fractures = cond[cond["etiology"].notna()]
        links = procs[["procedure_id", "visit"]].dropna().merge(
            fractures[["visit", "key"]].dropna(), on="visit")[["procedure_id", "key"]]
        fx = asm.fracture_for(procs, fractures, links, lookback_days=settings.fracture_lookback_days)
        if not fx.empty:
            procs["fracture_date"] = asm.lookup(procs["procedure_id"], fx["fracture_date"])
            procs["etiology"] = asm.lookup(procs["procedure_id"], fx["etiology"])
        comps = cond[is_comp & cond["etiology"].isna()]
        comp_visits = set(comps["visit"].dropna())
        procs["complication"] = procs["visit"].isin(comp_visits)
        used = set(fx["key"]) if not fx.empty else set()
        used |= set(comps.loc[comps["visit"].isin(set(procs["visit"].dropna())), "key"])
        if has_events:
            events_c = _condition_events(cond, procs, remap, settings)
            used |= set(events_c["key"])
        unused = cond[~asm.isin(cond["key"], used)]
        logs.append(asm.excluded("omop:condition_occurrence", "condition_occurrence",
                                 pd.to_numeric(unused["condition_occurrence_id"], errors="coerce"),
                                 "condition_source_value", unused["condition_source_value"],
                                 LEFT_OUT["condition"]))

    # --- pain scores and procedure fields: measurement and observation
    pain_codes = [c for c, _ in settings.pain]
    field_codes = [c for codes in settings.fields.values() for c in codes]
    pain_rows = settings.code_rows(settings.pain)
    field_rows = [(s, c.code, name) for name, codes in settings.fields.items() for c in codes
                  for s in (c.systems or (None,))]
    answer_rows = settings.code_rows(settings.pain_answers)
    function_codes = [c for c, _ in settings.function]
    function_rows = settings.code_rows(settings.function)
    scores, values, function_parts = [], [], []
    for tname, prefix in (("measurement", "measurement"), ("observation", "observation")):
        if tname not in tables:
            continue
        frame = _scores(db, tname, prefix, pain_codes + field_codes + function_codes, persons_sql, has_concept)
        read[f"omop:{tname}"] = len(frame)
        if frame.empty:
            continue
        frame["_source"], frame["_row"] = tname, pd.to_numeric(frame["record_id"], errors="coerce")
        pain_pos = _classify(frame, pain_rows, ["concept_id", "source_concept_id"], source="source_value",
                             concepts=[("c_vocabulary", "c_code")], ids=_concept_ids(pain_codes))
        field_pos = _classify(frame, field_rows, ["concept_id", "source_concept_id"], source="source_value",
                              concepts=[("c_vocabulary", "c_code")], ids=_concept_ids(field_codes))
        function_pos = _classify(frame, function_rows, ["concept_id", "source_concept_id"], source="source_value",
                                 concepts=[("c_vocabulary", "c_code")], ids=_concept_ids(function_codes))
        answer_pos = _classify(frame.assign(answer_source=frame.get("value_source_value")), answer_rows,
                               ["value_as_concept_id"], source="answer_source",
                               concepts=[("v_vocabulary", "v_code")], ids=[])
        number = pd.to_numeric(frame["value_as_number"], errors="coerce")
        if "value_as_string" in frame:
            # the one number rule (checks.number_sql; sql/omop.sql reads value_as_string alike)
            number = number.fillna(number_values(frame["value_as_string"]))
        answer_scores = np.array([row[2] for row in answer_rows] + [np.nan], dtype=float)
        answer = pd.Series(answer_scores[answer_pos.fillna(len(answer_rows)).astype(int).to_numpy()],
                           index=frame.index)
        frame["value"] = number.fillna(answer)
        frame["t"] = _when(frame["record_date"], frame["record_datetime"])
        frame["patient_id"] = _ids(frame["person_id"])
        linked = pd.to_numeric(frame["event_field"], errors="coerce") == PROCEDURE_EVENT_FIELD
        frame["link"] = _ids(frame["event_id"]).where(linked)
        ttable = f"omop:{tname}"
        is_pain = pain_pos.notna()
        is_field = field_pos.notna() & ~is_pain
        is_function = function_pos.notna() & ~is_pain & ~is_field
        other = ~is_pain & ~is_field & ~is_function
        logs.append(asm.excluded(ttable, frame.loc[other, "_source"], frame.loc[other, "_row"], "source_value",
                                 frame.loc[other, "source_value"],
                                 LEFT_OUT["unknown_score"]))
        function_parts.append((ttable, prefix, frame[is_function].assign(
            instrument=function_pos[is_function].astype(int).map(lambda k: function_rows[k][2]),
            pain=frame.loc[is_function, "value"])))
        pain = frame[is_pain].assign(instrument=pain_pos[is_pain].astype(int).map(lambda k: pain_rows[k][2]),
                                     pain=frame.loc[is_pain, "value"])
        no_value = pain["pain"].isna()
        logs.append(asm.excluded(ttable, pain.loc[no_value, "_source"], pain.loc[no_value, "_row"], "value_as_number",
                                 pain.loc[no_value, "value_source_value"] if "value_source_value" in pain else None,
                                 LEFT_OUT["no_score"]))
        pain = pain[~no_value]
        instrument, known_unit = settings.pain_scale(pain["instrument"], pain["unit"])
        logs.append(asm.excluded(ttable, pain.loc[~known_unit, "_source"], pain.loc[~known_unit, "_row"],
                                 "unit_source_value", pain.loc[~known_unit, "unit"],
                                 f"unit not a pain scale unit ({', '.join(settings.pain_units)}; "
                                 "[omop.pain_units] in the mapping file)"))
        pain = pain[known_unit].assign(instrument=instrument[known_unit])
        no_time = pain["t"].isna()
        logs.append(asm.excluded(ttable, pain.loc[no_time, "_source"], pain.loc[no_time, "_row"], f"{prefix}_date",
                                 None, LEFT_OUT["no_date"]))
        scores.append((ttable, pain[~no_time]))
        fields = frame[is_field].assign(field=field_pos[is_field].astype(int).map(lambda k: field_rows[k][2]))
        values.append((ttable, fields))

    assessments_parts = []
    for ttable, pain in scores:
        part, link_log, link_notes = asm.link_scores(pain, procs, remap, table=ttable, window_hours=window,
                                                     horizon_hours=horizon)
        assessments_parts.append(part)
        logs.append(link_log)
        remarks.append(link_notes)
    assessments = pd.concat(assessments_parts, ignore_index=True) if assessments_parts else pd.DataFrame(
        columns=["procedure_id", "hours_after", "pain", "instrument", "_source", "_row"])
    # function scores (ODI, RMDQ, EQ-5D VAS): value_as_number on the instrument's own scale, linked
    # as the pain scores, each table and instrument on its own (sql/omop.sql: _omop_links)
    function_assessments = []
    for ttable, prefix, part in function_parts:
        no_value = part["pain"].isna()
        logs.append(asm.excluded(ttable, part.loc[no_value, "_source"], part.loc[no_value, "_row"], "value_as_number",
                                 part.loc[no_value, "value_source_value"] if "value_source_value" in part else None,
                                 LEFT_OUT["no_function_score"]))
        part = part[~no_value]
        no_time = part["t"].isna()
        logs.append(asm.excluded(ttable, part.loc[no_time, "_source"], part.loc[no_time, "_row"], f"{prefix}_date",
                                 None, LEFT_OUT["no_date"]))
        linked, link_logs, link_notes = asm.link_each_instrument(part[~no_time], procs, remap, table=ttable,
                                                                 window_hours=window, horizon_hours=horizon)
        function_assessments.append(linked)
        logs += link_logs
        remarks += link_notes
    for name in FIELD_CODES:
        parts = [(t, f[f["field"] == name]) for t, f in values]
        parts = [(t, f) for t, f in parts if not f.empty]
        if not parts:
            continue
        both = pd.concat([f.assign(_table=t) for t, f in parts], ignore_index=True)
        taken, used = asm.link_nearest(both, procs, remap, window_hours=window, horizon_hours=horizon)
        procs[name] = asm.lookup(procs["procedure_id"], taken)
        unused = both[~both.index.isin(used)]
        for t, part in unused.groupby("_table"):
            logs.append(asm.excluded(t, part["_source"], part["_row"], "source_value", part["source_value"],
                                     LEFT_OUT["field"]))

    # --- adverse events: conditions after the procedure (above), deaths; the last contact
    events = None
    if has_events:
        events, death_log, dated, follow_up = _deaths_and_contacts(db, procs, persons_sql, tables, read)
        logs.append(death_log)
        if "condition_occurrence" in tables:
            events = pd.concat([events_c[events.columns], events], ignore_index=True)
        # records of the latest-record fallback: pain and function scores with a value and a time
        dated = pd.concat([dated, cond[["patient_id", "onset_text"]].rename(columns={"onset_text": "day"})
                           if len(cond) else dated.iloc[:0],
                           *[part.assign(day=part["t"].dt.strftime("%Y-%m-%d"))[["patient_id", "day"]]
                             for _, part in scores],
                           *[part[part["pain"].notna() & part["t"].notna()]
                             .assign(day=lambda f: f["t"].dt.strftime("%Y-%m-%d"))[["patient_id", "day"]]
                             for _, _, part in function_parts]], ignore_index=True)
        # the observation period is the CDM's follow-up: a later measurement does not extend it
        procs["last_contact_date"] = asm.last_contact(procs, dated, follow_up)

    # --- persons without an analysed procedure
    unused_p = person[~asm.isin(person.index.to_series(), set(procs["patient_id"].dropna())).to_numpy()]
    logs.append(asm.excluded("omop:person", "person", pd.to_numeric(unused_p["person_id"], errors="coerce"),
                             "person_id", unused_p.index.to_series(),
                             LEFT_OUT["person"]))

    base = assessments[(assessments["hours_after"] <= 0) & (assessments["hours_after"] >= -window)]
    base = base.sort_values(["procedure_id", "hours_after"], kind="stable").drop_duplicates("procedure_id", keep="last")
    scale = base["instrument"].astype(object).map({"nrs": 1.0, "vas10": 1.0, "vas100": 0.1}).astype(float)
    procs["baseline_pain"] = asm.lookup(procs["procedure_id"], pd.Series((base["pain"] * scale).to_numpy(),
                                                                 index=base["procedure_id"].to_numpy()))
    for column in ("fracture_date", "etiology", "discharge", "length_of_stay_hours", "site_id"):
        if column not in procs:
            procs[column] = pd.NA
    canonical_procs = procs.assign(complication=procs["complication"].astype("boolean"))[
        ["_source", "_row", "procedure_id", "patient_id", "procedure", "procedure_date", "fracture_date",
         "baseline_pain", "levels_treated", "etiology", "age", "sex", "discharge", "length_of_stay_hours",
         "complication", "physician_id", "site_id"] + [c for c in FIELD_CODES if c in procs]
        + [c for c in ("last_contact_date",) if c in procs]]
    assessments = pd.concat([assessments, *[f for f in function_assessments if len(f)]], ignore_index=True)
    canonical_ass = assessments[["_source", "_row", "procedure_id", "hours_after", "pain", "instrument"]]
    sources = {"procedures": f"OMOP {db.label} (procedure_occurrence)",
               "assessments": f"OMOP {db.label} (measurement, observation: pain scores)",
               **{k: f"OMOP {db.label}" for k in read}}
    digest = asm.frame_digest(canonical_procs.astype(str), canonical_ass.astype(str))
    return asm.build_cohort(canonical_procs, canonical_ass, source_log=logs, source_remarks=remarks, read=read,
                            sources=sources, input_hashes={"omop": digest}, mapping=canonical,
                            definitions=definitions, allow_identifiers=allow_identifiers, events=events)


_EVENT_COLUMNS = ["_source", "_row", "procedure_id", "event", "event_date", "severity"]


def _condition_events(cond: pd.DataFrame, procs: pd.DataFrame, remap: dict[str, str],
                      settings: SourceSettings) -> pd.DataFrame:
    """Conditions that are adverse events of a procedure: a new vertebral fracture started after
    the procedure's day, a complication (``complication_events``) in the procedure's visit or
    started on or after its day; linked to the visit's procedure, else the patient's latest
    procedure before them (within ``follow_up_days``). Columns of the events table and ``key``."""
    systems = pd.Series([[CONDITION_SYSTEM]] * len(cond), index=cond.index, dtype=object)
    codes = cond["condition_source_value"].map(lambda v: [str(v)] if isinstance(v, str) else [])
    kinds = settings.condition_events(systems, codes)
    cand = cond.assign(event=kinds["event"], severity=kinds["severity"].replace("", pd.NA))
    cand = cand[cand["event"].notna()].copy()
    visit_proc = procs.dropna(subset=["visit"]).drop_duplicates("visit").set_index("visit")["procedure_id"]
    in_visit = asm.lookup(cand["visit"], visit_proc)
    cand["link"] = in_visit.where(cand["event"] != "new_fracture")
    cand["day"] = cand["onset_text"]
    cand["strict"] = cand["event"] == "new_fracture"
    cand["procedure_id"] = asm.link_events(cand, procs, remap, horizon_days=settings.follow_up_days)
    cand = cand[cand["procedure_id"].notna()]
    out = pd.DataFrame({"_source": "condition_occurrence",
                        "_row": pd.to_numeric(cand["condition_occurrence_id"], errors="coerce").to_numpy(),
                        "procedure_id": cand["procedure_id"].astype("string").to_numpy(),
                        "event": cand["event"].astype("string").to_numpy(),
                        "event_date": cand["onset_text"].astype("string").to_numpy(),
                        "severity": cand["severity"].astype("string").to_numpy(),
                        "key": cand["key"].to_numpy()})
    return out


def _deaths_and_contacts(db: _Database, procs: pd.DataFrame, persons_sql: str, tables: set,
                         read: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Deaths (``death.death_date``: an event of each of the person's procedures on or before it),
    the dated records of the last contact (the death and the procedures) and the ends of the
    persons' follow-up (``observation_period_end_date``), which take precedence over records."""
    death = (db.query(f"SELECT person_id, death_date FROM {db.name('death')} WHERE person_id IN {persons_sql}")
             if "death" in tables else pd.DataFrame({"person_id": [], "death_date": []}))
    if "death" in tables:
        read["omop:death"] = len(death)
    death["patient_id"] = _ids(death["person_id"])
    death["day"] = pd.to_datetime(death["death_date"], errors="coerce").dt.strftime("%Y-%m-%d").astype("string")
    death = death.sort_values("day", kind="stable").drop_duplicates("patient_id")
    pairs = procs[["procedure_id", "patient_id", "procedure_date"]].merge(
        death[["patient_id", "person_id", "day"]], on="patient_id", how="inner")
    pairs = pairs[pd.to_datetime(pairs["day"], errors="coerce") >= pd.to_datetime(pairs["procedure_date"],
                                                                                  errors="coerce")]
    unused = death[~asm.isin(death["patient_id"], set(pairs["patient_id"]))]
    log = asm.excluded("omop:death", "death", pd.to_numeric(unused["person_id"], errors="coerce"), "death_date",
                       unused["day"], LEFT_OUT["death"])
    events = pd.DataFrame({"_source": "death", "_row": pd.to_numeric(pairs["person_id"], errors="coerce").to_numpy(),
                           "procedure_id": pairs["procedure_id"].astype("string").to_numpy(), "event": "death",
                           "event_date": pairs["day"].astype("string").to_numpy(), "severity": "major"})
    dated = [death[["patient_id", "day"]], procs[["patient_id", "procedure_date"]].rename(columns={"procedure_date": "day"})]
    if "observation_period" in tables:
        period = db.query(f"SELECT person_id, observation_period_end_date FROM {db.name('observation_period')} "
                          f"WHERE person_id IN {persons_sql}")
        read["omop:observation_period"] = len(period)
        follow_up = pd.DataFrame({"patient_id": _ids(period["person_id"]).to_numpy(),
                                  "day": pd.to_datetime(period["observation_period_end_date"], errors="coerce")
                                  .dt.strftime("%Y-%m-%d").to_numpy()})
    else:
        follow_up = pd.DataFrame({"patient_id": [], "day": []})
    return events[_EVENT_COLUMNS], log, pd.concat(dated, ignore_index=True), follow_up


def _scores(db: _Database, table: str, prefix: str, codes: list[Code], persons_sql: str,
            has_concept: bool) -> pd.DataFrame:
    """Rows of ``measurement`` / ``observation`` with the codes, for the selected persons."""
    cols = db.columns(table)
    short = "meas" if prefix == "measurement" else "obs"

    def col(name: str, alias: str) -> str:
        return f"x.{name} AS {alias}" if name in cols else f"NULL AS {alias}"

    conds = _code_filter(f"x.{prefix}_source_value", codes)
    ids = _concept_ids(codes)
    if ids:
        conds.append(f"x.{prefix}_concept_id IN ({', '.join(ids)})")
    joins, extra = "", ", NULL AS c_vocabulary, NULL AS c_code, NULL AS v_vocabulary, NULL AS v_code"
    if has_concept:
        joins = (f" LEFT JOIN {db.name('concept')} c ON c.concept_id = x.{prefix}_concept_id"
                 f" LEFT JOIN {db.name('concept')} v ON v.concept_id = x.value_as_concept_id")
        conds += _concept_filter(codes, "c")
        extra = ", c.vocabulary_id AS c_vocabulary, c.concept_code AS c_code, " \
                "v.vocabulary_id AS v_vocabulary, v.concept_code AS v_code"
    where = " OR ".join(conds) or "FALSE"
    frame = db.query(f"""
        SELECT x.{prefix}_id AS record_id, x.person_id, x.{prefix}_date AS record_date,
               {col(prefix + '_datetime', 'record_datetime')}, x.value_as_number,
               {col('value_as_concept_id', 'value_as_concept_id')}, {col('value_as_string', 'value_as_string')},
               {col('value_source_value', 'value_source_value')}, {col('unit_source_value', 'unit')},
               x.{prefix}_source_value AS source_value, x.{prefix}_concept_id AS concept_id,
               {col(prefix + '_source_concept_id', 'source_concept_id')},
               {col(prefix + '_event_id', 'event_id')}, {col(short + '_event_field_concept_id', 'event_field')}{extra}
        FROM {db.name(table)} x{joins}
        WHERE x.person_id IN {persons_sql} AND ({where})
        ORDER BY x.{prefix}_id""")
    return frame


# ------------------------------------------------------------------------------------------
# writing

_INT, _DATE, _TS, _NUM = "INTEGER", "DATE", "TIMESTAMP", "NUMERIC"


def _v(n: int) -> str:
    return f"VARCHAR({n})"


# OMOP CDM v5.4 (the tables written here): columns, types and NOT NULL as in the official DDL
# (OHDSI/CommonDataModel inst/ddl/5.4; a test compares them), in its order; the first column is
# the table's primary key (xpk_<table>).
DDL: dict[str, list[tuple[str, str, bool]]] = {
    "person": [("person_id", _INT, True), ("gender_concept_id", _INT, True), ("year_of_birth", _INT, True),
               ("month_of_birth", _INT, False), ("day_of_birth", _INT, False), ("birth_datetime", _TS, False),
               ("race_concept_id", _INT, True), ("ethnicity_concept_id", _INT, True), ("location_id", _INT, False),
               ("provider_id", _INT, False), ("care_site_id", _INT, False), ("person_source_value", _v(50), False),
               ("gender_source_value", _v(50), False), ("gender_source_concept_id", _INT, False),
               ("race_source_value", _v(50), False), ("race_source_concept_id", _INT, False),
               ("ethnicity_source_value", _v(50), False), ("ethnicity_source_concept_id", _INT, False)],
    "care_site": [("care_site_id", _INT, True), ("care_site_name", _v(255), False),
                  ("place_of_service_concept_id", _INT, False), ("location_id", _INT, False),
                  ("care_site_source_value", _v(50), False), ("place_of_service_source_value", _v(50), False)],
    "provider": [("provider_id", _INT, True), ("provider_name", _v(255), False), ("npi", _v(20), False),
                 ("dea", _v(20), False), ("specialty_concept_id", _INT, False), ("care_site_id", _INT, False),
                 ("year_of_birth", _INT, False), ("gender_concept_id", _INT, False),
                 ("provider_source_value", _v(50), False), ("specialty_source_value", _v(50), False),
                 ("specialty_source_concept_id", _INT, False), ("gender_source_value", _v(50), False),
                 ("gender_source_concept_id", _INT, False)],
    "visit_occurrence": [("visit_occurrence_id", _INT, True), ("person_id", _INT, True),
                         ("visit_concept_id", _INT, True), ("visit_start_date", _DATE, True),
                         ("visit_start_datetime", _TS, False), ("visit_end_date", _DATE, True),
                         ("visit_end_datetime", _TS, False), ("visit_type_concept_id", _INT, True),
                         ("provider_id", _INT, False), ("care_site_id", _INT, False),
                         ("visit_source_value", _v(50), False), ("visit_source_concept_id", _INT, False),
                         ("admitted_from_concept_id", _INT, False), ("admitted_from_source_value", _v(50), False),
                         ("discharged_to_concept_id", _INT, False), ("discharged_to_source_value", _v(50), False),
                         ("preceding_visit_occurrence_id", _INT, False)],
    "procedure_occurrence": [("procedure_occurrence_id", _INT, True), ("person_id", _INT, True),
                             ("procedure_concept_id", _INT, True), ("procedure_date", _DATE, True),
                             ("procedure_datetime", _TS, False), ("procedure_end_date", _DATE, False),
                             ("procedure_end_datetime", _TS, False), ("procedure_type_concept_id", _INT, True),
                             ("modifier_concept_id", _INT, False), ("quantity", _INT, False),
                             ("provider_id", _INT, False), ("visit_occurrence_id", _INT, False),
                             ("visit_detail_id", _INT, False), ("procedure_source_value", _v(50), False),
                             ("procedure_source_concept_id", _INT, False), ("modifier_source_value", _v(50), False)],
    "condition_occurrence": [("condition_occurrence_id", _INT, True), ("person_id", _INT, True),
                             ("condition_concept_id", _INT, True), ("condition_start_date", _DATE, True),
                             ("condition_start_datetime", _TS, False), ("condition_end_date", _DATE, False),
                             ("condition_end_datetime", _TS, False), ("condition_type_concept_id", _INT, True),
                             ("condition_status_concept_id", _INT, False), ("stop_reason", _v(20), False),
                             ("provider_id", _INT, False), ("visit_occurrence_id", _INT, False),
                             ("visit_detail_id", _INT, False), ("condition_source_value", _v(50), False),
                             ("condition_source_concept_id", _INT, False),
                             ("condition_status_source_value", _v(50), False)],
    "measurement": [("measurement_id", _INT, True), ("person_id", _INT, True), ("measurement_concept_id", _INT, True),
                    ("measurement_date", _DATE, True), ("measurement_datetime", _TS, False),
                    ("measurement_time", _v(10), False), ("measurement_type_concept_id", _INT, True),
                    ("operator_concept_id", _INT, False), ("value_as_number", _NUM, False),
                    ("value_as_concept_id", _INT, False), ("unit_concept_id", _INT, False),
                    ("range_low", _NUM, False), ("range_high", _NUM, False), ("provider_id", _INT, False),
                    ("visit_occurrence_id", _INT, False), ("visit_detail_id", _INT, False),
                    ("measurement_source_value", _v(50), False), ("measurement_source_concept_id", _INT, False),
                    ("unit_source_value", _v(50), False), ("unit_source_concept_id", _INT, False),
                    ("value_source_value", _v(50), False), ("measurement_event_id", _INT, False),
                    ("meas_event_field_concept_id", _INT, False)],
    "observation": [("observation_id", _INT, True), ("person_id", _INT, True), ("observation_concept_id", _INT, True),
                    ("observation_date", _DATE, True), ("observation_datetime", _TS, False),
                    ("observation_type_concept_id", _INT, True), ("value_as_number", _NUM, False),
                    ("value_as_string", _v(60), False), ("value_as_concept_id", _INT, False),
                    ("qualifier_concept_id", _INT, False), ("unit_concept_id", _INT, False),
                    ("provider_id", _INT, False), ("visit_occurrence_id", _INT, False),
                    ("visit_detail_id", _INT, False), ("observation_source_value", _v(50), False),
                    ("observation_source_concept_id", _INT, False), ("unit_source_value", _v(50), False),
                    ("qualifier_source_value", _v(50), False), ("value_source_value", _v(50), False),
                    ("observation_event_id", _INT, False), ("obs_event_field_concept_id", _INT, False)],
    "concept": [("concept_id", _INT, True), ("concept_name", _v(255), True), ("domain_id", _v(20), True),
                ("vocabulary_id", _v(20), True), ("concept_class_id", _v(20), True),
                ("standard_concept", _v(1), False), ("concept_code", _v(50), True),
                ("valid_start_date", _DATE, True), ("valid_end_date", _DATE, True), ("invalid_reason", _v(1), False)],
}


# Tables written only with an events table (write_omop(events=...)), as the v5.4 DDL has them;
# death has no primary key there.
EVENT_DDL: dict[str, list[tuple[str, str, bool]]] = {
    "observation_period": [("observation_period_id", _INT, True), ("person_id", _INT, True),
                           ("observation_period_start_date", _DATE, True), ("observation_period_end_date", _DATE, True),
                           ("period_type_concept_id", _INT, True)],
    "death": [("person_id", _INT, True), ("death_date", _DATE, True), ("death_datetime", _TS, False),
              ("death_type_concept_id", _INT, False), ("cause_concept_id", _INT, False),
              ("cause_source_value", _v(50), False), ("cause_source_concept_id", _INT, False)],
}
# The condition each event is written as (ICD-10-CM); types without a code of their own are
# T81.89XA, other complications of procedures, and read back as "other".
_EVENT_CONDITION = {"new_fracture": "M48.50XA", "pulmonary_embolism": "I26.99", "infection": "T81.40XA",
                    "neurologic_deficit": "G95.20", "rib_fracture": "S22.31XA"}


def _frame(table: str, data: dict[str, Any], n: int) -> pd.DataFrame:
    """A frame with every column of ``table`` (missing ones empty), in DDL order."""
    out = {}
    for name, kind, _ in {**DDL, **EVENT_DDL}[table]:
        value = data.get(name)
        if value is None:
            value = pd.Series([None] * n, dtype=object)
        out[name] = pd.Series(value).reset_index(drop=True) if not np.isscalar(value) else pd.Series([value] * n)
        if kind == _INT:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype("Int64")
        elif kind == _NUM:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
        elif kind in (_DATE, _TS):
            out[name] = pd.to_datetime(out[name], errors="coerce")
            if kind == _DATE:
                out[name] = out[name].dt.normalize()
        else:
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return pd.DataFrame(out)


def write_omop(
    procedures: pd.DataFrame,
    assessments: pd.DataFrame,
    target: str | os.PathLike[str],
    *,
    schema: str | None = None,
    link_measurements: bool = True,
    pain_encoding: str = "mixed",
    events: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Write canonical tables (e.g. from :func:`outcomes.synthetic.simulate`) as OMOP CDM v5.4 tables.

    Parameters
    ----------
    procedures, assessments : pandas.DataFrame
        The canonical long form; ``assessments`` with ``hours_after``. Every patient needs an
        ``age`` (``person.year_of_birth`` is required).
    target : str or path
        A PostgreSQL URL, or a DuckDB / SQLite file (created if missing).
    schema : str, optional
        Created if missing (PostgreSQL, DuckDB).
    link_measurements : bool, default True
        Fill ``measurement_event_id`` / ``meas_event_field_concept_id`` (1147082) with the
        procedure; False leaves linking to time.
    pain_encoding : {"mixed", "number"}
        "number": every score in ``measurement.value_as_number`` with source value 72514-3.
        "mixed" cycles through four forms a warehouse holds: a number, an LL2335-9 answer
        concept in ``value_as_concept_id``, an ``observation`` row, and a measurement known only
        by its concept (``measurement_concept_id``, no source value).
    events : pandas.DataFrame, optional
        The events table (e.g. from :func:`outcomes.synthetic.simulate_safety`): each event a
        ``condition_occurrence`` (ICD-10-CM: new fracture M48.50XA, pulmonary embolism I26.99,
        infection T81.40XA, neurologic deficit G95.20, rib fracture S22.31XA, any other
        T81.89XA; complications in the procedure's visit; OMOP conditions carry no severity),
        a death a ``death`` row, and each procedure's ``last_contact_days`` the end of the
        person's ``observation_period``.

    Returns
    -------
    dict
        Table -> rows written.

    Raises
    ------
    InputError
        A patient without an age, or an existing table without a column of the v5.4 DDL.

    Notes
    -----
    Tables that exist (e.g. a schema made with the official DDL, its primary and foreign keys)
    are written into, never dropped: rows are added after the highest id in use, and
    ``concept`` rows only where the concept id is new. Tables that do not exist are created as
    the v5.4 DDL has them (INTEGER ids, NOT NULL, the primary key); with foreign keys in force the
    concepts written must be in ``concept`` (they are in any OMOP vocabulary: 0, 8507, 8532,
    9201, 9202, 32817, 1147082) and so must the vocabulary, domain and concept class of the
    package's own concepts (LOINC; Measurement, Meas Value; Clinical Observation, Answer).

    Ids: ``procedure_occurrence_id`` follows the procedure's position in ``procedures``,
    ``person_id`` and ``provider_id`` number patients and physicians in order of appearance,
    ``care_site_id`` the sites. The canonical ids are kept in ``*_source_value`` columns: the
    patient's in ``person_source_value``, the physician's and site's in
    ``provider_source_value`` / ``care_site_source_value``, and the procedure's in
    ``visit_source_value`` of the procedure's own visit (``procedure_source_value`` holds the
    CPT code, as a warehouse has it). A procedure of several levels is one row with quantity 1
    and an add-on row (22512 / 22515) with quantity levels - 1. The visit: 9202 outpatient for
    same_day and overnight, 9201 inpatient for admitted, 0 when neither the discharge nor the
    length of stay is known; it ends ``length_of_stay_hours`` after the procedure, or, without
    one, on the next day for an overnight stay or admission (so it reads back as overnight,
    never as a zero-length visit). Fractures and complications (T81.89XA) are conditions of the
    procedure's visit. The package's own concepts (LOINC 72514-3 and the LL2335-9 answers) have
    ids above 2,000,000,000, the local range. Nothing here describes a real patient.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from outcomes.synthetic import simulate
    >>> procedures, assessments, _ = simulate(20, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     counts = write_omop(procedures, assessments, pathlib.Path(tmp) / "cdm.duckdb")
    >>> counts["procedure_occurrence"] >= 20
    True
    """
    if pain_encoding not in ("mixed", "number"):
        raise InputError(f"`pain_encoding` must be 'mixed' or 'number'; got {pain_encoding!r}.")
    procs = procedures.reset_index(drop=True)
    if len(procs) and ("age" not in procs or pd.to_numeric(procs["age"], errors="coerce").isna().any()):
        row = 0 if "age" not in procs else int(np.flatnonzero(pd.to_numeric(procs["age"], errors="coerce").isna())[0])
        raise InputError(f"`age` must be given for every procedure written to OMOP (person.year_of_birth is "
                         f"required); got a missing age in row {row + 1} of procedures.")
    db = _Database(target, schema, create=True)
    try:
        if schema and db.kind == "duckdb":
            db.execute(f'CREATE SCHEMA IF NOT EXISTS "{db.catalog}"."{schema}"')
        elif schema and db.kind == "postgres":
            db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        existing = db.tables()
        offsets = {}
        for table, columns in DDL.items():
            if table not in existing:
                cols = ", ".join(f"{name} {kind}{' NOT NULL' if required else ''}" for name, kind, required in columns)
                db.execute(f"CREATE TABLE {db.name(table)} ({cols}, PRIMARY KEY ({columns[0][0]}))")
                offsets[table] = 0
                continue
            missing = [name for name, _, _ in columns if name not in db.columns(table)]
            if missing:
                raise InputError(f"`{table}` in {db.label} must have the columns of the OMOP CDM v5.4 DDL; got a "
                                 f"table without {', '.join(missing)}.")
            top = db.query(f"SELECT max({columns[0][0]}) AS top FROM {db.name(table)}")
            value = pd.to_numeric(top["top"], errors="coerce").iloc[0] if len(top) else np.nan
            offsets[table] = 0 if pd.isna(value) else int(value)
        tables = _omop_tables(procs, assessments.reset_index(drop=True), link=link_measurements,
                              mixed=pain_encoding == "mixed", offsets=offsets)
        order = _WRITE_ORDER
        if events is not None:
            for table, columns in EVENT_DDL.items():
                if table not in existing:
                    cols = ", ".join(f"{name} {kind}{' NOT NULL' if required else ''}" for name, kind, required in columns)
                    key = f", PRIMARY KEY ({columns[0][0]})" if table != "death" else ""
                    db.execute(f"CREATE TABLE {db.name(table)} ({cols}{key})")
                    offsets[table] = 0
                else:
                    top = db.query(f"SELECT max({columns[0][0]}) AS top FROM {db.name(table)}")
                    value = pd.to_numeric(top["top"], errors="coerce").iloc[0] if len(top) else np.nan
                    offsets[table] = 0 if pd.isna(value) else int(value)
            tables.update(_event_tables(procs, events.reset_index(drop=True), tables, offsets))
            order = (*_WRITE_ORDER, *EVENT_DDL)
        if "concept" in existing and not tables["concept"].empty:
            ids = ", ".join(str(int(i)) for i in tables["concept"]["concept_id"])
            have = db.query(f"SELECT concept_id FROM {db.name('concept')} WHERE concept_id IN ({ids})")
            held = set(pd.to_numeric(have["concept_id"], errors="coerce").dropna().astype(int)) if len(have) else set()
            tables["concept"] = tables["concept"][~tables["concept"]["concept_id"].astype(int).isin(held)]
        for table in order:  # referenced rows first: foreign keys hold after each insert
            db.insert(table, tables[table])
    finally:
        db.close()
    return {table: len(frame) for table, frame in tables.items()}


_WRITE_ORDER = ("concept", "care_site", "provider", "person", "visit_occurrence", "procedure_occurrence",
                "condition_occurrence", "measurement", "observation")


def _event_tables(procs: pd.DataFrame, events: pd.DataFrame, tables: dict[str, pd.DataFrame],
                  offsets: dict[str, int]) -> dict[str, pd.DataFrame]:
    """Conditions (added to ``tables["condition_occurrence"]``), deaths and observation periods
    of an events table (see write_omop's ``events``)."""
    n = len(procs)
    pid = procs["procedure_id"].astype("string").str.strip()
    patient = procs["patient_id"].astype("string").str.strip().replace("", pd.NA)
    codes, _ = pd.factorize(patient)  # person ids as _omop_tables numbers them
    person = pd.Series(offsets["person"] + codes + 1, index=procs.index).where(codes >= 0)
    visit = pd.Series(offsets["visit_occurrence"] + np.arange(1, n + 1), index=procs.index)
    date = pd.to_datetime(procs["procedure_date"], errors="coerce")
    where = pd.Series(np.arange(n), index=pid.to_numpy())
    where = where[~where.index.duplicated()]
    ev = events[events["procedure_id"].astype("string").isin(where.index)]
    pos = where.loc[ev["procedure_id"].astype("string")].to_numpy()
    day = (date.to_numpy()[pos] + pd.to_timedelta(pd.to_numeric(ev["days_after"], errors="coerce"), unit="D")
           .to_numpy())
    kind = ev["event"].astype("string").to_numpy()
    is_death = kind == "death"
    cond = ~is_death
    fracture = kind == "new_fracture"
    rows = _frame("condition_occurrence", {
        "person_id": person.to_numpy()[pos][cond], "condition_concept_id": 0, "condition_start_date": day[cond],
        "condition_type_concept_id": _EHR,
        "visit_occurrence_id": pd.Series(visit.to_numpy()[pos][cond]).where(~fracture[cond]),
        "condition_source_value": [_EVENT_CONDITION.get(k, "T81.89XA") for k in kind[cond]]}, int(cond.sum()))
    top = int(tables["condition_occurrence"]["condition_occurrence_id"].max()) if len(tables["condition_occurrence"]) \
        else offsets["condition_occurrence"]
    rows["condition_occurrence_id"] = (top + np.arange(1, len(rows) + 1)).astype("int64")
    tables["condition_occurrence"] = pd.concat([tables["condition_occurrence"], rows], ignore_index=True)
    deaths = pd.DataFrame({"person_id": person.to_numpy()[pos][is_death], "day": day[is_death]})
    deaths = deaths.dropna().sort_values("day", kind="stable").drop_duplicates("person_id")
    death = _frame("death", {"person_id": deaths["person_id"], "death_date": deaths["day"],
                             "death_type_concept_id": _EHR}, len(deaths))
    if "last_contact_days" in procs:
        last = date + pd.to_timedelta(pd.to_numeric(procs["last_contact_days"], errors="coerce"), unit="D")
        frame = pd.DataFrame({"person_id": person, "start": date, "end": last}).dropna()
        spans = frame.groupby("person_id").agg(start=("start", "min"), end=("end", "max")).reset_index()
    else:
        spans = pd.DataFrame({"person_id": [], "start": [], "end": []})
    period = _frame("observation_period", {
        "observation_period_id": offsets.get("observation_period", 0) + np.arange(1, len(spans) + 1),
        "person_id": spans["person_id"], "observation_period_start_date": spans["start"],
        "observation_period_end_date": spans["end"], "period_type_concept_id": _EHR}, len(spans))
    return {"death": death, "observation_period": period}


def _omop_tables(procs: pd.DataFrame, ass: pd.DataFrame, *, link: bool, mixed: bool,
                 offsets: dict[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """The rows of each table; ids start after ``offsets[table]`` (the highest id in use)."""
    offsets = dict.fromkeys(DDL, 0) | (offsets or {})
    n = len(procs)
    text = {c: procs[c].astype("string").str.strip().replace("", pd.NA) if c in procs else pd.Series(pd.NA, index=procs.index, dtype="string")
            for c in ("procedure_id", "patient_id", "procedure", "procedure_date", "fracture_date", "etiology", "sex",
                      "discharge", "physician_id", "site_id", "complication")}
    number = {c: pd.to_numeric(procs[c], errors="coerce") if c in procs else pd.Series(np.nan, index=procs.index)
              for c in ("age", "levels_treated", "length_of_stay_hours", *FIELD_CODES)}
    date = pd.to_datetime(text["procedure_date"], errors="coerce")
    ok = date.notna() & text["patient_id"].notna()
    proc_id = pd.Series(offsets["procedure_occurrence"] + np.arange(1, n + 1), index=procs.index)
    visit_id = pd.Series(offsets["visit_occurrence"] + np.arange(1, n + 1), index=procs.index)
    person_codes, person_keys = pd.factorize(text["patient_id"])
    person_id = pd.Series(offsets["person"] + person_codes + 1, index=procs.index).where(person_codes >= 0)
    doc_codes, doc_keys = pd.factorize(text["physician_id"])
    provider_id = pd.Series(offsets["provider"] + doc_codes + 1, index=procs.index).where(doc_codes >= 0)
    site_codes, site_keys = pd.factorize(text["site_id"])
    site_id = pd.Series(offsets["care_site"] + site_codes + 1, index=procs.index).where(site_codes >= 0)

    first = ~text["patient_id"].duplicated() & text["patient_id"].notna()
    sex = text["sex"].str.upper()
    person = _frame("person", {
        "person_id": person_id[first], "gender_concept_id": sex[first].map({"F": 8532, "M": 8507}).fillna(0),
        "year_of_birth": (date.dt.year - number["age"])[first], "race_concept_id": 0, "ethnicity_concept_id": 0,
        "person_source_value": text["patient_id"][first], "gender_source_value": sex[first],
    }, int(first.sum()))
    person = person[person["year_of_birth"].notna()]
    care_site = _frame("care_site", {"care_site_id": offsets["care_site"] + np.arange(1, len(site_keys) + 1),
                                     "care_site_name": list(site_keys),
                                     "care_site_source_value": list(site_keys)}, len(site_keys))
    doc_site = pd.Series(site_id.to_numpy(), index=provider_id.to_numpy()).groupby(level=0).first()
    doc_ids = offsets["provider"] + np.arange(1, len(doc_keys) + 1)
    provider = _frame("provider", {"provider_id": doc_ids, "care_site_id": doc_site.reindex(doc_ids).to_numpy(),
                                   "provider_source_value": list(doc_keys)}, len(doc_keys))

    los = number["length_of_stay_hours"]
    discharge = text["discharge"].str.lower()
    # without a length of stay an overnight stay or admission ends the next day (never a
    # zero-length visit, which reads back as same day); a same-day visit ends on its day
    nights = discharge.isin(["overnight", "admitted"]).astype(float)
    end = date + pd.to_timedelta(los.where(los.notna(), nights * 24.0), unit="h")
    # 0 (no matching concept) when neither the discharge nor the length of stay is known
    visit_concept = discharge.map({"same_day": 9202, "overnight": 9202, "admitted": 9201})
    visit_concept = visit_concept.fillna(9202).where(discharge.notna() | los.notna(), 0)
    visit = _frame("visit_occurrence", {
        "visit_occurrence_id": visit_id, "person_id": person_id, "visit_concept_id": visit_concept,
        "visit_start_date": date, "visit_start_datetime": date, "visit_end_date": end,
        "visit_end_datetime": end.where(los.notna()), "visit_type_concept_id": _EHR, "provider_id": provider_id,
        "care_site_id": site_id, "visit_source_value": text["procedure_id"],
    }, n)[ok.to_numpy()]

    kind = text["procedure"].str.lower()
    primary_code = kind.map({"vertebroplasty": "22510", "kyphoplasty": "22513"}).fillna(text["procedure"])
    addon_code = kind.map({"vertebroplasty": "22512", "kyphoplasty": "22515"})
    levels = number["levels_treated"]
    primary = _frame("procedure_occurrence", {
        "procedure_occurrence_id": proc_id, "person_id": person_id, "procedure_concept_id": 0,
        "procedure_date": date, "procedure_datetime": date, "procedure_type_concept_id": _EHR, "quantity": 1,
        "provider_id": provider_id, "visit_occurrence_id": visit_id, "procedure_source_value": primary_code,
    }, n)[ok.to_numpy()]
    more = ok & (levels > 1) & addon_code.notna()
    addon = _frame("procedure_occurrence", {
        "procedure_occurrence_id": offsets["procedure_occurrence"] + n + np.arange(1, int(more.sum()) + 1),
        "person_id": person_id[more],
        "procedure_concept_id": 0, "procedure_date": date[more], "procedure_datetime": date[more],
        "procedure_type_concept_id": _EHR, "quantity": (levels - 1)[more], "provider_id": provider_id[more],
        "visit_occurrence_id": visit_id[more], "procedure_source_value": addon_code[more],
    }, int(more.sum()))
    procedure = pd.concat([primary, addon], ignore_index=True)

    fracture = pd.to_datetime(text["fracture_date"], errors="coerce")
    fx_code = text["etiology"].str.lower().map({"osteoporosis": "M80.08XA", "malignancy": "M84.58XA",
                                                "trauma": "S22.000A"}).fillna("M48.50XA")
    has_fx = ok & fracture.notna()
    comp = ok & text["complication"].str.lower().isin(["true", "1", "yes", "1.0"])
    cond = pd.concat([
        _frame("condition_occurrence", {
            "person_id": person_id[has_fx], "condition_concept_id": 0, "condition_start_date": fracture[has_fx],
            "condition_type_concept_id": _EHR, "visit_occurrence_id": visit_id[has_fx],
            "condition_source_value": fx_code[has_fx]}, int(has_fx.sum())),
        _frame("condition_occurrence", {
            "person_id": person_id[comp], "condition_concept_id": 0, "condition_start_date": date[comp],
            "condition_type_concept_id": _EHR, "visit_occurrence_id": visit_id[comp],
            "condition_source_value": "T81.89XA"}, int(comp.sum())),
    ], ignore_index=True)
    cond["condition_occurrence_id"] = offsets["condition_occurrence"] + np.arange(1, len(cond) + 1)

    # pain scores (and the procedure fields) as measurements / observations
    pos = ass["procedure_id"].astype("string").map(pd.Series(np.arange(n), index=text["procedure_id"]).loc[
        lambda s: ~s.index.duplicated()])
    ass = ass[pos.notna()].assign(_pos=pos[pos.notna()].astype(int))
    ass = ass[ok.to_numpy()[ass["_pos"].to_numpy()]]
    ass, function = split_written_scores(ass)
    hours = pd.to_numeric(ass["hours_after"], errors="coerce")
    pain = pd.to_numeric(ass["pain"], errors="coerce")
    instrument = ass["instrument"].astype("string").str.lower() if "instrument" in ass else pd.Series("nrs", index=ass.index)
    pain = pain * instrument.map({"vas100": 0.1}).astype(float).fillna(1.0)
    ass = ass[hours.notna()].assign(hours=hours[hours.notna()], score=pain[hours.notna()])
    at = date.iloc[ass["_pos"]].to_numpy() + pd.to_timedelta(np.round(ass["hours"].to_numpy() * 3_600_000), unit="ms")
    k = np.arange(len(ass)) % 4 if mixed else np.zeros(len(ass), dtype=int)
    whole = ass["score"].notna() & (ass["score"] % 1 == 0) & ass["score"].between(0, 10)
    as_answer = (k == 1) & whole.to_numpy()
    in_observation = k == 2
    by_concept = k == 3
    answer_ids = {code: _LOCAL_CONCEPT + 1 + i for i, code in enumerate(LL2335_9)}
    pain_concept = _LOCAL_CONCEPT
    proc_of = proc_id.iloc[ass["_pos"]].to_numpy()
    visit_of = visit_id.iloc[ass["_pos"]].to_numpy()
    person_of = person_id.iloc[ass["_pos"]].to_numpy()
    m = ~in_observation
    answer = ass["score"].where(whole, 0).astype(int).map(lambda s: answer_ids[LL2335_9[s]])
    measurement = _frame("measurement", {
        "person_id": person_of[m], "measurement_concept_id": np.where(by_concept[m], pain_concept, 0),
        "measurement_date": at[m], "measurement_datetime": at[m], "measurement_type_concept_id": _EHR,
        "value_as_number": ass["score"].where(~as_answer).to_numpy()[m],
        "value_as_concept_id": answer.where(pd.Series(as_answer, index=ass.index)).to_numpy()[m],
        "visit_occurrence_id": visit_of[m],
        "measurement_source_value": np.where(by_concept[m], None, "72514-3"),
        "unit_source_value": "{score}",
        "value_source_value": np.where(as_answer[m], answer.map({v: k_ for k_, v in answer_ids.items()}).to_numpy()[m], None),
        "measurement_event_id": proc_of[m] if link else None,
        "meas_event_field_concept_id": PROCEDURE_EVENT_FIELD if link else None,
    }, int(m.sum()))
    observation = _frame("observation", {
        "person_id": person_of[in_observation], "observation_concept_id": 0,
        "observation_date": at[in_observation], "observation_datetime": at[in_observation],
        "observation_type_concept_id": _EHR, "value_as_number": ass["score"].to_numpy()[in_observation],
        "visit_occurrence_id": visit_of[in_observation], "observation_source_value": "72514-3",
        "observation_event_id": proc_of[in_observation] if link else None,
        "obs_event_field_concept_id": PROCEDURE_EVENT_FIELD if link else None,
    }, int(in_observation.sum()))
    fn_measurement, fn_observation = _function_rows(function, date, person_id, visit_id, proc_id, link=link,
                                                    mixed=mixed)
    measurement = pd.concat([measurement, fn_measurement], ignore_index=True)
    observation = pd.concat([observation, fn_observation], ignore_index=True)
    field_rows = []
    for name, code in FIELD_CODES.items():
        has = ok & number[name].notna()
        field_rows.append(_frame("measurement", {
            "person_id": person_id[has], "measurement_concept_id": 0, "measurement_date": date[has],
            "measurement_datetime": date[has], "measurement_type_concept_id": _EHR,
            "value_as_number": number[name][has], "visit_occurrence_id": visit_id[has],
            "measurement_source_value": code,
            "measurement_event_id": proc_id[has] if link else None,
            "meas_event_field_concept_id": PROCEDURE_EVENT_FIELD if link else None,
        }, int(has.sum())))
    measurement = pd.concat([measurement, *field_rows], ignore_index=True)
    measurement["measurement_id"] = offsets["measurement"] + np.arange(1, len(measurement) + 1)
    observation["observation_id"] = offsets["observation"] + np.arange(1, len(observation) + 1)
    concept = _frame("concept", {
        "concept_id": [pain_concept, *answer_ids.values(), _ODI_CONCEPT],
        "concept_name": ["Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                         *[str(i) for i in range(11)], "Oswestry disability index score ODI"],
        "domain_id": ["Measurement"] + ["Meas Value"] * 11 + ["Measurement"], "vocabulary_id": "LOINC",
        "concept_class_id": ["Clinical Observation"] + ["Answer"] * 11 + ["Clinical Observation"],
        "standard_concept": None, "concept_code": ["72514-3", *LL2335_9, "97909-6"],
        "valid_start_date": "1970-01-01", "valid_end_date": "2099-12-31",
    }, 13)
    return {"person": person, "care_site": care_site, "provider": provider, "visit_occurrence": visit,
            "procedure_occurrence": procedure, "condition_occurrence": cond, "measurement": measurement,
            "observation": observation, "concept": concept}


# Function scores as write_omop writes them: ODI by LOINC 97909-6 (its local concept below), RMDQ
# and EQ-5D VAS by the package's own codes (no standard code is built in: sources._settings).
_ODI_CONCEPT = _LOCAL_CONCEPT + 12
_FUNCTION_SOURCE = {"odi": "97909-6", "rmdq": FUNCTION_CODES["rmdq"], "eq5d_vas": FUNCTION_CODES["eq5d_vas"]}


def _function_rows(function: pd.DataFrame, date: pd.Series, person_id: pd.Series, visit_id: pd.Series,
                   proc_id: pd.Series, *, link: bool, mixed: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measurement rows, observation rows) of the function scores (``split_written_scores``):
    ``value_as_number`` on the instrument's own scale, unit {score}. "mixed" writes every third
    score as an ``observation`` and every third ODI known only by its concept."""
    hours = pd.to_numeric(function["hours_after"], errors="coerce")
    rows = function[hours.notna()]
    hours = hours[hours.notna()]
    pos = rows["_pos"].to_numpy()
    at = date.iloc[pos].to_numpy() + pd.to_timedelta(np.round(hours.to_numpy() * 3_600_000), unit="ms")
    k = np.arange(len(rows)) % 3 if mixed else np.zeros(len(rows), dtype=int)
    in_observation = k == 2
    by_concept = (k == 1) & (rows["_function"] == "odi").to_numpy()
    code = rows["_function"].map(_FUNCTION_SOURCE).to_numpy()
    person, visit, proc = person_id.iloc[pos].to_numpy(), visit_id.iloc[pos].to_numpy(), proc_id.iloc[pos].to_numpy()
    value = rows["_score"].to_numpy()
    m = ~in_observation
    measurement = _frame("measurement", {
        "person_id": person[m], "measurement_concept_id": np.where(by_concept[m], _ODI_CONCEPT, 0),
        "measurement_date": at[m], "measurement_datetime": at[m], "measurement_type_concept_id": _EHR,
        "value_as_number": value[m], "visit_occurrence_id": visit[m],
        "measurement_source_value": np.where(by_concept[m], None, code[m]), "unit_source_value": "{score}",
        "measurement_event_id": proc[m] if link else None,
        "meas_event_field_concept_id": PROCEDURE_EVENT_FIELD if link else None,
    }, int(m.sum()))
    o = in_observation
    observation = _frame("observation", {
        "person_id": person[o], "observation_concept_id": 0, "observation_date": at[o],
        "observation_datetime": at[o], "observation_type_concept_id": _EHR, "value_as_number": value[o],
        "visit_occurrence_id": visit[o], "observation_source_value": code[o], "unit_source_value": "{score}",
        "observation_event_id": proc[o] if link else None,
        "obs_event_field_concept_id": PROCEDURE_EVENT_FIELD if link else None,
    }, int(o.sum()))
    return measurement, observation
