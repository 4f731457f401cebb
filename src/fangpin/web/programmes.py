"""Web adapter of the programmes (seed 004 §三(四)(五), §四(七), §八(二十四); docs/PROGRAMMES.md): pages under
/programmes and REST under /api/programmes. Thin: reads are the programme services' region-scoped reads, every
change is a programme service call (role and region checked there again). Out of region → 404; anonymous API →
401; province viewers see summaries and scorecard figures, not the records; department data officers
(upload and feed health only) see none of it (403); writes need the CSRF token."""
from __future__ import annotations

from datetime import date

from fangpin.web.types import DateIn
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from fangpin.auth import User
from fangpin.programmes import assessment, assets, jobs, key_counties, pairing, relocation
from fangpin.programmes.common import data_date
from fangpin.programmes.errors import ProgrammeError
from fangpin.programmes.exports import payroll_xlsx, scorecard_pdf, scorecard_xlsx
from fangpin.security import audit
from fangpin.web import queries as Q
from fangpin.web.api import _not_found as _api_404, records_user, viewer_user, writer
from fangpin.web.pages import _need_user, _not_found, _posted, render

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scope_region(u: User, region: str | None) -> str:
    """A region the user may look at (their own by default); None when outside their scope."""
    region = region or u.region_code
    if region == "00":
        region = ""
    if not region.startswith(u.scope):
        return None
    return region


def _card_region(u: User, region: str | None) -> str | None:
    r = _scope_region(u, region or (u.region_code[:9] if len(u.region_code) >= 9 else u.region_code[:6]))
    if r is None or len(r) not in (6, 9):
        return None
    return r


# ================================================================================================ pages

@router.get("/programmes", response_class=HTMLResponse, include_in_schema=False)
def overview_page(request: Request, on: DateIn | None = None):
    u, resp = _need_user(request, viewer=True)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        ctx = {"on": d, "jobs": jobs.summary(conn, u.scope),
               "assets_county": assets.summary(conn, u.scope, d, level="county"),
               "sites": relocation.dashboard(conn, u.scope, d),
               "card_region": _card_region(u, None)}
    return render(request, "programmes/overview.html", **ctx)


@router.get("/programmes/jobs", response_class=HTMLResponse, include_in_schema=False)
def jobs_page(request: Request, error: str | None = None, status: int = 200):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        posts = jobs.post_rows(conn, u.scope)
        summ = jobs.summary(conn, u.scope)
    return render(request, "programmes/jobs.html", status, posts=posts, s=summ, cfg=jobs.config(), error=error,
                  can_post=u.role in jobs.POST_ROLES, today=date.today())


@router.post("/programmes/jobs/posts", response_class=HTMLResponse, include_in_schema=False)
async def create_post_form(request: Request):
    u, form, resp = await _posted(request)
    if resp:
        return resp
    try:
        with request.app.state.engine.begin() as conn:
            pid = jobs.create_post(conn, u.actor(), region_code=str(form.get("region_code") or ""),
                                   post_type=str(form.get("post_type") or ""), title=str(form.get("title") or ""),
                                   need=str(form.get("need") or ""),
                                   monthly_subsidy=float(form.get("monthly_subsidy") or 0),
                                   headcount=int(form.get("headcount") or 0),
                                   days_per_month=int(form.get("days_per_month") or 22),
                                   on=date.fromisoformat(str(form.get("on") or date.today().isoformat())))
    except (ProgrammeError, ValueError) as e:
        return jobs_page(request, error=str(e), status=422)
    return RedirectResponse(f"/programmes/jobs/posts/{pid}", status_code=303)


def _post_or_none(conn, u: User, post_id: int) -> dict | None:
    p = next((p for p in jobs.post_rows(conn, u.scope) if p["id"] == post_id), None)
    return p


