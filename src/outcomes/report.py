"""Reports: the clinic quality report and the physician review, rendered to one HTML file.

:func:`render_report` runs a parameterised notebook shipped inside the package
(``outcomes/notebooks/clinic_report.ipynb`` or ``physician_review.ipynb``) with papermill, then
exports it with nbconvert without any code, every figure embedded as an inline PNG: one file to
e-mail. The notebooks only call the functions below, which turn results into the report's
words, tables and figures; no statistics live in a notebook.

The building blocks (each returns HTML text, a DataFrame of formatted cells or a Figure):

- :func:`header_html`, :func:`summary_html` (the first screen), :func:`comparison_html` (the
  physician's first screen), :func:`closing_sentence`;
- :func:`records_html`, :func:`table_one`, :func:`scorecard`, :func:`discharge_table`,
  :func:`evidence_html`, :func:`methods_html`, :func:`limitations_html`, :func:`stamp_html`;
- figures from results: :func:`flow_figure`, :func:`claims_figure`, :func:`relief_figure`,
  :func:`fracture_age_figure`, :func:`overnight_figure`, :func:`durability_figure`, embedded with
  :func:`figure_html`;
- :func:`suppress`: small-cell suppression; every count under ``suppress_below`` is shown as
  ``"<N"`` in tables, text and figures.

Nothing rendered names a file path of the machine: inputs appear by file name and SHA-256 only.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import platform
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from datetime import date
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import formatting as fmt
from ._suppress import check_suppress_below, hides_estimate, is_suppressed, suppress
from .cohort import Cohort
from .definitions import Definitions
from .exceptions import IdentifiersAllowedWarning, InputError, OutcomesError

__all__ = [
    "claim_html",
    "claims_figure",
    "closing_sentence",
    "comparison_html",
    "discharge_table",
    "durability_figure",
    "evidence_html",
    "figure_html",
    "flow_figure",
    "fracture_age_figure",
    "header_html",
    "is_synthetic",
    "limitations_html",
    "methods_html",
    "overnight_figure",
    "physician_endpoints",
    "records_html",
    "relief_figure",
    "render_report",
    "scorecard",
    "stamp_html",
    "summary_html",
    "suppress",
    "table_html",
    "table_one",
]

NOTEBOOKS = {"clinic": "clinic_report.ipynb", "physician": "physician_review.ipynb"}
_SHARE = ("proportion", "relieved by", "still relieved at")
_RATIO = ("hazard ratio", "odds ratio", "adjusted odds ratio")
_GOOD = ("above", "consistent", "supported")
_BAD = ("below", "contradicted")
_ICONS = {"below": "\u25bc", "contradicted": "\u2718", "above": "\u25b2", "consistent": "\u25cf",
          "supported": "\u2714", "inconclusive": "?", "not assessable": "\u2013"}
_ENDPOINT_WORDS = {"success": "with a 4-week score", "same_day_discharge": "with a recorded discharge"}
_OUTCOME_WORDS = {"overnight": "an overnight stay"}
_EXPOSURE_WORDS = {"early_treatment": ("treated within six weeks", "treated later")}
_SHORT = {"poor_general_health": "poor health", "multiple_levels": "2+ levels", "complication": "complication",
          "height_restoration_pct": "height", "kyphotic_angle_change_deg": "angle"}
_TERM_WORDS = {"poor_general_health": "poor general health (ASA 3 or more)",
               "multiple_levels": "two or more levels treated", "complication": "a complication",
               "height_restoration_pct": "height restoration", "kyphotic_angle_change_deg": "kyphotic angle change"}


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _words(term: Any) -> str:
    return _TERM_WORDS.get(str(term), str(term).replace("_", " "))


def _unit(term: Any) -> str:
    term = str(term)
    return " percentage points" if term.endswith("_pct") else " degrees" if term.endswith("_deg") else ""


def _signed(value: float, decimals: int = 1) -> str:
    return "-" if not np.isfinite(value) else f"{value:+.{decimals}f}"


def _span(low: float, high: float, decimals: int = 1) -> str:
    """An interval of plain numbers: "5.6 to 7.1" (a dash would read as a minus sign)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "-"
    return f"{low:.{decimals}f} to {high:.{decimals}f}"


def _ratio(value: float) -> str:
    return fmt.number(value, 2)


def _ratio_span(low: float, high: float) -> str:
    return fmt.interval(low, high, as_percent=False)


# ---- small helpers used by the notebooks ----------------------------------------------------------

def is_synthetic(data: Cohort | pd.DataFrame) -> bool:
    """Whether the records are the package's synthetic demo data (a ``site_id`` starting "synthetic").

    The simulator (:mod:`outcomes.synthetic`) names its sites ``synthetic-north`` and
    ``synthetic-south``; a file name or hash would stop matching as soon as the demo is
    regenerated or copied, the site names do not.

    Examples
    --------
    >>> import pandas as pd
    >>> is_synthetic(pd.DataFrame({"site_id": ["synthetic-north", "synthetic-south"]}))
    True
    >>> is_synthetic(pd.DataFrame({"site_id": ["Northside"]})), is_synthetic(pd.DataFrame({"x": [1]}))
    (False, False)
    """
    frame = data.procedures if isinstance(data, Cohort) else data
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"`data` must be a Cohort or a DataFrame; got {type(data).__name__}.")
    if "site_id" not in frame:
        return False
    sites = frame["site_id"].dropna().astype(str).str.strip().str.lower()
    return bool(sites.str.startswith("synthetic").any())


def physician_endpoints(endpoints: pd.DataFrame, physician_id: str) -> pd.DataFrame:
    """One physician's rows of :func:`derive_endpoints`, with a clear error for an unknown id.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"physician_id": ["D1", "D2", "D1"], "x": [1, 2, 3]})
    >>> physician_endpoints(ep, "D1")["x"].tolist()
    [1, 3]
    """
    if "physician_id" not in endpoints or endpoints["physician_id"].isna().all():
        raise InputError("`physician_id` must name a physician in the records; got "
                         f"{physician_id!r}, but the procedures have no physician_id column.")
    ids = endpoints["physician_id"].astype("string")
    known = sorted(ids.dropna().unique())
    if str(physician_id) not in known:
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise InputError(f"`physician_id` must be one of {shown}; got {physician_id!r}.")
    return endpoints[ids == str(physician_id)].reset_index(drop=True)


def table_html(frame: pd.DataFrame, *, caption: str | None = None, index: bool = False,
               css_class: str | None = None) -> str:
    """A formatted frame as the report's HTML table (cells escaped, no pandas styling).

    ``css_class`` adds a class (the report styles ``scorecard`` and ``table-one``).
    """
    classes = ["report-table"] + ([css_class] if css_class else [])
    out = frame.to_html(index=index, escape=True, border=0, classes=classes, na_rep="-")
    if caption:
        out = re.sub(r'(<table[^>]*>)', lambda m: f"{m.group(1)}\n<caption>{_esc(caption)}</caption>", out, count=1)
    return out


def figure_html(fig: Any, *, caption: str | None = None, alt: str | None = None, dpi: int = 110) -> str:
    """Embed a matplotlib Figure as an inline PNG (base64) with a caption; a note when ``fig`` is None.

    The report must be one file that reads offline, so every figure travels inside the HTML.
    """
    if fig is None:
        return f'<p class="note">{_esc(caption or "")} Not enough data for this figure.</p>'
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white",
                metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt_text = alt or caption or "figure"
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return (f'<figure class="report-figure"><img alt="{_esc(alt_text)}" '
            f'src="data:image/png;base64,{data}"/>{cap}</figure>')


# ---- header, banner and the first screen --------------------------------------------------------

def header_html(cohort: Cohort, endpoints: pd.DataFrame | None = None, *, clinic_name: str | None = None,
                physician_id: str | None = None, suppress_below: int = 0) -> str:
    """Title, date range and counts; the synthetic-data banner; privacy warnings.

    Parameters
    ----------
    cohort : Cohort
    endpoints : pandas.DataFrame, optional
        The rows the report is about (one physician's in a review); all procedures by default.
    clinic_name : str, optional
    physician_id : str, optional
        Makes the title a physician review.
    suppress_below : int, default 0

    Returns
    -------
    str
        HTML.
    """
    below = check_suppress_below(suppress_below)
    frame = cohort.procedures if endpoints is None else endpoints
    clinic = f" \u2014 {_esc(clinic_name)}" if clinic_name else ""
    if physician_id is not None:
        title = f"Physician review: {_esc(physician_id)}{clinic}"
    else:
        title = f"Vertebral augmentation outcomes{clinic}"
    dates = pd.to_datetime(frame["procedure_date"], errors="coerce") if "procedure_date" in frame else pd.Series([], dtype="datetime64[ns]")
    span = (f"Procedures {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}" if dates.notna().any()
            else "Procedure dates not recorded")
    parts = [f"{suppress(len(frame), below)} procedures",
             f"{suppress(frame['patient_id'].nunique(), below)} patients"]
    if "physician_id" in frame and frame["physician_id"].notna().any() and physician_id is None:
        parts.append(f"{suppress(frame['physician_id'].nunique(), below)} physicians")
    out = [f"<h1>{title}</h1>", f'<p class="subtitle">{_esc(span)} \u00b7 {_esc(", ".join(parts))}</p>']
    if is_synthetic(cohort):
        out.append('<div class="banner synthetic"><strong>Synthetic demo data \u2014 not real patients.</strong> '
                   "These records were generated by the package's simulator to show how the report works.</div>")
    for warning in cohort.privacy_warnings:
        out.append(f'<div class="banner privacy"><strong>Privacy warning:</strong> {_esc(warning)}</div>')
    if below:
        out.append(f'<p class="note">Counts under {below} are shown as "&lt;{below}" (small-cell suppression).</p>')
    return "\n".join(out)


