"""Public-welfare jobs (乡村公益岗位) — seed 004 §四(七) line 57: 按需设岗、以岗聘任、在岗领补、有序退岗.

* :func:`create_post` — a post created by need in a village (type, monthly subsidy, headcount).
* :func:`check_eligibility` / :func:`hire` — only people with some labour capacity, of working age, from a
  monitored or low-income household (jobs.yaml ``eligible_groups``, each with its policy reference).
* :func:`record_month` — monthly attendance → payroll rows → the subsidy is added to the household's **wage
  income** for that month in the registry's ``income_record`` (an appended correction row: the latest figures of
  the month plus the subsidy), so monitoring counts it like any other wage.
* :func:`exit_hire` — orderly exit with a reason; it leaves a ``PWJ_EXIT`` department event (monitoring/
  dept_events.py) carrying the subsidy of the last 12 months, and :func:`exit_and_monitor` runs incremental
  monitoring for that household: rule PWJ-EXIT alerts when the income without the subsidy is below the line.

Every function that writes takes a connection inside the caller's transaction (all-or-nothing) and an
:class:`~fangpin.cases.Actor` (role + region, checked here — interfaces cannot skip the checks).
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from fangpin.cases.common import has_labour
from fangpin.programmes.common import (Actor, household_on, load_yaml, member_on, month_bounds, now,
                                       require_region, require_role, require_scope)
from fangpin.programmes.errors import refuse
from fangpin.programmes.models import PwjHire, PwjPayroll, PwjPost
from fangpin.registry.models import ImportBatch, IncomeRecord

POST_ROLES = ("township_officer", "county_officer", "admin")  # 按需设岗: set by the township/county
HIRE_ROLES = ("township_officer", "county_officer", "admin")  # 以岗聘任
ATTEND_ROLES = ("village_cadre", "township_officer", "county_officer", "admin")  # attendance is kept locally
EXIT_ROLES = ("township_officer", "county_officer", "admin")  # 有序退岗


def config() -> dict:
    return load_yaml("jobs.yaml")


def _codes(key: str) -> dict[str, dict]:
    return {e["code"]: e for e in config()[key]}


# ------------------------------------------------------------------------------------------------ posts

def create_post(conn: Connection, actor: Actor, *, region_code: str, post_type: str, title: str, need: str,
                monthly_subsidy: float, headcount: int, days_per_month: int = 22, on: date,
                at: datetime | None = None) -> int:
    """按需设岗: a post in a village answering a stated need. Returns the post id."""
    require_role(actor, POST_ROLES, "设置公益岗位", "create public-welfare posts")
    require_scope(actor, region_code)
    require_region(conn, region_code, level=5)
    if post_type not in _codes("post_types"):
        raise refuse("PWJ_BAD_TYPE", f"未知岗位类型“{post_type}”", f"Unknown post type {post_type!r}",
                     known=list(_codes("post_types")))
    if not (need or "").strip():
        raise refuse("PWJ_NEED_REQUIRED", "按需设岗:请填写设岗需求", "A post needs a stated need (按需设岗)")
    if not (title or "").strip():
        raise refuse("PWJ_TITLE_REQUIRED", "请填写岗位名称", "A post needs a title")
    if not (monthly_subsidy and float(monthly_subsidy) > 0):
        raise refuse("PWJ_BAD_SUBSIDY", "月补贴须大于 0", "The monthly subsidy must be greater than 0")
    if not (headcount and int(headcount) > 0):
        raise refuse("PWJ_BAD_HEADCOUNT", "岗位人数须大于 0", "The headcount must be greater than 0")
    if not 1 <= int(days_per_month) <= 31:
        raise refuse("PWJ_BAD_DAYS", "每月出勤天数应在 1–31 之间", "Required days per month must be 1–31")
    return conn.execute(insert(PwjPost).returning(PwjPost.id), {
        "region_code": region_code, "post_type": post_type, "title": title.strip(), "need": need.strip(),
        "monthly_subsidy": round(float(monthly_subsidy), 2), "headcount": int(headcount),
        "days_per_month": int(days_per_month), "status": "open", "created_on": on, "created_at": at or now(),
        "created_by": actor.name}).scalar_one()


def _post(conn: Connection, post_id: int) -> dict:
    row = conn.execute(select(PwjPost.__table__).where(PwjPost.id == post_id)).mappings().first()
    if row is None:
        raise refuse("PWJ_NO_POST", f"公益岗位 {post_id} 不存在", f"Public-welfare post {post_id} does not exist")
    return dict(row)


# ------------------------------------------------------------------------------------------------ eligibility

def _monitored(conn: Connection, household_id: int) -> dict | None:
    from fangpin.cases.models import CaseFile
    from fangpin.cases.workflow import workflow

    states = workflow().states
    for cid, case_no, state in conn.execute(select(CaseFile.id, CaseFile.case_no, CaseFile.state)
                                            .where(CaseFile.household_id == household_id)):
        if states[state].phase in ("monitoring", "removal"):
            return {"case_id": cid, "case_no": case_no, "state": state}
    return None


def _civil_low_income(conn: Connection, household_id: int, on: date) -> dict | None:
    """Latest civil-affairs change (民政 feed) of the household up to ``on`` is an entry, not an exit."""
    from sqlalchemy import inspect

    if not inspect(conn).has_table("feed_record"):
        return None
    from fangpin.exchange.models import FeedRecord
    from fangpin.monitoring.dept_events import classify

    row = conn.execute(select(FeedRecord.id, FeedRecord.payload, FeedRecord.event_date).where(
        FeedRecord.household_id == household_id, FeedRecord.feed == "civil_affairs",
        FeedRecord.event_date <= on).order_by(FeedRecord.event_date.desc(), FeedRecord.id.desc()).limit(1)).first()
    if row is None:
        return None
    c = classify("civil_affairs", row.payload if isinstance(row.payload, dict) else {})
    if c and c[0] == "ASSIST_NEW":
        return {"feed_record_id": row.id, "since": row.event_date.isoformat(),
                "assistance": (row.payload or {}).get("assistance_type")}
    return None


def check_eligibility(conn: Connection, person_id: int, on: date) -> dict:
    """Why a person may hold a public-welfare post on ``on`` (jobs.yaml), or a bilingual refusal."""
    cfg = config()
    m = member_on(conn, person_id, on)
    if m is None or not m["active"]:
        raise refuse("PWJ_NOT_MEMBER", "该人员不是在册家庭的现有成员", "The person is not a current member of a household")
    if not has_labour(m):
        raise refuse("PWJ_NO_LABOUR", f"劳动技能为“{m.get('labour_skill') or '未知'}”,不具备劳动能力,不能聘用(可纳入兜底保障)",
                     f"Labour skill {m.get('labour_skill') or 'unknown'!r} means no labour capacity: cannot be hired "
                     "(social protection applies instead, POLICY.md §8)")
    age = on.year - m["birth_date"].year - ((on.month, on.day) < (m["birth_date"].month, m["birth_date"].day))
    if not cfg["min_age"] <= age <= cfg["max_age"]:
        raise refuse("PWJ_AGE", f"年龄 {age} 岁,不在 {cfg['min_age']}–{cfg['max_age']} 岁聘用范围内",
                     f"Age {age} is outside the hiring range {cfg['min_age']}–{cfg['max_age']}")
    hh = household_on(conn, m["household_id"], on)
    if hh is None or not hh["active"]:
        raise refuse("PWJ_NO_HOUSEHOLD", "所在家庭不在册", "The person's household is not active in the registry")
    groups = {g["code"]: g for g in cfg["eligible_groups"]}
    basis, evidence = None, None
    for code in groups:
        if code == "MONITORED":
            evidence = _monitored(conn, m["household_id"])
        elif code == "CIVIL_LOW_INCOME":
            evidence = _civil_low_income(conn, m["household_id"], on)
        elif code == "TUOPIN":
            evidence = {"hh_type": hh["hh_type"]} if hh["hh_type"] == "脱贫户" else None
        if evidence:
            basis = code
            break
    if basis is None:
        raise refuse("PWJ_NOT_ELIGIBLE_HOUSEHOLD", "所在家庭不是监测对象、低收入人口或脱贫户,不能聘用公益岗位",
                     "The household is neither monitored, low-income nor formerly poor: cannot hold a public-welfare post",
                     groups=list(groups))
    g = groups[basis]
    return {"basis": basis, "basis_zh": g["zh"], "basis_en": g["en"], "reference": g["reference"],
            "evidence": evidence, "labour_skill": m.get("labour_skill"), "age": age,
            "household_id": m["household_id"], "region_code": hh["region_code"], "checked_on": on.isoformat(),
            "config_version": cfg["version"]}


# ------------------------------------------------------------------------------------------------ hiring

def hire(conn: Connection, actor: Actor, *, post_id: int, person_id: int, hired_on: date,
         agreement_end: date | None = None, at: datetime | None = None) -> int:
    """以岗聘任: hire an eligible person on an open post with a free place. Returns the hire id."""
    require_role(actor, HIRE_ROLES, "聘用公益岗位人员", "hire for public-welfare posts")
    post = _post(conn, post_id)
    require_scope(actor, post["region_code"])
    if post["status"] != "open":
        raise refuse("PWJ_POST_CLOSED", "岗位已撤销", "The post is closed")
    if agreement_end is not None and agreement_end <= hired_on:
        raise refuse("PWJ_BAD_AGREEMENT", "协议期满日须晚于聘用日", "The agreement end must be after the hiring date")
    taken = conn.execute(select(func.count()).select_from(PwjHire).where(
        PwjHire.post_id == post_id, PwjHire.status == "active")).scalar_one()
    if taken >= post["headcount"]:
        raise refuse("PWJ_POST_FULL", f"岗位已满({taken}/{post['headcount']})",
                     f"The post is full ({taken}/{post['headcount']})")
    if conn.execute(select(PwjHire.id).where(PwjHire.person_id == person_id, PwjHire.status == "active")).first():
        raise refuse("PWJ_ALREADY_HIRED", "该人员已在其他公益岗位在岗(一人一岗)",
                     "The person already holds a public-welfare post (one post per person)")
    elig = check_eligibility(conn, person_id, hired_on)
    if not elig["region_code"].startswith(post["region_code"][:9]):
        raise refuse("PWJ_OTHER_TOWNSHIP", "公益岗位原则上就地就近聘用本乡镇人员",
                     "Public-welfare posts hire people of the post's own township (local hiring)")
    require_scope(actor, elig["region_code"])
    return conn.execute(insert(PwjHire).returning(PwjHire.id), {
        "post_id": post_id, "person_id": person_id, "household_id": elig["household_id"],
        "region_code": elig["region_code"], "hired_on": hired_on, "agreement_end": agreement_end,
        "eligibility": elig, "status": "active", "created_at": at or now(), "created_by": actor.name}).scalar_one()


# ------------------------------------------------------------------------------------------------ payroll

def _active_in(month_start: date, month_end: date):
    return and_(PwjHire.hired_on <= month_end, or_(PwjHire.exit_on.is_(None), PwjHire.exit_on >= month_start))


def subsidy_for(monthly: float, required: int, present: int) -> float:
    """Pro-rata attendance (jobs.yaml note, [L] county practice): never above the monthly subsidy."""
    return round(float(monthly) * min(present, required) / required, 2) if required else 0.0


def record_month(conn: Connection, actor: Actor, *, month: str, attendance: dict[int, int],
                 at: datetime | None = None) -> dict:
    """在岗领补: attendance days for hires in ``month`` → payroll rows → wage income in ``income_record``.

    ``attendance`` maps hire id → days present. Re-recording the same figures changes nothing; a corrected
    figure updates the payroll row and appends an income correction with the difference only. All or nothing."""
    require_role(actor, ATTEND_ROLES, "登记公益岗位考勤", "record public-welfare attendance")
    m0, m1 = month_bounds(month)
    at = at or now()
    if not attendance:
        raise refuse("PWJ_NO_ATTENDANCE", "没有考勤记录", "No attendance given")
    hires = {r["id"]: dict(r) for r in conn.execute(
        select(PwjHire.__table__, PwjPost.monthly_subsidy, PwjPost.days_per_month)
        .join(PwjPost, PwjPost.id == PwjHire.post_id).where(PwjHire.id.in_(list(attendance)))).mappings()}
    problems = []
    for hid, days in attendance.items():
        h = hires.get(hid)
        if h is None:
            problems.append({"hire_id": hid, "zh": "聘用记录不存在", "en": "no such hire"})
            continue
        if not h["region_code"].startswith("" if actor.region_code == "00" else actor.region_code):
            problems.append({"hire_id": hid, "zh": "不在您的辖区", "en": "outside your region"})
        elif not (h["hired_on"] <= m1 and (h["exit_on"] is None or h["exit_on"] >= m0)):
            problems.append({"hire_id": hid, "zh": f"{month} 不在聘期内", "en": f"not employed in {month}"})
        elif not isinstance(days, int) or days < 0 or days > h["days_per_month"]:
            problems.append({"hire_id": hid, "zh": f"出勤天数应在 0–{h['days_per_month']} 之间",
                             "en": f"days present must be 0–{h['days_per_month']}"})
    if problems:
        raise refuse("PWJ_BAD_ATTENDANCE", f"考勤有 {len(problems)} 处问题,未保存任何记录",
                     f"{len(problems)} attendance problem(s); nothing was saved", rows=problems)
    existing = {r.hire_id: r for r in conn.execute(select(PwjPayroll.__table__).where(
        PwjPayroll.month == month, PwjPayroll.hire_id.in_(list(attendance))))}
    changes: list[tuple[dict, int, float, float]] = []  # hire, days, amount, delta
    for hid, days in sorted(attendance.items()):
        h = hires[hid]
        amount = subsidy_for(h["monthly_subsidy"], h["days_per_month"], days)
        old = existing.get(hid)
        if old is not None and old.days_present == days and abs(old.amount - amount) < 0.005:
            continue
        changes.append((h, days, amount, round(amount - (old.amount if old is not None else 0.0), 2)))
    if not changes:
        return {"month": month, "changed": 0, "income_rows": 0, "batch_id": None}
    content = json.dumps([[h["id"], month, d, a] for h, d, a, _ in changes], sort_keys=True)
    batch_id = conn.execute(insert(ImportBatch).returning(ImportBatch.id), {
        "kind": "pwj_payroll", "content_sha256": hashlib.sha256(f"{content}|{at.isoformat()}".encode()).hexdigest(),
        "files": [], "status": "committed", "valid_from": m0, "started_at": at, "finished_at": at,
        "rows_total": len(changes), "rows_accepted": len(changes), "rows_rejected": 0,
        "report": {"month": month, "by": actor.name}}).scalar_one()
    # one income correction per household and month (two members on posts → one row with both subsidies)
    per_hh: dict[int, float] = {}
    for h, _, _, delta in changes:
        per_hh[h["household_id"]] = round(per_hh.get(h["household_id"], 0.0) + delta, 2)
    income_ids = {hh: _add_wage(conn, hh, month, m0, m1, delta, at, batch_id) for hh, delta in per_hh.items()
                  if abs(delta) >= 0.005}
    income_ids = {hh: rid for hh, rid in income_ids.items() if rid is not None}
    for h, days, amount, _ in changes:
        vals = {"days_required": h["days_per_month"], "days_present": days, "amount": amount,
                "income_record_id": income_ids.get(h["household_id"]), "batch_id": batch_id, "recorded_at": at,
                "recorded_by": actor.name}
        if h["id"] in existing:
            conn.execute(update(PwjPayroll).where(PwjPayroll.id == existing[h["id"]].id).values(**vals))
        else:
            conn.execute(insert(PwjPayroll), {"hire_id": h["id"], "household_id": h["household_id"],
                                              "region_code": h["region_code"], "month": month, **vals})
    return {"month": month, "changed": len(changes), "income_rows": len(income_ids), "batch_id": batch_id,
            "households": sorted(per_hh)}


def _add_wage(conn: Connection, household_id: int, period: str, start: date, end: date, delta: float,
              at: datetime, batch_id: int) -> int | None:
    """Append the period's latest income figures with ``wage`` raised by ``delta`` (append-only history).

    The month's record is corrected when it exists; a household that reports yearly gets the year's record
    corrected instead. When neither exists yet, nothing is invented: a row holding only the subsidy would look like
    a month (or year) of near-zero income to monitoring and raise false alerts. The payroll row then keeps
    ``income_record_id`` empty, and the household's own figures for the period (which count all wages) carry it."""
    ir = IncomeRecord.__table__
    comps = ("wage", "business", "property", "transfer", "business_cost", "claims", "medical_oop", "education_cost")
    for p, p_start, p_end in ((period, start, end), (period[:4], date(start.year, 1, 1), date(start.year, 12, 31))):
        last = conn.execute(select(ir).where(ir.c.household_id == household_id, ir.c.period == p)
                            .order_by(ir.c.recorded_at.desc(), ir.c.id.desc()).limit(1)).mappings().first()
        if last is None:
            continue
        row = {c: float(last[c]) for c in comps}
        row["wage"] = round(row["wage"] + delta, 2)
        rec = max(at, last["recorded_at"])  # a correction is never older than what it corrects
        return conn.execute(insert(IncomeRecord).returning(IncomeRecord.id), {
            "household_id": household_id, "period": p, "period_start": p_start, "period_end": p_end,
            "recorded_at": rec, "batch_id": batch_id, **row}).scalar_one()
    return None