def _candidates(conn, post: dict, on: date, limit: int = 60) -> list[dict]:
    """Eligible people of the post's village (then township) for the hire form — checked by the service."""
    from fangpin.registry.service import current_households, current_members

    hq = current_households().subquery()
    mq = current_members().subquery()
    rows = conn.execute(select(mq.c.person_id, mq.c.name, hq.c.hh_no, hq.c.region_code)
                        .join(hq, hq.c.household_id == mq.c.household_id)
                        .where(mq.c.active.is_(True), hq.c.active.is_(True),
                               hq.c.region_code.startswith(post["region_code"][:9]))
                        .order_by(hq.c.region_code != post["region_code"], hq.c.hh_no, mq.c.person_id)
                        .limit(2000)).all()
    out = []
    for r in rows:
        try:
            e = jobs.check_eligibility(conn, r.person_id, on)
        except ProgrammeError:
            continue
        out.append({"person_id": r.person_id, "name": r.name, "hh_no": r.hh_no, "basis_zh": e["basis_zh"],
                    "basis_en": e["basis_en"]})
        if len(out) >= limit:
            break
    return out


@router.get("/programmes/jobs/posts/{post_id}", response_class=HTMLResponse, include_in_schema=False)
def post_page(post_id: int, request: Request, error: str | None = None, status: int = 200):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        p = _post_or_none(conn, u, post_id)
        if p is None:
            return _not_found(request)
        hires = jobs.hire_rows(conn, u.scope, post_id=post_id)
        cands = (_candidates(conn, p, date.today()) if u.role in jobs.HIRE_ROLES and p["filled"] < p["headcount"]
                 else [])
    return render(request, "programmes/post.html", status, p=p, hires=hires, cands=cands, cfg=jobs.config(),
                  error=error, can_hire=u.role in jobs.HIRE_ROLES, can_exit=u.role in jobs.EXIT_ROLES,
                  today=date.today())


@router.post("/programmes/jobs/posts/{post_id}/hire", response_class=HTMLResponse, include_in_schema=False)
async def hire_form(post_id: int, request: Request):
    u, form, resp = await _posted(request)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        if _post_or_none(conn, u, post_id) is None:
            return _not_found(request)
    try:
        with request.app.state.engine.begin() as conn:
            jobs.hire(conn, u.actor(), post_id=post_id, person_id=int(form.get("person_id") or 0),
                      hired_on=date.fromisoformat(str(form.get("hired_on") or date.today().isoformat())),
                      agreement_end=date.fromisoformat(str(form["agreement_end"])) if form.get("agreement_end") else None)
    except (ProgrammeError, ValueError) as e:
        return post_page(post_id, request, error=str(e), status=422)
    return RedirectResponse(f"/programmes/jobs/posts/{post_id}", status_code=303)


@router.post("/programmes/jobs/hires/{hire_id}/exit", response_class=HTMLResponse, include_in_schema=False)
async def exit_form(hire_id: int, request: Request):
    u, form, resp = await _posted(request)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        h = next(iter(r for r in jobs.hire_rows(conn, u.scope) if r["id"] == hire_id), None)
    if h is None:
        return _not_found(request)
    try:
        jobs.exit_and_monitor(request.app.state.engine, u.actor(), hire_id=hire_id,
                              exit_on=date.fromisoformat(str(form.get("exit_on") or date.today().isoformat())),
                              reason=str(form.get("reason") or ""), note=str(form.get("note") or ""))
    except (ProgrammeError, ValueError) as e:
        return post_page(h["post_id"], request, error=str(e), status=422)
    return RedirectResponse(f"/programmes/jobs/posts/{h['post_id']}", status_code=303)


@router.get("/programmes/jobs/attendance", response_class=HTMLResponse, include_in_schema=False)
def attendance_page(request: Request, month: str | None = None, error: str | None = None, status: int = 200):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    month = month or date.today().strftime("%Y-%m")
    try:
        m0, m1 = jobs.month_bounds(month)
    except ProgrammeError as e:
        return render(request, "message.html", 422, message=str(e))
    with request.app.state.engine.connect() as conn:
        hires = [h for h in jobs.hire_rows(conn, u.scope) if h["hired_on"] <= m1 and
                 (h["exit_on"] is None or h["exit_on"] >= m0)]
        paid = {r["hire_id"]: r for r in jobs.payroll_rows(conn, u.scope, month)}
    return render(request, "programmes/attendance.html", status, month=month, hires=hires, paid=paid, error=error)


