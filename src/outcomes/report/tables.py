"""The report's tables as DataFrames of text cells: Table 1, discharge, scorecard, records, case mix.

Counts are protected together within a table (:func:`outcomes.report.suppression.protect`): every
row of a variable adds up to its procedure's total, every procedure adds up to "all", so a
count under the threshold is shown as ``"<N"`` and one more cell of each such sum as
``"hidden"``. :func:`write_tables` writes the tables and the figure data to an .xlsx workbook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import formatting as fmt
from ..cohort import Cohort
from ..exceptions import InputError
from .suppression import HIDDEN, check_suppress_below, hides_estimate, is_suppressed, protect, suppress
from .wording import RATIO, SHARE, counts_hidden, missing_hidden, span, words

__all__ = [
    "case_mix_table",
    "discharge_table",
    "exclusions_table",
    "flow_table",
    "protected_flow",
    "scorecard",
    "table_one",
    "write_tables",
]


def groups_of(endpoints: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(name, mask) per procedure present, then "all"."""
    procedure = endpoints["procedure"].astype("string")
    present = [p for p in ("vertebroplasty", "kyphoplasty") if (procedure == p).any()]
    present += sorted(set(procedure.dropna().unique()) - set(present))
    groups = [(p, (procedure == p).fillna(False).to_numpy(bool)) for p in present]
    groups.append(("all", np.ones(len(endpoints), dtype=bool)))
    return groups


@dataclass
class _Grid:
    """Counts of one table, protected together: a totals row and blocks of levels x groups."""

    groups: list[str]
    totals: dict[str, int]
    blocks: list[tuple[list[str], list[bool], pd.DataFrame]] = field(default_factory=list)

    def add(self, matrix: pd.DataFrame, shown: Sequence[bool]) -> int:
        self.blocks.append((list(matrix.index), list(shown), matrix))
        return len(self.blocks) - 1

    def solve(self, below: int) -> dict[tuple, bool]:
        cells: list[tuple] = [("total", g) for g in self.groups]
        values = [self.totals[g] for g in self.groups]
        shown = [True] * len(self.groups)
        for b, (levels, flags, matrix) in enumerate(self.blocks):
            for level, flag in zip(levels, flags):
                for g in self.groups:
                    cells.append((b, level, g))
                    values.append(int(matrix.loc[level, g]))
                    shown.append(flag)
        index = {c: i for i, c in enumerate(cells)}
        parts = [g for g in self.groups if g != "all"]
        relations = []
        if "all" in self.groups and parts:
            relations.append([index[("total", g)] for g in self.groups])
        for b, (levels, _, _) in enumerate(self.blocks):
            for level in levels:
                if "all" in self.groups and parts:
                    relations.append([index[(b, level, g)] for g in self.groups])
            for g in self.groups:
                relations.append([index[(b, level, g)] for level in levels] + [index[("total", g)]])
        totals = [index[("total", g)] for g in self.groups] + [index[(b, lv, "all")] for b, (lvs, _, _) in
                                                                enumerate(self.blocks) for lv in lvs]
        mask = protect(values, relations, below, shown=shown, totals=totals)
        return {c: bool(mask[i]) for c, i in index.items()}


def _yes_no(mask: pd.Series) -> pd.Series:
    """True -> "yes", anything else -> "no" (vectorised: a million rows take no time)."""
    flags = mask.astype("boolean").fillna(False).to_numpy(bool)
    return pd.Series(np.where(flags, "yes", "no"), index=mask.index, dtype="string")


def _cell(count: int, total: int | None, hidden: bool, below: int) -> str:
    if hidden:
        return f"<{below}" if is_suppressed(count, below) else HIDDEN
    if not total:
        return f"{count:,}"
    return f"{count:,} ({100 * count / total:.1f}%)"


def _median_cell(values: pd.Series, decimals: int) -> str:
    values = values.dropna().astype(float)
    if values.empty:
        return "-"
    q1, med, q3 = np.quantile(values.to_numpy(), [0.25, 0.5, 0.75])
    return f"{med:.{decimals}f} ({q1:.{decimals}f}-{q3:.{decimals}f})"


