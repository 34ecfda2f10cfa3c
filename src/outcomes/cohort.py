"""The validated cohort: canonical tables plus the account of every input row."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Cohort"]

EXCLUSION_COLUMNS = ["table", "source", "row", "column", "value", "reason", "procedure_id"]
REMARK_COLUMNS = ["table", "source", "row", "column", "value", "remark"]
# The validated events table (outcomes.safety): one row per analysed adverse event.
EVENT_TABLE_COLUMNS = ["procedure_id", "event", "days_after", "severity", "level", "adjacent"]


def empty_events() -> pd.DataFrame:
    """The events table of a cohort without one: no rows, the canonical columns and types."""
    return pd.DataFrame({"procedure_id": pd.Series([], dtype="string"), "event": pd.Series([], dtype="string"),
                         "days_after": pd.Series([], dtype=float), "severity": pd.Series([], dtype="string"),
                         "level": pd.Series([], dtype="string"), "adjacent": pd.Series([], dtype="boolean")})


@dataclass(frozen=True)
class Cohort:
    """Validated procedures and assessments, with the exclusion log that accounts for every row.

    Attributes
    ----------
    procedures : pandas.DataFrame
        One row per analysed procedure, canonical columns and types.
    assessments : pandas.DataFrame
        One row per analysed pain score: ``procedure_id``, ``hours_after``, ``pain`` (0-10),
        ``instrument``.
    exclusions : pandas.DataFrame
        One row per excluded input row: table, source, row (as a spreadsheet numbers it, header =
        row 1; the position for a DataFrame), column, value, reason, procedure_id.
    remarks : pandas.DataFrame
        Values that were unreadable in optional fields and set to missing; the row itself was kept.
    read : dict
        Rows read per table. For each table ``read == analysed + excluded``.
    sources, input_hashes : dict
        The name and SHA-256 of each input (file name only, never the path).
    privacy_warnings : tuple of str
        Present when identifiers were allowed through on request; reports repeat them.
    notes : tuple of str
        How the inputs were read, one line each: the encoding when not plain UTF-8, a header row
        under title rows, the sheet, decimal commas, date formats detected, which wide columns
        were read as which hours, how a REDCap export was split.
    events : pandas.DataFrame
        One row per analysed adverse event: ``procedure_id``, ``event`` (canonical code),
        ``days_after`` (days from the procedure), ``severity`` (``major`` | ``minor`` | NA),
        ``level``, ``adjacent``. No rows when no events table was given.
    has_events : bool
        Whether an events table was given: without one the safety endpoints are unknown (NA),
        not "no complication".
    function_scores : pandas.DataFrame
        One row per analysed function score (ODI, RMDQ, EQ-5D VAS): ``procedure_id``,
        ``hours_after``, ``instrument`` (``odi`` | ``rmdq`` | ``eq5d_vas``), ``score`` on the
        instrument's own scale. Counted as the table ``function_scores`` in the row accounting;
        empty with these columns when there are none.
    """

    procedures: pd.DataFrame
    assessments: pd.DataFrame
    exclusions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EXCLUSION_COLUMNS))
    remarks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REMARK_COLUMNS))
    read: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    input_hashes: dict[str, str] = field(default_factory=dict)
    privacy_warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    events: pd.DataFrame = field(default_factory=empty_events)
    has_events: bool = False
    function_scores: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"procedure_id": pd.Series(dtype="string"), "hours_after": pd.Series(dtype=float),
         "instrument": pd.Series(dtype="string"), "score": pd.Series(dtype=float)}))

    def flow(self) -> pd.DataFrame:
        """Rows read, excluded and analysed per table (read = analysed + excluded)."""
        rows = []
        for table, frame in (("procedures", self.procedures), ("assessments", self.assessments)):
            excluded = int((self.exclusions["table"] == table).sum())
            rows.append({"table": table, "read": self.read.get(table, len(frame) + excluded),
                         "excluded": excluded, "analysed": len(frame)})
        # Records of a source before the canonical tables (e.g. "fhir:Observation"): "analysed"
        # there means passed on into the canonical tables.
        for table, read in self.read.items():
            if table not in ("procedures", "assessments"):
                excluded = int((self.exclusions["table"] == table).sum())
                rows.append({"table": table, "read": read, "excluded": excluded, "analysed": read - excluded})
        return pd.DataFrame(rows)

    def exclusion_counts(self) -> pd.DataFrame:
        """Excluded rows by table and reason, largest first."""
        if self.exclusions.empty:
            return pd.DataFrame({"table": [], "reason": [], "rows": []})
        counts = self.exclusions.groupby(["table", "reason"], sort=False).size().rename("rows").reset_index()
        return counts.sort_values(["table", "rows"], ascending=[False, False], kind="stable").reset_index(drop=True)

    @property
    def n_patients(self) -> int:
        return int(self.procedures["patient_id"].nunique())

    def exclusion_log(self) -> pd.DataFrame:
        """Every excluded row: table, source, row (as a spreadsheet numbers it), column, value,
        reason, procedure_id (what ``outcomes validate --exclusions FILE.csv`` writes)."""
        return self.exclusions.reindex(columns=EXCLUSION_COLUMNS).reset_index(drop=True)

    def empty_tables(self) -> list[str]:
        """The canonical tables in which no row is analysed."""
        return [t for t, frame in (("procedures", self.procedures), ("assessments", self.assessments)) if frame.empty]

    def describe(self) -> str:
        """The row accounting as plain text (what ``outcomes validate`` prints)."""
        lines = [f"read: {note}" for note in self.notes]
        for row in self.flow().itertuples(index=False):
            source = self.sources.get(row.table, row.table)
            lines.append(f"{row.table} ({source}): read {row.read}, analysed {row.analysed}, excluded {row.excluded}")
            counts = self.exclusion_counts()
            for c in counts[counts["table"] == row.table].itertuples(index=False):
                lines.append(f"  excluded {c.rows:>6}  {c.reason}")
        if not self.remarks.empty:
            lines.append(f"remarks: {len(self.remarks)} unreadable optional values set to missing")
            for (column, remark), n in self.remarks.groupby(["column", "remark"], sort=False).size().items():
                lines.append(f"  {n:>6}  {column}: {remark}")
        lines.extend(f"WARNING: {w}" for w in self.privacy_warnings)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.flow().to_html(index=False) + self.exclusion_counts().to_html(index=False)
