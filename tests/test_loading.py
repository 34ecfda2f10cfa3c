"""Loading, mapping and validation: every row analysed or excluded with a reason; fatal problems
raise InputError naming the file, column and rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes import InputError, Mapping, load_records
from outcomes.exceptions import DefinitionsError


def _accounted(cohort) -> None:
    flow = cohort.flow()
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all()


def test_long_form_loads_and_maps_synonyms(procedures_frame, assessments_frame, write_csv):
    cohort = load_records(write_csv(procedures_frame, "p.csv"), write_csv(assessments_frame, "a.csv"))
    assert cohort.procedures["procedure"].tolist() == ["vertebroplasty", "vertebroplasty", "kyphoplasty", "kyphoplasty"]
    assert cohort.procedures["discharge"].tolist() == ["same_day", "overnight", "same_day", "admitted"]
    assert cohort.procedures["sex"].tolist() == ["F", "F", "M", "M"]
    assert cohort.procedures["fracture_age_days"].tolist() == [14.0, 101.0, 7.0, 2.0]
    assert len(cohort.assessments) == 8 and cohort.exclusions.empty
    assert cohort.sources == {"procedures": "p.csv", "assessments": "a.csv"}
    assert len(cohort.input_hashes["procedures"]) == 64
    _accounted(cohort)


@pytest.mark.parametrize("suffix", ["xlsx", "parquet"])
def test_excel_and_parquet_read_like_csv(procedures_frame, assessments_frame, tmp_path, write_csv, suffix):
    p, a = tmp_path / f"p.{suffix}", tmp_path / f"a.{suffix}"
    if suffix == "xlsx":
        procedures_frame.to_excel(p, index=False)
        assessments_frame.to_excel(a, index=False)
    else:
        procedures_frame.to_parquet(p)
        assessments_frame.to_parquet(a)
    got = load_records(p, a)
    want = load_records(write_csv(procedures_frame, "p.csv"), write_csv(assessments_frame, "a.csv"))
    pd.testing.assert_frame_equal(got.assessments, want.assessments)
    cols = ["procedure_id", "procedure", "procedure_date", "fracture_age_days", "baseline_pain", "discharge"]
    pd.testing.assert_frame_equal(got.procedures[cols], want.procedures[cols], check_dtype=False)


def test_dataframes_are_accepted(procedures_frame, assessments_frame):
    cohort = load_records(procedures_frame, assessments_frame)
    assert cohort.sources["procedures"] == "procedures (DataFrame)"
    assert len(cohort.procedures) == 4


# ---- the bad-input corpus: each case gets its clear error or its accounted exclusion ----------

def test_missing_file_names_it(tmp_path):
    with pytest.raises(InputError, match=r"Procedures file nope\.csv was not found"):
        load_records(tmp_path / "nope.csv")


def test_empty_file_names_it(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match=r"Procedures file empty\.csv is empty"):
        load_records(path)


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("procedure_id,patient_id,procedure,procedure_date\n")
    with pytest.raises(InputError, match=r"header\.csv has no data rows"):
        load_records(path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(InputError, match=r"Procedures file broken\.xlsx could not be read as excel"):
        load_records(path)


def test_unknown_extension(tmp_path):
    path = tmp_path / "records.sav"
    path.write_text("x")
    with pytest.raises(InputError, match=r"must be \.csv \(or \.csv\.gz\), \.tsv, \.xlsx or \.parquet; got '\.sav'"):
        load_records(path)


def test_binary_garbage_is_named_not_dumped(tmp_path):
    path = tmp_path / "scan.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"scan\.csv must be a text table \(CSV\); got binary data") as info:
        load_records(path)
    assert len(str(info.value)) < 600


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(InputError, match=r"is a folder; it must be a file"):
        load_records(tmp_path)


def test_semicolon_csv(procedures_frame, assessments_frame, tmp_path):
    p, a = tmp_path / "p.csv", tmp_path / "a.csv"
    procedures_frame.to_csv(p, index=False, sep=";")
    assessments_frame.to_csv(a, index=False, sep=";")
    cohort = load_records(p, a)
    assert len(cohort.procedures) == 4 and len(cohort.assessments) == 8 and cohort.exclusions.empty


def test_missing_required_column(procedures_frame, assessments_frame, write_csv):
    path = write_csv(procedures_frame.drop(columns="procedure_date"), "p.csv")
    with pytest.raises(InputError, match=r"p\.csv must have the column 'procedure_date'; found columns procedure_id"):
        load_records(path, assessments_frame)


def test_missing_pain_column(procedures_frame, assessments_frame, write_csv):
    path = write_csv(assessments_frame.drop(columns="pain"), "scores.csv")
    with pytest.raises(InputError, match=r"scores\.csv must have the column 'pain'"):
        load_records(procedures_frame, path)


def test_missing_time_column(procedures_frame, assessments_frame, write_csv):
    path = write_csv(assessments_frame.drop(columns="hours_after"), "scores.csv")
    with pytest.raises(InputError, match=r"scores\.csv must have the column 'hours_after' or 'assessed_at'"):
        load_records(procedures_frame, path)


def test_duplicate_procedure_ids_name_rows(procedures_frame, assessments_frame, write_csv):
    frame = procedures_frame.copy()
    frame.loc[3, "procedure_id"] = "P2"
    with pytest.raises(InputError, match=r"Column 'procedure_id' in p\.csv must hold unique ids; got 2 rows "
                                         r"sharing 1 ids, e.g\. 'P2' in rows 3, 5"):
        load_records(write_csv(frame, "p.csv"), assessments_frame)


def test_no_pain_scores_at_all(procedures_frame):
    with pytest.raises(InputError, match=r"has no pain scores: pass an assessments table"):
        load_records(procedures_frame)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("procedure", "laminectomy", "unknown procedure type"),
        ("procedure_date", "not a date", "procedure_date missing or unreadable"),
        ("procedure_date", "", "procedure_date missing or unreadable"),
        ("patient_id", "", "patient_id missing"),
        ("fracture_date", "2022-03-01", "fracture dated after the procedure"),
    ],
)
def test_procedure_row_exclusions(procedures_frame, assessments_frame, write_csv, column, value, reason):
    frame = procedures_frame.copy()
    frame.loc[1, column] = value
    cohort = load_records(write_csv(frame, "p.csv"), assessments_frame)
    ex = cohort.exclusions
    row = ex[ex["table"] == "procedures"].iloc[0]
    assert reason in row["reason"] and row["row"] == 3 and row["source"] == "p.csv"
    assert "P2" not in cohort.procedures["procedure_id"].tolist()
    # the excluded procedure's pain scores are excluded too, with their own reason
    cascade = ex[(ex["table"] == "assessments") & (ex["reason"] == "its procedure was excluded")]
    assert len(cascade) == 2
    _accounted(cohort)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("pain", 14, "pain outside 0-10"),
        ("pain", -1, "pain outside 0-10"),
        ("pain", "severe", "pain is not a number"),
        ("pain", None, "pain missing"),
        ("hours_after", None, "time missing"),
        ("hours_after", -2000, "time before the procedure, outside the 30-day baseline window"),
        ("procedure_id", "P999", "unknown procedure id"),
    ],
)
def test_assessment_row_exclusions(procedures_frame, assessments_frame, write_csv, column, value, reason):
    frame = assessments_frame.astype(object)
    frame.loc[4, column] = value
    cohort = load_records(procedures_frame, write_csv(frame, "scores.csv"))
    ex = cohort.exclusions
    assert len(ex) == 1
    assert reason in ex["reason"].iloc[0] and ex["row"].iloc[0] == 6 and ex["column"].iloc[0] == column
    assert len(cohort.assessments) == 7
    _accounted(cohort)


def test_duplicate_assessment_excluded(procedures_frame, assessments_frame):
    frame = pd.concat([assessments_frame, assessments_frame.iloc[[0]]], ignore_index=True)
    cohort = load_records(procedures_frame, frame)
    assert cohort.exclusions["reason"].tolist() == ["duplicate assessment (same procedure and time)"]
    _accounted(cohort)


def test_vas100_converted_and_unknown_instrument_excluded(procedures_frame, assessments_frame):
    frame = assessments_frame.assign(pain=[70, 50, 40, 60, 60, 30, 20, 2],
                                     instrument=["VAS100"] * 7 + ["likert"])
    cohort = load_records(procedures_frame, frame)
    assert cohort.assessments["pain"].tolist()[:3] == [7.0, 5.0, 4.0]
    assert cohort.exclusions["reason"].iloc[0].startswith("unknown instrument")
    _accounted(cohort)


def test_optional_values_set_missing_with_remark(procedures_frame, assessments_frame):
    frame = procedures_frame.copy()
    frame.loc[0, "baseline_pain"] = 12
    frame.loc[1, "discharge"] = "teleported"
    cohort = load_records(frame, assessments_frame)
    assert len(cohort.procedures) == 4  # kept
    assert np.isnan(cohort.procedures.loc[0, "baseline_pain"])
    assert pd.isna(cohort.procedures.loc[1, "discharge"])
    assert set(cohort.remarks["column"]) == {"baseline_pain", "discharge"}


def test_assessed_at_timestamps(procedures_frame):
    frame = pd.DataFrame({"procedure_id": ["P1", "P1"], "assessed_at": ["2022-01-03T12:00", "2022-01-05T00:00"],
                          "pain": [6, 3]})
    cohort = load_records(procedures_frame, frame)
    assert cohort.assessments["hours_after"].tolist() == [12.0, 48.0]


def test_exclusion_and_remark_logs_name_row_column_and_raw_value(procedures_frame, assessments_frame, write_csv):
    procs = procedures_frame.drop(columns="fracture_date").assign(fracture_age_days=["14", "abc", "99999", "7"])
    procs.loc[3, "procedure"] = "fusion"
    scores = assessments_frame.astype({"hours_after": object})
    scores.loc[[1, 4], "hours_after"] = ["1e9", "soon"]
    cohort = load_records(write_csv(procs, "p.csv"), write_csv(scores, "a.csv"))
    # rows as a spreadsheet numbers them (header = row 1); the value as the file has it
    assert cohort.remarks[["row", "column", "value", "remark"]].values.tolist() == [
        [3, "fracture_age_days", "abc", "not a number; set to missing"],
        [4, "fracture_age_days", "99999.0", "not finite or over 36525 days; set to missing"],
    ]
    assert cohort.exclusions[["table", "row", "column", "value", "reason"]].values.tolist() == [
        ["procedures", 5, "procedure", "fusion", "unknown procedure type (not vertebroplasty or kyphoplasty)"],
        ["assessments", 9, "procedure_id", "P4", "its procedure was excluded"],
        ["assessments", 6, "hours_after", "soon", "time is not a number"],
        ["assessments", 3, "hours_after", "1e9", "time not finite or more than 20 years from the procedure"],
    ]
    _accounted(cohort)


def test_function_scores_are_left_out_of_the_pain_scores(procedures_frame, assessments_frame):
    # 12b's function instruments (ODI, RMDQ, EQ-5D VAS) are of kind "function": neither analysed
    # as pain nor excluded as an unknown instrument
    frame = assessments_frame.assign(instrument=["nrs"] * 6 + ["ODI", "odi"], pain=[7, 5, 4, 6, 6, 3, 40, 30])
    mapping = Mapping(assessment_values={"instrument": {"ODI": "odi"}})
    cohort = load_records(procedures_frame, frame, mapping=mapping)
    assert len(cohort.assessments) == 6 and cohort.exclusions.empty
    assert cohort.assessments["instrument"].tolist() == ["nrs"] * 6


def test_length_of_stay_gives_discharge(procedures_frame, assessments_frame):
    frame = procedures_frame.drop(columns="discharge").assign(length_of_stay_hours=[4, 20, 3, 72])
    cohort = load_records(frame, assessments_frame)
    assert cohort.procedures["discharge"].tolist() == ["same_day", "overnight", "same_day", "admitted"]


# ---- mapping ---------------------------------------------------------------------------------

def test_mapping_renames_and_maps_codes(procedures_frame, assessments_frame, tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text(
        '[procedures.columns]\n"Case" = "procedure_id"\n"Op" = "procedure"\n"When" = "procedure_date"\n'
        '[procedures.values.procedure]\n"cement" = "vertebroplasty"\n'
        '[procedures]\ndate_format = "%d/%m/%Y"\n'
        '[assessments.columns]\n"Case" = "procedure_id"\n"Score" = "pain"\n'
    )
    procs = procedures_frame.rename(columns={"procedure_id": "Case", "procedure": "Op", "procedure_date": "When"})
    procs["Op"] = ["cement", "VP", "BKP", "22515"]
    procs["When"] = ["03/01/2022", "10/01/2022", "01/02/2022", "01/06/2022"]
    procs = procs.drop(columns="fracture_date")
    scores = assessments_frame.rename(columns={"procedure_id": "Case", "pain": "Score"})
    cohort = load_records(procs, scores, mapping=toml)
    assert cohort.procedures["procedure"].tolist() == ["vertebroplasty", "vertebroplasty", "kyphoplasty", "kyphoplasty"]
    assert cohort.procedures["procedure_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2022-01-03", "2022-01-10", "2022-02-01", "2022-06-01"]
    assert cohort.exclusions.empty


def test_mapping_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[procedures.columns]\n"Case" = "case_number"\n')
    with pytest.raises(DefinitionsError, match=r"must name a canonical column .*; got 'case_number'"):
        Mapping.from_toml(bad)
    bad.write_text("[nonsense]\n")
    with pytest.raises(DefinitionsError, match=r"`nonsense` in bad\.toml must be one of"):
        Mapping.from_toml(bad)
    bad.write_text("not toml = = =")
    with pytest.raises(DefinitionsError, match=r"bad\.toml is not valid TOML"):
        Mapping.from_toml(bad)


@pytest.mark.parametrize(("column", "hours"), [
    ("pain_24h", 24.0), ("NRS_48h", 48.0), ("vas_3mo", 3 * 730.5), ("pain_6w", 1008.0), ("pain_2d", 48.0),
    ("pain_1y", 8766.0), ("pain_baseline", 0.0), ("pain_pre", 0.0), ("nrs_12 months", 12 * 730.5),
    ("painful", None), ("procedure_id", None), ("pain_soon", None),
])
def test_wide_labels(column, hours):
    assert Mapping().wide_hours(column) == hours


def test_wide_in_procedures_table(procedures_frame):
    frame = procedures_frame.drop(columns="baseline_pain").assign(
        pain_baseline=[8, 7, 9, 6], pain_48h=[5, None, 2, 4], vas_4w=[40, 60, 20, 200])
    cohort = load_records(frame)
    assert cohort.read["assessments"] == 11  # non-empty wide cells
    ex = cohort.exclusions
    assert ex["column"].tolist() == ["vas_4w"] and ex["row"].tolist() == [3]  # DataFrame: position
    assert "pain_48h" not in cohort.procedures
    _accounted(cohort)


# ---- the shipped example: a wide clinic export through its mapping = the long form ---------------

def test_wide_example_yields_the_same_endpoints_as_long_form():
    from pathlib import Path

    from outcomes import derive_endpoints

    examples = Path(__file__).resolve().parents[1] / "data" / "examples"
    wide = load_records(examples / "wide_export.csv", mapping=examples / "wide_mapping.toml")
    long = load_records(examples / "long_procedures.csv", examples / "long_assessments.csv")
    assert wide.exclusions.empty and long.exclusions.empty
    _accounted(wide)
    a = derive_endpoints(wide).sort_values("procedure_id").reset_index(drop=True)
    b = derive_endpoints(long).sort_values("procedure_id").reset_index(drop=True)
    columns = ["procedure_id", "procedure", "baseline_pain", "time_to_relief_hours", "relief_observed", "success",
               "success_worst_case", "relief_by_horizon", "time_to_loss_hours", "fracture_age_days",
               "early_treatment", "same_day_discharge", "poor_general_health", "multiple_levels", "physician_id"]
    pd.testing.assert_frame_equal(a[columns], b[columns], check_dtype=False)
    assert a["success"].notna().sum() > 40  # the comparison is not vacuous


def test_parquet_scores_matched_by_key_as_by_text(procedures_frame, assessments_frame, tmp_path):
    """Parquet text ids are matched to their procedures once per run of equal ids (an integer key
    for DuckDB): the same cohort as the text join of DataFrames with object ids, when ids carry
    spaces, scores come out of order, a score names an excluded or unknown procedure and one is
    repeated."""
    procs = procedures_frame.copy()
    procs.loc[1, "procedure_id"] = " P2 "
    procs.loc[3, "procedure"] = "discectomy"  # P4 excluded: its scores too
    scores = pd.DataFrame({
        "procedure_id": ["P3", "P1 ", "P1", "P1", "\u00a0P2", "P2", "P3", "P4", "P9", "P1", None],
        "hours_after": [650, 2, 48, 700, 24, 672, 2, 48, 10, 48, 5],
        "pain": [2, 7, 5, 4, 6, 6, 3, 2, 1, 5, 3],
    })
    p, a = tmp_path / "p.parquet", tmp_path / "a.parquet"
    procs.to_parquet(p)
    scores.to_parquet(a)
    from_files = load_records(p, a)
    by_text = load_records(procs.astype(object), scores.astype(object))
    pd.testing.assert_frame_equal(from_files.assessments.astype({"procedure_id": object, "instrument": object}),
                                  by_text.assessments.astype({"procedure_id": object, "instrument": object}))
    # in order of procedure and time, ids trimmed (P2 as the procedures table has it, trimmed)
    assert from_files.assessments["procedure_id"].tolist() == ["P1", "P1", "P1", "P2", "P2", "P3", "P3"]
    assert from_files.assessments["hours_after"].tolist() == [2.0, 48.0, 700.0, 24.0, 672.0, 2.0, 650.0]
    got = from_files.exclusions.query("table == 'assessments'")
    assert got[["row", "reason"]].values.tolist() == [
        [12, "procedure_id missing"], [9, "its procedure was excluded"],
        [10, "unknown procedure id (not in the procedures table)"],
        [11, "duplicate assessment (same procedure and time)"]]
    assert got["procedure_id"].tolist()[1:] == ["P4", "P9", "P1"]
    _accounted(from_files)
    pd.testing.assert_frame_equal(from_files.flow(), by_text.flow())


def test_parquet_scores_in_file_order_keep_their_ids(procedures_frame, assessments_frame, tmp_path):
    """Scores already in order of procedure and time, ids clean: handed on as read."""
    p, a = tmp_path / "p.parquet", tmp_path / "a.parquet"
    procedures_frame.to_parquet(p)
    assessments_frame.to_parquet(a)
    got = load_records(p, a).assessments
    assert got["procedure_id"].tolist() == assessments_frame["procedure_id"].tolist()
    assert got["hours_after"].tolist() == assessments_frame["hours_after"].astype(float).tolist()
    assert isinstance(got["procedure_id"].dtype, pd.StringDtype)


def _arrow_text(values: list[str]) -> pd.Series:
    return pd.Series(pd.array(values, dtype=pd.StringDtype("pyarrow")))


def test_raw_tables_let_the_frames_go():
    """load_records drops the frames it read before DuckDB runs the rules: the Arrow tables it
    hands over hold the ids trimmed (a copy) and the codes and dates by dictionary, not the text
    as read, so dropping the frames gives that text back (Arrow's allocated bytes fall)."""
    import pyarrow as pa

    from outcomes.checks import RawTables

    n = 50_000
    procs = pd.DataFrame({
        "_row": np.arange(n) + 2,
        "procedure_id": _arrow_text([f"P{i:07d}" for i in range(n)]),
        "patient_id": _arrow_text([f"A{i:07d}" for i in range(n)]),
        "procedure": _arrow_text(["vertebroplasty", "kyphoplasty"] * (n // 2)),
        "procedure_date": _arrow_text(["2022-01-03", "2022-02-07"] * (n // 2)),
        "site_id": _arrow_text(["north-campus-hospital", "south-campus-hospital"] * (n // 2)),
    })
    scores = pd.DataFrame({"_row": np.arange(2 * n) + 2,
                           "procedure_id": _arrow_text([f"P{i // 2:07d}" for i in range(2 * n)]),
                           "hours_after": np.tile([24.0, 48.0], n), "pain": np.tile([5.0, 3.0], n),
                           "instrument": _arrow_text(["numeric rating scale"] * (2 * n))})
    coded = sum(pa.array(procs[c].array).nbytes for c in ("procedure", "procedure_date", "site_id"))
    coded += pa.array(scores["instrument"].array).nbytes + pa.array(scores["procedure_id"].array).nbytes
    before = pa.total_allocated_bytes()
    raw = RawTables(procs, scores)
    assert raw.n_procedures == n and raw.n_assessments == 2 * n
    del procs, scores
    # what the tables add (trimmed ids, dictionary indices, keys) is far less than the text freed
    assert pa.total_allocated_bytes() < before - coded / 2
    assert raw.keyed and list(raw.carried) == ["_row"]


def test_no_function_rows_keep_no_view_of_the_scores():
    """The empty table of function rows is a frame of its own, not an empty slice that would keep
    the scores' columns alive after load_records dropped them."""
    import pyarrow as pa

    from outcomes.loading import _empty_like

    frame = pd.DataFrame({"procedure_id": _arrow_text([f"P{i:07d}" for i in range(100_000)]),
                          "pain": np.arange(100_000, dtype=float)})
    size = pa.array(frame["procedure_id"].array).nbytes
    before = pa.total_allocated_bytes()
    empty = _empty_like(frame.iloc[:0])
    del frame
    assert pa.total_allocated_bytes() <= before - size
    assert list(empty.columns) == ["procedure_id", "pain"] and empty.empty
    assert str(empty["procedure_id"].dtype) == str(pd.StringDtype("pyarrow")) and empty["pain"].dtype == float
