"""The household's single assistance chain (一户一条救助链): plan, helper, measures, deliveries, follow-up visits.

* One plan per household (unique), holding relapse-prevention measures (防返贫帮扶) AND civil-affairs measures
  (低保/特困/临时救助, seed 004 §五; POLICY.md §10): a second active 低保 is refused whichever system records it.
* Relapse-prevention measures need a monitored household — except that, where the dated parameter
  ``disaster_measures_before_identification`` is true (2025 rule, POLICY.md §1), a household whose open lead names
  the natural-disaster risk may get measures before formal identification (recorded as ``pre_identification``).
* Every change bumps the plan ``version`` with an optimistic lock, so two officers adding the same 低保 at once
  cannot both succeed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.cases.actors import Actor, check_actor, require_region
from fangpin.cases.common import (has_labour, household_region, measure_rules, members_on, now, param,
                                  params_or_default, resolve_household)
from fangpin.cases.errors import conflict, refuse
from fangpin.cases.hooks import Hooks, default_hooks
from fangpin.cases.models import (AssistanceHelper, AssistanceMeasure, AssistancePlan, CaseEscalation, CaseFile,
                                  FollowUpVisit, MeasureDelivery)
from fangpin.policy import ParameterSet
from fangpin.textnorm import clean_name, normalize_phone

__all__ = ["ensure_plan", "assign_helper", "add_measure", "end_measure", "record_delivery", "schedule_visit",
           "schedule_visits", "schedule_next_visit", "cadre_visit", "record_visit", "plan_checks", "assistance_chain", "PlanCheck", "SOURCES"]

SOURCES = ("relapse_prevention", "civil_affairs")
MONITORED_STATES = ("MONITORED", "REMOVAL_PROPOSED", "REMOVAL_VERIFIED", "REMOVAL_UNDER_NOTICE",
                    "REMOVAL_RETURNED_TO_VILLAGE", "REMOVAL_TOWNSHIP_AUDITED", "REMOVAL_RETURNED_TO_TOWNSHIP")


@dataclass(frozen=True)
class PlanCheck:
    code: str
    ok: bool
    zh: str
    en: str
    policy: str
    detail: dict[str, Any]


def _plan_row(conn: Connection, household_id: int) -> dict | None:
    r = conn.execute(select(AssistancePlan.__table__).where(AssistancePlan.household_id == household_id)
                     ).mappings().first()
    return dict(r) if r else None


def ensure_plan(conn: Connection, household: int | str, at: datetime | None = None) -> dict:
    """The household's plan, created if missing (INSERT … ON CONFLICT DO NOTHING: safe under concurrency)."""
    hid, _ = resolve_household(conn, household)
    row = _plan_row(conn, hid)
    if row:
        return row
    at = at or now()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dinsert
    else:
        from sqlalchemy.dialects.sqlite import insert as dinsert
    conn.execute(dinsert(AssistancePlan).values(household_id=hid, version=1, created_at=at, updated_at=at)
                 .on_conflict_do_nothing(index_elements=["household_id"]))
    return _plan_row(conn, hid)  # type: ignore[return-value]


def _commit_change(conn: Connection, household_id: int, seen: dict | None, at: datetime) -> dict:
    """Optimistic lock on the chain, taken AFTER every check passed and BEFORE any row is written: the plan's
    version must still be the one the checks read (a plan first seen missing must still be at version 1)."""
    plan = seen or ensure_plan(conn, household_id, at)
    expected = seen["version"] if seen else 1
    res = conn.execute(update(AssistancePlan).where(AssistancePlan.id == plan["id"],
                                                    AssistancePlan.version == expected)
                       .values(version=expected + 1, updated_at=at))
    if res.rowcount != 1:
        cur = conn.execute(select(AssistancePlan.version).where(AssistancePlan.id == plan["id"])).scalar()
        raise conflict("帮扶计划 / assistance plan", plan["id"], expected, cur)
    return plan


def _prepare(conn: Connection, household: int | str, actor: Actor, at: datetime | None
             ) -> tuple[int, str, dict | None, datetime, str]:
    """Check the actor and read the plan as it is now (nothing written)."""
    check_actor(actor)
    at = at or now()
    hid, hh_no = resolve_household(conn, household)
    region = household_region(conn, hid, at.date())
    require_region(actor, region, "household")
    return hid, hh_no, _plan_row(conn, hid), at, region


