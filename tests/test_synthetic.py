"""Tests of :mod:`outcomes.synthetic`: the data contract, reproducibility, injected errors, and
recovery of the stated truth from the raw simulated rows (without the package's endpoint code)."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from outcomes.exceptions import InputError
from outcomes.synthetic import simulate, write_demo

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"

PROCEDURE_COLUMNS = {
    "procedure_id": "str",
    "patient_id": "str",
    "procedure": "str",
    "procedure_date": "str",
    "fracture_date": "str",
    "baseline_pain": "int",
    "levels_treated": "int",
    "etiology": "str",
    "age": "int",
    "sex": "str",
    "asa_class": "int",
    "discharge": "str",
    "length_of_stay_hours": "float",
    "complication": "bool",
    "physician_id": "str",
    "site_id": "str",
    "height_restoration_pct": "float",
    "kyphotic_angle_change_deg": "float",
}
ASSESSMENT_COLUMNS = {"procedure_id": "str", "hours_after": "float", "pain": "int", "instrument": "str"}
KIND_CHECK = {
    "str": pd.api.types.is_string_dtype,
    "int": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_float_dtype,
    "bool": pd.api.types.is_bool_dtype,
}


def _relieved(pain, baseline):
    """Relief as the README defines it, pain <= baseline - max(2, 0.3 * baseline), written in
    integers (10 * pain <= 10 * baseline - max(20, 3 * baseline)) so no rounding can enter."""
    pain = np.asarray(pain, dtype=np.int64)
    baseline = np.asarray(baseline, dtype=np.int64)
    return 10 * pain <= 10 * baseline - np.maximum(20, 3 * baseline)


def _se(p, n):
    return math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def demo_like():
    return simulate(800, seed=2026, data_errors=6)


@pytest.fixture(scope="module")
def complete_follow_up():
    """20,000 procedures, every visit kept, nobody lost to follow-up."""
    return simulate(20_000, seed=11, p_missed_visit=0.0, loss_to_follow_up_rate_per_year=0.0)


# ---------------------------------------------------------------------------------------------
# contract


def test_reproducible_with_seed():
    a = simulate(300, seed=5, data_errors=4)
    b = simulate(300, seed=5, data_errors=4)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert a[2] == b[2]
    c = simulate(300, seed=6, data_errors=4)
    assert not a[0].equals(c[0])
    assert not a[1].equals(c[1])
    assert a[2] == c[2]  # the truth is a population value: it does not depend on the seed


def test_columns_and_dtypes(demo_like):
    procedures, assessments, _ = demo_like
    for frame, contract in [(procedures, PROCEDURE_COLUMNS), (assessments, ASSESSMENT_COLUMNS)]:
        assert list(frame.columns) == list(contract)
        for column, kind in contract.items():
            assert KIND_CHECK[kind](frame[column]), (column, frame[column].dtype)
    assert set(procedures["procedure"]) == {"vertebroplasty", "kyphoplasty"}
    assert set(procedures["etiology"]) <= {"osteoporosis", "malignancy", "trauma"}
    assert set(procedures["sex"]) == {"F", "M"}
    assert set(procedures["discharge"]) == {"same_day", "overnight", "admitted"}
    assert set(procedures["physician_id"]) == {f"D{k}" for k in range(1, 7)}
    assert set(procedures["site_id"]) == {"synthetic-north", "synthetic-south"}
    assert set(assessments["instrument"]) == {"nrs"}
    assert procedures["procedure_id"].is_unique


def test_no_direct_identifiers(demo_like):
    procedures, assessments, _ = demo_like
    identifying = re.compile(r"name|mrn|ssn|birth|dob|address|zip|phone|email|record", re.I)
    assert not [c for c in [*procedures.columns, *assessments.columns] if identifying.search(c)]
    assert procedures["procedure_id"].str.fullmatch(r"P\d{6}").all()
    assert procedures["patient_id"].str.fullmatch(r"Q\d{5}").all()
    assert procedures["site_id"].str.startswith("synthetic-").all()
    assert procedures["age"].between(50, 90).all()
    assert (procedures["age"] == 90).any()  # ages over 89 are shown as 90


def test_value_ranges(demo_like):
    procedures, _, _ = demo_like
    assert procedures["baseline_pain"].between(5, 10).all()
    assert procedures["baseline_pain"].between(7, 9).mean() > 0.6
    assert procedures["levels_treated"].between(1, 4).all()
    assert (procedures["levels_treated"] == 1).mean() > 0.5
    assert procedures["asa_class"].between(1, 4).all()
    proc_date = pd.to_datetime(procedures["procedure_date"], format="%Y-%m-%d")
    fracture_date = pd.to_datetime(procedures["fracture_date"], format="%Y-%m-%d")
    assert proc_date.between("2021-01-01", "2023-09-30").all()
    assert proc_date.is_monotonic_increasing
    fracture_age = (proc_date - fracture_date).dt.days
    assert fracture_age.between(1, 365).all()
    assert 25 <= fracture_age.median() <= 45
    assert 0.3 < (fracture_age <= 42).mean() < 0.8
    los = procedures["length_of_stay_hours"]
    discharge = procedures["discharge"]
    assert (los[discharge == "same_day"] < 12).all()
    assert los[discharge == "overnight"].between(12, 36).all()
    assert (los[discharge == "admitted"] >= 30).all()
    assert 0 < procedures["complication"].mean() < 0.1
    assert (procedures["sex"] == "F").mean() > 0.6
    assert (procedures["etiology"] == "osteoporosis").mean() > 0.7


def test_patients_with_two_procedures():
    procedures, _, _ = simulate(20_000, seed=3)
    per_patient = procedures.groupby("patient_id")
    n_procedures = per_patient.size()
    assert set(n_procedures) == {1, 2}
    assert 0.03 < (n_procedures == 2).mean() < 0.07
    twice = procedures[procedures["patient_id"].isin(n_procedures.index[n_procedures == 2])]
    stable = twice.groupby("patient_id")[["sex", "age", "etiology"]].nunique()
    assert (stable == 1).all().all()
    assert (twice.groupby("patient_id")["procedure_date"].nunique() == 2).all()


def test_baseline_visit(demo_like):
    procedures, assessments, _ = demo_like
    clean = assessments[assessments["procedure_id"].isin(procedures["procedure_id"])]
    baseline = clean[clean["hours_after"] <= 0]
    assert baseline["procedure_id"].is_unique
    assert set(baseline["procedure_id"]) == set(procedures["procedure_id"])
    assert baseline["hours_after"].between(-72, 0).all()
    merged = baseline.merge(procedures, on="procedure_id")
    assert (merged["pain"] == merged["baseline_pain"]).all()


def test_assessments_refer_to_procedures_and_scale():
    procedures, assessments, truth = simulate(500, seed=8)
    assert truth["injected_errors"] == dict.fromkeys(truth["injected_errors"], 0)
    assert assessments["procedure_id"].isin(procedures["procedure_id"]).all()
    assert assessments["pain"].between(0, 10).all()
    assert assessments["hours_after"].notna().all()
    assert not assessments.duplicated().any()
    keys = assessments[["procedure_id", "hours_after"]]
    assert not keys.duplicated().any()
    # rows come sorted by procedure, then time
    order = assessments.sort_values(["procedure_id", "hours_after"], kind="stable").index
    assert (order == assessments.index).all()


def test_injected_errors_appear_as_documented():
    clean = simulate(400, seed=21)[1]
    procedures, assessments, truth = simulate(400, seed=21, data_errors=9)
    expected = {
        "pain_out_of_range": 3,
        "unknown_procedure_id": 2,
        "missing_hours_after": 2,
        "duplicate_row": 2,
    }
    assert truth["injected_errors"] == expected
    assert (assessments["pain"] > 10).sum() == 3
    assert set(assessments.loc[assessments["pain"] > 10, "pain"]) == {12}
    assert assessments["pain"].between(0, 12).all()
    unknown = ~assessments["procedure_id"].isin(procedures["procedure_id"])
    assert unknown.sum() == 2
    assert set(assessments.loc[unknown, "procedure_id"]) == {"P999999"}
    assert assessments["hours_after"].isna().sum() == 2
    assert assessments.duplicated().sum() == 2
    # the rest is the clean draw: modified rows are replaced in place, added rows are extra
    assert len(assessments) == len(clean) + 2 + 2
    kept = assessments[~unknown & ~assessments.duplicated()].reset_index(drop=True)
    changed = (kept["pain"] != clean["pain"]) | (
        kept["hours_after"].fillna(-1e9) != clean["hours_after"]
    )
    assert changed.sum() == 3 + 2
    assert (kept["procedure_id"] == clean["procedure_id"]).all()


# ---------------------------------------------------------------------------------------------
# truth


def test_truth_defaults_match_the_demo_design():
    _, _, truth = simulate(10, seed=0)
    assert json.loads(json.dumps(truth)) == truth
    assert truth["success"] == pytest.approx(0.80, abs=0.01)
    assert truth["relief_48h_vertebroplasty"] == pytest.approx(0.85, abs=0.01)
    assert truth["relief_48h_kyphoplasty"] == pytest.approx(0.90, abs=0.01)
    assert truth["median_relief_hours_kyphoplasty"] < 0.5 * truth["median_relief_hours_vertebroplasty"]
    assert truth["success_risk_difference_early_minus_late"] == pytest.approx(0.12, abs=0.01)
    assert truth["same_day"] == pytest.approx(0.60, abs=0.01)
    assert truth["durable_1y"] == pytest.approx(0.85, abs=0.01)
    assert truth["durable_1y"] > truth["durable_3y"] > 0.75
    assert truth["worse_physician"] == "D4"
    by_physician = truth["success_by_physician"]
    assert by_physician["D4"] == pytest.approx(0.60, abs=0.01)
    assert min(by_physician, key=by_physician.get) == "D4"
    assert truth["kyphotic_angle_diff"] == pytest.approx(-2.64)  # Xing 2013
    assert truth["height_restoration_diff"] > 0
    assert truth["overnight_log_or"] == {"levels": 0.5, "asa": 0.7, "complication": 2.5}
    assert set(truth["injected_errors"]) == {
        "pain_out_of_range",
        "unknown_procedure_id",
        "missing_hours_after",
        "duplicate_row",
    }


def test_truth_integrals_against_monte_carlo():
    """With everyone a responder (intercept 30), success and relief by 48 h reduce to the
    relief-time integrals; check them against a direct draw of the latent times."""
    params = dict(responder_intercept=30.0, worse_physician=None)
    truth = simulate(1, seed=0, **params)[2]
    p = truth["parameters"]
    rng = np.random.default_rng(12345)
    n = 400_000
    for proc in ("vertebroplasty", "kyphoplasty"):
        t_r = rng.lognormal(math.log(p[f"relief_median_hours_{proc}"]), p["relief_sigma"], n)
        transient = rng.random(n) < p["p_transient_relief"]
        t_l = np.where(
            transient,
            rng.exponential(p["transient_relief_mean_hours"], n),
            rng.exponential(8766.0 / p["relief_loss_rate_per_year"], n),
        )
        success = np.mean((t_r <= 672) & (t_r + t_l > 672))
        assert truth[f"success_{proc}"] == pytest.approx(success, abs=4 * _se(success, n))
        by_48h = np.mean(t_r <= 48)
        assert truth[f"relief_48h_{proc}"] == pytest.approx(by_48h, abs=4 * _se(by_48h, n))
        assert truth[f"median_relief_hours_{proc}"] == pytest.approx(
            p[f"relief_median_hours_{proc}"], rel=1e-6
        )
    assert truth["durable_1y"] == pytest.approx(
        p["p_transient_relief"] * math.exp(-8766.0 / p["transient_relief_mean_hours"])
        + (1 - p["p_transient_relief"]) * math.exp(-p["relief_loss_rate_per_year"])
    )


def test_median_relief_is_infinite_when_most_never_relieved():
    truth = simulate(1, seed=0, responder_intercept=-3.0)[2]
    assert truth["ever_relieved_vertebroplasty"] < 0.5
    assert truth["median_relief_hours_vertebroplasty"] == math.inf


def test_worse_physician_override():
    equal = simulate(1, seed=0, worse_physician=None)[2]["success_by_physician"]
    assert max(equal.values()) - min(equal.values()) < 1e-12
    truth = simulate(1, seed=0, worse_physician="D2", worse_physician_log_or=-1.0)[2]
    by_physician = truth["success_by_physician"]
    assert min(by_physician, key=by_physician.get) == "D2"
    assert truth["parameters"]["worse_physician_log_or"] == -1.0


# ---------------------------------------------------------------------------------------------
# recovery of the truth from the raw rows (independent of the package's endpoint code)


def _visit_relief(procedures, assessments, low, high):
    """Relief at the single visit with ``low <= hours_after <= high``, per procedure."""
    visits = assessments[assessments["hours_after"].between(low, high)]
    assert visits["procedure_id"].is_unique
    merged = visits.merge(procedures, on="procedure_id", validate="one_to_one")
    merged["relieved"] = _relieved(merged["pain"], merged["baseline_pain"])
    return merged


def test_recovers_success_at_four_weeks(complete_follow_up):
    procedures, assessments, truth = complete_follow_up
    # the 4-week visit lies in 672 +- 72 h; with no missed visits every procedure has one
    at_4w = _visit_relief(procedures, assessments, 600, 744)
    assert len(at_4w) == len(procedures)
    # Allowance for visit jitter: near 4 weeks P(relieved at t) moves only through the end of
    # transient relief, at most p_transient * exp(-600 / 336) / 336 ~ 7e-5 per hour, so +-72 h
    # of uniform jitter shifts the mean by well under 72 * 7e-5 = 0.005.
    groups = [("success", at_4w)]
    groups += [(f"success_{p}", at_4w[at_4w["procedure"] == p]) for p in ("vertebroplasty", "kyphoplasty")]
    groups += [("D4", at_4w[at_4w["physician_id"] == "D4"])]
    for key, group in groups:
        expected = truth["success_by_physician"]["D4"] if key == "D4" else truth[key]
        observed = group["relieved"].mean()
        assert observed == pytest.approx(expected, abs=4 * _se(expected, len(group)) + 0.005), key

    fracture_age = (
        pd.to_datetime(at_4w["procedure_date"]) - pd.to_datetime(at_4w["fracture_date"])
    ).dt.days
    early = at_4w.loc[fracture_age <= 42, "relieved"]
    late = at_4w.loc[fracture_age > 42, "relieved"]
    se = math.hypot(_se(truth["success_early"], len(early)), _se(truth["success_late"], len(late)))
    assert early.mean() - late.mean() == pytest.approx(
        truth["success_risk_difference_early_minus_late"], abs=4 * se + 0.005
    )


def test_recovers_same_day_discharge(complete_follow_up):
    procedures, _, truth = complete_follow_up
    observed = (procedures["discharge"] == "same_day").mean()
    assert observed == pytest.approx(truth["same_day"], abs=4 * _se(truth["same_day"], len(procedures)))


def test_recovers_relief_by_48h(complete_follow_up):
    procedures, assessments, truth = complete_follow_up
    early_visits = assessments[assessments["hours_after"].between(0, 52)]  # 2, 24 and 48 h visits
    assert early_visits.groupby("procedure_id").size().eq(3).all()
    merged = early_visits.merge(procedures, on="procedure_id")
    merged["relieved"] = _relieved(merged["pain"], merged["baseline_pain"])
    by_procedure = merged.groupby("procedure_id").agg(
        relieved=("relieved", "any"), procedure=("procedure", "first")
    )
    # Allowance 0.01: the 48 h visit lies in 48 +- 4 h (first-order effect of symmetric jitter
    # cancels; the density of first relief there is below 0.003 per hour), and relief that
    # starts and ends between two early visits (transient relief shorter than the ~20 h gap:
    # under 0.133 * (1 - exp(-26 / 336)) ~ 0.01 of responders) is not seen.
    for proc in ("vertebroplasty", "kyphoplasty"):
        group = by_procedure[by_procedure["procedure"] == proc]
        expected = truth[f"relief_48h_{proc}"]
        assert group["relieved"].mean() == pytest.approx(
            expected, abs=4 * _se(expected, len(group)) + 0.01
        ), proc


# ---------------------------------------------------------------------------------------------
# input validation and demo files


def test_input_validation():
    with pytest.raises(InputError, match=r"`bogus` must be one of .*responder_intercept.*; got 'bogus'"):
        simulate(10, bogus=1)
    with pytest.raises(InputError, match=r"`p_missed_visit` must be a probability in \[0, 1\]; got 1.5"):
        simulate(10, p_missed_visit=1.5)
    with pytest.raises(InputError, match=r"`relief_sigma` must be positive; got 0.0"):
        simulate(10, relief_sigma=0)
    with pytest.raises(InputError, match=r"`early_log_or` must be a finite number; got 'x'"):
        simulate(10, early_log_or="x")
    with pytest.raises(InputError, match=r"`worse_physician` must be one of D1, .*; got 'D9'"):
        simulate(10, worse_physician="D9")
    with pytest.raises(InputError, match=r"`n_procedures` must be an integer >= 1; got 0"):
        simulate(0)
    with pytest.raises(InputError, match=r"`n_procedures` must be an integer >= 1; got 2.5"):
        simulate(2.5)
    with pytest.raises(InputError, match=r"`data_errors` must be an integer >= 0; got -1"):
        simulate(10, data_errors=-1)
    with pytest.raises(InputError, match=r"`data_errors` must be at most"):
        simulate(1, seed=0, p_missed_visit=1.0, data_errors=1)


def test_write_demo_reproduces_committed_files(tmp_path):
    paths = write_demo(tmp_path)
    assert [p.name for p in paths] == ["procedures.csv", "assessments.csv", "events.csv"]
    for path in paths:
        assert path.read_bytes() == (DEMO / path.name).read_bytes(), path.name


def test_demo_files_show_exclusions():
    procedures = pd.read_csv(DEMO / "procedures.csv")
    assessments = pd.read_csv(DEMO / "assessments.csv")
    assert len(procedures) == 800
    assert procedures["physician_id"].nunique() == 6
    bad = (
        (assessments["pain"] > 10)
        | ~assessments["procedure_id"].isin(procedures["procedure_id"])
        | assessments["hours_after"].isna()
        | assessments.duplicated()
    )
    assert bad.sum() == 6


@pytest.mark.slow
def test_a_million_procedures_in_seconds():
    start = time.perf_counter()
    procedures, assessments, _ = simulate(1_000_000, seed=1)
    elapsed = time.perf_counter() - start
    assert len(procedures) == 1_000_000
    assert len(assessments) > 6_000_000
    assert elapsed < 30


# ---- safety and function (simulate_safety) ---------------------------------------------------

from outcomes.competing import cumulative_incidence  # noqa: E402
from outcomes.synthetic import EVENT_CODES, simulate_safety  # noqa: E402

EVENT_COLUMNS = ["procedure_id", "event", "days_after", "severity", "level", "adjacent"]


def _fracture_times(procedures, events):
    """(days, status) per procedure from the raw rows: 1 new fracture, 2 death first, 0 censored
    at the last contact (a fracture is only recorded before death, so a same-day tie is one)."""
    ids = procedures["procedure_id"].to_numpy()
    last = procedures["last_contact_days"].to_numpy(dtype=float)
    first = events[events["event"].isin(["new_fracture", "death"])].sort_values(
        ["procedure_id", "days_after"], kind="stable"
    )
    first = first.drop_duplicates("procedure_id")  # new_fracture sorts before death on a tie
    pos = pd.Index(ids).get_indexer(first["procedure_id"])
    days = last.copy()
    status = np.zeros(len(ids), dtype=int)
    days[pos] = first["days_after"].to_numpy()
    status[pos] = np.where(first["event"].to_numpy() == "new_fracture", 1, 2)
    return days, status


def test_safety_keeps_simulate_rows():
    base_p, base_a, base_t = simulate(300, seed=9)
    procedures, assessments, events, truth = simulate_safety(300, seed=9)
    pd.testing.assert_frame_equal(procedures.drop(columns="last_contact_days"), base_p)
    nrs = assessments[assessments["instrument"] == "nrs"].reset_index(drop=True)
    np.testing.assert_array_equal(nrs["procedure_id"], base_a["procedure_id"])
    np.testing.assert_array_equal(nrs["pain"].to_numpy(dtype=float), base_a["pain"].to_numpy(dtype=float))
    np.testing.assert_array_equal(nrs["score"], base_a["pain"].to_numpy(dtype=float))
    assert truth["success"] == base_t["success"]
    # the default simulate() output has no new columns
    assert "last_contact_days" not in base_p.columns and "score" not in base_a.columns
    json.dumps(truth)  # serialisable


def test_safety_reproducible_with_seed():
    a = simulate_safety(200, seed=4)
    b = simulate_safety(200, seed=4)
    for x, y in zip(a[:3], b[:3]):
        pd.testing.assert_frame_equal(x, y)


def test_events_contract():
    procedures, assessments, events, _ = simulate_safety(3000, seed=2)
    assert list(events.columns) == EVENT_COLUMNS
    assert pd.api.types.is_integer_dtype(events["days_after"])
    assert set(events["event"]) <= set(EVENT_CODES)
    assert set(events["severity"].dropna()) <= {"major", "minor"}
    assert events["procedure_id"].isin(procedures["procedure_id"]).all()
    assert (events["days_after"] >= 0).all()
    merged = events.merge(procedures[["procedure_id", "last_contact_days"]], on="procedure_id")
    assert (merged["days_after"] <= merged["last_contact_days"]).all()
    complications = events[~events["event"].isin(["new_fracture", "death"])]
    assert (complications["days_after"] <= 30).all()
    deaths = merged[merged["event"] == "death"]
    assert not deaths["procedure_id"].duplicated().any()
    assert (deaths["days_after"] == deaths["last_contact_days"]).all()
    fractures = events[events["event"] == "new_fracture"]
    assert fractures["level"].notna().all() and fractures["adjacent"].notna().all()
    assert fractures["severity"].isna().all()
    assert events.loc[events["event"] == "pulmonary_embolism", "adjacent"].isna().all()
    # function scores: ODI 0-100 in steps of 2, RMDQ 0-24, every procedure has both baselines
    odi = assessments[assessments["instrument"] == "odi"]
    rmdq = assessments[assessments["instrument"] == "rmdq"]
    assert odi["score"].between(0, 100).all() and (odi["score"] % 2 == 0).all()
    assert rmdq["score"].between(0, 24).all() and (rmdq["score"] % 1 == 0).all()
    assert odi["pain"].isna().all()
    for frame in (odi, rmdq):
        base = frame[frame["hours_after"] < 0]
        assert base["procedure_id"].is_unique and len(base) == len(procedures)
    # no function visit after the last contact
    m = odi.merge(procedures[["procedure_id", "last_contact_days"]], on="procedure_id")
    assert (m["hours_after"] <= 24 * m["last_contact_days"]).all()


def test_a_patient_dies_once_and_has_one_follow_up():
    # FHIR and OMOP hold one death and one follow-up per patient: both procedures of a patient
    # treated twice end on the same calendar day, die on the same day, and the earlier one's new
    # fractures lie up to the later procedure's day (the one that procedure treats among them)
    procedures, _, events, _ = simulate_safety(3000, seed=6)
    day = pd.to_datetime(procedures["procedure_date"])
    twice = procedures["patient_id"].duplicated(keep=False).to_numpy()
    assert twice.sum() >= 200
    end = (day + pd.to_timedelta(procedures["last_contact_days"], unit="D"))[twice]
    assert end.groupby(procedures["patient_id"][twice]).nunique().eq(1).all()
    when = events.merge(procedures[["procedure_id", "patient_id", "procedure_date", "fracture_date"]], on="procedure_id")
    when["day"] = pd.to_datetime(when["procedure_date"]) + pd.to_timedelta(when["days_after"], unit="D")
    deaths = when[when["event"] == "death"]
    assert deaths.groupby("patient_id")["day"].nunique().eq(1).all()
    dead_twice = deaths[deaths["patient_id"].isin(procedures["patient_id"][twice])]
    assert len(dead_twice) > 0 and dead_twice.groupby("patient_id").size().eq(2).all()
    pairs = procedures[twice].assign(day=day[twice]).groupby("patient_id").agg(
        earlier=("procedure_id", "first"), next_day=("day", "last"), treated=("fracture_date", "last"),
        first_day=("day", "first"))
    fractures = when[(when["event"] == "new_fracture") & when["procedure_id"].isin(pairs["earlier"])]
    limit = pairs.set_index("earlier")["next_day"]
    assert (fractures["day"].to_numpy() <= limit.loc[fractures["procedure_id"]].to_numpy()).all()
    treated = pd.to_datetime(pairs["treated"])
    new = pairs[treated > pairs["first_day"]]
    assert len(new) > 100
    got = set(zip(fractures["procedure_id"], fractures["day"]))
    assert all((pid, t) in got for pid, t in zip(new["earlier"], pd.to_datetime(new["treated"])))


@pytest.fixture(scope="module")
def safety_large():
    # complete follow-up for the 30-day and 1-year figures: no loss, at least 2 years
    return simulate_safety(
        60_000, seed=31, contact_loss_rate_per_year=0.0, follow_up_min_days=730.0,
        p_missed_function_visit=0.0,
    )


def test_recovers_complication_rates(safety_large):
    procedures, _, events, truth = safety_large
    n = len(procedures)
    major = events[(events["severity"] == "major") & (events["event"] != "death")]
    has_major = procedures["procedure_id"].isin(major["procedure_id"])
    p = truth["major_complication_30d"]
    assert abs(has_major.mean() - p) < 4 * _se(p, n)
    for etiology, p_e in truth["major_complication_30d_by_etiology"].items():
        mask = (procedures["etiology"] == etiology).to_numpy()
        assert abs(has_major[mask].mean() - p_e) < 4 * _se(p_e, mask.sum())
    worse = truth["worse_safety_physician"]
    by_phys = truth["major_complication_30d_by_physician"]
    assert by_phys[worse] == max(by_phys.values())
    mask = (procedures["physician_id"] == worse).to_numpy()
    assert abs(has_major[mask].mean() - by_phys[worse]) < 4 * _se(by_phys[worse], mask.sum())
    minor = events[events["severity"] == "minor"]
    p = truth["minor_complication_30d"]
    assert abs(procedures["procedure_id"].isin(minor["procedure_id"]).mean() - p) < 4 * _se(p, n)
    death30 = events[(events["event"] == "death") & (events["days_after"] <= 30)]
    p = truth["death_30d"]
    assert abs(procedures["procedure_id"].isin(death30["procedure_id"]).mean() - p) < 4 * _se(p, n)


def test_recovers_new_fracture_incidence(safety_large):
    procedures, _, events, truth = safety_large
    days, status = _fracture_times(procedures, events)
    # one data set: a 99.9% interval (nominal coverage is the next tests' business)
    res = cumulative_incidence(days, status, confidence_level=0.999).at(365).iloc[0]
    assert res["ci_low"] <= truth["new_fracture_1y"] <= res["ci_high"]
    kyph = (procedures["procedure"] == "kyphoplasty").to_numpy()
    res_k = cumulative_incidence(days[kyph], status[kyph], confidence_level=0.999).at(365).iloc[0]
    assert res_k["ci_low"] <= truth["new_fracture_1y_kyphoplasty"] <= res_k["ci_high"]


def test_recovers_function_improvement(safety_large):
    procedures, assessments, _, truth = safety_large
    for instrument, change in [("odi", 10), ("rmdq", 5)]:
        rows = assessments[assessments["instrument"] == instrument]
        base = rows[rows["hours_after"] < 0].set_index("procedure_id")["score"]
        visit = rows[(rows["hours_after"] >= 168) & (rows["hours_after"] <= 1008)]
        visit = visit.assign(gap=(visit["hours_after"] - 336).abs()).sort_values("gap")
        visit = visit.drop_duplicates("procedure_id").set_index("procedure_id")["score"]
        improved = (base.reindex(visit.index) - visit) >= change
        p = truth[f"{instrument}_improved"]
        assert abs(improved.mean() - p) < 4 * _se(p, len(improved))


def test_truth_closed_forms_against_monte_carlo():
    # the truth's cell formulas against a direct draw of the latent model's pieces (one
    # procedure per patient here; the next test adds the patients treated twice)
    truth = simulate_safety(1, seed=0, p_second_procedure=0.0)[3]
    params = truth["safety_parameters"]
    rng = np.random.default_rng(8)
    m = 2_000_000
    lam_f, lam_d = params["fracture_rate_per_year"], params["death_rate_per_year_osteoporosis"]
    tf, td = rng.exponential(1 / lam_f, m), rng.exponential(1 / lam_d, m)
    mc = np.mean((tf < td) & (np.ceil(tf * 365.25) <= 365))
    cell = truth["new_fracture_1y_by_etiology"]["osteoporosis"]
    # osteoporosis cell mixes the kyphoplasty hazard ratio: recompute the vertebroplasty part
    p_k = truth["parameters"]["p_kyphoplasty"]
    hr = params["fracture_kyphoplasty_hr"]
    y = 365 / 365.25
    vp = lam_f / (lam_f + lam_d) * (1 - math.exp(-(lam_f + lam_d) * y))
    kp = hr * lam_f / (hr * lam_f + lam_d) * (1 - math.exp(-(hr * lam_f + lam_d) * y))
    assert cell == pytest.approx((1 - p_k) * vp + p_k * kp, rel=1e-12)
    assert mc == pytest.approx(vp, abs=4 * _se(vp, m))


def test_truth_of_patients_treated_twice_against_monte_carlo():
    # a patient's earlier procedure is followed from the later one (gap ~ U{21..330} days):
    # a new fracture is its own up to the later procedure's day or the one the later procedure
    # treats (fracture age clip(rint(LogNormal(log 35, 0.8)), 1, 365) < gap); a death within
    # 30 days is gap + ceil(365.25 T) <= 30; drawn here directly, mixed with the single
    # procedures' closed form by the share of earlier procedures
    truth = simulate_safety(1, seed=0)[3]
    single = simulate_safety(1, seed=0, p_second_procedure=0.0)[3]
    params, base = truth["safety_parameters"], truth["parameters"]
    q = base["p_second_procedure"] / (1 + base["p_second_procedure"])
    share = q * (1 - q)
    # the share against simulate's own patients (each pair: one earlier procedure)
    procedures = simulate(200_000, seed=3)[0]
    pairs = procedures["patient_id"].duplicated().mean()
    assert pairs == pytest.approx(share, abs=4 * _se(share, 200_000))
    rng = np.random.default_rng(12)
    m = 2_000_000
    gap = rng.integers(21, 331, m)
    age = np.clip(np.rint(rng.lognormal(math.log(base["fracture_age_median_days"]), base["fracture_age_sigma"], m)),
                  1, 365)
    lam_d = params["death_rate_per_year_malignancy"]
    earlier = []  # vertebroplasty, kyphoplasty: the malignancy cell's earlier procedures
    for hr in (1.0, params["fracture_kyphoplasty_hr"]):
        lam_f = params["fracture_rate_per_year"] * params["fracture_malignancy_hr"] * hr
        own = np.ceil(rng.exponential(1 / lam_f, m) * 365.25) <= gap
        earlier.append(np.mean(own | (age < gap)))
    p_k = base["p_kyphoplasty"]
    want = (1 - share) * single["new_fracture_1y_by_etiology"]["malignancy"] + share * (
        (1 - p_k) * earlier[0] + p_k * earlier[1])
    assert truth["new_fracture_1y_by_etiology"]["malignancy"] == pytest.approx(want, abs=4 * share * _se(0.5, m))
    dies = np.ceil(rng.exponential(1 / lam_d, m) * 365.25) + gap <= 30
    want = (1 - share) * single["death_30d_by_etiology"]["malignancy"] + share * dies.mean()
    assert truth["death_30d_by_etiology"]["malignancy"] == pytest.approx(want, abs=4 * share * _se(0.01, m))


def test_aalen_johansen_covers_true_new_fracture_incidence():
    # truth recovery at the nominal rate: 120 clinics of 400 procedures, 95% intervals
    reps, hits = 120, 0
    truth = None
    for k in range(reps):
        procedures, _, events, truth = simulate_safety(400, seed=1000 + k)
        days, status = _fracture_times(procedures, events)
        row = cumulative_incidence(days, status).at(365).iloc[0]
        hits += row["ci_low"] <= truth["new_fracture_1y"] <= row["ci_high"]
    # binomial sd of the coverage at 0.95 with 120 reps: 0.02
    assert 0.88 <= hits / reps <= 1.0


@pytest.mark.slow
def test_aalen_johansen_covers_true_new_fracture_incidence_large():
    reps, hits = 1000, 0
    for k in range(reps):
        procedures, _, events, truth = simulate_safety(400, seed=5000 + k)
        days, status = _fracture_times(procedures, events)
        row = cumulative_incidence(days, status).at(365).iloc[0]
        hits += row["ci_low"] <= truth["new_fracture_1y"] <= row["ci_high"]
    assert 0.93 <= hits / reps <= 0.965  # sd 0.007


def test_safety_input_validation():
    with pytest.raises(InputError, match=r"`bogus` must be a parameter of simulate or simulate_safety"):
        simulate_safety(10, bogus=1)
    with pytest.raises(InputError, match=r"`worse_safety_physician` must be one of D1"):
        simulate_safety(10, worse_safety_physician="D9")
    with pytest.raises(InputError, match=r"`p_adjacent_fracture` must be a probability in \[0, 1\]; got 2.0"):
        simulate_safety(10, p_adjacent_fracture=2)
    with pytest.raises(InputError, match=r"`follow_up_max_days` must be >= `follow_up_min_days`"):
        simulate_safety(10, follow_up_max_days=100.0)
    with pytest.raises(InputError, match=r"`odi_change_sd` must be positive; got 0.0"):
        simulate_safety(10, odi_change_sd=0)
    with pytest.raises(InputError, match=r"`major_intercept` must be a finite number; got 'x'"):
        simulate_safety(10, major_intercept="x")
    with pytest.raises(InputError, match=r"`p_missed_visit` must be a probability"):
        simulate_safety(10, p_missed_visit=1.5)  # simulate's own parameters still checked
