"""Pieces shared by every statistical result: the interval type and tidy-frame helpers."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, NamedTuple

import numpy as np
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


class StepLookup(NamedTuple):
    """Where chosen times fall on a right-continuous step function (see :func:`step_lookup`)."""

    times: np.ndarray  # the chosen times as an array
    last: np.ndarray  # row of the last table time <= t; -1 before the first time
    next: np.ndarray  # row of the first table time >= t; len(table) after the last time
    scalar: bool  # whether a single number was asked for

    def value(self, column: Any, before: float) -> np.ndarray:
        """The column's value at each chosen time: ``before`` ahead of the first table time."""
        return np.concatenate(([before], np.asarray(column, dtype=float)))[self.last + 1]

    def at_risk(self, column: Any) -> np.ndarray:
        """The number with a time >= t: the column at the next table time, 0 after the last."""
        return np.concatenate((np.asarray(column), [0]))[self.next]


def step_lookup(table_times: Any, t: Any) -> StepLookup:
    """Locate ``t`` (a number or an array) on the sorted times of a survival-type table.

    One definition for every estimator whose result is a right-continuous step function
    (Kaplan-Meier, Aalen-Johansen): its value at ``t`` is the last row with time <= t, its number
    at risk the first row with time >= t.

    Examples
    --------
    >>> where = step_lookup([1.0, 3.0], [0.5, 1.0, 2.0, 4.0])
    >>> where.value([0.9, 0.6], before=1.0).tolist(), where.at_risk([10, 7]).tolist()
    ([1.0, 0.9, 0.9, 0.6], [10, 10, 7, 0])
    """
    try:
        tt = np.atleast_1d(np.asarray(t, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"`t` must be numbers without NaN; got {t!r}.") from None
    if np.isnan(tt).any():
        raise InputError(f"`t` must be numbers without NaN; got {t!r}.")
    times = np.asarray(table_times, dtype=float)
    return StepLookup(tt, np.searchsorted(times, tt, side="right") - 1,
                      np.searchsorted(times, tt, side="left"), np.ndim(t) == 0)
