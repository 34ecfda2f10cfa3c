"""Monitoring figures: funnel plot, control chart and CUSUM, each from its result.

Every function takes a result of :mod:`outcomes.monitoring` and returns a
:class:`matplotlib.figure.Figure` built without pyplot (nothing accumulates in pyplot's state).
The report's conventions hold: the Okabe-Ito palette; the stated figure always a black dashed
line labelled "stated 90%" (``gid="stated"``); signals told apart by shape as well as colour, so
the figures read in greyscale; axes labelled with their units.

References
----------
.. [1] Okabe M, Ito K. Color Universal Design (CUD): how to make figures and presentations that
   are friendly to colorblind people. 2008. https://jfly.uni-koeln.de/color/
.. [2] Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
   2005;24:1185-1202. doi:10.1002/sim.1970
.. [3] NHS England and NHS Improvement. Making Data Count. 2019 (blue for improvement, orange for
   concern, grey for common cause).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter

from . import formatting as fmt
from .exceptions import InputError
from .monitoring import ControlChartResult, CusumResult, FunnelResult
from .plots import GREY as _GREY
from .plots import OKABE_ITO as _OKABE_ITO
from .plots import STATED_STYLE as _STATED
from .plots import TEXT_GREY as _TEXT_GREY
from .plots import rate_label, report_style

__all__ = ["control_chart_figure", "cusum_figure", "funnel_figure"]

_LIGHT_GREY = "#BFBFBF"  # lines of units not highlighted: context, drawn under the highlighted one
_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}


def _rc() -> Any:
    """The report's style (:func:`outcomes.plots.report_style`), mathtext off included."""
    return report_style()


_OUTCOME_LABELS = {
    "success": "success at 4 weeks",
    "success_worst_case": "success at 4 weeks (missing = failure)",
    "relief_by_horizon": "relief within 48 hours",
    "same_day_discharge": "same-day discharge",
    "major_complication_30d": "major complications within 30 days",
    "minor_complication_30d": "minor complications within 30 days",
    "death_30d": "deaths within 30 days",
}
# what a "failure" of the CUSUM is called, for outcomes where lower is better (the event itself)
_FAILURE_WORDS = {
    "major_complication_30d": "major complications",
    "minor_complication_30d": "minor complications",
    "death_30d": "deaths",
}
_UNIT_LABELS = {"physician_id": "physician", "site_id": "site"}


def _outcome_label(outcome: str) -> str:
    return _OUTCOME_LABELS.get(outcome, outcome.replace("_", " "))


def _failures(result: CusumResult) -> str:
    """What the CUSUM counts, in words: "failures", or the bad event itself ("major complications")."""
    if not result.lower_is_better:
        return "failures"
    return _FAILURE_WORDS.get(result.outcome, "events")


def _stated_line(ax: Any, value: float, text: str | None = None, *, y: float | None = None) -> None:
    """The stated figure: a black dashed horizontal line, "stated 90%" in the legend."""
    text = text or f"stated {fmt.percent(value)}"
    at = value if y is None else y
    ax.axhline(at, label=text, gid="stated", **_STATED)  # named in the legend: no label where points fall


def _check(result: Any, kind: type, name: str) -> None:
    if not isinstance(result, kind):
        raise InputError(f"`{name}` must be a {kind.__name__} from outcomes.monitoring; got {type(result).__name__}.")


def _level_text(level: float) -> str:
    return f"{100 * level:.3g}%"


# --------------------------------------------------------------------------------------------
# Funnel plot
# --------------------------------------------------------------------------------------------


