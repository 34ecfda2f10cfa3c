"""Figures: each function returns a Figure with labelled axes, the stated line drawn one way, the
procedures in their fixed colours, counts that agree with the results (and obey suppression)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from statsmodels.stats.proportion import proportion_confint

from outcomes import InputError, derive_endpoints, evaluate_claims, load_records
from outcomes import plots
from outcomes.stats import kaplan_meier, turnbull
from outcomes.synthetic import simulate


@pytest.fixture(scope="module")
def cohort():
    procedures, assessments, _ = simulate(500, seed=11)
    return load_records(procedures, assessments)


@pytest.fixture(scope="module")
def endpoints(cohort):
    return derive_endpoints(cohort)


@pytest.fixture(scope="module")
def claims(endpoints):
    return evaluate_claims(endpoints)


def _relief_curves(endpoints):
    curves, tbs = {}, {}
    for name in ("kyphoplasty", "vertebroplasty"):  # deliberately not in the drawing order
        sub = endpoints[(endpoints["procedure"] == name) & endpoints["time_to_relief_hours"].notna()]
        curves[name] = kaplan_meier(sub["time_to_relief_hours"], sub["relief_observed"].astype(bool))
        tbs[name] = turnbull(sub["relief_interval_low_hours"], sub["relief_interval_high_hours"])
    return curves, tbs


def _stated_lines(fig):
    return [line for ax in fig.axes for line in ax.lines if line.get_gid() == "stated"]


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_every_figure_is_a_figure_with_labelled_axes(cohort, endpoints, claims):
    curves, tbs = _relief_curves(endpoints)
    figures = {
        "flow": plots.records_flow(cohort.flow(), cohort.exclusion_counts()),
        "claims": plots.claims_chart(claims),
        "relief": plots.relief_curves(curves, turnbull=tbs, stated=0.9),
        "fracture": plots.success_by_fracture_age(endpoints, stated=0.9),
        "odds": plots.odds_ratio_forest(claims.details["overnight_reasons"]["odds_ratios"]),
        "durability": plots.durability_curve(claims.details["durable_relief"]["kaplan_meier"], stated=0.8),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        assert fig.axes[0].get_title(loc="left"), name  # titles sit on the left (the report's style)
        if name == "flow":  # a diagram: no data axes, the counts are its text
            assert not fig.axes[0].axison
            continue
        drawn = [ax for ax in fig.axes if ax.axison and ax.get_xlabel()]
        assert drawn, name
        for ax in drawn:
            assert ax.get_xlabel(), (name, ax)
    # units on the axes
    assert figures["relief"].axes[0].get_xlabel() == "Hours after the procedure"
    assert figures["durability"].axes[0].get_xlabel() == "Years since relief"
    assert "(weeks)" in figures["fracture"].axes[0].get_xlabel()
    assert "%" in figures["fracture"].axes[0].get_ylabel()
    assert "log scale" in figures["odds"].axes[0].get_xlabel()


def test_stated_figure_is_always_a_dashed_black_line_labelled_stated(endpoints, claims):
    curves, tbs = _relief_curves(endpoints)
    for fig, value in ((plots.relief_curves(curves, turnbull=tbs, stated=0.9), "90%"),
                       (plots.success_by_fracture_age(endpoints, stated=0.9), "90%"),
                       (plots.durability_curve(claims.details["durable_relief"]["kaplan_meier"], stated=0.8), "80%"),
                       (plots.claims_chart(claims), "90%")):
        lines = _stated_lines(fig)
        assert lines
        for line in lines:
            assert line.get_linestyle() == "--"
            assert to_hex(line.get_color()) == "#000000"
            assert line.get_label().startswith("stated ")
        assert f"stated {value}" in {line.get_label() for line in lines}


def test_procedures_keep_their_colours_and_order(endpoints):
    curves, tbs = _relief_curves(endpoints)
    fig = plots.relief_curves(curves, turnbull=tbs)
    for ax in fig.axes[:2]:
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend[0].startswith("vertebroplasty") and legend[1].startswith("kyphoplasty")
        steps = {line.get_label().split(" ")[0]: to_hex(line.get_color()) for line in ax.lines
                 if line.get_label().split(" ")[0] in plots.PROCEDURE_COLOURS}
        assert steps == {k: v.lower() for k, v in plots.PROCEDURE_COLOURS.items()}
    # Okabe-Ito blue, and Okabe-Ito orange darkened to reach 4.5:1 on white
    assert plots.PROCEDURE_COLOURS == {"vertebroplasty": "#0072B2", "kyphoplasty": "#A66300"}


def test_relief_curve_rises_and_matches_the_kaplan_meier_result(endpoints):
    curves, _ = _relief_curves(endpoints)
    fig = plots.relief_curves(curves)
    ax = fig.axes[0]
    line = next(line for line in ax.lines if line.get_label().startswith("vertebroplasty"))
    x, y = line.get_xdata(), line.get_ydata()
    assert np.all(np.diff(y) >= -1e-12)  # cumulative relief never falls
    km = curves["vertebroplasty"]
    at = np.array([10.0, 30.0, 60.0, 150.0])
    drawn = y[np.searchsorted(x, at, side="right") - 1]
    np.testing.assert_allclose(drawn, 1 - km.survival_at(at))
    # the 48-hour line
    assert any(np.allclose(line.get_xdata(), 48.0) for line in ax.lines if len(set(line.get_xdata())) == 1)


def _value_at_horizon(fig, label):
    """The drawn curve ``label`` read at the figure's horizon line (a right-continuous step)."""
    ax = fig.axes[0]
    horizon = next(line for line in ax.lines if line.get_gid() == "horizon").get_xdata()[0]
    curve = next(line for line in ax.lines if line.get_gid() == f"relief:{label}")
    x, y = np.asarray(curve.get_xdata(), float), np.asarray(curve.get_ydata(), float)
    return horizon, y[np.searchsorted(x, horizon, side="right") - 1]


