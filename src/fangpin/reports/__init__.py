"""Reports (报表): county figures, the automatically generated analysis text, the monthly county report
(PDF and DOCX), XLSX exports and the spreadsheet-cell neutralisation every export uses.

Public API::

    from fangpin.reports import county_figures, analysis, generate_monthly_report, safe_cell
    pdf = generate_monthly_report(engine, "530521", "2024-12", "pdf")
"""
from fangpin.reports.analysis import analysis
from fangpin.reports.cells import safe_cell, safe_row
from fangpin.reports.figures import ReportInputError, alerts_by_area, county_figures, month_bounds

__all__ = ["analysis", "alerts_by_area", "county_figures", "month_bounds", "ReportInputError", "safe_cell",
           "safe_row", "generate_monthly_report"]


def generate_monthly_report(engine, region: str, month: str, fmt: str, **kw) -> bytes:
    """The monthly county report for region prefix ``region`` and ``month`` (YYYY-MM) as ``fmt`` = "pdf" | "docx"
    (a plain function for background job runners)."""
    from fangpin.reports.monthly import generate_monthly_report as g

    return g(engine, region, month, fmt, **kw)
