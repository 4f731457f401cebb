"""Feed upload, background jobs, feed health, tracking-number status (web adapter over fangpin.jobs,
fangpin.exchange and fangpin.cases).

* Upload (部门数据上报): department data officers, county officers and admins choose a feed (FEEDS.md §B contract),
  upload xlsx/csv; the import runs as a background job (``fangpin.jobs``) — the page shows a progress bar that
  survives a reload (the job id is in the URL, its state in the ``job`` table), then the per-row error report
  (bilingual, downloadable as CSV). The importer is all-or-nothing per row (rejected rows are listed, nothing
  half-saved) and idempotent (the same file again → "unchanged").
* Feed health (数据源健康): per department last batch, rows, link rate, review queue, staleness (exchange.health).
* Tracking status (申报进度查询): public; a self-application's tracking number → its current step, no personal data.
* Jobs API: POST /api/jobs/{feed-import,roster-import,monitor,report} → 202 + job; GET /api/jobs/{id} → progress.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import threading
import uuid
from datetime import date
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from fangpin.auth import User
from fangpin.jobs import KINDS, JobRunner, get_job, job_dict
from fangpin.jobs.kinds import IMPORT_ROLES
from fangpin.jobs.models import Job
from fangpin.reports.cells import safe_cell
from fangpin.web.api import api_user
from fangpin.web.session import csrf_ok

router = APIRouter()

MAX_UPLOAD_BYTES = int(os.environ.get("FANGPIN_MAX_UPLOAD_MB", "100")) * 1024 * 1024
UPLOAD_EXTS = (".csv", ".txt", ".xlsx", ".xlsm")
FEED_ROLES = IMPORT_ROLES  # who sees the upload and feed health pages
_LOCK = threading.Lock()


# --- runner and permissions ---------------------------------------------------------------------------------------

def runner(app) -> JobRunner:
    """The process's job runner (created on first use; creating it marks jobs of dead processes failed)."""
    r = getattr(app.state, "job_runner", None)
    if r is None:
        with _LOCK:
            r = getattr(app.state, "job_runner", None)
            if r is None:
                from fangpin.config import data_home

                spool = getattr(app.state, "job_spool", None) or os.environ.get("FANGPIN_JOB_DIR") or \
                    data_home() / "jobs"
                stale = getattr(app.state, "job_stale_seconds", None) or os.environ.get("FANGPIN_JOB_STALE_SECONDS", 60)
                r = JobRunner(app.state.engine, Path(spool), stale_seconds=float(stale))
                app.state.job_runner = r
    return r


