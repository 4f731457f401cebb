"""The household's assistance chain on the web (帮扶计划/救助链 — POLICY.md §8, §9, §10; seed 004 §五): REST API under
/api/households/{hh_no}/plan… and /api/visits, and server-rendered forms at /households/{hh_no}/plan and /visit
(the cadre's phone form). Every change calls the same domain function as the CLI (fangpin.cases); households outside
the user's region answer 404; writes need the CSRF token (X-CSRF-Token header for the API, csrf_token form field for
pages). Form field names are stable (browser journeys drive them)."""
from __future__ import annotations

from datetime import date

from fangpin.web.types import DateIn
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.auth import User
from fangpin.cases import (CaseConflict, CaseError, accept_proposal, add_measure, assess_eligibility, assign_helper,
                           assistance_chain, cadre_visit, end_measure, latest_eligibility, record_delivery,
                           record_visit, schedule_visits)
from fangpin.cases.common import jsonable
from fangpin.cases.models import AssistanceMeasure, AssistancePlan, EligibilityResult, EligibilityRun, FollowUpVisit
from fangpin.cases.workflow import workflow
from fangpin.registry.service import household_as_of
from fangpin.web import queries as Q
from fangpin.web.api import _not_found as _api_404
from fangpin.web.api import records_user, writer
from fangpin.web.pages import _form, _msg, _need_user, _not_found, render

router = APIRouter()
api = APIRouter(prefix="/api", tags=["assistance plan"])

_ERRORS = {409: {"description": "changed by someone else (CaseConflict)"},
           422: {"description": "refused by the domain service (CaseError, bilingual, stable code)"},
           404: {"description": "household / measure / visit not found or outside your region"}}


# ------------------------------------------------------------------------------------------------- scope helpers
def _household(conn: Connection, scope: str, hh_no: str) -> int | None:
    """The household id when it is in ``scope`` today (else None → 404)."""
    hv = household_as_of(conn, hh_no)
    if hv is None or not str(hv.attributes.get("region_code", "")).startswith(scope):
        return None
    return int(hv.household_id)


def _owned(conn: Connection, hid: int, *, measure: int | None = None, visit: int | None = None,
           result: int | None = None) -> bool:
    """The measure / visit / eligibility result belongs to this household's chain (URL tampering → 404)."""
    P = AssistancePlan
    if measure is not None:
        q = select(P.household_id).join(AssistanceMeasure, AssistanceMeasure.plan_id == P.id).where(
            AssistanceMeasure.id == measure)
    elif visit is not None:
        q = select(P.household_id).join(FollowUpVisit, FollowUpVisit.plan_id == P.id).where(FollowUpVisit.id == visit)
    else:
        q = (select(P.household_id).join(EligibilityRun, EligibilityRun.plan_id == P.id)
             .join(EligibilityResult, EligibilityResult.run_id == EligibilityRun.id).where(EligibilityResult.id == result))
    return conn.execute(q).scalar() == hid


def _chain(conn: Connection, hh_no: str, on: date) -> dict:
    ch = assistance_chain(conn, hh_no, on)
    for h in ch["helpers"]:
        h["phone"] = Q.mask_phone(h.get("phone"))
    return {**ch, "eligibility": latest_eligibility(conn, hh_no)}


# ------------------------------------------------------------------------------------------------- API bodies
class HelperIn(BaseModel):
    name: str
    unit: str
    phone: str | None = None
    start_date: DateIn


class MeasureIn(BaseModel):
    category: str = Field(description="measure_categories code or name, e.g. INDUSTRY / 产业帮扶")
    start_date: DateIn
    end_date: DateIn | None = None
    subtype: str | None = Field(None, description="assistance_types (低保/特困/低保边缘/临时救助) for 综合保障")
    source: Literal["relapse_prevention", "civil_affairs"] = "relapse_prevention"
    description: str | None = None
    external_ref: str | None = None


class DeliveryIn(BaseModel):
    delivered_on: DateIn
    amount: float | None = None
    note: str | None = None


class EndMeasureIn(BaseModel):
    end_date: DateIn
    reason: str


