"""The report's words: each claim's numbers in plain language, why its verdict follows, the glossary.

Everything here returns plain text (the templates escape it). Counts are procedures: a patient
treated at two sittings counts twice, and the report says "procedures" whenever it counts them.
Technical names (Kaplan-Meier, Turnbull, Cox, ...) stay out of the body: the appendix of
methods names them, the glossary explains them.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from .. import formatting as fmt
from ..claims import RATIO_MEASURES, SHARE_MEASURES, verdict_at_most, verdict_for_direction, verdict_for_stated
from .suppression import hides_estimate, is_suppressed, suppress

__all__ = [
    "GLOSSARY",
    "VERDICT_GROUPS",
    "claim_numbers",
    "missing_hidden",
    "plain",
    "settle_text",
    "shown_interval",
    "verdict_reason",
]

SHARE = SHARE_MEASURES
RATIO = RATIO_MEASURES


def at_most(row: pd.Series) -> bool:
    """Whether a result row holds a share against an upper limit (``sense = "at_most"``: a
    complication or new-fracture rate), whose verdicts are supported / contradicted / inconclusive."""
    return row.get("sense") == "at_most" and row.get("measure") in SHARE and pd.notna(row.get("stated"))
GOOD = ("above", "consistent", "supported")
BAD = ("below", "contradicted")
#: Verdicts grouped as the executive summary counts them.
VERDICT_GROUPS = {"met": GOOD, "not met": BAD, "undecided": ("inconclusive", "not assessable")}

_ENDPOINT_WORDS = {"success": "with a 4-week score", "same_day_discharge": "with a recorded discharge",
                   "major_complication_30d": "had a major complication within 30 days",
                   "function_regained": "with a function score at 1-6 weeks regained function"}
_EXPOSURE_WORDS = {"early_treatment": ("treated within six weeks", "treated later")}
TERM_WORDS = {"poor_general_health": "poor general health (ASA 3 or more)",
              "multiple_levels": "two or more levels treated", "complication": "a complication",
              "height_restoration_pct": "height restoration", "kyphotic_angle_change_deg": "kyphotic angle change"}
SHORT = {"poor_general_health": "poor health", "multiple_levels": "2+ levels", "complication": "complication",
         "height_restoration_pct": "height", "kyphotic_angle_change_deg": "angle"}
# Column names of the data contract, as a reader says them.
_COLUMN_WORDS = {
    "height_restoration_pct": "vertebral height restoration (%)",
    "kyphotic_angle_change_deg": "kyphotic angle change (degrees)",
    "fracture_age_days": "fracture age", "fracture_date": "fracture date", "baseline_pain": "baseline pain score",
    "levels_treated": "number of levels treated", "asa_class": "ASA class", "length_of_stay_hours": "length of stay",
    "physician_id": "physician", "procedure_date": "procedure date", "time_to_loss_hours": "time to loss of relief",
    "time_to_relief_hours": "time to relief", "same_day_discharge": "discharge", "early_treatment": "fracture age",
    "poor_general_health": "ASA class", "multiple_levels": "number of levels treated",
}
_COLUMNS = re.compile(r"\b(?:" + "|".join(
    re.escape(c) + "|" + re.escape(c.replace("_", " ")) for c in sorted(_COLUMN_WORDS, key=len, reverse=True)) + r")\b")
# Method names as the body of the report says them (the appendix keeps the names).
_JARGON = [
    (re.compile(r"Turnbull(?: NPMLE| estimate)?", re.I), "relief placed between two visits"),
    (re.compile(r"\bNPMLE\b"), "estimate"),
    (re.compile(r"log\(-log\)"), "transformed"),
    (re.compile(r",? ?Brookmeyer-Crowley interval", re.I), ""),
]

#: Plain definitions of the terms the report uses (shown as its glossary).
GLOSSARY: tuple[tuple[str, str], ...] = (
    ("95% confidence interval (CI)", "The range of values these records are consistent with. Were the clinic's "
     "true figure outside it, records like these would be unusual (fewer than 1 in 20)."),
    ("Stated figure", "What the clinic says publicly, for example 'about 90% recover'."),
    ("Margin", "How close counts as the same: by default 5 percentage points either side of the stated figure."),
    ("Verdicts", "BELOW / ABOVE: the whole interval is under / over the stated figure. CONSISTENT: the interval "
     "holds the stated figure and stays within its margin. INCONCLUSIVE: the interval holds the stated figure but "
     "reaches beyond the margin (too few procedures to tell). SUPPORTED / CONTRADICTED: for 'A is better than B', "
     "the whole interval lies on the claimed / the other side of 'no difference'; for an upper limit (a "
     "complication rate), the whole interval lies under / over the stated limit. NOT ASSESSABLE: the records "
     "lack the fields or the follow-up."),
    ("Procedure and patient", "Each procedure counts once; a patient treated at two sittings counts twice. "
     "Shares are shares of procedures."),
    ("Relief", "A fall of pain from the score before the procedure by at least 2 points and 30%."),
    ("Success", "Relief at the pain score nearest 4 weeks (within 2 to 12 weeks)."),
    ("Share relieved over time", "Counted from the procedure to the first visit showing relief; a patient who "
     "stops coming counts until their last visit (the Kaplan-Meier method)."),
    ("Relief between two visits", "Relief is seen only at a visit, so it happened some time after the previous "
     "visit. A second estimate places it anywhere in that gap (Turnbull's method) to show how much this matters."),
    ("Rate of relief (hazard ratio)", "How much faster relief comes in one group than in another at any moment: "
     "1.4 means relief comes at a 1.4 times higher rate; 1 means no difference."),
    ("Odds ratio", "How much more likely something is with a factor than without it, on the odds scale; 1 means "
     "no association. 'Adjusted' means other recorded factors are taken into account."),
    ("Observed/expected (O/E)", "Successes seen for a physician divided by those expected for their patients' "
     "case mix at the clinic's rates. Above 1: better than expected; below 1: worse."),
    ("Funnel plot", "Each physician's success rate against their number of procedures, with limits showing how "
     "far chance alone would scatter them. A point outside the outer (99.8%) limit is more than chance explains."),
    ("Control chart", "The clinic's success rate month by month, with limits for chance variation; points outside "
     "or long runs on one side are signals."),
    ("Common-cause and special-cause variation", "Common cause: the month-to-month ups and downs chance alone "
     "produces. Special cause: a point or a run the chance limits do not explain, worth a look."),
    ("CUSUM", "A running tally of failures above those expected at the stated rate. It raises an alarm when the "
     "excess grows larger than chance explains, then starts again."),
    ("Holm-adjusted p", "A p-value corrected for checking several claims at once."),
    ("Small-cell suppression", "Counts under the threshold are shown as '<N'; a few others are 'hidden' so that "
     "none of those can be worked out by subtraction."),
)


def plain(text: Any) -> str:
    """Free text from results with column names and method names said in words.

    >>> plain("The records have no height restoration pct field (imaging).")
    'The records have no vertebral height restoration (%) recorded (imaging).'
    >>> plain("adjusted for baseline_pain, levels treated")
    'adjusted for baseline pain score, number of levels treated'
    >>> plain("Turnbull NPMLE (relief between two visits)")
    'relief placed between two visits (relief between two visits)'
    """
    text = _COLUMNS.sub(lambda m: _COLUMN_WORDS[m.group(0).replace(" ", "_")], str(text))
    text = re.sub(r"\b(no (?:varying )?[^.;]*?) field\b", r"\1 recorded", text)
    for pattern, words in _JARGON:
        text = pattern.sub(words, text)
    return text


def words(term: Any) -> str:
    return TERM_WORDS.get(str(term), str(term).replace("_", " "))


def unit(term: Any) -> str:
    term = str(term)
    return " percentage points" if term.endswith("_pct") else " degrees" if term.endswith("_deg") else ""


def signed(value: float, decimals: int = 1) -> str:
    return "-" if not np.isfinite(value) else f"{value:+.{decimals}f}"


def span(low: float, high: float, decimals: int = 1) -> str:
    """An interval of plain numbers: "5.6 to 7.1" (a dash would read as a minus sign)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "-"
    return f"{low:.{decimals}f} to {high:.{decimals}f}"


