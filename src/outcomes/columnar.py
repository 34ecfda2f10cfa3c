"""Columns as Arrow: the values of a pandas column without a copy, and their distinct values.

pandas keeps text read from Parquet in Arrow (pandas 3 by default; :func:`outcomes.load_records`
asks pandas 2 for the same), so a column's values can be handed to Arrow compute functions and to
DuckDB as they are. What is done once per *distinct* value (codes, dates, the privacy rules,
instrument labels) needs the distinct values of columns of millions of rows;
:func:`distinct_values` finds them with one hash per *run* of equal neighbouring values, so a
column in which each value repeats on consecutive rows (a score table in order of procedure) is
hashed once per procedure, not once per score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["arrow_values", "distinct_values", "first_positions", "release_memory", "run_starts", "text_values"]


def arrow_values(values: pd.Series | pd.Index | Any) -> pa.ChunkedArray:
    """The values of a pandas column as an Arrow chunked array; without a copy when pandas keeps
    them in Arrow (Arrow-backed text and ``ArrowDtype`` columns) or in a numpy array of numbers.

    Examples
    --------
    >>> arrow_values(pd.Series(["a", None, "b"], dtype="string[pyarrow]")).to_pylist()
    ['a', None, 'b']
    """
    array = values.array if isinstance(values, (pd.Series, pd.Index)) else values
    if isinstance(array, pd.arrays.ArrowExtensionArray):
        return array.__arrow_array__()
    got = pa.array(array, from_pandas=True)
    return got if isinstance(got, pa.ChunkedArray) else pa.chunked_array([got], type=got.type)


def text_values(values: pd.Series) -> pa.ChunkedArray:
    """A text column as Arrow text, missing cells null: Arrow-backed text as it is, any other
    cell as its ``str()`` (as ``Series.astype(str)`` writes it)."""
    array = values.array
    if isinstance(array, pd.arrays.ArrowExtensionArray):
        chunked = array.__arrow_array__()
        if pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type):
            return chunked
    missing = values.isna().to_numpy(dtype=bool)
    text = values.astype(str).to_numpy(dtype=object)
    return pa.chunked_array([pa.array(text, type=pa.large_string(), mask=missing)])


def run_starts(chunk: pa.Array) -> pa.Array:
    """Where a value differs from the value before it (the first row of a chunk always does;
    a null differs from its neighbours)."""
    n = len(chunk)
    if n < 2:
        return pa.array(np.ones(n, dtype=bool))
    changed = pc.fill_null(pc.not_equal(chunk.slice(1), chunk.slice(0, n - 1)), True)
    return pa.concat_arrays([pa.array([True]), changed])


def distinct_values(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The distinct non-missing values in the order they first occur.

    Runs of equal neighbouring values are reduced to their first row before the values are
    hashed (one comparison per row is cheaper than one hash).

    Examples
    --------
    >>> distinct_values(pa.chunked_array([["b", "b", None, "a"], ["a", "b"]])).to_pylist()
    ['b', 'a']
    """
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    heads = [chunk.filter(run_starts(chunk)) for chunk in chunks if len(chunk)]
    if not heads:
        return pa.array([], type=values.type)
    return pc.unique(pa.chunked_array(heads, type=values.type)).drop_null()


def first_positions(values: pa.ChunkedArray | pa.Array, among: pa.Array, limit: int | None = None) -> np.ndarray:
    """The positions of the first ``limit`` rows (all when None) whose value is in ``among``."""
    found = pc.is_in(values, value_set=among)
    mask = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool) if not isinstance(found, pa.ChunkedArray) \
        else np.concatenate([np.asarray(c.to_numpy(zero_copy_only=False), dtype=bool) for c in found.chunks]
                            or [np.zeros(0, dtype=bool)])
    positions = np.flatnonzero(mask)
    return positions if limit is None else positions[:limit]


def release_memory() -> None:
    """Give the memory Arrow has freed back to the operating system now.

    Arrow's allocator (mimalloc in the wheels) keeps the pages of buffers that one thread
    allocated (Arrow's reading threads) and another freed (the main thread) until the first
    thread allocates again, which an idle reading thread may never do: dropping the frames of a
    registry read from Parquet then left the process ~0.45 GB larger, in some runs and not in
    others. Call it after dropping large tables and before memory grows again.
    """
    pa.default_memory_pool().release_unused()
