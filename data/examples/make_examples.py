"""Regenerate the example clinic export in this folder (synthetic; not real patients).

    python data/examples/make_examples.py

Writes the same 60 synthetic procedures twice:

- ``wide_export.csv``: one row per procedure as a clinic's system might export it: its own
  column names, CPT codes, day/month/year dates, its own discharge labels and VAS 0-100 pain
  columns at nominal time points (``VAS_baseline``, ``VAS_24h``, ..., ``VAS_12mo``), read with
  ``wide_mapping.toml``;
- ``long_procedures.csv`` and ``long_assessments.csv``: the same patients in the canonical long
  form (NRS 0-10 at the nominal hours), which needs no mapping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.synthetic import simulate

HERE = Path(__file__).parent
NOMINAL = {"baseline": 0.0, "2h": 2.0, "24h": 24.0, "48h": 48.0, "1w": 168.0, "4w": 672.0, "3mo": 2191.5,
           "12mo": 8766.0}


def main() -> None:
    procedures, assessments, _ = simulate(60, seed=7, p_long_term=0.0)
    hours = np.array(list(NOMINAL.values()))
    labels = np.array(list(NOMINAL))
    nearest = np.abs(assessments["hours_after"].to_numpy()[:, None] - hours[None, :]).argmin(axis=1)
    long = assessments.assign(label=labels[nearest], hours_after=hours[nearest], instrument="nrs")
    long = long.drop_duplicates(["procedure_id", "label"])
    procs = procedures.drop(columns=["baseline_pain"])
    procs.to_csv(HERE / "long_procedures.csv", index=False)
    long[["procedure_id", "hours_after", "pain", "instrument"]].to_csv(HERE / "long_assessments.csv", index=False)

    wide = long.pivot(index="procedure_id", columns="label", values="pain").reindex(columns=list(NOMINAL))
    wide = (wide * 10).rename(columns=lambda c: f"VAS_{c}")
    cpt = {"vertebroplasty": "22510", "kyphoplasty": "22513"}
    export = pd.DataFrame({
        "Case No": procs["procedure_id"],
        "Pseudo ID": procs["patient_id"],
        "CPT": procs["procedure"].map(cpt),
        "Date of procedure": pd.to_datetime(procs["procedure_date"]).dt.strftime("%d/%m/%Y"),
        "Fracture date": pd.to_datetime(procs["fracture_date"]).dt.strftime("%d/%m/%Y"),
        "Levels": procs["levels_treated"],
        "Cause": procs["etiology"],
        "Age (years)": procs["age"],
        "Sex": procs["sex"].map({"F": "Female", "M": "Male"}),
        "ASA": procs["asa_class"],
        "Disposition": procs["discharge"].map({"same_day": "Home", "overnight": "Obs", "admitted": "Ward"}),
        "Complication": np.where(procs["complication"], "cement leak", "none"),
        "Operator": procs["physician_id"],
        "Site": procs["site_id"],
    }).merge(wide, left_on="Case No", right_index=True, how="left")
    export.to_csv(HERE / "wide_export.csv", index=False)


if __name__ == "__main__":
    main()