# ------------------------------------------------------------------------------------------------ exit

def exit_hire(conn: Connection, actor: Actor, *, hire_id: int, exit_on: date, reason: str, note: str = "",
              at: datetime | None = None) -> dict:
    """有序退岗: end a hire with a reason. Records the subsidy of the 12 months before the exit (what the
    household loses), which monitoring reads as a ``PWJ_EXIT`` event. Returns the exit effect."""
    require_role(actor, EXIT_ROLES, "办理公益岗位退岗", "process public-welfare job exits")
    reasons = _codes("exit_reasons")
    if reason not in reasons:
        raise refuse("PWJ_BAD_EXIT_REASON", f"未知退岗原因“{reason}”", f"Unknown exit reason {reason!r}",
                     known=list(reasons))
    h = conn.execute(select(PwjHire.__table__).where(PwjHire.id == hire_id)).mappings().first()
    if h is None:
        raise refuse("PWJ_NO_HIRE", f"聘用记录 {hire_id} 不存在", f"Hire {hire_id} does not exist")
    require_scope(actor, h["region_code"])
    if h["status"] != "active":
        raise refuse("PWJ_NOT_ACTIVE", "该人员已退岗", "This hire has already ended")
    if exit_on < h["hired_on"]:
        raise refuse("PWJ_BAD_EXIT_DATE", "退岗日期不能早于聘用日期", "The exit date cannot be before the hiring date")
    first_month = f"{exit_on.year - 1:04d}-{exit_on.month:02d}"
    last_month = f"{exit_on.year:04d}-{exit_on.month:02d}"
    paid = conn.execute(select(func.coalesce(func.sum(PwjPayroll.amount), 0), func.count()).where(
        PwjPayroll.hire_id == hire_id, PwjPayroll.month >= first_month, PwjPayroll.month <= last_month)).one()
    effect = {"subsidy_12m": round(float(paid[0]), 2), "months_paid_12m": int(paid[1]),
              "window": [first_month, last_month], "reason_zh": reasons[reason]["zh"],
              "reason_en": reasons[reason]["en"]}
    n = conn.execute(update(PwjHire).where(PwjHire.id == hire_id, PwjHire.status == "active").values(
        status="exited", exit_on=exit_on, exit_reason=reason, exit_note=note or None, exit_effect=effect,
        exited_by=actor.name, exit_recorded_at=at or now())).rowcount
    if n != 1:  # someone else ended it in between
        raise refuse("PWJ_NOT_ACTIVE", "该人员已退岗", "This hire has already ended")
    return {"hire_id": hire_id, "household_id": h["household_id"], **effect}