def ratio(value: float) -> str:
    return fmt.number(value, 2)


def ratio_span(low: float, high: float) -> str:
    return fmt.interval(low, high, as_percent=False)


def rows_of(claims: Any, claim_id: str) -> pd.DataFrame:
    table = claims.table
    return table[table["claim_id"] == claim_id]


def _decimals_for(row: pd.Series) -> int:
    """The fewest decimals (of percentage points, or of a ratio beyond 2) at which the verdict
    worked out from the printed interval is the verdict printed.

    An interval of 76.3-85.04% against 80% ± 5 prints as "76-85%", which reads as within the
    margin; the verdict is INCONCLUSIVE because 85.04 is over 85. Printed as "76.31-85.04%" the
    reader can see why.
    """
    verdict, measure = str(row.get("verdict") or ""), row.get("measure")
    low, high = row.get("ci_low"), row.get("ci_high")
    if verdict in ("", "not assessable") or not (np.isfinite(low) and np.isfinite(high)):
        return 0
    for d in range(0, 5):
        if measure in SHARE and pd.notna(row.get("stated")):
            lo, hi = round(100 * low, d) / 100, round(100 * high, d) / 100
            margin = row.get("margin") if pd.notna(row.get("margin")) else 0.05
            if at_most(row):
                if verdict_at_most(lo, hi, float(row["stated"])) == verdict:
                    return d
            elif verdict_for_stated(lo, hi, float(row["stated"]), float(margin)) == verdict:
                return d
        elif measure in RATIO:
            lo, hi = round(low, d + 2), round(high, d + 2)
            if verdict_for_direction(lo, hi, 1.0) == verdict or verdict not in ("supported", "contradicted",
                                                                                "inconclusive"):
                return d
        else:
            return d
    return 4


