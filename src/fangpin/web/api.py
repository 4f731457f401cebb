"""REST API (/api/…). Anonymous requests get 401, except POST /api/session (login) and
POST /api/self-applications (农户自主申报, public). Records outside the user's region answer 404."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from fangpin.alerts.cases_link import open_case_from_alert
from fangpin.auth import User
from fangpin.auth.throttle import attempt_login, locked_issue
from fangpin.cases import CaseError, act, allowed_actions, apply_self, get_case, history
from fangpin.cases.workflow import workflow
from fangpin.web import queries as Q
from fangpin.web.session import csrf_ok

router = APIRouter(prefix="/api", tags=["api"])

# Database ids are 64-bit; a larger number in a path is refused by validation (422), never sent to the database.
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PAGE = Query(1, ge=1, le=1_000_000)


def _engine(request: Request):
    return request.app.state.engine


def api_user(request: Request) -> User:
    u = request.state.user
    if u is None:
        raise HTTPException(401, detail={"code": "AUTH_REQUIRED", "message_zh": "请先登录",
                                         "message_en": "Log in first"})
    return u


def records_user(user: User = Depends(api_user)) -> User:
    """Users who may see individual households, alerts and cases."""
    if not user.sees_records:
        raise HTTPException(403, detail={"code": "AUTH_AGGREGATES_ONLY", "message_zh": "您的角色只能查看汇总数据",
                                         "message_en": "Your role sees aggregates only"})
    return user


def viewer_user(user: User = Depends(api_user)) -> User:
    """Users who may read aggregates (dashboards, reports, programme figures): everyone but department data
    officers, who see upload and feed health only (issue 6)."""
    if user.role == "department_officer":
        raise HTTPException(403, detail={"code": "AUTH_ROLE", "message_zh": "部门数据专员只能上报数据和查看数据源健康",
                                         "message_en": "Department data officers see upload and feed health only"})
    return user


def _csrf(request: Request) -> None:
    if not csrf_ok(request.state.session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, detail={"code": "AUTH_CSRF", "message_zh": "缺少或错误的 CSRF 令牌",
                                         "message_en": "Missing or wrong CSRF token (X-CSRF-Token)"})


def user_writer(request: Request, user: User = Depends(api_user)) -> User:
    """A write by any logged-in user (e.g. log out) needs the CSRF token too."""
    _csrf(request)
    return user


def writer(request: Request, user: User = Depends(records_user)) -> User:
    """A write needs the session's CSRF token in X-CSRF-Token."""
    if not csrf_ok(request.state.session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, detail={"code": "AUTH_CSRF", "message_zh": "缺少或错误的 CSRF 令牌",
                                         "message_en": "Missing or wrong CSRF token (X-CSRF-Token)"})
    return user


def _not_found(what: str = "record") -> HTTPException:
    return HTTPException(404, detail={"code": "NOT_FOUND", "message_zh": "未找到(或不在您的辖区)",
                                      "message_en": f"{what} not found (or outside your region)"})


class LoginIn(BaseModel):
    username: str
    password: str


class SessionOut(BaseModel):
    username: str
    display_name: str
    role: str
    region_code: str
    csrf_token: str


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/session", response_model=SessionOut, tags=["auth"],
             responses={401: {"description": "wrong username or password"},
                        429: {"description": "too many failures: username or address locked (Retry-After)"}})
def login(body: LoginIn, request: Request):
    """Log in: sets the session cookie and returns the CSRF token for writes."""
    with _engine(request).begin() as conn:
        u, lock = attempt_login(conn, body.username, body.password, client_ip(request))
    if lock is not None:
        iss = locked_issue(lock)
        raise HTTPException(429, headers={"Retry-After": str(lock.retry_after(datetime.now()))},
                            detail={"code": iss.code, "message_zh": iss.zh, "message_en": iss.en})
    if u is None:
        raise HTTPException(401, detail={"code": "AUTH_FAILED", "message_zh": "用户名或密码错误",
                                         "message_en": "Wrong username or password"})
    sess = request.app.state.sessions.login(_engine(request), u.id, client_ip(request), request.state.session)
    request.state.new_session = sess
    return SessionOut(username=u.username, display_name=u.display_name, role=u.role, region_code=u.region_code,
                      csrf_token=sess["csrf"])


@router.delete("/session", status_code=204, tags=["auth"])
def logout(request: Request, user: User = Depends(user_writer)):
    """Log out: the server-side session is revoked (a copy of the cookie is refused from now on)."""
    request.state.new_session = request.app.state.sessions.logout(_engine(request), request.state.session)
    return Response(status_code=204)


@router.get("/me", tags=["auth"])
def me(request: Request, user: User = Depends(api_user)) -> dict:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "region_code": user.region_code, "csrf_token": request.state.session["csrf"]}