def _err(status: int, code: str, zh: str, en: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message_zh": zh, "message_en": en})


def _csrf(request: Request, token: str | None = None) -> None:
    if not csrf_ok(request.state.session, token or request.headers.get("x-csrf-token")):
        raise _err(403, "AUTH_CSRF", "缺少或错误的 CSRF 令牌", "Missing or wrong CSRF token (X-CSRF-Token)")


def _may(user: User, kind: str) -> bool:
    return kind in KINDS and user.role in KINDS[kind].roles


def _need(user: User, kind: str) -> None:
    if not _may(user, kind):
        raise _err(403, "AUTH_ROLE", "您的角色不能执行此操作", f"Your role ({user.role}) may not start {kind} jobs")


def feeds_user(user: User = Depends(api_user)) -> User:
    if user.role not in FEED_ROLES:
        raise _err(403, "AUTH_ROLE", "只有部门数据专员、县级干部和管理员可以查看",
                   "Only department data officers, county officers and admins")
    return user


def _visible_job(request: Request, user: User, job_id: int):
    """The job row if this user may see it (own region and a role that may run its kind), else None (→ 404)."""
    eng = request.app.state.engine
    runner(request.app).sweep()
    with eng.connect() as conn:
        row = get_job(conn, job_id)
    if row is None or not row.region_code.startswith(user.scope) or not _may(user, row.kind):
        return None
    return row


def _not_found() -> HTTPException:
    return _err(404, "NOT_FOUND", "未找到(或不在您的辖区)", "job not found (or outside your region)")


# --- spooling uploads ---------------------------------------------------------------------------------------------

def _safe_name(name: str | None) -> str:
    base = Path(name or "upload").name
    base = re.sub(r"[^\w.\-\u4e00-\u9fff（）()]+", "_", base)[:120] or "upload"
    return base


async def _spool(app, files: list[UploadFile]) -> tuple[Path, list[tuple[str, Path, str]]]:
    """Write uploads to a fresh spool directory: [(original name, path, sha256)]. Refuses wrong types and size."""
    d = runner(app).spool / f"upload-{uuid.uuid4().hex}"
    d.mkdir(parents=True)  # creates the spool directory on first use
    out = []
    total = 0
    try:
        for f in files:
            name = _safe_name(f.filename)
            if Path(name).suffix.lower() not in UPLOAD_EXTS:
                raise _err(422, "UPLOAD_BAD_TYPE", f"文件“{name}”类型不支持，请上传 xlsx 或 csv",
                           f"file {name!r}: upload an xlsx or csv file")
            p = d / name
            h = hashlib.sha256()
            with open(p, "wb") as fh:
                while chunk := await f.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_UPLOAD_BYTES:
                        raise _err(413, "UPLOAD_TOO_LARGE", f"文件过大（上限 {MAX_UPLOAD_BYTES >> 20} MB）",
                                   f"upload too large (limit {MAX_UPLOAD_BYTES >> 20} MB)")
                    h.update(chunk)
                    fh.write(chunk)
            out.append((f.filename or name, p, h.hexdigest()))
    except BaseException:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
        raise
    return d, out


def _as_of(v: str | None) -> str | None:
    if not v:
        return None
    try:
        return date.fromisoformat(v).isoformat()
    except ValueError:
        raise _err(422, "BAD_DATE", f"日期格式应为 YYYY-MM-DD：{v}", f"date must be YYYY-MM-DD: {v!r}") from None


def _feeds() -> list[dict]:
    from fangpin.exchange.contracts import load_contracts

    return [{"feed": c.feed, "zh": c.department.zh, "en": c.department.en, "version": c.version,
             "columns": [{"name": col.name, "en": col.en, "required": col.required} for col in c.columns]}
            for c in load_contracts().values()]


async def start_feed_import(request: Request, user: User, feed: str, file: UploadFile, as_of: str | None) -> int:
    _need(user, "feed_import")
    if feed not in {f["feed"] for f in _feeds()}:
        raise _err(422, "JOB_UNKNOWN_FEED", f"未知的部门数据源：{feed}", f"unknown feed {feed!r}")
    as_of = _as_of(as_of)
    d, files = await _spool(request.app, [file])
    name, path, sha = files[0]
    key = hashlib.sha256(f"feed_import|{feed}|{sha}|{as_of}".encode()).hexdigest()
    return runner(request.app).submit("feed_import", {"feed": feed, "path": str(path), "filename": name,
                                                      "as_of": as_of, "spool": str(d), "sha256": sha},
                                      user=user, dedup_key=key)


# --- API ----------------------------------------------------------------------------------------------------------

class JobOut(BaseModel):
    """A background job (table ``job``). ``result`` of an import is its report: status committed | rejected |
    unchanged, rows, accepted, rejected, errors/warnings [{row, column, value (masked), code, reason_zh, reason_en}]."""
    id: int
    kind: str
    status: str
    progress: float
    stage: str
    stage_zh: str
    stage_en: str
    params: dict
    result: dict | None = None
    error: dict | None = None
    has_artefact: bool
    created_by_name: str | None = None
    region_code: str
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    heartbeat_at: str | None = None


JOB_DOC = ("Poll GET /api/jobs/{id}: status queued → running → done | failed, progress 0–1, stage (+ stage_zh/en), "
           "result (the import report with per-row errors, or the monitoring report), error {code, zh, en}.")


@router.post("/api/jobs/feed-import", status_code=202, tags=["jobs"], response_model=JobOut, description=JOB_DOC)
async def api_feed_import(request: Request, feed: str = Form(..., description="feed key, e.g. medical"),
                          file: UploadFile = File(..., description="xlsx or csv (FEEDS.md §B layout)"),
                          as_of: str | None = Form(None, description="batch date YYYY-MM-DD (default today)"),
                          user: User = Depends(api_user)) -> dict:
    """Upload one department file and import it in the background (all-or-nothing per row, per-row report)."""
    _csrf(request)
    jid = await start_feed_import(request, user, feed, file, as_of)
    return _job_json(request, jid)


@router.post("/api/jobs/roster-import", status_code=202, tags=["jobs"], response_model=JobOut, description=JOB_DOC)
async def api_roster_import(request: Request, files: list[UploadFile] = File(
        ..., description="the roster files (FEEDS.md §A): households, members[, income, guarantees]; "
                         "recognised by file name (e.g. households.csv / 农户.xlsx)"),
        as_of: str | None = Form(None), user: User = Depends(api_user)) -> dict:
    """Import a roster (花名册) in the background: all or nothing with a per-row report."""
    _csrf(request)
    _need(user, "roster_import")
    as_of = _as_of(as_of)
    d, spooled = await _spool(request.app, files)
    key = hashlib.sha256(("roster_import|" + "|".join(sorted(s for _, _, s in spooled)) + f"|{as_of}").encode())
    jid = runner(request.app).submit("roster_import", {"dir": str(d), "spool": str(d), "as_of": as_of,
                                                       "files": [n for n, _, _ in spooled]},
                                     user=user, dedup_key=key.hexdigest())
    return _job_json(request, jid)


class MonitorIn(BaseModel):
    as_of: str | None = None


@router.post("/api/jobs/monitor", status_code=202, tags=["jobs"], response_model=JobOut, description=JOB_DOC)
def api_monitor(body: MonitorIn, request: Request, user: User = Depends(api_user)) -> dict:
    """Run monitoring (fangpin.alerts.service.monitor) in the background; re-running the same date is safe."""
    _csrf(request)
    _need(user, "monitor")
    as_of = _as_of(body.as_of) or date.today().isoformat()
    jid = runner(request.app).submit("monitor", {"as_of": as_of}, user=user,
                                     dedup_key=hashlib.sha256(f"monitor|{as_of}".encode()).hexdigest())
    return _job_json(request, jid)


class ReportIn(BaseModel):
    region: str | None = None
    month: str
    fmt: str = "pdf"


@router.post("/api/jobs/report", status_code=202, tags=["jobs"], response_model=JobOut, description=JOB_DOC)
def api_report(body: ReportIn, request: Request, user: User = Depends(api_user)) -> dict:
    """Render the monthly report (fangpin.reports) in the background; download it from /api/jobs/{id}/artefact."""
    _csrf(request)
    _need(user, "report")
    region = body.region or user.region_code
    if not region.startswith(user.scope) or not re.fullmatch(r"\d{4}-\d{2}", body.month) or \
            body.fmt not in ("pdf", "docx"):
        raise _err(422, "JOB_BAD_PARAMS", "地区须在辖区内，月份为 YYYY-MM，格式为 pdf 或 docx",
                   "region must be inside yours, month YYYY-MM, fmt pdf or docx")
    jid = runner(request.app).submit("report", {"region": region, "month": body.month, "fmt": body.fmt}, user=user)
    return _job_json(request, jid)


def _job_json(request: Request, jid: int) -> dict:
    with request.app.state.engine.connect() as conn:
        return job_dict(get_job(conn, jid))


@router.get("/api/jobs", tags=["jobs"])
def api_jobs(request: Request, limit: int = 20, user: User = Depends(api_user)) -> dict:
    """Recent jobs in the user's region of kinds the user may run (newest first), without results."""
    items = _recent(request, user, min(max(limit, 1), 100))
    return {"items": items}


def _recent(request: Request, user: User, limit: int) -> list[dict]:
    kinds = [k for k in KINDS if _may(user, k)]
    if not kinds:
        return []
    j = Job.__table__
    runner(request.app).sweep()
    with request.app.state.engine.connect() as conn:
        rows = conn.execute(select(j).where(j.c.kind.in_(kinds), j.c.region_code.startswith(user.scope))
                            .order_by(j.c.id.desc()).limit(limit)).all()
    out = []
    for r in rows:
        d = job_dict(r)
        res = d.pop("result") or {}
        d["outcome"] = res.get("status")
        d["message"] = res.get("message")
        out.append(d)
    return out


@router.get("/api/jobs/{job_id}", tags=["jobs"], response_model=JobOut, description=JOB_DOC)
def api_job(job_id: int, request: Request, user: User = Depends(api_user)) -> dict:
    """One job: status, progress, stage, result or error."""
    row = _visible_job(request, user, job_id)
    if row is None:
        raise _not_found()
    return job_dict(row)


@router.get("/api/jobs/{job_id}/errors.csv", tags=["jobs"], response_class=Response)
def api_job_errors_csv(job_id: int, request: Request, user: User = Depends(api_user)) -> Response:
    """The per-row error report of an import job as CSV (UTF-8 with BOM for Excel), both languages."""
    row = _visible_job(request, user, job_id)
    if row is None:
        raise _not_found()
    res = row.result or {}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["文件 file", "行号 row", "列 column", "值 value", "代码 code", "原因 reason (zh)", "reason (en)",
                "级别 level"])
    for level, items in (("error", res.get("errors") or []), ("warning", res.get("warnings") or [])):
        for e in items:
            w.writerow([safe_cell(x) for x in (e.get("file", res.get("file", "")), e.get("row"), e.get("column"),
                                           e.get("value"), e.get("code"), e.get("reason_zh"), e.get("reason_en"),
                                           level)])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="job-{job_id}-errors.csv"'})


