"""FHIR Bulk Data exports and Bundles in (outcomes.sources.fhir).

Fixtures in tests/fixtures/fhir are hand-written resources in the forms real exports use. The
LOINC answer codes of LL2335-9 ("Numeric rating scale from 0-10") and their scores are as listed
in hl7-be/patient-monitoring input/fsh/valuesets/ScalePain.fsh (LA6111-4 = 0 ... LA13942-0 = 10).
"""

from __future__ import annotations

import gzip
import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from outcomes import IdentifiersAllowedWarning, InputError, PrivacyError
from outcomes.cli import main
from outcomes.exceptions import DefinitionsError
from outcomes.sources import SourceSettings, load_fhir, write_fhir
from outcomes.sources._settings import LL2335_9
from outcomes.synthetic import to_fhir
from sources_support import (assert_rows_accounted, assert_same_results, reference, simulated,
                             without_overlap)

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
EXPORT = FIXTURES / "export"
BUNDLE = FIXTURES / "bundle.json"


@pytest.fixture(scope="module")
def export_cohort():
    return load_fhir(EXPORT)


def _score(cohort, procedure_id: str, hours: float) -> float:
    a = cohort.assessments
    hit = a[(a["procedure_id"] == procedure_id) & (a["hours_after"].round(6) == hours)]
    assert len(hit) == 1, a
    return float(hit["pain"].iloc[0])


# ---- every pain encoding loads to the right score ------------------------------------------------

@pytest.mark.parametrize("encoding, hours, pain", [
    ("valueInteger (the day before: the baseline)", -23.0, 8.0),
    ("valueQuantity {score}", 4.0, 4.0),
    ("valueCodeableConcept LA6113-0 (position 2 in LL2335-9)", 48.0, 2.0),
    ("component of a panel, after a heart-rate component, LA6112-2", 672.0, 1.0),
    ("LA10137-0 whose display text says 7: position 5 counts, not the display", 168.0, 5.0),
])
def test_each_pain_encoding_loads_to_its_score(export_cohort, encoding, hours, pain):
    # times: procedure 2023-03-01T09:00-05:00; scores at local times of the fixture lines
    assert _score(export_cohort, "proc-a", hours) == pain


def test_answer_list_is_ll2335_9_by_position():
    # hl7-be/patient-monitoring ScalePain.fsh: LA6111-4 "0", LA6112-2 "1", ..., LA13942-0 "10"
    assert LL2335_9[0] == "LA6111-4" and LL2335_9[5] == "LA10137-0" and LL2335_9[10] == "LA13942-0"
    assert len(set(LL2335_9)) == 11


def test_bundle_with_urn_uuid_references_loads_each_encoding():
    cohort = load_fhir(BUNDLE)
    assert cohort.procedures["procedure_id"].tolist() == ["bp-1"]
    proc = cohort.procedures.iloc[0]
    assert proc["patient_id"].startswith("urn:uuid:")  # a Patient without an id is known by its fullUrl
    assert proc["etiology"] == "malignancy" and proc["fracture_age_days"] == 16  # M84.58XA, onset 2024-01-20
    assert proc["age"] == 72 and proc["sex"] == "F"
    got = cohort.assessments[["hours_after", "pain"]].values.tolist()
    assert got == [[-24.0, 9.0], [24.0, 3.0], [672.0, 10.0], [2160.0, 0.0]]
    assert_rows_accounted(cohort)


# ---- procedure fields ------------------------------------------------------------------------------

def test_procedure_fields_from_the_linked_resources(export_cohort):
    p = export_cohort.procedures.set_index("procedure_id")
    a, b = p.loc["proc-a"], p.loc["proc-b"]
    assert (a["procedure"], b["procedure"]) == ("kyphoplasty", "vertebroplasty")  # CPT 22513, 22511
    assert a["procedure_date"] == pd.Timestamp("2023-03-01")  # the local calendar date
    # two bodySite entries; none stated: a first-level code (CPT 22511) is one level, as the CSV's 1
    assert a["levels_treated"] == 2 and b["levels_treated"] == 1
    assert a["complication"] and not b["complication"]
    assert (a["discharge"], a["length_of_stay_hours"]) == ("same_day", 6.0)  # AMB, 08:30-14:30
    assert (b["discharge"], b["length_of_stay_hours"]) == ("admitted", 72.0)  # IMP, three days
    assert a["age"] == 75 and b["age"] == 90  # 2023 - 1948; 2023 - 1930 = 93 shown as 90
    assert (a["sex"], b["sex"]) == ("F", "M")
    assert a["physician_id"] == "doc-7" and b["physician_id"] == "doc-9"  # a Practitioner before a PractitionerRole
    assert a["site_id"] == "north" and b["site_id"] == "spine-suite"  # serviceProvider; Procedure.location
    assert a["fracture_age_days"] == 19 and a["etiology"] == "osteoporosis"  # reasonReference M80.08XA
    # no reasonReference: the patient's latest fracture Condition before the procedure (S32.000A)
    assert b["fracture_date"] == pd.Timestamp("2023-04-01") and b["etiology"] == "trauma"
    assert a["baseline_pain"] == 8 and b["baseline_pain"] == 7


