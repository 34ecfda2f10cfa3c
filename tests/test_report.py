"""Reports: both notebooks run on the demo data and give one self-contained HTML file without code
or machine paths; the building blocks, small-cell suppression and the command line."""

from __future__ import annotations

import hashlib
import html
import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import outcomes
from outcomes import InputError, PrivacyError, derive_endpoints, evaluate_claims, load_claims, load_records
from outcomes import report
from outcomes.cli import main
from outcomes.synthetic import simulate

ROOT = Path(__file__).resolve().parents[1]
DEMO_PROCEDURES = ROOT / "data" / "demo" / "procedures.csv"
DEMO_ASSESSMENTS = ROOT / "data" / "demo" / "assessments.csv"
_BASE64 = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _visible(page: str) -> str:
    """The page without its embedded images (base64 may contain any short string by chance)."""
    return _BASE64.sub("data:image/png;base64,", page)


# ---- the notebooks as package data --------------------------------------------------------------

@pytest.mark.parametrize("name, extra", [("clinic_report.ipynb", set()), ("physician_review.ipynb", {"physician_id"})])
def test_notebooks_ship_in_the_package_with_a_parameters_cell_and_no_outputs(name, extra):
    source = resources.files("outcomes") / "notebooks" / name
    assert source.is_file()
    nb = json.loads(source.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    names = set(re.findall(r"^(\w+) =", "".join(code[0]["source"]), flags=re.M))
    assert names == {"procedures", "assessments", "fhir", "omop", "schema", "mapping", "definitions", "clinic_name",
                     "suppress_below", "allow_identifiers", "dates"} | extra
    # outputs stripped before commit; no statistics defined in a notebook (public API calls only)
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    text = "".join("".join(c["source"]) for c in code)
    for forbidden in ("def ", "lambda", "import numpy", "import scipy", "import statsmodels", "import pandas",
                      "report._"):
        assert forbidden not in text, forbidden
    assert "Monitoring" in "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


# ---- rendering the clinic report on the demo data ------------------------------------------------

@pytest.fixture(scope="module")
def clinic_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered") / "reports" / "clinic.html"
    path = report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=out, clinic_name="Northside Spine Clinic",
                                progress=False)
    assert path == out and out.is_file()
    return out, out.read_text(encoding="utf-8")


def test_clinic_report_opens_with_title_counts_banner_and_the_summary(clinic_page):
    _, page = clinic_page
    assert "<title>Vertebral augmentation outcomes \u2014 Northside Spine Clinic</title>" in page
    assert "Procedures 2021-01-03 to 2023-09-30 \u00b7 800 procedures, 771 patients, 6 physicians" in page
    assert "Synthetic demo data \u2014 not real patients." in page
    assert "What the clinic states, and what its records show" in page
    # the banner and the summary come before the first figure
    assert page.index("Synthetic demo data") < page.index("What the clinic states") < page.index("<img")


def test_clinic_report_names_every_claim_with_a_verdict_word(clinic_page):
    _, page = clinic_page
    for claim in load_claims():
        assert html.escape(claim.statement, quote=True) in page, claim.id
    assert page.count('<div class="claim" data-claim=') >= 9
    for word in ("BELOW", "CONSISTENT", "SUPPORTED", "ABOVE", "INCONCLUSIVE"):
        assert f"</span> {word}</span>" in page  # icon + word badge
    assert "more patients would settle it" in page


def test_clinic_report_embeds_every_figure_and_no_code(clinic_page):
    out, page = clinic_page
    # flow, claims chart, relief curves, fracture age, overnight forest, durability; monitoring:
    # funnel, control chart, clinic CUSUM, CUSUM by physician
    assert page.count("<img") == 10
    assert page.count('src="data:image/png;base64,') == 10
    assert "<script" not in page and "http://" not in _visible(page).replace('xmlns="http://www.w3.org/2000/svg"', "")
    for code in ("import outcomes", "report.summary_html", "display(HTML", "jp-InputArea", "jp-InputPrompt",
                 "In&nbsp;[", "Traceback", "application/vnd.jupyter.stderr"):
        assert code not in page, code
    assert 1e5 < out.stat().st_size < 3e6  # one file to e-mail