class _Builder:
    """Rows of a by-procedure table whose count cells are protected together."""

    def __init__(self, endpoints: pd.DataFrame, below: int) -> None:
        self.ep, self.below = endpoints, below
        self.groups = groups_of(endpoints)
        self.names = [g for g, _ in self.groups]
        self.grid = _Grid(self.names, {g: int(m.sum()) for g, m in self.groups})
        self.rows: list[tuple[str, Any]] = []

    def text(self, label: str, cells: dict[str, str]) -> None:
        self.rows.append((label, cells))

    def totals(self, label: str = "Procedures, n") -> None:
        self.rows.append((label, "total"))

    def categorical(self, name: str, values: pd.Series, order: Sequence[str] | None = None, *,
                    binary: str | None = None) -> None:
        """Levels of ``values`` by group; ``binary`` names the one level shown (the other implied)."""
        text = values.astype("string").fillna("missing")
        if binary is not None:
            levels = list(order or ())
        else:
            present = set(text.unique())
            levels = [lv for lv in (order or ()) if lv in present]
            levels += sorted(present - set(levels) - {"missing"}) + (["missing"] if "missing" in present else [])
        matrix = pd.DataFrame({g: pd.Series(text[m]).value_counts() for g, m in self.groups})
        matrix = matrix.reindex(levels).fillna(0)
        flags = [(binary is None or lv == binary) for lv in levels]
        b = self.grid.add(matrix.astype(int), flags)
        for lv in levels:
            if binary is not None and lv != binary:
                continue
            label = name if binary is not None else f"{name}: {lv}, n (%)"
            self.rows.append((label, (b, lv)))

    def continuous(self, column: str, label: str, decimals: int = 0) -> None:
        if column in self.ep and self.ep[column].notna().any():
            values = self.ep[column]
            self.text(f"{label}, median (IQR)", {g: _median_cell(values[m], decimals) for g, m in self.groups})
            missing = values.isna()
            if missing.any():
                self.categorical(f"{label}: missing, n (%)", _yes_no(missing), ["yes", "no"],
                                 binary="yes")

    def frame(self) -> pd.DataFrame:
        hidden = self.grid.solve(self.below)
        out = []
        for label, spec in self.rows:
            row = {"characteristic": label}
            if isinstance(spec, dict):
                row.update(spec)
            elif spec == "total":
                row.update({g: _cell(self.grid.totals[g], None, hidden[("total", g)], self.below) for g in self.names})
            else:
                b, lv = spec
                matrix = self.grid.blocks[b][2]
                for g in self.names:
                    total = None if hidden[("total", g)] else self.grid.totals[g]
                    row[g] = _cell(int(matrix.loc[lv, g]), total, hidden[(b, lv, g)], self.below)
            out.append(row)
        return pd.DataFrame(out, columns=["characteristic", *self.names])


def table_one(endpoints: pd.DataFrame, *, suppress_below: int = 0) -> pd.DataFrame:
    """Table 1: who was treated, by procedure (counts and % or median (IQR)).

    Age, sex, levels treated, fracture age, baseline pain, ASA class and etiology, each when the
    records have it; a "missing" line when some values are missing. Percentages have one decimal;
    counts under ``suppress_below`` are shown as ``"<N"`` and one more count of each row or
    column holding one as ``"hidden"``, so that none can be recovered by subtraction.

    Parameters
    ----------
    endpoints : pandas.DataFrame
        From :func:`outcomes.derive_endpoints`.
    suppress_below : int, default 0

    Returns
    -------
    pandas.DataFrame
        Text cells: ``characteristic`` then one column per procedure and ``all``.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"procedure": ["vertebroplasty", "kyphoplasty", "kyphoplasty"], "patient_id": ["A", "B", "C"],
    ...                    "age": [70, 80, 90], "sex": ["F", "F", "M"]})
    >>> t = table_one(ep)
    >>> t.columns.tolist()
    ['characteristic', 'vertebroplasty', 'kyphoplasty', 'all']
    >>> t.loc[t.characteristic == "Sex: female, n (%)", "all"].item()
    '2 (66.7%)'
    """
    below = check_suppress_below(suppress_below)
    if "procedure" not in endpoints:
        raise InputError(f"`endpoints` must have a 'procedure' column (derive_endpoints); got {sorted(endpoints.columns)!r}.")
    t = _Builder(endpoints, below)
    ep = endpoints
    t.totals()
    if "patient_id" in ep:
        # patients are not additive across procedures (one patient may have had both)
        t.text("Patients, n", {g: suppress(int(ep.loc[m, "patient_id"].nunique()), below) for g, m in t.groups})
    t.continuous("age", "Age (years; over 89 shown as 90)")
    if "sex" in ep:
        sex = ep["sex"].astype("string").str.strip().str.upper().replace(
            {"F": "female", "FEMALE": "female", "M": "male", "MALE": "male"})
        t.categorical("Sex", sex, [v for v in ("female", "male") if (sex == v).any()]
                      + sorted(set(sex.dropna().unique()) - {"female", "male"}))
    if "levels_treated" in ep and ep["levels_treated"].notna().any():
        lv = ep["levels_treated"].astype(float)
        levels = pd.Series(np.where(lv >= 3, "3 or more", lv.astype("Int64").astype("string")), index=ep.index,
                           dtype="string").where(lv.notna())
        t.categorical("Levels treated", levels, ["1", "2", "3 or more"])
    t.continuous("fracture_age_days", "Fracture age at the procedure (days)")
    if "early_treatment" in ep and ep["early_treatment"].notna().any():
        t.categorical("Treated within six weeks of the fracture, n (%)", _yes_no(ep["early_treatment"]), ["yes", "no"],
                      binary="yes")
    t.continuous("baseline_pain", "Baseline pain (0-10)")
    if "asa_class" in ep and ep["asa_class"].notna().any():
        asa = ep["asa_class"].astype(float)
        asa_text = pd.Series(asa.astype("Int64").astype("string"), index=ep.index).where(asa.notna())
        t.categorical("ASA class", asa_text, [str(v) for v in sorted(asa.dropna().unique().astype(int))])
    if "etiology" in ep and ep["etiology"].notna().any():
        et = ep["etiology"].astype("string")
        t.categorical("Etiology", et, list(et.value_counts().index))
    return t.frame()


