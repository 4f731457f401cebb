"""“My sessions” (我的会话): every signed-in user sees where they are logged in and ends those sessions
(issue 7 follow-up, docs/SECURITY.md §5). Domain rules in :mod:`fangpin.auth.own_sessions`.

Page: GET /account/sessions; forms POST /account/sessions/{label}/end and POST /account/sessions/end-others
(CSRF token; each redirects back with a notice; ending this device's session is a logout → /login).
API: GET /api/account/sessions, POST /api/account/sessions/{label}/end, POST /api/account/sessions/end-others
(X-CSRF-Token). Anonymous: page → /login, API → 401. A label that is not the user's own → 404, nothing changes.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from fangpin.auth import User
from fangpin.auth.own_sessions import end_others, end_own, own_sessions
from fangpin.web.api import api_user, user_writer

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE = "/account/sessions"
# notices the page shows after a redirect (a fixed code in the query string, never text from the request)
NOTICES = {"ended": "account_notice_ended", "already": "account_notice_already",
           "others": "account_notice_others", "none": "account_notice_none"}
# revoked_reason values with their own message (fangpin.auth.sessions, fangpin.auth, fangpin.auth.own_sessions)
REASONS = frozenset({"logout", "relogin", "password_changed", "account_disabled", "admin_revoke", "user_ended"})


def _sid(request: Request) -> str | None:
    return request.state.session.get("sid")


def _api_not_found() -> HTTPException:
    return HTTPException(404, detail={"code": "SESSION_NOT_FOUND", "message_zh": "未找到该会话(或不是您的会话)",
                                      "message_en": "Session not found (or not one of yours)"})


# ------------------------------------------------------------------------------------------------------ API
@router.get("/api/account/sessions", tags=["auth"])
def sessions_api(request: Request, user: User = Depends(api_user)):
    """Your own sessions, newest first: label (first 8 hex characters of the stored hash), this device or not,
    signed in at, last seen, expires, masked client address, status (active / ended + reason / expired / idle)."""
    with request.app.state.engine.connect() as conn:
        rows = own_sessions(conn, user.id, _sid(request))
    return JSONResponse({"sessions": [r.as_dict() for r in rows]}, headers=NO_STORE)


@router.post("/api/account/sessions/{label}/end", tags=["auth"],
             responses={404: {"description": "no session of yours has this label"}})
def end_api(label: str, request: Request, user: User = Depends(user_writer)):
    """End one of your sessions (audited). Ending this device's own session logs you out."""
    with request.app.state.engine.begin() as conn:
        r = end_own(conn, user, label, _sid(request))
    if not r.found:
        raise _api_not_found()
    if r.current:
        request.state.new_session = request.app.state.sessions.new()
    return JSONResponse({"label": label, "ended": r.ended, "current": r.current}, headers=NO_STORE)


@router.post("/api/account/sessions/end-others", tags=["auth"])
def end_others_api(request: Request, user: User = Depends(user_writer)):
    """End all your sessions except this one (audited); returns the labels ended."""
    with request.app.state.engine.begin() as conn:
        ended = end_others(conn, user, _sid(request))
    return JSONResponse({"ended": len(ended), "labels": ended}, headers=NO_STORE)


# ---------------------------------------------------------------------------------------------------- pages
@router.get(PAGE, response_class=HTMLResponse, include_in_schema=False)
def sessions_page(request: Request, notice: str | None = None, n: str | None = None):
    from fangpin.web.pages import _need_user, render

    u, resp = _need_user(request)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        rows = own_sessions(conn, u.id, _sid(request))
    key = NOTICES.get(notice or "")
    count = int(n) if n and n.isdigit() and len(n) < 7 else 0
    text = request.state.t(key).replace("{n}", str(count)) if key else None
    others = sum(1 for r in rows if r.status == "active" and not r.current)
    resp = render(request, "account/sessions.html", rows=rows, notice=text, others=others, reasons=REASONS)
    resp.headers.update(NO_STORE)
    return resp


@router.post(PAGE + "/{label}/end", include_in_schema=False)
async def end_page(label: str, request: Request):
    from fangpin.web.pages import _not_found, _posted

    u, _, resp = await _posted(request, records=False)
    if resp:
        return resp
    with request.app.state.engine.begin() as conn:
        r = end_own(conn, u, label, _sid(request))
    if not r.found:
        return _not_found(request)
    if r.current:  # ending this device's session from the list = logout
        request.state.new_session = request.app.state.sessions.new()
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(f"{PAGE}?notice={'ended' if r.ended else 'already'}", status_code=303)


@router.post(PAGE + "/end-others", include_in_schema=False)
async def end_others_page(request: Request):
    from fangpin.web.pages import _posted

    u, _, resp = await _posted(request, records=False)
    if resp:
        return resp
    with request.app.state.engine.begin() as conn:
        ended = end_others(conn, u, _sid(request))
    return RedirectResponse(f"{PAGE}?notice={'others' if ended else 'none'}&n={len(ended)}", status_code=303)
