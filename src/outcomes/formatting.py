"""Formatting numbers for people: the one place where results are rounded.

Percentages without decimals in text and one decimal in tables; p-values as "p = 0.03" or
"p < 0.001"; intervals as "76-82%" (the report's style).
"""

from __future__ import annotations

import math

__all__ = ["TABLE_WORDS", "duration", "hours", "interval", "number", "percent", "pvalue", "table_words"]

# The input tables as a reader names them (flow tables, exclusion lists, remarks).
TABLE_WORDS = {"procedures": "procedures", "assessments": "pain scores", "function_scores": "function scores",
               "events": "events"}


def table_words(table: str) -> str:
    """An input table's name in plain words ("assessments" -> "pain scores")."""
    return TABLE_WORDS.get(str(table), str(table).replace("_", " "))


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value: float | None, decimals: int = 0) -> str:
    """0.794 -> "79%".

    >>> percent(0.794), percent(0.7946, 1), percent(float("nan"))
    ('79%', '79.5%', '-')
    """
    if _missing(value):
        return "-"
    return f"{100 * value:.{decimals}f}%"


def number(value: float | None, decimals: int = 2) -> str:
    """A plain number with a fixed count of decimals; "-" when missing; "inf" kept readable."""
    if _missing(value):
        return "-"
    if math.isinf(value):
        return "not reached" if value > 0 else "-inf"
    return f"{value:.{decimals}f}"


def interval(low: float | None, high: float | None, *, as_percent: bool = True, decimals: int = 0) -> str:
    """(0.76, 0.82) -> "76-82%"; (1.6, 3.5) as plain numbers -> "1.60-3.50".

    >>> interval(0.761, 0.824), interval(1.6, 3.5, as_percent=False), interval(-0.1, 0.2)
    ('76-82%', '1.60-3.50', '-10 to 20%')
    """
    if _missing(low) or _missing(high):
        return "-"
    if as_percent:
        lo, hi = f"{100 * low:.{decimals}f}", f"{100 * high:.{decimals}f}"
        sep = " to " if low < 0 or high < 0 else "-"
        return f"{lo}{sep}{hi}%"
    lo, hi = number(low, decimals or 2), number(high, decimals or 2)
    sep = " to " if low < 0 or high < 0 else "-"
    return f"{lo}{sep}{hi}"


def pvalue(p: float | None) -> str:
    """0.0312 -> "p = 0.03"; 0.0004 -> "p < 0.001".

    >>> pvalue(0.0312), pvalue(0.0004), pvalue(0.5), pvalue(0.0049)
    ('p = 0.03', 'p < 0.001', 'p = 0.50', 'p = 0.005')
    """
    if _missing(p):
        return "p = -"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def hours(value: float | None) -> str:
    """Hours in the unit a physician would say: 30 -> "30 hours", 1008 -> "6 weeks".

    >>> hours(30), hours(1008), hours(8766), hours(26298)
    ('30 hours', '6 weeks', '1 year', '3 years')
    """
    if _missing(value):
        return "-"
    if math.isinf(value):
        return "not reached"
    if value < 72:
        return f"{value:.0f} hours"
    if value < 24 * 21:
        return f"{value / 24:.0f} days"
    if value < 24 * 7 * 26:
        return f"{value / 168:.0f} weeks"
    if value < 8766 * 0.9:
        return f"{value / 730.5:.0f} months"
    years = value / 8766
    return f"{years:.0f} year" + ("s" if round(years) != 1 else "")


def duration(value: float | None) -> str:
    """A length of follow-up precise enough not to collide with a rounded horizon: 8,700 hours is
    "11.9 months", not "1 year". Rounded down, so a follow-up short of a year never reads as 12.0
    months.

    >>> duration(30), duration(8700), duration(8765.9), duration(8766), duration(26298 * 0.8)
    ('30 hours', '11.9 months', '11.9 months', '12.0 months', '2.4 years')
    """
    if _missing(value):
        return "-"
    if math.isinf(value):
        return "not reached"
    if value < 24 * 21:
        return hours(value)
    def down(x: float) -> float:
        return math.floor(x * 10 + 1e-9) / 10

    if value < 24 * 7 * 13:
        return f"{down(value / 168):.1f} weeks"
    if value < 8766 * 2:
        return f"{down(value / 730.5):.1f} months"
    return f"{down(value / 8766):.1f} years"
