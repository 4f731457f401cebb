"""Reveal of a full phone / ID number (role-gated, audited): REST endpoint and the household page's form.

Everything else shows masked values (fangpin.web.queries). The rules live in fangpin.security.reveal."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fangpin.auth import User
from fangpin.security.reveal import RevealRefused, reveal
from fangpin.web import queries as Q
from fangpin.web.api import writer

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RevealIn(BaseModel):
    field: str = Field(description="phone | head_id | member_id")
    person_id: int | None = Field(None, description="the member, for member_id")
    reason: str = Field(description="why the full value is needed (kept in the audit log)")


def _refusal(e: RevealRefused) -> JSONResponse:
    return JSONResponse({"code": e.issue.code, "message_zh": e.issue.zh, "message_en": e.issue.en},
                        status_code=e.status, headers=NO_STORE)


@router.post("/api/households/{hh_no}/reveal", tags=["api"])
def reveal_api(hh_no: str, body: RevealIn, request: Request, user: User = Depends(writer)):
    """The full phone or ID number (roles: docs/SECURITY.md); audited; answers are not cached."""
    try:
        with request.app.state.engine.begin() as conn:
            r = reveal(conn, user, hh_no, body.field, person_id=body.person_id, reason=body.reason)
    except RevealRefused as e:
        return _refusal(e)
    return JSONResponse({"field": r.field, "person_id": r.person_id, "value": r.value, "audit_id": r.audit_id},
                        headers=NO_STORE)


@router.post("/households/{hh_no}/reveal", include_in_schema=False)
async def reveal_page(hh_no: str, request: Request):
    from fangpin.web.pages import _form, _need_user, _not_found, render

    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    form, ok = await _form(request)
    with request.app.state.engine.connect() as conn:
        d = Q.household_detail(conn, u.scope, hh_no)
    if d is None:
        return _not_found(request)
    if not ok:
        return render(request, "household.html", 403, h=d, reveal_error=request.state.t("csrf_failed"))
    pid = form.get("person_id")
    try:
        with request.app.state.engine.begin() as conn:
            r = reveal(conn, u, hh_no, str(form.get("field") or ""),
                       person_id=int(pid) if pid and str(pid).isdigit() else None, reason=str(form.get("reason") or ""))
    except RevealRefused as e:
        if e.status == 404:
            return _not_found(request)
        msg = e.issue.zh if request.state.lang == "zh" else e.issue.en
        return render(request, "household.html", e.status, h=d, reveal_error=msg)
    resp = render(request, "household.html", h=d, revealed=r)
    resp.headers.update(NO_STORE)
    return resp
