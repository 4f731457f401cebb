"""Server-rendered pages (Jinja2). Forms post back here with the session's CSRF token; each handler calls the
same domain services as the API. Pages work on a phone (viewport meta, one-column CSS)."""
from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from fangpin import codes
from fangpin.alerts.cases_link import open_case_from_alert
from fangpin.auth import ROLES
from fangpin.auth.throttle import attempt_login, locked_issue
from fangpin.cases import CaseConflict, CaseError, act, apply_self, get_case, history
from fangpin.web import queries as Q
from fangpin.web.api import _allowed
from fangpin.web.session import csrf_ok

router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    t = request.state.t
    return request.app.state.templates.TemplateResponse(request, name, {
        "t": t, "lang": request.state.lang, "user": request.state.user, "roles": ROLES,
        "csrf": (getattr(request.state, "new_session", None) or request.state.session)["csrf"], **ctx},
        status_code=status)


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse("/login?next=" + quote(request.url.path), status_code=303)


def _need_user(request: Request, records: bool = False, viewer: bool = False):
    """The logged-in user, or the answer: 303 to /login; 403 for aggregate-only roles when ``records``; 403 for
    department data officers when ``viewer`` (aggregates, but not theirs: upload and feed health only)."""
    u = request.state.user
    if u is None:
        return None, _login_redirect(request)
    if records and not u.sees_records:
        return None, render(request, "message.html", 403, message=request.state.t("aggregates_only"))
    if viewer and u.role == "department_officer":
        return None, render(request, "message.html", 403, message=request.state.t("uploads_only"))
    return u, None


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "message.html", 404, message=request.state.t("not_found"))


async def _form(request: Request) -> tuple[dict, bool]:
    form = await request.form()
    return form, csrf_ok(request.state.session, form.get("csrf_token"))


async def _posted(request: Request, records: bool = True, viewer: bool = False):
    """A form post by a logged-in user with the session's CSRF token: (user, form, None), or (None, None, answer)
    — the login redirect, the role refusal of :func:`_need_user`, or 403 for a missing/wrong token."""
    u, resp = _need_user(request, records=records, viewer=viewer)
    if resp:
        return None, None, resp
    form, ok = await _form(request)
    if not ok:
        return None, None, render(request, "message.html", 403, message=request.state.t("csrf_failed"))
    return u, form, None


@router.get("/", response_class=HTMLResponse)
def index(request: Request):
    return RedirectResponse("/dashboard" if request.state.user else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/dashboard"):
    return render(request, "login.html", next=next if next.startswith("/") else "/dashboard")


@router.post("/login", response_class=HTMLResponse)
async def login_post(request: Request):
    form, ok = await _form(request)
    nxt = str(form.get("next") or "/dashboard")
    nxt = nxt if nxt.startswith("/") and not nxt.startswith("//") else "/dashboard"
    if not ok:
        return render(request, "login.html", 403, next=nxt, error=request.state.t("csrf_failed"))
    with request.app.state.engine.begin() as conn:
        u, lock = attempt_login(conn, str(form.get("username") or ""), str(form.get("password") or ""),
                                request.client.host if request.client else None)
    if lock is not None:
        iss = locked_issue(lock)
        resp = render(request, "login.html", 429, next=nxt, error=iss.en if request.state.lang == "en" else iss.zh)
        resp.headers["Retry-After"] = str(lock.retry_after(datetime.now()))
        return resp
    if u is None:
        return render(request, "login.html", 401, next=nxt, error=request.state.t("login_failed"))
    request.state.new_session = request.app.state.sessions.login(  # new session and token: no session fixation
        request.app.state.engine, u.id, request.client.host if request.client else None, request.state.session)
    return RedirectResponse(nxt, status_code=303)


@router.post("/logout")
async def logout(request: Request):
    form, ok = await _form(request)
    if ok:
        request.state.new_session = request.app.state.sessions.logout(request.app.state.engine,
                                                                      request.state.session)
    return RedirectResponse("/login", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, month: str | None = None, area: str | None = None):
    u, resp = _need_user(request)
    if resp:
        return resp
    from fangpin.web.reports import dashboard_page_context  # charts, analysis text, drill-down (fangpin.reports)

    if u.role == "department_officer":  # upload and feed health only (issue 6)
        return RedirectResponse("/feeds", status_code=303)
    with request.app.state.engine.connect() as conn:
        d = Q.dashboard(conn, u.scope)
        name = Q.region_names(conn, [u.region_code]).get(u.region_code.ljust(12, "0"), "")
        extra = dashboard_page_context(conn, u, month, area)
    if extra is None:
        return _not_found(request)
    return render(request, "dashboard.html", d=d, region_name=name, **extra)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, page: int = 1, rule: str | None = None, error: str | None = None):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    page = max(page, 1)
    with request.app.state.engine.connect() as conn:
        items = Q.alert_rows(conn, u.scope, rule=rule, limit=50, offset=(page - 1) * 50)
        total = Q.count_alerts(conn, u.scope, "open", rule)
    from fangpin.cases.workflow import workflow

    can_open = u.role in workflow().lead_sources["alert"].roles
    return render(request, "alerts.html", items=items, total=total, page=page, rule=rule, can_open=can_open,
                  error=error)


