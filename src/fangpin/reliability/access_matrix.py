"""Access matrix: every route of the web app × every role × an in-scope and an out-of-scope record.

``ACCESS`` declares, for every ``"METHOD /path"`` the app serves, who may use it. :func:`undeclared` lists the
routes the app serves that the table does not declare (the test fails on any, so a new route cannot ship
without a decision); :func:`run_matrix` sends every request and compares the answer with the declaration.

Declaring a route is one line::

    "GET /api/feeds/{feed}/health": records(),              # record-level roles, 403 for aggregate-only roles
    "POST /api/feeds/{feed}/upload": write(roles=DEPT),    # only these roles; CSRF token required

Kinds (expected answers):

* ``public()`` — anyone, logged in or not. With ``csrf=True`` (HTML forms) a post without the token → 403.
* ``user()`` — any logged-in role; anonymous → 401 (API) or 303 to /login (page).
* ``records()`` — roles that see individual records (``fangpin.auth.ROLES[...]["records"]``); aggregate-only roles
  (department data officers, province viewers) → 403. A path parameter that names a record (``hh_no``,
  ``alert_id``, ``case_id``) is tried with a record inside and one outside the user's region: outside → 404.
* ``write(...)`` — like ``records()`` (or ``roles=``) and the session's CSRF token is required (X-CSRF-Token for
  the API, ``csrf_token`` form field for pages): without it → 403 and nothing changes.

Options of a rule: ``json=``/``form=``/``files=`` (the body; ``files`` a multipart upload), ``query=`` (the query
string), ``params=`` (fixed values of path parameters that name no record, e.g. ``{"kind": "alerts"}``; a value
``"{pair}"`` is taken from ``Fixture.fixed``), ``hide=True`` (a role outside ``roles`` gets 404 — the record is
hidden from it — instead of 403), ``redirect="/feeds"`` (a role outside ``roles`` may be sent to its own page
instead of a 403). A record parameter (:data:`RECORD_PARAMS`: households, alerts, cases, regions, measures, visits,
eligibility results, jobs, posts, hires) may stand in the path, the query or the body as ``"{hh_no}"``; every
record parameter of one request takes the same variant (the measure *of* the household tried), and the first one
decides inside/outside.

A *leak* is an answer that gives access where the table says it must be refused (2xx/3xx instead of
401/403/404, other than the redirect to /login), or any response body that shows a household outside the user's
region (its 户编号 or a region code outside the user's prefix). ``security.access_leaks`` counts them.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Rule", "ACCESS", "public", "user", "records", "write", "iter_routes", "undeclared", "prepare",
           "run_matrix", "RECORD_PARAMS", "VIEW", "FEED", "COUNTY", "REPORT"]

PASSWORD = "matrix-password-1"
RECORD_ROLES = frozenset({"village_cadre", "township_officer", "county_officer", "admin"})
ALL_ROLES = frozenset(RECORD_ROLES | {"department_officer", "province_viewer"})


@dataclass(frozen=True)
class Rule:
    kind: str  # public | user | records
    roles: frozenset = ALL_ROLES
    csrf: bool = False  # a write: the session's CSRF token is required
    json: Any = None
    form: dict | None = None
    ends_session: bool = False
    params: dict | None = None  # fixed values of path parameters that name no record (kind, fmt, indicator_id…)
    query: dict | None = None  # query string; a "{hh_no}"-style value is a record parameter like one in the path
    files: dict | None = None  # multipart upload: field → (filename, text)
    hide: bool = False  # a role outside ``roles`` gets 404 (the record is hidden from it), not 403
    redirect: str | None = None  # a role outside ``roles`` may instead be sent (303) to this page


def public(*, csrf: bool = False, json: Any = None, form: dict | None = None, params: dict | None = None,
           query: dict | None = None) -> Rule:
    return Rule("public", ALL_ROLES, csrf, json, form, params=params, query=query)


def user(*, csrf: bool = False, json: Any = None, form: dict | None = None, ends_session: bool = False,
         params: dict | None = None, query: dict | None = None) -> Rule:
    return Rule("user", ALL_ROLES, csrf, json, form, ends_session, params=params, query=query)


def records(*, roles=RECORD_ROLES, json: Any = None, form: dict | None = None, params: dict | None = None,
            query: dict | None = None, hide: bool = False, redirect: str | None = None) -> Rule:
    return Rule("records", frozenset(roles), False, json, form, params=params, query=query, hide=hide,
                redirect=redirect)


def write(*, roles=RECORD_ROLES, json: Any = None, form: dict | None = None, params: dict | None = None,
          query: dict | None = None, files: dict | None = None, hide: bool = False) -> Rule:
    return Rule("records", frozenset(roles), True, json, form, params=params, query=query, files=files, hide=hide)


SELF_APP = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000", "household_size": 3,
            "reasons": ["因病"], "description": "家人住院", "expected_income": 8000, "consent": True,
            "authorisation": True, "village_code": "{village}"}
_ACT = {"action": "authorise", "expected_version": 1, "payload": {}}

# aggregates (dashboards, reports, programme figures): everyone but department officers (upload + feed health)
VIEW = RECORD_ROLES | {"province_viewer"}
FEED = frozenset({"department_officer", "county_officer", "admin"})  # upload, feed health (kinds.IMPORT_ROLES)
COUNTY = frozenset({"county_officer", "admin"})  # roster import, monitoring runs
REPORT = frozenset({"township_officer", "county_officer", "province_viewer", "admin"})  # report jobs
D = "2026-01-02"
_POST = {"region_code": "{village}", "post_type": "NO-SUCH-TYPE", "title": "matrix", "need": "matrix",
         "monthly_subsidy": 500, "headcount": 1, "days_per_month": 22, "on": D}
_CADRE_VISIT = {"hh_no": "{hh_no}", "done_on": D, "result": "matrix"}

# Every route the app serves. Add new routes here (one line each); the test fails on an undeclared route.
# Writes that would start heavy work are given inputs refused cheaply after the access checks (bad date, unknown
# feed/type/reason): the matrix tests who gets through, not the work.
ACCESS: dict[str, Rule] = {
    # documentation and static files
    "GET /openapi.json": public(),
    "GET /docs": public(),
    "GET /docs/oauth2-redirect": public(),
    "GET /redoc": public(),
    # API: session
    "POST /api/session": public(json={"username": "{username}", "password": "{password}"}),
    "DELETE /api/session": user(csrf=True, ends_session=True),
    "GET /api/me": user(),
    # API: the user's own sessions (any role; a label names one of the caller's own sessions, others → 404)
    "GET /api/account/sessions": user(),
    "POST /api/account/sessions/{label}/end": user(csrf=True, params={"label": "00000000"}),
    "POST /api/account/sessions/end-others": user(csrf=True),
    "GET /api/dashboard": records(roles=VIEW),
    # API: records
    "GET /api/households": records(),
    "GET /api/households/{hh_no}": records(),
    "GET /api/alerts": records(),
    "POST /api/alerts/{alert_id}/case": write(json={}),
    "GET /api/cases/{case_id}": records(),
    "POST /api/cases/{case_id}/actions": write(json=_ACT),
    "POST /api/self-applications": public(json=SELF_APP),
    # API: reveal of a full phone / ID number (phone: every record role; ID numbers: not village cadres)
    "POST /api/households/{hh_no}/reveal": write(json={"field": "phone", "reason": "matrix"}),
    # API: dashboard figures, monthly report (aggregates), XLSX exports (records), rule preview (counts)
    "GET /api/dashboard/figures": records(roles=VIEW),
    "GET /api/dashboard/alerts-by-area": records(roles=VIEW),
    "GET /api/dashboard/analysis": records(roles=VIEW),
    "GET /api/reports/monthly": records(roles=VIEW, query={"format": "docx"}),
    "GET /api/exports/{kind}.xlsx": records(params={"kind": "alerts"}),
    "GET /api/preview": records(roles=VIEW, query={"rule": "INC-LINE"}),
    # API: feeds, jobs (a job is hidden — 404 — from roles that may not run its kind; matrix jobs are reports)
    "GET /api/feeds": records(roles=FEED),
    "GET /api/feeds/health": records(roles=FEED),
    "POST /api/jobs/feed-import": write(roles=FEED, form={"feed": "no-such-feed"},
                                       files={"file": ("matrix.csv", "a,b\n1,2\n")}),
    "POST /api/jobs/roster-import": write(roles=COUNTY, form={"as_of": "not-a-date"},
                                         files={"files": ("households.csv", "a,b\n1,2\n")}),
    "POST /api/jobs/monitor": write(roles=COUNTY, json={"as_of": "not-a-date"}),
    "POST /api/jobs/report": write(roles=REPORT, json={"month": "not-a-month"}),
    "GET /api/jobs": user(),
    "GET /api/jobs/{job_id}": records(roles=REPORT, hide=True),
    "GET /api/jobs/{job_id}/errors.csv": records(roles=REPORT, hide=True),
    "GET /api/jobs/{job_id}/artefact": records(roles=REPORT, hide=True),
    "GET /api/track/{tracking_number}": public(params={"tracking_number": "FP20260101ABCD"}),
    # API: assistance chain (plan, eligibility, visits)
    "GET /api/households/{hh_no}/plan": records(),
    "GET /api/households/{hh_no}/eligibility": records(),
    "POST /api/households/{hh_no}/eligibility": write(json={"on": D}),
    "POST /api/households/{hh_no}/eligibility/{result_id}/accept": write(json={"start_date": D}),
    "POST /api/households/{hh_no}/plan/helper": write(json={"name": "matrix", "unit": "matrix", "start_date": D}),
    "POST /api/households/{hh_no}/plan/measures": write(json={"category": "NO-SUCH", "start_date": D}),
    "POST /api/households/{hh_no}/plan/measures/{measure_id}/deliveries": write(json={"delivered_on": D}),
    "POST /api/households/{hh_no}/plan/measures/{measure_id}/end": write(json={"end_date": D, "reason": "matrix"}),
    "POST /api/households/{hh_no}/plan/visits": write(json={"count": 1}),
    "POST /api/households/{hh_no}/plan/visits/{visit_id}": write(json={"done_on": D, "result": "matrix"}),
    "POST /api/visits": write(json=_CADRE_VISIT),
    # API: programmes (records: record roles; summaries and scorecard figures: province viewers too)
    "GET /api/programmes/jobs/posts": records(),
    "POST /api/programmes/jobs/posts": write(json=_POST),
    "GET /api/programmes/jobs/posts/{post_id}/hires": records(),
    "POST /api/programmes/jobs/posts/{post_id}/hires": write(json={"person_id": 1, "hired_on": "1990-01-01",
                                                                   "agreement_end": "1980-01-01"}),
    "POST /api/programmes/jobs/attendance": write(json={"month": "not-a-month", "attendance": {}}),
    "POST /api/programmes/jobs/hires/{hire_id}/exit": write(json={"exit_on": D, "reason": "NO-SUCH-REASON"}),
    "GET /api/programmes/jobs/payroll": records(query={"month": "2026-01"}),
    "GET /api/programmes/assets": records(),
    "GET /api/programmes/assets/summary": records(roles=VIEW),
    "GET /api/programmes/sites": records(roles=VIEW),
    "GET /api/programmes/scorecards/{region}": records(roles=VIEW),
    "GET /api/programmes/scorecards/{region}/{indicator_id}/records": records(
        params={"indicator_id": "MEASURE_COVERAGE"}),
    "GET /api/programmes/key-counties": records(roles=VIEW),
    "GET /api/programmes/pairs": records(roles=VIEW, query={"year": "2025"}),
    "GET /api/programmes/pairs/{pair_id}/{year}/{indicator_id}/records": records(
        params={"pair_id": "{pair}", "year": "2025", "indicator_id": "FUNDS"}),
    # pages
    "GET /": public(),
    "GET /login": public(),
    "POST /login": public(csrf=True, form={"username": "{username}", "password": "{password}", "next": "/dashboard"}),
    "POST /logout": user(csrf=True, form={}, ends_session=True),
    "GET /account/sessions": user(),
    "POST /account/sessions/{label}/end": user(csrf=True, form={}, params={"label": "00000000"}),
    "POST /account/sessions/end-others": user(csrf=True, form={}),
    "GET /dashboard": records(roles=VIEW, redirect="/feeds"),  # department officers are sent to their feed page
    "GET /alerts": records(),
    "POST /alerts/{alert_id}/case": write(form={"comment": "matrix"}),
    "GET /households": records(),
    "GET /households/{hh_no}": records(),
    "POST /households/{hh_no}/reveal": write(form={"field": "phone", "reason": "matrix"}),
    "GET /cases/{case_id}": records(),
    "POST /cases/{case_id}/act": write(form={"action": "authorise", "expected_version": "1", "payload": ""}),
    "GET /apply": public(),
    "POST /apply": public(csrf=True, form={k: str(v) for k, v in SELF_APP.items() if k != "reasons"}),
    # pages: feeds, jobs, tracking
    "GET /feeds": records(roles=FEED),
    "GET /feeds/health": records(roles=FEED),
    "POST /feeds/upload": write(roles=FEED, form={"feed": "no-such-feed"}),
    "POST /feeds/roster": write(roles=COUNTY, form={"as_of": "not-a-date"}),
    "POST /jobs/monitor": write(roles=COUNTY, form={"as_of": "not-a-date"}),
    "GET /jobs/{job_id}": records(roles=REPORT, hide=True),
    "GET /track": public(query={"no": "FP20260101ABCD"}),
    # pages: assistance chain, the cadre's visit form
    "GET /households/{hh_no}/plan": records(),
    "POST /households/{hh_no}/plan/helper": write(form={"name": "matrix", "unit": "matrix", "start_date": D}),
    "POST /households/{hh_no}/plan/measures": write(form={"category": "NO-SUCH", "start_date": D}),
    "POST /households/{hh_no}/plan/measures/{measure_id}/deliveries": write(form={"delivered_on": D}),
    "POST /households/{hh_no}/plan/measures/{measure_id}/end": write(form={"end_date": D, "reason": "matrix"}),
    "POST /households/{hh_no}/plan/visits": write(form={"count": "1"}),
    "POST /households/{hh_no}/plan/visits/{visit_id}": write(form={"done_on": D, "result": "matrix"}),
    "POST /households/{hh_no}/plan/eligibility": write(form={"on": D}),
    "POST /households/{hh_no}/plan/eligibility/{result_id}/accept": write(form={"start_date": D}),
    "GET /visit": records(),
    "POST /visit": write(form=_CADRE_VISIT),
    # pages: programmes
    "GET /programmes": records(roles=VIEW),
    "GET /programmes/jobs": records(),
    "POST /programmes/jobs/posts": write(form={k: str(v) for k, v in _POST.items()}),
    "GET /programmes/jobs/posts/{post_id}": records(),
    "POST /programmes/jobs/posts/{post_id}/hire": write(form={"person_id": "1", "hired_on": "1990-01-01",
                                                              "agreement_end": "1980-01-01"}),
    "POST /programmes/jobs/hires/{hire_id}/exit": write(form={"exit_on": D, "reason": "NO-SUCH-REASON"}),
    "GET /programmes/jobs/attendance": records(),
    "POST /programmes/jobs/attendance": write(form={"month": "not-a-month"}),
    "GET /programmes/jobs/payroll.xlsx": records(query={"month": "2026-01"}),
    "GET /programmes/assets": records(),
    "GET /programmes/sites": records(roles=VIEW),
    "GET /programmes/scorecard": records(roles=VIEW, query={"region": "{region}"}),
    "GET /programmes/scorecard/{region}/{indicator_id}": records(params={"indicator_id": "MEASURE_COVERAGE"}),
    "GET /programmes/scorecard.{fmt}": records(roles=VIEW, params={"fmt": "xlsx"}, query={"region": "{region}"}),
    "GET /programmes/key-counties": records(roles=VIEW),
    "GET /programmes/key-counties.xlsx": records(roles=VIEW),
    "GET /programmes/pairs": records(roles=VIEW),
}

# path parameter → kind of record it names (a record inside / outside the user's region is tried). A record
# parameter may also stand in the query or the body ("{hh_no}"); several in one route take the same variant (the
# measure of the household tried). Other path parameters take fixed values (Rule.params; "{pair}" → Fixture.fixed).
RECORD_PARAMS = {"hh_no": "household", "alert_id": "alert", "case_id": "case", "region": "region",
                 "measure_id": "measure", "visit_id": "visit", "result_id": "result", "job_id": "job",
                 "post_id": "post", "hire_id": "hire"}


# ---------------------------------------------------------------------------------------------------------------


def iter_routes(app) -> list[tuple[str, str]]:
    """(METHOD, path) of every endpoint the app serves (HEAD is the GET handler; mounts are files)."""
    out: list[tuple[str, str]] = []

    def walk(routes):
        for r in routes:
            if hasattr(r, "effective_candidates"):  # FastAPI ≥ 0.16x lazily included router
                walk(r.effective_candidates())
                continue
            path, methods = getattr(r, "path", None), getattr(r, "methods", None)
            if path is None or methods is None:  # Mount (/static) and the like
                continue
            for m in sorted(methods):
                if m != "HEAD":
                    out.append((m, path))

    walk(app.routes)
    return sorted(set(out))


def undeclared(app, table: dict[str, Rule] | None = None) -> list[str]:
    table = ACCESS if table is None else table
    return [f"{m} {p}" for m, p in iter_routes(app) if f"{m} {p}" not in table]


@dataclass
class Subject:
    username: str | None  # None = anonymous
    role: str | None
    region_code: str | None

    @property
    def scope(self) -> str:
        return "" if self.region_code in (None, "00") else self.region_code

    def covers(self, region: str) -> bool:
        return self.region_code is not None and region.startswith(self.scope)


@dataclass
class Fixture:
    url: str
    village: str
    subjects: list[Subject]
    records: dict[str, list[tuple[str, str]]]  # kind → [(value, region_code)] (one inside, one outside)
    households: dict[str, str] = field(default_factory=dict)  # hh_no → region_code (all of them)
    fixed: dict[str, str] = field(default_factory=dict)  # values for "{name}" in fixed parameters (e.g. pair)


def prepare(src_db: Path, dst_db: Path) -> Fixture:
    """Copy a synthetic county (SQLite, monitored) and add matrix users and cases to the copy."""
    from sqlalchemy import select

    from fangpin.alerts.cases_link import open_case_from_alert
    from fangpin.alerts.models import Alert
    from fangpin.auth import create_user
    from fangpin.cases import Actor
    from fangpin.db import make_engine, upgrade
    from fangpin.registry.service import current_households

    shutil.copyfile(src_db, dst_db)
    url = f"sqlite:///{dst_db}"
    e = make_engine(url)
    upgrade(e)
    with e.begin() as c:
        hq = current_households().subquery()
        hh = {r.hh_no: r.region_code for r in c.execute(select(hq.c.hh_no, hq.c.region_code))}
        alerts = c.execute(select(Alert.id, Alert.region_code, Alert.household_id).where(Alert.status == "open")
                           .order_by(Alert.id)).all()
        # the village whose open alerts span the most households: opening a case takes in every open alert of
        # its household, and the matrix needs one alert still open in the village afterwards
        by_village: dict[str, set[int]] = {}
        for _, code, hid in alerts:
            by_village.setdefault(code, set()).add(hid)
        v = max(sorted(by_village), key=lambda k: len(by_village[k]))
        # the "outside" record: another township if the county has one, else another village
        others = [a for a in alerts if not a.region_code.startswith(v[:9])] or \
            [a for a in alerts if a.region_code != v]
        w = others[0].region_code
        county = v[:6]
        plan = [("m_village", "village_cadre", v), ("m_village_other", "village_cadre", w),
                ("m_township", "township_officer", v[:9]), ("m_township_other", "township_officer", w[:9]),
                ("m_county", "county_officer", county), ("m_county_other", "county_officer", county[:2] + ("9999" if county[2:] != "9999" else "9998")),
                ("m_department", "department_officer", county), ("m_province", "province_viewer", v[:2]),
                ("m_admin", "admin", "00")]
        for username, role, region in plan:
            create_user(c, username, PASSWORD, role, region)
        actor = Actor("matrix", "matrix", "county_officer", county)
        in_alerts = [a for a in alerts if a.region_code == v]
        out_alerts = [a for a in others if a.region_code == w]
        case_in = open_case_from_alert(c, in_alerts[0].id, actor, comment="matrix")
        case_out = open_case_from_alert(c, out_alerts[0].id, actor, comment="matrix")
        still = {a.id for a in c.execute(select(Alert.id).where(Alert.status == "open"))}
        a_in = next(a for a in in_alerts if a.id in still)
        a_out = next(a for a in out_alerts if a.id in still) if any(a.id in still for a in out_alerts) else \
            next(a for a in others if a.id in still)
        hh_in = next(h for h, r in sorted(hh.items()) if r == v)
        hh_out = next(h for h, r in sorted(hh.items()) if r == w)
        extra = _chain_records(c, actor, [(hh_in, v), (hh_out, w)])
        extra.update(_programme_records(c, [(hh_in, v), (hh_out, w)]))
        extra["job"] = [(str(_report_job(c, dst_db.parent, r)), r) for r in (v, w)]
        extra["region"] = [(v[:9], v[:9]), (w[:9], w[:9])]  # townships (scorecards take 6 or 9 digits)
        pair = _pair(c, v[:2])
    e.dispose()
    subjects = [Subject(None, None, None)] + [Subject(u, role, reg) for u, role, reg in plan]
    return Fixture(url, v, subjects, {
        "household": [(hh_in, v), (hh_out, w)],
        "alert": [(str(a_in.id), a_in.region_code), (str(a_out.id), a_out.region_code)],
        "case": [(str(case_in.id), v), (str(case_out.id), w)],
        **extra,
    }, hh, {"pair": str(pair)})


def _chain_records(c, actor, hhs: list[tuple[str, str]]) -> dict:
    """A measure, a scheduled visit and an eligibility result on each household's assistance chain."""
    from datetime import date

    from sqlalchemy import select

    from fangpin.cases import add_measure, assess_eligibility, schedule_visits
    from fangpin.cases.models import AssistancePlan, EligibilityResult, EligibilityRun
    from fangpin.registry.service import household_as_of

    out: dict[str, list] = {"measure": [], "visit": [], "result": []}
    for hh_no, region in hhs:
        mid = add_measure(c, hh_no, actor, category="SOCIAL", source="civil_affairs", start_date=date(2025, 1, 1))
        vid = schedule_visits(c, hh_no, actor, first_due=date(2026, 6, 1), count=1)[0]
        assess_eligibility(c, hh_no, actor, on=date(2025, 12, 31))
        hid = household_as_of(c, hh_no).household_id
        rid = c.execute(select(EligibilityResult.id).join(EligibilityRun, EligibilityResult.run_id == EligibilityRun.id)
                        .join(AssistancePlan, EligibilityRun.plan_id == AssistancePlan.id)
                        .where(AssistancePlan.household_id == hid).order_by(EligibilityResult.id)).scalar()
        out["measure"].append((str(mid), region))
        out["visit"].append((str(vid), region))
        out["result"].append((str(rid), region))
    return out


