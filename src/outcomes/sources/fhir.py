"""FHIR (R4, R4B, R5) Bulk Data exports and Bundles in; synthetic cohorts out as FHIR.

:func:`load_fhir` reads a folder of Bulk Data NDJSON files (one resource per line, as a
``$export`` writes them: ``Patient.ndjson``, ``Procedure.ndjson``, ``Observation.ndjson``,
``Condition.ndjson``, ``Encounter.ndjson``, ``Practitioner.ndjson``, ``Location.ndjson``,
``Organization.ndjson``; gzip allowed) or a single
Bundle (``.json``). Lines are read with pyarrow and taken apart with DuckDB's JSON functions, so a
large export is never looped over in Python.

What is read, per canonical field
---------------------------------
=========================  ===============================================================
procedure                  ``Procedure.code``: CPT 22510-22515 (and the pre-2015 22520-22525),
                           plus codes added in the mapping file's ``[fhir]`` section
procedure_id, patient_id   ``Procedure.id``; ``Procedure.subject`` (the Patient's id)
procedure_date             ``performedDateTime`` or ``performedPeriod.start`` (R5:
                           ``occurrence[x]``); its calendar date as written
levels_treated             the number of ``Procedure.bodySite`` entries (1 when none is given:
                           a first-level code is one level); an add-on code (22512, 22515) or
                           a second record of the same session adds levels
fracture_date, etiology    the linked ``Condition`` (``reasonReference``; R5 ``reason``):
                           ``onsetDateTime`` / ``onsetPeriod.start`` and the code's etiology;
                           else the patient's latest fracture Condition within the look-back
complication               ``Procedure.complication`` (or ``complicationDetail``) present
physician_id               ``Procedure.performer.actor`` -> the Practitioner's resource id
                           (pseudonymous; names are never read)
site_id                    ``Procedure.location``, else the Encounter's ``location`` or
                           ``serviceProvider``
discharge, length of stay  ``Procedure.encounter`` -> ``Encounter.class`` (AMB same day, or
                           overnight when the stay lasted 12 h or more; OBSENC, SS overnight;
                           IMP, ACUTE, NONAC admitted) and ``Encounter.period``
age, sex                   ``Patient.birthDate`` (year) against the procedure's year, capped at
                           90; ``Patient.gender``
pain scores                Observations coded LOINC 72514-3 with status final, amended or
                           corrected: ``valueInteger``, ``valueQuantity`` (on the scale its
                           UCUM unit names: mm -> 0-100 VAS), ``valueCodeableConcept`` with LOINC answers (the
                           answer's position in LL2335-9, never its display text), or a
                           ``component`` of a panel with that code
function scores            Observations coded LOINC 97909-6 (ODI) or SNOMED CT 736535009
                           (EQ-5D VAS), or with the codes under ``[fhir.function]`` (RMDQ has
                           no built-in code): ``valueInteger``, ``valueDecimal`` or
                           ``valueQuantity`` on the instrument's own scale, linked as the pain
                           scores, each instrument on its own
asa_class, imaging         Observations with the codes under ``[fhir.fields]``
events (optional table)    ``AdverseEvent`` (event/code, date/occurrence, seriousness or
                           severity, suspectEntity/encounter/time link; not "potential"),
                           ``Condition`` after the procedure coded as a new vertebral fracture or
                           a complication (``[fhir] new_fracture_conditions``,
                           ``complication_events``), ``Patient.deceasedDateTime`` -> death;
                           last contact: the ``period.end`` of the patient's ``EpisodeOfCare``
                           typed ``follow-up`` (package system), else the latest dated record.
                           Only when the export holds an AdverseEvent, a deceasedDateTime or
                           such an episode (see ``_events``)
=========================  ===============================================================

Linking pain scores
-------------------
An Observation that names its procedure (``partOf``) belongs to it. Otherwise (the usual case)
it is linked by time: the last score in the baseline window before a procedure is its
baseline; a later score belongs to the patient's latest procedure before it, up to
``follow_up_days`` (so never past the patient's next procedure). Settings: ``[fhir]``
``baseline_window_hours`` (default: the definitions' window), ``follow_up_days`` (1461).

Privacy
-------
Real exports carry names, contact details and record numbers in Patient resources. The reader
never carries them into the canonical tables, and refuses an export in which any Patient has a
``name``, ``telecom``, ``address``, ``photo``, ``contact``, a ``birthDate`` with month or day, or
an ``identifier`` of type MR, SS, DL, PPN or MB (or a social security system), naming each
field, unless ``allow_identifiers=True``. A de-identified export (no such fields, birth year
only) loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cohort import Cohort
from ..definitions import Definitions
from ..exceptions import IdentifiersAllowedWarning, InputError, PrivacyError
from . import _assemble as asm
from ._settings import (CPT_SYSTEMS, FIELD_CODES, FUNCTION_CODES, ICD10_SYSTEMS, LL2335_9, LOINC_SYSTEMS,
                        OUTCOMES_SYSTEM, SNOMED_SEVERITY, SNOMED_SYSTEMS, UCUM_SYSTEMS, SourceSettings, normalise_icd,
                        resolve_mapping, split_written_scores)

__all__ = ["load_fhir", "write_fhir"]

_NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")
_BUNDLE_SUFFIXES = (".json", ".json.gz")
_USED = ("Patient", "Procedure", "Observation", "Condition", "Encounter", "Practitioner", "Location", "Organization",
         "AdverseEvent", "EpisodeOfCare")
# an EpisodeOfCare of this type is a patient's follow-up for adverse events: its period.end is the last contact
_FOLLOW_UP_CODE = "follow-up"
_PROCEDURE_LEFT_OUT_STATUS = ("not-done", "entered-in-error", "preparation", "in-progress", "on-hold", "stopped")
_IDENTIFIER_TYPES = ("MR", "SS", "DL", "PPN", "MB")
_V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_OUTPATIENT_MAX_HOURS = 12.0  # an "outpatient" stay this long or longer was an overnight stay

_CODING = '[{"system":"VARCHAR","code":"VARCHAR"}]'
_VALUE = ('"valueInteger":"DOUBLE","valueDecimal":"DOUBLE","valueQuantity":{"value":"DOUBLE","unit":"VARCHAR",'
          '"code":"VARCHAR"},"valueCodeableConcept":{"coding":' + _CODING + '},"valueString":"VARCHAR",'
          '"dataAbsentReason":{"coding":' + _CODING + ',"text":"VARCHAR"}')
_STRUCTURES = {
    "Procedure": '{"id":"VARCHAR","status":"VARCHAR","subject":{"reference":"VARCHAR"},'
                 '"code":{"coding":' + _CODING + ',"text":"VARCHAR"},"performedDateTime":"VARCHAR",'
                 '"performedPeriod":{"start":"VARCHAR"},"occurrenceDateTime":"VARCHAR",'
                 '"occurrencePeriod":{"start":"VARCHAR"},"performer":[{"actor":{"reference":"VARCHAR"}}],'
                 '"reasonReference":[{"reference":"VARCHAR"}],"reason":[{"reference":{"reference":"VARCHAR"}}],'
                 '"bodySite":"JSON","complication":"JSON","complicationDetail":"JSON",'
                 '"encounter":{"reference":"VARCHAR"},"location":{"reference":"VARCHAR"}}',
    "Observation": '{"id":"VARCHAR","status":"VARCHAR","subject":{"reference":"VARCHAR"},'
                   '"code":{"coding":' + _CODING + ',"text":"VARCHAR"},"effectiveDateTime":"VARCHAR",'
                   '"effectivePeriod":{"start":"VARCHAR"},"effectiveInstant":"VARCHAR",'
                   '"partOf":[{"reference":"VARCHAR"}],' + _VALUE + ','
                   '"component":[{"code":{"coding":' + _CODING + '},' + _VALUE + '}]}',
    "Condition": '{"id":"VARCHAR","subject":{"reference":"VARCHAR"},"code":{"coding":' + _CODING + '},'
                 '"onsetDateTime":"VARCHAR","onsetPeriod":{"start":"VARCHAR"},'
                 '"verificationStatus":{"coding":' + _CODING + '},"severity":{"coding":' + _CODING + '}}',
    # R4 (event, date, suspectEntity.instance) and R5 (code, occurrence[x], suspectEntity.instanceReference)
    "AdverseEvent": '{"id":"VARCHAR","actuality":"VARCHAR","subject":{"reference":"VARCHAR"},'
                    '"encounter":{"reference":"VARCHAR"},"date":"VARCHAR","detected":"VARCHAR",'
                    '"occurrenceDateTime":"VARCHAR","occurrencePeriod":{"start":"VARCHAR"},'
                    '"event":{"coding":[{"system":"VARCHAR","code":"VARCHAR","display":"VARCHAR"}],"text":"VARCHAR"},'
                    '"code":{"coding":[{"system":"VARCHAR","code":"VARCHAR","display":"VARCHAR"}],"text":"VARCHAR"},'
                    '"seriousness":{"coding":' + _CODING + '},"severity":{"coding":' + _CODING + '},'
                    '"suspectEntity":[{"instance":{"reference":"VARCHAR"},"instanceReference":{"reference":"VARCHAR"}}]}',
    "Encounter": '{"id":"VARCHAR","class":"JSON","period":{"start":"VARCHAR","end":"VARCHAR"},"subject":{"reference":"VARCHAR"},'
                 '"serviceProvider":{"reference":"VARCHAR"},"location":[{"location":{"reference":"VARCHAR"}}]}',
    "Patient": '{"id":"VARCHAR","gender":"VARCHAR","birthDate":"VARCHAR","deceasedDateTime":"VARCHAR"}',
    "EpisodeOfCare": '{"id":"VARCHAR","patient":{"reference":"VARCHAR"},"type":[{"coding":' + _CODING + '}],'
                     '"period":{"start":"VARCHAR","end":"VARCHAR"}}',
    "Practitioner": '{"id":"VARCHAR"}',
    "Location": '{"id":"VARCHAR"}',
    "Organization": '{"id":"VARCHAR"}',
}
_MACROS = r"""
CREATE OR REPLACE TEMP MACRO ref_id(ref) AS CASE WHEN ref IS NULL THEN NULL WHEN ref LIKE 'urn:%' THEN ref
    ELSE regexp_extract(regexp_replace(ref, '/_history/.*$', ''), '([^/]+)$', 1) END;
CREATE OR REPLACE TEMP MACRO ref_type(ref) AS
    regexp_extract(regexp_replace(ref, '/_history/.*$', ''), '([A-Za-z]+)/[^/]+$', 1);