@pytest.mark.parametrize("table, value, reason", [
    ("fhir:Procedure", "not-done", "status is not completed"),
    ("fhir:Procedure", "http://www.ama-assn.org/go/cpt|27447", "unknown code: not a vertebroplasty or kyphoplasty code"),
    ("fhir:Observation", "entered-in-error", "status not counted: only final, amended, corrected results count"),
    ("fhir:Observation", "http://loinc.org|8867-4", "unknown code: not a pain score"),
    ("fhir:Observation", "http://loinc.org|LA6568-5", "no pain score: the answer code is not in the LL2335-9"),
    ("fhir:Observation", "asked-declined", "no pain score (no value, or a data-absent reason)"),
    ("fhir:Observation", "proc-c", "linked to a procedure that is not analysed"),
    ("fhir:Observation", "pt-3", "patient has no analysed"),
    ("fhir:Observation", "2022-01-15T10:00:00-05:00", "unlinked: not within the baseline window"),
    ("fhir:Patient", "pt-3", "no analysed vertebroplasty or kyphoplasty procedure"),
    ("fhir:Condition", "I10", "not the fracture of an analysed procedure"),
    ("fhir:Encounter", "enc-c", "not the encounter of an analysed procedure"),
    ("fhir:Practitioner", "doc-11", "not the performer of an analysed procedure"),
])
def test_every_resource_left_out_is_named_with_its_reason(export_cohort, table, value, reason):
    log = export_cohort.exclusions
    hit = log[(log["table"] == table) & (log["value"] == value)]
    assert len(hit) == 1, log
    assert hit["reason"].iloc[0].startswith(reason)
    assert hit["source"].iloc[0].endswith(".ndjson") and int(hit["row"].iloc[0]) >= 1  # file and line


def test_flow_accounts_for_every_resource(export_cohort):
    flow = export_cohort.flow().set_index("table")
    assert flow.loc["fhir:Observation"].tolist() == [14, 7, 7]
    assert flow.loc["fhir:Procedure"].tolist() == [4, 2, 2]
    assert flow.loc["procedures", "analysed"] == 2 and flow.loc["assessments", "analysed"] == 7
    assert_rows_accounted(export_cohort)


def test_export_hash_and_sources_are_stamped(export_cohort):
    assert len(export_cohort.input_hashes["fhir"]) == 64
    assert "FHIR export export" in export_cohort.sources["procedures"]


# ---- round trips: the same simulated cohort through CSV and FHIR --------------------------------

def test_round_trip_with_partof_links_gives_the_csv_endpoints_and_claims(tmp_path):
    procedures, assessments = simulated(300, seed=11, data_errors=6)
    expected = reference(procedures, assessments, tmp_path)
    write_fhir(procedures, assessments, tmp_path / "fhir")  # every pain encoding, in turn
    cohort = load_fhir(tmp_path / "fhir")
    assert_same_results(expected, cohort)
    assert_rows_accounted(cohort)


def test_round_trip_linked_by_time_gives_the_csv_endpoints_and_claims(tmp_path):
    # without partOf, scores are linked by time; with one procedure per patient that is exact
    procedures, assessments = simulated(300, seed=12, p_second_procedure=0.0)
    expected = reference(procedures, assessments, tmp_path)
    to_fhir(procedures, assessments, tmp_path / "fhir", link_observations=False, pain_encoding="component")
    assert_same_results(expected, load_fhir(tmp_path / "fhir"))


@pytest.mark.parametrize("link", [True, False], ids=["partOf", "by time"])
def test_round_trip_with_two_procedure_patients(tmp_path, link):
    # two procedures of one patient months apart: the second one's baseline is not also the
    # first one's follow-up, so each Observation gives at most one assessment
    procedures, assessments = simulated(300, seed=14)
    assessments = without_overlap(procedures, assessments)
    assert procedures["patient_id"].duplicated().sum() >= 10
    expected = reference(procedures, assessments, tmp_path)
    write_fhir(procedures, assessments, tmp_path / "fhir", link_observations=link)
    cohort = load_fhir(tmp_path / "fhir")
    assert_same_results(expected, cohort)
    assert len(cohort.assessments) == len(expected[2].assessments)
    assert_rows_accounted(cohort)


