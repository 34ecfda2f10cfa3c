"""Reports: the clinic report and the physician review render from templates on the demo data to one
self-contained HTML file (and a PDF and a workbook) without code or machine paths; plain wording,
verdicts that follow from the printed intervals, complementary suppression, the notebooks, the CLI."""

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
from outcomes.report.wording import plain
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
    assert names == {"procedures", "assessments", "events", "fhir", "omop", "schema", "mapping", "definitions",
                     "clinic_name", "suppress_below", "allow_identifiers"} | extra
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    text = "".join("".join(c["source"]) for c in code)
    for forbidden in ("def ", "lambda", "import scipy", "import statsmodels", "report._", "display(HTML("):
        assert forbidden not in text, forbidden
    # an analysis: every code cell after the parameters follows a markdown cell that explains it
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and i > 0 and "parameters" not in cell["metadata"].get("tags", []):
            assert cells[i - 1]["cell_type"] == "markdown" or cells[i - 1] is code[0], i


@pytest.mark.parametrize("folder", ["notebooks", "."])
def test_clinic_notebook_runs_from_its_folder_and_from_the_root(folder, tmp_path):
    """Run with papermill from the notebooks folder and from the repository root, on the demo data."""
    import papermill

    out = tmp_path / "run.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "clinic_report.ipynb"), str(out), cwd=str(ROOT / folder),
                               kernel_name="python3", progress_bar=False,
                               kernel_manager_class="outcomes.report.notebook.KernelManager")
    nb = json.loads(out.read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html_out = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "<table" in html_out and "report-table" in html_out  # DataFrames styled like the report
    # the safety cells, on the demo's events and function scores: the complication table, the
    # new-fracture incidence at one year and its curves, function by visit and its figure
    cells = {"".join(c["source"]).removeprefix("%matplotlib inline\n").split("\n")[0]: c
             for c in nb["cells"] if c["cell_type"] == "code"}

    def shown(first_line: str) -> dict:
        cell = next(c for line, c in cells.items() if line.startswith(first_line))
        return next(o["data"] for o in cell["outputs"] if o.get("output_type") == "execute_result")

    complications = "".join(shown("threshold = ")["text/html"])
    assert "Any major complication" in complications and "against the threshold" in complications
    incidence = "".join(shown("fractures = ")["text/html"])
    assert "cumulative_incidence" in incidence and "kyphoplasty" in incidence and "vertebroplasty" in incidence
    assert "image/png" in shown("stated = ")  # the new-fracture curves
    visits = "".join(shown("function = ")["text/html"])
    assert "ODI" in visits and "2 weeks" in visits
    assert "image/png" in shown("outcomes.plots.function_over_time")


# ---- rendering the clinic report on the demo data ------------------------------------------------

@pytest.fixture(scope="module")
def clinic_page(tmp_path_factory):
    base = tmp_path_factory.mktemp("rendered")
    out = base / "reports" / "clinic.html"
    path = report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=out, clinic_name="Northside Spine Clinic",
                                tables=base / "tables.xlsx")
    assert path == out and out.is_file()
    return out, out.read_text(encoding="utf-8")


def _text(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<style>.*?</style>", " ", _visible(page), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_clinic_report_opens_with_title_counts_banner_and_the_executive_summary(clinic_page):
    _, page = clinic_page
    assert "<title>Vertebral augmentation outcomes \u2014 Northside Spine Clinic</title>" in page
    # procedures and patients are never mixed; physicians are not patients (never suppressed)
    assert "Procedures 2021-01-03 to 2023-09-30 \u00b7 800 procedures in 771 patients, 6 physicians" in page
    assert "Synthetic demo data \u2014 not real patients." in page
    text = _text(page)
    claims = evaluate_claims(derive_endpoints(load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS)))
    verdicts = list(claims.verdicts().values())
    met = sum(v in ("above", "consistent", "supported") for v in verdicts)
    not_met = sum(v in ("below", "contradicted") for v in verdicts)
    assert f"{met} met \u00b7 {not_met} not met \u00b7 {len(verdicts) - met - not_met} undecided" in text
    assert "What to look at next" in text and "Physician D4: success 63%" in text
    # the summary comes first, then the claims, before the first figure
    assert text.index("In short") < text.index("What the clinic states") < text.index("Records")
    assert page.index("In short") < page.index("<img")
    assert "patients with a 4-week score" not in text and "of 800 patients" not in text