@router.get("/dashboard")
def dashboard(request: Request, user: User = Depends(viewer_user)) -> dict:
    """Aggregates for the user's region: households, persons, open alerts by rule and township, cases by state."""
    with _engine(request).connect() as conn:
        return {"region_code": user.region_code, **Q.dashboard(conn, user.scope)}


@router.get("/households")
def households(request: Request, page: int = PAGE, per_page: int = Query(50, ge=1, le=500),
               village: str | None = Query(None, description="Narrow to a region prefix inside yours"),
               user: User = Depends(records_user)) -> dict:
    """Households on the roster in the user's region (IDs masked), paginated by 户编号."""
    with _engine(request).connect() as conn:
        return Q.household_page(conn, user.scope, page, per_page, village)


@router.get("/households/{hh_no}")
def household(hh_no: str, request: Request, user: User = Depends(records_user)) -> dict:
    """One household today: members (IDs masked), guarantees, income records, alerts, cases with history."""
    with _engine(request).connect() as conn:
        d = Q.household_detail(conn, user.scope, hh_no)
    if d is None:
        raise _not_found("household")
    return d


@router.get("/alerts")
def alerts(request: Request, status: str = Query("open"), rule: str | None = None, page: int = PAGE,
           per_page: int = Query(50, ge=1, le=500), user: User = Depends(records_user)) -> dict:
    """Alert episodes in the user's region (default: open), newest first, with their evidence."""
    with _engine(request).connect() as conn:
        items = Q.alert_rows(conn, user.scope, status=status, rule=rule, limit=per_page,
                             offset=(page - 1) * per_page)
        total = Q.count_alerts(conn, user.scope, status, rule)
    return {"total": total, "page": page, "per_page": per_page, "items": items}


class OpenCaseIn(BaseModel):
    comment: str | None = None


@router.post("/alerts/{alert_id}/case", status_code=201)
def open_case(alert_id: RecordId, request: Request, body: OpenCaseIn | None = None, user: User = Depends(writer)) -> dict:
    """Open a case (lead) from an alert — township and county officers (workflow.yaml lead_sources.alert)."""
    with _engine(request).begin() as conn:
        if Q.alert_in_scope(conn, user.scope, alert_id) is None:
            raise _not_found("alert")
        case = open_case_from_alert(conn, alert_id, user.actor(), comment=body.comment if body else None)
        return {**Q.case_dict(case), "allowed_actions": allowed_actions(conn, case.id, user.actor())}


def _allowed(conn, case_id: int, user: User) -> list[str]:
    if user.role not in workflow().roles:
        return []
    return allowed_actions(conn, case_id, user.actor())


@router.get("/cases/{case_id}")
def case(case_id: RecordId, request: Request, user: User = Depends(records_user)) -> dict:
    """A case with its history and the actions this user may take now."""
    with _engine(request).connect() as conn:
        if not Q.case_in_scope(conn, user.scope, case_id):
            raise _not_found("case")
        c = get_case(conn, case_id)
        return {**Q.case_dict(c), "allowed_actions": _allowed(conn, case_id, user),
                "history": Q.event_rows(history(conn, case_id))}


class ActionIn(BaseModel):
    action: str
    expected_version: int
    comment: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


@router.post("/cases/{case_id}/actions", responses={409: {"description": "changed by someone else (CaseConflict)"},
                                                     422: {"description": "refused by the workflow (CaseError)"}})
def case_action(case_id: RecordId, body: ActionIn, request: Request, user: User = Depends(writer)) -> dict:
    """One workflow step (fangpin.cases.act). Stale expected_version → 409; refusal → 422 with its code."""
    with _engine(request).begin() as conn:
        if not Q.case_in_scope(conn, user.scope, case_id):
            raise _not_found("case")
        c = act(conn, case_id, body.action, user.actor(), expected_version=body.expected_version,
                comment=body.comment, payload=body.payload)
        return {**Q.case_dict(c), "allowed_actions": _allowed(conn, case_id, user)}


class SelfApplicationIn(BaseModel):
    """FEEDS.md §C self-application form."""
    name: str
    id_number: str
    phone: str
    village_code: str
    household_size: int
    reasons: list[str]
    description: str = ""
    expected_income: float
    consent: bool = False
    authorisation: bool = False


@router.post("/self-applications", status_code=201, tags=["public"],
             responses={422: {"description": "the form has problems (all listed in details.messages)"}})
def self_application(body: SelfApplicationIn, request: Request) -> dict:
    """农户自主申报 (public, no login): consent and authorisation are required; returns the tracking number."""
    with _engine(request).begin() as conn:
        c = apply_self(conn, body.model_dump())
    return {"tracking_number": c.case_no, "state": c.state, "state_zh": c.state_zh, "state_en": c.state_en}


__all__ = ["router", "CaseError"]
