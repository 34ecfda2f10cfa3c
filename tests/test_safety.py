"""The events table and the safety endpoints (outcomes.safety, sql/events.sql, sql/safety.sql).

The endpoints are checked against a direct computation from the events frame written here in
plain pandas (the contract of the endpoint columns, not the SQL), on simulated records whose
truth is known; the row accounting on messy events files as clinics write them; the mapping
file's [events] section; the command line; the privacy guard; the registry engines.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import sqlglot

from outcomes import DefinitionsError, IdentifiersAllowedWarning, InputError, PrivacyError, load_records
from outcomes.checks import number_sql
from outcomes.claims import load_claims
from outcomes.cli import main
from outcomes.definitions import Definitions
from outcomes.endpoints import derive_endpoints
from outcomes.engines import transpile
from outcomes.mapping import EVENT_CODES, Mapping
from outcomes.registry import _endpoints_frame, evaluate_registry
from outcomes.safety import (
    SAFETY_COLUMNS,
    events_fill,
    safety_endpoints,
    safety_fill,
    safety_sql,
    validate_events,
)
from outcomes.pipeline import sql_statements
from outcomes.stats import proportion
from outcomes.synthetic import simulate_safety


WINDOW = 30.0
# one quick claim for the registry runs (the accounting is what is compared here)
_ONE_CLAIM = [c for c in load_claims() if c.id == "outpatient"]


def _records(n: int, seed: int):
    procs, scores, events, truth = simulate_safety(n, seed=seed)
    pain = scores[scores["instrument"] == "nrs"].drop(columns="score")  # function scores are issue 12b's
    return procs, pain, events, truth


def _direct(procs: pd.DataFrame, events: pd.DataFrame, window: float = WINDOW) -> pd.DataFrame:
    """The safety endpoints by the contract, computed row by row from the events frame."""
    ev = events.assign(days_after=events["days_after"].astype(float))
    ev = ev[ev["days_after"] >= 0]
    in_window = ev["days_after"] <= window
    major = set(ev.loc[(ev["severity"] == "major") & (ev["event"] != "death") & in_window, "procedure_id"])
    minor = set(ev.loc[(ev["severity"] == "minor") & (ev["event"] != "death") & in_window, "procedure_id"])
    death = ev[ev["event"] == "death"].groupby("procedure_id")["days_after"].min().to_dict()
    fracture = ev[ev["event"] == "new_fracture"].groupby("procedure_id")["days_after"].min().to_dict()
    rows = []
    for pid, contact in zip(procs["procedure_id"], procs["last_contact_days"].astype(float)):
        d, f = death.get(pid), fracture.get(pid)
        if d is not None and d <= window:
            died = True
        elif d is not None or (not math.isnan(contact) and contact >= window):
            died = False
        else:
            died = None
        if f is not None and (d is None or f <= d):
            days, status = f, 1
        elif d is not None:
            days, status = d, 2
        elif not math.isnan(contact):
            days, status = contact, 0
        else:
            days, status = math.nan, None
        rows.append({"procedure_id": pid, "major_complication_30d": pid in major,
                     "minor_complication_30d": pid in minor, "death_30d": died,
                     "new_fracture_days": days, "new_fracture_status": status})
    return pd.DataFrame(rows)


def test_endpoints_equal_a_direct_computation_on_simulated_records():
    procs, pain, events, _ = _records(3000, seed=21)
    cohort = load_records(procs, pain, events)
    assert cohort.has_events and len(cohort.events) == len(events)
    ep = derive_endpoints(cohort)
    want = _direct(procs, events)
    assert ep["procedure_id"].tolist() == want["procedure_id"].tolist()
    for column in ("major_complication_30d", "minor_complication_30d", "death_30d"):
        assert ep[column].dtype == "boolean"
        assert ep[column].astype(object).where(ep[column].notna(), None).tolist() == want[column].tolist(), column
    np.testing.assert_array_equal(ep["new_fracture_days"].to_numpy(float), want["new_fracture_days"].to_numpy(float))
    assert ep["new_fracture_status"].dtype == "Int64"
    assert ep["new_fracture_status"].astype(object).where(ep["new_fracture_status"].notna(), None).tolist() == \
        want["new_fracture_status"].tolist()
    np.testing.assert_array_equal(ep["last_contact_days"].to_numpy(float), procs["last_contact_days"].to_numpy(float))
    # every status occurs (the comparison above is not vacuous)
    assert set(ep["new_fracture_status"].dropna()) == {0, 1, 2}
    assert ep["major_complication_30d"].sum() > 20 and ep["death_30d"].isna().sum() > 0


def test_complication_rates_recover_the_simulated_truth():
    procs, pain, events, truth = _records(6000, seed=5)
    ep = derive_endpoints(load_records(procs, pain, events))
    for column in ("major_complication_30d", "minor_complication_30d"):
        values = ep[column]
        result = proportion(int(values.sum()), int(values.notna().sum()), method="exact", confidence_level=0.999)
        assert result.ci.low <= truth[column] <= result.ci.high, (column, result, truth[column])
    # deaths within 30 days among those whose status at 30 days is known (censoring by loss to
    # follow-up before 30 days is rare in the simulation)
    died = ep["death_30d"]
    result = proportion(int(died.sum()), int(died.notna().sum()), method="exact", confidence_level=0.999)
    assert result.ci.low <= truth["death_30d"] <= result.ci.high


def test_without_an_events_table_the_safety_endpoints_are_unknown_not_false():
    procs, pain, _, _ = _records(200, seed=2)
    cohort = load_records(procs, pain)
    assert not cohort.has_events and cohort.events.empty
    assert list(cohort.events.columns) == ["procedure_id", "event", "days_after", "severity", "level", "adjacent"]
    assert "events" not in cohort.read and "events" not in set(cohort.flow()["table"])
    ep = derive_endpoints(cohort)
    for column in SAFETY_COLUMNS[1:]:
        assert ep[column].isna().all(), column
    assert ep["major_complication_30d"].dtype == "boolean" and ep["new_fracture_status"].dtype == "Int64"
    # the follow-up is still read from the procedure rows
    assert ep["last_contact_days"].notna().all()
    # an events table with no event for a procedure: False, not unknown
    empty = pd.DataFrame({"procedure_id": [procs["procedure_id"].iloc[0]], "event": ["other"], "days_after": [400],
                          "severity": ["minor"]})
    ep = derive_endpoints(load_records(procs, pain, empty))
    assert ep["major_complication_30d"].notna().all() and not ep["major_complication_30d"].any()


@pytest.mark.parametrize("events, contact, want", [
    # (event, days_after, severity) rows; last contact; expected endpoints
    ([], 400.0, dict(major=False, minor=False, death=False, days=400.0, status=0)),
    ([], 10.0, dict(major=False, minor=False, death=None, days=10.0, status=0)),
    ([], None, dict(major=False, minor=False, death=None, days=None, status=None)),
    ([("pulmonary_embolism", 30.0, "major")], 31.0, dict(major=True, minor=False, death=False, days=31.0, status=0)),
    ([("pulmonary_embolism", 31.0, "major")], 400.0, dict(major=False, minor=False, death=False, days=400.0, status=0)),
    ([("death", 3.0, "major")], 3.0, dict(major=False, minor=False, death=True, days=3.0, status=2)),
    ([("death", 45.0, "major")], 12.0, dict(major=False, minor=False, death=False, days=45.0, status=2)),
    ([("new_fracture", 90.0, None), ("death", 90.0, "major")], 90.0,
     dict(major=False, minor=False, death=False, days=90.0, status=1)),
    ([("death", 80.0, "major"), ("new_fracture", 90.0, None)], 90.0,
     dict(major=False, minor=False, death=False, days=80.0, status=2)),
    ([("rib_fracture", 0.0, "minor"), ("other", -0.5, "major")], 5.0,
     dict(major=False, minor=True, death=None, days=5.0, status=0)),
    # a complication of unknown severity (an OMOP condition): whether it was major is not known
    ([("infection", 10.0, None)], 60.0, dict(major=None, minor=None, death=False, days=60.0, status=0)),
    ([("infection", 10.0, None), ("reoperation", 12.0, "major")], 60.0,
     dict(major=True, minor=None, death=False, days=60.0, status=0)),
    ([("infection", 40.0, None)], 60.0, dict(major=False, minor=False, death=False, days=60.0, status=0)),
])
def test_safety_endpoints_follow_the_contract(events, contact, want):
    # the endpoint rules of the shared contract, case by case (including the window's edges)
    procs = pd.DataFrame({"procedure_id": ["P1", "P2"], "last_contact_days": [contact, 500.0]})
    ev = pd.DataFrame(events or None, columns=["event", "days_after", "severity"]).assign(procedure_id="P1")
    out = safety_endpoints(procs, ev).iloc[0]
    assert (None if pd.isna(out["major_complication_30d"]) else bool(out["major_complication_30d"])) is want["major"]
    assert (None if pd.isna(out["minor_complication_30d"]) else bool(out["minor_complication_30d"])) is want["minor"]
    assert (None if pd.isna(out["death_30d"]) else bool(out["death_30d"])) is want["death"]
    assert (None if pd.isna(out["new_fracture_days"]) else out["new_fracture_days"]) == want["days"]
    assert (None if pd.isna(out["new_fracture_status"]) else int(out["new_fracture_status"])) == want["status"]


def test_the_window_comes_from_the_definitions():
    procs = pd.DataFrame({"procedure_id": ["P1"], "last_contact_days": [100.0]})
    ev = pd.DataFrame({"procedure_id": ["P1"], "event": ["infection"], "days_after": [40.0], "severity": ["major"]})
    assert not safety_endpoints(procs, ev)["major_complication_30d"].iloc[0]
    d = Definitions(complication_window_days=60)
    assert safety_endpoints(procs, ev, d)["major_complication_30d"].iloc[0]
    assert Definitions.from_dict({"safety": {"complication_window_days": 90}}).complication_window_days == 90.0
    assert Definitions().to_dict()["safety"] == {"complication_window_days": 30.0, "new_fracture_horizon_days": 365.0}


@pytest.fixture
def messy():
    procs = pd.DataFrame({
        "procedure_id": ["P1", "P2", "P3", "P4", "P5"],
        "patient_id": ["A", "B", "C", None, "E"],  # P4 is excluded (patient_id missing)
        "procedure": ["PVP", "BKP", "PVP", "PVP", "kyphoplasty"],
        "procedure_date": ["2022-01-03", "2022-02-01", "2022-03-01", "2022-03-02", "2021"],  # P5: a year only
        "last_contact_date": ["2023-01-03", "soon", "", "2022-04-01", "2022-06-01"],
        "baseline_pain": [8, 7, 8, 6, 7],
        "pain_48h": [3, 4, 5, 2, 3],
    })
    events = pd.DataFrame({
        "procedure_id": ["P1", " P1 ", "P2", "P2", None, "P4", "P9", "P3", "P3", "P3", "P3", "P3", "P3", "P5",
                         "P5", "P1", "P3"],
        "event": ["Cement leak", " PE ", "DIED", "new vertebral fracture", "death", "death", "death", "", "stroke",
                  "infection", "infection", "infection", "infection", "reoperation", "readmission", "rib fracture",
                  "Spondylodiscitis"],
        "days_after": ["1", None, "20", "", "3", "3", "3", "3", "3", None, "soon", "1e9", "-3", None, "2", "0,5",
                       " 3 "],
        "event_date": [None, "2022-01-05", None, "2022-06-01", None, None, None, None, None, None, None, None, None,
                       "2021-05-01", None, None, None],
        "severity": ["minor", "SIR D", "major", None, "major", "major", "major", "minor", "major", "major", "major",
                     "major", "major", "major", "major", "minor", "grave"],
        "adjacent": [None, None, None, "yes", None, None, None, None, None, None, None, None, None, None, None,
                     None, "perhaps"],
    })
    return procs, events


def test_row_accounting_of_a_messy_events_table(messy):
    procs, events = messy
    cohort = load_records(procs, events=events)
    flow = cohort.flow().set_index("table")
    assert flow.loc["events", "read"] == len(events) == flow.loc["events", "analysed"] + flow.loc["events", "excluded"]
    assert flow.loc["events", "analysed"] == 6
    log = cohort.exclusions[cohort.exclusions["table"] == "events"]
    reasons = log.set_index("row")["reason"].to_dict()  # rows of a DataFrame: their positions
    assert reasons == {
        4: "procedure_id missing",
        5: "its procedure was excluded",
        6: "unknown procedure id (not in the procedures table)",
        7: "event missing",
        8: "unknown event code (map the clinic's label in the mapping file's [events.values.event])",
        9: "time missing (give days_after or event_date)",
        10: "time is not a number",
        11: "time not finite or more than 20 years from the procedure",
        12: "event more than a day before the procedure",
        13: "event_date needs the procedure's date, and the procedure has only a year (give days_after)",
        15: "time is not a number",  # "0,5": a decimal comma in a DataFrame is not read as a number
    }
    assert log.set_index("row").loc[8, "value"] == "stroke" and log.set_index("row").loc[8, "column"] == "event"
    assert log.set_index("row").loc[5, "procedure_id"] == "P4"
    ev = cohort.events
    assert ev["event"].tolist() == ["symptomatic_cement_leak", "pulmonary_embolism", "death", "new_fracture",
                                    "readmission", "infection"]
    assert ev["procedure_id"].tolist() == ["P1", "P1", "P2", "P2", "P5", "P3"]
    # event_date minus the procedure's date (P2's fracture: 2022-06-01 - 2022-02-01)
    assert ev["days_after"].tolist() == [1.0, 2.0, 20.0, 120.0, 2.0, 3.0]
    assert ev["severity"].astype(object).where(ev["severity"].notna(), None).tolist() == \
        ["minor", "major", "major", None, "major", None]
    assert ev["adjacent"].astype(object).where(ev["adjacent"].notna(), None).tolist() == \
        [None, None, None, True, None, None]
    remarks = cohort.remarks.astype({"row": int})
    ev_remarks = remarks[remarks["table"] == "events"]
    assert ev_remarks[["row", "column", "value"]].values.tolist() == [[16, "severity", "grave"],
                                                                      [16, "adjacent", "perhaps"]]
    assert any("1 complication without a severity" in n for n in cohort.notes)
    # follow-up from last_contact_date; unreadable or needing a full procedure date: missing, with a remark
    lc = cohort.procedures.set_index("procedure_id")["last_contact_days"]
    assert lc["P1"] == 365.0 and pd.isna(lc["P2"]) and pd.isna(lc["P3"]) and pd.isna(lc["P5"])
    proc_remarks = remarks[(remarks["table"] == "procedures") & (remarks["column"] == "last_contact_date")]
    assert proc_remarks["value"].tolist() == ["soon", "2022-06-01"]
    assert cohort.procedures["last_contact_date"].dtype == "datetime64[ns]"


def test_a_clinic_events_file_cp1252_with_a_title_row_and_a_mapping(tmp_path, messy):
    procs, _ = messy
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[events.columns]\n"Fall-Nr." = "procedure_id"\n"Komplikation" = "event"\n"Datum" = "event_date"\n'
        '"Schweregrad" = "severity"\n'
        '[events.values.event]\n"Zementaustritt" = "symptomatic_cement_leak"\n"Lungenembolie" = "pulmonary_embolism"\n'
        '[events.values.severity]\n"schwer" = "major"\n"leicht" = "minor"\n'
        '[events]\ndate_format = "%d.%m.%Y"\n', encoding="utf-8")
    text = ("Komplikationen Wirbelsäule 2022;;;\n"
            "Fall-Nr.;Komplikation;Datum;Schweregrad\n"
            "P1;Zementaustritt;04.01.2022;leicht\n"
            "P2;Lungenembolie;03.02.2022;schwer\n"
            "P3;Übelkeit;02.03.2022;leicht\n")
    path = tmp_path / "komplikationen.csv"
    path.write_bytes(text.encode("cp1252"))
    cohort = load_records(procs, events=path, mapping=mapping)
    assert cohort.sources["events"] == "komplikationen.csv" and "events" in cohort.input_hashes
    assert cohort.events["event"].tolist() == ["symptomatic_cement_leak", "pulmonary_embolism"]
    assert cohort.events["days_after"].tolist() == [1.0, 2.0]
    assert cohort.events["severity"].tolist() == ["minor", "major"]
    log = cohort.exclusions[cohort.exclusions["table"] == "events"]
    assert log["row"].tolist() == [5] and log["value"].tolist() == ["Übelkeit"]  # spreadsheet row, title above
    assert any("header on row 2" in n for n in cohort.notes)
    ep = derive_endpoints(cohort).set_index("procedure_id")
    assert ep.loc["P2", "major_complication_30d"] and ep.loc["P1", "minor_complication_30d"]


def test_mapping_values_must_be_canonical_codes():
    with pytest.raises(DefinitionsError, match=r"`events.values.event.Zementaustritt` in mapping must be one of "
                                               r"symptomatic_cement_leak, .*; got 'cement'\."):
        Mapping.from_dict({"events": {"values": {"event": {"Zementaustritt": "cement"}}}})
    with pytest.raises(DefinitionsError, match=r"`events.values.severity.III` in mapping must be one of major, minor"):
        Mapping.from_dict({"events": {"values": {"severity": {"III": "serious"}}}})
    with pytest.raises(DefinitionsError, match=r"`events.columns.Wann` in mapping must name a canonical column"):
        Mapping.from_dict({"events": {"columns": {"Wann": "when"}}})
    assert set(EVENT_CODES) == {"symptomatic_cement_leak", "pulmonary_embolism", "neurologic_deficit", "infection",
                                "rib_fracture", "new_fracture", "readmission", "reoperation", "death", "other"}


def test_input_validation_of_the_events_table(messy):
    procs, _ = messy
    with pytest.raises(InputError, match=r"events \(DataFrame\) must have the column 'event'; found columns "
                                         r"procedure_id, days_after\."):
        load_records(procs, events=pd.DataFrame({"procedure_id": ["P1"], "days_after": [1]}))
    with pytest.raises(InputError, match=r"must have the column 'days_after' or 'event_date'"):
        load_records(procs, events=pd.DataFrame({"procedure_id": ["P1"], "event": ["death"]}))
    with pytest.raises(InputError, match=r"`events` must have at least one row"):
        load_records(procs, events=pd.DataFrame({"procedure_id": [], "event": [], "days_after": []}))
    with pytest.raises(InputError, match=r"`procedures` must have the column 'procedure_id'"):
        safety_endpoints(pd.DataFrame({"id": ["P1"]}), None)


def test_the_privacy_guard_reads_the_events_file(tmp_path, messy):
    procs, _ = messy
    path = tmp_path / "events.csv"
    pd.DataFrame({"procedure_id": ["P1"], "event": ["death"], "days_after": [3],
                  "patient_name": ["Ann Lee"]}).to_csv(path, index=False)
    with pytest.raises(PrivacyError, match=r"events.csv looks identifying: column 'patient_name'"):
        load_records(procs, events=path)
    with pytest.warns(IdentifiersAllowedWarning, match="events.csv"):
        cohort = load_records(procs, events=path, allow_identifiers=True)
    assert any("events.csv" in w for w in cohort.privacy_warnings)
    # a column dropped by the mapping never reaches the guard
    mapping = Mapping.from_dict({"events": {"drop": ["patient_name"]}})
    assert len(load_records(procs, events=path, mapping=mapping).events) == 1


def test_cli_validate_reads_events(tmp_path, messy, capsys):
    procs, events = messy
    procs.to_csv(tmp_path / "procedures.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    out = tmp_path / "excluded.csv"
    status = main(["validate", str(tmp_path / "procedures.csv"), "--events", str(tmp_path / "events.csv"),
                   "--exclusions", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert "events (events.csv): read 17, analysed 6, excluded 11" in printed
    assert "excluded      1  unknown event code" in printed
    log = pd.read_csv(out)
    assert (log["table"] == "events").sum() == 11
    # the events file goes with procedures only
    assert main(["validate", "--fhir", str(tmp_path), "--events", str(tmp_path / "events.csv")]) == 2
    assert "`events` must go with procedures" in capsys.readouterr().err


def _statements():
    text = {"days_after": ("days_after", "VARCHAR"), "last_contact_days": ("last_contact_days", "VARCHAR")}
    fill = events_fill(days_after=number_sql("days_after", text),
                       last_contact_days=number_sql("last_contact_days", text),
                       last_contact_date="CAST(s.last_contact_date AS VARCHAR)",
                       last_contact_days_raw="s.last_contact_days", followed=True, has_events=True)
    return (sql_statements(safety_sql("events").format(**fill))
            + sql_statements(safety_sql("safety").format(**safety_fill(Definitions(), True))))


@pytest.mark.parametrize("dialect", ["spark", "postgres"])
def test_the_sql_transpiles_to_spark_and_postgres(dialect):
    statements = _statements()
    assert len(statements) == 3
    for statement in statements:
        text = transpile(statement, dialect)
        tree = sqlglot.parse_one(text, read=dialect)
        assert tree.find(sqlglot.exp.Create) is not None
        assert "ws_trim(" not in text  # the DuckDB macro became TRIM(... FROM ...)


def test_registry_engine_gives_the_endpoints_and_accounting_of_load_records(tmp_path):
    procs, pain, events, _ = _records(1500, seed=8)
    events = events.astype({"days_after": "string"})
    events.loc[3, "days_after"] = "soon"
    events.loc[4, "procedure_id"] = "nobody"
    events.loc[5, "event"] = "stroke"
    events.loc[6, "severity"] = "grave"
    files = [tmp_path / f"{name}.parquet" for name in ("procedures", "scores", "events")]
    for frame, path in zip((procs, pain, events), files):
        frame.to_parquet(path)
    sql = _endpoints_frame(files[0], files[1], events=files[2]).set_index("procedure_id").sort_index()
    pandas_ = derive_endpoints(load_records(*files)).set_index("procedure_id").sort_index()
    for column in SAFETY_COLUMNS:
        pd.testing.assert_series_equal(sql[column].astype(pandas_[column].dtype), pandas_[column], check_names=False,
                                       check_index_type=False, obj=column)
    fast = evaluate_registry(files[0], files[1], events=files[2], claims=_ONE_CLAIM)
    slow = load_records(*files)  # the in-memory path
    pd.testing.assert_frame_equal(fast.flow(), slow.flow())
    pd.testing.assert_frame_equal(fast.exclusion_counts(), slow.exclusion_counts())
    assert fast.flow().set_index("table").loc["events", "excluded"] == 3


@pytest.mark.parametrize("follow_up", [True, False])
def test_registry_engine_without_events_reads_follow_up_only_when_given(tmp_path, follow_up):
    # no events table: with a last-contact column its values and remarks are read (and the
    # endpoints that need events stay NULL); without one no follow-up row is made at all
    procs, pain, _, _ = _records(600, seed=10)
    procs = procs.astype({"last_contact_days": "string"})
    procs.loc[3, "last_contact_days"] = "later"
    procs.loc[4, "last_contact_days"] = "-5"
    if not follow_up:
        procs = procs.drop(columns=["last_contact_days"])
    from test_registry import built, remark_counts
    files = [tmp_path / f"{name}.parquet" for name in ("procedures", "scores")]
    for frame, path in zip((procs, pain), files):
        frame.to_parquet(path)
    sql = _endpoints_frame(*files).set_index("procedure_id").sort_index()
    pandas_ = derive_endpoints(load_records(*files)).set_index("procedure_id").sort_index()
    for column in SAFETY_COLUMNS:
        pd.testing.assert_series_equal(sql[column].astype(pandas_[column].dtype), pandas_[column], check_names=False,
                                       check_index_type=False, obj=column)
    assert pandas_["last_contact_days"].notna().any() == follow_up
    fast = evaluate_registry(*files, claims=_ONE_CLAIM)
    slow = load_records(*files)
    pd.testing.assert_frame_equal(fast.flow(), slow.flow())
    pd.testing.assert_frame_equal(fast.remark_counts(), remark_counts(slow))
    assert fast.remark_counts()["column"].eq("last_contact_days").sum() == (2 if follow_up else 0)
    with built(*files) as eng:
        followed = eng.rows("SELECT count(*) FROM proc_followup")[0][0]
    assert followed == (fast.flow().set_index("table").loc["procedures", "analysed"] if follow_up else 0)


def test_registry_engine_with_events_in_spark(spark, tmp_path):
    procs, pain, events, _ = _records(200, seed=9)
    events = events.astype({"days_after": "string"})
    events.loc[2, "event"] = "stroke"
    files = [tmp_path / f"{name}.parquet" for name in ("procedures", "scores", "events")]
    for frame, path in zip((procs, pain, events), files):
        frame.to_parquet(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = evaluate_registry(files[0], files[1], events=files[2], claims=_ONE_CLAIM, engine="spark", connection=spark)
    slow = evaluate_registry(files[0], files[1], events=files[2], claims=_ONE_CLAIM)
    pd.testing.assert_frame_equal(fast.flow(), slow.flow())
    pd.testing.assert_frame_equal(fast.exclusion_counts(), slow.exclusion_counts())


def test_validate_events_without_events_reads_follow_up_only():
    procs = pd.DataFrame({"procedure_id": ["P1", "P2"], "procedure_date": pd.to_datetime(["2022-01-01", "2022-01-01"]),
                          "last_contact_days": ["12", "x"], "_row": [2, 3]})
    out, events, excluded, remarks = validate_events(None, procs, pd.DataFrame(columns=["procedure_id", "reason"]),
                                                     procedure_source="p.csv")
    assert events.empty and excluded.empty
    assert out["last_contact_days"].tolist()[0] == 12.0 and pd.isna(out["last_contact_days"].iloc[1])
    assert remarks[["source", "row", "column", "value", "remark"]].values.tolist() == [
        ["p.csv", 3, "last_contact_days", "x", "not a number; set to missing"]]


def test_event_dates_count_calendar_days():
    # an event dated the procedure's day is day 0 whatever the procedure's clock time
    procs = pd.DataFrame({"procedure_id": ["P1"], "patient_id": ["A"], "procedure": ["PVP"],
                          "procedure_date": ["2022-01-03 16:30"], "last_contact_date": ["2022-01-10"],
                          "pain_baseline": [8], "pain_48h": [3]})
    events = pd.DataFrame({"procedure_id": ["P1", "P1"], "event": ["cement leak", "PE"],
                           "event_date": ["2022-01-03", "2022-01-05 08:00"], "severity": ["minor", "major"]})
    cohort = load_records(procs, events=events)
    assert cohort.events["days_after"].tolist() == [0.0, 2.0]
    assert cohort.procedures["last_contact_days"].tolist() == [7.0]
    ep = derive_endpoints(cohort)
    assert ep["minor_complication_30d"].iloc[0] and ep["major_complication_30d"].iloc[0]


def _single_procedure_ids(procs: pd.DataFrame) -> pd.Series:
    return procs["patient_id"].groupby(procs["patient_id"]).transform("size") == 1


def test_fhir_round_trip_of_the_events(tmp_path):
    from outcomes.sources import load_fhir, write_fhir

    procs, pain, events, _ = _records(300, seed=17)
    write_fhir(procs, pain, tmp_path / "fhir", events=events)
    cohort = load_fhir(tmp_path / "fhir")
    assert cohort.has_events
    flow = cohort.flow().set_index("table")
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all()
    assert flow.loc["fhir:AdverseEvent", "analysed"] == (~events["event"].isin(["death", "new_fracture"])).sum()
    got = derive_endpoints(cohort).set_index("procedure_id")
    want = derive_endpoints(load_records(procs, pain, events)).set_index("procedure_id")
    # a Condition or a death carries no link to its procedure: it is linked by time, a death to each
    # of the patient's procedures (simulate_safety's patients treated twice die once, and the
    # fracture the later procedure treats is the earlier one's new fracture, as the reader links
    # it); the last contact is the follow-up EpisodeOfCare's end, not a later pain score
    assert (~_single_procedure_ids(procs)).sum() >= 10
    got = got.loc[want.index]
    for column in ("major_complication_30d", "minor_complication_30d", "new_fracture_status", "death_30d",
                   "new_fracture_days", "last_contact_days"):
        pd.testing.assert_series_equal(got[column], want[column], check_names=False, check_index_type=False,
                                       check_dtype=False, obj=column)
    assert set(cohort.events["event"]) == set(events["event"])


def test_fhir_adverse_event_fields_and_code_lists(tmp_path):
    from outcomes.sources import load_fhir, write_fhir

    procs, pain, _, _ = _records(20, seed=3)
    procs = procs.drop_duplicates("patient_id").head(3)
    pain = pain[pain["procedure_id"].isin(procs["procedure_id"])]
    paths = write_fhir(procs, pain, tmp_path, events=pd.DataFrame(
        {"procedure_id": [], "event": [], "days_after": [], "severity": []}))
    p = procs.reset_index(drop=True)
    day = pd.to_datetime(p["procedure_date"])
    ae = [  # R4 by suspectEntity, R5 by time (occurrenceDateTime, code), a near miss, an ICD-10 label
        {"resourceType": "AdverseEvent", "id": "a1", "actuality": "actual", "subject": {"reference": f"Patient/{p.patient_id[0]}"},
         "date": (day[0] + pd.Timedelta(days=2)).strftime("%Y-%m-%d"), "event": {"text": "Cement leak"},
         "seriousness": {"coding": [{"code": "serious"}]},
         "suspectEntity": [{"instance": {"reference": f"Procedure/{p.procedure_id[0]}"}}]},
        {"resourceType": "AdverseEvent", "id": "a2", "actuality": "actual", "subject": {"reference": f"Patient/{p.patient_id[1]}"},
         "occurrenceDateTime": (day[1] + pd.Timedelta(days=5)).strftime("%Y-%m-%d"),
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I26.99"}]},
         "severity": {"coding": [{"code": "mild"}]}},
        {"resourceType": "AdverseEvent", "id": "a3", "actuality": "potential",
         "subject": {"reference": f"Patient/{p.patient_id[2]}"}, "date": day[2].strftime("%Y-%m-%d"),
         "event": {"text": "infection"}},
    ]
    conditions = [  # a new fracture after procedure 3, and a rib fracture the site codes itself
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": f"Patient/{p.patient_id[2]}"},
         "onsetDateTime": (day[2] + pd.Timedelta(days=40)).strftime("%Y-%m-%d"),
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "S32.010A"}]}},
        {"resourceType": "Condition", "id": "c2", "subject": {"reference": f"Patient/{p.patient_id[2]}"},
         "onsetDateTime": (day[2] + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
         "code": {"coding": [{"system": "http://example.org/site", "code": "RIB-7"}]},
         "severity": {"coding": [{"system": "http://snomed.info/sct", "code": "24484000"}]}},
    ]
    import json

    with open(paths["AdverseEvent"], "a") as fh:
        fh.write("\n".join(json.dumps(r) for r in ae) + "\n")
    with open(paths["Condition"], "a") as fh:
        fh.write("\n".join(json.dumps(r) for r in conditions) + "\n")
    mapping = {"fhir": {"complication_events": {"http://example.org/site|RIB-7": "rib_fracture"}}}
    cohort = load_fhir(tmp_path, mapping=mapping)
    ev = cohort.events.assign(severity=cohort.events["severity"].astype(object))
    rows = ev[["procedure_id", "event", "days_after"]].values.tolist()
    assert rows == [[p.procedure_id[0], "symptomatic_cement_leak", 2.0], [p.procedure_id[1], "pulmonary_embolism", 5.0],
                    [p.procedure_id[2], "new_fracture", 40.0], [p.procedure_id[2], "rib_fracture", 1.0]]
    assert ev["severity"].where(ev["severity"].notna(), None).tolist() == ["major", "minor", None, "major"]
    log = cohort.exclusions[cohort.exclusions["table"] == "fhir:AdverseEvent"]
    assert log["reason"].tolist() == ["a potential adverse event (a near miss), not one that happened"]
    with pytest.raises(DefinitionsError, match=r"`fhir.complication_events.x` in mapping must be an event code"):
        load_fhir(tmp_path, mapping={"fhir": {"complication_events": {"x": "bad"}}})


def test_omop_round_trip_of_the_events(tmp_path):
    from outcomes.sources import load_omop, write_omop

    procs, pain, events, _ = _records(300, seed=19)
    write_omop(procs, pain, tmp_path / "cdm.duckdb", events=events)
    cohort = load_omop(tmp_path / "cdm.duckdb")
    assert cohort.has_events
    flow = cohort.flow().set_index("table")
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all()
    assert flow.loc["omop:death", "read"] == events.loc[events["event"] == "death", "procedure_id"].map(
        procs.set_index("procedure_id")["patient_id"]).nunique()
    got = derive_endpoints(cohort)
    # OMOP procedure ids are procedure_occurrence_ids, 1..n in the order written
    got["procedure_id"] = got["procedure_id"].map({str(i + 1): pid for i, pid in enumerate(procs["procedure_id"])})
    got = got.set_index("procedure_id")
    want = derive_endpoints(load_records(procs, pain, events)).set_index("procedure_id")
    assert (~_single_procedure_ids(procs)).sum() >= 10  # patients treated twice are compared too
    got = got.loc[want.index]
    pd.testing.assert_series_equal(got["new_fracture_status"], want["new_fracture_status"], check_names=False,
                                   check_index_type=False)
    event = want["new_fracture_status"] > 0
    np.testing.assert_array_equal(got.loc[event, "new_fracture_days"], want.loc[event, "new_fracture_days"])
    # OMOP conditions carry no severity: every complication type is read, none is rated
    n_complications = (~events["event"].isin(["death", "new_fracture"])).sum()
    kinds = cohort.events[~cohort.events["event"].isin(["death", "new_fracture"])]
    assert len(kinds) >= n_complications and kinds["severity"].isna().all()


_ROUND_TRIP_CLAIMS = [c for c in load_claims() if c.id in ("new_fractures", "major_complications")]
_ENDPOINT_COLUMNS = ["new_fracture_days", "new_fracture_status", "last_contact_days", "death_30d",
                     "major_complication_30d", "minor_complication_30d"]


def _claim_rows(cohort, claim_id: str) -> pd.DataFrame:
    from outcomes import evaluate_claims

    frame = evaluate_claims(derive_endpoints(cohort), claims=_ROUND_TRIP_CLAIMS).to_frame()
    return frame.loc[frame["claim_id"] == claim_id, ["population", "n", "estimate", "ci_low", "ci_high"]].reset_index(
        drop=True)


@pytest.mark.parametrize("n, seed", [(400, 3), (300, 17), (250, 29)])
def test_fhir_and_omop_round_trips_give_the_claims_of_the_files(tmp_path, n, seed):
    # the regression: write_fhir / write_omop -> load_fhir / load_omop gave new_fractures 0.151
    # (all) for simulate_safety(400, seed=3) where load_records gave 0.123; the readers took the
    # patient's latest record (pain scores run to 3 years) as the last contact, not the follow-up
    from outcomes.sources import load_fhir, load_omop, write_fhir, write_omop

    procs, pain, events, _ = _records(n, seed=seed)
    assert (~_single_procedure_ids(procs)).sum() >= 10  # patients with two procedures are in
    assert (pain.groupby("procedure_id")["hours_after"].max().reindex(procs["procedure_id"]).to_numpy()
            > 24.0 * procs["last_contact_days"].to_numpy()).any()  # pain scores after the last contact
    write_fhir(procs, pain, tmp_path / "fhir", events=events)
    write_omop(procs, pain, tmp_path / "cdm.duckdb", events=events)
    files = load_records(procs, pain, events)
    fhir, omop = load_fhir(tmp_path / "fhir"), load_omop(tmp_path / "cdm.duckdb")
    want = derive_endpoints(files).set_index("procedure_id")[_ENDPOINT_COLUMNS]
    got_fhir = derive_endpoints(fhir).set_index("procedure_id")[_ENDPOINT_COLUMNS].loc[want.index]
    got_omop = derive_endpoints(omop)
    # OMOP procedure ids are procedure_occurrence_ids, 1..n in the order written
    got_omop["procedure_id"] = got_omop["procedure_id"].map({str(i + 1): p for i, p in enumerate(procs["procedure_id"])})
    got_omop = got_omop.set_index("procedure_id")[_ENDPOINT_COLUMNS].loc[want.index]
    pd.testing.assert_frame_equal(got_fhir, want, check_index_type=False, check_dtype=False)
    # OMOP conditions carry no severity (README): the complication columns are not compared
    fracture = ["new_fracture_days", "new_fracture_status", "last_contact_days", "death_30d"]
    pd.testing.assert_frame_equal(got_omop[fracture], want[fracture], check_index_type=False, check_dtype=False)
    for cohort, claims in ((fhir, ("new_fractures", "major_complications")), (omop, ("new_fractures",))):
        for claim_id in claims:
            reference = _claim_rows(files, claim_id)
            assert reference["n"].gt(0).all() and reference["estimate"].notna().any()
            pd.testing.assert_frame_equal(_claim_rows(cohort, claim_id), reference, rtol=0, atol=1e-9,
                                          check_dtype=False, obj=claim_id)


def test_a_follow_up_episode_ends_the_follow_up_in_fhir(tmp_path):
    import json

    from outcomes.sources import load_fhir, write_fhir

    procs, pain, _, _ = _records(20, seed=3)
    procs = procs.drop_duplicates("patient_id").head(2).assign(last_contact_days=[40, 50])
    pain = pain[pain["procedure_id"].isin(procs["procedure_id"])]
    none = pd.DataFrame({"procedure_id": [], "event": [], "days_after": [], "severity": []})
    paths = write_fhir(procs, pain, tmp_path / "a", events=none)
    episodes = [json.loads(line) for line in paths["EpisodeOfCare"].read_text().splitlines()]
    assert [e["period"]["end"] for e in episodes] == [
        (pd.Timestamp(d) + pd.Timedelta(days=k)).strftime("%Y-%m-%d")
        for d, k in zip(procs["procedure_date"], procs["last_contact_days"])]
    # no AdverseEvent, no death: the follow-up episodes alone say that events were recorded
    cohort = load_fhir(tmp_path / "a")
    assert cohort.has_events
    got = derive_endpoints(cohort).set_index("procedure_id")
    assert got.loc[procs["procedure_id"], "last_contact_days"].tolist() == [40.0, 50.0]
    assert (pain.groupby("procedure_id")["hours_after"].max() > 24 * 50).all()  # later pain scores
    flow = cohort.flow().set_index("table")
    assert flow.loc["fhir:EpisodeOfCare", "read"] == flow.loc["fhir:EpisodeOfCare", "analysed"] == 2
    # without the episodes (an AdverseEvent says that events are recorded) the last contact is
    # the latest record: the last pain score
    one = pd.DataFrame({"procedure_id": procs["procedure_id"].iloc[:1], "event": ["other"], "days_after": [1],
                        "severity": ["minor"]})
    paths = write_fhir(procs, pain, tmp_path / "b", events=one)
    paths["EpisodeOfCare"].unlink()
    later = derive_endpoints(load_fhir(tmp_path / "b")).set_index("procedure_id")["last_contact_days"]
    latest = pain.groupby("procedure_id")["hours_after"].max().loc[procs["procedure_id"]] // 24
    assert (later.loc[procs["procedure_id"]].to_numpy() >= latest.to_numpy()).all()
    assert (latest.to_numpy() > [40.0, 50.0]).all()


def test_omop_last_contact_without_observation_period_counts_function_scores(tmp_path):
    # a person without an observation_period is followed to the latest record: an ODI or RMDQ
    # score is a record (as a pain score is), in load_omop and in the warehouse SQL
    # (sql/omop.sql: _omop_contact) alike
    import duckdb

    from omop_support import assert_same_claims
    from outcomes.sources import load_omop, write_omop

    procs, scores, events, _ = simulate_safety(300, seed=23)
    procs = procs.assign(patient_id=procs["procedure_id"])  # one procedure per person
    # pain scores of the first three days only: the function visits (to 12 months) come later
    scores = scores[(scores["instrument"] != "nrs") | (scores["hours_after"] <= 72)]
    path = tmp_path / "cdm.duckdb"
    write_omop(procs, scores, path, schema="cdm", events=events)
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM cdm.cdm.observation_period")  # the file is catalog cdm too
    cohort = load_omop(path, schema="cdm")
    assert cohort.has_events  # the deaths say that events are recorded
    got = derive_endpoints(cohort)
    # OMOP procedure ids are procedure_occurrence_ids, 1..n in the order written
    got = got.set_index(got["procedure_id"].map({str(i + 1): p for i, p in enumerate(procs["procedure_id"])}))
    # the latest record's day: procedure (day 0), scores (written at the procedure's midnight +
    # hours_after), conditions and deaths (days_after)
    is_function = scores["instrument"] != "nrs"
    record_days = [np.floor(scores.groupby("procedure_id")["hours_after"].max() / 24.0),
                   events.groupby("procedure_id")["days_after"].max().astype(float)]
    want = pd.concat(record_days, axis=1).max(axis=1).clip(lower=0).reindex(procs["procedure_id"]).fillna(0.0)
    without = pd.concat([np.floor(scores[~is_function].groupby("procedure_id")["hours_after"].max() / 24.0),
                         record_days[1]], axis=1).max(axis=1).clip(lower=0).reindex(want.index).fillna(0.0)
    assert (want > without + 30).sum() > 100  # the function scores decide most last contacts
    np.testing.assert_array_equal(got.loc[want.index, "last_contact_days"].to_numpy(float), want.to_numpy())
    # the warehouse gives load_omop's claims (a last contact of three days would censor most
    # new-fracture follow-up within the year)
    assert_same_claims(evaluate_registry(omop=path, schema="cdm"), cohort)


def test_an_omop_cdm_without_follow_up_tables_has_no_events_table(tmp_path):
    from outcomes.sources import load_omop, write_omop

    procs, pain, _, _ = _records(60, seed=2)
    write_omop(procs, pain, tmp_path / "cdm.duckdb")
    cohort = load_omop(tmp_path / "cdm.duckdb")
    assert not cohort.has_events and derive_endpoints(cohort)["death_30d"].isna().all()


def _engine_case(eng):
    """events.sql and safety.sql in ``eng`` on a few hand-made rows; the two result tables."""
    import pyarrow as pa

    from outcomes.safety import build_safety

    dates = pd.to_datetime(["2022-01-03 10:00", "2022-02-01 00:00", "2022-03-01 00:00", "2022-03-02 00:00"])
    eng.register("proc_checked", pa.table({
        "_order": pa.array([0, 1, 2, 3], pa.int64()), "_row": pa.array([2, 3, 4, 5], pa.int64()),
        "procedure_id": ["P1", "P2", "P3", "P4"], "_reason": [None, None, None, "patient_id missing"],
        "procedure_date": pa.array(dates.to_numpy(), pa.timestamp("us"))}),
        {"_order": "BIGINT", "_row": "BIGINT", "procedure_id": "VARCHAR", "_reason": "VARCHAR",
         "procedure_date": "TIMESTAMP"})
    eng.register("proc_src", pa.table({"_order": pa.array([0, 1, 2, 3], pa.int64()),
                                       "last_contact_days": ["400", None, "12", None],
                                       "last_contact_date": [None, "2022-03-01", None, None]}),
                 {"_order": "BIGINT", "last_contact_days": "VARCHAR", "last_contact_date": "VARCHAR"})
    ev = pa.table({"_order": pa.array(range(6), pa.int64()), "_row": pa.array(range(2, 8), pa.int64()),
                   "procedure_id": ["P1", " P2 ", "P4", "P9", "P3", "P3"],
                   "event": ["PE", "death", "death", "death", "new fracture", "rib fracture"],
                   "days_after": ["3", None, "1", "1", "1e9", "40"], "event_date": [None, "2022-02-10", None, None,
                                                                                   None, None],
                   "severity": ["major", "major", None, None, None, "mild"], "level": [None] * 6,
                   "adjacent": [None, None, None, None, "yes", None]})
    eng.register("events_src", ev, {c: ("BIGINT" if c in ("_order", "_row") else "VARCHAR") for c in ev.column_names})
    build_safety(eng, definitions=Definitions(), mapping=Mapping(), has_events=True, followed=True,
                 last_contact_days=number_sql("last_contact_days", {"last_contact_days": ("", "VARCHAR")}),
                 last_contact_date="CAST(s.last_contact_date AS VARCHAR)", last_contact_days_raw="s.last_contact_days")
    checked = eng.arrow("SELECT procedure_id, event, days_after, severity, _reason FROM events_checked "
                        "ORDER BY _order").to_pandas()
    safety = eng.arrow("SELECT * FROM safety ORDER BY _order").to_pandas()
    return checked, safety


def test_the_sql_runs_the_same_in_postgres(postgres_url):
    # the transpiled statements (TRY_CAST becomes CAST there: the raw numbers here are readable)
    from outcomes.engines import DuckDBEngine, PostgresEngine

    duck, pg = DuckDBEngine(), PostgresEngine(postgres_url)
    try:
        want, got = _engine_case(duck), _engine_case(pg)
    finally:
        duck.close()
        pg.close()
    assert want[0]["_reason"].isna().sum() == 3 and want[1]["death_30d"].tolist() == [False, True, None]
    for a, b in zip(want, got):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
