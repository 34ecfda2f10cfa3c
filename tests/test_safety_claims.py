"""The safety and function claims (issue 12): function scores, the function endpoint, and the
claims function_regained, major_complications and new_fractures, with truth recovery on
simulated clinics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from outcomes import Definitions, derive_endpoints, load_records
from outcomes.claims import Claim, evaluate_claims, load_claims, load_evidence, verdict_at_most
from outcomes.exceptions import DefinitionsError
from outcomes.function import check_function_scores, function_endpoints, function_rules, split_function_rows
from outcomes.mapping import Mapping
from outcomes.synthetic import simulate_safety

REF = Path(__file__).parent / "reference" / "r" / "competing"
SAFETY_IDS = ("function_regained", "major_complications", "new_fractures")


def _claims(*ids: str) -> list[Claim]:
    return [c for c in load_claims() if c.id in ids]


def safety_columns(procedures: pd.DataFrame, events: pd.DataFrame, window: float = 30) -> pd.DataFrame:
    """The events endpoint columns as the shared contract defines them (12a builds them in SQL):
    a major event other than death within the window; days to the first new fracture, else to
    death, else to the last contact, with status 1 / 2 / 0."""
    pid = procedures["procedure_id"].astype(str)
    ev = events.assign(procedure_id=events["procedure_id"].astype(str))
    major = ev[(ev["severity"] == "major") & (ev["event"] != "death") & ev["days_after"].between(0, window)]
    fracture = pid.map(ev[ev["event"] == "new_fracture"].groupby("procedure_id")["days_after"].min())
    death = pid.map(ev[ev["event"] == "death"].groupby("procedure_id")["days_after"].min())
    days = fracture.fillna(death).fillna(procedures["last_contact_days"].astype(float))
    status = np.where(fracture.notna() & ~(death < fracture), 1, np.where(death.notna(), 2, 0))
    return pd.DataFrame({"procedure_id": pid.to_numpy(), "major_complication_30d": pid.isin(major["procedure_id"]).to_numpy(),
                         "new_fracture_days": days.to_numpy(float),
                         "new_fracture_status": pd.array(status, dtype="Int64")})


def _clinic(n: int, seed: int, **truth):
    procs, ass, events, true = simulate_safety(n, seed=seed, **truth)
    return derive_endpoints(load_records(procs, ass, events=events)), true


def test_safety_endpoints_equal_an_independent_computation():
    """sql/safety.sql (through load_records(events=...) and derive_endpoints) against the
    contract's definitions written here in pandas."""
    procs, ass, events, _ = simulate_safety(600, seed=5)
    ep = derive_endpoints(load_records(procs, ass, events=events)).set_index("procedure_id")
    expected = safety_columns(procs, events).set_index("procedure_id").loc[ep.index]
    assert (ep["major_complication_30d"].astype(bool).to_numpy() == expected["major_complication_30d"].to_numpy()).all()
    np.testing.assert_allclose(ep["new_fracture_days"].to_numpy(float), expected["new_fracture_days"].to_numpy(float))
    assert (ep["new_fracture_status"].astype(int).to_numpy() == expected["new_fracture_status"].astype(int).to_numpy()).all()


# ---- function scores: loading, checks, accounting ---------------------------------------------

def _procs(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"procedure_id": [f"P{i}" for i in range(1, n + 1)], "patient_id": [f"A{i}" for i in range(n)],
                         "procedure": "vertebroplasty", "procedure_date": "2022-01-03"})


def test_function_rows_are_counted_in_their_own_table():
    procs = _procs(2)
    ass = pd.DataFrame({
        "procedure_id": ["P1", "P1", "P1", "P1", "P1", "P1", "P1", "P1", "P1", "P2", "P9", None, "P2"],
        "hours_after": [-1, 48, -1, 336, 340, 340, "soon", -2000, 336, 336, 336, 336, None],
        "pain": [8, 3, None, None, None, None, None, None, None, None, None, None, None],
        "instrument": ["nrs", "nrs", "odi", "odi", "rmdq", "rmdq", "odi", "odi", "ODI", "eq5d_vas", "odi", "odi", "odi"],
        "score": [8, 3, 60, "x", 30, 10, 40, 50, 44, 70, 20, 20, 20],
    })
    cohort = load_records(procs, ass)
    flow = cohort.flow().set_index("table")
    assert flow.loc["assessments", "read"] == 2 and flow.loc["assessments", "analysed"] == 2
    assert flow.loc["function_scores", "read"] == 11
    # read = analysed pain + analysed function + excluded
    assert len(ass) == len(cohort.assessments) + len(cohort.function_scores) + len(cohort.exclusions)
    reasons = cohort.exclusions.set_index("row")["reason"]  # rows: positions in a DataFrame
    assert reasons[3] == "score is not a number"                              # "x"
    assert reasons[4].startswith("score outside the instrument's range")      # RMDQ 30 > 24
    assert reasons[6] == "time is not a number"
    assert reasons[7].startswith("time before the procedure, outside the 30-day baseline window")
    assert reasons[10] == "unknown procedure id (not in the procedures table)"
    assert reasons[11] == "procedure_id missing"
    assert reasons[12] == "time missing"
    assert set(cohort.exclusions["table"]) == {"function_scores"}
    kept = cohort.function_scores
    assert list(kept.columns) == ["procedure_id", "hours_after", "instrument", "score"]
    assert kept[["procedure_id", "instrument", "score"]].values.tolist() == [
        ["P1", "odi", 60.0], ["P1", "odi", 44.0], ["P1", "rmdq", 10.0], ["P2", "eq5d_vas", 70.0]]


