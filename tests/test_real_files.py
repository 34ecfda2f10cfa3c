"""Real clinic files: encodings, locales, title rows, sheets, gzip, date formats, time zones,
Safe Harbor files; each gives a correct result or one clear line."""

from __future__ import annotations

import gzip

import numpy as np
import openpyxl
import pandas as pd
import pytest

from outcomes import Definitions, InputError, Mapping, derive_endpoints, load_records
from outcomes.loading import detect_encoding
from outcomes.mapping import HOURS_PER_MONTH

PROCS = (
    "procedure_id,patient_id,procedure,procedure_date,physician_id,baseline_pain\n"
    "P1,A,PVP,2022-01-03,Peña,8\n"
    "P2,B,BKP,2022-01-04,Müller,7\n"
    "P3,C,BKP,2022-01-05,Möller,9\n"
)
SCORES = "procedure_id,hours_after,pain\nP1,48,3\nP2,48,2\nP3,48,8\n"


def _accounted(cohort) -> None:
    flow = cohort.flow()
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all()


@pytest.fixture
def scores(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(SCORES, encoding="utf-8")
    return path


def test_cp1252_names_stay_distinct_and_the_encoding_is_named(tmp_path, scores):
    path = tmp_path / "p.csv"
    path.write_bytes(PROCS.encode("cp1252"))
    cohort = load_records(path, scores)
    assert cohort.procedures["physician_id"].tolist() == ["Peña", "Müller", "Möller"]
    assert any("read as cp1252" in n and "charset-normalizer" in n for n in cohort.notes)
    _accounted(cohort)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_byte_order_marks(tmp_path, scores, encoding):
    path = tmp_path / "p.csv"
    path.write_bytes(PROCS.encode(encoding))
    cohort = load_records(path, scores)
    assert cohort.procedures["procedure_id"].tolist() == ["P1", "P2", "P3"]
    assert cohort.procedures["physician_id"].tolist() == ["Peña", "Müller", "Möller"]


def test_detect_encoding_plain_utf8_needs_no_note():
    assert detect_encoding("Peña".encode()) == ("utf-8", None)


def test_declared_encoding_wins(tmp_path, scores):
    path = tmp_path / "p.csv"
    path.write_bytes(PROCS.encode("cp1252"))
    cohort = load_records(path, scores, encoding="latin-1")
    assert cohort.procedures["physician_id"].tolist() == ["Peña", "Müller", "Möller"]
    assert not any("charset-normalizer" in n for n in cohort.notes)


def test_semicolons_and_decimal_commas(tmp_path):
    procs = tmp_path / "p.csv"
    procs.write_text(PROCS.replace(",", ";"), encoding="utf-8")
    scores = tmp_path / "a.csv"
    scores.write_text("procedure_id;hours_after;pain\nP1;48;7,5\nP2;1.234,5;2\nP3;48;8\n", encoding="utf-8")
    cohort = load_records(procs, scores)
    assert cohort.exclusions.empty
    assert sorted(cohort.assessments["pain"].tolist()) == [2.0, 7.5, 8.0]
    assert 1234.5 in cohort.assessments["hours_after"].tolist()
    # the note names the columns as the file does, not their positions
    assert "a.csv: decimal commas read as decimal points in 'hours_after', 'pain'" in cohort.notes


def test_title_rows_above_the_header_and_blank_lines_keep_row_numbers(tmp_path):
    procs = tmp_path / "p.csv"
    procs.write_text("Clinic export\nPrinted 2023\n\n" + PROCS, encoding="utf-8")
    scores = tmp_path / "a.csv"
    # header on row 1; a blank line at row 3; the bad score sits on spreadsheet row 5
    scores.write_text("procedure_id,hours_after,pain\nP1,48,3\n\nP2,48,2\nP3,48,80\n", encoding="utf-8")
    cohort = load_records(procs, scores)
    assert len(cohort.procedures) == 3
    assert any("header on row 4" in n for n in cohort.notes)
    bad = cohort.exclusions
    assert bad["row"].tolist() == [5] and bad["column"].tolist() == ["pain"] and bad["value"].tolist() == ["80"]
    assert cohort.read["assessments"] == 3
    _accounted(cohort)


def test_header_row_can_be_given(tmp_path, scores):
    procs = tmp_path / "p.csv"
    procs.write_text("a,b,c,d,e,f\n" + PROCS, encoding="utf-8")
    with pytest.raises(InputError, match="must have the columns"):
        load_records(procs, scores, header_row=1)
    assert len(load_records(procs, scores, header_row=2).procedures) == 3


def test_gzipped_csv(tmp_path, scores):
    path = tmp_path / "p.csv.gz"
    path.write_bytes(gzip.compress(PROCS.encode("utf-8")))
    assert load_records(path, scores).procedures["procedure_id"].tolist() == ["P1", "P2", "P3"]


def _workbook(path, *, cover: bool, title_rows: int) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    if cover:
        sheet.title = "Cover"
        sheet["A1"] = "Quality report, synthetic"
        sheet = book.create_sheet("Data")
    for i in range(title_rows):
        sheet.cell(row=i + 1, column=1, value=f"title {i + 1}")
    for r, line in enumerate(PROCS.strip().splitlines()):
        for c, value in enumerate(line.split(",")):
            sheet.cell(row=title_rows + 1 + r, column=c + 1, value=value)
    book.save(path)


def test_excel_cover_sheet_and_title_rows(tmp_path, scores):
    path = tmp_path / "p.xlsx"
    _workbook(path, cover=True, title_rows=2)
    cohort = load_records(path, scores)
    assert cohort.procedures["physician_id"].tolist() == ["Peña", "Müller", "Möller"]
    assert any("read sheet 'Data'" in n for n in cohort.notes)
    assert any("header on row 3" in n for n in cohort.notes)
    assert len(load_records(path, scores, sheet="Data").procedures) == 3
    assert len(load_records(path, scores, sheet=2).procedures) == 3
    with pytest.raises(InputError, match=r"`sheet` of p\.xlsx must be one of its sheets \('Cover', 'Data'\); got 'Nope'"):
        load_records(path, scores, sheet="Nope")


def test_sheet_from_the_mapping(tmp_path, scores):
    path = tmp_path / "p.xlsx"
    _workbook(path, cover=True, title_rows=0)
    mapping = Mapping.from_dict({"procedures": {"sheet": "Data"}})
    assert len(load_records(path, scores, mapping=mapping).procedures) == 3


def test_date_format_per_column_and_detection(tmp_path, scores):
    procs = pd.DataFrame({"procedure_id": ["P1", "P2", "P3"], "patient_id": ["A", "B", "C"],
                          "procedure": ["PVP"] * 3, "procedure_date": ["01/13/2022", "02/01/2022", "03/02/2022"],
                          "fracture_date": ["2021-12-30", "2022-01-20", "2022-02-01"]})
    cohort = load_records(procs, pd.read_csv(scores))
    assert cohort.exclusions.empty
    assert cohort.procedures["procedure_date"].dt.strftime("%Y-%m-%d").tolist() == ["2022-01-13", "2022-02-01",
                                                                                     "2022-03-02"]
    assert any("month first" in n for n in cohort.notes)
    ambiguous = procs.assign(procedure_date=["01/02/2022", "02/01/2022", "03/02/2022"]).drop(columns="fracture_date")
    cohort = load_records(ambiguous, pd.read_csv(scores))
    assert any("ambiguous" in n and "date_format = '%d/%m/%Y'" in n for n in cohort.notes)
    mapping = Mapping.from_dict({"procedures": {"date_formats": {"procedure_date": "%d/%m/%Y"}}})
    cohort = load_records(ambiguous, pd.read_csv(scores), mapping=mapping)
    assert cohort.procedures["procedure_date"].dt.month.tolist() == [2, 1, 2]


def test_time_zones_mixed_with_naive(procedures_frame, assessments_frame):
    procs = procedures_frame.astype(object)
    procs["fracture_date"] = [pd.Timestamp("2021-12-20", tz="Europe/Berlin"), pd.Timestamp("2021-10-01"),
                              "2022-01-25T00:00:00+01:00", "2022-05-30"]
    scores = assessments_frame.drop(columns="hours_after").assign(
        assessed_at=["2022-01-03T02:00:00Z", "2022-01-05 00:00", pd.Timestamp("2022-02-01 04:00", tz="UTC"),
                     "2022-01-11", "2022-02-07", "2022-02-01 02:00", "2022-02-28", "2022-06-03"])
    cohort = load_records(procs, scores)
    _accounted(cohort)
    assert cohort.assessments["hours_after"].iloc[0] == 2.0
    assert any("time zone" in n for n in cohort.notes)


def test_aware_datetime_column_in_a_dataframe(procedures_frame, assessments_frame):
    procs = procedures_frame.assign(procedure_date=pd.to_datetime(procedures_frame["procedure_date"]).dt.tz_localize(
        "America/New_York"))
    cohort = load_records(procs, assessments_frame)
    assert cohort.procedures["procedure_date"].dt.tz is None
    assert cohort.procedures["procedure_date"].iloc[0] == pd.Timestamp("2022-01-03 05:00")


def test_dict_and_list_cells_are_read_as_text(procedures_frame, assessments_frame):
    procs = procedures_frame.astype(object)
    procs["baseline_pain"] = pd.Series([{"value": 8}, 7, 9, 6], dtype=object)
    procs["discharge"] = pd.Series(["same_day", ["overnight"], "same day", "admitted"], dtype=object)
    cohort = load_records(procs, assessments_frame)
    _accounted(cohort)
    assert any("lists or dicts" in n for n in cohort.notes)
    assert set(cohort.remarks["column"]) >= {"baseline_pain", "discharge"}


def test_near_duplicate_headers_are_one_clear_line(tmp_path, scores):
    path = tmp_path / "p.csv"
    path.write_text(PROCS.replace("baseline_pain", "procedure_id "), encoding="utf-8")
    with pytest.raises(InputError, match=r"Columns 1 and 6 of p\.csv must have different names; both are "
                                         r"'procedure_id' \(after trimming spaces\)"):
        load_records(path, scores)


def test_renamed_columns_that_collide_are_one_clear_line(procedures_frame, assessments_frame):
    procs = procedures_frame.assign(**{"Procedure ID": procedures_frame["procedure_id"]})
    with pytest.raises(InputError, match=r"Columns 'procedure_id', 'Procedure ID' of .* must not both mean 'procedure_id'"):
        load_records(procs, assessments_frame)


def test_repeated_other_headers_get_a_suffix(tmp_path, scores):
    path = tmp_path / "p.csv"
    path.write_text(PROCS.replace("baseline_pain", "ward").replace("physician_id", "ward"), encoding="utf-8")
    cohort = load_records(path, scores)
    assert any("repeats the name 'ward'" in n for n in cohort.notes)


@pytest.mark.parametrize("hours", ["inf", "-inf", "1e308", "200000"])
def test_non_finite_or_absurd_times_are_excluded(procedures_frame, assessments_frame, hours):
    scores = assessments_frame.astype(object)
    scores.loc[1, "hours_after"] = hours
    cohort = load_records(procedures_frame, scores)
    assert cohort.exclusions["reason"].tolist() == ["time not finite or more than 20 years from the procedure"]
    assert np.isfinite(cohort.assessments["hours_after"]).all()
    _accounted(cohort)


def test_a_score_just_before_the_procedure_is_a_baseline_only_inside_the_window(procedures_frame, assessments_frame):
    procs = procedures_frame.drop(columns="baseline_pain")
    scores = pd.concat([assessments_frame, pd.DataFrame({"procedure_id": ["P1"], "hours_after": [-0.5], "pain": [8]})])
    ep = derive_endpoints(load_records(procs, scores))
    assert ep.set_index("procedure_id").loc["P1", "baseline_pain"] == 8
    narrow = Definitions(baseline_window_hours=0.25)
    cohort = load_records(procs, scores, definitions=narrow)
    assert cohort.exclusions["reason"].str.startswith("time before the procedure, outside").tolist() == [True]
    assert np.isnan(derive_endpoints(cohort, narrow).set_index("procedure_id").loc["P1", "baseline_pain"])


def test_one_month_convention():
    # a month is 30.4375 days: 730.5 h in wide labels and in Mapping.HOURS_PER_MONTH
    assert HOURS_PER_MONTH == 730.5
    assert Mapping().wide_hours("pain_3mo") == 3 * HOURS_PER_MONTH == 2191.5
    assert Mapping().wide_hours("pain_1y") == 12 * HOURS_PER_MONTH


# ---- Safe Harbor: no date finer than the year ------------------------------------------------

def test_safe_harbor_file_with_years_only(procedures_frame, assessments_frame):
    procs = procedures_frame.drop(columns=["procedure_date", "fracture_date"]).assign(
        procedure_year=[2022, 2022, 2022, 2023], fracture_age_days=[14, 101, 7, 2])
    cohort = load_records(procs, assessments_frame)
    assert cohort.exclusions.empty
    assert cohort.procedures["procedure_year"].tolist() == [2022, 2022, 2022, 2023]
    assert cohort.procedures["procedure_date"].isna().all()
    ep = derive_endpoints(cohort)
    assert ep["early_treatment"].tolist() == [True, False, True, True]


def test_year_only_dates_are_years(procedures_frame, assessments_frame):
    procs = procedures_frame.assign(procedure_date=["2022", "2022", "2021", ""]).drop(columns="fracture_date")
    cohort = load_records(procs, assessments_frame)
    assert cohort.procedures["procedure_year"].tolist() == [2022, 2022, 2021]
    assert cohort.exclusions["reason"].tolist()[0] == "procedure_date missing or unreadable"
    _accounted(cohort)


def test_timestamps_need_a_date(procedures_frame, assessments_frame):
    procs = procedures_frame.drop(columns=["procedure_date", "fracture_date"]).assign(procedure_year=2022)
    scores = assessments_frame.drop(columns="hours_after").assign(assessed_at="2022-01-05")
    cohort = load_records(procs, scores)
    assert cohort.assessments.empty
    assert set(cohort.exclusions["reason"]) == {
        "assessed_at needs the procedure's date, and the procedure has only a year (give hours_after)"}


def test_safe_harbor_example_loads_and_monitoring_falls_back_to_years():
    from pathlib import Path

    from outcomes import evaluate_claims
    from outcomes.monitoring import control_chart, cusum

    examples = Path(__file__).parents[1] / "data" / "examples"
    cohort = load_records(examples / "safe_harbor_procedures.csv", examples / "safe_harbor_assessments.csv")
    assert cohort.exclusions.empty and cohort.procedures["procedure_date"].isna().all()
    ep = derive_endpoints(cohort)
    # every claim that needs no calendar is evaluated as on the dated long form of the same patients
    dated = evaluate_claims(load_records(examples / "long_procedures.csv", examples / "long_assessments.csv"))
    undated = evaluate_claims(cohort)
    pd.testing.assert_frame_equal(undated.table, dated.table)
    from outcomes.exceptions import StatisticalWarning

    with pytest.warns(StatisticalWarning, match="Only 3 years have procedures"):
        chart = control_chart(ep)
    assert chart.period == "year" and chart.table["period"].tolist() == ["2021", "2022", "2023"]
    assert chart.period_reason.startswith("yearly: the records give only the year")
    with pytest.raises(InputError, match=r"`period` must be 'year' or 'auto' for records that give only the year"):
        control_chart(ep, period="month")
    result = cusum(ep, n_sim=200, seed=1)
    assert result.time_resolution == "year" and result.n == int(ep["success"].notna().sum())
    assert (result.table["date"].dt.day_of_year == 1).all()
    # no year either: the records' order alone
    seq = cusum(ep.drop(columns=["procedure_date", "procedure_year"]).assign(procedure_date=pd.NaT), n_sim=200, seed=1)
    assert seq.time_resolution == "sequence" and seq.n == result.n