def shown_interval(row: pd.Series) -> str:
    """A result row's interval, with as many decimals as it takes for its verdict to follow from it.

    >>> import pandas as pd
    >>> row = pd.Series({"measure": "still relieved at", "ci_low": 0.76312, "ci_high": 0.85042, "stated": 0.8,
    ...                  "margin": 0.05, "verdict": "inconclusive"})
    >>> shown_interval(row)
    '76.31-85.04%'
    >>> shown_interval(pd.Series({**row, "ci_high": 0.8431, "verdict": "consistent"}))
    '76-84%'
    """
    d = _decimals_for(row)
    if row.get("measure") in RATIO:
        return fmt.interval(row["ci_low"], row["ci_high"], as_percent=False, decimals=2 + d)
    if row.get("measure") in SHARE:
        return fmt.interval(row["ci_low"], row["ci_high"], decimals=d)
    if row.get("measure") == "risk difference":
        return span(100 * row["ci_low"], 100 * row["ci_high"], 0) + " percentage points"
    return span(row["ci_low"], row["ci_high"])


def verdict_reason(row: pd.Series) -> str:
    """Why the verdict follows from the printed interval, in one clause (the rule, applied).

    >>> import pandas as pd
    >>> verdict_reason(pd.Series({"measure": "proportion", "ci_low": 0.76, "ci_high": 0.82, "stated": 0.9,
    ...                           "margin": 0.05, "verdict": "below"}))
    'the whole interval (76-82%) lies under the stated 90%'
    """
    verdict, measure = str(row.get("verdict") or ""), row.get("measure")
    if verdict in ("", "not assessable") or not (np.isfinite(row.get("ci_low", np.nan))
                                                  and np.isfinite(row.get("ci_high", np.nan))):
        return ""
    shown = shown_interval(row)
    if at_most(row):
        stated = fmt.percent(float(row["stated"]))
        return {
            "supported": f"the whole interval ({shown}) lies under the stated upper limit of {stated}",
            "contradicted": f"the whole interval ({shown}) lies over the stated upper limit of {stated}",
            "inconclusive": f"the interval ({shown}) holds the stated upper limit of {stated}",
        }[verdict]
    if measure in SHARE and pd.notna(row.get("stated")):
        stated, margin = float(row["stated"]), float(row["margin"]) if pd.notna(row.get("margin")) else 0.05
        band = fmt.interval(stated - margin, stated + margin)
        pts = f"{100 * margin:g} points"
        return {
            "below": f"the whole interval ({shown}) lies under the stated {fmt.percent(stated)}",
            "above": f"the whole interval ({shown}) lies over the stated {fmt.percent(stated)}",
            "consistent": f"the interval ({shown}) holds the stated {fmt.percent(stated)} and stays within "
                          f"{band} (± {pts})",
            "inconclusive": f"the interval ({shown}) holds the stated {fmt.percent(stated)} but reaches beyond "
                            f"{band} (± {pts})",
        }.get(verdict, "")
    null = "1 (no difference)" if measure in RATIO else "0 (no difference)"
    return {
        "supported": f"the whole interval ({shown}) lies on the claimed side of {null}",
        "contradicted": f"the whole interval ({shown}) lies on the other side of {null}",
        "inconclusive": f"the interval ({shown}) includes {null}",
    }.get(verdict, "")