class ScheduleIn(BaseModel):
    due_date: DateIn | None = Field(None, description="first due date (default: one interval from today)")
    count: int = Field(1, ge=1, le=24)
    every_days: int | None = Field(None, ge=1, description="default: follow_up_visit_interval_days (POLICY.md §4.2)")


class VisitResultIn(BaseModel):
    done_on: DateIn
    result: str
    new_risk: bool = False


class AssessIn(BaseModel):
    on: DateIn | None = None
    trigger: Literal["manual", "civil_affairs", "review"] = "manual"


class AcceptIn(BaseModel):
    start_date: DateIn
    external_ref: str | None = None


class CadreVisitIn(BaseModel):
    hh_no: str
    done_on: DateIn
    result: str
    new_risk: bool = False
    open_lead: bool = Field(False, description="open a cadre-visit lead (household without an open case)")
    risk_types: list[str] = Field(default_factory=list)


def _scoped(request: Request, user: User, hh_no: str, conn: Connection) -> int:
    hid = _household(conn, user.scope, hh_no)
    if hid is None:
        raise _api_404("household")
    return hid


def _api_chain(request: Request, user: User, hh_no: str) -> dict:
    with request.app.state.engine.connect() as conn:
        _scoped(request, user, hh_no, conn)
        return jsonable(_chain(conn, hh_no, date.today()))


# ------------------------------------------------------------------------------------------------- API
@api.get("/households/{hh_no}/plan", responses={404: _ERRORS[404]})
def api_plan(hh_no: str, request: Request, user: User = Depends(records_user)) -> dict:
    """The household's single assistance chain today: relapse-prevention and civil-affairs measures (with delivery
    counts), helper (phone masked), visits, POLICY.md §8 checks, eligibility suggestions and the latest recorded
    eligibility run (decisions, arithmetic, parameter version, proposals)."""
    return _api_chain(request, user, hh_no)


@api.get("/households/{hh_no}/eligibility", responses={404: _ERRORS[404]})
def api_eligibility(hh_no: str, request: Request, user: User = Depends(records_user)) -> dict:
    """The latest eligibility run recorded on the chain (``{"run": null}`` if never assessed)."""
    with request.app.state.engine.connect() as conn:
        _scoped(request, user, hh_no, conn)
        return {"run": jsonable(latest_eligibility(conn, hh_no))}


@api.post("/households/{hh_no}/eligibility", status_code=201, responses=_ERRORS)
def api_assess(hh_no: str, body: AssessIn, request: Request, user: User = Depends(writer)) -> dict:
    """Compute eligibility (POLICY.md §10) from the registry and record it on the chain; returns the run."""
    with request.app.state.engine.begin() as conn:
        _scoped(request, user, hh_no, conn)
        return {"run": jsonable(assess_eligibility(conn, hh_no, user.actor(), on=body.on, trigger=body.trigger))}


@api.post("/households/{hh_no}/eligibility/{result_id}/accept", status_code=201, responses=_ERRORS)
def api_accept(hh_no: str, result_id: int, body: AcceptIn, request: Request, user: User = Depends(writer)) -> dict:
    """Record a proposed civil-affairs measure on the chain (refused if the chain already holds it)."""
    with request.app.state.engine.begin() as conn:
        hid = _scoped(request, user, hh_no, conn)
        if not _owned(conn, hid, result=result_id):
            raise _api_404("eligibility result")
        mid = accept_proposal(conn, result_id, user.actor(), start_date=body.start_date, external_ref=body.external_ref)
    return {"measure_id": mid}


@api.post("/households/{hh_no}/plan/helper", status_code=201, responses=_ERRORS)
def api_helper(hh_no: str, body: HelperIn, request: Request, user: User = Depends(writer)) -> dict:
    """Assign the helper (帮扶责任人, POLICY.md §8)."""
    with request.app.state.engine.begin() as conn:
        _scoped(request, user, hh_no, conn)
        hid = assign_helper(conn, hh_no, user.actor(), name=body.name, unit=body.unit, phone=body.phone,
                            start_date=body.start_date)
    return {"helper_id": hid}


