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
    date_format = "%d/%m/%Y"      # dates in the clinic's format (default: detected, see below)
    drop = ["Notes", "Comment"]   # columns left out before the privacy guard (free text, ...)
    sheet = "Data"                # Excel: the sheet to read (default: the first with known columns)
    header_row = 3                # the header's row as a spreadsheet numbers it (default: found)
    encoding = "cp1252"           # text files: the encoding (default: detected)
    [procedures.date_formats]     # a format per column, over date_format
    "fracture_date" = "%Y-%m-%d"

    [assessments.columns]
    "Case number" = "procedure_id"

    [assessments]
    instrument = "vas100"         # the scale when the file has no instrument column
    date_format = "%m/%d/%Y %H:%M"  # assessed_at (also sheet, header_row, encoding, date_formats)

    [events.columns]              # the optional events table (outcomes.safety)
    "Case number" = "procedure_id"
    "Complication" = "event"
    "Grade" = "severity"
    [events.values.event]         # clinic labels -> canonical event codes
    "Zementaustritt" = "symptomatic_cement_leak"
    [events.values.severity]      # clinic labels -> major | minor
    "Clavien III" = "major"
    [events]
    date_format = "%d.%m.%Y"      # event_date (also sheet, header_row, encoding, drop)

    [wide]                        # one row per procedure, pain columns such as pain_24h, vas_3mo
    vas_instrument = "vas100"     # what a "vas_" column holds: "vas100" (0-100 mm) or "vas10"
                                  # (function columns: odi_4w, rmdq_2w, eq5d_vas_6w, on their own scales)
    [wide.timepoints]             # extra time labels -> hours after the procedure
    "discharge" = 4

    [redcap]                      # a REDCap records export (see outcomes.redcap)
    dictionary = "DataDictionary.csv"
    procedure_event = "procedure_arm_1"
    [redcap.events]               # event -> hours after the procedure
    "baseline_arm_1" = 0
    "48h_arm_1" = 48

Months: a month is 30.4375 days (730.5 hours, a year of 365.25 days over 12), in wide labels
(``3mo`` = 2191.5 h) as everywhere else in the package.

Built in, always: procedure synonyms (PVP, VP, BKP, KP, CPT 22510-22512 vertebroplasty and
22513-22515 kyphoplasty), discharge labels, sex labels, and wide time labels such as ``24h``,
``2d``, ``6w``, ``3mo``, ``1y`` and ``baseline`` (in months, ``m`` means months).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._toml import read_toml
from .exceptions import DefinitionsError

__all__ = ["FUNCTION_INSTRUMENTS", "FUNCTION_RANGE", "HOURS_PER_MONTH", "HOURS_PER_YEAR", "Mapping", "RedcapSettings"]

PROCEDURE_COLUMNS = (
    "procedure_id", "patient_id", "procedure", "procedure_date", "procedure_year", "fracture_date",
    "fracture_age_days",
    "baseline_pain", "levels_treated", "etiology", "age", "sex", "asa_class", "discharge",
    "length_of_stay_hours", "complication", "physician_id", "site_id", "height_restoration_pct",
    "kyphotic_angle_change_deg", "last_contact_days", "last_contact_date",
)
ASSESSMENT_COLUMNS = ("procedure_id", "hours_after", "assessed_at", "pain", "instrument", "score")
# The optional events table (outcomes.safety): one row per adverse event.
EVENT_COLUMNS = ("procedure_id", "event", "days_after", "event_date", "severity", "level", "adjacent")

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
# Adverse events (the events table): canonical codes and the labels clinics commonly write.
EVENT_CODES = ("symptomatic_cement_leak", "pulmonary_embolism", "neurologic_deficit", "infection", "rib_fracture",
               "new_fracture", "readmission", "reoperation", "death", "other")