def test_relief_curve_at_the_horizon_line_is_the_claims_estimate(cohort, endpoints, claims):
    # Issue 16: the curve read 75% / 87% at its 48-hour line while the claims said 85% / 91%
    # (they read the curve at 48 h + the 6-hour grace for a late 48-hour visit).
    from outcomes import report
    table = claims.table[(claims.table["measure"] == "relieved by") & (claims.table["role"] == "primary")]
    assert len(table) == 2
    fig = report.relief_figure(endpoints, claims=claims)
    for row in table.itertuples():
        horizon, value = _value_at_horizon(fig, row.population)
        assert horizon == claims.definitions.relief_horizon_hours == 48.0
        assert abs(value - row.estimate) <= 1e-12, (row.population, value, row.estimate)
        # and the claim's own Kaplan-Meier result, drawn by plots directly, the same
        km = claims.details[row.claim_id]["kaplan_meier"]
        direct = plots.relief_curves({row.population: km}, grace_hours=claims.definitions.relief_horizon_grace_hours)
        assert abs(_value_at_horizon(direct, row.population)[1] - row.estimate) <= 1e-12
        # without the grace the curve at 48 h is lower: the test reads what the issue saw
        plain = plots.relief_curves({row.population: km}, grace_hours=0)
        assert _value_at_horizon(plain, row.population)[1] < row.estimate - 0.01
    # the physician review: the physician's curve and the clinic's, each the claim's reading
    doctor = endpoints["physician_id"].dropna().iloc[0]
    own = report.physician_endpoints(endpoints, doctor)
    fig = report.relief_figure(own, claims=claims, reference=endpoints, label=doctor)
    for label, frame in ((doctor, own), ("whole clinic", endpoints)):
        sub = frame[frame["horizon_time_hours"].notna()]
        km = kaplan_meier(sub["horizon_time_hours"], sub["horizon_event"].astype(bool))
        expected = float(km.cumulative_incidence_at(claims.definitions.relief_horizon_evaluated_hours)
                         ["cumulative_incidence"].iloc[0])
        assert abs(_value_at_horizon(fig, label)[1] - expected) <= 1e-12, label


def test_relief_curve_points_move_only_the_late_visit_steps():
    # events at 24 (on time), 50 and 53 (48-hour visit, late), 60 (after the window)
    km = kaplan_meier([24, 50, 53, 60, 100, 100], [1, 1, 1, 1, 0, 0])
    points = plots.relief_curve_points(km, horizon_hours=48, grace_hours=6, max_hours=168)
    assert points["hours"].tolist() == [0.0, 24.0, 48.0, 60.0, 100.0, 168.0]
    np.testing.assert_allclose(points["relieved"], [0, 1 / 6, 3 / 6, 4 / 6, 4 / 6, 4 / 6])
    unchanged = plots.relief_curve_points(km, grace_hours=0)
    assert unchanged["hours"].tolist() == [0.0, 24.0, 50.0, 53.0, 60.0, 100.0, 168.0]
    with pytest.raises(InputError, match=r"^`grace_hours` must be a number of hours >= 0; got -1\."):
        plots.relief_curve_points(km, grace_hours=-1)


