"""Value rules: text values that hold one of the Safe Harbor identifiers.

Every pattern is RE2 syntax and runs on RE2 (through :func:`pyarrow.compute.match_substring_regex`
for a whole column at once, and the ``re2`` module for the few values that need a closer look):
RE2 takes time linear in the text, so no cell can make a rule hang. Telephone numbers are checked
by the ``phonenumbers`` library (Google's libphonenumber metadata).
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import re2

#: Regions whose national formats (with a trunk "0") are tried for a number written without "+".
#: A number written with "+" or "00" and its country code is recognised for any region.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "AU", "IN", "JP", "CA", "IE", "NZ", "NL", "BE", "CH", "AT", "IT",
                 "ES", "PT", "SE", "NO", "DK", "FI", "PL", "CZ", "IL", "ZA", "BR", "MX", "AR", "CN", "KR",
                 "SG", "HK", "TR", "GR", "HU", "RO")
MAX_CHECKS_PER_VALUE = 10_000  # phonenumbers calls per cell; the RE2 scan itself has no limit

_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|"
           "NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY")
_MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?"
_TLD = "(?:com|org|net|edu|gov|mil|info|biz|io|uk|de|fr|au|jp|ca|nl|ch|es|se|dk|fi|ie|nz)"
_AT = r"(?:\s*[\(\[\{<]\s*at\s*[\)\]\}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*[\(\[\{<]\s*dot\s*[\)\]\}>]\s*|\s+dot\s+)"
_PHONE_RUN = r"(?:\+|\(|\b)\d(?:[ ().\-/]{0,3}\d){6,20}\b"
_PHONE_CONTEXT = r"(?i:\b(?:tel|tele|phone|ph|call|called|mobile|mob|cell|fax|ring|contact|whatsapp|handy|telefon|" \
                 r"t[ée]l[ée]phone|portable|rufnummer)\b)"


@dataclass(frozen=True, slots=True)
class ValueRule:
    """One value rule: RE2 ``pattern``; ``verify(value, column)`` confirms a match when set."""

    category: str
    what: str
    pattern: str
    verify: Callable[[str, str], bool] | None = None
    skip_code_columns: bool = False


# ---- verifiers -----------------------------------------------------------------------------

_SSN_FORMS = re2.compile(r"\b(\d{3})([-. ]?)(\d{2})([-. ]?)(\d{4})\b")


def _valid_ssn(value: str, column: str) -> bool:
    """A match is an SSN only if its parts could be issued (SSA: no area 000, 666 or 9xx, no group
    00, no serial 0000) and its two separators agree."""
    for m in _SSN_FORMS.finditer(value):
        area, sep1, group, sep2, serial = m.groups()
        if sep1 != sep2:
            continue
        if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
            continue
        if sep1 == "" and not _SSN_CONTEXT.search(value[max(0, m.start() - 40): m.start()]):
            continue
        return True
    return False


_SSN_CONTEXT = re2.compile(r"(?i)(?:ssn|social security|soc\.? ?sec|ss ?#|ss ?no)")
_PHONE_RUNS = re2.compile(_PHONE_RUN)
_PHONE_CONTEXT_RE = re2.compile(_PHONE_CONTEXT)
_DATE_OR_TIME = re2.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{4}[-/.]\d{1,2}|"
                            r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))$")
_NANP = re2.compile(r"^(?:\+?1[ .\-]?)?\(?\d{3}\)?[ .\-]?\d{3}[ .\-]\d{4}$")
_INDIA = re2.compile(r"^[6-9]\d{4}[ \-]?\d{5}$")


def _is_phone(candidate: str, context: str) -> bool:
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if not 7 <= len(digits) <= 15:
        return False
    try:
        if candidate.startswith(("+", "00")):
            number = phonenumbers.parse("+" + candidate.lstrip("+")[2 if candidate.startswith("00") else 0:], None)
            return phonenumbers.is_possible_number(number)
        if _NANP.match(candidate) or _INDIA.match(candidate):
            return True
        if digits == candidate and _PHONE_CONTEXT_RE.search(context):
            return True
        if candidate.lstrip("(").startswith("0") and digits != candidate:
            for region in PHONE_REGIONS:
                if phonenumbers.is_valid_number(phonenumbers.parse(candidate, region)):
                    return True
    except phonenumbers.NumberParseException:
        return False
    return False


def _has_phone(value: str, column: str) -> bool:
    checks = 0
    for m in _PHONE_RUNS.finditer(value):
        # dates at either end of a run ("2022-01-03 555-123-4567") are not part of a number
        parts = m.group(0).split(" ")
        while parts and _DATE_OR_TIME.match(parts[0]):
            parts.pop(0)
        while parts and _DATE_OR_TIME.match(parts[-1]):
            parts.pop()
        candidate = " ".join(parts).strip(" -./")
        if not candidate:
            continue
        checks += 1
        if checks > MAX_CHECKS_PER_VALUE:
            return False
        if _is_phone(candidate, value[max(0, m.start() - 24): m.start()]):
            return True
    return False


# ---- the rules -----------------------------------------------------------------------------

VALUE_RULES: tuple[ValueRule, ...] = (
    ValueRule("G", "social security numbers",
              r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|\b\d{3}\.\d{2}\.\d{4}\b|"
              r"(?i:ssn|social security|soc\.? ?sec|ss ?#|ss ?no)\D{0,20}\b\d{9}\b", _valid_ssn),
    ValueRule("F", "e-mail addresses",
              r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+|"
              rf"(?i)\b[a-z0-9._%+\-]+{_AT}[a-z0-9\-]+(?:(?:\.|{_DOT})[a-z0-9\-]+)*(?:\.|{_DOT}){_TLD}\b"),
    ValueRule("N", "web URLs", r"(?i)\b(?:https?|ftp)://[^\s]+|\bwww\.[a-z0-9\-]+\.[a-z]{2,}"),
    ValueRule("O", "IP addresses",
              r"(?:^|[^\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:$|[^\w.])|"
              r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|(?i)\b(?:[0-9a-f]{1,4}:){2,6}:[0-9a-f]{0,4}"),
    ValueRule("C", "dates of birth",
              r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on)?|geb\.?|geboren(?: am)?|n[ée]e? le)"
              r"\s*[:#\-]?\s*(?:\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}|\d{1,2}\.? " + _MONTH + r",? \d{2,4}|"
              + _MONTH + r" \d{1,2}(?:st|nd|rd|th)?,? \d{2,4})"),
    ValueRule("B", "ZIP codes", r"\b\d{5}-\d{4}\b|\b[A-Za-z][A-Za-z .'\-]{0,30}, (?:" + _STATES + r") \d{5}\b",
              skip_code_columns=True),
    ValueRule("B", "street addresses",
              r"\b\d{1,6}[a-zA-Z]? (?:[A-Z][a-z]+ ){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|"
              r"Drive|Dr|Court|Ct|Place|Pl|Terrace|Parkway|Pkwy|Way|Circle|Cir|Highway|Hwy|Square|Sq)\b|"
              r"(?i)\b[a-zäöüß\-]{2,}(?:straße|strasse|str\.|weg|gasse|allee|platz) ?\d{1,4}[a-z]?\b|"
              r"(?i)\b\d{1,4},? (?:rue|avenue|boulevard|chemin|allée|impasse|via|calle|avenida) [a-z]"),
    ValueRule("D", "telephone numbers", _PHONE_RUN, _has_phone, skip_code_columns=True),
)


# ---- a person's name in a bare "name" column ------------------------------------------------

_PERSON_NAME = r"^\s*[A-Z][a-z'’\-]+(?:,? (?:[A-Z][a-z'’\-]*\.?|[A-Z]\.))*\s*$"
_NOT_A_PERSON = frozenset("""
kyphoplasty vertebroplasty balloon percutaneous augmentation sacroplasty vertebral cement fracture procedure
spine spinal lumbar thoracic cervical osteoporotic osteoporosis tumour tumor trauma metastasis myeloma none
unknown other yes no male female clinic hospital site centre center department pvp bkp kp vp
""".split())


def looks_like_person_names(values: Sequence[str] | pa.Array) -> np.ndarray:
    """Mask of values shaped like a person's name ("Ann Lee", "Lee, Ann", "Smith") and not a
    clinical term (so a ``name`` column holding "kyphoplasty" or "Balloon Kyphoplasty" passes)."""
    arr = _as_array(values)
    shaped = pc.match_substring_regex(arr, _PERSON_NAME).to_numpy(zero_copy_only=False)
    out = np.zeros(len(arr), dtype=bool)
    for k in np.flatnonzero(shaped):
        words = {w.strip(",.").lower() for w in str(arr[int(k)].as_py()).split()}
        out[k] = not (words & _NOT_A_PERSON)
    return out


# ---- scanning ------------------------------------------------------------------------------

@functools.cache
def _digit_table() -> dict[int, str]:
    return {cp: str(unicodedata.digit(chr(cp))) for cp in range(0x80, sys.maxunicode + 1)
            if unicodedata.category(chr(cp)) == "Nd"}


def normalise_value(text: str) -> str:
    """NFKC (full-width characters become ASCII), format characters (zero-width spaces) removed,
    every decimal digit written as an ASCII digit."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.translate(_digit_table())


