"""The 18 kinds of identifier HIPAA's Safe Harbor method lists, 45 CFR 164.514(b)(2)(i)(A)-(R).

Every rule of the guard names one of these letters, and every finding cites it.
"""

from __future__ import annotations

SAFE_HARBOR: dict[str, str] = {
    "A": "names",
    "B": "geographic subdivisions smaller than a state",
    "C": "dates (except year) and ages over 89",
    "D": "telephone numbers",
    "E": "fax numbers",
    "F": "e-mail addresses",
    "G": "social security numbers",
    "H": "medical record numbers",
    "I": "health plan beneficiary numbers",
    "J": "account numbers",
    "K": "certificate or license numbers",
    "L": "vehicle identifiers and license plate numbers",
    "M": "device identifiers and serial numbers",
    "N": "web URLs",
    "O": "IP addresses",
    "P": "biometric identifiers",
    "Q": "full-face photographs",
    "R": "other unique identifying numbers or codes",
}

#: Free text the analysis does not use is refused under the "minimum necessary" standard.
MINIMUM_NECESSARY = "minimum necessary, 45 CFR 164.502(b)"


def cite(letter: str) -> str:
    """The citation a finding carries, e.g. ``"Safe Harbor (H) medical record numbers"``.

    >>> cite("H")
    'Safe Harbor (H) medical record numbers'
    """
    return f"Safe Harbor ({letter}) {SAFE_HARBOR[letter]}"
