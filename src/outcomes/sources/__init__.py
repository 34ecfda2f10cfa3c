"""Records from clinical data standards: FHIR Bulk Data exports and OMOP CDM databases.

Both load into the same canonical tables as a CSV and through the same privacy guard,
validation and row accounting (:func:`outcomes.load_records`); the records left out before the
canonical tables are accounted for too, as tables named ``fhir:<Resource>`` or
``omop:<table>`` in ``cohort.flow()`` and ``cohort.exclusions``.

- :func:`load_cohort` takes records given any of these ways (or as files), exactly one.
- :func:`load_fhir` reads a folder of Bulk Data NDJSON files (or one Bundle).
- :func:`load_omop` reads an OMOP CDM v5.4 database: DuckDB, SQLite or PostgreSQL.
- :func:`write_fhir` and :func:`write_omop` write canonical tables (e.g. from
  :func:`outcomes.synthetic.simulate`) in those standards, for tests and demos.

Which codes count, which FHIR Observation statuses count (final, amended, corrected by
default), the scale each pain unit names (UCUM mm, cm, {score}, /10, /100) and how scores are
linked to procedures (each score to at most one) are set in the mapping file's ``[fhir]`` and
``[omop]`` sections (:class:`SourceSettings`).
"""

from __future__ import annotations

from ._any import load_cohort
from ._settings import OMOP_VOCABULARY, SourceSettings
from .fhir import load_fhir, write_fhir
from .omop import load_omop, write_omop

__all__ = ["OMOP_VOCABULARY", "SourceSettings", "load_cohort", "load_fhir", "load_omop", "write_fhir", "write_omop"]