@api.post("/households/{hh_no}/plan/measures", status_code=201, responses=_ERRORS)
def api_measure(hh_no: str, body: MeasureIn, request: Request, user: User = Depends(writer)) -> dict:
    """Add a measure (POLICY.md §8 catalogue) to the household's chain."""
    with request.app.state.engine.begin() as conn:
        _scoped(request, user, hh_no, conn)
        mid = add_measure(conn, hh_no, user.actor(), **body.model_dump())
    return {"measure_id": mid}


@api.post("/households/{hh_no}/plan/measures/{measure_id}/deliveries", status_code=201, responses=_ERRORS)
def api_delivery(hh_no: str, measure_id: int, body: DeliveryIn, request: Request,
                 user: User = Depends(writer)) -> dict:
    """Record a delivery of a measure (措施落实记录)."""
    with request.app.state.engine.begin() as conn:
        hid = _scoped(request, user, hh_no, conn)
        if not _owned(conn, hid, measure=measure_id):
            raise _api_404("measure")
        did = record_delivery(conn, measure_id, user.actor(), **body.model_dump())
    return {"delivery_id": did}


@api.post("/households/{hh_no}/plan/measures/{measure_id}/end", responses=_ERRORS)
def api_end_measure(hh_no: str, measure_id: int, body: EndMeasureIn, request: Request,
                    user: User = Depends(writer)) -> dict:
    """End a measure with a reason."""
    with request.app.state.engine.begin() as conn:
        hid = _scoped(request, user, hh_no, conn)
        if not _owned(conn, hid, measure=measure_id):
            raise _api_404("measure")
        end_measure(conn, measure_id, user.actor(), end_date=body.end_date, reason=body.reason)
    return {"measure_id": measure_id, "end_date": body.end_date.isoformat()}


@api.post("/households/{hh_no}/plan/visits", status_code=201, responses=_ERRORS)
def api_schedule(hh_no: str, body: ScheduleIn, request: Request, user: User = Depends(writer)) -> dict:
    """Schedule follow-up visits; the interval defaults to the dated parameter (POLICY.md §4.2)."""
    with request.app.state.engine.begin() as conn:
        _scoped(request, user, hh_no, conn)
        ids = schedule_visits(conn, hh_no, user.actor(), first_due=body.due_date, every_days=body.every_days,
                              count=body.count)
    return {"visit_ids": ids}


@api.post("/households/{hh_no}/plan/visits/{visit_id}", responses=_ERRORS)
def api_visit_result(hh_no: str, visit_id: int, body: VisitResultIn, request: Request,
                     user: User = Depends(writer)) -> dict:
    """Record a scheduled visit's result; the next visit is scheduled while the household is monitored."""
    with request.app.state.engine.begin() as conn:
        hid = _scoped(request, user, hh_no, conn)
        if not _owned(conn, hid, visit=visit_id):
            raise _api_404("visit")
        nxt = record_visit(conn, visit_id, user.actor(), done_on=body.done_on, result=body.result,
                           new_risk=body.new_risk)
    return {"visit_id": visit_id, "next_visit_id": nxt}


@api.post("/visits", status_code=201, responses=_ERRORS)
def api_cadre_visit(body: CadreVisitIn, request: Request, user: User = Depends(writer)) -> dict:
    """A cadre visit (POLICY.md §4.2): records the household's due visit (or an unscheduled one) and, with
    ``open_lead``, opens a cadre-visit lead that then follows the statutory procedure."""
    with request.app.state.engine.begin() as conn:
        _scoped(request, user, body.hh_no, conn)
        return cadre_visit(conn, body.hh_no, user.actor(), done_on=body.done_on, result=body.result,
                           new_risk=body.new_risk, open_lead=body.open_lead, risk_types=body.risk_types)


# ------------------------------------------------------------------------------------------------- pages
def _choices() -> dict[str, Any]:
    lists = codes.load_code_lists()
    return {"categories": lists["measure_categories"].entries, "subtypes": lists["assistance_types"].entries,
            "risk_types": lists["risk_types"].entries}