def funnel_figure(result: FunnelResult, highlight: str | None = None) -> Figure:
    """Funnel plot: each unit's proportion against its number of patients.

    Parameters
    ----------
    result : FunnelResult
        From :func:`outcomes.monitoring.funnel`.
    highlight : str, optional
        A unit to emphasise (a physician's own review): drawn large and in colour, the others
        grey.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Funnel lines around the clinic rate are solid, around the stated figure dashed; the inner
    pair is the lowest confidence level (95%), the outer the highest (99.8%). A unit outside its
    outer limit is marked with a triangle pointing the way it lies (down: below, up: above);
    outside the inner limit only, with an open triangle. For an outcome where lower is better
    (``FunnelResult.lower_is_better``, complications) the axis runs up from 0, a unit on the
    worse side (above) is vermillion and one on the better side (below) blue, and the legend says
    "above = worse".

    References
    ----------
    .. [1] Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
       2005;24:1185-1202. doi:10.1002/sim.1970

    Examples
    --------
    >>> import pandas as pd
    >>> from outcomes.monitoring import funnel
    >>> ep = pd.DataFrame({"physician_id": list("AAAABBBBCC") * 10, "success": [True, False] * 50})
    >>> fig = funnel_figure(funnel(ep, stated=0.9), highlight="A")
    >>> fig.axes[0].get_xlabel()
    'procedures with a known outcome (n)'
    """
    _check(result, FunnelResult, "result")
    units = result.units
    names = units["unit"].unique().tolist()
    if highlight is not None and str(highlight) not in names:
        raise InputError(f"`highlight` must be one of the units {', '.join(map(repr, names))}; got {highlight!r}.")
    levels = sorted(result.confidence_levels)
    outer, inner = levels[-1], levels[0]
    with _rc():
        fig = Figure(figsize=(9.5, 5.8), layout="constrained")
        ax = fig.add_subplot()
        limits = result.limits
        blue = _OKABE_ITO["blue"]
        for centre in ("clinic", "stated"):
            rows = limits[limits["centre"] == centre]
            if rows.empty:
                continue
            target = float(rows["target"].iloc[0])
            for level in levels:
                part = rows[np.isclose(rows["level"], level)]
                if centre == "clinic":  # blue funnel: dotted 95%, dashed 99.8%; the clinic rate solid
                    style = {"color": blue, "linewidth": 1.1, "linestyle": ":" if level == inner else "--"}
                elif level == outer:  # around the stated figure only the outer limits, grey dash-dot
                    style = {"color": _GREY, "linewidth": 1.0, "linestyle": "-."}
                else:
                    continue
                ax.plot(part["n"], part["lower"], gid=f"limit:{centre}:{level}", **style)
                ax.plot(part["n"], part["upper"], **style)
            if centre == "clinic":
                ax.axhline(target, color=blue, linewidth=2.0, gid="clinic")
            else:
                ax.axhline(target, gid="stated", label=f"stated {(rate_label if result.lower_is_better else fmt.percent)(target)}",
                           **_STATED)

        clinic_rows = units[(units["centre"] == "clinic") & (units["n"] > 0)]
        at_outer = clinic_rows[np.isclose(clinic_rows["level"], outer)].set_index("unit")
        at_inner = clinic_rows[np.isclose(clinic_rows["level"], inner)].set_index("unit")
        points, labels = [], []
        for unit, row in at_outer.iterrows():  # one point per unit (a handful), not per patient
            flag_outer, flag_inner = row["flag"], at_inner.loc[unit, "flag"]
            flag = flag_outer or flag_inner
            marker = {"low": "v", "high": "^", "": "o"}[flag]
            filled = bool(flag_outer) or not flag
            emphasised = highlight is None or str(unit) == str(highlight)
            # physicians are black or grey, vermillion when outside a limit: never a procedure's colour
            if highlight is not None and not emphasised:
                colour, size, z = _GREY, 6, 3
            else:
                worse = flag == ("high" if result.lower_is_better else "low")
                colour = (_OKABE_ITO["vermillion"] if flag and (worse or not result.lower_is_better)
                          else _OKABE_ITO["blue"] if flag else "black")
                size, z = (11, 5) if highlight is not None else (8, 4)
            ax.plot(row["n"], row["proportion"], marker, markersize=size, zorder=z,
                    color=colour, markerfacecolor=colour if filled else "white", markeredgecolor=colour,
                    markeredgewidth=1.4, linestyle="none", gid=f"unit:{unit}")
            points.append((float(row["n"]), float(row["proportion"])))
            if len(at_outer) <= 15 or emphasised:
                labels.append((str(unit), float(row["n"]), float(row["proportion"]), emphasised))

        n_max = float(limits["n"].max())
        # the funnel's mouth at tiny n would squash the points: start it at a quarter (a half for
        # rare events, whose upper limit near n = 0 runs to 100%) of the smallest unit's n
        share = 0.5 if result.lower_is_better else 0.25
        shown = limits[limits["n"] >= max(2.0, share * float(clinic_rows["n"].min()))]
        low = min(float(clinic_rows["proportion"].min()), float(shown["lower"].min()))
        ax.set_xlim(0, n_max)
        if result.lower_is_better:  # rare events: from 0 up to the funnel's mouth or the highest unit
            high = max(float(clinic_rows["proportion"].max()), float(shown["upper"].max()))
            ax.set_ylim(-0.02 * high, min(1.0, high * 1.1 + 0.005))  # a unit at 0% shows whole
            # ticks on 1-2-5 steps, labelled with the decimals they need (never 12.5% shown as "13%")
            ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=None))
        else:
            ax.set_ylim(max(0.0, low - 0.05), 1.0 + 0.005)
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        unit_word = _UNIT_LABELS.get(result.unit, result.unit.replace("_", " "))
        ax.set_xlabel("procedures with a known outcome (n)")
        ax.set_ylabel(f"{_outcome_label(result.outcome)} (%)")
        left = ax.set_title(f"{_outcome_label(result.outcome).capitalize()} by {unit_word}")
        _place_labels(fig, ax, labels, points, bold=highlight is not None)
        clinic_rate = float(limits.loc[limits["centre"] == "clinic", "target"].iloc[0])
        handles = [Line2D([], [], color=blue, linewidth=2.0),
                   (Line2D([], [], color=blue, linestyle=":", linewidth=1.1),
                    Line2D([], [], color=blue, linestyle="--", linewidth=1.1))]
        rate_text = rate_label if result.lower_is_better else fmt.percent
        texts = [f"clinic rate {rate_text(clinic_rate)}",
                 f"{_level_text(inner)} (dotted) and {_level_text(outer)} (dashed) limits around it"]
        if (limits["centre"] == "stated").any():
            stated_rate = float(limits.loc[limits["centre"] == "stated", "target"].iloc[0])
            handles += [Line2D([], [], **_STATED), Line2D([], [], color=_GREY, linestyle="-.", linewidth=1.0)]
            texts += [f"stated {rate_text(stated_rate)}", f"{_level_text(outer)} limits around the stated figure"]
        handles.append((Line2D([], [], marker="v", color=_OKABE_ITO["vermillion"], linestyle="none"),
                        Line2D([], [], marker="v", color=_OKABE_ITO["vermillion"], markerfacecolor="white",
                               linestyle="none")))
        if result.lower_is_better:
            handles[-1] = (Line2D([], [], marker="^", color=_OKABE_ITO["vermillion"], linestyle="none"),
                           Line2D([], [], marker="^", color=_OKABE_ITO["vermillion"], markerfacecolor="white",
                                  linestyle="none"))
            texts.append(f"above the {_level_text(outer)} / only the {_level_text(inner)} upper limit: worse")
        else:
            texts.append(f"outside the {_level_text(outer)} / only the {_level_text(inner)} limits")
        note = {"none": "exact binomial limits",
                "additive": f"limits widened for overdispersion (additive, tau = {np.sqrt(result.tau2):.3f})",
                "multiplicative": f"limits widened for overdispersion (x sqrt(phi), phi = {result.overdispersion_phi:.2f})"}
        note_text = (f"{note[result.adjustment]}; {result.n} procedures, {result.n_units} {unit_word}s"
                     + (f"; {result.n_missing_outcome} without a known outcome not shown"
                        if result.n_missing_outcome else ""))
        # the note sits right of the title; when the two would overlap it goes into the legend
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        renderer = (fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)).get_renderer()
        right = ax.set_title(note_text, loc="right", fontsize=8, fontweight="normal", color=_TEXT_GREY)
        if left.get_window_extent(renderer).x1 + 8 > right.get_window_extent(renderer).x0:
            right.set_text("")
            handles.append(Line2D([], [], linestyle="none"))
            texts.append(note_text)
        fig.legend(handles, texts, handler_map={tuple: HandlerTuple(ndivide=None, pad=0.6)},
                   loc="outside lower center", ncols=2)
    return fig


