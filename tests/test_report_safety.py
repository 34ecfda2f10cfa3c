"""The report's safety and function section (outcomes.report.safety).

The section reads the contract's names: ``cohort.events`` / ``has_events`` /
``function_scores``, the endpoint columns ``major_complication_30d`` ... ``function_regained``
and the claims ``major_complications``, ``new_fractures``, ``function_regained``. Until the
loader and the endpoints derive them, ``tests/safety_support.py`` builds them from
:func:`outcomes.synthetic.simulate_safety` exactly as the contract defines them. Reference values
are computed independently here (scipy's exact binomial intervals, pandas medians, counts from
the raw events).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import outcomes
import outcomes.plots
import outcomes.synthetic
from outcomes.competing import cumulative_incidence
from outcomes.report import safety
from outcomes.report.render import build_report
from safety_support import attach, safety_columns, simulated

pytestmark = pytest.mark.filterwarnings("ignore::outcomes.StatisticalWarning")


@pytest.fixture(scope="module")
def clinic():
    """800 simulated procedures with events and ODI/RMDQ scores (the demo's seed)."""
    return simulated(800, seed=2026)


def _exact(k: int, n: int) -> tuple[float, float]:
    # scipy's Clopper-Pearson interval, independent of outcomes.proportions
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return ci.low, ci.high


def _cell(k: int, n: int) -> str:
    if k == 0:
        return f"0 / {n:,}: 0.0% (at most {100 * (1 - 0.05 ** (1 / n)):.1f}%)"
    low, high = _exact(k, n)
    return f"{k:,} / {n:,}: {100 * k / n:.1f}% ({100 * low:.1f}-{100 * high:.1f}%)"


# ---- the complication table ------------------------------------------------------------------------

def test_complication_table_counts_and_exact_intervals(clinic):
    cohort, ep, _ = clinic
    table = safety.complication_table(cohort, ep).set_index("complication")
    assert list(table.columns) == ["vertebroplasty", "kyphoplasty", "all"]
    major = ep["major_complication_30d"].astype(bool)
    for name, mask in (("vertebroplasty", ep["procedure"] == "vertebroplasty"),
                       ("kyphoplasty", ep["procedure"] == "kyphoplasty"), ("all", ep["procedure"].notna())):
        assert table.loc["Any major complication", name] == _cell(int(major[mask].sum()), int(mask.sum()))
    # each type row: procedures with at least one such event in [0, 30] days, counted from the raw events
    events = cohort.events
    inside = events[events["days_after"].between(0, 30)]
    leaks = inside[(inside["event"] == "symptomatic_cement_leak") & (inside["severity"] == "minor")]
    k = leaks["procedure_id"].nunique()
    labels = list(table.index)  # a cement leak is listed under major and under minor: read by position
    position = labels.index("Any minor complication") + 1
    assert labels[position].strip() == "symptomatic cement leak"
    assert table.iloc[position, table.columns.get_loc("all")] == _cell(k, len(ep))
    # a type nobody had in a group: the exact one-sided limit 1 - 0.05^(1/n) (rule of three ~ 3/n)
    values = table.to_numpy()
    zeros = [v for v in values.ravel() if v.startswith("0 / ")]
    assert zeros, "the demo-sized clinic has a type with no event in some group"
    n = int(zeros[0].split(" / ")[1].split(":")[0].replace(",", ""))
    assert zeros[0] == _cell(0, n)
    assert 1 - 0.05 ** (1 / n) == pytest.approx(outcomes.stats.rule_of_three(n).ci.high)
    death = ep["death_30d"].dropna().astype(bool)
    assert table.loc["Death within 30 days", "all"] == _cell(int(death.sum()), len(death))


def test_complication_table_against_the_stated_threshold(clinic):
    cohort, ep, _ = clinic
    k, n = int(ep["major_complication_30d"].sum()), len(ep)
    low, high = _exact(k, n)
    above, below_ = high + 0.005, low - 0.005
    t = safety.complication_table(cohort, ep, threshold=above).set_index("complication")
    assert t.loc["Any major complication", "against the threshold"].startswith("under the stated")
    t = safety.complication_table(cohort, ep, threshold=below_).set_index("complication")
    assert t.loc["Any major complication", "against the threshold"].startswith("over the stated")
    t = safety.complication_table(cohort, ep, threshold=k / n).set_index("complication")
    assert t.loc["Any major complication", "against the threshold"].startswith("the interval includes")


def test_complication_table_suppresses_small_counts(clinic):
    cohort, ep, _ = clinic
    table = safety.complication_table(cohort, ep, suppress_below=11)
    text = " ".join(table.drop(columns="complication").to_numpy().ravel())
    # no count under 11 is printed: every "k / n" pair has k >= 11 or is hidden
    for k in re.findall(r"(?:^| )(\d+) / ", text):
        assert int(k) >= 11
    assert "<11 / 418" in text
    # within a row, a hidden procedure count is never recoverable as all minus the other
    for _, row in table.iterrows():
        cells = [row[c] for c in ("vertebroplasty", "kyphoplasty", "all")]
        hidden = [c.startswith("<") or c.startswith("hidden") for c in cells]
        assert sum(hidden) != 1


def test_complications_of_unknown_severity_have_their_own_row_and_sentence():
    """A complication without a severity is neither major nor minor (the contract: the major and
    minor endpoints are then unknown): the table lists it in its own group and a sentence says why
    it is in neither rate."""
    procedures, assessments, events, _ = outcomes.synthetic.simulate_safety(300, seed=5)
    inside = events.index[(events["days_after"] <= 30) & (events["event"] != "death")
                          & (events["event"] != "new_fracture")]
    events = events.copy()
    events.loc[inside[:6], "severity"] = pd.NA  # six complications lose their severity
    cohort = outcomes.load_records(procedures, assessments, events=events)
    ep = outcomes.derive_endpoints(cohort)
    table = safety.complication_table(cohort, ep).set_index("complication")
    unknown = events.loc[inside[:6]]
    k = unknown["procedure_id"].nunique()  # counted from the raw events, not from the package
    assert table.loc[safety.UNKNOWN_SEVERITY, "all"] == _cell(k, len(ep))
    labels = list(table.index)
    after = labels[labels.index(safety.UNKNOWN_SEVERITY) + 1:]
    codes = sorted(unknown["event"].unique())
    assert sorted(x.strip() for x in after if x != "Death within 30 days") == sorted(
        safety.EVENT_WORDS[c] for c in codes)
    # the major rate's denominator leaves out the procedures whose major status is unknown
    major_n = int(ep["major_complication_30d"].notna().sum())
    assert major_n < len(ep)
    assert table.loc["Any major complication", "all"].split(":")[0].endswith(f"/ {major_n:,}")
    note = safety.unknown_severity_note(cohort, ep)
    assert note.startswith(f"{k} procedures had a complication within 30 days whose severity (major or minor) was "
                           "not recorded. Such a complication is counted as neither major nor minor, because the "
                           "records do not say which it was")
    assert f"{len(ep) - major_n} from the major-complication rate" in note
    html = build_report(cohort)
    assert "Any complication of unknown severity" in html and "counted as neither major nor minor" in html
    # without such events there is no row and no sentence
    clean = outcomes.load_records(procedures, assessments, events=events.drop(index=inside[:6]))
    clean_ep = outcomes.derive_endpoints(clean)
    assert safety.UNKNOWN_SEVERITY not in set(safety.complication_table(clean, clean_ep)["complication"])
    assert safety.unknown_severity_note(clean, clean_ep) == ""


def test_the_report_says_the_clinic_sets_the_threshold(clinic):
    """The societies' thresholds were not verified (claims.toml), so the report says, beside the
    claim and the complication sentence, that the stated figure is the clinic's to set."""
    import html as html_lib

    cohort, ep, _ = clinic
    claims = outcomes.evaluate_claims(ep)
    context = safety.safety_context(cohort, ep, claims)
    blocks = {c["id"]: c for c in context["claims"]}
    registry = {c.id: c for c in outcomes.load_claims()}
    for claim_id in ("major_complications", "new_fractures"):
        claim = registry[claim_id]
        expected = f"The stated {100 * claim.stated:.0f}% is {claim.stated_note.rstrip('.')}."
        assert blocks[claim_id]["stated_note"] == expected
        assert "the clinic replaces with its own figure" in expected
    # said once on the clinic page (the claim's block), and in the physician's complications
    assert blocks["major_complications"]["stated_note"] not in context["complications"]["text"]
    physician = safety.physician_safety_context(cohort, ep, "D1", claims)
    assert physician["text"].endswith(blocks["major_complications"]["stated_note"])
    page = build_report(cohort)
    assert blocks["major_complications"]["stated_note"] in html_lib.unescape(page)
    # a claim without a stated_note says nothing more
    assert outcomes.report.sections.stated_note(registry["success_rate"]) == ""


# ---- new fractures --------------------------------------------------------------------------------

def test_fracture_numbers_in_text_and_figure_are_the_same(clinic):
    cohort, ep, truth = clinic
    results = safety.fracture_incidence(ep)
    assert list(results) == ["vertebroplasty", "kyphoplasty", "all"]
    # the Aalen-Johansen fit of the contract columns, computed here directly
    direct = cumulative_incidence(ep["new_fracture_days"].to_numpy(float), ep["new_fracture_status"].to_numpy(int))
    at = direct.at(365).iloc[0]
    assert results["all"].at(365).iloc[0]["cumulative_incidence"] == pytest.approx(at["cumulative_incidence"])
    # the truth lies within the interval (simulate_safety's closed form, 1 year, death competing)
    assert at["ci_low"] < truth["new_fracture_1y"] < at["ci_high"]
    context = safety.safety_context(cohort, ep)
    text = context["fracture"]["text"]
    assert f"{outcomes.plots.rate_label(at['cumulative_incidence'])} of procedures" in text
    assert f"{outcomes.plots.rate_label(at['competing_incidence'])} by death before any new fracture" in text
    fig = outcomes.plots.new_fracture_curves({k: v for k, v in results.items() if k != "all"}, horizon_days=365)
    written = [t.get_text() for t in fig.axes[0].texts if t.get_gid() and t.get_gid().startswith("value:")]
    assert len(written) == 2
    for label in written:  # "10.3% at 1 year": the same figure is in the sentence
        assert label.split(" at ")[0] in text
    risk = [t.get_text() for t in fig.axes[1].texts]
    assert str(int(results["vertebroplasty"].table["at_risk"].iloc[0])) in risk


def test_fracture_curve_needs_follow_up_to_the_horizon():
    ep = pd.DataFrame({"procedure_id": ["A", "B", "C"], "procedure": ["vertebroplasty"] * 3,
                       "new_fracture_days": [20.0, 100.0, 200.0], "new_fracture_status": [1, 2, 0]})
    text = safety._fracture_sentence(safety.fracture_incidence(ep), 365.0, 0)
    assert text.startswith("Follow-up in these records ends before 1 year (the longest is 200 days)")


# ---- function over time ----------------------------------------------------------------------------

def test_function_table_medians_by_visit(clinic):
    cohort, ep, _ = clinic
    data = safety.function_table_data(cohort.function_scores, ep)
    f = cohort.function_scores
    odi = f[f["instrument"] == "odi"]
    base = odi[odi["hours_after"].between(-720, 0)].sort_values("hours_after").groupby("procedure_id").tail(1)
    row = data[(data["instrument"] == "odi") & (data["visit"] == "before") & (data["group"] == "all")].iloc[0]
    assert row["n"] == len(base) and row["median"] == base["score"].median()
    two = odi[(odi["hours_after"] > 0) & (odi["hours_after"] <= 672)].copy()
    two["d"] = (two["hours_after"] - 336).abs()
    two = two.sort_values(["procedure_id", "d", "hours_after"]).groupby("procedure_id").head(1)
    row = data[(data["instrument"] == "odi") & (data["visit"] == "2 weeks") & (data["group"] == "all")].iloc[0]
    assert row["n"] == len(two)
    assert (row["q1"], row["median"], row["q3"]) == tuple(np.quantile(two["score"], [0.25, 0.5, 0.75]))
    table = safety.function_table(data).set_index(["score", "visit"])
    q1, med, q3 = np.quantile(two["score"], [0.25, 0.5, 0.75])
    assert table.loc[("ODI", "2 weeks"), "all"] == f"{med:.0f} ({q1:.0f}-{q3:.0f}), n {len(two):,}"
    # the sentence quotes the same medians
    text = safety.safety_context(cohort, ep)["function"]["text"]
    assert f"{med:.0f} at 2 weeks" in text
    regained = ep["function_regained"].dropna().astype(bool)
    assert f"{int(regained.sum())} of {len(regained)} procedures" in text


# ---- the section: shown, or one line on what would enable it ------------------------------------------

def test_section_is_one_line_without_events_or_function_scores():
    procedures, assessments, _ = outcomes.synthetic.simulate(120, seed=3)
    cohort = outcomes.load_records(procedures, assessments)
    ep = outcomes.derive_endpoints(cohort)
    context = safety.safety_context(cohort, ep)
    assert not context["shown"]
    assert context["missing"].startswith("Safety and function cannot be shown: these records have no events table")
    html = outcomes.report.render.environment().get_template("safety.html.j2").module.clinic(context)
    assert html.count("<p") == 1 and "<img" not in html and "<table" not in html


def test_section_with_events_only_says_what_function_needs():
    cohort, ep, _ = simulated(300, seed=4, function=False)
    context = safety.safety_context(cohort, ep)
    assert context["shown"] and context["function"] is None and context["complications"] is not None
    assert context["missing"].startswith("Function over time is not shown: these records have no ODI or RMDQ")
    cohort, ep, _ = simulated(300, seed=4, events=False)
    context = safety.safety_context(cohort, ep)
    assert context["shown"] and context["complications"] is None and context["function"] is not None
    assert context["missing"].startswith("Complications and new fractures are not shown")


def test_section_reads_the_safety_claims_and_their_threshold(clinic, tmp_path):
    cohort, ep, _ = clinic
    registry = tmp_path / "claims.toml"
    registry.write_text(
        '[[claim]]\nid = "major_complications"\nstatement = "Serious complications are rare"\nkind = "proportion"\n'
        'endpoint = "major_complication_30d"\npopulation = "all"\nstated = 0.05\nmargin = 0.02\nsense = "about"\n\n'
        '[[claim]]\nid = "function_regained"\nstatement = "Patients regain daily activities shortly after"\n'
        'kind = "proportion"\nendpoint = "function_regained"\npopulation = "all"\nstated = 0.5\n'
        'sense = "at_least"\n', encoding="utf-8")
    claims = outcomes.evaluate_claims(ep, claims=registry)
    context = safety.safety_context(cohort, ep, claims)
    # the file updates the shipped registry: new_fractures stays, the other two are replaced
    assert [c["id"] for c in context["claims"]] == ["major_complications", "new_fractures", "function_regained"]
    table = context["complications"]["table"]
    assert table["columns"][-1] == "against the threshold"
    assert "the clinic's stated threshold is 5.0%" in context["complications"]["text"].lower()


def test_package_endpoints_follow_the_contract(clinic):
    cohort, ep, _ = clinic
    procedures, *_ = outcomes.synthetic.simulate_safety(800, seed=2026)
    expected = safety_columns(procedures, cohort.events, cohort.function_scores).loc[ep["procedure_id"]]
    for column in ("major_complication_30d", "minor_complication_30d", "death_30d", "function_regained"):
        pd.testing.assert_series_equal(ep[column].astype("boolean").reset_index(drop=True),
                                       expected[column].astype("boolean").reset_index(drop=True),
                                       check_names=False, obj=column)
    for column in ("new_fracture_days", "function_change"):
        np.testing.assert_allclose(ep[column].to_numpy(float), expected[column].to_numpy(float), err_msg=column)


def test_clinic_report_renders_the_section(clinic):
    cohort, ep, _ = clinic
    page = build_report(cohort)
    section = page[page.index('<h2 id="safety-function">'):page.index('<h2 id="durability">')]
    assert section.count("<img") == 4  # new fractures, function, funnel, CUSUM by physician
    k = int(ep["major_complication_30d"].sum())
    assert f"{k} of 800 procedures" in section
    assert "New vertebral fracture: days to the first new fracture" in page  # the appendix
    review = build_report(cohort, physician_id="D2")
    mine = ep[ep["physician_id"] == "D2"]["major_complication_30d"].astype(bool)
    assert f"Physician D2, {int(mine.sum())} of {len(mine)} procedures" in review
    assert "On the complications funnel plot Physician D2 lies" in review


def test_physician_context_suppresses_small_counts(clinic):
    cohort, ep, _ = clinic
    context = safety.physician_safety_context(cohort, ep, "D2", suppress_below=11)
    assert "fewer than 11 of 127 procedures" in context["text"]
    assert context["monitoring"][0]["note"].startswith("Complications by physician are not drawn")
    cells = " ".join(" ".join(r) for r in context["table"]["rows"])
    assert not re.search(r"(?:^| )([0-9]|10) / ", cells)


def test_cohort_without_the_attributes_reads_as_empty():
    procedures, assessments, _ = outcomes.synthetic.simulate(50, seed=1)
    cohort = outcomes.load_records(procedures, assessments)
    assert list(safety.cohort_events(cohort).columns) == ["procedure_id", "event", "days_after", "severity",
                                                          "level", "adjacent"]
    assert safety.cohort_function_scores(cohort).empty
    assert not safety.has_events(cohort) and not safety.has_function_scores(cohort)
    with_events = attach(cohort, pd.DataFrame({"procedure_id": [], "event": [], "days_after": [], "severity": [],
                                               "level": [], "adjacent": []}), None)
    assert safety.has_events(with_events)  # an events table with no rows: known to have none


def test_safety_templates_escape_text(clinic):
    context = {"shown": False, "missing": "<script>alert(1)</script>"}
    html = outcomes.report.render.environment().get_template("safety.html.j2").module.clinic(context)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_demo_files_hold_events_and_function_scores():
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    events = pd.read_csv(demo / "events.csv")
    assert list(events.columns) == ["procedure_id", "event", "days_after", "severity", "level", "adjacent"]
    procedures = pd.read_csv(demo / "procedures.csv")
    assert "last_contact_days" in procedures and set(events["procedure_id"]) <= set(procedures["procedure_id"])
    assessments = pd.read_csv(demo / "assessments.csv")
    assert {"odi", "rmdq"} <= set(assessments["instrument"])


def test_a_physician_with_too_many_complications_is_named_first():
    # D2's major-complication odds x e^2.5 (simulate_safety): above the funnel's 99.8% limit,
    # named in the executive summary's "what to look at next" and on the funnel
    cohort, ep, _ = simulated(1500, seed=5, major_worse_physician_log_or=2.5)
    context = safety.safety_context(cohort, ep)
    assert len(context["next"]) == 1 and context["next"][0].startswith("Physician D2: major complications ")
    assert context["monitoring"][0]["text"].startswith("Above the outer (99.8%) limit around the clinic rate")
    assert "D2 (" in context["monitoring"][0]["text"]


@pytest.mark.parametrize("call, message", [
    (lambda: outcomes.plots.new_fracture_curves({}), "`curves` must be a non-empty mapping"),
    (lambda: outcomes.plots.new_fracture_curves({"all": 1}), "`curves` must hold CumulativeIncidenceResult values"),
    (lambda: outcomes.plots.function_over_time(pd.DataFrame({"x": [1]})), "`table` must be a DataFrame with columns"),
    (lambda: safety.complication_table(None, pd.DataFrame({"procedure": ["kyphoplasty"]}), suppress_below=-1),
     "`suppress_below` must be a whole number of 0 or more"),
])
def test_input_validation(call, message):
    with pytest.raises(outcomes.InputError, match=message):
        call()


def test_render_report_passes_the_events_table_to_the_loader(monkeypatch, tmp_path):
    # render_report(events=...) hands the file to load_cohort (which reads and validates it); without
    # it, load_cohort is called exactly as before (no events keyword at all)
    import outcomes.sources

    seen = {}

    def fake_load_cohort(procedures, assessments, **options):
        seen.update(options)
        raise outcomes.InputError("stop here")

    monkeypatch.setattr(outcomes.sources, "load_cohort", fake_load_cohort)
    (tmp_path / "events.csv").write_text("procedure_id,event,days_after\n", encoding="utf-8")
    with pytest.raises(outcomes.InputError, match="stop here"):
        outcomes.report.render_report(tmp_path / "p.csv", output=tmp_path / "r.html", events=tmp_path / "events.csv")
    assert seen["events"] == str((tmp_path / "events.csv").resolve())
    seen.clear()
    with pytest.raises(outcomes.InputError, match="stop here"):
        outcomes.report.render_report(tmp_path / "p.csv", output=tmp_path / "r.html")
    assert "events" not in seen


def test_physician_funnel_position_in_words():
    # B: 24 of 200 against a clinic rate of 35/600 -- P(Y >= 24 | 200, 0.0583) < 0.001 (scipy) -- and a
    # stated 2%: above the outer limit around both; A: 6 of 200, within the limits around the clinic
    def unit(name, k, n):
        return pd.DataFrame({"physician_id": name, "major_complication_30d": [True] * k + [False] * (n - k)})

    ep = pd.concat([unit("A", 6, 200), unit("B", 24, 200), unit("C", 5, 200)], ignore_index=True)
    assert stats.binom.sf(23, 200, 35 / 600) < 0.001
    assert 0.025 < stats.binom.cdf(6, 200, 35 / 600) and stats.binom.sf(5, 200, 35 / 600) > 0.025
    b = safety._funnel_position(ep, "B", 0.02, 0)
    assert b.startswith("On the complications funnel plot Physician B lies above the outer (99.8%) limit")
    assert "above the outer (99.8%) limit around the stated threshold of 2.0%" in b
    a = safety._funnel_position(ep, "A", 0.02, 0)
    assert "within the limits around the clinic rate" in a and "stated threshold" not in a


def test_workbook_holds_the_safety_numbers(clinic, tmp_path):
    cohort, ep, _ = clinic
    claims = outcomes.evaluate_claims(ep)
    path = outcomes.report.write_tables(tmp_path / "t.xlsx", claims=claims, endpoints=ep, cohort=cohort,
                                        suppress_below=11)
    book = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    assert list(book)[6:] == ["complications", "new fracture curve", "function by visit"]
    curve = book["new fracture curve"]
    allr = curve[curve["group"] == "all"]
    direct = cumulative_incidence(ep["new_fracture_days"].to_numpy(float), ep["new_fracture_status"].to_numpy(int))
    np.testing.assert_allclose(allr["cumulative_incidence"].to_numpy(float),
                               direct.table["cumulative_incidence"].to_numpy(float))
    assert "<11" in set(allr["events"].astype(str))  # single-day counts are small: shown as "<11"
    visits = book["function by visit"]
    assert set(visits["instrument"]) == {"odi", "rmdq"}
    no_events = simulated(200, seed=8, events=False, function=False)
    path = outcomes.report.write_tables(tmp_path / "u.xlsx", claims=outcomes.evaluate_claims(no_events[1]),
                                        endpoints=no_events[1], cohort=no_events[0])
    assert len(pd.read_excel(path, sheet_name=None, engine="openpyxl")) == 6