def test_clinic_report_names_every_claim_with_a_verdict_word(clinic_page):
    _, page = clinic_page
    for claim in load_claims():
        assert html.escape(claim.statement, quote=True) in page, claim.id
    assert page.count('<div class="claim" data-claim=') >= 9
    for word in ("BELOW", "CONSISTENT", "SUPPORTED", "ABOVE", "INCONCLUSIVE"):
        assert f"</span> {word}</span>" in page  # icon + word badge
    assert "more procedures would settle it" in page


def test_printed_verdict_follows_from_the_printed_interval_and_margin(clinic_page):
    """For each claim block: "VERDICT because the ... interval (lo-hi%) ... stated S% ... (± M points)" and the
    DESIGN rule applied to those printed numbers gives the printed verdict."""
    from outcomes.claims import verdict_for_direction, verdict_for_stated

    text = _text(clinic_page[1])
    shares = re.findall(r"(BELOW|ABOVE|CONSISTENT|INCONCLUSIVE) because the (?:whole )?interval \(([\d.]+)-([\d.]+)%\) "
                        r"[^.]*?stated (\d+)%(?:[^.]*?\(\u00b1 (\d+) points\))?", text)
    assert len(shares) >= 5
    for verdict, low, high, stated, margin in shares:
        margin = float(margin or 5) / 100
        assert verdict_for_stated(float(low) / 100, float(high) / 100, float(stated) / 100, margin) == verdict.lower()
    effects = re.findall(r"(SUPPORTED|CONTRADICTED|INCONCLUSIVE) because the (?:whole )?interval \((-?[\d.]+)(?:-| to )"
                         r"(-?[\d.]+)[^)]*\) (?:lies on the (claimed|other) side of|includes) (\d)", text)
    assert len(effects) >= 3
    for verdict, low, high, _, null in effects:
        assert verdict_for_direction(float(low), float(high), float(null)) == verdict.lower()
    # the 3-year durability reading: 76.31-85.04% against 80% +- 5 is INCONCLUSIVE, and reads so
    assert "76.31-85.04%" in text


def test_the_body_speaks_plainly_and_the_appendix_names_the_methods(clinic_page):
    text = _text(clinic_page[1])
    body, appendix = text.split("Appendix: methods and definitions")
    for jargon in ("Turnbull", "NPMLE", "log(-log)", "Brookmeyer", "limit h =", "signal(s)", "pct field",
                   "height_restoration", "_", "times as likely to be relieved", "Efron"):
        assert jargon not in body, jargon
    # "faster" is read from the visits (interval-censored), worded as a rate, with its p-value once
    assert re.search(r"relief came at [\d.]+ times the rate seen after vertebroplasty \(95% CI [\d.]+-[\d.]+; p", body)
    assert "so these times are visit times" not in body and not re.search(r"p [<=] [\d.]+\)\)", body)
    for name in ("Turnbull", "interval-censored proportional hazards", "Finkelstein 1986", "Wilson score interval"):
        assert name in appendix, name
    assert "Glossary" in appendix and "Rate of relief (hazard ratio)" in appendix


def test_overnight_claim_says_what_it_counts_as_the_discharge_table_does(clinic_page):
    text = _text(clinic_page[1])
    ep = derive_endpoints(load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS))
    overnight, admitted = int((ep["discharge"] == "overnight").sum()), int((ep["discharge"] == "admitted").sum())
    assert f"(overnight or admitted): {overnight + admitted} of 800 procedures" in text
    assert re.search(rf"Stayed at least one night \(overnight or admitted\), n \(%\) [^|]*? {overnight + admitted} "
                     r"\(", text)
    assert "Discharge: overnight, n (%) " in text and f" {overnight} (" in text