def test_round_trip_through_a_bundle(tmp_path):
    procedures, assessments = simulated(300, seed=13)  # small samples make the exact tests slow
    expected = reference(procedures, assessments, tmp_path)
    paths = write_fhir(procedures, assessments, tmp_path / "b", bundle=True)
    assert list(paths) == ["Bundle"]
    assert_same_results(expected, load_fhir(paths["Bundle"]))


def test_gzipped_ndjson_loads_like_plain(tmp_path):
    for path in EXPORT.iterdir():
        with path.open("rb") as src, gzip.open(tmp_path / (path.name + ".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    cohort = load_fhir(tmp_path)
    pd.testing.assert_frame_equal(cohort.assessments, load_fhir(EXPORT).assessments)


# ---- linking scores by time -----------------------------------------------------------------------

def _write(folder: Path, resources: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(json.dumps(r))
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def _proc(pid, when, code="22510", patient="p1", **extra):
    return {"resourceType": "Procedure", "id": pid, "status": "completed", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]},
            "performedDateTime": when, **extra}


def _pain(oid, when, value, patient="p1", **extra):
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
            "effectiveDateTime": when, "valueInteger": value, **extra}


def test_time_linking_last_baseline_next_procedure_and_horizon(tmp_path):
    folder = _write(tmp_path / "x", [
        {"resourceType": "Patient", "id": "p1", "birthDate": "1950"},
        _proc("A", "2023-01-10T00:00:00Z"), _proc("B", "2023-06-10T00:00:00Z", code="22513"),
        _pain("early", "2023-01-08T00:00:00Z", 9),     # in A's window, but not the last before A
        _pain("base", "2023-01-09T00:00:00Z", 8),      # A's baseline (-24 h)
        _pain("a48", "2023-01-12T00:00:00Z", 4),       # A +48 h
        _pain("b_base", "2023-06-09T00:00:00Z", 6),    # B's baseline only (not also A's follow-up)
        _pain("b24", "2023-06-11T00:00:00Z", 2),       # after B: B's, not A's
        _pain("late", "2030-01-01T00:00:00Z", 1),      # beyond B's follow-up horizon (1461 days)
    ])
    cohort = load_fhir(folder)
    a = cohort.assessments
    assert a[a.procedure_id == "A"][["hours_after", "pain"]].values.tolist() == [[-24.0, 8.0], [48.0, 4.0]]
    assert a[a.procedure_id == "B"][["hours_after", "pain"]].values.tolist() == [[-24.0, 6.0], [24.0, 2.0]]
    # one score, one procedure: the remark names the score not also counted as A's follow-up
    notes = cohort.remarks[cohort.remarks["table"] == "fhir:Observation"]
    assert notes["value"].tolist() == ["2023-06-09T00:00:00Z"]
    assert notes["remark"].iloc[0].startswith("baseline of the patient's next procedure")
    flow = cohort.flow().set_index("table")
    assert flow.loc["fhir:Observation", "read"] == 6 and len(a) == 4  # 4 linked + 2 left out, none twice
    assert_rows_accounted(cohort)
    reasons = cohort.exclusions.set_index("value")["reason"]
    assert reasons["2023-01-08T00:00:00Z"].startswith("an earlier score in the baseline window")
    assert reasons["2030-01-01T00:00:00Z"].startswith("unlinked")


def test_two_procedures_at_one_instant_share_no_score(tmp_path):
    # a vertebroplasty and a kyphoplasty recorded at the same time (two kinds: two procedures):
    # each score goes to one of them, the first recorded, never to both
    folder = _write(tmp_path / "x", [
        _proc("V", "2023-01-10T00:00:00Z"), _proc("K", "2023-01-10T00:00:00Z", code="22513"),
        _pain("base", "2023-01-09T00:00:00Z", 8), _pain("d2", "2023-01-12T00:00:00Z", 3),
    ])
    cohort = load_fhir(folder)
    assert cohort.assessments[["procedure_id", "hours_after"]].values.tolist() == [["V", -24.0], ["V", 48.0]]
    assert_rows_accounted(cohort)


def test_follow_up_horizon_and_window_come_from_the_mapping(tmp_path):
    folder = _write(tmp_path / "x", [_proc("A", "2023-01-10T00:00:00Z"), _pain("base", "2023-01-05T00:00:00Z", 8),
                                     _pain("d5", "2023-01-15T00:00:00Z", 4), _pain("d20", "2023-01-30T00:00:00Z", 3)])
    cohort = load_fhir(folder, mapping={"fhir": {"follow_up_days": 10, "baseline_window_hours": 48}})
    assert cohort.assessments["hours_after"].tolist() == [120.0]
    assert cohort.exclusions["value"].tolist() == ["2023-01-05T00:00:00Z", "2023-01-30T00:00:00Z"]
    assert set(cohort.exclusions["reason"].str[:9]) == {"unlinked:"}
    with pytest.raises(InputError, match=r"must have pain scores \(Observations coded LOINC 72514-3"):
        load_fhir(folder, mapping={"fhir": {"follow_up_days": 1, "baseline_window_hours": 1}})


