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

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from . import formatting as fmt
from .exceptions import InputError
from .monitoring import ControlChartResult, CusumResult, FunnelResult
from .plots import GREY as _GREY
from .plots import OKABE_ITO as _OKABE_ITO
from .plots import _STATED

__all__ = ["control_chart_figure", "cusum_figure", "funnel_figure"]

_LIGHT_GREY = "#BFBFBF"
# Units take these in turn; vermillion is kept for limits and signals.
_UNIT_COLOURS = ("blue", "orange", "bluish_green", "reddish_purple", "sky_blue", "black")
_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}
_RC = {
    "text.parse_math": False,  # labels hold user text (physician ids): never read as mathtext
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#EBEBEB",
    "grid.linewidth": 0.7,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "figure.dpi": 110,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}

_OUTCOME_LABELS = {
    "success": "success at 4 weeks",
    "success_worst_case": "success at 4 weeks (missing = failure)",
    "relief_by_horizon": "relief within 48 hours",
    "same_day_discharge": "same-day discharge",
}
_UNIT_LABELS = {"physician_id": "physician", "site_id": "site"}


def _outcome_label(outcome: str) -> str:
    return _OUTCOME_LABELS.get(outcome, outcome.replace("_", " "))


def _stated_line(ax: Any, value: float, text: str | None = None, *, y: float | None = None) -> None:
    """The stated figure: a black dashed horizontal line labelled "stated 90%"."""
    text = text or f"stated {fmt.percent(value)}"
    at = value if y is None else y
    ax.axhline(at, label=text, gid="stated", **_STATED)
    ax.annotate(text, xy=(1.0, at), xycoords=("axes fraction", "data"), xytext=(-2, 3),
                textcoords="offset points", ha="right", va="bottom", fontsize=8.5,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


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
    outside the inner limit only, with an open triangle.

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
    'patients with a known outcome (n)'
    """
    _check(result, FunnelResult, "result")
    units = result.units
    names = units["unit"].unique().tolist()
    if highlight is not None and str(highlight) not in names:
        raise InputError(f"`highlight` must be one of the units {', '.join(map(repr, names))}; got {highlight!r}.")
    levels = sorted(result.confidence_levels)
    outer, inner = levels[-1], levels[0]
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(9.5, 5.0))
        ax = fig.add_subplot()
        limits = result.limits
        shades = {"clinic": (_OKABE_ITO["sky_blue"], _OKABE_ITO["blue"]), "stated": (_LIGHT_GREY, "#4D4D4D")}
        for centre in ("clinic", "stated"):
            rows = limits[limits["centre"] == centre]
            if rows.empty:
                continue
            style = "-" if centre == "clinic" else "--"
            target = float(rows["target"].iloc[0])
            for level in levels:
                part = rows[np.isclose(rows["level"], level)]
                colour = shades[centre][1] if level == outer else shades[centre][0]
                label = f"{_level_text(level)} limits around {'the clinic' if centre == 'clinic' else 'the stated figure'}"
                ax.plot(part["n"], part["lower"], style, color=colour, linewidth=1.1, label=label)
                ax.plot(part["n"], part["upper"], style, color=colour, linewidth=1.1)
            if centre == "clinic":
                ax.axhline(target, color=_OKABE_ITO["blue"], linewidth=1.0, alpha=0.8,
                           label=f"clinic {fmt.percent(target)}")
            else:
                _stated_line(ax, target)

        clinic_rows = units[(units["centre"] == "clinic") & (units["n"] > 0)]
        at_outer = clinic_rows[np.isclose(clinic_rows["level"], outer)].set_index("unit")
        at_inner = clinic_rows[np.isclose(clinic_rows["level"], inner)].set_index("unit")
        for unit, row in at_outer.iterrows():  # one point per unit (a handful), not per patient
            flag_outer, flag_inner = row["flag"], at_inner.loc[unit, "flag"]
            flag = flag_outer or flag_inner
            marker = {"low": "v", "high": "^", "": "o"}[flag]
            filled = bool(flag_outer) or not flag
            emphasised = highlight is None or str(unit) == str(highlight)
            if highlight is not None and emphasised:
                colour, size, z = _OKABE_ITO["vermillion"] if flag else _OKABE_ITO["orange"], 11, 5
            elif highlight is not None:
                colour, size, z = _GREY, 6, 3
            else:
                colour = _OKABE_ITO["vermillion"] if flag_outer else (_OKABE_ITO["orange"] if flag_inner else "black")
                size, z = 8, 4
            ax.plot(row["n"], row["proportion"], marker, markersize=size, zorder=z,
                    color=colour, markerfacecolor=colour if filled else "white", markeredgecolor=colour,
                    markeredgewidth=1.4, linestyle="none")
            if len(at_outer) <= 15 or emphasised:
                ax.annotate(str(unit), (row["n"], row["proportion"]), xytext=(5, 4), textcoords="offset points",
                            fontsize=9 if emphasised else 8, color="black" if emphasised else _GREY,
                            fontweight="bold" if (highlight is not None and emphasised) else "normal")

        n_max = float(limits["n"].max())
        shown = limits[limits["n"] >= max(2.0, 0.25 * float(clinic_rows["n"].min()))]
        low = min(float(clinic_rows["proportion"].min()), float(shown["lower"].min()))
        ax.set_xlim(0, n_max)
        ax.set_ylim(max(0.0, low - 0.05), 1.0 + 0.005)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        unit_word = _UNIT_LABELS.get(result.unit, result.unit.replace("_", " "))
        ax.set_xlabel("patients with a known outcome (n)")
        ax.set_ylabel(f"{_outcome_label(result.outcome)} (%)")
        ax.set_title(f"{_outcome_label(result.outcome).capitalize()} by {unit_word}")
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], marker="v", color=_OKABE_ITO["vermillion"], linestyle="none"),
                    Line2D([], [], marker="v", color=_OKABE_ITO["orange"], markerfacecolor="white", linestyle="none")]
        labels += [f"outside {_level_text(outer)} limits", f"outside {_level_text(inner)} limits only"]
        ax.legend(handles, labels, **_OUTSIDE)
        note = {"none": "exact binomial limits",
                "additive": f"limits widened for overdispersion (additive, tau = {np.sqrt(result.tau2):.3f})",
                "multiplicative": f"limits widened for overdispersion (x sqrt(phi), phi = {result.overdispersion_phi:.2f})"}
        fig.text(0.01, 0.005, f"{note[result.adjustment]}; {result.n} patients, {result.n_units} "
                 f"{unit_word}s" + (f"; {result.n_missing_outcome} without a known outcome not shown"
                                    if result.n_missing_outcome else ""), fontsize=8, color=_GREY)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


# --------------------------------------------------------------------------------------------
# Control chart
# --------------------------------------------------------------------------------------------

_DIRECTION_STYLE = {
    "improving": (_OKABE_ITO["blue"], "^", "special cause — improving"),
    "concerning": (_OKABE_ITO["orange"], "v", "special cause — concerning"),
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
    upward triangles for special cause — improving, orange downward triangles for special cause
    — concerning. The limits step with each period's number of patients.

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
    with mpl.rc_context(_RC):
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
        fig.text(0.01, 0.005, f"{result.period_reason}; {result.n} patients", fontsize=8, color=_GREY)
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
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(9.5, 6.0))
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
        ordered = sorted(names, key=lambda u: (highlight is not None and str(u) == str(highlight), str(u)))
        for i, unit in enumerate(ordered):
            rows = table[table["unit"] == unit]
            emphasised = highlight is None or str(unit) == str(highlight)
            if highlight is None:
                colour = _OKABE_ITO[_UNIT_COLOURS[names.index(unit) % len(_UNIT_COLOURS)]] if len(names) > 1 else _OKABE_ITO["blue"]
            else:
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
            bottom.axhline(result.limit, color=_OKABE_ITO["vermillion"], linewidth=1.3,
                           label=f"limit h = {result.limit:.2f} (false alarm about every {result.arl0:,.0f} cases)")
        else:
            bottom.plot([], [], "-", color=_GREY, label="limit h for each unit (its own case mix)")
        bottom.plot([], [], "X", color=_OKABE_ITO["vermillion"], markeredgecolor="black", linestyle="none",
                    label="signal (chart restarts at 0)")
        if result.stated is not None:
            _stated_line(top, result.stated, y=0.0)
        else:
            _stated_line(top, 1 - result.in_control_failure,
                         f"clinic rate {fmt.percent(1 - result.in_control_failure)}", y=0.0)
        top.set_ylabel("failures minus expected (cumulative)")
        bottom.set_ylabel("CUSUM (log-likelihood ratio)")
        bottom.set_xlabel("date of procedure")
        bottom.set_ylim(bottom=0)
        what = _outcome_label(result.outcome)
        alternative = f"failure odds x{result.odds_ratio:g}"
        top.set_title(f"{'Risk-adjusted ' if result.risk_adjusted else ''}CUSUM of failures ({what}): "
                      f"watching for {alternative}")
        handles, labels = bottom.get_legend_handles_labels()
        keep = [i for i, text in enumerate(labels) if text not in names]  # units: legend on top panel
        bottom.legend([handles[i] for i in keep], [labels[i] for i in keep], **_OUTSIDE)
        top.legend(**_OUTSIDE)
        fig.autofmt_xdate()
        fig.tight_layout()
    return fig
