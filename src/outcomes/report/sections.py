"""What each part of the report says, as plain data for the templates (no HTML here).

Each ``*_context`` function returns dicts and lists of text and numbers; the Jinja2 templates in
``templates/`` lay them out and escape every string.
"""

from __future__ import annotations

import math
import platform
import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from .. import formatting as fmt
from ..cohort import Cohort
from ..definitions import Definitions
from ..exceptions import InputError, OutcomesError
from ..privacy import data_class
from .figures import embed, stated_of
from .suppression import check_suppress_below, hides_estimate, is_suppressed, suppress
from .wording import (BAD, GLOSSARY, GOOD, RATIO, SHARE, SHORT, claim_numbers, counts_hidden, plain, rows_of,
                      settle_text, unit, verdict_reason, words)

ICONS = {"below": "\u25bc", "contradicted": "\u2718", "above": "\u25b2", "consistent": "\u25cf",
         "supported": "\u2714", "inconclusive": "?", "not assessable": "\u2013"}
VERDICT_COLOURS = {"below": "#B84A00", "contradicted": "#B84A00", "above": "#00684C", "consistent": "#00684C",
                   "supported": "#00684C", "inconclusive": "#8A3F6C", "not assessable": "#6B6B6B", "": "#444444"}


def verdict_kind(verdict: str) -> str:
    return "bad" if verdict in BAD else "good" if verdict in GOOD else "unsure" if verdict == "inconclusive" else "na"


def badge(verdict: Any) -> dict:
    verdict = str(verdict or "not assessable")
    return {"word": verdict.upper(), "kind": verdict_kind(verdict), "icon": ICONS.get(verdict, ""), "title": verdict}


def table(frame: pd.DataFrame, *, caption: str | None = None, css_class: str | None = None,
          index: bool = False) -> dict:
    """A frame of text cells as the templates' table: caption, columns, rows (strings)."""
    frame = frame.reset_index() if index else frame
    rows = [["-" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v) for v in r]
            for r in frame.itertuples(index=False)]
    return {"caption": caption, "columns": [str(c) for c in frame.columns], "rows": rows, "css_class": css_class}


def figure(fig: Any, *, caption: str, alt: str) -> dict:
    return {"src": embed(fig), "caption": caption, "alt": alt}


# ---- the dot-and-interval strip (drawn by templates/strip.svg.j2) --------------------------------

def strip_series(claim: Any, rows: pd.DataFrame, below: int) -> tuple[list[tuple], str, float | None, str]:
    """(series, scale, reference, reference label) for a claim's strip; series = (label, est, lo, hi, verdict)."""
    primary = rows[rows["role"] == "primary"]
    usable = primary[(primary["verdict"] != "not assessable") & primary["estimate"].notna()]
    usable = usable[[not hides_estimate(r, below) for _, r in usable.iterrows()]]
    if usable.empty:
        return [], "", None, ""
    measure = usable.iloc[0]["measure"]
    if measure in SHARE:
        series = [("", r["estimate"], r["ci_low"], r["ci_high"], r["verdict"]) for _, r in usable.iterrows()]
        return series, "share", float(usable.iloc[0]["stated"]), f"stated {fmt.percent(usable.iloc[0]['stated'])}"
    label = (lambda r: str(r["reading"])) if len(usable) > 1 else (lambda r: "")
    if measure in RATIO:
        series = [(label(r), r["estimate"], r["ci_low"], r["ci_high"], r["verdict"]) for _, r in usable.iterrows()]
        return series, "log", 1.0, "no difference"
    factor = 100.0 if measure == "risk difference" else 1.0
    if len({unit(r["reading"]) for _, r in usable.iterrows()}) > 1:  # one axis, one unit: show the first
        usable, label = usable.iloc[:1], (lambda r: "")
    series = [(label(r), factor * r["estimate"], factor * r["ci_low"], factor * r["ci_high"], r["verdict"])
              for _, r in usable.iterrows()]
    return series, "linear", 0.0, "no difference"


def _marker(x: float, y: float, verdict: str) -> dict:
    r = 6.0
    shapes = {
        "below": [(x - r, y - r * 0.8), (x + r, y - r * 0.8), (x, y + r)],
        "above": [(x - r, y + r * 0.8), (x + r, y + r * 0.8), (x, y - r)],
        "supported": [(x, y - r), (x + r, y), (x, y + r), (x - r, y)],
        "inconclusive": [(x - r * 0.8, y - r * 0.8), (x + r * 0.8, y - r * 0.8), (x + r * 0.8, y + r * 0.8),
                         (x - r * 0.8, y + r * 0.8)],
    }
    if verdict == "contradicted":
        d = r * 0.8
        return {"kind": "cross", "d": f"M{x - d:.1f},{y - d:.1f} L{x + d:.1f},{y + d:.1f} M{x + d:.1f},{y - d:.1f} "
                                      f"L{x - d:.1f},{y + d:.1f}"}
    if verdict in shapes:
        return {"kind": "polygon", "points": " ".join(f"{px:.1f},{py:.1f}" for px, py in shapes[verdict])}
    return {"kind": "circle", "cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": f"{r - 0.5:.1f}"}