def test_add_on_code_and_second_record_of_a_session_add_levels(tmp_path):
    folder = _write(tmp_path / "x", [
        _proc("K1", "2023-02-01T10:00:00Z", code="22513", bodySite=[{"text": "T11"}]),
        _proc("K2", "2023-02-01T10:30:00Z", code="22515"),          # add-on: each additional level
        _proc("K3", "2023-02-01T11:00:00Z", code="22514", bodySite=[{"text": "L2"}, {"text": "L3"}]),
        _pain("o", "2023-02-02T10:00:00Z", 3, partOf=[{"reference": "Procedure/K2"}]),
    ])
    cohort = load_fhir(folder)
    assert cohort.procedures["procedure_id"].tolist() == ["K1"]
    assert cohort.procedures["levels_treated"].tolist() == [4.0]   # 1 + 1 + 2
    assert cohort.assessments["procedure_id"].tolist() == ["K1"]   # a link to K2 follows it into the session
    merged = cohort.exclusions[cohort.exclusions["reason"].str.startswith("another record of the same session")]
    assert sorted(merged["procedure_id"]) == ["K1", "K1"]


def test_snomed_codes_are_recognised_when_configured(tmp_path):
    snomed = {"coding": [{"system": "http://snomed.info/sct", "code": "1234567"}]}
    folder = _write(tmp_path / "x", [{**_proc("S", "2023-02-01"), "code": snomed}, _pain("o", "2023-02-02", 3)])
    with pytest.raises(InputError, match="must have Procedure resources with a vertebroplasty or kyphoplasty code"):
        load_fhir(folder)  # not a built-in code: no procedure is left
    mapping = tmp_path / "m.toml"
    mapping.write_text('[fhir]\nkyphoplasty = ["snomed|1234567"]\n')
    cohort = load_fhir(folder, mapping=mapping)
    assert cohort.procedures["procedure"].tolist() == ["kyphoplasty"]


# ---- units and statuses -----------------------------------------------------------------------------