def discharge_table(endpoints: pd.DataFrame, *, suppress_below: int = 0) -> pd.DataFrame:
    """Discharge and safety by procedure: same day / overnight / admitted, at least one night,
    length of stay, complications.

    The overnight-stay claim counts every procedure not discharged the same day; the row "stayed
    at least one night" shows that count beside its two parts.

    Returns
    -------
    pandas.DataFrame
        Text cells like :func:`table_one`.
    """
    below = check_suppress_below(suppress_below)
    t = _Builder(endpoints, below)
    t.totals()
    if "discharge" in endpoints and endpoints["discharge"].notna().any():
        names = {"same_day": "same day", "overnight": "overnight", "admitted": "admitted"}
        dis = endpoints["discharge"].astype("string").replace(names)
        t.categorical("Discharge", dis, ["same day", "overnight", "admitted"])
        night = _yes_no((dis == "overnight") | (dis == "admitted"))
        t.categorical("Stayed at least one night (overnight or admitted), n (%)", night, ["yes", "no"], binary="yes")
    if "length_of_stay_hours" in endpoints and endpoints["length_of_stay_hours"].notna().any():
        t.text("Length of stay (hours), median (IQR)",
               {g: _median_cell(endpoints.loc[m, "length_of_stay_hours"], 1) for g, m in t.groups})
    if "complication" in endpoints and endpoints["complication"].notna().any():
        t.categorical("Complication recorded, n (%)", _yes_no(endpoints["complication"]), ["yes", "no"], binary="yes")
    return t.frame()


def case_mix_table(own: pd.DataFrame, clinic: pd.DataFrame, *, label: str, suppress_below: int = 0) -> pd.DataFrame:
    """One physician's case mix beside the whole clinic's: Table 1's "all" column of each.

    Returns
    -------
    pandas.DataFrame
        ``characteristic``, ``label`` and ``clinic`` (text cells).
    """
    below = check_suppress_below(suppress_below)
    mine = table_one(own, suppress_below=below)[["characteristic", "all"]].rename(columns={"all": label})
    theirs = table_one(clinic, suppress_below=below)[["characteristic", "all"]].rename(columns={"all": "clinic"})
    order = list(dict.fromkeys([*theirs["characteristic"], *mine["characteristic"]]))
    out = theirs.merge(mine, on="characteristic", how="outer").fillna("-")
    out = out.set_index("characteristic").loc[order].reset_index()
    return out[["characteristic", label, "clinic"]]


def _observed(row: pd.Series, value: float, decimals: int = 1) -> str:
    measure = row["measure"]
    if not np.isfinite(value):
        return "-"
    if measure in SHARE:
        return fmt.percent(value, decimals)
    if measure in RATIO:
        return fmt.number(value, 2)
    if measure == "risk difference":
        return f"{100 * value:+.{decimals}f} points"
    if measure == "median hours to relief":
        return f"{value:.1f} h"
    unit = {"_pct": " points", "_deg": "\u00b0"}.get(str(row["reading"])[-4:], "")
    return f"{value:+.{decimals}f}{unit}"