def test_numbers_at_risk_come_from_the_result_and_agree_with_a_direct_count(endpoints):
    curves, _ = _relief_curves(endpoints)
    fig = plots.relief_curves(curves, at_risk_times=[0, 24, 48, 72])
    risk_texts = [t.get_text() for t in fig.axes[1].texts]
    sub = endpoints[(endpoints["procedure"] == "vertebroplasty") & endpoints["time_to_relief_hours"].notna()]
    times = sub["time_to_relief_hours"].to_numpy()
    # independent count: patients with a time >= t (not yet relieved and still followed just before t)
    direct = [int((times >= t).sum()) for t in (0, 24, 48, 72)]
    assert direct == curves["vertebroplasty"].at([0, 24, 48, 72])["at_risk"].tolist()
    for n in direct:
        assert f"{n:,}" in risk_texts


def test_numbers_at_risk_are_suppressed(endpoints, claims):
    curves, _ = _relief_curves(endpoints)
    texts = [t.get_text() for t in plots.relief_curves(curves, suppress_below=10_000).axes[1].texts]
    counts = [t for t in texts if t and (t[0].isdigit() or t.startswith("<"))]
    assert counts and all(t == "<10000" for t in counts)
    fig = plots.durability_curve(claims.details["durable_relief"]["kaplan_meier"], suppress_below=10_000)
    assert "<10000" in _texts(fig)


def test_turnbull_panel_sits_beside_and_reads_the_turnbull_result(endpoints):
    curves, tbs = _relief_curves(endpoints)
    fig = plots.relief_curves(curves, turnbull=tbs)
    ax = next(a for a in fig.axes if "between two visits" in a.get_title(loc="left"))
    line = next(line for line in ax.lines if line.get_label().startswith("kyphoplasty"))
    x, y = line.get_xdata(), line.get_ydata()
    expected = tbs["kyphoplasty"].cumulative_incidence_at(x)["cumulative_incidence"].to_numpy()
    np.testing.assert_allclose(y, expected)


def test_flow_shows_read_excluded_by_reason_and_analysed(cohort):
    flow = pd.DataFrame({"table": ["procedures", "assessments"], "read": [100, 812],
                         "excluded": [0, 7], "analysed": [100, 805]})
    reasons = pd.DataFrame({"table": ["assessments", "assessments"],
                            "reason": ["pain outside 0-10", "time missing"], "rows": [5, 2]})
    text = "\n".join(_texts(plots.records_flow(flow, reasons)))
    for part in ("read 100", "analysed 100", "read 812", "analysed 805", "excluded 7", "pain outside 0-10", "time missing"):
        assert part in text
    hidden = "\n".join(_texts(plots.records_flow(flow, reasons, suppress_below=11)))
    assert "excluded <11" in hidden and "<11  pain outside 0-10" in hidden and "read 100" in hidden


def test_claims_chart_writes_each_verdict_and_shapes_it(claims):
    fig = plots.claims_chart(claims)
    words = set(_texts(fig))
    drawn = claims.table[(claims.table["role"] == "primary")]
    for verdict in drawn["verdict"].unique():
        if verdict == "not assessable":  # listed under the chart, not drawn
            assert fig.get_supxlabel().startswith("Not assessable in these records")
        else:
            assert verdict.upper() in words
    markers = {line.get_marker() for ax in fig.axes for line in ax.lines if line.get_linestyle() in ("None", "none")}
    expected = {plots.VERDICT_STYLES[v][1] for v in drawn["verdict"].unique() if v != "not assessable"}
    assert expected <= markers


def test_claims_chart_leaves_out_what_would_disclose_small_counts(claims):
    table = claims.table
    drawn = plots.claims_chart(claims)
    n_drawn = sum(len(ax.get_yticks()) for ax in drawn.axes)
    # a threshold just above the smallest non-event count of a share hides that row only
    shares = table[table["measure"].isin(["proportion", "relieved by"]) & table["events"].notna()
                   & (table["role"] != "sensitivity") & (table["reading"] != "worst case")]
    threshold = int((shares["n"] - shares["events"]).min()) + 1
    hidden = (shares["events"] < threshold) | (shares["n"] - shares["events"] < threshold) | (shares["n"] < threshold)
    fig = plots.claims_chart(claims, suppress_below=threshold)
    assert sum(len(ax.get_yticks()) for ax in fig.axes) == n_drawn - int(hidden.sum())
    assert f"counts under {threshold} would show" in fig.get_supxlabel()
    none = plots.claims_chart(claims, suppress_below=10_000)
    assert "Every result would show counts under 10000" in _texts(none)[0]


