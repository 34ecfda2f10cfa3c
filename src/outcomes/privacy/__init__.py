"""Privacy guard: refuse records that still carry identifiers (HIPAA Safe Harbor), keep secrets out of text.

The guard is organised by the 18 kinds of identifier that the Safe Harbor method lists,
45 CFR 164.514(b)(2)(i)(A)-(R) (:data:`SAFE_HARBOR`); every rule and every finding cites its letter.
Checked before anything else is done with a table:

- **column names** (:data:`NAME_RULES`), normalised for case, punctuation, camelCase, zero-width
  and full-width characters and initials (``M.R.N.``, ``DateOfBirth``, ``ZIP5``, ``plz``,
  ``acct_no``, ``Pt``): names (A), addresses and postal codes (B), birth, admission, discharge and
  death dates (C), telephone (D) and fax (E) numbers, e-mail (F), SSN (G), medical record (H),
  health plan (I) and account (J) numbers, licences (K), vehicles (L), devices (M), URLs (N),
  IP addresses (O), biometrics (P), photographs (Q) and other identifying numbers (R);
- **values** in every text column (:data:`VALUE_RULES`): SSNs in their written forms, telephone
  numbers of any region (``phonenumbers``), e-mail addresses (also "jane at example dot com"),
  URLs, IP addresses, ZIP+4 codes and street addresses, dates of birth in text ("DOB 04/05/1931");
  a bare ``name`` column whose values look like people's names;
- **ages** over 89 not grouped as 90 (C), in any age column (``age``, ``pt_age``, ``Age at surgery``);
- **free text** the analysis does not use (``notes``, ``comment``, ...): refused under the
  "minimum necessary" standard, 45 CFR 164.502(b), unless dropped (mapping ``drop = [...]``).

Every rule runs in time linear in the input: the value patterns run on RE2, the name rules on
names cut to 256 characters.

The date columns of the data contract (``procedure_date``, ``fracture_date``, ``assessed_at``,
...) are kept: they make the data a *limited data set*, which :func:`data_class` says and every
report prints; ``dates="year"`` renders reports with no date finer than the year.

:func:`redact_secrets` takes passwords out of any database URL or DSN before text reaches a
message, a log or a report.

`allow_identifiers=True` lets a user with a legitimate reason go on; an
:class:`~outcomes.exceptions.IdentifiersAllowedWarning` is raised and its text travels with the
cohort into every output.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..columnar import distinct_values, first_positions, text_values
from ..exceptions import IdentifiersAllowedWarning, PrivacyError
from ._categories import MINIMUM_NECESSARY, SAFE_HARBOR, cite
from ._names import (
    CONTRACT_DATES,
    NAME_RULES,
    NameRule,
    is_age_column,
    is_bare_name,
    is_code_column,
    is_free_text,
    name_rule,
    normalise_name,
)
from ._secrets import redact_secrets
from ._values import GATE, VALUE_RULES, ValueRule, looks_like_person_names, normalise_value, scan_values

__all__ = [
    "GATE",
    "NAME_RULES",
    "NameRule",
    "PrivacyFinding",
    "SAFE_HARBOR",
    "VALUE_RULES",
    "ValueRule",
    "age_reason",
    "check_identifiers",
    "data_class",
    "find_identifiers",
    "is_age_column",
    "is_bare_name",
    "is_code_column",
    "is_free_text",
    "name_findings",
    "name_rule",
    "normalise_name",
    "normalise_value",
    "redact_secrets",
    "report_findings",
    "scan_values",
    "value_masks",
]

#: The two data classes :func:`data_class` tells apart.
LIMITED_DATA_SET = "limited data set: contains dates"
YEAR_ONLY = "no date finer than the year"


@dataclass(frozen=True, slots=True)
class PrivacyFinding:
    """One reason a table looks identifying; ``category`` is the Safe Harbor letter (A-R), or
    ``""`` for free text refused as more than the minimum necessary."""

    column: str
    reason: str
    rows: tuple[int, ...] = ()
    category: str = ""

    def describe(self) -> str:
        where = f" (rows {', '.join(map(str, self.rows))})" if self.rows else ""
        why = f" [{cite(self.category)}]" if self.category else ""
        return f"column {self.column!r}: {self.reason}{where}{why}"


def _text_values(values: pd.Series) -> pa.ChunkedArray | None:
    """A text column as Arrow text (missing cells null), or None for a column that is not text.

    pandas' own Arrow-backed text is used as it is (pandas 3, and pandas 2 as
    :func:`outcomes.load_records` reads Parquet); other cells are read as their ``str()``.
    """
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return None
    if not values.notna().any():
        return None
    return text_values(values)


def name_findings(columns: Iterable[Any], *, used: Iterable[Any] = ()) -> list[PrivacyFinding]:
    """Findings from column names alone: identifier names, and free text not used (``used`` as
    for :func:`find_identifiers`).

    >>> [f.category for f in name_findings(["procedure_id", "M.R.N.", "notes"])]
    ['H', '']
    """
    used = {str(c) for c in used}
    findings: list[PrivacyFinding] = []
    for column in columns:
        rule = name_rule(column)
        # a column the mapping puts onto the data contract is data, not a name: a date column (C)
        # is a date, and a column named like a person (A, e.g. "pt" -> patient_id) is refused only
        # when its values look like people's names (value_masks, person_names=True)
        if rule is not None and not (rule.category in ("A", "C") and str(column) in used):
            findings.append(PrivacyFinding(str(column), f"its name suggests {rule.what}", category=rule.category))
        elif rule is None and is_free_text(column) and str(column) not in used:
            findings.append(PrivacyFinding(
                str(column),
                f"free text the analysis does not use (it may hold names, dates or numbers; {MINIMUM_NECESSARY}): "
                "drop it from the export, or list it in the mapping file as drop = [...] under [procedures] "
                "or [assessments]"))
    return findings


def value_masks(column: Any, distinct: Any, *, limit: int | None = 3,
                person_names: bool | None = None) -> list[tuple[str, str, np.ndarray]]:
    """What the value rules find among the distinct text values of one column.

    Parameters
    ----------
    column : column name
        Says whether the column holds codes (lot numbers: no telephone rule) or is a bare
        ``name`` column (values shaped like people's names are refused).
    distinct : sequence of str or pyarrow string array
        Distinct values, in the order they first occur (so ``limit`` keeps the first rows).
    limit : int or None, default 3
        Confirmed values per rule after which a rule stops looking.
    person_names : bool, optional
        Refuse values shaped like people's names; by default only in a bare ``name`` column.

    Returns
    -------
    list of (category, reason, mask)
        One entry per rule that found something; ``mask`` is aligned with ``distinct``.
    """
    found = [(r.category, f"values look like {r.what}", m)
             for r, m in scan_values(distinct, column=str(column), code_column=is_code_column(column), limit=limit)]
    if is_bare_name(column) if person_names is None else person_names:
        people = looks_like_person_names(distinct)
        if people.any():
            found.insert(0, ("A", "values look like people's names", people))
    return found


def age_reason(first_over: float) -> str:
    """The reason given for an age over 89 (Safe Harbor C)."""
    return f"ages over 89 must be shown as 90 (found {first_over:g})"


def find_identifiers(frame: pd.DataFrame, *, row_offset: int = 2, max_rows: int = 3,
                     used: Iterable[Any] = (), row_numbers: Any = None) -> list[PrivacyFinding]:
    """Every reason ``frame`` looks identifying (empty when it looks de-identified).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as read.
    row_offset : int, default 2
        Turns positions into the row numbers a spreadsheet shows (header = row 1).
    max_rows : int, default 3
        Rows named per finding.
    used : iterable of column names
        Columns the analysis uses (mapped onto the data contract): a date rule (C) does not
        refuse them, a name rule (A) refuses them only when their values look like people's
        names, and they are never refused as free text.
    row_numbers : array_like of int, optional
        The row number of each row of ``frame`` as a spreadsheet shows it (the readers' ``_row``,
        which skips blank lines); when given, ``row_offset`` is not used.

    Returns
    -------
    list of PrivacyFinding
        Name findings in column order, then value findings, then ages.
    """
    used = {str(c) for c in used}
    numbers = (np.arange(len(frame)) + row_offset if row_numbers is None
               else np.asarray(row_numbers, dtype=np.int64))
    findings = name_findings(frame.columns, used=used)
    for k in range(frame.shape[1]):
        column, values = frame.columns[k], frame.iloc[:, k]
        text = _text_values(values)
        if text is None:
            continue
        # each distinct value once (in the order it first occurs), read by the rules; the rows
        # are looked up only for the values a rule found
        distinct = distinct_values(text)
        rule = name_rule(column)
        mapped_name = str(column) in used and rule is not None and rule.category == "A"
        for category, reason, mask in value_masks(column, distinct, limit=max_rows,
                                                  person_names=True if mapped_name else None):
            positions = first_positions(text, distinct.filter(pa.array(mask)), max_rows)
            findings.append(PrivacyFinding(str(column), reason, tuple(int(numbers[p]) for p in positions),
                                           category))
    for column in frame.columns:
        if not is_age_column(column):
            continue
        age = pd.to_numeric(frame[column], errors="coerce")
        over = (age > 90).to_numpy(dtype=bool, na_value=False)
        if over.any():
            positions = [int(p) for p in np.flatnonzero(over)[:max_rows]]
            findings.append(PrivacyFinding(str(column), age_reason(age[over].iloc[0]),
                                           tuple(int(numbers[p]) for p in positions), "C"))
    return findings


def check_identifiers(
    frame: pd.DataFrame, *, source: str, allow_identifiers: bool = False, row_offset: int = 2,
    used: Iterable[Any] = (), row_numbers: Any = None,
) -> str | None:
    """Raise :class:`PrivacyError` if ``frame`` looks identifying, unless allowed.

    Returns the warning text when identifiers were allowed through, else None. ``used``,
    ``row_offset`` and ``row_numbers`` as for :func:`find_identifiers`.

    Examples
    --------
    >>> import pandas as pd
    >>> check_identifiers(pd.DataFrame({"procedure_id": ["P1"], "age": [70]}), source="t.csv") is None
    True
    >>> check_identifiers(pd.DataFrame({"patient_name": ["Ann Lee"]}), source="t.csv")
    Traceback (most recent call last):
    ...
    outcomes.exceptions.PrivacyError: t.csv looks identifying: column 'patient_name': its name suggests a person's name [Safe Harbor (A) names]. Remove or de-identify these columns, or pass allow_identifiers=True (--allow-identifiers) if you have a legitimate reason.
    """
    return report_findings(find_identifiers(frame, row_offset=row_offset, used=used, row_numbers=row_numbers),
                           source=source,
                           allow_identifiers=allow_identifiers, stacklevel=4)


def report_findings(findings: list[PrivacyFinding], *, source: str, allow_identifiers: bool,
                    stacklevel: int = 3) -> str | None:
    """Raise :class:`PrivacyError` for findings (one line), or warn and return the text when allowed."""
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


def _finer_than_year(values: pd.Series) -> bool:
    """Whether a column holds a date finer than the year (a year-only date is read as 1 January)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return False  # a year (or days, hours) as a number
    dates = pd.to_datetime(values, errors="coerce")
    dates = dates[dates.notna()]
    if dates.empty:
        return False
    return bool(((dates.dt.month != 1) | (dates.dt.day != 1) | (dates.dt.hour != 0) | (dates.dt.minute != 0)).any())


def data_class(cohort: Any) -> str:
    """What kind of data set a cohort is under HIPAA: ``"limited data set: contains dates"`` or
    ``"no date finer than the year"``.

    Dates of procedures, fractures, assessments or events finer than the year make the data a
    limited data set (45 CFR 164.514(e)), not Safe Harbor de-identified (164.514(b)(2)(i)(C)).
    Reports print this line; ``dates="year"`` renders them with no date finer than the year.

    Parameters
    ----------
    cohort : Cohort
        Anything with ``procedures`` and ``assessments`` frames.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> data_class(SimpleNamespace(procedures=pd.DataFrame({"procedure_date": pd.to_datetime(["2022-03-04"])}),
    ...                            assessments=pd.DataFrame({"hours_after": [48.0]})))
    'limited data set: contains dates'
    >>> data_class(SimpleNamespace(procedures=pd.DataFrame({"procedure_year": [2022]}),
    ...                            assessments=pd.DataFrame({"hours_after": [48.0]})))
    'no date finer than the year'
    """
    for name in ("procedures", "assessments", "events"):
        frame = getattr(cohort, name, None)
        if not isinstance(frame, pd.DataFrame):
            continue
        for column in frame.columns:
            values = frame[column]
            is_date = (pd.api.types.is_datetime64_any_dtype(values) or str(column) in CONTRACT_DATES
                       or str(column).endswith(("_date", "_at")))
            if is_date and _finer_than_year(values):
                return LIMITED_DATA_SET
    return YEAR_ONLY


# Names kept for code written against the first guard (outcomes.registry imports them).
_NAME_RULES = tuple((rule.what, rule.pattern) for rule in NAME_RULES)
_VALUE_RULES = tuple((rule.what, rule.pattern) for rule in VALUE_RULES)
_normalise = normalise_name
_report = report_findings
