"""FastAPI application factory: REST API under /api (OpenAPI at /openapi.json) and server-rendered pages.

The web package is a thin adapter: reads are region-scoped queries (fangpin.web.queries), every change is a
call to a domain service (fangpin.cases, fangpin.alerts.cases_link). Out-of-region records answer 404.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool

from fangpin.cases import CaseConflict, CaseError
from fangpin.web.i18n import DEFAULT, LANGS, translator
from fangpin.web.session import COOKIE, Sessions, session_idle

HERE = Path(__file__).parent


def error_body(e: CaseError) -> dict:
    """The bilingual refusal of a domain service as JSON."""
    details = {k: v for k, v in (e.details or {}).items() if k != "messages"}
    if "messages" in (e.details or {}):
        details["messages"] = [{"code": m.code, "zh": m.zh, "en": m.en} for m in e.details["messages"]]
    return {"code": e.code, "message_zh": e.issue.zh, "message_en": e.issue.en,
            "message": f"{e.issue.zh} / {e.issue.en}", "details": details}


def create_app(db_url: str | None = None, *, secret_key: str | None = None, engine=None,
               secure_cookies: bool = False) -> FastAPI:
    """The web application over the database at ``db_url`` (migrated on start).

    ``secret_key`` signs session cookies (default: FANGPIN_SECRET_KEY, else a random key — sessions then end
    when the server restarts)."""
    from fangpin.db import make_engine, upgrade

    if engine is None:
        engine = make_engine(db_url)
    upgrade(engine)
    app = FastAPI(title="fangpin (防贫) API", version="0.1.0",
                  description="Region-scoped REST API of fangpin. Log in with POST /api/session; writes need the "
                              "X-CSRF-Token header returned there.")
    app.state.engine = engine
    app.state.sessions = Sessions(secret_key or os.environ.get("FANGPIN_SECRET_KEY") or secrets.token_urlsafe(32),
                                  secure=secure_cookies, idle=session_idle())
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def session_mw(request: Request, call_next):
        sessions: Sessions = app.state.sessions
        sess = sessions.load(request.cookies.get(COOKIE))
        fresh = sess is None
        if fresh:
            sess = sessions.new()
        request.state.user = None
        if sess.get("sid"):
            # server-side session check (one primary-key lookup, docs/SECURITY.md §5): off the event loop (a busy
            # pool must not stall every other request)
            request.state.user = await run_in_threadpool(sessions.user, engine, sess)
            if request.state.user is None:  # revoked, expired or idle: anonymous from now on, new CSRF token
                sess, fresh = sessions.new(), True
        request.state.session = sess
        lang = request.query_params.get("lang") or request.cookies.get("lang") or DEFAULT
        request.state.lang = lang if lang in LANGS else DEFAULT
        request.state.t = translator(request.state.lang)
        response = await call_next(request)
        new = getattr(request.state, "new_session", None)
        if new is not None:
            sessions.set(response, new)
        elif fresh:
            sessions.set(response, sess)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", request.state.lang, max_age=365 * 86400, samesite="lax", httponly=True)
        return response

    @app.exception_handler(CaseConflict)
    async def _conflict(request: Request, e: CaseConflict):
        return JSONResponse(error_body(e), status_code=409)

    @app.exception_handler(CaseError)
    async def _case_error(request: Request, e: CaseError):
        return JSONResponse(error_body(e), status_code=422)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _bad_value(request: Request, e: Exception):
        # a value the database cannot hold (an id beyond 64 bits, a page far past the end): the request is wrong,
        # not the server — answer 422 with a bilingual message instead of a 500
        return JSONResponse({"code": "BAD_VALUE", "message_zh": "请求中的数值超出允许范围",
                             "message_en": "A value in the request is out of range",
                             "message": "请求中的数值超出允许范围 / A value in the request is out of range"},
                            status_code=422)

    from fangpin.policy.params import ParameterLookupError

    @app.exception_handler(ParameterLookupError)
    async def _no_parameter(request: Request, e: ParameterLookupError):
        # a date (or region) for which no policy value is in force: the request asks outside the policy's range
        text = str(e)
        en, _, zh = text.partition(" / ")
        return JSONResponse({"code": "PARAMETER_NOT_IN_FORCE", "message_zh": zh or text, "message_en": en,
                             "message": text}, status_code=422)

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, e: Exception):
        # every database connection busy for 30 s: overloaded, not broken — say so, and when to retry
        return JSONResponse({"code": "BUSY", "message_zh": "系统繁忙，请稍后再试",
                             "message_en": "The server is busy; try again shortly",
                             "message": "系统繁忙，请稍后再试 / The server is busy; try again shortly"},
                            status_code=503, headers={"Retry-After": "30"})

    from fangpin.web import api, pages, security, uploads

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(security.router)  # reveal of a full phone / ID number, audited (docs/SECURITY.md)
    from fangpin.web import reports as reports_web  # dashboard figures, monthly report, XLSX exports

    app.include_router(reports_web.router)
    uploads.install(app)  # feed upload, background jobs, feed health, tracking status, code-label filters
    from fangpin.web import cases as _cases; app.include_router(_cases.router)  # noqa: E702  (assistance chain)
    from fangpin.web import programmes; app.include_router(programmes.router)  # noqa: E702 (issue 9)
    from fangpin.web import preview as _preview; app.include_router(_preview.router)  # issue 8 rule preview
    from fangpin.web import account; app.include_router(account.router)  # noqa: E702 (my sessions)
    return app