def test_clinic_report_embeds_every_figure_with_alt_text_and_no_code(clinic_page):
    out, page = clinic_page
    # 10 figures: the overnight odds ratios are drawn once (in their claim's strip), not again in the
    # section; the demo's ODI/RMDQ scores add the function-over-time figure (no events file: no
    # new-fracture curve or complication funnel)
    assert page.count("<img") == 10
    assert page.count('src="data:image/png;base64,') == 10
    assert "What comes with a stay of at least one night: odds ratios" not in page
    alts = re.findall(r'<img alt="([^"]*)"', page)
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert len(alts) == 10 and not set(alts) & set(captions)  # alt texts say what is shown, not the caption
    assert any("rises to 85% relieved by 48 hours" in html.unescape(a) for a in alts)
    assert "<script" not in page and "http://" not in _visible(page).replace('xmlns="http://www.w3.org/2000/svg"', "")
    for code in ("import outcomes", "display(HTML", "jp-InputArea", "Traceback"):
        assert code not in page, code
    assert 1e5 < out.stat().st_size < 3e6


def test_clinic_report_sections_in_order(clinic_page):
    _, page = clinic_page
    order = ["In short", "Records", "Who was treated", "Claims scorecard", "Time to relief", "Six weeks",
             "Discharge and safety", "Durability", "Monitoring", "Evidence", "Limitations",
             "Appendix: methods and definitions", "Glossary"]
    where = [page.index(f">{title}") for title in order]
    assert where == sorted(where)
    text = _text(page)
    assert "more than chance explains: D4" in text
    assert "raised an alarm" in text and "How many failures raise an alarm" in text
    assert "Table 1." in text and "Holm p" in text
    assert "Relief: a fall of at least 2 points and at least 30% of the baseline score" in text


def test_clinic_report_is_stamped_with_version_hashes_and_definitions(clinic_page):
    _, page = clinic_page
    assert f"outcomes {outcomes.__version__} &middot; generated " in page
    assert f"procedures.csv: SHA-256 <code>{_sha256(DEMO_PROCEDURES)}</code>" in page
    assert f"assessments.csv: SHA-256 <code>{_sha256(DEMO_ASSESSMENTS)}</code>" in page
    assert outcomes.Definitions().digest() in page


def test_clinic_report_names_no_path_of_this_machine(clinic_page):
    out, page = clinic_page
    visible = _visible(page)
    for path in (str(ROOT), str(out.parent), str(out.parent.parent), str(Path.home()), "/tmp/", "/work/", sys.prefix):
        assert path not in visible, path


def test_limitations_are_written_from_the_data(clinic_page):
    text = _text(clinic_page[1])
    ep = derive_endpoints(load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS))
    missing = int(ep["success"].isna().sum())
    assert f"{missing} of 800 procedures ({100 * missing / 800:.0f}%) have no pain score between 2 and 12 weeks" in text
    assert "Visits: in the first week" in text and "a full year or more after the procedure" in text


def test_notes_on_the_data_appendix_shows_reading_notes_and_fragile_results(tmp_path, monkeypatch):
    """Cohort.notes (how the files were read) and ClaimsResult.warnings (fragile results) are
    shown in the appendix "Notes on the data", small counts hidden; the demo has neither, so its
    report has no such appendix."""
    import dataclasses

    import outcomes.claims

    procedures, assessments, _ = simulate(120, seed=4)
    # a European spreadsheet export: semicolons, decimal commas, Windows-1252
    procedures.to_csv(tmp_path / "procedures.csv", sep=";", decimal=",", index=False, encoding="cp1252")
    assessments.to_csv(tmp_path / "assessments.csv", index=False)
    cohort = load_records(tmp_path / "procedures.csv", tmp_path / "assessments.csv")
    assert cohort.notes and any("decimal commas" in n for n in cohort.notes)
    real = outcomes.claims.evaluate_claims

    def fragile(*args, **kwargs):
        result = real(*args, **kwargs)
        return dataclasses.replace(result, warnings=(*result.warnings, "outpatient: an interval from only 7 "
                                                     "procedures with a known discharge is fragile"))

    monkeypatch.setattr(outcomes.claims, "evaluate_claims", fragile)
    page = report.build_report(cohort, suppress_below=11)
    text = _text(page)
    assert page.index(">Appendix: methods and definitions") < page.index(">Appendix: notes on the data") \
        < page.index(">Glossary")
    part = text[text.index("Appendix: notes on the data"):text.index("Glossary")]
    assert "How the files were read" in part
    for note in cohort.notes:  # column names said in words, as everywhere in the report
        assert plain(" ".join(note.split())) in part
    assert "decimal commas read as decimal points in 'length of stay" in part
    statement = next(c.statement for c in load_claims() if c.id == "outpatient")
    assert (f"{statement} (outpatient): an interval from only <11 procedures with a known discharge is fragile."
            in part)
    assert str(tmp_path) not in _visible(page)