def test_clinic_report_sections_in_order(clinic_page):
    _, page = clinic_page
    order = ["Records", "Who was treated", "Claims scorecard", "Time to relief", "Six weeks", "Discharge and safety",
             "Durability", "Monitoring", "Evidence", "Methods and definitions", "Limitations"]
    where = [page.index(f">{title}") for title in order]
    assert where == sorted(where)
    # monitoring (issue 6): the worse demo physician stands out on the funnel plot
    assert "Outside the 99.8% limits around the clinic rate: D4" in page
    assert "common cause" in page and "CUSUM of failures against the stated 90%" in page
    assert "Detection floor" in page
    assert "Table 1." in page and "Holm p" in page
    assert "Relief: a fall of at least 2 points and at least 30% of the baseline score" in page


def test_clinic_report_is_stamped_with_version_hashes_and_definitions(clinic_page):
    _, page = clinic_page
    assert f"outcomes {outcomes.__version__} \u00b7 generated " in page
    assert f"procedures.csv: SHA-256 <code>{_sha256(DEMO_PROCEDURES)}</code>" in page
    assert f"assessments.csv: SHA-256 <code>{_sha256(DEMO_ASSESSMENTS)}</code>" in page
    assert outcomes.Definitions().digest() in page


def test_clinic_report_names_no_path_of_this_machine(clinic_page):
    out, page = clinic_page
    visible = _visible(page)
    for path in (str(ROOT), str(out.parent), str(out.parent.parent), str(Path.home()), "/tmp/", "/work/", sys.prefix):
        assert path not in visible, path


def test_limitations_are_written_from_the_data(clinic_page):
    _, page = clinic_page
    cohort = load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS)
    ep = derive_endpoints(cohort)
    missing = int(ep["success"].isna().sum())
    assert f"{missing} of 800 patients ({100 * missing / 800:.0f}%) have no pain score between 2 and 12 weeks" in page
    assert "Interval censoring:" in page and "Visits: in the first week" in page


# ---- the physician review, through the command line, with a broken kernel spec ----------------------

@pytest.fixture(scope="module")
def physician_page(tmp_path_factory):
    """`outcomes report --physician D4` in a subprocess whose Jupyter paths hold a broken "python3"
    kernel spec and no user folder: the report must not depend on any installed kernel spec."""
    base = tmp_path_factory.mktemp("physician")
    spec = base / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f",
                                                           "{connection_file}"], "display_name": "broken",
                                                  "language": "python"}))
    out = base / "d4.html"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base / "home"), "JUPYTER_PATH": str(base / "jupyter"),
           "JUPYTER_DATA_DIR": str(base / "jupyter"), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "outcomes", "report", str(DEMO_PROCEDURES), "--assessments",
                           str(DEMO_ASSESSMENTS), "--physician", "D4", "--suppress-below", "11", "--quiet",
                           "--output", str(out)], capture_output=True, text=True, env=env, timeout=300, cwd=base)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    return out, out.read_text(encoding="utf-8")


def test_physician_review_compares_physician_clinic_and_stated(physician_page):
    _, page = physician_page
    assert "Physician review: D4" in page and "Synthetic demo data" in page
    assert "What the clinic states, and what Physician D4's records show" in page
    assert page.count("<strong>Physician D4:</strong>") == 9 and page.count("<strong>Clinic:</strong>") == 9
    # their relief curve over the clinic's; their funnel position, control chart and CUSUM
    assert page.count("<img") == 4
    assert "Outside the 99.8% limits around the clinic rate: D4" in page
    assert "Physician D4, quarterly" in page and "special cause" in page
    own = evaluate_claims(report.physician_endpoints(derive_endpoints(load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS)),
                                                     "D4"))
    row = own.headline("success_rate")
    sentence = (f"With {int(row['n'])} patients, a success rate between {100 * row['ci_low']:.0f}% and "
                f"{100 * row['ci_high']:.0f}% is consistent with these records.")
    assert sentence in page
    for code in ("import outcomes", "jp-InputArea", "Traceback"):
        assert code not in page
    assert "/tmp/" not in _visible(page)