@router.post("/programmes/jobs/attendance", response_class=HTMLResponse, include_in_schema=False)
async def attendance_post(request: Request):
    u, form, resp = await _posted(request)
    if resp:
        return resp
    month = str(form.get("month") or "")
    try:
        att = {int(k[5:]): int(v) for k, v in form.items() if k.startswith("days_") and str(v).strip() != ""}
        with request.app.state.engine.begin() as conn:
            jobs.record_month(conn, u.actor(), month=month, attendance=att)
    except (ProgrammeError, ValueError) as e:
        return attendance_page(request, month=month or None, error=str(e), status=422)
    return RedirectResponse(f"/programmes/jobs/attendance?month={month}", status_code=303)


@router.get("/programmes/jobs/payroll.xlsx", include_in_schema=False)
def payroll_export(request: Request, month: str):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    try:
        with request.app.state.engine.begin() as conn:
            rows = jobs.payroll_rows(conn, u.scope, month)
            data = payroll_xlsx(rows)
            audit.record(conn, f"user:{u.id}:{u.username}", "export.payroll", f"file:pwj-payroll-{month}.xlsx",
                         {"scope": u.scope, "rows": len(rows)})  # every export is audited (issue 7)
    except ProgrammeError as e:
        return render(request, "message.html", 422, message=str(e))
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="pwj-payroll-{month}.xlsx"'})


@router.get("/programmes/assets", response_class=HTMLResponse, include_in_schema=False)
def assets_page(request: Request, on: DateIn | None = None, region: str | None = None):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    scope = _scope_region(u, region)
    if scope is None:
        return _not_found(request)
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        rows = assets.asset_rows(conn, scope, d)
        villages = assets.summary(conn, scope, d, level="village")
        counties = assets.summary(conn, scope, d, level="county")
        names = Q.region_names(conn, [g["region_code"] for g in villages + counties])
    return render(request, "programmes/assets.html", rows=rows, villages=villages, counties=counties, names=names,
                  on=d)


@router.get("/programmes/sites", response_class=HTMLResponse, include_in_schema=False)
def sites_page(request: Request, on: DateIn | None = None):
    u, resp = _need_user(request, viewer=True)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        sites = relocation.dashboard(conn, u.scope, d)
    return render(request, "programmes/sites.html", sites=sites, on=d)


@router.get("/programmes/scorecard", response_class=HTMLResponse, include_in_schema=False)
def scorecard_page(request: Request, region: str | None = None, on: DateIn | None = None):
    u, resp = _need_user(request, viewer=True)
    if resp:
        return resp
    r = _card_region(u, region)
    if r is None:
        return _not_found(request)
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        card = assessment.scorecard(conn, r, d)
        name = Q.region_names(conn, [r]).get(r.ljust(12, "0"), r)
        # comparison: the other units of the same level inside the user's scope
        peers = _peers(conn, u, r)
        compare = [assessment.scorecard(conn, p, d) for p in peers]
        names = Q.region_names(conn, peers)
    return render(request, "programmes/scorecard.html", card=card, region_name=name, on=d, compare=compare, names=names)


def _peers(conn, u: User, region: str) -> list[str]:
    from fangpin.registry.service import current_households

    hq = current_households().subquery()
    w = len(region)
    codes = sorted({c[:w] for c in conn.execute(select(hq.c.region_code).where(
        hq.c.region_code.startswith(u.scope)).distinct()).scalars()})
    return codes[:30]


@router.get("/programmes/scorecard/{region}/{indicator_id}", response_class=HTMLResponse, include_in_schema=False)
def indicator_page(region: str, indicator_id: str, request: Request, on: DateIn | None = None):
    u, resp = _need_user(request, records=True)
    if resp:
        return resp
    r = _card_region(u, region)
    if r is None:
        return _not_found(request)
    try:
        ind = assessment.indicator(indicator_id)
    except ProgrammeError:
        return _not_found(request)
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        rows = assessment.indicator_rows(conn, r, d, indicator_id)
    return render(request, "programmes/indicator.html", ind=ind, rows=rows, region=r, on=d)