def test_duplicates_and_excluded_procedures():
    procs = pd.concat([_procs(1), pd.DataFrame({"procedure_id": ["P2"], "patient_id": ["B"], "procedure": ["??"],
                                               "procedure_date": ["2022-01-03"]})], ignore_index=True)
    ass = pd.DataFrame({"procedure_id": ["P1", "P1", "P1", "P2"], "hours_after": [336, 336, 336, 336],
                        "instrument": ["odi", "odi", "rmdq", "odi"], "score": [40, 42, 9, 30]})
    cohort = load_records(procs, ass)
    excluded = cohort.exclusions[cohort.exclusions["table"] == "function_scores"].set_index("row")["reason"]
    assert excluded[1] == "duplicate assessment (same procedure, instrument and time)"  # RMDQ at 336 h is kept
    assert excluded[3] == "its procedure was excluded"
    assert cohort.function_scores["score"].tolist() == [40.0, 9.0]


def test_clinic_labels_and_wide_columns_through_the_mapping(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[assessments.values.instrument]\n"Oswestry %" = "odi"\n"Roland" = "rmdq"\n')
    m = Mapping.from_toml(mapping)
    assert m.function_instrument("OSWESTRY %") == "odi" and m.function_instrument("roland") == "rmdq"
    assert m.function_instrument("nrs") is None and m.function_instrument(None) is None
    ass = pd.DataFrame({"procedure_id": ["P1", "P1", "P1"], "hours_after": [0, 48, 336],
                        "instrument": ["nrs", "Oswestry %", "Roland"], "pain": [8, 44, 7]})
    cohort = load_records(_procs(1), ass, mapping=mapping)
    assert cohort.function_scores[["instrument", "score"]].values.tolist() == [["odi", 44.0], ["rmdq", 7.0]]
    assert cohort.assessments["pain"].tolist() == [8.0]
    # a wide export: odi_4w, rmdq_2w, eq5d_vas_6w beside the pain columns
    wide = _procs(2).assign(pain_baseline=[8, 7], pain_48h=[3, 4], odi_baseline=[60, 50], odi_4w=[40, 200],
                            rmdq_2w=[10, 11], eq5d_vas_6w=[70, None])
    cohort = load_records(wide)
    scores = cohort.function_scores
    assert sorted(scores["instrument"].unique()) == ["eq5d_vas", "odi", "rmdq"]
    assert scores.loc[scores["instrument"] == "odi", "hours_after"].tolist() == [0.0, 672.0, 0.0]
    assert cohort.flow().set_index("table").loc["function_scores", "read"] == 7  # the blank EQ-5D cell is no row
    bad = cohort.exclusions.iloc[0]
    assert (bad["column"], bad["value"], bad["row"]) == ("odi_4w", "200.0", 1)
    assert len(cohort.assessments) == 4


def test_split_keeps_pain_in_score():
    rows = pd.DataFrame({"procedure_id": ["P1", "P1"], "hours_after": [0, 48], "instrument": ["nrs", "nrs"],
                         "score": [8, 3]})
    pain, function = split_function_rows(rows, Mapping())
    assert pain["pain"].tolist() == [8, 3] and function.empty and "score" not in pain


def test_rules_are_named_once():
    rules = function_rules(720)
    assert len(rules) == 12 and rules[12].startswith("duplicate")
    assert "odi 0-100, rmdq 0-24, eq5d_vas 0-100" in rules[6]


# ---- the function endpoint ------------------------------------------------------------------

def _pandas_function_endpoint(scores: pd.DataFrame, d: Definitions) -> pd.DataFrame:
    """The contract's function endpoint computed independently with pandas group-bys."""
    s = scores[scores["instrument"].isin(["odi", "rmdq"])].astype({"instrument": object, "procedure_id": object})
    pre = s[(s["hours_after"] <= 0) & (s["hours_after"] >= -d.baseline_window_hours)]
    base = pre.sort_values("hours_after").groupby(["procedure_id", "instrument"])["score"].last().rename("b")
    win = s[(s["hours_after"] >= d.function_window_low_hours) & (s["hours_after"] <= d.function_window_high_hours)]
    win = win.assign(dist=(win["hours_after"] - d.function_target_hours).abs())
    fu = win.sort_values(["dist", "hours_after"]).groupby(["procedure_id", "instrument"]).first()
    both = pd.concat([base, fu[["score", "hours_after"]].rename(columns={"score": "f", "hours_after": "h"})], axis=1)
    rows = []
    for pid, g in both.groupby(level=0):
        g = g.droplevel(0)
        complete = [i for i in ("odi", "rmdq") if i in g.index and pd.notna(g.loc[i, "b"]) and pd.notna(g.loc[i, "f"])]
        inst = complete[0] if complete else ("odi" if "odi" in g.index else "rmdq")
        r = g.loc[inst]
        change = r["b"] - r["f"]
        mcid = d.function_mcid_odi if inst == "odi" else d.function_mcid_rmdq
        rows.append({"procedure_id": pid, "instrument": inst, "baseline": r["b"], "followup": r["f"], "hours": r["h"],
                     "change": change, "regained": (change >= mcid) if pd.notna(change) else None})
    return pd.DataFrame(rows).set_index("procedure_id")


@pytest.mark.parametrize("seed", [3, 11])
def test_function_endpoint_matches_an_independent_pandas_computation(seed):
    procs, ass, _, _ = simulate_safety(400, seed=seed, p_missed_function_visit=0.4)
    # some procedures with RMDQ only, some with no function score at all
    drop = ass["procedure_id"].isin(procs["procedure_id"].iloc[:40]) & (ass["instrument"] == "odi")
    drop |= ass["procedure_id"].isin(procs["procedure_id"].iloc[40:60]) & (ass["instrument"] != "nrs")
    cohort = load_records(procs, ass[~drop])
    d = Definitions()
    ep = derive_endpoints(cohort, d).set_index("procedure_id")
    ref = _pandas_function_endpoint(cohort.function_scores, d)
    assert ep.loc[procs["procedure_id"].iloc[40:60], "function_instrument"].isna().all()
    assert (ep.loc[procs["procedure_id"].iloc[:40], "function_instrument"] == "rmdq").all()
    got = ep.loc[ref.index]
    # compared by position: the two indexes hold the same ids, in string dtypes that pandas 2 may
    # store differently (python / pyarrow)
    assert (got["function_instrument"].to_numpy(dtype=object) == ref["instrument"].to_numpy(dtype=object)).all()
    for ours, theirs in [("function_baseline", "baseline"), ("function_followup", "followup"),
                         ("function_hours", "hours"), ("function_change", "change")]:
        np.testing.assert_array_equal(got[ours].to_numpy(float), ref[theirs].to_numpy(float))
    expected = ref["regained"].astype("boolean")
    np.testing.assert_array_equal(got["function_regained"].astype("boolean").to_numpy(dtype=object, na_value=None),
                                  expected.to_numpy(dtype=object, na_value=None))
    assert got["function_regained"].notna().sum() > 250


def test_function_definitions_change_the_endpoint(tmp_path):
    ep = pd.DataFrame({"procedure_id": ["P1"]})
    scores = pd.DataFrame({"procedure_id": ["P1", "P1", "P1"], "hours_after": [-1.0, 200.0, 700.0],
                           "instrument": ["odi", "odi", "odi"], "score": [50.0, 42.0, 30.0]})
    default = function_endpoints(ep, scores).iloc[0]
    assert (default["function_hours"], default["function_change"], default["function_regained"]) == (200.0, 8.0, False)
    path = tmp_path / "d.toml"
    path.write_text("[function]\ntarget_hours = 672\nmcid_odi = 8\n")
    d = Definitions.from_toml(path)
    later = function_endpoints(ep, scores, d).iloc[0]
    assert (later["function_hours"], later["function_change"], bool(later["function_regained"])) == (700.0, 20.0, True)
    assert bool(function_endpoints(ep, scores, Definitions(function_mcid_odi=8)).iloc[0]["function_regained"])
    with pytest.raises(DefinitionsError, match=r"`function.target_hours` must lie inside the function window"):
        Definitions(function_target_hours=2000)
    assert any("Ostelo 2008" in line for line in Definitions().describe())


# ---- the claims ---------------------------------------------------------------------------------

def test_verdict_at_most():
    assert verdict_at_most(0.001, 0.019, 0.02) == "supported"
    assert verdict_at_most(0.021, 0.05, 0.02) == "contradicted"
    assert verdict_at_most(0.01, 0.03, 0.02) == "inconclusive"
    assert verdict_at_most(np.nan, 0.03, 0.02) == "not assessable"


def test_claims_without_events_or_function_scores_are_not_assessable():
    procs, ass, _, _ = simulate_safety(200, seed=5)
    cohort = load_records(procs, ass[ass["instrument"] == "nrs"].drop(columns="score"))
    table = evaluate_claims(cohort).to_frame()
    primary = table[table["role"] == "primary"].set_index("claim_id")
    for cid, reason in [("major_complications", "No events table"), ("new_fractures", "No events table"),
                        ("function_regained", "No function scores")]:
        assert primary.loc[cid, "verdict"] == "not assessable"
        assert primary.loc[cid, "note"].startswith(reason)
    # the other claims are unaffected
    assert primary.loc["success_rate", "verdict"] != "not assessable"
    assert primary.loc["outpatient", "verdict"] != "not assessable"
    # an events column that is all NA (no events table) reads the same
    ep = derive_endpoints(cohort).assign(major_complication_30d=pd.array([pd.NA] * 200, dtype="boolean"))
    row = evaluate_claims(ep, claims=_claims("major_complications")).to_frame().iloc[0]
    assert row["verdict"] == "not assessable" and row["note"].startswith("No events table")


def _frame(flags, procedure="vertebroplasty", etiology="osteoporosis"):
    n = len(flags)
    return pd.DataFrame({"procedure_id": [f"P{i}" for i in range(n)], "procedure": procedure, "etiology": etiology,
                         "time_to_relief_hours": np.nan, "major_complication_30d": pd.array(flags, dtype="boolean")})


def test_major_complications_exact_interval_and_rule_of_three():
    flags = [True] * 3 + [False] * 197
    row = evaluate_claims(_frame(flags), claims=_claims("major_complications")).to_frame().iloc[0]
    ci = stats.binomtest(3, 200).proportion_ci(method="exact")  # Clopper-Pearson, scipy
    assert row["ci_low"] == pytest.approx(ci.low, abs=1e-10) and row["ci_high"] == pytest.approx(ci.high, abs=1e-10)
    assert row["events"] == 3 and row["n"] == 200 and row["verdict"] == "inconclusive"
    assert row["method"].startswith("exact (Clopper-Pearson)")
    assert row["additional_to_settle"] > 0
    # no event: the one-sided exact upper limit 1 - 0.05^(1/n), about 3/n (Hanley & Lippman-Hand 1983)
    zero = evaluate_claims(_frame([False] * 300), claims=_claims("major_complications")).to_frame().iloc[0]
    assert zero["ci_high"] == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-9)
    assert zero["verdict"] == "supported" and "rule of three" in zero["method"] and "3/300 = 1%" in zero["note"]
    few = evaluate_claims(_frame([False] * 60), claims=_claims("major_complications")).to_frame().iloc[0]
    assert few["verdict"] == "inconclusive"  # 0 in 60: the upper limit 4.9% is over 2%


