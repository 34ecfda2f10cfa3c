"""Privacy guard: HIPAA Safe Harbor direct identifiers are refused unless allowed."""

from __future__ import annotations

import pandas as pd
import pytest

from outcomes import IdentifiersAllowedWarning, PrivacyError, load_records
from outcomes.privacy import find_identifiers


@pytest.mark.parametrize(("column", "why"), [
    ("patient_name", "a person's name"), ("Last Name", "a person's name"), ("surname", "a person's name"),
    ("MRN", "a medical record number"), ("medical_record_number", "a medical record number"),
    ("SSN", "a social security number"), ("home_address", "a street address"), ("zip_code", "a postal code"),
    ("phone", "a telephone or fax number"), ("Mobile Number", "a telephone or fax number"),
    ("email", "an e-mail address"), ("DOB", "a birth date"), ("date_of_birth", "a birth date"),
])
def test_identifying_column_names(column, why):
    findings = find_identifiers(pd.DataFrame({column: ["x"]}))
    assert [f.reason for f in findings][:1] == [f"its name suggests {why}"]


@pytest.mark.parametrize("column", ["procedure_id", "patient_id", "physician_id", "site_id", "procedure_date",
                                    "fracture_date", "etiology", "instrument", "age", "levels_treated"])
def test_contract_columns_are_not_flagged(column):
    assert find_identifiers(pd.DataFrame({column: ["P1"]})) == []


@pytest.mark.parametrize(("value", "what"), [
    ("123-45-6789", "social security numbers"), ("(555) 123-4567", "telephone numbers"),
    ("555.123.4567", "telephone numbers"), ("call 555-123-4567", "telephone numbers"),
    ("ann.lee@example.org", "e-mail addresses"),
])
def test_identifying_values_in_text(value, what):
    frame = pd.DataFrame({"note": ["fine", "ok", value]})
    findings = find_identifiers(frame)
    assert len(findings) == 1
    assert findings[0].reason == f"values look like {what}" and findings[0].rows == (4,)


@pytest.mark.parametrize("value", ["2022-01-03", "2022-01-03 10:30:00", "P000123", "22513", "L1-L2"])
def test_ordinary_values_pass(value):
    assert find_identifiers(pd.DataFrame({"note": [value]})) == []


def test_ages_over_89_must_be_grouped():
    findings = find_identifiers(pd.DataFrame({"age": [70, 90, 93]}))
    assert findings[0].reason == "ages over 89 must be shown as 90 (found 93)" and findings[0].rows == (4,)


def test_patient_name_refused_with_one_line(procedures_frame, assessments_frame, write_csv):
    path = write_csv(procedures_frame.assign(patient_name="Ann Lee"), "clinic.csv")
    with pytest.raises(PrivacyError) as info:
        load_records(path, assessments_frame)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("clinic.csv looks identifying: column 'patient_name': its name suggests a person's name")
    assert "allow_identifiers=True (--allow-identifiers)" in message


def test_every_offending_column_listed(procedures_frame, assessments_frame):
    frame = procedures_frame.assign(MRN="123", contact="ann@example.org")
    with pytest.raises(PrivacyError, match=r"column 'MRN': .*medical record number; column 'contact': values look like e-mail"):
        load_records(frame, assessments_frame)


def test_assessments_checked_too(procedures_frame, assessments_frame):
    with pytest.raises(PrivacyError, match=r"assessments \(DataFrame\) looks identifying: column 'phone'"):
        load_records(procedures_frame, assessments_frame.assign(phone="x"))


def test_allow_identifiers_warns_and_travels(procedures_frame, assessments_frame):
    with pytest.warns(IdentifiersAllowedWarning, match="allowed through on request"):
        cohort = load_records(procedures_frame.assign(patient_name="Ann"), assessments_frame, allow_identifiers=True)
    assert len(cohort.privacy_warnings) == 1 and "patient_name" in cohort.privacy_warnings[0]
    assert "WARNING: Identifiers were allowed through" in cohort.describe()
