"""Helpers shared by the FHIR and OMOP tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from outcomes import derive_endpoints, evaluate_claims, load_records
from outcomes.synthetic import simulate


def simulated(n: int = 300, seed: int = 11, **truth) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulated cohort whose ages a birth year can express.

    FHIR (Patient.birthDate) and OMOP (person.year_of_birth) hold one birth year per patient,
    not an age per procedure. The simulation gives a patient's second procedure the age of the
    first even a year later; here a later procedure's age is the first age plus the difference
    of calendar years (capped at 90), which is what a birth year gives back.
    """
    procedures, assessments, _ = simulate(n, seed=seed, **truth)
    year = pd.to_datetime(procedures["procedure_date"]).dt.year
    first_age = procedures.groupby("patient_id")["age"].transform("first")
    first_year = year.groupby(procedures["patient_id"]).transform("first")
    procedures["age"] = np.minimum(first_age + (year - first_year), 90)
    return procedures, assessments


def reference(procedures: pd.DataFrame, assessments: pd.DataFrame, tmp_path) -> tuple:
    """Endpoints and claims of the same records loaded from CSV files."""
    procedures.to_csv(tmp_path / "procedures.csv", index=False)
    assessments.to_csv(tmp_path / "assessments.csv", index=False)
    cohort = load_records(tmp_path / "procedures.csv", tmp_path / "assessments.csv")
    return derive_endpoints(cohort), evaluate_claims(cohort).to_frame(), cohort


def assert_same_results(expected: tuple, cohort, *, ids: dict[str, dict[str, str]] | None = None) -> None:
    """Endpoints (ids translated by ``ids``: column -> {canonical: source id}) and claims equal."""
    endpoints, claims, _ = expected
    if ids:
        endpoints = endpoints.assign(**{col: endpoints[col].map(table) for col, table in ids.items()})
    got = derive_endpoints(cohort)
    pd.testing.assert_frame_equal(endpoints.reset_index(drop=True), got.reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(claims, evaluate_claims(cohort).to_frame())


def assert_rows_accounted(cohort) -> None:
    flow = cohort.flow()
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all(), flow
    assert (flow["analysed"] >= 0).all(), flow



def without_overlap(procedures: pd.DataFrame, assessments: pd.DataFrame) -> pd.DataFrame:
    """The assessments less a procedure's scores from its patient's next procedure's first score on.

    A FHIR or OMOP record of a score carries a time, not its procedure: by time, a score after
    a patient's second procedure belongs to the second, and the last one before it is its
    baseline. A simulated first procedure's one- and three-year follow-ups can fall after the
    second procedure; without them the CSV and a time-linked export hold the same links.
    """
    start = pd.Series(pd.to_datetime(procedures["procedure_date"]).to_numpy(), index=procedures["procedure_id"])
    t = start.reindex(assessments["procedure_id"]).to_numpy() + pd.to_timedelta(
        pd.to_numeric(assessments["hours_after"]), unit="h").to_numpy()
    first = pd.Series(t).groupby(assessments["procedure_id"].to_numpy()).min()
    begins = pd.concat([start, first], axis=1).min(axis=1)  # the first score, or the procedure
    order = pd.DataFrame({"patient_id": procedures["patient_id"].to_numpy(), "t": start.to_numpy(),
                          "begins": begins.reindex(start.index).to_numpy()}, index=start.index)
    order = order.sort_values(["patient_id", "t"], kind="stable")
    cut = order.groupby("patient_id")["begins"].shift(-1)
    limit = cut.reindex(assessments["procedure_id"]).to_numpy()
    keep = pd.isna(limit) | (t < limit)
    return assessments[keep].reset_index(drop=True)


# ---- the official OMOP CDM v5.4 schema (tests/fixtures/omop_ddl, see its README) ----------------

OMOP_DDL = Path(__file__).parent / "fixtures" / "omop_ddl"

# The few vocabulary rows a schema with its foreign keys needs for what write_omop writes (a real
# warehouse holds the whole OHDSI vocabulary). Concept ids as in the OHDSI vocabulary: 0 "No
# matching concept", 8507 MALE, 8532 FEMALE (Gender), 9201 Inpatient Visit, 9202 Outpatient
# Visit (Visit), 32817 EHR (Type Concept), 1147082 procedure_occurrence.procedure_occurrence_id
# (CDM field, Metadata).
VOCABULARY_SEED = {
    "concept": [
        (0, "No matching concept", "Metadata", "None", "Undefined", None, "No matching concept"),
        (8507, "MALE", "Gender", "Gender", "Gender", "S", "M"),
        (8532, "FEMALE", "Gender", "Gender", "Gender", "S", "F"),
        (9201, "Inpatient Visit", "Visit", "Visit", "Visit", "S", "IP"),
        (9202, "Outpatient Visit", "Visit", "Visit", "Visit", "S", "OP"),
        (32817, "EHR", "Type Concept", "Type Concept", "Type Concept", "S", "OMOP4976890"),
        (1147082, "procedure_occurrence.procedure_occurrence_id", "Metadata", "CDM", "Field", "S",
         "CDM1147082"),
    ],
    "domain": ["Metadata", "Gender", "Visit", "Type Concept", "Measurement", "Meas Value"],
    "vocabulary": ["None", "Gender", "Visit", "Type Concept", "CDM", "LOINC"],
    "concept_class": ["Undefined", "Gender", "Visit", "Type Concept", "Field", "Clinical Observation",
                      "Answer"],
}


def official_statements(dialect: str, part: str, schema: str) -> list[str]:
    """The statements of one vendored DDL file (ddl, primary_keys, constraints) for ``schema``."""
    text = (OMOP_DDL / f"OMOPCDM_{dialect}_5.4_{part}.sql").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.replace("@cdmDatabaseSchema", schema).split(";") if s.strip()]