def _settle_direction(row: pd.Series) -> int | None:
    """About how many more procedures would put an effect's interval wholly on one side of no effect.

    The half-width shrinks as 1/sqrt(n); with the estimate unchanged it excludes no effect once
    n' = n (w / |estimate - null|)^2 (ratios on the log scale). A rough guide.
    """
    est, low, high, n = (float(row[c]) if pd.notna(row[c]) else math.nan for c in ("estimate", "ci_low", "ci_high", "n"))
    if not all(np.isfinite([est, low, high, n])) or n <= 0:
        return None
    null = 0.0
    if row["measure"] in SHARE and pd.notna(row.get("stated")):
        null = float(row["stated"])  # a share is settled against its stated figure, not against 0
    elif row["measure"] in RATIO:
        if min(est, low, high) <= 0:
            return None
        est, low, high = math.log(est), math.log(low), math.log(high)
    gap, half = abs(est - null), (high - low) / 2
    if gap == 0 or half <= 0:
        return None
    return max(math.ceil(n * (half / gap) ** 2) - int(n), 1)


def settle_text(claims: Any, claim_id: str, verdict: str, *, physician: bool = False) -> str:
    """What would settle an INCONCLUSIVE verdict, in numbers a reader can act on.

    For one physician a count of further procedures (often more than a career's) is no help:
    the review says the records are too few to tell instead.
    """
    if verdict != "inconclusive":
        return ""
    rows = rows_of(claims, claim_id)
    primary = rows[(rows["role"] == "primary") & (rows["verdict"] == "inconclusive")]
    n = int(primary["n"].max()) if len(primary) and primary["n"].notna().any() else 0
    if physician:
        return (f"With {n:,} procedures the interval is too wide to tell; this is not a finding against the "
                "physician.")
    far = ("Far more procedures than these records hold would be needed to settle it: the observed value is very "
           "close to the figure it is compared with.")
    more = [int(v) for v in primary["additional_to_settle"].dropna() if v > 0]
    if more:
        return far if max(more) > 20 * max(n, 1) else f"About {max(more):,} more procedures would settle it."
    guesses = [g for g in (_settle_direction(r) for _, r in primary.iterrows()) if g]
    if guesses:
        if max(guesses) > 20 * max(n, 1):
            return far
        return (f"About {max(guesses):,} more procedures would settle it, if the effect stayed as observed "
                "(a rough guide).")
    return "More procedures would be needed to settle it."


def counts_hidden(text: Any, below: int) -> str:
    """Free text with every count under ``below`` shown as "<N" (times, shares and thresholds kept).

    >>> counts_hidden("Only 7 patients have this outcome (at least 10 needed); 83% of 433 at 1 year.", 11)
    'Only <11 patients have this outcome (at least 10 needed); 83% of 433 at 1 year.'
    """
    text = str(text)
    if not below:
        return text
    return _COUNT.sub(lambda m: suppress(int(m.group(1).replace(",", "")), below), text)


