"""Errors and warnings raised by :mod:`outcomes`.

The tree::

    OutcomesError(Exception)
    ├── InputError(OutcomesError, ValueError)      bad or unreadable input: file, column, rows named
    │   └── PrivacyError(InputError)               input still carries direct identifiers
    └── DefinitionsError(OutcomesError, ValueError) an invalid definitions or claims file

    StatisticalWarning(RuntimeWarning)             a result is defined but fragile (tiny n,
                                                   separation, an interval that cannot be computed)
    IdentifiersAllowedWarning(UserWarning)         identifiers were let through on request

Every message follows one template: "`{name}` must be {rule}; got {value!r}." followed by a next
step where one exists.
"""

from __future__ import annotations

__all__ = [
    "DefinitionsError",
    "IdentifiersAllowedWarning",
    "InputError",
    "OutcomesError",
    "PrivacyError",
    "StatisticalWarning",
]


class OutcomesError(Exception):
    """Base class of every error raised on purpose by :mod:`outcomes`."""


class InputError(OutcomesError, ValueError):
    """Input that cannot be analysed: a missing file or column, duplicate ids, bad arguments."""


class PrivacyError(InputError):
    """Input that still carries direct identifiers (HIPAA Safe Harbor)."""


class DefinitionsError(OutcomesError, ValueError):
    """An invalid definitions, mapping or claims file."""


class StatisticalWarning(RuntimeWarning):
    """A result is defined but fragile; the report says so."""


class IdentifiersAllowedWarning(UserWarning):
    """Identifying columns were allowed through with ``allow_identifiers=True``."""