def test_demo_report_has_no_notes_on_the_data(clinic_page):
    assert ">Appendix: notes on the data" not in clinic_page[1]


def test_the_workbook_holds_the_tables_and_the_curve_points(clinic_page):
    out, _ = clinic_page
    book = pd.read_excel(out.parent.parent / "tables.xlsx", sheet_name=None)
    # then the safety sheets when the records hold events or function scores (tests/test_report_safety.py)
    assert list(book)[:6] == ["scorecard", "table 1", "discharge", "flow", "exclusions", "relief curve"]
    claims = evaluate_claims(derive_endpoints(load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS)))
    assert np.allclose(book["scorecard"]["estimate"].to_numpy(float), claims.table["estimate"].to_numpy(float),
                       equal_nan=True)
    curve = book["relief curve"]
    read_at = outcomes.Definitions().relief_horizon_evaluated_hours  # the 48-hour reading, visits up to 6 h late
    vp = curve[(curve["procedure"] == "vertebroplasty") & (curve["hours"] <= read_at)].iloc[-1]
    assert vp["relieved"] == pytest.approx(claims.headline("relief_48h_vertebroplasty")["estimate"])


def test_pdf_has_page_numbers(tmp_path):
    pytest.importorskip("weasyprint")
    cohort = load_records(*simulate(300, seed=5)[:2])
    out = report.write_pdf(report.build_report(cohort), tmp_path / "r.pdf")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.count("\f")
    assert pages >= 3 and f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text


def test_pdf_through_chromium_has_page_numbers_and_no_machine_path(tmp_path):
    import shutil
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")):
        pytest.skip("no Chromium or Chrome on the PATH")
    cohort = load_records(*simulate(300, seed=5)[:2])
    out = report.write_pdf(report.build_report(cohort), tmp_path / "r.pdf", engine="chromium")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.count("\f")
    assert f"Page 1 of {pages}" in text and str(tmp_path) not in text and "file://" not in text


# ---- the physician review, through the command line ----------------------------------------------------

@pytest.fixture(scope="module")
def physician_page(tmp_path_factory):
    """`outcomes report --physician D4` in a subprocess with a bare environment."""
    base = tmp_path_factory.mktemp("physician")
    out = base / "d4.html"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base / "home"), "MPLBACKEND": "Agg",
           "PYTHONPATH": str(Path(outcomes.__file__).resolve().parents[1])}  # this checkout's package
    done = subprocess.run([sys.executable, "-m", "outcomes", "report", str(DEMO_PROCEDURES), "--assessments",
                           str(DEMO_ASSESSMENTS), "--physician", "D4", "--suppress-below", "11", "--quiet",
                           "--output", str(out)], capture_output=True, text=True, env=env, timeout=300, cwd=base)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    return out, out.read_text(encoding="utf-8")


def test_physician_review_opens_with_one_plain_line_case_mix_and_observed_expected(physician_page):
    _, page = physician_page
    text = _text(page)
    ep = derive_endpoints(load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS))
    oe = outcomes.monitoring.observed_expected(ep, "D4")
    line = text.split("BELOW PEERS", 1)[1].split("In short")[0]
    assert "Physician D4: 63% success at 4 weeks in 127 procedures against the clinic's 79%" in line
    assert "outside the funnel plot's 99.8% limit" in line
    assert f"observed/expected {oe.ratio:.2f} (95% CI {oe.ci.low:.2f}-{oe.ci.high:.2f})" in line
    assert "Case mix: Physician D4's patients beside the clinic's" in text
    assert text.index("BELOW PEERS") < text.index("What the clinic states")


