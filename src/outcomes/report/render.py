"""Rendering: the report pages from Jinja2 templates (autoescaped), to HTML or PDF.

:func:`build_report` computes everything through the public API and fills
``templates/clinic.html.j2`` or ``templates/physician.html.j2``; no HTML is assembled in
Python, and every text from the records is escaped by the template engine. :func:`render_report`
writes the page (``.html``) or prints it (``.pdf``, with page numbers) and, with ``tables``,
writes the tables and figure data to an ``.xlsx`` workbook.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from ..cohort import Cohort
from ..definitions import Definitions
from ..exceptions import IdentifiersAllowedWarning, InputError, OutcomesError, StatisticalWarning
from ..limits import check_output
from . import sections as s
from .figures import (claims_figure, durability_figure, flow_figure, fracture_age_figure,
                      relief_alt, relief_figure)
from .safety import physician_safety_context, safety_context
from .suppression import check_suppress_below
from .tables import case_mix_table, discharge_table, exclusions_table, flow_table, scorecard, table_one, write_tables

__all__ = [
    "build_report",
    "claim_html",
    "comparison_html",
    "evidence_html",
    "executive_html",
    "figure_html",
    "header_html",
    "is_synthetic",
    "limitations_html",
    "methods_html",
    "monitoring_html",
    "physician_endpoints",
    "records_html",
    "render_report",
    "stamp_html",
    "summary_html",
    "table_html",
    "write_pdf",
]


@lru_cache(maxsize=1)
def environment() -> Any:
    """The Jinja2 environment of the report templates, autoescaping every value."""
    import jinja2
    return jinja2.Environment(loader=jinja2.PackageLoader("outcomes.report", "templates"),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.ChainableUndefined)


def _part(kind: str, value: Any, **extra: Any) -> str:
    return environment().get_template("part.html.j2").render(kind=kind, value=value, **extra).strip()


# ---- small helpers --------------------------------------------------------------------------------

def is_synthetic(data: Cohort | pd.DataFrame) -> bool:
    """Whether the records are the package's synthetic demo data (a ``site_id`` starting "synthetic").

    Examples
    --------
    >>> import pandas as pd
    >>> is_synthetic(pd.DataFrame({"site_id": ["synthetic-north", "synthetic-south"]}))
    True
    >>> is_synthetic(pd.DataFrame({"site_id": ["Northside"]})), is_synthetic(pd.DataFrame({"x": [1]}))
    (False, False)
    """
    frame = data.procedures if isinstance(data, Cohort) else data
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"`data` must be a Cohort or a DataFrame; got {type(data).__name__}.")
    if "site_id" not in frame:
        return False
    sites = frame["site_id"].dropna().astype(str).str.strip().str.lower()
    return bool(sites.str.startswith("synthetic").any())


def physician_endpoints(endpoints: pd.DataFrame, physician_id: str) -> pd.DataFrame:
    """One physician's rows of :func:`derive_endpoints`, with a clear error for an unknown id.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"physician_id": ["D1", "D2", "D1"], "x": [1, 2, 3]})
    >>> physician_endpoints(ep, "D1")["x"].tolist()
    [1, 3]
    """
    if "physician_id" not in endpoints or endpoints["physician_id"].isna().all():
        raise InputError("`physician_id` must name a physician in the records; got "
                         f"{physician_id!r}, but the procedures have no physician_id column.")
    ids = endpoints["physician_id"].astype("string")
    known = sorted(ids.dropna().unique())
    if str(physician_id) not in known:
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise InputError(f"`physician_id` must be one of {shown}; got {physician_id!r}.")
    return endpoints[ids == str(physician_id)].reset_index(drop=True)


def table_html(frame: pd.DataFrame, *, caption: str | None = None, index: bool = False,
               css_class: str | None = None) -> str:
    """A formatted frame as the report's HTML table (every cell escaped by the template)."""
    return _part("table", s.table(frame, caption=caption, css_class=css_class, index=index))


def figure_html(fig: Any, *, caption: str | None = None, alt: str | None = None, dpi: int = 110) -> str:
    """Embed a matplotlib Figure as an inline PNG with a caption and an alternative text; a note when None.

    ``alt`` should say what the figure shows (its values), not repeat the caption.
    """
    from .figures import embed
    return _part("figure", {"src": embed(fig, dpi=dpi), "caption": caption or "", "alt": alt or caption or "figure"})


