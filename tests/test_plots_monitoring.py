"""Monitoring figures: each returns a Figure with labelled axes and the stated figure drawn the
report's way (a black dashed line labelled "stated 90%"). Matplotlib on Agg (conftest)."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import outcomes
from outcomes import InputError
from outcomes.monitoring import control_chart, cusum, funnel
from outcomes.plots_monitoring import control_chart_figure, cusum_figure, funnel_figure
from outcomes.synthetic import simulate


@pytest.fixture(scope="module")
def endpoints() -> pd.DataFrame:
    procedures, assessments, _ = simulate(900, seed=5)
    return outcomes.derive_endpoints(outcomes.load_records(procedures, assessments))


def _stated_lines(fig: Figure) -> list:
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "stated"]


def _assert_labelled(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    for ax in fig.axes:
        assert ax.get_ylabel()
    assert fig.axes[-1].get_xlabel()


def _assert_stated(fig: Figure, text: str = "stated 90%") -> None:
    lines = _stated_lines(fig)
    assert lines, "no stated line"
    for line in lines:
        assert line.get_label() == text
        assert line.get_linestyle() == "--"
        assert mcolors.to_hex(line.get_color()) == "#000000"


def test_funnel_figure(endpoints):
    result = funnel(endpoints, stated=0.9)
    fig = funnel_figure(result)
    _assert_labelled(fig)
    _assert_stated(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "procedures with a known outcome (n)"
    assert ax.get_ylabel() == "success at 4 weeks (%)"
    gids = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    # issue 16: 8 legend entries and limits in the clinic line's light blue -> few entries, the
    # clinic rate a thick solid line, its limits dotted (95%) and dashed (99.8%)
    assert len(fig.legends[0].get_texts()) <= 5
    assert gids["clinic"].get_linestyle() == "-" and gids["clinic"].get_linewidth() > 1.5
    assert gids["limit:clinic:0.95"].get_linestyle() == ":" and gids["limit:clinic:0.998"].get_linestyle() == "--"
    assert gids["limit:stated:0.998"].get_linestyle() == "-."
    # physician names: no two overlap, none sits on a point
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == result.n_units
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    points = [ax.transData.transform((line.get_xdata()[0], line.get_ydata()[0]))
              for line in ax.get_lines() if (line.get_gid() or "").startswith("unit:")]
    assert not any(box.contains(*p) for box in boxes for p in points)
    # D4 (the worse physician) is drawn as a downward triangle: outside the limits, below
    markers = [line.get_marker() for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert "v" in markers


def test_funnel_figure_highlights_one_unit(endpoints):
    fig = funnel_figure(funnel(endpoints, stated=0.9), highlight="D2")
    points = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "None"]
    colours = [mcolors.to_hex(line.get_color()) for line in points]
    sizes = [line.get_markersize() for line in points]
    assert colours.count("#767676") == len(points) - 1          # the others grey
    assert max(sizes) == sizes[colours.index(next(c for c in colours if c != "#767676"))]
    bold = [t.get_text() for t in fig.axes[0].texts if t.get_fontweight() == "bold"]
    assert bold == ["D2"]
    _assert_stated(fig)
    with pytest.raises(InputError, match="`highlight` must be one of the units"):
        funnel_figure(funnel(endpoints), highlight="D9")


def test_funnel_figure_without_stated_has_no_stated_line(endpoints):
    fig = funnel_figure(funnel(endpoints))
    assert _stated_lines(fig) == []
    _assert_labelled(fig)


def test_control_chart_figure(endpoints):
    chart = control_chart(endpoints, stated=0.9, period="month")
    fig = control_chart_figure(chart)
    _assert_labelled(fig)
    _assert_stated(fig)
    assert fig.axes[0].get_xlabel() == "month of procedure"


def test_control_chart_figure_signals_by_shape():
    # 24 months of 100 patients; months 10-17 all above the centre: a run of 8.
    successes = [78, 82] * 12
    successes[9] = 78
    successes[10:18] = [86, 84] * 4
    months = pd.date_range("2021-01-01", periods=24, freq="MS")
    frame = pd.DataFrame({
        "procedure_date": np.repeat(months.to_numpy(), 100),
        "success": (np.arange(100)[None, :] < np.array(successes)[:, None]).ravel(),
    })
    chart = control_chart(frame, stated=0.9, centre=0.8)
    assert chart.table["signal"].sum() == 8
    fig = control_chart_figure(chart)
    by_label = {line.get_label(): line for line in fig.axes[0].get_lines()}
    improving = by_label["special cause — improving"]
    common = by_label["common cause"]
    assert improving.get_marker() == "^" and common.get_marker() == "o"
    assert len(improving.get_xdata()) == 8 and len(common.get_xdata()) == 16
    assert mcolors.to_hex(improving.get_color()) != mcolors.to_hex(common.get_color())
    _assert_stated(fig)


def test_cusum_figure(endpoints):
    result = cusum(endpoints, stated=0.9, limit=3.0)
    fig = cusum_figure(result)
    _assert_labelled(fig)
    _assert_stated(fig)
    top, bottom = fig.axes
    assert top.get_ylabel() == "failures minus expected (cumulative)"
    assert bottom.get_ylabel() == "CUSUM (log-likelihood ratio)"
    assert bottom.get_xlabel() == "date of procedure"
    limit_lines = [line for line in bottom.get_lines() if line.get_gid() == "limit"]
    assert limit_lines[0].get_label().startswith("signal limit (one false alarm in about")  # no "h = 3.00"
    assert len(limit_lines) == 1 and np.allclose(limit_lines[0].get_ydata(), 3.0)
    crosses = [line for line in bottom.get_lines() if line.get_marker() == "X" and len(line.get_xdata())]
    assert sum(len(line.get_xdata()) for line in crosses) == len(result.signals) > 0


def test_cusum_figure_per_physician_is_small_multiples_highlighted(endpoints):
    # issue 16: six tangled lines on one axis -> one small panel per physician, the highlighted
    # one first and black, the others grey; one limit and the signals in each panel
    result = cusum(endpoints, stated=None, by="physician_id", limit=3.5)
    fig = cusum_figure(result, highlight="D4")
    units = sorted(set(result.table["unit"]))
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == len(units)
    assert panels[0].get_title(loc="left").startswith("D4:")
    drawn = {line.get_gid().split(":", 1)[1]: mcolors.to_hex(line.get_color())
             for ax in panels for line in ax.get_lines() if (line.get_gid() or "").startswith("cusum:")}
    assert set(drawn) == set(units)
    assert [u for u, c in drawn.items() if c == "#000000"] == ["D4"]
    for ax in panels:
        unit = ax.get_title(loc="left").split(":")[0]
        n_signals = int(result.table.loc[result.table["unit"] == unit, "signal"].sum())
        assert ax.get_title(loc="left") == f"{unit}: {n_signals} signal{'s' if n_signals != 1 else ''}"
    assert fig.get_supylabel() and fig.get_suptitle()
    with pytest.raises(InputError, match="`highlight` must be one of the units"):
        cusum_figure(result, highlight="nobody")


def test_figures_reject_other_results(endpoints):
    with pytest.raises(InputError, match="`result` must be a FunnelResult"):
        funnel_figure(control_chart(endpoints))
    with pytest.raises(InputError, match="`result` must be a ControlChartResult"):
        control_chart_figure(funnel(endpoints))
    with pytest.raises(InputError, match="`result` must be a CusumResult"):
        cusum_figure(funnel(endpoints))