def exit_and_monitor(engine: Engine, actor: Actor, *, hire_id: int, exit_on: date, reason: str, note: str = "",
                     at: datetime | None = None, as_of: date | None = None) -> dict:
    """Exit (one transaction), then incremental monitoring of that household (rule PWJ-EXIT and all others).

    If monitoring fails after the exit is committed, the exit stands and the next monitoring run (full or
    incremental) sees the event: nothing is lost, the alert only comes later."""
    from fangpin.alerts.models import Alert
    from fangpin.alerts.service import monitor

    at = at or now()
    with engine.begin() as conn:
        effect = exit_hire(conn, actor, hire_id=hire_id, exit_on=exit_on, reason=reason, note=note, at=at)
    as_of = as_of or max(exit_on, at.date())
    report, _ = monitor(engine, as_of, households=[effect["household_id"]])
    with engine.begin() as conn:
        alerts = [dict(r) for r in conn.execute(select(Alert.id, Alert.rule_id, Alert.status, Alert.evidence).where(
            Alert.household_id == effect["household_id"], Alert.status.in_(("open", "case_opened")))).mappings()]
        effect["monitoring"] = {"as_of": as_of.isoformat(), "run_id": report["stored"]["run_id"],
                                "alerts_new": report["stored"]["alerts_new"],
                                "open_alerts": [{"id": a["id"], "rule_id": a["rule_id"]} for a in alerts]}
        h = conn.execute(select(PwjHire.exit_effect).where(PwjHire.id == hire_id)).scalar_one()
        conn.execute(update(PwjHire).where(PwjHire.id == hire_id).values(exit_effect={**h, "monitoring":
                                                                                      effect["monitoring"]}))
    effect["alert"] = next((a for a in alerts if a["rule_id"] == "PWJ-EXIT"), None)
    return effect