def test_physician_review_compares_physician_clinic_and_stated(physician_page):
    _, page = physician_page
    assert "Physician review: D4" in page and "Synthetic demo data" in page
    assert "What the clinic states, and what Physician D4&#39;s records show" in page
    from outcomes.claims import load_claims  # one pair of lines per claim of the registry

    n_claims = len(load_claims())
    assert page.count("<strong>Physician D4:</strong>") == n_claims and page.count("<strong>Clinic:</strong>") == n_claims
    assert page.count("<img") == 4
    text = _text(page)
    assert "more procedures would settle it" not in text and "this is not a finding against the physician" in text
    own = evaluate_claims(report.physician_endpoints(derive_endpoints(load_records(DEMO_PROCEDURES, DEMO_ASSESSMENTS)),
                                                     "D4"))
    row = own.headline("success_rate")
    assert (f"With {int(row['n'])} procedures, a success rate between {100 * row['ci_low']:.0f}% and "
            f"{100 * row['ci_high']:.0f}% is consistent with these records.") in text
    assert "/tmp/" not in _visible(page)


def test_physician_review_speaks_plainly(physician_page):
    body = _text(physician_page[1]).split("Appendix: methods and definitions")[0]
    for jargon in ("Turnbull", "NPMLE", "log(-log)", "Brookmeyer", "limit h =", "signal(s)", "pct field", "_",
                   "score score", "number of number", "as likely to be relieved"):
        assert jargon not in body, jargon
    assert "Adjusted for case mix (age, sex, baseline pain score, number of levels treated, ASA class" in body


def test_physician_review_suppresses_small_counts(physician_page):
    _, page = physician_page
    assert "Counts under 11 are shown as" in page
    assert "&lt;11 still followed then" in page
    assert "; 5 still followed then" not in page


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


def _recoverable(values, relations, unknown):
    """Cells among ``unknown`` that linear arithmetic of the known cells fixes (independent of protect)."""
    out = set()
    unknown = sorted(unknown)
    a = np.array([[(1.0 if i in r[:-1] else -1.0 if i == r[-1] else 0.0) for i in unknown] for r in relations])
    for j, c in enumerate(unknown):
        e = np.zeros(len(unknown))
        e[j] = 1
        # e in the row space of a: least squares on a.T y = e has zero residual
        y, *_ = np.linalg.lstsq(a.T, e, rcond=None)
        if np.allclose(a.T @ y, e, atol=1e-8):
            out.add(c)
    return out


@pytest.mark.parametrize("seed", range(30))
def test_protect_leaves_no_small_count_recoverable_by_arithmetic(seed):
    """Random tables (rows x groups with row totals, column totals, a grand total), random thresholds: no
    count under the threshold follows from the shown numbers by any sum or difference."""
    rng = np.random.default_rng(seed)
    n_rows, n_groups = rng.integers(2, 6), rng.integers(2, 4)
    cells = rng.integers(0, 40, size=(n_rows, n_groups))
    values, index = [], {}
    for i in range(n_rows):
        for j in range(n_groups):
            index[(i, j)] = len(values)
            values.append(int(cells[i, j]))
        index[(i, "all")] = len(values)
        values.append(int(cells[i].sum()))
    for j in range(n_groups):
        index[("total", j)] = len(values)
        values.append(int(cells[:, j].sum()))
    index[("total", "all")] = len(values)
    values.append(int(cells.sum()))
    relations = [[index[(i, j)] for j in range(n_groups)] + [index[(i, "all")]] for i in range(n_rows)]
    relations += [[index[(i, j)] for i in range(n_rows)] + [index[("total", j)]] for j in [*range(n_groups), "all"]]
    relations += [[index[("total", j)] for j in range(n_groups)] + [index[("total", "all")]]]
    below = int(rng.integers(5, 20))
    hidden = report.protect(values, relations, below)
    small = {i for i, v in enumerate(values) if v < below}
    assert small <= set(np.flatnonzero(hidden))
    assert not (_recoverable(values, relations, set(np.flatnonzero(hidden))) & small)