def _open_case(conn: Connection, household_id: int) -> dict | None:
    r = conn.execute(select(CaseFile.__table__).where(CaseFile.household_id == household_id,
                                                      CaseFile.closed_on.is_(None))).mappings().first()
    return dict(r) if r else None


def assign_helper(conn: Connection, household: int | str, actor: Actor, *, name: str, unit: str,
                  phone: str | None, start_date: date, end_date: date | None = None,
                  at: datetime | None = None) -> int:
    """帮扶责任人 (POLICY.md §8). A new helper ends the previous one the day before the new start."""
    hid, _, seen, at, _ = _prepare(conn, household, actor, at)
    nm = clean_name(name)
    if not nm or not (unit or "").strip():
        raise refuse("PLAN_HELPER_INCOMPLETE", "帮扶责任人须填写姓名和单位", "A helper needs a name and a unit")
    ph = normalize_phone(phone) if phone else None
    plan = _commit_change(conn, hid, seen, at)
    conn.execute(update(AssistanceHelper).where(
        AssistanceHelper.plan_id == plan["id"], AssistanceHelper.start_date < start_date,
        or_(AssistanceHelper.end_date.is_(None), AssistanceHelper.end_date >= start_date),
    ).values(end_date=start_date - timedelta(days=1)))
    return conn.execute(insert(AssistanceHelper).values(
        plan_id=plan["id"], name=nm, unit=unit.strip(), phone=ph, start_date=start_date, end_date=end_date,
        recorded_by=actor.user_id, recorded_at=at).returning(AssistanceHelper.id)).scalar_one()


def _active(q, on: date):
    return q.where(AssistanceMeasure.start_date <= on,
                   or_(AssistanceMeasure.end_date.is_(None), AssistanceMeasure.end_date >= on))


def add_measure(conn: Connection, household: int | str, actor: Actor, *, category: str, start_date: date,
                subtype: str | None = None, source: str = "relapse_prevention", description: str | None = None,
                end_date: date | None = None, external_ref: str | None = None, at: datetime | None = None,
                params: ParameterSet | None = None) -> int:
    """Add a measure to the household's chain (POLICY.md §8 categories; seed 004 §五 one chain)."""
    ps = params_or_default(params)
    lists = codes.load_code_lists()
    cat = lists["measure_categories"].lookup(category)
    if cat is None:
        raise refuse("PLAN_BAD_CATEGORY", f"帮扶措施类别“{category}”不在代码表中", f"Unknown measure category {category!r}")
    rules = measure_rules()
    sub = None
    if subtype is not None:
        s = lists["assistance_types"].lookup(subtype)
        if s is None or cat.code not in rules["subtype_categories"]:
            raise refuse("PLAN_BAD_SUBTYPE", f"“{cat.zh}”不能登记救助类型“{subtype}”",
                         f"Assistance type {subtype!r} does not fit category {cat.code}")
        sub = s.code
    if source not in SOURCES:
        raise refuse("PLAN_BAD_SOURCE", f"措施来源应为:{'、'.join(SOURCES)}", f"source must be one of {SOURCES}")
    if source == "civil_affairs" and cat.extra.get("group") != "protection":
        raise refuse("PLAN_BAD_SOURCE", "民政救助措施应为兜底保障类(综合保障/社会帮扶)",
                     "Civil-affairs measures are protection measures (COMPREHENSIVE_PROTECTION / SOCIAL)")
    if end_date is not None and end_date < start_date:
        raise refuse("PLAN_BAD_DATES", "结束日期早于开始日期", "End date before start date")
    hid, hh_no, seen, at, region = _prepare(conn, household, actor, at)
    case = _open_case(conn, hid)
    pre = False
    if source == "relapse_prevention":
        if case is None or (case["state"] not in MONITORED_STATES):
            disaster_ok = bool(param(ps, "disaster_measures_before_identification", region, start_date,
                                     required=False))
            names_disaster = case is not None and "NATURAL_DISASTER" in (case["risk_types"] or [])
            if not (disaster_ok and names_disaster):
                why_zh = ("该户尚未纳入监测" + ("" if case is None else f"(案件 {case['case_no']} 处于识别程序中)")
                          + ";仅受灾风险户在政策允许时(2025年起)可先帮扶后认定")
                raise refuse("PLAN_NOT_MONITORED", why_zh,
                             "The household is not monitored yet; only a disaster-risk household may get measures "
                             "before identification, where the dated parameter allows it (from 2025)",
                             disaster_rule=disaster_ok)
            pre = True
    if sub is not None:
        uniq = {x["subtype"] for x in rules["unique_while_active"]}
        clash = {sub} if sub in uniq else set()
        for a, b in rules.get("exclusive_subtypes", []):
            if sub == a:
                clash.add(b)
            elif sub == b:
                clash.add(a)
        if clash and seen is not None:
            q = select(AssistanceMeasure.id, AssistanceMeasure.subtype, AssistanceMeasure.source,
                       AssistanceMeasure.start_date).where(AssistanceMeasure.plan_id == seen["id"],
                                                           AssistanceMeasure.subtype.in_(sorted(clash)))
            q = q.where(or_(AssistanceMeasure.end_date.is_(None), AssistanceMeasure.end_date >= start_date))
            if end_date is not None:
                q = q.where(AssistanceMeasure.start_date <= end_date)
            dup = conn.execute(q).first()
            if dup is not None:
                src = rules["sources"][dup[2]]
                raise refuse("PLAN_DUPLICATE_MEASURE",
                             f"该户已有有效的“{codes.lookup('assistance_types', dup[1]).zh}”(措施 {dup[0]},{src['zh']}"
                             f"登记,自 {dup[3]} 起),不能重复登记",
                             f"The household already has an active {dup[1]} (measure {dup[0]}, recorded by "
                             f"{src['en']} from {dup[3]}): not recorded twice", measure_id=dup[0])
    cont = cat.code in {x["category"] for x in rules["continue_after_removal"]}
    plan = _commit_change(conn, hid, seen, at)
    mid = conn.execute(insert(AssistanceMeasure).values(
        plan_id=plan["id"], case_id=case["id"] if case else None, category=cat.code, subtype=sub, source=source,
        description=description, start_date=start_date, end_date=end_date, continues_after_removal=cont,
        pre_identification=pre, external_ref=external_ref, recorded_by=actor.user_id, recorded_at=at,
    ).returning(AssistanceMeasure.id)).scalar_one()
    if case is not None and source == "relapse_prevention":
        conn.execute(update(CaseEscalation).where(CaseEscalation.case_id == case["id"],
                                                  CaseEscalation.subject == f"case:{case['id']}:first_measure",
                                                  CaseEscalation.resolved_on.is_(None)).values(resolved_on=start_date))
    return int(mid)