def _quantity(value, unit):
    return {"valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def test_pain_values_are_read_on_the_scale_their_unit_names(tmp_path):
    def obs(oid, when, value, unit):
        return {**{k: v for k, v in _pain(oid, when, 0).items() if k != "valueInteger"}, **_quantity(value, unit)}

    folder = _write(tmp_path / "x", [
        _proc("A", "2023-01-10T00:00:00Z"),
        obs("mm", "2023-01-09T00:00:00Z", 80, "mm"),          # 0-100 mm VAS: 8 on the 0-10 scale
        obs("cm", "2023-01-11T00:00:00Z", 6.5, "cm"),         # 0-10 cm VAS
        obs("score", "2023-01-12T00:00:00Z", 4, "{score}"),
        obs("tenth", "2023-01-13T00:00:00Z", 3, "/10"),
        obs("hundredth", "2023-01-14T00:00:00Z", 20, "/100"),
        obs("eight_mm", "2023-01-15T00:00:00Z", 8, "mm"),     # 8 mm is 0.8, never pain 8
        obs("kg", "2023-01-16T00:00:00Z", 5, "kg"),           # not a pain unit: left out, named
    ])
    cohort = load_fhir(folder)
    a = cohort.assessments
    assert a["instrument"].tolist() == ["vas100", "vas10", "nrs", "nrs", "vas100", "vas100"]
    assert a["pain"].tolist() == [8.0, 6.5, 4.0, 3.0, 2.0, 0.8]  # vas100 converted by load_records
    assert cohort.procedures["baseline_pain"].tolist() == [8.0]
    left = cohort.exclusions[cohort.exclusions["table"] == "fhir:Observation"]
    assert left["value"].tolist() == ["kg"] and left["reason"].iloc[0].startswith("unit not a pain scale unit")
    own = load_fhir(folder, mapping={"fhir": {"pain_units": {"kg": ""}}})  # whatever a clinic declares
    assert len(own.assessments) == 7
    with pytest.raises(DefinitionsError, match=r"`fhir.pain_units.kg` in mapping must be one of ''"):
        SourceSettings.from_section({"pain_units": {"kg": "weight"}}, section="fhir")


def test_only_final_amended_and_corrected_observations_count(tmp_path):
    statuses = ["final", "amended", "corrected", "preliminary", "unknown", "registered", None]
    resources = [_proc("A", "2023-01-10T00:00:00Z")]
    for k, status in enumerate(statuses):
        obs = _pain(f"o{k}", f"2023-01-{11 + k}T00:00:00Z", k)
        if status is None:
            del obs["status"]
        else:
            obs["status"] = status
        resources.append(obs)
    folder = _write(tmp_path / "x", resources)
    cohort = load_fhir(folder)
    assert cohort.assessments["pain"].tolist() == [0.0, 1.0, 2.0]
    left = cohort.exclusions[cohort.exclusions["table"] == "fhir:Observation"]
    assert left["value"].tolist() == ["preliminary", "unknown", "registered", "(no status)"]
    assert left["reason"].str.startswith("status not counted: only final, amended, corrected").all()
    assert_rows_accounted(cohort)
    more = load_fhir(folder, mapping={"fhir": {"observation_statuses": ["final", "amended", "corrected", "preliminary"]}})
    assert more.assessments["pain"].tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(DefinitionsError, match=r"`fhir.observation_statuses` in mapping must be a list of FHIR"):
        SourceSettings.from_section({"observation_statuses": ["done"]}, section="fhir")


# ---- what the writer emits is valid FHIR ------------------------------------------------------------

def _validate_export(paths: dict) -> int:
    """Every resource through the fhir.resources R4B models; every reference resolves."""
    from fhir.resources.R4B import get_fhir_model_class

    resources = []
    for path in paths.values():
        for line in path.read_text().splitlines():
            doc = json.loads(line)
            get_fhir_model_class(doc["resourceType"]).model_validate_json(line)  # raises on any error
            resources.append(doc)
    known = {f"{r['resourceType']}/{r['id']}" for r in resources}

    def references(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference":
                    yield value
                else:
                    yield from references(value)
        elif isinstance(node, list):
            for item in node:
                yield from references(item)

    dangling = {ref for r in resources for ref in references(r)} - known
    assert not dangling, sorted(dangling)[:5]
    return len(resources)


@pytest.mark.parametrize("encoding", ["mixed", "valueInteger", "valueQuantity", "valueCodeableConcept", "component"])
def test_every_written_resource_is_valid_r4(tmp_path, encoding):
    procedures, assessments = simulated(120, seed=15, data_errors=4)
    procedures.loc[::7, "discharge"] = None  # an Encounter whose class is not known
    procedures.loc[::7, "length_of_stay_hours"] = None
    procedures.loc[::11, "site_id"] = None
    paths = write_fhir(procedures, assessments, tmp_path / "fhir", pain_encoding=encoding,
                       link_observations=encoding != "component")
    assert _validate_export(paths) > len(procedures) + len(assessments)
    encounters = [json.loads(line) for line in paths["Encounter"].read_text().splitlines()]
    assert all("class" in e for e in encounters)  # required 1..1 in R4
    unknown = [e for e in encounters if e["class"]["code"] == "unknown"]
    assert len(unknown) == procedures["discharge"].isna().sum()
    cohort = load_fhir(tmp_path / "fhir")
    assert cohort.procedures["discharge"].isna().sum() == procedures["discharge"].isna().sum()
    flow = cohort.flow().set_index("table")
    assert flow.loc["fhir:Location", "excluded"] == 0 and flow.loc["fhir:Organization", "excluded"] == 0
    assert_rows_accounted(cohort)


# ---- privacy -------------------------------------------------------------------------------------

IDENTIFIED = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["Jane"]}],
              "telecom": [{"system": "phone", "value": "555-0100"}], "birthDate": "1950-04-02",
              "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                  "code": "MR"}]}, "value": "12345"}]}


def test_identifying_patients_are_refused_naming_each_field(tmp_path):
    folder = _write(tmp_path / "x", [IDENTIFIED, _proc("A", "2023-01-10"), _pain("o", "2023-01-11", 3)])
    with pytest.raises(PrivacyError) as info:
        load_fhir(folder)
    text = str(info.value)
    for field in ("Patient.name", "Patient.telecom", "Patient.birthDate with month or day", "Patient.identifier of type MR"):
        assert field in text
    assert "Doe" not in text and "12345" not in text  # the message names fields, never values


def test_identifiers_allowed_on_request_are_never_carried(tmp_path):
    folder = _write(tmp_path / "x", [IDENTIFIED, _proc("A", "2023-01-10"), _pain("o", "2023-01-11", 3)])
    with pytest.warns(IdentifiersAllowedWarning):
        cohort = load_fhir(folder, allow_identifiers=True)
    assert cohort.privacy_warnings and "Patient.name" in cohort.privacy_warnings[0]
    assert cohort.procedures["age"].tolist() == [72.0]  # full birth date: completed years (2023-01-10 vs 1950-04-02)
    text = cohort.procedures.to_csv() + cohort.assessments.to_csv()
    assert "Doe" not in text and "12345" not in text and "555" not in text


def test_a_de_identified_export_loads(export_cohort):
    assert export_cohort.privacy_warnings == ()


# ---- input validation ----------------------------------------------------------------------------

