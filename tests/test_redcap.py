"""REDCap records exports, built the way REDCap writes them: raw and labels, longitudinal events
and repeating instruments, checkbox columns, coded fields decoded with the data dictionary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from outcomes import DefinitionsError, InputError, Mapping, derive_endpoints, load_records
from outcomes.endpoints import ENDPOINT_COLUMNS
from outcomes.redcap import parse_choices

EXAMPLES = Path(__file__).parents[1] / "data" / "examples"
COMPARED = [c for c in ENDPOINT_COLUMNS if c != "procedure_id"] + [
    "age", "sex", "asa_class", "levels_treated", "etiology", "complication", "discharge", "physician_id"]


def _accounted(cohort) -> None:
    flow = cohort.flow()
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all()


def _long_endpoints() -> pd.DataFrame:
    cohort = load_records(EXAMPLES / "long_procedures.csv", EXAMPLES / "long_assessments.csv")
    return derive_endpoints(cohort)


@pytest.mark.parametrize("export", ["redcap_export_raw.csv", "redcap_export_labels.csv"])
def test_example_export_gives_the_endpoints_of_the_long_form(export):
    cohort = load_records(EXAMPLES / export, mapping=EXAMPLES / "redcap_mapping.toml")
    assert cohort.exclusions.empty
    _accounted(cohort)
    got = derive_endpoints(cohort)
    want = _long_endpoints()
    # REDCap record i is long-form procedure P00000i (make_examples.py numbers them in order)
    assert got["procedure_id"].tolist() == [str(int(p[1:])) for p in want["procedure_id"]]
    pd.testing.assert_frame_equal(got[COMPARED], want[COMPARED], check_dtype=False)
    assert any("REDCap records export (" + ("raw" if "raw" in export else "labels") in n for n in cohort.notes)


# ---- hand-built exports --------------------------------------------------------------------------

DICTIONARY_HEADER = ('"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
                     '"Choices, Calculations, OR Slider Labels","Field Note",'
                     '"Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max",'
                     '"Identifier?","Branching Logic (Show field only if...)","Required Field?","Custom Alignment",'
                     '"Question Number (surveys only)","Matrix Group Name","Matrix Ranking?","Field Annotation"\n')
DICTIONARY = DICTIONARY_HEADER + (
    'study_id,case,,text,"Study ID",,,,,,,,,,,,,\n'
    'pt,case,,text,"Patient",,,,,,,,,,,,,\n'
    'kind,case,,radio,"Procedure","1, Vertebroplasty | 2, Kyphoplasty",,,,,,,,,,,,\n'
    'done_on,case,,text,"Date of procedure",,,date_mdy,,,,,,,,,,\n'
    'home,case,,yesno,"Home the same day?",,,,,,,,,,,,,\n'
    'compl,case,,checkbox,"Complications","1, Cement leak | 2, Rib fracture | 99, None of these",,,,,,,,,,,,\n'
    'score,pain_scores,,text,"Pain score",,,integer,0,10,,,,,,,,\n'
    'score_h,pain_scores,,text,"Hours since procedure",,,number,,,,,,,,,,\n'
)
# A classic (not longitudinal) project: the record's plain row holds the procedure, a repeating
# instrument "pain_scores" holds each score with its own time.
RAW = (
    "study_id,redcap_repeat_instrument,redcap_repeat_instance,pt,kind,done_on,home,compl___1,compl___2,compl___99,"
    "case_complete,score,score_h,pain_scores_complete\n"
    "101,,,A,1,2022-03-01,1,0,0,1,2,,,\n"
    "101,pain_scores,1,,,,,,,,,8,-2,2\n"
    "101,pain_scores,2,,,,,,,,,3,47.5,2\n"
    "101,pain_scores,3,,,,,,,,,2,700,2\n"
    "102,,,B,2,2022-03-02,0,1,0,0,2,,,\n"
    "102,pain_scores,1,,,,,,,,,9,-1,2\n"
    "102,pain_scores,2,,,,,,,,,8,24,2\n"
    "102,pain_scores,3,,,,,,,,,,,0\n"
)
LABELS = (
    '"Study ID","Repeat Instrument","Repeat Instance","Patient","Procedure","Date of procedure",'
    '"Home the same day?","Complications (choice=Cement leak)","Complications (choice=Rib fracture)",'
    '"Complications (choice=None of these)","Complete?","Pain score","Hours since procedure","Complete?"\n'
    "101,,,A,Vertebroplasty,2022-03-01,Yes,Unchecked,Unchecked,Checked,Complete,,,\n"
    '101,"Pain Scores",1,,,,,,,,,8,-2,Complete\n'
    '101,"Pain Scores",2,,,,,,,,,3,47.5,Complete\n'
    '101,"Pain Scores",3,,,,,,,,,2,700,Complete\n'
    "102,,,B,Kyphoplasty,2022-03-02,No,Checked,Unchecked,Unchecked,Complete,,,\n"
    '102,"Pain Scores",1,,,,,,,,,9,-1,Complete\n'
    '102,"Pain Scores",2,,,,,,,,,8,24,Complete\n'
    '102,"Pain Scores",3,,,,,,,,,,,Incomplete\n'
)
MAPPING = '''
[redcap]
dictionary = "dictionary.csv"

[procedures.columns]
"pt" = "patient_id"
"kind" = "procedure"
"done_on" = "procedure_date"
"home" = "discharge"
"compl" = "complication"

[procedures.values.discharge]
"Yes" = "same_day"
"No" = "overnight"

[procedures.values.complication]
"None of these" = "false"

[assessments.columns]
"score" = "pain"
"score_h" = "hours_after"
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "dictionary.csv").write_text(DICTIONARY, encoding="utf-8")
    (tmp_path / "raw.csv").write_text(RAW, encoding="utf-8")
    (tmp_path / "labels.csv").write_text(LABELS, encoding="utf-8")
    (tmp_path / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    return tmp_path


def _long_form() -> tuple[pd.DataFrame, pd.DataFrame]:
    procs = pd.DataFrame({"procedure_id": ["101", "102"], "patient_id": ["A", "B"],
                          "procedure": ["vertebroplasty", "kyphoplasty"], "procedure_date": ["2022-03-01", "2022-03-02"],
                          "discharge": ["same_day", "overnight"], "complication": ["no", "cement leak"]})
    scores = pd.DataFrame({"procedure_id": ["101"] * 3 + ["102"] * 2, "hours_after": [-2, 47.5, 700, -1, 24],
                           "pain": [8, 3, 2, 9, 8]})
    return procs, scores


@pytest.mark.parametrize("export", ["raw.csv", "labels.csv"])
def test_repeating_instrument_in_a_classic_project(project, export):
    cohort = load_records(project / export, mapping=project / "mapping.toml")
    _accounted(cohort)
    assert cohort.read == {"procedures": 2, "assessments": 5}
    assert cohort.procedures["complication"].tolist() == [False, True]
    assert cohort.procedures["discharge"].tolist() == ["same_day", "overnight"]
    want = derive_endpoints(load_records(*_long_form()))
    got = derive_endpoints(cohort)
    pd.testing.assert_frame_equal(got[list(ENDPOINT_COLUMNS[:20])], want[list(ENDPOINT_COLUMNS[:20])], check_dtype=False)


def test_raw_codes_without_a_dictionary_map_through_the_mapping(project):
    mapping = Mapping.from_dict({
        "redcap": {},
        "procedures": {"columns": {"pt": "patient_id", "kind": "procedure", "done_on": "procedure_date"},
                       "values": {"procedure": {"1": "vertebroplasty", "2": "kyphoplasty"}}},
        "assessments": {"columns": {"score": "pain", "score_h": "hours_after"}},
    })
    cohort = load_records(project / "raw.csv", mapping=mapping)
    assert cohort.procedures["procedure"].tolist() == ["vertebroplasty", "kyphoplasty"]
    assert len(cohort.assessments) == 5


LONGITUDINAL = (
    "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,proc,proc_date,nrs\n"
    "1,baseline_arm_1,,,,,8\n"
    "1,procedure_arm_1,,,1,2022-01-10,\n"
    "1,48h_arm_1,,,,,3\n"
    "1,week6_arm_1,,,,,2\n"
    "2,baseline_arm_1,,,,,7\n"
    "2,procedure_arm_1,,,2,2022-01-11,\n"
    "2,48h_arm_1,,,,,6\n"
    "3,baseline_arm_1,,,,,9\n"
)


def _longitudinal(tmp_path, **redcap):
    path = tmp_path / "export.csv"
    path.write_text(LONGITUDINAL, encoding="utf-8")
    mapping = Mapping.from_dict({
        "redcap": {"procedure_event": "procedure_arm_1", "events": {"baseline_arm_1": 0, "48h_arm_1": 48}, **redcap},
        "procedures": {"columns": {"proc": "procedure", "proc_date": "procedure_date"}, "values": {"procedure": {"1": "PVP", "2": "BKP"}}},
        "assessments": {"columns": {"nrs": "pain"}},
    })
    return path, mapping


def test_events_give_hours_and_an_unmapped_event_is_excluded_with_its_reason(tmp_path):
    path, mapping = _longitudinal(tmp_path)
    cohort = load_records(path, mapping=mapping)
    _accounted(cohort)
    assert cohort.assessments[["procedure_id", "hours_after", "pain"]].values.tolist() == [
        ["1", 0.0, 8.0], ["1", 48.0, 3.0], ["2", 0.0, 7.0], ["2", 48.0, 6.0]]
    log = cohort.exclusions.set_index("row")
    assert log.loc[5, "reason"] == "its REDCap event has no hours in [redcap.events]"
    assert log.loc[5, "value"] == "week6_arm_1"
    # record 3 never reached its procedure event: its score belongs to no procedure
    assert log.loc[9, "reason"] == "unknown procedure id (not in the procedures table)"


def test_event_labels_match_unique_names(tmp_path):
    path, mapping = _longitudinal(tmp_path)
    labelled = LONGITUDINAL.replace("baseline_arm_1", "Baseline (Arm 1: Arm 1)").replace(
        "procedure_arm_1", "Procedure (Arm 1: Arm 1)").replace("48h_arm_1", "48h (Arm 1: Arm 1)")
    labelled = labelled.replace("record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance",
                                "Record ID,Event Name,Repeat Instrument,Repeat Instance")
    path.write_text(labelled, encoding="utf-8")
    cohort = load_records(path, mapping=mapping)
    assert cohort.assessments["hours_after"].tolist() == [0.0, 48.0, 0.0, 48.0]


def test_procedure_event_must_be_named_and_exist(tmp_path):
    path, mapping = _longitudinal(tmp_path)
    import dataclasses

    from outcomes.mapping import RedcapSettings

    with pytest.raises(InputError, match=r"`redcap.procedure_event` in mapping must name the event .* got nothing "
                                         r"\(events in export.csv: 'baseline_arm_1', 'procedure_arm_1'"):
        load_records(path, mapping=dataclasses.replace(mapping, redcap=RedcapSettings(events={"48h_arm_1": 48})))
    with pytest.raises(InputError, match=r"must be an event of export.csv .* got 'surgery_arm_1'"):
        load_records(path, mapping=dataclasses.replace(mapping, redcap=RedcapSettings(procedure_event="surgery_arm_1")))


def test_an_assessments_table_cannot_come_with_an_export(tmp_path):
    path, mapping = _longitudinal(tmp_path)
    with pytest.raises(InputError, match="must not be given with a REDCap export"):
        load_records(path, path, mapping=mapping)


def test_mapping_section_is_checked():
    with pytest.raises(DefinitionsError, match=r"`redcap.events.48h` in mapping must be hours"):
        Mapping.from_dict({"redcap": {"events": {"48h": "two days"}}})
    with pytest.raises(DefinitionsError, match=r"`redcap.arms` in mapping must be one of"):
        Mapping.from_dict({"redcap": {"arms": 1}})


def test_choices_are_parsed_as_redcap_writes_them():
    assert parse_choices("1, Vertebroplasty | 2, Kyphoplasty, balloon | 99,Other") == {
        "1": "Vertebroplasty", "2": "Kyphoplasty, balloon", "99": "Other"}
    assert parse_choices(np.nan) == {}