@router.get("/programmes/scorecard.{fmt}", include_in_schema=False)
def scorecard_export(fmt: str, request: Request, region: str | None = None, on: DateIn | None = None):
    u, resp = _need_user(request, viewer=True)
    if resp:
        return resp
    r = _card_region(u, region)
    if r is None or fmt not in ("pdf", "xlsx"):
        return _not_found(request)
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        card = assessment.scorecard(conn, r, d)
        name = Q.region_names(conn, [r]).get(r.ljust(12, "0"), r)
        details = ({i["id"]: assessment.indicator_rows(conn, r, d, i["id"]) for i in card["indicators"]}
                   if u.sees_records else None)
    if details is not None:  # record lists leave the platform: audited (issue 7)
        with request.app.state.engine.begin() as conn:
            audit.record(conn, f"user:{u.id}:{u.username}", "export.scorecard", f"file:scorecard-{r}.{fmt}",
                         {"scope": r, "on": str(d)})
    if fmt == "pdf":
        return Response(scorecard_pdf(card, name), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="scorecard-{r}.pdf"'})
    return Response(scorecard_xlsx(card, name, details), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="scorecard-{r}.xlsx"'})


@router.get("/programmes/key-counties", response_class=HTMLResponse, include_in_schema=False)
def key_counties_page(request: Request, on: DateIn | None = None):
    u, resp = _need_user(request, viewer=True)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        cmp = key_counties.compare(conn, u.scope, d)
        names = Q.region_names(conn, [c["county_code"] for c in cmp["counties"]])
    return render(request, "programmes/key_counties.html", cmp=cmp, names=names, on=d)


@router.get("/programmes/key-counties.xlsx", include_in_schema=False)
def key_counties_export(request: Request, on: DateIn | None = None):
    u, resp = _need_user(request, viewer=True)
    if resp:
        return resp
    with request.app.state.engine.connect() as conn:
        d = data_date(conn, on)
        cmp = key_counties.compare(conn, u.scope, d)
        names = Q.region_names(conn, [c["county_code"] for c in cmp["counties"]])
    return Response(key_counties.report_xlsx(cmp, names), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="key-counties-{d}.xlsx"'})


@router.get("/programmes/pairs", response_class=HTMLResponse, include_in_schema=False)
def pairs_page(request: Request, year: int | None = Query(None, ge=2000, le=2100)):
    u, resp = _need_user(request, viewer=True)
    if resp:
        return resp
    year = year or (date.today().year - 1)
    with request.app.state.engine.connect() as conn:
        evals = [pairing.evaluate(conn, p["id"], year, u.scope) for p in pairing.pair_rows(conn, u.scope)]
    return render(request, "programmes/pairs.html", evals=evals, year=year)


# ================================================================================================ API

api = APIRouter(prefix="/api/programmes", tags=["programmes"])


class PostIn(BaseModel):
    region_code: str = Field(description="12-digit village code")
    post_type: str
    title: str
    need: str = Field(description="The need the post answers (按需设岗)")
    monthly_subsidy: float
    headcount: int
    days_per_month: int = 22
    on: DateIn


class HireIn(BaseModel):
    person_id: int
    hired_on: DateIn
    agreement_end: DateIn | None = None


class AttendanceIn(BaseModel):
    month: str = Field(description="YYYY-MM")
    attendance: dict[int, int] = Field(description="hire id → days present")


class ExitIn(BaseModel):
    exit_on: DateIn
    reason: str
    note: str = ""


def _jsonable(rows: list[dict]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        out.append({k: (v.isoformat() if isinstance(v, date) else v) for k, v in r.items()})
    return out


@api.get("/jobs/posts")
def api_posts(request: Request, user: User = Depends(records_user)):
    with request.app.state.engine.connect() as conn:
        return _jsonable(jobs.post_rows(conn, user.scope))


@api.post("/jobs/posts", status_code=201)
def api_create_post(body: PostIn, request: Request, user: User = Depends(writer)):
    with request.app.state.engine.begin() as conn:
        pid = jobs.create_post(conn, user.actor(), **body.model_dump())
    return {"post_id": pid}


@api.get("/jobs/posts/{post_id}/hires")
def api_hires(post_id: int, request: Request, user: User = Depends(records_user)):
    with request.app.state.engine.connect() as conn:
        if _post_or_none(conn, user, post_id) is None:
            raise _api_404("post")
        return _jsonable(jobs.hire_rows(conn, user.scope, post_id=post_id))


@api.post("/jobs/posts/{post_id}/hires", status_code=201)
def api_hire(post_id: int, body: HireIn, request: Request, user: User = Depends(writer)):
    with request.app.state.engine.begin() as conn:
        if _post_or_none(conn, user, post_id) is None:
            raise _api_404("post")
        hid = jobs.hire(conn, user.actor(), post_id=post_id, **body.model_dump())
    return {"hire_id": hid}


@api.post("/jobs/attendance")
def api_attendance(body: AttendanceIn, request: Request, user: User = Depends(writer)):
    with request.app.state.engine.begin() as conn:
        return jobs.record_month(conn, user.actor(), month=body.month, attendance=body.attendance)


@api.post("/jobs/hires/{hire_id}/exit")
def api_exit(hire_id: int, body: ExitIn, request: Request, user: User = Depends(writer)):
    with request.app.state.engine.connect() as conn:
        if not any(h["id"] == hire_id for h in jobs.hire_rows(conn, user.scope)):
            raise _api_404("hire")
    return jobs.exit_and_monitor(request.app.state.engine, user.actor(), hire_id=hire_id, **body.model_dump())


@api.get("/jobs/payroll")
def api_payroll(request: Request, month: str, user: User = Depends(records_user)):
    with request.app.state.engine.connect() as conn:
        return _jsonable(jobs.payroll_rows(conn, user.scope, month))


@api.get("/assets")
def api_assets(request: Request, on: DateIn | None = None, user: User = Depends(records_user)):
    with request.app.state.engine.connect() as conn:
        return _jsonable(assets.asset_rows(conn, user.scope, data_date(conn, on)))


@api.get("/assets/summary")
def api_assets_summary(request: Request, level: str = Query("village", pattern="^(village|township|county)$"),
                       on: DateIn | None = None, user: User = Depends(viewer_user)):
    with request.app.state.engine.connect() as conn:
        return assets.summary(conn, user.scope, data_date(conn, on), level=level)


@api.get("/sites")
def api_sites(request: Request, on: DateIn | None = None, user: User = Depends(viewer_user)):
    with request.app.state.engine.connect() as conn:
        return _jsonable(relocation.dashboard(conn, user.scope, data_date(conn, on)))


@api.get("/scorecards/{region}")
def api_scorecard(region: str, request: Request, on: DateIn | None = None, user: User = Depends(viewer_user)):
    r = _card_region(user, region)
    if r is None:
        raise _api_404("region")
    with request.app.state.engine.connect() as conn:
        return assessment.scorecard(conn, r, data_date(conn, on))


@api.get("/scorecards/{region}/{indicator_id}/records")
def api_indicator_rows(region: str, indicator_id: str, request: Request, on: DateIn | None = None,
                       user: User = Depends(records_user)):
    r = _card_region(user, region)
    if r is None:
        raise _api_404("region")
    try:
        assessment.indicator(indicator_id)
    except ProgrammeError:
        raise _api_404("indicator") from None
    with request.app.state.engine.connect() as conn:
        return assessment.indicator_rows(conn, r, data_date(conn, on), indicator_id)


@api.get("/key-counties")
def api_key_counties(request: Request, on: DateIn | None = None, only_key: bool = False,
                     user: User = Depends(viewer_user)):
    """Indicator set of every county in the user's scope (key assisted counties flagged), seed 004 §六(十五)."""
    with request.app.state.engine.connect() as conn:
        return key_counties.compare(conn, user.scope, data_date(conn, on), only_key=only_key)


@api.get("/pairs")
def api_pairs(request: Request, year: int = Query(..., ge=2000, le=2100, description="evaluation year"),
              user: User = Depends(viewer_user)):
    """East–West and designated-assistance pairs visible to the user with their yearly evaluation (seed 004 §六(十六))."""
    with request.app.state.engine.connect() as conn:
        return [pairing.evaluate(conn, p["id"], year, user.scope) for p in pairing.pair_rows(conn, user.scope)]


@api.get("/pairs/{pair_id}/{year}/{indicator_id}/records")
def api_pair_records(pair_id: int, indicator_id: str, request: Request, year: int = FPath(..., ge=2000, le=2100),
                     user: User = Depends(records_user)):
    with request.app.state.engine.connect() as conn:
        if not any(p["id"] == pair_id for p in pairing.pair_rows(conn, user.scope)):
            raise _api_404("pair")
        return pairing.records(conn, pair_id, year, indicator_id, user.scope)


router.include_router(api)