def _labels(lang: str) -> dict[str, str]:
    lists = codes.load_code_lists()
    return {e.code: (e.zh if lang == "zh" else e.en)
            for n in ("measure_categories", "assistance_types") for e in lists[n].entries}


def _plan_page(request: Request, u: User, hh_no: str, status: int = 200, error: str | None = None,
               notice: str | None = None):
    with request.app.state.engine.connect() as conn:
        if _household(conn, u.scope, hh_no) is None:
            return _not_found(request)
        ch = _chain(conn, hh_no, date.today())
    can_write = u.role in workflow().roles
    return render(request, "cases/plan.html", status, ch=ch, hh_no=hh_no, today=date.today().isoformat(),
                  error=error, notice=notice, can_write=can_write, labels=_labels(request.state.lang), **_choices())


@router.get("/households/{hh_no}/plan", response_class=HTMLResponse, include_in_schema=False)
def plan_page(hh_no: str, request: Request):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    return _plan_page(request, u, hh_no)


def _d(v: Any) -> date | None:
    s = str(v or "").strip()
    return date.fromisoformat(s) if s else None


async def _plan_post(request: Request, hh_no: str, fn):
    """Common shape of a plan form post: login, CSRF, scope, call the domain, redirect or re-render with the
    bilingual refusal (409 for a concurrent change, 422 for a refusal or a malformed field)."""
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    form, ok = await _form(request)
    if not ok:
        return _plan_page(request, u, hh_no, 403, request.state.t("csrf_failed"))
    try:
        with request.app.state.engine.begin() as conn:
            hid = _household(conn, u.scope, hh_no)
            if hid is None:
                return _not_found(request)
            r = fn(conn, hid, u, form)
            if r is False:
                return _not_found(request)
    except CaseConflict as e:
        return _plan_page(request, u, hh_no, 409, _msg(request, e))
    except CaseError as e:
        return _plan_page(request, u, hh_no, 422, _msg(request, e))
    except ValueError:
        return _plan_page(request, u, hh_no, 422, request.state.t("cases_bad_field"))
    return RedirectResponse(f"/households/{hh_no}/plan", status_code=303)


@router.post("/households/{hh_no}/plan/helper", include_in_schema=False)
async def helper_post(hh_no: str, request: Request):
    def fn(conn, hid, u, f):
        assign_helper(conn, hid, u.actor(), name=str(f.get("name") or ""), unit=str(f.get("unit") or ""),
                      phone=str(f.get("phone") or "") or None, start_date=_d(f.get("start_date")) or date.today())
    return await _plan_post(request, hh_no, fn)


@router.post("/households/{hh_no}/plan/measures", include_in_schema=False)
async def measure_post(hh_no: str, request: Request):
    def fn(conn, hid, u, f):
        add_measure(conn, hid, u.actor(), category=str(f.get("category") or ""),
                    subtype=str(f.get("subtype") or "") or None, source=str(f.get("source") or "relapse_prevention"),
                    start_date=_d(f.get("start_date")) or date.today(), end_date=_d(f.get("end_date")),
                    description=str(f.get("description") or "") or None,
                    external_ref=str(f.get("external_ref") or "") or None)
    return await _plan_post(request, hh_no, fn)


@router.post("/households/{hh_no}/plan/measures/{measure_id}/deliveries", include_in_schema=False)
async def delivery_post(hh_no: str, measure_id: int, request: Request):
    def fn(conn, hid, u, f):
        if not _owned(conn, hid, measure=measure_id):
            return False
        amount = str(f.get("amount") or "").strip()
        record_delivery(conn, measure_id, u.actor(), delivered_on=_d(f.get("delivered_on")) or date.today(),
                        amount=float(amount) if amount else None, note=str(f.get("note") or "") or None)
    return await _plan_post(request, hh_no, fn)


@router.post("/households/{hh_no}/plan/measures/{measure_id}/end", include_in_schema=False)
async def end_post(hh_no: str, measure_id: int, request: Request):
    def fn(conn, hid, u, f):
        if not _owned(conn, hid, measure=measure_id):
            return False
        end_measure(conn, measure_id, u.actor(), end_date=_d(f.get("end_date")) or date.today(),
                    reason=str(f.get("reason") or "").strip() or "ended")
    return await _plan_post(request, hh_no, fn)