def test_physician_review_suppresses_small_counts(physician_page):
    _, page = physician_page
    assert "Counts under 11 are shown as" in page
    # D4's patients still followed at 3 years after relief are 5 (< 11): shown as <11, never as 5
    assert "&lt;11 patients still followed then" in page
    assert "; 5 patients still followed then" not in page


# ---- building blocks --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    procedures, assessments, _ = simulate(400, seed=21)
    cohort = load_records(procedures, assessments)
    ep = derive_endpoints(cohort)
    return cohort, ep, evaluate_claims(ep)


def test_suppress():
    assert report.suppress(7, 11) == "<11" and report.suppress(0, 11) == "<11" and report.suppress(11, 11) == "11"
    assert report.suppress(1234, 0) == "1,234" and report.suppress(np.int64(3), 5) == "<5"
    assert report.suppress(None, 11) == "-" and report.suppress(float("nan"), 11) == "-"
    for bad in (-1, 2.5, "11", True, float("nan")):
        with pytest.raises(InputError, match=r"^`suppress_below` must be a whole number of 0 or more"):
            report.suppress(3, bad)


def test_table_one_counts_agree_with_a_crosstab(small):
    _, ep, _ = small
    t = report.table_one(ep).set_index("characteristic")
    assert list(t.columns) == ["vertebroplasty", "kyphoplasty", "all"]
    counts = pd.crosstab(ep["sex"], ep["procedure"])
    n_vp = int((ep["procedure"] == "vertebroplasty").sum())
    female = int(counts.loc["F", "vertebroplasty"])
    assert t.loc["Sex: female, n (%)", "vertebroplasty"] == f"{female} ({100 * female / n_vp:.1f}%)"
    q1, med, q3 = np.quantile(ep["age"], [0.25, 0.5, 0.75])
    assert t.loc["Age (years; over 89 shown as 90), median (IQR)", "all"] == f"{med:.0f} ({q1:.0f}-{q3:.0f})"
    assert t.loc["Procedures, n", "all"] == str(len(ep))
    for name in ("Levels treated: 3 or more, n (%)", "Baseline pain (0-10), median (IQR)", "ASA class: 3, n (%)",
                 "Etiology: osteoporosis, n (%)", "Fracture age at the procedure (days), median (IQR)"):
        assert name in t.index


def test_table_one_suppression_hides_small_cells(small):
    _, ep, _ = small
    t = report.table_one(ep, suppress_below=50)
    cells = t.drop(columns="characteristic").to_numpy().ravel()
    counts = [c for c in cells if "(" in c and "%" in c]
    # every count cell left is 50 or more; the rest read "<50"
    assert all(int(c.split(" ")[0].replace(",", "")) >= 50 for c in counts)
    assert "<50" in cells


def test_scorecard_has_the_columns_and_suppresses(small):
    _, _, claims = small
    card = report.scorecard(claims)
    assert list(card.columns) == ["claim", "population", "reading", "n", "observed", "95% CI", "stated", "verdict",
                                  "p", "Holm p", "method"]
    assert len(card) == len(claims.table)
    first = card.iloc[0]
    row = claims.table.iloc[0]
    assert first["observed"] == f"{100 * row['estimate']:.1f}%" and first["verdict"] == row["verdict"].upper()
    hidden = report.scorecard(claims, suppress_below=10_000)
    assert set(hidden["n"]) <= {"<10000", "-"}
    shares = claims.table["measure"].isin(["proportion", "relieved by"]).to_numpy()
    assert (hidden.loc[shares, "observed"] == "suppressed").all()