def header_html(cohort: Cohort, endpoints: pd.DataFrame | None = None, *, clinic_name: str | None = None,
                physician_id: str | None = None, suppress_below: int = 0, dates: str = "full") -> str:
    """Title, dates and counts ("800 procedures in 771 patients, 6 physicians"), banners, privacy warnings.

    Every header states the data class (:func:`outcomes.privacy.data_class`); with ``dates="year"``
    the date range names years only.
    """
    return _part("header", s.header_context(cohort, endpoints, clinic_name=clinic_name, physician_id=physician_id,
                                            suppress_below=suppress_below, synthetic=is_synthetic(cohort),
                                            dates=dates))


def executive_html(claims: Any, *, funnel: Any = None, cusum_signals: int | None = None) -> str:
    """The executive summary: claims met, not met and undecided, and what to look at next."""
    return _part("executive", s.executive_context(claims, funnel=funnel, cusum_signals=cusum_signals))


def summary_html(claims: Any, *, suppress_below: int = 0) -> str:
    """The first screen: one block per claim -- statement, verdict word and icon, numbers, why, a strip.

    Examples
    --------
    >>> from outcomes import evaluate_claims, load_records
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(300, seed=1)
    >>> page = summary_html(evaluate_claims(load_records(procs, scores)))
    >>> page.count('class="claim"') == 12 and "stated 90%" in page
    True
    """
    below = check_suppress_below(suppress_below)
    blocks = [s.claim_context(claims, c.id, suppress_below=below) for c in claims.claims]
    return _part("summary", blocks, title="What the clinic states, and what its records show")


def claim_html(claims: Any, claim_id: str, *, suppress_below: int = 0) -> str:
    """One claim's block (statement, verdict, numbers, why the verdict follows, strip).

    Examples
    --------
    >>> from outcomes import evaluate_claims, load_records
    >>> from outcomes.synthetic import simulate
    >>> procs, scores, _ = simulate(300, seed=1)
    >>> "stated 50%" in claim_html(evaluate_claims(load_records(procs, scores)), "outpatient")
    True
    """
    return _part("claim", s.claim_context(claims, claim_id, suppress_below=suppress_below))


def comparison_html(own: Any, clinic: Any, *, label: str, suppress_below: int = 0) -> str:
    """A physician's first screen: each claim with the physician, the clinic and the stated figure side by side."""
    return _part("summary", s.comparison_context(own, clinic, label=label, suppress_below=suppress_below),
                 title=f"What the clinic states, and what {label}'s records show")


def records_html(cohort: Cohort, *, suppress_below: int = 0) -> str:
    """Rows read / excluded / analysed, exclusions by reason (protected together), data-quality remarks."""
    return _part("records", _records(cohort, check_suppress_below(suppress_below), figure=False))


def evidence_html(claims: Any, evidence: pd.DataFrame | None = None, *, suppress_below: int = 0) -> str:
    """Published trial and registry figures beside each claim's result, with citations."""
    return _part("evidence", s.evidence_context(claims, evidence, suppress_below=suppress_below))


def methods_html(claims: Any, definitions: Definitions | None = None) -> str:
    """The appendix of methods: definitions in words, methods by name, the verdict rule, software versions."""
    return _part("methods", s.methods_context(claims, definitions))


def limitations_html(cohort: Cohort, endpoints: pd.DataFrame, definitions: Definitions | None = None, *,
                     claims: Any = None, notes: Iterable[str] = (), suppress_below: int = 0) -> str:
    """Limitations written from the data."""
    return _part("limitations", s.limitations(cohort, endpoints, definitions, claims=claims, notes=notes,
                                              suppress_below=suppress_below))


def stamp_html(cohort: Cohort, definitions: Definitions | None = None, *, today: date | None = None) -> str:
    """The footer stamp: package version, SHA-256 of each input (by file name), definitions digest, date."""
    return _part("stamp", s.stamp_context(cohort, definitions, today=today))


def monitoring_html(endpoints: pd.DataFrame, claims: Any = None, *, physician_id: str | None = None,
                    suppress_below: int = 0, dates: str = "full") -> str:
    """The monitoring section: funnel plot by physician, control chart and CUSUM (``dates="year"``: years only)."""
    return _part("monitoring", s.monitoring_context(endpoints, claims, physician_id=physician_id,
                                                    suppress_below=suppress_below, dates=dates))