def _measure_plan(conn: Connection, measure_id: int) -> dict:
    r = conn.execute(select(AssistanceMeasure.__table__).where(AssistanceMeasure.id == measure_id)).mappings().first()
    if r is None:
        raise refuse("PLAN_MEASURE_NOT_FOUND", f"帮扶措施 {measure_id} 不存在", f"Measure {measure_id} not found")
    return dict(r)


def _household_of_plan(conn: Connection, plan_id: int) -> int:
    return int(conn.execute(select(AssistancePlan.household_id).where(AssistancePlan.id == plan_id)).scalar_one())


def end_measure(conn: Connection, measure_id: int, actor: Actor, *, end_date: date, reason: str,
                at: datetime | None = None) -> None:
    m = _measure_plan(conn, measure_id)
    hid, _, seen, at, _ = _prepare(conn, _household_of_plan(conn, m["plan_id"]), actor, at)
    if end_date < m["start_date"]:
        raise refuse("PLAN_BAD_DATES", "结束日期早于开始日期", "End date before start date")
    _commit_change(conn, hid, seen, at)
    conn.execute(update(AssistanceMeasure).where(AssistanceMeasure.id == measure_id)
                 .values(end_date=end_date, ended_reason=reason[:40]))


def record_delivery(conn: Connection, measure_id: int, actor: Actor, *, delivered_on: date,
                    amount: float | None = None, note: str | None = None, at: datetime | None = None) -> int:
    """措施落实记录: refuses a delivery outside the measure's period."""
    m = _measure_plan(conn, measure_id)
    hid, _, seen, at, _ = _prepare(conn, _household_of_plan(conn, m["plan_id"]), actor, at)
    if delivered_on < m["start_date"] or (m["end_date"] is not None and delivered_on > m["end_date"]):
        raise refuse("PLAN_DELIVERY_OUTSIDE", f"落实日期 {delivered_on} 不在措施期限内",
                     f"Delivery date {delivered_on} is outside the measure's period")
    _commit_change(conn, hid, seen, at)
    return int(conn.execute(insert(MeasureDelivery).values(
        measure_id=measure_id, delivered_on=delivered_on, amount=amount, note=note, recorded_by=actor.user_id,
        recorded_at=at).returning(MeasureDelivery.id)).scalar_one())