def _place_labels(fig: Figure, ax: Any, labels: list, points: list, *, bold: bool) -> None:
    """Name each point beside it, on the first of eight sides where the name overlaps no other
    name and no point (in display space). A handful of labels need no library: a greedy pass over
    fixed offsets, biggest units first, keeps them apart."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig) if not hasattr(fig.canvas, "get_renderer") else fig.canvas
    fig.canvas = canvas
    renderer = canvas.get_renderer()
    fig.draw_without_rendering() if hasattr(fig, "draw_without_rendering") else None
    to_px = ax.transData.transform
    marks = [to_px(p) for p in points]
    taken: list[Any] = []
    offsets = [(7, 5), (7, -13), (-7, 5), (-7, -13), (0, 11), (0, -19), (13, -4), (-13, -4)]
    for name, x, y, emphasised in sorted(labels, key=lambda item: -item[1]):
        for dx, dy in offsets:
            text = ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points",
                               ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                               fontsize=9 if emphasised else 8, color="black" if emphasised else _TEXT_GREY,
                               fontweight="bold" if (bold and emphasised) else "normal", zorder=6)
            box = text.get_window_extent(renderer).expanded(1.1, 1.15)
            clear = all(not box.overlaps(other) for other in taken) and all(
                not box.contains(*m) and not _near(box, m, 5.0) for m in marks)
            if clear or (dx, dy) == offsets[-1]:
                taken.append(box)
                break
            text.remove()


def _near(box: Any, point: Any, pad: float) -> bool:
    return box.x0 - pad <= point[0] <= box.x1 + pad and box.y0 - pad <= point[1] <= box.y1 + pad


# --------------------------------------------------------------------------------------------
# Control chart
# --------------------------------------------------------------------------------------------

_DIRECTION_STYLE = {
    "improving": (_OKABE_ITO["blue"], "^", "special cause — improving"),
    "concerning": (_OKABE_ITO["vermillion"], "v", "special cause — concerning"),
    "": (_GREY, "o", "common cause"),
}


def control_chart_figure(result: ControlChartResult) -> Figure:
    """The p-chart: proportion per period, centre line, 3-sigma limits and special causes.

    Parameters
    ----------
    result : ControlChartResult
        From :func:`outcomes.monitoring.control_chart`.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Points coloured and shaped as Making Data Count does: grey circles for common cause, blue
    upward triangles for special cause — improving, downward triangles for special cause —
    concerning (vermillion: Making Data Count's orange is too light on white for a marker). The limits step with each period's number of patients.

    Examples
    --------
    >>> import pandas as pd
    >>> from outcomes.monitoring import control_chart
    >>> dates = pd.date_range("2022-01-01", periods=12, freq="MS").repeat(30)
    >>> chart = control_chart(pd.DataFrame({"procedure_date": dates, "success": [True, True, False] * 120}),
    ...                       stated=0.9)
    >>> control_chart_figure(chart).axes[0].get_ylabel()
    'success at 4 weeks (%)'
    """
    _check(result, ControlChartResult, "result")
    table = result.table[result.table["n"] > 0]
    x = table["period_start"]
    with _rc():
        fig = Figure(figsize=(9.5, 4.6))
        ax = fig.add_subplot()
        ax.plot(x, table["proportion"], "-", color=_LIGHT_GREY, linewidth=1.2, zorder=2)
        ax.plot(x, table["ucl"], drawstyle="steps-mid", color=_GREY, linewidth=1.0, linestyle=":",
                label="3-sigma limits")
        ax.plot(x, table["lcl"], drawstyle="steps-mid", color=_GREY, linewidth=1.0, linestyle=":")
        ax.axhline(result.centre, color="#4D4D4D", linewidth=1.1, label=f"centre {fmt.percent(result.centre)}")
        for direction, (colour, marker, label) in _DIRECTION_STYLE.items():
            part = table[table["direction"] == direction] if direction else table[~table["signal"]]
            if part.empty:
                continue
            ax.plot(part["period_start"], part["proportion"], marker, color=colour, markersize=7 if direction else 5,
                    linestyle="none", zorder=4, label=label)
        if result.stated is not None:
            _stated_line(ax, result.stated)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        low = np.nanmin(np.r_[table["proportion"].to_numpy(float), table["lcl"].to_numpy(float)])
        ax.set_ylim(max(0.0, low - 0.05), 1.02)
        ax.set_xlabel(f"{result.period} of procedure")
        ax.set_ylabel(f"{_outcome_label(result.outcome)} (%)")
        ax.set_title(f"{_outcome_label(result.outcome).capitalize()} by {result.period}: {result.variation}")
        ax.legend(**_OUTSIDE)
        fig.text(0.01, 0.005, f"{result.period_reason}; {result.n} procedures", fontsize=8, color=_GREY)
        fig.autofmt_xdate()
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


# --------------------------------------------------------------------------------------------
# CUSUM
# --------------------------------------------------------------------------------------------


def cusum_figure(result: CusumResult, highlight: str | None = None) -> Figure:
    """CUSUM chart with its limit and signals, above the cumulative excess of failures.

    Parameters
    ----------
    result : CusumResult
        From :func:`outcomes.monitoring.cusum`.
    highlight : str, optional
        With a per-unit result, the unit to emphasise; the others are drawn grey.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the date axis. Top: cumulative failures minus the failures expected at
        the stated figure (a variable life-adjusted display turned over: rising means more
        failures than stated), with the stated figure as the dashed zero line. Bottom: the CUSUM
        with its control limit; each signal is marked with a cross.

    Examples
    --------
    >>> import pandas as pd
    >>> from outcomes.monitoring import cusum
    >>> ep = pd.DataFrame({"procedure_date": pd.date_range("2022-01-03", periods=90, freq="D"),
    ...                    "success": [True, True, False] * 30})
    >>> fig = cusum_figure(cusum(ep, stated=0.9, limit=3.0))
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['failures minus expected (cumulative)', 'CUSUM (log-likelihood ratio)']
    """
    _check(result, CusumResult, "result")
    table = result.table
    names = table["unit"].unique().tolist()
    if highlight is not None and str(highlight) not in names:
        raise InputError(f"`highlight` must be one of the units {', '.join(map(repr, names))}; got {highlight!r}.")
    if len(names) > 1:
        return _cusum_small_multiples(result, names, highlight)
    with _rc():
        fig = Figure(figsize=(9.5, 6.0))
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
        ordered = sorted(names, key=lambda u: (highlight is not None and str(u) == str(highlight), str(u)))
        for i, unit in enumerate(ordered):
            rows = table[table["unit"] == unit]
            emphasised = highlight is None or str(unit) == str(highlight)
            # one unit here (several are drawn as small multiples): blue, as the clinic's own line
            colour = _OKABE_ITO["blue"] if emphasised else _LIGHT_GREY
            width, z = (1.6, 4) if emphasised else (1.0, 2)
            label = None if len(names) == 1 else str(unit)
            top.plot(rows["date"], rows["observed_minus_expected"], drawstyle="steps-post", color=colour,
                     linewidth=width, zorder=z, label=label)
            bottom.plot(rows["date"], rows["cusum"], drawstyle="steps-post", color=colour, linewidth=width,
                        zorder=z, label=label)
            hits = rows[rows["signal"]]
            if not hits.empty:
                bottom.plot(hits["date"], hits["cusum"], "X", color=_OKABE_ITO["vermillion"] if emphasised else _GREY,
                            markersize=8 if emphasised else 6, markeredgecolor="black" if emphasised else _GREY,
                            markeredgewidth=0.6, linestyle="none", zorder=5)
            if result.limit is None and emphasised:
                bottom.plot([rows["date"].min(), rows["date"].max()], [rows["limit"].iloc[0]] * 2, "-",
                            color=colour, linewidth=1.0, alpha=0.7)
        if result.limit is not None:
            bottom.axhline(result.limit, color=_OKABE_ITO["vermillion"], linewidth=1.3, gid="limit",
                           label=f"signal limit (one false alarm in about {result.arl0:,.0f} procedures)")
        else:
            bottom.plot([], [], "-", color=_GREY, label="limit h for each unit (its own case mix)")
        bottom.plot([], [], "X", color=_OKABE_ITO["vermillion"], markeredgecolor="black", linestyle="none",
                    label="signal (chart restarts at 0)")
        failures = _failures(result)
        if result.stated is not None:
            _stated_line(top, result.stated, f"stated {rate_label(result.stated)}" if result.lower_is_better else None,
                         y=0.0)
        else:
            rate = result.in_control_failure if result.lower_is_better else 1 - result.in_control_failure
            _stated_line(top, rate, f"clinic rate {fmt.percent(rate, 1 if rate < 0.1 else 0)}", y=0.0)
        top.set_ylabel(f"{failures} minus expected (cumulative)")
        bottom.set_ylabel("CUSUM (log-likelihood ratio)")
        bottom.set_xlabel("date of procedure")
        bottom.set_ylim(bottom=0)
        what = _outcome_label(result.outcome)
        alternative = f"{'odds' if result.lower_is_better else 'failure odds'} x{result.odds_ratio:g}"
        top.set_title(f"{'Risk-adjusted ' if result.risk_adjusted else ''}CUSUM of "
                      + (f"{what}: " if result.lower_is_better else f"failures ({what}): ")
                      + f"watching for {alternative}")
        handles, labels = bottom.get_legend_handles_labels()
        keep = [i for i, text in enumerate(labels) if text not in names]  # units: legend on top panel
        bottom.legend([handles[i] for i in keep], [labels[i] for i in keep], **_OUTSIDE)
        top.legend(**_OUTSIDE)
        fig.autofmt_xdate()
        fig.tight_layout()
    return fig


def _cusum_small_multiples(result: CusumResult, names: list, highlight: str | None) -> Figure:
    """One small panel per unit on shared axes (instead of one tangle of lines): each unit's CUSUM,
    its limit and its signals; the highlighted unit first and in black, the others grey."""
    table = result.table
    ordered = sorted(names, key=lambda u: (not (highlight is not None and str(u) == str(highlight)), str(u)))
    ncols = min(3, len(ordered))
    nrows = -(-len(ordered) // ncols)
    with _rc():
        fig = Figure(figsize=(9.5, 1.2 + 1.9 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        top = float(np.nanmax(np.r_[table["cusum"].to_numpy(float), table["limit"].to_numpy(float)])) * 1.08
        for ax in axes.flat[len(ordered):]:
            ax.set_axis_off()
        for ax, unit in zip(axes.flat, ordered):
            rows = table[table["unit"] == unit]
            emphasised = highlight is None or str(unit) == str(highlight)
            colour = "black" if emphasised else _GREY
            ax.plot(rows["date"], rows["cusum"], drawstyle="steps-post", color=colour, linewidth=1.3, gid=f"cusum:{unit}")
            ax.plot([rows["date"].min(), rows["date"].max()], [rows["limit"].iloc[0]] * 2, "-",
                    color=_OKABE_ITO["vermillion"], linewidth=1.2)
            hits = rows[rows["signal"]]
            if not hits.empty:
                ax.plot(hits["date"], hits["cusum"], "X", color=_OKABE_ITO["vermillion"], markersize=7,
                        markeredgecolor="black", markeredgewidth=0.6, linestyle="none", zorder=5)
            n_signals = len(hits)
            ax.set_title(f"{unit}: {n_signals} signal{'s' if n_signals != 1 else ''}", fontsize=9.5,
                         fontweight="bold" if emphasised else "normal", color="black" if emphasised else _TEXT_GREY)
            ax.set_ylim(0, top)
            ax.tick_params(labelsize=8)
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_ha("right")
        unit_word = _UNIT_LABELS.get(result.by, str(result.by).replace("_", " ")) if result.by else "unit"
        what = _outcome_label(result.outcome)
        counted = f"{what}" if result.lower_is_better else f"failures ({what})"
        fig.suptitle(f"CUSUM of {counted} by {unit_word}: a line reaching its limit line is a signal",
                     fontsize=10.5, fontweight="bold", x=0.01, ha="left")
        fig.supylabel(f"CUSUM of {_failures(result)}", fontsize=9.5)
        fig.legend([Line2D([], [], color=_OKABE_ITO["vermillion"], linewidth=1.2),
                    Line2D([], [], marker="X", color=_OKABE_ITO["vermillion"], markeredgecolor="black",
                           linestyle="none")],
                   [f"limit, set for each {unit_word}'s own number of patients",
                    "signal (the chart restarts at 0)"], loc="outside lower center", ncols=2, fontsize=8.5)
    return fig