@router.get("/api/jobs/{job_id}/artefact", tags=["jobs"], response_class=FileResponse)
def api_job_artefact(job_id: int, request: Request, user: User = Depends(api_user)):
    """The file a job produced (e.g. the monthly report)."""
    row = _visible_job(request, user, job_id)
    if row is None or not row.artefact or not Path(row.artefact).is_file():
        raise _not_found()
    return FileResponse(row.artefact, filename=Path(row.artefact).name)


@router.get("/api/feeds", tags=["feeds"])
def api_feeds(user: User = Depends(feeds_user)) -> dict:
    """The department feed contracts (FEEDS.md §B): key, department, version, columns."""
    return {"items": _feeds()}


@router.get("/api/feeds/health", tags=["feeds"])
def api_feed_health(request: Request, user: User = Depends(feeds_user)) -> dict:
    """Per feed: last delivery and staleness against the contract deadline, rows, rejected share, link rates,
    pending reviews, code drift (fangpin.exchange.health)."""
    with request.app.state.engine.connect() as conn:
        return {"items": _health(conn)}


def _health(conn) -> list[dict]:
    from fangpin.exchange.health import feeds_status

    out = []
    for f in feeds_status(conn):
        linked = sum(v for k, v in f["match_rates"].items() if k not in ("unmatched", "review"))
        f = {**f, "link_rate": round(linked, 4),
             "last_delivery": f["last_delivery"].isoformat(sep=" ") if f["last_delivery"] else None,
             "latest_event_date": f["latest_event_date"].isoformat() if f["latest_event_date"] else None}
        out.append(f)
    return out