def test_summary_html_one_block_per_claim_with_icon_words_and_strip(small):
    _, _, claims = small
    page = report.summary_html(claims)
    assert page.count('<div class="claim" data-claim=') == len(claims.claims)
    for claim_id, verdict in claims.verdicts().items():
        assert f'title="{verdict}"' in page
    assert page.count("<svg") >= 6 and "stated 90%" in page
    hidden = report.summary_html(claims, suppress_below=10_000)
    assert "of 10000" not in hidden and re.search(r"of \d{3} patients", hidden) is None


def test_inconclusive_line_says_how_many_more_patients(small):
    _, ep, _ = small
    few = evaluate_claims(ep.iloc[:120])
    page = report.summary_html(few)
    inconclusive = [c for c, v in few.verdicts().items() if v == "inconclusive"]
    assert inconclusive
    for claim_id in inconclusive:
        block = page.split(f'data-claim="{claim_id}"')[1].split('<div class="claim"')[0]
        assert re.search(r"About [\d,]+ more patients would settle it|Far more patients than these records hold",
                         block), claim_id


def test_settling_an_effect_close_to_none_is_not_given_an_absurd_number():
    # half-width 0.3 around 0.01 from 100 patients: about 100 * (0.3 / 0.01)^2 = 90,000 -> "far more"
    row = pd.Series({"estimate": 0.01, "ci_low": -0.29, "ci_high": 0.31, "n": 100, "measure": "risk difference"})
    assert report._settle_direction(row) == 89_900
    ratio = pd.Series({"estimate": 2.0, "ci_low": 0.5, "ci_high": 8.0, "n": 50, "measure": "odds ratio"})
    # log scale: half-width log(4) = 2 * log(2) -> n' = 50 * 2^2 = 200, 150 more
    assert report._settle_direction(ratio) == 150


def test_counts_in_notes_and_texts_are_suppressed_too(small):
    _, ep, _ = small
    tiny = evaluate_claims(ep.iloc[:24])
    pages = [report.summary_html(tiny, suppress_below=11), report.table_html(report.scorecard(tiny, suppress_below=11)),
             report.evidence_html(tiny, suppress_below=11)]
    plain = [report.summary_html(tiny), report.table_html(report.scorecard(tiny))]
    small_count = re.compile(r"(?<![\d.,<])(?:[0-9]|10)(?= patients| with,| without| relieved|, (?:vertebro|kypho)plasty)")
    assert any(small_count.search(page) for page in plain)  # the notes do carry small counts ...
    for page in pages:
        assert not small_count.search(page), small_count.search(page)  # ... and suppression hides them
    assert "&lt;11" in pages[0]


def test_closing_sentence(small):
    _, _, claims = small
    row = claims.headline("success_rate")
    assert report.closing_sentence(claims) == (
        f"With {int(row['n'])} patients, a success rate between {100 * row['ci_low']:.0f}% and "
        f"{100 * row['ci_high']:.0f}% is consistent with these records.")
    assert report.closing_sentence(claims, suppress_below=10_000).startswith("With <10000 patients, the numbers are too small")


def test_is_synthetic_and_physician_endpoints(small):
    cohort, ep, _ = small
    assert report.is_synthetic(cohort) and report.is_synthetic(ep)
    assert not report.is_synthetic(ep.assign(site_id="Northside"))
    with pytest.raises(InputError, match=r"^`physician_id` must be one of D1, D2, D3, D4, D5, D6; got 'D9'\.$"):
        report.physician_endpoints(ep, "D9")
    assert set(report.physician_endpoints(ep, "D2")["physician_id"]) == {"D2"}


def test_header_shows_privacy_warnings(procedures_frame, assessments_frame):
    frame = procedures_frame.assign(patient_name="Ann Lee")
    with pytest.warns(outcomes.IdentifiersAllowedWarning):
        cohort = load_records(frame, assessments_frame, allow_identifiers=True)
    page = report.header_html(cohort)
    assert "Privacy warning:" in page and "Synthetic demo data" not in page


def test_figure_html_embeds_a_png_and_handles_none(small):
    _, _, claims = small
    page = report.figure_html(report.claims_figure(claims), caption="Claims.")
    assert page.startswith('<figure class="report-figure"><img alt="Claims." src="data:image/png;base64,iVBOR')
    assert "Not enough data for this figure." in report.figure_html(None, caption="Durability.")