_COUNT = re.compile(
    r"(?<![\d.,])(?<!than )(?<!least )(?<!ASA )(?<!class )"
    r"(\d{1,3}(?:,\d{3})+|\d+)(?![.,]?\d)"
    r"(?!\s*(?:%|hours?\b|years?\b|weeks?\b|days?\b|months?\b|points?\b|percent|degrees?\b|h\b|needed))")


def _durability(claims: Any, claim: Any, rows: pd.DataFrame, below: int) -> str:
    assessed = rows[rows["verdict"] != "not assessable"]
    n = rows["n"].dropna()
    n = int(n.iloc[0]) if len(n) else 0
    who = f"Among {suppress(n, below)} procedures after which pain was relieved"
    km = claims.details.get(claim.id, {}).get("kaplan_meier")
    longest = None
    if km is not None and len(km.table):
        longest = float(km.table["time"].max())
    if assessed.empty:
        if longest is not None and n:
            return (f"Not assessable: among {suppress(n, below)} procedures followed by relief, follow-up after relief "
                    f"ends at {fmt.duration(longest)}, before {fmt.hours(min(claim.times_hours))}; relief at "
                    + " and ".join(fmt.hours(t) for t in sorted(claim.times_hours))
                    + " cannot be read from these records.")
        return plain(counts_hidden(" ".join(dict.fromkeys(str(x) for x in rows["note"] if x)), below))
    parts = []
    for _, r in rows.iterrows():
        if r["verdict"] == "not assessable":
            parts.append(f"at {r['reading']} not assessable (follow-up after relief ends at "
                         f"{fmt.duration(longest) if longest is not None else 'an earlier time'})")
        elif hides_estimate(r, below):
            parts.append(f"at {r['reading']}: counts too small to show")
        else:
            parts.append(f"at {r['reading']} {fmt.percent(r['estimate'])} still relieved (95% CI "
                         f"{shown_interval(r)}; {suppress(r['events'], below)} still followed then)")
    return f"{who}: " + "; ".join(parts) + f". Stated: {fmt.percent(claim.stated)}."


def missing_hidden(rows: pd.DataFrame, row: pd.Series, below: int) -> bool:
    """Whether a worst-case row would give away a small count of procedures without a score: its
    n minus the complete-case n of the same claim and population (under ``below``, not zero)."""
    if not below or row.get("reading") != "worst case":
        return False
    cc = rows[(rows["claim_id"] == row["claim_id"]) & (rows["population"] == row["population"])
              & (rows["reading"] == "complete case")]
    if cc.empty or pd.isna(row.get("n")) or pd.isna(cc.iloc[0]["n"]):
        return False
    missing = int(row["n"]) - int(cc.iloc[0]["n"])
    return 0 < missing < below


