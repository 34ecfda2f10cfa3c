"""Helpers shared by the FHIR and OMOP tests (not a test module)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes import derive_endpoints, evaluate_claims, load_records
from outcomes.synthetic import simulate


def simulated(n: int = 300, seed: int = 11, **truth) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulated cohort whose ages a birth year can express.

    FHIR (Patient.birthDate) and OMOP (person.year_of_birth) hold one birth year per patient,
    not an age per procedure. The simulation gives a patient's second procedure the age of the
    first even a year later; here a later procedure's age is the first age plus the difference
    of calendar years (capped at 90), which is what a birth year gives back.
    """
    procedures, assessments, _ = simulate(n, seed=seed, **truth)
    year = pd.to_datetime(procedures["procedure_date"]).dt.year
    first_age = procedures.groupby("patient_id")["age"].transform("first")
    first_year = year.groupby(procedures["patient_id"]).transform("first")
    procedures["age"] = np.minimum(first_age + (year - first_year), 90)
    return procedures, assessments


def reference(procedures: pd.DataFrame, assessments: pd.DataFrame, tmp_path) -> tuple:
    """Endpoints and claims of the same records loaded from CSV files."""
    procedures.to_csv(tmp_path / "procedures.csv", index=False)
    assessments.to_csv(tmp_path / "assessments.csv", index=False)
    cohort = load_records(tmp_path / "procedures.csv", tmp_path / "assessments.csv")
    return derive_endpoints(cohort), evaluate_claims(cohort).to_frame(), cohort


def assert_same_results(expected: tuple, cohort, *, ids: dict[str, dict[str, str]] | None = None) -> None:
    """Endpoints (ids translated by ``ids``: column -> {canonical: source id}) and claims equal."""
    endpoints, claims, _ = expected
    if ids:
        endpoints = endpoints.assign(**{col: endpoints[col].map(table) for col, table in ids.items()})
    got = derive_endpoints(cohort)
    pd.testing.assert_frame_equal(endpoints.reset_index(drop=True), got.reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(claims, evaluate_claims(cohort).to_frame())


def assert_rows_accounted(cohort) -> None:
    flow = cohort.flow()
    assert (flow["read"] == flow["analysed"] + flow["excluded"]).all(), flow
    assert (flow["analysed"] >= 0).all(), flow



def without_overlap(procedures: pd.DataFrame, assessments: pd.DataFrame) -> pd.DataFrame:
    """The assessments less a procedure's scores from its patient's next procedure's first score on.

    A FHIR or OMOP record of a score carries a time, not its procedure: by time, a score after
    a patient's second procedure belongs to the second, and the last one before it is its
    baseline. A simulated first procedure's one- and three-year follow-ups can fall after the
    second procedure; without them the CSV and a time-linked export hold the same links.
    """
    start = pd.Series(pd.to_datetime(procedures["procedure_date"]).to_numpy(), index=procedures["procedure_id"])
    t = start.reindex(assessments["procedure_id"]).to_numpy() + pd.to_timedelta(
        pd.to_numeric(assessments["hours_after"]), unit="h").to_numpy()
    first = pd.Series(t).groupby(assessments["procedure_id"].to_numpy()).min()
    begins = pd.concat([start, first], axis=1).min(axis=1)  # the first score, or the procedure
    order = pd.DataFrame({"patient_id": procedures["patient_id"].to_numpy(), "t": start.to_numpy(),
                          "begins": begins.reindex(start.index).to_numpy()}, index=start.index)
    order = order.sort_values(["patient_id", "t"], kind="stable")
    cut = order.groupby("patient_id")["begins"].shift(-1)
    limit = cut.reindex(assessments["procedure_id"]).to_numpy()
    keep = pd.isna(limit) | (t < limit)
    return assessments[keep].reset_index(drop=True)