EVENT_SYNONYMS = {
    **{code: code for code in EVENT_CODES},
    **{k: "symptomatic_cement_leak" for k in (
        "symptomatic cement leak", "symptomatic cement leakage", "cement leak", "cement leakage",
        "cement extravasation", "pmma leak", "pmma leakage", "cement_leak")},
    **{k: "pulmonary_embolism" for k in (
        "pulmonary embolism", "pe", "cement embolism", "pulmonary cement embolism", "cement pulmonary embolism")},
    **{k: "neurologic_deficit" for k in (
        "neurologic deficit", "neurological deficit", "new neurologic deficit", "new neurological deficit",
        "radiculopathy", "cord compression", "paresis", "paralysis", "neurologic_complication")},
    **{k: "infection" for k in ("infection", "osteomyelitis", "spondylodiscitis", "discitis", "wound infection",
                                "surgical site infection", "ssi")},
    **{k: "rib_fracture" for k in ("rib fracture", "fractured rib", "rib_fx")},
    **{k: "new_fracture" for k in (
        "new fracture", "new vertebral fracture", "new vcf", "adjacent fracture", "adjacent level fracture",
        "adjacent vertebral fracture", "subsequent fracture", "subsequent vertebral fracture", "refracture",
        "new_vertebral_fracture")},
    **{k: "readmission" for k in ("readmission", "readmitted", "re-admission", "hospital readmission")},
    **{k: "reoperation" for k in ("reoperation", "re-operation", "reintervention", "re-intervention",
                                  "revision", "return to theatre", "return to or")},
    **{k: "death" for k in ("death", "died", "dead", "deceased", "mortality", "exitus")},
}
# Severity: SIR's classification of complications (Sacks D et al., Society of Interventional
# Radiology clinical practice guidelines, J Vasc Interv Radiol 2003;14:S199-S202): classes A-B
# are minor, C-F major. The SIR adverse event classification of 2017 (Khalilzadeh O et al., J Vasc
# Interv Radiol 2017;28:1432-1437.e3): mild is minor; moderate (substantial treatment or a
# moderate escalation of care, about SIR 2003 classes C-D; the 2017 grade also puts an overnight
# observation stay here, which 2003 called minor B), severe and life-threatening are major. FHIR AdverseEvent
# seriousness "serious" / "non-serious". A clinic may map its own labels ([events.values.severity]).
SEVERITIES = ("major", "minor")
SEVERITY_SYNONYMS = {
    **{k: "major" for k in ("major", "serious", "severe", "sir c", "sir d", "sir e", "sir f", "c", "d", "e", "f",
                            "moderate", "life-threatening", "life threatening")},
    **{k: "minor" for k in ("minor", "non-serious", "nonserious", "not serious", "mild", "sir a", "sir b", "a", "b")},
}
# Function and quality-of-life instruments: their labels and their own scales (scores stay on
# them). Oswestry Disability Index 0-100 (Fairbank & Pynsent 2000, Spine 25:2940); Roland-Morris
# Disability Questionnaire 0-24 (Roland & Morris 1983, Spine 8:141); EQ-5D visual analogue scale
# 0-100 (EuroQol Group 1990, Health Policy 16:199). A clinic's own labels map onto these codes in
# the mapping file's [assessments.values.instrument] section.
FUNCTION_INSTRUMENTS = {
    **{k: "odi" for k in ("odi", "oswestry", "oswestry disability index", "odi 0-100", "odi100")},
    **{k: "rmdq" for k in ("rmdq", "rdq", "roland morris", "roland-morris", "rmdq24", "roland-morris disability questionnaire",
                           "roland morris disability questionnaire")},
    **{k: "eq5d_vas" for k in ("eq5d_vas", "eq5dvas", "eq-5d vas", "eq5d vas", "eq-5d-vas", "eq vas", "eqvas",
                               "eq-5d visual analogue scale")},
}
FUNCTION_RANGE = {"odi": (0.0, 100.0), "rmdq": (0.0, 24.0), "eq5d_vas": (0.0, 100.0)}

# One convention for months and years everywhere: a year is 365.25 days, a month a twelfth of it
# (30.4375 days = 730.5 h), as the Julian year of astronomy and R's lubridate::dmonths().
HOURS_PER_YEAR = 8766.0
HOURS_PER_MONTH = HOURS_PER_YEAR / 12
_UNIT_HOURS = {"h": 1.0, "d": 24.0, "w": 168.0, "m": HOURS_PER_MONTH, "y": HOURS_PER_YEAR}
_UNIT_ALIASES = {
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "m": "m", "mo": "m", "mos": "m", "mon": "m", "month": "m", "months": "m",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}
_BASELINE_LABELS = ("baseline", "base", "pre", "preop", "pre_op", "0h")
WIDE_PATTERN = re.compile(
    r"^(?P<prefix>pain|nrs|nprs|vas|vas10|vas100|odi|rmdq|eq5d_vas|eq5dvas)[_ ]?(?P<label>[a-z0-9_. ]+)$",
    re.IGNORECASE
)
_LABEL_PATTERN = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*_?(?P<unit>[a-z]+)$")


_READING_KEYS = ("sheet", "header_row", "encoding")
_DATE_COLUMNS = {"procedures": ("procedure_date", "fracture_date", "last_contact_date"),
                 "assessments": ("assessed_at",), "events": ("event_date",)}
_SECTION_KEYS = {
    "procedures": {"columns", "values", "date_format", "date_formats", "drop", *_READING_KEYS},
    "assessments": {"columns", "values", "date_format", "date_formats", "instrument", "drop", *_READING_KEYS},
    "events": {"columns", "values", "date_format", "date_formats", "drop", *_READING_KEYS},
}