def _records(cohort: Cohort, below: int, *, figure: bool = True) -> dict:
    exclusions = exclusions_table(cohort, suppress_below=below)
    out = {"flow": s.table(flow_table(cohort, suppress_below=below), caption="Rows read = analysed + excluded"),
           "exclusions": s.table(exclusions, caption="Excluded rows by reason") if len(exclusions) else None,
           "remarks": s.remarks_context(cohort, below)}
    if figure:
        flow = flow_table(cohort, suppress_below=below)
        alt = "Flow diagram: " + "; ".join(f"{r.records} read {r.read}, excluded {r.excluded}, analysed {r.analysed}"
                                            for r in flow.itertuples(index=False)) + "."
        out["figure"] = s.figure(flow_figure(cohort, suppress_below=below), alt=alt,
                                 caption="Records flow: rows read, excluded by reason, and analysed.")
    return out


# ---- whole pages -----------------------------------------------------------------------------------

def _claims_in(claims: Any, ids: Iterable[str], below: int) -> list[dict]:
    known = claims.verdicts()
    return [s.claim_context(claims, i, suppress_below=below) for i in ids if i in known]


def build_report(cohort: Cohort, *, definitions: Definitions | None = None, physician_id: str | None = None,
                 clinic_name: str | None = None, suppress_below: int = 0, today: date | None = None,
                 dates: str = "full") -> str:
    """The clinic quality report (or one physician's review) of a cohort, as one HTML page.

    Parameters
    ----------
    cohort : Cohort
        From :func:`outcomes.load_records` or :func:`outcomes.sources.load_cohort`.
    definitions : Definitions, optional
    physician_id : str, optional
        Build the physician review for this physician.
    clinic_name : str, optional
    suppress_below : int, default 0
    today : datetime.date, optional
        The date stamped on the report.
    dates : {"full", "year"}, default "full"
        ``"year"``: no date finer than the year anywhere in the report.

    Returns
    -------
    str
        A complete HTML document (every figure embedded, no external resource).
    """
    from ..claims import evaluate_claims
    from ..endpoints import derive_endpoints

    below = check_suppress_below(suppress_below)
    s.check_dates(dates)
    d = definitions or Definitions()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        endpoints = derive_endpoints(cohort, d)
        claims = evaluate_claims(endpoints, d)
        mine = own = None
        if physician_id is not None:
            mine = physician_endpoints(endpoints, str(physician_id))
            own = evaluate_claims(mine, d)
    notes = [str(w.message) for w in caught if issubclass(w.category, StatisticalWarning)]
    if physician_id is None:
        return _clinic_page(cohort, endpoints, claims, d, clinic_name, below, notes, today, dates)
    return _physician_page(cohort, endpoints, claims, mine, own, d, str(physician_id), clinic_name, below, notes, today,
                           dates)


