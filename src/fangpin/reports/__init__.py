"""Reports (报表): county figures, the automatically generated analysis text, the monthly county report
(PDF and DOCX), XLSX exports and the spreadsheet-cell neutralisation every export uses.

Public API::

    from fangpin.reports import county_figures, analysis, generate_monthly_report, safe_cell
    pdf = generate_monthly_report(engine, "530521", "2024-12", "pdf")

Imports are lazy: ``fangpin.reports.cells`` is used by low-level writers (risk scores CSV) without pulling in
the case and alert services.
"""
from __future__ import annotations

from importlib import import_module

__all__ = ["analysis", "alerts_by_area", "county_figures", "month_bounds", "ReportInputError", "safe_cell",
           "safe_row", "generate_monthly_report", "export_xlsx"]

_WHERE = {
    "analysis": "fangpin.reports.narrative",
    "alerts_by_area": "fangpin.reports.figures",
    "county_figures": "fangpin.reports.figures",
    "month_bounds": "fangpin.reports.figures",
    "ReportInputError": "fangpin.reports.figures",
    "safe_cell": "fangpin.reports.cells",
    "safe_row": "fangpin.reports.cells",
    "generate_monthly_report": "fangpin.reports.monthly",
    "export_xlsx": "fangpin.reports.exports",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(name)