def _badge(verdict: str) -> str:
    verdict = str(verdict or "not assessable")
    kind = "bad" if verdict in _BAD else "good" if verdict in _GOOD else "unsure" if verdict == "inconclusive" else "na"
    return (f'<span class="verdict v-{kind}" title="{_esc(verdict)}">'
            f'<span class="icon" aria-hidden="true">{_ICONS.get(verdict, "")}</span> {_esc(verdict.upper())}</span>')


_COUNT = re.compile(
    r"(?<![\d.,])(?<!than )(?<!least )(?<!ASA )(?<!class )"   # not a threshold or a class
    r"(\d{1,3}(?:,\d{3})+|\d+)(?![.,]?\d)"                     # a whole number, 1,234 style allowed
    r"(?!\s*(?:%|hours?\b|years?\b|weeks?\b|days?\b|months?\b|points?\b|percent|degrees?\b|h\b|needed))")


def _counts_hidden(text: Any, below: int) -> str:
    """Free text from the results (notes, warnings) with every count under ``below`` shown as "<N".

    Numbers that are times, percentages, points or thresholds ("at least 10 needed") are kept.

    >>> _counts_hidden("Only 7 patients have this outcome (at least 10 needed); 83% of 433 at 1 year.", 11)
    'Only <11 patients have this outcome (at least 10 needed); 83% of 433 at 1 year.'
    """
    text = str(text)
    if not below:
        return text
    return _COUNT.sub(lambda m: suppress(int(m.group(1).replace(",", "")), below), text)


def _hidden(row: pd.Series, below: int) -> bool:
    """Whether a row's estimate would disclose a small count (numerator, non-events or n under N)."""
    return hides_estimate(row, below)


def _rows(claims: Any, claim_id: str) -> pd.DataFrame:
    table = claims.table
    return table[table["claim_id"] == claim_id]


def _settle_direction(row: pd.Series) -> int | None:
    """About how many more patients would put the interval of an effect wholly on one side of no effect.

    The interval's half-width shrinks as 1/sqrt(n); with the estimate unchanged, it excludes no
    effect once n' = n (w / |estimate - null|)^2 (ratios on the log scale). A rough guide, as the
    report says.
    """
    est, low, high, n = (float(row[c]) if pd.notna(row[c]) else math.nan for c in ("estimate", "ci_low", "ci_high", "n"))
    if not all(np.isfinite([est, low, high, n])) or n <= 0:
        return None
    if row["measure"] in _RATIO:
        if min(est, low, high) <= 0:
            return None
        est, low, high, null = math.log(est), math.log(low), math.log(high), 0.0
    else:
        null = 0.0
    gap = abs(est - null)
    half = (high - low) / 2
    if gap == 0 or half <= 0:
        return None
    needed = math.ceil(n * (half / gap) ** 2)
    return max(needed - int(n), 1)


def _settle_text(claims: Any, claim_id: str, verdict: str, below: int) -> str:
    if verdict != "inconclusive":
        return ""
    rows = _rows(claims, claim_id)
    primary = rows[(rows["role"] == "primary") & (rows["verdict"] == "inconclusive")]
    n = int(primary["n"].max()) if len(primary) and primary["n"].notna().any() else 0
    # Beyond twenty times the patients at hand a number means little: say so instead.
    far = ("Far more patients than these records hold would be needed to settle it: the observed value is very "
           "close to the figure it is compared with.")
    more = [int(v) for v in primary["additional_to_settle"].dropna() if v > 0]
    if more:
        return far if max(more) > 20 * max(n, 1) else f"About {max(more):,} more patients would settle it."
    guesses = [g for g in (_settle_direction(r) for _, r in primary.iterrows()) if g]
    if guesses:
        if max(guesses) > 20 * max(n, 1):
            return far
        return (f"About {max(guesses):,} more patients would settle it, if the effect stayed as observed "
                "(a rough guide).")
    return "More patients would be needed to settle it."


def _numbers_text(claims: Any, claim: Any, below: int) -> str:
    """The numbers behind one claim, in words, with counts suppressed."""
    rows = _rows(claims, claim.id)
    primary = rows[rows["role"] == "primary"]
    head = primary.iloc[0] if len(primary) else rows.iloc[0]
    if len(primary) and (primary["verdict"] == "not assessable").all() and claim.kind not in ("kept_by",):
        return _esc(_counts_hidden(" ".join(dict.fromkeys(str(n) for n in primary["note"] if n)), below))
    hide = "counts too small to show"
    if claim.kind == "proportion":
        qualifier = _ENDPOINT_WORDS.get(str(claim.endpoint), "")
        if _hidden(head, below):
            text = f"{hide} ({suppress(head['n'], below)} patients)."
        else:
            text = (f"{fmt.percent(head['estimate'])} (95% CI {fmt.interval(head['ci_low'], head['ci_high'])}) of "
                    f"{suppress(head['n'], below)} patients {qualifier}".rstrip() + f", against {fmt.percent(head['stated'])} stated.")
        worst = rows[(rows["reading"] == "worst case") & (rows["population"] == head["population"])]
        if len(worst) and worst.iloc[0]["verdict"] != "not assessable" and not _hidden(worst.iloc[0], below):
            text += f" {fmt.percent(worst.iloc[0]['estimate'])} if missing scores count as failures."
        per = rows[(rows["role"] == "secondary") & (rows["reading"] == "complete case")
                   & (rows["population"] != head["population"])]
        bits = [f"{r['population']} {fmt.percent(r['estimate'])} ({fmt.interval(r['ci_low'], r['ci_high'])})"
                for _, r in per.iterrows() if r["verdict"] != "not assessable" and not _hidden(r, below)]
        if bits:
            text += " " + "; ".join(bits).capitalize() + "."
        return _esc(text)
    if claim.kind == "relief_by":
        horizon = fmt.hours(claim.horizon_hours)
        if _hidden(head, below):
            text = f"{hide} ({suppress(head['n'], below)} patients)."
        else:
            text = (f"{fmt.percent(head['estimate'])} (95% CI {fmt.interval(head['ci_low'], head['ci_high'])}) of "
                    f"{suppress(head['n'], below)} patients were relieved by {horizon} (Kaplan-Meier), "
                    f"against {fmt.percent(head['stated'])} stated.")
            tb = rows[rows["role"] == "sensitivity"]
            if len(tb) and pd.notna(tb.iloc[0]["estimate"]):
                text += f" Placing each relief between the two visits around it (Turnbull): {fmt.percent(tb.iloc[0]['estimate'])}."
        return _esc(text)
    if claim.kind == "kept_by":
        assessed = rows[rows["verdict"] != "not assessable"]
        parts = []
        for _, r in rows.iterrows():
            if r["verdict"] == "not assessable":
                parts.append(_counts_hidden(r["note"], below))
            else:
                parts.append(f"at {r['reading']} {fmt.percent(r['estimate'])} still relieved "
                             f"(95% CI {fmt.interval(r['ci_low'], r['ci_high'])}; {suppress(r['events'], below)} "
                             "patients still followed then)")
        n = int(assessed.iloc[0]["n"]) if len(assessed) else int(head["n"])
        return _esc(f"Among {suppress(n, below)} relieved patients: " + "; ".join(parts)
                    + f". Stated: {fmt.percent(claim.stated)}.")
    if claim.kind == "faster":
        medians = rows[rows["measure"] == "median hours to relief"]
        med = {r["population"]: fmt.hours(r["estimate"]) for _, r in medians.iterrows()}
        text = (f"At any time after the procedure, {claim.group} patients were {_ratio(head['estimate'])} times as "
                f"likely to be relieved as {claim.reference} patients (hazard ratio, 95% CI "
                f"{_ratio_span(head['ci_low'], head['ci_high'])}; log-rank {fmt.pvalue(head['p_value'])}).")
        if med:
            text += (f" Median time to relief: {claim.group} {med.get(claim.group, '-')}, "
                     f"{claim.reference} {med.get(claim.reference, '-')}.")
        return _esc(text)
    if claim.kind == "difference":
        rd = claims.details.get(claim.id, {}).get("risk_difference")
        yes, no = _EXPOSURE_WORDS.get(str(claim.exposure), (f"with {_words(claim.exposure)}", f"without {_words(claim.exposure)}"))
        if rd is not None:
            small = any(is_suppressed(v, below) for v in (rd.count1, rd.nobs1, rd.count2, rd.nobs2,
                                                        rd.nobs1 - rd.count1, rd.nobs2 - rd.count2))
            if small:
                text = f"{hide} ({suppress(rd.nobs1, below)} {yes}, {suppress(rd.nobs2, below)} {no})."
            else:
                text = (f"{fmt.percent(rd.count1 / rd.nobs1)} of {suppress(rd.nobs1, below)} patients {yes} succeeded, "
                        f"{fmt.percent(rd.count2 / rd.nobs2)} of {suppress(rd.nobs2, below)} {no}: ")
                text += (f"{_signed(100 * head['estimate'], 0)} percentage points (95% CI "
                         f"{_span(100 * head['ci_low'], 100 * head['ci_high'], 0)}), {fmt.pvalue(head['p_value'])}.")
        else:
            text = f"{_signed(100 * head['estimate'], 0)} percentage points."
        adjusted = rows[rows["measure"] == "adjusted odds ratio"]
        if len(adjusted) and pd.notna(adjusted.iloc[0]["estimate"]):
            a = adjusted.iloc[0]
            names = str(a["method"]).split("adjusted for ", 1)[-1]
            text += (f" Taking {names.replace('_', ' ')} into account: odds ratio {_ratio(a['estimate'])} "
                     f"({_ratio_span(a['ci_low'], a['ci_high'])}).")
        return _esc(text)
    if claim.kind == "odds_ratios":
        outcome = _OUTCOME_WORDS.get(str(claim.endpoint), str(claim.endpoint).replace("_", " "))
        bits = []
        for _, r in primary.iterrows():
            if r["verdict"] == "not assessable":
                bits.append(f"{_words(r['reading'])}: not assessable")
            else:
                bits.append(f"{_words(r['reading'])} {_ratio(r['estimate'])} ({_ratio_span(r['ci_low'], r['ci_high'])})")
        return _esc(f"Odds ratios of {outcome}, each adjusted for the others: " + "; ".join(bits) + ".")
    if claim.kind == "mean_difference":
        bits = []
        for _, r in primary.iterrows():
            if r["verdict"] == "not assessable":
                bits.append(f"{_words(r['reading'])}: {_counts_hidden(r['note'], below)}")
            else:
                bits.append(f"{_words(r['reading'])} {_signed(r['estimate'])}{_unit(r['reading'])} "
                            f"(95% CI {_span(r['ci_low'], r['ci_high'])})")
        return _esc(f"{str(claim.group).capitalize()} minus {claim.reference}: " + "; ".join(bits) + ".")
    return _esc(_counts_hidden(head.get("note", ""), below))