def strip(series: list[tuple], scale: str, ref: float | None, ref_label: str) -> dict | None:
    """Geometry of a small dot-and-interval strip: a bar and a verdict-shaped dot per series, the
    reference as a dashed line. A series may carry a sixth item: True draws it grey (the clinic)."""
    if not series:
        return None
    width, left, right, row_h = 660, 200, 20, 17
    height = 26 + row_h * len(series) + 16
    values = [v for r in series for v in r[1:4] if v is not None and np.isfinite(v)] + ([ref] if ref is not None else [])
    if scale == "share":
        lo_d, hi_d, ticks = 0.0, 1.0, [0.0, 0.25, 0.5, 0.75, 1.0]
        tick_text = lambda v: f"{100 * v:.0f}%"  # noqa: E731
        pos = lambda v: left + (width - left - right) * (min(max(v, lo_d), hi_d) - lo_d) / (hi_d - lo_d)  # noqa: E731
    elif scale == "log":
        lo_d, hi_d = max(min(values + [0.5]) / 1.2, 1e-2), min(max(values + [2.0]) * 1.2, 1e3)
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo_d <= t <= hi_d]
        tick_text = lambda v: f"{v:g}"  # noqa: E731
        width_log = math.log(hi_d) - math.log(lo_d)
        pos = lambda v: left + (width - left - right) * (math.log(min(max(v, lo_d), hi_d)) - math.log(lo_d)) / width_log  # noqa: E731
    else:
        reach = max(abs(v) for v in values) * 1.15 or 1.0
        lo_d, hi_d = -reach, reach
        step = 10 ** math.floor(math.log10(reach))
        step = step * 2 if reach / step > 5 else step
        ticks = list(np.arange(-math.floor(reach / step) * step, reach + 1e-9, step))
        tick_text = lambda v: f"{v:+g}" if v else "0"  # noqa: E731
        pos = lambda v: left + (width - left - right) * (min(max(v, lo_d), hi_d) - lo_d) / (hi_d - lo_d)  # noqa: E731
    axis_y = height - 16
    rows = []
    for i, (label, est, lo, hi, verdict, *flag) in enumerate(series):
        y = 24 + row_h * i
        grey = bool(flag[0]) if flag else False
        colour = "#767676" if grey else VERDICT_COLOURS.get(str(verdict), "#444444")
        rows.append({
            "label": label, "y": y, "label_colour": "#595959" if grey else "#222222", "colour": colour,
            "bar": (f"{pos(lo):.1f}", f"{pos(hi):.1f}") if np.isfinite(lo) and np.isfinite(hi) else None,
            "marker": _marker(pos(est), y, "" if grey else str(verdict)) if np.isfinite(est) else None,
        })
    described = "; ".join(
        f"{label + ': ' if label else ''}{tick_text(est) if scale != 'share' else fmt.percent(est)} "
        f"(interval {tick_text(lo) if scale != 'share' else fmt.percent(lo)} to "
        f"{tick_text(hi) if scale != 'share' else fmt.percent(hi)})" for label, est, lo, hi, *_ in series)
    return {
        "width": width, "height": height, "left": left, "right": width - right, "axis_y": axis_y,
        "ticks": [{"x": f"{pos(t):.1f}", "label": tick_text(t)} for t in ticks],
        "ref": None if ref is None else {"x": f"{pos(ref):.1f}", "label": ref_label},
        "rows": rows,
        "label": f"Observed value and 95% interval: {described}; {ref_label} marked by a dashed line.",
    }


# ---- claims, the first screen and the executive summary ----------------------------------------

def _claim_of(claims: Any, claim_id: str) -> Any:
    claim = next((c for c in claims.claims if c.id == claim_id), None)
    if claim is None:
        known = ", ".join(c.id for c in claims.claims)
        raise InputError(f"`claim_id` must be one of {known}; got {claim_id!r}.")
    return claim


def _reason(claims: Any, claim: Any, below: int) -> str:
    rows = rows_of(claims, claim.id)
    primary = rows[(rows["role"] == "primary") & (rows["verdict"] != "not assessable")]
    if claim.kind == "odds_ratios" or primary.empty:
        return ""
    row = primary.iloc[0]
    if hides_estimate(row, below):
        return ""
    reason = verdict_reason(row)
    return f"{str(row['verdict']).upper()} because {reason}." if reason else ""


def claim_context(claims: Any, claim_id: str, *, suppress_below: int = 0) -> dict:
    """One claim's block: statement, verdict, numbers in words, why the verdict follows, a strip."""
    below = check_suppress_below(suppress_below)
    claim = _claim_of(claims, claim_id)
    verdict = claims.verdicts().get(claim.id, "not assessable")
    series, scale, ref, ref_label = strip_series(claim, rows_of(claims, claim.id), below)
    series = [(words(s[0]) if s[0] else "", *s[1:]) for s in series]
    return {"id": claim.id, "statement": claim.statement, "badge": badge(verdict),
            "numbers": claim_numbers(claims, claim, below), "reason": _reason(claims, claim, below),
            "settle": settle_text(claims, claim.id, verdict), "strip": strip(series, scale, ref, ref_label),
            "stated_note": stated_note(claim)}