def test_tables_hide_a_complement_so_no_count_comes_back_by_subtraction():
    # the case: complications vertebroplasty 8 beside kyphoplasty 17 and a total of 25
    ep = pd.DataFrame({"procedure": ["vertebroplasty"] * 300 + ["kyphoplasty"] * 300,
                       "complication": [True] * 8 + [False] * 292 + [True] * 17 + [False] * 283})
    t = report.discharge_table(ep, suppress_below=11).set_index("characteristic")
    row = t.loc["Complication recorded, n (%)"]
    assert row["vertebroplasty"] == "<11" and "hidden" in (row["kyphoplasty"], row["all"])
    # and physicians are not patients: never suppressed in the header
    procedures, assessments, _ = simulate(120, seed=3)
    cohort = load_records(procedures, assessments)
    assert re.search(r", \d physicians", report.header_html(cohort, suppress_below=500))


def test_a_small_number_of_missing_scores_is_not_given_away_by_the_worst_case_reading(small):
    _, ep, _ = small
    claims = evaluate_claims(ep.assign(success=ep["success"].fillna(False)).pipe(
        lambda e: e.assign(success=e["success"].astype(object).where(np.arange(len(e)) >= 5, None))))
    table = claims.table
    cc = table[(table.claim_id == "success_rate") & (table.population == "all") & (table.reading == "complete case")]
    worst = table[(table.claim_id == "success_rate") & (table.population == "all") & (table.reading == "worst case")]
    assert 0 < int(worst.n.iloc[0]) - int(cc.n.iloc[0]) < 11  # a few procedures without a score
    card = report.scorecard(claims, suppress_below=11)
    row = card[(card.population == "all") & card.reading.str.startswith("worst case")].iloc[0]
    assert row["n"] == "hidden" and row["observed"] == "suppressed"
    assert "if missing scores count as failures" not in report.claim_html(claims, "success_rate", suppress_below=11)
    assert "if missing scores count as failures" in report.claim_html(claims, "success_rate")


def test_flow_hides_the_complement_of_a_small_exclusion(small):
    cohort = small[0]
    flow = report.flow_table(cohort, suppress_below=10_000).set_index("records")
    for _, row in flow.iterrows():
        shown = [row[c] for c in ("read", "excluded", "analysed")]
        assert sum(v.startswith("<") or v == "hidden" for v in shown) != 1


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
    assert t.loc["Procedures, n", "all"] == f"{len(ep):,}"
    for name in ("Levels treated: 3 or more, n (%)", "Baseline pain (0-10), median (IQR)", "ASA class: 3, n (%)",
                 "Etiology: osteoporosis, n (%)", "Fracture age at the procedure (days), median (IQR)"):
        assert name in t.index


def test_table_one_suppression_hides_small_cells_and_their_complements(small):
    _, ep, _ = small
    t = report.table_one(ep, suppress_below=50)
    body = t[~t["characteristic"].str.contains("median|Patients")]
    cells = body.drop(columns="characteristic").to_numpy()
    counts = [c for c in cells.ravel() if "(" in c and "%" in c]
    assert all(int(c.split(" ")[0].replace(",", "")) >= 50 for c in counts)
    assert "<50" in cells
    for row in cells:  # vertebroplasty + kyphoplasty = all: never exactly one unknown
        assert sum(c.startswith("<") or c == "hidden" for c in row) != 1


def test_scorecard_has_the_columns_and_suppresses(small):
    _, _, claims = small
    card = report.scorecard(claims, methods=True)
    assert list(card.columns) == ["claim", "population", "reading", "n", "observed", "95% CI", "stated", "verdict",
                                  "p", "Holm p", "method"]
    assert "method" not in report.scorecard(claims).columns
    assert len(card) == len(claims.table)
    first, row = card.iloc[0], claims.table.iloc[0]
    assert first["observed"] == f"{100 * row['estimate']:.1f}%" and first["verdict"] == row["verdict"].upper()
    hidden = report.scorecard(claims, suppress_below=10_000)
    assert set(hidden["n"]) <= {"<10000", "-"}
    shares = claims.table["measure"].isin(["proportion", "relieved by"]).to_numpy()
    assert (hidden.loc[shares, "observed"] == "suppressed").all()