# ---- the dot-and-interval strip (inline SVG, crisp at any size, readable in greyscale) ----------

def _strip_series(claim: Any, rows: pd.DataFrame, below: int) -> tuple[list[tuple], str, float | None, str]:
    """(series, scale, reference value, reference label) for a claim's strip; series = (label, est, lo, hi, verdict)."""
    primary = rows[rows["role"] == "primary"]
    usable = primary[(primary["verdict"] != "not assessable") & primary["estimate"].notna()]
    usable = usable[[not _hidden(r, below) for _, r in usable.iterrows()]]
    if usable.empty:
        return [], "", None, ""
    measure = usable.iloc[0]["measure"]
    if measure in _SHARE:
        series = [("", r["estimate"], r["ci_low"], r["ci_high"], r["verdict"]) for _, r in usable.iterrows()]
        return series, "share", float(usable.iloc[0]["stated"]), f"stated {fmt.percent(usable.iloc[0]['stated'])}"
    label = (lambda r: str(r["reading"])) if len(usable) > 1 else (lambda r: "")
    if measure in _RATIO:
        series = [(label(r), r["estimate"], r["ci_low"], r["ci_high"], r["verdict"]) for _, r in usable.iterrows()]
        return series, "log", 1.0, "no difference"
    factor = 100.0 if measure == "risk difference" else 1.0
    units = {_unit(r["reading"]) for _, r in usable.iterrows()}
    if len(units) > 1:  # different units cannot share one axis; show the first
        usable = usable.iloc[:1]
        label = lambda r: ""  # noqa: E731
    series = [(label(r), factor * r["estimate"], factor * r["ci_low"], factor * r["ci_high"], r["verdict"])
              for _, r in usable.iterrows()]
    return series, "linear", 0.0, "no difference"


_VERDICT_COLOURS = {"below": "#D55E00", "contradicted": "#D55E00", "above": "#009E73", "consistent": "#009E73",
                    "supported": "#009E73", "inconclusive": "#CC79A7", "not assessable": "#8C8C8C", "": "#555555"}


def _svg_marker(x: float, y: float, verdict: str, colour: str) -> str:
    """The verdict's shape, as in the claims chart (``plots.VERDICT_STYLES``): it reads in greyscale."""
    r = 6.0
    style = f'fill="{colour}" stroke="#000" stroke-width="1"'
    points = {
        "below": [(x - r, y - r * 0.8), (x + r, y - r * 0.8), (x, y + r)],
        "above": [(x - r, y + r * 0.8), (x + r, y + r * 0.8), (x, y - r)],
        "supported": [(x, y - r), (x + r, y), (x, y + r), (x - r, y)],
        "inconclusive": [(x - r * 0.8, y - r * 0.8), (x + r * 0.8, y - r * 0.8), (x + r * 0.8, y + r * 0.8),
                         (x - r * 0.8, y + r * 0.8)],
    }.get(verdict)
    if verdict == "contradicted":
        d = r * 0.8
        return (f'<path d="M{x - d:.1f},{y - d:.1f} L{x + d:.1f},{y + d:.1f} M{x + d:.1f},{y - d:.1f} '
                f'L{x - d:.1f},{y + d:.1f}" stroke="{colour}" stroke-width="3.5"/>')
    if points:
        return f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r - 0.5:.1f}" {style}/>'


def _strip_svg(series: list[tuple], scale: str, ref: float | None, ref_label: str,
               extra: Sequence[tuple] = ()) -> str:
    """A small dot-and-interval strip: each series a bar and a dot, the reference as a dashed line.

    ``extra`` holds comparison series drawn grey (the clinic under a physician).
    """
    allrows = list(extra) + list(series)
    if not allrows:
        return ""
    width, left, right, row_h = 660, 200, 20, 17
    height = 26 + row_h * len(allrows) + 16
    values = [v for r in allrows for v in r[1:4] if v is not None and np.isfinite(v)] + ([ref] if ref is not None else [])
    if scale == "share":
        lo_d, hi_d = 0.0, 1.0
        ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
        tick_text = lambda v: f"{100 * v:.0f}%"  # noqa: E731
        pos = lambda v: left + (width - left - right) * (min(max(v, lo_d), hi_d) - lo_d) / (hi_d - lo_d)  # noqa: E731
    elif scale == "log":
        lo_d, hi_d = min(values + [0.5]) / 1.2, max(values + [2.0]) * 1.2
        lo_d, hi_d = max(lo_d, 1e-2), min(hi_d, 1e3)
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo_d <= t <= hi_d]
        tick_text = lambda v: f"{v:g}"  # noqa: E731
        span = math.log(hi_d) - math.log(lo_d)
        pos = lambda v: left + (width - left - right) * (math.log(min(max(v, lo_d), hi_d)) - math.log(lo_d)) / span  # noqa: E731
    else:
        reach = max(abs(v) for v in values) * 1.15 or 1.0
        lo_d, hi_d = -reach, reach
        step = 10 ** math.floor(math.log10(reach))
        step = step * 2 if reach / step > 5 else step
        ticks = list(np.arange(-math.floor(reach / step) * step, reach + 1e-9, step))
        tick_text = lambda v: f"{v:+g}" if v else "0"  # noqa: E731
        pos = lambda v: left + (width - left - right) * (min(max(v, lo_d), hi_d) - lo_d) / (hi_d - lo_d)  # noqa: E731
    axis_y = height - 16
    parts = [f'<svg class="strip" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="observed value and 95% interval">']
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#999" stroke-width="1"/>')
    for t in ticks:
        x = pos(t)
        parts.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#999"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 14}" font-size="10" text-anchor="middle" fill="#666">{_esc(tick_text(t))}</text>')
    if ref is not None:
        x = pos(ref)
        parts.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{axis_y}" stroke="#000" stroke-width="1.3" '
                     f'stroke-dasharray="5,3"/><text x="{x + 3:.1f}" y="11" font-size="10.5" fill="#000">{_esc(ref_label)}</text>')
    for i, (label, est, lo, hi, verdict, *flag) in enumerate(allrows):
        y = 24 + row_h * i
        grey = bool(flag[0]) if flag else i < len(extra)
        colour = "#9A9A9A" if grey else _VERDICT_COLOURS.get(str(verdict), "#555555")
        if label:
            parts.append(f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end" '
                         f'fill="{"#777" if grey else "#222"}">{_esc(label)}</text>')
        if np.isfinite(lo) and np.isfinite(hi):
            parts.append(f'<line x1="{pos(lo):.1f}" y1="{y}" x2="{pos(hi):.1f}" y2="{y}" stroke="{colour}" '
                         'stroke-width="4" stroke-linecap="butt"/>')
        if np.isfinite(est):
            parts.append(_svg_marker(pos(est), y, "" if grey else str(verdict), colour))
    parts.append("</svg>")
    return "".join(parts)


def summary_html(claims: Any, *, suppress_below: int = 0) -> str:
    """The first screen: one block per claim -- statement, verdict word and icon, the numbers, a strip.

    Each verdict is written in capitals with an icon and a badge style that differ in greyscale
    too (solid for below/contradicted, outlined for above/consistent/supported, dashed for
    inconclusive, dotted grey for not assessable). An INCONCLUSIVE line says about how many more
    patients would settle it.

    Parameters
    ----------
    claims : ClaimsResult
    suppress_below : int, default 0

    Returns
    -------
    str
        HTML.

    Examples
    --------
    >>> from outcomes import evaluate_claims, load_records
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(300, seed=1)
    >>> page = summary_html(evaluate_claims(load_records(procs, scores)))
    >>> page.count('class="claim"') == 9 and "stated 90%" in page
    True
    """
    below = check_suppress_below(suppress_below)
    blocks = ['<div class="summary"><h2>What the clinic states, and what its records show</h2>']
    blocks += [claim_html(claims, claim.id, suppress_below=below) for claim in claims.claims]
    blocks.append("</div>")
    return "\n".join(blocks)