# ------------------------------------------------------------------------------------------------ reads

def post_rows(conn: Connection, scope: str) -> list[dict]:
    active = (select(PwjHire.post_id, func.count().label("n")).where(PwjHire.status == "active")
              .group_by(PwjHire.post_id).subquery())
    q = (select(PwjPost.__table__, func.coalesce(active.c.n, 0).label("filled"))
         .outerjoin(active, active.c.post_id == PwjPost.id)
         .where(PwjPost.region_code.startswith(scope)).order_by(PwjPost.region_code, PwjPost.id))
    types = _codes("post_types")
    return [{**dict(r), "type_zh": types.get(r["post_type"], {}).get("zh", r["post_type"]),
             "type_en": types.get(r["post_type"], {}).get("en", r["post_type"])} for r in conn.execute(q).mappings()]


def hire_rows(conn: Connection, scope: str, *, post_id: int | None = None, status: str | None = None) -> list[dict]:
    from fangpin.registry.models import Household, MemberVersion as mv

    q = (select(PwjHire.__table__, PwjPost.title, PwjPost.monthly_subsidy, Household.hh_no)
         .join(PwjPost, PwjPost.id == PwjHire.post_id).join(Household, Household.id == PwjHire.household_id)
         .where(PwjHire.region_code.startswith(scope)))
    if post_id is not None:
        q = q.where(PwjHire.post_id == post_id)
    if status:
        q = q.where(PwjHire.status == status)
    rows = [dict(r) for r in conn.execute(q.order_by(PwjHire.id)).mappings()]
    names = _names(conn, [r["person_id"] for r in rows], mv)
    for r in rows:
        r["name"] = names.get(r["person_id"], "")
    return rows