def _p(value: float) -> str:
    text = fmt.pvalue(value)
    return "-" if text == "p = -" else text.replace("p = ", "").replace("p < ", "<\u00a0")


def scorecard(claims: Any, *, suppress_below: int = 0, methods: bool = False) -> pd.DataFrame:
    """The claims scorecard: claim, population, reading, n, observed, 95% CI, stated, verdict, p, Holm p.

    Every row of the result table (primary, secondary and sensitivity readings), formatted with
    one decimal; counts under ``suppress_below`` as ``"<N"`` and estimates that would disclose
    them as "suppressed". With ``methods`` a last column names each row's statistical method
    (the report keeps those names in its appendix).

    Parameters
    ----------
    claims : ClaimsResult
    suppress_below : int, default 0
    methods : bool, default False

    Returns
    -------
    pandas.DataFrame
        Text cells.
    """
    from .wording import shown_interval

    below = check_suppress_below(suppress_below)
    out = []
    for _, r in claims.table.iterrows():  # one row per result line (tens of rows)
        gives_missing = missing_hidden(claims.table, r, below)  # worst case n - complete case n < N
        hidden = hides_estimate(r, below) or gives_missing
        if r["measure"] == "risk difference":
            ci = span(100 * r["ci_low"], 100 * r["ci_high"])
        elif r["measure"] in SHARE or r["measure"] in RATIO:
            ci = shown_interval(r) if r["verdict"] else fmt.interval(r["ci_low"], r["ci_high"], decimals=1,
                                                                    as_percent=r["measure"] in SHARE)
            if r["measure"] in SHARE and ci.count(".") == 0 and ci != "-":
                ci = fmt.interval(r["ci_low"], r["ci_high"], decimals=1)
        else:
            ci = span(r["ci_low"], r["ci_high"])
        first = not out or out[-1]["_id"] != r["claim_id"]
        role = {"primary": "", "secondary": "secondary", "sensitivity": "sensitivity"}.get(r["role"], r["role"])
        reading = "" if r["reading"] == "complete case" else words(r["reading"])
        row = {
            "_id": r["claim_id"],
            "claim": r["statement"] if first else "",
            "population": r["population"],
            "reading": ", ".join(x for x in (reading, role) if x),
            "n": HIDDEN if gives_missing and not is_suppressed(r["n"], below) else suppress(r["n"], below),
            "observed": "suppressed" if hidden else ("-" if r["verdict"] == "not assessable" else
                                                     _observed(r, r["estimate"])),
            "95% CI": "suppressed" if hidden else ci,
            "stated": fmt.percent(r["stated"]) if pd.notna(r["stated"]) else "-",
            "verdict": str(r["verdict"]).upper() if r["verdict"] else "-",
            "p": _p(r["p_value"]),
            "Holm p": _p(r["p_holm"]),
        }
        if methods:
            row["method"] = r["method"] or counts_hidden(r["note"], below)
        out.append(row)
    columns = ["claim", "population", "reading", "n", "observed", "95% CI", "stated", "verdict", "p", "Holm p"]
    return pd.DataFrame(out, columns=columns + (["method"] if methods else []))