def test_stated_by_subgroup_and_by_etiology(tmp_path):
    ep = pd.concat([_frame([True] * 4 + [False] * 96, "vertebroplasty", "osteoporosis"),
                    _frame([True] * 4 + [False] * 96, "kyphoplasty", "malignancy")], ignore_index=True)
    path = tmp_path / "c.toml"
    path.write_text('replace_defaults = true\n[[claim]]\nid = "major_complications"\nstatement = "rare"\n'
                    'kind = "proportion"\nendpoint = "major_complication_30d"\nstated = 0.01\nsense = "at_most"\n'
                    'method = "exact"\nby_procedure = true\nby_etiology = true\n'
                    'stated_by = { malignancy = 0.10 }\n')
    table = evaluate_claims(ep, claims=path).to_frame().set_index("population")
    assert list(table.index) == ["all", "vertebroplasty", "kyphoplasty", "etiology: malignancy",
                                 "etiology: osteoporosis"]
    assert table.loc["etiology: malignancy", "stated"] == 0.10
    assert table.loc["etiology: malignancy", "verdict"] == "supported"  # 4/100: exact upper limit 9.9% < 10%
    assert table.loc["kyphoplasty", "stated"] == 0.01
    assert table.loc["etiology: osteoporosis", "verdict"] == "contradicted"
    assert (table["role"] == "primary").sum() == 1
    with pytest.raises(DefinitionsError, match=r"`sense` of claim 'x' must be one of about, at_least, at_most"):
        Claim(id="x", statement="x", kind="proportion", endpoint="y", stated=0.1, sense="below")
    with pytest.raises(DefinitionsError, match=r"`stated_by.malignancy` of claim 'x' must be a proportion"):
        Claim(id="x", statement="x", kind="proportion", endpoint="y", stated=0.1, stated_by={"malignancy": 5})
    with pytest.raises(DefinitionsError, match=r"`method` of claim 'x' must be one of wilson, exact"):
        Claim(id="x", statement="x", kind="proportion", endpoint="y", stated=0.1, method="wald")


