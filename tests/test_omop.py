"""OMOP CDM v5.4 databases in (outcomes.sources.omop): DuckDB, SQLite and a real PostgreSQL server.

The PostgreSQL tests need a server: .ci/run installs Debian's postgresql package, starts a cluster
and sets OUTCOMES_TEST_POSTGRES_URL; without that variable they fail, saying so (they are never
skipped). Each test works in its own schema and drops it afterwards.

The official schema is OHDSI's CDM v5.4 DDL, primary keys and foreign keys for PostgreSQL and
DuckDB, vendored in tests/fixtures/omop_ddl (source commit and licence in its README).

Concept ids: gender 8532 FEMALE / 8507 MALE, visit 9201 inpatient / 9202 outpatient, type 32817
EHR, and 1147082 "procedure_occurrence.procedure_occurrence_id" as the event field of a
measurement linked to a procedure (OMOP CDM v5.4, measurement_event_id).
"""

from __future__ import annotations

import os
import re
import uuid
import warnings

import duckdb
import pandas as pd
import pytest

from outcomes import InputError, evaluate_claims, evaluate_registry
from outcomes.cli import main
from outcomes.sources import SourceSettings, load_omop, write_omop
from outcomes.synthetic import to_omop
from outcomes.sources.omop import DDL
from omop_support import (assert_same_claims, first_procedure_day, left_out_rows, spark_global_views,
                          write_safety_cdm)
from sources_support import (OMOP_DDL, assert_rows_accounted, assert_same_results, official_duckdb_schema,
                             official_postgres_schema, official_statements, reference, simulated,
                             without_overlap)

POSTGRES_URL = os.environ.get("OUTCOMES_TEST_POSTGRES_URL", "")


needs_postgres = pytest.mark.usefixtures("postgres_url")


@pytest.fixture
def pg_schema(postgres_url):
    """A fresh schema on the test server, dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(params=["duckdb", "sqlite", "postgres"])
def target(request, tmp_path):
    """(url_or_path, schema) of an empty database of each kind."""
    if request.param == "duckdb":
        return tmp_path / "cdm.duckdb", None
    if request.param == "sqlite":
        return tmp_path / "cdm.sqlite", None
    return POSTGRES_URL, request.getfixturevalue("pg_schema")


def _id_maps(procedures: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Canonical ids -> OMOP ids as write_omop numbers them (position or order of appearance)."""
    def numbered(values):
        return {v: str(k + 1) for k, v in enumerate(pd.unique(values))}
    return {"procedure_id": numbered(procedures["procedure_id"]), "patient_id": numbered(procedures["patient_id"]),
            "physician_id": numbered(procedures["physician_id"]), "site_id": numbered(procedures["site_id"])}


# ---- round trips: the same simulated cohort through CSV and OMOP --------------------------------

def test_round_trip_gives_the_csv_endpoints_and_claims(target, tmp_path):
    procedures, assessments = simulated(300, seed=21, data_errors=6)
    expected = reference(procedures, assessments, tmp_path)
    url, schema = target
    counts = write_omop(procedures, assessments, url, schema=schema)  # four pain encodings in turn
    assert counts["procedure_occurrence"] > len(procedures)  # add-on rows for the extra levels
    cohort = load_omop(url, schema=schema)
    assert_same_results(expected, cohort, ids=_id_maps(procedures))
    assert_rows_accounted(cohort)
    flow = cohort.flow().set_index("table")
    assert flow.loc["omop:procedure_occurrence", "analysed"] == len(procedures)
    assert flow.loc["omop:observation", "read"] > 0 and flow.loc["omop:measurement", "read"] > 0


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_round_trip_linked_by_time_in_a_named_schema(backend, tmp_path, request):
    procedures, assessments = simulated(300, seed=22, p_second_procedure=0.0)
    expected = reference(procedures, assessments, tmp_path)
    url = tmp_path / "cdm.duckdb" if backend == "duckdb" else POSTGRES_URL
    schema = "cdm" if backend == "duckdb" else request.getfixturevalue("pg_schema")
    to_omop(procedures, assessments, url, schema=schema, link_measurements=False, pain_encoding="number")
    assert_same_results(expected, load_omop(url, schema=schema), ids=_id_maps(procedures))
    with pytest.raises(InputError, match="must have the tables person, procedure_occurrence; found no tables in schema"):
        load_omop(url, schema=f"{schema}_elsewhere")


