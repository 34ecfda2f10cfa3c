"""outcomes.columnar: distinct values and first rows of Arrow columns, as pandas finds them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from outcomes.columnar import arrow_values, distinct_values, first_positions, text_values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_values_are_pandas_unique_in_first_occurrence_order(seed):
    rng = np.random.default_rng(seed)
    values = rng.choice(["a", "b", " c", "", None, "d"], size=500).tolist()
    values.sort(key=lambda v: (v is None, v or "")) if seed == 2 else None  # runs of equal values
    chunks = pa.chunked_array([values[:170], values[170:171], values[171:]], type=pa.large_string())
    expected = pd.Series(values, dtype=object).dropna().unique().tolist()  # pandas: first occurrence order
    assert distinct_values(chunks).to_pylist() == expected
    assert distinct_values(chunks.cast(pa.dictionary(pa.int32(), pa.large_string()))).to_pylist() == expected


def test_first_positions_are_the_first_matching_rows():
    values = pa.chunked_array([["x", "y", None], ["y", "z", "y"]])
    assert first_positions(values, pa.array(["y", "z"]), 3).tolist() == [1, 3, 4]
    assert first_positions(values, pa.array(["q"])).tolist() == []


def test_arrow_values_without_a_copy_and_text_of_other_cells():
    series = pd.Series(pd.array(["a", None], dtype=pd.StringDtype("pyarrow")))
    assert arrow_values(series).chunk(0).buffers()[-1].address == series.array.__arrow_array__().chunk(0).buffers()[-1].address
    assert text_values(pd.Series([1, "b", None], dtype=object)).to_pylist() == ["1", "b", None]