def test_new_fractures_matches_r_survfit_at_the_horizon():
    # R 4.2.2, survival 3.5-3: survfit(Surv(time, factor(status, 0:2)) ~ 1) (make_fixtures.R, registry)
    data = pd.read_csv(REF / "registry_data.csv")
    ref = pd.read_csv(REF / "registry_survfit.csv")
    at = ref[ref["time"] <= 365].iloc[-1]
    ep = pd.DataFrame({"procedure": "vertebroplasty", "time_to_relief_hours": np.nan,
                       "new_fracture_days": data["time"].astype(float),
                       "new_fracture_status": pd.array(data["status"], dtype="Int64")})
    row = evaluate_claims(ep, claims=_claims("new_fractures")).to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(at["pstate_1"], abs=1e-8)
    assert row["ci_low"] == pytest.approx(at["lower_1"], abs=1e-8)
    assert row["ci_high"] == pytest.approx(at["upper_1"], abs=1e-8)
    assert row["n"] == 400 and row["events"] == ref.loc[ref["time"] <= 365, "events_1"].sum()
    expected = verdict_at_most(at["lower_1"], at["upper_1"], 0.20)
    assert row["verdict"] == expected and row["reading"] == "by day 365"
    # a shorter horizon from the claims file
    short = Claim(id="f", statement="f", kind="incidence_by", endpoint="new_fracture", stated=0.2, sense="at_most",
                  horizon_days=100)
    at100 = ref[ref["time"] <= 100].iloc[-1]
    got = evaluate_claims(ep, claims=[short]).to_frame().iloc[0]
    assert got["estimate"] == pytest.approx(at100["pstate_1"], abs=1e-8)