def _visit_interval(conn: Connection, household_id: int, on: date, ps: ParameterSet) -> tuple[int, dict]:
    """``follow_up_visit_interval_days`` in force for the household's region on ``on`` (POLICY.md §4.2; seed 004
    line 45 定期跟踪回访), with the value and reference recorded as the visit's schedule basis."""
    used: dict = {}
    days = int(param(ps, "follow_up_visit_interval_days", household_region(conn, household_id, on), on, used))
    return days, {"parameter": "follow_up_visit_interval_days", **used["follow_up_visit_interval_days"],
                  "after": on.isoformat(), "policy_version": ps.version}


def schedule_next_visit(conn: Connection, household_id: int, *, case_id: int | None, after: date, by: str,
                        at: datetime | None = None, params: ParameterSet | None = None) -> int | None:
    """Schedule the next follow-up visit ``follow_up_visit_interval_days`` after ``after`` unless one is already
    pending (called at identification and after each recorded visit while the household is monitored)."""
    ps = params_or_default(params)
    at = at or now()
    plan = ensure_plan(conn, household_id, at)
    pending = conn.execute(select(FollowUpVisit.id).where(FollowUpVisit.plan_id == plan["id"],
                                                          FollowUpVisit.done_on.is_(None)).limit(1)).first()
    if pending is not None:
        return None
    days, basis = _visit_interval(conn, household_id, after, ps)
    conn.execute(update(AssistancePlan).where(AssistancePlan.id == plan["id"])
                 .values(version=AssistancePlan.version + 1, updated_at=at))
    return int(conn.execute(insert(FollowUpVisit).values(
        plan_id=plan["id"], case_id=case_id, due_date=after + timedelta(days=days), scheduled_by=by,
        recorded_at=at, schedule_basis=basis).returning(FollowUpVisit.id)).scalar_one())


def schedule_visit(conn: Connection, household: int | str, actor: Actor, *, due_date: date | None = None,
                   at: datetime | None = None, params: ParameterSet | None = None) -> int:
    """定期跟踪回访 (POLICY.md §4.2; seed 004 line 45 基层干部定期跟踪回访). Without ``due_date`` the visit is due
    ``follow_up_visit_interval_days`` (dated parameter) from today."""
    hid, _, seen, at, _ = _prepare(conn, household, actor, at)
    basis = None
    if due_date is None:
        days, basis = _visit_interval(conn, hid, at.date(), params_or_default(params))
        due_date = at.date() + timedelta(days=days)
    case = _open_case(conn, hid)
    plan = _commit_change(conn, hid, seen, at)
    return int(conn.execute(insert(FollowUpVisit).values(
        plan_id=plan["id"], case_id=case["id"] if case else None, due_date=due_date, scheduled_by=actor.user_id,
        recorded_at=at, schedule_basis=basis).returning(FollowUpVisit.id)).scalar_one())


def schedule_visits(conn: Connection, household: int | str, actor: Actor, *, first_due: date | None = None,
                    every_days: int | None = None, count: int, at: datetime | None = None,
                    params: ParameterSet | None = None) -> list[int]:
    """``count`` visits ``every_days`` apart (default: the dated ``follow_up_visit_interval_days``), the first on
    ``first_due`` (default: one interval from today)."""
    if (every_days is not None and every_days < 1) or count < 1:
        raise refuse("PLAN_BAD_SCHEDULE", "回访间隔和次数须为正数", "Interval and count must be positive")
    hid, _, seen, at, _ = _prepare(conn, household, actor, at)
    basis = None
    if every_days is None:
        every_days, basis = _visit_interval(conn, hid, at.date(), params_or_default(params))
    first_due = first_due or at.date() + timedelta(days=every_days)
    case = _open_case(conn, hid)
    plan = _commit_change(conn, hid, seen, at)
    ids = []
    for k in range(count):
        ids.append(int(conn.execute(insert(FollowUpVisit).values(
            plan_id=plan["id"], case_id=case["id"] if case else None, due_date=first_due + timedelta(days=k * every_days),
            scheduled_by=actor.user_id, recorded_at=at, schedule_basis=basis).returning(FollowUpVisit.id)).scalar_one()))
    return ids


