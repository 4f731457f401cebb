"""Dashboard figures, analysis text, monthly report downloads and XLSX exports (web adapter over
:mod:`fangpin.reports`).

* Every endpoint works on the logged-in user's region prefix (``user.scope``); a narrower ``region``/``parent``
  must lie inside it (else 404, like any out-of-region record).
* Figures, analysis and the monthly report are aggregates: every role but department data officers (upload and
  feed health only → 403) may read them for its own region (province viewers included).
* XLSX exports list households: record roles only (403 for aggregate-only roles). IDs and phones are masked (no
  role may reveal them yet).
"""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from fangpin.auth import User
from fangpin.reports import analysis, county_figures
from fangpin.reports.exports import EXPORTS, export_xlsx
from fangpin.security import audit
from fangpin.reports.figures import ReportInputError, alerts_by_area
from fangpin.reports.monthly import FORMATS, generate_monthly_report
from fangpin.web.api import records_user, viewer_user

router = APIRouter(prefix="/api", tags=["reports"])

MEDIA = {"pdf": "application/pdf",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MonthQ = Query(None, pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (default: the month of the latest monitoring "
                                                          "run, else this month)")


def default_month(conn) -> str:
    from fangpin.alerts.models import MonitorRun

    d = conn.execute(select(func.max(MonitorRun.as_of))).scalar()
    d = d or date.today()
    return f"{d.year:04d}-{d.month:02d}"


def _bad(e: ReportInputError) -> HTTPException:
    return HTTPException(422, detail={"code": e.code, "message_zh": e.issue.zh, "message_en": e.issue.en,
                                      "message": str(e)})


def _narrow(user: User, region: str | None) -> str:
    """The region prefix to report on: the user's own, or a narrower one inside it (else 404)."""
    if not region:
        return user.scope
    if not region.isdigit() or not region.startswith(user.scope):
        raise HTTPException(404, detail={"code": "NOT_FOUND", "message_zh": "未找到(或不在您的辖区)",
                                         "message_en": "region not found (or outside your region)"})
    return region


def dashboard_figures(conn, user: User, month: str | None, region: str | None = None) -> dict:
    """Figures + analysis sentences for the dashboard page and the API."""
    from fangpin.web.queries import cached

    month = month or default_month(conn)
    scope = _narrow(user, region)
    f = cached(conn, ("county_figures", scope, month), lambda: county_figures(conn, scope, month))
    f["analysis"] = analysis(f)
    return f


@router.get("/dashboard/figures")
def figures(request: Request, month: str | None = MonthQ,
            region: str | None = Query(None, description="A region prefix inside yours (default: yours)"),
            user: User = Depends(viewer_user)) -> dict:
    """Everything the county dashboard charts: monitored households per month by type (TPBWD/BYYZP/TFYZKN), new
    vs removed, alerts raised, risk-type mix, SLA rates (region and child areas), alerts by child area, feed
    health, key indicators, and the generated analysis sentences (zh/en, each with the figures it states)."""
    try:
        with request.app.state.engine.connect() as conn:
            return dashboard_figures(conn, user, month, region)
    except ReportInputError as e:
        raise _bad(e) from None


@router.get("/dashboard/alerts-by-area")
def alerts_area(request: Request, month: str | None = MonthQ,
                parent: str | None = Query(None, description="Area to drill into (township → villages)"),
                user: User = Depends(viewer_user)) -> dict:
    """Alerts raised in the month and open now, per child area of ``parent`` (default: your region)."""
    p = _narrow(user, parent)
    try:
        with request.app.state.engine.connect() as conn:
            return alerts_by_area(conn, user.scope, month or default_month(conn), p)
    except ReportInputError as e:
        raise _bad(e) from None


@router.get("/dashboard/analysis")
def analysis_text(request: Request, month: str | None = MonthQ, region: str | None = None,
                  lang: str = Query("zh", pattern="^(zh|en)$"), user: User = Depends(viewer_user)) -> dict:
    """The automatically generated analysis (自动生成分析) as plain text in one language, with its sentences."""
    try:
        with request.app.state.engine.connect() as conn:
            f = dashboard_figures(conn, user, month, region)
    except ReportInputError as e:
        raise _bad(e) from None
    return {"region": f["region"], "month": f["month"], "lang": lang,
            "text": "".join(s[lang] for s in f["analysis"]) if lang == "zh" else " ".join(s[lang] for s in f["analysis"]),
            "sentences": f["analysis"]}


@router.get("/reports/monthly", response_class=Response,
            responses={200: {"content": {MEDIA["pdf"]: {}, MEDIA["docx"]: {}},
                             "description": "the report file (attachment)"}})
def monthly_report(request: Request, month: str | None = MonthQ,
                   format: str = Query("pdf", pattern="^(pdf|docx)$"), lang: str = Query("zh", pattern="^(zh|en)$"),
                   region: str | None = None, user: User = Depends(viewer_user)):
    """Monthly county report (月度报告) as PDF or DOCX: indicators, analysis text, charts and tables (aggregates
    only, for your region)."""
    scope = _narrow(user, region)
    with request.app.state.engine.connect() as conn:
        month = month or default_month(conn)
    try:
        data = generate_monthly_report(request.app.state.engine, scope, month, format, lang=lang)
    except ReportInputError as e:
        raise _bad(e) from None
    name = f"monthly-report-{scope or 'all'}-{month}.{format}"
    return Response(data, media_type=MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/exports/{kind}.xlsx", response_class=Response,
            responses={200: {"content": {MEDIA["xlsx"]: {}}, "description": "the export (attachment)"},
                       403: {"description": "aggregate-only roles"}})
def export(kind: str, request: Request, status: str | None = Query(None, description="alerts only: open, closed, "
                                                                                      "case_opened"),
           region: str | None = None, user: User = Depends(records_user)):
    """XLSX export with Chinese headers: ``households`` (monitored households, national column order), ``alerts``,
    ``measures`` (assistance measures), ``notices`` (public-notice list, no personal data beyond the head's name).
    IDs and phones masked. Record roles only."""
    if kind not in EXPORTS:
        raise HTTPException(404, detail={"code": "NOT_FOUND", "message_zh": f"未知导出类型“{kind}”",
                                         "message_en": f"Unknown export {kind!r}; known: {', '.join(EXPORTS)}"})
    scope = _narrow(user, region)
    name = f"{kind}-{scope or 'all'}-{date.today():%Y%m%d}.xlsx"
    with request.app.state.engine.begin() as conn:  # every export is audited (issue 7; docs/SECURITY.md)
        data = export_xlsx(conn, kind, scope, status=status)
        audit.record(conn, f"user:{user.id}:{user.username}", f"export.{kind}", f"file:{name}",
                     {"scope": scope, "status": status, "bytes": len(data)})
    return Response(data, media_type=MEDIA["xlsx"], headers={"Content-Disposition": f'attachment; filename="{name}"'})





def dashboard_page_context(conn, user: User, month: str | None, area: str | None) -> dict | None:
    """Context for the dashboard page: figures + analysis for the user's region, the drill-down table of ``area``
    (a township inside the region → its villages), the JSON the charts read. None → the page answers 404."""
    import json
    import re

    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        month = None
    if area is not None and (not area.isdigit() or not area.startswith(user.scope)):
        return None
    f = dashboard_figures(conn, user, month)
    drill = alerts_by_area(conn, user.scope, f["month"], area) if area else f["alerts_by_area"]
    chart = {k: f[k] for k in ("months", "monitored_by_type", "monitored_type_names", "new", "removed",
                               "alerts_raised", "risk_mix_monitored", "risk_mix_alerts")}
    chart["drill"] = drill
    chart["sla_areas"] = f["sla_areas"]
    # "</" cannot end the <script> element: JSON is embedded as application/json
    return {"f": f, "drill": drill, "chart_json": json.dumps(chart, ensure_ascii=False).replace("</", "<\\/"),
            "months_choice": _month_choices(max(default_month(conn), f["month"])), "export_kinds": list(EXPORTS)}


def _month_choices(month: str, n: int = 24) -> list[str]:
    y, m = map(int, month.split("-"))
    out = []
    for k in range(n):
        t = y * 12 + m - 1 - k
        out.append(f"{t // 12:04d}-{t % 12 + 1:02d}")
    return out
__all__ = ["router", "dashboard_figures", "dashboard_page_context", "default_month", "FORMATS"]