def test_new_fractures_follow_up_too_short_and_no_event():
    ep = pd.DataFrame({"procedure": "kyphoplasty", "time_to_relief_hours": np.nan,
                       "new_fracture_days": np.linspace(10, 300, 50), "new_fracture_status": pd.array([0] * 50, "Int64")})
    row = evaluate_claims(ep, claims=_claims("new_fractures")).to_frame().iloc[0]
    assert row["verdict"] == "not assessable" and "before day 365" in row["note"]
    ep["new_fracture_days"] = np.linspace(370, 700, 50)
    row = evaluate_claims(ep, claims=_claims("new_fractures")).to_frame().iloc[0]
    # no new fracture in 50 followed past the horizon: the one-sided exact upper limit, 5.8% < 20%
    assert row["estimate"] == 0 and row["ci_high"] == pytest.approx(1 - 0.05 ** (1 / 50))
    assert row["verdict"] == "supported" and "no new fracture by day 365 in 50" in row["note"]


def test_claims_from_tallies_equal_claims_from_rows():
    """The registry engine hands the claims (column values, count) tallies; they must give the
    same rows as one row per procedure."""
    ep, _ = _clinic(600, seed=21)
    claims = _claims(*SAFETY_IDS)
    direct = evaluate_claims(ep, claims=claims).to_frame()
    reads = {"function_regained": ["function_regained"], "major_complications": ["major_complication_30d"],
             "new_fractures": ["new_fracture_days", "new_fracture_status"]}
    tallied = []
    for claim in claims:
        cols = ["procedure", *reads[claim.id], "etiology"]
        tally = ep[cols].groupby(cols, dropna=False).size().rename("_weight").reset_index()
        tally["time_to_relief_hours"] = np.nan
        tallied.append(evaluate_claims(tally, claims=[claim]).to_frame())
    tallied = pd.concat(tallied, ignore_index=True)
    cols = ["claim_id", "population", "n", "events", "estimate", "ci_low", "ci_high", "verdict"]
    pd.testing.assert_frame_equal(direct[cols], tallied[cols], check_exact=False, rtol=1e-9)


# ---- truth recovery on simulated clinics --------------------------------------------------------

SEEDS = range(101, 109)


@pytest.fixture(scope="module")
def clinics():
    return [_clinic(1200, seed=s) for s in SEEDS]


def _covered(row: pd.Series, truth: float) -> bool:
    return bool(row["ci_low"] <= truth <= row["ci_high"])


