"""Property-based test: mutated procedure and assessment inputs (types, unicode, empty strings,
extreme numbers, duplicate and near-duplicate headers, shuffled columns, time zones, dict and
list cells, files in other encodings and locales) go through load_records -> derive_endpoints ->
evaluate_claims and end in a result or an OutcomesError, never another exception; every result
accounts for each row (read = analysed + excluded).

Bounded (derandomised, a fixed number of examples) so it runs in CI in well under a minute.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomes import OutcomesError, derive_endpoints, evaluate_claims, load_records
from outcomes.synthetic import simulate

PROCS, SCORES, _ = simulate(24, seed=5)
PROCS = PROCS.astype({"procedure_date": str, "fracture_date": str})
# The same scores timed by timestamps: naive, with a time zone, and as text with an offset.
_START = SCORES["procedure_id"].map(pd.to_datetime(PROCS.set_index("procedure_id")["procedure_date"]))
STAMPED = SCORES.drop(columns="hours_after").assign(
    assessed_at=(_START + pd.to_timedelta(SCORES["hours_after"], unit="h")).astype(object))
STAMPED.loc[STAMPED.index[::3], "assessed_at"] = "2022-03-01T10:00:00+02:00"
STAMPED.loc[STAMPED.index[1::3], "assessed_at"] = STAMPED.loc[STAMPED.index[1::3], "assessed_at"].map(
    lambda t: pd.Timestamp(t).tz_localize("UTC"))

ODD_VALUES = st.one_of(
    st.just(""), st.just(" "), st.none(), st.just(np.nan),
    st.text(max_size=12),
    st.sampled_from([1e308, -1e308, np.inf, -np.inf, 0, -1, 2**63, 1e-300, "NaN", "inf", "7,5", "1.234,5"]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([{"value": 8}, [1, 2], ("a", 1), {}, []]),
    st.sampled_from([pd.Timestamp("2022-03-01 10:00", tz="Europe/Berlin"), pd.Timestamp("2022-03-01 10:00"),
                     pd.Timestamp("2022-03-01", tz="UTC"), "2022-03-01T10:00:00+05:30", "2022-03-01T10:00Z",
                     "03/04/2022", "13.01.2022", "2022", "9999-12-31", "0001-01-01", pd.NaT]),
    st.sampled_from(["Peña", "Müller", "Möller", "漢字", "\u200b", "\ufffd", "a\nb", "a;b", 'a"b', "=1+1"]),
)


def _aware(value):
    try:
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("America/Chicago") if stamp.tzinfo is None else stamp.tz_convert("Asia/Kolkata")
    except (ValueError, TypeError, OverflowError):
        return value


@st.composite
def mutated(draw, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with a few columns and cells changed."""
    out = frame.copy().astype(object)
    columns = list(out.columns)
    for _ in range(draw(st.integers(0, 6))):
        row = draw(st.integers(0, len(out) - 1))
        column = draw(st.sampled_from(columns))
        out.iat[row, columns.index(column)] = draw(ODD_VALUES)
    action = draw(st.sampled_from(["none", "shuffle", "near_duplicate", "duplicate", "drop", "retype", "empty_column",
                                   "aware_dates", "rename_upper"]))
    if action == "shuffle":
        order = draw(st.permutations(columns))
        out = out[list(order)]
    elif action == "near_duplicate":
        column = draw(st.sampled_from(columns))
        out[column + " "] = out[column]
    elif action == "duplicate":
        column = draw(st.sampled_from(columns))
        out = pd.concat([out, out[[column]]], axis=1)
    elif action == "drop":
        out = out.drop(columns=draw(st.sampled_from(columns)))
    elif action == "retype":
        column = draw(st.sampled_from(columns))
        kind = draw(st.sampled_from(["str", "float", "category", "bytes"]))
        if kind == "float":
            out[column] = pd.to_numeric(out[column], errors="coerce")
        elif kind == "category":
            out[column] = out[column].astype(str).astype("category")
        elif kind == "bytes":
            out[column] = out[column].map(lambda v: str(v).encode())
        else:
            out[column] = out[column].astype(str)
    elif action == "empty_column":
        out[draw(st.sampled_from(columns))] = ""
    elif action == "aware_dates":
        # every other date made time-zone-aware, beside naive ones
        for column in [c for c in columns if "date" in c or c == "assessed_at"]:
            out[column] = [_aware(v) if i % 2 else v for i, v in enumerate(out[column])]
    elif action == "rename_upper":
        out = out.rename(columns={c: c.upper() for c in columns[:3]})
    return out


