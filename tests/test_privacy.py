"""Privacy guard: the 18 HIPAA Safe Harbor categories (45 CFR 164.514(b)(2)(i)(A)-(R)), refused unless allowed."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from outcomes import IdentifiersAllowedWarning, PrivacyError, load_records
from outcomes.mapping import Mapping
from outcomes.privacy import (
    SAFE_HARBOR,
    check_identifiers,
    data_class,
    find_identifiers,
    name_rule,
    normalise_name,
    scan_values,
)

CORPUS = Path(__file__).parent / "fixtures" / "privacy_corpus.csv"


def _corpus() -> list[dict[str, str]]:
    with CORPUS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    return rows


CASES = _corpus()


def _frame(case: dict[str, str]) -> pd.DataFrame:
    value: object = case["value"]
    if case["value"].isdigit() and case["kind"] == "value":
        value = int(case["value"])  # ages and day counts arrive as numbers
    return pd.DataFrame({"procedure_id": ["P1", "P2"], case["column"]: ["fine", value] if not isinstance(value, int)
                         else [70, value]})


def test_corpus_covers_every_category():
    categories = {c["category"] for c in CASES}
    assert set(SAFE_HARBOR) <= categories and "free" in categories
    assert sum(c["expected"] == "pass" for c in CASES) >= 40


@pytest.mark.parametrize("case", [c for c in CASES if c["expected"] == "refuse"],
                         ids=lambda c: f"{c['category']}:{c['column']}={c['value']}")
def test_identifier_refused_naming_column_and_category(case):
    with pytest.raises(PrivacyError) as info:
        check_identifiers(_frame(case), source="clinic.csv")
    message = str(info.value)
    assert "\n" not in message
    assert f"column {case['column']!r}: " in message
    if case["category"] == "free":
        assert "free text the analysis does not use" in message and "drop = [...]" in message
    else:
        assert f"[Safe Harbor ({case['category']}) {SAFE_HARBOR[case['category']]}]" in message


@pytest.mark.parametrize("case", [c for c in CASES if c["expected"] == "pass"],
                         ids=lambda c: f"{c['column']}={c['value']}")
def test_harmless_case_passes(case):
    assert find_identifiers(_frame(case)) == []


def test_value_finding_names_the_rows():
    frame = pd.DataFrame({"contact_info": ["fine", "ok", "ann.lee@example.org", "x", "bo@example.org"]})
    [finding] = find_identifiers(frame)
    assert (finding.reason, finding.rows, finding.category) == ("values look like e-mail addresses", (4, 6), "F")


@pytest.mark.parametrize(("raw", "normalised"), [
    ("DateOfBirth", "date_of_birth"), ("M.R.N.", "mrn"), ("\uff2d\uff32\uff2e", "mrn"), ("M\u200bRN", "mrn"),
    ("Age at surgery", "age_at_surgery"), ("  ZIP+4 ", "zip_4"), ("MRNNumber", "mrn_number"),
])
def test_normalise_name(raw, normalised):
    assert normalise_name(raw) == normalised


def test_contract_columns_are_not_flagged(procedures_frame, assessments_frame):
    assert find_identifiers(procedures_frame) == [] and find_identifiers(assessments_frame) == []


def test_mapped_date_column_is_a_date_not_an_identifier():
    frame = pd.DataFrame({"admission_date": ["2022-01-03"]})
    assert [f.category for f in find_identifiers(frame)] == ["C"]
    assert find_identifiers(frame, used=["admission_date"]) == []


def test_every_offending_column_listed(procedures_frame, assessments_frame):
    frame = procedures_frame.assign(MRN="123", contact="ann@example.org")
    with pytest.raises(PrivacyError, match=r"column 'MRN': .*medical record number \[Safe Harbor \(H\).*; "
                                           r"column 'contact': values look like e-mail addresses \(rows 0, 1, 2\)"):
        load_records(frame, assessments_frame)


def test_patient_name_refused_with_one_line(procedures_frame, assessments_frame, write_csv):
    path = write_csv(procedures_frame.assign(patient_name="Ann Lee"), "clinic.csv")
    with pytest.raises(PrivacyError) as info:
        load_records(path, assessments_frame)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("clinic.csv looks identifying: column 'patient_name': its name suggests a person's "
                              "name [Safe Harbor (A) names]")
    assert "allow_identifiers=True (--allow-identifiers)" in message


def test_free_text_dropped_through_the_mapping(procedures_frame, assessments_frame, write_csv, tmp_path):
    path = write_csv(procedures_frame.assign(notes="Ann Lee, call 555-123-4567"), "clinic.csv")
    with pytest.raises(PrivacyError, match=r"column 'notes': free text the analysis does not use .*minimum necessary"):
        load_records(path, assessments_frame)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[procedures]\ndrop = ["notes"]\n', encoding="utf-8")
    cohort = load_records(path, assessments_frame, mapping=mapping)
    assert "notes" not in cohort.procedures and len(cohort.procedures) == 4
    assert load_records(path, assessments_frame, mapping=Mapping(procedure_drop=("notes",))).privacy_warnings == ()


def test_a_name_like_column_mapped_onto_the_contract_is_refused_only_for_names(procedures_frame, assessments_frame):
    """'Pt' mapped to patient_id holds pseudonymous ids (passes); holding people's names it is refused (A)."""
    mapping = Mapping(procedure_columns={"Pt": "patient_id"})
    ids = procedures_frame.rename(columns={"patient_id": "Pt"})
    assert len(load_records(ids, assessments_frame, mapping=mapping).procedures) == len(procedures_frame)
    with pytest.raises(PrivacyError, match=r"column 'Pt': its name suggests"):
        load_records(ids, assessments_frame)  # not declared by a mapping: the name alone refuses it
    names = ids.assign(Pt=["Ann Lee", "Bob Stone", "Carla Diaz", "Dan Moss"][:len(ids)])
    with pytest.raises(PrivacyError, match=r"column 'Pt': values look like people's names .*\[Safe Harbor \(A\)"):
        load_records(names, assessments_frame, mapping=mapping)