def test_intervals_cover_the_truth_at_the_nominal_rate(clinics):
    """Each of 8 simulated clinics (1,200 procedures): the 95% intervals of the three claims, for
    all procedures, per procedure type and per etiology (new fractures, complications), cover
    their true values. Misses must stay within the 99.9% binomial bound for a 5% miss rate."""
    hits, misses = 0, []
    for seed, (ep, truth) in zip(SEEDS, clinics):
        table = evaluate_claims(ep, claims=_claims(*SAFETY_IDS)).to_frame()
        table = table[table["reading"] != "worst case"].set_index(["claim_id", "population"])
        targets = [(("function_regained", "all"), truth["odi_improved"])]
        for proc in ("vertebroplasty", "kyphoplasty"):
            targets += [(("function_regained", proc), truth[f"odi_improved_{proc}"]),
                        (("major_complications", proc), truth[f"major_complication_30d_{proc}"]),
                        (("new_fractures", proc), truth[f"new_fracture_1y_{proc}"])]
        targets += [(("major_complications", "all"), truth["major_complication_30d"]),
                    (("new_fractures", "all"), truth["new_fracture_1y"])]
        for etiology in ("osteoporosis", "malignancy"):
            targets += [(("major_complications", f"etiology: {etiology}"),
                         truth["major_complication_30d_by_etiology"][etiology]),
                        (("new_fractures", f"etiology: {etiology}"), truth["new_fracture_1y_by_etiology"][etiology])]
        for key, value in targets:
            if _covered(table.loc[key], value):
                hits += 1
            else:
                misses.append((seed, key, value, table.loc[key, "ci_low"], table.loc[key, "ci_high"]))
    total = hits + len(misses)
    assert total == 8 * 13
    bound = stats.binom.ppf(0.999, total, 0.05)  # 104 intervals: at most 12 misses
    assert len(misses) <= bound, misses
    assert hits / total >= 0.88


def test_aalen_johansen_interval_coverage_in_simulation(clinics):
    """The new-fracture claim's interval (Aalen-Johansen, death competing) covers the true
    one-year cumulative incidence in simulated clinics: 8 clinics x 5 subgroups."""
    covered = []
    for ep, truth in clinics:
        table = evaluate_claims(ep, claims=_claims("new_fractures")).to_frame().set_index("population")
        for pop, value in [("all", truth["new_fracture_1y"]),
                           ("vertebroplasty", truth["new_fracture_1y_vertebroplasty"]),
                           ("kyphoplasty", truth["new_fracture_1y_kyphoplasty"]),
                           ("etiology: osteoporosis", truth["new_fracture_1y_by_etiology"]["osteoporosis"]),
                           ("etiology: malignancy", truth["new_fracture_1y_by_etiology"]["malignancy"])]:
            covered.append(_covered(table.loc[pop], value))
    assert sum(not c for c in covered) <= stats.binom.ppf(0.999, len(covered), 0.05)


def test_verdicts_follow_the_truth():
    # a clinic whose true major rate (about 8%) is well above the 2% threshold ...
    bad, truth_bad = _clinic(1500, seed=7, major_intercept=-2.6)
    # ... and one well below it (about 0.3%)
    good, truth_good = _clinic(1500, seed=8, major_intercept=-6.0, major_malignancy_log_or=0.0,
                               major_worse_physician_log_or=0.0)
    assert truth_bad["major_complication_30d"] > 0.06 and truth_good["major_complication_30d"] < 0.005
    claims = _claims(*SAFETY_IDS)
    v_bad = evaluate_claims(bad, claims=claims).verdicts()
    v_good = evaluate_claims(good, claims=claims).verdicts()
    assert v_bad["major_complications"] == "contradicted"
    assert v_good["major_complications"] == "supported"
    # new fractures: about 10% by one year against 20% stated: supported; a clinic with
    # 40% a year is contradicted
    assert v_good["new_fractures"] == "supported"
    many, truth_many = _clinic(1000, seed=9, fracture_rate_per_year=0.6)
    assert truth_many["new_fracture_1y"] > 0.3
    assert evaluate_claims(many, claims=_claims("new_fractures")).verdicts()["new_fractures"] == "contradicted"
    # function: about 72% improve against "most" (50%): above
    assert v_good["function_regained"] == "above"
    poor, truth_poor = _clinic(800, seed=10, odi_change_mean_vertebroplasty=2.0, odi_change_mean_kyphoplasty=2.0)
    assert truth_poor["odi_improved"] < 0.35
    assert evaluate_claims(poor, claims=_claims("function_regained")).verdicts()["function_regained"] == "below"


# ---- coverage over many simulated clinics (issue 12's Done-when) ---------------------------------

REPLICATES, CLINIC_SIZE = 200, 600
_TRUTH_KEY = {"function_regained": "odi_improved", "major_complications": "major_complication_30d",
              "new_fractures": "new_fracture_1y"}


def _truth_of(truth: dict, claim_id: str, population: str) -> float:
    key = _TRUTH_KEY[claim_id]
    if population == "all":
        return truth[key]
    if population.startswith("etiology: "):
        return truth[f"{key}_by_etiology"][population.removeprefix("etiology: ")]
    return truth[f"{key}_{population}"]