def _as_array(values: Sequence[str] | pa.Array) -> pa.Array:
    arr = values if isinstance(values, pa.Array) else pa.array(list(values), pa.large_string())
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    ascii_ = pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False)
    if ascii_.all():
        return arr
    items = arr.to_pylist()
    for k in np.flatnonzero(~ascii_):
        items[k] = normalise_value(items[k])
    return pa.array(items, pa.large_string())


#: One RE2 pattern that every value some rule finds matches (a prefilter, e.g. in SQL).
GATE = "|".join(f"(?:{rule.pattern})" for rule in VALUE_RULES)


def scan_values(values: Sequence[str] | pa.Array, *, column: str = "", code_column: bool = False,
                limit: int | None = None) -> list[tuple[ValueRule, np.ndarray]]:
    """Which values each value rule finds: ``[(rule, mask), ...]`` for the rules that found any.

    ``values`` are distinct text values (in the order they first occur, when ``limit`` is used);
    ``limit`` stops a rule after that many confirmed values (the first rows are all a message
    needs). ``code_column`` skips the telephone and ZIP rules (a lot or catalogue number column).

    Examples
    --------
    >>> [(r.category, m.tolist()) for r, m in scan_values(["fine", "call +44 20 7946 0958"])]
    [('D', [False, True])]
    """
    arr = _as_array(values)
    found: list[tuple[ValueRule, np.ndarray]] = []
    if len(arr) == 0:
        return found
    gate = pc.fill_null(pc.match_substring_regex(arr, GATE), False).to_numpy(zero_copy_only=False)
    where = np.flatnonzero(gate)
    if not len(where):
        return found
    sub = arr.take(pa.array(where))
    for rule in VALUE_RULES:
        if rule.skip_code_columns and code_column:
            continue
        hit = pc.fill_null(pc.match_substring_regex(sub, rule.pattern), False).to_numpy(zero_copy_only=False)
        positions = where[hit]
        if rule.verify is not None and len(positions):
            confirmed = []
            for k in positions:
                if rule.verify(arr[int(k)].as_py(), column):
                    confirmed.append(k)
                    if limit is not None and len(confirmed) >= limit:
                        break
            positions = np.asarray(confirmed, dtype=np.int64)
        if len(positions):
            mask = np.zeros(len(arr), dtype=bool)
            mask[positions] = True
            found.append((rule, mask))
    return found