def record_visit(conn: Connection, visit_id: int, actor: Actor, *, done_on: date, result: str,
                 new_risk: bool = False, at: datetime | None = None) -> int | None:
    """Record a visit's result; while the household is monitored the next visit is scheduled one
    ``follow_up_visit_interval_days`` after it (unless one is pending). Returns the new visit's id, if any."""
    v = conn.execute(select(FollowUpVisit.__table__).where(FollowUpVisit.id == visit_id)).mappings().first()
    if v is None:
        raise refuse("PLAN_VISIT_NOT_FOUND", f"回访 {visit_id} 不存在", f"Visit {visit_id} not found")
    if v["done_on"] is not None:
        raise refuse("PLAN_VISIT_DONE", f"回访 {visit_id} 已于 {v['done_on']} 登记", f"Visit {visit_id} already recorded")
    if not (result or "").strip():
        raise refuse("PLAN_VISIT_RESULT", "须填写回访结果", "The visit result is required")
    hid, _, seen, at, _ = _prepare(conn, _household_of_plan(conn, v["plan_id"]), actor, at)
    _commit_change(conn, hid, seen, at)
    conn.execute(update(FollowUpVisit).where(FollowUpVisit.id == visit_id).values(
        done_on=done_on, visitor=actor.name, result=result.strip(), new_risk=bool(new_risk)))
    conn.execute(update(CaseEscalation).where(CaseEscalation.subject == f"visit:{visit_id}",
                                              CaseEscalation.resolved_on.is_(None)).values(resolved_on=done_on))
    case = _open_case(conn, hid)
    if case is not None and case["state"] in MONITORED_STATES:  # the next visit, one interval on (POLICY.md §4.2)
        return schedule_next_visit(conn, hid, case_id=case["id"], after=done_on, by=actor.user_id, at=at)
    return None


def plan_checks(conn: Connection, household: int | str, on: date) -> list[PlanCheck]:
    """POLICY.md §8: labour → ≥ 1 development measure; no labour → social protection (兜底); helper assigned."""
    hid, hh_no = resolve_household(conn, household)
    members = members_on(conn, hh_no, on)
    labour = any(has_labour(m) for m in members)
    cats = codes.load_code_lists()["measure_categories"]
    plan = _plan_row(conn, hid)
    groups: dict[str, int] = {}
    helper = None
    if plan:
        for (cat,) in conn.execute(_active(select(AssistanceMeasure.category)
                                           .where(AssistanceMeasure.plan_id == plan["id"]), on)):
            g = cats.by_code[cat].extra["group"]
            groups[g] = groups.get(g, 0) + 1
        helper = conn.execute(select(AssistanceHelper.name, AssistanceHelper.unit).where(
            AssistanceHelper.plan_id == plan["id"], AssistanceHelper.start_date <= on,
            or_(AssistanceHelper.end_date.is_(None), AssistanceHelper.end_date >= on))).first()
    out = []
    if labour:
        out.append(PlanCheck("DEVELOPMENT_FOR_LABOUR", groups.get("development", 0) >= 1,
                             "有劳动能力的家庭至少落实一项开发式帮扶措施",
                             "A household with labour has at least one development measure",
                             "POLICY.md §8; §1 2024 development-type help", {"development_measures":
                                                                             groups.get("development", 0)}))
    else:
        out.append(PlanCheck("PROTECTION_FOR_NO_LABOUR", groups.get("protection", 0) >= 1,
                             "无劳动能力的家庭纳入兜底保障", "A household with no labour is covered by social protection",
                             "POLICY.md §8 (兜底)", {"protection_measures": groups.get("protection", 0)}))
    out.append(PlanCheck("HELPER_ASSIGNED", helper is not None, "已明确帮扶责任人", "A helper is assigned",
                         "POLICY.md §8 (帮扶责任人)", {"helper": list(helper) if helper else None}))
    return out