# ---- the official CDM v5.4 schema: DDL, primary keys, foreign keys ------------------------------

def test_written_columns_are_the_official_v54_ddl():
    # OHDSI/CommonDataModel inst/ddl/5.4/postgresql/OMOPCDM_postgresql_5.4_ddl.sql (vendored)
    official = {}
    for statement in official_statements("postgresql", "ddl", "cdm"):
        table = re.match(r"CREATE TABLE cdm\.(\w+)", statement).group(1)
        columns = re.findall(r"^\s*(\w+) (\w+(?:\(\d+\))?) (NOT NULL|NULL)", statement, re.MULTILINE)
        official[table] = [(name, kind.upper(), null == "NOT NULL") for name, kind, null in columns]
    for table, columns in DDL.items():
        assert columns == official[table], table
    keys = dict(re.findall(r"ALTER TABLE cdm\.(\w+)\s+ADD CONSTRAINT \w+ PRIMARY KEY \((\w+)\)",
                           ";".join(official_statements("postgresql", "primary_keys", "cdm"))))
    assert {t: c[0][0] for t, c in DDL.items()} == {t: keys[t] for t in DDL}
    assert "Apache License" in (OMOP_DDL / "README.md").read_text()


def _official(backend: str, tmp_path, request) -> tuple:
    """(url_or_path, schema, foreign keys in force) of an empty official v5.4 schema."""
    if backend == "duckdb":
        path = tmp_path / "official.duckdb"
        n, left_out = official_duckdb_schema(path, "cdm")
        # only the vocabulary's own cycle and the self-references cannot be declared in DuckDB
        assert len(left_out) == 6 and all("concept" in k or "preceding" in k or "parent" in k for k in left_out)
        return path, "cdm", n
    schema = request.getfixturevalue("pg_schema")
    return POSTGRES_URL, schema, official_postgres_schema(POSTGRES_URL, schema)


def _integer_ids(url, schema) -> set[str]:
    """The data types of the id columns written, as the database reports them."""
    names = {c[0][0] for c in DDL.values()} | {"person_id", "visit_occurrence_id", "provider_id", "care_site_id"}
    sql = ("SELECT DISTINCT lower(data_type) AS t FROM information_schema.columns WHERE table_schema = '" + schema
           + "' AND column_name IN (" + ", ".join(f"'{n}'" for n in sorted(names)) + ")")
    if str(url).startswith("postgresql"):
        import psycopg
        with psycopg.connect(url) as con:
            return {r[0] for r in con.execute(sql).fetchall()}
    con = duckdb.connect(str(url))
    try:
        return {r[0] for r in con.execute(sql).fetchall()}
    finally:
        con.close()


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_round_trip_through_the_official_schema_with_its_keys(backend, tmp_path, request):
    url, schema, n_keys = _official(backend, tmp_path, request)
    assert n_keys >= 170  # the constraints file's foreign keys are in force
    procedures, assessments = simulated(300, seed=24)  # two-procedure patients, scores linked
    assert procedures["patient_id"].duplicated().sum() >= 10
    expected = reference(procedures, assessments, tmp_path)
    counts = write_omop(procedures, assessments, url, schema=schema)  # into the tables as they are
    assert _integer_ids(url, schema) == {"integer"}
    cohort = load_omop(url, schema=schema)
    assert_same_results(expected, cohort, ids=_id_maps(procedures))
    assert len(cohort.assessments) == len(expected[2].assessments)  # one score, one assessment
    assert_rows_accounted(cohort)
    # the canonical procedure id is kept: visit_source_value of the procedure's own visit
    kept = cohort.procedures[["procedure_id"]].merge(
        _query(url, schema, "SELECT p.procedure_occurrence_id::VARCHAR AS procedure_id, v.visit_source_value "
                            "FROM {s}.procedure_occurrence p JOIN {s}.visit_occurrence v "
                            "ON v.visit_occurrence_id = p.visit_occurrence_id"), on="procedure_id")
    assert sorted(kept["visit_source_value"]) == sorted(procedures["procedure_id"])
    # written again: added after the ids in use, nothing dropped (the keys would refuse a clash)
    again = write_omop(procedures, assessments, url, schema=schema)
    assert again["procedure_occurrence"] == counts["procedure_occurrence"] and again["concept"] == 0
    total = _query(url, schema, "SELECT count(*) AS n, max(procedure_occurrence_id) AS top FROM {s}.procedure_occurrence")
    assert int(total["n"].iloc[0]) == int(total["top"].iloc[0]) == 2 * counts["procedure_occurrence"]