def claim_html(claims: Any, claim_id: str, *, suppress_below: int = 0) -> str:
    """One claim's block of the first screen (statement, verdict, numbers, strip), for a report section.

    Examples
    --------
    >>> from outcomes import evaluate_claims, load_records
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(300, seed=1)
    >>> "stated 50%" in claim_html(evaluate_claims(load_records(procs, scores)), "outpatient")
    True
    """
    below = check_suppress_below(suppress_below)
    claim = next((c for c in claims.claims if c.id == claim_id), None)
    if claim is None:
        known = ", ".join(c.id for c in claims.claims)
        raise InputError(f"`claim_id` must be one of {known}; got {claim_id!r}.")
    verdict = claims.verdicts().get(claim.id, "not assessable")
    rows = _rows(claims, claim.id)
    series, scale, ref, ref_label = _strip_series(claim, rows, below)
    series = [(_words(s[0]) if s[0] else "", *s[1:]) for s in series]
    settle = _settle_text(claims, claim.id, verdict, below)
    return (f'<div class="claim" data-claim="{_esc(claim.id)}"><div class="claim-head">'
            f'<span class="statement">{_esc(claim.statement)}</span>{_badge(verdict)}</div>'
            f'<div class="numbers">{_numbers_text(claims, claim, below)}'
            + (f' <span class="settle">{_esc(settle)}</span>' if settle else "") + "</div>"
            + (_strip_svg(series, scale, ref, ref_label) if series else "") + "</div>")


def comparison_html(own: Any, clinic: Any, *, label: str, suppress_below: int = 0) -> str:
    """A physician's first screen: each claim with the physician, the clinic and the stated figure side by side.

    Parameters
    ----------
    own, clinic : ClaimsResult
        The physician's (``evaluate_claims`` on their endpoint rows) and the whole clinic's.
    label : str
        How the physician is named ("Physician D4").
    suppress_below : int, default 0

    Returns
    -------
    str
        HTML.
    """
    below = check_suppress_below(suppress_below)
    own_v, clinic_v = own.verdicts(), clinic.verdicts()
    blocks = [f'<div class="summary"><h2>What the clinic states, and what {_esc(label)}\'s records show</h2>']
    for claim in own.claims:
        rows, crow = _rows(own, claim.id), _rows(clinic, claim.id)
        verdict = own_v.get(claim.id, "not assessable")
        series, scale, ref, ref_label = _strip_series(claim, rows, below)
        cseries, cscale, _, _ = _strip_series(claim, crow, below)
        if cscale != scale or len(cseries) != len(series):
            cseries = []
        if series and cseries:
            # each factor's clinic row (grey) right above the physician's
            pairs = []
            for mine, theirs in zip(series, cseries):
                short = _SHORT.get(mine[0], mine[0])
                pairs.append(((f"{short}: " if short else "") + "clinic", *theirs[1:], True))
                pairs.append(((f"{short}: " if short else "") + label, *mine[1:], False))
            series, cseries = pairs, []
        else:
            series = [((_SHORT.get(s[0], s[0]) + ": " if s[0] else "") + label, *s[1:]) for s in series]
        settle = _settle_text(own, claim.id, verdict, below)
        blocks.append(
            f'<div class="claim" data-claim="{_esc(claim.id)}"><div class="claim-head">'
            f'<span class="statement">{_esc(claim.statement)}</span>{_badge(verdict)}</div>'
            f'<div class="numbers"><strong>{_esc(label)}:</strong> {_numbers_text(own, claim, below)}'
            + (f' <span class="settle">{_esc(settle)}</span>' if settle else "")
            + f'<br/><span class="clinic"><strong>Clinic:</strong> {_numbers_text(clinic, claim, below)} '
            f'Clinic verdict: {_esc(clinic_v.get(claim.id, "not assessable").upper())}.</span></div>'
            + (_strip_svg(series, scale, ref, ref_label, extra=cseries) if series else "") + "</div>")
    blocks.append("</div>")
    return "\n".join(blocks)


def closing_sentence(own: Any, *, claim_id: str = "success_rate", suppress_below: int = 0) -> str:
    """A fair sentence about uncertainty: "With 41 patients, a success rate between 64% and 89% is
    consistent with these records."

    Examples
    --------
    >>> from outcomes import evaluate_claims, load_records
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(200, seed=4)
    >>> closing_sentence(evaluate_claims(load_records(procs, scores))).startswith("With ")
    True
    """
    below = check_suppress_below(suppress_below)
    rows = _rows(own, claim_id)
    rows = rows[(rows["role"] == "primary")]
    if rows.empty:
        return f"These records do not include the claim {claim_id!r}."
    row = rows.iloc[0]
    n = int(row["n"]) if pd.notna(row["n"]) else 0
    if row["verdict"] == "not assessable" or not np.isfinite(row["ci_low"]):
        return f"With {suppress(n, below)} patients with a 4-week score, these records are too few to estimate a success rate."
    if _hidden(row, below):
        return f"With {suppress(n, below)} patients, the numbers are too small to show outside the clinic."
    return (f"With {suppress(n, below)} patients, a success rate between {fmt.percent(row['ci_low'])} and "
            f"{fmt.percent(row['ci_high'])} is consistent with these records.")


# ---- tables ---------------------------------------------------------------------------------------

