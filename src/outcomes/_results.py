"""Pieces shared by every statistical result: the interval type and tidy-frame helpers."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, NamedTuple

import pandas as pd

from .exceptions import InputError


class ConfidenceInterval(NamedTuple):
    """A two-sided (or one-sided, with an infinite bound) confidence interval."""

    low: float
    high: float


def result_row(result: Any, **extra: Any) -> pd.DataFrame:
    """One tidy row from a frozen result dataclass: scalars kept, ``ci`` split into ``ci_low``/``ci_high``.

    Non-scalar fields (arrays, frames, nested results) are left out; a result with such fields
    exposes them as attributes.
    """
    row: dict[str, Any] = {}
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, ConfidenceInterval):
            row[f"{field.name}_low" if field.name != "ci" else "ci_low"] = value.low
            row[f"{field.name}_high" if field.name != "ci" else "ci_high"] = value.high
        elif value is None or isinstance(value, (numbers.Number, str, bool)):
            row[field.name] = value
    row.update(extra)
    return pd.DataFrame([row])


def html_table(result: Any) -> str:
    """The ``_repr_html_`` of a result: its tidy row as an HTML table."""
    return result_row(result).to_html(index=False, float_format=lambda v: f"{v:.4g}")


def check_confidence_level(confidence_level: float) -> float:
    """Validate ``confidence_level`` at the edge."""
    if not isinstance(confidence_level, numbers.Real) or not (0 < confidence_level < 1):
        raise InputError(
            f"`confidence_level` must be a number strictly between 0 and 1; got {confidence_level!r}."
        )
    return float(confidence_level)


def check_count(name: str, value: Any) -> int:
    """Validate a non-negative whole count."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0 or (
        isinstance(value, float) and (math.isnan(value) or not value.is_integer())
    ) or int(value) != value:
        raise InputError(f"`{name}` must be a non-negative whole number; got {value!r}.")
    return int(value)


ALTERNATIVES = ("two-sided", "less", "greater")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Validate a string option against its choices."""
    if value not in choices:
        raise InputError(f"`{name}` must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return value