def test_summary_html_one_block_per_claim_with_icon_words_and_strip(small):
    _, _, claims = small
    page = report.summary_html(claims)
    assert page.count('<div class="claim" data-claim=') == len(claims.claims)
    for verdict in claims.verdicts().values():
        assert f'title="{verdict}"' in page
    assert page.count("<svg") >= 6 and "stated 90%" in page
    hidden = report.summary_html(claims, suppress_below=10_000)
    assert "of 10000" not in hidden and re.search(r"of \d{3} procedures", hidden) is None


def test_templates_escape_text_from_the_records(small):
    cohort, ep, claims = small
    page = report.table_html(pd.DataFrame({"a": ["<script>alert(1)</script>"]}), caption="<b>x</b>")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page


def test_inconclusive_line_says_how_many_more_procedures(small):
    _, ep, _ = small
    few = evaluate_claims(ep.iloc[:120])
    page = report.summary_html(few)
    inconclusive = [c for c, v in few.verdicts().items() if v == "inconclusive"]
    assert inconclusive
    for claim_id in inconclusive:
        block = page.split(f'data-claim="{claim_id}"')[1].split('<div class="claim"')[0]
        assert re.search(r"About [\d,]+ more procedures would settle it|Far more procedures than these records hold",
                         block), claim_id


def test_durability_with_one_year_of_follow_up_is_one_clear_sentence(small):
    """Follow-up after relief ending before the first horizon: NOT ASSESSABLE, said once, with the real end."""
    _, ep, _ = small
    short = ep.copy()
    short["time_to_loss_hours"] = short["time_to_loss_hours"].clip(upper=8700)
    claims = evaluate_claims(short)
    assert claims.verdicts()["durable_relief"] == "not assessable"
    text = _text(report.claim_html(claims, "durable_relief"))
    assert "follow-up after relief ends at 11.9 months, before 1 year" in text
    assert text.count("before") == 1 and ".;" not in text and ".." not in text
    summary = _text(report.executive_html(claims))
    assert "cannot be checked: among" in summary and "ends at 1 year in these records, before 1 year" not in summary


def test_faster_claim_reads_a_hazard_ratio_as_a_rate(small):
    _, _, claims = small
    text = _text(report.claim_html(claims, "kyphoplasty_faster"))
    assert re.search(r"times (higher rate than after|the rate seen after) vertebroplasty", text)
    assert "as likely" not in text


