"""One entry point for records given any supported way: files/DataFrames, a FHIR export or an
OMOP CDM database."""

from __future__ import annotations

import os
from typing import Any

from ..cohort import Cohort
from ..definitions import Definitions
from ..exceptions import InputError
from ..loading import load_records


def load_cohort(
    procedures: Any = None,
    assessments: Any = None,
    *,
    events: Any = None,
    fhir: str | os.PathLike[str] | None = None,
    omop: str | os.PathLike[str] | None = None,
    schema: str | None = None,
    mapping: Any = None,
    definitions: Definitions | None = None,
    allow_identifiers: bool = False,
) -> Cohort:
    """Load records given exactly one way: ``procedures`` (with ``assessments``), ``fhir`` or ``omop``.

    Parameters
    ----------
    procedures, assessments, events : path or DataFrame, optional
        As for :func:`outcomes.load_records` (a FHIR export or an OMOP database holds its own
        adverse events).
    fhir : path, optional
        A FHIR Bulk Data export (folder of NDJSON files) or a Bundle: :func:`load_fhir`.
    omop : str or path, optional
        An OMOP CDM database (postgresql:// URL, .duckdb or .sqlite file): :func:`load_omop`.
    schema : str, optional
        The OMOP CDM schema (with ``omop`` only).
    mapping, definitions, allow_identifiers
        As for :func:`outcomes.load_records`.

    Returns
    -------
    Cohort

    Examples
    --------
    >>> load_cohort()
    Traceback (most recent call last):
    ...
    outcomes.exceptions.InputError: The records must be given one way: procedures (files; PROCEDURES on the command line), fhir (a FHIR export; --fhir DIR) or omop (a database; --omop URL); got none.
    """
    given = [name for name, value in (("procedures", procedures), ("fhir", fhir), ("omop", omop))
             if value is not None and not (isinstance(value, str) and not value)]
    if len(given) != 1:
        raise InputError("The records must be given one way: procedures (files; PROCEDURES on the command line), "
                         "fhir (a FHIR export; --fhir DIR) or omop (a database; --omop URL); "
                         f"got {' and '.join(given) if given else 'none'}.")
    if assessments is not None and procedures is None:
        raise InputError(f"`assessments` must go with procedures; got it with {given[0]}, which holds the pain scores.")
    if events is not None and procedures is None:
        raise InputError(f"`events` must go with procedures; got it with {given[0]}, which holds the adverse events.")
    if schema and omop is None:
        raise InputError("`schema` must go with omop; got it without.")
    if fhir is not None:
        from .fhir import load_fhir

        return load_fhir(fhir, mapping=mapping, definitions=definitions, allow_identifiers=allow_identifiers)
    if omop is not None:
        from .omop import load_omop

        return load_omop(omop, schema=schema, mapping=mapping, definitions=definitions,
                         allow_identifiers=allow_identifiers)
    return load_records(procedures, assessments, events, mapping=mapping, definitions=definitions,
                        allow_identifiers=allow_identifiers)
