"""Claims: each figure a clinic states, the clinic's observed value, its interval and a verdict.

The registry is data (``outcomes/data/claims.toml``); a clinic's own TOML adds, changes or drops
claims. Verdicts follow the README exactly:

- a stated proportion ``p0`` with margin ``m``: ``below`` (the whole interval under ``p0``),
  ``above`` (over), ``consistent`` (contains ``p0`` and lies within ``p0 +/- m``),
  ``inconclusive`` (contains ``p0`` but is wider; ``n_to_settle`` says how many patients would
  settle it), ``not assessable`` (fields missing or fewer than ``min_n`` patients);
- a directional claim (A better than B): ``supported`` when the whole interval of the effect lies
  on the claimed side of no effect, ``contradicted`` when wholly on the other side, else
  ``inconclusive``.

A verdict comes from the interval, never from a p-value alone; p-values (and Holm-adjusted ones
across the family of primary results) are shown beside it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import formatting as fmt
from ._toml import read_toml
from .cohort import Cohort
from .definitions import Definitions
from .endpoints import derive_endpoints
from .exceptions import DefinitionsError, InputError, StatisticalWarning
from .competing import cumulative_incidence, rule_of_three
from .interval import interval_hazard_ratio
from .proportions import holm, is_settled, proportion, risk_difference
from .regression import odds_ratios
from .survival import kaplan_meier, turnbull

__all__ = ["Claim", "ClaimsResult", "claim_columns", "evaluate_claim_frames", "evaluate_claims", "load_claims",
           "load_evidence"]

KINDS = ("proportion", "relief_by", "kept_by", "faster", "difference", "odds_ratios", "mean_difference",
         "incidence_by")
SENSES = ("about", "at_least", "at_most")
# Result measures that are shares of procedures (read against a stated figure) and ratios (read
# against 1): the report's wording and figures take their scale from these.
SHARE_MEASURES = ("proportion", "relieved by", "still relieved at", "cumulative incidence by")
RATIO_MEASURES = ("hazard ratio", "odds ratio", "adjusted odds ratio", "observed/expected")
METHODS = ("wilson", "exact")
POPULATIONS = ("all", "vertebroplasty", "kyphoplasty")
VERDICTS = ("below", "above", "consistent", "inconclusive", "supported", "contradicted", "not assessable")
RESULT_COLUMNS = [
    "claim_id", "population", "n", "estimate", "ci_low", "ci_high", "stated", "p_value", "verdict", "method",
    "statement", "measure", "reading", "role", "events", "margin", "sense", "p_holm", "n_to_settle",
    "additional_to_settle", "note",
]


@dataclass(frozen=True)
class Claim:
    """One stated figure (a row of the registry); see ``outcomes/data/claims.toml``."""

    id: str
    statement: str
    kind: str
    population: str = "all"
    endpoint: str | None = None
    stated: float | None = None
    margin: float = 0.05
    sense: str = "about"
    by_procedure: bool = False
    horizon_hours: float | None = None
    times_hours: tuple[float, ...] = ()
    group: str | None = None
    reference: str | None = None
    exposure: str | None = None
    exposures: tuple[str, ...] = ()
    adjust: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    better: tuple[str, ...] = ()
    min_n: int = 10
    method: str = "wilson"
    by_etiology: bool = False
    horizon_days: float | None = None
    stated_by: tuple[tuple[str, float], ...] = ()
    stated_note: str = ""

    def __post_init__(self) -> None:
        where = f"claim {self.id!r}"
        if self.kind not in KINDS:
            raise DefinitionsError(f"`kind` of {where} must be one of {', '.join(KINDS)}; got {self.kind!r}.")
        _check_safety_fields(self, where)
        if self.population not in POPULATIONS:
            raise DefinitionsError(
                f"`population` of {where} must be one of {', '.join(POPULATIONS)}; got {self.population!r}.")
        needs_stated = self.kind in ("proportion", "relief_by", "kept_by", "incidence_by")
        if needs_stated and (self.stated is None or not 0 < self.stated < 1):
            raise DefinitionsError(f"`stated` of {where} must be a proportion between 0 and 1; got {self.stated!r}.")
        if not 0 < self.margin < 1:
            raise DefinitionsError(f"`margin` of {where} must be between 0 and 1; got {self.margin!r}.")
        required = {"proportion": "endpoint", "relief_by": "horizon_hours", "kept_by": "times_hours",
                    "faster": "group", "difference": "exposure", "odds_ratios": "exposures",
                    "mean_difference": "measures", "incidence_by": "endpoint"}[self.kind]
        if not getattr(self, required):
            raise DefinitionsError(f"`{required}` of {where} must be given for kind {self.kind!r}; got nothing.")
        for name in ("times_hours", "exposures", "adjust", "measures", "better"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.better and (len(self.better) != len(self.measures) or set(self.better) - {"higher", "lower"}):
            raise DefinitionsError(
                f"`better` of {where} must give 'higher' or 'lower' for each of the measures; got {self.better!r}.")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str) -> Claim:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise DefinitionsError(
                f"`{sorted(unknown)[0]}` in {source} must be one of {', '.join(sorted(known))}; got an unknown key.")
        if "id" not in raw or "statement" not in raw or "kind" not in raw:
            raise DefinitionsError(f"each [[claim]] in {source} must have id, statement and kind; got {raw!r}.")
        return cls(**raw)


def load_claims(path: str | Path | None = None) -> tuple[Claim, ...]:
    """The claims registry: the shipped defaults, updated by a clinic's own TOML file.

    In the clinic's file a ``[[claim]]`` with an existing id replaces that claim, a new id adds
    one, ``drop = ["id", ...]`` removes defaults and ``replace_defaults = true`` starts empty.

    Examples
    --------
    >>> [c.id for c in load_claims()][:3]
    ['success_rate', 'relief_48h_vertebroplasty', 'relief_48h_kyphoplasty']
    """
    default = read_toml(resources.files("outcomes") / "data" / "claims.toml", "Claims")
    claims = {c.id: c for c in (Claim.from_dict(r, source="claims.toml") for r in default["claim"])}
    if path is None:
        return tuple(claims.values())
    path = Path(path)
    own = read_toml(path, "Claims")
    unknown = set(own) - {"claim", "drop", "replace_defaults"}
    if unknown:
        raise DefinitionsError(
            f"`{sorted(unknown)[0]}` in {path.name} must be one of claim, drop, replace_defaults; got an unknown key.")
    if own.get("replace_defaults", False):
        claims = {}
    for claim_id in own.get("drop", []):
        if claim_id not in claims:
            raise DefinitionsError(f"`drop` in {path.name} must name existing claims ({', '.join(claims)}); got {claim_id!r}.")
        del claims[claim_id]
    for raw in own.get("claim", []):
        claim = Claim.from_dict(raw, source=path.name)
        claims[claim.id] = claim
    return tuple(claims.values())


def resolve_claims(claims: str | Path | tuple[Claim, ...] | list[Claim] | None) -> tuple[Claim, ...]:
    """The claims to evaluate: the shipped registry (None), updated by a TOML file (a path), or
    the given Claim objects."""
    if claims is None or isinstance(claims, (str, Path)):
        return load_claims(claims)
    registry = tuple(claims)
    if not all(isinstance(c, Claim) for c in registry):
        raise InputError("`claims` must be a path to a TOML file or a sequence of Claim; got other objects.")
    return registry


def load_evidence() -> pd.DataFrame:
    """Published figures beside each claim (trial or registry, population, measure, value, citation).

    Examples
    --------
    >>> ev = load_evidence()
    >>> list(ev.columns[:4]), bool(ev["citation"].notna().all())
    (['claim_id', 'study', 'design', 'population'], True)
    """
    with (resources.files("outcomes") / "data" / "evidence.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


# ---- verdict rules ----------------------------------------------------------------------------

def verdict_for_stated(low: float, high: float, stated: float, margin: float) -> str:
    """The README's verdict rule for a stated proportion.

    >>> verdict_for_stated(0.76, 0.82, 0.90, 0.05), verdict_for_stated(0.86, 0.93, 0.90, 0.05)
    ('below', 'consistent')
    >>> verdict_for_stated(0.80, 0.97, 0.90, 0.05), verdict_for_stated(0.91, 0.99, 0.90, 0.05)
    ('inconclusive', 'above')
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return "not assessable"
    if high < stated:
        return "below"
    if low > stated:
        return "above"
    if bool(is_settled(low, high, stated, margin)):
        return "consistent"
    return "inconclusive"