@pytest.fixture(scope="module")
def many_clinics() -> pd.DataFrame:
    """REPLICATES simulated clinics of CLINIC_SIZE procedures each (seeds 9000...), read through
    the package's loader, endpoints and claims: one row per claim, population and clinic with the
    interval, the verdict and the true value (simulate_safety's population value; complications as
    recorded, up to the last contact). The clinics are loaded as one file (ids prefixed by the
    clinic, 50 clinics a load) so the loader's fixed cost is paid four times, not 200; the claims are
    evaluated clinic by clinic."""
    claims = _claims(*SAFETY_IDS)
    rows = []
    for batch in np.array_split(np.arange(REPLICATES), 4):  # four loads: a quarter of the memory
        procedures, assessments, events, truths = [], [], [], {}
        for r in batch:
            p, a, e, truths[r] = simulate_safety(CLINIC_SIZE, seed=9000 + int(r))
            tag = f"R{r:03d}-"
            procedures.append(p.assign(procedure_id=tag + p["procedure_id"].astype(str),
                                       patient_id=tag + p["patient_id"].astype(str)))
            assessments.append(a.assign(procedure_id=tag + a["procedure_id"].astype(str)))
            events.append(e.assign(procedure_id=tag + e["procedure_id"].astype(str)))
        cohort = load_records(pd.concat(procedures, ignore_index=True), pd.concat(assessments, ignore_index=True),
                              events=pd.concat(events, ignore_index=True))
        ep = derive_endpoints(cohort)
        assert len(ep) == len(batch) * CLINIC_SIZE
        clinic = ep["procedure_id"].astype(str).str.slice(1, 4).astype(int).to_numpy()
        for r, part in ep.groupby(clinic):
            table = evaluate_claims(part, claims=claims).to_frame()
            table = table[table["reading"] != "worst case"]
            for x in table.itertuples(index=False):
                rows.append({"clinic": r, "claim_id": x.claim_id, "population": x.population, "n": x.n,
                             "estimate": x.estimate, "ci_low": x.ci_low, "ci_high": x.ci_high,
                             "verdict": x.verdict, "stated": x.stated, "sense": x.sense,
                             "truth": _truth_of(truths[r], x.claim_id, x.population)})
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_coverage_of_the_three_claims_over_many_clinics(many_clinics):
    """Issue 12, Done-when: on simulated clinics the three claims' 95% intervals cover their true
    values at the nominal rate, for all procedures, per procedure and per etiology.

    Over R = 200 clinics the share covered has binomial standard error sqrt(0.95 x 0.05 / R) =
    1.5 points; 18 intervals are checked, so each may stray z = 3.45 standard errors (a 1% chance
    of any false alarm, Bonferroni) from 95%. The Wilson (function) and Aalen-Johansen (new
    fractures) intervals are approximate: checked on both sides. Clopper-Pearson (complications)
    is exact, so at least 95% by construction: checked from below only."""
    df = many_clinics
    assert df.groupby(["claim_id", "population"]).size().eq(REPLICATES).all()
    k = df.groupby(["claim_id", "population"]).ngroups
    assert k == 18  # 3 claims x (all, 2 procedures, 3 etiologies)
    se = np.sqrt(0.95 * 0.05 / REPLICATES)
    z = stats.norm.ppf(1 - 0.01 / (2 * k))
    covered = (df["ci_low"] <= df["truth"]) & (df["truth"] <= df["ci_high"])
    coverage = covered.groupby([df["claim_id"], df["population"]]).mean()
    low = coverage[coverage < 0.95 - z * se]
    assert low.empty, f"coverage under {0.95 - z * se:.3f}: {low.to_dict()}"
    approximate = coverage.drop(index="major_complications", level="claim_id")
    high = approximate[approximate > 0.95 + z * se]
    assert high.empty, f"coverage over {0.95 + z * se:.3f}: {high.to_dict()}"
    # no bias: in the large groups (all, per procedure) the estimate's mean error in standard
    # errors is 0 within z / sqrt(R) (the binomial SE for proportions; for the cumulative
    # incidence the SE is read off the 95% interval's width)
    big = df[df["population"].isin(["all", "vertebroplasty", "kyphoplasty"])]
    binomial = np.sqrt(big["truth"] * (1 - big["truth"]) / big["n"])
    from_ci = (big["ci_high"] - big["ci_low"]) / (2 * stats.norm.ppf(0.975))
    scale = np.where(big["claim_id"] == "new_fractures", from_ci, binomial)
    error = ((big["estimate"] - big["truth"]) / scale).groupby([big["claim_id"], big["population"]]).mean()
    assert (error.abs() <= z / np.sqrt(REPLICATES)).all(), error.to_dict()