def _query(url, schema, sql) -> pd.DataFrame:
    sql = sql.format(s=f'"{schema}"')
    if str(url).startswith("postgresql"):
        import psycopg
        with psycopg.connect(url) as con:
            cur = con.execute(sql)
            return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    con = duckdb.connect(str(url))
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_round_trip_by_time_with_two_procedure_patients(tmp_path, request):
    # no measurement_event_id: the second procedure's baseline is not also the first one's follow-up
    url, schema, _ = _official("duckdb", tmp_path, request)
    procedures, assessments = simulated(300, seed=25)
    assessments = without_overlap(procedures, assessments)
    expected = reference(procedures, assessments, tmp_path)
    write_omop(procedures, assessments, url, schema=schema, link_measurements=False)
    cohort = load_omop(url, schema=schema)
    assert_same_results(expected, cohort, ids=_id_maps(procedures))
    assert len(cohort.assessments) == len(expected[2].assessments)
    assert_rows_accounted(cohort)


def test_tables_made_by_the_writer_have_the_ddl_types_and_primary_keys(tmp_path):
    procedures, assessments = simulated(30, seed=26)
    write_omop(procedures, assessments, tmp_path / "cdm.duckdb")
    assert _integer_ids(tmp_path / "cdm.duckdb", "main") == {"integer"}
    con = duckdb.connect(str(tmp_path / "cdm.duckdb"))
    keys = con.execute("SELECT table_name, constraint_column_names[1] FROM duckdb_constraints() "
                       "WHERE constraint_type = 'PRIMARY KEY'").fetchall()
    con.close()
    assert dict(keys) == {t: c[0][0] for t, c in DDL.items()}


def test_stays_without_length_of_stay_read_back_as_written(tmp_path):
    procedures = pd.DataFrame({
        "procedure_id": ["S", "O", "A", "U"], "patient_id": ["1", "2", "3", "4"],
        "procedure": "kyphoplasty", "procedure_date": "2023-03-01", "age": 70,
        "discharge": ["same_day", "overnight", "admitted", None], "length_of_stay_hours": None,
    })
    assessments = pd.DataFrame({"procedure_id": ["S", "O", "A", "U"], "hours_after": -2, "pain": 7})
    write_omop(procedures, assessments, tmp_path / "cdm.duckdb")
    got = load_omop(tmp_path / "cdm.duckdb").procedures.set_index("procedure_id")
    # an overnight stay is not a zero-length visit (which reads back as same day), nor is an
    # unknown discharge an outpatient visit
    assert got.loc[["1", "2", "3", "4"], "discharge"].fillna("?").tolist() == ["same_day", "overnight", "admitted", "?"]
    assert got["length_of_stay_hours"].isna().all()
    # the same discharges inside the database (sql/omop.sql): the claims that read them agree
    columns = ["claim_id", "population", "n", "verdict"]
    in_db = evaluate_registry(omop=tmp_path / "cdm.duckdb").to_frame()[columns]
    pd.testing.assert_frame_equal(in_db, evaluate_claims(load_omop(tmp_path / "cdm.duckdb")).to_frame()[columns])


def test_pain_units_in_omop(small_db):
    con = duckdb.connect(str(small_db))
    con.execute("""
        INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date,
            measurement_datetime, measurement_type_concept_id, value_as_number, measurement_source_value,
            unit_source_value) VALUES
          (911, 1, 0, DATE '2023-03-10', TIMESTAMP '2023-03-10 00:00:00', 32817, 30, '72514-3', 'mm'),
          (912, 1, 0, DATE '2023-03-11', TIMESTAMP '2023-03-11 00:00:00', 32817, 3, '72514-3', 'kg')""")
    con.close()
    cohort = load_omop(small_db)
    a = cohort.assessments
    hit = a[(a.procedure_id == "1") & (a.hours_after == 9 * 24)]
    assert hit[["pain", "instrument"]].values.tolist() == [[3.0, "vas100"]]  # 30 mm: 3 on the 0-10 scale
    log = cohort.exclusions.set_index(["table", "row"])
    assert log.loc[("omop:measurement", 912), "reason"].startswith("unit not a pain scale unit")
    assert log.loc[("omop:measurement", 912), "value"] == "kg"