def _groups(endpoints: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    procedure = endpoints["procedure"].astype("string")
    present = [p for p in ("vertebroplasty", "kyphoplasty") if (procedure == p).any()]
    present += sorted(set(procedure.dropna()) - set(present))
    groups = [(p, (procedure == p).fillna(False).to_numpy(bool)) for p in present]
    groups.append(("all", np.ones(len(endpoints), dtype=bool)))
    return groups


def _count_cell(count: int, total: int, below: int) -> str:
    if is_suppressed(count, below):
        return f"<{below}"
    return f"{count:,} ({100 * count / total:.1f}%)" if total else "-"


def _median_cell(values: pd.Series, decimals: int) -> str:
    values = values.dropna().astype(float)
    if values.empty:
        return "-"
    q1, med, q3 = np.quantile(values.to_numpy(), [0.25, 0.5, 0.75])
    return f"{med:.{decimals}f} ({q1:.{decimals}f}-{q3:.{decimals}f})"


def _categorical_rows(name: str, values: pd.Series, groups: list, below: int, *,
                      order: Sequence[str] | None = None) -> list[dict[str, str]]:
    text = values.astype("string").fillna("missing")
    levels = list(order) if order is not None else sorted(set(text) - {"missing"})
    if (text == "missing").any():
        levels.append("missing")
    # one cross-tabulation per variable: levels x groups
    table = pd.DataFrame({g: pd.Series(text[mask]).value_counts() for g, mask in groups}).reindex(levels).fillna(0)
    totals = {g: int(mask.sum()) for g, mask in groups}
    out = []
    for level in levels:
        if level not in table.index or table.loc[level].sum() == 0:
            continue
        row = {"characteristic": f"{name}: {level}, n (%)"}
        row.update({g: _count_cell(int(table.loc[level, g]), totals[g], below) for g, _ in groups})
        out.append(row)
    return out


def table_one(endpoints: pd.DataFrame, *, suppress_below: int = 0) -> pd.DataFrame:
    """Table 1: who was treated, by procedure (counts and % or median (IQR)).

    Age, sex, levels treated, fracture age, baseline pain, ASA class and etiology, each when the
    records have it; a "missing" line when some values are missing. Percentages have one decimal;
    counts under ``suppress_below`` are shown as ``"<N"``.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        From :func:`outcomes.derive_endpoints`.
    suppress_below : int, default 0

    Returns
    -------
    pandas.DataFrame
        Text cells: ``characteristic`` then one column per procedure and ``all``.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"procedure": ["vertebroplasty", "kyphoplasty", "kyphoplasty"], "patient_id": ["A", "B", "C"],
    ...                    "age": [70, 80, 90], "sex": ["F", "F", "M"]})
    >>> t = table_one(ep)
    >>> t.columns.tolist()
    ['characteristic', 'vertebroplasty', 'kyphoplasty', 'all']
    >>> t.loc[t.characteristic == "Sex: female, n (%)", "all"].item()
    '2 (66.7%)'
    """
    below = check_suppress_below(suppress_below)
    if "procedure" not in endpoints:
        raise InputError(f"`endpoints` must have a 'procedure' column (derive_endpoints); got {sorted(endpoints.columns)!r}.")
    groups = _groups(endpoints)
    rows: list[dict[str, str]] = []
    row = {"characteristic": "Procedures, n"}
    row.update({g: suppress(int(mask.sum()), below) for g, mask in groups})
    rows.append(row)
    if "patient_id" in endpoints:
        row = {"characteristic": "Patients, n"}
        row.update({g: suppress(int(endpoints.loc[mask, "patient_id"].nunique()), below) for g, mask in groups})
        rows.append(row)

    def continuous(column: str, label: str, decimals: int = 0) -> None:
        if column in endpoints and endpoints[column].notna().any():
            values = endpoints[column]
            r = {"characteristic": f"{label}, median (IQR)"}
            r.update({g: _median_cell(values[mask], decimals) for g, mask in groups})
            rows.append(r)
            missing = values.isna()
            if missing.any():
                r = {"characteristic": f"{label}: missing, n (%)"}
                r.update({g: _count_cell(int(missing[mask].sum()), int(mask.sum()), below) for g, mask in groups})
                rows.append(r)

    continuous("age", "Age (years; over 89 shown as 90)")
    if "sex" in endpoints:
        sex = endpoints["sex"].astype("string").str.strip().str.upper().map(
            {"F": "female", "FEMALE": "female", "M": "male", "MALE": "male"}).fillna(endpoints["sex"].astype("string"))
        rows += _categorical_rows("Sex", sex, groups, below, order=[v for v in ("female", "male") if (sex == v).any()])
    if "levels_treated" in endpoints and endpoints["levels_treated"].notna().any():
        lv = endpoints["levels_treated"].astype(float)
        levels = pd.Series(np.where(lv >= 3, "3 or more", lv.astype("Int64").astype("string")), index=endpoints.index,
                           dtype="string").where(lv.notna())
        rows += _categorical_rows("Levels treated", levels, groups, below,
                                  order=[v for v in ("1", "2", "3 or more") if (levels == v).any()])
    continuous("fracture_age_days", "Fracture age at the procedure (days)")
    if "early_treatment" in endpoints and endpoints["early_treatment"].notna().any():
        early = endpoints["early_treatment"].astype("boolean")
        r = {"characteristic": "Treated within six weeks of the fracture, n (%)"}
        r.update({g: _count_cell(int(early[mask].fillna(False).sum()), int(mask.sum()), below) for g, mask in groups})
        rows.append(r)
    continuous("baseline_pain", "Baseline pain (0-10)")
    if "asa_class" in endpoints and endpoints["asa_class"].notna().any():
        asa = endpoints["asa_class"].astype(float)
        asa_text = pd.Series(asa.astype("Int64").astype("string"), index=endpoints.index).where(asa.notna())
        order = [str(v) for v in sorted(asa.dropna().unique().astype(int))]
        rows += _categorical_rows("ASA class", asa_text, groups, below, order=order)
    if "etiology" in endpoints and endpoints["etiology"].notna().any():
        et = endpoints["etiology"].astype("string")
        order = list(et.value_counts().index)
        rows += _categorical_rows("Etiology", et, groups, below, order=order)
    return pd.DataFrame(rows, columns=["characteristic", *[g for g, _ in groups]])


def discharge_table(endpoints: pd.DataFrame, *, suppress_below: int = 0) -> pd.DataFrame:
    """Discharge and safety by procedure: same day / overnight / admitted, length of stay, complications.

    Returns
    -------
    pandas.DataFrame
        Text cells like :func:`table_one`.
    """
    below = check_suppress_below(suppress_below)
    groups = _groups(endpoints)
    rows: list[dict[str, str]] = []
    if "discharge" in endpoints and endpoints["discharge"].notna().any():
        words = {"same_day": "same day", "overnight": "overnight", "admitted": "admitted"}
        dis = endpoints["discharge"].astype("string").map(lambda v: words.get(v, v) if pd.notna(v) else v)
        rows += _categorical_rows("Discharge", dis, groups, below,
                                  order=[v for v in ("same day", "overnight", "admitted") if (dis == v).any()])
    if "length_of_stay_hours" in endpoints and endpoints["length_of_stay_hours"].notna().any():
        r = {"characteristic": "Length of stay (hours), median (IQR)"}
        r.update({g: _median_cell(endpoints.loc[mask, "length_of_stay_hours"], 1) for g, mask in groups})
        rows.append(r)
    if "complication" in endpoints and endpoints["complication"].notna().any():
        comp = endpoints["complication"].astype("boolean")
        r = {"characteristic": "Complication recorded, n (%)"}
        r.update({g: _count_cell(int(comp[mask].fillna(False).sum()), int(mask.sum()), below) for g, mask in groups})
        rows.append(r)
    return pd.DataFrame(rows, columns=["characteristic", *[g for g, _ in groups]])


def _observed(row: pd.Series, value: float, decimals: int = 1) -> str:
    measure = row["measure"]
    if not np.isfinite(value):
        return "-"
    if measure in _SHARE:
        return fmt.percent(value, decimals)
    if measure in _RATIO:
        return _ratio(value)
    if measure == "risk difference":
        return f"{100 * value:+.{decimals}f} points"
    if measure == "median hours to relief":
        return f"{value:.1f} h"
    unit = {" percentage points": " points", " degrees": "\u00b0"}.get(_unit(row["reading"]), "")
    return f"{value:+.{decimals}f}{unit}"


def _p(value: float) -> str:
    text = fmt.pvalue(value)
    return "-" if text == "p = -" else text.replace("p = ", "").replace("p < ", "<\u00a0")


def scorecard(claims: Any, *, suppress_below: int = 0) -> pd.DataFrame:
    """The claims scorecard: claim, population, reading, n, observed, 95% CI, stated, verdict, p, Holm p, method.

    Every row of the result table (primary, secondary and sensitivity readings), formatted with
    one decimal; counts under ``suppress_below`` as ``"<N"`` and estimates that would disclose
    them as "suppressed".

    Parameters
    ----------
    claims : ClaimsResult
    suppress_below : int, default 0

    Returns
    -------
    pandas.DataFrame
        Text cells.
    """
    below = check_suppress_below(suppress_below)
    t = claims.table
    out = []
    for _, r in t.iterrows():  # one row per result line (tens of rows), not per patient
        hidden = _hidden(r, below)
        if r["measure"] == "risk difference":
            ci = _span(100 * r["ci_low"], 100 * r["ci_high"])
        elif r["measure"] in _SHARE:
            ci = fmt.interval(r["ci_low"], r["ci_high"], decimals=1)
        elif r["measure"] in _RATIO:
            ci = _ratio_span(r["ci_low"], r["ci_high"])
        else:
            ci = _span(r["ci_low"], r["ci_high"])
        first = not out or out[-1]["_id"] != r["claim_id"]
        out.append({
            "_id": r["claim_id"],
            "claim": r["statement"] if first else "",
            "population": r["population"],
            "reading": ("" if r["reading"] == "complete case" else _words(r["reading"])) + (
                f" ({r['role']})" if r["role"] != "primary" else ""),
            "n": suppress(r["n"], below),
            "observed": "suppressed" if hidden else ("-" if r["verdict"] == "not assessable" else _observed(r, r["estimate"])),
            "95% CI": "suppressed" if hidden else ci,
            "stated": fmt.percent(r["stated"]) if pd.notna(r["stated"]) else "-",
            "verdict": str(r["verdict"]).upper() if r["verdict"] else "-",
            "p": _p(r["p_value"]),
            "Holm p": _p(r["p_holm"]),
            "method": r["method"] or _counts_hidden(r["note"], below),
        })
    return pd.DataFrame(out, columns=["claim", "population", "reading", "n", "observed", "95% CI", "stated", "verdict",
                                      "p", "Holm p", "method"])  # the claim is named on its first row only


# ---- records, evidence, methods, limitations, stamp --------------------------------------------

def records_html(cohort: Cohort, *, suppress_below: int = 0) -> str:
    """The row accounting as a table, exclusions by reason, and data-quality remarks as numbered notes."""
    below = check_suppress_below(suppress_below)
    flow = cohort.flow()
    names = {"procedures": "procedures", "assessments": "pain scores"}
    table = pd.DataFrame({
        "records": [names.get(t, t) for t in flow["table"]],
        "file": [cohort.sources.get(t, t) for t in flow["table"]],
        "read": [suppress(v, below) for v in flow["read"]],
        "excluded": [suppress(v, below) for v in flow["excluded"]],
        "analysed": [suppress(v, below) for v in flow["analysed"]],
    })
    out = [table_html(table, caption="Rows read = analysed + excluded")]
    counts = cohort.exclusion_counts()
    if len(counts):
        reasons = pd.DataFrame({"records": [names.get(t, t) for t in counts["table"]], "reason": counts["reason"],
                                "rows": [suppress(v, below) for v in counts["rows"]]})
        out.append(table_html(reasons, caption="Excluded rows by reason"))
    if not cohort.remarks.empty:
        grouped = cohort.remarks.groupby(["table", "column", "remark"], sort=False).size()
        items = "".join(f"<li>{_esc(names.get(t, t))}, {_esc(c)}: {suppress(n, below)} "
                        f"value{'s' if n != 1 else ''} {_esc(rem)}; set to missing, the row was kept.</li>"
                        for (t, c, rem), n in grouped.items())
        out.append(f'<p class="note">Data-quality remarks:</p><ol class="remarks">{items}</ol>')
    return "\n".join(out)


def evidence_html(claims: Any, evidence: pd.DataFrame | None = None, *, suppress_below: int = 0) -> str:
    """Published trial and registry figures beside each claim's result, with citations.

    Parameters
    ----------
    claims : ClaimsResult
    evidence : pandas.DataFrame, optional
        :func:`outcomes.load_evidence` (the default).
    suppress_below : int, default 0
    """
    below = check_suppress_below(suppress_below)
    if evidence is None:
        from .claims import load_evidence
        evidence = load_evidence()
    verdicts = claims.verdicts()
    out = []
    for claim in claims.claims:
        mine = evidence[evidence["claim_id"] == claim.id]
        out.append(f'<div class="evidence"><h3>{_esc(claim.statement)} {_badge(verdicts.get(claim.id, ""))}</h3>')
        items = [f"<li><strong>This clinic</strong>: {_numbers_text(claims, claim, below)}</li>"]
        if mine.empty:
            items.append('<li class="note">No published figure is listed for this claim.</li>')
        for _, e in mine.iterrows():
            doi = str(e.get("doi", "") or "")
            link = f' <a href="https://doi.org/{_esc(doi)}">doi:{_esc(doi)}</a>' if doi else ""
            items.append(f"<li><strong>{_esc(e['study'])}</strong> ({_esc(e['design'])}; {_esc(e['population'])}): "
                         f"{_esc(e['measure'])} {_esc(e['value'])}. <span class=\"cite\">{_esc(e['citation'])}.{link}</span></li>")
        out.append(f"<ul>{''.join(items)}</ul></div>")
    return "\n".join(out)


def _versions() -> list[tuple[str, str]]:
    out = [("outcomes", _package_version()), ("Python", platform.python_version())]
    for name in ("numpy", "pandas", "scipy", "statsmodels", "matplotlib", "papermill", "nbconvert"):
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return out


def _package_version() -> str:
    from . import __version__
    return __version__


def methods_html(claims: Any, definitions: Definitions | None = None) -> str:
    """Methods and definitions written from the settings actually used.

    The definitions in words (:meth:`Definitions.describe`), each claim's statistical method as
    recorded in the result table, the confidence level and multiplicity adjustment, and software
    versions.
    """
    d = definitions or claims.definitions
    out = ["<h3>Definitions</h3><ul>" + "".join(f"<li>{_esc(line)}</li>" for line in d.describe()) + "</ul>"]
    items = []
    for claim in claims.claims:
        rows = _rows(claims, claim.id)
        methods = [m for m in dict.fromkeys(rows["method"]) if m]
        if methods:
            items.append(f"<li><strong>{_esc(claim.statement)}</strong>: {_esc('; '.join(methods))}.</li>")
        else:
            items.append(f"<li><strong>{_esc(claim.statement)}</strong>: not assessable in these records.</li>")
    out.append("<h3>Statistical methods</h3><ul>" + "".join(items) + "</ul>")
    margins = sorted({c.margin for c in claims.claims if c.stated is not None})
    within = (f"within {100 * margins[0]:g} percentage points of it" if len(margins) == 1
              else "within the claim's margin (" + ", ".join(f"{100 * m:g}" for m in margins) + " percentage points)")
    out.append('<p>Intervals are 95% confidence intervals. A verdict comes from the interval set against the stated '
               "figure, never from a p-value alone: BELOW or ABOVE when the whole interval lies under or over it; "
               f"CONSISTENT when it contains the figure and lies {within}; INCONCLUSIVE when "
               "it contains the figure but is wider; for a claim that one thing is better than another, SUPPORTED or "
               "CONTRADICTED when the whole interval lies on one side of no difference. Holm-adjusted p-values "
               "across the primary results are shown beside the raw ones.</p>")
    versions = ", ".join(f"{_esc(n)} {_esc(v)}" for n, v in _versions())
    out.append(f"<p><strong>Software:</strong> {versions}.</p>")
    return "\n".join(out)


def _of(count: int, total: int, below: int, noun: str) -> str:
    """ "75 of 800 patients (9%)", or "<11 of 800 patients" when the count is suppressed (its share
    would give it away)."""
    text = f"{suppress(count, below)} of {suppress(total, below)} {noun}"
    if is_suppressed(count, below) or not total:
        return text
    return f"{text} ({fmt.percent(count / total)})"


def limitations_html(cohort: Cohort, endpoints: pd.DataFrame, definitions: Definitions | None = None, *,
                     claims: Any = None, notes: Iterable[str] = (), suppress_below: int = 0) -> str:
    """Limitations written from the data: follow-up lost, missing 4-week scores, visit spacing,
    interval censoring, and any fragile result the statistics warned about (``notes``)."""
    below = check_suppress_below(suppress_below)
    d = definitions or Definitions()
    ep = endpoints
    n = len(ep)
    items = []
    no_base = int(ep["baseline_pain"].isna().sum()) if "baseline_pain" in ep else 0
    if no_base:
        items.append(f"{_of(no_base, n, below, 'procedures')} have "
                     "no baseline pain score and cannot show relief.")
    evaluable = ep["baseline_pain"].notna() if "baseline_pain" in ep else pd.Series(True, index=ep.index)
    missing = int((ep["success"].isna() & evaluable).sum()) if "success" in ep else 0
    n_eval = int(evaluable.sum())
    if n_eval:
        weeks = f"{d.success_window_low_hours / 168:g} and {d.success_window_high_hours / 168:g} weeks"
        items.append(f"{_of(missing, n_eval, below, 'patients')} "
                     f"have no pain score between {weeks}, so their 4-week success is unknown; the success rate is "
                     "shown for those with a score and again counting them as failures (worst case).")
    if "last_followup_hours" in ep:
        last = ep["last_followup_hours"]
        lost_week = int(((last < 168) | last.isna()).sum())
        year = int((last >= 8766 * 0.95).sum())
        items.append(f"Follow-up: {_of(lost_week, n, below, 'procedures')} have no pain "
                     f"score from one week on; {_of(year, n, below, 'procedures')} were followed for about "
                     "a year or longer. Patients who stop coming may differ from those who return.")
    scores = cohort.assessments
    if "procedure_id" in ep:  # only the procedures this report is about (one physician's in a review)
        scores = scores[scores["procedure_id"].isin(ep["procedure_id"])]
    week = scores[(scores["hours_after"] > 0) & (scores["hours_after"] <= 168)].sort_values(["procedure_id", "hours_after"])
    if len(week):
        per = week.groupby("procedure_id", sort=False).size()
        first = week.groupby("procedure_id", sort=False)["hours_after"].min()
        gaps = week.groupby("procedure_id", sort=False)["hours_after"].diff().dropna()
        gap_text = f" and a median of {fmt.hours(float(gaps.median()))} apart" if len(gaps) else ""
        items.append(f"Visits: in the first week pain was scored a median of {float(per.median()):g} times per procedure, "
                     f"the first time a median of {fmt.hours(float(first.median()))} after the procedure{gap_text}. "
                     "Relief is only seen at a visit: it is known to have happened between two visits, not exactly when.")
    if {"relief_observed", "relief_interval_low_hours", "relief_interval_high_hours"} <= set(ep.columns):
        relieved = ep["relief_observed"].fillna(False).astype(bool)
        width = (ep.loc[relieved, "relief_interval_high_hours"] - ep.loc[relieved, "relief_interval_low_hours"]).astype(float)
        if len(width):
            items.append(f"Interval censoring: for relieved patients the gap between the last visit without relief and "
                         f"the first with it was a median of {fmt.hours(float(width.median()))}. The Turnbull estimate "
                         "beside the Kaplan-Meier curves shows how much this matters; the 48-hour reading counts a "
                         f"48-hour visit up to {d.relief_horizon_grace_hours:g} hours late.")
    items.append("These are the clinic's own records, not a randomised trial: differences between procedures or between "
                 "early and late treatment may reflect who was offered which treatment. Adjusted odds ratios account "
                 "only for the factors recorded. Published trials (Evidence) compare against sham procedures; these "
                 "records cannot.")
    if not cohort.remarks.empty:
        items.append(f"{suppress(len(cohort.remarks), below)} unreadable optional values were set to missing (see Records).")
    for note in dict.fromkeys(str(x) for x in notes if x):
        items.append(f"Statistical note: {_counts_hidden(note, below)}")
    if claims is not None:
        na = [c.statement for c in claims.claims if claims.verdicts().get(c.id) == "not assessable"]
        if na:
            items.append("Not assessable in these records: " + "; ".join(na) + ".")
    return "<ul>" + "".join(f"<li>{_esc(i)}</li>" for i in items) + "</ul>"


def stamp_html(cohort: Cohort, definitions: Definitions | None = None, *, today: date | None = None) -> str:
    """The footer stamp: package version, SHA-256 of each input (by file name), definitions digest, date."""
    d = definitions or Definitions()
    day = (today or date.today()).isoformat()
    inputs = "".join(f"<li>{_esc(cohort.sources.get(t, t))}: SHA-256 <code>{_esc(h)}</code></li>"
                     for t, h in cohort.input_hashes.items())
    return (f'<div class="stamp"><p>outcomes {_esc(_package_version())} \u00b7 generated {day} \u00b7 '
            f"definitions digest <code>{_esc(d.digest())}</code></p><ul>{inputs}</ul>"
            "<p>A number in this report can be traced back with these: the same package version, the same input "
            "files (same SHA-256) and the same definitions give the same report.</p></div>")


# ---- figures from results ----------------------------------------------------------------------

def flow_figure(cohort: Cohort, *, suppress_below: int = 0) -> Any:
    """:func:`outcomes.plots.records_flow` of a cohort."""
    from .plots import records_flow
    return records_flow(cohort.flow(), cohort.exclusion_counts(), suppress_below=suppress_below)


def claims_figure(claims: Any, *, suppress_below: int = 0) -> Any:
    """:func:`outcomes.plots.claims_chart` of a ClaimsResult."""
    from .plots import claims_chart
    return claims_chart(claims, suppress_below=suppress_below)


def _stated(claims: Any, kind: str, default: float | None = None) -> float | None:
    for claim in getattr(claims, "claims", ()):
        if claim.kind == kind and claim.stated is not None:
            return float(claim.stated)
    return default


def _relief_km(endpoints: pd.DataFrame) -> Any:
    """The relief curve drawn in the report: on the horizon reading (a patient who missed the
    48-hour visit is censored at their last earlier visit), so the curve at 48 hours is the
    claim's own estimate."""
    from .survival import kaplan_meier
    time, event = (("horizon_time_hours", "horizon_event") if "horizon_time_hours" in endpoints
                   else ("time_to_relief_hours", "relief_observed"))
    ok = endpoints[endpoints[time].notna()]
    if len(ok) < 2:
        return None
    return kaplan_meier(ok[time], ok[event].astype(bool))


def relief_figure(endpoints: pd.DataFrame, *, claims: Any = None, reference: pd.DataFrame | None = None,
                  label: str | None = None, suppress_below: int = 0) -> Any:
    """Cumulative relief by procedure (Kaplan-Meier) with the Turnbull estimate beside it.

    With ``reference`` (the whole clinic's endpoints) and ``label`` (a physician), draws that
    physician's curve over the clinic's instead. Returns None when too few patients have scores.
    """
    from .plots import relief_curves
    from .survival import turnbull

    stated = _stated(claims, "relief_by")
    horizon = claims.definitions.relief_horizon_hours if claims is not None else 48.0
    grace = claims.definitions.relief_horizon_grace_hours if claims is not None else None
    if reference is not None:
        mine, clinic = _relief_km(endpoints), _relief_km(reference)
        if mine is None or clinic is None:
            return None
        return relief_curves({label or "selected": mine}, reference=clinic, reference_label="whole clinic",
                             stated=stated, horizon_hours=horizon, grace_hours=grace, suppress_below=suppress_below)
    curves, tbs = {}, {}
    for procedure in ("vertebroplasty", "kyphoplasty"):
        sub = endpoints[(endpoints["procedure"] == procedure) & endpoints["time_to_relief_hours"].notna()]
        if len(sub) < 2:
            continue
        curves[procedure] = _relief_km(sub)
        tbs[procedure] = turnbull(sub["relief_interval_low_hours"].to_numpy(float),
                                  sub["relief_interval_high_hours"].to_numpy(float))
    if not curves:
        return None
    return relief_curves(curves, turnbull=tbs, stated=stated, horizon_hours=horizon, grace_hours=grace,
                         suppress_below=suppress_below)


def fracture_age_figure(endpoints: pd.DataFrame, *, claims: Any = None, suppress_below: int = 0) -> Any:
    """Success by fracture age in weekly bins (None when no fracture ages are recorded)."""
    from .plots import success_by_fracture_age
    if "fracture_age_days" not in endpoints or endpoints["fracture_age_days"].isna().all():
        return None
    d = claims.definitions if claims is not None else Definitions()
    stated = None
    for claim in getattr(claims, "claims", ()):
        if claim.kind == "proportion" and claim.endpoint == "success":
            stated = claim.stated
    return success_by_fracture_age(endpoints, early_max_days=d.early_max_fracture_age_days, stated=stated,
                                   suppress_below=suppress_below)


def overnight_figure(claims: Any, *, claim_id: str = "overnight_reasons") -> Any:
    """Forest plot of the overnight-stay odds ratios (None when they could not be estimated)."""
    from .plots import odds_ratio_forest
    fit = claims.details.get(claim_id, {}).get("odds_ratios")
    return None if fit is None else odds_ratio_forest(fit)


def durability_figure(claims: Any, *, claim_id: str = "durable_relief", suppress_below: int = 0) -> Any:
    """Relief kept over time among the relieved (None when not estimable)."""
    from .plots import durability_curve
    km = claims.details.get(claim_id, {}).get("kaplan_meier")
    if km is None:
        return None
    claim = next((c for c in claims.claims if c.id == claim_id), None)
    times = claim.times_hours if claim is not None else (8766.0, 26298.0)
    return durability_curve(km, times_hours=times, stated=getattr(claim, "stated", None), suppress_below=suppress_below)


# ---- rendering ---------------------------------------------------------------------------------

_CSS = """
body { font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a; background: #fff; margin: 0;
       line-height: 1.45; font-size: 15px; }
main { max-width: 1020px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; padding-top: 10px; border-top: 2px solid #e3e3e3; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.subtitle { color: #444; margin: 0 0 10px; font-size: 15px; }
.banner { padding: 8px 12px; margin: 8px 0; border-radius: 4px; }
.banner.synthetic { background: #FFF4D6; border: 2px dashed #9A6B00; }
.banner.privacy { background: #FCE4D6; border: 2px solid #B84A00; }
.note { color: #555; font-size: 13.5px; }
.summary h2 { border-top: none; margin-top: 18px; }
.claim { padding: 10px 0 8px; border-bottom: 1px solid #eee; }
.claim-head { display: flex; justify-content: space-between; align-items: baseline; gap: 16px; }
.statement { font-weight: 600; font-size: 15.5px; }
.numbers { margin: 3px 0 2px; font-size: 14px; color: #222; }
.numbers .clinic { color: #555; }
.settle { font-style: italic; }
svg.strip { display: block; margin: 2px 0 0; max-width: 100%; height: auto; }
.verdict { white-space: nowrap; font-weight: 700; font-size: 13px; letter-spacing: 0.04em; padding: 2px 9px;
           border-radius: 3px; }
.verdict .icon { font-size: 12px; }
.v-bad { background: #B84A00; color: #fff; border: 2px solid #B84A00; }
.v-good { background: #fff; color: #00684C; border: 2px solid #009E73; }
.v-unsure { background: #fff; color: #8A3F6C; border: 2px dashed #CC79A7; }
.v-na { background: #F0F0F0; color: #555; border: 2px dotted #8C8C8C; }
table.report-table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
table.report-table caption { text-align: left; font-weight: 600; padding: 4px 0; color: #333; }
table.report-table th { text-align: left; border-bottom: 2px solid #555; padding: 4px 8px; background: #fafafa; }
table.report-table td { border-bottom: 1px solid #e6e6e6; padding: 3px 8px; vertical-align: top; }
table.report-table tr:nth-child(even) td { background: #fbfbfb; }
table.scorecard td:nth-child(n+4):nth-child(-n+10) { white-space: nowrap; }
table.scorecard td:first-child { font-weight: 600; min-width: 11em; }
table.scorecard td:last-child { font-size: 11.5px; color: #444; min-width: 11em; }
table.scorecard { font-size: 12.5px; }
figure.report-figure { margin: 10px 0 18px; }
figure.report-figure img { max-width: 100%; height: auto; }
figcaption { color: #444; font-size: 13.5px; margin-top: 4px; }
.evidence ul { margin-top: 2px; }
.cite { color: #555; }
.stamp { margin-top: 30px; padding-top: 8px; border-top: 2px solid #e3e3e3; color: #555; font-size: 12.5px; }
.stamp code { font-size: 11.5px; word-break: break-all; }
.placeholder { border: 2px dashed #bbb; padding: 8px 12px; color: #555; }
.anchor-link { display: none; }
.jp-Cell, .cell { margin: 0; }
.jp-OutputArea-output pre, .output_text pre { white-space: pre-wrap; font-size: 12.5px; }
@media print { h2 { page-break-after: avoid; } figure, .claim { page-break-inside: avoid; } }
"""


def monitoring_html(endpoints: pd.DataFrame, claims: Any = None, *, physician_id: str | None = None,
                    suppress_below: int = 0) -> str:
    """The monitoring section: funnel plot by physician, monthly control chart and CUSUM.

    With ``physician_id`` the physician's point on the funnel and their CUSUM are highlighted and
    their own control chart is drawn against the clinic rate. With ``suppress_below`` physicians
    with fewer patients are left off the funnel (a point would reveal their count).
    """
    from . import monitoring
    from .plots_monitoring import control_chart_figure, cusum_figure, funnel_figure

    below = check_suppress_below(suppress_below)
    stated = _stated(claims, "proportion", 0.90) if claims is not None else 0.90
    parts: list[str] = []
    shown = endpoints
    if below and "physician_id" in endpoints:
        counts = endpoints.dropna(subset=["success"]).groupby("physician_id")["success"].size()
        small = counts[counts < below].index
        shown = endpoints[~endpoints["physician_id"].isin(small)]
        if len(small):
            parts.append(f'<p class="note">{len(small)} physician(s) with fewer than {below} patients with a '
                         "4-week score are left off the funnel plot.</p>")
    known = endpoints["success"].dropna().astype(bool) if "success" in endpoints else pd.Series(dtype=bool)
    clinic_rate = float(known.mean()) if len(known) else math.nan

    def funnel_part() -> list[str]:
        fun = monitoring.funnel(shown, outcome="success", unit="physician_id", stated=stated)
        flagged = fun.flagged(level=0.998)
        if len(flagged):
            names = ", ".join(f"{_esc(r.unit)} ({fmt.percent(r.proportion)} of {suppress(int(r.n), below)})"
                              for r in flagged.itertuples(index=False))
            verdict = f"Outside the 99.8% limits around the clinic rate: {names}."
        else:
            verdict = "No physician lies outside the 99.8% limits around the clinic rate."
        adjustment = ("" if fun.adjustment == "none" else
                      f" The limits were widened for between-physician variation ({fun.adjustment} adjustment, "
                      f"Spiegelhalter 2005).")
        return [f"<p>{verdict} Clinic rate {fmt.percent(fun.clinic_rate)}; stated {fmt.percent(stated)}.{adjustment}</p>",
                figure_html(funnel_figure(fun, highlight=physician_id),
                            caption="Success at 4 weeks by physician against their number of patients. Solid funnels: "
                                    "95% and 99.8% limits around the clinic rate; dashed: around the stated figure. A "
                                    "physician outside the 99.8% funnel differs by more than chance would explain.")]

    def chart_part() -> list[str]:
        mine = endpoints if physician_id is None else endpoints[endpoints["physician_id"] == physician_id]
        chart = monitoring.control_chart(mine, outcome="success", stated=stated,
                                         centre=None if physician_id is None else clinic_rate)
        who = "The clinic" if physician_id is None else f"Physician {_esc(physician_id)}"
        return [f"<p>{who}, {_esc(chart.period_reason)}: <strong>{_esc(chart.variation)}</strong>. "
                f"{_esc(chart.summary)}</p>",
                figure_html(control_chart_figure(chart),
                            caption=f"Success at 4 weeks per {chart.period} with 3-sigma limits (p-chart). Special "
                                    "causes: a point beyond the limits, a run of 8 on one side of the centre, a trend "
                                    "of 6 (shown by shape).")]

    def clinic_cusum_part() -> list[str]:
        clinic = monitoring.cusum(endpoints, outcome="success", stated=stated)
        row = clinic.limits.iloc[0]
        first = row["first_signal_date"]
        when = f"first on {pd.Timestamp(first):%d %b %Y}" if pd.notna(first) else "none so far"
        detect = clinic.detection[["window", "failures_in_a_row", "failures_any_order"]].rename(columns={
            "window": "consecutive cases", "failures_in_a_row": "failures in a row that signal",
            "failures_any_order": "failures in any order that signal"})
        return [f"<p>CUSUM of failures against the stated {fmt.percent(stated)}: "
                f"{int(row['n_signals'])} signal(s), {when}. A signal means failures have run above the "
                "stated rate for longer than chance would explain (limit set for one false alarm in "
                f"about {int(round(row['arl0_simulated'], -2))} patients).</p>",
                figure_html(cusum_figure(clinic),
                            caption="Bernoulli CUSUM of failures against the stated success rate (Steiner 2000), "
                                    "restarting after each signal; below, failures minus those expected at the "
                                    "stated rate."),
                table_html(detect, caption="Detection floor: how many failures raise a signal.")]

    def physician_cusum_part() -> list[str]:
        by_physician = monitoring.cusum(shown, outcome="success", stated=None, by="physician_id")
        return [figure_html(cusum_figure(by_physician, highlight=physician_id),
                            caption="CUSUM of failures by physician against the clinic's own rate: a physician whose "
                                    "line reaches the limit has had more failures than the clinic rate explains.")]

    builds = [("funnel plot", funnel_part), ("control chart", chart_part)]
    if physician_id is None:
        builds.append(("clinic CUSUM", clinic_cusum_part))
    builds.append(("CUSUM by physician", physician_cusum_part))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for what, build in builds:
            try:
                parts.extend(build())
            except OutcomesError as exc:  # too little or too uniform data for this chart
                parts.append(f'<p class="note">The {what} cannot be drawn from these records: '
                             f"{_esc(_counts_hidden(str(exc), below))}</p>")
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)})
    if notes:
        parts.append('<p class="note">' + " ".join(_esc(_counts_hidden(n, below)) for n in notes) + "</p>")
    return "\n".join(parts)