@router.post("/households/{hh_no}/plan/visits", include_in_schema=False)
async def schedule_post(hh_no: str, request: Request):
    def fn(conn, hid, u, f):
        every = str(f.get("every_days") or "").strip()
        schedule_visits(conn, hid, u.actor(), first_due=_d(f.get("due_date")), count=int(f.get("count") or 1),
                        every_days=int(every) if every else None)
    return await _plan_post(request, hh_no, fn)


@router.post("/households/{hh_no}/plan/visits/{visit_id}", include_in_schema=False)
async def visit_result_post(hh_no: str, visit_id: int, request: Request):
    def fn(conn, hid, u, f):
        if not _owned(conn, hid, visit=visit_id):
            return False
        record_visit(conn, visit_id, u.actor(), done_on=_d(f.get("done_on")) or date.today(),
                     result=str(f.get("result") or ""), new_risk=f.get("new_risk") == "on")
    return await _plan_post(request, hh_no, fn)


@router.post("/households/{hh_no}/plan/eligibility", include_in_schema=False)
async def assess_post(hh_no: str, request: Request):
    def fn(conn, hid, u, f):
        trig = str(f.get("trigger") or "manual")
        assess_eligibility(conn, hid, u.actor(), on=_d(f.get("on")),
                           trigger=trig if trig in ("manual", "civil_affairs", "review") else "manual")
    return await _plan_post(request, hh_no, fn)


@router.post("/households/{hh_no}/plan/eligibility/{result_id}/accept", include_in_schema=False)
async def accept_post(hh_no: str, result_id: int, request: Request):
    def fn(conn, hid, u, f):
        if not _owned(conn, hid, result=result_id):
            return False
        accept_proposal(conn, result_id, u.actor(), start_date=_d(f.get("start_date")) or date.today(),
                        external_ref=str(f.get("external_ref") or "") or None)
    return await _plan_post(request, hh_no, fn)


# --- the cadre's phone form (基层干部走访): one screen, big inputs, works without JavaScript
def _visit_page(request: Request, status: int = 200, form: dict | None = None, error: str | None = None,
                done: dict | None = None):
    return render(request, "cases/visit.html", status, form=form or {}, error=error, done=done,
                  today=date.today().isoformat(), risk_types=_choices()["risk_types"])


@router.get("/visit", response_class=HTMLResponse, include_in_schema=False)
def visit_page(request: Request, hh_no: str = ""):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    return _visit_page(request, form={"hh_no": hh_no})


@router.post("/visit", response_class=HTMLResponse, include_in_schema=False)
async def visit_post(request: Request):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    f, ok = await _form(request)
    data = {"hh_no": str(f.get("hh_no") or "").strip(), "done_on": str(f.get("done_on") or ""),
            "result": str(f.get("result") or ""), "new_risk": f.get("new_risk") == "on",
            "open_lead": f.get("open_lead") == "on", "risk_types": f.getlist("risk_types")}
    if not ok:
        return _visit_page(request, 403, data, request.state.t("csrf_failed"))
    try:
        with request.app.state.engine.begin() as conn:
            if _household(conn, u.scope, data["hh_no"]) is None:
                return _visit_page(request, 404, data, request.state.t("cases_household_not_found"))
            out = cadre_visit(conn, data["hh_no"], u.actor(), done_on=_d(data["done_on"]) or date.today(),
                              result=data["result"], new_risk=data["new_risk"], open_lead=data["open_lead"],
                              risk_types=data["risk_types"])
    except CaseConflict as e:
        return _visit_page(request, 409, data, _msg(request, e))
    except CaseError as e:
        return _visit_page(request, 422, data, _msg(request, e))
    except ValueError:
        return _visit_page(request, 422, data, request.state.t("cases_bad_field"))
    return _visit_page(request, 200, {}, None, done={**out, "hh_no": data["hh_no"]})


router.include_router(api)
__all__ = ["router"]