@dataclass(frozen=True, slots=True)
class RedcapSettings:
    """The ``[redcap]`` section of a mapping file: how a REDCap records export is read.

    Attributes
    ----------
    dictionary : Path or None
        The project's data dictionary (CSV), to decode raw coded fields and label headers.
    procedure_event : str or None
        The event whose row holds the procedure fields (longitudinal projects).
    events : dict
        Event (unique name or label) -> hours after the procedure of the scores on its rows.
    """

    dictionary: Path | None = None
    procedure_event: str | None = None
    events: dict[str, float] = field(default_factory=dict)


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
    assessment_date_format: str | None = None
    date_formats: dict[str, str] = field(default_factory=dict)
    reading: dict[str, dict[str, Any]] = field(default_factory=dict)
    redcap: RedcapSettings | None = None
    event_columns: dict[str, str] = field(default_factory=dict)
    event_values: dict[str, dict[str, str]] = field(default_factory=dict)
    event_drop: tuple[str, ...] = ()

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
        return cls.from_dict(read_toml(path, "Mapping"), source=path.name, base=path.parent)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "mapping", base: str | Path | None = None) -> Mapping:
        """A Mapping from the nested dictionary of a mapping file; ``base`` is the folder that
        relative paths in it (the REDCap dictionary) are read from (default: the working folder)."""
        # [fhir] and [omop] configure outcomes.sources (SourceSettings); they are read there.
        unknown = set(raw) - {"procedures", "assessments", "events", "wide", "fhir", "omop", "redcap"}
        if unknown:
            raise DefinitionsError(
                f"`{sorted(unknown)[0]}` in {source} must be one of [procedures], [assessments], [events], [wide], "
                "[redcap], [fhir], [omop]; got an unknown section."
            )
        proc = raw.get("procedures", {})
        assess = raw.get("assessments", {})
        events = raw.get("events", {})
        wide = raw.get("wide", {})
        reading: dict[str, dict[str, Any]] = {}
        date_formats: dict[str, str] = {}
        for role, section in (("procedures", proc), ("assessments", assess), ("events", events)):
            extra = set(section) - _SECTION_KEYS[role]
            if extra:
                raise DefinitionsError(
                    f"`{role}.{sorted(extra)[0]}` in {source} must be one of "
                    f"{', '.join(sorted(_SECTION_KEYS[role]))}; got an unknown key.")
            reading[role] = _reading_options(role, section, source)
            for column, fmt in section.get("date_formats", {}).items():
                if column not in _DATE_COLUMNS[role] or not isinstance(fmt, str):
                    raise DefinitionsError(
                        f"`{role}.date_formats.{column}` in {source} must give a strftime format for one of "
                        f"{', '.join(_DATE_COLUMNS[role])}; got {fmt!r}.")
                date_formats[column] = fmt
        if "date_format" in events:  # the events' own dates (event_date), over [procedures] date_format
            date_formats.setdefault("event_date", events["date_format"])
        for role, section, allowed in (("procedures", proc, PROCEDURE_COLUMNS),
                                       ("assessments", assess, ASSESSMENT_COLUMNS), ("events", events, EVENT_COLUMNS)):
            for clinic, canonical in section.get("columns", {}).items():
                if canonical not in allowed:
                    raise DefinitionsError(
                        f"`{role}.columns.{clinic}` in {source} must name a canonical column "
                        f"({', '.join(allowed)}); got {canonical!r}."
                    )
        for column, allowed in (("event", EVENT_CODES), ("severity", SEVERITIES)):
            for label, code in events.get("values", {}).get(column, {}).items():
                if code not in allowed:
                    raise DefinitionsError(
                        f"`events.values.{column}.{label}` in {source} must be one of {', '.join(allowed)}; "
                        f"got {code!r}.")
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
            assessment_date_format=assess.get("date_format"),
            date_formats=date_formats,
            reading=reading,
            redcap=_redcap_settings(raw["redcap"], source, base) if "redcap" in raw else None,
            event_columns=dict(events.get("columns", {})),
            event_values={k: dict(v) for k, v in events.get("values", {}).items()},
            event_drop=tuple(map(str, events.get("drop", ()))),
        )

    def date_format_for(self, column: str) -> str | None:
        """The declared strftime format of a date column (None: detect it)."""
        if column in self.date_formats:
            return self.date_formats[column]
        return self.assessment_date_format if column == "assessed_at" else self.date_format

    def reading_for(self, role: str) -> dict[str, Any]:
        """How to read the ``role`` file: ``sheet``, ``header_row``, ``encoding`` (None: find out)."""
        return {key: self.reading.get(role, {}).get(key) for key in _READING_KEYS}

    def with_reading(self, role: str, **options: Any) -> Mapping:
        """A copy that reads the ``role`` file with these options (None leaves one as it is)."""
        reading = {r: dict(v) for r, v in self.reading.items()}
        given = {k: v for k, v in options.items() if v is not None}
        reading[role] = _reading_options(role, {**reading.get(role, {}), **given}, "the options")
        return dataclasses.replace(self, reading=reading)

    # -- columns -----------------------------------------------------------------------------
    def rename(self, frame: pd.DataFrame, role: str) -> pd.DataFrame:
        """Rename the clinic's columns to canonical names (canonical names match case-insensitively)."""
        explicit = self.columns_for(role)
        canonical = {"procedures": PROCEDURE_COLUMNS, "events": EVENT_COLUMNS}.get(role, ASSESSMENT_COLUMNS)
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
            ("events", "event"): EVENT_SYNONYMS,
            ("events", "severity"): SEVERITY_SYNONYMS,
        }.get((role, column), {})
        own = self._values_for(role).get(column, {})
        return {**builtin, **{normalise_label(k): v for k, v in own.items()}}

    def has_value_map(self, role: str, column: str) -> bool:
        return column in self._values_for(role)

    def _values_for(self, role: str) -> dict[str, dict[str, str]]:
        return {"procedures": self.procedure_values, "events": self.event_values}.get(role, self.assessment_values)

    def columns_for(self, role: str) -> dict[str, str]:
        """The clinic's column names -> canonical names of the ``role`` table ("procedures",
        "assessments" or "events")."""
        return {"procedures": self.procedure_columns, "events": self.event_columns}.get(
            role, self.assessment_columns)

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
        if prefix in FUNCTION_INSTRUMENTS:
            return FUNCTION_INSTRUMENTS[prefix]
        return {"vas": self.wide_vas_instrument, "vas10": "vas10", "vas100": "vas100"}.get(prefix, "nrs")

    def function_instrument(self, label: Any) -> str | None:
        """The function instrument (``odi``, ``rmdq``, ``eq5d_vas``) an instrument label names,
        through the mapping's own ``[assessments.values.instrument]`` labels first; None for a
        pain scale or an unknown label.

        >>> Mapping(assessment_values={"instrument": {"Oswestry (%)": "odi"}}).function_instrument("OSWESTRY (%)")
        'odi'
        >>> Mapping().function_instrument("RDQ"), Mapping().function_instrument("nrs")
        ('rmdq', None)
        """
        if label is None or (isinstance(label, float) and np.isnan(label)) or label is pd.NA:
            return None
        text = normalise_label(label)
        own = {normalise_label(k): v for k, v in self.assessment_values.get("instrument", {}).items()}
        if text in own:
            text = normalise_label(own[text])
        return FUNCTION_INSTRUMENTS.get(text)

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