def _clinic_page(cohort, endpoints, claims, d, clinic_name, below, notes, today, dates) -> str:  # noqa: ANN001
    monitoring = s.monitoring_context(endpoints, claims, suppress_below=below, dates=dates)
    header = s.header_context(cohort, clinic_name=clinic_name, suppress_below=below, synthetic=is_synthetic(cohort),
                              dates=dates)
    verdicts = claims.verdicts()
    safety = safety_context(cohort, endpoints, claims, definitions=d, suppress_below=below)
    executive = s.executive_context(claims, funnel=monitoring["funnel"], cusum_signals=monitoring["signals"])
    executive["next"] += safety["next"]
    context = {
        "title": header["title"],
        "header": header,
        "executive": executive,
        "summary": [s.claim_context(claims, c.id, suppress_below=below) for c in claims.claims],
        "records": _records(cohort, below),
        "table_one": s.table(table_one(endpoints, suppress_below=below), css_class="table-one",
                             caption="Table 1. Procedures by type: n (%) or median (IQR)."),
        "scorecard": s.table(scorecard(claims, suppress_below=below), css_class="scorecard"),
        "claims_figure": s.figure(claims_figure(claims, suppress_below=below),
                                  alt="Chart of every claim's observed value and interval: "
                                      + "; ".join(f"{c.id.replace('_', ' ')} {verdicts.get(c.id, '')}"
                                                  for c in claims.claims) + ".",
                                  caption="Each claim: the observed value (marker) with its 95% interval (bar), set "
                                          "against the stated figure or against no difference. The marker's shape "
                                          "and the word give the verdict."),
        "relief": {"claims": _claims_in(claims, ("relief_48h_vertebroplasty", "relief_48h_kyphoplasty",
                                                 "kyphoplasty_faster"), below),
                   "figure": s.figure(relief_figure(endpoints, claims=claims, suppress_below=below),
                                      alt=relief_alt(endpoints, claims),
                                      caption="Left: share of procedures followed by relief over the first week, by "
                                              "procedure, with 95% intervals; the vertical line is 48 hours and the "
                                              "numbers under the axis are procedures not yet relieved and still "
                                              "followed. Right: the same, placing each relief anywhere between the "
                                              "visit before and the visit that showed it.")},
        "early": {"claims": _claims_in(claims, ("early_treatment_better",), below),
                  "figure": s.figure(fracture_age_figure(endpoints, claims=claims, suppress_below=below),
                                     alt="Success at 4 weeks by weeks since the fracture: "
                                         + s.claim_context(claims, "early_treatment_better",
                                                           suppress_below=below)["numbers"]
                                     if "early_treatment_better" in verdicts else "Success by fracture age.",
                                     caption="Success at 4 weeks by the age of the fracture at the procedure, in "
                                             "weekly bins with 95% intervals; the numbers near the axis are "
                                             "procedures per bin. The shaded band is treatment within six weeks.")},
        "discharge": {"claims": _claims_in(claims, ("outpatient", "overnight_reasons"), below),
                      "table": s.table(discharge_table(endpoints, suppress_below=below),
                                       caption="Discharge, length of stay and complications by procedure.")},
        # the overnight odds ratios are drawn once, in the claim's own strip (and the claims chart);
        # overnight_figure stays in the API for those who want them alone
        "durability": {"claims": _claims_in(claims, ("durable_relief",), below),
                       "figure": s.figure(durability_figure(claims, suppress_below=below),
                                          alt="Share still relieved over time since relief: " + (
                                              s.claim_context(claims, "durable_relief",
                                                              suppress_below=below)["numbers"]
                                              if "durable_relief" in verdicts else ""),
                                          caption="Among procedures followed by relief: the share still relieved "
                                                  "over time since relief, with its 95% interval. Nothing beyond the "
                                                  "end of follow-up is known.")},
        "monitoring": monitoring,
        "safety": safety,
        "evidence": s.evidence_context(claims, suppress_below=below),
        "limitations": s.limitations(cohort, endpoints, d, claims=claims, notes=notes, suppress_below=below),
        "methods": s.methods_context(claims, d),
        "data_notes": s.data_notes_context(cohort, claims, suppress_below=below),
        "glossary": s.glossary(),
        "stamp": s.stamp_context(cohort, d, today=today),
    }
    return environment().get_template("clinic.html.j2").render(**context)


def _physician_page(cohort, endpoints, claims, mine, own, d, physician_id, clinic_name, below, notes,  # noqa: ANN001
                    today, dates) -> str:
    label = f"Physician {physician_id}"
    header = s.header_context(cohort, mine, clinic_name=clinic_name, physician_id=physician_id,
                              suppress_below=below, synthetic=is_synthetic(cohort), dates=dates)
    monitoring = s.monitoring_context(endpoints, claims, physician_id=physician_id, suppress_below=below, dates=dates)
    executive = s.executive_context(own)
    executive["next"] = [n.replace("procedures would settle", "procedures would settle") for n in executive["next"]
                         if "is undecided" not in n]
    discharge = discharge_table(mine, suppress_below=below)
    context = {
        "title": header["title"], "label": label, "header": header,
        "line": s.physician_line(endpoints, physician_id, claims, suppress_below=below, label=label),
        "executive": executive,
        "summary": s.comparison_context(own, claims, label=label, suppress_below=below),
        "case_mix": s.table(case_mix_table(mine, endpoints, label=label, suppress_below=below),
                            caption=f"Case mix: {label} and the whole clinic, n (%) or median (IQR)."),
        "relief_figure": s.figure(relief_figure(mine, claims=own, reference=endpoints, label=label,
                                                suppress_below=below),
                                  alt=f"Line chart: {relief_alt(mine, own)} The clinic's curve is drawn in grey.",
                                  caption="Share of procedures followed by relief over the first week, with 95% "
                                          "intervals: this physician's (dark) over the whole clinic's (grey). The "
                                          "vertical line is 48 hours."),
        "discharge": s.table(discharge, caption=f"Discharge and complications, {label}.") if len(discharge) > 1
        else None,
        "monitoring": monitoring,
        "safety": physician_safety_context(cohort, endpoints, physician_id, claims, definitions=d,
                                           suppress_below=below),
        "scorecard": s.table(scorecard(own, suppress_below=below), css_class="scorecard"),
        "closing": s.closing_sentence(own, suppress_below=below),
        "limitations": s.limitations(cohort, mine, d, claims=own, notes=notes, suppress_below=below),
        "methods": s.methods_context(own, d),
        "glossary": s.glossary(),
        "stamp": s.stamp_context(cohort, d, today=today),
    }
    return environment().get_template("physician.html.j2").render(**context)


