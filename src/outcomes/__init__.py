"""outcomes: check vertebral augmentation outcomes against the figures a clinic publishes.

Records in (:func:`load_records`) -> validated :class:`Cohort` -> :func:`derive_endpoints` ->
statistics (:mod:`outcomes.stats`) -> claims -> reports.
"""

from __future__ import annotations

from . import stats
from .claims import Claim, ClaimsResult, evaluate_claims, load_claims, load_evidence
from .cohort import Cohort
from .definitions import Definitions
from .endpoints import derive_endpoints
from .exceptions import (
    DefinitionsError,
    IdentifiersAllowedWarning,
    InputError,
    OutcomesError,
    PrivacyError,
    StatisticalWarning,
)
from .loading import load_records
from .mapping import Mapping
from .monitoring import ControlChartResult, CusumResult, FunnelResult, control_chart, cusum, funnel
from .registry import RegistryResult, evaluate_registry
from .report import render_report
from .sources import load_cohort, load_fhir, load_omop

__version__ = "0.1.0"

__all__ = [
    "Claim",
    "ClaimsResult",
    "Cohort",
    "ControlChartResult",
    "CusumResult",
    "Definitions",
    "DefinitionsError",
    "FunnelResult",
    "IdentifiersAllowedWarning",
    "InputError",
    "Mapping",
    "OutcomesError",
    "PrivacyError",
    "RegistryResult",
    "StatisticalWarning",
    "__version__",
    "control_chart",
    "cusum",
    "derive_endpoints",
    "evaluate_claims",
    "evaluate_registry",
    "funnel",
    "load_claims",
    "load_cohort",
    "load_evidence",
    "load_fhir",
    "load_omop",
    "load_records",
    "render_report",
    "stats",
]
