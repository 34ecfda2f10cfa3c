"""Reports: the clinic quality report and the physician review, as HTML, PDF and an .xlsx workbook.

The package is split by what each part does:

- :mod:`~outcomes.report.wording`: each claim's numbers in plain words, why each verdict follows
  from its printed interval, the glossary;
- :mod:`~outcomes.report.tables`: Table 1, discharge, scorecard, records flow, case mix, and
  :func:`write_tables` (the .xlsx workbook);
- :mod:`~outcomes.report.suppression`: small-cell suppression with complementary suppression
  (:func:`protect`): no hidden count comes back by subtraction;
- :mod:`~outcomes.report.figures`: figures from results, embedded as inline PNGs;
- :mod:`~outcomes.report.sections`: what each section says, as data for the templates;
- :mod:`~outcomes.report.safety`: the safety and function section (complications, new fractures,
  function over time, complications by physician), shown when the records have events or
  function scores;
- :mod:`~outcomes.report.render`: the Jinja2 templates (``templates/*.html.j2``, autoescaped),
  :func:`build_report`, :func:`render_report` and :func:`write_pdf`.

Nothing rendered names a file path of the machine: inputs appear by file name and SHA-256 only.
"""

from __future__ import annotations

from .figures import (claims_figure, durability_figure, flow_figure, fracture_age_figure, overnight_figure,
                      relief_figure)
from .render import (build_report, claim_html, comparison_html, evidence_html, executive_html, figure_html,
                     header_html, is_synthetic, limitations_html, methods_html, monitoring_html,
                     physician_endpoints, records_html, render_report, stamp_html, summary_html, table_html,
                     write_pdf)
from .safety import complication_table, function_table, physician_safety_context, safety_context
from .sections import closing_sentence, physician_line
from .suppression import protect, suppress
from .tables import (case_mix_table, discharge_table, exclusions_table, flow_table, scorecard, table_one,
                     write_tables)
from .wording import GLOSSARY, plain, shown_interval, verdict_reason

__all__ = [
    "GLOSSARY",
    "build_report",
    "case_mix_table",
    "claim_html",
    "claims_figure",
    "closing_sentence",
    "comparison_html",
    "complication_table",
    "discharge_table",
    "durability_figure",
    "evidence_html",
    "exclusions_table",
    "executive_html",
    "figure_html",
    "flow_figure",
    "flow_table",
    "fracture_age_figure",
    "function_table",
    "header_html",
    "is_synthetic",
    "limitations_html",
    "methods_html",
    "monitoring_html",
    "overnight_figure",
    "physician_endpoints",
    "physician_line",
    "physician_safety_context",
    "plain",
    "protect",
    "records_html",
    "relief_figure",
    "render_report",
    "safety_context",
    "scorecard",
    "shown_interval",
    "stamp_html",
    "summary_html",
    "suppress",
    "table_html",
    "table_one",
    "verdict_reason",
    "write_pdf",
    "write_tables",
]