def _names(conn: Connection, person_ids: list[int], mv) -> dict[int, str]:
    if not person_ids:
        return {}
    out: dict[int, str] = {}
    for pid, name in conn.execute(select(mv.person_id, mv.name).where(mv.person_id.in_(sorted(set(person_ids))))
                                  .order_by(mv.person_id, mv.valid_from, mv.recorded_at, mv.id)):
        out[pid] = name  # the latest version wins
    return out


def payroll_rows(conn: Connection, scope: str, month: str) -> list[dict]:
    """Payroll of a month in ``scope`` (the exportable 在岗领补 list): no ID numbers, names only."""
    from fangpin.registry.models import Household, MemberVersion

    month_bounds(month)
    q = (select(PwjPayroll.__table__, PwjHire.person_id, PwjHire.post_id, PwjPost.title, PwjPost.post_type,
                PwjPost.monthly_subsidy, Household.hh_no)
         .join(PwjHire, PwjHire.id == PwjPayroll.hire_id).join(PwjPost, PwjPost.id == PwjHire.post_id)
         .join(Household, Household.id == PwjPayroll.household_id)
         .where(PwjPayroll.month == month, PwjPayroll.region_code.startswith(scope))
         .order_by(PwjPayroll.region_code, PwjPayroll.hire_id))
    rows = [dict(r) for r in conn.execute(q).mappings()]
    names = _names(conn, [r["person_id"] for r in rows], MemberVersion)
    types = _codes("post_types")
    for r in rows:
        r["name"] = names.get(r["person_id"], "")
        r["type_zh"] = types.get(r["post_type"], {}).get("zh", r["post_type"])
    return rows


def summary(conn: Connection, scope: str) -> dict[str, Any]:
    posts = post_rows(conn, scope)
    hires = conn.execute(select(PwjHire.status, func.count()).where(PwjHire.region_code.startswith(scope))
                         .group_by(PwjHire.status)).all()
    paid = conn.execute(select(func.coalesce(func.sum(PwjPayroll.amount), 0)).where(
        PwjPayroll.region_code.startswith(scope))).scalar_one()
    by = dict(hires)
    return {"posts": len(posts), "places": sum(p["headcount"] for p in posts),
            "filled": sum(p["filled"] for p in posts), "active": int(by.get("active", 0)),
            "exited": int(by.get("exited", 0)), "subsidy_paid": round(float(paid), 2)}