def test_cli_validate_omop_prints_no_warning(small_db, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas 2 warned (FutureWarning) on the row accounting
        assert main(["validate", "--omop", str(small_db)]) == 0
    assert "Warning" not in capsys.readouterr().err


# ---- what is selected and what is left out ------------------------------------------------------

@pytest.fixture
def small_db(tmp_path):
    """Two procedures written by write_omop, then rows a real warehouse also holds."""
    procedures = pd.DataFrame({
        "procedure_id": ["P1", "P2"], "patient_id": ["A", "B"], "procedure": ["kyphoplasty", "vertebroplasty"],
        "procedure_date": ["2023-03-01", "2023-05-10"], "fracture_date": ["2023-02-10", "2023-04-20"],
        "levels_treated": [2, 1], "etiology": ["osteoporosis", "trauma"], "age": [75, 93], "sex": ["F", "M"],
        "discharge": ["same_day", "admitted"], "length_of_stay_hours": [6.0, 72.0],
        "complication": [True, False], "physician_id": ["D1", "D2"], "site_id": ["north", "north"],
    })
    assessments = pd.DataFrame({"procedure_id": ["P1", "P1", "P1", "P2", "P2"],
                                "hours_after": [-20, 4, 48, -10, 24], "pain": [8, 4, 2, 7, 3]})
    path = tmp_path / "cdm.duckdb"
    write_omop(procedures, assessments, path, link_measurements=False, pain_encoding="number")
    con = duckdb.connect(str(path))
    con.execute("""
        INSERT INTO procedure_occurrence (procedure_occurrence_id, person_id, procedure_concept_id, procedure_date,
            procedure_type_concept_id, procedure_source_value, visit_occurrence_id, quantity) VALUES
          (901, 2, 0, DATE '2023-06-01', 32817, '27447', NULL, 1),          -- knee: not selected
          (902, 2, 0, DATE '2023-06-02', 32817, '225100', NULL, 1),         -- looks like 22510, is not
          (903, 1, 99999, DATE '2023-09-01', 32817, NULL, NULL, 1);         -- a local concept id
        INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date,
            measurement_datetime, measurement_type_concept_id, value_as_number, measurement_source_value,
            value_source_value) VALUES
          (901, 1, 0, DATE '2023-03-04', TIMESTAMP '2023-03-04 00:00:00', 32817, NULL, '72514-3', 'LA10137-0'),
          (902, 1, 0, DATE '2023-03-05', TIMESTAMP '2023-03-05 00:00:00', 32817, NULL, '72514-3', NULL),
          (903, 1, 0, DATE '2019-01-01', TIMESTAMP '2019-01-01 00:00:00', 32817, 5, '72514-3', NULL),
          (904, 1, 0, DATE '2023-03-02', TIMESTAMP '2023-03-02 00:00:00', 32817, 80, '8867-4', NULL);
        INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id,
            condition_start_date, condition_type_concept_id, condition_source_value, visit_occurrence_id) VALUES
          (901, 1, 0, DATE '2020-01-01', 32817, 'M80.08XA', NULL);          -- an older fracture
    """)
    con.close()
    return path


def test_procedure_fields_from_visits_conditions_and_persons(small_db):
    p = load_omop(small_db).procedures.set_index("procedure_id")
    one, two = p.loc["1"], p.loc["2"]
    assert (one["procedure"], two["procedure"]) == ("kyphoplasty", "vertebroplasty")
    assert one["levels_treated"] == 2 and two["levels_treated"] == 1  # 22513 + an add-on 22515 of quantity 1
    assert (one["discharge"], one["length_of_stay_hours"]) == ("same_day", 6.0)  # 9202, six hours
    assert (two["discharge"], two["length_of_stay_hours"]) == ("admitted", 72.0)  # 9201
    assert one["complication"] and not two["complication"]  # T81.89XA in the visit
    assert one["fracture_age_days"] == 19 and one["etiology"] == "osteoporosis"  # the visit's M80.08XA, not 2020's
    assert two["fracture_age_days"] == 20 and two["etiology"] == "trauma"
    assert (one["age"], two["age"]) == (75, 90)  # year of birth 2023 - 93 = 1930: shown as 90
    assert (one["sex"], two["sex"]) == ("F", "M")
    assert one["physician_id"] == "1" and one["site_id"] == "1"


def test_records_left_out_are_named_with_their_reason(small_db):
    cohort = load_omop(small_db)
    log = cohort.exclusions.set_index(["table", "row"])["reason"]
    assert log[("omop:procedure_occurrence", 902)].startswith("unknown code")
    assert log[("omop:procedure_occurrence", 3)].startswith("another record of the same session")  # the add-on
    assert log[("omop:measurement", 902)].startswith("no pain score")
    assert log[("omop:measurement", 903)].startswith("unlinked")
    assert log[("omop:condition_occurrence", 901)].startswith("not the fracture")
    # selected in the database: codes that contain a known code; the knee (27447) and a bare local
    # concept id (903, not configured) are never read
    flow = cohort.flow().set_index("table")
    assert flow.loc["omop:procedure_occurrence"].tolist() == [4, 2, 2]
    # the LL2335-9 answer in value_source_value: LA10137-0 is 5
    a = cohort.assessments
    assert a[(a.procedure_id == "1") & (a.hours_after == 72)]["pain"].tolist() == [5.0]
    assert_rows_accounted(cohort)


def test_concept_ids_from_the_mapping_file(small_db, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[omop]\nvertebroplasty = ["omop|99999"]\n')
    cohort = load_omop(small_db, mapping=mapping)
    assert "903" in cohort.procedures["procedure_id"].tolist()


def test_cli_validate_reads_an_omop_database(small_db, capsys):
    assert main(["validate", "--omop", str(small_db)]) == 0
    out = capsys.readouterr().out
    assert "omop:procedure_occurrence (OMOP cdm.duckdb): read 4, analysed 2, excluded 2" in out


@needs_postgres
def test_cli_validate_reads_postgres_without_printing_the_password(pg_schema, capsys):
    procedures, assessments = simulated(120, seed=23)
    write_omop(procedures, assessments, POSTGRES_URL, schema=pg_schema)
    assert main(["validate", "--omop", POSTGRES_URL, "--schema", pg_schema]) == 0
    out = capsys.readouterr().out
    assert "procedures (OMOP postgresql://" in out and "read 120, analysed 120" in out
    password = POSTGRES_URL.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert not password or f":{password}@" not in out


def test_input_validation(tmp_path):
    with pytest.raises(InputError, match="must name an existing database file"):
        load_omop(tmp_path / "nowhere.duckdb")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match=r"`url_or_path` must be a postgresql:// URL, a DuckDB file"):
        load_omop(tmp_path / "x.txt")
    (tmp_path / "x.sqlite").write_bytes(b"")
    with pytest.raises(InputError, match="`schema` must be None for a SQLite file"):
        load_omop(tmp_path / "x.sqlite", schema="cdm")
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    with pytest.raises(InputError, match="must have the tables person, procedure_occurrence; found no tables"):
        load_omop(tmp_path / "empty.duckdb")
    with pytest.raises(InputError, match="`pain_encoding` must be 'mixed' or 'number'"):
        write_omop(pd.DataFrame(), pd.DataFrame(), tmp_path / "w.duckdb", pain_encoding="text")
    procedures, assessments = simulated(5, seed=1)
    with pytest.raises(InputError, match=r"`age` must be given for every procedure written to OMOP .* row 2 of"):
        write_omop(procedures.assign(age=[70, None, 71, 72, 73][:len(procedures)]), assessments, tmp_path / "a.duckdb")
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE person (person_id INTEGER, year_of_birth INTEGER)")  # not the v5.4 columns
    con.close()
    with pytest.raises(InputError, match=r"`person` in old.duckdb must have the columns of the OMOP CDM v5.4 DDL; "
                                         r"got a table without gender_concept_id"):
        write_omop(procedures, assessments, tmp_path / "old.duckdb")


@needs_postgres
def test_unreachable_server_is_one_clear_line():
    with pytest.raises(InputError, match=r"connecting to postgresql://nobody:\*\*\*@127\.0\.0\.1:1/none failed") as info:
        load_omop("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)


# ---- evaluated inside the database: evaluate_registry(omop=...) -----------------------------------

def _messy_safety_cdm(path) -> None:
    """simulate_safety records with their events as a DuckDB CDM (schema cdm), patients with two
    procedures, plus one record for each reason load_omop leaves a selected record out."""
    write_safety_cdm(path, "cdm", n=400, seed=19, one_per_patient=False)
    with duckdb.connect(str(path)) as con:
        day = first_procedure_day(lambda q: con.sql(q).fetchall(), "cdm.")
        for statement in left_out_rows("cdm.", day):
            con.execute(statement)


def test_registry_reads_the_adverse_events_in_the_cdm_as_load_omop(tmp_path):
    # the events table (conditions after the procedure, deaths, the last contact) is made in the
    # database; the safety claims, every other claim, the flow and the reasons equal load_omop's
    path = tmp_path / "warehouse.duckdb"
    _messy_safety_cdm(path)
    cohort = load_omop(path, schema="cdm")
    assert cohort.has_events and len(cohort.events) > 0
    result = evaluate_registry(omop=path, schema="cdm")
    assert result.engine == "duckdb" and "events" in result.sources
    assert_same_claims(result, cohort)
    counts = result.exclusion_counts()
    # one reason per kind of record left out (tests/omop_support.py's left_out_rows)
    assert len(counts[counts["table"].str.startswith("omop:")]) >= 12


def test_registry_takes_the_condition_codes_from_the_mapping(tmp_path):
    # the code lists come from the one SourceSettings: rating "other complications of
    # procedures" (T81.89, what write_omop records for a cement leak, readmission, ...) major
    # makes major complications count, in memory and in the database alike
    path = tmp_path / "warehouse.duckdb"
    write_safety_cdm(path, "cdm", n=300, seed=23)
    settings = SourceSettings.from_section({"complication_events": {"icd10|T81.89": "other:major"}}, section="omop")
    cohort = load_omop(path, schema="cdm", mapping=settings)
    result = evaluate_registry(omop=path, schema="cdm", mapping=settings)
    assert_same_claims(result, cohort)
    major = result.to_frame().query("claim_id == 'major_complications' and population == 'all'")
    assert major["events"].iloc[0] > 0
    plain = evaluate_registry(omop=path, schema="cdm").to_frame()
    assert plain.query("claim_id == 'major_complications' and population == 'all'")["events"].iloc[0] == 0


def test_registry_refuses_an_events_file_with_omop(tmp_path):
    with pytest.raises(InputError, match=r"^`events` must not be given with `omop` \(the CDM's conditions and deaths "
                                         r"are read in the database, as load_omop reads them\); got both\.$"):
        evaluate_registry(omop=tmp_path / "warehouse.duckdb", events=tmp_path / "events.parquet")


# ---- function scores (ODI, RMDQ, EQ-5D VAS) ------------------------------------------------------
# ODI is written as LOINC 97909-6 "Oswestry disability index score ODI" (https://loinc.org/97909-6):
# in measurement_source_value, or (every third ODI, "mixed") only as measurement_concept_id whose
# concept row is (LOINC, 97909-6); RMDQ and EQ-5D VAS by the package's own codes (no standard
# code is built in: outcomes.sources._settings says why).

def _safety_records(n: int, seed: int, *, one_per_patient: bool = False):
    """simulate_safety's records, ages as a birth year gives them back (``simulated``)."""
    import numpy as np

    from outcomes.synthetic import simulate_safety

    procedures, assessments, events, _ = simulate_safety(n, seed=seed)
    if one_per_patient:
        procedures = procedures.assign(patient_id=procedures["procedure_id"])
    year = pd.to_datetime(procedures["procedure_date"]).dt.year
    first_age = procedures.groupby("patient_id")["age"].transform("first")
    first_year = year.groupby(procedures["patient_id"]).transform("first")
    procedures["age"] = np.minimum(first_age + (year - first_year), 90)
    return procedures, assessments, events


def _function_rows(claims: pd.DataFrame) -> pd.DataFrame:
    return claims[claims["claim_id"] == "function_regained"].reset_index(drop=True)


def _assert_same_function_claim(got: pd.DataFrame, want: pd.DataFrame) -> None:
    from numpy.testing import assert_allclose

    got, want = _function_rows(got), _function_rows(want)
    assert len(want) > 0 and (want["n"] > 100).any()
    assert got["population"].tolist() == want["population"].tolist()
    assert got["verdict"].tolist() == want["verdict"].tolist()
    for column in ("n", "estimate", "ci_low", "ci_high"):
        assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-9, atol=1e-12,
                        err_msg=column)


def test_function_scores_round_trip_give_the_files_function_claim(target, tmp_path):
    from outcomes import evaluate_claims, load_records

    procedures, assessments, events = _safety_records(400, seed=41)
    url, schema = target
    counts = to_omop(procedures, assessments, url, schema=schema, events=events)  # mixed: three forms in turn
    expected = load_records(procedures, assessments, events)
    cohort = load_omop(url, schema=schema)
    _assert_same_function_claim(evaluate_claims(cohort).to_frame(), evaluate_claims(expected).to_frame())
    flow, want = cohort.flow().set_index("table"), expected.flow().set_index("table")
    assert flow.loc["function_scores", "analysed"] == want.loc["function_scores", "analysed"] > 2000
    assert flow.loc["omop:measurement", "excluded"] == flow.loc["omop:observation", "excluded"] == 0
    assert counts["concept"] == 13  # the LOINC ODI concept beside 72514-3 and the LL2335-9 answers
    assert_rows_accounted(cohort)


def test_function_scores_linked_by_time_round_trip(tmp_path):
    from outcomes import evaluate_claims, load_records

    procedures, assessments, events = _safety_records(400, seed=42)
    assessments = without_overlap(procedures, assessments)
    to_omop(procedures, assessments, tmp_path / "cdm.duckdb", schema="cdm", link_measurements=False,
            pain_encoding="number", events=events)
    cohort = load_omop(tmp_path / "cdm.duckdb", schema="cdm")
    expected = load_records(procedures, assessments, events)
    _assert_same_function_claim(evaluate_claims(cohort).to_frame(), evaluate_claims(expected).to_frame())


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    """(target, schema) of an empty warehouse: a DuckDB file or a schema on the test server."""
    if request.param == "duckdb":
        return str(tmp_path / "cdm.duckdb"), "cdm"
    return POSTGRES_URL, request.getfixturevalue("pg_schema")


@pytest.mark.parametrize("link", [True, False])
def test_function_claim_in_the_warehouse_equals_load_omop(warehouse, link):
    # function scores selected by code in SQL (sql/omop.sql: _omop_links, per instrument) from the one code
    # list, SourceSettings.function: every claim and the row accounting equal load_omop's
    from numpy.testing import assert_allclose

    from outcomes import evaluate_claims, evaluate_registry

    target, schema = warehouse
    procedures, assessments, _ = _safety_records(300, seed=43, one_per_patient=True)
    write_omop(procedures, assessments, target, schema=schema, link_measurements=link)
    result = evaluate_registry(omop=target, schema=schema)
    cohort = load_omop(target, schema=schema)
    got, want = result.to_frame(), evaluate_claims(cohort).to_frame()
    _assert_same_function_claim(got, want)
    assert got["claim_id"].tolist() == want["claim_id"].tolist()
    for column in ("n", "estimate", "ci_low", "ci_high", "stated", "p_value", "events"):
        assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-9, atol=1e-12,
                        equal_nan=True, err_msg=column)
    pd.testing.assert_frame_equal(result.flow(), cohort.flow())