@router.post("/alerts/{alert_id}/case", response_class=HTMLResponse)
async def open_case_post(alert_id: int, request: Request):
    u, form, resp = await _posted(request)
    if resp:
        return resp
    try:
        with request.app.state.engine.begin() as conn:
            if Q.alert_in_scope(conn, u.scope, alert_id) is None:
                return _not_found(request)
            case = open_case_from_alert(conn, alert_id, u.actor(), comment=str(form.get("comment") or "") or None)
    except CaseError as e:
        return render(request, "message.html", 422, message=_msg(request, e))
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


def _msg(request: Request, e: CaseError) -> str:
    return e.issue.en if request.state.lang == "en" else e.issue.zh


@router.get("/households", response_class=HTMLResponse)
def households_page(request: Request, page: int = 1):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    page = max(page, 1)
    with request.app.state.engine.connect() as conn:
        d = Q.household_page(conn, u.scope, page, 50)
    return render(request, "households.html", d=d)


@router.get("/households/{hh_no}", response_class=HTMLResponse)
def household_page(hh_no: str, request: Request):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        d = Q.household_detail(conn, u.scope, hh_no)
        el = None
        if d is not None:
            from fangpin.cases import latest_eligibility

            el = latest_eligibility(conn, hh_no)
    if d is None:
        return _not_found(request)
    return render(request, "household.html", h=d, eligibility=el)


def _case_page(request: Request, u, case_id: int, status: int = 200, error: str | None = None):
    with request.app.state.engine.connect() as conn:
        if not Q.case_in_scope(conn, u.scope, case_id):
            return _not_found(request)
        c = get_case(conn, case_id)
        allowed = _allowed(conn, case_id, u)
        events = Q.event_rows(history(conn, case_id))
        hh = None
        if c.household_id is not None:
            from sqlalchemy import select

            from fangpin.registry.models import Household

            hh = conn.execute(select(Household.hh_no).where(Household.id == c.household_id)).scalar()
        el = None
        if hh is not None:
            from fangpin.cases import latest_eligibility

            el = latest_eligibility(conn, hh)
    from fangpin.cases.workflow import workflow

    acts = [{"action": a, "zh": workflow().actions.get(a, {}).get("zh", a),
             "en": workflow().actions.get(a, {}).get("en", a)} for a in allowed]
    return render(request, "case.html", status, c=c, actions=acts, events=events, hh_no=hh, error=error,
                  eligibility=el)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: int, request: Request):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    return _case_page(request, u, case_id)


@router.post("/cases/{case_id}/act", response_class=HTMLResponse)
async def case_act(case_id: int, request: Request):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    form, ok = await _form(request)
    if not ok:
        return _case_page(request, u, case_id, 403, request.state.t("csrf_failed"))
    raw = str(form.get("payload") or "").strip()
    try:
        payload = json.loads(raw) if raw else {}
        if not isinstance(payload, dict):
            raise ValueError
    except ValueError:
        return _case_page(request, u, case_id, 422, request.state.t("bad_json"))
    try:
        expected_version = int(str(form.get("expected_version") or 0))
    except ValueError:  # a tampered form: refuse cleanly, never a 500
        expected_version = -1
    try:
        with request.app.state.engine.begin() as conn:
            if not Q.case_in_scope(conn, u.scope, case_id):
                return _not_found(request)
            act(conn, case_id, str(form.get("action") or ""), u.actor(),
                expected_version=expected_version,
                comment=str(form.get("comment") or "") or None, payload=payload)
    except CaseConflict as e:
        return _case_page(request, u, case_id, 409, _msg(request, e))
    except CaseError as e:
        return _case_page(request, u, case_id, 422, _msg(request, e))
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


def _risk_choices() -> list:
    return codes.load_code_lists()["risk_types"].entries


@router.get("/apply", response_class=HTMLResponse)
def apply_page(request: Request):
    return render(request, "apply.html", reasons=_risk_choices(), form={}, errors=[])


@router.post("/apply", response_class=HTMLResponse)
async def apply_post(request: Request):
    form, ok = await _form(request)
    data = {k: form.get(k) for k in ("name", "id_number", "phone", "village_code", "household_size",
                                     "description", "expected_income")}
    data["reasons"] = form.getlist("reasons")
    data["consent"] = form.get("consent") == "on"
    data["authorisation"] = form.get("authorisation") == "on"
    if not ok:
        return render(request, "apply.html", 403, reasons=_risk_choices(), form=data,
                      errors=[request.state.t("csrf_failed")])
    try:
        with request.app.state.engine.begin() as conn:
            c = apply_self(conn, data)
    except CaseError as e:
        msgs = e.details.get("messages") or [e.issue]
        errs = [m.en if request.state.lang == "en" else m.zh for m in msgs]
        return render(request, "apply.html", 422, reasons=_risk_choices(), form=data, errors=errs)
    return render(request, "applied.html", tracking_number=c.case_no)
