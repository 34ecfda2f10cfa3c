"""Small-cell suppression with complementary suppression: no hidden count comes back by subtraction.

:func:`suppress` shows one count under ``N`` as ``"<N"``. A table also shows totals, and a
hidden count is then recovered as "total minus the others" (vertebroplasty "<11" beside
kyphoplasty 17 and a total of 25). :func:`protect` finds, for a set of cells tied by sums
(parts adding up to a total), the further cells to hide so that no sensitive count (under
``N``, shown or implied) can be worked out from the numbers shown: the complementary
suppression of statistical agencies and of the OpenSAFELY and PCORnet output checks, where a
second cell of every sum holding one hidden cell is hidden too.

Physicians, sites and months are not patients: their counts are never suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._suppress import check_suppress_below, hides_estimate, is_suppressed, suppress
from ..exceptions import InputError

__all__ = ["HIDDEN", "check_suppress_below", "hides_estimate", "is_suppressed", "protect", "suppress"]

#: How a count hidden only so that another cannot be recovered by subtraction is shown.
HIDDEN = "hidden"


def protect(values: Sequence[float], relations: Sequence[Sequence[int]], below: int, *,
            shown: Sequence[bool] | None = None, totals: Sequence[int] = ()) -> np.ndarray:
    """Which cells to hide so that no count under ``below`` can be recovered from the others.

    Parameters
    ----------
    values : sequence of numbers
        Every count involved, shown or not (a count that is implied but never printed, such as
        "no complication" beside "complication" and the total, is a cell with ``shown`` False).
    relations : sequence of sequences of int
        Each a set of cell indices tied by one sum (the parts and their total): knowing all but
        one gives the last.
    below : int
        The threshold ``N``; 0 hides nothing.
    shown : sequence of bool, optional
        Whether each cell is printed (default: all).
    totals : sequence of int, optional
        Cells that are totals: hidden only when no part can be.

    Returns
    -------
    numpy.ndarray of bool
        True for each shown cell to hide (the sensitive ones and their complements).

    Notes
    -----
    A cell is recoverable when some relation has it as its only unknown cell, repeatedly (a cell
    recovered becomes known for the next relation). While a sensitive cell (under ``N``) is
    recoverable, the smallest shown part of the relation that gave it away is hidden as well.
    This blocks recovery by sums and differences, the attack the small-cell rules are about; it
    is not a guarantee against bounds from several tables together.

    Examples
    --------
    >>> # vertebroplasty 8, kyphoplasty 17, total 25: hiding 8 alone gives it away
    >>> protect([8, 17, 25], [[0, 1, 2]], 11).tolist()
    [True, True, False]
    >>> protect([8, 17, 25], [[0, 1, 2]], 0).tolist()
    [False, False, False]
    """
    below = check_suppress_below(below)
    vals = np.asarray(values, dtype=float)
    k = len(vals)
    show = np.ones(k, bool) if shown is None else np.asarray(shown, bool)
    if show.shape != (k,):
        raise InputError(f"`shown` must have one flag per value ({k}); got {show.shape[0]}.")
    rels = [list(dict.fromkeys(int(i) for i in r)) for r in relations]
    if any(i < 0 or i >= k for r in rels for i in r):
        raise InputError(f"`relations` must index the {k} values; got {relations!r}.")
    hidden = np.zeros(k, bool)
    if not below:
        return hidden
    sensitive = ~np.isnan(vals) & (vals < below)
    hidden |= sensitive & show
    is_total = np.zeros(k, bool)
    is_total[list(totals)] = True
    while True:
        known = show & ~hidden
        source: dict[int, list[int]] = {}
        changed = True
        while changed:
            changed = False
            for r in rels:
                unknown = [i for i in r if not known[i]]
                if len(unknown) == 1:
                    known[unknown[0]] = True
                    source[unknown[0]] = r
                    changed = True
        leaks = [i for i in range(k) if sensitive[i] and known[i] and not (show[i] and not hidden[i])]
        if not leaks:
            return hidden & show
        leak = leaks[0]
        pool = [i for i in source[leak] if i != leak and show[i] and not hidden[i]]
        if not pool:  # derived through other relations: hide in any relation holding the cell
            pool = [i for r in rels if leak in r for i in r if i != leak and show[i] and not hidden[i]]
        if not pool:
            return hidden & show
        pick = min(pool, key=lambda i: (bool(is_total[i]), vals[i]))
        hidden[pick] = True