def claim_numbers(claims: Any, claim: Any, below: int = 0) -> str:
    """The numbers behind one claim, in plain words, with small counts suppressed."""
    rows = rows_of(claims, claim.id)
    primary = rows[rows["role"] == "primary"]
    head = primary.iloc[0] if len(primary) else rows.iloc[0]
    if claim.kind == "kept_by":
        return _durability(claims, claim, rows, below)
    if len(primary) and (primary["verdict"] == "not assessable").all():
        return plain(counts_hidden(" ".join(dict.fromkeys(str(n) for n in primary["note"] if n)), below))
    hide = "counts too small to show"
    if claim.kind == "proportion":
        qualifier = _ENDPOINT_WORDS.get(str(claim.endpoint), "")
        if hides_estimate(head, below):
            text = f"{hide} ({suppress(head['n'], below)} procedures)."
        else:
            text = (f"{fmt.percent(head['estimate'])} (95% CI {shown_interval(head)}) of "
                    f"{suppress(head['n'], below)} procedures {qualifier}".rstrip()
                    + f", against {fmt.percent(head['stated'])} stated.")
        worst = rows[(rows["reading"] == "worst case") & (rows["population"] == head["population"])]
        if (len(worst) and worst.iloc[0]["verdict"] != "not assessable" and not hides_estimate(worst.iloc[0], below)
                and not missing_hidden(rows, worst.iloc[0], below)):
            text += f" {fmt.percent(worst.iloc[0]['estimate'])} if missing scores count as failures."
        per = rows[(rows["role"] == "secondary") & (rows["reading"] == "complete case")
                   & (rows["population"] != head["population"])]
        bits = [f"{r['population']} {fmt.percent(r['estimate'])} ({fmt.interval(r['ci_low'], r['ci_high'])})"
                for _, r in per.iterrows() if r["verdict"] != "not assessable" and not hides_estimate(r, below)]
        if bits:
            text += " " + "; ".join(bits).capitalize() + "."
        return text
    if claim.kind == "incidence_by":
        return _incidence(claim, rows, head, below)
    if claim.kind == "relief_by":
        horizon = fmt.hours(claim.horizon_hours)
        if hides_estimate(head, below):
            return f"{hide} ({suppress(head['n'], below)} procedures)."
        text = (f"{fmt.percent(head['estimate'])} (95% CI {shown_interval(head)}) of "
                f"{suppress(head['n'], below)} procedures were followed by relief within {horizon}, "
                f"against {fmt.percent(head['stated'])} stated.")
        tb = rows[rows["role"] == "sensitivity"]
        if len(tb) and pd.notna(tb.iloc[0]["estimate"]):
            text += (f" Placing each relief anywhere between the two visits around it: "
                     f"{fmt.percent(tb.iloc[0]['estimate'])}.")
        return text
    if claim.kind == "faster":
        return _faster(claim, rows, head)
    if claim.kind == "difference":
        rd = claims.details.get(claim.id, {}).get("risk_difference")
        yes, no = _EXPOSURE_WORDS.get(str(claim.exposure), (f"with {words(claim.exposure)}",
                                                            f"without {words(claim.exposure)}"))
        if rd is not None:
            small = any(is_suppressed(v, below) for v in (rd.count1, rd.nobs1, rd.count2, rd.nobs2,
                                                        rd.nobs1 - rd.count1, rd.nobs2 - rd.count2))
            if small:
                text = f"{hide} ({suppress(rd.nobs1, below)} {yes}, {suppress(rd.nobs2, below)} {no})."
            else:
                text = (f"{fmt.percent(rd.count1 / rd.nobs1)} of {suppress(rd.nobs1, below)} procedures {yes} "
                        f"succeeded, {fmt.percent(rd.count2 / rd.nobs2)} of {suppress(rd.nobs2, below)} {no}: "
                        f"{signed(100 * head['estimate'], 0)} percentage points (95% CI "
                        f"{span(100 * head['ci_low'], 100 * head['ci_high'], 0)}), {fmt.pvalue(head['p_value'])}.")
        else:
            text = f"{signed(100 * head['estimate'], 0)} percentage points."
        adjusted = rows[rows["measure"] == "adjusted odds ratio"]
        if len(adjusted) and pd.notna(adjusted.iloc[0]["estimate"]):
            a = adjusted.iloc[0]
            names = str(a["method"]).split("adjusted for ", 1)[-1]
            names = ", ".join(_COLUMN_WORDS.get(x.strip(), x.strip().replace("_", " ")) for x in names.split(","))
            text += (f" Taking {names} into account: odds ratio {ratio(a['estimate'])} "
                     f"({shown_interval(a)}).")
        return text
    if claim.kind == "odds_ratios":
        bits = []
        for _, r in primary.iterrows():
            if r["verdict"] == "not assessable":
                bits.append(f"{words(r['reading'])}: not assessable")
            else:
                bits.append(f"{words(r['reading'])} {ratio(r['estimate'])} ({shown_interval(r)})")
        stays = head.get("events")
        counted = ""
        if pd.notna(stays) and pd.notna(head.get("n")):
            counted = (f" A stay counts every procedure not discharged the same day (overnight or admitted): "
                       f"{suppress(stays, below)} of {suppress(head['n'], below)} procedures.")
        return "Odds ratios of a stay of at least one night, each adjusted for the others: " + "; ".join(bits) \
            + "." + counted
    if claim.kind == "mean_difference":
        bits = []
        for _, r in primary.iterrows():
            if r["verdict"] == "not assessable":
                bits.append(f"{words(r['reading'])}: {plain(counts_hidden(r['note'], below))}")
            else:
                bits.append(f"{words(r['reading'])} {signed(r['estimate'])}{unit(r['reading'])} "
                            f"(95% CI {span(r['ci_low'], r['ci_high'])})")
        return f"{str(claim.group).capitalize()} minus {claim.reference}: " + "; ".join(bits) + "."
    return plain(counts_hidden(head.get("note", ""), below))