def _programme_records(c, hhs: list[tuple[str, str]]) -> dict:
    """A public-welfare post in each village and a hire of a member of each household (rows written directly: the
    matrix needs records to look up, not the hiring rules)."""
    from datetime import date, datetime

    from sqlalchemy import insert, select

    from fangpin.programmes.models import PwjHire, PwjPost
    from fangpin.registry.service import current_members, household_as_of

    out: dict[str, list] = {"post": [], "hire": []}
    for hh_no, region in hhs:
        pid = c.execute(insert(PwjPost).returning(PwjPost.id), {
            "region_code": region, "post_type": "CLEANER", "title": "matrix", "need": "matrix", "monthly_subsidy": 500,
            "headcount": 2, "days_per_month": 22, "status": "open", "created_on": date(2025, 1, 1),
            "created_at": datetime(2025, 1, 1), "created_by": "matrix"}).scalar_one()
        hid = household_as_of(c, hh_no).household_id
        mq = current_members().subquery()
        person = c.execute(select(mq.c.person_id).where(mq.c.household_id == hid).order_by(mq.c.person_id)).scalar()
        hire = c.execute(insert(PwjHire).returning(PwjHire.id), {
            "post_id": pid, "person_id": person, "household_id": hid, "region_code": region,
            "hired_on": date(2025, 1, 1), "eligibility": {"basis": "matrix"}, "status": "active",
            "created_at": datetime(2025, 1, 1), "created_by": "matrix"}).scalar_one()
        out["post"].append((str(pid), region))
        out["hire"].append((str(hire), region))
    return out