def test_observed_expected_matches_statsmodels(small):
    """O/E against an independent fit: statsmodels' formula logit and its exact Poisson interval."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.rates import confint_poisson

    _, ep, _ = small
    covariates = ("age", "baseline_pain", "levels_treated")
    res = outcomes.monitoring.observed_expected(ep, "D2", covariates=covariates)
    data = ep.dropna(subset=["success", *covariates]).copy()
    data["y"] = data["success"].astype(float)
    fit = smf.logit("y ~ age + baseline_pain + levels_treated", data=data).fit(disp=0)
    mine = data["physician_id"] == "D2"
    expected = float(fit.predict(data[mine]).sum())
    observed = int(data.loc[mine, "y"].sum())
    assert res.observed == observed and res.expected == pytest.approx(expected, rel=1e-6)
    low, high = confint_poisson(observed, expected, method="exact-c")
    assert (res.ci.low, res.ci.high) == pytest.approx((low, high), rel=1e-6)
    with pytest.raises(InputError, match=r"^`unit_id` must name a physician_id"):
        outcomes.monitoring.observed_expected(ep, "D99")


def test_closing_sentence(small):
    _, _, claims = small
    row = claims.headline("success_rate")
    assert report.closing_sentence(claims) == (
        f"With {int(row['n'])} procedures, a success rate between {100 * row['ci_low']:.0f}% and "
        f"{100 * row['ci_high']:.0f}% is consistent with these records.")
    assert report.closing_sentence(claims, suppress_below=10_000).startswith("With <10000 procedures, the numbers")


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
    page = report.figure_html(report.claims_figure(claims), caption="Claims.", alt="Nine claims.")
    assert page.startswith('<figure class="report-figure"><img alt="Nine claims." src="data:image/png;base64,iVBOR')
    assert "Not enough data for this figure." in report.figure_html(None, caption="Durability.")


def test_notebook_helper_finds_records_from_a_subfolder(tmp_path):
    from outcomes.report.notebook import locate

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.csv").write_text("x\n")
    (tmp_path / "notebooks").mkdir()
    assert locate("data/p.csv", start=tmp_path / "notebooks") == str(tmp_path / "data" / "p.csv")
    with pytest.raises(InputError, match=r"^`q\.csv` must be a file; data/q\.csv was not found in the working "
                                         r"folder \(notebooks\) or any folder above it"):
        locate("data/q.csv", start=tmp_path / "notebooks")


# ---- errors ------------------------------------------------------------------------------------------

def test_render_report_validates_its_arguments(tmp_path, procedures_frame, assessments_frame, write_csv):
    out = tmp_path / "r.html"
    with pytest.raises(InputError, match=r"^`output` must be a file name ending in \.html or \.pdf; got 'r\.txt'\.$"):
        report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=tmp_path / "r.txt")
    with pytest.raises(InputError, match=r"^`tables` must be a file name ending in \.xlsx; got 't\.csv'\.$"):
        report.render_report(DEMO_PROCEDURES, DEMO_ASSESSMENTS, output=out, tables=tmp_path / "t.csv")
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


# ---- command line ------------------------------------------------------------------------------------

def test_cli_report_passes_every_argument(monkeypatch, capsys, tmp_path):
    seen = {}

    def fake(procedures, assessments=None, **kwargs):
        seen.update(procedures=procedures, assessments=assessments, **kwargs)
        return Path(kwargs["output"])

    monkeypatch.setattr(report, "render_report", fake)
    status = main(["report", "p.csv", "--assessments", "a.csv", "--mapping", "m.toml", "--definitions", "d.toml",
                   "--physician", "D4", "--clinic-name", "Northside", "--suppress-below", "11", "--allow-identifiers",
                   "--output", "out.pdf", "--tables", "t.xlsx"])
    assert status == 0 and capsys.readouterr().out == "wrote out.pdf and t.xlsx\n"
    assert seen == {"procedures": "p.csv", "assessments": "a.csv", "fhir": None, "omop": None, "schema": None,
                    "output": "out.pdf", "tables": "t.xlsx", "mapping": "m.toml", "definitions": "d.toml",
                    "physician_id": "D4", "clinic_name": "Northside", "suppress_below": 11,
                    "allow_identifiers": True, "progress": True}


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


def _luminance(hex_colour: str) -> float:
    # WCAG 2.1 relative luminance, https://www.w3.org/TR/WCAG21/#dfn-relative-luminance
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_have_a_contrast_of_at_least_4_5():
    """Every text colour of the stylesheet against its rule's background (white when none), and every text
    fill of the inline strips against white (WCAG 2.1 AA, 4.5:1)."""
    root = resources.files("outcomes") / "report" / "templates"
    css = (root / "report.css").read_text(encoding="utf-8")
    checked = 0
    for rule in re.findall(r"\{([^{}]*)\}", css):
        colour = re.search(r"(?<![-\w])color:\s*(#[0-9A-Fa-f]{6})", rule)
        if not colour:
            continue
        background = re.search(r"background:\s*(#[0-9A-Fa-f]{6})", rule)
        assert _contrast(colour.group(1), background.group(1) if background else "#FFFFFF") >= 4.5, rule
        checked += 1
    assert checked >= 15
    macros = (root / "macros.html.j2").read_text(encoding="utf-8")
    from outcomes.report.sections import VERDICT_COLOURS
    fills = re.findall(r'<text[^>]*fill="(#[0-9A-Fa-f]{3,6})"', macros) + ["#595959", "#222222"]
    for fill in fills:
        fill = fill if len(fill) == 7 else "#" + "".join(c * 2 for c in fill[1:])
        assert _contrast(fill, "#FFFFFF") >= 4.5, fill
    for colour in VERDICT_COLOURS.values():  # verdict-coloured bars and markers: 3:1 for graphics (WCAG 1.4.11)
        assert _contrast(colour, "#FFFFFF") >= 3, colour