def stated_note(claim: Any) -> str:
    """Where a claim's stated figure comes from, as a sentence: "The stated 2% is <stated_note>."
    (empty without a ``stated_note``). The registry's safety thresholds say this way that the
    clinic sets the figure.

    >>> from types import SimpleNamespace
    >>> stated_note(SimpleNamespace(stated=0.02, stated_note="the clinic's own figure"))
    "The stated 2% is the clinic's own figure."
    """
    note = " ".join(str(getattr(claim, "stated_note", "") or "").split())
    stated = getattr(claim, "stated", None)
    if not note or stated is None:
        return ""
    return f"The stated {fmt.percent(stated)} is {note.rstrip('.')}."


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def executive_context(claims: Any, *, funnel: Any = None, cusum_signals: int | None = None) -> dict:
    """Claims met / not met / undecided, and what to look at next (worst first)."""
    verdicts = claims.verdicts()
    by = {"met": [], "not met": [], "undecided": []}
    for claim in claims.claims:
        v = verdicts.get(claim.id, "not assessable")
        key = "met" if v in GOOD else "not met" if v in BAD else "undecided"
        by[key].append({"statement": claim.statement, "badge": badge(v)})
    nexts = []
    for claim in claims.claims:
        v = verdicts.get(claim.id, "not assessable")
        if v in BAD:
            why = ("the records fall below the stated figure" if v == "below"
                   else "the records lie above the stated upper limit" if getattr(claim, "sense", "") == "at_most"
                   else "the records point the other way")
            nexts.append(f"\u201c{claim.statement}\u201d: {why}")
    if funnel is not None:
        flagged = funnel.flagged(level=0.998)
        for r in flagged.itertuples(index=False):
            side = "below" if r.proportion < funnel.clinic_rate else "above"
            nexts.append(f"Physician {r.unit}: success {fmt.percent(r.proportion)}, {side} the clinic's "
                         f"{fmt.percent(funnel.clinic_rate)} by more than chance explains (see Monitoring); a "
                         "physician review would show their case mix")
    if cusum_signals:
        nexts.append(f"The running tally of failures (CUSUM) crossed its alarm line {cusum_signals} "
                     f"time{'s' if cusum_signals != 1 else ''} against the stated success rate (see Monitoring)")
    for claim in claims.claims:
        v = verdicts.get(claim.id, "not assessable")
        if v == "inconclusive":
            nexts.append(f"\u201c{claim.statement}\u201d is undecided: " + _lower_first(settle_text(claims, claim.id, v).rstrip(".")))
        elif v == "not assessable":
            said = claim_numbers(claims, claim).removeprefix("Not assessable: ")
            nexts.append(f"\u201c{claim.statement}\u201d cannot be checked: {_lower_first(said).rstrip('.')}")
    return {"counts": {k: len(v) for k, v in by.items()}, "groups": by, "next": nexts}


def comparison_context(own: Any, clinic: Any, *, label: str, suppress_below: int = 0) -> list[dict]:
    """The physician's first screen: each claim with the physician, the clinic and the stated figure."""
    below = check_suppress_below(suppress_below)
    own_v, clinic_v = own.verdicts(), clinic.verdicts()
    blocks = []
    for claim in own.claims:
        rows, crow = rows_of(own, claim.id), rows_of(clinic, claim.id)
        verdict = own_v.get(claim.id, "not assessable")
        series, scale, ref, ref_label = strip_series(claim, rows, below)
        cseries, cscale, _, _ = strip_series(claim, crow, below)
        if series and cseries and cscale == scale and len(cseries) == len(series):
            pairs = []
            for mine, theirs in zip(series, cseries):
                short = SHORT.get(mine[0], mine[0])
                pairs.append(((f"{short}: " if short else "") + "clinic", *theirs[1:5], True))
                pairs.append(((f"{short}: " if short else "") + label, *mine[1:5], False))
            series = pairs
        else:
            series = [((SHORT.get(s[0], s[0]) + ": " if s[0] else "") + label, *s[1:]) for s in series]
        blocks.append({"id": claim.id, "statement": claim.statement, "badge": badge(verdict),
                       "who": label, "numbers": claim_numbers(own, claim, below),
                       "reason": _reason(own, claim, below),
                       "settle": settle_text(own, claim.id, verdict, physician=True),
                       "clinic": claim_numbers(clinic, claim, below),
                       "clinic_verdict": clinic_v.get(claim.id, "not assessable").upper(),
                       "strip": strip(series, scale, ref, ref_label)})
    return blocks