def _report_job(c, folder: Path, region: str) -> int:
    """A finished monthly-report job of ``region`` with its file (visible to the roles that may run reports)."""
    from datetime import datetime

    from sqlalchemy import insert

    from fangpin.jobs.models import Job

    f = folder / f"matrix-report-{region}.docx"
    f.write_bytes(b"matrix")
    now = datetime.now()
    return c.execute(insert(Job).returning(Job.id), {
        "kind": "report", "status": "done", "params": {"region": region, "month": "2026-01", "fmt": "docx"},
        "progress": 1.0, "stage": "done", "result": {"filename": f.name}, "artefact": str(f), "region_code": region,
        "created_at": now, "started_at": now, "finished_at": now, "heartbeat_at": now}).scalar_one()


def _pair(c, province: str) -> int:
    """A pairing received by the province: visible to every matrix user (pairs are seen from inside the receiver
    too, which is not the prefix rule of the other records — their scoping is tested in test_programmes_web)."""
    from datetime import date, datetime

    from sqlalchemy import insert

    from fangpin.programmes.models import AssistPair

    return c.execute(insert(AssistPair).returning(AssistPair.id), {
        "kind": "designated", "giver": "matrix", "receiver_code": province, "started_on": date(2024, 1, 1),
        "reference": "matrix", "recorded_at": datetime(2024, 1, 1)}).scalar_one()