def test_function_codes_from_the_mapping_file_in_load_omop_and_the_warehouse(tmp_path):
    # a clinic's RMDQ known only by its own concept id, named in [omop.function]
    from outcomes import derive_endpoints, evaluate_registry
    from outcomes.sources import SourceSettings

    procedures = pd.DataFrame({"procedure_id": ["A"], "patient_id": ["P"], "procedure": ["kyphoplasty"],
                               "procedure_date": ["2022-05-02"], "levels_treated": [1], "age": [77]})
    scores = pd.DataFrame({"procedure_id": ["A"] * 3, "hours_after": [-2.0, 48.0, 336.0], "pain": [8, 3, 2]})
    path = tmp_path / "cdm.duckdb"
    write_omop(procedures, scores, path)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date, "
                "measurement_datetime, measurement_type_concept_id, value_as_number) VALUES "
                "(9001, 1, 2100000001, DATE '2022-05-01', TIMESTAMP '2022-05-01 22:00:00', 32817, 18), "
                "(9002, 1, 2100000001, DATE '2022-05-16', TIMESTAMP '2022-05-16 00:00:00', 32817, 11)")
    con.close()
    assert load_omop(path).function_scores.empty  # an unknown concept: not a function score
    mapping = {"omop": {"function": {"omop|2100000001": "rmdq"}}}
    cohort = load_omop(path, mapping=mapping)
    assert cohort.function_scores["score"].tolist() == [18.0, 11.0]
    assert cohort.function_scores["hours_after"].tolist() == [-2.0, 336.0]
    endpoint = derive_endpoints(cohort).iloc[0]
    assert endpoint["function_change"] == 7.0 and bool(endpoint["function_regained"])  # >= 5 RMDQ points
    settings = SourceSettings.from_section(mapping["omop"], section="omop")
    frame = evaluate_registry(omop=path, mapping=settings).to_frame()
    row = frame[(frame["claim_id"] == "function_regained") & (frame["population"] == "all")]
    assert row["n"].tolist() == [1]  # without the mapping's code: no function score, n = 0
    assert evaluate_registry(omop=path).to_frame().query(
        "claim_id == 'function_regained' and population == 'all'")["n"].tolist() == [0]


