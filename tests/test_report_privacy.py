"""What reports reveal: the data class, dates no finer than the year, user text never read as markup."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

from outcomes import InputError, derive_endpoints, load_records
from outcomes.cli import main
from outcomes.report import header_html, monitoring_html
from outcomes.synthetic import simulate

MATHTEXT = "$\\frac{1}{$_^"  # invalid mathtext: matplotlib raised ValueError while drawing it
FULL_DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b|\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b")


@pytest.fixture(scope="module")
def records():
    procedures, assessments, _ = simulate(300, seed=11)
    first = procedures["physician_id"].iloc[0]
    procedures.loc[procedures["physician_id"] == first, "physician_id"] = MATHTEXT
    cohort = load_records(procedures, assessments)
    return cohort, derive_endpoints(cohort)


def test_header_states_the_data_class(records):
    cohort, endpoints = records
    full = header_html(cohort, endpoints)
    assert "Data class (HIPAA): limited data set: contains dates." in full and FULL_DATE.search(full)
    year = header_html(cohort, endpoints, dates="year")
    assert ("Data class (HIPAA): limited data set: contains dates; this report shows no date finer than the "
            "year.") in year
    assert re.search(r"Procedures 20\d\d to 20\d\d", year) and not FULL_DATE.search(year)


def test_monitoring_with_years_only(records):
    _, endpoints = records
    html = monitoring_html(endpoints, dates="year")
    assert not FULL_DATE.search(html)
    assert "The control chart by month is left out: this report shows no date finer than the year." in html
    plt.close("all")


def test_dates_must_be_full_or_year(records):
    cohort, _ = records
    with pytest.raises(InputError, match=r"^`dates` must be one of 'full', 'year'; got 'month'\.$"):
        header_html(cohort, dates="month")


def test_physician_id_is_never_mathtext_or_html(records):
    _, endpoints = records
    html = monitoring_html(endpoints, physician_id=MATHTEXT)  # drew the funnel, chart and CUSUM
    assert "frac{1}" in html
    cohort, _ = records
    header = header_html(cohort, endpoints, clinic_name="<script>alert(1)</script>", physician_id="<b>D1</b>")
    assert "<script>" not in header and "<b>D1</b>" not in header and "&lt;script&gt;" in header
    plt.close("all")


def test_cli_passes_dates_and_validate_states_the_data_class(monkeypatch, capsys, procedures_frame,
                                                             assessments_frame, write_csv):
    from outcomes import report

    seen = {}
    monkeypatch.setattr(report, "render_report", lambda *a, **k: seen.update(k) or k["output"])
    assert main(["report", "p.csv", "--output", "out.html", "--dates", "year"]) == 0
    assert seen["dates"] == "year"
    capsys.readouterr()
    path = write_csv(procedures_frame, "p.csv")
    assert main(["validate", str(path), "--assessments", str(write_csv(assessments_frame, "a.csv"))]) == 0
    assert "data class (HIPAA): limited data set: contains dates" in capsys.readouterr().out