# ---- output files ---------------------------------------------------------------------------------

def write_pdf(page: str, output: str | os.PathLike[str], *, engine: str = "auto") -> Path:
    """Print an HTML page to PDF with page numbers ("Page 3 of 12") and the report's print layout.

    Parameters
    ----------
    page : str
        HTML from :func:`build_report`.
    output : path
        The ``.pdf`` to write.
    engine : {"auto", "weasyprint", "chromium"}, default "auto"
        WeasyPrint (``pip install 'outcomes[pdf]'``; it needs the Pango library) when it imports,
        else a headless Chromium or Chrome found on the PATH.

    Returns
    -------
    pathlib.Path
    """
    out = Path(output)
    if engine not in ("auto", "weasyprint", "chromium"):
        raise InputError(f"`engine` must be one of auto, weasyprint, chromium; got {engine!r}.")
    if engine in ("auto", "weasyprint"):
        try:
            import weasyprint
        except (ImportError, OSError) as exc:
            if engine == "weasyprint":
                raise OutcomesError(f"WeasyPrint cannot be used here ({exc}); install it with "
                                    "pip install 'outcomes[pdf]' (it needs the Pango library).") from None
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            import logging
            logging.getLogger("weasyprint").setLevel(logging.ERROR)
            logging.getLogger("fontTools").setLevel(logging.ERROR)
            weasyprint.HTML(string=page).write_pdf(out)
            return out
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")
                    if shutil.which(n)), None)
    if browser is None:
        raise OutcomesError("A PDF needs WeasyPrint (pip install 'outcomes[pdf]') or Chromium/Chrome on the PATH; "
                            "neither was found. Write .html and print it from a browser instead.")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="outcomes-pdf-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(page, encoding="utf-8")
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--no-first-run", f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
               f"--print-to-pdf={out.resolve()}", source.as_uri()]
        done = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
        if done.returncode != 0 or not out.exists():
            raise OutcomesError(f"Chromium could not print the PDF (exit status {done.returncode}).")
    return out


