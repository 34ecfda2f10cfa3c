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
        Each a list of cell indices tied by one sum: the parts, then their total last.
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
    The relations are linear equations (each relation's parts add up to its last cell). A hidden
    cell is recoverable when its unit vector lies in the row space of the equations restricted
    to the unknown cells (any sum and difference of the shown numbers gives it). While a
    sensitive cell (under ``N``) is recoverable, the smallest shown part (a total only when no
    part is left) of a relation holding it is hidden as well. This blocks exact recovery by
    arithmetic; it does not stop bounds ("at most 10").

    Examples
    --------
    >>> # vertebroplasty 8, kyphoplasty 17, total 25: hiding 8 alone gives it away
    >>> protect([8, 17, 25], [[0, 1, 2]], 11).tolist()  # 8 + 17 = 25
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
    matrix = np.zeros((len(rels), k))
    for j, r in enumerate(rels):  # parts add up to the last cell, the total
        matrix[j, r[:-1]] = 1.0
        matrix[j, r[-1]] = -1.0
    while True:
        unknown = np.flatnonzero(~show | hidden)
        leak = next((int(c) for c in unknown if sensitive[c] and _determined(matrix[:, unknown], list(unknown).index(c))),
                    None)
        if leak is None:
            return hidden & show
        near = [i for r in rels if leak in r for i in r]
        linked = [i for r in rels if any(hidden[j] or not show[j] for j in r) for i in r]
        pool = [i for i in dict.fromkeys(near + linked) if i != leak and show[i] and not hidden[i]]
        if not pool:
            return hidden & show
        pool.sort(key=lambda i: (bool(is_total[i]), i not in near, vals[i]))
        pick = pool[0]
        for i in pool:  # the first (smallest part near the leak) that stops it
            trial = np.flatnonzero(~show | hidden | (np.arange(k) == i))
            if not _determined(matrix[:, trial], list(trial).index(leak)):
                pick = i
                break
        hidden[pick] = True


def _determined(a: np.ndarray, column: int) -> bool:
    """Whether unknown ``column`` is fixed by ``a @ x = known``: its unit vector lies in the row space of ``a``."""
    if not a.size:
        return False
    unit = np.zeros((1, a.shape[1]))
    unit[0, column] = 1.0
    return bool(np.linalg.matrix_rank(np.vstack([a, unit])) == np.linalg.matrix_rank(a))
