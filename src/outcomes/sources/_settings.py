"""Code lists and linking rules for the clinical-standard sources (the mapping file's [fhir] / [omop]).

Codes are written ``"system|code"`` or ``"code"`` (any system). The systems may be given by a
short name: ``cpt``, ``loinc``, ``snomed``, ``icd10`` (ICD-10-CM or WHO ICD-10) and ``ucum``;
each stands for the FHIR system URIs and, in OMOP, for a vocabulary of the ``concept`` table
(CPT4, LOINC, SNOMED, ICD10CM/ICD10). ``omop|<concept_id>`` names an OMOP concept id directly
(matched against ``*_concept_id`` and ``*_source_concept_id``); in OMOP a code also matches the
``*_source_value`` columns (e.g. ``procedure_source_value = '22510'``).

Built-in code lists (a mapping file adds to them, it never removes):

- vertebroplasty: CPT 22510, 22511 (first level), 22512 (each additional level, an add-on);
  the codes in use before 2015, 22520, 22521 and add-on 22522.
- kyphoplasty (vertebral augmentation with cavity creation): CPT 22513, 22514 and add-on 22515;
  before 2015 22523, 22524 and add-on 22525.
- pain: LOINC 72514-3 "Pain severity - 0-10 verbal numeric rating [Score] - Reported".
- pain answers: the LOINC answer list LL2335-9 ("0" to "10"), mapped by position in the list,
  never by display text: LA6111-4, LA6112-2, LA6113-0, LA6114-8, LA6115-5, LA10137-0,
  LA10138-8, LA10139-6, LA10140-4, LA10141-2, LA13942-0 (as listed in the HL7 Belgium
  patient-monitoring value set ``pain-scale``, hl7-be/patient-monitoring
  input/fsh/valuesets/ScalePain.fsh, and in the Italian and PCO implementation guides).
- function scores (``function``: code -> ``odi``, ``rmdq`` or ``eq5d_vas``; the value on the
  instrument's own scale, checked as the assessments table's function scores are):

  * ODI: LOINC 97909-6 "Oswestry disability index score ODI" (LOINC 2.70; a member of the panel
    97908-8 "Oswestry Disability Index"; reported as a percent, 0-100; https://loinc.org/97909-6).
  * EQ-5D VAS: SNOMED CT 736535009 "EuroQol visual analogue score (observable entity)", 0-100,
    as the German Medical Informatics Initiative's PRO guide codes its EQ-5D-5L VAS score
    (https://build.fhir.org/ig/medizininformatik-initiative/kerndatensatzmodul-proms/en/eq-5d-5l-scores.html).
  * RMDQ, and a LOINC code for the EQ VAS: *not built in*. No LOINC (or SNOMED CT) code for a
    Roland-Morris total score or for the EQ VAS could be confirmed against LOINC's own pages,
    and a guessed code would silently read another observation. Add the codes your system uses::

        [fhir.function]                 # or [omop.function]
        "loinc|<code>" = "rmdq"
        "http://my.hospital/codes|EQVAS" = "eq5d_vas"

  * the package's own codes, which :func:`outcomes.sources.fhir.write_fhir` and
    :func:`outcomes.sources.omop.write_omop` use where no standard code is built in:
    ``function-odi``, ``function-rmdq``, ``function-eq5d-vas`` in the system
    ``http://example.org/fhir/CodeSystem/outcomes``.
- fractures (condition code prefixes, ICD-10/ICD-10-CM, dots ignored) and the etiology each
  implies: M80.08, M80.88 osteoporosis with current pathological fracture of a vertebra ->
  osteoporosis; M84.58 pathological fracture in neoplastic disease -> malignancy; S22.0, S32.0
  fracture of a thoracic / lumbar vertebra -> trauma; M48.5 collapsed vertebra NEC, M84.48,
  M84.68 other pathological fracture -> etiology unknown.
- complications (OMOP: a condition of these prefixes recorded in the procedure's visit):
  T81 complications of procedures NEC, T84 complications of internal orthopaedic devices,
  M96 intraoperative and postprocedural musculoskeletal complications.
- adverse events (the events table; FHIR Conditions and OMOP condition_occurrence rows dated
  after a procedure, linked to the patient's latest procedure before them within
  ``follow_up_days``). ``new_fracture_conditions``, a new vertebral fracture when its onset is
  after the procedure's day: M48.5 collapsed vertebra NEC, M80.08 and M80.88 osteoporosis with
  current pathological fracture of a *vertebra* (ICD-10-CM's sixth character 8 is the vertebra;
  other M80 codes are fractures of other bones and are left out), S22.0 fracture of a thoracic
  vertebra, S32.0 fracture of a lumbar vertebra. ``complication_events`` (code prefix -> event
  code, the longest prefix wins; ``"code" = "event:severity"`` also gives the severity): I26
  pulmonary embolism; T81.4 infection following a procedure, M46.2 osteomyelitis of vertebra,
  M46.3 infection of intervertebral disc (pyogenic) -> infection; G95.2 cord compression, G83.4
  cauda equina syndrome, M54.1 radiculopathy -> neurologic_deficit; S22.3 fracture of rib, S22.4
  multiple fractures of ribs -> rib_fracture; T81, T84, M96 (above) -> other. Titles as in the
  ICD-10-CM tabular list (FY2024) and WHO ICD-10 (2019). No severity is built in: SIR grades a
  complication by the care it needed, not by its type, so a condition's severity comes from its
  own ``Condition.severity`` (SNOMED CT 255604002 mild -> minor; 6736007 moderate, 24484000
  severe -> major, as SIR's 2017 grades) or from the mapping file.

SNOMED CT concept ids for percutaneous vertebroplasty and kyphoplasty are *not* built in: the
ids that public code lists give could not be confirmed against a SNOMED CT release (one list's
"kyphoplasty" id is an aortopulmonary reconstruction in another), and a wrong id would silently
count another operation. Add the ids of your SNOMED edition in the mapping file::

    [fhir]
    vertebroplasty = ["snomed|<concept id>"]
    kyphoplasty = ["snomed|<concept id>"]

Pain values with a unit (FHIR ``valueQuantity.code``, else ``.unit``; OMOP
``unit_source_value``) are read on the scale the unit names, UCUM codes as written:

=================  ==================================================================
``mm``, ``/100``   a 0-100 visual analogue scale: instrument ``vas100`` (8 mm is 0.8
                   on the 0-10 scale, never 8)
``cm``             a 0-10 cm visual analogue scale: ``vas10``
``{score}``,       the scale of the code (LOINC 72514-3: a 0-10 numeric rating); the
``/10``, ``1``     same for a value with no unit
=================  ==================================================================

A value with any other unit is left out, naming its unit. ``pain_units`` in the mapping file
(``[fhir.pain_units]``, ``[omop.pain_units]``) adds units::

    [fhir.pain_units]
    "{points}" = ""          # "": the scale of the code
    "{mm}" = "vas100"

Observation status (FHIR): only results with a status in ``observation_statuses`` count:
by default ``final``, ``amended`` and ``corrected`` (an amended or corrected result replaces
the final one, FHIR R4 ObservationStatus). ``preliminary``, ``registered``, ``unknown``,
``cancelled`` and ``entered-in-error`` (and an Observation without a status, which R4
requires) are left out, each with its status named in the row accounting. A clinic whose
system never finalises its questionnaires may accept more::

    [fhir]
    observation_statuses = ["final", "amended", "corrected", "preliminary"]

Procedure fields that have no standard element (ASA class, height restoration, kyphotic angle
change) are read from Observations / measurements with the codes under ``[fhir.fields]``; the
defaults are the package's own codes in the system ``http://example.org/fhir/CodeSystem/outcomes``
that :func:`outcomes.sources.fhir.write_fhir` and :func:`outcomes.sources.omop.write_omop` use.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DefinitionsError

__all__ = ["SourceSettings"]

CPT_SYSTEMS = ("http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12")
LOINC_SYSTEMS = ("http://loinc.org", "urn:oid:2.16.840.1.113883.6.1")
SNOMED_SYSTEMS = ("http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96")
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10",
                 "urn:oid:2.16.840.1.113883.6.90", "urn:oid:2.16.840.1.113883.6.3")
UCUM_SYSTEMS = ("http://unitsofmeasure.org",)
OUTCOMES_SYSTEM = "http://example.org/fhir/CodeSystem/outcomes"

SYSTEM_ALIASES: dict[str, tuple[str, ...]] = {
    "cpt": CPT_SYSTEMS, "cpt4": CPT_SYSTEMS, "loinc": LOINC_SYSTEMS, "snomed": SNOMED_SYSTEMS,
    "sct": SNOMED_SYSTEMS, "icd10": ICD10_SYSTEMS, "icd10cm": ICD10_SYSTEMS, "ucum": UCUM_SYSTEMS,
    "outcomes": (OUTCOMES_SYSTEM,), "omop": ("omop",),
}
# OMOP vocabulary_id of each system (the concept table's naming).
OMOP_VOCABULARY = {
    **dict.fromkeys(CPT_SYSTEMS, "CPT4"), **dict.fromkeys(LOINC_SYSTEMS, "LOINC"),
    **dict.fromkeys(SNOMED_SYSTEMS, "SNOMED"), **dict.fromkeys(ICD10_SYSTEMS[:1] + ICD10_SYSTEMS[2:3], "ICD10CM"),
    ICD10_SYSTEMS[1]: "ICD10", ICD10_SYSTEMS[3]: "ICD10",
}

_VERTEBROPLASTY = ("cpt|22510", "cpt|22511", "cpt|22520", "cpt|22521")
_VERTEBROPLASTY_ADDON = ("cpt|22512", "cpt|22522")
_KYPHOPLASTY = ("cpt|22513", "cpt|22514", "cpt|22523", "cpt|22524")
_KYPHOPLASTY_ADDON = ("cpt|22515", "cpt|22525")
_PAIN = {"loinc|72514-3": "nrs"}
# Function scores (the module docstring gives the titles and sources): code -> instrument.
FUNCTION_CODES = {"odi": "function-odi", "rmdq": "function-rmdq", "eq5d_vas": "function-eq5d-vas"}
_FUNCTION = {
    "loinc|97909-6": "odi",         # Oswestry disability index score ODI (https://loinc.org/97909-6)
    "snomed|736535009": "eq5d_vas",  # EuroQol visual analogue score (observable entity)
    **{f"outcomes|{code}": instrument for instrument, code in FUNCTION_CODES.items()},
}
# LOINC answer list LL2335-9, "Numeric rating scale from 0-10": position in the list = score.
LL2335_9 = ("LA6111-4", "LA6112-2", "LA6113-0", "LA6114-8", "LA6115-5", "LA10137-0",
            "LA10138-8", "LA10139-6", "LA10140-4", "LA10141-2", "LA13942-0")
_PAIN_ANSWERS = {f"loinc|{code}": float(score) for score, code in enumerate(LL2335_9)}
_FRACTURES = {
    "icd10|M80.08": "osteoporosis", "icd10|M80.88": "osteoporosis",
    "icd10|M84.58": "malignancy",
    "icd10|S22.0": "trauma", "icd10|S32.0": "trauma",
    "icd10|M48.5": "", "icd10|M84.48": "", "icd10|M84.68": "",
}
_COMPLICATIONS = ("icd10|T81", "icd10|T84", "icd10|M96")
# Adverse events from conditions (the module docstring gives the titles and sources).
_NEW_FRACTURES = ("icd10|M48.5", "icd10|M80.08", "icd10|M80.88", "icd10|S22.0", "icd10|S32.0")
_COMPLICATION_EVENTS = {
    "icd10|I26": "pulmonary_embolism",
    "icd10|T81.4": "infection", "icd10|M46.2": "infection", "icd10|M46.3": "infection",
    "icd10|G95.2": "neurologic_deficit", "icd10|G83.4": "neurologic_deficit", "icd10|M54.1": "neurologic_deficit",
    "icd10|S22.3": "rib_fracture", "icd10|S22.4": "rib_fracture",
    "icd10|T81": "other", "icd10|T84": "other", "icd10|M96": "other",
}
# SNOMED CT severity qualifiers (Condition.severity) -> the labels the events table reads.
SNOMED_SEVERITY = {"255604002": "mild", "6736007": "moderate", "24484000": "severe"}
FIELD_CODES = {
    "asa_class": "asa-class",
    "height_restoration_pct": "height-restoration-pct",
    "kyphotic_angle_change_deg": "kyphotic-angle-change-deg",
}
_FIELDS = {name: (f"outcomes|{code}",) for name, code in FIELD_CODES.items()}
# FHIR Encounter.class (v3 ActCode) -> discharge; "outpatient" means: same day unless the stay
# lasted 12 hours or more, then overnight (an observation stay is billed as outpatient).
_ENCOUNTER_CLASS = {
    "AMB": "outpatient", "OBSENC": "overnight", "SS": "overnight", "IMP": "admitted",
    "ACUTE": "admitted", "NONAC": "admitted", "EMER": "", "HH": "", "VR": "",
}
# OMOP visit_concept_id -> the same vocabulary (9201 Inpatient Visit, 9202 Outpatient Visit,
# 9203 Emergency Room Visit, 262 Emergency Room and Inpatient Visit).
_VISIT_CONCEPTS = {"9201": "admitted", "262": "admitted", "9202": "outpatient", "9203": ""}
DISCHARGE_CLASSES = ("same_day", "overnight", "admitted", "outpatient", "")
INSTRUMENTS = ("nrs", "vas10", "vas100")
# UCUM unit of a pain value -> the instrument it implies ("" = the scale of the code).
_PAIN_UNITS = {"mm": "vas100", "/100": "vas100", "cm": "vas10", "{score}": "", "/10": "", "1": ""}
# FHIR R4 ObservationStatus: every code, and the ones counted by default.
OBSERVATION_STATUSES = ("registered", "preliminary", "final", "amended", "corrected", "cancelled",
                        "entered-in-error", "unknown")
_ACCEPTED_STATUSES = ("final", "amended", "corrected")

_KEYS = {
    "vertebroplasty", "kyphoplasty", "vertebroplasty_addon", "kyphoplasty_addon", "pain",
    "pain_answers", "fracture_conditions", "complication_conditions", "fields",
    "encounter_class", "visit_concepts", "baseline_window_hours", "follow_up_days",
    "fracture_lookback_days", "merge_same_session", "pain_units", "observation_statuses",
    "new_fracture_conditions", "complication_events", "function",
}


@dataclass(frozen=True)
class Code:
    """One code: ``systems`` empty means any system."""

    code: str
    systems: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.code if not self.systems else f"{self.systems[0]}|{self.code}"


def parse_code(text: Any, *, name: str, source: str) -> Code:
    """``"system|code"``, ``"alias|code"`` or ``"code"`` -> :class:`Code`.

    >>> parse_code("loinc|72514-3", name="pain", source="m.toml").systems[0]
    'http://loinc.org'
    >>> parse_code("22510", name="x", source="m.toml")
    Code(code='22510', systems=())
    """
    if not isinstance(text, (str, int)) or not str(text).strip():
        raise DefinitionsError(f"`{name}` in {source} must be a code such as 'cpt|22510'; got {text!r}.")
    text = str(text).strip()
    if "|" not in text:
        return Code(text)
    system, code = (part.strip() for part in text.rsplit("|", 1))
    if not code:
        raise DefinitionsError(f"`{name}` in {source} must be a code such as 'cpt|22510'; got {text!r}.")
    systems = SYSTEM_ALIASES.get(system.lower(), (system,)) if system else ()
    return Code(code, tuple(systems))


def _codes(values: Any, *, name: str, source: str) -> tuple[Code, ...]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise DefinitionsError(f"`{name}` in {source} must be a list of codes such as ['cpt|22510']; got {values!r}.")
    return tuple(parse_code(v, name=name, source=source) for v in values)


def _number(raw: dict[str, Any], key: str, default: float, *, section: str, source: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise DefinitionsError(f"`{section}.{key}` in {source} must be a non-negative number; got {value!r}.")
    return float(value)


def normalise_icd(code: str) -> str:
    """Upper case without dots or spaces: "m80.08xa" -> "M8008XA"."""
    return re.sub(r"[.\s]", "", str(code)).upper()


@dataclass(frozen=True)
class SourceSettings:
    """How records in a clinical data standard are recognised and linked (see the module docstring).

    Attributes
    ----------
    procedures : dict
        ``"vertebroplasty"`` / ``"kyphoplasty"`` -> codes of a first level; add-on codes (each
        additional level) under ``"vertebroplasty_addon"`` / ``"kyphoplasty_addon"``.
    pain : tuple of (Code, instrument)
        Observation / measurement codes holding a pain score, and its scale.
    pain_answers : tuple of (Code, float)
        Coded answers and the score each stands for.
    fracture_conditions : tuple of (Code, etiology)
        Condition code prefixes of a vertebral fracture; etiology "" when the code does not say.
    complication_conditions : tuple of Code
        Condition code prefixes of a complication of the procedure (OMOP).
    fields : dict
        Canonical procedure field -> codes of the Observations that hold it.
    encounter_class, visit_concepts : dict
        Encounter class code / visit concept id -> same_day, overnight, admitted, outpatient or "".
    baseline_window_hours : float or None
        How long before a procedure a pain score may be its baseline; None takes the
        definitions' ``baseline_window_hours``.
    follow_up_days : float, default 1461
        How long after a procedure a pain score still belongs to it (it ends earlier at the
        patient's next procedure).
    fracture_lookback_days : float, default 730
        How long before a procedure an unlinked fracture diagnosis is taken as its fracture.
    merge_same_session : bool, default True
        Procedures of one patient, one day and one kind are one session: an add-on code or a
        second record adds levels instead of a procedure.
    pain_units : dict
        UCUM unit -> the instrument a pain value in that unit is on (``""``: the code's own
        scale); built in: mm and /100 -> vas100, cm -> vas10, {score}, /10 and 1 -> "".
    observation_statuses : tuple of str
        The FHIR Observation statuses that count; default final, amended, corrected.
    new_fracture_conditions : tuple of Code
        Condition code prefixes of a new vertebral fracture (an event after the procedure).
    complication_events : tuple of (Code, (event, severity))
        Condition code prefixes of a complication -> its event code and severity ("" unknown).
    function : tuple of (Code, instrument)
        Observation / measurement codes holding a function score and its instrument (``odi``,
        ``rmdq``, ``eq5d_vas``); the value is on the instrument's own scale.
    """

    procedures: dict[str, tuple[Code, ...]]
    pain: tuple[tuple[Code, str], ...]
    pain_answers: tuple[tuple[Code, float], ...]
    fracture_conditions: tuple[tuple[Code, str], ...]
    complication_conditions: tuple[Code, ...]
    fields: dict[str, tuple[Code, ...]]
    encounter_class: dict[str, str]
    visit_concepts: dict[str, str]
    baseline_window_hours: float | None = None
    follow_up_days: float = 1461.0
    fracture_lookback_days: float = 730.0
    merge_same_session: bool = True
    pain_units: dict[str, str] = field(default_factory=lambda: dict(_PAIN_UNITS))
    observation_statuses: tuple[str, ...] = _ACCEPTED_STATUSES
    source: str = "defaults"
    extra: dict[str, Any] = field(default_factory=dict)
    new_fracture_conditions: tuple[Code, ...] = ()
    complication_events: tuple[tuple[Code, tuple[str, str]], ...] = ()
    function: tuple[tuple[Code, str], ...] = ()

    @classmethod
    def from_section(cls, raw: dict[str, Any] | None, *, section: str = "fhir", source: str = "mapping") -> SourceSettings:
        """Built-in lists updated with one section ([fhir] or [omop]) of a mapping file.

        >>> s = SourceSettings.from_section({"kyphoplasty": ["snomed|123"]}, section="fhir")
        >>> [c.key for c in s.procedures["kyphoplasty"]][-1]
        'http://snomed.info/sct|123'
        """
        raw = dict(raw or {})
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise DefinitionsError(
                f"`{section}.{unknown[0]}` in {source} must be one of {', '.join(sorted(_KEYS))}; got an unknown key."
            )

        def codes(key: str, builtin: tuple[str, ...]) -> tuple[Code, ...]:
            own = _codes(raw.get(key, []), name=f"{section}.{key}", source=source)
            return tuple(parse_code(c, name=key, source="built-in") for c in builtin) + own

        def table(key: str, builtin: dict[str, Any], check) -> tuple[tuple[Code, Any], ...]:
            own = raw.get(key, {})
            if not isinstance(own, dict):
                raise DefinitionsError(f"`{section}.{key}` in {source} must be a table of code = value; got {own!r}.")
            merged = {**builtin, **own}
            return tuple((parse_code(k, name=f"{section}.{key}", source=source), check(k, v)) for k, v in merged.items())

        def instrument(key: str, value: Any) -> str:
            if value not in INSTRUMENTS:
                raise DefinitionsError(f"`{section}.pain.{key}` in {source} must be one of {', '.join(INSTRUMENTS)}; got {value!r}.")
            return value

        def function_instrument(key: str, value: Any) -> str:
            from ..mapping import FUNCTION_RANGE

            if value not in FUNCTION_RANGE:
                raise DefinitionsError(f"`{section}.function.{key}` in {source} must be one of "
                                       f"{', '.join(FUNCTION_RANGE)}; got {value!r}.")
            return value

        def score(key: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DefinitionsError(f"`{section}.pain_answers.{key}` in {source} must be a number; got {value!r}.")
            return float(value)

        def etiology(key: str, value: Any) -> str:
            if not isinstance(value, str):
                raise DefinitionsError(f"`{section}.fracture_conditions.{key}` in {source} must be an etiology text (\"\" when unknown); got {value!r}.")
            return value.strip().lower()

        def event(key: str, value: Any) -> tuple[str, str]:
            from ..mapping import EVENT_CODES, SEVERITIES

            code, _, severity = str(value).partition(":")
            if not isinstance(value, str) or code not in EVENT_CODES or severity not in ("", *SEVERITIES):
                raise DefinitionsError(
                    f"`{section}.complication_events.{key}` in {source} must be an event code "
                    f"({', '.join(EVENT_CODES)}), optionally with ':major' or ':minor'; got {value!r}.")
            return code, severity

        def discharge(kind: str):
            def check(key: str, value: Any) -> str:
                if value not in DISCHARGE_CLASSES:
                    raise DefinitionsError(
                        f"`{section}.{kind}.{key}` in {source} must be one of "
                        f"{', '.join(repr(v) for v in DISCHARGE_CLASSES)}; got {value!r}.")
                return value
            return check

        pain = raw.get("pain", {})
        if isinstance(pain, list):  # a plain list of codes holds 0-10 scores
            raw["pain"] = dict.fromkeys(pain, "nrs")
        fields_raw = raw.get("fields", {})
        if not isinstance(fields_raw, dict) or set(fields_raw) - set(FIELD_CODES):
            bad = sorted(set(fields_raw) - set(FIELD_CODES)) if isinstance(fields_raw, dict) else fields_raw
            raise DefinitionsError(
                f"`{section}.fields` in {source} must name fields among {', '.join(FIELD_CODES)}; got {bad!r}.")
        fields = {name: codes_ for name, codes_ in (
            (name, tuple(parse_code(c, name=name, source="built-in") for c in _FIELDS[name])
             + _codes(fields_raw.get(name, []), name=f"{section}.fields.{name}", source=source))
            for name in FIELD_CODES)}
        encounter = table("encounter_class", _ENCOUNTER_CLASS, discharge("encounter_class"))
        visits = table("visit_concepts", _VISIT_CONCEPTS, discharge("visit_concepts"))
        merge = raw.get("merge_same_session", True)
        if not isinstance(merge, bool):
            raise DefinitionsError(f"`{section}.merge_same_session` in {source} must be true or false; got {merge!r}.")
        window = raw.get("baseline_window_hours")
        units = raw.get("pain_units", {})
        if not isinstance(units, dict):
            raise DefinitionsError(f"`{section}.pain_units` in {source} must be a table of unit = instrument; got {units!r}.")
        for unit, value in units.items():
            if value not in ("", *INSTRUMENTS):
                raise DefinitionsError(f"`{section}.pain_units.{unit}` in {source} must be one of '', "
                                       f"{', '.join(map(repr, INSTRUMENTS))}; got {value!r}.")
        statuses = raw.get("observation_statuses", list(_ACCEPTED_STATUSES))
        if isinstance(statuses, str) or not isinstance(statuses, (list, tuple)) or not statuses \
                or any(st not in OBSERVATION_STATUSES for st in statuses):
            raise DefinitionsError(f"`{section}.observation_statuses` in {source} must be a list of FHIR "
                                   f"Observation statuses among {', '.join(OBSERVATION_STATUSES)}; got {statuses!r}.")
        return cls(
            procedures={
                "vertebroplasty": codes("vertebroplasty", _VERTEBROPLASTY),
                "kyphoplasty": codes("kyphoplasty", _KYPHOPLASTY),
                "vertebroplasty_addon": codes("vertebroplasty_addon", _VERTEBROPLASTY_ADDON),
                "kyphoplasty_addon": codes("kyphoplasty_addon", _KYPHOPLASTY_ADDON),
            },
            pain=table("pain", _PAIN, instrument),
            pain_answers=table("pain_answers", _PAIN_ANSWERS, score),
            fracture_conditions=table("fracture_conditions", _FRACTURES, etiology),
            complication_conditions=codes("complication_conditions", _COMPLICATIONS),
            fields=fields,
            encounter_class={c.code.upper(): v for c, v in encounter},
            visit_concepts={c.code: v for c, v in visits},
            baseline_window_hours=None if window is None else _number(raw, "baseline_window_hours", 0, section=section, source=source),
            follow_up_days=_number(raw, "follow_up_days", 1461.0, section=section, source=source),
            fracture_lookback_days=_number(raw, "fracture_lookback_days", 730.0, section=section, source=source),
            merge_same_session=merge,
            pain_units={**_PAIN_UNITS, **units},
            observation_statuses=tuple(statuses),
            source=source,
            new_fracture_conditions=codes("new_fracture_conditions", _NEW_FRACTURES),
            complication_events=table("complication_events", _COMPLICATION_EVENTS, event),
            function=table("function", _FUNCTION, function_instrument),
        )

    def condition_events(self, systems: pd.Series, codes: pd.Series) -> pd.DataFrame:
        """The adverse event each condition record stands for: ``event`` (``new_fracture`` or a
        complication code, NA for neither) and ``severity`` ("" unknown), from its codings
        (lists of systems and codes per record); a new fracture code wins, then the longest
        complication prefix.

        >>> s = SourceSettings.from_section(None)
        >>> out = s.condition_events(pd.Series([["http://hl7.org/fhir/sid/icd-10-cm"]] * 3),
        ...                          pd.Series([["S22.060A"], ["T81.40XA"], ["I10"]]))
        >>> out["event"].tolist()
        ['new_fracture', 'infection', <NA>]
        """
        n = len(codes)
        long = pd.DataFrame({
            "pos": np.repeat(np.arange(n), [len(c) if c is not None else 0 for c in codes]),
            "system": [s for ss, cc in zip(systems, codes) if cc is not None
                       for s in (ss if ss is not None else [None] * len(cc))],
            "code": [c for cc in codes if cc is not None for c in cc]})
        event = pd.Series(pd.NA, index=range(n), dtype="object")
        severity = pd.Series("", index=range(n), dtype="object")
        best = np.full(n, -1)
        if not long.empty:
            norm = long["code"].astype("string").map(normalise_icd, na_action="ignore")
            for code, name, grade, rank in self.condition_event_rules():
                icd = not code.systems or set(code.systems) & set(ICD10_SYSTEMS)
                hit = norm.str.startswith(normalise_icd(code.code), na=False) if icd else (long["code"] == code.code)
                if code.systems:
                    hit &= long["system"].isin(code.systems)
                pos = long.loc[hit, "pos"].drop_duplicates().to_numpy()
                pos = pos[best[pos] < rank]
                best[pos] = rank
                event[pos] = name
                severity[pos] = grade
        return pd.DataFrame({"event": pd.array(event.to_numpy(), dtype="string"),
                             "severity": pd.array(severity.to_numpy(), dtype="string")}, index=codes.index)

    def condition_event_rules(self, system: str | None = None) -> list[tuple[Code, str, str, int]]:
        """(code, event, severity, rank) of each condition rule of :meth:`condition_events`: a new
        fracture code ranks above every complication prefix, then the longer prefix; at equal rank
        the earlier rule wins. ``system``: only the rules that can match a code of that system
        (the SQL of ``evaluate_registry(omop=...)`` reads these rows)."""
        rules = [(c, "new_fracture", "", 10_000) for c in self.new_fracture_conditions]
        rules += [(c, name, grade, len(normalise_icd(c.code))) for c, (name, grade) in self.complication_events]
        return [r for r in rules if system is None or not r[0].systems or system in r[0].systems]

    # -- code tables for joins ----------------------------------------------------------------
    def procedure_code_rows(self) -> list[tuple[str | None, str, str, bool]]:
        """(system or None, code, procedure, is_addon) for every procedure code."""
        rows = []
        for key, codes in self.procedures.items():
            kind, addon = key.removesuffix("_addon"), key.endswith("_addon")
            for c in codes:
                for system in c.systems or (None,):
                    rows.append((system, c.code, kind, addon))
        return rows

    def pain_scale(self, instrument: pd.Series, unit: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(instrument, known) for pain values of the code's ``instrument`` in ``unit``.

        A missing unit keeps the code's instrument; a unit not in ``pain_units`` is not known.

        >>> s = SourceSettings.from_section(None)
        >>> inst, ok = s.pain_scale(pd.Series(["nrs"] * 3), pd.Series(["mm", "{score}", "kg"]))
        >>> inst.tolist(), ok.tolist()
        (['vas100', 'nrs', 'nrs'], [True, True, False])
        """
        unit = unit.astype("string").str.strip()
        implied = unit.map(self.pain_units, na_action="ignore").astype("string")
        known = unit.isna() | implied.notna()
        out = instrument.astype("string").mask(implied.notna() & (implied != ""), implied)
        return out, known.astype(bool)

    @staticmethod
    def code_rows(pairs) -> list[tuple[str | None, str, Any]]:
        rows = []
        for c, value in pairs:
            for system in c.systems or (None,):
                rows.append((system, c.code, value))
        return rows


def split_written_scores(assessments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pain rows, function rows) of a canonical assessments table, for the writers.

    Labels are read as :meth:`outcomes.mapping.Mapping.function_instrument` reads them; the
    function rows gain ``_function`` (``odi``, ``rmdq``, ``eq5d_vas``) and ``_score`` (the
    ``score`` column, else ``pain``).

    >>> rows = pd.DataFrame({"pain": [3, None], "instrument": ["nrs", "Oswestry"], "score": [3, 40]})
    >>> pain, function = split_written_scores(rows)
    >>> len(pain), function["_function"].tolist(), function["_score"].tolist()
    (1, ['odi'], [40.0])
    """
    from ..mapping import Mapping

    if "instrument" not in assessments:
        return assessments, assessments.iloc[:0].assign(_function=pd.Series(dtype=object), _score=pd.Series(dtype=float))
    mapping = Mapping()
    labels = assessments["instrument"]
    kinds = {v: mapping.function_instrument(v) for v in labels.dropna().unique()}
    kind = labels.map(kinds)
    is_function = kind.notna().to_numpy()
    value = assessments["score"] if "score" in assessments else assessments["pain"]
    if "score" in assessments and "pain" in assessments:
        value = value.where(value.notna(), assessments["pain"])
    function = assessments[is_function].assign(_function=kind[is_function].astype(object),
                                               _score=pd.to_numeric(value[is_function], errors="coerce").astype(float))
    return assessments[~is_function], function


def resolve_mapping(mapping: Any, section: str) -> tuple[Any, SourceSettings]:
    """(canonical :class:`~outcomes.mapping.Mapping`, :class:`SourceSettings`) from ``mapping``.

    ``mapping`` is None, a path to a TOML mapping file, its parsed dict, a ``Mapping`` (canonical
    sections only) or a ``SourceSettings``.
    """
    from pathlib import Path

    from .._toml import read_toml
    from ..mapping import Mapping

    if mapping is None:
        return Mapping(), SourceSettings.from_section(None, section=section)
    if isinstance(mapping, Mapping):
        return mapping, SourceSettings.from_section(None, section=section)
    if isinstance(mapping, SourceSettings):
        return Mapping(), mapping
    if isinstance(mapping, dict):
        raw, source = mapping, "mapping"
    elif isinstance(mapping, (str, Path)) or hasattr(mapping, "__fspath__"):
        path = Path(mapping)
        raw, source = read_toml(path, "Mapping"), path.name
    else:
        raise DefinitionsError(
            f"`mapping` must be a path to a TOML file, a dict, a Mapping or a SourceSettings; got {type(mapping).__name__}.")
    return Mapping.from_dict(raw, source=source), SourceSettings.from_section(raw.get(section), section=section, source=source)