def _flow_protected(cohort: Cohort, below: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The flow and the exclusions with one mask: read = analysed + excluded = analysed + sum of reasons."""
    flow = cohort.flow().reset_index(drop=True)
    counts = cohort.exclusion_counts().reset_index(drop=True)
    values, cells, relations = [], [], []
    for _, f in flow.iterrows():
        base = len(values)
        for what in ("read", "excluded", "analysed"):
            cells.append((f["table"], what))
            values.append(int(f[what]))
        relations.append([base + 1, base + 2, base])  # excluded + analysed = read
        mine = counts[counts["table"] == f["table"]]
        idx = []
        for _, c in mine.iterrows():
            cells.append((f["table"], "reason", c["reason"]))
            values.append(int(c["rows"]))
            idx.append(len(values) - 1)
        if idx:
            relations.append(idx + [base + 1])
    hidden = protect(values, relations, below, totals=[i for i, c in enumerate(cells) if c[1] == "read"])
    return flow, counts, {c: (v, bool(h)) for c, v, h in zip(cells, values, hidden)}


def protected_flow(cohort: Cohort, below: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:meth:`Cohort.flow` and :meth:`Cohort.exclusion_counts` with each count hidden only to protect
    another set to missing (drawn "-"), for the flow figure."""
    flow, counts, cells = _flow_protected(cohort, below)
    flow, counts = flow.copy(), counts.copy()
    for what in ("read", "excluded", "analysed"):
        flow[what] = [np.nan if cells[(t, what)][1] and not is_suppressed(cells[(t, what)][0], below)
                      else cells[(t, what)][0] for t in flow["table"]]
    counts["rows"] = [np.nan if cells[(t, "reason", r)][1] and not is_suppressed(cells[(t, "reason", r)][0], below)
                      else cells[(t, "reason", r)][0] for t, r in zip(counts["table"], counts["reason"])]
    return flow, counts


def _shown(value: int, hide: bool, below: int) -> str:
    return (f"<{below}" if is_suppressed(value, below) else HIDDEN) if hide else f"{value:,}"


def flow_table(cohort: Cohort, *, suppress_below: int = 0) -> pd.DataFrame:
    """Rows read, excluded and analysed per table (read = analysed + excluded), protected together."""
    below = check_suppress_below(suppress_below)
    flow, _, cells = _flow_protected(cohort, below)
    return pd.DataFrame({
        "records": [fmt.table_words(t) for t in flow["table"]],
        "file": [cohort.sources.get(t, t) for t in flow["table"]],
        **{what: [_shown(*cells[(t, what)], below) for t in flow["table"]] for what in ("read", "excluded", "analysed")},
    })


def exclusions_table(cohort: Cohort, *, suppress_below: int = 0) -> pd.DataFrame:
    """Excluded rows by reason, protected with the flow."""
    below = check_suppress_below(suppress_below)
    _, counts, cells = _flow_protected(cohort, below)
    return pd.DataFrame({
        "records": [fmt.table_words(t) for t in counts["table"]],
        "reason": counts["reason"].astype(str).tolist(),
        "rows": [_shown(*cells[(t, "reason", r)], below) for t, r in zip(counts["table"], counts["reason"])],
    })


def _curve_points(endpoints: pd.DataFrame, below: int) -> pd.DataFrame:
    from .figures import relief_km
    frames = []
    for procedure in ("vertebroplasty", "kyphoplasty"):
        sub = endpoints[endpoints["procedure"] == procedure]
        km = relief_km(sub) if len(sub) else None
        if km is None:
            continue
        t = km.table.copy()
        t.insert(0, "procedure", procedure)
        t["relieved"] = 1 - t["survival"]
        t["relieved_ci_low"], t["relieved_ci_high"] = 1 - t["ci_high"], 1 - t["ci_low"]
        if below:
            for col in ("at_risk", "events", "censored"):
                if col in t:
                    t[col] = [suppress(v, below) for v in t[col]]
        frames.append(t.rename(columns={"time": "hours"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_tables(path: str | Path, *, claims: Any, endpoints: pd.DataFrame, cohort: Cohort,
                 suppress_below: int = 0) -> Path:
    """Write the report's tables and figure data to an .xlsx workbook (openpyxl).

    Sheets: ``scorecard`` (numbers unrounded, estimates that would disclose a small count left
    empty), ``table 1``, ``discharge``, ``flow``, ``exclusions``, ``relief curve`` (the points
    of the relief curves: hours, at risk, relieved and its interval); when the records have
    them, ``complications``, ``new fracture curve`` and ``function by visit``
    (:func:`outcomes.report.safety.safety_sheets`).

    Returns
    -------
    pathlib.Path
    """
    below = check_suppress_below(suppress_below)
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"`tables` must be a file name ending in .xlsx; got {path.name!r}.")
    score = claims.table.drop(columns=[c for c in claims.table.columns if c.startswith("_")]).copy()
    if below:
        hide = np.array([hides_estimate(r, below) for _, r in score.iterrows()], bool)
        score.loc[hide, ["estimate", "ci_low", "ci_high"]] = np.nan
        for col in ("n", "events"):
            score[col] = [suppress(v, below) if pd.notna(v) else "" for v in score[col]]
    sheets = {
        "scorecard": score,
        "table 1": table_one(endpoints, suppress_below=below),
        "discharge": discharge_table(endpoints, suppress_below=below),
        "flow": flow_table(cohort, suppress_below=below),
        "exclusions": exclusions_table(cohort, suppress_below=below),
        "relief curve": _curve_points(endpoints, below),
    }
    from .safety import safety_sheets  # complications, new-fracture curve, function by visit: when recorded
    sheets.update(safety_sheets(cohort, endpoints, claims, suppress_below=below))
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            for column in sheet.columns:
                width = max(len(str(c.value or "")) for c in column[:200])
                sheet.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 60)
    return path