CREATE OR REPLACE TEMP MACRO instant(s) AS CASE WHEN regexp_full_match(s, '\d{4}-\d{2}-\d{2}.*')
    THEN timezone('UTC', try_cast(s AS TIMESTAMPTZ)) END;
CREATE OR REPLACE TEMP MACRO full_date(s) AS CASE WHEN regexp_full_match(s, '\d{4}-\d{2}-\d{2}.*')
    AND try_cast(left(s, 10) AS DATE) IS NOT NULL THEN left(s, 10) END;
CREATE OR REPLACE TEMP MACRO coding_text(c) AS coalesce(c.system || '|', '') || coalesce(c.code, '');
"""


# ------------------------------------------------------------------------------------------
# reading


def _connect():
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a dependency
        raise InputError("Reading FHIR needs the duckdb package: pip install 'duckdb>=1.1'.") from None
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute(_MACROS)
    return con


def _files(path: Path) -> tuple[list[Path], list[Path]]:
    if not path.exists():
        raise InputError(f"`path` must be a FHIR export folder or Bundle file; got {str(path)!r}, which does not exist.")
    name = path.name.lower()
    if path.is_file():
        if name.endswith(_NDJSON_SUFFIXES):
            return [path], []
        if name.endswith(_BUNDLE_SUFFIXES):
            return [], [path]
        raise InputError(f"`path` must be an .ndjson file, a Bundle .json file or a folder of them; got {path.name!r}.")
    files = sorted(p for p in path.iterdir() if p.is_file())
    ndjson = [p for p in files if p.name.lower().endswith(_NDJSON_SUFFIXES)]
    bundles = [p for p in files if p.name.lower().endswith(_BUNDLE_SUFFIXES)]
    if not ndjson and not bundles:
        raise InputError(
            f"`path` must be a folder of FHIR Bulk Data files (*.ndjson) or Bundles (*.json); got the folder "
            f"{path.name!r} with none. Export with $export?_type=Patient,Procedure,Observation,Condition,"
            "Encounter,Practitioner,Location,Organization,AdverseEvent.")
    return ndjson, bundles


def _digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def _read_lines(files: list[Path]):
    """All lines of the NDJSON files as one Arrow table: file, row (line number), line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ..limits import Limits, check_file, check_shape

    limits = Limits.resolve()
    tables = []
    for path in files:
        check_file(path, limits)  # a gzip bomb ends here with one line, before Arrow inflates it
        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(column_names=["line"], block_size=1 << 24),
                # JSON text never holds a raw control character, so 0x1f never splits a line
                parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, escape_char=False,
                                                  newlines_in_values=False, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types={"line": pa.large_string()}),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                continue
            raise InputError(f"FHIR file {path.name} could not be read as NDJSON: {exc}.") from None
        n = table.num_rows
        check_shape(n, 1, f"FHIR file {path.name}", limits)
        tables.append(pa.table({
            "file": pa.array([path.name] * n, pa.string()),
            "row": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "line": table.column("line"),
        }))
    if not tables:
        return pa.table({"file": pa.array([], pa.string()), "row": pa.array([], pa.int64()),
                         "line": pa.array([], pa.large_string())})
    return pa.concat_tables(tables)


def _stage(con, ndjson: list[Path], bundles: list[Path]) -> None:
    """Table ``res(file, row, full_url, r, type, key)``: one row per resource."""
    lines = _read_lines(ndjson)
    con.register("lines_", lines)
    con.execute("""
        CREATE TEMP TABLE res AS
        SELECT file, row, NULL::VARCHAR AS full_url, line AS r, x[1] AS type, x[2] AS key
        FROM (SELECT file, row, line,
                     CASE WHEN json_valid(line) THEN json_extract_string(line, ['$.resourceType', '$.id']) END AS x
              FROM lines_ WHERE line <> '')  -- (trim() here would cost more than the parse)
    """)
    con.unregister("lines_")
    for path in bundles:
        con.execute("""
            INSERT INTO res
            WITH doc AS (SELECT json AS d FROM read_json_objects(?, format='auto', maximum_object_size=1073741824)),
            entries AS (
                SELECT json_extract(d, '$.entry[*]') AS e FROM doc WHERE d->>'$.resourceType' = 'Bundle'),
            items AS (SELECT generate_subscripts(e, 1) AS row, unnest(e) AS entry FROM entries)
            SELECT ?, row, entry->>'$.fullUrl', (entry->'$.resource')::VARCHAR,
                   entry->'$.resource'->>'$.resourceType',
                   coalesce(entry->'$.resource'->>'$.id', entry->>'$.fullUrl') FROM items
            UNION ALL
            SELECT ?, 1, NULL, d::VARCHAR, d->>'$.resourceType', d->>'$.id'
            FROM doc WHERE d->>'$.resourceType' <> 'Bundle'
        """, [str(path), path.name, path.name])
    # references: a Bundle's fullUrl (urn:uuid:...) names its resource; else the id ends the path
    con.execute("CREATE TEMP TABLE urls AS SELECT DISTINCT full_url, key FROM res "
                "WHERE full_url IS NOT NULL AND type IS NOT NULL")
    if con.execute("SELECT count(*) FROM urls").fetchone()[0]:
        con.execute("CREATE OR REPLACE TEMP MACRO resolve(ref) AS "
                    "coalesce((SELECT min(u.key) FROM urls u WHERE u.full_url = ref), ref_id(ref))")
    else:  # NDJSON exports have no fullUrl: the plain (and much faster) path
        con.execute("CREATE OR REPLACE TEMP MACRO resolve(ref) AS ref_id(ref)")


def _typed(con, kind: str) -> None:
    con.execute(f"""
        CREATE TEMP TABLE t_{kind} AS
        SELECT file, row, key, full_url, json_transform(r, '{_STRUCTURES[kind]}') AS t
        FROM res WHERE type = '{kind}'
    """)


def _df(con, sql: str) -> pd.DataFrame:
    # through Arrow: about three times faster than .df() for text columns
    return con.sql(sql).to_arrow_table().to_pandas()


def _privacy(con, source: str, allow_identifiers: bool) -> tuple[str, ...]:
    found = _df(con, f"""
        SELECT
          count(*) FILTER (WHERE json_exists(r, '$.name')) AS name,
          count(*) FILTER (WHERE json_exists(r, '$.telecom')) AS telecom,
          count(*) FILTER (WHERE json_exists(r, '$.address')) AS address,
          count(*) FILTER (WHERE json_exists(r, '$.photo')) AS photo,
          count(*) FILTER (WHERE json_exists(r, '$.contact')) AS contact,
          count(*) FILTER (WHERE length(r->>'$.birthDate') > 4) AS birthdate,
          count(*) FILTER (WHERE list_has_any(json_extract_string(r, '$.identifier[*].type.coding[*].code'),
                                              {list(_IDENTIFIER_TYPES)!r})
                              OR len(list_filter(json_extract_string(r, '$.identifier[*].system'),
                                                 lambda x: x ILIKE '%ssn%')) > 0) AS identifier,
          min(file || ' line ' || row) FILTER (WHERE json_exists(r, '$.name') OR json_exists(r, '$.telecom')
              OR json_exists(r, '$.address') OR length(r->>'$.birthDate') > 4) AS first
        FROM res WHERE type = 'Patient'
    """).iloc[0]
    labels = {
        "name": "Patient.name (a person's name)", "telecom": "Patient.telecom (telephone or e-mail)",
        "address": "Patient.address (a street address)", "photo": "Patient.photo (a photograph)",
        "contact": "Patient.contact (relatives' names and contact details)",
        "birthdate": "Patient.birthDate with month or day (only the year may stay)",
        "identifier": "Patient.identifier of type MR, SS, DL, PPN or MB (record, social security, licence, passport or member numbers)",
    }
    listed = [f"{labels[k]} in {int(found[k])} resources" for k in labels if int(found[k] or 0) > 0]
    if not listed:
        return ()
    text = "; ".join(listed)
    if not allow_identifiers:
        raise PrivacyError(
            f"{source} looks identifying: {text}. Export de-identified data (no names, contact details or "
            "record numbers; birth year only), or pass allow_identifiers=True (--allow-identifiers) if you "
            "have a legitimate reason; identifying fields are never carried into the analysis tables.")
    message = f"Identifiers were allowed through on request in {source}: {text}."
    warnings.warn(message, IdentifiersAllowedWarning, stacklevel=3)
    return (message,)