def _reading_options(role: str, section: dict[str, Any], source: str) -> dict[str, Any]:
    """The sheet, header_row and encoding of a [procedures] / [assessments] section, checked."""
    sheet, header_row, encoding = (section.get(k) for k in _READING_KEYS)
    if sheet is not None and not (isinstance(sheet, str) and sheet.strip()) and not (
            isinstance(sheet, int) and not isinstance(sheet, bool) and sheet >= 1):
        raise DefinitionsError(f"`{role}.sheet` in {source} must be a sheet name or number (1 = first); got {sheet!r}.")
    if header_row is not None and not (isinstance(header_row, int) and not isinstance(header_row, bool)
                                       and header_row >= 1):
        raise DefinitionsError(
            f"`{role}.header_row` in {source} must be a row number (1 = the first row); got {header_row!r}.")
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise DefinitionsError(
                f"`{role}.encoding` in {source} must be a text encoding such as 'utf-8' or 'cp1252'; "
                f"got {encoding!r}.") from None
    return {"sheet": sheet, "header_row": header_row, "encoding": encoding}


def _redcap_settings(section: Any, source: str, base: str | Path | None) -> RedcapSettings:
    if not isinstance(section, dict):
        raise DefinitionsError(f"`redcap` in {source} must be a [redcap] section; got {section!r}.")
    unknown = set(section) - {"dictionary", "procedure_event", "events"}
    if unknown:
        raise DefinitionsError(
            f"`redcap.{sorted(unknown)[0]}` in {source} must be one of dictionary, procedure_event, events; "
            "got an unknown key.")
    events = section.get("events", {})
    hours: dict[str, float] = {}
    for event, value in events.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise DefinitionsError(
                f"`redcap.events.{event}` in {source} must be hours after the procedure (a number); got {value!r}.")
        hours[str(event)] = float(value)
    dictionary = section.get("dictionary")
    if dictionary is not None:
        dictionary = Path(dictionary)
        if not dictionary.is_absolute() and base is not None:
            dictionary = Path(base) / dictionary
    event = section.get("procedure_event")
    return RedcapSettings(dictionary=dictionary, procedure_event=None if event is None else str(event), events=hours)
