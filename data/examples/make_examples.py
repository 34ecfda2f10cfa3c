"""Regenerate the example clinic export in this folder (synthetic; not real patients).

    python data/examples/make_examples.py

Writes the same 60 synthetic procedures twice:

- ``wide_export.csv``: one row per procedure as a clinic's system might export it: its own
  column names, CPT codes, day/month/year dates, its own discharge labels and VAS 0-100 pain
  columns at nominal time points (``VAS_baseline``, ``VAS_24h``, ..., ``VAS_12mo``), read with
  ``wide_mapping.toml``;
- ``long_procedures.csv`` and ``long_assessments.csv``: the same patients in the canonical long
  form (NRS 0-10 at the nominal hours), which needs no mapping;
- ``redcap_export_raw.csv`` and ``redcap_export_labels.csv``: the same patients as a REDCap
  longitudinal project would export them (raw codes and field names; choice labels and field
  labels), with ``redcap_dictionary.csv`` (the project's data dictionary) and read with
  ``redcap_mapping.toml``: events baseline, procedure (with a repeating "pain diary" instrument
  holding the 2-hour score), 24h, 48h, 1wk, 4wk, 3mo, 12mo;
- ``safe_harbor_procedures.csv`` and ``safe_harbor_assessments.csv``: the same patients
  de-identified under HIPAA Safe Harbor: no date finer than the year (``procedure_year``,
  ``fracture_age_days``, hours after the procedure).

Every file here is synthetic, made from ``outcomes.synthetic.simulate``; none holds a real patient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.synthetic import simulate

HERE = Path(__file__).parent
NOMINAL = {"baseline": 0.0, "2h": 2.0, "24h": 24.0, "48h": 48.0, "1w": 168.0, "4w": 672.0, "3mo": 2191.5,
           "12mo": 8766.0}


def main() -> None:
    procedures, assessments, _ = simulate(60, seed=7, p_long_term=0.0)
    hours = np.array(list(NOMINAL.values()))
    labels = np.array(list(NOMINAL))
    nearest = np.abs(assessments["hours_after"].to_numpy()[:, None] - hours[None, :]).argmin(axis=1)
    long = assessments.assign(label=labels[nearest], hours_after=hours[nearest], instrument="nrs")
    long = long.drop_duplicates(["procedure_id", "label"])
    procs = procedures.drop(columns=["baseline_pain"])
    procs.to_csv(HERE / "long_procedures.csv", index=False)
    long[["procedure_id", "hours_after", "pain", "instrument"]].to_csv(HERE / "long_assessments.csv", index=False)

    wide = long.pivot(index="procedure_id", columns="label", values="pain").reindex(columns=list(NOMINAL))
    wide = (wide * 10).rename(columns=lambda c: f"VAS_{c}")
    cpt = {"vertebroplasty": "22510", "kyphoplasty": "22513"}
    export = pd.DataFrame({
        "Case No": procs["procedure_id"],
        "Pseudo ID": procs["patient_id"],
        "CPT": procs["procedure"].map(cpt),
        "Date of procedure": pd.to_datetime(procs["procedure_date"]).dt.strftime("%d/%m/%Y"),
        "Fracture date": pd.to_datetime(procs["fracture_date"]).dt.strftime("%d/%m/%Y"),
        "Levels": procs["levels_treated"],
        "Cause": procs["etiology"],
        "Age (years)": procs["age"],
        "Sex": procs["sex"].map({"F": "Female", "M": "Male"}),
        "ASA": procs["asa_class"],
        "Disposition": procs["discharge"].map({"same_day": "Home", "overnight": "Obs", "admitted": "Ward"}),
        "Complication": np.where(procs["complication"], "cement leak", "none"),
        "Operator": procs["physician_id"],
        "Site": procs["site_id"],
    }).merge(wide, left_on="Case No", right_index=True, how="left")
    export.to_csv(HERE / "wide_export.csv", index=False)
    redcap(procs, long)
    safe_harbor(procs, long)


# ---- REDCap --------------------------------------------------------------------------------------

EVENTS = {"baseline": "Baseline", "procedure": "Procedure", "24h": "24h", "48h": "48h", "1wk": "1wk", "4wk": "4wk",
          "3mo": "3mo", "12mo": "12mo"}
EVENT_OF_LABEL = {"baseline": "baseline", "24h": "24h", "48h": "48h", "1w": "1wk", "4w": "4wk", "3mo": "3mo",
                  "12mo": "12mo"}
CHOICES = {
    "proc_type": {"1": "Vertebroplasty", "2": "Kyphoplasty"},
    "sex": {"1": "Female", "2": "Male"},
    "etiology": {"1": "Osteoporosis", "2": "Malignancy", "3": "Trauma"},
    "discharge": {"1": "Same day", "2": "Overnight stay", "3": "Admitted"},
    "complications": {"1": "Cement leak", "2": "Pulmonary embolism", "3": "Rib fracture"},
}
# (field, form, type, label, validation)
FIELDS = [
    ("record_id", "enrolment", "text", "Record ID", ""),
    ("patient_code", "enrolment", "text", "Pseudonymous patient code", ""),
    ("fracture_date", "enrolment", "text", "Date of fracture", "date_ymd"),
    ("age", "enrolment", "text", "Age (years)", "integer"),
    ("sex", "enrolment", "radio", "Sex", ""),
    ("etiology", "enrolment", "dropdown", "Cause of fracture", ""),
    ("proc_type", "procedure", "radio", "Procedure", ""),
    ("proc_date", "procedure", "text", "Date of procedure", "date_ymd"),
    ("levels", "procedure", "text", "Levels treated", "integer"),
    ("asa", "procedure", "text", "ASA class", "integer"),
    ("operator", "procedure", "text", "Operator code", ""),
    ("site", "procedure", "text", "Site", ""),
    ("discharge", "procedure", "radio", "Discharge", ""),
    ("complications", "procedure", "checkbox", "Complications", ""),
    ("nrs_pain", "pain", "text", "Pain now (NRS 0-10)", "integer"),
    ("diary_hours", "pain_diary", "text", "Hours after the procedure", "number"),
    ("diary_pain", "pain_diary", "text", "Pain (NRS 0-10, diary)", "integer"),
]
FORM_LABELS = {"enrolment": "Enrolment", "procedure": "Procedure", "pain": "Pain", "pain_diary": "Pain Diary"}
DICTIONARY_COLUMNS = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
]


def _code(field: str, label: str) -> str:
    return {v.lower(): k for k, v in CHOICES[field].items()}[label.lower()]


def redcap(procs: pd.DataFrame, long: pd.DataFrame) -> None:
    """The REDCap export (raw and labels) and data dictionary of the same patients."""
    dictionary = pd.DataFrame([
        {"Variable / Field Name": f, "Form Name": form, "Field Type": kind, "Field Label": label,
         "Choices, Calculations, OR Slider Labels": " | ".join(f"{k}, {v}" for k, v in CHOICES.get(f, {}).items()),
         "Text Validation Type OR Show Slider Number": validation}
        for f, form, kind, label, validation in FIELDS
    ]).reindex(columns=DICTIONARY_COLUMNS)
    dictionary.to_csv(HERE / "redcap_dictionary.csv", index=False)

    checkboxes = [f"complications___{k}" for k in CHOICES["complications"]]
    data_fields = [f for f, *_ in FIELDS if f not in ("record_id", "complications")]
    order = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
    for f, form, *_ in FIELDS[1:]:
        order += checkboxes if f == "complications" else [f]
        if f in ("etiology", "complications", "nrs_pain", "diary_pain"):
            order.append(f"{form}_complete")
    rows = []
    for i, p in enumerate(procs.itertuples(index=False), start=1):
        rid = str(i)
        scores = long[long["procedure_id"] == p.procedure_id].set_index("label")["pain"]
        rows.append({"record_id": rid, "redcap_event_name": "baseline_arm_1", "patient_code": p.patient_id,
                     "fracture_date": p.fracture_date, "age": p.age,
                     "sex": _code("sex", {"F": "Female", "M": "Male"}[p.sex]),
                     "etiology": _code("etiology", p.etiology), "enrolment_complete": "2",
                     "nrs_pain": scores.get("baseline"), "pain_complete": "2"})
        complication = "1" if p.complication else "0"
        rows.append({"record_id": rid, "redcap_event_name": "procedure_arm_1",
                     "proc_type": _code("proc_type", p.procedure), "proc_date": p.procedure_date,
                     "levels": p.levels_treated, "asa": p.asa_class, "operator": p.physician_id, "site": p.site_id,
                     "discharge": _code("discharge", {"same_day": "Same day", "overnight": "Overnight stay",
                                                      "admitted": "Admitted"}[p.discharge]),
                     "complications___1": complication, "complications___2": "0", "complications___3": "0",
                     "procedure_complete": "2"})
        if "2h" in scores:
            rows.append({"record_id": rid, "redcap_event_name": "procedure_arm_1",
                         "redcap_repeat_instrument": "pain_diary", "redcap_repeat_instance": "1",
                         "diary_hours": "2", "diary_pain": scores["2h"], "pain_diary_complete": "2"})
        for label, event in EVENT_OF_LABEL.items():
            if label != "baseline" and label in scores:
                rows.append({"record_id": rid, "redcap_event_name": f"{event}_arm_1", "nrs_pain": scores[label],
                             "pain_complete": "2"})
    raw = pd.DataFrame(rows).reindex(columns=order)
    for column in ("age", "levels", "asa", "nrs_pain", "diary_pain"):
        raw[column] = raw[column].astype("Int64")
    raw.to_csv(HERE / "redcap_export_raw.csv", index=False)

    labels = raw.copy()
    event_labels = {f"{k}_arm_1": f"{v} (Arm 1: Arm 1)" for k, v in EVENTS.items()}
    labels["redcap_event_name"] = labels["redcap_event_name"].map(event_labels)
    labels["redcap_repeat_instrument"] = labels["redcap_repeat_instrument"].map(FORM_LABELS)
    for field in ("proc_type", "sex", "etiology", "discharge"):
        labels[field] = labels[field].map(CHOICES[field])
    for column in checkboxes:
        labels[column] = labels[column].map({"1": "Checked", "0": "Unchecked"})
    for column in [c for c in labels if c.endswith("_complete")]:
        labels[column] = labels[column].map({"0": "Incomplete", "1": "Unverified", "2": "Complete"})
    field_labels = {f: label for f, _, _, label, _ in FIELDS}
    headers = {"redcap_event_name": "Event Name", "redcap_repeat_instrument": "Repeat Instrument",
               "redcap_repeat_instance": "Repeat Instance", **field_labels,
               **{f"complications___{k}": f"Complications (choice={v})" for k, v in CHOICES["complications"].items()},
               **{c: "Complete?" for c in labels if c.endswith("_complete")}}
    labels.columns = [headers.get(c, c) for c in labels.columns]
    labels.to_csv(HERE / "redcap_export_labels.csv", index=False)


# ---- Safe Harbor ---------------------------------------------------------------------------------

def safe_harbor(procs: pd.DataFrame, long: pd.DataFrame) -> None:
    """The same patients with no date finer than the year (HIPAA Safe Harbor, 45 CFR 164.514(b)(2))."""
    dates = pd.to_datetime(procs["procedure_date"])
    fracture_age = (dates - pd.to_datetime(procs["fracture_date"])).dt.days
    out = procs.drop(columns=["procedure_date", "fracture_date"])
    out.insert(3, "procedure_year", dates.dt.year)
    out.insert(4, "fracture_age_days", fracture_age)
    out.to_csv(HERE / "safe_harbor_procedures.csv", index=False)
    long[["procedure_id", "hours_after", "pain", "instrument"]].to_csv(HERE / "safe_harbor_assessments.csv",
                                                                       index=False)


if __name__ == "__main__":
    main()
