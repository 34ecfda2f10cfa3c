"""The command line: row accounting printed, errors as one line on stderr with exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from outcomes.cli import main


def test_validate_prints_accounting(procedures_frame, assessments_frame, write_csv, capsys):
    frame = assessments_frame.astype(object)
    frame.loc[0, "pain"] = 14
    status = main(["validate", str(write_csv(procedures_frame, "p.csv")),
                   "--assessments", str(write_csv(frame, "a.csv"))])
    out = capsys.readouterr().out
    assert status == 0
    assert "procedures (p.csv): read 4, analysed 4, excluded 0" in out
    assert "assessments (a.csv): read 8, analysed 7, excluded 1" in out
    assert "pain outside 0-10" in out


def test_privacy_error_is_one_line(procedures_frame, assessments_frame, write_csv, capsys):
    path = write_csv(procedures_frame.assign(patient_name="Ann Lee"), "clinic.csv")
    status = main(["validate", str(path), "--assessments", str(write_csv(assessments_frame, "a.csv"))])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("outcomes validate: error: clinic.csv looks identifying: column 'patient_name'")


def test_allow_identifiers_goes_on(procedures_frame, assessments_frame, write_csv, capsys):
    path = write_csv(procedures_frame.assign(patient_name="Ann Lee"), "clinic.csv")
    status = main(["validate", str(path), "--assessments", str(write_csv(assessments_frame, "a.csv")),
                   "--allow-identifiers"])
    assert status == 0
    assert "WARNING: Identifiers were allowed through on request" in capsys.readouterr().out


def test_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.csv")]) == 2
    assert "Procedures file missing.csv was not found" in capsys.readouterr().err


def test_bad_definitions_file(procedures_frame, assessments_frame, write_csv, tmp_path, capsys):
    defs = tmp_path / "d.toml"
    defs.write_text('[relief]\nrule = "sometimes"\n')
    status = main(["validate", str(write_csv(procedures_frame, "p.csv")), "--assessments",
                   str(write_csv(assessments_frame, "a.csv")), "--definitions", str(defs)])
    assert status == 2
    assert "`relief.rule` must be one of" in capsys.readouterr().err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_python_dash_m_works():
    run = subprocess.run([sys.executable, "-m", "outcomes", "--version"], capture_output=True, text=True, check=True)
    assert run.stdout.startswith("outcomes ")


def test_validate_exits_1_when_nothing_is_analysed(procedures_frame, assessments_frame, write_csv, capsys):
    procs = procedures_frame.assign(procedure_date=["13.01.2022 x"] * 4)
    status = main(["validate", str(write_csv(procs, "p.csv")), "--assessments", str(write_csv(assessments_frame, "a.csv"))])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1
    assert err.startswith("outcomes validate: nothing analysed in procedures: all 4 rows were excluded, most as "
                          "'procedure_date missing or unreadable'; try: declare the dates' format")


def test_validate_writes_the_exclusion_log(procedures_frame, assessments_frame, write_csv, tmp_path, capsys):
    frame = assessments_frame.astype(object)
    frame.loc[2, "pain"] = "x"
    frame.loc[5, "hours_after"] = "inf"
    out = tmp_path / "excluded.csv"
    status = main(["validate", str(write_csv(procedures_frame, "p.csv")), "--assessments",
                   str(write_csv(frame, "a.csv")), "--exclusions", str(out)])
    assert status == 0
    log = pd.read_csv(out, dtype=str)
    assert log[["row", "column", "value", "reason"]].values.tolist() == [
        ["4", "pain", "x", "pain is not a number"],
        ["7", "hours_after", "inf", "time not finite or more than 20 years from the procedure"],
    ]
    assert "wrote 2 excluded rows" in capsys.readouterr().out


def test_validate_says_which_wide_columns_are_which_hours(procedures_frame, write_csv, capsys):
    wide = procedures_frame.assign(pain_48h=[3, 4, 5, 6], vas_3mo=[20, 30, 40, 50])
    assert main(["validate", str(write_csv(wide, "wide.csv"))]) == 0
    out = capsys.readouterr().out
    assert "wide pain columns read as hours after the procedure: pain_48h = 48 h, vas_3mo = 2191.5 h" in out


def test_validate_sheet_and_header_row(procedures_frame, assessments_frame, tmp_path, write_csv, capsys):
    path = tmp_path / "p.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"a": ["cover"]}).to_excel(writer, sheet_name="Cover", index=False)
        procedures_frame.to_excel(writer, sheet_name="Records", index=False, startrow=2)
    scores = str(write_csv(assessments_frame, "a.csv"))
    assert main(["validate", str(path), "--assessments", scores, "--sheet", "Records", "--header-row", "3"]) == 0
    assert "procedures (p.xlsx): read 4, analysed 4, excluded 0" in capsys.readouterr().out
    assert main(["validate", str(path), "--assessments", scores, "--sheet", "2"]) == 0
    assert main(["validate", str(path), "--assessments", scores, "--sheet", "Nope"]) == 2