def test_verdicts_that_share_a_colour_differ_in_shape():
    # colour is never the only cue (the report's style): same colour -> different marker and icon
    styles = plots.VERDICT_STYLES
    for a in styles:
        for b in styles:
            if a < b and styles[a][0] == styles[b][0]:
                assert styles[a][1] != styles[b][1] and styles[a][2] != styles[b][2], (a, b)


def test_fracture_age_bins_use_wilson_intervals(endpoints):
    fig = plots.success_by_fracture_age(endpoints)
    ax = fig.axes[0]
    segments = next(c.get_segments() for c in ax.collections if hasattr(c, "get_segments") and len(c.get_segments()) > 5)
    data = endpoints[["fracture_age_days", "success"]].dropna()
    week = np.minimum(np.floor(data["fracture_age_days"].to_numpy(float) / 7), 16)
    ok = data["success"].astype(bool).to_numpy()
    for segment in segments:
        x = segment[0, 0]
        mask = week == x - 0.5
        low, high = proportion_confint(ok[mask].sum(), mask.sum(), method="wilson")  # statsmodels
        np.testing.assert_allclose([segment[0, 1], segment[1, 1]], [low, high], rtol=1e-9)
    # the six-week line
    assert any(np.allclose(line.get_xdata(), 6.0) for line in ax.lines if len(set(line.get_xdata())) == 1)


def test_fracture_age_bins_under_the_threshold_are_not_drawn(endpoints):
    data = endpoints[["fracture_age_days", "success"]].dropna()
    sizes = pd.Series(np.minimum(np.floor(data["fracture_age_days"] / 7), 16)).value_counts()
    threshold = int(sizes.median())
    fig = plots.success_by_fracture_age(endpoints, suppress_below=threshold)
    points = next(line for line in fig.axes[0].lines if line.get_marker() == "o")
    assert len(points.get_xdata()) == int((sizes >= threshold).sum()) < len(sizes)
    assert f"<{threshold}" in _texts(fig)


def test_odds_ratio_forest(claims):
    fit = claims.details["overnight_reasons"]["odds_ratios"]
    fig = plots.odds_ratio_forest(fit)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Two or more levels treated" in labels and "A complication" in labels
    exposures = fit.table[fit.table["role"] == "exposure"]
    marks = [line for line in ax.lines if line.get_gid() == "odds_ratio"]
    np.testing.assert_allclose(sorted(m.get_xdata()[0] for m in marks), sorted(exposures["odds_ratio"]))
    # one style with the claims chart: the claim's rows there use the same markers and colours
    chart = plots.claims_chart(claims)
    chart_marks = {(line.get_marker(), to_hex(line.get_color())) for a in chart.axes for line in a.lines
                   if line.get_linestyle() in ("None", "none")}
    assert {(m.get_marker(), to_hex(m.get_color())) for m in marks} <= chart_marks


def test_durability_marks_the_follow_up_horizon(claims):
    km = claims.details["durable_relief"]["kaplan_meier"]
    fig = plots.durability_curve(km, stated=0.8)
    ax = fig.axes[0]
    horizon = km.table["time"].max() / plots.HOURS_PER_YEAR
    assert any(np.allclose(line.get_xdata(), horizon) for line in ax.lines if len(set(line.get_xdata())) == 1)
    assert any(t.startswith("follow-up ends") for t in _texts(fig))


def test_style_does_not_leak_into_rcparams(claims):
    before = dict(matplotlib.rcParams)
    plots.claims_chart(claims)
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k] and k != "backend"} == set()