def test_input_validation(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_fhir(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"`path` must be a folder of FHIR Bulk Data files"):
        load_fhir(tmp_path / "empty")
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(InputError, match=r"`path` must be an \.ndjson file"):
        load_fhir(tmp_path / "x.csv")
    with pytest.raises(InputError, match="`pain_encoding` must be one of"):
        write_fhir(pd.DataFrame(), pd.DataFrame(), tmp_path / "w", pain_encoding="valueString")
    with pytest.raises(DefinitionsError, match=r"`fhir.colour` in mapping must be one of"):
        SourceSettings.from_section({"colour": 1}, section="fhir")
    with pytest.raises(DefinitionsError, match=r"`fhir.pain.loinc\|1-1` in mapping must be one of nrs"):
        SourceSettings.from_section({"pain": {"loinc|1-1": "loud"}}, section="fhir")


def test_unreadable_lines_are_accounted_for(tmp_path):
    folder = _write(tmp_path / "x", [_proc("A", "2023-01-10"), _pain("o", "2023-01-11", 3)])
    with (folder / "Observation.ndjson").open("a") as fh:
        fh.write('{"resourceType": "Observation", "id": \n')
    cohort = load_fhir(folder)
    bad = cohort.exclusions[cohort.exclusions["table"] == "fhir:(unreadable)"]
    assert bad[["source", "row", "reason"]].values.tolist() == [["Observation.ndjson", 2, "not valid JSON (or no resourceType)"]]
    assert_rows_accounted(cohort)


# ---- command line ----------------------------------------------------------------------------------

def test_cli_validate_reads_a_fhir_export(capsys):
    assert main(["validate", "--fhir", str(EXPORT)]) == 0
    out = capsys.readouterr().out
    assert "fhir:Observation (FHIR export export): read 14, analysed 7, excluded 7" in out
    assert "unknown code: not a pain score" in out


@pytest.mark.parametrize("argv, message", [
    (["validate"], "got none"),
    (["validate", "p.csv", "--fhir", "x"], "got procedures and fhir"),
    (["validate", "--fhir", "x", "--omop", "y.duckdb"], "got fhir and omop"),
    (["validate", "--fhir", "x", "--assessments", "a.csv"], "`assessments` must go with procedures"),
    (["validate", "--fhir", "x", "--schema", "cdm"], "`schema` must go with omop"),
])
def test_cli_needs_exactly_one_source(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_warnings_do_not_leak(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_fhir(EXPORT)


def test_report_from_a_fhir_export_shows_its_accounting(tmp_path):
    """`outcomes report --fhir` renders from the export itself: the report's records table
    carries the fhir:* rows and the stamp hashes the export, not a temporary copy."""
    out = tmp_path / "fhir_report.html"
    assert main(["report", "--fhir", str(EXPORT), "--output", str(out), "--quiet"]) == 0
    page = out.read_text()
    assert "fhir:Observation" in page and "unknown code: not a pain score" in page
    assert str(tmp_path) not in page and str(EXPORT.parent) not in page


# ---- function scores (ODI, RMDQ, EQ-5D VAS) ------------------------------------------------------
# Codes: LOINC 97909-6 "Oswestry disability index score ODI" (https://loinc.org/97909-6, panel
# 97908-8); SNOMED CT 736535009 "EuroQol visual analogue score (observable entity)" (MII PRO
# guide, EQ-5D-5L scores). No RMDQ code is built in: the hand-built export names a clinic's own.

def _safety_cohort(n: int, seed: int):
    """simulate_safety's records with the birth-year ages of ``simulated`` (see sources_support)."""
    import numpy as np

    from outcomes.synthetic import simulate_safety

    procedures, assessments, events, _ = simulate_safety(n, seed=seed)
    year = pd.to_datetime(procedures["procedure_date"]).dt.year
    first_age = procedures.groupby("patient_id")["age"].transform("first")
    first_year = year.groupby(procedures["patient_id"]).transform("first")
    procedures["age"] = np.minimum(first_age + (year - first_year), 90)
    return procedures, assessments, events


def _function_claims(cohort) -> pd.DataFrame:
    from outcomes import evaluate_claims

    claims = evaluate_claims(cohort).to_frame()
    return claims[claims["claim_id"] == "function_regained"].reset_index(drop=True)


@pytest.mark.parametrize("link", [True, False])
def test_function_scores_round_trip_give_the_files_function_claim(tmp_path, link):
    from numpy.testing import assert_allclose

    from outcomes import load_records

    procedures, assessments, events = _safety_cohort(400, seed=31)
    if not link:  # linked by time: a score after the patient's next procedure belongs to it
        assessments = without_overlap(procedures, assessments)
    expected = load_records(procedures, assessments, events)
    paths = to_fhir(procedures, assessments, tmp_path / "fhir", events=events, link_observations=link)
    coded = [json.loads(line)["code"]["coding"][0] for line in paths["Observation"].read_text().splitlines()]
    assert {c["code"] for c in coded} >= {"97909-6", "function-rmdq"}  # ODI by LOINC, RMDQ by our own code
    cohort = load_fhir(tmp_path / "fhir")
    got, want = _function_claims(cohort), _function_claims(expected)
    assert len(want) > 0 and (want["n"] > 100).any()
    assert got[["population", "verdict"]].equals(want[["population", "verdict"]])
    for column in ("n", "estimate", "ci_low", "ci_high"):
        assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-9, atol=1e-12)
    flow = cohort.flow().set_index("table")
    assert flow.loc["function_scores", "analysed"] == expected.flow().set_index("table").loc["function_scores", "analysed"]
    assert flow.loc["fhir:Observation", "excluded"] == 0
    assert_rows_accounted(cohort)


def _ehr_observation(oid, code, when, patient="p1", **value):
    """An Observation as an EHR writes a questionnaire score: survey category, one coding, a value."""
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "survey", "display": "Survey"}]}],
            "code": {"coding": [code]}, "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": when, **value}