@dataclass
class Outcome:
    checks: int = 0
    leaks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # wrong answers that are not leaks (e.g. 500, 403 for 200)

    def as_dict(self) -> dict:
        return {"checks": self.checks, "leaks": len(self.leaks), "failures": len(self.failures),
                "leak_examples": self.leaks[:20], "failure_examples": self.failures[:20]}


_REGION_KEYS = ("region_code", "village_code")


def _json_regions(x: Any, out: list[str]) -> None:
    if isinstance(x, dict):
        for k, v in x.items():
            if k in _REGION_KEYS and isinstance(v, str) and v.isdigit() and len(v) == 12:
                out.append(v)
            else:
                _json_regions(v, out)
    elif isinstance(x, list):
        for v in x:
            _json_regions(v, out)


def _fill(x: Any, subs: dict[str, str]) -> Any:
    if isinstance(x, str):
        for k, v in subs.items():
            x = x.replace("{" + k + "}", v)
        return x
    if isinstance(x, dict):
        return {k: _fill(v, subs) for k, v in x.items()}
    if isinstance(x, list):
        return [_fill(v, subs) for v in x]
    return x


def run_matrix(app, fx: Fixture, table: dict[str, Rule] | None = None) -> Outcome:
    """Send every declared route × subject × record and judge each answer."""
    from fastapi.testclient import TestClient

    table = ACCESS if table is None else table
    out = Outcome()
    served = set(iter_routes(app))
    hh_pattern = re.compile("|".join(re.escape(h) for h in sorted(fx.households, key=len, reverse=True)))
    for subj in fx.subjects:
        client = TestClient(app)
        client.__enter__()
        csrf = {"token": None}

        def login():
            client.cookies.clear()
            if subj.username is None:
                r = client.get("/login")
                csrf["token"] = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
                return
            r = client.post("/api/session", json={"username": subj.username, "password": PASSWORD})
            assert r.status_code == 200, (subj.username, r.status_code, r.text)
            csrf["token"] = r.json()["csrf_token"]

        login()
        for key, rule in table.items():
            method, path = key.split(" ", 1)
            if (method, path) not in served:
                continue  # declared for a route another branch adds; nothing to test here
            fixed = rule.params or {}
            unknown = [p for p in re.findall(r"{(\w+)}", path) if p not in RECORD_PARAMS and p not in fixed]
            if unknown:
                out.failures.append(f"{key}: no record kind declared for path parameter(s) {unknown} "
                                    f"(add them to RECORD_PARAMS, or fixed values to the rule's params)")
                continue
            base = path
            for k, v in fixed.items():
                base = base.replace("{" + k + "}", _fill(v, fx.fixed))
            rec = list(dict.fromkeys(p for p in re.findall(r"{(\w+)}", base + json.dumps(
                [rule.query, rule.json, rule.form], ensure_ascii=False)) if p in RECORD_PARAMS))
            variants: list[tuple[dict, bool]] = []  # (record values, inside the subject's region)
            if rec:
                first = fx.records[RECORD_PARAMS[rec[0]]]
                for i, (_, region) in enumerate(first):
                    variants.append(({p: fx.records[RECORD_PARAMS[p]][i][0] for p in rec}, subj.covers(region)))
            else:
                variants.append(({}, True))
            for values, inside in variants:
                concrete = _fill(base, values)
                for with_token in ((False, True) if rule.csrf else (True,)):
                    _one(client, out, key, rule, subj, concrete, inside, with_token, csrf, fx, hh_pattern, values)
                    if rule.ends_session or key in ("POST /api/session", "POST /login"):
                        login()
        client.__exit__(None, None, None)
    return out