def assistance_chain(conn: Connection, household: int | str, on: date, *, hooks: Hooks | None = None) -> dict:
    """Both views of the one chain: relapse-prevention and civil-affairs measures, with deliveries, the helper,
    visits, §8 checks, and civil-affairs eligibility suggestions from the calculators (hook)."""
    hooks = hooks or default_hooks()
    hid, hh_no = resolve_household(conn, household)
    plan = _plan_row(conn, hid)
    measures: list[dict] = []
    visits: list[dict] = []
    helpers: list[dict] = []
    if plan:
        delivered = dict(conn.execute(select(MeasureDelivery.measure_id, func.count(MeasureDelivery.id))
                                      .join(AssistanceMeasure, AssistanceMeasure.id == MeasureDelivery.measure_id)
                                      .where(AssistanceMeasure.plan_id == plan["id"])
                                      .group_by(MeasureDelivery.measure_id)).all())
        for m in conn.execute(select(AssistanceMeasure.__table__).where(AssistanceMeasure.plan_id == plan["id"])
                              .order_by(AssistanceMeasure.start_date, AssistanceMeasure.id)).mappings():
            d = dict(m)
            d["active"] = d["start_date"] <= on and (d["end_date"] is None or d["end_date"] >= on)
            d["deliveries"] = int(delivered.get(d["id"], 0))
            measures.append(d)
        visits = [dict(v) for v in conn.execute(select(FollowUpVisit.__table__).where(
            FollowUpVisit.plan_id == plan["id"]).order_by(FollowUpVisit.due_date)).mappings()]
        helpers = [dict(h) for h in conn.execute(select(AssistanceHelper.__table__).where(
            AssistanceHelper.plan_id == plan["id"]).order_by(AssistanceHelper.start_date)).mappings()]
    existing = {m["subtype"] for m in measures if m["active"] and m["subtype"]}
    suggestions = []
    for s in hooks.eligibility(conn, hid, on):
        suggestions.append({**s, "already_on_chain": s.get("subtype") in existing})
    return {
        "household_id": hid, "hh_no": hh_no, "plan_id": plan["id"] if plan else None,
        "plan_version": plan["version"] if plan else None,
        "relapse_prevention": [m for m in measures if m["source"] == "relapse_prevention"],
        "civil_affairs": [m for m in measures if m["source"] == "civil_affairs"],
        "all": measures, "helpers": helpers, "visits": visits, "checks": plan_checks(conn, hid, on),
        "eligibility_suggestions": suggestions,
    }


def cadre_visit(conn: Connection, household: int | str, actor: Actor, *, done_on: date, result: str,
                new_risk: bool = False, open_lead: bool = False, risk_types: list[str] | None = None,
                at: datetime | None = None) -> dict:
    """A cadre's visit to a household (基层干部排查/定期跟踪回访, POLICY.md §4.2; seed 004 line 45), in one transaction:

    * the household's earliest pending follow-up visit is recorded as done (or, if none is scheduled, an unscheduled
      visit is recorded on the chain); while the household is monitored the next visit is scheduled;
    * with ``open_lead`` (a new risk found in a household that has no open case) a ``cadre_visit`` lead is opened
      through :func:`fangpin.cases.open_lead`, so it goes through the whole statutory procedure. A household that
      already has an open case keeps it: the visit's ``new_risk`` flag is what blocks its removal (POLICY.md §9).

    Returns ``{"visit_id", "next_visit_id", "case_id", "case_no"}``."""
    from fangpin.cases.service import open_lead as _open_lead

    if not (result or "").strip():
        raise refuse("PLAN_VISIT_RESULT", "须填写回访结果", "The visit result is required")
    hid, _, _, at, _ = _prepare(conn, household, actor, at)
    existing = _open_case(conn, hid) if open_lead else None
    if existing is not None:  # checked before anything is written
        raise refuse("CASE_ALREADY_OPEN", f"该户已有在办案件 {existing['case_no']},新风险请在该案件中登记(调整风险类型)",
                     f"The household already has an open case {existing['case_no']}: record the new risk there "
                     "(update_risks)", case_id=existing["id"])
    plan = _plan_row(conn, hid)
    pending = None
    if plan is not None:
        pending = conn.execute(select(FollowUpVisit.id).where(FollowUpVisit.plan_id == plan["id"],
                                                              FollowUpVisit.done_on.is_(None))
                               .order_by(FollowUpVisit.due_date, FollowUpVisit.id).limit(1)).scalar()
    vid = int(pending) if pending is not None else schedule_visit(conn, hid, actor, due_date=done_on, at=at)
    nxt = record_visit(conn, vid, actor, done_on=done_on, result=result, new_risk=new_risk or open_lead, at=at)
    out: dict[str, Any] = {"visit_id": vid, "next_visit_id": nxt, "case_id": None, "case_no": None}
    if open_lead:
        c = _open_lead(conn, actor, source="cadre_visit", household=hid, risk_types=risk_types or [],
                       comment=result.strip(), at=at)
        out.update(case_id=c.id, case_no=c.case_no)
    return out
