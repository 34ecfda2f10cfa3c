"""Privacy guard: refuse records that still carry direct identifiers (HIPAA Safe Harbor).

Checked before anything else is done with a table:

- column names that stand for names, record numbers, social security numbers, addresses,
  postal codes, telephone or fax numbers, e-mail addresses, health-plan or account numbers and
  birth dates (45 CFR 164.514(b)(2)(i));
- values in any text column that look like a social security number, a telephone number or an
  e-mail address;
- ages over 89 that are not grouped as 90 (Safe Harbor's rule for ages).

`allow_identifiers=True` lets a user with a legitimate reason go on; an
:class:`~outcomes.exceptions.IdentifiersAllowedWarning` is raised and its text travels with the
cohort into every output.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from .exceptions import IdentifiersAllowedWarning, PrivacyError

__all__ = ["PrivacyFinding", "check_identifiers"]

# Column-name rules on the normalised name (lower case, runs of other characters -> "_").
_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (why, re.compile(pattern))
    for why, pattern in [
        ("a person's name", r"^(patient_|pt_|full_|first_|last_|given_|family_|middle_|maiden_)?(sur)?name$"
                            r"|^(first|last|given|family|middle|maiden|sur)name$|^patient_(full_)?name$"),
        ("a medical record number", r"(^|_)(mrn|medical_record(_number|_no|_num)?|record_number|chart_(number|no))($|_)"),
        ("a social security number", r"(^|_)(ssn|social_security(_number|_no)?|sin|nhs_(number|no))($|_)"),
        ("a street address", r"(^|_)(address|street|addr|home_address|city)($|_)"),
        ("a postal code", r"(^|_)(zip|zip_code|zipcode|postcode|postal_code)($|_)"),
        ("a telephone or fax number", r"(^|_)(phone|telephone|tel|mobile|cell|fax)(_number|_no)?($|_)"),
        ("an e-mail address", r"(^|_)(e_?mail|email_address)($|_)"),
        ("a birth date", r"(^|_)(dob|birth_?date|date_of_birth|birthday|born)($|_)"),
        ("a health-plan or account number", r"(^|_)(health_plan|insurance_(id|number)|member_id|beneficiary|account_(number|no))($|_)"),
    ]
)

_VALUE_RULES: tuple[tuple[str, str], ...] = (
    ("social security numbers", r"\b\d{3}-\d{2}-\d{4}\b"),
    ("telephone numbers", r"(?:\(\d{3}\)\s?|\b\d{3}[-. ])\d{3}[-. ]\d{4}\b"),
    ("e-mail addresses", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
)


@dataclass(frozen=True, slots=True)
class PrivacyFinding:
    """One reason a table looks identifying."""

    column: str
    reason: str
    rows: tuple[int, ...] = ()

    def describe(self) -> str:
        where = f" (rows {', '.join(map(str, self.rows))})" if self.rows else ""
        return f"column {self.column!r}: {self.reason}{where}"


# Each value rule needs at least one of the characters "-. @": a social security number a "-", a
# telephone number one of "-", "." or " " between its digit groups, an e-mail address an "@". All
# are ASCII, so in UTF-8 they never occur inside another character's bytes.


def _may_match(text: pd.Series) -> np.ndarray:
    """Mask of the values holding a character some value rule needs (a superset of every match).

    For Arrow-backed text the bytes are scanned at once in numpy; otherwise a one-class regular
    expression does the same.
    """
    try:
        chunks = pa.chunked_array(pa.array(text.array)).chunks
    except (TypeError, ValueError, pa.ArrowException):
        chunks = None
    if chunks is None or not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        return text.str.contains("[-. @]", regex=True).to_numpy(dtype=bool)
    masks = []
    for chunk in chunks:
        mask = np.zeros(len(chunk), dtype=bool)
        _, offsets_buffer, data = chunk.buffers()
        if len(chunk) and data is not None:
            width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            offsets = np.frombuffer(offsets_buffer, dtype=width)[chunk.offset: chunk.offset + len(chunk) + 1]
            raw = np.frombuffer(data, dtype=np.uint8)[offsets[0]: offsets[-1]]
            hit = raw == ord("-")  # four comparisons: faster than a table look-up per byte
            for byte in (".", " ", "@"):
                hit |= raw == ord(byte)
            at = np.flatnonzero(hit) + offsets[0]
            mask[np.searchsorted(offsets, at, side="right") - 1] = True
        masks.append(mask)
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _normalise(name: object) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def find_identifiers(frame: pd.DataFrame, *, row_offset: int = 2, max_rows: int = 3) -> list[PrivacyFinding]:
    """Every reason ``frame`` looks identifying (empty when it looks de-identified).

    ``row_offset`` turns positions into the row numbers a spreadsheet shows (header = row 1).
    """
    findings: list[PrivacyFinding] = []
    for column in frame.columns:
        norm = _normalise(column)
        for why, rule in _NAME_RULES:
            if rule.search(norm):
                findings.append(PrivacyFinding(str(column), f"its name suggests {why}"))
                break
    for column in frame.columns:
        values = frame[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.dropna().astype(str)
        if text.empty:
            continue
        # Every value is checked. Only values holding one of the characters every rule needs are
        # passed to the regular expressions, each distinct value once (a million ids hold none of
        # them; a date column holds a few thousand distinct dates).
        candidates = text[_may_match(text)]
        codes, distinct = pd.factorize(candidates)
        for what, pattern in _VALUE_RULES:
            if candidates.empty:
                break
            distinct_hits = pd.Series(distinct).str.contains(pattern, regex=True).to_numpy(dtype=bool)
            hits = pd.Series(distinct_hits[codes], index=candidates.index)
            if hits.any():
                positions = frame.index.get_indexer(hits[hits].index[:max_rows])
                rows = tuple(int(p) + row_offset for p in positions)
                findings.append(PrivacyFinding(str(column), f"values look like {what}", rows))
    for column in frame.columns:
        if _normalise(column) not in {"age", "age_years", "age_at_procedure", "patient_age"}:
            continue
        age = pd.to_numeric(frame[column], errors="coerce")
        over = age > 90
        if over.any():
            positions = [int(p) for p in over.to_numpy().nonzero()[0][:max_rows]]
            findings.append(
                PrivacyFinding(
                    str(column),
                    f"ages over 89 must be shown as 90 (found {age[over].iloc[0]:g})",
                    tuple(p + row_offset for p in positions),
                )
            )
    return findings


def check_identifiers(
    frame: pd.DataFrame, *, source: str, allow_identifiers: bool = False, row_offset: int = 2
) -> str | None:
    """Raise :class:`PrivacyError` if ``frame`` looks identifying, unless allowed.

    Returns the warning text when identifiers were allowed through, else None.

    Examples
    --------
    >>> import pandas as pd
    >>> check_identifiers(pd.DataFrame({"procedure_id": ["P1"], "age": [70]}), source="t.csv") is None
    True
    >>> check_identifiers(pd.DataFrame({"patient_name": ["Ann Lee"]}), source="t.csv")
    Traceback (most recent call last):
    ...
    outcomes.exceptions.PrivacyError: t.csv looks identifying: column 'patient_name': its name suggests a person's name. Remove or de-identify these columns, or pass allow_identifiers=True (--allow-identifiers) if you have a legitimate reason.
    """
    return _report(find_identifiers(frame, row_offset=row_offset), source=source,
                   allow_identifiers=allow_identifiers, stacklevel=4)


def _report(findings: list[PrivacyFinding], *, source: str, allow_identifiers: bool,
            stacklevel: int = 3) -> str | None:
    """Raise :class:`PrivacyError` for findings, or warn and return the text when allowed."""
    if not findings:
        return None
    listed = "; ".join(f.describe() for f in findings)
    if not allow_identifiers:
        raise PrivacyError(
            f"{source} looks identifying: {listed}. Remove or de-identify these columns, or pass "
            "allow_identifiers=True (--allow-identifiers) if you have a legitimate reason."
        )
    message = f"Identifiers were allowed through on request in {source}: {listed}."
    warnings.warn(message, IdentifiersAllowedWarning, stacklevel=stacklevel)
    return message