def _one(client, out: Outcome, key: str, rule: Rule, subj: Subject, path: str, inside: bool, with_token: bool,
         csrf: dict, fx: Fixture, hh_pattern, values: dict | None = None) -> None:
    method = key.split(" ", 1)[0]
    api = path.startswith("/api/")
    subs = {"village": fx.village, "username": subj.username or "nobody-here",
            "password": PASSWORD if subj.username else "wrong-password", **fx.fixed, **(values or {})}
    kw: dict[str, Any] = {"follow_redirects": False}
    headers = {}
    if rule.query:
        kw["params"] = _fill(dict(rule.query), subs)
    if rule.form is not None or rule.files or (not api and method != "GET"):
        form = _fill(dict(rule.form or {}), subs)
        if with_token and not api:
            form["csrf_token"] = csrf["token"]
        kw["data"] = form
        if rule.files:
            kw["files"] = {k: (name, text.encode()) for k, (name, text) in rule.files.items()}
    elif rule.json is not None or method != "GET":
        kw["json"] = _fill(rule.json if rule.json is not None else {}, subs)
    if with_token and csrf["token"] and (api or "data" not in kw):
        headers["x-csrf-token"] = csrf["token"]
    r = client.request(method, path, headers=headers, **kw)
    out.checks += 1
    label = f"{key} as {subj.role or 'anonymous'}({subj.region_code or '-'}) {path} " \
            f"{'inside' if inside else 'outside'}{'' if with_token else ' without CSRF'} → {r.status_code}"
    s = r.status_code
    to_login = s in (302, 303, 307) and r.headers.get("location", "").startswith("/login")
    # a role outside the rule's roles may be sent to its own page instead (e.g. department officers → /feeds)
    sent_away = rule.redirect is not None and s in (302, 303, 307) and \
        r.headers.get("location", "").split("?")[0] == rule.redirect
    if s >= 500:
        out.failures.append(label + " (server error)")
        return
    # what must be refused
    deny = None
    if rule.kind != "public" and subj.username is None:
        deny = "anonymous"
    elif rule.kind == "records" and subj.role not in rule.roles:
        deny = "role"
    elif rule.csrf and not with_token:
        deny = "csrf"
    elif rule.kind == "records" and not inside:
        deny = "scope"
    if deny is not None:
        # the expected answer; another refusal (e.g. 404 for a record outside the region when the token is also
        # missing) is still a refusal, not a leak
        expected = {"anonymous": (s == 401) if api else to_login,
                    "role": s == (404 if rule.hide else 403) or sent_away, "csrf": s == 403, "scope": s == 404}[deny]
        refused = s in (401, 403, 404, 429) or to_login or (deny == "role" and sent_away)
        if key == "POST /logout" and deny == "csrf" and subj.username:
            refused = expected = client.get("/api/me").status_code == 200  # still logged in
        if not refused:
            out.leaks.append(label + f" (expected denial: {deny})")
        elif not expected and not (deny == "csrf" and not inside and s == 404):
            out.failures.append(label + f" (refused, but expected the {deny} refusal)")
        return
    if rule.kind == "public":
        return  # anything but a server error (a wrong password's 401 included)
    if s in (401, 403) or (rule.kind == "records" and s == 404) or (to_login and not rule.ends_session):
        out.failures.append(label + " (expected access)")
        return
    # allowed: the body must not show anything outside the subject's region
    if subj.username is None or subj.region_code == "00":
        return
    text = r.text
    if r.headers.get("content-type", "").startswith("application/json"):
        regions: list[str] = []
        try:
            _json_regions(json.loads(text), regions)
        except ValueError:
            pass
        bad = [g for g in regions if not subj.covers(g)]
        if bad:
            out.leaks.append(label + f" (shows region {bad[0]} outside {subj.scope})")
            return
    for m in hh_pattern.finditer(text):
        if not subj.covers(fx.households[m.group(0)]):
            out.leaks.append(label + f" (shows household {m.group(0)} outside {subj.scope})")
            return
