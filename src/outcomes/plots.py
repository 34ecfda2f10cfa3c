"""Figures for the reports: one function per figure, results in, a matplotlib Figure out.

Every function takes results -- a :class:`~outcomes.ClaimsResult`, a
:class:`~outcomes.stats.KaplanMeierResult`, an odds-ratio fit, the frames of
:func:`~outcomes.derive_endpoints` or :meth:`Cohort.flow` -- never raw records, and returns a
:class:`matplotlib.figure.Figure` built without pyplot (nothing accumulates in pyplot's state; a
notebook displays the figure, a script calls ``fig.savefig``).

One style for the whole report (:func:`_style`):

- the Okabe-Ito palette, which stays distinct under the common colour-vision deficiencies;
  vertebroplasty is always blue and kyphoplasty always orange (:data:`PROCEDURE_COLOURS`), the
  orange darkened so that it reaches WCAG's contrast on white (:func:`contrast_ratio`: 4.5:1 for
  text, 3:1 for lines and markers [3]_); light tints are only ever fills;
- user text is never read as mathtext (``text.parse_math`` off): "$5" stays "$5";
- a stated figure is always a black dashed line labelled "stated 90%" (:func:`_stated_line`);
- verdicts are told apart by shape and word as well as colour (:data:`VERDICT_STYLES`), so the
  chart reads in greyscale;
- axes carry their units; counts drawn on a figure obey the report's small-cell suppression.

References
----------
.. [1] Okabe M, Ito K. Color Universal Design (CUD): how to make figures and presentations that
   are friendly to colorblind people. 2008. https://jfly.uni-koeln.de/color/
.. [2] Pocock SJ, Clayton TC, Altman DG. Survival plots of time-to-event outcomes in clinical
   trials: good practice and pitfalls. Lancet 2002;359:1686-1689.
   doi:10.1016/S0140-6736(02)08594-X (numbers at risk under the x-axis; curves drawn rising
   when the event is good news)
.. [3] W3C. Web Content Accessibility Guidelines (WCAG) 2.1, success criteria 1.4.3 (contrast,
   minimum) and 1.4.11 (non-text contrast). 2018. https://www.w3.org/TR/WCAG21/
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, PercentFormatter

from . import formatting as fmt
from ._suppress import check_suppress_below, hides_estimate, suppress
from .exceptions import InputError
from .proportions import proportion

__all__ = [
    "OKABE_ITO",
    "PROCEDURE_COLOURS",
    "STATED_STYLE",
    "VERDICT_STYLES",
    "claims_chart",
    "contrast_ratio",
    "durability_curve",
    "odds_ratio_forest",
    "records_flow",
    "relief_curve_points",
    "relief_curves",
    "report_style",
    "success_by_fracture_age",
]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# Okabe-Ito orange (2.2:1 on white) darkened to 4.8:1, enough for text as well as lines.
DARK_ORANGE = "#A66300"
# Grey for lines and text (4.5:1 on white); the light grey is for fills and decoration only.
GREY = "#767676"
LIGHT_GREY = "#D9D9D9"
TEXT_GREY = "#595959"

PROCEDURE_COLOURS = {"vertebroplasty": OKABE_ITO["blue"], "kyphoplasty": DARK_ORANGE}
# Curves that are not a procedure (a physician, a site) take these in turn, never a procedure's
# colour; the clinic as a reference is grey. Each reaches 4.5:1 on white.
_OTHER_COLOURS = (OKABE_ITO["black"], "#A83E80", "#007A5A", "#5E3C99")

# verdict -> (colour, matplotlib marker, icon used in HTML)
VERDICT_STYLES = {
    "below": (OKABE_ITO["vermillion"], "v", "\u25bc"),
    "contradicted": (OKABE_ITO["vermillion"], "X", "\u2718"),
    "above": (OKABE_ITO["bluish_green"], "^", "\u25b2"),
    "consistent": (OKABE_ITO["bluish_green"], "o", "\u25cf"),
    "supported": (OKABE_ITO["bluish_green"], "D", "\u2714"),
    "inconclusive": (OKABE_ITO["reddish_purple"], "s", "?"),
    "not assessable": (GREY, "", "\u2013"),
}

_RC: dict[str, Any] = {
    "text.parse_math": False,  # labels hold user text (physician ids): never read as mathtext
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=[OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion",
                                                              "reddish_purple", "sky_blue", "black")]),
    "grid.color": "#EBEBEB",
    "grid.linewidth": 0.7,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 1.8,
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    # Labels come from the clinic's data and registry ("$5 co-pay", "50% of A_B"): plain text.
    "text.parse_math": False,
}

# A stated figure is always drawn this way (monitoring figures use it too).
STATED_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.2}
_STATED = STATED_STYLE
_NULL = {"color": GREY, "linestyle": ":", "linewidth": 1.2}
_MARK = {"color": "#4D4D4D", "linestyle": "-.", "linewidth": 1.0}

HOURS_PER_YEAR = 8766.0

_TERM_LABELS = {
    "poor_general_health": "Poor general health (ASA class 3 or more)",
    "multiple_levels": "Two or more levels treated",
    "complication": "A complication",
    "early_treatment": "Treated within six weeks",
    "height_restoration_pct": "height restoration",
    "kyphotic_angle_change_deg": "kyphotic angle change",
}


@contextmanager
def report_style() -> Iterator[None]:
    """The report's matplotlib style, for building one figure (every figure of the package uses it).

    Okabe-Ito colours, left titles, light grid, no frame on legends, and ``text.parse_math`` off so
    that text from the records or the claims registry is drawn as written.

    Examples
    --------
    >>> import matplotlib
    >>> with report_style():
    ...     matplotlib.rcParams["text.parse_math"]
    False
    """
    with mpl.rc_context(_RC):
        yield


_style = report_style


def _linear(channel: np.ndarray) -> np.ndarray:
    return np.where(channel <= 0.04045, channel / 12.92, ((channel + 0.055) / 1.055) ** 2.4)


def contrast_ratio(colour: Any, background: Any = "white") -> float:
    """WCAG 2.1 contrast ratio of a colour on a background, from 1 (none) to 21 (black on white).

    Parameters
    ----------
    colour, background : matplotlib colour
        Any colour matplotlib reads ("#A66300", "black", an RGBA tuple). A colour with an alpha
        below 1 is first blended over the background, as it is drawn.

    Returns
    -------
    float
        ``(L1 + 0.05) / (L2 + 0.05)`` with ``L1 >= L2`` the relative luminances. Text needs at least
        4.5 (success criterion 1.4.3), lines and markers that carry data at least 3 (1.4.11).

    References
    ----------
    .. [1] W3C. Web Content Accessibility Guidelines (WCAG) 2.1, definitions of "contrast ratio"
       and "relative luminance". 2018. https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio

    Examples
    --------
    >>> round(contrast_ratio("black"), 1)
    21.0
    >>> round(contrast_ratio("#E69F00"), 2)  # Okabe-Ito orange: too light for text or lines
    2.25
    """
    from matplotlib.colors import to_rgba

    fg, bg = np.asarray(to_rgba(colour)), np.asarray(to_rgba(background))[:3]
    rgb = fg[3] * fg[:3] + (1 - fg[3]) * bg
    weights = np.array([0.2126, 0.7152, 0.0722])
    high, low = sorted((float(_linear(rgb) @ weights), float(_linear(bg) @ weights)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _label(term: str) -> str:
    return _TERM_LABELS.get(term, str(term).replace("_", " "))


def _colour(label: str, i: int) -> str:
    return PROCEDURE_COLOURS.get(str(label).lower(), _OTHER_COLOURS[i % len(_OTHER_COLOURS)])


def _stated_line(ax: Any, value: float, *, vertical: bool = False, span: tuple[float, float] | None = None,
                 text_at: str = "end") -> None:
    """A stated figure, always the same: a black dashed line labelled "stated 90%"."""
    text = f"stated {fmt.percent(value)}"
    if vertical:
        if span is None:
            ax.axvline(value, label=text, gid="stated", **_STATED)
        else:
            ax.plot([value, value], list(span), label=text, gid="stated", **_STATED)
        return
    ax.axhline(value, label=text, gid="stated", **_STATED)
    if text_at == "outside":  # in the right margin: no data point can sit on it
        ax.annotate(text, xy=(1.0, value), xycoords=("axes fraction", "data"), xytext=(3, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=8.5, annotation_clip=False)
        return
    x = 1.0 if text_at == "end" else 0.0
    ax.annotate(text, xy=(x, value), xycoords=("axes fraction", "data"), xytext=(-2 if x else 2, 3),
                textcoords="offset points", ha="right" if x else "left", va="bottom", fontsize=8.5,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def _percent_axis(axis: Any) -> None:
    axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def _log_ticks(ax: Any) -> None:
    """Plain ratio ticks (0.5, 1, 2, 5 ...) on a log x-axis, no 6x10^-1 minor labels."""
    low, high = ax.get_xlim()
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500)
             if low <= t <= high]
    if len(ticks) > 7:
        ticks = [t for t in ticks if t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _empty(fig: Figure, ax: Any, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=TEXT_GREY)
    return fig


# ---- records flow ---------------------------------------------------------------------------------

def records_flow(flow: pd.DataFrame, exclusions: pd.DataFrame | None = None, *, suppress_below: int = 0) -> Figure:
    """Records flow: rows read -> excluded, by reason -> analysed, one column per table (CONSORT style).

    Parameters
    ----------
    flow : pandas.DataFrame
        :meth:`Cohort.flow`: columns ``table, read, excluded, analysed``.
    exclusions : pandas.DataFrame, optional
        :meth:`Cohort.exclusion_counts`: columns ``table, reason, rows``; the reasons are listed
        in the excluded box.
    suppress_below : int, default 0
        Counts under this number are drawn as ``"<N"``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> flow = pd.DataFrame({"table": ["procedures"], "read": [10], "excluded": [1], "analysed": [9]})
    >>> fig = records_flow(flow)
    >>> fig.axes[0].texts[0].get_text().split()
    ['Procedures', 'read', '10']
    """
    below = check_suppress_below(suppress_below)
    missing = {"table", "read", "excluded", "analysed"} - set(flow.columns)
    if missing:
        raise InputError(f"`flow` must have columns table, read, excluded, analysed (Cohort.flow()); "
                         f"got {sorted(flow.columns)!r}.")
    names = {"procedures": "Procedures", "assessments": "Pain scores"}
    lanes = flow.reset_index(drop=True)
    reasons = exclusions if exclusions is not None else pd.DataFrame({"table": [], "reason": [], "rows": []})
    most = max([int((reasons["table"] == t).sum()) for t in lanes["table"]] + [0])
    with _style():
        fig = Figure(figsize=(5.2 * max(len(lanes), 1), 2.6 + 0.2 * most), layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_xlim(0, 10 * max(len(lanes), 1))
        ax.set_ylim(0, 10)
        box = {"boxstyle": "round,pad=0.5", "facecolor": "white", "edgecolor": "#333333", "linewidth": 1.0}
        side = {**box, "facecolor": "#F2F2F2", "edgecolor": GREY}
        arrow = {"arrowstyle": "-|>", "color": "#333333", "linewidth": 1.2}
        for i, row in enumerate(lanes.itertuples(index=False)):
            x0 = 10 * i + 1.0
            name = names.get(row.table, str(row.table).capitalize())
            ax.text(x0, 9.2, f"{name}\nread {suppress(row.read, below)}", ha="left", va="center", bbox=box,
                    fontsize=10, fontweight="bold")
            ax.text(x0, 0.8, f"{name}\nanalysed {suppress(row.analysed, below)}", ha="left", va="center", bbox=box,
                    fontsize=10, fontweight="bold")
            ax.annotate("", xy=(x0 + 0.9, 1.75), xytext=(x0 + 0.9, 8.25), arrowprops=arrow)
            ax.annotate("", xy=(x0 + 2.0, 5.0), xytext=(x0 + 0.9, 5.0), arrowprops=arrow)
            mine = reasons[reasons["table"] == row.table]
            lines = [f"excluded {suppress(row.excluded, below)}"]
            for r in mine.itertuples(index=False):
                wrapped = textwrap.wrap(str(r.reason), 40) or [""]
                lines.append(f"{suppress(r.rows, below):>5}  {wrapped[0]}")
                lines += [f"       {w}" for w in wrapped[1:]]
            ax.text(x0 + 2.1, 5.0, "\n".join(lines), ha="left", va="center", bbox=side, fontsize=8.6,
                    linespacing=1.3, family="DejaVu Sans Mono" if len(lines) > 1 else None)
        ax.set_title("Records: every row read is analysed or excluded with its reason")
    return fig


# ---- claims chart ---------------------------------------------------------------------------------

_SHARE = ("proportion", "relieved by", "still relieved at", "cumulative incidence by")
_RATIO = ("hazard ratio", "odds ratio", "adjusted odds ratio")


def _panel(row: pd.Series) -> str:
    measure = str(row["measure"])
    if measure in _SHARE:
        return "share"
    if measure in _RATIO:
        return "ratio"
    if measure == "risk difference" or str(row["reading"]).endswith("_pct"):
        return "points"
    if str(row["reading"]).endswith("_deg"):
        return "degrees"
    return "difference"


_PANEL_AXES = {
    "share": "Share of patients (%); the stated figure is the dashed mark",
    "ratio": "Ratio (log scale); 1 = no difference",
    "points": "Difference (percentage points); 0 = no difference",
    "degrees": "Difference (degrees); 0 = no difference",
    "difference": "Difference; 0 = no difference",
}


def _row_label(row: pd.Series) -> str:
    statement = str(row["statement"])
    extras = []
    if row["population"] not in ("all", "") and str(row["population"]).lower() not in statement.lower():
        extras.append(str(row["population"]))
    reading = str(row["reading"])
    if row["measure"] in _RATIO or row["measure"] == "risk difference":
        extras.append(str(row["measure"]))
    if reading not in ("complete case", "adjusted", "", "nan") and not reading.startswith("by "):
        extras.append(_label(reading) if reading in _TERM_LABELS else reading.replace("_", " "))
    text = "\n".join(textwrap.wrap(statement, 46))
    return text + (f"\n[{': '.join(extras)}]" if extras else "")


def claims_chart(claims: Any, *, suppress_below: int = 0) -> Figure:
    """Every claim as a dot and its 95% interval, the stated figure marked, the verdict in words.

    One panel per scale: shares of patients against the stated figure (dashed mark "stated 90%"),
    ratios on a log scale and differences against no difference. The verdict is written beside
    each row and also shown by the marker's shape (``VERDICT_STYLES``), not by colour alone.

    Parameters
    ----------
    claims : ClaimsResult
        From :func:`outcomes.evaluate_claims`. Primary rows are drawn, with the per-procedure
        and adjusted secondary rows; worst-case and sensitivity readings are left to the table.
    suppress_below : int, default 0
        Rows whose estimate would disclose a count under this number (n, or a share's events or
        non-events) are listed under the chart instead of drawn.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from outcomes import evaluate_claims, load_records
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(300, seed=1)
    >>> fig = claims_chart(evaluate_claims(load_records(procs, scores)))
    >>> any(line.get_gid() == "stated" for ax in fig.axes for line in ax.lines)
    True
    """
    table = getattr(claims, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"`claims` must be a ClaimsResult from evaluate_claims; got {type(claims).__name__}.")
    below = check_suppress_below(suppress_below)
    keep = (table["role"] == "primary") | (
        (table["role"] == "secondary") & (table["reading"] != "worst case")
        & (table["measure"] != "median hours to relief") & (table["verdict"] != ""))  # context rows: table only
    rows = table[keep].reset_index(drop=True)
    # rows without a number are listed under the chart, not drawn as empty panels
    missing = rows[(rows["verdict"] == "not assessable") | rows["estimate"].isna()]
    small = rows[[hides_estimate(r, below) for _, r in rows.iterrows()]].drop(index=missing.index, errors="ignore")
    rows = rows.drop(index=missing.index.union(small.index)).reset_index(drop=True)
    rows = rows.assign(panel=rows.apply(_panel, axis=1) if len(rows) else pd.Series(dtype=str))
    order = [p for p in _PANEL_AXES if (rows["panel"] == p).any()]
    labels = [_row_label(r) for _, r in rows.iterrows()]
    # each row as tall as its wrapped label needs
    rows = rows.assign(label=labels, space=[max(1.0, 0.36 * (t.count("\n") + 1) + 0.25) for t in labels])
    spans = [float(rows.loc[rows["panel"] == p, "space"].sum()) for p in order]
    with _style():
        fig = Figure(figsize=(10.0, 0.9 + 0.5 * sum(spans) + 0.65 * len(order)), layout="constrained")
        if not order:
            message = (f"Every result would show counts under {below}; none is drawn." if len(small)
                       else "No claim could be assessed in these records.")
            return _empty(fig, fig.add_subplot(), message)
        axes = fig.subplots(len(order), 1, gridspec_kw={"height_ratios": [s + 1.0 for s in spans]}, squeeze=False)[:, 0]
        for ax, panel in zip(axes, order):
            sub = rows[rows["panel"] == panel].reset_index(drop=True)
            space = sub["space"].to_numpy(float)
            y = space.sum() - (np.cumsum(space) - space / 2)
            est = sub["estimate"].to_numpy(float)
            low, high = sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float)
            if panel == "points":
                is_rd = (sub["measure"] == "risk difference").to_numpy()
                factor = np.where(is_rd, 100.0, 1.0)
                est, low, high = est * factor, low * factor, high * factor
            for yi, (_, r), e, lo, hi in zip(y, sub.iterrows(), est, low, high):
                colour, marker, _icon = VERDICT_STYLES.get(r["verdict"], VERDICT_STYLES["not assessable"])
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.plot([lo, hi], [yi, yi], color=colour, linewidth=2.2, solid_capstyle="butt")
                if np.isfinite(e) and marker:
                    ax.plot([e], [yi], marker=marker, color=colour, markersize=8.5, markeredgecolor="black",
                            markeredgewidth=0.7, linestyle="none")
                if panel == "share" and pd.notna(r["stated"]):
                    _stated_line(ax, float(r["stated"]), vertical=True, span=(yi - 0.38, yi + 0.38))
                    ax.annotate(f"stated {fmt.percent(r['stated'])}", xy=(float(r["stated"]), yi + 0.38),
                                xytext=(3, 0), textcoords="offset points", fontsize=7.5, va="top", ha="left")
                word = "NOT ASSESSABLE" if r["verdict"] == "not assessable" else str(r["verdict"]).upper()
                ax.annotate(f"{word}", xy=(1.01, yi), xycoords=("axes fraction", "data"), va="center",
                            ha="left", fontsize=8.5, fontweight="bold", color="black")
            ax.set_yticks(y, list(sub["label"]), fontsize=8.3)
            ax.set_ylim(-0.2, space.sum() + 0.2)
            ax.grid(axis="y", visible=False)
            ax.set_xlabel(_PANEL_AXES[panel])
            if panel == "share":
                ax.set_xlim(0, 1)
                _percent_axis(ax.xaxis)
            elif panel == "ratio":
                ax.set_xscale("log")
                ax.axvline(1.0, **_NULL)
                finite = np.concatenate([low[np.isfinite(low)], high[np.isfinite(high)], [0.8, 1.25]])
                ax.set_xlim(max(finite.min() / 1.3, 1e-2), min(finite.max() * 1.3, 1e3))
                _log_ticks(ax)
            else:
                ax.axvline(0.0, **_NULL)
        axes[0].set_title("The clinic's statements against its records (dot: observed; bar: 95% interval)")
        if len(missing):
            names = list(dict.fromkeys(textwrap.shorten(str(v), 60, placeholder="...") for v in missing["statement"]))
            note = "Not assessable in these records: " + "; ".join(names)
        if len(small):
            note = (note + ". " if len(missing) else "") + f"Not drawn, as counts under {below} would show: {len(small)} result(s)"
        if len(missing) or len(small):
            fig.supxlabel(note, fontsize=8.3, color="#555555", wrap=True)
    return fig


# ---- Kaplan-Meier relief curves ---------------------------------------------------------------------

def _km_steps(km: Any, until: float, *, rising: bool, snap: tuple[float, float] | None = None
              ) -> tuple[np.ndarray, ...]:
    """The step function of a Kaplan-Meier result up to ``until``: times and values (and band).

    With ``snap = (horizon, grace)`` a step at a time in (horizon, horizon + grace] is drawn at the
    horizon: relief first seen at the 48-hour visit counts at 48 hours even when the visit came up
    to ``grace`` hours late, as the claims count it. The value drawn at the horizon is then the
    curve at horizon + grace, the claim's own reading; every other step stays where it is.
    """
    tab = km.table
    times = tab["time"].to_numpy(float)
    keep = times <= until
    t = times[keep]
    s, lo, hi = (tab[c].to_numpy(float)[keep] for c in ("survival", "ci_low", "ci_high"))
    if snap is not None:
        horizon, grace = snap
        t = np.where((t > horizon) & (t <= horizon + grace), horizon, t)
        last = np.r_[t[1:] != t[:-1], True]  # a run of steps moved onto the horizon: keep its last value
        t, s, lo, hi = t[last], s[last], lo[last], hi[last]
    t = np.concatenate(([0.0], t, [until]))
    s, lo, hi = (np.concatenate(([1.0], v, v[-1:] if len(v) else [1.0])) for v in (s, lo, hi))
    if rising:
        s, lo, hi = 1 - s, 1 - hi, 1 - lo
    return t, s, lo, hi


def relief_curve_points(km: Any, *, horizon_hours: float = 48.0, grace_hours: float = 6.0,
                        max_hours: float = 168.0) -> pd.DataFrame:
    """The points of a cumulative relief curve as :func:`relief_curves` draws it.

    Parameters
    ----------
    km : KaplanMeierResult
        Time to relief (event = relief), e.g. ``details["relief_48h_vertebroplasty"]["kaplan_meier"]``.
    horizon_hours : float, default 48
        ``Definitions.relief_horizon_hours``: where the figure's horizon line is drawn.
    grace_hours : float, default 6
        ``Definitions.relief_horizon_grace_hours``: relief first seen up to this many hours after
        the horizon is drawn at the horizon, so the curve at the horizon line equals the claim's
        estimate (the Kaplan-Meier curve read at horizon + grace). 0 draws the curve unchanged.
    max_hours : float, default 168
        The right end of the curve.

    Returns
    -------
    pandas.DataFrame
        One row per step, in order: ``hours`` (where the step is drawn), ``relieved`` (cumulative
        share relieved from there on), ``ci_low``, ``ci_high`` (its 95% band). The curve is a
        right-continuous step function: its value at ``x`` is the last row with ``hours <= x``.

    Examples
    --------
    >>> from outcomes.stats import kaplan_meier
    >>> km = kaplan_meier([24, 24, 50, 100], [1, 0, 1, 0])
    >>> relief_curve_points(km)["hours"].tolist()
    [0.0, 24.0, 48.0, 100.0, 168.0]
    >>> float(relief_curve_points(km).set_index("hours").loc[48.0, "relieved"]) == float(
    ...     km.cumulative_incidence_at(54.0)["cumulative_incidence"].iloc[0])
    True
    """
    if not isinstance(getattr(km, "table", None), pd.DataFrame):
        raise InputError(f"`km` must be a KaplanMeierResult; got {type(km).__name__}.")
    if not (np.isfinite(grace_hours) and grace_hours >= 0):
        raise InputError(f"`grace_hours` must be a number of hours >= 0; got {grace_hours!r}.")
    t, s, lo, hi = _km_steps(km, max_hours, rising=True, snap=(float(horizon_hours), float(grace_hours)))
    return pd.DataFrame({"hours": t, "relieved": s, "ci_low": lo, "ci_high": hi})


def _at_risk_table(ax: Any, curves: list[tuple[str, Any, str]], times: np.ndarray, below: int, *,
                   scale: float = 1.0, title: str) -> None:
    """Numbers at risk under the x-axis: one row per curve, counts from ``KaplanMeierResult.at``."""
    ax.set_axis_off()
    ax.set_ylim(-0.5, len(curves) - 0.2)
    for i, (label, km, colour) in enumerate(curves):
        yi = len(curves) - 1 - i
        counts = km.at(times)["at_risk"].to_numpy()
        for t, n in zip(times, counts):
            ax.text(t / scale, yi, suppress(int(n), below), ha="center", va="center", fontsize=8.3, color=colour)
        ax.text(-0.045, yi, label, ha="right", va="center", fontsize=8.3, color=colour,
                transform=ax.get_yaxis_transform())
    ax.text(-0.045, len(curves) - 0.25, title, ha="right", va="bottom", fontsize=8.3, fontweight="bold",
            transform=ax.get_yaxis_transform())


def relief_curves(
    curves: Mapping[str, Any],
    *,
    turnbull: Mapping[str, Any] | None = None,
    reference: Any = None,
    reference_label: str = "clinic",
    horizon_hours: float = 48.0,
    grace_hours: float | None = None,
    stated: float | None = None,
    max_hours: float = 168.0,
    at_risk_times: Any = None,
    suppress_below: int = 0,
) -> Figure:
    """Cumulative relief (1 - S, rising) by group, with intervals, the 48-hour line and numbers at risk.

    Parameters
    ----------
    curves : mapping of label -> KaplanMeierResult
        Kaplan-Meier fits of time to relief (event = relief), e.g. one per procedure
        (``ClaimsResult.details["kyphoplasty_faster"]["kaplan_meier"]``). Vertebroplasty and
        kyphoplasty keep their colours; other labels (a physician) are black, then purple.
    turnbull : mapping of label -> TurnbullResult, optional
        Drawn in a second panel beside the curves: relief known only to lie between two visits
        (``details["relief_48h_vertebroplasty"]["turnbull"]``); shading shows the NPMLE's
        identification bounds, not a confidence interval.
    reference : KaplanMeierResult, optional
        A curve to compare with, drawn grey under the others (the whole clinic in a physician's
        review), labelled ``reference_label``.
    horizon_hours : float, default 48
        Where the vertical line of the "within 48 hours" statements goes
        (``Definitions.relief_horizon_hours``).
    grace_hours : float, optional
        ``Definitions.relief_horizon_grace_hours`` (default: the default definitions', 6 hours).
        Relief first seen at a visit up to this many hours after the horizon is drawn at the
        horizon, as the claims count it, so each Kaplan-Meier curve at the horizon line equals the
        claim's estimate (:func:`relief_curve_points`). The Turnbull panel places relief between
        visits itself and is drawn unchanged.
    stated : float, optional
        The stated share relieved by the horizon, drawn as the dashed "stated 90%" line.
    max_hours : float, default 168
        Right end of the x-axis (one week).
    at_risk_times : array-like, optional
        Times of the numbers-at-risk table; every 24 hours by default.
    suppress_below : int, default 0
        Numbers at risk under this are shown as ``"<N"``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from outcomes.stats import kaplan_meier
    >>> km = kaplan_meier([2, 20, 26, 50, 70, 100], [1, 1, 1, 0, 1, 0])
    >>> fig = relief_curves({"vertebroplasty": km}, stated=0.9)
    >>> fig.axes[0].get_ylabel()
    'Patients relieved (cumulative %)'
    """
    below = check_suppress_below(suppress_below)
    if not isinstance(curves, Mapping) or not curves:
        raise InputError(f"`curves` must be a non-empty mapping of label to KaplanMeierResult; got {curves!r}.")
    if grace_hours is None:
        from .definitions import Definitions
        grace = float(Definitions().relief_horizon_grace_hours)
    else:
        grace = float(grace_hours)
    times = np.arange(0.0, max_hours + 1e-9, 24.0) if at_risk_times is None else np.asarray(at_risk_times, float)
    drawn: list[tuple[str, Any, str]] = []
    if reference is not None:
        drawn.append((reference_label, reference, GREY))
    drawn += [(str(label), km, _colour(label, i)) for i, (label, km) in enumerate(_ordered(curves).items())]
    with _style():
        fig = Figure(figsize=(11.0 if turnbull else 7.5, 4.6 + 0.22 * len(drawn)), layout="constrained")
        mosaic = [["km", "tb"], ["risk", "blank"]] if turnbull else [["km"], ["risk"]]
        axd = fig.subplot_mosaic(mosaic, height_ratios=[4.0, 0.35 + 0.3 * len(drawn)],
                                 width_ratios=[1.25, 1.0] if turnbull else None, gridspec_kw={"hspace": 0.02})
        ax = axd["km"]
        for label, km, colour in drawn:
            points = relief_curve_points(km, horizon_hours=horizon_hours, grace_hours=grace, max_hours=max_hours)
            t, s, lo, hi = (points[c].to_numpy() for c in ("hours", "relieved", "ci_low", "ci_high"))
            is_ref = colour == GREY
            if not is_ref:  # the reference is context: a plain grey line, so bands never mix
                ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.18, linewidth=0)
            ax.step(t, s, where="post", color=colour, label=f"{label} (n = {suppress(int(km.n), below)})",
                    linewidth=3.0 if is_ref else 1.9, zorder=2 if is_ref else 3, gid=f"relief:{label}")
        _relief_axes(ax, horizon_hours, stated, max_hours, grace=grace)
        ax.set_title("Relief by the first visit showing it, with 95% intervals")
        ax.legend(loc="lower right")
        ax.tick_params(labelbottom=True)
        risk = axd["risk"]
        risk.sharex(ax)
        _at_risk_table(risk, drawn, times, below, title="Not yet relieved, still followed")
        if turnbull:
            tb_ax = axd["tb"]
            grid = np.linspace(0.0, max_hours, 600)
            for i, (label, tb) in enumerate(_ordered(turnbull).items()):
                colour = _colour(label, i)
                inc = tb.cumulative_incidence_at(grid)
                tb_ax.fill_between(grid, inc["bound_low"], inc["bound_high"], color=colour, alpha=0.2, linewidth=0)
                tb_ax.plot(grid, inc["cumulative_incidence"], color=colour, drawstyle="steps-post",
                           label=f"{label} (n = {suppress(int(tb.n), below)})")
            _relief_axes(tb_ax, horizon_hours, stated, max_hours)
            tb_ax.set_title("Relief placed between two visits")
            tb_ax.legend(loc="lower right")
            axd["blank"].set_axis_off()
    return fig


def _ordered(curves: Mapping[str, Any]) -> dict[str, Any]:
    """Vertebroplasty first, then kyphoplasty, then the rest in their order (legends agree)."""
    rank = {"vertebroplasty": 0, "kyphoplasty": 1}
    return dict(sorted(curves.items(), key=lambda kv: rank.get(str(kv[0]).lower(), 2)))


def _relief_axes(ax: Any, horizon: float, stated: float | None, max_hours: float, *, grace: float = 0.0) -> None:
    ax.axvline(horizon, gid="horizon", **_MARK)
    text = f"{horizon:g} h" + (f"\n(visits up to\n{grace:g} h late count)" if grace else "")
    ax.annotate(text, xy=(horizon, 0.03), xytext=(4, 0), textcoords="offset points", fontsize=8, va="bottom",
                linespacing=1.1, bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    if stated is not None:
        _stated_line(ax, stated, text_at="start")
    ax.set_xlim(0, max_hours)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(np.arange(0.0, max_hours + 1e-9, 24.0))
    _percent_axis(ax.yaxis)
    ax.set_xlabel("Hours after the procedure")
    ax.set_ylabel("Patients relieved (cumulative %)")


# ---- success by fracture age ---------------------------------------------------------------------

def success_by_fracture_age(
    endpoints: pd.DataFrame,
    *,
    early_max_days: float = 42.0,
    stated: float | None = None,
    bin_days: int = 7,
    last_bin_weeks: int = 16,
    confidence_level: float = 0.95,
    suppress_below: int = 0,
) -> Figure:
    """Success by fracture age at the procedure, in weekly bins with Wilson intervals.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        From :func:`outcomes.derive_endpoints` (``fracture_age_days``, ``success``).
    early_max_days : float, default 42
        The six-week line (``Definitions.early_max_fracture_age_days``).
    stated : float, optional
        A stated success rate to draw as the dashed "stated 90%" line.
    bin_days : int, default 7
        Width of a bin.
    last_bin_weeks : int, default 16
        Fracture ages from this many bins on are pooled into one open bin.
    confidence_level : float, default 0.95
    suppress_below : int, default 0
        Bin sizes under this are written ``"<N"`` and those bins are not drawn.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The pooled success rates of the early and late groups are drawn as horizontal segments.
    Each bin's interval is the Wilson score interval (:func:`outcomes.stats.proportion`).

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"fracture_age_days": [3, 10, 12, 50, 60, 61], "success": [True, True, False, True, False, False]})
    >>> fig = success_by_fracture_age(ep)
    >>> fig.axes[0].get_xlabel()
    'Fracture age at the procedure (weeks)'
    """
    below = check_suppress_below(suppress_below)
    for column in ("fracture_age_days", "success"):
        if column not in endpoints:
            raise InputError(f"`endpoints` must have a {column!r} column (derive_endpoints); got {sorted(endpoints.columns)!r}.")
    data = endpoints[["fracture_age_days", "success"]].dropna()
    with _style():
        fig = Figure(figsize=(8.0, 4.4), layout="constrained")
        ax = fig.add_subplot()
        ax.set_xlabel("Fracture age at the procedure (weeks)")
        ax.set_ylabel("Success at 4 weeks (% of patients)")
        if data.empty:
            return _empty(fig, ax, "No fracture ages with a 4-week score in these records.")
        week = np.minimum(np.floor(data["fracture_age_days"].to_numpy(float) / bin_days), last_bin_weeks)
        grouped = pd.DataFrame({"week": week, "success": data["success"].astype(bool).to_numpy()}).groupby("week")["success"]
        counts = pd.DataFrame({"n": grouped.size(), "k": grouped.sum()})
        # One interval per bin (at most last_bin_weeks + 1 calls), not per patient.
        ci = [proportion(int(k), int(n), confidence_level=confidence_level).ci for n, k in zip(counts["n"], counts["k"])]
        x = counts.index.to_numpy(float) + 0.5
        rate = (counts["k"] / counts["n"]).to_numpy(float)
        lo, hi = np.array([c.low for c in ci]), np.array([c.high for c in ci])
        early_weeks = early_max_days / bin_days
        ax.axvspan(0, early_weeks, color=OKABE_ITO["bluish_green"], alpha=0.07, linewidth=0)
        shown = counts["n"].to_numpy() >= max(below, 1)  # a bin of fewer than N patients is not drawn
        ax.vlines(x[shown], lo[shown], hi[shown], color="#333333", linewidth=1.6)
        ax.plot(x[shown], rate[shown], "o", color="black", markersize=6, label="weekly bin, 95% interval")
        if not shown.all():
            ax.annotate(f"bins of fewer than {below} patients are not drawn", xy=(0.99, 0.11), xycoords="axes fraction",
                        ha="right", fontsize=8, color=TEXT_GREY)
        ax.axvline(early_weeks, **_MARK)  # explained by the legend and the shading, so no label on the data
        early = data["fracture_age_days"].to_numpy(float) <= early_max_days
        ok = data["success"].astype(bool).to_numpy()
        for mask, x0, x1, text in ((early, 0, early_weeks, "treated within"), (~early, early_weeks, last_bin_weeks + 1,
                                                                               "treated after")):
            if mask.any():
                r = ok[mask].mean()
                ax.plot([x0, x1], [r, r], color=OKABE_ITO["bluish_green"] if text == "treated within" else GREY,
                        linewidth=2.4, alpha=0.9, solid_capstyle="butt",
                        label=f"{text} {early_weeks:g} weeks: {fmt.percent(r)} (pooled)")
        for xi, n in zip(x, counts["n"]):
            ax.text(xi, 0.015, suppress(int(n), below), ha="center", va="bottom", fontsize=7.5, color=TEXT_GREY)
        ax.text(-0.3, 0.015, "n", ha="right", va="bottom", fontsize=7.5, color=TEXT_GREY)
        if stated is not None:
            _stated_line(ax, stated, text_at="outside")
        fig.legend(loc="outside lower center", ncols=2, fontsize=8.3)
        ax.set_ylim(0, 1.05)
        ax.set_xlim(-0.5, last_bin_weeks + 1.2)
        ticks = np.arange(0, last_bin_weeks + 1, 2)
        ax.set_xticks(ticks, [f"{t:g}" if t < last_bin_weeks else f"{t:g}+" for t in ticks])
        _percent_axis(ax.yaxis)
        ax.set_title("Success by fracture age (weekly bins; the shaded band is treatment within six weeks)")
    return fig


# ---- odds-ratio forest ------------------------------------------------------------------------------

def odds_ratio_forest(odds: Any, *, outcome: str = "an overnight stay") -> Figure:
    """Forest plot of odds ratios with 95% intervals on a log scale (the overnight-stay factors).

    Parameters
    ----------
    odds : OddsRatioResult or pandas.DataFrame
        ``ClaimsResult.details["overnight_reasons"]["odds_ratios"]`` or its ``table`` (columns
        ``term, odds_ratio, ci_low, ci_high``; rows with ``role == "exposure"`` are drawn).
    outcome : str
        What the odds are of, for the axis label.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"term": ["complication"], "odds_ratio": [4.8], "ci_low": [1.9], "ci_high": [12.0]})
    >>> odds_ratio_forest(t).axes[0].get_xscale()
    'log'
    """
    table = odds.table if hasattr(odds, "table") else odds
    if not isinstance(table, pd.DataFrame) or not {"term", "odds_ratio", "ci_low", "ci_high"} <= set(table.columns):
        raise InputError("`odds` must be an OddsRatioResult or a frame with term, odds_ratio, ci_low, ci_high; "
                         f"got {type(odds).__name__}.")
    rows = table[table["role"] == "exposure"] if "role" in table else table
    rows = rows.reset_index(drop=True)
    with _style():
        fig = Figure(figsize=(8.0, 1.3 + 0.55 * max(len(rows), 1)), layout="constrained")
        ax = fig.add_subplot()
        ax.set_xlabel(f"Odds ratio of {outcome} (log scale); 1 = no association")
        if rows.empty:
            return _empty(fig, ax, "No factors to show.")
        y = np.arange(len(rows))[::-1]
        est, lo, hi = (rows[c].to_numpy(float) for c in ("odds_ratio", "ci_low", "ci_high"))
        # drawn as the claims chart draws them (one style for a ratio in the whole report): the
        # verdict's colour and shape, a ratio above 1 being the claimed direction
        for yi, e, a, b in zip(y, est, lo, hi):
            word = "supported" if a > 1 else ("contradicted" if b < 1 else "inconclusive")
            colour, marker, _icon = VERDICT_STYLES[word]
            ax.plot([a, b], [yi, yi], color=colour, linewidth=2.2, solid_capstyle="butt")
            ax.plot([e], [yi], marker=marker, color=colour, markersize=8.5, markeredgecolor="black",
                    markeredgewidth=0.7, linestyle="none", gid="odds_ratio")
        ax.axvline(1.0, **_NULL)
        for yi, e, a, b in zip(y, est, lo, hi):
            ax.annotate(f"{fmt.number(e)} ({fmt.interval(a, b, as_percent=False)})", xy=(1.01, yi),
                        xycoords=("axes fraction", "data"), va="center", fontsize=8.8)
        ax.set_yticks(y, [_label(t) for t in rows["term"]])
        ax.set_xscale("log")
        finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)], [0.5, 2.0]])
        ax.set_xlim(max(finite.min() / 1.3, 1e-2), min(finite.max() * 1.3, 1e3))
        _log_ticks(ax)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.grid(axis="y", visible=False)
        ax.set_title("Odds ratios, mutually adjusted, with 95% intervals")
    return fig


# ---- durability ---------------------------------------------------------------------------------------

def durability_curve(
    km: Any,
    *,
    times_hours: Any = (HOURS_PER_YEAR, 3 * HOURS_PER_YEAR),
    stated: float | None = None,
    follow_up_hours: float | None = None,
    suppress_below: int = 0,
) -> Figure:
    """Relief kept over time among the relieved (Kaplan-Meier), with the follow-up horizon marked.

    Parameters
    ----------
    km : KaplanMeierResult
        Time from first relief to its loss (``details["durable_relief"]["kaplan_meier"]``).
    times_hours : sequence of float, default (1 year, 3 years)
        The times the claim is read at; each is marked with its value.
    stated : float, optional
        The stated share still relieved, drawn as the dashed "stated 80%" line.
    follow_up_hours : float, optional
        The end of follow-up; defaults to the last time in the curve. Marked as a vertical line.
    suppress_below : int, default 0
        Numbers at risk under this are shown as ``"<N"``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from outcomes.stats import kaplan_meier
    >>> fig = durability_curve(kaplan_meier([1000, 5000, 9000, 20000], [1, 0, 0, 1]), stated=0.8)
    >>> fig.axes[0].get_xlabel()
    'Years since relief'
    """
    below = check_suppress_below(suppress_below)
    table = getattr(km, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"`km` must be a KaplanMeierResult; got {type(km).__name__}.")
    horizon = float(table["time"].max()) if follow_up_hours is None else float(follow_up_hours)
    end = horizon * 1.04  # the axis ends with the follow-up: no empty years the data never reach
    with _style():
        fig = Figure(figsize=(8.0, 4.8), layout="constrained")
        axd = fig.subplot_mosaic([["km"], ["risk"]], height_ratios=[4.0, 0.7], gridspec_kw={"hspace": 0.02})
        ax = axd["km"]
        t, s, lo, hi = _km_steps(km, horizon, rising=False)
        colour = OKABE_ITO["bluish_green"]
        ax.fill_between(t / HOURS_PER_YEAR, lo, hi, step="post", color=colour, alpha=0.18, linewidth=0)
        ax.step(t / HOURS_PER_YEAR, s, where="post", color=colour, label="still relieved (95% interval)")
        if stated is not None:
            _stated_line(ax, stated, text_at="outside")
        for th in times_hours:
            if th <= horizon:
                row = km.at(th).iloc[0]
                ax.plot([th / HOURS_PER_YEAR], [row["survival"]], "o", color="black", markersize=5)
                # above the point when the curve lies over the stated line, else below: never across it
                up = stated is None or row["survival"] >= stated
                ax.annotate(f"{fmt.hours(th)}: {fmt.percent(row['survival'])}", xy=(th / HOURS_PER_YEAR, row["survival"]),
                            xytext=(0, 9 if up else -9), textcoords="offset points", fontsize=8.5,
                            ha="right" if th / HOURS_PER_YEAR > 0.8 * horizon / HOURS_PER_YEAR else "center",
                            va="bottom" if up else "top", zorder=6,
                            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"})
        not_reached = [th for th in times_hours if th > horizon]
        ax.axvline(horizon / HOURS_PER_YEAR, **_MARK)
        text = f"follow-up ends at {fmt.hours(horizon)}"
        if not_reached:
            text += "; " + ", ".join(fmt.hours(th) for th in not_reached) + " not reached"
        ax.annotate(text, xy=(horizon / HOURS_PER_YEAR, 0.97), xycoords=("data", "axes fraction"), xytext=(-4, 0),
                    textcoords="offset points", ha="right", va="top", fontsize=8.5, zorder=6,
                    bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"})
        ax.set_xlim(0, end / HOURS_PER_YEAR)
        ax.set_ylim(0, 1.02)
        _percent_axis(ax.yaxis)
        ax.set_xlabel("Years since relief")
        ax.set_ylabel("Relieved patients still relieved (%)")
        ax.set_title("Durability: relief kept among patients who were relieved (Kaplan-Meier)")
        ax.legend(loc="lower left")
        ax.tick_params(labelbottom=True)
        risk = axd["risk"]
        risk.sharex(ax)
        grid = np.arange(0.0, end / HOURS_PER_YEAR + 1e-9, 0.5) * HOURS_PER_YEAR
        _at_risk_table(risk, [("still followed", km, "black")], grid, below, scale=HOURS_PER_YEAR,
                       title="Relieved, still followed")
    return fig