def _as_file(frame: pd.DataFrame, tmp_path, name: str, how: str):
    """The frame as a DataFrame or as a file written in one of the ways clinics write them."""
    if how == "frame":
        return frame
    path = tmp_path / f"{name}.csv"
    text = io.StringIO()
    sep = ";" if how == "semicolon" else ","
    frame.to_csv(text, index=False, sep=sep)
    body = text.getvalue()
    if how == "semicolon":
        body = body.replace(".", ",")  # a European locale: decimal commas everywhere
    if how == "titles":
        body = "Synthetic export\n\n" + body
    encoding = {"cp1252": "cp1252", "bom": "utf-8-sig"}.get(how, "utf-8")
    path.write_bytes(body.encode(encoding, errors="replace"))
    return path


def _check(procedures, assessments) -> None:
    try:
        cohort = load_records(procedures, assessments)
    except OutcomesError:
        return
    flow = cohort.flow()
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all(), flow
    assert not cohort.exclusions["reason"].isna().any()
    assert cohort.assessments["hours_after"].map(np.isfinite).all()
    try:
        endpoints = derive_endpoints(cohort)
    except OutcomesError:
        return
    assert len(endpoints) == len(cohort.procedures)
    return cohort


HOW = st.sampled_from(["frame", "frame", "csv", "semicolon", "cp1252", "bom", "titles"])


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(procs=mutated(PROCS), scores=st.one_of(mutated(SCORES), mutated(STAMPED)), how=HOW)
def test_loading_never_ends_in_a_traceback(tmp_path, procs, scores, how):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format" and the like
        _check(_as_file(procs, tmp_path, "p", how), _as_file(scores, tmp_path, "a", how))


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(procs=mutated(PROCS), scores=mutated(SCORES))
def test_claims_never_end_in_a_traceback(procs, scores):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cohort = _check(procs, scores)
    if cohort is None:
        return
    try:
        result = evaluate_claims(cohort)
    except OutcomesError:
        return
    assert set(result.verdicts()) == {c.id for c in result.claims}
    assert len(result.summary()) == len(result.claims)


def test_the_reported_cases_are_handled(tmp_path):
    """The four kinds of traceback the issue found, each now a result or one clear line."""
    near = PROCS.assign(**{"procedure_id ": PROCS["procedure_id"]})
    with pytest.raises(OutcomesError, match="must have different names"):
        load_records(_as_file(near, tmp_path, "near", "csv"), SCORES)
    aware = PROCS.astype(object)
    aware["fracture_date"] = [pd.Timestamp(d, tz="UTC") if i % 2 else d for i, d in enumerate(PROCS["fracture_date"])]
    assert len(load_records(aware, SCORES).procedures) == len(PROCS)
    cells = SCORES.astype(object)
    cells.iat[0, cells.columns.get_loc("pain")] = {"pain": 3}
    cells.iat[1, cells.columns.get_loc("pain")] = [3]
    cohort = load_records(PROCS, cells)
    assert cohort.exclusions["reason"].tolist() == ["pain is not a number"] * 2


EXAMPLES = __import__("pathlib").Path(__file__).parents[1] / "data" / "examples"
REDCAP = pd.read_csv(EXAMPLES / "redcap_export_raw.csv", dtype=str).head(60)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(export=mutated(REDCAP))
def test_redcap_exports_never_end_in_a_traceback(export):
    from outcomes import Mapping

    mapping = Mapping.from_toml(EXAMPLES / "redcap_mapping.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            cohort = load_records(export, mapping=mapping)
        except OutcomesError:
            return
    flow = cohort.flow()
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all(), flow
    assert len(derive_endpoints(cohort)) == len(cohort.procedures)