@router.get("/api/track/{tracking_number}", tags=["public"])
def api_track(tracking_number: str, request: Request) -> dict:
    """农户自主申报进度 (public): the current step of a self-application — no personal data."""
    with request.app.state.engine.connect() as conn:
        d = track(conn, tracking_number)
    if d is None:
        raise _err(404, "NOT_FOUND", "未找到该申报编号", "no self-application with this tracking number")
    return d


def track(conn, tracking_number: str) -> dict | None:
    from fangpin.cases.models import CaseEvent, CaseFile
    from fangpin.cases.workflow import workflow

    no = (tracking_number or "").strip().upper()
    if not re.fullmatch(r"FP\d{8}[A-Z0-9]{4,10}", no):
        return None
    c = conn.execute(select(CaseFile.id, CaseFile.state, CaseFile.source, CaseFile.opened_on, CaseFile.closed_on)
                     .where(CaseFile.case_no == no)).first()
    if c is None or c.source != "self_application":
        return None  # only self-applicants hold tracking numbers; other case numbers are not public
    last = conn.execute(select(CaseEvent.at).where(CaseEvent.case_id == c.id).order_by(CaseEvent.seq.desc())
                        .limit(1)).scalar()
    st = workflow().states[c.state]
    return {"tracking_number": no, "state": c.state, "state_zh": st.zh, "state_en": st.en, "phase": st.phase,
            "submitted_on": c.opened_on.isoformat() if c.opened_on else None,
            "last_update": last.date().isoformat() if last else None, "closed": c.closed_on is not None}


