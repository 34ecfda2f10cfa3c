"""REDCap records exports: split into the canonical procedures and assessments tables.

A REDCap project exports one CSV row per record and event (longitudinal projects, column
``redcap_event_name``) and per instance of a repeating instrument (``redcap_repeat_instrument``,
``redcap_repeat_instance``). "Raw" exports hold field names and coded values; "labels" exports
hold the field labels as headers ("Record ID", "Event Name", "Repeat Instrument", ...) and the
choice labels as values. The ``[redcap]`` section of the mapping file says how to read one::

    [redcap]
    dictionary = "DataDictionary.csv"      # optional: decodes raw coded fields and label headers
    procedure_event = "procedure_arm_1"    # the event whose row holds the procedure fields
    [redcap.events]                        # event -> hours after the procedure of its pain score
    "baseline_arm_1" = 0
    "48h_arm_1" = 48
    "4wk_arm_1" = 672

    [procedures.columns]                   # REDCap field names -> canonical columns, as usual
    "proc_type" = "procedure"
    "proc_date" = "procedure_date"
    [assessments.columns]
    "nrs_pain" = "pain"
    "diary_pain" = "pain"                  # several fields may hold the score (one per row)
    "diary_hours" = "hours_after"          # a repeating instrument's own time, over the event's

Rules:

- the record id (the export's first column) is the procedure id and the patient id unless
  fields are mapped to them: one procedure per record;
- the procedure fields come from the ``procedure_event`` row (in a project without events, from
  the record's row that is not a repeating instrument); a blank one is filled from the record's
  other non-repeating rows (say a fracture date asked at baseline);
- every row with a pain score is an assessment: its time is its own ``hours_after`` or
  ``assessed_at`` field when mapped and filled, else the hours of its event; a score whose event
  has no hours in ``[redcap.events]`` is excluded with that reason;
- with a data dictionary, the coded values of radio, dropdown, yes/no and true/false fields
  are replaced by their labels ("Choices, Calculations, OR Slider Labels": ``1, Vertebroplasty |
  2, Kyphoplasty``), which then go through the usual synonyms and the mapping's
  ``[procedures.values]``; a checkbox field (``field___1``, ``field___2``, ... raw, or "Label
  (choice=...)" columns in labels exports) becomes one column ``field`` listing the checked
  choices ("none" when no box is checked). Event names are matched by unique name
  (``48h_arm_1``) or label (``48h``, or "48h (Arm 1: Arm 1)"), ignoring case and punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cohort import EXCLUSION_COLUMNS
from .exceptions import InputError
from .mapping import PROCEDURE_COLUMNS, Mapping

__all__ = ["RedcapDictionary", "RedcapExport", "parse_choices", "read_dictionary", "split_export"]

RECORD, EVENT, INSTRUMENT, INSTANCE = ("record_id", "redcap_event_name", "redcap_repeat_instrument",
                                       "redcap_repeat_instance")
# The headers of a labels export for REDCap's own columns.
_LABEL_HEADERS = {"event name": EVENT, "repeat instrument": INSTRUMENT, "repeat instance": INSTANCE,
                  "data access group": "redcap_data_access_group", "survey identifier": "redcap_survey_identifier"}
_CODED_TYPES = ("radio", "dropdown", "yesno", "truefalse")
_CHECKED = {"1", "checked"}
_DICTIONARY_COLUMNS = {
    "variable_field_name": "field", "field_name": "field", "form_name": "form", "field_type": "type",
    "field_label": "label", "choices_calculations_or_slider_labels": "choices",
    "select_choices_or_calculations": "choices",
}


@dataclass(frozen=True)
class RedcapExport:
    """A REDCap export split into the canonical tables (still raw values, with ``_row``).

    Attributes
    ----------
    procedures, assessments : pandas.DataFrame
        Renamed to canonical columns; rows keep the export's row numbers in ``_row``.
    set_aside : pandas.DataFrame
        Pain scores that could not be timed (their event has no hours), as exclusion-log rows.
    """

    procedures: pd.DataFrame
    assessments: pd.DataFrame
    set_aside: pd.DataFrame


def _key(text: Any) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


def _event_keys(value: str) -> list[str]:
    """Normalised forms an event value may be known by: as it is, and for a label such as
    "48h (Arm 1: Arm 1)" the unique name REDCap makes of it ("48h_arm_1") and the bare label."""
    keys = [_key(value)]
    match = re.match(r"^(.*?)\s*\(arm\s*(\d+)\s*:.*\)\s*$", value, flags=re.IGNORECASE)
    if match:
        keys += [_key(f"{match[1]}_arm_{match[2]}"), _key(match[1])]
    else:
        keys.append(_key(f"{value}_arm_1"))
    return keys


def _event_lookup(settings: dict[str, Any]) -> Any:
    """A function giving the setting of an event value (or None): keys are unique names or labels."""
    table: dict[str, Any] = {}
    for name, value in settings.items():
        for key in _event_keys(str(name)):
            table.setdefault(key, value)
        stripped = re.sub(r"_arm_\d+$", "", str(name))
        table.setdefault(_key(stripped), value)

    def find(event: Any) -> Any:
        if event is None or (isinstance(event, float) and np.isnan(event)) or event is pd.NA:
            return None
        for key in _event_keys(str(event)):
            if key in table:
                return table[key]
        return None
    return find


def parse_choices(text: Any) -> dict[str, str]:
    """REDCap's choices "1, Vertebroplasty | 2, Kyphoplasty" as {code: label}.

    Examples
    --------
    >>> parse_choices("1, Vertebroplasty | 2, Kyphoplasty")
    {'1': 'Vertebroplasty', '2': 'Kyphoplasty'}
    """
    out: dict[str, str] = {}
    if not isinstance(text, str):
        return out
    for part in text.split("|"):
        code, sep, label = part.partition(",")
        if sep and code.strip():
            out[code.strip()] = label.strip()
    return out


@dataclass(frozen=True)
class RedcapDictionary:
    """A REDCap data dictionary: field names in order, their types, labels and choices."""

    fields: tuple[str, ...]
    types: dict[str, str]
    labels: dict[str, str]
    choices: dict[str, dict[str, str]]


def read_dictionary(path: Any, *, notes: list[str] | None = None) -> RedcapDictionary:
    """Read a REDCap data dictionary (the CSV REDCap downloads, or the API's column names)."""
    from .loading import read_table

    frame, name, _ = read_table(path, "dictionary", header_row=1, notes=notes)
    frame = frame.rename(columns=lambda c: _DICTIONARY_COLUMNS.get(re.sub(r"[^0-9a-z]+", "_", str(c).lower()).strip("_"), c))
    if "field" not in frame or "type" not in frame:
        raise InputError(f"REDCap data dictionary {name} must have the columns 'Variable / Field Name' and "
                         f"'Field Type'; found {', '.join(map(repr, [c for c in frame.columns if c != '_row'][:8]))}.")
    fields = frame["field"].astype("string").str.strip()
    types = frame["type"].astype("string").str.strip().str.lower()
    labels = frame["label"].astype("string").str.strip() if "label" in frame else pd.Series(pd.NA, index=frame.index)
    choices = frame["choices"] if "choices" in frame else pd.Series(None, index=frame.index)
    out_types, out_labels, out_choices = {}, {}, {}
    for field, kind, label, choice in zip(fields, types, labels, choices):
        if pd.isna(field):
            continue
        out_types[field] = str(kind)
        if not pd.isna(label):
            out_labels[field] = re.sub(r"<[^>]+>", "", str(label)).strip()
        if kind == "yesno":
            out_choices[field] = {"1": "Yes", "0": "No"}
        elif kind == "truefalse":
            out_choices[field] = {"1": "True", "0": "False"}
        elif kind in ("radio", "dropdown", "checkbox"):
            out_choices[field] = parse_choices(choice)
    return RedcapDictionary(tuple(f for f in fields if not pd.isna(f)), out_types, out_labels, out_choices)


def _checkbox_code(code: str) -> str:
    """The suffix REDCap gives a checkbox choice's column (``field___<code>``)."""
    return re.sub(r"[^0-9a-z_]", "_", code.lower())


def _field_names(columns: list[str], dictionary: RedcapDictionary | None) -> tuple[list[str], bool]:
    """Headers as field names, and whether the export is a labels export."""
    raw = any(c in (EVENT, INSTRUMENT, RECORD) for c in columns) or (
        dictionary is not None and columns and columns[0] in dictionary.types)
    if raw:
        return columns, False
    by_label: dict[str, list[str]] = {}
    if dictionary is not None:
        for field, label in dictionary.labels.items():
            by_label.setdefault(label.lower(), []).append(field)
    out = []
    for position, column in enumerate(columns):
        text = str(column).strip()
        fixed = _LABEL_HEADERS.get(text.lower())
        checkbox = re.match(r"^(.*)\s+\(choice=(.*)\)$", text)
        record_label = dictionary.labels.get(dictionary.fields[0]) if dictionary is not None and dictionary.fields else None
        if position == 0 or (record_label is not None and text.lower() == record_label.lower()) or \
                text.lower() == "record id":
            out.append(dictionary.fields[0] if dictionary is not None and dictionary.fields else RECORD)
        elif fixed:
            out.append(fixed)
        elif checkbox and len(by_label.get(checkbox[1].strip().lower(), [])) == 1:
            field = by_label[checkbox[1].strip().lower()][0]
            codes = {label.lower(): code for code, label in dictionary.choices.get(field, {}).items()}
            code = codes.get(checkbox[2].strip().lower())
            out.append(f"{field}___{_checkbox_code(code)}" if code is not None else text)
        elif len(by_label.get(text.lower(), [])) == 1:
            out.append(by_label[text.lower()][0])
        else:
            out.append(text)
    return out, True


def _text(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _decode(frame: pd.DataFrame, dictionary: RedcapDictionary, labels_export: bool, notes: list[str],
            source: str) -> pd.DataFrame:
    """Coded values to labels; checkbox columns to one column listing the checked choices."""
    decoded = []
    for field, kind in dictionary.types.items():
        if kind in _CODED_TYPES and field in frame and not labels_export:
            codes = dictionary.choices.get(field, {})
            text = _text(frame[field])
            frame[field] = text.map(lambda v: codes.get(v, v), na_action="ignore")
            decoded.append(field)
        elif kind == "checkbox":
            choices = dictionary.choices.get(field, {})
            columns = {code: f"{field}___{_checkbox_code(code)}" for code in choices}
            columns = {code: col for code, col in columns.items() if col in frame}
            if not columns:
                continue
            listed = pd.Series("", index=frame.index, dtype="string")
            answered = pd.Series(False, index=frame.index)
            for code, column in columns.items():
                value = _text(frame[column]).str.lower()
                checked = value.isin(list(_CHECKED)).fillna(False).astype(bool)
                answered |= value.notna()
                label = choices[code]
                listed = listed.where(~checked, listed.where(listed == "", listed + "; ") + label)
            frame = frame.drop(columns=list(columns.values()))
            frame[field] = listed.where(listed != "", "none").where(answered, pd.NA)
            decoded.append(field)
    if decoded:
        shown = ", ".join(decoded[:8]) + (f" and {len(decoded) - 8} more" if len(decoded) > 8 else "")
        notes.append(f"{source}: REDCap coded fields decoded with the data dictionary: {shown}")
    return frame


def _coalesced(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns that share a canonical name after renaming, merged: the first filled value."""
    names = pd.Index(frame.columns)
    if not names.has_duplicates:
        return frame
    out = {}
    for name in dict.fromkeys(names):
        part = frame.loc[:, names == name]
        if part.shape[1] == 1:
            out[name] = part.iloc[:, 0]
        else:
            text = part.apply(_text)
            merged = text.iloc[:, 0]
            for i in range(1, text.shape[1]):
                merged = merged.fillna(text.iloc[:, i])
            out[name] = merged
    return pd.DataFrame(out, index=frame.index)


def split_export(raw: pd.DataFrame, mapping: Mapping, *, source: str, notes: list[str]) -> RedcapExport:
    """Split a REDCap records export (from :func:`outcomes.loading.read_table`) into the
    canonical procedures and assessments tables, following ``mapping.redcap``."""
    settings = mapping.redcap
    dictionary = read_dictionary(settings.dictionary, notes=notes) if settings.dictionary is not None else None
    columns = [c for c in raw.columns if c != "_row"]
    names, labels_export = _field_names(columns, dictionary)
    frame = raw.rename(columns=dict(zip(columns, names)))
    frame = frame.loc[:, ~pd.Index(frame.columns).duplicated()]
    # the record id: the dictionary's first field, else record_id, else the first column (REDCap's order)
    first_field = dictionary.fields[0] if dictionary is not None and dictionary.fields else None
    record = next((c for c in (first_field, RECORD) if c is not None and c in frame.columns),
                  names[0] if names else RECORD)
    if dictionary is not None:
        frame = _decode(frame, dictionary, labels_export, notes, source)
    if record not in frame.columns:
        raise InputError(f"{source} (a REDCap export) must have its record id column ({record!r}) first; got "
                         f"{', '.join(map(repr, names[:4]))} ... .")
    ids = _text(frame[record])
    frame = frame.loc[ids.notna()].copy()
    ids = ids.loc[frame.index]
    repeating = _text(frame[INSTRUMENT]).notna() if INSTRUMENT in frame else pd.Series(False, index=frame.index)
    has_events = EVENT in frame
    if has_events:
        if settings.procedure_event is None:
            seen = ", ".join(map(repr, _text(frame[EVENT]).dropna().unique()[:8]))
            raise InputError(f"`redcap.procedure_event` in {mapping.source} must name the event whose row holds the "
                             f"procedure fields; got nothing (events in {source}: {seen}).")
        is_procedure = _event_lookup({settings.procedure_event: True})
        at_procedure = frame[EVENT].map(lambda e: bool(is_procedure(e))) & ~repeating
        if not at_procedure.any():
            seen = ", ".join(map(repr, _text(frame[EVENT]).dropna().unique()[:8]))
            raise InputError(f"`redcap.procedure_event` in {mapping.source} must be an event of {source} ({seen}); "
                             f"got {settings.procedure_event!r}.")
    else:
        at_procedure = ~repeating

    # procedures: the procedure event's row, blanks filled from the record's other plain rows
    proc_view = mapping.rename(frame, "procedures")
    proc_view = _coalesced(proc_view)
    proc = proc_view.loc[at_procedure].copy()
    plain = proc_view.loc[~repeating & ~at_procedure]
    fill_columns = [c for c in proc.columns if c not in ("_row", record, EVENT, INSTRUMENT, INSTANCE)]
    if len(plain) and fill_columns:
        firsts = plain[fill_columns].apply(_text).groupby(ids.loc[plain.index].to_numpy()).first()
        for column in fill_columns:
            spread = ids.loc[proc.index].map(firsts[column])
            proc[column] = _text(proc[column]).fillna(spread)
    if "procedure_id" not in proc or _text(proc["procedure_id"]).isna().all():
        proc["procedure_id"] = ids.loc[proc.index]
    if "patient_id" not in proc or _text(proc["patient_id"]).isna().all():
        proc["patient_id"] = ids.loc[proc.index]
    procedure_of = pd.Series(_text(proc["procedure_id"]).to_numpy(), index=ids.loc[proc.index].to_numpy())
    procedure_of = procedure_of[~procedure_of.index.duplicated()]

    # assessments: every row with a pain score
    ass_view = _coalesced(mapping.rename(frame, "assessments"))
    if "pain" not in ass_view:
        raise InputError(f"{source} (a REDCap export) must have a pain field; map it in the mapping file "
                         "([assessments.columns] \"your_field\" = \"pain\").")
    scored = _text(ass_view["pain"]).notna()
    ass = ass_view.loc[scored].copy()
    pain_field = next((c for c in names if mapping.assessment_columns.get(c) == "pain" or c == "pain"), "pain")
    ass["_column"] = pain_field
    record_of = ids.loc[ass.index]
    ass["procedure_id"] = record_of.map(procedure_of).fillna(record_of)
    own_time = pd.Series(False, index=ass.index)
    for column in ("hours_after", "assessed_at"):
        if column in ass:
            own_time |= _text(ass[column]).notna()
    event_hours = _event_lookup(settings.events)
    hours = (ass[EVENT].map(event_hours) if has_events else pd.Series(None, index=ass.index)).astype(float)
    timed = own_time | hours.notna()
    if "hours_after" in ass:
        ass["hours_after"] = _text(ass["hours_after"]).fillna(hours.map(lambda h: None if np.isnan(h) else f"{h:g}"))
    elif "assessed_at" not in ass or not own_time.any():
        ass["hours_after"] = hours
    else:
        ass["hours_after"] = hours.where(~own_time)
    untimed = ass.loc[~timed]
    if len(untimed):
        event = untimed[EVENT].astype("string") if has_events else pd.Series(pd.NA, index=untimed.index, dtype="string")
        reason = np.where(event.notna(), "its REDCap event has no hours in [redcap.events]",
                          "no time: the row has no event and no mapped hours_after or assessed_at field")
        set_aside = pd.DataFrame({
            "table": "assessments", "source": f"{source} (pain scores)", "row": untimed["_row"].to_numpy(),
            "column": EVENT if has_events else pain_field,
            "value": (event if has_events else _text(untimed["pain"])).to_numpy(),
            "reason": reason, "procedure_id": _text(untimed["procedure_id"]).to_numpy(),
        })[EXCLUSION_COLUMNS]
    else:
        set_aside = pd.DataFrame(columns=EXCLUSION_COLUMNS)
    ass = ass.loc[timed]
    keep = [c for c in ("_row", "_column", "procedure_id", "hours_after", "assessed_at", "pain", "instrument")
            if c in ass]
    ass = ass[keep].reset_index(drop=True)
    proc = proc[["_row", *[c for c in PROCEDURE_COLUMNS if c in proc]]].reset_index(drop=True)

    kind = "labels" if labels_export else "raw"
    shape = ("longitudinal, " if has_events else "") + ("with repeating instruments" if repeating.any() else
                                                        "no repeating instruments")
    neither = int((~at_procedure & ~scored).sum())
    notes.append(f"{source}: REDCap records export ({kind}, {shape}): {len(proc)} records' procedure fields"
                 + (f" from event {settings.procedure_event!r}" if has_events else "")
                 + f", {int(scored.sum())} rows with a pain score, {neither} rows with neither")
    return RedcapExport(procedures=proc, assessments=ass, set_aside=set_aside)
