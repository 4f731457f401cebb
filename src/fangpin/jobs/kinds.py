"""Built-in job kinds: feed import, roster import, monitoring run, monthly report (hook).

Each calls the same domain service as the CLI; the importers stay all-or-nothing (a rejected file writes nothing,
and the per-row report becomes the job's result)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from fangpin.issues import Issue
from fangpin.jobs import JobContext, JobError, register_kind

#: Per-row issues kept in a job result (the page and the CSV show them; a larger file says how many more).
MAX_ISSUES = 20000

IMPORT_ROLES = ("department_officer", "county_officer", "admin")
ROSTER_ROLES = ("county_officer", "admin")
MONITOR_ROLES = ("county_officer", "admin")
REPORT_ROLES = ("township_officer", "county_officer", "province_viewer", "admin")


def _cap(d: dict) -> dict:
    for k in ("errors", "warnings", "unmatched_rows"):
        if k in d and len(d[k]) > MAX_ISSUES:
            d[k + "_total"] = len(d[k])
            d[k] = d[k][:MAX_ISSUES]
    return d


def feed_import(engine: Engine, params: dict, ctx: JobContext) -> dict:
    """params: feed, path (spooled upload), filename, as_of (ISO date or None)."""
    from fangpin.exchange.feeds import import_feed

    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else None
    try:
        rep = import_feed(engine, params["feed"], Path(params["path"]), filename=params.get("filename"),
                          as_of=as_of, progress=lambda f, s: ctx.progress(f, s))
    except KeyError as e:
        raise JobError(Issue("JOB_UNKNOWN_FEED", f"未知的部门数据源：{params['feed']}",
                             f"unknown feed {params['feed']!r}")) from e
    return _cap(rep.as_dict())


def roster_import(engine: Engine, params: dict, ctx: JobContext) -> dict:
    """params: paths {role: spooled path} or spool (a directory; roles found by file name), as_of."""
    from fangpin.exchange.roster import import_roster

    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else None
    source = {k: Path(v) for k, v in params["paths"].items()} if params.get("paths") else Path(params["dir"])
    rep = import_roster(engine, source, valid_from=as_of, progress=lambda f, s: ctx.progress(f, s))
    return _cap(rep.as_dict())


def monitoring_run(engine: Engine, params: dict, ctx: JobContext) -> dict:
    """params: as_of (ISO date, default today), engine (duckdb)."""
    from fangpin.alerts.service import monitor

    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else date.today()
    report, _ = monitor(engine, as_of, engine=params.get("engine") or "duckdb",
                        progress=lambda f, s: ctx.progress(f, s))
    return report


def monthly_report(engine: Engine, params: dict, ctx: JobContext) -> dict:
    """params: region, month (YYYY-MM), fmt (pdf|docx). Calls fangpin.reports.generate_monthly_report(engine,
    region, month, fmt) -> bytes and keeps the file as the job's artefact (GET /api/jobs/{id}/artefact)."""
    from fangpin.reports import generate_monthly_report

    ctx.progress(0.1, "render")
    fmt = params.get("fmt") or "pdf"
    data = generate_monthly_report(engine, params["region"], params["month"], fmt)
    name = f"fangpin-report-{params['region']}-{params['month']}.{fmt}"
    ctx.save_artefact(data, name)
    return {"filename": name, "bytes": len(data), "format": fmt}


register_kind("feed_import", feed_import, IMPORT_ROLES)
register_kind("roster_import", roster_import, ROSTER_ROLES)
register_kind("monitor", monitoring_run, MONITOR_ROLES)
register_kind("report", monthly_report, REPORT_ROLES)