# --- pages --------------------------------------------------------------------------------------------------------

def _render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    from fangpin.web.pages import render

    return render(request, name, status, **ctx)


def _page_user(request: Request):
    from fangpin.web.pages import _login_redirect

    u = request.state.user
    if u is None:
        return None, _login_redirect(request)
    if u.role not in FEED_ROLES:
        return None, _render(request, "message.html", 403, message=request.state.t("uploads_role_refused"))
    return u, None


@router.get("/feeds", response_class=HTMLResponse, include_in_schema=False)
def feeds_page(request: Request, error: str | None = None):
    u, resp = _page_user(request)
    if resp:
        return resp
    return _render(request, "uploads/feeds.html", feeds=_feeds(), jobs=_recent(request, u, 20), error=error,
                   can_monitor=_may(u, "monitor"), can_roster=_may(u, "roster_import"), today=date.today().isoformat())


@router.post("/feeds/upload", response_class=HTMLResponse, include_in_schema=False)
async def feeds_upload(request: Request, csrf_token: str = Form(""), feed: str = Form(""),
                       as_of: str | None = Form(None), file: UploadFile | None = File(None)):
    u, resp = _page_user(request)
    if resp:
        return resp
    t = request.state.t
    if not csrf_ok(request.state.session, csrf_token):
        return _render(request, "message.html", 403, message=t("csrf_failed"))
    if file is None or not file.filename:
        return _render(request, "uploads/feeds.html", 422, feeds=_feeds(), jobs=_recent(request, u, 20),
                       error=t("uploads_no_file"), can_monitor=_may(u, "monitor"),
                       can_roster=_may(u, "roster_import"), today=date.today().isoformat())
    try:
        jid = await start_feed_import(request, u, feed, file, as_of)
    except HTTPException as e:
        d = e.detail if isinstance(e.detail, dict) else {}
        msg = d.get("message_en" if request.state.lang == "en" else "message_zh", str(e.detail))
        return _render(request, "uploads/feeds.html", e.status_code, feeds=_feeds(), jobs=_recent(request, u, 20),
                       error=msg, can_monitor=_may(u, "monitor"), can_roster=_may(u, "roster_import"),
                       today=date.today().isoformat())
    return RedirectResponse(f"/jobs/{jid}", status_code=303)


@router.post("/feeds/roster", response_class=HTMLResponse, include_in_schema=False)
async def roster_upload(request: Request, csrf_token: str = Form(""), as_of: str | None = Form(None),
                        files: list[UploadFile] = File(default_factory=list)):
    u, resp = _page_user(request)
    if resp:
        return resp
    if not csrf_ok(request.state.session, csrf_token):
        return _render(request, "message.html", 403, message=request.state.t("csrf_failed"))
    try:
        _need(u, "roster_import")
        d, spooled = await _spool(request.app, [f for f in files if f.filename])
        key = hashlib.sha256(("roster_import|" + "|".join(sorted(s for _, _, s in spooled))
                              + f"|{_as_of(as_of)}").encode()).hexdigest()
        jid = runner(request.app).submit("roster_import", {"dir": str(d), "spool": str(d), "as_of": _as_of(as_of),
                                                           "files": [n for n, _, _ in spooled]},
                                         user=u, dedup_key=key)
    except HTTPException as e:
        d = e.detail if isinstance(e.detail, dict) else {}
        return _render(request, "message.html", e.status_code,
                       message=d.get("message_en" if request.state.lang == "en" else "message_zh", str(e.detail)))
    return RedirectResponse(f"/jobs/{jid}", status_code=303)