def closing_sentence(own: Any, *, claim_id: str = "success_rate", suppress_below: int = 0) -> str:
    """A fair sentence about uncertainty: "With 41 procedures, a success rate between 64% and 89% is
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
    rows = rows_of(own, claim_id)
    rows = rows[(rows["role"] == "primary")]
    if rows.empty:
        return f"These records do not include the claim {claim_id!r}."
    row = rows.iloc[0]
    n = int(row["n"]) if pd.notna(row["n"]) else 0
    if row["verdict"] == "not assessable" or not np.isfinite(row["ci_low"]):
        return (f"With {suppress(n, below)} procedures with a 4-week score, these records are too few to estimate "
                "a success rate.")
    if hides_estimate(row, below):
        return f"With {suppress(n, below)} procedures, the numbers are too small to show outside the clinic."
    return (f"With {suppress(n, below)} procedures, a success rate between {fmt.percent(row['ci_low'])} and "
            f"{fmt.percent(row['ci_high'])} is consistent with these records.")


# ---- header, physician line ------------------------------------------------------------------------

DATES = ("full", "year")


def check_dates(dates: Any) -> str:
    """``dates`` must be "full" (dates as recorded) or "year" (no date finer than the year)."""
    if dates not in DATES:
        raise InputError(f"`dates` must be one of 'full', 'year'; got {dates!r}.")
    return str(dates)


def header_context(cohort: Cohort, endpoints: pd.DataFrame | None = None, *, clinic_name: str | None = None,
                   physician_id: str | None = None, suppress_below: int = 0, synthetic: bool = False,
                   dates: str = "full") -> dict:
    below = check_suppress_below(suppress_below)
    year_only = check_dates(dates) == "year"
    frame = cohort.procedures if endpoints is None else endpoints
    clinic = f" \u2014 {clinic_name}" if clinic_name else ""
    title = (f"Physician review: {physician_id}{clinic}" if physician_id is not None
             else f"Vertebral augmentation outcomes{clinic}")
    dates = (pd.to_datetime(frame["procedure_date"], errors="coerce") if "procedure_date" in frame
             else pd.Series([], dtype="datetime64[ns]"))
    shown = "%Y" if year_only else "%Y-%m-%d"
    span = (f"Procedures {dates.min():{shown}} to {dates.max():{shown}}" if dates.notna().any()
            else "Procedure dates not recorded")
    counts = f"{suppress(len(frame), below)} procedures in {suppress(frame['patient_id'].nunique(), below)} patients"
    if "physician_id" in frame and frame["physician_id"].notna().any() and physician_id is None:
        # physicians are not patients: their count is never suppressed
        n_phys = int(frame["physician_id"].nunique())
        counts += f", {n_phys} physician{'s' if n_phys != 1 else ''}"
    return {"title": title, "subtitle": f"{span} \u00b7 {counts}", "synthetic": synthetic,
            "privacy": list(cohort.privacy_warnings), "below": below,
            "data_class": data_class(cohort) + ("; this report shows no date finer than the year" if year_only else "")}


def physician_line(endpoints: pd.DataFrame, physician_id: str, claims: Any = None, *, suppress_below: int = 0,
                   label: str | None = None) -> dict:
    """The one plain line at the top of a physician review: in line with peers, below or above,
    from the funnel plot's 99.8% limits, with the success rates and the case-mix-adjusted O/E."""
    from .. import monitoring

    below = check_suppress_below(suppress_below)
    label = label or f"Physician {physician_id}"
    stated = stated_of(claims, "proportion", 0.90) if claims is not None else 0.90
    out = {"kind": "na", "text": "", "oe": None}
    try:
        fun = monitoring.funnel(endpoints, outcome="success", unit="physician_id", stated=stated)
    except OutcomesError as exc:
        out["text"] = f"{label} cannot be compared with peers from these records: {counts_hidden(str(exc), below)}"
        return out
    units = fun.units[(fun.units["centre"] == "clinic")]
    mine = units[units["unit"].astype(str) == str(physician_id)]
    if mine.empty:
        out["text"] = f"{label} has no procedures with a 4-week score; no comparison with peers is possible."
        return out
    wide = mine[np.isclose(mine["level"], 0.998)].iloc[0]
    narrow = mine[np.isclose(mine["level"], 0.95)].iloc[0] if (np.isclose(mine["level"], 0.95)).any() else wide
    n = int(wide["n"])
    rate = (f"{fmt.percent(wide['proportion'])} success at 4 weeks in {suppress(n, below)} procedures against "
            f"the clinic's {fmt.percent(fun.clinic_rate)}")
    if hides_estimate({"n": n, "events": int(wide["events"]), "measure": "proportion"}, below):
        rate = f"{suppress(n, below)} procedures with a 4-week score (too few to show a rate outside the clinic)"
    if wide["proportion"] < wide["lower"]:
        kind, words_ = "bad", "below peers"
        why = "outside the funnel plot's 99.8% limit: more than chance explains"
    elif wide["proportion"] > wide["upper"]:
        kind, words_ = "good", "above peers"
        why = "outside the funnel plot's 99.8% limit: more than chance explains"
    else:
        kind, words_ = "good", "in line with peers"
        why = ("inside the funnel plot's limits" if narrow["lower"] <= narrow["proportion"] <= narrow["upper"]
               else "between the funnel plot's 95% and 99.8% limits: worth watching, within what chance explains")
    out.update(kind=kind, verdict=words_.upper(), text=f"{label}: {rate}, {why}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            oe = monitoring.observed_expected(endpoints, physician_id)
        fields = ", ".join(plain(c).replace("_", " ") for c in oe.covariates)
        out["oe"] = (f"Adjusted for case mix ({fields}): {oe.observed} successes observed against "
                     f"{oe.expected:.1f} expected, observed/expected {oe.ratio:.2f} "
                     f"(95% CI {oe.ci.low:.2f}-{oe.ci.high:.2f}).")
        if is_suppressed(oe.observed, below) or is_suppressed(oe.n - oe.observed, below):
            out["oe"] = "Adjusted for case mix: counts too small to show outside the clinic."
    except OutcomesError:
        pass
    return out


# ---- records, limitations, methods, evidence, stamp -------------------------------------------------

def remarks_context(cohort: Cohort, below: int) -> list[str]:
    if cohort.remarks.empty:
        return []
    grouped = cohort.remarks.groupby(["table", "column", "remark"], sort=False).size()
    return [f"{fmt.table_words(t)}, {words(c)}: {suppress(n, below)} value{'s' if n != 1 else ''} {rem}; set to "
            "missing, the row was kept." for (t, c, rem), n in grouped.items()]


def _of(count: int, total: int, below: int, noun: str) -> str:
    """ "75 of 800 procedures (9%)"; the count is hidden when it or its complement is under ``below``."""
    if is_suppressed(count, below) or is_suppressed(total - count, below):
        return f"{suppress(count, below) if is_suppressed(count, below) else 'all but <' + str(below)} of " \
               f"{suppress(total, below)} {noun}"
    text = f"{count:,} of {suppress(total, below)} {noun}"
    return f"{text} ({fmt.percent(count / total)})" if total else text


def limitations(cohort: Cohort, endpoints: pd.DataFrame, definitions: Definitions | None = None, *,
                claims: Any = None, notes: Iterable[str] = (), suppress_below: int = 0) -> list[str]:
    """Limitations written from the data: follow-up, missing scores, visit spacing, interval
    censoring, fragile results (``notes``). Follow-up is said the same way as under Durability."""
    below = check_suppress_below(suppress_below)
    d = definitions or Definitions()
    ep = endpoints
    n = len(ep)
    items = []
    no_base = int(ep["baseline_pain"].isna().sum()) if "baseline_pain" in ep else 0
    if no_base:
        items.append(f"{_of(no_base, n, below, 'procedures')} have no pain score before the procedure and cannot "
                     "show relief.")
    evaluable = ep["baseline_pain"].notna() if "baseline_pain" in ep else pd.Series(True, index=ep.index)
    missing = int((ep["success"].isna() & evaluable).sum()) if "success" in ep else 0
    n_eval = int(evaluable.sum())
    if n_eval:
        weeks = f"{d.success_window_low_hours / 168:g} and {d.success_window_high_hours / 168:g} weeks"
        items.append(f"{_of(missing, n_eval, below, 'procedures')} have no pain score between {weeks}, so their "
                     "4-week success is unknown; the success rate is shown for those with a score and again "
                     "counting them as failures (worst case).")
    if "last_followup_hours" in ep:
        last = ep["last_followup_hours"]
        lost_week = int(((last < 168) | last.isna()).sum())
        year = int((last >= 8766).sum())
        longest = float(last.max()) if last.notna().any() else math.nan
        items.append(f"Follow-up from the procedure: {_of(lost_week, n, below, 'procedures')} have no pain score "
                     f"from one week on; {_of(year, n, below, 'procedures')} have a score a full year or more after "
                     f"the procedure (the longest {fmt.duration(longest)}). Follow-up after relief, which the "
                     "durability claim needs, is shorter. Patients who stop coming may differ from those who return.")
    scores = cohort.assessments
    if "procedure_id" in ep and len(ep) < len(cohort.procedures):  # one physician's procedures only
        wanted = pd.Index(ep["procedure_id"].to_numpy(dtype=object))
        scores = scores[wanted.get_indexer(scores["procedure_id"].to_numpy(dtype=object)) >= 0]
    week = scores[(scores["hours_after"] > 0) & (scores["hours_after"] <= 168)].sort_values(["procedure_id", "hours_after"])
    if len(week):
        per = week.groupby("procedure_id", sort=False).size()
        first = week.groupby("procedure_id", sort=False)["hours_after"].min()
        gaps = week.groupby("procedure_id", sort=False)["hours_after"].diff().dropna()
        gap_text = f" and a median of {fmt.hours(float(gaps.median()))} apart" if len(gaps) else ""
        items.append(f"Visits: in the first week pain was scored a median of {float(per.median()):g} times per "
                     f"procedure, the first time a median of {fmt.hours(float(first.median()))} after the "
                     f"procedure{gap_text}. Relief is only seen at a visit: it happened between two visits, not "
                     "exactly when, so times to relief are visit times.")
    if {"relief_observed", "relief_interval_low_hours", "relief_interval_high_hours"} <= set(ep.columns):
        relieved = ep["relief_observed"].fillna(False).astype(bool)
        width = (ep.loc[relieved, "relief_interval_high_hours"] - ep.loc[relieved, "relief_interval_low_hours"]).astype(float)
        if len(width):
            items.append(f"For relieved patients the gap between the last visit without relief and the first with "
                         f"it was a median of {fmt.hours(float(width.median()))}. The estimate that places relief "
                         "anywhere in that gap (beside the relief curves) shows how much this matters; the 48-hour "
                         f"reading counts a 48-hour visit up to {d.relief_horizon_grace_hours:g} hours late.")
    items.append("These are the clinic's own records, not a randomised trial: differences between procedures or "
                 "between early and late treatment may reflect who was offered which treatment. Adjusted odds "
                 "ratios account only for the factors recorded. Published trials (Evidence) compare against sham "
                 "procedures; these records cannot.")
    if not cohort.remarks.empty:
        items.append(f"{suppress(len(cohort.remarks), below)} unreadable optional values were set to missing "
                     "(see Records).")
    for note in dict.fromkeys(str(x) for x in notes if x):
        items.append(f"Statistical note: {plain(counts_hidden(note, below))}")
    if claims is not None:
        na = [c.statement for c in claims.claims if claims.verdicts().get(c.id) == "not assessable"]
        if na:
            items.append("Not assessable in these records: " + "; ".join(na) + ".")
    return items


def data_notes_context(cohort: Cohort, claims: Any = None, *, suppress_below: int = 0) -> dict:
    """The appendix "Notes on the data": how the inputs were read and the fragile results.

    Parameters
    ----------
    cohort : Cohort
        Its ``notes`` (one line per reading decision: an encoding, a header row under title rows,
        decimal commas, the date formats, which wide columns were read as which hours, events
        without a severity ...).
    claims : ClaimsResult, optional
        Its ``warnings`` ("claim_id: message", raised while the claims were evaluated: a fragile
        fit, an interval that could not be computed), said against the claim's statement.
    suppress_below : int, default 0
        Counts under it in either list are hidden (``"<N"``).

    Returns
    -------
    dict
        ``reading`` and ``statistical`` (lists of plain sentences, each said once) and ``shown``
        (whether either has any).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cohort = SimpleNamespace(notes=("procedures.csv: decimal commas read in 'age'",))
    >>> data_notes_context(cohort)["reading"]
    ["procedures.csv: decimal commas read in 'age'."]
    """
    below = check_suppress_below(suppress_below)

    def sentence(text: str) -> str:
        text = plain(counts_hidden(" ".join(str(text).split()), below))
        return text if text.endswith((".", "!", "?")) else text + "."

    reading = [sentence(n) for n in dict.fromkeys(getattr(cohort, "notes", ()) or ()) if str(n).strip()]
    statements = {c.id: c.statement for c in getattr(claims, "claims", ())}
    statistical = []
    for raw in dict.fromkeys(getattr(claims, "warnings", ()) or ()):
        claim_id, _, message = str(raw).partition(": ")
        if message and claim_id in statements:
            statistical.append(f"{statements[claim_id]} ({claim_id.replace('_', ' ')}): {sentence(message)}")
        else:
            statistical.append(sentence(raw))
    return {"reading": reading, "statistical": statistical, "shown": bool(reading or statistical)}


def _versions() -> list[str]:
    from .. import __version__
    out = [f"outcomes {__version__}", f"Python {platform.python_version()}"]
    for name in ("numpy", "pandas", "scipy", "statsmodels", "matplotlib", "jinja2"):
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def methods_context(claims: Any, definitions: Definitions | None = None) -> dict:
    """The appendix: definitions in words, each claim's methods by name, the verdict rule, software."""
    d = definitions or claims.definitions
    rows = []
    for claim in claims.claims:
        methods = [m for m in dict.fromkeys(rows_of(claims, claim.id)["method"]) if m]
        rows.append([claim.statement, "; ".join(methods) if methods else "not assessable in these records"])
    margins = sorted({c.margin for c in claims.claims if c.stated is not None})
    within = (f"within {100 * margins[0]:g} percentage points of it" if len(margins) == 1
              else "within the claim's margin (" + ", ".join(f"{100 * m:g}" for m in margins) + " percentage points)")
    rule = ("Intervals are 95% confidence intervals. A verdict comes from the interval set against the stated "
            "figure, never from a p-value alone: BELOW or ABOVE when the whole interval lies under or over it; "
            f"CONSISTENT when it contains the figure and lies {within}; INCONCLUSIVE when it contains the figure "
            "but reaches beyond; for a claim that one thing is better than another, SUPPORTED or CONTRADICTED when "
            "the whole interval lies on one side of no difference, INCONCLUSIVE when it includes no difference; "
            "for an upper limit (a complication or new-fracture rate that should stay under the stated figure), "
            "SUPPORTED when the whole interval lies under it, CONTRADICTED when wholly over it, else INCONCLUSIVE. "
            "Intervals are printed with as many decimals as it takes to see which applies. Holm-adjusted "
            "p-values across the primary results are shown beside the raw ones.")
    return {"definitions": list(d.describe()),
            "methods": {"caption": "Statistical methods by claim", "columns": ["claim", "method"], "rows": rows,
                        "css_class": "methods"},
            "rule": rule, "software": ", ".join(_versions())}


def evidence_context(claims: Any, evidence: pd.DataFrame | None = None, *, suppress_below: int = 0) -> list[dict]:
    below = check_suppress_below(suppress_below)
    if evidence is None:
        from ..claims import load_evidence
        evidence = load_evidence()
    verdicts = claims.verdicts()
    out = []
    for claim in claims.claims:
        mine = evidence[evidence["claim_id"] == claim.id]
        items = [{"study": str(e["study"]), "design": str(e["design"]), "population": str(e["population"]),
                  "measure": str(e["measure"]), "value": str(e["value"]), "citation": str(e["citation"]),
                  "doi": str(e.get("doi", "") or "")} for _, e in mine.iterrows()]
        out.append({"statement": claim.statement, "badge": badge(verdicts.get(claim.id, "")),
                    "clinic": claim_numbers(claims, claim, below), "studies": items})
    return out


def stamp_context(cohort: Cohort, definitions: Definitions | None = None, *, today: date | None = None) -> dict:
    from .. import __version__
    d = definitions or Definitions()
    return {"version": __version__, "day": (today or date.today()).isoformat(), "digest": d.digest(),
            "inputs": [(cohort.sources.get(t, t), h) for t, h in cohort.input_hashes.items()]}


def glossary() -> list[tuple[str, str]]:
    return list(GLOSSARY)


__all__: Sequence[str] = []


def monitoring_context(endpoints: pd.DataFrame, claims: Any = None, *, physician_id: str | None = None,
                       suppress_below: int = 0, dates: str = "full") -> dict:
    """The monitoring section: funnel plot by physician, control chart by month and CUSUM, in words and figures.

    With ``physician_id`` their point on the funnel and their CUSUM are highlighted and their own
    control chart is drawn against the clinic rate. With ``suppress_below`` physicians with fewer
    procedures with a score are left off the funnel (a point would reveal their count). With
    ``dates="year"`` no date finer than the year is shown: the monthly control chart is left out
    and the CUSUM's time axis and alarm dates name years only.
    """
    from .. import monitoring
    from ..plots_monitoring import control_chart_figure, cusum_figure, funnel_figure

    below = check_suppress_below(suppress_below)
    year_only = check_dates(dates) == "year"
    stated = stated_of(claims, "proportion", 0.90) if claims is not None else 0.90
    parts: list[dict] = []
    out = {"parts": parts, "signals": None, "funnel": None}
    shown = endpoints
    if below and "physician_id" in endpoints:
        counts = endpoints.dropna(subset=["success"]).groupby("physician_id")["success"].size()
        small = counts[counts < below].index
        shown = endpoints[~endpoints["physician_id"].isin(small)]
        if len(small):
            parts.append({"note": f"{len(small)} physician{'s' if len(small) != 1 else ''} with fewer than {below} "
                                  "procedures with a 4-week score are left off the funnel plot."})
    known = endpoints["success"].dropna().astype(bool) if "success" in endpoints else pd.Series(dtype=bool)
    clinic_rate = float(known.mean()) if len(known) else math.nan

    def funnel_part() -> None:
        fun = monitoring.funnel(shown, outcome="success", unit="physician_id", stated=stated)
        out["funnel"] = fun
        flagged = fun.flagged(level=0.998)
        if len(flagged):
            names = ", ".join(f"{r.unit} ({fmt.percent(r.proportion)} of {suppress(int(r.n), below)})"
                              for r in flagged.itertuples(index=False))
            verdict = f"Outside the outer (99.8%) limits around the clinic rate, more than chance explains: {names}."
        else:
            verdict = "Every physician lies within the outer (99.8%) limits around the clinic rate."
        adjustment = ("" if fun.adjustment == "none" else
                      " The limits were widened for variation between physicians beyond chance.")
        units = fun.units[(fun.units["centre"] == "clinic") & np.isclose(fun.units["level"], 0.998)]
        alt = ("Funnel plot: " + "; ".join(f"{r.unit} {fmt.percent(r.proportion)} of {suppress(int(r.n), below)}"
                                             for r in units.itertuples(index=False))
               + f". Clinic rate {fmt.percent(fun.clinic_rate)}. " + verdict)
        parts.append({"text": f"{verdict} Clinic rate {fmt.percent(fun.clinic_rate)}; stated "
                              f"{fmt.percent(stated)}.{adjustment}",
                      "figure": figure(funnel_figure(fun, highlight=physician_id), alt=alt,
                                       caption="Success at 4 weeks by physician against their number of procedures. "
                                               "Inner and outer funnels: the 95% and 99.8% limits around the clinic "
                                               "rate. A physician outside the outer funnel differs by more than "
                                               "chance would explain.")})

    def chart_part() -> None:
        mine = endpoints if physician_id is None else endpoints[endpoints["physician_id"] == physician_id]
        chart = monitoring.control_chart(mine, outcome="success", stated=stated,
                                         centre=None if physician_id is None else clinic_rate)
        who = "The clinic" if physician_id is None else f"Physician {physician_id}"
        parts.append({"text": f"{who}, {chart.period_reason}: {chart.variation}. {plain(chart.summary)}",
                      "figure": figure(control_chart_figure(chart),
                                       alt=f"Control chart of success at 4 weeks per {chart.period}: "
                                           f"{chart.variation}.",
                                       caption=f"Success at 4 weeks per {chart.period} with limits for chance "
                                               "variation. Signals: a point beyond the limits, a run of 8 on one side "
                                               "of the centre, a trend of 6 (shown by shape).")})

    def clinic_cusum_part() -> None:
        clinic = monitoring.cusum(endpoints, outcome="success", stated=stated)
        row = clinic.limits.iloc[0]
        first = row["first_signal_date"]
        n_sig = int(row["n_signals"])
        out["signals"] = n_sig
        when = ("" if pd.isna(first) else f", the first in {pd.Timestamp(first):%Y}" if year_only
                else f", the first on {pd.Timestamp(first):%d %b %Y}")
        alarms = ("never raised an alarm" if n_sig == 0 else
                  f"raised an alarm {n_sig} time{'s' if n_sig != 1 else ''}{when}")
        detect = clinic.detection[["window", "failures_in_a_row", "failures_any_order"]].rename(columns={
            "window": "consecutive procedures", "failures_in_a_row": "failures in a row that raise an alarm",
            "failures_any_order": "failures in any order that raise an alarm"})
        parts.append({"text": f"The running tally of failures against the stated {fmt.percent(stated)} {alarms}. "
                              "An alarm means failures have run above the stated rate for longer than chance "
                              "would explain; the alarm line is set for about one false alarm in "
                              f"{int(round(row['arl0_simulated'], -2)):,} procedures.",
                      "figure": figure(years_only(cusum_figure(clinic), year_only), alt=f"Running tally of failures over time; it {alarms}.",
                                       caption="Running tally of failures against the stated success rate (CUSUM), "
                                               "starting again after each alarm; below it, failures minus those "
                                               "expected at the stated rate."),
                      "table": table(detect, caption="How many failures raise an alarm.")})

    def physician_cusum_part() -> None:
        by_physician = monitoring.cusum(shown, outcome="success", stated=None, by="physician_id")
        parts.append({"figure": figure(years_only(cusum_figure(by_physician, highlight=physician_id), year_only),
                                       alt="Running tally of failures for each physician against the clinic's own "
                                           "rate" + (f", physician {physician_id} highlighted." if physician_id else "."),
                                       caption="Running tally of failures by physician against the clinic's own "
                                               "rate: a physician whose line reaches the alarm line has had more "
                                               "failures than the clinic rate explains.")})

    def chart_left_out() -> None:  # a monthly or quarterly chart would show dates finer than the year
        parts.append({"note": "The control chart by month is left out: this report shows no date finer than the "
                              "year."})

    builds = [("funnel plot", funnel_part), ("control chart", chart_left_out if year_only else chart_part)]
    if physician_id is None:
        builds.append(("clinic CUSUM", clinic_cusum_part))
    builds.append(("CUSUM by physician", physician_cusum_part))
    build_parts(builds, parts, below)
    return out


def build_parts(builds: Iterable[tuple[str, Callable[[], None]]], parts: list[dict], below: int) -> None:
    """Run each figure's builder in turn, keeping the section whole when one cannot be drawn.

    A builder appends its own parts. One that raises :class:`~outcomes.exceptions.OutcomesError`
    leaves a note instead ("The funnel plot cannot be drawn from these records: ..."); the
    fragile-result warnings (``RuntimeWarning``, e.g. a ``StatisticalWarning``) raised by any of
    them become one closing note, each said once. Counts under ``below`` in either are hidden
    (:func:`outcomes.report.wording.counts_hidden`).

    Parameters
    ----------
    builds : iterable of (str, callable)
        What each builder draws, as the note names it, and the builder (no arguments).
    parts : list of dict
        The section's parts; notes are appended as ``{"note": text}``.
    below : int
        The small-cell threshold (0: none).

    Examples
    --------
    >>> from outcomes.exceptions import InputError
    >>> def broken():
    ...     raise InputError("`unit` must be a column; got 'x'.")
    >>> parts = []
    >>> build_parts([("funnel plot", broken)], parts, 0)
    >>> parts[0]["note"].startswith("The funnel plot cannot be drawn from these records:")
    True
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for what, build in builds:
            try:
                build()
            except OutcomesError as exc:
                parts.append({"note": f"The {what} cannot be drawn from these records: "
                                      f"{plain(counts_hidden(str(exc), below))}"})
    notes = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)))
    if notes:
        parts.append({"note": " ".join(plain(counts_hidden(n, below)) for n in sorted(notes))})


def years_only(fig: Any, year_only: bool) -> Any:
    """A figure with its date axis labelled by year only (``dates="year"``)."""
    if year_only:
        import matplotlib.dates as mdates
        from matplotlib.ticker import NullLocator

        for ax in fig.axes:
            ax.xaxis.set_major_locator(mdates.YearLocator())
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
            ax.xaxis.set_minor_locator(NullLocator())
    return fig
