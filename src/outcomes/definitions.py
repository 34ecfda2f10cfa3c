"""Clinical definitions: what counts as relief, success and early treatment.

The defaults are those of the README; a clinic changes them in a TOML file::

    [relief]
    min_points = 2.0        # a fall of at least this many points on the 0-10 scale ...
    min_fraction = 0.30     # ... and of at least this fraction of the baseline score
    rule = "both"           # "both" | "either" | "points" | "fraction"

    [success]
    target_hours = 672      # the assessment nearest 4 weeks ...
    window_low_hours = 336  # ... within 2 to 12 weeks
    window_high_hours = 2016

    [early_treatment]
    max_fracture_age_days = 42

    [baseline]
    window_hours = 720      # a baseline score may lie up to 30 days before the procedure

    [relief_horizon]
    hours = 48              # "better within 48 hours"
    grace_hours = 6         # the 48-hour visit counts if it falls up to 6 hours late

    [safety]
    complication_window_days = 30    # complications and deaths within 30 days of the procedure
    new_fracture_horizon_days = 365  # new vertebral fractures by 1 year (death competing)
    [function]
    target_hours = 336      # the function score (ODI or RMDQ) nearest 2 weeks ...
    window_low_hours = 168  # ... within 1 to 6 weeks
    window_high_hours = 1008
    mcid_odi = 10           # minimal important change, ODI points (0-100; Ostelo 2008)
    mcid_rmdq = 5           # minimal important change, RMDQ points (0-24; Ostelo 2008)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._toml import read_toml
from .exceptions import DefinitionsError

__all__ = ["RELIEF_TOLERANCE", "Definitions"]

ReliefRule = Literal["both", "either", "points", "fraction"]
_RULES = ("both", "either", "points", "fraction")

# TOML section/key -> field name
_TOML_KEYS = {
    ("relief", "min_points"): "relief_min_points",
    ("relief", "min_fraction"): "relief_min_fraction",
    ("relief", "rule"): "relief_rule",
    ("success", "target_hours"): "success_target_hours",
    ("success", "window_low_hours"): "success_window_low_hours",
    ("success", "window_high_hours"): "success_window_high_hours",
    ("early_treatment", "max_fracture_age_days"): "early_max_fracture_age_days",
    ("baseline", "window_hours"): "baseline_window_hours",
    ("relief_horizon", "hours"): "relief_horizon_hours",
    ("relief_horizon", "grace_hours"): "relief_horizon_grace_hours",
    ("safety", "complication_window_days"): "complication_window_days",
    ("safety", "new_fracture_horizon_days"): "new_fracture_horizon_days",
    ("function", "target_hours"): "function_target_hours",
    ("function", "window_low_hours"): "function_window_low_hours",
    ("function", "window_high_hours"): "function_window_high_hours",
    ("function", "mcid_odi"): "function_mcid_odi",
    ("function", "mcid_rmdq"): "function_mcid_rmdq",
}

# Scores are compared after rounding away floating-point noise (0.3 * 10 is 3.0000000000000004):
# a score counts as relief when pain <= threshold + RELIEF_TOLERANCE (also in sql/endpoints.sql).
RELIEF_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Definitions:
    """The clinical definitions every endpoint is derived under.

    Parameters
    ----------
    relief_min_points : float, default 2.0
        Smallest fall from baseline, in points on the 0-10 scale, that counts as relief.
    relief_min_fraction : float, default 0.30
        Smallest fall as a fraction of the baseline score.
    relief_rule : {"both", "either", "points", "fraction"}, default "both"
        How the two parts combine: "both" requires a fall of at least
        ``max(points, fraction * baseline)`` (IMMPACT), "either" of at least the smaller.
    success_target_hours, success_window_low_hours, success_window_high_hours : float
        Success is relief at the assessment nearest ``success_target_hours`` (4 weeks) within
        the window (2 to 12 weeks).
    early_max_fracture_age_days : float, default 42
        Treatment within this many days of the fracture is "early".
    baseline_window_hours : float, default 720
        How long before the procedure a baseline pain score may lie. A score at or before 0 h
        and inside the window (say at -0.5 h) is a baseline candidate and the last one is the
        baseline when the procedures table gives none; a score further before the procedure is
        excluded at loading ("time before the procedure, outside the baseline window").
    relief_horizon_hours : float, default 48
        The horizon of "better within 48 hours".
    relief_horizon_grace_hours : float, default 6
        Relief is only seen at visits, and the visit meant for 48 hours happens a few hours
        either side. Relief first seen up to this many hours after the horizon counts as relief
        by the horizon; without it half of the 48-hour visits would fall just after 48 h and the
        estimate would be biased low. The Turnbull estimate is reported beside it.
    complication_window_days : float, default 30
        Complications (major, minor) and deaths count when they happen within this many days of
        the procedure (day 0 to day 30 inclusive), the 30-day window of the SIR quality
        improvement guidelines for vertebral augmentation.
    new_fracture_horizon_days : float, default 365
        The horizon of the cumulative incidence of a new vertebral fracture (death competing).
    function_target_hours, function_window_low_hours, function_window_high_hours : float
        The function endpoint reads the ODI or RMDQ score nearest ``function_target_hours`` (2
        weeks) within the window (1 to 6 weeks), against the last score in the baseline window.
    function_mcid_odi, function_mcid_rmdq : float, default 10 and 5
        The minimal important change, in points, that counts as function regained: 10 on the
        0-100 ODI, 5 on the 0-24 RMDQ (Ostelo 2008).

    Notes
    -----
    Relief at an assessment: ``baseline - pain >= required``, where under the default rule
    ``required = max(min_points, min_fraction * baseline)`` (Farrar 2001; Dworkin 2008).

    References
    ----------
    .. [1] Farrar JT et al. Clinical importance of changes in chronic pain intensity measured on
       an 11-point numerical pain rating scale. Pain 2001;94:149-158.
       doi:10.1016/S0304-3959(01)00349-9
    .. [2] Dworkin RH et al. Interpreting the clinical importance of treatment outcomes in chronic
       pain clinical trials: IMMPACT recommendations. J Pain 2008;9:105-121.
       doi:10.1016/j.jpain.2007.09.005
    .. [3] Ostelo RWJG et al. Interpreting change scores for pain and functional status in low back
       pain: towards international consensus regarding minimal important change. Spine
       2008;33:90-94. doi:10.1097/BRS.0b013e31815e3a10

    Examples
    --------
    >>> d = Definitions()
    >>> float(d.relief_threshold(8))
    5.6
    >>> Definitions(relief_rule="points").relief_threshold([8, 3]).tolist()
    [6.0, 1.0]
    """

    relief_min_points: float = 2.0
    relief_min_fraction: float = 0.30
    relief_rule: ReliefRule = "both"
    success_target_hours: float = 672.0
    success_window_low_hours: float = 336.0
    success_window_high_hours: float = 2016.0
    early_max_fracture_age_days: float = 42.0
    baseline_window_hours: float = 720.0
    relief_horizon_hours: float = 48.0
    relief_horizon_grace_hours: float = 6.0
    complication_window_days: float = 30.0
    new_fracture_horizon_days: float = 365.0
    function_target_hours: float = 336.0
    function_window_low_hours: float = 168.0
    function_window_high_hours: float = 1008.0
    function_mcid_odi: float = 10.0
    function_mcid_rmdq: float = 5.0

    @property
    def relief_horizon_evaluated_hours(self) -> float:
        """The time the cumulative relief curve is read at: horizon plus grace."""
        return self.relief_horizon_hours + self.relief_horizon_grace_hours

    def __post_init__(self) -> None:
        if self.relief_rule not in _RULES:
            raise DefinitionsError(
                f"`relief.rule` must be one of {', '.join(map(repr, _RULES))}; got {self.relief_rule!r}."
            )
        for field in dataclasses.fields(self):
            if field.name == "relief_rule":
                continue
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise DefinitionsError(f"`{field.name}` must be a non-negative number; got {value!r}.")
            object.__setattr__(self, field.name, float(value))
        if self.relief_min_fraction > 1:
            raise DefinitionsError(
                f"`relief.min_fraction` must be a fraction between 0 and 1; got {self.relief_min_fraction!r}."
            )
        if not (self.success_window_low_hours <= self.success_target_hours <= self.success_window_high_hours):
            raise DefinitionsError(
                "`success.target_hours` must lie inside the success window "
                f"[{self.success_window_low_hours:g}, {self.success_window_high_hours:g}]; "
                f"got {self.success_target_hours!r}."
            )
        if not (self.function_window_low_hours <= self.function_target_hours <= self.function_window_high_hours):
            raise DefinitionsError(
                "`function.target_hours` must lie inside the function window "
                f"[{self.function_window_low_hours:g}, {self.function_window_high_hours:g}]; "
                f"got {self.function_target_hours!r}."
            )

    @classmethod
    def from_toml(cls, path: str | Path) -> Definitions:
        """Read definitions from a TOML file; keys left out keep their defaults."""
        path = Path(path)
        return cls.from_dict(read_toml(path, "Definitions"), source=path.name)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "definitions") -> Definitions:
        """Build definitions from the nested dictionary of a TOML file."""
        kwargs: dict[str, Any] = {}
        for section, values in raw.items():
            if not isinstance(values, dict):
                raise DefinitionsError(f"`{section}` in {source} must be a [section]; got {values!r}.")
            for key, value in values.items():
                name = _TOML_KEYS.get((section, key))
                if name is None:
                    known = ", ".join(f"{s}.{k}" for s, k in _TOML_KEYS)
                    raise DefinitionsError(f"`{section}.{key}` in {source} must be one of {known}; got an unknown key.")
                kwargs[name] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The nested TOML-shaped dictionary of these definitions."""
        out: dict[str, dict[str, Any]] = {}
        for (section, key), name in _TOML_KEYS.items():
            out.setdefault(section, {})[key] = getattr(self, name)
        return out

    def digest(self) -> str:
        """SHA-256 of the definitions, to stamp reports with."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def required_drop(self, baseline: Any) -> np.ndarray:
        """The fall from ``baseline`` that counts as relief (array in, array out)."""
        baseline = np.asarray(baseline, dtype=float)
        points = np.full_like(baseline, self.relief_min_points)
        fraction = self.relief_min_fraction * baseline
        if self.relief_rule == "both":
            return np.maximum(points, fraction)
        if self.relief_rule == "either":
            return np.minimum(points, fraction)
        if self.relief_rule == "points":
            return points
        return fraction

    def relief_threshold(self, baseline: Any) -> np.ndarray:
        """Highest pain score that still counts as relief, for each baseline score."""
        baseline = np.asarray(baseline, dtype=float)
        return np.round(baseline - self.required_drop(baseline), 9)

    def is_relief(self, pain: Any, baseline: Any) -> np.ndarray:
        """Whether each pain score shows relief from its baseline (NaN in -> False)."""
        return self.at_or_below_threshold(pain, self.relief_threshold(baseline))

    @staticmethod
    def at_or_below_threshold(pain: Any, threshold: Any) -> np.ndarray:
        """Whether each pain score is at or below its relief threshold (from
        :meth:`relief_threshold`, computed once per procedure by callers that have many scores)."""
        return np.asarray(pain, dtype=float) <= np.asarray(threshold, dtype=float) + RELIEF_TOLERANCE

    def describe(self) -> list[str]:
        """The definitions in plain words, for a report's methods section."""
        pts = f"{self.relief_min_points:g} points"
        frac = f"{self.relief_min_fraction:.0%} of the baseline score"
        relief = {
            "both": f"a fall of at least {pts} and at least {frac}",
            "either": f"a fall of at least {pts} or at least {frac}",
            "points": f"a fall of at least {pts}",
            "fraction": f"a fall of at least {frac}",
        }[self.relief_rule]
        weeks = lambda h: f"{h / 168:g} weeks"  # noqa: E731
        return [
            f"Relief: {relief} on the 0-10 pain scale (IMMPACT; Farrar 2001, Dworkin 2008).",
            "Time to relief: hours from the procedure to the first assessment showing relief; "
            "censored at the last assessment when none does.",
            f"Relief within {self.relief_horizon_hours:g} hours: the Kaplan-Meier cumulative proportion "
            f"relieved by {self.relief_horizon_hours:g} hours, counting relief first seen at a visit up to "
            f"{self.relief_horizon_grace_hours:g} hours late (the {self.relief_horizon_hours:g}-hour visit).",
            f"Success: relief at the assessment nearest {weeks(self.success_target_hours)}, within "
            f"{weeks(self.success_window_low_hours)} to {weeks(self.success_window_high_hours)}; patients "
            "with no assessment in that window are counted as missing, and again as failures (worst case).",
            f"Early treatment: fracture age at the procedure of {self.early_max_fracture_age_days:g} days or less.",
            f"Baseline: the last pain score up to {self.baseline_window_hours / 24:g} days before the procedure "
            "(or the baseline_pain field).",
            f"Function regained: an improvement of at least {self.function_mcid_odi:g} ODI points (0-100) or "
            f"{self.function_mcid_rmdq:g} RMDQ points (0-24) from the baseline score (Ostelo 2008) at the score "
            f"nearest {weeks(self.function_target_hours)}, within {weeks(self.function_window_low_hours)} to "
            f"{weeks(self.function_window_high_hours)}; ODI when a patient has both.",
        ]
