"""Small-cell suppression shared by the figures and the report (public as ``outcomes.report.suppress``).

A report shared outside the clinic shows every count under a threshold ``N`` as ``"<N"``
(the usual small-cell rule of registries; CMS's cell-size suppression policy uses N = 11). Zero
is a count under ``N`` too and is suppressed with the rest: "0 of the 4 women" discloses as
much as "1 of the 4".
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .exceptions import InputError

__all__ = ["check_suppress_below", "hides_estimate", "is_suppressed", "suppress"]


def check_suppress_below(value: Any) -> int:
    """Validate ``suppress_below`` at the edge: a whole number >= 0 (0 switches suppression off)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (
        isinstance(value, float) and (math.isnan(value) or not value.is_integer())
    ) or value < 0:
        raise InputError(f"`suppress_below` must be a whole number of 0 or more (0 shows every count); got {value!r}.")
    return int(value)


def is_suppressed(count: Any, below: int) -> bool:
    """Whether ``count`` is hidden under the threshold ``below`` (missing counts are not)."""
    if below <= 0 or count is None:
        return False
    try:
        value = float(count)
    except (TypeError, ValueError):
        return False
    return not math.isnan(value) and value < below


def suppress(count: Any, below: int = 0) -> str:
    """A count as text, or ``"<N"`` when it is under ``N = below`` (``below = 0``: never).

    Parameters
    ----------
    count : int or None
        A count of patients, procedures or rows; ``None``/NaN gives ``"-"``.
    below : int, default 0
        The threshold ``N``; every count under it (0 included) is shown as ``"<N"``.

    Returns
    -------
    str

    Examples
    --------
    >>> suppress(7, 11), suppress(11, 11), suppress(0, 11), suppress(3), suppress(None, 11)
    ('<11', '11', '<11', '3', '-')
    """
    below = check_suppress_below(below)
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return "-"
    if is_suppressed(count, below):
        return f"<{below}"
    return f"{int(count):,}" if float(count).is_integer() else f"{count}"


def hides_estimate(row: Any, below: int) -> bool:
    """Whether a result row's estimate would disclose a small count: its n, or for a share its
    events or non-events, under ``below`` (``row`` is a row of ``ClaimsResult.table``)."""
    if not below:
        return False
    get = row.get if hasattr(row, "get") else (lambda key, default=None: default)
    n, events, measure = get("n"), get("events"), get("measure")
    if is_suppressed(n, below):
        return True
    if measure in ("proportion", "relieved by") and events is not None and not (
            isinstance(events, float) and math.isnan(events)):
        return is_suppressed(events, below) or is_suppressed(n - events, below)
    return False