ODI = {"system": "http://loinc.org", "code": "97909-6", "display": "Oswestry disability index score ODI"}
EQ_VAS = {"system": "http://snomed.info/sct", "code": "736535009",
          "display": "EuroQol visual analogue score (observable entity)"}
CLINIC_RMDQ = {"system": "http://hospital.example.org/fhir/CodeSystem/scores", "code": "RMDQ-24",
               "display": "Roland-Morris disability questionnaire, 24 items"}


def test_hand_built_ehr_function_observations_load_by_code(tmp_path):
    from fhir.resources.R4B import get_fhir_model_class

    from outcomes import derive_endpoints

    resources = [
        {"resourceType": "Patient", "id": "p1", "birthDate": "1948"},
        _proc("A", "2023-03-01T09:00:00-05:00"),
        _pain("nrs-0", "2023-02-28T10:00:00-05:00", 8),
        _ehr_observation("odi-0", ODI, "2023-02-28T10:00:00-05:00",
                         valueQuantity={"value": 64, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}),
        _ehr_observation("odi-2w", ODI, "2023-03-15T09:00:00-05:00", valueInteger=40),
        _ehr_observation("rmdq-0", CLINIC_RMDQ, "2023-02-28T10:05:00-05:00", valueInteger=17),
        _ehr_observation("rmdq-2w", CLINIC_RMDQ, "2023-03-15T09:05:00-05:00", valueInteger=9),
        _ehr_observation("eq-2w", EQ_VAS, "2023-03-15T09:10:00-05:00",
                         valueQuantity={"value": 70, "unit": "{score}", "system": "http://unitsofmeasure.org",
                                        "code": "{score}"}),
        _ehr_observation("odi-absent", ODI, "2023-04-01T09:00:00-05:00",
                         dataAbsentReason={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                                       "code": "asked-declined"}]}),
    ]
    for resource in resources:  # as an EHR writes them: valid R4 (R4B models)
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    folder = _write(tmp_path / "ehr", resources)
    mapping = {"fhir": {"function": {f"{CLINIC_RMDQ['system']}|RMDQ-24": "rmdq"}}}
    cohort = load_fhir(folder, mapping=mapping)
    scores = cohort.function_scores.sort_values(["instrument", "hours_after"]).reset_index(drop=True)
    assert scores["instrument"].tolist() == ["eq5d_vas", "odi", "odi", "rmdq", "rmdq"]
    assert scores["score"].tolist() == [70.0, 64.0, 40.0, 17.0, 9.0]
    # times relative to the procedure, as for pain: -23 h baseline, +14 days (336 h) follow-up
    assert (scores["hours_after"] * 60).round(6).tolist() == [336 * 60 + 10, -23 * 60, 336 * 60, -23 * 60 + 5,
                                                              336 * 60 + 5]
    endpoint = derive_endpoints(cohort).iloc[0]
    assert endpoint["function_instrument"] == "odi" and endpoint["function_change"] == 24.0  # 64 -> 40
    assert bool(endpoint["function_regained"])  # >= 10 ODI points (Ostelo 2008)
    log = cohort.exclusions
    absent = log[(log["table"] == "fhir:Observation") & (log["value"] == "asked-declined")]
    assert absent["reason"].str.startswith("no function score").tolist() == [True]
    # without the mapping file the clinic's RMDQ code is an unknown code, named as such
    plain = load_fhir(folder)
    assert sorted(plain.function_scores["instrument"].unique()) == ["eq5d_vas", "odi"]
    left = plain.exclusions[plain.exclusions["value"] == f"{CLINIC_RMDQ['system']}|RMDQ-24"]
    assert len(left) == 2 and left["reason"].str.contains("nor a function score").all()
    assert_rows_accounted(cohort)