def _incidence(claim: Any, rows: pd.DataFrame, head: pd.Series, below: int) -> str:
    """A cumulative incidence by a time (new vertebral fractures by 1 year, death competing)."""
    if hides_estimate(head, below):
        return f"counts too small to show ({suppress(head['n'], below)} procedures)."
    days = str(head.get("reading", "")).removeprefix("by day ").strip()
    when = "1 year" if days == "365" else f"day {days}" if days else "the horizon"
    text = (f"{fmt.percent(head['estimate'])} (95% CI {shown_interval(head)}) of {suppress(head['n'], below)} "
            f"procedures were followed by a new vertebral fracture by {when}, counting death before it as a "
            f"competing event, against {fmt.percent(head['stated'])} stated.")
    per = rows[(rows["role"] == "secondary") & (rows["population"] != head["population"])]
    bits = [f"{r['population']} {fmt.percent(r['estimate'])} ({fmt.interval(r['ci_low'], r['ci_high'])})"
            for _, r in per.iterrows() if r["verdict"] != "not assessable" and not hides_estimate(r, below)]
    if bits:
        text += " " + "; ".join(bits).capitalize() + "."
    note = str(head.get("note") or "")
    if note:
        text += " " + plain(counts_hidden(note, below)).rstrip(".").capitalize() + "."
    return text


def _faster(claim: Any, rows: pd.DataFrame, head: pd.Series) -> str:
    """"Faster", worded from what the claims result measured (its ``measure``, ``method`` and ``note``).

    A hazard ratio is a ratio of rates, not of chances: "relief came at a 1.38 times higher
    rate", never "1.38 times as likely to be relieved". When relief is only seen at visits the
    claims result may compare procedures visit by visit instead; its note says how, and is
    quoted.
    """
    group, reference = claim.group, claim.reference
    measure = str(head.get("measure") or "")
    ci = shown_interval(head)
    note = str(head.get("note") or "")
    if measure == "hazard ratio" and note and not note.startswith("hazard of relief"):
        # the claims result words its own reading for a physician (e.g. the interval-censored
        # comparison of visits); quoted once, with the p-value in its first sentence
        first, sep, rest = plain(note).partition(").")
        return (f"{first}; {fmt.pvalue(head['p_value'])}{sep}{rest}" if sep and pd.notna(head.get("p_value"))
                else plain(note))
    if measure == "hazard ratio":
        text = (f"After {group}, relief came at a {ratio(head['estimate'])} times higher rate than after {reference} "
                f"(95% CI {ci}; {fmt.pvalue(head['p_value'])}).")
    elif measure in ("odds ratio", "adjusted odds ratio"):
        text = (f"At the visits, the odds of relief after {group} were {ratio(head['estimate'])} times those after "
                f"{reference} (95% CI {ci}; {fmt.pvalue(head['p_value'])}).")
    elif measure in SHARE or measure == "risk difference":
        text = (f"{group.capitalize()} minus {reference}: {signed(100 * head['estimate'], 0)} percentage points "
                f"relieved (95% CI {ci}).")
    else:
        text = f"{measure.capitalize()}: {fmt.number(head['estimate'])} (95% CI {ci})."
    if note and not note.startswith("hazard of relief"):
        text += f" {plain(note).rstrip('.')}."
    medians = rows[rows["measure"] == "median hours to relief"]
    med = {r["population"]: fmt.hours(r["estimate"]) for _, r in medians.iterrows()}
    if med:
        text += (f" Half of the procedures were followed by relief within {med.get(group, '-')} ({group}) and "
                 f"{med.get(reference, '-')} ({reference}); pain was scored at set visits, so these times are "
                 "visit times.")
    return text