def test_assessments_checked_too(procedures_frame, assessments_frame):
    with pytest.raises(PrivacyError, match=r"assessments \(DataFrame\) looks identifying: column 'phone'"):
        load_records(procedures_frame, assessments_frame.assign(phone="x"))


def test_allow_identifiers_warns_and_travels(procedures_frame, assessments_frame):
    with pytest.warns(IdentifiersAllowedWarning, match="allowed through on request"):
        cohort = load_records(procedures_frame.assign(patient_name="Ann"), assessments_frame, allow_identifiers=True)
    assert len(cohort.privacy_warnings) == 1 and "patient_name" in cohort.privacy_warnings[0]
    assert "WARNING: Identifiers were allowed through" in cohort.describe()


def test_unicode_digits_are_digits():
    # Arabic-Indic digits (U+0661...) and full-width digits spell an SSN as well as ASCII does
    values = ["\u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669", "\uff11\uff12\uff13-45-6789"]
    [(rule, mask)] = scan_values(values)
    assert rule.category == "G" and mask.tolist() == [True, True]


def test_name_rules_cite_a_category():
    assert name_rule("zip5").category == "B" and name_rule("cell_type") is None


# ---- linear time -------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["a." * 500_000, "a@" * 500_000, "1 " * 500_000, "1-" * 500_000,
                                  "a at b dot " * 100_000, "123-45-" * 150_000])
def test_long_cell_takes_linear_time(cell):
    # Measured on the 2-core CI machine for 10,000,000 characters of each pattern: 0.1-1.1 s each
    # (the first guard's backtracking e-mail pattern took 7 s for 16,000 "a." characters).
    # Here 1,000,000 characters must finish in well under a second; quadratic work would take hours.
    start = time.perf_counter()
    assert find_identifiers(pd.DataFrame({"label": [cell]})) == []
    assert time.perf_counter() - start < 2.0


# ---- data class ----------------------------------------------------------------------------------

def test_data_class(procedures_frame, assessments_frame):
    cohort = load_records(procedures_frame, assessments_frame)
    assert data_class(cohort) == "limited data set: contains dates"
    year_only = SimpleNamespace(procedures=pd.DataFrame({"procedure_date": pd.to_datetime(["2022-01-01", "2023-01-01"]),
                                                         "fracture_age_days": [10, 40]}),
                                assessments=pd.DataFrame({"hours_after": [48.0]}))
    assert data_class(year_only) == "no date finer than the year"


def test_finding_names_the_spreadsheet_row_past_blank_lines(tmp_path):
    # Blank lines are dropped when reading but keep the rows' numbers: the SSN written on line 6
    # of the file (header = line 1) must be reported as row 6, not as the fourth row read.
    text = (
        "procedure_id,patient_id,procedure,procedure_date,note_code\n"
        "P1,A1,vertebroplasty,2022-01-03,x1\n"
        "\n"
        "P2,A2,kyphoplasty,2022-01-04,x2\n"
        ",,,,\n"
        "P3,A3,kyphoplasty,2022-01-05,123-45-6789\n"
    )
    path = tmp_path / "procedures.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PrivacyError, match=r"column 'note_code'.*\(rows 6\)"):
        load_records(path)