ODI_PANEL = {"system": "http://loinc.org", "code": "97908-8", "display": "Oswestry disability index panel"}
CLINIC_ITEM = {"system": "http://hospital.example.org/fhir/CodeSystem/scores", "code": "ODI-1",
               "display": "ODI section 1, pain intensity"}


def _panel(oid, when, *components, code=ODI_PANEL, **extra):
    """A questionnaire panel Observation whose scores are its components (no value of its own)."""
    return {**_ehr_observation(oid, code, when, **extra), "component": list(components)}


def test_function_scores_as_components_of_a_panel_observation(tmp_path):
    # an EHR writes the ODI total (LOINC 97909-6) as a component of the ODI panel (97908-8), beside
    # the item answers: read as a top-level ODI Observation is (the [fhir.function] code lists apply
    # to components too), one score per Observation
    from fhir.resources.R4B import get_fhir_model_class

    from outcomes import derive_endpoints

    item = {"code": {"coding": [CLINIC_ITEM]}, "valueInteger": 3}
    resources = [
        {"resourceType": "Patient", "id": "p1", "birthDate": "1948"},
        _proc("A", "2023-03-01T09:00:00-05:00"),
        _pain("nrs-0", "2023-02-28T10:00:00-05:00", 8),
        _panel("odi-0", "2023-02-28T10:00:00-05:00", item,
               {"code": {"coding": [ODI]}, "valueQuantity": {"value": 64, "unit": "%", "system": "http://unitsofmeasure.org",
                                                             "code": "%"}}),
        _panel("odi-2w", "2023-03-15T09:00:00-05:00", {"code": {"coding": [ODI]}, "valueInteger": 40}, item),
        _panel("rmdq-2w", "2023-03-15T09:05:00-05:00", {"code": {"coding": [CLINIC_RMDQ]}, "valueInteger": 9},
               code={"system": "http://hospital.example.org/fhir/CodeSystem/scores", "code": "RMDQ-PANEL"}),
        _panel("odi-absent", "2023-04-01T09:00:00-05:00", item, {"code": {"coding": [ODI]}, "dataAbsentReason": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "asked-declined"}]}}),
        _panel("items-only", "2023-04-02T09:00:00-05:00", item),  # no total score: an unknown code
    ]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                        for r in resources]}
    get_fhir_model_class("Bundle").model_validate(bundle)  # valid R4 (R4B models), components included
    folder = tmp_path / "ehr"
    folder.mkdir()
    (folder / "bundle.json").write_text(json.dumps(bundle))
    mapping = {"fhir": {"function": {f"{CLINIC_RMDQ['system']}|RMDQ-24": "rmdq"}}}
    cohort = load_fhir(folder, mapping=mapping)
    scores = cohort.function_scores.sort_values(["instrument", "hours_after"]).reset_index(drop=True)
    assert scores["instrument"].tolist() == ["odi", "odi", "rmdq"]
    assert scores["score"].tolist() == [64.0, 40.0, 9.0]  # the total, not the item answer (3)
    assert (scores["hours_after"] * 60).round(6).tolist() == [-23 * 60, 336 * 60, 336 * 60 + 5]
    endpoint = derive_endpoints(cohort).iloc[0]
    assert endpoint["function_instrument"] == "odi" and endpoint["function_change"] == 24.0  # 64 -> 40
    log = cohort.exclusions[cohort.exclusions["table"] == "fhir:Observation"]
    assert log.loc[log["value"] == "asked-declined", "reason"].str.startswith("no function score").tolist() == [True]
    assert log.loc[log["value"] == "http://loinc.org|97908-8", "reason"].str.startswith("unknown code").tolist() == [True]
    assert len(log) == 2
    # without the mapping file the clinic's RMDQ component is no function score
    plain = load_fhir(folder)
    assert plain.function_scores["instrument"].tolist() == ["odi", "odi"]
    assert_rows_accounted(cohort)


def test_function_codes_from_the_mapping_file_are_checked():
    settings = SourceSettings.from_section({"function": {"loinc|12345-6": "rmdq"}}, section="fhir")
    assert [c.key for c, kind in settings.function if kind == "rmdq"][-1] == "http://loinc.org|12345-6"
    assert ("http://loinc.org|97909-6", "odi") in [(c.key, k) for c, k in settings.function]  # built in stays
    with pytest.raises(DefinitionsError, match=r"^`fhir.function.loinc\|12345-6` in mapping must be one of odi, "
                                               r"rmdq, eq5d_vas; got 'sf36'.$"):
        SourceSettings.from_section({"function": {"loinc|12345-6": "sf36"}}, section="fhir")