def test_function_claim_on_spark_equals_load_omop(spark, tmp_path):
    # the same sql/omop.sql on Spark (the CDM tables as global temporary views), linked by time
    from numpy.testing import assert_allclose

    from outcomes import evaluate_claims, evaluate_registry

    procedures, assessments, _ = _safety_records(150, seed=12, one_per_patient=True)
    db = tmp_path / "cdm.duckdb"
    write_omop(procedures, assessments, db, link_measurements=False)
    spark_global_views(db, spark)
    got = evaluate_registry(omop=spark, schema="global_temp").to_frame()
    want = evaluate_claims(load_omop(db)).to_frame()
    fn = want[want["claim_id"] == "function_regained"]
    assert fn.loc[fn["population"] == "all", "n"].tolist() == [137]  # scores of 137 procedures: 2 weeks vs baseline
    for column in ("n", "estimate", "ci_low", "ci_high", "p_value"):
        assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-9, atol=1e-12,
                        equal_nan=True, err_msg=column)


def test_registry_with_events_and_function_scores_equals_load_omop(tmp_path):
    # one CDM with adverse events (death, observation_period, conditions after the procedure) and
    # function scores (ODI by LOINC 97909-6, RMDQ, EQ-5D VAS), patients with two procedures, plus
    # pain and function records left out for each reason: the warehouse (sql/omop.sql) gives every
    # claim, the flow and the reasons of load_omop -> evaluate_claims
    procedures, assessments, events = _safety_records(400, seed=44)
    path = tmp_path / "warehouse.duckdb"
    to_omop(procedures, assessments, path, schema="cdm", events=events, link_measurements=False,
            pain_encoding="number")
    with duckdb.connect(str(path)) as con:
        day = first_procedure_day(lambda q: con.sql(q).fetchall(), "cdm.")
        for statement in left_out_rows("cdm.", day):
            con.execute(statement)
        when = pd.Timestamp(day)
        rows = [  # (id, person, hours after procedure 1's day, source value, value, link)
            (900101, 1, 24, "97909-6", "NULL", "NULL, NULL"),  # no function score
            (900102, 900002, 24, "97909-6", "30", "NULL, NULL"),  # no analysed procedure
            (900103, 1, 24 * 2000, "97909-6", "30", "NULL, NULL"),  # beyond the follow-up horizon
            (900104, 1, -600, "97909-6", "40", "NULL, NULL"),  # an earlier ODI in the baseline window
            (900105, 1, 24, "97909-6", "20", "900001, 1147082"),  # linked to the unknown procedure
        ]
        for mid, person, hours, source, value, link in rows:
            t = (when + pd.Timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")
            con.execute(f"INSERT INTO cdm.measurement (measurement_id, person_id, measurement_concept_id, "
                        f"measurement_date, measurement_datetime, measurement_type_concept_id, value_as_number, "
                        f"measurement_source_value, measurement_event_id, meas_event_field_concept_id) VALUES "
                        f"({mid}, {person}, 0, CAST(TIMESTAMP '{t}' AS DATE), TIMESTAMP '{t}', 32817, {value}, "
                        f"'{source}', {link})")
    cohort = load_omop(path, schema="cdm")
    assert cohort.has_events and len(cohort.events) > 0 and len(cohort.function_scores) > 1000
    result = evaluate_registry(omop=path, schema="cdm")
    assert result.engine == "duckdb" and "events" in result.sources
    assert_same_claims(result, cohort)  # every claim to 1e-9, flow, exclusion_counts; safety assessable
    got = result.to_frame()
    function = got[(got["claim_id"] == "function_regained") & (got["population"] == "all")]
    assert function["n"].iloc[0] > 100 and function["verdict"].iloc[0] != "not assessable"
    counts = result.exclusion_counts()
    measured = set(counts.loc[counts["table"] == "omop:measurement", "reason"])
    from outcomes.sources.omop import LEFT_OUT

    assert {LEFT_OUT[k] for k in ("no_function_score", "no_score", "unknown_score", "no_procedure", "unlinked",
                                  "earlier_baseline", "link_left_out")} <= measured
