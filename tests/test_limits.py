"""Bounded input (outcomes.limits): decompressed size, rows and columns, checked while reading."""

from __future__ import annotations

import gzip
import re
import time
import zipfile

import pandas as pd
import pytest

from outcomes import InputError, load_records
from outcomes.cli import main
from outcomes.limits import Limits, check_file, check_output, check_xlsx, open_bounded
from outcomes.sources.fhir import load_fhir

ONE_LINE = re.compile(r"^[^\n]+$")


def _gzip(path, data: bytes, times: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for _ in range(times):
            fh.write(data)


def test_defaults_and_environment(monkeypatch):
    assert Limits() == Limits(max_bytes=2 << 30, max_rows=20_000_000, max_columns=5_000)
    monkeypatch.setenv("OUTCOMES_MAX_ROWS", "1000")
    assert Limits.resolve().max_rows == 1000
    assert Limits.resolve(max_rows=5).max_rows == 5
    monkeypatch.setenv("OUTCOMES_MAX_ROWS", "lots")
    with pytest.raises(InputError, match=r"^`OUTCOMES_MAX_ROWS` must be a whole number; got 'lots'\.$"):
        Limits.resolve()


def test_limits_must_be_positive():
    with pytest.raises(InputError, match=r"^`max_rows` must be a positive whole number; got 0\.$"):
        Limits(max_rows=0)


def test_gzip_csv_bomb_refused_while_reading(tmp_path, procedures_frame, assessments_frame):
    path = tmp_path / "procedures.csv.gz"
    header = procedures_frame.to_csv(index=False).encode()
    _gzip(path, header + header.split(b"\n", 1)[1] * 20_000, 1)  # ~3 MB inflated
    with pytest.raises(InputError) as info:
        load_records(path, assessments_frame, limits=Limits(max_bytes=1 << 20))
    assert ONE_LINE.match(str(info.value))
    assert str(info.value).startswith("procedures.csv.gz must be at most 1 MB once decompressed")


def test_gzip_csv_within_limits_reads(tmp_path, procedures_frame, assessments_frame):
    path = tmp_path / "procedures.csv.gz"
    _gzip(path, procedures_frame.to_csv(index=False).encode(), 1)
    assert len(load_records(path, assessments_frame).procedures) == 4


def test_row_and_column_limits(tmp_path, procedures_frame, assessments_frame, write_csv):
    path = write_csv(procedures_frame, "p.csv")
    with pytest.raises(InputError, match=r"^p\.csv must have at most 3 rows; got 4\. Split the export"):
        load_records(path, assessments_frame, limits=Limits(max_rows=3))
    with pytest.raises(InputError, match=r"^p\.csv must have at most 5 columns; got 9\."):
        load_records(path, assessments_frame, limits=Limits(max_columns=5))


def test_parquet_rows_from_the_footer(tmp_path, procedures_frame, assessments_frame):
    path = tmp_path / "p.parquet"
    procedures_frame.astype(str).to_parquet(path)
    with pytest.raises(InputError, match=r"^p\.parquet must have at most 2 rows; got 4\."):
        load_records(path, assessments_frame, limits=Limits(max_rows=2))


def _xlsx(path, sheet: bytes) -> None:
    """A minimal .xlsx archive: only the members the checks read matter here."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", sheet)


def test_xlsx_zip_bomb_refused_before_openpyxl(tmp_path):
    path = tmp_path / "bomb.xlsx"
    _xlsx(path, b"<worksheet>" + b" " * (60 << 20) + b"</worksheet>")
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"^bomb\.xlsx must not hold a member compressed more than 200:1 \(a zip bomb\)"):
        check_xlsx(path)
    assert time.perf_counter() - start < 5


def test_xlsx_rows_counted_while_inflating(tmp_path):
    path = tmp_path / "tall.xlsx"
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 2_001))
    _xlsx(path, b"<worksheet><sheetData>" + rows + b"</sheetData></worksheet>")
    with pytest.raises(InputError, match=r"^tall\.xlsx \(sheet1\) must have at most 1,000 rows; got more\."):
        check_xlsx(path, Limits(max_rows=1000))
    with pytest.raises(InputError, match=r"must be at most 1000 bytes once decompressed"):
        check_xlsx(path, Limits(max_bytes=1000))
    check_xlsx(path)  # within the defaults


def test_excel_sheet_limit_applies_whatever_the_row_limit(tmp_path):
    # Excel holds at most 1,048,576 rows per sheet (Microsoft's specification): more is not an Excel file
    path = tmp_path / "huge.xlsx"
    _xlsx(path, b"<worksheet><sheetData>" + b"<row r='1'/>" * 1_048_577 + b"</sheetData></worksheet>")
    with pytest.raises(InputError, match=r"must (have at most 1,048,576 rows|not hold a member compressed)"):
        check_xlsx(path, Limits(max_rows=50_000_000))


def test_ndjson_gzip_bomb_ends_with_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "export"
    folder.mkdir()
    line = b'{"resourceType":"Observation","id":"o","status":"final"}\n'
    _gzip(folder / "Observation.ndjson.gz", line * 100_000, 10)  # 57 MB inflated from ~0.2 MB
    monkeypatch.setenv("OUTCOMES_MAX_INPUT_BYTES", str(8 << 20))
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        load_fhir(folder)
    assert time.perf_counter() - start < 10
    assert str(info.value).startswith("Observation.ndjson.gz must be at most 8 MB once decompressed")
    monkeypatch.setenv("OUTCOMES_MAX_INPUT_BYTES", str(1 << 30))
    monkeypatch.setenv("OUTCOMES_MAX_ROWS", "500000")
    with pytest.raises(InputError, match=r"^Observation\.ndjson\.gz must have at most 500,000 rows; got more\."):
        check_file(folder / "Observation.ndjson.gz")


def test_open_bounded_reads_plain_and_gzip(tmp_path):
    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.gz"
    plain.write_bytes(b"x\n1\n")
    _gzip(packed, b"x\n1\n", 1)
    assert open_bounded(plain).read() == open_bounded(packed).read() == b"x\n1\n"


# ---- output paths, checked before any work ------------------------------------------------------

def test_output_under_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"^`output` must be in a folder that exists or can be created; got "
                                         r"file\.txt/r\.html \(file\.txt is a file, not a folder\)\.$"):
        check_output(blocker / "r.html")
    with pytest.raises(InputError, match=r"^`output` must be a file name; got .*, which is a folder\.$"):
        check_output(tmp_path)
    assert check_output(tmp_path / "new" / "r.html").parent.is_dir()  # a missing folder is created


def test_cli_report_output_checked_before_the_render(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    # the records do not even exist: the output is checked first, so its error is the one shown
    status = main(["report", str(tmp_path / "missing.csv"), "--output", str(blocker / "deeper" / "r.html")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("outcomes report: error: `output` must be in a folder that exists or can be created")
    status = main(["demo", "--output", str(blocker / "demo")])
    assert status == 2 and "file.txt is a file, not a folder" in capsys.readouterr().err


def test_long_cell_measurement_is_documented():
    # The measurement behind the privacy guard's linear-time claim, repeated at full size here
    # would cost CI seconds; tests/test_privacy.py::test_long_cell_takes_linear_time runs 1/10.
    frame = pd.DataFrame({"label": ["a." * 5_000_000]})
    from outcomes.privacy import find_identifiers

    start = time.perf_counter()
    assert find_identifiers(frame) == []
    assert time.perf_counter() - start < 5  # 10,000,000 characters; measured 0.15 s
