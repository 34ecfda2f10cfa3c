"""Mapping a clinic's own export onto the canonical tables.

A mapping file (TOML) renames columns, maps codes and declares formats::

    [procedures.columns]          # the clinic's column = the canonical column
    "Case number" = "procedure_id"
    "Pseudo ID" = "patient_id"
    "CPT" = "procedure"
    "Date of procedure" = "procedure_date"

    [procedures.values.procedure] # extra codes for a canonical column (built-ins always apply)
    "Cement augmentation" = "vertebroplasty"

    [procedures]
    date_format = "%d/%m/%Y"      # dates in the clinic's format (default ISO 8601)
    drop = ["Notes", "Comment"]   # columns left out before the privacy guard (free text, ...)

    [assessments.columns]
    "Case number" = "procedure_id"

    [assessments]
    instrument = "vas100"         # the scale when the file has no instrument column

    [wide]                        # one row per procedure, pain columns such as pain_24h, vas_3mo
    vas_instrument = "vas100"     # what a "vas_" column holds: "vas100" (0-100 mm) or "vas10"
    [wide.timepoints]             # extra time labels -> hours after the procedure
    "discharge" = 4

Built in, always: procedure synonyms (PVP, VP, BKP, KP, CPT 22510-22512 vertebroplasty and
22513-22515 kyphoplasty), discharge labels, sex labels, and wide time labels such as ``24h``,
``2d``, ``6w``, ``3mo``, ``1y`` and ``baseline`` (in months, ``m`` means months).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._toml import read_toml
from .exceptions import DefinitionsError

__all__ = ["Mapping"]

PROCEDURE_COLUMNS = (
    "procedure_id", "patient_id", "procedure", "procedure_date", "fracture_date", "fracture_age_days",
    "baseline_pain", "levels_treated", "etiology", "age", "sex", "asa_class", "discharge",
    "length_of_stay_hours", "complication", "physician_id", "site_id", "height_restoration_pct",
    "kyphotic_angle_change_deg",
)
ASSESSMENT_COLUMNS = ("procedure_id", "hours_after", "assessed_at", "pain", "instrument")

PROCEDURE_SYNONYMS = {
    **{k: "vertebroplasty" for k in (
        "vertebroplasty", "pvp", "vp", "percutaneous vertebroplasty", "22510", "22511", "22512")},
    **{k: "kyphoplasty" for k in (
        "kyphoplasty", "bkp", "kp", "balloon kyphoplasty", "percutaneous kyphoplasty",
        "22513", "22514", "22515")},
}
DISCHARGE_SYNONYMS = {
    **{k: "same_day" for k in ("same_day", "same day", "same-day", "sameday", "day case", "day-case",
                               "outpatient", "home same day", "ambulatory")},
    **{k: "overnight" for k in ("overnight", "overnight stay", "observation", "23h", "23-hour")},
    **{k: "admitted" for k in ("admitted", "inpatient", "admission")},
}
SEX_SYNONYMS = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}
INSTRUMENT_SYNONYMS = {
    "nrs": "nrs", "nprs": "nrs", "numeric rating scale": "nrs", "nrs11": "nrs", "pain": "nrs",
    "vas": "vas10", "vas10": "vas10", "vas_cm": "vas10",
    "vas100": "vas100", "vas_mm": "vas100", "vas 0-100": "vas100",
}
INSTRUMENT_SCALE = {"nrs": 1.0, "vas10": 1.0, "vas100": 0.1}

_UNIT_HOURS = {"h": 1.0, "d": 24.0, "w": 168.0, "m": 730.5, "y": 8766.0}
_UNIT_ALIASES = {
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "m": "m", "mo": "m", "mos": "m", "mon": "m", "month": "m", "months": "m",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}
_BASELINE_LABELS = ("baseline", "base", "pre", "preop", "pre_op", "0h")
WIDE_PATTERN = re.compile(
    r"^(?P<prefix>pain|nrs|nprs|vas|vas10|vas100)[_ ]?(?P<label>[a-z0-9_. ]+)$", re.IGNORECASE
)
_LABEL_PATTERN = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*_?(?P<unit>[a-z]+)$")


def normalise_label(value: Any) -> str:
    """Lower-case, trimmed text of a code; "22510.0" read from a spreadsheet becomes "22510"."""
    text = str(value).strip().lower()
    return re.sub(r"^(\d+)\.0+$", r"\1", text)


@dataclass(frozen=True, slots=True)
class Mapping:
    """How a clinic's export maps onto the canonical tables (see the module docstring).

    Examples
    --------
    >>> m = Mapping(procedure_columns={"Case": "procedure_id"})
    >>> m.wide_hours("pain_48h"), m.wide_hours("vas_3mo"), m.wide_hours("NRS_baseline")
    (48.0, 2191.5, 0.0)
    """

    procedure_columns: dict[str, str] = field(default_factory=dict)
    assessment_columns: dict[str, str] = field(default_factory=dict)
    procedure_values: dict[str, dict[str, str]] = field(default_factory=dict)
    assessment_values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str | None = None
    assessment_instrument: str = "nrs"
    wide_vas_instrument: str = "vas100"
    wide_timepoints: dict[str, float] = field(default_factory=dict)
    source: str = "mapping"
    procedure_drop: tuple[str, ...] = ()
    assessment_drop: tuple[str, ...] = ()

    @classmethod
    def coerce(cls, mapping: Mapping | str | Path | None) -> Mapping:
        """A Mapping from a Mapping, a path to a TOML file, or None (no renames)."""
        if mapping is None:
            return cls()
        return mapping if isinstance(mapping, Mapping) else cls.from_toml(mapping)

    @classmethod
    def from_toml(cls, path: str | Path) -> Mapping:
        """Read a mapping file."""
        path = Path(path)
        return cls.from_dict(read_toml(path, "Mapping"), source=path.name)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "mapping") -> Mapping:
        # [fhir] and [omop] configure outcomes.sources (SourceSettings); they are read there.
        unknown = set(raw) - {"procedures", "assessments", "wide", "fhir", "omop"}
        if unknown:
            raise DefinitionsError(
                f"`{sorted(unknown)[0]}` in {source} must be one of [procedures], [assessments], [wide], "
                "[fhir], [omop]; got an unknown section."
            )
        proc = raw.get("procedures", {})
        assess = raw.get("assessments", {})
        wide = raw.get("wide", {})
        for role, section, allowed in (("procedures", proc, PROCEDURE_COLUMNS),
                                       ("assessments", assess, ASSESSMENT_COLUMNS)):
            for clinic, canonical in section.get("columns", {}).items():
                if canonical not in allowed:
                    raise DefinitionsError(
                        f"`{role}.columns.{clinic}` in {source} must name a canonical column "
                        f"({', '.join(allowed)}); got {canonical!r}."
                    )
        instrument = INSTRUMENT_SYNONYMS.get(normalise_label(assess.get("instrument", "nrs")))
        vas = INSTRUMENT_SYNONYMS.get(normalise_label(wide.get("vas_instrument", "vas100")))
        if instrument is None or vas is None:
            raise DefinitionsError(
                f"`instrument` in {source} must be one of 'nrs', 'vas10', 'vas100'; "
                f"got {assess.get('instrument', wide.get('vas_instrument'))!r}."
            )
        return cls(
            procedure_columns=dict(proc.get("columns", {})),
            assessment_columns=dict(assess.get("columns", {})),
            procedure_values={k: dict(v) for k, v in proc.get("values", {}).items()},
            assessment_values={k: dict(v) for k, v in assess.get("values", {}).items()},
            date_format=proc.get("date_format"),
            assessment_instrument=instrument,
            wide_vas_instrument=vas,
            wide_timepoints={normalise_label(k): float(v) for k, v in wide.get("timepoints", {}).items()},
            source=source,
            procedure_drop=tuple(map(str, proc.get("drop", ()))),
            assessment_drop=tuple(map(str, assess.get("drop", ()))),
        )

    # -- columns -----------------------------------------------------------------------------
    def rename(self, frame: pd.DataFrame, role: str) -> pd.DataFrame:
        """Rename the clinic's columns to canonical names (canonical names match case-insensitively)."""
        explicit = self.procedure_columns if role == "procedures" else self.assessment_columns
        canonical = PROCEDURE_COLUMNS if role == "procedures" else ASSESSMENT_COLUMNS
        lookup = {c: c for c in canonical}
        renames: dict[Any, str] = {}
        for column in frame.columns:
            if column in explicit:
                renames[column] = explicit[column]
                continue
            key = re.sub(r"[^0-9a-z]+", "_", str(column).strip().lower()).strip("_")
            if key in lookup:
                renames[column] = lookup[key]
        return frame.rename(columns=renames)

    def value_map(self, role: str, column: str) -> dict[str, str]:
        """Codes for ``column``: built-in synonyms updated with the mapping's own."""
        builtin = {
            ("procedures", "procedure"): PROCEDURE_SYNONYMS,
            ("procedures", "discharge"): DISCHARGE_SYNONYMS,
            ("procedures", "sex"): SEX_SYNONYMS,
            ("assessments", "instrument"): INSTRUMENT_SYNONYMS,
        }.get((role, column), {})
        own = (self.procedure_values if role == "procedures" else self.assessment_values).get(column, {})
        return {**builtin, **{normalise_label(k): v for k, v in own.items()}}

    def has_value_map(self, role: str, column: str) -> bool:
        own = self.procedure_values if role == "procedures" else self.assessment_values
        return column in own

    # -- wide exports ------------------------------------------------------------------------
    def wide_hours(self, column: Any) -> float | None:
        """Hours after the procedure encoded in a wide column name, or None if it is not one."""
        match = WIDE_PATTERN.match(str(column).strip())
        if not match:
            return None
        label = normalise_label(match["label"]).replace(" ", "")
        if label in self.wide_timepoints:
            return self.wide_timepoints[label]
        if label in _BASELINE_LABELS:
            return 0.0
        parts = _LABEL_PATTERN.match(label)
        if not parts or parts["unit"] not in _UNIT_ALIASES:
            return None
        return float(parts["value"]) * _UNIT_HOURS[_UNIT_ALIASES[parts["unit"]]]

    def wide_instrument(self, column: Any) -> str:
        prefix = WIDE_PATTERN.match(str(column).strip())["prefix"].lower()
        return {"vas": self.wide_vas_instrument, "vas10": "vas10", "vas100": "vas100"}.get(prefix, "nrs")

    def wide_columns(self, frame: pd.DataFrame) -> dict[Any, float]:
        """The wide pain columns of ``frame`` and their hours."""
        found = {}
        for column in frame.columns:
            if column in PROCEDURE_COLUMNS or column in ASSESSMENT_COLUMNS:
                continue
            hours = self.wide_hours(column)
            if hours is not None:
                found[column] = hours
        return found

    def melt_wide(self, frame: pd.DataFrame, columns: dict[Any, float]) -> pd.DataFrame:
        """Make the wide pain columns long: one row per (procedure, time point) with a score."""
        keep = [c for c in ("procedure_id", "_row") if c in frame.columns]
        long = frame[keep + list(columns)].melt(id_vars=keep, var_name="_column", value_name="pain")
        long = long[long["pain"].notna() & (long["pain"].astype(str).str.strip() != "")]
        long["hours_after"] = long["_column"].map(columns).astype(float)
        long["instrument"] = long["_column"].map({c: self.wide_instrument(c) for c in columns})
        order = np.argsort(long["_row"].to_numpy(), kind="stable") if "_row" in long else slice(None)
        return long.iloc[order].reset_index(drop=True)
