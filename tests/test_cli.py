"""The command line: row accounting printed, errors as one line on stderr with exit status 2."""

from __future__ import annotations

import subprocess
import sys

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