def test_input_validation(endpoints):
    with pytest.raises(InputError, match=r"^`flow` must have columns table, read, excluded, analysed"):
        plots.records_flow(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match=r"^`claims` must be a ClaimsResult from evaluate_claims; got dict\."):
        plots.claims_chart({})
    with pytest.raises(InputError, match=r"^`curves` must be a non-empty mapping"):
        plots.relief_curves({})
    with pytest.raises(InputError, match=r"^`endpoints` must have a 'fracture_age_days' column"):
        plots.success_by_fracture_age(pd.DataFrame({"success": [True]}))
    with pytest.raises(InputError, match=r"^`odds` must be an OddsRatioResult"):
        plots.odds_ratio_forest(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match=r"^`km` must be a KaplanMeierResult; got str\."):
        plots.durability_curve("km")
    with pytest.raises(InputError, match=r"^`suppress_below` must be a whole number of 0 or more"):
        plots.success_by_fracture_age(endpoints, suppress_below=-1)


def test_no_fracture_ages_gives_a_figure_that_says_so():
    fig = plots.success_by_fracture_age(pd.DataFrame({"fracture_age_days": [np.nan], "success": [True]}))
    assert "No fracture ages" in _texts(fig)[0]


def _drawn_colours(fig):
    """(kind, colour) of every visible text and every data line/marker of a figure."""
    from matplotlib.text import Text
    out = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip():
            out.append(("text", text.get_color(), text.get_text()))
    for ax in fig.axes:
        for line in ax.lines:
            if line.get_visible() and len(line.get_xdata()):
                colour = line.get_color()
                if line.get_linestyle() in ("None", "none"):  # a marker: its face, or its edge if open
                    face = line.get_markerfacecolor()
                    colour = line.get_markeredgecolor() if matplotlib.colors.to_hex(face) == "#ffffff" else face
                alpha = line.get_alpha()
                rgba = matplotlib.colors.to_rgba(colour, 1.0 if alpha is None else alpha)
                out.append(("line", rgba, line.get_label()))
    return out


def test_every_text_and_line_reaches_wcag_contrast(cohort, endpoints, claims):
    # WCAG 2.1: 4.5:1 for text (1.4.3), 3:1 for lines and markers that carry data (1.4.11).
    # Issue 16 measured 2.25:1 for the kyphoplasty at-risk numbers and 2.3:1 for the funnel lines.
    from outcomes import monitoring, report
    from outcomes.plots_monitoring import control_chart_figure, cusum_figure, funnel_figure
    assert plots.contrast_ratio("#E69F00") == pytest.approx(2.25, abs=0.01)  # WebAIM's checker: 2.25
    assert plots.contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)  # WebAIM's checker: 4.54
    curves, tbs = _relief_curves(endpoints)
    doctor = endpoints["physician_id"].dropna().iloc[0]
    fun = monitoring.funnel(endpoints, outcome="success", unit="physician_id", stated=0.9)
    by = monitoring.cusum(endpoints, outcome="success", stated=None, by="physician_id")
    figures = [plots.records_flow(cohort.flow(), cohort.exclusion_counts()), plots.claims_chart(claims),
               plots.relief_curves(curves, turnbull=tbs, stated=0.9),
               report.relief_figure(report.physician_endpoints(endpoints, doctor), claims=claims, reference=endpoints,
                                    label=doctor),
               plots.success_by_fracture_age(endpoints, stated=0.9),
               plots.odds_ratio_forest(claims.details["overnight_reasons"]["odds_ratios"]),
               plots.durability_curve(claims.details["durable_relief"]["kaplan_meier"], stated=0.8),
               funnel_figure(fun), funnel_figure(fun, highlight=doctor),
               control_chart_figure(monitoring.control_chart(endpoints, outcome="success", stated=0.9)),
               cusum_figure(monitoring.cusum(endpoints, outcome="success", stated=0.9)),
               cusum_figure(by), cusum_figure(by, highlight=doctor)]
    low = []
    for fig in figures:
        for kind, colour, what in _drawn_colours(fig):
            need = 4.5 if kind == "text" else 3.0
            if plots.contrast_ratio(colour) < need:
                low.append((kind, matplotlib.colors.to_hex(colour, keep_alpha=True), what))
    # context lines (other physicians drawn under the highlighted one) are the one exception
    low = [item for item in low if item[1] != "#bfbfbfff"]
    assert low == []


def test_user_text_is_not_read_as_mathtext():
    km = kaplan_meier([2, 20, 26, 50], [1, 1, 1, 0])
    fig = plots.relief_curves({"$5 co-pay_group": km})
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig).draw()  # with mathtext this label raises or renders "5 co-pay" in italics
    label = next(t for t in fig.axes[0].get_legend().get_texts() if "co-pay" in t.get_text())
    assert label.get_text().startswith("$5 co-pay_group") and not label._parse_math
