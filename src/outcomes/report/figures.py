"""The report's figures from results (drawn by :mod:`outcomes.plots` and :mod:`outcomes.plots_monitoring`),
embedded as inline PNGs, each with an alternative text that says what the figure shows."""

from __future__ import annotations

import base64
import io
from typing import Any

import pandas as pd

from .. import formatting as fmt
from ..cohort import Cohort
from ..definitions import Definitions

__all__ = [
    "claims_figure",
    "durability_figure",
    "embed",
    "flow_figure",
    "fracture_age_figure",
    "overnight_figure",
    "relief_figure",
    "relief_km",
]


def embed(fig: Any, *, dpi: int = 110) -> str | None:
    """A matplotlib Figure as a ``data:image/png;base64,...`` URI (None for no figure); the figure is closed.

    The report must be one file that reads offline, so every figure travels inside the HTML.
    """
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def flow_figure(cohort: Cohort, *, suppress_below: int = 0) -> Any:
    """:func:`outcomes.plots.records_flow` of a cohort."""
    from ..plots import records_flow
    from .tables import protected_flow
    flow, exclusions = protected_flow(cohort, suppress_below)
    return records_flow(flow, exclusions, suppress_below=suppress_below)


def claims_figure(claims: Any, *, suppress_below: int = 0) -> Any:
    """:func:`outcomes.plots.claims_chart` of a ClaimsResult."""
    from ..plots import claims_chart
    return claims_chart(claims, suppress_below=suppress_below)


def stated_of(claims: Any, kind: str, default: float | None = None) -> float | None:
    for claim in getattr(claims, "claims", ()):
        if claim.kind == kind and claim.stated is not None:
            return float(claim.stated)
    return default


def relief_km(endpoints: pd.DataFrame) -> Any:
    """The relief curve drawn in the report: on the horizon reading (a patient who missed the
    48-hour visit is censored at their last earlier visit), so the curve at 48 hours is the
    claim's own estimate."""
    from ..survival import kaplan_meier
    time, event = (("horizon_time_hours", "horizon_event") if "horizon_time_hours" in endpoints
                   else ("time_to_relief_hours", "relief_observed"))
    ok = endpoints[endpoints[time].notna()]
    if len(ok) < 2:
        return None
    return kaplan_meier(ok[time], ok[event].astype(bool))


def relief_figure(endpoints: pd.DataFrame, *, claims: Any = None, reference: pd.DataFrame | None = None,
                  label: str | None = None, suppress_below: int = 0) -> Any:
    """Cumulative relief by procedure with the between-visits estimate beside it.

    With ``reference`` (the whole clinic's endpoints) and ``label`` (a physician), draws that
    physician's curve over the clinic's instead. Returns None when too few patients have scores.
    """
    from ..plots import relief_curves
    from ..survival import turnbull

    stated = stated_of(claims, "relief_by")
    horizon = claims.definitions.relief_horizon_hours if claims is not None else 48.0
    grace = claims.definitions.relief_horizon_grace_hours if claims is not None else None
    if reference is not None:
        mine, clinic = relief_km(endpoints), relief_km(reference)
        if mine is None or clinic is None:
            return None
        return relief_curves({label or "selected": mine}, reference=clinic, reference_label="whole clinic",
                             stated=stated, horizon_hours=horizon, grace_hours=grace, suppress_below=suppress_below)
    curves, tbs = {}, {}
    for procedure in ("vertebroplasty", "kyphoplasty"):
        sub = endpoints[(endpoints["procedure"] == procedure) & endpoints["time_to_relief_hours"].notna()]
        if len(sub) < 2:
            continue
        curves[procedure] = relief_km(sub)
        tbs[procedure] = turnbull(sub["relief_interval_low_hours"].to_numpy(float),
                                  sub["relief_interval_high_hours"].to_numpy(float))
    if not curves:
        return None
    return relief_curves(curves, turnbull=tbs, stated=stated, horizon_hours=horizon, grace_hours=grace,
                         suppress_below=suppress_below)


def relief_alt(endpoints: pd.DataFrame, claims: Any = None) -> str:
    """What the relief figure shows, in words (its alternative text)."""
    d = claims.definitions if claims is not None else Definitions()
    horizon, read_at = d.relief_horizon_hours, d.relief_horizon_evaluated_hours  # a 48-hour visit may be late
    bits = []
    for procedure in ("vertebroplasty", "kyphoplasty"):
        sub = endpoints[endpoints["procedure"] == procedure]
        km = relief_km(sub) if len(sub) else None
        if km is not None:
            bits.append(f"{procedure} rises to {fmt.percent(1 - km.survival_at(read_at))} relieved by "
                        f"{fmt.hours(horizon)}")
    return ("Line chart of the share of procedures followed by relief over the first week: " + "; ".join(bits) + "."
            if bits else "Line chart of the share relieved over the first week.")


def fracture_age_figure(endpoints: pd.DataFrame, *, claims: Any = None, suppress_below: int = 0) -> Any:
    """Success by fracture age in weekly bins (None when no fracture ages are recorded)."""
    from ..plots import success_by_fracture_age
    if "fracture_age_days" not in endpoints or endpoints["fracture_age_days"].isna().all():
        return None
    d = claims.definitions if claims is not None else Definitions()
    stated = None
    for claim in getattr(claims, "claims", ()):
        if claim.kind == "proportion" and claim.endpoint == "success":
            stated = claim.stated
    return success_by_fracture_age(endpoints, early_max_days=d.early_max_fracture_age_days, stated=stated,
                                   suppress_below=suppress_below)


def overnight_figure(claims: Any, *, claim_id: str = "overnight_reasons") -> Any:
    """Forest plot of the overnight-stay odds ratios (None when they could not be estimated)."""
    from ..plots import odds_ratio_forest
    fit = claims.details.get(claim_id, {}).get("odds_ratios")
    return None if fit is None else odds_ratio_forest(fit)


def durability_figure(claims: Any, *, claim_id: str = "durable_relief", suppress_below: int = 0) -> Any:
    """Relief kept over time among the relieved (None when not estimable)."""
    from ..plots import durability_curve
    km = claims.details.get(claim_id, {}).get("kaplan_meier")
    if km is None:
        return None
    claim = next((c for c in claims.claims if c.id == claim_id), None)
    times = claim.times_hours if claim is not None else (8766.0, 26298.0)
    return durability_curve(km, times_hours=times, stated=getattr(claim, "stated", None), suppress_below=suppress_below)