@router.post("/jobs/monitor", response_class=HTMLResponse, include_in_schema=False)
async def monitor_post(request: Request, csrf_token: str = Form(""), as_of: str | None = Form(None)):
    u, resp = _page_user(request)
    if resp:
        return resp
    if not csrf_ok(request.state.session, csrf_token):
        return _render(request, "message.html", 403, message=request.state.t("csrf_failed"))
    if not _may(u, "monitor"):
        return _render(request, "message.html", 403, message=request.state.t("uploads_role_refused"))
    try:
        d = _as_of(as_of) or date.today().isoformat()
    except HTTPException:
        return _render(request, "message.html", 422, message=request.state.t("uploads_bad_date"))
    jid = runner(request.app).submit("monitor", {"as_of": d}, user=u,
                                     dedup_key=hashlib.sha256(f"monitor|{d}".encode()).hexdigest())
    return RedirectResponse(f"/jobs/{jid}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(job_id: int, request: Request):
    from fangpin.web.pages import _login_redirect, _not_found as page_404

    u = request.state.user
    if u is None:
        return _login_redirect(request)
    row = _visible_job(request, u, job_id)
    if row is None:
        return page_404(request)
    return _render(request, "uploads/job.html", job=job_dict(row))


@router.get("/feeds/health", response_class=HTMLResponse, include_in_schema=False)
def health_page(request: Request):
    u, resp = _page_user(request)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        items = _health(conn)
    return _render(request, "uploads/health.html", items=items)


@router.get("/track", response_class=HTMLResponse, include_in_schema=False)
def track_page(request: Request, no: str | None = None):
    d = None
    if no:
        with request.app.state.engine.connect() as conn:
            d = track(conn, no)
    status = 404 if no and d is None else 200
    return _render(request, "uploads/track.html", status, no=no or "", d=d)


# --- code labels (Jinja filters) ----------------------------------------------------------------------------------

def code_label(value, list_name: str, lang: str = "zh") -> str:
    """The label of a code-list value in the page language (fangpin.codes.lookup); unknown values as given."""
    from fangpin import codes

    if value is None or value == "":
        return ""
    try:
        c = codes.lookup(list_name, value)
    except KeyError:
        c = None
    if c is None:
        return str(value)
    return c.en if lang == "en" else c.zh


def codes_label(values, list_name: str, lang: str = "zh") -> str:
    return ("; " if lang == "en" else "、").join(code_label(v, list_name, lang) for v in (values or []))


def rule_label(rule_id: str, lang: str = "zh") -> str:
    """A monitoring rule's name (rules.yaml) with its id."""
    from fangpin.monitoring.engine import load_rules

    names = _rule_names(load_rules)
    n = names.get(rule_id)
    if not n:
        return str(rule_id)
    return f"{n[1] if lang == 'en' else n[0]} ({rule_id})"


_RULES: dict[str, tuple[str, str]] = {}


def _rule_names(load_rules) -> dict[str, tuple[str, str]]:
    if not _RULES:
        for r in load_rules().rules:
            _RULES[r.id] = (r.name_zh, r.name_en)
    return _RULES


def wf_label(value, kind: str, lang: str = "zh") -> str:
    """Label of a workflow code (cases/workflow.yaml): kind = action | state | source; unknown codes as given."""
    from fangpin.cases.workflow import workflow

    wf = workflow()
    if kind == "action":
        v = wf.actions.get(value) or {"open": {"zh": "登记线索", "en": "Lead opened"}}.get(value)
        zh, en = (v.get("zh"), v.get("en")) if v else (None, None)
    elif kind == "state":
        v = wf.states.get(value)
        zh, en = (v.zh, v.en) if v else (None, None)
    else:
        v = wf.lead_sources.get(value)
        zh, en = (v.zh, v.en) if v else (None, None)
    label = en if lang == "en" else zh
    return label or ("" if value is None else str(value))


def install(app) -> None:
    """Mount this module on the app: routes and the code-label filters for every template."""
    env = app.state.templates.env
    env.filters["code_label"] = code_label
    env.filters["codes_label"] = codes_label
    env.filters["rule_label"] = rule_label
    env.filters["wf_label"] = wf_label
    app.include_router(router)
    # the runner starts with the server, so jobs of a crashed predecessor are marked failed at once
    app.router.on_startup.append(lambda: runner(app))
    app.router.on_shutdown.append(lambda: _stop_runner(app))


def _stop_runner(app) -> None:
    """Stop the runner and forget it: the same app started again (a new lifespan) gets a fresh runner."""
    with _LOCK:
        r = getattr(app.state, "job_runner", None)
        app.state.job_runner = None
    if r is not None:
        r.shutdown()