# ---- errors ------------------------------------------------------------------------------------------

def test_render_report_validates_before_running_a_notebook(tmp_path, procedures_frame, assessments_frame, write_csv):
    out = tmp_path / "r.html"
    with pytest.raises(InputError, match=r"^`output` must be a file name ending in \.html; got 'r\.pdf'\.$"):
        report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=tmp_path / "r.pdf")
    with pytest.raises(InputError, match=r"^Procedures file nope\.csv was not found"):
        report.render_report(tmp_path / "nope.csv", output=out)
    with pytest.raises(PrivacyError, match=r"looks identifying: column 'patient_name'"):
        report.render_report(write_csv(procedures_frame.assign(patient_name="Ann Lee"), "p.csv"),
                             write_csv(assessments_frame, "a.csv"), output=out)
    with pytest.raises(InputError, match=r"^`physician_id` must be one of D1, D2, D3, D4, D5, D6; got 'D9'\.$"):
        report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=out, physician_id="D9")
    with pytest.raises(InputError, match=r"^`timeout` must be a positive number of seconds; got 0\.$"):
        report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=out, timeout=0)
    assert not out.exists()


def test_an_error_inside_the_notebook_surfaces_as_one_input_error(tmp_path, monkeypatch):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    def fail(*args, **kwargs):
        raise PapermillExecutionError(3, 1, "source", "DefinitionsError", "`relief.rule` must be one of ...; got 'x'.",
                                      ["traceback line"])

    monkeypatch.setattr(papermill, "execute_notebook", fail)
    with pytest.raises(InputError, match=r"^`relief\.rule` must be one of \.\.\.; got 'x'\.$"):
        report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=tmp_path / "r.html", progress=False)

    def crash(*args, **kwargs):
        raise PapermillExecutionError(3, 1, "source", "KeyError", "'x'", ["traceback line"])

    monkeypatch.setattr(papermill, "execute_notebook", crash)
    with pytest.raises(outcomes.OutcomesError, match=r"^The clinic report notebook failed: KeyError: 'x'$"):
        report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=tmp_path / "r.html", progress=False)


# ---- command line ------------------------------------------------------------------------------------

def test_cli_report_passes_every_argument(monkeypatch, capsys, tmp_path):
    seen = {}

    def fake(procedures, assessments=None, **kwargs):
        seen.update(procedures=procedures, assessments=assessments, **kwargs)
        return Path(kwargs["output"])

    monkeypatch.setattr(report, "render_report", fake)
    status = main(["report", "p.csv", "--assessments", "a.csv", "--mapping", "m.toml", "--definitions", "d.toml",
                   "--physician", "D4", "--clinic-name", "Northside", "--suppress-below", "11", "--allow-identifiers",
                   "--output", "out.html"])
    assert status == 0 and capsys.readouterr().out == "wrote out.html\n"
    assert seen == {"procedures": "p.csv", "assessments": "a.csv", "fhir": None, "omop": None, "schema": None,
                    "output": "out.html", "mapping": "m.toml", "definitions": "d.toml", "physician_id": "D4",
                    "clinic_name": "Northside", "suppress_below": 11, "allow_identifiers": True, "progress": True}


def test_cli_report_errors_are_one_line_with_status_2(tmp_path, capsys, procedures_frame, assessments_frame, write_csv):
    status = main(["report", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("outcomes report: error: Procedures file missing.csv was not found")
    path = write_csv(procedures_frame.assign(patient_name="Ann Lee"), "clinic.csv")
    status = main(["report", str(path), "--assessments", str(write_csv(assessments_frame, "a.csv")),
                   "--output", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("outcomes report: error: clinic.csv looks identifying: column 'patient_name'")
    assert not (tmp_path / "r.html").exists()


def test_cli_report_requires_output(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "p.csv"])
    assert exc.value.code == 2
    assert "--output" in capsys.readouterr().err