_EXTENSIONS = (".html", ".htm", ".pdf")
_EMBEDDED = re.compile(r"(data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+)")


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove directory names of this machine from the page (a last safety net: a warning quoted
    under Limitations could name one). Embedded images are left alone: their base64 alphabet
    holds "/" and a short directory name turns up in them by chance."""
    order = sorted({s for s in secrets if s and len(s) > 1 and s != os.sep}, key=len, reverse=True)
    pieces = _EMBEDDED.split(text)
    for i in range(0, len(pieces), 2):  # even pieces are outside the embedded data
        for secret in order:
            pieces[i] = pieces[i].replace(secret + os.sep, "").replace(secret, "")
    return "".join(pieces)


def _absolute(value: Any, role: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(f"`{role}` must be a file path; got {type(value).__name__}.")
    return str(Path(value).expanduser().resolve())


def render_report(
    procedures: str | os.PathLike[str] | None = None,
    assessments: str | os.PathLike[str] | None = None,
    *,
    output: str | os.PathLike[str],
    tables: str | os.PathLike[str] | None = None,
    fhir: str | os.PathLike[str] | None = None,
    omop: str | os.PathLike[str] | None = None,
    schema: str | None = None,
    mapping: str | os.PathLike[str] | None = None,
    definitions: str | os.PathLike[str] | None = None,
    physician_id: str | None = None,
    clinic_name: str | None = None,
    suppress_below: int = 0,
    allow_identifiers: bool = False,
    timeout: float = 600,
    progress: bool = True,
    dates: str = "full",
    events: str | os.PathLike[str] | None = None,
) -> Path:
    """Render the clinic quality report (or one physician's review) to one HTML or PDF file.

    The records are read and checked (a missing file, identifying data or an unknown physician
    stop with one clear line), the claims evaluated, and the page filled from the package's
    Jinja2 templates: one self-contained file, every figure embedded, no code.

    Parameters
    ----------
    procedures, assessments : path
        The records (CSV, .xlsx or .parquet), as for :func:`outcomes.load_records`.
    output : path
        The file to write: ``.html``, or ``.pdf`` (printed with page numbers, see :func:`write_pdf`).
    tables : path, optional
        Also write the tables and figure data to this ``.xlsx`` workbook
        (:func:`outcomes.report.write_tables`).
    fhir, omop, schema : optional
        Instead of files: a FHIR Bulk Data export or an OMOP CDM database (and its schema).
    mapping, definitions : path, optional
        TOML mapping of the clinic's columns and codes; TOML definitions.
    physician_id : str, optional
        Render the physician review for this physician instead of the clinic report.
    clinic_name : str, optional
    suppress_below : int, default 0
        Show every count under this number as ``"<N"`` (and hide what would give one away).
    allow_identifiers : bool, default False
        Go on with data that look identifying; the warning is printed at the top of the report.
    timeout : float, default 600
        Seconds allowed for printing a PDF.
    progress : bool, default True
        Kept for compatibility (rendering no longer runs a notebook kernel).
    dates : {"full", "year"}, default "full"
        ``"year"`` renders the report with no date finer than the year (``--dates year``). Every
        report states the data class (:func:`outcomes.privacy.data_class`).
    events : path, optional
        The events table (complications, new fractures, deaths; ``--events``), read with the
        procedures by :func:`outcomes.sources.load_cohort`; it fills the report's safety section.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> from outcomes.report import render_report
    >>> render_report("data/demo/procedures.csv", "data/demo/assessments.csv",
    ...               output="reports/clinic_report.html")  # doctest: +SKIP
    PosixPath('reports/clinic_report.html')
    """
    below = check_suppress_below(suppress_below)
    out_path = Path(output)
    if out_path.suffix.lower() not in _EXTENSIONS:
        raise InputError(f"`output` must be a file name ending in .html or .pdf; got {out_path.name!r}.")
    if tables is not None and Path(tables).suffix.lower() != ".xlsx":
        raise InputError(f"`tables` must be a file name ending in .xlsx; got {Path(tables).name!r}.")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise InputError(f"`timeout` must be a positive number of seconds; got {timeout!r}.")
    if physician_id is not None and not str(physician_id).strip():
        raise InputError(f"`physician_id` must be a physician's id; got {physician_id!r}.")
    s.check_dates(dates)
    check_output(out_path)  # before anything is read or rendered
    if tables is not None:
        check_output(Path(tables), name="tables")
    is_url = isinstance(omop, str) and "://" in omop
    from ..sources import load_cohort

    d = Definitions.from_toml(_absolute(definitions, "definitions")) if definitions else Definitions()
    # the events table travels only when given, so records without one load as before
    with_events = {} if events is None else {"events": _absolute(events, "events")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentifiersAllowedWarning)
        cohort = load_cohort(_absolute(procedures, "procedures"), _absolute(assessments, "assessments"),
                             fhir=_absolute(fhir, "fhir"), omop=omop if is_url else _absolute(omop, "omop"),
                             schema=schema, mapping=_absolute(mapping, "mapping"), definitions=d,
                             allow_identifiers=allow_identifiers, **with_events)
    if physician_id is not None:
        physician_endpoints(cohort.procedures, str(physician_id))
    page = build_report(cohort, definitions=d, physician_id=physician_id, clinic_name=clinic_name,
                        suppress_below=below, dates=dates)
    inputs = [procedures, assessments, events, fhir, mapping, definitions] + ([] if is_url else [omop])
    secrets = {str(Path(_absolute(p, "input")).parent) for p in inputs if p is not None} | ({omop} if is_url else set())
    secrets |= {str(out_path.resolve().parent), str(Path.cwd()), str(Path.home()), sys.prefix, tempfile.gettempdir(),
                str(Path(__file__).resolve().parents[1])}
    page = _scrub(page, secrets)
    if out_path.suffix.lower() == ".pdf":
        write_pdf(page, out_path)
    else:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(page, encoding="utf-8")
    if tables is not None:
        from ..claims import evaluate_claims
        from ..endpoints import derive_endpoints
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            endpoints = derive_endpoints(cohort, d)
            if physician_id is not None:
                endpoints = physician_endpoints(endpoints, str(physician_id))
            write_tables(tables, claims=evaluate_claims(endpoints, d), endpoints=endpoints, cohort=cohort,
                         suppress_below=below)
    return out_path