def verdict_for_direction(low: float, high: float, null: float) -> str:
    """The README's verdict rule for a directional claim on the claimed-greater scale.

    >>> verdict_for_direction(1.2, 2.0, 1.0), verdict_for_direction(0.5, 0.9, 1.0), verdict_for_direction(0.9, 1.4, 1.0)
    ('supported', 'contradicted', 'inconclusive')
    """
    if not (np.isfinite(low) or np.isfinite(high)) or (math.isnan(low) or math.isnan(high)):
        return "not assessable"
    if low > null:
        return "supported"
    if high < null:
        return "contradicted"
    return "inconclusive"


def verdict_at_most(low: float, high: float, stated: float) -> str:
    """The README's verdict rule for an upper threshold (``sense = "at_most"``: a complication or
    new-fracture rate that should stay under the stated figure).

    ``supported`` when the whole interval lies under the threshold, ``contradicted`` when it lies
    wholly over it, else ``inconclusive``.

    >>> verdict_at_most(0.001, 0.02, 0.03), verdict_at_most(0.05, 0.09, 0.03), verdict_at_most(0.01, 0.05, 0.03)
    ('supported', 'contradicted', 'inconclusive')
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return "not assessable"
    if high < stated:
        return "supported"
    if low > stated:
        return "contradicted"
    return "inconclusive"


def _check_safety_fields(claim: Claim, where: str) -> None:
    """The fields of the safety and function claims (issue 12): sense, method, horizon_days and
    the stated figure per subgroup (``stated_by``, e.g. a neoplastic threshold beside the
    osteoporotic one)."""
    if claim.sense not in SENSES:
        raise DefinitionsError(f"`sense` of {where} must be one of {', '.join(SENSES)}; got {claim.sense!r}.")
    if claim.method not in METHODS:
        raise DefinitionsError(f"`method` of {where} must be one of {', '.join(METHODS)}; got {claim.method!r}.")
    if claim.horizon_days is not None and (isinstance(claim.horizon_days, bool) or not isinstance(
            claim.horizon_days, (int, float)) or not 0 < claim.horizon_days < math.inf):
        raise DefinitionsError(f"`horizon_days` of {where} must be a positive number of days; got {claim.horizon_days!r}.")
    raw = claim.stated_by
    pairs = tuple(raw.items()) if isinstance(raw, dict) else tuple(tuple(p) for p in raw)
    for group, value in pairs:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise DefinitionsError(
                f"`stated_by.{group}` of {where} must be a proportion between 0 and 1; got {value!r}.")
    object.__setattr__(claim, "stated_by", tuple((str(g), float(v)) for g, v in pairs))


# ---- Kaplan-Meier at a time against a stated figure --------------------------------------------

def _km_point(km: Any, t: float, confidence_level: float) -> dict[str, float]:
    """S(t), its log-log interval, Greenwood se of log(-log S) and the numbers at risk at t."""
    row = km.at(t).iloc[0]
    tab = km.table
    idx = int(np.searchsorted(tab["time"].to_numpy(), t, side="right") - 1)
    surv = float(row["survival"])
    se = float(tab["se"].iloc[idx]) if idx >= 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        se_loglog = se / (surv * abs(math.log(surv))) if 0 < surv < 1 else math.nan
    return {"survival": surv, "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
            "se_loglog": se_loglog, "at_risk": int(row["at_risk"])}


def _km_test(surv: float, se_loglog: float, stated_survival: float) -> float:
    """Two-sided z-test of S(t) = S0 on the log(-log) scale (Greenwood variance, delta method)."""
    if not (0 < surv < 1) or not np.isfinite(se_loglog) or se_loglog <= 0:
        return math.nan
    z = (math.log(-math.log(surv)) - math.log(-math.log(stated_survival))) / se_loglog
    return float(2 * sps.norm.sf(abs(z)))


def _km_n_to_settle(surv: float, se_loglog: float, n: int, stated: float, margin: float,
                    confidence_level: float, incidence: bool) -> int | None:
    """Patients needed for the log-log interval at the same estimate to settle the verdict,
    scaling the standard error by sqrt(n / n') (the same follow-up pattern, more patients)."""
    if not (0 < surv < 1) or not np.isfinite(se_loglog) or n == 0:
        return None
    z = sps.norm.ppf(0.5 + confidence_level / 2)
    candidates = np.unique(np.round(n * np.geomspace(1, 400, 4000)).astype(int))
    sd = se_loglog * np.sqrt(n / candidates)
    low, high = surv ** np.exp(z * sd), surv ** np.exp(-z * sd)
    if incidence:
        low, high = 1 - high, 1 - low
    ok = is_settled(low, high, stated, margin)
    return int(candidates[np.argmax(ok)]) if ok.any() else None


# ---- the result --------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ClaimsResult:
    """Every claim's numbers and verdict.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per result (contract columns first: claim_id, population, n, estimate, ci_low,
        ci_high, stated, p_value, verdict, method; then statement, measure, reading, role
        (primary / secondary / sensitivity), events, margin, p_holm, n_to_settle,
        additional_to_settle, note).
    details : dict
        The statistical result objects behind the rows, by claim id (Kaplan-Meier curves,
        log-rank tests, regression fits), for figures.
    claims : tuple of Claim
    definitions : Definitions
    warnings : tuple of str
        The statistical warnings raised while evaluating (a fragile fit, an interval that could
        not be computed), each as "claim_id: message"; collected here rather than raised so
        that one claim cannot stop the report. A claim that could not be computed at all is
        ``not assessable`` with the reason in its note.
    """

    table: pd.DataFrame
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    definitions: Definitions = field(default_factory=Definitions)
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The result table (a copy)."""
        return self.table.copy()

    def verdicts(self) -> dict[str, str]:
        """Each claim's headline verdict.

        A claim with several primary rows (one per factor or measure) is ``supported`` or
        ``contradicted`` only when every row is, ``not assessable`` when none can be assessed,
        and otherwise takes its single assessable row's verdict or ``inconclusive``.
        """
        primary = self.table[self.table["role"] == "primary"]
        return {cid: _combine(list(g["verdict"])) for cid, g in primary.groupby("claim_id", sort=False)}

    def headline(self, claim_id: str) -> pd.Series:
        rows = self.table[(self.table["claim_id"] == claim_id) & (self.table["role"] == "primary")]
        return rows.iloc[0]

    def summary(self) -> list[str]:
        """One plain-language sentence per claim: stated vs observed, interval, verdict."""
        out = []
        for claim in self.claims:
            row = self.headline(claim.id)
            out.append(_sentence(claim, row, self.table[self.table["claim_id"] == claim.id]))
        return out

    def _repr_html_(self) -> str:
        show = self.table[["claim_id", "population", "reading", "measure", "n", "estimate", "ci_low", "ci_high",
                           "stated", "p_value", "p_holm", "verdict"]]
        return show.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")


LABELS = {
    "poor_general_health": "poor general health (ASA 3 or more)",
    "multiple_levels": "two or more levels treated",
    "complication": "a complication",
    "height_restoration_pct": "height restoration (percentage points)",
    "kyphotic_angle_change_deg": "kyphotic angle change (degrees)",
}


def label(term: str) -> str:
    """A reader's name for a factor or measure."""
    return LABELS.get(term, term.replace("_", " "))


def _combine(verdicts: list[str]) -> str:
    assessable = [v for v in verdicts if v != "not assessable"]
    if not assessable:
        return "not assessable"
    if len(set(assessable)) == 1 and len(assessable) == len(verdicts):
        return assessable[0]
    if len(assessable) == 1:
        return assessable[0]
    return "inconclusive"


def _sentence(claim: Claim, row: pd.Series, rows: pd.DataFrame) -> str:
    verdict = _combine(list(rows.loc[rows["role"] == "primary", "verdict"])).upper()
    if verdict == "NOT ASSESSABLE":
        return f"{claim.statement}: NOT ASSESSABLE. {row['note']}"
    measure = row["measure"]
    if claim.sense == "at_most" and measure in ("proportion", "cumulative incidence by"):
        what = "procedures" if measure == "proportion" else f"procedures, {row['reading']}"
        text = (f"{claim.statement}: {verdict}. {fmt.percent(row['estimate'])} "
                f"(95% CI {fmt.interval(row['ci_low'], row['ci_high'])}) of {int(row['n'])} {what}, "
                f"against a threshold of {fmt.percent(row['stated'])}.")
        if row["note"]:
            text += f" ({row['note']}.)"
        if row["verdict"] == "inconclusive" and pd.notna(row["additional_to_settle"]):
            text += f" About {int(row['additional_to_settle'])} more procedures at this rate would settle it."
        if claim.stated_note:
            text += f" Threshold: {claim.stated_note}"
        return text
    if measure in ("proportion", "relieved by", "still relieved at", "cumulative incidence by"):
        text = (f"{claim.statement}: {verdict}. {fmt.percent(row['estimate'])} "
                f"(95% CI {fmt.interval(row['ci_low'], row['ci_high'])}) of {int(row['n'])} patients "
                f"against {fmt.percent(row['stated'])} stated.")
        worst = rows[rows["reading"] == "worst case"]
        if len(worst) and row["population"] == "all":
            text += f" {fmt.percent(worst.iloc[0]['estimate'])} if missing scores count as failures."
        if row["verdict"] == "inconclusive" and pd.notna(row["additional_to_settle"]):
            text += f" About {int(row['additional_to_settle'])} more patients would settle it."
        return text
    if measure == "risk difference":
        adjusted = rows[rows["measure"] == "adjusted odds ratio"]
        text = (f"{claim.statement}: {verdict}. {row['note']}: {100 * row['estimate']:+.0f} percentage points "
                f"(95% CI {100 * row['ci_low']:.0f} to {100 * row['ci_high']:.0f}), {fmt.pvalue(row['p_value'])}.")
        if len(adjusted) and pd.notna(adjusted.iloc[0]["estimate"]):
            a = adjusted.iloc[0]
            text += (f" Adjusted odds ratio {fmt.number(a['estimate'])} "
                     f"({fmt.interval(a['ci_low'], a['ci_high'], as_percent=False)}).")
        return text
    if measure == "hazard ratio":
        return (f"{claim.statement}: {verdict}. Hazard ratio of relief {fmt.number(row['estimate'])} "
                f"(95% CI {fmt.interval(row['ci_low'], row['ci_high'], as_percent=False)}), {fmt.pvalue(row['p_value'])}.")
    parts = []
    for r in rows[rows["role"] == "primary"].itertuples(index=False):
        if r.verdict == "not assessable":
            parts.append(f"{label(str(r.reading))}: not assessable")
        else:
            parts.append(f"{label(str(r.reading))}: {r.measure} {fmt.number(r.estimate)} "
                         f"(95% CI {fmt.interval(r.ci_low, r.ci_high, as_percent=False)}), {r.verdict}")
    return f"{claim.statement}: {verdict}. " + "; ".join(parts) + "."


# ---- evaluation --------------------------------------------------------------------------------

class _Rows:
    def __init__(self, claim: Claim) -> None:
        self.claim = claim
        self.rows: list[dict[str, Any]] = []

    def add(self, **values: Any) -> None:
        base = {"claim_id": self.claim.id, "statement": self.claim.statement, "population": self.claim.population,
                "reading": "complete case", "role": "primary", "n": 0, "events": np.nan, "estimate": np.nan,
                "ci_low": np.nan, "ci_high": np.nan, "stated": np.nan, "margin": np.nan,
                "sense": self.claim.sense, "p_value": np.nan,
                "n_to_settle": np.nan, "additional_to_settle": np.nan, "note": "", "method": ""}
        base.update(values)
        self.rows.append(base)

    def not_assessable(self, note: str, **values: Any) -> None:
        self.add(verdict="not assessable", note=note, **values)


def _population(ep: pd.DataFrame, population: str) -> pd.DataFrame:
    return ep if population == "all" else ep[ep["procedure"] == population]


# An endpoints frame may carry frequency weights in this column: each row then stands for that many
# patients with the same values (the registry engine passes such tallies instead of one row per
# procedure). Every count below is then a sum of weights.
WEIGHT = "_weight"


def _n(frame: pd.DataFrame) -> int:
    """Patients in ``frame``: its rows, or the sum of their weights."""
    return int(frame[WEIGHT].sum()) if WEIGHT in frame else len(frame)


def _n_true(flags: pd.Series, frame: pd.DataFrame) -> int:
    """Patients whose ``flags`` (aligned with ``frame``) are true."""
    flags = flags.astype(bool)
    return int(frame.loc[flags.index, WEIGHT].to_numpy()[flags.to_numpy()].sum()) if WEIGHT in frame else int(flags.sum())


def _weights(frame: pd.DataFrame) -> np.ndarray | None:
    return frame[WEIGHT].to_numpy(dtype=float) if WEIGHT in frame else None


def _has(ep: pd.DataFrame, column: str) -> bool:
    return column in ep and ep[column].notna().any()


# The endpoint columns whose absence has a plain cause: no events table, no function scores.
_MISSING_REASON = {
    "major_complication_30d": "no events table",
    "minor_complication_30d": "no events table",
    "death_30d": "no events table",
    "new_fracture": "no events table",
    "function_regained": "no function scores",
}


def _missing(column: str) -> str:
    """Why a claim reading ``column`` is not assessable when the column is absent or all NA."""
    reason = _MISSING_REASON.get(column)
    if reason:
        return f"{reason.capitalize()} (the records have no {column.replace('_', ' ')} values)."
    return f"The records have no {column.replace('_', ' ')} field."


def _subgroups(claim: Claim, ep: pd.DataFrame) -> list[tuple[str, pd.DataFrame, float | None]]:
    """(population label, rows, stated figure) of a claim: its population first (the primary
    row), then each procedure type (``by_procedure``) and each etiology (``by_etiology``, e.g.
    osteoporotic and neoplastic fractures, whose thresholds differ); ``stated_by`` gives a
    subgroup its own figure."""
    stated_by = dict(claim.stated_by)
    base = _population(ep, claim.population)
    out = [(claim.population, base, claim.stated)]
    if claim.by_procedure:
        out += [(p, _population(ep, p), stated_by.get(p, claim.stated)) for p in ("vertebroplasty", "kyphoplasty")]
    if claim.by_etiology and "etiology" in base:
        etiology = base["etiology"]
        if isinstance(etiology.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(etiology.cat.categories):
            values = sorted(str(v) for v in etiology.dropna().unique())  # text categories compared as they are
        else:
            values = sorted(etiology.dropna().astype(str).unique())
            etiology = etiology.astype(str)
        for value in values:
            out.append((f"etiology: {value}", base[etiology == value], stated_by.get(value, claim.stated)))
    return out


def _eval_proportion(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float, d: Definitions) -> None:
    at_most = claim.sense == "at_most"
    for i, (pop, sub, stated) in enumerate(_subgroups(claim, ep)):
        role = "primary" if i == 0 else "secondary"
        common = {"population": pop, "role": role, "measure": "proportion", "stated": stated, "margin": claim.margin}
        if not _has(sub, claim.endpoint):
            rows.not_assessable(_missing(claim.endpoint), **common)
            continue
        values = sub[claim.endpoint]
        readings = [("complete case", values.dropna())]
        worst_col = f"{claim.endpoint}_worst_case"
        if worst_col in sub:
            readings.append(("worst case", sub[worst_col]))
        for reading, vals in readings:
            count = _n_true(vals, sub)
            nobs = int(sub.loc[vals.index, WEIGHT].sum()) if WEIGHT in sub else len(vals)
            r_common = {**common, "reading": reading, "role": role if reading == "complete case" else "secondary"}
            if nobs < claim.min_n:
                rows.not_assessable(f"Only {nobs} patients have this outcome (at least {claim.min_n} needed).",
                                    n=nobs, **r_common)
                continue
            if at_most:
                _add_at_most(claim, rows, details, pop, reading, count, nobs, stated, level, r_common)
                continue
            res = proportion(count, nobs, stated=stated, margin=claim.margin, confidence_level=level,
                             method=claim.method)
            details.setdefault(f"{pop}:{reading}", res)
            name = "Wilson score interval" if claim.method == "wilson" else "exact (Clopper-Pearson) interval"
            rows.add(n=nobs, events=count, estimate=res.estimate, ci_low=res.ci.low, ci_high=res.ci.high,
                     p_value=res.pvalue, n_to_settle=res.n_to_settle,
                     additional_to_settle=(res.n_to_settle - nobs) if res.n_to_settle else np.nan,
                     verdict=verdict_for_stated(res.ci.low, res.ci.high, stated, claim.margin),
                     method=f"{name}; exact binomial test", **r_common)


def _add_at_most(claim: Claim, rows: _Rows, details: dict, pop: str, reading: str, count: int, nobs: int,
                 stated: float, level: float, common: dict[str, Any]) -> None:
    """A rate against an upper threshold: the exact (Clopper-Pearson) interval, or with no event
    the one-sided exact upper limit beside the rule of three (Hanley & Lippman-Hand 1983)."""
    res = proportion(count, nobs, stated=stated, margin=claim.margin, confidence_level=level, method="exact")
    low, high = float(res.ci.low), float(res.ci.high)
    method, note = "exact (Clopper-Pearson) interval; exact binomial test", ""
    if count == 0:
        three = rule_of_three(nobs, confidence_level=level)
        details.setdefault(f"{pop}:{reading}:rule_of_three", three)
        low, high = 0.0, float(three.ci.high)
        method = "one-sided exact upper limit with no event (rule of three); exact binomial test"
        note = (f"no event in {nobs}: the rate is at most {fmt.percent(high)} "
                f"(rule of three: 3/{nobs} = {fmt.percent(three.rule_of_three)})")
    details.setdefault(f"{pop}:{reading}", res)
    settle = _n_to_settle_at_most(res.estimate, nobs, stated, level) if high >= stated > res.estimate else None
    rows.add(n=nobs, events=count, estimate=res.estimate, ci_low=low, ci_high=high, p_value=res.pvalue,
             n_to_settle=settle if settle else np.nan, additional_to_settle=(settle - nobs) if settle else np.nan,
             verdict=verdict_at_most(low, high, stated), method=method, note=note, **common)


def _n_to_settle_at_most(estimate: float, nobs: int, stated: float, level: float) -> int | None:
    """Procedures needed, at the same observed rate, for the exact upper limit to fall under the
    threshold (the size at which an ``inconclusive`` rate would be ``supported``)."""
    candidates = np.unique(np.round(nobs * np.geomspace(1, 400, 800)).astype(int))
    counts = np.round(estimate * candidates)
    alpha = 1 - level
    # two-sided exact upper limit; with no event the one-sided one, as the row itself
    tail = np.where(counts == 0, 1 - alpha, 1 - alpha / 2)
    high = np.where(counts < candidates, sps.beta.ppf(tail, counts + 1, np.maximum(candidates - counts, 1)), 1.0)
    ok = high < stated
    return int(candidates[np.argmax(ok)]) if ok.any() else None


def _eval_relief_by(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float, d: Definitions) -> None:
    sub = _population(ep, claim.population)
    sub = sub[sub["horizon_time_hours"].notna()] if _has(sub, "horizon_time_hours") else sub.iloc[:0]
    # Read the curve at the horizon plus the grace for a late 48-hour visit (Definitions).
    t = float(claim.horizon_hours) + d.relief_horizon_grace_hours
    common = {"measure": "relieved by", "stated": claim.stated, "margin": claim.margin,
              "reading": f"by {fmt.hours(claim.horizon_hours)}"}
    n_sub = _n(sub)
    if n_sub < claim.min_n:
        rows.not_assessable(f"Only {n_sub} patients have a baseline and a follow-up pain score.", n=n_sub, **common)
        return
    km = kaplan_meier(sub["horizon_time_hours"], sub["horizon_event"].astype(bool), confidence_level=level,
                      weights=_weights(sub))
    details["kaplan_meier"] = km
    point = _km_point(km, t, level)
    followed = _n_true(sub["relief_by_horizon"].notna(), sub)
    if point["at_risk"] == 0 and point["survival"] > 0:
        rows.not_assessable(f"No patient without relief was followed to {fmt.hours(claim.horizon_hours)}.",
                            n=n_sub, **common)
        return
    estimate = 1 - point["survival"]
    low, high = 1 - point["ci_high"], 1 - point["ci_low"]
    p = _km_test(point["survival"], point["se_loglog"], 1 - claim.stated)
    n_settle = _km_n_to_settle(point["survival"], point["se_loglog"], n_sub, claim.stated, claim.margin, level, True)
    events = _n_true(sub["relief_by_horizon"].fillna(False), sub)
    rows.add(n=n_sub, events=events, estimate=estimate, ci_low=low, ci_high=high, p_value=p,
             n_to_settle=n_settle if n_settle else np.nan,
             additional_to_settle=(n_settle - n_sub) if n_settle else np.nan,
             verdict=verdict_for_stated(low, high, claim.stated, claim.margin),
             method="Kaplan-Meier, Greenwood log-log interval; z-test on the log(-log) scale",
             note=f"status at {fmt.hours(claim.horizon_hours)} known for {followed} patients", **common)
    # Sensitivity: relief is only seen at visits; Turnbull's interval-censored estimate.
    left = sub["relief_interval_low_hours"].to_numpy(float)
    right = sub["relief_interval_high_hours"].to_numpy(float)
    tb = turnbull(left, right, weights=_weights(sub))
    details["turnbull"] = tb
    # Turnbull handles the visit timing itself, so it is read at the horizon, without grace.
    inc = tb.cumulative_incidence_at(float(claim.horizon_hours)).iloc[0]
    rows.add(n=n_sub, estimate=float(inc["cumulative_incidence"]), role="sensitivity", reading="interval-censored",
             stated=claim.stated, margin=claim.margin, measure="relieved by", verdict="",
             method="Turnbull NPMLE (relief between two visits)",
             note=f"identification bounds {fmt.interval(inc['bound_low'], inc['bound_high'])}")


def _eval_kept_by(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float, d: Definitions) -> None:
    sub = _population(ep, claim.population)
    common = {"measure": "still relieved at", "stated": claim.stated, "margin": claim.margin}
    times = sorted(claim.times_hours)
    if not _has(sub, "time_to_loss_hours"):
        for i, t in enumerate(times):
            rows.not_assessable("The records have no time to loss of relief.", reading=fmt.hours(t),
                                role="primary" if i == len(times) - 1 else "secondary", **common)
        return
    sub = sub[sub["time_to_loss_hours"].notna()]
    n_sub = _n(sub)
    if n_sub < claim.min_n:
        for i, t in enumerate(times):
            rows.not_assessable(f"Only {n_sub} relieved patients have a later pain score.", n=n_sub,
                                role="primary" if i == len(times) - 1 else "secondary", reading=fmt.hours(t), **common)
        return
    km = kaplan_meier(sub["time_to_loss_hours"], sub["loss_observed"].astype(bool), confidence_level=level,
                      weights=_weights(sub))
    details["kaplan_meier"] = km
    horizon = float(sub["time_to_loss_hours"].max())
    for i, t in enumerate(times):
        role = "primary" if i == len(times) - 1 else "secondary"
        point = _km_point(km, t, level)
        if horizon < t:
            rows.not_assessable(
                f"Follow-up after relief ends at {fmt.hours(horizon)} in these records, before {fmt.hours(t)}.",
                n=n_sub, role=role, reading=fmt.hours(t), **common)
            continue
        p = _km_test(point["survival"], point["se_loglog"], claim.stated)
        n_settle = _km_n_to_settle(point["survival"], point["se_loglog"], n_sub, claim.stated, claim.margin, level, False)
        rows.add(n=n_sub, events=point["at_risk"], estimate=point["survival"], ci_low=point["ci_low"],
                 ci_high=point["ci_high"], p_value=p, role=role, reading=fmt.hours(t),
                 n_to_settle=n_settle if n_settle else np.nan,
                 additional_to_settle=(n_settle - n_sub) if n_settle else np.nan,
                 verdict=verdict_for_stated(point["ci_low"], point["ci_high"], claim.stated, claim.margin),
                 method="Kaplan-Meier among the relieved, Greenwood log-log interval",
                 note=f"{point['at_risk']} patients still followed at {fmt.hours(t)}", **common)


FASTER_METHOD = ("interval-censored proportional hazards (relief placed between the last visit without it and "
                 "the first visit with it; Finkelstein 1986), Wald interval from the profile likelihood; "
                 "likelihood-ratio test")


def _faster_note(claim: Claim, hr: Any, shares: list[tuple[float, float, float]]) -> str:
    """The result in a physician's words: what was compared, which way it went, the visit shares."""
    group, reference = claim.group, claim.reference
    rate = (f"relief came at {fmt.number(hr.estimate)} times the rate seen after {reference} "
            f"(95% CI {fmt.interval(hr.ci.low, hr.ci.high, as_percent=False)}")
    verdict = verdict_for_direction(hr.ci.low, hr.ci.high, 1.0)
    if verdict == "supported":
        lead = f"{group.capitalize()} patients were relieved sooner: {rate})."
    elif verdict == "contradicted":
        lead = f"{group.capitalize()} patients were relieved later, not sooner: {rate})."
    else:
        lead = (f"These records do not show {group} patients relieved sooner: {rate}, "
                "which includes no difference).")
    seen = "; ".join(f"by {fmt.hours(t)}: {fmt.percent(a)} of {group} and {fmt.percent(b)} of {reference} patients"
                     for t, a, b in shares)
    return (f"{lead} Relieved {seen}. Pain is only scored at visits, so each patient's relief is placed "
            "between the last visit without it and the first visit with it, not at the visit time.")


def _eval_faster(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float, d: Definitions) -> None:
    # Relief is seen only at visits: compare the intervals (last visit without relief, first visit
    # with it], not the visit times, which would read the visit schedule (issue 16).
    common = {"measure": "hazard ratio", "reading": "between visits"}
    low_col, high_col = "relief_interval_low_hours", "relief_interval_high_hours"
    if not (_has(ep, low_col) and _has(ep, high_col)):
        rows.not_assessable("The records have no pain scores before and after the procedure.", **common)
        return
    sub = ep[ep["procedure"].isin([claim.group, claim.reference]) & ep[low_col].notna() & ep[high_col].notna()]
    counts = sub.groupby("procedure")[WEIGHT].sum().astype(int) if WEIGHT in sub else sub["procedure"].value_counts()
    if min(counts.get(claim.group, 0), counts.get(claim.reference, 0)) < claim.min_n:
        rows.not_assessable(f"Fewer than {claim.min_n} patients in one of the groups "
                            f"({claim.group}: {counts.get(claim.group, 0)}, {claim.reference}: "
                            f"{counts.get(claim.reference, 0)}).", n=_n(sub), **common)
        return
    w = _weights(sub)
    hr = interval_hazard_ratio(sub[low_col], sub[high_col], sub["procedure"], group=claim.group,
                               reference=claim.reference, confidence_level=level, weights=w)
    tbs = {}
    for g in (claim.group, claim.reference):
        mask = (sub["procedure"] == g).to_numpy()
        tbs[g] = turnbull(sub[low_col].to_numpy(float)[mask], sub[high_col].to_numpy(float)[mask],
                          weights=None if w is None else w[mask])
    details.update(interval_hazard_ratio=hr, turnbull=tbs)
    times = claim.times_hours or (d.relief_horizon_hours,)
    incidence = {g: tb.cumulative_incidence_at(np.asarray(times, float)) for g, tb in tbs.items()}
    shares = [(float(t), float(incidence[claim.group]["cumulative_incidence"].iloc[i]),
               float(incidence[claim.reference]["cumulative_incidence"].iloc[i])) for i, t in enumerate(times)]
    rows.add(n=hr.n, events=hr.n_events, estimate=hr.estimate, ci_low=hr.ci.low, ci_high=hr.ci.high,
             p_value=hr.pvalue, verdict=verdict_for_direction(hr.ci.low, hr.ci.high, 1.0), method=FASTER_METHOD,
             note=_faster_note(claim, hr, shares), **common)
    for i, t in enumerate(times):
        for g in (claim.group, claim.reference):
            inc = incidence[g].iloc[i]
            rows.add(population=g, role="secondary", measure="relieved by", reading=f"by {fmt.hours(t)}",
                     n=int(round(tbs[g].n)), estimate=float(inc["cumulative_incidence"]), verdict="",
                     method="Turnbull estimate (relief placed between two visits)",
                     note=f"identification bounds {fmt.interval(inc['bound_low'], inc['bound_high'])}")


INCIDENCE_METHOD = ("Aalen-Johansen cumulative incidence, death as a competing risk; variance as R survfit "
                    "(infinitesimal jackknife), log interval; z-test on the log scale")


def _horizon_days(claim: Claim, d: Definitions) -> float:
    """The claim's own horizon, else the definitions' new-fracture horizon (365 days)."""
    if claim.horizon_days is not None:
        return float(claim.horizon_days)
    return float(getattr(d, "new_fracture_horizon_days", 365.0))


def _eval_incidence_by(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float,
                       d: Definitions) -> None:
    """Cumulative incidence of ``<endpoint>_status == 1`` by the horizon, other positive codes
    (death) competing, 0 censored at ``<endpoint>_days``: Aalen-Johansen with its interval,
    against the stated figure (``sense = "at_most"``: ``verdict_at_most``)."""
    days_col, status_col = f"{claim.endpoint}_days", f"{claim.endpoint}_status"
    horizon = _horizon_days(claim, d)
    at_most = claim.sense == "at_most"
    for i, (pop, sub, stated) in enumerate(_subgroups(claim, ep)):
        common = {"population": pop, "role": "primary" if i == 0 else "secondary", "stated": stated,
                  "margin": claim.margin, "measure": "cumulative incidence by", "reading": f"by day {horizon:g}"}
        if not (_has(sub, days_col) and _has(sub, status_col)):
            rows.not_assessable(_missing(claim.endpoint), **common)
            continue
        sub = sub[sub[days_col].notna() & sub[status_col].notna()]
        n_sub = _n(sub)
        if n_sub < claim.min_n:
            rows.not_assessable(f"Only {n_sub} procedures have follow-up for {claim.endpoint.replace('_', ' ')}s "
                                f"(at least {claim.min_n} needed).", n=n_sub, **common)
            continue
        status = sub[status_col].astype(float).astype(int).to_numpy()
        res = cumulative_incidence(sub[days_col].to_numpy(float), status, event_of_interest=1,
                                   confidence_level=level, conf_type="log", weights=_weights(sub))
        details.setdefault(pop, res)
        point = res.at(horizon).iloc[0]
        last = float(sub[days_col].max())
        events = int(round(float(res.table.loc[res.table["time"] <= horizon, "events"].sum())))
        if last < horizon:
            rows.not_assessable(f"Follow-up ends at day {last:g} in these records, before day {horizon:g}.",
                                n=n_sub, events=events, **common)
            continue
        estimate, se = float(point["cumulative_incidence"]), float(point["se"])
        low, high = float(point["ci_low"]), float(point["ci_high"])
        method, note, p = INCIDENCE_METHOD, f"{int(point['at_risk'])} procedures still followed at day {horizon:g}", np.nan
        if events == 0:
            # F = 0 has no log interval (R: NA); the procedures followed to the horizon without a
            # new fracture bound it from above as in the rule of three (one-sided exact limit)
            followed = int(point["at_risk"])
            low, high = 0.0, float(rule_of_three(max(followed, 1), confidence_level=level).ci.high)
            method = "no event by the horizon: one-sided exact upper limit over the procedures followed to it"
            note = f"no {claim.endpoint.replace('_', ' ')} by day {horizon:g} in {followed} procedures followed to it"
        elif 0 < estimate < 1 and se > 0:
            z = (math.log(estimate) - math.log(stated)) / (se / estimate)
            p = float(2 * sps.norm.sf(abs(z)))
        verdict = (verdict_at_most(low, high, stated) if at_most
                   else verdict_for_stated(low, high, stated, claim.margin))
        rows.add(n=n_sub, events=events, estimate=estimate, ci_low=low, ci_high=high, p_value=p,
                 verdict=verdict, method=method, note=note, **common)


def _covariates(ep: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame | None:
    """The adjustment covariates that exist and vary; booleans as 0/1, text as categories."""
    keep = {}
    for name in names:
        if name not in ep or ep[name].nunique(dropna=True) < 2:
            continue
        col = ep[name]
        if pd.api.types.is_bool_dtype(col) or str(col.dtype) == "boolean":
            col = col.astype("Float64").astype(float)
        elif not pd.api.types.is_numeric_dtype(col):
            # text as a categorical whose levels are sorted as the regression sorts text (its first
            # level the reference): grouping and dummy coding then work on integer codes
            col = col.astype("category").cat.remove_unused_categories()
            col = col.cat.reorder_categories(sorted(col.cat.categories, key=str))
        else:
            col = col.astype(float)
        keep[name] = col
    return pd.DataFrame(keep, index=ep.index) if keep else None


_MIN_EVENTS_PER_TERM = 5


def _eval_difference(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float, d: Definitions) -> None:
    sub = _population(ep, claim.population)
    common = {"measure": "risk difference"}
    if not _has(sub, claim.exposure) or not _has(sub, claim.endpoint):
        rows.not_assessable(f"The records lack the fields for {claim.exposure.replace('_', ' ')}.", **common)
        return
    both = sub[sub[claim.exposure].notna() & sub[claim.endpoint].notna()]
    exposed = both[claim.exposure].astype(bool)
    y = both[claim.endpoint].astype(bool)
    n1, n2 = _n_true(exposed, both), _n_true(~exposed, both)
    if min(n1, n2) < claim.min_n:
        rows.not_assessable(f"Too few patients in a group ({n1} with, {n2} without {claim.exposure.replace('_', ' ')}).",
                            n=n1 + n2, **common)
        return
    with warnings.catch_warnings():
        # The only warning here is the 2x2 odds ratio's zero-cell correction; the claim reports the
        # difference (and an adjusted odds ratio below), not that odds ratio.
        warnings.simplefilter("ignore", StatisticalWarning)
        rd = risk_difference(_n_true(y & exposed, both), n1, _n_true(y & ~exposed, both), n2, confidence_level=level)
    details["risk_difference"] = rd
    rows.add(n=n1 + n2, events=_n_true(y, both), estimate=rd.estimate, ci_low=rd.ci.low, ci_high=rd.ci.high,
             p_value=rd.pvalue, verdict=verdict_for_direction(rd.ci.low, rd.ci.high, 0.0),
             method="Newcombe hybrid score interval; Fisher exact test",
             note=f"{fmt.percent(rd.count1 / rd.nobs1)} of {n1} vs {fmt.percent(rd.count2 / rd.nobs2)} of {n2}",
             **common)
    worst_col = f"{claim.endpoint}_worst_case"
    if worst_col in sub:
        wsub = sub[sub[claim.exposure].notna()]
        wexp, wy = wsub[claim.exposure].astype(bool), wsub[worst_col].astype(bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)  # as above: the unused 2x2 odds ratio
            wrd = risk_difference(_n_true(wy & wexp, wsub), _n_true(wexp, wsub), _n_true(wy & ~wexp, wsub),
                                  _n_true(~wexp, wsub), confidence_level=level)
        rows.add(n=_n(wsub), events=_n_true(wy, wsub), estimate=wrd.estimate, ci_low=wrd.ci.low, ci_high=wrd.ci.high,
                 p_value=wrd.pvalue, verdict=verdict_for_direction(wrd.ci.low, wrd.ci.high, 0.0), role="secondary",
                 reading="worst case", method="Newcombe hybrid score interval; Fisher exact test", **common)
    covs = _covariates(both, tuple(a for a in claim.adjust if a != claim.exposure))
    # Events per variable: with fewer than 5 of the rarer outcome per model term the adjusted odds
    # ratio is unreliable (Vittinghoff & McCulloch 2007, Am J Epidemiol 165:710, relaxing the
    # 10 of Peduzzi 1996, J Clin Epidemiol 49:1373), and the penalised fit only returns noise,
    # slowly; say so instead of fitting.
    terms = 1 + (0 if covs is None else sum(
        1 if pd.api.types.is_numeric_dtype(covs[c]) else max(covs[c].nunique(dropna=True) - 1, 0) for c in covs))
    rarer = min(_n_true(y, both), _n(both) - _n_true(y, both))
    if rarer < _MIN_EVENTS_PER_TERM * terms:
        rows.not_assessable(
            f"Too few events to adjust for {terms - 1} covariate terms: {rarer} of the rarer outcome, "
            f"{_MIN_EVENTS_PER_TERM} per model term needed (Vittinghoff & McCulloch 2007).",
            n=_n(both), role="secondary", reading="adjusted", measure="adjusted odds ratio")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticalWarning)
        fit = odds_ratios(y.astype(int), exposed.astype(int).rename(claim.exposure), covariates=covs,
                          confidence_level=level, weights=_weights(both))
    details["odds_ratios"] = fit
    term = fit.table[fit.table["role"] == "exposure"].iloc[0]
    names = ", ".join(covs.columns) if covs is not None else "nothing"
    rows.add(n=fit.n, events=fit.n_events, estimate=term["odds_ratio"], ci_low=term["ci_low"], ci_high=term["ci_high"],
             p_value=term["pvalue"], verdict=verdict_for_direction(term["ci_low"], term["ci_high"], 1.0),
             role="secondary", reading="adjusted", measure="adjusted odds ratio",
             method=f"{fit.method} regression adjusted for {names}",
             note="; ".join(str(w.message) for w in caught))


def _eval_odds_ratios(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float, d: Definitions) -> None:
    sub = _population(ep, claim.population)
    common = {"measure": "odds ratio"}
    present = [e for e in claim.exposures if _has(sub, e) and sub[e].nunique(dropna=True) > 1]
    for e in claim.exposures:
        if e not in present:
            rows.not_assessable(f"The records have no varying {e.replace('_', ' ')} field.", reading=e, **common)
    if not present or not _has(sub, claim.endpoint):
        return
    data = sub[[claim.endpoint, *present, *([WEIGHT] if WEIGHT in sub else [])]].dropna()
    if _n(data) < claim.min_n:
        for e in present:
            rows.not_assessable(f"Only {_n(data)} patients have all the fields.", reading=e, n=_n(data), **common)
        return
    exposures = pd.DataFrame({e: data[e].astype(float) for e in present})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticalWarning)
        fit = odds_ratios(data[claim.endpoint].astype(int), exposures, confidence_level=level, weights=_weights(data))
    details["odds_ratios"] = fit
    note = "; ".join(str(w.message) for w in caught)
    for term in fit.table[fit.table["role"] == "exposure"].itertuples(index=False):
        rows.add(n=fit.n, events=fit.n_events, estimate=term.odds_ratio, ci_low=term.ci_low, ci_high=term.ci_high,
                 p_value=term.pvalue, verdict=verdict_for_direction(term.ci_low, term.ci_high, 1.0),
                 reading=term.term, method=f"{fit.method} regression, factors mutually adjusted", note=note, **common)


def _eval_mean_difference(claim: Claim, ep: pd.DataFrame, rows: _Rows, details: dict, level: float, d: Definitions) -> None:
    better = claim.better or ("higher",) * len(claim.measures)
    for m, side in zip(claim.measures, better):
        common = {"measure": "mean difference", "reading": m}
        if not _has(ep, m):
            rows.not_assessable(f"The records have no {m.replace('_', ' ')} field (imaging).", **common)
            continue
        cols = [m, WEIGHT] if WEIGHT in ep else [m]
        a = ep.loc[ep["procedure"] == claim.group, cols].dropna()
        b = ep.loc[ep["procedure"] == claim.reference, cols].dropna()
        na, nb = _n(a), _n(b)
        if min(na, nb) < claim.min_n:
            rows.not_assessable(f"Too few measurements ({na} {claim.group}, {nb} {claim.reference}).",
                                n=na + nb, **common)
            continue
        if WEIGHT in ep:
            estimate, low, high, pvalue = _welch_weighted(a[m].to_numpy(float), _weights(a), b[m].to_numpy(float),
                                                          _weights(b), level)
        else:
            a, b = a[m].to_numpy(float), b[m].to_numpy(float)
            test = sps.ttest_ind(a, b, equal_var=False)
            ci = test.confidence_interval(confidence_level=level)
            estimate, low, high, pvalue = float(a.mean() - b.mean()), float(ci.low), float(ci.high), float(test.pvalue)
        # a claim that lower is better is judged on the negated scale
        verdict = verdict_for_direction(low, high, 0.0) if side == "higher" else verdict_for_direction(-high, -low, 0.0)
        rows.add(n=na + nb, estimate=estimate, ci_low=low, ci_high=high,
                 p_value=pvalue, verdict=verdict, method="Welch two-sample t interval",
                 note=f"{claim.group} minus {claim.reference}; {side} is better", **common)


def _welch_weighted(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray,
                    level: float) -> tuple[float, float, float, float]:
    """Welch's t interval and test from frequency-weighted values (scipy.stats.ttest_ind's formulas,
    equal_var=False: the mean difference, its interval and the two-sided p-value)."""
    n1, n2 = wa.sum(), wb.sum()
    m1, m2 = wa @ a / n1, wb @ b / n2
    v1, v2 = wa @ (a - m1) ** 2 / (n1 - 1), wb @ (b - m2) ** 2 / (n2 - 1)
    se2 = v1 / n1 + v2 / n2
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    diff, se = float(m1 - m2), float(math.sqrt(se2))
    half = float(sps.t.ppf(0.5 + level / 2, df)) * se
    return diff, diff - half, diff + half, float(2 * sps.t.sf(abs(diff / se), df))


_EVALUATORS = {
    "proportion": _eval_proportion, "relief_by": _eval_relief_by, "kept_by": _eval_kept_by, "faster": _eval_faster,
    "difference": _eval_difference, "odds_ratios": _eval_odds_ratios, "mean_difference": _eval_mean_difference,
    "incidence_by": _eval_incidence_by,
}


def evaluate_claims(
    cohort: Cohort | pd.DataFrame,
    definitions: Definitions | None = None,
    claims: str | Path | tuple[Claim, ...] | list[Claim] | None = None,
    *,
    confidence_level: float = 0.95,
) -> ClaimsResult:
    """Evaluate every claim of the registry against the records.

    Parameters
    ----------
    cohort : Cohort or pandas.DataFrame
        A cohort from :func:`outcomes.load_records`, or endpoints already derived from one (for
        example one physician's rows). An endpoints frame may carry a ``_weight`` column of
        frequency weights (each row standing for that many patients with the same values, as
        the tallies of :func:`outcomes.evaluate_registry`); every count and estimator then uses
        them.
    definitions : Definitions, optional
        Defaults to ``Definitions()``.
    claims : path to a TOML file, or a sequence of Claim, optional
        Defaults to the shipped registry; a file adds to, changes or drops from it.
    confidence_level : float, default 0.95

    Returns
    -------
    ClaimsResult
        ``.to_frame()`` has the contract columns ``claim_id, population, n, estimate, ci_low,
        ci_high, stated, p_value, verdict, method`` and more; ``p_holm`` holds Holm-adjusted
        p-values across the primary results.

    Examples
    --------
    >>> from outcomes.synthetic import simulate
    >>> from outcomes import load_records
    >>> procs, scores, truth = simulate(600, seed=3)
    >>> result = evaluate_claims(load_records(procs, scores))
    >>> sorted(set(result.verdicts()) ) == sorted(c.id for c in load_claims())
    True
    """
    d = definitions or Definitions()
    if isinstance(cohort, Cohort):
        ep = derive_endpoints(cohort, d)
    elif isinstance(cohort, pd.DataFrame) and "time_to_relief_hours" in cohort:
        ep = cohort
    else:
        raise InputError(f"`cohort` must be a Cohort or a frame from derive_endpoints; got {type(cohort).__name__}.")
    registry = resolve_claims(claims)
    if not 0 < confidence_level < 1:
        raise InputError(f"`confidence_level` must be between 0 and 1; got {confidence_level!r}.")

    coded: dict[str, pd.Series] = {}

    def column(name: str) -> pd.Series:
        # text columns (procedure, etiology, sex, ...) as categories, made once: the claims' row
        # filters, comparisons and group-bys then work on small integer codes, not on strings
        if name not in coded:
            values = ep[name]
            if isinstance(values.dtype, pd.StringDtype) or (
                    values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string"):
                values = values.astype("category")
            coded[name] = values
        return coded[name]

    def frame_for(claim: Claim) -> pd.DataFrame:
        # only the columns the claim reads: its row filters then copy a few columns, not all
        names = [c for c in dict.fromkeys(("procedure", *claim_columns(claim), WEIGHT)) if c in ep]
        return pd.DataFrame({name: column(name) for name in names}, index=ep.index, copy=False)

    return evaluate_claim_frames(frame_for, registry, d, confidence_level)


def claim_columns(claim: Claim) -> tuple[str, ...]:
    """The endpoint columns a claim's evaluation reads, besides "procedure" (and the weights)."""
    if claim.kind == "proportion":
        return (claim.endpoint, f"{claim.endpoint}_worst_case", *(("etiology",) if claim.by_etiology else ()))
    if claim.kind == "incidence_by":
        return (f"{claim.endpoint}_days", f"{claim.endpoint}_status", *(("etiology",) if claim.by_etiology else ()))
    if claim.kind == "relief_by":
        return ("horizon_time_hours", "horizon_event", "relief_by_horizon", "relief_interval_low_hours",
                "relief_interval_high_hours")
    if claim.kind == "kept_by":
        return ("time_to_loss_hours", "loss_observed")
    if claim.kind == "faster":
        return ("relief_interval_low_hours", "relief_interval_high_hours")
    if claim.kind == "difference":
        return (claim.exposure, claim.endpoint, f"{claim.endpoint}_worst_case", *claim.adjust)
    if claim.kind == "odds_ratios":
        return (claim.endpoint, *claim.exposures)
    return tuple(claim.measures)


def evaluate_claim_frames(frame_for: Any, registry: tuple[Claim, ...], d: Definitions,
                          confidence_level: float) -> ClaimsResult:
    """Evaluate each claim on ``frame_for(claim)`` and assemble the result with Holm-adjusted p-values.

    Parameters
    ----------
    frame_for : callable
        ``frame_for(claim)`` gives the endpoints, or tallies with a ``_weight`` column of the
        columns the claim reads (:func:`claim_columns`), as :func:`outcomes.evaluate_registry`
        makes them where the records live.
    registry : tuple of Claim
    d : Definitions
    confidence_level : float

    Returns
    -------
    ClaimsResult
    """
    all_rows: list[dict[str, Any]] = []
    details: dict[str, dict[str, Any]] = {}
    collected: list[str] = []
    for claim in registry:
        rows = _Rows(claim)
        claim_details: dict[str, Any] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                _EVALUATORS[claim.kind](claim, frame_for(claim), rows, claim_details, confidence_level, d)
            except Exception as exc:  # noqa: BLE001 -- one claim that cannot be computed must not stop the others
                rows.rows, claim_details = [], {}
                reason = " ".join(str(exc).split()) or type(exc).__name__
                rows.not_assessable(f"Could not be computed: {reason}", **_not_assessable_fields(claim))
        for w in caught:
            if issubclass(w.category, RuntimeWarning):  # StatisticalWarning and numerical ones
                text = f"{claim.id}: {w.message}"
                if text not in collected:
                    collected.append(text)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        all_rows.extend(rows.rows)
        details[claim.id] = claim_details
    table = pd.DataFrame(all_rows)
    primary = (table["role"] == "primary") & table["p_value"].notna()
    table["p_holm"] = np.nan
    if primary.any():
        table.loc[primary, "p_holm"] = holm(table.loc[primary, "p_value"].to_numpy(float))
    table = table[RESULT_COLUMNS]
    return ClaimsResult(table=table, details=details, claims=registry, definitions=d, warnings=tuple(collected))


_MEASURES = {"proportion": "proportion", "relief_by": "relieved by", "kept_by": "still relieved at",
             "faster": "hazard ratio", "difference": "risk difference", "odds_ratios": "odds ratio",
             "mean_difference": "mean difference", "incidence_by": "cumulative incidence by"}


def _not_assessable_fields(claim: Claim) -> dict[str, Any]:
    """The fields of the one row standing for a claim that could not be computed."""
    out: dict[str, Any] = {"measure": _MEASURES[claim.kind]}
    if claim.stated is not None:
        out.update(stated=claim.stated, margin=claim.margin)
    return out