def _page(body: str, title: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
            f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def _kernel_manager_class(ipc_dir: str | None = None) -> Any:
    """A kernel manager that always starts ipykernel on this interpreter.

    A kernel spec named "python3" may be missing (a fresh virtualenv) or point at another Python
    (a user-level spec); starting ``sys.executable -m ipykernel_launcher`` needs neither.

    With ``ipc_dir`` (POSIX), the kernel talks over Unix sockets in that private folder rather
    than loopback TCP, where any local user could subscribe to the outputs (the report's numbers
    about patients).
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    class CurrentPythonKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if ipc_dir is not None:
                self.transport = "ipc"
                self.ip = os.path.join(ipc_dir, "k")

        @property
        def kernel_spec(self) -> KernelSpec:
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    display_name=f"Python {platform.python_version()} (outcomes)", language="python",
                    metadata={}, resource_dir="")
            return self._kernel_spec

    return CurrentPythonKernelManager


def _notebook_path(kind: str) -> Any:
    return resources.files("outcomes") / "notebooks" / NOTEBOOKS[kind]


def _absolute(value: Any, role: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(f"`{role}` must be a file path; got {type(value).__name__}.")
    return str(Path(value).expanduser().resolve())


_EMBEDDED = re.compile(r"(data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+)")


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove directory names of this machine from the rendered page (a last safety net).

    Embedded base64 images are left alone: their alphabet contains "/" and a short directory
    name such as "/tmp" turns up in them by chance.
    """
    order = sorted({s for s in secrets if s and len(s) > 1 and s != os.sep}, key=len, reverse=True)
    pieces = _EMBEDDED.split(text)
    for i in range(0, len(pieces), 2):  # even pieces are outside the embedded data
        for secret in order:
            pieces[i] = pieces[i].replace(secret + os.sep, "").replace(secret, "")
    return "".join(pieces)


_OUR_ERRORS = ("OutcomesError", "InputError", "PrivacyError", "DefinitionsError")


def render_report(
    procedures: str | os.PathLike[str] | None = None,
    assessments: str | os.PathLike[str] | None = None,
    *,
    output: str | os.PathLike[str],
    fhir: str | os.PathLike[str] | None = None,
    omop: str | os.PathLike[str] | None = None,
    schema: str | None = None,
    mapping: str | os.PathLike[str] | None = None,
    definitions: str | os.PathLike[str] | None = None,
    physician_id: str | None = None,
    clinic_name: str | None = None,
    suppress_below: int = 0,
    allow_identifiers: bool = False,
    timeout: float = 600,
    progress: bool = True,
) -> Path:
    """Render the clinic quality report (or one physician's review) to a single HTML file.

    The records are checked here first (a missing file, identifying data or an unknown physician
    stop with one clear line before any notebook runs); then the notebook shipped in
    ``outcomes/notebooks/`` is executed with papermill on this Python interpreter and exported
    by nbconvert with every code cell hidden and every figure embedded.

    Parameters
    ----------
    procedures, assessments : path
        The records (CSV, .xlsx or .parquet), as for :func:`outcomes.load_records`.
    fhir, omop, schema : optional
        Instead of files: a FHIR Bulk Data export or an OMOP CDM database (and its schema), as
        for :func:`outcomes.sources.load_cohort`; their row accounting appears in the report.
    output : path
        The HTML file to write (``.html``); its folder is created if needed.
    mapping, definitions : path, optional
        TOML mapping of the clinic's columns and codes; TOML definitions.
    physician_id : str, optional
        Render the physician review for this physician instead of the clinic report.
    clinic_name : str, optional
        Shown in the title.
    suppress_below : int, default 0
        Show every count under this number as ``"<N"`` (for reports shared outside the clinic).
    allow_identifiers : bool, default False
        Go on with data that look identifying; the warning is printed at the top of the report.
    timeout : float, default 600
        Seconds allowed for each notebook cell.
    progress : bool, default True
        Show papermill's progress bar (on stderr).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        Bad input (also an :class:`OutcomesError` raised inside the notebook, with its message);
        :class:`PrivacyError` for identifying data.
    OutcomesError
        Any other failure of the notebook, as one line.

    Examples
    --------
    >>> from outcomes.report import render_report
    >>> render_report("data/demo/procedures.csv", "data/demo/assessments.csv",
    ...               output="reports/clinic_report.html")  # doctest: +SKIP
    PosixPath('reports/clinic_report.html')
    """
    below = check_suppress_below(suppress_below)
    out_path = Path(output)
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"`output` must be a file name ending in .html; got {out_path.name!r}.")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise InputError(f"`timeout` must be a positive number of seconds; got {timeout!r}.")
    if physician_id is not None and not str(physician_id).strip():
        raise InputError(f"`physician_id` must be a physician's id; got {physician_id!r}.")
    is_url = isinstance(omop, str) and "://" in omop
    paths = {"procedures": _absolute(procedures, "procedures"), "assessments": _absolute(assessments, "assessments"),
             "fhir": _absolute(fhir, "fhir"), "omop": omop if is_url else _absolute(omop, "omop"), "schema": schema,
             "mapping": _absolute(mapping, "mapping"), "definitions": _absolute(definitions, "definitions")}

    # Check the records here, where errors keep their type; the notebook then reads them again.
    from .sources import load_cohort

    d = Definitions.from_toml(paths["definitions"]) if paths["definitions"] else Definitions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentifiersAllowedWarning)
        cohort = load_cohort(paths["procedures"], paths["assessments"], fhir=paths["fhir"], omop=paths["omop"],
                             schema=schema, mapping=paths["mapping"], definitions=d,
                             allow_identifiers=allow_identifiers)
    if physician_id is not None:
        physician_endpoints(cohort.procedures, str(physician_id))

    import nbformat
    import papermill
    from nbconvert import HTMLExporter
    from papermill.exceptions import PapermillExecutionError

    parameters = {**paths, "clinic_name": clinic_name, "suppress_below": below, "allow_identifiers": bool(allow_identifiers)}
    kind = "physician" if physician_id is not None else "clinic"
    if physician_id is not None:
        parameters["physician_id"] = str(physician_id)
    with tempfile.TemporaryDirectory(prefix="outcomes-report-") as workdir, \
            resources.as_file(_notebook_path(kind)) as notebook:
        try:
            executed = papermill.execute_notebook(
                str(notebook), None, parameters=parameters, kernel_name="python3", language="python",
                progress_bar=progress, cwd=workdir, execution_timeout=timeout, start_timeout=120,
                kernel_manager_class=_kernel_manager_class(workdir if os.name == "posix" else None))
        except PapermillExecutionError as exc:
            if exc.ename in _OUR_ERRORS:
                raise InputError(str(exc.evalue)) from None
            raise OutcomesError(f"The {kind} report notebook failed: {exc.ename}: {exc.evalue}") from None
        except RuntimeError as exc:  # a kernel that did not start or died
            raise OutcomesError(f"The {kind} report notebook could not run: {exc}") from None
        nb = nbformat.from_dict(executed)
        for cell in nb.cells:
            if cell.get("cell_type") == "code":
                # stderr (warnings name source files), papermill's parameter cells: never shown
                tags = set(cell.get("metadata", {}).get("tags", []))
                if tags & {"parameters", "injected-parameters"}:
                    cell["outputs"] = []
                cell["outputs"] = [o for o in cell.get("outputs", [])
                                   if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        nb.metadata.pop("papermill", None)
        exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                                exclude_output_prompt=True, anchor_link_text="")
        title = ("Physician review " + str(physician_id) if physician_id is not None else "Vertebral augmentation outcomes")
        title += f" \u2014 {clinic_name}" if clinic_name else ""
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        secrets = {str(Path(p).parent) for p in paths.values() if p} | ({omop} if is_url else set()) | {
            workdir, str(Path(workdir).resolve()), str(out_path.resolve().parent), str(Path.cwd()),
            str(Path.home()), sys.prefix, str(Path(__file__).resolve().parent), tempfile.gettempdir()}
        page = _scrub(_page(body, title), secrets)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path