@pytest.mark.slow
def test_verdicts_follow_the_truth_over_many_clinics(many_clinics):
    """A verdict on the wrong side of the truth -- supported (or above) while the true value is on
    the stated figure's bad side, contradicted (or below) while it is on the good side -- needs an
    interval that misses the truth on one side: at most 2.5% of clinics, within z binomial standard
    errors. Where the truth is far from the stated figure the right verdict is the rule: new
    fractures (about 10% against 20%) supported and function (about 72% against 50%) above in
    at least 95% of clinics."""
    df = many_clinics
    good_side = np.where(df["sense"] == "at_most", df["truth"] < df["stated"], df["truth"] > df["stated"])
    good_word, bad_word = df["verdict"].isin(["supported", "above"]), df["verdict"].isin(["contradicted", "below"])
    wrong = (good_word & ~good_side) | (bad_word & good_side)
    rate = wrong.groupby([df["claim_id"], df["population"]]).mean()
    k = len(rate)
    bound = 0.025 + stats.norm.ppf(1 - 0.01 / k) * np.sqrt(0.025 * 0.975 / REPLICATES)
    assert (rate <= bound).all(), rate[rate > bound].to_dict()
    for claim_id, word in (("new_fractures", "supported"), ("function_regained", "above")):
        rows = df[(df["claim_id"] == claim_id) & (df["population"] == "all")]
        assert abs(rows["truth"].iloc[0] - rows["stated"].iloc[0]) > 0.09
        assert (rows["verdict"] == word).mean() >= 0.95


def test_evidence_rows_for_the_safety_claims():
    ev = load_evidence()
    for cid in SAFETY_IDS:
        assert (ev["claim_id"] == cid).any()
    vertos = ev[(ev["claim_id"] == "new_fractures") & ev["study"].str.startswith("VERTOS II")].iloc[0]
    assert "15/91" in vertos["value"] and "21/85" in vertos["value"]  # Klazen 2010, AJNR 31:1447, Results
    # the societies' thresholds that were not read are marked so, and the clinic sets its figure
    sir = ev[ev["claim_id"] == "major_complications"]
    unverified = sir[sir["value"].str.contains("not verified")]
    assert unverified["value"].str.contains("the clinic sets its figure").all()


def test_input_validation():
    rows = pd.DataFrame({"procedure_id": ["P1"], "instrument": ["odi"], "score": [40], "_row": [2]})
    with pytest.raises(Exception, match=r"The function scores of a.csv must have the columns 'procedure_id' and "
                                        r"'hours_after' \(or 'assessed_at'\); got 'procedure_id', 'instrument', 'score'."):
        check_function_scores(rows, _procs(1), pd.Series([], dtype=str), source="a.csv")
    with pytest.raises(DefinitionsError, match=r"`horizon_days` of claim 'x' must be a positive number of days; got -1"):
        Claim(id="x", statement="x", kind="incidence_by", endpoint="new_fracture", stated=0.1, horizon_days=-1)
    with pytest.raises(DefinitionsError, match=r"`endpoint` of claim 'x' must be given for kind 'incidence_by'"):
        Claim(id="x", statement="x", kind="incidence_by", stated=0.1)


def test_assessed_at_gives_the_hours_of_function_scores():
    procs = _procs(1)
    rows = pd.DataFrame({"procedure_id": ["P1", "P1"], "assessed_at": ["2022-01-02 12:00", "2022-01-17 00:00"],
                         "instrument": ["odi", "odi"], "score": [60, 40]})
    cohort = load_records(procs, rows)
    assert cohort.function_scores["hours_after"].tolist() == [-12.0, 336.0]
    ep = derive_endpoints(cohort).iloc[0]
    assert (ep["function_change"], bool(ep["function_regained"])) == (20.0, True)


def test_function_threshold_evidence_matches_the_definitions():
    # Ostelo 2008, Spine 33:90, abstract: minimal important change 10 (ODI 0-100), 5 (RDQ 0-24)
    ev = load_evidence()
    ostelo = ev[(ev["claim_id"] == "function_regained") & ev["study"].str.startswith("Ostelo")].iloc[0]
    d = Definitions()
    assert f"ODI {d.function_mcid_odi:g} points" in ostelo["value"]
    assert f"RMDQ {d.function_mcid_rmdq:g} points" in ostelo["value"]


def test_the_sentence_says_the_clinic_sets_the_threshold():
    result = evaluate_claims(_frame([True] * 2 + [False] * 198), claims=_claims("major_complications"))
    sentence = result.summary()[0]
    assert sentence.startswith("Serious complications are rare: INCONCLUSIVE. 1% (95% CI")
    assert "against a threshold of 2%" in sentence and "the clinic replaces with its own figure" in sentence