def _seed_sql(schema: str) -> list[str]:
    def quoted(v):
        return "NULL" if v is None else (str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'")

    concept = [f"INSERT INTO {schema}.concept (concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, "
            f"standard_concept, concept_code, valid_start_date, valid_end_date) VALUES "
            + ", ".join(f"({', '.join(map(quoted, r))}, DATE '1970-01-01', DATE '2099-12-31')"
                        for r in VOCABULARY_SEED["concept"])]
    rows = [f"INSERT INTO {schema}.domain (domain_id, domain_name, domain_concept_id) VALUES "
                + ", ".join(f"({quoted(d)}, {quoted(d)}, 0)" for d in VOCABULARY_SEED["domain"])]
    rows.append(f"INSERT INTO {schema}.vocabulary (vocabulary_id, vocabulary_name, vocabulary_concept_id) VALUES "
                + ", ".join(f"({quoted(v)}, {quoted(v)}, 0)" for v in VOCABULARY_SEED["vocabulary"]))
    rows.append(f"INSERT INTO {schema}.concept_class (concept_class_id, concept_class_name, "
                f"concept_class_concept_id) VALUES "
                + ", ".join(f"({quoted(c)}, {quoted(c)}, 0)" for c in VOCABULARY_SEED["concept_class"]))
    return rows + concept  # a concept references its domain, vocabulary and class


def official_postgres_schema(url: str, schema: str) -> int:
    """Create ``schema`` as OHDSI's instructions do: DDL, primary keys, the vocabulary, then the
    foreign keys. Returns the number of foreign keys in force."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
        for part in ("ddl", "primary_keys"):
            for statement in official_statements("postgresql", part, schema):
                con.execute(statement)
        for statement in _seed_sql(schema):
            con.execute(statement)
        for statement in official_statements("postgresql", "constraints", schema):
            con.execute(statement)
        return con.execute("SELECT count(*) FROM information_schema.table_constraints "
                           "WHERE constraint_schema = %s AND constraint_type = 'FOREIGN KEY'", (schema,)).fetchone()[0]


def official_duckdb_schema(path, schema: str) -> tuple[int, list[str]]:
    """Create ``schema`` in a DuckDB file from OHDSI's DuckDB DDL, primary keys and foreign keys.

    DuckDB cannot add a foreign key to an existing table (ALTER TABLE ... ADD CONSTRAINT ...
    FOREIGN KEY is not implemented), so each table is created with its primary key and the
    foreign keys of the constraints file written into its CREATE TABLE, tables referenced
    before the tables that reference them. The vocabulary tables reference each other in a
    cycle (concept -> domain -> concept), and a table cannot reference itself: those keys are
    left out (returned). Returns (foreign keys in force, foreign keys left out).
    """
    import re

    import duckdb

    creates = {}
    for statement in official_statements("duckdb", "ddl", schema):
        table = re.match(rf"CREATE TABLE {schema}\.(\w+)", statement).group(1).lower()
        creates[table] = statement
    keys = {}
    for statement in official_statements("duckdb", "primary_keys", schema):
        m = re.match(rf"ALTER TABLE {schema}\.(\w+)\s+ADD CONSTRAINT \w+ PRIMARY KEY \((\w+)\)", statement)
        keys[m.group(1).lower()] = m.group(2)
    foreign: dict[str, list[tuple[str, str, str]]] = {}
    for statement in official_statements("duckdb", "constraints", schema):
        m = re.match(rf"ALTER TABLE {schema}\.(\w+)\s+ADD CONSTRAINT \w+ FOREIGN KEY \((\w+)\) "
                     rf"REFERENCES {schema}\.(\w+) \((\w+)\)", statement)
        foreign.setdefault(m.group(1).lower(), []).append((m.group(2), m.group(3).lower(), m.group(4).lower()))
    created: list[str] = []
    left_out: list[str] = []
    # the cycle is broken where OHDSI's loaders break it: the vocabulary's domain, vocabulary and
    # concept class tables first (without their key to concept), then concept; then every
    # table after the tables it references (ties: the DDL's order)
    pending = ["domain", "vocabulary", "concept_class", "concept"] + [
        t for t in creates if t not in ("domain", "vocabulary", "concept_class", "concept")]
    while pending:
        def unresolved(t):
            return sum(ref not in created and ref != t for _, ref, _ in foreign.get(t, []))
        table = min(pending, key=lambda t: (unresolved(t) > 0 and t not in ("domain", "vocabulary", "concept_class"),
                                            pending.index(t)))
        pending.remove(table)
        extra = [f"PRIMARY KEY ({keys[table]})"] if table in keys else []
        for column, ref, ref_column in foreign.get(table, []):
            if ref in created:
                extra.append(f"FOREIGN KEY ({column}) REFERENCES {schema}.{ref} ({ref_column})")
            else:
                left_out.append(f"{table}.{column} -> {ref}")
        statement = creates[table].rstrip().rstrip(")").rstrip()
        creates[table] = statement + (", " + ", ".join(extra) if extra else "") + ")"
        created.append(table)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE SCHEMA {schema}")
        for table in created:
            con.execute(creates[table])
        for statement in _seed_sql(schema):
            con.execute(statement)
        n = con.execute("SELECT count(*) FROM duckdb_constraints() WHERE schema_name = ? "
                        "AND constraint_type = 'FOREIGN KEY'", [schema]).fetchone()[0]
    finally:
        con.close()
    return n, left_out
