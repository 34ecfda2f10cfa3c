"""The statistics, by name: ``outcomes.stats.proportion(...)`` and friends.

Every function returns a frozen result with ``estimate``, ``ci`` (``low``, ``high``) and
``pvalue`` where one applies; see each module for methods and references.
"""

from __future__ import annotations

from ._results import ConfidenceInterval
from .competing import (
    CumulativeIncidenceResult,
    GrayTestResult,
    RuleOfThreeResult,
    cumulative_incidence,
    gray_test,
    rule_of_three,
)
from .proportions import ProportionResult, RiskDifferenceResult, holm, proportion, risk_difference
from .regression import HazardRatioResult, OddsRatioResult, hazard_ratio, odds_ratios
from .survival import KaplanMeierResult, LogrankResult, TurnbullResult, kaplan_meier, logrank, turnbull

__all__ = [
    "ConfidenceInterval",
    "CumulativeIncidenceResult",
    "GrayTestResult",
    "HazardRatioResult",
    "KaplanMeierResult",
    "LogrankResult",
    "OddsRatioResult",
    "ProportionResult",
    "RiskDifferenceResult",
    "RuleOfThreeResult",
    "TurnbullResult",
    "cumulative_incidence",
    "gray_test",
    "hazard_ratio",
    "holm",
    "kaplan_meier",
    "logrank",
    "odds_ratios",
    "proportion",
    "risk_difference",
    "rule_of_three",
    "turnbull",
]