def _code_table(con, name: str, rows: list[tuple], columns: list[str]) -> None:
    frame = pd.DataFrame(rows, columns=columns)
    frame["system"] = frame["system"].astype("object")
    con.register(f"{name}_df", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")
    con.unregister(f"{name}_df")


def _procedures(con, settings: SourceSettings) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    _code_table(con, "proc_codes", settings.procedure_code_rows(), ["system", "code", "procedure", "addon"])
    frame = _df(con, """
        WITH codes AS (
            SELECT p.file, p.row, c.procedure, c.addon
            FROM (SELECT file, row, unnest(t.code.coding) AS cd FROM t_Procedure) p
            JOIN proc_codes c ON c.code = p.cd.code AND (c.system IS NULL OR c.system = p.cd.system)),
        kinds AS (
            SELECT file, row, min(procedure) AS procedure, max(procedure) AS other, bool_and(addon) AS addon
            FROM codes GROUP BY file, row)
        SELECT p.file AS _source, p.row AS _row, p.key AS procedure_id, p.t.status AS status,
               resolve(p.t.subject.reference) AS patient_id,
               k.procedure, k.other, coalesce(k.addon, false) AS addon,
               coalesce(list_transform(p.t.code.coding, lambda c: coding_text(c))[1], p.t.code.text) AS _code,
               coalesce(p.t.performedDateTime, p.t.performedPeriod.start, p.t.occurrenceDateTime,
                        p.t.occurrencePeriod.start) AS performed,
               instant(coalesce(p.t.performedDateTime, p.t.performedPeriod.start, p.t.occurrenceDateTime,
                                p.t.occurrencePeriod.start)) AS t,
               full_date(coalesce(p.t.performedDateTime, p.t.performedPeriod.start, p.t.occurrenceDateTime,
                                  p.t.occurrencePeriod.start)) AS procedure_date,
               resolve(coalesce(list_filter(list_transform(p.t.performer, lambda x: x.actor.reference),
                                    lambda x: x LIKE '%Practitioner/%' AND x NOT LIKE '%PractitionerRole/%')[1],
                        list_filter(list_transform(p.t.performer, lambda x: x.actor.reference),
                                    lambda x: x IS NOT NULL)[1])) AS physician_id,
               CASE WHEN json_type(p.t.bodySite) = 'ARRAY' THEN json_array_length(p.t.bodySite) END AS body_sites,
               coalesce(json_array_length(p.t.complication) > 0, false)
                 OR coalesce(json_array_length(p.t.complicationDetail) > 0, false) AS complication,
               resolve(p.t.encounter.reference) AS encounter, resolve(p.t.location.reference) AS location
        FROM t_Procedure p LEFT JOIN kinds k ON k.file = p.file AND k.row = p.row
        ORDER BY p.file, p.row
    """)
    frame["_order"] = np.arange(len(frame))
    table = "fhir:Procedure"
    logs = []
    bad_status = frame["status"].isin(_PROCEDURE_LEFT_OUT_STATUS)
    logs.append(asm.excluded(table, frame.loc[bad_status, "_source"], frame.loc[bad_status, "_row"], "status",
                             frame.loc[bad_status, "status"], "status is not completed (not done, stopped, "
                             "in progress or entered in error)"))
    frame = frame[~bad_status]
    unknown = frame["procedure"].isna()
    logs.append(asm.excluded(table, frame.loc[unknown, "_source"], frame.loc[unknown, "_row"], "code",
                             frame.loc[unknown, "_code"],
                             "unknown code: not a vertebroplasty or kyphoplasty code (see [fhir] in the mapping file)"))
    frame = frame[~unknown]
    both = frame["procedure"] != frame["other"]
    logs.append(asm.excluded(table, frame.loc[both, "_source"], frame.loc[both, "_row"], "code",
                             frame.loc[both, "_code"], "codes name both vertebroplasty and kyphoplasty"))
    frame = frame[~both].copy()
    frame["levels"] = frame["body_sites"].astype(float)
    frame["procedure_date"] = frame["procedure_date"].astype("string")
    return frame.drop(columns=["other", "body_sites", "status"]), logs


def _procedure_links(con) -> pd.DataFrame:
    """(procedure_id, key) of each Condition a Procedure gives as its reason."""
    return _df(con, """
        SELECT key AS procedure_id, resolve(ref) AS key FROM (
            SELECT key, unnest(list_concat(coalesce(list_transform(t.reasonReference, lambda x: x.reference), []),
                                           coalesce(list_transform(t.reason, lambda x: x.reference.reference), [])))
                   AS ref
            FROM t_Procedure) WHERE ref IS NOT NULL
    """)


def _observations(con, settings: SourceSettings) -> pd.DataFrame:
    """One row per Observation: its pain instrument, procedure field or function instrument and
    the one value read. The Observation's own code and value come first (a pain code, then a
    field, then a function code), else the first component with a pain code, else the first with
    a function code (a panel such as the ODI panel 97908-8 with the total 97909-6 as a component).
    """
    pain_rows = settings.code_rows(settings.pain)
    field_rows = [(s, c, name) for name, codes in settings.fields.items() for c_ in codes
                  for s, c in ((sys, c_.code) for sys in (c_.systems or (None,)))]
    _code_table(con, "pain_codes", pain_rows, ["system", "code", "instrument"])
    _code_table(con, "field_codes", field_rows, ["system", "code", "field"])
    _code_table(con, "answers", settings.code_rows(settings.pain_answers), ["system", "code", "score"])
    _code_table(con, "function_codes", settings.code_rows(settings.function), ["system", "code", "instrument"])
    con.execute("CREATE TEMP TABLE t_obs AS SELECT row_number() OVER () AS i, * FROM t_Observation")
    return _df(con, """
        WITH fn AS (  -- function scores (ODI, RMDQ, EQ-5D VAS): the Observation's own code and value
            SELECT o.i, min(fc.instrument) AS instrument
            FROM (SELECT i, unnest(t.code.coding) AS cd FROM t_obs) o
            JOIN function_codes fc ON fc.code = o.cd.code AND (fc.system IS NULL OR fc.system = o.cd.system)
            GROUP BY o.i),
        top AS (
            SELECT o.i, min(pc.instrument) AS instrument
            FROM (SELECT i, unnest(t.code.coding) AS cd FROM t_obs) o
            JOIN pain_codes pc ON pc.code = o.cd.code AND (pc.system IS NULL OR pc.system = o.cd.system)
            GROUP BY o.i),
        fld AS (
            SELECT o.i, min(fc.field) AS field
            FROM (SELECT i, unnest(t.code.coding) AS cd FROM t_obs) o
            JOIN field_codes fc ON fc.code = o.cd.code AND (fc.system IS NULL OR fc.system = o.cd.system)
            GROUP BY o.i),
        comps AS (SELECT i, generate_subscripts(t.component, 1) AS j, unnest(t.component) AS comp
                  FROM t_obs WHERE t.component IS NOT NULL),
        comp AS (
            SELECT c.i, arg_min(c.j, c.j) AS j, arg_min(pc.instrument, c.j) AS instrument
            FROM (SELECT i, j, unnest(comp.code.coding) AS cd FROM comps) c
            JOIN pain_codes pc ON pc.code = c.cd.code AND (pc.system IS NULL OR pc.system = c.cd.system)
            GROUP BY c.i),
        fcomp AS (  -- a function score given as a component of a panel (e.g. ODI 97909-6 in 97908-8)
            SELECT c.i, arg_min(c.j, c.j) AS j, arg_min(fc.instrument, c.j) AS instrument
            FROM (SELECT i, j, unnest(comp.code.coding) AS cd FROM comps) c
            JOIN function_codes fc ON fc.code = c.cd.code AND (fc.system IS NULL OR fc.system = c.cd.system)
            GROUP BY c.i),
        chosen AS (
            SELECT o.i, o.file, o.row, o.key, o.t.status AS status, resolve(o.t.subject.reference) AS patient_id,
                   coalesce(o.t.effectiveDateTime, o.t.effectivePeriod.start, o.t.effectiveInstant) AS effective,
                   resolve(list_filter(list_transform(o.t.partOf, lambda x: x.reference),
                                       lambda x: x LIKE '%Procedure/%' OR x LIKE 'urn:%')[1]) AS link,
                   coalesce(list_transform(o.t.code.coding, lambda c: coding_text(c))[1], o.t.code.text) AS code_text,
                   top.instrument AS top_instrument, comp.instrument AS comp_instrument, fld.field,
                   coalesce(fn.instrument, fcomp.instrument) AS function,
                   CASE WHEN top.i IS NOT NULL OR fld.i IS NOT NULL OR (fn.i IS NOT NULL AND comp.i IS NULL)
                        THEN struct_pack(i := o.t.valueInteger, d := o.t.valueDecimal, q := o.t.valueQuantity.value,
                                         u := coalesce(o.t.valueQuantity.code, o.t.valueQuantity.unit),
                                         cc := o.t.valueCodeableConcept.coding, s := o.t.valueString,
                                         a := coalesce(o.t.dataAbsentReason.coding[1].code, o.t.dataAbsentReason.text))
                        WHEN comp.i IS NOT NULL
                        THEN struct_pack(i := cm.comp.valueInteger, d := cm.comp.valueDecimal,
                                         q := cm.comp.valueQuantity.value,
                                         u := coalesce(cm.comp.valueQuantity.code, cm.comp.valueQuantity.unit),
                                         cc := cm.comp.valueCodeableConcept.coding, s := cm.comp.valueString,
                                         a := coalesce(cm.comp.dataAbsentReason.coding[1].code,
                                                       cm.comp.dataAbsentReason.text))
                        ELSE struct_pack(i := fm.comp.valueInteger, d := fm.comp.valueDecimal,
                                         q := fm.comp.valueQuantity.value,
                                         u := coalesce(fm.comp.valueQuantity.code, fm.comp.valueQuantity.unit),
                                         cc := fm.comp.valueCodeableConcept.coding, s := fm.comp.valueString,
                                         a := coalesce(fm.comp.dataAbsentReason.coding[1].code,
                                                       fm.comp.dataAbsentReason.text)) END AS v
            FROM t_obs o LEFT JOIN top ON top.i = o.i LEFT JOIN fld ON fld.i = o.i LEFT JOIN fn ON fn.i = o.i
            LEFT JOIN comp ON comp.i = o.i LEFT JOIN comps cm ON cm.i = comp.i AND cm.j = comp.j
            LEFT JOIN fcomp ON fcomp.i = o.i LEFT JOIN comps fm ON fm.i = fcomp.i AND fm.j = fcomp.j),
        answer AS (
            SELECT x.i, min(a.score) AS score, count(*) AS n
            FROM (SELECT i, unnest(v.cc) AS cd FROM chosen WHERE v.cc IS NOT NULL) x
            JOIN answers a ON a.code = x.cd.code AND (a.system IS NULL OR a.system = x.cd.system)
            GROUP BY x.i)
        SELECT c.file AS _source, c.row AS _row, c.key, c.status, c.patient_id, c.effective,
               instant(c.effective) AS t, c.link, c.code_text,
               coalesce(c.top_instrument, c.comp_instrument) AS instrument, c.field, c.function,
               coalesce(c.v.i, c.v.d, c.v.q) AS number, c.v.u AS unit, c.v.a AS absent,
               c.v.cc IS NOT NULL AS coded, answer.score AS answer,
               coalesce(list_transform(c.v.cc, lambda x: coding_text(x))[1], c.v.s) AS value_text
        FROM chosen c LEFT JOIN answer ON answer.i = c.i
        ORDER BY c.i
    """)


def _conditions(con, settings: SourceSettings) -> pd.DataFrame:
    frame = _df(con, """
        SELECT c.file AS _source, c.row AS _row, c.key, resolve(c.t.subject.reference) AS patient_id,
               coalesce(c.t.onsetDateTime, c.t.onsetPeriod.start) AS onset_raw,
               instant(coalesce(c.t.onsetDateTime, c.t.onsetPeriod.start)) AS onset,
               full_date(coalesce(c.t.onsetDateTime, c.t.onsetPeriod.start)) AS onset_text,
               list_transform(c.t.code.coding, lambda x: x.system) AS systems,
               list_transform(c.t.code.coding, lambda x: x.code) AS codes,
               list_transform(c.t.severity.coding, lambda x: x.code) AS severity_codes,
               coalesce(list_has_any(list_transform(c.t.verificationStatus.coding, lambda x: x.code),
                                     ['entered-in-error', 'refuted']), false) AS void
        FROM t_Condition c ORDER BY c.file, c.row
    """)
    frame["etiology"] = _fracture_etiology(frame["systems"], frame["codes"], settings)
    return frame


def _fracture_etiology(systems: pd.Series, codes: pd.Series, settings: SourceSettings) -> pd.Series:
    """Etiology of the first fracture code of each record ("" = a fracture of unknown cause), or NA."""
    long = pd.DataFrame({"pos": np.repeat(np.arange(len(codes)), [len(c) if c is not None else 0 for c in codes]),
                         "system": [s for ss in systems if ss is not None for s in ss],
                         "code": [c for cc in codes if cc is not None for c in cc]})
    out = pd.Series(pd.NA, index=range(len(codes)), dtype="object")
    if long.empty:
        return pd.Series(out.to_numpy(), index=codes.index)
    norm = long["code"].astype("string").map(normalise_icd, na_action="ignore")
    for code, etiology in settings.fracture_conditions:
        icd = not code.systems or set(code.systems) & set(ICD10_SYSTEMS)
        hit = norm.str.startswith(normalise_icd(code.code), na=False) if icd else (long["code"] == code.code)
        if code.systems:
            hit &= long["system"].isin(code.systems)
        first = long.loc[hit, "pos"].drop_duplicates()
        out[first[out[first].isna().to_numpy()].to_numpy()] = etiology
    return pd.Series(out.to_numpy(), index=codes.index)


def _encounters(con) -> pd.DataFrame:
    frame = _df(con, """
        SELECT e.file AS _source, e.row AS _row, e.key,
               coalesce(json_extract_string(e.t.class, '$.code'),
                        json_extract_string(e.t.class, '$[0].coding[0].code')) AS class,
               instant(e.t.period.start) AS start, instant(e.t.period."end") AS stop,
               coalesce(resolve(e.t.location[1].location.reference), resolve(e.t.serviceProvider.reference)) AS site,
               resolve(e.t.location[1].location.reference) AS location,
               resolve(e.t.serviceProvider.reference) AS organization
        FROM t_Encounter e
    """)
    return frame


def _discharge(classes: pd.Series, los: pd.Series, mapping: dict[str, str]) -> pd.Series:
    kind = classes.astype("string").str.upper().map(mapping)
    outpatient = kind == "outpatient"
    overnight = outpatient & (los >= _OUTPATIENT_MAX_HOURS)
    kind = kind.mask(outpatient, "same_day").mask(overnight, "overnight")
    return kind.replace("", pd.NA).astype("string")


def _age(birth: pd.Series, procedure_date: pd.Series) -> pd.Series:
    """Completed years at the procedure from a birth date (year only: the year difference), capped at 90."""
    birth = birth.astype("string")
    year = pd.to_numeric(birth.str[:4], errors="coerce")
    when = pd.to_datetime(procedure_date, format="%Y-%m-%d", errors="coerce")
    age = when.dt.year - year
    full = pd.to_datetime(birth.where(birth.str.len() >= 10).str[:10], format="%Y-%m-%d", errors="coerce")
    before_birthday = (when.dt.month < full.dt.month) | ((when.dt.month == full.dt.month) & (when.dt.day < full.dt.day))
    age = age - (full.notna() & before_birthday).astype(int)
    # Safe Harbor: ages over 89 are shown as 90
    return age.clip(upper=90).astype(float)


def load_fhir(
    path: str | os.PathLike[str],
    *,
    mapping: Any = None,
    definitions: Definitions | None = None,
    allow_identifiers: bool = False,
) -> Cohort:
    """Read a FHIR Bulk Data export (or a Bundle) into a validated :class:`~outcomes.Cohort`.

    Parameters
    ----------
    path : path
        A folder of NDJSON files (``*.ndjson``, ``*.ndjson.gz``; any file names, each line one
        resource), a single ``.ndjson`` file, or a Bundle ``.json``.
    mapping : path to a TOML mapping file, dict, Mapping or SourceSettings, optional
        Codes and linking rules in its ``[fhir]`` section (see :mod:`outcomes.sources._settings`);
        its canonical sections (e.g. ``[procedures.values.site_id]``) apply as for a CSV.
    definitions : Definitions, optional
        The baseline window (unless ``[fhir] baseline_window_hours`` is set) and validation.
    allow_identifiers : bool, default False
        Go on when Patient resources carry names, contact details, record numbers or full birth
        dates; they are still never read into the tables, and a warning travels with the cohort.

    Returns
    -------
    Cohort
        As :func:`outcomes.load_records`; ``cohort.flow()`` adds one row per resource type
        (``fhir:Procedure``, ``fhir:Observation``, ...) whose exclusions name each resource left
        out (file and line) and why.

    Raises
    ------
    InputError
        No such folder or file, or no FHIR files in it.
    PrivacyError
        Patient resources carry identifying fields and ``allow_identifiers`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from outcomes.synthetic import simulate
    >>> procedures, assessments, _ = simulate(40, seed=3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_fhir(procedures, assessments, tmp)
    ...     cohort = load_fhir(tmp)
    >>> flow = cohort.flow().set_index("table")
    >>> int(flow.loc["procedures", "analysed"]), int(flow.loc["fhir:Observation", "excluded"])
    (40, 0)
    """
    definitions = definitions or Definitions()
    canonical, settings = resolve_mapping(mapping, "fhir")
    path = Path(path)
    ndjson, bundles = _files(path)
    label = path.name or str(path)
    con = _connect()
    try:
        _stage(con, ndjson, bundles)
        privacy = _privacy(con, f"FHIR export {label}", allow_identifiers)
        for kind in _USED:
            _typed(con, kind)
        return _assemble(con, settings, canonical, definitions, allow_identifiers, privacy,
                         label=label, digest=_digest(ndjson + bundles))
    finally:
        con.close()


def _assemble(con, settings: SourceSettings, canonical, definitions: Definitions, allow_identifiers: bool,
              privacy: tuple[str, ...], *, label: str, digest: str) -> Cohort:
    logs: list[pd.DataFrame] = []
    counts = _df(con, "SELECT coalesce(type, '(unreadable)') AS type, count(*) AS n FROM res GROUP BY ALL")
    order = {t: k for k, t in enumerate(("Procedure", "Observation", "Patient", "Condition", "AdverseEvent", "Encounter",
                                         "Practitioner", "Location", "Organization"))}
    counts = counts.assign(_k=counts["type"].map(order).fillna(len(order))).sort_values(["_k", "type"])
    read = {f"fhir:{t}": int(n) for t, n in zip(counts["type"], counts["n"])}
    other = _df(con, f"""SELECT file, row, coalesce(type, '(unreadable)') AS type FROM res
                         WHERE type IS NULL OR type NOT IN {tuple(_USED)!r}""")
    for kind, part in other.groupby("type", sort=False):
        reason = "not valid JSON (or no resourceType)" if kind == "(unreadable)" else "resource type not used by outcomes"
        logs.append(asm.excluded(f"fhir:{kind}", part["file"], part["row"], "resourceType", kind, reason))

    # --- procedures: codes, sessions
    procs, proc_logs = _procedures(con, settings)
    logs += proc_logs
    if procs.empty:
        left = pd.concat([f for f in proc_logs if not f.empty] or [pd.DataFrame(columns=["value"])])
        seen = ", ".join(left["value"].dropna().astype(str).value_counts().index[:5])
        raise InputError(
            f"FHIR export {label} must have Procedure resources with a vertebroplasty or kyphoplasty code (CPT "
            f"22510-22515, or codes added under [fhir] in the mapping file); found none"
            + (f" (codes seen: {seen})" if seen else "") + ".")
    procs, session_log, remap = asm.merge_sessions(procs, table="fhir:Procedure", merge=settings.merge_same_session)
    logs.append(session_log)

    # --- encounters: discharge, length of stay, site
    enc = _encounters(con).drop_duplicates("key").set_index("key")
    los = asm.hours_between(asm.lookup(procs["encounter"], enc["stop"]), asm.lookup(procs["encounter"], enc["start"]))
    procs["length_of_stay_hours"] = los.where(los >= 0)
    procs["discharge"] = _discharge(asm.lookup(procs["encounter"], enc["class"]), procs["length_of_stay_hours"],
                                    settings.encounter_class)
    # (where, not fillna: pandas 2 warns on downcasting an all-missing object column)
    procs["site_id"] = procs["location"].where(procs["location"].notna(), asm.lookup(procs["encounter"], enc["site"]))

    # --- patients: age, sex
    pats = _df(con, "SELECT key, t.gender AS gender, t.birthDate AS birth FROM t_Patient").drop_duplicates("key")
    pats = pats.set_index("key")
    procs["sex"] = asm.lookup(procs["patient_id"], pats["gender"]).astype("string")
    procs["age"] = _age(asm.lookup(procs["patient_id"], pats["birth"]), procs["procedure_date"])

    # --- conditions: fracture date and etiology
    conds = _conditions(con, settings)
    fractures = conds[conds["etiology"].notna() & ~conds["void"]]
    links = _procedure_links(con)
    links = links.assign(procedure_id=links["procedure_id"].astype(object).map(remap).fillna(links["procedure_id"]))
    fx = asm.fracture_for(procs, fractures, links, lookback_days=settings.fracture_lookback_days)
    procs["fracture_date"] = asm.lookup(procs["procedure_id"], fx["fracture_date"]) if not fx.empty else pd.NA
    procs["etiology"] = asm.lookup(procs["procedure_id"], fx["etiology"]) if not fx.empty else pd.NA
    partial = conds["onset_raw"].notna() & conds["onset_text"].isna() & conds["etiology"].notna()
    remarks = [asm.remarks("fhir:Condition", conds.loc[partial, "_source"], conds.loc[partial, "_row"],
                           "onsetDateTime", conds.loc[partial, "onset_raw"],
                           "onset without a full date (month or year only); fracture date left missing")]

    # --- observations: pain scores and procedure fields
    obs = _observations(con, settings)
    table = "fhir:Observation"
    bad_status = ~obs["status"].isin(settings.observation_statuses)
    counted = ", ".join(settings.observation_statuses)
    logs.append(asm.excluded(table, obs.loc[bad_status, "_source"], obs.loc[bad_status, "_row"], "status",
                             obs.loc[bad_status, "status"].fillna("(no status)"),
                             f"status not counted: only {counted} results count ([fhir] observation_statuses)"))
    obs = obs[~bad_status]
    is_pain = obs["instrument"].notna()
    is_field = obs["field"].notna() & ~is_pain
    is_function = obs["function"].notna() & ~is_pain & ~is_field
    other_obs = ~is_pain & ~is_field & ~is_function
    logs.append(asm.excluded(table, obs.loc[other_obs, "_source"], obs.loc[other_obs, "_row"], "code",
                             obs.loc[other_obs, "code_text"],
                             "unknown code: not a pain score (LOINC 72514-3 or a code in [fhir] pain) nor a "
                             "function score (LOINC 97909-6 ODI, or a code in [fhir] function)"))
    pain = obs[is_pain].copy()
    pain["pain"] = pain["number"].fillna(pain["answer"])
    unmatched_answer = pain["pain"].isna() & pain["coded"]
    logs.append(asm.excluded(table, pain.loc[unmatched_answer, "_source"], pain.loc[unmatched_answer, "_row"],
                             "valueCodeableConcept", pain.loc[unmatched_answer, "value_text"],
                             "no pain score: the answer code is not in the LL2335-9 answer list (or [fhir.pain_answers])"))
    no_value = pain["pain"].isna() & ~pain["coded"]
    logs.append(asm.excluded(table, pain.loc[no_value, "_source"], pain.loc[no_value, "_row"], "value",
                             pain.loc[no_value, "absent"].fillna(pain.loc[no_value, "value_text"]),
                             "no pain score (no value, or a data-absent reason)"))
    pain = pain[pain["pain"].notna()]
    instrument, known_unit = settings.pain_scale(pain["instrument"], pain["unit"])
    logs.append(asm.excluded(table, pain.loc[~known_unit, "_source"], pain.loc[~known_unit, "_row"],
                             "valueQuantity.code", pain.loc[~known_unit, "unit"],
                             f"unit not a pain scale unit ({', '.join(settings.pain_units)}; "
                             "[fhir.pain_units] in the mapping file)"))
    pain = pain[known_unit].assign(instrument=instrument[known_unit])
    no_time = pain["t"].isna()
    logs.append(asm.excluded(table, pain.loc[no_time, "_source"], pain.loc[no_time, "_row"], "effective",
                             pain.loc[no_time, "effective"], "no effective time (or not a full date)"))
    pain = pain[~no_time]
    window = settings.baseline_window_hours if settings.baseline_window_hours is not None \
        else definitions.baseline_window_hours
    horizon = settings.follow_up_days * 24.0
    assessments, link_log, link_notes = asm.link_scores(pain, procs, remap, table=table, window_hours=window,
                                                        horizon_hours=horizon)
    logs.append(link_log)
    remarks.append(link_notes)
    if assessments.empty:
        left = pd.concat([f for f in logs if not f.empty and (f["table"] == table).any()] or [pd.DataFrame(columns=["reason"])])
        why = "; ".join(f"{n} {r}" for r, n in left.loc[left["table"] == table, "reason"].value_counts().items()) if len(left) else ""
        raise InputError(
            f"FHIR export {label} must have pain scores (Observations coded LOINC 72514-3, or codes under [fhir] pain) "
            f"linked to its procedures; found none" + (f" (left out: {why})" if why else "") + ".")

    fields = obs[is_field]
    used_fields: set = set()
    for name in FIELD_CODES:
        part = fields[fields["field"] == name]
        if part.empty:
            continue
        values, used = asm.link_nearest(part.assign(value=part["number"]), procs, remap,
                                        window_hours=window, horizon_hours=horizon)
        procs[name] = asm.lookup(procs["procedure_id"], values)
        used_fields |= set(part.index[used])
    unused = fields[~fields.index.isin(used_fields)]
    logs.append(asm.excluded(table, unused["_source"], unused["_row"], "code", unused["code_text"],
                             "procedure field not linked to an analysed procedure (or another value lies nearer)"))

    # --- baseline pain on the procedures table: the score the endpoints will take
    base = assessments[(assessments["hours_after"] <= 0) & (assessments["hours_after"] >= -window)]
    base = base.sort_values(["procedure_id", "hours_after"], kind="stable").drop_duplicates("procedure_id", keep="last")
    scale = base["instrument"].astype(object).map({"nrs": 1.0, "vas10": 1.0, "vas100": 0.1}).astype(float)
    procs["baseline_pain"] = asm.lookup(procs["procedure_id"], pd.Series((base["pain"] * scale).to_numpy(),
                                                                 index=base["procedure_id"].to_numpy()))

    # --- function scores (ODI, RMDQ, EQ-5D VAS): linked as the pain scores, each instrument on its own
    function, function_logs, function_notes = _function_scores(obs[is_function], procs, remap, table=table,
                                                               window_hours=window, horizon_hours=horizon)
    logs += function_logs
    remarks += function_notes
    assessments = pd.concat([assessments, function], ignore_index=True) if len(function) else assessments

    # --- the other resource types: used or not
    analysed_enc = enc[enc.index.isin(set(procs["encounter"].dropna()))]
    for kind, used_keys, reason in (
        ("Patient", set(procs["patient_id"].dropna()), "no analysed vertebroplasty or kyphoplasty procedure"),
        ("Encounter", set(procs["encounter"].dropna()), "not the encounter of an analysed procedure"),
        ("Practitioner", set(procs["physician_id"].dropna()), "not the performer of an analysed procedure"),
        ("Location", set(procs["location"].dropna()) | set(analysed_enc["location"].dropna()),
         "not the location of an analysed procedure"),
        ("Organization", set(procs["site_id"].dropna()) | set(analysed_enc["organization"].dropna()),
         "not the service provider of an analysed procedure"),
    ):
        rows = _df(con, f"SELECT file, row, key FROM t_{kind}")
        unused_rows = rows[~asm.isin(rows["key"], used_keys)]
        logs.append(asm.excluded(f"fhir:{kind}", unused_rows["file"], unused_rows["row"], "id",
                                 unused_rows["key"], reason))
    # --- adverse events: AdverseEvent, complication and new-fracture Conditions, Patient.deceasedDateTime
    events, event_logs, event_keys, dated, follow_up = _events(con, settings, procs, remap, conds)
    logs += event_logs
    if events is not None:
        procs["last_contact_date"] = asm.last_contact(procs, dated, follow_up)
    episodes = _df(con, "SELECT file, row, key, resolve(t.patient.reference) AS patient_id FROM t_EpisodeOfCare")
    used_episodes = set(follow_up.loc[asm.isin(follow_up["patient_id"], set(procs["patient_id"].dropna())), "key"]
                        if events is not None else [])
    unused_e = episodes[~asm.isin(episodes["key"], used_episodes)]
    logs.append(asm.excluded("fhir:EpisodeOfCare", unused_e["file"], unused_e["row"], "id", unused_e["key"],
                             "not the follow-up (with an end) of a patient with an analysed procedure"))

    used_keys = (set(fx["key"]) if not fx.empty else set()) | event_keys
    unused_c = conds[~asm.isin(conds["key"], used_keys)]
    logs.append(asm.excluded("fhir:Condition", unused_c["_source"], unused_c["_row"], "code",
                             unused_c["codes"].map(lambda c: c[0] if c is not None and len(c) else None),
                             "not the fracture of an analysed procedure"))
    canonical_procs = procs.assign(complication=procs["complication"].astype("boolean"))[
        ["_source", "_row", "procedure_id", "patient_id", "procedure", "procedure_date", "fracture_date",
         "baseline_pain", "levels_treated", "etiology", "age", "sex", "discharge", "length_of_stay_hours",
         "complication", "physician_id", "site_id"]
        + [c for c in FIELD_CODES if c in procs] + [c for c in ("last_contact_date",) if c in procs]]
    canonical_ass = assessments[["_source", "_row", "procedure_id", "hours_after", "pain", "instrument"]]
    return asm.build_cohort(
        canonical_procs, canonical_ass, source_log=logs, source_remarks=remarks, read=read,
        sources={"procedures": f"FHIR export {label} (Procedure)",
                 "assessments": f"FHIR export {label} (Observation, pain and function scores)",
                 **{k: f"FHIR export {label}" for k in read}},
        input_hashes={"fhir": digest}, mapping=canonical, definitions=definitions,
        allow_identifiers=allow_identifiers, privacy_warnings=privacy, events=events,
    )


def _function_scores(obs: pd.DataFrame, procs: pd.DataFrame, remap: dict[str, str], *, table: str,
                     window_hours: float, horizon_hours: float) -> tuple[pd.DataFrame, list, list]:
    """Function score Observations -> assessments rows (``pain`` holds the score on the
    instrument's own scale, ``instrument`` the function instrument), exclusions and remarks.

    The value is ``valueInteger``, ``valueDecimal`` or ``valueQuantity.value`` (any unit: the
    code names the scale), the Observation's own or its function component's; a coded or absent
    value and a missing time are left out, naming why.
    """
    scores = obs.assign(pain=obs["number"], instrument=obs["function"])
    logs = []
    no_value = scores["pain"].isna()
    logs.append(asm.excluded(table, scores.loc[no_value, "_source"], scores.loc[no_value, "_row"], "value",
                             scores.loc[no_value, "absent"].fillna(scores.loc[no_value, "value_text"]),
                             "no function score (no number, or a data-absent reason)"))
    scores = scores[~no_value]
    no_time = scores["t"].isna()
    logs.append(asm.excluded(table, scores.loc[no_time, "_source"], scores.loc[no_time, "_row"], "effective",
                             scores.loc[no_time, "effective"], "no effective time (or not a full date)"))
    linked, link_logs, notes = asm.link_each_instrument(scores[~no_time], procs, remap, table=table,
                                                        window_hours=window_hours, horizon_hours=horizon_hours)
    return linked, logs + link_logs, notes


def _events(con, settings: SourceSettings, procs: pd.DataFrame, remap: dict[str, str],
            conds: pd.DataFrame) -> tuple[pd.DataFrame | None, list[pd.DataFrame], set, pd.DataFrame, pd.DataFrame]:
    """The events table of an export, the AdverseEvents left out, the Condition keys used as
    events, every dated record of each patient, and the ends of the patients' follow-up
    (for the last contact: an ``EpisodeOfCare`` typed ``follow-up`` in the package's system,
    its ``period.end``, takes precedence over the latest record).

    An AdverseEvent names its event by a code in the package's system, an ICD-10 code of the
    condition lists, or a label the events table reads ("cement leak"; the code's display or
    the text); its severity by ``seriousness`` (serious = major) or ``severity`` (mild = minor,
    moderate or severe = major); its procedure by ``suspectEntity`` (a Procedure), else the
    procedure of its ``encounter``, else the patient's latest procedure on or before its date.
    ``actuality`` "potential" (a near miss) is left out. A complication or new-fracture Condition
    after a procedure, and ``Patient.deceasedDateTime``, are events too. Returns None for the
    table when the export holds neither an AdverseEvent resource nor a Patient with a
    ``deceasedDateTime`` nor a follow-up ``EpisodeOfCare``: it is taken not to record adverse
    events (a fracture Condition alone does not say that complications were), and the safety
    endpoints are unknown, not "none".
    """
    from ..mapping import EVENT_SYNONYMS, SEVERITY_SYNONYMS, normalise_label

    table = "fhir:AdverseEvent"
    logs: list[pd.DataFrame] = []
    horizon = settings.follow_up_days
    ae = _df(con, """
        SELECT a.file AS _source, a.row AS _row, a.key, a.t.actuality AS actuality,
               resolve(a.t.subject.reference) AS patient_id,
               coalesce(a.t.date, a.t.occurrenceDateTime, a.t.occurrencePeriod.start, a.t.detected) AS date_raw,
               full_date(coalesce(a.t.date, a.t.occurrenceDateTime, a.t.occurrencePeriod.start, a.t.detected)) AS day,
               resolve(list_filter(list_transform(a.t.suspectEntity,
                                                  lambda x: coalesce(x.instance.reference, x.instanceReference.reference)),
                                   lambda x: x LIKE '%Procedure/%' OR x LIKE 'urn:%')[1]) AS link,
               resolve(a.t.encounter.reference) AS encounter,
               list_transform(coalesce(a.t.event.coding, a.t.code.coding), lambda c: c.system) AS systems,
               list_transform(coalesce(a.t.event.coding, a.t.code.coding), lambda c: c.code) AS codes,
               coalesce(list_filter(list_transform(coalesce(a.t.event.coding, a.t.code.coding), lambda c: c.display),
                                    lambda x: x IS NOT NULL)[1], a.t.event.text, a.t.code.text) AS label,
               list_filter(list_transform(a.t.seriousness.coding, lambda c: c.code), lambda x: x IS NOT NULL)[1]
                   AS seriousness,
               list_filter(list_transform(a.t.severity.coding, lambda c: c.code), lambda x: x IS NOT NULL)[1]
                   AS severity
        FROM t_AdverseEvent a ORDER BY a.file, a.row
    """)
    potential = ae["actuality"].astype("string").str.lower().eq("potential").fillna(False).astype(bool)
    logs.append(asm.excluded(table, ae.loc[potential, "_source"], ae.loc[potential, "_row"], "actuality", "potential",
                             "a potential adverse event (a near miss), not one that happened"))
    ae = ae[~potential].copy()
    # the event: the package's own code, else the condition lists, else the label
    own = ae["codes"].map(lambda cc: next((c for c in (cc if cc is not None else []) if c in EVENT_SYNONYMS), None))
    listed = settings.condition_events(ae["systems"], ae["codes"])
    by_label = ae["label"].map(lambda x: EVENT_SYNONYMS.get(normalise_label(x)) if isinstance(x, str) else None)
    ae["event"] = own.where(own.notna(), listed["event"].astype(object).where(listed["event"].notna(), by_label))
    ae["event"] = ae["event"].where(ae["event"].notna(), ae["label"])  # unknown: excluded by the events table
    grade = ae["seriousness"].where(ae["seriousness"].notna(), ae["severity"])
    ae["severity"] = grade.map(lambda g: SEVERITY_SYNONYMS.get(normalise_label(g)) if isinstance(g, str) else None)
    ae["severity"] = ae["severity"].where(ae["severity"].notna(), listed["severity"].replace("", pd.NA))
    enc_proc = procs.dropna(subset=["encounter"]).drop_duplicates("encounter").set_index("encounter")["procedure_id"]
    ae["link"] = ae["link"].where(ae["link"].notna(), asm.lookup(ae["encounter"], enc_proc))
    ae["strict"] = False
    ae["procedure_id"] = asm.link_events(ae, procs, remap, horizon_days=horizon)
    no_day = ae["day"].isna() & ae["link"].isna()
    logs.append(asm.excluded(table, ae.loc[no_day, "_source"], ae.loc[no_day, "_row"], "date",
                             ae.loc[no_day, "date_raw"], "no date (or not a full date) and no linked procedure"))
    unlinked = ae["procedure_id"].isna() & ~no_day
    logs.append(asm.excluded(table, ae.loc[unlinked, "_source"], ae.loc[unlinked, "_row"], "subject",
                             ae.loc[unlinked, "patient_id"],
                             "no analysed procedure of this patient on or before it (within follow_up_days)"))
    ae = ae[ae["procedure_id"].notna()]

    # conditions after a procedure: new fractures and complications
    kinds = settings.condition_events(conds["systems"], conds["codes"])
    cand = conds.assign(event=kinds["event"], severity=kinds["severity"].replace("", pd.NA))
    cand = cand[cand["event"].notna() & ~cand["void"]].copy()
    if not cand.empty:
        grade = cand["severity_codes"].map(
            lambda cc: next((SNOMED_SEVERITY[c] for c in (cc if cc is not None else []) if c in SNOMED_SEVERITY), None))
        own_grade = grade.map(lambda g: SEVERITY_SYNONYMS.get(g) if isinstance(g, str) else None)
        cand["severity"] = own_grade.where(own_grade.notna(), cand["severity"])
    cand = cand.assign(day=cand["onset_text"], link=pd.NA, strict=cand["event"] == "new_fracture")
    cand["procedure_id"] = asm.link_events(cand, procs, remap, horizon_days=horizon)
    cand = cand[cand["procedure_id"].notna()]

    # deaths: Patient.deceasedDateTime, an event of each of the patient's procedures before it
    dead = _df(con, "SELECT file AS _source, row AS _row, key AS patient_id, t.deceasedDateTime AS raw, "
                    "full_date(t.deceasedDateTime) AS day FROM t_Patient WHERE t.deceasedDateTime IS NOT NULL")
    dead = dead.drop_duplicates("patient_id")
    deaths = procs[["procedure_id", "patient_id", "procedure_date"]].merge(dead, on="patient_id", how="inner")
    deaths = deaths[pd.to_datetime(deaths["day"], errors="coerce") >= pd.to_datetime(deaths["procedure_date"],
                                                                                      errors="coerce")]
    # the follow-up for adverse events: EpisodeOfCare typed follow-up, its end (a full date)
    follow_up = _df(con, f"""
        SELECT key, resolve(t.patient.reference) AS patient_id, full_date(t.period."end") AS day FROM t_EpisodeOfCare
        WHERE full_date(t.period."end") IS NOT NULL
          AND list_contains(list_transform(flatten(list_transform(coalesce(t.type, []), lambda c: coalesce(c.coding, []))),
                                           lambda x: coding_text(x)), '{OUTCOMES_SYSTEM}|{_FOLLOW_UP_CODE}')""")
    if not len(_df(con, "SELECT 1 FROM t_AdverseEvent LIMIT 1")) and dead.empty and follow_up.empty:
        # no AdverseEvent, no death and no follow-up recorded: the export does not carry adverse
        # events (a fracture Condition alone does not say that complications were recorded)
        return None, logs, set(), pd.DataFrame({"patient_id": [], "day": []}), follow_up
    columns = ["_source", "_row", "procedure_id", "event", "event_date", "severity"]
    events = pd.concat([
        ae.assign(event_date=ae["day"])[columns],
        cand.assign(event_date=cand["day"])[columns],
        deaths.assign(event="death", event_date=deaths["day"], severity="major")[columns],
    ], ignore_index=True)
    events = events.astype({"procedure_id": "string", "event": "string", "event_date": "string", "severity": "string"})

    # the patient's dated records: the last contact
    dated = pd.concat([
        _df(con, "SELECT resolve(t.subject.reference) AS patient_id, full_date(coalesce(t.effectiveDateTime, "
                 "t.effectivePeriod.start, t.effectiveInstant)) AS day FROM t_Observation"),
        _df(con, "SELECT resolve(t.subject.reference) AS patient_id, full_date(coalesce(t.performedDateTime, "
                 "t.performedPeriod.start, t.occurrenceDateTime, t.occurrencePeriod.start)) AS day FROM t_Procedure"),
        conds.assign(day=conds["onset_text"])[["patient_id", "day"]],
        _df(con, "SELECT resolve(t.subject.reference) AS patient_id, full_date(coalesce(t.period.\"end\", "
                 "t.period.start)) AS day FROM t_Encounter"),
        ae[["patient_id", "day"]], dead[["patient_id", "day"]],
    ], ignore_index=True)
    return events, logs, set(cand["key"]), dated, follow_up


def _iso(start: pd.Series, hours: pd.Series) -> pd.Series:
    """``start`` (dates) + ``hours`` as FHIR dateTimes in UTC (whole milliseconds)."""
    ms = np.round(hours.astype(float).to_numpy() * 3_600_000.0)
    whole = np.nan_to_num(ms).astype("int64")
    when = pd.to_datetime(start).to_numpy().astype("datetime64[ms]") + whole.astype("timedelta64[ms]")
    text = pd.Series(np.datetime_as_string(when, unit="s"), index=start.index)
    frac = whole % 1000
    text = text.where(frac == 0, text + "." + pd.Series(frac, index=start.index).astype(str).str.zfill(3))
    return (text + "+00:00").where(~np.isnan(ms))


def write_fhir(
    procedures: pd.DataFrame,
    assessments: pd.DataFrame,
    directory: str | os.PathLike[str],
    *,
    link_observations: bool = True,
    pain_encoding: str = "mixed",
    bundle: bool = False,
    events: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write canonical tables (e.g. from :func:`outcomes.synthetic.simulate`) as FHIR R4.

    Parameters
    ----------
    procedures, assessments : pandas.DataFrame
        The canonical long form (the README); ``assessments`` with ``hours_after``.
    directory : path
        Created if missing; one ``<Resource>.ndjson`` per resource type is written (Patient,
        Practitioner, Organization, Location, Encounter, Condition, Procedure, Observation), or
        ``bundle.json``. Every resource validates against the R4 (R4B) models, and every
        reference names a resource written.
    link_observations : bool, default True
        Give each Observation ``partOf`` its Procedure; False leaves linking to time, as in
        most real exports.
    pain_encoding : {"mixed", "valueInteger", "valueQuantity", "valueCodeableConcept", "component"}
        How pain scores are written; "mixed" cycles through the four. Scores that are not whole
        numbers are always written as ``valueQuantity``.
    bundle : bool, default False
        Write one collection Bundle instead of NDJSON files.
    events : pandas.DataFrame, optional
        The events table (e.g. from :func:`outcomes.synthetic.simulate_safety`): a complication
        becomes an AdverseEvent (its code in the package's system, ``seriousness`` from the
        severity, ``suspectEntity`` the Procedure), a new fracture a Condition (ICD-10-CM
        M48.50XA) dated after the procedure, a death ``Patient.deceasedDateTime``; each
        procedure's ``last_contact_days`` an ambulatory Encounter on that day, and each
        patient's follow-up an ``EpisodeOfCare`` typed ``follow-up`` (package system) from the
        first procedure to the latest last contact, which :func:`load_fhir` takes as the last
        contact (a later pain score does not extend the follow-up for events).

    Returns
    -------
    dict
        Resource type (or "Bundle") -> path written.

    Notes
    -----
    Ids are the canonical ones (Procedure/<procedure_id>, Patient/<patient_id>,
    Practitioner/<physician_id>); birth dates are years only (the procedure's year minus the age
    at the patient's first procedure); dates and times are UTC. A site is an Organization (the
    Encounter's ``serviceProvider``) and a Location of the same id (the Procedure's
    ``location``). ``Encounter.class`` is AMB, OBSENC or IMP from ``discharge``, and
    data-absent-reason ``unknown`` when the discharge is not known. A score whose procedure is not in
    ``procedures`` has no patient and is not written. The fields without a standard element
    (ASA class, height restoration, kyphotic angle change) are Observations coded in
    ``http://example.org/fhir/CodeSystem/outcomes``. Nothing here describes a real patient.

    Examples
    --------
    >>> import tempfile
    >>> from outcomes.synthetic import simulate
    >>> procedures, assessments, _ = simulate(20, seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     sorted(write_fhir(procedures, assessments, tmp))
    ['Condition', 'Encounter', 'Location', 'Observation', 'Organization', 'Patient', 'Practitioner', 'Procedure']
    """
    encodings = ("valueInteger", "valueQuantity", "valueCodeableConcept", "component")
    if pain_encoding != "mixed" and pain_encoding not in encodings:
        raise InputError(f"`pain_encoding` must be one of 'mixed', {', '.join(map(repr, encodings))}; got {pain_encoding!r}.")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    procs = procedures.reset_index(drop=True)
    resources = _fhir_resources(procs, assessments, link_observations=link_observations, pain_encoding=pain_encoding)
    if events is not None:
        _event_resources(procs, events, resources)
    if bundle:
        path = directory / "bundle.json"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write('{"resourceType":"Bundle","type":"collection","entry":[')
            first = True
            for kind, lines in resources.items():
                for line in lines:
                    fh.write(("" if first else ",") + '{"fullUrl":"http://example.org/fhir/' + kind + "/"
                             + json.loads(line)["id"] + '","resource":' + line + "}")
                    first = False
            fh.write("]}\n")
        return {"Bundle": path}
    paths = {}
    for kind, lines in resources.items():
        path = directory / f"{kind}.ndjson"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(lines))
            if lines:
                fh.write("\n")
        paths[kind] = path
    return paths


_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"


def _event_resources(procs: pd.DataFrame, events: pd.DataFrame, resources: dict[str, list[str]]) -> None:
    """Add the events table to the resources (see write_fhir's ``events``)."""
    day = pd.to_datetime(procs["procedure_date"], errors="coerce")
    by_id = pd.DataFrame({"patient_id": procs["patient_id"].astype("string").to_numpy(), "day": day.to_numpy()},
                         index=procs["procedure_id"].astype("string").to_numpy())
    by_id = by_id[~by_id.index.duplicated()]
    ev = events.reset_index(drop=True)
    ev = ev[ev["procedure_id"].astype("string").isin(by_id.index)]
    when = (by_id.loc[ev["procedure_id"].astype("string"), "day"].to_numpy()
            + pd.to_timedelta(pd.to_numeric(ev["days_after"], errors="coerce"), unit="D").to_numpy())
    ev = ev.assign(w_when=pd.Series(when, index=ev.index).dt.strftime("%Y-%m-%d"),
                   w_patient=by_id.loc[ev["procedure_id"].astype("string"), "patient_id"].to_numpy())
    deaths: dict[str, str] = {}
    resources.setdefault("AdverseEvent", [])
    for k, row in enumerate(ev.itertuples(index=False)):
        pid, code = str(row.procedure_id), str(row.event)
        subject = {"reference": f"Patient/{row.w_patient}"}
        if code == "death":
            deaths[str(row.w_patient)] = min(deaths.get(str(row.w_patient), row.w_when), row.w_when)
            continue
        if code == "new_fracture":
            resources["Condition"].append(_dumps({
                "resourceType": "Condition", "id": f"NF-{pid}-{k}", "subject": subject, "onsetDateTime": row.w_when,
                "code": {"coding": [_coding(ICD10_SYSTEMS[0], "M48.50XA",
                                            "Collapsed vertebra, not elsewhere classified, site unspecified")]}}))
            continue
        res: dict[str, Any] = {"resourceType": "AdverseEvent", "id": f"AE-{pid}-{k}", "actuality": "actual",
                               "subject": subject, "date": row.w_when,
                               "event": {"coding": [_coding(OUTCOMES_SYSTEM, code, code.replace("_", " "))]},
                               "suspectEntity": [{"instance": {"reference": f"Procedure/{pid}"}}]}
        severity = getattr(row, "severity", None)
        if isinstance(severity, str) and severity in ("major", "minor"):
            serious = ("serious", "Serious") if severity == "major" else ("non-serious", "Non-serious")
            res["seriousness"] = {"coding": [_coding(_SERIOUSNESS, *serious)]}
        resources["AdverseEvent"].append(_dumps(res))
    patients = []
    for line in resources["Patient"]:
        res = json.loads(line)
        if res["id"] in deaths:
            res["deceasedDateTime"] = deaths[res["id"]]
        patients.append(_dumps(res))
    resources["Patient"] = patients
    if "last_contact_days" in procs:
        contact = pd.to_numeric(procs["last_contact_days"], errors="coerce")
        last = (day + pd.to_timedelta(contact, unit="D")).dt.strftime("%Y-%m-%d")
        for pid, patient, when in zip(procs["procedure_id"], procs["patient_id"], last):
            if isinstance(when, str) and not pd.isna(patient):
                resources["Encounter"].append(_dumps({
                    "resourceType": "Encounter", "id": f"FU-{pid}", "status": "finished",
                    "class": _coding(_V3_ACT_CODE, "AMB", "ambulatory"), "subject": {"reference": f"Patient/{patient}"},
                    "period": {"start": when, "end": when}}))
        # the follow-up for adverse events, the patient's (as OMOP's observation_period): from the
        # first procedure to the latest last contact; a later pain score does not extend it
        spans = pd.DataFrame({"patient": procs["patient_id"].astype("string"), "start": day,
                              "end": day + pd.to_timedelta(contact, unit="D")}).dropna()
        spans = spans.groupby("patient", sort=False).agg(start=("start", "min"), end=("end", "max"))
        resources["EpisodeOfCare"] = [_dumps({
            "resourceType": "EpisodeOfCare", "id": f"FU-{patient}", "status": "finished",
            "type": [{"coding": [_coding(OUTCOMES_SYSTEM, _FOLLOW_UP_CODE, "follow-up for adverse events")]}],
            "patient": {"reference": f"Patient/{patient}"},
            "period": {"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d")}})
            for patient, start, end in zip(spans.index, spans["start"], spans["end"])]


def _coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


_ETIOLOGY_CODES = {"osteoporosis": ("M80.08XA", "Age-related osteoporosis with current pathological fracture, vertebra(e)"),
                   "malignancy": ("M84.58XA", "Pathological fracture in neoplastic disease, other specified site"),
                   "trauma": ("S22.000A", "Wedge compression fracture of unspecified thoracic vertebra")}
_UNKNOWN_FRACTURE = ("M48.50XA", "Collapsed vertebra, not elsewhere classified, site unspecified")
_CLASS = {"same_day": ("AMB", "ambulatory"), "overnight": ("OBSENC", "observation encounter"),
          "admitted": ("IMP", "inpatient encounter")}


def _dumps(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _fhir_resources(procs: pd.DataFrame, assessments: pd.DataFrame, *, link_observations: bool,
                    pain_encoding: str) -> dict[str, list[str]]:
    def text(column: str) -> pd.Series:
        if column not in procs:
            return pd.Series(pd.NA, index=procs.index, dtype="string")
        values = procs[column].astype("string").str.strip()
        return values.mask(values == "")

    def number(column: str) -> pd.Series:
        if column not in procs:
            return pd.Series(np.nan, index=procs.index)
        return pd.to_numeric(procs[column], errors="coerce")

    pid, patient, kind, date = text("procedure_id"), text("patient_id"), text("procedure"), text("procedure_date")
    date = pd.to_datetime(date, errors="coerce").dt.strftime("%Y-%m-%d").astype("string")
    physician, site = text("physician_id"), text("site_id")
    kind_codes = {"vertebroplasty": ("22510", "Percutaneous vertebroplasty, first level"),
                  "kyphoplasty": ("22513", "Percutaneous vertebral augmentation (kyphoplasty), first level")}
    kinds = [kind_codes.get(str(k).lower()) if not pd.isna(k) else None for k in kind]
    out: dict[str, list[str]] = {k: [] for k in ("Patient", "Practitioner", "Organization", "Location", "Encounter",
                                                 "Condition", "Procedure", "Observation")}

    # Patient: gender and birth year only
    age = number("age")
    year = pd.to_numeric(date.str[:4], errors="coerce")
    first = procs.assign(w_birth=(year - age), w_sex=text("sex")).drop_duplicates("patient_id")
    gender = {"F": "female", "M": "male"}
    for row in first.itertuples(index=False):
        if pd.isna(row.patient_id):
            continue
        res = {"resourceType": "Patient", "id": str(row.patient_id)}
        sex = gender.get(str(row.w_sex).upper()) if not pd.isna(row.w_sex) else None
        if sex:
            res["gender"] = sex
        if not pd.isna(row.w_birth):
            res["birthDate"] = f"{int(row.w_birth):04d}"
        out["Patient"].append(_dumps(res))
    for doc in sorted(physician.dropna().unique()):
        out["Practitioner"].append(_dumps({"resourceType": "Practitioner", "id": str(doc), "active": True}))
    # a site is an Organization (the Encounter's serviceProvider) with its Location (the Procedure's)
    for place in sorted(site.dropna().unique()):
        out["Organization"].append(_dumps({"resourceType": "Organization", "id": str(place), "active": True}))
        out["Location"].append(_dumps({"resourceType": "Location", "id": str(place), "status": "active",
                                       "managingOrganization": {"reference": f"Organization/{place}"}}))

    los = number("length_of_stay_hours")
    discharge = text("discharge")
    complication = text("complication").str.lower().isin(["true", "1", "yes", "1.0"])
    levels = number("levels_treated")
    fields = {name: number(name) for name in FIELD_CODES}
    start = _iso(date.fillna("1970-01-01"), pd.Series(0.0, index=procs.index)).where(date.notna())
    end = _iso(date.fillna("1970-01-01"), los.fillna(0.0)).where(date.notna() & los.notna())
    fracture = pd.to_datetime(text("fracture_date"), errors="coerce").dt.strftime("%Y-%m-%d")
    etiology = text("etiology").str.lower()
    for i in range(len(procs)):
        if pd.isna(pid[i]):
            continue
        p = str(pid[i])
        subject = {"reference": f"Patient/{patient[i]}"} if not pd.isna(patient[i]) else None
        enc = {"resourceType": "Encounter", "id": f"E-{p}", "status": "finished"}
        cls = _CLASS.get(discharge[i]) if not pd.isna(discharge[i]) else None
        # Encounter.class is required (1..1 in R4): "unknown" from data-absent-reason when not known
        enc["class"] = _coding(_V3_ACT_CODE, *cls) if cls else _coding(_DATA_ABSENT, "unknown", "Unknown")
        if subject:
            enc["subject"] = subject
        if not pd.isna(start[i]):
            enc["period"] = {"start": start[i], **({"end": end[i]} if not pd.isna(end[i]) else {})}
        if not pd.isna(site[i]):
            enc["serviceProvider"] = {"reference": f"Organization/{site[i]}"}
        out["Encounter"].append(_dumps(enc))
        proc = {"resourceType": "Procedure", "id": p, "status": "completed"}
        if kinds[i] is not None:
            proc["code"] = {"coding": [_coding(CPT_SYSTEMS[0], *kinds[i])]}
        elif not pd.isna(kind[i]):
            proc["code"] = {"text": str(kind[i])}
        if subject:
            proc["subject"] = subject
        proc["encounter"] = {"reference": f"Encounter/E-{p}"}
        if not pd.isna(date[i]):
            proc["performedDateTime"] = date[i]
        if not pd.isna(physician[i]):
            proc["performer"] = [{"actor": {"reference": f"Practitioner/{physician[i]}"}}]
        if not pd.isna(site[i]):
            proc["location"] = {"reference": f"Location/{site[i]}"}
        if not pd.isna(fracture[i]) or not pd.isna(etiology[i]):
            code = _ETIOLOGY_CODES.get(etiology[i], _UNKNOWN_FRACTURE) if not pd.isna(etiology[i]) else _UNKNOWN_FRACTURE
            cond = {"resourceType": "Condition", "id": f"F-{p}",
                    "code": {"coding": [_coding(ICD10_SYSTEMS[0], *code)]}}
            if subject:
                cond["subject"] = subject
            if not pd.isna(fracture[i]):
                cond["onsetDateTime"] = fracture[i]
            out["Condition"].append(_dumps(cond))
            proc["reasonReference"] = [{"reference": f"Condition/F-{p}"}]
        if not np.isnan(levels[i]) and levels[i] >= 1:
            proc["bodySite"] = [{"text": f"treated vertebral level {k + 1}"} for k in range(int(levels[i]))]
        if complication[i]:
            proc["complication"] = [{"text": "complication of the procedure"}]
        out["Procedure"].append(_dumps(proc))
        for name, values in fields.items():
            if np.isnan(values[i]):
                continue
            obs = {"resourceType": "Observation", "id": f"{FIELD_CODES[name]}-{p}", "status": "final",
                   "code": {"coding": [_coding(OUTCOMES_SYSTEM, FIELD_CODES[name])]}}
            if subject:
                obs["subject"] = subject
            if not pd.isna(start[i]):
                obs["effectiveDateTime"] = start[i]
            obs["valueQuantity"] = {"value": float(values[i])}
            if link_observations:
                obs["partOf"] = [{"reference": f"Procedure/{p}"}]
            out["Observation"].append(_dumps(obs))
    pain_rows, function_rows = split_written_scores(assessments)
    out["Observation"] += _pain_observations(procs, pain_rows, date, patient, link_observations, pain_encoding)
    out["Observation"] += _function_observations(procs, function_rows, date, patient, link_observations)
    return out


# How write_fhir codes a function score: LOINC where a code is built in and verified, else the
# package's own code (sources._settings gives the sources).
_FUNCTION_CODINGS = {
    "odi": (LOINC_SYSTEMS[0], "97909-6", "Oswestry disability index score ODI"),
    "eq5d_vas": (SNOMED_SYSTEMS[0], "736535009", "EuroQol visual analogue score (observable entity)"),
    "rmdq": (OUTCOMES_SYSTEM, FUNCTION_CODES["rmdq"], "Roland-Morris Disability Questionnaire score"),
}


def _function_observations(procs, function, date, patient, link: bool) -> list[str]:
    """Function scores as Observations: valueInteger for a whole number (every other one as
    valueQuantity, unit {score}), else valueQuantity."""
    known = pd.Series(np.arange(len(procs)), index=procs["procedure_id"].astype("string"))
    known = known[~known.index.duplicated()]
    pos = function["procedure_id"].astype("string").map(known)
    rows = function[pos.notna().to_numpy()].assign(_pos=pos[pos.notna()].astype(int).to_numpy())
    hours = pd.to_numeric(rows["hours_after"], errors="coerce").reset_index(drop=True)
    start = date.iloc[rows["_pos"]].reset_index(drop=True)
    when = _iso(start.fillna("1970-01-01"), hours).where(start.notna())
    lines = []
    counter: dict[str, int] = {}
    for k, (proc_id, pos_, kind, score, t) in enumerate(zip(rows["procedure_id"].astype(str), rows["_pos"],
                                                           rows["_function"], rows["_score"], when)):
        n = counter.get(proc_id, 0) + 1
        counter[proc_id] = n
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": f"function-{proc_id}-{n}", "status": "final",
            "category": [{"coding": [_coding("http://terminology.hl7.org/CodeSystem/observation-category", "survey")]}],
            "code": {"coding": [_coding(*_FUNCTION_CODINGS[kind])]}}
        if not pd.isna(patient[pos_]):
            obs["subject"] = {"reference": f"Patient/{patient[pos_]}"}
        if not pd.isna(t):
            obs["effectiveDateTime"] = t
        if np.isnan(score):
            obs["dataAbsentReason"] = {"coding": [_coding(_DATA_ABSENT, "unknown")]}
        elif float(score).is_integer() and k % 2 == 0:
            obs["valueInteger"] = int(score)
        else:
            obs["valueQuantity"] = {"value": int(score) if float(score).is_integer() else float(score),
                                    "unit": "{score}", "system": UCUM_SYSTEMS[0], "code": "{score}"}
        if link:
            obs["partOf"] = [{"reference": f"Procedure/{proc_id}"}]
        lines.append(_dumps(obs))
    return lines


def _pain_observations(procs, assessments, date, patient, link: bool, encoding: str) -> list[str]:
    ass = assessments.reset_index(drop=True)
    known = pd.Series(np.arange(len(procs)), index=procs["procedure_id"].astype("string"))
    known = known[~known.index.duplicated()]
    pos = ass["procedure_id"].astype("string").map(known)
    ass = ass[pos.notna()].assign(_pos=pos[pos.notna()].astype(int))
    pain = pd.to_numeric(ass["pain"], errors="coerce")
    hours = pd.to_numeric(ass["hours_after"], errors="coerce")
    instrument = ass["instrument"].astype("string").str.lower() if "instrument" in ass else pd.Series("nrs", index=ass.index)
    pain = pain * instrument.map({"vas100": 0.1}).fillna(1.0)
    when = _iso(date.iloc[ass["_pos"]].reset_index(drop=True).fillna("1970-01-01"), hours.reset_index(drop=True))
    when = when.where(date.iloc[ass["_pos"]].reset_index(drop=True).notna())
    loinc = _coding(LOINC_SYSTEMS[0], "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
    panel = _coding(LOINC_SYSTEMS[0], "38208-5", "Pain severity - Reported")
    encodings = ("valueInteger", "valueQuantity", "valueCodeableConcept", "component")
    lines = []
    counter: dict[str, int] = {}
    for k, (proc_id, pos_, score, t) in enumerate(zip(ass["procedure_id"].astype(str), ass["_pos"], pain, when)):
        n = counter.get(proc_id, 0) + 1
        counter[proc_id] = n
        obs: dict[str, Any] = {"resourceType": "Observation", "id": f"pain-{proc_id}-{n}", "status": "final",
                               "category": [{"coding": [_coding("http://terminology.hl7.org/CodeSystem/observation-category", "survey")]}]}
        form = encodings[k % 4] if encoding == "mixed" else encoding
        whole = not np.isnan(score) and float(score).is_integer() and 0 <= score <= 10
        if form in ("valueInteger", "valueCodeableConcept") and not whole:
            form = "valueQuantity"
        value: dict[str, Any]
        if np.isnan(score):
            value = {"dataAbsentReason": {"coding": [_coding(_DATA_ABSENT, "unknown")]}}
        elif form == "valueInteger":
            value = {"valueInteger": int(score)}
        elif form == "valueCodeableConcept":
            value = {"valueCodeableConcept": {"coding": [_coding(LOINC_SYSTEMS[0], LL2335_9[int(score)], str(int(score)))]}}
        else:
            value = {"valueQuantity": {"value": int(score) if whole else float(score), "unit": "{score}",
                                       "system": UCUM_SYSTEMS[0], "code": "{score}"}}
        if form == "component":
            obs["code"] = {"coding": [panel]}
            obs["component"] = [{"code": {"coding": [loinc]}, **value}]
        else:
            obs["code"] = {"coding": [loinc]}
            obs.update(value)
        if not pd.isna(patient[pos_]):
            obs["subject"] = {"reference": f"Patient/{patient[pos_]}"}
        if not pd.isna(t):
            obs["effectiveDateTime"] = t
        if link:
            obs["partOf"] = [{"reference": f"Procedure/{proc_id}"}]
        lines.append(_dumps(obs))
    return lines
